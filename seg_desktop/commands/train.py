"""`seg-desktop train`: the options become a TrainConfig, the engine runs in a child process, one progress line
per epoch, Ctrl+C stops after the current batch (docs/ARCHITECTURE.md)."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from typing import TYPE_CHECKING

from ..core.safeio import require_folder

if TYPE_CHECKING:
    from ..ml.config import TrainConfig


def train_config(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig the `train` options describe (not validated yet)."""
    from ..ml.config import SETTING, TrainConfig, setting_fields

    values = {f.name: getattr(args, f.name) for f in setting_fields() if f.metadata[SETTING].flag}
    return TrainConfig.from_settings(str(args.data), values)


@contextlib.contextmanager
def _ctrl_c_stops(stop, runner):
    """While training, the first Ctrl+C asks the engine to stop after the current batch (it keeps its
    checkpoints and history) and a second ends the child at once; without this, KeyboardInterrupt would unwind
    the parent and leave the child to be killed mid-epoch. Signal handlers exist only in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame) -> None:
        if stop.is_set():
            runner.kill()
            return
        stop.set()
        print("seg-desktop: stopping after this batch (Ctrl+C again to stop at once).", file=sys.stderr,
              flush=True)

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def run_train(args: argparse.Namespace) -> int:
    """Train with a progress line per epoch. Bad input of any kind is one sentence on stderr and exit 1, and so
    is running out of memory: the engine runs in a child process (as in the GUI), so even a TensorFlow abort
    or the kernel's OOM killer ends only the child. Set SEG_DESKTOP_MEMORY_LIMIT_GB=N to cap the training
    process at N GB beyond TensorFlow's start-up, so a run too big for the machine fails cleanly instead of
    swapping it to a halt. Ctrl+C stops after the current batch keeping the checkpoints (exit 130)."""
    try:
        config = train_config(args)
        config.validate()
    except ValueError as exc:
        print(f"seg-desktop: {exc}", file=sys.stderr)
        return 1
    require_folder(args.data, "dataset folder that holds the images")  # before the child loads TensorFlow
    from ..ml.errors import TrainingError
    from ..ml.listener import EpochRecord, TrainListener
    from ..ml.remote import training_runner

    class _Printer(TrainListener):
        def on_train_begin(self, info: dict) -> None:
            self.epochs, self.chief = info["epochs"], info.get("chief", True)
            self.of = "" if info.get("minutes") else f"/{self.epochs}"  # a time budget's epoch count is a bound
            for problem in info.get("problems", []):
                print(f"warning: {problem}", file=sys.stderr)
            folder = info["run_dir"] if self.chief else "written by the chief"
            print(f"training {config.model} on {info['num_train']} images, validating on {info['num_val']}; "
                  f"run folder {folder}", flush=True)
            print(f"{info.get('strategy', 'training')}; {info['steps_per_epoch']} steps per epoch", flush=True)
            if info.get("input"):
                print(f"input: {info['input']}", flush=True)

        def on_epoch_end(self, record: EpochRecord) -> None:
            val = "" if record.val_loss is None else \
                f"  val_loss {record.val_loss:.3f}  val_mIoU {record.val_mean_iou:.2f}"
            print(f"epoch {record.epoch}{self.of}  loss {record.loss:.3f}  mIoU {record.mean_iou:.2f}"
                  f"{val}  {record.seconds:.1f}s", flush=True)

    stop = threading.Event()
    runner, printer = training_runner(config), _Printer()
    try:
        with _ctrl_c_stops(stop, runner):
            run = runner.run(printer, stop)
    except (TrainingError, ValueError) as exc:
        print(f"seg-desktop: {exc}", file=sys.stderr)
        return 130 if stop.is_set() else 1
    best = "" if run.best_val_mean_iou is None else f" (best val mIoU {run.best_val_mean_iou:.3f})"
    folder = run.folder if getattr(printer, "chief", True) else "the chief wrote the run folder"
    print(f"{'stopped' if run.stopped else 'finished'}{best}: {folder}")
    return 130 if run.stopped else 0
