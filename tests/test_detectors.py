"""Person detectors: the offline default on real footage, ONNX loading/decoding math, bad files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from mocap.detectors import Detections
from mocap.detectors import DETECTORS, make_detector
from mocap.detectors.boxes import iou, letterbox, nms
from mocap.errors import EXIT_USAGE, InputError, MocapError

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")
SAMPLES = Path(__file__).resolve().parents[1] / "samples"


# --- the offline default -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def vtest_fixture():
    if not VTEST.is_file():
        pytest.skip("opencv-doc's vtest.avi is not installed")
    from mocap.detectors.evaluate import load_fixture

    return load_fixture()


def test_hog_finds_the_walking_people_of_vtest(vtest_fixture):
    from mocap.detectors.evaluate import evaluate

    score = evaluate(make_detector("hog"), *vtest_fixture)
    # Measured 0.965 / 0.948 (55 of 58 people, 2 false alarms) at score >= 0.5.
    assert score.precision >= 0.92, score
    assert score.recall >= 0.92, score


def test_default_detector_conventions(vtest_fixture):
    images, _, _ = vtest_fixture
    image = images[360]
    found = make_detector("hog")(image)
    h, w = image.shape[:2]
    assert len(found) > 0
    assert (found.boxes[:, 0] < found.boxes[:, 2]).all() and (found.boxes[:, 1] < found.boxes[:, 3]).all()
    assert found.boxes.min() > -w and found.boxes[:, 2].max() < 2 * w
    assert ((found.scores >= 0.1) & (found.scores <= 1)).all()
    assert (np.diff(found.scores) <= 0).all()  # best first


def test_default_detector_is_deterministic(vtest_fixture):
    """OpenCV's threads return windows in a varying order; the boxes must not vary."""
    image = vtest_fixture[0][200]
    detector = make_detector("hog")
    runs = [detector(image) for _ in range(6)]
    assert len(runs[0]) > 3
    for r in runs[1:]:
        assert np.array_equal(r.boxes, runs[0].boxes) and np.array_equal(r.scores, runs[0].scores)


