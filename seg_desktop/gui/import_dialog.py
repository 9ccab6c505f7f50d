"""File ▸ Import…: bring images and masks from another tool (COCO, YOLO, CVAT, VOC, LabelMe, Cityscapes, index or
colour folders) into a new seg-desktop dataset folder, then open it.

`core.formats.transfer.import_masks` does the work on a worker thread with a progress bar and a stop; the source
is only read, and every skipped file or shape is listed in the dialog, one line each.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QFileDialog, QFormLayout, QHBoxLayout, QLabel,
                               QLineEdit, QPlainTextEdit, QProgressBar, QPushButton, QVBoxLayout, QWidget)

from ..core.errors import DatasetError
from ..core.formats import FORMAT_NAMES, get_format
from ..core.paths import display_path
from .workers import run_in_thread

if TYPE_CHECKING:
    from .main_window import MainWindow

LINKS = (("copy", "Copy them"), ("hard", "Hard-link them (no extra space, same disk)"),
         ("sym", "Symlink them (the source must stay where it is)"))


def import_in_worker(src: Path, fmt: str, out: Path, link: str, stop: threading.Event,
                     progress: Callable[[object], None]):
    """Worker-thread body: `import_masks` with its progress as one (done, total) value for the Qt signal."""
    from ..core.formats.transfer import import_masks

    return import_masks(src, fmt, out, link=link, stop=stop, progress=lambda done, total: progress((done, total)))


class ImportDialog(QDialog):
    """Choose the source, its format, the new dataset folder and how the images come along; import with progress.
    Choices are remembered in QSettings (group "import")."""

    imported = Signal(str)  # the new dataset folder
    failed = Signal(str)

    def __init__(self, parent: QWidget | None = None, settings: QSettings | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Import masks from another tool")
        self.settings = settings if settings is not None else QSettings()
        self.result = None
        self._stop = threading.Event()
        self._running = False

        self.source_edit = QLineEdit(str(self.settings.value("import/source", "")))
        self.source_edit.setPlaceholderText("Folder (or COCO .json file) to import; it is only read")
        folder_button = QPushButton("Folder…")
        folder_button.clicked.connect(self._browse_source)
        file_button = QPushButton("File…")
        file_button.setToolTip("A COCO annotation file")
        file_button.clicked.connect(self._browse_file)
        source_row = QHBoxLayout()
        source_row.addWidget(self.source_edit, 1)
        source_row.addWidget(folder_button)
        source_row.addWidget(file_button)
        self.format_combo = QComboBox()
        for name in FORMAT_NAMES:
            self.format_combo.addItem(get_format(name).TITLE, name)
        self.format_combo.setCurrentIndex(max(0, self.format_combo.findData(self.settings.value("import/format",
                                                                                                 "coco"))))
        self.out_edit = QLineEdit()
        self.out_edit.setPlaceholderText("New or empty folder for the dataset (images/, masks/, classes.csv)")
        out_button = QPushButton("Browse…")
        out_button.clicked.connect(self._browse_out)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out_edit, 1)
        out_row.addWidget(out_button)
        self.link_combo = QComboBox()
        for link, label in LINKS:
            self.link_combo.addItem(label, link)
        self.link_combo.setCurrentIndex(max(0, self.link_combo.findData(self.settings.value("import/link", "copy"))))
        self.open_check = QCheckBox("Open the new dataset when done")
        self.open_check.setChecked(True)
        form = QFormLayout()
        form.addRow("Source:", source_row)
        form.addRow("Format:", self.format_combo)
        form.addRow("New dataset:", out_row)
        form.addRow("Images:", self.link_combo)
        form.addRow("", self.open_check)
        rule = QLabel("Where shapes overlap, the later one in the file wins; pixels no shape covers are class 0 "
                      "(background).")
        rule.setWordWrap(True)

        self.progress_bar = QProgressBar()
        self.progress_bar.setValue(0)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.problems_view = QPlainTextEdit()
        self.problems_view.setReadOnly(True)
        self.problems_view.setPlaceholderText("Skipped files and shapes are listed here.")
        self.problems_view.setMaximumHeight(120)
        self.import_button = QPushButton("Import")
        self.import_button.setDefault(True)
        self.import_button.clicked.connect(self.start_import)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self._stop.set)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for b in (self.import_button, self.stop_button, close):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(rule)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status)
        layout.addWidget(self.problems_view)
        layout.addLayout(buttons)
        self.resize(640, self.sizeHint().height())
        self._set_running(False)

    def set_choices(self, src: Path | str, fmt: str, out: Path | str, link: str = "copy") -> None:
        self.source_edit.setText(str(src))
        self.format_combo.setCurrentIndex(self.format_combo.findData(fmt))
        self.out_edit.setText(str(out))
        self.link_combo.setCurrentIndex(self.link_combo.findData(link))

    def _browse_source(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder to import", self.source_edit.text())
        if folder:
            self.source_edit.setText(folder)

    def _browse_file(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "COCO annotation file", self.source_edit.text(), "JSON (*.json)")
        if path:
            self.source_edit.setText(path)
            self.format_combo.setCurrentIndex(self.format_combo.findData("coco"))

    def _browse_out(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "New dataset folder", self.out_edit.text())
        if folder:
            self.out_edit.setText(folder)

    def start_import(self) -> bool:
        """Start with the current choices; False (and a sentence in the status line) if it cannot start."""
        src, out = self.source_edit.text().strip(), self.out_edit.text().strip()
        if self._running:
            return False
        if not src or not out:
            self.status.setText("Choose the source to import and a new folder for the dataset first.")
            return False
        fmt, link = self.format_combo.currentData(), self.link_combo.currentData()
        for key, value in (("source", src), ("format", fmt), ("link", link)):
            self.settings.setValue(f"import/{key}", value)
        self._stop.clear()
        self.problems_view.clear()
        self.progress_bar.setRange(0, 0)  # busy until the source is listed
        self.status.setText("Reading the source…")
        self._set_running(True)
        run_in_thread(import_in_worker, Path(src).expanduser(), fmt, Path(out).expanduser(), link, self._stop,
                      on_progress=self._progress, on_result=self._done, on_error=self._error,
                      on_finished=lambda: self._set_running(False))
        return True

    def _progress(self, value: tuple[int, int]) -> None:
        done, total = value
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(done)
        self.status.setText(f"Imported {done} of {total} images.")

    def _done(self, result) -> None:
        self.result = result
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(1)
        stopped = " (stopped)" if self._stop.is_set() else ""
        skipped = f"; {len(result.problems)} file(s) or shape(s) were skipped, listed below" if result.problems else ""
        self.status.setText(f"Imported {result.images} images and {result.masks} masks with "
                            f"{len(result.classes.classes)} classes into {display_path(result.out)}{stopped}"
                            f"{skipped or '.'}")
        self.problems_view.setPlainText("\n".join(result.problems))
        self.imported.emit(str(result.out))

    def _error(self, exc: BaseException) -> None:
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        message = str(exc) if isinstance(exc, DatasetError) else (
            f"The import failed ({type(exc).__name__}: {exc}); check the source and its format.")
        self.status.setText(message)
        self.failed.emit(message)

    def _set_running(self, running: bool) -> None:
        self._running = running
        self.import_button.setEnabled(not running)
        self.stop_button.setEnabled(running)

    def is_running(self) -> bool:
        return self._running

    def done(self, result: int) -> None:
        self._stop.set()  # an import still running ends after the current image
        super().done(result)


def show_import_dialog(window: MainWindow) -> None:
    """File ▸ Import…: the dialog over `window`; the new dataset opens there when the user asked for it."""
    dialog = ImportDialog(window, settings=window.settings)
    dialog.imported.connect(lambda folder: dialog.open_check.isChecked() and window.open_folder(Path(folder)))
    dialog.exec()
