"""The ``hmr2`` backend: HMR 2.0 behind the :class:`mocap.estimators.BodyEstimator` protocol.

Where the files are looked for (first found wins, :func:`mocap.model_files.find_checkpoint`):
``--checkpoint``; then ``$MOCAP_HMR2_CHECKPOINT``; then where 4D-Humans puts them,
``~/.cache/4DHumans/logs/train/multiruns/hmr2/0/checkpoints/epoch=35-step=1000000.ckpt``.

One network is loaded per (checkpoint, device, precision) into the capture's
:class:`~mocap.estimators.ModelCache` and shared by every person's estimator and
every parallel segment: estimators are cheap views of it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ...camera import cam_crop_to_full, project, ray_rotation, solve_translation
from ...body_model import from_buffers, rest_pelvis_of_buffers
from ...errors import MocapError
from ...model_files import find_checkpoint
from ...skeleton import Skeleton, forward_kinematics
from .. import Estimates, ModelCache

def shared_model(path: Path, device: str, precision: str, models: ModelCache | None = None):
    """(network on ``device``, SMPL buffers) of a checkpoint, loaded once per ``models`` cache
    (None: loaded now, for this caller alone)."""
    def load():
        from .model import load_hmr2

        model, body = load_hmr2(path)
        return model.to(device), body

    key = ("hmr2", str(Path(path).resolve()), device, precision)
    return (models or ModelCache()).get(key, load)


def checkpoint_body_model(checkpoint=None, device: str = "auto", precision: str = "auto",
                          models: ModelCache | None = None):
    """The SMPL :class:`~mocap.body_model.BodyModel` of the checkpoint's own SMPL buffers (None if it carries none)."""
    dev = resolve_device(device)
    _, body = shared_model(find_checkpoint(checkpoint), dev, resolve_precision(precision, dev), models)
    return from_buffers(body)


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise MocapError(f"--device {device}: no CUDA GPU is usable here (use --device cpu)", exit_code=2)
    return device


def resolve_precision(precision: str, device: str) -> str:
    if precision == "auto":
        return "bf16" if device.startswith("cuda") else "fp32"
    return precision


