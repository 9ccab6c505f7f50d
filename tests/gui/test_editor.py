"""MaskEditor driven by real mouse and key events (offscreen): strokes, undo/redo, per-image history, overlay.

Expected masks come from the core edit functions run on a copy, so the tests check that the GUI path (view ->
tool -> core.edits -> the session's undo stack -> overlay) changes exactly the pixels the core says it should.
"""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import QPoint, QPointF, QSettings, Qt  # noqa: E402
from PySide6.QtGui import QWheelEvent  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from seg_desktop.core.classes import ClassInfo, ClassSet  # noqa: E402
from seg_desktop.core.edits import stroke  # noqa: E402
from seg_desktop.gui.editor import EditorActions, MaskEditor, ToolOptions  # noqa: E402
from seg_desktop.gui.editor.overlay import overlay_lut  # noqa: E402
from seg_desktop.gui.session import AnnotationSession  # noqa: E402

W, H = 64, 48
CLASSES = ClassSet(
    [ClassInfo(0, "background", (0, 0, 0)), ClassInfo(1, "cell", (255, 0, 0)),
     ClassInfo(2, "membrane", (0, 255, 0)), ClassInfo(3, "void", (200, 200, 200))],
    ignore_index=3,
)


def make_image(seed: int = 0) -> np.ndarray:
    """Grey noise with a saturated blue square at x 40..55, y 10..25 (for the wand and GrabCut)."""
    rng = np.random.default_rng(seed)
    image = rng.integers(90, 110, size=(H, W, 3), dtype=np.uint8)
    image[10:26, 40:56] = (20, 40, 230)
    return image


@pytest.fixture
def settings(tmp_path):
    """A QSettings in a temporary INI file, so ToolOptions never touches the user's real settings."""
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def editor(qtbot):
    ed = MaskEditor(AnnotationSession())  # the session holds the masks and undo stacks, the editor draws them
    qtbot.addWidget(ed)
    ed.resize(2 * W + 40, 2 * H + 40)
    ed.show()
    qtbot.waitExposed(ed)
    ed.session.set_current("a", make_image(), None, CLASSES)
    at_one_to_one(ed)
    return ed


def at_one_to_one(ed: MaskEditor) -> None:
    """Zoom 2 with the image centred, so every pixel centre has its own viewport point."""
    ed.view.set_zoom(2.0)
    ed.view.centerOn(W / 2, H / 2)


def vp(ed: MaskEditor, x: int, y: int) -> QPoint:
    """The viewport point over the centre of pixel (x, y); asserts the view maps it back to that pixel."""
    point = ed.view.mapFromScene(QPointF(x + 0.5, y + 0.5))
    back = ed.view.mapToScene(point)
    assert (int(back.x() // 1), int(back.y() // 1)) == (x, y)
    return point


def drag(ed: MaskEditor, points: list[tuple[int, int]]) -> None:
    viewport = ed.view.viewport()
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, vp(ed, *points[0]))
    for p in points[1:]:
        QTest.mouseMove(viewport, vp(ed, *p))
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, vp(ed, *points[-1]))


def click(ed: MaskEditor, x: int, y: int) -> None:
    QTest.mouseClick(ed.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, vp(ed, x, y))


STROKE = [(5, 5), (12, 9), (20, 20), (30, 22)]


def test_stroke_changes_exactly_the_core_pixels_and_is_one_undo_step(editor):
    editor.set_brush_size(3)
    editor.set_current_class(2)
    expected = np.zeros((H, W), np.uint8)
    stroke(expected, STROKE, 3, 2)
    drag(editor, STROKE)
    assert np.array_equal(editor.session.mask(), expected)
    stack = editor.undo_group().activeStack()
    assert stack.count() == 1  # press-move-release is a single step
    editor.undo()
    assert not editor.session.mask().any()
    editor.redo()
    assert np.array_equal(editor.session.mask(), expected)


