"""Native-resolution crop training (TrainConfig.scale): crops are windows of the full-resolution pixels, "auto"
picks crops for images at least twice the training size, config.json records the resolved scale, and
evaluate/predict/the CLI then predict in full-resolution windows without being told."""

import json

import numpy as np
import pytest
import tensorflow as tf

from seg_desktop.cli import _parser
from seg_desktop.core.dataset import open_dataset
from seg_desktop.core.sample_data import make_sample_dataset
from seg_desktop.ml.config import TrainConfig
from seg_desktop.ml.data import Arrays, Scale, choose_scale, prepare_inputs, train_dataset, validation_views
from seg_desktop.ml.predict import LoadedRun, evaluate_dataset, load_run
from seg_desktop.ml.train import train


def _coordinates(h=96, w=80, n=3):
    """Images whose red channel is the row, green the column and blue the image number: any pixel tells where
    it came from, so a resized or shifted crop shows."""
    images, masks = [], []
    for i in range(n):
        y, x = np.mgrid[:h + 8 * i, :w]
        images.append(np.stack([y, x, np.full_like(y, i)], -1).astype(np.uint8))
        masks.append(((y // 7 + x // 5) % 3).astype(np.uint8))
    return Arrays(images, masks, [f"k{i}" for i in range(n)])


def _check_windows(images, masks, source):
    for image, mask in zip(images.numpy(), masks.numpy()):
        i, y0, x0 = int(image[0, 0, 2]), int(image[0, 0, 0]), int(image[0, 0, 1])
        h, w = image.shape[:2]
        np.testing.assert_array_equal(image, source.images[i][y0:y0 + h, x0:x0 + w])  # exact full-res pixels
        np.testing.assert_array_equal(mask, source.masks[i][y0:y0 + h, x0:x0 + w])


@pytest.mark.parametrize("per_read", [1, 3])
def test_crops_have_the_crop_size_and_are_full_resolution_pixels(per_read):
    source = _coordinates()
    scale = Scale("crop", (32, 40), (32, 40))
    seen = set()
    for images, masks in train_dataset(source, 4, False, None, 0, scale, None, per_read).take(6):
        assert images.shape == (4, 32, 40, 3) and masks.shape == (4, 32, 40)
        # model input is uint8 / 255, so the coordinates come back exactly
        _check_windows(tf.cast(tf.round(images * 255), tf.uint8), masks, source)
        seen.update(int(v) for v in images.numpy()[:, 0, 0, 0] * 255 + 0.5)
    assert len(seen) > 4  # the windows move


def test_a_larger_crop_or_jitter_is_resized_to_the_training_size():
    source = _coordinates()
    for scale in (Scale("crop", (24, 24), (48, 48)), Scale("crop", (32, 32), (32, 32), jitter=0.5)):
        images, masks = next(iter(train_dataset(source, 4, False, None, 0, scale)))
        assert images.shape == (4, *scale.size, 3) and masks.shape == (4, *scale.size)
        assert set(np.unique(masks.numpy())) <= {0, 1, 2}
    # a 48-px window shrunk to 24 px spans about 48 rows of the coordinate image
    images, _ = next(iter(train_dataset(source, 4, False, None, 0, Scale("crop", (24, 24), (48, 48)))))
    rows = images.numpy()[:, :, 0, 0] * 255
    assert np.all(rows[:, -1] - rows[:, 0] > 40)


def test_images_smaller_than_the_crop_are_mirrored_to_fit():
    source = Arrays([np.zeros((20, 24, 3), np.uint8)], [np.ones((20, 24), np.uint8)], ["a"])
    images, masks = next(iter(train_dataset(source, 2, False, None, 0, Scale("crop", (32, 32), (32, 32)))))
    assert images.shape == (2, 32, 32, 3) and np.all(masks.numpy() == 1)


def test_validation_tiles_cover_the_whole_image_at_full_resolution():
    source = _coordinates(n=1)
    views = list(validation_views(source.images[0], source.masks[0], Scale("crop", (32, 40), (32, 40))))
    assert len(views) == 3 * 2  # rows 96 = 3 x 32, columns 80 = 2 x 40
    covered = np.zeros((96, 80), bool)
    for image, _ in views:
        y0, x0 = int(image[0, 0, 0]), int(image[0, 0, 1])
        np.testing.assert_array_equal(image, source.images[0][y0:y0 + 32, x0:x0 + 40])
        covered[y0:y0 + 32, x0:x0 + 40] = True
    assert covered.all()


def test_auto_picks_crops_for_images_at_least_twice_the_training_size():
    assert choose_scale("auto", (64, 64), [(512, 512)] * 3) == "crop"
    assert choose_scale("auto", (64, 64), [(128, 128)] * 3) == "crop"
    assert choose_scale("auto", (64, 64), [(127, 512)] * 3) == "resize"
    assert choose_scale("auto", (64, 64), [(96, 96)]) == "resize"
    assert choose_scale("resize", (64, 64), [(512, 512)]) == "resize"
    assert choose_scale("crop", (64, 64), [(32, 32)]) == "crop"


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    return make_sample_dataset(tmp_path_factory.mktemp("big"), n=10, size=96)


def test_prepare_inputs_resolves_auto_and_keeps_full_resolution(big):
    dataset = open_dataset(big, val_fraction=0.2, seed=0)
    config, inputs = prepare_inputs(dataset, TrainConfig(data=str(big), size=(32, 32)), [])
    assert (config.scale, config.crop) == ("crop", (32, 32))
    assert inputs.scale == Scale("crop", (32, 32), (32, 32))
    assert inputs.train.images[0].shape == (96, 96, 3)  # decoded at full resolution, not resized
    assert inputs.views == len(inputs.train) * 9  # a pass covers each image's pixels once
    config, inputs = prepare_inputs(dataset, TrainConfig(data=str(big), size=(64, 64)), [])
    assert config.scale == "resize" and config.crop is None and inputs.train.images.shape[1:] == (64, 64, 3)


class _Spy:
    def __init__(self, monkeypatch):
        self.calls = 0
        original = LoadedRun._tiled

        def tiled(run, image, region=None):
            self.calls += 1
            return original(run, image, region)

        monkeypatch.setattr(LoadedRun, "_tiled", tiled)


@pytest.fixture(scope="module")
def crop_run(big):
    config = TrainConfig(data=str(big), model="unet", size=(32, 32), epochs=1, batch=4, base_filters=4,
                         min_epoch_images=0, augment=False)
    return train(config)


def test_the_run_records_the_scale_and_evaluate_and_predict_use_it(big, crop_run, monkeypatch):
    saved = json.loads((crop_run.folder / "config.json").read_text())
    assert saved["scale"] == "crop" and saved["crop"] == [32, 32]
    run = load_run(crop_run.folder)
    assert run.tiles and run.window == (32, 32)
    spy = _Spy(monkeypatch)
    dataset = open_dataset(big)
    image = dataset.read_image(dataset.samples[0])
    default = run.predict(image)
    assert spy.calls == 1 and default.mask.shape == (96, 96)
    np.testing.assert_array_equal(default.probs, run.predict(image, tile=True).probs)
    assert not np.array_equal(default.probs, run.predict(image, tile=False).probs)
    calls = spy.calls
    evaluate_dataset(run, dataset, dataset.labelled()[:2])
    assert spy.calls == calls + 2  # evaluate tiles each image without being asked
    metrics = json.loads((crop_run.folder / "metrics.json").read_text())
    assert metrics["num_images"] >= 1  # the trainer's own scoring went through the same path


def test_the_cli_leaves_tiling_to_the_run_unless_asked():
    parser = _parser()
    assert parser.parse_args(["predict", "r", "d", "--out", "o"]).tile is None
    assert parser.parse_args(["evaluate", "r", "d"]).tile is None
    assert parser.parse_args(["predict", "r", "d", "--out", "o", "--tile"]).tile is True
    args = parser.parse_args(["train", "d", "--model", "unet", "--scale", "crop", "--crop", "48x64"])
    assert (args.scale, args.crop) == ("crop", "48x64")
    config = TrainConfig.from_settings("d", {"scale": "crop", "crop": "48x64"})
    assert config.crop == (48, 64)
    assert TrainConfig.from_settings("d", {"crop": ""}).crop is None  # the form's empty field: training size


def test_a_larger_crop_window_predicts_in_windows_of_its_size(big, tmp_path):
    from tests.helpers import make_untrained_run

    dataset = open_dataset(big)
    folder = make_untrained_run(tmp_path / "run", dataset, size=32)
    config = json.loads((folder / "config.json").read_text())
    config.update(scale="crop", crop=[64, 64])
    (folder / "config.json").write_text(json.dumps(config))
    run = load_run(folder)
    assert run.window == (64, 64)
    pred = run.predict(dataset.read_image(dataset.samples[0]))
    assert pred.mask.shape == (96, 96) and pred.probs.shape[:2] == (96, 96)
    np.testing.assert_allclose(pred.probs.sum(-1), 1.0, atol=1e-4)
