"""Exporters: FBX and BVH re-imported by Blender (and assimp) land every joint
where our forward kinematics puts it; NPZ round-trips; bad outputs fail cleanly."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

import mocap.motion
from mocap.errors import OutputError
from mocap.export import FORMATS, check_output_path, export_scene
from mocap.formats.bvh import read_bvh, write_bvh
from mocap.formats.fbx import (C_YUP_TO_ZUP, bone_basis_rotations, continuous_euler_xyz, continuous_quaternions,
                              write_fbx)
from mocap.motion import Motion, Scene, load_npz, save_npz
from mocap.skeleton import SMPL_JOINT_NAMES, forward_kinematics, neutral_skeleton
from readers import assimp_animation, assimp_info, blender_import_bvh, blender_import_fbx

MM = 1e-3
CMU_BVH = Path("/usr/share/assimp/models/BVH/01_01.bvh")


def synthetic_motion(fps: float = 30.0, T: int = 60, t0: float = 0.0, seed: int = 0) -> Motion:
    """A smooth motion on the neutral skeleton: every joint turns about a changing
    axis by up to ~150°, the left elbow sweeps through the Z-X-Y gimbal pose
    (X = 90°), and the root walks forward while bobbing and turning."""
    rng = np.random.default_rng(seed)
    times = t0 + np.arange(T) / fps
    u = np.arange(T) / T  # 0..1 over the clip
    amp = rng.uniform(0.3, 2.6, size=(24, 3))
    freq = rng.uniform(0.5, 2.0, size=(24, 3))
    phase = rng.uniform(0, 2 * np.pi, size=(24, 3))
    rotvec = amp * np.sin(2 * np.pi * freq * u[:, None, None] + phase)  # (T, 24, 3)
    R = Rotation.from_rotvec(rotvec.reshape(-1, 3)).as_matrix().reshape(T, 24, 3, 3)
    sweep = np.linspace(60, 120, T)
    sweep[T // 2] = 90.0  # exactly the degenerate pose mid-clip
    sweep = np.radians(sweep)
    R[:, SMPL_JOINT_NAMES.index("left_elbow")] = Rotation.from_euler(
        "ZXY", np.stack([0.3 * np.ones(T), sweep, -0.4 * np.ones(T)], 1)
    ).as_matrix()
    translation = np.stack([0.3 * np.sin(2 * np.pi * u), 0.95 + 0.05 * np.cos(4 * np.pi * u), 1.5 * u - 2.0], 1)
    return Motion(fps=fps, times=times, rotations=R, translation=translation, skeleton=neutral_skeleton())


def max_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.linalg.norm(a - b, axis=-1)))


# --- BVH ----------------------------------------------------------------------


def _rz(d):
    c, s = np.cos(np.radians(d)), np.sin(np.radians(d))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1.0]])


def _rx(d):
    c, s = np.cos(np.radians(d)), np.sin(np.radians(d))
    return np.array([[1.0, 0, 0], [0, c, -s], [0, s, c]])


def _ry(d):
    c, s = np.cos(np.radians(d)), np.sin(np.radians(d))
    return np.array([[c, 0, s], [0, 1.0, 0], [-s, 0, c]])


def test_bvh_channel_order_is_intrinsic_zxy(tmp_path):
    """The numbers in a joint's columns are (Z, X, Y) with R = Rz @ Rx @ Ry, built
    here from elementary matrices, not from scipy, so the writer's Euler
    convention is pinned independently of the library it uses."""
    m = synthetic_motion(T=2)
    knee = SMPL_JOINT_NAMES.index("left_knee")
    m.rotations[0, knee] = _rz(30) @ _rx(20) @ _ry(10)
    m.rotations[1, knee] = _rz(-100) @ _rx(-45) @ _ry(170)
    path = write_bvh(m, tmp_path / "a.bvh")
    lines = path.read_text().splitlines()
    joints = [ln.split()[1] for ln in lines if ln.strip().startswith(("ROOT", "JOINT"))]
    col = 6 + 3 * (joints.index("left_knee") - 1)  # root has 6 channels, others 3
    rows = [np.array(ln.split(), float) for ln in lines[lines.index("MOTION") + 3 :]]
    np.testing.assert_allclose(rows[0][col : col + 3], [30, 20, 10], atol=1e-5)
    np.testing.assert_allclose(rows[1][col : col + 3], [-100, -45, 170], atol=1e-5)
    assert "CHANNELS 3 Zrotation Xrotation Yrotation" in path.read_text()


def test_bvh_reader_follows_each_files_channel_order(tmp_path):
    """A hand-written file with CMU's Z-Y-X order: the reader composes channels in
    the order listed, reads absolute root positions and the file's frame time."""
    text = """HIERARCHY
ROOT hips
{
  OFFSET 0 90 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Yrotation Xrotation
  JOINT knee
  {
    OFFSET 0 -40 0
    CHANNELS 3 Xrotation Zrotation Yrotation
    End Site
    {
      OFFSET 0 -40 0
    }
  }
}
MOTION
Frames: 1
Frame Time: 0.04
1 2 3 10 20 30 40 50 60
"""
    (tmp_path / "h.bvh").write_text(text)
    skel, fps, rot, root = read_bvh(tmp_path / "h.bvh")
    assert skel.names == ("hips", "knee") and skel.parents == (-1, 0)
    np.testing.assert_allclose(skel.rest_offsets, [[0, 0.9, 0], [0, -0.4, 0]])
    assert fps == pytest.approx(25.0)
    np.testing.assert_allclose(root, [[0.01, 0.02, 0.03]])
    np.testing.assert_allclose(rot[0, 0], _rz(10) @ _ry(20) @ _rx(30), atol=1e-12)
    np.testing.assert_allclose(rot[0, 1], _rx(40) @ _rz(50) @ _ry(60), atol=1e-12)


