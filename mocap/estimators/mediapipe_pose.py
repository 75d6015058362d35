"""MediaPipe Pose (BlazePose, legacy ``mp.solutions.pose`` API) as a body estimator.

mediapipe 0.10.21's wheel ships ``pose_detection.tflite`` and
``pose_landmark_full.tflite``, so ``model_complexity=1`` runs offline (0 and 2
download their model at run time). BlazePose gives 33 landmarks: image
positions and metric "world" positions centred between the hips, in camera
orientation (x right, y down, z away from the camera). They become SMPL-24
joint rotations by inverse kinematics onto our skeleton: each joint's global
frame is fitted to a primary bone direction plus a secondary direction that
fixes the twist, then made local.
"""

from __future__ import annotations

import os
from typing import Sequence

import numpy as np

from ..camera import ray_rotation, solve_translation
from ..proportions import BONES
from ..rotations import align_axes, blend, normalize, swing
from ..skeleton import JOINT, LIMB_JOINTS, Skeleton
from ..registry import Check
from . import BACKENDS, Backend, EstimateOptions, Estimates

# BlazePose landmark indices.
NOSE, L_EAR, R_EAR = 0, 7, 8
L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST = 11, 12, 13, 14, 15, 16
L_PINKY, R_PINKY, L_INDEX, R_INDEX = 17, 18, 19, 20
L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE = 23, 24, 25, 26, 27, 28
L_HEEL, R_HEEL, L_TOE, R_TOE = 29, 30, 31, 32
NUM_LANDMARKS = 33
BODY = slice(11, 33)  # shoulders down: the landmarks that carry the body's pose

_UP = np.array([0.0, 1.0, 0.0])
_FORWARD = np.array([0.0, 0.0, 1.0])
# Rest direction from the mid-point of the ears to the nose: forward, slightly down.
_NOSE_FROM_EARS = normalize(np.array([0.0, -0.25, 1.0]))


class MediaPipePose:
    """BlazePose full (model_complexity=1), one person per image: in video mode (tracking and
    landmark smoothing between frames), or ``static`` (every image on its own)."""

    name = "mediapipe-graph"

    def __init__(self, skeleton: Skeleton, min_detection_confidence: float = 0.5, static: bool = False,
                 off_centre: bool = True):
        os.environ.setdefault("GLOG_minloglevel", "2")
        import mediapipe as mp

        self.skeleton = skeleton
        self.off_centre = off_centre
        self._pose = mp.solutions.pose.Pose(
            static_image_mode=static,
            model_complexity=1,
            smooth_landmarks=not static,
            enable_segmentation=False,
            min_detection_confidence=min_detection_confidence,
            min_tracking_confidence=0.5,
        )

    def detect(self, image: np.ndarray, origin=None) -> tuple[np.ndarray, np.ndarray] | None:
        """Landmarks of the person in one image.

        Args:
            image: (H, W, 3) uint8 RGB; ``origin``: its top-left pixel's place in the frame
                (None: a whole frame), for an estimator that tracks a region in the frame.
        Returns:
            world (33, 3) metres in camera orientation centred between the hips, and
            image (33, 3) pixel x, pixel y, visibility; or None when nobody is found.
        """
        result = self._pose.process(image)
        if result.pose_world_landmarks is None or result.pose_landmarks is None:
            return None
        h, w = image.shape[:2]
        world = np.array([(p.x, p.y, p.z) for p in result.pose_world_landmarks.landmark])
        img = np.array([(p.x * w, p.y * h, p.visibility) for p in result.pose_landmarks.landmark])
        return world, img

    def __call__(self, images: Sequence[np.ndarray], times: np.ndarray, K: np.ndarray,
                 offsets: np.ndarray | None = None) -> Estimates:
        n = len(images)
        world = np.zeros((n, NUM_LANDMARKS, 3))
        pixels = np.zeros((n, NUM_LANDMARKS, 3))
        found = np.zeros(n, dtype=bool)
        for i, image in enumerate(images):
            seen = self.detect(image, None if offsets is None else np.asarray(offsets[i], float))
            if seen is not None:
                world[i], pixels[i] = seen
                found[i] = True
        if offsets is not None:  # crop pixels → image pixels
            pixels[:, :, :2] += np.asarray(offsets, float)[:, None, :]
        return estimates_on_camera_rays(np.asarray(times, float), world, pixels, found, K, self.skeleton,
                                        self.off_centre)

    def close(self) -> None:
        self._pose.close()


