"""The training dock: the settings form, Train/Stop, progress with ETA, live curves and the runs of the dataset.

The panel only holds Qt state: it builds a `TrainConfig` (TensorFlow-free) from the form (generated from the
config's metadata, see form.py), hands it to a `TrainingWorker` in a QThread and draws what the worker's signals
report. It learns of epochs one way per run: the worker's EpochRecords while it owns the run, the run's
history.csv (polled by the runs view) when it follows a run it does not own, such as one started from the CLI.
Settings are remembered in QSettings (group "training") so the next session starts where the user left off.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QSettings, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QSplitter, QVBoxLayout, QWidget

from ...core.dataset import Dataset
from ...core.paths import display_path
from ...ml.config import TrainConfig
from ...ml.listener import EpochRecord
from ...ml.runs import list_runs, read_history, run_info
from ..workers import start_worker_thread
from .estimate import epoch_estimate, gpu_present
from .form import SettingsForm
from .plots import TrainingPlots
from .runs_view import RunsView
from .worker import TrainingWorker

SETTINGS_GROUP = "training"
# A Stop the engine has not finished by then (model still building, validation or a save under way) ends the
# child process: checkpoints are written atomically and history.csv last, so the best one of the finished epochs
# stays. Measured on the sample data: every phase stops within 2 s (tests/gui/test_labeller_day_training.py).
STOP_GRACE_MS = 1000
# The first start's form (no remembered settings): a run the sample data finishes in a few minutes on a 2-core
# CPU (UNet 16 filters at 128 px: ~4 s per epoch there), larger where a GPU is present.
QUICK_START = {"size_edit": "128", "epochs_spin": 15, "filters_spin": 16}
GPU_START = {"size_edit": "256", "epochs_spin": 40, "filters_spin": 32}


def _format_eta(seconds: float) -> str:
    s = max(0, int(round(seconds)))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def _records(folder: str) -> list[EpochRecord]:
    """A run's history.csv as EpochRecords, the one shape the plots take."""
    return [EpochRecord.from_row(row) for row in read_history(folder)]


