"""BlazePose's landmark network (the mediapipe wheel's ``pose_landmark_full.tflite``) run directly
with ``ai-edge-litert`` on our own crops: the ``mediapipe`` backend, the default.

Same landmarks as :mod:`.mediapipe_pose` (the legacy graph, ``mediapipe-graph``: 33 image and
33 metric "world" landmarks, turned into SMPL-24 rotations by the same inverse kinematics),
without MediaPipe's graph: the same bytes every run, and the crop is ours. With tracking on,
people are found, followed and landmarked in one pass by :mod:`mocap.follow`; with
``--detector none`` (one person), :class:`BlazePoseLandmarks` follows the one body.

The network takes a 256x256 RGB crop in [0, 1] of a square region around the person, turned
so that the body stands upright in it. It returns 39 landmarks (x, y, z in crop pixels, then
visibility and presence logits; 33 and 34 are the hip centre and a point at the body's
radius, which place the next frame's region), a presence score, and 39 world landmarks in
metres in the crop's orientation. The region of a frame is, as in BlazePose's own tracking:
the square of side 2.5 body radii centred on the previous frame's hip centre, turned by the
body's lean; on a first frame (or once the person was lost), the image as a whole, then once
more from what that found.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..appearance import look_of
from ..registry import Check
from ..skeleton import Skeleton
from . import BACKENDS, Backend, EstimateOptions
from .mediapipe_pose import NUM_LANDMARKS, MediaPipePose

CROP = 256
ROI_SCALE = 1.25  # the region: this times the body circle's diameter
MIN_PRESENCE = 0.5
HIP_CENTRE, BODY_RADIUS_POINT = 33, 34


def model_path() -> str:
    from ..model_files import mediapipe_network

    return mediapipe_network("pose_landmark", "pose_landmark_full.tflite")


def region_axes(up: np.ndarray) -> np.ndarray:
    """(2, 2) columns: the crop's x and y axes in the image, for a body whose up direction in the
    image is the unit vector ``up`` (2,) (the crop shows it upright; y down in both)."""
    return np.array([[-up[1], -up[0]], [up[0], -up[1]]])


def region_from_landmarks(landmarks: np.ndarray, centre_index: int = HIP_CENTRE,
                          radius_index: int = BODY_RADIUS_POINT) -> tuple[np.ndarray, float, np.ndarray]:
    """The region for the next frame from landmarks (39, 2) image pixels: centre (2,), side
    (pixels) and axes (2, 2) (see :func:`region_axes`). The detector's keypoints (4, 2) place one
    the same way, from its points 0 and 1."""
    centre = landmarks[centre_index]
    axis = landmarks[radius_index] - centre
    radius = float(np.linalg.norm(axis))
    up = axis / radius if radius > 1e-6 else np.array([0.0, -1.0])
    return centre, 2.0 * radius * ROI_SCALE, region_axes(up)


@dataclass
class Landmarks:
    """One person's landmarks in one frame, from :class:`LandmarkNet`.

    Attributes:
        pixels: (39, 2) image pixels (33 and 34: hip centre and body radius point).
        visibility: (39,) in [0, 1]. world: (39, 3) metres in camera orientation, hip-centred.
        presence: the network's confidence that a person is in the region, in [0, 1].
        look: (LOOK_SIZE,) the body's colours (:mod:`mocap.appearance`), or None where unseen.
    """

    pixels: np.ndarray
    visibility: np.ndarray
    world: np.ndarray
    presence: float
    look: np.ndarray | None = None


class LandmarkNet:
    """BlazePose's landmark network on regions of a frame (see the module notes).

    Args:
        threads: the cores it may use (:class:`~mocap.model_files.InterpreterLanes`: one region
            on all of them, several side by side). Any number gives the same bytes.
    """

    def __init__(self, threads: int = 1):
        from ..model_files import InterpreterLanes

        self._lanes = InterpreterLanes(model_path(), threads, _Interpreter)

    def __call__(self, image: np.ndarray, region) -> Landmarks:
        """The landmarks in one region (centre (2,), side, axes (2, 2), as
        :func:`region_from_landmarks` gives) of an (H, W, 3) uint8 RGB image."""
        return self._lanes.main((image, region))

    def many(self, image: np.ndarray, regions: list) -> list[Landmarks]:
        """The landmarks in each of ``regions`` of one image, in order."""
        return self._lanes.map([(image, r) for r in regions])

    def close(self) -> None:
        """Stop the threads of :meth:`many` (the network stays usable)."""
        self._lanes.close()


class _Interpreter:
    """One LiteRT interpreter of the landmark network: crop, run, landmarks back to the image."""

    def __init__(self, net):
        self._net = net
        self._input = net.get_input_details()[0]["index"]
        by_size = {int(np.prod(d["shape"])): d["index"] for d in net.get_output_details()}
        self._landmarks, self._presence, self._world = by_size[39 * 5], by_size[1], by_size[39 * 3]
        self._mask = by_size[CROP * CROP]  # segmentation logits (1, 256, 256, 1)

    def __call__(self, image_and_region) -> Landmarks:
        import cv2

        image, (centre, side, axes) = image_and_region
        to_image = axes * (side / CROP)  # crop pixels (from the crop's centre) -> image pixels
        M = np.column_stack([to_image, centre - to_image @ [CROP / 2, CROP / 2]])
        crop = cv2.warpAffine(image, M, (CROP, CROP), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        self._net.set_tensor(self._input, (crop.astype(np.float32) / 255.0)[None])
        self._net.invoke()
        presence = float(self._net.get_tensor(self._presence).reshape(-1)[0])
        raw = self._net.get_tensor(self._landmarks).reshape(39, 5).astype(np.float64)
        world = self._net.get_tensor(self._world).reshape(39, 3).astype(np.float64)
        pixels = raw[:, :2] @ to_image.T + (centre - to_image @ [CROP / 2, CROP / 2])
        visibility = 1.0 / (1.0 + np.exp(-raw[:, 3]))
        world[:, :2] = world[:, :2] @ axes.T  # the crop's orientation -> the camera's
        look = None
        if presence >= MIN_PRESENCE:
            mask = self._net.get_tensor(self._mask)[0, :, :, 0] > 0
            H, W = image.shape[:2]
            corners = M @ np.array([[0, 0, 1], [CROP - 1, 0, 1], [0, CROP - 1, 1], [CROP - 1, CROP - 1, 1.0]]).T
            if not ((corners >= 0).all() and (corners[0] <= W - 1).all() and (corners[1] <= H - 1).all()):
                # The crop reaches past the image: only the pixels that come from it count.
                inside = cv2.warpAffine(np.full((H, W), 255, np.uint8), M, (CROP, CROP),
                                        flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP, borderValue=0)
                mask &= inside > 0
            look = look_of(crop, mask, raw[:, :2])
        return Landmarks(pixels, visibility, world, presence, look)


class BlazePoseLandmarks(MediaPipePose):
    """The landmark network on our crops, tracking its region from frame to frame (``static``:
    every image on its own). Its estimates are made as :class:`.MediaPipePose` makes them."""

    name = "mediapipe"

    def __init__(self, skeleton: Skeleton, static: bool = False, off_centre: bool = True):
        self.skeleton, self.static, self.off_centre = skeleton, static, off_centre
        # One thread: the pipeline runs people and segments side by side.
        self._net = LandmarkNet(threads=1)
        self._region = None  # the previous frame's region, in the previous image's pixels

    def detect(self, image: np.ndarray, origin=None) -> tuple[np.ndarray, np.ndarray] | None:
        """Landmarks of the person in one image (see :meth:`.MediaPipePose.detect`)."""
        origin = np.zeros(2) if origin is None else np.asarray(origin, float)
        region = None
        if not self.static and self._region is not None:  # kept in frame pixels: crops move
            centre, side, axes = self._region
            region = (centre - origin, side, axes)
        if region is None:  # the image as a whole, then the region that finds
            H, W = image.shape[:2]
            found = self._run(image, (np.array([W / 2, H / 2]), float(max(H, W)), np.eye(2)))
            region = region_from_landmarks(found.pixels) if found is not None else None
        found = self._run(image, region) if region is not None else None
        if found is None:
            self._region = None
            return None
        centre, side, axes = region_from_landmarks(found.pixels)
        self._region = (centre + origin, side, axes)
        return found.world[:NUM_LANDMARKS], np.column_stack([found.pixels[:NUM_LANDMARKS],
                                                             found.visibility[:NUM_LANDMARKS]])

    def _run(self, image: np.ndarray, region) -> Landmarks | None:
        found = self._net(image, region)
        return found if found.presence >= MIN_PRESENCE else None

    def close(self) -> None:
        self._region = None


def _checks() -> list[Check]:
    try:
        from ai_edge_litert.interpreter import Interpreter  # noqa: F401
        from ..detectors.blazepose import model_path as detector_path

        missing = [p for p in (model_path(), detector_path()) if not os.path.exists(p)]
    except Exception as exc:  # noqa: BLE001 - any import failure is the finding
        return [Check("backend mediapipe", False, f"{type(exc).__name__}: {exc}"[:160],
                      "reinstall: scripts/install.sh (ai-edge-litert, mediapipe==0.10.21)")]
    if missing:
        return [Check("backend mediapipe", False, f"missing {missing[0]}", "reinstall mediapipe==0.10.21")]
    from importlib.metadata import version

    return [Check("backend mediapipe", True, f"ai-edge-litert {version('ai-edge-litert')}, BlazePose networks "
                                             "from the mediapipe wheel")]


def _build(skeleton: Skeleton, options: EstimateOptions, static: bool = False, models=None) -> BlazePoseLandmarks:
    return BlazePoseLandmarks(skeleton, static=static, off_centre=options.off_centre)


BACKENDS.register("mediapipe", Backend("MediaPipe's BlazePose networks run directly (ai-edge-litert): people "
                                       "detected, followed and landmarked in one pass; offline, CPU, reproducible",
                                       _build, checks=_checks, label="MediaPipe", follows=True))
