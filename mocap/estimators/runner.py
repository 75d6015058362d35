"""Running a body estimator over a span of video: one person on whole frames
(:func:`estimate_frames`), or every tracked person on crops around their box
(:func:`estimate_tracked`).

Each person has an estimator of their own (MediaPipe tracks between frames), fed in
chunks; a backend without state between frames (hmr2) takes everyone's crops in
shared network batches, run in a worker thread while this one decodes and cuts the
next batch. A span is (start, end, warm_start): frames from ``warm_start`` feed the
estimator so that its tracking has settled at ``start``; only [start, end) is kept.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import numpy as np

from .. import video
from ..crop import cut, person_region
from ..track import Tracklet, boxes_at_time
from . import Backend, BodyEstimator, Estimates

# A person's estimator starts afresh when they come back after a gap longer than this.
RESTART_AFTER_SECONDS = 0.3


def estimate_frames(video_path, span: tuple, new_estimator: Callable[[], BodyEstimator], K: np.ndarray,
                    chunk_size: int, advance: Callable[[int], None], stop: threading.Event) -> Estimates | None:
    """One person's estimates on the whole frames of ``span``, in chunks of ``chunk_size``.

    Args:
        K: (3, 3) intrinsics. advance: called with the number of kept frames done.
    Returns:
        the estimates of [start, end), or None (nothing seen, or ``stop`` was set).
    """
    start, end, warm_start = span
    estimator = new_estimator()
    parts: list[Estimates] = []
    try:
        images, times = [], []
        for frame in video.prefetch(video.read_frames(video_path, warm_start, end)):
            if stop.is_set():
                return None
            images.append(frame.image)
            times.append(frame.time)
            if len(images) == chunk_size:
                parts.append(keep_from(estimator(images, np.array(times), K), start).compact())
                advance(int((np.array(times) >= start - 1e-6).sum()))
                images, times = [], []
        if images:
            parts.append(keep_from(estimator(images, np.array(times), K), start).compact())
            advance(int((np.array(times) >= start - 1e-6).sum()))
    finally:
        estimator.close()
    parts = [p for p in parts if p.num_frames]
    return Estimates.concat(parts) if parts else None


def estimate_tracked(video_path, span: tuple, people: dict[int, Tracklet], backend: Backend,
                     new_estimator: Callable[[], BodyEstimator], K: np.ndarray, batch: int,
                     advance: Callable[[int], None], stop: threading.Event) -> dict[int, Estimates | None]:
    """Every tracked person's estimates on crops around their box in ``span``.

    Args:
        people: track id -> :class:`Tracklet` (boxes over time).
        backend: its crop spec and whether it batches.
        batch: crops per call: each person's chunk, or (batched backends) everyone's.
    Returns:
        track id -> the estimates of [start, end) (None: nothing seen); {} once ``stop`` was set.
    """
    start, end, warm_start = span
    work = _TrackedPeople(people, backend, new_estimator, K, batch, start)
    try:
        for frame in video.prefetch(video.read_frames(video_path, warm_start, end)):
            if stop.is_set():
                return {}
            for tid, box in boxes_at_time(people, frame.time):
                work.add(tid, frame, box)
            if frame.time >= start - 1e-6:
                advance(1)
        work.flush_all()
    finally:
        work.close()
    return work.results()


class _TrackedPeople:
    """The state of :func:`estimate_tracked`: each person's estimator and pending crops, the
    batches in flight, what has been estimated."""

    def __init__(self, people, backend: Backend, new_estimator, K, batch: int, start: float):
        self.spec, self.shared = backend.crop, backend.batched
        self.new_estimator, self.K, self.batch, self.start = new_estimator, K, batch, start
        self.estimators: dict = {}
        self.pending: dict[int, tuple[list, list, list, list]] = {}  # images, times, offsets, boxes
        self.parts: dict[int, list[Estimates]] = {tid: [] for tid in people}
        self.last_seen: dict[int, float] = {}
        # Shared batches run in a worker thread while this one decodes and cuts the next batch
        # (at most two in flight, so memory stays bounded); results are taken in order.
        self.inference = ThreadPoolExecutor(1, thread_name_prefix="mocap-infer") if self.shared else None
        self.in_flight: deque = deque()

    def add(self, tid: int, frame, box: np.ndarray) -> None:
        """Person ``tid``'s crop of ``frame`` around ``box`` (4,) xyxy; runs a full batch."""
        if tid in self.estimators and frame.time - self.last_seen[tid] > RESTART_AFTER_SECONDS:
            # Back after a gap (hidden, away): what the estimator tracked before is stale.
            if tid in self.pending:
                self.flush(tid)
            self.estimators.pop(tid).close()
        if tid not in self.estimators:
            self.estimators[tid] = self.new_estimator()
        self.last_seen[tid] = frame.time
        window = self.spec.window(box, frame.image.shape)
        images, times, offsets, boxes = self.pending.setdefault(tid, ([], [], [], []))
        images.append(cut(frame.image, window, keep=person_region(box) if self.spec.blank_neighbours else None))
        times.append(frame.time)
        offsets.append(window[:2])
        boxes.append(box)
        if (sum(len(p[0]) for p in self.pending.values()) if self.shared else len(images)) >= self.batch:
            self.flush(tid)

    def flush(self, tid: int) -> None:
        """Estimate what is pending: person ``tid``'s chunk, or (shared) everyone's batch."""
        if self.shared:
            groups = {t: self.pending.pop(t) for t in list(self.pending)}
            batch_in = {t: (g[0], np.array(g[1]), np.array(g[2], float), np.array(g[3], float))
                        for t, g in groups.items()}
            self.in_flight.append((self.inference.submit(self.estimators[tid].estimate_people, batch_in, self.K),
                                   groups))
            self.collect(limit=2)
            return
        images, times, offsets, boxes = self.pending.pop(tid)
        self.finish(tid, self.estimators[tid](images, np.array(times), self.K, np.array(offsets, float)), boxes)

    def flush_all(self) -> None:
        while self.pending:
            self.flush(next(iter(self.pending)))
        self.collect(limit=0)

    def collect(self, limit: int) -> None:
        """Take finished shared batches' results, in order, until at most ``limit`` are in flight."""
        while len(self.in_flight) > limit:
            future, groups = self.in_flight.popleft()
            for t, est in future.result().items():
                self.finish(t, est, groups[t][3])

    def finish(self, tid: int, est: Estimates, boxes: list) -> None:
        est.confidence = np.where(inside(est.keypoints, np.array(boxes)), est.confidence, 0.0)
        self.parts[tid].append(keep_from(est, self.start).compact())

    def close(self) -> None:
        if self.inference is not None:
            self.inference.shutdown(wait=True, cancel_futures=True)
        for est in self.estimators.values():
            est.close()

    def results(self) -> dict[int, Estimates | None]:
        return {tid: Estimates.concat(p) if any(x.num_frames for x in p) else None
                for tid, p in self.parts.items() if p}


def inside(keypoints: np.ndarray, boxes: np.ndarray, min_visibility: float = 0.5) -> np.ndarray:
    """(N,) bool: the median of each frame's visible keypoints (N, K, 3: x, y, visibility)
    lies in its person's region (boxes (N, 4) xyxy grown as for the crop) — else the
    estimator has fitted someone else, or nothing."""
    out = np.zeros(len(keypoints), bool)
    for i, (kp, box) in enumerate(zip(keypoints, boxes)):
        seen = kp[kp[:, 2] >= min_visibility, :2]
        if len(seen):
            x, y = np.median(seen, axis=0)
            x0, y0, x1, y1 = person_region(box, margin=0.1)
            out[i] = x0 <= x <= x1 and y0 <= y <= y1
    return out


def keep_from(est: Estimates, start: float) -> Estimates:
    """The frames of ``est`` at or after ``start`` (drops an estimator's warm-up)."""
    keep = est.times >= start - 1e-6
    if keep.all():
        return est
    return Estimates(est.times[keep], est.rotations[keep], est.root_camera[keep], est.confidence[keep],
                     est.keypoints[keep], est.betas, None if est.lengths is None else est.lengths[keep],
                     None if est.joints_2d is None else est.joints_2d[keep])
