"""Every mask format both ways: our masks -> export (checked by reading back) -> `import_masks` into a new
dataset -> the same masks (pixel-exact for raster formats, IoU >= 0.99 per class and image for polygon formats),
on the synthetic sample and on the real CamVid frames (12 classes with a void class) when they are present."""

from __future__ import annotations

import json

import numpy as np
import pytest

from seg_desktop.core.dataset import open_dataset
from seg_desktop.core.formats import FORMAT_NAMES, get_format
from seg_desktop.core.formats.base import mask_shapes, paint
from seg_desktop.core.formats.transfer import MIN_IOU, export_masks, import_masks, planned_samples
from seg_desktop.core.sample_data import make_sample_dataset
from tests.conftest import shared_dataset
from tests.helpers import snapshot


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    return open_dataset(make_sample_dataset(tmp_path_factory.mktemp("sample"), n=6, size=48, seed=3))


@pytest.fixture(scope="module")
def camvid():
    return open_dataset(shared_dataset("camvid-mini"))


def _items(dataset):
    samples = dataset.labelled()
    return [(p, lambda s=s: dataset.read_mask(s)) for p, s in zip(planned_samples(samples), samples)], samples


def _round_trip(dataset, fmt, tmp_path):
    items, samples = _items(dataset)
    before = snapshot(dataset.root)
    result = export_masks(items, dataset.classes, fmt, tmp_path / "export", dataset=dataset)
    assert result.written == len(samples) and not result.problems
    assert result.differences == []
    polygons = get_format(fmt).POLYGONS
    if polygons:
        assert result.worst_iou is not None and result.worst_iou >= MIN_IOU
    else:
        assert result.pixels_differing == 0
    imported = import_masks(tmp_path / "export", fmt, tmp_path / "imported")
    assert imported.problems == [] and imported.masks == len(samples)
    assert snapshot(dataset.root) == before  # exporting never writes into the dataset
    back = open_dataset(tmp_path / "imported")
    by_stem = {s.stem: s for s in back.samples}
    assert sorted(by_stem) == sorted(s.stem for s in samples)
    first = 1 if polygons else 0  # polygon formats name no class 0: it is the background
    for c in dataset.classes.classes:
        if c.index >= first:
            assert back.classes.name_of(c.index) == c.name
    voc_void = fmt == "voc" and back.classes.ignore_index == 255  # VOC's own void, added when a dataset has none
    assert back.classes.ignore_index == dataset.classes.ignore_index or voc_void
    worst = 1.0
    for s in samples:
        original, again = dataset.read_mask(s), back.read_mask(by_stem[s.stem])
        assert again.shape == original.shape
        assert np.array_equal(back.read_image(by_stem[s.stem]), dataset.read_image(s))
        if not polygons:
            assert np.array_equal(again, original), f"{fmt}: {s.key} differs in {(again != original).sum()} pixels"
            continue
        for value in np.union1d(np.unique(original), np.unique(again)):
            a, b = original == value, again == value
            worst = min(worst, (a & b).sum() / (a | b).sum())
    assert worst >= MIN_IOU
    return result


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_round_trip_sample(sample, fmt, tmp_path):
    _round_trip(sample, fmt, tmp_path)


@pytest.mark.parametrize("fmt", FORMAT_NAMES)
def test_round_trip_camvid(camvid, fmt, tmp_path):
    assert camvid.classes.num_classes == 11 and camvid.classes.ignore_index == 11  # 12 classes incl. void
    _round_trip(camvid, fmt, tmp_path)


def test_exports_have_the_published_structure(sample, tmp_path):
    items, samples = _items(sample)
    expected = {
        "coco": ["annotations/instances_default.json", f"images/{samples[0].stem}.png"],
        "yolo": ["classes.txt", "data.yaml", f"labels/{samples[0].split}/{samples[0].stem}.txt"],
        "cvat": ["labelmap.txt", "ImageSets/Segmentation/default.txt", f"SegmentationClass/{samples[0].stem}.png",
                 f"JPEGImages/{samples[0].stem}.png"],
        "voc": ["labelmap.txt", f"SegmentationClass/{samples[0].stem}.png", f"JPEGImages/{samples[0].stem}.png"],
        "labelme": ["labels.txt", f"{samples[0].stem}.json", f"{samples[0].stem}.png"],
        "cityscapes": [f"gtFine/{samples[0].split}/default/{samples[0].stem}_gtFine_labelIds.png",
                       f"gtFine/{samples[0].split}/default/{samples[0].stem}_gtFine_color.png",
                       f"leftImg8bit/{samples[0].split}/default/{samples[0].stem}_leftImg8bit.png"],
        "index": [f"masks/{samples[0].stem}.png", "classes.csv"],
        "color": [f"masks/{samples[0].stem}.png", "classes.csv"],
    }
    assert set(expected) == set(FORMAT_NAMES)
    for fmt, names in expected.items():
        export_masks(items, sample.classes, fmt, tmp_path / fmt, dataset=sample)
        for name in names:
            assert (tmp_path / fmt / name).is_file(), f"{fmt}: {name} missing"
    coco = json.loads((tmp_path / "coco/annotations/instances_default.json").read_text())
    assert {c["id"]: c["name"] for c in coco["categories"]} == {1: "disc", 2: "rectangle", 3: "triangle", 4: "ring"}
    assert all(a["iscrowd"] == 0 and isinstance(a["segmentation"]["counts"], str) for a in coco["annotations"])
    assert (tmp_path / "yolo/classes.txt").read_text().split("\n")[:4] == ["disc", "rectangle", "triangle", "ring"]
    doc = json.loads((tmp_path / "labelme" / f"{samples[0].stem}.json").read_text())
    assert doc["imagePath"] == f"{samples[0].stem}.png" and all(len(s["points"]) >= 3 for s in doc["shapes"])


def test_shapes_repaint_nested_regions_and_holes():
    """A ring of class 1 around a class-2 disc around a background hole: three shapes, painted back exactly."""
    mask = np.zeros((40, 40), np.uint8)
    yy, xx = np.mgrid[:40, :40]
    r = np.hypot(yy - 20, xx - 20)
    mask[r < 15] = 1
    mask[r < 9] = 2
    mask[r < 4] = 0
    mask[0, 39] = 3  # a single pixel
    mask[5, 2:3] = 3
    shapes = mask_shapes(mask)
    assert [v for v, _ in shapes][:3] == [1, 2, 0]
    again = np.zeros_like(mask)
    for value, points in shapes:
        assert len(points) >= 3
        paint(again, points, value)
    assert np.array_equal(again, mask)


def test_export_reports_a_difference_it_reads_back(sample, tmp_path, monkeypatch):
    """A writer that changes one pixel is caught by the read-back, not reported as a success."""
    module = get_format("voc")
    add = module.Writer.add

    def tampered(self, item, mask):
        mask = mask.copy()
        mask[0, 0] = 3 if mask[0, 0] != 3 else 1
        add(self, item, mask)

    monkeypatch.setattr(module.Writer, "add", tampered)
    items, samples = _items(sample)
    result = export_masks(items, sample.classes, "voc", tmp_path / "out", dataset=sample)
    assert result.pixels_differing == len(samples)
    assert len(result.differences) == len(samples) and "1 pixels read back as another class" in result.differences[0]
