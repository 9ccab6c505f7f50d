"""How a run's learning rate changes and when it ends: reduce-on-plateau with early stopping over a number of
epochs (the schedule runs had before `lr_schedule` existed), or linear warm-up then cosine decay over the epochs'
steps or over a time budget (`--minutes`). docs/ARCHITECTURE.md, "An epoch's path from fit() to the plot".

One curve, Keras' CosineDecay with warm-up, serves both cosine forms: over epochs it is the optimizer's learning
rate schedule (evaluated in the training step, on the optimizer's step count); over a time budget `TimeBudget`
evaluates it on the fraction of the budget used and sets the rate before every batch, then ends fit() when the
budget is spent. Keras 3's fit() then breaks out of the batch loop, still calls on_epoch_end for that last,
shorter epoch (EpochRecorder validates and records it like any other) and ends: a budget's end is a normal
finish (metrics.json is written, the run is not "stopped").

Early stopping is off under a cosine schedule: the rate only gets small in the last third of the curve, which is
where such a run gains the most, so a plateau in the middle says little about the end; best.keras still keeps the
best epoch. ReduceLROnPlateau would fight the curve, so it is only part of the plateau schedule.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import replace

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from .config import TrainConfig  # noqa: E402

# Warm-up: 5% of the schedule, as the large-minibatch ImageNet recipe's 5 of 90 epochs (Goyal et al. 2017): long
# enough that Adam's first, noisiest steps take small rates (a resumed or fine-tuned model is not shaken out of its
# minimum), short enough to leave 95% of the budget to learning. As a fraction rather than a fixed step count the
# curve has the same shape on a GPU and a CPU, which is what scheduling over time promises.
WARMUP_FRACTION = 0.05
# The rate starts and ends at 1% of --lr (not 0: the first batch and the last still learn something).
FLOOR = 0.01
# ReduceLROnPlateau halves the learning rate after this fraction of the early-stopping patience without progress,
# so the lower rate gets a chance before training stops.
PLATEAU_FACTOR = 0.5
PLATEAU_MIN = 1e-3  # the lowest rate it goes to, as a fraction of --lr

Rate = float | keras.optimizers.schedules.LearningRateSchedule  # what an optimizer takes as its learning rate


def resolved(config: TrainConfig) -> TrainConfig:
    """`config` with lr_schedule "auto" resolved as config.json records it: cosine over a time budget, else the
    plateau schedule (today's default for a number of epochs)."""
    if config.lr_schedule != "auto":
        return config
    return replace(config, lr_schedule="cosine" if config.minutes > 0 else "plateau")


def warmup_cosine(lr: float, steps: float) -> keras.optimizers.schedules.CosineDecay:
    """The cosine curve over `steps` (a step count, or 1.0 for a fraction of a time budget): from FLOOR x lr up to
    lr in the first WARMUP_FRACTION, then down to FLOOR x lr at `steps` (and there after)."""
    warmup = WARMUP_FRACTION * steps
    return keras.optimizers.schedules.CosineDecay(FLOOR * lr, steps - warmup, alpha=FLOOR, warmup_target=lr,
                                                  warmup_steps=warmup)


def schedule_parts(config: TrainConfig, steps_per_epoch: int, monitor: str) -> tuple[Rate,
                                                                                    list[keras.callbacks.Callback]]:
    """(the optimizer's learning rate, the callbacks that change it or end the run) for a resolved `config`."""
    callbacks: list[keras.callbacks.Callback] = []
    rate: Rate = config.lr
    if config.lr_schedule == "plateau":
        callbacks += [
            keras.callbacks.EarlyStopping(monitor=monitor, mode="max", patience=config.patience),
            keras.callbacks.ReduceLROnPlateau(monitor=monitor, mode="max", factor=PLATEAU_FACTOR,
                                              patience=max(1, config.patience // 2),
                                              min_lr=config.lr * PLATEAU_MIN),
        ]
    elif config.minutes <= 0:  # cosine over the epochs' steps, inside the training step
        rate = warmup_cosine(config.lr, config.epochs * steps_per_epoch)
    if config.minutes > 0:
        curve = warmup_cosine(config.lr, 1.0) if config.lr_schedule == "cosine" else None
        callbacks.append(TimeBudget(config.minutes * 60.0, curve))
    return rate, callbacks


class TimeBudget(keras.callbacks.Callback):
    """Ends fit() once `seconds` of wall-clock training time have passed, and with a `curve` sets the learning
    rate to curve(fraction of the budget used) before every batch.

    The clock starts when the first batch has ended: that batch is mostly TensorFlow tracing and compiling the
    training step (20 s measured for a 4-filter UNet on a loaded 2-core box), and counting it would spend a short
    budget's warm-up waiting. From there the budget counts everything inside fit(): batches, each epoch's
    validation and checkpoints, so `--minutes 60` is the hour the user waits after the first step (only the final
    metrics.json evaluation comes after it). To end on time the last epoch's validation must fit in too: the time
    between one epoch's last batch and the next epoch's first (the epoch-end work) is kept back from the budget,
    and the curve runs over the rest, so it reaches its floor as the last batch ends. `clock` is injectable so the
    schedule is tested without sleeping.
    """

    def __init__(self, seconds: float, curve: keras.optimizers.schedules.LearningRateSchedule | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.seconds, self.clock = float(seconds), clock
        # Evaluated in a tf.function: 0.27 ms a batch with the assignment, against 0.8 ms eagerly (2-core CPU).
        self._curve = None if curve is None else tf.function(curve)
        self.start: float | None = None  # when the first batch ended
        self.reserve = 0.0  # the last epoch-end work's duration, kept back for the final one
        self._last_batch_end: float | None = None

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.start, self.reserve, self._last_batch_end = None, 0.0, None

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        if self._last_batch_end is not None:
            self.reserve = min(self.clock() - self._last_batch_end, self.seconds / 2)

    def used(self, now: float | None = None) -> float:
        """The fraction of the budget's training time used (1.0: time for the last epoch-end work only)."""
        if self.start is None:
            return 0.0
        now = self.clock() if now is None else now
        return (now - self.start) / (self.seconds - self.reserve)

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        if self._curve is not None:
            self.model.optimizer.learning_rate = self._curve(tf.constant(min(self.used(), 1.0), tf.float32))

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self._last_batch_end = self.clock()
        if self.start is None:
            self.start = self._last_batch_end
        elif self.used(self._last_batch_end) >= 1.0:
            self.model.stop_training = True
