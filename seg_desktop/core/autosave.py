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
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .atomic import atomic_write_bytes, atomic_write_text
from .dataset import STATE_DIR
from .errors import DatasetError
from .paths import name_bytes
from .safeio import check_regular, is_dir, read_bytes_capped, read_json

AUTOSAVE_DIR = Path(STATE_DIR) / "autosave"
MAX_KEY_CHARS = 4096  # a key is a relative path; longer is damage, not a name any filesystem allows


@dataclass(frozen=True)
class Autosave:
    """One autosaved mask: the sample key it belongs to, its file, and when it was written (epoch seconds)."""

    key: str
    path: Path
    saved_at: float


def _stem(key: str) -> str:
    """A file name for a key: keys are relative paths with '/' and any characters, so they are hashed."""
    return hashlib.sha1(name_bytes(key)).hexdigest()[:20]


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


def _bad_index(side: Path, field: str, rule: str) -> DatasetError:
    return DatasetError(f"The autosave index file {side} is damaged (field {field!r} {rule}); it was skipped, "
                        "delete it.", side)


def _index_entry(folder: Path, side: Path) -> Autosave:
    """Validate one side file (a regular JSON file of bounded size and depth, the fields' types and ranges, the
    mask file beside it); raises DatasetError naming the file and the field."""
    data = read_json(side, "autosave index file")
    if not isinstance(data, dict):
        raise _bad_index(side, "(top level)", "must be a JSON object")
    key, saved_at, name = data.get("key"), data.get("saved_at"), data.get("file")
    if not isinstance(key, str) or not 0 < len(key) <= MAX_KEY_CHARS:
        raise _bad_index(side, "key", f"must be a sample key of 1 to {MAX_KEY_CHARS} characters")
    if isinstance(saved_at, bool) or not isinstance(saved_at, (int, float)) or not math.isfinite(saved_at) \
            or saved_at < 0:
        raise _bad_index(side, "saved_at", "must be a time in seconds, a finite number >= 0")
    if name != f"{_stem(key)}.npy":  # a side file may only name the mask file beside it, of its own key
        raise _bad_index(side, "file", "must name the .npy file of its key in the same folder")
    path = folder / name
    try:
        check_regular(path, "mask")
    except FileNotFoundError:
        raise _bad_index(side, "file", f"names {name}, which is missing") from None
    return Autosave(key, path, float(saved_at))


def list_autosaves(root: Path, skipped: list[DatasetError] | None = None) -> list[Autosave]:
    """Every complete autosave in the folder, oldest first. A damaged side file is never fatal: it is skipped, and
    the one-sentence reason is appended to `skipped` when given (the GUI lists it among the folder's problems)."""
    folder = autosave_dir(root)
    if not is_dir(folder):
        return []
    found = []
    for side in sorted(folder.glob("*.json")):
        try:
            found.append(_index_entry(folder, side))
        except FileNotFoundError:  # cleared meanwhile
            continue
        except DatasetError as exc:
            if skipped is not None:
                skipped.append(exc)
    return sorted(found, key=lambda a: a.saved_at)


def read_autosave(entry: Autosave) -> np.ndarray:
    """The autosaved mask; a damaged file is a DatasetError naming it (the caller skips or clears it)."""
    try:
        mask = np.load(io.BytesIO(read_bytes_capped(entry.path, "mask")), allow_pickle=False)
    except (OSError, ValueError, EOFError, DatasetError) as exc:
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
