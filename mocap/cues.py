"""Body cues at each tracklet's ends, from the body estimator, for joining tracklets.

Position and size alone cannot tell who comes out from behind an occluder when
two people cross there. The estimator can: people crossing face opposite ways,
and a backend that estimates body shape (SMPL betas) tells bodies apart. So
during the tracking pass the last few crops of every live track are kept (and
the first few of every new one); when a track ends, the estimator is run on
them once and only the cue is kept, so memory stays flat however long the video.

Conventions: facing is the body's forward direction (+Z of the SMPL rest pose)
in the OpenCV camera frame, projected on the camera's x-z plane and normalised.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from .crop import crop_window, cut

# Crops (consecutive detector runs) estimated at each end of a tracklet.
CROPS_PER_END = 2


@dataclass
class BodyCue:
    """What the estimator says about a person at one end of a tracklet.

    Attributes:
        facing: (2,) unit vector (camera x, camera z) the body faces, or None if unseen.
        betas: (10,) body shape, or None when the backend does not estimate shape.
    """

    facing: np.ndarray | None
    betas: np.ndarray | None


def facing_from_root(root_rotations: np.ndarray) -> np.ndarray | None:
    """Mean facing of (N, 3, 3) root rotations (body → camera); None when they disagree
    (the estimator flips front and back, or the person is turning) or N is 0."""
    if len(root_rotations) == 0:
        return None
    forward = root_rotations[:, [0, 2], 2]  # camera x and z of the body's +Z axis
    norm = np.linalg.norm(forward, axis=1)
    forward = forward[norm > 0.3] / norm[norm > 0.3, None]  # lying along the optical axis: no cue
    if len(forward) == 0:
        return None
    mean = forward.mean(axis=0)
    if np.linalg.norm(mean) < 0.8:  # spread over more than about ±35°
        return None
    return mean / np.linalg.norm(mean)


def cue_from_estimates(est) -> BodyCue:
    """:class:`BodyCue` from :class:`mocap.estimators.Estimates` of a few frames."""
    seen = est.confidence > 0
    betas = est.betas if np.any(est.betas) else None
    return BodyCue(facing_from_root(est.rotations[seen, 0]), betas)


class CueCollector:
    """Keeps crops at tracklet ends during the tracking pass and turns them into cues.

    Args:
        estimator_factory: () -> a :class:`mocap.estimators.BodyEstimator` made with
            ``static=True`` (one is made, on first need, and used for every tracklet).
        K: (3, 3) camera intrinsics.
    """

    def __init__(self, estimator_factory, K: np.ndarray):
        self.factory, self.K = estimator_factory, K
        self.first: dict[int, list] = {}
        self.last: dict[int, deque] = {}
        self.cues: dict[int, tuple[BodyCue, BodyCue]] = {}  # id -> (at its start, at its end)
        self._estimator = None

    def add(self, image: np.ndarray, time: float, tracked: list[tuple[int, np.ndarray, float]]) -> None:
        """Remember the crops of this frame's tracked people ((id, (4,) xyxy box, score) each)."""
        for tid, box, _ in tracked:
            window = crop_window(box, aspect=1.0)
            item = (cut(image, window), time, window[:2].astype(float))
            if len(self.first.setdefault(tid, [])) < CROPS_PER_END:
                self.first[tid].append(item)
            self.last.setdefault(tid, deque(maxlen=CROPS_PER_END)).append(item)

    def finish(self, ids) -> None:
        """Tracks ``ids`` have ended: estimate their end cues and drop their crops."""
        for tid in ids:
            if tid in self.first:
                self.cues[tid] = (self._cue(self.first.pop(tid)), self._cue(list(self.last.pop(tid))))

    def close(self) -> dict[int, tuple[BodyCue, BodyCue]]:
        """Finish every track still open; returns id -> (start cue, end cue)."""
        self.finish(list(self.first))
        if self._estimator is not None:
            self._estimator.close()
        return self.cues

    def _cue(self, items: list) -> BodyCue:
        if self._estimator is None:
            self._estimator = self.factory()
        images, times, offsets = zip(*items)
        return cue_from_estimates(self._estimator(list(images), np.array(times), self.K, np.array(offsets)))
