#!/usr/bin/env python
"""Peak memory against video length: `mocap run` on a short and a long 1080p video.

    python scripts/bench.py memory [--short 1] [--long 30] [--height 1080] [--detector none] [--json]

Both videos are made here (the sample clip's frames scaled to the height and
looped to the length, MPEG-4 at 30 fps) and captured with ``/usr/bin/time -v``
around the whole command (``--workers 1``; ``--detector none`` by default: one
person, one estimator, so the numbers are the pipeline's own; ``--detector auto``
adds detection and tracking). Goal: the long video's peak
resident memory within 1.5x of the short one's (memory flat with length). A
30-minute 1080p run takes about 25 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "turn_jump.mp4"


def make_video(path: Path, minutes: float, height: int, fps: int = 30) -> Path:
    """The sample's frames scaled to ``height`` and looped (forwards and back, so the motion
    stays continuous) to ``minutes``."""
    import av

    with av.open(str(SAMPLE)) as c:
        frames = [f for f in c.decode(video=0)]
    width = round(frames[0].width * height / frames[0].height / 2) * 2
    scaled = [f.reformat(width=width, height=height, format="yuv420p") for f in frames]
    loop = scaled + scaled[-2:0:-1]
    total = int(minutes * 60 * fps)
    with av.open(str(path), "w") as out:
        s = out.add_stream("mpeg4", rate=Fraction(fps))
        s.width, s.height, s.pix_fmt = width, height, "yuv420p"
        s.codec_context.bit_rate = 2_000_000
        for i in range(total):
            frame = loop[i % len(loop)]
            frame.pts, frame.time_base = i, Fraction(1, fps)
            for packet in s.encode(frame):
                out.mux(packet)
        for packet in s.encode():
            out.mux(packet)
    return path


def peak_rss_mb(video: Path, out: Path, detector: str = "none") -> tuple[float, float]:
    """(peak resident MB, seconds) of `mocap run` on ``video``."""
    t = time.perf_counter()
    proc = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-m", "mocap", "run", str(video), "--out",
                           str(out), "--detector", detector, "--workers", "1", "--progress", "none"],
                          capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"mocap run failed: {proc.stderr.strip().splitlines()[-1]}")
    kb = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr).group(1))
    return kb / 1024, seconds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--short", type=float, default=1.0, help="minutes")
    ap.add_argument("--long", type=float, default=30.0, help="minutes")
    ap.add_argument("--height", type=int, default=1080)
    ap.add_argument("--detector", default="none", help="as `mocap run --detector` (auto: detect and track people)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, minutes in (("short", args.short), ("long", args.long)):
            video = make_video(Path(tmp) / f"{label}.mp4", minutes, args.height)
            mb, seconds = peak_rss_mb(video, Path(tmp) / f"{label}.npz", args.detector)
            rows[label] = {"minutes": minutes, "peak_mb": mb, "seconds": seconds}
            video.unlink()
    ratio = rows["long"]["peak_mb"] / rows["short"]["peak_mb"]
    result = {"height": args.height, "detector": args.detector, **rows, "ratio": ratio, "goal": 1.5}
    if args.json:
        print(json.dumps(result))
    else:
        for label, r in rows.items():
            print(f"{r['minutes']:g} min at {args.height}p: peak {r['peak_mb']:.0f} MB, {r['seconds']:.0f} s")
        print(f"long / short peak memory: {ratio:.2f}x (goal <= 1.5x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
