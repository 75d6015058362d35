"""Body estimators: images of one person → SMPL-24 joint rotations + root in the camera frame.

Every backend implements :class:`BodyEstimator` and returns :class:`Estimates`,
so the stages after it do not care which network produced them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from ..errors import MocapError

BACKENDS = ("mediapipe",)

# Crop width / height each backend wants around a person box (MediaPipe finds the
# person in a square; HMR 2.0 will take 192:256).
CROP_ASPECT = {"mediapipe": 1.0}


@dataclass
class Estimates:
    """Raw per-frame body estimates for one person.

    Attributes:
        times: (T,) seconds from video start.
        rotations: (T, J, 3, 3) local joint rotations; the root's maps the body's rest
            frame (Y-up, facing +Z) into the OpenCV camera frame, so an upright person
            facing the camera has root rotation diag(1, -1, -1).
        root_camera: (T, 3) root joint position in the camera frame, metres; NaN where unseen.
        confidence: (T,) in [0, 1]; 0 where the person was not found.
        keypoints: (T, K, 3) image keypoints: pixel x, pixel y, visibility (backend's layout).
        betas: (10,) body shape (zeros when the backend does not estimate it).
    """

    times: np.ndarray
    rotations: np.ndarray
    root_camera: np.ndarray
    confidence: np.ndarray
    keypoints: np.ndarray
    betas: np.ndarray

    @property
    def num_frames(self) -> int:
        return len(self.times)

    @staticmethod
    def concat(parts: Sequence["Estimates"]) -> "Estimates":
        """Join chunks in time order."""
        if not parts:
            raise ValueError("no estimates to join")
        cat = lambda name: np.concatenate([getattr(p, name) for p in parts])  # noqa: E731
        return Estimates(cat("times"), cat("rotations"), cat("root_camera"), cat("confidence"),
                         cat("keypoints"), parts[-1].betas)


class BodyEstimator(Protocol):
    """Estimates one person's body from consecutive frames.

    Implementations may keep state between calls (tracking); call ``close`` at the end.
    """

    name: str

    def __call__(self, images: Sequence[np.ndarray], times: np.ndarray, K: np.ndarray,
                 offsets: np.ndarray | None = None) -> Estimates:
        """Estimate a chunk of frames.

        Args:
            images: N images (h, w, 3) uint8 RGB of one person, consecutive frames of one
                video: whole frames, or crops around the person.
            times: (N,) their times in seconds.
            K: (3, 3) camera intrinsics of the whole frames.
            offsets: (N, 2) pixel position of each crop's top-left corner in its frame
                (None: the images are whole frames).
        """
        ...

    def close(self) -> None: ...


def make_estimator(backend: str, skeleton, static: bool = False) -> BodyEstimator:
    """Create the estimator for a backend name (see :data:`BACKENDS`).

    ``static``: the images of successive calls are unrelated (different people), so
    nothing is tracked or smoothed from one image to the next.
    """
    if backend == "mediapipe":
        from .mediapipe_pose import MediaPipePose

        return MediaPipePose(skeleton, static=static)
    raise MocapError(f"unknown backend {backend!r} (available: {', '.join(BACKENDS)})", exit_code=2)
