"""The child-process relay (seg_desktop.ml.remote) with small real functions run in real 'spawn' children.

The functions below are module-level so the child can import them; each plays the part of `train()`: it calls
the listener, honours `stop`, returns, raises, or dies.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from seg_desktop.core.errors import DatasetError
from seg_desktop.ml.remote import ChildProcessFailed, ChildRunner


class Recorder:
    """A listener that keeps every call, like the GUI worker does before turning them into signals."""

    def __init__(self) -> None:
        self.calls: list[tuple] = []
        self.first_batch = threading.Event()

    def on_train_begin(self, info):
        self.calls.append(("begin", info))

    def on_batch_end(self, step, logs):
        self.calls.append(("batch", step, logs))
        self.first_batch.set()

    def on_epoch_end(self, epoch, logs):
        self.calls.append(("epoch", epoch, logs))

    def on_error(self, message):
        self.calls.append(("error", message))


def fake_train(epochs, listener=None, stop=None):
    listener.on_train_begin({"epochs": epochs, "steps_per_epoch": 2})
    for epoch in range(epochs):
        for step in range(2):
            listener.on_batch_end(step, {"loss": 1.0 / (epoch + step + 1)})
        listener.on_epoch_end(epoch, {"epoch": epoch + 1, "loss": 0.5})
    return {"pid": os.getpid(), "nice": os.nice(0)}


def train_until_stopped(listener=None, stop=None):
    step = 0
    while not stop.is_set():
        listener.on_batch_end(step, {"loss": 1.0})
        step += 1
        time.sleep(0.01)
    return step


def raise_dataset_error(listener=None, stop=None):
    listener.on_error("masks/a.png is 10x10 but its image is 20x20; fix the mask.")
    raise DatasetError("masks/a.png is 10x10 but its image is 20x20; fix the mask.", "masks/a.png")


def raise_bug(listener=None, stop=None):
    raise RuntimeError("something unexpected")


def die(listener=None, stop=None):
    listener.on_batch_end(0, {"loss": 1.0})
    os.kill(os.getpid(), signal.SIGKILL)


def sleep_forever(listener=None, stop=None):
    listener.on_batch_end(0, {"loss": 1.0})
    time.sleep(60)


def test_listener_calls_arrive_in_order_and_result_returns():
    rec = Recorder()
    result = ChildRunner(fake_train, 2).run(rec, threading.Event())
    kinds = [c[0] for c in rec.calls]
    assert kinds == ["begin", "batch", "batch", "epoch", "batch", "batch", "epoch"]
    assert rec.calls[0][1] == {"epochs": 2, "steps_per_epoch": 2}
    assert rec.calls[-1] == ("epoch", 1, {"epoch": 2, "loss": 0.5})
    assert result["pid"] != os.getpid()  # it really ran elsewhere
    assert result["nice"] > os.nice(0)  # and at a lower priority than the window


def test_stop_is_forwarded_to_the_child():
    rec, stop = Recorder(), threading.Event()
    threading.Timer(0.3, stop.set).start()
    t0 = time.monotonic()
    steps = ChildRunner(train_until_stopped).run(rec, stop)
    assert steps >= 1 and time.monotonic() - t0 < 10


def test_dataset_error_comes_back_as_itself_and_is_reported_once():
    rec = Recorder()
    with pytest.raises(DatasetError, match="masks/a.png is 10x10") as info:
        ChildRunner(raise_dataset_error).run(rec)
    assert str(info.value.path) == "masks/a.png"
    assert [c for c in rec.calls if c[0] == "error"] == [("error", str(info.value))]


def test_unexpected_exception_becomes_one_message():
    rec = Recorder()
    with pytest.raises(ChildProcessFailed, match="RuntimeError: something unexpected") as info:
        ChildRunner(raise_bug).run(rec)
    assert info.value.kind == "RuntimeError"
    assert rec.calls == [("error", str(info.value))]


def test_child_killed_by_the_system_is_reported_not_fatal():
    rec = Recorder()
    with pytest.raises(ChildProcessFailed, match="killed \\(SIGKILL\\).*out of memory") as info:
        ChildRunner(die).run(rec)
    assert info.value.kind == "died"
    assert [c[0] for c in rec.calls] == ["batch", "error"]


def test_kill_from_another_thread_ends_a_stuck_child():
    rec = Recorder()
    runner = ChildRunner(sleep_forever)
    threading.Thread(target=lambda: (rec.first_batch.wait(20), runner.kill()), daemon=True).start()
    t0 = time.monotonic()
    with pytest.raises(ChildProcessFailed, match="ended before it could stop"):
        runner.run(rec)
    assert time.monotonic() - t0 < 15


def test_module_imports_neither_tensorflow_nor_qt():
    code = ("import sys, seg_desktop.ml.remote; "
            "bad = [m for m in ('tensorflow', 'keras', 'PySide6') if m in sys.modules]; print(bad); sys.exit(bool(bad))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
