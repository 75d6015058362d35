"""Independent readers for exported animation, shared by the export and end-to-end tests.

Each reader returns joint world positions in our engine's frame (Y-up metres)
so they compare directly with :func:`mocap.skeleton.forward_kinematics`:

- :func:`blender_import_fbx` / :func:`blender_import_bvh`: Blender's own
  importers (``bpy``), posed frame by frame.
- :func:`blender_import_gltf` / :func:`blender_import_usd`: Blender's glTF and USD importers.
- :func:`blender_posed_meshes`: skinned meshes of an import, deformed by Blender's armature modifier.
- :func:`usd_skinned_points`: skinned meshes of a USD file, deformed by OpenUSD's UsdSkel.
- :func:`usd_validate`: OpenUSD's validators (``usdchecker``'s checks).
- :func:`assimp_info` / :func:`assimp_animation`: the ``assimp`` command line
  tool (an FBX reader unrelated to Blender), through its JSON dump.
- :func:`gltf_validate`: Khronos' glTF validator (npm ``gltf-validator``, run by node).

``bpy`` is one process-wide session: every Blender reader starts from
``read_factory_settings(use_empty=True)``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest


@dataclass
class ImportedAnimation:
    """One armature as another program sees it.

    Attributes:
        names: (J,) bone / joint names in the importer's order.
        frames: (F,) frame of each key on the importer's timeline (Blender), or
            key time in ticks (assimp).
        fps: frame rate the importer reports (Blender scene rate; assimp ticks/s).
        positions: (F, J, 3) joint world positions, metres, Y-up (our frame).
        object_matrix: (4, 4) the armature object's / node's world matrix.
    """

    names: list[str]
    frames: np.ndarray
    fps: float
    positions: np.ndarray
    object_matrix: np.ndarray

    def of(self, names) -> np.ndarray:
        """(F, len(names), 3) positions reordered to ``names``."""
        idx = [self.names.index(n) for n in names]
        return self.positions[:, idx]


# Blender is Z-up, our engine Y-up: Blender (x, y, z) -> ours (x, z, -y).
ZUP_TO_YUP = np.array([[1.0, 0, 0], [0, 0, 1.0], [0, -1.0, 0]])


# --- Blender ------------------------------------------------------------------


def blender_reset():
    """Empty Blender session; returns the ``bpy`` module."""
    bpy = pytest.importorskip("bpy")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    return bpy


def blender_import_fbx(path) -> dict[str, ImportedAnimation]:
    """Import an FBX with Blender's default options; armature name -> animation,
    sampled at every key of its action."""
    bpy = blender_reset()
    result = bpy.ops.import_scene.fbx(filepath=str(path))
    assert "FINISHED" in result, result
    return _sample_armatures(bpy)


def blender_import_bvh(path, global_scale: float, up: str = "y") -> ImportedAnimation:
    """Import a BVH (``global_scale`` = metres per file unit, ``up`` its up axis) the
    way a user would, taking the file's frame rate; sampled at every key."""
    bpy = blender_reset()
    result = bpy.ops.import_anim.bvh(
        filepath=str(path),
        global_scale=global_scale,
        frame_start=1,
        update_scene_fps=True,
        update_scene_duration=True,
        rotate_mode="NATIVE",
        **({"axis_forward": "-Z", "axis_up": "Y"} if up == "y" else {"axis_forward": "Y", "axis_up": "Z"}),
    )
    assert "FINISHED" in result, result
    (anim,) = _sample_armatures(bpy).values()
    return anim


def blender_import_gltf(path) -> dict[str, ImportedAnimation]:
    """Import a .glb/.gltf with Blender's default options; armature name -> animation, sampled
    at every key (Blender places key times in seconds at its scene rate, 24 fps by default)."""
    bpy = blender_reset()
    result = bpy.ops.import_scene.gltf(filepath=str(path))
    assert "FINISHED" in result, result
    return _sample_armatures(bpy)


def blender_import_usd(path) -> dict[str, ImportedAnimation]:
    """Import a USD file with Blender's default options (unit and up-axis conversion on);
    the armature's parent (the ``SkelRoot``, ``person<ID>``) name -> animation."""
    bpy = blender_reset()
    result = bpy.ops.wm.usd_import(filepath=str(path))
    assert "FINISHED" in result, result
    parents = {o.name: o.parent.name for o in bpy.context.scene.objects if o.type == "ARMATURE"}
    return {parents[name]: anim for name, anim in _sample_armatures(bpy).items()}