def estimates_on_camera_rays(times: np.ndarray, world: np.ndarray, pixels: np.ndarray, found: np.ndarray,
                             K: np.ndarray, skeleton: Skeleton, off_centre: bool = True) -> Estimates:
    """:func:`landmarks_to_estimates` of landmarks seen on a crop around the person (same shapes).

    BlazePose orients its world landmarks as seen looking straight at its crop: with
    ``off_centre`` they are turned by the angle between the optical axis and the ray through
    the person (the mid-hip pixel) first. ``world`` is changed in place.
    """
    if found.any() and off_centre:
        mid_hip = 0.5 * (pixels[found, L_HIP, :2] + pixels[found, R_HIP, :2])
        world[found] = np.einsum("nij,nkj->nki", ray_rotation(mid_hip, K), world[found])
    return landmarks_to_estimates(times, world, pixels, found, K, skeleton)


def landmarks_to_estimates(
    times: np.ndarray,
    world: np.ndarray,
    pixels: np.ndarray,
    found: np.ndarray,
    K: np.ndarray,
    skeleton: Skeleton,
) -> Estimates:
    """BlazePose landmarks → SMPL-24 local rotations and root position in the camera frame.

    Args:
        times: (T,) seconds.
        world: (T, 33, 3) metric landmarks in camera orientation, centred between the hips.
        pixels: (T, 33, 3) pixel x, pixel y, visibility.
        found: (T,) bool, frames where the person was detected.
        K: (3, 3) intrinsics.
        skeleton: the SMPL-24 rig the rotations are for.
    """
    T = len(times)
    J = skeleton.num_joints
    rotations = np.tile(np.eye(3), (T, J, 1, 1))
    root = np.full((T, 3), np.nan)
    confidence = np.zeros(T)
    if found.any():
        glob = global_rotations_from_landmarks(world[found], skeleton)
        rotations[found] = local_from_global(glob, skeleton.parents)
        mid_hip = 0.5 * (world[found, L_HIP] + world[found, R_HIP])
        body = world[found] - mid_hip[:, None]
        vis = np.clip(pixels[found, :, 2], 0.0, 1.0)
        hips_cam = solve_translation(body, pixels[found, :, :2], vis, K)
        # Our pelvis joint sits above the hip joints by the rest offset that joins them.
        offs = skeleton.rest_offsets
        pelvis_from_hips = -0.5 * (offs[JOINT["left_hip"]] + offs[JOINT["right_hip"]])
        root[found] = hips_cam + glob[:, 0] @ pelvis_from_hips
        confidence[found] = vis[:, BODY].mean(axis=1)
    lengths = np.full((T, len(BONES)), np.nan)
    joints = np.zeros((T, len(LIMB_JOINTS), 3))
    if found.any():
        lengths[found] = joint_lengths(world[found], pixels[found, :, 2])
        joints[found] = joints_in_image(pixels[found])
    return Estimates(times, rotations, root, confidence, pixels, np.zeros(10), lengths, joints)


# The landmark of each of LIMB_JOINTS.
_LIMB_LANDMARKS = {"left_hip": L_HIP, "right_hip": R_HIP, "left_knee": L_KNEE, "right_knee": R_KNEE,
                   "left_ankle": L_ANKLE, "right_ankle": R_ANKLE, "left_shoulder": L_SHOULDER,
                   "right_shoulder": R_SHOULDER, "left_elbow": L_ELBOW, "right_elbow": R_ELBOW,
                   "left_wrist": L_WRIST, "right_wrist": R_WRIST}


def joints_in_image(pixels: np.ndarray) -> np.ndarray:
    """Where the skeleton's limb joints are in the image, from the landmarks: the landmarks
    themselves, but the hips and the shoulders moved towards (or away from) their mid-point as
    the calibrated widths have them (:data:`JOINT_FROM_LANDMARK`; the same factor in the image
    as in 3D, exact for a body side-on to the ray).

    Args:
        pixels: (T, 33, 3) pixel x, pixel y, visibility.
    Returns:
        (T, len(LIMB_JOINTS), 3) pixel x, pixel y, weight (the visibility, in [0, 1]).
    """
    out = pixels[:, [_LIMB_LANDMARKS[j] for j in LIMB_JOINTS]].astype(np.float64)
    out[..., 2] = np.clip(out[..., 2], 0.0, 1.0)
    for left, right, bone in (("left_hip", "right_hip", "hip_width"),
                              ("left_shoulder", "right_shoulder", "shoulder_width")):
        a, b = LIMB_JOINTS.index(left), LIMB_JOINTS.index(right)
        mid = 0.5 * (out[:, a, :2] + out[:, b, :2])
        factor = JOINT_FROM_LANDMARK[BONES.index(bone)]
        out[:, a, :2] = mid + factor * (out[:, a, :2] - mid)
        out[:, b, :2] = mid + factor * (out[:, b, :2] - mid)
    return out


