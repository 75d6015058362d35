"""Exporters: a :class:`~mocap.motion.Scene` to ``.fbx``, ``.bvh``, ``.glb``/``.gltf``, ``.usd``/``.usda``/``.usdc``
or ``.npz``.

The output suffix picks the format. Before writing, :func:`prepare_scene`
retargets every person onto the chosen rig and adds the reference-pose frame;
each writer then turns our frame (Y-up metres) into the file's (``up``,
``units``). Every writer goes through :func:`mocap.fileio.atomic_output`: the
file appears complete or not at all, and an existing file is replaced only once
the new one is fully written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import OutputError
from ..fileio import check_writable
from ..motion import Motion, Scene

FORMATS: tuple[str, ...] = (".fbx", ".bvh", ".glb", ".gltf", ".usd", ".usda", ".usdc", ".npz")
UP_AXES: tuple[str, ...] = ("y", "z")
UNIT_NAMES: dict[str, float] = {"m": 1.0, "cm": 0.01}  # metres per file unit
# Each application's own axes and units (what its importers expect by default).
TARGETS: dict[str, tuple[str, str]] = {"blender": ("z", "m"), "unreal": ("z", "cm"), "unity": ("y", "m"),
                                       "maya": ("y", "cm")}
# Where a format has a usual unit of its own (BVH: centimetres). glTF and .npz are
# always Y-up metres: glTF's specification says so, and every importer converts.
DEFAULT_UNITS: dict[str, str] = {".bvh": "cm"}
FIXED_FRAME: tuple[str, ...] = (".glb", ".gltf", ".npz")

# Our Y-up world -> a Z-up world: (x, y, z) -> (x, -z, y). A person facing +Z faces -Y
# (Blender's and USD's "front"), their left stays +X.
C_YUP_TO_ZUP = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])


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
        body_model: SMPL arrays (:func:`mocap.body_model.load_body_model`) for ``mesh``.
    """

    rig: object | None = None
    up: str | None = None
    units: str | None = None
    target: str | None = None
    reference_pose: str = "none"
    mesh: str = "none"
    body_model: dict | None = field(default=None, compare=False, repr=False)

    def frame_for(self, suffix: str) -> tuple[str, str]:
        """(up, units) for a file with ``suffix``."""
        if suffix in FIXED_FRAME:
            return "y", "m"
        up, units = TARGETS.get(self.target, (None, None)) if self.target else (None, None)
        return self.up or up or "y", self.units or units or DEFAULT_UNITS.get(suffix, "m")


def basis(up: str, units: str) -> tuple[np.ndarray, float]:
    """(3, 3) rotation from our Y-up frame to the file's, and file units per metre."""
    if up not in UP_AXES or units not in UNIT_NAMES:
        raise OutputError(f"up axis must be one of {', '.join(UP_AXES)} and units one of {', '.join(UNIT_NAMES)}")
    return (C_YUP_TO_ZUP if up == "z" else np.eye(3)), 1.0 / UNIT_NAMES[units]


def in_file_frame(motion: Motion, up: str, units: str) -> Motion:
    """``motion`` expressed in a file's frame: lengths in ``units``, axes turned so ``up`` is up.

    Rotations become ``C R Cᵀ``, rest offsets and translation ``s C v``, rest frames
    ``C F``: joint positions by forward kinematics are the original ones in the new frame.
    """
    from ..skeleton import Skeleton

    C, s = basis(up, units)
    if up == "y" and s == 1.0:
        return motion
    sk = motion.skeleton
    skeleton = Skeleton(sk.names, sk.parents, s * sk.rest_offsets @ C.T,
                        None if sk.rest_frames is None else C @ sk.rest_frames)
    return Motion(fps=motion.fps, times=motion.times, rotations=C @ motion.rotations @ C.T,
                  translation=s * motion.translation @ C.T, skeleton=skeleton, betas=motion.betas,
                  confidence=motion.confidence, gender=motion.gender, contacts=motion.contacts)


def prepare_scene(scene: Scene, options: ExportOptions) -> Scene:
    """Every person retargeted onto ``options.rig`` (if any), with the reference-pose frame added."""
    from ..retarget import retarget, rig_of, with_reference_pose

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
MESH_FORMATS: tuple[str, ...] = (".fbx", ".glb", ".gltf", ".usd", ".usda", ".usdc")


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
    if not any(p.suffix.lower() in MESH_FORMATS for p in paths):  # others (.npz, .bvh) just go without
        raise OutputError(f"{paths[0]}: --mesh needs an output format that holds meshes ({', '.join(MESH_FORMATS)})")
    if kind == "anny":
        import importlib.util

        if importlib.util.find_spec("anny") is None:
            why = "no SMPL model was found and " if options.mesh == "auto" else ""
            raise OutputError(f"--mesh {options.mesh}: {why}the anny body model is not installed "
                              "(pip install 'mocap[body]'), or give the SMPL model with --smpl")


