"""Run the training engine in a child process and relay its listener calls back over a pipe.

Why a child process rather than a thread (measured by tests/benchmarks/bench_responsiveness.py): TensorFlow in
the GUI process competes with the GUI thread for the interpreter lock and the CPU, keeps GPU memory for the life
of the process (tensorflow/tensorflow#17048), and an out-of-memory in it ends the whole process, window included
(measured: a fit past an address-space limit dies with SIGSEGV, no Python exception). In a child ('spawn', so no
TensorFlow or Qt state is forked), a crash or a kill ends only the child and becomes one clear error, the child runs at a lower CPU priority so the window stays
smooth on two cores, and each run releases all its memory when it ends.

The caller sees the same interface as `seg_desktop.ml.train.train`: a listener (any object with the
`TrainListener` methods) receives on_train_begin/on_batch_end/on_epoch_end/on_train_end/on_error in the calling
thread, and `stop` (anything with is_set()) is forwarded so the engine stops within one batch. This module
imports neither Qt nor TensorFlow; only the child imports `seg_desktop.ml.train`.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from .config import TrainConfig
from .errors import ChildProcessFailed, portable

_LISTENER_METHODS = frozenset({"on_train_begin", "on_batch_end", "on_epoch_end", "on_train_end", "on_error"})
# Niceness added to the child: training yields the CPU to the window whenever the window needs it.
CHILD_NICENESS = 10
_POLL_S = 0.05
# Environment variable read by the training child: gigabytes it may allocate (see cap_memory).
MEMORY_LIMIT_ENV = "SEG_DESKTOP_MEMORY_LIMIT_GB"


@dataclass
class RunSummary:
    """What `train()`'s Run holds, in plain types, so the parent needs no TensorFlow import to receive it."""

    folder: Path
    config: TrainConfig
    history: list[dict]
    stopped: bool
    best_val_mean_iou: float | None


class _PipeListener:
    """Child side: every listener call becomes a message to the parent."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def __getattr__(self, name: str) -> Callable[..., None]:
        if name not in _LISTENER_METHODS:
            raise AttributeError(name)

        def relay(*args: Any) -> None:
            if name == "on_train_end":
                args = (_summary(args[0]),)
            self._conn.send(("call", name, args))

        return relay


def _summary(run: Any) -> RunSummary:
    return RunSummary(Path(run.folder), run.config, list(run.history), bool(run.stopped), run.best_val_mean_iou)


def _child_main(func: Callable[..., Any], args: tuple, conn: Connection, stop: Any) -> None:
    """Entry point of the child: call func(*args, listener=..., stop=...) and send back its result or error."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C in the terminal is the parent's to handle
    try:
        os.nice(CHILD_NICENESS)  # before TensorFlow starts its threads, which inherit it
    except OSError:
        pass
    try:
        result = func(*args, listener=_PipeListener(conn), stop=stop)
        conn.send(("return", result))
    except BaseException as exc:  # everything reaches the parent as one message, never a silent exit
        try:
            conn.send(("raise", portable(exc)))
        except OSError:
            # The parent is gone (killed): the first listener call after its death raised BrokenPipeError, so
            # training ended within one batch with the checkpoints intact; there is no one left to tell.
            pass
    finally:
        conn.close()


def train_entry(config: TrainConfig, listener: Any, stop: Any) -> RunSummary:
    """What the training child runs: `train()` under the memory cap of MEMORY_LIMIT_ENV, a RunSummary back.

    The strategy comes first: MultiWorkerMirroredStrategy must exist before TensorFlow runs any op in the
    process (see ml/distribute.py); a terminal the GUI or CLI runs in gets no native start-up lines."""
    from .quiet import native_stderr_silenced

    with native_stderr_silenced():  # importing distribute imports TensorFlow, which prints its start-up lines
        from .distribute import start_strategy  # TensorFlow is imported here, in the child only
    start_strategy(config.strategy)
    from .train import train

    cap_memory()
    return _summary(train(config, listener=listener, stop=stop))


