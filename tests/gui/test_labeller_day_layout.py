"""Issue 14, window size: at 1024x700 every field and button of every dock can be brought fully into view (scroll
areas, nothing cut for good), and a saved geometry that does not fit the screen is not restored."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, QRect
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit, QScrollArea, QWidget

INPUTS = (QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit)


def _scroll_area_of(widget):
    parent = widget.parentWidget()
    while parent is not None and not isinstance(parent, QScrollArea):
        parent = parent.parentWidget()
    return parent


@pytest.mark.parametrize("size", [(1024, 700), (1920, 1080)])
def test_every_dock_input_can_be_seen_whole(qtbot, window, open_folder, sample_folder, size):
    w = window
    open_folder(sample_folder)
    w.resize(*size)
    w.training_dock.show()
    w.training_dock.raise_()
    qtbot.wait(100)
    checked = 0
    for panel, dock in ((w.training, w.training_dock), (w.prediction, w.prediction_dock),
                        (w.tool_options, w.tools_dock)):
        dock.raise_()
        qtbot.wait(20)
        for widget in panel.findChildren(QWidget):
            if not isinstance(widget, INPUTS) or not widget.isVisibleTo(panel) or widget.parentWidget() is None:
                continue
            area = _scroll_area_of(widget)
            assert area is not None, f"{widget} is in no scroll area"
            pos = widget.mapTo(area.widget(), QPoint(0, 0))  # scroll as a user would, to bring it into view
            area.ensureVisible(pos.x() + widget.width() // 2, pos.y() + widget.height() // 2,
                               widget.width() // 2 + 1, widget.height() // 2 + 1)
            qtbot.wait(1)
            shown = widget.visibleRegion().boundingRect()
            assert shown.width() >= widget.width() - 1 or shown.width() >= area.viewport().width() - 2, \
                (type(widget).__name__, getattr(widget, "text", lambda: "")(), shown, widget.rect())
            checked += 1
    assert checked >= 15


def test_a_saved_geometry_larger_than_the_screen_is_not_restored(qtbot, answers, settings):
    from seg_desktop.gui.main_window import MainWindow

    room = QGuiApplication.primaryScreen().availableGeometry()
    first = MainWindow(settings=settings)
    qtbot.addWidget(first)
    first.setGeometry(QRect(room.x(), room.y(), room.width() * 2, room.height() * 2))
    settings.setValue("window/geometry", first.saveGeometry())
    second = MainWindow(settings=settings)
    qtbot.addWidget(second)
    assert second.width() <= room.width() and second.height() <= room.height()


def test_a_saved_geometry_that_fits_is_restored(qtbot, answers, settings):
    from seg_desktop.gui.main_window import MainWindow

    room = QGuiApplication.primaryScreen().availableGeometry()
    first = MainWindow(settings=settings)
    qtbot.addWidget(first)
    first.setGeometry(QRect(room.x() + 4, room.y() + 30, room.width() - 8, room.height() - 100))
    width = first.width()
    settings.setValue("window/geometry", first.saveGeometry())
    second = MainWindow(settings=settings)
    qtbot.addWidget(second)
    assert second.width() == width and second.height() == room.height() - 100


def test_problems_panel_is_as_tall_as_its_lines(window, open_folder, sample_folder):
    import shutil

    shutil.copy(sample_folder / "masks" / "sample_000.png", sample_folder / "masks" / "zz_orphan.png")  # no image
    open_folder(sample_folder)
    assert window.problems.count() >= 1
    assert window.problems.maximumHeight() < 4 * window.problems.sizeHintForRow(0) + 20
