"""ByteTrack-style tracking, tracklet joining and filtering on synthetic boxes."""

import numpy as np

from mocap.detectors import Detections
from mocap.track import ByteTracker, box_iou, collect, filter_tracklets, join_tracklets


def _box(cx, cy, h=200.0, aspect=0.4):
    w = h * aspect
    return [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]


def _run(frames, fps=30.0):
    tracker = ByteTracker(fps)
    out = [(i, i / fps, tracker.update(Detections(*det))) for i, det in enumerate(frames)]
    return collect(out)


def _crossing(T=90, hidden=range(40, 50), hidden_score=None):
    """A walks right, B walks left; they cross in the middle, where B is behind A:
    B's box is missing (hidden_score None) or detected with a low score."""
    frames = []
    for t in range(T):
        a = _box(100 + 5 * t, 300)
        b = _box(550 - 5 * t, 290, h=190)
        boxes, scores = [a], [0.9]
        if t not in hidden:
            boxes.append(b)
            scores.append(0.85)
        elif hidden_score is not None:
            boxes.append(b)
            scores.append(hidden_score)
        frames.append((np.array(boxes), np.array(scores)))
    return frames


def _ids_per_person(tracklets, T):
    """The set of track ids given to each synthetic person (told apart by box height: 200 vs 190)."""
    ids = {"A": set(), "B": set()}
    for tid, tr in tracklets.items():
        for box in tr.boxes:
            ids["A" if box[3] - box[1] > 195 else "B"].add(tid)
    return ids


def test_crossing_with_missed_frames_keeps_identities():
    ids = _ids_per_person(_run(_crossing()), 90)
    assert len(ids["A"]) == 1 and len(ids["B"]) == 1 and ids["A"] != ids["B"]


def test_low_score_boxes_keep_an_occluded_person_tracked():
    tracklets = _run(_crossing(hidden_score=0.3))
    ids = _ids_per_person(tracklets, 90)
    assert len(ids["A"]) == 1 and len(ids["B"]) == 1
    b = tracklets[next(iter(ids["B"]))]
    assert set(range(40, 50)) <= set(b.frames.tolist())  # seen through the occlusion


def test_lost_buffer_is_counted_in_seconds():
    def clip(fps, gap_s):
        frames = []
        T = int(3 * fps)
        gap = range(int(fps), int(fps) + int(gap_s * fps))
        for t in range(T):
            box = _box(100 + 150 * t / fps, 300)
            frames.append((np.array([box]), np.array([0.9])) if t not in gap else (np.zeros((0, 4)), np.zeros(0)))
        return _run(frames, fps)

    for fps in (10.0, 60.0):
        assert len(clip(fps, 0.5)) == 1  # within the 1 s buffer: same id
        assert len(clip(fps, 1.5)) == 2  # beyond it: a new tracklet ...
        assert len(join_tracklets(clip(fps, 1.5))) == 1  # ... that joining reconnects


def test_joining_keeps_different_people_apart():
    frames = []
    for t in range(60):  # A leaves at the right edge at t=30; B enters far away at t=45, much smaller
        boxes = []
        if t < 30:
            boxes.append(_box(300 + 5 * t, 300))
        if t >= 45:
            boxes.append(_box(50, 300, h=90))
        frames.append((np.array(boxes).reshape(-1, 4), np.full(len(boxes), 0.9)))
    assert len(join_tracklets(_run(frames))) == 2


def test_filter_drops_short_and_motionless_tracks():
    frames = []
    for t in range(120):  # 4 s: long enough to judge the poster motionless
        boxes = [_box(100 + 3 * t, 300), _box(500, 300, h=150)]  # a walker and a poster
        if 20 <= t < 23:
            boxes.append(_box(300, 100, h=120))  # someone seen for 3 frames
        frames.append((np.array(boxes), np.full(len(boxes), 0.9)))
    tracklets = _run(frames)
    assert len(tracklets) == 3
    kept = filter_tracklets(tracklets, min_seconds=1.0, fps=30.0)
    assert len(kept) == 1
    walker = next(iter(kept.values()))
    assert walker.boxes[-1][0] > walker.boxes[0][0]
    # Seen still for under 3 s, a box may be a person standing: kept.
    short = {tid: t for tid, t in tracklets.items() if len(t.times) > 10}
    for t in short.values():
        keep = t.times < 2.0
        t.times, t.frames, t.boxes, t.scores = t.times[keep], t.frames[keep], t.boxes[keep], t.scores[keep]
    assert len(filter_tracklets(short, min_seconds=1.0, fps=30.0)) == 2


def test_filter_drops_sparse_tracks():
    from mocap.track import Tracklet

    frames = np.arange(0, 60, 10)  # 6 hits spread over 2 s at 30 fps
    boxes = np.array([_box(100 + 20 * i, 300) for i in range(len(frames))])
    sparse = Tracklet(1, frames, frames / 30.0, boxes, np.full(len(frames), 0.9))
    assert filter_tracklets({1: sparse}, min_seconds=1.0, fps=30.0) == {}


def test_box_iou():
    a = np.array([[0, 0, 10, 10]], float)
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30]], float)
    assert np.allclose(box_iou(a, b), [[1 / 3, 0.0]])


def test_boxes_at_time_finds_each_frames_boxes_by_its_time():
    from mocap.track import Tracklet, boxes_at_time

    a = Tracklet(3, np.arange(5), np.arange(5) / 30, np.arange(20.0).reshape(5, 4), np.ones(5))
    b = Tracklet(7, np.arange(2, 4), np.arange(2, 4) / 30, -np.ones((2, 4)), np.ones(2))
    people = {3: a, 7: b}
    at = boxes_at_time(people, 2 / 30)
    assert [tid for tid, _ in at] == [3, 7]
    assert np.array_equal(at[0][1], [8, 9, 10, 11]) and np.array_equal(at[1][1], [-1, -1, -1, -1])
    assert [tid for tid, _ in boxes_at_time(people, 4 / 30 + 1e-9)] == [3]  # the same frame decoded again
    assert boxes_at_time(people, 2.5 / 30) == [] and boxes_at_time(people, 5 / 30) == []
    assert boxes_at_time({}, 0.0) == []
