"""Training losses that honour the ignore (void) index, class weights, and validation scores.

Losses take `y_true` as integer class maps (B, H, W) and `y_pred` as softmax probabilities (B, H, W, K), which is
what every seg-desktop model outputs. Pixels whose label is the ignore index (or any value >= K) contribute
nothing: they are masked out of numerator and denominator alike, so a mostly-void image does not dilute the loss.
Training and validation mean IoU both come from `seg_desktop.core.metrics` (one definition), so the GUI, the CLI
and metrics.json agree to the digit.

For thin and rare classes (poles, signs, cell boundaries): focal loss (Lin 2017) and Lovász-softmax (Berman 2018),
and tempered class weights. Plain median-frequency weights lowered held-out street-scene test mean IoU from 0.440
to 0.406 (rare classes up, large ones down, issue 16), so "sqrt-median" and ENet's 1/ln(1.02 + p) (Paszke 2016)
damp them and every tempered weight is clipped at MAX_CLASS_WEIGHT times the median class's.
"""

from __future__ import annotations

from collections.abc import Iterable

import keras
import numpy as np
import tensorflow as tf

from ..core.health import median_frequency_weights
from ..core.metrics import confusion_matrix, scores
from .config import CLASS_WEIGHTS, LOSSES
from .inputs import class_counts

_PACKAGE = "seg_desktop"
_EPS = 1e-7
FOCAL_GAMMA = 2.0  # Lin et al. 2017's choice: a pixel predicted at p = 0.9 counts 100x less than in cross-entropy
ENET_C = 1.02  # ENet's constant: 1/ln(1.02 + p) is bounded by 1/ln(1.02) = 50.5 as p -> 0
# Tempered weights are at most this many times the median class's. With the weighted mean of masked_cross_entropy
# a pixel of weight 10 counts as ten median-class pixels: sqrt-median reaches it only for a class 100x rarer than
# the median (a few annotated pixels in the whole set), whose handful of pixels would otherwise steer every batch
# they appear in, the failure median weights showed on street scenes (large classes down).
MAX_CLASS_WEIGHT = 10.0


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
    return _weighted_mean(ce, onehot, valid, class_weights)


def _weighted_mean(per_pixel: tf.Tensor, onehot: tf.Tensor, valid: tf.Tensor,
                   class_weights: np.ndarray | None) -> tf.Tensor:
    weight = valid if class_weights is None else tf.reduce_sum(onehot * tf.constant(class_weights, tf.float32), -1)
    return tf.math.divide_no_nan(tf.reduce_sum(per_pixel * weight), tf.reduce_sum(weight))


def focal_loss(y_true: tf.Tensor, y_pred: tf.Tensor, class_weights: np.ndarray | None = None,
               gamma: float = FOCAL_GAMMA) -> tf.Tensor:
    """Focal loss (Lin 2017): cross-entropy times (1 - p_true)^gamma, so pixels the model already gets right (most of
    a large class) fade and the hard ones (thin structures, borders) carry the gradient. Averaged as
    masked_cross_entropy (ignore pixels out, the same class weighting); gamma 0 is cross-entropy exactly."""
    y_pred = tf.cast(y_pred, tf.float32)
    onehot, valid = _valid_onehot(y_true, y_pred.shape[-1])
    ce = -tf.reduce_sum(onehot * tf.math.log(tf.clip_by_value(y_pred, _EPS, 1.0)), axis=-1)
    if gamma:  # pow's gradient at 0 with exponent 0 is NaN; gamma 0 needs no factor anyway
        ce = tf.pow(1.0 - tf.exp(-ce), gamma) * ce
    return _weighted_mean(ce, onehot, valid, class_weights)


