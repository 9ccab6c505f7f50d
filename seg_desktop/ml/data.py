"""The training input: how each labelled image becomes model input (its scale), where the decoded pixels live
(in memory or streamed from disk), and the tf.data pipeline (shuffle, crop, batch, augmentation, prefetch).

Scale (TrainConfig.scale, recorded resolved in config.json so prediction matches it):
- "resize": the whole image resized to the training size, exactly as prediction resizes it
  (`seg_desktop.ml.preprocess`), so a model sees the same scale in training and use.
- "crop": random crops of the full-resolution image (TrainConfig.crop pixels, the training size unless given;
  optionally scaled by a random factor, `crop_jitter`), resized to the training size only when they differ from
  it, so by default the model learns the images' own pixels; prediction then slides overlapping windows of the
  same size over the full-resolution image and blends them (`LoadedRun.predict`). "auto" picks crops when the
  images are at least twice the training size on both sides (median over the split), else resize: shrinking a
  4,000 px image 16x to 256 px loses exactly the thin structures people label.
  This is the one random scale-crop implementation (`random_crop`); augmentation policies reuse it.
- Validation in crop mode scores a grid of full-resolution tiles of the crop size covering each whole image
  (the last row and column shifted inside the image): every pixel is scored at the scale training sees, where a
  centre crop would score only the middle of each image (0.4 % of a 4,000 px image for a 256 px crop) and make
  the best-checkpoint choice noisy. Tiles are not blended as in prediction, so borders score slightly lower.

Where pixels live: hand-labelled datasets are usually small, so the samples are decoded once into uint8 arrays
(`Arrays`). When the decoded split would exceed a memory budget (TrainConfig.data_memory, a fraction of RAM),
the samples are read from disk on the fly (`Stream`): the pipeline shuffles indices, decodes in parallel through
tf.numpy_function around the same readers (core.imageio / core.maskio), and holds only what is in flight; an
optional file cache (`cache_path`) keeps the decoded images under .seg-desktop/cache/ for later epochs and runs.
Both sources go through the same index -> (image, mask) pipeline with stateless randomness keyed by the step, so
a stream and the in-memory arrays of the same samples give the same batches.

Augmentation uses Keras 3's image preprocessing layers with `{"images", "segmentation_masks"}` inputs, which apply
the same random geometry to both (nearest-neighbour for the mask). Photometric layers leave masks untouched.
Where rotation or zoom-out uncovers pixels outside the image, the mask gets the ignore index when the dataset has
one (those pixels then count for nothing), else image and mask are both reflected.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import statistics
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import keras
import numpy as np
import tensorflow as tf

from ..core.dataset import Dataset, Sample, split_hash
from ..core.errors import DatasetError
from ..core.imageio import image_size
from .config import TrainConfig, format_size
from .preprocess import resize_image, resize_mask, tile_starts

# Augmentation strengths: mild enough that shapes keep their look, strong enough to matter on tens of images.
ROTATION = 15.0 / 360.0  # fraction of a full turn, as RandomRotation takes it
ZOOM = 0.15
BRIGHTNESS = 0.1
CONTRAST = 0.15
AUTO_CROP_FACTOR = 2  # "auto" scale crops when images are at least this many times the training size per side
CACHE_DIR = "cache"  # under the dataset's .seg-desktop folder


@dataclass(frozen=True)
class Scale:
    """How a training image becomes model input: mode "resize" (whole image to `size`) or "crop" (random windows
    of `crop` full-resolution pixels, times a random factor in [1/(1+jitter), 1+jitter], resized to `size`)."""

    mode: str
    size: tuple[int, int]
    crop: tuple[int, int]
    jitter: float = 0.0

    @classmethod
    def of(cls, config) -> "Scale":
        """The scale a (resolved) TrainConfig trains at; a config from before scales existed ("auto") resized."""
        mode = "crop" if config.scale == "crop" else "resize"
        return cls(mode, tuple(config.size), tuple(config.crop or config.size), float(config.crop_jitter))

    @property
    def native(self) -> bool:
        """Whether samples are read at full resolution (crop mode) rather than resized to the training size."""
        return self.mode == "crop"


def choose_scale(requested: str, size: tuple[int, int], sizes: Sequence[tuple[int, int]]) -> str:
    """"resize" or "crop" for a requested scale; "auto" crops when the median image (height, width) is at least
    AUTO_CROP_FACTOR times the training size on both sides."""
    if requested != "auto":
        return requested
    if not sizes:
        return "resize"
    h = statistics.median(s[0] for s in sizes)
    w = statistics.median(s[1] for s in sizes)
    return "crop" if h >= AUTO_CROP_FACTOR * size[0] and w >= AUTO_CROP_FACTOR * size[1] else "resize"


def sample_sizes(samples: Sequence[Sample], problems: list[str]) -> tuple[list[Sample], list[tuple[int, int]]]:
    """(samples whose image header reads, their (height, width)); the others' reasons go to `problems`. Only
    headers are read, so this is fast for thousands of large images."""
    kept, sizes = [], []
    for sample in samples:
        try:
            w, h = image_size(sample.image_path)
        except DatasetError as exc:
            problems.append(str(exc))
            continue
        kept.append(sample)
        sizes.append((h, w))
    return kept, sizes


def decoded_bytes(sizes: Sequence[tuple[int, int]], scale: Scale) -> int:
    """Bytes the samples take decoded (RGB uint8 + mask uint8) at the scale's reading size."""
    if scale.native:
        return sum(h * w * 4 for h, w in sizes)
    return len(sizes) * scale.size[0] * scale.size[1] * 4


