"""Several people: tracking pass, per-person crops, selection, split, preview (with a
ground-truth detector, so these tests do not depend on any detector's quality)."""

import numpy as np
import pytest

from conftest import SAMPLES
from mocap.camera import project
from mocap.detectors import Detections
from mocap.errors import MocapError
from mocap.metrics import evaluate_scene, load_ground_truth
from mocap.pipeline import RunOptions, capture, run
from mocap.video import probe, read_frames

VIDEO = SAMPLES / "turn_jump.mp4"
GT = load_ground_truth(SAMPLES / "turn_jump_gt.npz")


class BoxesFromGroundTruth:
    """Boxes around the projected ground-truth joints, plus optional extra boxes."""

    name = "ground-truth"

    def __init__(self, extra: dict[int, list] | None = None):
        px = project(GT["joints_camera"], GT["K"])
        self.boxes = np.concatenate([px.min(1) - [15, 25], px.max(1) + [15, 15]], axis=1)
        self.extra = extra or {}
        self.frame = 0

    def __call__(self, image):
        boxes = [self.boxes[min(self.frame, len(self.boxes) - 1)], *self.extra.get(self.frame, [])]
        self.frame += 1
        return Detections(np.array(boxes), np.full(len(boxes), 0.9))


@pytest.fixture(scope="module")
def tracked_scene():
    # A second "person" appears for 3 frames only: dropped under the default --min-seconds.
    flash = {f: [[500.0, 40.0, 560.0, 200.0]] for f in (50, 51, 52)}
    return capture(VIDEO, RunOptions(workers=2, detect_fps=0), detector=BoxesFromGroundTruth(flash))


def test_one_track_for_the_one_person_and_flashes_dropped(tracked_scene):
    assert sorted(tracked_scene.motions) == [1]
    m = tracked_scene.motions[1]
    assert m.num_frames == probe(VIDEO).num_frames
    assert sorted(tracked_scene.tracks) == [1]


def test_crops_are_as_accurate_as_whole_frames(tracked_scene):
    score = evaluate_scene(tracked_scene, GT)
    assert score["pa_mpjpe"] < 85 and score["mpjpe"] < 140


def test_person_selection_errors_name_the_tracks():
    with pytest.raises(MocapError, match="no track 7"):
        capture(VIDEO, RunOptions(persons="7", end=1.0, detect_fps=0), detector=BoxesFromGroundTruth())
    with pytest.raises(MocapError, match="--person takes"):
        capture(VIDEO, RunOptions(persons="tall", end=1.0, detect_fps=0), detector=BoxesFromGroundTruth())


def test_split_and_preview(tmp_path):
    options = RunOptions(end=2.0, split=True, preview=str(tmp_path / "preview.mp4"), detect_fps=0)
    result = run(VIDEO, tmp_path / "anim.npz", options, detector=BoxesFromGroundTruth())
    names = sorted(p.name for p in result.outputs)
    assert names == ["anim_person1.npz", "preview.mp4"]
    frames = list(read_frames(tmp_path / "preview.mp4"))
    source = list(read_frames(VIDEO, end=2.0))
    assert len(frames) == probe(VIDEO).num_frames  # the whole video, annotated where captured
    # The drawing changed the picture around the person on annotated frames only.
    changed = [np.abs(a.image.astype(int) - b.image.astype(int)).max() > 100 for a, b in zip(frames, source)]
    assert all(changed)
    later = list(read_frames(VIDEO, start=2.5))
    for a, b in zip(frames[75:], later):  # not captured: only re-encoding noise
        assert np.abs(a.image.astype(int) - b.image.astype(int)).mean() < 3


def test_nobody_in_the_video_is_a_clear_error_and_writes_nothing(tmp_path):
    """A still scene with nobody in it, through the command line with the default detector."""
    import subprocess
    import sys

    from conftest import make_video
    from mocap.errors import EXIT_NO_PERSON

    rng = np.random.default_rng(0)
    scene = (np.linspace(0, 255, 320)[None, :, None] * np.ones((240, 1, 3))).astype(np.uint8)
    scene[100:140, 50:300] = (90, 140, 60)
    frames = [np.clip(scene + rng.integers(-4, 5, scene.shape), 0, 255).astype(np.uint8) for _ in range(45)]
    video = make_video(tmp_path / "empty.mp4", frames, fps=15)
    old = tmp_path / "anim.fbx"
    old.write_bytes(b"an earlier take")
    proc = subprocess.run([sys.executable, "-m", "mocap", "run", str(video), "--out", str(old), "--detector", "hog",
                           "--preview", str(tmp_path / "preview.mp4")], capture_output=True, text=True, timeout=300)
    assert proc.returncode == EXIT_NO_PERSON
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "no person" in lines[0] and "empty.mp4" in lines[0], proc.stderr
    assert old.read_bytes() == b"an earlier take"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["anim.fbx", "empty.mp4"]


def test_a_person_standing_still_is_kept():
    """The sample's first 1.5 s: the person stands and looks back; HOG's box does not move by
    a pixel. Not taken for a poster."""
    from mocap.pipeline import track_people
    from mocap.progress import NullProgress

    tracks = track_people(VIDEO, probe(VIDEO), RunOptions(end=1.5), NullProgress())
    assert len(tracks) == 1 and len(next(iter(tracks.values())).times) == 45
