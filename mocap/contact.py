"""Foot contact: when a foot is planted, and foot-skate cleanup that keeps it planted.

A per-frame estimate lets a standing foot slide a few millimetres every frame.
Contacts are found from each foot joint's height above its own lowest level
nearby in time and its speed; during a contact the joint is pinned to one
place, and the legs reach it by two-bone IK (hip and knee) plus a turn of the
ankle for the toe. The pin is blended in and out over a few frames, so the leg
never jumps when a contact starts or ends.

Conventions: world frame Y-up, metres; a skeleton's foot chain is
hip → knee → ankle → foot (SMPL's ``left_foot`` is the ball of the foot/toe).
"""

from __future__ import annotations

import numpy as np

from .rotations import normalize, swing
from .skeleton import FRAME_BLOCK, Skeleton, forward_kinematics, joint_positions

# hip, knee, ankle, toe joint names per leg (SMPL).
LEGS = (("left_hip", "left_knee", "left_ankle", "left_foot"),
        ("right_hip", "right_knee", "right_ankle", "right_foot"))
# The foot joints contacts are found for, in this order: (T, 4) contact arrays.
CONTACT_JOINTS = ("left_ankle", "left_foot", "right_ankle", "right_foot")

# Thresholds for estimated motion, chosen on the sample clip against its true contacts
# (precision 0.97, recall 0.72 for MediaPipe): a planted foot's estimate jitters by up to
# 0.5 m/s and ~10 cm in height (monocular depth), a stepping foot moves at 1-4 m/s.
MAX_HEIGHT = 0.12  # metres above the joint's low level
MAX_SPEED = 0.5  # metres per second
FLOOR_WINDOW_SECONDS = 1.0  # the low level is the lowest the joint gets within this window
VERTICAL_SIGMA_SECONDS = 0.1  # a planted foot's height is smoothed this much, not pinned
# For clean motion (ground truth, optical mocap): a flat floor, feet still to 1 cm/frame at 30 fps.
STRICT = {"max_height": 0.05, "max_speed": 0.3, "window_seconds": 2.0}


