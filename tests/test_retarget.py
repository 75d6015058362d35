"""Retargeting and rigs: round trips through every built-in rig, A-pose targets, leg-length
scaling, reference poses, automatic bone mapping, mapping files and rig files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mocap.errors import InputError
from mocap.export import ExportOptions, export_scene
from mocap.motion import Motion, Scene
from mocap.retarget import retarget, rig_of, with_reference_pose
from mocap.rigs import BUILTIN_RIGS, Rig, builtin_rig, load_rig, map_to_smpl
from mocap.skeleton import SMPL_JOINT_NAMES, Skeleton, neutral_skeleton
from test_export import CMU_BVH, synthetic_motion


def angle_degrees(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(...) angle between rotation matrices (..., 3, 3), degrees."""
    rel = np.swapaxes(a, -1, -2) @ b
    return np.degrees(Rotation.from_matrix(rel.reshape(-1, 3, 3)).magnitude()).reshape(a.shape[:-2])


@pytest.mark.parametrize("name", ["mixamo", "ue5", "rigify"])
def test_smpl_to_rig_and_back_within_a_degree(name):
    motion = synthetic_motion(T=40, seed=7)  # every joint swings up to ~150°
    there = retarget(motion, builtin_rig(name))
    assert there.skeleton.names == builtin_rig(name).skeleton.names
    back = retarget(there, builtin_rig("smpl"), source=builtin_rig(name))
    assert angle_degrees(back.rotations, motion.rotations).max() < 1.0
    assert np.abs(back.translation - motion.translation).max() < 1e-3


def test_a_pose_rig_gets_the_source_arm_directions():
    """UE5's rest pose has the arms 45° down; SMPL's is a T. Each retargeted arm bone must
    point where the source's does, so the wrist lands at the source's arm directions scaled
    by the target's bone lengths."""
    source, target = synthetic_motion(T=30, seed=8), builtin_rig("ue5")
    out = retarget(source, target)
    src, tgt = source.joint_positions(), out.joint_positions()
    rest = target.skeleton.rest_positions()
    for side in ("left", "right"):
        s_sh, s_el, s_wr = (SMPL_JOINT_NAMES.index(f"{side}_{n}") for n in ("shoulder", "elbow", "wrist"))
        t_sh, t_el, t_wr = (target.index_of(f"{side}_{n}") for n in ("shoulder", "elbow", "wrist"))
        upper, fore = (np.linalg.norm(rest[b] - rest[a]) for a, b in ((t_sh, t_el), (t_el, t_wr)))

        def unit(v):
            return v / np.linalg.norm(v, axis=-1, keepdims=True)

        expected = tgt[:, t_sh] + upper * unit(src[:, s_el] - src[:, s_sh]) + fore * unit(src[:, s_wr] - src[:, s_el])
        assert np.abs(tgt[:, t_wr] - expected).max() < 1e-6
    # SMPL's rest (a T-pose) on UE5: arms level, not the rig's A.
    t_pose = Motion(fps=30, times=[0.0], rotations=np.tile(np.eye(3), (1, 24, 1, 1)), translation=[[0, 1, 0]],
                    skeleton=neutral_skeleton())
    joints = retarget(t_pose, target).joint_positions()[0]
    for side in ("left", "right"):
        shoulder, wrist = joints[target.index_of(f"{side}_shoulder")], joints[target.index_of(f"{side}_wrist")]
        assert abs(wrist[1] - shoulder[1]) < 1e-6 and abs(wrist[0] - shoulder[0]) > 0.4


def test_a_bigger_rig_moves_by_its_leg_length():
    """The same skeleton 1.2x larger: every joint at 1.2x the source's positions (bone
    directions kept, root translation scaled by the leg-length ratio)."""
    source = synthetic_motion(T=20, seed=9)
    sk = source.skeleton
    big = Rig("big", Skeleton(sk.names, sk.parents, 1.2 * sk.rest_offsets), tuple(sk.names))
    out = retarget(source, big)
    assert np.abs(out.joint_positions() - 1.2 * source.joint_positions()).max() < 1e-9


