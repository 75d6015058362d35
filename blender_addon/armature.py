"""Armatures and actions from motions: plain functions over ``bpy`` (no UI), used by the
operators and called directly by the tests.

Frames: a motion is Y-up metres facing +Z; Blender's world is Z-up, a person facing
-Y (its front view). ``C`` takes the one to the other. A pose bone's rotation
``B`` is relative to its rest orientation ``A`` (armature space, from head, tail
and roll), so a world-aligned local rotation ``R`` becomes ``B = Aᵀ W R Wᵀ A``
with ``W`` the rotation from the motion's world to armature space; as quaternions
``q_B = q_A* ⊗ q_W ⊗ q_R ⊗ q_W* ⊗ q_A``. The root bone's location key is its
position in its own rest frame: ``Aᵀ (p_armature − head)``.
"""

from __future__ import annotations

import json

import numpy as np

from .motion_io import Person, conjugate, continuous, quaternion_multiply

# Motion (Y-up) -> Blender (Z-up): (x, y, z) -> (x, -z, y).
C = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])
MIN_BONE_LENGTH = 0.01  # metres: Blender drops zero-length bones


def build_armature(collection, name: str, person: Person):
    """A new armature object ``name`` in ``collection`` with one bone per joint of ``person``
    at its rest pose (Blender world = armature space: the object has no transform).
    Bones point from their joint to the child that continues them (roll 0), or take the
    joints' own axes when the motion has them. Returns the object."""
    import bpy
    from mathutils import Matrix

    heads = person.rest_positions() @ C.T
    arm = bpy.data.armatures.new(name)
    obj = bpy.data.objects.new(name, arm)
    collection.objects.link(obj)
    previous = bpy.context.view_layer.objects.active
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    bones = []
    for j, joint in enumerate(person.names):
        eb = arm.edit_bones.new(joint)
        eb.head, eb.tail, eb.roll = heads[j], heads[j] + _tail_offset(person, heads, j), 0.0
        if person.rest_frames is not None:
            M = np.eye(4)
            M[:3, :3], M[:3, 3] = C @ person.rest_frames[j], heads[j]
            eb.matrix = Matrix(M.tolist())
        eb.use_connect = False
        if person.parents[j] >= 0:
            eb.parent = bones[person.parents[j]]
        bones.append(eb)
    bpy.ops.object.mode_set(mode="OBJECT")
    bpy.context.view_layer.objects.active = previous
    for pb in obj.pose.bones:
        pb.rotation_mode = "QUATERNION"
    return obj


def _tail_offset(person: Person, heads: np.ndarray, j: int) -> np.ndarray:
    kids = [c for c, p in enumerate(person.parents) if p == j]
    if kids:  # towards the child most in line with the incoming bone (the root: the one most up)
        p = person.parents[j]
        incoming = heads[j] - heads[p] if p >= 0 else np.array([0.0, 0, 1])
        v = max((heads[c] - heads[j] for c in kids), key=lambda d: d @ incoming / (np.linalg.norm(d) + 1e-12))
    else:  # a leaf: on along its own bone
        p = person.parents[j]
        v = 0.5 * (heads[j] - heads[p]) if p >= 0 else np.array([0.0, 0, 0.1])
    n = np.linalg.norm(v)
    return v if n >= MIN_BONE_LENGTH else (v / n if n > 0 else np.array([0.0, 0, 1])) * MIN_BONE_LENGTH


def pose_keys(obj, person: Person) -> tuple[np.ndarray, np.ndarray]:
    """Pose-bone keys of ``person`` on armature ``obj`` (its bones named as the joints).

    Returns:
        rotations (T, J, 4) w-x-y-z, hemisphere-continuous, and the root bone's
        location (T, 3) in its rest frame (armature units).
    """
    inv_world = np.linalg.inv(np.array(obj.matrix_world))
    W = inv_world[:3, :3] @ C  # the motion's axes -> armature space (object scale divided out below)
    W /= np.linalg.norm(W, axis=0, keepdims=True)
    rest = [np.array(obj.data.bones[n].matrix_local) for n in person.names]
    q_rest = np.array([_quaternion(m[:3, :3]) for m in rest])  # (J, 4)
    q_w = _quaternion(W)
    q = quaternion_multiply(quaternion_multiply(conjugate(q_rest), q_w), person.quaternions)
    q = quaternion_multiply(quaternion_multiply(q, conjugate(q_w)), q_rest)
    root = person.parents.index(-1)
    arm_pos = (person.translation @ C.T) @ inv_world[:3, :3].T + inv_world[:3, 3]  # (T, 3) armature space
    loc = (arm_pos - rest[root][:3, 3]) @ rest[root][:3, :3]  # rows: Aᵀ (p − head)
    return continuous(q), loc


