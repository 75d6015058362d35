"""The default perception: BlazePose's person detector (anchors, decoding, tiles) and people
followed in one pass (mocap.follow), scored with py-motmetrics on the rendered clips."""

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import SAMPLES
from mocap.detectors import Detections, make_detector
from mocap.detectors.blazepose import INPUT, decode, ssd_anchors, tiles, weighted_nms
from mocap.detectors.boxes import iou
from mocap.follow import box_from_landmarks, facing_of, landmark_distance
from mocap.metrics import load_ground_truth, mot_scores
from mocap.pipeline import RunOptions, follow_people
from mocap.progress import NullProgress
from mocap.track import ByteTracker, TrackerOptions
from mocap.video import probe, read_frames


def test_anchors_are_blazeposes():
    """2254 anchors: 28x28 cells of stride 8 and 14x14 of stride 16, two a cell, then 7x7 of
    stride 32 with six a cell (three layers sharing one grid), centres at cell centres."""
    a = ssd_anchors()
    assert a.shape == (2254, 2)
    assert np.allclose(a[0], [0.5 / 28, 0.5 / 28]) and np.allclose(a[1], a[0]) and np.allclose(a[2], [1.5 / 28, 0.5 / 28])
    stride16 = a[28 * 28 * 2]
    assert np.allclose(stride16, [0.5 / 14, 0.5 / 14])
    assert np.allclose(a[-6:], [[6.5 / 7, 6.5 / 7]] * 6)


def test_decoding_places_keypoints_on_their_anchor():
    raw_boxes = np.zeros((2254, 12), np.float32)
    raw_scores = np.full(2254, -10.0, np.float32)
    k = 28 * 28 * 2 + 5  # a stride-16 anchor
    raw_scores[k] = 3.0
    raw_boxes[k, 4:6] = [11.2, -22.4]  # hip centre offset, input pixels
    scores, keypoints = decode(raw_boxes, raw_scores)
    assert len(scores) == 1 and scores[0] == pytest.approx(1 / (1 + np.exp(-3.0)))
    assert np.allclose(keypoints[0, 0], ssd_anchors()[k] + [11.2 / INPUT, -22.4 / INPUT])
    assert np.allclose(keypoints[0, 1:], ssd_anchors()[k])


def test_weighted_nms_averages_a_group_and_keeps_the_rest():
    boxes = np.array([[0, 0, 10, 20], [1, 0, 11, 20], [50, 50, 60, 70]], float)
    scores = np.array([0.9, 0.3, 0.8])
    out, out_scores, best = weighted_nms(boxes, scores)
    assert len(out) == 2 and list(best) == [0, 2] and list(out_scores) == [0.9, 0.8]
    assert np.allclose(out[0], (0.9 * boxes[0] + 0.3 * boxes[1]) / 1.2) and np.allclose(out[1], boxes[2])


@pytest.mark.parametrize("size,side", [((640, 480), 190), ((768, 576), 190), ((360, 640), 150), ((640, 480), 700)])
def test_tiles_cover_the_frame_with_overlap(size, side):
    W, H = size
    parts = tiles(W, H, side)
    if side >= max(W, H):
        assert parts == []
        return
    covered = np.zeros((H, W), int)
    for x0, y0, s in parts:
        assert 0 <= x0 and x0 + s <= W and 0 <= y0 and y0 + s <= H
        covered[y0:y0 + s, x0:x0 + s] += 1
    assert covered.min() >= 1
    # Half a tile of overlap: any square a third of a tile wide lies wholly in one tile.
    q = side // 3
    for y in range(0, H - q, 17):
        for x in range(0, W - q, 17):
            assert any(x0 <= x and x + q <= x0 + s and y0 <= y and y + q <= y0 + s for x0, y0, s in parts)


@pytest.fixture(scope="module")
def crowd():
    return load_ground_truth(SAMPLES / "crowd_gt.npz")


def test_detector_finds_the_people_of_a_crowd_frame_with_their_keypoints(crowd):
    image = next(iter(read_frames(SAMPLES / "crowd.mp4", 0.0, 0.02))).image
    found = make_detector("blazepose")(image)
    assert found.keypoints is not None and found.keypoints.shape == (len(found), 4, 2)
    near = crowd["boxes"][0, 0]  # the red shirt, ~230 px tall
    overlap = iou(near[None], found.boxes)[0]
    assert overlap.max() >= 0.6
    hip = found.keypoints[int(np.argmax(overlap)), 0]
    assert near[0] <= hip[0] <= near[2] and near[1] <= hip[1] <= near[3]
    assert (np.diff(found.scores) <= 0).all()


