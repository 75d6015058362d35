"""Original SMPL .pkl files read without running pickled code, converted to .npz for smplx."""

import os
import pickle
import sys
import types

import numpy as np
import pytest

from mocap.body_model import convert_smpl_pkl, read_smpl_pkl, rest_joints
from mocap.errors import InputError

V, J = 6890, 24


def _fake_module(name: str, cls_name: str):
    module = types.ModuleType(name)
    cls = type(cls_name, (object,), {"__module__": name})
    cls.__qualname__ = cls_name
    setattr(module, cls_name, cls)
    return module, cls


def write_smpl_pkl(path, seed=0, extra=None):
    """A synthetic SMPL model pickled the way the official files are: protocol 2, arrays wrapped
    in chumpy ``Ch`` objects (data in ``.x``), the joint regressor a scipy.sparse CSC matrix."""
    from scipy.sparse import csc_matrix

    rng = np.random.default_rng(seed)
    ch_mod, Ch = _fake_module("chumpy.ch", "Ch")
    sp_mod, Csc = _fake_module("scipy.sparse.csc", "csc_matrix")
    saved = {n: sys.modules.get(n) for n in ("chumpy", "chumpy.ch", "scipy.sparse.csc")}
    sys.modules.update({"chumpy": types.ModuleType("chumpy"), "chumpy.ch": ch_mod, "scipy.sparse.csc": sp_mod})

    def ch(a):
        obj = Ch()
        obj.__dict__.update({"x": a, "_dirty_vars": set()})
        return obj

    regressor = np.zeros((J, V))
    for j in range(J):  # each joint: the mean of 10 vertices
        regressor[j, rng.choice(V, 10, replace=False)] = 0.1
    sparse = csc_matrix(regressor)
    reg = Csc()
    reg.__dict__.update({"data": sparse.data, "indices": sparse.indices, "indptr": sparse.indptr,
                         "_shape": sparse.shape, "maxprint": 50, "format": "csc"})
    model = {
        "v_template": ch(rng.normal(0, 0.3, (V, 3))),
        "shapedirs": ch(rng.normal(0, 0.01, (V, 3, 10))),
        "posedirs": rng.normal(0, 0.01, (V, 3, 207)),
        "J_regressor": reg,
        "weights": ch(rng.dirichlet(np.ones(J), V)),
        "kintree_table": np.array([[4294967295, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18,
                                    19, 20, 21], list(range(J))], dtype=np.int64),
        "f": rng.integers(0, V, (13776, 3)).astype(np.uint32),
        "bs_style": "lbs", "bs_type": "lrotmin",
        **(extra or {}),
    }
    try:
        with open(path, "wb") as f:
            pickle.dump(model, f, protocol=2)
    finally:
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m
    return path, model, regressor


def test_official_style_pkl_converts_to_an_npz_that_smplx_loads(tmp_path):
    pytest.importorskip("smplx")
    torch = pytest.importorskip("torch")
    from mocap.body_model import load_smpl_npz, smplx_layer

    src, model, regressor = write_smpl_pkl(tmp_path / "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl")
    arrays = read_smpl_pkl(src)
    assert arrays["v_template"].shape == (V, 3) and arrays["shapedirs"].shape == (V, 3, 10)
    np.testing.assert_array_equal(arrays["J_regressor"], regressor)
    np.testing.assert_array_equal(arrays["v_template"], model["v_template"].x)
    dst = convert_smpl_pkl(src, tmp_path / "SMPL_NEUTRAL.npz")
    with np.load(dst, allow_pickle=False) as d:  # plain arrays only
        assert sorted(d.files) == sorted(arrays)
    body = smplx_layer(load_smpl_npz(dst))
    betas = np.linspace(-1, 1, 10)
    out = body(betas=torch.tensor(betas[None], dtype=torch.float32))
    ours = rest_joints(arrays, betas)
    np.testing.assert_allclose(out.joints[0, :24].detach().numpy(), ours, atol=1e-5)


class _Exploit:
    def __reduce__(self):
        return os.system, (f"touch {self.target}",)


def test_pkl_that_would_run_code_is_refused(tmp_path):
    evil = _Exploit()
    evil.target = tmp_path / "pwned"
    src, _, _ = write_smpl_pkl(tmp_path / "evil.pkl", extra={"payload": evil})
    with pytest.raises(InputError, match=r"evil.pkl: refused.*system"):
        read_smpl_pkl(src)
    assert not (tmp_path / "pwned").exists()
    assert not (tmp_path / "out.npz").exists()


def test_not_an_smpl_model(tmp_path):
    p = tmp_path / "other.pkl"
    with open(p, "wb") as f:
        pickle.dump({"v_template": np.zeros((10, 3))}, f, protocol=2)
    with pytest.raises(InputError, match="not an SMPL model"):
        read_smpl_pkl(p)
    (tmp_path / "cut.pkl").write_bytes(write_smpl_pkl(tmp_path / "x.pkl")[0].read_bytes()[:5000])
    with pytest.raises(InputError, match="cut.pkl: unreadable"):
        read_smpl_pkl(tmp_path / "cut.pkl")
