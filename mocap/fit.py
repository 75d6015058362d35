"""The fit stage: one person's pose over the whole clip, fitted to their 2D joints.

A body estimator's 3D pose is a guess from one crop; its 2D joints are far surer
(BlazePose's sit a few pixels from the true joints), but a pose built from 3D
directions alone projects 10-30 px off them, most at the wrists and ankles. The fit
turns the thighs, knees, upper arms, elbows and the body, and moves the root, so that the skeleton (with
the person's own proportions) projects onto the 2D joints under the camera's
intrinsics, while it

- stays near the estimator's pose (the depth it cannot see in 2D comes from there),
- moves smoothly (the acceleration of the root, knees, ankles, elbows and wrists), and
- keeps planted ankles still (contacts found on the fit's own first step, from the feet's height
  and their speed across the camera's rays: the 2D joints make that speed sure, the depth
  along the rays is not).

It is a robust non-linear least-squares problem over every frame at once, solved by
Gauss-Newton; the frames couple only to their neighbours, so the normal equations are
banded and solved directly (banded Cholesky), in overlapping blocks of frames so memory
stays flat in the clip's length.

Conventions: the OpenCV camera frame (x right, y down, z forward), metres, pixels; local
rotations as in :class:`~mocap.estimators.Estimates` (the root's in the camera frame).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import solveh_banded
from scipy.spatial.transform import Rotation

from .contact import CONTACT_JOINTS, detect_contacts
from .estimators import Estimates
from .rotations import blend
from .skeleton import JOINT, LIMB_JOINTS, Skeleton, forward_kinematics

# The joints the fit turns (their subtree turns with them): the body, thighs, knees, upper arms, elbows.
FREE_JOINTS = ("pelvis", "left_hip", "right_hip", "left_knee", "right_knee",
               "left_shoulder", "right_shoulder", "left_elbow", "right_elbow")  # fmt: skip
# The joints whose acceleration is penalised.
SMOOTH_JOINTS = ("pelvis", "left_knee", "right_knee", "left_ankle", "right_ankle",
                 "left_elbow", "right_elbow", "left_wrist", "right_wrist")  # fmt: skip

# Weights, chosen on the calibration renders (never the evaluation set). Residuals are in pixels
# (2D), radians x sqrt(PRIOR) and metres x sqrt(ACCEL or CONTACT): a 1 mm acceleration or
# foot step costs as much as a pixel, a turn of 1 degree from the estimator's pose as ~1 px.
PRIOR = 3000.0  # px² per rad² of turn away from the estimator's pose, per joint
SIGMA = 10.0  # px: the Cauchy loss' scale on the 2D residuals (a joint 30 px off counts a tenth)
ACCEL = 1e6  # px² per m² of acceleration per frame², at ACCEL_FPS (scaled to the clip's rate: per s²)
ACCEL_FPS = 30.0
CONTACT = 1e6  # px² per m² of a planted foot's step
ITERATIONS = 4
DAMPING = 1e-3  # added to the normal equations' diagonal
CONTACTS_FROM = 1  # contacts are found after this many steps (on the fitted, smoother motion) ...
CONTACT_SPEED = 0.3  # ... where a foot moves slower than this across the camera's rays, m/s
BLOCK = 240  # frames solved together ...
OVERLAP = 30  # ... overlapping the next block by this many (eased from one to the other)


def fit_person(est: Estimates, K: np.ndarray, skeleton: Skeleton, world_from_camera: np.ndarray,
               fps: float) -> Estimates:
    """``est`` with its rotations and root fitted to its 2D joints (:attr:`Estimates.joints_2d`).

    Frames where the person was not seen are left as they are; the smoothness and contact
    terms join only frames one frame period apart. Without 2D joints, ``est`` is returned.

    Args:
        est: (T frames) the estimator's output for one person, on ``skeleton``.
        K: (3, 3) intrinsics. skeleton: the person's skeleton (their proportions).
        world_from_camera: (4, 4); its rotation gives "up" for the contacts. fps: frame rate.
    Returns:
        a new :class:`Estimates` (the same arrays but rotations and root_camera).
    """
    if est.joints_2d is None:
        return est
    seen = np.flatnonzero((est.confidence > 0) & np.all(np.isfinite(est.root_camera), axis=1))
    if len(seen) < 3:
        return est
    rotations, root = est.rotations.astype(np.float64), est.root_camera.copy()
    # Neighbours: consecutive seen frames one period apart (a gap breaks the chain).
    linked = np.abs(np.diff(est.times[seen]) * fps - 1.0) < 0.5
    up = np.asarray(world_from_camera, float)[:3, :3]
    done = 0  # frames of `seen` already fitted (by the block before)
    for lo, hi in _blocks(len(seen)):
        idx = seen[lo:hi]
        r, t = fit_frames(est.rotations[idx].astype(np.float64), est.root_camera[idx], est.joints_2d[idx], K,
                          skeleton, linked[lo:hi - 1], up, fps)
        # Where two blocks overlap, the fit eases from the first block's to the second's.
        shared = max(done - lo, 0)
        if shared:
            w = (np.arange(shared) + 0.5) / shared
            J = rotations.shape[1]
            r[:shared] = blend(rotations[idx[:shared]], r[:shared], np.repeat(w, J)[:, None])
            t[:shared] = (1 - w)[:, None] * root[idx[:shared]] + w[:, None] * t[:shared]
        rotations[idx], root[idx] = r, t
        done = hi
    return Estimates(est.times, rotations.astype(est.rotations.dtype), root, est.confidence, est.keypoints,
                     est.betas, est.lengths, est.joints_2d)


def _blocks(n: int):
    """(lo, hi) per block of ``n`` frames, each block ``OVERLAP`` frames into the one before."""
    step = BLOCK - OVERLAP
    lo = 0
    while True:
        hi = min(lo + BLOCK, n)
        yield lo, hi
        if hi == n:
            return
        lo += step


def fit_frames(rotations: np.ndarray, root: np.ndarray, joints_2d: np.ndarray, K: np.ndarray, skeleton: Skeleton,
               linked: np.ndarray, up: np.ndarray, fps: float, iterations: int = ITERATIONS
               ) -> tuple[np.ndarray, np.ndarray]:
    """Fit consecutive frames at once (the objective of the module docstring).

    Args:
        rotations: (T, J, 3, 3) local rotations, the root's in the camera frame; root: (T, 3) metres.
        joints_2d: (T, len(LIMB_JOINTS), 3) pixel x, y and weight in [0, 1] of each limb joint.
        K: (3, 3). skeleton: J joints with SMPL-24's names. linked: (T - 1,) bool, frame t and t + 1
            are neighbours. up: (3, 3) world-from-camera rotation (its Y row is "up"). fps: frame rate.
    Returns:
        rotations (T, J, 3, 3) and root (T, 3), fitted.
    """
    rotations, root, start = rotations.copy(), root.copy(), rotations.copy()
    T = len(rotations)
    free = [JOINT[j] for j in FREE_JOINTS]
    targets = [JOINT[j] for j in LIMB_JOINTS]
    smooth = [JOINT[j] for j in SMOOTH_JOINTS]
    feet = [JOINT[j] for j in CONTACT_JOINTS]
    moves = _moves(skeleton.parents, free)
    n = 3 * len(free) + 3  # unknowns per frame: a turn per free joint, then the root's step
    contacts = None
    for it in range(iterations):
        positions, glob = forward_kinematics(rotations, root, skeleton)
        if it == CONTACTS_FROM:
            world = positions[:, feet] @ up.T  # the camera at the origin: positions are also the rays
            contacts = detect_contacts(world, fps, max_speed=CONTACT_SPEED, rays=world)
        # The normal equations, block-banded: frame t's block with frames t, t + 1, t + 2.
        normal = _Normal(T, n)
        _reprojection(normal, positions, targets, joints_2d, K, free, moves)
        _prior(normal, rotations, start, glob, skeleton.parents, free)
        chained = np.flatnonzero(linked[1:] & linked[:-1])
        if len(chained):
            _acceleration(normal, positions, smooth, free, moves, chained, fps)
        if contacts is not None:
            planted = contacts[1:] & contacts[:-1] & linked[:, None]
            if planted.any():
                # Only the ankles are held: a planted foot pivots about them when the body turns.
                held = [f for f, name in enumerate(CONTACT_JOINTS) if name.endswith("ankle")]
                _planted(normal, positions, [feet[f] for f in held], free, moves, planted[:, held])
        step = normal.solve()
        for a, j in enumerate(free):  # each turn is about the joint, in the camera frame
            turn = Rotation.from_rotvec(step[:, 3 * a:3 * a + 3]).as_matrix()
            p = skeleton.parents[j]
            if p < 0:
                rotations[:, j] = turn @ rotations[:, j]
            else:
                rotations[:, j] = np.swapaxes(glob[:, p], -1, -2) @ turn @ glob[:, p] @ rotations[:, j]
        root += step[:, -3:]
    return rotations, root


class _Normal:
    """Gauss-Newton normal equations JᵀJ δ = -Jᵀr of T frames with n unknowns each, where a
    residual touches at most frames t, t + 1 and t + 2: blocks (T - k, n, n) for frame offsets
    k = 0, 1, 2 and the gradient Jᵀr (T, n); solved as one banded symmetric system."""

    def __init__(self, frames: int, n: int):
        self.n = n
        self.blocks = [np.zeros((max(frames - k, 0), n, n)) for k in range(3)]
        self.gradient = np.zeros((frames, n))

    def add(self, frames: np.ndarray, parts: list[np.ndarray], residual: np.ndarray) -> None:
        """Residual rows touching frames ``frames + i`` through ``parts[i]``.

        Args:
            frames: (M,) first frame of each group of rows, each once. parts: per frame offset i, (M, R, n)
                the rows' derivatives by frame ``frames + i``'s unknowns. residual: (M, R).
        """
        for i, a in enumerate(parts):
            at = np.swapaxes(a, 1, 2)
            self.gradient[frames + i] += (at @ residual[..., None])[..., 0]
            for j in range(i, len(parts)):
                self.blocks[j - i][frames + i] += at @ parts[j]

    def solve(self) -> np.ndarray:
        """(T, n) the step δ (a little damping keeps unseen directions put)."""
        T, n = self.gradient.shape
        u = 3 * n - 1
        band = np.zeros((u + 1, T * n))
        a, b = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        for k, block in enumerate(self.blocks):
            keep = (a <= b) if k == 0 else np.ones_like(a, bool)
            t = np.arange(len(block))[:, None]
            rows = (t * n + a[keep]).ravel()
            cols = ((t + k) * n + b[keep]).ravel()
            band[u + rows - cols, cols] = block[:, keep].ravel()
        band[u] += DAMPING
        return -solveh_banded(band, self.gradient.ravel(), lower=False, check_finite=False).reshape(T, n)


def _moves(parents, free: list[int]) -> np.ndarray:
    """(len(free), J) bool: which joints move when each free joint turns (its subtree)."""
    out = np.zeros((len(free), len(parents)), bool)
    for a, j in enumerate(free):
        out[a, j] = True
        for k, p in enumerate(parents):
            out[a, k] |= p >= 0 and out[a, p]
    return out


def _point_jacobian(positions: np.ndarray, points: list[int], free: list[int], moves: np.ndarray) -> np.ndarray:
    """(T, P, 3, n): how each point moves with each unknown. A turn ω about free joint j moves a
    point p of its subtree by ω x (p - p_j); the root's step moves every point by itself."""
    T = len(positions)
    jac = np.zeros((T, len(points), 3, 3 * len(free) + 3))
    for a, j in enumerate(free):
        d = (positions[:, points] - positions[:, j, None]) * moves[a, points][None, :, None]  # (T, P, 3)
        x, y, z = d[..., 0], d[..., 1], d[..., 2]
        zero = np.zeros_like(x)
        # ω x d = -[d]x ω
        jac[..., 3 * a:3 * a + 3] = np.stack([np.stack([zero, z, -y], -1), np.stack([-z, zero, x], -1),
                                              np.stack([y, -x, zero], -1)], -2)
    jac[..., -3:] = np.eye(3)
    return jac


