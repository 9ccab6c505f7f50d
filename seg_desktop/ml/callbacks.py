"""The Keras callbacks of a training run (ml/train.py builds them): `Progress` reports each batch and honours the
stop flag within one batch; `EpochRecorder` scores the epoch (validation with core.metrics, the one IoU definition),
saves last.keras/best.keras atomically and appends the EpochRecord to history.csv before telling the listener.
`State` is what they learn during fit() and train() reads afterwards.
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from ..core.atomic import fsync_dir  # noqa: E402
from ..core.metrics import confusion_matrix, scores  # noqa: E402
from .config import TrainConfig  # noqa: E402
from .data import validation_batches  # noqa: E402
from .inputs import Inputs  # noqa: E402
from .listener import EpochRecord, TrainListener  # noqa: E402
from .losses import SegmentationLoss, training_mean_iou  # noqa: E402
from .runs import append_history  # noqa: E402


@dataclass
class State:
    """What the callbacks learn during fit() and train() needs afterwards."""

    stopped: bool = False
    diverged_epoch: int | None = None
    best: float = -math.inf
    epoch_start: float = 0.0
    batches: int = 0  # batches of this run that ended before any stop
    unstarted: bool = False  # stopped before the first batch ended: no epoch is recorded


def _temporary(path: Path) -> Path:
    """Where `path` is written before it is renamed into place: beside it (the rename never crosses file
    systems), hidden, and one fixed name per checkpoint so a kill leaves at most one stale file, removed by
    remove_stale_temporaries or overwritten by the next save."""
    return path.with_name(f".{path.stem}.tmp.keras")


def save_atomically(model: keras.Model, path: Path) -> None:
    """model.save to a temporary file, fsync, rename, fsync the folder (as core.atomic does for bytes, which
    would hold a whole checkpoint in memory): a kill or power loss leaves the old checkpoint or the new one,
    never half of one, and a failed save (out of memory, disk full) leaves no temporary file behind."""
    tmp = _temporary(path)
    try:
        model.save(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def remove_stale_temporaries(run_dir: Path) -> None:
    """Temporary checkpoints a killed run left behind (a kill during model.save); the real ones are intact."""
    for name in ("last.keras", "best.keras"):
        _temporary(run_dir / name).unlink(missing_ok=True)


class Progress(keras.callbacks.Callback):
    """Per batch: report the loss, notice divergence (NaN/inf) and the stop flag, and end fit() after this batch."""

    def __init__(self, listener: TrainListener, stop, state: State) -> None:
        super().__init__()
        self.listener, self.stop, self.state = listener, stop, state
        self.epoch = 0

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch
        self.state.epoch_start = time.perf_counter()

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        loss = float((logs or {}).get("loss", float("nan")))
        if not math.isfinite(loss):
            self.state.diverged_epoch = self.epoch + 1
            self.model.stop_training = True
            return
        if self.stop is not None and self.stop.is_set() and not self.state.batches:
            # asked to stop before the run's first batch ended (Ctrl+C during start-up): no epoch to record
            self.state.stopped = self.state.unstarted = True
            self.model.stop_training = True
            return
        self.state.batches += 1
        self.listener.on_batch_end(batch, {"loss": loss})
        if self.stop is not None and self.stop.is_set():
            self.state.stopped = True
            self.model.stop_training = True


class EpochRecorder(keras.callbacks.Callback):
    """Per epoch: validation scores into the logs (for early stopping and LR schedule), last.keras, best.keras
    when the monitored mean IoU improved, then a history.csv row, then the listener's on_epoch_end.

    Validation predicts the validation views batch by batch (`data.validation_batches`: whole resized images, or
    full-resolution tiles in crop mode) and sums the loss and one confusion matrix (core.metrics) from the same
    probabilities, so a streamed validation split is never held whole. The training mean IoU is core.metrics'
    too, of the confusion matrix the MeanIoU metric summed over the epoch's (augmented) batches while the
    weights changed. An epoch that diverged writes
    nothing, so the last good checkpoint survives.
    """

    def __init__(self, run_dir: Path, inputs: Inputs, loss: SegmentationLoss, train_iou: keras.metrics.MeanIoU,
                 config: TrainConfig, listener: TrainListener, state: State, history: list[dict], monitor: str,
                 chief: bool, save=save_atomically) -> None:
        super().__init__()
        self.save = save  # (model, path): save_atomically, or ml.precision.Float32Saver around it
        self.run_dir, self.inputs, self.loss, self.train_iou, self.config = run_dir, inputs, loss, train_iou, config
        self._forward = None  # the model's inference call, traced on first use
        self.listener, self.state, self.history, self.monitor, self.chief = listener, state, history, monitor, chief

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        logs = logs if logs is not None else {}
        if self.state.diverged_epoch is not None or self.state.unstarted:
            logs[self.monitor] = float("nan")  # no score: early stopping and the LR schedule just wait
            return
        val_loss = val_iou = val_dice = None
        scored = self._validate() if len(self.inputs.val) else None
        if scored is not None:
            val_loss, s = scored
            if not math.isfinite(val_loss):
                self.state.diverged_epoch = epoch + 1
                self.model.stop_training = True
                logs[self.monitor] = float("nan")
                return
            val_iou, val_dice = s["mean_iou"], s["mean_dice"]
            logs.update(val_loss=val_loss, val_mean_iou=val_iou, val_dice=val_dice)
        record = EpochRecord(
            epoch=epoch + 1, loss=float(logs.get("loss", float("nan"))), mean_iou=training_mean_iou(self.train_iou),
            val_loss=val_loss, val_mean_iou=val_iou, val_dice=val_dice,
            lr=float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate)),
            seconds=round(time.perf_counter() - self.state.epoch_start, 3))
        logs["mean_iou"] = record.mean_iou  # what early stopping watches when there is no validation split
        self.history.append(record.row())
        if self.chief:
            # Checkpoints first, the history row last: the row commits the epoch, so every epoch history.csv
            # lists is in last.keras (and best.keras holds the best listed score or better) and a resume that
            # numbers on from the history never repeats or skips one. A kill between the two loses only the row.
            self.save(self.model, self.run_dir / "last.keras")
            score = logs.get(self.monitor)
            if score is not None and math.isfinite(score) and score > self.state.best:
                self.state.best = float(score)
                self.save(self.model, self.run_dir / "best.keras")
            elif not (self.run_dir / "best.keras").exists():
                self.save(self.model, self.run_dir / "best.keras")
            append_history(self.run_dir, record.row())
        self.listener.on_epoch_end(record)

    def _validate(self) -> tuple[float, dict] | None:
        """(mean loss over the validation views, core.metrics scores of their summed confusion matrix), None when
        no validation file could be read. The model is called directly (one traced function, any batch size):
        each worker of a cluster scores the same views on its own, with no collective op inside a callback."""
        if self._forward is None:
            self._forward = tf.function(lambda x: self.model(x, training=False), reduce_retracing=True)
        k = self.config.num_classes
        total = np.zeros((k, k), np.int64)
        loss_sum, count = 0.0, 0
        for images, masks in validation_batches(self.inputs.val, self.inputs.scale, self.config.batch):
            probs = np.asarray(self._forward(tf.constant(images)), np.float32)
            loss_sum += float(self.loss(masks.astype(np.int32), probs)) * len(images)
            count += len(images)
            total += confusion_matrix(masks, probs.argmax(-1), k, self.config.ignore_index)
        return (loss_sum / count, scores(total)) if count else None
