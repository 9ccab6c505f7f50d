"""AnnotationSession: the open document of the app, with no widget in it.

It owns the open `Dataset` and `Project`, each edited image's mask and `QUndoStack`, which image is current,
which are unsaved, and every rule that keeps an edit safe: open (scan on a worker, autosaves worth offering),
save, discard, the 30 s autosave, restore after a crash, class changes and accepting a prediction. Widgets only
listen to its signals and call its methods: the editor is a view of the current image, the browser of the
statuses and unsaved set, the window's Problems panel and status bar of `problems()`.

It is a QObject (not plain Python behind an adapter) because what it owns is Qt already: the undo stacks, their
clean state and the timer; but it creates no widget, so tests drive open -> edit -> undo -> switch -> autosave
-> restore -> save under a bare QCoreApplication. The split follows napari's layer model and `_qt` views.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import QObject, QThreadPool, QTimer, Signal
from PySide6.QtGui import QUndoGroup, QUndoStack

from ..core.autosave import clear_autosave, write_autosave
from ..core.classes import ClassSet, write_classes_csv
from ..core.dataset import Dataset, Sample
from ..core.edits import Edit, replace_mask
from ..core.errors import DatasetError
from ..core.project import Project
from .editor.undo import EditCommand
from .scan import OpenResult, RestoreItem, read_sample, scan_folder, verify_images
from .workers import run_in_thread

AUTOSAVE_MS = 30_000


@dataclass
class _Doc:
    """One edited image: its in-memory mask and undo history (the history holds only changed rectangles)."""

    mask: np.ndarray
    stack: QUndoStack


class AnnotationSession(QObject):
    """See the module docstring. The current image is the only one edits, undo and Ctrl+S act on; while another
    image loads, or when it cannot be read, there is none (`current_key()` is None)."""

    opened = Signal(object)  # Dataset: open, with `restores()` waiting for an answer
    openFailed = Signal(str)
    currentAboutToChange = Signal()  # views finish a gesture on the old image before it goes
    currentChanged = Signal(object)  # the key now current, or None: nothing is editable
    # keys travel as `object`: a QString would drop the undecodable bytes of a file name that is not UTF-8
    maskChanged = Signal(object, object)  # key, BBox of the pixels that changed
    dirtyChanged = Signal(bool)  # the current image's unsaved state (also emitted when the image changes)
    unsavedChanged = Signal(object)  # frozenset of every unsaved key
    statusChanged = Signal(object, str)  # key, status ("edited")
    problemsChanged = Signal(object)  # list[str]: every problem of the open folder
    classesChanged = Signal(object)  # ClassSet
    message = Signal(str, int)  # status-bar text, milliseconds
    error = Signal(str)  # one sentence the user must read (a failed save, an unwritable class file)
    saved = Signal(object)  # key written to disk

    def __init__(self, parent: QObject | None = None, autosave_ms: int = AUTOSAVE_MS) -> None:
        super().__init__(parent)
        self.dataset: Dataset | None = None
        self.project: Project | None = None
        self.undo_group = QUndoGroup(self)
        self._samples: dict[str, Sample] = {}
        self._docs: dict[str, _Doc] = {}
        self._key: str | None = None
        self._image: np.ndarray | None = None
        self._classes = ClassSet([])
        self._loading: str | None = None
        self._open_token = 0
        self._restores: list[RestoreItem] = []
        self._problems: list[str] = []
        self.unreadable: set[str] = set()
        self._verify_stop = threading.Event()
        self._verify_pool = QThreadPool(self)  # its own thread: verifying never delays decoding the shown image
        self._verify_pool.setMaxThreadCount(1)
        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(autosave_ms)
        self.autosave_timer.timeout.connect(self.autosave_now)
        self.autosave_timer.start()

    # ------------------------------------------------------------------ opening a folder

    def open(self, folder: Path | str) -> None:
        """Scan `folder` on a worker; `opened` or `openFailed` follows (a later open supersedes this one)."""
        self._open_token += 1
        token = self._open_token
        self.message.emit(f"Opening {folder}…", 0)
        run_in_thread(scan_folder, Path(folder),
                      on_result=lambda result: self._on_scanned(result) if token == self._open_token else None,
                      on_error=lambda exc: self._on_open_failed(exc) if token == self._open_token else None)

    def _on_open_failed(self, exc: BaseException) -> None:
        self.message.emit("", 0)
        self.openFailed.emit(str(exc) if isinstance(exc, (DatasetError, OSError)) else
                             f"Opening the folder failed ({exc}); please report this.")

    def _on_scanned(self, result: OpenResult) -> None:
        self._verify_stop.set()
        self._leave_current()
        for key in list(self._docs):
            self._forget(key)
        self.dataset, self.project = result.dataset, result.project
        self._samples = {s.key: s for s in result.dataset.samples}
        self._loading = None
        self.unreadable = set()
        self._problems = [str(p) for p in result.dataset.problems] + (
            [result.project.problem] if result.project.problem else [])
        for entry in result.stale:
            clear_autosave(result.dataset.root, entry.key)
        self._restores = result.restores
        self._set_classes(result.dataset.classes)
        self.unsavedChanged.emit(frozenset())
        self.problemsChanged.emit(self.problems())
        self._verify_stop = threading.Event()
        run_in_thread(verify_images, result.dataset, self._verify_stop, pool=self._verify_pool,
                      on_progress=lambda found, d=result.dataset: self._on_unreadable(d, *found))
        self.message.emit(f"Opened {result.dataset.root}", 5000)
        self.opened.emit(result.dataset)

    def restores(self) -> list[RestoreItem]:
        """Autosaves newer than their masks, found at open and not yet answered."""
        return list(self._restores)

    def resolve_restores(self, keys: set[str] | list[str]) -> int:
        """Write the autosaves of `keys` to their mask files (originals kept once) and drop every other offered
        autosave; returns how many were restored."""
        restored = 0
        for item in self._restores:
            sample = self._samples.get(item.key)
            if item.key in keys and sample is not None:
                try:
                    self.dataset.write_mask(sample, item.autosaved)
                except (DatasetError, OSError) as exc:
                    self.add_problem(str(exc))
                    continue
                self.set_status(item.key, "edited")
                restored += 1
            clear_autosave(self.dataset.root, item.key)
        if self._restores:
            self._save_project()
            self.message.emit(f"Restored {restored} autosaved mask(s)", 5000)
        self._restores = []
        return restored

    def problems(self) -> list[str]:
        """Every problem of the open folder, one sentence each (the Problems panel and the status bar count)."""
        return list(self._problems)

    def add_problem(self, message: str) -> None:
        if message not in self._problems:
            self._problems.append(message)
            self.problemsChanged.emit(self.problems())

    def _on_unreadable(self, dataset: Dataset, key: str, message: str) -> None:
        if dataset is self.dataset:
            self.unreadable.add(key)
            self.add_problem(message)

    # ------------------------------------------------------------------ the current image

    def select(self, key: str) -> None:
        """Make `key` current: nothing is editable until its image is decoded (on a worker) and shown."""
        sample, dataset = self._samples.get(key), self.dataset
        if sample is None:
            return
        self._leave_current()
        self._loading = key
        run_in_thread(read_sample, dataset, sample,
                      on_result=lambda r: self._on_read(dataset, *r),
                      on_error=lambda exc: self._on_read_failed(dataset, key, exc))

    def _on_read(self, dataset: Dataset, key: str, image: np.ndarray, mask: np.ndarray | None) -> None:
        if dataset is not self.dataset or key != self._loading:
            return
        self._loading = None
        try:
            self.set_current(key, image, mask)
        except ValueError as exc:
            self._on_read_failed(dataset, key, exc)
            return
        self.message.emit(f"{key}: {image.shape[1]}x{image.shape[0]}" + ("" if mask is not None else
                                                                          " (unlabelled)"), 3000)

    def _on_read_failed(self, dataset: Dataset, key: str, exc: BaseException) -> None:
        if dataset is not self.dataset or key != self._loading:
            return
        self._loading = None
        message = str(exc) if isinstance(exc, (DatasetError, OSError, ValueError)) else \
            f"{key} could not be shown ({exc})."
        self.unreadable.add(key)
        self.message.emit(message, 8000)
        self.add_problem(message)

    def set_current(self, key: str, image: np.ndarray, mask: np.ndarray | None,
                    classes: ClassSet | None = None) -> None:
        """Show `image` with `mask` (None: unlabelled, start all zero); an edited mask kept for `key` wins."""
        image = np.ascontiguousarray(image, dtype=np.uint8)
        if image.ndim != 3 or image.shape[2] < 3:
            raise ValueError(f"image of {key} has shape {image.shape}; the editor needs an RGB (H, W, 3) array")
        image = np.ascontiguousarray(image[:, :, :3])
        shape = image.shape[:2]
        if mask is not None and mask.shape != shape:
            raise ValueError(f"mask of {key} is {mask.shape[1]}x{mask.shape[0]} but its image is "
                             f"{shape[1]}x{shape[0]}; fix or delete the mask file")
        if key != self._key:
            self._leave_current()
        doc = self._docs.get(key)
        if doc is not None and doc.mask.shape != shape:
            self.discard(key)
            doc = None
        if doc is None:
            data = np.zeros(shape, np.uint8) if mask is None else np.array(mask, dtype=np.uint8, copy=True)
            # parentless, owned by self._docs and deleted by _forget: a child would be cleared (emitting
            # cleanChanged into this half-destroyed session) when the session dies
            stack = QUndoStack()
            stack.cleanChanged.connect(self._on_clean_changed)
            self.undo_group.addStack(stack)
            doc = self._docs[key] = _Doc(data, stack)
        if classes is not None:
            self._set_classes(classes)
        self._key, self._image = key, image
        self.undo_group.setActiveStack(doc.stack)
        self.currentChanged.emit(key)
        self.dirtyChanged.emit(not doc.stack.isClean())

    def _leave_current(self) -> None:
        """No image is current; the one that was is forgotten if it was never edited (it equals its file)."""
        if self._key is None:
            return
        self.currentAboutToChange.emit()
        key, self._key, self._image = self._key, None, None
        self.undo_group.setActiveStack(None)
        doc = self._docs.get(key)
        if doc is not None and doc.stack.count() == 0:
            self._forget(key)
        self.currentChanged.emit(None)
        self.dirtyChanged.emit(False)

    def current_key(self) -> str | None:
        return self._key

    def image(self) -> np.ndarray | None:
        """The current image (RGB uint8), None when no image is current."""
        return self._image

    def mask(self, key: str | None = None) -> np.ndarray:
        """The in-memory mask of `key` (default: the current image), read-only: copy it to keep it."""
        view = self._docs[self._key if key is None else key].mask.view()
        view.flags.writeable = False
        return view

    def live_mask(self) -> np.ndarray:
        """The current image's writable mask, which the tools change in place before `commit`."""
        return self._docs[self._key].mask

    def classes(self) -> ClassSet:
        return self._classes

    def dirty_keys(self) -> list[str]:
        return [k for k, d in self._docs.items() if not d.stack.isClean()]

    # ------------------------------------------------------------------ edits and undo

    def commit(self, text: str, edit: Edit | None) -> None:
        """Push an edit already applied to `live_mask()` as one undo step (nothing when no pixel changed)."""
        if edit is None or self._key is None:
            return
        key = self._key
        doc = self._docs[key]
        doc.stack.push(EditCommand(text, doc.mask, edit, lambda bbox: self.maskChanged.emit(key, bbox)))
        self.maskChanged.emit(key, edit.bbox)

    def accept_prediction(self, prediction: np.ndarray) -> bool:
        """Replace the current mask with `prediction` as one undoable step (then correct it by hand)."""
        if self._key is None or prediction.shape != self._docs[self._key].mask.shape:
            return False
        self.commit("Accept prediction", replace_mask(self.live_mask(), prediction))
        return True

    def undo(self) -> None:
        if self._key is not None:
            self._docs[self._key].stack.undo()

    def redo(self) -> None:
        if self._key is not None:
            self._docs[self._key].stack.redo()

    def _on_clean_changed(self, clean: bool) -> None:
        """Back at the saved state (saved, or undone to it): the autosave of that image must go, or a later
        open would offer to restore an edit the user took back."""
        stack = self.sender()
        key = next((k for k, d in self._docs.items() if d.stack is stack), None)
        if key is None:
            return
        if clean and stack.count() and self.dataset is not None:  # count 0: a stack emptied as it is deleted
            clear_autosave(self.dataset.root, key)
        if key == self._key:
            self.dirtyChanged.emit(not clean)
        self.unsavedChanged.emit(frozenset(self.dirty_keys()))

    def discard(self, key: str) -> None:
        """Forget the in-memory mask, undo history and autosave of `key`; the current image stops being current."""
        if key == self._key:
            self._leave_current()
        if self.dataset is not None:
            clear_autosave(self.dataset.root, key)
        self._forget(key)
        self.unsavedChanged.emit(frozenset(self.dirty_keys()))

    def _forget(self, key: str) -> None:
        doc = self._docs.pop(key, None)
        if doc is not None:
            doc.stack.cleanChanged.disconnect(self._on_clean_changed)
            self.undo_group.removeStack(doc.stack)
            doc.stack.deleteLater()

    # ------------------------------------------------------------------ saving

    def save_current(self) -> bool:
        """Ctrl+S: save the current image; with none current (loading, unreadable) nothing is written."""
        return self._key is None or self.save(self._key)

    def save_all(self) -> bool:
        return all([self.save(k) for k in self.dirty_keys()])

    def save(self, key: str) -> bool:
        """Write `key`'s mask through Dataset.write_mask; on failure say why and keep the edit in memory."""
        sample, doc = self._samples.get(key), self._docs.get(key)
        if sample is None or doc is None or self.dataset is None:
            return False
        try:
            path = self.dataset.write_mask(sample, np.array(doc.mask))
        except DatasetError as exc:
            self.error.emit(str(exc))
            return False
        except OSError as exc:
            self.error.emit(f"Could not save the mask of {key} ({exc.strerror or exc}); check free disk space "
                            "and permissions, your edit is still open.")
            return False
        self.mark_saved(key)
        clear_autosave(self.dataset.root, key)
        self.set_status(key, "edited")
        self._save_project()
        self.saved.emit(key)
        self.message.emit(f"Saved {path}", 4000)
        return True

    def mark_saved(self, key: str) -> None:
        """`key`'s mask in memory now equals its file: its undo stack is clean, so it is no longer unsaved."""
        self._docs[key].stack.setClean()

    def autosave_now(self) -> int:
        """Write every unsaved mask to .seg-desktop/autosave/ (the 30 s timer calls this); returns the count."""
        if self.dataset is None:
            return 0
        written = 0
        for key in self.dirty_keys():
            try:
                write_autosave(self.dataset.root, key, self._docs[key].mask)
                written += 1
            except OSError as exc:
                self.message.emit(f"Autosave of {key} failed ({exc.strerror}); save with Ctrl+S.", 8000)
        return written

    def close(self) -> None:
        """A normal end: stop the timer and the image check (unsaved edits were settled by the caller)."""
        self.autosave_timer.stop()
        self._verify_stop.set()
        self._verify_pool.waitForDone(5000)

    def set_status(self, key: str, status: str) -> None:
        self.project.set_status(key, status)
        self.statusChanged.emit(key, status)

    def _save_project(self) -> None:
        try:
            self.project.save()
        except OSError as exc:
            self.message.emit(f"Could not write {self.project.path} ({exc.strerror}); image statuses are not "
                              "remembered until it can be written.", 8000)

    # ------------------------------------------------------------------ classes

    def apply_classes(self, classes: ClassSet) -> bool:
        """Save `classes` to FOLDER/classes.csv (which then wins over any other class file) and use them."""
        path = self.dataset.root / "classes.csv"
        try:
            write_classes_csv(path, classes)
        except OSError as exc:
            self.error.emit(f"Could not write {path} ({exc.strerror}); check its permissions.")
            return False
        self.dataset.classes = classes
        self.project.classes = classes.to_json()
        self._save_project()
        self._set_classes(classes)
        return True

    def _set_classes(self, classes: ClassSet) -> None:
        self._classes = classes
        self.classesChanged.emit(classes)

