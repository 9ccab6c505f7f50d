"""Helpers shared by tests of several layers (fixtures stay in conftest.py files)."""

from __future__ import annotations

from pathlib import Path

from seg_desktop.core.dataset import Dataset


def make_untrained_run(folder: Path, data: Dataset, size: int = 32, model: str = "unet") -> Path:
    """A real run folder: config.json from TrainConfig and an untrained 4-filter model (UNet unless `model` says
    "segnet") saved as best.keras.

    Untrained is enough wherever the test checks plumbing (shapes, files, scores agreeing), and it costs a second
    instead of a training run."""
    from seg_desktop.ml.config import TrainConfig
    from seg_desktop.ml.models import build_model

    folder.mkdir(parents=True, exist_ok=True)
    k = data.classes.num_classes
    cfg = TrainConfig(data=str(data.root), model=model, size=(size, size), base_filters=4, num_classes=k,
                      class_names=data.classes.names, class_colors=[list(data.classes.color_of(i)) for i in range(k)])
    (folder / "config.json").write_text(cfg.to_json())
    build_model(model, k, (None, None, 3), base_filters=4).save(folder / "best.keras")
    return folder


def sample_data_and_run(n: int, run_name: str = "run"):
    """Module-scoped fixtures `data` (a sample dataset of `n` 32 px images) and `run_name` (an untrained run made
    from it): what the CLI reliability tests read and must leave as they were. Use as
    `data, run = sample_data_and_run(n=2)` at module level."""
    import pytest

    from seg_desktop.core.dataset import open_dataset
    from seg_desktop.core.sample_data import make_sample_dataset

    @pytest.fixture(scope="module", name="data")
    def data_fixture(tmp_path_factory) -> Path:
        return make_sample_dataset(tmp_path_factory.mktemp("data") / "d", n=n, size=32)

    @pytest.fixture(scope="module", name=run_name)
    def run_fixture(tmp_path_factory, data) -> Path:
        return make_untrained_run(tmp_path_factory.mktemp("run") / run_name, open_dataset(data))

    return data_fixture, run_fixture


def append_epoch(run: Path, epoch: int, seconds: float = 2.0) -> None:
    """Append one epoch row to `run`'s history.csv (header first), as a training process elsewhere would: the
    losses fall and the IoUs rise with `epoch`, each epoch takes `seconds`."""
    import csv

    from seg_desktop.ml.runs import HISTORY_COLUMNS

    history = run / "history.csv"
    new = not history.exists()
    with history.open("a", newline="") as f:
        writer = csv.DictWriter(f, HISTORY_COLUMNS)
        if new:
            writer.writeheader()
        writer.writerow({"epoch": epoch, "loss": 1.0 / epoch, "mean_iou": 0.1 * epoch, "val_loss": 1.1 / epoch,
                         "val_mean_iou": 0.1 * epoch, "val_dice": 0.2, "lr": 0.001, "seconds": seconds})


def fill_training_form(panel, model: str = "unet", size: str = "48", epochs: int = 2, batch: int = 4,
                       filters: int = 4, width: float = 0.125, start: str = "scratch", path: str = "") -> None:
    """Set every field of a TrainingPanel a training test depends on: a tiny model, no augmentation, a separate
    process, and an explicit "start from" (never whatever an earlier form remembered)."""
    panel.model_combo.setCurrentIndex(panel.model_combo.findData(model))
    panel.size_edit.setText(size)
    panel.epochs_spin.setValue(epochs)
    panel.batch_spin.setValue(batch)
    panel.filters_spin.setValue(filters)
    panel.width_spin.setValue(width)
    panel.val_spin.setValue(0.2)
    panel.augment_check.setChecked(False)
    panel.child_check.setChecked(True)
    panel.start_combo.setCurrentIndex(panel.start_combo.findData(start))
    panel.start_edit.setText(path)


def snapshot(*folders: Path) -> dict[str, str]:
    """sha256 of every regular file under `folders` (hidden ones included), keyed by path: two snapshots compare
    equal only when no file was added, removed or changed, which is what "must not write there" means."""
    import hashlib
    import os

    digests: dict[str, str] = {}
    for folder in folders:
        for dirpath, _dirs, files in os.walk(os.fsencode(Path(folder))):
            for name in files:
                path = os.path.join(dirpath, name)
                if not os.path.isfile(path) or os.path.islink(path):
                    digests[os.fsdecode(path)] = "special"
                    continue
                with open(path, "rb") as fh:
                    digests[os.fsdecode(path)] = hashlib.sha256(fh.read()).hexdigest()
    return digests
