"""The data that travels between stages: :class:`Motion` (one person) and :class:`Scene`.

A scene saves to ``.npz`` with AMASS keys so it opens in the SMPL/AMASS tool
chain, plus our own keys for what AMASS lacks. Files load with
``allow_pickle=False``: no code in a motion file is ever run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from .errors import InputError
from .fileio import atomic_output, write_npz
from .npz_check import check_npz
from .skeleton import FRAME_BLOCK, Skeleton, joint_positions

FORMAT_VERSION = 1


@dataclass
class Camera:
    """How the video was shot.

    Attributes:
        K: (3, 3) pinhole intrinsics in pixels (OpenCV convention).
        image_size: (width, height) in pixels.
        world_from_camera: (4, 4) rigid transform from the OpenCV camera frame
            (x right, y down, z forward) to the Y-up world.
    """

    K: np.ndarray
    image_size: tuple[int, int]
    world_from_camera: np.ndarray = field(default_factory=lambda: opencv_to_yup())


def opencv_to_yup() -> np.ndarray:
    """(4, 4) world_from_camera for a level static camera looking along world -Z.

    A person facing the camera then faces world +Z, SMPL's rest facing.
    """
    m = np.eye(4)
    m[1, 1] = m[2, 2] = -1.0
    return m


@dataclass
class Motion:
    """One person's animation.

    Attributes:
        fps: output frame rate.
        times: (T,) seconds from video start of each frame.
        rotations: (T, J, 3, 3) local joint rotations in the skeleton's joint order.
        translation: (T, 3) world position of the root joint, metres, Y-up.
        betas: (10,) body shape (zeros when unknown).
        confidence: (T,) per-frame confidence in [0, 1]; 0 where the person was not seen.
        skeleton: the rig the rotations drive.
        gender: "neutral", "male" or "female" (AMASS key).
        contacts: (T, 4) bool, feet planted on the ground per frame (left ankle, left toe,
            right ankle, right toe; see :mod:`mocap.contact`), or None when not computed.
    """

    fps: float
    times: np.ndarray
    rotations: np.ndarray
    translation: np.ndarray
    skeleton: Skeleton
    betas: np.ndarray = field(default_factory=lambda: np.zeros(10))
    confidence: np.ndarray | None = None
    gender: str = "neutral"
    contacts: np.ndarray | None = None

    def __post_init__(self):
        self.times = np.asarray(self.times, dtype=np.float64)
        self.rotations = np.asarray(self.rotations, dtype=np.float64)
        self.translation = np.asarray(self.translation, dtype=np.float64)
        self.betas = np.asarray(self.betas, dtype=np.float64)
        T = len(self.times)
        if self.confidence is None:
            self.confidence = np.ones(T)
        self.confidence = np.asarray(self.confidence, dtype=np.float64)
        J = self.skeleton.num_joints
        if self.rotations.shape != (T, J, 3, 3):
            raise ValueError(f"rotations must be (T={T}, J={J}, 3, 3), got {self.rotations.shape}")
        if self.translation.shape != (T, 3) or self.confidence.shape != (T,):
            raise ValueError("translation must be (T, 3) and confidence (T,)")
        if self.contacts is not None:
            self.contacts = np.asarray(self.contacts, dtype=bool)
            if self.contacts.ndim != 2 or len(self.contacts) != T:
                raise ValueError(f"contacts must be (T={T}, F), got {self.contacts.shape}")

    @property
    def num_frames(self) -> int:
        return len(self.times)

    def joint_positions(self, joints=None) -> np.ndarray:
        """(T, K, 3) world positions of joint indices ``joints`` (default all J), metres."""
        return joint_positions(self.rotations, self.translation, self.skeleton, joints)

    def axis_angle(self) -> np.ndarray:
        """(T, J*3) local rotations as axis-angle (AMASS ``poses`` layout)."""
        T, J = self.rotations.shape[:2]
        out = np.empty((T, J * 3))
        for s in range(0, T, FRAME_BLOCK):  # bounded temporaries on long clips
            block = self.rotations[s : s + FRAME_BLOCK]
            out[s : s + FRAME_BLOCK] = Rotation.from_matrix(block.reshape(-1, 3, 3)).as_rotvec().reshape(-1, J * 3)
        return out


@dataclass
class Scene:
    """All people from one video: track id -> :class:`Motion`, plus the shared camera.

    ``tracks`` (track id -> :class:`mocap.track.Tracklet`, image boxes over time) is
    kept when the scene came from detection and tracking; it is not saved to files.
    """

    motions: dict[int, Motion]
    camera: Camera | None = None
    source: str = ""
    tracks: dict | None = None

    @property
    def fps(self) -> float:
        return next(iter(self.motions.values())).fps


# --- .npz -------------------------------------------------------------------


def save_npz(scene: Scene, path: str | Path) -> None:
    """Write a scene to ``path`` atomically.

    Top-level AMASS keys (``poses`` (T, 72) axis-angle, ``trans`` (T, 3),
    ``betas``, ``mocap_framerate``, ``gender``) hold the first person, so
    single-person files work in AMASS tools. AMASS ``trans`` is the SMPL
    translation: root position minus the root's rest position. Every person is
    also stored under ``person<ID>/...`` keys, listed in ``track_ids``.
    """
    if not scene.motions:
        raise ValueError("scene has no motions")
    arrays: dict[str, np.ndarray] = {"mocap_version": np.array(FORMAT_VERSION), "source": np.array(scene.source)}
    ids = sorted(scene.motions)
    arrays["track_ids"] = np.array(ids, dtype=np.int64)
    for i, tid in enumerate(ids):
        fields = _motion_arrays(scene.motions[tid])
        if i == 0:
            arrays.update(fields)
        arrays.update({f"person{tid}/{k}": v for k, v in fields.items()})
    if scene.camera is not None:
        arrays["camera_K"] = np.asarray(scene.camera.K, dtype=np.float64)
        arrays["camera_image_size"] = np.asarray(scene.camera.image_size, dtype=np.int64)
        arrays["camera_world_from_camera"] = np.asarray(scene.camera.world_from_camera, dtype=np.float64)
    with atomic_output(path) as tmp:
        write_npz(tmp, arrays)


def _motion_arrays(m: Motion) -> dict[str, np.ndarray]:
    sk = m.skeleton
    extra = {} if m.contacts is None else {"foot_contacts": m.contacts}
    if sk.rest_frames is not None:
        extra["rest_frames"] = sk.rest_frames
    return extra | {
        "poses": m.axis_angle(),
        "trans": m.translation - sk.rest_offsets[0],
        "betas": m.betas,
        "mocap_framerate": np.array(float(m.fps)),
        "gender": np.array(m.gender),
        "times": m.times,
        "confidence": m.confidence,
        "joint_names": np.array(sk.names),
        "parents": np.array(sk.parents, dtype=np.int64),
        "rest_offsets": sk.rest_offsets,
    }


def load_npz(path: str | Path) -> Scene:
    """Read a scene written by :func:`save_npz` (or a plain single-person AMASS file
    with the SMPL-24 topology, which then gets the neutral skeleton).

    Raises:
        InputError: missing, unreadable, declaring arrays no motion has (refused from the
            ``.npy`` headers, before any data is read: :mod:`mocap.npz_check`), or bad motion data.
    """
    path = Path(path)
    try:
        check_npz(path)  # before np.load, which allocates every array at its declared size
        with np.load(path, allow_pickle=False) as data:
            d = {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except Exception as exc:  # noqa: BLE001 - zipfile/zlib/numpy raise many kinds on damaged bytes
        raise InputError(f"{path}: not a readable motion .npz ({_short(exc)})") from None
    try:
        if "track_ids" in d:
            ids = [int(t) for t in np.atleast_1d(d["track_ids"])]
            motions = {tid: _motion_from(d, f"person{tid}/") for tid in ids}
        else:
            motions = {0: _motion_from(d, "")}
    except KeyError as exc:
        raise InputError(f"{path}: motion file lacks key {exc.args[0]!r}") from None
    except (ValueError, TypeError) as exc:
        raise InputError(f"{path}: bad motion data ({_short(exc)})") from None
    camera = None
    if "camera_K" in d:
        w, h = (int(v) for v in d["camera_image_size"])
        camera = Camera(d["camera_K"], (w, h), d["camera_world_from_camera"])
    return Scene(motions, camera, str(d.get("source", "")))


def _motion_from(d: dict[str, np.ndarray], prefix: str) -> Motion:
    from .skeleton import neutral_skeleton

    poses = np.asarray(d[prefix + "poses"], dtype=np.float64)
    if poses.ndim != 2 or poses.shape[1] % 3:
        raise ValueError(f"poses must be (T, 3*J), got {poses.shape}")
    if prefix + "joint_names" in d:
        names = tuple(str(n) for n in d[prefix + "joint_names"])
        sk = Skeleton(names, tuple(int(p) for p in d[prefix + "parents"]), d[prefix + "rest_offsets"],
                      d.get(prefix + "rest_frames"))
    else:
        sk = neutral_skeleton()
    T, J = poses.shape[0], sk.num_joints
    if poses.shape[1] < 3 * J:
        raise ValueError(f"poses has {poses.shape[1] // 3} joints, skeleton needs {J}")
    poses = poses[:, : 3 * J]  # AMASS SMPL-H files carry hand joints after the 22/24 body ones
    fps = float(d[prefix + "mocap_framerate"])
    if not np.isfinite(fps) or fps <= 0:
        raise ValueError(f"frame rate must be positive, got {fps}")
    for key in ("poses", "trans"):
        if not np.all(np.isfinite(d[prefix + key])):
            raise ValueError(f"{key} contains NaN or Inf")
    rot = Rotation.from_rotvec(poses.reshape(-1, 3)).as_matrix().reshape(T, J, 3, 3)
    times = d.get(prefix + "times", np.arange(T) / fps)
    return Motion(
        fps=fps,
        times=times,
        rotations=rot,
        translation=np.asarray(d[prefix + "trans"], dtype=np.float64) + sk.rest_offsets[0],
        skeleton=sk,
        betas=d.get(prefix + "betas", np.zeros(10)),
        confidence=d.get(prefix + "confidence"),
        gender=str(d.get(prefix + "gender", "neutral")),
        contacts=d.get(prefix + "foot_contacts"),
    )


def _short(exc: BaseException) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
