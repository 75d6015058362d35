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


# --- refused from the .npy headers, before any data is read -------------------------------------


def declaring_npz(path, shape, descr="<f8", key="poses", others=None):
    """A ``.npz`` whose ``key`` member's header declares ``shape`` of ``descr`` but holds only
    1 MiB of zeros (a bomb's opening: refused on its header, never read), plus the AMASS keys
    ``others`` (default: 5 frames) as real arrays."""
    import zipfile

    from numpy.lib import format as npy

    others = {"trans": np.zeros((5, 3)), "mocap_framerate": np.array(30.0)} if others is None else others
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        with z.open(key + ".npy", "w") as member:
            npy.write_array_header_1_0(member, {"descr": descr, "fortran_order": False, "shape": shape})
            member.write(bytes(1 << 20))
        for name, value in others.items():
            with z.open(name + ".npy", "w") as member:
                npy.write_array(member, value)
    return path


def test_huge_declared_array_is_refused_before_reading(tmp_path):
    """poses declaring (7 M, 72) float64 (3.8 GiB) in a 1 MB zip: np.load would allocate it all."""
    import time
    import tracemalloc

    path = declaring_npz(tmp_path / "huge.npz", (7_000_000, 72))
    tracemalloc.start()
    start = time.perf_counter()
    try:
        with pytest.raises(InputError, match=r"huge\.npz.*'poses' declares shape \(7000000, 72\) float64.*GiB"):
            load_npz(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 100e6 and time.perf_counter() - start < 2


@pytest.mark.parametrize("key, shape, descr, others, words", [
    ("poses", (10_000_000, 3), "<f4", None, r"'poses' declares shape \(10000000, 3\).*over 8,640,000 frames"),
    ("poses", (5, 3 * 2000), "<f8", None, r"'poses' declares shape \(5, 6000\).*1024 joints"),
    ("poses", (5, 72), "<U8", None, r"'poses' declares shape \(5, 72\) <U8: not numbers"),
    ("trans", (6, 3), "<f8", {"poses": np.zeros((5, 72))}, r"'trans' declares shape \(6, 3\).*'poses' has 5"),
    ("person0/trans", (5, 3, 1), "<f8", {"person0/poses": np.zeros((5, 72))}, "expected 2 dimensions"),
])
def test_implausible_declared_arrays_are_refused(tmp_path, key, shape, descr, others, words):
    """Too many frames or joints, strings for numbers, a person's frame counts disagreeing, a wrong
    number of dimensions: each refused from the headers (the declared data is never there)."""
    with pytest.raises(InputError, match=words):
        load_npz(declaring_npz(tmp_path / "m.npz", shape, descr, key, others))


def test_total_declared_bytes_are_limited(tmp_path):
    """Five people at 1.9 GiB of poses each: every array under its limit, the file over 8 GiB."""
    import zipfile

    from numpy.lib import format as npy

    path = tmp_path / "many.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(5):
            with z.open(f"person{i}/poses.npy", "w") as member:
                npy.write_array_header_1_0(member, {"descr": "<f8", "fortran_order": False,
                                                    "shape": (3_500_000, 72)})
    with pytest.raises(InputError, match=r"'person4/poses' declares .*over the 8 GiB a file may hold"):
        load_npz(path)


def test_streamed_and_numpy_files_pass_the_header_check(tmp_path):
    """mocap's streamed writer (.npy 2.0 headers, zip64 members), np.savez and np.savez_compressed."""
    from mocap.motion import Motion, Scene, save_npz
    from mocap.npz_check import check_npz

    sk = neutral_skeleton()
    T = 7
    m = Motion(fps=30.0, times=np.arange(T) / 30, rotations=np.tile(np.eye(3), (T, sk.num_joints, 1, 1)),
               translation=np.zeros((T, 3)), skeleton=sk, contacts=np.zeros((T, 4), bool))
    save_npz(Scene({0: m, 3: m}), tmp_path / "streamed.npz")
    check_npz(tmp_path / "streamed.npz")
    assert sorted(load_npz(tmp_path / "streamed.npz").motions) == [0, 3]
    d = {"poses": np.zeros((T, 156)), "trans": np.zeros((T, 3)), "betas": np.zeros(16),
         "mocap_framerate": np.array(120.0), "gender": np.array("female"), "dmpls": np.zeros((T, 8))}
    for save in (np.savez, np.savez_compressed):
        path = tmp_path / f"{save.__name__}.npz"
        save(path, **d)
        check_npz(path)
        assert load_npz(path).motions[0].num_frames == T


def test_huge_declared_array_through_the_cli(tmp_path):
    """`mocap export huge.npz --out x.bvh`: exit 3, one `mocap: error:` line naming the file and
    the key, no traceback, no output."""
    import subprocess
    import sys

    from mocap.errors import EXIT_INPUT

    path = declaring_npz(tmp_path / "huge.npz", (7_000_000, 72))
    proc = subprocess.run([sys.executable, "-m", "mocap", "export", str(path), "--out", str(tmp_path / "x.bvh")],
                          capture_output=True, text=True, timeout=300)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == EXIT_INPUT and "Traceback" not in proc.stderr, proc.stderr
    assert len(lines) == 1 and lines[0].startswith("mocap: error:") and "huge.npz" in lines[0]
    assert "'poses' declares shape (7000000, 72)" in lines[0]
    assert not (tmp_path / "x.bvh").exists()
