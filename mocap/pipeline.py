"""Wires the stages together: decode → estimate → camera/world → gaps/resample → export.

Stages are plain functions in their own modules; this module only runs them in
order, streams frames through the estimator in chunks, reports progress and
times each stage.
"""

from __future__ import annotations

import os
import threading
import time
from collections import defaultdict, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from . import video
from .camera import choose_focal, default_camera
from .contact import lock_feet
from .crop import cut, person_region
from .cues import CueCollector
from .detect import Detector
from .errors import EXIT_USAGE, InputError, MocapError, NoPersonError, OutputError
from .estimators import BATCHED, CROPS, CropSpec, Estimates, make_estimator
from .export import ExportOptions, check_mesh, check_output_path, export_scene
from .fileio import check_writable
from .motion import Camera, Motion, Scene
from .progress import NullProgress, Progress
from .skeleton import Skeleton, joint_positions, skeleton_for_body
from .smooth import (SMOOTHING_SECONDS, fill_gaps, is_uniform, one_euro_motion, outlier_frames, resample_uniform,
                     smooth_motion)
from .track import (ByteTracker, Tracklet, boxes_at_time, collect, drop_fragments, fill_frames, filter_tracklets,
                    join_tracklets)
from .world import apply_root_motion


@dataclass
class RunOptions:
    """Everything ``mocap run`` can be told (CLI options map one to one)."""

    backend: str = "mediapipe"
    fov: float | None = None  # degrees across the longer image side
    focal: float | None = None  # pixels; wins over everything else
    lens_mm: float | None = None  # lens focal length, mm (35 mm equivalent without sensor_mm)
    sensor_mm: float | None = None  # sensor width along the image's longer side, mm
    start: float = 0.0  # seconds
    end: float | None = None  # seconds
    chunk_size: int = 16  # frames per estimator call
    workers: int = 0  # parallel estimators over time segments; 0 = one per core (max 4)
    detector: str = "auto"  # a name from mocap.detectors; "none": one person, whole frames
    detector_weights: str | None = None  # model file for detectors that need one
    min_seconds: float = 1.0  # people seen for less time than this are dropped
    detect_fps: float = 10.0  # run the detector at most this often; 0: on every frame
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
            timer: _Timer | None = None, detector: Detector | None = None) -> Scene:
    """Video → :class:`Scene` with one person's motion in the Y-up world.

    The clip is cut into ``options.workers`` consecutive segments estimated in
    parallel threads (MediaPipe uses about one core and releases the GIL), each by
    its own estimator that starts ``WARMUP_SECONDS`` early so its tracking and
    landmark smoothing have settled when its segment begins.

    With a detector (``options.detector``, or a :class:`Detector` object passed in),
    people are detected and tracked first, then each is estimated on crops around
    their box by an estimator of their own.

    Raises:
        InputError: unreadable or truncated video. NoPersonError: nobody found.
    """
    options = options or RunOptions()
    progress = progress or NullProgress()
    timer = timer or _Timer()
    info = video.probe(video_path)
    if info.duration and options.start >= info.duration:
        raise MocapError(f"--start {options.start:g} s is past the end of {video_path} ({info.duration:g} s)",
                         exit_code=EXIT_USAGE)
    camera = camera_for(info, options)
    skeleton = skeleton_for_body()
    people = None
    if detector is not None or options.detector != "none":
        tracklets = track_people(video_path, info, options, progress, timer, detector)
        people = select_people(tracklets, options.persons)
        if not people:
            raise NoPersonError(f"{video_path}: no person seen for at least {options.min_seconds:g} s")
    segments = plan_segments(info, options)
    progress.start("estimate", _expected_frames(info, options))
    lock = threading.Lock()

    def advance(n: int) -> None:
        with lock:
            progress.advance("estimate", n)

    stop = threading.Event()  # set when one segment fails or the user interrupts: the others quit

    def estimate(segment):
        if people is None:
            return {0: _estimate_segment(video_path, *segment, options, skeleton, camera.K, advance, stop)}
        return _estimate_people(video_path, *segment, people, options, skeleton, camera.K, advance, stop)

    t = time.perf_counter()
    with ThreadPoolExecutor(len(segments), thread_name_prefix="mocap-estimate") as pool:
        try:
            parts = list(pool.map(estimate, segments))
        except BaseException:
            stop.set()
            raise
    progress.finish("estimate")
    t = timer.add("estimate", t)
    if people is None:
        frames = sum(p[0].num_frames for p in parts if p[0] is not None)
        if frames == 0:
            raise InputError(f"{video_path}: no frame could be decoded in the selected time range")
        whole = options.start == 0 and options.end is None
        if whole and info.num_frames and frames < 0.9 * info.num_frames - 1:
            raise InputError(f"{video_path}: video is truncated: it declares {info.num_frames} frames "
                             f"but only {frames} decode")
    per_person: dict[int, list[Estimates]] = {}
    for part in parts:
        for tid, est in part.items():
            if est is not None:
                per_person.setdefault(tid, []).append(est)
    del parts  # per_person holds each piece once, and lets go of it when that person is solved
    progress.start("solve", len(per_person))
    loaded = options.export.body_model if options.export is not None else None  # run() loaded it for --mesh
    body = loaded if loaded is not None else body_model_for(options)
    if options.ground:
        camera = Camera(camera.K, camera.image_size, ground_from_estimates(per_person, skeleton))
    motions = {}
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
        motion = solve_motion(est, camera, shaped, info.fps, SMOOTHING_SECONDS[options.smoothing],
                              options.foot_lock, options.causal)
        del est
        if motion is not None:
            motions[tid] = motion
        progress.advance("solve")
    progress.finish("solve")
    timer.add("solve", t)
    if not motions:
        raise NoPersonError(f"{video_path}: no person found in the video")
    motions, world_from_camera = apply_root_motion(motions, camera.world_from_camera, options.root_motion)
    camera = Camera(camera.K, camera.image_size, world_from_camera)
    return Scene(motions, camera, source=str(Path(video_path).name), tracks=people)


