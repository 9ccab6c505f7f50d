"""The editing tools: each turns mouse/key input in scene coordinates into a `core.edits` call.

Tools hold only gesture state (the points of a drag, a polygon, a box) and the preview items that show it;
the pixels are changed by `core.edits`, the editor (`ToolHost`) draws them, and the session behind it owns
the mask and its undo stack. Scene coordinates are image pixels: pixel (x, y) covers [x, x+1) x [y, y+1), so
a scene point maps to the pixel by flooring, and every edit receives whole-pixel points.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsRectItem, QGraphicsScene

from ...core.classes import ClassSet
from ...core.edits import BBox, Edit, copy_from, fill_polygon, flood_fill, grabcut, magic_wand, merge_edits, stroke

Pixel = tuple[int, int]


class ToolHost(Protocol):
    """What a tool needs from the editor (implemented by MaskEditor)."""

    def live_mask(self) -> np.ndarray: ...
    def classes(self) -> ClassSet: ...
    def image(self) -> np.ndarray: ...
    def reference_mask(self) -> np.ndarray | None: ...
    def current_class(self) -> int: ...
    def set_current_class(self, index: int) -> None: ...
    def eraser_value(self) -> int: ...
    def lock_class(self) -> int | None: ...
    def brush_size(self) -> int: ...
    def tolerance(self) -> int: ...
    def grabcut_iterations(self) -> int: ...
    def show_patch(self, bbox: BBox) -> None: ...
    def commit(self, text: str, edit: Edit | None) -> None: ...
    def status(self, message: str) -> None: ...
    def graphics_scene(self) -> QGraphicsScene: ...
    def restore_previous_tool(self) -> None: ...


def to_pixel(p: QPointF) -> Pixel:
    """The mask pixel under scene point `p`."""
    return math.floor(p.x()), math.floor(p.y())


def _preview_pen() -> QPen:
    pen = QPen(QColor(255, 255, 0), 1.5, Qt.PenStyle.DashLine)
    pen.setCosmetic(True)  # one screen pixel wide at any zoom
    return pen


class Tool:
    """Base tool: ignores everything. Subclasses override the gestures they use."""

    name = ""
    label = ""
    shows_brush = False

    def __init__(self, host: ToolHost) -> None:
        self.host = host

    def press(self, p: QPointF) -> None:
        pass

    def move(self, p: QPointF) -> None:
        pass

    def release(self, p: QPointF) -> None:
        pass

    def double_click(self, p: QPointF) -> None:
        pass

    def key(self, key: int) -> bool:
        """Handle Enter/Escape/Backspace; True when used."""
        return False

    def finish(self) -> None:
        """Settle unfinished work before an undo, tool or image switch: commit a drag, drop an open outline."""

    def cancel(self) -> None:
        """Drop previews and gesture state without editing."""


class BrushTool(Tool):
    """Paint the current class along a drag; the whole drag becomes one undo step."""

    name, label, shows_brush = "brush", "Brush", True

    def __init__(self, host: ToolHost) -> None:
        super().__init__(host)
        self._edits: list[Edit] | None = None
        self._last: Pixel = (0, 0)

    def paint(self, points: list[Pixel]) -> Edit | None:
        h = self.host
        return stroke(h.live_mask(), points, h.brush_size(), h.current_class(), lock=h.lock_class())

    def can_start(self) -> bool:
        return True

    def press(self, p: QPointF) -> None:
        if not self.can_start():
            return
        self._edits = []
        self._last = to_pixel(p)
        self._segment([self._last])

    def move(self, p: QPointF) -> None:
        if self._edits is None:
            return
        point = to_pixel(p)
        if point != self._last:
            self._segment([self._last, point])
            self._last = point

    def release(self, p: QPointF) -> None:
        self.move(p)
        self.finish()

    def finish(self) -> None:
        if self._edits is None:
            return
        edits, self._edits = self._edits, None
        self.host.commit(self.label, merge_edits(self.host.live_mask(), edits))

    def cancel(self) -> None:
        self.finish()  # pixels of a started drag are already on screen: keep them as an undoable step

    def _segment(self, points: list[Pixel]) -> None:
        edit = self.paint(points)
        if edit is not None:
            self._edits.append(edit)
            self.host.show_patch(edit.bbox)


class EraserTool(BrushTool):
    """The brush painting the eraser value (the ignore index when the classes have one, else 0)."""

    name, label = "eraser", "Eraser"

    def paint(self, points: list[Pixel]) -> Edit | None:
        h = self.host
        return stroke(h.live_mask(), points, h.brush_size(), h.eraser_value(), lock=h.lock_class())


class PredictionBrushTool(BrushTool):
    """Copy the model's prediction (the reference mask) into the mask where the brush passes."""

    name, label = "prediction", "Prediction brush"

    def can_start(self) -> bool:
        if self.host.reference_mask() is None:
            self.host.status("No prediction for this image yet: predict it first, then use the prediction brush.")
            return False
        return True

    def paint(self, points: list[Pixel]) -> Edit | None:
        h = self.host
        return copy_from(h.live_mask(), h.reference_mask(), points, h.brush_size())


