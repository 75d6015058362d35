"""HMR 2.0 input crops, made exactly as 4D-Humans makes them at inference.

For a person box (xyxy pixels):

1. the box is grown to the aspect 192:256 (width:height) about its centre, and
   the crop is the square of its longer side (``size``), centred on the box;
2. when that square is more than 2.2x the 256-pixel patch, the image is first
   blurred against aliasing: Gaussian, sigma = (size / 256 / 2 - 1) / 2, edges
   repeated (skimage's ``gaussian(..., preserve_range=True)``, truncate 4);
3. the square is warped to 256 x 256 (bilinear, black outside the image);
4. RGB is normalised with the ImageNet mean and std (of 0-255 values);
5. the network then uses the central 192 columns (32 cut each side).

Only the part of the image under the crop (plus the blur's reach) is blurred,
which gives the same pixels as blurring the whole image, much faster; so the
pipeline needs to cut only that part out of the frame (:func:`crop_reach`),
never padded, and hands on the detector's float box.
"""

from __future__ import annotations

import cv2
import numpy as np

PATCH = 256
ASPECT = (192, 256)  # width, height
MEAN = 255.0 * np.array([0.485, 0.456, 0.406])
STD = 255.0 * np.array([0.229, 0.224, 0.225])


def crop_square(box: np.ndarray) -> tuple[np.ndarray, float]:
    """(4,) xyxy box -> centre (2,) and side (pixels) of the square crop around it."""
    box = np.asarray(box, np.float64)
    centre = (box[:2] + box[2:]) / 2
    w, h = box[2] - box[0], box[3] - box[1]
    if h / w < ASPECT[1] / ASPECT[0]:
        h = max(w * ASPECT[1] / ASPECT[0], h)
    else:
        w = max(h * ASPECT[0] / ASPECT[1], w)
    return centre, float(max(w, h))


def crop_matrix(centre: np.ndarray, size: float, patch: int = PATCH) -> np.ndarray:
    """(2, 3) affine map from image pixels to patch pixels: the square (centre, size)
    onto [0, patch]^2, its centre on the patch centre."""
    s = patch / size
    return np.array([[s, 0.0, patch / 2 - s * centre[0]], [0.0, s, patch / 2 - s * centre[1]]])


def blur_sigma(size: float, patch: int = PATCH) -> float:
    """Anti-aliasing sigma (image pixels) for a square of ``size`` warped to ``patch``; 0: no blur."""
    factor = size / patch / 2.0
    return (factor - 1.0) / 2.0 if factor > 1.1 else 0.0


def crop_reach(box: np.ndarray) -> np.ndarray:
    """(4,) int x0, y0, x1, y1: the frame pixels :func:`make_crop` reads for a box (xyxy), before
    clipping to the frame: the square, plus the blur's kernel radius (truncate 4) and bilinear's
    neighbour. A part of the frame holding these pixels gives the same crop as the whole frame."""
    centre, size = crop_square(box)
    reach = int(4.0 * blur_sigma(size) + 0.5) + 2
    return np.array([int(np.floor(centre[0] - size / 2)) - reach, int(np.floor(centre[1] - size / 2)) - reach,
                     int(np.ceil(centre[0] + size / 2)) + reach + 1, int(np.ceil(centre[1] + size / 2)) + reach + 1])


def make_crop(image: np.ndarray, box: np.ndarray, origin=(0, 0)) -> tuple[np.ndarray, np.ndarray, float]:
    """One person's network input.

    Args:
        image: (H, W, 3) uint8 RGB: the frame, or a part of it whose top-left pixel is at
            ``origin`` (x, y) in the frame, holding :func:`crop_reach` of the box where that
            lies inside the frame (the crop is then the same as from the whole frame).
        box: (4,) xyxy frame pixels (floats, as detected: not rounded).
    Returns:
        crop (3, 256, 256) float32 normalised, the square's centre (2,) and side (frame pixels).
    """
    centre, size = crop_square(box)
    sigma = blur_sigma(size)
    ox, oy = (int(v) for v in origin)
    x0, y0, x1, y1 = crop_reach(box)
    # Only the pixels the crop reads are blurred and warped: the same values as blurring the whole
    # frame (edges repeated at the frame's border), much faster; black outside the frame.
    x0, y0 = max(x0, ox), max(y0, oy)
    x1, y1 = min(x1, ox + image.shape[1]), min(y1, oy + image.shape[0])
    if x1 <= x0 or y1 <= y0:
        patch = np.zeros((PATCH, PATCH, 3))
    else:
        region = image[y0 - oy:y1 - oy, x0 - ox:x1 - ox]
        if sigma > 0:
            from scipy.ndimage import gaussian_filter

            region = gaussian_filter(region.astype(np.float64), sigma=(sigma, sigma, 0), mode="nearest", truncate=4.0)
        # Unblurred, 4D-Humans warps the uint8 image: the patch is rounded to integers.
        patch = cv2.warpAffine(region, crop_matrix(centre - (x0, y0), size), (PATCH, PATCH), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    crop = (patch.astype(np.float64) - MEAN) / STD
    return crop.transpose(2, 0, 1).astype(np.float32), centre, size
