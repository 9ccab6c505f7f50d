"""The export dialog, driven through its buttons: predicted masks on disk, progress to 100%, model export."""

import json
import threading

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QSettings, Qt

from seg_desktop.core.dataset import open_dataset
from seg_desktop.core.sample_data import make_sample_dataset
from seg_desktop.core.writeguard import MANIFEST
from seg_desktop.gui.export_dialog import ExportDialog, export_masks
from tests.helpers import make_untrained_run, snapshot


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return open_dataset(make_sample_dataset(tmp_path_factory.mktemp("data"), n=6, size=40, seed=2))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, data):
    return make_untrained_run(tmp_path_factory.mktemp("run"), data)


@pytest.fixture
def dialog(qtbot, data, run_dir, tmp_path):
    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    d = ExportDialog(data, [run_dir], selected=["images/sample_001.png", "images/sample_004.png"],
                     settings=settings)
    qtbot.addWidget(d)
    d.all_radio.setChecked(True)
    return d


def test_export_all_as_colour_with_progress_to_100(qtbot, dialog, data, tmp_path):
    dialog.set_output_folder(tmp_path / "out")
    dialog.set_format("color")
    seen = []
    dialog.progress_bar.valueChanged.connect(seen.append)
    with qtbot.waitSignal(dialog.exported, timeout=60000) as result:
        qtbot.mouseClick(dialog.export_button, Qt.MouseButton.LeftButton)
    files = sorted(p for p in (tmp_path / "out").iterdir() if p.name != MANIFEST)  # the write guard's list
    assert [p.stem for p in files] == [s.stem for s in data.samples] == [p.stem for p in result.args[0]]
    assert dialog.progress_bar.value() == dialog.progress_bar.maximum() == 6 and seen[-1] == 6
    img = Image.open(files[0])
    assert img.mode == "RGB" and img.size == (40, 40)
    colours = {tuple(c) for c in np.asarray(img).reshape(-1, 3)}
    assert colours <= {data.classes.color_of(i) for i in range(data.classes.num_classes)}
    qtbot.waitUntil(lambda: dialog.export_button.isEnabled())
    assert dialog.settings.value("export/format") == "color"


def test_export_selected_as_index_with_probabilities(qtbot, dialog, tmp_path):
    dialog.selected_radio.setChecked(True)
    dialog.set_format("index")
    dialog.probs_check.setChecked(True)
    dialog.set_output_folder(tmp_path / "sel")
    with qtbot.waitSignal(dialog.exported, timeout=60000):
        assert dialog.start_export()
    names = sorted(p.name for p in (tmp_path / "sel").iterdir() if p.name != MANIFEST)
    assert names == ["sample_001.png", "sample_001_entropy.png", "sample_001_probs.npy",
                     "sample_004.png", "sample_004_entropy.png", "sample_004_probs.npy"]
    assert sorted(json.loads((tmp_path / "sel" / MANIFEST).read_text())["files"]) == names  # ours to replace
    assert Image.open(tmp_path / "sel" / "sample_001.png").mode == "L"


def test_refuses_to_export_into_the_dataset(dialog, data):
    dialog.set_output_folder(data.root / "masks")
    assert not dialog.start_export() and "choose another folder" in dialog.status.text()
    dialog.set_output_folder("")
    assert not dialog.start_export() and "output folder" in dialog.status.text()


def test_export_model_writes_the_checked_keras_model(qtbot, dialog, run_dir, tmp_path):
    dialog.model_format_combo.setCurrentIndex(dialog.model_format_combo.findData("keras"))
    with qtbot.waitSignal(dialog.modelExported, timeout=60000) as result:
        assert dialog.export_model(tmp_path / "exported")
    dest = tmp_path / "exported"
    assert result.args == [str(dest)] and (dest / "model.keras").read_bytes() == (run_dir / "best.keras").read_bytes()
    assert json.loads((dest / "model.json").read_text())["format"] == "keras" and (dest / "predict.py").is_file()
    assert "predicts like the Keras model" in dialog.status.text()
    assert dialog.settings.value("export/model_format") == "keras"


def test_export_model_refuses_a_folder_of_the_users(qtbot, dialog, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    before = snapshot(tmp_path / "mine")
    with qtbot.waitSignal(dialog.failed, timeout=60000) as result:
        assert dialog.export_model(tmp_path / "mine")
    assert "not empty" in result.args[0] and dialog.status.text() == result.args[0]
    assert snapshot(tmp_path / "mine") == before


def test_stop_flag_ends_the_export(run_dir, data, tmp_path):
    stop = threading.Event()
    stop.set()
    assert export_masks(run_dir, data.root, [s.key for s in data.samples], tmp_path / "x", "index", False, stop,
                        progress=lambda value: None) == []
