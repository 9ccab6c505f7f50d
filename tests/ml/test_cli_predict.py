"""`seg-desktop evaluate` and `seg-desktop predict` on a run trained by `seg-desktop train`: scores that agree with
the run's metrics.json to the last digit, one mask per image at the image's own size, one sentence and exit 1 on
bad input."""

import json
import shutil

import numpy as np
import pytest
from PIL import Image

from seg_desktop.cli import main
from seg_desktop.core.dataset import open_dataset
from seg_desktop.core.sample_data import make_sample_dataset


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_sample_dataset(tmp_path_factory.mktemp("s"), n=10, size=32, seed=3)


@pytest.fixture(scope="module")
def run(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "r"
    code = main(["train", str(data), "--model", "unet", "--epochs", "1", "--size", "32", "--batch", "8",
                 "--base-filters", "4", "--no-augment", "--out", str(out)])
    assert code == 0
    return out


def test_evaluate_json_matches_the_runs_metrics_json(run, data, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(run), str(data), "--split", "val", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads((run / "metrics.json").read_text())
    assert printed["split"] == "val" and printed["num_images"] == saved["num_images"] >= 1
    assert printed["mean_iou"] == saved["mean_iou"]  # same model, same images, same confusion matrix
    assert printed["confusion_matrix"] == saved["confusion_matrix"]
    assert set(printed["per_class"]) == set(open_dataset(data).classes.names)


def test_evaluate_all_prints_a_table_of_every_class(run, data, capsys):
    capsys.readouterr()
    assert main(["evaluate", str(run), str(data), "--split", "all"]) == 0
    lines = capsys.readouterr().out.splitlines()
    names = open_dataset(data).classes.names
    assert "10 all images" in lines[0]
    assert [line.split()[0] for line in lines[2:2 + len(names)]] == [n.split()[0] for n in names]
    assert lines[-2].startswith("mean") and lines[-1].startswith("pixel accuracy")


def test_predict_writes_one_mask_per_image_at_its_own_size(run, data, tmp_path, capsys):
    folder = tmp_path / "data"
    shutil.copytree(data, folder)
    odd = np.random.default_rng(0).integers(0, 255, (50, 71, 3), dtype=np.uint8)
    Image.fromarray(odd).save(folder / "images" / "unlabelled odd.png")  # no mask, another size, a space
    out = tmp_path / "pred"
    assert main(["predict", str(run), str(folder), "--out", str(out), "--format", "index",
                 "--probabilities"]) == 0
    ds = open_dataset(folder)
    assert len(ds.samples) == 11
    for sample in ds.samples:
        mask = np.asarray(Image.open(out / f"{sample.stem}.png"))
        assert mask.shape == ds.read_image(sample).shape[:2] and mask.max() < ds.classes.num_classes
        probs = np.load(out / f"{sample.stem}_probs.npy")
        assert probs.shape == mask.shape + (ds.classes.num_classes,)
        assert (probs.astype(np.float32).argmax(-1) == mask).mean() > 0.99  # float16 ties may flip a pixel
        assert (out / f"{sample.stem}_entropy.png").is_file()
    assert "wrote 11 index masks" in capsys.readouterr().out


def test_predict_skips_a_corrupt_image_names_it_and_exits_1(run, data, tmp_path, capsys):
    folder = tmp_path / "data"
    shutil.copytree(data, folder)
    bad = folder / "images" / "sample_002.png"
    bad.write_bytes(bad.read_bytes()[:60])  # truncated PNG
    out = tmp_path / "pred"
    assert main(["predict", str(run), str(folder), "--out", str(out), "--format", "color"]) == 1
    err = capsys.readouterr().err
    assert "sample_002.png" in err and "1 file(s) could not be used" in err and "other 9 images" in err
    assert len(list(out.glob("*.png"))) == 9 and not (out / "sample_002.png").exists()


def test_evaluate_refuses_a_dataset_with_other_classes(run, tmp_path, capsys):
    other = make_sample_dataset(tmp_path / "other", n=4, size=32, seed=1)
    (other / "classes.csv").write_text("index,name,r,g,b\n0,bg,0,0,0\n1,fg,255,255,255\n")
    for path in (other / "masks").iterdir():
        Image.fromarray((np.asarray(Image.open(path)) > 0).astype(np.uint8)).save(path)
    capsys.readouterr()
    assert main(["evaluate", str(run), str(other), "--split", "all"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "predicts 5 classes" in err[0] and "has 2" in err[0]


@pytest.mark.parametrize("damage, words", [
    ("missing", "does not exist"),
    ("corrupt", "cannot be loaded as a Keras model"),
    ("noconfig", "config.json is missing"),
])
def test_a_bad_run_folder_is_one_sentence_and_exit_1(run, data, tmp_path, capsys, damage, words):
    folder = tmp_path / "run"
    if damage != "missing":
        shutil.copytree(run, folder)
    if damage == "corrupt":
        (folder / "best.keras").write_bytes(b"PK\x03\x04 not really a zip")
    if damage == "noconfig":
        (folder / "config.json").unlink()
    capsys.readouterr()
    for command in (["evaluate", str(folder), str(data)], ["predict", str(folder), str(data), "--out",
                                                           str(tmp_path / "p")]):
        assert main(command) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0] and err[0].startswith("seg-desktop: ")
    assert not (tmp_path / "p").exists()


@pytest.mark.parametrize("into", ["images", "masks"])
def test_predict_never_overwrites_the_datasets_own_files(run, data, tmp_path, capsys, into):
    folder = tmp_path / "data"
    shutil.copytree(data, folder)
    before = {p: p.read_bytes() for p in (folder / into).iterdir()}
    capsys.readouterr()
    assert main(["predict", str(run), str(folder), "--out", str(folder / into)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "would overwrite" in err[0] and "choose an output folder" in err[0]
    assert {p: p.read_bytes() for p in (folder / into).iterdir()} == before
