"""The training input before TensorFlow sees it: how each labelled image becomes model input (its `Scale`) and
where the decoded pixels live (in memory or streamed from disk); ml/data.py turns these sources into the tf.data
pipeline.

Scale (TrainConfig.scale, recorded resolved in config.json so prediction matches it):
- "resize": the whole image resized to the training size, exactly as prediction resizes it
  (`seg_desktop.ml.preprocess`), so a model sees the same scale in training and use.
- "crop": random crops of the full-resolution image (TrainConfig.crop pixels, the training size unless given;
  optionally scaled by a random factor, `crop_jitter`), resized to the training size only when they differ from
  it, so by default the model learns the images' own pixels; prediction then slides overlapping windows of the
  same size over the full-resolution image and blends them (`LoadedRun.predict`). "auto" picks crops when the
  images are at least twice the training size on both sides (median over the split), else resize: shrinking a
  4,000 px image 16x to 256 px loses exactly the thin structures people label.

Where pixels live: hand-labelled datasets are usually small, so the samples are decoded once into uint8 arrays
(`Arrays`). When the decoded split would exceed a memory budget (TrainConfig.data_memory, a fraction of RAM),
the samples are read from disk on the fly (`Stream`): the pipeline shuffles indices, decodes in parallel through
tf.numpy_function around the same readers (core.imageio / core.maskio), and holds only what is in flight; an
optional file cache (`cache_path`) keeps the decoded images under .seg-desktop/cache/ for later epochs and runs.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..core.dataset import Dataset, Sample
from ..core.errors import DatasetError
from ..core.imageio import image_size
from ..core.split import val_order
from .config import TrainConfig, format_size
from .preprocess import resize_image, resize_mask

AUTO_CROP_FACTOR = 2  # "auto" scale crops when images are at least this many times the training size per side
CACHE_DIR = "cache"  # under the dataset's .seg-desktop folder
CACHE_FORMAT = 2  # cached elements are (index, image, mask) since rare-class crops; (image, mask) before


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

    def mask(self, i: int) -> np.ndarray | None:
        return self.masks[i]


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

    def mask(self, i: int) -> np.ndarray | None:
        """Sample i's mask at the reading scale (None when it cannot be read), for the class census."""
        try:
            mask = self.dataset.read_mask(self.samples[i])
        except DatasetError:
            return None
        return mask if self.scale.native else resize_mask(mask, self.scale.size)


Source = Arrays | Stream


# ---------------------------------------------------------------- class census: pixel counts and rare pixels

RARE_POINTS = 16  # pixels remembered per (sample, class): enough variety of placements, ~128 bytes each


def class_counts(masks: Iterable[np.ndarray], num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(pixels of each class, pixels of the images containing each class) over `masks`, labels >= num_classes
    (the ignore index) left out: what class weights are computed from."""
    class_pixels = np.zeros(num_classes, np.int64)
    image_pixels = np.zeros(num_classes, np.int64)
    for mask in masks:
        counts = np.bincount(mask.ravel(), minlength=256)[:num_classes].astype(np.int64)
        class_pixels += counts
        image_pixels += np.where(counts > 0, counts.sum(), 0)
    return class_pixels, image_pixels


@dataclass(frozen=True)
class RarePoints:
    """Pixels (y, x) of the rare classes of each training sample at the reading scale: sample i's are
    coords[offsets[i]:offsets[i + 1]], RARE_POINTS per rare class it contains, so one entry drawn uniformly is a
    rare class drawn uniformly, then one of its pixels."""

    offsets: np.ndarray  # (N + 1,) int64
    coords: np.ndarray  # (M, 2) int32


@dataclass
class ClassCensus:
    """Training pixels per class and, per sample, a few pixels of each class it contains, read in one pass over
    the masks when the run starts, so rare-class crops never scan a mask during training."""

    class_pixels: np.ndarray
    image_pixels: np.ndarray
    points: list[dict[int, np.ndarray]]  # per sample: class -> (RARE_POINTS, 2) int32 pixels (y, x)

    def rare_classes(self) -> np.ndarray:
        """Classes whose share of the training pixels is below the median present class's: the ones a uniformly
        placed crop shows least (poles, signs, cell boundaries)."""
        present = self.class_pixels > 0
        if not present.any():
            return np.zeros(0, np.int64)
        share = self.class_pixels / self.class_pixels.sum()
        return np.flatnonzero(present & (share < np.median(share[present])))

    def rare_points(self) -> RarePoints:
        rare = set(self.rare_classes().tolist())
        offsets, coords = [0], []
        for found in self.points:
            mine = [found[c] for c in sorted(found) if c in rare]
            coords.extend(mine)
            offsets.append(offsets[-1] + sum(len(p) for p in mine))
        return RarePoints(np.asarray(offsets, np.int64),
                          np.concatenate(coords).astype(np.int32) if coords else np.zeros((0, 2), np.int32))


def class_census(source: Source, num_classes: int, seed: int, points: int = RARE_POINTS) -> ClassCensus:
    """Count the classes of every training mask (as `class_counts`) and keep `points` random pixels of each class
    present in each sample (0: none), drawn with a generator seeded by (seed, sample) so a run repeats."""
    class_pixels = np.zeros(num_classes, np.int64)
    image_pixels = np.zeros(num_classes, np.int64)
    found: list[dict[int, np.ndarray]] = []
    for i in range(len(source)):
        mask = source.mask(i)
        found.append({})
        if mask is None:
            continue
        counts, images = class_counts([mask], num_classes)
        class_pixels += counts
        image_pixels += images
        if points:
            rng = np.random.default_rng((seed, i))
            flat = mask.ravel()
            for c in np.flatnonzero(counts):
                where = np.flatnonzero(flat == c)
                y, x = np.divmod(where[rng.integers(0, len(where), points)], mask.shape[1])
                found[-1][int(c)] = np.stack([y, x], -1).astype(np.int32)
    return ClassCensus(class_pixels, image_pixels, found)


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


def split_samples(dataset: Dataset, val_split: float, seed: int,
                  rule: str = "sequence") -> tuple[list[Sample], list[Sample]]:
    """Labelled (train, val) samples: the dataset's own split (its layout's, else drawn by `core.split.draw_split`
    with the config's fraction, seed and rule when the dataset was opened).

    When a small dataset draws no validation image at all although a fraction was asked for, the first blocks in
    `core.split.val_order` (the rule's blocks, lowest hash first: single images for "name", runs of consecutive
    frames for "sequence") are moved to val, whole blocks, about val_split of the images and never all of them,
    so every run with val_split > 0 is validated and near-duplicate frames still stay on one side.
    """
    train = dataset.labelled("train")
    val = dataset.labelled("val")
    if not val and val_split > 0 and len(train) >= 2:
        n_val = min(len(train) - 1, max(1, round(val_split * len(train))))
        moved: set[str] = set()
        for block in val_order([s.key for s in train], seed, val_split, rule):
            if (not moved or len(moved) + len(block) / 2 <= n_val) and len(moved) + len(block) < len(train):
                moved.update(block)
        val = [s for s in train if s.key in moved]
        train = [s for s in train if s.key not in moved]
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
    digest = hashlib.sha256(f"{CACHE_FORMAT}\0{source.scale!r}".encode())
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
    train_samples, val_samples = split_samples(dataset, config.val_split, config.seed, config.split_rule)
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