@pytest.mark.parametrize("fps", [30.0, 29.97, 25.0])
def test_bvh_round_trip_own_reader(tmp_path, fps):
    m = synthetic_motion(fps)
    path = write_bvh(m, tmp_path / "a.bvh")
    skel, read_fps, rot, root = read_bvh(path)
    order = [skel.names.index(n) for n in m.skeleton.names]  # file order is depth-first
    assert sorted(skel.names) == sorted(m.skeleton.names)
    assert [skel.names[p] if p >= 0 else None for p in np.array(skel.parents)[order]] == [
        m.skeleton.names[p] if p >= 0 else None for p in m.skeleton.parents
    ]
    assert read_fps == pytest.approx(fps, rel=1e-9)
    assert rot.shape == m.rotations.shape
    assert np.max(np.abs(rot[:, order] - m.rotations)) < 1e-6
    assert np.max(np.abs(root - m.translation)) < 1e-6
    np.testing.assert_allclose(skel.rest_offsets[order], m.skeleton.rest_offsets, atol=1e-9)


def test_bvh_units(tmp_path):
    """Centimetres by default (pelvis OFFSET 95), metres on request; both read back the same."""
    m = synthetic_motion(T=5)
    cm = write_bvh(m, tmp_path / "cm.bvh")
    me = write_bvh(m, tmp_path / "m.bvh", units="m")
    assert "OFFSET 0.000000 95.000000 0.000000" in cm.read_text()
    assert "OFFSET 0.000000 0.950000 0.000000" in me.read_text()
    a, b = read_bvh(cm, units="cm"), read_bvh(me, units="m")
    np.testing.assert_allclose(a.root_positions, b.root_positions, atol=1e-6)
    np.testing.assert_allclose(a.skeleton.rest_offsets, b.skeleton.rest_offsets, atol=1e-6)
    with pytest.raises(OutputError, match="units"):
        write_bvh(m, tmp_path / "x.bvh", units="inch")


@pytest.mark.parametrize("fps", [30.0, 29.97, 25.0])
def test_bvh_blender_import_matches_forward_kinematics(tmp_path, fps):
    m = synthetic_motion(fps)
    path = write_bvh(m, tmp_path / "a.bvh")
    anim = blender_import_bvh(path, global_scale=0.01)  # file in cm
    assert len(anim.frames) == m.num_frames
    np.testing.assert_allclose(anim.frames, np.arange(1, m.num_frames + 1))
    assert anim.fps == pytest.approx(fps, rel=1e-6)
    err = max_error(anim.of(m.skeleton.names), m.joint_positions())
    print(f"BVH via Blender, {fps} fps: max joint error {err * 1e3:.4f} mm")
    assert err < 1 * MM


