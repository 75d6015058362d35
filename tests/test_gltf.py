"""glTF 2.0 export (.glb and .gltf), checked by Khronos' validator and Blender's importer."""

import numpy as np
import pytest

from mocap.export import export_scene
from mocap.motion import Scene
from readers import blender_import_gltf, gltf_validate
from test_export import synthetic_motion


@pytest.fixture(scope="module")
def two_people():
    # Two people, one starting later (key times are the video's, in seconds).
    return Scene({3: synthetic_motion(T=40, seed=1), 8: synthetic_motion(T=25, seed=2, t0=0.5)}, source="test.mp4")


@pytest.mark.parametrize("suffix", [".glb", ".gltf"])
def test_valid_and_reimported_by_blender_within_a_millimetre(tmp_path, two_people, suffix):
    path = tmp_path / f"anim{suffix}"
    assert export_scene(two_people, path) == [path]
    issues = gltf_validate(path)
    assert issues["numErrors"] == 0 and issues["numWarnings"] == 0, issues["messages"]
    armatures = blender_import_gltf(path)
    assert sorted(armatures) == ["person3", "person8"]
    for tid, motion in two_people.motions.items():
        anim = armatures[f"person{tid}"]
        assert len(anim.frames) == motion.num_frames
        # Blender turns seconds into frames at its scene rate (24 fps by default).
        np.testing.assert_allclose(anim.frames / anim.fps, motion.times, atol=1e-4)
        bones = [f"person{tid}:{n}" for n in motion.skeleton.names]
        error = np.linalg.norm(anim.of(bones) - motion.joint_positions(), axis=-1).max()
        assert error < 1e-3, f"person {tid}: joints differ by {error * 1000:.3f} mm"


@pytest.fixture(scope="module")
def smpl_model(tmp_path_factory):
    from mocap.body_model import load_body_model
    from test_body_model import write_smpl_pkl

    path, _, _ = write_smpl_pkl(tmp_path_factory.mktemp("smpl") / "SMPL_NEUTRAL.pkl")
    return load_body_model(path)


def test_skinned_smpl_mesh_deforms_as_our_skinning_says(tmp_path, smpl_model):
    """--mesh smpl: each person gets the SMPL mesh of their shape, skinned (4 joints a vertex).
    Valid glTF; assimp loads it; Blender's importer, posing it with its own armature
    deform, puts every vertex of every frame within 1 mm of linear blend skinning done here."""
    from mocap.body_model import body_mesh
    from mocap.export import ExportOptions, body_meshes, shaped_scene
    from readers import assimp_info, blender_reset, ZUP_TO_YUP

    scene = Scene({1: synthetic_motion(T=6, seed=1)})
    scene.motions[1].betas = np.linspace(-1, 1, 10)
    options = ExportOptions(mesh="smpl", body_model=smpl_model)
    path = tmp_path / "body.glb"
    export_scene(scene, path, options=options)
    issues = gltf_validate(path)
    assert issues["numErrors"] == 0 and issues["numWarnings"] == 0, issues["messages"]
    assert assimp_info(path)["meshes"] >= 1  # assimp loads it (and may split it for its own limits)

    shaped = shaped_scene(scene, options)
    meshes = body_meshes(shaped, shaped, options, path)
    motion, mesh = shaped.motions[1], meshes[1]
    assert np.allclose(mesh.vertices, body_mesh(smpl_model, scene.motions[1].betas).vertices)
    from mocap.skeleton import forward_kinematics

    pos, glob = forward_kinematics(motion.rotations, motion.translation, motion.skeleton)
    rest = motion.skeleton.rest_positions()
    # v(t) = sum_k w_k (G_k(t) (v - rest_k) + p_k(t)) over each vertex's 4 joints
    local = mesh.vertices[:, None, :] - rest[mesh.joints]  # (V, 4, 3)
    want = np.einsum("vk,tvkij,vkj->tvi", mesh.weights, glob[:, mesh.joints], local) + np.einsum(
        "vk,tvki->tvi", mesh.weights, pos[:, mesh.joints])

    bpy = blender_reset()
    bpy.ops.import_scene.gltf(filepath=str(path))
    (body,) = [o for o in bpy.context.scene.objects if o.type == "MESH" and o.name.startswith("person1_body")]
    scene_bl = bpy.context.scene
    fps = scene_bl.render.fps / scene_bl.render.fps_base
    for t, time in enumerate(motion.times):
        frame = time * fps
        scene_bl.frame_set(int(np.floor(frame)), subframe=float(frame - np.floor(frame)))
        evaluated = body.evaluated_get(bpy.context.evaluated_depsgraph_get())
        co = np.empty(len(evaluated.data.vertices) * 3)
        evaluated.data.vertices.foreach_get("co", co)
        mw = np.array(evaluated.matrix_world)
        got = (co.reshape(-1, 3) @ mw[:3, :3].T + mw[:3, 3]) @ ZUP_TO_YUP.T
        # Blender drops vertices no face uses (this random test model has some) and may split
        # others along seams: compare each imported vertex to its nearest expected one.
        from scipy.spatial import cKDTree

        distance, _ = cKDTree(want[t]).query(got)
        assert len(got) >= len(np.unique(mesh.faces)) and distance.max() < 1e-3, f"frame {t}: {distance.max()} m"


def test_mesh_needs_the_smpl_model_a_mesh_format_and_smpl_joints(tmp_path, smpl_model):
    from mocap.errors import OutputError
    from mocap.export import ExportOptions, check_mesh
    from mocap.motion import Motion
    from mocap.skeleton import Skeleton

    scene = Scene({1: synthetic_motion(T=3)})
    with pytest.raises(OutputError, match="needs the SMPL model"):
        export_scene(scene, tmp_path / "a.glb", options=ExportOptions(mesh="smpl"))
    with pytest.raises(OutputError, match="holds meshes"):
        check_mesh(ExportOptions(mesh="smpl", body_model=smpl_model), [tmp_path / "a.bvh"])
    with pytest.raises(OutputError, match="--mesh must be one of"):
        check_mesh(ExportOptions(mesh="smpl-x"), [tmp_path / "a.glb"])
    m = scene.motions[1]
    other = Motion(fps=m.fps, times=m.times, rotations=m.rotations, translation=m.translation,
                   skeleton=Skeleton(tuple(f"j{k}" for k in range(24)), m.skeleton.parents, m.skeleton.rest_offsets))
    with pytest.raises(OutputError, match="needs a motion on SMPL's joints"):
        export_scene(Scene({2: other}), tmp_path / "a.glb", options=ExportOptions(mesh="smpl", body_model=smpl_model))
    assert not (tmp_path / "a.glb").exists()
