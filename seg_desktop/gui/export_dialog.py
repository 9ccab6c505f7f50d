"""Export predicted masks (index, colour or overlay PNGs) of all or the selected images, and export the model.

The engine's `ml.predict.export_predictions` does the work on a worker thread (`workers.run_in_thread`), with
a progress bar and a stop; TensorFlow is imported there, never on the GUI thread. "Export model" copies the
run's best.keras (else last.keras) to a file the user picks, atomically, so a full disk or a crash never leaves
a half-written model where a good one was expected.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QDialog, QFileDialog, QFormLayout, QHBoxLayout,
                               QLabel, QLineEdit, QProgressBar, QPushButton, QRadioButton, QVBoxLayout, QWidget)

from ..core.atomic import atomic_write_bytes
from ..core.dataset import Dataset, open_dataset
from ..core.errors import DatasetError
from ..core.writeguard import dataset_reads
from .prediction import load_run_cached
from .workers import run_in_thread

FORMATS = (("index", "Index PNG (class numbers)"), ("color", "Colour PNG (class colours)"),
           ("overlay", "Overlay on the image"))


def export_masks(run_folder: Path, dataset_root: Path, keys: Sequence[str], out_dir: Path, fmt: str,
                 probabilities: bool, stop: threading.Event, progress: Callable[[object], None],
                 problems: list[str] | None = None) -> list[Path]:
    """Worker-thread body: reopen the dataset, load the run, export `keys`; progress gets (done, total). With
    `problems`, an image that cannot be read, predicted or written is skipped and its sentence appended."""
    from ..ml.predict import export_predictions

    dataset = open_dataset(dataset_root)
    by_key = {s.key: s for s in dataset.samples}
    missing = [k for k in keys if k not in by_key]
    if missing:
        raise DatasetError(f"{dataset_root / missing[0]} is no longer in the folder; reopen the folder and export "
                           "again.", dataset_root / missing[0])
    run = load_run_cached(run_folder)
    return export_predictions(run, dataset, [by_key[k] for k in keys], out_dir, fmt=fmt,
                              probabilities=probabilities, stop=stop, problems=problems,
                              progress=lambda done, total, _key: progress((done, total)))


def copy_model(run_folder: Path, dest: Path) -> Path:
    """Copy the run's best.keras (else last.keras) to `dest` (a .keras name) atomically."""
    from ..ml.predict import MODEL_FILES

    source = next((run_folder / n for n in MODEL_FILES if (run_folder / n).is_file()), None)
    if source is None:
        raise DatasetError(f"{run_folder} holds no {' or '.join(MODEL_FILES)}; train the run for at least one "
                           "epoch first.", run_folder)
    try:
        atomic_write_bytes(dest, source.read_bytes())
    except OSError as exc:
        raise DatasetError(f"Cannot write {dest} ({exc.strerror}); choose another place.", dest) from None
    return dest


