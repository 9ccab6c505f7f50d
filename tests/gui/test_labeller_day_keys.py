"""Issue 14, keyboard: the window's shortcuts work with the canvas, the image list or the training form focused,
except while a text field takes the key; the cheat sheet is made from the actions; any class is reachable."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication, QDialog

from seg_desktop.core.classes import ClassInfo, ClassSet
from seg_desktop.gui import shortcuts
from seg_desktop.gui.menus import all_actions


@pytest.fixture
def ready(qtbot, window, open_folder, sample_folder):
    open_folder(sample_folder)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=3000)
    return window


def _focus(qtbot, widget) -> None:
    widget.setFocus(Qt.FocusReason.OtherFocusReason)
    qtbot.waitUntil(widget.hasFocus, timeout=2000)


def _canvas(window):
    return window.editor.focusProxy() or window.editor


def _focused_epochs_spin(qtbot, window):
    """The training form's epochs box, its dock shown and the focus in it."""
    window.training_dock.show()
    window.training_dock.raise_()
    spin = window.training.epochs_spin
    _focus(qtbot, spin)
    return spin


def _shows(qtbot, window, key: str) -> None:
    """Wait until the session shows `key` (images load on a worker)."""
    qtbot.waitUntil(lambda: window.session.current_key() == key, timeout=3000)


def _paint(window) -> None:
    """One stroke through the session, so there is something to undo."""
    mask = np.array(window.session.mask())
    mask[:8, :8] = 2 if mask[0, 0] != 2 else 1
    window.session.accept_prediction(mask)


@pytest.mark.parametrize("where", ["canvas", "list", "form_button"])
def test_pgdn_end_home_pgup_change_image_from_any_widget(qtbot, ready, where):
    w = ready
    target = {"canvas": _canvas(w), "list": w.browser.view, "form_button": w.training.train_button}[where]
    w.training_dock.show()
    w.training_dock.raise_()
    _focus(qtbot, target)
    keys = w.browser.visible_keys()
    qtbot.keyClick(target, Qt.Key.Key_PageDown)
    _shows(qtbot, w, keys[1])
    qtbot.keyClick(target, Qt.Key.Key_End)
    _shows(qtbot, w, keys[-1])
    qtbot.keyClick(target, Qt.Key.Key_Home)
    _shows(qtbot, w, keys[0])
    qtbot.keyClick(target, Qt.Key.Key_PageUp)  # already first: stays
    qtbot.wait(50)
    assert w.session.current_key() == keys[0] and w.browser.current_key() == keys[0]


@pytest.mark.parametrize("where", ["canvas", "list", "form_button", "palette"])
def test_digit_picks_the_class_from_any_widget(qtbot, ready, where):
    """The window's actions are the only digit handling: they pick the listed row wherever the focus is."""
    w = ready
    target = {"canvas": _canvas(w), "list": w.browser.view, "form_button": w.training.train_button,
              "palette": w.palette}[where]
    w.palette_dock.show()
    _focus(qtbot, target)
    classes = w.editor.classes().classes
    qtbot.keyClick(target, Qt.Key.Key_3)
    assert w.editor.current_class() == classes[2].index and w.palette.current() == classes[2].index
    qtbot.keyClick(target, Qt.Key.Key_1)
    assert w.editor.current_class() == classes[0].index and w.palette.current() == classes[0].index
    assert len(classes) < 9
    qtbot.keyClick(target, Qt.Key.Key_9)  # no ninth class: ignored
    assert w.editor.current_class() == classes[0].index


def test_digits_type_into_a_spin_box_and_pick_no_class(qtbot, ready):
    w = ready
    spin = _focused_epochs_spin(qtbot, w)
    spin.lineEdit().selectAll()
    before = w.editor.current_class()
    qtbot.keyClicks(spin, "37")
    assert spin.value() == 37
    assert w.editor.current_class() == before


