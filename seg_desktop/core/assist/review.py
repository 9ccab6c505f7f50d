"""The region review queue: after Predict all, the connected regions where the prediction and the ground truth
disagree (or, on unlabelled images, where the model is uncertain) ranked across the whole dataset, largest first.

Fixing "the worst 50 regions" instead of "the worst image" puts each minute where most pixels are wrong: a
region is visited, then the prediction is accepted inside it (one undo step) or the ground truth kept.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import cv2
import numpy as np

from ..edits import Edit, _commit

MIN_AREA = 16  # pixels: smaller disagreements are boundary noise, not worth a visit
UNCERTAIN = 0.5  # entropy as a fraction of its maximum above which an unlabelled pixel counts as uncertain
LIMIT = 1000


@dataclass(frozen=True)
class Region:
    """One connected region of image `key`: its box (y0, x0, y1, x1), its pixels in the box and the predicted
    classes there. `kind` is "disagree" (prediction vs ground truth) or "uncertain" (no ground truth)."""

    key: str
    bbox: tuple[int, int, int, int]
    pixels: np.ndarray  # bool, the box's shape
    prediction: np.ndarray  # uint8, the box's shape
    area: int
    score: float
    kind: str


def find_regions(key: str, prediction: np.ndarray, truth: np.ndarray | None = None,
                 uncertainty: np.ndarray | None = None, *, ignore: int | None = None,
                 min_area: int = MIN_AREA, uncertain: float = UNCERTAIN) -> list[Region]:
    """The regions of one image worth reviewing, in no order.

    With `truth`: the 8-connected components of prediction != truth (pixels of the `ignore` class excluded),
    scored by area. Without: the components where `uncertainty` (entropy / its maximum, 0..1) >= `uncertain`,
    scored by area x mean uncertainty.
    """
    if truth is not None:
        if truth.shape != prediction.shape:
            raise ValueError(f"the prediction of {key} is {prediction.shape}, its mask {truth.shape}")
        wrong = truth != prediction
        if ignore is not None:
            wrong &= truth != ignore
        kind, weight = "disagree", None
    elif uncertainty is not None:
        wrong, kind, weight = uncertainty >= uncertain, "uncertain", uncertainty
    else:
        return []
    count, labels, stats, _ = cv2.connectedComponentsWithStats(wrong.astype(np.uint8), connectivity=8)
    regions = []
    for i in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[i])
        if area < min_area:
            continue
        pixels = labels[y:y + h, x:x + w] == i
        score = float(area) if weight is None else float(weight[y:y + h, x:x + w][pixels].sum())
        regions.append(Region(key, (y, x, y + h, x + w), pixels, prediction[y:y + h, x:x + w].copy(),
                              area, score, kind))
    return regions


def rank_regions(per_image: Iterable[list[Region]], limit: int = LIMIT) -> list[Region]:
    """The `limit` highest-scoring regions of all images, highest first (ties: image key, then position), so
    the queue's order does not depend on the order the images were read in."""
    best = heapq.nsmallest(limit, (r for rs in per_image for r in rs), key=lambda r: (-r.score, r.key, r.bbox))
    return best


def collect_regions(keys: Iterable[str], read: Callable[[str], tuple[np.ndarray | None, np.ndarray | None,
                                                                      np.ndarray | None]],
                    *, ignore: int | None = None, limit: int = LIMIT,
                    stop: Callable[[], bool] | None = None) -> list[Region]:
    """Rank the regions of every key; `read(key)` gives (prediction, truth, uncertainty), prediction None when
    the image was not predicted (it is skipped). Only `limit` regions are kept in memory at any time."""
    kept: list[Region] = []
    for key in keys:
        if stop is not None and stop():
            break
        prediction, truth, uncertainty = read(key)
        if prediction is None:
            continue
        kept = rank_regions([kept, find_regions(key, prediction, truth, uncertainty, ignore=ignore)], limit)
    return kept


def accept_region(mask: np.ndarray, region: Region) -> Edit | None:
    """Write the prediction into `mask` inside the region only; None when it is already there."""
    y0, x0, _, _ = region.bbox
    return _commit(mask, y0, x0, region.pixels, region.prediction)
