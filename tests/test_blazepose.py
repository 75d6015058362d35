"""The `blazepose` backend: BlazePose's landmark network run directly on our crops."""

import subprocess
import sys

import numpy as np
import pytest

from conftest import SAMPLES

pytest.importorskip("ai_edge_litert")

from mocap.estimators import BACKENDS  # noqa: E402
from mocap.estimators.blazepose import LandmarkNet, region_from_landmarks  # noqa: E402
from mocap.skeleton import neutral_skeleton  # noqa: E402
from mocap.video import read_frames  # noqa: E402


def _frame(t=1.0):
    return next(iter(read_frames(SAMPLES / "turn_jump.mp4", t, t + 0.04))).image


def test_landmarks_follow_the_region_when_the_image_turns():
    """The crop is turned with the body, and the landmarks (image and world) turned back: a
    frame turned a quarter clockwise, read through the region turned with it, gives the same
    landmarks turned the same way."""
    image = _frame()
    H, W = image.shape[:2]
    net = LandmarkNet()
    region = (np.array([W / 2, H / 2]), float(max(H, W)), np.eye(2))
    for _ in range(3):  # the region settles on the person
        region = region_from_landmarks(net(image, region).pixels)
    found = net(image, region)
    pixels, visibility, world = found.pixels, found.visibility, found.world
    assert found.presence > 0.9
    assert visibility[:33].mean() > 0.5

    def clockwise(p):  # image pixels (x, y) of the turned frame
        return np.column_stack([H - 1 - p[:, 1], p[:, 0]])

    turned = np.ascontiguousarray(np.rot90(image, k=-1))
    centre, side, axes = region
    quarter = np.array([[0.0, -1.0], [1.0, 0.0]])  # (x, y) -> (-y, x), y down
    found2 = net(turned, (clockwise(centre[None])[0], side, quarter @ axes))
    pixels2, world2 = found2.pixels, found2.world
    assert np.abs(pixels2 - clockwise(pixels)).max() < 0.5
    assert np.abs(world2 - np.column_stack([-world[:, 1], world[:, 0], world[:, 2]])).max() < 0.005


def test_backend_is_registered_and_offered():
    assert BACKENDS.names()[0] == "mediapipe" and BACKENDS.get("mediapipe").follows
    assert BACKENDS.get("mediapipe").label == "MediaPipe" and "mediapipe-graph" in BACKENDS


@pytest.mark.slow
def test_capture_is_reproducible_and_as_accurate_as_the_legacy_graph(tmp_path):
    """Two runs write the same bytes (MediaPipe's graph does not, now and then), and the motion
    scores like MediaPipe's own on the sample (crops from the default detector's boxes)."""
    def run(name, backend):
        out = tmp_path / name
        proc = subprocess.run([sys.executable, "-m", "mocap", "run", str(SAMPLES / "turn_jump.mp4"), "--backend",
                               backend, "--end", "2.5", "--out", str(out), "--progress", "none"],
                              capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, proc.stderr
        return out

    a, b = run("a.npz", "mediapipe"), run("b.npz", "mediapipe")
    assert a.read_bytes() == b.read_bytes()
    from mocap.metrics import evaluate_files

    ours = evaluate_files(a, SAMPLES / "turn_jump_gt.npz")
    legacy = evaluate_files(run("c.npz", "mediapipe-graph"), SAMPLES / "turn_jump_gt.npz")
    (_, ours), (_, legacy) = ours[0], legacy[0]
    key = next(k for k in ours if "pa" in k.lower())
    assert ours[key] < legacy[key] + 5.0 and ours[key] < 90.0
