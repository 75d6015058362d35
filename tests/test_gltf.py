"""glTF 2.0 export (.glb and .gltf), checked by Khronos' validator and Blender's importer."""

import numpy as np
import pytest

from mocap.export import export_scene
from mocap.motion import Scene
from readers import blender_import_gltf, gltf_validate
from test_export import synthetic_motion


@pytest.fixture(scope="module")
def two_people():
    # Two people, one starting later (key times are the video's, in seconds).
    return Scene({3: synthetic_motion(T=40, seed=1), 8: synthetic_motion(T=25, seed=2, t0=0.5)}, source="test.mp4")


@pytest.mark.parametrize("suffix", [".glb", ".gltf"])
def test_valid_and_reimported_by_blender_within_a_millimetre(tmp_path, two_people, suffix):
    path = tmp_path / f"anim{suffix}"
    assert export_scene(two_people, path) == [path]
    issues = gltf_validate(path)
    assert issues["numErrors"] == 0 and issues["numWarnings"] == 0, issues["messages"]
    armatures = blender_import_gltf(path)
    assert sorted(armatures) == ["person3", "person8"]
    for tid, motion in two_people.motions.items():
        anim = armatures[f"person{tid}"]
        assert len(anim.frames) == motion.num_frames
        # Blender turns seconds into frames at its scene rate (24 fps by default).
        np.testing.assert_allclose(anim.frames / anim.fps, motion.times, atol=1e-4)
        bones = [f"person{tid}:{n}" for n in motion.skeleton.names]
        error = np.linalg.norm(anim.of(bones) - motion.joint_positions(), axis=-1).max()
        assert error < 1e-3, f"person {tid}: joints differ by {error * 1000:.3f} mm"
