"""The offline default: OpenCV's HOG + linear SVM pedestrian detector (Daimler model).

It ships inside ``opencv-contrib-python`` itself (``cv2.HOGDescriptor_getDaimlerPeopleDetector``),
so it needs no model file and no download. It finds upright (standing, walking)
people; it is weak on sitting, lying or strongly bent bodies — use a learned
detector (``yolox``/``rtmdet``, see :mod:`mocap.detectors.onnx_detector`) for those.

How it was chosen (by measurement)
----------------------------------
Fixture: ``tests/data/vtest_people.json`` — 58 people hand-labelled in 10
frames of opencv-doc's ``vtest.avi`` (768x576, people 53-150 px tall, some
overlapping), plus 7 "ignore" boxes (cut by the border, hidden, tiny).
A detection is a hit at IoU >= 0.5; one on an "ignore" box counts neither way.
Speed: ms per 768x576 frame on this machine's 2 CPU cores; another job was
often using one of them, so each figure is a range (low = quiet machine).
For every candidate the score threshold and the window-to-person box shrink
were tuned for the best F1 on all 10 frames (optimistic), and, for the
finalists, also tuned on 5 frames and scored on the other 5 ("held-out",
both ways round).

==================================================  =====  ======  ====  ========  ===========
candidate, setting (stride 8 px)                    prec.  recall  F1    ms/frame  held-out F1
==================================================  =====  ======  ====  ========  ===========
HOG INRIA 64x128 (OpenCV default), image as is      0.68   0.47    0.55   72-90
HOG INRIA, image x1.5, pyramid 1.05                 0.96   0.84    0.90  175-470
HOG INRIA, image x2.0, pyramid 1.05                 1.00   0.86    0.93  320-650
HOG INRIA, image x1.75, pyramid 1.1                 1.00   0.93    0.96  235-245   0.88 / 0.91
HOG Daimler 48x96, image as is, pyramid 1.05        0.94   0.79    0.86   80-130
HOG Daimler, work height 640 (x1.11), pyramid 1.1   (not run on all 10)    60       0.78 / 0.90
HOG Daimler, work height 720 (x1.25), pyramid 1.1   0.95   0.95    0.95   60-118   0.91 / 0.95
**HOG Daimler, work height 800 (x1.39), pyr. 1.1**  0.98   0.95    0.96   75-143   0.96 / 0.95
HOG Daimler, work height 864 (x1.5), pyramid 1.1    0.95   0.95    0.95   80-157   0.86 / 0.97
Haar full-body cascade (cv2.data), best of 3        0.30   0.22    0.26  340-680
BlazePose detector (mediapipe wheel's               0.94   0.83    0.88  ~450
pose_detection.tflite), 160 px tiles (63)
BlazePose detector, 128/192/288 px tiles (138)      0.96   0.84    0.90  ~900-1100
==================================================  =====  ======  ====  ========  ===========

This module as shipped (work height 800, threshold score 0.5, plus the
fragment and low-contrast filters below), ``python -m mocap.detectors.evaluate``:
precision 0.965, recall 0.948, F1 0.957 (55 hits; 3 misses: one cut by the
frame's bottom edge, one half hidden behind another person, one inside a
taller false box; 2 false alarms, both tall boxes over two people);
70-75 ms/frame quiet, 135-140 ms with the other core busy. Without the two
filters: 0.949 / 0.966, same F1 — but on the rendered one-person sample
(``samples/turn_jump.mp4``, person ~260 px tall) the filters bring the
extra boxes from 52 to 3 in 30 frames (torso/leg fragments and boxes on
the flat sky), which a tracker would turn into false people.

Why this one: the best held-out F1, at a tenth of the BlazePose cost.
BlazePose's detector is face-anchored and trained on people who fill the
frame: on a whole 768x576 frame it finds nobody, so it must run on 60-140
overlapping tiles (6-8 ms each, through a custom mediapipe graph), and its
body box is inferred from two keypoints (hip centre + a size point), looser
than HOG's. The Haar cascade is both slow and poor. HOG's limits: upright
people only (a crouch, a roll or a deep lunge is missed; Messi mid-kick in
opencv-doc's ``messi5.jpg`` is), people cut by the frame edge are missed, and
busy backgrounds give small false boxes (static ones; a tracker's filter for
static tracks removes them).

Conventions
-----------
* The image is resized so its height is ``work_height`` px (800): the
  Daimler window is 96 px tall, so the smallest person found is about 12 % of
  the image height (~70 px of 576); large people are found by the pyramid.
* A HOG window is larger than the person in it (margins around the body):
  windows are shrunk by ``shrink`` (fraction of the window width/height taken
  off each side) to become person boxes, measured on the fixture.
* The SVM margin ``m`` becomes a score in [0, 1] by a logistic map centred on
  the tuned operating point: ``score = 1 / (1 + exp(-2 (m - 1.5)))``, so
  score 0.5 is the threshold with the best F1, and lower-scored boxes
  (down to ``min_score``) are returned for trackers that use low-score
  detections (ByteTrack's second stage).
"""

