"""Numpy arrays shown as QGraphicsItems, and the class-colour overlay that repaints only what a stroke changed.

Both the photo and the overlay are QImages that wrap a numpy buffer without copying, so an edit recolours the
changed rectangle in the buffer (`lut[mask[bbox]]`) and asks Qt to repaint that rectangle only; `paint` then
draws just the exposed part of the image. A stroke on a 4096x4096 mask therefore costs the stroke's size, not
the image's.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from ...core.classes import ClassSet
from ...core.edits import BBox


def overlay_lut(classes: ClassSet) -> np.ndarray:
    """(256, 4) RGBA colour per mask value; classes coloured pure black are transparent.

    Black is the colour datasets give "background" (VOC, binary masks) and "Unlabelled" (CamVid): drawing it
    would only darken the photo under every unpainted pixel, so the overlay leaves it out and shows the photo.
    """
    rgb = classes.lut()
    alpha = np.where(rgb.any(axis=1), 255, 0).astype(np.uint8)
    return np.ascontiguousarray(np.concatenate([rgb, alpha[:, None]], axis=1))


class ArrayImageItem(QGraphicsItem):
    """A QGraphicsItem drawing a numpy image 1 scene unit per pixel, painting only the exposed rectangle.

    QGraphicsPixmapItem would need a QPixmap copy re-made after each edit; this item keeps the numpy array alive
    (QImage does not own it) so the array is the single copy of the pixels.
    """

    def __init__(self, array: np.ndarray, parent: QGraphicsItem | None = None) -> None:
        super().__init__(parent)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self._array = np.ascontiguousarray(array)
        h, w = self._array.shape[:2]
        fmt = QImage.Format.Format_RGBA8888 if self._array.shape[2] == 4 else QImage.Format.Format_RGB888
        self._image = QImage(self._array.data, w, h, self._array.strides[0], fmt)

    @property
    def array(self) -> np.ndarray:
        return self._array

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self._image.width(), self._image.height())

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        # whole pixels covering the exposed area: a fractional source rect would blur or seam at the edges
        rect = QRectF(option.exposedRect.toAlignedRect()).intersected(self.boundingRect())
        if not rect.isEmpty():
            painter.drawImage(rect, self._image, rect)


class MaskOverlay(ArrayImageItem):
    """The mask in class colours over the photo; `update_rect` recolours and repaints one rectangle."""

    def __init__(self, mask: np.ndarray, classes: ClassSet, parent: QGraphicsItem | None = None) -> None:
        super().__init__(np.zeros((*mask.shape, 4), np.uint8), parent)
        self._mask = mask
        self._lut = overlay_lut(classes)
        self.rebuild()

    def set_classes(self, classes: ClassSet) -> None:
        self._lut = overlay_lut(classes)
        self.rebuild()

    def update_rect(self, bbox: BBox) -> None:
        """Recolour mask[y0:y1, x0:x1] and schedule a repaint of that rectangle only."""
        y0, x0, y1, x1 = bbox
        np.take(self._lut, self._mask[y0:y1, x0:x1], axis=0, out=self.array[y0:y1, x0:x1], mode="clip")
        self.update(QRectF(x0, y0, x1 - x0, y1 - y0))

    def rebuild(self) -> None:
        """Recolour the whole mask (new mask, new classes)."""
        np.take(self._lut, self._mask, axis=0, out=self.array, mode="clip")
        self.update()