def test_default_detector_gives_one_box_for_one_close_person():
    """Rendered sample (one person, 640x480, ~260 px tall): no body-part fragments, no sky boxes."""
    import cv2

    gt = np.load(SAMPLES / "turn_jump_gt.npz")
    detector = make_detector("hog")
    cap = cv2.VideoCapture(str(SAMPLES / "turn_jump.mp4"))
    extra, frame = 0, 0
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        if frame % 10 == 0:
            found = detector(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            found = found[found.scores >= 0.5]
            uvw = gt["joints_camera"][frame] @ gt["K"].T
            uv = uvw[:, :2] / uvw[:, 2:]
            assert len(found) >= 1, frame
            x0, y0, x1, y1 = found.boxes[0] + [-5, -5, 5, 5]  # the best box holds the body's joints
            inside = (uv[:, 0] >= x0) & (uv[:, 0] <= x1) & (uv[:, 1] >= y0) & (uv[:, 1] <= y1)
            assert inside.mean() >= 0.65, (frame, inside.mean())  # worst: 0.71 mid-jump (frame 140)
            extra += len(found) - 1
        frame += 1
    assert frame == 150
    # Measured: 2 extra boxes in these 15 frames (52 in 30 frames before the
    # fragment and low-contrast filters).
    assert extra <= 3


@pytest.mark.parametrize("shape", [(576, 768, 3), (48, 64, 3), (1080, 1920, 3)])
@pytest.mark.parametrize("name", ["hog", "blazepose"])
def test_no_people_in_a_flat_grey_image(shape, name):
    assert len(make_detector(name)(np.full(shape, 128, np.uint8))) == 0


def test_make_detector_errors():
    with pytest.raises(MocapError) as e:
        make_detector("nope")
    assert e.value.exit_code == EXIT_USAGE and "hog" in str(e.value)
    with pytest.raises(InputError):
        make_detector("hog", weights="x.onnx")
    with pytest.raises(InputError, match="needs a model file"):
        make_detector("yolox")
    assert not DETECTORS["hog"].needs_weights and DETECTORS["rtmdet"].needs_weights
    assert make_detector("auto").name == "blazepose" and make_detector("auto", follows=False).name == "hog"


# --- box helpers ---------------------------------------------------------------------------------

def test_iou_and_nms():
    a = np.array([[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30], [0, 0, 0, 0]], float)
    o = iou(a, a)
    assert o[0, 1] == pytest.approx(50 / 150) and o[0, 2] == 0 and o[3, 3] == 0
    assert list(nms(a[:3], [0.9, 0.8, 0.7], 0.3)) == [0, 2]
    assert list(nms(a[:3], [0.9, 0.8, 0.7], 0.4)) == [0, 1, 2]
    assert list(nms(a[:3], [0.5, 0.8, 0.7], 0.3)) == [1, 2]
    assert len(nms(np.zeros((0, 4)), [], 0.5)) == 0


def test_letterbox_is_top_left_with_pad_114():
    image = np.zeros((32, 48, 3), np.uint8)
    image[:] = (10, 20, 30)
    canvas, r = letterbox(image, (64, 64))
    assert r == pytest.approx(4 / 3)
    assert (canvas[:42, :64] == (10, 20, 30)).all()  # int(32 * 4/3) = 42 rows of image
    assert (canvas[42:] == 114).all()


# --- ONNX detector -------------------------------------------------------------------------------

try:  # optional: pip install 'mocap[onnx]' onnx
    import onnx
    import onnxruntime  # noqa: F401
    from onnx import TensorProto, helper, numpy_helper
except ImportError:
    onnx = None

from mocap.detectors.onnx_detector import OnnxDetector, grid  # noqa: E402

needs_onnx = pytest.mark.skipif(onnx is None, reason="needs onnx and onnxruntime")


def _save(path: Path, nodes, inputs, outputs, initializers=()) -> Path:
    graph = helper.make_graph(nodes, "test", inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # readable by every onnxruntime we support
    onnx.save(model, str(path))
    return path


def _image_input(shape=(1, 3, 64, 64), name="images"):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


def constant_model(path: Path, **outputs: np.ndarray) -> Path:
    """An ONNX model with a (1, 3, 64, 64) input whose outputs are the given constant tensors."""
    nodes = [helper.make_node("Constant", [], [name], value=numpy_helper.from_array(value))
             for name, value in outputs.items()]
    outs = [helper.make_tensor_value_info(name, helper.np_dtype_to_tensor_dtype(v.dtype), list(v.shape))
            for name, v in outputs.items()]
    return _save(path, nodes, [_image_input()], outs)


# 64x64 input: strides 8/16/32 give 8x8 + 4x4 + 2x2 = 84 predictions.
N64 = 84
SMALL = np.zeros((32, 48, 3), np.uint8)  # h=32, w=48 -> letterbox scale r = 4/3 into 64x64


def raw_head() -> tuple[np.ndarray, list, list]:
    """A hand-made raw YOLOX head output (1, 84, 5 + 2) and the boxes/scores it must give on SMALL."""
    out = np.zeros((1, N64, 7), np.float32)
    # stride 8, cell (x=3, y=2) -> index 2*8+3: centre (3.5, 2.25)*8 = (28, 18), size 16x32
    out[0, 19] = [0.5, 0.25, math.log(2), math.log(4), 0.9, 0.8, 0.1]
    # the same person 0.8 px to the right, from the cell below, lower score: removed by NMS
    out[0, 27] = [0.6, -0.75, math.log(2), math.log(4), 0.9, 0.5, 0.1]  # cell (3, 3)
    # stride 16, cell (x=1, y=2) -> index 64 + 2*4+1: centre (16, 32), size 16x32
    out[0, 73] = [0.0, 0.0, 0.0, math.log(2), 0.6, 0.5, 0.0]
    # a confident non-person and a weak person: both below min_score 0.1
    out[0, 10] = [0.5, 0.5, 0.0, 0.0, 0.9, 0.05, 0.99]
    out[0, 83] = [0.5, 0.5, 0.0, 0.0, 0.5, 0.1, 0.0]
    # canvas boxes (20, 2, 36, 34) and (8, 16, 24, 48), divided by r = 4/3, clipped to h = 32
    return out, [[15, 1.5, 27, 25.5], [6, 12, 18, 32]], [0.72, 0.30]


def test_yolox_grid_order():
    cells, strides = grid((64, 64), (8, 16, 32))
    assert len(cells) == N64
    assert cells[19].tolist() == [3, 2] and strides[19, 0] == 8
    assert cells[73].tolist() == [1, 2] and strides[73, 0] == 16
    assert cells[83].tolist() == [1, 1] and strides[83, 0] == 32


@needs_onnx
def test_raw_yolox_head_is_decoded_scored_suppressed_and_mapped_back(tmp_path):
    out, boxes, scores = raw_head()
    det = OnnxDetector(constant_model(tmp_path / "raw.onnx", output=out))
    assert det.input_size == (64, 64)
    found = det(SMALL)
    np.testing.assert_allclose(found.boxes, boxes, atol=1e-4)
    np.testing.assert_allclose(found.scores, scores, atol=1e-6)


@needs_onnx
def test_decoded_yolox_head(tmp_path):
    out = np.zeros((1, N64, 6), np.float32)  # one class
    out[0, 5] = [40, 20, 16, 32, 0.9, 0.9]  # canvas (32, 4, 48, 36)
    out[0, 6] = [12, 40, 8, 16, 0.5, 0.4]  # canvas (8, 32, 16, 48)
    found = OnnxDetector(constant_model(tmp_path / "dec.onnx", output=out))(SMALL)
    np.testing.assert_allclose(found.boxes, [[24, 3, 36, 27], [6, 24, 12, 32]], atol=1e-4)
    np.testing.assert_allclose(found.scores, [0.81, 0.20], atol=1e-6)
    # told explicitly, the same numbers are read as raw offsets: different boxes
    raw = OnnxDetector(tmp_path / "dec.onnx", decoded=False, min_score=0.0)(SMALL)
    assert not np.allclose(raw.boxes[:1], found.boxes[:1])


@needs_onnx
def test_end_to_end_dets_and_labels(tmp_path):
    dets = np.array([[[20, 2, 36, 34, 0.9], [0, 0, 64, 64, 0.95], [8, 16, 24, 48, 0.3],
                      [1, 1, 5, 5, 0.05]]], np.float32)
    labels = np.array([[0, 2, 0, 0]], np.int64)  # the 0.95 box is not a person
    found = OnnxDetector(constant_model(tmp_path / "e2e.onnx", dets=dets, labels=labels),
                         preset="rtmdet")(SMALL)
    np.testing.assert_allclose(found.boxes, [[15, 1.5, 27, 25.5], [6, 12, 18, 32]], atol=1e-4)
    np.testing.assert_allclose(found.scores, [0.9, 0.3], atol=1e-6)
    # dets alone (single-class export): every box is a person
    alone = OnnxDetector(constant_model(tmp_path / "dets.onnx", dets=dets))(SMALL)
    assert len(alone) == 3 and alone.scores[0] == pytest.approx(0.95)


@needs_onnx
@pytest.mark.parametrize("preset, first, pad", [
    ("yolox", 30.0, 114.0),  # BGR, raw pixels
    ("bytetrack", (10 - 123.675) / 58.395, (114 - 123.675) / 58.395),  # RGB, ImageNet normalised
    ("rtmdet", (30 - 103.53) / 57.375, (114 - 103.53) / 57.375),  # BGR, mmdet normalised
])
def test_preprocess_presets(tmp_path, preset, first, pad):
    det = OnnxDetector(constant_model(tmp_path / "m.onnx", output=raw_head()[0]), preset=preset)
    image = np.zeros((32, 48, 3), np.uint8)
    image[:] = (10, 20, 30)  # RGB
    blob, r = det.preprocess(image)
    assert blob.shape == (1, 3, 64, 64) and blob.dtype == np.float32 and r == pytest.approx(4 / 3)
    np.testing.assert_allclose(blob[0, 0, :42], first, rtol=1e-5)
    np.testing.assert_allclose(blob[0, 0, 42:], pad, rtol=1e-5)


def random_yolox_model(path: Path, n_classes: int = 1, seed: int = 0) -> Path:
    """A tiny randomly initialised network with YOLOX's I/O: images (1,3,64,64) -> output (1,84,5+C).

    One strided conv per level (8, 16, 32), flattened row-major, levels concatenated,
    sigmoid on obj/cls as YOLOX's head does at inference.
    """
    rng = np.random.default_rng(seed)
    k = 5 + n_classes
    nodes, inits, levels = [], [], []
    for s in (8, 16, 32):
        inits.append(numpy_helper.from_array((rng.standard_normal((k, 3, s, s)) * 2e-4).astype(np.float32), f"w{s}"))
        nodes.append(helper.make_node("Conv", ["images", f"w{s}"], [f"c{s}"], kernel_shape=[s, s], strides=[s, s]))
        nodes.append(helper.make_node("Reshape", [f"c{s}", "flat"], [f"f{s}"]))
        levels.append(f"f{s}")
    inits += [numpy_helper.from_array(np.array([1, k, -1], np.int64), "flat"),
              numpy_helper.from_array(np.array([4], np.int64), "four"),
              numpy_helper.from_array(np.array([k], np.int64), "end"),
              numpy_helper.from_array(np.array([0], np.int64), "zero"),
              numpy_helper.from_array(np.array([2], np.int64), "axis")]
    nodes += [
        helper.make_node("Concat", levels, ["cat"], axis=2),
        helper.make_node("Transpose", ["cat"], ["pred"], perm=[0, 2, 1]),
        helper.make_node("Slice", ["pred", "zero", "four", "axis"], ["box"]),
        helper.make_node("Slice", ["pred", "four", "end", "axis"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["prob"]),
        helper.make_node("Concat", ["box", "prob"], ["output"], axis=2),
    ]
    out = helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, N64, k])
    return _save(path, nodes, [_image_input()], [out], inits)


@needs_onnx
def test_random_yolox_model_matches_a_reference_decoding(tmp_path):
    import onnxruntime as ort

    path = random_yolox_model(tmp_path / "random.onnx")
    det = OnnxDetector(path, min_score=0.0, nms_iou=1.0)  # keep everything: compare all 84
    image = np.random.default_rng(1).integers(0, 256, (48, 80, 3), np.uint8)
    found = det(image)
    # Reference: run the model by hand and decode with plain loops.
    blob, r = det.preprocess(image)
    raw = ort.InferenceSession(str(path)).run(None, {"images": blob})[0][0]
    ref, i = [], 0
    for s in (8, 16, 32):
        for gy in range(64 // s):
            for gx in range(64 // s):
                x, y, lw, lh, obj, cls = raw[i]
                cx, cy, w, h = (x + gx) * s, (y + gy) * s, math.exp(lw) * s, math.exp(lh) * s
                box = np.clip(np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2]) / r, 0, [80, 48, 80, 48])
                if box[2] > box[0] and box[3] > box[1]:  # boxes wholly in the padding vanish
                    ref.append((obj * cls, box))
                i += 1
    ref.sort(key=lambda t: -t[0])
    assert 20 < len(found) == len(ref)
    np.testing.assert_allclose(found.scores, [t[0] for t in ref], rtol=1e-5)
    np.testing.assert_allclose(found.boxes, [t[1] for t in ref], atol=1e-3)
    assert isinstance(found, Detections)


# --- bad model files -----------------------------------------------------------------------------

@needs_onnx
def test_missing_model_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        make_detector("yolox", tmp_path / "absent.onnx")


@needs_onnx
def test_corrupt_model_file(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"this is not a protobuf\x00\xff" * 10)
    with pytest.raises(InputError, match="not a readable ONNX model") as e:
        make_detector("yolox", bad)
    assert "\n" not in str(e.value)
    empty = tmp_path / "empty.onnx"
    empty.write_bytes(b"")
    with pytest.raises(InputError):
        make_detector("rtmdet", empty)


@needs_onnx
def test_wrong_input_shape(tmp_path):
    out = np.zeros((1, N64, 6), np.float32)
    path = _save(tmp_path / "gray.onnx", [helper.make_node("Constant", [], ["output"], value=numpy_helper.from_array(out))],
                 [_image_input((1, 1, 64, 64))], [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, N64, 6])])
    with pytest.raises(InputError, match=r"expected one image input \(1, 3, H, W\)"):
        OnnxDetector(path)


