"""Rigs: a skeleton plus which SMPL joint drives each of its joints.

The built-in rigs are JSON files in this folder (``smpl``, ``mixamo``, ``ue5``,
``rigify``), readable and copyable: a user's own rig can be such a file too, or
the skeleton of a character file (``.fbx``, ``.glb``/``.gltf``, ``.bvh``), whose
bones are mapped to SMPL's joints by their names (:func:`map_to_smpl`) unless a
mapping file says otherwise (:func:`apply_mapping`).

Conventions: metres, Y up, in the rest pose the character faces +Z and its
left side is +X (see :mod:`mocap.skeleton`). Rest orientations of a file's bones
are not kept: every joint frame is world-aligned in the rest pose.
"""

from __future__ import annotations

import functools
import json
import re
import warnings
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Callable

import numpy as np

from ..errors import InputError
from ..registry import Registry
from ..skeleton import SMPL_JOINT_NAMES, Skeleton, rest_offsets

RIG_FILE_SUFFIXES: tuple[str, ...] = (".json", ".fbx", ".glb", ".gltf", ".bvh")


@dataclass(frozen=True)
class Rig:
    """A target skeleton for retargeting.

    Attributes:
        name: the rig's name (a built-in name or the file's stem).
        skeleton: names, parents, rest offsets (J, 3) metres.
        smpl: (J,) the SMPL joint name driving each joint, or None where the
            joint keeps its rest pose relative to its parent.
        rest_pose: "T", "A" or "" (unknown): the arms in the rest pose.
    """

    name: str
    skeleton: Skeleton
    smpl: tuple[str | None, ...]
    rest_pose: str = ""

    def index_of(self, smpl_name: str) -> int | None:
        """The joint driven by SMPL joint ``smpl_name``, or None."""
        return self.smpl.index(smpl_name) if smpl_name in self.smpl else None


def smpl_rig(skeleton: Skeleton) -> Rig:
    """The identity rig of an SMPL-24 skeleton (e.g. one shaped by a person's betas)."""
    return Rig("smpl", skeleton, tuple(skeleton.names), "T")


def builtin_rig(name: str) -> Rig:
    """One of the rigs in :data:`RIGS` (``--rig``), by name."""
    if name not in RIGS:
        raise InputError(f"unknown rig {name!r}; built-in rigs: {', '.join(RIGS)} (or give --rig-file)")
    return RIGS.get(name)()


@functools.lru_cache(maxsize=None)
def _builtin_doc(name: str) -> dict:
    return json.loads(resources.files(__package__).joinpath(f"{name}.json").read_text(encoding="utf-8"))


def _json_rig(name: str) -> Callable[[], Rig]:
    return lambda: rig_from_json(_builtin_doc(name), name)


# The rigs `--rig` names: name -> a function giving the Rig. The built-in ones are data files
# here (``<name>.json``); a plug-in rig registers its own.
RIGS: Registry[Callable[[], Rig]] = Registry("rig", "--rig")
for _name in ("smpl", "mixamo", "ue5", "rigify"):
    RIGS.register(_name, _json_rig(_name))


def __getattr__(name: str):
    if name == "BUILTIN_RIGS":  # the names in RIGS, read when asked (a rig registered later is included)
        return RIGS.names()
    raise AttributeError(name)


def load_rig(spec: str | Path, mapping: str | Path | None = None) -> Rig:
    """A built-in rig by name, or a rig read from a file, with an optional mapping file.

    Args:
        spec: ``smpl``/``mixamo``/``ue5``/``rigify``, or a path ending in one of
            :data:`RIG_FILE_SUFFIXES`.
        mapping: a JSON file ``{"bone name": "smpl joint name" or null, ...}``
            overriding the automatic mapping of those bones.

    Raises:
        InputError: unknown name, unreadable or malformed file, bad mapping.
    """
    if str(spec) in RIGS:
        rig = builtin_rig(str(spec))
    else:
        path = Path(spec)
        suffix = path.suffix.lower()
        if suffix not in RIG_FILE_SUFFIXES:
            raise InputError(f"{path}: a rig file must be one of {', '.join(RIG_FILE_SUFFIXES)}")
        if not path.is_file():
            raise InputError(f"{path}: rig file not found")
        rig = _READERS[suffix](path)
    if mapping is not None:
        rig = apply_mapping(rig, read_mapping(mapping))
    try:
        check_mapping(rig)
    except InputError as exc:
        if str(spec) in RIGS:
            raise
        raise InputError(f"{spec}: {exc}") from None  # name the file
    return rig


