"""MaskEditor: the photo with its mask as a colour overlay and the editing tools, a view of the session's current
image.

The masks and their undo stacks belong to the `AnnotationSession` (gui/session.py); the editor draws the current
image, turns mouse and keys into `core.edits` calls through the tools, and commits each finished gesture to the
session. When the session has no current image (it is loading, or cannot be read) the canvas is empty and
editing is off, so a stroke can never land on an image other than the selected one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QKeyEvent, QPen, QUndoGroup
from PySide6.QtWidgets import QGraphicsEllipseItem, QGraphicsScene, QVBoxLayout, QWidget

from ...core.classes import ClassSet
from ...core.edits import BBox, Edit
from .assist_tools import ASSIST_TOOL_TYPES
from .overlay import ArrayImageItem, MaskOverlay
from .tools import TOOL_TYPES, Tool, to_pixel
from .view import EditorView

if TYPE_CHECKING:
    from ..session import AnnotationSession

MAX_BRUSH = 256  # radius in image pixels


class MaskEditor(QWidget):
    """Paint, fill and correct the session's current image; see the module docstring for ownership."""

    currentClassChanged = Signal(int)
    statusMessage = Signal(str)
    classesChanged = Signal(object)  # ClassSet
    toolChanged = Signal(str)
    brushSizeChanged = Signal(int)
    overlayVisibleChanged = Signal(bool)

    def __init__(self, session: AnnotationSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        if session.parent() is None:
            # A parentless session would be freed by Python's garbage collector, which can run on any thread:
            # its autosave timer, killed from the wrong thread, then fires into freed memory. The editor's
            # widget tree is always deleted on the GUI thread.
            session.setParent(self)
        self.session = session
        self._key: str | None = None  # the key shown, None when the canvas is empty
        self._shown_size: tuple[int, int] | None = None
        self._reference: np.ndarray | None = None
        self._classes = session.classes()
        self._class = 1
        self._brush = 8
        self._tolerance = 24
        self._lock: int | None = None
        self._iterations = 3
        self._opacity = 0.5
        self._overlay_visible = True
        self._last_hover: tuple[int, int] | None = None
        self._hovering = False

        self._scene = QGraphicsScene(self)
        self.view = EditorView(self._scene, self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        self.setFocusProxy(self.view)

        self._photo: ArrayImageItem | None = None
        self._overlay: MaskOverlay | None = None
        self._cursor = QGraphicsEllipseItem()
        pen = QPen(QColor(255, 255, 255), 1.0)
        pen.setCosmetic(True)
        self._cursor.setPen(pen)
        self._cursor.setZValue(20)
        self._cursor.setVisible(False)
        self._scene.addItem(self._cursor)

        self._tools: dict[str, Tool] = {t.name: t(self) for t in TOOL_TYPES + ASSIST_TOOL_TYPES}
        self._tool = self._tools["brush"]
        self._previous_tool = self._tool

        self.view.pressed.connect(self._on_press)
        self.view.moved.connect(self._on_move)
        self.view.released.connect(self._on_release)
        self.view.doubleClicked.connect(self._on_double_click)
        self.view.left.connect(self._on_leave)
        session.currentAboutToChange.connect(self._finish_gesture)
        session.currentChanged.connect(self._show_current)
        session.maskChanged.connect(self._on_mask_changed)
        session.classesChanged.connect(self.set_classes)
        self._show_current(session.current_key())

    # the session's current image ----------------------------------------------------------------------------
    def _finish_gesture(self) -> None:
        """The current image is about to change: an unfinished gesture still belongs to the old one."""
        self._tool.finish()
        self._tool.cancel()

    def _show_current(self, key: str | None) -> None:
        """Draw the session's current image, or empty the canvas and switch editing off when there is none."""
        self._finish_gesture()
        self._key, self._reference = key, None
        if key is None:
            self._clear_scene()
            self._update_cursor(None)
            return
        image = self.session.image()
        self._rebuild_scene(image, self.session.mask(key))
        if self._shown_size != image.shape[:2]:
            self._shown_size = image.shape[:2]
            self.fit_to_window()
        self._keep_class_valid()

    def _on_mask_changed(self, key: str, bbox: BBox) -> None:
        if key == self._key and self._overlay is not None:
            self.show_patch(bbox)

    def current_key(self) -> str | None:
        """The key whose image the canvas shows (None: empty canvas, nothing editable)."""
        return self._key

    def editable(self) -> bool:
        return self._key is not None

    def set_reference_mask(self, mask: np.ndarray | None) -> None:
        """The prediction for the shown image, the prediction brush's source; reset by every image change."""
        image = self.session.image() if self._key is not None else None
        if mask is not None and (image is None or mask.shape != image.shape[:2]):
            raise ValueError("the reference mask must have the size of the shown image")
        self._reference = None if mask is None else np.asarray(mask, dtype=np.uint8)

    # classes ----------------------------------------------------------------------------------------------
    def set_classes(self, classes: ClassSet) -> None:
        self._classes = classes
        if self._overlay is not None:
            self._overlay.set_classes(classes)
        self.classesChanged.emit(classes)
        self._keep_class_valid()

    def classes(self) -> ClassSet:
        return self._classes

    def set_current_class(self, index: int) -> None:
        index = int(index)
        if index == self._class:
            return
        self._class = index
        self.currentClassChanged.emit(index)
        self.status(f"Painting with {self._classes.name_of(index)}")  # no number: keys count rows, not indices

    def current_class(self) -> int:
        return self._class

    def eraser_value(self) -> int:
        """The eraser marks pixels unlabelled: the ignore index when the classes have one, else 0."""
        ignore = self._classes.ignore_index
        return 0 if ignore is None else ignore

    def _keep_class_valid(self) -> None:
        valid = sorted(self._classes.valid_values)
        if valid and self._class not in valid:
            self.set_current_class(1 if 1 in valid else valid[0])

    # tool settings (ToolOptions drives these) ---------------------------------------------------------------
    def set_tool(self, name: str) -> None:
        tool = self._tools[name]
        if tool is self._tool:
            return
        self._tool.finish()
        self._tool.cancel()
        self._previous_tool, self._tool = self._tool, tool
        self._update_cursor(None)
        self.toolChanged.emit(name)

    def tool(self) -> str:
        return self._tool.name

    def restore_previous_tool(self) -> None:
        self.set_tool(self._previous_tool.name)

    def set_brush_size(self, radius: int) -> None:
        radius = min(max(int(radius), 0), MAX_BRUSH)
        if radius != self._brush:
            self._brush = radius
            self._update_cursor(None)
            self.brushSizeChanged.emit(radius)

    def brush_size(self) -> int:
        return self._brush

    def set_tolerance(self, tolerance: int) -> None:
        self._tolerance = int(tolerance)

    def tolerance(self) -> int:
        return self._tolerance

    def set_lock_class(self, index: int | None) -> None:
        self._lock = index

    def lock_class(self) -> int | None:
        return self._lock

    def set_grabcut_iterations(self, iterations: int) -> None:
        self._iterations = max(int(iterations), 1)

    def grabcut_iterations(self) -> int:
        return self._iterations

    def set_overlay_opacity(self, opacity: float) -> None:
        self._opacity = min(max(float(opacity), 0.0), 1.0)
        if self._overlay is not None:
            self._overlay.setOpacity(self._opacity)

    def set_overlay_visible(self, visible: bool) -> None:
        if visible == self._overlay_visible:
            return
        self._overlay_visible = visible
        if self._overlay is not None:
            self._overlay.setVisible(visible)
        self.overlayVisibleChanged.emit(visible)

    def overlay_visible(self) -> bool:
        return self._overlay_visible

    def toggle_overlay(self) -> None:
        self.set_overlay_visible(not self._overlay_visible)

    # view -------------------------------------------------------------------------------------------------
    def fit_to_window(self) -> None:
        self.view.fit_to_window()

    def zoom_in(self) -> None:
        self.view.zoom_by(1.25)

    def zoom_out(self) -> None:
        self.view.zoom_by(1 / 1.25)

    # undo -------------------------------------------------------------------------------------------------
    def undo_group(self) -> QUndoGroup:
        return self.session.undo_group

    def undo(self) -> None:
        """Undo on the current image, committing an unfinished gesture first so it is what gets undone."""
        self._tool.finish()
        self.session.undo()

    def redo(self) -> None:
        self._tool.finish()
        self.session.redo()

    # ToolHost: what the tools call ------------------------------------------------------------------------
    def live_mask(self) -> np.ndarray:
        return self.session.live_mask()

    def image(self) -> np.ndarray:
        return self.session.image()

    def reference_mask(self) -> np.ndarray | None:
        return self._reference

    def show_patch(self, bbox: BBox) -> None:
        self._overlay.update_rect(bbox)

    def commit(self, text: str, edit: Edit | None) -> None:
        """Push an already applied edit to the session as one undo step (it repaints through maskChanged)."""
        self.session.commit(text, edit)

    def status(self, message: str) -> None:
        self.statusMessage.emit(message)

    def graphics_scene(self) -> QGraphicsScene:
        return self._scene

    # internals --------------------------------------------------------------------------------------------
    def _clear_scene(self) -> None:
        for item in (self._photo, self._overlay):
            if item is not None:
                self._scene.removeItem(item)
        self._photo = self._overlay = None

    def _rebuild_scene(self, image: np.ndarray, mask: np.ndarray) -> None:
        self._clear_scene()
        self._photo = ArrayImageItem(image, pyramid=True)
        self._overlay = MaskOverlay(mask, self._classes)
        self._overlay.setOpacity(self._opacity)
        self._overlay.setVisible(self._overlay_visible)
        self._scene.addItem(self._photo)
        self._scene.addItem(self._overlay)
        self._scene.setSceneRect(self._photo.boundingRect())

    def _update_cursor(self, pos: QPointF | None) -> None:
        """The brush outline: a circle around the painted disc, in scene units so it scales with zoom."""
        if pos is not None:
            x, y = to_pixel(pos)
            self._cursor.setPos(x + 0.5, y + 0.5)
            self._hovering = True
        r = self._brush + 0.5
        self._cursor.setRect(QRectF(-r, -r, 2 * r, 2 * r))
        self._cursor.setVisible(self._tool.shows_brush and self._key is not None and self._hovering)

    def _on_leave(self) -> None:
        self._hovering = False
        self._cursor.setVisible(False)

    def _on_press(self, pos: QPointF) -> None:
        if self._key is not None:
            self._tool.press(pos)

    def _on_move(self, pos: QPointF) -> None:
        self._update_cursor(pos)
        if self._key is None:
            return
        self._tool.move(pos)
        pixel = to_pixel(pos)
        mask = self.live_mask()
        hovering = QGuiApplication.mouseButtons() == Qt.MouseButton.NoButton  # no readout spam while dragging
        if hovering and pixel != self._last_hover and 0 <= pixel[0] < mask.shape[1] and 0 <= pixel[1] < mask.shape[0]:
            self._last_hover = pixel
            value = int(mask[pixel[1], pixel[0]])
            self.status(f"x {pixel[0]}, y {pixel[1]}: {self._classes.name_of(value)} ({value})")

    def _on_release(self, pos: QPointF) -> None:
        if self._key is not None:
            self._tool.release(pos)

    def _on_double_click(self, pos: QPointF) -> None:
        if self._key is not None:
            self._tool.double_click(pos)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        """Tool keys (Enter, Escape, Backspace), [ and ] for the brush size; 1-9 are the window's actions."""
        key = event.key()
        if self._key is not None and self._tool.key(key):
            return
        if key == Qt.Key.Key_BracketLeft:
            self.set_brush_size(self._brush - max(1, self._brush // 5))
        elif key == Qt.Key.Key_BracketRight:
            self.set_brush_size(self._brush + max(1, self._brush // 5))
        else:
            super().keyPressEvent(event)
