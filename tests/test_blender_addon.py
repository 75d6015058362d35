"""The Blender add-on (``blender_addon/``), headless: registration, the Run button's code path
end to end on the sample video, importing motions (two people; retargeting onto a
Mixamo-named armature), cancelling, a missing engine, and the extension zip."""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "turn_jump.mp4"
MM = 1e-3

bpy = pytest.importorskip("bpy")
sys.path.insert(0, str(ROOT))  # blender_addon is a folder of the repository, not an installed package


@pytest.fixture
def addon():
    """A fresh Blender session with the add-on enabled, its engine the Python running the tests
    (``python -m mocap``); disabled afterwards."""
    import addon_utils

    bpy.ops.wm.read_factory_settings(use_empty=True)
    module = addon_utils.enable("blender_addon", default_set=True, handle_error=None)
    assert module is not None
    bpy.context.preferences.addons["blender_addon"].preferences.engine = sys.executable
    yield module
    addon_utils.disable("blender_addon", default_set=True)


def _bone_heads(obj, names) -> np.ndarray:
    """(J, 3) world positions of the bones' heads at the current frame, in mocap's frame (Y-up)."""
    from blender_addon.armature import C

    return np.array([np.array(obj.matrix_world @ obj.pose.bones[n].head) for n in names]) @ C


def test_register_and_unregister_twice():
    import addon_utils

    bpy.ops.wm.read_factory_settings(use_empty=True)
    for _ in range(2):
        assert addon_utils.enable("blender_addon", default_set=True, handle_error=None) is not None
        assert hasattr(bpy.types.Scene, "mocap") and hasattr(bpy.ops.mocap, "run")
        assert bpy.types.VIEW3D_PT_mocap.bl_category == "Mocap"
        addon_utils.disable("blender_addon", default_set=True)
        assert not hasattr(bpy.types.Scene, "mocap")
        assert not hasattr(bpy.types, "VIEW3D_PT_mocap")