def test_undo_restores_bit_for_bit_over_an_existing_mask(editor):
    base = np.random.default_rng(1).integers(0, 3, size=(H, W), dtype=np.uint8)
    editor.session.set_current("b", make_image(1), base, CLASSES)
    at_one_to_one(editor)
    drag(editor, STROKE)
    drag(editor, [(40, 40), (10, 30)])
    assert not np.array_equal(editor.session.mask(), base)
    editor.undo()
    editor.undo()
    assert np.array_equal(editor.session.mask(), base)
    assert base is not editor.session.mask().base  # the editor paints its own copy, never the caller's array


def test_overlay_recolours_only_the_changed_rectangle(editor):
    overlay = editor._overlay
    sentinel = (1, 2, 3, 4)
    overlay.array[H - 1, W - 1] = sentinel  # far from the stroke: a full rebuild would overwrite it
    editor.set_current_class(1)
    drag(editor, STROKE[:2])
    lut = overlay_lut(CLASSES)
    ys, xs = np.nonzero(editor.session.mask())
    assert np.array_equal(overlay.array[ys, xs], lut[editor.session.mask()[ys, xs]])
    assert tuple(overlay.array[H - 1, W - 1]) == sentinel
    assert tuple(lut[0]) == (0, 0, 0, 0)  # black background stays transparent over the photo


def test_history_survives_switching_images_and_dirty_tracking(editor, qtbot):
    dirty = []
    editor.session.dirtyChanged.connect(dirty.append)
    drag(editor, STROKE)
    painted = editor.session.mask().copy()
    assert editor.session.dirty_keys() == ["a"] and dirty[-1] is True

    editor.session.set_current("b", make_image(1), None, CLASSES)
    at_one_to_one(editor)
    assert dirty[-1] is False
    assert editor.undo_group().activeStack() is not None and not editor.session.mask().any()
    drag(editor, [(1, 1), (2, 2)])

    # the caller passes the file's (unpainted) mask again: the edited in-memory one wins
    editor.session.set_current("a", make_image(), np.zeros((H, W), np.uint8), CLASSES)
    assert editor.current_key() == "a"
    assert np.array_equal(editor.session.mask(), painted)
    assert sorted(editor.session.dirty_keys()) == ["a", "b"]
    editor.undo()
    assert not editor.session.mask().any()
    assert editor.session.mask("b").any()  # b's history untouched by a's undo
    editor.redo()
    editor.session.mark_saved("a")
    assert editor.session.dirty_keys() == ["b"] and dirty[-1] is False

    editor.session.discard("b")
    assert editor.session.dirty_keys() == []
    with pytest.raises(KeyError):
        editor.session.mask("b")


def test_untouched_image_is_reloaded_from_the_caller(editor):
    editor.session.set_current("b", make_image(1), None, CLASSES)
    fresh = np.full((H, W), 2, np.uint8)
    editor.session.set_current("a", make_image(), fresh, CLASSES)  # "a" was never edited: take the new mask
    assert np.array_equal(editor.session.mask(), fresh)
    with pytest.raises(ValueError, match="fix or delete the mask file"):
        editor.session.set_current("c", make_image(), np.zeros((H + 1, W), np.uint8), CLASSES)


def test_brackets_resize_the_brush(editor, settings):
    """Digits are the window's actions (tests/gui/test_labeller_day_keys.py), not the editor's."""
    options = ToolOptions(settings=settings)
    options.attach(editor)
    start = editor.brush_size()
    QTest.keyClick(editor.view, Qt.Key.Key_BracketRight)
    assert editor.brush_size() > start and options.brush.value() == editor.brush_size()
    QTest.keyClick(editor.view, Qt.Key.Key_BracketLeft)
    QTest.keyClick(editor.view, Qt.Key.Key_BracketLeft)
    assert editor.brush_size() < start


def test_tool_options_drive_the_editor_and_persist(editor, settings):
    options = ToolOptions(settings=settings)
    options.attach(editor)
    options.brush.setValue(17)
    options.opacity.setValue(30)
    options.tolerance.setValue(40)
    options.iterations.setValue(5)
    options.lock.setCurrentIndex(options.lock.findData(2))
    assert (editor.brush_size(), editor.tolerance(), editor.grabcut_iterations(), editor.lock_class()) == (
        17, 40, 5, 2)
    assert editor._overlay.opacity() == pytest.approx(0.3)
    again = ToolOptions(settings=settings)
    assert (again.brush.value(), again.opacity.value(), again.tolerance.value(), again.iterations.value()) == (
        17, 30, 40, 5)
    assert again.lock_class() is None  # the lock is per dataset, not a habit


