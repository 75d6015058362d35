"""Identities on real footage nobody here made: opencv-doc's vtest.avi (768x576, 10 fps,
people walking, crossing, turning round and passing behind a sign).

The fixture ``data/vtest_identities.json`` follows four people who cross the scene,
checked by eye frame by frame. Through the command line, as a user would run it.
"""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mocap.metrics import checkpoint_ids
from mocap.motion import load_npz
from mocap.track import Tracklet
from mocap.video import probe, read_frames

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
FIXTURE = json.loads((Path(__file__).parent / "data" / "vtest_identities.json").read_text())["people"]
FPS = 10.0

pytestmark = pytest.mark.skipif(not VTEST.exists(), reason="opencv-doc's vtest.avi is not installed "
                                                           "(scripts/install.sh --test installs it)")


def _mocap(*args):
    proc = subprocess.run([sys.executable, "-m", "mocap", *args], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    return proc


def _track(tmp_path, start, end):
    out = tmp_path / f"tracks_{start:g}.json"
    _mocap("track", str(VTEST), "--out", str(out), "--start", str(start), "--end", str(end), "--progress", "none")
    doc = json.loads(out.read_text())
    return {t["id"]: Tracklet(t["id"], np.array(t["frames"]), np.array(t["times"]), np.array(t["boxes"]),
                              np.array(t["scores"])) for t in doc["tracks"]}


@pytest.fixture(scope="module")
def tracked(tmp_path_factory):
    """Track ids at every checkpoint, tracking two windows that cover the four people
    (a second of lead-in so tracks are confirmed when each person's checkpoints begin)."""
    tmp = tmp_path_factory.mktemp("vtest")
    ids = {}
    for window in (("blue_woman", "jeans_man"), ("blue_jacket_man", "paper_man")):
        frames = [c[0] for name in window for c in FIXTURE[name]["checkpoints"]]
        tracklets = _track(tmp, (min(frames) - 10) / FPS, (max(frames) + 5) / FPS)
        for name in window:
            ids[name] = checkpoint_ids(tracklets, FIXTURE[name]["checkpoints"], FPS)
    return ids


@pytest.mark.parametrize("name", sorted(FIXTURE))
def test_each_person_keeps_one_id_over_their_passage(tracked, name):
    ids = tracked[name]
    assert None not in ids, f"{name} untracked at frames " + str(
        [c[0] for c, i in zip(FIXTURE[name]["checkpoints"], ids) if i is None])
    assert len(set(ids)) == 1, f"{name} has ids {ids}"


def test_people_on_screen_together_have_different_ids(tracked):
    assert tracked["blue_woman"][0] != tracked["jeans_man"][0]
    assert tracked["blue_jacket_man"][0] != tracked["paper_man"][0]


def test_preview_is_written_and_readable(tmp_path):
    """Two seconds with five or six people: the preview has every frame of the video,
    annotated (boxes, ids, skeletons) where captured, and the scene holds one armature
    per person who stayed long enough."""
    preview, anim = tmp_path / "preview.mp4", tmp_path / "anim.npz"
    _mocap("run", str(VTEST), "--out", str(anim), "--detector", "hog", "--start", "4", "--end", "6",
           "--preview", str(preview), "--progress", "none")
    info = probe(preview)
    assert (info.width, info.height) == (768, 576) and info.num_frames == probe(VTEST).num_frames
    scene = load_npz(anim)
    assert len(scene.motions) >= 3
    shown = [f.image for f in read_frames(preview, 4.0, 6.0)]
    source = [f.image for f in read_frames(VTEST, 4.0, 6.0)]
    assert len(shown) == len(source) == 20
    # Annotated frames differ from the source far more than re-encoding does.
    changed = [np.mean(np.abs(a.astype(int) - b.astype(int)).max(axis=2) > 80) for a, b in zip(shown, source)]
    assert min(changed) > 0.002
    untouched = [f.image for f in read_frames(preview, 10.0, 10.5)]
    original = [f.image for f in read_frames(VTEST, 10.0, 10.5)]
    assert max(np.mean(np.abs(a.astype(int) - b.astype(int)).max(axis=2) > 80)
               for a, b in zip(untouched, original)) < 0.002
