"""The assisted tools driven through the real MaskEditor: scribble classifier, marker watershed, superpixel brush.

Mouse and keys go through the view like a user's; the heavy work runs on the controller's worker and the tests
wait for its signals, so they also check that nothing is computed on the GUI thread.
"""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import threading  # noqa: E402

import numpy as np  # noqa: E402
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402

from seg_desktop.gui.editor import assist as assist_module  # noqa: E402
from seg_desktop.gui.editor.assist import AssistController  # noqa: E402
from tests.gui.test_editor import CLASSES, H, W, at_one_to_one, drag, editor, make_image  # noqa: E402,F401

SQUARE = (slice(10, 26), slice(40, 56))  # the blue square of make_image


def scribble(ed, qtbot, tool: str) -> AssistController:
    """Scribble class 1 inside the blue square and class 0 around it, with `tool`; wait for the preview."""
    ctrl = AssistController.of(ed)
    ed.set_tool(tool)
    ed.set_brush_size(2)
    ed.set_current_class(1)
    drag(ed, [(44, 14), (50, 20)])
    ed.set_current_class(0)
    drag(ed, [(60, 4), (34, 4), (34, 30)])
    with qtbot.waitSignal(ctrl.previewReady, timeout=20000):
        drag(ed, [(60, 40), (5, 40), (5, 5)])
    qtbot.waitUntil(lambda: not ctrl.is_busy(), timeout=20000)
    return ctrl


def square_truth() -> np.ndarray:
    truth = np.zeros((H, W), np.uint8)
    truth[SQUARE] = 1
    return truth


def test_scribble_preview_accept_is_one_step_and_undo_restores_bit_for_bit(editor, qtbot):
    start = np.zeros((H, W), np.uint8)
    start[:, :8] = 2  # hand-labelled pixels the accept overwrites (the option is off)
    editor.session.set_current("s", make_image(), start, CLASSES)
    at_one_to_one(editor)
    ctrl = scribble(editor, qtbot, "scribble")
    assert np.array_equal(editor.session.mask(), start)  # scribbles never touch the mask
    assert (ctrl.preview == square_truth()).mean() > 0.97
    QTest.keyClick(editor.view, Qt.Key.Key_Return)
    after = editor.session.mask().copy()
    assert (after == square_truth()).mean() > 0.97
    assert editor.undo_group().activeStack().count() == 1
    assert ctrl.preview is None and (ctrl.scribbles == -1).all()  # accepted: scribbles cleared
    editor.undo()
    assert np.array_equal(editor.session.mask(), start)
    editor.redo()
    assert np.array_equal(editor.session.mask(), after)


def test_accept_only_into_unlabelled_keeps_hand_labels(editor, qtbot):
    start = np.zeros((H, W), np.uint8)
    start[SQUARE][:4] = 2
    editor.session.set_current("u", make_image(), start, CLASSES)
    at_one_to_one(editor)
    ctrl = scribble(editor, qtbot, "scribble")
    ctrl.set_only_unlabelled(True)  # unlabelled = the ignore class (3) here, so nothing painted 0/2 changes
    assert not ctrl.accept("Scribble classifier") or np.array_equal(editor.session.mask(), start)
    start3 = np.full((H, W), 3, np.uint8)
    start3[SQUARE][:4] = 2
    editor.session.set_current("v", make_image(), start3, CLASSES)
    at_one_to_one(editor)
    ctrl = scribble(editor, qtbot, "scribble")
    ctrl.set_only_unlabelled(True)
    assert ctrl.accept("Scribble classifier")
    mask = editor.session.mask()
    assert (mask[SQUARE][:4] == 2).all()  # kept
    assert (mask[SQUARE][4:] == 1).mean() > 0.95 and (mask == 3).sum() == 0


def test_escape_clears_scribbles_and_image_switch_drops_everything(editor, qtbot):
    ctrl = scribble(editor, qtbot, "watershed")
    assert ctrl.preview is not None
    QTest.keyClick(editor.view, Qt.Key.Key_Escape)
    assert ctrl.preview is None and (ctrl.scribbles == -1).all()
    QTest.keyClick(editor.view, Qt.Key.Key_Return)  # nothing to accept: no edit
    assert editor.undo_group().activeStack().count() == 0
    editor.session.set_current("other", make_image(1), None, CLASSES)
    assert ctrl.scribbles is None and ctrl.preview is None


