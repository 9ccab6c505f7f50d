"""`seg-desktop export`: each format is read back and matches the Keras model before success is reported, the
standalone predict.py gives the run's masks without seg-desktop, and refusals write nothing.

The parity figures are printed (run with -s to see them)."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seg_desktop.cli import main
from seg_desktop.core.dataset import open_dataset
from seg_desktop.core.errors import DatasetError
from seg_desktop.core.sample_data import make_sample_dataset
from seg_desktop.core.writeguard import MANIFEST
from seg_desktop.ml import export
from seg_desktop.ml.export import MAX_ABS_DIFF, MIN_AGREEMENT, export_model, missing_onnx_packages
from seg_desktop.ml.predict import load_run
from tests.helpers import make_untrained_run, snapshot

SIZE = 40  # not a multiple of 16: the size a UNet exported with free height and width got wrong
NO_ONNX = pytest.mark.skipif(bool(missing_onnx_packages()),
                             reason=f"the onnx extra is not installed (missing {missing_onnx_packages()}); "
                                    "pip install 'seg-desktop[onnx]'")
FORMATS = ["keras", "savedmodel", pytest.param("onnx", marks=NO_ONNX)]
# Runs predict.py with every seg_desktop import failing, so it can only work standalone.
WITHOUT_SEG_DESKTOP = ("import runpy, sys; sys.modules['seg_desktop'] = None; sys.argv = sys.argv[1:]; "
                       "runpy.run_path(sys.argv[0], run_name='__main__')")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return open_dataset(make_sample_dataset(tmp_path_factory.mktemp("data"), n=6, size=SIZE, seed=2))


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data):
    import keras

    keras.utils.set_random_seed(0)  # the same weights every time: the figures and agreements are reproducible
    return {model: make_untrained_run(tmp_path_factory.mktemp(model), data, size=SIZE, model=model)
            for model in ("unet", "segnet")}


@pytest.fixture(scope="module")
def exports(tmp_path_factory):
    """(model, format) -> ExportResult, each export made once for the module."""
    made = {}

    def get(runs, model, fmt):
        if (model, fmt) not in made:
            made[model, fmt] = export_model(runs[model], fmt, tmp_path_factory.mktemp("x") / f"{model}-{fmt}")
        return made[model, fmt]

    return get


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("model", ["unet", "segnet"])
def test_export_is_read_back_and_matches_the_keras_model(runs, data, exports, model, fmt):
    result = exports(runs, model, fmt)
    p = result.parity
    print(f"\nparity {model:6} {fmt:10}: max |dp| {p.max_abs_diff:.2e}, argmax agreement "
          f"{100 * p.argmax_agreement:.4f} % ({p.pixels} px, {p.images} images)")
    assert p.images == 6 and p.pixels == 6 * SIZE * SIZE
    assert p.max_abs_diff <= MAX_ABS_DIFF and p.argmax_agreement >= MIN_AGREEMENT
    info = json.loads((result.folder / "model.json").read_text())
    assert info["format"] == fmt and info["model"] == model and info["input"]["size"] == [SIZE, SIZE]
    assert [(c["name"], tuple(c["color"])) for c in info["classes"]] == \
        [(data.classes.names[i], data.classes.color_of(i)) for i in range(data.classes.num_classes)]
    assert info["verified"]["max_abs_diff"] == p.max_abs_diff and "ignore_index" in info
    assert (result.folder / info["file"]).exists() and (result.folder / "predict.py").is_file()
    listed = set(json.loads((result.folder / MANIFEST).read_text())["files"])
    assert listed == {p.relative_to(result.folder).as_posix() for p in result.files}  # ours to replace later


CAMVID = Path(__file__).resolve().parents[3] / "shared" / "data" / "camvid-mini"


@NO_ONNX
@pytest.mark.skipif(not CAMVID.is_dir(), reason=f"{CAMVID} (real road scenes) is not on this machine")
def test_onnx_export_is_checked_on_real_photographs(runs, tmp_path):
    result = export_model(runs["unet"], "onnx", tmp_path / "out", data=CAMVID)
    print(f"\nparity unet onnx on camvid-mini: {result.parity}")
    assert result.parity.images == 8 and result.parity.ok


def _standalone_masks(folder: Path, images: list[Path], out: Path) -> dict[str, np.ndarray]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", WITHOUT_SEG_DESKTOP, str(folder / "predict.py"), *map(str, images),
                           "--out", str(out)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return {p.stem: np.asarray(Image.open(p)) for p in sorted(out.glob("*.png"))}


@pytest.mark.parametrize("model,fmt", [("unet", "keras"), ("unet", "savedmodel"),
                                       pytest.param("unet", "onnx", marks=NO_ONNX),
                                       pytest.param("segnet", "onnx", marks=NO_ONNX)])
def test_standalone_predict_gives_the_runs_masks(runs, data, exports, tmp_path, model, fmt):
    result = exports(runs, model, fmt)
    odd = tmp_path / "odd"  # an image of another size: resized in and the mask resized back out
    odd.mkdir()
    Image.open(data.samples[0].image_path).resize((57, 33)).save(odd / "odd.png")
    masks = _standalone_masks(result.folder, [data.root / "images", odd / "odd.png"], tmp_path / "masks")
    run = load_run(runs[model])
    assert sorted(masks) == sorted([s.stem for s in data.samples] + ["odd"])
    for sample in data.samples:  # at the training size both feed the model the very same input
        expected = run.predict(data.read_image(sample)).mask
        assert (masks[sample.stem] == expected).mean() >= MIN_AGREEMENT
    expected = run.predict(np.asarray(Image.open(odd / "odd.png").convert("RGB"))).mask
    assert masks["odd"].shape == (33, 57)
    # predict.py resizes with numpy, seg-desktop with OpenCV's fixed-point code: inputs differ by one level on
    # ~10 % of the pixels (test_standalone_resize_is_the_trainings). An untrained model's classes are nearly tied,
    # so that flips a few percent of the UNet's pixels and many of the SegNet's (top-2 probability gap ~0).
    if model == "unet":
        assert (masks["odd"] == expected).mean() >= 0.9


@pytest.mark.parametrize("shape,size", [((80, 80), (40, 40)), ((100, 90), (40, 40)), ((500, 375), (64, 48)),
                                        ((33, 57), (40, 40)), ((30, 200), (40, 100)), ((40, 40), (33, 57))])
def test_standalone_resize_is_the_trainings(shape, size):
    """predict.py's numpy resize (it may not import OpenCV) against the one used in training and prediction:
    area averaging when shrinking (and OpenCV's variant when one side grows), bilinear when enlarging."""
    import cv2

    from seg_desktop.ml import standalone_predict
    from seg_desktop.ml.preprocess import prepare_image

    rng = np.random.default_rng(sum(shape))
    image = rng.integers(0, 256, (*shape, 3), dtype=np.uint8)
    ours = standalone_predict.prepare(Image.fromarray(image), size)
    assert ours.shape == (*size, 3) and np.abs(ours - prepare_image(image, size)).max() <= 1.0001 / 255
    probs = rng.random((*size, 5), dtype=np.float32)
    h, w = shape
    assert np.abs(standalone_predict._sample(probs, h, w) -
                  cv2.resize(probs, (w, h), interpolation=cv2.INTER_LINEAR)).max() < 1e-5


def test_refuses_an_output_folder_with_the_users_files(runs, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    before = snapshot(out)
    assert main(["export", str(runs["unet"]), "--format", "keras", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not empty" in err and "Traceback" not in err
    assert snapshot(out) == before


def test_refuses_a_corrupt_run_and_writes_nothing(runs, tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_bytes((runs["unet"] / "config.json").read_bytes())
    (run / "best.keras").write_bytes(b"PK\x03\x04 not really a zip")
    before = snapshot(run)
    assert main(["export", str(run), "--format", "savedmodel", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "best.keras cannot be loaded" in err
    assert not (tmp_path / "out").exists() and snapshot(run) == before


def test_an_export_that_predicts_differently_is_not_written(runs, tmp_path, monkeypatch):
    """The read-back check is what stops a wrong export: here the written model has one weight changed."""
    def wrong_keras(run, staging):
        changed = load_run(runs["unet"]).model
        bias = changed.get_layer("logits").bias
        bias.assign(bias.numpy() + np.eye(bias.shape[0], dtype=np.float32)[0] * 1e-3)  # class 0 a little likelier
        changed.save(staging / "model.keras")

    monkeypatch.setitem(export._EXPORTERS, "keras", wrong_keras)
    with pytest.raises(DatasetError, match="does not predict like the Keras model"):
        export_model(runs["unet"], "keras", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_full_disk_while_staging_is_one_sentence(runs, tmp_path, monkeypatch):
    def full(run, staging):
        raise OSError(errno.ENOSPC, "No space left on device", str(staging / "model.keras"))

    monkeypatch.setitem(export._EXPORTERS, "keras", full)
    with pytest.raises(DatasetError) as err:
        export_model(runs["unet"], "keras", tmp_path / "out")
    assert "model.keras" in str(err.value) and "nothing was exported" in str(err.value)
    assert "\n" not in str(err.value) and not (tmp_path / "out").exists()


@NO_ONNX
def test_a_segnet_onnx_mismatch_names_the_unpooling(runs, tmp_path, monkeypatch):
    """What a trained SegNet gets when ONNX Runtime's rounding moves an unpooled value (see ml/export.py)."""
    monkeypatch.setitem(export._EXPORTERS, "onnx", lambda run, staging: None)  # the figures below are the point
    monkeypatch.setitem(export._PARITY, "onnx", lambda run, path, images: export.Parity(8, 86400, 0.092, 0.9997))
    with pytest.raises(DatasetError) as err:
        export_model(runs["segnet"], "onnx", tmp_path / "out")
    message = str(err.value)
    assert "max probability difference 9.20e-02" in message and "SegNet's unpooling" in message
    assert "export it as savedmodel or keras instead" in message and not (tmp_path / "out").exists()


@NO_ONNX
def test_an_op_onnx_lacks_is_one_sentence(data, tmp_path):
    import keras
    import tensorflow as tf

    @keras.saving.register_keras_serializable(package="test_export")
    class FractionalPool(keras.layers.Layer):
        def call(self, x):
            return tf.nn.fractional_max_pool(x, [1.0, 1.0, 1.0, 1.0], seed=1)[0]

    run = make_untrained_run(tmp_path / "run", data, size=SIZE)
    inputs = keras.Input((None, None, 3))
    model = keras.Model(inputs, keras.layers.Softmax()(keras.layers.Conv2D(5, 1)(FractionalPool()(inputs))))
    model.save(run / "best.keras")
    with pytest.raises(DatasetError) as err:
        export_model(run, "onnx", tmp_path / "out")
    assert "ONNX has no FractionalMaxPool operation" in str(err.value) and "savedmodel or keras" in str(err.value)
    assert "\n" not in str(err.value) and not (tmp_path / "out").exists()


def test_onnx_without_the_extra_says_how_to_get_it(runs, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(export, "missing_onnx_packages", lambda: ["tf2onnx"])
    assert main(["export", str(runs["unet"]), "--format", "onnx", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "pip install 'seg-desktop[onnx]'" in err and err.count("\n") == 1
    assert not (tmp_path / "out").exists()
