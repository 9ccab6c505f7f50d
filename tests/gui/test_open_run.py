"""File ▸ Open run… (issue 11 item 2): any run folder, e.g. a cluster's output on a mounted share, is followed
live in the training panel, and its model then predicts on the open folder."""

from __future__ import annotations

import time

from seg_desktop.core.dataset import open_dataset
from tests.helpers import append_epoch, make_untrained_run, snapshot


def test_open_run_follows_its_history_and_predicts_on_the_open_folder(window, open_folder, sample_folder,
                                                                      tmp_path, qtbot):
    open_folder(sample_folder)
    share = tmp_path / "cluster-share" / "run-7"  # outside the dataset, as a cluster's --out would be
    make_untrained_run(share, open_dataset(sample_folder), size=32)
    append_epoch(share, 1)

    assert window.open_run_action in window.menuBar().actions()[0].menu().actions()
    assert window.open_run(share)
    panel = window.training
    assert str(share.resolve()) in panel.runs_view.folders()
    assert panel.plots.point_counts()["train_loss"] == 1
    assert window.prediction.run_folder == share.resolve()  # selected: it is the model that predicts

    time.sleep(0.01)
    append_epoch(share, 2)  # the run goes on elsewhere
    qtbot.waitUntil(lambda: panel.plots.point_counts()["train_loss"] == 2, timeout=5000)

    with qtbot.waitSignal(window.prediction.runningChanged, timeout=60000,
                          check_params_cb=lambda running: not running):
        assert window.prediction.predict_all()
    keys = [s.key for s in window.dataset.samples]
    assert all(window.prediction.prediction_for(k) is not None for k in keys)

    # Opening another dataset keeps the followed run listed.
    window.training.set_dataset(window.dataset)
    assert str(share.resolve()) in panel.runs_view.folders()


def test_open_run_on_a_folder_that_is_no_run_says_so_and_writes_nothing(window, open_folder, sample_folder,
                                                                        tmp_path):
    open_folder(sample_folder)
    folder = tmp_path / "holiday photos"
    folder.mkdir()
    (folder / "config.json").write_text("{not json")
    before = snapshot(folder, sample_folder)
    assert not window.open_run(folder)
    message = window.training.message_label.text()
    assert "holiday photos" in message and "not a run folder" in message
    assert str(folder.resolve()) not in window.training.runs_view.folders()
    assert snapshot(folder, sample_folder) == before
