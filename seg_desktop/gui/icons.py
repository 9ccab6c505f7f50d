"""The app's own icons (resources/icons/{light,dark}/*.svg, drawn for it) and its window icon: the set drawn for
the current palette's background (dark strokes on a light theme, light strokes on a dark one), so the toolbar is
not Qt's generic style icons (whose ◀ ▶ arrows read as previous/next image rather than undo/redo)."""

from __future__ import annotations

from PySide6.QtGui import QGuiApplication, QIcon, QPalette

from ..core.resource_files import resource_path

APP_ICON = "seg-desktop.svg"


def theme() -> str:
    """"dark" when the window background is dark, else "light"."""
    app = QGuiApplication.instance()
    window = app.palette().color(QPalette.ColorRole.Window) if app is not None else None
    return "dark" if window is not None and window.lightness() < 128 else "light"


def icon(name: str) -> QIcon:
    """The toolbar icon `name` for the current theme; an empty icon (text only) when there is no such file."""
    path = resource_path("icons", theme(), f"{name}.svg")
    return QIcon(str(path)) if path.is_file() else QIcon()


def app_icon() -> QIcon:
    return QIcon(str(resource_path(APP_ICON)))
