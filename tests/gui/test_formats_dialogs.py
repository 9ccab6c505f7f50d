"""File ▸ Import… and the export dialog's tool formats, driven through their buttons: a LabelMe folder becomes a
dataset the window opens, skipped shapes are listed, and ground truth or predictions go out in a tool's format
with the read-back check in the status line."""

from __future__ import annotations

import json

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication

from seg_desktop.core.dataset import open_dataset
from seg_desktop.core.formats.transfer import export_masks, planned_samples
from seg_desktop.gui.export_dialog import ExportDialog
from seg_desktop.gui.import_dialog import ImportDialog
from tests.helpers import make_untrained_run, snapshot


@pytest.fixture
def labelme_folder(sample_folder, tmp_path):
    data = open_dataset(sample_folder)
    samples = data.labelled()
    items = [(p, lambda s=s: data.read_mask(s)) for p, s in zip(planned_samples(samples), samples)]
    export_masks(items, data.classes, "labelme", tmp_path / "lm")
    return tmp_path / "lm"


def test_import_menu_opens_the_imported_dataset(qtbot, window, labelme_folder, tmp_path, monkeypatch):
    import seg_desktop.gui.import_dialog as module

    seen = {}

    def exec_(dialog):
        seen["dialog"] = dialog
        dialog.set_choices(labelme_folder, "labelme", tmp_path / "new")
        before = snapshot(labelme_folder)
        with qtbot.waitSignal(dialog.imported, timeout=20000):
            qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
        assert snapshot(labelme_folder) == before
        return 0

    monkeypatch.setattr(module.ImportDialog, "exec", exec_)
    assert window.import_action in window.menuBar().actions()[0].menu().actions()
    window.import_action.trigger()
    qtbot.waitUntil(lambda: window.dataset is not None, timeout=5000)
    assert window.dataset.root == (tmp_path / "new").resolve() and len(window.dataset.samples) == 8
    assert "Imported 8 images and 8 masks" in seen["dialog"].status.text()


def test_import_lists_skipped_shapes_and_says_bad_sources(qtbot, labelme_folder, tmp_path):
    doc = json.loads((labelme_folder / "sample_000.json").read_text())
    doc["shapes"].append({"label": "disc", "points": [[0, 0], [500, 0], [500, 9]], "shape_type": "polygon"})
    (labelme_folder / "sample_000.json").write_text(json.dumps(doc))
    dialog = ImportDialog(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(dialog)
    dialog.set_choices(labelme_folder, "labelme", tmp_path / "new", link="hard")
    with qtbot.waitSignal(dialog.imported, timeout=20000):
        assert dialog.start_import()
    assert "1 file(s) or shape(s) were skipped" in dialog.status.text()
    assert "points outside the 64x64 image" in dialog.problems_view.toPlainText()
    qtbot.waitUntil(lambda: dialog.import_button.isEnabled())
    dialog.set_choices(tmp_path / "missing", "coco", tmp_path / "other")
    with qtbot.waitSignal(dialog.failed, timeout=20000) as failed:
        dialog.start_import()
    assert "missing does not exist" in failed.args[0] and failed.args[0] == dialog.status.text()


def _export_dialog(qtbot, data, runs, tmp_path) -> ExportDialog:
    """An export dialog remembering its choices in a settings file of the test's own."""
    dialog = ExportDialog(data, runs, settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(dialog)
    return dialog


def _export(qtbot, dialog: ExportDialog, fmt: str, out, timeout: int) -> None:
    """Choose `fmt` and `out`, click Export as a user would, and wait for the export to end."""
    dialog.set_format(fmt)
    dialog.set_output_folder(out)
    with qtbot.waitSignal(dialog.exported, timeout=timeout):
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)


def test_export_dialog_ground_truth_in_a_tool_format(qtbot, sample_folder, tmp_path):
    data = open_dataset(sample_folder)
    dialog = _export_dialog(qtbot, data, [], tmp_path)
    dialog.set_source("truth")
    assert dialog.fmt() == "tool" and not dialog.probs_check.isEnabled()
    assert dialog.export_button.isEnabled()  # no run needed for the ground truth
    _export(qtbot, dialog, "yolo", tmp_path / "yolo", timeout=20000)
    assert "read them back: every class within IoU" in dialog.status.text()
    assert len(list((tmp_path / "yolo" / "labels").rglob("*.txt"))) == 8
    assert dialog.settings.value("export/tool_format") == "yolo"


def test_export_dialog_predictions_in_cvat(qtbot, sample_folder, tmp_path):
    data = open_dataset(sample_folder)
    run = make_untrained_run(tmp_path / "run", data)
    dialog = _export_dialog(qtbot, data, [run], tmp_path)
    dialog.all_radio.setChecked(True)
    _export(qtbot, dialog, "cvat", tmp_path / "cvat", timeout=60000)
    assert "every pixel matches" in dialog.status.text()
    assert len(list((tmp_path / "cvat" / "SegmentationClass").glob("*.png"))) == 8
    QApplication.processEvents()
