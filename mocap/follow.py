"""Following people: detection, landmarks and identities in one pass over the video, for the
backends whose landmark network places its own crops (``blazepose``).

Each body is followed as BlazePose follows one: the landmark network runs on a region placed
from the previous frame's landmarks (:func:`~mocap.estimators.blazepose.region_from_landmarks`),
so a person who turns, bends or is half hidden keeps their region without any detector. The
detector only finds bodies not followed yet: its search is spread over the frames
(:class:`Search`: the whole frame, then tiles small enough for small people, the tiles where
something moves that no followed body explains first), and a detection becomes a body only
when the landmark network finds one there that is not one already followed. Where two
regions land on one body (the one behind was covered, and its region slid onto the one in
front), the region whose box jumped has lost its body; it is searched again for a second
where its body was heading.

Identities are the tracker's (:class:`~mocap.track.ByteTracker` on the landmark boxes, every
frame), and tracklets broken by an occlusion are joined by motion and by the body's facing
(:func:`~mocap.track.join_groups`), as on the two-pass path: the landmark boxes are tight
(median IoU ~0.9 with the true boxes) and there is one a body, so association is easy.

Conventions: boxes are ``xyxy`` pixels; a region is (centre (2,), side, axes (2, 2)) as in
:mod:`mocap.estimators.blazepose`; times in seconds.
"""

from __future__ import annotations

import time as clock
from dataclasses import dataclass, field, replace

import numpy as np

from .appearance import mean_look
from .cues import BodyCue, cue_from_estimates
from .detectors import Detections
from .detectors.boxes import covered as box_covered
from .detectors.boxes import iou as box_iou
from .estimators.blazepose import ROI_SCALE, Landmarks, LandmarkNet, region_axes, region_from_landmarks
from .estimators.mediapipe_pose import NUM_LANDMARKS, estimates_on_camera_rays
from .track import ByteTracker, TrackerOptions, Tracklet, filter_tracklets, join_groups

# Box of the whole body (mesh bounds) from the landmarks' bounds (h: their height): the head
# reaches above the eyes and ears, the soles below heels and toes, hands and clothes to the
# sides. Fitted on the calibration half of samples/crowd.mp4 (tests/test_follow.py scores both).
BOX_TOP, BOX_BOTTOM, BOX_SIDE = 0.065, 0.015, 0.015
BODY = slice(11, 33)  # shoulders down: the landmarks that say where a body is
LOOK_FRAMES = 60  # frames (clear of others) whose looks make a tracklet end's look


@dataclass(frozen=True)
class FollowOptions:
    """How people are followed.

    Attributes:
        min_presence: the landmark network's presence below which a body is hidden or gone.
        same_person: two bodies whose landmarks lie closer than this (mean, in body heights) are one.
        same_box: a body found whose box overlaps a followed one's this much (IoU) is not new;
        inside: nor one whose box lies this much inside a followed one's.
        search_seconds: a lost body's region is searched again this long, where it was heading.
        passes_per_second: detector passes a second (a pass: the whole frame, or one tile of it).
        min_seconds: people seen for less than this are dropped.
    """

    min_presence: float = 0.5
    same_person: float = 0.12
    same_box: float = 0.4
    inside: float = 0.8
    search_seconds: float = 1.0
    passes_per_second: float = 10.0
    min_seconds: float = 1.0


def box_from_landmarks(pixels: np.ndarray) -> np.ndarray:
    """(4,) xyxy whole-body box from landmarks (39, 2) pixels (see ``BOX_*``)."""
    points = pixels[:NUM_LANDMARKS]
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    h = max(y1 - y0, 1.0)
    return np.array([x0 - BOX_SIDE * h, y0 - BOX_TOP * h, x1 + BOX_SIDE * h, y1 + BOX_BOTTOM * h])


def landmark_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean distance of two people's body landmarks (39, 2) pixels, in body heights."""
    h = max(np.ptp(a[:NUM_LANDMARKS, 1]), np.ptp(b[:NUM_LANDMARKS, 1]), 1.0)
    return float(np.linalg.norm(a[BODY] - b[BODY], axis=1).mean() / h)


