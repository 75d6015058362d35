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
which gives the same pixels as blurring the whole image, much faster.
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


def _blurred_region(image: np.ndarray, centre: np.ndarray, size: float, sigma: float):
    """The part of ``image`` the crop reads, blurred: (region float64, its x0, y0)."""
    from scipy.ndimage import gaussian_filter

    H, W = image.shape[:2]
    reach = int(4.0 * sigma + 0.5) + 2  # the kernel radius (truncate 4) plus bilinear's neighbour
    x0 = max(int(np.floor(centre[0] - size / 2)) - reach, 0)
    y0 = max(int(np.floor(centre[1] - size / 2)) - reach, 0)
    x1 = min(int(np.ceil(centre[0] + size / 2)) + reach + 1, W)
    y1 = min(int(np.ceil(centre[1] + size / 2)) + reach + 1, H)
    if x1 <= x0 or y1 <= y0:
        return np.zeros((1, 1, image.shape[2])), 0, 0
    region = image[y0:y1, x0:x1].astype(np.float64)
    return gaussian_filter(region, sigma=(sigma, sigma, 0), mode="nearest", truncate=4.0), x0, y0


def make_crop(image: np.ndarray, box: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """One person's network input.

    Args:
        image: (H, W, 3) uint8 RGB frame. box: (4,) xyxy pixels.
    Returns:
        crop (3, 256, 256) float32 normalised, the square's centre (2,) and side (pixels).
    """
    centre, size = crop_square(box)
    sigma = blur_sigma(size)
    if sigma > 0:
        region, x0, y0 = _blurred_region(image, centre, size, sigma)
        M = crop_matrix(centre - (x0, y0), size)
        patch = cv2.warpAffine(region, M, (PATCH, PATCH), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                               borderValue=0)
    else:
        # Unblurred, 4D-Humans warps the uint8 image: the patch is rounded to integers.
        patch = cv2.warpAffine(image, crop_matrix(centre, size), (PATCH, PATCH), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    crop = (patch.astype(np.float64) - MEAN) / STD
    return crop.transpose(2, 0, 1).astype(np.float32), centre, size