@pytest.mark.parametrize("kind, degrees", [("t", 0.0), ("a", 45.0)])
@pytest.mark.parametrize("name", ["smpl", "ue5"])
def test_reference_pose_frame(name, kind, degrees):
    rig = builtin_rig(name)
    motion = retarget(synthetic_motion(T=10, seed=2, t0=1.0), rig)
    out = with_reference_pose(motion, kind, rig)
    assert out.num_frames == 11 and np.isclose(out.times[0], 1.0 - 1 / 30) and out.confidence[0] == 0
    joints = out.joint_positions()[0]
    for side in ("left", "right"):
        shoulder, elbow = joints[rig.index_of(f"{side}_shoulder")], joints[rig.index_of(f"{side}_elbow")]
        v = elbow - shoulder
        below = np.degrees(np.arctan2(-v[1], abs(v[0])))
        assert abs(below - degrees) < 1e-6 and abs(v[2]) < 1e-9
    np.testing.assert_allclose(out.rotations[1:], motion.rotations)


def test_builtin_rigs_are_readable_data_files():
    folder = Path(__file__).resolve().parents[1] / "mocap" / "rigs"
    for name in BUILTIN_RIGS:
        doc = json.loads((folder / f"{name}.json").read_text())
        rig = load_rig(folder / f"{name}.json")  # a copy of the file is a rig file too
        assert rig.skeleton.names == builtin_rig(name).skeleton.names == tuple(j["name"] for j in doc["joints"])
        assert len({s for s in rig.smpl if s}) >= 22  # all of SMPL's body joints but at most the hands
    assert builtin_rig("ue5").rest_pose == "A" and builtin_rig("mixamo").rest_pose == "T"


def _renamed(rig: Rig, rename) -> Rig:
    sk = rig.skeleton
    return Rig("renamed", Skeleton(tuple(rename(n) for n in sk.names), sk.parents, sk.rest_offsets), rig.smpl)


@pytest.mark.parametrize("rename", [
    lambda n: n.replace("mixamorig:", "mixamorig7:"),  # another Mixamo namespace
    lambda n: "Character1_" + n.split(":")[1],  # a prefix the built-in tables don't know
    lambda n: {"Hips": "Bip01 Pelvis", "LeftUpLeg": "Bip01 L Thigh", "LeftLeg": "Bip01 L Calf",
               "LeftFoot": "Bip01 L Foot", "LeftToeBase": "Bip01 L Toe0", "RightUpLeg": "Bip01 R Thigh",
               "RightLeg": "Bip01 R Calf", "RightFoot": "Bip01 R Foot", "RightToeBase": "Bip01 R Toe0",
               "Spine": "Bip01 Spine", "Spine1": "Bip01 Spine1", "Spine2": "Bip01 Spine2", "Neck": "Bip01 Neck",
               "Head": "Bip01 Head", "LeftShoulder": "Bip01 L Clavicle", "LeftArm": "Bip01 L UpperArm",
               "LeftForeArm": "Bip01 L Forearm", "LeftHand": "Bip01 L Hand", "RightShoulder": "Bip01 R Clavicle",
               "RightArm": "Bip01 R UpperArm", "RightForeArm": "Bip01 R Forearm", "RightHand": "Bip01 R Hand",
               }.get(n.split(":")[1], n.split(":")[1]),  # 3ds Max Biped names
], ids=["namespace", "prefix", "biped"])
def test_bones_are_mapped_by_name(rename):
    mixamo = builtin_rig("mixamo")
    rig = _renamed(mixamo, rename)
    mapped = map_to_smpl(rig.skeleton.names, rig.skeleton.parents)
    for name, want, got in zip(rig.skeleton.names, mixamo.smpl, mapped):
        if want and not want.endswith("_hand"):  # finger bones may go unmapped
            assert got == want, f"{name}: {got} != {want}"


def test_rigify_generated_names_map_like_the_metarig():
    rigify = builtin_rig("rigify")
    names = tuple("DEF-" + n for n in rigify.skeleton.names)
    assert map_to_smpl(names, rigify.skeleton.parents) == rigify.smpl