def _reprojection(normal: _Normal, positions, targets, joints_2d, K, free, moves) -> None:
    """2D residuals (px), Cauchy-weighted (reweighted each step) and weighted by the joints' weights."""
    P = positions[:, targets]
    X, Y, Z = P[..., 0], P[..., 1], np.maximum(P[..., 2], 1e-3)
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    r = np.stack([fx * X / Z + cx, fy * Y / Z + cy], -1) - joints_2d[..., :2]  # (T, K, 2)
    w = np.sqrt(np.clip(joints_2d[..., 2], 0, 1) / (1 + (np.linalg.norm(r, axis=-1) / SIGMA) ** 2))
    d = np.zeros(P.shape[:2] + (2, 3))
    d[..., 0, 0], d[..., 0, 2] = fx / Z, -fx * X / Z**2
    d[..., 1, 1], d[..., 1, 2] = fy / Z, -fy * Y / Z**2
    jac = np.einsum("tkij,tkjl->tkil", d, _point_jacobian(positions, targets, free, moves)) * w[..., None, None]
    T = len(P)
    normal.add(np.arange(T), [jac.reshape(T, -1, jac.shape[-1])], (r * w[..., None]).reshape(T, -1))


def _prior(normal: _Normal, rotations, start, glob, parents, free) -> None:
    """Each free joint's turn away from the estimator's pose (camera-frame rotation vector)."""
    T = len(rotations)
    m = 3 * len(free)
    dev = np.empty((T, len(free), 3))
    for a, j in enumerate(free):
        p = parents[j]
        frame = glob[:, p] if p >= 0 else np.broadcast_to(np.eye(3), (T, 3, 3))
        change = frame @ rotations[:, j] @ np.swapaxes(start[:, j], -1, -2) @ np.swapaxes(frame, -1, -2)
        dev[:, a] = Rotation.from_matrix(change).as_rotvec()
    i = np.arange(m)
    normal.blocks[0][:, i, i] += PRIOR
    normal.gradient[:, :m] += PRIOR * dev.reshape(T, m)


