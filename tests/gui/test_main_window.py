"""The main window driven through its real widgets: open, browse, paint, save, switch, close, classes, drop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QListWidget, QMessageBox

from seg_desktop.core.autosave import list_autosaves, read_autosave, write_autosave
from seg_desktop.core.classes import read_classes_csv
from seg_desktop.core.edits import stroke
from seg_desktop.gui import dialogs

REAL_ASK_UNSAVED = dialogs.ask_unsaved  # taken before the `answers` fixture replaces it


def paint(window, cls: int = 2) -> np.ndarray:
    """One brush stroke through the editor's tool-host API (the undo stack records it); returns the new mask."""
    edit = stroke(window.editor.live_mask(), [(4, 4), (40, 30)], 5, cls)
    assert edit is not None
    window.editor.commit("Brush", edit)
    return np.array(window.session.mask())


def disk_mask(folder, key: str) -> np.ndarray:
    return np.asarray(Image.open(folder / "masks" / key.split("/", 1)[1]))


def go_to(qtbot, window, row: int) -> str:
    """Move the browser to `row` with the keyboard and wait for the editor to show that image."""
    view = window.browser.view
    view.setFocus()
    QTest.keyClick(view, Qt.Key.Key_Home)
    for _ in range(row):
        QTest.keyClick(view, Qt.Key.Key_Down)
    key = window.browser.current_key()
    qtbot.waitUntil(lambda: window.editor.current_key() == key, timeout=5000)
    return key


