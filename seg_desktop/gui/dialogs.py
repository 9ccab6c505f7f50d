"""The window's questions and messages, one function each, plus the class editor dialog.

Every question goes through a function of this module (not an inline QMessageBox), so tests answer it by
monkeypatching one name and the wording of each question lives in one place.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QColor, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (QColorDialog, QDialog, QDialogButtonBox, QHBoxLayout, QHeaderView, QLabel,
                               QMessageBox, QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from ..core.classes import ClassInfo, ClassSet, default_palette
from .scan import RestoreItem

THUMB = 96  # px, the longer side of a mask thumbnail in the restore prompt

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


def offer_restore(parent: QWidget | None, items: Sequence[RestoreItem], classes: ClassSet) -> list[str]:
    """After a crash: which autosaved masks to restore (written to disk, originals kept); the rest are dropped."""
    dialog = RestoreDialog(items, classes, parent)
    return dialog.chosen() if dialog.exec() else []


def mask_thumbnail(mask: np.ndarray, classes: ClassSet) -> QPixmap:
    """`mask` in its class colours, scaled to THUMB px on its longer side."""
    rgb = np.ascontiguousarray(classes.lut()[mask])
    h, w = mask.shape
    image = QImage(rgb.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    return QPixmap.fromImage(image.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio))


class RestoreDialog(QDialog):
    """One row per autosaved image: a checkbox, the mask on disk and the autosaved mask side by side, so the user
    restores exactly the edits they recognise. Unchecked autosaves are dropped."""

    def __init__(self, items: Sequence[RestoreItem], classes: ClassSet, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Restore unsaved edits?")
        self.table = QTableWidget(len(items), 3, self)
        self.table.setHorizontalHeaderLabels(["Restore", "Saved on disk", "Autosaved"])
        self.table.verticalHeader().setVisible(False)
        self.table.setIconSize(QSize(THUMB, THUMB))
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for row, item in enumerate(items):
            check = QTableWidgetItem(item.key)
            check.setFlags(Qt.ItemFlag.ItemIsUserCheckable | Qt.ItemFlag.ItemIsEnabled)
            check.setCheckState(Qt.CheckState.Checked)
            self.table.setItem(row, 0, check)
            saved = QTableWidgetItem("(no mask)") if item.saved is None else \
                QTableWidgetItem(QIcon(mask_thumbnail(item.saved, classes)), "")
            self.table.setItem(row, 1, saved)
            self.table.setItem(row, 2, QTableWidgetItem(QIcon(mask_thumbnail(item.autosaved, classes)), ""))
            self.table.setRowHeight(row, THUMB + 8)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Restore checked")
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("Drop all")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"seg-desktop did not close normally. {len(items)} mask(s) have autosaved edits newer "
                                "than the files. Check the ones to restore (the current files are kept under "
                                ".seg-desktop/originals/); the others are dropped.", wordWrap=True))
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(520, min(640, 140 + len(items) * (THUMB + 8)))

    def set_checked(self, key: str, checked: bool) -> None:
        for row in range(self.table.rowCount()):
            if self.table.item(row, 0).text() == key:
                self.table.item(row, 0).setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)

    def chosen(self) -> list[str]:
        """The keys whose autosave the user chose to restore."""
        rows = (self.table.item(r, 0) for r in range(self.table.rowCount()))
        return [i.text() for i in rows if i.checkState() == Qt.CheckState.Checked]


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

