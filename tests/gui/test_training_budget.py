"""The training panel under a time budget (issue 16, `--minutes`): the progress bar counts the time, not a
million-epoch bound, the curves' x axis grows an epoch at a time, and the Train button says how many epochs the
budget holds. The engine's reports are fed to the panel's slots as the worker would send them (no training)."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from seg_desktop.core.dataset import open_dataset  # noqa: E402
from seg_desktop.gui.training import TrainingPanel  # noqa: E402
from seg_desktop.gui.training import panel as panel_module  # noqa: E402
from seg_desktop.ml.config import BUDGET_EPOCHS  # noqa: E402
from tests.helpers import append_epoch, make_untrained_run  # noqa: E402


def test_a_budget_run_shows_time_progress_and_an_axis_that_grows(qtbot, monkeypatch):
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    clock = [1000.0]
    monkeypatch.setattr(panel_module.time, "monotonic", lambda: clock[0])
    panel._on_began({"run_dir": "", "epochs": BUDGET_EPOCHS, "steps_per_epoch": 4, "initial_epoch": 0,
                     "minutes": 2.0})
    assert panel.progress.maximum() == 1000 and "/" not in panel.progress.format()
    panel.stop_button.setEnabled(True)  # as while training: the bar follows the batches
    clock[0] += 30.0
    panel._on_batch(0, 1, 4, 0.5)
    assert panel.progress.value() == 250 and panel.progress.format() == "Epoch 1 · batch 2/4 · ETA 1:30"
    panel.plots._update_limits()
    assert panel.plots.loss_ax.get_xlim()[1] == pytest.approx(1.2)  # one epoch so far, not BUDGET_EPOCHS
    panel._on_batch(1, 0, 4, 0.4)
    panel.plots._update_limits()
    assert panel.plots.loss_ax.get_xlim()[1] == pytest.approx(2.2)
    clock[0] += 200.0  # past the budget (the last validation): the bar stays full
    panel._on_batch(1, 1, 4, 0.4)
    assert panel.progress.value() == 1000 and panel.progress.format().endswith("ETA 0:00")


def test_the_train_button_says_how_many_epochs_a_budget_holds(qtbot, sample_folder):
    dataset = open_dataset(sample_folder)
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.size_edit.setText("32")
    panel.filters_spin.setValue(4)
    run = make_untrained_run(dataset.state_dir / "runs" / "r1", dataset, size=32)
    append_epoch(run, 1, seconds=6.0)  # a comparable run took 6 s an epoch
    panel.set_dataset(dataset)
    assert panel.train_button.text() == "Train (~0:06 per epoch)"
    panel.minutes_spin.setValue(5)
    assert panel.train_button.text() == "Train (~0:06 per epoch, ~50 epochs)"
