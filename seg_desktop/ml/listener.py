"""The plain interface through which the training engine reports to its caller (GUI worker, CLI, tests), and the
one record of a finished epoch that travels from the engine to the plot.

A class of no-op methods rather than Qt signals or Keras callbacks, so the engine knows nothing about who is
listening: the CLI prints, the GUI worker turns the calls into signals, a test records them. Override what you need.
TensorFlow-free, so the GUI and the CLI can receive what the training child sends.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class EpochRecord:
    """One finished epoch: a history.csv row, the listener's on_epoch_end argument, the worker's epochDone
    payload and a point of each curve, unchanged on the way (docs/ARCHITECTURE.md, "An epoch's path").

    mean_iou is the training batches' confusion matrix of the epoch and val_mean_iou the validation split's after
    the epoch, both scored by core.metrics; the val_ columns are None when there is no validation split.
    """

    epoch: int  # 1-based, counting a resumed run's earlier epochs
    loss: float
    mean_iou: float
    val_loss: float | None = None
    val_mean_iou: float | None = None
    val_dice: float | None = None
    lr: float | None = None
    seconds: float | None = None

    def row(self) -> dict[str, Any]:
        """The history.csv row (column -> value)."""
        return asdict(self)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> "EpochRecord":
        """A history.csv row, as ml.runs.read_history or csv.DictReader gives it: a missing, empty or unreadable
        cell is None (NaN for the training columns, which every epoch has)."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            try:
                value = float(row.get(f.name))
            except (TypeError, ValueError):
                value = math.nan if f.name in ("loss", "mean_iou") else None
            values[f.name] = value
        epoch = values["epoch"]
        values["epoch"] = int(epoch) if epoch is not None and math.isfinite(epoch) else 0
        return cls(**values)


HISTORY_COLUMNS: list[str] = [f.name for f in fields(EpochRecord)]


class TrainListener:
    """Receives training progress; every method is a no-op so callers override only what they use."""

    def on_train_begin(self, info: dict) -> None:
        """info: run_dir, epochs (the last epoch number), steps_per_epoch, num_train, num_val, initial_epoch,
        config (dict), problems (sentences about files that were skipped)."""

    def on_batch_end(self, step: int, logs: dict) -> None:
        """step: 0-based within the epoch; logs["loss"] is the running mean training loss of the epoch."""

    def on_epoch_end(self, record: EpochRecord) -> None:
        """record: the epoch just finished, already appended to history.csv."""

    def on_train_end(self, run: Any) -> None:
        """run: the finished `seg_desktop.ml.train.Run` (also after a stop)."""

    def on_error(self, message: str) -> None:
        """message: one clear sentence, sent just before train() raises."""
