"""Plug-ins are declared in one place: a backend or format registered through the public
registries is offered and run by the command line like the built-in ones."""

import json
from pathlib import Path

import numpy as np
import pytest

from conftest import SAMPLES
from mocap.cli import main
from mocap.estimators import BACKENDS, Backend, Estimates
from mocap.formats import FORMATS, Format
from mocap.registry import Check, Registry


class StandingStill:
    """A throwaway estimator: everyone stands upright facing the camera, 3 m away."""

    name = "still"

    def __init__(self, skeleton):
        self.skeleton = skeleton

    def __call__(self, images, times, K, offsets=None):
        n, J = len(times), self.skeleton.num_joints
        rotations = np.tile(np.eye(3), (n, J, 1, 1))
        rotations[:, 0] = np.diag([1.0, -1.0, -1.0])  # upright, facing the camera
        return Estimates(np.asarray(times, float), rotations, np.tile([0.0, 0.0, 3.0], (n, 1)), np.ones(n),
                         np.zeros((n, J, 3)), np.zeros(10))

    def close(self):
        pass


def write_frame_counts(scene, path, up, units, meshes):
    """A throwaway format: each person's frame count and the file's frame, as JSON."""
    Path(path).write_text(json.dumps({"people": {str(t): m.num_frames for t, m in scene.motions.items()},
                                      "up": up, "units": units}))


@pytest.fixture
def plugins():
    BACKENDS.register("still", Backend("test: a person standing still", lambda sk, options, static=False,
                                       models=None: StandingStill(sk),
                                       checks=lambda: [Check("backend still", True, "always here")]))
    FORMATS.register("frames", Format((".frames",), "test: frame counts", write_frame_counts))
    yield
    BACKENDS.unregister("still")
    FORMATS.unregister("frames")


def test_registered_backend_and_format_run_from_the_command_line(plugins, tmp_path):
    out = tmp_path / "take.frames"
    code = main(["run", str(SAMPLES / "turn_jump.mp4"), "--backend", "still", "--detector", "none", "--end", "0.5",
                 "--out", str(out), "--progress", "none", "--target", "unreal"])
    assert code == 0
    written = json.loads(out.read_text())
    assert written == {"people": {"0": 15}, "up": "z", "units": "cm"}


def test_registered_plugins_are_in_help_choices_and_doctor(plugins, capsys):
    assert main(["run", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "[mediapipe|hmr2|mediapipe-graph|still]" in text and "still: test: a person standing still" in text
    assert ".frames (test: frame counts)" in text
    assert main(["doctor", "--json"]) in (0, 1)
    names = [c["name"] for c in json.loads(capsys.readouterr().out)]
    assert "backend still" in names and "backend mediapipe" in names


def test_unregistered_plugins_are_refused_by_name(tmp_path, capsys):
    code = main(["run", str(SAMPLES / "turn_jump.mp4"), "--backend", "still", "--out", str(tmp_path / "a.fbx")])
    assert code == 2 and "'still' is not one of 'mediapipe', 'hmr2', 'mediapipe-graph'" in capsys.readouterr().err
    code = main(["run", str(SAMPLES / "turn_jump.mp4"), "--out", str(tmp_path / "a.frames")])
    err = capsys.readouterr().err
    assert code != 0 and "unsupported output format ('.frames')" in err and ".usdc" in err
    assert not (tmp_path / "a.frames").exists()


def test_registry_refuses_a_second_plugin_of_a_name_and_lists_the_choices():
    registry = Registry("widget", "--widget")
    registry.register("a", 1)
    with pytest.raises(ValueError, match="already registered"):
        registry.register("a", 2)
    loaded = []
    lazy = Registry("gadget", load=lambda: loaded.append(lazy.register("b", 3)))
    assert not loaded and lazy.names() == ("b",) and lazy.get("b") == 3 and loaded == [3]
    later = Registry("gizmo", load=lambda: later.register("built-in", 1))
    later.register("plug-in", 2)  # the built-in ones keep their places ahead of plug-ins
    assert later.names() == ("built-in", "plug-in")
    with pytest.raises(Exception, match="--widget 'z': unknown widget \\(available: a\\)"):
        registry.get("z")
