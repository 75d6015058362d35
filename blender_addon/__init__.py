# SPDX-License-Identifier: GPL-3.0-or-later
"""Video to Mocap: a sidebar panel that runs the mocap engine on a video in the background
and brings the animation in; File > Import > Mocap motion (.npz).

Operators and panels only: the work is in :mod:`.capture` (runs and imports),
:mod:`.armature` (armatures and actions) and :mod:`.engine` (the subprocess), which
the tests call without the UI.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import bpy
from bpy.props import BoolProperty, EnumProperty, FloatProperty, IntProperty, PointerProperty, StringProperty
from bpy_extras.io_utils import ImportHelper

from .capture import Capture, CaptureSettings, import_motion, retarget_file
from .engine import EngineError, check_engine
from .motion_io import MotionFileError, read_motion_npz

_capture: Capture | None = None  # the one run in progress
# The engine's plug-in choices, written from its registries by scripts/build_addon.py.
_CHOICES = json.loads((Path(__file__).parent / "choices.json").read_text(encoding="utf-8"))


def _engine(context) -> str:
    prefs = context.preferences.addons.get(__package__)
    return prefs.preferences.engine if prefs else ""


class MocapPreferences(bpy.types.AddonPreferences):
    bl_idname = __package__

    engine: StringProperty(
        name="Engine", subtype="FILE_PATH", default="",
        description="The mocap command, or a Python that has mocap installed; empty: mocap on the PATH")

    def draw(self, context):
        layout = self.layout
        layout.prop(self, "engine")
        layout.operator(MOCAP_OT_check_engine.bl_idname)
        for line in context.window_manager.mocap_check.splitlines():
            layout.label(text=line)


class MocapSettings(bpy.types.PropertyGroup):
    video: StringProperty(name="Video", subtype="FILE_PATH", description="The video to capture")
    backend: EnumProperty(name="Backend", items=[tuple(b) for b in _CHOICES["backends"]])
    people: EnumProperty(name="People", items=[
        ("all", "All", "Everyone in the video"), ("largest", "Largest", "The largest person only"),
        ("ids", "Track IDs", "The people with these ids (from `mocap track` or a preview)")])
    ids: StringProperty(name="IDs", default="1", description="Track ids, e.g. 1,3")
    target: EnumProperty(name="Target", items=[
        ("NEW", "New Armature", "A new SMPL armature per person"),
        ("SELECTED", "Selected Armature", "Retarget onto the selected armature (bones matched by name)")])
    smoothing: EnumProperty(name="Smoothing", default="standard", items=[
        (k, k.title(), "") for k in ("off", "light", "standard", "strong")])
    root_motion: EnumProperty(name="Root Motion", items=[
        ("performer", "Performer", "The root travels where the performer went"),
        ("drop-in", "Drop In", "Start at the origin facing the front"),
        ("in-place", "In Place", "No travel over the floor")])
    frame_start: IntProperty(name="Frame Start", default=1, description="Scene frame of the video's start")
    camera_background: BoolProperty(name="Video Camera", default=False,
                                     description="Add the video's camera with the video as its background")
    mesh: EnumProperty(name="Body Mesh", items=[
        ("none", "None", "Armatures only"),
        ("auto", "Auto", "The SMPL body of each person's shape if the engine has SMPL, else anny's"),
        ("smpl", "SMPL", "Each person's own SMPL shape (the engine needs the SMPL model)"),
        ("anny", "Anny", "A licence-free average adult body")])
    keep: StringProperty(name="Keep Motion", subtype="FILE_PATH", default="",
                         description="Also save the engine's motion (.npz) here, to re-import or convert later")

    def settings(self) -> CaptureSettings:
        return CaptureSettings(video=bpy.path.abspath(self.video), backend=self.backend,
                               people=self.ids if self.people == "ids" else self.people,
                               smoothing=self.smoothing, root_motion=self.root_motion, target=self.target,
                               frame_start=self.frame_start, camera_background=self.camera_background,
                               keep=bpy.path.abspath(self.keep) if self.keep else "", mesh=self.mesh)


class MOCAP_OT_run(bpy.types.Operator):
    """Capture the video's people with the mocap engine, in the background"""

    bl_idname = "mocap.run"
    bl_label = "Run"

    _timer = None

    def _start(self, context) -> bool:
        global _capture
        if _capture is not None:
            self.report({"ERROR"}, "a capture is already running")
            return False
        try:
            _capture = Capture(context, context.scene.mocap.settings(), _engine(context), context.active_object)
        except EngineError as exc:
            self.report({"ERROR"}, str(exc))
            return False
        return True

    def _end(self, context, state: str) -> set[str]:
        global _capture
        wm = context.window_manager
        wm.mocap_running, wm.mocap_stage = False, state.lower() if state != "FAILED" else _capture.message
        if state == "DONE":
            self.report({"INFO"}, f"mocap: {len(_capture.objects)} object(s) added")
        elif state == "FAILED":
            self.report({"ERROR"}, f"mocap: {_capture.message}")
        _capture = None
        return {"FINISHED"} if state == "DONE" else {"CANCELLED"}

    def _update(self, context) -> str:
        state = _capture.step()
        wm = context.window_manager
        wm.mocap_progress, wm.mocap_stage = _capture.job.fraction, _capture.job.stage
        return state

    def invoke(self, context, event):
        if not self._start(context):
            return {"CANCELLED"}
        context.window_manager.mocap_running = True
        self._timer = context.window_manager.event_timer_add(0.2, window=context.window)
        context.window_manager.modal_handler_add(self)
        return {"RUNNING_MODAL"}

    def modal(self, context, event):
        if event.type != "TIMER":
            return {"PASS_THROUGH"}
        if not context.window_manager.mocap_running and _capture.state == "RUNNING":
            _capture.cancel()  # Cancel was pressed
        state = self._update(context)
        for area in context.screen.areas if context.screen else []:
            area.tag_redraw()
        if state == "RUNNING":
            return {"PASS_THROUGH"}
        context.window_manager.event_timer_remove(self._timer)
        return self._end(context, state)

    def execute(self, context):
        """Without a window (scripts, tests): the same run, waited for."""
        if not self._start(context):
            return {"CANCELLED"}
        context.window_manager.mocap_running = True
        while (state := self._update(context)) == "RUNNING":
            time.sleep(0.1)
        return self._end(context, state)


