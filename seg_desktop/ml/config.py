"""Everything needed to repeat a training run, stored as the run's `config.json`, and the one description of
each setting: its label, help, range, choices, CLI flag and form widget live in the field's metadata, so the
training form, its remembered settings, `seg-desktop train` and validate() are all generated from here and adding
a setting is one edit (see docs/ARCHITECTURE.md, "One description of a training setting").

Kept free of TensorFlow imports so the GUI can build, show and remember a config before TensorFlow has loaded.
"""

from __future__ import annotations

import json
import math
from dataclasses import Field, asdict, dataclass, field, fields
from typing import Any

SETTING = "setting"  # the key of a field's Setting in dataclasses.field(metadata=...)
NO_LEGACY = "<no legacy value>"  # Setting.legacy of a setting every config.json has recorded since it existed


@dataclass(frozen=True)
class Setting:
    """How one TrainConfig field is shown, asked for and checked.

    kind: "choice" (a combo box, `--flag {a,b}`), "int" / "float" (a spin box), "bool" (a check box; on the
    command line a switch that flips the default, e.g. --no-augment), "size" (N or HxW text), "path" (a file or
    folder; the form offers those through "Start from", see START_FROM).
    low/high: the accepted range (None: open ended); open_low/open_high make a bound exclusive. validate() and
    the run-config check enforce it; the form's spin box uses form_low/form_high where the form offers less.
    short: the form's widget attributes are `<short>_<combo|spin|check|edit>` (default: the field name).
    flag: the `seg-desktop train` option ("" : not on the command line). form: whether the form shows it.
    when: (field, value): the form enables the widget only while that other field has that value; while it is
    off the form leaves the setting at its default.
    suffix: the unit the form's spin box shows after the number; zero_text: what it shows for 0 instead (a
    setting whose 0 means "off" names what rules then). noun: how messages name it (default: the label).
    architecture: the setting shapes the saved network, so a resumed run takes it from its parent.
    pace: the setting decides how long an epoch takes (with the architecture ones), so a past run's epoch time
    predicts a new run's only when these agree.
    legacy: the value that reproduces what a run did before this setting existed; a config.json without the field
    loads with it (ml/config_file.py), so evaluating or resuming an old run never silently changes its recipe.
    """

    label: str
    help: str
    kind: str
    choices: tuple[tuple[str, str], ...] = ()  # (value, label shown in the form)
    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False
    form_low: float | None = None
    form_high: float | None = None
    decimals: int = 0
    step: float = 1.0
    short: str = ""
    flag: str = ""
    required_flag: bool = False
    form: bool = True
    when: tuple[str, Any] | None = None
    architecture: bool = False
    pace: bool = False
    legacy: Any = NO_LEGACY
    suffix: str = ""
    zero_text: str = ""
    noun: str = ""

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(value for value, _ in self.choices)

    def range_text(self) -> str:
        """The accepted range in words, for messages and --help ("" when unbounded)."""
        if self.low is not None and self.high is None:
            if self.open_low:
                return "positive" if self.low == 0 else f"above {self.low:g}"
            return f"at least {self.low:g}"
        if self.low is None and self.high is None:
            return ""
        return (f"in {'(' if self.open_low else '['}{self.low:g}, {self.high:g}{')' if self.open_high else ']'}"
                if self.low is not None else f"at most {self.high:g}")

    def check(self, value: Any) -> str | None:
        """None when `value` is acceptable, else the sentence that says why not."""
        name = self.noun or self.label.lower()
        if self.kind == "choice":
            return None if value in self.values else f"{name} must be one of {', '.join(self.values)}, not {value!r}."
        if self.kind == "size":
            if value is None:  # an optional size (crop) not given
                return None
            if self.low is not None and min(value) < self.low:
                side = int(self.low)
                return f"{name} {value[0]}x{value[1]} is too small; use at least {side}x{side}."
            return None
        if self.kind not in ("int", "float") or (self.low is None and self.high is None):
            return None
        ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if ok and self.low is not None:
            ok = value > self.low if self.open_low else value >= self.low
        if ok and self.high is not None:
            ok = value < self.high if self.open_high else value <= self.high
        return None if ok else f"{name} must be {self.range_text()}, not {value}."


def _setting(default: Any, **meta: Any) -> Any:
    """A dataclass field with its Setting (a mutable default goes through default_factory)."""
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata={SETTING: Setting(**meta)})
    return field(default=default, metadata={SETTING: Setting(**meta)})


