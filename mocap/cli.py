"""The ``mocap`` command line: one verb per job, sensible defaults, every option overridable.

Errors a user can fix print one line on stderr and exit with a documented code
(see ``mocap.errors``); ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import traceback

import click

from . import __version__
from .commands import _LOG, _length_unit, _start_log, export_cmd, run_cmd, track_cmd
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


for _command in (run_cmd, track_cmd, export_cmd):
    cli.add_command(_command)


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


@cli.group("models", invoke_without_command=True)
@click.option("--checkpoint", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Also look for the HMR 2.0 checkpoint here.")
@click.option("--smpl", type=click.Path(dir_okay=False, path_type=str), default=None,
              help="Also look for the SMPL model here.")
@click.pass_context
def models_cmd(ctx, checkpoint, smpl):
    """List the model files: which are installed, where each is looked for, how to get what is missing."""
    if ctx.invoked_subcommand is None:
        from .model_files import report

        click.echo(report(checkpoint, smpl))


@models_cmd.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=str))
@click.option("--to", "dest", type=click.Path(file_okay=False, path_type=str), default=None,
              help="Install under this folder instead of the default (~/.cache/4DHumans for "
                   "hmr2_data.tar.gz, ~/.cache/mocap/smpl for an SMPL .pkl).")
def models_import_cmd(file, dest):
    """Install FILE: 4D-Humans' hmr2_data.tar.gz (only the files mocap uses are extracted,
    safely) or an SMPL .pkl (converted to .npz without running pickled code)."""
    from .model_files import import_file

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


def main(argv: list[str] | None = None) -> int:
    """Console entry point: runs the CLI and turns errors into one line + exit code."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    if not debug:
        _hide_native_stderr()
    old = {s: signal.signal(s, _on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        code = cli.main(args=args, prog_name="mocap", standalone_mode=False, obj={"argv": list(args)})
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
