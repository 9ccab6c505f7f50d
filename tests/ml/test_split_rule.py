"""The split rule a run records (TrainConfig.split_rule): training, `evaluate --split val` and the fallback of
`split_samples` draw with it, and a config.json from before the setting existed keeps its per-image split."""

import json

import pytest

from seg_desktop.cli import main
from seg_desktop.core.dataset import hash_split, open_dataset, split_hash
from seg_desktop.core.sample_data import make_sample_dataset
from seg_desktop.core.split import draw_split
from seg_desktop.ml.config_file import load_config
from seg_desktop.ml.inputs import split_samples
from tests.helpers import make_untrained_run

N = 12
STEMS = [f"sample_{i:03d}" for i in range(N)]  # make_sample_dataset's names: one numbered "sequence"


def _val_keys(rule: str) -> list[str]:
    drawn = draw_split(STEMS, 0, 0.2, rule=rule)
    return sorted(f"images/{k}.png" for k, s in drawn.items() if s == "val")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_sample_dataset(tmp_path_factory.mktemp("s"), n=N, size=32, seed=1)


def test_the_rules_draw_different_val_images_here():
    assert _val_keys("name") == sorted(f"images/{k}.png" for k in STEMS if hash_split(k, 0, 0.2) == "val")
    assert _val_keys("sequence") != _val_keys("name") and _val_keys("sequence") and _val_keys("name")


def _evaluated(run, data, capsys) -> list[str]:
    capsys.readouterr()
    assert main(["evaluate", str(run), str(data), "--split", "val", "--json"]) == 0
    return sorted(image["key"] for image in json.loads(capsys.readouterr().out)["per_image"])


def test_an_old_config_without_a_split_rule_evaluates_on_the_old_per_image_split(data, tmp_path, capsys):
    run = make_untrained_run(tmp_path / "old", open_dataset(data))
    assert _evaluated(run, data, capsys) == _val_keys("sequence")  # a new run records the default rule
    config = json.loads((run / "config.json").read_text())
    del config["split_rule"]
    (run / "config.json").write_text(json.dumps(config))
    assert load_config(run / "config.json").split_rule == "name"
    assert _evaluated(run, data, capsys) == _val_keys("name")


def test_split_rule_name_trains_and_validates_on_todays_split(data, tmp_path):
    out = tmp_path / "r"
    assert main(["train", str(data), "--model", "unet", "--epochs", "1", "--size", "32", "--batch", "8",
                 "--base-filters", "4", "--no-augment", "--split-rule", "name", "--out", str(out)]) == 0
    assert json.loads((out / "config.json").read_text())["split_rule"] == "name"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["split"] == "val" and sorted(i["key"] for i in metrics["per_image"]) == _val_keys("name")


def test_a_dataset_that_drew_no_val_gets_whole_blocks_of_the_rule(tmp_path):
    data = make_sample_dataset(tmp_path / "d", n=2, size=32)
    for rule in ("name", "sequence"):  # 2 images at 0.2: neither rule draws one, the fallback moves one
        dataset = open_dataset(data, 0.2, split_rule=rule)
        assert not dataset.labelled("val")
        train, val = split_samples(dataset, 0.2, 0, rule)
        assert len(val) == 1 and len(train) == 1
    many = make_sample_dataset(tmp_path / "m", n=40, size=16)
    dataset = open_dataset(many, 0.2)
    for sample in dataset.samples:
        sample.split = "train"  # as if the layout had said so: the fallback draws
    _, val = split_samples(dataset, 0.2, 0, "sequence")
    numbers = sorted(int(s.stem[-3:]) for s in val)
    assert len(numbers) == 8 and all(n - 1 in numbers or n + 1 in numbers for n in numbers)  # blocks, not singles
    _, val = split_samples(dataset, 0.2, 0, "name")  # today's fallback: the 8 lowest hashes
    lowest = sorted((s.key for s in dataset.samples), key=lambda k: split_hash(k, 0))[:8]
    assert [s.key for s in val] == sorted(lowest)


def test_the_dataset_browser_shows_the_split_a_new_training_run_draws(data):
    from seg_desktop.gui.scan import scan_folder
    from seg_desktop.ml.config import TrainConfig

    config = TrainConfig(data=str(data))
    shown = {s.key: s.split for s in scan_folder(data).dataset.samples}
    trained = {s.key: s.split for s in open_dataset(data, config.val_split, seed=config.seed,
                                                    split_rule=config.split_rule).samples}
    assert config.split_rule == "sequence" and shown == trained
    assert sorted(k for k, s in shown.items() if s == "val") == _val_keys("sequence")


def test_a_resumed_run_keeps_its_parents_split(data, tmp_path):
    """Resuming on the parent's dataset with another fraction, seed or rule would validate on images the parent
    trained on; the resumed run draws (and records) the parent's split instead."""
    from seg_desktop.ml.config import TrainConfig
    from seg_desktop.ml.train import train

    tiny = dict(data=str(data), model="unet", epochs=1, size=(32, 32), batch=4, base_filters=4, min_epoch_images=0)
    parent = train(TrainConfig(**tiny, out=str(tmp_path / "parent"), val_split=0.25, seed=0, split_rule="name"))
    child = train(TrainConfig(**tiny, out=str(tmp_path / "child"), resume=str(parent.folder), val_split=0.5,
                              seed=3, split_rule="sequence"))
    recorded = json.loads((child.folder / "config.json").read_text())
    assert (recorded["val_split"], recorded["seed"], recorded["split_rule"]) == (0.25, 0, "name")