MODEL_CHOICES = (("unet", "UNet"), ("segnet", "SegNet"))
LOSS_CHOICES = (("ce", "Cross-entropy"), ("dice", "Dice"), ("ce+dice", "Cross-entropy + Dice"), ("focal", "Focal"),
                ("focal+dice", "Focal + Dice"), ("lovasz", "Lovász-softmax"), ("ce+lovasz", "Cross-entropy + Lovász"))
WEIGHT_CHOICES = (("none", "None"), ("median", "Median frequency"), ("sqrt-median", "Square root of median frequency"),
                  ("enet", "ENet 1/ln(1.02 + p)"))
SCALE_CHOICES = (("auto", "Auto"), ("resize", "Resize whole images"), ("crop", "Full-resolution crops"))
AUGMENT_CHOICES = (("auto", "Auto"), ("scene", "Scene with gravity"),
                   ("top-down", "Top-down / microscopy / aerial"))
PRECISION_CHOICES = (("auto", "Auto"), ("float32", "Float32"), ("bfloat16", "Mixed bfloat16"))
STRATEGY_CHOICES = (("auto", "Auto"), ("mirrored", "Mirrored (all local GPUs)"), ("multiworker", "Multi-worker"))
SCHEDULE_CHOICES = (("auto", "Auto"), ("plateau", "Reduce on plateau"), ("cosine", "Warm-up + cosine"))  # ml/schedule
# The epoch bound of a time budget given without --epochs: none in practice (11 days at one second an epoch).
BUDGET_EPOCHS = 1_000_000
SPLIT_RULE_CHOICES = (("sequence", "Numbered frames in blocks"), ("name", "Each image by its name"))  # core/split.py
MODELS = tuple(v for v, _ in MODEL_CHOICES)
LOSSES = tuple(v for v, _ in LOSS_CHOICES)
CLASS_WEIGHTS = tuple(v for v, _ in WEIGHT_CHOICES)
STRATEGIES = tuple(v for v, _ in STRATEGY_CHOICES)