def track_people(video_path, info: video.VideoInfo, options: RunOptions, progress: Progress,
                 timer: _Timer | None = None, detector: Detector | None = None) -> dict[int, Tracklet]:
    """Detect and track everyone; keep those seen for ``options.min_seconds``.

    Args:
        detector: overrides ``options.detector`` (a name for :func:`mocap.detectors.make_detector`).
    Returns:
        track id -> :class:`Tracklet`, ids stable over the video.
    """
    if detector is None:
        from .detectors import make_detector

        detector = make_detector(options.detector, options.detector_weights)
    # Detect at most detect_fps times a second: people move little in a tenth of a
    # second, the tracker is built for low rates, and boxes in between are interpolated.
    rate = min(info.fps, options.detect_fps) if options.detect_fps > 0 else info.fps
    tracker = ByteTracker(rate)
    timer = timer or _Timer()
    progress.start("track", _expected_frames(info, options))
    rows, decoded = [], []
    next_time = -np.inf
    cues = None
    spec = CROPS.get(options.backend, CropSpec())
    if options.body_cues:
        # Facing and shape from the body estimator at each tracklet's ends, for joining.
        K = camera_for(info, options).K
        cues = CueCollector(lambda: make_estimator(options.backend, skeleton_for_body(), static=True,
                                                   **backend_settings(options)), K,
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
    tracklets = filter_tracklets(join_tracklets(collect(rows), cues=end_cues), options.min_seconds, rate)
    frames, times = (np.array(c) for c in zip(*decoded)) if decoded else (np.zeros(0, int), np.zeros(0))
    tracklets = drop_fragments({tid: fill_frames(tr, frames, times, max_gap=2.5 / rate, hold=0.99 / rate)
                                for tid, tr in tracklets.items()})
    timer.add("track", t)
    return tracklets


def camera_for(info: video.VideoInfo, options: RunOptions) -> Camera:
    """The static camera the video was shot with (focal length as :func:`mocap.camera.choose_focal`)."""
    focal, _ = choose_focal(info.width, info.height, options.focal, options.fov, options.lens_mm,
                            options.sensor_mm, info.focal_35mm)
    return default_camera(info.width, info.height, focal_px=focal)


def camera_source(info: video.VideoInfo, options: RunOptions) -> str:
    """Where the focal length came from, and its value, in words."""
    focal, source = choose_focal(info.width, info.height, options.focal, options.fov, options.lens_mm,
                                 options.sensor_mm, info.focal_35mm)
    return f"{source}: {focal:.0f} px for {info.width}x{info.height}"


def select_people(tracklets: dict[int, Tracklet], persons: str) -> dict[int, Tracklet]:
    """``all``; ``largest`` (the tallest median box — usually the main subject); or ids "3,5"."""
    if persons == "all" or not tracklets:
        return tracklets
    if persons == "largest":
        tid = max(tracklets, key=lambda i: np.median(tracklets[i].boxes[:, 3] - tracklets[i].boxes[:, 1]))
        return {tid: tracklets[tid]}
    try:
        wanted = [int(x) for x in persons.split(",") if x.strip()]
    except ValueError:
        raise MocapError(f"--person takes 'all', 'largest' or track ids like 3,5; got {persons!r}",
                         exit_code=EXIT_USAGE) from None
    missing = [i for i in wanted if i not in tracklets]
    if missing:
        raise MocapError(f"--person: no track {', '.join(map(str, missing))} "
                         f"(tracks: {', '.join(map(str, tracklets)) or 'none'})", exit_code=EXIT_USAGE)
    return {i: tracklets[i] for i in wanted}


def _estimate_people(video_path, start, end, warm_start, people: dict[int, Tracklet], options, skeleton, K,
                     advance, stop: threading.Event) -> dict[int, Estimates | None]:
    """Per-person estimation on crops around each tracked box in [start, end).

    Every person gets their own estimator (MediaPipe tracks between frames), fed in
    chunks of ``options.chunk_size`` crops.
    """
    spec = CROPS.get(options.backend, CropSpec())
    estimators: dict = {}
    pending: dict[int, tuple[list, list, list]] = {}
    parts: dict[int, list[Estimates]] = {tid: [] for tid in people}
    last_seen: dict[int, float] = {}

    # A stateless estimator (hmr2) takes everyone's crops in shared batches of batch_size;
    # one that tracks between frames (MediaPipe) gets each person's chunks on their own.
    shared = options.backend in BATCHED
    batch = options.batch_size if shared else options.chunk_size

    def finish(tid, est, boxes):
        est.confidence = np.where(_inside(est.keypoints, np.array(boxes)), est.confidence, 0.0)
        parts[tid].append(_keep_from(est, start).compact())

    # Shared batches run in a worker thread while this one decodes and cuts the next batch
    # (at most two in flight, so memory stays bounded); results are taken in order.
    inference = ThreadPoolExecutor(1, thread_name_prefix="mocap-infer") if shared else None
    in_flight: deque = deque()

    def collect(limit: int) -> None:
        while len(in_flight) > limit:
            future, groups = in_flight.popleft()
            for t, est in future.result().items():
                finish(t, est, groups[t][3])

    def flush(tid):
        if shared:
            groups = {t: pending.pop(t) for t in list(pending)}
            batch_in = {t: (g[0], np.array(g[1]), np.array(g[2], float), np.array(g[3], float))
                        for t, g in groups.items()}
            in_flight.append((inference.submit(estimators[tid].estimate_people, batch_in, K), groups))
            collect(limit=2)
            return
        images, times, offsets, boxes = pending.pop(tid)
        finish(tid, estimators[tid](images, np.array(times), K, np.array(offsets, float)), boxes)

    try:
        for frame in video.prefetch(video.read_frames(video_path, warm_start, end)):
            if stop.is_set():
                return {}
            for tid, box in boxes_at_time(people, frame.time):
                if tid in estimators and frame.time - last_seen[tid] > RESTART_AFTER_SECONDS:
                    # Back after a gap (hidden, away): what the estimator tracked before is stale.
                    if tid in pending:
                        flush(tid)
                    estimators.pop(tid).close()
                if tid not in estimators:
                    estimators[tid] = make_estimator(options.backend, skeleton, **backend_settings(options))
                last_seen[tid] = frame.time
                window = spec.window(box, frame.image.shape)
                images, times, offsets, boxes = pending.setdefault(tid, ([], [], [], []))
                images.append(cut(frame.image, window, keep=person_region(box) if spec.blank_neighbours else None))
                times.append(frame.time)
                offsets.append(window[:2])
                boxes.append(box)
                if (sum(len(p[0]) for p in pending.values()) if shared else len(images)) >= batch:
                    flush(tid)
            if frame.time >= start - 1e-6:
                advance(1)
        while pending:
            flush(next(iter(pending)))
        collect(limit=0)
    finally:
        if inference is not None:
            inference.shutdown(wait=True, cancel_futures=True)
        for est in estimators.values():
            est.close()
    return {tid: Estimates.concat(p) if any(x.num_frames for x in p) else None
            for tid, p in parts.items() if p}


FOOT_JOINTS = ("left_ankle", "right_ankle", "left_foot", "right_foot")


def ground_from_estimates(per_person: dict[int, list[Estimates]], skeleton: Skeleton) -> np.ndarray:
    """(4, 4) world_from_camera with the floor under everyone's feet at Y = 0 (see :mod:`mocap.world`)."""
    from .world import fit_ground, world_from_ground

    idx = [skeleton.names.index(n) for n in FOOT_JOINTS]
    feet = []
    for chunks in per_person.values():
        for est in chunks:
            seen = (est.confidence > 0) & np.all(np.isfinite(est.root_camera), axis=1)
            if seen.any():
                feet.append(joint_positions(est.rotations, est.root_camera, skeleton, idx)[seen])
    try:
        return world_from_ground(*fit_ground(np.concatenate(feet) if feet else np.zeros((0, 4, 3))))
    except ValueError as exc:
        raise NoPersonError(f"--ground: {exc}") from None


def body_model_for(options: RunOptions) -> dict | None:
    """The SMPL body model to shape skeletons with: ``options.smpl``; else the hmr2
    checkpoint's own SMPL buffers; else 4D-Humans' SMPL file if it is installed; else None."""
    from .body_model import load_body_model

    if options.smpl:
        return load_body_model(options.smpl)
    if options.backend == "hmr2":
        from .estimators.hmr2.estimator import checkpoint_body_model

        body = checkpoint_body_model(options.checkpoint, options.device, options.precision)
        if body is not None:
            return body
    from .estimators.hmr2.estimator import SMPL_FILE
    from .models import SMPL_NPZ

    found = next((p for p in (SMPL_NPZ, SMPL_FILE) if p.is_file()), None)
    return load_body_model(found) if found else None


def backend_settings(options: RunOptions) -> dict:
    """The options ``make_estimator`` passes on to the chosen backend."""
    if options.backend == "hmr2":
        return {"checkpoint": options.checkpoint, "device": options.device, "batch_size": options.batch_size,
                "precision": options.precision, "off_centre": options.off_centre}
    return {"off_centre": options.off_centre}


# A person's estimator starts afresh when they come back after a gap longer than this.
RESTART_AFTER_SECONDS = 0.3
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


def _estimate_segment(video_path, start, end, warm_start, options, skeleton, K, advance,
                      stop: threading.Event) -> Estimates | None:
    """Decode and estimate the frames in [start, end), warming the estimator up from ``warm_start``.
    Returns early (None) once ``stop`` is set."""
    estimator = make_estimator(options.backend, skeleton, **backend_settings(options))
    parts: list[Estimates] = []
    try:
        images, times = [], []
        for frame in video.prefetch(video.read_frames(video_path, warm_start, end)):
            if stop.is_set():
                return None
            images.append(frame.image)
            times.append(frame.time)
            if len(images) == options.chunk_size:
                parts.append(_keep_from(estimator(images, np.array(times), K), start).compact())
                advance(int((np.array(times) >= start - 1e-6).sum()))
                images, times = [], []
        if images:
            parts.append(_keep_from(estimator(images, np.array(times), K), start).compact())
            advance(int((np.array(times) >= start - 1e-6).sum()))
    finally:
        estimator.close()
    parts = [p for p in parts if p.num_frames]
    return Estimates.concat(parts) if parts else None


def _inside(keypoints: np.ndarray, boxes: np.ndarray, min_visibility: float = 0.5) -> np.ndarray:
    """(N,) bool: the median of each frame's visible keypoints (N, K, 3: x, y, visibility)
    lies in its person's region (boxes (N, 4) xyxy grown as for the crop) — else the
    estimator has fitted someone else, or nothing."""
    out = np.zeros(len(keypoints), bool)
    for i, (kp, box) in enumerate(zip(keypoints, boxes)):
        seen = kp[kp[:, 2] >= min_visibility, :2]
        if len(seen):
            x, y = np.median(seen, axis=0)
            x0, y0, x1, y1 = person_region(box, margin=0.1)
            out[i] = x0 <= x <= x1 and y0 <= y <= y1
    return out


def _keep_from(est: Estimates, start: float) -> Estimates:
    """The frames of ``est`` at or after ``start`` (drops an estimator's warm-up)."""
    keep = est.times >= start - 1e-6
    if keep.all():
        return est
    return Estimates(est.times[keep], est.rotations[keep], est.root_camera[keep], est.confidence[keep],
                     est.keypoints[keep], est.betas)


def _expected_frames(info: video.VideoInfo, options: RunOptions) -> int | None:
    if not info.num_frames:
        return None
    end = options.end if options.end is not None else info.duration or info.num_frames / info.fps
    span = max(0.0, min(end, info.duration or end) - options.start)
    return int(round(span * info.fps)) or None


def solve_motion(est: Estimates, camera: Camera, skeleton: Skeleton, fps: float,
                 smoothing_seconds: float = 0.0, foot_lock: bool = False, causal: bool = False) -> Motion | None:
    """Camera-frame estimates → world-frame :class:`Motion` at a uniform ``fps``.

    The root rotation and position are carried from the OpenCV camera frame into
    the Y-up world by ``camera.world_from_camera``; frames where the person was
    not seen are filled by slerp between seen ones (confidence stays 0 there);
    then the motion is smoothed (zero-phase Gaussian of ``smoothing_seconds``, see
    :func:`mocap.smooth.smooth_motion`; with ``causal``, the One Euro filter of the same
    strength, :func:`mocap.smooth.one_euro_motion`); then, with ``foot_lock``, planted feet are pinned
    (:func:`mocap.contact.lock_feet`). Returns None when the person was never seen.
    """
    valid = (est.confidence > 0) & np.all(np.isfinite(est.root_camera), axis=1)
    if not valid.any():
        return None
    R_wc = camera.world_from_camera[:3, :3]
    t_wc = camera.world_from_camera[:3, 3]
    # One clip-sized working copy, changed in place by every step below (memory flat with length).
    rotations = est.rotations.astype(np.float64)
    rotations[:, 0] = R_wc @ rotations[:, 0]
    translation = est.root_camera @ R_wc.T + t_wc
    trusted = valid.copy()
    if smoothing_seconds > 0:  # with smoothing on, flipped or jumping frames are replaced (still "seen")
        seen = np.flatnonzero(valid)
        outliers = outlier_frames(rotations[seen, :1], translation[seen])  # the root's orientation
        if not outliers.all():
            trusted[seen[outliers]] = False
    rotations, translation = fill_gaps(est.times, rotations, translation, trusted, overwrite=True)
    times, confidence = est.times, np.where(valid, est.confidence, 0.0)
    if not is_uniform(times, fps):
        times, rotations, translation, confidence = resample_uniform(times, rotations, translation, confidence, fps)
    if causal:
        rotations, translation = one_euro_motion(rotations, translation, fps, smoothing_seconds, overwrite=True)
    else:
        rotations, translation = smooth_motion(rotations, translation, fps, smoothing_seconds, t_wc, overwrite=True)
    contacts = None
    if foot_lock:
        rotations, contacts = lock_feet(rotations, translation, skeleton, fps, overwrite=True)
    return Motion(fps=fps, times=times, rotations=rotations, translation=translation,
                  skeleton=skeleton, betas=est.betas, confidence=confidence, contacts=contacts)


def run(video_path, out_paths, options: RunOptions | None = None, progress: Progress | None = None,
        detector: Detector | None = None) -> RunResult:
    """``mocap run``: video → animation file(s).

    Args:
        out_paths: one output path or a list of them (one capture, several formats);
            every one is checked before the long work starts.
    """
    progress = progress or NullProgress()
    options = options or RunOptions()
    out_paths = [out_paths] if isinstance(out_paths, (str, Path)) else list(out_paths)
    for path in out_paths:
        check_output_path(path)
    if options.preview:
        check_writable(options.preview)
    if options.backend == "hmr2":  # load the network now: a missing or bad checkpoint fails before the long work
        try:
            from .estimators.hmr2.estimator import checkpoint_body_model
        except ImportError as exc:
            raise MocapError(f"--backend hmr2 needs PyTorch and smplx: pip install -e \".[hmr2]\" ({exc})",
                             exit_code=2) from None
        checkpoint_body_model(options.checkpoint, options.device, options.precision)  # cached for the capture
    if options.export is not None and options.export.mesh != "none":
        if options.export.mesh in ("smpl", "auto") and options.export.body_model is None:
            options = replace(options, export=replace(options.export, body_model=body_model_for(options)))
        check_mesh(options.export, out_paths)
    timer = _Timer()
    scene = capture(video_path, options, progress, timer, detector)
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
                     camera_source(video.probe(video_path), options))
