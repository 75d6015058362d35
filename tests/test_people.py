"""Several people: tracking pass, per-person crops, selection, split, preview (with a
ground-truth detector, so these tests do not depend on any detector's quality)."""

import numpy as np
import pytest

from conftest import SAMPLES
from mocap.camera import project
from mocap.detect import Detections
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
    return capture(VIDEO, RunOptions(workers=2), detector=BoxesFromGroundTruth(flash))


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
        capture(VIDEO, RunOptions(persons="7", end=1.0), detector=BoxesFromGroundTruth())
    with pytest.raises(MocapError, match="--person takes"):
        capture(VIDEO, RunOptions(persons="tall", end=1.0), detector=BoxesFromGroundTruth())


def test_split_and_preview(tmp_path):
    options = RunOptions(end=2.0, split=True, preview=str(tmp_path / "preview.mp4"))
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
