"""Colour semantics of masks (issue 10, item 8): where a class file names colours, a palette PNG is read by its
palette colours (a palette in another order cannot silently swap classes; a colour no class has is one sentence
for that file), gray class colours work, and one bad mask makes that file unusable, never the folder."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from seg_desktop.cli import main
from seg_desktop.core.dataset import open_dataset
from seg_desktop.core.errors import DatasetError
from seg_desktop.core.maskio import read_mask
from tests.helpers import make_untrained_run, snapshot

H, W = 24, 32
TOP = np.zeros((H, W), np.uint8)
TOP[: H // 2] = 1  # value 1 on the top half, 2 on the bottom half
TOP[H // 2:] = 2


def _dataset(root, class_dict: str | None, masks: dict[str, Image.Image]):
    for name, mask in masks.items():
        (root / "images").mkdir(parents=True, exist_ok=True)
        (root / "masks").mkdir(exist_ok=True)
        Image.fromarray(np.full((H, W, 3), 90, np.uint8)).save(root / "images" / f"{name.split('.')[0]}.png")
        mask.save(root / "masks" / name, **({"quality": 90} if name.endswith(".jpg") else {}))
    if class_dict is not None:
        (root / "class_dict.csv").write_text(class_dict)
    return root


def _palette_mask(values: np.ndarray, colours: list[tuple[int, int, int]]) -> Image.Image:
    img = Image.fromarray(values, "P")
    img.putpalette([v for c in colours for v in c])
    return img


RGB_CLASSES = "name,r,g,b\nbackground,0,0,0\nred,255,0,0\ngreen,0,255,0\n"


def test_palette_in_another_order_is_read_by_colour_and_written_back_unchanged(tmp_path):
    # value 1 is drawn green (class 2 in class_dict.csv) and value 2 red (class 1): reading by index swaps them
    root = _dataset(tmp_path, RGB_CLASSES, {"a.png": _palette_mask(TOP, [(0, 0, 0), (0, 255, 0), (255, 0, 0)])})
    shown = np.asarray(Image.open(root / "masks" / "a.png").convert("RGB"))
    ds = open_dataset(root)
    mask = ds.read_mask(ds.samples[0])
    assert (mask[: H // 2] == 2).all() and (mask[H // 2:] == 1).all()
    ds.write_mask(ds.samples[0], mask)  # a save without edits keeps every pixel's colour
    written = Image.open(root / "masks" / "a.png")
    assert written.mode == "P" and np.array_equal(np.asarray(written.convert("RGB")), shown)
    assert np.array_equal(open_dataset(root).read_mask(ds.samples[0]), mask)


def test_palette_colour_no_class_has_is_reported_once_for_that_file(tmp_path, capsys):
    root = _dataset(tmp_path, RGB_CLASSES, {
        "good.png": _palette_mask(TOP, [(0, 0, 0), (255, 0, 0), (0, 255, 0)]),
        "odd.png": _palette_mask(TOP, [(0, 0, 0), (0, 0, 255), (0, 255, 0)]),  # value 1 drawn blue
    })
    ds = open_dataset(root)
    good, odd = sorted(ds.samples, key=lambda s: s.key)
    assert (ds.read_mask(good) == TOP).all()  # palette and class file agree: read by index as before
    with pytest.raises(DatasetError, match=r"odd\.png.*\(0, 0, 255\)"):
        ds.read_mask(odd)
    run = make_untrained_run(tmp_path / "run", ds)
    before = snapshot(root)
    capsys.readouterr()
    assert main(["evaluate", str(run), str(root), "--split", "all", "--json"]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["num_images"] == 1 and "Traceback" not in err
    assert err.count("odd.png") == 1 and "good.png" not in err, err
    assert snapshot(root) == before


def test_palette_that_is_a_gray_ramp_is_an_index_mask(tmp_path):
    root = _dataset(tmp_path, RGB_CLASSES, {"g.png": _palette_mask(TOP, [(i, i, i) for i in range(256)])})
    ds = open_dataset(root)
    assert (ds.read_mask(ds.samples[0]) == TOP).all() and not ds.problems


GRAY_CLASSES = "name,r,g,b\nbackground,0,0,0\nroad,128,128,128\ncar,64,64,64\n"


def test_gray_class_colours_read_rgb_masks(tmp_path, capsys):
    road = np.zeros((H, W, 3), np.uint8)
    road[H // 2:] = 128
    mixed = road.copy()
    mixed[:4] = 64
    root = _dataset(tmp_path, GRAY_CLASSES, {"road.png": Image.fromarray(road), "mixed.png": Image.fromarray(mixed)})
    ds = open_dataset(root)
    by_key = {s.key: s for s in ds.samples}
    got = ds.read_mask(by_key["images/road.png"])
    assert set(np.unique(got)) == {0, 1} and (got[H // 2:] == 1).all() and not ds.problems
    assert set(np.unique(ds.read_mask(by_key["images/mixed.png"]))) == {0, 1, 2}
    ds.write_mask(by_key["images/road.png"], got)
    assert np.array_equal(np.asarray(Image.open(root / "masks" / "road.png").convert("RGB")), road)
    run = make_untrained_run(tmp_path / "run", ds)
    capsys.readouterr()
    assert main(["evaluate", str(run), str(root), "--split", "all", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["num_images"] == 2


def test_index_mask_saved_as_gray_rgb_still_reads_as_indices(tmp_path):
    rgb = np.repeat(TOP[..., None], 3, axis=2)  # values 1 and 2 as (1,1,1) and (2,2,2): no class colours
    path = tmp_path / "m.png"
    Image.fromarray(rgb).save(path)
    ds = open_dataset(_dataset(tmp_path / "d", RGB_CLASSES, {"m.png": Image.open(path)}))
    assert (read_mask(path, ds.classes)[0] == TOP).all()


def test_one_jpeg_colour_mask_without_class_file_leaves_the_folder_usable(tmp_path, capsys):
    colour = np.zeros((H, W, 3), np.uint8)
    colour[H // 2:] = (255, 0, 0)
    noise = np.random.default_rng(0).integers(0, 256, (H, W, 3), dtype=np.uint8)
    root = _dataset(tmp_path / "data", None, {"a.png": Image.fromarray(colour), "b.png": Image.fromarray(colour),
                                              "c.jpg": Image.fromarray(noise)})
    before = snapshot(root)
    ds = open_dataset(root)  # raised "has more than 256 colours" for the whole folder before
    assert ds.classes.num_classes == 2 and len(ds.samples) == 3
    assert [p.path.name for p in ds.problems] == ["c.jpg"] and "colour" in str(ds.problems[0])
    run = make_untrained_run(tmp_path / "run", ds)
    capsys.readouterr()
    code = main(["predict", str(run), str(root), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and "c.jpg" in err
    assert len(list((tmp_path / "out").glob("*.png"))) == 3  # every image predicted, the bad mask only named
    assert main(["evaluate", str(run), str(root), "--split", "all", "--json"]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["num_images"] == 2 and "c.jpg" in err
    assert snapshot(root) == before


def test_masks_whose_colours_together_exceed_256_name_the_file_that_overflows(tmp_path):
    rng = np.random.default_rng(1)
    masks = {}
    for name in ("a.png", "b.png"):  # 200 distinct colours each, 400 together
        colours = rng.choice(2**24, 200, replace=False)
        rgb = np.stack([(colours >> s) & 255 for s in (16, 8, 0)], axis=1).astype(np.uint8)
        masks[name] = Image.fromarray(np.resize(rgb, (H * W, 3)).reshape(H, W, 3))
    ds = open_dataset(_dataset(tmp_path, None, masks))
    assert [p.path.name for p in ds.problems] == ["b.png"] and ds.classes.num_classes == 200
