"""FBX export through Blender (``bpy``): one armature and one action per person.

Axes and units (``up``, ``units``; the motion is first put in the file's frame
by :func:`mocap.export.in_file_frame`):

- Y-up files (the default; FBX's usual frame): each armature keeps its bone data
  in the Y-up frame and carries ``C`` (+90° about X, Y-up -> Blender's Z-up) as
  its object rotation, so in Blender the person stands upright; Blender's FBX
  exporter turns Z-up into Y-up by applying ``C^T`` to root objects
  (``axis_up="Y", axis_forward="-Z"``), the two cancel, and the file's armature
  node has an identity transform with bones in plain Y-up coordinates, as game
  engines expect. (Building the bones in Z-up armature space instead leaves a
  -90° X rotation on the armature node of every exported file.) Blender's
  importer puts the +90° X back on the armature object, as for any Y-up FBX.
- Z-up files: bone data in Z-up (a person facing +Z faces -Y, Blender's front),
  no object rotation, exported unconverted (``axis_up="Z", axis_forward="Y"``);
  the file's GlobalSettings say Z is up.
- Metres: ``UnitScaleFactor = 100`` (cm per file unit,
  ``apply_scale_options="FBX_SCALE_UNITS"``): FBX-SDK apps (Maya, Unreal,
  MotionBuilder), Unity and Blender read that as metres, and no node carries a
  x100 scale (``FBX_SCALE_NONE`` would write centimetres by scaling the
  armature node by 100). Centimetres: the Blender scene's unit scale is 0.01,
  lengths are written in cm with ``UnitScaleFactor = 1``.

Rotations: our local rotation ``R_j`` is expressed in a world-aligned rest
frame (every joint's rest orientation is the identity). A Blender bone has a
rest orientation ``A_j`` in armature space (from its head/tail/roll); let ``W``
map our frame to armature space (``W = I``: the motion is already in the file's frame).
Pose matrices compose as ``M_j = M_parent @ (A_parent^T A_j) @ B_j``. Asking
that the posed bone frame equals the rest frame turned by our global rotation,
``M_j = W G_j W^T A_j`` with ``G_j = G_parent R_j``, gives::

    B_j = A_j^T · W R_j W^T · A_j

The root bone also gets location keys, in its rest frame:
``loc = A_root^T W (t - rest_root)``.

Timing: key k goes at Blender frame ``round(times[k] * fps)``. Blender's FBX
exporter writes frame f at FBX time ``f / fps``, so FBX time equals video time
and several people stay aligned with the video in every app; Blender's FBX
importer adds its default one-frame offset (``anim_offset=1``) and puts key k
at frame ``1 + round(times[k] * fps)``, i.e. video start on frame 1. The frame
range spans the earliest to the latest key of anyone.

``bpy`` is imported inside the functions so that ``import mocap`` stays light.
Writing an FBX resets Blender's in-memory session (factory settings); this is
refused inside an interactive Blender, where it would discard the user's work.
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from ..errors import OutputError
from ..fileio import atomic_output
from ..motion import Motion, Scene
from ..skeleton import Skeleton
from . import C_YUP_TO_ZUP, in_file_frame
from .bvh import end_site_offset

# Exporter settings that matter (every other option is left at its default):
FBX_EXPORT_OPTIONS = dict(
    use_selection=False,
    object_types={"ARMATURE"},
    # axis_forward / axis_up: see AXES
    # Metres with UnitScaleFactor 100, no x100 scale on the armature node.
    global_scale=1.0,
    apply_unit_scale=True,
    apply_scale_options="FBX_SCALE_UNITS",
    # Keep Blender's bone axes so a Blender re-import is exact.
    primary_bone_axis="Y",
    secondary_bone_axis="X",
    armature_nodetype="NULL",
    # No extra "_end" bones at the leaves: the skeleton stays SMPL-24.
    add_leaf_bones=False,
    use_armature_deform_only=False,
    bake_anim=True,
    bake_anim_use_all_bones=True,
    # One take for the whole scene (all people on one timeline), not one per action.
    bake_anim_use_nla_strips=False,
    bake_anim_use_all_actions=False,
    bake_anim_force_startend_keying=True,
    bake_anim_step=1.0,
    # The default (1.0) drops keys it deems redundant: lossy. Keep every frame.
    bake_anim_simplify_factor=0.0,
    use_custom_props=False,
    use_metadata=True,
)

# The exporter's axis conversion per file up axis. Y: FBX's usual frame, the exporter
# turns Blender's Z-up into it. Z: Blender's own frame, written unconverted.
AXES = {"y": dict(axis_forward="-Z", axis_up="Y"), "z": dict(axis_forward="Y", axis_up="Z")}

_INTERP_LINEAR = 1  # enum index of 'LINEAR' in FCurve keyframe interpolation


def write_fbx(scene: Scene, path: str | Path, up: str = "y", units: str = "m") -> Path:
    """Write every person of ``scene`` to one FBX file, atomically.

    Each person becomes an armature object ``person<ID>`` whose bones carry the
    skeleton's joint names, animated by one action. With several people the
    bone names get an FBX namespace, ``person<ID>:pelvis``: FBX allows equal
    names under different armatures, but readers that bind animation curves by
    node name (assimp and the engines built on it) would merge them.

    Args:
        scene: motions (all at the same fps) with rotations (T, J, 3, 3),
            translation (T, 3) and times (T,).
        path: output file (``.fbx``).
        up: the file's up axis, "y" (FBX's usual; Maya, Unity) or "z" (Blender, Unreal).
        units: "m" (UnitScaleFactor 100, lengths in metres) or "cm" (UnitScaleFactor 1,
            lengths in centimetres): either way every FBX reader gets the same sizes.

    Returns:
        the written path.
    """
    import bpy

    if not bpy.app.background:
        raise OutputError("FBX export resets Blender's session; run it from the command line, not inside Blender")
    if not scene.motions:
        raise OutputError("nothing to export: the scene has no motions")
    fps = _common_fps(scene)
    path = Path(path)
    with atomic_output(path) as tmp:
        bpy.ops.wm.read_factory_settings(use_empty=True)
        bl_scene = bpy.context.scene
        _set_scene_fps(bl_scene, fps)
        # Blender units = file units: the exporter writes them unscaled with
        # UnitScaleFactor = 100 x scale_length (cm per unit).
        bl_scene.unit_settings.scale_length = 0.01 if units == "cm" else 1.0
        first, last = [], []
        prefix = len(scene.motions) > 1
        for tid in sorted(scene.motions):
            name = f"person{tid}"
            motion = in_file_frame(scene.motions[tid], up, units)
            frames = _build_person(bl_scene, name, motion, f"{name}:" if prefix else "", up)
            first.append(frames[0])
            last.append(frames[-1])
        bl_scene.frame_start, bl_scene.frame_end = min(first), max(last)
        bl_scene.frame_set(bl_scene.frame_start)
        with contextlib.redirect_stdout(io.StringIO()):  # the exporter prints progress
            result = bpy.ops.export_scene.fbx(filepath=str(tmp), **FBX_EXPORT_OPTIONS, **AXES[up])
        if "FINISHED" not in result:
            raise OutputError(f"{path}: Blender's FBX exporter failed ({', '.join(result)})")
    return path


def key_frames(times: np.ndarray, fps: float) -> np.ndarray:
    """(T,) integer Blender frame of each key in the writing scene: ``round(times * fps)``
    (FBX time = frame / fps = video time)."""
    return np.rint(np.asarray(times) * fps).astype(np.int64)


def bone_basis_rotations(rotations: np.ndarray, bone_rest: np.ndarray, W: np.ndarray | None = None) -> np.ndarray:
    """Blender pose-bone basis rotations for our local rotations.

    Args:
        rotations: (T, J, 3, 3) our local rotations (world-aligned rest frames, Y-up).
        bone_rest: (J, 3, 3) each bone's rest orientation ``A_j`` in armature space.
        W: (3, 3) our frame -> armature space (identity when None; ``C_YUP_TO_ZUP``
            for bone data built in Z-up).

    Returns:
        (T, J, 3, 3) ``B = A^T W R W^T A``.
    """
    A = np.asarray(bone_rest)[None]
    W = np.eye(3) if W is None else np.asarray(W)
    return np.swapaxes(A, -1, -2) @ (W @ rotations @ W.T) @ A


def continuous_quaternions(matrices: np.ndarray) -> np.ndarray:
    """(T, J, 4) Blender-order (w, x, y, z) quaternions from (T, J, 3, 3) matrices, on one
    hemisphere along time per joint (q and -q are the same rotation, but interpolating
    between them is not); see :func:`mocap.smooth.continuous_quaternions`."""
    from ..smooth import continuous_quaternions as xyzw

    return xyzw(matrices)[..., [3, 0, 1, 2]]


def _common_fps(scene: Scene) -> float:
    rates = {float(m.fps) for m in scene.motions.values()}
    if len(rates) != 1:
        raise OutputError(f"people have different frame rates ({sorted(rates)}); one FBX timeline needs one")
    fps = rates.pop()
    if not np.isfinite(fps) or fps <= 0:
        raise OutputError(f"frame rate must be positive, got {fps}")
    return fps


def _set_scene_fps(bl_scene, fps: float) -> None:
    # Blender stores the rate as an integer over a float base: 29.97 = 30 / 1.001.
    bl_scene.render.fps = max(1, int(round(fps)))
    bl_scene.render.fps_base = bl_scene.render.fps / fps


def _build_person(bl_scene, name: str, motion: Motion, bone_prefix: str = "", up: str = "y") -> np.ndarray:
    """Add one armature object animated by ``motion`` (in the file's frame: ``up`` axis,
    file units); return its (T,) key frames."""
    obj, bone_names, A = add_armature(bl_scene, name, motion.skeleton, bone_prefix, up)
    keys = pose_keys(motion, A, name)
    _add_action(obj, name, bone_names, motion.skeleton, *keys)
    return keys[0]


def add_armature(bl_scene, name: str, sk: Skeleton, bone_prefix: str = "", up: str = "y"):
    """Add an armature object ``name`` with one bone per joint of ``sk`` (in the file's frame).

    Returns:
        the object, the bone names as Blender stored them (J,), and each bone's
        rest orientation in armature space (J, 3, 3).
    """
    import bpy

    heads = sk.rest_positions()  # (J, 3) armature space = the file's frame
    min_length = 0.01 / bl_scene.unit_settings.scale_length  # 1 cm in scene units
    tails = heads + _tail_offsets(sk, np.eye(3)[1 if up == "y" else 2], min_length)

    arm = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, arm)
    obj.rotation_mode = "QUATERNION"
    if up == "y":  # Y-up data, upright in Blender's Z-up world (the exporter undoes it)
        obj.rotation_quaternion = Rotation.from_matrix(C_YUP_TO_ZUP).as_quat()[[3, 0, 1, 2]]
    bl_scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    bones = []
    for j, joint in enumerate(sk.names):
        eb = arm.edit_bones.new(bone_prefix + joint)
        eb.head, eb.tail, eb.roll = heads[j], tails[j], 0.0
        eb.use_connect = False  # bone heads are the joints; tails only orient the bones
        if sk.parents[j] >= 0:
            eb.parent = bones[sk.parents[j]]
        bones.append(eb)
    bone_names = [eb.name for eb in bones]  # as stored: Blender cuts names at 63 bytes
    bpy.ops.object.mode_set(mode="OBJECT")
    for bone in bone_names:
        obj.pose.bones[bone].rotation_mode = "QUATERNION"
    # Rest orientations as Blender computed them from head, tail and roll.
    A = np.array([np.array(arm.bones[b].matrix_local)[:3, :3] for b in bone_names])  # (J, 3, 3)
    return obj, bone_names, A


def pose_keys(motion: Motion, A: np.ndarray, name: str = "") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Blender keys for ``motion`` on bones with rest orientations ``A`` (J, 3, 3).

    Returns:
        frames (K,) integer Blender frames (one key per frame: times closer than a
        frame apart keep the first), rotation quaternions (K, J, 4) w-x-y-z, and the
        root bone's location (K, 3) in its rest frame.
    """
    sk = motion.skeleton
    quats = continuous_quaternions(bone_basis_rotations(motion.rotations, A))  # (T, J, 4)
    frames = key_frames(motion.times, motion.fps)
    if np.any(np.diff(frames) < 0):
        raise OutputError(f"{name}: frame times are not increasing")
    keep = np.concatenate([[True], np.diff(frames) > 0])
    root = sk.parents.index(-1)
    # A root's head goes to the translation; its basis translation lives in its
    # rest frame: loc = A_j^T (t - rest_j), as rows.
    loc = (motion.translation[keep] - sk.rest_offsets[root]) @ A[root]
    return frames[keep], quats[keep], loc


def _add_action(obj, name: str, bone_names: list[str], sk: Skeleton, frames: np.ndarray, quats: np.ndarray,
                loc: np.ndarray) -> None:
    """Animate ``obj`` by a new action holding the keys of :func:`pose_keys`, set in bulk."""
    import bpy

    action = bpy.data.actions.new(f"{name}_action")
    # Blender 5 actions are layered: F-curves live in a channelbag of a keyframe
    # strip on a layer, one channelbag per slot (the slot binds them to an ID).
    slot = action.slots.new(id_type="OBJECT", name=name)
    layer = action.layers.new("Layer")
    strip = layer.strips.new(type="KEYFRAME")
    channelbag = strip.channelbag(slot, ensure=True)
    for j, bone in enumerate(bone_names):
        path = f'pose.bones["{bpy.utils.escape_identifier(bone)}"]'
        for i in range(4):
            _add_curve(channelbag, f"{path}.rotation_quaternion", i, bone, frames, quats[:, j, i])
        if sk.parents[j] < 0:
            for i in range(3):
                _add_curve(channelbag, f"{path}.location", i, bone, frames, loc[:, i])
    obj.animation_data_create()
    obj.animation_data.action = action
    obj.animation_data.action_slot = slot


def _tail_offsets(sk: Skeleton, up: np.ndarray, min_length: float = 0.01) -> np.ndarray:
    """(J, 3) bone tail minus head: towards the child that continues the incoming
    bone (the root: the child most nearly along ``up`` (3,)), or the end site for
    leaves. At least ``min_length`` (1 cm) long: Blender drops zero-length bones."""
    out = np.empty((sk.num_joints, 3))
    for j in range(sk.num_joints):
        kids = sk.children(j)
        if not kids:
            v = end_site_offset(sk, j)
        else:
            p = sk.parents[j]
            ref = sk.rest_offsets[j] if p >= 0 else up
            ref = ref / max(np.linalg.norm(ref), 1e-12)
            dirs = [sk.rest_offsets[c] / max(np.linalg.norm(sk.rest_offsets[c]), 1e-12) for c in kids]
            v = sk.rest_offsets[kids[int(np.argmax([d @ ref for d in dirs]))]]
        n = np.linalg.norm(v)
        out[j] = v if n >= min_length else (v / n if n > 0 else up) * min_length
    return out


def _add_curve(channelbag, data_path: str, index: int, group: str, frames: np.ndarray, values: np.ndarray) -> None:
    """One F-curve with all keys set in bulk (no per-key Python loop), linear interpolation."""
    fc = channelbag.fcurves.new(data_path, index=index, group_name=group)
    n = len(frames)
    fc.keyframe_points.add(n)
    co = np.empty(2 * n, dtype=np.float32)
    co[0::2], co[1::2] = frames, values
    fc.keyframe_points.foreach_set("co", co)
    fc.keyframe_points.foreach_set("interpolation", np.full(n, _INTERP_LINEAR, dtype=np.int32))
    fc.update()
