"""The main window: dataset browser, mask editor, class palette and tool options, the training and prediction
docks and the compare view, and the rules that never lose an edit (save on Ctrl+S and on switching images,
autosave every 30 s, restore after a crash, ask before closing).

The window holds Qt state only. Folder scanning and image decoding run on a worker thread through core/, saving
goes through `Dataset.write_mask` (atomic, original kept once) and autosaves through core/autosave.py. Nothing
here imports TensorFlow, so the window is up before any model code loads.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import (QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QGuiApplication, QKeySequence,
                           QUndoGroup)
from PySide6.QtWidgets import (QDockWidget, QFileDialog, QLabel, QListWidget, QMainWindow, QScrollArea, QStyle,
                               QTabWidget, QToolBar, QWidget)

from ..core.autosave import (Autosave, clear_autosave, list_autosaves, newer_than_masks, read_autosave,
                             write_autosave)
from ..core.classes import ClassSet, write_classes_csv
from ..core.dataset import Dataset, Sample, open_dataset
from ..core.edits import replace_mask
from ..core.errors import DatasetError
from ..core.project import Project, load_project
from . import dialogs
from .browser import DatasetBrowser
from .compare import CompareView
from .editor.actions import EditorActions
from .editor.canvas import MaskEditor
from .editor.palette import ClassPalette
from .editor.tool_options import ToolOptions
from .export_dialog import ExportDialog
from .health import HealthDialog
from .prediction import PredictionPanel
from .training import TrainingPanel
from .workers import run_in_thread

AUTOSAVE_MS = 30_000
MAX_RECENT = 10
ASK_BEFORE_SWITCH = "editor/ask_before_switch"
RECENT = "recent/folders"


@dataclass
class OpenResult:
    """What the worker found in a folder: the dataset, its project state and autosaves worth offering."""

    dataset: Dataset
    project: Project
    autosaves: list[Autosave] = field(default_factory=list)
    stale: list[Autosave] = field(default_factory=list)  # autosaves older than the mask: already superseded


def scan_folder(folder: Path) -> OpenResult:
    """Index a folder (worker thread): layout, samples, classes, problems, project.json, autosaves."""
    project = load_project(Path(folder).expanduser().resolve())
    dataset = open_dataset(folder, project.val_fraction, project.test_fraction, project.seed)
    project.folder = dataset.root
    entries = list_autosaves(dataset.root)
    samples = {s.key: s for s in dataset.samples}
    mtimes: dict[str, float | None] = {}
    for entry in entries:
        sample = samples.get(entry.key)
        if sample is not None:
            try:
                mtimes[entry.key] = sample.mask_path.stat().st_mtime if sample.mask_path else None
            except OSError:
                mtimes[entry.key] = None
    offered = newer_than_masks(entries, mtimes)
    return OpenResult(dataset, project, offered, [e for e in entries if e not in offered])


def read_sample(dataset: Dataset, sample: Sample) -> tuple[str, np.ndarray, np.ndarray | None]:
    """Decode one image and its mask (worker thread)."""
    image = dataset.read_image(sample)
    return sample.key, image, dataset.read_mask(sample) if sample.labelled else None


def _scrollable(widget: QWidget) -> QScrollArea:
    """A tall panel in a scroll area, so its dock never forces the window above a laptop screen's size."""
    area = QScrollArea()
    area.setWidget(widget)
    area.setWidgetResizable(True)
    area.setFrameShape(QScrollArea.Shape.NoFrame)
    return area


def trained_runs(root: Path) -> list[Path]:
    """The folder's runs that have a model to predict with, newest first (the newest is Predict all's default)."""
    from ..ml.runs import list_runs

    return [r.folder for r in list_runs(root) if r.has_best]


