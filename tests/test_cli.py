"""The command line: help, and bad input turned into one line + exit code."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mocap.cli import main
from mocap.errors import EXIT_INPUT, EXIT_NO_PERSON, EXIT_OUTPUT

MOCAP = [sys.executable, "-m", "mocap"]


def _run(*args, cwd=None):
    return subprocess.run([*MOCAP, *args], capture_output=True, text=True, cwd=cwd, timeout=600)


def test_help_lists_run_and_every_option():
    top = _run("--help")
    assert top.returncode == 0 and "run" in top.stdout
    sub = _run("run", "--help")
    assert sub.returncode == 0
    for opt in ("--out", "--backend", "--fov", "--focal", "--start", "--end", "--workers", "--progress"):
        assert opt in sub.stdout


def _one_error_line(proc, code):
    assert proc.returncode == code, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_missing_video(tmp_path):
    line = _one_error_line(_run("run", str(tmp_path / "nope.mp4"), "--out", str(tmp_path / "a.fbx")), EXIT_INPUT)
    assert "nope.mp4" in line and "not found" in line
    assert not (tmp_path / "a.fbx").exists()


def test_text_file_named_mp4(tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is not a video\n" * 50)
    line = _one_error_line(_run("run", str(fake), "--out", str(tmp_path / "a.bvh")), EXIT_INPUT)
    assert "notes.mp4" in line
    assert not (tmp_path / "a.bvh").exists()


def test_unwritable_output_is_refused_before_work(tmp_path):
    fake = tmp_path / "v.mp4"
    fake.write_bytes(b"\0" * 100)
    line = _one_error_line(_run("run", str(fake), "--out", str(tmp_path / "no" / "dir" / "a.fbx")), EXIT_OUTPUT)
    assert "does not exist" in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_readonly_folder(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    fake = tmp_path / "v.mp4"
    fake.write_bytes(b"\0" * 100)
    _one_error_line(_run("run", str(fake), "--out", str(ro / "a.fbx")), EXIT_OUTPUT)


def test_unknown_output_format(tmp_path):
    line = _one_error_line(_run("run", "x.mp4", "--out", str(tmp_path / "a.mov")), EXIT_OUTPUT)
    assert ".mov" in line or "format" in line


def test_end_before_start_is_a_usage_error(tmp_path, capsys):
    assert main(["run", "x.mp4", "--start", "3", "--end", "2"]) == 2
    assert "--end" in capsys.readouterr().err


def test_truncated_video(tmp_path):
    from conftest import make_video, numbered_frames

    full = make_video(tmp_path / "full.mp4", numbered_frames(60, 96, 128), fps=30)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size * 2 // 3])
    line = _one_error_line(_run("run", str(cut), "--out", str(tmp_path / "a.fbx")), EXIT_INPUT)
    assert "cut.mp4" in line
    assert not (tmp_path / "a.fbx").exists()


def test_no_person_keeps_previous_output(tmp_path):
    from conftest import make_video, numbered_frames

    empty = make_video(tmp_path / "empty.mp4", numbered_frames(10, 120, 160), fps=10)
    old = tmp_path / "anim.npz"
    old.write_bytes(b"previous result")
    line = _one_error_line(_run("run", str(empty), "--out", str(old)), EXIT_NO_PERSON)
    assert "no person" in line and "empty.mp4" in line
    assert old.read_bytes() == b"previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["anim.npz", "empty.mp4"]  # no temp files


def test_truncated_video_with_index_first(tmp_path):
    # With the index at the front the file still opens; the missing frames must be noticed.
    from conftest import make_video, numbered_frames

    full = make_video(tmp_path / "full.mp4", numbered_frames(90, 96, 128), fps=30, faststart=True)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    line = _one_error_line(_run("run", str(cut), "--out", str(tmp_path / "a.npz")), EXIT_INPUT)
    assert "cut.mp4" in line and "truncated" in line
    assert not (tmp_path / "a.npz").exists()


def test_start_past_the_end_is_a_usage_error(tmp_path):
    from conftest import make_video, numbered_frames

    clip = make_video(tmp_path / "short.mp4", numbered_frames(10), fps=10)
    line = _one_error_line(_run("run", str(clip), "--start", "5", "--out", str(tmp_path / "a.npz")), 2)
    assert "--start" in line and "short.mp4" in line


def test_sigterm_mid_run_leaves_no_output(tmp_path):
    import signal

    from conftest import SAMPLES

    out = tmp_path / "a.fbx"
    proc = subprocess.Popen([*MOCAP, "run", str(SAMPLES / "turn_jump.mp4"), "--out", str(out),
                             "--progress", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in proc.stdout:  # wait until estimation is under way
        if '"estimate"' in line and '"done": 0' not in line:
            break
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert "interrupted" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_camera_options_are_checked_before_any_work(tmp_path):
    video = Path(__file__).resolve().parents[1] / "samples" / "turn_jump.mp4"
    line = _one_error_line(_run("run", str(video), "--sensor-mm", "36", "--out", str(tmp_path / "a.npz")), 2)
    assert "--lens-mm" in line
    line = _one_error_line(_run("run", str(video), "--root-motion", "moonwalk", "--out", str(tmp_path / "a.npz")), 2)
    assert "--root-motion" in line
    assert not (tmp_path / "a.npz").exists()


def test_export_converts_a_motion_file_without_capturing(tmp_path):
    """`mocap export`: a saved .npz to several formats on the UE5 rig for Unreal; the .npz
    written back on that rig holds the same joints as the FBX."""
    from mocap.export import ExportOptions, export_scene, prepare_scene
    from mocap.motion import Scene, load_npz
    from mocap.rigs import builtin_rig
    from test_export import synthetic_motion

    (motion,) = export_scene(Scene({2: synthetic_motion(T=8), 6: synthetic_motion(T=8, seed=3)}), tmp_path / "m.npz")
    outs = [tmp_path / f"a{s}" for s in (".fbx", ".glb", ".usdc", ".npz")]
    proc = _run("export", str(motion), *[a for o in outs for a in ("-o", str(o))], "--rig", "ue5",
                "--target", "unreal", "--reference-pose", "a", "--person", "6")
    assert proc.returncode == 0, proc.stderr
    assert all(o.stat().st_size > 0 for o in outs)
    saved = load_npz(tmp_path / "a.npz")
    assert list(saved.motions) == [6] and saved.motions[6].num_frames == 9  # + the reference frame
    assert saved.motions[6].skeleton.names == builtin_rig("ue5").skeleton.names
    # The same conversion in-process gives the same joints.
    options = ExportOptions(rig=builtin_rig("ue5"), reference_pose="a")
    want = prepare_scene(Scene({6: load_npz(motion).motions[6]}), options).motions[6].joint_positions()
    assert abs(saved.motions[6].joint_positions() - want).max() < 1e-9


@pytest.mark.parametrize("args, code, text", [
    (["--rig", "mixamo", "--rig-file", "x.fbx"], 2, "give --rig or --rig-file, not both"),
    (["--rig-map", "map.json"], 2, "a mapping goes with --rig-file"),
    (["--rig-file", "missing.glb"], EXIT_INPUT, "rig file not found"),
    (["--rig-file", "rig.json"], EXIT_INPUT, "not a valid rig file"),
    (["--person", "9"], 2, "has no person 9"),
])
def test_export_errors_are_one_line(tmp_path, args, code, text):
    from mocap.export import export_scene
    from mocap.motion import Scene
    from test_export import synthetic_motion

    export_scene(Scene({0: synthetic_motion(T=3)}), tmp_path / "m.npz")
    (tmp_path / "rig.json").write_text('{"joints": 5}')
    line = _one_error_line(_run("export", "m.npz", "-o", "a.fbx", *args, cwd=tmp_path), code)
    assert text in line
    assert not (tmp_path / "a.fbx").exists()


def test_export_with_anny_body_on_ue5(tmp_path):
    """`mocap export --mesh anny`: anny's body, on the UE5 rig, in an FBX that assimp reads
    with its mesh; a .bvh (no meshes) is refused up front."""
    pytest.importorskip("anny")
    from mocap.export import export_scene
    from mocap.motion import Scene
    from readers import assimp_info
    from test_export import synthetic_motion

    export_scene(Scene({0: synthetic_motion(T=3)}), tmp_path / "m.npz")
    proc = subprocess.run([*MOCAP, "export", "m.npz", "-o", "a.fbx", "--mesh", "anny", "--rig", "ue5"],
                          capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr
    info = assimp_info(tmp_path / "a.fbx")
    assert info["meshes"] >= 1 and info["animations"] == 1
    proc = subprocess.run([*MOCAP, "export", "m.npz", "-o", "a.bvh", "--mesh", "anny"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=600)
    assert "holds meshes" in _one_error_line(proc, EXIT_OUTPUT)
    assert not (tmp_path / "a.bvh").exists()


def test_export_mesh_needs_an_smpl_model(tmp_path):
    from mocap.export import export_scene
    from mocap.motion import Scene
    from test_export import synthetic_motion

    export_scene(Scene({0: synthetic_motion(T=3)}), tmp_path / "m.npz")
    env = dict(os.environ, HOME=str(tmp_path))  # no installed SMPL model
    proc = subprocess.run([*MOCAP, "export", "m.npz", "-o", "a.glb", "--mesh", "smpl"], capture_output=True,
                          text=True, cwd=tmp_path, timeout=600, env=env)
    assert "needs the SMPL model" in _one_error_line(proc, EXIT_OUTPUT)
    assert not (tmp_path / "a.glb").exists()


def test_log_file_records_the_command_and_the_error(tmp_path):
    """--log: the command line, the stages and the one-line error, appended with times."""
    from conftest import make_video, numbered_frames

    empty = make_video(tmp_path / "empty.mp4", numbered_frames(10, 120, 160), fps=10)
    log = tmp_path / "task.log"
    log.write_text("earlier task\n")
    line = _one_error_line(_run("run", str(empty), "--out", str(tmp_path / "a.fbx"), "--log", str(log)),
                           EXIT_NO_PERSON)
    text = log.read_text()
    assert text.startswith("earlier task\n")  # appended, not replaced
    assert f"run {empty}" in text and "estimate: started" in text  # detection, following and landmarks
    assert "ERROR error (exit 4)" in text and line.removeprefix("mocap: error: ") in text


def test_doctor_reports_what_runs_and_what_to_do(tmp_path):
    """`mocap doctor`: every part on one screen; a model file put where it is looked for is
    reported found; the JSON form says the same; exit 0 (only optional parts are missing)."""
    env = dict(os.environ, HOME=str(tmp_path))
    env.pop("MOCAP_HOME", None)
    proc = subprocess.run([*MOCAP, "doctor"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for part in ("Python", "backend mediapipe", "HMR 2.0 checkpoint", "SMPL body model", "GPU", "Blender (bpy)"):
        assert part in out
    assert "ok       backend mediapipe" in out and "ok       Blender (bpy) for FBX: bpy 5.0.1" in out
    assert "missing  HMR 2.0 checkpoint" in out and "To do:" in out and "mocap models import" in out
    smpl = tmp_path / ".cache" / "mocap" / "smpl" / "SMPL_NEUTRAL.npz"
    smpl.parent.mkdir(parents=True)
    smpl.write_bytes(b"x")
    proc = subprocess.run([*MOCAP, "doctor", "--json"], capture_output=True, text=True, env=env, timeout=300)
    found = {c["name"]: c for c in json.loads(proc.stdout)}
    assert found["SMPL body model (neutral)"]["ok"] and str(smpl) in found["SMPL body model (neutral)"]["detail"]
    assert found["backend mediapipe"]["ok"] and not found["HMR 2.0 checkpoint"]["ok"]
