"""The main window's actions, menus and toolbar, built in one place so the window itself stays wiring.

Each action calls a method of the window or of its session; the shortcuts live here and nowhere else.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QToolBar

from ..core.paths import display_path
from .import_dialog import show_import_dialog
from .icons import app_icon, icon
from .shortcuts import CheatSheet, ClassPicker, KeyRouter

if TYPE_CHECKING:
    from .main_window import MainWindow

ASK_BEFORE_SWITCH = "editor/ask_before_switch"
RECENT = "recent/folders"
MAX_RECENT = 10


class RecentFolders:
    """File ▸ Open recent: the last MAX_RECENT folders opened, newest first, kept in QSettings."""

    def __init__(self, settings: QSettings, menu: QMenu, open_folder: Callable[[Path], object]) -> None:
        self._settings, self._menu, self._open = settings, menu, open_folder
        menu.aboutToShow.connect(self._fill)

    def folders(self) -> list[str]:
        return [_from_setting(str(f)) for f in self._settings.value(RECENT, [], type=list) if f]

    def remember(self, folder: Path) -> None:
        folders = [str(folder)] + [f for f in self.folders() if f != str(folder)]
        self._settings.setValue(RECENT, [_to_setting(f) for f in folders[:MAX_RECENT]])

    def _fill(self) -> None:
        self._menu.clear()
        for folder in self.folders():
            action = self._menu.addAction(display_path(folder))
            action.triggered.connect(lambda _=False, f=folder: self._open(Path(f)))
        if self._menu.isEmpty():
            self._menu.addAction("(none)").setEnabled(False)


_BYTES = "fs-bytes:"


def _to_setting(folder: str) -> str:
    """A folder name whose bytes are not UTF-8 (Python keeps them as surrogate escapes) does not survive a
    QString, so it is stored as the hex of its bytes; every other name is stored as it reads."""
    try:
        folder.encode("utf-8")
        return folder
    except UnicodeEncodeError:
        return _BYTES + os.fsencode(folder).hex()


def _from_setting(value: str) -> str:
    if value.startswith(_BYTES):
        try:
            return os.fsdecode(bytes.fromhex(value[len(_BYTES):]))
        except ValueError:
            return value
    return value


def _action(window: MainWindow, text: str, slot: Callable, shortcut: QKeySequence | str | None = None,
            icon_name: str | None = None) -> QAction:
    action = QAction(text, window)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    if icon_name is not None:
        action.setIcon(icon(icon_name))
    action.triggered.connect(slot)
    return action


def build_menus(w: MainWindow) -> None:
    """Create the window's actions as attributes (`w.open_action`, `w.save_action`, …), its menus and toolbar."""
    session = w.session
    w.setWindowIcon(app_icon())
    w.open_action = _action(w, "&Open folder…", w.choose_folder, QKeySequence.StandardKey.Open, "open")
    w.sample_action = _action(w, "Open &sample dataset", w.open_sample)
    w.open_run_action = _action(w, "Open r&un…", w.choose_run)
    w.import_action = _action(w, "&Import…", lambda: show_import_dialog(w))
    w.save_action = _action(w, "&Save mask", session.save_current, QKeySequence.StandardKey.Save,
                            "save")
    w.save_all_action = _action(w, "Save &all masks", session.save_all, "Ctrl+Shift+S")
    w.classes_action = _action(w, "&Classes…", w.edit_classes)
    w.quit_action = _action(w, "&Quit", w.close, QKeySequence.StandardKey.Quit)
    w.ask_switch_action = QAction("Ask before saving on image switch", w, checkable=True)
    w.ask_switch_action.setChecked(w.settings.value(ASK_BEFORE_SWITCH, False, type=bool))
    w.ask_switch_action.toggled.connect(lambda on: w.settings.setValue(ASK_BEFORE_SWITCH, on))
    ea = w.editor_actions
    for action, name in ((ea.undo, "undo"), (ea.redo, "redo"), *((a, n) for n, a in ea.tool_actions.items())):
        action.setIcon(icon(name))

    menu = w.menuBar().addMenu("&File")
    menu.addAction(w.open_action)
    w.recent_menu = menu.addMenu("Open &recent")
    menu.addAction(w.sample_action)
    menu.addAction(w.open_run_action)
    menu.addAction(w.import_action)
    menu.addSeparator()
    menu.addActions([w.save_action, w.save_all_action])
    menu.addSeparator()
    menu.addAction(w.quit_action)

    menu = w.edit_menu = w.menuBar().addMenu("&Edit")
    menu.addActions([ea.undo, ea.redo])
    menu.addSeparator()
    menu.addAction(w.classes_action)
    menu.addSeparator()
    menu.addAction(w.ask_switch_action)

    menu = w.menuBar().addMenu("&Tools")
    menu.addActions(list(ea.tool_actions.values()))

    w.train_action = _action(w, "&Train", w.train, "Ctrl+T", "train")
    w.stop_train_action = _action(w, "&Stop training", w.training.request_stop, None, "stop")
    w.predict_action = _action(w, "&Predict all", lambda: w.prediction.predict_all(), "Ctrl+Shift+P", "predict")
    w.accept_action = _action(w, "&Accept prediction as mask", w.accept_prediction, "Ctrl+Shift+A")
    w.label_next_action = _action(w, "&Label next (most uncertain)", w.label_next, "Ctrl+N")
    w.health_action = _action(w, "Dataset &health…", w.show_health)
    w.export_action = _action(w, "&Export predictions…", w.show_export, "Ctrl+E")
    menu = w.menuBar().addMenu("&Model")
    menu.addActions([w.train_action, w.stop_train_action])
    menu.addSeparator()
    menu.addActions([w.predict_action, w.accept_action, w.label_next_action])
    menu.addSeparator()
    menu.addActions([w.health_action, w.export_action])

    menu = w.menuBar().addMenu("&View")
    menu.addActions([ea.toggle_overlay, ea.fit, ea.zoom_in, ea.zoom_out])
    menu.addSeparator()
    w.show_editor_action = _action(w, "Edit mask", lambda: w.tabs.setCurrentIndex(0), "Ctrl+1")
    w.show_compare_action = _action(w, "Prediction vs ground truth", lambda: w.tabs.setCurrentIndex(1), "Ctrl+2")
    menu.addActions([w.show_editor_action, w.show_compare_action])
    menu.addSeparator()
    for dock in (w.browser_dock, w.palette_dock, w.tools_dock, w.training_dock, w.prediction_dock, w.problems_dock):
        menu.addAction(dock.toggleViewAction())

    _add_keyboard_actions(w)
    menu = w.menuBar().addMenu("&Help")
    w.shortcuts_action = _action(w, "&Keyboard shortcuts", lambda: CheatSheet(all_actions(w), w).exec(), "?")
    menu.addAction(w.shortcuts_action)
    w.key_router = KeyRouter(w, w.editor)

    bar = QToolBar("Main", w)
    bar.setObjectName("mainToolBar")
    bar.addActions([w.open_action, w.save_action])
    bar.addSeparator()
    bar.addActions([ea.undo, ea.redo])
    bar.addSeparator()
    bar.addActions(list(ea.tool_actions.values()))
    bar.addSeparator()
    bar.addActions([w.train_action, w.predict_action])
    w.addToolBar(bar)
    w.toolbar = bar


