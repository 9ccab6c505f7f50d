"""Dataset health: what the masks say about a dataset before a model is trained on it.

Class pixel frequencies per split, images still without a mask, classes the validation split never shows (their
validation IoU cannot be measured) or the training split never shows (the model cannot learn them), and how
imbalanced the classes are, with the median-frequency class weights (Eigen & Fergus 2015, used by SegNet) that
would balance them. Counting reads every mask once, so it runs in a worker with progress and a stop flag.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .dataset import Dataset
from .errors import DatasetError
from .layouts import SPLITS

# Most / least frequent class (by training pixels) above which class weights are suggested: beyond this the
# rare classes contribute too little to an unweighted loss to be learnt well.
IMBALANCE_RATIO = 5.0


def median_frequency_weights(class_pixels: np.ndarray, image_pixels: np.ndarray) -> np.ndarray:
    """Weight of class c = median(freq) / freq(c), freq(c) = pixels of c / pixels of the images containing c.

    Dividing by the pixels of the images that contain the class (not all pixels) keeps a class that is large
    where it appears but appears rarely from being over-weighted. Classes with no pixels get weight 0: no
    ground-truth pixel of theirs exists to weight, and they stay out of the median.
    """
    class_pixels = np.asarray(class_pixels, np.float64)
    image_pixels = np.asarray(image_pixels, np.float64)
    present = class_pixels > 0
    weights = np.zeros(class_pixels.shape, np.float64)
    if present.any():
        freq = class_pixels[present] / image_pixels[present]
        weights[present] = np.median(freq) / freq
    return weights


@dataclass
class Health:
    class_names: list[str]  # trained classes 0..K-1 (an ignore/void class is not counted)
    pixels: dict[str, np.ndarray]  # split -> (K,) pixel count per class, for splits with labelled images
    images: dict[str, int]  # split -> number of masks counted
    unlabelled: list[str]  # keys of images without a mask
    missing_in_val: list[str]  # classes with training pixels but none in the validation split
    missing_in_train: list[str]  # classes with no training pixels at all
    imbalance: float | None  # most / least frequent present class in the training pixels
    weights: np.ndarray  # median-frequency weights from the training split
    problems: list[str] = field(default_factory=list)  # masks that could not be read, one sentence each
    stopped: bool = False

    @property
    def imbalanced(self) -> bool:
        return self.imbalance is not None and self.imbalance > IMBALANCE_RATIO

    def frequencies(self, split: str) -> np.ndarray:
        """Fraction of the split's counted pixels in each class."""
        counts = self.pixels[split].astype(np.float64)
        total = counts.sum()
        return counts / total if total else counts

    def findings(self) -> list[str]:
        """The report as sentences, most actionable first."""
        out: list[str] = []
        if self.stopped:
            out.append("The check was stopped before every mask was counted; the numbers cover part of the data.")
        if "train" not in self.pixels:
            out.append("No training image has a mask yet; paint or import masks before training.")
        if self.missing_in_train:
            out.append(f"{_never(self.missing_in_train)} in the training masks, so the model cannot "
                       "learn them; label images that contain them.")
        if "val" not in self.pixels:
            out.append("The validation split has no labelled images, so training cannot measure progress; label "
                       "some validation images or raise the validation fraction.")
        elif self.missing_in_val:
            out.append(f"{_never(self.missing_in_val)} in the validation masks, so their validation "
                       "IoU cannot be measured; move or label validation images that contain them.")
        if self.imbalanced:
            train = self.frequencies("train")
            order = [i for i in np.argsort(train) if train[i] > 0]
            rare, common = order[0], order[-1]
            weights = ", ".join(f"{n} {w:.2f}" for n, w in zip(self.class_names, self.weights))
            out.append(f"The classes are imbalanced: {self.class_names[common]} covers {train[common]:.1%} of the "
                       f"training pixels, {self.imbalance:.0f}x more than {self.class_names[rare]} "
                       f"({train[rare]:.2%}); consider median-frequency class weights ({weights}), i.e. "
                       "--class-weights median.")
        elif self.imbalance is not None:
            out.append(f"The classes are reasonably balanced (most/least frequent {self.imbalance:.1f}x); class "
                       "weights are not needed.")
        if self.unlabelled:
            shown = ", ".join(self.unlabelled[:5]) + (", …" if len(self.unlabelled) > 5 else "")
            out.append(f"{len(self.unlabelled)} image(s) have no mask yet: {shown}.")
        if self.problems:
            out.append(f"{len(self.problems)} mask(s) could not be read and were not counted, e.g. "
                       f"{self.problems[0]}")
        return out


def _never(names: list[str]) -> str:
    quoted = ", ".join(f"'{n}'" for n in names)
    return f"Class {quoted} never appears" if len(names) == 1 else f"Classes {quoted} never appear"


def dataset_health(dataset: Dataset, progress: Callable[[int, int], None] | None = None,
                   stop=None) -> Health:
    """Count every mask's class pixels per split; `stop.is_set()` ends early with partial numbers."""
    k = dataset.classes.num_classes
    pixels: dict[str, np.ndarray] = {}
    images: dict[str, int] = {}
    train_image_pixels = np.zeros(k, np.int64)  # per class: pixels of the training images containing it
    problems: list[str] = []
    labelled = [s for s in dataset.samples if s.labelled]
    stopped = False
    for i, sample in enumerate(labelled):
        if stop is not None and stop.is_set():
            stopped = True
            break
        try:
            mask = dataset.read_mask(sample)
        except DatasetError as exc:
            problems.append(str(exc))
        else:
            counts = np.bincount(mask.ravel(), minlength=256)[:k].astype(np.int64)  # ignore/void left out
            pixels[sample.split] = pixels.get(sample.split, np.zeros(k, np.int64)) + counts
            images[sample.split] = images.get(sample.split, 0) + 1
            if sample.split == "train":
                train_image_pixels += np.where(counts > 0, counts.sum(), 0)
        if progress is not None:
            progress(i + 1, len(labelled))
    names = dataset.classes.names
    train = pixels.get("train", np.zeros(k, np.int64))
    present = train[train > 0]
    missing_in_val = [names[c] for c in range(k) if train[c] > 0 and pixels["val"][c] == 0] if "val" in pixels else []
    return Health(
        class_names=names,
        pixels={s: pixels[s] for s in SPLITS if s in pixels},
        images=images,
        unlabelled=[s.key for s in dataset.samples if not s.labelled],
        missing_in_val=missing_in_val,
        missing_in_train=[names[c] for c in range(k) if train[c] == 0] if "train" in pixels else [],
        imbalance=float(present.max() / present.min()) if present.size >= 2 else None,
        weights=median_frequency_weights(train, train_image_pixels),
        problems=problems,
        stopped=stopped,
    )
