"""The hostile-input corpus (scripts/make_bad_inputs.py) through the command line: every broken
or malicious file gets a one-line error naming it, a documented exit code, no traceback, no
output and the previous output untouched; valid but odd inputs give a result."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
PWNED = Path("/tmp/mocap_pwned")


@pytest.mark.slow
def test_every_hostile_input(tmp_path):
    from make_bad_inputs import last_line, make_corpus, run_corpus

    PWNED.unlink(missing_ok=True)
    cases = make_corpus(tmp_path / "corpus")
    assert len(cases) >= 30
    results = run_corpus(cases, tmp_path / "runs")
    print("\n".join(f"{case.name:<45} exit {proc.returncode:<3} {last_line(proc)[:110]}"
                    for case, proc, _, _ in results))
    assert not PWNED.exists(), "a pickled payload ran"
    assert not Path("/tmp/mocap_escaped").exists(), "a tarball wrote outside the cache"
    problems = [f"{case.name}: {', '.join(why)} | {last_line(proc)}" for case, proc, _, why in results if why]
    assert not problems, "\n".join(problems)
