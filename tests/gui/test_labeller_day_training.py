"""Issue 14, training: a quick first run, the time per epoch on the Train button, Stop within 2 s in every phase
(it says "Stopping…" and keeps the best checkpoint), and a stopped or worse run does not replace better
predictions without asking."""

from __future__ import annotations

import json
import zipfile
import time
from pathlib import Path

import pytest

from seg_desktop.gui import main_window as main_window_module
from seg_desktop.gui.training import panel as panel_module
from seg_desktop.ml.config import TrainConfig
from seg_desktop.ml.runs import read_history, write_history
from tests.helpers import fill_training_form

STOP_LIMIT_S = 2.0


def _fake_run(folder: Path, data: Path, val_iou: float, finished: bool, seconds: float = 3.0,
              **config: object) -> Path:
    """A run folder as the engine leaves it (config, history, a checkpoint; metrics.json only when it finished)."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(TrainConfig(data=str(data), **config).to_json())
    (folder / "best.keras").write_bytes(b"checkpoint")
    write_history(folder, [{"epoch": 1, "loss": 0.5, "mean_iou": 0.4, "val_loss": 0.6, "val_mean_iou": val_iou,
                            "val_dice": val_iou, "lr": 1e-3, "seconds": seconds}])
    if finished:
        (folder / "metrics.json").write_text(json.dumps({"pixel_accuracy": 0.9, "mean_iou": val_iou,
                                                         "mean_dice": val_iou, "per_class": {}}))
    return folder


def test_first_start_offers_a_run_that_finishes_in_minutes(window, monkeypatch):
    panel = window.training
    if panel_module.gpu_present():
        pytest.skip("a GPU is present: the first form is the larger one")
    assert panel.size_edit.text() == "128" and panel.epochs_spin.value() == 15 and panel.filters_spin.value() == 16


def test_train_button_shows_the_time_per_epoch_of_the_last_comparable_run(window, open_folder, sample_folder):
    _fake_run(sample_folder / ".seg-desktop" / "runs" / "20240101-000000-unet", sample_folder, 0.5, True,
              seconds=42.0, size=(48, 48), batch=4, base_filters=4)
    open_folder(sample_folder)
    panel = window.training
    fill_training_form(panel, size="48", batch=4, filters=4)
    assert panel.train_button.text() == "Train (~0:42 per epoch)"
    panel.filters_spin.setValue(8)  # another network: no estimate to give
    assert panel.train_button.text() == "Train"


def _stop_and_time(qtbot, panel) -> float:
    """Seconds from the Stop click until the panel says the run stopped (its training process has ended by then).
    What the window starts next (predicting with the new run) is not part of the stop."""
    said: list[float] = []
    panel.statusMessage.connect(lambda text: said.append(time.monotonic()) if text.startswith(("Run", "Stopped"))
                                else None)
    t0 = time.monotonic()
    panel.stop_button.click()
    assert panel.progress.format() == "Stopping…" and "Stopping" in panel.message_label.text()
    qtbot.waitUntil(lambda: not panel.is_training(), timeout=15000)
    assert said and panel.progress.format() == "Stopped"
    return said[0] - t0


def test_stop_while_the_model_builds_takes_effect_at_once(qtbot, window, open_folder, sample_folder):
    open_folder(sample_folder)
    panel = window.training
    fill_training_form(panel, size="48", epochs=50)
    panel.train_button.click()
    qtbot.waitUntil(lambda: panel._worker is not None and panel._worker._runner.pid is not None, timeout=10000)
    qtbot.wait(300)  # the child is importing TensorFlow / building the model
    latency = _stop_and_time(qtbot, panel)
    print(f"stop latency (building): {latency:.2f} s")
    assert latency < STOP_LIMIT_S
    assert panel.train_button.isEnabled() and "no model" in panel.message_label.text()


@pytest.mark.parametrize("phase", ["first epoch", "validation and saving"])
def test_stop_takes_effect_within_two_seconds_and_keeps_the_best_checkpoint(qtbot, window, open_folder,
                                                                            sample_folder, phase):
    open_folder(sample_folder)
    panel = window.training
    fill_training_form(panel, size="48", epochs=50)
    batches = []
    panel.train_button.click()
    panel._worker.batchDone.connect(lambda e, s, n, _l: batches.append((e, s, n)))
    if phase == "first epoch":
        qtbot.waitUntil(lambda: bool(batches), timeout=60000)
    else:  # the second epoch's last batch: the child validates and writes checkpoints next
        qtbot.waitUntil(lambda: any(e == 1 and s == n - 1 for e, s, n in batches), timeout=60000)
    run = Path(panel._worker.run_dir)
    with qtbot.waitSignal(window.training.runFinished, timeout=15000, raising=False) as finished:
        latency = _stop_and_time(qtbot, panel)
    print(f"stop latency ({phase}): {latency:.2f} s")
    assert latency < STOP_LIMIT_S
    if phase == "first epoch":  # no epoch ended: nothing to keep, and it says so
        assert not finished.signal_triggered or (run / "best.keras").is_file()
    else:
        assert finished.signal_triggered and (run / "best.keras").is_file() and len(read_history(run)) >= 1
        assert zipfile.is_zipfile(run / "best.keras")  # whole: saves are atomic, a kill never leaves half of one


@pytest.fixture
def two_runs(sample_folder):
    runs = sample_folder / ".seg-desktop" / "runs"
    return (_fake_run(runs / "20240101-000000-unet", sample_folder, 0.72, True),
            _fake_run(runs / "20240102-000000-unet", sample_folder, 0.20, False))


def test_a_stopped_run_does_not_replace_better_predictions_without_asking(window, open_folder, two_runs,
                                                                         monkeypatch):
    good, stopped = two_runs
    open_folder(good.parents[2])
    assert window.prediction.run_folder == good  # the best finished run, not the newest
    asked, predicted = [], []
    monkeypatch.setattr(main_window_module, "ask_replace", lambda parent, cur, new: asked.append((cur, new)) or False)
    monkeypatch.setattr(window.prediction, "predict_all", lambda *a, **k: predicted.append(True) or True)
    window.training.runFinished.emit(str(stopped))
    assert asked == [(good, str(stopped))]
    assert window.prediction.run_folder == good and not predicted


def test_a_better_finished_run_replaces_predictions_silently(window, open_folder, two_runs, monkeypatch):
    good, _ = two_runs
    better = _fake_run(good.parent / "20240103-000000-unet", good.parents[2], 0.80, True)
    open_folder(good.parents[2])
    asked, predicted = [], []
    monkeypatch.setattr(main_window_module, "ask_replace", lambda *a: asked.append(a) or False)
    monkeypatch.setattr(window.prediction, "predict_all", lambda *a, **k: predicted.append(True) or True)
    window.training.runFinished.emit(str(better))
    assert not asked and window.prediction.run_folder == better and predicted


def test_export_defaults_to_all_images_and_the_best_run(qtbot, window, open_folder, two_runs, monkeypatch):
    from seg_desktop.gui import export_dialog

    good, _ = two_runs
    open_folder(good.parents[2])
    shown = []
    monkeypatch.setattr(export_dialog.ExportDialog, "exec", lambda self: shown.append(self) or 0)
    window.show_export()
    dialog = shown[0]
    assert dialog.run_combo.currentData() == str(good)
    assert dialog.all_radio.isChecked()
