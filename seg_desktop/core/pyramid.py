"""Display pyramids: an image at 1/2, 1/4, 1/8 … of its size, so a view zoomed out draws from the level that
matches the screen instead of scaling the full image on every paint, and kept current rectangle by rectangle.

Each level is the 2x2 box average of the one below (OpenCV INTER_AREA at exactly half size; an odd last row or
column is repeated first), so a level pixel depends on one aligned 2x2 block only: `update_levels` recomputes
just the blocks a stroke touched, and the result equals a full rebuild. Used by the editor's photo and class
overlay (gui/editor/overlay.py); numpy/OpenCV only.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .edits import BBox


def build_levels(array: np.ndarray, top_side: int) -> list[np.ndarray]:
    """[array, half, quarter, …] down to the first level whose longer side is at most `top_side`.
    Level 0 is `array` itself (not a copy)."""
    levels = [array]
    while max(levels[-1].shape[:2]) > top_side:
        levels.append(_halve(levels[-1]))
    return levels


def update_levels(levels: list[np.ndarray], bbox: BBox) -> None:
    """Recompute levels 1… where level 0 changed inside `bbox` (y0, x0, y1, x1 in level-0 pixels)."""
    y0, x0, y1, x1 = bbox
    for below, level in zip(levels, levels[1:]):
        y0, x0 = y0 // 2, x0 // 2
        y1, x1 = min(-(-y1 // 2), level.shape[0]), min(-(-x1 // 2), level.shape[1])
        if y1 <= y0 or x1 <= x0:
            return
        level[y0:y1, x0:x1] = _halve(below[2 * y0: 2 * y1, 2 * x0: 2 * x1])


def level_for(scale: float, count: int) -> int:
    """The coarsest level that still has at least one pixel per screen pixel at `scale` screen pixels per
    level-0 pixel (0 when magnified or when there is one level)."""
    if scale <= 0 or count <= 1:
        return 0
    return max(0, min(count - 1, int(math.floor(math.log2(1.0 / scale) + 1e-9))))


def _halve(block: np.ndarray) -> np.ndarray:
    h, w = block.shape[:2]
    if h % 2 or w % 2:
        block = cv2.copyMakeBorder(block, 0, h % 2, 0, w % 2, cv2.BORDER_REPLICATE)
    return cv2.resize(block, (block.shape[1] // 2, block.shape[0] // 2), interpolation=cv2.INTER_AREA)