class MOCAP_OT_cancel(bpy.types.Operator):
    """Stop the running capture; the scene stays as it was"""

    bl_idname = "mocap.cancel"
    bl_label = "Cancel"

    def execute(self, context):
        context.window_manager.mocap_running = False  # the modal run sees it and stops the engine
        if _capture is not None and not context.window:  # no modal loop to notice
            _capture.cancel()
        return {"FINISHED"}


class MOCAP_OT_check_engine(bpy.types.Operator):
    """Run the engine: its version, backends and model files"""

    bl_idname = "mocap.check_engine"
    bl_label = "Check"

    def execute(self, context):
        try:
            lines = check_engine(_engine(context))
        except EngineError as exc:
            context.window_manager.mocap_check = str(exc)
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        context.window_manager.mocap_check = "\n".join(lines)
        self.report({"INFO"}, lines[0] if lines else "mocap engine found")
        return {"FINISHED"}


class MOCAP_OT_import_npz(bpy.types.Operator, ImportHelper):
    """Import a motion written by `mocap run` (.npz)"""

    bl_idname = "mocap.import_npz"
    bl_label = "Import Mocap Motion"
    bl_options = {"REGISTER", "UNDO"}

    filename_ext = ".npz"
    filter_glob: StringProperty(default="*.npz", options={"HIDDEN"})
    frame_start: IntProperty(name="Frame Start", default=1, description="Scene frame of the video's start")
    onto_selected: BoolProperty(name="Onto Selected Armature", default=False,
                                description="Retarget onto the selected armature (uses the mocap engine)")

    def execute(self, context):
        armature = context.active_object if self.onto_selected else None
        if self.onto_selected and (armature is None or armature.type != "ARMATURE"):
            self.report({"ERROR"}, "select the armature to retarget onto")
            return {"CANCELLED"}
        try:
            motion = (retarget_file(_engine(context), self.filepath, armature) if armature
                      else read_motion_npz(self.filepath))
            objects = import_motion(context, motion, self.frame_start, onto=armature)
        except (MotionFileError, EngineError, ValueError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        self.report({"INFO"}, f"mocap: {len(motion.people)} person(s), {len(objects)} new object(s)")
        return {"FINISHED"}


class VIEW3D_PT_mocap(bpy.types.Panel):
    bl_label = "Video to Mocap"
    bl_space_type = "VIEW_3D"
    bl_region_type = "UI"
    bl_category = "Mocap"

    def draw(self, context):
        layout, settings, wm = self.layout, context.scene.mocap, context.window_manager
        column = layout.column()
        column.enabled = not wm.mocap_running
        column.prop(settings, "video")
        column.prop(settings, "backend")
        column.prop(settings, "people")
        if settings.people == "ids":
            column.prop(settings, "ids")
        column.prop(settings, "target")
        column.prop(settings, "smoothing")
        column.prop(settings, "root_motion")
        column.prop(settings, "frame_start")
        column.prop(settings, "mesh")
        column.prop(settings, "camera_background")
        column.prop(settings, "keep")
        if wm.mocap_running:
            layout.progress(factor=wm.mocap_progress, text=wm.mocap_stage)
            layout.operator(MOCAP_OT_cancel.bl_idname, icon="CANCEL")
        else:
            layout.operator(MOCAP_OT_run.bl_idname, icon="PLAY")
            if wm.mocap_stage:
                layout.label(text=wm.mocap_stage)


def _menu_import(self, context):
    self.layout.operator(MOCAP_OT_import_npz.bl_idname, text="Mocap motion (.npz)")


CLASSES = (MocapPreferences, MocapSettings, MOCAP_OT_run, MOCAP_OT_cancel, MOCAP_OT_check_engine,
           MOCAP_OT_import_npz, VIEW3D_PT_mocap)


def register():
    for cls in CLASSES:
        bpy.utils.register_class(cls)
    bpy.types.Scene.mocap = PointerProperty(type=MocapSettings)
    wm = bpy.types.WindowManager
    wm.mocap_running = BoolProperty(default=False)
    wm.mocap_progress = FloatProperty(default=0.0, min=0.0, max=1.0)
    wm.mocap_stage = StringProperty(default="")
    wm.mocap_check = StringProperty(default="")
    bpy.types.TOPBAR_MT_file_import.append(_menu_import)


def unregister():
    global _capture
    if _capture is not None:
        _capture.cancel()
        _capture = None
    bpy.types.TOPBAR_MT_file_import.remove(_menu_import)
    for name in ("mocap_running", "mocap_progress", "mocap_stage", "mocap_check"):
        delattr(bpy.types.WindowManager, name)
    del bpy.types.Scene.mocap
    for cls in reversed(CLASSES):
        bpy.utils.unregister_class(cls)