class ExportDialog(QDialog):
    """Choose run, format, images, output folder and probabilities; export with progress; or export the model.

    `runs` are run folders, the default first (the window passes the best first); `selected` are the browser's selected
    keys. Choices are remembered in QSettings (group "export").
    """

    exported = Signal(list)  # the written mask files
    modelExported = Signal(str)
    failed = Signal(str)

    def __init__(self, dataset: Dataset, runs: Sequence[Path], selected: Sequence[str] = (),
                 parent: QWidget | None = None, settings: QSettings | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export predictions")
        self.dataset = dataset
        self.selected = list(selected)
        self.settings = settings if settings is not None else QSettings()
        self.written: list[Path] = []
        self.problems: list[str] = []  # one sentence per skipped image, filled by the worker of an export
        self._stop = threading.Event()
        self._running = False

        self.run_combo = QComboBox()
        for folder in runs:
            self.run_combo.addItem(Path(folder).name, str(folder))
        self.format_group = QButtonGroup(self)
        formats = QVBoxLayout()
        saved_fmt = self.settings.value("export/format", "index")
        for i, (fmt, label) in enumerate(FORMATS):
            button = QRadioButton(label)
            button.setProperty("fmt", fmt)
            button.setChecked(fmt == saved_fmt)
            self.format_group.addButton(button, i)
            formats.addWidget(button)
        self.all_radio = QRadioButton(f"All images ({len(dataset.samples)})")
        self.selected_radio = QRadioButton(f"Selected images ({len(self.selected)})")
        self.selected_radio.setEnabled(bool(self.selected))
        self.all_radio.setChecked(True)  # the whole folder is what an export is usually for
        scope = QVBoxLayout()
        scope.addWidget(self.all_radio)
        scope.addWidget(self.selected_radio)
        self.out_edit = QLineEdit(str(self.settings.value("export/folder", "")))
        self.out_edit.setPlaceholderText("Folder for the predicted masks")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        out_row = QHBoxLayout()
        out_row.addWidget(self.out_edit, 1)
        out_row.addWidget(browse)
        self.probs_check = QCheckBox("Also save class probabilities (.npy) and uncertainty (PNG)")
        self.probs_check.setChecked(self.settings.value("export/probabilities", False, type=bool))
        form = QFormLayout()
        form.addRow("Run:", self.run_combo)
        form.addRow("Format:", formats)
        form.addRow("Images:", scope)
        form.addRow("Output folder:", out_row)
        form.addRow("", self.probs_check)

        self.progress_bar = QProgressBar()
        self.progress_bar.setValue(0)
        self.status = QLabel("" if runs else "No trained run yet: train a model first.")
        self.status.setWordWrap(True)
        self.export_button = QPushButton("Export masks")
        self.export_button.setDefault(True)
        self.export_button.clicked.connect(self.start_export)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.model_button = QPushButton("Export model…")
        self.model_button.setToolTip("Copy the run's best model (.keras) to a file of your choice.")
        self.model_button.clicked.connect(lambda: self.export_model())
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(self.model_button)
        buttons.addStretch(1)
        for b in (self.export_button, self.stop_button, close):
            buttons.addWidget(b)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.status)
        layout.addLayout(buttons)
        self._set_running(False)

    # ------------------------------------------------------------------ choices

    def run_folder(self) -> Path | None:
        data = self.run_combo.currentData()
        return Path(data) if data else None

    def fmt(self) -> str:
        return self.format_group.checkedButton().property("fmt")

    def set_format(self, fmt: str) -> None:
        self.format_group.button([f for f, _ in FORMATS].index(fmt)).setChecked(True)

    def set_output_folder(self, folder: Path | str) -> None:
        self.out_edit.setText(str(folder))

    def keys(self) -> list[str]:
        return self.selected if self.selected_radio.isChecked() else [s.key for s in self.dataset.samples]

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Export predicted masks to", self.out_edit.text())
        if folder:
            self.set_output_folder(folder)

    # ------------------------------------------------------------------ export masks

    def start_export(self) -> bool:
        """Start exporting with the current choices; False (and a sentence in the status line) if it cannot."""
        run, out = self.run_folder(), self.out_edit.text().strip()
        if self._running:
            return False
        if run is None:
            return self._refuse("No trained run to export with; train a model first.")
        if not out:
            return self._refuse("Choose an output folder first.")
        out_dir = Path(out).expanduser()
        if dataset_reads(self.dataset, out_dir):  # the worker's write guard refuses it too; say so at once
            return self._refuse(f"{out_dir} holds the dataset's own images or masks; choose another folder so no "
                                "image or mask is overwritten or shadowed.")
        keys = self.keys()
        self.settings.setValue("export/format", self.fmt())
        self.settings.setValue("export/folder", str(out_dir))
        self.settings.setValue("export/probabilities", self.probs_check.isChecked())
        self._stop.clear()
        self.written = []
        self.problems = []  # a new list: a worker still running from before keeps its own
        self.progress_bar.setRange(0, max(len(keys), 1))
        self.progress_bar.setValue(0)
        self.status.setText("Loading the model…")
        self._set_running(True)
        run_in_thread(export_masks, run, self.dataset.root, keys, out_dir, self.fmt(), self.probs_check.isChecked(),
                      self._stop, problems=self.problems, on_progress=self._progress, on_result=self._done,
                      on_error=self._error, on_finished=lambda: self._set_running(False))
        return True

    def _refuse(self, message: str) -> bool:
        self.status.setText(message)
        return False

    def stop(self) -> None:
        self._stop.set()
        if self._running:
            self.status.setText("Stopping after the current image…")

    def is_running(self) -> bool:
        return self._running

    def _progress(self, value: tuple[int, int]) -> None:
        done, total = value
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(done)
        self.status.setText(f"Exported {done} of {total} images.")

    def _done(self, written: list[Path]) -> None:
        self.written = list(written)
        stopped = " (stopped)" if self._stop.is_set() else ""
        skipped = "" if not self.problems else (f"; {len(self.problems)} image(s) skipped, the first because: "
                                                f"{self.problems[0]}")
        self.status.setText(f"Exported {len(written)} mask(s) to {self.out_edit.text()}{stopped}{skipped or '.'}")
        self.exported.emit(self.written)

    def _error(self, exc: BaseException) -> None:
        message = str(exc) if isinstance(exc, DatasetError) else (
            f"The export failed ({type(exc).__name__}: {exc}); check the output folder and try again.")
        self.status.setText(message)
        self.failed.emit(message)

    def _set_running(self, running: bool) -> None:
        self._running = running
        self.export_button.setEnabled(not running and self.run_combo.count() > 0)
        self.model_button.setEnabled(not running and self.run_combo.count() > 0)
        self.stop_button.setEnabled(running)

    # ------------------------------------------------------------------ export model

    def export_model(self, dest: Path | str | None = None) -> bool:
        """Copy the run's model to `dest` (asks with a file dialog when None); a '.keras' suffix is added."""
        run = self.run_folder()
        if run is None:
            return self._refuse("No trained run to export; train a model first.")
        if dest is None:
            dest, _ = QFileDialog.getSaveFileName(self, "Export model", f"{run.name}.keras", "Keras model (*.keras)")
            if not dest:
                return False
        dest = Path(dest).expanduser()
        if dest.suffix != ".keras":
            dest = dest.with_name(dest.name + ".keras")
        self.status.setText(f"Copying the model to {dest}…")
        self._set_running(True)
        run_in_thread(copy_model, run, dest, on_result=self._model_done, on_error=self._error,
                      on_finished=lambda: self._set_running(False))
        return True

    def _model_done(self, dest: Path) -> None:
        self.status.setText(f"Model saved as {dest}.")
        self.modelExported.emit(str(dest))

    def done(self, result: int) -> None:
        self._stop.set()  # an export still running ends after the current image
        super().done(result)