def test_window_is_shown_before_tensorflow_is_imported():
    code = textwrap.dedent("""
        import sys
        from seg_desktop.gui.app import create_app
        from seg_desktop.gui.main_window import MainWindow
        app = create_app()
        w = MainWindow()
        w.show()
        app.processEvents()
        print(w.isVisible(), 'tensorflow' in sys.modules, 'keras' in sys.modules)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert out.stdout.split() == ["True", "False", "False"], out.stderr


def test_open_folder_lists_images_and_summary(window, open_folder, sample_folder, settings):
    open_folder(sample_folder)
    assert window.browser.model.rowCount() == 8
    assert window.editor.current_key() == "images/sample_000.png"
    text = window.summary.text()
    assert "images/masks" in text and "8 images" in text and "8 labelled" in text and "0 problem" in text
    assert str(sample_folder.resolve()) in window.windowTitle()
    assert window.recent.folders()[0] == str(sample_folder.resolve())
    assert window.problems_dock.isHidden()
    assert len(window.editor_actions.actions()) > 0 and window.toolbar.actions()


def test_ctrl_s_saves_atomically_and_keeps_the_original(qtbot, window, open_folder, sample_folder):
    open_folder(sample_folder)
    key = go_to(qtbot, window, 2)
    assert key == "images/sample_002.png"
    original = (sample_folder / "masks" / "sample_002.png").read_bytes()
    edited = paint(window)
    assert window.isWindowModified() and window.browser.model.rows[2].dirty
    QTest.keySequence(window, "Ctrl+S")
    qtbot.waitUntil(lambda: not window.isWindowModified(), timeout=2000)
    assert np.array_equal(disk_mask(sample_folder, key), edited)
    assert (sample_folder / ".seg-desktop" / "originals" / "masks" / "sample_002.png").read_bytes() == original
    status = json.loads((sample_folder / ".seg-desktop" / "project.json").read_text())["status"]
    assert status == {key: "edited"}
    assert window.browser.model.rows[2].status == "edited"
    assert not list((sample_folder / "masks").glob(".*.tmp"))


def test_switching_images_saves_by_default(qtbot, window, open_folder, sample_folder, answers):
    open_folder(sample_folder)
    edited = paint(window, cls=3)
    go_to(qtbot, window, 1)
    assert answers.asked == []
    assert np.array_equal(disk_mask(sample_folder, "images/sample_000.png"), edited)
    assert window.session.dirty_keys() == []


def test_switching_asks_when_the_setting_is_on(qtbot, window, open_folder, sample_folder, answers):
    window.ask_switch_action.setChecked(True)
    assert window.settings.value("editor/ask_before_switch", type=bool) is True
    open_folder(sample_folder)
    before = disk_mask(sample_folder, "images/sample_000.png")
    paint(window)
    answers.unsaved = dialogs.CANCEL
    window.browser.select_key("images/sample_001.png")
    assert answers.asked[-1] == (["images/sample_000.png"], "switching images")
    assert window.browser.current_key() == "images/sample_000.png"  # cancelled: back where the edit is
    assert window.session.dirty_keys() == ["images/sample_000.png"]
    answers.unsaved = dialogs.DISCARD
    go_to(qtbot, window, 1)
    assert window.session.dirty_keys() == []
    assert np.array_equal(disk_mask(sample_folder, "images/sample_000.png"), before)


def test_close_with_unsaved_edits_asks(qtbot, window, open_folder, sample_folder, answers):
    open_folder(sample_folder)
    edited = paint(window)
    answers.unsaved = dialogs.CANCEL
    assert window.close() is False and window.isVisible()
    assert answers.asked[-1][1] == "closing"
    answers.unsaved = dialogs.SAVE
    assert window.close() is True
    assert np.array_equal(disk_mask(sample_folder, "images/sample_000.png"), edited)
    assert window.settings.value("window/geometry") is not None


def test_close_answered_through_the_real_message_box(qtbot, window, open_folder, sample_folder, monkeypatch):
    """The real QMessageBox of dialogs.ask_unsaved, answered by clicking Cancel (the window stays open)."""
    monkeypatch.setattr(dialogs, "ask_unsaved", REAL_ASK_UNSAVED)
    open_folder(sample_folder)
    paint(window)

    def click_cancel():
        box = QApplication.activeModalWidget()
        box.button(QMessageBox.StandardButton.Cancel).click()

    QTimer.singleShot(50, click_cancel)
    assert window.close() is False
    window.session.discard(window.session.current_key())  # let the fixture close it


def test_autosave_timer_writes_dirty_masks(qtbot, window, open_folder, sample_folder):
    open_folder(sample_folder)
    window.session.autosave_timer.setInterval(30)
    edited = paint(window)
    qtbot.waitUntil(lambda: len(list_autosaves(sample_folder)) == 1, timeout=2000)
    entry = list_autosaves(sample_folder)[0]
    assert entry.key == "images/sample_000.png"
    assert np.array_equal(read_autosave(entry), edited)
    assert window.session.save_current()
    assert list_autosaves(sample_folder) == []  # saved for real: the autosave is gone


def test_autosave_newer_than_mask_is_offered_and_restored(window, open_folder, sample_folder, answers):
    mask = disk_mask(sample_folder, "images/sample_005.png").copy()
    mask[:10, :10] = 4
    write_autosave(sample_folder, "images/sample_005.png", mask)
    answers.restore = True
    open_folder(sample_folder)
    assert [a.key for a in answers.offered[0]] == ["images/sample_005.png"]
    assert np.array_equal(disk_mask(sample_folder, "images/sample_005.png"), mask)
    assert list_autosaves(sample_folder) == []
    assert window.browser.model.rows[5].status == "edited"


def test_declined_autosave_is_dropped(window, open_folder, sample_folder, answers):
    before = disk_mask(sample_folder, "images/sample_005.png")
    write_autosave(sample_folder, "images/sample_005.png", np.full_like(before, 2))
    answers.restore = False
    open_folder(sample_folder)
    assert answers.offered and list_autosaves(sample_folder) == []
    assert np.array_equal(disk_mask(sample_folder, "images/sample_005.png"), before)


def test_problems_are_listed(window, open_folder, sample_folder):
    (sample_folder / "images" / "broken.png").write_bytes(b"")
    Image.fromarray(np.zeros((64, 64), np.uint8)).save(sample_folder / "masks" / "orphan.png")
    open_folder(sample_folder)
    assert not window.problems_dock.isHidden()
    lines = [window.problems.item(i).text() for i in range(window.problems.count())]
    assert any("broken.png" in line and "empty" in line for line in lines)
    assert any("orphan.png" in line and "without an image" in line for line in lines)
    assert "2 problem(s)" in window.summary.text()


def test_missing_folder_is_one_message(qtbot, window, answers, tmp_path):
    window.open_folder(tmp_path / "nope")
    qtbot.waitUntil(lambda: bool(answers.errors), timeout=3000)
    assert answers.errors == [f"{tmp_path / 'nope'} does not exist; choose an existing folder."]


def test_class_editor_renames_recolours_and_adds(qtbot, window, open_folder, sample_folder):
    open_folder(sample_folder)

    def edit_dialog():
        dialog = QApplication.activeModalWidget()
        dialog.table.item(1, 1).setText("coin")
        dialog.set_colour(1, (1, 2, 3))
        dialog.add_class()
        dialog.accept()

    QTimer.singleShot(50, edit_dialog)
    window.edit_classes()
    classes = read_classes_csv(sample_folder / "classes.csv")
    assert classes.name_of(1) == "coin" and classes.color_of(1) == (1, 2, 3)
    assert classes.num_classes == 6 and classes.name_of(5) == "class 5"
    assert window.editor.classes() == classes
    palette_list = window.palette.findChild(QListWidget)
    assert palette_list.count() == 6 and "coin" in palette_list.item(1).text()


def test_drop_a_folder_opens_it(qtbot, window, sample_folder):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(sample_folder))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.NoButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    qtbot.waitUntil(lambda: window.dataset is not None, timeout=5000)
    assert window.dataset.root == sample_folder.resolve()


def test_geometry_and_recent_folders_survive_a_restart(qtbot, window, open_folder, sample_folder, settings):
    from seg_desktop.gui.main_window import MainWindow

    open_folder(sample_folder)
    window.resize(790, 500)  # inside the offscreen screen (800x600), which restoreGeometry clamps to
    window.browser_dock.hide()
    assert window.close()
    again = MainWindow(settings=settings)
    qtbot.addWidget(again)
    assert again.size().width() == 790 and again.browser_dock.isHidden()
    assert again.recent.folders() == [str(sample_folder.resolve())]
    again.show()
    again.recent_menu.aboutToShow.emit()
    assert [a.text() for a in again.recent_menu.actions()] == [str(sample_folder.resolve())]
