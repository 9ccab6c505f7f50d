"""Prediction against ground truth for one image: image, ground truth, prediction, error map and uncertainty side
by side, sharing zoom and pan, with the image's per-class IoU and Dice.

The panes are QGraphicsViews over scenes of the same size, so one transform and one scene centre describe what
every pane shows; whichever pane the user zooms or drags is copied to the others. The error map paints each
wrong pixel in the colour of the class that was predicted there (so a glance says what the model mistook it
for) over a dimmed grey copy of the image, which keeps the correct pixels readable but quiet.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QIcon, QMouseEvent, QPainter, QPixmap, QTransform, QWheelEvent
from PySide6.QtWidgets import (QAbstractItemView, QFrame, QGraphicsScene, QGraphicsView, QGridLayout, QHeaderView,
                               QLabel, QSizePolicy, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from ..core.classes import ClassSet
from ..core.metrics import per_image_scores
from .editor.overlay import ArrayImageItem

PANES = ("Image", "Ground truth", "Prediction", "Errors", "Uncertainty")
TITLES = {"Errors": "Errors — wrong pixels in the predicted class's colour",
          "Uncertainty": "Uncertainty — black: the model is sure, yellow: it cannot tell the classes apart"}
DIM = 0.35  # brightness of correct pixels in the error map
DARK_LUMA = 70  # class colours darker than this are drawn white in the error map, or a black class's errors vanish
MIN_ZOOM, MAX_ZOOM, WHEEL_STEP = 0.02, 64.0, 1.25


def error_map(image: np.ndarray, gt: np.ndarray, pred: np.ndarray, classes: ClassSet) -> np.ndarray:
    """RGB: wrong pixels in the predicted class's colour, correct (and void) pixels as a dimmed grey image."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    out = np.repeat((grey * DIM).astype(np.uint8)[..., None], 3, axis=2)
    lut = classes.lut()
    luma = lut @ np.array([0.299, 0.587, 0.114])
    lut[luma < DARK_LUMA] = 255
    wrong = gt != pred
    if classes.ignore_index is not None:
        wrong &= gt != classes.ignore_index
    out[wrong] = lut[pred[wrong]]
    return out


def uncertainty_map(entropy: np.ndarray, num_classes: int) -> np.ndarray:
    """RGB heat map of entropy: black = certain, yellow-white = uniform over the classes (log K nats)."""
    scaled = np.clip(entropy / math.log(max(num_classes, 2)) * 255.0, 0, 255).astype(np.uint8)
    return cv2.cvtColor(cv2.applyColorMap(scaled, cv2.COLORMAP_INFERNO), cv2.COLOR_BGR2RGB)


class ComparePane(QGraphicsView):
    """One pane: an image item, drag to pan, wheel to zoom (reported, so the view can zoom all panes alike)."""

    wheeled = Signal(float)
    hovered = Signal(QPointF)
    doubleClicked = Signal()
    resized = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.setDragMode(QGraphicsView.DragMode.ScrollHandDrag)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.AnchorUnderMouse)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setBackgroundBrush(QColor(40, 40, 40))
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Ignored)
        self.setMinimumSize(80, 80)
        self.placeholder = ""
        self.array: np.ndarray | None = None

    def set_array(self, array: np.ndarray | None, size: tuple[int, int], placeholder: str = "") -> None:
        """Show `array` (RGB), or nothing but `placeholder` text; the scene is `size` (w, h) either way."""
        self.scene().clear()
        self.array = array
        self.placeholder = placeholder if array is None else ""
        if array is not None:
            self.scene().addItem(ArrayImageItem(array))
        self.scene().setSceneRect(QRectF(0, 0, *size))
        self.viewport().update()

    def fit_scale(self) -> float:
        """The zoom at which the whole scene fits this pane's viewport."""
        rect, view = self.sceneRect(), self.viewport().rect()
        if rect.isEmpty() or view.isEmpty():
            return 1.0
        return min(view.width() / rect.width(), view.height() / rect.height())

    def set_zoom(self, zoom: float, centre: QPointF) -> None:
        self.setTransform(QTransform.fromScale(zoom, zoom))
        self.centerOn(centre)
        self.update_smoothing()

    def update_smoothing(self) -> None:
        """Smooth when shrunk (a readable overview), nearest when magnified (every pixel visible)."""
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.transform().m11() < 1.0)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.resized.emit()

    def wheelEvent(self, event: QWheelEvent) -> None:
        notches = event.angleDelta().y() / 120.0
        if notches:
            self.wheeled.emit(WHEEL_STEP ** notches)
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        super().mouseMoveEvent(event)
        self.hovered.emit(self.mapToScene(event.position().toPoint()))

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self.doubleClicked.emit()
        event.accept()

    def drawForeground(self, painter: QPainter, rect: QRectF) -> None:
        if self.placeholder:
            painter.save()
            painter.resetTransform()
            painter.setPen(QColor(170, 170, 170))
            painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                             self.placeholder)
            painter.restore()


