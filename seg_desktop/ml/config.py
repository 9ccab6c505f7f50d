"""Everything needed to repeat a training run, stored as the run's `config.json`.

Kept free of TensorFlow imports so the GUI can build, show and remember a config before TensorFlow has loaded.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

MODELS = ("unet", "segnet")
LOSSES = ("ce", "dice", "ce+dice")
CLASS_WEIGHTS = ("none", "median")
STRATEGIES = ("auto", "mirrored", "multiworker")


@dataclass
class TrainConfig:
    data: str  # dataset folder
    model: str = "unet"
    epochs: int = 40
    size: tuple[int, int] = (256, 256)  # training (height, width)
    batch: int = 8
    lr: float = 1e-3
    base_filters: int = 32  # UNet; 64 is the paper's ~31M-parameter model
    width: float = 0.5  # SegNet channel multiplier; 1.0 is the paper's ~29.5M-parameter model
    val_split: float = 0.2
    augment: bool = True
    loss: str = "ce+dice"
    class_weights: str = "none"
    resume: str | None = None  # a run folder to continue or fine-tune from
    encoder_weights: str | None = None  # a Keras VGG16 notop weights file
    out: str | None = None  # run folder; default FOLDER/.seg-desktop/runs/<timestamp>-<model>
    strategy: str = "auto"
    seed: int = 0
    patience: int = 10  # early stopping on val mean IoU, in epochs
    min_epoch_images: int = 256  # an epoch shows at least this many (augmented) images; see ml.data.steps_per_epoch
    # Filled in by the trainer from the dataset so the run can be evaluated and repeated without it:
    num_classes: int | None = None
    class_names: list[str] = field(default_factory=list)
    class_colors: list[list[int]] = field(default_factory=list)
    ignore_index: int | None = None

    def validate(self) -> None:
        """Refuse impossible settings with one sentence each, before any work starts."""
        if self.model not in MODELS:
            raise ValueError(f"model must be one of {', '.join(MODELS)}, not {self.model!r}.")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}, not {self.loss!r}.")
        if self.class_weights not in CLASS_WEIGHTS:
            raise ValueError(f"class weights must be one of {', '.join(CLASS_WEIGHTS)}, not {self.class_weights!r}.")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, not {self.strategy!r}.")
        if self.epochs < 1 or self.batch < 1:
            raise ValueError("epochs and batch must be at least 1.")
        if not (self.lr > 0):
            raise ValueError(f"learning rate must be positive, not {self.lr}.")
        if min(self.size) < 16:
            raise ValueError(f"training size {self.size[0]}x{self.size[1]} is too small; use at least 16x16.")
        if not 0.0 <= self.val_split < 1.0:
            raise ValueError(f"val split must be in [0, 1), not {self.val_split}.")
        if self.min_epoch_images < 0 or self.patience < 1:
            raise ValueError("min epoch images must be at least 0 and patience at least 1.")
        if self.base_filters < 1 or self.width <= 0:
            raise ValueError("base filters and width must be positive.")

    def to_json(self) -> str:
        data = asdict(self)
        data["size"] = list(self.size)
        return json.dumps(data, indent=2)

    @classmethod
    def from_dict(cls, data: dict) -> "TrainConfig":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        if "size" in values:
            values["size"] = tuple(int(v) for v in values["size"])
        return cls(**values)

    @classmethod
    def load(cls, path: Path) -> "TrainConfig":
        return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


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
