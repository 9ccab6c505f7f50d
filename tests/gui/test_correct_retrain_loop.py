"""The whole loop through the main window: train from the panel, every image predicted when the run ends, the
browser sorted worst-first, the compare view, label-next, accept a prediction (undoable), save, retrain."""

from __future__ import annotations

import numpy as np
import pytest

from seg_desktop.ml.runs import read_history
from tests.helpers import fill_training_form


@pytest.fixture
def loop_folder(sample_folder):
    for name in ("sample_006.png", "sample_007.png"):  # two images the user has not labelled yet
        (sample_folder / "masks" / name).unlink()
    return sample_folder


def test_train_predict_correct_retrain(qtbot, window, open_folder, loop_folder, answers):
    open_folder(loop_folder)
    assert len(window.dataset.samples) == 8 and len(window.dataset.labelled()) == 6
    fill_training_form(window.training, epochs=2)
    with qtbot.waitSignal(window.training.runFinished, timeout=120000) as finished:
        window.train_action.trigger()  # shows the form
        window.training.train_button.click()
    run = finished.args[0]
    assert len(read_history(run)) == 2
    # the finished run predicts every image at once; the browser gets IoU and uncertainty per image
    qtbot.waitUntil(lambda: not window.prediction.is_running() and len(window.prediction.scores) == 8,
                    timeout=60000)
    scores = window.prediction.scores
    labelled = {s.key for s in window.dataset.labelled()}
    assert all(scores[k]["iou"] is not None for k in labelled)
    assert all(scores[k]["entropy"] >= 0 for k in scores)
    window.browser.worst_iou_first()
    worst = window.browser.visible_keys()[0]
    assert scores[worst]["iou"] == min(scores[k]["iou"] for k in labelled)

    # compare view: the prediction pane shows the cached prediction of the shown image
    window.browser.select_key(worst)
    qtbot.waitUntil(lambda: window.editor.current_key() == worst, timeout=5000)
    window.show_compare_action.trigger()
    qtbot.waitUntil(lambda: window.compare.pane_array("Prediction") is not None, timeout=5000)
    pred, _ = window.prediction.prediction_for(worst)
    assert np.array_equal(window.compare.pane_array("Prediction"), window.dataset.classes.lut()[pred])
    window.show_editor_action.trigger()

    # label next: the most uncertain unlabelled image; accept its prediction (one undo step), then save
    assert window.label_next()
    queue = window.prediction.label_next()
    target = queue[0]
    assert target in {"images/sample_006.png", "images/sample_007.png"}
    assert scores[target]["entropy"] == max(scores[k]["entropy"] for k in queue)
    qtbot.waitUntil(lambda: window.editor.current_key() == target, timeout=5000)
    before = np.array(window.session.mask())
    assert window.accept_prediction()
    predicted, _ = window.prediction.prediction_for(target)
    assert np.array_equal(window.session.mask(), predicted)
    window.editor.undo()
    assert np.array_equal(window.session.mask(), before)
    window.editor.redo()
    assert window.session.save_current()
    sample = window.dataset.by_key(target)
    assert sample.labelled and np.array_equal(window.dataset.read_mask(sample), predicted)
    assert target not in window.prediction.label_next()  # labelled now: it left the queue

    # train again from where we were, on the corrected masks: the new run continues the epoch numbering
    fill_training_form(window.training, epochs=3, start="run", path=run)
    with qtbot.waitSignal(window.training.runFinished, timeout=120000) as again:
        window.train_action.trigger()  # shows the form
        window.training.train_button.click()
    rows = read_history(again.args[0])
    assert [r["epoch"] for r in rows] == [1, 2, 3, 4, 5] and again.args[0] != run
    qtbot.waitUntil(lambda: not window.prediction.is_running(), timeout=60000)
