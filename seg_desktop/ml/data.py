"""The tf.data pipeline of a training run (shuffle, crop, batch, augmentation, prefetch) and the validation views,
built on the sources of ml/inputs.py (its docstring: the scale and where the pixels live).

Both sources (`Arrays` in memory, a `Stream` from disk) go through the same index -> (image, mask) pipeline with
stateless randomness keyed by the step, so a stream and the in-memory arrays of the same samples give the same
batches. `random_crop` is the one random scale-crop implementation; augmentation policies reuse it.

Validation in crop mode scores a grid of full-resolution tiles of the crop size covering each whole image (the
last row and column shifted inside the image): every pixel is scored at the scale training sees, where a centre
crop would score only the middle of each image (0.4 % of a 4,000 px image for a 256 px crop) and make the
best-checkpoint choice noisy. Tiles are not blended as in prediction, so borders score slightly lower.

Augmentation uses Keras 3's image preprocessing layers with `{"images", "segmentation_masks"}` inputs, which apply
the same random geometry to both (nearest-neighbour for the mask). Photometric layers leave masks untouched. Its
geometry follows the run's policy (`choose_policy`, TrainConfig.augment_policy): "scene" for images with gravity
(street photos: a vertical flip or a 15-degree tilt shows an impossible scene) keeps them upright, "top-down"
(microscopy, aerial) turns and mirrors them every way.
Where rotation or zoom-out uncovers pixels outside the image, the mask gets the ignore index when the dataset has
one (those pixels then count for nothing), else image and mask are both reflected.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import cv2
import keras
import numpy as np
import tensorflow as tf

from ..core.errors import DatasetError
from ..core.gravity import SCENE, TOP_DOWN, measure_gravity
from .config import TrainConfig
from .inputs import RarePoints, Scale, Source
# re-exported: the tests and benchmarks import these from here
from .inputs import (Arrays, Stream, choose_scale, decoded_bytes, load_arrays, prepare_inputs,  # noqa: F401
                     split_samples)
from .preprocess import resize_image, resize_mask, tile_starts

# Augmentation strengths: mild enough that shapes keep their look, strong enough to matter on tens of images.
# Geometry per policy (TrainConfig.augment_policy, "auto" decided by core/gravity.py): a top-down image may turn
# any way, a scene keeps its horizon, so it zooms (mostly in: little uncovered border) and tilts only slightly.
ROTATION = {TOP_DOWN: 15.0 / 360.0, SCENE: 5.0 / 360.0}  # fraction of a full turn, as RandomRotation takes it
ZOOM = {TOP_DOWN: (-0.15, 0.15), SCENE: (-0.25, 0.1)}  # RandomZoom's height factor: negative zooms in
BRIGHTNESS = 0.1
CONTRAST = 0.15
RARE_ZOOM = 1.5  # resize mode: a rare-class view shows a window this many times smaller, zoomed in
_RARE_FOLD = 0x5241  # folded into a crop's seed for its rare-class draws
POLICY_SAMPLE = 100  # masks measured (evenly spread over the split) to decide an "auto" policy


# ---------------------------------------------------------------- the tf.data pipeline


def _read_op(source: Source) -> Callable[[tf.Tensor], tuple[tf.Tensor, tf.Tensor]]:
    """A tf function index -> (index, image uint8 (h, w, 3), mask uint8 (h, w)); an unreadable sample gives
    empty tensors, which the pipeline filters out. The index travels along for rare-class crops."""

    def read(i: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        item = source.read(int(i))
        if item is None:
            return np.zeros((0, 0, 3), np.uint8), np.zeros((0, 0), np.uint8)
        return item

    def op(i: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        image, mask = tf.numpy_function(read, [i], (tf.uint8, tf.uint8), stateful=False)
        image.set_shape((None, None, 3))
        mask.set_shape((None, None))
        return i, image, mask

    return op


def _readable(i: tf.Tensor, image: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
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


def random_crop(image: tf.Tensor, mask: tf.Tensor, scale: Scale, seed: tf.Tensor,
                centre: tf.Tensor | None = None) -> tuple[tf.Tensor, tf.Tensor]:
    """One random window of a full-resolution (image, mask): `scale.crop` pixels times a random factor in
    [1/(1+jitter), 1+jitter] (the same for both sides), placed uniformly, resized to `scale.size` only when it
    differs (bilinear with antialiasing for the image, nearest for the mask); images smaller than the window are
    mirrored to fit. `seed` is a stateless seed (2 int64), so results do not depend on thread timing.

    `centre` (y, x) int32, when given and not negative, restricts the placement to the windows that contain that
    pixel, uniformly among them (a uniform crop conditioned on showing it): always centring it would teach the
    model that rare things sit in the middle of a view."""
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
    low_y, low_x, high_y, high_x = 0, 0, h - rh, w - rw
    if centre is not None:
        on = centre[0] >= 0
        low_y = tf.where(on, tf.maximum(0, centre[0] - rh + 1), 0)
        low_x = tf.where(on, tf.maximum(0, centre[1] - rw + 1), 0)
        high_y = tf.where(on, tf.minimum(centre[0], high_y), high_y)
        high_x = tf.where(on, tf.minimum(centre[1], high_x), high_x)
    y = tf.random.stateless_uniform((), seeds[1], low_y, high_y + 1, dtype=tf.int32)
    x = tf.random.stateless_uniform((), seeds[2], low_x, high_x + 1, dtype=tf.int32)
    image, mask = image[y:y + rh, x:x + rw], mask[y:y + rh, x:x + rw]
    if scale.jitter > 0 or scale.crop != scale.size:
        image = tf.cast(tf.clip_by_value(tf.round(tf.image.resize(image, scale.size, "bilinear", antialias=True)),
                                         0, 255), tf.uint8)
        mask = tf.image.resize(mask[..., None], scale.size, "nearest")[..., 0]
    image = tf.ensure_shape(image, (*scale.size, 3))
    return image, tf.ensure_shape(mask, scale.size)


def choose_policy(config: TrainConfig, source: Source) -> tuple[TrainConfig, str]:
    """`config` with its augmentation policy resolved ("auto" -> "scene" or "top-down" from the training masks,
    core/gravity.py) as config.json records it, and the line that tells the user what augmentation does."""
    if config.augment_policy == "auto":
        gravity = measure_gravity(_some_masks(source, POLICY_SAMPLE), config.ignore_index)
        config, why = replace(config, augment_policy=gravity.policy), gravity.describe()
    else:
        why = f"{config.augment_policy} (as asked)"
    return config, f"augmentation: {why}" if config.augment else "augmentation: off"


def _some_masks(source: Source, limit: int) -> Iterator[np.ndarray]:
    """Up to `limit` readable masks spread evenly over the source; a stream reads only those."""
    for i in np.unique(np.linspace(0, len(source) - 1, min(len(source), limit)).round().astype(int)):
        mask = source.mask(int(i))
        if mask is not None:
            yield mask


def augmenter(ignore_index: int | None, seed: int,
              policy: str = TOP_DOWN) -> Callable[[tf.Tensor, tf.Tensor], tuple[tf.Tensor, tf.Tensor]]:
    """A function (images float32 [0,1] (B,H,W,3), masks int32 (B,H,W)) -> the same, randomly turned, flipped,
    rotated, zoomed, brightened and contrasted; image and mask always share the geometry.

    "top-down": every sample is transposed or not and flipped or not on each axis (three independent draws), which
    gives each of the eight quarter turns and mirror images equally often; a non-square sample cannot be
    transposed without changing its shape, so there only its flips turn it (by 180 degrees). "scene": horizontal
    flips only. Keras' RandomFlip("horizontal_and_vertical") draws one coin for both axes (only 180-degree turns,
    never a plain mirror image), so each axis has its own layer.
    """
    fill = dict(fill_mode="constant", fill_value=0.0) if ignore_index is not None else dict(fill_mode="reflect")
    flips = [keras.layers.RandomFlip("horizontal", seed=seed)]
    if policy == TOP_DOWN:
        flips.append(keras.layers.RandomFlip("vertical", seed=seed + 5))
    geometric = flips + [
        keras.layers.RandomRotation(ROTATION[policy], seed=seed + 1, **fill),
        keras.layers.RandomZoom(ZOOM[policy], seed=seed + 2, **fill),
    ]
    photometric = [
        keras.layers.RandomBrightness(BRIGHTNESS, value_range=(0.0, 1.0), seed=seed + 3),
        keras.layers.RandomContrast(CONTRAST, value_range=(0.0, 1.0), seed=seed + 4),
    ]
    transposes = keras.random.SeedGenerator(seed + 6)

    def augment(images: tf.Tensor, masks: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        # With an ignore index, labels are shifted by one so the constant fill 0 marks uncovered pixels, which
        # become the ignore index afterwards (the image there is black and, being ignored, costs nothing).
        shift = 1.0 if ignore_index is not None else 0.0
        data = {"images": tf.convert_to_tensor(images, tf.float32),
                "segmentation_masks": tf.cast(masks, tf.float32)[..., None] + shift}
        if policy == TOP_DOWN:
            data = _random_transpose(data, transposes)
        for layer in geometric + photometric:
            data = layer(data, training=True)
        out = tf.cast(tf.round(data["segmentation_masks"][..., 0]), tf.int32)
        if ignore_index is not None:
            out = tf.where(out == 0, ignore_index, out - 1)
        return tf.clip_by_value(data["images"], 0.0, 1.0), out

    return augment


def _random_transpose(data: dict[str, tf.Tensor], seed: keras.random.SeedGenerator) -> dict[str, tf.Tensor]:
    """Each sample of the {"images", "segmentation_masks"} batch swapped across its diagonal with probability 1/2
    (both tensors alike); unchanged where the samples are not square."""

    def transposed() -> dict[str, tf.Tensor]:
        images = data["images"]
        turn = keras.random.uniform((tf.shape(images)[0], 1, 1, 1), seed=seed) < 0.5
        return {k: tf.where(turn, tf.transpose(v, [0, 2, 1, 3]), v) for k, v in data.items()}

    h, w = data["images"].shape[1:3]
    if h is not None and w is not None:  # a static shape decides once, when the pipeline is built
        return transposed() if h == w else data
    shape = tf.shape(data["images"])
    return tf.cond(shape[1] == shape[2], transposed, lambda: data)


def _to_model_input(images: tf.Tensor, masks: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """uint8 -> float32 in [0, 1] (as `preprocess.prepare_image`), masks to int32 labels."""
    return tf.cast(images, tf.float32) * (1.0 / 255.0), tf.cast(masks, tf.int32)


def train_dataset(source: Source, batch: int, augment: bool, ignore_index: int | None, seed: int,
                  scale: Scale | None = None, cache: Path | None = None,
                  crops_per_read: int = 1, augment_policy: str = TOP_DOWN, rare: RarePoints | None = None,
                  rare_crops: float = 0.0) -> tf.data.Dataset:
    """Endless shuffled batches of (images float32 (B,H,W,3), masks int32 (B,H,W)); fit() takes
    `steps_per_epoch(...)` steps of it per epoch. `scale` None: the source is already at the training size.
    `augment_policy` ("scene" or "top-down", resolved by `choose_policy`) is the augmenter's geometry.

    Indices are shuffled rather than decoded samples, so a stream holds only what is in flight. With `cache`
    (streams only) the decoded samples are written there during the first pass and read back afterwards; the
    order then comes from a shuffle buffer bounded by the samples that fit in a few hundred megabytes.
    In crop mode each read sample gives `crops_per_read` crops (`Inputs.crops_per_read`), mixed by a small
    shuffle buffer of crops: decoding a 512 px file for one 128 px crop would spend most of a stream's time
    decoding pixels no crop uses.
    With `rare` (ClassCensus.rare_points) each crop is, with probability `rare_crops`, placed on a pixel of a rare
    class of its sample (`rare_centre`); when resizing, such a view is a window RARE_ZOOM times smaller than the
    image around that pixel, zoomed in to the training size, and the other views stay whole images.
    """
    n = len(source)
    centre = rare_centre(rare, rare_crops)
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
        def crops(step: tf.Tensor, item: tuple[tf.Tensor, tf.Tensor, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
            seeds = tf.random.experimental.stateless_split(tf.stack([tf.constant(seed, tf.int64), step]),
                                                           crops_per_read)
            i, image, mask = item
            pairs = [random_crop(image, mask, scale, seeds[j], None if centre is None else centre(i, seeds[j]))
                     for j in range(crops_per_read)]
            return tf.stack([p[0] for p in pairs]), tf.stack([p[1] for p in pairs])

        items = items.enumerate().map(crops, num_parallel_calls=tf.data.AUTOTUNE).unbatch()
        if crops_per_read > 1:
            crop_bytes = scale.size[0] * scale.size[1] * 4
            items = items.shuffle(max(batch, min(4 * crops_per_read * batch, (128 << 20) // crop_bytes)),
                                  seed=seed + 1, reshuffle_each_iteration=True)
    elif centre is not None and scale is not None:
        zoom = Scale("crop", scale.size, tuple(max(1, round(side / RARE_ZOOM)) for side in scale.size))

        def zoomed(step: tf.Tensor, item: tuple[tf.Tensor, tf.Tensor, tf.Tensor]) -> tuple[tf.Tensor, tf.Tensor]:
            i, image, mask = item
            step_seed = tf.stack([tf.constant(seed, tf.int64), step])
            where = centre(i, step_seed)
            return tf.cond(where[0] >= 0, lambda: random_crop(image, mask, zoom, step_seed, where),
                           lambda: (tf.ensure_shape(image, (*scale.size, 3)), tf.ensure_shape(mask, scale.size)))

        items = items.enumerate().map(zoomed, num_parallel_calls=tf.data.AUTOTUNE)
    else:
        items = items.map(lambda i, image, mask: (image, mask))
    ds = items.batch(batch, drop_remainder=True, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.map(_to_model_input, num_parallel_calls=tf.data.AUTOTUNE)
    if augment:
        ds = ds.map(augmenter(ignore_index, seed, augment_policy), num_parallel_calls=tf.data.AUTOTUNE)
    return ds.prefetch(tf.data.AUTOTUNE)


def rare_centre(rare: RarePoints | None,
                probability: float) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor] | None:
    """A function (sample index, stateless seed) -> the pixel (y, x) int32 a crop of that sample is to contain:
    with `probability`, one of the sample's rare-class pixels (a rare class it contains drawn uniformly, then one
    of its RarePoints), else (-1, -1) for a uniform crop, as for a sample without rare classes. None when nothing
    would ever be drawn, so the pipeline stays exactly the uniform one. Its draws come from the seed folded with a
    constant, so the uniform crops' own draws are the same as without rare crops."""
    if rare is None or probability <= 0 or not len(rare.coords):
        return None
    offsets = tf.constant(rare.offsets, tf.int64)
    coords = tf.constant(rare.coords, tf.int32)

    def centre(i: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
        first, end = offsets[i], offsets[i + 1]
        draws = tf.random.experimental.stateless_split(tf.random.experimental.stateless_fold_in(seed, _RARE_FOLD), 2)
        chosen = tf.random.stateless_uniform((), draws[0]) < probability
        k = tf.random.stateless_uniform((), draws[1], first, tf.maximum(end, first + 1), dtype=tf.int64)
        return tf.where(tf.logical_and(chosen, end > first), coords[tf.minimum(k, len(rare.coords) - 1)],
                        tf.constant([-1, -1], tf.int32))

    return centre


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
