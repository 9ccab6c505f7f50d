"""Load a finished run's model and predict one image: its mask, probabilities and uncertainty (ml/predict.py
scores and exports many).

Predictions are made the way the model was trained, as the run's config.json records it (`scale`): a model
trained on whole resized images sees the image resized to the training size, and its class probabilities are
resized back to the image's own size before the argmax, so masks keep smooth borders; a model trained on
full-resolution crops (scale "crop") sees overlapping windows of its crop size slid over the full-resolution image,
blended with a taper (`tile=True`, the default for such runs; callers pass `tile` only to override the run).

An image whose float32 probabilities would exceed the memory budget (`memory_budget`, 1 GiB unless
SEG_DESKTOP_PREDICT_MEMORY_MB says otherwise) is predicted block by block either way, keeping only its mask, its
entropy and (when they fit the budget as float16) its probabilities, so a 16000x16000 scene is predicted instead of
ending in MemoryError. Running out of memory on one image is a DatasetError naming it (`predict_sample`), so
callers skip that image with one sentence and go on with the others.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from ..core.classes import ClassInfo, ClassSet, default_palette  # noqa: E402
from ..core.dataset import Dataset, Sample  # noqa: E402
from ..core.errors import DatasetError  # noqa: E402
from ..core.resources import out_of_memory  # noqa: E402
from .config import TrainConfig  # noqa: E402
from .config_file import load_config  # noqa: E402
from .preprocess import prepare_image, tile_starts  # noqa: E402

MODEL_FILES = ("best.keras", "last.keras")
PREDICT_MEMORY_BYTES = 1 << 30  # the most one image's float32 probabilities may take before it goes in blocks
MEMORY_ENV = "SEG_DESKTOP_PREDICT_MEMORY_MB"  # overrides PREDICT_MEMORY_BYTES (tests use a small one)
_WORKING_COPIES = 4  # float32 arrays of a block's size alive at once (probabilities, resizing and entropy temps)


def memory_budget() -> int:
    """Bytes of float32 probabilities one prediction may hold: $SEG_DESKTOP_PREDICT_MEMORY_MB, else 1 GiB."""
    value = os.environ.get(MEMORY_ENV, "").strip()
    if not value:
        return PREDICT_MEMORY_BYTES
    try:
        mb = float(value)
    except ValueError:
        mb = math.nan
    if not (math.isfinite(mb) and mb > 0):
        raise DatasetError(f"{MEMORY_ENV}={value!r} is not a positive number of megabytes; fix or unset it.")
    return max(1, int(mb * 2**20))


@dataclass
class Prediction:
    mask: np.ndarray  # uint8 (H, W) class indices
    probs: np.ndarray | None  # float32 (H, W, K) softmax probabilities; float16 or None when predicted in blocks
    entropy: np.ndarray  # float32 (H, W) in nats: 0 = certain, log(K) = uniform

    @property
    def mean_entropy(self) -> float:
        return float(self.entropy.mean())


@dataclass
class LoadedRun:
    folder: Path
    config: TrainConfig
    model: object  # keras.Model
    classes: ClassSet
    model_file: Path

    @property
    def num_classes(self) -> int:
        return int(self.model.output_shape[-1])

    @property
    def tiles(self) -> bool:
        """Whether the run predicts in full-resolution windows by default: it was trained on crops."""
        return self.config.scale == "crop"

    @property
    def window(self) -> tuple[int, int]:
        """The full-resolution window one tile covers: the crop size of a crop-trained run, else the training
        size."""
        return tuple(self.config.crop or self.config.size) if self.tiles else tuple(self.config.size)

    def predict(self, image: np.ndarray, tile: bool | None = None, probabilities: bool = True) -> Prediction:
        """Class probabilities for one uint8 RGB image, at the image's own size; `tile` None: as the run was
        trained (`tiles`).

        An image whose float32 probabilities exceed `memory_budget()` is predicted in blocks (same result, up to
        rounding); its `probs` are then float16 if `probabilities` is asked for and they fit the budget, else None.
        Raises MemoryError (also for TensorFlow's) when even that does not fit."""
        h, w = image.shape[:2]
        k, budget = self.num_classes, memory_budget()
        tile = self.tiles if tile is None else tile
        if h * w * k * 4 <= budget:
            return _prediction(self._tiled(image) if tile else self._resized(image))
        return self._in_blocks(image, tile, budget, keep_probs=probabilities and h * w * k * 2 <= budget)

    def _in_blocks(self, image: np.ndarray, tile: bool, budget: int, keep_probs: bool) -> Prediction:
        """Predict block after block of the output, so no more than a block's float32 probabilities (a few times
        over, sized from the budget) exist beside the mask, entropy and optional float16 probabilities."""
        h, w = image.shape[:2]
        k = self.num_classes
        side = max(64, math.isqrt(budget // (k * 4 * _WORKING_COPIES)))
        th, tw = self.window
        bh, bw = (max(side, th), max(side, tw)) if tile else (side, side)  # a tile block holds one window at least
        low = None if tile else self._low_res(image)
        mask = np.empty((h, w), np.uint8)
        entropy = np.empty((h, w), np.float32)
        probs = np.empty((h, w, k), np.float16) if keep_probs else None
        for y0 in range(0, h, bh):
            for x0 in range(0, w, bw):
                region = (y0, min(y0 + bh, h), x0, min(x0 + bw, w))
                part = _prediction(self._tiled(image, region) if tile else _resize_probs(low, h, w, region))
                rows, cols = slice(region[0], region[1]), slice(region[2], region[3])
                mask[rows, cols], entropy[rows, cols] = part.mask, part.entropy
                if probs is not None:
                    probs[rows, cols] = part.probs
        return Prediction(mask, probs, entropy)

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        try:
            return np.asarray(self.model(batch, training=False), dtype=np.float32)
        except tf.errors.ResourceExhaustedError:  # the same failure as numpy's, for the callers
            raise MemoryError(f"the model ran out of memory on a batch of shape {batch.shape}") from None

    def _low_res(self, image: np.ndarray) -> np.ndarray:
        """The model's probabilities for the image resized to the training size."""
        return self._forward(prepare_image(image, self.config.size)[None])[0]

    def _resized(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        probs = self._low_res(image)
        if probs.shape[:2] != (h, w):
            probs = _resize_probs(probs, h, w)
        return probs

    def _tiled(self, image: np.ndarray, region: tuple[int, int, int, int] | None = None) -> np.ndarray:
        """Overlapping windows (`window`) over the full-resolution image, each resized to the training size when
        it differs (a crop-trained run with a larger crop) and its probabilities back, averaged with a taper so
        tile borders (where the model sees least context) count least.

        With `region` (y0, y1, x0, x1), only the windows overlapping it are run and only its probabilities are
        returned, equal to that part of the whole image's."""
        h, w = image.shape[:2]
        y0, y1, x0, x1 = region or (0, h, 0, w)
        th, tw = self.window
        ph, pw = max(h, th), max(w, tw)
        padded = image if (ph, pw) == (h, w) else cv2.copyMakeBorder(image, 0, ph - h, 0, pw - w,
                                                                     cv2.BORDER_REFLECT_101)
        acc = np.zeros((y1 - y0, x1 - x0, self.num_classes), np.float32)
        weight = np.zeros((y1 - y0, x1 - x0, 1), np.float32)
        taper = np.outer(np.hanning(th + 2)[1:-1], np.hanning(tw + 2)[1:-1]).astype(np.float32)[..., None] + 1e-3
        corners = [(y, x) for y in tile_starts(ph, th) if y < y1 and y + th > y0
                   for x in tile_starts(pw, tw) if x < x1 and x + tw > x0]
        batch = max(1, self.config.batch)  # the model ran batches this size in training, so they fit
        for i in range(0, len(corners), batch):
            chunk = corners[i:i + batch]
            windows = np.stack([prepare_image(padded[y:y + th, x:x + tw], self.config.size) for y, x in chunk])
            for (y, x), probs in zip(chunk, self._forward(windows)):
                if probs.shape[:2] != (th, tw):
                    probs = _resize_probs(probs, th, tw)
                a, b, c, d = max(y, y0), min(y + th, y1), max(x, x0), min(x + tw, x1)  # window ∩ region
                part = (slice(a - y, b - y), slice(c - x, d - x))
                acc[a - y0:b - y0, c - x0:d - x0] += probs[part] * taper[part]
                weight[a - y0:b - y0, c - x0:d - x0] += taper[part]
        acc /= weight
        return acc


def _resize_probs(probs: np.ndarray, h: int, w: int,
                  region: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Bilinear resize of (h0, w0, K) probabilities to (h, w, K), or only its `region` (y0, y1, x0, x1)."""
    if region is not None:
        return _resize_region(probs, h, w, region)
    # cv2.resize handles at most 512 channels per call; chunk so any class count works
    parts = [cv2.resize(probs[..., i:i + 256], (w, h), interpolation=cv2.INTER_LINEAR)
             for i in range(0, probs.shape[-1], 256)]
    parts = [p[..., None] if p.ndim == 2 else p for p in parts]
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=-1)


def _resize_region(probs: np.ndarray, h: int, w: int, region: tuple[int, int, int, int]) -> np.ndarray:
    """One block of cv2.resize's INTER_LINEAR output, computed from the same sample positions and weights;
    cv2 has no call for part of a resize, and the whole one is what would not fit in memory."""
    y_lo, y_hi, fy = _linear_taps(h, probs.shape[0], region[0], region[1])
    x_lo, x_hi, fx = _linear_taps(w, probs.shape[1], region[2], region[3])
    rows = probs[y_lo] * (1 - fy)[:, None, None] + probs[y_hi] * fy[:, None, None]
    return rows[:, x_lo] * (1 - fx)[None, :, None] + rows[:, x_hi] * fx[None, :, None]


def _linear_taps(n_out: int, n_in: int, start: int, stop: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For outputs start..stop-1 of an n_in -> n_out linear resize: the two source indices and the weight of
    the second, with pixel centres aligned and edges clamped as in cv2.resize."""
    pos = (np.arange(start, stop) + 0.5) * (n_in / n_out) - 0.5
    lo = np.floor(pos)
    frac = (pos - lo).astype(np.float32)
    lo = lo.astype(np.intp)
    return np.clip(lo, 0, n_in - 1), np.clip(lo + 1, 0, n_in - 1), frac


def _prediction(probs: np.ndarray) -> Prediction:
    """Mask and entropy from probabilities (clipped in place when they are writable), with one float32
    temporary of their size."""
    probs = np.clip(probs, 0.0, 1.0, out=probs if probs.flags.writeable else None)
    terms = np.log(np.maximum(probs, 1e-7))
    terms *= probs
    entropy = terms.sum(axis=-1)
    del terms
    np.negative(entropy, out=entropy)
    return Prediction(probs.argmax(axis=-1).astype(np.uint8), probs, entropy.astype(np.float32, copy=False))


def _run_classes(config: TrainConfig, num_classes: int) -> ClassSet:
    palette = default_palette(max(num_classes, 1))
    classes = []
    for i in range(num_classes):
        name = config.class_names[i] if i < len(config.class_names) else f"class {i}"
        color = tuple(config.class_colors[i]) if i < len(config.class_colors) else tuple(int(v) for v in palette[i])
        classes.append(ClassInfo(i, name, color))
    if config.ignore_index is not None and config.ignore_index >= num_classes:
        classes.append(ClassInfo(config.ignore_index, "void", (0, 0, 0)))
    return ClassSet(classes, config.ignore_index, "run config")


def load_run(folder: Path | str, model_file: str | None = None) -> LoadedRun:
    """A run folder's config and model (best.keras, else last.keras), loaded with safe_mode=True.

    safe_mode refuses models that carry Python code (Lambda layers), so opening a run someone sent cannot run
    their code; every failure is one sentence naming the file.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DatasetError(f"{folder} is not a run folder; pass a folder made by `seg-desktop train`.", folder)
    config_path = folder / "config.json"
    try:
        config = load_config(config_path)
    except FileNotFoundError:
        raise DatasetError(f"{config_path} is missing, so {folder} is not a complete run; train again.",
                           config_path) from None
    candidates = [folder / model_file] if model_file else [folder / name for name in MODEL_FILES]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise DatasetError(f"{folder} holds no {' or '.join(p.name for p in candidates)}; the run did not finish an "
                           "epoch — train it again or resume it.", folder)
    import keras

    from . import models  # noqa: F401  registers the custom layers before loading

    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # keras raises many types for corrupt zips, bad configs and unsafe layers
        reason = str(exc).split("\n")[0][:200]
        if "safe_mode" in str(exc) or "Lambda" in str(exc):
            raise DatasetError(f"{path} contains Python code (a Lambda layer), which seg-desktop refuses to load "
                               "for safety; retrain the model with seg-desktop.", path) from None
        raise DatasetError(f"{path} cannot be loaded as a Keras model ({reason}); it is damaged or not a "
                           "seg-desktop model — retrain or pick another run.", path) from None
    num_classes = int(model.output_shape[-1])
    return LoadedRun(folder, config, model, _run_classes(config, num_classes), path)


def check_classes(run: LoadedRun, dataset: Dataset) -> None:
    """Refuse to score a model against masks with another number of classes (the scores would be meaningless)."""
    if dataset.classes.num_classes != run.num_classes:
        raise DatasetError(
            f"{run.model_file} predicts {run.num_classes} classes but {dataset.root} has "
            f"{dataset.classes.num_classes}; use a run trained on this dataset, or retrain.", run.model_file)


def predict_sample(run: LoadedRun, dataset: Dataset, sample: Sample, tile: bool | None = None,
                   probabilities: bool = True) -> tuple[np.ndarray, Prediction]:
    """The image and its prediction; running out of memory on this image is a DatasetError naming it, like a
    bad file, so the caller skips it and goes on with the others."""
    try:
        image = dataset.read_image(sample)
    except MemoryError:
        raise DatasetError(out_of_memory(sample.image_path, "decode"), sample.image_path) from None
    try:
        return image, run.predict(image, tile=tile, probabilities=probabilities)
    except MemoryError:
        raise DatasetError(out_of_memory(sample.image_path, "predict", f"or set {MEMORY_ENV} lower (e.g. 256) "
                                         "to predict it in smaller blocks"), sample.image_path) from None
