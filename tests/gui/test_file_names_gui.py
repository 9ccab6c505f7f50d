"""The window opens, shows, edits and saves images whose names are not valid UTF-8 or hold a newline, in a folder
whose own name is not UTF-8 (issue 10, item 5). Qt strings cannot hold such names (a lone surrogate is dropped
on the way into a QString), so before the fix the browser handed back 'images/caf.png' for 'images/caf\\udce9.png'
and the editor never showed the image."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from seg_desktop.core.edits import stroke
from seg_desktop.core.paths import display_path

NAMES = (b"caf\xe9", b"new\nline", b"-dash", b"plain")


def _weird_folder(tmp_path: Path) -> Path:
    root = Path(os.fsdecode(os.fsencode(tmp_path) + b"/d\xe9ta"))
    for sub in ("images", "masks"):
        (root / sub).mkdir(parents=True)
    for i, raw in enumerate(NAMES):
        name = os.fsdecode(raw)
        Image.fromarray(np.full((32, 32, 3), 40 * i, np.uint8)).save(root / "images" / f"{name}.png")
        mask = np.zeros((32, 32), np.uint8)
        mask[:, 16:] = 1
        Image.fromarray(mask).save(root / "masks" / f"{name}.png")
    return root


def test_window_shows_every_image_of_a_folder_with_undecodable_names(qtbot, window, answers, tmp_path):
    root = _weird_folder(tmp_path)
    window.open_folder(root)
    qtbot.waitUntil(lambda: window.dataset is not None, timeout=10000)
    keys = sorted(f"images/{os.fsdecode(raw)}.png" for raw in NAMES)
    assert sorted(window.browser.visible_keys()) == keys
    shown = sorted(window.browser.model.data(window.browser.model.index(r, 0)) for r in range(len(NAMES)))
    assert shown == sorted(display_path(Path(k).name) for k in keys)  # 'caf\xe9.png', 'new\nline.png'
    assert display_path(root) in window.windowTitle()
    for key in keys:
        assert window.browser.select_key(key)
        qtbot.waitUntil(lambda key=key: window.session.current_key() == key, timeout=5000)
        assert window.browser.current_key() == key
    assert answers.errors == []


def test_an_edit_of_an_undecodable_name_is_saved_to_that_file(qtbot, window, answers, tmp_path):
    root = _weird_folder(tmp_path)
    key = "images/caf\udce9.png"
    mask_file = root / "masks" / "caf\udce9.png"
    window.open_folder(root)
    qtbot.waitUntil(lambda: window.dataset is not None, timeout=10000)
    window.browser.select_key(key)
    qtbot.waitUntil(lambda: window.session.current_key() == key, timeout=5000)
    window.session.commit("Brush", stroke(window.session.live_mask(), [(4, 4), (4, 28)], 3, 1))
    assert window.session.dirty_keys() == [key]
    assert window.session.autosave_now() == 1
    assert window.session.save_current()
    saved = np.asarray(Image.open(mask_file))
    assert saved[16, 4] == 1 and saved[16, 10] == 0
    assert (root / ".seg-desktop" / "originals" / "masks" / "caf\udce9.png").is_file()  # the original kept
    assert window.browser.model.rows[window.browser.model.row_of(key)].status == "edited"
    assert answers.errors == []


def test_open_recent_reopens_a_folder_whose_name_is_not_utf8(qtbot, window, answers, tmp_path):
    """A QString drops the undecodable byte, so the remembered folder must survive QSettings as bytes."""
    root = _weird_folder(tmp_path)
    window.open_folder(root)
    qtbot.waitUntil(lambda: window.dataset is not None, timeout=10000)
    assert window.recent.folders()[0] == str(root.resolve())
    window.recent_menu.aboutToShow.emit()
    [action] = [a for a in window.recent_menu.actions() if a.text() == display_path(root.resolve())]
    window.open_folder(tmp_path)  # somewhere else first, then back through the menu
    qtbot.waitUntil(lambda: window.dataset is not None and window.dataset.root == tmp_path.resolve(),
                    timeout=10000)
    action.trigger()
    qtbot.waitUntil(lambda: window.dataset is not None and window.dataset.root == root.resolve(), timeout=10000)
    assert answers.errors == []
