"""Tool settings panel: brush size, overlay opacity, magic-wand tolerance, class lock, GrabCut iterations, and
the assisted tools' superpixel size and "accept only into unlabelled pixels".

Sizes, opacity, tolerance and iterations are a user's habits, so they persist in QSettings (group "tools");
the class lock is not persisted, because class 3 of one dataset means nothing in the next.
"""

from __future__ import annotations

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QHBoxLayout, QLabel, QPushButton,
                               QSlider, QSpinBox, QWidget)

from ...core.classes import ClassSet
from ...core.assist.superpixels import DEFAULT_SIZE
from .assist import AssistController
from .canvas import MAX_BRUSH

GROUP = "tools"
DEFAULTS = {"brush_size": 8, "opacity": 50, "tolerance": 24, "grabcut_iterations": 3,
            "superpixel_size": DEFAULT_SIZE, "only_unlabelled": 0}


class ToolOptions(QWidget):
    brushSizeChanged = Signal(int)
    opacityChanged = Signal(float)
    toleranceChanged = Signal(int)
    lockClassChanged = Signal(object)  # int or None
    grabcutIterationsChanged = Signal(int)

    def __init__(self, parent: QWidget | None = None, settings: QSettings | None = None) -> None:
        super().__init__(parent)
        self._settings = settings if settings is not None else QSettings()
        form = QFormLayout(self)
        self.brush = self._slider(form, "Brush radius", "brush_size", 0, MAX_BRUSH, " px")
        self.opacity = self._slider(form, "Overlay opacity", "opacity", 0, 100, " %")
        self.tolerance = self._slider(form, "Wand tolerance", "tolerance", 0, 255, "")
        self.lock = QComboBox(self)
        self.lock.setToolTip("Brush, eraser, polygon, wand and fill change only pixels of this class")
        form.addRow("Paint only over", self.lock)
        self.iterations = QSpinBox(self)
        self.iterations.setRange(1, 20)
        self.iterations.setValue(self._stored("grabcut_iterations"))
        self.iterations.valueChanged.connect(lambda v: self._store("grabcut_iterations", v))
        form.addRow("GrabCut iterations", self.iterations)
        self.superpixel_size = QSpinBox(self)
        self.superpixel_size.setRange(4, 128)
        self.superpixel_size.setSuffix(" px")
        self.superpixel_size.setValue(self._stored("superpixel_size"))
        self.superpixel_size.setToolTip("Superpixel brush: the size of the superpixels it fills (smaller follows "
                                        "finer edges)")
        self.superpixel_size.valueChanged.connect(lambda v: self._store("superpixel_size", v))
        form.addRow("Superpixel size", self.superpixel_size)
        self.only_unlabelled = QCheckBox("only into unlabelled pixels", self)
        self.only_unlabelled.setChecked(bool(self._stored("only_unlabelled")))
        self.only_unlabelled.setToolTip("Scribble classifier and watershed: Enter writes the preview only where "
                                         "the mask is still background/unlabelled, keeping what you painted")
        self.only_unlabelled.toggled.connect(lambda v: self._store("only_unlabelled", v))
        form.addRow("Accept preview", self.only_unlabelled)
        self.sam_button = QPushButton("SAM model…", self)
        self.sam_button.setToolTip("Choose the encoder and decoder ONNX files of a SAM, MobileSAM or EfficientSAM "
                                   "model you have (nothing is downloaded)")
        self.sam_button.clicked.connect(self.choose_sam_model)
        form.addRow("SAM tool", self.sam_button)
        self._assist: AssistController | None = None

        self.brush.valueChanged.connect(self.brushSizeChanged)
        self.opacity.valueChanged.connect(lambda v: self.opacityChanged.emit(v / 100.0))
        self.tolerance.valueChanged.connect(self.toleranceChanged)
        self.iterations.valueChanged.connect(self.grabcutIterationsChanged)
        self.lock.currentIndexChanged.connect(lambda _: self.lockClassChanged.emit(self.lock_class()))
        self.set_classes(ClassSet([]))

    def attach(self, editor) -> None:
        """Wire to a MaskEditor: push these settings to it, and follow its [ / ] brush changes and classes."""
        self.brushSizeChanged.connect(editor.set_brush_size)
        self.opacityChanged.connect(editor.set_overlay_opacity)
        self.toleranceChanged.connect(editor.set_tolerance)
        self.lockClassChanged.connect(editor.set_lock_class)
        self.grabcutIterationsChanged.connect(editor.set_grabcut_iterations)
        editor.brushSizeChanged.connect(self.brush.setValue)
        editor.classesChanged.connect(self.set_classes)
        self.set_classes(editor.classes())
        editor.set_brush_size(self.brush.value())
        editor.set_overlay_opacity(self.opacity.value() / 100.0)
        editor.set_tolerance(self.tolerance.value())
        editor.set_grabcut_iterations(self.iterations.value())
        editor.set_lock_class(self.lock_class())
        assist = AssistController.of(editor)
        self.superpixel_size.valueChanged.connect(assist.set_superpixel_size)
        self.only_unlabelled.toggled.connect(assist.set_only_unlabelled)
        assist.set_superpixel_size(self.superpixel_size.value())
        assist.set_only_unlabelled(self.only_unlabelled.isChecked())
        assist.set_sam_paths(self._settings.value(f"{GROUP}/sam_encoder", ""),
                             self._settings.value(f"{GROUP}/sam_decoder", ""))
        self._assist = assist

    def choose_sam_model(self) -> None:
        """Ask once for the SAM encoder and decoder ONNX files; remembered in the settings."""
        files = []
        for part in ("encoder", "decoder"):
            path, _ = QFileDialog.getOpenFileName(self, f"SAM {part} (ONNX)", "", "ONNX models (*.onnx)")
            if not path:
                return
            files.append(path)
        self._settings.setValue(f"{GROUP}/sam_encoder", files[0])
        self._settings.setValue(f"{GROUP}/sam_decoder", files[1])
        if self._assist is not None:
            self._assist.set_sam_paths(*files)

    def set_classes(self, classes: ClassSet) -> None:
        """Refill the lock choices; the lock is kept when the class still exists, else cleared."""
        keep = self.lock_class()
        self.lock.blockSignals(True)
        self.lock.clear()
        self.lock.addItem("any class", None)
        for info in classes.classes:
            self.lock.addItem(f"{info.index}: {info.name}", info.index)
        found = self.lock.findData(keep) if keep is not None else 0
        self.lock.setCurrentIndex(max(found, 0))
        self.lock.blockSignals(False)
        if self.lock_class() != keep:
            self.lockClassChanged.emit(self.lock_class())

    def lock_class(self) -> int | None:
        return self.lock.currentData()

    def _stored(self, name: str) -> int:
        return int(self._settings.value(f"{GROUP}/{name}", DEFAULTS[name]))

    def _store(self, name: str, value: int) -> None:
        self._settings.setValue(f"{GROUP}/{name}", int(value))

    def _slider(self, form: QFormLayout, label: str, name: str, lo: int, hi: int, unit: str) -> QSlider:
        slider = QSlider(Qt.Orientation.Horizontal, self)
        slider.setRange(lo, hi)
        slider.setValue(min(max(self._stored(name), lo), hi))
        value = QLabel(f"{slider.value()}{unit}", self)
        value.setMinimumWidth(48)
        slider.valueChanged.connect(lambda v: value.setText(f"{v}{unit}"))
        slider.valueChanged.connect(lambda v: self._store(name, v))
        row = QHBoxLayout()
        row.addWidget(slider, 1)
        row.addWidget(value)
        form.addRow(label, row)
        return slider
