"""Video input with PyAV: streaming decode, real timestamps, rotation metadata.

Frames come out one at a time (memory does not grow with video length), as
RGB uint8 arrays already turned upright according to the stream's display
matrix, each with its presentation time in seconds (variable frame rate safe).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

from .errors import InputError


@dataclass(frozen=True)
class VideoInfo:
    """What a video stream declares.

    Attributes:
        path: the file.
        width, height: size of the upright frames (after rotation), pixels.
        fps: average frame rate declared by the stream (frames per second).
        num_frames: declared frame count, or an estimate from the duration (0 if unknown).
        duration: seconds (0.0 if unknown).
        rotation: degrees the frames are turned counter-clockwise to stand upright
            (0, 90, 180 or 270).
        codec: decoder name.
        focal_35mm: 35 mm equivalent focal length the file's metadata declares, mm
            (None if it declares none); see :func:`focal_35mm_from_metadata`.
    """

    path: Path
    width: int
    height: int
    fps: float
    num_frames: int
    duration: float
    rotation: int
    codec: str
    focal_35mm: float | None = None


@dataclass(frozen=True)
class Frame:
    """One decoded frame.

    Attributes:
        index: 0-based decode order.
        time: presentation time in seconds from the stream start.
        image: (H, W, 3) uint8 RGB, upright.
    """

    index: int
    time: float
    image: np.ndarray


def _open(path: Path):
    import av

    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a video file")
    if not os.access(path, os.R_OK):
        raise InputError(f"{path}: file is not readable")
    if path.stat().st_size == 0:
        raise InputError(f"{path}: file is empty")
    try:
        container = av.open(str(path), mode="r")
    except av.FFmpegError as exc:
        raise InputError(f"{path}: not a readable video ({_ffmpeg_reason(exc)})") from None
    if not container.streams.video:
        container.close()
        raise InputError(f"{path}: contains no video stream")
    return container


def _ffmpeg_reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.split(":")[0].strip() if text else type(exc).__name__


def _frame_rotation(frame) -> int:
    rot = getattr(frame, "rotation", 0) or 0
    return int(round(rot / 90.0)) * 90 % 360


# Frame rates a capture can use: slower than one frame every 2 s is not motion; faster than
# 1000 fps is a damaged header (high-speed cameras write their playback rate).
MIN_FPS, MAX_FPS = 0.5, 1000.0


def probe(path: str | os.PathLike) -> VideoInfo:
    """Read a video's declared properties without decoding it all.

    Raises:
        InputError: missing, empty or unreadable file, or no video stream.
    """
    path = Path(path)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        duration = 0.0
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        if fps == 0 and stream.frames and duration > 0:  # no rate declared: the frames' own pace
            fps = stream.frames / duration
        num_frames = int(stream.frames or 0) or int(round(duration * fps))
        rotation = _first_frame_rotation(container)
        w, h = stream.codec_context.width, stream.codec_context.height
        if rotation in (90, 270):
            w, h = h, w
        if w <= 0 or h <= 0:
            raise InputError(f"{path}: video stream has no frame size")
        if not (MIN_FPS <= fps < MAX_FPS):
            shown = f"{fps:.3f}".rstrip("0").rstrip(".")
            raise InputError(f"{path}: video declares an impossible frame rate ({shown} fps; "
                             f"{MIN_FPS:g} to {MAX_FPS:g} can be captured)")
        # The stream's own tags describe this camera more specifically than the file's.
        focal_35mm = focal_35mm_from_metadata(dict(stream.metadata))
        if focal_35mm is None:
            focal_35mm = focal_35mm_from_metadata(dict(container.metadata))
        return VideoInfo(
            path, w, h, fps, num_frames, duration, rotation, stream.codec_context.name, focal_35mm
        )
    finally:
        container.close()


# Metadata keys (lower case) that carry a 35 mm equivalent focal length, most trusted first.
FOCAL_35MM_KEYS = (
    # iPhone / AVFoundation (mdta key; FFmpeg turns typed int/float values into decimal text).
    "com.apple.quicktime.camera.focal_length.35mm_equivalent",
    # The same without the reverse-DNS prefix, as tools re-tagging with ffmpeg write it.
    "camera.focal_length.35mm_equivalent",
    # EXIF 0xA405 under its standard name and ExifTool's, from EXIF/XMP-style writers.
    "focallengthin35mmfilm",
    "focallengthin35mmformat",
    "focal_length_35mm",
    "focal_length_in_35mm_film",
)
_FOCAL_35MM_RANGE_MM = (5.0, 1000.0)
_NUMBER_MM = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)(?:\s*/\s*(\d+(?:\.\d*)?))?\s*(?:mm)?\s*$", re.I)


def focal_35mm_from_metadata(metadata: dict) -> float | None:
    """The 35 mm equivalent focal length (mm) a container's or stream's tags declare.

    Keys match case-insensitively, also behind a namespace prefix (``exif:...``).
    Values may be text such as ``"26"``, ``"26.000000"``, ``"26 mm"`` or an EXIF
    rational ``"260/10"``, or plain numbers. Anything unparsable, non-finite or
    outside 5..1000 mm is ignored (the next key is tried).

    Args:
        metadata: tag name -> value, e.g. PyAV's ``container.metadata``.
    Returns:
        focal length in mm, or None.
    """
    by_key: dict[str, object] = {}
    for key, value in metadata.items():
        name = str(key).strip().lower()
        by_key.setdefault(name, value)
        by_key.setdefault(name.rsplit(":", 1)[-1], value)
    for key in FOCAL_35MM_KEYS:
        if key in by_key:
            mm = _parse_mm(by_key[key])
            if mm is not None and _FOCAL_35MM_RANGE_MM[0] <= mm <= _FOCAL_35MM_RANGE_MM[1]:
                return mm
    return None


def _parse_mm(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        mm = float(value)
    else:
        match = _NUMBER_MM.match(str(value))
        if match is None:
            return None
        num, den = match.groups()
        if den is not None and float(den) == 0:
            return None
        mm = float(num) / (float(den) if den is not None else 1.0)
    return mm if math.isfinite(mm) else None


def _first_frame_rotation(container) -> int:
    """Rotation from the first decodable frame's display matrix (0 if none decodes)."""
    import av

    try:
        for frame in container.decode(video=0):
            return _frame_rotation(frame)
    except av.FFmpegError:
        return 0
    return 0


