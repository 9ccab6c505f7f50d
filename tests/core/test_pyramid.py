"""Display pyramids (core/pyramid.py): levels are 2x2 box averages, and updating a changed rectangle gives
exactly what a full rebuild gives, odd sizes included."""

from __future__ import annotations

import numpy as np
import pytest

from seg_desktop.core.pyramid import build_levels, level_for, update_levels


@pytest.mark.parametrize("shape", [(37, 53, 4), (64, 64, 3), (101, 7, 4)])
def test_levels_halve_down_to_the_top_side(shape):
    array = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    levels = build_levels(array, top_side=8)
    assert levels[0] is array
    for below, level in zip(levels, levels[1:]):
        assert level.shape[:2] == (-(-below.shape[0] // 2), -(-below.shape[1] // 2))
    assert max(levels[-1].shape[:2]) <= 8 < max(levels[-2].shape[:2])
    # level 1 is the mean of each 2x2 block (the first one, away from any odd edge)
    block = array[:2, :2].astype(np.float64).mean(axis=(0, 1))
    assert np.abs(levels[1][0, 0].astype(np.float64) - block).max() <= 0.5 + 1e-9


def test_updating_a_rectangle_equals_a_full_rebuild():
    rng = np.random.default_rng(1)
    array = rng.integers(0, 256, size=(203, 157, 4), dtype=np.uint8)
    levels = build_levels(array, top_side=4)
    for _ in range(20):
        y0, x0 = rng.integers(0, 200), rng.integers(0, 150)
        y1, x1 = min(203, y0 + rng.integers(1, 40)), min(157, x0 + rng.integers(1, 40))
        array[y0:y1, x0:x1] = rng.integers(0, 256, size=(y1 - y0, x1 - x0, 4), dtype=np.uint8)
        update_levels(levels, (y0, x0, y1, x1))
    fresh = build_levels(array.copy(), top_side=4)
    assert len(fresh) == len(levels)
    for kept, rebuilt in zip(levels, fresh):
        assert np.array_equal(kept, rebuilt)


def test_level_for_picks_the_coarsest_level_that_still_covers_the_screen():
    assert level_for(1.0, 5) == 0 and level_for(4.0, 5) == 0
    assert level_for(0.5, 5) == 1 and level_for(0.3, 5) == 1
    assert level_for(0.25, 5) == 2 and level_for(0.09, 5) == 3
    assert level_for(0.001, 5) == 4  # no coarser level than the last
    assert level_for(0.1, 1) == 0