@dataclass
class TrainConfig:
    data: str  # dataset folder
    model: str = _setting("unet", label="Model", kind="choice", choices=MODEL_CHOICES, flag="--model",
                          required_flag=True, architecture=True, help="network to train")
    size: tuple[int, int] = _setting((256, 256), label="Training size", kind="size", low=16, flag="--size",
                                     architecture=True,
                                     help="training size: N for NxN, or HxW such as 360x480")
    # A time budget (ml/schedule.py): the learning rate follows it and the run ends with it; 0 trains by epochs.
    minutes: float = _setting(0.0, label="Train for", kind="float", low=0, form_high=10000, decimals=1, step=5.0,
                              suffix=" min", zero_text="epochs", noun="minutes to train", flag="--minutes",
                              legacy=0.0,
                              help="minutes to train, with the learning rate scheduled over them (warm-up, then "
                                   "cosine decay); --epochs is then only an upper bound (0: train for --epochs)")
    epochs: int = _setting(40, label="Epochs", kind="int", low=1, form_high=10000, flag="--epochs",
                           when=("minutes", 0.0),
                           help="epochs to train (a resumed run trains this many more)")
    batch: int = _setting(8, pace=True, label="Batch", kind="int", low=1, form_high=1024, flag="--batch",
                          help="images per training step")
    lr: float = _setting(1e-3, label="Learning rate", kind="float", low=0, open_low=True, form_low=1e-6,
                         form_high=1.0, decimals=6, step=1e-4, flag="--lr", help="Adam's learning rate")
    # Recorded resolved, never "auto"; runs from before it existed reduced the rate on a plateau.
    lr_schedule: str = _setting("auto", label="LR schedule", kind="choice", choices=SCHEDULE_CHOICES,
                                flag="--lr-schedule", form=False, legacy="plateau",
                                help="plateau: halve the rate when val mean IoU stalls and stop early; cosine: "
                                     "warm up over the first 5 percent, then decay to 1 percent of --lr by the end "
                                     "of the epochs or minutes; auto: cosine with --minutes, else plateau")
    base_filters: int = _setting(32, label="Base filters", kind="int", low=1, form_high=256, short="filters",
                                 flag="--base-filters", when=("model", "unet"), architecture=True,
                                 help="UNet channels of the first level; 64 is the paper's ~31M-parameter model")
    width: float = _setting(0.25, label="Width", kind="float", low=0, open_low=True, form_low=0.03, form_high=2.0,
                            decimals=3, step=0.125, flag="--width", when=("model", "segnet"), architecture=True,
                            help="SegNet channel multiplier; 1.0 is the paper's ~29.5M-parameter model")
    loss: str = _setting("ce+dice", label="Loss", kind="choice", choices=LOSS_CHOICES, flag="--loss",
                         help="training loss")
    class_weights: str = _setting("sqrt-median", label="Class weights", kind="choice", choices=WEIGHT_CHOICES,
                                  short="weights", flag="--class-weights",
                                  help="per-class loss weights (median: median frequency balancing; sqrt-median "
                                       "and enet: tempered, at most 10 times the median class's)")
    rare_crops: float = _setting(0.0, label="Rare-class crops", kind="float", low=0, high=1, decimals=2, step=0.1,
                                 flag="--rare-crops", form=False, legacy=0.0,
                                 help="probability that a training crop is placed on a pixel of a rare class (one "
                                      "below the median pixel share) instead of anywhere; in resize mode a zoomed-in "
                                      "window around it")
    val_split: float = _setting(0.2, label="Val split", kind="float", low=0, high=1, open_high=True, form_high=0.9,
                                decimals=2, step=0.05, short="val", flag="--val-split",
                                help="validation fraction when the layout defines no split")
    # How that fraction is drawn (core/split.py); runs from before the "sequence" rule drew per image ("name").
    split_rule: str = _setting("sequence", label="Split rule", kind="choice", choices=SPLIT_RULE_CHOICES,
                               flag="--split-rule", form=False, legacy="name",
                               help="how val images are drawn when the layout defines no split: sequence keeps "
                                    "names that differ only in trailing numbers (video frames, slices, tiles) "
                                    "in blocks of consecutive images on one side; name hashes each image alone")
    augment: bool = _setting(True, label="Augmentation", kind="bool", flag="--no-augment",
                             help="random flips, rotation, zoom and brightness")
    # Which geometry augmentation applies (ml/data.py augmenter, core/gravity.py); recorded resolved, never "auto".
    augment_policy: str = _setting("auto", label="Augmentation policy", kind="choice", choices=AUGMENT_CHOICES,
                                   short="policy", flag="--augment-policy", legacy="top-down",
                                   help="geometric augmentation: scene (gravity: horizontal flips, zoom, small "
                                        "rotations) or top-down (all flips and quarter turns); auto: scene when "
                                        "the top and bottom of the training masks differ")
    # How images become model input (ml/inputs.py, "Scale"); a run records the resolved scale, never "auto".
    scale: str = _setting("auto", label="Scale", kind="choice", choices=SCALE_CHOICES, flag="--scale",
                          help="resize whole images to the training size, or train on random crops of the "
                               "full-resolution images and predict in overlapping windows (auto: crops when "
                               "images are at least twice the training size)")
    crop: tuple[int, int] | None = _setting(None, label="Crop", kind="size", low=16, flag="--crop",
                                            help="crop window in full-resolution pixels for the crop scale, N or "
                                                 "HxW (default: the training size, i.e. the images' own "
                                                 "resolution; a larger window is resized to the training size)")
    crop_jitter: float = _setting(0.0, label="Scale jitter", kind="float", low=0, high=1, decimals=2, step=0.05,
                                  flag="--scale-jitter", form=False,
                                  help="crop scale only: each crop covers the window times a random factor in "
                                       "[1/(1+j), 1+j] (0: off)")
    data_memory: float = _setting(0.25, label="Data memory", kind="float", low=0, open_low=True, high=1,
                                  decimals=3, flag="--data-memory", form=False,
                                  help="the most memory the decoded training images may take, as a fraction of "
                                       "RAM; beyond it they are streamed from disk")
    disk_cache: bool = _setting(False, label="Disk cache", kind="bool", flag="--disk-cache", form=False,
                                help="when streaming, keep the decoded images under DATA/.seg-desktop/cache/ so "
                                     "later epochs and runs skip decoding")
    resume: str | None = _setting(None, label="A previous run", kind="path", flag="--resume", form=False,
                                  help="run folder to continue or fine-tune from")
    encoder_weights: str | None = _setting(None, label="Encoder weights file", kind="path", form=False,
                                           flag="--encoder-weights",
                                           help="Keras VGG16 notop weights file for the encoder")
    out: str | None = _setting(None, label="Run folder", kind="path", flag="--out", form=False,
                               help="run folder (default DATA/.seg-desktop/runs/<time>-<model>)")
    strategy: str = _setting("auto", label="Strategy", kind="choice", choices=STRATEGY_CHOICES, flag="--strategy",
                             form=False, help="tf.distribute strategy")
    # ml/precision.py; a run records the resolved precision, never "auto"
    precision: str = _setting("auto", label="Precision", kind="choice", choices=PRECISION_CHOICES, pace=True,
                              flag="--precision", form=False, legacy="float32",
                              help="float32, or mixed bfloat16 (bfloat16 compute, float32 weights; auto: "
                                   "bfloat16 where the processor computes it natively)")
    seed: int = _setting(0, label="Seed", kind="int", flag="--seed", form=False,
                         help="seed of the split, the shuffling and the initial weights")
    patience: int = _setting(10, label="Patience", kind="int", low=1, flag="--patience", form=False,
                             help="epochs without val mean IoU progress before stopping (plateau schedule)")
    # an epoch shows at least this many (augmented) images; see ml.data.steps_per_epoch
    min_epoch_images: int = _setting(256, pace=True, label="Min epoch images", kind="int", low=0, form=False,
                                     help="an epoch shows at least this many (augmented) images")
    # Filled in by the trainer from the dataset so the run can be evaluated and repeated without it:
    num_classes: int | None = None
    class_names: list[str] = field(default_factory=list)
    class_colors: list[list[int]] = field(default_factory=list)
    ignore_index: int | None = None

    def validate(self) -> None:
        """Refuse impossible settings with one sentence each, before any work starts (ranges from the metadata)."""
        for f in setting_fields():
            problem = f.metadata[SETTING].check(getattr(self, f.name))
            if problem is not None:
                raise ValueError(problem)
        if self.minutes > 0 and self.strategy == "multiworker":  # each worker's clock would end it at another step
            raise ValueError("A time budget (--minutes) cannot be used with the multiworker strategy, whose workers "
                             "must all stop at the same step; train for a number of --epochs instead.")

    def to_json(self) -> str:
        data = asdict(self)
        data["size"] = list(self.size)
        return json.dumps(data, indent=2)

    @classmethod
    def from_settings(cls, data: str, values: dict[str, Any]) -> "TrainConfig":
        """A config from form or command-line values keyed by field name: None means "not given" (the default
        stays), a size may be text ("48", "360x480"), a path may be a Path. Not validated yet."""
        given = {}
        for name, value in values.items():
            if value is None:
                continue
            kind = setting_of(name).kind
            if kind == "size" and value == "" and TrainConfig.__dataclass_fields__[name].default is None:
                continue  # an optional size left empty keeps its default
            given[name] = parse_size(value) if kind == "size" and isinstance(value, str) else \
                str(value) if kind == "path" else value
        if given.get("minutes", 0) > 0 and "epochs" not in given:  # a time budget alone: the time rules
            given["epochs"] = BUDGET_EPOCHS
        return cls(data=str(data), **given)


