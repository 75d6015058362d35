"""Exporters: a :class:`~mocap.motion.Scene` to ``.fbx``, ``.bvh``, ``.npz``, ``.glb`` or ``.gltf``.

The output suffix picks the format. Every writer goes through
:func:`mocap.fileio.atomic_output`: the file appears complete or not at all,
and an existing file is replaced only once the new one is fully written.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import OutputError
from ..fileio import check_writable
from ..motion import Scene

FORMATS: tuple[str, ...] = (".fbx", ".bvh", ".npz", ".glb", ".gltf")


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        got = f"'{path.suffix}'" if path.suffix else "no suffix"
        raise OutputError(f"{path}: unsupported output format ({got}); use one of {', '.join(FORMATS)}")
    return suffix


def check_output_path(path: str | Path) -> Path:
    """Fail fast, before the long work, if ``path`` cannot become an output file.

    Checks the suffix names a supported format and the folder exists and is
    writable. Returns the absolute path; raises :class:`OutputError` otherwise.
    """
    path = Path(path)
    _format_of(path)
    return check_writable(path)


def split_paths(scene: Scene, path: str | Path) -> dict[int, Path]:
    """One file per person: ``anim.fbx`` → ``anim_person3.fbx`` for track 3."""
    path = Path(path)
    return {tid: path.with_name(f"{path.stem}_person{tid}{path.suffix}") for tid in sorted(scene.motions)}


def export_scene(scene: Scene, path: str | Path, split: bool = False) -> list[Path]:
    """Write ``scene`` to ``path`` in the format its suffix names.

    - ``.fbx``: every person in one file, one armature ``person<ID>`` each.
    - ``.bvh``: one person per file (BVH holds one skeleton); a scene with
      several people raises :class:`OutputError` - write each person separately
      with :func:`mocap.export.bvh.write_bvh`.
    - ``.npz``: :func:`mocap.motion.save_npz` (AMASS keys + every person).
    - ``.glb`` / ``.gltf``: glTF 2.0, every person a skinned joint hierarchy ``person<ID>``.

    With ``split`` every person goes to a file of their own (:func:`split_paths`).

    Returns:
        the files written (one path today; a list so that formats writing
        several files fit the same call).
    """
    path = Path(path)
    fmt = _format_of(path)
    if not scene.motions:
        raise OutputError(f"{path}: nothing to export, no person in the scene")
    if split:
        return [out for tid, p in split_paths(scene, path).items()
                for out in export_scene(Scene({tid: scene.motions[tid]}, scene.camera, scene.source), p)]
    if fmt == ".fbx":
        from .fbx import write_fbx

        write_fbx(scene, path)
    elif fmt in (".glb", ".gltf"):
        from .gltf import write_gltf

        write_gltf(scene, path)
    elif fmt == ".bvh":
        from .bvh import write_bvh

        if len(scene.motions) > 1:
            raise OutputError(
                f"{path}: BVH holds one person but the scene has {len(scene.motions)} "
                f"(track ids {', '.join(map(str, sorted(scene.motions)))}); use --split for one .bvh per "
                "person, --person to pick one, or .fbx/.npz for all of them in one file"
            )
        write_bvh(next(iter(scene.motions.values())), path)
    else:
        from ..motion import save_npz

        save_npz(scene, path)
    return [path]
