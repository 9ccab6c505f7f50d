"""Score and export a finished run's predictions over many samples: `evaluate_dataset` (one summed confusion
matrix, metrics.json), `export_predictions` (PNG masks, probabilities and entropy, written all or none per image
through core.writeguard) and `render`. Predicting one image is ml/inference.py's `LoadedRun`; see its docstring for
how predictions follow the run's training scale and memory budget.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ..core.atomic import atomic_write_bytes
from ..core.classes import ClassSet
from ..core.dataset import Dataset, Sample
from ..core.errors import DatasetError
from ..core.maskio import MaskFormat, encode_mask
from ..core.metrics import confusion_matrix, scores
from ..core.paths import fit_name
from ..core.resources import out_of_memory, write_failure
from ..core.writeguard import claim_output, unique_names
from .inference import MEMORY_ENV, Prediction, check_classes, memory_budget, predict_sample
# re-exported: the tests and benchmarks import these from here
from .inference import LoadedRun, load_run  # noqa: F401

EXPORT_FORMATS = ("index", "color", "overlay")
Progress = Callable[[int, int, str], None]


def evaluate_dataset(run: LoadedRun, dataset: Dataset, samples: Sequence[Sample],
                     progress: Progress | None = None, stop=None, tile: bool | None = None) -> dict:
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
            try:
                gt = dataset.read_mask(sample)
            except MemoryError:
                raise DatasetError(out_of_memory(sample.mask_path, "read"), sample.mask_path) from None
            pred = predict_sample(run, dataset, sample, tile=tile, probabilities=False)[1]
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


def _output_suffixes(probabilities: bool) -> tuple[str, ...]:
    """What export_predictions writes per image after its name: the mask, and the probabilities and entropy."""
    return (".png", "_probs.npy", "_entropy.png") if probabilities else (".png",)


def _output_names(samples: Sequence[Sample], probabilities: bool = False) -> list[str]:
    """The images' own stems, with their folder where two folders hold the same stem, and '-2', '-3', ... where
    files would still meet (images 'a' and 'a_entropy' with probabilities): no two files one export writes share
    a name, even on a file system that ignores case. Linear time: 40,000 images take milliseconds."""
    counts = Counter(s.stem.casefold() for s in samples)
    bases = [s.key.rsplit(".", 1)[0].replace("/", "__") if counts[s.stem.casefold()] > 1 else s.stem
             for s in samples]
    # a name near the 255-byte limit is shortened with a hash so "_entropy.png" and a "-2" still fit
    reserve = max(len(suffix) for suffix in _output_suffixes(probabilities)) + 8
    return unique_names([fit_name(base, reserve) for base in bases], _output_suffixes(probabilities))


def export_predictions(run: LoadedRun, dataset: Dataset, samples: Sequence[Sample], out_dir: Path | str,
                       fmt: str = "index", probabilities: bool = False, progress: Progress | None = None,
                       stop=None, tile: bool | None = None, problems: list[str] | None = None) -> list[Path]:
    """One PNG per image named by the image's stem (same size as the image); with `probabilities`, also
    `<stem>_probs.npy` (float16 H x W x K) and `<stem>_entropy.png` (0 = certain, 255 = uniform).

    With a `problems` list, an image that cannot be read, predicted (out of memory) or written (disk full, no
    permission, read-only, name too long) is skipped and its reason appended, so one file does not cost the masks
    of all the others; without one, the first such image raises its DatasetError. An image's outputs are written
    all or none. Probabilities too large for `memory_budget()` are not written for that image (its mask and
    entropy are), with a reason appended or raised the same way."""
    if fmt not in EXPORT_FORMATS:
        raise ValueError(f"format must be one of {', '.join(EXPORT_FORMATS)}, not {fmt!r}")
    out = Path(out_dir).expanduser()
    names = _output_names(samples, probabilities)
    output = claim_output(out, [n + s for n in names for s in _output_suffixes(probabilities)], "predicted masks",
                          dataset=dataset)  # refused before anything is written; see core.writeguard
    written: list[Path] = []
    max_entropy = float(np.log(max(run.num_classes, 2)))
    for i, (sample, name) in enumerate(zip(samples, names)):
        if stop is not None and stop.is_set():
            break
        try:
            image, pred = predict_sample(run, dataset, sample, tile=tile, probabilities=probabilities)
            try:
                files = _encoded_outputs(pred, image, out, name, fmt, run.classes, probabilities, max_entropy)
            except MemoryError:
                raise DatasetError(out_of_memory(sample.image_path, "encode the outputs of"),
                                   sample.image_path) from None
            del image
            _write_all(files, sample.image_path)
        except DatasetError as exc:
            if problems is None:
                raise
            problems.append(str(exc))
            continue
        written.append(out / f"{name}.png")
        if probabilities and pred.probs is None:
            refused = _probabilities_refused(sample.image_path, pred.mask.shape, run.num_classes,
                                             out / f"{name}_probs.npy")
            if problems is None:
                raise DatasetError(refused, sample.image_path)
            problems.append(refused)
        if progress is not None:
            progress(i + 1, len(samples), sample.key)
    output.finish()
    return written


def _encoded_outputs(pred: Prediction, image: np.ndarray, out: Path, name: str, fmt: str, classes: ClassSet,
                     probabilities: bool, max_entropy: float) -> dict[Path, bytes]:
    """Every output file of one image, encoded before any is written (an encoding failure writes nothing)."""
    files = {out / f"{name}.png": render(pred.mask, fmt, classes, image)}
    if probabilities:
        if pred.probs is not None:
            buf = io.BytesIO()
            np.save(buf, pred.probs.astype(np.float16, copy=False))
            files[out / f"{name}_probs.npy"] = buf.getvalue()
        ent = pred.entropy * np.float32(255.0 / max_entropy)  # one float32 temporary: images can be huge
        np.clip(ent, 0, 255, out=ent)
        files[out / f"{name}_entropy.png"] = encode_mask(ent.astype(np.uint8), MaskFormat("index"), None)
    return files


def _write_all(files: dict[Path, bytes], image_path: Path) -> None:
    """Write one image's outputs, all or none: when one write fails (disk full, permission, read-only file
    system, name too long) every file of the set is removed again, so no mask is left beside missing or stale
    probabilities. Each write is atomic, so no temporary file is left either."""
    for path, data in files.items():
        try:
            atomic_write_bytes(path, data)
        except OSError as exc:
            for other in files:
                with contextlib.suppress(OSError):
                    other.unlink(missing_ok=True)
            raise DatasetError(write_failure(exc, path, f", so nothing was kept for {image_path}"), path) from None


def _probabilities_refused(image_path: Path, shape: tuple[int, ...], k: int, path: Path) -> str:
    h, w = shape[:2]
    return (f"{path} was not written: the {k} class probabilities of {image_path} ({w}x{h}) would take "
            f"{h * w * k * 2 / 2**20:.0f} MB as float16, more than the prediction memory budget of "
            f"{memory_budget() / 2**20:.0f} MB (its mask and entropy map were written); predict it without "
            f"--probabilities, or raise {MEMORY_ENV}.")
