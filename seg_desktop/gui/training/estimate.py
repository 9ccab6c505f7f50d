"""How long an epoch will take, said before Start: the median epoch time of the newest run on this folder that
trained the same network at the same size and batch (its history.csv `seconds` column), so the user can size a
run before waiting for it. No TensorFlow: reading the runs must not load it."""

from __future__ import annotations

import os
import statistics
from pathlib import Path

from ...ml.config import TrainConfig, pace_fields
from ...ml.runs import list_runs, read_history


def epoch_estimate(root: Path, config: TrainConfig) -> float | None:
    """Seconds per epoch for `config` on the folder `root`, from its newest comparable run; None when none ran."""
    wanted = {name: _plain(getattr(config, name)) for name in pace_fields(config)}
    for info in list_runs(root):
        if all(_plain(info.config.get(name)) == value for name, value in wanted.items()):
            seconds = [float(r["seconds"]) for r in read_history(info.folder)
                       if isinstance(r.get("seconds"), (int, float)) and r["seconds"] > 0]
            if seconds:
                return statistics.median(seconds)
    return None


def _plain(value: object) -> object:
    return list(value) if isinstance(value, (tuple, list)) else value


def gpu_present() -> bool:
    """An NVIDIA GPU driver is loaded (checked without TensorFlow, which the window does not load to start)."""
    return Path("/proc/driver/nvidia/gpus").is_dir() and bool(os.listdir("/proc/driver/nvidia/gpus"))
