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

from .detectors import Detections
from .detectors.boxes import covered as box_covered
from .detectors.boxes import covered_pairs
from .detectors.boxes import iou as box_iou
from .errors import EXIT_USAGE, MocapError


# Looks (mocap.appearance.look_distance) of two tracklet ends: further apart than MAX_LOOK they
# are two people; within SAME_LOOK one person, wherever and whenever they come back. Calibrated
# on crowd, crossing, turnaway and turn_jump (scripts/calibrate_looks.py): one person's look
# over a third of a clip against another third 0.08-0.42, single frames up to 0.65; two
# people 0.82-0.97.
MAX_LOOK = 0.75
SAME_LOOK = 0.5
LOOK_RATIO = 0.5  # and a rejoin's look at most half as far as anyone's seen beside them

@dataclass
class TrackerOptions:
    high_score: float = 0.5  # first-stage boxes
    low_score: float = 0.1  # below this a box is ignored
    new_track_score: float = 0.6  # a new track needs a box at least this confident
    match_iou: float = 0.2  # first stage: minimum IoU (after score fusion)
    buffer: float = 0.3  # first stage: boxes grown by this fraction of their size on each side
    low_match_iou: float = 0.5  # second stage against low-score boxes
    lost_seconds: float = 1.0  # a track unseen this long is finished
    confirm_hits: int = 2  # consecutive hits before a new track is reported
    duplicate_overlap: float = 0.5  # no new track from a box this much on a tracked person's box
    max_turn: float = 120.0  # degrees: a body facing further from its track's facing is someone else
    hold_merged: bool = False  # a box fitting two tracks alike is taken by neither (see ByteTracker._merged)


def _xyah(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) xyxy -> (N, 4) centre x, centre y, aspect w/h, height."""
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    return np.stack([boxes[:, 0] + w / 2, boxes[:, 1] + h / 2, w / np.maximum(h, 1e-6), h], axis=1)


def _xyxy(mean: np.ndarray) -> np.ndarray:
    """(N, 8) filter states -> (N, 4) xyxy boxes."""
    cx, cy, a, h = mean[:, 0], mean[:, 1], mean[:, 2], mean[:, 3]
    w = a * h
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


# Constant-velocity Kalman filter on (cx, cy, a, h, and their velocities), all tracks at
# once, with noise proportional to the box height (the SORT/DeepSORT parameterisation
# ByteTrack uses). Shapes: mean (N, 8), cov (N, 8, 8), measurements (N, 4).
_F = np.eye(8) + np.eye(8, k=4)
_POS, _VEL = 1 / 20, 1 / 160


def _noise(h: np.ndarray, pos: float, vel: float, aspect: tuple[float, float]) -> np.ndarray:
    """(N,) heights -> (N, 8) standard deviations."""
    p, v = pos * h, vel * h
    return np.stack([p, p, np.full_like(h, aspect[0]), p, v, v, np.full_like(h, aspect[1]), v], axis=1)


def kalman_init(boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, 4) xyxy -> mean (N, 8) at rest, cov (N, 8, 8)."""
    z = _xyah(boxes)
    std = _noise(z[:, 3], 2 * _POS, 10 * _VEL, (1e-2, 1e-5))
    mean = np.concatenate([z, np.zeros_like(z)], axis=1)
    return mean, std[:, :, None] ** 2 * np.eye(8)


