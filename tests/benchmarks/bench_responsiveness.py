"""Does training keep the window responsive? Thread vs child process, measured on the real TrainingPanel.

A 10 ms QTimer on the GUI thread records its ticks while a UNet (base 16, 96 px, sample data n=40, batch 8)
trains for 2 epochs through the panel, once with training in a child process and once in a thread of this
process (the child first, so that its run starts in a process that has not imported TensorFlow yet; the thread
run includes importing TensorFlow in the worker thread, which the child mode never does in the GUI process).
It prints the longest and the 99th-percentile gap between ticks for the whole run and for the training phase
(first batch to the end). Target: longest < 100 ms, p99 < 30 ms.

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--n", type=int, default=40)
    parser.add_argument("--size", type=int, default=96)
    args = parser.parse_args()

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
