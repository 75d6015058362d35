"""BlazePose's person detector (the mediapipe wheel's ``pose_detection.tflite``), run directly
with ``ai-edge-litert``: deterministic, every person in the frame.

The network (224x224 RGB in [-1, 1], letterboxed) scores 2254 SSD anchors and regresses, per
anchor, a face box and 4 alignment keypoints: the hip centre, a point whose distance from it
is the radius of the circle around the whole body, the shoulder centre and an upper-body
size point. Decoding follows MediaPipe's own graph: anchors of 5 layers (strides 8, 16, 32,
32, 32; two anchors a cell, fixed size), offsets scaled by 224, sigmoid scores kept from 0.5,
weighted non-maximum suppression at IoU 0.3.

It is trained on people who fill much of the picture: the body circle must be roughly 15 %
or more of the input. So the frame is searched whole and in overlapping square tiles small
enough that a person ``min_height`` pixels tall fills that much of a tile; the detections of
all passes are merged by weighted NMS in the frame.

A person's box comes from the hip centre ``c`` and body radius ``r``, along the body's axis
(hip centre → size point, up for a standing person): ``ALONG`` r either side along it,
``ACROSS`` r either side across it, made axis-aligned. The two factors were fitted on the
first half of ``samples/crowd.mp4`` against its true boxes; ``tests/test_blazepose.py`` scores
the second half.
"""

from __future__ import annotations

import functools
import os
import threading

import numpy as np

from . import Detections

INPUT = 224
ALONG, ACROSS = 0.95, 0.45  # box half-extents in body radii, along and across the body axis
MIN_SCORE = 0.5
NMS_IOU = 0.3
MIN_TILE_FRACTION = 0.55  # the smallest body circle (diameter) the network finds well, as a fraction of its input


@functools.lru_cache(maxsize=1)
def ssd_anchors() -> np.ndarray:
    """(2254, 2) anchor centres (x, y) in [0, 1] of the input, in the network's output order."""
    out = []
    for stride, per_cell in ((8, 2), (16, 2), (32, 6)):  # the three stride-32 layers share one grid
        cells = int(np.ceil(INPUT / stride))
        ys, xs = np.mgrid[0:cells, 0:cells]
        centres = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], -1).reshape(-1, 1, 2)
        out.append(np.repeat(centres, per_cell, axis=1).reshape(-1, 2))
    return np.concatenate(out)


def decode(raw_boxes: np.ndarray, raw_scores: np.ndarray, min_score: float = MIN_SCORE
           ) -> tuple[np.ndarray, np.ndarray]:
    """The anchors scoring at least ``min_score``.

    Args:
        raw_boxes: (2254, 12) the network's regressions. raw_scores: (2254,) its logits.
    Returns:
        scores (K,), keypoints (K, 4, 2) in [0, 1] of the input (hip centre, body size point,
        shoulder centre, upper-body size point).
    """
    scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores.astype(np.float64), -100.0, 100.0)))
    keep = scores >= min_score
    anchors = ssd_anchors()[keep]
    keypoints = raw_boxes[keep, 4:12].astype(np.float64).reshape(-1, 4, 2) / INPUT + anchors[:, None]
    return scores[keep], keypoints


def person_boxes(keypoints: np.ndarray) -> np.ndarray:
    """(K, 4) xyxy person boxes from keypoints (K, 4, 2) (pixels; see the module notes)."""
    centre, size_point = keypoints[:, 0], keypoints[:, 1]
    axis = size_point - centre
    radius = np.linalg.norm(axis, axis=1)
    unit = axis / np.maximum(radius, 1e-9)[:, None]
    half = (np.abs(unit) * ALONG + np.abs(unit[:, ::-1]) * ACROSS) * radius[:, None]  # (K, 2) x, y
    return np.concatenate([centre - half, centre + half], axis=1)


def weighted_nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float = NMS_IOU
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """MediaPipe's weighted non-maximum suppression: the best box and every box overlapping it by
    more than ``iou_threshold`` become one box, their score-weighted mean, with the best score.

    Args:
        boxes: (N, 4) xyxy. scores: (N,).
    Returns:
        boxes (K, 4), scores (K,), best first, and (K,) the index of each one's best box.
    """
    from .boxes import iou

    order = np.argsort(-scores, kind="stable")
    boxes, scores = boxes[order], scores[order]
    left = np.ones(len(scores), bool)
    out_boxes, out_scores, best = [], [], []
    for i in range(len(scores)):
        if not left[i]:
            continue
        group = left & (iou(boxes[i:i + 1], boxes)[0] > iou_threshold)
        group[i] = True
        w = scores[group]
        out_boxes.append((boxes[group] * w[:, None]).sum(axis=0) / w.sum())
        out_scores.append(scores[i])
        best.append(order[i])
        left &= ~group
    return np.array(out_boxes).reshape(-1, 4), np.array(out_scores), np.array(best, int)


