"""Property-based tests (hypothesis) of the motion file reader and the BVH writer/reader round
trip, and a short fuzz run of every file reader we own: any bytes give a result or a clean
:class:`mocap.errors.MocapError`, never another exception."""

from __future__ import annotations

import io
import os
import json
import pickle
import tarfile
import zipfile

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra.numpy import arrays  # noqa: E402
from scipy.spatial.transform import Rotation  # noqa: E402

from mocap.errors import MocapError  # noqa: E402
from mocap.formats.bvh import read_bvh, write_bvh  # noqa: E402
from mocap.motion import Motion, Scene, load_npz, save_npz  # noqa: E402
from mocap.skeleton import Skeleton  # noqa: E402

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def skeletons(draw, max_joints: int = 8) -> Skeleton:
    """A random single-rooted tree (parents before children) with offsets up to 0.5 m."""
    J = draw(st.integers(1, max_joints))
    parents = tuple([-1] + [draw(st.integers(0, j - 1)) for j in range(1, J)])
    offsets = draw(arrays(np.float64, (J, 3), elements=st.floats(-0.5, 0.5, allow_nan=False, width=32)))
    names = tuple(f"joint_{j}" for j in range(J))
    return Skeleton(names, parents, offsets)


@st.composite
def motions(draw) -> Motion:
    sk = draw(skeletons())
    T = draw(st.integers(1, 6))
    rotvecs = draw(arrays(np.float64, (T, sk.num_joints, 3), elements=st.floats(-3.0, 3.0, width=32)))
    trans = draw(arrays(np.float64, (T, 3), elements=st.floats(-5.0, 5.0, width=32)))
    fps = draw(st.sampled_from([24.0, 25.0, 29.97, 30.0, 60.0, 120.0]))
    R = Rotation.from_rotvec(rotvecs.reshape(-1, 3)).as_matrix().reshape(T, sk.num_joints, 3, 3)
    return Motion(fps=fps, times=np.arange(T) / fps, rotations=R, translation=trans, skeleton=sk)


@FAST
@given(motion=motions())
def test_motion_file_round_trip(tmp_path_factory, motion):
    """save_npz then load_npz: same skeleton, times, joint positions (any tree, any rotations)."""
    path = tmp_path_factory.mktemp("npz") / "m.npz"
    save_npz(Scene({3: motion}), path)
    back = load_npz(path).motions[3]
    assert back.skeleton.names == motion.skeleton.names and back.skeleton.parents == motion.skeleton.parents
    np.testing.assert_allclose(back.times, motion.times)
    np.testing.assert_allclose(back.joint_positions(), motion.joint_positions(), atol=1e-9)


@FAST
@given(motion=motions(), units=st.sampled_from(["cm", "m"]))
def test_bvh_round_trip(tmp_path_factory, motion, units):
    """write_bvh then read_bvh: same hierarchy and frame rate, joints within 0.01 mm (the file's
    six decimals)."""
    path = tmp_path_factory.mktemp("bvh") / "m.bvh"
    write_bvh(motion, path, units=units)
    data = read_bvh(path, units)
    skeleton, fps, rotations, root = data
    # BVH lists joints depth first: compare by name.
    order = [skeleton.names.index(n) for n in motion.skeleton.names]
    parent_names = [skeleton.names[p] if p >= 0 else None for p in skeleton.parents]
    assert [parent_names[k] for k in order] == [motion.skeleton.names[p] if p >= 0 else None
                                                for p in motion.skeleton.parents]
    assert fps == pytest.approx(motion.fps, rel=1e-5)
    back = Motion(fps=fps, times=motion.times, rotations=rotations, translation=root, skeleton=skeleton)
    np.testing.assert_allclose(back.joint_positions()[:, order], motion.joint_positions(), atol=1e-5)


@FAST
@given(keys=st.dictionaries(st.sampled_from(["poses", "trans", "mocap_framerate", "betas", "times", "track_ids",
                                             "joint_names", "parents", "rest_offsets", "person0/poses"]),
                            st.one_of(arrays(np.float64, st.tuples(st.integers(0, 4), st.integers(0, 80)),
                                             elements=st.floats(allow_nan=True, allow_infinity=True, width=32)),
                                      arrays(np.int64, st.integers(0, 5)),
                                      st.just(np.array("text")))))