def test_watershed_fills_the_square_from_markers(editor, qtbot):
    ctrl = scribble(editor, qtbot, "watershed")
    assert (ctrl.preview == square_truth()).mean() > 0.98
    QTest.keyClick(editor.view, Qt.Key.Key_Enter)
    assert (editor.session.mask() == square_truth()).mean() > 0.98
    assert editor.undo_group().activeStack().undoText() == "Marker watershed"


def test_features_and_superpixels_are_computed_off_the_gui_thread(editor, qtbot, monkeypatch):
    threads = []
    real_features, real_superpixels = assist_module.compute_features, assist_module.compute_superpixels
    monkeypatch.setattr(assist_module, "compute_features",
                        lambda *a: threads.append(threading.current_thread()) or real_features(*a))
    monkeypatch.setattr(assist_module, "compute_superpixels",
                        lambda *a: threads.append(threading.current_thread()) or real_superpixels(*a))
    ctrl = AssistController.of(editor)
    with qtbot.waitSignal(ctrl.featuresReady, timeout=20000):
        editor.set_tool("scribble")
    with qtbot.waitSignal(ctrl.superpixelsReady, timeout=20000):
        editor.set_tool("superpixel")
    assert len(threads) == 2 and threading.main_thread() not in threads


def test_superpixel_stroke_snaps_to_superpixel_boundaries(editor, qtbot):
    ctrl = AssistController.of(editor)
    ctrl.set_superpixel_size(6)
    editor.set_brush_size(1)
    editor.set_current_class(2)
    editor.set_tool("superpixel")
    drag(editor, [(10, 10), (20, 12)])  # superpixels not ready yet: nothing painted, the tool says so
    assert not editor.session.mask().any()
    qtbot.waitUntil(lambda: ctrl.superpixels is not None, timeout=20000)
    drag(editor, [(10, 10), (20, 12), (25, 30)])
    painted = editor.session.mask() == 2
    labels = ctrl.superpixels.labels
    touched = np.unique(labels[painted])
    assert np.array_equal(painted, np.isin(labels, touched))  # whole superpixels, nothing else
    assert painted[10, 10] and painted[12, 20] and painted[30, 25]
    brush_only = np.zeros((H, W), bool)
    brush_only[9:12, 9:27] = True
    assert painted.sum() > brush_only.sum()  # more than the 1 px brush itself
    assert editor.undo_group().activeStack().count() == 1
    editor.undo()
    assert not editor.session.mask().any()


def test_sam_tool_with_a_tiny_onnx_pair_gives_a_mask_for_a_click_and_a_box(editor, qtbot, tmp_path):
    import pytest

    pytest.importorskip("onnxruntime", reason="the SAM tool needs the optional onnxruntime (seg-desktop[onnx])")
    pytest.importorskip("onnx", reason="the test builds its tiny ONNX pair with the onnx package")
    from tests.core.test_sam import square_image
    from tests.sam_helpers import make_tiny_sam

    image, truth = square_image()
    editor.session.set_current("sam", image, None, CLASSES)
    editor.view.set_zoom(2.0)
    editor.view.centerOn(32, 32)
    ctrl = AssistController.of(editor)
    editor.set_tool("sam")
    click_at = (30, 25)
    QTest.mouseClick(editor.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     editor.view.mapFromScene(click_at[0] + 0.5, click_at[1] + 0.5))
    assert ctrl.preview is None  # no model chosen yet: the tool says what to get, nothing else happens
    ctrl.set_sam_paths(*make_tiny_sam(tmp_path / "model"))
    editor.set_current_class(2)
    with qtbot.waitSignal(ctrl.previewReady, timeout=20000):
        QTest.mouseClick(editor.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         editor.view.mapFromScene(click_at[0] + 0.5, click_at[1] + 0.5))
    assert ctrl.prompt.points == [(30, 25, True)] and ctrl.embedding is not None
    assert ((ctrl.preview == 2) == truth).mean() > 0.97
    assert not editor.session.mask().any()  # a preview only
    QTest.keyClick(editor.view, Qt.Key.Key_Return)
    assert ((editor.session.mask() == 2) == truth).mean() > 0.97
    editor.undo()
    assert not editor.session.mask().any()

    embedding = ctrl.embedding
    with qtbot.waitSignal(ctrl.previewReady, timeout=20000):
        drag(editor, [(18, 14), (30, 30), (50, 42)])
    assert ctrl.prompt.box == (18, 14, 51, 43) and not ctrl.prompt.points  # Enter cleared the clicks
    assert ctrl.embedding is embedding  # once per image
    assert ((ctrl.preview == 2) == truth).mean() > 0.97


