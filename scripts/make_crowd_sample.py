#!/usr/bin/env python3
"""Render a short multi-person clip with known identities, for tracking tests.

Three people (and a fourth, briefly) move on one floor in front of a static
camera, each driven by a real CMU motion-capture segment placed in the world
by a rigid move (turn about the vertical, then a shift), each with their own
anny body and clothes:

* person 1, red shirt (default anny body): CMU 01_03 -- turns on the spot,
  walks a curve towards the camera and to the right, then slows down with
  raised hands (the actor is nearing an obstacle of the CMU course);
* person 2, blue shirt, smaller, female body: CMU 01_03, a later take of the
  same course, walking right to left twice as far away: the two image paths
  cross and person 1 hides person 2 (almost) completely for a few frames
  around frame 52;
* person 3, green shirt, heavier build: CMU 01_01 -- stands, turns round and
  jumps forward (towards the camera), in the background on the left;
* person 4, yellow shirt: a walker seen in only 3 frames (in the scene for
  those frames only, as if popping in at a cut), for the "too short to keep"
  test; joints and boxes are NaN in the other frames (`present` says which).

That scene is the default scenario, `crowd`; `--scenario NAME` picks another
(SCENARIOS: each its people and its camera, image size and clip length):

* `crossing` (640x480, 90 frames): person 1, red shirt, walks in from beyond
  the left image border (CMU 01_03, the walk at the start of the take) about
  5.5 m away and crosses to the right of the middle; person 2, blue shirt,
  smaller, female body, walks right to left about 10.5 m away (01_03, a later
  take: turns on the spot, walks, then raises the hands towards the course's
  obstacle) and is >= 70% hidden behind person 1 for ~7 frames around frame
  46; person 3, green shirt, heavier, stands far away on the right (~14 m,
  ~120 px tall) and turns round on the spot (01_01), never occluded;
* `turnaway` (portrait 360x640, 90 frames, one person): faces the camera,
  turns round on the spot until the back is to the camera, then moves away
  from it with a standing jump (01_01: the CMU files here have no turn
  followed by walking away), 2.2 m -> 3.1 m from the camera;
* `return` (640x480, 10 fps, 110 frames; for re-identification by
  appearance): person 1, red shirt, walks from the middle out through the
  right image border (in the picture in frames 0-23) and comes back in
  through it walking left (frames 86-109), 6 s later: two entries with pid
  1 (in the scene in frames 0-27 and 83-109); in between, person 3, green
  shirt, heavier, darker skin, walks in through the right border and right
  to left across the picture at about the same depth (~6 m, ~275 px tall)
  and out through the left border (frames 34-80); person 2, blue shirt,
  female body, stands on the left (~8.5 m) turning round and back (01_01)
  all along; person 3 passes in front of her (visible < 0.5 in frames
  69-71).  The CMU walks are short and curved (a course of obstacles), so
  the walkers repeat one gait cycle of 01_03, straightened, and person 2 a
  turn and the turn back (Person.cycle, loop_motion).

Outputs are <name>.mp4, <name>_gt.npz, <name>_frame.png, with --name
defaulting to the scenario's name.

Everything else is scripts/make_sample.py's machinery (imported): BVH ->
forward kinematics (the joints are the exact ground truth), anny mesh bound
to the BVH skeleton and skinned in numpy, Blender Cycles on the CPU, H.264.

Ground truth per person (samples/crowd_gt.npz, loads with allow_pickle=False):
joints in world and camera frames, pixel boxes of the projected mesh, and how
much of each person is visible.  Visibility is measured on the rendered
frames themselves: the render also writes Blender's Object Index pass (each
pixel's front-most object, i.e. an id mask of who is seen where), and
`visible` = (pixels of the person in that mask) / (pixels the person's mesh
covers on its own, unoccluded and without the image border), the latter by
rasterising the projected mesh at pixel centres in numpy.  A numpy z-buffer
of all meshes is computed too, as an independent check of the rendered mask.

Keys of <name>_gt.npz (P people, T frames, J = 31 CMU joints; "absent" =
outside the frames where the person is in the scene):

    fps, times (T,) s, K (3, 3), image_size (W, H), world_from_camera (4, 4)
    person_ids (P,) int (a pid may repeat: one person in the scene at different
        times, never in two entries at once); present (P, T) bool
    boxes (P, T, 4) xyxy pixels: bounds of the projected mesh, clipped to the
        image, whose edges are at -0.5 and W - 0.5 / H - 0.5 (pixel centres
        are integers); NaN when absent or wholly outside the image
    visible (P, T) in [0, 1], 0 when absent (see above)
    boxes_visible (P, T, 4): bounds of the person's pixels in the id mask
    seen (P, T) the person's pixels in the id mask; area (P, T) pixels the
        mesh covers alone; zbuffer_iou (P, T) rendered vs numpy mask (check)
    joints_world, joints_camera (P, T, J, 3) metres, NaN when absent
    joint_names (J,), parents (J,), source (str: segments and placements)

Usage (the defaults reproduce samples/crowd.*, ~10 min on 2 CPU cores):

    .venv/bin/python scripts/make_crowd_sample.py
    .venv/bin/python scripts/make_crowd_sample.py --scenario crossing   # samples/crossing.*
    .venv/bin/python scripts/make_crowd_sample.py --scenario turnaway   # samples/turnaway.*
    .venv/bin/python scripts/make_crowd_sample.py --scenario return     # samples/return.*

    --plan           no rendering: numpy z-buffer only, writes preview images
                     and the visibility table to --debug-dir (seconds)
    --check-only     only check existing outputs (decode, boxes, plots)

Conventions are make_sample.py's: world Y up, metres, floor y = 0; OpenCV
camera (x right, y down, z forward); pixel centres at integer coordinates.
Here the camera stands at the world origin's side looking down -Z, so world
+X is image right and people stand at negative z.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_sample as ms  # noqa: E402  (the single-person sample's machinery)

from mocap.formats.bvh import read_bvh  # noqa: E402
from mocap.skeleton import forward_kinematics  # noqa: E402

BVH_DIR = Path("/usr/share/assimp/models/BVH")


# --------------------------------------------------------------------------
# The people
# --------------------------------------------------------------------------


@dataclass
class Person:
    pid: int  # identity in the GT (and the Object Index pass value)
    label: str
    bvh: str  # file in BVH_DIR
    start: int  # BVH frame shown at the person's first video frame
    anchor_frame: int  # video frame at which the root is put at anchor_xz
    anchor_xz: tuple[float, float]  # world (x, z) of the root at anchor_frame
    heading: float  # world direction (degrees about +Y from +Z) of the root's travel
    heading_span: tuple[int, int]  # video frames whose root displacement defines the travel
    scale: float = 1.0  # uniform size of the skeleton and motion (1 = the CMU actor)
    phenotype: dict | None = None  # anny phenotype (None: default average adult)
    colours: dict = field(default_factory=dict)  # overrides of make_sample.PARTS
    frames: tuple[int, int] | None = None  # first, last video frame in the scene (None: all)
    # BVH frame ranges [a, b) played in turn and over again, each joined on to the last
    # (see loop_motion); `start` then counts BVH frames from the first range's a
    cycle: tuple[tuple[int, int], ...] | None = None
    straight: bool = False  # with cycle: take out each range's net turn (a curved walk goes straight)


SKIN_LIGHT = (0.70, 0.47, 0.35)
SKIN_DARK = (0.28, 0.15, 0.085)

PEOPLE = [
    Person(1, "red shirt", "01_03.bvh", start=1460, anchor_frame=50, anchor_xz=(0.0, -5.2),
           heading=35.0, heading_span=(40, 60)),
    Person(2, "blue shirt", "01_03.bvh", start=3320, anchor_frame=50, anchor_xz=(0.15, -10.5),
           heading=-120.0, heading_span=(10, 99), scale=0.94,
           phenotype={"gender": 1.0, "weight": 0.45},
           colours={"shirt": (0.02, 0.16, 0.60), "trousers": (0.42, 0.36, 0.24),
                    "skin": SKIN_LIGHT, "hair": (0.30, 0.17, 0.05), "shoes": (0.35, 0.33, 0.30)}),
    Person(3, "green shirt", "01_01.bvh", start=980, anchor_frame=0, anchor_xz=(-1.5, -12.5),
           heading=0.0, heading_span=(70, 99), scale=1.03,
           phenotype={"gender": 0.0, "weight": 0.8, "muscle": 0.6},
           colours={"shirt": (0.04, 0.36, 0.06), "trousers": (0.02, 0.02, 0.025),
                    "skin": SKIN_DARK, "hair": (0.01, 0.008, 0.006), "lips": (0.20, 0.07, 0.05)}),
    Person(4, "yellow shirt", "01_03.bvh", start=60, anchor_frame=80, anchor_xz=(-2.4, -9.0),
           heading=-100.0, heading_span=(80, 100), scale=0.98, frames=(80, 82),
           phenotype={"gender": 0.0, "weight": 0.35},
           colours={"shirt": (0.80, 0.55, 0.02), "trousers": (0.16, 0.16, 0.17)}),
]


def still_crowd(visible, present, pids) -> int:
    """The crossing: first frame where person 2 is half hidden behind person 1."""
    return int(np.argmax(visible[pids.index(2)] < 0.5))


def still_crossing(visible, present, pids) -> int:
    """The frame where person 2 (the far walker) is the most hidden."""
    i = pids.index(2)
    v = np.where(present[i], visible[i], np.inf)
    return int(np.argmin(v))


@dataclass
class Scenario:
    """A scene: its people and the defaults of the camera, image and clip."""

    people: list[Person]
    doc: str  # one line, for --help and the log
    frames: int = 100
    fps: float = 30.0
    width: int = 640
    height: int = 480
    lens: float = 45.0  # mm, 36 mm sensor width
    cam_height: float = 1.5  # m
    look_at: tuple[float, float, float] = (0.35, 0.8, -7.0)  # camera at x = 0, z = 0
    still: object = still_crowd  # int (video frame) or f(visible, present, pids) -> frame
    plan_frames: tuple[int, int] = (44, 56)  # --plan previews every 5th frame and these


CROSSING = [
    Person(1, "red shirt", "01_03.bvh", start=4, anchor_frame=0, anchor_xz=(-1.95, -5.5),
           heading=90.0, heading_span=(0, 74),
           phenotype={"gender": 0.0, "weight": 0.6, "muscle": 0.55},
           colours={"shirt": (0.55, 0.04, 0.04), "trousers": (0.05, 0.05, 0.07)}),
    Person(2, "blue shirt", "01_03.bvh", start=3348, anchor_frame=45, anchor_xz=(-1.13, -10.8),
           heading=-90.0, heading_span=(20, 80), scale=0.95,
           phenotype={"gender": 1.0, "weight": 0.4},
           colours={"shirt": (0.04, 0.18, 0.62), "trousers": (0.50, 0.44, 0.32),
                    "skin": SKIN_LIGHT, "hair": (0.30, 0.17, 0.05), "shoes": (0.35, 0.33, 0.30)}),
    Person(3, "green shirt", "01_01.bvh", start=870, anchor_frame=0, anchor_xz=(2.6, -14.3),
           heading=0.0, heading_span=(0, 89), scale=1.02,
           phenotype={"gender": 0.0, "weight": 0.75, "muscle": 0.4},
           colours={"shirt": (0.05, 0.38, 0.07), "trousers": (0.02, 0.02, 0.025),
                    "skin": SKIN_DARK, "hair": (0.01, 0.008, 0.006), "lips": (0.20, 0.07, 0.05)}),
]

TURNAWAY = [
    Person(1, "purple shirt", "01_01.bvh", start=992, anchor_frame=0, anchor_xz=(0.0, -2.4),
           heading=180.0, heading_span=(62, 87),
           phenotype={"gender": 0.7, "weight": 0.5},
           colours={"shirt": (0.36, 0.05, 0.40), "trousers": (0.03, 0.05, 0.16),
                    "skin": SKIN_LIGHT, "hair": (0.20, 0.10, 0.03)}),
]

# person 1 leaves and comes back: two entries, one identity, body and clothes
RED_SHIRT = {"phenotype": {"gender": 0.0, "weight": 0.6, "muscle": 0.55},
             "colours": {"shirt": (0.55, 0.04, 0.04), "trousers": (0.05, 0.05, 0.07)}}
WALK_CYCLE = ((36, 188),)  # 01_03: one gait cycle of the first walk (1.27 s, turning 47 deg)
RETURN = [
    Person(1, "red shirt", "01_03.bvh", start=0, anchor_frame=0, anchor_xz=(-0.2, -6.0),
           heading=90.0, heading_span=(0, 27), frames=(0, 27), cycle=WALK_CYCLE, straight=True, **RED_SHIRT),
    Person(2, "blue shirt", "01_01.bvh", start=0, anchor_frame=0, anchor_xz=(-1.45, -8.5),
           heading=-149.0, heading_span=(0, 109), scale=0.95, cycle=((916, 1198), (1928, 2120)),
           phenotype={"gender": 1.0, "weight": 0.4},
           colours={"shirt": (0.04, 0.18, 0.62), "trousers": (0.50, 0.44, 0.32),
                    "skin": SKIN_LIGHT, "hair": (0.30, 0.17, 0.05), "shoes": (0.35, 0.33, 0.30)}),
    Person(3, "green shirt", "01_03.bvh", start=40, anchor_frame=35, anchor_xz=(2.2, -6.3),
           heading=-90.0, heading_span=(30, 86), scale=1.03, frames=(30, 86), cycle=WALK_CYCLE, straight=True,
           phenotype={"gender": 0.0, "weight": 0.85, "muscle": 0.4},
           colours={"shirt": (0.05, 0.38, 0.07), "trousers": (0.02, 0.02, 0.025),
                    "skin": SKIN_DARK, "hair": (0.01, 0.008, 0.006), "lips": (0.20, 0.07, 0.05)}),
    Person(1, "red shirt", "01_03.bvh", start=76, anchor_frame=85, anchor_xz=(2.15, -6.0),
           heading=-90.0, heading_span=(83, 109), frames=(83, 109), cycle=WALK_CYCLE, straight=True, **RED_SHIRT),
]

SCENARIOS: dict[str, Scenario] = {
    "crowd": Scenario(PEOPLE, "four people, two paths crossing, one seen for 3 frames"),
    "crossing": Scenario(CROSSING, "one walks in from the left, passes in front of a far walker; "
                                   "a small one stands far away",
                         frames=90, lens=60.0, cam_height=1.15, look_at=(0.0, 0.8, -7.0), still=still_crossing,
                         plan_frames=(30, 60)),
    "turnaway": Scenario(TURNAWAY, "portrait, one person: faces the camera, turns round, moves away",
                         frames=90, width=360, height=640, lens=50.0, cam_height=1.4,
                         look_at=(0.0, 0.9, -2.8), still=56, plan_frames=(50, 62)),
    "return": Scenario(RETURN, "10 fps: one leaves on the right and comes back > 5 s later; "
                               "another passes through in between; one stands and turns",
                       frames=110, fps=10.0, lens=60.0, cam_height=1.15, look_at=(0.0, 0.8, -7.0), still=97,
                       plan_frames=(24, 38)),
}


def rot_y(deg: float) -> np.ndarray:
    a = np.radians(deg)
    return np.array([[np.cos(a), 0, np.sin(a)], [0, 1.0, 0], [-np.sin(a), 0, np.cos(a)]])


def loop_motion(bvh, segments, straight: bool, n_out: int, fade: int = 24):
    """A longer motion from BVH frame ranges [a, b) played in turn, over and over.

    CMU 01_03's walks last ~2.5 s (the take is a course of obstacles) and
    01_01 stands still only for a few seconds between jumps; a range that
    ends in about the pose it starts with (a gait cycle, or a turn and the
    turn back as two ranges) is repeated instead.  Each range is turned about
    the vertical and shifted so that it starts where (and facing where) the
    last one ended (frame b); its last `fade` frames are blended into the
    `fade` frames before the next range's a, so that the pose runs on
    smoothly.  straight=True also turns each range's frames progressively
    back by its net turn (facing at b minus facing at a), so that a curved
    walk cycle repeats along a straight line; the turning pivots about the
    lower foot, so that the feet hardly slip (the joints are the ground
    truth of what is rendered all the same).  Returns
    (n_out, J, 3, 3) local rotations and (n_out, 3) root positions; frame 0
    is BVH frame segments[0][0] unchanged.
    """
    rots, pos = bvh.rotations, bvh.root_positions
    fwd = rots[:, 0, :, 2]  # the root's local +Z (forward) axis, in the BVH's Y-up world
    psi = np.arctan2(fwd[:, 0], fwd[:, 2])  # facing, radians about +Y from +Z
    segs = [tuple(int(v) for v in ab) for ab in segments]
    assert all(fade <= a < b < len(rots) - 1 for a, b in segs), f"cycle {segs}: ranges out of the BVH"

    def turn(a, b):  # the turn taken out of a range
        return (psi[b] - psi[a] + np.pi) % (2 * np.pi) - np.pi if straight else 0.0

    if straight:  # the lower foot (ankle) of every frame, relative to the root
        P, _ = forward_kinematics(rots, pos, bvh.skeleton)
        ankles = P[:, [bvh.skeleton.names.index(n) for n in ("LeftFoot", "RightFoot")]]
        foot = ankles[np.arange(len(P)), np.argmin(ankles[:, :, 1], axis=1)] - pos

    def frame(i, a, b, theta):  # BVH frame i of range [a, b) placed with base turn theta
        step = turn(a, b) / (b - a)
        Ry = rot_y(np.degrees(theta - step * (i - a)))
        R = rots[i].copy()
        R[0] = Ry @ R[0]
        v = Ry @ (pos[i + 1] - pos[i])  # root step to the next frame
        if straight:  # turning by -step about the lower foot, not the root
            d = Ry @ foot[i]
            v -= rot_y(np.degrees(-step)) @ d - d
        return R, v[[0, 2]], pos[i, 1]

    Rs, vs, ys = [], [], []
    theta, k = 0.0, 0
    while len(Rs) < n_out:
        a, b = segs[k % len(segs)]
        na, nb = segs[(k + 1) % len(segs)]
        theta_next = theta + psi[b] - turn(a, b) - psi[na]  # facing at na = facing at (turned) b
        for i in range(a, b):
            R, v, y = frame(i, a, b, theta)
            m = i - (b - fade)
            if m >= 0:  # blend into the frames before the next range's start
                Rn, vn, yn = frame(na - fade + m, na, nb, theta_next)
                t = (m + 1) / (fade + 1)
                U, _, Vt = np.linalg.svd((1 - t) * R + t * Rn)  # nearest rotation
                R, v, y = U @ Vt, (1 - t) * v + t * vn, (1 - t) * y + t * yn
            Rs.append(R)
            vs.append(v)
            ys.append(y)
        theta, k = theta_next, k + 1
    R = np.stack(Rs[:n_out])
    xz = pos[segs[0][0], [0, 2]] + np.concatenate([np.zeros((1, 2)), np.cumsum(vs[:n_out - 1], axis=0)])
    return R, np.column_stack([xz[:, 0], ys[:n_out], xz[:, 1]])


def person_motion(p: Person, n_frames: int, fps: float, anny_cache: dict, log=print):
    """Joints (T, J, 3), vertices (T, V, 3) in the world, the body and skeleton.

    The motion is resampled from the BVH for the person's frames (or all
    n_frames), skinned, put on the floor (y = 0), turned about +Y so that
    its root travel over heading_span points along `heading`, and shifted so
    that the root is at anchor_xz at anchor_frame.  Frames outside p.frames
    are NaN.
    """
    first, last = p.frames if p.frames is not None else (0, n_frames - 1)
    assert 0 <= first <= last < n_frames, f"person {p.pid}: frames {first}-{last} not in the clip"
    # compute a window of at least 30 frames (floor height and heading are
    # estimated over it), starting at the person's first frame
    n = max(last - first + 1, 30, p.heading_span[1] + 1 - first, p.anchor_frame + 1 - first)
    bvh = read_bvh(BVH_DIR / p.bvh, units=ms.CMU_UNIT_M * p.scale)
    src_fps = float(round(bvh.fps)) if abs(bvh.fps - round(bvh.fps)) < 0.01 else bvh.fps
    rots, root = bvh.rotations, bvh.root_positions
    if p.cycle:
        rots, root = loop_motion(bvh, p.cycle, p.straight, int(np.ceil(p.start + (n - 1) * src_fps / fps)) + 2)
    local_rots, root_pos = ms.resample(rots, root, src_fps, p.start, n, fps)
    P, R = forward_kinematics(local_rots, root_pos, bvh.skeleton)

    key = json.dumps(p.phenotype, sort_keys=True)
    if key not in anny_cache:
        anny_cache[key] = ms.load_anny(p.phenotype)
    body, _, _ = ms.bind_body(bvh.skeleton, anny_cache[key])
    verts = np.stack([ms.skin(body, R[t], P[t]) for t in range(n)])

    floor_y = np.percentile(verts[:, :, 1].min(1), 10)
    i0, i1 = (f - first for f in p.heading_span)
    d = P[i1, 0] - P[i0, 0]
    yaw = p.heading - np.degrees(np.arctan2(d[0], d[2]))
    Ry = rot_y(yaw)
    ia = p.anchor_frame - first
    origin = np.array([P[ia, 0, 0], floor_y, P[ia, 0, 2]])
    shift = np.array([p.anchor_xz[0], 0.0, p.anchor_xz[1]])
    P = (P - origin) @ Ry.T + shift
    verts = (verts - origin) @ Ry.T + shift

    Pw = np.full((n_frames, P.shape[1], 3), np.nan)
    Vw = np.full((n_frames, verts.shape[1], 3), np.nan)
    k = last - first + 1
    Pw[first:last + 1] = P[:k]
    Vw[first:last + 1] = verts[:k]
    last_src = p.start + (k - 1) * src_fps / fps
    frames_src = f"frames {p.start}-{last_src:g}"
    if p.cycle:
        frames_src = (f"frames {', '.join(f'{a}-{b - 1}' for a, b in p.cycle)} in turn, repeated"
                      f"{' and straightened' if p.straight else ''}, {p.start}-{last_src:g} of that")
    source = (f"person {p.pid} ({p.label}): {p.bvh} {frames_src} @{src_fps:g}fps, "
              f"scale {p.scale:g}, turned {yaw:.1f} deg about +Y, root at x={p.anchor_xz[0]:g} "
              f"z={p.anchor_xz[1]:g} m at video frame {p.anchor_frame}, in video frames {first}-{last}")
    log(f"  {source}")
    frames = np.arange(n_frames)
    return dict(joints=Pw, verts=Vw, body=body, skeleton=bvh.skeleton, source=source,
                present=(frames >= first) & (frames <= last))


# --------------------------------------------------------------------------
# Numpy rasteriser (silhouette areas, and a z-buffer to check the render)
# --------------------------------------------------------------------------


def rasterise(uv, depth, faces, x0, y0, w, h):
    """Sample triangles at the pixel centres of a canvas.

    uv (V, 2) pixel coordinates (pixel (i, j) has its centre at (i, j), as in
    K), depth (V,) camera z, faces (F, 3).  The canvas is the pixels
    [x0, x0 + w) x [y0, y0 + h).  Returns, for every (pixel centre, triangle)
    hit, the flat canvas index (row-major) and the perspective-correct depth.
    """
    tri = uv[faces]  # (F, 3, 2)
    zt = depth[faces]
    lo = np.maximum(np.ceil(tri.min(1)).astype(np.int64), [x0, y0])
    hi = np.minimum(np.floor(tri.max(1)).astype(np.int64), [x0 + w - 1, y0 + h - 1])
    ext = hi - lo + 1
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    area = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    ok = (ext > 0).all(1) & (np.abs(area) > 1e-12)
    size = np.where(ok, ext.max(1), 0)
    idx_out, z_out = [], []
    prev, s = 0, 1
    while prev < size.max(initial=0):
        sel = np.nonzero((size > prev) & (size <= s))[0]
        if len(sel):
            dx, dy = (g.ravel() for g in np.meshgrid(np.arange(s), np.arange(s)))
            px = lo[sel, 0, None] + dx
            py = lo[sel, 1, None] + dy
            m = (px <= hi[sel, 0, None]) & (py <= hi[sel, 1, None])
            A, B, C = a[sel, :, None], b[sel, :, None], c[sel, :, None]

            def edge(P, Q):  # (Q - P) x (pixel - P)
                return (Q[:, 0] - P[:, 0]) * (py - P[:, 1]) - (Q[:, 1] - P[:, 1]) * (px - P[:, 0])

            ar = area[sel, None]
            l0, l1, l2 = edge(B, C) / ar, edge(C, A) / ar, edge(A, B) / ar  # barycentrics
            m &= (l0 >= 0) & (l1 >= 0) & (l2 >= 0)
            inv_z = l0 / zt[sel, 0, None] + l1 / zt[sel, 1, None] + l2 / zt[sel, 2, None]
            idx_out.append(((py - y0) * w + (px - x0))[m])
            z_out.append(1.0 / inv_z[m])
        prev, s = s, s * 2
    if not idx_out:
        return np.zeros(0, np.int64), np.zeros(0)
    return np.concatenate(idx_out), np.concatenate(z_out)


def project_people(people_verts, K, cam_from_world, t):
    """Per person at frame t: (uv (V,2), z (V,)) or None where absent."""
    out = []
    for V in people_verts:
        X = V[t]
        if np.isnan(X).any():
            out.append(None)
            continue
        uv, z = ms.project(K, cam_from_world, X)
        out.append((uv, z))
    return out


def silhouette_area(uv, z, faces):
    """Pixel centres covered by the mesh alone (no occlusion, no image border)."""
    x0, y0 = np.floor(uv.min(0)).astype(int) - 1
    x1, y1 = np.ceil(uv.max(0)).astype(int) + 1
    w, h = x1 - x0 + 1, y1 - y0 + 1
    idx, _ = rasterise(uv, z, faces, x0, y0, w, h)
    return np.unique(idx).size


def zbuffer_ids(projected, faces_list, pids, size):
    """Id of the front-most person at every pixel centre (0 = nobody), (H, W)."""
    W, H = size
    idx_all, z_all, id_all = [], [], []
    for pr, faces, pid in zip(projected, faces_list, pids):
        if pr is None:
            continue
        idx, z = rasterise(pr[0], pr[1], faces, 0, 0, W, H)
        idx_all.append(idx)
        z_all.append(z)
        id_all.append(np.full(idx.size, pid, np.uint8))
    ids = np.zeros(H * W, np.uint8)
    if idx_all:
        idx, z, pid = (np.concatenate(v) for v in (idx_all, z_all, id_all))
        order = np.lexsort((z, idx))
        first = np.unique(idx[order], return_index=True)[1]
        ids[idx[order][first]] = pid[order][first]
    return ids.reshape(H, W)


# --------------------------------------------------------------------------
# Blender: several bodies and an Object Index pass written as an id mask
# --------------------------------------------------------------------------


def build_crowd_scene(people, motions, world_from_cam, lens_mm, sensor_mm, size, samples, id_dir: Path):
    """make_sample's scene (floor, sky, sun, camera, first body) plus the
    other bodies, each with its own clothes and pass_index = its id, and a
    compositor that writes the Object Index pass as an 8-bit PNG per frame
    (pixel value = id of the front-most object, 0 = floor/sky)."""
    import bpy

    colours = [{**ms.PARTS, **p.colours} for p in people]
    scene, mesh0 = ms.build_scene(motions[0]["body"], world_from_cam, lens_mm, sensor_mm, size, samples)
    # the people stand up to ~13 m away: make the floor 4x larger (+-60 m)
    # so that its far edge is not in view (the checker is in metres of
    # object coordinates, so the squares stay 1 m)
    floor = bpy.data.objects["floor"].data
    co = np.array([v.co[:] for v in floor.vertices])
    centre = co.mean(0)
    for v, x in zip(floor.vertices, centre + (co - centre) * 4.0):
        v.co = x
    floor.update()
    # build_scene names the first body "body" in make_sample's colours: recolour and id it
    bpy.data.objects["body"].pass_index = people[0].pid
    for part, mat in zip(ms.PARTS, mesh0.materials):
        mat.node_tree.nodes["Principled BSDF"].inputs["Base Color"].default_value = (*colours[0][part], 1.0)
    meshes = [mesh0]
    # one object per entry; a pid may have several entries (never in the scene together)
    names = [f"person{p.pid}" + (f"_{i}" if p.pid in [q.pid for q in people[:i]] else "")
             for i, p in enumerate(people)]
    for p, m, c, name in zip(people[1:], motions[1:], colours[1:], names[1:]):
        meshes.append(ms.add_body(scene, m["body"], name=name, colours=c, pass_index=p.pid))
    objects = [bpy.data.objects["body"]] + [bpy.data.objects[name] for name in names[1:]]

    scene.view_layers[0].use_pass_object_index = True
    tree = bpy.data.node_groups.new("crowd_compositor", "CompositorNodeTree")
    scene.compositing_node_group = tree
    tree.interface.new_socket(name="Image", in_out="OUTPUT", socket_type="NodeSocketColor")
    layers = tree.nodes.new("CompositorNodeRLayers")
    out = tree.nodes.new("NodeGroupOutput")
    tree.links.new(layers.outputs["Image"], out.inputs[0])
    to_byte = tree.nodes.new("ShaderNodeMath")  # id k -> k/255, stored as byte k
    to_byte.operation = "DIVIDE"
    to_byte.inputs[1].default_value = 255.0
    tree.links.new(layers.outputs["Object Index"], to_byte.inputs[0])
    ids = tree.nodes.new("CompositorNodeOutputFile")
    ids.directory = str(id_dir) + "/"
    ids.format.media_type = "IMAGE"
    ids.format.file_format = "PNG"
    ids.format.color_mode = "BW"
    ids.format.color_depth = "8"
    ids.save_as_render = False  # raw values, no view transform
    ids.file_output_items.new("FLOAT", "id")
    tree.links.new(to_byte.outputs[0], ids.inputs["id"])
    return scene, meshes, objects, ids


def render_frames(scene, meshes, objects, id_node, motions, frame_dir: Path, id_dir: Path, log=print):
    import bpy

    frame_dir.mkdir(parents=True, exist_ok=True)
    id_dir.mkdir(parents=True, exist_ok=True)
    T = motions[0]["verts"].shape[0]
    t0 = time.time()
    paths, id_paths = [], []
    for t in range(T):
        for mesh, obj, m in zip(meshes, objects, motions):
            here = bool(m["present"][t])
            obj.hide_render = not here
            if here:
                mesh.vertices.foreach_set(
                    "co", (m["verts"][t] @ ms.BLENDER_FROM_WORLD.T).astype(np.float32).ravel())
                mesh.update()
        path = frame_dir / f"frame_{t:04d}.png"
        id_node.file_name = f"ids_{t:04d}_"  # the item name "id" is appended
        scene.render.filepath = str(path)
        bpy.ops.render.render(write_still=True)
        id_path = id_dir / f"ids_{t:04d}_id.png"
        assert id_path.exists(), f"no id mask written for frame {t}"
        paths.append(path)
        id_paths.append(id_path)
        if t % 10 == 0 or t == T - 1:
            el = time.time() - t0
            log(f"  rendered {t + 1}/{T}  ({el:.0f} s, {el / (t + 1):.2f} s/frame)")
    return paths, id_paths


# --------------------------------------------------------------------------
# Ground truth
# --------------------------------------------------------------------------


def visibility_gt(motions, pids, K, cam_from_world, size, id_masks=None, log=print):
    """Boxes, visible fractions and visible-part boxes per person and frame.

    id_masks: (T, H, W) uint8 rendered Object Index masks; None uses the
    numpy z-buffer instead (--plan).  Also returns the numpy z-buffer
    agreement with the rendered masks (IoU per person, where either has
    pixels).
    """
    W, H = size
    P, T = len(motions), motions[0]["verts"].shape[0]
    faces_list = [m["body"].faces for m in motions]
    boxes = np.full((P, T, 4), np.nan)
    boxes_vis = np.full((P, T, 4), np.nan)
    visible = np.zeros((P, T))
    area = np.zeros((P, T), np.int64)
    seen = np.zeros((P, T), np.int64)
    iou = np.full((P, T), np.nan)
    zb_masks = np.zeros((T, H, W), np.uint8)
    for t in range(T):
        projected = project_people([m["verts"] for m in motions], K, cam_from_world, t)
        zb = zbuffer_ids(projected, faces_list, pids, size)
        zb_masks[t] = zb
        ids = zb if id_masks is None else id_masks[t]
        for i, (pr, pid) in enumerate(zip(projected, pids)):
            if pr is None:
                continue
            uv, z = pr
            assert z.min() > 0
            lo, hi = uv.min(0), uv.max(0)
            # pixel (i, j) covers [i - 0.5, i + 0.5): the image spans [-0.5, W - 0.5)
            box = np.array([max(lo[0], -0.5), max(lo[1], -0.5), min(hi[0], W - 0.5), min(hi[1], H - 0.5)])
            if box[0] < box[2] and box[1] < box[3]:
                boxes[i, t] = box
            area[i, t] = silhouette_area(uv, z, faces_list[i])
            mask = ids == pid
            seen[i, t] = mask.sum()
            if seen[i, t]:
                ys, xs = np.nonzero(mask)
                boxes_vis[i, t] = [xs.min() - 0.5, ys.min() - 0.5, xs.max() + 0.5, ys.max() + 0.5]
            visible[i, t] = min(1.0, seen[i, t] / area[i, t]) if area[i, t] else 0.0
            if id_masks is not None:
                a, b = zb == pid, mask
                union = (a | b).sum()
                if union:
                    iou[i, t] = (a & b).sum() / union
    return dict(boxes=boxes, boxes_visible=boxes_vis, visible=visible, area=area, seen=seen,
                iou=iou, zbuffer=zb_masks)


def ranges(flags) -> str:
    """'3-7, 12-20' for the True runs of a boolean sequence."""
    out, start = [], None
    for i, f in enumerate(list(flags) + [False]):
        if f and start is None:
            start = i
        elif not f and start is not None:
            out.append(f"{start}-{i - 1}" if i - 1 > start else f"{start}")
            start = None
    return ", ".join(out) or "none"


def summarise(gt: dict, pids, log=print):
    vis = gt["visible"]
    for i, pid in enumerate(pids):
        v = vis[i]
        log(f"  person {pid}: visible>0 in frames {ranges(v > 0)}; fully hidden in "
            f"{ranges((v == 0) & gt['present'][i])}; visible<0.5 in {ranges((v < 0.5) & (v > 0))}; "
            f"min {v[gt['present'][i]].min():.2f}; boxes span x {np.nanmin(gt['boxes'][i, :, 0]):.0f}-"
            f"{np.nanmax(gt['boxes'][i, :, 2]):.0f}, y {np.nanmin(gt['boxes'][i, :, 1]):.0f}-"
            f"{np.nanmax(gt['boxes'][i, :, 3]):.0f}")
        h = gt["boxes"][i, :, 3] - gt["boxes"][i, :, 1]
        log(f"    box heights {np.nanmin(h):.0f}-{np.nanmax(h):.0f} px (in the image in frames "
            f"{ranges(~np.isnan(h))}); visible<=0.3 in {ranges((v <= 0.3) & gt['present'][i])}")


# --------------------------------------------------------------------------
# Checks and pictures
# --------------------------------------------------------------------------

BOX_COLOURS = {1: (255, 60, 40), 2: (60, 140, 255), 3: (40, 220, 60), 4: (255, 220, 0)}


def draw_boxes(img, gt, t, joints=True):
    """Draw GT boxes (full: solid, visible part: thin), ids and joints."""
    from PIL import ImageDraw

    d = ImageDraw.Draw(img)
    K = gt["K"]
    for i, pid in enumerate(gt["person_ids"]):
        col = BOX_COLOURS.get(int(pid), (255, 255, 255))
        b = gt["boxes"][i, t]
        if np.isnan(b).any():
            continue
        d.rectangle(list(b), outline=col, width=2)
        bv = gt["boxes_visible"][i, t]
        if not np.isnan(bv).any():
            d.rectangle(list(bv), outline=(255, 255, 255), width=1)
        d.text((b[0] + 3, b[1] + 2), f"{pid} v={gt['visible'][i, t]:.2f}", fill=col)
        if joints:
            Xc = gt["joints_camera"][i, t]
            uv = Xc[:, :2] / Xc[:, 2:3] * K[[0, 1], [0, 1]] + K[:2, 2]
            for x, y in uv:
                d.ellipse([x - 1.5, y - 1.5, x + 1.5, y + 1.5], fill=col)
    return img


def id_colour_image(ids):
    pal = np.zeros((256, 3), np.uint8)
    for k, c in BOX_COLOURS.items():
        pal[k] = c
    return pal[ids]


def check_outputs(out_dir: Path, name: str, debug_dir: Path, log=print):
    from PIL import Image

    gt = dict(np.load(out_dir / f"{name}_gt.npz", allow_pickle=False))
    P, T, J = gt["joints_world"].shape[:3]
    W, H = (int(v) for v in gt["image_size"])
    frames, rate, times = ms.decode_mp4(out_dir / f"{name}.mp4")
    log(f"decoded {len(frames)} frames at {rate:g} fps, {frames[0].shape[1]}x{frames[0].shape[0]}; "
        f"GT: P={P}, T={T}, J={J}, fps={float(gt['fps']):g}")
    assert len(frames) == T and abs(rate - float(gt["fps"])) < 1e-6
    assert tuple(frames[0].shape[1::-1]) == (W, H)
    assert np.allclose(times - times[0], gt["times"], atol=1e-3)
    assert gt["boxes"].shape == (P, T, 4) and gt["visible"].shape == (P, T)
    assert gt["joint_names"].shape == (J,) and gt["person_ids"].shape == (P,)

    # world/camera joints agree; absent people are NaN everywhere
    Twc = gt["world_from_camera"]
    pres = gt["present"]
    Xw = gt["joints_camera"] @ Twc[:3, :3].T + Twc[:3, 3]
    assert np.abs(Xw[pres] - gt["joints_world"][pres]).max() < 1e-9
    assert np.isnan(gt["joints_world"][~pres]).all() and np.isnan(gt["boxes"][~pres]).all()
    assert (gt["visible"][~pres] == 0).all()

    # box sanity: inside the image, positive size, containing the projected
    # joints that are inside the image; the visible part inside the full box
    b = gt["boxes"]
    ok = ~np.isnan(b[..., 0])
    bb = b[ok]
    assert (bb[:, 0] >= -0.5).all() and (bb[:, 1] >= -0.5).all()
    assert (bb[:, 2] <= W - 0.5).all() and (bb[:, 3] <= H - 0.5).all()
    assert (bb[:, 2] > bb[:, 0]).all() and (bb[:, 3] > bb[:, 1]).all()
    K = gt["K"]
    Xc = gt["joints_camera"]
    uv = Xc[..., :2] / Xc[..., 2:3] * K[[0, 1], [0, 1]] + K[:2, 2]
    inside = ok[..., None] & (uv[..., 0] >= 0) & (uv[..., 0] <= W - 1) & (uv[..., 1] >= 0) & (uv[..., 1] <= H - 1)
    bx = np.broadcast_to(b[:, :, None, :], uv.shape[:3] + (4,))
    # how far each joint lies outside its box (the CMU finger-tip joints
    # stick out of the mesh's hands by up to a pixel: hands are skinned
    # rigidly to the wrist)
    out_by = np.maximum.reduce([bx[..., 0] - uv[..., 0], uv[..., 0] - bx[..., 2],
                                bx[..., 1] - uv[..., 1], uv[..., 1] - bx[..., 3]])[inside]
    assert (out_by <= 1.5).all(), f"a projected joint lies {out_by.max():.1f} px outside its box"
    bv = gt["boxes_visible"]
    okv = ~np.isnan(bv[..., 0])
    assert (okv <= ok).all() and (okv == (gt["visible"] > 0)).all()
    assert (bv[okv][:, :2] >= b[okv][:, :2] - 1.0).all() and (bv[okv][:, 2:] <= b[okv][:, 2:] + 1.0).all()
    heights = bb[:, 3] - bb[:, 1]
    log(f"boxes: {ok.sum()} person-frames, heights {heights.min():.0f}-{heights.max():.0f} px; "
        f"projected in-image joints inside their boxes (largest overshoot {max(out_by.max(), 0):.2f} px)")

    vis = gt["visible"]
    for i, pid in enumerate(gt["person_ids"]):
        v = vis[i]
        log(f"  person {pid}: present {ranges(pres[i])}; visible>0 {ranges(v > 0)}; "
            f"visible<0.5 {ranges((v < 0.5) & pres[i])}; min visible {v[pres[i]].min():.3f} "
            f"at frame {np.flatnonzero(pres[i])[np.argmin(v[pres[i]])]}")
    if "zbuffer_iou" in gt:
        iou = gt["zbuffer_iou"]
        good = ~np.isnan(iou) & (gt["seen"] > 50)
        log(f"rendered id mask vs numpy z-buffer: IoU median {np.median(iou[good]):.3f}, "
            f"min {iou[good].min():.3f} (person-frames with > 50 px)")
    # unoccluded, fully inside: visible should be ~1 (pixel counts vs area)
    full = (b[..., 0] > 0) & (b[..., 2] < W - 1) & (b[..., 1] > 0) & (b[..., 3] < H - 1)
    log(f"visible where the box is well inside the image: 90th pct {np.percentile(vis[full], 90):.3f}, "
        f"max {vis[full].max():.3f}")

    # the frames around the occlusions, drawn
    debug_dir.mkdir(parents=True, exist_ok=True)
    picks = set()
    for i in range(P):
        pr = np.flatnonzero(pres[i])
        t_min = pr[np.argmin(vis[i, pr])]
        picks |= {t_min, max(t_min - 6, 0), min(t_min + 6, T - 1)}
    picks |= {0, T - 1}
    for t in sorted(picks):
        img = draw_boxes(Image.fromarray(frames[t]), gt, t)
        p = debug_dir / f"{name}_boxes_{t:04d}.png"
        img.save(p)
    log(f"wrote {len(picks)} box drawings to {debug_dir}/{name}_boxes_*.png (frames {sorted(picks)})")
    plot_visibility(gt, debug_dir / f"{name}_visible.png")
    log(f"wrote {debug_dir / f'{name}_visible.png'}")


def plot_visibility(gt, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3))
    for i, pid in enumerate(gt["person_ids"]):
        c = np.array(BOX_COLOURS.get(int(pid), (0, 0, 0))) / 255
        ax.plot(gt["visible"][i], ".-", ms=3, color=c * 0.8, label=f"person {pid}")
    ax.set_xlabel("frame")
    ax.set_ylabel("visible fraction")
    ax.set_ylim(-0.05, 1.05)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows defaults, except None (options defaulting to the scenario's)."""

    def _get_help_string(self, action):
        return action.help if action.default is None else super()._get_help_string(action)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=_HelpFormatter)
    ap.add_argument("--scenario", default="crowd", choices=sorted(SCENARIOS),
                    help="the scene: " + "; ".join(f"{k}: {v.doc}" for k, v in SCENARIOS.items()))
    ap.add_argument("--frames", type=int, default=None,
                    help="video frames (default: the scenario's; its placements are chosen for it)")
    ap.add_argument("--fps", type=float, default=None, help="default: the scenario's (30)")
    ap.add_argument("--out-dir", default="samples")
    ap.add_argument("--name", default=None, help="output basename (default: the scenario's name)")
    ap.add_argument("--width", type=int, default=None, help="default: the scenario's")
    ap.add_argument("--height", type=int, default=None, help="default: the scenario's")
    ap.add_argument("--lens", type=float, default=None,
                    help="focal length, mm (36 mm sensor width; default: the scenario's)")
    ap.add_argument("--cam-height", type=float, default=None, help="camera height, m (default: the scenario's)")
    ap.add_argument("--look-at", type=float, nargs=3, default=None,
                    help="world point the camera looks at (camera at x=0, z=0; default: the scenario's)")
    ap.add_argument("--samples", type=int, default=4, help="Cycles samples per pixel (denoised)")
    ap.add_argument("--crf", type=int, default=16, help="x264 quality (lower = bigger file)")
    ap.add_argument("--still", type=int, default=None,
                    help="frame saved as <name>_frame.png (default: the scenario's choice)")
    ap.add_argument("--work-dir", default=None, help="keep rendered frames and id masks here")
    ap.add_argument("--debug-dir", default=None,
                    help="where check images go (default: /tmp/<name>_debug)")
    ap.add_argument("--plan", action="store_true", help="no rendering: z-buffer previews only")
    ap.add_argument("--check-only", action="store_true", help="only check existing outputs")
    args = ap.parse_args(argv)
    scenario = SCENARIOS[args.scenario]
    for key in ("frames", "fps", "width", "height", "lens", "cam_height", "look_at"):
        if getattr(args, key) is None:
            setattr(args, key, getattr(scenario, key))
    if args.name is None:
        args.name = args.scenario
    if args.debug_dir is None:
        args.debug_dir = f"/tmp/{args.name}_debug"

    out_dir, debug_dir = Path(args.out_dir), Path(args.debug_dir)
    log = lambda *a: print(*a, flush=True)
    if args.check_only:
        check_outputs(out_dir, args.name, debug_dir, log)
        return

    T, fps = args.frames, args.fps
    people = scenario.people
    pids = [p.pid for p in people]
    t0 = time.time()
    log(f"scenario {args.scenario!r}: {scenario.doc}")
    log(f"motion and bodies ({len(people)} people, {T} frames @ {fps:g} fps):")
    cache: dict = {}
    motions = [person_motion(p, T, fps, cache, log) for p in people]
    skel = motions[0]["skeleton"]
    assert all(m["skeleton"].names == skel.names for m in motions)
    log(f"  ({time.time() - t0:.0f} s)")

    size = (args.width, args.height)
    sensor = 36.0
    K = ms.intrinsics(args.lens, sensor, *size)
    world_from_cam = ms.look_at(np.array([0.0, args.cam_height, 0.0]), np.array(args.look_at, float))
    cam_from_world = np.linalg.inv(world_from_cam)
    log(f"camera at {world_from_cam[:3, 3]} looking at {args.look_at}, f = {K[0, 0]:.1f} px, {size}")

    present = np.stack([m["present"] for m in motions])
    for i in range(len(pids)):  # entries of one pid share its id-mask value: never together
        for j in range(i):
            assert pids[i] != pids[j] or not (present[i] & present[j]).any(), f"person {pids[i]} there twice"
    joints_world = np.stack([m["joints"] for m in motions])
    joints_cam = joints_world @ cam_from_world[:3, :3].T + cam_from_world[:3, 3]
    source = " | ".join(m["source"] for m in motions)

    if args.plan:
        gt = visibility_gt(motions, pids, K, cam_from_world, size, None, log)
        gt["present"] = present
        summarise(gt, pids, log)
        debug_dir.mkdir(parents=True, exist_ok=True)
        from PIL import Image

        g = dict(gt, K=K, person_ids=np.array(pids), joints_camera=joints_cam)
        for t in sorted(set(range(0, T, 5)) | set(range(*scenario.plan_frames))):
            img = Image.fromarray(id_colour_image(gt["zbuffer"][t]))
            draw_boxes(img, g, t, joints=False).save(debug_dir / f"plan_{t:04d}.png")
        plot_visibility(g, debug_dir / "plan_visible.png")
        np.savez(debug_dir / "plan_gt.npz", visible=gt["visible"], boxes=gt["boxes"], present=present)
        log(f"wrote plan previews to {debug_dir}")
        return

    # render: RGB frames + Object Index masks
    frame_dir = Path(args.work_dir or tempfile.mkdtemp(prefix=f"{args.name}_frames_"))
    id_dir = frame_dir / "ids"
    scene, meshes, objects, id_node = build_crowd_scene(
        people, motions, world_from_cam, args.lens, sensor, size, args.samples, id_dir)
    paths, id_paths = render_frames(scene, meshes, objects, id_node, motions, frame_dir, id_dir, log)

    from PIL import Image

    id_masks = np.stack([np.asarray(Image.open(p)) for p in id_paths])
    assert id_masks.shape == (T, size[1], size[0]), id_masks.shape
    assert set(np.unique(id_masks)) <= {0, *pids}, np.unique(id_masks)
    gt = visibility_gt(motions, pids, K, cam_from_world, size, id_masks, log)
    gt["present"] = present
    summarise(gt, pids, log)

    out_dir.mkdir(parents=True, exist_ok=True)
    gt_path = out_dir / f"{args.name}_gt.npz"
    np.savez(
        gt_path,
        fps=np.float64(fps),
        times=np.arange(T, dtype=np.float64) / fps,
        K=K,
        image_size=np.array(size, dtype=np.int64),
        world_from_camera=world_from_cam,
        person_ids=np.array(pids, dtype=np.int64),
        present=present,
        boxes=gt["boxes"],
        visible=gt["visible"],
        boxes_visible=gt["boxes_visible"],
        seen=gt["seen"],
        area=gt["area"],
        zbuffer_iou=gt["iou"],
        joints_world=joints_world,
        joints_camera=joints_cam,
        joint_names=np.array(skel.names, dtype=np.str_),
        parents=np.array(skel.parents, dtype=np.int64),
        source=np.array(source, dtype=np.str_),
    )
    log(f"wrote {gt_path}")

    mp4 = out_dir / f"{args.name}.mp4"
    ms.encode_mp4(paths, mp4, fps, args.crf)
    log(f"wrote {mp4} ({mp4.stat().st_size / 1e6:.2f} MB)")
    still = args.still
    if still is None:
        still = scenario.still
        if callable(still):
            still = still(gt["visible"], present, pids)
    shutil.copyfile(paths[still], out_dir / f"{args.name}_frame.png")
    log(f"wrote {out_dir / f'{args.name}_frame.png'} (video frame {still})")
    if not args.work_dir:
        shutil.rmtree(frame_dir, ignore_errors=True)

    check_outputs(out_dir, args.name, debug_dir, log)


if __name__ == "__main__":
    main()
