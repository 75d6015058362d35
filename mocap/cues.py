"""Body cues at each tracklet's ends, from the body estimator, for joining tracklets.

Position and size alone cannot tell who comes out from behind an occluder when
two people cross there. The estimator can: people crossing face opposite ways,
and a backend that estimates body shape (SMPL betas) tells bodies apart. So
during the tracking pass the first and last few crops of every track are kept,
and the estimator is run on them only for the ends that may be joined; then
only the cue is kept, so memory stays flat however long the video.

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
        look: (LOOK_SIZE,) the body's colours (:mod:`mocap.appearance`), or None.
    """

    facing: np.ndarray | None
    betas: np.ndarray | None
    look: np.ndarray | None = None


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


@dataclass
class _Track:
    """What the collector keeps of one track: a few crops at each end, its last boxes."""

    first: list  # [(crop, time, offset)], up to CROPS_PER_END
    last: deque  # the same, the latest CROPS_PER_END
    boxes: deque  # [(time, (4,) xyxy)], the latest 10, for continuation_distance
    needs_start: bool = False  # it may continue an earlier track: its start cue is wanted
    needs_end: bool = False  # a later track may continue it: its end cue is wanted
    ended: bool = False


class CueCollector:
    """Keeps crops at tracklet ends during the tracking pass and turns them into cues,
    only for the ends that may be joined (a later track starts near where an earlier
    one was heading, see :func:`mocap.track.continuation_distance`): the estimator
    runs on a few crops per candidate end, not on every track.

    Memory stays bounded: an ended track's crops are dropped once no new track can
    continue it (``max_gap`` seconds after its end).

    Args:
        estimator_factory: () -> a :class:`mocap.estimators.BodyEstimator` made with
            ``static=True`` (one is made, on first need, and used for every tracklet).
        K: (3, 3) camera intrinsics.
        max_gap: as :func:`mocap.track.join_tracklets`' ``max_gap``.
        aspect, scale: the crop the estimator wants (see :class:`mocap.estimators.CropSpec`).
    """

    def __init__(self, estimator_factory, K: np.ndarray, max_gap: float = 5.0, aspect: float = 1.0,
                 scale: float = 1.3):
        self.factory, self.K, self.max_gap = estimator_factory, K, max_gap
        self.aspect, self.scale = aspect, scale
        self.tracks: dict[int, _Track] = {}
        self.cues: dict[int, tuple[BodyCue | None, BodyCue | None]] = {}  # id -> (at start, at end)
        self._estimator = None

    def add(self, image: np.ndarray, time: float, tracked: list[tuple[int, np.ndarray, float]]) -> None:
        """Remember the crops of this frame's tracked people ((id, (4,) xyxy box, score) each)."""
        from .track import continuation_distance

        # Known tracks first, so a track seen in this frame is not taken for one that a
        # newcomer might continue.
        for tid, box, _ in sorted(tracked, key=lambda r: r[0] not in self.tracks):
            window = crop_window(box, aspect=self.aspect, scale=self.scale)
            item = (cut(image, window), time, window[:2].astype(float))
            tr = self.tracks.get(tid)
            if tr is None:
                tr = self.tracks[tid] = _Track([], deque(maxlen=CROPS_PER_END), deque(maxlen=10))
                for other_id, other in self.tracks.items():  # whom might it continue?
                    if other_id != tid and other.boxes and continuation_distance(
                            np.array([b for _, b in other.boxes]), np.array([t for t, _ in other.boxes]),
                            box, time, self.max_gap) is not None:
                        tr.needs_start = other.needs_end = True
                        if other.ended:
                            self._end_cue(other_id)
            if len(tr.first) < CROPS_PER_END:
                tr.first.append(item)
                if len(tr.first) == CROPS_PER_END and tr.needs_start:
                    self._start_cue(tid)
            tr.last.append(item)
            tr.boxes.append((time, box))
        for tid in [i for i, tr in self.tracks.items() if tr.ended and tr.boxes[-1][0] < time - self.max_gap]:
            del self.tracks[tid]  # nobody can continue it any more

    def finish(self, ids) -> None:
        """Tracks ``ids`` have ended (the tracker forgot them)."""
        for tid in ids:
            tr = self.tracks.get(tid)
            if tr is None or tr.ended:
                continue
            tr.ended = True
            if tr.needs_start:
                self._start_cue(tid)
            if tr.needs_end:
                self._end_cue(tid)

    def close(self) -> dict[int, tuple[BodyCue | None, BodyCue | None]]:
        """Finish every open track; returns id -> (start cue, end cue), None where not wanted."""
        self.finish(list(self.tracks))
        if self._estimator is not None:
            self._estimator.close()
        return self.cues

    def _start_cue(self, tid: int) -> None:
        tr = self.tracks[tid]
        if tid not in self.cues or self.cues[tid][0] is None:
            self.cues[tid] = (self._cue(tr.first), self.cues.get(tid, (None, None))[1])

    def _end_cue(self, tid: int) -> None:
        tr = self.tracks[tid]
        if tr.ended and (tid not in self.cues or self.cues[tid][1] is None):
            self.cues[tid] = (self.cues.get(tid, (None, None))[0], self._cue(list(tr.last)))

    def _cue(self, items: list) -> BodyCue:
        if self._estimator is None:
            self._estimator = self.factory()
        images, times, offsets = zip(*items)
        return cue_from_estimates(self._estimator(list(images), np.array(times), self.K, np.array(offsets)))
