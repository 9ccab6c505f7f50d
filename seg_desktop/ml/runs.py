"""Run folders on disk: where they live, their history.csv (written live, read tolerantly), and the list of runs.

history.csv is appended and flushed after every epoch so any program (the GUI's curves, `tail -f`, a notebook)
can follow a run while it trains; readers therefore accept a last line that is still being written. This module
imports no TensorFlow, so the GUI can list runs before TensorFlow has loaded.
"""

from __future__ import annotations

import csv
import io
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from ..core.dataset import STATE_DIR
from ..core.writeguard import claim_run_folder
from ..core.errors import DatasetError
from ..core.safeio import read_json, read_text_capped
from .config_file import load_config
from .listener import HISTORY_COLUMNS

HISTORY_FILE = "history.csv"
RUNS_DIR = "runs"


def runs_dir(dataset_root: Path | str) -> Path:
    """FOLDER/.seg-desktop/runs: the default home of a dataset's runs."""
    return Path(dataset_root) / STATE_DIR / RUNS_DIR


def new_run_dir(dataset_root: Path | str, model: str) -> Path:
    """A fresh `<YYYYmmdd-HHMMSS>-<model>` folder under runs_dir (suffixed -2, -3 ... if started the same second),
    marked as a run's by the write guard before anything else is written in it. The folder is made exclusively,
    so two runs started in the same second never share one."""
    base = runs_dir(dataset_root) / f"{time.strftime('%Y%m%d-%H%M%S')}-{model}"
    folder, n = base, 1
    while True:
        try:
            folder.mkdir(parents=True)
            break
        except FileExistsError:
            n += 1
            folder = base.with_name(f"{base.name}-{n}")
    claim_run_folder(folder)
    return folder


def _cell(value: object) -> str:
    """A history cell: floats in full precision, missing values (no val split) as an empty cell."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return repr(value)
    return str(value)


def append_history(run_folder: Path | str, row: dict) -> None:
    """Append one epoch row (header first if the file is new), flushed and fsynced so readers see it at once.

    A run killed while appending can leave a last line without its newline; that fragment is cut off first,
    since the new row would otherwise be glued onto it and both be lost to read_history.
    """
    path = Path(run_folder) / HISTORY_FILE
    _drop_partial_line(path)
    new = not path.exists() or path.stat().st_size == 0
    with open(path, "a", encoding="utf-8", newline="") as f:
        if new:
            f.write(",".join(HISTORY_COLUMNS) + "\n")
        f.write(",".join(_cell(row.get(c)) for c in HISTORY_COLUMNS) + "\n")
        f.flush()
        os.fsync(f.fileno())


def _drop_partial_line(path: Path) -> None:
    """Truncate `path` after its last newline when it does not end with one (nothing to do for a missing file)."""
    try:
        with open(path, "rb+") as f:
            data = f.read()
            if data and not data.endswith(b"\n"):
                f.truncate(data.rfind(b"\n") + 1)
    except FileNotFoundError:
        pass


def write_history(run_folder: Path | str, rows: list[dict]) -> None:
    """Start a history.csv with earlier rows (a resumed run carries its parent's epochs)."""
    path = Path(run_folder) / HISTORY_FILE
    path.unlink(missing_ok=True)
    for row in rows:
        append_history(run_folder, row)


def _number(text: str) -> float | int | None:
    if text == "":
        return None
    value = float(text)
    return int(value) if value.is_integer() and "." not in text and "e" not in text.lower() else value


def read_history(run_folder: Path | str) -> list[dict]:
    """The rows of a run's history.csv as dicts of numbers (None for empty cells).

    Tolerant of a live run: a last line without its newline, or with too few or unparsable cells, is the row
    being written and is left out. A missing file is an empty history.
    """
    path = Path(run_folder) / HISTORY_FILE
    try:
        text = read_text_capped(path, "csv")
    except (FileNotFoundError, DatasetError):  # absent, or not a readable regular file (a pipe would block)
        return []
    complete = text if text.endswith("\n") else text[: text.rfind("\n") + 1]
    rows = []
    reader = csv.reader(io.StringIO(complete))
    header = next(reader, None)
    if header is None:
        return []
    for cells in reader:
        if len(cells) != len(header):
            continue
        try:
            rows.append({name: _number(cell) for name, cell in zip(header, cells)})
        except ValueError:
            continue
    return rows


@dataclass
class RunInfo:
    folder: Path
    model: str
    created: str
    epochs: int
    best_val_mean_iou: float | None
    has_best: bool
    config: dict
    metrics: dict | None


def best_val_mean_iou(history: list[dict]) -> float | None:
    """The best validation mean IoU of a history (None when no epoch was validated)."""
    values = [r["val_mean_iou"] for r in history if isinstance(r.get("val_mean_iou"), (int, float))]
    return max(values) if values else None


_SCORES = ("mean_iou", "mean_dice", "pixel_accuracy")


def read_metrics(path: Path) -> dict | None:
    """A run's metrics.json when its scores are what the runs list shows (finite numbers or null, per-class
    iou/dice by class name); None when it is absent or damaged, so one bad file only blanks its own row."""
    try:
        data = read_json(path, "metrics file")
    except (FileNotFoundError, DatasetError):
        return None
    if not isinstance(data, dict) or not all(_score(data.get(key)) for key in _SCORES):
        return None
    per_class = data.get("per_class", {})
    if not isinstance(per_class, dict) or not all(
            isinstance(s, dict) and _score(s.get("iou")) and _score(s.get("dice")) for s in per_class.values()):
        return None
    return data


def _score(value: object) -> bool:
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value))


def run_info(folder: Path | str) -> RunInfo | None:
    """What the runs list shows about one run folder; None when it has no valid config.json."""
    folder = Path(folder)
    try:
        config = load_config(folder / "config.json")
        created = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime((folder / "config.json").stat().st_mtime))
    except (OSError, DatasetError):
        return None
    history = read_history(folder)
    return RunInfo(folder, config.model, created, len(history), best_val_mean_iou(history),
                   (folder / "best.keras").is_file(), asdict(config), read_metrics(folder / "metrics.json"))


def list_runs(dataset_root: Path | str) -> list[RunInfo]:
    """FOLDER/.seg-desktop/runs/*, newest first (by folder name, which starts with the start time)."""
    root = runs_dir(dataset_root)
    if not root.is_dir():
        return []
    infos = [run_info(p) for p in sorted(root.iterdir(), key=lambda p: p.name, reverse=True) if p.is_dir()]
    return [i for i in infos if i is not None]
