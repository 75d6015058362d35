"""Camera stage: intrinsics, and placing a body in the camera frame from 2D/3D evidence.

Camera frame is OpenCV's: x right, y down, z forward, metres; pixels have
(0, 0) at the top-left corner of the top-left pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .motion import Camera, opencv_to_yup

# Used when the user gives no focal length and the file carries none: a typical
# phone / webcam main camera, measured across the longer image side.
DEFAULT_FOV_DEG = 60.0


def intrinsics_from_fov(width: int, height: int, fov_deg: float = DEFAULT_FOV_DEG) -> np.ndarray:
    """(3, 3) K with a centred principal point; ``fov_deg`` spans the longer image side."""
    f = 0.5 * max(width, height) / np.tan(np.radians(fov_deg) / 2)
    return np.array([[f, 0, width / 2], [0, f, height / 2], [0, 0, 1.0]])


def default_camera(width: int, height: int, fov_deg: float | None = None, focal_px: float | None = None) -> Camera:
    """A static level camera: K from a focal length in pixels, or a field of view."""
    if focal_px is not None:
        K = np.array([[focal_px, 0, width / 2], [0, focal_px, height / 2], [0, 0, 1.0]])
    else:
        K = intrinsics_from_fov(width, height, DEFAULT_FOV_DEG if fov_deg is None else fov_deg)
    return Camera(K=K, image_size=(width, height), world_from_camera=opencv_to_yup())


def solve_translation(points: np.ndarray, pixels: np.ndarray, weights: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Translation putting metric 3D points onto their 2D observations (linear least squares).

    Solves, per frame, ``t`` minimising the algebraic reprojection error of
    ``points + t`` under ``K`` — exact for noise-free data, and the usual start for
    a non-linear refinement.

    Args:
        points: (T, N, 3) points in camera orientation, metres, relative to an origin on the body.
        pixels: (T, N, 2) observed pixel positions.
        weights: (T, N) non-negative weights (e.g. landmark visibility).
        K: (3, 3) intrinsics.
    Returns:
        (T, 3) translation of the body origin in the camera frame, metres
        (NaN for frames with fewer than two weighted points).
    """
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    X, Y, Z = points[..., 0], points[..., 1], points[..., 2]
    du, dv = cx - pixels[..., 0], cy - pixels[..., 1]
    T, N = X.shape
    zeros = np.zeros_like(X)
    # u = fx (X+tx)/(Z+tz) + cx  ->  fx tx + (cx-u) tz = -fx X - (cx-u) Z   (same for v)
    A = np.concatenate([
        np.stack([np.full_like(X, fx), zeros, du], axis=-1),
        np.stack([zeros, np.full_like(X, fy), dv], axis=-1),
    ], axis=1)  # (T, 2N, 3)
    b = np.concatenate([-fx * X - du * Z, -fy * Y - dv * Z], axis=1)  # (T, 2N)
    w = np.sqrt(np.concatenate([weights, weights], axis=1))
    A, b = A * w[..., None], b * w
    out = np.full((T, 3), np.nan)
    ok = (weights > 0).sum(axis=1) >= 2
    if ok.any():
        AtA = np.einsum("tni,tnj->tij", A[ok], A[ok])
        Atb = np.einsum("tni,tn->ti", A[ok], b[ok])
        out[ok] = np.linalg.solve(AtA, Atb[..., None])[..., 0]
    return out