class CompareView(QWidget):
    """Image · ground truth · prediction · errors · uncertainty, zoomed and panned together, and a score table."""

    scoresChanged = Signal(object)  # the shown image's per_image_scores dict, or None

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.panes: dict[str, ComparePane] = {}
        self.titles: dict[str, QLabel] = {}
        self.scores: dict | None = None
        self._data: tuple | None = None  # (gt, pred, entropy, classes) for the hover read-out
        self._syncing = False
        self._fitted = True  # refit on resize until the user zooms
        grid = QGridLayout(self)
        grid.setContentsMargins(4, 4, 4, 4)
        grid.setSpacing(6)
        for i, name in enumerate(PANES):
            pane = ComparePane(self)
            pane.setMinimumSize(24, 24)  # the grid may shrink with the window; zoom and pan show the detail
            title = QLabel(TITLES.get(name, name))
            title.setStyleSheet("font-weight: bold")
            title.setWordWrap(True)  # long titles must not force the main window wider than a small screen
            box = QVBoxLayout()
            box.setSpacing(2)
            box.addWidget(title)
            box.addWidget(pane, 1)
            grid.addLayout(box, i // 3, i % 3)
            self.panes[name], self.titles[name] = pane, title
            pane.wheeled.connect(lambda f, p=pane: self.zoom_by(f, p))
            pane.hovered.connect(self._hover)
            pane.doubleClicked.connect(self.fit)
            pane.resized.connect(lambda: self._fitted and self.fit())
            pane.horizontalScrollBar().valueChanged.connect(lambda _v, p=pane: self._sync_from(p))
            pane.verticalScrollBar().valueChanged.connect(lambda _v, p=pane: self._sync_from(p))
        side = QVBoxLayout()
        self.summary = QLabel("No image")
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, 3, self)
        self.table.setHorizontalHeaderLabels(["Class", "IoU", "Dice"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)  # the class name gives way first…
        for col in (1, 2):  # …the scores never do (issue 14: the IoU column was cut)
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        header.setMinimumSectionSize(24)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        score = self.table.fontMetrics().horizontalAdvance("0.000") + 18  # a score plus the cell's margins
        self.table.setMinimumWidth(96 + 2 * score + 2 * self.table.frameWidth() + 16)  # names keep ~96 px
        self.table.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Ignored)
        self.hover_label = QLabel("")
        self.hover_label.setWordWrap(True)
        side.addWidget(self.summary)
        side.addWidget(self.table, 1)
        side.addWidget(self.hover_label)
        grid.addLayout(side, 1, 2)
        for col in range(3):
            grid.setColumnStretch(col, 1)
        for row in range(2):
            grid.setRowStretch(row, 1)
        self.clear()

    # ------------------------------------------------------------------ content

    def show(self, *args, **kwargs) -> None:  # type: ignore[override]
        """`show(image, gt_mask, pred_mask, classes, entropy=None)` shows a comparison (see `show_prediction`);
        `show()` with no arguments is QWidget.show, which Qt and layouts rely on."""
        if args or kwargs:
            self.show_prediction(*args, **kwargs)
        else:
            super().show()

    def show_prediction(self, image: np.ndarray, gt_mask: np.ndarray | None, pred_mask: np.ndarray | None,
                        classes: ClassSet, entropy: np.ndarray | None = None) -> None:
        """Fill the panes for one image; a missing mask, prediction or entropy leaves its pane saying so."""
        h, w = image.shape[:2]
        for name, arr in (("Ground truth", gt_mask), ("Prediction", pred_mask), ("Uncertainty", entropy)):
            if arr is not None and arr.shape[:2] != (h, w):
                raise ValueError(f"the {name.lower()} is {arr.shape[1]}x{arr.shape[0]} but the image is {w}x{h}")
        if image.ndim == 2:
            image = cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
        lut = classes.lut()
        size = (w, h)
        self.panes["Image"].set_array(image, size)
        self.panes["Ground truth"].set_array(None if gt_mask is None else lut[gt_mask], size,
                                             "No ground-truth mask yet")
        self.panes["Prediction"].set_array(None if pred_mask is None else lut[pred_mask], size,
                                           "Not predicted yet: run Predict all")
        both = gt_mask is not None and pred_mask is not None
        self.panes["Errors"].set_array(error_map(image, gt_mask, pred_mask, classes) if both else None, size,
                                       "Needs a ground-truth mask and a prediction")
        self.panes["Uncertainty"].set_array(
            None if entropy is None else uncertainty_map(entropy, classes.num_classes), size,
            "No uncertainty for this image")
        self._data = (gt_mask, pred_mask, entropy, classes)
        self._fill_scores(gt_mask, pred_mask, classes)
        if self._fitted:
            self.fit()
        else:
            self._sync_from(self.panes["Image"])

    def clear(self) -> None:
        for name, pane in self.panes.items():
            pane.set_array(None, (1, 1), "No image selected" if name == "Image" else "")
        self._data = None
        self._fill_scores(None, None, None)

    def pane_array(self, name: str) -> np.ndarray | None:
        """The RGB pixels a pane shows (None while it shows its placeholder)."""
        return self.panes[name].array

    def _fill_scores(self, gt: np.ndarray | None, pred: np.ndarray | None, classes: ClassSet | None) -> None:
        self.table.setRowCount(0)
        self.scores = None
        if gt is None or pred is None or classes is None:
            self.summary.setText("Per-class scores need a ground-truth mask and a prediction.")
            self.scoresChanged.emit(None)
            return
        k = classes.num_classes
        self.scores = s = per_image_scores(gt, pred, k, classes.ignore_index)
        self.summary.setText(f"This image: mean IoU {_fmt(s['mean_iou'])} · mean Dice {_fmt(s['mean_dice'])} · "
                             f"pixel accuracy {_fmt(s['pixel_accuracy'], percent=True)}")
        self.table.setRowCount(k)
        for c in range(k):
            swatch = QPixmap(12, 12)
            swatch.fill(QColor(*classes.color_of(c)))
            self.table.setItem(c, 0, QTableWidgetItem(QIcon(swatch), classes.name_of(c)))
            for col, value in ((1, s["iou"][c]), (2, s["dice"][c])):
                item = QTableWidgetItem(_fmt(value))
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                item.setToolTip("absent from both masks" if math.isnan(value) else "")
                self.table.setItem(c, col, item)
        self.table.resizeColumnsToContents()
        self.scoresChanged.emit(s)

    # ------------------------------------------------------------------ zoom and pan, shared

    def zoom(self) -> float:
        return self.panes["Image"].transform().m11()

    def zoom_by(self, factor: float, source: ComparePane | None = None) -> None:
        """Zoom `source` (under the mouse when it is a wheel) and give every other pane the same view."""
        source = source or self.panes["Image"]
        factor = min(max(source.transform().m11() * factor, MIN_ZOOM), MAX_ZOOM) / source.transform().m11()
        self._fitted = False
        source.scale(factor, factor)
        source.update_smoothing()
        self._sync_from(source, force=True)

    def fit(self) -> None:
        """The whole image in every pane at one common zoom (also: double-click any pane); the panes refit on
        resize until the user zooms."""
        self._fitted = True
        zoom = min(pane.fit_scale() for pane in self.panes.values())
        centre = self.panes["Image"].sceneRect().center()
        self._syncing = True
        try:
            for pane in self.panes.values():
                pane.set_zoom(zoom, centre)
        finally:
            self._syncing = False

    def _sync_from(self, source: ComparePane, force: bool = False) -> None:
        if self._syncing or (self._fitted and not force):
            return
        self._syncing = True
        try:
            centre = source.mapToScene(source.viewport().rect().center())
            for pane in self.panes.values():
                if pane is not source:
                    pane.setTransform(source.transform())
                    pane.update_smoothing()
                    pane.centerOn(centre)
        finally:
            self._syncing = False

    # ------------------------------------------------------------------ read-out

    def _hover(self, pos: QPointF) -> None:
        if self._data is None:
            return
        gt, pred, entropy, classes = self._data
        x, y = int(math.floor(pos.x())), int(math.floor(pos.y()))
        shape = next((a.shape for a in (gt, pred, entropy) if a is not None), None)
        if shape is None or not (0 <= y < shape[0] and 0 <= x < shape[1]):
            self.hover_label.setText("")
            return
        parts = [f"x {x}, y {y}"]
        if gt is not None:
            parts.append(f"truth: {classes.name_of(int(gt[y, x]))}")
        if pred is not None:
            parts.append(f"predicted: {classes.name_of(int(pred[y, x]))}")
        if entropy is not None:
            parts.append(f"entropy {float(entropy[y, x]):.2f} nats")
        self.hover_label.setText(" · ".join(parts))


def _fmt(value: float, percent: bool = False) -> str:
    if value is None or math.isnan(value):
        return "—"
    return f"{value:.1%}" if percent else f"{value:.3f}"