def setting_fields() -> list[Field]:
    """TrainConfig's fields that are settings (the user's choices), in the form's and --help's order."""
    return [f for f in fields(TrainConfig) if SETTING in f.metadata]


def setting_of(name: str) -> Setting:
    return next(f.metadata[SETTING] for f in setting_fields() if f.name == name)


def architecture_fields() -> tuple[str, ...]:
    """Settings that define the saved network's shape: a resumed run takes them from its parent."""
    return tuple(f.name for f in setting_fields() if f.metadata[SETTING].architecture)


def pace_fields(config: TrainConfig) -> tuple[str, ...]:
    """Settings that decide how long one of `config`'s epochs takes: the network's shape (those that apply to its
    model), the training size, the batch and the epoch length. Runs that agree on these take alike."""
    names = []
    for f in setting_fields():
        s = f.metadata[SETTING]
        if (s.architecture or s.pace) and (s.when is None or getattr(config, s.when[0]) == s.when[1]):
            names.append(f.name)
    return tuple(names)


# The form's "Start from" choice: (key, label, the path field it fills; None for none).
START_FROM = (("scratch", "Scratch", None), ("run", setting_of("resume").label, "resume"),
              ("encoder", setting_of("encoder_weights").label, "encoder_weights"))


def parse_size(text: str) -> tuple[int, int]:
    """'256' -> (256, 256); '360x480' -> (360, 480) as height x width."""
    parts = text.lower().replace("×", "x").split("x")
    try:
        values = [int(p) for p in parts]
    except ValueError:
        raise ValueError(f"size {text!r} is not N or HxW (e.g. 256 or 360x480).") from None
    if len(values) == 1:
        return values[0], values[0]
    if len(values) == 2:
        return values[0], values[1]
    raise ValueError(f"size {text!r} is not N or HxW (e.g. 256 or 360x480).")


def format_size(size: tuple[int, int]) -> str:
    """parse_size's inverse: (256, 256) -> '256', (360, 480) -> '360x480'."""
    return str(size[0]) if size[0] == size[1] else f"{size[0]}x{size[1]}"
