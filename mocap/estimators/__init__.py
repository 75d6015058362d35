"""Body estimators: images of one person → SMPL-24 joint rotations + root in the camera frame.

Every backend implements :class:`BodyEstimator` and returns :class:`Estimates`,
so the stages after it do not care which network produced them. Each backend
declares itself in :data:`BACKENDS` (a :class:`Backend`: how to build it, how it
wants its crops, whether it batches, its ``mocap doctor`` lines), in the module
that implements it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence, TypeVar

import numpy as np

from ..registry import Check, Registry


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
        lengths: (T, len(:data:`mocap.proportions.BONES`)) the body's bone lengths seen on each
            frame, metres, NaN where not seen; None when the backend does not measure them.
        joints_2d: (T, len(:data:`mocap.skeleton.LIMB_JOINTS`), 3) where the skeleton's limb joints
            are seen in the image: pixel x, pixel y and a weight in [0, 1], from a 2D detection
            independent of the 3D pose (what :mod:`mocap.fit` fits to); None when there is none.
    """

    times: np.ndarray
    rotations: np.ndarray
    root_camera: np.ndarray
    confidence: np.ndarray
    keypoints: np.ndarray
    betas: np.ndarray
    lengths: np.ndarray | None = None
    joints_2d: np.ndarray | None = None

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
        both = lambda name: cat(name) if all(getattr(p, name) is not None for p in parts) else None  # noqa: E731
        return Estimates(cat("times"), cat("rotations"), cat("root_camera"), cat("confidence"),
                         cat("keypoints"), parts[-1].betas, both("lengths"), both("joints_2d"))


    def compact(self) -> "Estimates":
        """What a long clip keeps between estimation and solving, a third of the size:
        rotations in float32 (finer than any estimate) and no keypoints ((T, 0, 3): they
        serve only to check each chunk against the person's box, before this)."""
        return Estimates(self.times, self.rotations.astype(np.float32), self.root_camera, self.confidence,
                         np.zeros((self.num_frames, 0, 3), np.float32), self.betas, self.lengths, self.joints_2d)


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


T = TypeVar("T")


class ModelCache:
    """Loaded networks, each loaded once and shared by every estimator that uses it (every
    person, every parallel segment). The pipeline owns one per capture and passes it on;
    a farm worker may keep one for all its takes."""

    def __init__(self):
        self._items: dict = {}
        self._lock = threading.RLock()  # re-entrant: a load may get another item (a body model its network)

    def get(self, key, load: Callable[[], T]) -> T:
        """The item under ``key`` (hashable), made by ``load()`` the first time."""
        with self._lock:
            if key not in self._items:
                self._items[key] = load()
            return self._items[key]


@dataclass(frozen=True)
class EstimateOptions:
    """The estimate stage's options.

    Attributes:
        backend: a name in :data:`BACKENDS`.
        off_centre: correct crop estimates for the person's place in the image (off: for evaluation).
        checkpoint, device, batch_size, precision: hmr2's network file (None: the usual places),
            device ("auto", "cpu", "cuda:1"), crops per network call, "auto"/"fp32"/"bf16"/"fp16".
    """

    backend: str = "mediapipe"
    off_centre: bool = True
    checkpoint: str | None = None
    device: str = "auto"
    batch_size: int = 32
    precision: str = "auto"


@dataclass(frozen=True)
class Backend:
    """A body estimator backend, as it declares itself in :data:`BACKENDS`.

    Attributes:
        summary: one line for help texts.
        build: ``build(skeleton, options: EstimateOptions, static: bool, models: ModelCache)
            -> BodyEstimator``; ``static``: the images of successive calls are unrelated (different
            people); ``models``: where loaded networks are kept.
        crop: how it wants a person cut out of a frame.
        batched: no state between frames: everyone's crops share network batches (its
            estimators have ``estimate_people``).
        prepare: ``prepare(options, models)``, run before the long work: loads what it needs
            into ``models``, so a missing or bad model file fails first (None: nothing to load).
        body_model: ``body_model(options, models)``: the SMPL body model it carries (hmr2's
            checkpoint), or None.
        checks: ``checks() -> list[Check]``: its lines in ``mocap doctor``.
        gpu: wants a GPU (a farm gives its takes one).
        label: its name in menus (the Blender add-on); "" for its registry name.
        follows: its landmark network places its own crops from frame to frame, so people are
            detected, followed and estimated in one pass (:mod:`mocap.follow`) when tracking is on.
    """

    summary: str
    build: Callable[..., "BodyEstimator"]
    crop: CropSpec = CropSpec()
    batched: bool = False
    prepare: Callable[[EstimateOptions, ModelCache], object] | None = None
    body_model: Callable[[EstimateOptions, ModelCache], object] | None = None
    checks: Callable[[], list[Check]] = lambda: []
    gpu: bool = False
    label: str = ""
    follows: bool = False


def _builtin() -> None:
    # Each module registers its backend; their order is the order users see (the default first).
    from . import mediapipe_pose  # noqa: F401
    from . import hmr2  # noqa: F401
    from . import blazepose  # noqa: F401


BACKENDS: Registry[Backend] = Registry("backend", "--backend", load=_builtin,
                                       order=("mediapipe", "hmr2", "mediapipe-graph"))
DEFAULT = "mediapipe"


def __getattr__(name: str):
    # Read from the registry when asked, so a backend registered later is included.
    if name == "CROPS":
        return {n: b.crop for n, b in BACKENDS.items()}
    if name == "BATCHED":
        return tuple(n for n, b in BACKENDS.items() if b.batched)
    raise AttributeError(name)


def make_estimator(backend: str, skeleton, static: bool = False, models: ModelCache | None = None,
                   **settings) -> BodyEstimator:
    """Create the estimator of a backend in :data:`BACKENDS`.

    ``static``: the images of successive calls are unrelated (different people), so
    nothing is tracked or smoothed from one image to the next. ``models``: the loaded
    networks to share (None: a cache of its own). ``settings``: fields of
    :class:`EstimateOptions` (hmr2: checkpoint, device, batch_size, precision; both: off_centre).
    """
    return BACKENDS.get(backend).build(skeleton, EstimateOptions(backend=backend, **settings), static,
                                       models or ModelCache())
