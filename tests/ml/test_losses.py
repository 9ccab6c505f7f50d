"""Ignore-aware losses, class weights and validation scores against plain numpy references."""

import numpy as np
import pytest
import tensorflow as tf

from seg_desktop.core.metrics import confusion_matrix, scores
from seg_desktop.ml.losses import (MAX_CLASS_WEIGHT, SegmentationLoss, class_weights, class_weights_from_masks,
                                   focal_loss, lovasz_softmax_loss, masked_cross_entropy, soft_dice_loss,
                                   validation_scores)

RNG = np.random.default_rng(0)


def _probs(shape):
    logits = RNG.normal(size=shape).astype(np.float32)
    e = np.exp(logits)
    return e / e.sum(-1, keepdims=True)


def _ce_reference(y, p, weights=None):
    valid = y < p.shape[-1]
    yy = np.where(valid, y, 0)
    ce = -np.log(np.take_along_axis(p, yy[..., None], -1)[..., 0])
    w = valid.astype(np.float64) if weights is None else np.where(valid, weights[yy], 0.0)
    return (ce * w).sum() / w.sum()


def test_ignored_pixels_do_not_contribute_to_cross_entropy():
    y = RNG.integers(0, 3, (2, 8, 8)).astype(np.int32)
    y[:, :3] = 255
    p = _probs((2, 8, 8, 3))
    loss = float(masked_cross_entropy(y, p))
    assert loss == pytest.approx(_ce_reference(y, p), rel=1e-5)
    p2 = p.copy()
    p2[:, :3] = _probs((2, 3, 8, 3))  # change predictions only where the truth is void
    assert float(masked_cross_entropy(y, p2)) == pytest.approx(loss, rel=1e-6)


def test_weighted_cross_entropy_is_a_weighted_mean():
    y = RNG.integers(0, 3, (2, 8, 8)).astype(np.int32)
    p = _probs((2, 8, 8, 3))
    w = np.array([0.5, 2.0, 1.0], np.float32)
    assert float(masked_cross_entropy(y, p, w)) == pytest.approx(_ce_reference(y, p, w), rel=1e-5)
    assert float(masked_cross_entropy(y, p, w)) != pytest.approx(_ce_reference(y, p), rel=1e-3)


def test_dice_is_zero_when_perfect_high_when_wrong_and_ignores_void():
    y = RNG.integers(0, 3, (2, 16, 16)).astype(np.int32)
    perfect = np.eye(3, dtype=np.float32)[y]
    wrong = np.eye(3, dtype=np.float32)[(y + 1) % 3]
    assert float(soft_dice_loss(y, perfect)) == pytest.approx(0.0, abs=1e-6)
    assert float(soft_dice_loss(y, wrong)) > 0.95
    y_void = y.copy()
    y_void[:, :4] = 255
    mixed = perfect.copy()
    mixed[:, :4] = wrong[:, :4]  # wrong only where the truth is void
    assert float(soft_dice_loss(y_void, mixed)) == pytest.approx(0.0, abs=1e-6)


def test_combined_loss_is_the_sum_and_serialises():
    y = RNG.integers(0, 3, (2, 8, 8)).astype(np.int32)
    p = _probs((2, 8, 8, 3))
    both = float(SegmentationLoss("ce+dice")(y, p))
    assert both == pytest.approx(float(masked_cross_entropy(y, p)) + float(soft_dice_loss(y, p)), rel=1e-5)
    again = SegmentationLoss.from_config(SegmentationLoss("ce", [1.0, 2.0, 3.0]).get_config())
    assert again.kind == "ce" and again.class_weights == [1.0, 2.0, 3.0]
    with pytest.raises(ValueError):
        SegmentationLoss("hinge")


def test_median_frequency_class_weights():
    masks = np.zeros((2, 4, 4), np.uint8)
    masks[:, :, :1] = 1  # class 1: a quarter of every image; class 2 never appears
    w = class_weights_from_masks(masks, 3)
    # freq 0.75 and 0.25, median 0.5 -> weights 2/3 and 2; an absent class gets 0
    assert w == pytest.approx([2 / 3, 2.0, 0.0], rel=1e-6)


