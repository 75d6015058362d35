"""The ``mocap`` command line: one verb per job, sensible defaults, every option overridable.

Errors a user can fix print one line on stderr and exit with a documented code
(see ``mocap.errors``); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import json
import logging
import math
import os
import signal
import sys
import time
import traceback

import click

from . import __version__
from .errors import EXIT_INTERNAL, EXIT_INTERRUPTED, MocapError


class Interrupted(BaseException):
    """SIGTERM/SIGINT: unwinds like KeyboardInterrupt so atomic writers clean up."""


def _on_signal(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "-V", "--version", prog_name="mocap")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
def cli(debug):
    """Turn ordinary video of people into skeletal animation (FBX, BVH, glTF, NPZ).

    \b
    Typical use:
      mocap run video.mp4 --out anim.fbx
    """


def _tracking_options(f):
    """The detection and tracking options `run` and `track` share."""
    options = [
        click.option("--detector", default="auto", show_default=True,
                     help="Person detector: auto (= hog), hog (OpenCV's, offline, no model file), "
                          "yolox, bytetrack, rtmdet (ONNX; give --detector-weights), or none "
                          "(one person, whole frames: fastest for a clip of one person)."),
        click.option("--detector-weights", type=click.Path(dir_okay=False, path_type=str), default=None,
                     help="Model file (.onnx) for yolox, bytetrack or rtmdet."),
        click.option("--detect-fps", type=click.FloatRange(0.0, None), default=10.0, show_default=True,
                     help="Run the detector at most this many times a second (boxes in between are "
                          "interpolated); 0: on every frame."),
        click.option("--min-seconds", type=click.FloatRange(0.0, None), default=1.0, show_default=True,
                     help="People seen for less than this are dropped."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _export_options(f):
    """The options that shape the files written, shared by `run` and `export`."""
    options = [
        click.option("--rig", type=click.Choice(["smpl", "mixamo", "ue5", "rigify"]), default=None,
                     help="Skeleton to write: smpl (SMPL's 24 joints, the default), mixamo, ue5 (UE5 "
                          "mannequin), rigify (Rigify meta-rig names). See mocap/rigs/*.json."),
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


@cli.command("run")
@click.argument("video", type=click.Path(dir_okay=False, path_type=str))
@click.option("-o", "--out", "outs", type=click.Path(dir_okay=False, path_type=str), multiple=True,
              help="Output file; the format follows the extension: .fbx (Blender FBX), .bvh "
                   "(centimetres, Y-up), .glb/.gltf (glTF 2.0), .npz (AMASS-style). Repeat for several formats from one "
                   "capture. Default: VIDEO's name with .fbx, in the current folder.")
@click.option("--backend", type=click.Choice(["mediapipe", "hmr2"]), default="mediapipe", show_default=True,
              help="Body estimator. mediapipe: MediaPipe Pose, runs offline on a CPU. hmr2: 4D-Humans' "
                   "HMR 2.0 (needs its checkpoint, see `mocap models`; fast on a GPU).")
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
              help="Estimators run in parallel on consecutive parts of the video; 0: one per "
                   "CPU core (at most 4).")
@click.option("--progress", "progress_kind", type=click.Choice(["auto", "bar", "json", "none"]),
              default="auto", show_default=True,
              help="auto: a bar when stderr is a terminal. json: one JSON object per line on "
                   'stdout ({"stage", "done", "total"}), for scripts, farms and the Blender add-on.')
@click.option("--log", "log_path", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Also append what happens (the command, each stage, the result or the error, with "
                   "times) to this file, for farm logs.")
def run_cmd(video, outs, backend, checkpoint, smpl, device, batch_size, precision, smoothing, causal, foot_lock, root_motion,
            ground, focal, lens_mm, sensor_mm, fov, start, end, detector, detector_weights, detect_fps, min_seconds,
            persons, split, rig, rig_file, rig_map, target, up, units, mesh, reference_pose, preview, workers,
            progress_kind, log_path):
    """Capture the people in VIDEO and write their animation to --out.

    Everyone seen for --min-seconds is captured, each as an armature named by track
    id (person1, person2, ...). The animation has the video's frame rate; the
    skeleton is SMPL's 24 joints.
    """
    from pathlib import Path

    from .pipeline import RunOptions, run
    from .progress import make_progress

    if end is not None and end <= start:
        raise click.BadParameter(f"--end ({end:g}) must be after --start ({start:g})", param_hint="--end")
    if sensor_mm is not None and lens_mm is None:
        raise click.BadParameter("give the lens too (--lens-mm)", param_hint="--sensor-mm")
    _start_log(log_path)
    outs = list(outs) or [Path(video).with_suffix(".fbx").name]
    export = _make_export_options(rig, rig_file, rig_map, target, up, units, mesh, reference_pose)
    progress = _LoggedProgress(make_progress(progress_kind)) if log_path else make_progress(progress_kind)
    try:
        result = run(video, outs, RunOptions(backend=backend, fov=fov, focal=focal, start=start, end=end,
                                          workers=workers, detector=detector, detector_weights=detector_weights,
                                          detect_fps=detect_fps, min_seconds=min_seconds,
                                          persons=persons, split=split, preview=preview, checkpoint=checkpoint,
                                          smpl=smpl, smoothing=smoothing, ground=ground, foot_lock=foot_lock, causal=causal,
                                          root_motion=root_motion, lens_mm=lens_mm, sensor_mm=sensor_mm,
                                          device=device, batch_size=batch_size, precision=precision,
                                          export=export), progress)
    finally:
        progress.close()
    outputs = [str(p) for p in result.outputs]
    _LOG.info("wrote %s (%d frames at %g fps, %d people)", ", ".join(outputs), result.frames, result.fps,
              result.people)
    if progress_kind == "json":
        click.echo(json.dumps({"stage": "done", "outputs": outputs, "frames": result.frames,
                               "people": result.people, "fps": result.fps, "camera": result.camera}))
    else:
        click.echo(f"wrote {', '.join(outputs)} ({result.frames} frames at {result.fps:g} fps, "
                   f"{result.people} {'person' if result.people == 1 else 'people'}; camera: {result.camera})",
                   err=True)


_LOG = logging.getLogger("mocap")
_LOG.propagate = False  # --log goes to its file only
_LOG.addHandler(logging.NullHandler())  # without --log: nowhere (not logging's stderr fallback)
_ARGS: list[str] = []  # the command line being run (for the log)


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
    _LOG.info("mocap %s", " ".join(_ARGS))


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


def _hide_native_stderr() -> None:
    """Keep native libraries' chatter (TFLite, absl, Blender) off the terminal.

    Python's ``sys.stderr`` moves to a duplicate of the real stderr, and file
    descriptor 2, which C/C++ code writes to directly, goes to /dev/null. Our own
    messages, progress bar and tracebacks still reach the user; ``--debug`` keeps
    everything.
    """
    try:
        if sys.stderr.fileno() != 2:
            return
    except (AttributeError, OSError, ValueError):
        return  # stderr already replaced (e.g. captured by a test runner)
    sys.stderr.flush()
    real = os.dup(2)
    sys.stderr = os.fdopen(real, "w", buffering=1, encoding=sys.stderr.encoding, errors="backslashreplace")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


@cli.command("batch")
@click.argument("manifest", type=click.Path(path_type=str))
@click.option("--out-dir", required=True, type=click.Path(file_okay=False, path_type=str),
              help="Output folder: every take's output goes under it, with the batch's state file.")
@click.option("--workers", type=click.IntRange(1, 256), default=1, show_default=True,
              help="Takes run at once on this machine (--executor local).")
@click.option("--retries", type=click.IntRange(0, 100), default=1, show_default=True,
              help="How many more times a failed take is tried in this run.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: a pool of worker processes. ray: one Ray task per take on a Ray cluster.")
@click.option("--address", default=None,
              help="ray: the cluster (auto, or ray://host:10001) [default: start a local one].")
@click.option("--format", "default_output", default=".fbx", show_default=True,
              help="Output suffix for takes whose row names no output (.fbx, .glb, .usd, .bvh, .npz, ...).")
@click.option("--set", "settings", multiple=True, metavar="OPTION=VALUE",
              help="A `mocap run` option for every take, e.g. --set smoothing=strong --set rig=ue5 "
                   "(a take's own columns win).")
@click.option("--report", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Also write the per-take report as JSON.")
@click.option("--progress", "progress_kind", type=click.Choice(["auto", "bar", "json", "none"]),
              default="auto", show_default=True, help="As for `mocap run` (counts takes).")
@click.option("--log", "log_path", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Also append what happens (each take's result) to this file.")
def batch_cmd(manifest, out_dir, workers, retries, executor, address, default_output, settings, report,
              progress_kind, log_path):
    """Capture every take of MANIFEST (CSV, JSONL or YAML: one take a row with `input`, optional
    `output` and `mocap run` options; or a folder of videos) into --out-dir.

    Re-running skips takes already done with the same video, options and output, redoes changed
    ones and retries failed ones; a killed batch resumes. Exit code 0 when every take is done, 6
    when some failed (see the summary or --report).
    """
    from pathlib import Path

    from .batch import read_manifest, run_batch
    from .errors import EXIT_BATCH_FAILED
    from .fileio import atomic_output, check_writable
    from .progress import make_progress

    _start_log(log_path)
    defaults = {}
    for item in settings:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r}: expected OPTION=VALUE", param_hint="--set")
        defaults[key.strip().lstrip("-").replace("-", "_").lower()] = value
    if not default_output.startswith("."):
        default_output = "." + default_output
    takes = read_manifest(manifest, default_output)
    if report:
        check_writable(report)
    progress = make_progress(progress_kind)
    try:
        result = run_batch(takes, out_dir, defaults, workers, retries, executor, address, progress)
    finally:
        progress.close()
    summary = result.as_dict()
    if report:
        with atomic_output(report) as tmp:
            Path(tmp).write_text(json.dumps(summary, indent=1), encoding="utf-8")
    for r in result.results:
        line = (f"{r.status:<6} {r.take}  {r.frames} frames, {r.people} people, {r.seconds:.1f} s"
                + (" (done before)" if r.attempts == 0 else "") if r.status == "done"
                else f"{r.status:<6} {r.take}  {r.error}")
        _LOG.info(line)
        click.echo(line, err=True)
    tail = (f"{summary['done']} of {len(takes)} takes done ({result.skipped} already), "
            f"{summary['failed']} failed, {result.seconds:.1f} s")
    _LOG.info(tail)
    click.echo(tail, err=True)
    if progress_kind == "json":
        click.echo(json.dumps({"stage": "done", **{k: summary[k] for k in ("done", "failed", "skipped")}}))
    if result.failed:
        raise click.exceptions.Exit(EXIT_BATCH_FAILED)


@cli.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="One JSON object instead of the screen.")
def doctor_cmd(as_json):
    """Say which backends run here, which model files are found (and where each is looked for),
    whether a GPU is usable, the Blender (bpy) version, and what to do for anything missing.
    Exit code 1 when something mocap needs is broken; optional parts only say "missing"."""
    from dataclasses import asdict

    from .doctor import checks, report

    found = checks()
    if as_json:
        click.echo(json.dumps([asdict(c) for c in found], indent=1))
    else:
        click.echo(f"mocap {__version__}")
        click.echo(report(found))
    if any(c.needed and not c.ok for c in found):
        raise click.exceptions.Exit(1)


@cli.command("track")
@click.argument("video", type=click.Path(dir_okay=False, path_type=str))
@click.option("-o", "--out", "out", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Tracks file (JSON). Default: VIDEO's name with .tracks.json, in the current folder.")
@_tracking_options
@click.option("--start", type=click.FloatRange(0.0, None), default=0.0, show_default=True,
              help="Start time in seconds.")
@click.option("--end", type=click.FloatRange(0.0, None, min_open=True), default=None,
              help="End time in seconds [default: end of video].")
@click.option("--progress", "progress_kind", type=click.Choice(["auto", "bar", "json", "none"]),
              default="auto", show_default=True, help="As for `mocap run`.")
def track_cmd(video, out, detector, detector_weights, detect_fps, min_seconds, start, end, progress_kind):
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
        options = RunOptions(detector=detector, detector_weights=detector_weights, detect_fps=detect_fps,
                             min_seconds=min_seconds, start=start, end=end)
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


@cli.command("export")
@click.argument("motion", type=click.Path(dir_okay=False, path_type=str))
@click.option("-o", "--out", "outs", type=click.Path(dir_okay=False, path_type=str), multiple=True, required=True,
              help="Output file: .fbx, .bvh, .glb/.gltf, .usd/.usda/.usdc or .npz (repeat for several).")
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
    from .motion import load_motion_file

    for out in outs:
        check_output_path(out)
    export = _make_export_options(rig, rig_file, rig_map, target, up, units, mesh, reference_pose)
    if mesh != "none":
        from dataclasses import replace

        from .export import check_mesh
        from .pipeline import RunOptions, body_model_for

        if mesh in ("smpl", "auto"):
            export = replace(export, body_model=body_model_for(RunOptions(smpl=smpl)))
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


@cli.group("models", invoke_without_command=True)
@click.option("--checkpoint", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Also look for the HMR 2.0 checkpoint here.")
@click.option("--smpl", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Also look for the SMPL model here.")
@click.pass_context
def models_cmd(ctx, checkpoint, smpl):
    """List the model files: which are installed, where each is looked for, how to get what is missing."""
    if ctx.invoked_subcommand is None:
        from .models import report

        click.echo(report(checkpoint, smpl))


@models_cmd.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.option("--to", "dest", type=click.Path(file_okay=False, path_type=str), default=None,
              help="Install under this folder instead of the default (~/.cache/4DHumans for "
                   "hmr2_data.tar.gz, ~/.cache/mocap/smpl for an SMPL .pkl).")
def models_import_cmd(file, dest):
    """Install FILE: 4D-Humans' hmr2_data.tar.gz (only the files mocap uses are extracted,
    safely) or an SMPL .pkl (converted to .npz without running pickled code)."""
    from .models import import_file

    for path in import_file(file, dest):
        click.echo(f"installed {path}", err=True)


@cli.command("eval")
@click.argument("pred", type=click.Path(dir_okay=False, path_type=str))
@click.argument("gt", type=click.Path(dir_okay=False, path_type=str))
@click.option("--gt-units", default="cm", show_default=True,
              help="Length unit of a BVH ground truth: cm, m, or metres per unit (0.056444 for CMU's).")
def eval_cmd(pred, gt, gt_units):
    """Score the motion PRED (.npz from `mocap run`) against the ground truth GT.

    \b
    GT: a sample's *_gt.npz (joints seen by the camera; several people are each scored
    against the track that is them), or a motion file (.npz, .bvh) compared in the world.
    Prints a Markdown table: MPJPE (after aligning the mid-hips) and PA-MPJPE (after a
    similarity alignment per frame) in mm, acceleration error in mm/frame², foot sliding in
    mm/frame on the frames where the truth has a foot planted, root position error in mm.
    """
    from .metrics import evaluate_files, format_table

    click.echo(format_table(evaluate_files(pred, gt, _length_unit(gt_units, "--gt-units"))))


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


def main(argv: list[str] | None = None) -> int:
    """Console entry point: runs the CLI and turns errors into one line + exit code."""
    global _ARGS
    args = sys.argv[1:] if argv is None else argv
    _ARGS = list(args)
    debug = "--debug" in args
    if not debug:
        _hide_native_stderr()
    old = {s: signal.signal(s, _on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        code = cli.main(args=args, prog_name="mocap", standalone_mode=False)
        return code if isinstance(code, int) else 0  # a command's Exit(code) comes back as its value
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.UsageError as exc:  # one line, and where to read more
        command = exc.ctx.command_path if exc.ctx is not None else "mocap"
        print(f"mocap: error: {exc.format_message()} (see {command} --help)", file=sys.stderr)
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except (click.exceptions.Abort, KeyboardInterrupt, Interrupted):
        _LOG.error("interrupted; no output written")
        print("mocap: interrupted; no output written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except MocapError as exc:
        if debug:
            traceback.print_exc()
        _LOG.error("error (exit %d): %s", exc.exit_code, exc)
        print(f"mocap: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except Exception as exc:  # a bug: say so in one line, with the way to see more
        if debug:
            traceback.print_exc()
        _LOG.error("internal error: %s: %s", type(exc).__name__, exc)
        print(f"mocap: internal error: {type(exc).__name__}: {exc} (rerun with --debug for the traceback)",
              file=sys.stderr)
        return EXIT_INTERNAL
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
        for handler in [h for h in _LOG.handlers if isinstance(h, logging.FileHandler)]:
            _LOG.removeHandler(handler)  # --log: one command's file, closed with it
            handler.close()


if __name__ == "__main__":
    sys.exit(main())