def facing_of(world: np.ndarray, min_length: float = 0.5) -> np.ndarray:
    """(2,) unit direction (camera x, z) a body faces, from its world landmarks (39, 3) in camera
    orientation; NaN when it faces along the vertical or its shoulders and hips are unseen edge-on."""
    across = world[11] - world[12] + world[23] - world[24]  # its right to its left
    up = world[11] + world[12] - world[23] - world[24]  # hips to shoulders
    forward = np.cross(across, up)[[0, 2]]
    length = np.linalg.norm(forward)
    if length < min_length * np.linalg.norm(across) * np.linalg.norm(up) or length == 0:
        return np.full(2, np.nan)
    return forward / length


def region_from_detection(detections: Detections, i: int):
    """A landmark region for detection ``i``: from the detector's hip centre and body radius
    point when it gives them (BlazePose's own detection-to-region), else upright on its box."""
    if detections.keypoints is not None and detections.keypoints.shape[1] >= 2:
        return region_from_landmarks(detections.keypoints[i, :2], centre_index=0, radius_index=1)
    x0, y0, x1, y1 = detections.boxes[i]
    return np.array([(x0 + x1) / 2, (y0 + y1) / 2]), float(y1 - y0) * ROI_SCALE, region_axes(np.array([0.0, -1.0]))


class Search:
    """Where the detector looks in each frame: all its passes (whole frame, tiles) on the first
    frame; then, up to ``passes_per_second``, the tile with the most motion that no followed
    body explains, and otherwise, at ``idle_per_second``, the next pass in turn (for people who
    stand still).

    A detector without passes (one call per image) is called at ``passes_per_second``.
    """

    def __init__(self, detector, width: int, height: int, fps: float, passes_per_second: float,
                 idle_per_second: float = 2.0):
        self.detector = detector
        self.size = (width, height)
        self.passes = detector.passes(width, height) if hasattr(detector, "passes") else None
        self.per_frame = passes_per_second / fps if passes_per_second > 0 else 1.0
        self.idle_per_frame = min(idle_per_second / fps, self.per_frame)
        self.credit = self.idle_credit = 0.0
        self.turn = 0
        self.previous = None  # the last frame, grey, a quarter size
        self.moving = None  # what moved into the last frame outside followed people, a quarter size
        self.searched = False  # whether the last frame had a pass where something moved
        self.first = True

    def __call__(self, image: np.ndarray, followed: list[np.ndarray]) -> Detections:
        """The people found in this frame's passes; ``followed``: the boxes (4,) of who is followed."""
        moving = self.moving = self._motion(image, followed)
        self.searched = False
        nobody = Detections(keypoints=np.zeros((0, 4, 2)) if self.passes is not None else None)
        if self.first:
            self.first = False
            if self.passes is None:
                return self.detector(image)
            return self.detector.merge([self.detector.detect_in(image, p) for p in self.passes], self.size)
        # Credits are not banked beyond one pass: a quiet spell does not buy a burst later.
        self.credit = min(self.credit + self.per_frame, 1.0)
        self.idle_credit = min(self.idle_credit + self.idle_per_frame, 1.0)
        if self.passes is None:
            if self.credit < 1.0 - 1e-9:
                return nobody
            self.credit -= 1.0
            return self.detector(image)
        chosen = self._moving_tile(moving) if self.credit >= 1.0 - 1e-9 else None
        if chosen is not None:
            self.credit -= 1.0
            self.searched = True
        elif self.idle_credit >= 1.0 - 1e-9:
            self.idle_credit -= 1.0
            chosen = self.passes[self.turn % len(self.passes)]
            self.turn += 1
        else:
            return nobody
        return self.detector.merge([self.detector.detect_in(image, chosen)], self.size)

    def _motion(self, image: np.ndarray, followed: list[np.ndarray]) -> np.ndarray | None:
        """Quarter-size mask of what changed since the last frame, outside followed people."""
        if self.passes is None:
            return None
        import cv2

        grey = cv2.resize(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), None, fx=0.25, fy=0.25,
                          interpolation=cv2.INTER_AREA).astype(np.int16)
        previous, self.previous = self.previous, grey
        if previous is None:
            return None
        moving = np.abs(grey - previous) > 12
        for x0, y0, x1, y1 in followed:
            pad_x, pad_y = 0.15 * (x1 - x0), 0.15 * (y1 - y0)
            moving[max(int((y0 - pad_y) / 4), 0):max(int(np.ceil((y1 + pad_y) / 4)), 0),
                   max(int((x0 - pad_x) / 4), 0):max(int(np.ceil((x1 + pad_x) / 4)), 0)] = False
        return moving

    def _moving_tile(self, moving: np.ndarray | None, min_pixels: int = 12):
        """The tile (not the whole frame) with the most unexplained motion, or None."""
        if moving is None or not moving.any():
            return None
        best, most = None, min_pixels
        for part in self.passes[1:]:
            x0, y0, w, h = (int(v) // 4 for v in part)
            n = int(moving[y0:y0 + h, x0:x0 + w].sum())
            if n > most:
                best, most = part, n
        return best

    def moving_region(self, min_area: int = 12, min_height: int = 6):
        """A landmark region around the largest patch of unexplained motion in the last frame
        (at least ``min_area`` quarter-size pixels, ``min_height`` tall), or None: a person the
        detector misses (seen side-on, small) is often found there."""
        import cv2

        if self.moving is None or int(self.moving.sum()) < min_area:
            return None
        mask = cv2.dilate(self.moving.astype(np.uint8), np.ones((3, 3), np.uint8), iterations=2)
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        if n < 2:
            return None
        k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        x, y, w, h, area = stats[k]
        if area < min_area or h < min_height:
            return None
        centre = 4.0 * np.array([x + w / 2, y + h / 2])
        return centre, max(4.0 * max(w, h) * ROI_SCALE, 64.0), region_axes(np.array([0.0, -1.0]))


@dataclass(eq=False)
class _Body:
    """A body the landmark network follows: its last landmarks, box and heading."""

    landmarks: Landmarks
    box: np.ndarray
    time: float  # when last seen
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2))  # box centre, pixels a second
    lost_since: float = 0.0
    strikes: int = 0  # searches that found someone already followed where it was heading

    @property
    def region(self):
        return region_from_landmarks(self.landmarks.pixels)

    def predicted_region(self, time: float):
        """The last region moved along the body's heading to ``time`` (at most a second's worth)."""
        centre, side, axes = self.region
        return centre + self.velocity * min(time - self.time, 1.0), side, axes

    def seen(self, found: Landmarks, time: float) -> None:
        box = box_from_landmarks(found.pixels)
        if time > self.time:
            self.velocity = 0.7 * self.velocity + 0.3 * (_centre(box) - _centre(self.box)) / (time - self.time)
        self.landmarks, self.box, self.time, self.strikes = found, box, time, 0