def test_bvh_reader_matches_blender_on_cmu_file(tmp_path):
    """Real CMU capture (Z-Y-X channels, zero-length joints, inch-like units):
    our reader + forward kinematics agree with Blender's importer."""
    if not CMU_BVH.exists():
        pytest.skip(f"{CMU_BVH} missing (Debian package assimp-testmodels)")
    lines = CMU_BVH.read_text().splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("Frames:"))
    short = tmp_path / "cmu.bvh"  # first 40 frames keep the test fast
    short.write_text("\n".join(lines[:start] + ["Frames: 40"] + lines[start + 1 : start + 42]) + "\n")
    unit = 0.056444  # CMU length unit in metres
    skel, fps, rot, root = read_bvh(short, units=unit)
    assert fps == pytest.approx(120.0, rel=1e-3) and rot.shape == (40, len(skel.names), 3, 3)
    ours, _ = forward_kinematics(rot, root, skel)
    anim = blender_import_bvh(short, global_scale=unit)
    assert len(anim.frames) == 40
    err = max_error(anim.of(skel.names), ours)
    assert err < 1 * MM, err


# --- FBX ----------------------------------------------------------------------


def test_bone_basis_formula():
    """B = A^T W R W^T A makes Blender's pose chain (M_j = M_p A_p^T A_j B_j)
    equal the rest frames turned by our global rotations, for any bone rest
    orientations A and for both Y-up (W = I) and Z-up (W = C) bone data."""
    m = synthetic_motion(T=4)
    sk = m.skeleton
    A = Rotation.random(24, random_state=1).as_matrix()
    _, G = forward_kinematics(m.rotations, m.translation, sk)
    for W in (np.eye(3), C_YUP_TO_ZUP):
        B = bone_basis_rotations(m.rotations, A, W)
        M = np.empty_like(B)
        for j, p in enumerate(sk.parents):
            M[:, j] = (A[j] if p < 0 else M[:, p] @ A[p].T @ A[j]) @ B[:, j]
        np.testing.assert_allclose(M, W @ G @ W.T @ A, atol=1e-12)


def test_quaternions_are_hemisphere_continuous():
    m = synthetic_motion()
    q = continuous_quaternions(m.rotations)
    assert np.all(np.sum(q[1:] * q[:-1], axis=-1) > 0)
    back = Rotation.from_quat(q.reshape(-1, 4)[:, [1, 2, 3, 0]]).as_matrix().reshape(m.rotations.shape)
    np.testing.assert_allclose(back, m.rotations, atol=1e-12)


@pytest.mark.parametrize("fps", [30.0, 29.97, 25.0])
def test_fbx_blender_import_matches_forward_kinematics(tmp_path, fps):
    m = synthetic_motion(fps)
    (path,) = export_scene(Scene({7: m}), tmp_path / "a.fbx")
    arms = blender_import_fbx(path)
    assert list(arms) == ["person7"]
    anim = arms["person7"]
    assert sorted(anim.names) == sorted(m.skeleton.names)  # SMPL names, no leaf bones
    assert len(anim.frames) == m.num_frames
    assert anim.fps == pytest.approx(fps, rel=1e-5)
    if fps == round(fps):
        # Video time t lands on Blender frame 1 + round(t * fps). (Blender 5.0's
        # importer times keys with the integer part of NTSC rates, so 29.97 fps
        # keys drift by 0.1 % there; assimp checks the timing of those files.)
        np.testing.assert_allclose(anim.frames, 1 + np.round(m.times * fps))
    err = max_error(anim.of(m.skeleton.names), m.joint_positions())
    print(f"FBX via Blender, {fps} fps: max joint error {err * 1e3:.4f} mm")
    assert err < 1 * MM


@pytest.mark.parametrize("fps", [30.0, 29.97])
def test_fbx_assimp_reads_same_motion(tmp_path, fps):
    """assimp (not Blender) sees an upright person in metres, Y-up, under an
    identity armature node, one key per video frame. (assimp counts time from
    the take's start, which is this person's first frame.)"""
    m = synthetic_motion(fps, t0=0.5)
    (path,) = export_scene(Scene({2: m}), tmp_path / "a.fbx")
    info = assimp_info(path)
    assert info["animations"] == 1 and info["meshes"] == 0
    assert info["channels"] == 25  # 24 bones + the armature node
    assert info["node_names"][:2] == ["RootNode", "person2"]
    assert sorted(info["node_names"][2:]) == sorted(SMPL_JOINT_NAMES)
    anim = assimp_animation(path)["person2"]
    np.testing.assert_allclose(anim.object_matrix, np.eye(4), atol=1e-6)
    assert anim.fps == pytest.approx(fps, rel=1e-5)
    np.testing.assert_allclose(anim.frames / anim.fps, m.times - m.times[0], atol=1e-4)
    err = max_error(anim.of(m.skeleton.names), m.joint_positions())
    print(f"FBX via assimp, {fps} fps: max joint error {err * 1e3:.4f} mm")
    assert err < 1 * MM


