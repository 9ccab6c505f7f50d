"""Use a finished run: load its model, predict masks with probabilities and uncertainty, score, export.

Predictions are made the way the model was trained — the image resized to the run's training size — and the
class probabilities are resized back to the image's own size before the argmax, so masks keep smooth borders.
Images much larger than the training size can instead be predicted in overlapping tiles at full resolution
(`tile=True`), which suits models trained on crops of large scenes.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from ..core.atomic import atomic_write_bytes  # noqa: E402
from ..core.classes import ClassInfo, ClassSet, default_palette  # noqa: E402
from ..core.dataset import Dataset, Sample  # noqa: E402
from ..core.errors import DatasetError  # noqa: E402
from ..core.maskio import MaskFormat, encode_mask  # noqa: E402
from ..core.metrics import confusion_matrix, scores  # noqa: E402
from .config import TrainConfig  # noqa: E402
from .preprocess import prepare_image  # noqa: E402

MODEL_FILES = ("best.keras", "last.keras")
EXPORT_FORMATS = ("index", "color", "overlay")
Progress = Callable[[int, int, str], None]


@dataclass
class Prediction:
    mask: np.ndarray  # uint8 (H, W) class indices
    probs: np.ndarray  # float32 (H, W, K) softmax probabilities
    entropy: np.ndarray  # float32 (H, W) in nats: 0 = certain, log(K) = uniform

    @property
    def mean_entropy(self) -> float:
        return float(self.entropy.mean())


@dataclass
class LoadedRun:
    folder: Path
    config: TrainConfig
    model: object  # keras.Model
    classes: ClassSet
    model_file: Path

    @property
    def num_classes(self) -> int:
        return int(self.model.output_shape[-1])

    def predict(self, image: np.ndarray, tile: bool = False) -> Prediction:
        """Class probabilities for one uint8 RGB image, at the image's own size."""
        probs = self._tiled(image) if tile else self._resized(image)
        return _prediction(probs)

    def _forward(self, batch: np.ndarray) -> np.ndarray:
        return np.asarray(self.model(batch, training=False), dtype=np.float32)

    def _resized(self, image: np.ndarray) -> np.ndarray:
        h, w = image.shape[:2]
        th, tw = self.config.size
        probs = self._forward(prepare_image(image, (th, tw))[None])[0]
        if (th, tw) != (h, w):
            probs = _resize_probs(probs, h, w)
        return probs

    def _tiled(self, image: np.ndarray) -> np.ndarray:
        """Overlapping windows of the training size over the full-resolution image, averaged with a taper so
        tile borders (where the model sees least context) count least."""
        h, w = image.shape[:2]
        th, tw = self.config.size
        ph, pw = max(h, th), max(w, tw)
        padded = cv2.copyMakeBorder(image, 0, ph - h, 0, pw - w, cv2.BORDER_REFLECT_101)
        acc = np.zeros((ph, pw, self.num_classes), np.float32)
        weight = np.zeros((ph, pw, 1), np.float32)
        taper = np.outer(np.hanning(th + 2)[1:-1], np.hanning(tw + 2)[1:-1]).astype(np.float32)[..., None] + 1e-3
        for y in _starts(ph, th):
            for x in _starts(pw, tw):
                window = padded[y:y + th, x:x + tw]
                probs = self._forward(prepare_image(window, (th, tw))[None])[0]
                acc[y:y + th, x:x + tw] += probs * taper
                weight[y:y + th, x:x + tw] += taper
        return (acc / weight)[:h, :w]


def _starts(total: int, window: int, overlap: float = 0.25) -> list[int]:
    if total <= window:
        return [0]
    stride = max(1, int(window * (1 - overlap)))
    starts = list(range(0, total - window, stride)) + [total - window]
    return sorted(set(starts))


def _resize_probs(probs: np.ndarray, h: int, w: int) -> np.ndarray:
    # cv2.resize handles at most 512 channels per call; chunk so any class count works
    parts = [cv2.resize(probs[..., i:i + 256], (w, h), interpolation=cv2.INTER_LINEAR)
             for i in range(0, probs.shape[-1], 256)]
    parts = [p[..., None] if p.ndim == 2 else p for p in parts]
    return np.concatenate(parts, axis=-1)


def _prediction(probs: np.ndarray) -> Prediction:
    probs = np.clip(probs, 0.0, 1.0)
    entropy = -(probs * np.log(np.clip(probs, 1e-7, 1.0))).sum(axis=-1)
    return Prediction(probs.argmax(axis=-1).astype(np.uint8), probs, entropy.astype(np.float32))


