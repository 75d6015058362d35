"""Every format × rig and every format × application preset, re-imported by an independent
reader (Blender's importers; assimp; Khronos' glTF validator; OpenUSD's validators):
every joint of every frame lands within 1 mm of our forward kinematics."""

from __future__ import annotations

import numpy as np
import pytest

from mocap.export import ExportOptions, export_scene, in_file_frame, prepare_scene
from mocap.export.usd import joint_tokens
from mocap.motion import Scene
from mocap.rigs import builtin_rig
from readers import (assimp_animation, blender_import_bvh, blender_import_fbx, blender_import_gltf,
                     blender_import_usd, gltf_validate, usd_validate)
from test_export import synthetic_motion

MM = 1e-3
SUFFIXES = (".fbx", ".bvh", ".glb", ".gltf", ".usda", ".usdc", ".usd")
RIGS = ("smpl", "mixamo", "ue5", "rigify")
PRESETS = ("blender", "unreal", "unity", "maya")
UNITS = {"m": 1.0, "cm": 0.01}


def scene_for(suffix: str) -> Scene:
    """Two people (one starting later) where the format holds several, else one."""
    if suffix == ".bvh":
        return Scene({4: synthetic_motion(T=12, seed=3)})
    return Scene({3: synthetic_motion(T=12, seed=1), 8: synthetic_motion(T=9, seed=2, t0=0.2)})


def importer_frames(suffix: str, times: np.ndarray, fps: float, importer_fps: float) -> np.ndarray:
    """(T,) the frame on the importer's timeline where each of our keys should be."""
    if suffix == ".bvh":
        return 1.0 + np.arange(len(times))
    if suffix == ".fbx":  # FBX time = video time; Blender's importer starts at frame 1
        return 1.0 + np.rint(times * fps)
    if suffix.startswith(".usd"):  # time codes at the video's rate
        return np.rint(times * fps)
    return times * importer_fps  # glTF: seconds at Blender's scene rate


def reimported(path, suffix: str, scene: Scene, options: ExportOptions) -> dict[int, np.ndarray]:
    """Track id -> (T, J, 3) joint positions (our frame, metres) at each of the motion's keys
    as the format's reader sees them, in the rig's joint order."""
    up, units = options.frame_for(suffix)
    if suffix == ".bvh":
        (tid, motion), = scene.motions.items()
        anims = {f"person{tid}": blender_import_bvh(path, UNITS[units], up)}
    elif suffix == ".fbx":
        anims = blender_import_fbx(path)
    elif suffix in (".glb", ".gltf"):
        anims = blender_import_gltf(path)
    else:
        anims = blender_import_usd(path)
    out = {}
    for tid, motion in scene.motions.items():
        sk = motion.skeleton
        if suffix.startswith(".usd"):
            names = [t.rsplit("/", 1)[-1] for t in joint_tokens(sk.names, sk.parents)]
        elif suffix == ".bvh":
            names = list(sk.names)
        else:
            names = [f"person{tid}:{n}" for n in sk.names]
        anim = anims[f"person{tid}"]
        # Formats with one timeline for everyone key every person over all of it.
        want = importer_frames(suffix, motion.times, motion.fps, anim.fps)
        rows = [int(np.argmin(np.abs(anim.frames - f))) for f in want]
        assert np.allclose(anim.frames[rows], want, atol=1e-3), (anim.frames, want)
        out[tid] = anim.of(names)[rows]
    return out


def check(tmp_path, suffix: str, rig: str, target: str | None) -> None:
    options = ExportOptions(rig=builtin_rig(rig), target=target)
    scene = scene_for(suffix)
    path = tmp_path / f"anim{suffix}"
    assert export_scene(scene, path, options=options) == [path]
    expected = prepare_scene(scene, options)  # retargeted: what the file should hold
    if suffix in (".glb", ".gltf"):
        issues = gltf_validate(path)
        assert issues["numErrors"] == 0 and issues["numWarnings"] == 0, issues["messages"]
    if suffix.startswith(".usd"):
        assert usd_validate(path) == []
    got = reimported(path, suffix, expected, options)
    for tid, motion in expected.motions.items():
        want = motion.joint_positions()
        assert got[tid].shape == want.shape
        error = np.linalg.norm(got[tid] - want, axis=-1).max()
        assert error < MM, f"{suffix} {rig} {target}: person {tid} joints off by {error / MM:.3f} mm"


@pytest.mark.slow
@pytest.mark.parametrize("rig", RIGS)
@pytest.mark.parametrize("suffix", SUFFIXES)
def test_every_format_and_rig_reimports_within_a_millimetre(tmp_path, suffix, rig):
    check(tmp_path, suffix, rig, None)


@pytest.mark.slow
@pytest.mark.parametrize("target", PRESETS)
@pytest.mark.parametrize("suffix", SUFFIXES)
def test_every_format_and_preset_reimports_within_a_millimetre(tmp_path, suffix, target):
    check(tmp_path, suffix, "ue5", target)


@pytest.mark.slow
@pytest.mark.parametrize("target", (None,) + PRESETS)
def test_fbx_axes_and_units_as_assimp_reads_them(tmp_path, target):
    """assimp applies neither the FBX unit scale nor its axes: it shows the raw file, which
    must be the motion in the preset's frame and unit."""
    options = ExportOptions(rig=builtin_rig("mixamo"), target=target)
    scene = Scene({5: synthetic_motion(T=10, seed=4)})
    (path,) = export_scene(scene, tmp_path / "a.fbx", options=options)
    up, units = options.frame_for(".fbx")
    motion = in_file_frame(prepare_scene(scene, options).motions[5], up, units)
    (anim,) = assimp_animation(path).values()
    error = np.linalg.norm(anim.of(motion.skeleton.names) - motion.joint_positions(), axis=-1).max()
    assert error < (0.1 if units == "cm" else MM), f"off by {error} file units"


def test_usd_stage_states_frame_rate_axes_and_units(tmp_path):
    from pxr import Usd, UsdGeom, UsdSkel

    scene = Scene({2: synthetic_motion(fps=25.0, T=10, seed=5, t0=0.4)})
    (path,) = export_scene(scene, tmp_path / "a.usda", options=ExportOptions(target="unreal"))
    stage = Usd.Stage.Open(str(path))
    assert UsdGeom.GetStageUpAxis(stage) == "Z" and UsdGeom.GetStageMetersPerUnit(stage) == 0.01
    assert stage.GetTimeCodesPerSecond() == 25.0 and stage.GetFramesPerSecond() == 25.0
    assert (stage.GetStartTimeCode(), stage.GetEndTimeCode()) == (10.0, 19.0)  # 0.4 s = frame 10
    skeleton = UsdSkel.Skeleton(stage.GetPrimAtPath("/Mocap/person2/Skeleton"))
    assert list(skeleton.GetJointNamesAttr().Get()) == list(scene.motions[2].skeleton.names)
    query = UsdSkel.Cache().GetSkelQuery(skeleton)
    assert query.GetAnimQuery().GetPrim().GetPath() == "/Mocap/person2/Skeleton/Animation"
