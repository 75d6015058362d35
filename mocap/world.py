"""World frame from the feet: the ground plane under a static camera.

People stand on the ground, so over a clip the lowest foot of each frame traces
the floor. A plane fitted to those points (robustly: feet in the air during a
jump or a step are dropped) gives the up direction and the floor height; the
world is then Y-up with the floor at Y = 0, the camera's heading kept (a person
facing the camera faces world +Z).

Conventions: camera frame OpenCV (x right, y down, z forward), metres.
"""

from __future__ import annotations

import numpy as np

from .rotations import normalize


def fit_ground(feet: np.ndarray, iterations: int = 5, keep: float = 2.0) -> tuple[np.ndarray, float]:
    """The floor under the feet, for a camera with no roll (its x axis level; it may pitch
    and face any way). Roll is fixed because one person's feet, mostly moving towards or
    away from the camera, leave the floor's side-to-side tilt undetermined.

    Args:
        feet: (T, F, 3) foot joint positions (ankles, toes) per frame, camera frame; NaN rows
            (frames without the person) are ignored.
        keep: points further than ``keep`` robust standard deviations above the floor are
            dropped at each iteration (feet lifted); points below it are always kept.
    Returns:
        unit normal n (3,) pointing up (away from the floor, towards the heads) and d such that
        the floor is {x : n . x + d = 0}; a point's height above the floor is n . x + d.
    Raises:
        ValueError: fewer than 3 frames with feet.
    """
    ok = np.all(np.isfinite(feet), axis=(1, 2))
    feet = feet[ok]
    if len(feet) < 3:
        raise ValueError("need feet in at least 3 frames to find the ground")
    up = np.array([0.0, -1.0, 0.0])  # a level camera's guess: image up
    inliers = np.ones(len(feet), bool)
    for _ in range(iterations):
        lowest = feet[np.arange(len(feet)), np.argmin(feet @ up, axis=1)]  # (T, 3) lowest foot per frame
        # The floor seen from the side: camera y = a z + b (a line in the y-z plane).
        z, y = lowest[inliers, 2], lowest[inliers, 1]
        a, b = np.linalg.lstsq(np.c_[z, np.ones_like(z)], y, rcond=None)[0]
        up = np.array([0.0, -1.0, a]) / np.hypot(1.0, a)
        d = b / np.hypot(1.0, a)
        height = lowest @ up + d
        spread = 1.4826 * np.median(np.abs(height[inliers] - np.median(height[inliers]))) + 1e-4
        inliers = height < np.median(height[inliers]) + keep * spread
    return up, float(d)


def world_from_ground(normal: np.ndarray, d: float) -> np.ndarray:
    """(4, 4) world_from_camera: Y along ``normal`` (up), floor at Y = 0, and world -Z the
    camera's viewing direction projected on the floor (so the default for a level camera,
    ``diag(1, -1, -1)``, is what a level floor gives)."""
    up = normalize(np.asarray(normal, float))
    forward = np.array([0.0, 0.0, 1.0])  # the camera's optical axis
    back = -normalize(forward - (forward @ up) * up)  # world +Z points from the scene to the camera
    right = np.cross(up, back)
    R = np.stack([right, up, back])  # rows: world axes in camera coordinates
    m = np.eye(4)
    m[:3, :3] = R
    m[:3, 3] = [0.0, d, 0.0]  # world y = up . x + d: the height above the floor
    return m


ROOT_MOTIONS = ("performer", "in-place", "drop-in")


def drop_in_transform(root_rotation: np.ndarray, root_position: np.ndarray) -> np.ndarray:
    """(4, 4) rigid transform about the world's up axis (Y) that puts a root at
    ``root_position`` (3,) above the origin, facing +Z (its orientation ``root_rotation``
    (3, 3) turned about Y only; heights unchanged)."""
    forward = root_rotation @ [0.0, 0.0, 1.0]  # the body's facing direction (SMPL faces +Z)
    heading = np.arctan2(forward[0], forward[2])
    c, s = np.cos(-heading), np.sin(-heading)
    m = np.eye(4)
    m[:3, :3] = [[c, 0, s], [0, 1, 0], [-s, 0, c]]
    m[:3, 3] = -(m[:3, :3] @ root_position) * [1, 0, 1]
    return m


def apply_root_motion(motions: dict, world_from_camera: np.ndarray, mode: str) -> tuple[dict, np.ndarray]:
    """The ``--root-motion`` choice, for every person of a scene alike.

    - ``performer``: as captured (the root travels where the performer went, in metres).
    - ``drop-in``: the whole scene turned about Y and moved so the first person seen starts
      at the origin facing +Z, and the lowest foot (2nd percentile over the clip) is at
      height 0; relative placement is kept.
    - ``in-place``: ``drop-in``, then each person's horizontal travel is removed (they stay
      over their starting point; turns, crouches and jumps stay).

    Args:
        motions: track id -> :class:`mocap.motion.Motion` (world Y-up). world_from_camera: (4, 4).
    Returns:
        new motions (copies) and the world_from_camera that keeps the camera with them
        (for ``in-place`` it matches the first frame only).
    """
    from dataclasses import replace

    if mode not in ROOT_MOTIONS:
        raise ValueError(f"root motion must be one of {', '.join(ROOT_MOTIONS)}, got {mode!r}")
    if mode == "performer" or not motions:
        return motions, world_from_camera
    first = min(motions, key=lambda tid: (motions[tid].times[0], tid))
    lead = motions[first]
    seen = np.flatnonzero(lead.confidence > 0)
    f0 = int(seen[0]) if len(seen) else 0
    m = drop_in_transform(lead.rotations[f0, 0], lead.translation[f0])
    lowest = []
    for motion in motions.values():
        feet = [motion.skeleton.names.index(n) for n in ("left_ankle", "right_ankle", "left_foot", "right_foot")
                if n in motion.skeleton.names]
        if feet:
            lowest.append((motion.joint_positions(feet) @ m[:3, :3].T)[..., 1].min(axis=1))
    if lowest:
        m[1, 3] = -np.percentile(np.concatenate(lowest), 2)
    out = {}
    for tid, motion in motions.items():
        rotations = motion.rotations.copy()
        rotations[:, 0] = m[:3, :3] @ rotations[:, 0]
        translation = motion.translation @ m[:3, :3].T + m[:3, 3]
        if mode == "in-place":
            translation[:, [0, 2]] = translation[0, [0, 2]]
        out[tid] = replace(motion, rotations=rotations, translation=translation)
    return out, m @ world_from_camera
