"""Axes and units: our frame (Y-up metres, the body facing +Z) and the frames files use.

Inside the engine everything is Y-up metres; only the writers (and the readers of
Z-up files) turn to a file's up axis and unit, through :func:`basis`.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .errors import OutputError
from .motion import Motion
from .skeleton import Skeleton

UP_AXES: tuple[str, ...] = ("y", "z")
UNIT_NAMES: dict[str, float] = {"m": 1.0, "cm": 0.01}  # metres per file unit

# Our Y-up world -> a Z-up world: (x, y, z) -> (x, -z, y). A person facing +Z faces -Y
# (Blender's and USD's "front"), their left stays +X.
C_YUP_TO_ZUP = np.array([[1.0, 0, 0], [0, 0, -1.0], [0, 1.0, 0]])


def basis(up: str, units: str) -> tuple[np.ndarray, float]:
    """(3, 3) rotation from our Y-up frame to the file's, and file units per metre."""
    if up not in UP_AXES or units not in UNIT_NAMES:
        raise OutputError(f"up axis must be one of {', '.join(UP_AXES)} and units one of {', '.join(UNIT_NAMES)}")
    return (C_YUP_TO_ZUP if up == "z" else np.eye(3)), 1.0 / UNIT_NAMES[units]


def in_file_frame(motion: Motion, up: str, units: str) -> Motion:
    """``motion`` expressed in a file's frame: lengths in ``units``, axes turned so ``up`` is up.

    Rotations become ``C R Cᵀ``, rest offsets and translation ``s C v``, rest frames
    ``C F``: joint positions by forward kinematics are the original ones in the new frame.
    """
    C, s = basis(up, units)
    if up == "y" and s == 1.0:
        return motion
    sk = motion.skeleton
    skeleton = Skeleton(sk.names, sk.parents, s * sk.rest_offsets @ C.T,
                        None if sk.rest_frames is None else C @ sk.rest_frames)
    return replace(motion, rotations=C @ motion.rotations @ C.T, translation=s * motion.translation @ C.T,
                   skeleton=skeleton)
