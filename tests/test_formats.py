"""Every format × rig and every format × application preset, re-imported by an independent
reader (Blender's importers; assimp; Khronos' glTF validator; OpenUSD's validators):
every joint of every frame lands within 1 mm of our forward kinematics."""

from __future__ import annotations

import numpy as np
import pytest

from mocap.export import ExportOptions, export_scene, in_file_frame, prepare_scene
from mocap.formats.usd import joint_tokens
from mocap.motion import Scene
from mocap.rigs import builtin_rig
from readers import (assimp_animation, assimp_info, blender_import_bvh, blender_import_fbx, blender_import_gltf,
                     blender_import_usd, blender_posed_meshes, gltf_validate, usd_skinned_points, usd_validate)
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


@pytest.fixture(scope="module")
def smpl_model(tmp_path_factory):
    from mocap.body_model import load_body_model
    from test_body_model import write_smpl_pkl

    path, _, _ = write_smpl_pkl(tmp_path_factory.mktemp("smpl") / "SMPL_NEUTRAL.pkl")
    return load_body_model(path)


BODIES = (("anny", "smpl", None), ("anny", "ue5", "unreal"), ("smpl", "mixamo", "maya"))


@pytest.mark.slow
@pytest.mark.parametrize("body,rig,target", BODIES)
@pytest.mark.parametrize("suffix", (".fbx", ".glb", ".usda"))
def test_body_mesh_deforms_in_every_format_as_our_skinning_says(tmp_path, smpl_model, suffix, body, rig, target):
    """--mesh: each person's body, fitted onto the rig, deformed by an independent reader
    (FBX and glTF: imported by Blender, posed by its armature modifier; USD: OpenUSD's own
    UsdSkel skinning): every vertex of every key within 1 mm of our linear blend skinning
    (:func:`mocap.skin.skin_vertices`), in the preset's axes and units. The files pass the
    validators; assimp loads the FBX and glTF meshes."""
    if body == "anny":
        pytest.importorskip("anny")
    from scipy.spatial import cKDTree

    from mocap.export import basis, body_meshes, shaped_scene
    from mocap.skin import skin_vertices

    scene = Scene({3: synthetic_motion(T=5, seed=1), 8: synthetic_motion(T=4, seed=2, t0=0.1)})
    for m in scene.motions.values():
        m.betas = np.linspace(-1, 1, 10)
    options = ExportOptions(rig=builtin_rig(rig), target=target, mesh=body, body_model=smpl_model)
    path = tmp_path / f"body{suffix}"
    export_scene(scene, path, options=options)
    if suffix == ".glb":
        issues = gltf_validate(path)
        assert issues["numErrors"] == 0 and issues["numWarnings"] == 0, issues["messages"]
    if suffix.startswith(".usd"):
        assert usd_validate(path) == []
    else:
        assert assimp_info(path)["meshes"] >= 2

    source = shaped_scene(scene, options)
    expected = prepare_scene(source, options)
    meshes = body_meshes(source, expected, options, path)
    if suffix != ".usda":
        anims = {".fbx": blender_import_fbx, ".glb": blender_import_gltf}[suffix](path)
        import bpy
    for tid, motion in expected.motions.items():
        want = skin_vertices(meshes[tid], motion)  # (T, V, 3)
        if suffix == ".usda":  # OpenUSD's skinning (Blender's USD importer crashes now and then on skinned meshes)
            C, s = basis(*options.frame_for(suffix))
            got = usd_skinned_points(path, importer_frames(suffix, motion.times, motion.fps, motion.fps))
            got = got[f"person{tid}"] @ C / s  # file frame -> ours: rows times C (C^T v), metres
        else:
            frames = importer_frames(suffix, motion.times, motion.fps, anims[f"person{tid}"].fps)
            posed = blender_posed_meshes(bpy, frames)
            (got,) = [v for name, (parent, v) in posed.items()
                      if name.startswith(f"person{tid}_body") or parent == f"person{tid}"]
        for t in range(motion.num_frames):
            if got.shape[1] == want.shape[1]:  # same vertices in the same order
                error = np.linalg.norm(got[t] - want[t], axis=-1)
            else:  # split along seams / unused ones dropped: each to its nearest
                error, _ = cKDTree(want[t]).query(got[t])
                assert got.shape[1] >= len(np.unique(meshes[tid].faces))
            assert error.max() < MM, f"person {tid} frame {t}: vertices off by {error.max() * 1e3:.3f} mm"
