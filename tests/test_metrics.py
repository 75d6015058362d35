import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mocap.metrics import EVAL_JOINTS, mpjpe, pa_mpjpe, procrustes_align, select_joints


def test_procrustes_removes_similarity_exactly():
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(5, 12, 3))
    R = Rotation.random(5, random_state=1).as_matrix()
    pred = 1.7 * np.einsum("tij,tkj->tki", R, gt) + rng.normal(size=(5, 1, 3))
    assert np.abs(procrustes_align(pred, gt) - gt).max() < 1e-9
    assert pa_mpjpe(pred, gt) < 1e-6
    assert mpjpe(pred, gt) > 100  # rotation and scale are not forgiven by MPJPE


def test_mpjpe_in_millimetres_after_hip_alignment():
    gt = np.zeros((2, 12, 3))
    pred = gt + 5.0  # a pure translation is forgiven
    pred[:, 4, 0] += 0.012  # one joint 12 mm off
    assert abs(mpjpe(pred, gt) - 1.0) < 1e-9  # 12 mm / 12 joints


def test_select_joints_by_name_and_mapping():
    names = ["x", *EVAL_JOINTS]
    pos = np.arange(len(names) * 3, dtype=float).reshape(1, -1, 3)
    assert np.array_equal(select_joints(pos, names), pos[:, 1:])
    renamed = {f"cmu_{n}": n for n in EVAL_JOINTS}
    assert np.array_equal(select_joints(pos, ["x", *renamed], renamed), pos[:, 1:])


def test_foot_sliding_counts_only_planted_pairs_and_root_error_is_unaligned():
    from mocap.metrics import foot_sliding, root_error

    feet = np.zeros((5, 2, 3))
    feet[:, 0, 0] = [0, 0.002, 0.004, 0.1, 0.3]  # foot 0 creeps 2 mm/frame, then steps
    contacts = np.array([[1, 1], [1, 1], [1, 1], [0, 1], [0, 1]], bool)
    assert foot_sliding(feet, contacts) == pytest.approx((2 + 2 + 0 + 0 + 0 + 0) / 6)
    assert np.isnan(foot_sliding(feet, np.zeros((5, 2), bool)))
    gt = np.zeros((3, 12, 3))
    assert root_error(gt + [0, 0, 0.25], gt) == pytest.approx(250.0)  # a depth error is not forgiven


def test_mocap_eval_scores_a_motion_against_itself_and_a_moved_copy(tmp_path):
    """`mocap eval PRED GT` with a motion file as the truth: identical motion scores zero, a copy
    whose root is 5 cm off has a 50 mm root error and no joint error after alignment."""
    from mocap.cli import main
    from mocap.motion import Motion, Scene, save_npz
    from mocap.skeleton import neutral_skeleton

    rng = np.random.default_rng(0)
    T = 30
    rot = Rotation.from_rotvec(rng.normal(0, 0.2, (T * 24, 3))).as_matrix().reshape(T, 24, 3, 3)
    root = np.c_[np.linspace(0, 1, T), np.full(T, 0.9), np.zeros(T)]
    for name, shift in (("a.npz", 0.0), ("b.npz", 0.05)):
        motion = Motion(fps=30, times=np.arange(T) / 30, rotations=rot, translation=root + [shift, 0, 0],
                        skeleton=neutral_skeleton())
        save_npz(Scene({1: motion}), tmp_path / name)
    from mocap.metrics import evaluate_files

    (_, same), = evaluate_files(tmp_path / "a.npz", tmp_path / "a.npz")
    assert same["mpjpe"] < 1e-6 and same["root"] < 1e-6 and same["accel"] < 1e-6
    (_, moved), = evaluate_files(tmp_path / "b.npz", tmp_path / "a.npz")
    assert moved["root"] == pytest.approx(50.0) and moved["mpjpe"] < 1e-6
    assert main(["eval", str(tmp_path / "b.npz"), str(tmp_path / "a.npz")]) == 0
    assert main(["eval", str(tmp_path / "b.npz"), str(tmp_path / "missing.npz")]) == 3


def test_a_person_in_the_scene_twice_is_scored_as_one():
    """Ground truth may give one person an entry for each time they are in the scene
    (samples/return.mp4): the entries are joined, never overwritten."""
    from mocap.metrics import _people_by_id

    T, nan = 6, np.nan
    boxes = np.full((3, T, 4), nan)
    joints = np.full((3, T, 2, 3), nan)
    visible = np.zeros((3, T))
    boxes[0, :2], joints[0, :2], visible[0, :2] = 1.0, 1.0, 1.0  # person 1 leaves after frame 1
    boxes[1], joints[1], visible[1] = 2.0, 2.0, 0.5  # person 2 throughout
    boxes[2, 4:], joints[2, 4:], visible[2, 4:] = 3.0, 3.0, 0.8  # person 1 is back from frame 4
    gt = {"person_ids": np.array([1, 2, 1]), "boxes": boxes, "visible": visible, "joints_camera": joints}
    people = {pid: (b, v, j) for pid, b, v, j in _people_by_id(gt)}
    assert list(people) == [1, 2]
    b, v, j = people[1]
    assert np.allclose(b[:2], 1.0) and np.isnan(b[2:4]).all() and np.allclose(b[4:], 3.0)
    assert np.allclose(v, [1, 1, 0, 0, 0.8, 0.8]) and np.allclose(j[4:], 3.0) and np.isnan(j[2:4]).all()
    assert np.allclose(people[2][0], 2.0)
