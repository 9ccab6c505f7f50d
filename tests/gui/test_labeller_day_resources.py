"""Issue 14, resources: the top-level resources/ folder holds the app icon, the .desktop file, toolbar icons for
light and dark themes and the built-in palettes, which core loads with results identical to the old literals."""

from __future__ import annotations

import configparser
import hashlib

import pytest
from PySide6.QtGui import QPalette, QColor
from PySide6.QtWidgets import QApplication

from seg_desktop.core.classes import camvid_classes, voc_classes, voc_palette
from seg_desktop.core.formats.cityscapes import read_classes
from seg_desktop.core.resource_files import resource_path, resources_dir
from seg_desktop.gui import icons

TOOLBAR = ("open", "save", "undo", "redo", "train", "stop", "predict", "brush", "eraser", "fill", "polygon")


def _fingerprint(classes) -> str:
    """Of every (index, name, colour), the ignore index and the source: what the Python literals produced."""
    rows = [(c.index, c.name, tuple(c.color)) for c in classes.classes] + [classes.ignore_index, classes.source]
    return hashlib.sha256(repr(rows).encode()).hexdigest()[:16]


def test_palettes_load_from_data_files_with_the_old_results(tmp_path):
    assert resources_dir().name == "resources" and resource_path("palettes", "voc.csv").is_file()
    assert _fingerprint(voc_classes()) == "2ed5c4d5d2286d87"  # measured before the move, from the literals
    assert _fingerprint(camvid_classes()) == "aaa1b1f1e31a6f1e"
    assert _fingerprint(read_classes(tmp_path)) == "a53eb9f2e58d8d26"  # Cityscapes' label ids
    pal = voc_palette()
    assert all(tuple(pal[c.index]) == c.color for c in voc_classes().classes if c.index < 21)


def test_desktop_file_names_the_app_and_its_icon():
    entry = configparser.ConfigParser(interpolation=None)
    entry.read(resource_path("seg-desktop.desktop"))
    section = entry["Desktop Entry"]
    assert section["Exec"].startswith("seg-desktop") and section["Icon"] == "seg-desktop"
    assert resource_path("seg-desktop.svg").is_file()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_toolbar_icons_exist_for_both_themes_and_render(qtbot, theme):
    for name in TOOLBAR:
        path = resource_path("icons", theme, f"{name}.svg")
        assert path.is_file(), path
    app = QApplication.instance()
    old = app.palette()
    palette = QPalette(old)
    palette.setColor(QPalette.ColorRole.Window, QColor("#202020" if theme == "dark" else "#f0f0f0"))
    app.setPalette(palette)
    try:
        assert icons.theme() == theme
        for name in TOOLBAR:
            image = icons.icon(name).pixmap(24, 24).toImage()
            assert not image.isNull() and any(image.pixelColor(x, y).alpha() > 0
                                               for x in range(24) for y in range(24)), name
    finally:
        app.setPalette(old)


def test_window_and_toolbar_use_the_apps_icons(window):
    assert not window.windowIcon().isNull()
    assert window.editor_actions.undo.icon().cacheKey() != window.editor_actions.redo.icon().cacheKey()
    assert not window.train_action.icon().isNull() and not window.open_action.icon().isNull()
