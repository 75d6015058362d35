"""Accuracy metrics for motion against ground truth (millimetres).

MPJPE is measured after aligning the mid-hip points (skeletons define the
pelvis differently); PA-MPJPE after the per-frame similarity (Procrustes)
alignment with scale. Joint correspondence is by SMPL joint name.
"""

from __future__ import annotations

import numpy as np

from .skeleton import LIMB_JOINTS as EVAL_JOINTS  # the joints accuracy is measured on

# CMU BVH (cgspeed conversion) joint names for those SMPL joints.
CMU_TO_SMPL = {
    "LeftUpLeg": "left_hip", "RightUpLeg": "right_hip", "LeftLeg": "left_knee", "RightLeg": "right_knee",
    "LeftFoot": "left_ankle", "RightFoot": "right_ankle", "LeftArm": "left_shoulder",
    "RightArm": "right_shoulder", "LeftForeArm": "left_elbow", "RightForeArm": "right_elbow",
    "LeftHand": "left_wrist", "RightHand": "right_wrist", "LeftToeBase": "left_foot", "RightToeBase": "right_foot",
}  # fmt: skip


def select_joints(positions: np.ndarray, names, mapping: dict[str, str] | None = None) -> np.ndarray:
    """(T, len(EVAL_JOINTS), 3) positions of the evaluation joints.

    Args:
        positions: (T, J, 3); names: (J,) joint names; mapping: source name → SMPL name.
    """
    smpl_names = [mapping.get(n, n) if mapping else n for n in names]
    missing = [j for j in EVAL_JOINTS if j not in smpl_names]
    if missing:
        raise ValueError(f"skeleton lacks joints {missing}")
    return positions[:, [smpl_names.index(j) for j in EVAL_JOINTS]]


def _mid_hip(p: np.ndarray) -> np.ndarray:
    return 0.5 * (p[:, EVAL_JOINTS.index("left_hip")] + p[:, EVAL_JOINTS.index("right_hip")])[:, None]


def mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean per-joint position error in mm after mid-hip alignment. pred, gt: (T, K, 3) metres."""
    return float(np.linalg.norm((pred - _mid_hip(pred)) - (gt - _mid_hip(gt)), axis=-1).mean() * 1000)


def accel_error(pred: np.ndarray, gt: np.ndarray, where: np.ndarray | None = None) -> float:
    """Acceleration error in mm/frame²: the mean distance between the second differences
    of predicted and true joints (after mid-hip alignment).

    Args:
        pred, gt: (T, K, 3) metres, T >= 3. where: (T - 2,) bool, the frame triplets to count.
    """
    p, g = pred - _mid_hip(pred), gt - _mid_hip(gt)
    acc = lambda x: x[2:] - 2 * x[1:-1] + x[:-2]  # noqa: E731
    err = np.linalg.norm(acc(p) - acc(g), axis=-1)
    return float((err if where is None else err[where]).mean() * 1000)


def root_error(pred: np.ndarray, gt: np.ndarray) -> float:
    """Root trajectory error in mm: the mean distance between predicted and true mid-hip
    points with no alignment at all (where the body is, as the camera sees it: depth and
    the path over the floor). pred, gt: (T, K, 3) metres, camera frame, EVAL_JOINTS order."""
    return float(np.linalg.norm(_mid_hip(pred) - _mid_hip(gt), axis=-1).mean() * 1000)


def foot_sliding(pred_feet: np.ndarray, contacts: np.ndarray, where: np.ndarray | None = None) -> float:
    """Foot sliding in mm per frame: how far the predicted foot joints move between two
    consecutive frames on which the ground truth has them planted.

    Args:
        pred_feet: (T, F, 3) predicted foot joints (any fixed frame: distances are taken),
            metres. contacts: (T, F) bool, ground-truth contacts.
        where: (T - 1,) bool, the frame pairs to count (default all).
    Returns:
        mean distance in mm (NaN when the truth has no planted pair).
    """
    moved = np.linalg.norm(np.diff(pred_feet, axis=0), axis=-1)  # (T-1, F)
    both = contacts[1:] & contacts[:-1]
    if where is not None:
        both &= np.asarray(where, bool)[:, None]
    return float(moved[both].mean() * 1000) if both.any() else float("nan")


def procrustes_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per frame, the similarity transform (rotation, scale, translation) of ``pred``
    closest to ``gt``. pred, gt: (T, K, 3); returns aligned pred (T, K, 3)."""
    mp, mg = pred.mean(axis=1, keepdims=True), gt.mean(axis=1, keepdims=True)
    x, y = pred - mp, gt - mg
    U, S, Vt = np.linalg.svd(np.einsum("tki,tkj->tij", x, y))
    d = np.sign(np.linalg.det(U @ Vt))
    D = np.ones_like(S)
    D[:, -1] = d
    R = np.einsum("tij,tj,tjk->tik", U, D, Vt)  # x @ R ≈ y
    scale = (S * D).sum(axis=1) / np.maximum((x**2).sum(axis=(1, 2)), 1e-12)
    return scale[:, None, None] * (x @ R) + mg