def total_memory() -> int:
    """Bytes of memory this process can use: physical RAM, or less under a cgroup limit (a container) or what is
    left of an address-space limit (SEG_DESKTOP_MEMORY_LIMIT_GB, ml/remote.py). Where the system does not say
    (no sysconf), 8 GiB, a common laptop's."""
    try:
        limits = [os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")]
    except (AttributeError, ValueError, OSError):
        limits = [8 << 30]
    try:
        text = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if text.isdigit():
            limits.append(int(text))
    except OSError:
        pass
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            with open("/proc/self/status") as f:
                held = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmSize:"))
            limits.append(max(0, soft - held))
    except (ImportError, OSError, ValueError, StopIteration):
        pass
    return min(limits)


def views_per_epoch(sizes: Sequence[tuple[int, int]], scale: Scale) -> int:
    """Training views that make one pass: one per image when resizing; in crop mode as many crops as it takes
    to cover each image's pixels once (at least one per image)."""
    if not scale.native:
        return len(sizes)
    ch, cw = scale.crop
    return sum(max(1, round(h * w / (ch * cw))) for h, w in sizes)


# ---------------------------------------------------------------- sources: index -> (image, mask)


@dataclass
class Arrays:
    """Decoded samples in memory: images uint8 (H, W, 3) and masks uint8 (H, W), stacked as (N, ...) arrays
    when all share a size (always at the training size), else lists (full-resolution images of mixed sizes)."""

    images: np.ndarray | list[np.ndarray]
    masks: np.ndarray | list[np.ndarray]
    keys: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.keys)

    def read(self, i: int) -> tuple[np.ndarray, np.ndarray] | None:
        return self.images[i], self.masks[i]

    def all_masks(self) -> Iterator[np.ndarray]:
        return iter(self.masks)


@dataclass
class Stream:
    """Samples read from disk when asked (resized to the training size unless the scale reads full resolution).

    A file that cannot be decoded is skipped (the pipeline filters it out) and its sentence appended to
    `problems` once; when every sample has failed, `fatal` holds the error the trainer raises instead of the
    pipeline looking for a readable sample forever."""

    dataset: Dataset
    samples: list[Sample]
    scale: Scale
    problems: list[str] = field(default_factory=list)
    failed: set[int] = field(default_factory=set)
    fatal: DatasetError | None = None

    def __len__(self) -> int:
        return len(self.samples)

    @property
    def keys(self) -> list[str]:
        return [s.key for s in self.samples]

    def read(self, i: int) -> tuple[np.ndarray, np.ndarray] | None:
        try:
            return _decode(self.dataset, self.samples[i], None if self.scale.native else self.scale.size)
        except DatasetError as exc:
            if i not in self.failed:
                self.failed.add(i)
                self.problems.append(str(exc))
            if len(self.failed) == len(self.samples):
                self.fatal = DatasetError(f"None of the {len(self.samples)} training images of "
                                          f"{self.dataset.root} could be read (e.g. {exc}); fix those files and "
                                          "train again.", self.dataset.root)
                raise self.fatal from None
            return None

    def all_masks(self) -> Iterator[np.ndarray]:
        """Every readable mask at the reading scale, one at a time (for class weights)."""
        for sample in self.samples:
            try:
                mask = self.dataset.read_mask(sample)
            except DatasetError:
                continue
            yield mask if self.scale.native else resize_mask(mask, self.scale.size)