class BodyFinder:
    """Finds and follows bodies frame by frame (see the module notes); identities are the
    tracker's (:class:`Follower`).

    Args:
        detector: a :class:`~mocap.detectors.Detector` (with ``passes``/``detect_in``/``merge`` its
            search is spread over frames). width, height, fps: the video's.
    """

    def __init__(self, detector, width: int, height: int, fps: float, options: FollowOptions, net: LandmarkNet):
        self.options, self.net = options, net
        self.search = Search(detector, width, height, fps, options.passes_per_second)
        self.bodies: list[_Body] = []  # followed in the last frame
        self.lost: list[_Body] = []  # lost lately: their regions are searched again
        self.timing = {"landmarks": 0.0, "detect": 0.0}

    def step(self, image: np.ndarray, time: float) -> list[Landmarks]:
        """The bodies in an (H, W, 3) uint8 RGB frame at ``time`` s: each one's landmarks."""
        o = self.options
        found = self._landmarks_in(image, [b.region for b in self.bodies])
        # Two regions on one body: the one whose box jumped has lost its own.
        for i in range(len(found)):
            for k in range(i + 1, len(found)):
                if found[i] is not None and found[k] is not None and \
                        landmark_distance(found[i].pixels, found[k].pixels) < o.same_person:
                    jumps = [_jump(self.bodies[j].box, box_from_landmarks(found[j].pixels)) for j in (i, k)]
                    found[(i, k)[int(jumps[1] >= jumps[0])]] = None
        kept = []
        for body, f in zip(self.bodies, found):
            if f is None:
                body.lost_since = time
                self.lost.append(body)
            else:
                body.seen(f, time)
                kept.append(body)
        self.bodies = kept
        self.lost = [b for b in self.lost if time - b.lost_since <= o.search_seconds]
        searched = list(self.lost)  # searched for where they were heading
        for body, f in zip(searched, self._landmarks_in(image, [b.predicted_region(time) for b in searched])):
            if f is None:
                continue
            self.lost.remove(body)
            if self._new_body(f):
                body.seen(f, time)
                self.bodies.append(body)
            elif body.strikes < 2:  # someone followed is there: it was them, or they hide it
                body.strikes += 1
                self.lost.append(body)
        t0 = clock.perf_counter()
        detections = self.search(image, [b.box for b in self.bodies])
        self.timing["detect"] += clock.perf_counter() - t0
        followed = np.array([b.box for b in self.bodies]).reshape(-1, 4)
        for i in range(len(detections)):
            # A detection on someone followed, or on part of them (which the landmark network may
            # fit as a second, smaller body), is no one new.
            box = detections.boxes[i:i + 1]
            if not len(followed) or (box_iou(box, followed).max() <= 0.5 and box_covered(box, followed).max() < 0.7):
                self._try(image, region_from_detection(detections, i), time)
        region = self.search.moving_region() if self.search.searched else None
        if region is not None:
            self._try(image, region, time)
        return [b.landmarks for b in self.bodies]

    def _try(self, image: np.ndarray, region, time: float) -> None:
        """Follow whoever the landmark network finds in ``region``, unless already followed."""
        found = self._landmarks(image, region)
        if found is not None:  # once more, from what that found (BlazePose's own way)
            found = self._landmarks(image, region_from_landmarks(found.pixels))
        if found is not None and self._new_body(found):
            self.bodies.append(_Body(found, box_from_landmarks(found.pixels), time))

    def _landmarks(self, image: np.ndarray, region) -> Landmarks | None:
        return self._landmarks_in(image, [region])[0]

    def _landmarks_in(self, image: np.ndarray, regions: list) -> list[Landmarks | None]:
        """The landmarks in each region (None where too small or nobody is there), side by side."""
        sized = [i for i, r in enumerate(regions) if r[1] >= 8]
        t0 = clock.perf_counter()
        found = self.net.many(image, [regions[i] for i in sized])
        self.timing["landmarks"] += clock.perf_counter() - t0
        out: list[Landmarks | None] = [None] * len(regions)
        for i, f in zip(sized, found):
            out[i] = f if f.presence >= self.options.min_presence else None
        return out

    def _new_body(self, found: Landmarks) -> bool:
        """Not the body of someone followed in this frame: landmarks apart, and a box that is
        neither mostly theirs nor inside theirs (the landmark network also fits part of a person
        as a second, smaller body). Someone wholly in front of or behind a followed person is
        found once they come apart."""
        if not self.bodies:
            return True
        box = box_from_landmarks(found.pixels)[None]
        followed = np.array([b.box for b in self.bodies])
        return (all(landmark_distance(found.pixels, b.landmarks.pixels) >= self.options.same_person
                    for b in self.bodies)
                and box_iou(box, followed).max() < self.options.same_box
                and box_covered(box, followed).max() < self.options.inside)


