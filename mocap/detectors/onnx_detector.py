"""Learned person detectors exported to ONNX (YOLOX, ByteTrack's YOLOX, RTMDet), run by onnxruntime.

For users who have the weights (``pip install 'mocap[onnx]'``). Nothing is
downloaded: the user passes the ``.onnx`` file.

Input (all three): one NCHW float32 tensor ``(1, 3, H, W)``; ``H, W`` are read
from the model (a model with dynamic spatial axes runs at ``input_size``).
The image is letterboxed as YOLOX does: scaled by ``r = min(H/h, W/w)``,
pasted top-left, the rest filled with 114 (before normalisation); boxes are
divided by ``r`` to go back to the image. Per-family pixel conventions
(``PRESETS``; facts from the projects' own export/demo code):

* ``yolox`` — Megvii YOLOX ``tools/export_onnx.py`` (input ``images``,
  output ``output``) and mmdet YOLOX through mmdeploy: BGR, raw 0-255.
* ``bytetrack`` — ByteTrack's YOLOX person models (``bytetrack_*.onnx``,
  e.g. 608x1088): RGB, ``/255``, ImageNet mean/std.
* ``rtmdet`` — mmdet RTMDet through mmdeploy (e.g. RTMPose's
  ``rtmdet-nano`` person detector): BGR, mean (103.53, 116.28, 123.675),
  std (57.375, 57.12, 58.395).

Outputs, recognised by shape:

* YOLOX head ``(1, N, 5 + C)``: per prediction ``cx, cy, w, h, obj, cls_1..C``
  with obj/cls already sigmoid-ed (YOLOX's head does this in eval mode).
  YOLOX exports skip the box decoding by default (``decode_in_inference``
  off), so ``cx, cy`` are offsets in grid cells and ``w, h`` log sizes:
  ``cx = (x + gx) * s``, ``w = exp(w) * s`` over the grids of strides 8, 16, 32
  (and 64 for P6 models), row-major, coarser strides after finer.
  Raw or decoded is detected from the numbers (raw offsets stay far below
  the largest stride; decoded centres span the canvas) unless ``decoded``
  is given. Score = obj * cls[person_class]; then NMS.
* End-to-end ``dets (1, N, 5)`` (``x0, y0, x1, y1, score`` on the canvas)
  plus optional ``labels (1, N)``: mmdeploy exports, NMS already done;
  only ``labels == person_class`` is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import Detections
from ..errors import EXIT_USAGE, InputError, MocapError
from .boxes import letterbox, nms


@dataclass(frozen=True)
class Preset:
    """Pixel convention of a model family: ``x = (pixel - mean) / std`` in ``channels`` order."""

    channels: str  # "bgr" or "rgb"
    mean: tuple[float, float, float] = (0.0, 0.0, 0.0)
    std: tuple[float, float, float] = (1.0, 1.0, 1.0)


PRESETS = {
    "yolox": Preset("bgr"),
    # ByteTrack: RGB / 255, then ImageNet mean/std; written here on the 0-255 scale.
    "bytetrack": Preset("rgb", (123.675, 116.28, 103.53), (58.395, 57.12, 57.375)),
    "rtmdet": Preset("bgr", (103.53, 116.28, 123.675), (57.375, 57.12, 58.395)),
}

PAD_VALUE = 114  # YOLOX/mmdet letterbox fill, in pixel units before normalisation
_STRIDES = ((8, 16, 32), (8, 16, 32, 64))  # YOLOX P5 and P6 heads


def grid(size: tuple[int, int], strides: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """YOLOX anchor points of a ``size = (H, W)`` canvas.

    Returns:
        cells (N, 2) grid ``x, y`` of every prediction and their strides (N, 1),
        finer strides first, each grid row-major (x fastest).
    """
    cells, step = [], []
    for s in strides:
        gy, gx = np.meshgrid(np.arange(size[0] // s), np.arange(size[1] // s), indexing="ij")
        cells.append(np.stack([gx.ravel(), gy.ravel()], axis=1))
        step.append(np.full((gx.size, 1), s))
    return np.concatenate(cells).astype(np.float64), np.concatenate(step).astype(np.float64)


def decode_yolox(raw: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Grid/stride decoding of a raw YOLOX head.

    Args:
        raw: (N, 5 + C) ``x, y, log w, log h, obj, cls...`` in cell units.
        size: (H, W) of the model input.
    Returns:
        (N, 5 + C) with ``cx, cy, w, h`` in input pixels, the rest unchanged.
    Raises:
        ValueError when N fits no YOLOX grid of that size.
    """
    for strides in _STRIDES:
        cells, step = grid(size, strides)
        if len(cells) == len(raw):
            out = np.array(raw, np.float64)
            out[:, :2] = (out[:, :2] + cells) * step
            out[:, 2:4] = np.exp(out[:, 2:4]) * step
            return out
    raise ValueError(f"{len(raw)} predictions fit no YOLOX grid of a {size[0]}x{size[1]} input "
                     f"(strides 8/16/32 give {len(grid(size, _STRIDES[0])[0])})")


