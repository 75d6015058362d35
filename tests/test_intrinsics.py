"""Camera focal length from what the user knows (lens, 35 mm equivalent) or the file's tags."""

import struct

import numpy as np
import pytest

from conftest import make_video, numbered_frames
from mocap.camera import focal_from_35mm, focal_from_lens, intrinsics_from_fov
from mocap.video import focal_35mm_from_metadata, probe

APPLE_KEY = "com.apple.quicktime.camera.focal_length.35mm_equivalent"


def test_focal_from_lens_uses_the_longer_side():
    # A 24 mm lens on a 36 mm wide sensor sees 2/3 of the focal length across the frame.
    assert focal_from_lens(24, 36, 1920, 1080) == pytest.approx(1280)
    assert focal_from_lens(24, 36, 1080, 1920) == pytest.approx(1280)  # portrait: same lens
    assert focal_from_lens(50, 36, 3600, 2400) == pytest.approx(5000)


def test_focal_from_lens_agrees_with_field_of_view():
    # 18 mm on a 36 mm sensor: half-width 18 mm at 18 mm -> 90 degrees across the longer side.
    K = intrinsics_from_fov(1920, 1080, fov_deg=90.0)
    assert focal_from_lens(18, 36, 1920, 1080) == pytest.approx(K[0, 0])


def test_focal_from_35mm_on_the_full_frame_diagonal():
    # A 36x24 image with 1 px per mm: its diagonal is 43.27 px, so f_px equals f in mm.
    assert focal_from_35mm(50, 36, 24) == pytest.approx(50)
    assert focal_from_35mm(50, 3600, 2400) == pytest.approx(5000)
    # A full-frame 3:2 image: the same answer as from the real lens on a 36 mm sensor.
    assert focal_from_35mm(35, 6000, 4000) == pytest.approx(focal_from_lens(35, 36, 6000, 4000))
    # iPhone main camera (26 mm eq.) at 1920x1080: about 1.01 * the long side.
    f = focal_from_35mm(26, 1920, 1080)
    assert f == pytest.approx(26 / 43.2666 * np.hypot(1920, 1080), rel=1e-4)
    assert focal_from_35mm(26, 1080, 1920) == pytest.approx(f)


@pytest.mark.parametrize("value, expected", [
    ("26", 26.0), ("26.000000", 26.0), ("26 mm", 26.0), ("24.5mm", 24.5), (" 13 MM ", 13.0),
    ("260/10", 26.0), (28, 28.0), (28.5, 28.5),
])
def test_metadata_apple_key_values(value, expected):
    assert focal_35mm_from_metadata({APPLE_KEY: value, "encoder": "Lavf"}) == pytest.approx(expected)


@pytest.mark.parametrize("key", [
    "FocalLengthIn35mmFilm", "FocalLengthIn35mmFormat", "focal_length_35mm",
    "EXIF:FocalLengthIn35mmFilm", "camera.focal_length.35mm_equivalent",
])
def test_metadata_exif_style_keys(key):
    assert focal_35mm_from_metadata({key: "28"}) == 28.0


def test_metadata_keys_are_case_insensitive():
    assert focal_35mm_from_metadata({APPLE_KEY.upper(): "26"}) == 26.0
    assert focal_35mm_from_metadata({"FOCALLENGTHIN35MMFILM": "52"}) == 52.0


@pytest.mark.parametrize("value", [
    "", "abc", "twenty-six", "nan", "inf", "-26", "26/0", "2", "0", "4.9", "1001", "1e400",
    "26 mm 4", float("nan"), float("inf"), True, None, [26],
])
def test_metadata_junk_is_ignored(value):
    assert focal_35mm_from_metadata({APPLE_KEY: value}) is None


def test_metadata_junk_falls_through_to_the_next_key():
    assert focal_35mm_from_metadata({APPLE_KEY: "unknown", "FocalLengthIn35mmFilm": "77"}) == 77.0
    # The Apple key wins over the others when both are usable.
    assert focal_35mm_from_metadata({"FocalLengthIn35mmFilm": "77", APPLE_KEY: "26"}) == 26.0


def test_metadata_without_focal_length():
    assert focal_35mm_from_metadata({}) is None
    assert focal_35mm_from_metadata({"focal_length": "4.2", "make": "Apple", "encoder": "26"}) is None


def _tagged_video(path, tags: dict):
    """A 64x48, 4-frame H.264 video whose container carries ``tags``.

    FFmpeg's mov/mp4 muxer writes arbitrary container tags only with
    ``movflags=use_metadata_tags`` (as QuickTime ``mdta`` keys in moov/meta,
    the form iPhones use); without it they are silently dropped. Stream-level
    tags with arbitrary names do not survive the muxer either way, so the
    end-to-end tests go through the container.
    """
    import av

    with av.open(str(path), "w", options={"movflags": "use_metadata_tags"}) as container:
        container.metadata.update(tags)
        stream = container.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for image in numbered_frames(4):
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path


@pytest.mark.parametrize("ext", ["mov", "mp4"])
def test_probe_reads_apple_focal_length(tmp_path, ext):
    path = _tagged_video(tmp_path / f"phone.{ext}", {APPLE_KEY: "26"})
    info = probe(path)
    assert info.focal_35mm == 26.0
    assert (info.width, info.height) == (64, 48)


def test_probe_reads_a_binary_float_value(tmp_path):
    """AVFoundation stores typed values; FFmpeg reads a float32 (type 23) as "26.000000".

    The muxer only writes text (type 1), so a 4-character value is written and its
    ``data`` atom rewritten in place to a big-endian float32.
    """
    path = _tagged_video(tmp_path / "float.mov", {APPLE_KEY: "WXYZ"})
    raw = bytearray(path.read_bytes())
    at = raw.index(b"WXYZ")
    assert raw[at - 12:at - 4] == b"data" + struct.pack(">I", 1)  # size, 'data', type, locale, value
    raw[at - 8:at - 4] = struct.pack(">I", 23)
    raw[at:at + 4] = struct.pack(">f", 26.0)
    path.write_bytes(bytes(raw))
    assert probe(path).focal_35mm == 26.0


def test_probe_without_focal_metadata(tmp_path):
    assert probe(make_video(tmp_path / "plain.mp4", numbered_frames(3))).focal_35mm is None
    assert probe(_tagged_video(tmp_path / "other.mov", {"title": "clip"})).focal_35mm is None
    assert probe(_tagged_video(tmp_path / "junk.mov", {APPLE_KEY: "n/a"})).focal_35mm is None