def blender_posed_meshes(bpy, frames) -> dict[str, tuple[str, np.ndarray]]:
    """Every mesh object of the session posed by its armature at each Blender frame (F,):
    name -> (its parent's name or "", (F, N, 3) evaluated vertices, world, Y-up metres)."""
    scene = bpy.context.scene
    meshes = [o for o in scene.objects if o.type == "MESH"]
    out = {o.name: (o.parent.name if o.parent else "", []) for o in meshes}
    for f in frames:
        whole = int(np.floor(f))
        scene.frame_set(whole, subframe=float(f - whole))
        depsgraph = bpy.context.evaluated_depsgraph_get()
        for o in meshes:
            evaluated = o.evaluated_get(depsgraph)
            co = np.empty(len(evaluated.data.vertices) * 3)
            evaluated.data.vertices.foreach_get("co", co)
            mw = np.array(evaluated.matrix_world)
            out[o.name][1].append((co.reshape(-1, 3) @ mw[:3, :3].T + mw[:3, 3]) @ ZUP_TO_YUP.T)
    return {name: (parent, np.array(v)) for name, (parent, v) in out.items()}


def usd_skinned_points(path, time_codes) -> dict[str, np.ndarray]:
    """OpenUSD's own skinning (UsdSkel's reference implementation, not Blender's) of every
    skinned mesh in a USD file: SkelRoot name -> (F, V, 3) points at each time code, in
    the file's axes and units (our SkelRoots carry no transform)."""
    from pxr import Usd, UsdGeom, UsdSkel

    stage = Usd.Stage.Open(str(path))
    cache = UsdSkel.Cache()
    out = {}
    for prim in stage.Traverse():
        if not prim.IsA(UsdSkel.Root):
            continue
        root = UsdSkel.Root(prim)
        cache.Populate(root, Usd.PrimDefaultPredicate)
        for binding in cache.ComputeSkelBindings(root, Usd.PrimDefaultPredicate):
            skeleton = cache.GetSkelQuery(binding.GetSkeleton())
            for target in binding.GetSkinningTargets():
                frames = []
                for code in time_codes:
                    t = Usd.TimeCode(float(code))
                    points = UsdGeom.Mesh(target.GetPrim()).GetPointsAttr().Get(t)
                    assert target.ComputeSkinnedPoints(skeleton.ComputeSkinningTransforms(t), points, t)
                    frames.append(np.array(points, dtype=np.float64))
                out[prim.GetName()] = np.array(frames)
    return out


def usd_validate(path) -> list[str]:
    """Errors from OpenUSD's validators (every registered one; what ``usdchecker`` runs)."""
    UsdValidation = pytest.importorskip("pxr.UsdValidation")
    from pxr import Usd

    stage = Usd.Stage.Open(str(path))
    context = UsdValidation.ValidationContext(UsdValidation.ValidationRegistry().GetOrLoadAllValidators())
    return [e.GetErrorAsString() for e in context.Validate(stage)]


def _sample_armatures(bpy) -> dict[str, ImportedAnimation]:
    scene = bpy.context.scene
    fps = scene.render.fps / scene.render.fps_base
    out = {}
    for obj in [o for o in scene.objects if o.type == "ARMATURE"]:
        names = [pb.name for pb in obj.pose.bones]
        channelbag = obj.animation_data.action.layers[0].strips[0].channelbag(obj.animation_data.action_slot)
        # Every F-curve of a baked import has the same keys; take them from the first.
        fc = channelbag.fcurves[0]
        frames = np.empty(2 * len(fc.keyframe_points))
        fc.keyframe_points.foreach_get("co", frames)
        frames = frames[0::2]
        heads = np.empty((len(frames), len(names) * 3))
        for k, f in enumerate(frames):
            whole = int(np.floor(f))
            scene.frame_set(whole, subframe=float(f - whole))
            obj.pose.bones.foreach_get("head", heads[k])  # armature space
        mw = np.array(obj.matrix_world)
        world = heads.reshape(len(frames), len(names), 3) @ mw[:3, :3].T + mw[:3, 3]
        out[obj.name] = ImportedAnimation(names, frames, fps, world @ ZUP_TO_YUP.T, mw)
    return out


# --- Khronos glTF validator ----------------------------------------------------

GLTF_VALIDATOR = Path(__file__).resolve().parents[1] / ".venv/node/node_modules/gltf-validator"


