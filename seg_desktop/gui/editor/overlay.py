"""Numpy arrays shown as QGraphicsItems, and the class-colour overlay that repaints only what a stroke changed.

Both the photo and the overlay are QImages that wrap a numpy buffer without copying, so an edit recolours the
changed rectangle in the buffer (`lut[mask[bbox]]`) and asks Qt to repaint that rectangle only; `paint` then
draws just the exposed part of the image. A stroke on a 4096x4096 mask therefore costs the stroke's size, not
the image's.

An image larger than PYRAMID_MIN_SIDE also keeps a display pyramid (core/pyramid.py: 1/2, 1/4 … of it): zoomed
out, `paint` draws from the level that matches the screen, so fitting a 10,000 px image in the window scales a
~1,000 px level rather than 100 million pixels on every paint, and the overlay keeps its levels current over the
changed rectangle only.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from ...core.classes import ClassSet
from ...core.edits import BBox
from ...core.pyramid import build_levels, level_for, update_levels

# Images up to this side are drawn from the full array at any zoom (Qt scales a few megapixels fast enough);
# larger ones get a display pyramid down to PYRAMID_TOP_SIDE.
PYRAMID_MIN_SIDE = 2048
PYRAMID_TOP_SIDE = 1024


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
    (QImage does not own it) so the array is the single copy of the pixels. With `pyramid`, a large image also
    keeps smaller levels for zoomed-out paints; whoever changes the array then calls `refresh_levels`.
    """

    def __init__(self, array: np.ndarray, parent: QGraphicsItem | None = None, pyramid: bool = False) -> None:
        super().__init__(parent)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self._array = np.ascontiguousarray(array)
        self._pyramid = pyramid and max(self._array.shape[:2]) > PYRAMID_MIN_SIDE
        self._levels: list[np.ndarray] = []
        self._images: list[QImage] = []
        self._set_levels()

    def _set_levels(self) -> None:
        self._levels = build_levels(self._array, PYRAMID_TOP_SIDE) if self._pyramid else [self._array]
        self._images = [_wrap(level) for level in self._levels]

    @property
    def array(self) -> np.ndarray:
        return self._array

    def set_array(self, array: np.ndarray, bbox: BBox | None = None) -> None:
        """Show `array` (same shape, built off the GUI thread) instead and repaint `bbox` only (everything when
        None): a wrap, no copy, unless the item keeps a pyramid. The assisted tools' preview swaps in a whole
        image this way (gui/editor/assist.py)."""
        if array.shape != self._array.shape:
            raise ValueError(f"the new image is {array.shape}, the item shows {self._array.shape}")
        self._array = np.ascontiguousarray(array)
        self._set_levels()
        y0, x0, y1, x1 = bbox or (0, 0, *self._array.shape[:2])
        self.update(QRectF(x0, y0, x1 - x0, y1 - y0))

    def level_count(self) -> int:
        """1 without a pyramid; else the full image and its smaller levels."""
        return len(self._levels)

    def refresh_levels(self, bbox: BBox | None = None) -> None:
        """The array changed inside `bbox` (everywhere when None): bring the smaller levels up to date."""
        if len(self._levels) > 1:
            update_levels(self._levels, bbox or (0, 0, *self._array.shape[:2]))

    def boundingRect(self) -> QRectF:
        return QRectF(0, 0, self._array.shape[1], self._array.shape[0])

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        # whole pixels covering the exposed area: a fractional source rect would blur or seam at the edges
        rect = QRectF(option.exposedRect.toAlignedRect()).intersected(self.boundingRect())
        if rect.isEmpty():
            return
        t = painter.worldTransform()
        level = level_for(math.hypot(t.m11(), t.m12()), len(self._levels))
        if level == 0:
            painter.drawImage(rect, self._images[0], rect)
            return
        # the level's whole pixels that cover the rectangle, drawn onto the scene area they stand for
        f = 1 << level
        image = self._images[level]
        x0, y0 = math.floor(rect.left() / f), math.floor(rect.top() / f)
        x1 = min(math.ceil(rect.right() / f), image.width())
        y1 = min(math.ceil(rect.bottom() / f), image.height())
        source = QRectF(x0, y0, x1 - x0, y1 - y0)
        target = QRectF(x0 * f, y0 * f, (x1 - x0) * f, (y1 - y0) * f)
        painter.drawImage(target, image, source)


def _wrap(array: np.ndarray) -> QImage:
    """A QImage over the array's own buffer (no copy): RGB or RGBA, 8 bits per channel."""
    h, w = array.shape[:2]
    fmt = QImage.Format.Format_RGBA8888 if array.shape[2] == 4 else QImage.Format.Format_RGB888
    return QImage(array.data, w, h, array.strides[0], fmt)


class MaskOverlay(ArrayImageItem):
    """The mask in class colours over the photo; `update_rect` recolours and repaints one rectangle."""

    def __init__(self, mask: np.ndarray, classes: ClassSet, parent: QGraphicsItem | None = None) -> None:
        lut = overlay_lut(classes)
        # coloured before the base class builds the levels, so they are built once (uint8 indices: no clipping)
        super().__init__(np.take(lut, mask, axis=0), parent, pyramid=True)
        self._mask, self._lut = mask, lut

    def set_classes(self, classes: ClassSet) -> None:
        self._lut = overlay_lut(classes)
        self.rebuild()

    def update_rect(self, bbox: BBox) -> None:
        """Recolour mask[y0:y1, x0:x1] and schedule a repaint of that rectangle only."""
        y0, x0, y1, x1 = bbox
        np.take(self._lut, self._mask[y0:y1, x0:x1], axis=0, out=self.array[y0:y1, x0:x1], mode="clip")
        self.refresh_levels(bbox)
        self.update(QRectF(x0, y0, x1 - x0, y1 - y0))

    def rebuild(self) -> None:
        """Recolour the whole mask (new mask, new classes)."""
        np.take(self._lut, self._mask, axis=0, out=self.array, mode="clip")
        self.refresh_levels()
        self.update()