@needs_onnx
def test_wrong_output_shape(tmp_path):
    with pytest.raises(InputError, match="neither a YOLOX head"):
        OnnxDetector(constant_model(tmp_path / "cls.onnx", output=np.zeros((1, 10), np.float32)))
    with pytest.raises(InputError, match="neither a YOLOX head"):
        OnnxDetector(constant_model(tmp_path / "four.onnx", output=np.zeros((1, 84, 4), np.float32)))


@needs_onnx
def test_raw_head_that_fits_no_grid(tmp_path):
    det = OnnxDetector(constant_model(tmp_path / "n50.onnx", output=np.zeros((1, 50, 6), np.float32)))
    with pytest.raises(InputError, match="fit no YOLOX grid"):
        det(SMALL)


@needs_onnx
def test_person_class_outside_the_model(tmp_path):
    det = OnnxDetector(constant_model(tmp_path / "one.onnx", output=np.zeros((1, N64, 6), np.float32)),
                       person_class=3)
    with pytest.raises(InputError, match="person class 3"):
        det(SMALL)


@needs_onnx
def test_model_that_fails_to_run(tmp_path):
    shape = numpy_helper.from_array(np.array([1, 7, -1], np.int64), "shape")  # 3*64*64 is no multiple of 7
    # dynamic H, W: the loader cannot see the bad reshape, only running does
    path = _save(tmp_path / "broken.onnx", [helper.make_node("Reshape", ["images", "shape"], ["output"])],
                 [_image_input((1, 3, "h", "w"))], [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, "n", 6])],
                 [shape])
    det = OnnxDetector(path, input_size=(64, 64))
    assert det.input_size == (64, 64)
    with pytest.raises(InputError, match="the model failed") as e:
        det(SMALL)
    assert "\n" not in str(e.value)


