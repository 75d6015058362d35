"""Accuracy metrics for motion against ground truth (millimetres).

MPJPE is measured after aligning the mid-hip points (skeletons define the
pelvis differently); PA-MPJPE after the per-frame similarity (Procrustes)
alignment with scale. Joint correspondence is by SMPL joint name.
"""

from __future__ import annotations

import numpy as np

# The joints every common skeleton agrees on: limbs only (head and spine joints
# sit at different places in different rigs).
EVAL_JOINTS = (
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
)  # fmt: skip

# CMU BVH (cgspeed conversion) joint names for those SMPL joints.
CMU_TO_SMPL = {
    "LeftUpLeg": "left_hip", "RightUpLeg": "right_hip", "LeftLeg": "left_knee", "RightLeg": "right_knee",
    "LeftFoot": "left_ankle", "RightFoot": "right_ankle", "LeftArm": "left_shoulder",
    "RightArm": "right_shoulder", "LeftForeArm": "left_elbow", "RightForeArm": "right_elbow",
    "LeftHand": "left_wrist", "RightHand": "right_wrist",
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


def load_ground_truth(path) -> dict[str, np.ndarray]:
    """A ground-truth file as written by ``scripts/make_sample.py`` (see its docstring)."""
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
        {"frames", "mpjpe", "pa_mpjpe"} (mm) and "accel" (mm/frame², over consecutive frames).
    """
    gt_times = gt["times"]
    idx = np.clip(np.searchsorted(gt_times, times), 1, len(gt_times) - 1)
    idx = np.where(np.abs(gt_times[idx - 1] - times) <= np.abs(gt_times[idx] - times), idx - 1, idx)
    fps = 1.0 / np.median(np.diff(gt_times))
    keep = np.abs(gt_times[idx] - times) < 0.5 / fps
    pred = select_joints(positions_camera[keep], list(names))
    ref = select_joints(gt["joints_camera"][idx[keep]], [str(n) for n in gt["joint_names"]], CMU_TO_SMPL)
    # Acceleration only where three consecutive GT frames were matched (a gap would fake a jerk).
    k = idx[keep]
    steady = (np.diff(k)[:-1] == 1) & (np.diff(k)[1:] == 1)
    accel = accel_error(pred, ref, steady) if steady.any() else float("nan")
    return {"frames": int(keep.sum()), "mpjpe": mpjpe(pred, ref), "pa_mpjpe": pa_mpjpe(pred, ref), "accel": accel}


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
    out = {}
    for p, pid in enumerate(int(i) for i in gt["person_ids"]):
        best, best_iou = None, min_iou
        truth = gt["boxes"][p]  # (T, 4)
        for tid, tr in (scene.tracks or {}).items():
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
            keep = (motion.confidence > 0) & (gt["visible"][p, frames] >= min_visible)
            person = {"times": gt["times"], "joints_camera": gt["joints_camera"][p], "joint_names": gt["joint_names"]}
            if keep.sum():
                score.update(evaluate_motion(_camera_joints(scene, motion)[keep], motion.times[keep],
                                             motion.skeleton.names, person))
        out[pid] = score
    return out


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
