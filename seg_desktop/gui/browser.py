"""The dataset browser: one table row per image (metadata only), thumbnails on demand, sort and filter.

Model/view, not a widget per image, so a folder of 10,000 images costs 10,000 small Python records and the view
paints only the rows on screen. Sorting is done by the source model with one `list.sort` (milliseconds for 10k
rows) instead of QSortFilterProxyModel's per-comparison `data()` calls into Python; the proxy only filters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import (QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSize,
                            QSortFilterProxyModel, Qt, Signal)
from PySide6.QtGui import QColor, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QApplication, QComboBox, QHBoxLayout, QHeaderView, QLineEdit, QPushButton,
                               QStyle, QTableView, QVBoxLayout, QWidget)

from ..core.dataset import Dataset
from ..core.layouts import SPLITS
from ..core.paths import display_path
from ..core.project import STATUSES
from .thumbnails import ThumbnailCache

COL_NAME, COL_STATUS, COL_SPLIT, COL_IOU, COL_ENTROPY = range(5)
HEADERS = ("Image", "Status", "Split", "IoU", "Entropy")
STATUS_COLOURS = {"unlabelled": QColor(150, 150, 150), "labelled": QColor(40, 130, 40),
                  "edited": QColor(30, 90, 200), "predicted": QColor(190, 110, 0)}


@dataclass
class Row:
    key: str
    name: str
    path: Path
    split: str
    status: str
    iou: float | None = None
    entropy: float | None = None
    dirty: bool = False


def natural_key(text: str) -> tuple:
    """Sort key that orders the digits in a name as numbers: 2.png before 10.png (membrane's 0, 1, 2 … 10, 11),
    case-insensitively."""
    return tuple((0, int(part), "") if part.isdigit() else (1, 0, part.lower())
                 for part in re.split(r"(\d+)", text) if part)


def _sort_key(column: int):
    if column == COL_STATUS:
        return lambda r: (STATUSES.index(r.status) if r.status in STATUSES else len(STATUSES), natural_key(r.key))
    if column == COL_SPLIT:
        return lambda r: (SPLITS.index(r.split) if r.split in SPLITS else len(SPLITS), natural_key(r.key))
    return lambda r: natural_key(r.key)


class DatasetModel(QAbstractTableModel):
    """Rows of sample metadata; `thumbnails` supplies column 0's decoration lazily."""

    def __init__(self, thumbnails: ThumbnailCache, parent: Any = None) -> None:
        super().__init__(parent)
        self.thumbnails = thumbnails
        self.rows: list[Row] = []
        self._row_of: dict[str, int] = {}
        self._dirty: set[str] = set()
        self._blank = QPixmap(thumbnails.size, thumbnails.size)
        self._blank.fill(Qt.GlobalColor.transparent)
        thumbnails.ready.connect(self._thumbnail_ready)

    # ------------------------------------------------------------------ content

    def set_dataset(self, dataset: Dataset | None, statuses: dict[str, str] | None = None) -> None:
        """Replace all rows; `statuses` (project.json) override the labelled/unlabelled status from the files."""
        statuses = statuses or {}
        self.beginResetModel()
        self.thumbnails.clear()
        self._dirty = set()
        self.rows = [] if dataset is None else [
            Row(s.key, s.image_path.name, s.image_path, s.split,
                statuses.get(s.key) or ("labelled" if s.labelled else "unlabelled"))
            for s in dataset.samples]
        self._reindex()
        self.endResetModel()

    def set_status(self, key: str, status: str) -> None:
        self._update(key, COL_STATUS, status=status)

    def set_dirty(self, keys: set[str]) -> None:
        """Mark rows with unsaved edits ('*' after the name); only rows whose mark changes are touched, since
        this runs after every brush stroke."""
        keys = set(keys)
        for key in keys ^ self._dirty:
            self._update(key, COL_NAME, dirty=key in keys)
        self._dirty = keys

    def set_scores(self, scores: dict[str, dict[str, float]]) -> None:
        """Per-image scores from a prediction run: key -> {"iou": float, "entropy": float}; others are cleared."""
        for row in self.rows:
            s = scores.get(row.key, {})
            row.iou, row.entropy = s.get("iou"), s.get("entropy")
        if self.rows:
            self.dataChanged.emit(self.index(0, COL_IOU), self.index(len(self.rows) - 1, COL_ENTROPY))

    def row_of(self, key: str) -> int | None:
        return self._row_of.get(key)

    def _reindex(self) -> None:
        self._row_of = {r.key: i for i, r in enumerate(self.rows)}

    def _update(self, key: str, column: int, **values: Any) -> None:
        i = self._row_of.get(key)
        if i is None:
            return
        for name, value in values.items():
            setattr(self.rows[i], name, value)
        idx = self.index(i, column)
        self.dataChanged.emit(idx, idx)

    def _thumbnail_ready(self, key: str) -> None:
        i = self._row_of.get(key)
        if i is not None:
            idx = self.index(i, COL_NAME)
            self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])

    # ------------------------------------------------------------------ Qt model interface

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, col = self.rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == COL_NAME:
                name = display_path(row.name)  # a QString cannot hold a name that is not UTF-8
                return f"{name} *" if row.dirty else name
            if col == COL_STATUS:
                return row.status
            if col == COL_SPLIT:
                return row.split
            value = row.iou if col == COL_IOU else row.entropy
            return "" if value is None else f"{value:.3f}"
        if role == Qt.ItemDataRole.DecorationRole and col == COL_NAME:
            pixmap = self.thumbnails.request(row.key, row.path)
            if pixmap is not None:
                return pixmap
            if self.thumbnails.failed(row.key):
                return QApplication.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning)
            return self._blank
        if role == Qt.ItemDataRole.ForegroundRole and col == COL_STATUS:
            return STATUS_COLOURS.get(row.status)
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{display_path(row.key)}\n{row.status}, {row.split}"
        if role == Qt.ItemDataRole.TextAlignmentRole and col in (COL_IOU, COL_ENTROPY):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Reorder rows in place; scores sort with missing values last in either direction."""
        reverse = order == Qt.SortOrder.DescendingOrder
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        old_keys = [(self.rows[i.row()].key, i.column()) for i in old]
        if column in (COL_IOU, COL_ENTROPY):
            attr = "iou" if column == COL_IOU else "entropy"
            scored = sorted((r for r in self.rows if getattr(r, attr) is not None),
                            key=lambda r: (getattr(r, attr), r.key), reverse=reverse)
            self.rows = scored + sorted((r for r in self.rows if getattr(r, attr) is None), key=lambda r: r.key)
        else:
            self.rows.sort(key=_sort_key(column), reverse=reverse)
        self._reindex()
        self.changePersistentIndexList(old, [self.index(self._row_of[k], c) for k, c in old_keys])
        self.layoutChanged.emit()


class BrowserFilter(QSortFilterProxyModel):
    """Filters by status, split and name; sorting is delegated to the source model (see module docstring)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.status: str | None = None
        self.split: str | None = None
        self.text = ""

    def set_filters(self, status: str | None = None, split: str | None = None, text: str = "") -> None:
        self.beginFilterChange()
        self.status, self.split, self.text = status, split, text.strip().lower()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        row = self.sourceModel().rows[source_row]
        return ((self.status is None or row.status == self.status)
                and (self.split is None or row.split == self.split)
                and (not self.text or self.text in row.key.lower()))

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self.sourceModel().sort(column, order)


