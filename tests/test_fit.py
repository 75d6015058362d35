"""The fit stage on exact synthetic data: a known skeleton moved, projected with noise, and a
3D estimate that is off; the fit must bring the pose onto the image and keep the rest sane."""

import numpy as np
from scipy.spatial.transform import Rotation

from mocap import fit
from mocap.contact import CONTACT_JOINTS
from mocap.estimators import Estimates
from mocap.proportions import proportioned
from mocap.skeleton import JOINT, LIMB_JOINTS, forward_kinematics, neutral_skeleton

K = np.array([[600.0, 0, 320], [0, 600.0, 240], [0, 0, 1]])
FPS = 30.0
UPRIGHT = np.diag([1.0, -1.0, -1.0])  # rest frame (Y up, facing +Z) -> camera: facing the camera
SKELETON = proportioned(neutral_skeleton(), np.array([0.15, 0.36, 0.42, 0.42, 0.44, 0.29, 0.21]))


def true_motion(T: int = 90, seed: int = 0):
    """(T, 24, 3, 3) local rotations and (T, 3) root of someone swinging arms and legs, turning a
    little, stepping sideways 4 m from the camera; both feet stay planted."""
    rng = np.random.default_rng(seed)
    t = np.arange(T) / FPS
    rot = np.tile(np.eye(3), (T, 24, 1, 1))
    for name in fit.FREE_JOINTS[1:]:
        axis = rng.normal(size=3)
        axis /= np.linalg.norm(axis)
        amp, freq, phase = rng.uniform(0.2, 0.6), rng.uniform(0.3, 0.8), rng.uniform(0, 2 * np.pi)
        rot[:, JOINT[name]] = Rotation.from_rotvec(np.outer(amp * np.sin(2 * np.pi * freq * t + phase), axis)).as_matrix()
    for leg in ("left", "right"):  # feet keep still: legs straight, hips not swinging
        for j in (f"{leg}_hip", f"{leg}_knee"):
            rot[:, JOINT[j]] = np.eye(3)
    facing = Rotation.from_rotvec(np.outer(0.4 * np.sin(2 * np.pi * 0.2 * t), [0, 1, 0])).as_matrix()
    rot[:, 0] = UPRIGHT @ facing
    root = np.stack([np.zeros(T), np.full(T, -0.1), np.full(T, 4.0)], axis=1)
    return rot, root


def project(points: np.ndarray) -> np.ndarray:
    x = points @ K.T
    return x[..., :2] / x[..., 2:]


def observed(rot, root, noise_px: float = 1.0, seed: int = 1) -> np.ndarray:
    """(T, 12, 3) the limb joints in the image, with pixel noise, weight 1."""
    pos, _ = forward_kinematics(rot, root, SKELETON)
    px = project(pos[:, [JOINT[j] for j in LIMB_JOINTS]])
    px += np.random.default_rng(seed).normal(scale=noise_px, size=px.shape)
    return np.concatenate([px, np.ones(px.shape[:2] + (1,))], axis=-1)


def off_estimate(rot, root, degrees: float = 12.0, seed: int = 2):
    """The truth turned by random ~``degrees`` at every free joint (smoothly varying) and the root
    moved 15 cm: an estimator's error."""
    rng = np.random.default_rng(seed)
    T = len(rot)
    est = rot.copy()
    for name in fit.FREE_JOINTS:
        err = np.cumsum(rng.normal(size=(T, 3)), axis=0)
        err = err / np.linalg.norm(err, axis=1).mean() * np.radians(degrees)
        est[:, JOINT[name]] = Rotation.from_rotvec(err).as_matrix() @ est[:, JOINT[name]]
    return est, root + np.array([0.1, 0.05, 0.1])


def limb_error(rot, root, true_rot, true_root) -> tuple[float, float]:
    """(mean 2D error px, mean 3D error mm after aligning the mid-hips) of the limb joints."""
    idx = [JOINT[j] for j in LIMB_JOINTS]
    a = forward_kinematics(rot, root, SKELETON)[0][:, idx]
    b = forward_kinematics(true_rot, true_root, SKELETON)[0][:, idx]
    px = np.linalg.norm(project(a) - project(b), axis=-1).mean()
    mid = lambda p: 0.5 * (p[:, :1] + p[:, 1:2])  # noqa: E731 - left_hip, right_hip come first
    return px, np.linalg.norm((a - mid(a)) - (b - mid(b)), axis=-1).mean() * 1000


def estimates(rot, root, joints_2d, confidence=None):
    T = len(rot)
    return Estimates(np.arange(T) / FPS, rot, root, np.ones(T) if confidence is None else confidence,
                     np.zeros((T, 0, 3)), np.zeros(10), None, joints_2d)