def test_mapping_file_overrides_and_bad_mappings_fail_clearly(tmp_path):
    rig_file = tmp_path / "rig.json"
    rig_file.write_text(json.dumps(json.loads((Path(__file__).resolve().parents[1] / "mocap/rigs/mixamo.json")
                                              .read_text()) | {"name": "mine"}))
    mapping = tmp_path / "map.json"
    mapping.write_text(json.dumps({"mixamorig:HeadTop_End": "head", "mixamorig:LeftHandMiddle1": None}))
    rig = load_rig(rig_file, mapping)
    assert rig.smpl[rig.skeleton.names.index("mixamorig:HeadTop_End")] == "head"
    assert rig.smpl[rig.skeleton.names.index("mixamorig:Head")] is None  # moved, not doubled
    assert "left_hand" not in rig.smpl
    for doc, message in [({"NoSuchBone": "head"}, "no bone 'NoSuchBone'"),
                         ({"mixamorig:Head": "skull"}, r"'skull' \(for 'mixamorig:Head'\) is not an SMPL joint"),
                         (["not", "an", "object"], "a mapping file is a JSON object")]:
        mapping.write_text(json.dumps(doc))
        with pytest.raises(InputError, match=message):
            load_rig(rig_file, mapping)
    mapping.write_text("{not json")
    with pytest.raises(InputError, match="not a JSON mapping file"):
        load_rig(rig_file, mapping)


@pytest.mark.parametrize("content, message", [
    ("{broken", "not a valid rig file"),
    ('{"joints": []}', "non-empty \"joints\" list"),
    ('{"joints": [{"name": "a", "parent": "b", "offset": [0, 0, 0]}]}', "parent 'b' must be a joint listed before"),
    ('{"joints": [{"name": "a", "parent": null, "offset": [0, "x", 0]}]}', "three finite numbers"),
    ('{"joints": [{"name": "a", "parent": null, "offset": [0, 1, 0], "smpl": "tail"}]}', "'tail' is not an SMPL joint"),
    ('{"joints": [{"name": "a", "parent": null, "offset": [0, 1, 0], "smpl": "pelvis"}]}',
     "no bone found for SMPL's left_hip"),
])
def test_malformed_rig_json_gives_a_clear_error(tmp_path, content, message):
    path = tmp_path / "rig.json"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        load_rig(path)


@pytest.mark.parametrize("suffix, content, message", [
    (".bvh", "HIERARCHY\nROOT Hips\n{\nOFFSET 0 0\n", "not a valid BVH file"),
    (".glb", "glTF but not really", "not a readable glTF file|has no nodes"),
    (".fbx", "Kaydara FBX Binary  \x00 nothing more", "not a readable FBX file"),
    (".txt", "", "a rig file must be one of"),
])
def test_malformed_rig_files_give_a_clear_error(tmp_path, suffix, content, message):
    path = tmp_path / f"rig{suffix}"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        load_rig(path)
    with pytest.raises(InputError, match="rig file not found"):
        load_rig(tmp_path / "missing.fbx")


@pytest.mark.slow
@pytest.mark.parametrize("suffix", [".fbx", ".glb", ".bvh"])
def test_rig_read_back_from_a_character_file(tmp_path, suffix):
    """A Mixamo-named skeleton written as FBX, glTF or BVH reads back as the same rig:
    names, hierarchy, rest positions within 0.1 mm, the same bones mapped."""
    mixamo = builtin_rig("mixamo")
    rest = Motion(fps=30, times=[0.0], rotations=np.tile(np.eye(3), (1, mixamo.skeleton.num_joints, 1, 1)),
                  translation=[mixamo.skeleton.rest_offsets[0]], skeleton=mixamo.skeleton)
    (path,) = export_scene(Scene({1: rest}), tmp_path / f"character{suffix}", options=ExportOptions(target="maya"))
    rig = load_rig(path)
    names = [n.split(":", 1)[1] if suffix == ".glb" else n for n in rig.skeleton.names]  # glTF: person1:...
    assert sorted(names) == sorted(mixamo.skeleton.names)
    order = [names.index(n) for n in mixamo.skeleton.names]  # the file's joint order may differ
    parents = [names[p] if p >= 0 else None for p in rig.skeleton.parents]
    assert [parents[k] for k in order] == [mixamo.skeleton.names[p] if p >= 0 else None
                                           for p in mixamo.skeleton.parents]
    assert np.abs(rig.skeleton.rest_positions()[order] - mixamo.skeleton.rest_positions()).max() < 1e-4
    assert tuple(rig.smpl[k] for k in order) == mixamo.smpl


