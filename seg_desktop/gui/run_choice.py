"""Which run's predictions the window shows: the best finished run by default, and a stopped or worse run never
replaces a better finished run's predictions without asking (issue 14: a stopped 1-epoch run had silently
replaced a finished run's IoU column, so "worst IoU first" ranked images by a throwaway model)."""

from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtWidgets import QMessageBox, QWidget

from ..ml.runs import best_val_mean_iou, list_runs, read_history


def finished(run: Path | str) -> bool:
    """A run that trained to its end writes metrics.json; a stopped one does not."""
    return (Path(run) / "metrics.json").is_file()


def score(run: Path | str) -> float:
    """Best validation mean IoU of the run's history (-inf when it has none)."""
    value = best_val_mean_iou(read_history(run))
    return -math.inf if value is None else value


def trained_runs(root: Path) -> list[Path]:
    """The folder's runs that have a model to predict with, best first: finished runs before stopped ones, then by
    best validation mean IoU, then newest (Predict all's and Export's default is the first)."""
    runs = [r for r in list_runs(root) if r.has_best]  # newest first; the sort below is stable
    runs.sort(key=lambda r: (r.metrics is not None,
                             -math.inf if r.best_val_mean_iou is None else r.best_val_mean_iou), reverse=True)
    return [r.folder for r in runs]


def replaces_without_asking(current: Path | str | None, new: Path | str) -> bool:
    """Whether `new` may take over from `current` silently: it finished, and scores at least as well."""
    if current is None or not (Path(current) / "best.keras").is_file() or not finished(current):
        return True
    return finished(new) and score(new) >= score(current)


def ask_replace(parent: QWidget, current: Path | str, new: Path | str) -> bool:
    """Ask whether the new run's predictions should replace those of the better (or finished) current run."""
    def describe(run: Path | str) -> str:
        value = score(run)
        iou = "no validation score" if value == -math.inf else f"best val IoU {value:.3f}"
        return f"{Path(run).name} ({'finished' if finished(run) else 'stopped'}, {iou})"

    answer = QMessageBox.question(
        parent, "Replace predictions?",
        f"Run {describe(new)} is not better than {describe(current)}, whose predictions are shown. "
        "Predict all images with the new run anyway?",
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
    return answer == QMessageBox.StandardButton.Yes
