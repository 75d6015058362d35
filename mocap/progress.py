"""Progress reporting: a bar on a terminal, JSON lines for machines, or nothing.

Stages call ``progress.start(stage, total)``, ``progress.advance(stage, n)`` and
``progress.finish(stage)``; the reporter decides how (and how often) to show it.
JSON lines go to stdout, one object per line: ``{"stage": .., "done": .., "total": ..}``.
"""

from __future__ import annotations

import json
import sys
import time
from typing import IO, Protocol


class Progress(Protocol):
    def start(self, stage: str, total: int | None = None) -> None: ...
    def advance(self, stage: str, n: int = 1) -> None: ...
    def finish(self, stage: str) -> None: ...
    def close(self) -> None: ...


class NullProgress:
    """Reports nothing."""

    def start(self, stage, total=None):
        pass

    def advance(self, stage, n=1):
        pass

    def finish(self, stage):
        pass

    def close(self):
        pass


class JsonProgress:
    """One JSON object per line on ``stream``, at most every ``interval`` seconds per stage
    (and always at a stage's start and end), so a reader is never flooded."""

    def __init__(self, stream: IO[str] | None = None, interval: float = 0.1):
        self.stream = stream or sys.stdout
        self.interval = interval
        self._done: dict[str, int] = {}
        self._total: dict[str, int | None] = {}
        self._last: dict[str, float] = {}

    def _emit(self, stage: str, **extra) -> None:
        record = {"stage": stage, "done": self._done[stage], "total": self._total[stage], **extra}
        self.stream.write(json.dumps(record) + "\n")
        self.stream.flush()
        self._last[stage] = time.monotonic()

    def start(self, stage, total=None):
        self._done[stage] = 0
        self._total[stage] = total
        self._emit(stage)

    def advance(self, stage, n=1):
        self._done[stage] += n
        if time.monotonic() - self._last[stage] >= self.interval:
            self._emit(stage)

    def finish(self, stage):
        # A declared total is an estimate (a container's frame count): end at what was done.
        self._total[stage] = self._done[stage]
        self._emit(stage, finished=True)

    def close(self):
        pass


class BarProgress:
    """A rich progress bar per stage on stderr (stdout stays clean for pipes)."""

    def __init__(self):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress as RichProgress
        from rich.progress import TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self._bar = RichProgress(
            TextColumn("{task.description:<10}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self._tasks: dict[str, int] = {}
        self._bar.start()

    def start(self, stage, total=None):
        self._tasks[stage] = self._bar.add_task(stage, total=total)

    def advance(self, stage, n=1):
        self._bar.advance(self._tasks[stage], n)

    def finish(self, stage):
        # The declared total was only an estimate (e.g. a container's frame count):
        # end the bar at what was really done.
        task_id = self._tasks[stage]
        done = self._bar.tasks[task_id].completed
        self._bar.update(task_id, total=done, completed=done)

    def close(self):
        self._bar.stop()


def make_progress(kind: str) -> Progress:
    """``auto`` (a bar when stderr is a terminal, else nothing), ``bar``, ``json`` or ``none``."""
    if kind == "auto":
        kind = "bar" if sys.stderr.isatty() else "none"
    if kind == "bar":
        return BarProgress()
    if kind == "json":
        return JsonProgress()
    return NullProgress()
