"""Segmentation scores from a confusion matrix: pixel accuracy, per-class IoU and Dice, their means.

Everything is derived from one integer confusion matrix so that a whole data set can be scored by summing the
matrices of its images (exact, no averaging of per-image ratios), and so that the numbers the GUI, the CLI
`evaluate` command, a run's `metrics.json` and both mean IoU columns of its history.csv (training and validation)
show are computed by the same few lines (docs/ARCHITECTURE.md, "One IoU").
"""

from __future__ import annotations

import numpy as np


def confusion_matrix(
    gt: np.ndarray, pred: np.ndarray, num_classes: int, ignore_index: int | None = None
) -> np.ndarray:
    """Count pixels per (ground truth, prediction) pair: rows are ground truth, columns prediction.

    Pixels whose ground truth is `ignore_index` (void / unlabelled) or not a valid class (>= num_classes) are
    skipped, so they count neither for nor against any class. The result is additive: the sum of the matrices of
    several images equals the matrix of all their pixels together, which is how data sets are scored.
    """
    gt = np.asarray(gt)
    pred = np.asarray(pred)
    if gt.shape != pred.shape:
        raise ValueError(f"ground truth shape {gt.shape} differs from prediction shape {pred.shape}")
    if num_classes < 1:
        raise ValueError(f"num_classes must be at least 1, got {num_classes}")
    gt = gt.ravel().astype(np.int64)
    pred = pred.ravel().astype(np.int64)
    keep = (gt >= 0) & (gt < num_classes)
    if ignore_index is not None:
        keep &= gt != ignore_index
    gt, pred = gt[keep], pred[keep]
    if pred.size and (pred.min() < 0 or pred.max() >= num_classes):
        raise ValueError(f"prediction holds class values outside 0..{num_classes - 1}")
    counts = np.bincount(gt * num_classes + pred, minlength=num_classes * num_classes)
    return counts.reshape(num_classes, num_classes).astype(np.int64)


def scores(cm: np.ndarray) -> dict:
    """Pixel accuracy, per-class IoU and Dice, mean IoU and mean Dice, and the matrix itself (JSON-ready).

    A class that appears neither in the ground truth nor in the prediction has an undefined IoU/Dice (0/0):
    it is reported as NaN and left OUT of mean_iou and mean_dice. Counting it as 0 would punish a model for a
    class the images simply do not contain, and counting it as 1 would reward it for nothing; either way the
    mean of a single image or a small validation split would depend on which classes happen to be absent.
    A class present in only one of the two gets IoU = Dice = 0 and does count.
    """
    cm = np.asarray(cm, dtype=np.int64)
    tp = np.diag(cm).astype(np.float64)
    fp = cm.sum(axis=0) - tp
    fn = cm.sum(axis=1) - tp
    total = cm.sum()
    present = (tp + fp + fn) > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(present, tp / (tp + fp + fn), np.nan)
        dice = np.where(present, 2 * tp / (2 * tp + fp + fn), np.nan)
    return {
        "pixel_accuracy": float(tp.sum() / total) if total else float("nan"),
        "mean_iou": float(iou[present].mean()) if present.any() else float("nan"),
        "mean_dice": float(dice[present].mean()) if present.any() else float("nan"),
        "iou": [float(v) for v in iou],
        "dice": [float(v) for v in dice],
        "confusion_matrix": cm.tolist(),
    }


def per_image_scores(
    gt: np.ndarray, pred: np.ndarray, num_classes: int, ignore_index: int | None = None
) -> dict:
    """Scores of one image (for the compare view's per-image ranking): `scores` of its confusion matrix."""
    return scores(confusion_matrix(gt, pred, num_classes, ignore_index))
