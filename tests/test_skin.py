"""Body meshes for export: weights, fitting onto rigs (SMPL ↔ Mixamo/UE5, T ↔ A), anny's body."""

from __future__ import annotations

import numpy as np
import pytest

from mocap.body_model import BodyMesh, body_mesh
from mocap.motion import Motion
from mocap.retarget import retarget
from mocap.rigs import builtin_rig, smpl_rig
from mocap.skeleton import forward_kinematics, skeleton_for_body
from mocap.skin import fit_body, skin_vertices, strongest, triangles
from test_export import synthetic_motion


@pytest.fixture(scope="module")
def smpl_model(tmp_path_factory):
    from mocap.body_model import load_body_model
    from test_body_model import write_smpl_pkl

    path, _, _ = write_smpl_pkl(tmp_path_factory.mktemp("smpl") / "SMPL_NEUTRAL.pkl")
    return load_body_model(path)


@pytest.fixture(scope="module")
def anny():
    pytest.importorskip("anny")
    from mocap.skin import anny_body

    return anny_body()


def test_strongest_sums_per_joint_keeps_four_and_renormalises():
    joints = np.array([[2, 2, 5, 1, 0, -1], [3, -1, -1, -1, -1, -1]])
    weights = np.array([[0.1, 0.2, 0.25, 0.2, 0.05, 0.2], [0.5, 0.5, 0, 0, 0, 0]])
    j, w = strongest(joints, weights)
    assert j.shape == w.shape == (2, 4)
    np.testing.assert_allclose(w.sum(1), 1.0)
    assert j[0].tolist() == [2, 5, 1, 0]  # 2 collects 0.3; the -1 slot is dropped
    np.testing.assert_allclose(w[0], np.array([0.3, 0.25, 0.2, 0.05]) / 0.8)
    assert j[1].tolist() == [3, 0, 0, 0] and w[1].tolist() == [1.0, 0, 0, 0]  # unused slots: joint 0, weight 0
    with pytest.raises(ValueError, match="no skinning weight"):
        strongest(np.array([[0, 1]]), np.zeros((1, 2)))


def test_quads_become_two_triangles_each():
    tris = triangles(np.array([[0, 1, 2, 3], [4, 5, 6, 7]]))
    assert tris.tolist() == [[0, 1, 2], [4, 5, 6], [0, 2, 3], [4, 6, 7]]
    assert triangles(np.array([[0, 1, 2]])).tolist() == [[0, 1, 2]]


def test_fitting_a_body_onto_its_own_rig_changes_nothing(smpl_model):
    betas = np.linspace(-1, 1, 10)
    mesh = body_mesh(smpl_model, betas)
    rig = smpl_rig(skeleton_for_body(betas, smpl_model))
    fitted = fit_body(mesh, rig, rig)
    np.testing.assert_allclose(fitted.vertices, mesh.vertices, atol=1e-9)
    np.testing.assert_allclose(fitted.weights, mesh.weights, atol=1e-12)
    np.testing.assert_array_equal(fitted.joints[fitted.weights > 0], mesh.joints[mesh.weights > 0])


def _points_on_joints(skeleton, per_joint: int = 8, seed: int = 0) -> BodyMesh:
    """A test body: a few vertices a few cm around every joint, each moving with that joint only."""
    rng = np.random.default_rng(seed)
    J = skeleton.num_joints
    owner = np.repeat(np.arange(J), per_joint)
    vertices = skeleton.rest_positions()[owner] + rng.uniform(-0.04, 0.04, (len(owner), 3))
    joints = np.zeros((len(owner), 4), dtype=np.int64)
    joints[:, 0] = owner
    weights = np.zeros((len(owner), 4))
    weights[:, 0] = 1.0
    return BodyMesh(vertices=vertices, faces=np.arange(len(owner) - len(owner) % 3).reshape(-1, 3),
                    joints=joints, weights=weights)