def kalman_predict(mean: np.ndarray, cov: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One frame ahead: mean (N, 8), cov (N, 8, 8) -> the same shapes."""
    q = _noise(mean[:, 3], _POS, _VEL, (1e-2, 1e-5))
    return mean @ _F.T, _F @ cov @ _F.T + q[:, :, None] ** 2 * np.eye(8)


def kalman_update(mean: np.ndarray, cov: np.ndarray, boxes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Correct with measured (N, 4) xyxy boxes: mean (N, 8), cov (N, 8, 8) -> the same shapes."""
    r = _noise(mean[:, 3], _POS, 0.0, (1e-1, 0.0))[:, :4]
    S = cov[:, :4, :4] + r[:, :, None] ** 2 * np.eye(4)
    gain = np.linalg.solve(S, cov[:, :4, :]).transpose(0, 2, 1)  # (N, 8, 4) = P H^T S^-1 (S symmetric)
    innovation = _xyah(boxes) - mean[:, :4]
    mean = mean + np.einsum("nij,nj->ni", gain, innovation)
    cov = cov - gain @ cov[:, :4, :]
    return mean, cov


@dataclass
class _Track:
    id: int
    score: float
    hits: int = 1
    last_seen: int = 0  # frame number
    confirmed: bool = False
    facing: np.ndarray | None = None  # (2,) unit, camera x and z, the body's recent facing


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
        self.mean, self.cov = np.zeros((0, 8)), np.zeros((0, 8, 8))  # filter state, one row per track
        self.frame = -1
        self._next_id = 1
        self.taken: dict[int, int] = {}  # the last update's reported tracks: id -> detection index

    def update(self, detections: Detections, facing: np.ndarray | None = None) -> list[tuple[int, np.ndarray, float]]:
        """Advance one frame.

        Args:
            facing: (N, 2) per detection the unit direction (camera x, z) the body faces, NaN where
                unknown: a track is not given a body facing more than ``max_turn`` degrees away
                from where it faced (two people crossing face opposite ways).
        Returns:
            (track id, (4,) xyxy box, score) for every confirmed track seen in this frame;
            the box is the detection's, not the filter's.
        """
        o = self.options
        self.frame += 1
        if self.tracks:
            self.mean, self.cov = kalman_predict(self.mean, self.cov)
        keep = detections.scores >= o.low_score
        dets, kept = detections[keep], np.flatnonzero(keep)
        self.taken = {}
        facing = None if facing is None else np.asarray(facing, float).reshape(-1, 2)[keep]
        predicted = _xyxy(self.mean)
        # Buffered IoU of every track's predicted box with every box, (tracks, boxes): which are near.
        overlap = box_iou(_grow(predicted, o.buffer), _grow(dets.boxes, o.buffer))
        allowed = self._facing_allows(facing, overlap)
        held = self._merged(overlap) if o.hold_merged else np.zeros(len(dets), bool)
        high = np.flatnonzero((dets.scores >= o.high_score) & ~held)
        low = np.flatnonzero((dets.scores < o.high_score) & ~held)

        # Stage 1: every track (seen or recently lost) against confident boxes, IoU fused with score.
        matched = _match(predicted, np.arange(len(self.tracks)), high, dets, fuse=True, min_iou=o.match_iou,
                         buffer=o.buffer, allowed=allowed)
        # Stage 2: tracks seen last frame but unmatched, against low-score boxes (occluded people).
        rest = [i for i, t in enumerate(self.tracks) if i not in matched and t.last_seen == self.frame - 1]
        matched.update(_match(predicted, rest, low, dets, fuse=False, min_iou=o.low_match_iou, allowed=allowed))

        out = []
        if matched:
            rows, cols = np.array(list(matched)), np.array(list(matched.values()))
            self.mean[rows], self.cov[rows] = kalman_update(self.mean[rows], self.cov[rows], dets.boxes[cols])
        for i, d in matched.items():
            t = self.tracks[i]
            t.hits = t.hits + 1 if t.last_seen == self.frame - 1 else 1
            t.last_seen, t.score = self.frame, float(dets.scores[d])
            if facing is not None and np.all(np.isfinite(facing[d])):
                mixed = facing[d] if t.facing is None else t.facing + facing[d]
                t.facing = mixed / max(np.linalg.norm(mixed), 1e-9)
            t.confirmed |= t.hits >= o.confirm_hits
            if t.confirmed:
                out.append((t.id, dets.boxes[d].copy(), t.score))
                self.taken[t.id] = int(kept[d])
        used = set(matched.values()) | set(np.flatnonzero(held).tolist())
        new = [d for d in high if d not in used and dets.scores[d] >= o.new_track_score]
        if new and used:
            # A second box on someone already tracked (a fragment, or a box of another scale
            # that NMS kept) is not a new person: two tracks on one body trade ids later.
            taken = dets.boxes[sorted(used)]
            overlap = np.maximum(box_iou(dets.boxes[new], taken), box_covered(dets.boxes[new], taken))
            new = [d for d, o_ in zip(new, overlap.max(axis=1)) if o_ < o.duplicate_overlap]
        for d in new:
            t = _Track(self._next_id, float(dets.scores[d]), last_seen=self.frame)
            if facing is not None and np.all(np.isfinite(facing[d])):
                t.facing = facing[d]
            t.confirmed = self.frame == 0 or o.confirm_hits <= 1  # people already there at the start
            self._next_id += 1
            self.tracks.append(t)
            if t.confirmed:
                out.append((t.id, dets.boxes[d].copy(), t.score))
                self.taken[t.id] = int(kept[d])
        if new:
            mean, cov = kalman_init(dets.boxes[new])
            self.mean, self.cov = np.concatenate([self.mean, mean]), np.concatenate([self.cov, cov])
        # Forget tentative tracks missed once, and confirmed ones lost for too long.
        alive = [i for i, t in enumerate(self.tracks)
                 if (t.confirmed and self.frame - t.last_seen <= self.max_lost) or t.last_seen == self.frame]
        if len(alive) < len(self.tracks):
            self.tracks = [self.tracks[i] for i in alive]
            self.mean, self.cov = self.mean[alive], self.cov[alive]
        return sorted(out, key=lambda r: r[0])

    def _merged(self, overlap: np.ndarray, alike: float = 0.8) -> np.ndarray:
        """(N,) bool: boxes that are two tracked people at once (two crossing people seen as one
        body): the only box near two tracks, fitting both alike (IoU within ``alike`` of each other).
        Neither track takes it: both are held and their boxes filled in between.
        ``overlap``: (tracks, N) buffered IoU of the predicted boxes with the boxes."""
        out = np.zeros(overlap.shape[1], bool)
        if len(self.tracks) < 2 or not overlap.shape[1]:
            return out
        near = overlap >= self.options.match_iou
        for d in np.flatnonzero(near.sum(axis=0) >= 2):
            rows = np.flatnonzero(near[:, d])
            if np.all(near[rows].sum(axis=1) == 1):  # no other box near either track
                best = np.sort(overlap[rows, d])[::-1]
                out[d] = best[1] >= alike * best[0]
        return out

    def _facing_allows(self, facing: np.ndarray | None, overlap: np.ndarray) -> np.ndarray | None:
        """(tracks, detections) bool: which may match, by facing. Only where a track could take
        more than one body, or a body more than one track (people crossing), must the body face
        within ``max_turn`` degrees of the track's facing; a person alone may turn round (and the
        landmarks' front and back may swap) without losing their track. ``overlap`` as for
        :meth:`_merged`."""
        if facing is None or not self.tracks or not overlap.shape[1]:
            return None
        o = self.options
        near = overlap >= o.match_iou
        contested = near & ((near.sum(axis=1, keepdims=True) > 1) | (near.sum(axis=0, keepdims=True) > 1))
        known = np.array([t.facing if t.facing is not None else [np.nan, np.nan] for t in self.tracks])
        cos = np.nan_to_num(known, nan=0.0) @ np.nan_to_num(facing, nan=0.0).T
        unknown = ~np.isfinite(known[:, :1]) | ~np.all(np.isfinite(facing), axis=1)[None, :]
        return ~contested | unknown | (cos >= np.cos(np.radians(o.max_turn)))


def _match(predicted: np.ndarray, track_idx, det_idx, dets: Detections, fuse: bool, min_iou: float,
           buffer: float = 0.0, allowed: np.ndarray | None = None) -> dict[int, int]:
    """Hungarian matching of tracks (rows of ``predicted``, (N, 4) xyxy) to detections by IoU,
    optionally weighted by detection score. Returns track index -> detection index.

    ``buffer`` grows both sets of boxes by that fraction of their width and height on
    each side before the IoU (the buffered IoU of C-BIoU, Yang et al. 2023): at low
    frame rates a walking person moves most of a box width between frames, so plain
    IoU with a young track (no velocity yet) is near zero. ``allowed``: (tracks, detections)
    bool, the pairs that may match at all (None: all).
    """
    track_idx, det_idx = list(track_idx), list(det_idx)
    if not track_idx or not det_idx:
        return {}
    iou = box_iou(_grow(predicted[track_idx], buffer), _grow(dets.boxes[det_idx], buffer))
    if allowed is not None:
        iou = np.where(allowed[np.ix_(track_idx, det_idx)], iou, 0.0)
    sim = iou * dets.scores[det_idx][None, :] if fuse else iou
    rows, cols = linear_sum_assignment(-sim)
    return {track_idx[r]: det_idx[c] for r, c in zip(rows, cols) if iou[r, c] >= min_iou}


def _grow(boxes: np.ndarray, fraction: float) -> np.ndarray:
    """(N, 4) xyxy boxes grown by ``fraction`` of their width/height on every side."""
    if not fraction:
        return boxes
    pad = fraction * (boxes[:, 2:] - boxes[:, :2])
    return np.concatenate([boxes[:, :2] - pad, boxes[:, 2:] + pad], axis=1)


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


def join_tracklets(tracklets: dict[int, Tracklet], max_gap: float = 5.0, max_jump: float = 1.5,
                   cues: dict | None = None, turn_rate: float = 180.0, max_shape: float = 2.0) -> dict[int, Tracklet]:
    """Join tracklets that are the same person coming back after a gap (see :func:`join_groups`);
    the joined tracklet keeps the earlier id."""
    out = {}
    for tid, ids in join_groups(tracklets, max_gap, max_jump, cues, turn_rate, max_shape).items():
        parts = [tracklets[i] for i in ids]
        out[tid] = Tracklet(tid, *(np.concatenate([getattr(p, f) for p in parts]) for f in ("frames", "times", "boxes", "scores")))
    return dict(sorted(out.items()))


def join_groups(tracklets: dict[int, Tracklet], max_gap: float = 5.0, max_jump: float = 1.5,
                cues: dict | None = None, turn_rate: float = 180.0, max_shape: float = 2.0,
                max_look: float = MAX_LOOK, same_look: float = SAME_LOOK) -> dict[int, list[int]]:
    """Which tracklets are one person coming back after a gap: the first id -> the ids, in time order.

    A later tracklet may continue an earlier one when :func:`continuation_distance`
    allows it (starts soon after, near where the earlier one was heading, same
    height within a factor 1.5). With body ``cues`` (id -> (cue at start, cue at end), see
    :mod:`mocap.cues`), a body facing another way than it could have turned in the
    gap (60° plus ``turn_rate`` degrees per second; people who cross face opposite
    ways) costs more, one of another shape (betas further apart than ``max_shape``) or
    another look (colours further apart than ``max_look``, :func:`mocap.appearance.look_distance`)
    cannot be the same person. One who looks the same (within ``same_look``), and more alike
    than anyone seen beside either (:func:`_distinct_look`), may continue a tracklet anywhere
    and after any gap (someone who left the picture and came back), at a higher cost than any
    join by motion. Candidates are joined greedily, cheapest first (cost: distance in box
    heights plus body cost).
    """
    from .appearance import look_distance

    items = sorted(tracklets.values(), key=lambda t: t.times[0])
    cues = cues or {}
    pairs = []
    for a in items:
        for b in items:
            if b.id == a.id or b.times[0] <= a.times[-1]:
                continue
            end, start = cues.get(a.id, (None, None))[1], cues.get(b.id, (None, None))[0]
            score = continuation_distance(a.boxes[-10:], a.times[-10:], b.boxes[0], b.times[0], max_gap, max_jump)
            if score is None:
                look = _distinct_look(a, b, items, cues, same_look)
                if look is not None:
                    pairs.append((max_jump + 1.0 + look / same_look, a.id, b.id))
                continue
            body = _body_cost(end, start, b.times[0] - a.times[-1], turn_rate, max_shape, max_look)
            if body is not None:
                pairs.append((score + body, a.id, b.id))
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

    groups: dict[int, list[int]] = {}
    for t in items:
        groups.setdefault(root(t.id), []).append(t.id)
    return groups


def continuation_distance(end_boxes: np.ndarray, end_times: np.ndarray, start_box: np.ndarray, start_time: float,
                          max_gap: float = 5.0, max_jump: float = 1.5) -> float | None:
    """How far (in box heights) a track that starts with ``start_box`` at ``start_time``
    is from where an earlier track was heading; None if it cannot continue it.

    Args:
        end_boxes: (k, 4) xyxy, the earlier track's last boxes (k >= 1; up to 10 give its speed);
        end_times: (k,) their times. start_box: (4,) xyxy.
    Conditions: it starts after the end, within ``max_gap`` seconds; its height agrees
    within a factor 1.5; its centre is at most ``max_jump`` box heights from where the
    earlier track was (or would be, at its last speed).
    """
    gap = start_time - end_times[-1]
    if gap <= 0 or gap > max_gap:
        return None
    end_box = end_boxes[-1]
    ha, hb = end_box[3] - end_box[1], start_box[3] - start_box[1]
    if not (1 / 1.5 < hb / max(ha, 1e-6) < 1.5):
        return None
    span = end_times[-1] - end_times[0]
    velocity = (_centre(end_box) - _centre(end_boxes[0])) / span if span > 1e-6 else 0.0
    start = _centre(start_box)
    dist = min(np.linalg.norm(start - _centre(end_box) - velocity * gap), np.linalg.norm(start - _centre(end_box)))
    score = dist / max(ha, 1e-6)
    return score if score <= max_jump else None


def _distinct_look(a: Tracklet, b: Tracklet, items: list[Tracklet], cues: dict, same_look: float,
                   ratio: float = LOOK_RATIO) -> float | None:
    """The look distance of ``a``'s end and ``b``'s start when it says they are one person: within
    ``same_look``, and under ``ratio`` times the distance of either to anyone seen at the same
    time as the other or itself (people known to be someone else: where many dress alike, a
    look tells no one apart). None otherwise, or without looks."""
    from .appearance import look_distance

    end, start = cues.get(a.id, (None, None))[1], cues.get(b.id, (None, None))[0]
    if end is None or start is None or end.look is None or start.look is None:
        return None
    look = look_distance(end.look, start.look)
    if look > same_look:
        return None
    for c in items:
        if c.id in (a.id, b.id) or not any(_overlap(c, x) for x in (a, b)):
            continue
        for cue in cues.get(c.id, ()):
            if cue is not None and cue.look is not None and \
                    look > ratio * min(look_distance(cue.look, end.look), look_distance(cue.look, start.look)):
                return None
    return look


def _overlap(a: Tracklet, b: Tracklet) -> bool:
    return a.times[0] <= b.times[-1] and b.times[0] <= a.times[-1]


def _body_cost(end, start, gap: float, turn_rate: float, max_shape: float, max_look: float = MAX_LOOK
               ) -> float | None:
    """Cost (in box heights) of one body cue becoming the other after ``gap`` seconds;
    None when it cannot be the same person. Missing cues cost nothing.

    Facing only adds cost (the turn a person could not have made in the gap, 90° =
    one box height), never forbids a join: MediaPipe often mistakes a person seen
    from behind for one facing the camera, and such a flip must not split a track.
    Shape forbids: betas that differ by more than ``max_shape`` are two bodies; so does
    look: colours further apart than ``max_look`` are two people's clothes.
    """
    from .appearance import look_distance

    cost = 0.0
    if end is None or start is None:
        return cost
    if end.facing is not None and start.facing is not None:
        turn = np.degrees(np.arccos(np.clip(end.facing @ start.facing, -1.0, 1.0)))
        cost += max(0.0, turn - 60.0 - turn_rate * gap) / 90.0
    if end.betas is not None and start.betas is not None:
        shape = float(np.linalg.norm(end.betas - start.betas))
        if shape > max_shape:
            return None
        cost += shape / max_shape
    if end.look is not None and start.look is not None:
        look = look_distance(end.look, start.look)
        if look > max_look:
            return None
        cost += look / max_look
    return cost


def _centre(box: np.ndarray) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])