def _acceleration(normal: _Normal, positions, points, free, moves, first, fps: float) -> None:
    """Second differences of the points over frames (c, c + 1, c + 2) for each c of ``first``,
    weighted as accelerations (per s²): a clip at 10 fps is not held 81 times stiffer."""
    jac = _point_jacobian(positions, points, free, moves)  # (T, P, 3, n)
    w = np.sqrt(ACCEL) * (fps / ACCEL_FPS) ** 2
    q = positions[:, points]
    residual = w * (q[first] - 2 * q[first + 1] + q[first + 2])  # (C, P, 3)
    n = jac.shape[-1]
    parts = [(w * coef * jac[first + i]).reshape(len(first), -1, n) for i, coef in enumerate((1.0, -2.0, 1.0))]
    normal.add(first, parts, residual.reshape(len(first), -1))


def _planted(normal: _Normal, positions, feet, free, moves, planted) -> None:
    """A planted foot's step between frames t and t + 1 (planted: (T - 1, F) bool)."""
    jac = _point_jacobian(positions, feet, free, moves)  # (T, F, 3, n)
    w = np.sqrt(CONTACT)
    for f, joint in enumerate(feet):
        t = np.flatnonzero(planted[:, f])
        if len(t):
            residual = w * (positions[t + 1, joint] - positions[t, joint])  # (M, 3)
            normal.add(t, [-w * jac[t, f], w * jac[t + 1, f]], residual)
