#!/usr/bin/env python
"""Calibrate how BlazePose's landmark distances map to the skeleton's bone lengths.

BlazePose's landmarks are where the network sees hips, shoulders and limbs on the
body's outline, not a skeleton's joint centres: its hips sit about half as wide
again as the hip joints, its torso is longer, its forearms shorter. For each bone
of ``mocap.proportions.BONES`` this measures, on the calibration renders only
(``samples/calib/``, scripts/make_eval_set.py; never the evaluation clips), the
ratio of the true bone length (the ground truth's joints) to the median landmark
distance the default path measures over the clip, and prints the median ratio per
bone: the table ``JOINT_FROM_LANDMARK`` in mocap/estimators/mediapipe_pose.py.

It then scores each calibration clip with ratios taken from the *other* three
(leave one out), against the neutral skeleton, so the gain it reports is not
measured on the clips it was fitted to:

    .venv/bin/python scripts/calibrate_proportions.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from mocap import video  # noqa: E402
from mocap.camera import camera_for  # noqa: E402
from mocap.estimators import mediapipe_pose as mpp  # noqa: E402
from mocap.follow import landmarks_of  # noqa: E402
from mocap.metrics import evaluate_scene, format_table, ground_truth_lengths, load_ground_truth  # noqa: E402
from mocap.motion import Camera, Scene  # noqa: E402
from mocap.pipeline import RunOptions, follow_people  # noqa: E402
from mocap.progress import NullProgress  # noqa: E402
from mocap.proportions import BONES, PARTS, body_lengths, proportioned  # noqa: E402
from mocap.skeleton import neutral_skeleton  # noqa: E402
from mocap.smooth import SMOOTHING_SECONDS  # noqa: E402
from mocap.solve import solve_motion  # noqa: E402

CALIBRATION = ROOT / "samples" / "calib"
# Which part each bone is (the two sides of a limb share their part's ratio).
PART_OF = [next(p for p in PARTS if b == p or b.endswith("_" + p)) for b in BONES]


def followed(path: Path):
    """The clip's main person: times (T,), world landmarks (T, 33, 3), pixels (T, 33, 3), K (3, 3)."""
    info = video.probe(path)
    options = RunOptions()
    _, people = follow_people(path, info, options, NullProgress())
    main = max(people, key=lambda t: len(people[t].rows))
    camera, _ = camera_for(info.width, info.height, options.camera, info.focal_35mm)
    return (*landmarks_of(people[main]), camera.K, info)


def score(clip: dict, factors: np.ndarray | None) -> dict:
    """The default path's scores on one clip, on the skeleton of the lengths measured with
    per-bone ``factors`` (None: the neutral skeleton)."""
    skeleton = neutral_skeleton()
    times, world, pixels, K, info = clip["followed"]
    est = mpp.estimates_on_camera_rays(times, world.copy(), pixels, np.ones(len(times), bool), K, skeleton)
    if factors is not None:
        lengths = mpp.landmark_lengths(world, pixels[:, :, 2]) * factors
        skeleton = proportioned(skeleton, body_lengths(lengths))
    camera = Camera(K, (info.width, info.height), np.diag([1.0, -1.0, -1.0, 1.0]))
    motion = solve_motion(est, camera, skeleton, info.fps, SMOOTHING_SECONDS["standard"], foot_lock=True)
    return evaluate_scene(Scene({1: motion}, camera), clip["gt"])


def main() -> int:
    clips = {}
    for gt_path in sorted(CALIBRATION.glob("*_gt.npz")):
        clip = gt_path.name.replace("_gt.npz", "")
        gt = load_ground_truth(gt_path)
        seen = followed(gt_path.with_name(clip + ".mp4"))
        measured = body_lengths(mpp.landmark_lengths(seen[1], seen[2][:, :, 2]))
        clips[clip] = {"gt": gt, "followed": seen, "ratio": ground_truth_lengths(gt) / measured}
    if not clips:
        print(f"no calibration renders in {CALIBRATION} (scripts/make_eval_set.py --set calib)")
        return 1

    def factors(leave_out: str | None = None) -> np.ndarray:
        ratios = np.array([c["ratio"] for name, c in clips.items() if name != leave_out])
        per_part = np.median(ratios, axis=0)
        return np.array([per_part[PARTS.index(p)] for p in PART_OF])

    print("true length / landmark length, per clip:\n")
    print("| clip | " + " | ".join(PARTS) + " |\n|---|" + "---|" * len(PARTS))
    for name, c in clips.items():
        print(f"| {name} | " + " | ".join(f"{r:.3f}" for r in c["ratio"]) + " |")
    table = factors()
    print("\nJOINT_FROM_LANDMARK = np.array([\n    " + ", ".join(f"{f:.2f}" for f in table) + ",\n])")
    print(f"(in use: {', '.join(f'{f:.2f}' for f in mpp.JOINT_FROM_LANDMARK)})\n")
    rows = []
    for name, c in clips.items():
        rows.append((f"{name}, neutral skeleton", score(c, None)))
        rows.append((f"{name}, own proportions (ratios of the other clips)", score(c, factors(name))))
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
