"""The SMPL body model, owned here: reading the original files safely, the shaped skeleton,
the rest mesh and its skinning weights (:class:`BodyModel`). Nothing else knows its layout.

The official SMPL ``.pkl`` files are Python 2 pickles whose arrays are wrapped
in ``chumpy`` objects and a ``scipy.sparse`` joint regressor. Loading them
normally needs chumpy (broken on Python 3.11) and lets the file run any code
it names. :func:`convert_smpl_pkl` reads them with a restricted unpickler
instead: numpy's own array reconstruction is allowed, chumpy and scipy.sparse
objects become inert records of their state (turned into arrays here), and any
other global is refused. The result is a plain ``.npz`` (no objects) that
``smplx`` loads directly.

Arrays (SMPL naming): ``v_template`` (6890, 3), ``shapedirs`` (6890, 3, B),
``posedirs`` (6890, 3, 207), ``J_regressor`` (24, 6890), ``weights`` (6890, 24),
``kintree_table`` (2, 24), ``f`` (13776, 3). Metres, Y-up, T-pose.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError
from .skeleton import SMPL_JOINT_NAMES, SMPL_PARENTS, Skeleton, rest_offsets

KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")


class _Record:
    """An object the pickle builds from a class we do not trust: keeps its state, nothing else."""

    def __init__(self, *args, **kwargs):
        self.args = args

    def __setstate__(self, state):
        self.state = state


_SAFE = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"), ("copyreg", "_reconstructor"), ("builtins", "object"),
    ("_codecs", "encode"),  # protocol 2 stores bytes as latin-1 text
    ("builtins", "set"), ("builtins", "frozenset"),
}
_RECORDED = ("chumpy", "scipy")


class _SMPLUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        module = {"__builtin__": "builtins", "copy_reg": "copyreg"}.get(module, module)  # Python 2 names
        if (module, name) in _SAFE:
            return super().find_class(module, name)
        if module.split(".")[0] in _RECORDED:
            return type(name, (_Record,), {"__module__": module})
        raise pickle.UnpicklingError(f"refused global {module}.{name}")


def _array(value) -> np.ndarray:
    """A chumpy Ch, a scipy sparse matrix (as recorded) or an array -> a numpy array."""
    if isinstance(value, _Record):
        state = getattr(value, "state", None) or {}
        if isinstance(state, dict) and "x" in state:  # chumpy: the data lives in .x
            return _array(state["x"])
        if isinstance(state, dict) and {"data", "indices", "indptr"} <= set(state):  # scipy.sparse
            from scipy.sparse import csc_matrix, csr_matrix

            shape = state.get("_shape") or state.get("shape")
            kind = csr_matrix if str(state.get("format", "csc")) == "csr" else csc_matrix
            return kind((state["data"], state["indices"], state["indptr"]), shape=shape).toarray()
        raise ValueError(f"cannot read a {type(value).__module__}.{type(value).__name__} object")
    return np.asarray(value)


def read_smpl_pkl(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of an original SMPL ``.pkl`` (see the module notes), read without running code.

    Raises:
        InputError: missing, unreadable, refused (it names code to run), or not an SMPL model.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: SMPL model file not found")
    try:
        with open(path, "rb") as f:
            data = _SMPLUnpickler(f, encoding="latin1").load()
    except pickle.UnpicklingError as exc:
        if str(exc).startswith("refused"):
            raise InputError(f"{path}: refused, not a plain SMPL model ({exc})") from None
        raise InputError(f"{path}: unreadable SMPL model ({exc})") from None
    except Exception as exc:
        raise InputError(f"{path}: unreadable SMPL model ({type(exc).__name__}: {str(exc)[:120]})") from None
    if not isinstance(data, dict) or not all(k in data for k in KEYS):
        missing = [k for k in KEYS if not isinstance(data, dict) or k not in data]
        raise InputError(f"{path}: not an SMPL model (missing {', '.join(missing)})")
    try:
        arrays = {k: _array(data[k]) for k in KEYS}
    except ValueError as exc:
        raise InputError(f"{path}: {exc}") from None
    _check(path, arrays)
    return arrays


def _check(path, a: dict[str, np.ndarray]) -> None:
    V = a["v_template"].shape[0] if a["v_template"].ndim == 2 else -1
    J = a["J_regressor"].shape[0] if a["J_regressor"].ndim == 2 else -1
    ok = (a["v_template"].shape == (V, 3) and a["shapedirs"].shape[:2] == (V, 3)
          and a["posedirs"].shape[:2] == (V, 3) and a["J_regressor"].shape == (J, V)
          and a["weights"].shape == (V, J) and a["kintree_table"].shape == (2, J) and a["f"].ndim == 2)
    if not ok or J != 24:
        shapes = ", ".join(f"{k} {a[k].shape}" for k in KEYS)
        raise InputError(f"{path}: not an SMPL model (shapes {shapes})")


def convert_smpl_pkl(src: str | Path, dst: str | Path) -> Path:
    """Write the arrays of an SMPL ``.pkl`` to a plain ``.npz`` that ``smplx`` loads, atomically
    (the folder is made if needed, once the file has been read successfully)."""
    return save_smpl_npz(read_smpl_pkl(src), dst)


def save_smpl_npz(arrays: dict[str, np.ndarray], dst: str | Path) -> Path:
    """Write SMPL arrays to ``dst`` (.npz, plain arrays), atomically."""
    from .fileio import atomic_output

    arrays = {k: (v.astype(np.float64) if v.dtype.kind == "f" else v) for k, v in arrays.items()}
    Path(dst).parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(dst) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
    return Path(dst)


@dataclass(frozen=True, eq=False)
class BodyModel:
    """SMPL: a template mesh, shape and pose blend shapes, the joint regressor and skinning weights.

    Attributes (SMPL's own names; metres, Y-up, T-pose):
        v_template: (V, 3) the mean-shape mesh. shapedirs: (V, 3, B) shape blend shapes.
        posedirs: (V, 3, P) pose blend shapes. J_regressor: (24, V) joints from vertices.
        weights: (V, 24) skinning weights. kintree_table: (2, 24) parents (row 0) of joints (row 1).
        f: (F, 3) triangles.
    """

    v_template: np.ndarray
    shapedirs: np.ndarray
    posedirs: np.ndarray
    J_regressor: np.ndarray
    weights: np.ndarray
    kintree_table: np.ndarray
    f: np.ndarray

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "BodyModel":
        return cls(**{k: arrays[k] for k in KEYS})

    def arrays(self) -> dict[str, np.ndarray]:
        """SMPL's arrays by the names its files use (for ``.npz`` files and ``smplx``)."""
        return {k: getattr(self, k) for k in KEYS}

    def __getitem__(self, key: str) -> np.ndarray:
        """An array by its SMPL file name (``model["J_regressor"]``)."""
        if key not in KEYS:
            raise KeyError(key)
        return getattr(self, key)

    def rest_vertices(self, betas: np.ndarray | None = None) -> np.ndarray:
        """(V, 3) the shaped body's mesh in the rest T-pose, metres: v_template + shapedirs betas."""
        v = self.v_template
        if betas is not None:
            b = np.asarray(betas, float)
            n = min(len(b), self.shapedirs.shape[2])
            v = v + self.shapedirs[:, :, :n] @ b[:n]
        return v

    def rest_joints(self, betas: np.ndarray | None = None) -> np.ndarray:
        """(24, 3) the shaped body's joints in the rest pose, metres: J_regressor (v_template + shapedirs betas)."""
        return self.J_regressor @ self.rest_vertices(betas)

    def skeleton(self, betas: np.ndarray | None = None) -> Skeleton:
        """The SMPL-24 skeleton of a body shape ``betas`` (B,) (None: the mean shape)."""
        return Skeleton(SMPL_JOINT_NAMES, SMPL_PARENTS, rest_offsets(SMPL_PARENTS, self.rest_joints(betas)))

    def mesh(self, betas: np.ndarray | None = None) -> "BodyMesh":
        """The mesh of a body shape, skinned to SMPL's 24 joints (each vertex's 4 strongest
        weights, renormalised; SMPL's own weights rarely use more)."""
        weights = np.asarray(self.weights, dtype=np.float64)  # (V, 24)
        top = np.argsort(-weights, axis=1)[:, :4]
        w = np.take_along_axis(weights, top, axis=1)
        w = w / np.maximum(w.sum(axis=1, keepdims=True), 1e-12)
        return BodyMesh(self.rest_vertices(betas), np.asarray(self.f, dtype=np.int64), top, w)

    def smplx_layer(self):
        """An ``smplx.SMPL`` built from the arrays (smplx itself would unpickle the file)."""
        import smplx
        from smplx.utils import Struct

        return smplx.SMPL(model_path="", data_struct=Struct(**self.arrays()), num_betas=self.shapedirs.shape[2])


@dataclass(frozen=True)
class BodyMesh:
    """A skinned body for export (linear blend skinning, at most 4 joints per vertex).

    Attributes:
        vertices: (V, 3) rest-pose positions, metres, in the skeleton's frame.
        faces: (F, 3) vertex indices of triangles.
        joints: (V, 4) joint indices per vertex.
        weights: (V, 4) their weights, each row summing to 1.
    """

    vertices: np.ndarray
    faces: np.ndarray
    joints: np.ndarray
    weights: np.ndarray


def from_buffers(buffers: dict) -> BodyModel | None:
    """The body model in an ``smplx`` SMPL module's buffers (as a checkpoint stores them, without
    the module prefix: ``v_template``, ``shapedirs``, ``J_regressor``, ``posedirs`` (207, V*3),
    ``lbs_weights``, ``faces_tensor``, ``parents``); None when they are not all there."""
    need = ("v_template", "shapedirs", "J_regressor", "posedirs", "lbs_weights", "faces_tensor", "parents")
    if not all(k in buffers for k in need):
        return None
    a = {k: np.asarray(buffers[k].detach().cpu().numpy() if hasattr(buffers[k], "detach") else buffers[k])
         for k in need}
    V = a["v_template"].shape[0]
    parents = a["parents"].astype(np.int64)
    arrays = {
        "v_template": a["v_template"].astype(np.float64), "shapedirs": a["shapedirs"].astype(np.float64),
        "posedirs": a["posedirs"].T.reshape(V, 3, -1).astype(np.float64), "J_regressor": a["J_regressor"].astype(np.float64),
        "weights": a["lbs_weights"].astype(np.float64), "f": a["faces_tensor"].astype(np.int64),
        "kintree_table": np.stack([np.where(parents < 0, 4294967295, parents), np.arange(len(parents))]),
    }
    try:
        _check("checkpoint", arrays)
    except InputError:
        return None
    return BodyModel.from_arrays(arrays)


def rest_pelvis_of_buffers(buffers: dict) -> np.ndarray:
    """(3,) the rest pelvis of the mean shape from an ``smplx`` SMPL module's buffers (``J_regressor``
    (24, V), ``v_template`` (V, 3); tensors or arrays), where a checkpoint has at least these two;
    zeros without them."""
    if "J_regressor" in buffers and "v_template" in buffers:
        J, v = (np.asarray(buffers[k].float().numpy() if hasattr(buffers[k], "float") else buffers[k], np.float32)
                for k in ("J_regressor", "v_template"))
        return J[0] @ v
    return np.zeros(3)


def load_body_model(path: str | Path) -> BodyModel:
    """The body model in an original SMPL ``.pkl`` (read safely) or a converted ``.npz``."""
    return BodyModel.from_arrays(read_smpl_pkl(path) if str(path).lower().endswith(".pkl") else load_smpl_npz(path))


def load_smpl_npz(path: str | Path) -> dict[str, np.ndarray]:
    """The arrays of a converted SMPL ``.npz`` (plain arrays only; see :func:`convert_smpl_pkl`)."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as d:
            arrays = {k: d[k] for k in KEYS}
    except FileNotFoundError:
        raise InputError(f"{path}: SMPL model file not found") from None
    except (KeyError, ValueError, OSError) as exc:
        raise InputError(f"{path}: not a converted SMPL model ({exc})") from None
    _check(path, arrays)
    return arrays


def as_body_model(model: BodyModel | dict[str, np.ndarray]) -> BodyModel:
    """A :class:`BodyModel` from itself or from SMPL's arrays by their file names."""
    return model if isinstance(model, BodyModel) else BodyModel.from_arrays(model)


def rest_joints(model: BodyModel | dict, betas: np.ndarray | None = None) -> np.ndarray:
    """(24, 3) :meth:`BodyModel.rest_joints` of ``model``."""
    return as_body_model(model).rest_joints(betas)


def body_mesh(model: BodyModel | dict, betas: np.ndarray | None = None) -> BodyMesh:
    """:meth:`BodyModel.mesh` of ``model``."""
    return as_body_model(model).mesh(betas)


def smplx_layer(model: BodyModel | dict):
    """:meth:`BodyModel.smplx_layer` of ``model``."""
    return as_body_model(model).smplx_layer()