def lovasz_softmax_loss(y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
    """Lovász-softmax (Berman 2018): the convex Lovász extension of 1 - IoU per class, averaged over the classes
    present in the batch's labels, so it optimises mean IoU directly and a class of a few pixels weighs as much as
    road. Computed over the whole batch (its "per_image=False"); ignore pixels are removed before sorting.
    For crisp (one-hot) predictions it equals the mean of 1 - IoU over the present classes."""
    y_pred = tf.cast(y_pred, tf.float32)
    k = y_pred.shape[-1]
    onehot, valid = _valid_onehot(y_true, k)
    keep = tf.reshape(valid, [-1]) > 0
    fg = tf.transpose(tf.boolean_mask(tf.reshape(onehot, [-1, k]), keep))  # (K, P) over labelled pixels
    probs = tf.transpose(tf.boolean_mask(tf.reshape(y_pred, [-1, k]), keep))
    errors = tf.abs(fg - probs)
    order = tf.argsort(errors, axis=-1, direction="DESCENDING")
    errors = tf.gather(errors, order, batch_dims=1)
    fg = tf.gather(fg, order, batch_dims=1)
    # the Lovász gradient of the Jaccard loss at the sorted errors (a constant: the sort is piecewise fixed)
    total = tf.reduce_sum(fg, -1, keepdims=True)
    intersection = total - tf.cumsum(fg, -1)
    union = total + tf.cumsum(1.0 - fg, -1)
    jaccard = 1.0 - intersection / union  # union >= 1 at every position
    grad = tf.stop_gradient(tf.concat([jaccard[:, :1], jaccard[:, 1:] - jaccard[:, :-1]], -1))
    per_class = tf.reduce_sum(errors * grad, -1)
    present = tf.cast(total[:, 0] > 0, tf.float32)
    return tf.math.divide_no_nan(tf.reduce_sum(per_class * present), tf.reduce_sum(present))


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
    """One of config.LOSSES as one Keras loss: 'ce', 'focal', 'dice', 'lovasz' or a '+' sum of two, registered so a
    compiled model saves cleanly. Class weights apply to the cross-entropy and focal terms; Dice and Lovász
    average over classes already."""

    def __init__(self, kind: str = "ce+dice", class_weights: list[float] | None = None,
                 name: str = "segmentation_loss", **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        if kind not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, not {kind!r}.")
        self.kind = kind
        self.class_weights = None if class_weights is None else [float(w) for w in class_weights]
        self._weights = None if class_weights is None else np.asarray(class_weights, np.float32)

    def call(self, y_true: tf.Tensor, y_pred: tf.Tensor) -> tf.Tensor:
        terms = {"ce": lambda: masked_cross_entropy(y_true, y_pred, self._weights),
                 "focal": lambda: focal_loss(y_true, y_pred, self._weights),
                 "dice": lambda: soft_dice_loss(y_true, y_pred),
                 "lovasz": lambda: lovasz_softmax_loss(y_true, y_pred)}
        loss = tf.constant(0.0)
        for part in self.kind.split("+"):
            loss += terms[part]()
        # Under a tf.distribute strategy each replica's gradients are summed, so a replica's loss must be its
        # share of the global mean. Keras scales only the losses it reduces itself; this one is a scalar already
        # (measured: without this, two workers logged and stepped on twice the loss of one).
        replica = tf.distribute.get_replica_context()
        if replica is not None and replica.num_replicas_in_sync > 1:
            loss = loss / float(replica.num_replicas_in_sync)
        return loss

    def get_config(self) -> dict:
        return {**super().get_config(), "kind": self.kind, "class_weights": self.class_weights}


def class_weights(scheme: str, class_pixels: np.ndarray, image_pixels: np.ndarray) -> np.ndarray | None:
    """Per-class loss weights of config.CLASS_WEIGHTS `scheme` from training pixel counts per class and the pixels
    of the images containing each class (`inputs.class_counts`); None for "none". Absent classes get 0.

    "median": median frequency (core.health's definition, unclipped as runs have always used it). "sqrt-median":
    its square root. "enet": 1/ln(1.02 + p) with p the class's share of all pixels (Paszke 2016), divided by the
    median present class's. The tempered two are clipped at MAX_CLASS_WEIGHT.
    """
    if scheme == "none":
        return None
    median = median_frequency_weights(class_pixels, image_pixels)
    if scheme == "median":
        return median.astype(np.float32)
    if scheme == "sqrt-median":
        weights = np.sqrt(median)
    elif scheme == "enet":
        present = np.asarray(class_pixels) > 0
        share = np.asarray(class_pixels, np.float64) / max(1, int(np.sum(class_pixels)))
        weights = np.where(present, 1.0 / np.log(ENET_C + share), 0.0)
        if present.any():
            weights = weights / np.median(weights[present])
    else:
        raise ValueError(f"class weights must be one of {', '.join(CLASS_WEIGHTS)}, not {scheme!r}.")
    return np.minimum(weights, MAX_CLASS_WEIGHT).astype(np.float32)


def class_weights_from_masks(masks: Iterable[np.ndarray], num_classes: int,
                             scheme: str = "median") -> np.ndarray | None:
    """class_weights of `scheme` from the training masks (N, H, W) at training size."""
    return class_weights(scheme, *class_counts(masks, num_classes))


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
