"""The write guard (core/writeguard.py) through `sample`, `predict`, the export worker and project.json: no command
replaces a file seg-desktop did not write (or one edited since), writes where the dataset reads its images and
masks, or writes anything at all when it refuses; outputs of one command never share a name; every damaged
project.json generation is kept. Each must-not-write case compares sha256 snapshots before and after."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seg_desktop.cli import main
from seg_desktop.core.dataset import Sample, open_dataset
from seg_desktop.core.project import PROJECT_FILE, load_project
from seg_desktop.core.sample_data import make_sample_dataset
from seg_desktop.core.writeguard import MANIFEST, WriteRefused, claim_output, dataset_reads
from tests.helpers import make_untrained_run, snapshot


def _one_sentence(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("seg-desktop: ") and "Traceback" not in err[0], err
    return err[0]


def _rgb(path: Path, size: int = 32, seed: int = 0) -> None:
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (size, size, 3), dtype=np.uint8)).save(path)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    data = open_dataset(make_sample_dataset(tmp_path_factory.mktemp("ref"), n=1, size=32))
    return make_untrained_run(tmp_path_factory.mktemp("run") / "r", data)


@pytest.fixture
def user_dataset(tmp_path) -> Path:
    """A labeller's own images/masks dataset (not made by seg-desktop), with the names `sample` would write."""
    root = tmp_path / "mine"
    make_sample_dataset(root, n=2, size=32, seed=5)
    (root / MANIFEST).unlink()  # as if made by hand: nothing in it is seg-desktop's
    return root


# ---------------------------------------------------------------- sample


def test_sample_into_an_existing_dataset_is_refused_and_writes_nothing(user_dataset, capsys):
    before = snapshot(user_dataset)
    assert main(["sample", str(user_dataset), "--n", "2", "--size", "32"]) == 1
    assert "not empty and was not made by seg-desktop" in _one_sentence(capsys)
    assert snapshot(user_dataset) == before


def test_sample_into_a_folder_holding_any_file_is_refused(tmp_path, capsys):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "todo.txt").write_text("mine")
    before = snapshot(folder)
    assert main(["sample", str(folder), "--n", "1", "--size", "32"]) == 1
    assert str(folder) in _one_sentence(capsys)
    assert snapshot(folder) == before


def test_sample_again_replaces_only_its_own_unchanged_files(tmp_path, capsys):
    folder = make_sample_dataset(tmp_path / "s", n=2, size=32, seed=1)
    (folder / "images" / "extra.png").write_bytes(b"user file")  # a file of the user's beside ours
    make_sample_dataset(folder, n=3, size=32, seed=2)  # re-run: ours replaced, sample_002 added
    assert (folder / "images" / "extra.png").read_bytes() == b"user file"
    assert (folder / "images" / "sample_002.png").is_file()
    listed = json.loads((folder / MANIFEST).read_text())["files"]
    assert "images/sample_002.png" in listed and "images/extra.png" not in listed

    (folder / "masks" / "sample_001.png").write_bytes(b"edited by hand")  # the labeller corrected a mask
    before = snapshot(folder)
    assert main(["sample", str(folder), "--n", "3", "--size", "32"]) == 1
    assert "sample_001.png was changed after seg-desktop wrote it" in _one_sentence(capsys)
    assert snapshot(folder) == before


def test_sample_into_dev_null_is_one_sentence(capsys):
    assert main(["sample", "/dev/null/x", "--n", "1", "--size", "32"]) == 1
    assert "/dev/null is not a folder" in _one_sentence(capsys)


# ---------------------------------------------------------------- predict and export


def _jpeg_dataset(root: Path) -> Path:
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i in range(2):
        Image.fromarray(np.full((32, 32, 3), 40 * i, np.uint8)).save(root / "images" / f"a{i}.jpg")
        Image.fromarray(np.zeros((32, 32), np.uint8)).save(root / "masks" / f"a{i}.png")
    return root


def test_predict_into_the_image_folder_of_a_jpeg_dataset_is_refused(run, tmp_path, capsys):
    """PNG predictions beside JPEG images replace nothing, but shadow the images on the next open."""
    root = _jpeg_dataset(tmp_path / "jpegs")
    before = snapshot(root)
    assert main(["predict", str(run), str(root), "--out", str(root / "images")]) == 1
    message = _one_sentence(capsys)
    assert "would overwrite or shadow" in message and "choose an output folder" in message
    assert snapshot(root) == before
    assert [s.image_path.suffix for s in open_dataset(root).samples] == [".jpg", ".jpg"]


def test_predict_into_the_root_of_a_flat_dataset_is_refused(run, tmp_path, capsys):
    root = tmp_path / "flat"
    root.mkdir()
    for i in range(2):
        _rgb(root / f"photo{i}.jpg", seed=i)
    before = snapshot(root)
    assert main(["predict", str(run), str(root), "--out", str(root)]) == 1
    assert "would overwrite or shadow" in _one_sentence(capsys)
    assert snapshot(root) == before


def test_the_dataset_reads_its_layout_folders_even_empty_or_nested(tmp_path):
    root = _jpeg_dataset(tmp_path / "d")
    ds = open_dataset(root)
    assert dataset_reads(ds, root / "images") and dataset_reads(ds, root / "masks")
    assert dataset_reads(ds, root / "images" / "sub" / "preds")  # images/ is listed with every subfolder
    assert not dataset_reads(ds, root / "images" / ".hidden")  # hidden folders are never listed
    assert not dataset_reads(ds, root) and not dataset_reads(ds, root / "predictions")
    shutil.rmtree(root / "masks")  # an unlabelled dataset: its mask folder does not exist yet, and is still its
    assert dataset_reads(open_dataset(root), root / "masks")


