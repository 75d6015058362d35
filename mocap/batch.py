"""Batch capture for render farms: many takes, idempotent, resumable, on a process pool or Ray.

A manifest lists takes (one per row): ``input`` (a video), optional ``output``
(a file name under the output folder; its suffix picks the format, default
``<input stem>.fbx``) and any ``mocap run`` option as a column/key (``smoothing``,
``end``, ``rig``, ``person``, ...; ``--`` and ``-`` optional), overriding the batch
defaults. CSV (header row), JSONL (one object a line), YAML (a list of mappings,
or ``{"defaults": {...}, "takes": [...]}``), or a folder of videos (one take each).

Each take runs ``mocap run`` in a worker process that lives across takes (the
imports and Blender start are paid once per worker, not per take), exactly as
the command line would (same validation, errors and exit codes), on one
estimator thread (``--workers 1``: the result does not depend on how many cores
the worker has; MediaPipe itself repeats a take bit for bit nearly always, about
1 in 150 runs of a clip here comes out slightly different).

State: ``<out-dir>/.mocap-batch/state.jsonl``, append-only, one JSON line per
event (``started``, ``done``, ``failed``), flushed and fsynced, so a batch killed at
any point (even SIGKILL) resumes: a take whose latest record for its current
*fingerprint* (SHA-256 of the video's bytes, the take's options and output name,
and mocap's version) is ``done``, with its outputs present, is skipped; changed
takes run again; failed ones are retried. Outputs are written atomically (temp
file, then rename); the temporary files of a killed run are removed on the next.

One batch at a time per output folder: a batch holds ``<out-dir>/.mocap-batch/lock``
(``flock``, the holder's pid inside) while it runs; a second one stops at once with
exit code 5. The kernel drops the lock when its holder dies, so a killed batch leaves
no stale lock. The pool's workers die with the batch, even when it is SIGKILLed.
"""

from __future__ import annotations

import contextlib
import csv
import ctypes
import errno
import hashlib
import io
import json
import os
import re
import signal
import sys
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .errors import InputError, MocapError, OutputError