# --- JSON ----------------------------------------------------------------------


def rig_from_json(doc: object, name: str) -> Rig:
    """A rig from the parsed JSON of a rig file (see ``mixamo.json`` for the layout)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("joints"), list) or not doc["joints"]:
        raise ValueError('expected an object with a non-empty "joints" list')
    names, parents, offsets, smpl, rotations = [], [], [], [], []
    for i, joint in enumerate(doc["joints"]):
        if not isinstance(joint, dict) or not isinstance(joint.get("name"), str) or not joint["name"]:
            raise ValueError(f"joint {i}: needs a non-empty string \"name\"")
        jname = joint["name"]
        if jname in names:
            raise ValueError(f"joint {jname!r} appears twice")
        parent = joint.get("parent")
        if parent is not None and parent not in names:
            raise ValueError(f"joint {jname!r}: parent {parent!r} must be a joint listed before it")
        offset = joint.get("offset")
        if (not isinstance(offset, list) or len(offset) != 3
                or not all(isinstance(v, (int, float)) and np.isfinite(v) for v in offset)):
            raise ValueError(f"joint {jname!r}: \"offset\" must be three finite numbers (metres)")
        driver = joint.get("smpl")
        if driver is not None and driver not in SMPL_JOINT_NAMES:
            raise ValueError(f"joint {jname!r}: {driver!r} is not an SMPL joint name")
        rotation = joint.get("rotation", [0.0, 0.0, 0.0, 1.0])
        if (not isinstance(rotation, list) or len(rotation) != 4
                or not all(isinstance(v, (int, float)) and np.isfinite(v) for v in rotation)
                or not 0.5 < np.linalg.norm(rotation) < 2):
            raise ValueError(f"joint {jname!r}: \"rotation\" must be a quaternion [x, y, z, w] (the joint's axes)")
        names.append(jname)
        parents.append(-1 if parent is None else names.index(parent))
        offsets.append([float(v) for v in offset])
        smpl.append(driver)
        rotations.append(rotation)
    from scipy.spatial.transform import Rotation

    frames = Rotation.from_quat(rotations).as_matrix()
    frames = None if np.allclose(frames, np.eye(3), atol=1e-12) else frames
    skeleton = Skeleton(tuple(names), tuple(parents), np.array(offsets), frames)
    if not any("smpl" in joint for joint in doc["joints"]):  # no mapping given: by names, as a character file
        smpl = list(map_to_smpl(skeleton.names, skeleton.parents))
    return Rig(str(doc.get("name", name)), skeleton, tuple(smpl), str(doc.get("rest_pose", "")))


def _read_json_rig(path: Path) -> Rig:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        return rig_from_json(doc, path.stem)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read rig file ({exc})") from None
    except ValueError as exc:  # json.JSONDecodeError is a ValueError
        raise InputError(f"{path}: not a valid rig file ({exc})") from None


# --- skeletons of character files -------------------------------------------------


def rig_from_joints(name: str, names: list[str], parents: list[int], positions: np.ndarray,
                    frames: np.ndarray | None = None) -> Rig:
    """A rig from joint names, parents, (J, 3) rest positions (metres, our axes) and
    optionally (J, 3, 3) the joints' rest axes (bone orientations), mapped to SMPL by name."""
    if sum(p < 0 for p in parents) != 1:
        raise ValueError(f"expected one root joint, found {sum(p < 0 for p in parents)}")
    skeleton = Skeleton(tuple(names), tuple(parents), rest_offsets(parents, positions), frames)
    return Rig(name, skeleton, map_to_smpl(skeleton.names, skeleton.parents))


def _read_bvh_rig(path: Path) -> Rig:
    from ..formats.bvh import read_bvh

    data = read_bvh(path, units=1.0)
    pos = data.skeleton.rest_positions()
    height = float(np.ptp(pos[:, 1])) if len(pos) > 1 else 0.0
    # BVH states no unit: a skeleton taller than 3 units is taken to be in centimetres.
    scale = 0.01 if height > 3.0 else 1.0
    try:
        return rig_from_joints(path.stem, list(data.skeleton.names), list(data.skeleton.parents), pos * scale)
    except ValueError as exc:
        raise InputError(f"{path}: not a usable rig ({exc})") from None


