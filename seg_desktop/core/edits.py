"""Mask edit operations (brush, eraser, polygon, flood fill, magic wand, GrabCut, prediction brush).

Every operation changes a uint8 (H, W) index mask in place and returns an `Edit` holding only the smallest
rectangle that changed, before and after, or None when no pixel changed. An undo command therefore stores a
few kilobytes per brush segment instead of a copy of a 4096x4096 mask, and undo/redo is `apply_patch`.
The brush works on the sub-array under the stroke only, so a segment costs the same on any mask size.
Points are (x, y) in mask pixels, as a mouse gives them; rectangles and patches are (y0, x0, y1, x1) slices.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

Point = tuple[float, float]
BBox = tuple[int, int, int, int]


@dataclass(frozen=True)
class Edit:
    """One change to a mask: the rectangle mask[y0:y1, x0:x1] held `before` and now holds `after`."""

    bbox: BBox
    before: np.ndarray
    after: np.ndarray

    def undo(self, mask: np.ndarray) -> None:
        apply_patch(mask, self.bbox, self.before)

    def redo(self, mask: np.ndarray) -> None:
        apply_patch(mask, self.bbox, self.after)


def apply_patch(mask: np.ndarray, bbox: BBox, patch: np.ndarray) -> None:
    """Write `patch` into mask[y0:y1, x0:x1] (undo writes `before`, redo writes `after`)."""
    y0, x0, y1, x1 = bbox
    mask[y0:y1, x0:x1] = patch


def merge_edits(mask: np.ndarray, edits: Sequence[Edit | None]) -> Edit | None:
    """Fold consecutive edits (the segments of one mouse drag) into one, so one drag is one undo step.

    `mask` must be in the state after the last edit. The merged rectangle covers all of them; its `before` is
    rebuilt by undoing the edits newest first on a copy of that rectangle, so overlapping segments are exact.
    """
    edits = [e for e in edits if e is not None]
    if not edits:
        return None
    y0 = min(e.bbox[0] for e in edits)
    x0 = min(e.bbox[1] for e in edits)
    y1 = max(e.bbox[2] for e in edits)
    x1 = max(e.bbox[3] for e in edits)
    after = mask[y0:y1, x0:x1].copy()
    before = after.copy()
    for e in reversed(edits):
        ey0, ex0, ey1, ex1 = e.bbox
        apply_patch(before, (ey0 - y0, ex0 - x0, ey1 - y0, ex1 - x0), e.before)
    return Edit((y0, x0, y1, x1), before, after)


def stroke(
    mask: np.ndarray, points: Sequence[Point], radius: int, value: int, *, lock: int | None = None
) -> Edit | None:
    """Paint a round brush of `radius` along the polyline through `points` (the eraser paints 0 or ignore).

    Consecutive points are joined by a thick line, so a fast mouse move leaves no gap. With `lock`, only pixels
    currently of class `lock` are painted ("paint only over class X").
    """
    window = _brush_window(mask.shape, points, radius)
    if window is None:
        return None
    y0, x0, footprint = window
    region = footprint if lock is None else footprint & (_sub(mask, y0, x0, footprint) == lock)
    return _commit(mask, y0, x0, region, value)


def copy_from(
    mask: np.ndarray, source: np.ndarray, points: Sequence[Point], radius: int
) -> Edit | None:
    """The prediction brush: copy `source` (the predicted mask) into `mask` where the round brush passes."""
    if source.shape != mask.shape:
        raise ValueError(f"source shape {source.shape} differs from mask shape {mask.shape}")
    window = _brush_window(mask.shape, points, radius)
    if window is None:
        return None
    y0, x0, footprint = window
    return _commit(mask, y0, x0, footprint, _sub(source, y0, x0, footprint))


def replace_mask(mask: np.ndarray, new: np.ndarray) -> Edit | None:
    """Make `mask` equal to `new` (accepting a prediction as the mask): one undoable edit of the changed box."""
    if new.shape != mask.shape:
        raise ValueError(f"replacement shape {new.shape} differs from mask shape {mask.shape}")
    return _commit(mask, 0, 0, np.ones(mask.shape, bool), np.asarray(new, np.uint8))


def fill_polygon(
    mask: np.ndarray, points: Sequence[Point], value: int, *, lock: int | None = None
) -> Edit | None:
    """Fill the polygon through `points` (at least three) with `value`, optionally only over class `lock`."""
    if len(points) < 3:
        return None
    pts = np.rint(np.asarray(points, dtype=np.float64)).astype(np.int32)
    bounds = _clip_box(mask.shape, pts[:, 0].min(), pts[:, 1].min(), pts[:, 0].max() + 1, pts[:, 1].max() + 1)
    if bounds is None:
        return None
    y0, x0, y1, x1 = bounds
    canvas = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(canvas, [pts - (x0, y0)], 1)
    region = canvas.astype(bool)
    if lock is not None:
        region &= _sub(mask, y0, x0, region) == lock
    return _commit(mask, y0, x0, region, value)


def flood_fill(mask: np.ndarray, seed_xy: Point, value: int, *, connectivity: int = 4) -> Edit | None:
    """Recolour the connected region of the seed's class (4- or 8-connected) with `value`.

    None when the seed lies outside the mask.
    """
    seed = _seed(mask.shape, seed_xy)
    if seed is None:
        return None
    return _region_edit(mask, mask, seed, 0, connectivity, value, None)


def magic_wand(
    image_rgb: np.ndarray,
    mask: np.ndarray,
    seed_xy: Point,
    value: int,
    tolerance: int,
    *,
    lock: int | None = None,
    connectivity: int = 4,
) -> Edit | None:
    """Paint `value` over the connected image region whose colour is within `tolerance` of the seed's colour.

    The range is fixed to the seed colour (not pixel-to-neighbour), so the region cannot creep along a slow
    gradient. With `lock`, only pixels currently of class `lock` are painted. None when the seed is outside.
    """
    if image_rgb.shape[:2] != mask.shape:
        raise ValueError(f"image size {image_rgb.shape[:2]} differs from mask size {mask.shape}")
    seed = _seed(mask.shape, seed_xy)
    if seed is None:
        return None
    # floodFill takes the image as an output argument even with FLOODFILL_MASK_ONLY: it must be writeable
    image = np.require(image_rgb, np.uint8, ("C", "W"))
    return _region_edit(mask, image, seed, tolerance, connectivity, value, lock)


def grabcut(
    image_rgb: np.ndarray, mask: np.ndarray, box: tuple[float, float, float, float], value: int, *,
    iterations: int = 3, lock: int | None = None,
) -> Edit | None:
    """Segment the object inside `box` (x0, y0, x1, y1) with OpenCV GrabCut and paint its pixels `value`.

    GrabCut runs on a crop of the box plus a margin (the margin supplies the background colour model), so a
    box on a large image costs about the same as on a small one. None when the box is too small to model.
    """
    if image_rgb.shape[:2] != mask.shape:
        raise ValueError(f"image size {image_rgb.shape[:2]} differs from mask size {mask.shape}")
    bx0, bx1 = sorted((int(round(box[0])), int(round(box[2]))))
    by0, by1 = sorted((int(round(box[1])), int(round(box[3]))))
    margin = max(8, (bx1 - bx0) // 4, (by1 - by0) // 4)
    bounds = _clip_box(mask.shape, bx0 - margin, by0 - margin, bx1 + margin, by1 + margin)
    if bounds is None:
        return None
    y0, x0, y1, x1 = bounds
    # keep at least a one-pixel ring of the crop outside the rectangle as background samples
    rx0, ry0 = max(bx0 - x0, 1), max(by0 - y0, 1)
    rx1, ry1 = min(bx1 - x0, x1 - x0 - 1), min(by1 - y0, y1 - y0 - 1)
    if rx1 - rx0 < 2 or ry1 - ry0 < 2:
        return None
    crop = np.ascontiguousarray(image_rgb[y0:y1, x0:x1, :3])
    labels = np.zeros(crop.shape[:2], np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(crop, labels, (rx0, ry0, rx1 - rx0, ry1 - ry0), bgd, fgd, iterations, cv2.GC_INIT_WITH_RECT)
    region = (labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD)
    if lock is not None:
        region &= _sub(mask, y0, x0, region) == lock
    return _commit(mask, y0, x0, region, value)


def _brush_window(
    shape: tuple[int, ...], points: Sequence[Point], radius: int
) -> tuple[int, int, np.ndarray] | None:
    """(y0, x0, footprint) of a round brush along `points`, on the clipped bounding box only; None if off-mask.

    Each point is a filled cv2.circle (the pixels with dx^2 + dy^2 <= radius^2) and consecutive points are
    joined by a cv2.line of thickness 2*radius (OpenCV draws it within a pixel of the exact capsule).
    """
    if len(points) == 0:
        return None
    radius = max(int(radius), 0)
    pts = np.rint(np.asarray(points, dtype=np.float64).reshape(-1, 2)).astype(np.int64)
    bounds = _clip_box(
        shape,
        pts[:, 0].min() - radius, pts[:, 1].min() - radius,
        pts[:, 0].max() + radius + 1, pts[:, 1].max() + radius + 1,
    )
    if bounds is None:
        return None
    y0, x0, y1, x1 = bounds
    canvas = np.zeros((y1 - y0, x1 - x0), np.uint8)
    local = [(int(x - x0), int(y - y0)) for x, y in pts]
    for a, b in zip(local, local[1:]):
        cv2.line(canvas, a, b, 1, max(2 * radius, 1))
    for p in local:
        cv2.circle(canvas, p, radius, 1, -1)
    return y0, x0, canvas.astype(bool)


def _region_edit(
    mask: np.ndarray, source: np.ndarray, seed: tuple[int, int], tolerance: int, connectivity: int,
    value: int, lock: int | None,
) -> Edit | None:
    """Flood `source` from `seed` within a fixed colour range and paint `value` into `mask` over the region."""
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, got {connectivity}")
    h, w = mask.shape
    filled = np.zeros((h + 2, w + 2), np.uint8)
    diff = (tolerance,) * 3
    flags = connectivity | cv2.FLOODFILL_MASK_ONLY | cv2.FLOODFILL_FIXED_RANGE | (1 << 8)
    _, _, _, (rx, ry, rw, rh) = cv2.floodFill(source, filled, seed, 0, diff, diff, flags)
    region = filled[1 + ry : 1 + ry + rh, 1 + rx : 1 + rx + rw].astype(bool)
    if lock is not None:
        region &= _sub(mask, ry, rx, region) == lock
    return _commit(mask, ry, rx, region, value)


def _commit(mask: np.ndarray, y0: int, x0: int, region: np.ndarray, new: int | np.ndarray) -> Edit | None:
    """Write `new` into the window at (y0, x0) where `region` holds; record the tight rectangle that changed."""
    window = _sub(mask, y0, x0, region)
    changed = region & (window != new)
    rows = np.flatnonzero(changed.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(changed.any(axis=0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    target = window[r0:r1, c0:c1]
    before = target.copy()
    values = new[r0:r1, c0:c1] if isinstance(new, np.ndarray) else new
    np.copyto(target, values, where=changed[r0:r1, c0:c1])
    return Edit((int(y0 + r0), int(x0 + c0), int(y0 + r1), int(x0 + c1)), before, target.copy())


def _sub(array: np.ndarray, y0: int, x0: int, like: np.ndarray) -> np.ndarray:
    """The view of `array` under a window of `like`'s shape placed at (y0, x0)."""
    return array[y0 : y0 + like.shape[0], x0 : x0 + like.shape[1]]


def _clip_box(shape: tuple[int, ...], x0: int, y0: int, x1: int, y1: int) -> BBox | None:
    """(y0, x0, y1, x1) of the box clipped to the mask, or None when nothing of it is left."""
    h, w = shape[:2]
    y0, x0, y1, x1 = max(int(y0), 0), max(int(x0), 0), min(int(y1), h), min(int(x1), w)
    return (y0, x0, y1, x1) if y1 > y0 and x1 > x0 else None


def _seed(shape: tuple[int, ...], seed_xy: Point) -> tuple[int, int] | None:
    """The seed as integer (x, y) inside the mask, or None when it falls outside."""
    x, y = int(round(seed_xy[0])), int(round(seed_xy[1]))
    return (x, y) if 0 <= x < shape[1] and 0 <= y < shape[0] else None
