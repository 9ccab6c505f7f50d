"""Run folders through the write guard, and the run cases of issue 10 item 7: `train --out` takes only a new,
empty or its own resumed folder (never the dataset, a user's folder or a run still in its first epoch); resuming
a run as another model is refused naming both; a failed start removes what it made so `--out` can be used again;
a stop before the first batch ends records no epoch. Must-not-write cases compare sha256 snapshots."""

from __future__ import annotations

import json
import threading

import pytest

from seg_desktop.cli import main
from seg_desktop.core.errors import DatasetError
from seg_desktop.core.writeguard import MANIFEST, WriteRefused, claim_run_folder
from seg_desktop.ml.config import TrainConfig
from seg_desktop.ml.listener import TrainListener
from seg_desktop.ml.runs import read_history, runs_dir
from seg_desktop.ml.train import train
from tests.helpers import sample_data_and_run, snapshot


class Calls(TrainListener):
    def __init__(self) -> None:
        self.kinds: list[str] = []

    def on_batch_end(self, *args) -> None:
        self.kinds.append("batch")

    def on_epoch_end(self, *args) -> None:
        self.kinds.append("epoch")

    def on_error(self, message: str) -> None:
        self.kinds.append("error")


def tiny(data, out, **kw) -> TrainConfig:
    options = dict(model="unet", epochs=1, size=(32, 32), batch=4, base_filters=4, min_epoch_images=0, seed=0,
                   augment=False)
    options.update(kw)
    return TrainConfig(data=str(data), out=None if out is None else str(out), **options)


data, unet_run = sample_data_and_run(n=8, run_name="unet_run")


@pytest.fixture
def users_data(data, tmp_path):
    """A dataset whose folder also holds the user's own config.json and metrics.json (names a run also writes)."""
    import shutil

    root = tmp_path / "users"
    shutil.copytree(data, root)
    (root / MANIFEST).unlink()
    (root / "config.json").write_text('{"my": "own settings"}')
    (root / "metrics.json").write_text('{"my": "own scores"}')
    return root


def test_train_out_into_the_dataset_folder_is_refused_from_the_cli(users_data, capsys):
    before = snapshot(users_data)
    code = main(["train", str(users_data), "--model", "unet", "--epochs", "1", "--size", "32", "--batch", "4",
                 "--base-filters", "4", "--no-augment", "--out", str(users_data)])
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "is not empty and is not a seg-desktop run folder" in err[0], err
    assert snapshot(users_data) == before  # the user's config.json and metrics.json are untouched


def test_train_out_into_a_run_still_in_its_first_epoch_is_refused(data, tmp_path):
    live = tmp_path / "live"
    claim_run_folder(live)  # as `train` leaves it for the first ~20 s: the marker and config.json only
    (live / "config.json").write_text(tiny(data, live).to_json())
    before = snapshot(live, data)
    with pytest.raises(WriteRefused, match="already holds a run"):
        train(tiny(data, live))
    assert snapshot(live, data) == before


def test_train_out_into_a_users_folder_or_the_mask_folder_is_refused(data, tmp_path):
    folder = tmp_path / "stuff"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    before = snapshot(folder, data)
    with pytest.raises(WriteRefused, match="not empty and is not a seg-desktop run folder"):
        train(tiny(data, folder))
    with pytest.raises(WriteRefused, match="would overwrite or shadow"):
        train(tiny(data, data / "masks" / "run"))  # images/ and masks/ are read with every subfolder
    assert snapshot(folder, data) == before


def test_resume_as_another_model_is_refused_naming_both(data, unet_run, tmp_path, capsys):
    out = tmp_path / "seg"
    before = snapshot(unet_run, data)
    code = main(["train", str(data), "--model", "segnet", "--resume", str(unet_run), "--epochs", "1", "--size",
                 "32", "--out", str(out)])
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert code == 1 and len(err) == 1 and "is a unet run, so it cannot be resumed as segnet" in err[0], err
    assert "training segnet" not in captured.out
    assert not out.exists() and snapshot(unet_run, data) == before


@pytest.mark.parametrize("damage", ["corrupt checkpoint", "other classes"])
def test_a_failed_resume_removes_its_run_folder_and_out_can_be_reused(data, unet_run, tmp_path, damage):
    import shutil

    parent = tmp_path / "parent"
    shutil.copytree(unet_run, parent)
    target = data
    if damage == "corrupt checkpoint":
        (parent / "best.keras").write_bytes(b"PK\x03\x04 not a zip")
    else:
        target = tmp_path / "six"
        shutil.copytree(data, target)
        with open(target / "classes.csv", "a") as f:
            f.write("5,extra,9,9,9\n")
    out = tmp_path / "out"
    out.mkdir()  # an empty folder given by the user stays, emptied again
    before = snapshot(parent, target)
    with pytest.raises(DatasetError, match="resume"):
        train(tiny(target, out, resume=str(parent)))
    assert out.is_dir() and list(out.iterdir()) == []
    with pytest.raises(DatasetError, match="resume"):
        train(tiny(target, None, resume=str(parent)))  # the default <time>-unet folder is removed altogether
    assert not runs_dir(target).exists() or list(runs_dir(target).iterdir()) == []
    with pytest.raises(DatasetError, match="resume"):
        train(tiny(target, parent, resume=str(parent)))  # in place: the parent's config is not rewritten
    assert snapshot(parent, target) == before
    run = train(tiny(data, out))  # --out is usable again
    assert [r["epoch"] for r in read_history(run.folder)] == [1]


def test_a_stop_before_the_first_batch_ends_records_no_epoch(data, tmp_path):
    stop = threading.Event()
    stop.set()  # Ctrl+C while TensorFlow was still starting
    calls = Calls()
    run = train(tiny(data, tmp_path / "r", epochs=3), calls, stop)
    assert run.stopped and run.history == [] and read_history(run.folder) == []
    assert "epoch" not in calls.kinds and "batch" not in calls.kinds
    assert not (run.folder / "last.keras").exists() and not (run.folder / "best.keras").exists()
    assert json.loads((run.folder / MANIFEST).read_text())["run"] is True


def test_a_new_default_run_folder_is_marked_before_anything_else(data, tmp_path):
    from seg_desktop.ml.runs import new_run_dir

    a, b = new_run_dir(tmp_path, "unet"), new_run_dir(tmp_path, "unet")  # the same second: two folders
    assert a != b and [p.name for p in a.iterdir()] == [MANIFEST] == [p.name for p in b.iterdir()]
    with pytest.raises(WriteRefused, match="already holds a run"):
        claim_run_folder(a)