def _run_classes(config: TrainConfig, num_classes: int) -> ClassSet:
    palette = default_palette(max(num_classes, 1))
    classes = []
    for i in range(num_classes):
        name = config.class_names[i] if i < len(config.class_names) else f"class {i}"
        color = tuple(config.class_colors[i]) if i < len(config.class_colors) else tuple(int(v) for v in palette[i])
        classes.append(ClassInfo(i, name, color))
    if config.ignore_index is not None and config.ignore_index >= num_classes:
        classes.append(ClassInfo(config.ignore_index, "void", (0, 0, 0)))
    return ClassSet(classes, config.ignore_index, "run config")


def load_run(folder: Path | str, model_file: str | None = None) -> LoadedRun:
    """A run folder's config and model (best.keras, else last.keras), loaded with safe_mode=True.

    safe_mode refuses models that carry Python code (Lambda layers), so opening a run someone sent cannot run
    their code; every failure is one sentence naming the file.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise DatasetError(f"{folder} is not a run folder; pass a folder made by `seg-desktop train`.", folder)
    config_path = folder / "config.json"
    try:
        config = TrainConfig.load(config_path)
    except FileNotFoundError:
        raise DatasetError(f"{config_path} is missing, so {folder} is not a complete run; train again.",
                           config_path) from None
    except (ValueError, TypeError, KeyError) as exc:
        raise DatasetError(f"{config_path} is not a valid run config ({exc}); train again.", config_path) from None
    candidates = [folder / model_file] if model_file else [folder / name for name in MODEL_FILES]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        raise DatasetError(f"{folder} holds no {' or '.join(p.name for p in candidates)}; the run did not finish an "
                           "epoch — train it again or resume it.", folder)
    import keras

    from . import models  # noqa: F401  registers the custom layers before loading

    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # keras raises many types for corrupt zips, bad configs and unsafe layers
        reason = str(exc).split("\n")[0][:200]
        if "safe_mode" in str(exc) or "Lambda" in str(exc):
            raise DatasetError(f"{path} contains Python code (a Lambda layer), which seg-desktop refuses to load "
                               "for safety; retrain the model with seg-desktop.", path) from None
        raise DatasetError(f"{path} cannot be loaded as a Keras model ({reason}); it is damaged or not a "
                           "seg-desktop model — retrain or pick another run.", path) from None
    num_classes = int(model.output_shape[-1])
    return LoadedRun(folder, config, model, _run_classes(config, num_classes), path)


def check_classes(run: LoadedRun, dataset: Dataset) -> None:
    """Refuse to score a model against masks with another number of classes (the scores would be meaningless)."""
    if dataset.classes.num_classes != run.num_classes:
        raise DatasetError(
            f"{run.model_file} predicts {run.num_classes} classes but {dataset.root} has "
            f"{dataset.classes.num_classes}; use a run trained on this dataset, or retrain.", run.model_file)


def evaluate_dataset(run: LoadedRun, dataset: Dataset, samples: Sequence[Sample],
                     progress: Progress | None = None, stop=None, tile: bool = False) -> dict:
    """Whole-set scores from one summed confusion matrix, plus per-image scores and uncertainty.

    Samples whose files turn out bad are skipped and listed under "problems" so one broken mask does not hide
    the scores of the rest.
    """
    check_classes(run, dataset)
    k, ignore = run.num_classes, dataset.classes.ignore_index
    total = np.zeros((k, k), np.int64)
    per_image, problems = [], []
    labelled = [s for s in samples if s.labelled]
    for i, sample in enumerate(labelled):
        if stop is not None and stop.is_set():
            break
        try:
            gt = dataset.read_mask(sample)
            pred = run.predict(dataset.read_image(sample), tile=tile)
        except DatasetError as exc:
            problems.append(str(exc))
            continue
        cm = confusion_matrix(gt, pred.mask, k, ignore)
        total += cm
        s = scores(cm)
        per_image.append({"key": sample.key, "mean_iou": s["mean_iou"], "pixel_accuracy": s["pixel_accuracy"],
                          "mean_entropy": pred.mean_entropy})
        if progress is not None:
            progress(i + 1, len(labelled), sample.key)
    result = scores(total)
    names = run.classes.names
    result["per_class"] = {names[c]: {"iou": result["iou"][c], "dice": result["dice"][c]} for c in range(k)}
    result["class_names"] = names
    result["num_images"] = len(per_image)
    result["per_image"] = per_image
    result["problems"] = problems
    return result


def write_metrics(run_folder: Path, metrics: dict) -> Path:
    path = Path(run_folder) / "metrics.json"
    atomic_write_bytes(path, json.dumps(json_safe(metrics), indent=2).encode("utf-8"))
    return path


def json_safe(value):
    """NaN (a class absent from a split) is not JSON; write null so every JSON reader accepts the file."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_safe(v) for v in value]
    return value


