"""Live training curves: loss and mean IoU per epoch (train and val), a smoothed per-batch loss, earlier runs beside.

Every epoch point is an `EpochRecord` (ml/listener.py), live from the worker or read back from a history.csv.

A full matplotlib redraw of this figure costs ~40 ms on a laptop core, which would make the window stutter if
it happened on every batch. So the widget never draws from a data call: data calls only mark what changed, and a
QTimer applies the changes at most REDRAWS_PER_S times a second. Per-batch points are blitted (only the batch line
is re-rendered onto the cached background, ~1 ms); the full `draw_idle()` happens only when epoch values arrive,
the axes must grow, or the widget is resized. The x axis is fixed to the run's epoch count from the start, so a
growing batch line never forces a relayout; a time-budget run, whose epoch count is only known at its end, starts
with one epoch and grows the axis an epoch at a time (one full redraw per epoch, as the epoch's values cost anyway).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QSizePolicy, QVBoxLayout, QWidget

from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg  # noqa: I001  (after PySide6: picks that binding)
from matplotlib.figure import Figure

from ...ml.listener import EpochRecord

REDRAWS_PER_S = 4
SMOOTHING = 0.9  # exponential moving average of the batch loss, bias-corrected as in TensorBoard
_TRAIN, _VAL, _BATCH = "tab:blue", "tab:orange", "#9ecae1"
_OVERLAY_COLOURS = ("tab:green", "tab:red", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan")


def _values(records: Sequence[EpochRecord], key: str) -> tuple[list[float], list[float]]:
    """(epochs, values) of one column, skipping missing or non-finite values (e.g. no val split)."""
    xs, ys = [], []
    for record in records:
        y = getattr(record, key)
        if y is not None and math.isfinite(y):
            xs.append(float(record.epoch))
            ys.append(float(y))
    return xs, ys


class TrainingPlots(QWidget):
    """Two stacked axes (loss, mean IoU) on one FigureCanvasQTAgg; the current run bold, overlays thin."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.figure = Figure(figsize=(5, 5), dpi=100)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.canvas.setMinimumSize(260, 260)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.canvas)

        self.loss_ax = self.figure.add_subplot(2, 1, 1)
        self.iou_ax = self.figure.add_subplot(2, 1, 2, sharex=self.loss_ax)
        ax_l, ax_i = self.loss_ax, self.iou_ax
        (self.batch_line,) = ax_l.plot([], [], color=_BATCH, lw=1.0, label="batch (smoothed)", animated=True)
        (self.train_loss_line,) = ax_l.plot([], [], "o-", color=_TRAIN, ms=3, lw=1.6, label="train")
        (self.val_loss_line,) = ax_l.plot([], [], "o-", color=_VAL, ms=3, lw=1.6, label="val")
        # Both IoU lines are core.metrics' mean IoU; the training one sums the epoch's augmented batches while
        # the weights change, the validation one scores the validation split after the epoch.
        (self.train_iou_line,) = ax_i.plot([], [], "o-", color=_TRAIN, ms=3, lw=1.6, label="train (during epoch)")
        (self.val_iou_line,) = ax_i.plot([], [], "o-", color=_VAL, ms=3, lw=1.6, label="val")
        ax_l.set_title("Loss", fontsize=10)
        ax_l.set_ylabel("loss")
        ax_i.set_title("Mean IoU", fontsize=10)
        ax_i.set_ylabel("mean IoU")
        ax_i.set_xlabel("epoch")
        ax_i.set_ylim(0.0, 1.0)
        for ax in (ax_l, ax_i):
            ax.grid(True, alpha=0.3)
            ax.tick_params(labelsize=8)
        ax_l.tick_params(labelbottom=False)
        self._overlay_lines: list = []
        self._batch_x: list[float] = []
        self._batch_y: list[float] = []
        self._ema = 0.0
        self._batch_n = 0
        self._epochs = 1
        self._rows: list[EpochRecord] = []
        self._overlays: list[tuple[str, list[EpochRecord]]] = []
        self._background = None
        self._need_full = True
        self._need_blit = False
        self.full_draws = 0  # counted so tests and the benchmark can see the throttle work
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(1000 // REDRAWS_PER_S)
        self._timer.timeout.connect(self._flush)
        self.canvas.mpl_connect("draw_event", self._on_draw)
        self.canvas.mpl_connect("resize_event", self._on_resize)
        self._relayout()
        self._schedule(full=True)

    # ------------------------------------------------------------------ data in

    def start_run(self, epochs: int, initial_epoch: int = 0, rows: Sequence[EpochRecord] = ()) -> None:
        """Clear the current run's curves for a run of `epochs` epochs (resumed runs bring their earlier rows)."""
        self._epochs = max(1, int(epochs))
        self._rows = list(rows)
        self._batch_x.clear()
        self._batch_y.clear()
        self._ema = 0.0
        self._batch_n = 0
        self._refresh_epoch_lines()

    def set_run_name(self, name: str) -> None:
        """Name the current run's lines in the legends (and the exported PNG), e.g. "20240101-unet val", so they
        read apart from ticked runs; "" for plain train/val."""
        prefix = f"{name} " if name else ""
        for line, text in ((self.train_loss_line, "train"), (self.val_loss_line, "val"),
                           (self.train_iou_line, "train (during epoch)"), (self.val_iou_line, "val")):
            line.set_label(prefix + text)
        self._schedule(full=True)

    def add_batch(self, epoch: int, step: int, steps: int, loss: float) -> None:
        """One batch of `epoch` (0-based) finished with this training loss."""
        if not math.isfinite(loss):
            return
        self._batch_n += 1
        self._ema = SMOOTHING * self._ema + (1.0 - SMOOTHING) * loss
        self._batch_x.append(epoch + (step + 1) / max(1, steps))
        self._batch_y.append(self._ema / (1.0 - SMOOTHING ** self._batch_n))
        self.batch_line.set_data(self._batch_x, self._batch_y)
        top = self.loss_ax.get_ylim()[1]
        self._schedule(full=self._batch_y[-1] > top or self._batch_x[-1] > self.loss_ax.get_xlim()[1])

    def add_epoch(self, record: EpochRecord) -> None:
        """One finished epoch of the current run."""
        self._rows.append(record)
        self._refresh_epoch_lines()

    def show_history(self, rows: Sequence[EpochRecord], epochs: int | None = None) -> None:
        """Show a whole (finished or CLI-driven) run as the current one; no batch line."""
        self.start_run(epochs or max((r.epoch for r in rows), default=1), rows=rows)

    def set_overlays(self, runs: Sequence[tuple[str, Sequence[EpochRecord]]]) -> None:
        """Earlier runs to draw beside the current one, as (label, their epochs)."""
        self._overlays = [(label, list(rows)) for label, rows in runs]
        for line in self._overlay_lines:
            line.remove()
        self._overlay_lines = []
        for i, (label, rows) in enumerate(self._overlays):
            colour = _OVERLAY_COLOURS[i % len(_OVERLAY_COLOURS)]
            for ax, key in ((self.loss_ax, "loss"), (self.iou_ax, "mean_iou")):
                (train,) = ax.plot(*_values(rows, key), ":", color=colour, lw=1.0, alpha=0.8)
                (val,) = ax.plot(*_values(rows, f"val_{key}"), "-", color=colour, lw=1.2, alpha=0.8,
                                 label=f"{label} (val; train dotted)" if ax is self.loss_ax else label)
                self._overlay_lines += [train, val]
        self._schedule(full=True)

    def clear(self) -> None:
        self.set_overlays([])
        self.start_run(1)

    # ------------------------------------------------------------------ out

    def point_counts(self) -> dict[str, int]:
        """Points per current-run line (what a test or a status bar needs to know that curves grew)."""
        lines = {"batch": self.batch_line, "train_loss": self.train_loss_line, "val_loss": self.val_loss_line,
                 "train_iou": self.train_iou_line, "val_iou": self.val_iou_line}
        return {name: len(line.get_xdata()) for name, line in lines.items()}

    def save_png(self, path: Path | str, dpi: int = 120) -> Path:
        """The curves as shown (current run and overlays), for reports and the compare export."""
        self._update_limits()
        self.batch_line.set_animated(False)  # animated artists are left out of savefig otherwise
        try:
            self.figure.savefig(path, dpi=dpi)
        finally:
            self.batch_line.set_animated(True)
            self._schedule(full=True)
        return Path(path)

    # ------------------------------------------------------------------ drawing

    def _refresh_epoch_lines(self) -> None:
        for line, key in ((self.train_loss_line, "loss"), (self.val_loss_line, "val_loss"),
                          (self.train_iou_line, "mean_iou"), (self.val_iou_line, "val_mean_iou")):
            line.set_data(*_values(self._rows, key))
        self._schedule(full=True)

    def _schedule(self, full: bool) -> None:
        self._need_full |= full
        self._need_blit = True
        if not self._timer.isActive():
            self._timer.start()

    def _update_limits(self) -> None:
        tops = [max(ys) for ys in (self._batch_y, *(_values(self._rows, k)[1] for k in ("loss", "val_loss")))
                if ys]
        last = max([self._epochs, math.ceil(self._batch_x[-1]) if self._batch_x else 0] +
                   [int(x) for _, rows in self._overlays for x in _values(rows, "loss")[0]])
        for _, rows in self._overlays:
            tops += [max(ys) for ys in (_values(rows, "loss")[1], _values(rows, "val_loss")[1]) if ys]
        self.loss_ax.set_ylim(0.0, 1.08 * max(tops) if tops else 1.0)
        self.loss_ax.set_xlim(0.0, max(1, last) + 0.2)
        handles, labels = self.loss_ax.get_legend_handles_labels()
        self.loss_ax.legend(handles, labels, loc="upper right", fontsize=7, framealpha=0.8)
        self.iou_ax.legend(loc="lower right", fontsize=7, framealpha=0.8)

    def _flush(self) -> None:
        if self._need_full or self._background is None:
            self._need_full = self._need_blit = False
            self._update_limits()
            self.canvas.draw_idle()
        elif self._need_blit:
            self._need_blit = False
            self.canvas.restore_region(self._background)
            self.loss_ax.draw_artist(self.batch_line)
            self.canvas.blit(self.loss_ax.bbox)

    def _on_draw(self, _event) -> None:
        """After every full draw: cache the background without the batch line, then paint the line on top
        (the canvas shows the buffer after this event, so no blit is needed here)."""
        self.full_draws += 1
        self._background = self.canvas.copy_from_bbox(self.figure.bbox)
        self.loss_ax.draw_artist(self.batch_line)

    def _on_resize(self, _event) -> None:
        self._background = None
        self._relayout()

    def _relayout(self) -> None:
        """Margins from the current pixel size (tight_layout once per resize, not per draw: it costs a draw)."""
        try:
            self.figure.tight_layout(pad=0.6, h_pad=0.8)
        except ValueError:  # a zero-size canvas while the dock is collapsed
            pass
