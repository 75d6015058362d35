"""A person's own proportions: bone lengths measured over a clip, and the skeleton that has them.

The neutral skeleton's limbs are an average adult's; a performer's are not, and the
difference is most of the 3D error that remains after the rotations are right (the
"skeleton floor" of ``scripts/evaluate.py``). A body estimator that sees 3D joints
measures :data:`BONES` on every frame (``Estimates.lengths``); :func:`body_lengths` takes
one robust value per bone over the clip and :func:`proportioned` builds the SMPL-24
skeleton with those lengths, symmetric, every other bone scaled with the body.

Conventions: metres; the skeleton's rest pose faces +Z with +Y up (:mod:`mocap.skeleton`).
"""

from __future__ import annotations

import numpy as np

from .skeleton import JOINT, Skeleton, rest_positions

# The lengths a body estimator measures, in this order (each a column of ``Estimates.lengths``):
# distances between the two hip joints and between the two shoulder joints, mid-hips to
# mid-shoulders, and each limb segment, left then right.
BONES: tuple[str, ...] = (
    "hip_width", "shoulder_width", "torso",
    "left_thigh", "right_thigh", "left_shin", "right_shin",
    "left_upper_arm", "right_upper_arm", "left_forearm", "right_forearm",
)  # fmt: skip

# One length per body part (left and right share theirs: the skeleton is symmetric).
PARTS: tuple[str, ...] = ("hip_width", "shoulder_width", "torso", "thigh", "shin", "upper_arm", "forearm")
_COLUMNS = {part: [i for i, b in enumerate(BONES) if b == part or b.endswith("_" + part)] for part in PARTS}

# The joints (parent side, child side) of each part's length on the SMPL-24 skeleton.
_LIMBS = {"thigh": ("hip", "knee"), "shin": ("knee", "ankle"), "upper_arm": ("shoulder", "elbow"),
          "forearm": ("elbow", "wrist")}
_SPINE = ("spine1", "spine2", "spine3")
# Frames a part must be measured on before its length is believed (else: the skeleton's own).
MIN_FRAMES = 5


def body_lengths(lengths: np.ndarray, min_frames: int = MIN_FRAMES) -> np.ndarray:
    """One length per part of :data:`PARTS` from per-frame measures.

    Args:
        lengths: (T, len(BONES)) metres, NaN where a bone was not measured.
    Returns:
        (len(PARTS),) metres: each part's median over its frames and both sides; NaN for a
        part measured on fewer than ``min_frames`` frames.
    """
    lengths = np.asarray(lengths, dtype=np.float64).reshape(-1, len(BONES))
    out = np.full(len(PARTS), np.nan)
    for k, part in enumerate(PARTS):
        seen = lengths[:, _COLUMNS[part]].ravel()
        seen = seen[np.isfinite(seen) & (seen > 0)]
        if len(seen) >= min_frames:
            out[k] = np.median(seen)
    return out


def part_lengths(positions: np.ndarray, names) -> np.ndarray:
    """The lengths of :data:`PARTS` between SMPL-named joints (limbs: the mean of both sides).

    Args:
        positions: (..., J, 3) joint positions, metres; names: (J,) their SMPL joint names
            (others are ignored).
    Returns:
        (..., len(PARTS)) metres.
    """
    names = list(names)
    at = lambda name: positions[..., names.index(name), :]  # noqa: E731
    mid = lambda a: 0.5 * (at(f"left_{a}") + at(f"right_{a}"))  # noqa: E731
    dist = lambda a, b: np.linalg.norm(a - b, axis=-1)  # noqa: E731
    part = {"hip_width": dist(at("left_hip"), at("right_hip")),
            "shoulder_width": dist(at("left_shoulder"), at("right_shoulder")),
            "torso": dist(mid("hip"), mid("shoulder"))}
    for name, (a, b) in _LIMBS.items():
        part[name] = 0.5 * sum(dist(at(f"{side}_{a}"), at(f"{side}_{b}")) for side in ("left", "right"))
    return np.stack([part[p] for p in PARTS], axis=-1)


