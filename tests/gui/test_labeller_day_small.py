"""Issue 14, the smaller things: natural sort, elided names with tooltips, the predictions bar and the status bar
counts follow the folder, run names in the curves' legends (and the exported PNG), curves after reopening a
folder, the parameter-count column and the two IoU columns explained."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt

from seg_desktop.gui.browser import COL_NAME, natural_key
from seg_desktop.gui.training.runs_view import compare_rows
from tests.gui.test_labeller_day_training import _fake_run


def test_natural_sort_puts_2_before_10():
    names = ["img10.png", "img2.png", "img1.png", "IMG3.png", "img0.png"]
    assert sorted(names, key=natural_key) == ["img0.png", "img1.png", "img2.png", "IMG3.png", "img10.png"]


def test_browser_lists_membrane_style_numbers_in_number_order(qtbot, window, open_folder, sample_folder):
    for i in (2, 10, 11):
        for sub in ("images", "masks"):
            shutil.copy(sample_folder / sub / "sample_000.png", sample_folder / sub / f"{i}.png")
    open_folder(sample_folder)
    names = [Path(k).name for k in window.browser.visible_keys()]
    assert names[:3] == ["2.png", "10.png", "11.png"]


def test_long_names_are_elided_in_the_middle_with_the_full_name_as_tooltip(qtbot, window, open_folder,
                                                                           sample_folder):
    open_folder(sample_folder)
    view = window.browser.view
    assert view.textElideMode() == Qt.TextElideMode.ElideMiddle  # "sample_0…07.png": rows stay apart
    index = view.model().index(0, COL_NAME)
    assert window.browser.visible_keys()[0] in view.model().data(index, Qt.ItemDataRole.ToolTipRole)


def test_status_bar_counts_follow_a_new_mask_after_save(qtbot, window, open_folder, sample_folder):
    (sample_folder / "masks" / "sample_007.png").unlink()
    open_folder(sample_folder)
    assert "7 labelled · 1 unlabelled" in window.summary.text()
    window.browser.select_key("images/sample_007.png")
    qtbot.waitUntil(lambda: window.session.current_key() == "images/sample_007.png", timeout=3000)
    mask = np.ones_like(np.array(window.session.mask()))
    assert window.session.accept_prediction(mask)
    assert window.session.save_current()
    qtbot.waitUntil(lambda: "8 labelled · 0 unlabelled" in window.summary.text(), timeout=3000)


def test_predictions_bar_is_reset_when_another_folder_opens(qtbot, window, open_folder, sample_folder, tmp_path):
    open_folder(sample_folder)
    bar = window.prediction.progress_bar
    bar.setRange(0, 8)
    bar.setValue(8)  # as a finished Predict all leaves it
    other = Path(shutil.copytree(sample_folder, tmp_path / "other"))
    for p in list((other / "images").iterdir())[:3]:
        p.unlink()
    window.open_folder(other)
    qtbot.waitUntil(lambda: window.dataset.root == other, timeout=5000)
    assert bar.maximum() == len(window.dataset.samples) and bar.value() == 0


def test_current_run_lines_carry_the_run_name_also_in_the_png(qtbot, window, open_folder, sample_folder, tmp_path):
    run = _fake_run(sample_folder / ".seg-desktop" / "runs" / "20240101-000000-unet", sample_folder, 0.5, True)
    open_folder(sample_folder)  # reopening a folder shows its newest run's curves at once
    plots = window.training.plots
    assert plots.point_counts()["val_loss"] == 1
    labels = [line.get_label() for line in plots.loss_ax.get_lines()]
    assert f"{run.name} val" in labels and f"{run.name} train" in labels
    plots._update_limits()
    legend = [t.get_text() for t in plots.loss_ax.get_legend().get_texts()]
    assert f"{run.name} val" in legend  # what save_png draws


def test_runs_table_has_parameter_counts_and_explains_the_two_ious(qtbot, window, open_folder, sample_folder):
    from tests.helpers import make_untrained_run

    open_folder(sample_folder)
    run = make_untrained_run(sample_folder / ".seg-desktop" / "runs" / "20240101-000000-unet", window.dataset)
    columns, rows = compare_rows(sample_folder)
    from seg_desktop.ml.models import build_model

    expected = build_model("unet", window.dataset.classes.num_classes, (None, None, 3), base_filters=4).count_params()
    assert "params" in columns and rows[0]["params"] == expected
    model = window.training.runs_view.model
    window.training.runs_view.refresh()
    section = model.columns.index("params")
    assert model.headerData(section, Qt.Orientation.Horizontal) == "Parameters"
    for column in ("best_val_mean_iou", "mean_iou"):
        tip = model.headerData(model.columns.index(column), Qt.Orientation.Horizontal, Qt.ItemDataRole.ToolTipRole)
        assert tip and "validation" in tip
    assert run.is_dir()


def test_compare_per_class_table_shows_its_score_columns_whole(qtbot, window, open_folder, sample_folder):
    open_folder(sample_folder)
    window.resize(1024, 700)
    window.tabs.setCurrentWidget(window.compare)
    image = np.array(window.session.image())
    gt = np.array(window.session.mask())
    window.compare.show_prediction(image, gt, np.zeros_like(gt), window.dataset.classes, None)
    qtbot.wait(50)
    table = window.compare.table
    header = table.horizontalHeader()
    for col in (1, 2):  # IoU and Dice
        assert header.sectionViewportPosition(col) + header.sectionSize(col) <= table.viewport().width()
        assert header.sectionSize(col) >= table.fontMetrics().horizontalAdvance("0.000")


def test_choosing_a_class_says_its_name_not_an_index(qtbot, window, open_folder, sample_folder):
    open_folder(sample_folder)
    said = []
    window.editor.statusMessage.connect(said.append)
    classes = window.editor.classes().classes
    window.class_actions[2].trigger()  # key 3: the third row of the class list
    assert said[-1] == f"Painting with {classes[2].name}"
