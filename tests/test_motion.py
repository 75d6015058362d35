"""The motion file reader: AMASS compatibility and refusing bad files with InputError."""

import numpy as np
import pytest

from mocap.errors import InputError
from mocap.motion import load_npz
from mocap.skeleton import NUM_JOINTS, neutral_skeleton


def _amass(tmp_path, **override):
    T = 5
    d = {"poses": np.zeros((T, 156)), "trans": np.zeros((T, 3)), "betas": np.zeros(16),
         "mocap_framerate": np.array(120.0), "gender": np.array("female")}
    d.update(override)
    path = tmp_path / "m.npz"
    np.savez(path, **{k: v for k, v in d.items() if v is not None})
    return path


def test_plain_amass_file_gets_the_neutral_skeleton(tmp_path):
    poses = np.zeros((5, 156))  # SMPL-H: 52 joints; the first 24 drive our skeleton
    poses[:, 3 * 18 + 1] = 0.5  # left elbow about Y
    scene = load_npz(_amass(tmp_path, poses=poses))
    m = scene.motions[0]
    assert m.rotations.shape == (5, NUM_JOINTS, 3, 3) and m.fps == 120 and m.gender == "female"
    assert np.allclose(m.times, np.arange(5) / 120)
    # AMASS trans is SMPL's: the root sits at trans + its rest position.
    assert np.allclose(m.translation, neutral_skeleton().rest_offsets[0])


@pytest.mark.parametrize("override, words", [
    ({"poses": None}, "lacks key 'poses'"),
    ({"poses": np.zeros((5, 10))}, "bad motion data"),
    ({"trans": np.full((5, 3), np.nan)}, "NaN"),
    ({"mocap_framerate": np.array(0.0)}, "frame rate"),
    ({"poses": np.array([{"a": 1}] * 5, dtype=object)}, "not a readable"),
])
def test_bad_motion_files(tmp_path, override, words):
    with pytest.raises(InputError, match=words):
        load_npz(_amass(tmp_path, **override))


def test_not_an_npz(tmp_path):
    bad = tmp_path / "x.npz"
    bad.write_text("hello")
    with pytest.raises(InputError, match="x.npz"):
        load_npz(bad)
    with pytest.raises(InputError, match="not found"):
        load_npz(tmp_path / "missing.npz")
