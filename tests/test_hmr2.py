"""HMR 2.0 in plain PyTorch: checkpoint layout and loading, 6D rotations, crops, camera."""

import os
import sys
import types
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mocap.camera import cam_crop_to_full  # noqa: E402
from mocap.errors import InputError  # noqa: E402
from mocap.estimators.hmr2 import preprocess as pp  # noqa: E402
from mocap.estimators.hmr2.checkpoint import read_state_dict  # noqa: E402
from mocap.estimators.hmr2.head import rot6d_to_matrix  # noqa: E402
from mocap.estimators.hmr2.model import HMR2, HMR2Config, load_hmr2  # noqa: E402

# --- the released layout ------------------------------------------------------------------------

# Names and shapes read off 4D-Humans' source (hmr2/models/backbones/vit.py, heads/smpl_head.py,
# components/pose_transformer.py) for the released config: ViT-H/16 at 256x192, 6-layer decoder.
OFFICIAL = {
    "backbone.patch_embed.proj.weight": (1280, 3, 16, 16),
    "backbone.pos_embed": (1, 193, 1280),
    "backbone.blocks.0.attn.qkv.weight": (3840, 1280),
    "backbone.blocks.0.attn.qkv.bias": (3840,),
    "backbone.blocks.31.mlp.fc2.weight": (1280, 5120),
    "backbone.blocks.31.norm2.bias": (1280,),
    "backbone.last_norm.weight": (1280,),
    "smpl_head.transformer.to_token_embedding.weight": (1024, 1),
    "smpl_head.transformer.pos_embedding": (1, 1, 1024),
    "smpl_head.transformer.transformer.layers.0.0.norm.weight": (1024,),
    "smpl_head.transformer.transformer.layers.0.0.fn.to_qkv.weight": (1536, 1024),
    "smpl_head.transformer.transformer.layers.0.0.fn.to_out.0.weight": (1024, 512),
    "smpl_head.transformer.transformer.layers.5.1.fn.to_kv.weight": (1024, 1280),
    "smpl_head.transformer.transformer.layers.5.1.fn.to_q.weight": (512, 1024),
    "smpl_head.transformer.transformer.layers.5.2.fn.net.0.weight": (1024, 1024),
    "smpl_head.transformer.transformer.layers.5.2.fn.net.3.bias": (1024,),
    "smpl_head.decpose.weight": (144, 1024),
    "smpl_head.decshape.weight": (10, 1024),
    "smpl_head.deccam.bias": (3,),
    "smpl_head.init_body_pose": (1, 144),
    "smpl_head.init_betas": (1, 10),
    "smpl_head.init_cam": (1, 3),
}


def test_full_size_network_has_the_released_names_and_shapes():
    with torch.device("meta"):  # no memory: shapes only
        state = HMR2().state_dict()
    for name, shape in OFFICIAL.items():
        assert tuple(state[name].shape) == shape, name
    assert sum(k.startswith("backbone.blocks.") and k.endswith("qkv.weight") for k in state) == 32
    n = sum(v.numel() for k, v in state.items() if k.startswith("backbone."))
    assert 630e6 < n < 635e6  # ViT-H: ~632 M parameters
    # One crop's forward pass, counted on the meta device: ~0.25 TFLOP (192 tokens through ViT-H).
    from torch.utils.flop_counter import FlopCounterMode

    with torch.device("meta"):
        model, x = HMR2(), torch.zeros(1, 3, 256, 256)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        out = model(x)
    assert out["rotations"].shape == (1, 24, 3, 3)
    assert 245e9 < counter.get_total_flops() < 255e9


