"""Where the main window's docks go: the browser, predictions and tool options on the left, classes and training
tabbed on the right, problems below; on first start the window takes most of the screen (a saved layout
replaces all of this, but only when it fits the screen it opens on), and the training dock widens once, the first
time it shows. Every dock's panel sits in a scroll area, so at 1024x700 nothing is cut without a way to see it."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QGuiApplication, QResizeEvent
from PySide6.QtWidgets import QDockWidget, QListWidget, QMainWindow, QScrollArea, QWidget

if TYPE_CHECKING:
    from .main_window import MainWindow


def _dock(window: QMainWindow, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
    dock = QDockWidget(title, window)
    dock.setObjectName(name)  # saveState/restoreState identify docks by name
    dock.setWidget(widget)
    window.addDockWidget(area, dock)
    return dock


class _ReflowArea(QScrollArea):
    """A scroll area that tells its panel the width it has (`fit_width`), so the panel can re-flow instead of
    being cut or scrolled sideways."""

    def resizeEvent(self, event: QResizeEvent) -> None:
        fit = getattr(self.widget(), "fit_width", None)
        if fit is not None:
            fit(self.viewport().width() if self.verticalScrollBar().isVisible() else self.width())
        super().resizeEvent(event)


def _scrollable(widget: QWidget) -> QScrollArea:
    """A tall panel in a scroll area, so its dock never forces the window above a laptop screen's size."""
    area = _ReflowArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    return area


def add_docks(w: MainWindow) -> None:
    """Create the window's docks as attributes (`w.browser_dock`, …) around its panels."""
    left, right, bottom = (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea,
                           Qt.DockWidgetArea.BottomDockWidgetArea)
    w.browser_dock = _dock(w, "Images", "browserDock", w.browser, left)
    w.palette_dock = _dock(w, "Classes", "classesDock", w.palette, left)
    w.problems_dock = _dock(w, "Problems", "problemsDock", w.problems, bottom)
    w.problems_dock.hide()
    w.training_dock = _dock(w, "Training", "trainingDock", _scrollable(w.training), right)
    w.prediction_dock = _dock(w, "Predictions", "predictionDock", _scrollable(w.prediction), left)
    w.review_dock = _dock(w, "Review regions", "reviewDock", _scrollable(w.review), left)
    w.tabifyDockWidget(w.prediction_dock, w.review_dock)
    w.prediction_dock.raise_()
    # tool options under the browser, so the right column's full height is the training panel's curves
    w.tools_dock = _dock(w, "Tool options", "toolOptionsDock", _scrollable(w.tool_options), left)
    # the classes stay beside the image list while the Training dock is up (they used to hide behind its tab)
    w.tabifyDockWidget(w.tools_dock, w.palette_dock)
    w.palette_dock.raise_()


def first_layout(w: MainWindow) -> None:
    """Most of the screen, names readable, the image in the middle."""
    screen = QGuiApplication.primaryScreen()
    if screen is not None:
        room = screen.availableGeometry()
        w.resize(max(min(1800, room.width() * 9 // 10), 1024), max(min(1100, room.height() * 9 // 10), 700))
    else:
        w.resize(1280, 800)
    w.resizeDocks([w.browser_dock, w.training_dock], [min(400, w.width() // 4), _training_width(w)],
                  Qt.Orientation.Horizontal)
    w.resizeDocks([w.browser_dock, w.prediction_dock, w.tools_dock], [520, 150, 200], Qt.Orientation.Vertical)
    widened = []

    def widen_for_training(visible: bool) -> None:
        """The first time the Training tab shows in a session, give its form and curves the width they need
        (the class palette beside it needs far less); a width the user sets afterwards is left alone."""
        if not visible or widened:
            return
        widened.append(True)
        if w.training_dock.width() < _training_width(w):
            w.resizeDocks([w.training_dock], [_training_width(w)], Qt.Orientation.Horizontal)

    w.training_dock.visibilityChanged.connect(widen_for_training)


def _training_width(w: MainWindow) -> int:
    """A third of the window, but never less than the one-column form and the runs buttons need (no sideways
    scrolling at 1024 px), nor more than 520 px (the canvas needs the room more)."""
    w.training.fit_width(0)  # measure the one-column layout
    needed = w.training.minimumSizeHint().width() + w.style().pixelMetric(w.style().PixelMetric.PM_ScrollBarExtent) + 12
    return min(max(520, needed), max(needed, w.width() // 3))


def restore_layout(w: MainWindow, settings: QSettings) -> None:
    """The saved geometry and docks, but only when the saved window fits the screen it would open on: a layout
    saved on a large monitor (or a maximised window) must not open cut off on a laptop."""
    geometry = settings.value("window/geometry", b"")
    if not geometry or not w.restoreGeometry(geometry):
        return
    screen = QGuiApplication.screenAt(w.geometry().center()) or QGuiApplication.primaryScreen()
    if screen is not None and not screen.availableGeometry().adjusted(-8, -8, 8, 8).contains(w.frameGeometry()):
        first_layout(w)
        return
    w.restoreState(settings.value("window/state", b""))


def fit_problems(view: QListWidget) -> None:
    """The Problems dock as tall as its lines (up to six), not a fixed 200 px for one line."""
    rows = min(6, view.count())
    height = sum(view.sizeHintForRow(r) for r in range(rows)) or view.fontMetrics().height()
    view.setMaximumHeight(height + 2 * view.frameWidth() + 8)
