"""Run a plain function off the GUI thread and get its result, error and progress back as Qt signals.

Widgets stay thin: they hand a core/ml function to `run_in_thread` and connect slots, so opening 10,000 files,
decoding an image or a thumbnail never blocks painting. The function itself knows nothing about Qt; if it takes
a `progress` keyword, it receives a callable that forwards any value to the `progress` signal.
"""

from __future__ import annotations

import inspect
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, Qt, QThread, QThreadPool, Signal, SignalInstance


class WorkerSignals(QObject):
    """Lives in the GUI thread; emitted from the pool thread, so connected slots run queued on the GUI thread."""

    result = Signal(object)
    error = Signal(object)  # the exception instance (its traceback text is in `exc.__traceback_text__`)
    progress = Signal(object)
    finished = Signal()


class Worker(QRunnable):
    """One call of `fn(*args, **kwargs)` on a pool thread."""

    def __init__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        super().__init__()
        self.fn, self.args, self.kwargs = fn, args, kwargs
        self.signals = WorkerSignals()
        self.setAutoDelete(False)  # Python owns it; `_alive` keeps it until `finished` has been delivered
        if _accepts_progress(fn):
            self.kwargs.setdefault("progress", self.signals.progress.emit)

    def run(self) -> None:
        try:
            value = self.fn(*self.args, **self.kwargs)
        except Exception as exc:  # reported to the GUI, which shows the one-sentence message
            exc.__traceback_text__ = traceback.format_exc()  # type: ignore[attr-defined]
            self.signals.error.emit(exc)
        else:
            self.signals.result.emit(value)
        finally:
            self.signals.finished.emit()


_alive: set[Worker] = set()


def _accepts_progress(fn: Callable[..., Any]) -> bool:
    try:
        return "progress" in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def run_in_thread(fn: Callable[..., Any], *args: Any,
                  on_result: Callable[[Any], None] | None = None,
                  on_error: Callable[[BaseException], None] | None = None,
                  on_progress: Callable[[Any], None] | None = None,
                  on_finished: Callable[[], None] | None = None,
                  pool: QThreadPool | None = None, **kwargs: Any) -> Worker:
    """Start `fn(*args, **kwargs)` on `pool` (default: the global pool) and return the worker.

    The callbacks run on the GUI thread. The worker is kept alive until it has finished, so callers need not
    hold a reference.
    """
    worker = Worker(fn, *args, **kwargs)
    sig = worker.signals
    if on_result is not None:
        sig.result.connect(on_result)
    if on_error is not None:
        sig.error.connect(on_error)
    if on_progress is not None:
        sig.progress.connect(on_progress)
    if on_finished is not None:
        sig.finished.connect(on_finished)
    _alive.add(worker)
    sig.finished.connect(lambda: _alive.discard(worker))
    (pool or QThreadPool.globalInstance()).start(worker)
    return worker


def start_worker_thread(worker: QObject, done: SignalInstance, connections: dict[SignalInstance, Callable],
                        on_thread_finished: Callable[[], None], parent: QObject | None = None,
                        name: str = "") -> QThread:
    """Move a long-running QObject worker (its `run` slot does the work) to a new QThread and start it.

    `connections` maps the worker's signals to bound methods of GUI-thread objects, so they are queued to the GUI
    thread. `done` (the worker's last signal) quits the thread through a direct connection: quit() is
    thread-safe, and a queued call would wait for the GUI thread, which may itself be blocked in thread.wait()
    while the window closes.
    """
    thread = QThread(parent)
    if name:
        thread.setObjectName(name)
    worker.moveToThread(thread)
    thread.started.connect(worker.run)
    for signal, slot in connections.items():
        signal.connect(slot)
    done.connect(thread.quit, Qt.ConnectionType.DirectConnection)
    thread.finished.connect(on_thread_finished)
    thread.start()
    return thread