def _read_gltf_rig(path: Path) -> Rig:
    import pygltflib as gl
    from scipy.spatial.transform import Rotation

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pygltflib warns before failing on non-glTF bytes
            doc = gl.GLTF2().load(str(path))
    except Exception as exc:  # pygltflib raises bare exceptions of many kinds on bad files
        raise InputError(f"{path}: not a readable glTF file ({type(exc).__name__})") from None
    if doc is None or not doc.nodes:
        raise InputError(f"{path}: the glTF file has no nodes")
    n = len(doc.nodes)
    parent = [-1] * n
    for i, node in enumerate(doc.nodes):
        for c in node.children or []:
            if not 0 <= c < n or parent[c] >= 0:
                raise InputError(f"{path}: node {i} has a bad child index {c}")
            parent[c] = i

    def local(node) -> np.ndarray:
        m = np.eye(4)
        if node.matrix:
            return np.array(node.matrix, dtype=np.float64).reshape(4, 4).T  # column-major
        if node.rotation:
            m[:3, :3] = Rotation.from_quat(node.rotation).as_matrix()
        if node.scale:
            m[:3, :3] = m[:3, :3] * np.array(node.scale)
        if node.translation:
            m[:3, 3] = node.translation
        return m

    world: dict[int, np.ndarray] = {}

    def world_of(i: int) -> np.ndarray:
        if i not in world:
            world[i] = local(doc.nodes[i]) if parent[i] < 0 else world_of(parent[i]) @ local(doc.nodes[i])
        return world[i]

    joints = list(doc.skins[0].joints) if doc.skins else list(range(n))
    order = sorted(joints, key=lambda i: _depth(i, parent))  # parents before children
    index = {node: k for k, node in enumerate(order)}
    names, parents, positions = [], [], []
    for node in order:
        a = parent[node]
        while a >= 0 and a not in index:
            a = parent[a]
        names.append(doc.nodes[node].name or f"joint{node}")
        parents.append(index[a] if a >= 0 else -1)
        positions.append(world_of(node)[:3, 3])
    frames = _rotations([world_of(node)[:3, :3] for node in order])
    try:
        return rig_from_joints(path.stem, names, parents, np.array(positions), frames)
    except ValueError as exc:
        raise InputError(f"{path}: not a usable rig ({exc})") from None


def _rotations(matrices) -> np.ndarray | None:
    """(J, 3, 3) the rotations of (J, 3, 3) node matrices (a uniform scale divided out; the
    nearest rotation of a sheared one), or None when every one is the identity."""
    U, _, Vt = np.linalg.svd(np.asarray(matrices, dtype=np.float64))
    R = U @ Vt
    R[np.linalg.det(R) < 0] *= -1  # a mirrored node: keep a rotation (axes may flip, positions do not)
    return None if np.allclose(R, np.eye(3), atol=1e-9) else R


def _depth(i: int, parent: list[int]) -> int:
    d = 0
    while parent[i] >= 0:
        i, d = parent[i], d + 1
    return d


def _read_fbx_rig(path: Path) -> Rig:
    import contextlib
    import io

    import bpy

    from ..axes import C_YUP_TO_ZUP

    if not bpy.app.background:
        raise InputError("reading an FBX rig resets Blender's session; run it from the command line")
    bpy.ops.wm.read_factory_settings(use_empty=True)
    try:  # the importer prints progress, and its operator reports failures with a traceback
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            bpy.ops.import_scene.fbx(filepath=str(path))
    except Exception as exc:  # Blender's importer raises RuntimeError and others on bad files
        raise InputError(f"{path}: not a readable FBX file ({str(exc).strip().splitlines()[-1][:160]})") from None
    armatures = [o for o in bpy.context.scene.objects if o.type == "ARMATURE"]
    if not armatures:
        raise InputError(f"{path}: the FBX file has no skeleton (armature)")
    obj = max(armatures, key=lambda o: len(o.data.bones))
    bones = list(obj.data.bones)
    index = {b.name: k for k, b in enumerate(bones)}
    to_ours = C_YUP_TO_ZUP.T  # Blender's Z-up -> our Y-up
    m = np.array(obj.matrix_world)
    positions = np.array([to_ours @ (m[:3, :3] @ np.array(b.head_local) + m[:3, 3]) for b in bones])
    parents = [index[b.parent.name] if b.parent else -1 for b in bones]
    # Each bone's axes (Blender's: Y along the bone, X and Z from its roll), in our frame.
    frames = _rotations([to_ours @ m[:3, :3] @ np.array(b.matrix_local)[:3, :3] for b in bones])
    try:
        return rig_from_joints(path.stem, [b.name for b in bones], parents, positions, frames)
    except ValueError as exc:
        raise InputError(f"{path}: not a usable rig ({exc})") from None


