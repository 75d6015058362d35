"""Temporal smoothing on rotations (quaternions, zero-phase), checked on real CMU motion."""

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mocap.metrics import CMU_TO_SMPL, accel_error, pa_mpjpe, select_joints
from mocap.skeleton import forward_kinematics
from mocap.smooth import SMOOTHING_SECONDS, continuous_quaternions, smooth_motion

CMU_BVH = Path("/usr/share/assimp/models/BVH/01_01.bvh")


def test_quaternions_stay_on_one_hemisphere_through_a_full_turn():
    angles = np.linspace(0, 4 * np.pi, 200)  # two full turns about y
    R = Rotation.from_rotvec(angles[:, None] * [0, 1, 0]).as_matrix()[:, None]
    q = continuous_quaternions(R)
    assert np.all(np.einsum("tjk,tjk->tj", q[1:], q[:-1]) > 0.99)
    # Smoothing a steady turn leaves it a steady turn (no flip where the angle passes pi).
    smoothed, _ = smooth_motion(R, np.zeros((200, 3)), 30.0, SMOOTHING_SECONDS["standard"])
    rel = Rotation.from_matrix(np.swapaxes(smoothed[:-1, 0], 1, 2) @ smoothed[1:, 0]).magnitude()
    inner = rel[5:-5]
    assert np.allclose(inner, angles[1] - angles[0], atol=1e-3)


def test_off_and_constant_motion_are_unchanged():
    R = np.tile(Rotation.from_euler("xyz", [0.3, -1.0, 2.0]).as_matrix(), (50, 3, 1, 1))
    t = np.tile([1.0, 2.0, 3.0], (50, 1))
    same, same_t = smooth_motion(R, t, 30.0, SMOOTHING_SECONDS["off"])
    assert same is R and same_t is t
    smoothed, smoothed_t = smooth_motion(R, t, 30.0, SMOOTHING_SECONDS["strong"])
    np.testing.assert_allclose(smoothed, R, atol=1e-12)
    np.testing.assert_allclose(smoothed_t, t, atol=1e-12)


def test_standard_smoothing_cuts_acceleration_error_on_noisy_cmu_motion():
    """Real CMU motion (Debian assimp-testmodels' 01_01), 30 fps, with per-frame noise like a
    per-frame estimator's (0.5 degree per joint, 1 cm on the root: ~21 mm/frame² of
    acceleration error, HMR 2.0's is ~18). Measured: 21.3 -> 4.8 mm/frame², PA-MPJPE 5.9 -> 5.0 mm."""
    if not CMU_BVH.exists():
        pytest.skip(f"{CMU_BVH} missing (Debian package assimp-testmodels)")
    from mocap.export.bvh import read_bvh

    skel, fps, rot, root = read_bvh(CMU_BVH, units=0.056444)
    rot, root, fps = rot[::4][:400], root[::4][:400], fps / 4
    rng = np.random.default_rng(0)
    T, J = rot.shape[:2]
    noise = Rotation.from_rotvec(rng.normal(0, np.radians(0.5), (T * J, 3))).as_matrix().reshape(T, J, 3, 3)
    noisy, noisy_root = rot @ noise, root + rng.normal(0, 0.01, root.shape)

    def joints(r, t):
        return select_joints(forward_kinematics(r, t, skel)[0], skel.names, CMU_TO_SMPL)

    truth = joints(rot, root)
    before = joints(noisy, noisy_root)
    after = joints(*smooth_motion(noisy, noisy_root, fps, SMOOTHING_SECONDS["standard"]))
    assert accel_error(after, truth) * 3 <= accel_error(before, truth)
    assert pa_mpjpe(after, truth) <= 1.02 * pa_mpjpe(before, truth)


def test_front_back_flips_are_replaced_not_smeared():
    """A per-frame estimator sometimes sees a body from behind as facing the camera: the root
    turned 180 degrees for a frame or two. Rejected and refilled before smoothing, those frames
    come back to within a few degrees; smoothing alone would smear each flip over its neighbours."""
    if not CMU_BVH.exists():
        pytest.skip(f"{CMU_BVH} missing (Debian package assimp-testmodels)")
    from mocap.export.bvh import read_bvh
    from mocap.smooth import fill_gaps, outlier_frames

    skel, fps, rot, root = read_bvh(CMU_BVH, units=0.056444)
    rot, root, fps = rot[::4][:300], root[::4][:300], fps / 4
    times = np.arange(len(rot)) / fps
    flipped = rot.copy()
    bad = np.array([40, 41, 100, 180, 181, 250])
    flipped[bad, 0] = flipped[bad, 0] @ Rotation.from_euler("y", 180, degrees=True).as_matrix()
    outliers = outlier_frames(flipped, root)
    assert set(np.flatnonzero(outliers)) == set(bad.tolist())
    cleaned, t = fill_gaps(times, flipped, root, ~outliers)
    cleaned, _ = smooth_motion(cleaned, t, fps, SMOOTHING_SECONDS["standard"])
    smeared, _ = smooth_motion(flipped, root, fps, SMOOTHING_SECONDS["standard"])

    def root_error(r):  # degrees, per frame
        return Rotation.from_matrix(np.swapaxes(rot[:, 0], 1, 2) @ r[:, 0]).magnitude() * 180 / np.pi

    assert root_error(cleaned)[bad].max() < 10
    assert root_error(smeared)[bad].min() > 30  # 40 degrees for a one-frame flip, 85 for two