class OnnxDetector:
    """A YOLOX-style or RTMDet person detector in an ONNX file.

    Args:
        weights: path of the ``.onnx`` file.
        preset: pixel convention, a key of :data:`PRESETS`.
        person_class: index of "person" among the model's classes (0 in COCO
            and in one-class human models).
        min_score: lowest score returned.
        nms_iou: NMS overlap for YOLOX heads (end-to-end models bring their own NMS).
        decoded: whether a YOLOX head's boxes are already decoded; None: detect.
        input_size: (H, W) for models whose spatial axes are dynamic.
    """

    def __init__(self, weights: str | Path, preset: str = "yolox", person_class: int = 0,
                 min_score: float = 0.1, nms_iou: float = 0.45, decoded: bool | None = None,
                 input_size: tuple[int, int] = (640, 640)):
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}: one of {', '.join(PRESETS)}")
        self.name = preset
        self.path = Path(weights)
        self.preset = PRESETS[preset]
        self.person_class = person_class
        self.min_score = min_score
        self.nms_iou = nms_iou
        self.decoded = decoded
        self._session = _open(self.path)
        inputs = self._session.get_inputs()
        shape = list(inputs[0].shape) if len(inputs) == 1 else []
        if len(shape) != 4 or shape[1] != 3:
            raise InputError(f"{self.path}: expected one image input (1, 3, H, W), got "
                             f"{[tuple(i.shape) for i in inputs]}")
        self._input = inputs[0].name
        # fp16 exports take half-precision input; everything else float32.
        self._dtype = np.float16 if inputs[0].type == "tensor(float16)" else np.float32
        h, w = shape[2:]
        self.input_size = (h, w) if isinstance(h, int) and isinstance(w, int) else tuple(input_size)
        self._outputs = [o.name for o in self._session.get_outputs()]
        _check_outputs(self.path, [o.shape for o in self._session.get_outputs()])

    def preprocess(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        """Args: image (h, w, 3) uint8 RGB. Returns the (1, 3, H, W) float32 input and the scale r."""
        pixels = image[..., ::-1] if self.preset.channels == "bgr" else image
        canvas, r = letterbox(np.ascontiguousarray(pixels), self.input_size, PAD_VALUE)
        canvas = (canvas - np.float32(self.preset.mean)) / np.float32(self.preset.std)
        return np.ascontiguousarray(canvas.transpose(2, 0, 1)[None], dtype=np.float32), r

    def __call__(self, image: np.ndarray) -> Detections:
        """Args: image (H, W, 3) uint8 RGB. Returns the people in it, best first."""
        blob, r = self.preprocess(image)
        try:
            outputs = self._session.run(self._outputs, {self._input: blob.astype(self._dtype, copy=False)})
        except Exception as e:  # the file loaded but its graph does not run on this input
            reason = " ".join(str(e).split())[:200]
            raise InputError(f"{self.path}: the model failed on a {blob.shape} input ({reason})") from None
        boxes, scores = self.postprocess(outputs)
        h, w = image.shape[:2]
        boxes = boxes / r
        boxes[:, 0::2] = boxes[:, 0::2].clip(0, w)
        boxes[:, 1::2] = boxes[:, 1::2].clip(0, h)
        keep = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        return Detections(boxes[keep], scores[keep])

    def postprocess(self, outputs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Model outputs → person boxes (K, 4) xyxy on the input canvas and scores (K,), best first."""
        main = np.asarray(outputs[0])
        if main.ndim != 3 or main.shape[0] != 1 or main.shape[2] < 5:
            raise InputError(f"{self.path}: unexpected output shape {main.shape}")
        if main.shape[2] == 5:  # end-to-end: x0, y0, x1, y1, score (+ labels)
            boxes, scores = main[0, :, :4].astype(np.float64), main[0, :, 4].astype(np.float64)
            if len(outputs) > 1:
                labels = np.asarray(outputs[1]).reshape(-1)
                if len(labels) != len(scores):
                    raise InputError(f"{self.path}: {len(labels)} labels for {len(scores)} boxes")
                person = labels == self.person_class
                boxes, scores = boxes[person], scores[person]
            keep = np.flatnonzero(scores >= self.min_score)
            keep = keep[np.argsort(-scores[keep], kind="stable")]
            return boxes[keep], scores[keep]
        preds = main[0].astype(np.float64)
        n_classes = preds.shape[1] - 5
        if not 0 <= self.person_class < n_classes:
            raise InputError(f"{self.path}: person class {self.person_class} is not among its {n_classes} classes")
        decoded = self.decoded
        if decoded is None:
            # Raw centre offsets are in grid cells near their anchor (|x| of a few cells);
            # decoded centres are canvas pixels that reach far beyond the largest stride.
            decoded = bool(len(preds)) and float(np.abs(preds[:, :2]).max()) > 32
        if not decoded:
            try:
                preds = decode_yolox(preds, self.input_size)
            except ValueError as e:
                raise InputError(f"{self.path}: {e}") from None
        scores = preds[:, 4] * preds[:, 5 + self.person_class]
        cand = np.flatnonzero(scores >= self.min_score)
        cx, cy, bw, bh = preds[cand, :4].T
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
        keep = nms(boxes, scores[cand], self.nms_iou)
        return boxes[keep], scores[cand][keep]


def _open(path: Path):
    """An onnxruntime session for ``path``, or a one-line error."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise MocapError("ONNX detectors need onnxruntime: pip install 'mocap[onnx]'", EXIT_USAGE) from None
    if not path.is_file():
        raise InputError(f"detector weights not found: {path}")
    providers = [p for p in ("CUDAExecutionProvider", "CPUExecutionProvider") if p in ort.get_available_providers()]
    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: no warnings on the user's terminal
    try:
        return ort.InferenceSession(str(path), sess_options=options, providers=providers)
    except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph/... types
        reason = " ".join(str(e).split())[:200]
        raise InputError(f"{path}: not a readable ONNX model ({reason})") from None


def _check_outputs(path: Path, shapes: list[list]) -> None:
    """Reject, at load time, output signatures that are neither a YOLOX head nor end-to-end dets."""
    if not shapes:
        raise InputError(f"{path}: the model has no outputs")
    first = shapes[0]
    last = first[-1] if len(first) == 3 else None
    if len(first) != 3 or (isinstance(last, int) and last < 5):
        raise InputError(f"{path}: output {tuple(first)} is neither a YOLOX head (1, N, 5+C) "
                         f"nor end-to-end detections (1, N, 5)")
