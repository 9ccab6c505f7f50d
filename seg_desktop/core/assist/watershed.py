"""Marker watershed: the scribbles are the markers of `cv2.watershed`, which floods the image from them along
its colour differences (the image gradient), so touching objects separated by an edge get separate classes.

Milliseconds on a 1024x1024 image, with no training: the fast alternative to the scribble classifier when
objects touch and each has its own scribble.
"""

from __future__ import annotations

import cv2
import numpy as np

from .scribbles import NONE, settle_scribbles


def watershed_labels(image: np.ndarray, scribbles: np.ndarray, smooth: float = 1.0) -> np.ndarray | None:
    """The class of every pixel (uint8) flooded from `scribbles`, or None when nothing is scribbled.

    The image is smoothed a little first (`smooth`, a Gaussian sigma in pixels), so noise does not stop a
    flood; the one-pixel watershed lines OpenCV leaves between basins take the class of a neighbour.
    """
    classes, settled = settle_scribbles(scribbles, image.shape[:2])
    if len(classes) < 2:
        return settled
    rgb = image if image.ndim == 3 else np.repeat(image[..., None], 3, axis=2)
    rgb = np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)
    if smooth > 0:
        rgb = cv2.GaussianBlur(rgb, (0, 0), smooth)
    markers = np.where(scribbles == NONE, 0, scribbles.astype(np.int32) + 1).astype(np.int32)
    cv2.watershed(rgb, markers)
    lines = markers <= 0
    if lines.any():
        grown = cv2.dilate(np.maximum(markers, 0).astype(np.float32), np.ones((3, 3), np.uint8))
        markers[lines] = grown[lines].astype(np.int32)
        markers[markers <= 0] = classes[0] + 1  # a line with no labelled neighbour (cannot happen in practice)
    return (markers - 1).astype(np.uint8)