@dataclass
class Followed:
    """One person followed through a video.

    Attributes:
        id: their track id (stable over the video, 1-based).
        rows: per frame seen: (frame number, time, box (4,) xyxy, presence, world (33, 3) float32
            metres in camera orientation, pixels (33, 3) float32 x, y, visibility, look
            (LOOK_SIZE,) of :mod:`mocap.appearance` or None where not clear of others).
    """

    id: int
    rows: list = field(default_factory=list)


class Follower:
    """Follows everyone in a video: bodies found by :class:`BodyFinder`, identities by the
    tracker (see the module notes).

    Args:
        detector: see :class:`BodyFinder`. width, height, fps: the video's.
        threads: the cores the landmark network may use (any number gives the same bytes).
    """

    def __init__(self, detector, width: int, height: int, fps: float, options: FollowOptions | None = None,
                 threads: int = 1):
        self.options = options or FollowOptions()
        self.fps = fps
        self.finder = BodyFinder(detector, width, height, fps, self.options, LandmarkNet(threads=threads))
        self.tracker = ByteTracker(fps, TrackerOptions(hold_merged=True))
        self.people: dict[int, Followed] = {}

    @property
    def timing(self) -> dict[str, float]:
        """Seconds spent in the detector ("detect") and the landmark network ("landmarks")."""
        return self.finder.timing

    def close(self) -> None:
        """Stop the networks' threads (what was followed is kept)."""
        self.finder.net.close()

    def step(self, number: int, time: float, image: np.ndarray) -> None:
        """Follow everyone into frame ``number`` (at ``time`` s), an (H, W, 3) uint8 RGB image."""
        bodies = self.finder.step(image, time)
        boxes = np.array([box_from_landmarks(b.pixels) for b in bodies]).reshape(-1, 4)
        facing = np.array([facing_of(b.world) for b in bodies]).reshape(-1, 2)
        self.tracker.update(Detections(boxes, [b.presence for b in bodies]), facing)
        clear = clear_of_others(boxes)
        for tid, i in sorted(self.tracker.taken.items()):
            b = bodies[i]
            pixels = np.column_stack([b.pixels[:NUM_LANDMARKS], b.visibility[:NUM_LANDMARKS]])
            self.people.setdefault(tid, Followed(tid)).rows.append(
                (number, time, boxes[i], b.presence, b.world[:NUM_LANDMARKS].astype(np.float32),
                 pixels.astype(np.float32), b.look if clear[i] else None))

    def finish(self, K: np.ndarray | None = None, skeleton=None) -> dict[int, Followed]:
        """Everyone followed (see :func:`settle`)."""
        people, self.people = self.people, {}
        return settle(people, self.fps, self.options.min_seconds, K, skeleton)


