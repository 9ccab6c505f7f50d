"""Model layer: shapes for any image size, true SegNet unpooling, saving, training, VGG16 encoder loading.

Tiny models (UNet base_filters 4, SegNet width 0.125) on 32–97 px inputs keep this file fast on 2 CPU cores;
the canonical-size models are only built (never run) to count their parameters.
"""

from __future__ import annotations

import subprocess
import sys
import time

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from seg_desktop.ml.models import MODEL_NAMES, build_model, model_supports_jit
from seg_desktop.ml.models.layers import MaxPoolingWithArgmax2D, MaxUnpooling2D

TINY = {"unet": {"base_filters": 4}, "segnet": {"width": 0.125}}


def _tiny(name: str, input_shape=(None, None, 3), num_classes: int = 3, **extra) -> keras.Model:
    return build_model(name, num_classes, input_shape, **TINY[name], **extra)


def _images(batch: int, height: int, width: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((batch, height, width, channels), dtype=np.float32)


def test_ml_package_import_does_not_load_tensorflow():
    code = "import sys, seg_desktop.ml; sys.exit('tensorflow' in sys.modules or 'keras' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_registry_names_case_and_errors():
    assert MODEL_NAMES == ("unet", "segnet")
    assert _tiny("unet").name == "unet"
    assert build_model("SegNet", 2, (32, 32, 3), width=0.125).name == "segnet"
    with pytest.raises(ValueError, match="unet, segnet"):
        build_model("deeplab", 2, (32, 32, 3))
    with pytest.raises(ValueError, match="no option width"):
        build_model("unet", 2, (32, 32, 3), width=0.5)
    with pytest.raises(ValueError, match="at least 2 classes"):
        build_model("unet", 1, (32, 32, 3))
    assert model_supports_jit("UNET") and not model_supports_jit("segnet")


@pytest.mark.parametrize("name", ["unet", "segnet"])
@pytest.mark.parametrize(
    "input_shape, image_size",
    [
        ((360, 480, 3), (360, 480)),
        ((75, 97, 3), (75, 97)),
        ((None, None, 3), (75, 97)),
        ((None, None, 1), (33, 64)),
    ],
)
def test_output_is_per_pixel_probabilities_for_any_size(name, input_shape, image_size):
    model = _tiny(name, input_shape, num_classes=5)
    assert tuple(model.output.shape) == (None, *input_shape[:2], 5)
    probs = model.predict(_images(2, *image_size, channels=input_shape[2]), verbose=0)
    assert probs.shape == (2, *image_size, 5) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(axis=-1), 1.0, atol=1e-5)


@pytest.mark.parametrize("name", ["unet", "segnet"])
def test_output_stays_float32_under_mixed_precision(name):
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = _tiny(name, (None, None, 3))
        probs = model(_images(1, 35, 33))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model.output.dtype == "float32" and probs.dtype == tf.float32
    assert np.isfinite(probs.numpy()).all()


