"""HMR 2.0 (4D-Humans) in plain PyTorch: the network (:mod:`.vit`, :mod:`.head`,
:mod:`.model`), its checkpoint reader (:mod:`.checkpoint`), its input crops
(:mod:`.preprocess`) and the ``hmr2`` backend (:mod:`.estimator`). Needs ``torch``
(``pip install -e ".[hmr2]"``); importing this package does not import it.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import numpy as np

from ...errors import MocapError
from ...registry import Check
from .. import BACKENDS, Backend, CropSpec, EstimateOptions, ModelCache


def _estimator_module():
    try:
        from . import estimator
    except ImportError as exc:
        raise MocapError(f"--backend hmr2 needs PyTorch and smplx: pip install -e \".[hmr2]\" ({exc})",
                         exit_code=2) from None
    return estimator


def _build(skeleton, options: EstimateOptions, static: bool = False, models: ModelCache | None = None):
    return _estimator_module().HMR2Estimator(skeleton, checkpoint=options.checkpoint, device=options.device,
                                             batch_size=options.batch_size, precision=options.precision,
                                             off_centre=options.off_centre, models=models)


def _body_model(options: EstimateOptions, models: ModelCache | None = None):
    """The checkpoint's own SMPL body (loading the network into ``models``, for the capture)."""
    return _estimator_module().checkpoint_body_model(options.checkpoint, options.device, options.precision,
                                                     models)


def _reads(box: np.ndarray) -> np.ndarray:
    from .preprocess import crop_reach

    return crop_reach(box)


def _checks() -> list[Check]:
    from ...model_files import model_files

    try:
        torch_version = version("torch")
    except PackageNotFoundError:
        torch_version = None
    checks = [Check("backend hmr2: torch", torch_version is not None, f"torch {torch_version}" if torch_version
                    else "not installed", "pip install 'mocap[hmr2]' (install the torch build for your GPU first)",
                    needed=False)]
    for f in model_files():
        found = f.found
        checks.append(Check(f.name, found is not None,
                            f"found at {found}" if found else "missing; looked for " + ", ".join(map(str, f.candidates)),
                            f.get, needed=False))
    return checks


# HMR 2.0 warps its crop from the float box on the frame itself, exactly as 4D-Humans does (box
# grown to 192:256, squared); it keeps no state between frames, so everyone's crops share batches.
BACKENDS.register("hmr2", Backend(
    "HMR 2.0 (4D-Humans' network): needs its checkpoint; fast on a GPU", _build,
    crop=CropSpec(blank_neighbours=False, reads=_reads), batched=True,
    prepare=_body_model, body_model=_body_model, checks=_checks, gpu=True, label="HMR 2.0"))