def project(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(..., 2) pixel positions of (..., 3) camera-frame points."""
    p = points @ K.T
    return p[..., :2] / p[..., 2:3]


def cam_crop_to_full(cam: np.ndarray, centre: np.ndarray, size: np.ndarray, K: np.ndarray) -> np.ndarray:
    """A crop's weak-perspective camera -> the body's translation in the full image's camera.

    HMR 2.0 predicts (s, tx, ty) for a square crop of side ``size`` centred at
    ``centre``: the body, translated by (tx, ty) in its own units, spans ``s``
    of the crop (half-width units). Under the real intrinsics ``K`` (focal f,
    principal point c), that is the depth ``2 f / (size s)`` and an offset of the
    crop centre from c (the 4D-Humans formula, with its fixed focal and image-centre
    principal point replaced by ``K``).

    Args:
        cam: (N, 3) s, tx, ty. centre: (N, 2) pixels. size: (N,) pixels. K: (3, 3).
    Returns:
        (N, 3) translation in the OpenCV camera frame, metres.
    """
    cam, centre, size = np.asarray(cam, float), np.asarray(centre, float), np.asarray(size, float)
    f = (K[0, 0] + K[1, 1]) / 2
    bs = size * cam[:, 0] + 1e-9
    tz = 2 * f / bs
    tx = 2 * (centre[:, 0] - K[0, 2]) / bs + cam[:, 1]
    ty = 2 * (centre[:, 1] - K[1, 2]) / bs + cam[:, 2]
    return np.stack([tx, ty, tz], axis=1)


def ray_rotation(pixels: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(N, 3, 3) rotations taking the optical axis onto the ray through each pixel.

    A crop-based estimator sees a person as if the camera looked straight at the crop's
    centre; its body orientation is in that turned camera. Pre-multiplying by this
    rotation (about the body's own root, so the root stays put) gives the orientation in
    the real camera: the off-centre correction. ``pixels``: (N, 2); ``K``: (3, 3).
    """
    from .rotations import swing

    pixels = np.asarray(pixels, float).reshape(-1, 2)
    rays = np.c_[pixels, np.ones(len(pixels))] @ np.linalg.inv(K).T
    return swing(np.broadcast_to([0.0, 0.0, 1.0], rays.shape), rays)


# Diagonal of a 36 x 24 mm frame: what "35 mm equivalent" focal lengths are scaled to.
FULL_FRAME_DIAGONAL_MM = float(np.hypot(36.0, 24.0))  # 43.27 mm


def focal_from_lens(lens_mm: float, sensor_mm: float, width: int, height: int) -> float:
    """Focal length in pixels from a lens's real focal length and the sensor size.

    Args:
        lens_mm: the lens's (true, not 35 mm equivalent) focal length, mm.
        sensor_mm: the sensor's width along the image's longer side, mm
            (e.g. 36 for a full-frame camera shooting landscape or portrait).
        width, height: image size, pixels.
    Returns:
        focal length, pixels: ``lens_mm / sensor_mm * max(width, height)``.
    """
    return float(lens_mm) / float(sensor_mm) * max(width, height)


def focal_from_35mm(focal_35mm: float, width: int, height: int) -> float:
    """Focal length in pixels from a 35 mm equivalent focal length.

    The 35 mm equivalent is defined on the diagonal of a 36 x 24 mm frame
    (43.27 mm), so ``f_px = focal_35mm / 43.27 * hypot(width, height)``.
    This assumes the image covers the diagonal the figure was quoted for, with
    the crop factor already folded into it; a phone quoting its 4:3 photo figure
    while filming a 16:9 crop of the same sensor width comes out ~8 % short.

    Args:
        focal_35mm: 35 mm equivalent focal length, mm.
        width, height: image size, pixels (either orientation: the diagonal is the same).
    Returns:
        focal length, pixels.
    """
    return float(focal_35mm) / FULL_FRAME_DIAGONAL_MM * float(np.hypot(width, height))


@dataclass(frozen=True)
class CameraOptions:
    """The camera stage's options (see :func:`choose_focal`): ``focal`` pixels; ``lens_mm`` on a
    ``sensor_mm`` sensor (lens alone: a 35 mm equivalent); ``fov`` degrees across the longer side."""

    focal: float | None = None
    fov: float | None = None
    lens_mm: float | None = None
    sensor_mm: float | None = None


def camera_for(width: int, height: int, options: CameraOptions, focal_35mm: float | None = None
               ) -> tuple[Camera, str]:
    """The static camera a video of ``width`` x ``height`` was shot with, and where its focal
    length came from, in words (``focal_35mm``: the file's metadata)."""
    focal, source = choose_focal(width, height, options.focal, options.fov, options.lens_mm, options.sensor_mm,
                                 focal_35mm)
    return default_camera(width, height, focal_px=focal), f"{source}: {focal:.0f} px for {width}x{height}"


def choose_focal(width: int, height: int, focal: float | None = None, fov: float | None = None,
                 lens_mm: float | None = None, sensor_mm: float | None = None,
                 focal_35mm: float | None = None) -> tuple[float, str]:
    """The focal length to use, in pixels, and where it came from (for the user to read).

    First found wins: ``focal`` (pixels); ``lens_mm`` on a ``sensor_mm`` sensor (or, without
    a sensor, ``lens_mm`` as a 35 mm equivalent, as phones state it); ``fov`` (degrees across
    the longer side); the file's ``focal_35mm`` metadata; else ``DEFAULT_FOV_DEG``.
    """
    if focal is not None:
        return float(focal), f"focal length {focal:g} px (--focal)"
    if lens_mm is not None and sensor_mm is not None:
        return focal_from_lens(lens_mm, sensor_mm, width, height), f"{lens_mm:g} mm lens on a {sensor_mm:g} mm sensor"
    if lens_mm is not None:
        return focal_from_35mm(lens_mm, width, height), f"{lens_mm:g} mm (35 mm equivalent) lens"
    if fov is not None:
        return intrinsics_from_fov(width, height, fov)[0, 0], f"{fov:g} degree field of view (--fov)"
    if focal_35mm is not None:
        return focal_from_35mm(focal_35mm, width, height), f"{focal_35mm:g} mm (35 mm equivalent) from the file"
    f = intrinsics_from_fov(width, height, DEFAULT_FOV_DEG)[0, 0]
    return f, f"default {DEFAULT_FOV_DEG:g} degree field of view (give --focal, --fov or --lens-mm if known)"
