"""The window's questions and messages, one function each, plus the class editor dialog.

Every question goes through a function of this module (not an inline QMessageBox), so tests answer it by
monkeypatching one name and the wording of each question lives in one place.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (QColorDialog, QDialog, QDialogButtonBox, QHBoxLayout, QHeaderView,
                               QMessageBox, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from ..core.autosave import Autosave
from ..core.classes import ClassInfo, ClassSet, default_palette

SAVE, DISCARD, CANCEL = "save", "discard", "cancel"


def show_error(parent: QWidget | None, message: str, title: str = "seg-desktop") -> None:
    """One sentence naming the file and what to do (a DatasetError's text), never a traceback."""
    QMessageBox.warning(parent, title, message)


def ask_unsaved(parent: QWidget | None, names: list[str], action: str) -> str:
    """Save / Discard / Cancel for unsaved masks before `action` ("closing", "opening another folder", …)."""
    shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
    box = QMessageBox(QMessageBox.Icon.Warning, "Unsaved masks",
                      f"{len(names)} mask(s) have unsaved edits: {shown}.\nSave them before {action}?",
                      QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard
                      | QMessageBox.StandardButton.Cancel, parent)
    box.setDefaultButton(QMessageBox.StandardButton.Save)
    answer = box.exec()
    return {QMessageBox.StandardButton.Save: SAVE, QMessageBox.StandardButton.Discard: DISCARD}.get(
        QMessageBox.StandardButton(answer), CANCEL)


def offer_restore(parent: QWidget | None, entries: list[Autosave]) -> bool:
    """After a crash: restore the autosaved masks (written to disk, originals kept) or throw them away."""
    shown = "\n".join(f"  {a.key}" for a in entries[:10]) + (f"\n  … and {len(entries) - 10} more"
                                                             if len(entries) > 10 else "")
    answer = QMessageBox.question(
        parent, "Restore unsaved edits?",
        f"seg-desktop did not close normally. {len(entries)} mask(s) have autosaved edits newer than the files:\n"
        f"{shown}\n\nRestore them (the current files are kept under .seg-desktop/originals/)?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.Yes)
    return answer == QMessageBox.StandardButton.Yes


def _swatch(color: tuple[int, int, int]) -> QIcon:
    pixmap = QPixmap(16, 16)
    pixmap.fill(QColor(*color))
    return QIcon(pixmap)


class ClassEditorDialog(QDialog):
    """Add, rename and recolour classes. Indices never change (the masks on disk store them).

    `allow_recolour=False` for datasets whose masks are RGB colour masks: there the colour *is* the label, and
    recolouring would make every existing mask unreadable.
    """

    def __init__(self, classes: ClassSet, allow_recolour: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Classes")
        self._ignore = classes.ignore_index
        self._source = classes.source
        self._allow_recolour = allow_recolour
        self.table = QTableWidget(0, 3, self)
        self.table.setHorizontalHeaderLabels(["Index", "Name", "Colour"])
        self.table.verticalHeader().setVisible(False)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.table.cellDoubleClicked.connect(self._cell_double_clicked)
        for info in classes.classes:
            self._add_row(info)
        add = QPushButton("Add class", self)
        add.clicked.connect(self.add_class)
        recolour = QPushButton("Colour…", self)
        recolour.setEnabled(allow_recolour)
        recolour.clicked.connect(lambda: self.choose_colour(self.table.currentRow()))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        row = QHBoxLayout()
        row.addWidget(add)
        row.addWidget(recolour)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addLayout(row)
        layout.addWidget(buttons)
        self.resize(420, 360)

    def _add_row(self, info: ClassInfo) -> None:
        r = self.table.rowCount()
        self.table.insertRow(r)
        index = QTableWidgetItem(str(info.index))
        index.setFlags(index.flags() & ~Qt.ItemFlag.ItemIsEditable)
        index.setData(Qt.ItemDataRole.UserRole, info.index)
        colour = QTableWidgetItem(_swatch(info.color), "#%02x%02x%02x" % info.color)
        colour.setFlags(colour.flags() & ~Qt.ItemFlag.ItemIsEditable)
        colour.setData(Qt.ItemDataRole.UserRole, info.color)
        self.table.setItem(r, 0, index)
        self.table.setItem(r, 1, QTableWidgetItem(info.name))
        self.table.setItem(r, 2, colour)

    def add_class(self) -> int:
        """Append a class with the lowest unused index; returns the new index."""
        used = {self.table.item(r, 0).data(Qt.ItemDataRole.UserRole) for r in range(self.table.rowCount())}
        index = next(i for i in range(256) if i not in used)
        self._add_row(ClassInfo(index, f"class {index}", tuple(int(v) for v in default_palette(index + 1)[index])))
        self.table.setCurrentCell(self.table.rowCount() - 1, 1)
        return index

    def set_colour(self, row: int, color: tuple[int, int, int]) -> None:
        item = self.table.item(row, 2)
        item.setData(Qt.ItemDataRole.UserRole, tuple(color))
        item.setIcon(_swatch(color))
        item.setText("#%02x%02x%02x" % tuple(color))

    def choose_colour(self, row: int) -> None:
        if row < 0 or not self._allow_recolour:
            return
        chosen = QColorDialog.getColor(QColor(*self.table.item(row, 2).data(Qt.ItemDataRole.UserRole)), self,
                                       "Class colour")
        if chosen.isValid():
            self.set_colour(row, (chosen.red(), chosen.green(), chosen.blue()))

    def _cell_double_clicked(self, row: int, column: int) -> None:
        if column == 2:
            self.choose_colour(row)

    def classes(self) -> ClassSet:
        """The edited classes; an emptied name falls back to "class N"."""
        infos = []
        for r in range(self.table.rowCount()):
            index = self.table.item(r, 0).data(Qt.ItemDataRole.UserRole)
            name = self.table.item(r, 1).text().strip().replace(",", " ") or f"class {index}"
            infos.append(ClassInfo(index, name, tuple(self.table.item(r, 2).data(Qt.ItemDataRole.UserRole))))
        return ClassSet(infos, self._ignore, "classes.csv")