def _fake_yacs():
    """A module ``yacs.config`` with a ``CfgNode`` of the real one's pickled shape, as in the
    released checkpoint's hyper_parameters: a dict subclass whose ``__dict__`` holds
    ``__immutable__``, ``__deprecated_keys__`` (a set: ``__builtin__.set`` in a protocol 2
    pickle), ``__renamed_keys__`` and ``__new_allowed__``; only for pickling here."""
    yacs, config = types.ModuleType("yacs"), types.ModuleType("yacs.config")

    class CfgNode(dict):
        def __init__(self, init_dict=None, **kw):
            super().__init__(init_dict or {}, **kw)
            self.__dict__["__immutable__"] = False
            self.__dict__["__deprecated_keys__"] = set()
            self.__dict__["__renamed_keys__"] = {"EXAMPLE.OLD.KEY": ("EXAMPLE.NEW.KEY", "a note")}
            self.__dict__["__new_allowed__"] = False

        def __getattr__(self, name):
            if name in self:
                return self[name]
            raise AttributeError(name)

    CfgNode.__module__, CfgNode.__qualname__ = "yacs.config", "CfgNode"
    config.CfgNode = CfgNode
    yacs.config = config
    return {"yacs": yacs, "yacs.config": config}, CfgNode


def smpl_buffers(seed=0) -> dict:
    """SMPL buffers as an smplx SMPL module holds them (synthetic: 6890 vertices, 24 joints)."""
    g = torch.Generator().manual_seed(seed)
    V = 6890
    regressor = torch.zeros(24, V)
    for j in range(24):
        regressor[j, torch.randperm(V, generator=g)[:10]] = 0.1
    return {"v_template": torch.randn(V, 3, generator=g) * 0.3, "shapedirs": torch.randn(V, 3, 10, generator=g) * 0.01,
            "J_regressor": regressor, "posedirs": torch.randn(207, V * 3, generator=g) * 0.01,
            "lbs_weights": torch.softmax(torch.randn(V, 24, generator=g), dim=1),
            "faces_tensor": torch.randint(0, V, (13776, 3), generator=g),
            "parents": torch.tensor([-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21])}