def clear_of_others(boxes: np.ndarray, max_overlap: float = 0.05) -> np.ndarray:
    """(N,) bool: which of the boxes (N, 4) xyxy overlap no other by more than ``max_overlap``
    of their area (where a person's colours are theirs alone)."""
    if len(boxes) < 2:
        return np.ones(len(boxes), bool)
    covered = box_covered(boxes, boxes)
    np.fill_diagonal(covered, 0.0)
    return covered.max(axis=1) <= max_overlap


def settle(people: dict[int, Followed], fps: float, min_seconds: float, K: np.ndarray | None = None,
           skeleton=None) -> dict[int, Followed]:
    """Everyone followed for ``min_seconds``, by id, their tracklets joined across gaps by
    motion and look (with intrinsics ``K`` (3, 3) and a ``skeleton``, by the body's facing too)."""
    tracklets = {tid: tracklet_of(p) for tid, p in people.items()}
    if K is not None and skeleton is not None:
        cues = {tid: (end_cue(p, K, skeleton, 0), end_cue(p, K, skeleton, -1)) for tid, p in people.items()}
    else:
        cues = {tid: (BodyCue(None, None, end_look(p, 0)), BodyCue(None, None, end_look(p, -1)))
                for tid, p in people.items()}
    joined = {tid: Followed(tid, [r for i in ids for r in people[i].rows])
              for tid, ids in join_groups(tracklets, cues=cues).items()}
    # No motionless filter: the landmark network's presence says a person is there.
    kept = filter_tracklets({tid: tracklet_of(p) for tid, p in joined.items()}, min_seconds, fps, min_motion=0.0)
    return {tid: joined[tid] for tid in kept}