def test_validation_scores_are_core_metrics():
    y = RNG.integers(0, 3, (3, 8, 8)).astype(np.uint8)
    y[0, 0] = 255
    p = _probs((3, 8, 8, 3))
    s = validation_scores(y, p, 255)
    assert s["mean_iou"] == scores(confusion_matrix(y, p.argmax(-1), 3, 255))["mean_iou"]


# ---------------------------------------------------------------- focal, Lovász-softmax, tempered weights


def test_focal_is_cross_entropy_at_gamma_zero_and_down_weights_easy_pixels():
    y = RNG.integers(0, 3, (2, 8, 8)).astype(np.int32)
    y[:, :2] = 255
    p = _probs((2, 8, 8, 3))
    w = np.array([0.5, 2.0, 1.0], np.float32)
    assert float(focal_loss(y, p, gamma=0.0)) == pytest.approx(float(masked_cross_entropy(y, p)), rel=1e-6)
    assert float(focal_loss(y, p, w, gamma=0.0)) == pytest.approx(_ce_reference(y, p, w), rel=1e-5)
    # gamma 2 against numpy: CE * (1 - p_true)^2, weighted mean over the labelled pixels
    valid = y < 3
    pt = np.take_along_axis(p, np.where(valid, y, 0)[..., None], -1)[..., 0]
    wy = np.where(valid, w[np.where(valid, y, 0)], 0.0)
    expected = (wy * (1 - pt) ** 2 * -np.log(pt)).sum() / wy.sum()
    assert float(focal_loss(y, p, w)) == pytest.approx(expected, rel=1e-5)
    assert float(focal_loss(y, p)) < float(masked_cross_entropy(y, p))


def test_focal_and_lovasz_ignore_void_pixels():
    y = RNG.integers(0, 3, (2, 8, 8)).astype(np.int32)
    y[:, :3] = 255
    p = _probs((2, 8, 8, 3))
    p2 = p.copy()
    p2[:, :3] = _probs((2, 3, 8, 3))  # predictions change only where the truth is void
    for loss in (focal_loss, lovasz_softmax_loss):
        assert float(loss(y, p2)) == pytest.approx(float(loss(y, p)), rel=1e-6), loss.__name__
    all_void = np.full((1, 4, 4), 255, np.int32)
    assert float(lovasz_softmax_loss(all_void, _probs((1, 4, 4, 3)))) == 0.0


def test_lovasz_matches_hand_computed_cases():
    # crisp: labels [0, 0, 1, 1], predicted [0, 1, 1, 1] (plus a void pixel predicted wrong): 1 - IoU per class,
    # class 0 IoU 1/2 and class 1 IoU 2/3, mean (1/2 + 1/3) / 2 = 5/12
    y = np.array([[[0, 0, 1, 1, 255]]], np.int32)
    crisp = np.eye(2, dtype=np.float32)[[[[0, 1, 1, 1, 0]]]]
    assert float(lovasz_softmax_loss(y, crisp)) == pytest.approx(5 / 12, rel=1e-6)
    # soft: labels [0, 1], p(class 0) = [0.8, 0.4]. Class 0: errors sorted [0.4 (bg), 0.2 (fg)], Jaccard steps
    # [1/2, 1] -> gradient [1/2, 1/2] -> 0.3. Class 1: errors [0.4 (fg), 0.2 (bg)], Jaccard [1, 1] -> [1, 0]
    # -> 0.4. Mean 0.35.
    y = np.array([[[0, 1]]], np.int32)
    soft = np.array([[[[0.8, 0.2], [0.4, 0.6]]]], np.float32)
    assert float(lovasz_softmax_loss(y, soft)) == pytest.approx(0.35, rel=1e-6)
    perfect = np.eye(2, dtype=np.float32)[y]
    assert float(lovasz_softmax_loss(y, perfect)) == pytest.approx(0.0, abs=1e-7)


