"""Predict every image with a run off the GUI thread, keep the results in the prediction cache, and turn them
into what drives the correction loop: per-image IoU and uncertainty for the browser ("worst first") and the
label-next queue (unlabelled images, most uncertain first).

TensorFlow and `seg_desktop.ml.inference` are imported inside the worker's `run`, on the worker thread, so the
window never waits for TensorFlow to load. The worker opens the dataset itself: it shares no objects with the
GUI and talks to it only through signals.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal, Slot
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QListWidget, QListWidgetItem, QProgressBar, QPushButton,
                               QVBoxLayout, QWidget)

from ..core.dataset import Dataset, open_dataset
from ..core.errors import DatasetError
from ..core.metrics import per_image_scores
from ..core.predictions import PredictionCache, finite_or_none, rank_for_labelling
from ..core.resources import write_failure
from .workers import start_worker_thread

FLUSH_SECONDS = 2.0  # index.json is rewritten at most this often while predicting (and once at the end)
EMIT_MS = 250  # the browser is refreshed at most this often while scores stream in
_KEY = Qt.ItemDataRole.UserRole  # the sample key of a queue entry

_loaded_lock = threading.Lock()
_loaded: tuple[tuple, object] | None = None  # (identity of the model file, LoadedRun): the last model used


def load_run_cached(run_folder: Path):
    """`ml.inference.load_run`, reusing the last loaded model while its file is unchanged, so predicting one more
    image (the one just corrected) does not reload the model."""
    global _loaded
    from ..ml.inference import MODEL_FILES, load_run

    files = [run_folder / name for name in MODEL_FILES]
    identity = (str(run_folder.resolve()),) + tuple(
        (p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files if p.is_file())
    with _loaded_lock:
        if _loaded is not None and _loaded[0] == identity:
            return _loaded[1]
        run = load_run(run_folder)
        _loaded = (identity, run)
        return run


class PredictAllWorker(QObject):
    """Predicts `keys` (default: every image) of the dataset at `dataset_root` with the run at `run_folder`.

    Images already in a current cache are not predicted again; their IoU is recomputed against the mask as it
    is now, so "Predict all" after corrections is quick and the numbers are fresh. Scores are written to the
    cache's index.json as they come and at the end. Images that cannot be read, predicted (out of memory) or
    cached (disk full, read-only) are reported by `skipped` and the rest go on; `failed` means nothing more could
    be done (no model, wrong class count).
    """

    predicted = Signal(str, dict)  # key, {"iou", "entropy", "pixel_accuracy"} (iou/accuracy None if unlabelled)
    skipped = Signal(str, str)  # key, one-sentence reason
    progress = Signal(int, int)  # done, total
    finished = Signal()  # always last, after success, stop or failure
    failed = Signal(str)

    def __init__(self, run_folder: Path | str, dataset_root: Path | str, keys: Sequence[str] | None = None,
                 reuse_cache: bool = True) -> None:
        super().__init__()
        self.run_folder = Path(run_folder)
        self.dataset_root = Path(dataset_root)
        self.keys = None if keys is None else list(keys)
        self.reuse_cache = reuse_cache
        self._stop = threading.Event()

    def stop(self) -> None:
        """Ask the worker to end after the current image (safe from any thread)."""
        self._stop.set()

    @Slot()
    def run(self) -> None:
        try:
            self._predict_all()
        except DatasetError as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # TensorFlow errors (out of memory…): one sentence, never a traceback dialog
            self.failed.emit(f"Predicting with {self.run_folder} failed ({type(exc).__name__}: "
                             f"{str(exc).splitlines()[0] if str(exc) else 'no details'}); try a smaller image "
                             "size or another run.")
        finally:
            self.finished.emit()

    def _predict_all(self) -> None:
        from ..ml.inference import check_classes, predict_sample

        dataset = open_dataset(self.dataset_root)
        run = load_run_cached(self.run_folder)
        k, ignore = run.num_classes, dataset.classes.ignore_index
        check_classes(run, dataset)
        cache = PredictionCache(dataset.root, run.folder)
        kept = cache.bind(run.model_file) and self.reuse_cache
        scores = cache.read_scores() if kept else {}
        by_key = {s.key: s for s in dataset.samples}
        keys = list(by_key) if self.keys is None else self.keys
        max_entropy = math.log(max(k, 2))
        flushed = time.monotonic()
        for i, key in enumerate(keys):
            if self._stop.is_set():
                break
            sample = by_key.get(key)
            try:
                if sample is None:
                    raise DatasetError(f"{key} is no longer in {dataset.root}; reopen the folder.", key)
                mask = cache.load_mask(key) if kept else None
                entropy = finite_or_none(scores.get(key, {}).get("entropy"))
                if mask is None or entropy is None:
                    pred = predict_sample(run, dataset, sample, probabilities=False)[1]
                    try:
                        cache.save(key, pred.mask, pred.entropy, max_entropy)
                    except OSError as exc:  # disk full, read-only: this image goes unscored, the rest go on
                        raise DatasetError(write_failure(exc, cache.mask_path(key)), cache.mask_path(key)) from None
                    mask, entropy = pred.mask, pred.mean_entropy
                result = {"iou": None, "entropy": entropy, "pixel_accuracy": None}
                if sample.labelled:
                    s = per_image_scores(dataset.read_mask(sample), mask, k, ignore)
                    result["iou"] = finite_or_none(s["mean_iou"])
                    result["pixel_accuracy"] = finite_or_none(s["pixel_accuracy"])
            except DatasetError as exc:
                self.skipped.emit(key, str(exc))
            else:
                scores[key] = result
                self.predicted.emit(key, result)
            self.progress.emit(i + 1, len(keys))
            if time.monotonic() - flushed > FLUSH_SECONDS:
                cache.write_scores(scores)
                flushed = time.monotonic()
        cache.write_scores(scores)


class PredictionPanel(QWidget):
    """"Predict all" with progress and stop, and the label-next queue; owns the cache access for one run.

    Connect `scoresChanged` to `DatasetBrowser.set_scores` (worst-first sorting) and `keyActivated` to opening
    an image; `prediction_for(key)` gives the compare view the cached mask and entropy map.
    """

    scoresChanged = Signal(dict)  # key -> {"iou", "entropy", "pixel_accuracy"}; throttled while predicting
    predicted = Signal(str)  # one image's prediction is now in the cache
    keyActivated = Signal(str)  # an entry of the label-next queue was chosen
    failed = Signal(str)
    runningChanged = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.dataset: Dataset | None = None
        self.run_folder: Path | None = None
        self.cache: PredictionCache | None = None
        self.scores: dict[str, dict] = {}
        self.unreadable: frozenset[str] = frozenset()  # images that cannot be decoded: never offered for labelling
        self.problems: list[str] = []
        self._thread: QThread | None = None
        self._worker: PredictAllWorker | None = None
        self._emit_timer = QTimer(self, singleShot=True, interval=EMIT_MS)
        self._emit_timer.timeout.connect(lambda: self.scoresChanged.emit(dict(self.scores)))

        self.predict_button = QPushButton("Predict all")
        self.predict_button.setToolTip("Predict every image with the selected run; gives IoU and uncertainty per "
                                       "image, so the browser can sort worst first.")
        self.predict_button.clicked.connect(lambda: self.predict_all())
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        self.progress_bar = QProgressBar()
        self.progress_bar.setFormat("%v / %m")
        self.status = QLabel("")
        self.status.setWordWrap(True)
        self.queue = QListWidget()
        self.queue.setToolTip("Unlabelled images, the ones the model is least sure about first: labelling these "
                              "teaches it most.")
        self.queue.itemActivated.connect(lambda item: self.keyActivated.emit(item.data(_KEY)))
        row = QHBoxLayout()
        row.addWidget(self.predict_button)
        row.addWidget(self.stop_button)
        row.addWidget(self.progress_bar, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(QLabel("Label next (most uncertain first):"))
        layout.addWidget(self.queue, 1)
        self._set_running(False)

    # ------------------------------------------------------------------ context and cache

    def set_context(self, dataset: Dataset | None, run_folder: Path | str | None) -> None:
        """Use `run_folder`'s predictions for `dataset`: cached scores are shown at once, if still current."""
        if not self.stop_and_wait():
            self._worker = None  # still busy with a huge image: ignore what it reports, clean up when it ends
        self.dataset = dataset
        self.run_folder = Path(run_folder) if run_folder else None
        self.cache = PredictionCache(dataset.root, self.run_folder) if dataset and self.run_folder else None
        self.scores = self.cache.read_scores() if self.cache else {}
        self.status.setText("" if self.cache else "Choose a trained run to predict with.")
        total = len(dataset.samples) if dataset else 0
        self.progress_bar.setRange(0, max(1, total))  # this folder's count, not the last folder's "16 / 16"
        self.progress_bar.setValue(min(len(self.scores), total))
        self.scoresChanged.emit(dict(self.scores))
        self.refresh_queue()
        self._set_running(False)

    def prediction_for(self, key: str) -> tuple[np.ndarray, np.ndarray | None] | None:
        """(predicted mask, entropy map in nats) of `key` from the cache, or None if it was not predicted."""
        if self.cache is None or self.dataset is None or not self.cache.is_current():
            return None
        mask = self.cache.load_mask(key)
        if mask is None:
            return None
        return mask, self.cache.load_entropy(key, math.log(max(self.dataset.classes.num_classes, 2)))

    def label_next(self) -> list[str]:
        """Unlabelled keys, most uncertain first (images not yet predicted last); unreadable images are left out."""
        if self.dataset is None:
            return []
        return rank_for_labelling(self.scores, [s.key for s in self.dataset.samples
                                                if not s.labelled and s.key not in self.unreadable])

    def set_unreadable(self, keys: set[str] | frozenset[str]) -> None:
        """The images found unreadable so far (the session checks every image after a folder opens)."""
        self.unreadable = frozenset(keys)
        self.refresh_queue()

    def refresh_queue(self) -> None:
        """Rebuild the label-next list (call after a mask was saved: that image leaves the queue)."""
        self.queue.clear()
        for key in self.label_next():
            entropy = self.scores.get(key, {}).get("entropy")
            text = key if entropy is None else f"{key}   entropy {entropy:.3f}"
            item = QListWidgetItem(text)
            item.setData(_KEY, key)
            self.queue.addItem(item)

    # ------------------------------------------------------------------ predicting

    def predict_all(self, keys: Sequence[str] | None = None, reuse_cache: bool = True) -> bool:
        """Start predicting `keys` (default all) in a worker thread; False if there is nothing to predict with."""
        if self.dataset is None or self.run_folder is None or self.is_running():
            return False
        self.problems = []
        worker = PredictAllWorker(self.run_folder, self.dataset.root, keys, reuse_cache)
        self.progress_bar.setRange(0, max(len(keys) if keys is not None else len(self.dataset.samples), 1))
        self.progress_bar.setValue(0)
        self.status.setText("Loading the model…")
        self._worker = worker
        self._set_running(True)
        self._thread = start_worker_thread(
            worker, worker.finished, {worker.predicted: self._on_predicted, worker.skipped: self._on_skipped,
                                      worker.progress: self._on_progress, worker.failed: self._on_failed},
            self._on_thread_finished, parent=self, name="seg-desktop-predict-all")
        return True

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.stop()
            self.status.setText("Stopping after the current image…")

    def is_running(self) -> bool:
        return self._thread is not None

    def stop_and_wait(self, msecs: int = 30000) -> bool:
        """Stop a running prediction and wait for its thread (before closing the window or switching runs)."""
        if self._thread is None:
            return True
        self.stop()
        thread = self._thread
        done = thread.wait(msecs)
        if done:
            self._finish(thread)
        return done

    def _current(self) -> bool:
        """Whether the signal being handled comes from the running worker, not one stopped by a new context."""
        return self._worker is not None and self.sender() is self._worker

    @Slot(str, dict)
    def _on_predicted(self, key: str, scores: dict) -> None:
        if not self._current():
            return
        self.scores[key] = scores
        self.predicted.emit(key)
        if not self._emit_timer.isActive():
            self._emit_timer.start()

    @Slot(str, str)
    def _on_skipped(self, key: str, message: str) -> None:
        if self._current():
            self.problems.append(message)

    @Slot(int, int)
    def _on_progress(self, done: int, total: int) -> None:
        if not self._current():
            return
        self.progress_bar.setRange(0, max(total, 1))
        self.progress_bar.setValue(done)
        self.status.setText(f"Predicted {done} of {total} images.")

    @Slot(str)
    def _on_failed(self, message: str) -> None:
        if not self._current():
            return
        self.status.setText(message)
        self.failed.emit(message)

    @Slot()
    def _on_thread_finished(self) -> None:
        self._finish(self.sender())

    def _finish(self, thread: QThread) -> None:
        if self._thread is not thread:  # already handled by stop_and_wait
            return
        # `finished` comes just before the thread ends: wait for that, then the worker (owned by Python, with no
        # thread left to run in) can be released here and the thread object deleted.
        thread.wait()
        self._thread = self._worker = None
        thread.deleteLater()
        self._emit_timer.stop()
        self.scoresChanged.emit(dict(self.scores))
        self.refresh_queue()
        if self.problems:
            self.status.setText(f"{len(self.problems)} image(s) could not be predicted, e.g. {self.problems[0]}")
        self._set_running(False)

    def _set_running(self, running: bool) -> None:
        self.predict_button.setEnabled(not running and self.cache is not None)
        self.stop_button.setEnabled(running)
        self.runningChanged.emit(running)
