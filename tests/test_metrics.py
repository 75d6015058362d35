import numpy as np
from scipy.spatial.transform import Rotation

from mocap.metrics import EVAL_JOINTS, mpjpe, pa_mpjpe, procrustes_align, select_joints


def test_procrustes_removes_similarity_exactly():
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(5, 12, 3))
    R = Rotation.random(5, random_state=1).as_matrix()
    pred = 1.7 * np.einsum("tij,tkj->tki", R, gt) + rng.normal(size=(5, 1, 3))
    assert np.abs(procrustes_align(pred, gt) - gt).max() < 1e-9
    assert pa_mpjpe(pred, gt) < 1e-6
    assert mpjpe(pred, gt) > 100  # rotation and scale are not forgiven by MPJPE


def test_mpjpe_in_millimetres_after_hip_alignment():
    gt = np.zeros((2, 12, 3))
    pred = gt + 5.0  # a pure translation is forgiven
    pred[:, 4, 0] += 0.012  # one joint 12 mm off
    assert abs(mpjpe(pred, gt) - 1.0) < 1e-9  # 12 mm / 12 joints


def test_select_joints_by_name_and_mapping():
    names = ["x", *EVAL_JOINTS]
    pos = np.arange(len(names) * 3, dtype=float).reshape(1, -1, 3)
    assert np.array_equal(select_joints(pos, names), pos[:, 1:])
    renamed = {f"cmu_{n}": n for n in EVAL_JOINTS}
    assert np.array_equal(select_joints(pos, ["x", *renamed], renamed), pos[:, 1:])