def shaped_scene(scene: Scene, options: ExportOptions) -> Scene:
    """With ``--mesh smpl``, every SMPL-skeleton person on the SMPL skeleton of their own
    shape (betas), so the body and the bones agree; otherwise ``scene`` unchanged."""
    from ..skeleton import SMPL_JOINT_NAMES, skeleton_for_body

    if options.mesh == "none" or mesh_kind(options) != "smpl":
        return scene
    motions = {}
    for tid, m in scene.motions.items():
        if tuple(m.skeleton.names) == SMPL_JOINT_NAMES:
            m = Motion(fps=m.fps, times=m.times, rotations=m.rotations, translation=m.translation,
                       skeleton=skeleton_for_body(m.betas, options.body_model), betas=m.betas,
                       confidence=m.confidence, gender=m.gender, contacts=m.contacts)
        motions[tid] = m
    return Scene(motions, scene.camera, scene.source, scene.tracks)


def body_meshes(source: Scene, scene: Scene, options: ExportOptions, path: Path) -> dict:
    """Each person's skinned body (track id -> :class:`mocap.body_model.BodyMesh`), fitted
    onto the skeleton they are written on (:func:`mocap.skin.fit_body`).

    Args:
        source: the people before retargeting (on SMPL's joints: their shape picks the SMPL body).
        scene: the same people as written (after :func:`prepare_scene`).
    """
    from ..body_model import body_mesh
    from ..retarget import rig_of
    from ..rigs import smpl_rig
    from ..skeleton import SMPL_JOINT_NAMES
    from ..skin import anny_body, fit_body

    if path.suffix.lower() not in MESH_FORMATS:
        raise OutputError(f"{path}: a body mesh is written to {', '.join(MESH_FORMATS)} files, not {path.suffix}")
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
            mesh, mesh_rig = body_mesh(options.body_model, source.motions[tid].betas), smpl_rig(own)
        else:
            mesh, mesh_rig = anny
        meshes[tid] = mesh if _same_skeleton(mesh_rig.skeleton, motion.skeleton) else fit_body(mesh, mesh_rig, target)
    return meshes


def _same_skeleton(a, b) -> bool:
    return (a.names == b.names and a.parents == b.parents
            and np.allclose(a.rest_offsets, b.rest_offsets, rtol=0, atol=1e-12))


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
    fmt = _format_of(path)
    options = options or ExportOptions()
    if not scene.motions:
        raise OutputError(f"{path}: nothing to export, no person in the scene")
    source = shaped_scene(scene, options)
    scene = prepare_scene(source, options)
    with_mesh = options.mesh != "none" and path.suffix.lower() in MESH_FORMATS
    meshes = body_meshes(source, scene, options, path) if with_mesh else {}
    if split:
        return [_write(Scene({tid: scene.motions[tid]}, scene.camera, scene.source), p, options,
                       {tid: meshes[tid]} if tid in meshes else {})
                for tid, p in split_paths(scene, path).items()]
    return [_write(scene, path, options, meshes)]


def _write(scene: Scene, path: Path, options: ExportOptions, meshes: dict) -> Path:
    """One file of a prepared scene (retargeted; ``meshes`` fitted) in the format of its suffix."""
    fmt = _format_of(path)
    up, units = options.frame_for(fmt)
    if fmt == ".fbx":
        from .fbx import write_fbx

        write_fbx(scene, path, up=up, units=units, meshes=meshes)
    elif fmt in (".glb", ".gltf"):
        from .gltf import write_gltf

        write_gltf(scene, path, meshes)
    elif fmt in (".usd", ".usda", ".usdc"):
        from .usd import write_usd

        write_usd(scene, path, up=up, units=units, meshes=meshes)
    elif fmt == ".bvh":
        from .bvh import write_bvh

        if len(scene.motions) > 1:
            raise OutputError(
                f"{path}: BVH holds one person but the scene has {len(scene.motions)} "
                f"(track ids {', '.join(map(str, sorted(scene.motions)))}); use --split for one .bvh per "
                "person, --person to pick one, or .fbx/.glb/.usd/.npz for all of them in one file"
            )
        write_bvh(in_file_frame(next(iter(scene.motions.values())), up, "m"), path, units=units)
    else:
        from ..motion import save_npz

        save_npz(scene, path)
    return path
