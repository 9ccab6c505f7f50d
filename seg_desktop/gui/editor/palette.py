"""The class palette: colour swatch and name per class; click to choose the class to paint (1-9 are the
window's actions, menus.py, so they pick the listed rows from any widget)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from ...core.classes import ClassSet


def _swatch(color: tuple[int, int, int], size: int = 16) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(QColor(*color))
    return QIcon(pixmap)


class ClassPalette(QWidget):
    """A list of the classes; follows the editor's current class and reports the user's choice."""

    classSelected = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._list = QListWidget(self)
        # the list never takes the focus (its type-ahead search would answer keys); the palette does, on click
        self._list.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self._list.currentItemChanged.connect(self._on_current_item)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._list)

    def attach(self, editor) -> None:
        """Wire to a MaskEditor both ways: the user's choice sets its class, its class changes move the row."""
        self.classSelected.connect(editor.set_current_class)
        editor.currentClassChanged.connect(self.set_current)
        editor.classesChanged.connect(self.set_classes)
        self.set_classes(editor.classes())
        self.set_current(editor.current_class())

    def set_classes(self, classes: ClassSet) -> None:
        current = self.current()
        self._list.blockSignals(True)
        self._list.clear()
        for row, info in enumerate(classes.classes):
            shortcut = f"{row + 1}  " if row < 9 else "    "
            suffix = "  (ignored)" if info.index == classes.ignore_index else ""
            item = QListWidgetItem(_swatch(info.color), f"{shortcut}{info.name}{suffix}")
            item.setData(Qt.ItemDataRole.UserRole, info.index)
            item.setToolTip(f"class index {info.index}, colour {info.color}")
            self._list.addItem(item)
        self._list.blockSignals(False)
        if current is not None:
            self.set_current(current)

    def set_current(self, index: int) -> None:
        """Highlight class `index` without emitting classSelected (it came from the editor)."""
        for row in range(self._list.count()):
            if self._list.item(row).data(Qt.ItemDataRole.UserRole) == index:
                self._list.blockSignals(True)
                self._list.setCurrentRow(row)
                self._list.blockSignals(False)
                return

    def current(self) -> int | None:
        item = self._list.currentItem()
        return None if item is None else item.data(Qt.ItemDataRole.UserRole)

    def _on_current_item(self, item: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if item is not None:
            self.classSelected.emit(item.data(Qt.ItemDataRole.UserRole))
