"""End to end on the shipped sample: `mocap run` → FBX, BVH, NPZ, each re-opened by an
independent reader, and the estimate scored against the sample's ground truth."""

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import SAMPLES
from mocap.metrics import evaluate_scene, load_ground_truth
from mocap.motion import load_npz
from mocap.video import probe
from readers import assimp_animation, blender_import_bvh, blender_import_fbx

VIDEO = SAMPLES / "turn_jump.mp4"
GT = SAMPLES / "turn_jump_gt.npz"

# Accuracy bounds on the sample. Measured (scripts/evaluate.py, defaults: tracked crops with
# the off-centre correction, the person's own proportions, the fit to the 2D joints, standard
# smoothing, foot lock): MPJPE 63.6 mm, PA-MPJPE 53.7 mm (103.0 / 68.8 with --fit off),
# acceleration error 6.0 mm/frame², foot sliding 4.4 mm/frame (11.1 with --fit off), against a
# floor of 7 / 6 mm that perfect landmarks reach on our skeleton with the truth's own lengths.
# The bounds leave headroom for run-to-run and CPU-to-CPU differences; a broken axis, side swap
# or twist, or the proportions or the fit lost, costs more than that.
MAX_PA_MPJPE_MM = 62.0
MAX_MPJPE_MM = 75.0
MAX_ACCEL = 8.0  # mm/frame²
MAX_SLIDE = 7.0  # mm/frame


@pytest.fixture(scope="module")
def run_outputs(tmp_path_factory):
    out = tmp_path_factory.mktemp("e2e")
    paths = {ext: out / f"turn_jump.{ext}" for ext in ("fbx", "bvh", "npz")}
    args = [sys.executable, "-m", "mocap", "run", str(VIDEO), "--progress", "json"]
    for p in paths.values():
        args += ["--out", str(p)]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    return paths, proc


@pytest.fixture(scope="module")
def motion(run_outputs):
    scene = load_npz(run_outputs[0]["npz"])
    assert len(scene.motions) == 1
    return scene, next(iter(scene.motions.values()))


def test_progress_json_lines(run_outputs):
    _, proc = run_outputs
    records = [json.loads(line) for line in proc.stdout.splitlines()]
    assert all({"stage", "done", "total"} <= set(r) for r in records[:-1])
    est = [r for r in records if r["stage"] == "estimate"]
    assert est[0]["done"] == 0 and est[-1]["done"] == est[-1]["total"] == probe(VIDEO).num_frames
    assert [r["done"] for r in est] == sorted(r["done"] for r in est)
    assert records[-1]["stage"] == "done" and len(records[-1]["outputs"]) == 3
    assert "default 60 degree field of view" in records[-1]["camera"]


def test_npz_has_every_frame_at_video_rate(motion):
    scene, m = motion
    info = probe(VIDEO)
    assert m.num_frames == info.num_frames
    assert m.fps == pytest.approx(info.fps)
    assert np.allclose(m.times, np.arange(m.num_frames) / info.fps, atol=1e-3)
    assert (m.confidence > 0).mean() > 0.95  # the person is seen in (nearly) every frame


def test_fbx_reimported_by_blender_matches_our_kinematics(run_outputs, motion):
    _, m = motion
    arms = blender_import_fbx(run_outputs[0]["fbx"])
    assert len(arms) == 1
    arm = next(iter(arms.values()))
    assert arm.fps == pytest.approx(m.fps)
    assert len(arm.frames) == m.num_frames
    assert np.array_equal(arm.frames, 1 + np.round(m.times * m.fps))
    err = np.abs(arm.of(m.skeleton.names) - m.joint_positions()).max()
    assert err < 1e-3, f"FBX joints differ by {err * 1000:.3f} mm"
    # Upright in Blender: the head is above the ankles on every frame.
    pos = arm.of(["head", "left_ankle"])
    assert np.all(pos[:, 0, 1] > pos[:, 1, 1] + 0.5)


def test_fbx_read_by_assimp(run_outputs, motion):
    _, m = motion
    anims = assimp_animation(run_outputs[0]["fbx"])
    anim = next(iter(anims.values()))
    assert len(anim.frames) == m.num_frames
    err = np.abs(anim.of(m.skeleton.names) - m.joint_positions()).max()
    assert err < 1e-3, f"assimp joints differ by {err * 1000:.3f} mm"


def test_bvh_reimported_by_blender_matches_our_kinematics(run_outputs, motion):
    _, m = motion
    arm = blender_import_bvh(run_outputs[0]["bvh"], global_scale=0.01)  # the file is in cm
    assert arm.fps == pytest.approx(m.fps)
    assert len(arm.frames) == m.num_frames
    err = np.abs(arm.of(m.skeleton.names) - m.joint_positions()).max()
    assert err < 1e-3, f"BVH joints differ by {err * 1000:.3f} mm"


def test_accuracy_against_ground_truth(motion):
    scene, _ = motion
    score = evaluate_scene(scene, load_ground_truth(GT))
    print(f"\nsample accuracy: {score}")
    assert score["frames"] >= 0.95 * probe(VIDEO).num_frames
    assert score["pa_mpjpe"] < MAX_PA_MPJPE_MM
    assert score["mpjpe"] < MAX_MPJPE_MM
    assert score["accel"] < MAX_ACCEL
    assert score["slide"] < MAX_SLIDE


def test_the_performer_gets_their_own_proportions_in_the_files(motion):
    """The skeleton in the file has the performer's part lengths, measured over the clip (within
    4 % of the truth here, not a calibration clip), where the neutral skeleton is off by up to 29 %."""
    from mocap.metrics import ground_truth_lengths
    from mocap.proportions import skeleton_lengths
    from mocap.skeleton import neutral_skeleton

    _, m = motion
    truth = ground_truth_lengths(load_ground_truth(GT))
    ours = np.abs(skeleton_lengths(m.skeleton) / truth - 1)
    neutral = np.abs(skeleton_lengths(neutral_skeleton()) / truth - 1)
    assert ours.max() < 0.08 and ours.mean() < 0.5 * neutral.mean(), (ours, neutral)


def test_foot_contacts_saved_and_mocap_eval_prints_the_table(run_outputs, motion):
    _, m = motion
    assert m.contacts.shape == (m.num_frames, 4)
    assert 0.2 < m.contacts.mean() < 0.9  # feet planted while standing and turning, not in the jumps
    proc = subprocess.run([sys.executable, "-m", "mocap", "eval", str(run_outputs[0]["npz"]), str(GT)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    header, rule, row = proc.stdout.strip().splitlines()
    assert "foot slide" in header and "root" in header
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[0] == "turn_jump.npz" and int(cells[1]) >= 0.95 * probe(VIDEO).num_frames
    assert float(cells[5]) < MAX_SLIDE
