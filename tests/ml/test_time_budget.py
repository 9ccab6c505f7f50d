"""A time budget (`--minutes`, ml/schedule.py): the learning rate warms up then decays over the budget on a clock
the test drives, a real run ends by itself close to its budget and finishes normally (history, metrics.json,
config.json), the epoch-mode cosine schedule decays over the epochs, and old configs keep their old schedule.

Runtime on 2 cores: about 20-30 s (two tiny trainings of 32 px images and 4-filter UNets)."""

from __future__ import annotations

import json
import time

import keras
import pytest

from seg_desktop import cli
from seg_desktop.commands.train import train_config
from seg_desktop.core.sample_data import make_sample_dataset
from seg_desktop.ml.config import BUDGET_EPOCHS, TrainConfig
from seg_desktop.ml.config_file import load_config
from seg_desktop.ml.listener import TrainListener
from seg_desktop.ml.runs import read_history
from seg_desktop.ml.schedule import FLOOR, WARMUP_FRACTION, TimeBudget, resolved, schedule_parts, warmup_cosine
from seg_desktop.ml.train import train

LR = 1e-3


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def budget_on_a_model(seconds: float, clock: FakeClock) -> TimeBudget:
    model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(LR), loss="mse")
    budget = TimeBudget(seconds, warmup_cosine(LR, 1.0), clock)
    budget.set_model(model)
    budget.on_train_begin()
    budget.on_epoch_begin(0)
    budget.on_train_batch_begin(0)  # the first batch: tracing the step, at the floor rate, before the clock starts
    assert float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(FLOOR * LR, rel=1e-3)
    clock.now += 2 * seconds
    budget.on_train_batch_end(0)
    assert budget.start == clock.now and not model.stop_training
    return budget


def lr_at(budget: TimeBudget, clock: FakeClock, at: float) -> float:
    """The rate set for a batch that begins `at` seconds into the budget."""
    clock.now = budget.start + at
    budget.on_train_batch_begin(0)
    return float(keras.ops.convert_to_numpy(budget.model.optimizer.learning_rate))


def test_the_rate_warms_up_then_decays_over_the_budget_and_the_budget_ends_training():
    clock = FakeClock()
    budget = budget_on_a_model(100.0, clock)
    warm = WARMUP_FRACTION * 100.0
    assert lr_at(budget, clock, 0.0) == pytest.approx(FLOOR * LR, rel=1e-3)  # starts low
    assert lr_at(budget, clock, warm / 2) == pytest.approx((FLOOR + (1 - FLOOR) / 2) * LR, rel=1e-3)  # linear
    assert lr_at(budget, clock, warm) == pytest.approx(LR, rel=1e-3)  # the peak at the warm-up's end
    half = warm + (100.0 - warm) / 2  # half-way down the cosine: the mean of peak and floor
    assert lr_at(budget, clock, half) == pytest.approx((1 + FLOOR) / 2 * LR, rel=1e-3)
    rates = [lr_at(budget, clock, t) for t in range(5, 101, 5)]
    assert all(a > b for a, b in zip(rates, rates[1:])), rates  # falls all the way after the warm-up
    assert rates[-1] == pytest.approx(FLOOR * LR, rel=1e-3)
    budget.on_train_batch_end(0)
    assert budget.model.stop_training  # ended by the batch that reached the budget…
    budget.model.stop_training = False
    clock.now = budget.start + 99.0
    budget.on_train_batch_end(0)
    assert not budget.model.stop_training  # …and not one before


def test_the_last_epochs_validation_time_is_kept_back_from_the_budget():
    clock = FakeClock()
    budget = budget_on_a_model(100.0, clock)
    clock.now = budget.start + 30.0
    budget.on_train_batch_end(0)  # the epoch's last batch
    clock.now += 10.0  # validation and checkpoints
    budget.on_epoch_begin(1)
    assert budget.reserve == pytest.approx(10.0)
    assert lr_at(budget, clock, 90.0) == pytest.approx(FLOOR * LR, rel=1e-3)  # the curve ends 10 s early
    budget.on_train_batch_end(0)
    assert budget.model.stop_training


