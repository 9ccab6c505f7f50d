"""Confusion matrix and scores against hand-computed tiny examples."""

from __future__ import annotations

import math

import numpy as np
import pytest

from seg_desktop.core.metrics import confusion_matrix, per_image_scores, scores

GT = np.array([[0, 0, 1], [1, 2, 2]], dtype=np.uint8)
PRED = np.array([[0, 1, 1], [1, 2, 0]], dtype=np.uint8)


def test_confusion_matrix_hand_computed() -> None:
    cm = confusion_matrix(GT, PRED, 3)
    assert cm.dtype == np.int64
    # rows = ground truth, columns = prediction
    assert cm.tolist() == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]


def test_scores_hand_computed() -> None:
    s = scores(confusion_matrix(GT, PRED, 3))
    assert s["pixel_accuracy"] == pytest.approx(4 / 6)
    # class 0: tp 1, fp 1, fn 1 -> iou 1/3, dice 2/4; class 1: tp 2, fp 1, fn 0 -> 2/3, 4/5;
    # class 2: tp 1, fp 0, fn 1 -> 1/2, 2/3
    assert s["iou"] == pytest.approx([1 / 3, 2 / 3, 1 / 2])
    assert s["dice"] == pytest.approx([1 / 2, 4 / 5, 2 / 3])
    assert s["mean_iou"] == pytest.approx((1 / 3 + 2 / 3 + 1 / 2) / 3)
    assert s["mean_dice"] == pytest.approx((1 / 2 + 4 / 5 + 2 / 3) / 3)
    assert s["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]


def test_ignore_index_and_out_of_range_gt_are_skipped() -> None:
    gt = np.array([0, 1, 255, 7, 1], dtype=np.uint8)
    pred = np.array([0, 0, 1, 1, 1], dtype=np.uint8)
    cm = confusion_matrix(gt, pred, 2, ignore_index=255)
    assert cm.tolist() == [[1, 0], [1, 1]]
    # an ignore index inside the class range (e.g. CamVid 11 with 12 outputs) is skipped as well
    cm = confusion_matrix(np.array([0, 1, 1]), np.array([1, 1, 0]), 2, ignore_index=1)
    assert cm.tolist() == [[0, 1], [0, 0]]


def test_absent_class_is_nan_and_excluded_from_means() -> None:
    gt = np.array([0, 0, 1, 1])
    pred = np.array([0, 0, 1, 0])
    s = per_image_scores(gt, pred, 4)
    assert math.isnan(s["iou"][2]) and math.isnan(s["iou"][3])
    assert math.isnan(s["dice"][3])
    assert s["iou"][:2] == pytest.approx([2 / 3, 1 / 2])
    assert s["mean_iou"] == pytest.approx((2 / 3 + 1 / 2) / 2)
    assert s["mean_dice"] == pytest.approx((4 / 5 + 2 / 3) / 2)


def test_class_only_predicted_counts_as_zero() -> None:
    s = per_image_scores(np.array([0, 0]), np.array([0, 1]), 2)
    assert s["iou"] == pytest.approx([1 / 2, 0.0])
    assert s["mean_iou"] == pytest.approx(0.25)


def test_additive_over_images() -> None:
    rng = np.random.default_rng(0)
    gts = [rng.integers(0, 5, size=(7, 9)) for _ in range(4)]
    preds = [rng.integers(0, 4, size=(7, 9)) for _ in range(4)]
    summed = sum(confusion_matrix(g, p, 4, ignore_index=4) for g, p in zip(gts, preds))
    whole = confusion_matrix(np.concatenate(gts), np.concatenate(preds), 4, ignore_index=4)
    np.testing.assert_array_equal(summed, whole)
    assert whole.sum() == sum(int((g != 4).sum()) for g in gts)


def test_empty_and_bad_input() -> None:
    s = scores(confusion_matrix(np.full((2, 2), 9), np.zeros((2, 2)), 3, ignore_index=9))
    assert math.isnan(s["pixel_accuracy"]) and math.isnan(s["mean_iou"])
    with pytest.raises(ValueError, match="shape"):
        confusion_matrix(np.zeros((2, 2)), np.zeros((2, 3)), 2)
    with pytest.raises(ValueError, match="outside"):
        confusion_matrix(np.zeros(3), np.array([0, 1, 5]), 2)
