"""The pipeline's parallel estimation over time segments."""

import numpy as np
import pytest

from conftest import SAMPLES
from mocap.pipeline import WARMUP_SECONDS, RunOptions, capture, plan_segments
from mocap.video import VideoInfo, probe


def _info(duration, fps=30.0):
    return VideoInfo(SAMPLES / "x.mp4", 640, 480, fps, int(duration * fps), duration, 0, "h264")


def test_segments_cover_the_range_on_frame_boundaries():
    segs = plan_segments(_info(10.0), RunOptions(workers=3))
    assert len(segs) == 3
    assert segs[0][0] == 0 and segs[-1][1] is None  # the last one reads to the real end
    for (s0, e0, _), (s1, _, w1) in zip(segs, segs[1:]):
        assert e0 == s1 and abs(s1 * 30 - round(s1 * 30)) < 1e-9
        assert w1 == pytest.approx(s1 - WARMUP_SECONDS)


def test_short_or_single_worker_runs_are_not_split():
    assert len(plan_segments(_info(2.0), RunOptions(workers=4))) == 1
    assert plan_segments(_info(10.0), RunOptions(workers=1, start=2.0, end=5.0)) == [(2.0, 5.0, 2.0)]
    segs = plan_segments(_info(10.0), RunOptions(workers=2, start=2.0, end=8.0))
    assert segs == [(2.0, 5.0, 2.0), (5.0, 8.0, 5.0 - WARMUP_SECONDS)]


@pytest.mark.parametrize("detector", ["none", "auto"])  # whole frames; crops around the tracked person
def test_parallel_segments_match_one_pass(detector):
    video = SAMPLES / "turn_jump.mp4"
    # Unsmoothed and unlocked: the zero-phase filter would spread the seam a few frames back, and
    # a contact found a frame earlier or later would move a whole foot pin; the proportions are
    # measured over each run's own frames (a segment's warm-up is not the one pass's).
    raw = {"smoothing": "off", "foot_lock": False, "fit": "off"}
    (one,) = capture(video, RunOptions(workers=1, detector=detector, **raw)).motions.values()
    (two,) = capture(video, RunOptions(workers=2, detector=detector, **raw)).motions.values()
    assert one.num_frames == two.num_frames == probe(video).num_frames
    assert np.allclose(one.times, two.times)
    diff = np.linalg.norm(one.joint_positions() - two.joint_positions(), axis=-1).max(axis=1)
    seam = int(np.argmax(two.times >= plan_segments(probe(video), RunOptions(workers=2))[1][0]))
    if detector == "none":
        assert np.all(diff[:seam] == 0)  # the first segment is the same computation
    else:
        # On crops, two MediaPipe graphs running at once are not always bit-identical to one
        # running alone (seen rarely, under load): a frame's keypoints can then fall outside
        # the box in one run only, and that frame is gap-filled. Most frames stay identical.
        assert np.median(diff[:seam]) < 1e-3
    # After the seam the second estimator's smoothing state differs: a few cm, fading out;
    # well inside MediaPipe's own error.
    assert diff.max() < (0.04 if detector == "none" else 0.2)
    assert np.median(diff[seam:]) < 0.01
