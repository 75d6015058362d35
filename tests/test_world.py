"""Ground plane and up direction from the feet, under a tilted static camera (CMU walk)."""

from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from mocap.skeleton import forward_kinematics
from mocap.world import fit_ground, world_from_ground

CMU_BVH = Path("/usr/share/assimp/models/BVH/01_01.bvh")
FEET = ("LeftFoot", "RightFoot", "LeftToeBase", "RightToeBase")


def test_level_floor_gives_the_default_world():
    feet = np.zeros((10, 2, 3))
    feet[:, :, 1] = 1.5  # 1.5 m below a level camera
    feet[:, :, 0] = np.linspace(-1, 1, 10)[:, None]
    feet[:, :, 2] = np.linspace(3, 6, 10)[:, None] + [0, 0.3]
    n, d = fit_ground(feet)
    assert np.allclose(n, [0, -1, 0]) and d == pytest.approx(1.5)
    np.testing.assert_allclose(world_from_ground(n, d)[:3, :3], np.diag([1.0, -1, -1]), atol=1e-12)


def test_ground_and_up_from_a_walk_seen_by_a_tilted_camera():
    if not CMU_BVH.exists():
        pytest.skip(f"{CMU_BVH} missing (Debian package assimp-testmodels)")
    from mocap.formats.bvh import read_bvh

    skel, fps, rot, root = read_bvh(CMU_BVH, units=0.056444)
    world, _ = forward_kinematics(rot[::4], root[::4], skel)  # Y-up, metres
    idx = [skel.names.index(n) for n in FEET]
    floor = np.percentile(world[:, idx, 1].min(axis=1), 5)
    # A camera 2 m above the floor, pitched 20 degrees down and turned 30 degrees, 7 m away.
    R_wc = Rotation.from_euler("YX", [30, -20], degrees=True).as_matrix() @ np.diag([1.0, -1, -1])
    centre = world[:, 0].mean(axis=0) + R_wc @ [0, 0, -7.0]
    centre[1] = floor + 2.0
    camera = (world - centre) @ R_wc  # camera coordinates: R_wc^T (x - C)
    rng = np.random.default_rng(0)
    feet = camera[:, idx] + rng.normal(0, 0.01, camera[:, idx].shape)  # 1 cm estimator noise
    n, d = fit_ground(feet)
    true_up = R_wc.T @ [0, 1.0, 0]
    assert np.degrees(np.arccos(np.clip(n @ true_up, -1, 1))) < 2
    m = world_from_ground(n, d)
    heights = (camera[:, idx] @ m[:3, :3].T + m[:3, 3])[..., 1]
    lowest = heights.min(axis=1)
    true_lowest = world[:, idx, 1].min(axis=1) - floor
    assert np.median(np.abs(lowest - true_lowest)) < 0.02


def test_ground_on_the_sample_clip():
    """`--ground` on the rendered sample (camera pitched ~10.5 degrees down, 1.4 m up): measured up
    within 2.7 degrees of the truth, the lowest foot at +0.4 cm (median), camera height 1.49 m
    (the person's own proportions and the fit to the image set that scale; 1.20 m on the neutral
    skeleton). The floor is found after the fit, under the skeleton the person is given."""
    from conftest import SAMPLES
    from mocap.pipeline import RunOptions, capture

    truth = np.load(SAMPLES / "turn_jump_gt.npz")["world_from_camera"]
    scene = capture(SAMPLES / "turn_jump.mp4", RunOptions(ground=True))
    up = scene.camera.world_from_camera[1, :3]
    assert np.degrees(np.arccos(up @ truth[1, :3] / np.linalg.norm(truth[1, :3]))) < 6
    (motion,) = scene.motions.values()
    names = list(motion.skeleton.names)
    feet = motion.joint_positions()[:, [names.index(n) for n in ("left_ankle", "right_ankle", "left_foot",
                                                                 "right_foot")], 1]
    assert abs(np.median(feet.min(axis=1))) < 0.05
    assert abs(scene.camera.world_from_camera[1, 3] - truth[1, 3]) < 0.25


def _two_people():
    from mocap.motion import Motion
    from mocap.skeleton import neutral_skeleton

    sk = neutral_skeleton()
    T = 40
    turn = Rotation.from_euler("y", 70, degrees=True).as_matrix()
    rot = np.tile(np.eye(3), (T, 24, 1, 1))
    rot[:, 0] = turn
    walk = np.c_[np.linspace(2.0, 3.0, T), np.full(T, 0.9), np.linspace(-4.0, -5.5, T)]
    a = Motion(fps=30, times=np.arange(T) / 30, rotations=rot, translation=walk, skeleton=sk)
    b = Motion(fps=30, times=np.arange(5, T + 5) / 30, rotations=rot, translation=walk + [1.0, 0.0, 0.5], skeleton=sk)
    return {3: a, 7: b}


def test_drop_in_puts_the_first_person_at_the_origin_facing_forward_and_keeps_the_scene():
    from mocap.world import apply_root_motion

    people = _two_people()
    camera = np.eye(4)
    moved, world_from_camera = apply_root_motion(people, camera, "drop-in")
    lead = moved[3]
    np.testing.assert_allclose(lead.translation[0, [0, 2]], 0.0, atol=1e-12)
    np.testing.assert_allclose(lead.rotations[0, 0] @ [0, 0, 1.0], [0, 0, 1.0], atol=1e-12)  # faces +Z
    feet = [lead.skeleton.names.index(n) for n in ("left_ankle", "right_ankle", "left_foot", "right_foot")]
    lowest = np.concatenate([m.joint_positions()[:, feet, 1].min(axis=1) for m in moved.values()])
    assert np.percentile(lowest, 2) == pytest.approx(0.0, abs=1e-9)
    # One rigid move for everyone and the camera: distances between people and to the camera stay.
    before = np.linalg.norm(people[3].translation - people[7].translation, axis=1)
    after = np.linalg.norm(moved[3].translation - moved[7].translation, axis=1)
    np.testing.assert_allclose(after, before, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(moved[7].translation - world_from_camera[:3, 3], axis=1),
                               np.linalg.norm(people[7].translation - camera[:3, 3], axis=1), atol=1e-12)


def test_in_place_removes_travel_but_keeps_height_and_turns():
    from mocap.world import apply_root_motion

    people = _two_people()
    moved, _ = apply_root_motion(people, np.eye(4), "in-place")
    for tid, m in moved.items():
        assert np.ptp(m.translation[:, [0, 2]], axis=0).max() < 1e-12
        assert np.ptp(m.translation[:, 1]) == pytest.approx(np.ptp(people[tid].translation[:, 1]))
    same, camera = apply_root_motion(people, np.eye(4), "performer")
    assert same is people and np.array_equal(camera, np.eye(4))
    with pytest.raises(ValueError, match="root motion"):
        apply_root_motion(people, np.eye(4), "moonwalk")
