"""Reading the motion files `mocap run` writes (.npz), inside Blender: numpy only.

Blender's Python has numpy but not the mocap engine (it may live in another
environment, or on a GPU machine or a farm), so the add-on reads the file
itself. Layout (see mocap's README, "Formats"): every person under
``person<ID>/...`` keys listed in ``track_ids``: ``poses`` (T, 3J) axis-angle
local rotations (world-aligned joint frames), ``trans`` (T, 3) root position
minus its rest position, ``times`` (T,) video seconds, ``mocap_framerate``,
``joint_names``, ``parents``, ``rest_offsets`` (J, 3), optionally ``rest_frames``
(J, 3, 3). Metres, Y-up, the body facing +Z. Loaded with ``allow_pickle=False``:
nothing in the file runs.

Quaternions here are (w, x, y, z), Blender's order.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass

import numpy as np

# A copy of mocap.npz_check's limits and its npz_headers and check_sizes (Blender's Python may
# lack mocap; tests/test_blender_addon.py keeps the copies equal). np.load allocates each array
# at the size its header declares, so a few megabytes of zip can ask for gigabytes.
MAX_ARRAY_BYTES = 2 << 30  # one array: a 24-joint float64 `poses` of 3.7 M frames (4.3 h at 240 fps)
MAX_TOTAL_BYTES = 8 << 30  # every array together (np.load holds them all): the top-level copy and a few people
NUMERIC = {"poses", "trans", "times", "confidence", "foot_contacts", "parents", "rest_offsets", "rest_frames",
           "betas", "mocap_framerate", "track_ids", "mocap_version", "camera_K", "camera_image_size",
           "camera_world_from_camera"}


class MotionFileError(Exception):
    """A motion file that cannot be used; the message is one line naming the file."""


@dataclass
class Person:
    """One person of a motion file.

    Attributes:
        track_id: the person's id in the capture.
        names: (J,) joint names; parents: (J,) parent index, -1 for the root.
        rest_offsets: (J, 3) offset from the parent at rest, metres (the root's: its position).
        rest_frames: (J, 3, 3) the joints' own axes at rest (world), or None (world-aligned).
        fps: frame rate; times: (T,) seconds from the video's start.
        quaternions: (T, J, 4) w-x-y-z local rotations in world-aligned joint frames.
        translation: (T, 3) the root joint's world position, metres, Y-up.
    """

    track_id: int
    names: tuple[str, ...]
    parents: tuple[int, ...]
    rest_offsets: np.ndarray
    rest_frames: np.ndarray | None
    fps: float
    times: np.ndarray
    quaternions: np.ndarray
    translation: np.ndarray

    def rest_positions(self) -> np.ndarray:
        """(J, 3) joint positions at rest, metres, Y-up."""
        pos = np.zeros_like(self.rest_offsets)
        for j, p in enumerate(self.parents):
            pos[j] = self.rest_offsets[j] + (pos[p] if p >= 0 else 0.0)
        return pos


@dataclass
class MotionFile:
    """Every person of a file, and the camera when the capture stored it.

    Attributes:
        people: in track id order.
        camera: {"K": (3, 3), "image_size": (w, h), "world_from_camera": (4, 4)} or None.
        source: the video the capture came from (a name), or "".
    """

    people: list[Person]
    camera: dict | None
    source: str


def read_motion_npz(path: str) -> MotionFile:
    """Every person of a motion ``.npz`` (see the module notes).

    Raises:
        MotionFileError: missing, unreadable, declaring arrays too large for a motion, or
            not a mocap/AMASS motion.
    """
    try:
        check_sizes(npz_headers(path))  # before np.load: refused from the headers, nothing read
        with np.load(path, allow_pickle=False) as data:
            d = {k: data[k] for k in data.files}
    except FileNotFoundError:
        raise MotionFileError(f"{path}: file not found") from None
    except Exception as exc:  # noqa: BLE001 - zipfile/zlib/numpy raise many kinds on damaged bytes
        raise MotionFileError(f"{path}: not a readable motion .npz ({exc})") from None
    try:
        ids = [int(t) for t in np.atleast_1d(d["track_ids"])] if "track_ids" in d else [0]
        people = [_person(d, f"person{tid}/" if "track_ids" in d else "", tid) for tid in ids]
    except KeyError as exc:
        raise MotionFileError(f"{path}: not a mocap motion file (no {exc.args[0]!r}; "
                              "write one with `mocap run ... --out motion.npz`)") from None
    except ValueError as exc:
        raise MotionFileError(f"{path}: bad motion data ({exc})") from None
    camera = None
    if "camera_K" in d:
        camera = {"K": d["camera_K"], "image_size": tuple(int(v) for v in d["camera_image_size"]),
                  "world_from_camera": d["camera_world_from_camera"]}
    return MotionFile(people, camera, str(d.get("source", "")))


def npz_headers(path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Key -> (shape, dtype) of every member of the ``.npz`` at ``path``, from its header only.

    Raises:
        ValueError: a member that is not a ``.npy`` array (``np.load`` would read it whole).
    """
    out = {}
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            key = name.removesuffix(".npy")
            with z.open(name) as member:
                try:
                    version = np.lib.format.read_magic(member)
                    read = {(1, 0): np.lib.format.read_array_header_1_0,
                            (2, 0): np.lib.format.read_array_header_2_0}.get(version)
                    if read is None:
                        raise ValueError(f"unsupported .npy version {version}")
                    shape, _, dtype = read(member)
                except ValueError as exc:
                    raise ValueError(f"{key!r} is not a .npy array: {exc}") from None
            out[key] = (shape, dtype)
    return out


def check_sizes(headers: dict[str, tuple[tuple[int, ...], np.dtype]]) -> None:
    """Refuse object and (where numbers belong) non-numeric dtypes, and arrays over the byte limits."""
    total = 0
    for key, (shape, dtype) in headers.items():
        what = f"{key!r} declares shape {shape} {dtype}"
        if dtype.hasobject:
            raise ValueError(f"{what}: Python objects, never loaded")
        if key.rsplit("/", 1)[-1] in NUMERIC and dtype.kind not in "biuf":
            raise ValueError(f"{what}: not numbers")
        nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
        total += nbytes
        if nbytes > MAX_ARRAY_BYTES:
            raise ValueError(f"{what}: {nbytes / 2**30:.1f} GiB, over the {MAX_ARRAY_BYTES >> 30} GiB "
                             "an array may hold")
        if total > MAX_TOTAL_BYTES:
            raise ValueError(f"{what}: the arrays reach {total / 2**30:.1f} GiB, over the "
                             f"{MAX_TOTAL_BYTES >> 30} GiB a file may hold")


def _person(d: dict, prefix: str, tid: int) -> Person:
    names = tuple(str(n) for n in d[prefix + "joint_names"])
    parents = tuple(int(p) for p in d[prefix + "parents"])
    offsets = np.asarray(d[prefix + "rest_offsets"], dtype=np.float64)
    poses = np.asarray(d[prefix + "poses"], dtype=np.float64)
    J = len(names)
    if offsets.shape != (J, 3) or len(parents) != J or any(p >= j for j, p in enumerate(parents)):
        raise ValueError("joint names, parents and rest offsets disagree")
    if poses.ndim != 2 or poses.shape[1] < 3 * J:
        raise ValueError(f"poses must be (T, {3 * J}), got {poses.shape}")
    T = len(poses)
    fps = float(d[prefix + "mocap_framerate"])
    times = np.asarray(d.get(prefix + "times", np.arange(T) / fps), dtype=np.float64)
    trans = np.asarray(d[prefix + "trans"], dtype=np.float64)
    if not (np.isfinite(fps) and fps > 0) or times.shape != (T,) or trans.shape != (T, 3):
        raise ValueError("frame rate, times and translation disagree with the poses")
    if not (np.all(np.isfinite(poses)) and np.all(np.isfinite(trans)) and np.all(np.isfinite(times))):
        raise ValueError("NaN or Inf in the motion")
    frames = d.get(prefix + "rest_frames")
    return Person(
        track_id=tid, names=names, parents=parents, rest_offsets=offsets,
        rest_frames=None if frames is None else np.asarray(frames, dtype=np.float64),
        fps=fps, times=times, quaternions=quaternions_from_rotvecs(poses[:, : 3 * J].reshape(T, J, 3)),
        translation=trans + offsets[parents.index(-1)],
    )


def quaternions_from_rotvecs(rotvecs: np.ndarray) -> np.ndarray:
    """(..., 4) w-x-y-z unit quaternions of (..., 3) axis-angle vectors (radians)."""
    angle = np.linalg.norm(rotvecs, axis=-1, keepdims=True)
    # sin(a/2)/a, with its limit 1/2 - a²/48 near zero (no division by ~0).
    small = angle < 1e-6
    scale = np.where(small, 0.5 - angle**2 / 48.0, np.sin(angle / 2) / np.where(small, 1.0, angle))
    return np.concatenate([np.cos(angle / 2), rotvecs * scale], axis=-1)


def quaternion_multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(..., 4) Hamilton products ``a ⊗ b`` of w-x-y-z quaternions (broadcasting)."""
    aw, ax, ay, az = np.moveaxis(a, -1, 0)
    bw, bx, by, bz = np.moveaxis(b, -1, 0)
    return np.stack([aw * bw - ax * bx - ay * by - az * bz,
                     aw * bx + ax * bw + ay * bz - az * by,
                     aw * by - ax * bz + ay * bw + az * bx,
                     aw * bz + ax * by - ay * bx + az * bw], axis=-1)


def conjugate(q: np.ndarray) -> np.ndarray:
    """(..., 4) the inverse rotations of (..., 4) unit w-x-y-z quaternions."""
    return q * np.array([1.0, -1.0, -1.0, -1.0])


def continuous(q: np.ndarray) -> np.ndarray:
    """(T, J, 4) quaternions with each joint's signs chosen along time so that neighbours
    are on one hemisphere (q and -q are one rotation, but keys between them spin)."""
    flips = np.sign(np.einsum("tjk,tjk->tj", q[1:], q[:-1]))
    flips[flips == 0] = 1
    sign = np.concatenate([np.ones((1, q.shape[1])), np.cumprod(flips, axis=0)])
    return q * sign[..., None]
