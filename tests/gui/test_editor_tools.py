"""Each editor tool driven by simulated mouse/keys, compared with the core edit function on a copy of the mask."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from seg_desktop.core.edits import copy_from, fill_polygon, flood_fill, magic_wand, stroke  # noqa: E402
from tests.gui.test_editor import CLASSES, H, STROKE, W, at_one_to_one, click, drag, editor, make_image, vp  # noqa: E402,F401


def start(ed, mask: np.ndarray, tool: str, cls: int = 1) -> np.ndarray:
    """Show `mask` for a fresh key with `tool` and class `cls`; returns the copy to run the core on."""
    ed.session.set_current(f"t-{tool}", make_image(), mask, CLASSES)
    at_one_to_one(ed)
    ed.set_tool(tool)
    ed.set_current_class(cls)
    return mask.copy()


def halves() -> np.ndarray:
    """Left half class 2, right half class 0."""
    mask = np.zeros((H, W), np.uint8)
    mask[:, : W // 2] = 2
    return mask


def test_eraser_paints_the_ignore_index(editor):
    expected = start(editor, halves(), "eraser")
    editor.set_brush_size(2)
    stroke(expected, STROKE, 2, CLASSES.ignore_index)
    drag(editor, STROKE)
    assert np.array_equal(editor.session.mask(), expected)


def test_lock_paints_only_over_the_locked_class(editor):
    expected = start(editor, halves(), "brush", cls=1)
    editor.set_brush_size(4)
    editor.set_lock_class(2)
    path = [(10, 20), (50, 20)]  # crosses from the class-2 half into class 0
    stroke(expected, path, 4, 1, lock=2)
    drag(editor, path)
    assert np.array_equal(editor.session.mask(), expected)
    assert not editor.session.mask()[:, W // 2 :].any()  # class 0 half untouched


def test_polygon_double_click_fills_enter_fills_escape_cancels(editor):
    expected = start(editor, halves(), "polygon", cls=1)
    corners = [(5, 5), (40, 8), (30, 40)]
    for x, y in corners:
        click(editor, x, y)
    QTest.mouseDClick(editor.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                      vp(editor, *corners[-1]))
    fill_polygon(expected, corners, 1)
    assert np.array_equal(editor.session.mask(), expected)

    for x, y in [(50, 30), (60, 30), (60, 45)]:
        click(editor, x, y)
    QTest.keyClick(editor.view, Qt.Key.Key_Escape)
    assert np.array_equal(editor.session.mask(), expected)  # cancelled: nothing painted

    editor.set_current_class(2)
    for x, y in [(50, 30), (60, 30), (60, 45), (63, 47)]:
        click(editor, x, y)
    QTest.keyClick(editor.view, Qt.Key.Key_Backspace)  # drops (63, 47)
    QTest.keyClick(editor.view, Qt.Key.Key_Return)
    fill_polygon(expected, [(50, 30), (60, 30), (60, 45)], 2)
    assert np.array_equal(editor.session.mask(), expected)
    assert editor.undo_group().activeStack().count() == 2


def test_flood_fill_and_its_lock(editor):
    expected = start(editor, halves(), "fill", cls=1)
    click(editor, 5, 5)
    flood_fill(expected, (5, 5), 1)
    assert np.array_equal(editor.session.mask(), expected)
    editor.set_lock_class(1)
    messages = []
    editor.statusMessage.connect(messages.append)
    editor.set_current_class(2)
    click(editor, 60, 5)  # a class-0 region while locked to class 1: refused
    assert np.array_equal(editor.session.mask(), expected) and "Locked" in messages[-1]


def test_magic_wand_takes_the_coloured_square(editor):
    expected = start(editor, np.zeros((H, W), np.uint8), "wand", cls=2)
    editor.set_tolerance(30)
    click(editor, 45, 15)
    magic_wand(make_image(), expected, (45, 15), 2, 30)
    assert np.array_equal(editor.session.mask(), expected)
    assert editor.session.mask()[10:26, 40:56].all() and editor.session.mask().sum() == 2 * 16 * 16


def test_grabcut_box_segments_the_square_and_undoes(editor):
    start(editor, np.zeros((H, W), np.uint8), "grabcut", cls=1)
    editor.set_grabcut_iterations(2)
    drag(editor, [(34, 4), (45, 15), (61, 31)])
    mask = editor.session.mask()
    assert mask[12:24, 42:54].all()  # the square's inside
    assert not mask[:, :30].any() and not mask[40:].any()  # nothing outside the box
    editor.undo()
    assert not editor.session.mask().any()


def test_eyedropper_picks_the_class_and_returns_to_the_brush(editor):
    start(editor, halves(), "brush", cls=1)
    editor.set_tool("eyedropper")
    click(editor, 3, 3)
    assert editor.current_class() == 2 and editor.tool() == "brush"
    assert editor.undo_group().activeStack().count() == 0


def test_prediction_brush_copies_the_reference(editor):
    expected = start(editor, halves(), "prediction")
    messages = []
    editor.statusMessage.connect(messages.append)
    drag(editor, STROKE)
    assert np.array_equal(editor.session.mask(), expected)  # no prediction yet: nothing painted, and the user is told
    assert any("predict it first" in m for m in messages)

    reference = np.random.default_rng(3).integers(0, 3, size=(H, W), dtype=np.uint8)
    editor.set_reference_mask(reference)
    editor.set_brush_size(3)
    drag(editor, STROKE)
    copy_from(expected, reference, STROKE, 3)
    assert np.array_equal(editor.session.mask(), expected)
    editor.undo()
    assert np.array_equal(editor.session.mask(), halves())


def test_switching_tool_drops_an_open_polygon(editor):
    start(editor, np.zeros((H, W), np.uint8), "polygon")
    for x, y in [(5, 5), (40, 8), (30, 40)]:
        click(editor, x, y)
    editor.set_tool("brush")
    assert not editor.session.mask().any() and editor.undo_group().activeStack().count() == 0
