"""Open a folder of 10,000 images (with masks) in the real main window and time what a user waits for.

Run with the project's Python (not collected by pytest):
    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/benchmarks/bench_browser.py [N]
Figures: writing the files (setup, not timed against anything), `open_dataset` alone, `open_folder` -> first paint
of the browser with rows (worker scan + model reset + first paint), -> first image in the editor, -> visible
thumbnails decoded, then sorting, filtering and scrolling to the end of the list.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PySide6.QtCore import QEvent, QObject, QSettings, Qt  # noqa: E402

from seg_desktop.core.dataset import open_dataset  # noqa: E402
from seg_desktop.gui.app import create_app  # noqa: E402
from seg_desktop.gui.browser import COL_STATUS  # noqa: E402
from seg_desktop.gui.main_window import MainWindow  # noqa: E402


def make_folder(root: Path, n: int) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        image = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
        mask = (image[..., 0] > 128).astype(np.uint8)
        cv2.imwrite(str(root / "images" / f"img_{i:05d}.png"), image)
        cv2.imwrite(str(root / "masks" / f"img_{i:05d}.png"), mask)
    return root


class PaintWatch(QObject):
    """Records when the browser's viewport first paints while the model has rows."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__()
        self.window, self.painted_at = window, None

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if (event.type() == QEvent.Type.Paint and self.painted_at is None
                and self.window.browser.model.rowCount() > 0):
            self.painted_at = time.perf_counter()
        return False


def wait(app, cond, timeout: float = 60.0) -> float:
    start = time.perf_counter()
    while not cond():
        app.processEvents()
        if time.perf_counter() - start > timeout:
            raise TimeoutError("benchmark condition not reached")
    return time.perf_counter()


def main(n: int = 10_000) -> None:
    app = create_app()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        folder = make_folder(Path(tmp) / "data", n)
        print(f"setup: wrote {n} images + {n} masks in {time.perf_counter() - t0:.1f} s")

        t0 = time.perf_counter()
        dataset = open_dataset(folder)
        print(f"open_dataset: {time.perf_counter() - t0:.3f} s for {len(dataset.samples)} samples "
              f"({dataset.layout}, {len(dataset.problems)} problems)")

        window = MainWindow(settings=QSettings(str(Path(tmp) / "s.ini"), QSettings.Format.IniFormat))
        window.show()
        wait(app, lambda: window.isVisible())
        watch = PaintWatch(window)
        window.browser.view.viewport().installEventFilter(watch)
        t0 = time.perf_counter()
        window.open_folder(folder)
        wait(app, lambda: watch.painted_at is not None)
        print(f"open_folder -> browser painted with {window.browser.model.rowCount()} rows: "
              f"{watch.painted_at - t0:.3f} s")
        t_editor = wait(app, lambda: window.editor.current_key() is not None)
        print(f"open_folder -> first image in the editor: {t_editor - t0:.3f} s")
        thumbs = window.browser.thumbnails
        first = window.browser.model.rows[0]
        t_thumb = wait(app, lambda: thumbs.request(first.key, first.path) is not None and not thumbs._in_flight)
        print(f"open_folder -> visible thumbnails decoded ({len(thumbs._cache)} of {n}): {t_thumb - t0:.3f} s")

        view = window.browser.view
        for label, action in (
            ("sort by status", lambda: view.sortByColumn(COL_STATUS, Qt.SortOrder.DescendingOrder)),
            ("sort by name", lambda: view.sortByColumn(0, Qt.SortOrder.AscendingOrder)),
            ("filter name '_09'", lambda: window.browser.set_filters(text="_09")),
            ("clear filter", lambda: window.browser.set_filters()),
            ("scroll to end + repaint", lambda: (view.scrollToBottom(), view.viewport().repaint())),
        ):
            t0 = time.perf_counter()
            action()
            app.processEvents()
            print(f"{label}: {1000 * (time.perf_counter() - t0):.1f} ms "
                  f"({window.browser.proxy.rowCount()} rows shown)")
        window.close()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000)
