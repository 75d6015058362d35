"""Wires the stages together: decode → estimate → camera/world → gaps/resample → export.

Stages are plain functions in their own modules; this module only runs them in
order, streams frames through the estimator in chunks, reports progress and
times each stage.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import video
from .camera import default_camera
from .errors import NoPersonError
from .estimators import Estimates, make_estimator
from .export import check_output_path, export_scene
from .motion import Camera, Motion, Scene
from .progress import NullProgress, Progress
from .skeleton import Skeleton, skeleton_for_body
from .smooth import fill_gaps, is_uniform, resample_uniform


@dataclass
class RunOptions:
    """Everything ``mocap run`` can be told (CLI options map one to one)."""

    backend: str = "mediapipe"
    fov: float | None = None  # degrees across the longer image side
    focal: float | None = None  # pixels; wins over fov
    start: float = 0.0  # seconds
    end: float | None = None  # seconds
    chunk_size: int = 16  # frames per estimator call


@dataclass
class RunResult:
    outputs: list[Path]
    frames: int
    people: int
    fps: float
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per stage


class _Timer:
    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)

    def add(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.seconds[stage] += now - since
        return now


def capture(video_path, options: RunOptions | None = None, progress: Progress | None = None,
            timer: _Timer | None = None) -> Scene:
    """Video → :class:`Scene` with one person's motion in the Y-up world.

    Raises:
        InputError: unreadable video. NoPersonError: nobody found in any frame.
    """
    options = options or RunOptions()
    progress = progress or NullProgress()
    timer = timer or _Timer()
    info = video.probe(video_path)
    camera = default_camera(info.width, info.height, options.fov, options.focal)
    skeleton = skeleton_for_body()
    estimator = make_estimator(options.backend, skeleton)
    total = _expected_frames(info, options)
    progress.start("estimate", total)
    parts: list[Estimates] = []
    try:
        images, times = [], []
        t = time.perf_counter()
        for frame in video.prefetch(video.read_frames(video_path, options.start, options.end)):
            t = timer.add("decode", t)
            images.append(frame.image)
            times.append(frame.time)
            if len(images) == options.chunk_size:
                parts.append(estimator(images, np.array(times), camera.K))
                progress.advance("estimate", len(images))
                images, times = [], []
            t = timer.add("estimate", t)
        if images:
            parts.append(estimator(images, np.array(times), camera.K))
            progress.advance("estimate", len(images))
            timer.add("estimate", t)
    finally:
        estimator.close()
    progress.finish("estimate")
    if not parts:
        raise NoPersonError(f"{video_path}: no frames in the selected time range")
    t = time.perf_counter()
    progress.start("solve", 1)
    motion = solve_motion(Estimates.concat(parts), camera, skeleton, info.fps)
    progress.advance("solve")
    progress.finish("solve")
    timer.add("solve", t)
    if motion is None:
        raise NoPersonError(f"{video_path}: no person found in the video")
    return Scene({0: motion}, camera, source=str(Path(video_path).name))


def _expected_frames(info: video.VideoInfo, options: RunOptions) -> int | None:
    if not info.num_frames:
        return None
    end = options.end if options.end is not None else info.duration or info.num_frames / info.fps
    span = max(0.0, min(end, info.duration or end) - options.start)
    return int(round(span * info.fps)) or None


def solve_motion(est: Estimates, camera: Camera, skeleton: Skeleton, fps: float) -> Motion | None:
    """Camera-frame estimates → world-frame :class:`Motion` at a uniform ``fps``.

    The root rotation and position are carried from the OpenCV camera frame into
    the Y-up world by ``camera.world_from_camera``; frames where the person was
    not seen are filled by slerp between seen ones (confidence stays 0 there).
    Returns None when the person was never seen.
    """
    valid = (est.confidence > 0) & np.all(np.isfinite(est.root_camera), axis=1)
    if not valid.any():
        return None
    R_wc = camera.world_from_camera[:3, :3]
    t_wc = camera.world_from_camera[:3, 3]
    rotations = est.rotations.copy()
    rotations[:, 0] = R_wc @ rotations[:, 0]
    translation = est.root_camera @ R_wc.T + t_wc
    rotations, translation = fill_gaps(est.times, rotations, translation, valid)
    times, confidence = est.times, np.where(valid, est.confidence, 0.0)
    if not is_uniform(times, fps):
        times, rotations, translation, confidence = resample_uniform(times, rotations, translation, confidence, fps)
    return Motion(fps=fps, times=times, rotations=rotations, translation=translation,
                  skeleton=skeleton, betas=est.betas, confidence=confidence)


def run(video_path, out_paths, options: RunOptions | None = None, progress: Progress | None = None) -> RunResult:
    """``mocap run``: video → animation file(s).

    Args:
        out_paths: one output path or a list of them (one capture, several formats);
            every one is checked before the long work starts.
    """
    progress = progress or NullProgress()
    out_paths = [out_paths] if isinstance(out_paths, (str, Path)) else list(out_paths)
    for path in out_paths:
        check_output_path(path)
    timer = _Timer()
    scene = capture(video_path, options, progress, timer)
    t = time.perf_counter()
    progress.start("export", len(out_paths))
    outputs = []
    for path in out_paths:
        outputs += export_scene(scene, path)
        progress.advance("export")
    progress.finish("export")
    timer.add("export", t)
    motion = next(iter(scene.motions.values()))
    return RunResult(outputs, motion.num_frames, len(scene.motions), motion.fps, dict(timer.seconds))
