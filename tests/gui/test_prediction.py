"""Predict-all through the worker thread on a real (tiny, untrained) saved model; cache, scores and queue."""

import json
import subprocess
import sys
import time

import pytest
from PySide6.QtCore import Qt, QThread

from seg_desktop.core.dataset import open_dataset
from seg_desktop.core.metrics import per_image_scores
from seg_desktop.core.predictions import PredictionCache
from seg_desktop.core.sample_data import make_sample_dataset
from seg_desktop.gui.prediction import PredictAllWorker, PredictionPanel
from tests.helpers import make_untrained_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    data = open_dataset(make_sample_dataset(tmp_path_factory.mktemp("ref"), n=1, size=40))
    return make_untrained_run(tmp_path_factory.mktemp("run") / "20240101-000000-unet", data)


@pytest.fixture
def data(tmp_path):
    root = make_sample_dataset(tmp_path / "data", n=6, size=40, seed=3)
    for name in ("sample_004.png", "sample_005.png"):
        (root / "masks" / name).unlink()  # two unlabelled images for the label-next queue
    return open_dataset(root)


def test_gui_modules_do_not_import_tensorflow():
    code = ("import sys; import seg_desktop.gui.prediction, seg_desktop.gui.compare, seg_desktop.gui.health, "
            "seg_desktop.gui.export_dialog; bad = [m for m in ('tensorflow', 'keras', 'seg_desktop.ml.predict') "
            "if m in sys.modules]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_worker_predicts_every_image_and_writes_the_cache(qtbot, run_dir, data):
    worker = PredictAllWorker(run_dir, data.root)
    thread = QThread()
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    worker.finished.connect(thread.quit)
    got, progress, failures = {}, [], []
    worker.predicted.connect(lambda key, s: got.__setitem__(key, s))
    worker.progress.connect(lambda d, t: progress.append((d, t)))
    worker.failed.connect(failures.append)
    with qtbot.waitSignal(thread.finished, timeout=60000):
        thread.start()
    assert failures == [] and progress[-1] == (6, 6)
    assert set(got) == {s.key for s in data.samples}
    cache = PredictionCache(data.root, run_dir)
    index = json.loads((cache.folder / "index.json").read_text())
    assert index == got
    for sample in data.samples:
        s = got[sample.key]
        mask = cache.load_mask(sample.key)
        assert mask.shape == (40, 40) and s["entropy"] > 0
        if sample.labelled:
            expected = per_image_scores(data.read_mask(sample), mask, data.classes.num_classes)
            assert s["iou"] == pytest.approx(expected["mean_iou"])
            assert s["pixel_accuracy"] == pytest.approx(expected["pixel_accuracy"])
        else:
            assert s["iou"] is None and s["pixel_accuracy"] is None


def test_panel_scores_queue_cache_and_fresh_iou_after_a_correction(qtbot, qtlog, run_dir, data):
    panel = PredictionPanel()
    qtbot.addWidget(panel)
    emitted = []
    panel.scoresChanged.connect(emitted.append)
    panel.set_context(data, run_dir)
    with qtbot.waitSignal(panel.runningChanged, timeout=60000, check_params_cb=lambda running: not running):
        assert panel.predict_all()
    assert emitted[-1].keys() == {s.key for s in data.samples}
    assert panel.progress_bar.value() == panel.progress_bar.maximum() == 6
    unlabelled = ["images/sample_004.png", "images/sample_005.png"]
    queue = sorted(unlabelled, key=lambda k: -panel.scores[k]["entropy"])
    assert panel.label_next() == queue
    assert [panel.queue.item(i).data(Qt.ItemDataRole.UserRole) for i in range(panel.queue.count())] == queue
    with qtbot.waitSignal(panel.keyActivated) as activated:
        panel.queue.itemActivated.emit(panel.queue.item(0))
    assert activated.args == [queue[0]]

    # The user accepts the prediction of sample_000 as its mask: predicting again reuses the cache and the
    # image's IoU becomes exactly 1 without the model being run for it.
    key = "images/sample_000.png"
    mask, entropy = panel.prediction_for(key)
    assert entropy.shape == mask.shape and (entropy >= 0).all()
    data.write_mask(data.by_key(key), mask)
    cached = PredictionCache(data.root, run_dir).mask_path(key)
    before = cached.stat().st_mtime_ns
    with qtbot.waitSignal(panel.runningChanged, timeout=60000, check_params_cb=lambda running: not running):
        panel.predict_all([key])
    assert panel.scores[key]["iou"] == pytest.approx(1.0) and cached.stat().st_mtime_ns == before
    assert not [r.message for r in qtlog.records if "thread" in r.message]  # GUI updates stayed on the GUI thread


def test_switching_context_mid_run_stops_promptly_and_drops_late_results(qtbot, run_dir, data):
    panel = PredictionPanel()
    qtbot.addWidget(panel)
    panel.set_context(data, run_dir)
    with qtbot.waitSignal(panel.predicted, timeout=60000):
        panel.predict_all(reuse_cache=False)
    t0 = time.monotonic()
    assert panel.stop_and_wait(20000) and time.monotonic() - t0 < 10  # no deadlock on the thread's quit()
    panel.set_context(data, None)
    qtbot.wait(100)  # any signals still queued from the stopped worker are delivered now, and ignored
    assert panel.scores == {} and not panel.is_running() and not panel.predict_button.isEnabled()


def test_bad_run_folder_fails_with_one_sentence(qtbot, data, tmp_path):
    panel = PredictionPanel()
    qtbot.addWidget(panel)
    panel.set_context(data, tmp_path / "no-such-run")
    failures = []
    panel.failed.connect(failures.append)
    with qtbot.waitSignal(panel.runningChanged, timeout=30000, check_params_cb=lambda running: not running):
        panel.predict_all()
    assert len(failures) == 1 and "not a run folder" in failures[0] and "\n" not in failures[0]
    assert not panel.is_running() and panel.predict_button.isEnabled()
