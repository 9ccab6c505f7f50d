"""Ignore-aware losses, class weights and validation scores against plain numpy references."""

import numpy as np
import pytest

from seg_desktop.core.metrics import confusion_matrix, scores
from seg_desktop.ml.losses import (SegmentationLoss, class_weights_from_masks, masked_cross_entropy, soft_dice_loss,
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
        SegmentationLoss("focal")


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
