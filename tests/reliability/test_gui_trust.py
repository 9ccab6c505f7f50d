"""Issue 10 item 9: the GUI never brings back an edit the user took back, never asks about a crash after a normal
quit, restores per image, and never shows or edits one image while another is selected.

Each case drives the real window (pytest-qt, offscreen, the fixtures of tests/gui/conftest.py) and compares a
sha256 snapshot of the dataset folder wherever nothing may be written.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QIcon
from PySide6.QtTest import QTest

from seg_desktop.core.autosave import autosave_dir, list_autosaves, write_autosave
from seg_desktop.core.edits import stroke
from seg_desktop.gui import dialogs
from seg_desktop.gui.main_window import MainWindow
from seg_desktop.gui.scan import scan_folder
from tests.gui.conftest import (_sample_template, answers, fresh_settings, isolated_settings,  # noqa: F401
                                open_folder, sample_folder, settings, window)
from tests.helpers import snapshot

A, B, BAD = "images/sample_000.png", "images/sample_001.png", "images/sample_003.png"


def paint(window, cls: int = 2) -> None:
    """One brush stroke through the editor's tool-host API (the session's undo stack records it)."""
    window.editor.commit("Brush", stroke(window.editor.live_mask(), [(4, 4), (40, 30)], 5, cls))


def reopen(qtbot, settings, folder) -> MainWindow:
    """Start the app again (a second window, as after a quit) on `folder` and wait for its first image."""
    again = MainWindow(settings=settings)
    qtbot.addWidget(again)
    again.show()
    again.open_folder(folder)
    qtbot.waitUntil(lambda: again.session.current_key() is not None, timeout=5000)
    return again


def truncate(path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


@pytest.mark.parametrize("labelled", [True, False])
def test_undone_to_clean_leaves_no_autosave_and_no_prompt(qtbot, window, open_folder, sample_folder, settings,
                                                          answers, labelled):
    if not labelled:
        (sample_folder / "masks" / "sample_000.png").unlink()  # "Yes" used to create a mask for it
    before = snapshot(sample_folder)
    open_folder(sample_folder)
    paint(window)
    assert window.session.autosave_now() == 1 and len(list_autosaves(sample_folder)) == 1
    window.editor.undo()  # back to the saved state
    assert list_autosaves(sample_folder) == []  # gone at once: even a kill now offers nothing
    assert window.close()  # a normal quit: nothing unsaved, so nothing asked
    assert answers.asked == []
    reopen(qtbot, settings, sample_folder)
    assert answers.offered == []
    assert snapshot(sample_folder) == before


@pytest.mark.parametrize("answer", [dialogs.SAVE, dialogs.DISCARD])
def test_normal_quit_then_reopen_never_asks_about_a_crash(qtbot, window, open_folder, sample_folder, settings,
                                                          answers, answer):
    open_folder(sample_folder)
    window.session.autosave_timer.setInterval(30)
    paint(window)
    qtbot.waitUntil(lambda: len(list_autosaves(sample_folder)) == 1, timeout=3000)
    before = snapshot(sample_folder / "images", sample_folder / "masks")
    answers.unsaved = answer
    assert window.close()
    assert [action for _keys, action in answers.asked] == ["closing"]
    assert list_autosaves(sample_folder) == []
    if answer == dialogs.DISCARD:
        assert snapshot(sample_folder / "images", sample_folder / "masks") == before
    reopen(qtbot, settings, sample_folder)
    assert answers.offered == []


def test_open_recent_of_the_same_folder_never_asks_about_a_crash(qtbot, window, open_folder, sample_folder,
                                                                 answers):
    open_folder(sample_folder)
    before = snapshot(sample_folder)
    paint(window)
    assert window.session.autosave_now() == 1
    window.editor.undo()
    window.recent_menu.aboutToShow.emit()
    opened = []
    window.session.opened.connect(opened.append)
    [action] = [a for a in window.recent_menu.actions() if a.text() == str(sample_folder.resolve())]
    action.trigger()
    qtbot.waitUntil(lambda: bool(opened) and window.session.current_key() is not None, timeout=5000)
    assert answers.offered == [] and answers.asked == []
    assert snapshot(sample_folder) == before


def test_restore_prompt_restores_only_the_chosen_images(window, open_folder, sample_folder, answers):
    masks = sample_folder / "masks"
    on_disk = {k: np.asarray(Image.open(masks / k.split("/")[1])) for k in (A, B)}
    autosaved = {k: np.full_like(m, i + 2) for i, (k, m) in enumerate(on_disk.items())}
    for key, mask in autosaved.items():
        write_autosave(sample_folder, key, mask)
    untouched = snapshot(masks / "sample_001.png")
    answers.restore = {A}
    open_folder(sample_folder)
    [items] = answers.offered
    assert sorted(i.key for i in items) == [A, B]
    for item in items:  # what the prompt shows side by side: the mask on disk and the autosaved one
        assert np.array_equal(item.saved, on_disk[item.key]) and np.array_equal(item.autosaved, autosaved[item.key])
    assert np.array_equal(np.asarray(Image.open(masks / "sample_000.png")), autosaved[A])
    assert snapshot(masks / "sample_001.png") == untouched
    assert list_autosaves(sample_folder) == []  # the unchosen one is dropped, not offered again
    assert window.browser.model.rows[0].status == "edited" and window.browser.model.rows[1].status != "edited"


def test_restore_dialog_lists_each_image_with_thumbnails_and_checkboxes(qtbot, sample_folder):
    for key in (A, B):
        write_autosave(sample_folder, key, np.full((64, 64), 3, np.uint8))
    (sample_folder / "masks" / "sample_001.png").unlink()  # B: no mask on disk yet
    result = scan_folder(sample_folder)
    dialog = dialogs.RestoreDialog(result.restores, result.dataset.classes)
    qtbot.addWidget(dialog)
    assert dialog.table.rowCount() == 2 and sorted(dialog.chosen()) == [A, B]  # all checked to start
    rows = {dialog.table.item(r, 0).text(): r for r in range(2)}
    icon: QIcon = dialog.table.item(rows[A], 1).icon()
    assert not icon.isNull() and not dialog.table.item(rows[A], 2).icon().isNull()
    assert dialog.table.item(rows[B], 1).icon().isNull() and "no mask" in dialog.table.item(rows[B], 1).text()
    pixmap = dialog.table.item(rows[A], 2).icon().pixmap(dialogs.THUMB, dialogs.THUMB)
    assert max(pixmap.width(), pixmap.height()) == dialogs.THUMB
    dialog.set_checked(B, False)
    assert dialog.chosen() == [A]


def test_truncated_image_clears_the_canvas_and_nothing_can_be_written(qtbot, window, open_folder, sample_folder,
                                                                       answers):
    truncate(sample_folder / "images" / "sample_003.png")
    open_folder(sample_folder)
    assert window.editor.current_key() == A
    before = snapshot(sample_folder)
    with qtbot.waitSignal(window.session.message, timeout=5000,
                          check_params_cb=lambda text, _ms: "sample_003.png" in text):  # its decoding failed
        window.browser.select_key(BAD)
    assert BAD in window.session.unreadable and window.browser.current_key() == BAD
    assert window.editor.current_key() is None and window.session.current_key() is None
    assert not window.editor.editable()
    assert [i for i in window.editor.graphics_scene().items() if i.isVisible()] == []  # no photo, no overlay
    viewport = window.editor.view.viewport()
    centre = viewport.rect().center()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, centre)
    QTest.mouseMove(viewport, centre + centre / 2)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, centre + centre / 2)
    paint_failed = window.session.dirty_keys() == []
    QTest.keySequence(window, "Ctrl+S")
    qtbot.wait(50)
    assert paint_failed and window.session.dirty_keys() == []
    assert snapshot(sample_folder) == before
    assert window.problems.count() == len(window.session.problems())
    assert f"{window.problems.count()} problem(s)" in window.summary.text()


def test_bad_files_are_reported_when_the_folder_opens(qtbot, window, open_folder, sample_folder):
    truncate(sample_folder / "images" / "sample_003.png")
    (sample_folder / "images" / "sample_005.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
    open_folder(sample_folder)
    qtbot.waitUntil(lambda: window.problems.count() == 2, timeout=5000)
    lines = [window.problems.item(i).text() for i in range(window.problems.count())]
    assert any("sample_003.png" in line for line in lines) and any("sample_005.png" in line for line in lines)
    assert "2 problem(s)" in window.summary.text() and window.problems_dock.windowTitle() == "Problems (2)"
    assert not window.problems_dock.isHidden()
    assert window.session.unreadable == {BAD, "images/sample_005.png"}
    assert window.session.current_key() == A  # the first image is shown; the bad ones were never selected


def test_autosave_index_loader_skips_bad_entries_with_a_reason(window, open_folder, sample_folder, answers):
    good = write_autosave(sample_folder, A, np.full((64, 64), 2, np.uint8))
    folder = autosave_dir(sample_folder)
    bad = {
        "list.json": [1, 2],
        "key.json": {"key": 7, "saved_at": 1.0, "file": good.path.name},
        "time.json": {"key": A, "saved_at": "yesterday", "file": good.path.name},
        "inf.json": {"key": A, "saved_at": math.inf, "file": good.path.name},
        "long.json": {"key": "k" * 5000, "saved_at": 1.0, "file": good.path.name},
        "elsewhere.json": {"key": B, "saved_at": 1.0, "file": "../../masks/sample_001.png"},
    }
    for name, data in bad.items():
        (folder / name).write_text(json.dumps(data))
    os.mkfifo(folder / "pipe.json")  # read naively, this would block the open forever
    skipped: list = []
    assert [e.key for e in list_autosaves(sample_folder, skipped)] == [A]
    reasons = {exc.path.name: str(exc) for exc in skipped}
    assert set(reasons) == set(bad) | {"pipe.json"}
    for field in ("'key'", "'saved_at'", "'file'"):
        assert any(field in r for r in reasons.values())
    assert all("\n" not in r and str(folder) in r for r in reasons.values())
    answers.restore = False
    open_folder(sample_folder)
    lines = window.session.problems()
    assert sum("autosave index" in line for line in lines) == 6 and any("pipe.json" in line for line in lines)
    assert window.problems.count() == len(lines)


def test_label_next_never_offers_an_image_that_cannot_be_read(qtbot, window, open_folder, sample_folder):
    (sample_folder / "masks" / "sample_003.png").unlink()  # the only unlabelled image, and it is truncated
    truncate(sample_folder / "images" / "sample_003.png")
    open_folder(sample_folder)
    qtbot.waitUntil(lambda: BAD in window.session.unreadable, timeout=5000)
    assert BAD not in window.prediction.label_next()  # the session's check reached the queue
    shown = [window.prediction.queue.item(i).text() for i in range(window.prediction.queue.count())]
    assert not any(BAD in text for text in shown)  # nor does the "Label next" list show it
    assert not window.label_next()
    assert window.browser.current_key() == A and window.session.current_key() == A


def test_qt_image_decoders_print_nothing_but_other_qt_messages_still_do(tmp_path):
    """A truncated PNG made Qt's thumbnail decoder print "libpng error: Read Error" to the terminal the app was
    started from; the file is named in the Problems panel already. Run in a child: the handler is process-wide."""
    import subprocess
    import sys

    script = ("from PySide6.QtCore import qWarning\n"
              "from seg_desktop.gui.app import create_app\n"
              "app = create_app()\n"
              "qWarning('libpng error: Read Error')\n"
              "qWarning('libtiff: bad directory')\n"
              "qWarning('a message the user should see')\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert proc.returncode == 0, proc.stderr
    assert "libpng" not in proc.stderr and "libtiff" not in proc.stderr
    assert "a message the user should see" in proc.stderr
