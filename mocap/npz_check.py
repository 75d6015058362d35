"""Sizing up a motion ``.npz`` from its members' ``.npy`` headers, before any array is read.

``np.load`` allocates each array whole from the shape its header declares, so a few
megabytes of zip can ask for gigabytes. :func:`check_npz` reads only the headers and
refuses shapes no motion has. The Blender add-on (``blender_addon/motion_io.py``) keeps
a copy of :func:`npz_headers` and :func:`check_sizes` (it runs without mocap installed); a
test keeps the copies equal.
"""

from __future__ import annotations

import zipfile

import numpy as np

MAX_FRAMES = 8_640_000  # 10 hours at 240 fps: longer than any capture session
MAX_JOINTS = 1024  # SMPL-X has 55, a film rig with face and fingers a few hundred
MAX_ARRAY_BYTES = 2 << 30  # one array: a 24-joint float64 `poses` of 3.7 M frames (4.3 h at 240 fps)
MAX_TOTAL_BYTES = 8 << 30  # every array together (np.load holds them all): the top-level copy and a few people

# Key (after any "person<ID>/" prefix) -> its dimensions: "T" frames (one count for a whole
# person), "J" joints or contact points, "3J" three per joint, an int that exact size.
LAYOUTS = {
    "poses": ("T", "3J"), "trans": ("T", 3), "times": ("T",), "confidence": ("T",),
    "foot_contacts": ("T", "J"), "joint_names": ("J",), "parents": ("J",), "rest_offsets": ("J", 3),
    "rest_frames": ("J", 3, 3),
}
_BOUNDS = {"T": (MAX_FRAMES, "frames"), "J": (MAX_JOINTS, "joints"),
           "3J": (3 * MAX_JOINTS, f"values ({MAX_JOINTS} joints)")}
NUMERIC = {"poses", "trans", "times", "confidence", "foot_contacts", "parents", "rest_offsets", "rest_frames",
           "betas", "mocap_framerate", "track_ids", "mocap_version", "camera_K", "camera_image_size",
           "camera_world_from_camera"}


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


def check_npz(path) -> None:
    """Refuse a ``.npz`` whose declared arrays no motion could hold (see the limits above).

    Raises:
        ValueError: one line naming the key, its declared shape and dtype, and the problem.
    """
    headers = npz_headers(path)
    check_sizes(headers)
    for key, (shape, dtype) in headers.items():
        _check_layout(key, shape, dtype, headers)


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


def _check_layout(key: str, shape: tuple[int, ...], dtype: np.dtype, headers: dict) -> None:
    """Refuse ``shape`` when it breaks the key's layout: dimensions, bounds, the person's frame count."""
    prefix, _, base = key.rpartition("/")
    layout = LAYOUTS.get(base)
    if layout is None:
        return
    what = f"{key!r} declares shape {shape} {dtype}"
    if len(shape) != len(layout):
        raise ValueError(f"{what}: expected {len(layout)} dimensions")
    poses = headers.get(f"{prefix}/poses" if prefix else "poses", ((),))[0]
    for size, dim in zip(shape, layout):
        if isinstance(dim, int) and size != dim:
            raise ValueError(f"{what}: expected {layout}")
        limit, unit = _BOUNDS.get(dim, (size, ""))
        if size > limit:
            raise ValueError(f"{what}: over {limit:,} {unit}")
        if dim == "T" and poses and size != poses[0]:
            raise ValueError(f"{what}: {size} frames, but 'poses' has {poses[0]}")
