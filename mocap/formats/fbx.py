"""FBX export through Blender (``bpy``): one armature and one action per person.

Axes and units (``up``, ``units``; the motion is first put in the file's frame
by :func:`mocap.axes.in_file_frame`):

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

from ..axes import C_YUP_TO_ZUP, basis, in_file_frame
from ..errors import OutputError
from ..fileio import atomic_output
from ..motion import Motion, Scene
from ..skeleton import Skeleton, end_site_offset
from . import FORMATS, Format

# Exporter settings that matter (every other option is left at its default):
FBX_EXPORT_OPTIONS = dict(
    use_selection=False,
    object_types={"ARMATURE"},  # and "MESH" with a body (write_fbx)
    # The body's Armature modifier is its skin (written as FBX skin clusters), not geometry to apply.
    use_mesh_modifiers=False,
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


def write_fbx(scene: Scene, path: str | Path, up: str = "y", units: str = "m", bake: bool = False,
              meshes: dict | None = None) -> Path:
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
        meshes: track id -> :class:`mocap.body_model.BodyMesh` on that person's skeleton
            (our frame): a mesh ``person<ID>_body`` skinned to the armature.
        bake: let Blender's exporter sample the actions frame by frame (its own
            path; slow) instead of handing it the curves computed from our keys
            (:func:`keys_as_curves`; the same values).

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
        tracks = {}
        prefix = len(scene.motions) > 1
        for tid in sorted(scene.motions):
            name = f"person{tid}"
            motion = in_file_frame(scene.motions[tid], up, units)
            person = _build_person(bl_scene, name, motion, f"{name}:" if prefix else "", up, action=bake)
            tracks.update(person)
            if (meshes or {}).get(tid) is not None:
                add_body(bl_scene, f"{name}_body", bpy.data.objects[name], [b for _, b in person],
                         meshes[tid], up, units)
        bl_scene.frame_start = min(int(keys[0][0]) for keys in tracks.values())
        bl_scene.frame_end = max(int(keys[0][-1]) for keys in tracks.values())
        bl_scene.frame_set(bl_scene.frame_start)
        feed = contextlib.nullcontext() if bake else keys_as_curves(tracks)
        with feed, contextlib.redirect_stdout(io.StringIO()):  # the exporter prints progress
            types = {"object_types": {"ARMATURE", "MESH"}} if meshes else {}
            result = bpy.ops.export_scene.fbx(filepath=str(tmp), **(FBX_EXPORT_OPTIONS | types), **AXES[up])
        if "FINISHED" not in result:
            raise OutputError(f"{path}: Blender's FBX exporter failed ({', '.join(result)})")
    return path


def add_body(bl_scene, name: str, armature, bone_names: list[str], mesh, up: str = "y", units: str = "m"):
    """Add ``mesh`` (a :class:`mocap.body_model.BodyMesh` in our frame, rest pose) as a mesh
    object skinned to ``armature`` (one vertex group per bone of ``bone_names``, its
    Armature modifier), in the file's frame like the bones. Returns the object."""
    import bpy

    C, s = basis(up, units)
    data = bpy.data.meshes.new(name)
    data.from_pydata((s * mesh.vertices @ C.T).tolist(), [], mesh.faces.tolist())
    data.update()
    obj = bpy.data.objects.new(name, data)
    bl_scene.collection.objects.link(obj)
    obj.parent = armature  # armature space = the file's frame: no transform of its own
    groups = [obj.vertex_groups.new(name=bone) for bone in bone_names]
    for v, (joints, weights) in enumerate(zip(mesh.joints.tolist(), mesh.weights.tolist())):
        for j, w in zip(joints, weights):
            if w > 0:
                groups[j].add([v], w, "ADD")
    obj.modifiers.new("Armature", "ARMATURE").object = armature
    return obj


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
    between them is not); see :func:`mocap.rotations.continuous_quaternions`."""
    from ..rotations import continuous_quaternions as xyzw

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


def _build_person(bl_scene, name: str, motion: Motion, bone_prefix: str = "", up: str = "y",
                  action: bool = True) -> dict:
    """Add one armature object for ``motion`` (in the file's frame: ``up`` axis, file units),
    animated by an action of its keys if ``action`` (else left in its rest pose: the
    pose the exporter writes as the bones' own transforms); return its keys per bone,
    ``{(object, bone): (frames (K,), quaternions (K, 4) w-x-y-z, location (K, 3) or None)}``,
    as :func:`keys_as_curves` takes them."""
    obj, bone_names, A = add_armature(bl_scene, name, motion.skeleton, bone_prefix, up)
    frames, quats, loc = pose_keys(motion, A, name)
    if action:
        _add_action(obj, name, bone_names, motion.skeleton, frames, quats, loc)
    # Insertion-ordered: the bones in joint order.
    return {(obj.name, bone): (frames, quats[:, j], loc if motion.skeleton.parents[j] < 0 else None)
            for j, bone in enumerate(bone_names)}


@contextlib.contextmanager
def keys_as_curves(tracks: dict):
    """While open, Blender's FBX exporter takes each bone's animation curves from
    ``tracks`` instead of sampling the scene frame by frame.

    The exporter's own path sets every frame of the scene and reads every bone's
    matrix back in Python (about 0.5 ms a frame for one person: 90 % of an FBX
    export). Here the same values come from our keys in a few array operations:
    what Blender evaluates from the actions :func:`_add_action` wrote (linear
    keys, held before the first and after the last, quaternions normalised), as
    each bone's matrix relative to its parent bone (FBX local ``Lcl`` transforms),
    XYZ Euler angles in degrees kept continuous, one key per scene frame. The rest
    of the file (nodes, bind poses, the curve elements) is the exporter's own.

    Args:
        tracks: ``{(armature object name, bone name): (frames (K,) int, quaternions
            (K, 4) w-x-y-z, root location (K, 3) or None)}`` for every animated bone.
            Bones and objects without an entry keep their current transform (not animated).
    """
    from io_scene_fbx import export_fbx_bin

    baked = export_fbx_bin.fbx_animations_do

    def from_tracks(scene_data, ref_id, f_start, f_end, start_zero, objects=None, force_keep=False):
        if objects is not None or ref_id is not None:  # per-action / per-strip takes: not ours
            return baked(scene_data, ref_id, f_start, f_end, start_zero, objects, force_keep)
        return _curves_from_tracks(export_fbx_bin, scene_data, tracks, f_start, f_end)

    export_fbx_bin.fbx_animations_do = from_tracks
    try:
        yield
    finally:
        export_fbx_bin.fbx_animations_do = baked


def _curves_from_tracks(ex, scene_data, tracks: dict, f_start: float, f_end: float):
    """The scene take as ``fbx_animations_do`` of the exporter module ``ex`` returns it
    (its AnimationCurveNodeWrapper objects filled with :func:`bone_local_transforms`)."""
    settings, scene = scene_data.settings, scene_data.scene
    frames = np.arange(f_start, np.nextafter(f_end, np.inf), settings.bake_anim_step)
    fps = scene.render.fps / scene.render.fps_base
    fbx_times = (frames / fps * ex.FBX_KTIME).astype(np.int64)
    correction = settings.bone_correction_matrix
    correction = None if correction is None else (np.array(correction), np.array(settings.bone_correction_matrix_inv))
    force_sek = settings.bake_anim_force_startend_keying
    force = settings.bake_anim_simplify_factor == 0.0
    animations = {}
    for ob_obj in scene_data.objects:
        if ob_obj.parented_to_armature:
            continue
        track = tracks.get((ob_obj._ref.name, ob_obj.bdata.name)) if ob_obj.is_bone else None
        if track is not None:
            loc, rot, scale = bone_local_transforms(ob_obj.bdata, *track, frames, correction)
        else:  # not animated: its current transform on every frame
            loc, rot, scale, _m, _mr = ob_obj.fbx_object_tx(scene_data)
            loc, rot, scale = (np.broadcast_to(np.array(v, float), (len(frames), 3)) for v in (loc, rot, scale))
            rot = np.degrees(rot)
        force_key = force or (ob_obj.is_bone and settings.bake_anim_use_all_bones)
        for kind, values in (("LCL_TRANSLATION", loc), ("LCL_ROTATION", rot), ("LCL_SCALING", scale)):
            node = ex.AnimationCurveNodeWrapper(ob_obj.key, kind, force_key, force_sek, tuple(map(float, values[0])))
            node.set_keyframes(fbx_times, np.ascontiguousarray(values.T))
            node.simplify(settings.bake_anim_simplify_factor, settings.bake_anim_step, False)
            if not node:
                continue
            for obj_key, group_key, group, fbx_group, fbx_gname in node.get_final_data(scene, None, False):
                animations.setdefault(obj_key, ("dummy_unused_key", {}))[1][fbx_group] = (group_key, group, fbx_gname)
    if not animations:
        return None
    return (ex.get_blender_anim_stack_key(scene, None), animations, ex.get_blender_anim_layer_key(scene, None),
            scene.name.encode(), f_start, f_end)


def bone_local_transforms(bone, key_frames: np.ndarray, quats: np.ndarray, loc: np.ndarray | None,
                          frames: np.ndarray, correction=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A bone's FBX local transform on each of ``frames`` from its keys.

    Blender poses a bone by ``P_j = P_parent · (L_parent^-1 L_j) · basis_j`` (``L``:
    rest matrices in armature space, ``basis``: key location then rotation), so
    relative to its parent it sits at ``L_parent^-1 L_j · basis_j``.

    Args:
        bone: the ``bpy.types.Bone`` (rest matrices).
        key_frames: (K,) Blender frames of the keys.
        quats: (K, 4) w-x-y-z rotation keys; ``loc``: (K, 3) location keys or None.
        frames: (F,) frames to sample (linear between keys, held outside them).
        correction: the exporter's (bone correction, its inverse) 4x4 matrices, or None.

    Returns:
        location (F, 3), XYZ Euler angles in degrees (F, 3), continuous along the
        frames, and scale (F, 3) (ones: bones are rigid).
    """
    def sample(values):
        return np.stack([np.interp(frames, key_frames, values[:, c]) for c in range(values.shape[1])], -1)

    rest = np.array(bone.matrix_local)
    if bone.parent is not None:
        rest = np.linalg.inv(np.array(bone.parent.matrix_local)) @ rest
    # Quaternions throughout (Rotation.from_matrix orthonormalises each matrix by SVD: slow).
    rot = Rotation.from_matrix(rest[:3, :3]) * Rotation.from_quat(sample(quats)[:, [1, 2, 3, 0]])  # normalises
    loc = rest[:3, 3] + (0.0 if loc is None else sample(loc) @ rest[:3, :3].T)
    if correction is not None:
        corr, corr_inv = correction
        if bone.parent is not None:
            loc = loc @ corr_inv[:3, :3].T + corr_inv[:3, 3]
            rot = Rotation.from_matrix(corr_inv[:3, :3]) * rot
        rot = rot * Rotation.from_matrix(corr[:3, :3])
    loc = np.broadcast_to(loc, (len(frames), 3))
    return loc, np.degrees(continuous_euler_xyz(rot.as_quat())), np.ones((len(frames), 3))


def continuous_euler_xyz(quats: np.ndarray) -> np.ndarray:
    """(F, 3) XYZ Euler angles (radians; ``R = Rz Ry Rx``, Blender's and FBX's XYZ order)
    of (F, 4) x-y-z-w quaternions along time, without jumps.

    Every rotation has two triples, ``(x, y, z)`` with ``|y| <= 90°`` and ``(x + 180°,
    180° - y, z + 180°)``, each up to whole turns. Each frame takes the one nearer
    the previous frame's (as Blender's ``to_euler(order, compat)``, by the sum of
    the three angle steps); since the two differ by the same symmetry on every
    frame, whether to switch at frame t depends on frames t-1 and t only, which
    keeps this a few array operations. Then whole turns are unwrapped.
    """
    first = Rotation.from_quat(quats).as_euler("xyz")
    if len(first) < 2:
        return first
    other = first + np.array([np.pi, 0.0, np.pi])
    other[:, 1] = np.pi - first[:, 1]

    def steps(a, b):  # sum of the angle steps, each wrapped to [0, pi]
        return np.abs(np.angle(np.exp(1j * (a - b)))).sum(axis=1)

    switch = steps(other[1:], first[:-1]) < steps(first[1:], first[:-1])
    flip = np.concatenate([[0], np.cumsum(switch)]) % 2 == 1
    return np.unwrap(np.where(flip[:, None], other, first), axis=0)


def add_armature(bl_scene, name: str, sk: Skeleton, bone_prefix: str = "", up: str = "y"):
    """Add an armature object ``name`` with one bone per joint of ``sk`` (in the file's frame):
    each bone from its joint towards the child that continues it, roll 0, or, when the
    skeleton has ``rest_frames`` (a character's bones), with exactly those axes.

    Returns:
        the object, the bone names as Blender stored them (J,), and each bone's
        rest orientation in armature space (J, 3, 3).
    """
    import bpy
    from mathutils import Matrix

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
        if sk.rest_frames is not None:  # the character's own bone axes (Y along the bone), same length
            M = np.eye(4)
            M[:3, :3], M[:3, 3] = sk.rest_frames[j], heads[j]
            eb.matrix = Matrix(M.tolist())
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


FORMATS.register("fbx", Format((".fbx",), "FBX for Blender, Maya, Unreal and Unity, an armature per person",
                               lambda scene, path, up, units, meshes: write_fbx(scene, path, up=up, units=units,
                                                                                meshes=meshes),
                               meshes=True))
