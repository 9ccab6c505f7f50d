"""A run's predictions kept beside the dataset, so scores, worst-first sorting and the label-next queue survive a
restart without running the model again.

Layout: `FOLDER/.seg-desktop/predictions/<run name>/` holds one index PNG per image (the predicted classes), one
uncertainty PNG per image (entropy scaled so 255 = uniform over the classes), `index.json` with the per-image
scores `{key: {"iou", "entropy", "pixel_accuracy"}}` and `source.json` naming the model file they came from.
A cache made by an older version of the model (the run was resumed or retrained in place) is emptied when it is
next bound, and its scores are not served meanwhile, so stale numbers never rank images.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .atomic import atomic_write_text
from .dataset import STATE_DIR
from .errors import DatasetError
from .maskio import MaskFormat, read_raw_mask, write_mask
from .safeio import read_json

PREDICTIONS_DIR = "predictions"
INDEX_FILE = "index.json"
SOURCE_FILE = "source.json"


def file_name(key: str) -> str:
    """A file name for a sample key: '%' and '/' escaped, so distinct keys never share a file."""
    return key.replace("%", "%25").replace("/", "%2F")


def _stamp(model_file: Path) -> dict:
    st = Path(model_file).stat()
    return {"file": Path(model_file).name, "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def finite_or_none(value: float | None) -> float | None:
    """JSON has no NaN; a score that is undefined (a class-free image) is stored as null."""
    return None if value is None or not math.isfinite(value) else float(value)


class PredictionCache:
    """The cached predictions of one run for one dataset."""

    def __init__(self, dataset_root: Path | str, run_folder: Path | str) -> None:
        self.run_folder = Path(run_folder)
        name = self.run_folder.name
        if name in ("", ".", ".."):
            raise ValueError(f"{run_folder} is not a run folder name")
        self.folder = Path(dataset_root) / STATE_DIR / PREDICTIONS_DIR / name

    def mask_path(self, key: str) -> Path:
        return self.folder / f"{file_name(key)}.png"

    def entropy_path(self, key: str) -> Path:
        return self.folder / f"{file_name(key)}.entropy.png"

    # ------------------------------------------------------------------ freshness

    def is_current(self) -> bool:
        """True when the cache was made by the model file that is in the run folder now."""
        try:
            source = read_json(self.folder / SOURCE_FILE, "prediction cache stamp")
            return source == _stamp(self.run_folder / source["file"])
        except (OSError, ValueError, TypeError, KeyError, DatasetError):
            return False

    def bind(self, model_file: Path) -> bool:
        """Make the cache belong to `model_file`; a cache of another model (or version of it) is emptied first.

        Returns True when existing predictions were kept."""
        stamp = _stamp(model_file)
        try:
            kept = read_json(self.folder / SOURCE_FILE, "prediction cache stamp") == stamp
        except (OSError, DatasetError):
            kept = False
        if not kept:
            shutil.rmtree(self.folder, ignore_errors=True)
            atomic_write_text(self.folder / SOURCE_FILE, json.dumps(stamp))
        return kept

    # ------------------------------------------------------------------ masks

    def save(self, key: str, mask: np.ndarray, entropy: np.ndarray | None = None,
             max_entropy: float = 1.0) -> None:
        """Store one image's predicted classes and (optionally) its entropy map in nats."""
        write_mask(self.mask_path(key), mask, MaskFormat.default(), None)
        if entropy is not None:
            scaled = np.clip(entropy / max(max_entropy, 1e-12) * 255.0 + 0.5, 0, 255).astype(np.uint8)
            write_mask(self.entropy_path(key), scaled, MaskFormat.default(), None)

    def load_mask(self, key: str) -> np.ndarray | None:
        """The cached predicted mask, or None when the image was not predicted (or its file is unreadable,
        which only costs a new prediction)."""
        return self._load(self.mask_path(key))

    def load_entropy(self, key: str, max_entropy: float = 1.0) -> np.ndarray | None:
        """The cached entropy map in nats (quantised to 1/255 of `max_entropy`), or None."""
        scaled = self._load(self.entropy_path(key))
        return None if scaled is None else scaled.astype(np.float32) * np.float32(max_entropy / 255.0)

    @staticmethod
    def _load(path: Path) -> np.ndarray | None:
        if not path.is_file():
            return None
        try:
            arr, _, _ = read_raw_mask(path)
        except DatasetError:
            return None
        return arr if arr.ndim == 2 else None

    # ------------------------------------------------------------------ scores

    def read_scores(self) -> dict[str, dict[str, float | None]]:
        """Per-image scores, or {} when there are none yet or they came from another version of the model."""
        if not self.is_current():
            return {}
        try:
            data = read_json(self.folder / INDEX_FILE, "prediction scores file")
        except (OSError, DatasetError):
            return {}
        return {str(k): dict(v) for k, v in data.items() if isinstance(v, dict)} if isinstance(data, dict) else {}

    def write_scores(self, scores: dict[str, dict[str, float | None]]) -> None:
        """Replace `index.json` atomically: a crash leaves the previous scores, never half a file."""
        clean = {key: {name: finite_or_none(value) for name, value in s.items()} for key, s in scores.items()}
        atomic_write_text(self.folder / INDEX_FILE, json.dumps(clean, indent=1, sort_keys=True))


def rank_for_labelling(scores: dict[str, dict[str, float | None]], keys: Iterable[str]) -> list[str]:
    """The label-next queue: `keys` (the unlabelled images) by mean entropy, most uncertain first.

    The model learns most from a correction where it was least sure. Keys not yet predicted follow in their
    given order, so the queue still lists every image waiting for a mask.
    """
    keys = list(keys)
    scored = [k for k in keys if finite_or_none(scores.get(k, {}).get("entropy")) is not None]
    scored.sort(key=lambda k: -scores[k]["entropy"])  # stable: ties keep the given order
    seen = set(scored)
    return scored + [k for k in keys if k not in seen]
