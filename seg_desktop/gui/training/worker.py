"""The training worker: a QObject moved to a QThread that drives `ml.train.train` and turns its listener calls into
Qt signals, so the GUI thread never calls TensorFlow (and, in the default child-process mode, never imports it).

Two modes, same engine and same listener:
- in_child=True (the default, chosen by measurement, see tests/benchmarks/bench_responsiveness.py): the thread
  relays a 'spawn' child process (seg_desktop.ml.remote) that runs train(); an out-of-memory kill or a crash ends
  only the child, GPU memory is released after every run, and the window keeps its CPU share. Measured on 2
  cores (UNet base 16, 96 px, 2 epochs): a 10 ms GUI timer's longest gap 55-125 ms, p99 11-13 ms in a child
  vs 263-272 ms, p99 22-39 ms in a thread (three sessions); an out-of-memory fit killed the whole process
  (SIGSEGV) in a thread and only the child otherwise.
- in_child=False: train() runs in this thread of the GUI process (no start-up cost; for debugging).
"""

from __future__ import annotations

import threading
import traceback

from PySide6.QtCore import QObject, Signal, Slot

from ...ml.config import TrainConfig
from ...ml.errors import USER_ERRORS, user_message
from ...ml.listener import EpochRecord, TrainListener
from ...ml.remote import ChildRunner, training_runner


class _SignalListener(TrainListener):
    """Emits the worker's signals for the engine's calls (made in the worker thread; queued to the GUI)."""

    def __init__(self, worker: "TrainingWorker") -> None:
        self._worker = worker
        self._epoch = 0
        self._steps = 0

    def on_train_begin(self, info: dict) -> None:
        self._epoch = int(info.get("initial_epoch", 0) or 0)
        self._steps = int(info.get("steps_per_epoch", 0) or 0)
        self._worker.run_dir = str(info.get("run_dir") or "")
        self._worker.began.emit(dict(info))

    def on_batch_end(self, step: int, logs: dict) -> None:
        self._worker.batchDone.emit(self._epoch, int(step), self._steps, float(logs.get("loss", float("nan"))))

    def on_epoch_end(self, record: EpochRecord) -> None:
        self._epoch = record.epoch  # 1-based: the 0-based number of the next epoch
        self._worker.epochDone.emit(record)

    # on_train_end / on_error stay no-ops: `finished` and `failed` are emitted once train() returns or raises.


class TrainingWorker(QObject):
    """One training run. Create it, moveToThread(thread), connect thread.started to run(); `done` ends the thread.

    request_stop() and kill() may be called from the GUI thread while run() executes in the worker thread.
    """

    began = Signal(dict)  # on_train_begin info: run_dir, epochs, steps_per_epoch, initial_epoch, ...
    batchDone = Signal(int, int, int, float)  # epoch (0-based), step (0-based), steps per epoch, loss
    epochDone = Signal(object)  # the EpochRecord, as the engine made it
    finished = Signal(str, bool)  # run folder ("" when stopped before it began), stopped early
    failed = Signal(str)  # one clear sentence
    done = Signal()  # after finished or failed

    def __init__(self, config: TrainConfig, in_child: bool = True) -> None:
        super().__init__()
        self.config = config
        self.in_child = in_child
        self._stop = threading.Event()
        self._killed = False
        self.run_dir = ""  # known once the engine has begun (on_train_begin)
        self._runner: ChildRunner | None = training_runner(config) if in_child else None

    def request_stop(self) -> None:
        """Ask the engine to stop after the current batch; it still saves the best checkpoint and history."""
        self._stop.set()

    def kill(self) -> None:
        """End a child-process run at once (when a stop did not finish in time). No effect in thread mode."""
        self._stop.set()
        if self._runner is not None:
            self._killed = True
            self._runner.kill()

    @Slot()
    def run(self) -> None:
        listener = _SignalListener(self)
        try:
            if self._runner is not None:
                run = self._runner.run(listener, self._stop)
            else:
                from ...ml.train import train  # TensorFlow loads here, in the worker thread

                run = train(self.config, listener=listener, stop=self._stop)
        except Exception as exc:  # every failure reaches the panel as one sentence, never a traceback dialog
            if self._killed:  # a Stop that did not finish in time: checkpoints are atomic, the best one stays
                self.finished.emit(self.run_dir, True)
                return
            if not isinstance(exc, USER_ERRORS):
                traceback.print_exc()  # a bug: keep the details for the terminal
            self.failed.emit(user_message(exc))
        else:
            self.finished.emit(str(run.folder), bool(run.stopped))
        finally:
            self.done.emit()