def render(pred_mask: np.ndarray, fmt: str, classes: ClassSet, image: np.ndarray | None = None) -> bytes:
    """PNG bytes of a predicted mask as an index mask, a colour mask or a colour overlay on the image."""
    if fmt == "index":
        return encode_mask(pred_mask, MaskFormat("index"), classes)
    if fmt == "color":
        return encode_mask(pred_mask, MaskFormat("color"), classes)
    if fmt == "overlay":
        if image is None:
            raise ValueError("an overlay needs the image")
        colour = classes.lut()[pred_mask]
        blend = cv2.addWeighted(image, 0.55, colour, 0.45, 0.0)
        buf = io.BytesIO()
        Image.fromarray(blend, "RGB").save(buf, format="PNG")
        return buf.getvalue()
    raise ValueError(f"format must be one of {', '.join(EXPORT_FORMATS)}, not {fmt!r}")


def _output_names(samples: Sequence[Sample]) -> list[str]:
    """The images' own stems, made unique with their folder where two folders hold the same stem."""
    stems = [s.stem for s in samples]
    dupes = {x for x in stems if stems.count(x) > 1}
    return [s.key.rsplit(".", 1)[0].replace("/", "__") if s.stem in dupes else s.stem for s in samples]


def _refuse_overwriting_the_dataset(dataset: Dataset, out: Path, names: Sequence[str], probabilities: bool) -> None:
    """An export into the dataset's own image or mask folder would replace images or hand-made masks with
    predictions (same stems, .png); refuse before writing anything."""
    if not out.is_dir():
        return
    inputs = {p.resolve() for s in dataset.samples for p in (s.image_path, s.mask_path) if p is not None}
    suffixes = ("", "_entropy") if probabilities else ("",)
    for name in names:
        for suffix in suffixes:
            target = (out / f"{name}{suffix}.png").resolve()
            if target in inputs:
                raise DatasetError(f"Exporting to {out} would overwrite {target} of the dataset; choose an output "
                                   "folder outside the dataset's image and mask folders.", target)


def export_predictions(run: LoadedRun, dataset: Dataset, samples: Sequence[Sample], out_dir: Path | str,
                       fmt: str = "index", probabilities: bool = False, progress: Progress | None = None,
                       stop=None, tile: bool = False, problems: list[str] | None = None) -> list[Path]:
    """One PNG per image named by the image's stem (same size as the image); with `probabilities`, also
    `<stem>_probs.npy` (float16 H x W x K) and `<stem>_entropy.png` (0 = certain, 255 = uniform).

    With a `problems` list, an image that cannot be read is skipped and its reason appended, so one corrupt file
    does not cost the masks of all the others; without one, the first such image raises its DatasetError."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"format must be one of {', '.join(EXPORT_FORMATS)}, not {fmt!r}")
    out = Path(out_dir).expanduser()
    names = _output_names(samples)
    _refuse_overwriting_the_dataset(dataset, out, names, probabilities)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DatasetError(f"Cannot create the output folder {out} ({exc.strerror}); choose another folder.",
                           out) from None
    written: list[Path] = []
    max_entropy = float(np.log(max(run.num_classes, 2)))
    for i, (sample, name) in enumerate(zip(samples, names)):
        if stop is not None and stop.is_set():
            break
        try:
            image = dataset.read_image(sample)
        except DatasetError as exc:
            if problems is None:
                raise
            problems.append(str(exc))
            continue
        pred = run.predict(image, tile=tile)
        path = out / f"{name}.png"
        atomic_write_bytes(path, render(pred.mask, fmt, run.classes, image))
        written.append(path)
        if probabilities:
            buf = io.BytesIO()
            np.save(buf, pred.probs.astype(np.float16))
            atomic_write_bytes(out / f"{name}_probs.npy", buf.getvalue())
            ent = np.clip(pred.entropy / max_entropy * 255.0, 0, 255).astype(np.uint8)
            atomic_write_bytes(out / f"{name}_entropy.png", encode_mask(ent, MaskFormat("index"), None))
        if progress is not None:
            progress(i + 1, len(samples), sample.key)
    return written
