"""core.assist: scribble classifier, marker watershed, superpixel brush and region review, without Qt."""

import numpy as np
import pytest

from seg_desktop.core.assist.review import accept_region, collect_regions, find_regions, rank_regions
from seg_desktop.core.assist.scribble import classify, compute_features
from seg_desktop.core.assist.scribbles import NONE, accept_labels, draw_scribble, empty_scribbles
from seg_desktop.core.assist.superpixels import compute_superpixels, fill_superpixels
from seg_desktop.core.assist.watershed import watershed_labels


def two_textures(h: int = 64, w: int = 96, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A noisy dark blob on a noisy bright background, and its true classes (1 = blob)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    truth = (((yy - h / 2) / (h / 3)) ** 2 + ((xx - w / 2) / (w / 4)) ** 2 < 1).astype(np.uint8)
    gray = np.where(truth == 1, 70, 180) + rng.normal(0, 20, (h, w))
    image = np.repeat(np.clip(gray, 0, 255).astype(np.uint8)[..., None], 3, axis=2)
    return image, truth


def scribble_both(shape) -> np.ndarray:
    h, w = shape
    s = empty_scribbles(shape)
    draw_scribble(s, [(w // 2 - 5, h // 2), (w // 2 + 5, h // 2)], 1, 1)
    draw_scribble(s, [(3, 3), (w - 4, 3)], 1, 0)
    return s


@pytest.mark.parametrize("max_pixels", [10**6, 1500])  # full grid, and a coarse grid resized back up
def test_scribble_classifier_labels_the_rest_of_the_image(max_pixels):
    image, truth = two_textures()
    feats = compute_features(image, max_pixels=max_pixels)
    assert feats.features.shape[0] * feats.features.shape[1] <= max(max_pixels, 64 * 96)
    labels = classify(feats, scribble_both(truth.shape))
    assert labels.shape == truth.shape and labels.dtype == np.uint8
    assert (labels == truth).mean() > 0.93


def test_scribble_classifier_needs_scribbles_and_one_class_fills_everything():
    image, truth = two_textures()
    feats = compute_features(image)
    assert classify(feats, empty_scribbles(truth.shape)) is None
    s = empty_scribbles(truth.shape)
    draw_scribble(s, [(5, 5)], 2, 3)
    assert (classify(feats, s) == 3).all()
    with pytest.raises(ValueError):
        classify(feats, empty_scribbles((3, 3)))


def test_draw_scribble_erases_with_none_and_reports_the_box():
    s = empty_scribbles((20, 20))
    assert draw_scribble(s, [(10, 10)], 2, 4) == (8, 8, 13, 13)
    assert (s == 4).sum() > 0
    draw_scribble(s, [(10, 10)], 3, NONE)
    assert (s == NONE).all()
    assert draw_scribble(s, [(100, 100)], 1, 1) is None


def test_accept_labels_only_into_unlabelled_keeps_hand_labels():
    mask = np.zeros((10, 10), np.uint8)
    mask[:, :3] = 2
    labels = np.ones((10, 10), np.uint8)
    edit = accept_labels(mask.copy(), labels)
    assert edit.bbox == (0, 0, 10, 10)
    only = mask.copy()
    edit = accept_labels(only, labels, only_into=0)
    assert (only[:, :3] == 2).all() and (only[:, 3:] == 1).all()
    assert edit.bbox == (0, 3, 10, 10) and (edit.before == 0).all()
    assert accept_labels(only, labels, only_into=0) is None  # nothing left to fill


def test_watershed_separates_touching_objects_from_markers():
    h, w = 60, 100
    image = np.full((h, w, 3), 200, np.uint8)
    image[10:50, 10:50] = 60
    image[10:50, 50:90] = 120  # touches the first square
    truth = np.zeros((h, w), np.uint8)
    truth[10:50, 10:50] = 1
    truth[10:50, 50:90] = 2
    s = empty_scribbles((h, w))
    draw_scribble(s, [(30, 30)], 2, 1)
    draw_scribble(s, [(70, 30)], 2, 2)
    draw_scribble(s, [(2, 2), (97, 2)], 1, 0)
    labels = watershed_labels(image, s)
    assert set(np.unique(labels)) == {0, 1, 2}
    assert (labels == truth).mean() > 0.97
    assert watershed_labels(image, empty_scribbles((h, w))) is None


def test_superpixel_brush_fills_whole_superpixels_and_respects_the_lock():
    image, _ = two_textures(64, 64)
    sp = compute_superpixels(image, size=8)
    assert sp.labels.shape == (64, 64) and sp.labels.min() == 0
    mask = np.zeros((64, 64), np.uint8)
    edit = fill_superpixels(mask, sp, [(20, 20), (30, 22)], 1, 3)
    painted = mask == 3
    touched = np.unique(sp.labels[painted])
    assert np.array_equal(painted, np.isin(sp.labels, touched))  # exactly a union of superpixels
    assert painted[20, 20] and painted[22, 30]
    assert edit is not None and (edit.after[painted[edit.bbox[0]:edit.bbox[2], edit.bbox[1]:edit.bbox[3]]] == 3).all()
    locked = np.zeros((64, 64), np.uint8)
    locked[:, 32:] = 5
    fill_superpixels(locked, sp, [(30, 30), (34, 30)], 2, 1, lock=5)
    assert (locked[:, :32] == 0).all() and (locked == 1).any()
    with pytest.raises(ValueError):
        compute_superpixels(image, size=1)


def test_review_regions_are_ranked_by_area_and_accepted_inside_only():
    truth = np.zeros((40, 40), np.uint8)
    pred = truth.copy()
    pred[2:6, 2:12] = 1  # 40 px
    pred[20:35, 20:30] = 2  # 150 px
    pred[38, 38] = 1  # 1 px: noise
    truth[0, 0] = 255
    pred[0, 0] = 1  # ignored pixel
    regions = find_regions("a", pred, truth, ignore=255)
    assert sorted(r.area for r in regions) == [40, 150]
    other = find_regions("b", np.ones((10, 10), np.uint8), np.zeros((10, 10), np.uint8))
    ranked = rank_regions([regions, other])
    assert [(r.key, r.area) for r in ranked] == [("a", 150), ("b", 100), ("a", 40)]
    assert rank_regions([regions, other], limit=2) == ranked[:2]
    mask = truth.copy()
    mask[21, 21] = 7  # the user changed a pixel since
    edit = accept_region(mask, ranked[0])
    assert edit.bbox == (20, 20, 35, 30)
    assert (mask[20:35, 20:30] == 2).all() and (mask[2:6, 2:12] == 0).all()
    assert accept_region(mask, ranked[0]) is None


def test_collect_regions_reads_each_key_and_uses_uncertainty_without_truth():
    unc = np.zeros((20, 20), np.float32)
    unc[5:15, 5:10] = 0.9
    data = {"p": (np.ones((20, 20), np.uint8), None, unc), "q": (None, None, None),
            "r": (np.zeros((20, 20), np.uint8), np.ones((20, 20), np.uint8), None)}
    seen = []

    def read(key):
        seen.append(key)
        return data[key]

    ranked = collect_regions(["p", "q", "r"], read, limit=5)
    assert seen == ["p", "q", "r"]
    assert [(r.key, r.kind) for r in ranked] == [("r", "disagree"), ("p", "uncertain")]
    assert ranked[1].area == 50 and ranked[1].score == pytest.approx(45.0)
    assert collect_regions(["p", "r"], read, stop=lambda: True) == []


def test_scribble_classifier_smoothing_removes_speckle_islands():
    """The raw forest leaves islands of a few pixels in noisy texture (each one more correction for a labeller);
    by default they take the class of the smoothed probabilities, so far fewer are left."""
    import cv2

    image, truth = two_textures(96, 128, seed=3)
    rng = np.random.default_rng(1)
    noisy = np.clip(image.astype(int) + rng.normal(0, 90, image.shape[:2])[..., None], 0, 255).astype(np.uint8)
    feats = compute_features(noisy)
    scribbles = scribble_both(truth.shape)

    def islands(labels):
        return sum(cv2.connectedComponents((labels == c).astype(np.uint8), connectivity=4)[0] - 1 for c in (0, 1))

    raw, smooth = classify(feats, scribbles, smooth=0), classify(feats, scribbles)
    assert islands(smooth) < islands(raw)
    assert (smooth == truth).mean() >= (raw == truth).mean() - 0.01
    assert (smooth[scribbles >= 0] == scribbles[scribbles >= 0]).all()  # scribbled pixels keep their class


def test_small_regions_are_the_islands_below_the_area_of_any_class():
    from seg_desktop.core.assist.scribble import _small_regions

    labels = np.zeros((20, 30), np.uint8)
    labels[:, 15:] = 1
    labels[2:4, 2:4] = 2  # a 4-pixel island of class 2
    labels[10:13, 20:23] = 0  # a 9-pixel island of class 0 inside class 1
    small = _small_regions(labels, 10)
    assert small.sum() == 4 + 9 and small[2, 2] and small[11, 21]
    assert not _small_regions(labels, 4).any()  # strictly smaller than the area