def pa_mpjpe(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean per-joint error in mm after per-frame Procrustes alignment. pred, gt: (T, K, 3) metres."""
    return float(np.linalg.norm(procrustes_align(pred, gt) - gt, axis=-1).mean() * 1000)


def ground_truth_lengths(gt: dict) -> np.ndarray:
    """(len(:data:`mocap.proportions.PARTS`),) the ground-truth skeleton's part lengths, metres
    (median over frames; CMU joint names mapped by :data:`CMU_TO_SMPL`)."""
    from .proportions import part_lengths

    names = [CMU_TO_SMPL.get(str(n), str(n)) for n in gt["joint_names"]]
    return np.median(part_lengths(gt["joints_camera"], names), axis=0)


def load_ground_truth(path) -> dict[str, np.ndarray]:
    """A ground-truth file as written by ``scripts/make_sample.py`` (see its docstring); its
    arrays' declared sizes are checked before any is read (:mod:`mocap.npz_check`)."""
    from .errors import InputError
    from .npz_check import check_sizes, npz_headers

    try:
        check_sizes(npz_headers(path))
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except Exception as exc:  # noqa: BLE001 - a damaged zip raises many kinds
        raise InputError(f"{path}: not a readable ground-truth .npz ({exc})") from None
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def evaluate_motion(positions_camera: np.ndarray, times: np.ndarray, names, gt: dict) -> dict[str, float]:
    """Score predicted joints against ground truth in the camera frame.

    Args:
        positions_camera: (T, J, 3) predicted joints in the OpenCV camera frame, metres.
        times: (T,) their times, seconds; frames are paired with the nearest GT frame.
        names: (J,) predicted joint names (SMPL).
        gt: ground truth with ``joints_camera`` (N, G, 3), ``times`` (N,), ``joint_names`` (G,).
    Returns:
        {"frames", "mpjpe", "pa_mpjpe", "root"} (mm), "accel" (mm/frame², over consecutive
        frames) and "slide" (mm/frame on the frames where the truth has a foot planted).
    """
    from .contact import CONTACT_JOINTS, STRICT, detect_contacts

    gt_times = gt["times"]
    idx = np.clip(np.searchsorted(gt_times, times), 1, len(gt_times) - 1)
    idx = np.where(np.abs(gt_times[idx - 1] - times) <= np.abs(gt_times[idx] - times), idx - 1, idx)
    fps = 1.0 / np.median(np.diff(gt_times))
    keep = np.abs(gt_times[idx] - times) < 0.5 / fps
    pred = select_joints(positions_camera[keep], list(names))
    ref = select_joints(gt["joints_camera"][idx[keep]], [str(n) for n in gt["joint_names"]], CMU_TO_SMPL)
    # Acceleration only over evenly spaced matches (a gap would fake a jerk); the truth may
    # have a higher frame rate than the prediction (every n-th truth frame is matched).
    k = idx[keep]
    step = np.diff(k)
    regular = (step > 0) & (step == (np.median(step) if len(step) else 1))
    steady = regular[:-1] & regular[1:]
    accel = accel_error(pred, ref, steady) if steady.any() else float("nan")
    # Foot sliding on the frames where the true feet are planted (found on the true world motion).
    gt_names = [CMU_TO_SMPL.get(str(n), str(n)) for n in gt["joint_names"]]
    gt_feet = gt["joints_camera"][:, [gt_names.index(n) for n in CONTACT_JOINTS]]
    up_from_camera = gt.get("world_from_camera", np.diag([1.0, -1.0, -1.0, 1.0]))[:3, :3]
    planted = detect_contacts(gt_feet @ up_from_camera.T, fps, **STRICT)
    # A foot pair counts when the truth has the foot planted over the whole interval between them.
    contacts = np.minimum.reduceat(planted.astype(int), k, axis=0).astype(bool) if len(k) else planted[:0]
    feet = positions_camera[keep][:, [list(names).index(n) for n in CONTACT_JOINTS]]
    slide = foot_sliding(feet, contacts, regular)
    return {"frames": int(keep.sum()), "mpjpe": mpjpe(pred, ref), "pa_mpjpe": pa_mpjpe(pred, ref), "accel": accel,
            "slide": slide, "root": root_error(pred, ref)}


def _camera_joints(scene, motion) -> np.ndarray:
    """(T, J, 3) a motion's joints in the scene camera's OpenCV frame, metres."""
    camera_from_world = np.linalg.inv(scene.camera.world_from_camera)
    return motion.joint_positions() @ camera_from_world[:3, :3].T + camera_from_world[:3, 3]


def evaluate_scene(scene, gt: dict) -> dict[str, float]:
    """Score a :class:`mocap.motion.Scene`'s first person against ground truth."""
    motion = next(iter(scene.motions.values()))
    seen = motion.confidence > 0
    return evaluate_motion(_camera_joints(scene, motion)[seen], motion.times[seen], motion.skeleton.names, gt)


def evaluate_people(scene, gt: dict, min_visible: float = 0.5, min_iou: float = 0.5) -> dict[int, dict]:
    """Score every ground-truth person of a multi-person clip against the track that is them.

    Args:
        scene: a :class:`mocap.motion.Scene` with ``tracks`` (the boxes each motion was captured in).
        gt: multi-person ground truth (``person_ids`` (P,), ``boxes`` (P, T, 4) NaN where absent,
            ``visible`` (P, T), ``joints_camera`` (P, T, G, 3), ``times`` (T,), ``joint_names``).
        min_visible: frames where the person is less visible than this are not scored.
        min_iou: a track is a person's when its boxes overlap theirs this much on average.
    Returns:
        GT person id -> {"track": id or None, "frames", "mpjpe", "pa_mpjpe"} (mm; NaN if no track).
    """
    from .detectors.boxes import iou_pairs

    fps = 1.0 / np.median(np.diff(gt["times"]))
    tracks = scene.tracks
    if tracks is None:  # a scene read from a file: boxes around each person's projected joints
        tracks = {tid: _projected_boxes(scene, m) for tid, m in scene.motions.items()}
        min_iou = min(min_iou, 0.3)  # joints span less than a person's box (no head top, no shoes)
    out = {}
    for pid, truth, visible, joints in _people_by_id(gt):
        best, best_iou = None, min_iou
        for tid, tr in tracks.items():
            frames = np.round(tr.times * fps).astype(int)
            ok = (frames >= 0) & (frames < len(truth))
            ok[ok] = np.isfinite(truth[frames[ok], 0])
            if ok.sum() < 2:
                continue
            overlap = np.mean(iou_pairs(tr.boxes[ok], truth[frames[ok]]))
            if overlap > best_iou:
                best, best_iou = tid, overlap
        score = {"track": best, "frames": 0, "mpjpe": float("nan"), "pa_mpjpe": float("nan")}
        if best is not None:
            motion = scene.motions[best]
            frames = np.clip(np.round(motion.times * fps).astype(int), 0, len(gt["times"]) - 1)
            keep = (motion.confidence > 0) & (visible[frames] >= min_visible)
            person = {"times": gt["times"], "joints_camera": joints, "joint_names": gt["joint_names"]}
            if "world_from_camera" in gt:
                person["world_from_camera"] = gt["world_from_camera"]
            if keep.sum():
                score.update(evaluate_motion(_camera_joints(scene, motion)[keep], motion.times[keep],
                                             motion.skeleton.names, person))
        out[pid] = score
    return out


def _people_by_id(gt: dict) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """(person id, boxes (T, 4), visible (T,), joints_camera (T, G, 3)) per person of a
    multi-person ground truth, in order of first entry: a person in the scene at several times
    has an entry for each (``person_ids`` repeats; never two at once), joined here."""
    out: dict[int, list] = {}
    for p, pid in enumerate(int(i) for i in gt["person_ids"]):
        boxes, visible, joints = gt["boxes"][p], gt["visible"][p], gt["joints_camera"][p]
        if pid not in out:
            out[pid] = [boxes.copy(), visible.copy(), joints.copy()]
            continue
        here = np.isfinite(joints).all(axis=(1, 2))
        out[pid][0][np.isfinite(boxes[:, 0])] = boxes[np.isfinite(boxes[:, 0])]
        out[pid][1] = np.maximum(out[pid][1], visible)
        out[pid][2][here] = joints[here]
    return [(pid, *arrays) for pid, arrays in out.items()]


def _projected_boxes(scene, motion):
    """A person's image boxes (xyxy around their projected joints) on the frames they were seen,
    as an object with ``times`` (N,) and ``boxes`` (N, 4) like a tracklet's."""
    from types import SimpleNamespace

    from .camera import project

    seen = motion.confidence > 0
    pixels = project(_camera_joints(scene, motion)[seen], scene.camera.K)
    return SimpleNamespace(times=motion.times[seen], boxes=np.c_[pixels.min(axis=1), pixels.max(axis=1)])


def mot_scores(gt: dict, tracklets: dict, min_visible: float = 0.5) -> dict[str, float]:
    """Multi-object tracking scores with py-motmetrics (IoU ≥ 0.5 matches).

    Args:
        gt: a multi-person ground truth (``person_ids`` (P,), ``boxes`` (P, T, 4) xyxy with NaN
            where absent, ``visible`` (P, T) unoccluded fraction); people less visible than
            ``min_visible`` in a frame are not required there.
        tracklets: track id -> :class:`mocap.track.Tracklet` (``frames`` index the GT's T).
    Returns:
        {"idf1", "id_switches", "mota", "precision", "recall"}.
    """
    import motmetrics as mm

    predicted: dict[int, list] = {}
    for tid, tr in tracklets.items():
        for f, box in zip(tr.frames, tr.boxes):
            predicted.setdefault(int(f), []).append((tid, box))
    xywh = lambda b: np.c_[b[:, :2], b[:, 2:] - b[:, :2]] if len(b) else np.zeros((0, 4))  # noqa: E731
    acc = mm.MOTAccumulator(auto_id=False)
    ids = [int(i) for i in gt["person_ids"]]
    for f in range(gt["boxes"].shape[1]):
        truth = [(ids[p], gt["boxes"][p, f]) for p in range(len(ids))
                 if np.all(np.isfinite(gt["boxes"][p, f])) and gt["visible"][p, f] >= min_visible]
        pred = predicted.get(f, [])
        dist = mm.distances.iou_matrix(xywh(np.array([b for _, b in truth]).reshape(-1, 4)),
                                       xywh(np.array([b for _, b in pred]).reshape(-1, 4)), max_iou=0.5)
        acc.update([i for i, _ in truth], [i for i, _ in pred], dist, frameid=f)
    row = mm.metrics.create().compute(acc, metrics=["idf1", "num_switches", "mota", "precision", "recall"])
    return {"idf1": float(row["idf1"].iloc[0]), "id_switches": int(row["num_switches"].iloc[0]),
            "mota": float(row["mota"].iloc[0]), "precision": float(row["precision"].iloc[0]),
            "recall": float(row["recall"].iloc[0])}


def checkpoint_ids(tracklets: dict, checkpoints, fps: float) -> list[int | None]:
    """The track id at each hand-marked point of one person: the track whose box in that
    frame contains the point (the nearest box centre if several do), or None.

    Args:
        tracklets: track id -> :class:`mocap.track.Tracklet`; its ``times`` locate frames
            (frame = round(time * fps)), so tracking may have started part-way in.
        checkpoints: [(frame, x, y), ...] pixels.
    """
    at: dict[int, list] = {}
    for tid, tr in tracklets.items():
        for t, box in zip(tr.times, tr.boxes):
            at.setdefault(int(round(t * fps)), []).append((tid, box))
    out = []
    for frame, x, y in checkpoints:
        inside = [(np.hypot((b[0] + b[2]) / 2 - x, (b[1] + b[3]) / 2 - y), tid)
                  for tid, b in at.get(int(frame), []) if b[0] <= x <= b[2] and b[1] <= y <= b[3]]
        out.append(min(inside)[1] if inside else None)
    return out


# Columns of the evaluation table: score key, heading, format.
COLUMNS = (("frames", "frames", "{:d}"), ("mpjpe", "MPJPE (mm)", "{:.1f}"), ("pa_mpjpe", "PA-MPJPE (mm)", "{:.1f}"),
           ("accel", "accel (mm/frame²)", "{:.1f}"), ("slide", "foot slide (mm/frame)", "{:.1f}"),
           ("root", "root (mm)", "{:.0f}"))


def format_table(rows) -> str:
    """A Markdown table of (name, scores) rows; scores a row lacks stay empty."""
    lines = ["| motion | " + " | ".join(title for _, title, _ in COLUMNS) + " |", "|---" * (len(COLUMNS) + 1) + "|"]
    for name, r in rows:
        cells = [fmt.format(r[key]) if key in r and np.isfinite(r[key]) else "" for key, _, fmt in COLUMNS]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def motion_as_ground_truth(path, units: str | float = "cm") -> dict:
    """A motion file (``.npz`` from mocap or AMASS, or ``.bvh``) as ground truth for
    :func:`evaluate_motion`: its first person's world joints, compared in the world frame
    (Y-up), so ``world_from_camera`` is the identity."""
    from .formats import load_motion_file

    motion = next(iter(load_motion_file(path, units).motions.values()))
    joints, names, times = motion.joint_positions(), motion.skeleton.names, motion.times
    return {"times": times, "joints_camera": joints, "joint_names": np.array(names), "world_from_camera": np.eye(4)}


def evaluate_files(pred_path, gt_path, gt_units: str | float = "cm") -> list[tuple[str, dict]]:
    """``mocap eval``: score a motion file against ground truth.

    Args:
        pred_path: a motion ``.npz`` written by mocap.
        gt_path: a ground truth ``*_gt.npz`` (as ``scripts/make_sample.py`` writes: scored in the
            camera frame, every person against the track that is them), or a motion file
            (``.npz``, ``.bvh`` in ``gt_units``) scored in the world frame.
    Returns:
        (name, scores) rows, as :func:`evaluate_motion` scores.
    Raises:
        InputError: unreadable files, or skeletons without the joints compared.
    """
    from pathlib import Path

    from .errors import InputError
    from .motion import load_npz

    scene = load_npz(pred_path)
    name = Path(pred_path).name
    try:
        if Path(gt_path).suffix.lower() == ".npz":
            try:
                gt = load_ground_truth(gt_path)
            except (OSError, ValueError) as exc:
                raise InputError(f"{gt_path}: not a readable .npz ({exc})") from None
            if "person_ids" in gt:
                if scene.camera is None:
                    raise InputError(f"{pred_path}: has no camera; cannot compare with {gt_path}")
                return [(f"{name}, person {pid} (track {r['track']})", r)
                        for pid, r in evaluate_people(scene, gt).items() if r["track"] is not None]
            if "joints_camera" in gt and "poses" not in gt:
                if scene.camera is None:
                    raise InputError(f"{pred_path}: has no camera; cannot compare with {gt_path}")
                return [(name, evaluate_scene(scene, gt))]
        truth = motion_as_ground_truth(gt_path, gt_units)
        motion = next(iter(scene.motions.values()))
        seen = motion.confidence > 0
        return [(name, evaluate_motion(motion.joint_positions()[seen], motion.times[seen],
                                       motion.skeleton.names, truth))]
    except (KeyError, ValueError) as exc:
        raise InputError(f"cannot compare {pred_path} with {gt_path}: {exc}") from None
