"""One IoU: the training column of history.csv and the validation column are both core.metrics' mean IoU of a
confusion matrix (classes absent from truth and prediction left out, the ignore index skipped), so they differ
only in what they score: the epoch's augmented training batches, or the validation split after the epoch."""

from __future__ import annotations

import keras
import numpy as np

from seg_desktop.core.metrics import confusion_matrix, scores
from seg_desktop.ml.losses import training_mean_iou, validation_scores

K, IGNORE = 4, 255


def batches(seed: int = 0):
    """Three batches of labels and probabilities; class 3 never occurs, some pixels are void (255)."""
    rng = np.random.default_rng(seed)
    for _ in range(3):
        truth = rng.integers(0, 3, (2, 8, 8)).astype(np.int32)
        truth[:, :2, :2] = IGNORE
        probs = rng.random((2, 8, 8, K)).astype(np.float32)
        probs[..., 3] = 0.0  # never predicted either: its IoU is 0/0 and must not count
        yield truth, probs / probs.sum(-1, keepdims=True)


def test_training_and_validation_mean_iou_are_the_same_definition():
    metric = keras.metrics.MeanIoU(K, ignore_class=IGNORE, sparse_y_pred=False)
    cm = np.zeros((K, K), np.int64)
    all_truth, all_probs = [], []
    for truth, probs in batches():
        metric.update_state(truth, probs)
        cm += confusion_matrix(truth, probs.argmax(-1), K, IGNORE)
        all_truth.append(truth)
        all_probs.append(probs)
    expected = scores(cm)["mean_iou"]
    assert np.isnan(scores(cm)["iou"][3])  # the absent class is left out of the mean
    assert training_mean_iou(metric) == expected  # exactly: the same matrix, the same few lines
    val = validation_scores(np.concatenate(all_truth), np.concatenate(all_probs), IGNORE)
    assert val["mean_iou"] == expected
    assert abs(float(metric.result()) - expected) < 1e-5  # Keras' own number only adds an epsilon
