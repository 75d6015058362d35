"""Person detection: images → boxes with scores (:class:`Detections`), behind one small
protocol (:class:`Detector`). Boxes are ``xyxy`` in pixels of the upright image (x right,
y down, the top-left image corner at (0, 0)).

``make_detector(name, weights)`` builds one by name; :data:`DETECTORS` is their
registry (a plug-in detector registers a :class:`DetectorInfo` there). ``blazepose`` is the
default (the mediapipe wheel's person detector, see :mod:`mocap.detectors.blazepose`), ``hog``
the two-pass path's (see :mod:`mocap.detectors.hog`); both offline, no model file. The others run
a user-supplied ONNX file through onnxruntime (``pip install 'mocap[onnx]'``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import numpy as np

from ..errors import EXIT_USAGE, InputError, MocapError
from ..registry import Check, Registry


@dataclass
class Detections:
    """People found in one image.

    Attributes:
        boxes: (N, 4) float ``x0, y0, x1, y1`` pixels.
        scores: (N,) confidence in [0, 1].
        keypoints: (N, K, 2) pixels, the detector's own points on each person (blazepose: hip
            centre, body radius point, shoulder centre, upper-body size point), or None.
    """

    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0))
    keypoints: np.ndarray | None = None

    def __post_init__(self):
        self.boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
        self.scores = np.asarray(self.scores, dtype=np.float64).reshape(-1)
        if len(self.boxes) != len(self.scores):
            raise ValueError("boxes and scores differ in length")
        if self.keypoints is not None:
            self.keypoints = np.asarray(self.keypoints, dtype=np.float64)
            if len(self.keypoints) != len(self.scores):
                raise ValueError("keypoints and scores differ in length")

    def __len__(self) -> int:
        return len(self.scores)

    def __getitem__(self, index) -> "Detections":
        return Detections(self.boxes[index], self.scores[index],
                          None if self.keypoints is None else self.keypoints[index])


class Detector(Protocol):
    """Finds people in images; stateless between calls."""

    name: str

    def __call__(self, image: np.ndarray) -> Detections:
        """Args: image (H, W, 3) uint8 RGB. Returns the people in it."""
        ...


@dataclass(frozen=True)
class DetectOptions:
    """The detect-and-track stage's options.

    Attributes:
        detector: a name in :data:`DETECTORS`, "auto" (:data:`DEFAULT`) or "none" (one person,
            whole frames, no tracking). weights: its model file, for those that need one.
        fps: detect at most this many times a second (boxes interpolated between); 0: every frame.
        min_seconds: people seen for less than this are dropped.
        body_cues: join tracklets by the estimator's facing and shape too, not only by position.
    """

    detector: str = "auto"
    weights: str | None = None
    fps: float = 10.0
    min_seconds: float = 1.0
    body_cues: bool = True


@dataclass(frozen=True)
class DetectorInfo:
    """A person detector, as declared in :data:`DETECTORS`.

    Attributes:
        summary: one line for help texts. needs_weights: takes a model file (``--detector-weights``).
        build: ``build(weights, threads) -> Detector`` (``threads``: the cores it may use, where
            it can choose). checks: its lines in ``mocap doctor``.
    """

    summary: str
    needs_weights: bool
    build: Callable[..., Detector]
    checks: Callable[[], list[Check]] = lambda: []


def _hog(weights=None, threads: int = 1) -> Detector:
    from .hog import HogDetector

    return HogDetector()


def _blazepose(weights=None, threads: int = 1) -> Detector:
    from .blazepose import BlazePoseDetector

    return BlazePoseDetector(threads=threads)


def _onnx(preset: str) -> Callable[..., Detector]:
    def build(weights, threads: int = 1) -> Detector:
        from .onnx_detector import OnnxDetector

        return OnnxDetector(weights, preset=preset)

    return build


# "auto": BlazePose's detector, whose search the one-pass path spreads over the frames
# (mocap.follow); HOG for the two-pass path (a whole search on every call), see make_detector.
DEFAULT = "blazepose"
TWO_PASS_DEFAULT = "hog"

DETECTORS: Registry[DetectorInfo] = Registry("detector", "--detector")
DETECTORS.register("hog", DetectorInfo("OpenCV HOG pedestrian detector (Daimler); offline, no weights", False, _hog))
DETECTORS.register("blazepose", DetectorInfo("BlazePose's person detector (mediapipe wheel), whole frame and "
                                             "tiles; offline, no weights", False, _blazepose))
DETECTORS.register("yolox", DetectorInfo("YOLOX ONNX export (Megvii or mmdeploy), person class 0", True,
                                         _onnx("yolox")))
DETECTORS.register("bytetrack", DetectorInfo("ByteTrack's YOLOX person detector, ONNX", True, _onnx("bytetrack")))
DETECTORS.register("rtmdet", DetectorInfo("RTMDet person detector, mmdeploy ONNX export", True, _onnx("rtmdet")))


def make_detector(name: str = "auto", weights: str | Path | None = None, follows: bool = True,
                  threads: int = 1) -> Detector:
    """Build the detector called ``name``.

    Args:
        name: a key of :data:`DETECTORS`, or ``"auto"``: :data:`DEFAULT` when the backend follows
            people itself (``follows``), else :data:`TWO_PASS_DEFAULT`.
        weights: model file for detectors that need one; must be None for the others.
        threads: the cores a detector that can choose may use.
    Raises:
        MocapError (usage) for an unknown name; InputError for missing, unexpected
        or unreadable weights.
    """
    if name not in DETECTORS and name != "auto":
        raise MocapError(f"unknown detector {name!r}: choose auto, {', '.join(DETECTORS)}", EXIT_USAGE)
    if name == "auto":
        name = DEFAULT if follows else TWO_PASS_DEFAULT
    info = DETECTORS.get(name)
    if info.needs_weights and weights is None:
        raise InputError(f"detector {name!r} needs a model file (.onnx)")
    if not info.needs_weights and weights is not None:
        raise InputError(f"detector {name!r} takes no model file (got {weights})")
    return info.build(weights, threads)
