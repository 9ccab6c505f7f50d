"""Live curves widget: EpochRecords as read back from history.csv, throttles redraws, overlays, PNG export."""

from __future__ import annotations

import csv
import math

import pytest

pytest.importorskip("pytestqt")

from seg_desktop.gui.training.plots import REDRAWS_PER_S, TrainingPlots  # noqa: E402
from seg_desktop.ml.listener import EpochRecord  # noqa: E402

COLUMNS = ["epoch", "loss", "mean_iou", "val_loss", "val_mean_iou", "val_dice", "lr", "seconds"]


def write_history(path, epochs, scale=1.0, val=True):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, COLUMNS)
        w.writeheader()
        for e in range(1, epochs + 1):
            w.writerow({"epoch": e, "loss": scale * 2 / e, "mean_iou": 1 - 1 / (e + 1),
                        "val_loss": scale * 2.2 / e if val else "", "val_mean_iou": 0.9 - 1 / (e + 1) if val else "",
                        "val_dice": 0.5, "lr": 1e-3, "seconds": 1.5})
    with open(path, newline="") as f:
        return [EpochRecord.from_row(row) for row in csv.DictReader(f)]


@pytest.fixture
def plots(qtbot):
    w = TrainingPlots()
    qtbot.addWidget(w)
    w.resize(400, 500)
    w.show()
    qtbot.waitExposed(w)
    return w


def test_axes_are_labelled(plots):
    assert plots.loss_ax.get_ylabel() == "loss"
    assert plots.iou_ax.get_ylabel() == "mean IoU"
    assert plots.iou_ax.get_xlabel() == "epoch"


def test_history_csv_rows_become_points_and_missing_val_is_skipped(plots, tmp_path):
    rows = write_history(tmp_path / "history.csv", 5, val=False)
    plots.show_history(rows)
    counts = plots.point_counts()
    assert counts["train_loss"] == 5 and counts["train_iou"] == 5
    assert counts["val_loss"] == 0 and counts["batch"] == 0
    plots._flush()
    assert plots.loss_ax.get_ylim()[1] >= 2.0  # the first epoch's loss (2.0) is inside the axes
    assert plots.loss_ax.get_xlim()[1] >= 5


def test_many_batches_cost_few_full_redraws(plots, qtbot):
    qtbot.wait(400)
    plots.start_run(epochs=3)
    before = plots.full_draws
    for step in range(300):
        plots.add_batch(0, step, 300, 1.0 + 0.1 * math.sin(step))
    qtbot.wait(int(2.5 * 1000 / REDRAWS_PER_S))
    assert plots.point_counts()["batch"] == 300
    assert 1 <= plots.full_draws - before <= 2  # 300 batch points, at most a couple of full draws
    # smoothing: the line stays within the raw values' range and is much calmer than the raw sine
    ys = plots.batch_line.get_ydata()
    assert 0.9 <= min(ys) and max(ys) <= 1.1
    assert max(ys[50:]) - min(ys[50:]) < 0.15


def test_overlays_and_png_export(plots, tmp_path):
    a = write_history(tmp_path / "a.csv", 8)
    b = write_history(tmp_path / "b.csv", 4, scale=3.0)
    plots.start_run(epochs=3)
    plots.add_epoch(EpochRecord(epoch=1, loss=1.0, val_loss=1.1, mean_iou=0.3, val_mean_iou=0.25))
    plots.set_overlays([("run-a unet", a), ("run-b segnet", b)])
    plots._flush()
    labels = [t.get_text() for t in plots.loss_ax.get_legend().get_texts()]
    assert any("run-a unet" in t for t in labels) and any("run-b segnet" in t for t in labels)
    assert plots.loss_ax.get_xlim()[1] >= 8  # the longest overlay fits
    assert plots.loss_ax.get_ylim()[1] >= 6.0  # run-b's first loss (3 * 2.0)
    png = plots.save_png(tmp_path / "curves.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
    plots.set_overlays([])
    plots._flush()
    assert not any("run-a" in t.get_text() for t in plots.loss_ax.get_legend().get_texts())