def test_cmu_bvh_maps_and_retargets_onto_every_rig():
    """A real CMU capture (its own names, extra joints, 0.056444 m units) drives every rig:
    each rig's pelvis follows the capture's, scaled by leg length; feet stay below hips."""
    from mocap.formats import load_motion_file

    if not CMU_BVH.exists():
        pytest.skip(f"{CMU_BVH} missing (Debian package assimp-testmodels)")
    source = load_motion_file(CMU_BVH, 0.056444).motions[0]
    cmu = rig_of(source.skeleton)
    for s in ("pelvis", "left_hip", "left_knee", "left_ankle", "right_shoulder", "right_elbow", "head"):
        assert s in cmu.smpl
    for name in BUILTIN_RIGS:
        out = retarget(source, builtin_rig(name), cmu)
        joints = out.joint_positions()
        pelvis, ankle = builtin_rig(name).index_of("pelvis"), builtin_rig(name).index_of("left_ankle")
        assert np.all(joints[:, ankle, 1] < joints[:, pelvis, 1])
        assert np.isfinite(joints).all()


def _hero_fbx(path: Path, seed: int = 0) -> dict[str, np.ndarray]:
    """A character FBX made in Blender: Mixamo's bones with the character's own axes (random
    rolls; some bones pointing sideways, as rigs from other tools do). Returns each bone's
    world rest rotation (3, 3) in Blender's frame."""
    import bpy

    from mocap.export import C_YUP_TO_ZUP

    rng = np.random.default_rng(seed)
    sk = builtin_rig("mixamo").skeleton
    heads = sk.rest_positions() @ C_YUP_TO_ZUP.T  # Blender Z-up
    bpy.ops.wm.read_factory_settings(use_empty=True)
    arm = bpy.data.armatures.new("hero")
    obj = bpy.data.objects.new("hero", arm)
    bpy.context.scene.collection.objects.link(obj)
    bpy.context.view_layer.objects.active = obj
    bpy.ops.object.mode_set(mode="EDIT")
    bones = []
    for j, name in enumerate(sk.names):
        eb = arm.edit_bones.new(name)
        kids = sk.children(j)
        direction = heads[kids[0]] - heads[j] if kids and j % 5 else rng.normal(size=3)
        eb.head, eb.tail = heads[j], heads[j] + 0.08 * direction / np.linalg.norm(direction)
        eb.roll = rng.uniform(-np.pi, np.pi)
        eb.use_connect = False
        if sk.parents[j] >= 0:
            eb.parent = bones[sk.parents[j]]
        bones.append(eb)
    bpy.ops.object.mode_set(mode="OBJECT")
    frames = {n: np.array(obj.data.bones[n].matrix_local)[:3, :3] for n in sk.names}
    bpy.ops.export_scene.fbx(filepath=str(path), object_types={"ARMATURE"}, add_leaf_bones=False, bake_anim=False)
    return frames


def _pose_character_with(bpy, character, animated, frame: float) -> np.ndarray:
    """Copy every bone's pose (its local transform from rest, Blender's ``matrix_basis``) from
    ``animated`` to ``character`` by name at ``frame``, as an engine plays a clip on a
    character of the same skeleton; the character's bone heads (world, Y-up metres)."""
    from readers import ZUP_TO_YUP

    bpy.context.scene.frame_set(int(frame))
    for pb in character.pose.bones:
        pb.matrix_basis = animated.pose.bones[pb.name].matrix_basis.copy()
    bpy.context.view_layer.update()
    mw = np.array(character.matrix_world)
    heads = np.array([np.array(pb.head) for pb in character.pose.bones])
    return (heads @ mw[:3, :3].T + mw[:3, 3]) @ ZUP_TO_YUP.T


