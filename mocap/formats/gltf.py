"""glTF 2.0 writer (``.glb`` binary, or ``.gltf`` with the buffer embedded) through pygltflib.

Each person is a node ``person<ID>`` holding their joint nodes (``person<ID>:pelvis``, ...),
a skin over those joints with inverse bind matrices, and channels in one animation
``mocap``: every joint's rotation, the root joint's translation. glTF's own
conventions are ours: Y-up, metres, seconds, quaternions (x, y, z, w). Key times
are the video's (seconds from its start); glTF allows no negative time, so a
reference-pose frame before a motion that starts at 0 s moves every key one
frame later.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from ..fileio import atomic_output
from ..motion import Scene
from ..skeleton import in_joint_frames
from . import FORMATS, Format

FLOAT, UNSIGNED_SHORT, UNSIGNED_INT = 5126, 5123, 5125  # glTF componentType codes
ARRAY_BUFFER, ELEMENT_ARRAY_BUFFER = 34962, 34963  # bufferView targets


def write_gltf(scene: Scene, path: str | Path, meshes: dict | None = None) -> None:
    """Write every person of ``scene`` to ``path`` (``.glb`` or ``.gltf``), atomically.

    Args:
        meshes: track id -> :class:`mocap.body_model.BodyMesh` in that person's
            skeleton frame: a skinned body, a root node ``person<ID>_body``.
    """
    import pygltflib as gl

    from ..rotations import continuous_quaternions

    path = Path(path)
    blob = bytearray()
    doc = gl.GLTF2(asset=gl.Asset(generator="mocap", version="2.0"), scene=0)
    animation = gl.Animation(name="mocap")

    def accessor(data: np.ndarray, kind: str, bounds: bool = False, component: int = FLOAT,
                 target: int | None = None) -> int:
        dtype = {FLOAT: np.float32, UNSIGNED_SHORT: np.uint16, UNSIGNED_INT: np.uint32}[component]
        data = np.ascontiguousarray(data, dtype=dtype)
        while len(blob) % 4:
            blob.append(0)
        doc.bufferViews.append(gl.BufferView(buffer=0, byteOffset=len(blob), byteLength=data.nbytes, target=target))
        blob.extend(data.tobytes())
        rows = data.reshape(len(data), -1) if kind != "SCALAR" or data.ndim > 1 else data[:, None]
        extra = {"min": rows.min(axis=0).tolist(), "max": rows.max(axis=0).tolist()} if bounds else {}
        doc.accessors.append(gl.Accessor(bufferView=len(doc.bufferViews) - 1, componentType=component,
                                         count=len(rows), type=kind, **extra))
        return len(doc.accessors) - 1

    roots = []
    shift = max(0.0, -min(float(m.times[0]) for m in scene.motions.values()))
    for tid in sorted(scene.motions):
        motion = scene.motions[tid]
        sk = motion.skeleton
        first = len(doc.nodes)  # joint j is node first + 1 + j; the person's node comes first
        doc.nodes.append(gl.Node(name=f"person{tid}", children=[first + 1]))
        roots.append(first)
        # Joint orientations in the skeleton's own rest frames (world-aligned unless a
        # character file gave them): node rotations at rest, then animated.
        rest_local, offsets = in_joint_frames(np.broadcast_to(np.eye(3), (1, sk.num_joints, 3, 3)), sk)
        for j, name in enumerate(sk.names):
            children = [first + 1 + c for c in sk.children(j)]
            turned = not np.allclose(rest_local[0, j], np.eye(3), atol=1e-12)
            rotation = Rotation.from_matrix(rest_local[0, j]).as_quat().tolist() if turned else None
            doc.nodes.append(gl.Node(name=f"person{tid}:{name}", translation=offsets[j].tolist(),
                                     rotation=rotation, children=children or None))
        bind = np.tile(np.eye(4), (sk.num_joints, 1, 1))  # each joint's rest frame in the world
        bind[:, :3, 3] = sk.rest_positions()
        if sk.rest_frames is not None:
            bind[:, :3, :3] = sk.rest_frames
        inverse_bind = np.linalg.inv(bind)
        doc.skins.append(gl.Skin(name=f"person{tid}", skeleton=first + 1,
                                 joints=list(range(first + 1, first + 1 + sk.num_joints)),
                                 inverseBindMatrices=accessor(np.swapaxes(inverse_bind, 1, 2), "MAT4")))
        # Times in seconds; glTF wants them increasing, which a motion's are.
        times = accessor(motion.times[:, None] + shift, "SCALAR", bounds=True)
        q = continuous_quaternions(in_joint_frames(motion.rotations, sk)[0])  # (T, J, 4) x, y, z, w
        for j in range(sk.num_joints):
            _channel(doc, animation, gl, times, accessor(q[:, j], "VEC4"), first + 1 + j, "rotation")
        _channel(doc, animation, gl, times, accessor(motion.translation, "VEC3"), first + 1, "translation")
        mesh = (meshes or {}).get(tid)
        if mesh is not None:
            weights = mesh.weights.astype(np.float32)
            weights /= weights.sum(axis=1, keepdims=True)
            joints = np.where(weights > 0, mesh.joints, 0)  # unused slots point at joint 0
            primitive = gl.Primitive(
                attributes=gl.Attributes(
                    POSITION=accessor(mesh.vertices, "VEC3", bounds=True, target=ARRAY_BUFFER),
                    JOINTS_0=accessor(joints, "VEC4", component=UNSIGNED_SHORT, target=ARRAY_BUFFER),
                    WEIGHTS_0=accessor(weights, "VEC4", target=ARRAY_BUFFER)),
                indices=accessor(mesh.faces.reshape(-1), "SCALAR", component=UNSIGNED_INT,
                                 target=ELEMENT_ARRAY_BUFFER))
            doc.meshes.append(gl.Mesh(name=f"person{tid}_body", primitives=[primitive]))
            roots.append(len(doc.nodes))
            doc.nodes.append(gl.Node(name=f"person{tid}_body", mesh=len(doc.meshes) - 1, skin=len(doc.skins) - 1))
    doc.scenes.append(gl.Scene(name=scene.source or "mocap", nodes=roots))
    doc.animations.append(animation)
    doc.buffers.append(gl.Buffer(byteLength=len(blob)))
    doc.set_binary_blob(bytes(blob))
    with atomic_output(path) as tmp:
        if path.suffix.lower() == ".glb":
            doc.save_binary(str(tmp))
        else:
            doc.convert_buffers(gl.BufferFormat.DATAURI)  # one self-contained file
            doc.save_json(str(tmp))


def _channel(doc, animation, gl, times: int, values: int, node: int, path: str) -> None:
    animation.samplers.append(gl.AnimationSampler(input=times, output=values, interpolation="LINEAR"))
    animation.channels.append(gl.AnimationChannel(sampler=len(animation.samplers) - 1,
                                                  target=gl.AnimationChannelTarget(node=node, path=path)))


FORMATS.register("gltf", Format((".glb", ".gltf"), "glTF 2.0, Y-up metres",
                                lambda scene, path, up, units, meshes: write_gltf(scene, path, meshes),
                                meshes=True, fixed_frame=True))