def test_motion_reader_takes_any_arrays(tmp_path_factory, keys):
    """Any mix of the keys with any shapes and values: a scene or one clean error."""
    path = tmp_path_factory.mktemp("npz") / "m.npz"
    with open(path, "wb") as f:
        np.savez(f, **keys)
    try:
        scene = load_npz(path)
    except MocapError:
        return
    for m in scene.motions.values():  # what loads is usable
        assert np.all(np.isfinite(m.joint_positions()))


# --- fuzz: every reader we own, on arbitrary bytes ----------------------------------------------


def _readers(tmp):
    from mocap.batch import read_manifest
    from mocap.body_model import load_body_model
    from mocap.model_files import import_file
    from mocap.rigs import load_rig

    return {
        ".npz": load_npz,
        ".bvh": lambda p: read_bvh(p),
        ".csv": read_manifest, ".jsonl": read_manifest, ".yaml": read_manifest,
        ".json": load_rig,
        ".pkl": load_body_model,
        ".tar.gz": lambda p: import_file(p, dest=tmp / "cache"),
    }


SEEDS = {  # a valid-looking start for each reader, so mutations reach past the first check
    ".npz": None, ".bvh": b"HIERARCHY\nROOT a\n{\nOFFSET 0 0 0\nCHANNELS 3 Xposition Yposition Zposition\n}\n"
                           b"MOTION\nFrames: 1\nFrame Time: 0.0333\n0 0 0\n",
    ".csv": b"input,output\na.mp4,a.fbx\n", ".jsonl": b'{"input": "a.mp4"}\n',
    ".yaml": b"takes:\n  - {input: a.mp4}\n",
    ".json": json.dumps({"joints": [{"name": "a", "offset": [0, 0, 0]}]}).encode(),
    ".pkl": pickle.dumps({"v_template": np.zeros((2, 3))}, protocol=2), ".tar.gz": None,
}


def _seed(suffix: str) -> bytes:
    if suffix == ".npz":
        buf = io.BytesIO()
        np.savez(buf, poses=np.zeros((2, 72)), trans=np.zeros((2, 3)), mocap_framerate=np.array(30.0))
        return buf.getvalue()
    if suffix == ".tar.gz":
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as t:
            info = tarfile.TarInfo("data/smpl_mean_params.npz")
            info.size = 3
            t.addfile(info, io.BytesIO(b"abc"))
        return buf.getvalue()
    return SEEDS[suffix]


@pytest.mark.parametrize("suffix", [".npz", ".bvh", ".csv", ".jsonl", ".yaml", ".json", ".pkl", ".tar.gz"])
def test_fuzz_readers(tmp_path, suffix):
    """200 mutations (flips, cuts, splices, random bytes) of a valid-looking file per reader."""
    reader = _readers(tmp_path)[suffix]
    seed = _seed(suffix)

    @settings(max_examples=int(os.environ.get("MOCAP_FUZZ_EXAMPLES", 200)), deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(data=st.data())
    def fuzz(data):
        kind = data.draw(st.sampled_from(["flip", "cut", "splice", "random"]))
        raw = bytearray(seed)
        if kind == "flip" and raw:
            for i in data.draw(st.lists(st.integers(0, len(raw) - 1), min_size=1, max_size=8)):
                raw[i] = data.draw(st.integers(0, 255))
        elif kind == "cut":
            raw = raw[: data.draw(st.integers(0, len(raw)))]
        elif kind == "splice":
            at = data.draw(st.integers(0, len(raw)))
            raw[at:at] = data.draw(st.binary(max_size=64))
        else:
            raw = bytearray(data.draw(st.binary(max_size=512)))
        path = tmp_path / f"fuzz{suffix}"
        path.write_bytes(bytes(raw))
        try:
            reader(path)
        except MocapError:
            pass  # a clean, one-line error: what we want for junk

    fuzz()


def test_npz_reader_refuses_pickled_objects(tmp_path):
    """Object arrays would need unpickling: refused, the payload never runs."""
    class Boom:
        def __reduce__(self):
            return (exec, ("raise SystemExit('ran')",))

    path = tmp_path / "evil.npz"
    with zipfile.ZipFile(path, "w") as z:
        buf = io.BytesIO()
        np.save(buf, np.array([Boom()], dtype=object), allow_pickle=True)
        z.writestr("poses.npy", buf.getvalue())
    with pytest.raises(MocapError):
        load_npz(path)