def _numpy_max_pool_2x2(x: np.ndarray) -> np.ndarray:
    """Reference 2x2/2 max pool with 'SAME' padding: pad bottom/right with -inf."""
    b, h, w, c = x.shape
    padded = np.full((b, h + h % 2, w + w % 2, c), -np.inf, dtype=x.dtype)
    padded[:, :h, :w] = x
    return padded.reshape(b, padded.shape[1] // 2, 2, padded.shape[2] // 2, 2, c).max(axis=(2, 4))


def test_pooling_indices_and_unpooling_match_numpy_for_batch_and_odd_sizes():
    x = _images(3, 7, 9, channels=4, seed=1)
    pooled, indices = MaxPoolingWithArgmax2D(2)(x)
    pooled, indices = pooled.numpy(), indices.numpy()
    assert indices.dtype == np.int64 and pooled.shape == indices.shape == (3, 4, 5, 4)
    np.testing.assert_array_equal(pooled, _numpy_max_pool_2x2(x))
    # Indices are flat positions in the whole batch tensor and point at the maxima.
    np.testing.assert_array_equal(x.ravel()[indices.ravel()], pooled.ravel())
    assert len(np.unique(indices)) == indices.size

    values = _images(3, 4, 5, channels=4, seed=2)  # decoder features, not the pooled ones
    expected = np.zeros(x.size, dtype=np.float32)
    expected[indices.ravel()] = values.ravel()
    unpooled = MaxUnpooling2D()([values, indices, x]).numpy()
    assert unpooled.shape == x.shape
    np.testing.assert_array_equal(unpooled, expected.reshape(x.shape))


def test_pooling_layers_handle_unknown_sizes_and_serialise():
    pool = MaxPoolingWithArgmax2D(2)
    assert pool.compute_output_shape((None, None, 7, 8)) == ((None, None, 4, 8), (None, None, 4, 8))
    assert MaxPoolingWithArgmax2D.from_config(pool.get_config()).pool_size == 2
    assert MaxUnpooling2D().compute_output_shape([(None, 3, 4, 8), (None, 3, 4, 8), (None, None, 7, 8)]) == (
        None,
        None,
        7,
        8,
    )
    assert not pool.supports_jit and not MaxUnpooling2D().supports_jit


def test_segnet_is_a_true_segnet():
    model = _tiny("segnet")
    kinds = [type(layer) for layer in model.layers]
    assert keras.layers.UpSampling2D not in kinds and keras.layers.Conv2DTranspose not in kinds
    assert kinds.count(MaxPoolingWithArgmax2D) == 5 and kinds.count(MaxUnpooling2D) == 5
    convs = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
    assert sum(layer.name.startswith("block") for layer in convs) == 13
    assert len(convs) == 13 + 12 + 1  # encoder, mirrored decoder, 1x1 classifier
    # Each unpooling consumes the indices of its own encoder block.
    for block in range(1, 6):
        unpool = model.get_layer(f"decoder{block}_unpool")
        source = unpool._inbound_nodes[0].input_tensors[1]._keras_history.operation
        assert source.name == f"block{block}_pool"
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", jit_compile="auto")
    assert model.jit_compile is False


def test_gradients_reach_segnet_first_conv():
    model = _tiny("segnet")
    x = _images(2, 35, 33)
    weights = tf.constant(_images(2, 35, 33, channels=3, seed=3))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(model(x, training=True) * weights)
    kernel = model.get_layer("block1_conv1").kernel
    grad = tape.gradient(loss, kernel).numpy()
    assert np.isfinite(grad).all() and np.abs(grad).max() > 0


def test_canonical_parameter_counts():
    unet = build_model("unet", 12, (64, 64, 3))
    segnet = build_model("segnet", 12, (64, 64, 3))
    print(f"unet base 64: {unet.count_params():,} params; segnet width 1.0: {segnet.count_params():,} params")
    assert unet.count_params() == pytest.approx(31.0e6, rel=0.03)
    assert segnet.count_params() == pytest.approx(29.5e6, rel=0.03)


@pytest.fixture(scope="module", params=["unet", "segnet"])
def trained(request):
    """(model, images, per-epoch losses): a tiny model fitted to one batch; shared because tracing costs ~5 s."""
    keras.utils.set_random_seed(0)
    extra = {"dropout": 0.2} if request.param == "unet" else {}
    model = _tiny(request.param, (None, None, 3), num_classes=2, **extra)
    x = _images(2, 32, 32)
    y = (x[..., 0] > 0.5).astype(np.int32)
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    losses = model.fit(x, y, epochs=10, batch_size=2, verbose=0).history["loss"]
    return model, x, losses


def test_overfits_one_batch(trained):
    _, _, losses = trained
    assert losses[-1] < 0.75 * losses[0], losses


def test_keras_file_round_trip_in_safe_mode(trained, tmp_path):
    model, x, _ = trained  # trained, so BN statistics and optimizer state are not their defaults
    path = tmp_path / f"{model.name}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    odd = _images(1, 37, 45, seed=4)
    for images in (x, odd):
        np.testing.assert_allclose(loaded.predict(images, verbose=0), model.predict(images, verbose=0), atol=1e-6)


@pytest.fixture(scope="module")
def vgg16_notop():
    """A randomly initialised Keras VGG16 without top: the weights the files below hold."""
    return keras.applications.VGG16(weights=None, include_top=False, input_shape=(None, None, 3))


def _legacy_h5(model: keras.Model, path) -> None:
    """Write the legacy layout of vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5 (layer_names groups)."""
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = [layer.name.encode() for layer in model.layers]
        for layer in model.layers:
            group = f.create_group(layer.name)
            names = [f"{layer.name}/{'kernel' if w.ndim == 4 else 'bias'}:0" for w in layer.get_weights()]
            group.attrs["weight_names"] = [n.encode() for n in names]
            for n, w in zip(names, layer.get_weights()):
                group.create_dataset(n, data=w)


@pytest.mark.parametrize(
    "file_name", ["vgg16_notop.weights.h5", "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"]
)
def test_encoder_weights_load_from_vgg16_file(vgg16_notop, tmp_path, file_name):
    started = time.perf_counter()
    path = tmp_path / file_name
    if file_name.endswith(".weights.h5"):
        vgg16_notop.save_weights(path)
    else:
        _legacy_h5(vgg16_notop, path)
    segnet = build_model("segnet", 3, (None, None, 3), encoder_weights=path)
    unet = build_model("unet", 3, (None, None, 3), encoder_weights=path)
    vgg_convs = [layer for layer in vgg16_notop.layers if isinstance(layer, keras.layers.Conv2D)]
    assert len(vgg_convs) == 13
    for layer in vgg_convs:
        kernel, bias = layer.get_weights()
        np.testing.assert_array_equal(segnet.get_layer(layer.name).get_weights()[0], kernel)
        np.testing.assert_array_equal(segnet.get_layer(layer.name).get_weights()[1], bias)
        if int(layer.name[5]) <= 4 and layer.name[-1] in "12":  # UNet's contracting path: blocks 1-4, 2 convs
            np.testing.assert_array_equal(unet.get_layer(layer.name).get_weights()[0], kernel)
    if time.perf_counter() - started > 30:
        pytest.skip("VGG16 weight loading took over 30 s on this machine")


def test_encoder_weights_errors_name_the_file(vgg16_notop, tmp_path):
    missing = tmp_path / "vgg16_notop.h5"
    with pytest.raises(FileNotFoundError, match=r"vgg16_notop\.h5 not found; download it .* train from scratch"):
        build_model("segnet", 3, (None, None, 3), encoder_weights=missing)
    path = tmp_path / "vgg.weights.h5"
    vgg16_notop.save_weights(path)
    with pytest.raises(ValueError, match=r"vgg\.weights\.h5 does not fit segnet: layer block1_conv1"):
        build_model("segnet", 3, (None, None, 3), width=0.125, encoder_weights=path)
    with pytest.raises(ValueError, match=r"vgg\.weights\.h5 does not fit unet"):
        build_model("unet", 3, (None, None, 1), encoder_weights=path)
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(b"not an hdf5 file")
    with pytest.raises(ValueError, match=r"garbage\.h5 could not be loaded as Keras VGG16"):
        build_model("unet", 3, (None, None, 3), encoder_weights=garbage)