_READERS = {".json": _read_json_rig, ".bvh": _read_bvh_rig, ".glb": _read_gltf_rig, ".gltf": _read_gltf_rig,
            ".fbx": _read_fbx_rig}


# --- mapping bones to SMPL joints --------------------------------------------------


def _plain(name: str) -> str:
    """A bone name without namespace (``mixamorig:``) or Rigify layer prefix (``DEF-``), lower case."""
    name = name.rsplit(":", 1)[-1].rsplit("|", 1)[-1]
    return re.sub(r"^(def|org|mch)[-_]", "", name.lower())


# "left"/"right" starting or ending a word, or "l"/"r" standing alone: LeftArm, arm_left, Bip01 L Thigh, hand.R
_SIDE = re.compile(r"(?<![a-z])(left|right)|(left|right)(?![a-z])|(?<![a-z])(l|r)(?![a-z])")

# Per SMPL limb joint (without side), the name parts that mean it, tried in this order
# (a name is tested against every part of the first entry before the next entry).
_LIMB_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("hand", ("handmiddle1", "middle_01", "middle1", "f_middle.01")),
    ("foot", ("toebase", "toe", "ball")),
    ("hip", ("upleg", "upperleg", "thigh", "hip")),
    ("knee", ("lowerleg", "calf", "shin", "knee", "leg")),
    ("ankle", ("ankle", "foot")),
    ("elbow", ("forearm", "lowerarm", "elbow")),
    ("shoulder", ("upperarm", "upper_arm", "arm")),
    ("collar", ("clavicle", "collar", "shoulder")),
    ("wrist", ("wrist", "hand")),
)
_SKIP_TOKENS = {"end", "ik", "pole", "target", "ctrl", "control"}  # helper bones, not joints
_SKIP_PARTS = ("twist", "roll", "index", "thumb", "ring", "pinky", "metacarpal", "nub")


def map_to_smpl(names: tuple[str, ...], parents: tuple[int, ...]) -> tuple[str | None, ...]:
    """The SMPL joint driving each bone, from the bones' names.

    A skeleton named like a built-in rig (Mixamo's, UE5's, Rigify's, SMPL's;
    namespaces such as ``mixamorig1:`` and Rigify's ``DEF-`` ignored) takes that
    rig's mapping. Otherwise limb bones are recognised by side (left/right, L/R)
    and words (thigh/upleg, calf/shin/leg, foot, toe, clavicle, upperarm/arm,
    forearm, hand), the spine chain between the pelvis and the neck is spread over
    SMPL's three spine joints. Each SMPL joint drives at most one bone (the one
    nearest the root). Unmapped bones keep their rest pose relative to their parent.
    """
    plain = [_plain(n) for n in names]
    best, best_hits = None, 0
    for rig_name in RIGS:
        rig = builtin_rig(rig_name)
        table = {_plain(n): s for n, s in zip(rig.skeleton.names, rig.smpl) if s}
        hits = sum(p in table for p in plain)
        if hits > best_hits:
            best, best_hits = table, hits
    if best is not None and best_hits >= 10:
        return _first_only([best.get(p) for p in plain])
    return _first_only(_map_by_words(plain, parents))