def read_frames(
    path: str | os.PathLike, start: float = 0.0, end: float | None = None
) -> Iterator[Frame]:
    """Decode a video frame by frame.

    Args:
        path: any container FFmpeg reads.
        start, end: keep frames with ``start <= time < end`` (seconds).

    Yields:
        :class:`Frame` in presentation order, RGB, upright.

    Raises:
        InputError: unreadable file, or corrupt/truncated data part-way through
            (the message says after which frame).
    """
    import av

    path = Path(path)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # frame + slice threads: decoding is not the bottleneck
        declared = int(stream.frames or 0)
        index = 0
        # Times count from the stream's start (some containers start at an offset).
        t0 = float(stream.start_time * stream.time_base) if stream.start_time is not None else None
        if start > 0 and t0 is not None:
            try:  # jump to the keyframe before `start` instead of decoding everything up to it
                container.seek(int((start + t0) / stream.time_base), stream=stream, backward=True)
            except av.FFmpegError:
                container.close()
                container = _open(path)
                stream = container.streams.video[0]
        try:
            for frame in container.decode(stream):
                if frame.pts is None:
                    continue
                t = float(frame.pts * stream.time_base)
                if t0 is None:
                    t0 = t
                t -= t0
                if t < start - 1e-6:
                    continue
                if end is not None and t >= end:
                    break
                image = frame.to_ndarray(format="rgb24")
                rot = _frame_rotation(frame)
                if rot:
                    image = np.ascontiguousarray(np.rot90(image, k=rot // 90))
                yield Frame(index, t, image)
                index += 1
        except av.FFmpegError as exc:
            raise InputError(
                f"{path}: video data is corrupt or truncated after frame {index} ({_ffmpeg_reason(exc)})"
            ) from None
        if index == 0 and start == 0:
            raise InputError(f"{path}: no frame could be decoded (corrupt or truncated video)")
        if end is None and start == 0 and declared > 0 and index < 0.9 * declared - 1:
            raise InputError(
                f"{path}: video is truncated: it declares {declared} frames but only {index} decode"
            )
    finally:
        container.close()


def frame_rate_fraction(fps: float) -> Fraction:
    """A tidy fraction for a frame rate (29.97 -> 30000/1001)."""
    for den in (1, 1001):
        num = fps * den
        if abs(num - round(num)) < 1e-3 * den:
            return Fraction(int(round(num)), den)
    return Fraction(fps).limit_denominator(1001)


def prefetch(frames: Iterator[Frame], depth: int = 8) -> Iterator[Frame]:
    """Decode ahead in a background thread (PyAV releases the GIL while decoding), so
    decoding overlaps with estimation. At most ``depth`` frames wait: memory stays flat.
    Errors raised by the decoder are re-raised here, in the consumer."""
    import queue
    import threading

    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def produce():
        try:
            for frame in frames:
                while not stop.is_set():
                    try:
                        q.put(frame, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as exc:  # handed to the consumer
            q.put(exc)

    worker = threading.Thread(target=produce, name="mocap-decode", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join(timeout=5)
        if hasattr(frames, "close"):
            try:
                frames.close()
            except ValueError:  # generator still running in the worker: it ends on its own
                pass
