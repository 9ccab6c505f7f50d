"""The assisted editor tools: scribble classifier, marker watershed and superpixel brush.

Thin like the tools in tools.py: they turn gestures into `AssistController` calls (scribbles, preview, accept)
or, for the superpixel brush, into `core.assist.superpixels.fill_superpixels` edits; the controller's workers do
every heavy computation. Keys of the scribble tools: Enter accepts the preview into the mask (one undo step),
Escape clears the scribbles.
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QGraphicsRectItem

from ...core.assist.sam import Prompt
from ...core.assist.superpixels import fill_superpixels
from ...core.edits import Edit
from .assist import AssistController
from .tools import BrushTool, Pixel, Tool, ToolHost, _preview_pen, to_pixel


def _preview_key(assist: AssistController, label: str, key: int) -> bool:
    """The keys every previewing tool shares: Enter accepts the preview into the mask as one undo step named
    `label`, Escape clears it; False for any other key, so the editor handles that one."""
    if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
        assist.accept(label)
    elif key == Qt.Key.Key_Escape:
        assist.clear()
    else:
        return False
    return True


class ScribbleTool(Tool):
    """Draw class scribbles (not into the mask); a random forest on pixel features labels the rest."""

    name, label, shows_brush = "scribble", "Scribble classifier", True
    method = "classifier"

    def __init__(self, host: ToolHost) -> None:
        super().__init__(host)
        self.assist = AssistController.of(host)
        self._last: Pixel | None = None

    def press(self, p: QPointF) -> None:
        value = self.host.current_class()
        ignore = self.host.classes().ignore_index
        if ignore is not None and value == ignore:
            self.host.status("Scribble a real class: the unlabelled class cannot be predicted.")
            return
        self._last = to_pixel(p)
        self.assist.draw([self._last], value)

    def move(self, p: QPointF) -> None:
        if self._last is None:
            return
        point = to_pixel(p)
        if point != self._last:
            self.assist.draw([self._last, point], self.host.current_class())
            self._last = point

    def release(self, p: QPointF) -> None:
        if self._last is None:
            return
        self.move(p)
        self._last = None
        self.assist.request_preview(self.method)

    def key(self, key: int) -> bool:
        return _preview_key(self.assist, self.label, key)

    def finish(self) -> None:
        if self._last is not None:
            self._last = None
            self.assist.request_preview(self.method)


class WatershedTool(ScribbleTool):
    """The same scribbles as markers of a watershed on the image: instant, and splits touching objects."""

    name, label = "watershed", "Marker watershed"
    method = "watershed"


class SuperpixelTool(BrushTool):
    """A brush that fills every superpixel it touches, so the painted edge follows the image's edges."""

    name, label = "superpixel", "Superpixel brush"

    def __init__(self, host: ToolHost) -> None:
        super().__init__(host)
        self.assist = AssistController.of(host)

    def can_start(self) -> bool:
        if self.assist.ensure_superpixels() is None:
            self.host.status("Superpixels are being computed for this image; paint again in a moment.")
            return False
        return True

    def paint(self, points: list[Pixel]) -> Edit | None:
        h = self.host
        return fill_superpixels(h.live_mask(), self.assist.superpixels, points, h.brush_size(), h.current_class(),
                                lock=h.lock_class())


class SamTool(Tool):
    """Bring-your-own SAM: click on the object (Shift+click: not this), or drag a box; Enter accepts."""

    name, label = "sam", "SAM (your ONNX model)"

    def __init__(self, host: ToolHost) -> None:
        super().__init__(host)
        self.assist = AssistController.of(host)
        self._start: Pixel | None = None
        self._item: QGraphicsRectItem | None = None

    def press(self, p: QPointF) -> None:
        self._start = to_pixel(p)

    def move(self, p: QPointF) -> None:
        if self._start is None:
            return
        (x0, y0), (x1, y1) = self._start, to_pixel(p)
        if self._item is None:
            self._item = QGraphicsRectItem()
            self._item.setPen(_preview_pen())
            self._item.setZValue(10)
            self.host.graphics_scene().addItem(self._item)
        self._item.setRect(QRectF(min(x0, x1), min(y0, y1), abs(x1 - x0) + 1, abs(y1 - y0) + 1))

    def release(self, p: QPointF) -> None:
        if self._start is None:
            return
        (x0, y0), (x1, y1) = self._start, to_pixel(p)
        self._drop_box()
        prompt = self.assist.prompt
        if max(abs(x1 - x0), abs(y1 - y0)) < 3:  # a click
            negative = bool(QGuiApplication.keyboardModifiers() & Qt.KeyboardModifier.ShiftModifier)
            prompt = Prompt([*prompt.points, (x1, y1, not negative)], prompt.box)
        else:
            prompt = Prompt(prompt.points, (min(x0, x1), min(y0, y1), max(x0, x1) + 1, max(y0, y1) + 1))
        self.assist.request_sam(prompt)

    def _drop_box(self) -> None:
        self._start = None
        if self._item is not None:
            self._item.scene().removeItem(self._item)
            self._item = None

    def cancel(self) -> None:
        self._drop_box()

    def key(self, key: int) -> bool:
        return _preview_key(self.assist, self.label, key)


ASSIST_TOOL_TYPES: tuple[type[Tool], ...] = (ScribbleTool, WatershedTool, SuperpixelTool, SamTool)