def lightning_checkpoint(path, model: HMR2, seed=0, smpl: dict | None = None, protocol=2):
    """Save ``model`` (randomised) the way Lightning saved the released file: the network under
    its names, SMPL buffers, a discriminator, training metadata with a yacs config object, in
    ``torch.save``'s default pickle protocol 2."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.state_dict().values():
            p.copy_(torch.randn(p.shape, generator=g) * 0.05)
        model.smpl_head.init_cam.copy_(torch.tensor([[0.9, 0.0, 0.0]]))  # the mean crop camera: body in front
    state = dict(model.state_dict())
    for k, v in (smpl or {"v_template": torch.randn(6890, 3, generator=g)}).items():
        state[f"smpl.{k}"] = v
    state["smpl.joint_map"] = torch.arange(25)
    state["discriminator.D_conv1.weight"] = torch.randn(32, 9, 1, 1, generator=g)
    state["discriminator.betas_out.bias"] = torch.zeros(1)
    state["initialized"] = torch.tensor(True)
    modules, CfgNode = _fake_yacs()
    sys.modules.update(modules)
    try:
        cfg = CfgNode(MODEL=CfgNode(IMAGE_SIZE=256), EXTRA=CfgNode(FOCAL_LENGTH=5000))
        torch.save({"epoch": 35, "global_step": 1000000, "pytorch-lightning_version": "2.0.0",
                    "state_dict": state, "hyper_parameters": {"cfg": cfg},
                    "optimizer_states": [{"state": {0: {"exp_avg": torch.zeros(3)}}, "param_groups": []}]}, path,
                   pickle_protocol=protocol)
    finally:
        for name in modules:
            sys.modules.pop(name, None)
    return path


def test_random_checkpoint_in_the_released_layout_loads_and_gives_identical_outputs(tmp_path):
    config = HMR2Config.tiny()
    original = HMR2(config).eval()
    path = lightning_checkpoint(tmp_path / "epoch=35-step=1000000.ckpt", original)
    loaded, body = load_hmr2(path, config)
    assert sorted(body) == ["joint_map", "v_template"]
    x = torch.randn(3, 3, 256, 256, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        a, b = original(x), loaded(x)
    for k in ("rotations", "betas", "cam"):
        assert torch.equal(a[k], b[k]), k
    assert a["rotations"].shape == (3, 24, 3, 3)
    # The backbone sees 256 x 192: a 16 x 12 token grid (patch 16, padding 2).
    with torch.no_grad():
        assert loaded.backbone(x[:, :, :, 32:-32]).shape == (3, 160, 16, 12)
    # Without a config, the size is read off the weights.
    assert load_hmr2(path)[0].config == config


@pytest.mark.parametrize("protocol", [2, 4])
def test_released_config_pickled_with_python2_names_loads(tmp_path, protocol):
    """The yacs config's set is pickled as ``__builtin__.set`` in protocol 2: read as Python 3's
    ``builtins.set`` (allowed), as pickle itself maps it, not refused."""
    import zipfile

    model = HMR2(HMR2Config.tiny())
    path = lightning_checkpoint(tmp_path / "released.ckpt", model, protocol=protocol)
    with zipfile.ZipFile(path) as z:
        pickled = z.read(next(n for n in z.namelist() if n.endswith("data.pkl")))
    assert (b"__builtin__\nset" in pickled) == (protocol == 2) and b"yacs.config" in pickled
    state = read_state_dict(path)
    assert torch.equal(state["smpl_head.deccam.bias"], model.state_dict()["smpl_head.deccam.bias"])


def test_python2_names_of_code_are_still_refused(tmp_path):
    """Mapping Python 2 names does not open a way around the allow-list."""
    import pickle

    class Call:
        def __init__(self, func, arg):
            self.func, self.arg = func, arg

        def __reduce__(self):
            return self.func, (self.arg,)

    for func, name in ((eval, "eval"), (getattr(__import__("os"), "system"), "system")):
        path = tmp_path / f"{name}.ckpt"
        path.write_bytes(pickle.dumps({"state_dict": Call(func, "1")}, protocol=2))
        with pytest.raises(InputError, match="refused|would run code"):
            read_state_dict(path)
        torch.save({"state_dict": {"w": torch.zeros(1)}, "x": Call(func, "1")}, path, pickle_protocol=2)
        with pytest.raises(InputError, match=f"would run code.*{name}"):
            read_state_dict(path)


def test_checkpoint_of_another_size_is_refused_naming_the_problem(tmp_path):
    path = lightning_checkpoint(tmp_path / "small.ckpt", HMR2(HMR2Config.tiny()))
    bigger = HMR2Config(width=64, depth=3, heads=4, head_dim=32, head_depth=2, head_heads=2, head_dim_head=16,
                        head_mlp=64)
    with pytest.raises(InputError, match="missing backbone.blocks.2"):
        load_hmr2(path, bigger)


def test_checkpoint_that_would_run_code_is_refused(tmp_path):
    from test_body_model import _Exploit

    evil = _Exploit()
    evil.target = tmp_path / "pwned"
    path = tmp_path / "evil.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "payload": evil}, path)
    with pytest.raises(InputError, match="would run code.*system"):
        read_state_dict(path)
    assert not (tmp_path / "pwned").exists()
    (tmp_path / "cut.ckpt").write_bytes(path.read_bytes()[:100])
    with pytest.raises(InputError, match="cut.ckpt: not a readable PyTorch checkpoint"):
        read_state_dict(tmp_path / "cut.ckpt")


# --- 6D rotations ----------------------------------------------------------------------------------


def test_6d_is_two_contiguous_columns_made_orthonormal():
    x = torch.tensor([[1.0, 0, 0, 0, 1, 0],  # identity
                      [2.0, 0, 0, 1, 1, 0],  # scaled and skewed: Gram-Schmidt gives identity
                      [0.0, 1, 0, -1, 0, 0]])  # columns e_y, -e_x: 90 degrees about z
    R = rot6d_to_matrix(x)
    assert torch.allclose(R[0], torch.eye(3)) and torch.allclose(R[1], torch.eye(3))
    assert torch.allclose(R[2], torch.tensor([[0.0, -1, 0], [1, 0, 0], [0, 0, 1]]))
    r = rot6d_to_matrix(torch.randn(100, 6, generator=torch.Generator().manual_seed(0)))
    assert torch.allclose(r @ r.transpose(1, 2), torch.eye(3).expand(100, 3, 3), atol=1e-5)
    assert torch.allclose(torch.linalg.det(r), torch.ones(100), atol=1e-5)


# --- crops -------------------------------------------------------------------------------------------


def test_crop_square_grows_the_box_to_192_by_256():
    centre, size = pp.crop_square(np.array([100, 100, 148, 164]))  # 48 x 64: already 3:4
    assert np.allclose(centre, [124, 132]) and size == 64
    _, size = pp.crop_square(np.array([0, 0, 30, 80]))  # thin: width grows to 60, side 80
    assert size == 80
    _, size = pp.crop_square(np.array([0, 0, 90, 80]))  # wide: height grows to 120
    assert size == 120
    M = pp.crop_matrix(np.array([124.0, 132.0]), 64)
    assert np.allclose(M @ [124, 132, 1], [128, 128]) and np.allclose(M @ [92, 100, 1], [0, 0])


def test_blur_only_when_downscaling_more_than_2_2_times():
    assert pp.blur_sigma(256 * 2.2) == 0 and pp.blur_sigma(500) == 0
    assert pp.blur_sigma(1024) == pytest.approx(0.5)  # factor 2: sigma (2 - 1) / 2
    assert pp.blur_sigma(2048) == pytest.approx(1.5)


def test_crop_values_are_imagenet_normalised():
    image = np.zeros((300, 400, 3), np.uint8)
    image[:] = (200, 100, 50)
    crop, centre, size = pp.make_crop(image, np.array([150, 100, 210, 180]))
    assert crop.shape == (3, 256, 256) and crop.dtype == np.float32
    expected = [(200 - 123.675) / 58.395, (100 - 116.28) / 57.12, (50 - 103.53) / 57.375]
    assert np.allclose(crop[:, 128, 128], expected, atol=1e-5)


def test_local_blur_equals_blurring_the_whole_image():
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (1200, 1600, 3), dtype=np.uint8)
    box = np.array([20.0, 100.0, 820.0, 1150.0])  # side 1400: factor 2.7, sigma 0.87; near the edge
    crop, centre, size = pp.make_crop(image, box)
    sigma = pp.blur_sigma(size)
    assert sigma > 0
    whole = gaussian_filter(image.astype(np.float64), sigma=(sigma, sigma, 0), mode="nearest", truncate=4.0)
    import cv2

    patch = cv2.warpAffine(whole, pp.crop_matrix(centre, size), (256, 256), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    reference = ((patch - pp.MEAN) / pp.STD).transpose(2, 0, 1)
    assert np.abs(crop - reference).max() < 1e-4


def _boxes_around_and_beyond(W, H):
    """xyxy float boxes: inside the frame, touching its edges, reaching past them, small
    (no blur) and large (blurred), never on whole pixels."""
    return [np.array(b) + 0.37 for b in (
        [200, 150, 260, 300],          # small, inside: no blur
        [-30, 40, 50, 260],            # past the left edge
        [W - 70, H - 200, W + 25, H + 40],  # past the bottom-right corner
        [100, 80, 560, 1150],          # large: blurred (side ~1070, sigma ~1.6)
        [-400, -300, 900, 1300],       # larger than the frame: blurred, black around
        [0, 0, W - 1, H - 1],          # the whole frame
        [W - 300, 10, W - 1.4, 1180],  # tall, on the right edge: blurred
    )]


@pytest.mark.parametrize("seed", [0, 1])
def test_pipeline_crops_equal_crops_from_the_whole_frame(seed):
    """What the pipeline cuts for hmr2 (the frame pixels the crop reads, clipped, never padded)
    plus the float box give exactly the crop 4D-Humans makes from the whole frame."""
    from mocap.crop import cut
    from mocap.estimators import CROPS

    rng = np.random.default_rng(seed)
    H, W = 1200, 900
    frame = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    blurred = 0
    for box in _boxes_around_and_beyond(W, H):
        window = CROPS["hmr2"].window(box, frame.shape)
        part = cut(frame, window)
        assert part.shape[:2] == (window[3], window[2]) and part.shape[0] <= H and part.shape[1] <= W
        got, centre, size = pp.make_crop(part, box, origin=window[:2])
        want, centre_w, size_w = pp.make_crop(frame, box)
        assert np.array_equal(got, want), box
        assert np.array_equal(centre, centre_w) and size == size_w
        blurred += pp.blur_sigma(size) > 0
    assert 0 < blurred < len(_boxes_around_and_beyond(W, H))


def test_crop_from_the_whole_frame_is_4d_humans_warp_of_the_float_box():
    """make_crop on the whole frame: the float box (not rounded), black beyond the frame, real
    neighbours (not padding) beside the crop."""
    import cv2

    rng = np.random.default_rng(3)
    frame = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    box = np.array([-20.3, 100.6, 140.2, 330.9])  # side 230: no blur; 20 px past the left edge
    crop, centre, size = pp.make_crop(frame, box)
    patch = cv2.warpAffine(frame, pp.crop_matrix(centre, size), (256, 256), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    reference = ((patch.astype(np.float64) - pp.MEAN) / pp.STD).transpose(2, 0, 1)
    assert np.abs(crop - reference).max() <= 1.01 / 57  # at most one grey level (bilinear rounding)
    assert np.mean(np.abs(crop - reference) > 1e-5) < 1e-3
    assert np.allclose(centre, [(box[0] + box[2]) / 2, (box[1] + box[3]) / 2]) and size == pytest.approx(230.3)


def test_estimator_given_boxes_sees_the_whole_frame_crops(tmp_path, monkeypatch):
    """HMR2Estimator.estimate_people with boxes: the network gets make_crop of the whole frame."""
    from mocap.crop import cut
    from mocap.estimators import CROPS
    from mocap.estimators.hmr2.estimator import HMR2Estimator
    from mocap.skeleton import neutral_skeleton

    path = lightning_checkpoint(tmp_path / "r.ckpt", HMR2(HMR2Config.tiny()))
    est = HMR2Estimator(neutral_skeleton(), checkpoint=path, device="cpu", batch_size=4)
    seen = []
    predict = est.predict
    monkeypatch.setattr(est, "predict", lambda crops: (seen.append(crops), predict(crops))[1])
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (720, 1280, 3), dtype=np.uint8) for _ in range(3)]
    boxes = np.array([[-15.2, 30.7, 180.4, 600.1], [1100.6, 200.2, 1290.3, 719.5], [400.5, 100.5, 700.5, 700.5]])
    windows = [CROPS["hmr2"].window(b, f.shape) for f, b in zip(frames, boxes)]
    group = ([cut(f, w) for f, w in zip(frames, windows)], np.arange(3) / 30, np.array([w[:2] for w in windows]),
             boxes)
    K = np.array([[1000.0, 0, 640], [0, 1000, 360], [0, 0, 1]])
    est.estimate_people({7: group}, K)
    (crops,) = seen
    for crop, frame, box in zip(crops, frames, boxes):
        assert np.array_equal(crop, pp.make_crop(frame, box)[0])


# --- camera --------------------------------------------------------------------------------------------


def test_cam_crop_to_full_by_hand():
    K = np.array([[1000.0, 0, 320], [0, 1000, 240], [0, 0, 1]])
    # A crop of 200 px centred on the principal point, body spanning it (s = 1): depth 2f/(200 s) = 10 m.
    t = cam_crop_to_full(np.array([[1.0, 0.1, -0.2]]), np.array([[320.0, 240.0]]), np.array([200.0]), K)
    assert np.allclose(t, [[0.1, -0.2, 10.0]])
    # Moved 100 px right of the principal point: x = 2 * 100 / 200 = 1 m at that depth (100 px at f 1000, 10 m).
    t = cam_crop_to_full(np.array([[1.0, 0.0, 0.0]]), np.array([[420.0, 240.0]]), np.array([200.0]), K)
    assert np.allclose(t, [[1.0, 0.0, 10.0]])


# --- end to end ------------------------------------------------------------------------------------


def test_run_with_a_random_network_writes_a_valid_fbx(tmp_path):
    """`mocap run --backend hmr2` through the command line with a random network in the released
    layout: the whole path runs (accuracy needs the real weights, see the README)."""
    import subprocess

    from conftest import SAMPLES
    from readers import blender_import_fbx

    model = HMR2(HMR2Config.tiny())
    path = lightning_checkpoint(tmp_path / "random.ckpt", model)
    out = tmp_path / "anim.fbx"
    proc = subprocess.run([sys.executable, "-m", "mocap", "run", str(SAMPLES / "turn_jump.mp4"), "--end", "1.5",
                           "--backend", "hmr2", "--checkpoint", str(path), "--device", "cpu", "--batch-size", "4",
                           "--out", str(out), "--progress", "none"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    (anim,) = blender_import_fbx(out).values()
    assert len(anim.names) == 24 and len(anim.frames) == 45
    assert np.all(np.isfinite(anim.positions))


def test_released_tarball_imported_then_run_on_the_sample(tmp_path):
    """`mocap models import` of hmr2_data.tar.gz whose checkpoint carries the yacs config as
    Lightning pickles it (protocol 2), then `mocap run --backend hmr2` finding it in the cache:
    a random reduced-size network, detector boxes, crops from the whole frame, an animation."""
    import subprocess

    from conftest import SAMPLES
    from test_models import CKPT, _mocap, make_tarball

    ckpt = lightning_checkpoint(tmp_path / "released.ckpt", HMR2(HMR2Config.tiny()))
    home = tmp_path / "home"
    proc = _mocap(home, "models", "import", str(make_tarball(tmp_path / "hmr2_data.tar.gz", ckpt.read_bytes())))
    assert proc.returncode == 0, proc.stderr
    assert (home / ".cache" / "4DHumans" / CKPT).read_bytes() == ckpt.read_bytes()
    out = tmp_path / "anim.npz"
    proc = _mocap(home, "run", str(SAMPLES / "turn_jump.mp4"), "--end", "1.2", "--backend", "hmr2", "--device",
                  "cpu", "--batch-size", "8", "--out", str(out), "--progress", "none", "--min-seconds", "0.5")
    assert proc.returncode == 0, proc.stderr
    with np.load(out) as npz:
        assert npz["poses"].shape[1] == 72 and len(npz["poses"]) >= 30
        assert np.all(np.isfinite(npz["poses"])) and np.all(np.isfinite(npz["trans"]))


def test_missing_checkpoint_says_where_it_looked(tmp_path):
    import subprocess

    from conftest import SAMPLES

    env = dict(os.environ, HOME=str(tmp_path))
    proc = subprocess.run([sys.executable, "-m", "mocap", "run", str(SAMPLES / "turn_jump.mp4"), "--backend", "hmr2",
                           "--detector", "none", "--out", str(tmp_path / "a.fbx")],
                          capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 3
    (line,) = proc.stderr.strip().splitlines()
    assert "4DHumans" in line and "mocap models import" in line
    assert not (tmp_path / "a.fbx").exists()


def test_shaped_skeleton_from_the_checkpoints_smpl(tmp_path):
    """With SMPL in the checkpoint, each person's skeleton is the SMPL skeleton of their shape."""
    from conftest import SAMPLES
    from mocap.body_model import from_buffers
    from mocap.pipeline import RunOptions, capture
    from mocap.skeleton import neutral_skeleton, skeleton_for_body

    buffers = smpl_buffers()
    path = lightning_checkpoint(tmp_path / "with_smpl.ckpt", HMR2(HMR2Config.tiny()), smpl=buffers)
    scene = capture(SAMPLES / "turn_jump.mp4", RunOptions(backend="hmr2", checkpoint=str(path), device="cpu",
                                                           detector="none", end=0.5, workers=1))
    (motion,) = scene.motions.values()
    assert np.any(motion.betas)
    body = from_buffers(buffers)
    expected = skeleton_for_body(motion.betas, body)
    np.testing.assert_allclose(motion.skeleton.rest_offsets, expected.rest_offsets, atol=1e-9)
    assert not np.allclose(motion.skeleton.rest_offsets, neutral_skeleton().rest_offsets, atol=1e-3)
    # The rest joints are J_regressor (v_template + shapedirs betas), chained by the SMPL parents.
    joints = body["J_regressor"] @ (body["v_template"] + body["shapedirs"] @ motion.betas)
    np.testing.assert_allclose(motion.skeleton.rest_positions(), joints, atol=1e-9)


