"""The training engine end to end on a tiny UNet and generated data: run files, listener order, stop, NaN, resume.

Total runtime is a few seconds per training; the models have 4 base filters and the images are 32 px.
"""

import csv
import shutil
import threading

import keras
import numpy as np
import pytest

from seg_desktop.core.project import load_project
from seg_desktop.core.sample_data import make_sample_dataset
from seg_desktop.ml.config import TrainConfig
from seg_desktop.ml.config_file import load_config
from seg_desktop.ml.listener import TrainListener
from seg_desktop.ml.runs import HISTORY_COLUMNS, list_runs, read_history
from seg_desktop.ml.train import TrainingError, train


class Recorder(TrainListener):
    def __init__(self, stop_after_batches=None, stop=None):
        self.calls = []
        self.stop_after, self.stop = stop_after_batches, stop

    def on_train_begin(self, info):
        self.calls.append(("begin", info))

    def on_batch_end(self, step, logs):
        self.calls.append(("batch", step))
        if self.stop_after is not None and sum(c[0] == "batch" for c in self.calls) >= self.stop_after:
            self.stop.set()

    def on_epoch_end(self, record):
        self.calls.append(("epoch", record))

    def on_train_end(self, run):
        self.calls.append(("end", run))

    def on_error(self, message):
        self.calls.append(("error", message))


def tiny(data, out, **kw):
    options = dict(model="unet", epochs=2, size=(32, 32), batch=4, base_filters=4, min_epoch_images=0, seed=0)
    options.update(kw)
    return TrainConfig(data=str(data), out=None if out is None else str(out), **options)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_sample_dataset(tmp_path_factory.mktemp("s"), n=12, size=48)


@pytest.fixture(scope="module")
def finished(data):
    rec = Recorder()
    return train(tiny(data, None), rec), rec  # into the default DATA/.seg-desktop/runs/<time>-unet


def test_run_writes_every_file_and_one_history_row_per_epoch(finished):
    run, _ = finished
    for name in ("config.json", "history.csv", "best.keras", "last.keras", "metrics.json"):
        assert (run.folder / name).is_file(), name
    with open(run.folder / "history.csv") as f:
        rows = list(csv.reader(f))
    assert rows[0] == HISTORY_COLUMNS and len(rows) == 3
    assert [r["epoch"] for r in read_history(run.folder)] == [1, 2] == [r["epoch"] for r in run.history]
    assert all(0.0 <= r["val_mean_iou"] <= 1.0 and r["lr"] > 0 and r["seconds"] > 0 for r in run.history)
    model = keras.saving.load_model(run.folder / "best.keras", safe_mode=True, compile=False)
    assert model.output_shape[-1] == 5
    saved = load_config(run.folder / "config.json")
    assert saved.num_classes == 5 and saved.class_names[1] == "disc" and saved.ignore_index is None
    assert not run.stopped and run.best_val_mean_iou == max(r["val_mean_iou"] for r in run.history)


def test_run_is_recorded_in_the_project_and_listed(finished, data):
    run, _ = finished
    assert run.folder.parent == data / ".seg-desktop" / "runs" and run.folder.name.endswith("-unet")
    assert load_project(data).runs == [f".seg-desktop/runs/{run.folder.name}"]
    info = list_runs(data)[0]
    assert info.folder == run.folder and info.epochs == 2 and info.has_best and info.metrics["split"] == "val"


def test_listener_calls_arrive_in_order(finished):
    run, rec = finished
    kinds = [c[0] for c in rec.calls]
    info = rec.calls[0][1]
    steps = info["steps_per_epoch"]
    assert kinds == ["begin"] + (["batch"] * steps + ["epoch"]) * 2 + ["end"]
    assert info["epochs"] == 2 and info["initial_epoch"] == 0 and info["num_train"] + info["num_val"] == 12
    assert [c[1] for c in rec.calls if c[0] == "batch"][:steps] == list(range(steps))
    epoch_logs = [c[1].row() for c in rec.calls if c[0] == "epoch"]
    assert epoch_logs == run.history and set(epoch_logs[0]) == set(HISTORY_COLUMNS)


def test_stop_flag_is_honoured_within_one_batch(data, tmp_path):
    stop = threading.Event()
    rec = Recorder(stop_after_batches=1, stop=stop)
    run = train(tiny(data, tmp_path / "r", epochs=3, min_epoch_images=64), rec, stop)
    batches = [c for c in rec.calls if c[0] == "batch"]
    assert rec.calls[0][1]["steps_per_epoch"] == 16 and len(batches) == 1
    assert run.stopped and len(run.history) == 1
    assert (run.folder / "last.keras").is_file() and not (run.folder / "metrics.json").exists()


def test_resume_continues_the_epoch_numbering(finished, data, tmp_path):
    parent, _ = finished
    rec = Recorder()
    run = train(tiny(data, tmp_path / "r2", epochs=1, resume=str(parent.folder), base_filters=8), rec)
    assert rec.calls[0][1]["initial_epoch"] == 2 and rec.calls[0][1]["epochs"] == 3
    assert [r["epoch"] for r in read_history(run.folder)] == [1, 2, 3]
    assert run.config.base_filters == 4  # the architecture comes from the resumed run
    assert [r["epoch"] for r in read_history(parent.folder)] == [1, 2]  # the parent is untouched


def test_nan_loss_raises_and_keeps_the_last_good_checkpoint(finished, data, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(finished[0].folder, folder)
    before = (folder / "last.keras").read_bytes()
    rec = Recorder()
    with pytest.raises(TrainingError, match=r"diverged: the loss became NaN at epoch 3; lower the learning rate"):
        train(tiny(data, folder, epochs=2, resume=str(folder), lr=1e30), rec)  # continue in place
    assert rec.calls[-1][0] == "error" and "NaN" in rec.calls[-1][1]
    assert (folder / "last.keras").read_bytes() == before
    weights = keras.saving.load_model(folder / "last.keras", compile=False).get_weights()
    assert all(np.isfinite(w).all() for w in weights)
    assert len(read_history(folder)) == 2


def test_no_labelled_images_is_one_sentence(tmp_path):
    root = make_sample_dataset(tmp_path / "s", n=2, size=32)
    shutil.rmtree(root / "masks")
    from seg_desktop.core.errors import DatasetError

    rec = Recorder()
    with pytest.raises(DatasetError, match="no labelled training images"):
        train(tiny(root, tmp_path / "r"), rec)
    assert rec.calls == [("error", rec.calls[0][1])]


def test_a_read_only_dataset_folder_trains_with_out_elsewhere(data, tmp_path, monkeypatch):
    """Labs keep data sets on read-only shares: the run goes to --out, project.json cannot be written (warned, not
    fatal), and without --out the sentence says to pass one."""
    from seg_desktop.core.errors import DatasetError
    from seg_desktop.core.project import Project
    from seg_desktop.ml import train as train_module

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Project, "save", read_only)
    recorder = Recorder()
    run = train(tiny(data, tmp_path / "run", epochs=1), recorder)
    assert (run.folder / "best.keras").is_file()
    problems = recorder.calls[0][1]["problems"]
    assert any("project.json cannot be written (Permission denied)" in p for p in problems)

    monkeypatch.setattr(train_module, "new_run_dir", read_only)
    with pytest.raises(DatasetError, match="Cannot create the run folder .* choose a writable folder with --out"):
        train(tiny(data, None, epochs=1))
