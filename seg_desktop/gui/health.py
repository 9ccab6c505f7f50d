"""The dataset health dialog: class pixel frequencies per split as a bar chart, and the findings as sentences.

Counting reads every mask, so it runs off the GUI thread (`workers.run_in_thread`) with a progress bar, and
closing the dialog stops it.
"""

from __future__ import annotations

import threading

import numpy as np
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QProgressBar, QVBoxLayout, QWidget

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg  # noqa: I001  (after PySide6: picks that binding)
from matplotlib.figure import Figure

from ..core.dataset import Dataset
from ..core.health import Health, dataset_health
from .workers import run_in_thread

SPLIT_COLOURS = {"train": "tab:blue", "val": "tab:orange", "test": "tab:green"}


class HealthDialog(QDialog):
    """Shows `dataset_health(dataset)`; `health` holds the result once computed (None before)."""

    def __init__(self, dataset: Dataset, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Dataset health — {dataset.root.name}")
        self.resize(760, 620)
        self.dataset = dataset
        self.health: Health | None = None
        self.error: str | None = None
        self._stop = threading.Event()
        self.figure = Figure(figsize=(7, 3.6), layout="constrained")
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.progress = QProgressBar()
        self.progress.setFormat("Counting mask pixels… %v / %m")
        self.findings = QLabel("")
        self.findings.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.findings)
        layout.addWidget(buttons)
        self.worker = run_in_thread(self._compute, on_result=self.show_health, on_error=self._failed,
                                    on_progress=self._progress)

    def _compute(self, progress) -> Health:
        return dataset_health(self.dataset, progress=lambda done, total: progress((done, total)), stop=self._stop)

    def _progress(self, value: tuple[int, int]) -> None:
        done, total = value
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)

    def _failed(self, exc: BaseException) -> None:
        self.error = str(exc)
        self.progress.hide()
        self.findings.setText(f"The masks could not be counted: {exc}")

    def show_health(self, health: Health) -> None:
        """Draw the chart and list the findings (called with the worker's result)."""
        self.health = health
        self.progress.hide()
        self.findings.setText("\n\n".join(f"• {line}" for line in health.findings()))
        self.figure.clear()
        ax = self.figure.add_subplot()
        splits = list(health.pixels)
        if not splits:
            ax.text(0.5, 0.5, "No masks to count", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
            self.canvas.draw_idle()
            return
        x = np.arange(len(health.class_names))
        width = 0.8 / len(splits)
        for i, split in enumerate(splits):
            freq = health.frequencies(split) * 100.0
            ax.bar(x + (i - (len(splits) - 1) / 2) * width, freq, width,
                   label=f"{split} ({health.images[split]} masks)", color=SPLIT_COLOURS.get(split))
        ax.set_xticks(x, health.class_names, rotation=30 if len(x) > 6 else 0, ha="right" if len(x) > 6 else "center")
        ax.set_ylabel("% of the split's pixels" + (" (log scale)" if health.imbalanced else ""))
        if health.imbalanced:  # a linear axis would flatten the rare classes the warning is about to zero
            ax.set_yscale("log")
        ax.set_title("Class pixel frequencies per split")
        ax.legend(loc="best", fontsize="small")
        self.canvas.draw_idle()

    def done(self, result: int) -> None:
        self._stop.set()  # a count still running ends after the current mask
        super().done(result)
