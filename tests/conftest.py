"""Shared test fixtures: small videos made on the fly with PyAV."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"


def make_video(path: Path, images, fps: float = 30, times=None, rotation: int | None = None,
               codec: str = "libx264", gop: int | None = None, faststart: bool = False) -> Path:
    """Encode RGB uint8 images (N, H, W, 3) to ``path``.

    ``times`` (N,) seconds gives each frame's own timestamp (variable frame rate);
    ``rotation`` sets the display-matrix rotation metadata (degrees, counter-clockwise).
    """
    import av

    images = list(images)
    h, w = images[0].shape[:2]
    options = {"movflags": "faststart"} if faststart else {}  # index before the data
    with av.open(str(path), "w", options=options) as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        if gop:
            stream.codec_context.gop_size = gop  # keyframe every `gop` frames: seeking has somewhere to land
        if times is not None:
            stream.codec_context.time_base = Fraction(1, 1000)
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i, img in enumerate(images):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            if times is not None:
                frame.pts = int(round(times[i] * 1000))
                frame.time_base = Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


def numbered_frames(n: int, h: int = 48, w: int = 64) -> np.ndarray:
    """(n, h, w, 3) frames whose mean brightness encodes the index, with a red top-left mark."""
    frames = np.zeros((n, h, w, 3), np.uint8)
    for i in range(n):
        frames[i] = 20 + (200 * i) // max(n - 1, 1)
        frames[i, : h // 4, : w // 4] = (255, 0, 0)
    return frames


@pytest.fixture
def tiny_video(tmp_path) -> Path:
    return make_video(tmp_path / "tiny.mp4", numbered_frames(12), fps=24)


CMU_BVH = Path("/usr/share/assimp/models/BVH/01_01.bvh")


def cmu_motion(frames: int = 400):
    """Real motion: CMU 01_01 (Debian assimp-testmodels; walks, jumps, turns) at 30 fps.
    Returns skeleton (CMU names), fps, rotations (T, J, 3, 3), root (T, 3) metres; skips without it."""
    if not CMU_BVH.exists():
        pytest.skip(f"{CMU_BVH} missing (Debian package assimp-testmodels)")
    from mocap.formats.bvh import read_bvh

    skel, fps, rot, root = read_bvh(CMU_BVH, units=0.056444)
    return skel, fps / 4, rot[::4][:frames], root[::4][:frames]


def estimator_noise(rot: np.ndarray, root: np.ndarray, seed: int = 0):
    """Per-frame noise like a per-frame estimator's: 0.5 degree per joint, 1 cm on the root
    (~21 mm/frame² of acceleration error on CMU motion; HMR 2.0's is ~18)."""
    from scipy.spatial.transform import Rotation

    rng = np.random.default_rng(seed)
    T, J = rot.shape[:2]
    noise = Rotation.from_rotvec(rng.normal(0, np.radians(0.5), (T * J, 3))).as_matrix().reshape(T, J, 3, 3)
    return rot @ noise, root + rng.normal(0, 0.01, root.shape)
