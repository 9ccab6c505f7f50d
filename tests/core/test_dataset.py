import os
import time

import numpy as np
import pytest
from PIL import Image

from seg_desktop.core.classes import voc_palette
from seg_desktop.core.dataset import hash_split, open_dataset
from seg_desktop.core.errors import DatasetError
from tests.conftest import shared_dataset


def _img(path, h=12, w=16, value=100):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((h, w, 3), value, np.uint8)).save(path)


def _mask(path, h=12, w=16, value=1, mode="L"):
    path.parent.mkdir(parents=True, exist_ok=True)
    m = np.zeros((h, w), np.uint8)
    m[: h // 2] = value
    img = Image.fromarray(m, "L")
    if mode == "P":
        img = img.convert("P")  # a real palette, as VOC ships, so Pillow keeps the indices as they are
        img.putpalette(voc_palette().ravel().tolist())
        img.frombytes(m.tobytes())
    img.save(path)


def test_images_masks_layout_pairs_by_stem_and_lists_unlabelled(tmp_path):
    for n in ("a", "b", "c"):
        _img(tmp_path / "images" / f"{n}.jpg")
    _mask(tmp_path / "masks" / "a.png")
    _mask(tmp_path / "masks" / "b.png")
    ds = open_dataset(tmp_path)
    assert ds.layout == "images/masks"
    assert [s.stem for s in ds.samples] == ["a", "b", "c"]
    assert [s.labelled for s in ds.samples] == [True, True, False]
    assert ds.classes.num_classes == 2


def test_voc_layout_uses_split_lists_and_palette(tmp_path):
    for n in ("x", "y", "z"):
        _img(tmp_path / "JPEGImages" / f"{n}.jpg")
    _mask(tmp_path / "SegmentationClass" / "x.png", value=15, mode="P")
    _mask(tmp_path / "SegmentationClass" / "y.png", value=255, mode="P")
    lists = tmp_path / "ImageSets" / "Segmentation"
    lists.mkdir(parents=True)
    (lists / "train.txt").write_text("x\n")
    (lists / "val.txt").write_text("y\n../../etc/passwd\n")
    ds = open_dataset(tmp_path)
    assert ds.layout == "Pascal VOC" and ds.classes.num_classes == 21 and ds.classes.ignore_index == 255
    split = {s.stem: s.split for s in ds.samples}
    assert split["x"] == "train" and split["y"] == "val"
    assert [s.labelled for s in ds.samples] == [True, True, False]
    assert any("outside the image folder" in p.reason for p in ds.problems)
    assert ds.read_mask(ds.samples[1]).max() == 255  # void kept as the ignore value


def test_camvid_index_layout(tmp_path):
    for split in ("train", "val", "test"):
        _img(tmp_path / split / f"{split}1.png")
        _mask(tmp_path / f"{split}annot" / f"{split}1.png", value=11)
    ds = open_dataset(tmp_path)
    assert ds.layout.startswith("CamVid")
    assert {s.split for s in ds.samples} == {"train", "val", "test"}
    assert ds.classes.names[3] == "Road" and ds.classes.ignore_index == 11


def test_camvid_colour_labels_with_class_dict(tmp_path):
    (tmp_path / "class_dict.csv").write_text("name,r,g,b\nSky,128,128,128\nCar,64,0,128\n")
    _img(tmp_path / "train" / "f1.png")
    rgb = np.zeros((12, 16, 3), np.uint8)
    rgb[:] = (128, 128, 128)
    rgb[6:] = (64, 0, 128)
    (tmp_path / "train_labels").mkdir()
    Image.fromarray(rgb).save(tmp_path / "train_labels" / "f1_L.png")
    ds = open_dataset(tmp_path)
    assert ds.layout == "CamVid (colour labels)" and ds.samples[0].labelled
    mask = ds.read_mask(ds.samples[0])
    assert mask[0, 0] == 0 and mask[-1, 0] == 1


def test_keras_segmentation_layout(tmp_path):
    for split in ("train", "test"):
        _img(tmp_path / f"images_prepped_{split}" / "a.png")
        _mask(tmp_path / f"annotations_prepped_{split}" / "a.png", value=3)
    ds = open_dataset(tmp_path)
    assert ds.layout == "keras_segmentation" and len(ds.labelled()) == 2
    assert {s.split for s in ds.samples} <= {"train", "val", "test"} and "test" in {s.split for s in ds.samples}


def test_flat_layout(tmp_path):
    _img(tmp_path / "one.png")
    _mask(tmp_path / "one_mask.png")
    _img(tmp_path / "two.png")
    ds = open_dataset(tmp_path)
    assert ds.layout.startswith("flat") and [s.labelled for s in ds.samples] == [True, False]
    assert ds.mask_path_for(ds.samples[1]) == tmp_path / "two_mask.png"


def test_problems_reported_not_raised(tmp_path):
    _img(tmp_path / "images" / "a.png")
    _img(tmp_path / "images" / "a.jpg")
    (tmp_path / "images" / "empty.png").write_bytes(b"")
    _mask(tmp_path / "masks" / "orphan.png")
    ds = open_dataset(tmp_path)
    reasons = " | ".join(p.reason for p in ds.problems)
    assert "same name" in reasons and "0 bytes" in reasons and "without an image" in reasons
    assert [s.image_path.name for s in ds.samples] == ["a.png"]


def test_missing_and_empty_folder(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        open_dataset(tmp_path / "nope")
    ds = open_dataset(tmp_path)
    assert ds.samples == [] and "no images" in ds.problems[0].reason


def test_split_is_deterministic_and_stable_when_images_are_added(tmp_path):
    # the "name" rule's promise; the default "sequence" rule trades it for keeping frames together (core/split.py,
    # tests/core/test_sequence_split.py)
    for i in range(60):
        _img(tmp_path / "images" / f"im{i:03d}.png", 4, 4)
    first = {s.key: s.split for s in open_dataset(tmp_path, seed=3, split_rule="name").samples}
    again = {s.key: s.split for s in open_dataset(tmp_path, seed=3, split_rule="name").samples}
    assert first == again and 3 <= list(first.values()).count("val") <= 25
    for i in range(60, 90):
        _img(tmp_path / "images" / f"im{i:03d}.png", 4, 4)
    after = {s.key: s.split for s in open_dataset(tmp_path, seed=3, split_rule="name").samples}
    assert all(after[k] == v for k, v in first.items())
    assert hash_split("a", 0, 0.2) == hash_split("a", 0, 0.2)


def test_write_new_mask_for_unlabelled_and_existing(tmp_path):
    _img(tmp_path / "images" / "a.png")
    _img(tmp_path / "images" / "b.png")
    _mask(tmp_path / "masks" / "a.png")
    ds = open_dataset(tmp_path)
    a, b = ds.samples
    m = ds.read_mask(a)
    m[-1, -1] = 1
    ds.write_mask(a, m)
    assert (tmp_path / ".seg-desktop" / "originals" / "masks" / "a.png").exists()
    assert np.array_equal(open_dataset(tmp_path).read_mask(a), m)
    new = np.ones((12, 16), np.uint8)
    path = ds.write_mask(b, new)
    assert path == tmp_path / "masks" / "b.png" and b.labelled
    with pytest.raises(DatasetError):
        ds.write_mask(b, np.ones((3, 3), np.uint8))


def test_symlink_loop_is_reported(tmp_path):
    _img(tmp_path / "images" / "a.png")
    os.symlink(tmp_path / "images", tmp_path / "images" / "loop")
    ds = open_dataset(tmp_path)
    assert len(ds.samples) == 1 and any("symlink loop" in p.reason for p in ds.problems)


def test_indexing_does_not_decode(tmp_path, monkeypatch):
    for i in range(50):
        _img(tmp_path / "images" / f"{i}.png", 4, 4)
    import seg_desktop.core.imageio as imageio

    monkeypatch.setattr(imageio.Image.Image, "load", lambda self: pytest.fail("decoded pixels while indexing"))
    start = time.perf_counter()
    assert len(open_dataset(tmp_path).samples) == 50
    assert time.perf_counter() - start < 5


def test_real_membrane():
    ds = open_dataset(shared_dataset("membrane"))
    assert len(ds.labelled()) == 30 and ds.classes.num_classes == 2 and ds.problems == []
    mask = ds.read_mask(ds.samples[0])
    assert mask.shape == (512, 512) and set(np.unique(mask)) == {0, 1}


def test_real_camvid_mini():
    ds = open_dataset(shared_dataset("camvid-mini"))
    assert ds.layout == "keras_segmentation" and len(ds.labelled()) == 8
    assert ds.classes.num_classes == 11 and ds.classes.ignore_index == 11 and len(ds.classes.classes) == 12
    mask = ds.read_mask(ds.samples[0])
    assert mask.shape == (360, 480) and mask.max() <= 11
