"""`mocap doctor`: one screen saying what runs here and what to do about what does not.

Each check is a small function returning a :class:`Check`; none of them fails
the command (the report is the product), and each imports what it checks only
inside itself, so one broken package cannot hide the others.
"""

from __future__ import annotations

import importlib.metadata
import platform
import sys

from .registry import Check


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_gpu() -> Check:
    if _version("torch") is None:
        return Check("GPU", False, "torch not installed (needed to use a GPU)", "pip install 'mocap[hmr2]'",
                     needed=False)
    try:
        import torch

        if torch.cuda.is_available():
            name = torch.cuda.get_device_name(0)
            torch.zeros(1, device="cuda").add_(1).item()  # a kernel really runs
            return Check("GPU", True, f"CUDA {torch.version.cuda}: {name} ({torch.cuda.device_count()} device(s))")
        why = "a CPU-only torch build" if torch.version.cuda is None else "no CUDA device visible"
    except Exception as exc:  # noqa: BLE001
        why = f"CUDA error: {exc}"[:160]
    return Check("GPU", False, why, "hmr2 runs on the CPU here (slowly); on a GPU machine install the CUDA "
                                    "build of torch", needed=False)


def check_blender() -> Check:
    try:
        import bpy

        return Check("Blender (bpy) for FBX", True, f"bpy {bpy.app.version_string}")
    except Exception as exc:  # noqa: BLE001
        return Check("Blender (bpy) for FBX", False, f"{type(exc).__name__}: {exc}"[:160],
                     "reinstall: scripts/install.sh (bpy==5.0.1, Python 3.11)")


def check_optional(dist: str, name: str, fix: str) -> Check:
    version = _version(dist)
    return Check(name, version is not None, f"{dist} {version}" if version else "not installed", fix, needed=False)


def checks() -> list[Check]:
    """Every check, in report order."""
    from .detectors import DETECTORS
    from .estimators import BACKENDS

    out = [Check("Python", sys.version_info[:2] == (3, 11), f"{platform.python_version()} ({sys.executable})",
                 "mocap needs Python 3.11 (bpy 5.0.1 and mediapipe 0.10.21 wheels)")]
    for _, plugin in BACKENDS.items() + DETECTORS.items():  # each plug-in's own lines
        out += plugin.checks()
    out += [check_gpu(), check_blender(),
            check_optional("usd-core", "USD export (usd-core)", "pip install usd-core"),
            check_optional("anny", "anny body (--mesh anny)", "pip install 'mocap[body]'"),
            check_optional("ray", "Ray (batch --executor ray)", "pip install 'mocap[farm]'")]
    return out


def report(found: list[Check]) -> str:
    """The screen: one line per check (ok / missing / PROBLEM), then what to do."""
    lines, todo = [], []
    for c in found:
        mark = "ok     " if c.ok else ("PROBLEM" if c.needed else "missing")
        lines.append(f"{mark}  {c.name}: {c.detail}")
        if not c.ok and c.fix:
            todo.append(f"  - {c.name}: {c.fix}")
    if todo:
        lines += ["", "To do:"] + todo
    return "\n".join(lines)