@pytest.mark.slow
def test_run_button_captures_the_sample_video(addon, tmp_path):
    """The Run operator (the button's code path, waited for) on the sample video at a non-ASCII
    path: one armature with SMPL's 24 bones, one key per frame the engine wrote, the scene at
    the video's frame rate, and on three frames every bone where the engine's forward
    kinematics puts the joint (within 1 mm); the body mesh skinned to it deforms as the
    engine's own skinning says (within 1 mm); the video's camera with the video behind it."""
    import importlib.util

    from mocap.motion import load_npz

    has_anny = importlib.util.find_spec("anny") is not None

    video = tmp_path / "vidéo ñ 動き.mp4"
    shutil.copyfile(SAMPLE, video)
    kept = tmp_path / "mouvement é.npz"
    settings = bpy.context.scene.mocap
    settings.video, settings.keep, settings.frame_start = str(video), str(kept), 10
    settings.camera_background = True
    settings.mesh = "anny" if has_anny else "none"
    assert bpy.ops.mocap.run() == {"FINISHED"}

    scene = load_npz(kept)
    (tid, motion), = scene.motions.items()
    obj = bpy.data.objects[f"person{tid}"]
    assert obj.type == "ARMATURE" and len(obj.data.bones) == 24
    fps = bpy.context.scene.render.fps / bpy.context.scene.render.fps_base
    assert fps == pytest.approx(30.0)
    action = obj.animation_data.action
    fcurves = action.layers[0].strips[0].channelbag(obj.animation_data.action_slot).fcurves
    assert {len(fc.keyframe_points) for fc in fcurves} == {motion.num_frames}
    want = motion.joint_positions()
    for k in (0, motion.num_frames // 2, motion.num_frames - 1):
        frame = 10 + motion.times[k] * fps
        bpy.context.scene.frame_set(int(np.floor(frame)), subframe=float(frame - np.floor(frame)))
        error = np.linalg.norm(_bone_heads(obj, motion.skeleton.names) - want[k], axis=1).max()
        assert error < MM, f"key {k}: bones off by {error * 1e3:.3f} mm"
        if has_anny:
            _check_body(obj, scene, tid, k)

    camera = bpy.context.scene.camera
    assert camera is not None and camera.data.background_images[0].clip is not None
    K = scene.camera.K
    assert camera.data.lens == pytest.approx(K[0, 0] * camera.data.sensor_width / scene.camera.image_size[0])


def _check_body(armature, scene, tid: int, k: int) -> None:
    """The body under ``armature``, as Blender deforms it now, against the engine's skinning
    of its own fitted body on key ``k``."""
    from scipy.spatial import cKDTree

    from blender_addon.armature import C
    from mocap.export import ExportOptions, body_meshes
    from mocap.skin import skin_vertices

    (body,) = [o for o in armature.children if o.type == "MESH"]
    assert {g.name for g in body.vertex_groups} <= set(armature.data.bones.keys())
    mesh = body_meshes(scene, scene, ExportOptions(mesh="anny"), Path("bodies.glb"))[tid]
    motion = scene.motions[tid]
    want = skin_vertices(mesh, motion)[k]
    evaluated = body.evaluated_get(bpy.context.evaluated_depsgraph_get())
    co = np.empty(len(evaluated.data.vertices) * 3)
    evaluated.data.vertices.foreach_get("co", co)
    mw = np.array(evaluated.matrix_world)
    got = (co.reshape(-1, 3) @ mw[:3, :3].T + mw[:3, 3]) @ C
    distance, _ = cKDTree(want).query(got)  # the glTF importer may split vertices along seams
    assert distance.max() < MM, f"body off by {distance.max() * 1e3:.3f} mm"


def _two_people(tmp_path) -> tuple[Path, object]:
    from mocap.export import export_scene
    from mocap.motion import Scene
    from test_export import synthetic_motion

    scene = Scene({1: synthetic_motion(T=40, seed=1), 4: synthetic_motion(T=30, seed=2, t0=0.5)})
    path = tmp_path / "two.npz"
    export_scene(scene, path)
    return path, scene


def test_import_two_people(addon, tmp_path):
    """File > Import > Mocap motion: one armature per person, each on its own video times."""
    path, scene = _two_people(tmp_path)
    assert bpy.ops.mocap.import_npz(filepath=str(path), frame_start=1) == {"FINISHED"}
    assert sorted(o.name for o in bpy.context.scene.objects) == ["person1", "person4"]
    for tid, motion in scene.motions.items():
        obj = bpy.data.objects[f"person{tid}"]
        want = motion.joint_positions()
        for k in (0, motion.num_frames - 1):
            bpy.context.scene.frame_set(int(round(1 + motion.times[k] * motion.fps)))
            assert np.linalg.norm(_bone_heads(obj, motion.skeleton.names) - want[k], axis=1).max() < MM


def _mixamo_character():
    """A Mixamo-named armature as an FBX import leaves it: object turned +90° about X and
    scaled 0.01 (centimetre data), bones with rolls of their own."""
    from mathutils import Matrix

    from mocap.rigs import builtin_rig

    rig = builtin_rig("mixamo")
    heads = rig.skeleton.rest_positions() * 100.0  # cm, Y-up data under the object's +90° X
    arm = bpy.data.armatures.new("Armature")
    obj = bpy.data.objects.new("Armature", arm)
    bpy.context.scene.collection.objects.link(obj)
    obj.matrix_world = Matrix.Rotation(np.pi / 2, 4, "X") @ Matrix.Scale(0.01, 4)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    bones = []
    rng = np.random.default_rng(3)
    for j, name in enumerate(rig.skeleton.names):
        eb = arm.edit_bones.new(name)
        kids = rig.skeleton.children(j)
        d = heads[kids[0]] - heads[j] if kids else np.array([0.0, 5.0, 0.0])
        eb.head, eb.tail, eb.roll = heads[j], heads[j] + 8.0 * d / np.linalg.norm(d), rng.uniform(-3, 3)
        if rig.skeleton.parents[j] >= 0:
            eb.parent = bones[rig.skeleton.parents[j]]
        bones.append(eb)
    bpy.ops.object.mode_set(mode="OBJECT")
    obj.select_set(True)
    return obj, rig


def test_import_onto_a_mixamo_armature(addon, tmp_path):
    """Import onto the selected Mixamo-named armature: the engine retargets onto it (its bones
    read from the scene, rolls and the object's transform included); its bones then sit
    where the engine's retargeted forward kinematics puts them, for both people (the second
    on a copy of the armature)."""
    from blender_addon.armature import rig_json
    from mocap.export import ExportOptions, prepare_scene
    from mocap.rigs import load_rig

    path, scene = _two_people(tmp_path)
    character, _ = _mixamo_character()
    (tmp_path / "rig.json").write_text(rig_json(character))
    expected = prepare_scene(scene, ExportOptions(rig=load_rig(tmp_path / "rig.json")))
    assert bpy.ops.mocap.import_npz(filepath=str(path), onto_selected=True) == {"FINISHED"}
    copies = [o for o in bpy.context.scene.objects if o.type == "ARMATURE" and o is not character]
    assert len(copies) == 1
    for obj, (tid, motion) in zip([character, copies[0]], sorted(expected.motions.items())):
        want = motion.joint_positions()
        for k in (0, motion.num_frames // 2, motion.num_frames - 1):
            bpy.context.scene.frame_set(int(round(1 + motion.times[k] * motion.fps)))
            error = np.linalg.norm(_bone_heads(obj, motion.skeleton.names) - want[k], axis=1).max()
            assert error < MM, f"person {tid} key {k}: {error * 1e3:.3f} mm"


def test_cancel_stops_the_engine_and_adds_nothing(addon, tmp_path):
    from blender_addon.capture import Capture, CaptureSettings

    before = set(bpy.data.objects.keys())
    capture = Capture(bpy.context, CaptureSettings(video=str(SAMPLE)), sys.executable)
    deadline = time.monotonic() + 60
    while capture.job.stage == "starting" and time.monotonic() < deadline:  # until the engine reports progress
        assert capture.step() == "RUNNING"
        time.sleep(0.05)
    capture.cancel()
    assert capture.state == "CANCELLED"
    assert capture.job.returncode is not None  # the engine process is gone
    import os

    with pytest.raises(ProcessLookupError):  # and every process it started (its process group)
        os.killpg(capture.job._proc.pid, 0)
    assert not any(t.is_alive() for t in capture.job._threads)
    assert not capture.folder.exists()
    assert set(bpy.data.objects.keys()) == before


def test_missing_engine_gives_a_clear_message(addon, tmp_path):
    from blender_addon.engine import EngineError, check_engine, engine_command

    with pytest.raises(EngineError, match="not an executable file"):
        engine_command(str(tmp_path / "nowhere" / "mocap"))
    prefs = bpy.context.preferences.addons["blender_addon"].preferences
    prefs.engine = str(tmp_path / "nowhere" / "mocap")
    bpy.context.scene.mocap.video = str(SAMPLE)
    # Operators that report an error raise it when called from Python: the message is the report.
    with pytest.raises(RuntimeError, match="not an executable file"):
        bpy.ops.mocap.run()
    with pytest.raises(RuntimeError, match="not an executable file"):
        bpy.ops.mocap.check_engine()
    assert "not an executable file" in bpy.context.window_manager.mocap_check
    assert not bpy.context.scene.objects
    prefs.engine = sys.executable
    lines = check_engine(sys.executable)
    assert lines[0].startswith("mocap, version") and any("mediapipe" in line for line in lines)


def test_bad_motion_file_is_refused_in_one_line(addon, tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    with pytest.raises(RuntimeError, match="not a readable motion"):
        bpy.ops.mocap.import_npz(filepath=str(bad))
    assert not bpy.context.scene.objects


def test_huge_declared_array_is_refused_in_one_line(addon, tmp_path):
    """A motion whose poses declare 3.8 GiB in a 1 MB zip: refused from its .npy header before
    np.load allocates anything, and nothing is added."""
    import tracemalloc

    from test_motion import declaring_npz

    path = declaring_npz(tmp_path / "huge.npz", (7_000_000, 72))
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(RuntimeError, match=r"huge\.npz.*'poses' declares shape \(7000000, 72\) float64.*GiB"):
            bpy.ops.mocap.import_npz(filepath=str(path))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100e6 and time.perf_counter() - start < 2
    assert not bpy.context.scene.objects


def test_header_check_copy_matches_mocap():
    """The add-on's copy of mocap.npz_check (it may run without mocap) is the same code and limits."""
    import inspect

    from blender_addon import motion_io
    from mocap import npz_check

    for name in ("npz_headers", "check_sizes"):
        assert inspect.getsource(getattr(motion_io, name)) == inspect.getsource(getattr(npz_check, name)), name
    for name in ("MAX_ARRAY_BYTES", "MAX_TOTAL_BYTES", "NUMERIC"):
        assert getattr(motion_io, name) == getattr(npz_check, name), name


def test_extension_zip_installs(tmp_path, monkeypatch):
    """scripts/build_addon.py's zip is accepted by Blender's extension installer and enabled."""
    import subprocess

    out = tmp_path / "mocap.zip"
    subprocess.run([sys.executable, str(ROOT / "scripts" / "build_addon.py"), "--out", str(out)], check=True)
    code = ("import bpy; bpy.ops.wm.read_factory_settings(use_empty=True); "
            f"r = bpy.ops.extensions.package_install_files(filepath={str(out)!r}, repo='user_default', "
            "enable_on_install=True); "
            "assert r == {'FINISHED'}, r; "
            "assert 'bl_ext.user_default.mocap' in bpy.context.preferences.addons.keys(); "
            "assert hasattr(bpy.ops.mocap, 'run'); print('installed')")
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0 and "installed" in proc.stdout, proc.stderr[-2000:]


def test_extension_zip_into_an_existing_folder(tmp_path):
    """`build_addon.py --out FOLDER` puts the zip inside the folder under its usual name."""
    import subprocess
    import tomllib
    import zipfile

    manifest = tomllib.loads((ROOT / "blender_addon" / "blender_manifest.toml").read_text(encoding="utf-8"))
    want = tmp_path / f"{manifest['id']}_blender-{manifest['version']}.zip"
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "build_addon.py"), "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stdout.strip() == str(want) and sorted(p.name for p in tmp_path.iterdir()) == [want.name]
    with zipfile.ZipFile(want) as z:
        assert {"blender_manifest.toml", "__init__.py", "motion_io.py"} <= set(z.namelist())


def test_engine_failure_is_reported_and_adds_nothing(addon, tmp_path):
    """A video the engine refuses: Run reports the engine's own one-line error (its stderr),
    and the scene stays empty."""
    fake = tmp_path / "clip.mp4"
    fake.write_bytes(b"this is not a video")
    bpy.context.scene.mocap.video = str(fake)
    with pytest.raises(RuntimeError, match=r"mocap: .*clip\.mp4"):
        bpy.ops.mocap.run()
    assert not bpy.context.scene.objects
    assert "clip.mp4" in bpy.context.window_manager.mocap_stage


def test_addon_choices_are_the_engines_registries():
    """The add-on's backend menu is what the engine's registry declares (written by build_addon.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_addon", ROOT / "scripts" / "build_addon.py")
    build_addon = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_addon)
    from mocap.estimators import BACKENDS

    committed = json.loads((ROOT / "blender_addon" / "choices.json").read_text())
    assert committed == build_addon.plugin_choices()
    assert [b[0] for b in committed["backends"]] == list(BACKENDS.names())
