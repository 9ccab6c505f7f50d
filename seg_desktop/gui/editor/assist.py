"""AssistController: the per-image state of the assisted tools (scribble layer, preview, cached pixel features
and superpixels) and the worker that computes them, one per MaskEditor.

The GUI thread only draws: pixel features, superpixels and every preview are computed by `core.assist` on a
one-thread pool of this controller (so the jobs of one image run in order and never compete with each other for
the 2 cores), and their results come back as queued signals. A preview comes back ready to show
(`PreviewImage`: the RGBA buffer in class colours and the box that changed, both made on the worker), so taking
it in is a buffer swap and a repaint of that box: no step on the GUI thread grows with the image (bench_assist.py
measures the event loop's longest gap during preview updates on a 1024x1024 image). A stroke made while a
preview is being computed marks it stale; one more preview follows when the running one ends, so a fast
labeller never queues a backlog.
Everything is dropped when the current image changes (a generation number discards late results).
See docs/ARCHITECTURE.md, "Assisted labelling".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, QThreadPool, Signal
from PySide6.QtWidgets import QGraphicsItem

from ...core.assist.sam import WHAT_TO_GET, Prompt, SamModel, cached_embedding
from ...core.assist.scribble import PixelFeatures, classify, compute_features, load_forest
from ...core.assist.scribbles import NONE, accept_labels, draw_scribble, empty_scribbles
from ...core.assist.superpixels import DEFAULT_SIZE, Superpixels, compute_superpixels
from ...core.assist.watershed import watershed_labels
from ...core.edits import BBox, Point
from ...core.errors import DatasetError
from ..workers import run_in_thread
from .overlay import ArrayImageItem, overlay_lut

if TYPE_CHECKING:
    from .canvas import MaskEditor

SCRIBBLE_TOOLS = ("scribble", "watershed", "sam")  # the tools that show the scribble and preview layers
PREVIEW_OPACITY = 0.55


@dataclass(frozen=True)
class PreviewImage:
    """A preview made ready on the worker, so the GUI thread only swaps `rgba` in and repaints `changed`."""

    labels: np.ndarray | None  # what Accept writes (uint8, the image's size); None: nothing to preview
    shown: np.ndarray | None  # the class map drawn (the labels, or only SAM's region), diffed by the next one
    rgba: np.ndarray | None  # (H, W, 4) uint8: `shown` in class colours, NONE transparent
    changed: BBox | None  # where `shown` differs from the previous preview's; None: nowhere
    uniform: bool = False  # one class everywhere: a second class is needed


def changed_box(previous: np.ndarray | None, shown: np.ndarray) -> BBox | None:
    """The box (y0, x0, y1, x1) where `shown` differs from `previous` (everything when there is none)."""
    if previous is None or previous.shape != shown.shape:
        return 0, 0, *shown.shape
    diff = previous != shown
    rows = np.flatnonzero(diff.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(diff.any(axis=0))
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def render_preview(labels: np.ndarray | None, lut: np.ndarray, previous: np.ndarray | None,
                   shown: np.ndarray | None = None) -> PreviewImage:
    """Everything a preview costs per pixel, on the worker: the class colours (`lut`, RGBA per class), the box
    that changed since `previous` (the class map shown before) and whether a single class came out."""
    if labels is None:
        return PreviewImage(None, None, None, None)
    shown = labels if shown is None else shown
    return PreviewImage(labels, shown, colour(shown, lut), changed_box(previous, shown),
                        bool(labels.min() == labels.max()))


def colour(labels: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """`labels` (uint8 classes, or int with NONE = nothing drawn) in the RGBA colours of `lut`."""
    if labels.dtype == np.uint8:  # a result: every pixel has a class
        return np.take(lut, labels, axis=0)
    rgba = np.take(lut, np.clip(labels, 0, 255), axis=0)
    rgba[labels == NONE] = 0
    return rgba


def scribble_preview(method: Callable[..., np.ndarray | None], args: tuple, lut: np.ndarray,
                     previous: np.ndarray | None) -> PreviewImage:
    """Worker job of the scribble classifier and the watershed: `method(*args)`, rendered for the screen."""
    return render_preview(method(*args), lut, previous)


def features_job(image: np.ndarray) -> PixelFeatures:
    """Worker job: the classifier's pixel features, and scikit-learn imported before the first preview (see
    `load_forest`: its import stalls every thread up to ~90 ms once, which must not fall in a preview update)."""
    load_forest()
    return compute_features(image)


def sam_preview(paths: tuple[Path, Path], model: SamModel | None, embedding: np.ndarray | None,
                image: np.ndarray, root: Path | None, key: str, prompt: Prompt, mask: np.ndarray, cls: int,
                lut: np.ndarray, previous: np.ndarray | None) -> tuple:
    """Worker job of the SAM tool: load the pair and embed the image when not done yet, then decode `prompt`
    into `mask` (a copy) with class `cls`; the preview shows the region only."""
    model = model or SamModel(*paths)
    if embedding is None:
        embedding = cached_embedding(model, image, root, key)
    region = model.predict(embedding, image.shape[:2], prompt)
    if region is None:
        return model, embedding, render_preview(None, lut, previous)
    mask[region] = cls
    return model, embedding, render_preview(mask, lut, previous, np.where(region, cls, NONE).astype(np.int16))


class LabelLayer(ArrayImageItem):
    """A class map drawn in class colours over the photo; pixels of `NONE` (or transparent classes) not drawn."""

    def __init__(self, shape: tuple[int, int], z: float) -> None:
        super().__init__(np.zeros((*shape, 4), np.uint8))
        self.setZValue(z)

    def show_labels(self, labels: np.ndarray, lut: np.ndarray, bbox: BBox | None = None) -> None:
        """Recolour `labels` (int, NONE = nothing) inside `bbox` (default: everything) with the RGBA `lut`: the
        scribble layer after each stroke segment, the stroke's box only."""
        y0, x0, y1, x1 = bbox or (0, 0, *labels.shape)
        self.array[y0:y1, x0:x1] = colour(labels[y0:y1, x0:x1], lut)
        self.update(x0, y0, x1 - x0, y1 - y0)


