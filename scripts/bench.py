#!/usr/bin/env python
"""End-to-end speed of ``mocap run`` on a clip, with the share of time per stage.

    python scripts/bench.py [VIDEO] [--out anim.fbx] [--repeat 2] [--detector auto] [--end S]
    python scripts/bench.py --baseline mediapipe-graph:hog   (against the two-pass path, same process)
    python scripts/bench.py --baseline mediapipe:auto:off    (against the same path without the fit)
    python scripts/bench.py /usr/share/doc/opencv-doc/examples/data/vtest.avi --end 30 --repeat 1
    python scripts/bench.py export [...]   (export speed per format: scripts/bench_export.py)
    python scripts/bench.py addon [...]    (Blender add-on import speed: scripts/bench_addon.py)
    python scripts/bench.py batch [...]    (batch throughput vs one run after another: scripts/bench_batch.py)
    python scripts/bench.py memory [...]   (peak memory, short vs long video: scripts/bench_memory.py)

Reported as ratios measured in this process: frames per second end to end,
speed relative to real time (video fps), and relative to a decode-only pass
over the same file (the floor any pipeline pays). "cold" is the whole
``mocap run`` command in a fresh process (imports, model load, Blender start);
"warm" is the pipeline called again in this process, split by stage (decode, detect,
landmarks, track: the one-pass following, or decode, detect, track then estimate on the
two-pass path; solve, export), with each stage's share of the warm wall time, its
milliseconds a frame and the frames per second it alone runs at.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mocap import video  # noqa: E402
from mocap.pipeline import RunOptions, run  # noqa: E402


def decode_only(path: Path, end: float | None) -> tuple[int, float]:
    t = time.perf_counter()
    n = sum(1 for _ in video.read_frames(path, 0.0, end))
    return n, time.perf_counter() - t


SUBBENCHES = ("export", "addon", "batch", "memory")


def main() -> int:
    if sys.argv[1:2] and sys.argv[1] in SUBBENCHES:  # `bench.py export ...`: scripts/bench_export.py
        import importlib

        sys.path.insert(0, str(Path(__file__).resolve().parent))
        return importlib.import_module(f"bench_{sys.argv[1]}").main(sys.argv[2:])
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("video", nargs="?", default=str(ROOT / "samples" / "turn_jump.mp4"))
    ap.add_argument("--out", default="anim.fbx", help="output name (format by extension)")
    ap.add_argument("--repeat", type=int, default=2, help="runs; the fastest counts (the first warms caches)")
    ap.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    ap.add_argument("--detector", default="auto", help="person detector, as `mocap run --detector`")
    ap.add_argument("--end", type=float, default=None, help="only the first END seconds")
    ap.add_argument("--backend", default="mediapipe", help="body estimator, as `mocap run --backend`")
    ap.add_argument("--fit", default="on", help="as `mocap run --fit`")
    ap.add_argument("--baseline", default=None, metavar="BACKEND[:DETECTOR[:FIT]]",
                    help="also measure this configuration in the same process (e.g. mediapipe-graph:hog, the "
                         "path before the one-pass perception; mediapipe:auto:off, without the fit) and "
                         "report the speed-up against it")
    args = ap.parse_args()
    path = Path(args.video)
    info = video.probe(path)
    n_dec, t_dec = min((decode_only(path, args.end) for _ in range(args.repeat)), key=lambda r: r[1])
    reports = [measure(path, info, args, args.backend, args.detector, n_dec / t_dec, args.fit)]
    if args.baseline:
        backend, detector, fit = (args.baseline.split(":") + ["auto", "on"])[:3]
        reports.append(measure(path, info, args, backend, detector or "auto", n_dec / t_dec, fit or "on"))
        reports[0]["x_baseline_cold"] = round(reports[0]["cold_fps"] / reports[1]["cold_fps"], 2)
        reports[0]["x_baseline_warm"] = round(reports[0]["fps"] / reports[1]["fps"], 2)
    if args.json:
        print(json.dumps(reports[0] if len(reports) == 1 else {"run": reports[0], "baseline": reports[1]}))
        return 0
    for report in reports:
        print_report(report, info)
    if args.baseline:
        print(f"speed-up against {args.baseline}: {reports[0]['x_baseline_cold']}x cold, "
              f"{reports[0]['x_baseline_warm']}x warm (same process, same machine)")
    return 0


def measure(path: Path, info, args, backend: str, detector: str, decode_fps: float, fit: str = "on") -> dict:
    """One configuration's speed: warm (in this process, by stage) and cold (a fresh `mocap run`)."""
    cut = ["--end", str(args.end)] if args.end else []
    best = None
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(args.repeat):
            t = time.perf_counter()
            result = run(path, Path(tmp) / args.out, RunOptions(backend=backend, detector=detector, end=args.end,
                                                                 fit=fit))
            wall = time.perf_counter() - t
            if best is None or wall < best[0]:
                best = (wall, result)
        cold = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "mocap", "run", str(path), "--out", str(Path(tmp) / args.out),
                            "--backend", backend, "--detector", detector, "--fit", fit, "--progress", "none", *cut],
                           check=True,
                           capture_output=True)
            cold.append(time.perf_counter() - t)
    wall, result = best
    fps = result.frames / wall
    cold_fps = result.frames / min(cold)
    return {
        "video": path.name, "size": f"{info.width}x{info.height}", "video_fps": info.fps,
        "backend": backend, "detector": detector, "fit": fit,
        "frames": result.frames, "cold_s": round(min(cold), 3), "cold_fps": round(cold_fps, 1),
        "cold_x_realtime": round(cold_fps / info.fps, 2),
        "wall_s": round(wall, 3), "fps": round(fps, 1),
        "x_realtime": round(fps / info.fps, 2), "x_decode_only": round(fps / decode_fps, 3),
        "people": result.people,
        "stage_share": {k: round(v / wall, 3) for k, v in result.seconds.items()},
        "stage_ms_per_frame": {k: round(1000 * v / result.frames, 2) for k, v in result.seconds.items()},
        "stage_fps": {k: round(result.frames / v, 1) for k, v in result.seconds.items() if v > 0},
        "startup_share": round(1 - sum(result.seconds.values()) / wall, 3),
    }


def print_report(report: dict, info) -> None:
    people = report["people"]
    print(f"{report['video']} {report['size']} @ {info.fps:g} fps, {report['frames']} frames, "
          f"{people} {'person' if people == 1 else 'people'}, backend {report['backend']}, detector "
          f"{report['detector']}, fit {report['fit']}")
    print(f"cold `mocap run`: {report['cold_fps']} frames/s = {report['cold_x_realtime']}x real time "
          f"({report['cold_s']:.2f} s, fresh process)")
    print(f"warm pipeline:    {report['fps']} frames/s = {report['x_realtime']}x real time "
          f"= {report['x_decode_only']}x decode-only speed ({report['wall_s']:.2f} s)")
    for stage, share in report["stage_share"].items():
        print(f"  {stage:<9} {100 * share:5.1f} %  {report['stage_ms_per_frame'][stage]:7.2f} ms/frame  "
              f"{report['stage_fps'].get(stage, 0):8.1f} frames/s alone")
    print(f"  {'setup':<9} {100 * report['startup_share']:5.1f} %  (model load, probing)")


if __name__ == "__main__":
    sys.exit(main())
