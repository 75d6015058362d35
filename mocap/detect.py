"""Person detection: images → boxes with scores, behind one small protocol.

Boxes are ``xyxy`` in pixels of the upright image (x right, y down, the
top-left image corner at (0, 0)).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np


@dataclass
class Detections:
    """People found in one image.

    Attributes:
        boxes: (N, 4) float ``x0, y0, x1, y1`` pixels.
        scores: (N,) confidence in [0, 1].
    """

    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self):
        self.boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4)
        self.scores = np.asarray(self.scores, dtype=np.float64).reshape(-1)
        if len(self.boxes) != len(self.scores):
            raise ValueError("boxes and scores differ in length")

    def __len__(self) -> int:
        return len(self.scores)

    def __getitem__(self, index) -> "Detections":
        return Detections(self.boxes[index], self.scores[index])


class Detector(Protocol):
    """Finds people in images; stateless between calls."""

    name: str

    def __call__(self, image: np.ndarray) -> Detections:
        """Args: image (H, W, 3) uint8 RGB. Returns the people in it."""
        ...
