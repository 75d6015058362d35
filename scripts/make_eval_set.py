#!/usr/bin/env python3
"""Render the evaluation and calibration clips: one person, exact 3D ground truth.

Two sets of short rendered clips (2 s, 60 frames at 30 fps, 640x480), each
made by scripts/make_sample.py (a CMU mocap clip skinned onto an anny body,
Cycles on the CPU) with its `<name>.mp4`, `<name>_gt.npz` (the mocap joints,
exactly: world and camera frames, K, camera pose) and `<name>_frame.png`:

* samples/eval/  (8 clips): the **evaluation set**, to measure the 3D accuracy
  of the pipeline (e.g. the "fit" stage).  It must never be used to tune
  anything -- no parameter, mapping, threshold or model choice may be picked
  by looking at results on it; otherwise its numbers stop measuring anything.
* samples/calib/ (4 clips): the **calibration set**, for what does need
  tuning, e.g. calibrating the landmark -> joint mapping.  Its clips use other
  motion segments (no BVH frame is in both sets), other bodies and other
  camera views than the evaluation clips.

The sets vary body (anny phenotype: gender, weight, muscle; height through
--scale), clothes and skin colours, action (walking, turning on the spot,
standing jumps with their crouch, walking crouched, raising the arms
overhead, hanging with the knees pulled up), camera height (0.8-2.2 m), lens
(20-85 mm on a 36 mm sensor) and view (front, side, from behind).  Only two
CMU files are on the machine (Debian's assimp-testmodels): 01_01 (standing
jumps forward, turns on the spot) and 01_03 (a playground course: walking,
stairs up onto a platform, walking crouched under a low roof, hanging from a
bar overhead); the clips avoid the stairs, which are not rendered (the
floor of each clip is put where its feet are, so the crouched walk on the
platform stands on the floor). calib_far is small and far (about 130 px tall, as
people in the background of a wide shot are).

make_sample.py places the camera at the given height and azimuth, at the
distance where the whole body of every frame keeps `margin` (a fraction of
the image size) from the border; `margin` is set per row so that the person
is about 40-80 % of the image height.

Usage:

    .venv/bin/python scripts/make_eval_set.py --check    # GT only, seconds per clip: framing
    .venv/bin/python scripts/make_eval_set.py            # render the missing clips (eval first)
    .venv/bin/python scripts/make_eval_set.py --set calib --only calib_walk --force

Rendering takes ~5-7 s a frame on 2 CPU cores (~6 min a clip).  A clip is
rendered when any of its three files is missing from its folder (--force:
always); each clip's log and make_sample's check images (projected joints on
a few frames) go to --log-dir.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MAKE_SAMPLE = ROOT / "scripts" / "make_sample.py"
BVH_DIR = Path("/usr/share/assimp/models/BVH")
OUT_DIRS = {"eval": ROOT / "samples" / "eval", "calib": ROOT / "samples" / "calib"}

SKIN_LIGHT = (0.70, 0.47, 0.35)
SKIN_MEDIUM = (0.62, 0.36, 0.24)  # make_sample.PARTS default
SKIN_TAN = (0.45, 0.26, 0.16)
SKIN_DARK = (0.28, 0.15, 0.085)


@dataclass
class Clip:
    name: str
    set: str  # "eval" or "calib"
    bvh: str  # file in BVH_DIR
    start: int  # first BVH frame (120 fps)
    action: str  # what happens, for the record
    lens: float  # mm, 36 mm sensor width
    azimuth: float  # degrees about +Y from -Z (make_sample --azimuth)
    cam_height: float  # m above the floor
    phenotype: dict = field(default_factory=dict)  # anny phenotype ({}: average adult)
    colours: dict = field(default_factory=dict)  # overrides of make_sample.PARTS
    scale: float = 1.0  # actor size (skeleton and motion), 1 = the CMU actor
    margin: float = 0.05  # camera framing (make_sample --margin)
    body_pct: tuple = (40, 80)  # the body's height in the image, % (the --check bounds)
    frames: int = 60
    fps: float = 30.0
    width: int = 640
    height: int = 480
    samples: int = 4

    def argv(self, out_dir: Path) -> list[str]:
        a = ["--bvh", str(BVH_DIR / self.bvh), "--start", str(self.start),
             "--frames", str(self.frames), "--fps", f"{self.fps:g}",
             "--name", self.name, "--out-dir", str(out_dir),
             "--width", str(self.width), "--height", str(self.height),
             "--lens", f"{self.lens:g}", "--azimuth", f"{self.azimuth:g}",
             "--cam-height", f"{self.cam_height:g}", "--samples", str(self.samples),
             "--scale", f"{self.scale:g}", "--margin", f"{self.margin:g}"]
        if self.phenotype:
            a += ["--phenotype", json.dumps(self.phenotype)]
        if self.colours:
            a += ["--colours", json.dumps({k: list(v) for k, v in self.colours.items()})]
        return a

    def bvh_frames(self) -> tuple[int, int]:
        """First and last BVH frame used (120 fps source)."""
        return self.start, self.start + round((self.frames - 1) * 120 / self.fps)


CLIPS = [
    # ---------------- evaluation set: never tune anything on it ----------------
    Clip("eval_walk_curve", "eval", "01_03.bvh", start=0,
         action="walks a curve, turning ~180 deg (front-side -> side -> back-side)",
         lens=28, azimuth=215, cam_height=1.6, margin=0.11,
         phenotype={"gender": 0.0, "weight": 0.5},
         colours={"shirt": (0.04, 0.30, 0.30), "trousers": (0.30, 0.25, 0.15)}),
    Clip("eval_jump", "eval", "01_01.bvh", start=360,
         action="crouches and jumps forward twice (standing long jumps)",
         lens=50, azimuth=250, cam_height=1.0, margin=0.10, scale=0.93,
         phenotype={"gender": 1.0, "weight": 0.4},
         colours={"shirt": (0.70, 0.45, 0.02), "trousers": (0.02, 0.02, 0.03),
                  "skin": SKIN_LIGHT, "hair": (0.30, 0.17, 0.05)}),
    Clip("eval_turn", "eval", "01_01.bvh", start=1900,
         action="turns round on the spot, from facing the camera to facing away",
         lens=85, azimuth=20, cam_height=1.5, margin=0.12, scale=1.05,
         phenotype={"gender": 0.0, "weight": 0.8, "muscle": 0.6},
         colours={"shirt": (0.85, 0.85, 0.82), "trousers": (0.05, 0.12, 0.30),
                  "skin": SKIN_DARK, "hair": (0.01, 0.008, 0.006), "lips": (0.20, 0.07, 0.05)}),
    Clip("eval_crouch", "eval", "01_03.bvh", start=690,
         action="walks crouched (bent over, knees bent) forward and back",
         lens=35, azimuth=117, cam_height=0.8, margin=0.10, scale=0.97,
         phenotype={"gender": 0.7, "weight": 0.6},
         colours={"shirt": (0.50, 0.02, 0.20), "trousers": (0.35, 0.35, 0.37),
                  "skin": SKIN_TAN}),
    Clip("eval_back", "eval", "01_03.bvh", start=1424,
         action="turns and walks away, seen from behind",
         lens=40, azimuth=340, cam_height=1.8, margin=0.11,
         phenotype={"gender": 0.2, "weight": 0.3, "muscle": 0.3},
         colours={"shirt": (0.10, 0.10, 0.11), "trousers": (0.20, 0.30, 0.55),
                  "skin": SKIN_LIGHT, "hair": (0.45, 0.30, 0.10)}),
    Clip("eval_arms", "eval", "01_03.bvh", start=1664,
         action="raises both arms overhead to a bar (facing the camera), moves along under it",
         lens=20, azimuth=195, cam_height=1.5, margin=0.08, scale=0.9,
         phenotype={"gender": 1.0, "weight": 0.25},
         colours={"shirt": (0.02, 0.35, 0.08), "trousers": (0.45, 0.04, 0.04),
                  "skin": SKIN_MEDIUM, "hair": (0.02, 0.015, 0.01)}),
    Clip("eval_jump2", "eval", "01_01.bvh", start=1500,
         action="crouches and jumps forward, lands, crouches again",
         lens=24, azimuth=100, cam_height=2.0, margin=0.08,
         phenotype={"gender": 0.3, "weight": 0.9},
         colours={"shirt": (0.55, 0.55, 0.05), "trousers": (0.08, 0.06, 0.04),
                  "skin": SKIN_TAN}),
    Clip("eval_hang", "eval", "01_03.bvh", start=3900,
         action="hangs from a bar overhead, pulls the knees up, swings",
         lens=70, azimuth=137, cam_height=2.2, margin=0.10, scale=1.08,
         phenotype={"gender": 0.5, "weight": 0.55, "muscle": 0.65},
         colours={"shirt": (0.25, 0.08, 0.45), "trousers": (0.50, 0.42, 0.30),
                  "skin": SKIN_DARK, "hair": (0.01, 0.008, 0.006)}),
    # ---------------- calibration set ----------------
    Clip("calib_walk", "calib", "01_03.bvh", start=3300,
         action="walks, turning left then right",
         lens=35, azimuth=200, cam_height=1.4, margin=0.11, scale=1.02,
         phenotype={"gender": 0.1, "weight": 0.65, "muscle": 0.5},
         colours={"shirt": (0.05, 0.15, 0.55), "trousers": (0.03, 0.03, 0.035)}),
    Clip("calib_jump", "calib", "01_01.bvh", start=600,
         action="jumps forward twice (standing long jumps)",
         lens=50, azimuth=300, cam_height=1.7, margin=0.10, scale=0.96,
         phenotype={"gender": 0.85, "weight": 0.7},
         colours={"shirt": (0.75, 0.20, 0.35), "trousers": (0.10, 0.10, 0.25),
                  "skin": SKIN_TAN, "hair": (0.15, 0.08, 0.03)}),
    Clip("calib_turn", "calib", "01_01.bvh", start=1020,
         action="turns round on the spot, from facing away to facing the camera",
         lens=24, azimuth=160, cam_height=1.1, margin=0.12,
         phenotype={"gender": 0.0, "weight": 0.45, "muscle": 0.7},
         colours={"shirt": (0.90, 0.40, 0.02), "trousers": (0.20, 0.20, 0.20),
                  "skin": SKIN_DARK, "hair": (0.01, 0.008, 0.006)}),
    Clip("calib_arms", "calib", "01_03.bvh", start=3540,
         action="raises both arms overhead to a bar, stands holding it",
         lens=60, azimuth=30, cam_height=2.0, margin=0.10, scale=0.92,
         phenotype={"gender": 1.0, "weight": 0.55},
         colours={"shirt": (0.05, 0.40, 0.45), "trousers": (0.60, 0.55, 0.45),
                  "skin": SKIN_LIGHT, "hair": (0.05, 0.03, 0.02)}),
    Clip("calib_far", "calib", "01_01.bvh", start=2200,
         action="small and far: about 130 px tall, turns and steps",
         lens=35, azimuth=70, cam_height=1.3, margin=0.33, scale=0.98, body_pct=(22, 35),
         phenotype={"gender": 0.4, "weight": 0.5},
         colours={"shirt": (0.45, 0.05, 0.05), "trousers": (0.15, 0.20, 0.10),
                  "skin": SKIN_MEDIUM}),
]


def outputs(c: Clip) -> list[Path]:
    d = OUT_DIRS[c.set]
    return [d / f"{c.name}.mp4", d / f"{c.name}_gt.npz", d / f"{c.name}_frame.png"]


def check_table(clips: list[Clip]) -> None:
    """No BVH frame in both sets; names unique."""
    names = [c.name for c in clips]
    assert len(set(names)) == len(names), "clip names must be unique"
    for e in (c for c in clips if c.set == "eval"):
        for k in (c for c in clips if c.set == "calib"):
            if e.bvh == k.bvh:
                (a0, a1), (b0, b1) = e.bvh_frames(), k.bvh_frames()
                assert a1 < b0 or b1 < a0, f"{e.name} and {k.name} share BVH frames"


def framing(gt_path: Path, body_box: np.ndarray | None = None) -> dict:
    """How the clip sits in the image, from its GT (and the body's box)."""
    gt = np.load(gt_path)
    K, (w, h) = gt["K"], gt["image_size"]
    Xc = gt["joints_camera"]
    uv = Xc[..., :2] / Xc[..., 2:3] * K[[0, 1], [0, 1]] + K[:2, 2]
    # smallest distance of any projected joint to the image border (negative: outside)
    joint_margin = np.minimum.reduce([uv[..., 0], w - 1 - uv[..., 0], uv[..., 1], h - 1 - uv[..., 1]])
    # view: angle between where the body faces and where the camera is (0 front, 180 back)
    names = list(gt["joint_names"])
    P = gt["joints_world"]
    lr = P[:, names.index("LeftUpLeg")] - P[:, names.index("RightUpLeg")]
    facing = np.cross(lr, [0.0, 1.0, 0.0])
    to_cam = gt["world_from_camera"][:3, 3] - P[:, 0]
    ang = np.degrees(np.arctan2(np.cross(facing, to_cam)[:, 1], np.sum(facing[:, [0, 2]] * to_cam[:, [0, 2]], 1)))
    view = np.abs(ang)
    r = dict(frames=len(P), joint_margin_px=float(joint_margin.min()),
             joints_out=int((joint_margin < 0).sum()), view_deg=(float(view.min()), float(view.max())),
             view_mean=float(view.mean()), dist_m=float(np.linalg.norm(to_cam, axis=1).mean()))
    if body_box is not None:
        bh = body_box[:, 3] - body_box[:, 1]
        r.update(body_h_px=(float(bh.min()), float(bh.max())),
                 body_h_pct=(float(bh.min() / h * 100), float(bh.max() / h * 100)),
                 body_margin_px=float(min(body_box[:, 0].min(), body_box[:, 1].min(),
                                          w - 1 - body_box[:, 2].max(), h - 1 - body_box[:, 3].max())))
    return r


def run_check(clips: list[Clip], out_dir: Path) -> list[dict]:
    """GT only (no rendering) for each clip, in this process: framing report."""
    sys.path.insert(0, str(MAKE_SAMPLE.parent))
    import make_sample

    rows = []
    for c in clips:
        t0 = time.time()
        s = make_sample.main(c.argv(out_dir / c.set) + ["--gt-only"])
        f = framing(s["gt"], s["body_box"])
        ok = (f["joint_margin_px"] >= 10 and f["body_margin_px"] >= 0
              and c.body_pct[0] <= f["body_h_pct"][0] and f["body_h_pct"][1] <= c.body_pct[1])
        f.update(name=c.name, ok=ok, secs=time.time() - t0)
        rows.append(f)
        print(f"CHECK {c.name:16s} {'ok ' if ok else 'BAD'} joints >= {f['joint_margin_px']:.0f} px from the border, "
              f"body {f['body_h_px'][0]:.0f}-{f['body_h_px'][1]:.0f} px "
              f"({f['body_h_pct'][0]:.0f}-{f['body_h_pct'][1]:.0f}%), body >= {f['body_margin_px']:.0f} px "
              f"from the border; view {f['view_deg'][0]:.0f}-{f['view_deg'][1]:.0f} deg "
              f"(mean {f['view_mean']:.0f}; 0 front, 180 back); camera {f['dist_m']:.1f} m away",
              flush=True)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--set", choices=["eval", "calib", "all"], default="all")
    ap.add_argument("--only", nargs="*", default=None, help="clip names")
    ap.add_argument("--check", action="store_true",
                    help="GT only, into --check-dir: framing of each clip (no rendering)")
    ap.add_argument("--check-dir", default="/tmp/eval_set_check")
    ap.add_argument("--force", action="store_true", help="render even if the outputs exist")
    ap.add_argument("--list", action="store_true", help="print the table and the commands")
    ap.add_argument("--log-dir", default="/tmp/eval_set_logs", help="per-clip logs and check images")
    ap.add_argument("--no-mediapipe", action="store_true", help="skip make_sample's MediaPipe check")
    args = ap.parse_args(argv)

    check_table(CLIPS)
    clips = [c for c in CLIPS if args.set in ("all", c.set) and (args.only is None or c.name in args.only)]
    clips.sort(key=lambda c: c.set != "eval")  # evaluation set first
    if args.list:
        for c in clips:
            print(c)
            print("   ", shlex.join([sys.executable, str(MAKE_SAMPLE)] + c.argv(OUT_DIRS[c.set])))
        return
    if args.check:
        rows = run_check(clips, Path(args.check_dir))
        bad = [r["name"] for r in rows if not r["ok"]]
        print("all clips frame well" if not bad else f"BAD framing: {bad}")
        return 1 if bad else 0

    todo = [c for c in clips if args.force or not all(p.exists() for p in outputs(c))]
    print(f"{len(todo)} of {len(clips)} clips to render: {[c.name for c in todo]}", flush=True)
    failed = []
    for c in todo:
        out_dir = OUT_DIRS[c.set]
        log_dir = Path(args.log_dir)
        log_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, str(MAKE_SAMPLE)] + c.argv(out_dir) + [
            "--debug-dir", str(log_dir)]
        if args.no_mediapipe:
            cmd.append("--no-mediapipe")
        t0 = time.time()
        print(f"[{time.strftime('%H:%M:%S')}] {c.name}: rendering {c.frames} frames ...", flush=True)
        with open(log_dir / f"{c.name}.log", "w") as log:
            log.write(" ".join(cmd) + "\n\n")
            log.flush()
            rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, check=False).returncode
        dt = time.time() - t0
        if rc != 0 or not all(p.exists() for p in outputs(c)):
            failed.append(c.name)
            print(f"[{time.strftime('%H:%M:%S')}] {c.name}: FAILED (rc {rc}, {dt:.0f} s), "
                  f"see {log_dir / (c.name + '.log')}", flush=True)
            continue
        sizes = ", ".join(f"{p.name} {p.stat().st_size / 1e3:.0f} kB" for p in outputs(c))
        print(f"[{time.strftime('%H:%M:%S')}] {c.name}: done in {dt:.0f} s ({sizes})", flush=True)
    print("failed: " + ", ".join(failed) if failed else "all done", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