def test_fbx_two_people_share_the_video_timeline(tmp_path):
    """Person 5 appears 1 s after person 1 and leaves later: each armature's keys
    sit at its own video times, on one timeline. Bone names carry the person's
    namespace, so a reader binding curves by name (assimp) keeps them apart."""
    a = synthetic_motion(25.0, T=50, seed=1)
    b = synthetic_motion(25.0, T=40, t0=1.0, seed=2)
    b.translation[:, 0] += 1.0
    (path,) = export_scene(Scene({1: a, 5: b}), tmp_path / "two.fbx")
    arms = blender_import_fbx(path)
    seen = assimp_animation(path)
    assert sorted(arms) == sorted(seen) == ["person1", "person5"]
    assert assimp_info(path)["channels"] == 2 * 25
    for tid, m in ((1, a), (5, b)):
        bones = [f"person{tid}:{n}" for n in m.skeleton.names]
        anim = arms[f"person{tid}"]
        # The take spans both people (video frames 0..64); pick this person's frames.
        frames = 1 + np.round(m.times * 25)
        idx = np.searchsorted(anim.frames, frames)
        np.testing.assert_allclose(anim.frames[idx], frames)
        assert max_error(anim.of(bones)[idx], m.joint_positions()) < 1 * MM
        other = seen[f"person{tid}"]
        idx = np.searchsorted(other.frames, np.round(m.times * 25))  # take starts at video time 0 here
        assert max_error(other.of(bones)[idx], m.joint_positions()) < 1 * MM


def test_fbx_foreign_rig_from_cmu(tmp_path):
    """A non-SMPL rig read from a CMU file (31 joints, zero-length bones, 120 fps)
    exports just as exactly: the writer relies on no SMPL specifics."""
    if not CMU_BVH.exists():
        pytest.skip(f"{CMU_BVH} missing (Debian package assimp-testmodels)")
    skel, fps, rot, root = read_bvh(CMU_BVH, units=0.056444)
    m = Motion(fps=fps, times=np.arange(30) / fps, rotations=rot[:30], translation=root[:30], skeleton=skel)
    (path,) = export_scene(Scene({0: m}), tmp_path / "cmu.fbx")
    anim = blender_import_fbx(path)["person0"]
    assert len(anim.names) == 31 and len(anim.frames) == 30
    assert max_error(anim.of(skel.names), m.joint_positions()) < 1 * MM


def test_continuous_euler_through_gimbal_lock():
    """A rotation whose Y angle passes over 90° (where the |y| <= 90° triple jumps by
    half a turn in X and Z) and X turning past ±180°: same rotations, no jumps."""
    T = 400
    y = np.radians(np.linspace(40, 140, T))  # over the pole at 90°
    x = np.radians(np.linspace(-150, 250, T))  # past the ±180° wrap
    z = np.radians(30 * np.sin(np.linspace(0, 6, T)))
    R = Rotation.from_euler("xyz", np.stack([x, y, z], 1))
    e = continuous_euler_xyz(R.as_quat())
    np.testing.assert_allclose(Rotation.from_euler("xyz", e).as_matrix(), R.as_matrix(), atol=1e-9)
    assert np.degrees(np.abs(np.diff(e, axis=0))).max() < 2.0  # steps of the motion itself (~1°)
    np.testing.assert_allclose(e, np.stack([x, y, z], 1) + 2 * np.pi * np.round((e - np.stack([x, y, z], 1)) / (2 * np.pi)), atol=1e-7)


