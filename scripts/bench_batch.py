#!/usr/bin/env python
"""Batch throughput: `mocap batch --workers N` against running the same takes one after another
with `mocap run` (a fresh process each, as a naive farm script does), in the same run.

    python scripts/bench.py batch [--takes 8] [--seconds 1.0] [--workers 2] [--json]

Takes are copies of the sample clip cut to ``--seconds``: short takes, where the
start-up of every `mocap run` (imports, model load, Blender) weighs most; a batch
worker pays it once for all its takes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "turn_jump.mp4"
MOCAP = [sys.executable, "-m", "mocap"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--takes", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows = ["input,output"]
        for i in range(args.takes):
            shutil.copyfile(SAMPLE, tmp / f"take{i}.mp4")
            rows.append(f"take{i}.mp4,take{i}.fbx")
        (tmp / "takes.csv").write_text("\n".join(rows) + "\n")
        (tmp / "seq").mkdir()
        t = time.perf_counter()
        for i in range(args.takes):
            subprocess.run([*MOCAP, "run", str(tmp / f"take{i}.mp4"), "--out", str(tmp / "seq" / f"take{i}.fbx"),
                            "--end", str(args.seconds), "--min-seconds", str(args.seconds / 2), "--workers", "1",
                            "--progress", "none"], check=True, capture_output=True)
        sequential = time.perf_counter() - t
        t = time.perf_counter()
        subprocess.run([*MOCAP, "batch", str(tmp / "takes.csv"), "--out-dir", str(tmp / "batch"), "--workers",
                        str(args.workers), "--set", f"end={args.seconds}", "--set", f"min_seconds={args.seconds / 2}",
                        "--progress", "none"], check=True, capture_output=True)
        batch = time.perf_counter() - t
    result = {"takes": args.takes, "seconds_per_take": args.seconds, "workers": args.workers,
              "sequential_s": sequential, "batch_s": batch, "speedup": sequential / batch}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.takes} takes of {args.seconds:g} s: one `mocap run` after another {sequential:.1f} s, "
              f"`mocap batch --workers {args.workers}` {batch:.1f} s: {sequential / batch:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
