"""One description of a training setting (ml/config.py): `seg-desktop train`'s options, --help and validate() are
generated from TrainConfig's field metadata, so a setting added there is on the command line with no other edit.
The form's half of the same check is tests/gui/test_training_form.py."""

from __future__ import annotations

import dataclasses

import pytest

from seg_desktop import cli
from seg_desktop.commands.train import train_config
from seg_desktop.ml import config as config_module
from seg_desktop.ml.config import SETTING, TrainConfig, _setting, setting_fields

# The `train` options of DESIGN.md (and --patience), exactly.
DESIGN_FLAGS = {"--model", "--epochs", "--size", "--batch", "--lr", "--base-filters", "--width", "--val-split",
                "--no-augment", "--loss", "--class-weights", "--resume", "--encoder-weights", "--out", "--strategy",
                "--seed", "--patience"}
# round 2, issue 11: native-resolution crops (DESIGN.md's --scale, --crop) and data larger than memory
DESIGN_FLAGS |= {"--scale", "--crop", "--scale-jitter", "--data-memory", "--disk-cache"}
DESIGN_FLAGS |= {"--split-rule"}  # issue 16 item 6: how val is drawn (core/split.py)
DESIGN_FLAGS |= {"--augment-policy"}  # issue 16: augmentation that respects the data
DESIGN_FLAGS |= {"--minutes", "--lr-schedule"}  # issue 16 item 2: a time budget, the learning-rate schedule
DESIGN_FLAGS |= {"--rare-crops"}  # issue 16 item 5: crops placed on rare-class pixels
DESIGN_FLAGS |= {"--precision"}  # issue 16 item 1: mixed bfloat16 (ml/precision.py)


@dataclasses.dataclass
class WithDropout(TrainConfig):
    """TrainConfig plus one new setting, declared the only way a setting is declared."""

    dropout: float = _setting(0.0, label="Dropout", kind="float", low=0, high=0.9, decimals=2, step=0.05,
                              flag="--dropout", help="dropout rate of the decoder")


def train_options(parser) -> dict:
    sub = next(a for a in parser._actions if a.dest == "command")
    return {flag: action for action in sub.choices["train"]._actions for flag in action.option_strings}


def test_the_cli_offers_exactly_the_designed_flags_with_the_config_defaults(capsys):
    options = train_options(cli._parser())
    assert set(options) - {"-h", "--help"} == DESIGN_FLAGS
    assert options["--model"].required and options["--model"].choices == ("unet", "segnet")
    assert options["--no-augment"].dest == "augment" and options["--no-augment"].const is False
    args = cli._parser().parse_args(["train", "D", "--model", "segnet", "--size", "36x48", "--no-augment",
                                     "--class-weights", "median", "--out", "/tmp/r"])
    config = train_config(args)
    assert (config.model, config.size, config.augment, config.class_weights, config.out) == \
        ("segnet", (36, 48), False, "median", "/tmp/r")
    assert (config.epochs, config.lr, config.val_split) == (40, 1e-3, 0.2)  # not given: TrainConfig's defaults
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    help_text = capsys.readouterr().out
    for f in setting_fields():
        s = f.metadata[SETTING]
        if s.flag:
            assert s.flag in help_text and s.help.split(";")[0][:20] in " ".join(help_text.split()), f.name


def test_a_setting_added_to_the_metadata_is_on_the_command_line_and_validated(monkeypatch, capsys):
    monkeypatch.setattr(config_module, "TrainConfig", WithDropout)  # what cli imports at call time
    args = cli._parser().parse_args(["train", "D", "--model", "unet", "--dropout", "0.3"])
    config = train_config(args)
    assert isinstance(config, WithDropout) and config.dropout == 0.3
    assert train_config(cli._parser().parse_args(["train", "D", "--model", "unet"])).dropout == 0.0
    with pytest.raises(ValueError, match=r"^dropout must be in \[0, 0.9\], not 1.5\.$"):
        dataclasses.replace(config, dropout=1.5).validate()
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    assert "--dropout DROPOUT" in capsys.readouterr().out


@pytest.mark.parametrize("change, words", [
    ({"lr": -1.0}, "learning rate must be positive, not -1.0."),
    ({"lr": float("nan")}, "learning rate must be positive, not nan."),
    ({"val_split": 1.0}, "val split must be in [0, 1), not 1.0."),
    ({"epochs": 0}, "epochs must be at least 1, not 0."),
    ({"size": (12, 64)}, "training size 12x64 is too small; use at least 16x16."),
    ({"loss": "hinge"}, "loss must be one of ce, dice, ce+dice, focal, focal+dice, lovasz, ce+lovasz, not 'hinge'."),
    ({"width": 0.0}, "width must be positive, not 0.0."),
])
def test_validate_reads_the_ranges_from_the_metadata(change, words):
    with pytest.raises(ValueError) as info:
        dataclasses.replace(TrainConfig(data="d"), **change).validate()
    assert str(info.value) == words


def test_the_model_names_are_the_registrys():
    from seg_desktop.ml.models import MODEL_NAMES

    assert config_module.MODELS == MODEL_NAMES
