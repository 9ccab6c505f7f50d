"""The region review queue panel: after Predict all, the regions where prediction and ground truth disagree (or
the model is unsure, on unlabelled images) ranked across the dataset; N goes to the next region, A accepts the
prediction inside it (one undo step; it stays on the region, so Ctrl+Z can take it back), K keeps the ground
truth and moves on.

The ranking (`core.assist.review.collect_regions`) reads every mask and cached prediction, so it runs on a
worker; the panel only lists, selects and zooms. See docs/ARCHITECTURE.md, "Assisted labelling".
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QAction, QColor, QKeySequence, QPen
from PySide6.QtWidgets import (QGraphicsRectItem, QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QPushButton,
                               QVBoxLayout, QWidget)

from ..core.assist.review import Region, accept_region, collect_regions
from ..core.dataset import Dataset
from ..core.errors import DatasetError
from ..core.predictions import PredictionCache
from .editor.canvas import MaskEditor
from .session import AnnotationSession
from .workers import run_in_thread

MARGIN = 24  # pixels of context around a region when zooming to it


def read_for_review(dataset: Dataset, cache: PredictionCache) -> Callable[[str], tuple]:
    """`read(key)` for `collect_regions`: (cached prediction, ground truth or None, uncertainty 0..1 or None)."""
    samples = {s.key: s for s in dataset.samples}

    def read(key: str) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray | None]:
        prediction = cache.load_mask(key)
        sample = samples[key]
        if prediction is None:
            return None, None, None
        if not sample.labelled:
            return prediction, None, cache.load_entropy(key, 1.0)
        try:
            truth = dataset.read_mask(sample)
        except DatasetError:
            return None, None, None  # already listed as a problem by the open
        return (prediction, truth, None) if truth.shape == prediction.shape else (None, None, None)

    return read


class ReviewPanel(QWidget):
    """See the module docstring. `select(key)` makes an image current (the browser's, so its policy for unsaved
    edits applies); the panel follows the session to show the region once that image is in the editor."""

    regionShown = Signal(object)  # Region
    ready = Signal(int)  # number of regions ranked

    def __init__(self, session: AnnotationSession, editor: MaskEditor, select: Callable[[str], object] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session, self.editor = session, editor
        self._select = select or session.select
        self.regions: list[Region] = []
        self.position = -1
        self._pending: int | None = None
        self._token = 0
        self._frame: QGraphicsRectItem | None = None

        self.status = QLabel("Predict all, then rank the regions to review.")
        self.status.setWordWrap(True)
        self.list = QListWidget()
        self.list.setToolTip("Regions where the prediction and the mask disagree, largest first")
        self.list.itemActivated.connect(lambda item: self.go(self.list.row(item)))
        self.next_action = self._action("&Next region", "N", self.next)
        self.accept_action = self._action("&Accept prediction in region", "A", self.accept)
        self.keep_action = self._action("&Keep ground truth", "K", self.keep)
        self.rank_button = QPushButton("Rank")
        self.rank_button.setToolTip("Rank the regions again from the current predictions and masks")
        self.rank_button.clicked.connect(lambda: self.rank(*self._source))
        self._source: tuple[Dataset | None, PredictionCache | None] = (None, None)
        row = QHBoxLayout()
        for action, short in ((self.next_action, "Next"), (self.accept_action, "Accept"), (self.keep_action, "Keep")):
            button = QPushButton(f"{short} ({action.shortcut().toString()})")
            button.setToolTip(action.text().replace("&", ""))
            button.clicked.connect(action.trigger)
            row.addWidget(button)
        top = QHBoxLayout()
        top.addWidget(self.status, 1)
        top.addWidget(self.rank_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addLayout(row)
        layout.addWidget(self.list, 1)
        editor.addActions(self.actions())  # the keys work while the canvas has the focus
        session.currentChanged.connect(self._on_current_changed)

    def _action(self, text: str, key: str, slot: Callable[[], object]) -> QAction:
        action = QAction(text, self)
        action.setShortcut(QKeySequence(key))
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    # ------------------------------------------------------------------ ranking

    def rank(self, dataset: Dataset | None, cache: PredictionCache | None) -> bool:
        """Rank the regions of every predicted image on a worker; False when there are no predictions."""
        self._source = (dataset, cache)
        if dataset is None or cache is None or not cache.is_current():
            self.status.setText("No current predictions: run Predict all first.")
            return False
        self._token += 1
        token = self._token
        self.status.setText("Ranking the regions to review…")
        run_in_thread(collect_regions, [s.key for s in dataset.samples], read_for_review(dataset, cache),
                      ignore=dataset.classes.ignore_index,
                      on_result=lambda regions: self._set_regions(regions) if token == self._token else None,
                      on_error=lambda exc: self.status.setText(f"Ranking the regions failed ({exc})."))
        return True

    def _set_regions(self, regions: list[Region]) -> None:
        self.regions, self.position, self._pending = list(regions), -1, None
        self.list.clear()
        for i, r in enumerate(self.regions):
            QListWidgetItem(f"{i + 1}. {r.key}   {r.area} px   {r.kind}", self.list)
        self.status.setText(f"{len(regions)} regions to review, largest first: N next, A accept the prediction "
                            "inside, K keep the mask." if regions else "Prediction and masks agree everywhere.")
        self.ready.emit(len(regions))

    # ------------------------------------------------------------------ visiting

    def current(self) -> Region | None:
        return self.regions[self.position] if 0 <= self.position < len(self.regions) else None

    def next(self) -> None:
        if self.position + 1 < len(self.regions):
            self.go(self.position + 1)
        else:
            self.status.setText("That was the last region.")

    def go(self, index: int) -> None:
        """Visit region `index`: select its image if needed, then zoom to it once the editor shows it."""
        self.position = index
        self.list.setCurrentRow(index)
        region = self.regions[index]
        if self.session.current_key() == region.key:
            self._show(region)
        else:
            self._pending = index
            self._select(region.key)

    def _on_current_changed(self, key: object) -> None:
        if self._frame is not None and self._frame.scene() is not None:
            self._frame.scene().removeItem(self._frame)
        self._frame = None
        if self._pending is not None and key is not None and self.regions[self._pending].key == key:
            self._pending = None
            self._show(self.regions[self.position])

    def _show(self, region: Region) -> None:
        y0, x0, y1, x1 = region.bbox
        scene = self.editor.graphics_scene()
        if self._frame is None or self._frame.scene() is not scene:
            self._frame = QGraphicsRectItem()
            pen = QPen(QColor(255, 0, 255), 2, Qt.PenStyle.DashLine)
            pen.setCosmetic(True)
            self._frame.setPen(pen)
            self._frame.setZValue(15)
            scene.addItem(self._frame)
        self._frame.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
        self.editor.view.fitInView(QRectF(x0 - MARGIN, y0 - MARGIN, x1 - x0 + 2 * MARGIN, y1 - y0 + 2 * MARGIN),
                                   Qt.AspectRatioMode.KeepAspectRatio)
        self.status.setText(f"Region {self.position + 1} of {len(self.regions)}: {region.key}, {region.area} px "
                            f"({region.kind}).")
        self.regionShown.emit(region)

    def accept(self) -> None:
        """Write the prediction into the mask inside the current region (one undo step)."""
        region = self.current()
        if region is None or self.session.current_key() != region.key:
            return
        self.editor.commit("Accept prediction in region", accept_region(self.session.live_mask(), region))
        self.status.setText(f"Accepted the prediction in region {self.position + 1}; N for the next one.")

    def keep(self) -> None:
        """The mask is right here: leave it and go on."""
        if self.current() is not None:
            self.next()
