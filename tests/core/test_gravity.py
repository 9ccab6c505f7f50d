"""The gravity rule behind augment_policy "auto" (core/gravity.py): street-like masks (sky over road) have it,
isotropic ones (blobs, microscopy, seg-desktop's own sample set) do not, and ignore-index pixels do not count."""

from __future__ import annotations

import numpy as np
import pytest

from seg_desktop.core.dataset import open_dataset
from seg_desktop.core.gravity import SCENE, TOP_DOWN, measure_gravity
from seg_desktop.core.sample_data import make_sample_dataset
from tests.conftest import shared_dataset


def street_masks(n: int = 12, size: int = 48, seed: int = 0) -> list[np.ndarray]:
    """Sky (1) over buildings (2) on either side over road (3), the horizon and the buildings' sides varying."""
    rng = np.random.default_rng(seed)
    masks = []
    for _ in range(n):
        m = np.full((size, size), 3, np.uint8)
        horizon = int(rng.integers(size // 3, size // 2))
        m[:horizon] = 1
        left, right = int(rng.integers(0, size // 3)), int(rng.integers(0, size // 3))
        m[horizon // 2:horizon + 4, :left] = 2
        m[horizon // 2:horizon + 4, size - right:] = 2
        masks.append(m)
    return masks


def blob_masks(n: int = 12, size: int = 48, seed: int = 0) -> list[np.ndarray]:
    """Discs of classes 1 and 2 anywhere on background 0."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    masks = []
    for _ in range(n):
        m = np.zeros((size, size), np.uint8)
        for _ in range(6):
            cy, cx, r = rng.integers(0, size, 2).tolist() + [int(rng.integers(3, 9))]
            m[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = int(rng.integers(1, 3))
        masks.append(m)
    return masks


def test_sky_over_road_has_gravity_and_blobs_do_not():
    street = measure_gravity(street_masks(), None)
    assert street.policy == SCENE and street.top_bottom > 0.9 and street.masks == 12
    assert "gravity" in street.describe() and street.describe().startswith("scene")
    blobs = measure_gravity(blob_masks(), None)
    assert blobs.policy == TOP_DOWN and blobs.top_bottom < 0.3
    assert blobs.describe().startswith("top-down")


def test_rotated_street_masks_have_no_gravity():
    """Gravity is about top vs bottom: the same scenes turned on their side differ left to right instead."""
    turned = measure_gravity([np.rot90(m) for m in street_masks()], None)
    assert turned.left_right > 0.9 and turned.policy == TOP_DOWN


def test_a_layout_lopsided_both_ways_is_not_taken_for_gravity():
    """Objects always in the top-left corner: top/bottom differ as much as left/right, so no flip is known safe."""
    masks = []
    for m in blob_masks():
        m[:32, :32] = 1
        masks.append(m)
    corner = measure_gravity(masks, None)
    assert corner.top_bottom >= 0.5 and corner.policy == TOP_DOWN


def test_ignore_index_pixels_do_not_count():
    """An unlabelled band over the top of isotropic masks would look like a class of its own up there."""
    masks = []
    for m in blob_masks():
        m[:20] = 255
        masks.append(m)
    assert measure_gravity(masks, None).policy == SCENE  # counted as a class: "gravity"
    assert measure_gravity(masks, 255).policy == TOP_DOWN  # ignored: blobs anywhere
    assert measure_gravity([np.full((30, 30), 255, np.uint8)], 255).masks == 0  # nothing labelled
    assert measure_gravity([], None).policy == TOP_DOWN


def test_the_sample_generator_has_no_gravity(tmp_path):
    dataset = open_dataset(make_sample_dataset(tmp_path / "s", n=24, size=64))
    gravity = measure_gravity((dataset.read_mask(s) for s in dataset.labelled()), dataset.classes.ignore_index)
    assert gravity.policy == TOP_DOWN and gravity.top_bottom < 0.2


@pytest.mark.parametrize("name, policy", [("camvid-mini", SCENE), ("membrane", TOP_DOWN)])
def test_real_data(name, policy):
    dataset = open_dataset(shared_dataset(name))
    gravity = measure_gravity((dataset.read_mask(s) for s in dataset.labelled()), dataset.classes.ignore_index)
    assert gravity.policy == policy, gravity
