"""The compare view: the right pixels in each pane, error colours, per-class scores and shared zoom/pan."""

import numpy as np
import pytest

from seg_desktop.core.metrics import per_image_scores
from seg_desktop.core.sample_data import SAMPLE_CLASSES
from seg_desktop.gui.compare import DIM, CompareView, PANES

RED, GREEN = SAMPLE_CLASSES.color_of(1), SAMPLE_CLASSES.color_of(2)


@pytest.fixture
def case():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
    gt = np.zeros((40, 40), np.uint8)
    gt[5:15, 5:15] = 1  # a disc
    pred = gt.copy()
    pred[20:30, 20:30] = 2  # a rectangle predicted on background
    pred[5:8, 5:15] = 0  # part of the disc missed (background is black in this palette)
    entropy = np.full((40, 40), 0.2, np.float32)
    return image, gt, pred, entropy


@pytest.fixture
def view(qtbot, case):
    v = CompareView()
    qtbot.addWidget(v)
    v.resize(900, 600)
    v.show()
    qtbot.waitExposed(v)
    v.show(*case[:3], SAMPLE_CLASSES, entropy=case[3])
    return v


def _screen_rgb(pane, x, y):
    """The colour the pane actually paints at the centre of image pixel (x, y)."""
    point = pane.mapFromScene(x + 0.5, y + 0.5)
    c = pane.viewport().grab().toImage().pixelColor(point)
    return c.red(), c.green(), c.blue()


def test_all_panes_show_the_right_pixels(view, case):
    image, gt, pred, _ = case
    assert all(view.pane_array(name) is not None for name in PANES)
    assert np.array_equal(view.pane_array("Image"), image)
    assert tuple(view.pane_array("Ground truth")[10, 10]) == RED
    assert tuple(view.pane_array("Prediction")[25, 25]) == GREEN
    assert view.zoom() > 5  # fitted: a 40 px image fills the pane
    assert _screen_rgb(view.panes["Ground truth"], 10, 10) == RED
    assert _screen_rgb(view.panes["Prediction"], 25, 25) == GREEN
    assert _screen_rgb(view.panes["Image"], 3, 30) == tuple(int(v) for v in image[30, 3])


def test_error_map_colours_wrong_pixels_by_predicted_class_and_dims_correct_ones(view, case):
    image = case[0]
    errors = view.pane_array("Errors")
    assert tuple(errors[25, 25]) == GREEN  # predicted rectangle where the truth is background
    assert tuple(errors[6, 10]) == (255, 255, 255)  # predicted background (black) is drawn white
    grey = int(0.299 * image[35, 35, 0] + 0.587 * image[35, 35, 1] + 0.114 * image[35, 35, 2] + 0.5)
    assert abs(int(errors[35, 35, 0]) - int(grey * DIM)) <= 1 and len(set(errors[35, 35])) == 1
    assert _screen_rgb(view.panes["Errors"], 25, 25) == GREEN


def test_per_class_table_matches_core_metrics(view, case):
    _, gt, pred, _ = case
    expected = per_image_scores(gt, pred, 5)
    assert view.table.rowCount() == 5
    assert view.table.item(1, 0).text() == "disc"
    assert view.table.item(1, 1).text() == f"{expected['iou'][1]:.3f}"
    assert view.table.item(2, 2).text() == f"{expected['dice'][2]:.3f}"
    assert view.table.item(3, 1).text() == "—"  # triangle: in neither mask
    assert f"{expected['mean_iou']:.3f}" in view.summary.text()


def test_zoom_and_pan_are_shared(view, qtbot):
    errors, image = view.panes["Errors"], view.panes["Image"]
    view.zoom_by(4.0, errors)
    assert all(p.transform().m11() == pytest.approx(errors.transform().m11()) for p in view.panes.values())
    errors.horizontalScrollBar().setValue(errors.horizontalScrollBar().maximum())
    errors.verticalScrollBar().setValue(0)
    centre = errors.mapToScene(errors.viewport().rect().center())
    other = image.mapToScene(image.viewport().rect().center())
    assert abs(centre.x() - other.x()) < 1 and abs(centre.y() - other.y()) < 1
    assert centre.x() > 25  # really panned to the right
    view.fit()
    zooms = {round(p.transform().m11(), 6) for p in view.panes.values()}
    assert len(zooms) == 1  # one common zoom, even though the panes' viewports differ a little
    for p in view.panes.values():  # and the whole image is visible in each
        assert p.sceneRect().width() * p.transform().m11() <= p.viewport().width() + 1
        assert p.sceneRect().height() * p.transform().m11() <= p.viewport().height() + 1


def test_unlabelled_image_shows_placeholders(view, case):
    view.show(case[0], None, case[2], SAMPLE_CLASSES)
    assert view.pane_array("Ground truth") is None and view.pane_array("Errors") is None
    assert view.pane_array("Uncertainty") is None and view.panes["Ground truth"].placeholder
    assert view.table.rowCount() == 0 and view.scores is None
    with pytest.raises(ValueError, match="ground truth is 3x3"):
        view.show(case[0], np.zeros((3, 3), np.uint8), None, SAMPLE_CLASSES)
