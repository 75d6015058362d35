"""Person detectors behind the :class:`mocap.detect.Detector` protocol.

``make_detector(name, weights)`` builds one by name; :data:`DETECTORS` lists
them. ``hog`` is the offline default (no model file, no download; chosen by
measurement, see :mod:`mocap.detectors.hog`); the others run a user-supplied
ONNX file through onnxruntime (``pip install 'mocap[onnx]'``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ..detect import Detector
from ..errors import EXIT_USAGE, InputError, MocapError


@dataclass(frozen=True)
class DetectorInfo:
    summary: str
    needs_weights: bool
    build: Callable[..., Detector]


def _hog(weights=None) -> Detector:
    from .hog import HogDetector

    return HogDetector()


def _onnx(preset: str) -> Callable[..., Detector]:
    def build(weights) -> Detector:
        from .onnx_detector import OnnxDetector

        return OnnxDetector(weights, preset=preset)

    return build


DEFAULT = "hog"

DETECTORS: dict[str, DetectorInfo] = {
    "hog": DetectorInfo("OpenCV HOG pedestrian detector (Daimler); offline, no weights", False, _hog),
    "yolox": DetectorInfo("YOLOX ONNX export (Megvii or mmdeploy), person class 0", True, _onnx("yolox")),
    "bytetrack": DetectorInfo("ByteTrack's YOLOX person detector, ONNX", True, _onnx("bytetrack")),
    "rtmdet": DetectorInfo("RTMDet person detector, mmdeploy ONNX export", True, _onnx("rtmdet")),
}


def make_detector(name: str = DEFAULT, weights: str | Path | None = None) -> Detector:
    """Build the detector called ``name``.

    Args:
        name: a key of :data:`DETECTORS`, or ``"auto"`` for :data:`DEFAULT`.
        weights: model file for detectors that need one; must be None for the others.
    Raises:
        MocapError (usage) for an unknown name; InputError for missing, unexpected
        or unreadable weights.
    """
    info = DETECTORS.get(DEFAULT if name == "auto" else name)
    if info is None:
        raise MocapError(f"unknown detector {name!r}: choose auto, {', '.join(DETECTORS)}", EXIT_USAGE)
    if info.needs_weights and weights is None:
        raise InputError(f"detector {name!r} needs a model file (.onnx)")
    if not info.needs_weights and weights is not None:
        raise InputError(f"detector {name!r} takes no model file (got {weights})")
    return info.build(weights)