STATE_DIR = ".mocap-batch"
LOCK_FILE = "lock"  # in STATE_DIR
VIDEO_SUFFIXES = (".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".mts", ".wmv")
MANIFEST_SUFFIXES = (".csv", ".jsonl", ".yaml", ".yml")
# Options a take may not set: the batch owns where outputs go and how progress is shown.
RESERVED = {"out", "o", "progress", "preview", "split"}


@dataclass(frozen=True)
class Take:
    """One row of a manifest.

    Attributes:
        name: unique within the batch (the output's path relative to the output folder).
        input: the video.
        output: the output file, relative to the output folder.
        options: ``mocap run`` options for this take (CLI names without dashes, values as text).
    """

    name: str
    input: str
    output: str
    options: tuple[tuple[str, str], ...] = ()


@dataclass
class TakeResult:
    """What one attempt at a take did."""

    take: str
    status: str  # "done" or "failed"
    seconds: float = 0.0
    frames: int = 0
    people: int = 0
    outputs: list[str] = field(default_factory=list)
    error: str = ""
    exit_code: int = 0
    attempts: int = 1


# --- manifests ----------------------------------------------------------------------


def read_manifest(path: str | Path, default_output: str = ".fbx") -> list[Take]:
    """The takes of a manifest file or a folder of videos (see the module notes).

    Args:
        default_output: suffix of a take's output when its row names none.

    Raises:
        InputError: unreadable or malformed manifest, a row without input, duplicate
            outputs, or an output that would land outside the output folder.
    """
    path = Path(path)
    if path.is_dir():
        videos = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
        if not videos:
            raise InputError(f"{path}: no videos in the folder ({', '.join(VIDEO_SUFFIXES)})")
        rows, defaults = [{"input": str(v)} for v in videos], {}
    elif not path.is_file():
        raise InputError(f"{path}: manifest not found")
    else:
        rows, defaults = _manifest_rows(path)
    takes, seen = [], {}
    for i, row in enumerate(rows, start=1):
        where = f"{path}: take {i}"
        if not isinstance(row, dict):
            raise InputError(f"{where}: expected a mapping of columns, got {type(row).__name__}")
        row = {_key(k): v for k, v in {**defaults, **row}.items() if v is not None and str(v).strip() != ""}
        video = row.pop("input", None)
        if not video:
            raise InputError(f"{where}: no input video")
        video = str(video)
        if not Path(video).is_absolute() and not path.is_dir():
            video = str((path.parent / video))  # relative to the manifest
        output = str(row.pop("output", "") or Path(video).stem + default_output)
        output = _confined(output, where)
        bad = sorted(RESERVED & set(row))
        if bad:
            raise InputError(f"{where}: option {bad[0]!r} is set by the batch, not per take")
        if output in seen:
            raise InputError(f"{where}: output {output!r} is also take {seen[output]}'s")
        seen[output] = i
        takes.append(Take(name=output, input=video, output=output,
                          options=tuple(sorted((k, _text(v)) for k, v in row.items()))))
    if not takes:
        raise InputError(f"{path}: the manifest lists no takes")
    return takes


def _manifest_rows(path: Path) -> tuple[list, dict]:
    suffix = path.suffix.lower()
    if suffix not in MANIFEST_SUFFIXES:
        raise InputError(f"{path}: a manifest is {', '.join(MANIFEST_SUFFIXES)} or a folder of videos")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the manifest ({exc})") from None
    try:
        if suffix == ".csv":
            return list(csv.DictReader(io.StringIO(text))), {}
        if suffix == ".jsonl":
            return [json.loads(line) for line in text.splitlines() if line.strip()], {}
        import yaml

        doc = yaml.safe_load(text)  # safe_load: plain data only, no Python objects
    except (ValueError, csv.Error) as exc:
        raise InputError(f"{path}: malformed manifest ({str(exc).splitlines()[0][:160]})") from None
    except Exception as exc:  # yaml.YAMLError and friends
        raise InputError(f"{path}: malformed manifest ({str(exc).splitlines()[0][:160]})") from None
    if isinstance(doc, dict) and "takes" in doc:
        defaults = doc.get("defaults") or {}
        if not isinstance(defaults, dict):
            raise InputError(f"{path}: 'defaults' must be a mapping")
        return list(doc["takes"] or []), defaults
    if isinstance(doc, list):
        return doc, {}
    raise InputError(f"{path}: a YAML manifest is a list of takes, or a mapping with 'takes'")


def _key(name) -> str:
    return str(name).strip().lstrip("-").replace("-", "_").lower()


def _text(value) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def _confined(output: str, where: str) -> str:
    """``output`` as a clean relative path that stays inside the output folder."""
    pure = Path(output.replace("\\", "/"))
    if pure.is_absolute() or output.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", output):
        raise InputError(f"{where}: output {output!r} must be a path inside the output folder, not absolute")
    if any(part == ".." for part in pure.parts) or not pure.parts:
        raise InputError(f"{where}: output {output!r} leaves the output folder")
    if pure.parts[0] == STATE_DIR:
        raise InputError(f"{where}: output {output!r} is in the batch's own state folder")
    return pure.as_posix()


def take_argv(take: Take, out_dir: Path, defaults: dict[str, str] | None = None) -> list[str]:
    """The ``mocap run`` arguments of a take: its video, its output under ``out_dir``,
    the batch defaults overridden by the take's own options."""
    options = {**(defaults or {}), **dict(take.options)}
    argv = ["run", take.input, "--out", str(out_dir / take.output), "--progress", "json"]
    options.setdefault("workers", "1")  # one estimator thread: the same result on any worker
    for key, value in sorted(options.items()):
        flag = "--" + key.replace("_", "-")
        if key in _FLAGS:  # on/off options: --ground, or --foot-lock / --no-foot-lock
            on = value.lower() in ("true", "yes", "on", "1")
            argv += [flag] if on else ([f"--no-{flag[2:]}"] if key in _NEGATABLE else [])
        else:
            argv += [flag, value]
    return argv


_FLAGS = {"causal", "ground", "foot_lock"}  # on/off options of `mocap run`
_NEGATABLE = {"foot_lock"}


def _wants_gpu(argv: list[str]) -> bool:
    """Whether the ``--backend`` a take's ``mocap run`` arguments ask for runs on a GPU."""
    from .estimators import BACKENDS, DEFAULT

    name = argv[argv.index("--backend") + 1] if "--backend" in argv[:-1] else DEFAULT
    return name in BACKENDS and BACKENDS.get(name).gpu


# --- fingerprints and state -------------------------------------------------------------


def fingerprint(take: Take, defaults: dict[str, str] | None = None) -> str:
    """SHA-256 over the video's bytes, the take's effective options and output, and mocap's
    version: equal fingerprints, equal results. A missing video hashes as missing (the
    take then fails, and runs again once the file is there)."""
    from . import __version__

    h = hashlib.sha256()
    h.update(json.dumps({"output": take.output, "options": {**(defaults or {}), **dict(take.options)},
                         "mocap": __version__}, sort_keys=True).encode())
    try:
        with open(take.input, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    except OSError as exc:
        h.update(f"unreadable: {type(exc).__name__}".encode())
    return h.hexdigest()


class StateLog:
    """The append-only state file: one JSON record a line, each written whole and fsynced."""

    def __init__(self, out_dir: Path):
        self.path = out_dir / STATE_DIR / "state.jsonl"
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def records(self) -> list[dict]:
        """Every complete record (a line cut short by a crash is ignored)."""
        if not self.path.exists():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and "take" in record:
                out.append(record)
        return out

    def append(self, record: dict) -> None:
        data = (json.dumps(record, sort_keys=True) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            if os.lseek(fd, 0, os.SEEK_END) > 0:  # a record cut short by a crash: start a fresh line
                with open(self.path, "rb") as f:
                    f.seek(-1, os.SEEK_END)
                    if f.read(1) != b"\n":
                        data = b"\n" + data
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    def done(self, take: Take, fp: str, out_dir: Path) -> dict | None:
        """The ``done`` record of ``take`` at fingerprint ``fp`` if it is the latest word on
        it and its outputs are all there; else None."""
        latest = None
        for record in self.records():
            if record["take"] == take.name and record.get("fingerprint") == fp and record.get("event") != "started":
                latest = record
        if latest is None or latest.get("event") != "done":
            return None
        if not all((out_dir / o).is_file() for o in latest.get("outputs", [])):
            return None
        return latest


def remove_partial_outputs(out_dir: Path) -> list[Path]:
    """Delete the temporary files (``.<name>.<random>.part<suffix>``) that a killed run left
    in ``out_dir``; returns them."""
    removed = []
    for p in out_dir.rglob(".*.part*"):
        if p.is_file() and STATE_DIR not in p.relative_to(out_dir).parts and re.search(r"\.part(\.[^.]+)?$", p.name):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


@contextlib.contextmanager
def exclusive_batch(out_dir: Path):
    """Hold the output folder's batch lock (``<out-dir>/.mocap-batch/lock``) for the ``with`` block.

    Two batches on one folder would run the same takes twice and delete each other's
    temporary files. ``flock``: the kernel releases the lock when its holder dies, even by
    SIGKILL, so a killed batch never leaves a stale lock (the file itself stays; only the
    lock counts). The holder writes its pid into the file, for the other batch's message.

    Raises:
        OutputError: another batch holds the lock, or the lock file cannot be opened.
    """
    try:
        import fcntl
    except ImportError:  # Windows: no flock; keeping batches apart is then up to the user
        yield
        return
    path = out_dir / STATE_DIR / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise OutputError(f"{path}: cannot open the batch lock file ({exc.strerror})") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _lock_holder(fd)
            raise OutputError(f"{out_dir}: another mocap batch is running on this output folder"
                              + (f" (pid {holder})" if holder else "")) from None
        except OSError as exc:
            # A file system without locks (NFS without lockd): run unlocked rather than not at all.
            if exc.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                raise OutputError(f"{path}: cannot lock the output folder ({exc.strerror})") from None
        else:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)


def _lock_holder(fd: int) -> str:
    """The pid written in the lock file of ``fd``, or "" if there is none."""
    for _ in range(20):  # the holder may be between emptying the file and writing its pid
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        if text:
            return text if text.isdigit() else ""
        time.sleep(0.01)
    return ""


# --- running a take ---------------------------------------------------------------------


def run_take(argv: list[str], take_name: str, out_dir: str) -> TakeResult:
    """One attempt at a take in this process: the engine's :func:`mocap.pipeline.run` on the
    request the ``mocap run`` arguments ``argv`` make (parsed and checked as the command line
    does), its result or error as an object. Outputs are reported relative to ``out_dir``."""
    import click

    from .commands import parse_run
    from .errors import EXIT_INTERNAL
    from .pipeline import run
    from .progress import NullProgress

    t = time.perf_counter()
    try:
        request = parse_run(argv[1:])  # argv[0] is "run"
        result = run(request.video, request.outputs, request.options, NullProgress(), models=_worker_models())
    except click.UsageError as exc:
        return _failed(take_name, t, f"{exc.format_message()} (see mocap run --help)", exc.exit_code)
    except MocapError as exc:
        return _failed(take_name, t, str(exc), exc.exit_code)
    except Exception as exc:  # a bug: the take fails, the batch goes on
        return _failed(take_name, t, f"internal error: {type(exc).__name__}: {exc}", EXIT_INTERNAL)
    root = Path(out_dir).resolve()
    outputs = [Path(p).resolve().relative_to(root).as_posix() for p in result.outputs]
    return TakeResult(take_name, "done", time.perf_counter() - t, result.frames, result.people, outputs)


def _failed(take_name: str, started: float, error: str, exit_code: int) -> TakeResult:
    return TakeResult(take_name, "failed", time.perf_counter() - started, error=error, exit_code=exit_code)


# Networks loaded by this worker process, kept for its next takes (a model is loaded once per
# worker, not once per take).
_WORKER_MODELS = None


def _worker_models():
    global _WORKER_MODELS
    if _WORKER_MODELS is None:
        from .estimators import ModelCache

        _WORKER_MODELS = ModelCache()
    return _WORKER_MODELS


# --- the batch -------------------------------------------------------------------------------


@dataclass
class BatchReport:
    """Every take's last result, and the totals."""

    results: list[TakeResult]
    skipped: int
    seconds: float

    @property
    def failed(self) -> list[TakeResult]:
        return [r for r in self.results if r.status != "done"]

    def as_dict(self) -> dict:
        return {"takes": [asdict(r) for r in self.results], "skipped": self.skipped, "seconds": self.seconds,
                "done": sum(r.status == "done" for r in self.results), "failed": len(self.failed)}


def run_batch(takes: list[Take], out_dir: str | Path, defaults: dict[str, str] | None = None, workers: int = 1,
              retries: int = 1, executor: str = "local", address: str | None = None, progress=None) -> BatchReport:
    """Run every take not already done (see the module notes); return the report.

    Args:
        takes: from :func:`read_manifest`.
        out_dir: the output folder (made if needed); outputs and the state file go there.
        defaults: ``mocap run`` options for every take (a take's own win).
        workers: parallel takes on this machine (``executor="local"``).
        retries: how many more times a failed take is tried in this run.
        executor: "local" (a process pool) or "ray" (one Ray task per take).
        address: the Ray cluster (``auto``, ``ray://host:10001``); None: the Ray already
            initialised in this process, else a local one.
        progress: a :mod:`mocap.progress` reporter (stage "batch", done/total takes).

    Raises:
        OutputError: another batch is running on ``out_dir`` (see :func:`exclusive_batch`).
    """
    from .progress import NullProgress

    progress = progress or NullProgress()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = StateLog(out_dir)
    with exclusive_batch(out_dir):  # before anything is removed or run
        return _run_takes(takes, out_dir, state, defaults, workers, retries, executor, address, progress)


def _run_takes(takes: list[Take], out_dir: Path, state: StateLog, defaults, workers: int, retries: int,
               executor: str, address: str | None, progress) -> BatchReport:
    """:func:`run_batch`'s work, once it holds the output folder."""
    remove_partial_outputs(out_dir)
    t0 = time.perf_counter()
    results: dict[str, TakeResult] = {}
    todo = []
    for take in takes:
        fp = fingerprint(take, defaults)
        record = state.done(take, fp, out_dir)
        if record is not None:
            results[take.name] = TakeResult(take.name, "done", record.get("seconds", 0.0), record.get("frames", 0),
                                            record.get("people", 0), record.get("outputs", []), attempts=0)
        else:
            todo.append((take, fp))
    for take, _ in todo:
        (out_dir / take.output).parent.mkdir(parents=True, exist_ok=True)
    skipped = len(takes) - len(todo)
    progress.start("batch", len(takes))
    progress.advance("batch", skipped)
    attempts = {take.name: 0 for take, _ in todo}
    submit = _ray_submitter(address) if executor == "ray" else _pool_submitter(workers)
    with submit as run:
        pending = list(todo)
        for round_ in range(retries + 1):
            if not pending:
                break
            for take, fp in pending:
                state.append({"event": "started", "take": take.name, "fingerprint": fp, "attempt": round_ + 1,
                              "time": time.time()})
                attempts[take.name] += 1
            retry = []
            for (take, fp), result in run([(take_argv(t, out_dir, defaults), t.name, str(out_dir)) for t, _ in pending],
                                          pending):
                result.attempts = attempts[take.name]
                state.append({"event": result.status, "take": take.name, "fingerprint": fp, **asdict(result),
                              "time": time.time()})
                results[take.name] = result
                if result.status == "done":
                    progress.advance("batch")
                else:
                    retry.append((take, fp))
            pending = retry
        progress.advance("batch", len(pending))  # given up on
    progress.finish("batch")
    return BatchReport([results[t.name] for t in takes], skipped, time.perf_counter() - t0)


class _pool_submitter:
    """Takes on a pool of ``workers`` processes that live across takes (spawned, not forked:
    MediaPipe and Blender do not survive a fork)."""

    def __init__(self, workers: int):
        self.workers = max(1, workers)

    def __enter__(self):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        self.pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_die_with_parent, initargs=(os.getpid(),))
        return self.run

    def run(self, calls, keys):
        from concurrent.futures import as_completed

        futures = {self.pool.submit(run_take, *call): key for call, key in zip(calls, keys)}
        for future in as_completed(futures):
            yield futures[future], _result_of(future.result, futures[future][0].name)

    def __exit__(self, *exc):
        self.pool.shutdown(wait=exc[0] is None, cancel_futures=True)
        return False


PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def _die_with_parent(parent: int) -> None:
    """Pool worker initializer: end this worker when the batch process ``parent`` dies.

    Nothing in a SIGKILLed batch can stop its workers, and a pool worker waits for work
    forever (it holds its own end of the queue), so they would stay, ~600 MB each, until
    killed by hand. Linux kills the worker itself when its parent dies (PR_SET_PDEATHSIG;
    strictly, when the parent *thread* that started it ends: run_batch's, which outlives the
    pool). That covers only a parent alive at the time of the call, hence the check after
    it. Without prctl (not Linux), a thread polls the parent pid instead.
    """
    if not _set_pdeathsig(signal.SIGKILL):
        threading.Thread(target=_watch_parent, args=(parent,), name="mocap-parent-watch", daemon=True).start()
    if os.getppid() != parent:  # the batch died before prctl: we were already re-parented
        os._exit(1)


def _set_pdeathsig(sig: int) -> bool:
    """Have Linux send ``sig`` to this process when its parent dies; False where it cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_PDEATHSIG, ctypes.c_ulong(sig), ctypes.c_ulong(0), ctypes.c_ulong(0),
                          ctypes.c_ulong(0)) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent: int) -> None:
    """Exit this process once ``parent`` is no longer its parent (checked every second)."""
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(1)


class _ray_submitter:
    """One Ray task per take on an existing cluster (or a local one), each asking for a GPU
    when its backend is hmr2."""

    def __init__(self, address: str | None):
        self.address = address

    def __enter__(self):
        try:
            import ray
        except ImportError:
            raise MocapError("--executor ray needs Ray: pip install 'mocap[farm]'") from None
        self.ray = ray
        if not ray.is_initialized():
            ray.init(address=self.address, log_to_driver=False)
        self.task = ray.remote(run_take)
        return self.run

    def run(self, calls, keys):
        ray = self.ray
        refs = {}
        for call, key in zip(calls, keys):
            gpu = 1 if _wants_gpu(call[0]) else 0
            refs[self.task.options(num_cpus=1, num_gpus=gpu).remote(*call)] = key
        waiting = list(refs)
        while waiting:
            ready, waiting = ray.wait(waiting, num_returns=1)
            yield refs[ready[0]], _result_of(lambda: ray.get(ready[0]), refs[ready[0]][0].name)

    def __exit__(self, *exc):
        return False


def _result_of(get, name: str) -> TakeResult:
    """The worker's result, or a failure naming what broke the worker itself."""
    try:
        return get()
    except Exception as exc:  # a worker that died (killed, out of memory): the take failed, the batch goes on
        return TakeResult(name, "failed", error=f"worker failed: {type(exc).__name__}: {str(exc)[:200]}",
                          exit_code=1)
