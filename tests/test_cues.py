"""Body cues (facing, shape) at tracklet ends, and joining with them."""

import numpy as np
from scipy.spatial.transform import Rotation

from conftest import SAMPLES
from mocap.cues import BodyCue, CueCollector, facing_from_root
from mocap.estimators import make_estimator
from mocap.skeleton import skeleton_for_body
from mocap.track import Tracklet, join_tracklets
from mocap.video import read_frames

# The body's rest frame (Y-up, facing +Z) seen by an OpenCV camera: facing the camera.
TOWARDS_CAMERA = np.diag([1.0, -1.0, -1.0])


def _yawed(degrees):
    """(N, 3, 3) root rotations: facing the camera, then turned about the body's up axis."""
    return np.stack([TOWARDS_CAMERA @ Rotation.from_euler("y", d, degrees=True).as_matrix()
                     for d in np.atleast_1d(degrees)])


def test_facing_from_root_rotations():
    assert np.allclose(facing_from_root(_yawed([0, 0])), [0, -1])
    # Turned 90° about its own up axis: faces camera +x (the image's right).
    assert np.allclose(facing_from_root(_yawed([90, 95])), [1, 0.087 / 2], atol=0.01)
    assert facing_from_root(_yawed([0, 180])) is None  # front/back disagree: no cue
    assert facing_from_root(np.zeros((0, 3, 3))) is None


def _walker(tid, t0, t1, x0, speed, fps=10.0):
    times = np.arange(t0, t1, 1 / fps)
    x = x0 + speed * (times - t0)
    boxes = np.stack([x - 20, np.full_like(x, 100), x + 20, np.full_like(x, 200)], axis=1)
    return Tracklet(tid, np.round(times * fps).astype(int), times, boxes, np.full(len(times), 0.9))


def _cue(facing=None, betas=None):
    return BodyCue(None if facing is None else np.array(facing, float), None if betas is None else np.array(betas))


def test_facing_picks_between_two_people_where_position_cannot():
    """A walks right and is lost for 0.3 s; two tracks start where A would be: B facing
    the way A walked, C facing back (someone walking the other way), C slightly closer."""
    a = _walker(1, 0.0, 2.0, 100, 100)  # ends at x ~ 290 at t = 1.9
    b = _walker(2, 2.2, 4.0, 330, 100)
    c = _walker(3, 2.2, 4.0, 318, -100)
    tracks = {1: a, 2: b, 3: c}
    right, left = [1, 0], [-1, 0]
    assert sorted(join_tracklets(tracks)) == [1, 2]  # position alone: the closer one, C
    cues = {1: (_cue(right), _cue(right)), 2: (_cue(right), _cue(right)), 3: (_cue(left), _cue(left))}
    assert sorted(join_tracklets(tracks, cues=cues)) == [1, 3]  # with facing: B
    # After a long gap anyone may have turned round: facing no longer decides.
    late = {1: a, 3: _walker(3, 4.5, 6.0, 300, -100)}
    assert sorted(join_tracklets(late, cues={1: cues[1], 3: cues[3]})) == [1]


def test_shape_forbids_joining_two_bodies():
    a, b = _walker(1, 0.0, 2.0, 100, 100), _walker(2, 2.2, 4.0, 325, 100)
    same = {1: (_cue(betas=np.zeros(10)),) * 2, 2: (_cue(betas=np.full(10, 0.1)),) * 2}
    other = {1: same[1], 2: (_cue(betas=np.full(10, 1.0)),) * 2}
    assert sorted(join_tracklets({1: a, 2: b}, cues=same)) == [1]
    assert sorted(join_tracklets({1: a, 2: b}, cues=other)) == [1, 2]
    # No shape from the backend (MediaPipe): no veto.
    assert sorted(join_tracklets({1: a, 2: b}, cues={1: (_cue(),) * 2, 2: (_cue(),) * 2})) == [1]


def _facing_from_joints(joints, names):
    """(2,) ground-truth facing (camera x, z) from the hip joints of the rendered sample."""
    lr = joints[names.index("LeftUpLeg")] - joints[names.index("RightUpLeg")]
    f = np.array([lr[2], -lr[0]])
    return f / np.linalg.norm(f)


def test_real_estimator_cues_on_the_rendered_crowd():
    """MediaPipe on crops of the crowd sample, each person's track broken for two frames:
    the cues at both sides of the break face the way the ground truth does (for the
    two people it sees from the front or side)."""
    gt = np.load(SAMPLES / "crowd_gt.npz")
    names = list(gt["joint_names"])
    collector = CueCollector(lambda: make_estimator("mediapipe", skeleton_for_body(), static=True), gt["K"])
    checks = [(0, 10), (0, 80), (2, 60)]  # (person, frame): seen at f, f+1, then again at f+4, f+5
    for frame in read_frames(SAMPLES / "crowd.mp4", end=3.0):
        seen = [(1000 * p + f + 500 * (frame.index > f + 1), gt["boxes"][p, frame.index], 0.9)
                for p, f in checks if frame.index in (f, f + 1, f + 4, f + 5)]
        collector.add(frame.image, frame.time, seen)
        collector.finish([1000 * p + f for p, f in checks if frame.index == f + 3])
    cues = collector.close()
    for p, f in checks:
        before, after = cues[1000 * p + f][1], cues[1000 * p + f + 500][0]
        for cue, at in ((before, f), (after, f + 4)):
            truth = _facing_from_joints(gt["joints_camera"][p, at], names)
            assert cue.betas is None
            assert np.degrees(np.arccos(cue.facing @ truth)) < 30, (p, at, cue.facing, truth)


class _CountingEstimator:
    """Stands in for a static estimator: faces the camera, counts the images it is given."""

    def __init__(self, counter):
        self.counter = counter

    def __call__(self, images, times, K, offsets=None):
        from mocap.estimators import Estimates

        n = len(images)
        self.counter.append(n)
        return Estimates(np.asarray(times), np.tile(TOWARDS_CAMERA, (n, 24, 1, 1)), np.zeros((n, 3)),
                         np.ones(n), np.zeros((n, 33, 3)), np.zeros(10))

    def close(self):
        pass


def test_cues_are_estimated_only_where_a_join_is_possible():
    """Three tracks: 1 walks right and is lost; 2 starts where 1 was heading; 3 starts far
    away. Only 1's end and 2's start are estimated (two crops each)."""
    calls = []
    collector = CueCollector(lambda: _CountingEstimator(calls), np.eye(3))
    image = np.zeros((480, 640, 3), np.uint8)
    box = lambda x: np.array([x - 20, 100.0, x + 20, 200.0])  # noqa: E731
    for i in range(30):
        t = i / 10
        tracked = [(1, box(100 + 10 * i), 0.9)] if i < 10 else []
        if i >= 13:
            tracked += [(2, box(100 + 10 * i), 0.9), (3, box(600 - i), 0.9)]
        collector.add(image, t, tracked)
        if i == 20:
            collector.finish([1])
    cues = collector.close()
    assert calls == [2, 2]
    assert cues[1][0] is None and cues[1][1] is not None and cues[2][0] is not None and 3 not in cues