class AssistController(QObject):
    """See the module docstring. `previewReady`, `featuresReady` and `superpixelsReady` tell tests and the
    status bar when a worker result has been taken in."""

    previewReady = Signal()
    featuresReady = Signal()
    superpixelsReady = Signal()

    @classmethod
    def of(cls, editor: MaskEditor) -> AssistController:
        """The editor's controller, made on first use (the tools and the tool options share it)."""
        found = editor.findChild(AssistController)
        return found if found is not None else cls(editor)

    def __init__(self, editor: MaskEditor) -> None:
        super().__init__(editor)
        self.editor = editor
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self.superpixel_size = DEFAULT_SIZE
        self.only_unlabelled = False
        self.sam_paths: tuple[Path, Path] | None = None
        self._sam_model: SamModel | None = None
        self._generation = 0
        self._reset_state()
        editor.session.currentChanged.connect(self._on_image_changed)
        editor.toolChanged.connect(self._on_tool_changed)

    def _reset_state(self) -> None:
        self.features: PixelFeatures | None = None
        self.superpixels: Superpixels | None = None
        self.scribbles: np.ndarray | None = None
        self.preview: np.ndarray | None = None
        self._shown: np.ndarray | None = None  # the class map the preview layer shows
        self._diffed_against: np.ndarray | None = None  # what the running preview job compares with
        self.method = "classifier"
        self.embedding: np.ndarray | None = None
        self.prompt = Prompt()
        self._features_started = False
        self._superpixels_started: int | None = None
        self._preview_running = False
        self._preview_stale = False
        self._scribble_item: LabelLayer | None = None
        self._preview_item: LabelLayer | None = None

    # ------------------------------------------------------------------ image and tool changes

    def _on_image_changed(self, _key: object) -> None:
        for item in (self._scribble_item, self._preview_item):
            hide_from(item)
        self._generation += 1
        self._reset_state()
        self._on_tool_changed(self.editor.tool())

    def _on_tool_changed(self, name: str) -> None:
        """Start what the chosen tool needs for this image (features, superpixels) and show its layers."""
        if not self._editable():
            return
        if name == "scribble":
            self.ensure_features()
        elif name == "superpixel":
            self.ensure_superpixels()
        self.set_layers_visible(name in SCRIBBLE_TOOLS)

    def _editable(self) -> bool:
        # the session, not the editor: this runs on the session's currentChanged, possibly before the editor's
        return self.editor.session.current_key() is not None

    def set_layers_visible(self, visible: bool) -> None:
        for item in (self._scribble_item, self._preview_item):
            if item is not None:
                item.setVisible(visible)

    # ------------------------------------------------------------------ workers

    def _run(self, fn: Callable[..., Any], *args: Any, done: Callable[[Any], None],
             failed: Callable[[], None] | None = None) -> None:
        """`fn(*args)` on this controller's pool; `done(result)` on the GUI thread unless the image changed."""
        generation = self._generation

        def on_result(value: Any) -> None:
            if generation == self._generation:
                done(value)

        def on_error(exc: BaseException) -> None:
            if generation == self._generation:
                self.editor.status(str(exc) if isinstance(exc, DatasetError) else
                                   f"The assisted tool failed on this image ({exc}).")
                if failed is not None:
                    failed()

        run_in_thread(fn, *args, on_result=on_result, on_error=on_error, pool=self.pool)

    def ensure_features(self) -> None:
        """Compute the scribble classifier's pixel features for the current image once (on the pool)."""
        if self.features is not None or self._features_started or not self._editable():
            return
        self._features_started = True
        self.editor.status("Computing pixel features for the scribble classifier…")
        self._run(features_job, self.editor.image(), done=self._take_features)

    def _take_features(self, features: PixelFeatures) -> None:
        self.features = features
        self.featuresReady.emit()
        if self._preview_stale and not self._preview_running:
            self.request_preview()

    def ensure_superpixels(self) -> Superpixels | None:
        """The current image's superpixels of the chosen size, or None while they are being computed."""
        sp = self.superpixels
        if sp is not None and sp.size == self.superpixel_size:
            return sp
        if self._editable() and self._superpixels_started != self.superpixel_size:
            self._superpixels_started = self.superpixel_size
            self.editor.status("Computing superpixels…")
            self._run(compute_superpixels, self.editor.image(), self.superpixel_size, done=self._take_superpixels)
        return None

    def _take_superpixels(self, sp: Superpixels) -> None:
        if sp.size != self.superpixel_size:
            return  # the size changed meanwhile: a newer job is queued
        self.superpixels = sp
        self.editor.status(f"Superpixels ready ({len(sp.boxes)} of about {sp.size} px).")
        self.superpixelsReady.emit()

    def set_superpixel_size(self, size: int) -> None:
        self.superpixel_size = max(int(size), 2)
        if self._editable() and self.editor.tool() == "superpixel":
            self.ensure_superpixels()

    def set_only_unlabelled(self, only: bool) -> None:
        self.only_unlabelled = bool(only)

    def set_sam_paths(self, encoder: Path | str | None, decoder: Path | str | None) -> None:
        """The SAM encoder + decoder ONNX pair to prompt (chosen once, kept in the settings)."""
        self.sam_paths = (Path(encoder), Path(decoder)) if encoder and decoder else None
        self._sam_model, self.embedding = None, None

    def request_sam(self, prompt: Prompt) -> None:
        """Decode `prompt` with the SAM pair into a preview of the current class (embedding once per image)."""
        if self.sam_paths is None:
            self.editor.status(f"No SAM model chosen: {WHAT_TO_GET}. Nothing is downloaded.")
            return
        self.prompt = prompt
        self.set_layers_visible(True)
        self.request_preview("sam")

    def _take_sam(self, result: tuple) -> None:
        self._sam_model, self.embedding, image = result
        self._take_preview(image)

    # ------------------------------------------------------------------ scribbles and preview

    def _lut(self) -> np.ndarray:
        return overlay_lut(self.editor.classes())

    def draw(self, points: list[Point], value: int) -> None:
        """Add a scribble segment of class `value` (the preview follows on `request_preview`)."""
        shape = self.editor.image().shape[:2]
        if self.scribbles is None:
            self.scribbles = empty_scribbles(shape)
            self._scribble_item = LabelLayer(shape, 6)
            self.editor.graphics_scene().addItem(self._scribble_item)
        bbox = draw_scribble(self.scribbles, points, max(self.editor.brush_size() // 2, 1), value)
        if bbox is not None:
            lut = self._lut()
            lut[lut[:, 3] == 0] = (255, 255, 255, 255)  # a scribble of a transparent class shows white
            self._scribble_item.show_labels(self.scribbles, lut, bbox)
        self.set_layers_visible(True)

    def request_preview(self, method: str | None = None) -> None:
        """Recompute the preview from the scribbles on the pool (after the running one, if any)."""
        if method is not None:
            self.method = method
        if (self.scribbles is None and self.method != "sam") or not self._editable():
            return
        if self._preview_running or (self.method == "classifier" and self.features is None):
            self._preview_stale = True
            if self.method == "classifier":
                self.ensure_features()
            return
        self._preview_running, self._preview_stale = True, False
        self._diffed_against, lut = self._shown, self._lut()
        if self.method == "sam":
            session = self.editor.session
            root = session.dataset.root if session.dataset is not None else None
            mask = np.array(self.editor.live_mask(), copy=True)  # a memcpy: the worker writes the region into it
            self._run(sam_preview, self.sam_paths, self._sam_model, self.embedding, self.editor.image(), root,
                      session.current_key(), self.prompt, mask, self.editor.current_class(), lut, self._shown,
                      done=self._take_sam, failed=self._preview_failed)
            return
        scribbles = self.scribbles.copy()  # a memcpy: strokes go on while the worker reads it
        if self.method == "classifier":
            method, args = classify, (self.features, scribbles)
        else:
            method, args = watershed_labels, (self.editor.image(), scribbles)
        self._run(scribble_preview, method, args, lut, self._shown, done=self._take_preview,
                  failed=self._preview_failed)

    def _preview_failed(self) -> None:
        self._preview_running = False

    def _take_preview(self, image: PreviewImage) -> None:
        """Keep the labels (what Accept writes) and swap the ready RGBA buffer into the preview layer, repainting
        the changed box only (all of it when the layer changed since the job started, e.g. cleared)."""
        self._preview_running = False
        if self._preview_stale:
            self.request_preview()
        labels = self.preview = image.labels
        if labels is not None:
            if self._preview_item is None:
                self._preview_item = LabelLayer(labels.shape, 5)
                self._preview_item.setOpacity(PREVIEW_OPACITY)
                self.editor.graphics_scene().addItem(self._preview_item)
            same_base = self._diffed_against is self._shown
            if image.changed is not None or not same_base:
                self._preview_item.set_array(image.rgba, image.changed if same_base else None)
            self._shown = image.shown
            if self.method == "sam":
                self.editor.status("SAM preview: click more (Shift: not this), drag a box, Enter accepts.")
            elif image.uniform:
                self.editor.status("Scribble a second class to split the image.")
            else:
                self.editor.status("Preview ready: Enter accepts it into the mask, Escape clears the scribbles.")
        self.previewReady.emit()

    def accept(self, text: str) -> bool:
        """Write the preview into the mask as one undo step (only over unlabelled pixels when so chosen)."""
        if self.preview is None or self._preview_running or self._preview_stale:
            self.editor.status("The preview is not ready yet; accept again when it shows.")
            return False
        only = self.editor.eraser_value() if self.only_unlabelled else None
        self.editor.commit(text, accept_labels(self.editor.live_mask(), self.preview, only_into=only))
        self.clear()
        return True

    def clear(self) -> None:
        """Drop the scribbles and the preview (the mask is not touched)."""
        if self.scribbles is not None:
            self.scribbles[:] = NONE
        self.preview, self.prompt, self._shown = None, Prompt(), None
        self._preview_stale = False
        for item in (self._scribble_item, self._preview_item):
            if item is not None:
                item.array[:] = 0
                item.update()

    def is_busy(self) -> bool:
        return self._preview_running or self._preview_stale


def hide_from(item: QGraphicsItem | None) -> None:
    """Remove `item` from its scene, if it is in one."""
    if item is not None and item.scene() is not None:
        item.scene().removeItem(item)
