"""The training dock end to end, offscreen: real form, real QThread worker, real TensorFlow training of tiny
UNet/SegNet models in the child process, live curves, Stop, closing while training, and the runs table
following a run written by another program (the CLI).

Runtime on 2 cores: about 35-50 s, mostly the two child processes importing TensorFlow.
"""

from __future__ import annotations

import csv
import json
import os
import signal
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QCoreApplication, QSettings, Qt, QTimer  # noqa: E402

from seg_desktop.core.dataset import open_dataset  # noqa: E402
from seg_desktop.core.sample_data import make_sample_dataset  # noqa: E402
from seg_desktop.gui.training import TrainingPanel  # noqa: E402
from seg_desktop.ml.runs import read_history, runs_dir  # noqa: E402
from tests.helpers import append_epoch, fill_training_form  # noqa: E402


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path, qapp):
    """QSettings in a temporary folder, so tests neither read nor change the user's settings."""
    names = QCoreApplication.organizationName(), QCoreApplication.applicationName()
    fmt = QSettings.defaultFormat()
    QCoreApplication.setOrganizationName("seg-desktop-tests")
    QCoreApplication.setApplicationName("training-panel")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    yield
    QCoreApplication.setOrganizationName(names[0])
    QCoreApplication.setApplicationName(names[1])
    QSettings.setDefaultFormat(fmt)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_sample_dataset(tmp_path_factory.mktemp("sample"), n=10, size=48)


@pytest.fixture
def panel(qtbot, data):
    p = TrainingPanel()
    qtbot.addWidget(p)
    p.resize(520, 900)
    p.show()
    p.set_dataset(open_dataset(data))
    yield p
    assert p.stop_and_wait(30000)


class TickRecorder:
    """A 10 ms QTimer on the GUI thread; the longest gap between its ticks shows whether the window froze."""

    def __init__(self) -> None:
        self.ticks: list[float] = []
        self.timer = QTimer()
        self.timer.setInterval(10)
        self.timer.timeout.connect(lambda: self.ticks.append(time.perf_counter()))
        self.timer.start()

    def longest_gap_ms(self) -> float:
        self.timer.stop()
        return max((b - a for a, b in zip(self.ticks, self.ticks[1:])), default=float("inf")) * 1000

    def rate(self) -> float:
        return (len(self.ticks) - 1) / max(1e-9, self.ticks[-1] - self.ticks[0])


def test_form_builds_the_config_and_settings_are_remembered(panel, data):
    fill_training_form(panel, "segnet", epochs=7)
    panel.lr_spin.setValue(0.0005)
    panel.loss_combo.setCurrentIndex(panel.loss_combo.findData("dice"))
    panel.weights_combo.setCurrentIndex(panel.weights_combo.findData("median"))
    config = panel.config_from_form()
    assert (config.model, config.size, config.epochs, config.batch, config.width) == ("segnet", (48, 48), 7, 4, 0.125)
    assert (config.lr, config.loss, config.class_weights, config.augment) == (0.0005, "dice", "median", False)
    assert config.data == str(Path(data).resolve()) and config.resume is None
    panel.save_settings()
    again = TrainingPanel()
    assert again.model_combo.currentData() == "segnet" and again.epochs_spin.value() == 7
    assert again.lr_spin.value() == 0.0005 and not again.augment_check.isChecked()
    assert again.size_edit.text() == "48"
    again.deleteLater()


def test_a_run_of_another_folder_is_not_remembered_as_the_start(panel, data, tmp_path):
    own = open_dataset(data).state_dir / "runs" / "r-own"
    own.mkdir(parents=True, exist_ok=True)
    foreign = tmp_path / "elsewhere" / ".seg-desktop" / "runs" / "r1"
    foreign.mkdir(parents=True)
    for folder, kept in ((own, True), (foreign, False)):
        panel.start_combo.setCurrentIndex(panel.start_combo.findData("run"))
        panel.start_edit.setText(str(folder))
        panel.set_dataset(open_dataset(data))  # what opening a folder does
        assert (panel.start_combo.currentData() == "run") is kept
        assert (panel.start_edit.text() == str(folder)) is kept


def test_bad_settings_give_one_sentence_and_start_nothing(panel, qtbot):
    panel.size_edit.setText("big")
    qtbot.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
    assert not panel.is_training()
    assert "size 'big' is not N or HxW" in panel.message_label.text()
    panel.size_edit.setText("48")
    panel.start_combo.setCurrentIndex(panel.start_combo.findData("run"))
    panel.start_edit.setText("/nonexistent/run")
    qtbot.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
    assert not panel.is_training() and "/nonexistent/run does not exist" in panel.message_label.text()