def detect_contacts(positions: np.ndarray, fps: float, max_height: float = MAX_HEIGHT,
                    max_speed: float = MAX_SPEED, window_seconds: float = FLOOR_WINDOW_SECONDS,
                    min_seconds: float = 0.1, rays: np.ndarray | None = None) -> np.ndarray:
    """Which foot joints are planted on each frame.

    A joint is in contact when it is within ``max_height`` of the lowest it gets in a
    ``window_seconds`` window around the frame (so a sloping floor, or a floor
    whose height drifts with a monocular depth error, still works) and moves slower
    than ``max_speed``. Contacts shorter than ``min_seconds`` are dropped and gaps as
    short are closed (a flicker is noise, not a step).

    Args:
        positions: (T, F, 3) foot joint positions, world Y-up, metres. fps: frame rate.
        rays: (T, F, 3) directions from the camera to each joint (same frame), or None. With them
            only the speed across the rays counts: along them is monocular depth, the noisiest
            part of an estimate, where a planted foot seems to move most.
    Returns:
        (T, F) bool.
    """
    from scipy.ndimage import binary_closing, binary_opening, minimum_filter1d, uniform_filter1d

    T = len(positions)
    if T < 3:
        return np.zeros(positions.shape[:2], bool)
    window = max(3, int(round(window_seconds * fps)) | 1)
    y = positions[..., 1]
    lowest = minimum_filter1d(y, window, axis=0, mode="nearest")
    # Averaged so the level does not step, but never more than half the threshold above the lowest.
    low = np.minimum(uniform_filter1d(lowest, window, axis=0, mode="nearest"), lowest + max_height / 2)
    velocity = np.gradient(positions, axis=0) * fps  # (T, F, 3) m/s, central differences
    if rays is not None:
        along = rays / np.maximum(np.linalg.norm(rays, axis=-1, keepdims=True), 1e-9)
        velocity = velocity - np.sum(velocity * along, axis=-1, keepdims=True) * along
    step = np.linalg.norm(velocity, axis=-1)
    planted = (y - low < max_height) & (step < max_speed)
    n = max(1, int(round(min_seconds * fps)))
    structure = np.ones((2 * (n // 2) + 1, 1), bool)
    planted = binary_closing(planted, structure, border_value=0) | planted
    return binary_opening(planted, structure, border_value=0) if n > 1 else planted


def contact_offsets(positions: np.ndarray, contacts: np.ndarray, blend: int, vertical_sigma: float = 0.0
                    ) -> np.ndarray:
    """How far each foot joint must move to stay planted: during each contact, to the
    contact's median position; easing back to its own path over ``blend`` frames either side.

    Args:
        positions: (T, F, 3); contacts: (T, F) bool; blend: frames of easing at each end.
        vertical_sigma: heights are smoothed (Gaussian, frames) within a contact instead of
            pinned (0: pinned like the rest).
    Returns:
        (T, F, 3) offsets (zero away from contacts), continuous in time.
    """
    from scipy.ndimage import binary_dilation, gaussian_filter1d, label

    T, F = contacts.shape
    out = np.zeros((T, F, 3))
    frames = np.arange(T)
    for f in range(F):
        segments, n = label(contacts[:, f])
        if n == 0:
            continue
        offset = np.zeros((T, 3))
        for s in range(1, n + 1):
            idx = segments == s
            offset[idx] = np.median(positions[idx, f], axis=0) - positions[idx, f]
            # Heights are not pinned flat: a planted foot rolls (heel off, toe on) and bending the
            # knee to hold a height costs more accuracy than it gains; they are only made still.
            if vertical_sigma > 0:
                offset[idx, 1] = gaussian_filter1d(positions[idx, f, 1], vertical_sigma,
                                                   mode="nearest") - positions[idx, f, 1]
        # Known: contact frames (their offsets) and frames at least `blend` from any contact (zero);
        # the frames between ease linearly from one to the other.
        near = binary_dilation(contacts[:, f], np.ones(2 * blend + 1, bool)) if blend > 0 else contacts[:, f]
        known = contacts[:, f] | ~near
        for k in range(3):
            out[:, f, k] = np.interp(frames, frames[known], offset[known, k])
    return out


def two_bone_ik(hip: np.ndarray, knee: np.ndarray, ankle: np.ndarray, target: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """New knee position and the reached ankle position for a leg whose ankle should go to
    ``target``, keeping the bone lengths and the knee in the plane of the hip, the target
    and the old knee (the leg's bend plane).

    Args:
        hip, knee, ankle, target: (T, 3) positions.
    Returns:
        knee (T, 3) and ankle (T, 3): the ankle is ``target`` when it is within reach,
        else the nearest reachable point on the line from the hip towards it.
    """
    a = np.linalg.norm(knee - hip, axis=-1)
    b = np.linalg.norm(ankle - knee, axis=-1)
    to_target = target - hip
    d = np.clip(np.linalg.norm(to_target, axis=-1), np.abs(a - b) + 1e-6, (a + b) * (1 - 1e-6))
    u = normalize(to_target)
    bend = knee - hip
    v = bend - np.sum(bend * u, axis=-1, keepdims=True) * u
    # A straight leg has no bend plane: keep the old bend direction from the old ankle line.
    straight = np.linalg.norm(v, axis=-1) < 1e-6
    if straight.any():
        old = normalize(ankle - hip)
        alt = np.cross(old, [1.0, 0.0, 0.0])
        v[straight] = alt[straight] if alt.ndim > 1 else alt
    v = normalize(v)
    cos_hip = np.clip((a**2 + d**2 - b**2) / (2 * a * d), -1, 1)
    new_knee = hip + a[:, None] * (cos_hip[:, None] * u + np.sqrt(1 - cos_hip**2)[:, None] * v)
    return new_knee, hip + d[:, None] * u


def lock_feet(rotations: np.ndarray, translation: np.ndarray, skeleton: Skeleton, fps: float,
              contacts: np.ndarray | None = None, blend_seconds: float = 0.1,
              overwrite: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Foot-skate cleanup: planted feet stay where they are planted.

    Ankles are moved by two-bone IK of each leg (hip and knee rotations; the bend plane
    and the foot's world orientation are kept), then the ankle turns so that the toe
    reaches its own pin. Other joints and the root are untouched.

    Args:
        rotations: (T, J, 3, 3) local rotations; translation: (T, 3) root, world Y-up metres.
        contacts: (T, 4) bool for ``CONTACT_JOINTS`` (default: :func:`detect_contacts`).
        blend_seconds: easing time into and out of each contact.
        overwrite: write the new leg rotations into ``rotations`` (no copy of a long clip).
    Returns:
        rotations (T, J, 3, 3) with new hip, knee and ankle rotations, and the (T, 4) contacts.
    """
    names = list(skeleton.names)
    if not all(n in names for leg in LEGS for n in leg):
        return rotations, np.zeros((len(rotations), len(CONTACT_JOINTS)), bool)
    idx = [names.index(n) for n in CONTACT_JOINTS]
    feet = joint_positions(rotations, translation, skeleton, idx)  # (T, 4, 3)
    if contacts is None:
        contacts = detect_contacts(feet, fps)
    targets = feet + contact_offsets(feet, contacts, int(round(blend_seconds * fps)), VERTICAL_SIGMA_SECONDS * fps)
    out = rotations if overwrite else rotations.copy()
    for s in range(0, len(out), FRAME_BLOCK):  # the IK is per frame: block by block, bounded temporaries
        _reach(out[s : s + FRAME_BLOCK], translation[s : s + FRAME_BLOCK], targets[s : s + FRAME_BLOCK], skeleton)
    return out, contacts


def _reach(rotations: np.ndarray, translation: np.ndarray, targets: np.ndarray, skeleton: Skeleton) -> None:
    """Turn each leg's hip, knee and ankle (in ``rotations`` (T, J, 3, 3), in place) so its
    ankle and toe reach ``targets`` (T, 4, 3), ordered as ``CONTACT_JOINTS``."""
    names = list(skeleton.names)
    positions, glob = forward_kinematics(rotations, translation, skeleton)
    parents = skeleton.parents
    for side, (h, k, a, toe) in enumerate(LEGS):
        h, k, a, toe = (names.index(n) for n in (h, k, a, toe))
        ankle_target, toe_target = targets[:, 2 * side], targets[:, 2 * side + 1]
        moved = np.any(np.abs(ankle_target - positions[:, a]) > 1e-9, axis=1) | np.any(
            np.abs(toe_target - positions[:, toe]) > 1e-9, axis=1)
        if not moved.any():
            continue
        new_knee, new_ankle = two_bone_ik(positions[:, h], positions[:, k], positions[:, a], ankle_target)
        g_hip = swing(positions[:, k] - positions[:, h], new_knee - positions[:, h]) @ glob[:, h]
        g_knee = g_hip @ rotations[:, k]
        g_knee = swing(np.einsum("tij,j->ti", g_knee, skeleton.rest_offsets[a]), new_ankle - new_knee) @ g_knee
        # The foot keeps its world orientation, then turns so the toe points at its pin.
        foot_dir = np.einsum("tij,j->ti", glob[:, a], skeleton.rest_offsets[toe])
        g_ankle = swing(foot_dir, toe_target - new_ankle) @ glob[:, a]
        g_parent = glob[:, parents[h]]
        rotations[moved, h] = (np.swapaxes(g_parent, 1, 2) @ g_hip)[moved]
        rotations[moved, k] = (np.swapaxes(g_hip, 1, 2) @ g_knee)[moved]
        rotations[moved, a] = (np.swapaxes(g_knee, 1, 2) @ g_ankle)[moved]