def test_preview_is_rendered_on_the_worker_and_the_gui_thread_only_swaps_it_in(editor, qtbot, monkeypatch):
    rendered, loaded = [], []
    real_render, real_load = assist_module.render_preview, assist_module.load_forest

    def render(*args):
        image = real_render(*args)
        rendered.append((threading.current_thread(), image))
        return image

    monkeypatch.setattr(assist_module, "render_preview", render)
    monkeypatch.setattr(assist_module, "load_forest", lambda: loaded.append(threading.current_thread()) or real_load())
    ctrl = scribble(editor, qtbot, "scribble")
    assert loaded and threading.main_thread() not in loaded  # scikit-learn imported by the feature job
    assert rendered and all(thread is not threading.main_thread() for thread, _ in rendered)
    image = rendered[-1][1]
    assert isinstance(image, assist_module.PreviewImage)
    assert image.rgba.dtype == np.uint8 and image.rgba.shape == (H, W, 4) and image.rgba.flags.c_contiguous
    assert np.array_equal(image.rgba, ctrl._lut()[ctrl.preview])  # the preview in class colours
    assert ctrl._preview_item.array is image.rgba  # swapped in, not copied on the GUI thread
    assert image.changed is not None and not image.uniform


def test_changed_box_and_render_preview():
    lut = np.zeros((256, 4), np.uint8)
    lut[1] = (255, 0, 0, 255)
    labels = np.zeros((6, 8), np.uint8)
    assert assist_module.changed_box(None, labels) == (0, 0, 6, 8)  # nothing shown yet: everything
    assert assist_module.changed_box(labels.copy(), labels) is None
    moved = labels.copy()
    moved[2, 3] = moved[4, 5] = 1
    assert assist_module.changed_box(labels, moved) == (2, 3, 5, 6)
    image = assist_module.render_preview(moved, lut, labels)
    assert image.changed == (2, 3, 5, 6) and image.labels is moved and not image.uniform
    assert image.rgba[2, 3].tolist() == [255, 0, 0, 255] and image.rgba[0, 0].tolist() == [0, 0, 0, 0]
    assert assist_module.render_preview(labels, lut, None).uniform
    region = np.where(moved == 1, 1, assist_module.NONE).astype(np.int16)  # SAM: only the region is drawn
    shown = assist_module.render_preview(moved, lut, None, region)
    assert shown.shown is region and shown.rgba[0, 0, 3] == 0 and shown.rgba[2, 3, 3] == 255
    assert assist_module.render_preview(None, lut, labels).rgba is None


def test_a_cleared_preview_layer_is_repainted_whole_by_the_next_preview(editor, qtbot):
    ctrl = scribble(editor, qtbot, "watershed")
    first = ctrl.preview.copy()
    ctrl.clear()
    assert not ctrl._preview_item.array.any()
    scribble(editor, qtbot, "watershed")  # the same scribbles: the same labels, yet the layer was cleared
    assert np.array_equal(ctrl.preview, first)
    assert np.array_equal(ctrl._preview_item.array, ctrl._lut()[first])


def test_set_array_swaps_the_shown_buffer_and_refuses_another_shape(qtbot):
    from seg_desktop.gui.editor.overlay import ArrayImageItem

    item = ArrayImageItem(np.zeros((4, 5, 4), np.uint8))
    new = np.full((4, 5, 4), 7, np.uint8)
    item.set_array(new, (1, 1, 2, 3))
    assert item.array is new
    with np.testing.assert_raises(ValueError):
        item.set_array(np.zeros((5, 4, 4), np.uint8))
