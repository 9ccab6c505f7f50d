"""The region review queue through the real editor: ranked across images, visited in rank order with N, the
prediction accepted inside a region with A as one undo step, K keeping the mask."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from seg_desktop.core.dataset import open_dataset  # noqa: E402
from seg_desktop.core.predictions import PredictionCache  # noqa: E402
from seg_desktop.gui.editor import MaskEditor  # noqa: E402
from seg_desktop.gui.review import MARGIN, ReviewPanel  # noqa: E402
from seg_desktop.gui.session import AnnotationSession  # noqa: E402

# (key index, box y0, x0, size): regions of 20x20=400, 12x12=144 and 8x8=64 px in three different images
WRONG = [(2, 30, 30, 12), (0, 5, 5, 20), (5, 40, 10, 8)]


def predicted_cache(folder, tmp_path):
    dataset = open_dataset(folder)
    run = tmp_path / "run"
    run.mkdir()
    (run / "best.keras").write_bytes(b"model")
    cache = PredictionCache(folder, run)
    cache.bind(run / "best.keras")
    keys = [s.key for s in dataset.samples]
    for sample in dataset.samples:
        prediction = dataset.read_mask(sample).copy()
        for index, y, x, size in WRONG:
            if keys[index] == sample.key:
                prediction[y:y + size, x:x + size] = np.where(prediction[y:y + size, x:x + size] == 1, 2, 1)
        cache.save(sample.key, prediction)
    return dataset, cache, keys


def test_review_queue_visits_regions_in_rank_order_and_accepts_inside_only(qtbot, sample_folder, tmp_path):
    dataset, cache, keys = predicted_cache(sample_folder, tmp_path)
    session = AnnotationSession()
    editor = MaskEditor(session)
    panel = ReviewPanel(session, editor)
    qtbot.addWidget(editor)
    qtbot.addWidget(panel)
    editor.show()
    with qtbot.waitSignal(session.opened, timeout=20000):
        session.open(sample_folder)
    with qtbot.waitSignal(panel.ready, timeout=20000) as ready:
        assert panel.rank(session.dataset, cache)
    assert ready.args == [3]
    expected = [(keys[0], 400), (keys[2], 144), (keys[5], 64)]
    assert [(r.key, r.area) for r in panel.regions] == expected

    visited = []
    editor.setFocus()
    with qtbot.waitSignal(panel.regionShown, timeout=20000) as shown:
        QTest.keyClick(editor.view, Qt.Key.Key_N)
    for step in range(len(expected)):
        region = shown.args[0]
        visited.append((region.key, region.area))
        assert session.current_key() == region.key
        y0, x0, y1, x1 = region.bbox
        before = session.mask().copy()
        if region.key == keys[2]:  # accept the prediction here (A) and go on with N
            QTest.keyClick(editor.view, Qt.Key.Key_A)
            after = session.mask()
            truth = cache.load_mask(region.key)
            assert np.array_equal(after[y0:y1, x0:x1], truth[y0:y1, x0:x1])
            outside = np.ones(after.shape, bool)
            outside[y0:y1, x0:x1] = False
            assert np.array_equal(after[outside], before[outside])
            assert session.undo_group.activeStack().count() == 1
            session.undo()
            assert np.array_equal(session.mask(), before)
            session.redo()
            key = Qt.Key.Key_N
        else:  # keep the mask (K): nothing changes, the next region shows
            key = Qt.Key.Key_K
        if step + 1 < len(expected):
            with qtbot.waitSignal(panel.regionShown, timeout=20000) as shown:
                QTest.keyClick(editor.view, key)
            if key == Qt.Key.Key_K:
                assert region.key not in session.dirty_keys()
    assert visited == expected
    visible = editor.view.mapToScene(editor.view.viewport().rect()).boundingRect()
    y0, x0, y1, x1 = panel.regions[-1].bbox
    assert visible.contains(x0, y0) and visible.contains(x1 - 1, y1 - 1)  # zoomed to show the region
    # … and zoomed to it, not to the image: the region with its margin fills the viewport along one side (whatever
    # the viewport's aspect, which decides the other side)
    fill = min(visible.width() / (x1 - x0 + 2 * MARGIN), visible.height() / (y1 - y0 + 2 * MARGIN))
    assert 0.95 < fill < 1.1


def test_review_needs_current_predictions(qtbot, sample_folder, tmp_path):
    session = AnnotationSession()
    editor = MaskEditor(session)
    panel = ReviewPanel(session, editor)
    qtbot.addWidget(editor)
    assert not panel.rank(open_dataset(sample_folder), PredictionCache(sample_folder, tmp_path / "none"))
    assert "Predict all" in panel.status.text()