Source = Arrays | Stream


def _decode(dataset: Dataset, sample: Sample, size: tuple[int, int] | None) -> tuple[np.ndarray, np.ndarray]:
    image = dataset.read_image(sample)
    mask = dataset.read_mask(sample)
    if size is None:
        return image, mask
    return resize_image(image, size), resize_mask(mask, size)


def load_arrays(dataset: Dataset, samples: Sequence[Sample], size: tuple[int, int] | None,
                problems: list[str]) -> Arrays:
    """Decode `samples` once at `size` (area/linear for images, nearest for masks), or at full resolution when
    `size` is None.

    A file that cannot be decoded (DatasetError) is skipped and its one-sentence reason appended to `problems`,
    so one broken mask does not stop a run; the caller decides what to do when nothing is left.
    """
    if size is not None:  # preallocated: no second copy of the whole split while stacking
        images = np.zeros((len(samples), *size, 3), np.uint8)
        masks = np.zeros((len(samples), *size), np.uint8)
    else:
        images, masks = [], []
    keys: list[str] = []
    for sample in samples:
        try:
            image, mask = _decode(dataset, sample, size)
        except DatasetError as exc:
            problems.append(str(exc))
            continue
        if size is not None:
            images[len(keys)], masks[len(keys)] = image, mask
        else:
            images.append(image)
            masks.append(mask)
        keys.append(sample.key)
    if size is not None:
        return Arrays(images[: len(keys)], masks[: len(keys)], keys)
    return Arrays(images, masks, keys)


def split_samples(dataset: Dataset, val_split: float, seed: int) -> tuple[list[Sample], list[Sample]]:
    """Labelled (train, val) samples: the dataset's own split (its layout's, else drawn by `hash_split` with the
    config's fraction and seed when the dataset was opened).

    When a small dataset draws no validation image at all although a fraction was asked for, the images with the
    lowest hash are moved to val (the same order hash_split uses), so every run with val_split > 0 is validated.
    """
    train = dataset.labelled("train")
    val = dataset.labelled("val")
    if not val and val_split > 0 and len(train) >= 2:
        order = sorted(train, key=lambda s: split_hash(s.key, seed))
        n_val = min(len(train) - 1, max(1, round(val_split * len(train))))
        val = sorted(order[:n_val], key=lambda s: s.key)
        train = [s for s in train if s not in val]
    return train, val


def open_source(dataset: Dataset, samples: Sequence[Sample], scale: Scale, stream: bool,
                problems: list[str]) -> Source:
    """The samples decoded into memory, or a Stream reading them from disk (its skipped files go to
    `problems` as they are met)."""
    if stream:
        return Stream(dataset, list(samples), scale, problems)
    return load_arrays(dataset, samples, None if scale.native else scale.size, problems)


def cache_path(dataset: Dataset, source: Stream) -> Path:
    """Where a stream's decoded samples are cached: .seg-desktop/cache/<digest>/data, the digest covering every
    file's key, size and modification time and the scale, so an edited mask or another setting never reads a
    stale cache. A cache whose writing did not finish (no data.index) is removed first."""
    digest = hashlib.sha256(repr(source.scale).encode())
    for sample in source.samples:
        for path in (sample.image_path, sample.mask_path):
            st = os.stat(path)
            digest.update(f"{sample.key}\0{st.st_size}\0{st.st_mtime_ns}\0".encode())
    folder = dataset.state_dir / CACHE_DIR / digest.hexdigest()[:24]
    if not (folder / "data.index").exists():
        shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "data"


