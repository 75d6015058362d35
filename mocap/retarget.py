"""Retargeting: a motion on one rig → the same motion on another, through world-space rotations.

For each pair of joints driven by the same SMPL joint, the target joint's world
rotation is the source joint's times a fixed rest correction ``A``:

    G_target(t) = G_source(t) · A,   A = F_source · F_targetᵀ

where ``F`` is a bone's rest frame in each rig: its primary axis points along the
bone (to the joint the next SMPL joint drives; for the pelvis across the hips),
its second axis is a fixed body axis (forward for the arms, left otherwise), so
twist about the bone is carried over too. ``A`` turns the target's rest bone onto
the source's: a T-pose source drives an A-pose target with the arms where the
source's are. Joints no SMPL joint drives keep their rest pose relative to their
parent. The target's pelvis goes where the source's went, scaled by the ratio of
leg lengths (hip to ankle), about the world origin.

Rotations are local joint rotations in world-aligned rest frames (the identity
in the rest pose), as everywhere in mocap.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .motion import Motion
from .rigs import Rig, map_to_smpl, smpl_rig
from .skeleton import JOINT, SMPL_JOINT_NAMES, SMPL_PARENTS, Skeleton, forward_kinematics

# The SMPL joint each bone aims at (None: the bone's frame is its parent's).
_AIM: dict[str, str | None] = {
    "pelvis": None, "spine1": "spine2", "spine2": "spine3", "spine3": "neck", "neck": "head", "head": None,
} | {f"{s}_{a}": (f"{s}_{b}" if b else None) for s in ("left", "right") for a, b in (
    ("hip", "knee"), ("knee", "ankle"), ("ankle", "foot"), ("foot", None),
    ("collar", "shoulder"), ("shoulder", "elbow"), ("elbow", "wrist"), ("wrist", "hand"), ("hand", None))}
_ARMS = {f"{s}_{a}" for s in ("left", "right") for a in ("collar", "shoulder", "elbow", "wrist", "hand")}
_FORWARD, _LEFT, _UP = np.array([0.0, 0, 1]), np.array([1.0, 0, 0]), np.array([0.0, 1, 0])


def rig_of(skeleton: Skeleton) -> Rig:
    """The rig a motion's skeleton is: SMPL's when it has SMPL's joint names, else mapped by names."""
    if tuple(skeleton.names) == SMPL_JOINT_NAMES:
        return smpl_rig(skeleton)
    return Rig("custom", skeleton, map_to_smpl(skeleton.names, skeleton.parents))


def rest_corrections(source: Rig, target: Rig) -> dict[str, np.ndarray]:
    """Per SMPL joint name driving a joint in both rigs, the (3, 3) rest correction ``A``
    (a target rest vector → the source's)."""
    src_pos, tgt_pos = source.skeleton.rest_positions(), target.skeleton.rest_positions()
    out: dict[str, np.ndarray] = {}
    for name in SMPL_JOINT_NAMES:  # parents before children
        if source.index_of(name) is None or target.index_of(name) is None:
            continue
        f_src, f_tgt = _bone_frame(source, src_pos, name), _bone_frame(target, tgt_pos, name)
        if f_src is None or f_tgt is None:
            parent = _driven_ancestor(name, out)
            out[name] = out[parent] if parent else np.eye(3)
        else:
            out[name] = f_src @ f_tgt.T
    return out


def _bone_frame(rig: Rig, pos: np.ndarray, name: str) -> np.ndarray | None:
    """(3, 3) rest frame of the bone at SMPL joint ``name`` (columns: primary, second, third axis)."""
    j = rig.index_of(name)
    if name == "pelvis":
        left, right = rig.index_of("left_hip"), rig.index_of("right_hip")
        primary, second = pos[left] - pos[right], _UP
    else:
        aim = _AIM[name]
        k = rig.index_of(aim) if aim else None
        if k is None:
            return None
        primary, second = pos[k] - pos[j], _FORWARD if name in _ARMS else _LEFT
    n = np.linalg.norm(primary)
    if n < 1e-9:
        return None
    u = primary / n
    v = second - (second @ u) * u
    if np.linalg.norm(v) < 1e-6:
        return None
    v /= np.linalg.norm(v)
    return np.stack([u, v, np.cross(u, v)], axis=1)


def _driven_ancestor(name: str, done: dict[str, np.ndarray]) -> str | None:
    j = JOINT[name]
    while SMPL_PARENTS[j] >= 0:
        j = SMPL_PARENTS[j]
        if SMPL_JOINT_NAMES[j] in done:
            return SMPL_JOINT_NAMES[j]
    return None


def leg_length(rig: Rig) -> float | None:
    """Mean hip-to-knee-to-ankle length over the two legs in the rest pose, metres."""
    pos = rig.skeleton.rest_positions()
    lengths = []
    for side in ("left", "right"):
        hip, knee, ankle = (rig.index_of(f"{side}_{n}") for n in ("hip", "knee", "ankle"))
        if None not in (hip, knee, ankle):
            lengths.append(np.linalg.norm(pos[knee] - pos[hip]) + np.linalg.norm(pos[ankle] - pos[knee]))
    return float(np.mean(lengths)) if lengths else None