class HMR2Estimator:
    """HMR 2.0 on crops of one person (no state between frames: each image on its own).

    Args:
        skeleton: the rig the rotations drive (SMPL-24 topology, T rest pose).
        checkpoint: file (None: the usual places, see :func:`find_checkpoint`).
        device: "auto", "cpu", "cuda", "cuda:1", ...
        batch_size: crops per network call.
        precision: "auto" (bf16 on a GPU, fp32 on a CPU), "fp32", "bf16", "fp16".
    """

    name = "hmr2"

    def __init__(self, skeleton: Skeleton, checkpoint=None, device: str = "auto", batch_size: int = 32,
                 precision: str = "auto", off_centre: bool = True, models: ModelCache | None = None):
        self.skeleton = skeleton
        self.off_centre = off_centre
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        self.batch_size = batch_size
        self.model, self.body = shared_model(find_checkpoint(checkpoint), self.device, self.precision, models)
        self.pelvis = rest_pelvis_of_buffers(self.body)

    def predict(self, crops: np.ndarray) -> dict[str, np.ndarray]:
        """(N, 3, 256, 256) normalised crops -> numpy {"rotations" (N, 24, 3, 3), "betas" (N, 10),
        "cam" (N, 3)}, in batches of ``batch_size`` under the chosen precision."""
        import torch

        dtype = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}[self.precision]
        outs = []
        with torch.inference_mode():
            for i in range(0, len(crops), self.batch_size):
                x = torch.from_numpy(crops[i:i + self.batch_size]).to(self.device)
                with torch.autocast(device_type=self.device.split(":")[0], dtype=dtype, enabled=dtype is not None):
                    out = self.model(x)
                outs.append({k: v.float().cpu().numpy() for k, v in out.items()})
        return {k: np.concatenate([o[k] for o in outs]) for k in outs[0]} if outs else {}

    # No state between calls: the pipeline may batch several people's crops into one call.
    stateless = True

    def __call__(self, images: Sequence[np.ndarray], times: np.ndarray, K: np.ndarray,
                 offsets: np.ndarray | None = None) -> Estimates:
        return self.estimate_people({0: (images, times, offsets)}, K)[0]

    def estimate_people(self, groups: dict, K: np.ndarray) -> dict:
        """Several people's crops in shared network batches.

        Args:
            groups: id -> (images, times (N,), offsets (N, 2) or None[, boxes (N, 4)]), as for
                ``__call__``; boxes: each person's xyxy box in frame pixels, the crop made
                from it as 4D-Humans makes it from the whole frame (each image then holds the
                frame pixels :func:`~.preprocess.crop_reach` names, clipped to the frame).
                Without boxes, each image is the person's crop as a whole.
        Returns:
            id -> :class:`Estimates`.
        """
        from .preprocess import make_crop

        made, spans = [], {}
        for key, (images, times, offsets, *boxes) in groups.items():
            first = len(made)
            for i, im in enumerate(images):
                origin = (0, 0) if offsets is None else np.asarray(offsets[i])
                if boxes and boxes[0] is not None:
                    made.append(make_crop(im, np.asarray(boxes[0][i], float), origin))
                    continue
                crop, centre, size = make_crop(im, np.array([0.0, 0.0, im.shape[1], im.shape[0]]))
                made.append((crop, centre + origin, size))
            spans[key] = (first, len(made), np.asarray(times, float))
        out = self.predict(np.stack([m[0] for m in made])) if made else {}
        centres = np.array([m[1] for m in made]).reshape(-1, 2)
        sizes = np.array([m[2] for m in made])
        return {key: self._estimates({k: v[a:b] for k, v in out.items()}, times, centres[a:b], sizes[a:b], K)
                for key, (a, b, times) in spans.items()}

    def _estimates(self, out: dict, times: np.ndarray, centres: np.ndarray, sizes: np.ndarray,
                   K: np.ndarray) -> Estimates:
        n = len(times)
        if n == 0:
            return Estimates(np.zeros(0), np.zeros((0, 24, 3, 3)), np.zeros((0, 3)), np.zeros(0),
                             np.zeros((0, 24, 3)), np.zeros(10))
        rotations = out["rotations"].astype(np.float64)
        # The SMPL model's origin goes to cam_crop_to_full's translation; the root joint (pelvis)
        # sits at its rest position from there (global orientation turns about the pelvis).
        root = cam_crop_to_full(out["cam"], centres, sizes, K) + self.pelvis
        if self.off_centre:
            crop_pixels = crop_keypoints(rotations, out["cam"], centres, sizes, self.skeleton, self.pelvis,
                                         self.model.config.focal_length)
            # HMR 2.0 sees each crop as if looking straight at its centre: turn the body by the
            # angle between the optical axis and the ray through the crop centre ...
            rotations[:, 0] = ray_rotation(centres, K) @ rotations[:, 0]
            # ... and place it so that its own 2D keypoints reproject under the real camera.
            body, _ = forward_kinematics(rotations, np.zeros((n, 3)), self.skeleton)
            solved = solve_translation(body, crop_pixels, np.ones(body.shape[:2]), K)
            ok = np.all(np.isfinite(solved), axis=1) & (solved[:, 2] > 0)
            root[ok] = solved[ok]
        joints, _ = forward_kinematics(rotations, root, self.skeleton)
        pixels = project(joints, K)
        keypoints = np.concatenate([pixels, np.ones((n, pixels.shape[1], 1))], axis=2)
        return Estimates(times, rotations, root, np.ones(n), keypoints,
                         out["betas"].mean(axis=0).astype(np.float64))

    def close(self) -> None:
        pass


def crop_keypoints(rotations: np.ndarray, cam: np.ndarray, centres: np.ndarray, sizes: np.ndarray,
                   skeleton: Skeleton, pelvis: np.ndarray, crop_focal: float = 5000.0, crop_size: int = 256
                   ) -> np.ndarray:
    """HMR 2.0's 2D keypoints, in full-image pixels: its joints seen by its own crop camera
    (focal ``crop_focal`` pixels for a ``crop_size`` crop, looking at the crop centre, the body
    at (tx, ty, 2 f / (crop_size s)) from the SMPL origin), mapped back from the crop.

    Args:
        rotations: (N, J, 3, 3) as predicted (global orientation in the crop camera);
        cam: (N, 3) s, tx, ty; centres: (N, 2) and sizes (N,) of the square crops, pixels;
        pelvis: (3,) the rest root position from the SMPL origin.
    Returns:
        (N, J, 2) pixels.
    """
    s, tx, ty = (np.asarray(cam, float)[:, i] for i in range(3))
    t = np.stack([tx, ty, 2 * crop_focal / (crop_size * s + 1e-9)], axis=1)
    joints, _ = forward_kinematics(rotations, t + pelvis, skeleton)  # (N, J, 3) crop camera
    in_crop = crop_focal * joints[..., :2] / joints[..., 2:3]  # crop pixels from the centre
    return centres[:, None, :] + in_crop * (np.asarray(sizes, float) / crop_size)[:, None, None]
