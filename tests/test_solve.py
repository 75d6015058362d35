"""Camera-frame estimates → world Motion: axes, gap filling, variable frame rate."""

import numpy as np
from scipy.spatial.transform import Rotation

from mocap.camera import default_camera
from mocap.estimators import Estimates
from mocap.solve import solve_motion
from mocap.skeleton import neutral_skeleton

SK = neutral_skeleton()


def _estimates(times, angles, root, confidence):
    T = len(times)
    rot = np.tile(np.eye(3), (T, 24, 1, 1))
    # Upright, facing the camera (OpenCV axes), turning about the body's vertical axis.
    rot[:, 0] = np.diag([1.0, -1, -1]) @ Rotation.from_rotvec(np.outer(angles, [0, 1, 0])).as_matrix()
    rot[:, 18] = Rotation.from_rotvec(np.outer(angles, [0, 0, 1])).as_matrix()
    return Estimates(np.asarray(times, float), rot, np.asarray(root, float), np.asarray(confidence, float),
                     np.zeros((T, 33, 3)), np.zeros(10))


def test_world_is_y_up_and_person_faces_plus_z():
    times = np.arange(4) / 30
    est = _estimates(times, np.zeros(4), [[0.5, 0.2, 4.0]] * 4, np.ones(4))
    m = solve_motion(est, default_camera(640, 480), SK, 30.0)
    assert np.allclose(m.rotations[:, 0], np.eye(3))  # facing the camera = SMPL rest facing
    assert np.allclose(m.translation, [0.5, -0.2, -4.0])  # camera at the origin looking down -Z
    head, ankle = m.joint_positions()[0, [15, 7]]
    assert head[1] > ankle[1] + 1.0


def test_gaps_are_filled_by_slerp_and_marked_unseen():
    times = np.arange(5) / 30
    angles = np.array([0.0, 9.0, 9.0, 9.0, 0.8])  # the middle frames are garbage
    root = [[0, 0, 4.0], [np.nan] * 3, [np.nan] * 3, [np.nan] * 3, [0.4, 0, 4.0]]
    est = _estimates(times, angles, root, [1, 0, 0, 0, 1])
    m = solve_motion(est, default_camera(640, 480), SK, 30.0)
    got = Rotation.from_matrix(m.rotations[:, 18]).as_rotvec()[:, 2]
    assert np.allclose(got, [0.0, 0.2, 0.4, 0.6, 0.8])
    assert np.allclose(m.translation[:, 0], [0, 0.1, 0.2, 0.3, 0.4])
    assert np.array_equal(m.confidence > 0, [True, False, False, False, True])


def test_variable_frame_rate_is_resampled_to_a_uniform_grid():
    times = np.array([0.0, 0.04, 0.1, 0.12, 0.2])
    angles = times * 2.0  # constant angular speed
    est = _estimates(times, angles, [[t, 0, 4.0] for t in times], np.ones(5))
    m = solve_motion(est, default_camera(640, 480), SK, 25.0)
    assert np.allclose(m.times, np.arange(6) / 25)
    assert np.allclose(Rotation.from_matrix(m.rotations[:, 18]).as_rotvec()[:, 2], m.times * 2.0)
    assert np.allclose(m.translation[:, 0], m.times)


def test_never_seen_gives_none():
    est = _estimates(np.arange(3) / 30, np.zeros(3), np.full((3, 3), np.nan), np.zeros(3))
    assert solve_motion(est, default_camera(640, 480), SK, 30.0) is None
