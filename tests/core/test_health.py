"""Dataset health on hand-made masks whose pixel counts are known exactly."""

import threading

import numpy as np
import pytest
from PIL import Image

from seg_desktop.core.dataset import open_dataset
from seg_desktop.core.health import dataset_health, median_frequency_weights


def _write(root, split, name, mask=None):
    (root / "images" / split).mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((10, 10, 3), 128, np.uint8)).save(root / "images" / split / f"{name}.png")
    if mask is not None:
        (root / "masks" / split).mkdir(parents=True, exist_ok=True)
        Image.fromarray(mask.astype(np.uint8), "L").save(root / "masks" / split / f"{name}.png")


def _mask(**counts):
    """A 10x10 mask with `counts` pixels of each value, in row-major order."""
    values = [v for v, n in counts.items() for _ in range(n)]
    return np.array([int(v[1:]) for v in values], np.uint8).reshape(10, 10)


@pytest.fixture
def dataset(tmp_path):
    (tmp_path / "classes.csv").write_text("index,name,r,g,b\n0,bg,0,0,0\n1,cat,255,0,0\n2,dog,0,255,0\n"
                                          "255,void,255,255,255\n")
    _write(tmp_path, "train", "a", _mask(v0=80, v1=20))
    _write(tmp_path, "train", "b", _mask(v0=95, v2=5))
    _write(tmp_path, "val", "c", _mask(v0=90, v255=10))
    _write(tmp_path, "train", "d")  # no mask
    return open_dataset(tmp_path)


def test_counts_missing_classes_and_unlabelled(dataset):
    h = dataset_health(dataset)
    assert h.class_names == ["bg", "cat", "dog"]
    assert h.pixels["train"].tolist() == [175, 20, 5]
    assert h.pixels["val"].tolist() == [90, 0, 0]  # void pixels are not counted
    assert h.images == {"train": 2, "val": 1}
    assert h.unlabelled == ["images/train/d.png"]
    assert h.missing_in_val == ["cat", "dog"] and h.missing_in_train == []
    assert h.frequencies("train") == pytest.approx([0.875, 0.1, 0.025])


def test_imbalance_and_median_frequency_weights(dataset):
    h = dataset_health(dataset)
    assert h.imbalance == pytest.approx(35.0) and h.imbalanced
    # freq = pixels / pixels of images containing the class: bg 175/200, cat 20/100, dog 5/100; median 0.2
    assert h.weights == pytest.approx([0.2 / 0.875, 1.0, 4.0])
    text = " ".join(h.findings())
    assert "'cat', 'dog' never appear in the validation masks" in text
    assert "imbalanced" in text and "35x" in text and "--class-weights median" in text
    assert "1 image(s) have no mask yet: images/train/d.png" in text


def test_absent_class_gets_zero_weight_and_is_reported(tmp_path):
    (tmp_path / "classes.csv").write_text("index,name,r,g,b\n0,bg,0,0,0\n1,cat,255,0,0\n2,dog,0,255,0\n")
    _write(tmp_path, "train", "a", _mask(v0=60, v1=40))
    h = dataset_health(open_dataset(tmp_path))
    assert h.missing_in_train == ["dog"] and h.weights[2] == 0.0
    assert not h.imbalanced and h.imbalance == pytest.approx(1.5)
    text = " ".join(h.findings())
    assert "Class 'dog' never appears in the training masks" in text and "validation split has no labelled images" in text
    assert "reasonably balanced" in text


def test_median_weights_of_balanced_classes_are_one():
    assert median_frequency_weights(np.array([50, 50]), np.array([100, 100])).tolist() == [1.0, 1.0]


def test_stop_and_unreadable_mask(dataset):
    (dataset.root / "masks" / "train" / "a.png").write_bytes(b"not a png")
    progress = []
    h = dataset_health(dataset, progress=lambda d, t: progress.append((d, t)))
    assert len(h.problems) == 1 and "a.png" in h.problems[0] and progress[-1] == (3, 3)
    assert h.pixels["train"].tolist() == [95, 0, 5]
    stop = threading.Event()
    stop.set()
    stopped = dataset_health(dataset, stop=stop)
    assert stopped.stopped and stopped.pixels == {} and "stopped" in stopped.findings()[0]
