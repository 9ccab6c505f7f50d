"""Mask edit operations: exact geometry, tight undo patches, locks, region tools, GrabCut."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from seg_desktop.core.edits import (
    Edit,
    apply_patch,
    copy_from,
    fill_polygon,
    flood_fill,
    grabcut,
    magic_wand,
    merge_edits,
    stroke,
)


def _disc(shape: tuple[int, int], center: tuple[int, int], radius: int) -> np.ndarray:
    ref = np.zeros(shape, np.uint8)
    cv2.circle(ref, center, radius, 1, -1)
    return ref.astype(bool)


def _check_round_trip(original: np.ndarray, mask: np.ndarray, edit: Edit) -> None:
    """The patch is tight around the changed pixels and undo/redo restore both states bit for bit."""
    changed = np.argwhere(original != mask)
    y0, x0, y1, x1 = edit.bbox
    assert (y0, x0) == tuple(changed.min(axis=0)) and (y1, x1) == tuple(changed.max(axis=0) + 1)
    assert edit.before.shape == edit.after.shape == (y1 - y0, x1 - x0)
    edited = mask.copy()
    edit.undo(mask)
    np.testing.assert_array_equal(mask, original)
    apply_patch(mask, edit.bbox, edit.after)
    np.testing.assert_array_equal(mask, edited)


@pytest.mark.parametrize("radius", [0, 1, 3, 10])
def test_single_point_is_exactly_a_cv2_circle(radius: int) -> None:
    mask = np.zeros((40, 50), np.uint8)
    edit = stroke(mask, [(20, 17)], radius, 3)
    np.testing.assert_array_equal(mask == 3, _disc(mask.shape, (20, 17), radius))
    assert edit is not None and edit.before.max() == 0 and (edit.after == 3).sum() == (mask == 3).sum()


def test_axis_aligned_stroke_equals_union_of_circles() -> None:
    mask = np.zeros((60, 80), np.uint8)
    stroke(mask, [(10, 20), (50, 20), (50, 45)], 4, 1)
    ref = np.zeros_like(mask, dtype=bool)
    for x in range(10, 51):
        ref |= _disc(mask.shape, (x, 20), 4)
    for y in range(20, 46):
        ref |= _disc(mask.shape, (50, y), 4)
    np.testing.assert_array_equal(mask == 1, ref)


@pytest.mark.parametrize("radius", [1, 5, 40])
def test_fast_diagonal_move_leaves_no_gap(radius: int) -> None:
    mask = np.zeros((300, 300), np.uint8)
    a, b = np.array([20.0, 30.0]), np.array([270.0, 200.0])
    stroke(mask, [tuple(a), tuple(b)], radius, 1)
    yy, xx = np.mgrid[:300, :300]
    p = np.stack([xx, yy], axis=-1).astype(float)
    t = np.clip(((p - a) @ (b - a)) / ((b - a) @ (b - a)), 0, 1)
    dist = np.linalg.norm(p - (a + t[..., None] * (b - a)), axis=-1)
    assert mask[dist <= radius - 1].all(), "pixels well inside the capsule were skipped"
    # OpenCV's thick-line raster may overshoot the exact capsule by a fraction of a pixel, never by one
    assert not mask[dist >= radius + 1].any(), "brush painted wider than its radius"


def test_stroke_round_trip_clipping_and_noop() -> None:
    rng = np.random.default_rng(1)
    mask = rng.integers(0, 3, size=(64, 64)).astype(np.uint8)
    original = mask.copy()
    edit = stroke(mask, [(-5, 10), (30, 40), (70, 62)], 6, 4)
    _check_round_trip(original, mask, edit)
    assert stroke(mask, [(-50, -50), (-20, -30)], 5, 1) is None  # entirely off the mask
    assert stroke(np.full((8, 8), 2, np.uint8), [(4, 4)], 2, 2) is None  # nothing changes


def test_stroke_touches_only_its_window() -> None:
    mask = np.zeros((4096, 4096), np.uint8)
    edit = stroke(mask, [(100, 100), (130, 110)], 5, 1)
    assert edit.bbox == (95, 95, 116, 136)
    assert (mask != 0).sum() == (edit.after != 0).sum()


def test_lock_paints_only_over_that_class() -> None:
    mask = np.zeros((20, 20), np.uint8)
    mask[:, 10:] = 2
    original = mask.copy()
    edit = stroke(mask, [(0, 10), (19, 10)], 3, 5, lock=2)
    assert set(np.unique(mask[:, :10])) == {0}
    assert (mask[7:14, 10:] == 5).all() and (mask[:7, 10:] == 2).all()
    _check_round_trip(original, mask, edit)
    assert edit.bbox == (7, 10, 14, 20)


def test_eraser_is_a_stroke_with_zero() -> None:
    mask = np.full((10, 10), 3, np.uint8)
    stroke(mask, [(5, 5)], 2, 0)
    np.testing.assert_array_equal(mask == 0, _disc(mask.shape, (5, 5), 2))


def test_fill_polygon_matches_cv2_and_respects_lock() -> None:
    pts = [(5, 5), (30, 8), (18, 28)]
    ref = np.zeros((32, 40), np.uint8)
    cv2.fillPoly(ref, [np.array(pts, np.int32)], 1)
    mask = np.zeros((32, 40), np.uint8)
    edit = fill_polygon(mask, pts, 1)
    np.testing.assert_array_equal(mask, ref)
    _check_round_trip(np.zeros_like(mask), mask, edit)
    locked = np.zeros((32, 40), np.uint8)
    locked[:15] = 4
    fill_polygon(locked, pts, 1, lock=0)
    assert ((locked == 1) == (ref.astype(bool) & (np.arange(32)[:, None] >= 15))).all()
    assert fill_polygon(mask, [(1, 1), (5, 5)], 1) is None


def test_flood_fill_stops_at_class_boundary() -> None:
    mask = np.zeros((20, 20), np.uint8)
    mask[5:15, 5:15] = 1
    mask[9:11, 9:11] = 2  # an island of another class inside the region
    mask[0, 0] = 1  # same class, not connected
    original = mask.copy()
    edit = flood_fill(mask, (6, 6), 3)
    expected = original.copy()
    expected[5:15, 5:15][original[5:15, 5:15] == 1] = 3
    np.testing.assert_array_equal(mask, expected)
    assert edit.bbox == (5, 5, 15, 15)
    _check_round_trip(original, mask, edit)
    assert flood_fill(mask, (99, 3), 1) is None


def test_flood_fill_connectivity() -> None:
    mask = np.eye(6, dtype=np.uint8)
    assert (flood_fill(mask.copy(), (0, 0), 5, connectivity=4).after == 5).sum() == 1
    m8 = mask.copy()
    flood_fill(m8, (0, 0), 5, connectivity=8)
    assert (m8 == 5).sum() == 6


def test_magic_wand_on_two_colour_image() -> None:
    image = np.zeros((30, 30, 3), np.uint8)
    image[:] = (200, 40, 40)
    image[:, 15:] = (40, 40, 200)
    image[3, 3] = (210, 45, 35)  # within tolerance of the seed colour
    image.setflags(write=False)  # a read-only image must work (it is never written)
    mask = np.zeros((30, 30), np.uint8)
    edit = magic_wand(image, mask, (2, 2), 1, tolerance=20)
    assert (mask[:, :15] == 1).all() and (mask[:, 15:] == 0).all()
    assert edit.bbox == (0, 0, 30, 15)
    tight = np.zeros((30, 30), np.uint8)
    magic_wand(image, tight, (2, 2), 1, tolerance=5)
    assert tight[3, 3] == 0 and tight[2, 2] == 1
    locked = np.zeros((30, 30), np.uint8)
    locked[:10] = 2
    magic_wand(image, locked, (20, 2), 1, tolerance=20, lock=0)
    assert (locked[10:, 15:] == 1).all() and (locked[:10] == 2).all() and (locked[10:, :15] == 0).all()


def test_grabcut_finds_a_bright_disc_on_textured_background() -> None:
    rng = np.random.default_rng(0)
    h, w = 160, 200
    image = rng.normal(50, 15, size=(h, w, 3)).clip(0, 255).astype(np.uint8)
    disc = _disc((h, w), (110, 80), 35)
    image[disc] = rng.normal((230, 210, 120), 12, size=(int(disc.sum()), 3)).clip(0, 255).astype(np.uint8)
    mask = np.zeros((h, w), np.uint8)
    edit = grabcut(image, mask, (65, 35, 156, 126), 2)
    painted = mask == 2
    iou = (painted & disc).sum() / (painted | disc).sum()
    assert iou > 0.8, iou
    _check_round_trip(np.zeros_like(mask), mask, edit)
    assert grabcut(image, mask, (5, 5, 6, 6), 2) is None
    locked = np.zeros((h, w), np.uint8)
    locked[:, : w // 2] = 1  # only the left half may be painted over
    grabcut(image, locked, (65, 35, 156, 126), 2, lock=1)
    assert (locked[:, w // 2:] == 0).all() and ((locked == 2) & disc).sum() > 0.3 * disc.sum()


def test_copy_from_copies_prediction_under_brush_only() -> None:
    rng = np.random.default_rng(2)
    source = rng.integers(0, 4, size=(40, 40)).astype(np.uint8)
    mask = np.zeros((40, 40), np.uint8)
    edit = copy_from(mask, source, [(10, 10), (30, 10)], 3)
    brush = np.zeros((40, 40), np.uint8)
    stroke(brush, [(10, 10), (30, 10)], 3, 1)
    np.testing.assert_array_equal(mask[brush == 1], source[brush == 1])
    assert (mask[brush == 0] == 0).all()
    _check_round_trip(np.zeros_like(mask), mask, edit)
    with pytest.raises(ValueError):
        copy_from(mask, source[:10], [(1, 1)], 1)


def test_merge_edits_makes_one_drag_one_undo_step() -> None:
    mask = np.zeros((50, 50), np.uint8)
    mask[20:30] = 1
    original = mask.copy()
    points = [(5, 5), (20, 25), (40, 25), (45, 45)]
    edits = [stroke(mask, points[i : i + 2], 4, 2) for i in range(len(points) - 1)]
    edits.append(stroke(mask, [(20, 25)], 2, 3))  # overlaps an earlier segment
    merged = merge_edits(mask, edits)
    _check_round_trip(original, mask, merged)
    assert merge_edits(mask, [None]) is None


def test_replace_mask_records_only_the_changed_box() -> None:
    from seg_desktop.core.edits import replace_mask

    mask = np.zeros((30, 40), np.uint8)
    new = mask.copy()
    new[5:9, 10:13] = 3
    edit = replace_mask(mask, new)
    assert np.array_equal(mask, new) and edit.bbox == (5, 10, 9, 13)
    _check_round_trip(np.zeros_like(mask), mask, edit)
    assert replace_mask(mask, new) is None
