"""The parameter count of a saved model, read from the `.keras` file's weights (an HDF5 file inside the zip)
with h5py, so the runs table can show it (UNet vs SegNet at a glance) without loading TensorFlow."""

from __future__ import annotations

import io
import zipfile
from functools import lru_cache
from pathlib import Path

WEIGHTS_MEMBER = "model.weights.h5"


def parameter_count(path: Path | str) -> int | None:
    """Number of weights (trainable or not) in the `.keras` file at `path`; None when it cannot be read."""
    path = Path(path)
    try:
        st = path.stat()
    except OSError:
        return None
    return _count(str(path), st.st_mtime_ns, st.st_size)


@lru_cache(maxsize=256)
def _count(path: str, _mtime_ns: int, _size: int) -> int | None:
    """Cached per file version (path, mtime, size): the 1 s poll of the runs view must not reread checkpoints."""
    import h5py

    total = 0

    def add(_name: str, item: object) -> None:
        nonlocal total
        if isinstance(item, h5py.Dataset):
            total += int(item.size)

    try:
        with zipfile.ZipFile(path) as archive, h5py.File(io.BytesIO(archive.read(WEIGHTS_MEMBER)), "r") as f:
            f.visititems(add)
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    return total
