#!/usr/bin/env python
"""Score motion estimates against ground truth: MPJPE, PA-MPJPE, acceleration error, foot
sliding and root position error.

    python scripts/evaluate.py                      # capture every samples/*.mp4 that has a *_gt.npz
                                                    # (several people: a row per person, scored
                                                    # against the track whose boxes are theirs)
    python scripts/evaluate.py PRED.npz GT.npz      # score an existing motion file
    python scripts/evaluate.py --backend hmr2       # the same with HMR 2.0 (needs its checkpoint)
    python scripts/evaluate.py --stages             # a row per post-processing stage, each adding one
    python scripts/evaluate.py --set eval           # the clips of samples/eval/ (scripts/make_eval_set.py:
                                                    # scoring only, never tuning) or samples/calib/

Prints a Markdown table (pasted into the README). For each clip a second row,
"skeleton floor", scores the ground truth itself after it is put through our
inverse kinematics onto our skeleton given the truth's own part lengths
(mocap.proportions): the error no estimator can go below, because CMU's joint
centres are not where our skeleton's joints sit relative to each other.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from mocap.estimators import mediapipe_pose as mpp  # noqa: E402
from mocap.metrics import (evaluate_motion, evaluate_people, evaluate_scene, format_table,  # noqa: E402
                           ground_truth_lengths, load_ground_truth)
from mocap.motion import load_npz  # noqa: E402
from mocap.proportions import proportioned  # noqa: E402
from mocap.skeleton import forward_kinematics, neutral_skeleton  # noqa: E402


def cmu_as_landmarks(gt: dict) -> np.ndarray:
    """(T, 33, 3) BlazePose-layout landmarks placed on a CMU ground-truth skeleton."""
    names = [str(n) for n in gt["joint_names"]]
    J = gt["joints_camera"]
    at = lambda n: J[:, names.index(n)]  # noqa: E731
    lm = np.zeros((len(J), 33, 3))
    for s, S, (sh, el, wr, pk, ix, hp, kn, an, he, to) in (
        ("Left", "L", (11, 13, 15, 17, 19, 23, 25, 27, 29, 31)),
        ("Right", "R", (12, 14, 16, 18, 20, 24, 26, 28, 30, 32)),
    ):
        lm[:, sh], lm[:, el], lm[:, wr] = at(f"{s}Arm"), at(f"{s}ForeArm"), at(f"{s}Hand")
        across = at(f"{S}Thumb") - at(f"{s}Hand")
        lm[:, ix], lm[:, pk] = at(f"{s}FingerBase") + 0.3 * across, at(f"{s}FingerBase") - 0.3 * across
        lm[:, hp], lm[:, kn], lm[:, an] = at(f"{s}UpLeg"), at(f"{s}Leg"), at(f"{s}Foot")
        lm[:, to] = at(f"{s}ToeBase")
        lm[:, he] = at(f"{s}Foot") + 0.3 * (at(f"{s}Foot") - at(f"{s}ToeBase"))
    shoulders = lm[:, 11] - lm[:, 12]
    lm[:, 7], lm[:, 8], lm[:, 0] = at("Head") + 0.2 * shoulders, at("Head") - 0.2 * shoulders, at("Head")
    return lm


def skeleton_floor(gt: dict) -> dict:
    sk = proportioned(neutral_skeleton(), ground_truth_lengths(gt))
    glob = mpp.global_rotations_from_landmarks(cmu_as_landmarks(gt), sk)
    pos, _ = forward_kinematics(mpp.local_from_global(glob, sk.parents), np.zeros((len(glob), 3)), sk)
    scores = evaluate_motion(pos, gt["times"], sk.names, gt)
    return {k: v for k, v in scores.items() if k not in ("slide", "root")}  # its root is held at the origin


# The post-processing stages, each row adding one to the one before (--stages).
STAGES = (
    ("raw", {"off_centre": False, "smoothing": "off", "foot_lock": False, "fit": "off"}),
    ("+ off-centre correction", {"off_centre": True, "smoothing": "off", "foot_lock": False, "fit": "off"}),
    ("+ smoothing (standard)", {"off_centre": True, "smoothing": "standard", "foot_lock": False, "fit": "off"}),
    ("+ foot lock", {"off_centre": True, "smoothing": "standard", "foot_lock": True, "fit": "off"}),
    ("+ own proportions (--fit proportions)", {"fit": "proportions"}),
    ("+ fit to the 2D joints (--fit on: the default)", {}),
    ("+ the true focal length (--focal)", {"focal": "gt"}),
)
def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("pred", nargs="?", help="motion .npz written by mocap")
    ap.add_argument("gt", nargs="?", help="ground truth *_gt.npz")
    ap.add_argument("--backend", default="mediapipe", help="body estimator for the captures (mediapipe, hmr2)")
    ap.add_argument("--checkpoint", default=None, help="hmr2: checkpoint file (default: the usual places)")
    ap.add_argument("--smoothing", default="standard", help="off, light, standard, strong")
    ap.add_argument("--stages", action="store_true", help="a row per post-processing stage, each adding one")
    ap.add_argument("--set", dest="clip_set", choices=("samples", "eval", "calib"), default="samples",
                    help="the clips scored: samples/*, or the evaluation or calibration renders "
                         "(samples/eval/, samples/calib/: scripts/make_eval_set.py)")
    args = ap.parse_args()
    rows = []
    if args.pred:
        if not args.gt:
            ap.error("give both PRED and GT, or neither")
        gt = load_ground_truth(args.gt)
        rows.append((Path(args.pred).name, evaluate_scene(load_npz(args.pred), gt)))
        rows.append(("skeleton floor", skeleton_floor(gt)))
    else:
        from mocap.pipeline import RunOptions
        from mocap.pipeline import capture as run_capture

        stages = STAGES if args.stages else (("", {"smoothing": args.smoothing}),)
        folder = ROOT / "samples" / ("" if args.clip_set == "samples" else args.clip_set)
        for gt_path in sorted(folder.glob("*_gt.npz")):
            video = gt_path.with_name(gt_path.name.replace("_gt.npz", ".mp4"))
            gt = load_ground_truth(gt_path)
            if not video.exists():
                continue
            for stage, settings in stages:
                if settings.get("focal") == "gt":
                    settings = {"focal": float(gt["K"][0, 0])}
                scene = run_capture(video, RunOptions(backend=args.backend, checkpoint=args.checkpoint, **settings))
                label = f"{video.name}{', ' + stage if stage else ''}"
                if "person_ids" in gt:  # several people: each against the track that is them
                    for pid, r in evaluate_people(scene, gt).items():
                        if r["track"] is not None:
                            rows.append((f"{label}, person {pid} (track {r['track']})", r))
                else:
                    rows.append((label, evaluate_scene(scene, gt)))
            if "person_ids" not in gt:
                rows.append(("skeleton floor", skeleton_floor(gt)))
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