def test_character_bone_axes_are_kept_and_the_clip_plays_on_the_character(tmp_path):
    """--rig-file hero.fbx where the hero's bones have their own axes (rolls, bones pointing
    sideways): the exported FBX's bones have the hero's exact rest orientations, so its
    per-bone poses, copied by name onto the hero itself (no retargeting step), put the
    hero's joints where our forward kinematics says, within 1 mm. The glTF and USD files
    orient their joints the same way."""
    import bpy

    from mocap.export import C_YUP_TO_ZUP, prepare_scene
    from readers import blender_import_fbx

    hero_path = tmp_path / "hero.fbx"
    hero_frames = _hero_fbx(hero_path)
    rig = load_rig(hero_path)
    assert rig.skeleton.rest_frames is not None
    assert sorted(rig.skeleton.names) == sorted(hero_frames)
    np.testing.assert_allclose(C_YUP_TO_ZUP @ rig.skeleton.rest_frames,
                               [hero_frames[n] for n in rig.skeleton.names], atol=1e-5)

    scene = Scene({0: synthetic_motion(T=8, seed=7)})
    options = ExportOptions(rig=rig)
    expected = prepare_scene(scene, options).motions[0]
    want = expected.joint_positions()
    for suffix in (".fbx", ".glb", ".usda"):
        export_scene(scene, tmp_path / f"clip{suffix}", options=options)

    anims = blender_import_fbx(tmp_path / "clip.fbx")  # also leaves the clip's armature in the session
    assert np.linalg.norm(anims["person0"].of(rig.skeleton.names) - want, axis=-1).max() < 1e-3
    clip = bpy.data.objects["person0"]
    with_frames = {n: np.array(clip.matrix_world)[:3, :3] @ np.array(clip.data.bones[n].matrix_local)[:3, :3]
                   for n in rig.skeleton.names}
    bpy.ops.import_scene.fbx(filepath=str(hero_path))
    (hero,) = [o for o in bpy.context.scene.objects if o.type == "ARMATURE" and o is not clip]
    for n in rig.skeleton.names:
        hero_world = np.array(hero.matrix_world)[:3, :3] @ np.array(hero.data.bones[n].matrix_local)[:3, :3]
        np.testing.assert_allclose(with_frames[n], hero_world, atol=1e-4, err_msg=n)
    for k, frame in enumerate(1 + np.rint(expected.times * expected.fps)):
        got = _pose_character_with(bpy, hero, clip, frame)
        error = np.linalg.norm(got - want[k], axis=-1).max()
        assert error < 1e-3, f"frame {k}: the hero's joints are off by {error * 1e3:.2f} mm"

    from test_formats import reimported  # glTF and USD through Blender's importers too

    for suffix in (".glb", ".usda"):
        got = reimported(tmp_path / f"clip{suffix}", suffix, Scene({0: expected}), options)[0]
        assert np.linalg.norm(got - want, axis=-1).max() < 1e-3, suffix
    from mocap.rigs import _read_gltf_rig  # our glTF: its joint nodes' world rest axes

    glb = _read_gltf_rig(tmp_path / "clip.glb").skeleton
    order = [glb.names.index(f"person0:{n}") for n in rig.skeleton.names]
    np.testing.assert_allclose(glb.rest_frames[order], rig.skeleton.rest_frames, atol=1e-6)
    from pxr import Usd, UsdSkel

    stage = Usd.Stage.Open(str(tmp_path / "clip.usda"))
    bind = np.array(UsdSkel.Skeleton(stage.GetPrimAtPath("/Mocap/person0/Skeleton")).GetBindTransformsAttr().Get())
    np.testing.assert_allclose(np.swapaxes(bind[:, :3, :3], 1, 2), rig.skeleton.rest_frames, atol=1e-6)


def test_rig_json_joint_axes(tmp_path):
    """A rig .json may give each joint's axes as a quaternion; they reach the skeleton, and
    a bad one is refused clearly."""
    doc = json.loads((Path(__file__).resolve().parents[1] / "mocap/rigs/mixamo.json").read_text())
    q = Rotation.from_euler("z", 30, degrees=True).as_quat().tolist()
    doc["joints"][3]["rotation"] = q
    (tmp_path / "r.json").write_text(json.dumps(doc))
    rig = load_rig(tmp_path / "r.json")
    np.testing.assert_allclose(rig.skeleton.rest_frames[3], Rotation.from_quat(q).as_matrix(), atol=1e-12)
    np.testing.assert_allclose(rig.skeleton.rest_frames[0], np.eye(3))
    doc["joints"][3]["rotation"] = [0, 0, 0]
    (tmp_path / "bad.json").write_text(json.dumps(doc))
    with pytest.raises(InputError, match="quaternion"):
        load_rig(tmp_path / "bad.json")
