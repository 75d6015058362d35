"""OpenUSD writer (``.usda`` text, ``.usdc`` binary, ``.usd`` binary) through ``usd-core``: UsdSkel.

Layout: ``/Mocap`` (the default prim, an ``Xform``) holds one ``SkelRoot`` per
person, ``/Mocap/person<ID>``, with its ``Skeleton`` (``.../Skeleton``) and the
``SkelAnimation`` (``.../Skeleton/Animation``) the skeleton binds through
``skel:animationSource``.

- Joints are paths of prim-name-safe tokens (``pelvis/left_hip/left_knee``): a
  name with characters a USD prim name cannot hold (``mixamorig:Hips``,
  ``spine.001``) has them replaced by ``_``; the original names are in the
  skeleton's ``jointNames``.
- ``restTransforms`` are local (translation = rest offset), ``bindTransforms``
  world-space rest matrices (row-vector convention, translation in the last row);
  joints are oriented as the skeleton's ``rest_frames`` say (a character's bone
  rolls), else world-aligned, and the animation's rotations are in those frames.
- The animation samples every joint's rotation (quatf), translation (float3) and
  scale (half3, all 1) at time code ``round(time * fps)``: ``timeCodesPerSecond =
  framesPerSecond = fps``, so time code / fps is the video time.
- The stage's ``upAxis`` and ``metersPerUnit`` state the file's frame; lengths are
  written in it (see :func:`mocap.axes.in_file_frame`).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..axes import UNIT_NAMES, basis, in_file_frame
from ..errors import OutputError
from ..fileio import atomic_output
from ..motion import Scene
from ..skeleton import in_joint_frames
from . import FORMATS, Format


def joint_tokens(names, parents) -> list[str]:
    """(J,) UsdSkel joint paths (``root/child/...``) from joint names and parents,
    each name made a valid prim name (unique among its siblings)."""
    safe: list[str] = []
    paths: list[str] = []
    for j, (name, p) in enumerate(zip(names, parents)):
        token = re.sub(r"[^A-Za-z0-9_]", "_", name) or "joint"
        if token[0].isdigit():
            token = "_" + token
        siblings = {safe[k] for k in range(j) if parents[k] == p}
        base, n = token, 1
        while token in siblings:
            token, n = f"{base}_{n}", n + 1
        safe.append(token)
        paths.append(token if p < 0 else f"{paths[p]}/{token}")
    return paths


def write_usd(scene: Scene, path: str | Path, up: str = "y", units: str = "m", meshes: dict | None = None) -> Path:
    """Write every person of ``scene`` to a USD file, atomically.

    Args:
        scene: motions (all at one fps): rotations (T, J, 3, 3), translation (T, 3), times (T,).
        path: ``.usda``, ``.usdc`` or ``.usd`` (binary).
        up: "y" or "z", the stage's ``upAxis``.
        units: "m" or "cm" (``metersPerUnit`` 1 or 0.01).
        meshes: track id -> :class:`mocap.body_model.BodyMesh` on that person's skeleton
            (our frame): a skinned ``Mesh`` ``/Mocap/person<ID>/Body`` (see :func:`add_body`).
    """
    from pxr import Sdf, Usd, UsdGeom, UsdSkel, Vt

    from ..rotations import continuous_quaternions

    path = Path(path)
    rates = {float(m.fps) for m in scene.motions.values()}
    if len(rates) != 1:
        raise OutputError(f"people have different frame rates ({sorted(rates)}); one USD stage needs one")
    fps = rates.pop()
    with atomic_output(path) as tmp:
        args = {"format": "usdc"} if path.suffix.lower() == ".usd" else {}  # .usd: binary
        layer = Sdf.Layer.CreateNew(str(tmp), args=args)
        if layer is None:
            raise OutputError(f"{path}: USD could not create the file")
        stage = Usd.Stage.Open(layer)
        UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y if up == "y" else UsdGeom.Tokens.z)
        UsdGeom.SetStageMetersPerUnit(stage, UNIT_NAMES[units])
        stage.SetTimeCodesPerSecond(fps)
        stage.SetFramesPerSecond(fps)
        root = UsdGeom.Xform.Define(stage, "/Mocap")
        stage.SetDefaultPrim(root.GetPrim())
        first, last = [], []
        for tid in sorted(scene.motions):
            motion = in_file_frame(scene.motions[tid], up, units)
            sk = motion.skeleton
            codes = np.rint(motion.times * fps)
            if np.any(np.diff(codes) <= 0):
                raise OutputError(f"person {tid}: frame times are not increasing by at least a frame")
            first.append(codes[0])
            last.append(codes[-1])
            skel_root = UsdSkel.Root.Define(stage, f"/Mocap/person{tid}")
            skeleton = UsdSkel.Skeleton.Define(stage, skel_root.GetPath().AppendChild("Skeleton"))
            tokens = joint_tokens(sk.names, sk.parents)
            skeleton.CreateJointsAttr(Vt.TokenArray(tokens))
            skeleton.CreateJointNamesAttr(Vt.TokenArray(list(sk.names)))
            # Joint orientations in the skeleton's own rest frames (world-aligned unless a
            # character file gave them).
            rest_local, offsets = in_joint_frames(np.broadcast_to(np.eye(3), (1, sk.num_joints, 3, 3)), sk)
            frames = np.tile(np.eye(3), (sk.num_joints, 1, 1)) if sk.rest_frames is None else sk.rest_frames
            skeleton.CreateRestTransformsAttr(_matrices(rest_local[0], offsets))
            skeleton.CreateBindTransformsAttr(_matrices(frames, sk.rest_positions()))

            anim = UsdSkel.Animation.Define(stage, skeleton.GetPath().AppendChild("Animation"))
            anim.CreateJointsAttr(Vt.TokenArray(tokens))
            rot_attr, trans_attr = anim.CreateRotationsAttr(), anim.CreateTranslationsAttr()
            anim.CreateScalesAttr(Vt.Vec3hArray.FromNumpy(np.ones((sk.num_joints, 3), dtype=np.float16)))
            # GfQuatf is laid out (x, y, z, w) in memory: imaginary part, then real.
            xyzw = continuous_quaternions(in_joint_frames(motion.rotations, sk)[0]).astype(np.float32)  # (T, J, 4)
            local_t = np.broadcast_to(offsets, (motion.num_frames, sk.num_joints, 3)).copy()
            local_t[:, 0] = motion.translation  # the root's offset is its position
            local_t = local_t.astype(np.float32)
            for k, code in enumerate(codes):
                time = Usd.TimeCode(float(code))
                rot_attr.Set(Vt.QuatfArray.FromNumpy(xyzw[k]), time)
                trans_attr.Set(Vt.Vec3fArray.FromNumpy(local_t[k]), time)
            binding = UsdSkel.BindingAPI.Apply(skeleton.GetPrim())
            binding.CreateAnimationSourceRel().SetTargets([anim.GetPath()])
            UsdSkel.BindingAPI.Apply(skel_root.GetPrim()).CreateSkeletonRel().SetTargets([skeleton.GetPath()])
            if (meshes or {}).get(tid) is not None:
                add_body(stage, skel_root, skeleton, meshes[tid], up, units)
        stage.SetStartTimeCode(float(min(first)))
        stage.SetEndTimeCode(float(max(last)))
        stage.GetRootLayer().documentation = f"mocap: {scene.source}" if scene.source else "mocap"
        layer.Save()
    return path


def _matrices(rotations: np.ndarray, translations: np.ndarray):
    """A ``VtMatrix4dArray`` of (J, 3, 3) rotations and (J, 3) translations (USD's row-vector
    matrices: the rotation transposed, the translation in the last row)."""
    from pxr import Vt

    m = np.tile(np.eye(4), (len(rotations), 1, 1))
    m[:, :3, :3] = np.swapaxes(rotations, 1, 2)
    m[:, 3, :3] = translations
    return Vt.Matrix4dArray.FromNumpy(m)


def add_body(stage, skel_root, skeleton, mesh, up: str = "y", units: str = "m"):
    """``mesh`` (a :class:`mocap.body_model.BodyMesh` in our frame, rest pose) as a ``Mesh``
    ``Body`` under ``skel_root``, bound to ``skeleton``: ``primvars:skel:jointIndices`` /
    ``jointWeights`` with 4 influences a vertex (indices into the skeleton's joints), an
    identity ``geomBindTransform`` (the points are in the skeleton's bind space already)."""
    from pxr import Gf, UsdGeom, UsdSkel, Vt

    C, s = basis(up, units)
    points = (s * mesh.vertices @ C.T).astype(np.float32)
    geom = UsdGeom.Mesh.Define(stage, skel_root.GetPath().AppendChild("Body"))
    geom.CreatePointsAttr(Vt.Vec3fArray.FromNumpy(points))
    geom.CreateFaceVertexCountsAttr(Vt.IntArray.FromNumpy(np.full(len(mesh.faces), 3, dtype=np.int32)))
    geom.CreateFaceVertexIndicesAttr(Vt.IntArray.FromNumpy(mesh.faces.reshape(-1).astype(np.int32)))
    geom.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)  # a polygon body, not a subdivision cage
    geom.CreateExtentAttr(Vt.Vec3fArray([Gf.Vec3f(*map(float, points.min(0))), Gf.Vec3f(*map(float, points.max(0)))]))
    binding = UsdSkel.BindingAPI.Apply(geom.GetPrim())
    binding.CreateSkeletonRel().SetTargets([skeleton.GetPath()])
    k = mesh.joints.shape[1]
    binding.CreateJointIndicesPrimvar(False, k).Set(Vt.IntArray.FromNumpy(mesh.joints.reshape(-1).astype(np.int32)))
    binding.CreateJointWeightsPrimvar(False, k).Set(Vt.FloatArray.FromNumpy(mesh.weights.reshape(-1).astype(np.float32)))
    binding.CreateGeomBindTransformAttr(Gf.Matrix4d(1.0))
    return geom


FORMATS.register("usd", Format((".usd", ".usda", ".usdc"), "OpenUSD, UsdSkel",
                               lambda scene, path, up, units, meshes: write_usd(scene, path, up=up, units=units,
                                                                                meshes=meshes),
                               meshes=True))
