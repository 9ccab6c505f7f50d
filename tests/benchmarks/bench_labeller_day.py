"""A labeller's whole day in one script (issue 14), through the real main window: open a 1,000-image folder,
paint 300 brush strokes across 50 image switches (keyboard PgDn, as a labeller moves on), train and stop, predict
all, export. A 10 ms QTimer on the GUI thread records its ticks throughout; the script prints, per phase and for
the whole day, the longest and the 99th-percentile gap between ticks (target: longest < 250 ms while labelling,
p99 < 30 ms) and the wall time.

    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/benchmarks/bench_labeller_day.py [--images 1000] [--size 64]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import numpy as np  # noqa: E402
from PySide6.QtCore import QPoint, QSettings, Qt, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from seg_desktop.core.sample_data import make_sample_dataset  # noqa: E402
from seg_desktop.gui import dialogs  # noqa: E402
from seg_desktop.gui.app import create_app  # noqa: E402
from seg_desktop.gui.export_dialog import ExportDialog  # noqa: E402
from seg_desktop.gui.main_window import MainWindow  # noqa: E402
from tests.helpers import fill_training_form  # noqa: E402


def _stats(ticks: list[float]) -> str:
    gaps = sorted((b - a) * 1000 for a, b in zip(ticks, ticks[1:]))
    if not gaps:
        return "no ticks"
    p99 = gaps[min(len(gaps) - 1, int(0.99 * len(gaps)))]
    return f"longest {gaps[-1]:7.1f} ms  p99 {p99:6.1f} ms  median {gaps[len(gaps) // 2]:5.1f} ms"


def _wait(app: QApplication, done, timeout_s: float) -> None:
    end = time.monotonic() + timeout_s
    while not done():
        if time.monotonic() > end:
            raise SystemExit(f"timed out after {timeout_s:.0f} s")
        app.processEvents()
        time.sleep(0.002)


def _stroke(app: QApplication, window: MainWindow, rng: np.random.Generator) -> None:
    """One brush drag of ~12 mouse moves across the middle of the canvas."""
    viewport = window.editor.view.viewport()
    centre = viewport.rect().center()
    points = np.cumsum(np.vstack([[centre.x(), centre.y()], rng.normal(0, 6, size=(12, 2))]), axis=0).astype(int)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(*points[0]))
    for x, y in points[1:]:
        QTest.mouseMove(viewport, QPoint(int(x), int(y)))
        app.processEvents()
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(*points[-1]))
    app.processEvents()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()
    dialogs.ask_unsaved = lambda *a, **k: dialogs.SAVE  # nothing modal may block the script
    dialogs.offer_restore = lambda *a, **k: []
    dialogs.show_error = lambda parent, message, title="": print("error:", message)
    app = create_app()
    tmp = Path(tempfile.mkdtemp(prefix="seg-bench-day-"))
    t = time.perf_counter()
    data = make_sample_dataset(tmp / "data", n=args.images, size=args.size)
    print(f"dataset: {args.images} images of {args.size} px written in {time.perf_counter() - t:.1f} s")
    window = MainWindow(settings=QSettings(str(tmp / "settings.ini"), QSettings.Format.IniFormat))
    window.resize(1280, 800)
    window.show()
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    phases: list[tuple[str, int, int, float]] = []
    day0 = time.perf_counter()

    def phase(name: str, run) -> None:
        first, start = len(ticks), time.perf_counter()
        run()
        phases.append((name, first, len(ticks), time.perf_counter() - start))
        print(f"{name:<34} {time.perf_counter() - start:7.1f} s   {_stats(ticks[first:])}", flush=True)

    def open_folder() -> None:
        window.open_folder(data)
        _wait(app, lambda: window.dataset is not None and window.editor.current_key() is not None, 120)

    saved: list[str] = []
    window.session.saved.connect(saved.append)

    def label() -> None:
        rng = np.random.default_rng(0)
        window.activateWindow()
        for switch in range(50):
            for _ in range(6):
                _stroke(app, window, rng)
            key = window.session.current_key()
            QTest.keyClick(window.editor.view, Qt.Key.Key_PageDown)  # saves the image left behind, shows the next
            _wait(app, lambda: window.session.current_key() not in (None, key), 30)
        if len(saved) < 50:
            raise SystemExit(f"only {len(saved)} of 50 painted images were saved: the strokes did not land")

    def train_and_stop() -> None:
        panel = window.training
        fill_training_form(panel, size="64", epochs=50, batch=8, filters=4)
        window.train_action.trigger()
        panel.train_button.click()
        _wait(app, lambda: panel._worker is not None and bool(read_rows(panel)), 600)
        panel.stop_button.click()
        _wait(app, lambda: not panel.is_training(), 60)

    def read_rows(panel) -> list:
        from seg_desktop.ml.runs import read_history

        return read_history(panel._worker.run_dir) if panel._worker.run_dir else []

    def predict_all() -> None:
        _wait(app, lambda: window.prediction.run_folder is not None, 30)
        if not window.prediction.is_running():
            window.prediction.predict_all()
        _wait(app, lambda: not window.prediction.is_running(), 1800)

    def export() -> None:
        from seg_desktop.gui.run_choice import trained_runs

        dialog = ExportDialog(window.dataset, trained_runs(window.dataset.root), [], parent=window,
                              settings=window.settings)
        dialog.set_output_folder(tmp / "export")
        done: list[bool] = []
        dialog.exported.connect(lambda _files: done.append(True))
        dialog.failed.connect(lambda message: done.append(False) or print("export failed:", message))
        dialog.start_export()
        _wait(app, lambda: bool(done), 1800)
        dialog.close()

    phase("open 1,000-image folder", open_folder)
    phase("300 strokes, 50 image switches", label)
    phase("train, stop after epoch 1", train_and_stop)
    phase("predict all", predict_all)
    phase("export all", export)
    timer.stop()
    print(f"{'whole day':<34} {time.perf_counter() - day0:7.1f} s   {_stats(ticks)}")
    window.session.save_all()
    window.close()


if __name__ == "__main__":
    main()