def boxes_at_time(tracklets: dict[int, Tracklet], time: float, tolerance: float = 1e-6
                  ) -> list[tuple[int, np.ndarray]]:
    """[(track id, (4,) xyxy box), ...] of the tracklets with a box at ``time`` (seconds).

    Frames decoded again from the same file carry the same times, so a later pass finds
    each frame's boxes by its time. A binary search in each tracklet's sorted times:
    no index built per frame (memory flat with video length).
    """
    out = []
    for tid, tr in tracklets.items():
        i = int(np.searchsorted(tr.times, time - tolerance))
        if i < len(tr.times) and tr.times[i] <= time + tolerance:
            out.append((tid, tr.boxes[i]))
    return out


def drop_fragments(tracklets: dict[int, Tracklet], inside: float = 0.8, share: float = 0.7) -> dict[int, Tracklet]:
    """Drop tracklets that are part of another person: where a larger tracklet is seen at
    the same time (in at least a third of their frames), their box lies mostly
    (``inside`` of its area) within that one's in at least ``share`` of those frames —
    a detector's box on someone's torso or legs, tracked on its own."""
    at = {tid: {round(float(t), 6): b for t, b in zip(tr.times, tr.boxes)} for tid, tr in tracklets.items()}
    area = {tid: np.median((tr.boxes[:, 2] - tr.boxes[:, 0]) * (tr.boxes[:, 3] - tr.boxes[:, 1]))
            for tid, tr in tracklets.items()}
    out = {}
    for tid, tr in tracklets.items():
        keys = [round(float(t), 6) for t in tr.times]
        fragment = False
        for other, boxes in at.items():
            if other == tid or area[other] <= area[tid]:
                continue
            pairs = [(tr.boxes[i], boxes[k]) for i, k in enumerate(keys) if k in boxes]
            if len(pairs) < len(keys) / 3:
                continue
            mine, theirs = (np.array(x) for x in zip(*pairs))
            covered = covered_pairs(mine, theirs)  # each box against its own frame's
            fragment |= np.mean(covered >= inside) >= share
        if not fragment:
            out[tid] = tr
    return out


