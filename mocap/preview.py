"""Preview video: the input with each person's box, id and projected skeleton drawn on it,
so identities and fit can be checked at a glance before importing the animation."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .camera import project
from .fileio import atomic_output
from .motion import Scene
from .track import Tracklet, boxes_at_time
from .video import frame_rate_fraction, probe, read_frames

LEFT, RIGHT, CENTRE = (255, 140, 0), (0, 160, 255), (240, 240, 240)


def person_colour(tid: int) -> tuple[int, int, int]:
    """A distinct, stable RGB colour per track id."""
    hue = (tid * 0.618033988749895) % 1.0
    import colorsys

    return tuple(int(255 * c) for c in colorsys.hsv_to_rgb(hue, 0.75, 1.0))


def draw_skeleton(image: np.ndarray, joints_2d: np.ndarray, names, parents, width: int = 2) -> None:
    """Draw bones (J, 2 pixel positions) onto an (H, W, 3) RGB image in place:
    left side orange, right side blue, centre white."""
    import cv2

    for j, p in enumerate(parents):
        if p < 0:
            continue
        colour = LEFT if names[j].startswith("left") else RIGHT if names[j].startswith("right") else CENTRE
        a, b = (tuple(int(round(v)) for v in joints_2d[k]) for k in (p, j))
        cv2.line(image, a, b, colour, width, cv2.LINE_AA)
    for x, y in joints_2d:
        cv2.circle(image, (int(round(x)), int(round(y))), width + 1, (255, 255, 255), -1, cv2.LINE_AA)


def draw_box(image: np.ndarray, box: np.ndarray, tid: int) -> None:
    """Draw a person's (4,) xyxy box and id label onto ``image`` in place."""
    import cv2

    colour = person_colour(tid)
    x0, y0, x1, y1 = (int(round(v)) for v in box)
    cv2.rectangle(image, (x0, y0), (x1, y1), colour, 2)
    cv2.putText(image, str(tid), (x0 + 2, max(y0 - 6, 12)), cv2.FONT_HERSHEY_SIMPLEX, 0.6, colour, 2, cv2.LINE_AA)


def scene_pixels(scene: Scene) -> dict[int, np.ndarray]:
    """Each person's joints projected into the video: track id -> (T, J, 2) pixels."""
    cam_from_world = np.linalg.inv(scene.camera.world_from_camera)
    out = {}
    for tid, m in scene.motions.items():
        joints = m.joint_positions() @ cam_from_world[:3, :3].T + cam_from_world[:3, 3]
        out[tid] = project(joints, scene.camera.K)
    return out


def write_preview(video_path, scene: Scene, path, tracklets: dict[int, Tracklet] | None = None,
                  progress=None) -> Path:
    """Write ``path`` (.mp4, H.264): the video with boxes, ids and skeletons, atomically.

    Args:
        video_path: the video the scene was captured from.
        scene: people to draw (their skeleton is drawn on frames where they were seen).
        tracklets: boxes to draw (optional).
    """
    import av

    info = probe(video_path)
    pixels = scene_pixels(scene)
    if progress is not None:
        progress.start("preview", info.num_frames or None)
    with atomic_output(path) as tmp:
        with av.open(str(tmp), "w", format="mp4") as out:
            stream = out.add_stream("libx264", rate=frame_rate_fraction(info.fps))
            stream.width, stream.height = info.width - info.width % 2, info.height - info.height % 2
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": "23", "preset": "veryfast"}
            for frame in read_frames(video_path):
                image = np.ascontiguousarray(frame.image[: stream.height, : stream.width])
                for tid, box in boxes_at_time(tracklets or {}, frame.time):
                    draw_box(image, box, tid)
                for tid, m in scene.motions.items():
                    k = int(np.argmin(np.abs(m.times - frame.time)))
                    if abs(m.times[k] - frame.time) < 0.5 / m.fps and m.confidence[k] > 0:
                        draw_skeleton(image, pixels[tid][k], m.skeleton.names, m.skeleton.parents)
                for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                    out.mux(packet)
                if progress is not None:
                    progress.advance("preview")
            for packet in stream.encode():
                out.mux(packet)
    if progress is not None:
        progress.finish("preview")
    return Path(path)


