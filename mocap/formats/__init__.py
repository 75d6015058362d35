"""Animation file formats: each module here writes (and where we read it, reads) one format
and declares it in :data:`FORMATS` with what it can hold.

A writer takes a prepared :class:`~mocap.motion.Scene` (retargeted, meshes fitted;
see :mod:`mocap.export`) and writes it atomically (:func:`mocap.fileio.atomic_output`):
the file appears complete or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import InputError, OutputError
from ..motion import Motion, Scene, load_npz
from ..registry import Registry


@dataclass(frozen=True)
class Format:
    """One file format.

    Attributes:
        suffixes: the file suffixes that choose it (lower case, with the dot).
        summary: one line for help texts.
        write: ``write(scene, path, up, units, meshes)``: ``up`` "y"/"z" and ``units``
            "m"/"cm" of the file; ``meshes`` track id -> :class:`mocap.body_model.BodyMesh`.
        meshes: holds skinned bodies (``--mesh``).
        fixed_frame: always Y-up metres, by the format's own definition (glTF, .npz).
        default_units: the format's usual length unit (BVH: "cm").
        one_person: holds one skeleton only (BVH).
    """

    suffixes: tuple[str, ...]
    summary: str
    write: Callable[..., None]
    meshes: bool = False
    fixed_frame: bool = False
    default_units: str = "m"
    one_person: bool = False


def _builtin() -> None:
    # Each module registers its format; their order is the order users see (FBX, the default, first).
    from . import fbx  # noqa: F401
    from . import bvh  # noqa: F401
    from . import gltf  # noqa: F401
    from . import usd  # noqa: F401
    from . import npz  # noqa: F401


FORMATS: Registry[Format] = Registry("output format", "--out", load=_builtin,
                                     order=("fbx", "bvh", "gltf", "usd", "npz"))


def all_suffixes() -> tuple[str, ...]:
    """Every output suffix, in registry order (``.fbx``, ``.bvh``, ...)."""
    return tuple(s for _, f in FORMATS.items() for s in f.suffixes)


def format_of(path: str | Path) -> Format:
    """The format a file's suffix names; :class:`OutputError` for any other suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    for _, f in FORMATS.items():
        if suffix in f.suffixes:
            return f
    got = f"'{path.suffix}'" if path.suffix else "no suffix"
    raise OutputError(f"{path}: unsupported output format ({got}); use one of {', '.join(all_suffixes())}")


def load_motion_file(path: str | Path, bvh_units: str | float = "cm") -> Scene:
    """A scene from a motion file: ``.npz`` (:func:`mocap.motion.load_npz`) or ``.bvh`` (one
    person, track id 0, lengths in ``bvh_units``: "cm", "m" or metres per file unit)."""
    path = Path(path)
    if path.suffix.lower() != ".bvh":
        return load_npz(path)
    from .bvh import read_bvh

    skeleton, fps, rotations, root = read_bvh(path, bvh_units)
    if not np.isfinite(fps) or fps <= 0:
        raise InputError(f"{path}: frame time must be positive")
    motion = Motion(fps=fps, times=np.arange(len(rotations)) / fps, rotations=rotations, translation=root,
                    skeleton=skeleton)
    return Scene({0: motion}, source=path.name)
