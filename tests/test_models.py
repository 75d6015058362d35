"""`mocap models` and `mocap models import`: what is installed, and safe installation."""

import io
import os
import subprocess
import sys
import tarfile

import pytest

from test_body_model import _Exploit, write_smpl_pkl

CKPT = "logs/train/multiruns/hmr2/0/checkpoints/epoch=35-step=1000000.ckpt"


def _mocap(home, *args):
    env = dict(os.environ, HOME=str(home))
    env.pop("MOCAP_HOME", None)
    env.pop("MOCAP_HMR2_CHECKPOINT", None)
    return subprocess.run([sys.executable, "-m", "mocap", *args], capture_output=True, text=True, env=env, timeout=300)


def _add(tar, name, data=b"", **kw):
    info = tarfile.TarInfo(name)
    for k, v in kw.items():
        setattr(info, k, v)
    info.size = len(data) if info.type == tarfile.REGTYPE else 0
    tar.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)


def make_tarball(path, checkpoint=b"weights", link_checkpoint=False):
    """hmr2_data.tar.gz's layout, plus members that try to escape or that we do not need."""
    with tarfile.open(path, "w:gz") as tar:
        if link_checkpoint:
            _add(tar, "./" + CKPT, type=tarfile.SYMTYPE, linkname="/etc/passwd")
        else:
            _add(tar, "./" + CKPT, checkpoint)
        _add(tar, "./logs/train/multiruns/hmr2/0/model_config.yaml", b"MODEL:\n  IMAGE_SIZE: 256\n")
        _add(tar, "./data/smpl_mean_params.npz", b"npz")
        _add(tar, "./data/vitpose_backbone.pth", b"not needed")
        _add(tar, "../../escape.txt", b"outside")
        _add(tar, "/tmp/mocap-absolute.txt", b"absolute")
        _add(tar, "./data/link", type=tarfile.SYMTYPE, linkname="/etc/passwd")
    return path


def test_listing_says_what_is_missing_and_where_to_get_it(tmp_path):
    proc = _mocap(tmp_path, "models")
    assert proc.returncode == 0
    out = proc.stdout
    assert "HMR 2.0 checkpoint (--backend hmr2): MISSING" in out
    assert f"looked for: {tmp_path}/.cache/4DHumans/{CKPT}" in out
    assert "hmr2_data.tar.gz" in out and "mocap models import" in out
    assert "mediapipe: built in" in out


def test_import_extracts_only_what_is_needed_and_nothing_outside(tmp_path):
    home = tmp_path / "home"
    tarball = make_tarball(tmp_path / "hmr2_data.tar.gz")
    proc = _mocap(home, "models", "import", str(tarball))
    assert proc.returncode == 0, proc.stderr
    cache = home / ".cache" / "4DHumans"
    assert (cache / CKPT).read_bytes() == b"weights"
    installed = sorted(str(p.relative_to(cache)) for p in cache.rglob("*") if p.is_file())
    assert installed == sorted([CKPT, "logs/train/multiruns/hmr2/0/model_config.yaml", "data/smpl_mean_params.npz"])
    assert not (tmp_path / "escape.txt").exists() and not (home / "escape.txt").exists()
    assert not os.path.exists("/tmp/mocap-absolute.txt")
    assert not any(p.is_symlink() for p in home.rglob("*"))
    listing = _mocap(home, "models").stdout
    assert f"HMR 2.0 checkpoint (--backend hmr2): found at {cache / CKPT}" in listing


def test_import_refuses_a_linked_checkpoint_and_writes_nothing(tmp_path):
    home = tmp_path / "home"
    proc = _mocap(home, "models", "import", str(make_tarball(tmp_path / "bad.tar.gz", link_checkpoint=True)))
    assert proc.returncode == 3
    (line,) = proc.stderr.strip().splitlines()
    assert "refused" in line and "link" in line
    assert not any(p.is_file() for p in home.rglob("*")) if home.exists() else True


def test_import_of_a_broken_archive(tmp_path):
    bad = tmp_path / "hmr2_data.tar.gz"
    bad.write_bytes(make_tarball(tmp_path / "ok.tar.gz").read_bytes()[:200])
    proc = _mocap(tmp_path / "home", "models", "import", str(bad))
    assert proc.returncode == 3 and "hmr2_data.tar.gz" in proc.stderr and len(proc.stderr.splitlines()) == 1


def test_import_smpl_pkl_converts_it_and_refuses_code(tmp_path):
    pytest.importorskip("scipy")
    home = tmp_path / "home"
    src, _, _ = write_smpl_pkl(tmp_path / "basicModel_neutral_lbs_10_207_0_v1.0.0.pkl")
    proc = _mocap(home, "models", "import", str(src))
    assert proc.returncode == 0, proc.stderr
    assert (home / ".cache" / "mocap" / "smpl" / "SMPL_NEUTRAL.npz").is_file()
    assert "SMPL body model (neutral)" in _mocap(home, "models").stdout
    evil = _Exploit()
    evil.target = tmp_path / "pwned"
    bad, _, _ = write_smpl_pkl(tmp_path / "evil.pkl", extra={"payload": evil})
    proc = _mocap(tmp_path / "home2", "models", "import", str(bad))
    assert proc.returncode == 3 and "refused" in proc.stderr
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "home2" / ".cache").exists()