def test_onnx_detector_without_onnxruntime(monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import fails as if not installed
    with pytest.raises(MocapError, match=r"pip install 'mocap\[onnx\]'") as e:
        make_detector("yolox", tmp_path / "any.onnx")
    assert e.value.exit_code == EXIT_USAGE


@needs_onnx
def test_command_line_loads_the_users_weights(tmp_path):
    """`--detector yolox --detector-weights FILE` reaches the ONNX detector: a model file
    is required, a corrupt one is refused naming it, a valid one runs."""
    import json
    import subprocess
    import sys

    def track(*args):  # the two-pass path: the tracks are the detector's boxes
        return subprocess.run([sys.executable, "-m", "mocap", "track", str(SAMPLES / "turn_jump.mp4"), "--end", "1",
                               "--out", str(tmp_path / "t.json"), "--progress", "none", "--backend",
                               "mediapipe-graph", *args],
                              capture_output=True, text=True, timeout=300)

    missing = track("--detector", "yolox")
    assert missing.returncode == 3 and "needs a model file" in missing.stderr
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    refused = track("--detector", "yolox", "--detector-weights", str(bad))
    assert refused.returncode == 3 and "bad.onnx" in refused.stderr and len(refused.stderr.splitlines()) == 1
    out = np.zeros((1, N64, 6), np.float32)
    out[0, 5] = [40, 20, 16, 32, 0.9, 0.9]  # the same box every frame: canvas (32, 4, 48, 36)
    model = constant_model(tmp_path / "still.onnx", output=out)
    ok = track("--detector", "yolox", "--detector-weights", str(model))
    assert ok.returncode == 0, ok.stderr
    (track,) = json.loads((tmp_path / "t.json").read_text())["tracks"]
    # The model's box (32, 4, 48, 36) on its 64 x 64 canvas, mapped back to the 640 x 480 frame.
    assert np.allclose(track["boxes"], [[320, 40, 480, 360]] * len(track["boxes"]))
