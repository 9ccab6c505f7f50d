"""The runs of a dataset as a compare table (UNet vs SegNet and others), following the runs folder live.

Each row is one run folder: its parameters (config.json; the form's settings, from TrainConfig's metadata), best
val mean IoU (history.csv), the final evaluation (metrics.json: mean IoU, Dice, pixel accuracy, per-class IoU),
the training time (sum of history `seconds`) and the model size (best.keras bytes). Ticking a run's box draws
its curves beside the current run; selecting a row shows it as the current run. A run started from the CLI in
the same folder appears by itself and its curves follow its history.csv: a 1 s QTimer compares the mtimes of the
runs folder's files (cheap stats, and unlike a QFileSystemWatcher it keeps working when the runs folder does not
exist yet or sits on a network drive). A run folder elsewhere (File ▸ Open run…: a cluster's output on a mounted
share) is followed the same way once `follow()` adds it, whichever dataset is open. `RunsModel` holds the rows (a
QAbstractTableModel, like the browser's DatasetModel); `RunsView` is its table, buttons and poll timer.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from ...ml.config import SETTING, setting_fields
from ...ml.param_count import parameter_count
from ...ml.runs import list_runs, read_history, run_info, runs_dir

POLL_MS = 1000
_RUN_COLUMNS = ("run", "model", "params", "created", "epochs", "best_val_mean_iou", "mean_iou", "mean_dice",
                "pixel_accuracy", "train_seconds", "model_bytes")
_SETTINGS = {f.name: f.metadata[SETTING] for f in setting_fields()
             if f.metadata[SETTING].form and f.name not in _RUN_COLUMNS}
_BASE_COLUMNS = (*_RUN_COLUMNS, *_SETTINGS)
_HEADERS = {"run": "Run", "model": "Model", "params": "Parameters", "created": "Created", "epochs": "Epochs",
            "best_val_mean_iou": "Best val IoU", "mean_iou": "Mean IoU", "mean_dice": "Mean Dice",
            "pixel_accuracy": "Pixel acc.", "train_seconds": "Train time", "model_bytes": "Model size",
            **{name: s.label for name, s in _SETTINGS.items()}}
_Index = QModelIndex | QPersistentModelIndex
# Why two IoUs of one model differ (issue 14: "Best val IoU 0.724 beside Mean IoU 0.735" was unexplained).
_HEADER_TIPS = {
    "best_val_mean_iou": "The best validation mean IoU of any epoch (history.csv), measured on the validation "
                         "images at the training size; the epoch whose model best.keras keeps.",
    "mean_iou": "Final evaluation of best.keras (metrics.json) on the validation images at full resolution, "
                "so it differs a little from Best val IoU.",
    "params": "Number of weights of the saved model (best.keras).",
}


def _setting_value(name: str, config: dict) -> Any:
    """A run's value of one setting as the table shows it: sizes as HxW, settings that do not apply to the run's
    model (its `when` rule) as None."""
    setting, value = _SETTINGS[name], config.get(name)
    if setting.when is not None and config.get(setting.when[0]) != setting.when[1]:
        return None
    if setting.kind == "size":
        size = value or ["", ""]
        return f"{size[0]}x{size[1]}"
    return value


def compare_rows(root: Path | str | None, extra: Sequence[Path] = ()) -> tuple[list[str], list[dict]]:
    """The compare table of every run of dataset `root` (newest first), then of the `extra` run folders followed
    from elsewhere, as (columns, rows of raw values).

    Shared by the table and its CSV export so both always hold the same numbers.
    """
    class_names: list[str] = []
    rows = []
    infos = list_runs(root) if root is not None else []
    listed = {Path(i.folder).resolve() for i in infos}
    infos += [i for i in map(run_info, extra) if i is not None and Path(i.folder).resolve() not in listed]
    for info in infos:
        cfg, metrics = info.config or {}, info.metrics or {}
        best = Path(info.folder) / "best.keras"
        row = {
            "run": Path(info.folder).name, "model": info.model,
            "params": parameter_count(best) if best.is_file() else None, "created": info.created, "epochs": info.epochs,
            "best_val_mean_iou": info.best_val_mean_iou, "mean_iou": metrics.get("mean_iou"),
            "mean_dice": metrics.get("mean_dice"), "pixel_accuracy": metrics.get("pixel_accuracy"),
            "train_seconds": sum(_float(r.get("seconds")) or 0.0 for r in read_history(info.folder)),
            "model_bytes": best.stat().st_size if best.is_file() else None,
            **{name: _setting_value(name, cfg) for name in _SETTINGS}, "folder": str(info.folder),
        }
        for name, scores in (metrics.get("per_class") or {}).items():
            if name not in class_names:
                class_names.append(name)
            row[f"iou {name}"] = (scores or {}).get("iou")
        rows.append(row)
    return [*_BASE_COLUMNS, *(f"iou {n}" for n in class_names)], rows


def write_compare_csv(path: Path | str, root: Path | str | None, extra: Sequence[Path] = ()) -> Path:
    """The compare table as CSV (raw numbers: seconds, bytes, fractions), one row per run."""
    columns, rows = compare_rows(root, extra)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, [*columns, "folder"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return Path(path)


def _float(value) -> float | None:
    if isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _display(column: str, value) -> str:
    if value is None or value == "":
        return "–"
    if column in ("best_val_mean_iou", "mean_iou", "mean_dice", "pixel_accuracy") or column.startswith("iou "):
        return f"{float(value):.3f}"
    if column == "train_seconds":
        s = int(round(float(value)))
        return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
    if column == "model_bytes":
        return f"{float(value) / 1e6:.1f} MB"
    if column == "params":
        return f"{value / 1e6:.2f} M" if value >= 1e6 else f"{value / 1e3:.1f} k"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def _sort_key(value) -> tuple:
    """Numbers as numbers, then text, then empty cells."""
    number = _float(value)
    if number is not None:
        return 0, number, ""
    return (2, 0.0, "") if value is None or value == "" else (1, 0.0, str(value))


class RunsModel(QAbstractTableModel):
    """The compare rows of one dataset; column 0 carries the tick box and the run folder."""

    checkedChanged = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.columns: list[str] = list(_BASE_COLUMNS)
        self.rows: list[dict] = []
        self.checked: set[str] = set()

    def load(self, root: Path | None, extra: Sequence[Path] = ()) -> None:
        """Replace the rows with the runs of `root` and the `extra` run folders; ticks of runs that are gone are
        dropped."""
        columns, rows = compare_rows(root, extra) if root is not None or extra else (list(_BASE_COLUMNS), [])
        self.beginResetModel()
        self.columns, self.rows = columns, rows
        gone = self.checked - {r["folder"] for r in rows}
        self.checked -= gone
        self.endResetModel()
        if gone:
            self.checkedChanged.emit()

    def folder_at(self, row: int) -> str:
        return self.rows[row]["folder"]

    def row_of(self, folder: str) -> int | None:
        return next((i for i, r in enumerate(self.rows) if r["folder"] == folder), None)

    # ------------------------------------------------------------------ QAbstractTableModel

    def rowCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            column = self.columns[section]
            return _HEADERS.get(column, column.replace("iou ", "IoU "))
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return _HEADER_TIPS.get(self.columns[section])
        return None

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row, column = self.rows[index.row()], self.columns[index.column()]
        value = row.get(column)
        if role == Qt.ItemDataRole.DisplayRole:
            return _display(column, value)
        if role == Qt.ItemDataRole.TextAlignmentRole and _float(value) is not None:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if index.column() == 0 and role == Qt.ItemDataRole.CheckStateRole:
            return Qt.CheckState.Checked if row["folder"] in self.checked else Qt.CheckState.Unchecked
        if index.column() == 0 and role == Qt.ItemDataRole.ToolTipRole:
            return row["folder"]
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        flags = super().flags(index)
        return flags | Qt.ItemFlag.ItemIsUserCheckable if index.column() == 0 else flags

    def setData(self, index: _Index, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if index.column() != 0 or role != Qt.ItemDataRole.CheckStateRole:
            return False
        folder = self.rows[index.row()]["folder"]
        checked = Qt.CheckState(value) == Qt.CheckState.Checked
        if checked == (folder in self.checked):
            return True
        self.checked.symmetric_difference_update({folder})
        self.dataChanged.emit(index, index, [Qt.ItemDataRole.CheckStateRole])
        self.checkedChanged.emit()
        return True

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        if not 0 <= column < len(self.columns):
            return
        self.layoutAboutToBeChanged.emit()
        before = list(self.rows)
        key = self.columns[column]
        self.rows.sort(key=lambda r: _sort_key(r.get(key)), reverse=order == Qt.SortOrder.DescendingOrder)
        position = {id(r): i for i, r in enumerate(self.rows)}
        persistent = self.persistentIndexList()  # the selection follows its run
        self.changePersistentIndexList(
            persistent, [self.index(position[id(before[i.row()])], i.column()) for i in persistent])
        self.layoutChanged.emit()


class RunsView(QWidget):
    """Run list / compare table. Tick a run to draw its curves beside the current run; select it to show it."""

    runSelected = Signal(str)  # a run folder
    checkedChanged = Signal()  # the set of ticked runs changed
    historyChanged = Signal(str)  # a run folder's history.csv changed on disk (a live run, the GUI's or the CLI's)
    exportPngRequested = Signal(str)  # path chosen for the curves PNG (the plots widget owns the figure)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._root: Path | None = None
        self._followed: list[Path] = []  # run folders outside the dataset (File ▸ Open run…)
        self._signature: dict[str, tuple] = {}
        self._quiet = False  # a selection made by select(emit=False)
        self.model = RunsModel(self)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setSortIndicator(0, Qt.SortOrder.DescendingOrder)  # newest first
        self.table.setSortingEnabled(True)
        self.table.setMinimumHeight(110)
        self.table.setToolTip("Tick a run to draw its curves beside the current one; select it to show it.")
        self.refresh_button = QPushButton("Refresh")
        self.csv_button = QPushButton("Export CSV…")
        self.png_button = QPushButton("Export PNG…")
        self.png_button.setToolTip("Save the curves as a PNG image")
        buttons = QHBoxLayout()
        for b in (self.refresh_button, self.csv_button, self.png_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        self.refresh_button.clicked.connect(self.refresh)
        self.csv_button.clicked.connect(self._ask_csv)
        self.png_button.clicked.connect(self._ask_png)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)
        self.model.checkedChanged.connect(self.checkedChanged)
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.poll)
        self._set_buttons()

    # ------------------------------------------------------------------ public

    def set_root(self, root: Path | str | None) -> None:
        """Follow the runs of the dataset at `root` (None: show nothing)."""
        self._root = None if root is None else Path(root)
        self._signature = {}
        self.refresh()
        self._set_timer()

    def follow(self, folder: Path | str) -> None:
        """Show and follow the run in `folder` (anywhere: another dataset, a share) beside the dataset's runs."""
        folder = Path(folder)
        if folder not in self._followed:
            self._followed.append(folder)
        self.refresh()
        self._set_timer()

    def refresh(self) -> None:
        """Reload the table, keeping ticks, sort order and selection by folder."""
        selected = self.selected_folder()
        self._signature = self._scan()
        self.model.load(self._root, self._followed)
        header = self.table.horizontalHeader()
        self.model.sort(header.sortIndicatorSection(), header.sortIndicatorOrder())
        self.table.resizeColumnsToContents()  # once here; a ResizeToContents header re-measures on every change
        if selected is not None:
            self.select(selected, emit=False)
        self._set_buttons()

    def folders(self) -> list[str]:
        return [r["folder"] for r in self.model.rows]

    def checked_folders(self) -> list[str]:
        return [f for f in self.folders() if f in self.model.checked]

    def selected_folder(self) -> str | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.folder_at(rows[0].row()) if rows else None

    def select(self, folder: str, emit: bool = True) -> None:
        row = self.model.row_of(folder)
        if row is None:
            return
        self._quiet = not emit
        try:
            self.table.selectRow(row)
        finally:
            self._quiet = False

    def label_of(self, folder: str) -> str:
        """A run's short name for legends (its folder name: start time and model)."""
        return Path(folder).name

    def poll(self) -> None:
        """Refresh when runs appear or disappear; report history.csv files that changed (a run in progress)."""
        if self._root is None and not self._followed:
            return
        new = self._scan()
        if new == self._signature:
            return
        changed = [f for f in new if f in self._signature and new[f][0] != self._signature[f][0]]
        self.refresh()
        for folder in changed:
            self.historyChanged.emit(folder)

    # ------------------------------------------------------------------ internals

    def _scan(self) -> dict[str, tuple]:
        """folder -> (history.csv, metrics.json) mtime and size: the cheap fingerprint of every run."""
        folders: list[str] = []
        if self._root is not None:
            try:
                folders = [entry.path for entry in os.scandir(runs_dir(self._root)) if entry.is_dir()]
            except OSError:
                pass
        result: dict[str, tuple] = {}
        for folder in [*folders, *map(str, self._followed)]:
            stamp = []
            for name in ("history.csv", "metrics.json"):
                try:
                    st = os.stat(os.path.join(folder, name))
                    stamp.append((st.st_mtime_ns, st.st_size))
                except OSError:
                    stamp.append(None)
            result[str(Path(folder))] = tuple(stamp)
        return result

    def _set_timer(self) -> None:
        if self._root is None and not self._followed:
            self._timer.stop()
        else:
            self._timer.start()

    def _set_buttons(self) -> None:
        has = self.model.rowCount() > 0
        self.csv_button.setEnabled(has)
        self.png_button.setEnabled(has)
        self.refresh_button.setEnabled(self._root is not None or bool(self._followed))

    def _on_selection(self, *_args) -> None:
        folder = self.selected_folder()
        if folder is not None and not self._quiet:
            self.runSelected.emit(folder)

    def _ask_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export runs as CSV", "runs.csv", "CSV (*.csv)")
        if path and (self._root is not None or self._followed):
            write_compare_csv(path, self._root, self._followed)

    def _ask_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export curves as PNG", "curves.png", "PNG image (*.png)")
        if path:
            self.exportPngRequested.emit(path)
