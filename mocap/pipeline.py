"""Wires the stages together: decode → estimate → camera/world → gaps/resample → export.

Stages are plain functions in their own modules; this module only runs them in
order, streams frames through the estimator in chunks, reports progress and
times each stage.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from . import video
from .camera import CameraOptions, camera_for
from .cues import CueCollector
from .detectors import DetectOptions, Detector
from .errors import EXIT_USAGE, InputError, MocapError, NoPersonError
from .estimators import BACKENDS, EstimateOptions, Estimates, ModelCache
from .estimators.runner import estimate_frames, estimate_tracked
from .follow import estimates_of
from .export import ExportOptions, check_mesh, check_output_path, export_scene
from .fileio import check_writable
from .motion import Camera, Scene
from .progress import NullProgress, Progress
from .fit import fit_person
from .proportions import body_lengths, proportioned
from .skeleton import Skeleton, skeleton_for_body
from .smooth import SMOOTHING_SECONDS
from .solve import CleanupOptions, ground_from_estimates, solve_motion
from .track import (ByteTracker, Tracklet, collect, drop_fragments, fill_frames, filter_tracklets, join_tracklets,
                    select_people)
from .world import apply_root_motion


@dataclass
class RunOptions:
    """Everything ``mocap run`` can be told (CLI options map one to one); each stage is handed only
    its own part (:attr:`detect`, :attr:`estimate`, :attr:`camera`, :attr:`cleanup`, :attr:`export`)."""

    backend: str = "mediapipe"
    fov: float | None = None  # degrees across the longer image side
    focal: float | None = None  # pixels; wins over everything else
    lens_mm: float | None = None  # lens focal length, mm (35 mm equivalent without sensor_mm)
    sensor_mm: float | None = None  # sensor width along the image's longer side, mm
    start: float = 0.0  # seconds
    end: float | None = None  # seconds
    chunk_size: int = 16  # frames per estimator call
    workers: int = 0  # parallel estimators over time segments; 0 = one per core (max 4; one-pass: all cores on one pass)
    detector: str = "auto"  # a name from mocap.detectors; "none": one person, whole frames
    detector_weights: str | None = None  # model file for detectors that need one
    min_seconds: float = 1.0  # people seen for less time than this are dropped
    detect_fps: float = 10.0  # run the detector at most this often; 0: on every frame
    fit: str = "on"  # on: own proportions (mocap.proportions) and the pose fitted to the 2D joints (mocap.fit);
    # proportions: own proportions only; off: the neutral skeleton, no fit
    smoothing: str = "standard"  # off, light, standard, strong (mocap.smooth.SMOOTHING_SECONDS)
    causal: bool = False  # smooth with the One Euro filter (no look-ahead) instead of the offline Gaussian
    ground: bool = False  # world up and floor (Y = 0) from the feet, instead of a level camera
    foot_lock: bool = True  # planted feet pinned (contact detection + leg IK), see mocap.contact
    root_motion: str = "performer"  # performer, in-place, drop-in (mocap.world.apply_root_motion)
    off_centre: bool = True  # correct crop estimates for the person's place in the image (for evaluation)
    body_cues: bool = True  # join tracklets by the estimator's facing/shape too, not only position
    persons: str = "all"  # "all", "largest", or track ids "3,5"
    split: bool = False  # one output file per person
    preview: str | None = None  # also write the video with boxes, ids and skeletons here
    checkpoint: str | None = None  # hmr2: the network's weights (None: the usual places)
    smpl: str | None = None  # SMPL model file (.pkl as released, or converted .npz): shaped skeletons
    device: str = "auto"  # hmr2: auto, cpu, cuda, cuda:N
    batch_size: int = 32  # hmr2: crops per network call
    precision: str = "auto"  # hmr2: auto (bf16 on a GPU), fp32, bf16, fp16
    export: ExportOptions | None = None  # rig, axes, units, reference pose of the files written

    @property
    def detect(self) -> DetectOptions:
        """The detect-and-track stage's options."""
        return DetectOptions(self.detector, self.detector_weights, self.detect_fps, self.min_seconds, self.body_cues)

    @property
    def estimate(self) -> EstimateOptions:
        """The estimate stage's options."""
        return EstimateOptions(self.backend, self.off_centre, self.checkpoint, self.device, self.batch_size,
                               self.precision)

    @property
    def camera(self) -> CameraOptions:
        """The camera stage's options."""
        return CameraOptions(self.focal, self.fov, self.lens_mm, self.sensor_mm)

    @property
    def cleanup(self) -> CleanupOptions:
        """The clean-up stage's options."""
        return CleanupOptions(self.smoothing, self.causal, self.foot_lock, self.ground, self.root_motion)


