"""The one definition of how an image becomes model input, shared by training and prediction.

Kept in one place because a model fed differently at prediction time than in training (another scale, another
interpolation) silently loses accuracy.
"""

from __future__ import annotations

import cv2
import numpy as np


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """uint8 RGB to (height, width): area averaging when shrinking (no aliasing), linear when enlarging."""
    h, w = size
    if image.shape[:2] == (h, w):
        return image
    shrink = h * w < image.shape[0] * image.shape[1]
    return cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def resize_mask(mask: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Nearest neighbour: a mask's values are class labels, never to be averaged."""
    h, w = size
    if mask.shape[:2] == (h, w):
        return mask
    return cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST)


def prepare_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Model input: resized to the training size, float32 in [0, 1]."""
    return resize_image(image, size).astype(np.float32) * (1.0 / 255.0)


def tile_starts(total: int, window: int, overlap: float = 0.25) -> list[int]:
    """Start offsets of windows of `window` pixels covering `total` with at least `overlap` (a fraction) between
    neighbours, the last one ending at the edge; shared by tiled prediction and crop-mode validation."""
    if total <= window:
        return [0]
    stride = max(1, int(window * (1 - overlap)))
    return sorted(set(range(0, total - window, stride)) | {total - window})
