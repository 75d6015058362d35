#!/usr/bin/env python
"""Export speed: a 10-minute clip (18,000 frames at 30 fps, 24 joints) written to every format.

    python scripts/bench.py export [--frames 18000] [--people 1] [--baseline-frames N] [--json]

Each format's seconds and frames per second, against the budget (15 s on 2 cores).
For FBX, the same file also written the way existing Blender scripts do it: the
pose set and ``keyframe_insert`` called per bone per frame, then the same
exporter; the ratio is measured in this process (``--baseline-frames`` times
the loop on the first N frames only and scales it to the clip, stated in the output).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mocap.export import ExportOptions, export_scene  # noqa: E402
from mocap.motion import Motion, Scene  # noqa: E402
from mocap.skeleton import neutral_skeleton  # noqa: E402

SUFFIXES = (".fbx", ".glb", ".gltf", ".usdc", ".usda", ".bvh", ".npz")
BUDGET_S = 15.0


def long_motion(frames: int, fps: float = 30.0, seed: int = 0) -> Motion:
    """(frames) of smooth motion on SMPL's 24 joints: every joint swinging, the root walking."""
    rng = np.random.default_rng(seed)
    t = np.arange(frames) / fps
    amp, freq, phase = rng.uniform(0.2, 1.2, (24, 3)), rng.uniform(0.2, 1.5, (24, 3)), rng.uniform(0, 6.3, (24, 3))
    rotvec = amp * np.sin(2 * np.pi * freq * t[:, None, None] + phase)
    rot = Rotation.from_rotvec(rotvec.reshape(-1, 3)).as_matrix().reshape(frames, 24, 3, 3)
    trans = np.stack([np.sin(0.1 * t), 0.95 + 0.03 * np.sin(2 * t), np.cos(0.1 * t)], 1)
    return Motion(fps=fps, times=t, rotations=rot, translation=trans, skeleton=neutral_skeleton())


def keyframe_insert_fbx(motion: Motion, path: Path, frames: int) -> float:
    """Seconds to write ``path`` from the first ``frames`` frames the per-frame way:
    ``pose_bone.rotation_quaternion = q; pose_bone.keyframe_insert(...)`` for every bone
    and frame, then Blender's FBX exporter with mocap's options."""
    import bpy

    from mocap.formats.fbx import AXES, FBX_EXPORT_OPTIONS, _set_scene_fps, add_armature, pose_keys

    short = Motion(fps=motion.fps, times=motion.times[:frames], rotations=motion.rotations[:frames],
                   translation=motion.translation[:frames], skeleton=motion.skeleton)
    t = time.perf_counter()
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    _set_scene_fps(scene, motion.fps)
    obj, bones, A = add_armature(scene, "person0", short.skeleton)
    keys, quats, loc = pose_keys(short, A)
    obj.animation_data_create()
    pose = [obj.pose.bones[b] for b in bones]
    for k, frame in enumerate(keys):
        for j, pb in enumerate(pose):
            pb.rotation_quaternion = quats[k, j]
            pb.keyframe_insert("rotation_quaternion", frame=float(frame), group=pb.name)
        pose[0].location = loc[k]
        pose[0].keyframe_insert("location", frame=float(frame), group=pose[0].name)
    scene.frame_start, scene.frame_end = int(keys[0]), int(keys[-1])
    with contextlib.redirect_stdout(io.StringIO()):
        bpy.ops.export_scene.fbx(filepath=str(path), **FBX_EXPORT_OPTIONS, **AXES["y"])
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frames", type=int, default=18000, help="clip length in frames (30 fps)")
    ap.add_argument("--people", type=int, default=1, help="people in the scene (the formats that hold several)")
    ap.add_argument("--baseline-frames", type=int, default=None,
                    help="time the keyframe_insert loop on this many frames and scale (default: all)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = ap.parse_args(argv)
    motion = long_motion(args.frames)
    scene = Scene({i: motion for i in range(args.people)})
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for suffix in SUFFIXES:
            one = Scene({0: motion}) if suffix == ".bvh" else scene
            t = time.perf_counter()
            (path,) = export_scene(one, Path(tmp) / f"anim{suffix}", options=ExportOptions())
            seconds = time.perf_counter() - t
            rows[suffix] = {"seconds": seconds, "fps": args.frames / seconds, "MB": path.stat().st_size / 1e6}
        n = min(args.baseline_frames or args.frames, args.frames)
        base = keyframe_insert_fbx(motion, Path(tmp) / "baseline.fbx", n) * args.frames / n
    fbx = rows[".fbx"]["seconds"] * (1 if args.people == 1 else np.nan)
    result = {"frames": args.frames, "joints": 24, "people": args.people, "formats": rows,
              "keyframe_insert_fbx_seconds": base, "baseline_frames_timed": n,
              "fbx_speedup_vs_keyframe_insert": base / fbx}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"export of {args.frames} frames x 24 joints, {args.people} person(s); budget {BUDGET_S:g} s per format\n")
    print("| format | seconds | frames/s | of budget | MB |\n|---|---|---|---|---|")
    for suffix, r in rows.items():
        print(f"| {suffix} | {r['seconds']:.2f} | {r['fps']:.0f} | {r['seconds'] / BUDGET_S:.2f}x | {r['MB']:.1f} |")
    scaled = f" (timed on {n} frames, scaled)" if n < args.frames else ""
    print(f"\nFBX by per-frame keyframe_insert + the same exporter: {base:.1f} s{scaled}; "
          f"mocap (bulk F-curves, curves handed to the exporter) is {base / fbx:.1f}x faster")
    return 0


if __name__ == "__main__":
    sys.exit(main())