def cap_memory() -> None:
    """Honour SEG_DESKTOP_MEMORY_LIMIT_GB=N: this process may take N GB of address space beyond what it holds now
    (call it after TensorFlow has loaded, whose start-up reserves gigabytes it never touches). Past the cap an
    allocation fails and the run ends with one sentence about memory instead of swapping the whole machine
    to a halt or waking the kernel's OOM killer. Linux only (elsewhere RLIMIT_AS is not enforced)."""
    value = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
    if not value:
        return
    try:
        extra = float(value) * 1e9
    except ValueError:
        extra = -1.0
    if not extra > 0:
        raise ValueError(f"{MEMORY_LIMIT_ENV} must be a positive number of gigabytes, not {value!r}.")
    import resource

    try:
        with open("/proc/self/status") as f:
            held = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
    except (OSError, StopIteration):
        return  # no /proc: not Linux, where the limit would not be enforced anyway
    limit = held + int(extra)
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _death_message(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        if -exitcode == signal.SIGKILL:
            return (f"The training process was killed ({name}), most often because the computer ran out of "
                    "memory; try a smaller batch, image size or model.")
        cap = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
        if cap:  # TensorFlow does not raise at an address-space limit, it crashes (SIGSEGV, SIGABRT)
            return (f"The training process crashed ({name}), most likely on reaching its memory cap "
                    f"({MEMORY_LIMIT_ENV}={cap}); try a smaller batch, image size or model, or a higher cap.")
        return (f"The training process crashed ({name}), often because it ran out of memory; try a smaller batch, "
                "image size or model.")
    return f"The training process ended unexpectedly (exit code {exitcode}); see the terminal for details."


class ChildRunner:
    """One call of `func(*args, listener=..., stop=...)` in a fresh 'spawn' child process.

    `run()` blocks the calling thread (the GUI's worker thread) while relaying listener calls; `kill()` may be
    called from any other thread to end the child at once (used when a stop does not finish in time).
    """

    def __init__(self, func: Callable[..., Any], *args: Any) -> None:
        self._func, self._args = func, args
        self._ctx = multiprocessing.get_context("spawn")
        self._process: multiprocessing.process.BaseProcess | None = None
        self._killed = threading.Event()

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def kill(self) -> None:
        self._killed.set()
        process = self._process
        if process is not None and process.is_alive():
            process.kill()

    def run(self, listener: Any = None, stop: Any = None) -> Any:
        """Start the child, relay its listener calls until it ends, and return its result or raise its error.

        DatasetError, ValueError and TrainingError are raised again as themselves (they cross the pipe pickled);
        any other failure, the child dying included, as ChildProcessFailed (a TrainingError). In every failure
        case the listener's on_error has received the message once.
        """
        parent_conn, child_conn = self._ctx.Pipe(duplex=False)
        child_stop = self._ctx.Event()
        process = self._ctx.Process(target=_child_main, args=(self._func, self._args, child_conn, child_stop),
                                    name="seg-desktop-training", daemon=True)
        self._process = process
        process.start()
        child_conn.close()  # the parent keeps only the read end, so the child's exit is seen as EOF
        if self._killed.is_set():
            process.kill()
        error_reported = False
        outcome: tuple | None = None
        try:
            while outcome is None:
                if stop is not None and stop.is_set() and not child_stop.is_set():
                    child_stop.set()
                ready = wait([parent_conn, process.sentinel], timeout=_POLL_S)
                if parent_conn not in ready and process.sentinel in ready and not parent_conn.poll():
                    break  # the child ended without a final message
                if parent_conn not in ready:
                    continue
                try:
                    message = parent_conn.recv()
                except (EOFError, OSError):
                    break
                if message[0] == "call":
                    _, name, args = message
                    error_reported |= name == "on_error"
                    if listener is not None and hasattr(listener, name):
                        getattr(listener, name)(*args)
                else:
                    outcome = message
        finally:
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()
            parent_conn.close()
            self._process = None
        if outcome is not None and outcome[0] == "return":
            return outcome[1]
        if outcome is not None:
            error = outcome[1]
        elif self._killed.is_set():
            error = ChildProcessFailed("Training was ended before it could stop by itself.")
        else:
            error = ChildProcessFailed(_death_message(process.exitcode))
        if not error_reported and listener is not None and hasattr(listener, "on_error"):
            listener.on_error(str(error))
        raise error


def training_runner(config: TrainConfig) -> ChildRunner:
    """A runner for `seg_desktop.ml.train.train(config)`; keep it to be able to kill() the child."""
    return ChildRunner(train_entry, config)
