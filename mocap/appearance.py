"""What a person looks like: colour histograms of the upper and lower body, for telling people
apart when position and motion cannot (someone who left the picture and came back).

The colours are taken inside the person's segmentation mask (the landmark network's), in two
bands of the upright crop: shoulders to hips (shirt) and hips to below the knees (trousers,
skirt). Each band gives a normalised histogram over hue, saturation and value (OpenCV's HSV:
hue bins for colour, saturation and value bins so that black, grey and white clothes, whose
hue means nothing, are told apart too). Two looks are compared by the Bhattacharyya distance
of their bands (0: the same colours, 1: no colour in common), the larger of the two: another
shirt over the same trousers is another person.
"""

from __future__ import annotations

import numpy as np

BINS = (8, 4, 4)  # hue, saturation, value
LOOK_SIZE = 2 * BINS[0] * BINS[1] * BINS[2]  # floats in one look: two bands
MIN_PIXELS = 60  # a band with fewer masked pixels says nothing
SHOULDERS, HIPS, KNEES, ANKLES = (11, 12), (23, 24), (25, 26), (27, 28)  # BlazePose landmarks


def look_of(crop: np.ndarray, mask: np.ndarray, landmarks: np.ndarray) -> np.ndarray | None:
    """A person's look in one crop.

    Args:
        crop: (S, S, 3) uint8 RGB, the body upright. mask: (S, S) bool, the person's pixels
            (and inside the image). landmarks: (33+, 2) the body's landmarks in crop pixels.
    Returns:
        (LOOK_SIZE,) float32: the upper then the lower band's histogram, each summing to 1; None
        when a band has too few pixels (cut off by the image edge, hidden, tiny).
    """
    import cv2

    lm = landmarks
    shoulder_y, hip_y = lm[SHOULDERS, 1].mean(), lm[HIPS, 1].mean()
    leg_y = 0.5 * (lm[KNEES, 1].mean() + lm[ANKLES, 1].mean())
    if not shoulder_y < hip_y < leg_y:  # not upright in the crop (lying, a bad fit)
        return None
    hsv = cv2.cvtColor(crop, cv2.COLOR_RGB2HSV)
    rows = np.arange(crop.shape[0])[:, None]
    out = []
    # The bands stop short of the joints, where skin, belts and shadows mix.
    for top, bottom in ((shoulder_y + 0.15 * (hip_y - shoulder_y), hip_y - 0.1 * (hip_y - shoulder_y)),
                        (hip_y + 0.1 * (leg_y - hip_y), leg_y)):
        band = (mask & (rows >= top) & (rows < bottom)).astype(np.uint8)
        if int(band.sum()) < MIN_PIXELS:
            return None
        hist = cv2.calcHist([hsv], [0, 1, 2], band, list(BINS), [0, 180, 0, 256, 0, 256]).ravel()
        out.append(hist / hist.sum())
    return np.concatenate(out).astype(np.float32)


def mean_look(looks: list[np.ndarray]) -> np.ndarray | None:
    """The average of several looks (LOOK_SIZE,) of one person; None for none."""
    if not looks:
        return None
    return np.mean(np.stack(looks), axis=0).astype(np.float32)


def look_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Bhattacharyya distance of two looks (LOOK_SIZE,): the larger of the two bands', in [0, 1]."""
    import cv2

    half = LOOK_SIZE // 2
    return float(max([cv2.compareHist(a[s].astype(np.float32), b[s].astype(np.float32), cv2.HISTCMP_BHATTACHARYYA)
                          for s in (slice(0, half), slice(half, None))]))