def filter_tracklets(tracklets: dict[int, Tracklet], min_seconds: float, fps: float,
                     min_motion: float = 0.05, static_seconds: float = 3.0) -> dict[int, Tracklet]:
    """Drop tracklets shorter than ``min_seconds`` (or seen in fewer than half the frames
    of that span) and motionless ones.

    Motionless: seen for at least ``static_seconds`` while the box centre never moves
    more than ``min_motion`` box heights and its size never changes by more than that
    fraction — a poster or a statue; a standing person sways, breathes and moves their
    arms. Shorter tracks are not judged: HOG's boxes sit on a coarse grid, so a person
    standing still for a second or two can keep exactly the same box.
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
        if spread < min_motion and size < min_motion and t.duration >= static_seconds:
            continue
        out[tid] = t
    return out


def fill_frames(tracklet: Tracklet, frames: np.ndarray, times: np.ndarray, max_gap: float,
                hold: float = 0.0) -> Tracklet:
    """Give a tracklet a box on every decoded frame between its detections.

    Boxes and scores are interpolated linearly in time across gaps of at most
    ``max_gap`` seconds (frames the detector skipped or missed); longer gaps (the
    person hidden or away) stay empty. The first and last boxes are held for
    ``hold`` seconds before and after (the frames between detector runs there).

    Args:
        frames: (N,) frame numbers of every decoded frame; times: (N,) their times, increasing.
    """
    lo, hi = tracklet.times[0] - hold, tracklet.times[-1] + hold
    inside = (times >= lo - 1e-9) & (times <= hi + 1e-9)
    t_all, f_all = times[inside], frames[inside]
    # Seconds from each frame to the detections either side of it.
    right = np.clip(np.searchsorted(tracklet.times, t_all - 1e-9), 0, len(tracklet.times) - 1)
    left = np.clip(right - 1, 0, None)
    exact = np.abs(tracklet.times[right] - t_all) < 1e-6
    keep = exact | (tracklet.times[right] - tracklet.times[left] <= max_gap + 1e-9)
    t_all, f_all = t_all[keep], f_all[keep]
    boxes = np.stack([np.interp(t_all, tracklet.times, tracklet.boxes[:, k]) for k in range(4)], axis=1)
    return Tracklet(tracklet.id, f_all.astype(int), t_all, boxes, np.interp(t_all, tracklet.times, tracklet.scores))


def select_people(tracklets: dict[int, Tracklet], persons: str) -> dict[int, Tracklet]:
    """``all``; ``largest`` (the tallest median box — usually the main subject); or ids "3,5"."""
    if persons == "all" or not tracklets:
        return tracklets
    if persons == "largest":
        tid = max(tracklets, key=lambda i: np.median(tracklets[i].boxes[:, 3] - tracklets[i].boxes[:, 1]))
        return {tid: tracklets[tid]}
    try:
        wanted = [int(x) for x in persons.split(",") if x.strip()]
    except ValueError:
        raise MocapError(f"--person takes 'all', 'largest' or track ids like 3,5; got {persons!r}",
                         exit_code=EXIT_USAGE) from None
    missing = [i for i in wanted if i not in tracklets]
    if missing:
        raise MocapError(f"--person: no track {', '.join(map(str, missing))} "
                         f"(tracks: {', '.join(map(str, tracklets)) or 'none'})", exit_code=EXIT_USAGE)
    return {i: tracklets[i] for i in wanted}
