"""The plain interface through which the training engine reports to its caller (GUI worker, CLI, tests).

A class of no-op methods rather than Qt signals or Keras callbacks, so the engine knows nothing about who is
listening: the CLI prints, the GUI worker turns the calls into signals, a test records them. Override what you need.
"""

from __future__ import annotations

from typing import Any


class TrainListener:
    """Receives training progress; every method is a no-op so callers override only what they use."""

    def on_train_begin(self, info: dict) -> None:
        """info: run_dir, epochs (the last epoch number), steps_per_epoch, num_train, num_val, initial_epoch,
        config (dict), problems (sentences about files that were skipped)."""

    def on_batch_end(self, step: int, logs: dict) -> None:
        """step: 0-based within the epoch; logs["loss"] is the running mean training loss of the epoch."""

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        """epoch: 0-based; logs: the history.csv row just written (epoch is 1-based there)."""

    def on_train_end(self, run: Any) -> None:
        """run: the finished `seg_desktop.ml.train.Run` (also after a stop)."""

    def on_error(self, message: str) -> None:
        """message: one clear sentence, sent just before train() raises."""
