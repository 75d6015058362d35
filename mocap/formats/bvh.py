"""BVH (Biovision Hierarchy) writer and reader.

Conventions of the files we write:

- Y-up, right-handed, like our engine (BVH has no axis metadata; Y-up is what
  Blender, MotionBuilder and the CMU database assume).
- Lengths in centimetres by default (the usual BVH unit), or metres.
- The root has 6 channels ``Xposition Yposition Zposition Zrotation Xrotation
  Yrotation``, every other joint 3 channels ``Zrotation Xrotation Yrotation``.
  BVH channels compose in the order listed, so a joint's local rotation is
  ``R = Rz(z) @ Rx(x) @ Ry(y)``: the intrinsic Z-X-Y Euler sequence, which is
  scipy's ``Rotation.from_euler("ZXY", [z, x, y])`` (upper case = intrinsic).
- The root position channels hold the root's absolute position (not an offset
  added to the root's OFFSET, which holds its rest position): the reading of
  Blender, MotionBuilder and most tools.
- Our joints' rest orientations are the identity (offsets are expressed in the
  world-aligned rest frame), which is exactly BVH's model: world position of a
  joint = parent position + parent global rotation @ OFFSET.
- Joints are written depth-first (BVH's MOTION columns follow the hierarchy's
  text order), so the file's joint order may differ from the skeleton's.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
from scipy.spatial.transform import Rotation

from ..axes import in_file_frame
from ..errors import InputError, OutputError
from ..fileio import atomic_output
from ..motion import Motion, Scene
from ..skeleton import Skeleton, end_site_offset
from . import FORMATS, Format

# Metres per file unit for the unit names we accept.
UNITS = {"cm": 0.01, "m": 1.0}

_ROOT_CHANNELS = "Xposition Yposition Zposition Zrotation Xrotation Yrotation"
_JOINT_CHANNELS = "Zrotation Xrotation Yrotation"
_EULER = "ZXY"  # intrinsic, matches the rotation channel order above


class BvhData(NamedTuple):
    """What :func:`read_bvh` returns (unpacks like a tuple).

    Attributes:
        skeleton: joints in file (depth-first) order; ``rest_offsets`` (J, 3) in
            metres, row 0 is the root's OFFSET.
        fps: frames per second (1 / Frame Time).
        rotations: (T, J, 3, 3) local joint rotations.
        root_positions: (T, 3) root position per frame, metres.
    """

    skeleton: Skeleton
    fps: float
    rotations: np.ndarray
    root_positions: np.ndarray


def depth_first_order(skeleton: Skeleton) -> list[int]:
    """Joint indices in depth-first order from the root(s), children in index order."""
    order: list[int] = []

    def visit(j: int) -> None:
        order.append(j)
        for c in skeleton.children(j):
            visit(c)

    for r in (j for j, p in enumerate(skeleton.parents) if p < 0):
        visit(r)
    return order


def write_bvh(motion: Motion, path: str | Path, units: str = "cm") -> Path:
    """Write one person's motion as a BVH file, atomically.

    Frames are written in order, one per entry of ``motion.times`` at
    ``Frame Time = 1 / motion.fps`` (BVH has no per-frame time stamps).

    Args:
        motion: rotations (T, J, 3, 3) and root translation (T, 3) on a single-rooted skeleton.
        path: output file (``.bvh``).
        units: ``"cm"`` (default) or ``"m"`` for the lengths in the file.

    Returns:
        the written path.
    """
    if units not in UNITS:
        raise OutputError(f"BVH units must be one of {', '.join(UNITS)}, got {units!r}")
    sk = motion.skeleton
    if sum(p < 0 for p in sk.parents) != 1:
        raise OutputError("BVH holds exactly one root joint; this skeleton has several")
    scale = 1.0 / UNITS[units]  # file units per metre
    order = depth_first_order(sk)
    text = _hierarchy_text(sk, order, scale) + _motion_text(motion, order, scale)
    path = Path(path)
    with atomic_output(path) as tmp:
        tmp.write_text(text, encoding="ascii")
    return path


def _hierarchy_text(sk: Skeleton, order: list[int], scale: float) -> str:
    lines = ["HIERARCHY"]
    depth = {}
    # Close braces while walking the depth-first order: after joint j, close every
    # open joint that is not an ancestor of the next one.
    stack: list[int] = []
    for j in order:
        p = sk.parents[j]
        while stack and stack[-1] != p:
            _close(lines, sk, stack.pop(), depth, scale)
        d = len(stack)
        depth[j] = d
        ind = "\t" * d
        lines.append(f"{ind}{'ROOT' if p < 0 else 'JOINT'} {sk.names[j]}")
        lines.append(ind + "{")
        lines.append(f"{ind}\tOFFSET {_fmt(sk.rest_offsets[j] * scale)}")
        channels = _ROOT_CHANNELS if p < 0 else _JOINT_CHANNELS
        lines.append(f"{ind}\tCHANNELS {len(channels.split())} {channels}")
        stack.append(j)
    while stack:
        _close(lines, sk, stack.pop(), depth, scale)
    return "\n".join(lines) + "\n"


def _close(lines: list[str], sk: Skeleton, j: int, depth: dict[int, int], scale: float) -> None:
    ind = "\t" * depth[j]
    if not sk.children(j):
        lines += [f"{ind}\tEnd Site", f"{ind}\t{{", f"{ind}\t\tOFFSET {_fmt(end_site_offset(sk, j) * scale)}", f"{ind}\t}}"]
    lines.append(ind + "}")


def _fmt(v: np.ndarray) -> str:
    return " ".join(f"{x:.6f}" for x in v)


def _motion_text(motion: Motion, order: list[int], scale: float) -> str:
    T = motion.num_frames
    rot = motion.rotations[:, order].reshape(-1, 3, 3)
    with warnings.catch_warnings():
        # At x = ±90° the sequence is degenerate; scipy then sets the last angle
        # to 0 and solves the first, which still reproduces the matrix exactly.
        warnings.filterwarnings("ignore", message="Gimbal lock detected")
        euler = Rotation.from_matrix(rot).as_euler(_EULER, degrees=True).reshape(T, len(order), 3)
    # Remove ±360° jumps between frames so the curves interpolate sensibly in
    # tools that resample them (each frame's rotation is unchanged).
    euler = np.unwrap(euler, period=360.0, axis=0)
    values = np.concatenate([motion.translation * scale, euler.reshape(T, -1)], axis=1)
    body = "\n".join(" ".join(f"{x:.6f}" for x in row) for row in values)
    return f"MOTION\nFrames: {T}\nFrame Time: {1.0 / motion.fps:.12g}\n{body}\n"


# --- reading -----------------------------------------------------------------


def read_bvh(path: str | Path, units: str | float = "cm") -> BvhData:
    """Read a BVH file (any rotation channel order, position channels on the root).

    Position channels on non-root joints are ignored (exporters that write them
    normally repeat the joint's OFFSET).

    Args:
        path: the ``.bvh`` file.
        units: the file's length unit, ``"cm"``, ``"m"``, or metres per file
            unit as a number (e.g. 0.056444 for the CMU database).

    Returns:
        :class:`BvhData` with lengths converted to metres.
    """
    path = Path(path)
    scale = UNITS[units] if isinstance(units, str) else float(units)
    try:
        tokens = path.read_text(encoding="latin-1").split()
    except OSError as exc:
        raise InputError(f"{path}: cannot read BVH ({exc.strerror or exc})") from None
    try:
        return _parse(tokens, scale)
    except (ValueError, IndexError) as exc:
        raise InputError(f"{path}: not a valid BVH file ({exc})") from None


def _parse(tok: list[str], scale: float) -> BvhData:
    if not tok or tok[0].upper() != "HIERARCHY":
        raise ValueError("missing HIERARCHY")
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[list[str]] = []  # per joint, in file order
    stack: list[int] = []  # open joints; -2 marks an End Site block
    i = 1
    while tok[i].upper() != "MOTION":
        t = tok[i].upper()
        if t in ("ROOT", "JOINT"):
            parents.append(stack[-1] if stack else -1)
            names.append(tok[i + 1])
            offsets.append([0.0, 0.0, 0.0])
            channels.append([])
            i += 2
        elif t == "END":  # "End Site"
            stack.append(-2)
            i += 2
            if tok[i] != "{":
                raise ValueError("expected '{' after End Site")
            i += 1
        elif t == "{":
            stack.append(len(names) - 1)
            i += 1
        elif t == "}":
            stack.pop()
            i += 1
        elif t == "OFFSET":
            if stack[-1] != -2:  # End Site offsets only shape the tip; not kept
                offsets[stack[-1]] = [float(v) for v in tok[i + 1 : i + 4]]
            i += 4
        elif t == "CHANNELS":
            n = int(tok[i + 1])
            channels[stack[-1]] = [c.lower() for c in tok[i + 2 : i + 2 + n]]
            i += 2 + n
        else:
            raise ValueError(f"unexpected token {tok[i]!r}")
    if not names:
        raise ValueError("no joints")
    if tok[i + 1].lower() != "frames:" or tok[i + 3].lower() != "frame" or tok[i + 4].lower() != "time:":
        raise ValueError("expected 'Frames:' and 'Frame Time:' after MOTION")
    T, frame_time = int(tok[i + 2]), float(tok[i + 5])
    if T < 0 or not (np.isfinite(frame_time) and frame_time > 0):
        raise ValueError(f"frame count must be >= 0 and frame time positive, got {T} and {frame_time:g}")
    n_ch = sum(len(c) for c in channels)
    data = np.array(tok[i + 6 : i + 6 + T * n_ch], dtype=np.float64)
    if data.size != T * n_ch:
        raise ValueError(f"expected {T} frames of {n_ch} values, found {data.size} values")
    data = data.reshape(T, n_ch)
    if not (np.all(np.isfinite(data)) and np.all(np.isfinite(np.asarray(offsets, dtype=np.float64)))):
        raise ValueError("NaN or Inf in the offsets or the motion")

    J = len(names)
    rotations = np.tile(np.eye(3), (T, J, 1, 1))
    root = np.tile(np.asarray(offsets[0]) * scale, (T, 1))
    col = 0
    for j, chans in enumerate(channels):
        block = data[:, col : col + len(chans)]
        col += len(chans)
        rot_idx = [k for k, c in enumerate(chans) if c.endswith("rotation")]
        if rot_idx:
            seq = "".join(chans[k][0].upper() for k in rot_idx)  # e.g. "ZXY", intrinsic
            rotations[:, j] = Rotation.from_euler(seq, block[:, rot_idx], degrees=True).as_matrix()
        if parents[j] < 0:
            for k, c in enumerate(chans):
                if c.endswith("position"):
                    root[:, "xyz".index(c[0])] = block[:, k] * scale
    skeleton = Skeleton(tuple(names), tuple(parents), np.asarray(offsets) * scale)
    return BvhData(skeleton, 1.0 / frame_time, rotations, root)


def write_bvh_scene(scene: Scene, path: str | Path, up: str = "y", units: str = "cm", meshes=None) -> Path:
    """A scene of one person as BVH (:func:`write_bvh`), turned so that ``up`` is up."""
    if len(scene.motions) > 1:
        raise OutputError(
            f"{path}: BVH holds one person but the scene has {len(scene.motions)} "
            f"(track ids {', '.join(map(str, sorted(scene.motions)))}); use --split for one .bvh per "
            "person, --person to pick one, or .fbx/.glb/.usd/.npz for all of them in one file"
        )
    return write_bvh(in_file_frame(next(iter(scene.motions.values())), up, "m"), path, units=units)


FORMATS.register("bvh", Format((".bvh",), "BVH, one person",
                               write_bvh_scene, default_units="cm", one_person=True))
