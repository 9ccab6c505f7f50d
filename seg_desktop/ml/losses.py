"""Training losses that honour the ignore (void) index, class weights, and validation scores.

Losses take `y_true` as integer class maps (B, H, W) and `y_pred` as softmax probabilities (B, H, W, K), which is
what every seg-desktop model outputs. Pixels whose label is the ignore index (or any value >= K) contribute
nothing: they are masked out of numerator and denominator alike, so a mostly-void image does not dilute the loss.
Training and validation mean IoU both come from `seg_desktop.core.metrics` (one definition), so the GUI, the CLI
and metrics.json agree to the digit.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from ..core.health import median_frequency_weights
from ..core.metrics import confusion_matrix, scores
from .config import LOSSES

_PACKAGE = "seg_desktop"
_EPS = 1e-7


def _valid_onehot(y_true: tf.Tensor, num_classes: int) -> tuple[tf.Tensor, tf.Tensor]:
    """(one-hot (B,H,W,K) float, valid (B,H,W) float): labels outside 0..K-1 (the ignore index) are invalid and
    get an all-zero one-hot row."""
    labels = tf.cast(y_true, tf.int32)
    if labels.shape.rank == 4:
        labels = tf.squeeze(labels, -1)
    valid = tf.logical_and(labels >= 0, labels < num_classes)
    onehot = tf.one_hot(tf.where(valid, labels, 0), num_classes) * tf.cast(valid, tf.float32)[..., None]
    return onehot, tf.cast(valid, tf.float32)


def masked_cross_entropy(y_true: tf.Tensor, y_pred: tf.Tensor, class_weights: np.ndarray | None = None) -> tf.Tensor:
    """Sparse categorical cross-entropy averaged over the labelled pixels, weighted per class if asked.

    With weights it is sum(w[y] * CE) / sum(w[y]) over valid pixels (as PyTorch's weighted CE), so the loss scale
    does not change with the weights and an all-rare batch is not blown up.
    """
    y_pred = tf.cast(y_pred, tf.float32)
    onehot, valid = _valid_onehot(y_true, y_pred.shape[-1])
    ce = -tf.reduce_sum(onehot * tf.math.log(tf.clip_by_value(y_pred, _EPS, 1.0)), axis=-1)
    weight = valid if class_weights is None else tf.reduce_sum(onehot * tf.constant(class_weights, tf.float32), -1)
    return tf.math.divide_no_nan(tf.reduce_sum(ce * weight), tf.reduce_sum(weight))


def soft_dice_loss(y_true: tf.Tensor, y_pred: tf.Tensor, smooth: float = 1.0) -> tf.Tensor:
    """1 - mean over classes of the soft Dice of the batch (Milletari 2016), ignore pixels left out.

    Computed over the whole batch per class, so small objects in one image still count; `smooth` keeps a class
    absent from both prediction and truth at Dice 1 instead of 0/0.
    """
    y_pred = tf.cast(y_pred, tf.float32)
    onehot, valid = _valid_onehot(y_true, y_pred.shape[-1])
    probs = y_pred * valid[..., None]
    axes = [0, 1, 2]
    intersection = tf.reduce_sum(probs * onehot, axes)
    total = tf.reduce_sum(probs, axes) + tf.reduce_sum(onehot, axes)
    dice = (2.0 * intersection + smooth) / (total + smooth)
    return 1.0 - tf.reduce_mean(dice)


@keras.saving.register_keras_serializable(package=_PACKAGE)
class SegmentationLoss(keras.losses.Loss):
    """'ce', 'dice' or 'ce+dice' (their sum) as one Keras loss, registered so a compiled model saves cleanly."""

    def __init__(self, kind: str = "ce+dice", class_weights: list[float] | None = None,
                 name: str = "segmentation_loss", **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        if kind not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, not {kind!r}.")
        self.kind = kind
        self.class_weights = None if class_weights is None else [float(w) for w in class_weights]
        self._weights = None if class_weights is None else np.asarray(class_weights, np.float32)

    def call(self, y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        loss = tf.constant(0.0)
        if self.kind in ("ce", "ce+dice"):
            loss += masked_cross_entropy(y_true, y_pred, self._weights)
        if self.kind in ("dice", "ce+dice"):
            loss += soft_dice_loss(y_true, y_pred)
        # Under a tf.distribute strategy each replica's gradients are summed, so a replica's loss must be its
        # share of the global mean. Keras scales only the losses it reduces itself; this one is a scalar already
        # (measured: without this, two workers logged and stepped on twice the loss of one).
        replica = tf.distribute.get_replica_context()
        if replica is not None and replica.num_replicas_in_sync > 1:
            loss = loss / float(replica.num_replicas_in_sync)
        return loss

    def get_config(self) -> dict:
        return {**super().get_config(), "kind": self.kind, "class_weights": self.class_weights}


def class_weights_from_masks(masks: np.ndarray, num_classes: int) -> np.ndarray:
    """Median-frequency weights (core.health's definition) from the training masks (N, H, W) at training size."""
    class_pixels = np.zeros(num_classes, np.int64)
    image_pixels = np.zeros(num_classes, np.int64)
    for mask in masks:
        counts = np.bincount(mask.ravel(), minlength=256)[:num_classes].astype(np.int64)
        class_pixels += counts
        image_pixels += np.where(counts > 0, counts.sum(), 0)
    return median_frequency_weights(class_pixels, image_pixels).astype(np.float32)


def validation_scores(masks: np.ndarray, probs: np.ndarray, ignore_index: int | None) -> dict:
    """core.metrics scores (mean_iou, mean_dice, per-class, confusion matrix) of predicted probabilities."""
    k = probs.shape[-1]
    cm = confusion_matrix(masks, probs.argmax(-1), k, ignore_index)
    return scores(cm)


def training_mean_iou(metric: keras.metrics.MeanIoU) -> float:
    """core.metrics' mean IoU of the confusion matrix a Keras MeanIoU summed over an epoch's training batches:
    the same definition as validation_scores (Keras' own result() adds an epsilon to every ratio)."""
    cm = np.rint(keras.ops.convert_to_numpy(metric.total_cm)).astype(np.int64)
    return scores(cm)["mean_iou"]
