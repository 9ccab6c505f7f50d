"""Keyboard everywhere: the window's shortcuts work whatever widget has the focus, except while a text field
takes the key.

Qt asks the focused widget first (a ShortcutOverride event) whether it wants a key that is also a shortcut. Line
edits and spin boxes already claim printable keys and their own Ctrl+Z; `KeyRouter` adds what Qt leaves to the
shortcut: any unmodified key typed into a text field (Home/End, PgUp/PgDn stepping a spin box, digits), and Tab,
which outside the canvas moves the focus through a form instead of toggling the overlay. Everything else reaches
the window's actions, so 1-9 pick a class, PgUp/PgDn/Home/End change image and Ctrl+Z undoes the mask from the
canvas, the image list or the training dock alike. The cheat sheet and the quick class picker (classes beyond 9)
are generated from the actions and the classes themselves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence
from PySide6.QtWidgets import (QAbstractSpinBox, QApplication, QDialog, QDialogButtonBox, QHeaderView, QLineEdit,
                               QListWidget, QListWidgetItem, QPlainTextEdit, QTableWidget, QTableWidgetItem,
                               QTextEdit, QVBoxLayout, QWidget)

from ..core.classes import ClassSet

TEXT_FIELDS = (QLineEdit, QAbstractSpinBox, QTextEdit, QPlainTextEdit)
_MODIFIERS = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.AltModifier | Qt.KeyboardModifier.MetaModifier
_NOT_TYPED = {Qt.Key.Key_Escape, Qt.Key.Key_Return, Qt.Key.Key_Enter}  # dialogs and forms act on these
_UNDO_KEYS = (QKeySequence.StandardKey.Undo, QKeySequence.StandardKey.Redo)


def _is_text_field(widget: QObject | None) -> bool:
    return isinstance(widget, TEXT_FIELDS) and not getattr(widget, "isReadOnly", lambda: False)()


class KeyRouter(QObject):
    """Event filter on one window: decides which keys the focused widget keeps (see the module doc).

    Qt sends the ShortcutOverride to the focused widget and, while nobody accepts it, up through its parents to
    the window, so filtering the window alone sees every key of its docks and tabs (and costs nothing for the
    window's other events). `canvas` is the widget (with its children) where Tab toggles the overlay.
    """

    def __init__(self, window: QWidget, canvas: QWidget) -> None:
        super().__init__(window)
        self._window, self._canvas = window, canvas
        window.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and obj is self._window:
            focus = QApplication.focusWidget()
            if focus is not None and focus.window() is self._window and self.widget_keeps(focus, event):
                event.accept()  # the focused widget receives the key as a KeyPress; no shortcut fires
        return False

    def widget_keeps(self, widget: QWidget, event: QKeyEvent) -> bool:
        key, modifiers = event.key(), event.modifiers()
        if key in (Qt.Key.Key_Tab, Qt.Key.Key_Backtab) and not modifiers & _MODIFIERS:
            return not (widget is self._canvas or self._canvas.isAncestorOf(widget))
        if not _is_text_field(widget):
            return False
        if not modifiers & _MODIFIERS:
            return key not in _NOT_TYPED and not Qt.Key.Key_F1 <= key <= Qt.Key.Key_F35
        return any(event.matches(k) for k in _UNDO_KEYS)  # Ctrl+Z in a field undoes the typing, not the mask


def shortcut_rows(actions: Iterable[QAction]) -> list[tuple[str, str]]:
    """(what it does, keys) for every action with a shortcut, in the order given, each action once."""
    rows, seen = [], set()
    for action in actions:
        keys = [k.toString(QKeySequence.SequenceFormat.NativeText) for k in action.shortcuts() if not k.isEmpty()]
        if not keys or id(action) in seen:
            continue
        seen.add(id(action))
        text = action.text().replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip(".…")
        rows.append((text, ", ".join(keys)))
    return rows


class CheatSheet(QDialog):
    """Help ▸ Keyboard shortcuts: a table made from the actions themselves, so it can never fall out of date."""

    def __init__(self, actions: Iterable[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.rows = shortcut_rows(actions)
        self.table = QTableWidget(len(self.rows), 2, self)
        self.table.setHorizontalHeaderLabels(["Action", "Keys"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for row, (text, keys) in enumerate(self.rows):
            self.table.setItem(row, 0, QTableWidgetItem(text))
            self.table.setItem(row, 1, QTableWidgetItem(keys))
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(460, 520)


class ClassPicker(QDialog):
    """Quick class picker: type part of a name or a class number, Enter paints with it (any number of classes)."""

    def __init__(self, classes: ClassSet, choose: Callable[[int], object], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Pick a class")
        self._choose = choose
        self.filter = QLineEdit(placeholderText="Class name or number…")
        self.list = QListWidget()
        for row, info in enumerate(classes.classes):
            item = QListWidgetItem(f"{row + 1}  {info.name}")
            item.setData(Qt.ItemDataRole.UserRole, info.index)
            item.setData(Qt.ItemDataRole.UserRole + 1, f"{row + 1} {info.name.lower()}")
            self.list.addItem(item)
        self.list.setCurrentRow(0)
        self.filter.textChanged.connect(self._apply_filter)
        self.filter.returnPressed.connect(self.accept)
        self.list.itemActivated.connect(lambda _item: self.accept())
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter)
        layout.addWidget(self.list)
        self.resize(320, 360)

    def _apply_filter(self, text: str) -> None:
        """A number matches that row exactly; words match anywhere in the name; the first match is chosen."""
        text = text.strip().lower()
        first = None
        for row in range(self.list.count()):
            item = self.list.item(row)
            label = item.data(Qt.ItemDataRole.UserRole + 1)
            number, name = label.split(" ", 1)
            shown = not text or (text == number if text.isdigit() else text in name)
            item.setHidden(not shown)
            if shown and first is None:
                first = row
        if first is not None:
            self.list.setCurrentRow(first)

    def accept(self) -> None:
        item = self.list.currentItem()
        if item is not None and not item.isHidden():
            self._choose(int(item.data(Qt.ItemDataRole.UserRole)))
        super().accept()
