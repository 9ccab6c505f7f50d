"""Mixed bfloat16 training (ml/precision.py): the run records its precision, trains, and every checkpoint it
writes is a float32 model that predicts like the training model, so prediction, export and resume never depend on
the training machine's policy."""

import json

import keras
import numpy as np
import pytest

from seg_desktop.core.sample_data import make_sample_dataset
from seg_desktop.ml import models
from seg_desktop.ml.config import TrainConfig
from seg_desktop.ml.precision import Float32Saver, policy, resolve, with_precision
from seg_desktop.ml.train import train


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_sample_dataset(tmp_path_factory.mktemp("p"), n=10, size=40)


def _unet():
    return models.build_model("unet", 3, (None, None, 3), base_filters=4)


def test_bfloat16_run_saves_float32_checkpoints(data, tmp_path):
    run = train(TrainConfig(data=str(data), out=str(tmp_path / "run"), model="unet", epochs=1, size=(32, 32),
                            batch=4, base_filters=4, min_epoch_images=0, precision="bfloat16"))
    assert json.loads((run.folder / "config.json").read_text())["precision"] == "bfloat16"
    for name in ("last.keras", "best.keras"):
        model = keras.saving.load_model(run.folder / name)
        assert {layer.dtype_policy.name for layer in model.layers} == {"float32"}
        assert int(model.optimizer.iterations) > 0  # the optimizer's state is saved as a float32 run's is
    assert run.best_val_mean_iou is not None


def test_float32_twin_predicts_like_the_mixed_model(tmp_path):
    with policy("bfloat16"):
        mixed = _unet()
    assert mixed.dtype_policy.name == "mixed_bfloat16"
    assert keras.config.dtype_policy().name == "float32"  # restored after the block
    x = np.random.default_rng(0).random((2, 32, 32, 3)).astype(np.float32)
    mixed.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    Float32Saver(_unet, lambda model, path: model.save(path))(mixed, tmp_path / "m.keras")
    saved = keras.saving.load_model(tmp_path / "m.keras", compile=False)
    assert saved.dtype_policy.name == "float32"
    # the same weights: only bfloat16 rounding of the activations separates the two
    assert np.abs(saved.predict(x, verbose=0) - mixed.predict(x, verbose=0)).max() < 0.05


def test_a_float32_checkpoint_resumes_in_bfloat16():
    model = _unet()
    twin = with_precision(model, "bfloat16", _unet)
    assert twin.dtype_policy.name == "mixed_bfloat16"
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), twin.get_weights()))
    assert with_precision(model, "float32", _unet) is model


def test_auto_resolves_to_a_concrete_precision():
    assert resolve("auto") in ("float32", "bfloat16")
    assert resolve("float32") == "float32"