from __future__ import annotations

import cv2
import numpy as np

from . import Detections
from .boxes import nms, suppress_contained

# `python -m mocap.detectors.evaluate hog` on the vtest fixture at score >= 0.5.
MEASURED = {"precision": 0.965, "recall": 0.948, "ms_per_frame": (70, 140)}

_MARGIN_AT_HALF = 1.5  # SVM margin with the best F1 on the fixture: maps to score 0.5
_MARGIN_SLOPE = 2.0  # logistic slope: margin 0.4 -> score 0.1, margin 3.0 -> 0.95


def margin_to_score(margin: np.ndarray) -> np.ndarray:
    """SVM margins (N,) → scores (N,) in [0, 1]."""
    return 1.0 / (1.0 + np.exp(-_MARGIN_SLOPE * (np.asarray(margin, np.float64) - _MARGIN_AT_HALF)))


def score_to_margin(score: float) -> float:
    """Inverse of :func:`margin_to_score` for one score in (0, 1)."""
    return _MARGIN_AT_HALF + np.log(score / (1.0 - score)) / _MARGIN_SLOPE


class HogDetector:
    """OpenCV HOG people detector (Daimler 48x96 SVM), tuned on vtest.avi.

    Args:
        work_height: image height (px) the detector runs at.
        min_score: lowest score returned (see the module notes on scores).
        stride: window step in pixels of the working image.
        pyramid: scale step between pyramid levels.
        shrink: (x, top, bottom) fraction of the window taken off each side.
        nms_iou: IoU above which a lower-scored overlapping box is dropped.
        contained: (inside, shorter) of :func:`~mocap.detectors.boxes.suppress_contained`,
            or None to keep body-part fragments.
        min_contrast: lowest standard deviation of the grey levels (0-255) inside a box.
    """

    name = "hog"

    def __init__(self, work_height: int = 800, min_score: float = 0.1, stride: int = 8,
                 pyramid: float = 1.1, shrink: tuple[float, float, float] = (0.25, 0.1, 0.1),
                 nms_iou: float = 0.3, contained: tuple[float, float] | None = (0.7, 0.8),
                 min_contrast: float = 5.0):
        self.work_height = work_height
        self.min_score = min_score
        self.stride = stride
        self.pyramid = pyramid
        self.shrink = shrink
        self.nms_iou = nms_iou
        self.contained = contained
        self.min_contrast = min_contrast
        # Daimler model: 48x96 window, 16x16 blocks, 8x8 stride and cells, 9 bins.
        self._hog = cv2.HOGDescriptor((48, 96), (16, 16), (8, 8), (8, 8), 9)
        self._hog.setSVMDetector(cv2.HOGDescriptor_getDaimlerPeopleDetector())

    def __call__(self, image: np.ndarray) -> Detections:
        """Args: image (H, W, 3) uint8 RGB. Returns the people in it, best first."""
        h = image.shape[0]
        scale = self.work_height / h
        work = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        # groupThreshold=0: raw windows with their margins; we group them by NMS
        # (OpenCV's grouping drops people found by fewer than 2 windows).
        rects, margins = self._hog.detectMultiScale(
            work, hitThreshold=float(score_to_margin(self.min_score)),
            winStride=(self.stride, self.stride), padding=(8, 8), scale=self.pyramid,
            groupThreshold=0)
        if len(rects) == 0:
            return Detections()
        rects, margins = np.asarray(rects, np.float64), np.asarray(margins, np.float64).reshape(-1)
        # OpenCV's worker threads append windows in whatever order they finish: sort, so
        # that NMS (greedy, order-dependent on ties) gives the same boxes on every run.
        order = np.lexsort((*rects.T[::-1], -margins))
        x, y, w, hh = (rects[order] / scale).T
        sx, top, bottom = self.shrink
        boxes = np.stack([x + sx * w, y + top * hh, x + (1 - sx) * w, y + (1 - bottom) * hh], axis=1)
        scores = margin_to_score(margins[order])
        keep = nms(boxes, scores, self.nms_iou)
        keep = keep[scores[keep] >= self.min_score]
        if self.contained is not None:
            keep = keep[suppress_contained(boxes[keep], *self.contained)]
        if self.min_contrast > 0:
            keep = keep[_contrast(image, boxes[keep]) >= self.min_contrast]
        return Detections(boxes[keep], scores[keep])


def _contrast(image: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Standard deviation of the grey levels inside each box (N,) of an RGB image.

    HOG normalises every block's gradients, so it can fire on near-flat areas
    (sky, walls) whose only gradients are compression noise: std ~0.1 there
    against >= 15 for every person seen while tuning.
    """
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    h, w = grey.shape
    out = np.zeros(len(boxes))
    for i, (x0, y0, x1, y1) in enumerate(np.round(boxes).astype(int)):
        patch = grey[max(y0, 0):min(y1, h), max(x0, 0):min(x1, w)]
        out[i] = patch.std() if patch.size else 0.0
    return out
