"""Time one brush segment in the real MaskEditor on a 4096x4096 image: dirty-rectangle overlay vs full rebuild.

Run with the project's Python (not collected by pytest):
    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/benchmarks/bench_stroke.py
Each segment is a real QTest mouse move on the view's viewport (the path a user's mouse takes: view -> brush
tool -> core.edits.stroke -> overlay) followed by processEvents, which runs the repaint. The baseline is the
same editor and the same events with the overlay update replaced by a full recolour and full-item repaint,
what an editor without dirty rectangles does per segment. Both run in this process, on the same path.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import time  # noqa: E402

import numpy as np  # noqa: E402
from PySide6.QtCore import QPoint, Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from seg_desktop.core.classes import inferred_classes  # noqa: E402
from seg_desktop.gui.editor import MaskEditor  # noqa: E402
from seg_desktop.gui.editor.overlay import MaskOverlay  # noqa: E402
from seg_desktop.gui.session import AnnotationSession  # noqa: E402

SIZE = 4096
SEGMENTS = 60
RADIUS = 20


def viewport_path(rng: np.random.Generator, centre: QPoint, n: int) -> list[QPoint]:
    """A drag of n+1 viewport points, 2-12 screen px apart, as a mouse produces them."""
    steps = rng.normal(0, 6, size=(n, 2))
    path = np.cumsum(np.vstack([[centre.x(), centre.y()], steps]), axis=0).astype(int)
    keep = np.concatenate([[True], (np.diff(path, axis=0) != 0).any(axis=1)])  # a move must move
    return [QPoint(int(x), int(y)) for x, y in path[keep]]


def exposed_area() -> list[float]:
    """Record the overlay area (image pixels) each paint call draws, by wrapping MaskOverlay.paint."""
    areas: list[float] = []
    original = MaskOverlay.paint

    def paint(self, painter, option, widget=None):
        r = option.exposedRect
        areas.append(r.width() * r.height())
        original(self, painter, option, widget)

    MaskOverlay.paint = paint
    return areas


def run_drag(app: QApplication, editor: MaskEditor, path: list[QPoint], areas: list[float]) -> list[float]:
    """Milliseconds per segment: mouse move (edit + overlay update) and the repaint it triggers."""
    viewport = editor.view.viewport()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, path[0])
    app.processEvents()
    times = []
    for p in path[1:]:
        paints = len(areas)
        start = time.perf_counter()
        QTest.mouseMove(viewport, p)
        app.processEvents()
        times.append(1000 * (time.perf_counter() - start))
        assert len(areas) > paints, "the segment was not repainted inside its timed window"
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, path[-1])
    app.processEvents()
    return times


def measure(app, editor, path, full: bool, areas: list[float]) -> tuple[float, float]:
    """(median ms per segment, median painted overlay area) for one drag, then undo it."""
    overlay = editor._overlay
    if full:
        overlay.update_rect = lambda bbox: overlay.rebuild()
    areas.clear()
    times = run_drag(app, editor, path, areas)
    painted = float(np.median(areas)) if areas else 0.0
    if full:
        del overlay.update_rect
    editor.undo()
    app.processEvents()
    return float(np.median(times)), painted


def main() -> None:
    app = QApplication.instance() or QApplication([])
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, size=(SIZE, SIZE, 3), dtype=np.uint8)
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[: SIZE // 2] = 2
    editor = MaskEditor(AnnotationSession())
    editor.resize(1280, 900)
    editor.show()
    app.processEvents()
    editor.session.set_current("big", image, mask, inferred_classes({0, 1, 2}))
    editor.set_brush_size(RADIUS)
    editor.set_current_class(1)
    areas = exposed_area()
    print(f"image+mask {SIZE}x{SIZE}, view 1280x900, brush radius {RADIUS}, {SEGMENTS} segments per drag, "
          "median of segments (move + edit + overlay update + repaint)")
    for label, zoom in (("fit to window", None), ("zoom 1:1", 1.0)):
        if zoom is None:
            editor.fit_to_window()
        else:
            editor.view.set_zoom(zoom)
            editor.view.centerOn(SIZE / 2, SIZE / 2)
        app.processEvents()
        path = viewport_path(rng, editor.view.viewport().rect().center(), SEGMENTS)
        measure(app, editor, path[:5], False, areas)  # warm-up
        fast, fast_area = measure(app, editor, path, False, areas)
        slow, slow_area = measure(app, editor, path, True, areas)
        print(f"{label:14s} (zoom {editor.view.zoom():.3f}): dirty-rect {fast:7.2f} ms/segment "
              f"(paints {fast_area:,.0f} px)  full rebuild {slow:7.2f} ms/segment (paints {slow_area:,.0f} px)  "
              f"ratio {slow / fast:5.1f}x")


if __name__ == "__main__":
    main()