def test_tab_moves_focus_in_the_form_and_leaves_the_overlay_alone(qtbot, ready):
    w = ready
    spin = _focused_epochs_spin(qtbot, w)
    overlay = w.editor.overlay_visible()
    qtbot.keyClick(spin, Qt.Key.Key_Tab)
    assert w.editor.overlay_visible() == overlay
    assert not spin.hasFocus() and QApplication.focusWidget() is not None
    # on the canvas Tab still toggles the overlay
    canvas = _canvas(w)
    _focus(qtbot, canvas)
    qtbot.keyClick(canvas, Qt.Key.Key_Tab)
    assert w.editor.overlay_visible() != overlay


def test_ctrl_z_in_a_text_field_does_not_undo_the_mask(qtbot, ready):
    w = ready
    _paint(w)
    painted = np.array(w.session.mask())
    field = w.browser.name_filter
    _focus(qtbot, field)
    qtbot.keyClicks(field, "sam")
    qtbot.keyClick(field, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(w.session.mask(), painted)  # the mask keeps its edit
    assert field.text() != "sam"  # the field undid its typing instead
    # from the image list, Ctrl+Z undoes the mask
    _focus(qtbot, w.browser.view)
    qtbot.keyClick(w.browser.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not np.array_equal(w.session.mask(), painted)


def test_home_end_edit_the_filter_text_not_the_image(qtbot, ready):
    w = ready
    field = w.browser.name_filter
    _focus(qtbot, field)
    key = w.session.current_key()
    qtbot.keyClicks(field, "sa")
    qtbot.keyClick(field, Qt.Key.Key_Home)
    qtbot.wait(50)
    assert field.cursorPosition() == 0 and w.session.current_key() == key and w.browser.current_key() == key


def test_cheat_sheet_lists_every_shortcut_of_the_window(qtbot, ready, monkeypatch):
    w = ready
    shown = []
    monkeypatch.setattr(shortcuts.CheatSheet, "exec", lambda self: shown.append(self) or 0)
    w.shortcuts_action.trigger()
    assert shown
    rows = dict(shown[0].rows)
    for action in (w.save_action, w.train_action, w.next_image_action, w.pick_class_action,
                   w.editor_actions.undo, w.editor_actions.tool_actions["brush"]):
        text = action.text().replace("&", "").rstrip(".…")
        assert text in rows, text
        assert rows[text] == ", ".join(k.toString() for k in action.shortcuts())
    assert rows["Class 3 in the list"] == "3"


def test_no_two_actions_share_a_shortcut(ready):
    seen: dict[str, str] = {}
    for action in all_actions(ready):
        for key in action.shortcuts():
            name = key.toString()
            assert name not in seen, f"{name}: {seen.get(name)} and {action.text()}"
            seen[name] = action.text()


def test_quick_class_picker_reaches_classes_beyond_nine(qtbot, ready):
    w = ready
    many = ClassSet([ClassInfo(i, f"class{i:02d}", (i * 9 % 256, i * 37 % 256, i * 71 % 256)) for i in range(14)])
    w.editor.set_classes(many)
    picker = shortcuts.ClassPicker(many, w.editor.set_current_class, w)
    qtbot.addWidget(picker)
    qtbot.keyClicks(picker.filter, "12")  # the 12th row: index 11
    picker.accept()
    assert w.editor.current_class() == 11
    picker = shortcuts.ClassPicker(many, w.editor.set_current_class, w)
    qtbot.addWidget(picker)
    qtbot.keyClicks(picker.filter, "class13")
    qtbot.keyClick(picker.filter, Qt.Key.Key_Return)
    assert w.editor.current_class() == 13 and picker.result() == QDialog.DialogCode.Accepted


def test_ctrl_t_shows_the_form_and_does_not_start(qtbot, ready):
    w = ready
    w.palette_dock.raise_()
    w.train_action.trigger()
    assert not w.training.is_training()
    assert w.training.isVisible()
    assert w.training.train_button.hasFocus()