# The landmarks whose distance measures each of :data:`mocap.proportions.BONES`; a pair of pairs
# is mid-point to mid-point.
_BONE_LANDMARKS = (
    (L_HIP, R_HIP), (L_SHOULDER, R_SHOULDER), ((L_HIP, R_HIP), (L_SHOULDER, R_SHOULDER)),
    (L_HIP, L_KNEE), (R_HIP, R_KNEE), (L_KNEE, L_ANKLE), (R_KNEE, R_ANKLE),
    (L_SHOULDER, L_ELBOW), (R_SHOULDER, R_ELBOW), (L_ELBOW, L_WRIST), (R_ELBOW, R_WRIST),
)
# Joint length / landmark length, per bone of BONES. BlazePose's landmarks are not a skeleton's
# joints: its hips sit ~50 % wider apart, its torso is ~25 % longer and its forearms ~20 %
# longer, its shoulders ~10 % narrower and its upper arms ~10 % shorter. Measured
# on the calibration renders only (scripts/calibrate_proportions.py, which prints this table),
# never on the clips the accuracy is reported on.
JOINT_FROM_LANDMARK = np.array([
    0.67, 1.11, 0.83, 1.00, 1.00, 1.12, 1.12, 1.11, 1.11, 0.84, 0.84,
])  # fmt: skip
MIN_VISIBILITY = 0.5  # both ends of a bone at least this visible for it to be measured


def landmark_lengths(world: np.ndarray, visibility: np.ndarray) -> np.ndarray:
    """The distances between the landmarks that stand for each bone of :data:`BONES`.

    Args:
        world: (T, 33, 3) metric landmarks; visibility: (T, 33) in [0, 1].
    Returns:
        (T, len(BONES)) metres, NaN where an end is less than ``MIN_VISIBILITY`` visible.
    """
    out = np.empty((len(world), len(_BONE_LANDMARKS)))
    for k, (a, b) in enumerate(_BONE_LANDMARKS):
        ends = [np.atleast_1d(e) for e in (a, b)]
        at = [world[:, e].mean(axis=1) for e in ends]
        seen = np.all([visibility[:, e].min(axis=1) >= MIN_VISIBILITY for e in ends], axis=0)
        out[:, k] = np.where(seen, np.linalg.norm(at[0] - at[1], axis=-1), np.nan)
    return out


def joint_lengths(world: np.ndarray, visibility: np.ndarray) -> np.ndarray:
    """(T, len(BONES)) the skeleton's bone lengths, metres, from landmarks (:func:`landmark_lengths`,
    shapes as there) mapped to the joints' definitions by :data:`JOINT_FROM_LANDMARK`."""
    return landmark_lengths(world, visibility) * JOINT_FROM_LANDMARK


def local_from_global(glob: np.ndarray, parents) -> np.ndarray:
    """(T, J, 3, 3) local rotations from (T, J, 3, 3) global ones."""
    local = glob.copy()
    for j, p in enumerate(parents):
        if p >= 0:
            local[:, j] = np.swapaxes(glob[:, p], -1, -2) @ glob[:, j]
    return local


