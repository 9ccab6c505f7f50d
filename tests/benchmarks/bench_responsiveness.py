"""Does training keep the window responsive? Thread vs child process, measured on the real TrainingPanel.

A 10 ms QTimer on the GUI thread records its ticks while a UNet (base 16, 96 px, sample data n=40, batch 8)
trains for 2 epochs through the panel, once with training in a child process and once in a thread of this
process (the child first, so that its run starts in a process that has not imported TensorFlow yet; the thread
run includes importing TensorFlow in the worker thread, which the child mode never does in the GUI process).
It prints the longest and the 99th-percentile gap between ticks for the whole run and for the training phase
(first batch to the end). Target: longest < 100 ms, p99 < 30 ms.

Then the out-of-memory check: a Keras fit that needs more memory than allowed (RLIMIT_AS = current size +
1.5 GB, set after TensorFlow is imported) runs once in a thread of a separate Python process, standing in for
the GUI process in thread mode, and once through seg_desktop.ml.remote from this process. It prints how each
ended: whether the process that hosts the window would have survived.

    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/benchmarks/bench_responsiveness.py [--epochs 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _gaps_ms(ticks: list[float]) -> list[float]:
    return sorted((b - a) * 1000 for a, b in zip(ticks, ticks[1:]))


def _stats(ticks: list[float]) -> str:
    gaps = _gaps_ms(ticks)
    if not gaps:
        return "no ticks"
    p99 = gaps[min(len(gaps) - 1, int(0.99 * len(gaps)))]
    p50 = gaps[len(gaps) // 2]
    return f"longest {gaps[-1]:6.1f} ms  p99 {p99:5.1f} ms  median {p50:4.1f} ms  ({len(gaps)} gaps)"


def measure(panel, app, in_child: bool, epochs: int) -> dict:
    from PySide6.QtCore import QEventLoop, QTimer

    ticks: list[float] = []
    marks: dict[str, float] = {}
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    loop = QEventLoop()

    def on_batch(*_):
        marks.setdefault("first_batch", time.perf_counter())

    def on_active(active: bool):
        if not active:
            marks["end"] = time.perf_counter()
            loop.quit()

    panel.child_check.setChecked(in_child)
    panel.trainingActive.connect(on_active)
    panel.epochs_spin.setValue(epochs)
    timer.start()
    t0 = time.perf_counter()
    if not panel.start_training():
        raise SystemExit(panel.message_label.text())
    panel._worker.batchDone.connect(on_batch)
    QTimer.singleShot(600_000, loop.quit)
    loop.exec()
    timer.stop()
    panel.trainingActive.disconnect(on_active)
    if "failed" in panel.progress.format().lower():
        raise SystemExit(f"training failed: {panel.message_label.text()}")
    start = marks.get("first_batch", t0)
    return {"wall": time.perf_counter() - t0, "all": ticks,
            "training": [t for t in ticks if start <= t <= marks.get("end", ticks[-1])],
            "draws": panel.plots.full_draws}


def oom_victim(listener=None, stop=None) -> str:
    """Train a model too big for a memory limit set after TensorFlow has loaded (the limit is per process)."""
    import resource

    import keras
    import numpy as np

    with open("/proc/self/status") as f:
        vm = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize"))
    resource.setrlimit(resource.RLIMIT_AS, (vm + 1_500_000_000, vm + 1_500_000_000))
    x = keras.Input((512, 512, 3))
    y = keras.layers.Conv2D(64, 3, padding="same")(x)
    y = keras.layers.Conv2D(2, 1)(keras.layers.Conv2D(64, 3, padding="same")(y))
    model = keras.Model(x, y)
    model.compile("adam", "mse")
    try:
        model.fit(np.zeros((32, 512, 512, 3), "float32"), np.zeros((32, 512, 512, 2), "float32"), batch_size=32,
                  verbose=0)
    except Exception as exc:  # noqa: BLE001 - the point is to see whether Python gets a chance at all
        return f"raised {type(exc).__name__}"
    return "fit finished (the limit was not reached)"


def _oom_in_thread() -> None:
    """Entry of the stand-in GUI process: the victim in a worker thread, like in-thread training."""
    import threading

    import tensorflow  # noqa: F401  (the limit is set after TensorFlow is loaded, as in the GUI process)

    result = []
    thread = threading.Thread(target=lambda: result.append(oom_victim()))
    thread.start()
    thread.join()
    print(f"the process survived: {result[0]}")


def oom_check() -> None:
    import signal
    import subprocess

    from seg_desktop.ml.remote import ChildProcessFailed, ChildRunner

    proc = subprocess.run([sys.executable, __file__, "--oom-in-thread"], capture_output=True, text=True)
    if proc.returncode < 0 or proc.returncode > 128:
        code = -proc.returncode if proc.returncode < 0 else proc.returncode - 128
        print(f"out of memory, thread mode: the whole process died ({signal.Signals(code).name}): "
              "the window would be gone")
    else:
        print(f"out of memory, thread mode: exit {proc.returncode}: {proc.stdout.strip()[-200:]}")
    try:
        result = ChildRunner(oom_victim).run()
        print(f"out of memory, child process: {result}; this process is alive")
    except ChildProcessFailed as exc:
        print(f"out of memory, child process: this process is alive and shows: {exc}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--no-oom", action="store_true", help="skip the out-of-memory check")
    parser.add_argument("--oom-in-thread", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.oom_in_thread:
        _oom_in_thread()
        return 0
    if not args.no_oom:
        oom_check()

    from PySide6.QtCore import QCoreApplication, QSettings
    from PySide6.QtWidgets import QApplication

    from seg_desktop.core.dataset import open_dataset
    from seg_desktop.core.sample_data import make_sample_dataset
    from seg_desktop.gui.training import TrainingPanel

    app = QApplication(sys.argv[:1])
    QCoreApplication.setOrganizationName("seg-desktop-bench")
    QCoreApplication.setApplicationName("bench")
    with tempfile.TemporaryDirectory() as tmp:
        QSettings.setDefaultFormat(QSettings.Format.IniFormat)
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(Path(tmp) / "settings"))
        data = make_sample_dataset(Path(tmp) / "data", n=args.n, size=args.size)
        panel = TrainingPanel()
        panel.resize(520, 900)
        panel.show()
        panel.set_dataset(open_dataset(data))
        panel.model_combo.setCurrentIndex(panel.model_combo.findData("unet"))
        panel.size_edit.setText(str(args.size))
        panel.filters_spin.setValue(16)
        panel.batch_spin.setValue(8)
        print(f"UNet base 16, {args.size} px, n={args.n}, batch 8, {args.epochs} epochs, {os.cpu_count()} CPUs; "
              "gaps of a 10 ms QTimer on the GUI thread (target: longest < 100 ms, p99 < 30 ms)")
        results = {}
        for name, in_child in (("child process", True), ("thread", False)):
            r = measure(panel, app, in_child, args.epochs)
            results[name] = r
            print(f"{name:14s} wall {r['wall']:5.1f} s, {r['draws']} full plot draws so far")
            print(f"  whole run     {_stats(r['all'])}")
            print(f"  training      {_stats(r['training'])}")
        panel.stop_and_wait(30000)
        panel.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
