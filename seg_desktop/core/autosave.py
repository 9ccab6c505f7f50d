"""Unsaved mask edits kept on disk under `FOLDER/.seg-desktop/autosave/`, so a crash loses at most one interval.

Each mask is a raw `.npy` (no encoding cost, so autosaving a dozen masks every 30 s never stalls the editor) and
a JSON side file holding the sample's key and when it was written. Both are written atomically and the JSON last:
an autosave is listed only once its mask is completely on disk, so a crash mid-write leaves the previous autosave
(or none), never half of one.
"""

from __future__ import annotations

import hashlib
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_write_bytes, atomic_write_text
from .dataset import STATE_DIR
from .errors import DatasetError

AUTOSAVE_DIR = Path(STATE_DIR) / "autosave"


@dataclass(frozen=True)
class Autosave:
    """One autosaved mask: the sample key it belongs to, its file, and when it was written (epoch seconds)."""

    key: str
    path: Path
    saved_at: float


def _stem(key: str) -> str:
    """A file name for a key: keys are relative paths with '/' and any characters, so they are hashed."""
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:20]


def autosave_dir(root: Path) -> Path:
    return Path(root) / AUTOSAVE_DIR


def write_autosave(root: Path, key: str, mask: np.ndarray) -> Autosave:
    """Store `mask` as the latest unsaved state of sample `key` (replacing an older autosave of it)."""
    if mask.dtype != np.uint8 or mask.ndim != 2:
        raise ValueError("an autosaved mask must be a 2-D uint8 array")
    folder = autosave_dir(root)
    stem = _stem(key)
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(mask), allow_pickle=False)
    path = folder / f"{stem}.npy"
    atomic_write_bytes(path, buf.getvalue())
    saved_at = time.time()
    atomic_write_text(folder / f"{stem}.json", json.dumps({"key": key, "saved_at": saved_at, "file": path.name}))
    return Autosave(key, path, saved_at)


def list_autosaves(root: Path) -> list[Autosave]:
    """Every complete autosave in the folder, oldest first; unreadable side files are skipped (never fatal)."""
    folder = autosave_dir(root)
    if not folder.is_dir():
        return []
    found = []
    for side in folder.glob("*.json"):
        try:
            data = json.loads(side.read_text(encoding="utf-8"))
            key, saved_at, name = str(data["key"]), float(data["saved_at"]), str(data["file"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
        path = folder / Path(name).name  # a side file may only name a file beside it
        if path.is_file() and path.stem == _stem(key):
            found.append(Autosave(key, path, saved_at))
    return sorted(found, key=lambda a: a.saved_at)


def read_autosave(entry: Autosave) -> np.ndarray:
    """The autosaved mask; a damaged file is a DatasetError naming it (the caller skips or clears it)."""
    try:
        mask = np.load(entry.path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"The autosave {entry.path} of {entry.key} is damaged ({exc}); it cannot be restored.",
                           entry.path) from None
    if mask.dtype != np.uint8 or mask.ndim != 2:
        raise DatasetError(f"The autosave {entry.path} of {entry.key} is not a mask; it cannot be restored.",
                           entry.path)
    return mask


def clear_autosave(root: Path, key: str) -> None:
    """Forget the autosave of `key` (after it was saved for real, restored or discarded). Side file goes first,
    so a crash in between leaves an orphan .npy that is never listed."""
    folder = autosave_dir(root)
    stem = _stem(key)
    for name in (f"{stem}.json", f"{stem}.npy"):
        try:
            (folder / name).unlink()
        except FileNotFoundError:
            pass


def newer_than_masks(entries: list[Autosave], mask_mtimes: dict[str, float | None]) -> list[Autosave]:
    """The autosaves worth offering: written after the mask on disk was (or for a sample with no mask yet).

    `mask_mtimes` maps key -> mask modification time (None when the sample has no mask); keys absent from it
    are samples no longer in the folder, and their autosaves are not offered.
    """
    return [a for a in entries if a.key in mask_mtimes
            and (mask_mtimes[a.key] is None or a.saved_at > mask_mtimes[a.key])]