def _bend_weight(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """(T, 1) trust in the plane of two bones: 0 when straight (< 15°), 1 when bent > 45°."""
    angle = np.degrees(np.arccos(np.clip(np.sum(normalize(u) * normalize(v), -1, keepdims=True), -1, 1)))
    return np.clip((angle - 15.0) / 30.0, 0.0, 1.0)


def _perp(v: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Unit component of (T, 3) ``v`` perpendicular to (T, 3) ``axis``."""
    a = normalize(axis)
    return normalize(v - np.sum(v * a, axis=-1, keepdims=True) * a)


def _child_swing(parent: np.ndarray, rest_bone: np.ndarray, bone: np.ndarray) -> np.ndarray:
    """(T, 3, 3) global frame of a hinge-like joint: the parent's frame turned by the
    smallest rotation that lays the rest bone onto the observed (T, 3) ``bone`` (no twist)."""
    return swing(parent @ rest_bone, bone) @ parent


# How far a foot turns from where its knee points, degrees either way (the shin's twist and the
# foot's own turn): an anatomical range, not fitted. Beyond it a foot is the network's error.
MAX_FOOT_YAW = 30.0
SWAPPED_FOOT_YAW = 120.0  # a foot pointing further back than this has heel and toe swapped


def plausible_foot(foot: np.ndarray, frame: np.ndarray, max_yaw: float) -> np.ndarray:
    """Heel-to-toe directions (T, 3) a body can have, given the frames (T, 3, 3) (rest → landmark
    frame: +X left, +Y up, +Z forward) of the knee or the pelvis: a foot pointing backwards is
    turned round (heel and toe swapped), one turned further than ``max_yaw`` degrees from the
    frame's forward direction is turned back to it, about the frame's up axis; pitch and length
    are kept."""
    local = np.einsum("tji,tj->ti", frame, foot)
    yaw = np.degrees(np.arctan2(local[:, 0], local[:, 2]))
    swapped = np.abs(yaw) > SWAPPED_FOOT_YAW
    local[swapped] = -local[swapped]
    yaw[swapped] = np.degrees(np.arctan2(local[swapped, 0], local[swapped, 2]))
    turn = np.radians(np.clip(yaw, -max_yaw, max_yaw) - yaw)
    c, s = np.cos(turn), np.sin(turn)
    x, z = local[:, 0].copy(), local[:, 2].copy()
    local[:, 0], local[:, 2] = c * x + s * z, -s * x + c * z
    return np.einsum("tij,tj->ti", frame, local)


def global_rotations_from_landmarks(lm: np.ndarray, skeleton: Skeleton) -> np.ndarray:
    """Fit every SMPL-24 joint's global frame to BlazePose world landmarks.

    Twist comes from the landmarks where they define it: pelvis and chest from
    hips and shoulders, head from ears and nose, feet from heel and toe (within
    ``MAX_FOOT_YAW`` of where the knee points, :func:`plausible_foot`), hands
    from index and pinky, thighs and upper arms from the knee/elbow bend (or,
    when the limb is straight, from the hips' forward direction / the hand).

    Args:
        lm: (T, 33, 3) landmarks, any right-handed frame (the result is in that frame).
        skeleton: SMPL-24 rig; its rest pose defines the rest directions.
    Returns:
        (T, 24, 3, 3) global joint rotations (rest frame → landmark frame).
    """
    P = skeleton.rest_positions()
    rest = lambda a, b: P[JOINT[b]] - P[JOINT[a]]  # noqa: E731
    T = len(lm)
    G = np.tile(np.eye(3), (T, skeleton.num_joints, 1, 1))
    mid_hip = 0.5 * (lm[:, L_HIP] + lm[:, R_HIP])
    mid_shoulder = 0.5 * (lm[:, L_SHOULDER] + lm[:, R_SHOULDER])
    spine_up = mid_shoulder - mid_hip

    rest_up = 0.5 * (P[JOINT["left_shoulder"]] + P[JOINT["right_shoulder"]]
                     - P[JOINT["left_hip"]] - P[JOINT["right_hip"]])
    pelvis = align_axes(lm[:, L_HIP] - lm[:, R_HIP], spine_up, rest("right_hip", "left_hip"), rest_up)
    chest = align_axes(lm[:, L_SHOULDER] - lm[:, R_SHOULDER], spine_up,
                       rest("right_shoulder", "left_shoulder"), rest_up)
    G[:, JOINT["pelvis"]] = pelvis
    G[:, JOINT["spine1"]] = blend(pelvis, chest, 1 / 3)
    G[:, JOINT["spine2"]] = blend(pelvis, chest, 2 / 3)
    G[:, JOINT["spine3"]] = chest
    G[:, JOINT["left_collar"]] = chest
    G[:, JOINT["right_collar"]] = chest

    mid_ear = 0.5 * (lm[:, L_EAR] + lm[:, R_EAR])
    head = align_axes(lm[:, L_EAR] - lm[:, R_EAR], lm[:, NOSE] - mid_ear, [1.0, 0, 0], _NOSE_FROM_EARS)
    G[:, JOINT["neck"]] = blend(chest, head, 0.5)
    G[:, JOINT["head"]] = head

    for side, (sh, el, wr, pinky, index) in {
        "left": (L_SHOULDER, L_ELBOW, L_WRIST, L_PINKY, L_INDEX),
        "right": (R_SHOULDER, R_ELBOW, R_WRIST, R_PINKY, R_INDEX),
    }.items():
        upper, fore = lm[:, el] - lm[:, sh], lm[:, wr] - lm[:, el]
        palm = lm[:, index] - lm[:, pinky]  # thumb-side across the hand: +Z in the palm-down T-pose
        # Elbow flexion moves the forearm towards +Z in the rest pose; a straight arm
        # has no bend plane, so its twist follows the hand instead.
        w = _bend_weight(upper, fore)
        ref = w * _perp(fore, upper) + (1 - w) * _perp(palm, upper)
        shoulder = align_axes(upper, ref, rest(f"{side}_shoulder", f"{side}_elbow"), _FORWARD)
        G[:, JOINT[f"{side}_shoulder"]] = shoulder
        G[:, JOINT[f"{side}_elbow"]] = _child_swing(shoulder, rest(f"{side}_elbow", f"{side}_wrist"), fore)
        hand_dir = 0.5 * (lm[:, index] + lm[:, pinky]) - lm[:, wr]
        wrist = align_axes(hand_dir, palm, rest(f"{side}_wrist", f"{side}_hand"), _FORWARD)
        G[:, JOINT[f"{side}_wrist"]] = wrist
        G[:, JOINT[f"{side}_hand"]] = wrist

    for side, (hip, knee, ankle, heel, toe) in {
        "left": (L_HIP, L_KNEE, L_ANKLE, L_HEEL, L_TOE),
        "right": (R_HIP, R_KNEE, R_ANKLE, R_HEEL, R_TOE),
    }.items():
        thigh, shin = lm[:, knee] - lm[:, hip], lm[:, ankle] - lm[:, knee]
        # The knee points +Z in the rest pose: opposite to where a bending shin goes. A straight
        # leg has no bend plane: its knee points where the hips face, not where the foot does
        # (the network often throws a foot sideways, or swaps heel and toe, seen from behind).
        w = _bend_weight(thigh, shin)
        ref = w * -_perp(shin, thigh) + (1 - w) * _perp(pelvis[:, :, 2], thigh)
        upper_leg = align_axes(thigh, ref, rest(f"{side}_hip", f"{side}_knee"), _FORWARD)
        G[:, JOINT[f"{side}_hip"]] = upper_leg
        G[:, JOINT[f"{side}_knee"]] = _child_swing(upper_leg, rest(f"{side}_knee", f"{side}_ankle"), shin)
        foot = plausible_foot(lm[:, toe] - lm[:, heel], G[:, JOINT[f"{side}_knee"]], MAX_FOOT_YAW)
        # Heel→toe is +Z (sole flat) in the rest pose. Nothing observes the foot's roll
        # about that line, so the foot takes the shin's twist.
        ankle_frame = _child_swing(G[:, JOINT[f"{side}_knee"]], _FORWARD, foot)
        G[:, JOINT[f"{side}_ankle"]] = ankle_frame
        G[:, JOINT[f"{side}_foot"]] = ankle_frame
    return G


def _checks() -> list[Check]:
    try:
        import mediapipe  # noqa: F401
        from mediapipe.tasks.python import vision  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - any import failure is the finding
        return [Check("backend mediapipe-graph", False, f"{type(exc).__name__}: {exc}"[:160],
                      "reinstall: scripts/install.sh (mediapipe==0.10.21)")]
    from importlib.metadata import version

    return [Check("backend mediapipe-graph", True, f"mediapipe {version('mediapipe')} (models inside the wheel)")]


def _build(skeleton: Skeleton, options: EstimateOptions, static: bool = False, models=None) -> MediaPipePose:
    return MediaPipePose(skeleton, static=static, off_centre=options.off_centre)


# MediaPipe finds the person in a square with room around it, neighbours blanked.
BACKENDS.register("mediapipe-graph", Backend("MediaPipe Pose's own graph (BlazePose full, legacy API) on crops "
                                             "from the detector's boxes: offline, CPU", _build, checks=_checks,
                                             label="MediaPipe (graph)"))
