"""Reading 4D-Humans' released checkpoint without running any code it carries.

The released file (``epoch=35-step=1000000.ckpt``) is a PyTorch Lightning
checkpoint: a pickle holding ``state_dict`` (the weights) plus training metadata
(the yacs config object, optimizer states, callback states). PyTorch's own
``weights_only`` unpickler cannot build the yacs config (a dict subclass), so
the file is read by a restricted unpickler with an allow-list instead: the
globals ``weights_only`` allows (tensor rebuilding, plain containers, dtypes)
are used as they are; classes from the metadata modules (yacs, Lightning,
omegaconf, ...) become an inert placeholder that only stores what it is given;
any other global (``os.system``, ``builtins.eval``, an unknown module) is
refused before anything is read.
"""

from __future__ import annotations

from pathlib import Path

from ...errors import InputError

# Top-level modules whose classes may appear as training metadata in a checkpoint;
# they are replaced by _Inert, never imported or called.
METADATA_MODULES = ("yacs", "pytorch_lightning", "lightning", "lightning_fabric", "omegaconf", "pathlib",
                    "argparse", "hmr2", "numpy", "typing", "_codecs")


class _Inert(dict):
    """Stands in for any metadata class: accepts any construction and state, runs nothing."""

    def __new__(cls, *args, **kwargs):
        return super().__new__(cls)

    def __init__(self, *args, **kwargs):
        super().__init__()

    def __setstate__(self, state):
        self["__state__"] = state


def _inert(name: str) -> type:
    return type(name.rsplit(".", 1)[-1], (_Inert,), {})


def _restricted_pickle():
    """A pickle module whose Unpickler only resolves allowed globals (see the module notes)."""
    import pickle
    import types

    from torch._weights_only_unpickler import _get_allowed_globals

    allowed = _get_allowed_globals()

    class Unpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str):
            full = f"{module}.{name}"
            if full in allowed:
                return allowed[full]
            if module.split(".")[0] in METADATA_MODULES:
                return _inert(full)
            raise pickle.UnpicklingError(f"refused global {full}")

    module = types.ModuleType("mocap_restricted_pickle")
    module.Unpickler = Unpickler
    module.load = lambda f, **kw: Unpickler(f, **kw).load()
    module.__dict__.update({k: getattr(pickle, k) for k in ("UnpicklingError", "HIGHEST_PROTOCOL")})
    return module


def read_state_dict(path: str | Path) -> dict:
    """The weights of a checkpoint: name -> tensor.

    Args:
        path: a Lightning checkpoint (``{"state_dict": ...}``) or a plain state dict saved
            with ``torch.save``.
    Raises:
        InputError: missing, unreadable, truncated, or carrying code (a global outside the
            metadata modules), naming the file and the problem.
    """
    import torch

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: checkpoint not found")
    try:
        names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    except Exception as exc:  # not a zip/pickle checkpoint, truncated, ...
        raise InputError(f"{path}: not a readable PyTorch checkpoint ({_short(exc)})") from None
    code = [n for n in names if n.split(".")[0] not in METADATA_MODULES]
    if code:
        raise InputError(f"{path}: refused, the checkpoint would run code on loading ({', '.join(sorted(code))})")
    try:
        obj = torch.load(path, map_location="cpu", pickle_module=_restricted_pickle(), weights_only=False)
    except Exception as exc:
        raise InputError(f"{path}: not a readable PyTorch checkpoint ({_short(exc)})") from None
    state = obj.get("state_dict", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(f"{path}: no state_dict of tensors in the checkpoint")
    return dict(state)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
