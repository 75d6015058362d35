"""The hostile-input corpus (scripts/make_bad_inputs.py) through the command line: every broken
or malicious file gets a one-line error naming it, a documented exit code, no traceback, no
output and the previous output untouched; valid but odd inputs give a result."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
MOCAP = [sys.executable, "-m", "mocap"]
PWNED = Path("/tmp/mocap_pwned")
PREVIOUS = b"the previous take's output"


def _run(case, work: Path) -> tuple[object, subprocess.CompletedProcess, Path]:
    folder = work / "".join(ch if ch.isalnum() else "_" for ch in case.name)
    folder.mkdir()
    out = folder / case.out
    if case.out.endswith(".fbx"):
        out.write_bytes(PREVIOUS)
    argv = [a.replace("{out}", str(out)) for a in case.argv]
    env = {"HOME": str(folder), "PATH": "/usr/bin:/bin"}  # no model files installed; its own cache
    proc = subprocess.run([*MOCAP, *argv], capture_output=True, text=True, timeout=600, cwd=folder, env=env)
    return case, proc, out


@pytest.mark.slow
def test_every_hostile_input(tmp_path):
    from make_bad_inputs import make_corpus

    PWNED.unlink(missing_ok=True)
    cases = make_corpus(tmp_path / "corpus")
    assert len(cases) >= 30
    work = tmp_path / "runs"
    work.mkdir()
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda c: _run(c, work), cases))
    problems, table = [], []
    for case, proc, out in results:
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        got = lines[-1] if lines else ""
        table.append(f"{case.name:<45} exit {proc.returncode:<3} {got[:110]}")
        if case.expect == "ok":
            if proc.returncode != 0 or not out.exists() or out.read_bytes() == PREVIOUS:
                problems.append(f"{case.name}: expected a result, got exit {proc.returncode}: {got}")
            elif case.extra.get("upright"):  # turned back by its display rotation: the person stands up
                from mocap.motion import load_npz

                (motion,) = load_npz(out).motions.values()
                pos = motion.joint_positions()
                names = motion.skeleton.names
                rise = pos[:, names.index("head"), 1] - pos[:, names.index("pelvis"), 1]
                if np.median(rise) < 0.3:
                    problems.append(f"{case.name}: not upright (head {np.median(rise):.2f} m above the pelvis)")
            continue
        why = []
        if proc.returncode != case.code:
            why.append(f"exit {proc.returncode} (expected {case.code})")
        if "Traceback" in proc.stderr or len(lines) != 1:
            why.append(f"{len(lines)} stderr lines")
        if not got.startswith("mocap: error:"):
            why.append("not a mocap error line")
        if case.names and case.names not in got:
            why.append(f"does not name {case.names}")
        if case.says and case.says not in got:
            why.append(f"does not say {case.says!r}")
        if case.out.endswith(".fbx"):
            if out.read_bytes() != PREVIOUS:
                why.append("previous output changed")
            leftovers = [p.name for p in out.parent.iterdir() if ".part" in p.name]
            if leftovers:
                why.append(f"left {leftovers}")
        elif out.exists():
            why.append(f"made {out.name}")
        if why:
            problems.append(f"{case.name}: {', '.join(why)} | {got}")
    print("\n".join(table))
    assert not PWNED.exists(), "a pickled payload ran"
    assert not Path("/tmp/mocap_escaped").exists(), "a tarball wrote outside the cache"
    assert not problems, "\n".join(problems)
