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
refused where the unpickler meets its name, before anything could call it.

Names are looked up as Python 3 names: a pickle of protocol 2 (``torch.save``'s
default) writes Python 2 names (``__builtin__.set`` for the ``set`` in a yacs
``CfgNode``'s ``__dict__``), mapped through ``_compat_pickle`` first, as pickle
itself maps them, and only then checked against the allow-list.
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


def python3_name(module: str, name: str) -> tuple[str, str]:
    """A global's Python 3 (module, name), from the Python 2 one a protocol < 3 pickle may carry."""
    import _compat_pickle

    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


def _inert(name: str) -> type:
    return type(name.rsplit(".", 1)[-1], (_Inert,), {})


class RefusedGlobal(Exception):
    """A pickle names a global outside the allow-list: loading it could run code."""

    def __init__(self, name: str):
        super().__init__(f"refused global {name}")
        self.name = name


def _restricted_pickle(allowed: dict):
    """A pickle module whose Unpickler only resolves the ``allowed`` globals (full name -> object)
    and the metadata modules' classes (see the module notes)."""
    import pickle
    import types

    class Unpickler(pickle.Unpickler):
        def find_class(self, module: str, name: str):
            # (Mapped whatever the protocol: the C unpickler does not expose it, and a mapped
            # name still has to pass the allow-list.)
            module, name = python3_name(module, name)
            full = f"{module}.{name}"
            if full in allowed:
                return allowed[full]
            if module.split(".")[0] in METADATA_MODULES:
                return _inert(full)
            raise RefusedGlobal(full)

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
    from torch._weights_only_unpickler import _get_allowed_globals

    try:
        obj = torch.load(path, map_location="cpu", pickle_module=_restricted_pickle(_get_allowed_globals()),
                         weights_only=False)
    except RefusedGlobal as exc:
        raise InputError(f"{path}: refused, the checkpoint would run code on loading ({exc.name})") from None
    except Exception as exc:  # not a zip/pickle checkpoint, truncated, ...
        raise InputError(f"{path}: not a readable PyTorch checkpoint ({_short(exc)})") from None
    state = obj.get("state_dict", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(f"{path}: no state_dict of tensors in the checkpoint")
    return dict(state)


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else type(exc).__name__
