"""Whether a dataset's scenes have gravity, read from its masks: the rule behind TrainConfig.augment_policy "auto".

A street photo has a sky on top and a road below, so a vertical flip or a large rotation shows the model an
impossible image; a microscopy slice, an aerial tile or a top-down photo looks equally plausible any way up.
The masks say which: with gravity the class composition of the top of the images differs strongly from the
bottom's, while left and right (which a horizontal flip swaps) are much more alike.

Measure: the class histogram of the top third, bottom third, left third and right third of every mask (each mask
counting equally, ignore-index pixels not at all), summed over the masks; the total-variation distance TV (half
the L1 distance of the two distributions: 0 alike, 1 no class in common) of top vs bottom and of left vs right.
A scene has gravity when

- TV(top, bottom) >= MIN_CONTRAST (0.5: at least half of the labelled area changes class from top to bottom), and
- the overlap 1 - TV of left vs right is more than MIN_OVERLAP_RATIO (2) times the overlap of top vs bottom.

Measured (issue 16): camvid-mini (8 street frames, 11 classes) TV top/bottom 0.93, left/right 0.64, overlap
ratio 5.0; its splits alone 0.90/0.52 (ratio 4.9, 3 frames), 0.89/0.56 (4.1, 2 frames) and 0.98/0.84 (7.5, the
3 frames of one sequence). membrane (30 EM slices) 0.009/0.028 (ratio 0.98); seg-desktop's sample set (40 masks)
0.04-0.06 over three seeds (ratio 0.97-1.02), 0.13 with 8 masks and 0.24 with only 4. So the contrast alone
separates them with margin. The overlap ratio refuses a layout lopsided both ways (objects always in one corner:
ratio about 1), where no flip is known to be safe; it is not a plain ratio of TVs because a street sequence with a
building on one side and trees on the other has left/right TV 0.84, yet its top and bottom share only 2 % of
their classes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

SCENE = "scene"  # gravity: horizontal flips, scale, small rotations
TOP_DOWN = "top-down"  # any way up: all flips and quarter turns
MIN_CONTRAST = 0.5
MIN_OVERLAP_RATIO = 2.0
_MAX_SIDE = 256  # masks are subsampled to about this many pixels a side: thirds' class shares need no more


@dataclass(frozen=True)
class Gravity:
    """The measure of one set of masks: TV distances of the class histograms of top vs bottom thirds and of left
    vs right thirds, and how many masks had labelled pixels in all four thirds."""

    top_bottom: float
    left_right: float
    masks: int

    @property
    def present(self) -> bool:
        """Whether the masks show gravity (the rule of the module docstring)."""
        return (self.top_bottom >= MIN_CONTRAST
                and 1.0 - self.left_right > MIN_OVERLAP_RATIO * (1.0 - self.top_bottom))

    @property
    def policy(self) -> str:
        return SCENE if self.present else TOP_DOWN

    def describe(self) -> str:
        """Why the policy was chosen, in words for the user."""
        figures = f"class difference top/bottom {self.top_bottom:.2f}, left/right {self.left_right:.2f}"
        if not self.masks:
            return f"{TOP_DOWN} (no labelled masks to measure: no gravity assumed)"
        if self.present:
            return f"{SCENE} (top and bottom of the masks differ: gravity; {figures})"
        return f"{TOP_DOWN} (top and bottom of the masks alike: no gravity; {figures})"


def _thirds(mask: np.ndarray, ignore_index: int | None) -> np.ndarray | None:
    """Class shares (4, 256) of the top, bottom, left and right thirds of one mask; None when a third has no
    labelled pixel."""
    step = max(1, max(mask.shape) // _MAX_SIDE)
    m = mask[::step, ::step]
    h, w = m.shape
    th, tw = max(1, h // 3), max(1, w // 3)
    shares = np.zeros((4, 256), np.float64)
    for k, part in enumerate((m[:th], m[h - th:], m[:, :tw], m[:, w - tw:])):
        counts = np.bincount(part.ravel(), minlength=256).astype(np.float64)
        if ignore_index is not None:
            counts[ignore_index] = 0
        total = counts.sum()
        if total == 0:
            return None
        shares[k] = counts / total
    return shares


def measure_gravity(masks: Iterable[np.ndarray], ignore_index: int | None) -> Gravity:
    """The gravity measure of uint8 index masks (any sizes), each mask weighing the same."""
    total = np.zeros((4, 256), np.float64)
    n = 0
    for mask in masks:
        shares = _thirds(np.asarray(mask, np.uint8), ignore_index)
        if shares is not None:
            total += shares
            n += 1
    if not n:
        return Gravity(0.0, 0.0, 0)
    top, bottom, left, right = total / n
    return Gravity(float(0.5 * np.abs(top - bottom).sum()), float(0.5 * np.abs(left - right).sum()), n)
