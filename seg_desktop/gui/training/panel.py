"""The training dock: settings form, Train/Stop, progress with ETA, live curves and the runs of the dataset.

The panel only holds Qt state: it builds a `TrainConfig` (TensorFlow-free) from the form, hands it to a
`TrainingWorker` in a QThread and draws what the worker's signals report. Settings are remembered in QSettings
(group "training") so the next session starts where the user left off.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QSettings, Qt, QThread, Signal, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from seg_desktop.core.dataset import Dataset
from seg_desktop.ml.config import CLASS_WEIGHTS, LOSSES, TrainConfig, parse_size
from seg_desktop.ml.runs import read_history

from .plots import TrainingPlots
from .runs_view import RunsView
from ..workers import start_worker_thread
from .worker import TrainingWorker

SETTINGS_GROUP = "training"
START_FROM = (("scratch", "Scratch"), ("run", "A previous run"), ("encoder", "Encoder weights file"))
_LOSS_LABELS = {"ce": "Cross-entropy", "dice": "Dice", "ce+dice": "Cross-entropy + Dice"}
_WEIGHT_LABELS = {"none": "None", "median": "Median frequency"}


def _format_eta(seconds: float) -> str:
    s = max(0, int(round(seconds)))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class TrainingPanel(QWidget):
    """Hosted in a dock by the main window: `set_dataset()`, and `stop_and_wait()` from its closeEvent."""

    runFinished = Signal(str)  # run folder (also for a run stopped early: it has its best checkpoint)
    runSelected = Signal(str)  # run folder chosen in the runs table
    statusMessage = Signal(str)
    trainingActive = Signal(bool)
    epochEnded = Signal(int, dict)  # epoch (0-based), its history.csv row: for a status bar, tests, benchmarks

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._dataset: Dataset | None = None
        self._thread: QThread | None = None
        self._worker: TrainingWorker | None = None
        self._current_run: str | None = None  # folder shown as the bold curves (live or selected)
        self._info: dict = {}
        self._t0 = 0.0
        self._build()
        self.load_settings()
        self._update_enabled()
        app = QCoreApplication.instance()
        if app is not None:  # quitting without a closeEvent must still end the thread before Qt is torn down
            app.aboutToQuit.connect(self._on_about_to_quit)

    # ------------------------------------------------------------------ UI

    def _build(self) -> None:
        d = TrainConfig(data="")  # the form starts from the engine's defaults, so GUI and CLI runs agree
        self.model_combo = QComboBox()
        self.model_combo.addItem("UNet", "unet")
        self.model_combo.addItem("SegNet", "segnet")
        self.model_combo.setCurrentIndex(self.model_combo.findData(d.model))
        self.size_edit = QLineEdit(str(d.size[0]) if d.size[0] == d.size[1] else f"{d.size[0]}x{d.size[1]}")
        self.size_edit.setToolTip("Training size: N for NxN, or HxW such as 360x480.")
        self.epochs_spin = QSpinBox(minimum=1, maximum=10000, value=d.epochs)
        self.batch_spin = QSpinBox(minimum=1, maximum=1024, value=d.batch)
        self.lr_spin = QDoubleSpinBox(decimals=6, minimum=1e-6, maximum=1.0, singleStep=1e-4, value=d.lr)
        self.filters_spin = QSpinBox(minimum=1, maximum=256, value=d.base_filters)
        self.filters_spin.setToolTip("UNet base filters; 64 is the paper's ~31M-parameter model.")
        self.width_spin = QDoubleSpinBox(decimals=3, minimum=0.03, maximum=2.0, singleStep=0.125, value=d.width)
        self.width_spin.setToolTip("SegNet width multiplier; 1.0 is the paper's ~29.5M-parameter model.")
        self.loss_combo = QComboBox()
        for key in LOSSES:
            self.loss_combo.addItem(_LOSS_LABELS.get(key, key), key)
        self.loss_combo.setCurrentIndex(self.loss_combo.findData(d.loss))
        self.weights_combo = QComboBox()
        for key in CLASS_WEIGHTS:
            self.weights_combo.addItem(_WEIGHT_LABELS.get(key, key), key)
        self.weights_combo.setCurrentIndex(self.weights_combo.findData(d.class_weights))
        self.augment_check = QCheckBox("Augmentation")
        self.augment_check.setChecked(d.augment)
        self.val_spin = QDoubleSpinBox(decimals=2, minimum=0.0, maximum=0.9, singleStep=0.05, value=d.val_split)
        self.start_combo = QComboBox()
        for key, label in START_FROM:
            self.start_combo.addItem(label, key)
        self.start_edit = QLineEdit()
        self.start_edit.setPlaceholderText("run folder or weights file")
        self.browse_button = QPushButton("…")
        self.browse_button.setFixedWidth(28)
        self.child_check = QCheckBox("Separate process")
        self.child_check.setChecked(True)
        self.child_check.setToolTip("Train in a child process: the window stays smooth, an out-of-memory ends only "
                                    "the training, and GPU memory is released after each run.")

        grid = QGridLayout()
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(4)
        start_row = QHBoxLayout()
        start_row.addWidget(self.start_edit, 1)
        start_row.addWidget(self.browse_button)
        self.filters_label, self.width_label = QLabel("Base filters"), QLabel("Width")
        fields = [("Model", self.model_combo), ("Size", self.size_edit), ("Epochs", self.epochs_spin),
                  ("Batch", self.batch_spin), ("Learning rate", self.lr_spin), (self.filters_label, self.filters_spin),
                  (self.width_label, self.width_spin), ("Loss", self.loss_combo),
                  ("Class weights", self.weights_combo), ("Val split", self.val_spin)]
        for i, (label, widget) in enumerate(fields):
            row, col = divmod(i, 2)
            grid.addWidget(label if isinstance(label, QLabel) else QLabel(label), row, 2 * col)
            grid.addWidget(widget, row, 2 * col + 1)
        row = (len(fields) + 1) // 2
        grid.addWidget(self.augment_check, row, 0, 1, 2)
        grid.addWidget(self.child_check, row, 2, 1, 2)
        grid.addWidget(QLabel("Start from"), row + 1, 0)
        grid.addWidget(self.start_combo, row + 1, 1)
        grid.addLayout(start_row, row + 1, 2, 1, 2)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        settings_box = QGroupBox("Settings")
        settings_box.setLayout(grid)

        self.train_button = QPushButton("Train")
        self.train_button.setDefault(True)
        self.stop_button = QPushButton("Stop")
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("Idle")
        self.progress.setValue(0)
        self.message_label = QLabel()
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        controls = QHBoxLayout()
        controls.addWidget(self.train_button)
        controls.addWidget(self.stop_button)
        controls.addWidget(self.progress, 1)

        self.plots = TrainingPlots()
        self.runs_view = RunsView()
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.plots)
        splitter.addWidget(self.runs_view)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([560, 200])

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(settings_box)
        layout.addLayout(controls)
        layout.addWidget(self.message_label)
        layout.addWidget(splitter, 1)

        self.train_button.clicked.connect(self.start_training)
        self.stop_button.clicked.connect(self.request_stop)
        self.model_combo.currentIndexChanged.connect(self._update_model_fields)
        self.start_combo.currentIndexChanged.connect(self._update_enabled)
        self.browse_button.clicked.connect(self._browse_start)
        self.runs_view.runSelected.connect(self._on_run_selected)
        self.runs_view.checkedChanged.connect(self._update_overlays)
        self.runs_view.historyChanged.connect(self._on_history_changed)
        self.runs_view.exportPngRequested.connect(self.plots.save_png)
        self._update_model_fields()

    # ------------------------------------------------------------------ public API

    def set_dataset(self, dataset: Dataset | None) -> None:
        """The dataset to train on (None: nothing open). Its runs fill the compare table."""
        self._dataset = dataset
        self._current_run = None
        self._forget_foreign_run(dataset)
        if not self.is_training():
            self.plots.clear()
        self.runs_view.set_root(None if dataset is None else dataset.root)
        self._update_enabled()

    def _forget_foreign_run(self, dataset: Dataset | None) -> None:
        """A remembered "start from" run of another folder would silently fine-tune that folder's model here:
        opening a folder starts from scratch again unless the run belongs to it (a user can still pick any run)."""
        if dataset is None or self.start_combo.currentData() != "run":
            return
        path = Path(self.start_edit.text().strip()).expanduser()
        if not (path.is_dir() and path.resolve().is_relative_to(dataset.state_dir.resolve())):
            self.start_combo.setCurrentIndex(self.start_combo.findData("scratch"))
            self.start_edit.clear()

    def is_training(self) -> bool:
        return self._thread is not None

    def config_from_form(self) -> TrainConfig:
        """The TrainConfig the form describes; raises ValueError with one sentence when a field is impossible."""
        if self._dataset is None:
            raise ValueError("Open a dataset folder first.")
        start, path = self.start_combo.currentData(), self.start_edit.text().strip() or None
        if start != "scratch" and path is None:
            raise ValueError("Choose the run folder or weights file to start from, or start from scratch.")
        if start != "scratch" and not Path(path).exists():
            raise ValueError(f"{path} does not exist; choose another run folder or weights file.")
        config = TrainConfig(
            data=str(self._dataset.root), model=self.model_combo.currentData(), epochs=self.epochs_spin.value(),
            size=parse_size(self.size_edit.text().strip()), batch=self.batch_spin.value(), lr=self.lr_spin.value(),
            base_filters=self.filters_spin.value(), width=self.width_spin.value(), val_split=self.val_spin.value(),
            augment=self.augment_check.isChecked(), loss=self.loss_combo.currentData(),
            class_weights=self.weights_combo.currentData(), resume=path if start == "run" else None,
            encoder_weights=path if start == "encoder" else None)
        config.validate()
        return config

    @Slot()
    def start_training(self) -> bool:
        """Start a run with the form's settings; False (and a message) when the settings are not usable."""
        if self.is_training():
            return False
        try:
            config = self.config_from_form()
        except ValueError as exc:
            self._show_message(str(exc), error=True)
            return False
        self.save_settings()
        self._info, self._current_run, self._t0 = {}, None, time.monotonic()
        self.plots.start_run(config.epochs)
        self.progress.setRange(0, 0)  # busy until the engine reports its steps
        self.progress.setFormat("Starting…")
        self._show_message(f"Training {self.model_combo.currentText()} on {self._dataset.root.name}…")
        worker = TrainingWorker(config, in_child=self.child_check.isChecked())
        self._worker = worker
        self._thread = start_worker_thread(
            worker, worker.done, {worker.began: self._on_began, worker.batchDone: self._on_batch,
                                  worker.epochDone: self._on_epoch, worker.finished: self._on_finished,
                                  worker.failed: self._on_failed},
            self._on_thread_finished, name="seg-desktop-training")
        self._update_enabled()
        self.trainingActive.emit(True)
        return True

    @Slot()
    def request_stop(self) -> None:
        """Stop after the current batch; the run keeps its best checkpoint and history."""
        if self._worker is not None:
            self._worker.request_stop()
            self.progress.setFormat("Stopping after this batch…")
            self.stop_button.setEnabled(False)

    def stop_and_wait(self, timeout_ms: int = 30000) -> bool:
        """For the window's closeEvent: stop training and wait for the thread to end. A child process that has
        not ended within `timeout_ms` is killed (its best checkpoint so far stays). True when nothing runs now."""
        thread, worker = self._thread, self._worker
        if thread is None or worker is None:
            return True
        worker.request_stop()
        ended = thread.wait(max(0, int(timeout_ms)))
        if not ended and worker.in_child:
            worker.kill()
            ended = thread.wait(10000)
        if ended:
            self._on_thread_finished()
        self.save_settings()
        return ended

    # ------------------------------------------------------------------ settings

    def save_settings(self) -> None:
        s = QSettings()
        s.beginGroup(SETTINGS_GROUP)
        values = {"model": self.model_combo.currentData(), "size": self.size_edit.text().strip(),
                  "epochs": self.epochs_spin.value(), "batch": self.batch_spin.value(), "lr": self.lr_spin.value(),
                  "base_filters": self.filters_spin.value(), "width": self.width_spin.value(),
                  "loss": self.loss_combo.currentData(), "class_weights": self.weights_combo.currentData(),
                  "augment": self.augment_check.isChecked(), "val_split": self.val_spin.value(),
                  "start_from": self.start_combo.currentData(), "start_path": self.start_edit.text().strip(),
                  "separate_process": self.child_check.isChecked()}
        for key, value in values.items():
            s.setValue(key, value)
        s.endGroup()

    def load_settings(self) -> None:
        """Restore the form; values of the wrong type (a hand-edited or old settings file) are ignored."""
        s = QSettings()
        s.beginGroup(SETTINGS_GROUP)

        def value(key, kind):
            v = s.value(key)
            if v is None:
                return None
            try:
                return (str(v).lower() in ("true", "1")) if kind is bool else kind(v)
            except (TypeError, ValueError):
                return None

        for combo, key in ((self.model_combo, "model"), (self.loss_combo, "loss"),
                           (self.weights_combo, "class_weights"), (self.start_combo, "start_from")):
            i = combo.findData(value(key, str))
            if i >= 0:
                combo.setCurrentIndex(i)
        for spin, key, kind in ((self.epochs_spin, "epochs", int), (self.batch_spin, "batch", int),
                                (self.lr_spin, "lr", float), (self.filters_spin, "base_filters", int),
                                (self.width_spin, "width", float), (self.val_spin, "val_split", float)):
            v = value(key, kind)
            if v is not None:
                spin.setValue(v)
        for check, key in ((self.augment_check, "augment"), (self.child_check, "separate_process")):
            v = value(key, bool)
            if v is not None:
                check.setChecked(v)
        for edit, key in ((self.size_edit, "size"), (self.start_edit, "start_path")):
            v = value(key, str)
            if v:
                edit.setText(v)
        s.endGroup()

    # ------------------------------------------------------------------ worker signals

    @Slot(dict)
    def _on_began(self, info: dict) -> None:
        self._info = info
        self._t0 = time.monotonic()
        self._current_run = str(info.get("run_dir") or "") or None
        epochs, initial = int(info.get("epochs", 1)), int(info.get("initial_epoch", 0) or 0)
        steps = max(1, int(info.get("steps_per_epoch", 1) or 1))
        self.progress.setRange(0, max(1, (epochs - initial) * steps))
        self.progress.setValue(0)
        rows = read_history(self._current_run) if initial and self._current_run else []
        self.plots.start_run(epochs, initial, rows)
        self.progress.setFormat(f"Epoch {initial + 1}/{epochs} · building the model…")

    @Slot(int, int, int, float)
    def _on_batch(self, epoch: int, step: int, steps: int, loss: float) -> None:
        self.plots.add_batch(epoch, step, steps, loss)
        if not self._info or not self.stop_button.isEnabled():
            return
        epochs, initial = int(self._info.get("epochs", 1)), int(self._info.get("initial_epoch", 0) or 0)
        steps = max(1, steps)
        done = (epoch - initial) * steps + step + 1
        total = max(1, (epochs - initial) * steps)
        elapsed = time.monotonic() - self._t0
        eta = elapsed / done * (total - done) if done else 0.0
        self.progress.setValue(min(done, total))
        self.progress.setFormat(f"Epoch {epoch + 1}/{epochs} · batch {step + 1}/{steps} · ETA {_format_eta(eta)}")

    @Slot(int, dict)
    def _on_epoch(self, epoch: int, logs: dict) -> None:
        self.plots.add_epoch(logs)
        iou = logs.get("val_mean_iou")
        text = f"Epoch {epoch + 1}: loss {float(logs.get('loss', float('nan'))):.4f}"
        if iou not in (None, ""):
            text += f", val mean IoU {float(iou):.3f}"
        self.statusMessage.emit(text)
        self.epochEnded.emit(epoch, logs)

    @Slot(str, bool)
    def _on_finished(self, folder: str, stopped: bool) -> None:
        self._current_run = folder
        name = Path(folder).name
        self._show_message(f"Run {name} {'stopped; its best checkpoint is kept' if stopped else 'finished'}.")
        self.progress.setFormat("Stopped" if stopped else "Done")
        self.runs_view.refresh()
        self.runFinished.emit(folder)

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        self._show_message(message, error=True)
        self.progress.setFormat("Failed")

    @Slot()
    def _on_thread_finished(self) -> None:
        thread, worker = self._thread, self._worker
        if thread is None:
            return
        self._thread = self._worker = None
        worker.deleteLater()
        thread.deleteLater()
        if self.progress.maximum() == 0:
            self.progress.setRange(0, 1)
        self._update_enabled()
        self.trainingActive.emit(False)

    @Slot()
    def _on_about_to_quit(self) -> None:
        self.stop_and_wait(30000)

    # ------------------------------------------------------------------ runs table

    @Slot(str)
    def _on_run_selected(self, folder: str) -> None:
        if self.start_combo.currentData() == "run":
            self.start_edit.setText(folder)
        if not self.is_training():
            self._current_run = folder
            self._show_run(folder)
        self.runSelected.emit(folder)

    @Slot(str)
    def _on_history_changed(self, folder: str) -> None:
        """A history.csv changed on disk: follow it when it is the run shown (e.g. started from the CLI)."""
        if folder == self._current_run and not self.is_training():
            self._show_run(folder)
        if folder in self.runs_view.checked_folders():
            self._update_overlays()

    def _show_run(self, folder: str) -> None:
        self.plots.show_history(read_history(folder))

    @Slot()
    def _update_overlays(self) -> None:
        live = self._current_run if self.is_training() else None
        self.plots.set_overlays([(self.runs_view.label_of(f), read_history(f))
                                 for f in self.runs_view.checked_folders() if f != live])

    # ------------------------------------------------------------------ helpers

    def _show_message(self, text: str, error: bool = False) -> None:
        self.message_label.setStyleSheet("color: #b00020;" if error else "")
        self.message_label.setText(text)
        self.statusMessage.emit(text)

    @Slot()
    def _update_model_fields(self) -> None:
        unet = self.model_combo.currentData() == "unet"
        for w in (self.filters_label, self.filters_spin):
            w.setEnabled(unet)
        for w in (self.width_label, self.width_spin):
            w.setEnabled(not unet)

    @Slot()
    def _update_enabled(self) -> None:
        training = self.is_training()
        self.train_button.setEnabled(not training and self._dataset is not None)
        self.stop_button.setEnabled(training)
        for w in (self.model_combo, self.size_edit, self.epochs_spin, self.batch_spin, self.lr_spin,
                  self.loss_combo, self.weights_combo, self.augment_check, self.val_spin, self.start_combo,
                  self.child_check):
            w.setEnabled(not training)
        from_file = self.start_combo.currentData() != "scratch"
        self.start_edit.setEnabled(from_file and not training)
        self.browse_button.setEnabled(from_file and not training)
        if not training:
            self._update_model_fields()
        else:
            for w in (self.filters_spin, self.width_spin):
                w.setEnabled(False)

    @Slot()
    def _browse_start(self) -> None:
        if self.start_combo.currentData() == "run":
            start = str(self._dataset.state_dir / "runs") if self._dataset is not None else ""
            path = QFileDialog.getExistingDirectory(self, "Run to start from", start)
        else:
            path, _ = QFileDialog.getOpenFileName(self, "VGG16 encoder weights", "",
                                                  "Keras weights (*.h5 *.weights.h5 *.keras);;All files (*)")
        if path:
            self.start_edit.setText(path)
