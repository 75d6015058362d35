"""Score a detector against hand-labelled boxes: precision, recall, speed.

Fixture format (JSON; ``tests/data/vtest_people.json``)::

    {"video": path, "people": {"<frame>": [[x0, y0, x1, y1], ...]},
     "ignore": {"<frame>": [[x0, y0, x1, y1], ...]}}

Matching: detections, best score first, each take the unmatched labelled
person with the highest IoU if that IoU >= ``iou_threshold`` (a hit).
A detection that hits no person but covers an "ignore" box (IoU >= the
threshold, or half of the detection inside it) counts neither way;
every other detection is a false alarm.

Run ``python -m mocap.detectors.evaluate [NAME ...]`` to print the table.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import Detections, Detector
from .boxes import iou

FIXTURE = Path(__file__).resolve().parents[2] / "tests" / "data" / "vtest_people.json"


@dataclass
class Score:
    hits: int
    false_alarms: int
    misses: int
    ms_per_frame: float = float("nan")

    @property
    def precision(self) -> float:
        return self.hits / max(self.hits + self.false_alarms, 1)

    @property
    def recall(self) -> float:
        return self.hits / max(self.hits + self.misses, 1)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def match(detections: Detections, people: np.ndarray, ignore: np.ndarray | None = None,
          iou_threshold: float = 0.5) -> Score:
    """Score one image.

    Args:
        detections: what the detector found.
        people: (P, 4) xyxy labelled people.  ignore: (Q, 4) xyxy "don't care" boxes.
    """
    people = np.asarray(people, np.float64).reshape(-1, 4)
    ignore = np.zeros((0, 4)) if ignore is None else np.asarray(ignore, np.float64).reshape(-1, 4)
    taken = np.zeros(len(people), bool)
    hits = false_alarms = 0
    for box in detections.boxes[np.argsort(-detections.scores, kind="stable")]:
        if len(people):
            overlap = np.where(taken, -1.0, iou(box, people)[0])
            j = int(overlap.argmax())
            if overlap[j] >= iou_threshold:
                taken[j] = True
                hits += 1
                continue
        if len(ignore) and _covers(box, ignore, iou_threshold):
            continue
        false_alarms += 1
    return Score(hits, false_alarms, int((~taken).sum()))


def _covers(box: np.ndarray, ignore: np.ndarray, iou_threshold: float) -> bool:
    if (iou(box, ignore)[0] >= iou_threshold).any():
        return True
    w = np.minimum(box[2], ignore[:, 2]) - np.maximum(box[0], ignore[:, 0])
    h = np.minimum(box[3], ignore[:, 3]) - np.maximum(box[1], ignore[:, 1])
    inside = np.clip(w, 0, None) * np.clip(h, 0, None)
    area = max((box[2] - box[0]) * (box[3] - box[1]), 1e-9)
    return bool((inside / area >= 0.5).any())


def load_fixture(path: Path = FIXTURE) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Frames and labels of a fixture.

    Returns:
        images {frame: (H, W, 3) uint8 RGB}, people {frame: (P, 4)}, ignore {frame: (Q, 4)}.
    """
    import cv2

    spec = json.loads(Path(path).read_text())
    people = {int(k): np.asarray(v, np.float64).reshape(-1, 4) for k, v in spec["people"].items()}
    ignore = {int(k): np.asarray(v, np.float64).reshape(-1, 4) for k, v in spec.get("ignore", {}).items()}
    cap = cv2.VideoCapture(spec["video"])
    images = {}
    try:
        for frame in sorted(people):
            # Seeking this MS-MPEG4 AVI with OpenCV's FFmpeg backend is frame-exact
            # (checked against sequential decoding).
            cap.set(cv2.CAP_PROP_POS_FRAMES, frame)
            ok, bgr = cap.read()
            if not ok:
                raise FileNotFoundError(f"cannot read frame {frame} of {spec['video']}")
            images[frame] = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()
    return images, people, ignore


def evaluate(detector: Detector, images: dict[int, np.ndarray], people: dict[int, np.ndarray],
             ignore: dict[int, np.ndarray], min_score: float = 0.5, iou_threshold: float = 0.5) -> Score:
    """Run ``detector`` on every fixture frame; sum the per-frame scores.

    Detections below ``min_score`` are dropped before matching; ``ms_per_frame``
    is the mean wall time of one detector call.
    """
    total = Score(0, 0, 0)
    seconds = 0.0
    for frame, image in images.items():
        start = time.perf_counter()
        found = detector(image)
        seconds += time.perf_counter() - start
        s = match(found[found.scores >= min_score], people[frame], ignore.get(frame), iou_threshold)
        total = Score(total.hits + s.hits, total.false_alarms + s.false_alarms, total.misses + s.misses)
    total.ms_per_frame = 1000 * seconds / max(len(images), 1)
    return total


def main(argv: list[str] | None = None) -> None:
    import sys

    from . import DETECTORS, make_detector

    names = (argv if argv is not None else sys.argv[1:]) or [n for n, d in DETECTORS.items() if not d.needs_weights]
    images, people, ignore = load_fixture()
    print(f"{'detector':12s} {'precision':>9s} {'recall':>7s} {'F1':>5s} {'ms/frame':>9s}")
    for name in names:
        detector = make_detector(name)
        detector(next(iter(images.values())))  # warm-up
        s = evaluate(detector, images, people, ignore)
        print(f"{name:12s} {s.precision:9.3f} {s.recall:7.3f} {s.f1:5.3f} {s.ms_per_frame:9.1f}"
              f"   ({s.hits} hits, {s.false_alarms} false alarms, {s.misses} misses)")


if __name__ == "__main__":
    main()