def test_auto_is_cosine_over_a_budget_and_the_plateau_schedule_over_epochs():
    by_epochs, by_time = TrainConfig(data="d"), TrainConfig(data="d", minutes=30)
    assert resolved(by_epochs).lr_schedule == "plateau" and resolved(by_time).lr_schedule == "cosine"
    rate, callbacks = schedule_parts(resolved(by_epochs), 10, "val_mean_iou")
    assert rate == LR and [type(c).__name__ for c in callbacks] == ["EarlyStopping", "ReduceLROnPlateau"]
    rate, callbacks = schedule_parts(resolved(by_time), 10, "val_mean_iou")
    assert rate == LR and [type(c) for c in callbacks] == [TimeBudget] and callbacks[0].seconds == 1800
    rate, callbacks = schedule_parts(TrainConfig(data="d", epochs=4, lr_schedule="cosine"), 10, "val_mean_iou")
    assert callbacks == [] and float(rate(40)) == pytest.approx(FLOOR * LR) and float(rate(2)) == pytest.approx(LR)
    # a budget with the plateau schedule asked for: the old recipe, ended by the clock (a baseline to compare)
    _, callbacks = schedule_parts(TrainConfig(data="d", minutes=5, lr_schedule="plateau"), 10, "val_mean_iou")
    assert [type(c).__name__ for c in callbacks] == ["EarlyStopping", "ReduceLROnPlateau", "TimeBudget"]
    assert callbacks[-1]._curve is None


def test_minutes_on_the_command_line_make_epochs_a_bound_and_negative_minutes_are_one_sentence(tmp_path, capsys):
    parse = cli._parser().parse_args
    config = train_config(parse(["train", "D", "--model", "unet", "--minutes", "2.5"]))
    assert (config.minutes, config.epochs) == (2.5, BUDGET_EPOCHS)  # the time rules
    config = train_config(parse(["train", "D", "--model", "unet", "--minutes", "2.5", "--epochs", "7"]))
    assert (config.minutes, config.epochs) == (2.5, 7)  # both given: whichever ends first
    assert train_config(parse(["train", "D", "--model", "unet"])).minutes == 0  # by epochs, as before
    code = cli.main(["train", str(tmp_path), "--model", "unet", "--minutes", "-1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and err == ["seg-desktop: minutes to train must be at least 0, not -1.0."]
    with pytest.raises(ValueError, match="multiworker"):
        TrainConfig(data="d", minutes=1, strategy="multiworker").validate()


class Clocked(TrainListener):
    def on_train_begin(self, info):
        self.info, self.began, self.epochs = info, None, []

    def on_batch_end(self, step, logs):
        self.began = self.began or time.monotonic()  # the budget's clock starts when the first batch has ended

    def on_epoch_end(self, record):
        self.epochs.append((record, time.monotonic()))

    def on_train_end(self, run):
        self.ended = time.monotonic()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_sample_dataset(tmp_path_factory.mktemp("s"), n=12, size=48)


def tiny(data, out, **values) -> TrainConfig:
    options = dict(model="unet", size=(32, 32), batch=4, base_filters=4, min_epoch_images=0, seed=0,
                   out=str(out))
    return TrainConfig.from_settings(str(data), {**options, **values})


def test_a_budget_run_ends_by_itself_near_its_budget_and_finishes_normally(data, tmp_path):
    budget = 3.0
    listener = Clocked()
    run = train(tiny(data, tmp_path / "run", minutes=budget / 60), listener)
    overshoot = listener.epochs[-1][1] - listener.began - budget  # the last epoch recorded vs the budget's end
    print(f"budget {budget:.0f} s: {len(run.history)} epochs, last epoch recorded {overshoot:+.2f} s after the "
          f"budget, metrics.json {listener.ended - listener.epochs[-1][1]:.2f} s later")
    assert -1.0 < overshoot < 4.0  # ends by itself, close to the budget (a 2-core box under load)
    assert listener.info["minutes"] == budget / 60 and listener.info["epochs"] == BUDGET_EPOCHS
    assert not run.stopped and len(run.history) >= 1 == len(read_history(run.folder)) - len(run.history) + 1
    assert (run.folder / "metrics.json").is_file() and (run.folder / "best.keras").is_file()
    saved = json.loads((run.folder / "config.json").read_text())
    assert (saved["minutes"], saved["lr_schedule"], saved["epochs"]) == (budget / 60, "cosine", BUDGET_EPOCHS)
    assert all(0 < r["lr"] <= LR for r in run.history)


def test_the_cosine_schedule_over_epochs_ends_at_its_floor(data, tmp_path):
    run = train(tiny(data, tmp_path / "run", epochs=3, lr_schedule="cosine"))
    rates = [r["lr"] for r in run.history]
    assert len(rates) == 3 and rates[0] > rates[1] > rates[2] == pytest.approx(FLOOR * LR, rel=1e-3)
    assert load_config(run.folder / "config.json").lr_schedule == "cosine"


def test_an_old_config_without_the_schedule_fields_loads_with_the_old_recipe(tmp_path):
    values = json.loads(TrainConfig(data="d").to_json())
    for name in ("minutes", "lr_schedule"):
        del values[name]
    (tmp_path / "config.json").write_text(json.dumps(values))
    old = load_config(tmp_path / "config.json")
    assert (old.minutes, old.lr_schedule) == (0.0, "plateau")
    assert [type(c).__name__ for c in schedule_parts(old, 10, "val_mean_iou")[1]] == \
        ["EarlyStopping", "ReduceLROnPlateau"]
