"""MaskEditor: the photo with its mask as a colour overlay, the editing tools, and one undo stack per image.

The editor keeps each edited image's mask and QUndoStack in memory (the stacks live in the caller's
QUndoGroup, the one for the shown image active), so switching images never loses undo history; a mask with no
history is dropped when the user moves on, since it is identical to the file the caller passed. Saving is the
caller's job: it reads `mask(key)`, writes it, and calls `mark_saved(key)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QGuiApplication, QKeyEvent, QPen, QUndoGroup, QUndoStack
from PySide6.QtWidgets import QGraphicsEllipseItem, QGraphicsScene, QVBoxLayout, QWidget

from ...core.classes import ClassSet
from ...core.edits import BBox, Edit
from .overlay import ArrayImageItem, MaskOverlay
from .palette import class_for_key
from .tools import TOOL_TYPES, Tool, to_pixel
from .undo import EditCommand
from .view import EditorView

MAX_BRUSH = 256  # radius in image pixels


@dataclass
class _Sample:
    mask: np.ndarray
    stack: QUndoStack


class MaskEditor(QWidget):
    """Paint, fill and correct the mask of one image at a time; see the module docstring for ownership."""

    maskChanged = Signal(str)
    dirtyChanged = Signal(bool)  # the shown image's unsaved state (also emitted when the image changes)
    currentClassChanged = Signal(int)
    statusMessage = Signal(str)
    classesChanged = Signal(object)  # ClassSet
    toolChanged = Signal(str)
    brushSizeChanged = Signal(int)
    overlayVisibleChanged = Signal(bool)

    def __init__(self, undo_group: QUndoGroup, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._group = undo_group
        self._samples: dict[str, _Sample] = {}
        self._key: str | None = None
        self._image: np.ndarray | None = None
        self._reference: np.ndarray | None = None
        self._classes = ClassSet([])
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

        self._tools: dict[str, Tool] = {t.name: t(self) for t in TOOL_TYPES}
        self._tool = self._tools["brush"]
        self._previous_tool = self._tool

        self.view.pressed.connect(self._on_press)
        self.view.moved.connect(self._on_move)
        self.view.released.connect(self._on_release)
        self.view.doubleClicked.connect(self._on_double_click)
        self.view.left.connect(self._on_leave)

    # samples ----------------------------------------------------------------------------------------------
    def set_sample(self, key: str, image: np.ndarray, mask: np.ndarray | None, classes: ClassSet) -> None:
        """Show `image` with `mask` (None: unlabelled, start all zero); an edited mask kept for `key` wins."""
        image = np.ascontiguousarray(image, dtype=np.uint8)
        if image.ndim != 3 or image.shape[2] < 3:
            raise ValueError(f"image of {key} has shape {image.shape}; the editor needs an RGB (H, W, 3) array")
        image = np.ascontiguousarray(image[:, :, :3])
        shape = image.shape[:2]
        if mask is not None and mask.shape != shape:
            raise ValueError(
                f"mask of {key} is {mask.shape[1]}x{mask.shape[0]} but its image is {shape[1]}x{shape[0]}; "
                "fix or delete the mask file"
            )
        self._tool.finish()
        self._tool.cancel()
        if self._key is not None and self._key != key:
            self._drop_if_untouched(self._key)
        sample = self._samples.get(key)
        if sample is not None and sample.mask.shape != shape:
            self.discard(key)
            sample = None
        if sample is None:
            data = np.zeros(shape, np.uint8) if mask is None else np.array(mask, dtype=np.uint8, copy=True)
            # parentless, owned by self._samples: a child stack would be cleared (emitting cleanChanged into
            # this half-destroyed widget) when the widget dies; a bound-method slot is disconnected on its own
            stack = QUndoStack()
            stack.cleanChanged.connect(self._on_clean_changed)
            self._group.addStack(stack)
            sample = self._samples[key] = _Sample(data, stack)
        old_size = None if self._photo is None else self._photo.boundingRect().size()
        self._key, self._image, self._reference, self._classes = key, image, None, classes
        self._group.setActiveStack(sample.stack)
        self._rebuild_scene(sample.mask)
        if old_size != self._photo.boundingRect().size():
            self.fit_to_window()
        self.classesChanged.emit(classes)
        self._keep_class_valid()
        self.dirtyChanged.emit(not sample.stack.isClean())

    def current_key(self) -> str | None:
        return self._key

    def mask(self, key: str | None = None) -> np.ndarray:
        """The in-memory mask of `key` (default: the shown image), read-only: copy it to keep it."""
        sample = self._samples[self._key if key is None else key]
        view = sample.mask.view()
        view.flags.writeable = False
        return view

    def dirty_keys(self) -> list[str]:
        return [k for k, s in self._samples.items() if not s.stack.isClean()]

    def mark_saved(self, key: str) -> None:
        self._samples[key].stack.setClean()

    def discard(self, key: str) -> None:
        """Forget the in-memory mask and undo history of `key`; for the shown image the view is emptied."""
        sample = self._samples.pop(key, None)
        if sample is None:
            return
        if key == self._key:
            self._tool.cancel()
            self._clear_scene()
            self._key = self._image = self._reference = None
            self.dirtyChanged.emit(False)
        self._group.removeStack(sample.stack)
        sample.stack.deleteLater()

    def set_reference_mask(self, mask: np.ndarray | None) -> None:
        """The prediction for the shown image, the prediction brush's source; reset by every set_sample."""
        if mask is not None and (self._image is None or mask.shape != self._image.shape[:2]):
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
        self.status(f"Class {index}: {self._classes.name_of(index)}")

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
        return self._group

    def undo(self) -> None:
        """Undo on the shown image, committing an unfinished gesture first so it is what gets undone."""
        self._tool.finish()
        if self._key is not None:
            self._samples[self._key].stack.undo()

    def redo(self) -> None:
        self._tool.finish()
        if self._key is not None:
            self._samples[self._key].stack.redo()

    # ToolHost: what the tools call ------------------------------------------------------------------------
    def live_mask(self) -> np.ndarray:
        return self._samples[self._key].mask

    def image(self) -> np.ndarray:
        return self._image

    def reference_mask(self) -> np.ndarray | None:
        return self._reference

    def show_patch(self, bbox: BBox) -> None:
        self._overlay.update_rect(bbox)

    def commit(self, text: str, edit: Edit | None) -> None:
        """Push an already applied edit as one undo step (nothing when no pixel changed)."""
        if edit is None:
            return
        key = self._key
        self.show_patch(edit.bbox)
        self._samples[key].stack.push(EditCommand(text, self.live_mask(), edit, partial(self._on_patch, key)))
        self.maskChanged.emit(key)

    def status(self, message: str) -> None:
        self.statusMessage.emit(message)

    def graphics_scene(self) -> QGraphicsScene:
        return self._scene

    # internals --------------------------------------------------------------------------------------------
    def _on_patch(self, key: str, bbox: BBox) -> None:
        """An undo or redo rewrote `bbox` of `key`'s mask."""
        if key == self._key:
            self.show_patch(bbox)
        self.maskChanged.emit(key)

    def _on_clean_changed(self, clean: bool) -> None:
        if self._key is not None and self.sender() is self._samples[self._key].stack:
            self.dirtyChanged.emit(not clean)

    def _drop_if_untouched(self, key: str) -> None:
        sample = self._samples.get(key)
        if sample is not None and sample.stack.count() == 0:
            self.discard(key)

    def _clear_scene(self) -> None:
        for item in (self._photo, self._overlay):
            if item is not None:
                self._scene.removeItem(item)
        self._photo = self._overlay = None

    def _rebuild_scene(self, mask: np.ndarray) -> None:
        self._clear_scene()
        self._photo = ArrayImageItem(self._image)
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
        """Tool keys (Enter, Escape, Backspace), 1-9 for classes, [ and ] for the brush size."""
        key = event.key()
        if self._tool.key(key):
            return
        index = class_for_key(self._classes, key)
        if index is not None:
            self.set_current_class(index)
        elif key == Qt.Key.Key_BracketLeft:
            self.set_brush_size(self._brush - max(1, self._brush // 5))
        elif key == Qt.Key.Key_BracketRight:
            self.set_brush_size(self._brush + max(1, self._brush // 5))
        else:
            super().keyPressEvent(event)