def stitch(parts: list[tuple[float, dict[int, Followed]]], min_iou: float = 0.5, min_frames: int = 3
           ) -> dict[int, Followed]:
    """People followed over consecutive segments of a clip, as one: each segment's people are
    matched to the earlier segments' by their boxes on the frames both followed (a segment starts
    a little early), one to one, cheapest first; the others get new ids. What a segment saw
    before its start is then dropped.

    Args:
        parts: (start time, track id -> :class:`Followed`) per segment, in time order.
    Returns:
        id -> :class:`Followed`, ids numbered from 1 in order of first appearance.
    """
    from scipy.optimize import linear_sum_assignment

    merged: dict[int, Followed] = {}
    for start, people in parts:
        ids = sorted(people)
        earlier = sorted(merged)
        cost = np.ones((len(ids), len(earlier)))
        for i, tid in enumerate(ids):
            mine = {r[0]: r[2] for r in people[tid].rows if r[1] < start - 1e-6}
            for k, gid in enumerate(earlier):
                both = [(mine[r[0]], r[2]) for r in merged[gid].rows[-len(mine) - 1:] if r[0] in mine]
                if len(both) >= min_frames:
                    a, b = (np.array(x) for x in zip(*both))
                    cost[i, k] = 1.0 - float(np.mean([box_iou(x[None], y[None])[0, 0] for x, y in zip(a, b)]))
        match = {}
        if len(ids) and len(earlier):
            rows, cols = linear_sum_assignment(cost)
            match = {ids[r]: earlier[c] for r, c in zip(rows, cols) if cost[r, c] <= 1.0 - min_iou}
        for tid in ids:
            rows = [r for r in people[tid].rows if r[1] >= start - 1e-6]
            if not rows:
                continue
            if tid in match:
                merged[match[tid]].rows.extend(rows)
            else:
                gid = len(merged) + 1
                merged[gid] = Followed(gid, rows)
    return merged


def end_cue(p: Followed, K: np.ndarray, skeleton, end: int, frames: int = 3) -> BodyCue:
    """A followed person's body cue at their first (``end`` 0) or last (-1) frames: facing over
    a few, look over more (:func:`end_look`)."""
    rows = p.rows[:frames] if end == 0 else p.rows[-frames:]
    cue = cue_from_estimates(estimates_of(Followed(p.id, rows), K, skeleton))
    return replace(cue, look=end_look(p, end))


def end_look(p: Followed, end: int, frames: int = LOOK_FRAMES, min_frames: int = 5) -> np.ndarray | None:
    """A followed person's mean look over the ``frames`` frames nearest their first (``end`` 0)
    or last (-1) frame where they stood clear of others; None if there are fewer than
    ``min_frames``."""
    looks = [r[6] for r in (p.rows if end == 0 else reversed(p.rows)) if r[6] is not None][:frames]
    return mean_look(looks) if len(looks) >= min_frames else None


def _jump(before: np.ndarray, after: np.ndarray) -> float:
    """How far a box (4,) xyxy moved and changed size, in its height."""
    h = max(before[3] - before[1], 1.0)
    return float(np.linalg.norm(_centre(after) - _centre(before)) / h + abs(np.log(max(after[3] - after[1], 1.0) / h)))


def _centre(box: np.ndarray) -> np.ndarray:
    return np.array([(box[0] + box[2]) / 2, (box[1] + box[3]) / 2])


def tracklet_of(p: Followed) -> Tracklet:
    """A followed person's :class:`~mocap.track.Tracklet` (boxes from the landmarks, presence as score)."""
    rows = p.rows
    return Tracklet(p.id, np.array([r[0] for r in rows], int), np.array([r[1] for r in rows]),
                    np.array([r[2] for r in rows]).reshape(-1, 4), np.array([r[3] for r in rows]))


def landmarks_of(p: Followed) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A followed person's times (T,), world landmarks (T, 33, 3) and pixels (T, 33, 3: x, y, visibility)."""
    rows = p.rows
    return (np.array([r[1] for r in rows]), np.array([r[4] for r in rows], np.float64).reshape(-1, NUM_LANDMARKS, 3),
            np.array([r[5] for r in rows], np.float64).reshape(-1, NUM_LANDMARKS, 3))


def estimates_of(p: Followed, K: np.ndarray, skeleton, off_centre: bool = True):
    """A followed person's :class:`~mocap.estimators.Estimates`, as the ``blazepose`` backend makes them."""
    times, world, pixels = landmarks_of(p)
    return estimates_on_camera_rays(times, world, pixels, np.ones(len(times), bool), K, skeleton, off_centre)