def test_lovasz_has_a_finite_gradient_that_lowers_it():
    y = tf.constant(RNG.integers(0, 3, (2, 8, 8)).astype(np.int32))
    logits = tf.Variable(RNG.normal(size=(2, 8, 8, 3)).astype(np.float32))
    with tf.GradientTape() as tape:
        before = lovasz_softmax_loss(y, tf.nn.softmax(logits))
    grad = tape.gradient(before, logits)
    assert np.isfinite(grad.numpy()).all() and np.abs(grad.numpy()).sum() > 0
    after = lovasz_softmax_loss(y, tf.nn.softmax(logits - 1.0 * grad))
    assert float(after) < float(before)


def test_every_loss_kind_is_its_terms_sum_and_an_old_saved_config_loads():
    y = RNG.integers(0, 3, (2, 8, 8)).astype(np.int32)
    p = _probs((2, 8, 8, 3))
    w = [0.5, 2.0, 1.0]
    terms = {"ce": lambda: masked_cross_entropy(y, p, np.float32(w)), "focal": lambda: focal_loss(y, p, np.float32(w)),
             "dice": lambda: soft_dice_loss(y, p), "lovasz": lambda: lovasz_softmax_loss(y, p)}
    for kind in ("ce", "dice", "ce+dice", "focal", "focal+dice", "lovasz", "ce+lovasz"):
        expected = sum(float(terms[part]()) for part in kind.split("+"))
        assert float(SegmentationLoss(kind, w)(y, p)) == pytest.approx(expected, rel=1e-5), kind
    # what a model compiled before focal/Lovász existed stored in its .keras file
    old = {"name": "segmentation_loss", "reduction": "sum_over_batch_size", "kind": "ce+dice", "class_weights": None}
    loaded = SegmentationLoss.from_config(old)
    assert float(loaded(y, p)) == pytest.approx(float(masked_cross_entropy(y, p)) + float(soft_dice_loss(y, p)),
                                                 rel=1e-5)


def test_tempered_weights_on_a_known_histogram():
    # pixels 600 / 300 / 100 / 1, every class in every image of 1001 pixels: frequencies = shares, median of the
    # four = (0.3 + 0.1) / 2 / 1.001 -> median weights 1/3, 2/3, 2, 200
    class_pixels = np.array([600, 300, 100, 1, 0])
    image_pixels = np.array([1001, 1001, 1001, 1001, 0])
    median = class_weights("median", class_pixels, image_pixels)
    assert median == pytest.approx([1 / 3, 2 / 3, 2.0, 200.0, 0.0], rel=1e-6)  # unclipped, as runs always had
    sqrt = class_weights("sqrt-median", class_pixels, image_pixels)
    assert sqrt == pytest.approx([np.sqrt(1 / 3), np.sqrt(2 / 3), np.sqrt(2.0), MAX_CLASS_WEIGHT, 0.0], rel=1e-6)
    enet = class_weights("enet", class_pixels, image_pixels)
    raw = 1.0 / np.log(1.02 + class_pixels[:4] / 1001)
    assert enet[:4] == pytest.approx(raw / np.median(raw), rel=1e-5) and enet[4] == 0.0
    assert enet.max() <= MAX_CLASS_WEIGHT and enet[3] > enet[2] > enet[1] > enet[0]
    assert class_weights("none", class_pixels, image_pixels) is None


def test_tempered_weights_are_clipped_for_an_almost_absent_class():
    masks = np.zeros((4, 32, 32), np.uint8)
    masks[:, :16] = 1
    masks[0, 0, 0] = 2  # one pixel in 4096
    for scheme in ("sqrt-median", "enet"):
        w = class_weights_from_masks(masks, 3, scheme)
        assert w.max() <= MAX_CLASS_WEIGHT and w[2] == w.max(), scheme
    assert class_weights_from_masks(masks, 3, "sqrt-median")[2] == MAX_CLASS_WEIGHT  # sqrt(~512) clipped
    assert class_weights_from_masks(masks, 3, "median")[2] > 500  # median frequency stays unclipped
