"""AMASS-style ``.npz``: the engine's own file (:func:`mocap.motion.save_npz`), which
``mocap export`` turns into any other format."""

from __future__ import annotations

from ..motion import save_npz
from . import FORMATS, Format

FORMATS.register("npz", Format((".npz",), "AMASS-style arrays, every person",
                               lambda scene, path, up, units, meshes: save_npz(scene, path), fixed_frame=True))