class PolygonTool(Tool):
    """Click corners; double-click or Enter fills, Backspace drops the last corner, Escape cancels."""

    name, label = "polygon", "Polygon"

    def __init__(self, host: ToolHost) -> None:
        super().__init__(host)
        self._points: list[Pixel] = []
        self._item: QGraphicsPathItem | None = None

    def press(self, p: QPointF) -> None:
        self._points.append(to_pixel(p))
        self._preview(p)

    def move(self, p: QPointF) -> None:
        if self._points:
            self._preview(p)

    def double_click(self, p: QPointF) -> None:
        self.close()

    def key(self, key: int) -> bool:
        if not self._points:
            return False
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.close()
        elif key == Qt.Key.Key_Escape:
            self.cancel()
        elif key == Qt.Key.Key_Backspace:
            self._points.pop()
            self._preview(None)
        else:
            return False
        return True

    def finish(self) -> None:
        self.cancel()  # an open outline is not a decision: switching tool or undoing drops it

    def close(self) -> None:
        """Fill the outline drawn so far (double-click or Enter)."""
        points = self._points
        self.cancel()
        if len(points) >= 3:
            h = self.host
            h.commit(self.label, fill_polygon(h.live_mask(), points, h.current_class(), lock=h.lock_class()))
        elif points:
            self.host.status("A polygon needs at least three corners.")

    def cancel(self) -> None:
        self._points = []
        if self._item is not None:
            self._item.scene().removeItem(self._item)
            self._item = None

    def _preview(self, cursor: QPointF | None) -> None:
        """The outline through the corners (pixel centres), with a rubber band to the cursor."""
        if self._item is None:
            self._item = QGraphicsPathItem()
            self._item.setPen(_preview_pen())
            self._item.setZValue(10)
            self.host.graphics_scene().addItem(self._item)
        path = QPainterPath()
        corners = [QPointF(x + 0.5, y + 0.5) for x, y in self._points]
        if corners:
            path.moveTo(corners[0])
            for c in corners[1:] + ([cursor] if cursor is not None else []):
                path.lineTo(c)
        self._item.setPath(path)


class FloodFillTool(Tool):
    """Recolour the connected region of the clicked class; with a lock, only a region of the locked class."""

    name, label = "fill", "Flood fill"

    def press(self, p: QPointF) -> None:
        h = self.host
        mask = h.live_mask()
        x, y = to_pixel(p)
        if not (0 <= x < mask.shape[1] and 0 <= y < mask.shape[0]):
            return
        lock = h.lock_class()
        if lock is not None and mask[y, x] != lock:
            h.status(f"Locked to class {lock}: flood fill only recolours regions of that class.")
            return
        h.commit(self.label, flood_fill(mask, (x, y), h.current_class()))


class MagicWandTool(Tool):
    """Paint the connected image region whose colour is within the tolerance of the clicked pixel."""

    name, label = "wand", "Magic wand"

    def press(self, p: QPointF) -> None:
        h = self.host
        edit = magic_wand(h.image(), h.live_mask(), to_pixel(p), h.current_class(), h.tolerance(), lock=h.lock_class())
        h.commit(self.label, edit)


class GrabCutTool(Tool):
    """Drag a box around an object; OpenCV GrabCut paints what it finds inside with the current class."""

    name, label = "grabcut", "GrabCut box"

    def __init__(self, host: ToolHost) -> None:
        super().__init__(host)
        self._start: Pixel | None = None
        self._item: QGraphicsRectItem | None = None

    def press(self, p: QPointF) -> None:
        self._start = to_pixel(p)
        self._item = QGraphicsRectItem()
        self._item.setPen(_preview_pen())
        self._item.setZValue(10)
        self.host.graphics_scene().addItem(self._item)
        self.move(p)

    def move(self, p: QPointF) -> None:
        if self._start is None:
            return
        (x0, y0), (x1, y1) = self._start, to_pixel(p)
        self._item.setRect(QRectF(min(x0, x1), min(y0, y1), abs(x1 - x0) + 1, abs(y1 - y0) + 1))

    def release(self, p: QPointF) -> None:
        if self._start is None:
            return
        (x0, y0), (x1, y1) = self._start, to_pixel(p)
        self.cancel()
        h = self.host
        h.status("GrabCut running…")
        edit = grabcut(h.image(), h.live_mask(), (x0, y0, x1 + 1, y1 + 1), h.current_class(),
                       iterations=h.grabcut_iterations(), lock=h.lock_class())
        h.commit(self.label, edit)
        h.status("GrabCut: box too small or nothing found." if edit is None else "GrabCut done.")

    def cancel(self) -> None:
        self._start = None
        if self._item is not None:
            self._item.scene().removeItem(self._item)
            self._item = None

    def key(self, key: int) -> bool:
        if key == Qt.Key.Key_Escape and self._start is not None:
            self.cancel()
            return True
        return False


class EyedropperTool(Tool):
    """Pick the class under the cursor as the current class, then return to the tool used before."""

    name, label = "eyedropper", "Eyedropper"

    def press(self, p: QPointF) -> None:
        mask = self.host.live_mask()
        x, y = to_pixel(p)
        if 0 <= x < mask.shape[1] and 0 <= y < mask.shape[0]:
            self.host.set_current_class(int(mask[y, x]))
            self.host.restore_previous_tool()


TOOL_TYPES: tuple[type[Tool], ...] = (
    BrushTool, EraserTool, PolygonTool, FloodFillTool, MagicWandTool, GrabCutTool, EyedropperTool,
    PredictionBrushTool,
)