def gltf_validate(path) -> dict:
    """Khronos' validator report on a glTF file: {"numErrors", "numWarnings", "messages": [...]}."""
    node = shutil.which("node")
    if node is None or not GLTF_VALIDATOR.is_dir():
        pytest.skip("node or gltf-validator missing (scripts/install.sh --test installs them)")
    proc = subprocess.run([node, str(Path(__file__).with_name("gltf_validate.js")), str(GLTF_VALIDATOR), str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)["issues"]


# --- assimp -------------------------------------------------------------------


def assimp_exe() -> str:
    exe = shutil.which("assimp")
    if exe is None:
        pytest.skip("the `assimp` command is missing (Debian package assimp-utils)")
    return exe


def assimp_info(path) -> dict:
    """Run ``assimp info`` and parse its summary.

    Returns:
        {"nodes": int, "animations": int, "channels": int, "meshes": int,
        "animation_names": [str], "node_names": [str] (hierarchy, depth-first)}.
    """
    proc = subprocess.run([assimp_exe(), "info", str(path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, f"assimp info failed: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
    text = proc.stdout
    info: dict = {"animation_names": [], "node_names": []}
    section = None
    for line in text.splitlines():
        s = line.strip()
        for key, label in (("nodes", "Nodes:"), ("animations", "Animations:"), ("channels", "Animation Channels:"), ("meshes", "Meshes:")):
            if s.startswith(label) and s.split(":")[1].strip().isdigit():  # not a section header
                info[key] = int(s.split(":")[1])
        if s == "Named Animations:":
            section = "anims"
        elif s == "Node hierarchy:":
            section = "nodes"
        elif section == "anims" and s.startswith("'"):
            info["animation_names"].append(s.strip("'"))
        elif section == "nodes" and s:
            info["node_names"].append(s.lstrip("│├└╴─ "))
    return info


def assimp_animation(path) -> dict[str, ImportedAnimation]:
    """Joint world positions by assimp's own reading of the file.

    Dumps the scene to assimp's JSON, then evaluates node transforms (static
    ``transformation`` or the animation channel's T·R·S at each key time) down
    the node tree. Lengths are taken as stored (assimp does not apply FBX unit
    scale), so they are metres for our FBX files (UnitScaleFactor 100).

    Returns:
        top-level node name (one per armature) -> animation over its subtree,
        ``frames`` = key times in ticks, ``fps`` = ticks per second.
    """
    exe = assimp_exe()
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "scene.json"
        proc = subprocess.run([exe, "export", str(path), str(out), "-fassjson"], capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0 and out.exists(), f"assimp export failed: {proc.stdout[-2000:]}"
        data = json.loads(out.read_text())
    (anim,) = data["animations"]
    channels = {c["name"]: c for c in anim["channels"]}
    ticks = np.unique(np.concatenate([[k[0] for k in c["rotationkeys"]] for c in channels.values()]))

    def local(node) -> np.ndarray:  # (F, 4, 4)
        m = np.tile(np.array(node["transformation"], dtype=np.float64).reshape(4, 4), (len(ticks), 1, 1))
        c = channels.get(node["name"])
        if c is None:
            return m
        rot = _keys_at(c["rotationkeys"], ticks)  # (F, 4) w x y z
        from scipy.spatial.transform import Rotation

        R = Rotation.from_quat(rot[:, [1, 2, 3, 0]]).as_matrix()
        S = _keys_at(c["scalingkeys"], ticks)
        m[:, :3, :3] = R * S[:, None, :]
        m[:, :3, 3] = _keys_at(c["positionkeys"], ticks)
        return m

    out: dict[str, ImportedAnimation] = {}
    root = data["rootnode"]
    root_m = local(root)
    for top in root.get("children", []):
        top_m = root_m @ local(top)
        names, positions = [], []

        def walk(node, parent_m):
            m = parent_m @ local(node)
            names.append(node["name"])
            positions.append(m[:, :3, 3])
            for child in node.get("children", []):
                walk(child, m)

        for child in top.get("children", []):
            walk(child, top_m)
        out[top["name"]] = ImportedAnimation(
            names, ticks, float(anim["tickspersecond"]), np.stack(positions, axis=1), top_m[0]
        )
    return out


def _keys_at(keys, ticks) -> np.ndarray:
    """(F, D) key values at the given times (the key at or before each time)."""
    times = np.array([k[0] for k in keys])
    values = np.array([k[1] for k in keys], dtype=np.float64)
    idx = np.clip(np.searchsorted(times, ticks + 1e-6, side="right") - 1, 0, len(times) - 1)
    return values[idx]
