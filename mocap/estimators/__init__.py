"""Body estimators: images of one person → SMPL-24 joint rotations + root in the camera frame.

Every backend implements :class:`BodyEstimator` and returns :class:`Estimates`,
so the stages after it do not care which network produced them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

import numpy as np

from ..errors import MocapError

BACKENDS = ("mediapipe", "hmr2")
# Backends with no state between frames: the pipeline batches everyone's crops together
# (their estimators have ``estimate_people``).
BATCHED = ("hmr2",)


@dataclass(frozen=True)
class CropSpec:
    """How a backend wants a person cut out of a frame.

    Attributes:
        aspect: crop width / height. scale: margin factor around the box.
        blank_neighbours: blank what lies outside the person's box (a landmark tracker
            may lock onto the neighbour; a network trained on uncut crops must not be).
        reads: the backend makes its own crop from the float box: box (4,) xyxy -> (4,) int
            x0, y0, x1, y1 frame pixels it reads. That part of the frame is cut (clipped to the
            frame, never padded: the backend sees the frame's real edges) and the box handed on.
            None: the window of ``aspect`` and ``scale`` is cut, padded with black.
    """

    aspect: float = 1.0
    scale: float = 1.3
    blank_neighbours: bool = True
    reads: Callable[[np.ndarray], np.ndarray] | None = None

    def window(self, box: np.ndarray, frame_shape: tuple) -> np.ndarray:
        """(4,) int x0, y0, width, height of the part of a frame (H, W, ...) to cut for a box."""
        from ..crop import crop_window

        if self.reads is None:
            return crop_window(box, aspect=self.aspect, scale=self.scale)
        x0, y0, x1, y1 = self.reads(box)
        x0, y0 = min(max(x0, 0), frame_shape[1]), min(max(y0, 0), frame_shape[0])
        x1, y1 = max(min(x1, frame_shape[1]), x0), max(min(y1, frame_shape[0]), y0)
        return np.array([x0, y0, x1 - x0, y1 - y0])


def _hmr2_reads(box: np.ndarray) -> np.ndarray:
    from .hmr2.preprocess import crop_reach

    return crop_reach(box)


# MediaPipe finds the person in a square with room around; HMR 2.0 warps its crop from the
# float box on the frame itself, exactly as 4D-Humans does (box grown to 192:256, squared).
CROPS = {"mediapipe": CropSpec(), "hmr2": CropSpec(blank_neighbours=False, reads=_hmr2_reads)}


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
        """Join chunks in time order (a single chunk is returned as it is)."""
        if not parts:
            raise ValueError("no estimates to join")
        if len(parts) == 1:
            return parts[0]
        cat = lambda name: np.concatenate([getattr(p, name) for p in parts])  # noqa: E731
        return Estimates(cat("times"), cat("rotations"), cat("root_camera"), cat("confidence"),
                         cat("keypoints"), parts[-1].betas)


    def compact(self) -> "Estimates":
        """What a long clip keeps between estimation and solving, a third of the size:
        rotations in float32 (finer than any estimate) and no keypoints ((T, 0, 3): they
        serve only to check each chunk against the person's box, before this)."""
        return Estimates(self.times, self.rotations.astype(np.float32), self.root_camera, self.confidence,
                         np.zeros((self.num_frames, 0, 3), np.float32), self.betas)


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


def make_estimator(backend: str, skeleton, static: bool = False, **settings) -> BodyEstimator:
    """Create the estimator for a backend name (see :data:`BACKENDS`).

    ``static``: the images of successive calls are unrelated (different people), so
    nothing is tracked or smoothed from one image to the next. ``settings``: the
    backend's own (hmr2: checkpoint, device, batch_size, precision; both: off_centre).
    """
    if backend == "mediapipe":
        from .mediapipe_pose import MediaPipePose

        return MediaPipePose(skeleton, static=static, off_centre=settings.get("off_centre", True))
    if backend == "hmr2":
        try:
            from .hmr2.estimator import HMR2Estimator
        except ImportError as exc:
            raise MocapError(f"--backend hmr2 needs PyTorch and smplx: pip install -e \".[hmr2]\" ({exc})",
                             exit_code=2) from None
        return HMR2Estimator(skeleton, **settings)
    raise MocapError(f"unknown backend {backend!r} (available: {', '.join(BACKENDS)})", exit_code=2)