def test_facing_and_boxes_from_landmarks():
    world = np.zeros((39, 3))
    # A body facing the camera (camera frame: x right, y down, z forward): its left at +x.
    world[11], world[12], world[23], world[24] = [0.2, -0.5, 0], [-0.2, -0.5, 0], [0.1, 0, 0], [-0.1, 0, 0]
    assert np.allclose(facing_of(world), [0.0, -1.0])
    turned = world.copy()
    turned[:, [0, 2]] = turned[:, [2, 0]] * [-1, 1]  # a quarter turn about the vertical
    assert np.allclose(np.abs(facing_of(turned)), [1.0, 0.0])
    side_on = world.copy()
    side_on[:, 0] = 0.0  # shoulders and hips edge-on to the camera: no facing
    assert np.isnan(facing_of(side_on)).all()
    pixels = np.zeros((39, 2))
    pixels[:33] = np.column_stack([np.linspace(100, 140, 33), np.linspace(200, 400, 33)])
    x0, y0, x1, y1 = box_from_landmarks(pixels)
    assert x0 < 100 and x1 > 140 and y0 < 200 - 10 and 400 < y1 < 410
    assert landmark_distance(pixels, pixels) == 0 and landmark_distance(pixels, pixels + [20, 0]) == pytest.approx(0.1)


def test_a_box_fitting_two_tracks_alike_is_taken_by_neither():
    """Two people crossing seen as one body: the tracker holds both tracks instead of giving the
    one box to either (which would swap them half the time)."""
    tracker = ByteTracker(10.0, TrackerOptions(hold_merged=True))
    left, right = np.array([100, 100, 140, 200.0]), np.array([160, 100, 200, 200.0])
    for step in range(3):  # walking towards each other
        shift = 8.0 * step
        tracker.update(Detections([left + [shift, 0, shift, 0], right - [shift, 0, shift, 0]], [0.9, 0.9]))
    ids = sorted(tracker.taken)
    assert len(ids) == 2
    merged = np.array([120, 100, 180, 200.0])
    out = tracker.update(Detections([merged], [0.9]))
    assert out == [] and tracker.taken == {}
    assert sorted(t.id for t in tracker.tracks) == ids  # both kept, no new track
    plain = ByteTracker(10.0)
    for step in range(3):
        shift = 8.0 * step
        plain.update(Detections([left + [shift, 0, shift, 0], right - [shift, 0, shift, 0]], [0.9, 0.9]))
    assert len(plain.update(Detections([merged], [0.9]))) == 1


def test_opposite_facings_do_not_trade_a_contested_box():
    """Where a box is near two tracks, it goes to the one that faces its way."""
    tracker = ByteTracker(10.0)
    a, b = np.array([100, 100, 140, 200.0]), np.array([130, 100, 170, 200.0])
    for _ in range(3):
        tracker.update(Detections([a, b], [0.9, 0.9]), facing=np.array([[1.0, 0.0], [-1.0, 0.0]]))
    ids = {tracker.taken[k]: k for k in tracker.taken}
    # Next frame the two boxes sit where the other one was, each facing its own way.
    tracker.update(Detections([b, a], [0.9, 0.9]), facing=np.array([[1.0, 0.0], [-1.0, 0.0]]))
    assert tracker.taken == {ids[0]: 0, ids[1]: 1}


@pytest.fixture(scope="module")
def followed_crowd():
    pytest.importorskip("motmetrics")
    video = SAMPLES / "crowd.mp4"
    return follow_people(video, probe(video), RunOptions(), NullProgress())


def _median_iou(gt: dict, tracklets: dict, frames: range, min_visible: float = 0.5) -> float:
    """Median over the people of the GT (visible at least ``min_visible``) in ``frames`` of the IoU
    of their true box with the best-overlapping tracked box."""
    out = []
    for p in range(len(gt["person_ids"])):
        for f in frames:
            box = gt["boxes"][p, f]
            if not np.all(np.isfinite(box)) or gt["visible"][p, f] < min_visible:
                continue
            ours = [tr.boxes[tr.frames == f] for tr in tracklets.values()]
            ours = np.concatenate([o for o in ours if len(o)] or [np.zeros((0, 4))])
            out.append(iou(box[None], ours)[0].max() if len(ours) else 0.0)
    return float(np.median(out))


