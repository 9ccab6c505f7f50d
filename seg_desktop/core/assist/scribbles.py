"""The scribble layer shared by the scribble classifier and the marker watershed.

Scribbles are hints, not labels: they live in their own int16 (H, W) array, `NONE` (-1) where nothing was drawn
and the class index elsewhere, so drawing them never touches the mask or its undo history. Only Accept writes
the result of a scribble tool into the mask, as one `Edit`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..edits import Edit, Point, _brush_window, _commit

NONE = -1


def empty_scribbles(shape: tuple[int, int]) -> np.ndarray:
    """A scribble layer with nothing drawn."""
    return np.full(shape, NONE, np.int16)


def draw_scribble(scribbles: np.ndarray, points: Sequence[Point], radius: int,
                  value: int) -> tuple[int, int, int, int] | None:
    """Draw a round brush of `radius` along `points` with class `value` (NONE erases); the changed box or None."""
    window = _brush_window(scribbles.shape, points, radius)
    if window is None:
        return None
    y0, x0, footprint = window
    scribbles[y0:y0 + footprint.shape[0], x0:x0 + footprint.shape[1]][footprint] = value
    return y0, x0, y0 + footprint.shape[0], x0 + footprint.shape[1]


def scribbled_classes(scribbles: np.ndarray) -> list[int]:
    """The classes that have at least one scribbled pixel, ascending."""
    values = np.unique(scribbles)
    return [int(v) for v in values if v != NONE]


def settle_scribbles(scribbles: np.ndarray, shape: tuple[int, int]) -> tuple[list[int], np.ndarray | None]:
    """What every scribble method settles before computing anything: the scribbled classes, and the answer when
    fewer than two leave nothing to compute (none scribbled: None; one: every pixel of that class, so the preview
    shows that a second class is needed). A layer of another size than the image is a ValueError."""
    if scribbles.shape != tuple(shape):
        raise ValueError(f"scribbles are {scribbles.shape}, the image is {tuple(shape)}")
    classes = scribbled_classes(scribbles)
    if len(classes) == 1:
        return classes, np.full(scribbles.shape, classes[0], np.uint8)
    return classes, None


def accept_labels(mask: np.ndarray, labels: np.ndarray, *, only_into: int | None = None) -> Edit | None:
    """Write `labels` (a full-size class map from a scribble tool) into `mask` as one Edit.

    With `only_into` (the background or ignore value), only pixels still of that value change: what the user
    already labelled by hand is kept, and the assisted result only fills the gaps.
    """
    if labels.shape != mask.shape:
        raise ValueError(f"labels are {labels.shape}, the mask is {mask.shape}")
    region = np.ones(mask.shape, bool) if only_into is None else mask == only_into
    return _commit(mask, 0, 0, region, labels.astype(np.uint8, copy=False))
