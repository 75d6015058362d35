"""Running the mocap engine from Blender: finding it, checking it, and a background job.

The engine is the ``mocap`` command, or a Python that has it installed
(``python -m mocap``): the add-on's preferences say which; empty means the
``mocap`` on the PATH. It runs as a subprocess, never through a shell (paths
go as arguments, whatever characters they hold), with ``--progress json``: one
JSON object a line on stdout, read by a thread so Blender never waits on it.
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path


class EngineError(Exception):
    """The engine cannot be found or run; the message is one line for the user."""


def engine_command(engine: str = "") -> list[str]:
    """The argv prefix that runs mocap: ``engine`` (a ``mocap`` executable, or a Python
    that has mocap installed) or, when empty, ``mocap`` from the PATH.

    Raises:
        EngineError: not found.
    """
    engine = engine.strip()
    if not engine:
        found = shutil.which("mocap")
        if found is None:
            raise EngineError("the mocap engine was not found on the PATH: set its location in the "
                              "add-on's preferences (the mocap command, or a Python that has mocap installed)")
        return [found]
    path = Path(os.path.expanduser(engine))
    if not path.is_file() or not os.access(path, os.X_OK):
        raise EngineError(f"the mocap engine {engine!r} is not an executable file; fix it in the add-on's preferences")
    return [str(path), "-m", "mocap"] if path.name.lower().startswith("python") else [str(path)]


def check_engine(engine: str = "", timeout: float = 120.0) -> list[str]:
    """Lines for the preferences: the engine's version, then what ``mocap models`` reports
    (backends, model files found or missing and where to get them).

    Raises:
        EngineError: not found, or it does not run.
    """
    cmd = engine_command(engine)
    lines = []
    for args in (["--version"], ["models"]):
        try:
            proc = subprocess.run(cmd + args, capture_output=True, text=True, encoding="utf-8",
                                  errors="replace", timeout=timeout)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise EngineError(f"the mocap engine did not run: {exc}") from None
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no message"])[-1]
            raise EngineError(f"`mocap {' '.join(args)}` failed: {last}")
        lines += [line for line in proc.stdout.splitlines() if line.strip()]
    return lines


def run_arguments(video: str, out: str, backend: str = "mediapipe", people: str = "all",
                  smoothing: str = "standard", root_motion: str = "performer", rig_file: str | None = None,
                  extra: list[str] | None = None) -> list[str]:
    """The ``mocap run`` arguments for one capture into ``out`` (a motion .npz)."""
    args = ["run", video, "--out", out, "--progress", "json", "--backend", backend, "--person", people,
            "--smoothing", smoothing, "--root-motion", root_motion]
    if rig_file:
        args += ["--rig-file", rig_file]
    return args + list(extra or [])


@dataclass
class Job:
    """One engine subprocess and what it has said so far.

    Attributes:
        events: progress objects read from stdout, not yet taken by :meth:`poll`.
        stage, done, total: the latest progress.
        outputs: files the engine reported when done.
    """

    argv: list[str]
    stage: str = "starting"
    done: int = 0
    total: int = 0
    outputs: list[str] = field(default_factory=list)
    _proc: subprocess.Popen | None = None
    _events: queue.Queue = field(default_factory=queue.Queue)
    _stderr: list[str] = field(default_factory=list)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> "Job":
        try:
            self._proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                          stdin=subprocess.DEVNULL, text=True, encoding="utf-8",
                                          errors="replace", start_new_session=True)
        except OSError as exc:
            raise EngineError(f"the mocap engine did not start: {exc}") from None
        for target in (self._read_stdout, self._read_stderr):
            t = threading.Thread(target=target, daemon=True)
            t.start()
            self._threads.append(t)
        return self

    def _read_stdout(self) -> None:
        for line in self._proc.stdout:
            try:
                event = json.loads(line)
            except ValueError:
                continue  # not a progress line
            if isinstance(event, dict):
                self._events.put(event)

    def _read_stderr(self) -> None:
        for line in self._proc.stderr:
            self._stderr.append(line.rstrip("\n"))

    def poll(self) -> bool:
        """Take the progress read so far; True once the engine has exited and all its
        output is read."""
        while True:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                break
            self.stage = str(event.get("stage", self.stage))
            self.done, self.total = int(event.get("done", self.done) or 0), int(event.get("total", self.total) or 0)
            if "outputs" in event:
                self.outputs = [str(p) for p in event["outputs"]]
        finished = self._proc is not None and self._proc.poll() is not None
        if finished and any(t.is_alive() for t in self._threads):
            for t in self._threads:
                t.join(timeout=1.0)
            return self.poll()
        return finished

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    @property
    def returncode(self) -> int | None:
        return None if self._proc is None else self._proc.poll()

    def error(self) -> str:
        """The engine's error: its last stderr line (mocap prints errors as one line)."""
        lines = [line for line in self._stderr if line.strip()]
        return lines[-1] if lines else f"the engine stopped with exit code {self.returncode}"

    def cancel(self, grace: float = 5.0) -> None:
        """Stop the engine and every process it started (its own process group): SIGTERM
        (mocap removes its partial outputs and exits), then SIGKILL for whatever is left;
        the readers then see their pipes close and end."""
        if self._proc is None:
            return
        if self._proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        self._signal(signal.SIGKILL)  # the engine's workers too, if any outlived it
        self._proc.wait()
        for t in self._threads:
            t.join(timeout=5.0)

    def _signal(self, sig) -> None:
        try:
            if hasattr(os, "killpg"):
                os.killpg(self._proc.pid, sig)
            elif sig == signal.SIGTERM:
                self._proc.terminate()
            else:
                self._proc.kill()
        except (ProcessLookupError, PermissionError):
            pass  # already gone