def test_a_posed_rig_gets_the_body_in_its_a_pose():
    """A body on SMPL's T-pose skeleton onto UE5 (A-pose, other proportions): what moves with
    a joint keeps its distances to it around the UE5 joint (turned by the T -> A rest
    correction: a wrist's points hang 45° down with the arm), and the fitted body then
    follows the retargeted motion rigidly with that joint."""
    source = smpl_rig(skeleton_for_body())
    mesh = _points_on_joints(source.skeleton)
    ue5 = builtin_rig("ue5")
    fitted = fit_body(mesh, source, ue5)
    assert fitted.joints.max() < ue5.skeleton.num_joints
    np.testing.assert_allclose(fitted.weights.sum(1), 1.0)
    rest, smpl_rest = ue5.skeleton.rest_positions(), source.skeleton.rest_positions()
    for name in ("left_wrist", "right_elbow", "left_knee", "head"):
        mine = mesh.joints[:, 0] == source.index_of(name)
        np.testing.assert_array_equal(fitted.joints[mine, 0], ue5.index_of(name))
        before = mesh.vertices[mine] - smpl_rest[source.index_of(name)]
        after = fitted.vertices[mine] - rest[ue5.index_of(name)]
        np.testing.assert_allclose(np.linalg.norm(after, axis=1), np.linalg.norm(before, axis=1), atol=1e-9)
    # The left forearm's direction in the fitted body is UE5's (45° down), not SMPL's (level).
    wrist, elbow = (fitted.vertices[mesh.joints[:, 0] == source.index_of(n)].mean(0) for n in ("left_wrist", "left_elbow"))
    arm = rest[ue5.index_of("left_wrist")] - rest[ue5.index_of("left_elbow")]
    cos = (wrist - elbow) @ arm / np.linalg.norm(wrist - elbow) / np.linalg.norm(arm)
    assert cos > 0.99

    motion = synthetic_motion(T=4, seed=5)
    on_ue5 = retarget(Motion(fps=motion.fps, times=motion.times, rotations=motion.rotations,
                             translation=motion.translation, skeleton=source.skeleton), ue5)
    posed = skin_vertices(fitted, on_ue5)  # (T, V, 3)
    j = ue5.index_of("left_wrist")
    mine = fitted.joints[:, 0] == j
    pos, glob = (a[:, j] for a in forward_kinematics(on_ue5.rotations, on_ue5.translation, ue5.skeleton))
    want = np.einsum("tab,vb->tva", glob, fitted.vertices[mine] - rest[j]) + pos[:, None]
    np.testing.assert_allclose(posed[:, mine], want, atol=1e-9)


def test_anny_body_is_a_clean_skinned_adult(anny):
    mesh, rig = anny
    assert mesh.vertices.shape[1] == 3 and mesh.faces.shape[1] == 3
    assert mesh.faces.min() >= 0 and mesh.faces.max() < len(mesh.vertices)
    assert 1.5 < np.ptp(mesh.vertices[:, 1]) < 1.9  # metres, Y up
    np.testing.assert_allclose(mesh.weights.sum(1), 1.0)
    assert rig.rest_pose == "A"
    mapped = {s for s in rig.smpl if s}
    assert {"pelvis", "left_hip", "right_knee", "left_wrist", "right_shoulder", "neck", "head"} <= mapped
    # It faces +Z like every mocap body: the toes are in front of the heels.
    foot = rig.skeleton.rest_positions()[rig.index_of("left_foot")]
    ankle = rig.skeleton.rest_positions()[rig.index_of("left_ankle")]
    assert foot[2] > ankle[2] + 0.05


def test_anny_body_is_kept_once_built(anny, tmp_path, monkeypatch):
    """The built body is kept as plain arrays and read back the same (no anny needed then);
    a damaged kept file is rebuilt, not trusted."""
    import mocap.model_files
    import mocap.skin as skin

    mesh, rig = anny
    monkeypatch.setattr(mocap.model_files, "MOCAP_CACHE", tmp_path)
    builds = []
    monkeypatch.setattr(skin, "_build_anny_arrays", lambda: builds.append(1) or {
        "vertices": mesh.vertices, "faces": mesh.faces, "joints": mesh.joints, "weights": mesh.weights,
        "bone_names": np.array(rig.skeleton.names), "bone_parents": np.array(rig.skeleton.parents),
        "bone_heads": rig.skeleton.rest_positions()})
    for expected_builds in (1, 1):
        skin.anny_body.cache_clear()
        again, rig2 = skin.anny_body()
        assert len(builds) == expected_builds
        np.testing.assert_array_equal(again.vertices, mesh.vertices)
        assert rig2.skeleton.names == rig.skeleton.names and rig2.smpl == rig.smpl
        np.testing.assert_allclose(rig2.skeleton.rest_offsets, rig.skeleton.rest_offsets, atol=1e-12)
    (kept,) = (tmp_path / "anny").iterdir()
    kept.write_bytes(b"not a zip")
    skin.anny_body.cache_clear()
    skin.anny_body()
    assert len(builds) == 2
    skin.anny_body.cache_clear()


@pytest.mark.parametrize("name", ["smpl", "mixamo", "ue5", "rigify"])
def test_anny_fits_every_rig_around_its_joints(anny, name):
    """Every joint the rig maps lies inside the fitted body: the nearest vertex is closer than
    a limb's radius, and the body spans the rig's height (head top above the head joint,
    soles at the ankles' level or below)."""
    mesh, rig = anny
    target = builtin_rig(name)
    fitted = fit_body(mesh, rig, target)
    assert isinstance(fitted, BodyMesh) and fitted.joints.max() < target.skeleton.num_joints
    from scipy.spatial import cKDTree

    tree = cKDTree(fitted.vertices)
    rest = target.skeleton.rest_positions()
    for smpl_name in ("pelvis", "spine2", "neck", "head", "left_hip", "right_knee", "left_ankle",
                      "right_shoulder", "left_elbow", "right_wrist"):
        distance, _ = tree.query(rest[target.index_of(smpl_name)])
        assert distance < 0.15, f"{name}: {smpl_name} {distance:.3f} m from the body surface"
    assert fitted.vertices[:, 1].max() > rest[target.index_of("head")][1] + 0.05
    assert fitted.vertices[:, 1].min() < rest[target.index_of("left_ankle")][1]
