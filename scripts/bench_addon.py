#!/usr/bin/env python
"""Blender add-on import speed: a 10-minute motion (18,000 frames at 30 fps, 24 joints) into Blender.

    python scripts/bench.py addon [--frames 18000] [--people 1] [--baseline-frames 1800] [--json]

Times the add-on's import (read the .npz, build each armature, write each action
with bulk F-curves) against the way import scripts usually do it in the same
process: pose each bone and call ``keyframe_insert`` per bone per frame (timed
on the first ``--baseline-frames`` frames and scaled linearly, stated in the
output; the loop grows worse than linearly with clip length, so the ratio is a
lower bound).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_export import long_motion  # noqa: E402
from mocap.export import export_scene  # noqa: E402
from mocap.motion import Scene  # noqa: E402


def keyframe_insert_import(person, frames: int) -> float:
    """Seconds to build the armature and key the first ``frames`` frames one call at a time."""
    import bpy

    from blender_addon.armature import build_armature, key_frames, pose_keys

    t = time.perf_counter()
    obj = build_armature(bpy.context.scene.collection, "baseline", person)
    quats, loc = pose_keys(obj, person)
    keys = key_frames(person, person.fps, 1)
    pose = [obj.pose.bones[n] for n in person.names]
    obj.animation_data_create()
    for k in range(frames):
        for j, pb in enumerate(pose):
            pb.rotation_quaternion = quats[k, j]
            pb.keyframe_insert("rotation_quaternion", frame=float(keys[k]), group=pb.name)
        pose[0].location = loc[k]
        pose[0].keyframe_insert("location", frame=float(keys[k]), group=pose[0].name)
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=18000)
    ap.add_argument("--people", type=int, default=1)
    ap.add_argument("--baseline-frames", type=int, default=1800)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    import bpy

    from blender_addon.capture import import_motion
    from blender_addon.motion_io import read_motion_npz

    motion = long_motion(args.frames)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "long.npz"
        export_scene(Scene({i: motion for i in range(args.people)}), path)
        bpy.ops.wm.read_factory_settings(use_empty=True)
        t = time.perf_counter()
        import_motion(bpy.context, read_motion_npz(str(path)))
        ours = time.perf_counter() - t
        bpy.ops.wm.read_factory_settings(use_empty=True)
        n = min(args.baseline_frames, args.frames)
        person = read_motion_npz(str(path)).people[0]
        base = keyframe_insert_import(person, n) * args.frames / n * args.people
    result = {"frames": args.frames, "people": args.people, "import_seconds": ours,
              "keyframe_insert_seconds_scaled": base, "baseline_frames_timed": n, "speedup": base / ours}
    if args.json:
        print(json.dumps(result))
    else:
        print(f"import of {args.frames} frames x 24 joints, {args.people} person(s): {ours:.2f} s "
              f"({args.frames * args.people / ours:.0f} frames/s)")
        print(f"keyframe_insert per bone per frame: {base:.1f} s (timed on {n} frames, scaled linearly); "
              f"the add-on is {base / ours:.1f}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
