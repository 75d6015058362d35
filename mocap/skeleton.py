"""The SMPL-24 skeleton: joint names, hierarchy, rest offsets, forward kinematics.

Conventions: metres, Y-up, the body faces +Z in the rest pose and its left side
is +X (SMPL's own convention). Rest pose is a T-pose.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .rotations import FRAME_BLOCK  # noqa: F401 - the stages take it from here too

SMPL_JOINT_NAMES: tuple[str, ...] = (
    "pelvis", "left_hip", "right_hip", "spine1", "left_knee", "right_knee",
    "spine2", "left_ankle", "right_ankle", "spine3", "left_foot", "right_foot",
    "neck", "left_collar", "right_collar", "head", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hand", "right_hand",
)  # fmt: skip

SMPL_PARENTS: tuple[int, ...] = (
    -1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21,
)  # fmt: skip

NUM_JOINTS = 24
JOINT = {name: i for i, name in enumerate(SMPL_JOINT_NAMES)}

# The limb joints every common skeleton agrees on (head and spine joints sit at different places
# in different rigs): what accuracy is measured on, and what 2D joints are fitted to.
LIMB_JOINTS: tuple[str, ...] = (
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
)  # fmt: skip


@dataclass(frozen=True, eq=False)
class Skeleton:
    """A joint hierarchy with rest offsets.

    Attributes:
        names: (J,) joint names.
        parents: (J,) parent index per joint, -1 for the root; parents precede children.
        rest_offsets: (J, 3) offset of each joint from its parent in the rest pose,
            metres; row 0 is the root's rest position in the model frame.
        rest_frames: (J, 3, 3) each joint's own axes in the rest pose (columns, in the
            model frame), as a character file orients its bones (bone rolls); None:
            every joint's axes are the world's. Rotations in mocap are always
            world-aligned (the identity at rest) whatever these are; writers that
            store joint orientations express them in these frames
            (:func:`in_joint_frames`), so the file's bones are the character's own.
    """

    names: tuple[str, ...]
    parents: tuple[int, ...]
    rest_offsets: np.ndarray
    rest_frames: np.ndarray | None = None

    def __post_init__(self):
        offsets = np.asarray(self.rest_offsets, dtype=np.float64)
        if offsets.shape != (len(self.names), 3) or len(self.parents) != len(self.names):
            raise ValueError("skeleton names, parents and rest_offsets disagree in length")
        if any(p >= j for j, p in enumerate(self.parents)):
            raise ValueError("skeleton parents must precede their children")
        object.__setattr__(self, "rest_offsets", offsets)
        if self.rest_frames is not None:
            frames = np.asarray(self.rest_frames, dtype=np.float64)
            if frames.shape != (len(self.names), 3, 3):
                raise ValueError(f"rest_frames must be ({len(self.names)}, 3, 3), got {frames.shape}")
            if not np.allclose(np.swapaxes(frames, 1, 2) @ frames, np.eye(3), atol=1e-5) or \
                    np.any(np.linalg.det(frames) < 0):
                raise ValueError("rest_frames must be rotations")
            object.__setattr__(self, "rest_frames", frames)

    @property
    def num_joints(self) -> int:
        return len(self.names)

    def rest_positions(self) -> np.ndarray:
        """(J, 3) joint positions in the rest pose, model frame."""
        return rest_positions(self.parents, self.rest_offsets)

    def children(self, j: int) -> list[int]:
        return [c for c, p in enumerate(self.parents) if p == j]


def neutral_skeleton() -> Skeleton:
    """The built-in SMPL-24 rest skeleton used when no SMPL body model is given.

    A licence-clean neutral T-pose (our own anthropometric estimates for a ~1.72 m
    adult, not derived from SMPL data), kept in ``mocap/rigs/smpl.json``. The root's
    offset is the pelvis' height above the floor point between the feet, so the
    armature's origin sits on the ground.
    """
    return Skeleton(SMPL_JOINT_NAMES, SMPL_PARENTS, _neutral_offsets().copy())


@functools.lru_cache(maxsize=1)
def _neutral_offsets() -> np.ndarray:
    """(24, 3) the rest offsets of ``rigs/smpl.json`` (read as data: the rig file is the one source)."""
    joints = json.loads((Path(__file__).parent / "rigs" / "smpl.json").read_text(encoding="utf-8"))["joints"]
    names = tuple(j["name"] for j in joints)
    parents = tuple(-1 if j["parent"] is None else names.index(j["parent"]) for j in joints)
    if names != SMPL_JOINT_NAMES or parents != SMPL_PARENTS:
        raise ValueError("mocap/rigs/smpl.json does not have SMPL's joints in SMPL's order")
    return np.array([[float(v) for v in j["offset"]] for j in joints])


def skeleton_for_body(betas: np.ndarray | None = None, body_model=None) -> Skeleton:
    """The skeleton that rotations drive: the shaped SMPL skeleton when a body model is given.

    Args:
        betas: (B,) SMPL shape coefficients (None or zeros: the model's mean shape).
        body_model: a :class:`mocap.body_model.BodyModel` (anything with its ``skeleton(betas)``),
            or None for the built-in neutral skeleton.
    """
    if body_model is None:
        return neutral_skeleton()
    return body_model.skeleton(betas)


def end_site_offset(skeleton: "Skeleton", j: int) -> np.ndarray:
    """(3,) offset in metres of a leaf joint's tip (BVH ``End Site``, FBX bone tail).

    Continues the incoming bone's direction for half its length (at least 3 cm),
    which gives a head, hand or toe tip of plausible size. A root with no
    children gets a 10 cm tip straight up.
    """
    p = skeleton.parents[j]
    v = skeleton.rest_offsets[j] if p >= 0 else np.zeros(3)
    n = float(np.linalg.norm(v))
    if n < 1e-9:
        return np.array([0.0, 0.1, 0.0])
    return v / n * max(0.5 * n, 0.03)


def rest_positions(parents, rest_offsets: np.ndarray) -> np.ndarray:
    """(J, 3) rest-pose joint positions from (J,) parents and (J, 3) offsets."""
    pos = np.zeros_like(np.asarray(rest_offsets, dtype=np.float64))
    for j, p in enumerate(parents):
        pos[j] = rest_offsets[j] if p < 0 else pos[p] + rest_offsets[j]
    return pos


def rest_offsets(parents, positions: np.ndarray) -> np.ndarray:
    """(J, 3) offsets from parents from (J,) parents and (J, 3) rest positions (the inverse
    of :func:`rest_positions`); a root's offset is its position."""
    positions = np.asarray(positions, dtype=np.float64)
    parents = np.asarray(parents)
    return positions - np.where(parents[:, None] >= 0, positions[np.maximum(parents, 0)], 0.0)


def in_joint_frames(rotations: np.ndarray, skeleton: Skeleton) -> tuple[np.ndarray, np.ndarray]:
    """Local rotations and offsets in the joints' own rest frames (:attr:`Skeleton.rest_frames`).

    With ``F`` the rest frames, a joint posed by world-aligned local rotations ``R``
    has the world orientation ``G_j F_j`` (``G_j = G_parent R_j``); relative to its
    parent's posed frame that is ``F_parentᵀ R_j F_j``, and the joint sits at
    ``F_parentᵀ offset_j`` there (a root's parent frame is the world's).

    Args:
        rotations: (..., J, 3, 3) world-aligned local rotations (the identity: the rest pose).
        skeleton: its ``rest_frames`` (None: world-aligned, nothing changes).

    Returns:
        rotations (..., J, 3, 3) and offsets (J, 3) in the parents' frames.
    """
    rotations = np.asarray(rotations, dtype=np.float64)
    F = skeleton.rest_frames
    if F is None:
        return rotations, skeleton.rest_offsets
    parents = np.asarray(skeleton.parents)
    Fp = np.where((parents >= 0)[:, None, None], F[np.maximum(parents, 0)], np.eye(3))  # (J, 3, 3)
    FpT = np.swapaxes(Fp, -1, -2)
    return FpT @ rotations @ F, np.einsum("jab,jb->ja", FpT, skeleton.rest_offsets)


def forward_kinematics(
    rotations: np.ndarray, translation: np.ndarray, skeleton: Skeleton
) -> tuple[np.ndarray, np.ndarray]:
    """World joint positions and orientations.

    Args:
        rotations: (T, J, 3, 3) local joint rotations (joint frame relative to parent).
        translation: (T, 3) world position of the root joint, metres.
        skeleton: the rig; its rest offsets are the bone vectors in the parent frame.

    Returns:
        positions (T, J, 3) metres and global_rotations (T, J, 3, 3).
    """
    rotations = np.asarray(rotations, dtype=np.float64)
    T, J = rotations.shape[:2]
    glob = np.empty_like(rotations)
    pos = np.empty((T, J, 3))
    offsets = skeleton.rest_offsets
    for j, p in enumerate(skeleton.parents):
        if p < 0:
            glob[:, j] = rotations[:, j]
            pos[:, j] = translation
        else:
            glob[:, j] = glob[:, p] @ rotations[:, j]
            pos[:, j] = pos[:, p] + glob[:, p] @ offsets[j]
    return pos, glob


def joint_positions(rotations: np.ndarray, translation: np.ndarray, skeleton: Skeleton,
                    joints=None) -> np.ndarray:
    """World positions of ``joints`` (default all), by forward kinematics over blocks of
    ``FRAME_BLOCK`` frames: no (T, J, 3, 3) temporaries on a long clip.

    Args:
        rotations: (T, J, 3, 3) local rotations; translation: (T, 3) root position, metres.
        joints: joint indices (K,), or None for all.
    Returns:
        (T, K, 3) metres.
    """
    T = len(rotations)
    keep = list(range(skeleton.num_joints)) if joints is None else list(joints)
    out = np.empty((T, len(keep), 3))
    for s in range(0, T, FRAME_BLOCK):
        out[s : s + FRAME_BLOCK] = forward_kinematics(rotations[s : s + FRAME_BLOCK],
                                                      translation[s : s + FRAME_BLOCK], skeleton)[0][:, keep]
    return out
