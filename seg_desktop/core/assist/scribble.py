"""The scribble classifier (ilastik-style "smart fill"): a per-image random forest on multiscale pixel features,
trained from the user's scribbles, predicts a class for every pixel.

The features (Gaussian-smoothed intensity, edges and texture at 5 scales per colour channel, from
scikit-image's `multiscale_basic_features`) are computed once per image on a worker and reused by every
stroke; only the small forest is retrained after a stroke. To keep the preview within a second on 2 cores on a
1024x1024 image, features and prediction work on a grid of at most `MAX_PIXELS` pixels (the image is
resized down by area averaging when larger), and the class probabilities are resized back up linearly before
the arg-max, so the result has the image's size and smooth boundaries.

The forest decides every pixel on its own, so its raw arg-max is speckled with islands of a few pixels, and to
a labeller each island is one more correction. Inside the islands smaller than `MIN_ISLAND` pixels, the class
probabilities are therefore replaced by their Gaussian smoothing (sigma `SMOOTH` pixels), so an island takes the
class its surroundings vote for, while the edges and corners of larger regions stay where the forest put them.
With the simulated labeller of tests/benchmarks/bench_assist.py this took CamVid 0016E5_07959 from 125 to 75
interactions to reach mean IoU 0.85 (and 0.90 within 135); smoothing everywhere reached 83 but rounded corners.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .scribbles import NONE, settle_scribbles

MAX_PIXELS = 512 * 512
TREES = 32
DEPTH = 12
MAX_SAMPLES_PER_CLASS = 3_000  # per class: more adds little to a forest, only fitting time
SMOOTH = 2.0  # Gaussian sigma (image pixels) of the probabilities that decide an island; 0 = raw arg-max
MIN_ISLAND = 64  # pixels: a connected region of one class smaller than this is speckle


def load_forest() -> type:
    """scikit-learn's RandomForestClassifier, imported on first use (not at start-up: 0.8 s).

    Measured: that import holds the GIL for up to 93 ms at a time (scipy.special's extension module loads), so
    it stalls the GUI thread even when a worker imports it; the editor therefore calls this in the feature job,
    before the first preview (a one-time stall while the features are computed, not during a preview update).
    """
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier


@dataclass(frozen=True)
class PixelFeatures:
    """Per-pixel features of one image on the working grid `features.shape[:2]`, for an image of `shape`."""

    features: np.ndarray  # (h, w, F) float32
    shape: tuple[int, int]


def compute_features(image: np.ndarray, max_pixels: int = MAX_PIXELS) -> PixelFeatures:
    """Multiscale intensity/edge/texture features of an RGB (or gray) uint8 image; seconds, once per image."""
    from skimage.feature import multiscale_basic_features

    h, w = image.shape[:2]
    scale = min(1.0, (max_pixels / float(h * w)) ** 0.5)
    small = image if scale >= 1.0 else cv2.resize(
        image, (max(int(w * scale), 1), max(int(h * scale), 1)), interpolation=cv2.INTER_AREA)
    channels = -1 if small.ndim == 3 else None
    feats = multiscale_basic_features(small, channel_axis=channels, sigma_min=1, sigma_max=16, num_sigma=5)
    return PixelFeatures(np.ascontiguousarray(feats, dtype=np.float32), (h, w))


def _grid_samples(feats: PixelFeatures, scribbles: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Features and classes of the scribbled pixels, mapped to the working grid, capped per class."""
    (h, w), (gh, gw) = feats.shape, feats.features.shape[:2]
    ys, xs = np.nonzero(scribbles != NONE)
    classes = scribbles[ys, xs]
    gy = np.minimum((ys * gh) // h, gh - 1)
    gx = np.minimum((xs * gw) // w, gw - 1)
    rng = np.random.default_rng(seed)
    keep = []
    for c in np.unique(classes):
        idx = np.flatnonzero(classes == c)
        keep.append(idx if idx.size <= MAX_SAMPLES_PER_CLASS else rng.choice(idx, MAX_SAMPLES_PER_CLASS, False))
    idx = np.concatenate(keep)
    return feats.features[gy[idx], gx[idx]], classes[idx].astype(np.int64)


def _small_regions(labels: np.ndarray, min_area: float) -> np.ndarray:
    """Pixels of the connected regions (4-connected, one class each) smaller than `min_area`."""
    small = np.zeros(labels.shape, bool)
    for c in np.unique(labels):
        _, regions, stats, _ = cv2.connectedComponentsWithStats((labels == c).astype(np.uint8), connectivity=4)
        tiny = stats[:, cv2.CC_STAT_AREA] < min_area
        tiny[0] = False  # region 0 is every pixel of another class
        small |= tiny[regions]
    return small


def classify(feats: PixelFeatures, scribbles: np.ndarray, *, trees: int = TREES, depth: int = DEPTH,
             smooth: float = SMOOTH, seed: int = 0, n_jobs: int = 2) -> np.ndarray | None:
    """The class of every pixel (uint8, the image's size) predicted from `scribbles`, or None with none drawn.

    Scribbled pixels keep their scribbled class (the user said so; the forest may disagree on a few). With a
    single scribbled class every pixel gets it (the preview shows that a second class is needed).
    """
    classes, settled = settle_scribbles(scribbles, feats.shape)
    if len(classes) < 2:
        return settled
    x, y = _grid_samples(feats, scribbles, seed)
    forest = load_forest()(n_estimators=trees, max_depth=depth, n_jobs=n_jobs, random_state=seed)
    forest.fit(x, y)
    gh, gw, nf = feats.features.shape
    proba = forest.predict_proba(feats.features.reshape(-1, nf)).astype(np.float32).reshape(gh, gw, -1)
    if smooth > 0:
        scale = gh / feats.shape[0]  # grid pixels per image pixel: sizes are in image pixels
        islands = _small_regions(np.argmax(proba, axis=-1).astype(np.uint8), MIN_ISLAND * scale * scale)
        proba[islands] = cv2.GaussianBlur(proba, (0, 0), smooth * scale)[islands]  # 2+ class planes at once
    h, w = feats.shape
    if (gh, gw) != (h, w):
        proba = cv2.resize(proba, (w, h), interpolation=cv2.INTER_LINEAR)
        proba = proba[..., None] if proba.ndim == 2 else proba
    labels = forest.classes_.astype(np.uint8)[np.argmax(proba, axis=-1)]
    drawn = scribbles != NONE
    labels[drawn] = scribbles[drawn]
    return labels