def test_people_share_network_batches_and_get_their_own_results(tmp_path):
    """Two people's crops in one batch give the same estimates as each on their own."""
    from mocap.estimators.hmr2.estimator import HMR2Estimator
    from mocap.skeleton import neutral_skeleton

    path = lightning_checkpoint(tmp_path / "r.ckpt", HMR2(HMR2Config.tiny()))
    est = HMR2Estimator(neutral_skeleton(), checkpoint=path, device="cpu", batch_size=3)
    rng = np.random.default_rng(0)
    K = np.array([[500.0, 0, 320], [0, 500, 240], [0, 0, 1]])
    a = ([rng.integers(0, 255, (128, 96, 3), np.uint8) for _ in range(4)], np.arange(4) / 30, np.zeros((4, 2)))
    b = ([rng.integers(0, 255, (200, 150, 3), np.uint8) for _ in range(2)], np.arange(2) / 30, np.full((2, 2), 50.0))
    both = est.estimate_people({1: a, 2: b}, K)
    alone = {1: est(*a[:2], K, a[2]), 2: est(*b[:2], K, b[2])}
    for tid in (1, 2):
        np.testing.assert_allclose(both[tid].rotations, alone[tid].rotations, atol=1e-5)
        np.testing.assert_allclose(both[tid].root_camera, alone[tid].root_camera, atol=1e-5)
        np.testing.assert_allclose(both[tid].betas, alone[tid].betas, atol=1e-5)
    assert not np.allclose(both[1].betas, both[2].betas)


