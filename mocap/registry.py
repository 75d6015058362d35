"""One registry per kind of plug-in (estimator backends, detectors, export formats, rigs).

The module that implements a plug-in declares it once, with its name, summary and
capabilities; the command line's choices and help, ``mocap doctor`` and the
Blender add-on's choices are read from the registries, never listed again.
A plug-in added at run time (``BACKENDS.register("mine", ...)``) is offered
everywhere the built-in ones are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Generic, Iterator, TypeVar

from .errors import EXIT_USAGE, MocapError

T = TypeVar("T")


@dataclass(frozen=True)
class Check:
    """One line of ``mocap doctor``, as a plug-in reports on itself.

    Attributes:
        name: what was checked.
        ok: usable here.
        detail: the version or place found, or what is wrong.
        fix: what to do when not ok ("" when nothing is needed).
        needed: False for optional parts (a missing one is not a problem, just absent).
    """

    name: str
    ok: bool
    detail: str
    fix: str = ""
    needed: bool = True


class Registry(Generic[T]):
    """Plug-ins of one kind by name, in the order they were registered.

    Args:
        kind: what the plug-ins are, for messages ("backend", "output format").
        option: the command-line option that chooses one, for messages ("--backend").
        load: imports the modules that register the built-in plug-ins, on first use
            (so that importing the registry stays cheap, e.g. for ``mocap --help``).
        order: the built-in plug-ins' names in the order users see them (whatever order
            their modules happen to be imported in); others follow in registration order.
    """

    def __init__(self, kind: str, option: str = "", load: Callable[[], None] | None = None,
                 order: tuple[str, ...] = ()):
        self.kind, self.option = kind, option
        self._entries: dict[str, T] = {}
        self._load = load
        self._order = order

    def _loaded(self) -> dict[str, T]:
        if self._load is not None:
            load, self._load = self._load, None
            load()
        rank = {name: i for i, name in enumerate(self._order)}
        return dict(sorted(self._entries.items(), key=lambda kv: rank.get(kv[0], len(rank))))

    def register(self, name: str, entry: T) -> T:
        """Declare plug-in ``name``; a second plug-in of the same name is refused."""
        if name in self._loaded():
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = entry
        return entry

    def unregister(self, name: str) -> None:
        self._loaded()
        self._entries.pop(name, None)

    def names(self) -> tuple[str, ...]:
        return tuple(self._loaded())

    def items(self) -> list[tuple[str, T]]:
        return list(self._loaded().items())

    def get(self, name: str) -> T:
        """The plug-in called ``name``; a usage error listing the choices otherwise."""
        entries = self._loaded()
        if name not in entries:
            what = f"{self.option} {name!r}" if self.option else f"{self.kind} {name!r}"
            raise MocapError(f"{what}: unknown {self.kind} (available: {', '.join(entries)})", exit_code=EXIT_USAGE)
        return entries[name]

    __getitem__ = get

    def __contains__(self, name: object) -> bool:
        return name in self._loaded()

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._loaded())
