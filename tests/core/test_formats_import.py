"""One import per format from small files written by hand in the format's own published structure (not by our
exporter): the classes, the pixels (later shapes over earlier ones), the images, and the source left untouched."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from pycocotools import mask as coco_mask

from seg_desktop.core.classes import voc_palette
from seg_desktop.core.dataset import open_dataset
from seg_desktop.core.formats.transfer import import_masks
from tests.helpers import snapshot

W, H = 20, 10


def _image(path, size=(W, H), fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(str(path)))
    Image.fromarray(rng.integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)).save(path, fmt)


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def _import(src, fmt, tmp_path, **kw):
    before = snapshot(src)
    result = import_masks(src, fmt, tmp_path / "out", **kw)
    assert snapshot(src) == before  # the source is only read
    data = open_dataset(tmp_path / "out")
    masks = {s.stem: data.read_mask(s) for s in data.samples if s.labelled}
    return result, data, masks


def test_import_coco_polygons_and_rle(tmp_path):
    src = tmp_path / "coco"
    _image(src / "images" / "a.jpg", fmt="JPEG")
    _image(src / "images" / "b.png")
    rle = np.zeros((H, W), np.uint8, order="F")
    rle[0:2, 0:3] = 1
    compressed = coco_mask.encode(np.asfortranarray(rle))
    doc = {
        "images": [{"id": 1, "file_name": "a.jpg", "width": W, "height": H},
                   {"id": 7, "file_name": "b.png", "width": W, "height": H}],
        "categories": [{"id": 1, "name": "cat", "supercategory": ""}, {"id": 3, "name": "dog"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0,
             "segmentation": [[2, 2, 12, 2, 12, 8, 2, 8]], "area": 60, "bbox": [2, 2, 10, 6]},
            {"id": 2, "image_id": 1, "category_id": 3, "iscrowd": 1,  # uncompressed RLE, over the polygon
             "segmentation": {"size": [H, W], "counts": [5 * H, H, (W - 6) * H]}, "area": 10, "bbox": [5, 0, 1, 10]},
            {"id": 3, "image_id": 7, "category_id": 3, "iscrowd": 0,
             "segmentation": {"size": [H, W], "counts": compressed["counts"].decode()}},
        ],
    }
    _write(src / "annotations" / "instances_default.json", json.dumps(doc))
    result, data, masks = _import(src, "coco", tmp_path)
    assert result.problems == [] and result.images == 2
    assert [data.classes.name_of(i) for i in (0, 1, 3)] == ["background", "cat", "dog"]
    a = masks["a"]
    assert a[5, 8] == 1 and a[0, 8] == 0 and a[9, 19] == 0
    assert (a[:, 5] == 3).all()  # the later annotation wins where it overlaps the polygon
    assert np.array_equal(masks["b"], rle * 3)
    assert (tmp_path / "out/images/a.jpg").read_bytes() == (src / "images/a.jpg").read_bytes()


def test_import_yolo_segmentation(tmp_path):
    src = tmp_path / "yolo"
    _image(src / "images" / "train" / "a.png")
    _image(src / "images" / "val" / "b.png")  # no label file: an image without objects
    _write(src / "labels" / "train" / "a.txt",
           "0 0.1 0.2 0.5 0.2 0.5 0.8 0.1 0.8\n1 0.3 0.0 0.95 0.0 0.95 0.5 0.3 0.5\n")
    _write(src / "data.yaml", "path: .\ntrain: images/train\nval: images/val\nnames:\n  0: person\n  1: car\n")
    result, data, masks = _import(src, "yolo", tmp_path)
    assert result.problems == []
    assert data.classes.names == ["background", "person", "car"]  # YOLO id k is class k+1
    a = masks["a"]
    assert a[6, 3] == 1 and a[2, 12] == 2 and a[4, 8] == 2  # car is later: it wins over person
    assert a[9, 19] == 0
    assert not masks["b"].any()


def test_import_cvat_segmentation_mask(tmp_path):
    src = tmp_path / "cvat"
    _write(src / "labelmap.txt", "# label:color_rgb:parts:actions\nbackground:0,0,0::\ncar:250,50,83::\n"
                                 "road:51,221,255::\n")
    _write(src / "ImageSets" / "Segmentation" / "default.txt", "frame_000001\n")
    _image(src / "JPEGImages" / "frame_000001.jpg", fmt="JPEG")
    rgb = np.zeros((H, W, 3), np.uint8)
    rgb[5:, :] = (51, 221, 255)
    rgb[:3, :4] = (250, 50, 83)
    (src / "SegmentationClass").mkdir()
    Image.fromarray(rgb).save(src / "SegmentationClass" / "frame_000001.png")
    result, data, masks = _import(src, "cvat", tmp_path)
    assert result.problems == [] and data.classes.names == ["background", "car", "road"]
    m = masks["frame_000001"]
    assert (m[5:] == 2).all() and (m[:3, :4] == 1).all() and m[4, 10] == 0


def test_import_pascal_voc(tmp_path):
    src = tmp_path / "VOC2012"
    for name in ("2007_000032", "2007_000033"):
        _image(src / "JPEGImages" / f"{name}.jpg", fmt="JPEG")
        mask = np.zeros((H, W), np.uint8)
        mask[2:8, 2:10] = 15  # person
        mask[2:8, 10] = 255  # the void border VOC draws
        img = Image.fromarray(mask, "P")
        img.putpalette(voc_palette().ravel().tolist())
        (src / "SegmentationClass").mkdir(exist_ok=True)
        img.save(src / "SegmentationClass" / f"{name}.png")
    _write(src / "ImageSets" / "Segmentation" / "train.txt", "2007_000032\n")
    _write(src / "ImageSets" / "Segmentation" / "val.txt", "2007_000033\n")
    result, data, masks = _import(src, "voc", tmp_path)
    assert result.problems == [] and data.classes.ignore_index == 255
    assert data.classes.name_of(15) == "person"
    assert masks["2007_000032"][4, 4] == 15 and masks["2007_000032"][4, 10] == 255


def test_import_labelme(tmp_path):
    src = tmp_path / "labelme"
    _image(src / "a.png")
    shapes = [
        {"label": "dog", "points": [[1, 1], [15, 1], [15, 8], [1, 8]], "group_id": None, "shape_type": "polygon",
         "flags": {}},
        {"label": "cat", "points": [[10, 0], [18, 4]], "group_id": None, "shape_type": "rectangle", "flags": {}},
        {"label": "cat", "points": [[3, 4], [5, 4]], "group_id": None, "shape_type": "circle", "flags": {}},
        {"label": "dog", "points": [[0, 9], [19, 9]], "group_id": None, "shape_type": "line", "flags": {}},
    ]
    doc = {"version": "5.4.1", "flags": {}, "shapes": shapes, "imagePath": "a.png", "imageData": None,
           "imageHeight": H, "imageWidth": W}
    _write(src / "a.json", json.dumps(doc))
    result, data, masks = _import(src, "labelme", tmp_path)
    assert data.classes.names == ["background", "cat", "dog"]  # no labels.txt: alphabetical from 1
    m = masks["a"]
    assert m[7, 2] == 2 and m[2, 12] == 1 and m[4, 3] == 1  # later shapes win: the rectangle and circle over dog
    assert m[9, 5] == 0  # the line was skipped ...
    assert len(result.problems) == 1 and "shape 4" in result.problems[0] and "a.json" in result.problems[0]


def test_import_labelme_with_labels_txt(tmp_path):
    src = tmp_path / "labelme"
    _image(src / "img" / "a.png")
    _write(src / "labels.txt", "__ignore__\n_background_\nroad\ncar\n")
    shapes = [{"label": "car", "points": [[0, 0], [5, 0], [5, 5], [0, 5]], "shape_type": "polygon"},
              {"label": "__ignore__", "points": [[10, 0], [15, 0], [15, 5], [10, 5]], "shape_type": "polygon"}]
    _write(src / "ann" / "a.json", json.dumps({"shapes": shapes, "imagePath": "..\\img\\a.png",  # as on Windows
                                               "imageHeight": H, "imageWidth": W}))
    result, data, masks = _import(src, "labelme", tmp_path)
    assert result.problems == []
    assert data.classes.names == ["background", "road", "car"] and data.classes.ignore_index == 255
    assert masks["a"][2, 2] == 2 and masks["a"][2, 12] == 255


def test_import_cityscapes(tmp_path):
    src = tmp_path / "cityscapes"
    stem = "aachen_000000_000019"
    _image(src / "leftImg8bit" / "train" / "aachen" / f"{stem}_leftImg8bit.png")
    ids = np.full((H, W), 7, np.uint8)  # road
    ids[:4, :6] = 26  # car
    ids[9, :] = 0  # unlabeled
    (src / "gtFine" / "train" / "aachen").mkdir(parents=True)
    Image.fromarray(ids, "L").save(src / "gtFine" / "train" / "aachen" / f"{stem}_gtFine_labelIds.png")
    result, data, masks = _import(src, "cityscapes", tmp_path)
    assert result.problems == []
    assert data.classes.name_of(7) == "road" and data.classes.name_of(26) == "car"
    assert data.classes.ignore_index == 0
    assert np.array_equal(masks[stem], ids)


def test_import_index_folder(tmp_path):
    src = tmp_path / "index"
    _image(src / "images" / "x.png")
    _write(src / "classes.csv", "index,name,r,g,b\n0,soil,0,0,0\n1,leaf,0,255,0\n2,stem,255,0,0\n")
    mask = np.zeros((H, W), np.uint8)
    mask[:, 5:] = 1
    mask[:, 15:] = 2
    (src / "masks").mkdir()
    Image.fromarray(mask, "L").save(src / "masks" / "x.png")
    _image(src / "images" / "unlabelled.png")
    result, data, masks = _import(src, "index", tmp_path, link="hard")
    assert data.classes.names == ["soil", "leaf", "stem"] and np.array_equal(masks["x"], mask)
    assert result.images == 2 and result.masks == 1  # the unlabelled image comes along, still unlabelled
    assert (tmp_path / "out/images/x.png").stat().st_ino == (src / "images/x.png").stat().st_ino


def test_import_color_folder_with_class_dict(tmp_path):
    src = tmp_path / "color"
    _image(src / "images" / "x.png")
    _write(src / "class_dict.csv", "name,r,g,b\nSky,128,128,128\nRoad,128,64,128\nVoid,0,0,0\n")
    rgb = np.full((H, W, 3), 128, np.uint8)
    rgb[5:] = (128, 64, 128)
    rgb[9] = 0
    (src / "masks").mkdir()
    Image.fromarray(rgb).save(src / "masks" / "x.png")
    result, data, masks = _import(src, "color", tmp_path, link="sym")
    assert data.classes.names == ["Sky", "Road"] and data.classes.ignore_index == 2
    assert masks["x"][0, 0] == 0 and masks["x"][6, 0] == 1 and masks["x"][9, 0] == 2
    assert (tmp_path / "out/images/x.png").is_symlink()


@pytest.mark.parametrize("fmt", ["coco", "yolo", "labelme"])
def test_polygons_from_other_tools_keep_their_area(tmp_path, fmt):
    """A 10x6 rectangle drawn by another tool lands on the same pixels whichever polygon format carried it."""
    src = tmp_path / fmt
    pts = [[4, 2], [13, 2], [13, 7], [4, 7]]
    if fmt == "coco":
        _image(src / "images" / "a.png")
        edges = [4, 2, 14, 2, 14, 8, 4, 8]  # COCO counts pixel edges: the same 10x6 pixels
        _write(src / "annotations" / "x.json", json.dumps({
            "images": [{"id": 1, "file_name": "a.png", "width": W, "height": H}],
            "categories": [{"id": 1, "name": "box"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "segmentation": [edges]}]}))
    elif fmt == "yolo":
        _image(src / "images" / "a.png")
        _write(src / "classes.txt", "box\n")
        _write(src / "labels" / "a.txt", "0 " + " ".join(f"{x / W} {y / H}" for x, y in pts) + "\n")
    else:
        _image(src / "a.png")
        _write(src / "a.json", json.dumps({"shapes": [{"label": "box", "points": pts, "shape_type": "polygon"}],
                                           "imagePath": "a.png"}))
    _result, _data, masks = _import(src, fmt, tmp_path)
    expected = np.zeros((H, W), np.uint8)
    expected[2:8, 4:14] = 1
    assert np.array_equal(masks["a"], expected)
