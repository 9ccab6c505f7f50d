"""The runs of a dataset as a compare table (UNet vs SegNet and others), following the runs folder live.

Each row is one run folder: its parameters (config.json), best val mean IoU (history.csv), the final evaluation
(metrics.json: mean IoU, Dice, pixel accuracy, per-class IoU), the training time (sum of history `seconds`) and
the model size (best.keras bytes). Ticking a run's box draws its curves beside the current run; selecting a row
shows it as the current run. A run started from the CLI in the same folder appears by itself and its curves
follow its history.csv: a 1 s QTimer compares the mtimes of the runs folder's files (cheap stats, and unlike a
QFileSystemWatcher it keeps working when the runs folder does not exist yet or sits on a network drive).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from seg_desktop.ml.runs import list_runs, read_history, runs_dir

POLL_MS = 1000
_FOLDER_ROLE = Qt.ItemDataRole.UserRole + 1
_BASE_COLUMNS = ("run", "model", "created", "epochs", "best_val_mean_iou", "mean_iou", "mean_dice",
                 "pixel_accuracy", "train_seconds", "model_bytes", "size", "batch", "lr", "base_filters", "width",
                 "loss", "class_weights", "augment", "val_split")
_HEADERS = {"run": "Run", "model": "Model", "created": "Created", "epochs": "Epochs",
            "best_val_mean_iou": "Best val IoU", "mean_iou": "Mean IoU", "mean_dice": "Mean Dice",
            "pixel_accuracy": "Pixel acc.", "train_seconds": "Train time", "model_bytes": "Model size",
            "size": "Size", "batch": "Batch", "lr": "LR", "base_filters": "Filters", "width": "Width",
            "loss": "Loss", "class_weights": "Class weights", "augment": "Augment", "val_split": "Val split"}


def compare_rows(root: Path | str) -> tuple[list[str], list[dict]]:
    """The compare table of every run of dataset `root` as (columns, rows of raw values), newest first.

    Shared by the table and its CSV export so both always hold the same numbers.
    """
    infos = list_runs(root)
    class_names: list[str] = []
    rows = []
    for info in infos:
        cfg, metrics = info.config or {}, info.metrics or {}
        history = read_history(info.folder)
        best = Path(info.folder) / "best.keras"
        size = cfg.get("size") or ["", ""]
        row = {
            "run": Path(info.folder).name, "model": info.model, "created": info.created, "epochs": info.epochs,
            "best_val_mean_iou": info.best_val_mean_iou, "mean_iou": metrics.get("mean_iou"),
            "mean_dice": metrics.get("mean_dice"), "pixel_accuracy": metrics.get("pixel_accuracy"),
            "train_seconds": sum(_float(r.get("seconds")) or 0.0 for r in history),
            "model_bytes": best.stat().st_size if best.is_file() else None,
            "size": f"{size[0]}x{size[1]}", "batch": cfg.get("batch"), "lr": cfg.get("lr"),
            "base_filters": cfg.get("base_filters") if info.model == "unet" else None,
            "width": cfg.get("width") if info.model == "segnet" else None, "loss": cfg.get("loss"),
            "class_weights": cfg.get("class_weights"), "augment": cfg.get("augment"),
            "val_split": cfg.get("val_split"), "folder": str(info.folder),
        }
        for name, scores in (metrics.get("per_class") or {}).items():
            if name not in class_names:
                class_names.append(name)
            row[f"iou {name}"] = (scores or {}).get("iou")
        rows.append(row)
    return [*_BASE_COLUMNS, *(f"iou {n}" for n in class_names)], rows


def write_compare_csv(path: Path | str, root: Path | str) -> Path:
    """The compare table as CSV (raw numbers: seconds, bytes, fractions), one row per run."""
    columns, rows = compare_rows(root)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, [*columns, "folder"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return Path(path)


def _float(value) -> float | None:
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
    if column == "augment":
        return "yes" if value else "no"
    return str(value)


class _Item(QTableWidgetItem):
    """Sorts by the raw value (numbers as numbers), shows the formatted text."""

    def __init__(self, column: str, value) -> None:
        super().__init__(_display(column, value))
        self.raw = value
        number = _float(value)
        if number is not None and not isinstance(value, bool):
            self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        a, b = _float(self.raw), _float(getattr(other, "raw", None))
        if a is not None and b is not None:
            return a < b
        return self.text() < other.text()


class RunsView(QWidget):
    """Run list / compare table. Tick a run to draw its curves beside the current run; select it to show it."""

    runSelected = Signal(str)  # a run folder
    checkedChanged = Signal()  # the set of ticked runs changed
    historyChanged = Signal(str)  # a run folder's history.csv changed on disk (a live run, the GUI's or the CLI's)
    exportPngRequested = Signal(str)  # path chosen for the curves PNG (the plots widget owns the figure)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._root: Path | None = None
        self._signature: dict[str, tuple] = {}
        self._columns: list[str] = list(_BASE_COLUMNS)
        self.table = QTableWidget(0, len(self._columns))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.setMinimumHeight(110)
        self.table.setToolTip("Tick a run to draw its curves beside the current one; select it to show it.")
        self.refresh_button = QPushButton("Refresh")
        self.csv_button = QPushButton("Export CSV…")
        self.png_button = QPushButton("Export curves PNG…")
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
        self.table.itemSelectionChanged.connect(self._on_selection)
        self.table.itemChanged.connect(self._on_item_changed)
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
        if self._root is None:
            self._timer.stop()
        else:
            self._timer.start()

    def refresh(self) -> None:
        """Reload the table, keeping ticks and selection by folder."""
        checked, selected = set(self.checked_folders()), self.selected_folder()
        self._signature = self._scan()
        columns, rows = compare_rows(self._root) if self._root is not None else (list(_BASE_COLUMNS), [])
        self._columns = columns
        table = self.table
        table.blockSignals(True)
        table.setSortingEnabled(False)
        table.clearContents()
        table.setColumnCount(len(columns))
        table.setHorizontalHeaderLabels([_HEADERS.get(c, c.replace("iou ", "IoU ")) for c in columns])
        table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            for c, column in enumerate(columns):
                item = _Item(column, row.get(column))
                if c == 0:
                    item.setData(_FOLDER_ROLE, row["folder"])
                    item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
                    item.setCheckState(Qt.CheckState.Checked if row["folder"] in checked else Qt.CheckState.Unchecked)
                    item.setToolTip(row["folder"])
                table.setItem(r, c, item)
        table.setSortingEnabled(True)
        table.resizeColumnsToContents()  # once here; a ResizeToContents header re-measures on every change
        table.blockSignals(False)
        if selected is not None:
            self.select(selected, emit=False)
        self._set_buttons()
        if checked - set(self.checked_folders()):
            self.checkedChanged.emit()

    def folders(self) -> list[str]:
        return [self.table.item(r, 0).data(_FOLDER_ROLE) for r in range(self.table.rowCount())]

    def checked_folders(self) -> list[str]:
        return [self.table.item(r, 0).data(_FOLDER_ROLE) for r in range(self.table.rowCount())
                if self.table.item(r, 0).checkState() == Qt.CheckState.Checked]

    def set_checked(self, folder: str, checked: bool = True) -> None:
        row = self._row_of(folder)
        if row is not None:
            self.table.item(row, 0).setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    def selected_folder(self) -> str | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        return self.table.item(rows[0].row(), 0).data(_FOLDER_ROLE) if rows else None

    def select(self, folder: str, emit: bool = True) -> None:
        row = self._row_of(folder)
        if row is None:
            return
        self.table.blockSignals(not emit)
        self.table.selectRow(row)
        self.table.blockSignals(False)

    def label_of(self, folder: str) -> str:
        """A run's short name for legends (its folder name: start time and model)."""
        return Path(folder).name

    def poll(self) -> None:
        """Refresh when runs appear or disappear; report history.csv files that changed (a run in progress)."""
        if self._root is None:
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
        if self._root is None:
            return {}
        folder = runs_dir(self._root)
        result: dict[str, tuple] = {}
        try:
            entries = list(os.scandir(folder))
        except OSError:
            return result
        for entry in entries:
            if not entry.is_dir():
                continue
            stamp = []
            for name in ("history.csv", "metrics.json"):
                try:
                    st = os.stat(os.path.join(entry.path, name))
                    stamp.append((st.st_mtime_ns, st.st_size))
                except OSError:
                    stamp.append(None)
            result[str(Path(entry.path))] = tuple(stamp)
        return result

    def _row_of(self, folder: str) -> int | None:
        for r in range(self.table.rowCount()):
            if self.table.item(r, 0).data(_FOLDER_ROLE) == folder:
                return r
        return None

    def _set_buttons(self) -> None:
        has = self.table.rowCount() > 0
        self.csv_button.setEnabled(has)
        self.png_button.setEnabled(has)
        self.refresh_button.setEnabled(self._root is not None)

    def _on_selection(self) -> None:
        folder = self.selected_folder()
        if folder is not None:
            self.runSelected.emit(folder)

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if item.column() == 0:
            self.checkedChanged.emit()

    def _ask_csv(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export runs as CSV", "runs.csv", "CSV (*.csv)")
        if path and self._root is not None:
            write_compare_csv(path, self._root)

    def _ask_png(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export curves as PNG", "curves.png", "PNG image (*.png)")
        if path:
            self.exportPngRequested.emit(path)
