"""Data larger than memory: past TrainConfig.data_memory the samples stream from disk through the same pipeline,
giving the same batches as the in-memory path; the optional disk cache, skipped bad files and a split where
nothing is readable."""

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from seg_desktop.core.dataset import open_dataset
from seg_desktop.core.errors import DatasetError
from seg_desktop.core.sample_data import make_sample_dataset
from seg_desktop.ml.config import TrainConfig
from seg_desktop.ml.data import (Arrays, Scale, Stream, decoded_bytes, prepare_inputs, split_samples,
                                 train_dataset, validation_batches)
from seg_desktop.ml.train import train


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_sample_dataset(tmp_path_factory.mktemp("s"), n=12, size=64)


def _inputs(folder, **kw):
    dataset = open_dataset(folder, val_fraction=0.2, seed=0)
    problems = []
    config, inputs = prepare_inputs(dataset, TrainConfig(data=str(folder), size=(32, 32), **kw), problems)
    return dataset, config, inputs, problems


def test_the_memory_budget_decides_between_memory_and_streaming(folder):
    _, _, inputs, _ = _inputs(folder)
    assert not inputs.streamed and isinstance(inputs.train, Arrays)
    _, _, inputs, _ = _inputs(folder, data_memory=1e-9)
    assert inputs.streamed and isinstance(inputs.train, Stream) and isinstance(inputs.val, Stream)
    assert "streamed from disk" in inputs.describe()
    assert decoded_bytes([(64, 64)] * 3, Scale("crop", (32, 32), (32, 32))) == 3 * 64 * 64 * 4
    assert decoded_bytes([(64, 64)] * 3, Scale("resize", (32, 32), (32, 32))) == 3 * 32 * 32 * 4


@pytest.mark.parametrize("scale", ["resize", "crop"])
def test_streaming_gives_the_same_batches_as_memory(folder, scale):
    _, _, memory, _ = _inputs(folder, scale=scale)
    _, _, stream, _ = _inputs(folder, scale=scale, data_memory=1e-9)
    assert not memory.streamed and stream.streamed and memory.scale == stream.scale
    k = memory.crops_per_read
    assert k == (4 if scale == "crop" else 1)  # 64 px images, 32 px crops: four crops per read
    a = train_dataset(memory.train, 4, False, None, 7, memory.scale, None, k).take(5)
    b = train_dataset(stream.train, 4, False, None, 7, stream.scale, None, k).take(5)
    for (xa, ya), (xb, yb) in zip(a, b):
        assert xa.shape == (4, 32, 32, 3) and ya.shape == (4, 32, 32)
        np.testing.assert_array_equal(xa.numpy(), xb.numpy())
        np.testing.assert_array_equal(ya.numpy(), yb.numpy())
    va = list(validation_batches(memory.val, memory.scale, 4))
    vb = list(validation_batches(stream.val, stream.scale, 4))
    assert len(va) == len(vb) > 0
    for (xa, ya), (xb, yb) in zip(va, vb):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)


def test_a_streamed_run_trains_and_validates(folder):
    infos = []

    class Listener:
        def __getattr__(self, name):
            return lambda *a: infos.append((name, a))

    config = TrainConfig(data=str(folder), size=(32, 32), epochs=1, batch=4, base_filters=4, min_epoch_images=0,
                         data_memory=1e-9, class_weights="median")
    run = train(config, Listener())
    begin = next(a[0] for name, a in infos if name == "on_train_begin")
    assert "streamed from disk" in begin["input"]
    assert run.history and run.history[-1]["val_mean_iou"] is not None


def test_the_disk_cache_is_written_under_seg_desktop_cache(folder):
    dataset, _, inputs, _ = _inputs(folder, data_memory=1e-9, disk_cache=True)
    assert inputs.cache is not None and (dataset.root / ".seg-desktop" / "cache") in inputs.cache.parents
    batches = list(train_dataset(inputs.train, 4, False, None, 0, inputs.scale, inputs.cache)
                   .take(2 * len(inputs.train) // 4 + 1))
    assert all(x.shape == (4, 32, 32, 3) for x, _ in batches)
    assert (inputs.cache.parent / "data.index").exists()  # a finished cache, read back from the second pass on
    _, _, again, _ = _inputs(folder, data_memory=1e-9, disk_cache=True)
    assert again.cache == inputs.cache and (again.cache.parent / "data.index").exists()  # reused, not rebuilt


def _copy(folder, tmp_path):
    import shutil

    out = tmp_path / "data"
    shutil.copytree(folder, out, ignore=shutil.ignore_patterns(".seg-desktop"))
    return out


def test_a_bad_file_is_skipped_while_streaming(folder, tmp_path):
    data = _copy(folder, tmp_path)
    dataset = open_dataset(data, val_fraction=0.2, seed=0)
    train_samples, _ = split_samples(dataset, 0.2, 0)
    Image.new("L", (10, 10)).save(train_samples[0].mask_path)  # a mask of another size than its image
    dataset, _, inputs, problems = _inputs(data, data_memory=1e-9)
    for x, y in train_dataset(inputs.train, 4, False, None, 0, inputs.scale).take(4):
        assert x.shape == (4, 32, 32, 3)
    assert len([p for p in problems if train_samples[0].mask_path.name in p]) == 1


def test_a_stream_where_nothing_reads_is_one_sentence(folder, tmp_path):
    data = _copy(folder, tmp_path)
    for mask in (data / "masks").iterdir():
        Image.new("L", (10, 10)).save(mask)
    _, _, inputs, _ = _inputs(data, data_memory=1e-9)
    with pytest.raises(tf.errors.OpError):  # rather than looking for a readable sample forever
        next(iter(train_dataset(inputs.train, 4, False, None, 0, inputs.scale)))
    # the trainer raises this sentence in place of the pipeline's error (ml/train.py, around model.fit)
    assert isinstance(inputs.train.fatal, DatasetError)
    assert f"None of the {len(inputs.train)} training images" in str(inputs.train.fatal)
    assert "could be read" in str(inputs.train.fatal)
