"""Rare-class crops (TrainConfig.rare_crops): the class census finds the rare classes and a few of their pixels once,
and with probability rare_crops a crop is placed to contain one of them; at 0 the pipeline is the uniform one."""

import json

import numpy as np
import pytest
import tensorflow as tf

from seg_desktop.core.sample_data import make_sample_dataset
from seg_desktop.ml.config import TrainConfig
from seg_desktop.ml.config_file import load_config
from seg_desktop.ml.data import RARE_ZOOM, Arrays, Scale, train_dataset
from seg_desktop.ml.inputs import RARE_POINTS, class_census
from seg_desktop.ml.train import train

SIDE, CROP, RARE = 96, 32, 2


def _corner_set(n=4):
    """Images whose red channel is the row, green the column and blue the image number (a crop tells where it
    came from); masks: background 0, a block of class 1 (a quarter), and the rare class 2 on 1 % of the image
    (a 10x9 patch) in one corner, a different corner per image."""
    images, masks = [], []
    y, x = np.mgrid[:SIDE, :SIDE]
    for i in range(n):
        images.append(np.stack([y, x, np.full_like(y, i)], -1).astype(np.uint8))
        mask = np.zeros((SIDE, SIDE), np.uint8)
        mask[24:72, 24:72] = 1
        rows = slice(0, 10) if i % 2 == 0 else slice(SIDE - 10, SIDE)
        cols = slice(0, 9) if i < 2 else slice(SIDE - 9, SIDE)
        mask[rows, cols] = RARE
        masks.append(mask)
    return Arrays(images, masks, [f"k{i}" for i in range(n)])


def _crops(source, rare_crops, seed=0, batches=8, scale=Scale("crop", (CROP, CROP), (CROP, CROP)), census=True):
    rare = class_census(source, 3, seed).rare_points() if census else None
    data = train_dataset(source, 8, False, None, seed, scale, None, 1, rare=rare, rare_crops=rare_crops)
    images, masks = zip(*[(i.numpy(), m.numpy()) for i, m in data.take(batches)])
    return np.concatenate(images), np.concatenate(masks)


def test_the_census_finds_the_rare_class_and_only_its_pixels():
    source = _corner_set()
    census = class_census(source, 3, seed=0)
    assert census.rare_classes().tolist() == [RARE]
    points = census.rare_points()
    assert points.offsets.tolist() == [RARE_POINTS * i for i in range(5)]  # one rare class in each image
    for i in range(4):
        yx = points.coords[points.offsets[i]:points.offsets[i + 1]]
        assert (source.masks[i][yx[:, 0], yx[:, 1]] == RARE).all()
        assert len({tuple(p) for p in yx}) > 1  # several pixels, not one
    assert class_census(source, 3, seed=0, points=0).points == [{}] * 4  # counts only


def test_with_rare_crops_1_every_crop_shows_the_rare_class_and_not_always_centred():
    images, masks = _crops(_corner_set(), 1.0)
    assert len(masks) == 64
    assert all((m == RARE).any() for m in masks)
    origins = {(int(i[0, 0, 2]), int(i[0, 0, 0] * 255 + 0.5), int(i[0, 0, 1] * 255 + 0.5)) for i in images}
    assert len(origins) > 20  # placed anywhere the rare pixel stays inside, not one window per image


def test_with_rare_crops_0_the_crops_are_the_uniform_ones():
    source = _corner_set()
    uniform_images, uniform_masks = _crops(source, 0.0, census=False)
    images, masks = _crops(source, 0.0)
    np.testing.assert_array_equal(images, uniform_images)  # exactly the pipeline without the census
    np.testing.assert_array_equal(masks, uniform_masks)
    # uniform placement: a 32 px window over 96 px starts anywhere in 0..64, mean 32; the 10x9 rare corner is in
    # about (10/65) * (9/65) = 2 % of the windows
    many_images, many_masks = _crops(source, 0.0, batches=40)
    starts = np.round(many_images[:, 0, 0, :2] * 255)
    assert abs(starts.mean() - 32) < 4
    assert np.mean([(m == RARE).any() for m in many_masks]) < 0.1


def test_half_of_the_crops_are_rare_ones_at_0_5():
    _, masks = _crops(_corner_set(), 0.5, batches=40)
    shown = np.mean([(m == RARE).any() for m in masks])
    assert 0.4 < shown < 0.65  # 0.5 + 0.5 * ~2 % by chance


def test_rare_crops_are_deterministic_for_a_seed():
    source = _corner_set()
    first, second = _crops(source, 0.5, seed=3), _crops(source, 0.5, seed=3)
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
    assert not np.array_equal(first[0], _crops(source, 0.5, seed=4)[0])


def test_in_resize_mode_a_rare_view_is_a_zoomed_window_around_a_rare_pixel():
    source = _corner_set()
    images, masks = _crops(source, 1.0, scale=Scale("resize", (SIDE, SIDE), (SIDE, SIDE)), batches=2)
    assert images.shape == (16, SIDE, SIDE, 3)
    assert all((m == RARE).any() for m in masks)
    rows = np.round(images[:, :, 0, 0] * 255)
    spans = rows[:, -1] - rows[:, 0]
    assert np.all(np.abs(spans - SIDE / RARE_ZOOM) < 3)  # a window 1.5x smaller, enlarged to the training size
    _, whole = _crops(source, 0.0, scale=Scale("resize", (SIDE, SIDE), (SIDE, SIDE)), batches=1)
    assert sorted(m.astype(np.uint8).tobytes() for m in whole[:4]) == sorted(m.tobytes() for m in source.masks)


def test_a_run_records_rare_crops_and_an_old_config_means_none(tmp_path):
    data = make_sample_dataset(tmp_path / "data", n=6, size=64)
    config = TrainConfig(data=str(data), model="unet", size=(32, 32), scale="crop", epochs=1, batch=4,
                         base_filters=4, min_epoch_images=0, augment=False, rare_crops=0.5,
                         class_weights="sqrt-median", out=str(tmp_path / "run"))
    run = train(config)
    saved = json.loads((run.folder / "config.json").read_text())
    assert saved["rare_crops"] == 0.5 and saved["class_weights"] == "sqrt-median"
    del saved["rare_crops"]  # a config.json written before the setting existed
    (tmp_path / "old.json").write_text(json.dumps(saved))
    assert load_config(tmp_path / "old.json").rare_crops == 0.0


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_rare_crops_outside_0_1_is_refused(value):
    with pytest.raises(ValueError, match="rare-class crops"):
        TrainConfig(data="x", rare_crops=value).validate()
