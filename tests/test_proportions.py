"""A person's own proportions: measured from landmarks, built into the skeleton, used by the run."""

import numpy as np
import pytest

from mocap.estimators import mediapipe_pose as mpp
from mocap.proportions import BONES, PARTS, body_lengths, part_lengths, proportioned, skeleton_lengths
from mocap.rotations import normalize
from mocap.skeleton import JOINT, neutral_skeleton

# A performer unlike the neutral skeleton: narrow hips, short torso, long shins, short forearms.
LENGTHS = np.array([0.15, 0.34, 0.40, 0.42, 0.45, 0.29, 0.20])


def test_the_skeleton_gets_the_lengths_asked_for_and_keeps_its_directions():
    neutral = neutral_skeleton()
    shaped = proportioned(neutral, LENGTHS)
    assert np.allclose(skeleton_lengths(shaped), LENGTHS, atol=1e-4)
    assert shaped.names == neutral.names and shaped.parents == neutral.parents
    for joint in ("left_knee", "right_ankle", "left_elbow", "right_wrist", "neck", "left_foot"):
        j = JOINT[joint]
        assert np.allclose(normalize(shaped.rest_offsets[j]), normalize(neutral.rest_offsets[j]), atol=1e-9)
    # Symmetric, and still standing on the floor: the ankles as high above it as the feet need.
    P = shaped.rest_positions()
    mirror = np.array([-1.0, 1.0, 1.0])
    for joint in ("hip", "knee", "ankle", "shoulder", "elbow", "wrist"):
        assert np.allclose(P[JOINT[f"left_{joint}"]], P[JOINT[f"right_{joint}"]] * mirror)
    assert 0.0 < P[JOINT["left_foot"], 1] < P[JOINT["left_ankle"], 1] < 0.1
    # Lengths it was not given stay the skeleton's own; the same lengths change nothing.
    kept = LENGTHS.copy()
    kept[PARTS.index("torso")] = np.nan
    assert skeleton_lengths(proportioned(neutral, kept))[PARTS.index("torso")] == pytest.approx(
        skeleton_lengths(neutral)[PARTS.index("torso")])
    assert np.allclose(proportioned(neutral, skeleton_lengths(neutral)).rest_offsets, neutral.rest_offsets)
    with pytest.raises(ValueError):
        proportioned(neutral, LENGTHS[:3])


def test_one_length_per_part_from_noisy_frames_of_both_sides():
    rng = np.random.default_rng(0)
    truth = np.array([LENGTHS[PARTS.index(next(p for p in PARTS if b == p or b.endswith("_" + p)))]
                      for b in BONES])
    frames = truth * (1 + 0.05 * rng.standard_normal((200, len(BONES))))
    frames[::3, BONES.index("left_forearm")] = 3.0  # a wrist lost now and then: outliers
    frames[1::3, BONES.index("right_forearm")] = np.nan  # and not seen
    frames[:, BONES.index("torso")] = np.nan
    frames[:3, BONES.index("torso")] = 0.4  # seen too few times to believe
    got = body_lengths(frames)
    assert np.isnan(got[PARTS.index("torso")])
    ok = [i for i, p in enumerate(PARTS) if p != "torso"]
    assert np.allclose(got[ok], LENGTHS[ok], rtol=0.03)
    assert np.isnan(body_lengths(np.full((10, len(BONES)), np.nan))).all()


def test_landmarks_measure_bones_and_map_them_to_joint_lengths():
    """Landmarks on a known skeleton's joints measure its bones; the calibrated factors map the
    landmark distances to joint lengths; a bone with an end out of sight is not measured."""
    skeleton = proportioned(neutral_skeleton(), LENGTHS)
    P = skeleton.rest_positions()
    lm = np.zeros((6, 33, 3))
    names = {mpp.L_HIP: "left_hip", mpp.R_HIP: "right_hip", mpp.L_KNEE: "left_knee", mpp.R_KNEE: "right_knee",
             mpp.L_ANKLE: "left_ankle", mpp.R_ANKLE: "right_ankle", mpp.L_SHOULDER: "left_shoulder",
             mpp.R_SHOULDER: "right_shoulder", mpp.L_ELBOW: "left_elbow", mpp.R_ELBOW: "right_elbow",
             mpp.L_WRIST: "left_wrist", mpp.R_WRIST: "right_wrist"}
    for i, name in names.items():
        lm[:, i] = P[JOINT[name]]
    measured = mpp.landmark_lengths(lm, np.ones((6, 33)))
    assert np.allclose(body_lengths(measured), LENGTHS, atol=1e-4)
    vis = np.ones((6, 33))
    vis[0, mpp.L_WRIST] = 0.2
    got = mpp.joint_lengths(lm, vis)
    assert np.isnan(got[0, BONES.index("left_forearm")]) and np.isfinite(got[1:]).all()
    assert np.allclose(got[1], measured[1] * mpp.JOINT_FROM_LANDMARK)


def test_part_lengths_of_posed_joints_do_not_depend_on_the_limbs_pose():
    from mocap.skeleton import forward_kinematics
    from scipy.spatial.transform import Rotation

    skeleton = proportioned(neutral_skeleton(), LENGTHS)
    rots = Rotation.random(5 * 24, random_state=1).as_matrix().reshape(5, 24, 3, 3)
    for name in ("spine1", "spine2", "spine3", "left_collar", "right_collar"):  # the torso's shape stays
        rots[:, JOINT[name]] = np.eye(3)
    pos, _ = forward_kinematics(rots, np.zeros((5, 3)), skeleton)
    assert np.allclose(part_lengths(pos, skeleton.names), LENGTHS, atol=1e-4)