def test_predict_refuses_a_users_file_in_the_output_folder_and_writes_nothing(run, tmp_path, capsys):
    root = _jpeg_dataset(tmp_path / "d")
    out = tmp_path / "out"
    out.mkdir()
    (out / "a1.png").write_bytes(b"the user's own a1.png")  # only the LAST planned output collides
    before = snapshot(root, out)
    assert main(["predict", str(run), str(root), "--out", str(out)]) == 1
    assert "a1.png already exists and was not written by seg-desktop" in _one_sentence(capsys)
    assert snapshot(root, out) == before  # refused before the first image: no a0.png, no manifest


def test_predict_again_replaces_its_own_outputs_but_not_an_edited_one(run, tmp_path, capsys):
    root = _jpeg_dataset(tmp_path / "d")
    out = tmp_path / "out"
    (out / "keep").mkdir(parents=True)
    (out / "keep" / "notes.txt").write_text("mine")  # other files of the user's may share the folder
    assert main(["predict", str(run), str(root), "--out", str(out), "--probabilities"]) == 0
    assert main(["predict", str(run), str(root), "--out", str(out), "--probabilities"]) == 0  # a re-run
    capsys.readouterr()
    time.sleep(0.01)
    Image.fromarray(np.ones((32, 32), np.uint8)).save(out / "a0.png")  # corrected by hand afterwards
    before = snapshot(root, out)
    assert main(["predict", str(run), str(root), "--out", str(out)]) == 1
    assert "a0.png was changed after seg-desktop wrote it" in _one_sentence(capsys)
    assert snapshot(root, out) == before


def test_probability_side_files_never_share_a_name(run, tmp_path, capsys):
    """Images `a.png` and `a_entropy.png`: a's uncertainty map used to be overwritten by the other's mask."""
    root = tmp_path / "d" / "images"
    root.mkdir(parents=True)
    _rgb(root / "a.png", seed=1)
    _rgb(root / "a_entropy.png", size=40, seed=2)
    out = tmp_path / "out"
    assert main(["predict", str(run), str(root.parent), "--out", str(out), "--probabilities"]) == 0
    files = sorted(p.name for p in out.iterdir() if p.name != MANIFEST)
    assert len(files) == 6, files
    assert Image.open(out / "a.png").size == (32, 32) and Image.open(out / "a_entropy.png").size == (32, 32)
    assert Image.open(out / "a_entropy-2.png").size == (40, 40)  # the second image's mask, under its own name
    assert np.load(out / "a_entropy-2_probs.npy").shape[:2] == (40, 40)


def test_forty_thousand_images_are_named_in_linear_time():
    from seg_desktop.ml.predict import _output_names

    samples = [Sample(Path(f"/d/images/{'ab'[i % 2]}/img_{i // 2:05d}.png"), None, "train",
                      f"images/{'ab'[i % 2]}/img_{i // 2:05d}.png") for i in range(40_000)]
    t0 = time.perf_counter()
    names = _output_names(samples, probabilities=True)
    elapsed = time.perf_counter() - t0
    assert len(set(names)) == 40_000 and names[0] == "images__a__img_00000"  # same stem in two folders
    assert elapsed < 2.0, f"naming 40,000 images took {elapsed:.1f} s"


def test_export_worker_refuses_the_mask_folder_before_writing(run, tmp_path):
    pytest.importorskip("PySide6")
    from seg_desktop.gui.export_dialog import export_masks

    root = _jpeg_dataset(tmp_path / "d")
    before = snapshot(root)
    with pytest.raises(WriteRefused, match="would overwrite or shadow"):
        export_masks(run, root, ["images/a0.jpg"], root / "masks", "index", True, _Never(), lambda _: None)
    assert snapshot(root) == before


class _Never:
    def is_set(self) -> bool:
        return False


def test_claim_checks_every_name_before_creating_anything(tmp_path):
    out = tmp_path / "new" / "deep"
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "deep").write_text("a file where the folder would go")
    before = snapshot(tmp_path)
    with pytest.raises(WriteRefused, match="is not a folder"):
        claim_output(out, ["x.png"], "predicted masks")
    assert snapshot(tmp_path) == before
    with pytest.raises(ValueError, match="not unique"):
        claim_output(tmp_path / "o", ["x.png", "X.png"], "predicted masks")  # one file on macOS: a bug to plan


# ---------------------------------------------------------------- project.json.bad generations


def test_every_damaged_project_json_generation_is_kept(tmp_path):
    state = tmp_path / ".seg-desktop"
    state.mkdir()
    for n, text in enumerate(["{not json", "[1, 2", "{\"seed\": "]):
        (state / PROJECT_FILE).write_text(text)
        project = load_project(tmp_path)
        assert project.problem is not None
        project.save()
        assert json.loads((state / PROJECT_FILE).read_text())["version"] == 1
    kept = {p.name: p.read_text() for p in state.iterdir() if p.name != PROJECT_FILE}
    assert kept == {"project.json.bad": "{not json", "project.json.bad.1": "[1, 2", "project.json.bad.2": "{\"seed\": "}