def skeleton_lengths(skeleton: Skeleton) -> np.ndarray:
    """(len(PARTS),) the lengths of an SMPL-24 skeleton's parts in its rest pose, metres."""
    return part_lengths(skeleton.rest_positions(), skeleton.names)


def proportioned(skeleton: Skeleton, lengths: np.ndarray) -> Skeleton:
    """The SMPL-24 skeleton with the given part lengths, rest directions kept.

    Limb segments are scaled along themselves; the hip and shoulder widths sideways (the
    hips' drop below the pelvis and the shoulders' height are kept); the torso by the
    vertical parts of the spine and collar offsets. Head, neck, hands and feet scale with the
    body (the mean of the parts' scales). The root's rest offset, the pelvis' height above
    the floor, follows the legs: the ankles stay as high above the floor as before.

    Args:
        skeleton: an SMPL-24 skeleton (joint names of :data:`mocap.skeleton.SMPL_JOINT_NAMES`).
        lengths: (len(PARTS),) metres; a NaN part keeps the skeleton's length.
    Returns:
        a new :class:`Skeleton` (same names, parents and rest frames).
    """
    lengths = np.asarray(lengths, dtype=np.float64)
    if lengths.shape != (len(PARTS),):
        raise ValueError(f"expected {len(PARTS)} part lengths, got shape {lengths.shape}")
    now = skeleton_lengths(skeleton)
    scale = dict(zip(PARTS, np.where(np.isfinite(lengths) & (lengths > 0), lengths / now, 1.0)))
    body = float(np.mean(list(scale.values())))
    o = skeleton.rest_offsets.copy()
    ankle_height = rest_positions(skeleton.parents, o)[JOINT["left_ankle"], 1]
    for side in ("left", "right"):
        for name, (_, child) in _LIMBS.items():
            o[JOINT[f"{side}_{child}"]] *= scale[name]
        o[JOINT[f"{side}_hand"]] *= body
        o[JOINT[f"{side}_foot"]] *= body
        o[JOINT[f"{side}_hip"], 0] *= scale["hip_width"]
    for name in ("neck", "head"):
        o[JOINT[name]] *= body
    _fit_shoulders(o, skeleton.parents, scale["shoulder_width"] * now[PARTS.index("shoulder_width")],
                   scale["torso"] * now[PARTS.index("torso")])
    P = rest_positions(skeleton.parents, o)
    o[0, 1] += body * ankle_height - P[JOINT["left_ankle"], 1]
    return Skeleton(skeleton.names, skeleton.parents, o, skeleton.rest_frames)


def _fit_shoulders(o: np.ndarray, parents, width: float, torso: float) -> None:
    """Scale, in place, the collar and shoulder offsets sideways to the shoulder ``width`` and the
    spine and collars upwards to the ``torso`` length (mid-hips to mid-shoulders)."""
    P = rest_positions(parents, o)
    now = abs(P[JOINT["left_shoulder"], 0] - P[JOINT["right_shoulder"], 0])
    for side in ("left", "right"):
        for name in (f"{side}_collar", f"{side}_shoulder"):
            o[JOINT[name], 0] *= width / now
    # The torso length is not linear in the vertical offsets (the shoulders sit forward or
    # back of the hips too): a few fixed-point steps settle it to well under a millimetre.
    for _ in range(4):
        P = rest_positions(parents, o)
        hips = 0.5 * (P[JOINT["left_hip"]] + P[JOINT["right_hip"]])
        shoulders = 0.5 * (P[JOINT["left_shoulder"]] + P[JOINT["right_shoulder"]])
        rise = shoulders[1] - hips[1]
        flat = np.hypot(shoulders[0] - hips[0], shoulders[2] - hips[2])
        target = np.sqrt(max(torso**2 - flat**2, 1e-6))
        lower = P[JOINT["spine1"], 1] - hips[1]  # the hips' drop below the pelvis and spine1's rise stay
        grow = (target - lower) / max(rise - lower, 1e-6)
        for name in (*_SPINE[1:], "left_collar", "right_collar"):
            o[JOINT[name], 1] *= grow
