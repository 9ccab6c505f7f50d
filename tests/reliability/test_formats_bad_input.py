"""Bad input to `seg-desktop import` and `export-masks`: a missing source, broken JSON, a polygon outside the
image, an unknown class, an unsafe output folder. Each is one sentence naming the file (a warning line per
skipped file or shape), exit 1, no traceback; the rest is still imported, and the source is never written."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from seg_desktop.cli import main
from seg_desktop.core.dataset import open_dataset
from seg_desktop.core.sample_data import make_sample_dataset
from tests.helpers import snapshot

W, H = 16, 12


def _labelme(folder, name, shapes, image=True):
    folder.mkdir(parents=True, exist_ok=True)
    if image:
        Image.new("RGB", (W, H), (9, 9, 9)).save(folder / f"{name}.png")
    (folder / f"{name}.json").write_text(json.dumps({"shapes": shapes, "imagePath": f"{name}.png",
                                                     "imageHeight": H, "imageWidth": W}))


def _box(label, x0=1, y0=1, x1=6, y1=6):
    return {"label": label, "points": [[x0, y0], [x1, y0], [x1, y1], [x0, y1]], "shape_type": "polygon"}


def _cli(capsys, *argv):
    code = main(list(map(str, argv)))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def _warnings(err):
    return [line for line in err.splitlines() if line.startswith("warning: ")]


def test_missing_source_is_one_sentence(tmp_path, capsys):
    code, _out, err = _cli(capsys, "import", tmp_path / "nowhere", "--format", "labelme", "--out", tmp_path / "o")
    assert code == 1 and err.count("\n") == 1 and "nowhere does not exist" in err
    assert not (tmp_path / "o").exists()


def test_broken_coco_json_is_one_sentence(tmp_path, capsys):
    src = tmp_path / "coco"
    (src / "annotations").mkdir(parents=True)
    (src / "annotations" / "instances_default.json").write_text('{"images": [')
    before = snapshot(src)
    code, _out, err = _cli(capsys, "import", src, "--format", "coco", "--out", tmp_path / "o")
    assert code == 1 and err.count("\n") == 1 and "instances_default.json is not a valid COCO file" in err
    assert snapshot(src) == before and not (tmp_path / "o").exists()


def test_broken_labelme_file_is_skipped_and_named(tmp_path, capsys):
    src = tmp_path / "lm"
    _labelme(src, "good", [_box("cat")])
    (src / "bad.json").write_text("{not json")
    before = snapshot(src)
    code, out, err = _cli(capsys, "import", src, "--format", "labelme", "--out", tmp_path / "o")
    assert code == 1 and "imported 1 images and 1 masks" in out
    [warning] = _warnings(err)
    assert "bad.json is not a valid LabelMe file" in warning and "skipped" in warning
    assert snapshot(src) == before
    assert open_dataset(tmp_path / "o").read_mask(open_dataset(tmp_path / "o").samples[0])[3, 3] == 1


def test_polygon_outside_the_image_is_skipped_and_named(tmp_path, capsys):
    src = tmp_path / "lm"
    _labelme(src, "a", [_box("cat"), _box("dog", 10, 5, 40, 9)])
    code, out, err = _cli(capsys, "import", src, "--format", "labelme", "--out", tmp_path / "o")
    [warning] = _warnings(err)
    assert code == 1 and "a.json, shape 2 ('dog') has points outside the 16x12 image" in warning
    data = open_dataset(tmp_path / "o")
    mask = data.read_mask(data.samples[0])
    assert mask[3, 3] == 1 and not (mask == 2).any()


def test_unknown_class_is_skipped_and_named(tmp_path, capsys):
    src = tmp_path / "lm"
    (src).mkdir()
    (src / "labels.txt").write_text("_background_\ncat\n")
    _labelme(src, "a", [_box("cat"), _box("zebra", 8, 2, 12, 6)])
    code, _out, err = _cli(capsys, "import", src, "--format", "labelme", "--out", tmp_path / "o")
    [warning] = _warnings(err)
    assert code == 1 and "'zebra'" in warning and "labels.txt does not list" in warning


def test_unknown_yolo_class_and_box_lines_are_named(tmp_path, capsys):
    src = tmp_path / "yolo"
    (src / "images").mkdir(parents=True)
    (src / "labels").mkdir()
    Image.new("RGB", (W, H)).save(src / "images" / "a.png")
    (src / "classes.txt").write_text("person\n")
    (src / "labels" / "a.txt").write_text("0 0.1 0.1 0.5 0.1 0.5 0.5\n3 0.1 0.1 0.5 0.1 0.5 0.5\n0 0.5 0.5 0.2 0.2\n"
                                          "0 0.1 0.1 1.5 0.1 0.5 0.5\n")
    code, _out, err = _cli(capsys, "import", src, "--format", "yolo", "--out", tmp_path / "o")
    warnings = _warnings(err)
    assert code == 1 and len(warnings) == 3
    assert "line 2 has class id 3" in warnings[0] and "line 3 is a box" in warnings[1]
    assert "line 4 has points outside the image" in warnings[2]


def test_unknown_coco_category_and_bad_rle_are_named(tmp_path, capsys):
    src = tmp_path / "coco"
    (src / "images").mkdir(parents=True)
    Image.new("RGB", (W, H)).save(src / "images" / "a.png")
    doc = {"images": [{"id": 1, "file_name": "a.png", "width": W, "height": H}],
           "categories": [{"id": 1, "name": "cat"}],
           "annotations": [{"id": 1, "image_id": 1, "category_id": 9, "segmentation": [[0, 0, 5, 0, 5, 5]]},
                           {"id": 2, "image_id": 1, "category_id": 1, "segmentation": {"size": [H, W],
                                                                                        "counts": [3, 4]}},
                           {"id": 3, "image_id": 1, "category_id": 1, "segmentation": [[0, 0, 5, 0, 5, 5]]}]}
    (src / "coco.json").write_text(json.dumps(doc))
    code, _out, err = _cli(capsys, "import", src / "coco.json", "--format", "coco", "--out", tmp_path / "o")
    warnings = _warnings(err)
    assert code == 1 and len(warnings) == 2
    assert "annotation 1 of a.png has category 9" in warnings[0]
    assert "annotation 2 of a.png is an RLE whose counts do not add up" in warnings[1]


def test_cvat_mask_with_an_unknown_colour_is_named(tmp_path, capsys):
    src = tmp_path / "cvat"
    for folder in ("JPEGImages", "SegmentationClass"):
        (src / folder).mkdir(parents=True)
    (src / "labelmap.txt").write_text("background:0,0,0::\ncar:255,0,0::\n")
    Image.new("RGB", (W, H)).save(src / "JPEGImages" / "a.png")
    Image.new("RGB", (W, H), (0, 255, 0)).save(src / "SegmentationClass" / "a.png")
    code, _out, err = _cli(capsys, "import", src, "--format", "cvat", "--out", tmp_path / "o")
    [warning] = _warnings(err)
    assert code == 1 and "SegmentationClass/a.png" in warning and "match no class" in warning


def test_output_inside_the_source_is_refused(tmp_path, capsys):
    src = tmp_path / "lm"
    _labelme(src, "a", [_box("cat")])
    before = snapshot(src)
    code, _out, err = _cli(capsys, "import", src, "--format", "labelme", "--out", src / "imported")
    assert code == 1 and "inside the source" in err and snapshot(src) == before


def test_import_into_a_folder_of_the_users_is_refused(tmp_path, capsys):
    src = tmp_path / "lm"
    _labelme(src, "a", [_box("cat")])
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    code, _out, err = _cli(capsys, "import", src, "--format", "labelme", "--out", out)
    assert code == 1 and "not empty and was not made by seg-desktop" in err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


@pytest.fixture()
def dataset(tmp_path):
    return make_sample_dataset(tmp_path / "data", n=3, size=32)


def test_export_into_the_datasets_mask_folder_is_refused(dataset, capsys):
    before = snapshot(dataset)
    code, _out, err = _cli(capsys, "export-masks", dataset, "--format", "index", "--out", dataset / "masks")
    assert code == 1 and err.count("\n") == 1 and "overwrite or shadow" in err
    assert snapshot(dataset) == before


def test_export_reports_success_only_after_reading_back(dataset, tmp_path, capsys):
    code, out, err = _cli(capsys, "export-masks", dataset, "--format", "yolo", "--out", tmp_path / "y")
    assert code == 0 and err == "" and "checked by reading it back: every class of every image within IoU" in out
    code, out, _err = _cli(capsys, "export-masks", dataset, "--format", "cvat", "--out", tmp_path / "c")
    assert code == 0 and "checked by reading it back: pixel-exact" in out


def test_export_difference_is_exit_1(dataset, tmp_path, capsys, monkeypatch):
    from seg_desktop.core.formats import get_format

    module = get_format("index")
    add = module.Writer.add
    monkeypatch.setattr(module.Writer, "add", lambda self, item, mask: add(self, item, np.zeros_like(mask)))
    code, _out, err = _cli(capsys, "export-masks", dataset, "--format", "index", "--out", tmp_path / "o")
    assert code == 1 and "difference: sample_000:" in err and "reads back differently" in err


def test_export_with_two_classes_of_one_colour_is_refused(dataset, tmp_path, capsys):
    (dataset / "classes.csv").write_text("index,name,r,g,b\n0,background,0,0,0\n1,disc,9,9,9\n2,rectangle,9,9,9\n"
                                         "3,triangle,1,2,3\n4,ring,4,5,6\n")
    code, _out, err = _cli(capsys, "export-masks", dataset, "--format", "cvat", "--out", tmp_path / "o")
    assert code == 1 and "share the colour RGB (9, 9, 9)" in err and not (tmp_path / "o").exists()
