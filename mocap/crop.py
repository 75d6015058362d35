"""Per-person crops: a box around a tracked person → an image patch for the estimator.

Crops are cut without resampling (MediaPipe resizes internally; HMR 2.0 does
its own warp), padded with black where the box leaves the image. A crop is
described by its top-left corner in image pixels and its size, so crop pixels
map back to image pixels by adding the corner.
"""

from __future__ import annotations

import numpy as np


def crop_window(box: np.ndarray, aspect: float = 1.0, scale: float = 1.3) -> np.ndarray:
    """The crop around a person box.

    Args:
        box: (4,) xyxy pixels.
        aspect: crop width / height (1.0 square for MediaPipe; 192/256 for HMR 2.0).
        scale: margin factor around the box (the box is grown, never squashed).
    Returns:
        (4,) int ``x0, y0, width, height`` (may extend past the image).
    """
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    w, h = max(box[2] - box[0], 1.0), max(box[3] - box[1], 1.0)
    h = max(h, w / aspect) * scale
    w = h * aspect
    return np.array([round(cx - w / 2), round(cy - h / 2), round(w), round(h)], dtype=int)


def cut(image: np.ndarray, window: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
    """(height, width, 3) patch of ``image`` (H, W, 3) under ``window`` (x0, y0, width, height),
    zero-padded outside the image and, if ``keep`` (4,) xyxy image pixels is given, outside
    that region too (so an estimator sees only the person, not the neighbour beside them)."""
    x0, y0, w, h = (int(v) for v in window)
    H, W = image.shape[:2]
    if keep is not None:
        kx0, ky0, kx1, ky1 = (int(round(v)) for v in keep)
        H, W = min(H, ky1), min(W, kx1)
    else:
        kx0 = ky0 = 0
    out = np.zeros((h, w, image.shape[2]), dtype=image.dtype)
    sx0, sy0, sx1, sy1 = max(x0, kx0, 0), max(y0, ky0, 0), min(x0 + w, W), min(y0 + h, H)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1]
    return out


def person_region(box: np.ndarray, margin: float = 0.15) -> np.ndarray:
    """(4,) xyxy: a person box grown by ``margin`` of its height on every side — room for
    arms and feet the detector's box leaves out, not for the people next to them."""
    pad = margin * (box[3] - box[1])
    return np.array([box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad])