def _quaternion(m: np.ndarray) -> np.ndarray:
    from mathutils import Matrix

    return np.array(Matrix(m.tolist()).to_quaternion())


def key_frames(person: Person, fps: float, frame_start: int) -> np.ndarray:
    """(T,) Blender frame of each key: the video's time at the scene's rate, from ``frame_start``."""
    return frame_start + person.times * fps


def animate(obj, person: Person, frames: np.ndarray, name: str | None = None):
    """A new action on ``obj`` with the person's keys at ``frames`` (T,), every F-curve's
    keys set in bulk (``foreach_set``; no per-key Python), linear between keys.
    Blender 5 actions are layered: the curves live in a channelbag of a keyframe
    strip, bound to the object through an action slot. Returns the action."""
    import bpy

    quats, loc = pose_keys(obj, person)
    action = bpy.data.actions.new(name or f"{obj.name}_action")
    slot = action.slots.new(id_type="OBJECT", name=obj.name)
    strip = action.layers.new("Layer").strips.new(type="KEYFRAME")
    channelbag = strip.channelbag(slot, ensure=True)
    root = person.parents.index(-1)
    for j, bone in enumerate(person.names):
        obj.pose.bones[bone].rotation_mode = "QUATERNION"
        path = f'pose.bones["{bpy.utils.escape_identifier(bone)}"]'
        for i in range(4):
            _curve(channelbag, f"{path}.rotation_quaternion", i, bone, frames, quats[:, j, i])
        if j == root:
            for i in range(3):
                _curve(channelbag, f"{path}.location", i, bone, frames, loc[:, i])
    if obj.animation_data is None:
        obj.animation_data_create()
    obj.animation_data.action = action
    obj.animation_data.action_slot = slot
    return action


_LINEAR = 1  # index of 'LINEAR' in the keyframe interpolation enum


def _curve(channelbag, data_path: str, index: int, group: str, frames: np.ndarray, values: np.ndarray) -> None:
    fc = channelbag.fcurves.new(data_path, index=index, group_name=group)
    n = len(frames)
    fc.keyframe_points.add(n)
    co = np.empty(2 * n, dtype=np.float32)
    co[0::2], co[1::2] = frames, values
    fc.keyframe_points.foreach_set("co", co)
    fc.keyframe_points.foreach_set("interpolation", np.full(n, _LINEAR, dtype=np.int32))
    fc.update()


def rig_json(obj) -> str:
    """A rig file (mocap's rig ``.json``) describing armature ``obj`` as it stands in the
    scene: bone names, parents, rest offsets and axes in the motion's frame (Y-up metres);
    the engine maps the bones to SMPL's joints by name and retargets onto them."""
    M = np.array(obj.matrix_world)
    to_motion = C.T
    joints = []
    positions = {}
    for bone in obj.data.bones:  # parents come before their children
        head = to_motion @ (M[:3, :3] @ np.array(bone.head_local) + M[:3, 3])
        axes = to_motion @ M[:3, :3] @ np.array(bone.matrix_local)[:3, :3]
        U, _, Vt = np.linalg.svd(axes)  # the object's scale divided out
        axes = U @ Vt
        parent = bone.parent.name if bone.parent else None
        offset = head - positions[parent] if parent else head
        positions[bone.name] = head
        joints.append({"name": bone.name, "parent": parent, "offset": [float(v) for v in offset],
                       "rotation": [float(v) for v in _xyzw(axes)]})
    return json.dumps({"name": obj.name, "joints": joints}, indent=1)


def _xyzw(m: np.ndarray) -> np.ndarray:
    w, x, y, z = _quaternion(m)
    return np.array([x, y, z, w])