class MainWindow(QMainWindow):
    """See the module docstring. `datasetOpened` and `sampleLoaded` let later docks (training, compare) follow."""

    datasetOpened = Signal(object)  # Dataset
    sampleLoaded = Signal(str)

    def __init__(self, settings: QSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings if settings is not None else QSettings()
        self.dataset: Dataset | None = None
        self.project: Project | None = None
        self._samples: dict[str, Sample] = {}
        self._editor_keys: set[str] = set()  # keys given to the editor, forgotten when another folder opens
        self._loading_key: str | None = None
        self._open_token = 0
        self._closing = False

        self.undo_group = QUndoGroup(self)
        self.editor = MaskEditor(self.undo_group, self)
        self.compare = CompareView(self)
        self.tabs = QTabWidget(self)
        self.tabs.setDocumentMode(True)
        self.tabs.setUsesScrollButtons(True)  # the tab titles must not set the window's minimum width
        self.tabs.addTab(self.editor, "Edit mask")
        self.tabs.addTab(self.compare, "Prediction vs ground truth")
        self.tabs.currentChanged.connect(self._refresh_compare)
        self.setCentralWidget(self.tabs)
        self.editor_actions = EditorActions(self.editor, self)

        self.browser = DatasetBrowser(self)
        self.palette = ClassPalette(self)
        self.tool_options = ToolOptions(self, settings=self.settings)
        self.problems = QListWidget(self)
        self.problems.setWordWrap(True)
        self.palette.attach(self.editor)
        self.tool_options.attach(self.editor)
        self.browser_dock = self._dock("Images", "browserDock", self.browser, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.palette_dock = self._dock("Classes", "classesDock", self.palette, Qt.DockWidgetArea.RightDockWidgetArea)
        self.problems_dock = self._dock("Problems", "problemsDock", self.problems,
                                        Qt.DockWidgetArea.BottomDockWidgetArea)
        self.problems_dock.hide()
        self.training = TrainingPanel(self)
        self.training_dock = self._dock("Training", "trainingDock", _scrollable(self.training),
                                        Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(self.palette_dock, self.training_dock)
        self.palette_dock.raise_()
        self.prediction = PredictionPanel(self)
        self.prediction_dock = self._dock("Predictions", "predictionDock", self.prediction,
                                          Qt.DockWidgetArea.LeftDockWidgetArea)
        # tool options under the browser, so the right column's full height is the training panel's curves
        self.tools_dock = self._dock("Tool options", "toolOptionsDock", self.tool_options,
                                     Qt.DockWidgetArea.LeftDockWidgetArea)

        self.summary = QLabel("No folder open")
        self.statusBar().addPermanentWidget(self.summary)
        self._build_actions()

        self.browser.currentKeyChanged.connect(self._on_browser_key)
        self.editor.maskChanged.connect(self._refresh_dirty)
        self.editor.dirtyChanged.connect(self._refresh_dirty)
        self.editor.statusMessage.connect(lambda m: self.statusBar().showMessage(m, 4000))
        self.editor.maskChanged.connect(self._refresh_compare)
        self.sampleLoaded.connect(self._on_sample_shown)
        self.training.statusMessage.connect(lambda m: self.statusBar().showMessage(m, 8000))
        self.training.runFinished.connect(self._on_run_finished)
        self.training.runSelected.connect(self._use_run)
        self.prediction.scoresChanged.connect(self.browser.set_scores)
        self.prediction.keyActivated.connect(self.browser.select_key)
        self.prediction.predicted.connect(self._on_predicted)
        self.prediction.failed.connect(lambda m: self.statusBar().showMessage(m, 8000))

        self.autosave_timer = QTimer(self)
        self.autosave_timer.setInterval(AUTOSAVE_MS)
        self.autosave_timer.timeout.connect(self.autosave_now)
        self.autosave_timer.start()

        self.setAcceptDrops(True)
        # first start (a saved layout replaces this): most of the screen, names readable, the image in the middle
        screen = QGuiApplication.primaryScreen()
        if screen is not None:
            room = screen.availableGeometry()
            self.resize(max(min(1800, room.width() * 9 // 10), 1024), max(min(1100, room.height() * 9 // 10), 700))
        else:
            self.resize(1280, 800)
        self.resizeDocks([self.browser_dock, self.palette_dock], [400, 300], Qt.Orientation.Horizontal)
        self.resizeDocks([self.browser_dock, self.prediction_dock, self.tools_dock], [520, 200, 170],
                         Qt.Orientation.Vertical)
        self._widened_for_training = False
        self.training_dock.visibilityChanged.connect(self._widen_for_training)
        self.restoreGeometry(self.settings.value("window/geometry", b""))
        self.restoreState(self.settings.value("window/state", b""))
        self._update_title()

    # ------------------------------------------------------------------ construction

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)  # saveState/restoreState identify docks by name
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _action(self, text: str, slot, shortcut: QKeySequence | str | None = None,
                icon: QStyle.StandardPixmap | None = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if icon is not None:
            action.setIcon(self.style().standardIcon(icon))
        action.triggered.connect(slot)
        return action

    def _build_actions(self) -> None:
        sp = QStyle.StandardPixmap
        self.open_action = self._action("&Open folder…", self.choose_folder, QKeySequence.StandardKey.Open,
                                        sp.SP_DirOpenIcon)
        self.sample_action = self._action("Open &sample dataset", self.open_sample)
        self.save_action = self._action("&Save mask", self.save_current, QKeySequence.StandardKey.Save,
                                        sp.SP_DialogSaveButton)
        self.save_all_action = self._action("Save &all masks", self.save_all, "Ctrl+Shift+S")
        self.classes_action = self._action("&Classes…", self.edit_classes)
        self.quit_action = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit)
        self.ask_switch_action = QAction("Ask before saving on image switch", self, checkable=True)
        self.ask_switch_action.setChecked(self.settings.value(ASK_BEFORE_SWITCH, False, type=bool))
        self.ask_switch_action.toggled.connect(lambda on: self.settings.setValue(ASK_BEFORE_SWITCH, on))
        ea = self.editor_actions
        ea.undo.setIcon(self.style().standardIcon(sp.SP_ArrowBack))
        ea.redo.setIcon(self.style().standardIcon(sp.SP_ArrowForward))

        menu = self.menuBar().addMenu("&File")
        menu.addAction(self.open_action)
        self.recent_menu = menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        menu.addAction(self.sample_action)
        menu.addSeparator()
        menu.addActions([self.save_action, self.save_all_action])
        menu.addSeparator()
        menu.addAction(self.quit_action)

        menu = self.menuBar().addMenu("&Edit")
        menu.addActions([ea.undo, ea.redo])
        menu.addSeparator()
        menu.addAction(self.classes_action)
        menu.addSeparator()
        menu.addAction(self.ask_switch_action)

        menu = self.menuBar().addMenu("&Tools")
        menu.addActions(list(ea.tool_actions.values()))

        self.train_action = self._action("&Train", self._train, "Ctrl+T", sp.SP_MediaPlay)
        self.stop_train_action = self._action("&Stop training", self.training.request_stop, None, sp.SP_MediaStop)
        self.predict_action = self._action("&Predict all", lambda: self.prediction.predict_all(), "Ctrl+Shift+P")
        self.accept_action = self._action("&Accept prediction as mask", self.accept_prediction, "Ctrl+Shift+A")
        self.label_next_action = self._action("&Label next (most uncertain)", self.label_next, "Ctrl+N")
        self.health_action = self._action("Dataset &health…", self.show_health)
        self.export_action = self._action("&Export predictions…", self.show_export, "Ctrl+E")
        menu = self.menuBar().addMenu("&Model")
        menu.addActions([self.train_action, self.stop_train_action])
        menu.addSeparator()
        menu.addActions([self.predict_action, self.accept_action, self.label_next_action])
        menu.addSeparator()
        menu.addActions([self.health_action, self.export_action])

        menu = self.menuBar().addMenu("&View")
        menu.addActions([ea.toggle_overlay, ea.fit, ea.zoom_in, ea.zoom_out])
        menu.addSeparator()
        self.show_editor_action = self._action("Edit mask", lambda: self.tabs.setCurrentIndex(0), "Ctrl+1")
        self.show_compare_action = self._action("Prediction vs ground truth", lambda: self.tabs.setCurrentIndex(1),
                                                "Ctrl+2")
        menu.addActions([self.show_editor_action, self.show_compare_action])
        menu.addSeparator()
        for dock in (self.browser_dock, self.palette_dock, self.tools_dock, self.training_dock,
                     self.prediction_dock, self.problems_dock):
            menu.addAction(dock.toggleViewAction())

        bar = QToolBar("Main", self)
        bar.setObjectName("mainToolBar")
        bar.addActions([self.open_action, self.save_action])
        bar.addSeparator()
        bar.addActions([ea.undo, ea.redo])
        bar.addSeparator()
        bar.addActions(list(ea.tool_actions.values()))
        bar.addSeparator()
        bar.addActions([self.train_action, self.predict_action])
        self.addToolBar(bar)
        self.toolbar = bar

    # ------------------------------------------------------------------ opening folders

    def choose_folder(self) -> None:
        start = str(self.dataset.root) if self.dataset else str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Open dataset folder", start)
        if folder:
            self.open_folder(Path(folder))

    def open_sample(self) -> None:
        """The built-in sample dataset (generated once into the user cache on a worker)."""
        from ..core.sample_data import sample_dataset_dir

        self.statusBar().showMessage("Preparing the sample dataset…")
        run_in_thread(sample_dataset_dir, on_result=self.open_folder, on_error=self._on_open_failed)

    def open_folder(self, folder: Path | str) -> bool:
        """Scan `folder` on a worker; False when the user cancelled because of unsaved edits."""
        if not self._settle_unsaved("opening another folder"):
            return False
        self._open_token += 1
        token = self._open_token
        self.statusBar().showMessage(f"Opening {folder}…")
        run_in_thread(scan_folder, Path(folder),
                      on_result=lambda result: self._on_opened(result) if token == self._open_token else None,
                      on_error=lambda exc: self._on_open_failed(exc) if token == self._open_token else None)
        return True

    def _on_open_failed(self, exc: BaseException) -> None:
        self.statusBar().clearMessage()
        dialogs.show_error(self, str(exc) if isinstance(exc, (DatasetError, OSError)) else
                           f"Opening the folder failed ({exc}); please report this.")

    def _on_opened(self, result: OpenResult) -> None:
        for key in self._editor_keys:
            self.editor.discard(key)
        self._editor_keys.clear()
        self._loading_key = None
        dataset = self.dataset = result.dataset
        self.project = result.project
        self._samples = {s.key: s for s in dataset.samples}
        self.editor.set_classes(dataset.classes)
        self.browser.set_dataset(dataset, self.project.status)
        self._show_problems()
        self._remember_recent(dataset.root)
        self._update_title()
        for entry in result.stale:
            clear_autosave(dataset.root, entry.key)
        if result.autosaves:
            if dialogs.offer_restore(self, result.autosaves):
                self.restore_autosaves(result.autosaves)
            else:
                for entry in result.autosaves:
                    clear_autosave(dataset.root, entry.key)
        self.statusBar().showMessage(f"Opened {dataset.root}", 5000)
        keys = self.browser.visible_keys()
        if keys:
            self.browser.select_key(keys[0])
        self.training.set_dataset(dataset)
        self._use_run(next(iter(trained_runs(dataset.root)), None))
        self.datasetOpened.emit(dataset)

    def _show_problems(self) -> None:
        dataset, project = self.dataset, self.project
        lines = [str(p) for p in dataset.problems] + ([project.problem] if project.problem else [])
        self.problems.clear()
        self.problems.addItems(lines)
        self.problems_dock.setWindowTitle(f"Problems ({len(lines)})")
        self.problems_dock.setVisible(bool(lines))
        labelled = sum(1 for s in dataset.samples if s.labelled)
        self.summary.setText(f"{dataset.layout} · {len(dataset.samples)} images · {labelled} labelled · "
                             f"{len(dataset.samples) - labelled} unlabelled · {len(lines)} problem(s) · "
                             f"{dataset.classes.num_classes} classes")

    def _add_problem(self, message: str) -> None:
        self.problems.addItem(message)
        self.problems_dock.setWindowTitle(f"Problems ({self.problems.count()})")
        self.problems_dock.show()

    def restore_autosaves(self, entries: list[Autosave]) -> int:
        """Write autosaved masks to their files (originals kept once); returns how many were restored."""
        restored = 0
        for entry in entries:
            sample = self._samples.get(entry.key)
            if sample is None:
                continue
            try:
                self.dataset.write_mask(sample, read_autosave(entry))
            except (DatasetError, OSError) as exc:
                self._add_problem(str(exc))
                continue
            clear_autosave(self.dataset.root, entry.key)
            self._set_status(entry.key, "edited")
            restored += 1
        self._save_project()
        self.statusBar().showMessage(f"Restored {restored} autosaved mask(s)", 5000)
        return restored

    # ------------------------------------------------------------------ recent folders

    def recent_folders(self) -> list[str]:
        return [str(f) for f in self.settings.value(RECENT, [], type=list) if f]

    def _remember_recent(self, folder: Path) -> None:
        folders = [str(folder)] + [f for f in self.recent_folders() if f != str(folder)]
        self.settings.setValue(RECENT, folders[:MAX_RECENT])

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for folder in self.recent_folders():
            action = self.recent_menu.addAction(folder)
            action.triggered.connect(lambda _=False, f=folder: self.open_folder(Path(f)))
        self.recent_menu.setEnabled(True)
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("(none)").setEnabled(False)

    # ------------------------------------------------------------------ moving between images

    def _on_browser_key(self, key: str) -> None:
        previous = self.editor.current_key()
        if previous is not None and previous != key and previous in self.editor.dirty_keys():
            if self.settings.value(ASK_BEFORE_SWITCH, False, type=bool):
                answer = dialogs.ask_unsaved(self, [previous], "switching images")
            else:
                answer = dialogs.SAVE
            if answer == dialogs.CANCEL or (answer == dialogs.SAVE and not self.save_key(previous)):
                self.browser.select_key(previous, silent=True)
                return
            if answer == dialogs.DISCARD:
                self._discard(previous)
        self.load_sample(key)

    def load_sample(self, key: str) -> None:
        """Decode `key`'s image and mask on a worker, then show it in the editor (unless the user moved on)."""
        sample, dataset = self._samples.get(key), self.dataset
        if sample is None:
            return
        self._loading_key = key
        run_in_thread(read_sample, dataset, sample,
                      on_result=lambda r: self._on_sample_read(dataset, *r),
                      on_error=lambda exc: self._on_sample_failed(dataset, key, exc))

    def _on_sample_read(self, dataset: Dataset, key: str, image: np.ndarray, mask: np.ndarray | None) -> None:
        if dataset is not self.dataset or key != self._loading_key:
            return
        self.editor.set_sample(key, image, mask, dataset.classes)
        self._editor_keys.add(key)
        self.statusBar().showMessage(f"{key}: {image.shape[1]}x{image.shape[0]}"
                                     + ("" if mask is not None else " (unlabelled)"), 3000)
        self.sampleLoaded.emit(key)

    def _on_sample_failed(self, dataset: Dataset, key: str, exc: BaseException) -> None:
        if dataset is not self.dataset:
            return
        message = str(exc) if isinstance(exc, (DatasetError, OSError)) else f"{key} could not be shown ({exc})."
        self.statusBar().showMessage(message, 8000)
        self._add_problem(message)

    # ------------------------------------------------------------------ saving

    def save_current(self) -> bool:
        key = self.editor.current_key()
        return key is None or self.save_key(key)

    def save_all(self) -> bool:
        return all([self.save_key(k) for k in self.editor.dirty_keys()])

    def save_key(self, key: str) -> bool:
        """Write `key`'s mask through Dataset.write_mask; on failure say why and keep the edit in memory."""
        sample = self._samples.get(key)
        if sample is None or self.dataset is None:
            return False
        try:
            path = self.dataset.write_mask(sample, np.array(self.editor.mask(key)))
        except DatasetError as exc:
            dialogs.show_error(self, str(exc))
            return False
        except OSError as exc:
            dialogs.show_error(self, f"Could not save the mask of {key} ({exc.strerror or exc}); check free disk "
                                     "space and permissions, your edit is still open.")
            return False
        self.editor.mark_saved(key)
        clear_autosave(self.dataset.root, key)
        self._set_status(key, "edited")
        self._save_project()
        self._refresh_dirty()
        self.prediction.refresh_queue()
        self.statusBar().showMessage(f"Saved {path}", 4000)
        return True

    def _discard(self, key: str) -> None:
        if self.dataset is not None:
            clear_autosave(self.dataset.root, key)
        self.editor.discard(key)
        self._editor_keys.discard(key)
        self._refresh_dirty()

    def _set_status(self, key: str, status: str) -> None:
        self.project.set_status(key, status)
        self.browser.set_status(key, status)

    def _save_project(self) -> None:
        try:
            self.project.save()
        except OSError as exc:
            self.statusBar().showMessage(f"Could not write {self.project.path} ({exc.strerror}); image statuses "
                                         "are not remembered until it can be written.", 8000)

    def autosave_now(self) -> int:
        """Write every unsaved mask to .seg-desktop/autosave/ (the 30 s timer calls this); returns the count."""
        if self.dataset is None:
            return 0
        written = 0
        for key in self.editor.dirty_keys():
            try:
                write_autosave(self.dataset.root, key, self.editor.mask(key))
                written += 1
            except OSError as exc:
                self.statusBar().showMessage(f"Autosave of {key} failed ({exc.strerror}); save with Ctrl+S.", 8000)
        return written

    def _settle_unsaved(self, action: str) -> bool:
        """Ask Save/Discard/Cancel when masks are unsaved; True when it is fine to go on."""
        dirty = self.editor.dirty_keys()
        if not dirty:
            return True
        answer = dialogs.ask_unsaved(self, dirty, action)
        if answer == dialogs.SAVE:
            return self.save_all()
        if answer == dialogs.DISCARD:
            for key in dirty:
                self._discard(key)
            return True
        return False

    def _refresh_dirty(self, *_args: object) -> None:
        dirty = set(self.editor.dirty_keys())
        self.setWindowModified(bool(dirty))
        self.browser.set_dirty(dirty)

    def _update_title(self) -> None:
        where = f" — {self.dataset.root}" if self.dataset else ""
        self.setWindowTitle(f"seg-desktop{where}[*]")

    # ------------------------------------------------------------------ training and prediction

    def _widen_for_training(self, visible: bool) -> None:
        """The first time the Training tab shows in a session, give its form and curves the width they need
        (the class palette beside it needs far less); a width the user sets afterwards is left alone."""
        if not visible or self._widened_for_training:
            return
        self._widened_for_training = True
        if self.training_dock.width() < 560:
            self.resizeDocks([self.training_dock], [min(600, self.width() * 2 // 5)], Qt.Orientation.Horizontal)

    def _train(self) -> None:
        self.training_dock.show()
        self.training_dock.raise_()
        self.training.start_training()

    def _use_run(self, run_folder: Path | str | None) -> None:
        """Predict with `run_folder` from now on (cached predictions of it show at once)."""
        self.prediction.set_context(self.dataset, run_folder)
        self._on_sample_shown(self.editor.current_key())

    def _on_run_finished(self, run_folder: str) -> None:
        """A finished run predicts every image at once, so the browser can sort worst-first for correcting."""
        if self._closing:  # a run stopped by closing reports after the window has gone: start nothing new
            return
        self._use_run(run_folder)
        self.prediction.predict_all()

    def _on_predicted(self, key: str) -> None:
        if key == self.editor.current_key():
            self._on_sample_shown(key)

    def _on_sample_shown(self, key: str | None) -> None:
        """Give the editor the prediction for its prediction brush, and the compare view what it shows."""
        found = self.prediction.prediction_for(key) if key else None
        self.editor.set_reference_mask(found[0] if found else None)
        self._refresh_compare()

    def _refresh_compare(self, *_args: object) -> None:
        """Only while the compare tab is visible: every stroke would otherwise recompute its error map."""
        key = self.editor.current_key()
        if self.tabs.currentWidget() is not self.compare:
            return
        if key is None or self.dataset is None:
            self.compare.clear()
            return
        found = self.prediction.prediction_for(key)
        sample = self._samples.get(key)
        gt = np.array(self.editor.mask(key)) if sample is not None and (sample.labelled or key in
                                                                        self.editor.dirty_keys()) else None
        pred, entropy = found if found else (None, None)
        self.compare.show_prediction(self.editor.image(), gt, pred, self.dataset.classes, entropy)

    def accept_prediction(self) -> bool:
        """Replace the shown mask with the model's prediction, as one undoable step (then correct it by hand)."""
        key = self.editor.current_key()
        found = self.prediction.prediction_for(key) if key else None
        if found is None:
            self.statusBar().showMessage("No prediction for this image yet: train a model and run Predict all.", 6000)
            return False
        self.editor.commit("Accept prediction", replace_mask(self.editor.live_mask(), found[0]))
        self.statusBar().showMessage("Prediction accepted as the mask; correct it, then save (Ctrl+S).", 6000)
        return True

    def label_next(self) -> bool:
        """Open the unlabelled image the model is least sure about."""
        queue = self.prediction.label_next()
        if not queue:
            self.statusBar().showMessage("No unlabelled images left.", 5000)
            return False
        self.browser.select_key(queue[0])
        return True

    def show_health(self) -> None:
        if self.dataset is not None:
            HealthDialog(self.dataset, self).exec()

    def show_export(self) -> None:
        if self.dataset is None:
            return
        runs = trained_runs(self.dataset.root)
        if not runs:
            dialogs.show_error(self, "There is no trained model in this folder yet; train one first (Ctrl+T).")
            return
        selected = [self.editor.current_key()] if self.editor.current_key() else []
        ExportDialog(self.dataset, runs, selected, settings=self.settings, parent=self).exec()

    # ------------------------------------------------------------------ classes

    def edit_classes(self) -> None:
        if self.dataset is None:
            return
        dialog = dialogs.ClassEditorDialog(self.dataset.classes, self.dataset.new_mask_format.kind != "color", self)
        if dialog.exec():
            self.apply_classes(dialog.classes())

    def apply_classes(self, classes: ClassSet) -> bool:
        """Save `classes` to FOLDER/classes.csv (which then wins over any other class file) and refresh."""
        path = self.dataset.root / "classes.csv"
        try:
            write_classes_csv(path, classes)
        except OSError as exc:
            dialogs.show_error(self, f"Could not write {path} ({exc.strerror}); check its permissions.")
            return False
        self.dataset.classes = classes
        self.project.classes = classes.to_json()
        self._save_project()
        self.editor.set_classes(classes)
        self._show_problems()
        return True

    # ------------------------------------------------------------------ window events

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._dropped_folder(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        folder = self._dropped_folder(event)
        if folder is not None:
            event.acceptProposedAction()
            self.open_folder(folder)

    @staticmethod
    def _dropped_folder(event: QDragEnterEvent | QDropEvent) -> Path | None:
        urls = event.mimeData().urls() if event.mimeData().hasUrls() else []
        paths = [Path(u.toLocalFile()) for u in urls if u.isLocalFile()]
        return next((p for p in paths if p.is_dir()), None)

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._settle_unsaved("closing"):
            event.ignore()
            return
        self._closing = True
        self.training.stop_and_wait(15000)
        self.prediction.stop_and_wait(15000)
        self.autosave_timer.stop()
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.sync()
        self.browser.thumbnails.wait()
        event.accept()
