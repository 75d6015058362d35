#!/usr/bin/env python
"""How far apart looks (mocap.appearance) are, for one person and for two, on the calibration clips.

    python scripts/calibrate_looks.py [VIDEO ...]   (default: the calibration renders)

Each clip is followed with the defaults; for every person, the mean look of the first third of
the frames where they stand clear of others is compared with the last third's ("same"), and
single frames with each other; for every two people, their thirds' closest pair ("two"). The
thresholds in mocap.track (MAX_LOOK, SAME_LOOK) sit between the two. The scoring clip,
samples/return.mp4, is not among the defaults: it scores them (tests/test_follow.py).
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mocap.appearance import look_distance, mean_look  # noqa: E402
from mocap.pipeline import RunOptions, follow_people  # noqa: E402
from mocap.progress import NullProgress  # noqa: E402
from mocap.video import probe  # noqa: E402

CALIBRATION = ["crowd", "crossing", "turnaway", "turn_jump"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("videos", nargs="*", default=[str(ROOT / "samples" / f"{n}.mp4") for n in CALIBRATION])
    args = ap.parse_args(argv)
    same, single, two = [], [], []
    for video in args.videos:
        _, people = follow_people(video, probe(video), RunOptions(), NullProgress())
        thirds = {}
        for tid, p in people.items():
            looks = [r[6] for r in p.rows if r[6] is not None]
            n = len(looks)
            if n < 6:
                continue
            thirds[tid] = (mean_look(looks[: n // 3]), mean_look(looks[-(n // 3):]))
            picks = looks[:: max(1, n // 10)]
            d = look_distance(*thirds[tid])
            s = max(look_distance(a, b) for a, b in itertools.combinations(picks, 2))
            same.append(d)
            single.append(s)
            print(f"{Path(video).stem} person {tid}: {n} frames clear; same {d:.3f}, single frames up to {s:.3f}")
        for (i, a), (k, b) in itertools.combinations(thirds.items(), 2):
            d = min(look_distance(x, y) for x in a for y in b)
            two.append(d)
            print(f"{Path(video).stem} people {i} and {k}: two {d:.3f}")
    if same and two:
        print(f"same person {min(same):.2f}-{max(same):.2f} (single frames up to {max(single):.2f}); "
              f"two people {min(two):.2f}-{max(two):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
