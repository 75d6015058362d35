#!/usr/bin/env python
"""The README picture: frames of a clip with the captured skeleton drawn over them.

    python scripts/make_figure.py samples/turn_jump.mp4 turn_jump.npz docs/result.png [--frames 4]

Joints come from the motion file (world frame) and are projected back into the
image with the file's camera, so the picture shows what the exported animation
really contains, not the detector's 2D landmarks.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mocap.motion import load_npz  # noqa: E402
from mocap.preview import draw_skeleton, scene_pixels  # noqa: E402
from mocap.video import read_frames  # noqa: E402

def crop_around(image: np.ndarray, points: np.ndarray, width: int, height: int) -> np.ndarray:
    """A (height, width, 3) cut of ``image`` centred on the (N, 2) points, kept inside the image."""
    h, w = image.shape[:2]
    cx, cy = points.mean(axis=0)
    x0 = int(np.clip(cx - width / 2, 0, max(w - width, 0)))
    y0 = int(np.clip(cy - height / 2, 0, max(h - height, 0)))
    return image[y0 : y0 + height, x0 : x0 + width]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("video")
    ap.add_argument("motion", help=".npz written by mocap run")
    ap.add_argument("out", help="PNG to write")
    ap.add_argument("--frames", type=int, default=4, help="how many frames, evenly spaced")
    ap.add_argument("--crop", type=int, nargs=2, metavar=("W", "H"), default=None,
                    help="cut a W x H box around the person from each frame")
    args = ap.parse_args()
    from PIL import Image

    scene = load_npz(args.motion)
    m = scene.motions[next(iter(scene.motions))]
    tid = next(iter(scene.motions))
    pixels = scene_pixels(scene)[tid]
    picks = set(np.linspace(0, m.num_frames - 1, args.frames).round().astype(int).tolist())
    tiles = []
    for frame in read_frames(args.video):
        k = int(np.argmin(np.abs(m.times - frame.time)))
        if frame.index in picks:
            tile = frame.image.copy()
            draw_skeleton(tile, pixels[k], m.skeleton.names, m.skeleton.parents, width=3)
            if args.crop:
                tile = crop_around(tile, pixels[k], *args.crop)
            tiles.append(tile)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.concatenate(tiles, axis=1)).save(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
