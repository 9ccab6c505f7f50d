"""Loading a run, predicting, scoring and exporting, on a real (tiny, untrained) Keras model saved to disk."""

import json

import numpy as np
import pytest
from PIL import Image

from seg_desktop.core.dataset import open_dataset
from seg_desktop.core.errors import DatasetError
from seg_desktop.core.metrics import confusion_matrix, scores
from seg_desktop.core.sample_data import make_sample_dataset
from seg_desktop.ml.predict import evaluate_dataset, export_predictions, load_run, write_metrics
from tests.helpers import make_untrained_run


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return open_dataset(make_sample_dataset(tmp_path_factory.mktemp("s"), n=6, size=40, seed=1))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, data):
    return make_untrained_run(tmp_path_factory.mktemp("run"), data)


def test_predict_shapes_probabilities_entropy(run_dir, data):
    run = load_run(run_dir)
    image = data.read_image(data.samples[0])
    pred = run.predict(image)
    h, w = image.shape[:2]
    assert pred.mask.shape == (h, w) and pred.mask.dtype == np.uint8
    assert pred.probs.shape == (h, w, run.num_classes)
    assert np.allclose(pred.probs.sum(-1), 1.0, atol=1e-3)
    assert np.array_equal(pred.mask, pred.probs.argmax(-1))
    assert (pred.entropy >= 0).all() and (pred.entropy <= np.log(run.num_classes) + 1e-3).all()


def test_tiled_prediction_of_a_large_image(run_dir):
    run = load_run(run_dir)
    big = np.random.default_rng(0).integers(0, 255, (75, 97, 3), dtype=np.uint8)
    pred = run.predict(big, tile=True)
    assert pred.mask.shape == (75, 97) and np.allclose(pred.probs.sum(-1), 1.0, atol=1e-3)


def test_evaluate_agrees_with_core_metrics(run_dir, data):
    run = load_run(run_dir)
    samples = data.labelled()
    result = evaluate_dataset(run, data, samples)
    cm = sum(confusion_matrix(data.read_mask(s), run.predict(data.read_image(s)).mask, run.num_classes)
             for s in samples)
    assert result["mean_iou"] == scores(cm)["mean_iou"]  # same numbers to the last digit
    assert result["num_images"] == len(samples) and len(result["per_image"]) == len(samples)
    assert set(result["per_class"]) == set(data.classes.names)
    path = write_metrics(run_dir, result)
    assert json.loads(path.read_text())["mean_iou"] == pytest.approx(result["mean_iou"])


@pytest.mark.parametrize("fmt", ["index", "color", "overlay"])
def test_export_one_file_per_image_same_size(run_dir, data, tmp_path, fmt):
    run = load_run(run_dir)
    done = []
    paths = export_predictions(run, data, data.samples, tmp_path, fmt=fmt, probabilities=(fmt == "index"),
                               progress=lambda i, n, key: done.append(i))
    assert [p.stem for p in paths] == [s.stem for s in data.samples] and done[-1] == len(data.samples)
    for p, s in zip(paths, data.samples):
        img = Image.open(p)
        assert img.size == Image.open(s.image_path).size
        assert img.mode == ("L" if fmt == "index" else "RGB")
    if fmt == "index":
        probs = np.load(tmp_path / f"{data.samples[0].stem}_probs.npy")
        assert probs.shape[-1] == run.num_classes and (tmp_path / f"{data.samples[0].stem}_entropy.png").exists()


def test_missing_and_corrupt_runs_are_clear(tmp_path, run_dir):
    with pytest.raises(DatasetError, match="not a run folder"):
        load_run(tmp_path / "nope")
    (tmp_path / "config.json").write_text((run_dir / "config.json").read_text())
    with pytest.raises(DatasetError, match="holds no best.keras"):
        load_run(tmp_path)
    (tmp_path / "best.keras").write_bytes(b"PK\x03\x04 this is not a model")
    with pytest.raises(DatasetError, match="cannot be loaded"):
        load_run(tmp_path)


def test_lambda_model_is_refused(tmp_path, run_dir):
    import keras

    inp = keras.Input((None, None, 3))
    out = keras.layers.Lambda(lambda x: x * 2.0)(inp)
    keras.Model(inp, out).save(tmp_path / "best.keras")
    (tmp_path / "config.json").write_text((run_dir / "config.json").read_text())
    with pytest.raises(DatasetError, match="Lambda"):
        load_run(tmp_path)
