"""Memory flat with video length: everything after estimation keeps a few kilobytes per frame
(the clip's own data), and the block-by-block work gives the same numbers as whole-clip work.

Measured with tracemalloc (numpy reports its buffers to it), so these are exact byte counts,
not timings; the whole-command figure is ``python scripts/bench.py memory``.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

import mocap.contact
import mocap.skeleton
import mocap.smooth
from mocap.camera import default_camera
from mocap.contact import lock_feet
from mocap.estimators import Estimates
from mocap.motion import Motion, Scene, save_npz
from mocap.solve import solve_motion
from mocap.skeleton import forward_kinematics, joint_positions, skeleton_for_body
from mocap.smooth import fill_gaps, one_euro_motion, smooth_motion

SK = skeleton_for_body()


def _walk(T: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(T, 24, 3, 3) wandering local rotations and a (T, 3) root path in front of the camera."""
    rng = np.random.default_rng(seed)
    rv = np.cumsum(rng.normal(0, 0.02, (T, 24, 3)), axis=0) * 0.3
    rot = Rotation.from_rotvec(rv.reshape(-1, 3)).as_matrix().reshape(T, 24, 3, 3)
    t = np.arange(T) / 30
    return rot, np.c_[np.sin(t), 0.5 + 0.05 * np.sin(3 * t), 4 + np.cos(t)]


def _estimates(T: int) -> Estimates:
    rot, root = _walk(T)
    rot[:, 0] = np.diag([1.0, -1, -1]) @ rot[:, 0]  # OpenCV camera frame
    confidence = np.ones(T)
    confidence[T // 3 : T // 3 + 40] = 0  # a gap to fill
    root[T // 3 : T // 3 + 40] = np.nan
    return Estimates(np.arange(T) / 30, rot, root, confidence, np.zeros((T, 33, 3)), np.zeros(10)).compact()


def _peak_bytes(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _solve_and_save(est: Estimates, path) -> None:
    camera = default_camera(1920, 1080, focal_px=1500)
    motion = solve_motion(est, camera, SK, 30.0, mocap.smooth.SMOOTHING_SECONDS["standard"], foot_lock=True)
    save_npz(Scene({0: motion}, camera), path)


def test_solving_and_saving_keep_a_few_kilobytes_per_frame(tmp_path):
    """Per extra frame: the motion's own rotations (1.7 KB), the poses written (0.6 KB) and
    little else (measured 2.3 KB; before the block-by-block work, 7.5 KB)."""
    short, long = 3 * 4096, 9 * 4096
    peaks = {}
    for T in (short, long):
        est = _estimates(T)
        peaks[T] = _peak_bytes(lambda: _solve_and_save(est, tmp_path / f"{T}.npz"))
        del est
    per_frame = (peaks[long] - peaks[short]) / (long - short)
    assert per_frame < 3000, f"{per_frame:.0f} bytes per frame"


def test_compact_estimates_are_a_third_and_solve_alike():
    T = 600
    rot, root = _walk(T, seed=3)
    full = Estimates(np.arange(T) / 30, rot, root, np.ones(T), np.ones((T, 33, 3)), np.zeros(10))
    small = full.compact()
    size = lambda e: sum(a.nbytes for a in (e.times, e.rotations, e.root_camera, e.confidence, e.keypoints))  # noqa: E731
    assert size(small) < size(full) / 2.5
    camera = default_camera(640, 480)
    a = solve_motion(full, camera, SK, 30.0, 0.05, foot_lock=True)
    b = solve_motion(small, camera, SK, 30.0, 0.05, foot_lock=True)
    assert np.abs(a.joint_positions() - b.joint_positions()).max() < 1e-5  # metres


@pytest.mark.parametrize("block", [7, 100])
def test_block_by_block_equals_whole_clip(monkeypatch, block):
    """Blocks smaller than the clip (and not dividing it) change nothing."""
    T = 250
    rot, _ = _walk(T, seed=1)
    root = np.array([0, 0.9, 0]) + np.random.default_rng(1).normal(0, 0.002, (T, 3))  # standing: feet planted
    whole = {
        "fk": forward_kinematics(rot, root, SK)[0][:, [7, 10]],
        "smooth": smooth_motion(rot, root, 30.0, 0.05, np.zeros(3)),
        "euro": one_euro_motion(rot, root, 30.0, 0.05),
        "feet": lock_feet(rot, root, SK, 30.0),
        "axis_angle": Motion(30.0, np.arange(T) / 30, rot, root, SK).axis_angle(),
    }
    for module in (mocap.skeleton, mocap.smooth, mocap.contact, mocap.motion):
        monkeypatch.setattr(module, "FRAME_BLOCK", block)
    blocked = {
        "fk": joint_positions(rot, root, SK, [7, 10]),
        "smooth": smooth_motion(rot.copy(), root, 30.0, 0.05, np.zeros(3), overwrite=True),
        "euro": one_euro_motion(rot.copy(), root, 30.0, 0.05, overwrite=True),
        "feet": lock_feet(rot.copy(), root, SK, 30.0, overwrite=True),
        "axis_angle": Motion(30.0, np.arange(T) / 30, rot, root, SK).axis_angle(),
    }
    arrays = lambda v: v if isinstance(v, tuple) else (v,)  # noqa: E731
    for key in whole:
        for w, b in zip(arrays(whole[key]), arrays(blocked[key])):
            assert np.allclose(w, b, atol=1e-12), key
    assert whole["feet"][1].any()  # the IK had feet to pin


def test_fill_gaps_in_place_matches_a_copy():
    T = 120
    rot, root = _walk(T, seed=2)
    valid = np.ones(T, bool)
    valid[30:50] = valid[90:] = False
    copied, _ = fill_gaps(np.arange(T) / 30, rot, root, valid)
    before = rot.copy()
    filled, _ = fill_gaps(np.arange(T) / 30, rot, root, valid, overwrite=True)
    assert filled is rot and not np.allclose(before, rot)
    assert np.array_equal(copied, filled)