def _fbx_rotation_curves(path) -> tuple[np.ndarray, np.ndarray]:
    """Every "Lcl Rotation" curve node of an FBX, read by Blender's FBX parser:
    (N, K, 3, 3) rotations of its X, Y, Z Euler curves and (N, K, 3) the angles (degrees)."""
    import bpy  # noqa: F401  (puts Blender's add-ons on the path)
    from io_scene_fbx import parse_fbx

    root, _version = parse_fbx.parse(str(path))
    objects = next(e for e in root.elems if e.id == b"Objects")
    conns = next(e for e in root.elems if e.id == b"Connections")
    curves = {e.props[0]: np.array(next(c for c in e.elems if c.id == b"KeyValueFloat").props[0], float)
              for e in objects.elems if e.id == b"AnimationCurve"}
    nodes = [e.props[0] for e in objects.elems if e.id == b"AnimationCurveNode" and e.props[1].startswith(b"R\x00")]
    axes = {}
    for c in conns.elems:  # curve -> its node and axis ("d|X")
        if c.props[0] == b"OP" and c.props[1] in curves and c.props[2] in nodes:
            axes.setdefault(c.props[2], {})[c.props[3]] = curves[c.props[1]]
    angles = np.array([np.stack([axes[n][b"d|" + a] for a in (b"X", b"Y", b"Z")], -1) for n in nodes])
    R = Rotation.from_euler("xyz", angles.reshape(-1, 3), degrees=True).as_matrix().reshape(*angles.shape[:2], 3, 3)
    return R, angles


@pytest.mark.parametrize("up", ["y", "z"])
def test_fbx_curves_equal_blenders_own_bake(tmp_path, up):
    """The curves handed to the exporter are the ones it samples from the actions
    itself (bake=True), for two people with a gap in one and different spans:
    same rotations on every key (float32 file values), Euler tracks as smooth."""
    a = synthetic_motion(30.0, T=80, seed=3)
    b = synthetic_motion(30.0, T=40, t0=1.5, seed=4)
    keep = np.r_[0:15, 25:40]  # untracked for 10 frames: held linear between the keys around the gap
    b = Motion(fps=30.0, times=b.times[keep], rotations=b.rotations[keep], translation=b.translation[keep],
               skeleton=b.skeleton)
    scene = Scene({0: a, 3: b})
    ours, baked = tmp_path / "ours.fbx", tmp_path / "baked.fbx"
    write_fbx(scene, ours, up=up)
    write_fbx(scene, baked, up=up, bake=True)
    R1, e1 = _fbx_rotation_curves(ours)
    R2, e2 = _fbx_rotation_curves(baked)
    assert R1.shape == R2.shape and R1.shape[:2] == (2 * 25, 85)  # frames 0..84  # 24 bones + armature each, every frame
    angle = np.degrees(Rotation.from_matrix((np.swapaxes(R1, -1, -2) @ R2).reshape(-1, 3, 3)).magnitude())
    assert angle.max() < 0.01
    # Euler steps from key to key (what a reader interpolating between keys turns through):
    # never larger than in Blender's own curves.
    steps1, steps2 = (np.abs(np.diff(e, axis=1)).sum(-1) for e in (e1, e2))
    assert np.all(steps1 <= steps2 + 0.01)
    arms = blender_import_fbx(ours)
    err = max_error(arms["person3"].of([f"person3:{n}" for n in b.skeleton.names])[[45, 84]],
                    b.joint_positions()[[0, -1]])
    assert err < 1 * MM


# --- NPZ ----------------------------------------------------------------------


def test_npz_round_trip(tmp_path):
    a, b = synthetic_motion(29.97, seed=3), synthetic_motion(29.97, T=30, t0=0.4, seed=4)
    (path,) = export_scene(Scene({0: a, 4: b}, source="clip.mp4"), tmp_path / "s.npz")
    with np.load(path, allow_pickle=False) as d:  # no pickled objects anywhere
        for key in ("poses", "trans", "betas", "mocap_framerate", "gender"):
            assert key in d.files
        assert d["poses"].shape == (60, 72)
        assert float(d["mocap_framerate"]) == pytest.approx(29.97)
    scene = load_npz(path)
    assert sorted(scene.motions) == [0, 4] and scene.source == "clip.mp4"
    for m, back in ((a, scene.motions[0]), (b, scene.motions[4])):
        np.testing.assert_allclose(back.joint_positions(), m.joint_positions(), atol=1e-9)
        np.testing.assert_allclose(back.times, m.times)