def retarget(motion: Motion, target: Rig, source: Rig | None = None) -> Motion:
    """``motion`` carried over onto ``target``'s skeleton.

    Args:
        motion: rotations (T, Js, 3, 3), translation (T, 3) on its skeleton.
        target: the rig to drive (joints mapped to SMPL names; see :mod:`mocap.rigs`).
        source: the rig ``motion``'s skeleton is (default: :func:`rig_of`).

    Returns:
        a Motion on ``target.skeleton``: rotations (T, Jt, 3, 3), translation (T, 3)
        of the target's root; times, confidence, contacts and betas as given.
    """
    source = source or rig_of(motion.skeleton)
    fix = rest_corrections(source, target)
    p_src, g_src = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    T, J = motion.num_frames, target.skeleton.num_joints
    glob = np.empty((T, J, 3, 3))
    local = np.empty((T, J, 3, 3))
    for k, (p, name) in enumerate(zip(target.skeleton.parents, target.smpl)):
        if name in fix:
            glob[:, k] = g_src[:, source.index_of(name)] @ fix[name]
        else:
            glob[:, k] = glob[:, p] if p >= 0 else np.eye(3)
        local[:, k] = glob[:, k] if p < 0 else np.swapaxes(glob[:, p], -1, -2) @ glob[:, k]

    src_len, tgt_len = leg_length(source), leg_length(target)
    scale = tgt_len / src_len if src_len and tgt_len else 1.0
    src_pelvis = p_src[:, source.index_of("pelvis")]
    hips_from_root = forward_kinematics(local, np.zeros((T, 3)), target.skeleton)[0][:, target.index_of("pelvis")]
    return replace(motion, times=motion.times.copy(), rotations=local, translation=scale * src_pelvis - hips_from_root,
                   skeleton=target.skeleton, betas=motion.betas.copy(), confidence=motion.confidence.copy(),
                   contacts=None if motion.contacts is None else motion.contacts.copy())


REFERENCE_POSES = ("t", "a", "none")
A_POSE_DEGREES = 45.0  # arms this far below horizontal in the "a" reference pose


def smpl_reference_rotations(kind: str) -> np.ndarray:
    """(24, 3, 3) SMPL local rotations of a reference pose: "t" (SMPL's rest T-pose) or
    "a" (the upper arms turned :data:`A_POSE_DEGREES` down about the forward axis)."""
    from scipy.spatial.transform import Rotation

    rot = np.tile(np.eye(3), (len(SMPL_JOINT_NAMES), 1, 1))
    if kind == "a":
        rot[JOINT["left_shoulder"]] = Rotation.from_euler("z", -A_POSE_DEGREES, degrees=True).as_matrix()
        rot[JOINT["right_shoulder"]] = Rotation.from_euler("z", A_POSE_DEGREES, degrees=True).as_matrix()
    elif kind != "t":
        raise ValueError(f"reference pose must be 't' or 'a', got {kind!r}")
    return rot


def with_reference_pose(motion: Motion, kind: str, rig: Rig | None = None) -> Motion:
    """``motion`` with one frame of a reference pose ("t" or "a"; "none": unchanged) before it.

    The reference frame is one frame period before the first, at the first frame's
    root position, facing +Z; on a non-SMPL rig it is the SMPL pose retargeted onto
    it (a T-pose frame for an A-pose rig has its arms horizontal). Its confidence
    is 0 and its feet are not in contact.

    Args:
        motion: T frames on ``rig``'s skeleton (default: :func:`rig_of`).
    Returns:
        a Motion of T + 1 frames.
    """
    if kind == "none":
        return motion
    rig = rig or rig_of(motion.skeleton)
    smpl_pose = smpl_reference_rotations(kind)
    if tuple(motion.skeleton.names) == SMPL_JOINT_NAMES:
        pose = smpl_pose
    else:
        from .skeleton import neutral_skeleton

        reference = Motion(fps=motion.fps, times=np.zeros(1), rotations=smpl_pose[None],
                           translation=np.zeros((1, 3)), skeleton=neutral_skeleton())
        pose = retarget(reference, rig)
        pose = pose.rotations[0]
    dt = 1.0 / motion.fps
    contacts = None if motion.contacts is None else np.concatenate(
        [np.zeros((1, motion.contacts.shape[1]), dtype=bool), motion.contacts])
    return replace(motion, times=np.concatenate([[motion.times[0] - dt], motion.times]),
                   rotations=np.concatenate([pose[None], motion.rotations]),
                   translation=np.concatenate([motion.translation[:1], motion.translation]),
                   confidence=np.concatenate([[0.0], motion.confidence]), contacts=contacts)
