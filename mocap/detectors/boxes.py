"""Box arithmetic shared by the detectors: IoU, non-maximum suppression, letterbox.

Boxes are ``xyxy`` float pixels, as in :class:`mocap.detect.Detections`.
"""

from __future__ import annotations

import cv2
import numpy as np


def _area(boxes: np.ndarray) -> np.ndarray:
    return np.clip(boxes[..., 2] - boxes[..., 0], 0, None) * np.clip(boxes[..., 3] - boxes[..., 1], 0, None)


def _overlaps(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Intersection areas and both areas of boxes ``a`` and ``b`` (..., 4), broadcast together."""
    w = np.minimum(a[..., 2], b[..., 2]) - np.maximum(a[..., 0], b[..., 0])
    h = np.minimum(a[..., 3], b[..., 3]) - np.maximum(a[..., 1], b[..., 1])
    return np.clip(w, 0, None) * np.clip(h, 0, None), _area(a), _area(b)


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    inter, area_a, area_b = _overlaps(a, b)
    union = area_a + area_b - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


def _covered(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    inter, area_a, _ = _overlaps(a, b)
    return inter / np.maximum(area_a, 1e-9)


def _boxes(x) -> np.ndarray:
    return np.asarray(x, np.float64).reshape(-1, 4)


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Intersection over union of every pair.

    Args:
        a: (N, 4) xyxy.  b: (M, 4) xyxy.
    Returns:
        (N, M) IoU in [0, 1]; degenerate (empty) boxes give 0.
    """
    return _iou(_boxes(a)[:, None], _boxes(b)[None])


def iou_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,) IoU of ``a[i]`` with ``b[i]``. a, b: (N, 4) xyxy."""
    return _iou(_boxes(a), _boxes(b))


def covered(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The fraction of each box of ``a`` that lies inside each box of ``b``.

    Args:
        a: (N, 4) xyxy.  b: (M, 4) xyxy.
    Returns:
        (N, M) in [0, 1]; 0 for degenerate boxes of ``a``.
    """
    return _covered(_boxes(a)[:, None], _boxes(b)[None])


def covered_pairs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N,) the fraction of ``a[i]`` inside ``b[i]``. a, b: (N, 4) xyxy."""
    return _covered(_boxes(a), _boxes(b))


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Greedy non-maximum suppression.

    Keeps the best-scoring box, drops every remaining box that overlaps it by
    more than ``iou_threshold``, repeats.

    Args:
        boxes: (N, 4) xyxy.  scores: (N,).
    Returns:
        (K,) int indices of the kept boxes, best score first.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    order = np.argsort(-np.asarray(scores, np.float64).reshape(-1), kind="stable")
    keep = []
    while order.size:
        best, order = order[0], order[1:]
        keep.append(best)
        if order.size:
            order = order[iou(boxes[best], boxes[order])[0] <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def suppress_contained(boxes: np.ndarray, inside: float = 0.7, shorter: float = 0.8) -> np.ndarray:
    """Drop boxes that are mostly inside a better, clearly taller box (body-part fragments).

    HOG fires on a big person's legs or torso as well as on the whole body;
    those fragments barely overlap the whole-body box by IoU, so NMS keeps them.

    Args:
        boxes: (N, 4) xyxy, best score first (as :func:`nms` returns them).
        inside: drop a box when at least this fraction of its area lies inside a kept,
            better-scored box ...
        shorter: ... that is taller by the factor ``1 / shorter`` or more.
    Returns:
        (K,) int indices of the kept boxes, in order.
    """
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    heights = boxes[:, 3] - boxes[:, 1]
    keep: list[int] = []
    for i, box in enumerate(boxes):
        if keep:
            if ((covered(box, boxes[keep])[0] >= inside) & (heights[i] < shorter * heights[keep])).any():
                continue
        keep.append(i)
    return np.asarray(keep, dtype=np.int64)


def letterbox(image: np.ndarray, size: tuple[int, int], pad_value: float = 114) -> tuple[np.ndarray, float]:
    """Resize keeping the aspect ratio into the top-left of a padded canvas (YOLOX convention).

    The image is scaled by ``r = min(H / h, W / w)`` to ``(int(h * r), int(w * r))``
    with bilinear interpolation and pasted at the top-left corner; the rest is
    ``pad_value``. A point ``p`` of the canvas maps back to ``p / r`` in the image.

    Args:
        image: (h, w, 3) uint8.
        size: (H, W) of the canvas.
    Returns:
        canvas (H, W, 3) float32 and the scale ``r``.
    """
    H, W = size
    h, w = image.shape[:2]
    r = min(H / h, W / w)
    nh, nw = int(h * r), int(w * r)
    canvas = np.full((H, W, image.shape[2]), pad_value, np.float32)
    canvas[:nh, :nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_LINEAR)
    return canvas, r
