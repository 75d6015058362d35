"""Small pure rotation helpers on stacks of 3x3 matrices (numpy + scipy ``Rotation``).

Shapes: ``(..., 3)`` vectors, ``(..., 3, 3)`` rotation matrices. Matrices act on
column vectors: ``v_parent = R @ v_child``.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation, Slerp

_EPS = 1e-9

# Whole-clip work on (T, J, ...) arrays runs over blocks of this many frames, so its
# temporaries stay the same size however long the video is (memory flat with length).
FRAME_BLOCK = 4096


def normalize(v: np.ndarray) -> np.ndarray:
    """(..., 3) unit vectors (zero vectors stay zero)."""
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return v / np.maximum(n, _EPS)


def frame_from_axes(primary: np.ndarray, secondary: np.ndarray) -> np.ndarray:
    """Orthonormal frames (..., 3, 3) whose columns are [primary, secondary⊥, primary×secondary⊥].

    ``secondary`` is made orthogonal to ``primary`` by Gram–Schmidt.
    Args: primary, secondary: (..., 3), not parallel.
    """
    primary, secondary = np.broadcast_arrays(np.asarray(primary, float), np.asarray(secondary, float))
    # Degenerate input (a zero bone, or a secondary along the primary, as when two
    # landmarks coincide) still gives a proper rotation: borrow a fixed axis.
    small = np.linalg.norm(primary, axis=-1, keepdims=True) < _EPS
    e1 = normalize(np.where(small, [1.0, 0, 0], primary))
    e2 = secondary - np.sum(secondary * e1, axis=-1, keepdims=True) * e1
    bad = np.linalg.norm(e2, axis=-1, keepdims=True) < 1e-6 * np.maximum(
        np.linalg.norm(secondary, axis=-1, keepdims=True), _EPS)
    helper = np.where(np.abs(e1[..., :1]) < 0.9, [1.0, 0, 0], [0, 1.0, 0])
    e2 = np.where(bad, helper - np.sum(helper * e1, axis=-1, keepdims=True) * e1, e2)
    e2 = normalize(e2)
    e3 = np.cross(e1, e2)
    return np.stack([e1, e2, e3], axis=-1)


def align_axes(primary, secondary, rest_primary, rest_secondary) -> np.ndarray:
    """Rotations (..., 3, 3) taking the rest pair of directions onto the observed pair.

    The primary direction is matched exactly; the secondary fixes the twist about it.
    Args: (..., 3) observed primary/secondary, (3,) or (..., 3) rest primary/secondary.
    """
    observed = frame_from_axes(primary, secondary)
    rest = frame_from_axes(np.broadcast_to(rest_primary, np.shape(primary)),
                           np.broadcast_to(rest_secondary, np.shape(secondary)))
    return observed @ np.swapaxes(rest, -1, -2)


def swing(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The smallest rotations (..., 3, 3) turning directions ``u`` onto ``v`` (no twist).

    Args: u, v: (..., 3).
    """
    u, v = normalize(u), normalize(v)
    axis = np.cross(u, v)
    sin = np.linalg.norm(axis, axis=-1, keepdims=True)
    cos = np.sum(u * v, axis=-1, keepdims=True)
    angle = np.arctan2(sin, cos)
    # Antiparallel: any axis perpendicular to u will do.
    fallback = np.cross(u, np.where(np.abs(u[..., :1]) < 0.9, [1.0, 0, 0], [0, 1.0, 0]))
    axis = np.where(sin > 1e-8, axis, fallback)
    rotvec = normalize(axis) * angle
    shape = rotvec.shape[:-1]
    return Rotation.from_rotvec(rotvec.reshape(-1, 3)).as_matrix().reshape(*shape, 3, 3)


def blend(a: np.ndarray, b: np.ndarray, t) -> np.ndarray:
    """Slerp between two stacks of rotations (..., 3, 3) at fraction ``t`` (0 → a, 1 → b): a number,
    or one per rotation, shaped (N, 1) for the N = prod(...) rotations in order."""
    rel = np.swapaxes(a, -1, -2) @ b
    shape = rel.shape[:-2]
    rv = Rotation.from_matrix(rel.reshape(-1, 3, 3)).as_rotvec() * t
    return a @ Rotation.from_rotvec(rv).as_matrix().reshape(*shape, 3, 3)


def slerp_frames(times: np.ndarray, rotations: np.ndarray, new_times: np.ndarray) -> np.ndarray:
    """Resample rotations over time by slerp.

    Args:
        times: (T,) increasing seconds; rotations: (T, J, 3, 3); new_times: (N,) within range.
    Returns:
        (N, J, 3, 3).
    """
    T, J = rotations.shape[:2]
    out = np.empty((len(new_times), J, 3, 3))
    clipped = np.clip(new_times, times[0], times[-1])
    for j in range(J):
        out[:, j] = Slerp(times, Rotation.from_matrix(rotations[:, j]))(clipped).as_matrix()
    return out


def continuous_quaternions(rotations: np.ndarray) -> np.ndarray:
    """(T, J, 3, 3) rotations -> (T, J, 4) unit quaternions (x, y, z, w) on one hemisphere
    along time (each frame's sign chosen nearest the previous frame's), so that filtering
    them component-wise never averages q with -q."""
    T, J = rotations.shape[:2]
    q = np.empty((T, J, 4))
    for s in range(0, T, FRAME_BLOCK):
        # assume_valid: rotations here are orthonormal to rounding; scipy's default re-orthonormalises
        # every matrix by SVD (most of an FBX export's time on long clips).
        block = rotations[s : s + FRAME_BLOCK].reshape(-1, 3, 3)
        q[s : s + FRAME_BLOCK] = Rotation.from_matrix(block, assume_valid=True).as_quat().reshape(-1, J, 4)
    flips = np.sign(np.einsum("tjk,tjk->tj", q[1:], q[:-1]))
    flips[flips == 0] = 1
    q[1:] *= np.cumprod(flips, axis=0)[..., None]
    return q
