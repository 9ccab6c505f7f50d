"""Images larger than the screen in the editor (issue 11 item 5), with the pyramid threshold lowered so a small
image takes the same path as a 10,000 px one: zoomed out it paints from a smaller level and looks the same as
the full image scaled by Qt, and a stroke repaints and refreshes only its dirty rectangle."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import QPointF, Qt  # noqa: E402
from PySide6.QtGui import QImage  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from seg_desktop.core.classes import ClassInfo, ClassSet  # noqa: E402
from seg_desktop.core.pyramid import build_levels  # noqa: E402
from seg_desktop.gui.editor import MaskEditor, overlay  # noqa: E402
from seg_desktop.gui.session import AnnotationSession  # noqa: E402

W, H = 901, 603  # odd sides on purpose
CLASSES = ClassSet([ClassInfo(0, "background", (0, 0, 0)), ClassInfo(1, "cell", (255, 0, 0)),
                    ClassInfo(2, "membrane", (0, 255, 0))])


def _image() -> np.ndarray:
    yy, xx = np.mgrid[0:H, 0:W]
    image = np.stack([(xx * 255 // W), (yy * 255 // H), ((xx + yy) % 64) * 4], axis=-1).astype(np.uint8)
    image[200:400, 300:600] = (30, 60, 220)
    return image


def _mask() -> np.ndarray:
    mask = np.zeros((H, W), np.uint8)
    mask[: H // 3] = 2
    mask[300:500, 100:250] = 1
    return mask


def _open(qtbot, monkeypatch, min_side: int) -> MaskEditor:
    monkeypatch.setattr(overlay, "PYRAMID_MIN_SIDE", min_side)
    monkeypatch.setattr(overlay, "PYRAMID_TOP_SIDE", 64)
    editor = MaskEditor(AnnotationSession())
    qtbot.addWidget(editor)
    editor.resize(420, 320)
    editor.show()
    qtbot.waitExposed(editor)
    editor.session.set_current("big", _image(), _mask(), CLASSES)
    editor.fit_to_window()
    return editor


def _render(editor: MaskEditor) -> np.ndarray:
    image = editor.view.viewport().grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    bits = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), image.bytesPerLine())
    return bits[:, : image.width() * 3].reshape(image.height(), image.width(), 3).astype(np.int16)


def test_zoomed_out_paints_from_a_level_and_looks_like_the_full_image(qtbot, monkeypatch):
    full = _render(_open(qtbot, monkeypatch, min_side=10**6))  # no pyramid: Qt scales the whole image
    drawn = []
    original = overlay.ArrayImageItem.paint

    def paint(item, painter, option, widget=None):  # patched before the items exist (PySide binds overrides then)
        drawn.append(overlay.level_for(painter.worldTransform().m11(), item.level_count()))
        original(item, painter, option, widget)

    monkeypatch.setattr(overlay.ArrayImageItem, "paint", paint)
    editor = _open(qtbot, monkeypatch, min_side=256)
    assert editor._photo.level_count() > 2 and editor._overlay.level_count() > 2
    assert editor.view.zoom() < 0.5
    drawn.clear()
    shown = _render(editor)
    assert len(drawn) >= 2 and min(drawn) >= 1  # photo and overlay both drew from a smaller level
    assert shown.shape == full.shape
    assert np.abs(shown - full).mean() < 4.0  # the same picture (smoothing differs by a few levels at edges)


def test_a_stroke_refreshes_and_repaints_its_rectangle_only(qtbot, monkeypatch):
    exposed = []
    original = overlay.MaskOverlay.paint

    def paint(self, painter, option, widget=None):  # patched before the overlay exists
        exposed.append(option.exposedRect.width() * option.exposedRect.height())
        original(self, painter, option, widget)

    monkeypatch.setattr(overlay.MaskOverlay, "paint", paint)
    editor = _open(qtbot, monkeypatch, min_side=256)
    editor.set_brush_size(6)
    editor.set_current_class(1)
    item = editor._overlay
    qtbot.waitUntil(lambda: bool(exposed), timeout=3000)  # the first, full paint
    assert max(exposed) > 0.3 * W * H
    exposed.clear()
    viewport = editor.view.viewport()
    a = editor.view.mapFromScene(QPointF(450, 550))
    b = editor.view.mapFromScene(QPointF(520, 560))
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    QTest.mouseMove(viewport, b)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, b)
    qtbot.waitUntil(lambda: bool(exposed), timeout=2000)
    assert (editor.session.mask()[540:570, 440:530] == 1).any()
    assert max(exposed) < 0.05 * W * H  # the stroke's rectangle, not the image
    # every level was brought up to date over the stroke: it equals a rebuild from the full overlay
    for kept, rebuilt in zip(item._levels, build_levels(item.array.copy(), 64)):
        assert np.array_equal(kept, rebuilt)
    editor.undo()
    for kept, rebuilt in zip(item._levels, build_levels(item.array.copy(), 64)):
        assert np.array_equal(kept, rebuilt)


@pytest.mark.parametrize("min_side", [256])
def test_small_images_keep_no_pyramid(qtbot, monkeypatch, min_side):
    monkeypatch.setattr(overlay, "PYRAMID_MIN_SIDE", min_side)
    item = overlay.ArrayImageItem(np.zeros((200, 180, 3), np.uint8), pyramid=True)
    assert item.level_count() == 1
    assert overlay.ArrayImageItem(np.zeros((300, 180, 3), np.uint8)).level_count() == 1  # not asked for