def test_crowd_identities_boxes_and_everyone_captured(followed_crowd, crowd):
    tracklets, people = followed_crowd
    scores = mot_scores(crowd, tracklets)
    # Measured: IDF1 0.957, 0 switches, precision 0.965, recall 0.949. The blue shirt, side-on and
    # ~117 px tall, is found at frame 12 and followed through the crossing; her boxes are
    # interpolated through the frames she is hidden (FILL_SECONDS), which the GT does not
    # require (under half visible): most of the lost precision.
    print(f"\ncrowd following: {scores}")
    assert scores["id_switches"] == 0 and scores["idf1"] >= 0.94 and scores["precision"] >= 0.95
    assert len(tracklets) == 3  # the three people in the clip for more than a second; not the 3-frame one
    # Box fit: BOX_* were fitted on frames 0-49 (IoU 0.91); frames 50-99 score it (0.89).
    assert _median_iou(crowd, tracklets, range(50, 100)) >= 0.85
    assert _median_iou(crowd, tracklets, range(0, 50)) >= 0.85
    assert set(people) == set(tracklets)


def _follow_and_score(name: str):
    """samples/<name>.mp4 followed with the defaults: its ground truth, tracklets and MOT scores."""
    pytest.importorskip("motmetrics")
    video = SAMPLES / f"{name}.mp4"
    gt = load_ground_truth(SAMPLES / f"{name}_gt.npz")
    tracklets, _ = follow_people(video, probe(video), RunOptions(), NullProgress())
    scores = mot_scores(gt, tracklets)
    print(f"\n{name} following: {scores}")
    return gt, tracklets, scores


@pytest.mark.slow
def test_crossing_edge_entry_and_a_small_far_person():
    """samples/crossing.mp4 (scripts/make_crowd_sample.py --scenario crossing): one person walks
    in from the left edge and passes in front of a second (hidden at least 70 % for several
    frames); a third, small and far (110-140 px), stands apart."""
    gt, tracklets, scores = _follow_and_score("crossing")
    # Measured: IDF1 0.976, 0 switches, precision 0.99, recall 0.96; median box IoU 0.92.
    assert scores["id_switches"] == 0 and scores["idf1"] >= 0.95
    assert len(tracklets) == len(gt["person_ids"])  # everyone captured, once
    assert _median_iou(gt, tracklets, range(gt["boxes"].shape[1])) >= 0.85


def test_a_person_turning_their_back_stays_one_track():
    """samples/turnaway.mp4 (portrait): one person turns their back to the camera and jumps away;
    once a partial second fit of them was followed as a second person (now refused)."""
    video = SAMPLES / "turnaway.mp4"
    gt = load_ground_truth(SAMPLES / "turnaway_gt.npz")
    tracklets, _ = follow_people(video, probe(video), RunOptions(), NullProgress())
    assert len(tracklets) == 1
    (track,) = tracklets.values()
    assert len(track.frames) == gt["boxes"].shape[1]
    assert _median_iou(gt, tracklets, range(gt["boxes"].shape[1])) >= 0.85  # measured 0.91


def test_someone_who_leaves_and_comes_back_gets_their_id_back():
    """samples/return.mp4 (scripts/make_crowd_sample.py --scenario return, 10 fps): the red shirt
    walks out on the right and comes back 6 s later; meanwhile the green shirt walks in where he
    left, 1 s after; the blue shirt stays. The scoring clip of the looks' thresholds (calibrated
    on the other renders, scripts/calibrate_looks.py)."""
    _, tracklets, scores = _follow_and_score("return")
    # Measured: IDF1 0.987, 0 switches, recall 1.0 (by motion alone: the green shirt continued the
    # red shirt's track and the red shirt came back as someone new, IDF1 0.877, 1 switch).
    assert scores["id_switches"] == 0 and scores["idf1"] >= 0.95
    assert len(tracklets) == 3
    red = [t for t in tracklets.values() if t.frames[0] == 0 and t.frames[-1] > 100 and
           np.any(np.diff(t.frames) > 40)]
    assert len(red) == 1  # one track over both of his passages, with the gap between them


@pytest.mark.slow
def test_one_person_gives_one_track_and_the_same_bytes_twice(tmp_path):
    """The one-person sample (turns, jumps, seen from behind): one track over the whole clip,
    from `mocap track` with its defaults; two runs write the same file."""
    def track(name):
        out = tmp_path / name
        proc = subprocess.run([sys.executable, "-m", "mocap", "track", str(SAMPLES / "turn_jump.mp4"), "--out",
                               str(out), "--progress", "none"], capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        return out

    a, b = track("a.json"), track("b.json")
    assert a.read_bytes() == b.read_bytes()
    tracks = json.loads(a.read_text())["tracks"]
    assert len(tracks) == 1 and len(tracks[0]["frames"]) >= 0.95 * probe(SAMPLES / "turn_jump.mp4").num_frames