@dataclass
class Inputs:
    """A run's training and validation samples as sources, the scale they are read at, and how many training
    views make one pass (`views_per_epoch`)."""

    train: Source
    val: Source
    scale: Scale
    views: int
    streamed: bool
    cache: Path | None = None

    @property
    def crops_per_read(self) -> int:
        """Crops taken from each sample read in crop mode: its share of a pass (`views` per image), at most 8 so
        a batch still mixes several images."""
        return max(1, min(8, self.views // max(1, len(self.train)))) if self.scale.native else 1

    def describe(self) -> str:
        """One line for the user: what the model sees and where the pixels come from."""
        h, w = self.scale.size
        if self.scale.native:
            what = f"random {format_size(self.scale.crop)} crops of the full-resolution images"
            if self.scale.crop != self.scale.size:
                what += f", resized to {h}x{w}"
        else:
            what = f"whole images resized to {h}x{w}"
        where = "streamed from disk" + (" through a disk cache" if self.cache else "") if self.streamed else \
            "decoded into memory"
        return f"{what}, {where}"


def prepare_inputs(dataset: Dataset, config: TrainConfig, problems: list[str]) -> tuple[TrainConfig, Inputs]:
    """The run's inputs, and its config with the scale resolved ("auto" -> "resize" or "crop", the crop size
    filled in) as config.json records it. Reads only image headers before deciding, from the decoded size of
    both splits against `config.data_memory` of `total_memory()`, whether to decode into memory or stream."""
    train_samples, val_samples = split_samples(dataset, config.val_split, config.seed)
    if not train_samples:
        raise DatasetError(f"{dataset.root} has no labelled training images ({len(dataset.samples)} images, "
                           f"{len(dataset.labelled())} with masks); paint or import masks first.", dataset.root)
    readable, train_sizes = sample_sizes(train_samples, problems)
    val_samples, val_sizes = sample_sizes(val_samples, problems)
    mode = choose_scale(config.scale, config.size, train_sizes)
    config = replace(config, scale=mode, crop=tuple(config.crop or config.size) if mode == "crop" else config.crop)
    scale = Scale.of(config)
    streamed = decoded_bytes(train_sizes + val_sizes, scale) > config.data_memory * total_memory()
    train = open_source(dataset, readable, scale, streamed, problems)
    if not len(train):
        raise DatasetError(f"None of the {len(train_samples)} labelled training images of {dataset.root} could be "
                           f"read (e.g. {problems[-1]}); fix those files and train again.", dataset.root)
    val = open_source(dataset, val_samples, scale, streamed, problems)
    cache = None
    if streamed and config.disk_cache:
        try:
            cache = cache_path(dataset, train)
        except OSError as exc:
            problems.append(f"{dataset.state_dir / CACHE_DIR} cannot be written ({exc.strerror or exc}); training "
                            "streams without a disk cache.")
    return config, Inputs(train, val, scale, views_per_epoch(train_sizes, scale), streamed, cache)


# ---------------------------------------------------------------- the tf.data pipeline


def _read_op(source: Source) -> Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor]]:
    """A tf function index -> (image uint8 (h, w, 3), mask uint8 (h, w)); an unreadable sample gives empty
    tensors, which the pipeline filters out."""

    def read(i: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        item = source.read(int(i))
        if item is None:
            return np.zeros((0, 0, 3), np.uint8), np.zeros((0, 0), np.uint8)
        return item

    def op(i: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        image, mask = tf.numpy_function(read, [i], (tf.uint8, tf.uint8), stateful=False)
        image.set_shape((None, None, 3))
        mask.set_shape((None, None))
        return image, mask

    return op


def _readable(image: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
    return tf.size(mask) > 0


def _mirror_to(x: tf.Tensor, axis: int, n: int) -> tf.Tensor:
    """`x` extended by mirroring along `axis` to at least `n` (as prediction pads small images); unchanged when
    it is long enough."""
    length = tf.shape(x)[axis]

    def extend() -> tf.Tensor:
        both = tf.concat([x, tf.reverse(x, [axis])], axis)
        reps = [1] * len(x.shape)
        reps[axis] = (n + 2 * length - 1) // (2 * length)
        tiled = tf.tile(both, reps)
        return tiled[:n] if axis == 0 else tiled[:, :n]

    return tf.cond(length < n, extend, lambda: x)


def random_crop(image: tf.Tensor, mask: tf.Tensor, scale: Scale, seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """One random window of a full-resolution (image, mask): `scale.crop` pixels times a random factor in
    [1/(1+jitter), 1+jitter] (the same for both sides), placed uniformly, resized to `scale.size` only when it
    differs (bilinear with antialiasing for the image, nearest for the mask); images smaller than the window are
    mirrored to fit. `seed` is a stateless seed (2 int64), so results do not depend on thread timing."""
    ch, cw = scale.crop
    for axis, n in ((0, ch), (1, cw)):
        image, mask = _mirror_to(image, axis, n), _mirror_to(mask, axis, n)
    h, w = tf.shape(mask)[0], tf.shape(mask)[1]
    seeds = tf.random.experimental.stateless_split(seed, 3)
    if scale.jitter > 0:
        bound = math.log1p(scale.jitter)
        factor = tf.exp(tf.random.stateless_uniform((), seeds[0], -bound, bound))
        factor = tf.minimum(factor, tf.minimum(tf.cast(h, tf.float32) / ch, tf.cast(w, tf.float32) / cw))
        rh = tf.maximum(1, tf.cast(tf.round(ch * factor), tf.int32))
        rw = tf.maximum(1, tf.cast(tf.round(cw * factor), tf.int32))
    else:
        rh, rw = tf.constant(ch), tf.constant(cw)
    y = tf.random.stateless_uniform((), seeds[1], 0, h - rh + 1, dtype=tf.int32)
    x = tf.random.stateless_uniform((), seeds[2], 0, w - rw + 1, dtype=tf.int32)
    image, mask = image[y:y + rh, x:x + rw], mask[y:y + rh, x:x + rw]
    if scale.jitter > 0 or scale.crop != scale.size:
        image = tf.cast(tf.clip_by_value(tf.round(tf.image.resize(image, scale.size, "bilinear", antialias=True)),
                                         0, 255), tf.uint8)
        mask = tf.image.resize(mask[..., None], scale.size, "nearest")[..., 0]
    image = tf.ensure_shape(image, (*scale.size, 3))
    return image, tf.ensure_shape(mask, scale.size)


def augmenter(ignore_index: int | None, seed: int) -> Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]:
    """A function (images float32 [0,1] (B,H,W,3), masks int32 (B,H,W)) -> the same, randomly flipped, rotated,
    zoomed, brightened and contrasted; image and mask always share the geometry."""
    fill = dict(fill_mode="constant", fill_value=0.0) if ignore_index is not None else dict(fill_mode="reflect")
    geometric = [
        keras.layers.RandomFlip("horizontal_and_vertical", seed=seed),
        keras.layers.RandomRotation(ROTATION, seed=seed + 1, **fill),
        keras.layers.RandomZoom((-ZOOM, ZOOM), seed=seed + 2, **fill),
    ]
    photometric = [
        keras.layers.RandomBrightness(BRIGHTNESS, value_range=(0.0, 1.0), seed=seed + 3),
        keras.layers.RandomContrast(CONTRAST, value_range=(0.0, 1.0), seed=seed + 4),
    ]

    def augment(images: tf.Tensor, masks: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        # With an ignore index, labels are shifted by one so the constant fill 0 marks uncovered pixels, which
        # become the ignore index afterwards (the image there is black and, being ignored, costs nothing).
        shift = 1.0 if ignore_index is not None else 0.0
        data = {"images": tf.convert_to_tensor(images, tf.float32),
                "segmentation_masks": tf.cast(masks, tf.float32)[..., None] + shift}
        for layer in geometric + photometric:
            data = layer(data, training=True)
        out = tf.cast(tf.round(data["segmentation_masks"][..., 0]), tf.int32)
        if ignore_index is not None:
            out = tf.where(out == 0, ignore_index, out - 1)
        return tf.clip_by_value(data["images"], 0.0, 1.0), out

    return augment


def _to_model_input(images: tf.Tensor, masks: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """uint8 -> float32 in [0, 1] (as `preprocess.prepare_image`), masks to int32 labels."""
    return tf.cast(images, tf.float32) * (1.0 / 255.0), tf.cast(masks, tf.int32)


def train_dataset(source: Source, batch: int, augment: bool, ignore_index: int | None, seed: int,
                  scale: Scale | None = None, cache: Path | None = None,
                  crops_per_read: int = 1) -> tf.data.Dataset:
    """Endless shuffled batches of (images float32 (B,H,W,3), masks int32 (B,H,W)); fit() takes
    `steps_per_epoch(...)` steps of it per epoch. `scale` None: the source is already at the training size.

    Indices are shuffled rather than decoded samples, so a stream holds only what is in flight. With `cache`
    (streams only) the decoded samples are written there during the first pass and read back afterwards; the
    order then comes from a shuffle buffer bounded by the samples that fit in a few hundred megabytes.
    In crop mode each read sample gives `crops_per_read` crops (`Inputs.crops_per_read`), mixed by a small
    shuffle buffer of crops: decoding a 512 px file for one 128 px crop would spend most of a stream's time
    decoding pixels no crop uses.
    """
    n = len(source)
    read = _read_op(source)
    if cache is not None:
        items = tf.data.Dataset.range(n).map(read, num_parallel_calls=tf.data.AUTOTUNE).filter(_readable)
        items = items.cache(str(cache))
        buffer = max(batch, min(n, (256 << 20) // (4 * _mean_pixels(source))))
        items = items.shuffle(buffer, seed=seed, reshuffle_each_iteration=True).repeat()
    else:
        items = tf.data.Dataset.range(n).shuffle(n, seed=seed, reshuffle_each_iteration=True).repeat()
        items = items.map(read, num_parallel_calls=tf.data.AUTOTUNE).filter(_readable)
    if scale is not None and scale.native:
        def crops(step: tf.Tensor, item: tuple[tf.Tensor, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
            seeds = tf.random.experimental.stateless_split(tf.stack([tf.constant(seed, tf.int64), step]),
                                                           crops_per_read)
            pairs = [random_crop(item[0], item[1], scale, seeds[j]) for j in range(crops_per_read)]
            return tf.stack([p[0] for p in pairs]), tf.stack([p[1] for p in pairs])

        items = items.enumerate().map(crops, num_parallel_calls=tf.data.AUTOTUNE).unbatch()
        if crops_per_read > 1:
            crop_bytes = scale.size[0] * scale.size[1] * 4
            items = items.shuffle(max(batch, min(4 * crops_per_read * batch, (128 << 20) // crop_bytes)),
                                  seed=seed + 1, reshuffle_each_iteration=True)
    ds = items.batch(batch, drop_remainder=True, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.map(_to_model_input, num_parallel_calls=tf.data.AUTOTUNE)
    if augment:
        ds = ds.map(augmenter(ignore_index, seed), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def _mean_pixels(source: Source) -> int:
    """Pixels of a typical decoded sample (its first readable one's), for sizing the cache's shuffle buffer."""
    for i in range(min(len(source), 8)):
        item = source.read(i)
        if item is not None:
            return int(item[1].size)
    return 1


def steps_per_epoch(num_samples: int, batch: int, min_images: int = 0) -> int:
    """One pass over the training views (`views_per_epoch`), or `min_images` (TrainConfig.min_epoch_images, 256
    by default) augmented views when there are fewer.

    Hand-labelled datasets are often a few dozen images; one pass over 30 images is 4 steps of 8, and a 15-epoch
    run of 60 steps leaves a model (SegNet especially) far from converged, while each epoch pays the fixed cost of
    validation and checkpoints. With augmentation every repeat is a new view, so a short epoch is simply padded.
    """
    return max(1, -(-max(num_samples, min_images) // batch))


# ---------------------------------------------------------------- validation


def validation_views(image: np.ndarray, mask: np.ndarray, scale: Scale) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """What validation scores of one (image, mask) as read from the source: the sample itself when resizing; in
    crop mode a grid of crop-size tiles covering the full-resolution image (see the module docstring), each
    resized to the training size when the crop differs from it."""
    if not scale.native:
        yield image, mask
        return
    ch, cw = scale.crop
    h, w = mask.shape
    if h < ch or w < cw:  # mirrored to fit, as prediction pads
        image = cv2.copyMakeBorder(image, 0, max(0, ch - h), 0, max(0, cw - w), cv2.BORDER_REFLECT_101)
        mask = cv2.copyMakeBorder(mask, 0, max(0, ch - h), 0, max(0, cw - w), cv2.BORDER_REFLECT_101)
        h, w = mask.shape
    for y in tile_starts(h, ch, overlap=0.0):
        for x in tile_starts(w, cw, overlap=0.0):
            yield resize_image(image[y:y + ch, x:x + cw], scale.size), resize_mask(mask[y:y + ch, x:x + cw],
                                                                                 scale.size)


def validation_batches(source: Source, scale: Scale, batch: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """(images float32 [0, 1] (B, H, W, 3), masks uint8 (B, H, W)) batches of every validation view, decoded
    as they are needed so a streamed validation split never sits in memory whole."""
    images: list[np.ndarray] = []
    masks: list[np.ndarray] = []
    for i in range(len(source)):
        try:
            item = source.read(i)
        except DatasetError:
            continue  # a stream where every file failed: nothing to score
        if item is None:
            continue
        for image, mask in validation_views(*item, scale):
            images.append(image)
            masks.append(mask)
            if len(images) == batch:
                yield np.stack(images).astype(np.float32) * (1.0 / 255.0), np.stack(masks)
                images, masks = [], []
    if images:
        yield np.stack(images).astype(np.float32) * (1.0 / 255.0), np.stack(masks)