class BrowserView(QTableView):
    """A row-per-image table where Home/End jump to the first/last image (not the first/last column)."""

    def moveCursor(self, action: QAbstractItemView.CursorAction, modifiers: Qt.KeyboardModifier) -> QModelIndex:
        model = self.model()
        if action == QAbstractItemView.CursorAction.MoveHome and model.rowCount():
            return model.index(0, 0)
        if action == QAbstractItemView.CursorAction.MoveEnd and model.rowCount():
            return model.index(model.rowCount() - 1, 0)
        return super().moveCursor(action, modifiers)


class DatasetBrowser(QWidget):
    """Filter bar + table. Emits `currentKeyChanged(key)` when the user moves to another image."""

    currentKeyChanged = Signal(object)  # str; `object` because a QString would drop a name's undecodable bytes

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.thumbnails = ThumbnailCache(parent=self)
        self.model = DatasetModel(self.thumbnails, self)
        self.proxy = BrowserFilter(self)
        self.proxy.setSourceModel(self.model)
        self._silent = False

        self.name_filter = QLineEdit(placeholderText="Filter by name…", clearButtonEnabled=True)
        self.status_filter = QComboBox()
        self.status_filter.addItem("All statuses", None)
        for status in STATUSES:
            self.status_filter.addItem(status, status)
        self.split_filter = QComboBox()
        self.split_filter.addItem("All splits", None)
        for split in SPLITS:
            self.split_filter.addItem(split, split)
        self.worst_button = QPushButton("Worst IoU first")
        self.worst_button.setToolTip("Sort by IoU, lowest first (needs predictions)")
        for w in (self.status_filter, self.split_filter):
            w.currentIndexChanged.connect(self._apply_filters)
            # narrow docks (1024 px screens): the combos give up width before the image names do
            w.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            w.setMinimumContentsLength(6)
        self.name_filter.textChanged.connect(self._apply_filters)
        self.worst_button.clicked.connect(self.worst_iou_first)

        self.view = BrowserView(self)
        self.view.setModel(self.proxy)
        self.view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.view.setIconSize(QSize(self.thumbnails.size, self.thumbnails.size))
        self.view.setWordWrap(False)
        self.view.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # names share prefixes: keep both ends
        self.view.setSortingEnabled(True)
        self.view.horizontalHeader().setSortIndicator(COL_NAME, Qt.SortOrder.AscendingOrder)
        vh = self.view.verticalHeader()
        vh.setVisible(False)
        vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # never measures rows: 10k rows open instantly
        vh.setDefaultSectionSize(self.thumbnails.size + 6)
        hh = self.view.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        hh.setSectionResizeMode(COL_NAME, QHeaderView.ResizeMode.Stretch)
        for col, width in ((COL_STATUS, 74), (COL_SPLIT, 44), (COL_IOU, 48), (COL_ENTROPY, 58)):
            hh.resizeSection(col, width)
        self.view.selectionModel().currentRowChanged.connect(self._current_changed)
        self.set_scores({})

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.status_filter)
        bar.addWidget(self.split_filter)
        bar.addWidget(self.worst_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.name_filter)
        layout.addLayout(bar)
        layout.addWidget(self.view)

    # ------------------------------------------------------------------ API used by the window

    def set_dataset(self, dataset: Dataset | None, statuses: dict[str, str] | None = None) -> None:
        self._silent = True
        try:
            self.model.set_dataset(dataset, statuses)
            header = self.view.horizontalHeader()  # the rows in the order the header shows (natural by name)
            self.model.sort(header.sortIndicatorSection(), header.sortIndicatorOrder())
        finally:
            self._silent = False

    def set_status(self, key: str, status: str) -> None:
        self.model.set_status(key, status)

    def set_dirty(self, keys: set[str]) -> None:
        self.model.set_dirty(keys)

    def set_scores(self, scores: dict[str, dict[str, float]]) -> None:
        """Show per-image IoU and entropy from predictions (key -> {"iou": float, "entropy": float}); the two
        columns show only once there are scores, so on a narrow dock the names get their room."""
        self.model.set_scores(scores)
        for column in (COL_IOU, COL_ENTROPY):
            self.view.setColumnHidden(column, not scores)

    def visible_keys(self) -> list[str]:
        """Keys in the order the table shows them (after filter and sort)."""
        return [self._key(self.proxy.index(r, 0)) for r in range(self.proxy.rowCount())]

    def current_key(self) -> str | None:
        idx = self.view.currentIndex()
        return self._key(idx) if idx.isValid() else None

    def select_key(self, key: str | None, silent: bool = False) -> bool:
        """Make `key` the current row (False when it is filtered out); `silent` does not emit currentKeyChanged."""
        self._silent = silent
        try:
            if key is None:
                self.view.selectionModel().clearCurrentIndex()
                self.view.clearSelection()
                return True
            src = self.model.row_of(key)
            idx = self.proxy.mapFromSource(self.model.index(src, 0)) if src is not None else QModelIndex()
            if not idx.isValid():
                return False
            self.view.setCurrentIndex(idx)
            self.view.scrollTo(idx)
            return True
        finally:
            self._silent = False

    def step(self, offset: int) -> bool:
        """Move `offset` rows down (negative: up) in the shown order, as PgDn/PgUp do from any widget."""
        count = self.proxy.rowCount()
        if not count:
            return False
        row = self.view.currentIndex().row() if self.view.currentIndex().isValid() else -1
        return self._select_row(min(max(0, row + offset), count - 1))

    def step_to_end(self, first: bool) -> bool:
        """The first (Home) or last (End) image in the shown order."""
        count = self.proxy.rowCount()
        return count > 0 and self._select_row(0 if first else count - 1)

    def _select_row(self, row: int) -> bool:
        idx = self.proxy.index(row, 0)
        if idx.row() == self.view.currentIndex().row():
            return False
        self.view.setCurrentIndex(idx)
        self.view.scrollTo(idx)
        return True

    def worst_iou_first(self) -> None:
        self.view.sortByColumn(COL_IOU, Qt.SortOrder.AscendingOrder)

    def set_filters(self, status: str | None = None, split: str | None = None, text: str = "") -> None:
        """Set the filter widgets (and through them the proxy), as a user would."""
        self.status_filter.setCurrentIndex(max(0, self.status_filter.findData(status)))
        self.split_filter.setCurrentIndex(max(0, self.split_filter.findData(split)))
        self.name_filter.setText(text)

    # ------------------------------------------------------------------ internals

    def _apply_filters(self) -> None:
        self.proxy.set_filters(self.status_filter.currentData(), self.split_filter.currentData(),
                               self.name_filter.text())

    def _current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not self._silent and current.isValid():
            self.currentKeyChanged.emit(self._key(current))

    def _key(self, index: QModelIndex) -> str:
        """The sample key of a view row, taken from the Python row rather than through Qt's strings, which
        cannot hold the surrogate escapes of a file name that is not UTF-8."""
        return self.model.rows[self.proxy.mapToSource(index).row()].key