def _add_keyboard_actions(w: MainWindow) -> None:
    """Actions that live on the keyboard (and in Go / Edit menus): moving between images from any widget,
    classes 1-9 by digit and any class through the quick picker."""
    b = w.browser
    menu = w.menuBar().addMenu("&Go")
    w.next_image_action = _action(w, "&Next image", lambda: b.step(1), "PgDown")
    w.previous_image_action = _action(w, "&Previous image", lambda: b.step(-1), "PgUp")
    w.first_image_action = _action(w, "&First image", lambda: b.step_to_end(first=True), "Home")
    w.last_image_action = _action(w, "&Last image", lambda: b.step_to_end(first=False), "End")
    menu.addActions([w.next_image_action, w.previous_image_action, w.first_image_action, w.last_image_action])
    menu.addSeparator()
    menu.addAction(w.label_next_action)

    def choose_row(row: int) -> None:
        classes = w.editor.classes().classes
        if row < len(classes):
            w.editor.set_current_class(classes[row].index)

    w.edit_menu.addSeparator()
    w.pick_class_action = _action(w, "Pick &class…", lambda: ClassPicker(w.editor.classes(),
                                                                      w.editor.set_current_class, w).exec(), "Ctrl+K")
    w.edit_menu.addAction(w.pick_class_action)
    w.class_actions = [_action(w, f"Class {n} in the list", lambda _=False, r=n - 1: choose_row(r), str(n))
                       for n in range(1, 10)]
    w.addActions(w.class_actions)  # window-wide, not listed in a menu (the Classes dock numbers its rows)


def all_actions(w: MainWindow) -> list[QAction]:
    """Every action of the window in menu order, then those only on the keyboard: what the cheat sheet lists."""
    found: list[QAction] = []

    def walk(actions: list[QAction]) -> None:
        for action in actions:
            if action.menu() is not None:
                walk(action.menu().actions())
            elif not action.isSeparator() and action not in found:  # Label next is in two menus
                found.append(action)

    walk(w.menuBar().actions())
    return found + list(w.class_actions) + [a for a in w.editor_actions.actions() if a not in found]
