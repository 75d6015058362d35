"""Video input: timestamps, rotation metadata, streaming, corrupt files."""

import numpy as np
import pytest

from conftest import make_video, numbered_frames
from mocap.errors import InputError
from mocap.video import frame_rate_fraction, probe, read_frames


def test_constant_rate_frames_and_times(tiny_video):
    info = probe(tiny_video)
    assert (info.width, info.height, info.fps, info.rotation) == (64, 48, 24.0, 0)
    frames = list(read_frames(tiny_video))
    assert len(frames) == 12
    assert np.allclose([f.time for f in frames], np.arange(12) / 24, atol=1e-6)
    assert frames[0].image.shape == (48, 64, 3) and frames[0].image.dtype == np.uint8
    # Decoded in order: brightness grows with the index.
    assert np.all(np.diff([f.image[-10:, -10:].mean() for f in frames]) > 0)


def test_variable_frame_rate_keeps_real_timestamps(tmp_path):
    times = np.array([0.0, 0.040, 0.100, 0.120, 0.300, 0.310, 0.500])
    path = make_video(tmp_path / "vfr.mp4", numbered_frames(len(times)), fps=25, times=times)
    got = np.array([f.time for f in read_frames(path)])
    assert np.allclose(got, times, atol=1e-3)


@pytest.mark.parametrize("rotation", [90, 180, 270])
def test_rotation_metadata_is_honoured(tmp_path, rotation):
    path = make_video(tmp_path / f"rot{rotation}.mp4", numbered_frames(3), rotation=rotation)
    info = probe(path)
    image = next(iter(read_frames(path))).image
    h, w = image.shape[:2]
    assert (info.width, info.height) == (w, h) == ((48, 64) if rotation in (90, 270) else (64, 48))
    # The red mark is top-left in the stored frame; after turning the picture
    # counter-clockwise by `rotation` it lies in this corner (same as ffmpeg's autorotate).
    corner = {90: (h - 1, 0), 180: (h - 1, w - 1), 270: (0, w - 1)}[rotation]
    ys, xs = np.nonzero((image[..., 0] > 200) & (image[..., 1] < 80))
    assert abs(ys.mean() - corner[0]) < h / 4 and abs(xs.mean() - corner[1]) < w / 4


def test_time_range(tiny_video):
    frames = list(read_frames(tiny_video, start=0.2, end=0.4))
    assert [round(f.time * 24) for f in frames] == [5, 6, 7, 8, 9]


def test_other_containers(tmp_path):
    # Anything FFmpeg reads: MPEG-4 part 2 in an AVI here.
    path = make_video(tmp_path / "clip.avi", numbered_frames(5), fps=10, codec="mpeg4")
    assert len(list(read_frames(path))) == 5


def test_streaming_does_not_hold_frames(tmp_path):
    import gc
    import weakref

    path = make_video(tmp_path / "long.mp4", numbered_frames(60), fps=30)
    refs = []
    for frame in read_frames(path):
        refs.append(weakref.ref(frame.image))
        del frame
        gc.collect()
        assert sum(r() is not None for r in refs) <= 2  # only the current frame is alive


def test_truncated_video_is_an_input_error(tmp_path):
    path = make_video(tmp_path / "full.mp4", numbered_frames(60, 96, 128), fps=30)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(InputError, match="cut.mp4"):
        probe(cut)
        list(read_frames(cut))


@pytest.mark.parametrize("content", [b"", b"not a video at all\n" * 20])
def test_not_a_video(tmp_path, content):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    with pytest.raises(InputError, match="bad.mp4"):
        probe(bad)


def test_frame_rate_fraction():
    assert frame_rate_fraction(29.97002997) == frame_rate_fraction(30000 / 1001)
    assert frame_rate_fraction(30000 / 1001).denominator == 1001
    assert frame_rate_fraction(25.0) == 25


def test_prefetch_keeps_order_and_reraises_errors(tiny_video):
    from mocap.video import prefetch

    frames = list(prefetch(read_frames(tiny_video), depth=2))
    assert [f.index for f in frames] == list(range(12))

    def broken():
        yield from read_frames(tiny_video, end=0.1)
        raise InputError("boom")

    got = []
    with pytest.raises(InputError, match="boom"):
        for f in prefetch(broken()):
            got.append(f.index)
    assert got == [0, 1, 2]


def test_start_seeks_to_the_same_frames_as_a_full_decode(tmp_path):
    frames = numbered_frames(90)
    path = make_video(tmp_path / "gop.mp4", frames, fps=30, gop=12)
    full = {round(f.time * 30): f.image for f in read_frames(path)}
    part = list(read_frames(path, start=2.0, end=2.5))
    assert [round(f.time * 30) for f in part] == list(range(60, 75))
    for f in part:
        assert np.array_equal(f.image, full[round(f.time * 30)])