@pytest.mark.parametrize("model", ["unet", "segnet"])
def test_train_through_the_panel_live_then_stop(panel, qtbot, model):
    tf_loaded_before = "tensorflow" in sys.modules
    epochs = 5
    fill_training_form(panel, model, epochs=epochs)
    seen: list[int] = []
    panel.epochEnded.connect(lambda record: seen.append(record.epoch))
    ticks = TickRecorder()
    qtbot.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
    assert panel.is_training() and not panel.train_button.isEnabled()
    qtbot.waitUntil(lambda: len(seen) >= 2, timeout=90000)
    gap, rate = ticks.longest_gap_ms(), ticks.rate()
    print(f"\n{model}: 10 ms GUI timer while training: longest gap {gap:.0f} ms, {rate:.0f} ticks/s")
    counts = panel.plots.point_counts()
    assert counts["train_loss"] >= 2 and counts["val_iou"] >= 2 and counts["batch"] >= 2
    # The GUI thread kept running throughout. Loose bounds, so that a busy shared machine does not fail the
    # test; the strict figures are the benchmark's (tests/benchmarks/bench_responsiveness.py).
    assert gap < 3000 and rate > 20
    with qtbot.waitSignal(panel.runFinished, timeout=60000) as finished:
        qtbot.mouseClick(panel.stop_button, Qt.MouseButton.LeftButton)
    folder = Path(finished.args[0])
    qtbot.waitUntil(lambda: not panel.is_training(), timeout=10000)
    assert (folder / "best.keras").is_file() and (folder / "history.csv").is_file()
    rows = read_history(folder)
    assert 2 <= len(rows) < epochs  # stopped early, with every finished epoch recorded
    assert "stopped" in panel.message_label.text()
    assert panel.train_button.isEnabled()
    if not tf_loaded_before:
        assert "tensorflow" not in sys.modules  # the GUI process never imported TensorFlow
    # the finished run is in the compare table, with its metrics
    assert str(folder) in panel.runs_view.folders()


def test_closing_while_training_kills_the_child_cleanly(panel, qtbot):
    fill_training_form(panel, "unet", epochs=50)
    qtbot.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel._worker._runner.pid is not None, timeout=10000)
    t0 = time.monotonic()
    assert panel.stop_and_wait(timeout_ms=0)  # no time to stop gracefully: the child is killed
    assert time.monotonic() - t0 < 10 and not panel.is_training()


def test_a_dying_child_becomes_one_message(panel, qtbot):
    fill_training_form(panel, "unet", epochs=50)
    qtbot.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: panel._worker._runner.pid is not None, timeout=10000)
    os.kill(panel._worker._runner.pid, signal.SIGKILL)  # what the kernel's out-of-memory killer does
    qtbot.waitUntil(lambda: not panel.is_training(), timeout=20000)
    assert "killed (SIGKILL)" in panel.message_label.text() and "out of memory" in panel.message_label.text()
    assert panel.train_button.isEnabled()


def test_runs_table_follows_a_run_written_by_another_program(panel, qtbot, tmp_path):
    """A run folder appearing (as `seg-desktop train` makes it) shows up; its curves follow its history.csv."""
    root = Path(panel._dataset.root)
    run = runs_dir(root) / "20990101-000000-segnet"
    run.mkdir(parents=True)
    fill_training_form(panel, "segnet", epochs=4)
    config = panel.config_from_form()
    (run / "config.json").write_text(config.to_json())
    append_epoch(run, 1, seconds=2.0)
    qtbot.waitUntil(lambda: str(run) in panel.runs_view.folders(), timeout=5000)
    panel.runs_view.select(str(run))
    assert panel.plots.point_counts()["train_loss"] == 1
    time.sleep(0.01)
    append_epoch(run, 2, seconds=2.0)
    qtbot.waitUntil(lambda: panel.plots.point_counts()["train_loss"] == 2, timeout=5000)
    # compare export: the run's row with its parameters and training time
    (run / "metrics.json").write_text(json.dumps({"pixel_accuracy": 0.9, "mean_iou": 0.5, "mean_dice": 0.6,
                                                  "per_class": {"disc": {"iou": 0.4, "dice": 0.5}}}))
    panel.runs_view.refresh()
    from seg_desktop.gui.training.runs_view import write_compare_csv

    rows = list(csv.DictReader(write_compare_csv(tmp_path / "runs.csv", root).open()))
    row = next(r for r in rows if r["run"] == run.name)
    assert row["model"] == "segnet" and float(row["train_seconds"]) == 4.0 and row["iou disc"] == "0.4"
    assert float(row["mean_dice"]) == 0.6 and row["size"] == "48x48"
