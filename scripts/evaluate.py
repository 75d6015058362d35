#!/usr/bin/env python
"""Score motion estimates against ground truth: MPJPE and PA-MPJPE in millimetres.

    python scripts/evaluate.py                      # capture every samples/*.mp4 that has a *_gt.npz
    python scripts/evaluate.py PRED.npz GT.npz      # score an existing motion file

Prints a Markdown table (pasted into the README).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mocap.metrics import evaluate_scene, load_ground_truth  # noqa: E402
from mocap.motion import load_npz  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pred", nargs="?", help="motion .npz written by mocap")
    ap.add_argument("gt", nargs="?", help="ground truth *_gt.npz")
    args = ap.parse_args()
    rows = []
    if args.pred:
        if not args.gt:
            ap.error("give both PRED and GT, or neither")
        rows.append((Path(args.pred).name, evaluate_scene(load_npz(args.pred), load_ground_truth(args.gt))))
    else:
        from mocap.pipeline import capture

        for gt_path in sorted((ROOT / "samples").glob("*_gt.npz")):
            video = gt_path.with_name(gt_path.name.replace("_gt.npz", ".mp4"))
            if video.exists():
                rows.append((video.name, evaluate_scene(capture(video), load_ground_truth(gt_path))))
    print("| clip | frames | MPJPE (mm) | PA-MPJPE (mm) |")
    print("|---|---|---|---|")
    for name, r in rows:
        print(f"| {name} | {r['frames']} | {r['mpjpe']:.1f} | {r['pa_mpjpe']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
