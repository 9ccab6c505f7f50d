"""The zoomable, pannable view of the editor scene; it turns mouse input into scene points for the tools.

Navigation lives here (wheel zooms about the cursor, middle button or Space+drag pans) so no tool ever sees a
navigation gesture; everything else is re-emitted as signals carrying scene coordinates (image pixels).
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QMouseEvent, QPainter, QWheelEvent
from PySide6.QtWidgets import QFrame, QGraphicsScene, QGraphicsView, QWidget

MIN_ZOOM, MAX_ZOOM = 0.01, 64.0
WHEEL_STEP = 1.25  # zoom factor per wheel notch (120 units of angleDelta)


class EditorView(QGraphicsView):
    pressed = Signal(QPointF)
    moved = Signal(QPointF)
    released = Signal(QPointF)
    doubleClicked = Signal(QPointF)
    left = Signal()
    zoomChanged = Signal(float)

    def __init__(self, scene: QGraphicsScene, parent: QWidget | None = None) -> None:
        super().__init__(scene, parent)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setBackgroundBrush(QColor(48, 48, 48))
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        # repaint only the rectangles items report dirty: what keeps a stroke on a huge image cheap
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.viewport().setCursor(Qt.CursorShape.CrossCursor)
        self._pan_from: QPoint | None = None
        self._space = False
        self._fitted = True  # refit on resize until the user zooms

    # zoom -------------------------------------------------------------------------------------------------
    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_by(self, factor: float, anchor: QPoint | None = None) -> None:
        """Scale by `factor`, keeping the scene point under viewport point `anchor` (default: the centre) fixed.

        Done by hand rather than with AnchorUnderMouse, which reads the global cursor position and so cannot
        follow a wheel event's own position (nor a synthetic one in tests).
        """
        target = min(max(self.zoom() * factor, MIN_ZOOM), MAX_ZOOM)
        if target == self.zoom():
            return
        anchor = self.viewport().rect().center() if anchor is None else anchor
        fixed = self.mapToScene(anchor)
        factor = target / self.zoom()
        self.scale(factor, factor)
        drift = self.mapFromScene(fixed) - anchor
        self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + drift.x())
        self.verticalScrollBar().setValue(self.verticalScrollBar().value() + drift.y())
        self._fitted = False
        self._update_smoothing()
        self.zoomChanged.emit(self.zoom())

    def set_zoom(self, zoom: float) -> None:
        """Show the image at `zoom` screen pixels per image pixel (1.0: one to one), about the view centre."""
        self.zoom_by(zoom / self.zoom())

    def fit_to_window(self) -> None:
        rect = self.sceneRect()
        if rect.isEmpty():
            return
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        self._fitted = True
        self._update_smoothing()
        self.zoomChanged.emit(self.zoom())

    def _update_smoothing(self) -> None:
        """Smooth when shrinking (readable overview), nearest when magnifying (see the pixels you paint)."""
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.zoom() < 1.0)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._fitted:
            self.fit_to_window()

    def wheelEvent(self, event: QWheelEvent) -> None:
        notches = event.angleDelta().y() / 120.0
        if notches:
            self.zoom_by(WHEEL_STEP ** notches, event.position().toPoint())
        event.accept()

    # mouse ------------------------------------------------------------------------------------------------
    def _starts_pan(self, event: QMouseEvent) -> bool:
        return event.button() == Qt.MouseButton.MiddleButton or (
            event.button() == Qt.MouseButton.LeftButton and self._space
        )

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if self._starts_pan(event):
            self._pan_from = event.position().toPoint()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
        elif event.button() == Qt.MouseButton.LeftButton:
            self.pressed.emit(self.mapToScene(event.position().toPoint()))
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        pos = event.position().toPoint()
        if self._pan_from is not None:
            delta = pos - self._pan_from
            self._pan_from = pos
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
        else:
            self.moved.emit(self.mapToScene(pos))
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None and event.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._pan_from = None
            self.viewport().setCursor(
                Qt.CursorShape.OpenHandCursor if self._space else Qt.CursorShape.CrossCursor
            )
        elif event.button() == Qt.MouseButton.LeftButton:
            self.released.emit(self.mapToScene(event.position().toPoint()))
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton and not self._space:
            self.doubleClicked.emit(self.mapToScene(event.position().toPoint()))
        event.accept()

    def leaveEvent(self, event) -> None:
        self.left.emit()
        super().leaveEvent(event)

    # keys: Space arms panning; the rest goes to the editor (the parent) by being ignored ------------------------
    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space = True
                self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
        else:
            event.ignore()

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            if self._pan_from is None:
                self.viewport().setCursor(Qt.CursorShape.CrossCursor)
            event.accept()
        else:
            event.ignore()