# --- bad outputs --------------------------------------------------------------


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_unknown_suffix(tmp_path):
    with pytest.raises(OutputError) as exc:
        export_scene(Scene({0: synthetic_motion(T=3)}), tmp_path / "a.mp4")
    msg = str(exc.value)
    assert "\n" not in msg and all(s in msg for s in FORMATS)
    with pytest.raises(OutputError):
        check_output_path(tmp_path / "noext")
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("suffix", FORMATS)
def test_missing_folder(tmp_path, suffix):
    target = tmp_path / "nope" / f"a{suffix}"
    with pytest.raises(OutputError, match="does not exist"):
        check_output_path(target)
    with pytest.raises(OutputError, match="does not exist"):
        export_scene(Scene({0: synthetic_motion(T=3)}), target)
    assert _leftovers(tmp_path) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores folder permissions")
@pytest.mark.parametrize("suffix", FORMATS)
def test_unwritable_folder(tmp_path, suffix):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(OutputError, match="not writable"):
            check_output_path(folder / f"a{suffix}")
        with pytest.raises(OutputError):
            export_scene(Scene({0: synthetic_motion(T=3)}), folder / f"a{suffix}")
        assert _leftovers(folder) == []
    finally:
        folder.chmod(0o755)


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux /proc")
def test_folder_refusing_new_files():
    """/proc refuses new files even to root: an OutputError, not a raw OSError."""
    with pytest.raises(OutputError, match="cannot write"):
        export_scene(Scene({0: synthetic_motion(T=3)}), "/proc/mocap-test.bvh")


def test_check_output_path_accepts_good_path(tmp_path):
    assert check_output_path(tmp_path / "x.FBX") == (tmp_path / "x.FBX").absolute()
    (tmp_path / "take.fbx").mkdir()
    with pytest.raises(OutputError, match="is a directory"):
        check_output_path(tmp_path / "take.fbx")


def test_bvh_refuses_several_people(tmp_path):
    scene = Scene({0: synthetic_motion(T=3), 1: synthetic_motion(T=3)})
    with pytest.raises(OutputError, match="--split for one .bvh per person"):
        export_scene(scene, tmp_path / "a.bvh")
    assert _leftovers(tmp_path) == []


def test_split_writes_one_file_per_person(tmp_path):
    a, b = synthetic_motion(T=4, seed=1), synthetic_motion(T=6, seed=2)
    written = export_scene(Scene({3: a, 7: b}), tmp_path / "anim.bvh", split=True)
    assert [p.name for p in written] == ["anim_person3.bvh", "anim_person7.bvh"]
    assert _leftovers(tmp_path) == ["anim_person3.bvh", "anim_person7.bvh"]
    for path, m in zip(written, (a, b)):
        back = read_bvh(path)
        assert len(back.rotations) == m.num_frames


@pytest.mark.parametrize("suffix", [".bvh", ".npz"])
def test_disk_full_mid_write_keeps_existing_file(tmp_path, monkeypatch, suffix):
    """The writer has written part of the file when the disk fills up: the old
    file stays as it was, no temporary file remains, the error is an OutputError."""
    target = tmp_path / f"a{suffix}"
    target.write_bytes(b"previous take")

    def half_then_full(self, data, *args, **kwargs):
        with open(self, "wb") as f:
            f.write((data if isinstance(data, bytes) else data.encode())[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    def npz_full(path, arrays):
        Path(path).write_bytes(b"PK\x03\x04 partial zip")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_text", half_then_full)
    monkeypatch.setattr(mocap.motion, "write_npz", npz_full)
    with pytest.raises(OutputError, match="No space left"):
        export_scene(Scene({0: synthetic_motion(T=10)}), target)
    assert target.read_bytes() == b"previous take"
    assert _leftovers(tmp_path) == [target.name]


def test_fbx_failure_keeps_existing_file(tmp_path, monkeypatch):
    """Building the second person fails after the first was built: the old FBX
    stays untouched and no temporary file remains."""
    import mocap.formats.fbx as fbx

    target = tmp_path / "a.fbx"
    target.write_bytes(b"previous take")
    real = fbx._build_person
    calls = []

    def failing(bl_scene, name, *args, **kwargs):
        calls.append(name)
        if len(calls) == 2:
            raise RuntimeError("simulated failure while building person5")
        return real(bl_scene, name, *args, **kwargs)

    monkeypatch.setattr(fbx, "_build_person", failing)
    with pytest.raises(RuntimeError, match="simulated"):
        export_scene(Scene({1: synthetic_motion(T=5), 5: synthetic_motion(T=5)}), target)
    assert calls == ["person1", "person5"]
    assert target.read_bytes() == b"previous take"
    assert _leftovers(tmp_path) == [target.name]
