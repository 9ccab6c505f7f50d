"""The dataset browser on its own: lazy thumbnails, filters, sorting (IoU worst first), keyboard navigation."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from seg_desktop.core.dataset import Dataset, Sample, open_dataset
from seg_desktop.gui.browser import COL_STATUS, DatasetBrowser


def many(folder: Path, n: int) -> Dataset:
    """`n` rows over the 8 real sample files (distinct keys), to see what a long list costs."""
    real = open_dataset(folder)
    samples = [Sample(s.image_path, s.mask_path, ("train", "val", "test")[i % 3], f"images/{i:05d}.png")
               for i, s in enumerate(real.samples[i % 8] for i in range(n))]
    return Dataset(real.root, real.layout, samples, real.classes)


@pytest.fixture
def browser(qtbot):
    b = DatasetBrowser()
    qtbot.addWidget(b)
    b.resize(420, 400)
    b.show()
    qtbot.waitExposed(b)
    yield b
    b.thumbnails.wait()


def test_thumbnails_are_decoded_only_for_visible_rows(qtbot, browser, sample_folder):
    browser.set_dataset(many(sample_folder, 2000))
    assert browser.model.rowCount() == 2000
    first = browser.model.rows[0].key
    qtbot.waitUntil(lambda: browser.thumbnails.request(first, browser.model.rows[0].path) is not None, timeout=3000)
    qtbot.waitUntil(lambda: not browser.thumbnails._in_flight, timeout=3000)
    cached = len(browser.thumbnails._cache)
    assert 3 <= cached <= 20, cached  # a 400 px view shows ~7 rows of 54 px, never 2000
    pixmap = browser.thumbnails.request(first, browser.model.rows[0].path)
    assert max(pixmap.width(), pixmap.height()) == browser.thumbnails.size
    browser.view.scrollToBottom()
    last = browser.model.rows[-1]
    qtbot.waitUntil(lambda: browser.thumbnails.request(last.key, last.path) is not None, timeout=3000)


def test_lru_cache_keeps_at_most_capacity(qtbot, browser, sample_folder):
    browser.thumbnails.capacity = 3
    browser.set_dataset(many(sample_folder, 50))
    qtbot.waitUntil(lambda: len(browser.thumbnails._cache) == 3, timeout=3000)
    browser.view.scrollToBottom()
    last = browser.model.rows[-1]
    qtbot.waitUntil(lambda: browser.thumbnails.request(last.key, last.path) is not None, timeout=3000)
    assert len(browser.thumbnails._cache) == 3 and browser.model.rows[0].key not in browser.thumbnails._cache


def test_broken_image_gets_a_warning_icon_not_a_crash(qtbot, browser, sample_folder):
    bad = sample_folder / "images" / "bad.png"
    bad.write_bytes(b"\x89PNG not really")
    browser.set_dataset(Dataset(sample_folder, "t", [Sample(bad, None, "train", "images/bad.png")],
                                open_dataset(sample_folder).classes))
    qtbot.waitUntil(lambda: browser.thumbnails.failed("images/bad.png"), timeout=3000)
    icon = browser.proxy.index(0, 0).data(Qt.ItemDataRole.DecorationRole)
    assert not icon.isNull()


def test_filters_by_status_split_and_name(browser, sample_folder):
    dataset = open_dataset(sample_folder)
    browser.set_dataset(dataset, {"images/sample_003.png": "edited"})
    browser.set_filters(status="edited")
    assert browser.visible_keys() == ["images/sample_003.png"]
    browser.set_filters(split="val")
    assert browser.visible_keys() == [s.key for s in dataset.samples if s.split == "val"] != []
    browser.set_filters(text="SAMPLE_00")
    assert len(browser.visible_keys()) == 8
    browser.set_filters(text="_007")
    assert browser.visible_keys() == ["images/sample_007.png"]
    browser.set_status("images/sample_007.png", "predicted")
    browser.set_filters(status="predicted")
    assert browser.visible_keys() == ["images/sample_007.png"]
    browser.set_filters()
    assert len(browser.visible_keys()) == 8


def test_worst_iou_first_and_column_sort(qtbot, browser, sample_folder):
    dataset = open_dataset(sample_folder)
    browser.set_dataset(dataset)
    browser.select_key("images/sample_004.png")
    scores = {f"images/sample_00{i}.png": {"iou": iou, "entropy": 0.1 * i}
              for i, iou in [(0, 0.9), (2, 0.1), (5, 0.5), (6, 0.3)]}
    browser.set_scores(scores)
    assert browser.proxy.index(2, 3).data() == "0.100"
    browser.worst_button.click()
    keys = browser.visible_keys()
    assert keys[:4] == ["images/sample_002.png", "images/sample_006.png", "images/sample_005.png",
                        "images/sample_000.png"]
    assert browser.current_key() == "images/sample_004.png"  # the selection follows its row
    browser.view.sortByColumn(3, Qt.SortOrder.DescendingOrder)
    assert browser.visible_keys()[:4] == keys[:4][::-1]  # unscored rows stay last either way
    browser.set_status("images/sample_001.png", "edited")
    browser.view.horizontalHeader().setSortIndicator(COL_STATUS, Qt.SortOrder.AscendingOrder)
    assert browser.visible_keys()[-1] == "images/sample_001.png"  # labelled < edited in STATUSES order


def test_keyboard_navigation_emits_the_key(qtbot, browser, sample_folder):
    browser.set_dataset(open_dataset(sample_folder))
    seen = []
    browser.currentKeyChanged.connect(seen.append)
    view = browser.view
    view.setFocus()
    QTest.keyClick(view, Qt.Key.Key_End)
    assert browser.current_key() == "images/sample_007.png"
    QTest.keyClick(view, Qt.Key.Key_Home)
    assert browser.current_key() == "images/sample_000.png"
    QTest.keyClick(view, Qt.Key.Key_Down)
    QTest.keyClick(view, Qt.Key.Key_PageDown)
    assert browser.current_key() not in ("images/sample_000.png", "images/sample_001.png")
    QTest.keyClick(view, Qt.Key.Key_Up)
    assert seen[:3] == ["images/sample_007.png", "images/sample_000.png", "images/sample_001.png"]
    assert seen[-1] == browser.current_key()


def test_silent_select_does_not_emit(browser, sample_folder):
    browser.set_dataset(open_dataset(sample_folder))
    seen = []
    browser.currentKeyChanged.connect(seen.append)
    assert browser.select_key("images/sample_002.png", silent=True)
    assert seen == [] and browser.current_key() == "images/sample_002.png"
    browser.set_filters(text="no such name")
    assert not browser.select_key("images/sample_002.png")


def test_dirty_rows_are_marked(browser, sample_folder):
    browser.set_dataset(open_dataset(sample_folder))
    browser.set_dirty({"images/sample_001.png"})
    assert browser.proxy.index(1, 0).data() == "sample_001.png *"
    browser.set_dirty(set())
    assert browser.proxy.index(1, 0).data() == "sample_001.png"