def tiles(width: int, height: int, side: float) -> list[tuple[int, int, int]]:
    """Overlapping square tiles (x0, y0, side) covering a frame, each half over its neighbours;
    none when one tile would hold the whole frame."""
    side = int(round(side))
    if side >= max(width, height):
        return []
    out = []
    for y0 in _starts(height, side):
        for x0 in _starts(width, side):
            out.append((x0, y0, side))
    return out


def _starts(length: int, side: int) -> list[int]:
    if side >= length:
        return [0]
    n = int(np.ceil((length - side) / (side / 2))) + 1
    return [int(round(v)) for v in np.linspace(0, length - side, n)]


def model_path() -> str:
    from ..model_files import mediapipe_network

    return mediapipe_network("pose_detection", "pose_detection.tflite")


class BlazePoseDetector:
    """Finds every person at least ``min_height`` pixels tall (see the module notes).

    Called on a whole image it searches it whole and in tiles (:meth:`passes`); a tracker that
    spreads the search over frames calls :meth:`detect_in` on one pass at a time.

    Args:
        min_height: the shortest person to find, pixels; sets the tile size.
        min_score: the network's score threshold.
        threads: the network's threads (any number gives the same bytes).
    """

    name = "blazepose"

    def __init__(self, min_height: float = 100.0, min_score: float = MIN_SCORE, threads: int = 1):
        from ..model_files import tflite_interpreter

        self.min_height, self.min_score = min_height, min_score
        self._net = tflite_interpreter(model_path(), threads)
        self._input = self._net.get_input_details()[0]["index"]
        # The regressions (1, 2254, 12) and the scores (1, 2254, 1), told apart by their shapes.
        outputs = sorted(self._net.get_output_details(), key=lambda d: -int(d["shape"][-1]))
        self._outputs = [d["index"] for d in outputs]
        self._lock = threading.Lock()

    @property
    def tile_side(self) -> float:
        """Tile side (pixels) in which a person ``min_height`` tall is large enough to be found."""
        return (self.min_height / ALONG) / MIN_TILE_FRACTION

    def passes(self, width: int, height: int) -> list[tuple[int, int, int, int]]:
        """The parts of a ``width`` x ``height`` image searched: (x0, y0, w, h), the whole first."""
        return [(0, 0, width, height)] + [(x0, y0, s, s) for x0, y0, s in tiles(width, height, self.tile_side)]

    def __call__(self, image: np.ndarray) -> Detections:
        """Args: image (H, W, 3) uint8 RGB. Returns the people in it, best first."""
        H, W = image.shape[:2]
        return self.merge([self.detect_in(image, p) for p in self.passes(W, H)], (W, H))

    def detect_in(self, image: np.ndarray, part: tuple[int, int, int, int]) -> Detections:
        """The people found in one part (x0, y0, w, h) of ``image``, in its pixels, with keypoints
        (before any merging)."""
        x0, y0, w, h = (int(v) for v in part)
        scores, keypoints = self._detect(image[y0:y0 + h, x0:x0 + w])
        keypoints = keypoints + [x0, y0]
        return Detections(person_boxes(keypoints), scores, keypoints)

    def merge(self, found: list[Detections], size: tuple[int, int]) -> Detections:
        """One person one box: detections of several passes merged by weighted NMS, clipped to the
        image (``size`` = W, H), too short ones dropped; keypoints are the best one's."""
        found = [d for d in found if len(d)]
        if not found:
            return Detections(keypoints=np.zeros((0, 4, 2)))
        boxes = np.concatenate([d.boxes for d in found])
        scores = np.concatenate([d.scores for d in found])
        keypoints = np.concatenate([d.keypoints for d in found])
        boxes, scores, best = weighted_nms(boxes, scores)
        W, H = size
        boxes[:, [0, 2]] = boxes[:, [0, 2]].clip(0, W)
        boxes[:, [1, 3]] = boxes[:, [1, 3]].clip(0, H)
        tall = boxes[:, 3] - boxes[:, 1] >= 0.5 * self.min_height
        return Detections(boxes[tall], scores[tall], keypoints[best][tall])

    def _detect(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Scores (K,) and keypoints (K, 4, 2) in ``image``'s pixels, from one letterboxed pass."""
        import cv2

        h, w = image.shape[:2]
        scale = INPUT / max(h, w)
        nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
        y0, x0 = (INPUT - nh) // 2, (INPUT - nw) // 2
        letterbox = np.zeros((INPUT, INPUT, 3), np.float32)
        resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        letterbox[y0:y0 + nh, x0:x0 + nw] = resized.astype(np.float32) / 127.5 - 1.0
        with self._lock:
            self._net.set_tensor(self._input, letterbox[None])
            self._net.invoke()
            raw_boxes = self._net.get_tensor(self._outputs[0])[0]
            raw_scores = self._net.get_tensor(self._outputs[1])[0, :, 0]
        scores, keypoints = decode(raw_boxes, raw_scores, self.min_score)
        return scores, (keypoints * INPUT - [x0, y0]) / scale