def new_estimator(options: RunOptions, skeleton: Skeleton, models: ModelCache, static: bool = False):
    """An estimator of ``options.backend`` (see :data:`mocap.estimators.BACKENDS`)."""
    return BACKENDS.get(options.backend).build(skeleton, options.estimate, static, models)


@dataclass
class RunResult:
    outputs: list[Path]
    frames: int
    people: int
    fps: float
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per stage
    camera: str = ""  # the focal length used and where it came from


class _Timer:
    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)

    def add(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.seconds[stage] += now - since
        return now


def capture(video_path, options: RunOptions | None = None, progress: Progress | None = None,
            timer: _Timer | None = None, detector: Detector | None = None, models: ModelCache | None = None
            ) -> Scene:
    """Video → :class:`Scene` with one person's motion in the Y-up world.

    The clip is cut into ``options.workers`` consecutive segments estimated in
    parallel threads (MediaPipe uses about one core and releases the GIL), each by
    its own estimator that starts ``WARMUP_SECONDS`` early so its tracking and
    landmark smoothing have settled when its segment begins.

    With a detector (``options.detect.detector``, or a :class:`Detector` object passed in),
    people are detected and tracked first, then each is estimated on crops around
    their box by an estimator of their own.

    ``models``: loaded networks to use and keep (None: a cache for this capture).

    Raises:
        InputError: unreadable or truncated video. NoPersonError: nobody found.
    """
    options = options or RunOptions()
    progress = progress or NullProgress()
    timer = timer or _Timer()
    models = models if models is not None else ModelCache()
    info = video.probe(video_path)
    if info.duration and options.start >= info.duration:
        raise MocapError(f"--start {options.start:g} s is past the end of {video_path} ({info.duration:g} s)",
                         exit_code=EXIT_USAGE)
    camera, _ = camera_for(info.width, info.height, options.camera, info.focal_35mm)
    detect, cleanup = options.detect, options.cleanup
    skeleton = skeleton_for_body()
    people = None
    tracking = detector is not None or detect.detector != "none"
    if tracking and BACKENDS.get(options.backend).follows:
        tracklets, followed = follow_people(video_path, info, options, progress, timer, detector, models)
        people = select_people(tracklets, options.persons)
        if not people:
            raise NoPersonError(f"{video_path}: no person seen for at least {detect.min_seconds:g} s")
        t = time.perf_counter()
        per_person = {tid: [estimates_of(followed[tid], camera.K, skeleton, options.off_centre)] for tid in people}
        del followed
        timer.add("estimate", t)
    else:
        if tracking:
            tracklets = track_people(video_path, info, options, progress, timer, detector, models)
            people = select_people(tracklets, options.persons)
            if not people:
                raise NoPersonError(f"{video_path}: no person seen for at least {detect.min_seconds:g} s")
        per_person = _estimate(video_path, info, options, people, skeleton, camera.K, models, progress, timer)
    t, fit_before = time.perf_counter(), timer.seconds["fit"]
    body = body_model_for(options, models)
    motions, camera = _solve(per_person, camera, skeleton, body, info.fps, cleanup, progress, options.fit, timer)
    timer.add("solve", t + timer.seconds["fit"] - fit_before)  # the fit is its own stage
    if not motions:
        raise NoPersonError(f"{video_path}: no person found in the video")
    motions, world_from_camera = apply_root_motion(motions, camera.world_from_camera, cleanup.root_motion)
    camera = Camera(camera.K, camera.image_size, world_from_camera)
    return Scene(motions, camera, source=str(Path(video_path).name), tracks=people)


def _estimate(video_path, info: video.VideoInfo, options: RunOptions, people: dict[int, Tracklet] | None,
              skeleton: Skeleton, K: np.ndarray, models: ModelCache, progress: Progress, timer: _Timer
              ) -> dict[int, list[Estimates]]:
    """Everyone's estimates (track id -> pieces in time order; 0 without tracking), the clip's
    segments estimated in parallel threads (see :func:`plan_segments`)."""
    backend = BACKENDS.get(options.backend)
    segments = plan_segments(info, options)
    progress.start("estimate", _expected_frames(info, options))
    lock = threading.Lock()

    def advance(n: int) -> None:
        with lock:
            progress.advance("estimate", n)

    stop = threading.Event()  # set when one segment fails or the user interrupts: the others quit

    def new():
        return new_estimator(options, skeleton, models)

    def estimate(segment):
        if people is None:
            return {0: estimate_frames(video_path, segment, new, K, options.chunk_size, advance, stop)}
        batch = options.batch_size if backend.batched else options.chunk_size
        return estimate_tracked(video_path, segment, people, backend, new, K, batch, advance, stop)

    t = time.perf_counter()
    parts = in_parallel(estimate, segments, stop, "mocap-estimate")
    progress.finish("estimate")
    timer.add("estimate", t)
    if people is None:
        check_decoded(video_path, info, options, sum(p[0].num_frames for p in parts if p[0] is not None))
    per_person: dict[int, list[Estimates]] = {}
    for part in parts:
        for tid, est in part.items():
            if est is not None:
                per_person.setdefault(tid, []).append(est)
    return per_person


def in_parallel(work, segments: list, stop: threading.Event, name: str) -> list:
    """``work(segment)`` for every segment, each in a thread of its own; the results in order.
    If one fails (or the user interrupts), ``stop`` is set so that the others quit, and it is raised.

    BLAS is kept to one thread meanwhile: the segments have the cores, and OpenBLAS's idle
    threads spin between the small products numpy hands them (a whole core on 2 cores)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"), \
            ThreadPoolExecutor(len(segments), thread_name_prefix=name) as pool:
        try:
            return list(pool.map(work, segments))
        except BaseException:
            stop.set()
            raise


def check_decoded(video_path, info: video.VideoInfo, options: RunOptions, frames: int) -> None:
    """Raise InputError when no frame of the selected range decoded, or (the whole clip selected)
    far fewer than the container declares: the parallel segments each read only their part, so
    :func:`mocap.video.read_frames`' own check does not see it."""
    if frames == 0:
        raise InputError(f"{video_path}: no frame could be decoded in the selected time range")
    whole = options.start == 0 and options.end is None
    if whole and info.num_frames and frames < 0.9 * info.num_frames - 1:
        raise InputError(f"{video_path}: video is truncated: it declares {info.num_frames} frames "
                         f"but only {frames} decode")


def _solve(per_person: dict[int, list[Estimates]], camera: Camera, skeleton: Skeleton, body, fps: float,
           options: CleanupOptions, progress: Progress, fit: str = "on", timer: _Timer | None = None
           ) -> tuple[dict, Camera]:
    """Each person's world motion (track id -> :class:`~mocap.motion.Motion`), and the camera (with
    ``options.ground``, its floor found under everyone's feet, :func:`mocap.solve.ground_from_estimates`).

    Each person is on the skeleton of their body shape when there is a ``body`` model and the
    backend estimates shape; else, unless ``fit`` is "off", on the skeleton with the bone lengths
    the backend measured over the clip (:func:`mocap.proportions.proportioned`); with ``fit`` "on",
    their pose is fitted to their 2D joints first (:func:`mocap.fit.fit_person`, timed as "fit").
    ``per_person`` is emptied as they are solved (each piece is let go of once its person is done:
    memory flat with the number of people)."""
    progress.start("solve", len(per_person))
    people = {}
    for tid in sorted(per_person):
        chunks = per_person.pop(tid)
        betas = [c.betas for c in chunks if c.num_frames]
        est = Estimates.concat(chunks)
        del chunks
        shaped = skeleton
        if body is not None and np.any(betas):
            # One body per person: the median of the per-chunk shape estimates.
            est.betas = np.median(betas, axis=0)
            shaped = skeleton_for_body(est.betas, body)
        elif fit != "off" and est.lengths is not None:
            shaped = proportioned(skeleton, body_lengths(est.lengths[est.confidence > 0]))
        if fit == "on":
            t = time.perf_counter()
            est = fit_person(est, camera.K, shaped, camera.world_from_camera, fps)
            if timer is not None:
                timer.add("fit", t)
        people[tid] = (est, shaped)
    if options.ground:
        camera = Camera(camera.K, camera.image_size, ground_from_estimates(people.values()))
    motions = {}
    for tid in sorted(people):
        est, shaped = people.pop(tid)
        motion = solve_motion(est, camera, shaped, fps, SMOOTHING_SECONDS[options.smoothing],
                              options.foot_lock, options.causal)
        del est
        if motion is not None:
            motions[tid] = motion
        progress.advance("solve")
    progress.finish("solve")
    return motions, camera


def follow_people(video_path, info: video.VideoInfo, options: RunOptions, progress: Progress,
                  timer: _Timer | None = None, detector: Detector | None = None, models: ModelCache | None = None,
                  stage: str = "estimate") -> tuple[dict[int, Tracklet], dict]:
    """Detect, follow and landmark everyone in one pass over the video (:mod:`mocap.follow`); keep
    those seen for ``options.detect.min_seconds``. Progress is reported as ``stage``.

    By default (``options.workers`` 0) the clip is followed in one pass whose networks use every
    core (one region on all of them, everyone in a frame side by side): one search of the first
    frame, no seams. With ``workers`` N it is cut into N consecutive segments
    (:func:`plan_segments`) followed in parallel threads of one core each (the networks release
    the GIL), each starting ``WARMUP_SECONDS`` early; their people are matched on those frames
    (:func:`mocap.follow.stitch`). A ``detector`` object passed in is used for one segment.

    Returns:
        track id -> :class:`Tracklet` (ids stable over the video), and track id -> the
        :class:`~mocap.follow.Followed` person (for :func:`mocap.follow.estimates_of`).
    """
    from .detectors import make_detector
    from .follow import Follower, FollowOptions, settle, stitch, tracklet_of

    detect = options.detect
    timer = timer or _Timer()
    whole = [(options.start, options.end, options.start)]
    segments = plan_segments(info, options) if detector is None and options.workers else whole
    threads = 1 if len(segments) > 1 or options.workers else default_workers()
    follow_options = FollowOptions(passes_per_second=detect.fps if detect.fps > 0 else info.fps,
                                   min_seconds=detect.min_seconds)
    progress.start(stage, _expected_frames(info, options))
    lock = threading.Lock()
    stop = threading.Event()  # set when one segment fails or the user interrupts: the others quit

    def follow(segment):
        start, end, warm_start = segment
        follower = Follower(detector or make_detector(detect.detector, detect.weights, threads=threads),
                            info.width, info.height, info.fps, follow_options, threads=threads)
        frames, busy, began = [], 0.0, time.perf_counter()
        try:
            for frame in video.prefetch(video.read_frames(video_path, warm_start, end)):
                if stop.is_set():
                    return None
                t0 = time.perf_counter()
                follower.step(int(round(frame.time * info.fps)), frame.time, frame.image)
                busy += time.perf_counter() - t0
                if frame.time >= start - 1e-6:
                    frames.append((int(round(frame.time * info.fps)), frame.time))
                    with lock:
                        progress.advance(stage)
        finally:
            follower.close()
        return start, follower.people, frames, dict(follower.timing, busy=busy, loop=time.perf_counter() - began)

    t = time.perf_counter()
    parts = in_parallel(follow, segments, stop, "mocap-follow")
    progress.finish(stage)
    check_decoded(video_path, info, options, sum(len(p[2]) for p in parts))
    wall = time.perf_counter() - t
    people = stitch([(start, found) for start, found, _, _ in parts])
    K = camera_for(info.width, info.height, options.camera, info.focal_35mm)[0].K
    people = settle(people, info.fps, detect.min_seconds, *((K, skeleton_for_body()) if detect.body_cues else ()))
    # The pass's wall time shared out by what the threads spent: the detector's passes, the
    # landmark network, the rest of following (tracking), and waiting for frames (decode).
    spent = {k: sum(p[3][k] for p in parts) for k in ("detect", "landmarks", "busy", "loop")}
    share = wall / max(spent["loop"], 1e-9)
    timer.seconds["detect"] += spent["detect"] * share
    timer.seconds["landmarks"] += spent["landmarks"] * share
    timer.seconds["track"] += (spent["busy"] - spent["detect"] - spent["landmarks"]) * share
    timer.seconds["decode"] += (spent["loop"] - spent["busy"]) * share
    timer.add("track", t + wall)
    # Boxes for the frames of short gaps too (a body lost for a few frames in a crossing), as the
    # two-pass path gives them; estimates stay on the frames seen.
    numbers, times = (np.array(c) for c in zip(*[f for p in parts for f in p[2]])) if any(p[2] for p in parts) \
        else (np.zeros(0, int), np.zeros(0))
    tracklets = {tid: fill_frames(tracklet_of(p), numbers.astype(int), times, max_gap=FILL_SECONDS)
                 for tid, p in people.items()}
    return tracklets, people


# Gaps in a followed person's boxes filled by interpolation, seconds.
FILL_SECONDS = 1.0



def track_people(video_path, info: video.VideoInfo, options: RunOptions, progress: Progress,
                 timer: _Timer | None = None, detector: Detector | None = None, models: ModelCache | None = None
                 ) -> dict[int, Tracklet]:
    """Detect and track everyone; keep those seen for ``options.detect.min_seconds``.

    With a backend that follows people itself (``Backend.follows``), :func:`follow_people` does it.

    Args:
        detector: overrides ``options.detect.detector`` (a name for :func:`mocap.detectors.make_detector`).
    Returns:
        track id -> :class:`Tracklet`, ids stable over the video.
    """
    if BACKENDS.get(options.backend).follows:
        return follow_people(video_path, info, options, progress, timer, detector, models, stage="track")[0]
    detect = options.detect
    if detector is None:
        from .detectors import make_detector

        detector = make_detector(detect.detector, detect.weights, follows=False)
    # Detect at most detect_fps times a second: people move little in a tenth of a
    # second, the tracker is built for low rates, and boxes in between are interpolated.
    rate = min(info.fps, detect.fps) if detect.fps > 0 else info.fps
    tracker = ByteTracker(rate)
    timer = timer or _Timer()
    progress.start("track", _expected_frames(info, options))
    rows, decoded = [], []
    next_time = -np.inf
    cues = None
    spec = BACKENDS.get(options.backend).crop
    if detect.body_cues:
        # Facing and shape from the body estimator at each tracklet's ends, for joining.
        K = camera_for(info.width, info.height, options.camera, info.focal_35mm)[0].K
        models = models if models is not None else ModelCache()
        cues = CueCollector(lambda: new_estimator(options, skeleton_for_body(), models, static=True), K,
                            aspect=spec.aspect, scale=spec.scale)
    t = time.perf_counter()
    for frame in video.prefetch(video.read_frames(video_path, options.start, options.end)):
        t = timer.add("decode", t)
        # Frame numbers at the nominal rate, so they match the video's even after --start.
        number = int(round(frame.time * info.fps))
        decoded.append((number, frame.time))
        if frame.time >= next_time - 0.5 / info.fps - 1e-9:  # on a 1/rate grid, to the nearest frame
            next_time = next_time + 1 / rate if next_time > frame.time - 1 / rate else frame.time + 1 / rate
            found = detector(frame.image)
            t = timer.add("detect", t)
            live = {tr.id for tr in tracker.tracks} if cues is not None else set()
            tracked = tracker.update(found)
            rows.append((number, frame.time, tracked))
            t = timer.add("track", t)
            if cues is not None:
                cues.add(frame.image, frame.time, tracked)
                cues.finish(live - {tr.id for tr in tracker.tracks})
                t = timer.add("cues", t)
        progress.advance("track")
    progress.finish("track")
    t = time.perf_counter()
    end_cues = cues.close() if cues is not None else None
    t = timer.add("cues", t)
    tracklets = filter_tracklets(join_tracklets(collect(rows), cues=end_cues), detect.min_seconds, rate)
    frames, times = (np.array(c) for c in zip(*decoded)) if decoded else (np.zeros(0, int), np.zeros(0))
    tracklets = drop_fragments({tid: fill_frames(tr, frames, times, max_gap=2.5 / rate, hold=0.99 / rate)
                                for tid, tr in tracklets.items()})
    timer.add("track", t)
    return tracklets


def _camera_source(info: video.VideoInfo, options: RunOptions) -> str:
    """Where the focal length came from, and its value, in words."""
    return camera_for(info.width, info.height, options.camera, info.focal_35mm)[1]


def body_model_for(options: RunOptions, models: ModelCache | None = None):
    """The SMPL :class:`~mocap.body_model.BodyModel` to shape skeletons with: ``options.smpl``; else
    the one the backend carries (hmr2: its checkpoint's SMPL buffers); else an installed SMPL file;
    else None."""
    from .model_files import installed_body_model

    def find():
        if options.smpl:
            return installed_body_model(options.smpl)
        carried = BACKENDS.get(options.backend).body_model
        body = carried(options.estimate, models) if carried else None
        return body if body is not None else installed_body_model()

    models = models if models is not None else ModelCache()
    return models.get(("body model", options.smpl, options.estimate), find)


# A parallel segment's estimator starts this early; what it sees there is dropped.
WARMUP_SECONDS = 0.5
# Below this many seconds per segment, splitting costs more than it gains.
MIN_SEGMENT_SECONDS = 1.5


def plan_segments(info: video.VideoInfo, options: RunOptions) -> list[tuple[float, float | None, float]]:
    """Cut the selected time range into segments for parallel estimation.

    Returns:
        (start, end, warm_start) per segment, seconds; ``end`` None = to the end of the video.
    """
    end = options.end if options.end is not None else (info.duration or None)
    workers = options.workers or default_workers()
    if end is None or workers <= 1:
        return [(options.start, options.end, options.start)]
    span = end - options.start
    n = max(1, min(workers, int(span // MIN_SEGMENT_SECONDS)))
    cuts = [options.start + span * k / n for k in range(n + 1)]
    # Snap inner cuts to frame times so no frame falls between two segments.
    cuts[1:-1] = [round(c * info.fps) / info.fps for c in cuts[1:-1]]
    last_end = options.end  # None: decode to the real end, whatever the header said
    return [(cuts[k], cuts[k + 1] if k < n - 1 else last_end, max(options.start, cuts[k] - WARMUP_SECONDS * (k > 0)))
            for k in range(n)]


def default_workers() -> int:
    """Parallel estimators by default: one per core (MediaPipe uses about one each), at most 4."""
    return max(1, min(4, os.cpu_count() or 1))


def _expected_frames(info: video.VideoInfo, options: RunOptions) -> int | None:
    if not info.num_frames:
        return None
    end = options.end if options.end is not None else info.duration or info.num_frames / info.fps
    span = max(0.0, min(end, info.duration or end) - options.start)
    return int(round(span * info.fps)) or None


def run(video_path, out_paths, options: RunOptions | None = None, progress: Progress | None = None,
        detector: Detector | None = None, models: ModelCache | None = None) -> RunResult:
    """``mocap run``: video → animation file(s). The engine's one entry point for a capture:
    the command line, ``mocap batch`` (local and Ray workers) and the add-on's engine call it.

    Args:
        out_paths: one output path or a list of them (one capture, several formats);
            every one is checked before the long work starts.
        models: loaded networks to use and keep (a farm worker's, shared by its takes).
    Raises:
        MocapError (its subclasses name the kind and carry the exit code).
    """
    progress = progress or NullProgress()
    options = options or RunOptions()
    out_paths = [out_paths] if isinstance(out_paths, (str, Path)) else list(out_paths)
    for path in out_paths:
        check_output_path(path)
    if options.preview:
        check_writable(options.preview)
    models = models if models is not None else ModelCache()
    prepare = BACKENDS.get(options.backend).prepare
    if prepare is not None:  # load the network now: a missing or bad model file fails before the long work
        prepare(options.estimate, models)
    if options.export is not None and options.export.mesh != "none":
        if options.export.mesh in ("smpl", "auto") and options.export.body_model is None:
            options = replace(options, export=replace(options.export, body_model=body_model_for(options, models)))
        check_mesh(options.export, out_paths)
    timer = _Timer()
    scene = capture(video_path, options, progress, timer, detector, models)
    t = time.perf_counter()
    progress.start("export", len(out_paths))
    outputs = []
    for path in out_paths:
        outputs += export_scene(scene, path, split=options.split, options=options.export)
        progress.advance("export")
    progress.finish("export")
    t = timer.add("export", t)
    if options.preview:
        from .preview import write_preview

        outputs.append(write_preview(video_path, scene, options.preview, scene.tracks, progress))
        timer.add("preview", t)
    first = min(m.times[0] for m in scene.motions.values())
    last = max(m.times[-1] for m in scene.motions.values())
    frames = int(round((last - first) * scene.fps)) + 1  # video frames spanned by the people captured
    return RunResult(outputs, frames, len(scene.motions), scene.fps, dict(timer.seconds),
                     _camera_source(video.probe(video_path), options))
