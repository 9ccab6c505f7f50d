"""The main window: wiring only. It places the widgets (browser, mask editor, class palette and tool options,
the training and prediction docks, the compare view), asks the user the questions the session cannot
(`dialogs.*`: unsaved edits on switch and close, which autosaves to restore) and forwards signals.

The open document (dataset, project, masks and undo stacks, save/autosave/restore, classes) is the
`AnnotationSession` of session.py; the editor is a view of its current image. Nothing here imports TensorFlow,
so the window is up before any model code loads.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PySide6.QtCore import QSettings
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFileDialog, QLabel, QListWidget, QMainWindow, QTabWidget, QWidget

from ..core.dataset import Dataset
from ..core.paths import display_path
from . import dialogs
from .browser import DatasetBrowser
from .compare import CompareView
from .editor.actions import EditorActions
from .editor.canvas import MaskEditor
from .editor.palette import ClassPalette
from .editor.tool_options import ToolOptions
from .export_dialog import ExportDialog
from .health import HealthDialog
from .layout import add_docks, first_layout, fit_problems, restore_layout
from .menus import ASK_BEFORE_SWITCH, RecentFolders, build_menus
from .prediction import PredictionPanel
from .review import ReviewPanel
from .run_choice import ask_replace, replaces_without_asking, trained_runs
from .session import AnnotationSession
from .training import TrainingPanel
from .workers import run_in_thread

class MainWindow(QMainWindow):
    """See the module docstring."""

    def __init__(self, settings: QSettings | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings if settings is not None else QSettings()
        self._closing = False
        self.session = AnnotationSession(self)
        self.editor = MaskEditor(self.session, self)
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
        self.training = TrainingPanel(self)
        self.prediction = PredictionPanel(self)
        self.review = ReviewPanel(self.session, self.editor, self.browser.select_key, self)
        add_docks(self)
        self.summary = QLabel("No folder open")
        self.statusBar().addPermanentWidget(self.summary)
        build_menus(self)
        self.recent = RecentFolders(self.settings, self.recent_menu, self.open_folder)
        self._connect()
        self.setAcceptDrops(True)
        first_layout(self)
        restore_layout(self, self.settings)
        self._update_title()

    def _connect(self) -> None:
        s = self.session
        s.opened.connect(self._on_opened)
        s.openFailed.connect(lambda message: dialogs.show_error(self, message))
        s.error.connect(lambda message: dialogs.show_error(self, message))
        s.message.connect(self._show_message)
        s.problemsChanged.connect(self._refresh_summary)
        s.problemsChanged.connect(lambda _problems: self.prediction.set_unreadable(self.session.unreadable))
        s.classesChanged.connect(self._refresh_summary)
        s.saved.connect(self._refresh_summary)
        s.saved.connect(lambda _key: self.prediction.refresh_queue())
        s.statusChanged.connect(self.browser.set_status)
        s.unsavedChanged.connect(self._refresh_dirty)
        s.currentChanged.connect(self._on_sample_shown)
        s.maskChanged.connect(self._refresh_compare)
        self.browser.currentKeyChanged.connect(self._on_browser_key)
        self.editor.statusMessage.connect(lambda m: self.statusBar().showMessage(m, 4000))
        self.training.statusMessage.connect(lambda m: self.statusBar().showMessage(m, 8000))
        self.training.runFinished.connect(self._on_run_finished)
        self.training.runSelected.connect(self._use_run)
        self.prediction.scoresChanged.connect(self.browser.set_scores)
        self.prediction.keyActivated.connect(self.browser.select_key)
        self.prediction.predicted.connect(self._on_predicted)
        self.prediction.failed.connect(lambda m: self.statusBar().showMessage(m, 8000))
        # after Predict all (and when a run's cached predictions are shown), rank the regions to review
        self.prediction.runningChanged.connect(
            lambda running: running or self.review.rank(self.dataset, self.prediction.cache))

    @property
    def dataset(self) -> Dataset | None:
        return self.session.dataset

    # ------------------------------------------------------------------ opening folders

    def choose_folder(self) -> None:
        start = str(self.dataset.root) if self.dataset else str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Open dataset folder", start)
        if folder:
            self.open_folder(Path(folder))

    def choose_run(self) -> None:
        """File ▸ Open run…: pick any run folder (another dataset's, a cluster's output on a mounted share)."""
        start = self.prediction.run_folder or (self.dataset.root if self.dataset else Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Open run folder", str(start))
        if folder:
            self.open_run(Path(folder))

    def open_run(self, folder: Path | str) -> bool:
        """Follow the run in `folder` live in the training panel; selected there, it predicts on the open folder.
        False (the panel says why in one sentence) when the folder holds no run."""
        self.training_dock.show()
        self.training_dock.raise_()
        return self.training.open_run(folder)

    def open_sample(self) -> None:
        """The built-in sample dataset (generated once into the user cache on a worker)."""
        from ..core.sample_data import sample_dataset_dir

        self.statusBar().showMessage("Preparing the sample dataset…")
        run_in_thread(sample_dataset_dir, on_result=self.open_folder,
                      on_error=lambda exc: dialogs.show_error(self, f"The sample dataset could not be prepared "
                                                                    f"({exc}); open a folder of your own instead."))

    def open_folder(self, folder: Path | str) -> bool:
        """Open `folder` in the session; False when the user cancelled because of unsaved edits."""
        if not self._settle_unsaved("opening another folder"):
            return False
        self.session.open(folder)
        return True

    def _on_opened(self, dataset: Dataset) -> None:
        self.browser.set_dataset(dataset, self.session.project.status)
        self.recent.remember(dataset.root)
        self._update_title()
        items = self.session.restores()
        if items:
            self.session.resolve_restores(dialogs.offer_restore(self, items, dataset.classes))
        keys = self.browser.visible_keys()
        if keys:
            self.browser.select_key(keys[0])
        self.training.set_dataset(dataset)
        self._use_run(next(iter(trained_runs(dataset.root)), None))

    def _refresh_summary(self, *_args: object) -> None:
        """The Problems panel and the status bar's count, both from the session's one list."""
        dataset, lines = self.dataset, self.session.problems()
        if dataset is None:
            return
        self.problems.clear()
        self.problems.addItems(lines)
        self.problems_dock.setWindowTitle(f"Problems ({len(lines)})")
        self.problems_dock.setVisible(bool(lines))
        fit_problems(self.problems)
        labelled = sum(1 for s in dataset.samples if s.labelled)
        self.summary.setText(f"{dataset.layout} · {len(dataset.samples)} images · {labelled} labelled · "
                             f"{len(dataset.samples) - labelled} unlabelled · {len(lines)} problem(s) · "
                             f"{dataset.classes.num_classes} classes")

    def _show_message(self, text: str, msecs: int) -> None:
        if text:
            self.statusBar().showMessage(text, msecs)
        else:
            self.statusBar().clearMessage()

    # ------------------------------------------------------------------ moving between images, unsaved edits

    def _on_browser_key(self, key: str) -> None:
        """The switch policy: save the image left behind (or ask first when the setting is on)."""
        previous = self.session.current_key()
        if previous is not None and previous != key and previous in self.session.dirty_keys():
            if self.settings.value(ASK_BEFORE_SWITCH, False, type=bool):
                answer = dialogs.ask_unsaved(self, [previous], "switching images")
            else:
                answer = dialogs.SAVE
            if answer == dialogs.CANCEL or (answer == dialogs.SAVE and not self.session.save(previous)):
                self.browser.select_key(previous, silent=True)
                return
            if answer == dialogs.DISCARD:
                self.session.discard(previous)
        self.session.select(key)

    def _settle_unsaved(self, action: str) -> bool:
        """Ask Save/Discard/Cancel when masks are unsaved; True when it is fine to go on."""
        dirty = self.session.dirty_keys()
        if not dirty:
            return True
        answer = dialogs.ask_unsaved(self, dirty, action)
        if answer == dialogs.SAVE:
            return self.session.save_all()
        if answer == dialogs.DISCARD:
            for key in dirty:
                self.session.discard(key)
            return True
        return False

    def _refresh_dirty(self, dirty: frozenset[str]) -> None:
        self.setWindowModified(bool(dirty))
        self.browser.set_dirty(set(dirty))

    def _update_title(self) -> None:
        where = f" — {display_path(self.dataset.root)}" if self.dataset else ""
        self.setWindowTitle(f"seg-desktop{where}[*]")

    # ------------------------------------------------------------------ training and prediction

    def train(self) -> None:
        """Ctrl+T shows the training form (settings, estimated time per epoch); its Train button starts."""
        self.training_dock.show()
        self.training_dock.raise_()
        self.training.focus_form()

    def _use_run(self, run_folder: Path | str | None) -> None:
        """Predict with `run_folder` from now on (cached predictions of it show at once)."""
        self.prediction.set_context(self.dataset, run_folder)
        self._on_sample_shown(self.session.current_key())

    def _on_run_finished(self, run_folder: str) -> None:
        """A finished run predicts every image at once, so the browser can sort worst-first for correcting; a
        stopped or worse one asks before it replaces a better run's predictions."""
        if self._closing:  # a run stopped by closing reports after the window has gone: start nothing new
            return
        current = self.prediction.run_folder
        if not replaces_without_asking(current, run_folder) and not ask_replace(self, current, run_folder):
            self.statusBar().showMessage(f"Predictions stay those of {Path(current).name}.", 8000)
            return
        self._use_run(run_folder)
        self.prediction.predict_all()

    def _on_predicted(self, key: str) -> None:
        if key == self.session.current_key():
            self._on_sample_shown(key)

    def _on_sample_shown(self, key: str | None) -> None:
        """Give the editor the prediction for its prediction brush, and the compare view what it shows."""
        found = self.prediction.prediction_for(key) if key else None
        self.editor.set_reference_mask(found[0] if found else None)
        self._refresh_compare()

    def _refresh_compare(self, *_args: object) -> None:
        """Only while the compare tab is visible: every stroke would otherwise recompute its error map."""
        if self.tabs.currentWidget() is not self.compare:
            return
        key = self.session.current_key()
        if key is None or self.dataset is None:
            self.compare.clear()
            return
        found = self.prediction.prediction_for(key)
        sample = self.dataset.by_key(key)
        edited = sample is not None and (sample.labelled or key in self.session.dirty_keys())
        gt = np.array(self.session.mask(key)) if edited else None
        pred, entropy = found if found else (None, None)
        self.compare.show_prediction(self.session.image(), gt, pred, self.dataset.classes, entropy)

    def accept_prediction(self) -> bool:
        """Replace the shown mask with the model's prediction, as one undoable step (then correct it by hand)."""
        key = self.session.current_key()
        found = self.prediction.prediction_for(key) if key else None
        if found is None or not self.session.accept_prediction(found[0]):
            self.statusBar().showMessage("No prediction for this image yet: train a model and run Predict all.", 6000)
            return False
        self.statusBar().showMessage("Prediction accepted as the mask; correct it, then save (Ctrl+S).", 6000)
        return True

    def label_next(self) -> bool:
        """Open the unlabelled image the model is least sure about (never one that cannot be read)."""
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
        runs = trained_runs(self.dataset.root)  # none yet: the ground truth can still be exported
        key = self.session.current_key()
        ExportDialog(self.dataset, runs, [key] if key else [], settings=self.settings, parent=self).exec()

    def edit_classes(self) -> None:
        if self.dataset is None:
            return
        dialog = dialogs.ClassEditorDialog(self.dataset.classes, self.dataset.new_mask_format.kind != "color", self)
        if dialog.exec():
            self.session.apply_classes(dialog.classes())

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
        self.session.close()
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/state", self.saveState())
        self.settings.sync()
        self.browser.thumbnails.wait()
        event.accept()
