"""The export stage: a :class:`~mocap.motion.Scene` to files in any registered format
(:data:`mocap.formats.FORMATS`: ``.fbx``, ``.bvh``, ``.glb``/``.gltf``, ``.usd``/``.usda``/``.usdc``,
``.npz``).

The output suffix picks the format. Before writing, :func:`prepare_scene`
retargets every person onto the chosen rig and adds the reference-pose frame;
each writer then turns our frame (Y-up metres) into the file's (``up``,
``units``). Every writer goes through :func:`mocap.fileio.atomic_output`: the
file appears complete or not at all, and an existing file is replaced only once
the new one is fully written.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .axes import C_YUP_TO_ZUP, UNIT_NAMES, UP_AXES, basis, in_file_frame  # noqa: F401 - part of this API
from .errors import OutputError
from .fileio import check_writable
from .formats import all_suffixes, format_of
from .motion import Scene

# Each application's own axes and units (what its importers expect by default).
TARGETS: dict[str, tuple[str, str]] = {"blender": ("z", "m"), "unreal": ("z", "cm"), "unity": ("y", "m"),
                                       "maya": ("y", "cm")}


@dataclass(frozen=True)
class ExportOptions:
    """How a scene is written.

    Attributes:
        rig: the rig to retarget onto (a :class:`mocap.rigs.Rig`), or None for
            the motions' own skeleton.
        up: "y" or "z": the file's up axis; None: the format's usual (Y).
        units: "m" or "cm"; None: the format's usual (BVH: cm, others: m).
        target: "blender", "unreal", "unity" or "maya": sets ``up`` and ``units``
            where they are None (see :data:`TARGETS`).
        reference_pose: "t", "a" or "none": a rest-pose frame before the motion.
        mesh: a skinned body per person (see :data:`MESHES`): "smpl" (their SMPL
            shape; needs ``body_model``), "anny" (anny's average adult; needs the
            ``anny`` package), "auto" (SMPL when ``body_model`` is given, else anny)
            or "none". Fitted onto the rig; in .fbx, .glb/.gltf and .usd* files.
        body_model: the SMPL :class:`mocap.body_model.BodyModel` for ``mesh``.
    """

    rig: object | None = None
    up: str | None = None
    units: str | None = None
    target: str | None = None
    reference_pose: str = "none"
    mesh: str = "none"
    body_model: object | None = field(default=None, compare=False, repr=False)  # a BodyModel

    def frame_for(self, suffix: str) -> tuple[str, str]:
        """(up, units) for a file with ``suffix``: glTF and .npz are always Y-up metres (glTF's
        specification says so, and every importer converts); others as asked, else the
        target application's, else Y-up in the format's usual unit (BVH: centimetres)."""
        fmt = format_of(f"file{suffix}")
        if fmt.fixed_frame:
            return "y", "m"
        up, units = TARGETS.get(self.target, (None, None)) if self.target else (None, None)
        return self.up or up or "y", self.units or units or fmt.default_units


def __getattr__(name: str):
    # Read from the format registry when asked, so a format registered later is included.
    if name == "FORMATS":
        return all_suffixes()
    if name == "MESH_FORMATS":
        return mesh_suffixes()
    raise AttributeError(name)


def mesh_suffixes() -> tuple[str, ...]:
    """The suffixes of the formats that hold skinned bodies."""
    from .formats import FORMATS

    return tuple(s for _, f in FORMATS.items() if f.meshes for s in f.suffixes)


def prepare_scene(scene: Scene, options: ExportOptions) -> Scene:
    """Every person retargeted onto ``options.rig`` (if any), with the reference-pose frame added."""
    from .retarget import retarget, rig_of, with_reference_pose

    motions = {}
    for tid, motion in scene.motions.items():
        rig = options.rig
        if rig is not None and tuple(rig.skeleton.names) != tuple(motion.skeleton.names):
            motion = retarget(motion, rig)
        elif rig is None:
            rig = rig_of(motion.skeleton) if options.reference_pose != "none" else None
        motions[tid] = with_reference_pose(motion, options.reference_pose, rig)
    return Scene(motions, scene.camera, scene.source, scene.tracks)


MESHES: tuple[str, ...] = ("none", "auto", "smpl", "anny")


def mesh_kind(options: ExportOptions) -> str:
    """The body ``options.mesh`` stands for: "auto" is "smpl" when the SMPL model is there, else "anny"."""
    if options.mesh not in MESHES:
        raise OutputError(f"--mesh must be one of {', '.join(MESHES)}, got {options.mesh!r}")
    if options.mesh == "auto":
        return "smpl" if options.body_model is not None else "anny"
    if options.mesh == "smpl" and options.body_model is None:
        raise OutputError("--mesh smpl needs the SMPL model (--smpl FILE, or `mocap models import`); "
                          "--mesh anny needs none")
    return options.mesh


def check_mesh(options: ExportOptions, paths) -> None:
    """Fail fast, before the long work, if ``options.mesh`` cannot be written to ``paths``:
    no output format that holds meshes, ``smpl`` without the SMPL model, ``anny`` without
    the package."""
    if options.mesh == "none":
        return
    kind = mesh_kind(options)
    paths = [Path(p) for p in paths]
    if not any(p.suffix.lower() in mesh_suffixes() for p in paths):  # others (.npz, .bvh) just go without
        raise OutputError(f"{paths[0]}: --mesh needs an output format that holds meshes ({', '.join(mesh_suffixes())})")
    if kind == "anny":
        import importlib.util

        if importlib.util.find_spec("anny") is None:
            why = "no SMPL model was found and " if options.mesh == "auto" else ""
            raise OutputError(f"--mesh {options.mesh}: {why}the anny body model is not installed "
                              "(pip install 'mocap[body]'), or give the SMPL model with --smpl")


def shaped_scene(scene: Scene, options: ExportOptions) -> Scene:
    """With ``--mesh smpl``, every SMPL-skeleton person on the SMPL skeleton of their own
    shape (betas), so the body and the bones agree; otherwise ``scene`` unchanged."""
    from .skeleton import SMPL_JOINT_NAMES

    if options.mesh == "none" or mesh_kind(options) != "smpl":
        return scene
    motions = {}
    for tid, m in scene.motions.items():
        if tuple(m.skeleton.names) == SMPL_JOINT_NAMES:
            m = replace(m, skeleton=options.body_model.skeleton(m.betas))
        motions[tid] = m
    return Scene(motions, scene.camera, scene.source, scene.tracks)


def body_meshes(source: Scene, scene: Scene, options: ExportOptions, path: Path) -> dict:
    """Each person's skinned body (track id -> :class:`mocap.body_model.BodyMesh`), fitted
    onto the skeleton they are written on (:func:`mocap.skin.fit_body`).

    Args:
        source: the people before retargeting (on SMPL's joints: their shape picks the SMPL body).
        scene: the same people as written (after :func:`prepare_scene`).
    """
    from .retarget import rig_of
    from .rigs import smpl_rig
    from .skeleton import SMPL_JOINT_NAMES
    from .skin import anny_body, fit_body

    if not format_of(path).meshes:
        raise OutputError(f"{path}: a body mesh is written to {', '.join(mesh_suffixes())} files, not {path.suffix}")
    kind = mesh_kind(options)
    anny = anny_body() if kind == "anny" else None
    meshes = {}
    for tid, motion in scene.motions.items():
        target = rig_of(motion.skeleton) if options.rig is None else options.rig
        if kind == "smpl":
            own = source.motions[tid].skeleton
            if tuple(own.names) != SMPL_JOINT_NAMES:
                raise OutputError(f"person {tid}: --mesh smpl needs a motion on SMPL's joints, not {len(own.names)} "
                                  "joints of another rig (use --mesh anny)")
            mesh, mesh_rig = options.body_model.mesh(source.motions[tid].betas), smpl_rig(own)
        else:
            mesh, mesh_rig = anny
        meshes[tid] = mesh if _same_skeleton(mesh_rig.skeleton, motion.skeleton) else fit_body(mesh, mesh_rig, target)
    return meshes


def _same_skeleton(a, b) -> bool:
    return (a.names == b.names and a.parents == b.parents
            and np.allclose(a.rest_offsets, b.rest_offsets, rtol=0, atol=1e-12))


def check_output_path(path: str | Path) -> Path:
    """Fail fast, before the long work, if ``path`` cannot become an output file.

    Checks the suffix names a supported format and the folder exists and is
    writable. Returns the absolute path; raises :class:`OutputError` otherwise.
    """
    format_of(path)
    return check_writable(Path(path))


def split_paths(scene: Scene, path: str | Path) -> dict[int, Path]:
    """One file per person: ``anim.fbx`` → ``anim_person3.fbx`` for track 3."""
    path = Path(path)
    return {tid: path.with_name(f"{path.stem}_person{tid}{path.suffix}") for tid in sorted(scene.motions)}


def export_scene(scene: Scene, path: str | Path, split: bool = False,
                 options: ExportOptions | None = None) -> list[Path]:
    """Write ``scene`` to ``path`` in the format its suffix names.

    - ``.fbx``: every person in one file, one armature ``person<ID>`` each.
    - ``.bvh``: one person per file (BVH holds one skeleton); a scene with
      several people raises :class:`OutputError` - write each person separately
      with ``split``.
    - ``.glb`` / ``.gltf``: glTF 2.0, every person a skinned joint hierarchy ``person<ID>``.
    - ``.usd`` / ``.usda`` / ``.usdc``: OpenUSD, every person a ``SkelRoot`` with a
      ``Skeleton`` and its ``SkelAnimation``.
    - ``.npz``: :func:`mocap.motion.save_npz` (AMASS keys + every person).

    With ``split`` every person goes to a file of their own (:func:`split_paths`).

    Returns:
        the files written.
    """
    path = Path(path)
    fmt = format_of(path)
    options = options or ExportOptions()
    if not scene.motions:
        raise OutputError(f"{path}: nothing to export, no person in the scene")
    source = shaped_scene(scene, options)
    scene = prepare_scene(source, options)
    with_mesh = options.mesh != "none" and fmt.meshes
    meshes = body_meshes(source, scene, options, path) if with_mesh else {}
    if split:
        return [_write(Scene({tid: scene.motions[tid]}, scene.camera, scene.source), p, options,
                       {tid: meshes[tid]} if tid in meshes else {})
                for tid, p in split_paths(scene, path).items()]
    return [_write(scene, path, options, meshes)]


def _write(scene: Scene, path: Path, options: ExportOptions, meshes: dict) -> Path:
    """One file of a prepared scene (retargeted; ``meshes`` fitted) in the format of its suffix."""
    up, units = options.frame_for(path.suffix.lower())
    format_of(path).write(scene, path, up, units, meshes)
    return path
