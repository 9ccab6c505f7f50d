"""The training input: the dataset's labelled images decoded once into memory at the training size, then a tf.data
pipeline (cache, shuffle, batch, augmentation of image and mask together, prefetch).

Segmentation datasets people label by hand are small (tens to a few thousand images), so decoding every file once
into uint8 arrays costs little memory and removes PNG decoding from every epoch. Images are resized exactly as
prediction resizes them (`seg_desktop.ml.preprocess`), so a model sees the same scale in training and use.

Augmentation uses Keras 3's image preprocessing layers with `{"images", "segmentation_masks"}` inputs, which apply
the same random geometry to both (nearest-neighbour for the mask). Photometric layers leave masks untouched.
Where rotation or zoom-out uncovers pixels outside the image, the mask gets the ignore index when the dataset has
one (those pixels then count for nothing), else image and mask are both reflected.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import keras
import numpy as np
import tensorflow as tf

from ..core.dataset import Dataset, Sample, split_hash
from ..core.errors import DatasetError
from .preprocess import resize_image, resize_mask

# Augmentation strengths: mild enough that shapes keep their look, strong enough to matter on tens of images.
ROTATION = 15.0 / 360.0  # fraction of a full turn, as RandomRotation takes it
ZOOM = 0.15
BRIGHTNESS = 0.1
CONTRAST = 0.15


@dataclass
class Arrays:
    """Decoded samples at the training size: images uint8 (N, H, W, 3), masks uint8 (N, H, W)."""

    images: np.ndarray
    masks: np.ndarray
    keys: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.keys)


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


def load_arrays(dataset: Dataset, samples: Sequence[Sample], size: tuple[int, int],
                problems: list[str]) -> Arrays:
    """Decode `samples` once at `size` (area/linear for images, nearest for masks).

    A file that cannot be decoded (DatasetError) is skipped and its one-sentence reason appended to `problems`,
    so one broken mask does not stop a run; the caller decides what to do when nothing is left.
    """
    h, w = size
    images = np.zeros((len(samples), h, w, 3), np.uint8)
    masks = np.zeros((len(samples), h, w), np.uint8)
    keys: list[str] = []
    for sample in samples:
        try:
            image = dataset.read_image(sample)
            mask = dataset.read_mask(sample)
        except DatasetError as exc:
            problems.append(str(exc))
            continue
        images[len(keys)] = resize_image(image, size)
        masks[len(keys)] = resize_mask(mask, size)
        keys.append(sample.key)
    return Arrays(images[: len(keys)], masks[: len(keys)], keys)


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


def train_dataset(arrays: Arrays, batch: int, augment: bool, ignore_index: int | None,
                  seed: int) -> tf.data.Dataset:
    """Endless shuffled batches of (images float32 (B,H,W,3), masks int32 (B,H,W)); fit() takes
    `steps_per_epoch(len(arrays), batch)` steps of it per epoch."""
    ds = tf.data.Dataset.from_tensor_slices((arrays.images, arrays.masks)).cache()
    ds = ds.shuffle(len(arrays), seed=seed, reshuffle_each_iteration=True).repeat()
    ds = ds.batch(batch, drop_remainder=True, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.map(_to_model_input, num_parallel_calls=tf.data.AUTOTUNE)
    if augment:
        ds = ds.map(augmenter(ignore_index, seed), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def steps_per_epoch(num_samples: int, batch: int, min_images: int = 0) -> int:
    """One pass over the training images, or `min_images` (TrainConfig.min_epoch_images, 256 by default)
    augmented images when there are fewer.

    Hand-labelled datasets are often a few dozen images; one pass over 30 images is 4 steps of 8, and a 15-epoch
    run of 60 steps leaves a model (SegNet especially) far from converged, while each epoch pays the fixed cost of
    validation and checkpoints. With augmentation every repeat is a new view, so a short epoch is simply padded.
    """
    return max(1, -(-max(num_samples, min_images) // batch))


def model_inputs(arrays: Arrays) -> np.ndarray:
    """Validation images as the model takes them (float32 [0, 1])."""
    return arrays.images.astype(np.float32) * (1.0 / 255.0)