def _map_by_words(plain: list[str], parents: tuple[int, ...]) -> list[str | None]:
    out: list[str | None] = [None] * len(plain)
    for j, name in enumerate(plain):
        m = _SIDE.search(name)
        core = _SIDE.sub("", name) if m else name
        if _SKIP_TOKENS & set(re.split(r"[^a-z]+", name)) or any(w in core for w in _SKIP_PARTS):
            continue
        if m:
            side = "left" if (m.group(1) or m.group(2) or m.group(3))[0] == "l" else "right"
            for joint, words in _LIMB_WORDS:
                if any(w in core for w in words):
                    out[j] = f"{side}_{joint}"
                    break
        elif "hips" in core or "pelvis" in core:
            out[j] = "pelvis"
        elif "neck" in core:
            out[j] = "neck"
        elif "head" in core:
            out[j] = "head"
    # A rig with no upper-arm bone by name calls it the shoulder: the "collar" whose child is the elbow.
    for side in ("left", "right"):
        collar, elbow = f"{side}_collar", f"{side}_elbow"
        if f"{side}_shoulder" not in out and collar in out and elbow in out:
            if parents[out.index(elbow)] == out.index(collar):
                out[out.index(collar)] = f"{side}_shoulder"
    # The spine: joints between the pelvis and the neck (or the collars' parent).
    if "pelvis" in out:
        pelvis = out.index("pelvis")
        top = out.index("neck") if "neck" in out else None
        if top is None:
            collars = [j for j, s in enumerate(out) if s and s.endswith("_collar")]
            top = collars[0] if collars else None
        if top is not None:
            chain = []
            j = parents[top]
            while j >= 0 and j != pelvis:
                chain.append(j)
                j = parents[j]
            if j == pelvis and chain:
                chain.reverse()
                picks = {0: "spine1", len(chain) - 1: "spine3"}
                if len(chain) >= 3:
                    picks[len(chain) // 2] = "spine2"
                for k, joint in picks.items():
                    out[chain[k]] = joint
    return out


def _first_only(mapping: list[str | None]) -> tuple[str | None, ...]:
    seen: set[str] = set()
    out = []
    for s in mapping:
        out.append(s if s and s not in seen else None)
        if s:
            seen.add(s)
    return tuple(out)


def read_mapping(path: str | Path) -> dict[str, str | None]:
    """A mapping file: a JSON object ``{"bone name": "smpl joint name" or null}``."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: mapping file not found") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{path}: not a JSON mapping file ({str(exc).splitlines()[0]})") from None
    if not isinstance(doc, dict) or not all(isinstance(k, str) and (v is None or isinstance(v, str))
                                            for k, v in doc.items()):
        raise InputError(f'{path}: a mapping file is a JSON object {{"bone name": "smpl joint name" or null}}')
    return doc


def apply_mapping(rig: Rig, mapping: dict[str, str | None]) -> Rig:
    """``rig`` with the bones named in ``mapping`` driven by the SMPL joints it gives
    (null: by none). A joint mapped elsewhere before is unmapped there."""
    smpl = list(rig.smpl)
    for bone, joint in mapping.items():
        if bone not in rig.skeleton.names:
            raise InputError(f"mapping: the rig has no bone {bone!r}")
        if joint is not None and joint not in SMPL_JOINT_NAMES:
            raise InputError(f"mapping: {joint!r} (for {bone!r}) is not an SMPL joint; "
                             f"use one of {', '.join(SMPL_JOINT_NAMES)}")
    for bone, joint in mapping.items():
        if joint is not None:
            smpl = [None if s == joint else s for s in smpl]
    for bone, joint in mapping.items():
        smpl[rig.skeleton.names.index(bone)] = joint
    if len({s for s in smpl if s}) != sum(1 for s in smpl if s):
        raise InputError("mapping: an SMPL joint drives two bones")
    return replace(rig, smpl=tuple(smpl))


REQUIRED = ("pelvis", "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle")


def check_mapping(rig: Rig) -> None:
    """Raise :class:`InputError` unless the pelvis and both legs are mapped, with the
    pelvis' bone an ancestor of every other mapped bone."""
    missing = [s for s in REQUIRED if s not in rig.smpl]
    if missing:
        raise InputError(f"rig {rig.name!r}: no bone found for SMPL's {', '.join(missing)}; "
                         "give a mapping file (--rig-map) naming them")
    pelvis = rig.smpl.index("pelvis")
    for j, s in enumerate(rig.smpl):
        a = j
        while a >= 0 and a != pelvis:
            a = rig.skeleton.parents[a]
        if s and a != pelvis:
            raise InputError(f"rig {rig.name!r}: bone {rig.skeleton.names[j]!r} ({s}) is not below the "
                             f"pelvis bone {rig.skeleton.names[pelvis]!r}")
