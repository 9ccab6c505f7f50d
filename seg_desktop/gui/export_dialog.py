"""Export predicted masks (index, colour or overlay PNGs) of all or the selected images, or the predictions or the
ground truth in another tool's format (COCO, YOLO, CVAT, VOC, LabelMe, Cityscapes, index/colour folders), and
export the model.

The engine's `ml.predict.export_predictions` (or `core.formats.transfer.export_masks`, which reads the export back
and reports any difference) does the work on a worker thread (`workers.run_in_thread`), with a progress bar and a
stop; TensorFlow is imported there, never on the GUI thread. "Export model" writes the run's model as Keras,
SavedModel or ONNX with model.json and predict.py into a folder the user picks (`ml.export.export_model`, which
reads the export back and compares it with the Keras model before anything is written).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QDialog, QFileDialog, QFormLayout, QHBoxLayout,
                               QLabel, QLineEdit, QProgressBar, QPushButton, QRadioButton, QVBoxLayout, QWidget)

from ..core.dataset import Dataset, open_dataset
from ..core.errors import DatasetError
from ..core.formats import FORMAT_NAMES, get_format
from ..core.writeguard import dataset_reads
from .prediction import load_run_cached
from .workers import run_in_thread

FORMATS = (("index", "Index PNG (class numbers)"), ("color", "Colour PNG (class colours)"),
           ("overlay", "Overlay on the image"), ("tool", "Another tool's format, with the images:"))
SOURCES = (("run", "Predictions of the run"), ("truth", "Ground-truth masks"))


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


def export_in_format(source: str, run_folder: Path | None, dataset_root: Path, keys: Sequence[str], out_dir: Path,
                     fmt: str, stop: threading.Event, progress: Callable[[object], None]):
    """Worker-thread body: the run's predictions (`source` "run") or the ground truth ("truth", labelled images
    only) of `keys` in the tool format `fmt`, read back and compared (`core.formats.transfer.ExportResult`)."""
    from ..core.formats.transfer import export_masks as export_format
    from ..core.formats.transfer import planned_samples

    dataset = open_dataset(dataset_root)
    by_key = {s.key: s for s in dataset.samples}
    samples = [by_key[k] for k in keys if k in by_key and (source == "run" or by_key[k].labelled)]
    if not samples:
        raise DatasetError(f"None of the chosen images of {dataset_root} has a mask; label some images first or "
                           "export the run's predictions.", dataset_root)
    if source == "run":
        from ..ml.inference import predict_sample

        run = load_run_cached(run_folder)
        classes = run.classes

        def load(sample):
            return predict_sample(run, dataset, sample, probabilities=False)[1].mask
    else:
        classes, load = dataset.classes, dataset.read_mask
    items = [(p, lambda s=s: load(s)) for p, s in zip(planned_samples(samples), samples)]
    return export_format(items, classes, fmt, out_dir, dataset=dataset, stop=stop,
                         progress=lambda done, total: progress((done, total)))


MODEL_FORMATS = (("keras", "Keras (.keras)"), ("savedmodel", "TensorFlow SavedModel"), ("onnx", "ONNX"))


def export_deployable(run_folder: Path, fmt: str, out_dir: Path, dataset_root: Path):
    """Worker-thread body: the run's model as `fmt` in `out_dir`, checked on the open dataset's images
    (`ml.export.ExportResult`)."""
    from ..ml.export import export_model

    return export_model(run_folder, fmt, out_dir, data=dataset_root)


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
        self.setWindowTitle("Export masks")
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
        self.source_combo = QComboBox()
        for source, label in SOURCES:
            self.source_combo.addItem(label, source)
        self.source_combo.setCurrentIndex(max(0, self.source_combo.findData(self.settings.value("export/source",
                                                                                                 "run"))))
        self.format_group = QButtonGroup(self)
        formats = QVBoxLayout()
        saved_fmt = self.settings.value("export/format", "index")
        for i, (fmt, label) in enumerate(FORMATS):
            button = QRadioButton(label)
            button.setProperty("fmt", fmt)
            button.setChecked(fmt == saved_fmt)
            self.format_group.addButton(button, i)
            formats.addWidget(button)
        self.tool_combo = QComboBox()
        for name in FORMAT_NAMES:
            self.tool_combo.addItem(get_format(name).TITLE, name)
        self.tool_combo.setCurrentIndex(max(0, self.tool_combo.findData(self.settings.value("export/tool_format",
                                                                                             "coco"))))
        self.tool_combo.setToolTip("The export is read back before it is reported done: raster formats must match "
                                   "every pixel, polygon formats each class with IoU of at least 0.99.")
        self.tool_combo.activated.connect(lambda _i: self.set_format("tool"))
        formats.addWidget(self.tool_combo)
        self.source_combo.currentIndexChanged.connect(self._source_changed)
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
        form.addRow("Masks:", self.source_combo)
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
        self.model_format_combo = QComboBox()
        for fmt, label in MODEL_FORMATS:
            self.model_format_combo.addItem(label, fmt)
        self.model_format_combo.setCurrentIndex(max(0, self.model_format_combo.findData(
            self.settings.value("export/model_format", "savedmodel"))))
        self.model_format_combo.setToolTip("The model's format for use outside seg-desktop; ONNX needs "
                                           "`pip install 'seg-desktop[onnx]'`.")
        self.model_button = QPushButton("Export model…")
        self.model_button.setToolTip("Write the run's best model with model.json and a standalone predict.py into "
                                     "a new or empty folder, after checking it predicts like the Keras model.")
        self.model_button.clicked.connect(lambda: self.export_model())
        close = QPushButton("Close")
        close.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addWidget(QLabel("Model as:"))
        buttons.addWidget(self.model_format_combo)
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
        self._source_changed()

    # ------------------------------------------------------------------ choices

    def run_folder(self) -> Path | None:
        data = self.run_combo.currentData()
        return Path(data) if data else None

    def fmt(self) -> str:
        return self.format_group.checkedButton().property("fmt")

    def set_format(self, fmt: str) -> None:
        """One of FORMATS' names, or a tool format's (FORMAT_NAMES), which chooses "tool" and that format."""
        if fmt not in [f for f, _ in FORMATS]:
            self.tool_combo.setCurrentIndex(self.tool_combo.findData(fmt))
            fmt = "tool"
        self.format_group.button([f for f, _ in FORMATS].index(fmt)).setChecked(True)

    def tool_format(self) -> str:
        return self.tool_combo.currentData()

    def source(self) -> str:
        return self.source_combo.currentData()

    def set_source(self, source: str) -> None:
        self.source_combo.setCurrentIndex(self.source_combo.findData(source))

    def _source_changed(self) -> None:
        """Ground truth goes out in a tool's format only: the flat PNGs are how predictions are written."""
        truth = self.source() == "truth"
        for button in self.format_group.buttons():
            button.setEnabled(not truth or button.property("fmt") == "tool")
        if truth:
            self.set_format("tool")
        self.probs_check.setEnabled(not truth)
        self._set_running(self._running)

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
        if run is None and self.source() == "run":
            return self._refuse("No trained run to export with; train a model first.")
        if not out:
            return self._refuse("Choose an output folder first.")
        out_dir = Path(out).expanduser()
        if dataset_reads(self.dataset, out_dir):  # the worker's write guard refuses it too; say so at once
            return self._refuse(f"{out_dir} holds the dataset's own images or masks; choose another folder so no "
                                "image or mask is overwritten or shadowed.")
        keys = self.keys()
        self.settings.setValue("export/source", self.source())
        self.settings.setValue("export/tool_format", self.tool_format())
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
        if self.fmt() == "tool":
            run_in_thread(export_in_format, self.source(), run, self.dataset.root, keys, out_dir, self.tool_format(),
                          self._stop, on_progress=self._progress, on_result=self._checked, on_error=self._error,
                          on_finished=lambda: self._set_running(False))
            return True
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

    def _checked(self, result) -> None:
        """A tool-format export finished and was read back: say how it compared, differences first."""
        stopped = " (stopped)" if self._stop.is_set() else ""
        skipped = "" if not result.problems else (f"; {len(result.problems)} image(s) skipped, the first because: "
                                                  f"{result.problems[0]}")
        if result.differences:
            message = (f"Exported {result.written} mask(s) to {result.out}{stopped}, but reading them back found "
                       f"{len(result.differences)} difference(s), the first: {result.differences[0]}")
            self.status.setText(message)
            self.failed.emit(message)
            return
        check = ("every pixel matches" if result.worst_iou is None else
                 f"every class within IoU {result.worst_iou:.4f}")
        self.status.setText(f"Exported {result.written} mask(s) to {result.out}{stopped} and read them back: "
                            f"{check}{skipped or '.'}")
        self.exported.emit([result.out])

    def _error(self, exc: BaseException) -> None:
        message = str(exc) if isinstance(exc, DatasetError) else (
            f"The export failed ({type(exc).__name__}: {exc}); check the output folder and try again.")
        self.status.setText(message)
        self.failed.emit(message)

    def _set_running(self, running: bool) -> None:
        self._running = running
        truth = self.source_combo.currentData() == "truth"
        self.export_button.setEnabled(not running and (truth or self.run_combo.count() > 0))
        self.model_button.setEnabled(not running and self.run_combo.count() > 0)
        self.model_format_combo.setEnabled(not running)
        self.stop_button.setEnabled(running)

    # ------------------------------------------------------------------ export model

    def model_format(self) -> str:
        return self.model_format_combo.currentData()

    def export_model(self, folder: Path | str | None = None) -> bool:
        """Export the run's model in the chosen format into `folder` (a new or empty one; asks when None)."""
        run = self.run_folder()
        if run is None:
            return self._refuse("No trained run to export; train a model first.")
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "Export the model to a new or empty folder")
            if not folder:
                return False
        folder = Path(folder).expanduser()
        self.settings.setValue("export/model_format", self.model_format())
        self.status.setText(f"Exporting the model to {folder} and checking it against the Keras model…")
        self._set_running(True)
        run_in_thread(export_deployable, run, self.model_format(), folder, self.dataset.root,
                      on_result=self._model_done, on_error=self._error, on_finished=lambda: self._set_running(False))
        return True

    def _model_done(self, result) -> None:
        self.status.setText(f"Exported the {dict(MODEL_FORMATS)[result.fmt]} model with model.json and predict.py "
                            f"to {result.folder}; "
                            f"it predicts like the Keras model ({result.parity}).")
        self.modelExported.emit(str(result.folder))

    def done(self, result: int) -> None:
        self._stop.set()  # an export still running ends after the current image
        super().done(result)
