"""Tracking: per-frame person boxes → tracklets with stable identities.

A small ByteTrack-style tracker (Zhang et al. 2022): a constant-velocity Kalman
filter per track on (centre x, centre y, aspect w/h, height), two-stage
matching (confident boxes first, then the remaining tracks against low-score
boxes, which recovers people during partial occlusion), and a lost-track
buffer counted in seconds so it means the same at every frame rate. After
tracking, tracklets broken by a long occlusion or an exit are joined when the
same person comes back (position, size and motion agree), and short or
motionless false tracks are dropped.

Written here rather than taken from ``supervision`` because supervision pulls
``opencv-python``, which would fight mediapipe's ``opencv-contrib-python`` over
the ``cv2`` module; the algorithm is ~200 lines of numpy + scipy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from .detect import Detections
from .detectors.boxes import iou as box_iou


@dataclass
class TrackerOptions:
    high_score: float = 0.5  # first-stage boxes
    low_score: float = 0.1  # below this a box is ignored
    new_track_score: float = 0.6  # a new track needs a box at least this confident
    match_iou: float = 0.2  # first stage: minimum IoU (after score fusion)
    low_match_iou: float = 0.5  # second stage against low-score boxes
    lost_seconds: float = 1.0  # a track unseen this long is finished
    confirm_hits: int = 2  # consecutive hits before a new track is reported


def _xyah(box: np.ndarray) -> np.ndarray:
    w, h = box[2] - box[0], box[3] - box[1]
    return np.array([box[0] + w / 2, box[1] + h / 2, w / max(h, 1e-6), h])


def _xyxy(state: np.ndarray) -> np.ndarray:
    cx, cy, a, h = state[:4]
    w = a * h
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


class _Kalman:
    """Constant-velocity filter on (cx, cy, a, h) with noise proportional to the box height
    (the SORT/DeepSORT parameterisation ByteTrack uses)."""

    _F = np.eye(8) + np.eye(8, k=4)
    _H = np.eye(4, 8)
    _POS, _VEL = 1 / 20, 1 / 160

    def __init__(self, box: np.ndarray):
        z = _xyah(box)
        self.x = np.r_[z, np.zeros(4)]
        h = z[3]
        std = np.array([2 * self._POS * h, 2 * self._POS * h, 1e-2, 2 * self._POS * h,
                        10 * self._VEL * h, 10 * self._VEL * h, 1e-5, 10 * self._VEL * h])
        self.P = np.diag(std**2)

    def predict(self) -> None:
        h = self.x[3]
        q = np.array([self._POS * h, self._POS * h, 1e-2, self._POS * h,
                      self._VEL * h, self._VEL * h, 1e-5, self._VEL * h])
        self.x = self._F @ self.x
        self.P = self._F @ self.P @ self._F.T + np.diag(q**2)

    def update(self, box: np.ndarray) -> None:
        h = self.x[3]
        r = np.array([self._POS * h, self._POS * h, 1e-1, self._POS * h])
        S = self._H @ self.P @ self._H.T + np.diag(r**2)
        K = self.P @ self._H.T @ np.linalg.inv(S)
        self.x = self.x + K @ (_xyah(box) - self._H @ self.x)
        self.P = (np.eye(8) - K @ self._H) @ self.P

    @property
    def box(self) -> np.ndarray:
        return _xyxy(self.x)


@dataclass
class _Track:
    id: int
    kalman: _Kalman
    score: float
    hits: int = 1
    last_seen: int = 0  # frame number
    confirmed: bool = False


class ByteTracker:
    """Online multi-person tracker. Feed it one frame's detections at a time.

    Args:
        fps: video frame rate (the lost-track buffer is ``lost_seconds * fps`` frames).
        options: thresholds, see :class:`TrackerOptions`.
    """

    def __init__(self, fps: float, options: TrackerOptions | None = None):
        self.options = options or TrackerOptions()
        self.max_lost = max(1, int(round(self.options.lost_seconds * fps)))
        self.tracks: list[_Track] = []
        self.frame = -1
        self._next_id = 1

    def update(self, detections: Detections) -> list[tuple[int, np.ndarray, float]]:
        """Advance one frame.

        Returns:
            (track id, (4,) xyxy box, score) for every confirmed track seen in this frame;
            the box is the detection's, not the filter's.
        """
        o = self.options
        self.frame += 1
        for t in self.tracks:
            t.kalman.predict()
        keep = detections.scores >= o.low_score
        dets = detections[keep]
        high = np.flatnonzero(dets.scores >= o.high_score)
        low = np.flatnonzero(dets.scores < o.high_score)
        matched: dict[int, int] = {}  # track index -> detection index

        # Stage 1: every track (seen or recently lost) against confident boxes, IoU fused with score.
        pairs = self._match(range(len(self.tracks)), high, dets, fuse=True, min_iou=o.match_iou)
        matched.update(pairs)
        # Stage 2: tracks seen last frame but unmatched, against low-score boxes (occluded people).
        rest = [i for i, t in enumerate(self.tracks) if i not in matched and t.last_seen == self.frame - 1]
        matched.update(self._match(rest, low, dets, fuse=False, min_iou=o.low_match_iou))

        out = []
        for i, d in matched.items():
            t = self.tracks[i]
            t.kalman.update(dets.boxes[d])
            t.hits = t.hits + 1 if t.last_seen == self.frame - 1 else 1
            t.last_seen, t.score = self.frame, float(dets.scores[d])
            t.confirmed |= t.hits >= o.confirm_hits
            if t.confirmed:
                out.append((t.id, dets.boxes[d].copy(), t.score))
        used = set(matched.values())
        for d in high:
            if d not in used and dets.scores[d] >= o.new_track_score:
                t = _Track(self._next_id, _Kalman(dets.boxes[d]), float(dets.scores[d]), last_seen=self.frame)
                t.confirmed = self.frame == 0 or o.confirm_hits <= 1  # people already there at the start
                self._next_id += 1
                self.tracks.append(t)
                if t.confirmed:
                    out.append((t.id, dets.boxes[d].copy(), t.score))
        # Forget tentative tracks missed once, and confirmed ones lost for too long.
        self.tracks = [t for t in self.tracks
                       if (t.confirmed and self.frame - t.last_seen <= self.max_lost) or t.last_seen == self.frame]
        return sorted(out, key=lambda r: r[0])

    def _match(self, track_idx, det_idx, dets: Detections, fuse: bool, min_iou: float) -> dict[int, int]:
        track_idx, det_idx = list(track_idx), list(det_idx)
        if not track_idx or not det_idx:
            return {}
        boxes = np.stack([self.tracks[i].kalman.box for i in track_idx])
        iou = box_iou(boxes, dets.boxes[det_idx])
        sim = iou * dets.scores[det_idx][None, :] if fuse else iou
        rows, cols = linear_sum_assignment(-sim)
        return {track_idx[r]: det_idx[c] for r, c in zip(rows, cols) if iou[r, c] >= min_iou}


# --- tracklets ------------------------------------------------------------------


@dataclass
class Tracklet:
    """One person's boxes over time.

    Attributes:
        id: track id (stable across the video, 1-based).
        frames: (N,) frame indices; times: (N,) seconds; boxes: (N, 4) xyxy; scores: (N,).
    """

    id: int
    frames: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    times: np.ndarray = field(default_factory=lambda: np.zeros(0))
    boxes: np.ndarray = field(default_factory=lambda: np.zeros((0, 4)))
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def duration(self) -> float:
        return float(self.times[-1] - self.times[0]) if len(self.times) else 0.0

    def to_json(self) -> dict:
        return {"id": self.id, "frames": self.frames.tolist(), "times": np.round(self.times, 6).tolist(),
                "boxes": np.round(self.boxes, 2).tolist(), "scores": np.round(self.scores, 4).tolist()}


def collect(per_frame: list[tuple[int, float, list[tuple[int, np.ndarray, float]]]]) -> dict[int, Tracklet]:
    """Group tracker output [(frame, time, [(id, box, score), ...]), ...] into tracklets by id."""
    rows: dict[int, list] = {}
    for frame, time, items in per_frame:
        for tid, box, score in items:
            rows.setdefault(tid, []).append((frame, time, box, score))
    return {tid: Tracklet(tid, np.array([r[0] for r in rs]), np.array([r[1] for r in rs]),
                          np.array([r[2] for r in rs]), np.array([r[3] for r in rs]))
            for tid, rs in sorted(rows.items())}


def join_tracklets(tracklets: dict[int, Tracklet], max_gap: float = 5.0, max_jump: float = 1.5) -> dict[int, Tracklet]:
    """Join tracklets that are the same person coming back after a gap.

    A later tracklet continues an earlier one when it starts after the earlier one
    ends (within ``max_gap`` seconds), its first box is near where the earlier one
    was heading (distance in units of box height, at most ``max_jump`` plus the
    distance walked at the earlier one's last speed), and its height agrees within
    a factor 1.5. Candidates are joined greedily, best (smallest normalised
    distance) first; the joined tracklet keeps the earlier id.
    """
    items = sorted(tracklets.values(), key=lambda t: t.times[0])
    pairs = []
    for a in items:
        end_box, end_t = a.boxes[-1], a.times[-1]
        ha = end_box[3] - end_box[1]
        k = min(len(a.times), 10)
        velocity = (_centre(a.boxes[-1]) - _centre(a.boxes[-k])) / max(a.times[-1] - a.times[-k], 1e-6) if k > 1 else 0
        for b in items:
            gap = b.times[0] - end_t
            if b.id == a.id or gap <= 0 or gap > max_gap:
                continue
            hb = b.boxes[0][3] - b.boxes[0][1]
            if not (1 / 1.5 < hb / max(ha, 1e-6) < 1.5):
                continue
            predicted = _centre(end_box) + velocity * gap
            dist = min(np.linalg.norm(_centre(b.boxes[0]) - predicted), np.linalg.norm(_centre(b.boxes[0]) - _centre(end_box)))
            score = dist / max(ha, 1e-6)
            if score <= max_jump:
                pairs.append((score, a.id, b.id))
    parent = {t.id: t.id for t in items}
    has_next, has_prev = set(), set()
    for _, a, b in sorted(pairs):
        if a in has_next or b in has_prev:
            continue
        has_next.add(a)
        has_prev.add(b)
        parent[b] = a
    def root(i):
        while parent[i] != i:
            i = parent[i]
        return i
    groups: dict[int, list[Tracklet]] = {}
    for t in items:
        groups.setdefault(root(t.id), []).append(t)
    out = {}
    for tid, parts in groups.items():
        parts.sort(key=lambda t: t.times[0])
        out[tid] = Tracklet(tid, *(np.concatenate([getattr(p, f) for p in parts]) for f in ("frames", "times", "boxes", "scores")))
    return dict(sorted(out.items()))


def _centre(box: np.ndarray) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])


def boxes_by_time(tracklets: dict[int, Tracklet]) -> dict[float, list[tuple[int, np.ndarray]]]:
    """Index tracklets by frame time: round(time, 6) -> [(track id, (4,) xyxy box), ...].

    Frames decoded again from the same file carry the same times, so a later pass
    finds each frame's boxes by ``round(frame.time, 6)``.
    """
    out: dict[float, list[tuple[int, np.ndarray]]] = {}
    for tid, tr in tracklets.items():
        for t, box in zip(tr.times, tr.boxes):
            out.setdefault(round(float(t), 6), []).append((tid, box))
    return out


def filter_tracklets(tracklets: dict[int, Tracklet], min_seconds: float, fps: float,
                     min_motion: float = 0.05) -> dict[int, Tracklet]:
    """Drop tracklets shorter than ``min_seconds`` (or seen in fewer than half the frames
    of that span) and motionless ones.

    Motionless: the box centre never moves more than ``min_motion`` box heights and
    its size never changes by more than that fraction — a poster or a statue; a
    standing person sways, breathes and moves their arms.
    """
    out = {}
    for tid, t in tracklets.items():
        # Long enough, and actually seen for at least half of that time (a few scattered
        # false hits joined over a long span are not a person).
        if len(t.times) < max(2, 0.5 * min_seconds * fps) or t.duration + 1 / fps < min_seconds:
            continue
        h = np.median(t.boxes[:, 3] - t.boxes[:, 1])
        centres = np.stack([(t.boxes[:, 0] + t.boxes[:, 2]) / 2, (t.boxes[:, 1] + t.boxes[:, 3]) / 2], axis=1)
        spread = np.ptp(centres, axis=0).max() / h
        size = np.ptp(t.boxes[:, 3] - t.boxes[:, 1]) / h
        if spread < min_motion and size < min_motion:
            continue
        out[tid] = t
    return out