def test_the_fit_brings_the_pose_onto_the_image_and_nearer_the_truth():
    true_rot, true_root = true_motion()
    start_rot, start_root = off_estimate(true_rot, true_root)
    est = estimates(start_rot, start_root, observed(true_rot, true_root))
    out = fit.fit_person(est, K, SKELETON, np.diag([1.0, -1.0, -1.0, 1.0]), FPS)
    before = limb_error(start_rot, start_root, true_rot, true_root)
    after = limb_error(out.rotations, out.root_camera, true_rot, true_root)
    print(f"\n2D {before[0]:.1f} -> {after[0]:.1f} px, 3D {before[1]:.1f} -> {after[1]:.1f} mm")
    assert before[0] > 15 and after[0] < 3.0  # onto the image, within a few pixels of the noise
    assert after[1] < 0.6 * before[1]  # and nearer the truth in 3D (depth stays the estimate's)
    # Only the fitted joints turned; nothing else about the estimate changed.
    fixed = [j for j in range(24) if SKELETON.names[j] not in fit.FREE_JOINTS]
    assert np.allclose(out.rotations[:, fixed], start_rot[:, fixed])
    assert out.times is est.times and out.joints_2d is est.joints_2d


def test_planted_feet_stay_still_while_the_image_jitters():
    true_rot, true_root = true_motion()
    start_rot, start_root = off_estimate(true_rot, true_root, degrees=5.0)
    est = estimates(start_rot, start_root, observed(true_rot, true_root, noise_px=3.0))
    out = fit.fit_person(est, K, SKELETON, np.diag([1.0, -1.0, -1.0, 1.0]), FPS)
    feet = [JOINT[j] for j in CONTACT_JOINTS if j.endswith("ankle")]  # held; the toes pivot about them
    step = lambda r, t: np.linalg.norm(np.diff(forward_kinematics(r, t, SKELETON)[0][:, feet], axis=0), axis=-1)  # noqa: E731
    before, after = step(start_rot, start_root).mean() * 1000, step(out.rotations, out.root_camera).mean() * 1000
    print(f"\nfeet move {before:.1f} -> {after:.1f} mm/frame")
    assert after < 1.5 and after < 0.3 * before


def test_unseen_frames_are_left_alone_and_blocks_join_without_a_seam(monkeypatch):
    true_rot, true_root = true_motion(T=150)
    start_rot, start_root = off_estimate(true_rot, true_root)
    confidence = np.ones(150)
    confidence[60:64] = 0.0  # hidden: not fitted, and the chain of neighbours breaks there
    est = estimates(start_rot, start_root, observed(true_rot, true_root), confidence)
    whole = fit.fit_person(est, K, SKELETON, np.diag([1.0, -1.0, -1.0, 1.0]), FPS)
    assert np.array_equal(whole.rotations[60:64], start_rot[60:64])
    assert np.array_equal(whole.root_camera[60:64], start_root[60:64])
    monkeypatch.setattr(fit, "BLOCK", 50)
    monkeypatch.setattr(fit, "OVERLAP", 16)
    blocks = list(fit._blocks(146))
    assert blocks[0][0] == 0 and blocks[-1][1] == 146 and all(hi - lo <= 50 for lo, hi in blocks)
    assert all(b[0] == a[1] - 16 for a, b in zip(blocks, blocks[1:]))
    pieces = fit.fit_person(est, K, SKELETON, np.diag([1.0, -1.0, -1.0, 1.0]), FPS)
    idx = [JOINT[j] for j in LIMB_JOINTS]
    a = forward_kinematics(whole.rotations, whole.root_camera, SKELETON)[0][:, idx]
    b = forward_kinematics(pieces.rotations, pieces.root_camera, SKELETON)[0][:, idx]
    # In blocks of 50 frames the motion is as near the truth, and as smooth: no pop where they join.
    assert limb_error(pieces.rotations, pieces.root_camera, true_rot, true_root)[1] < 1.05 * limb_error(
        whole.rotations, whole.root_camera, true_rot, true_root)[1]
    seen = np.r_[0:59, 64:149]  # steps between seen neighbours
    step = lambda p: np.linalg.norm(np.diff(p, axis=0), axis=-1).max(axis=1)[seen]  # noqa: E731
    assert step(b).max() < 1.2 * step(a).max()
    assert np.abs(a - b).max() < 0.05


def test_without_2d_joints_or_frames_nothing_is_fitted():
    true_rot, true_root = true_motion(T=10)
    est = estimates(true_rot, true_root, None)
    assert fit.fit_person(est, K, SKELETON, np.eye(4), FPS) is est
    est = estimates(true_rot[:2], true_root[:2], observed(true_rot[:2], true_root[:2]))
    assert fit.fit_person(est, K, SKELETON, np.eye(4), FPS) is est


def test_the_run_fits_only_when_asked():
    """``--fit off`` is the previous default: the neutral skeleton, no fit; ``proportions`` the
    person's own skeleton, no fit; ``on`` (the default) both."""
    from conftest import SAMPLES
    from mocap.pipeline import RunOptions, _Timer, capture

    runs = {}
    for option in ("off", "proportions", "on"):
        timer = _Timer()
        (motion,) = capture(SAMPLES / "turn_jump.mp4", RunOptions(fit=option, end=1.0), timer=timer).motions.values()
        runs[option] = motion
        assert (timer.seconds["fit"] > 0) == (option == "on")
    assert np.allclose(runs["off"].skeleton.rest_offsets, neutral_skeleton().rest_offsets)
    assert np.array_equal(runs["on"].skeleton.rest_offsets, runs["proportions"].skeleton.rest_offsets)
    assert not np.allclose(runs["on"].skeleton.rest_offsets, runs["off"].skeleton.rest_offsets)
    assert not np.allclose(runs["on"].rotations, runs["proportions"].rotations, atol=1e-3)