def test_several_people_through_the_hmr2_backend(tmp_path):
    from conftest import SAMPLES
    from mocap.pipeline import RunOptions, capture

    path = lightning_checkpoint(tmp_path / "r.ckpt", HMR2(HMR2Config.tiny()))
    scene = capture(SAMPLES / "crowd.mp4", RunOptions(backend="hmr2", checkpoint=str(path), device="cpu",
                                                        batch_size=8, end=2.0))
    assert len(scene.motions) == 3
    for motion in scene.motions.values():
        assert motion.num_frames >= 45 and np.all(np.isfinite(motion.translation))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_bf16_rotations_within_a_degree_of_fp32(tmp_path):
    from mocap.estimators.hmr2.estimator import HMR2Estimator
    from mocap.skeleton import neutral_skeleton

    path = lightning_checkpoint(tmp_path / "r.ckpt", HMR2(HMR2Config.tiny()))
    crops = np.random.default_rng(0).normal(size=(16, 3, 256, 256)).astype(np.float32)
    fp32 = HMR2Estimator(neutral_skeleton(), path, device="cuda", precision="fp32").predict(crops)
    bf16 = HMR2Estimator(neutral_skeleton(), path, device="cuda", precision="bf16").predict(crops)
    rel = np.swapaxes(fp32["rotations"], -1, -2) @ bf16["rotations"]
    angle = np.degrees(np.arccos(np.clip((np.trace(rel, axis1=-2, axis2=-1) - 1) / 2, -1, 1)))
    assert angle.max() < 1.0


def test_speed_benchmark_runs_and_reports_every_variant(tmp_path):
    """scripts/bench_hmr2.py (the GPU benchmark) on the tiny network on the CPU: the report has the
    baseline, each variant, the best one, MFU and the bf16-vs-fp32 rotation difference."""
    import json
    import subprocess

    report = tmp_path / "bench.json"
    bench = Path(__file__).resolve().parents[1] / "scripts" / "bench_hmr2.py"
    proc = subprocess.run([sys.executable, str(bench), "--tiny", "--device", "cpu", "--crops", "16",
                           "--batch-sizes", "8,16", "--json", str(report)], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(report.read_text())
    assert [v["variant"] for v in got["variants"]] == ["bf16 eager b8", "bf16 eager b16"]
    assert got["best"] in {"bf16 eager b8", "bf16 eager b16"} and got["baseline_crops_per_s"] > 0
    assert 0 < got["ours_mfu"] < 1 and got["gflop_per_crop"] > 0
    assert 0 <= got["max_rotation_diff_bf16_vs_fp32_deg"] < 5
