"""What the panel's Run and the importer do, as plain functions and one small controller
(no UI; the operators only call these).

A capture writes the engine's motion ``.npz`` to a private temporary folder and
imports it only when the engine has finished: a failed or cancelled run adds
nothing to the scene, and the folder is removed either way.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .armature import C, animate, build_armature, key_frames, rig_json
from .engine import EngineError, Job, engine_command, run_arguments
from .motion_io import MotionFile, read_motion_npz


@dataclass
class CaptureSettings:
    """The panel's choices (see the add-on's README section in mocap's README).

    people: "all", "largest" or track ids "3,5"; target: "NEW" (an SMPL armature per
    person) or "SELECTED" (retarget onto ``armature``); frame_start: the scene frame of
    the video's first frame.
    """

    video: str
    backend: str = "mediapipe"
    people: str = "all"
    smoothing: str = "standard"
    root_motion: str = "performer"
    target: str = "NEW"
    frame_start: int = 1
    camera_background: bool = False
    keep: str = ""
    mesh: str = "none"


class Capture:
    """One run of the engine on a video, then its import. ``step()`` is called repeatedly
    (by the modal operator's timer, or by a loop in tests) until it is no longer running."""

    def __init__(self, context, settings: CaptureSettings, engine: str = "", armature=None):
        video = Path(settings.video)
        if not video.is_file():
            raise EngineError(f"{settings.video}: video not found")
        if settings.target == "SELECTED" and (armature is None or armature.type != "ARMATURE"):
            raise EngineError("select the armature to retarget onto (or choose a new armature)")
        self.settings, self.context, self.armature = settings, context, armature
        self.folder = Path(tempfile.mkdtemp(prefix="mocap-blender-"))
        self.motion_path = self.folder / "motion.npz"
        self.bodies_path = self.folder / "bodies.glb" if settings.mesh != "none" else None
        rig_file = None
        if settings.target == "SELECTED":
            rig_file = self.folder / "rig.json"
            rig_file.write_text(rig_json(armature), encoding="utf-8")
        argv = engine_command(engine) + run_arguments(
            str(video), str(self.motion_path), settings.backend, settings.people, settings.smoothing,
            settings.root_motion, str(rig_file) if rig_file else None,
            ["--out", str(self.bodies_path), "--mesh", settings.mesh] if self.bodies_path else None)
        self.state, self.message, self.objects = "RUNNING", "", []
        try:
            self.job = Job(argv).start()
        except EngineError:
            self._cleanup()
            raise

    def step(self) -> str:
        """Advance: "RUNNING", then "DONE" (the objects are in the scene) or "FAILED" (``message``)."""
        if self.state != "RUNNING" or not self.job.poll():
            return self.state
        if self.job.returncode != 0:
            self.state, self.message = "FAILED", self.job.error()
        else:
            try:
                motion = read_motion_npz(str(self.motion_path))
                if self.settings.keep:
                    shutil.copyfile(self.motion_path, self.settings.keep)
                self.objects = import_motion(self.context, motion, self.settings.frame_start,
                                             onto=self.armature if self.settings.target == "SELECTED" else None,
                                             video=self.settings.video if self.settings.camera_background else None,
                                             bodies=str(self.bodies_path) if self.bodies_path else None)
                self.state = "DONE"
            except Exception as exc:  # noqa: BLE001 - one line for the user, whatever went wrong
                self.state, self.message = "FAILED", f"import failed: {exc}"
        self._cleanup()
        return self.state

    def cancel(self) -> None:
        """Stop the engine; nothing is added to the scene."""
        if self.state == "RUNNING":
            self.job.cancel()
            self.state, self.message = "CANCELLED", "cancelled"
        self._cleanup()

    def _cleanup(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def import_motion(context, motion: MotionFile, frame_start: int = 1, onto=None, video: str | None = None,
                  bodies: str | None = None) -> list:
    """Put a motion file's people into the scene: one new armature ``person<ID>`` each, or
    (``onto``) the given armature for the first person and a copy of it for each other,
    each animated by a new action; the scene's frame rate becomes the motion's and its
    frame range covers every key. With ``video`` and a stored camera, a camera showing
    the video behind the scene; with ``bodies`` (a glTF the engine wrote with ``--mesh``
    in the same run), each person's body skinned to their armature. Returns the new objects."""
    scene = context.scene
    if not motion.people:
        raise ValueError("the motion file has no person")
    fps = motion.people[0].fps
    scene.render.fps = max(1, int(round(fps)))
    scene.render.fps_base = scene.render.fps / fps  # 29.97 = 30 / 1.001
    collection = scene.collection
    new, last, armatures = [], frame_start, {}
    for k, person in enumerate(motion.people):
        if onto is None:
            obj = build_armature(collection, f"person{person.track_id}", person)
            new.append(obj)
        elif k == 0:
            obj = onto
        else:
            obj = onto.copy()
            obj.data = onto.data.copy()
            obj.name = f"{onto.name}_person{person.track_id}"
            collection.objects.link(obj)
            new.append(obj)
        missing = [n for n in person.names if n not in obj.data.bones]
        if missing:
            raise ValueError(f"{obj.name} has no bone {missing[0]!r}")
        frames = key_frames(person, fps, frame_start)
        animate(obj, person, frames, name=f"person{person.track_id}_mocap")
        last = max(last, int(np.ceil(frames[-1])))
        armatures[person.track_id] = obj
    scene.frame_start, scene.frame_end = frame_start, last
    if bodies:
        new += attach_bodies(bodies, armatures)
    if video and motion.camera is not None:
        new.append(add_video_camera(context, motion.camera, video, frame_start))
    return new


def attach_bodies(path: str, armatures: dict) -> list:
    """The skinned bodies ``person<ID>_body`` of a glTF the engine wrote, moved onto our
    armatures (track id -> object; same skeleton, same rest pose): each keeps its place,
    its vertex groups lose the file's ``person<ID>:`` prefix and its Armature modifier
    points at our armature. Everything else the glTF importer made is removed. Returns
    the bodies."""
    import bpy

    objects, actions = set(bpy.data.objects), set(bpy.data.actions)
    result = bpy.ops.import_scene.gltf(filepath=str(path))
    if "FINISHED" not in result:
        raise ValueError(f"{path}: the bodies could not be imported")
    imported = [o for o in bpy.data.objects if o not in objects]
    bodies = []
    for obj in imported:
        name = obj.name.split(".")[0]
        if obj.type != "MESH" or not (name.startswith("person") and name.endswith("_body")):
            continue
        tid = name[len("person"):-len("_body")]
        arm = armatures.get(int(tid)) if tid.isdigit() else None
        if arm is None:
            continue
        world = obj.matrix_world.copy()
        obj.parent = arm
        obj.matrix_world = world
        for group in obj.vertex_groups:
            group.name = group.name.split(":", 1)[-1]
        for modifier in [m for m in obj.modifiers if m.type == "ARMATURE"]:
            obj.modifiers.remove(modifier)
        obj.modifiers.new("Armature", "ARMATURE").object = arm
        obj.name = f"{arm.name}_body"
        bodies.append(obj)
    for obj in imported:
        if obj not in bodies:
            bpy.data.objects.remove(obj, do_unlink=True)
    for action in [a for a in bpy.data.actions if a not in actions]:
        bpy.data.actions.remove(action)
    return bodies


def add_video_camera(context, camera: dict, video: str, frame_start: int = 1):
    """A camera where the video's camera was (OpenCV intrinsics and pose from the motion
    file), with the video as its background, starting at ``frame_start``. Returns it."""
    import bpy
    from mathutils import Matrix

    K, (width, height) = np.asarray(camera["K"]), camera["image_size"]
    data = bpy.data.cameras.new("mocap_camera")
    data.sensor_fit = "HORIZONTAL"
    data.sensor_width = 36.0
    data.lens = K[0, 0] * data.sensor_width / width
    size = max(width, height)  # Blender's shifts are in units of the larger side
    data.shift_x = (width / 2 - K[0, 2]) / size
    data.shift_y = (K[1, 2] - height / 2) / size
    obj = bpy.data.objects.new("mocap_camera", data)
    context.scene.collection.objects.link(obj)
    # OpenCV camera (x right, y down, z forward) -> Blender's (-z forward, y up), Y-up world -> Z-up.
    M = np.eye(4)
    M[:3, :3] = C
    M = M @ np.asarray(camera["world_from_camera"]) @ np.diag([1.0, -1.0, -1.0, 1.0])
    obj.matrix_world = Matrix(M.tolist())
    context.scene.render.resolution_x, context.scene.render.resolution_y = width, height
    clip = bpy.data.movieclips.load(str(video))
    clip.frame_start = frame_start
    background = data.background_images.new()
    background.source = "MOVIE_CLIP"
    background.clip = clip
    data.show_background_images = True
    context.scene.camera = obj
    return obj


def retarget_file(engine: str, motion_path: str, armature) -> MotionFile:
    """``motion_path`` retargeted onto ``armature`` by the engine (``mocap export --rig-file``,
    the armature described as a rig file), read back."""
    folder = Path(tempfile.mkdtemp(prefix="mocap-blender-"))
    try:
        rig = folder / "rig.json"
        rig.write_text(rig_json(armature), encoding="utf-8")
        out = folder / "retargeted.npz"
        argv = engine_command(engine) + ["export", str(motion_path), "--out", str(out), "--rig-file", str(rig)]
        proc = subprocess.run(argv, capture_output=True, text=True, encoding="utf-8", errors="replace", timeout=600)
        if proc.returncode != 0:
            raise EngineError((proc.stderr.strip().splitlines() or ["retargeting failed"])[-1])
        return read_motion_npz(str(out))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
