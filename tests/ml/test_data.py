"""The training input: decoded arrays, tf.data batches, and augmentation that moves image and mask together."""

import numpy as np
import pytest
from PIL import Image

from seg_desktop.core.dataset import open_dataset
from seg_desktop.core.sample_data import make_sample_dataset
from seg_desktop.ml.data import Arrays, augmenter, load_arrays, split_samples, steps_per_epoch, train_dataset


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return open_dataset(make_sample_dataset(tmp_path_factory.mktemp("s"), n=12, size=48))


def test_arrays_and_batches_have_training_shapes_and_dtypes(data):
    train, val = split_samples(data, 0.2, 0)
    assert train and val and not set(s.key for s in train) & set(s.key for s in val)
    problems = []
    arrays = load_arrays(data, train, (32, 40), problems)
    assert problems == [] and len(arrays) == len(train)
    assert arrays.images.shape == (len(train), 32, 40, 3) and arrays.images.dtype == np.uint8
    assert arrays.masks.shape == (len(train), 32, 40) and arrays.masks.dtype == np.uint8
    images, masks = next(iter(train_dataset(arrays, 4, True, None, 0)))
    assert images.shape == (4, 32, 40, 3) and images.dtype.name == "float32"
    assert masks.shape == (4, 32, 40) and masks.dtype.name == "int32"
    assert 0.0 <= float(images.numpy().min()) and float(images.numpy().max()) <= 1.0
    assert set(np.unique(masks.numpy())) <= set(range(data.classes.num_classes))


def test_steps_per_epoch_pads_small_datasets():
    assert steps_per_epoch(30, 8) == 4
    assert steps_per_epoch(30, 8, min_images=256) == 32
    assert steps_per_epoch(1000, 8, min_images=256) == 125


def _pattern(n=8, size=32):
    """Images bright exactly where the mask is 1, on an asymmetric shape, so any misalignment shows."""
    masks = np.zeros((n, size, size), np.uint8)
    masks[:, 4:14, 3:25] = 1
    masks[:, 14:28, 3:9] = 1
    images = np.where(masks[..., None] == 1, 230, 25).astype(np.uint8).repeat(3, axis=-1)
    return Arrays(images, masks, [f"k{i}" for i in range(n)])


@pytest.mark.parametrize("ignore", [None, 255])
def test_augmentation_keeps_image_and_mask_aligned(ignore):
    arrays = _pattern()
    changed = 0
    for images, masks in train_dataset(arrays, 8, True, ignore, seed=3).take(4):
        images, masks = images.numpy(), masks.numpy()
        changed += int((masks != arrays.masks).any(axis=(1, 2)).sum())
        valid = masks != 255
        bright = images.mean(-1) > 0.5
        agree = (bright == (masks == 1))[valid].mean()
        assert agree > 0.97  # only interpolated border pixels may disagree
    assert changed >= 16  # flips/rotations really happened


def test_uncovered_pixels_get_the_ignore_index():
    arrays = _pattern()
    images, masks = augmenter(255, seed=1)(arrays.images.astype(np.float32) / 255, arrays.masks.astype(np.int32))
    masks = masks.numpy()
    assert set(np.unique(masks)) <= {0, 1, 255}
    assert (masks == 255).any()  # rotation/zoom-out uncovered corners: they count for nothing
    assert images.numpy()[masks == 255].mean() < 0.2  # filled black (then brightness/contrast jitter)


def test_unreadable_mask_is_skipped_with_a_sentence(tmp_path):
    root = make_sample_dataset(tmp_path / "s", n=4, size=32)
    (root / "masks" / "sample_001.png").write_bytes(b"not a png")
    dataset = open_dataset(root)
    problems = []
    arrays = load_arrays(dataset, dataset.labelled(), (32, 32), problems)
    assert len(arrays) == 3 and "sample_001" not in " ".join(arrays.keys)
    assert len(problems) == 1 and "sample_001.png" in problems[0]


def test_val_split_is_drawn_when_none_falls_to_val(tmp_path):
    dataset = open_dataset(make_sample_dataset(tmp_path / "s", n=3, size=32), val_fraction=0.01)
    train, val = split_samples(dataset, 0.01, 0)
    assert len(val) == 1 and len(train) == 2
    assert split_samples(dataset, 0.0, 0)[1] == []
    Image.open(val[0].mask_path)  # a real labelled sample
