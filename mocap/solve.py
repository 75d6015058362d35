"""The clean-up stage: one person's camera-frame estimates → a world-frame :class:`~mocap.motion.Motion`
(the root carried into the world, gaps filled, outliers replaced, resampled to a uniform rate,
smoothed, feet locked); and the floor under everyone's feet for ``--ground``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

from .contact import lock_feet
from .errors import NoPersonError
from .estimators import Estimates
from .motion import Camera, Motion
from .skeleton import Skeleton, joint_positions
from .smooth import fill_gaps, is_uniform, one_euro_motion, outlier_frames, resample_uniform, smooth_motion


@dataclass(frozen=True)
class CleanupOptions:
    """The clean-up stage's options.

    Attributes:
        smoothing: "off", "light", "standard" or "strong" (:data:`mocap.smooth.SMOOTHING_SECONDS`).
        causal: the One Euro filter (each frame from earlier ones) instead of the zero-phase Gaussian.
        foot_lock: pin planted feet (:func:`mocap.contact.lock_feet`).
        ground: the world's up and floor from the feet (:func:`ground_from_estimates`), not a level camera.
        root_motion: "performer", "in-place" or "drop-in" (:func:`mocap.world.apply_root_motion`).
    """

    smoothing: str = "standard"
    causal: bool = False
    foot_lock: bool = True
    ground: bool = False
    root_motion: str = "performer"


def solve_motion(est: Estimates, camera: Camera, skeleton: Skeleton, fps: float,
                 smoothing_seconds: float = 0.0, foot_lock: bool = False, causal: bool = False) -> Motion | None:
    """Camera-frame estimates → world-frame :class:`Motion` at a uniform ``fps``.

    The root rotation and position are carried from the OpenCV camera frame into
    the Y-up world by ``camera.world_from_camera``; frames where the person was
    not seen are filled by slerp between seen ones (confidence stays 0 there);
    then the motion is smoothed (zero-phase Gaussian of ``smoothing_seconds``, see
    :func:`mocap.smooth.smooth_motion`; with ``causal``, the One Euro filter of the same
    strength, :func:`mocap.smooth.one_euro_motion`); then, with ``foot_lock``, planted feet are pinned
    (:func:`mocap.contact.lock_feet`). Returns None when the person was never seen.
    """
    valid = (est.confidence > 0) & np.all(np.isfinite(est.root_camera), axis=1)
    if not valid.any():
        return None
    R_wc = camera.world_from_camera[:3, :3]
    t_wc = camera.world_from_camera[:3, 3]
    # One clip-sized working copy, changed in place by every step below (memory flat with length).
    rotations = est.rotations.astype(np.float64)
    rotations[:, 0] = R_wc @ rotations[:, 0]
    translation = est.root_camera @ R_wc.T + t_wc
    trusted = valid.copy()
    if smoothing_seconds > 0:  # with smoothing on, flipped or jumping frames are replaced (still "seen")
        seen = np.flatnonzero(valid)
        outliers = outlier_frames(rotations[seen, :1], translation[seen])  # the root's orientation
        if not outliers.all():
            trusted[seen[outliers]] = False
    rotations, translation = fill_gaps(est.times, rotations, translation, trusted, overwrite=True)
    times, confidence = est.times, np.where(valid, est.confidence, 0.0)
    if not is_uniform(times, fps):
        times, rotations, translation, confidence = resample_uniform(times, rotations, translation, confidence, fps)
    if causal:
        rotations, translation = one_euro_motion(rotations, translation, fps, smoothing_seconds, overwrite=True)
    else:
        rotations, translation = smooth_motion(rotations, translation, fps, smoothing_seconds, t_wc, overwrite=True)
    contacts = None
    if foot_lock:
        rotations, contacts = lock_feet(rotations, translation, skeleton, fps, overwrite=True)
    return Motion(fps=fps, times=times, rotations=rotations, translation=translation,
                  skeleton=skeleton, betas=est.betas, confidence=confidence, contacts=contacts)


FOOT_JOINTS = ("left_ankle", "right_ankle", "left_foot", "right_foot")


def ground_from_estimates(people: Iterable[tuple[Estimates, Skeleton]]) -> np.ndarray:
    """(4, 4) world_from_camera with the floor under everyone's feet at Y = 0 (see :mod:`mocap.world`).

    Args:
        people: each person's camera-frame estimates and the skeleton they are on.
    """
    from .world import fit_ground, world_from_ground

    feet = []
    for est, skeleton in people:
        idx = [skeleton.names.index(n) for n in FOOT_JOINTS]
        seen = (est.confidence > 0) & np.all(np.isfinite(est.root_camera), axis=1)
        if seen.any():
            feet.append(joint_positions(est.rotations, est.root_camera, skeleton, idx)[seen])
    try:
        return world_from_ground(*fit_ground(np.concatenate(feet) if feet else np.zeros((0, 4, 3))))
    except ValueError as exc:
        raise NoPersonError(f"--ground: {exc}") from None