class TrainingPanel(QWidget):
    """Hosted in a dock by the main window: `set_dataset()`, and `stop_and_wait()` from its closeEvent."""

    runFinished = Signal(str)  # run folder (also for a run stopped early: it has its best checkpoint)
    runSelected = Signal(str)  # run folder chosen in the runs table
    statusMessage = Signal(str)
    trainingActive = Signal(bool)
    epochEnded = Signal(object)  # the EpochRecord of the panel's own run: for a status bar, tests, benchmarks

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._dataset: Dataset | None = None
        self._thread: QThread | None = None
        self._worker: TrainingWorker | None = None
        self._current_run: str | None = None  # folder shown as the bold curves (live or selected)
        self._live_run: str | None = None  # folder the panel's own worker writes (its epochs come as messages)
        self._info: dict = {}
        self._t0 = 0.0
        self._two_columns_width: int | None = None
        self._build()
        self.load_settings()
        self._update_enabled()
        app = QCoreApplication.instance()
        if app is not None:  # quitting without a closeEvent must still end the thread before Qt is torn down
            app.aboutToQuit.connect(self._on_about_to_quit)

    # ------------------------------------------------------------------ UI

    def _build(self) -> None:
        self.form = SettingsForm()
        for name, widget in self.form.widgets.items():  # model_combo, size_edit, …: the form's generated widgets
            setattr(self, name, widget)
        self.train_button = QPushButton("Train")
        self.train_button.setDefault(True)
        self.stop_button = QPushButton("Stop")
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        self.progress.setValue(0)
        self.progress.setVisible(False)  # an idle bar reads as an empty text box: shown only while training
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
        layout.addWidget(self.form)
        layout.addLayout(controls)
        layout.addWidget(self.message_label)
        layout.addWidget(splitter, 1)

        self.train_button.clicked.connect(self.start_training)
        for widget in self.form.widgets.values():
            signal = getattr(widget, "currentIndexChanged", None) or getattr(widget, "valueChanged", None) \
                or getattr(widget, "textChanged", None)
            if signal is not None:
                signal.connect(self.update_estimate)
        self.stop_button.clicked.connect(self.request_stop)
        self.runs_view.runSelected.connect(self._on_run_selected)
        self.runs_view.checkedChanged.connect(self._update_overlays)
        self.runs_view.historyChanged.connect(self._on_history_changed)
        self.runs_view.exportPngRequested.connect(self.plots.save_png)

    def fit_width(self, width: int) -> None:
        """Lay the form out for `width` pixels (the dock's scroll area calls this as it resizes): two settings per
        row when they fit, else one, so a narrow dock scrolls only down, never sideways."""
        if self._two_columns_width is None:
            self.form.set_columns(2)
            self._two_columns_width = self.minimumSizeHint().width()
        self.form.set_columns(2 if width >= self._two_columns_width else 1)

    # ------------------------------------------------------------------ public API

    def set_dataset(self, dataset: Dataset | None) -> None:
        """The dataset to train on (None: nothing open). Its runs fill the compare table."""
        self._dataset = dataset
        self._current_run = None
        self.form.runs_folder = "" if dataset is None else str(dataset.state_dir / "runs")
        self._forget_foreign_run(dataset)
        if not self.is_training():
            self.plots.clear()
            self.plots.set_run_name("")
        self.runs_view.set_root(None if dataset is None else dataset.root)
        runs = list_runs(dataset.root) if dataset is not None and not self.is_training() else []
        if runs:  # reopening a folder shows its newest run's curves, as they were when it was closed
            self._current_run = str(runs[0].folder)
            self._show_run(self._current_run)
        self._update_enabled()
        self.update_estimate()

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

    def open_run(self, folder: Path | str) -> bool:
        """Follow the run in `folder` (any run folder: another dataset's, a cluster's output on a share): it joins
        the runs table, its curves draw from its history.csv as it grows, and selecting it makes it the model
        that predicts (runSelected). False, with one sentence, when the folder holds no run."""
        folder = Path(folder).expanduser().resolve()
        if run_info(folder) is None:
            self._show_message(f"{display_path(folder)} holds no readable config.json, so it is not a run folder; "
                               "choose a folder made by `seg-desktop train` (or by this window).", error=True)
            return False
        self.runs_view.follow(folder)
        self.runs_view.select(str(folder), emit=not self.is_training())
        row = self.runs_view.model.row_of(str(folder))
        if self.is_training() and row is not None:  # the live run keeps the bold curves; this one is drawn beside
            self.runs_view.model.setData(self.runs_view.model.index(row, 0), Qt.CheckState.Checked,
                                         Qt.ItemDataRole.CheckStateRole)
        history = read_history(folder)
        state = "finished" if (folder / "metrics.json").is_file() else f"{len(history)} epochs so far, followed live"
        self._show_message(f"Run {folder.name} ({state}).")
        return True

    def config_from_form(self) -> TrainConfig:
        """The TrainConfig the form describes; raises ValueError with one sentence when a field is impossible."""
        if self._dataset is None:
            raise ValueError("Open a dataset folder first.")
        config = self.form.config(self._dataset.root)
        config.validate()
        return config

    def focus_form(self) -> None:
        """Put the keyboard in the form: the Train button (Enter starts) or, while training, Stop."""
        (self.stop_button if self.is_training() else self.train_button).setFocus(Qt.FocusReason.ShortcutFocusReason)

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
        self.plots.start_run(1 if config.minutes else config.epochs)  # a time budget's axis grows by epoch
        self.progress.setRange(0, 0)  # busy until the engine reports its steps
        self.progress.setFormat("Starting…")
        self._show_message(f"Training on {self._dataset.root.name}…")
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
            worker = self._worker
            worker.request_stop()
            self.progress.setFormat("Stopping…")
            self._show_message("Stopping… the best checkpoint so far is kept.")
            self.stop_button.setEnabled(False)
            QTimer.singleShot(STOP_GRACE_MS, lambda: worker is self._worker and worker.kill())

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
        self.form.save(s)
        s.endGroup()

    def load_settings(self) -> None:
        """Restore the form; values of the wrong type (a hand-edited or old settings file) are ignored."""
        s = QSettings()
        s.beginGroup(SETTINGS_GROUP)
        first_start = not s.childKeys()
        self.form.load(s)
        s.endGroup()
        if first_start:
            for name, value in (GPU_START if gpu_present() else QUICK_START).items():
                widget = self.form.widgets[name]
                widget.setText(value) if isinstance(value, str) else widget.setValue(value)

    @Slot()
    def update_estimate(self) -> None:
        """The Train button says how long an epoch took the last time these settings ran on this folder."""
        seconds, minutes = None, 0.0
        if self._dataset is not None:
            try:
                config = self.form.config(self._dataset.root)
                seconds, minutes = epoch_estimate(self._dataset.root, config), config.minutes
            except ValueError:
                seconds = None
        text = "Train" if seconds is None else f"Train (~{_format_eta(seconds)} per epoch"
        if seconds is not None:  # a time budget: how many epochs it holds
            text += f", ~{max(1, round(minutes * 60 / seconds))} epochs)" if minutes else ")"
        self.train_button.setText(text)
        self.train_button.setToolTip("Start a run with these settings" + (
            "" if seconds is not None else "; the time per epoch shows once a run with them has trained here"))

    # ------------------------------------------------------------------ worker signals

    @Slot(dict)
    def _on_began(self, info: dict) -> None:
        self._info = info
        self._t0 = time.monotonic()
        self._current_run = self._live_run = str(info.get("run_dir") or "") or None
        epochs, initial = int(info.get("epochs", 1)), int(info.get("initial_epoch", 0) or 0)
        steps = max(1, int(info.get("steps_per_epoch", 1) or 1))
        budget = float(info.get("minutes") or 0) * 60
        # Under a time budget the bar is the time (in 1/1000s of it) and the epoch count is only a bound.
        self.progress.setRange(0, 1000 if budget else max(1, (epochs - initial) * steps))
        self.progress.setValue(0)
        self.plots.start_run(initial + 1 if budget else epochs, initial,
                             _records(self._current_run) if initial and self._current_run else [])
        self.progress.setFormat(f"Epoch {initial + 1}{'' if budget else f'/{epochs}'} · building the model…")
        self.plots.set_run_name(Path(self._current_run).name if self._current_run else "")

    @Slot(int, int, int, float)
    def _on_batch(self, epoch: int, step: int, steps: int, loss: float) -> None:
        self.plots.add_batch(epoch, step, steps, loss)
        if not self._info or not self.stop_button.isEnabled():
            return
        epochs, initial = int(self._info.get("epochs", 1)), int(self._info.get("initial_epoch", 0) or 0)
        budget = float(self._info.get("minutes") or 0) * 60
        steps = max(1, steps)
        elapsed = time.monotonic() - self._t0
        if budget:  # the engine ends the run when the budget is spent (ml/schedule.py TimeBudget)
            self.progress.setValue(min(1000, int(1000 * elapsed / budget)))
            self.progress.setFormat(f"Epoch {epoch + 1} · batch {step + 1}/{steps} · "
                                    f"ETA {_format_eta(budget - elapsed)}")
            return
        done = (epoch - initial) * steps + step + 1
        total = max(1, (epochs - initial) * steps)
        eta = elapsed / done * (total - done) if done else 0.0
        self.progress.setValue(min(done, total))
        self.progress.setFormat(f"Epoch {epoch + 1}/{epochs} · batch {step + 1}/{steps} · ETA {_format_eta(eta)}")

    @Slot(object)
    def _on_epoch(self, record: EpochRecord) -> None:
        self.plots.add_epoch(record)
        text = f"Epoch {record.epoch}: loss {record.loss:.4f}"
        if record.val_mean_iou is not None:
            text += f", val mean IoU {record.val_mean_iou:.3f}"
        self.statusMessage.emit(text)
        self.epochEnded.emit(record)

    @Slot(str, bool)
    def _on_finished(self, folder: str, stopped: bool) -> None:
        self.progress.setFormat("Stopped" if stopped else "Done")
        self.runs_view.refresh()
        self.update_estimate()
        if not folder or not (Path(folder) / "best.keras").is_file():
            self._show_message("Stopped before the first epoch ended; there is no model to keep.")
            return
        self._current_run = folder
        name = Path(folder).name
        self._show_message(f"Run {name} {'stopped; its best checkpoint is kept' if stopped else 'finished'}.")
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
        self._thread = self._worker = self._live_run = None
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
        """A history.csv changed on disk. The panel's own live run is ignored (its epochs arrive as messages);
        any other run shown or ticked is followed from the file (e.g. one started from the CLI)."""
        if folder == self._live_run:
            return
        if folder == self._current_run:
            self._show_run(folder)
        if folder in self.runs_view.checked_folders():
            self._update_overlays()

    def _show_run(self, folder: str) -> None:
        self.plots.show_history(_records(folder))
        self.plots.set_run_name(Path(folder).name)

    @Slot()
    def _update_overlays(self) -> None:
        self.plots.set_overlays([(self.runs_view.label_of(f), _records(f))
                                 for f in self.runs_view.checked_folders() if f != self._live_run])

    # ------------------------------------------------------------------ helpers

    def _show_message(self, text: str, error: bool = False) -> None:
        self.message_label.setStyleSheet("color: #b00020;" if error else "")
        self.message_label.setText(text)
        self.statusMessage.emit(text)

    @Slot()
    def _update_enabled(self) -> None:
        training = self.is_training()
        if training:
            self.progress.setVisible(True)
        self.train_button.setEnabled(not training and self._dataset is not None)
        self.stop_button.setEnabled(training)
        self.form.set_training(training)
