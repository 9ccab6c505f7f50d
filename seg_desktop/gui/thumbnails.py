"""Thumbnails decoded lazily on a thread pool and kept in an LRU cache.

The browser asks for a thumbnail only when the view paints a row, so opening 10,000 images decodes nothing.
Requests are served newest first (a fast scroll leaves stale requests at the bottom of the stack, trimmed away),
and QImageReader with `setScaledSize` lets JPEG decoders skip most of the work of a full-size decode.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

from PySide6.QtCore import QObject, QSize, Qt, QThreadPool, Signal
from PySide6.QtGui import QImage, QImageReader, QPixmap

from ..core.errors import DatasetError
from .workers import run_in_thread

THUMB_SIZE = 48
_MAX_PENDING = 256  # requests older than this many newer ones are rows long scrolled past


def decode_thumbnail(path: Path, size: int) -> QImage:
    """Read `path` scaled to fit `size` x `size` (aspect kept); runs on a pool thread."""
    reader = QImageReader(str(path))
    reader.setAutoTransform(True)
    full = reader.size()
    if full.isValid():
        reader.setScaledSize(full.scaled(QSize(size, size), Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    if image.isNull():
        raise DatasetError(f"{path} cannot be shown ({reader.errorString()}); replace or delete it.", path)
    return image


class ThumbnailCache(QObject):
    """`request(key, path)` returns the cached pixmap or None and schedules a decode; `ready(key)` follows."""

    ready = Signal(object)  # the key (str): `object` keeps a file name's undecodable bytes, a QString would not

    def __init__(self, size: int = THUMB_SIZE, capacity: int = 2000, threads: int = 2,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.size = size
        self.capacity = capacity
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(threads)
        self._cache: OrderedDict[str, QPixmap] = OrderedDict()
        self._pending: OrderedDict[str, Path] = OrderedDict()
        self._in_flight: set[str] = set()
        self._failed: set[str] = set()
        self._generation = 0

    def request(self, key: str, path: Path) -> QPixmap | None:
        pixmap = self._cache.get(key)
        if pixmap is not None:
            self._cache.move_to_end(key)
            return pixmap
        if key in self._failed or key in self._in_flight:
            return None
        self._pending[key] = path
        self._pending.move_to_end(key)
        while len(self._pending) > _MAX_PENDING:
            self._pending.popitem(last=False)
        self._pump()
        return None

    def failed(self, key: str) -> bool:
        return key in self._failed

    def clear(self) -> None:
        """Forget everything (a new folder was opened); decodes still running are ignored when they finish."""
        self._generation += 1
        self._cache.clear()
        self._pending.clear()
        self._in_flight.clear()
        self._failed.clear()

    def wait(self, msecs: int = 5000) -> bool:
        """Let running decodes finish (at shutdown, so no thread outlives the window)."""
        self._pending.clear()
        return self.pool.waitForDone(msecs)

    def _pump(self) -> None:
        while self._pending and len(self._in_flight) < self.pool.maxThreadCount():
            key, path = self._pending.popitem(last=True)
            self._in_flight.add(key)
            generation = self._generation
            run_in_thread(decode_thumbnail, path, self.size, pool=self.pool,
                          on_result=lambda image, k=key, g=generation: self._done(k, g, image),
                          on_error=lambda _exc, k=key, g=generation: self._done(k, g, None))

    def _done(self, key: str, generation: int, image: QImage | None) -> None:
        if generation != self._generation:
            return
        self._in_flight.discard(key)
        if image is None:
            self._failed.add(key)
        else:
            self._cache[key] = QPixmap.fromImage(image)
            while len(self._cache) > self.capacity:
                self._cache.popitem(last=False)
        self.ready.emit(key)
        self._pump()