def test_actions_switch_tools_undo_and_toggle_the_overlay(editor, qtbot):
    actions = EditorActions(editor, editor)
    assert {a.shortcut().toString() for a in actions.actions()} >= {"B", "E", "P", "F", "W", "G", "I", "R", "Ctrl+0"}
    editor.view.setFocus()
    QTest.keyClick(editor.view, Qt.Key.Key_E)
    assert editor.tool() == "eraser" and actions.tool_actions["eraser"].isChecked()
    QTest.keyClick(editor.view, Qt.Key.Key_B)
    assert editor.tool() == "brush"
    assert not actions.undo.isEnabled()
    drag(editor, STROKE)
    assert actions.undo.isEnabled()
    QTest.keyClick(editor.view, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert not editor.session.mask().any()
    QTest.keyClick(editor.view, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert editor.session.mask().any()
    QTest.keyClick(editor.view, Qt.Key.Key_O)
    assert not editor._overlay.isVisible() and not actions.toggle_overlay.isChecked()
    QTest.keyClick(editor.view, Qt.Key.Key_Tab)
    assert editor._overlay.isVisible()


def wheel(ed: MaskEditor, at: QPoint, notches: int) -> None:
    event = QWheelEvent(QPointF(at), QPointF(ed.view.viewport().mapToGlobal(at)), QPoint(), QPoint(0, 120 * notches),
                        Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    QApplication.sendEvent(ed.view.viewport(), event)


def test_wheel_zooms_about_the_cursor_and_fit_shows_the_whole_image(editor):
    at = vp(editor, 36, 26)  # near the centre, so the scroll range allows keeping it fixed
    before = editor.view.mapToScene(at)
    wheel(editor, at, 2)
    assert editor.view.zoom() == pytest.approx(2 * 1.25 ** 2)
    after = editor.view.mapToScene(at)
    assert abs(after.x() - before.x()) < 1 and abs(after.y() - before.y()) < 1  # the pixel stays under the cursor
    editor.fit_to_window()
    visible = editor.view.mapToScene(editor.view.viewport().rect()).boundingRect()
    assert visible.adjusted(-1, -1, 1, 1).contains(editor.view.sceneRect())
    assert editor.view.zoom() < 2 * 1.25 ** 2


def test_middle_button_drag_pans_without_painting(editor):
    editor.view.zoom_by(4.0)
    viewport = editor.view.viewport()
    start = editor.view.mapToScene(viewport.rect().center())
    centre = viewport.rect().center()
    QTest.mousePress(viewport, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, centre)
    QTest.mouseMove(viewport, centre + QPoint(30, 20))
    QTest.mouseRelease(viewport, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, centre + QPoint(30, 20))
    moved = editor.view.mapToScene(viewport.rect().center())
    assert moved.x() < start.x() and moved.y() < start.y()

    QTest.keyPress(editor.view, Qt.Key.Key_Space)  # Space + left drag pans too
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, centre)
    QTest.mouseMove(viewport, centre - QPoint(30, 20))
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, centre - QPoint(30, 20))
    QTest.keyRelease(editor.view, Qt.Key.Key_Space)
    back = editor.view.mapToScene(viewport.rect().center())
    assert back.x() > moved.x() and back.y() > moved.y()
    assert not editor.session.mask().any()  # neither drag painted


def test_hover_shows_the_brush_outline_and_the_class_under_the_cursor(editor):
    messages = []
    editor.statusMessage.connect(messages.append)
    editor.set_brush_size(5)
    QTest.mouseMove(editor.view.viewport(), vp(editor, 10, 7))
    outline = editor._cursor
    assert outline.isVisible() and (outline.pos().x(), outline.pos().y()) == (10.5, 7.5)
    assert outline.rect().width() == 11  # scene units: the on-screen circle grows with the zoom
    assert messages[-1] == "x 10, y 7: background (0)"
    editor.set_tool("fill")
    assert not outline.isVisible()
