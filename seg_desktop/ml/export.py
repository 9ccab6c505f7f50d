"""Export a run's model for use outside seg-desktop: Keras (.keras), TensorFlow SavedModel, or ONNX.

An export is checked by reading it back before success is reported: the written model is loaded with the
runtime a user would use (Keras, TensorFlow, onnxruntime) and its probabilities compared with the run's Keras
model on real images of the run's dataset, at the training size. Maximum absolute difference of probabilities
≤ 1e-4 and identical argmax on ≥ 99.9 % of pixels, else nothing is written and the figures are the message.

SavedModel and ONNX have a fixed input of the training size (batch free): a UNet exported to ONNX with free
height and width was measured wrong at sizes that are not multiples of 16 (77x131 gave a 6x1 output), and the
model only ever saw the training size anyway. SegNet's MaxPoolWithArgmax/scatter unpooling converts to ONNX
(MaxPool with Indices) and runs, but it is discontinuous: where two values of a pooling window differ by rounding
error only, a runtime that rounds differently unpools to another place, so a trained SegNet's ONNX export can
fail the check (measured: max difference 0.09 on 2 of 8 camvid-mini images, argmax agreement 99.97 %; the Keras
model itself moves as much under 1e-7 input noise); the command then says why in its one sentence.

Beside the model go `model.json` (classes, colours, input size, normalisation, ignore index, the check's
figures) and a standalone `predict.py` (numpy + Pillow + onnxruntime or TensorFlow), so someone without
seg-desktop can use it; a .keras export also carries the custom layers' source as `custom_layers.py`.

Everything is made in a temporary folder, checked, then written through the write guard into a new, empty or
earlier seg-desktop output folder. See docs/ARCHITECTURE.md, "Deployable models".
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..core.dataset import open_dataset
from ..core.errors import DatasetError
from ..core.paths import display_path
from ..core.resources import write_failure
from ..core.writeguard import MANIFEST, claim_output
from .inference import LoadedRun, load_run
from .preprocess import prepare_image

FORMATS = ("keras", "savedmodel", "onnx")
MAX_ABS_DIFF = 1e-4  # largest allowed probability difference between the export and the Keras model
MIN_AGREEMENT = 0.999  # smallest allowed fraction of pixels with the same argmax
CHECK_IMAGES = 8  # real images the check runs on
ONNX_PACKAGES = ("onnxruntime", "tf2onnx", "onnx")
ONNX_HINT = "pip install 'seg-desktop[onnx]'"
_MODEL_FILE = {"keras": "model.keras", "savedmodel": "saved_model", "onnx": "model.onnx"}
_LAYERS_FILE = "custom_layers.py"
_HERE = Path(__file__).parent
_SOURCES = {"predict.py": _HERE / "standalone_predict.py", _LAYERS_FILE: _HERE / "models" / "layers.py"}


@dataclass
class Parity:
    """How closely the read-back export matches the run's Keras model."""

    images: int
    pixels: int
    max_abs_diff: float  # of the softmax probabilities
    argmax_agreement: float  # fraction of pixels with the same class

    @property
    def ok(self) -> bool:
        return self.max_abs_diff <= MAX_ABS_DIFF and self.argmax_agreement >= MIN_AGREEMENT

    def __str__(self) -> str:
        return (f"max probability difference {self.max_abs_diff:.2e}, same class on "
                f"{100 * self.argmax_agreement:.3f} % of {self.pixels} pixels of {self.images} images")


@dataclass
class ExportResult:
    folder: Path
    fmt: str
    files: list[Path]
    parity: Parity


def missing_onnx_packages() -> list[str]:
    """The packages of the `onnx` extra that are not installed."""
    return [name for name in ONNX_PACKAGES if importlib.util.find_spec(name) is None]


def check_format(fmt: str) -> None:
    """DatasetError for an unknown format, or for ONNX without its packages (said before anything loads)."""
    if fmt not in FORMATS:
        raise DatasetError(f"{fmt!r} is not a model format; choose one of {', '.join(FORMATS)}.")
    missing = missing_onnx_packages() if fmt == "onnx" else []
    if missing:
        raise DatasetError(f"ONNX export needs {' and '.join(missing)} (not installed); install the extra with "
                           f"`{ONNX_HINT}`, or export as keras or savedmodel.")


def export_model(run_folder: Path | str, fmt: str, out: Path | str, data: Path | str | None = None) -> ExportResult:
    """Export the run's model as `fmt` into `out`, after checking the export against the Keras model.

    `data` is a folder of images for the check (default: the run's own dataset). Every failure is a
    DatasetError of one sentence, and then nothing is written to `out` (a folder this call created is removed).
    """
    check_format(fmt)
    run = load_run(run_folder)
    images = _check_images(run, data)
    out = Path(out).expanduser()
    created = not os.path.lexists(out)
    claim_output(out, [], "exported model", fresh=True)  # refuse a folder of the user's before the slow part
    try:
        with tempfile.TemporaryDirectory(prefix="seg-desktop-export-") as tmp:
            staging = Path(tmp)
            _EXPORTERS[fmt](run, staging)
            with _on_cpu():
                parity = _PARITY[fmt](run, staging / _MODEL_FILE[fmt], images)
            if not parity.ok:
                raise _mismatch(run, fmt, parity)
            (staging / "model.json").write_text(json.dumps(model_info(run, fmt, parity), indent=2),
                                                encoding="utf-8")
            for name in ("predict.py", _LAYERS_FILE) if fmt == "keras" else ("predict.py",):
                (staging / name).write_bytes(_SOURCES[name].read_bytes())
            files = _write_out(staging, out)
    except OSError as exc:  # the temporary folder's disk is full, or not writable
        _remove_if_unused(out, created)
        where = exc.filename or tempfile.gettempdir()
        raise DatasetError(write_failure(exc, where, ", so nothing was exported (it is made in TMPDIR first)"),
                           out) from None
    except BaseException:
        _remove_if_unused(out, created)
        raise
    return ExportResult(out, fmt, files, parity)


def _mismatch(run: LoadedRun, fmt: str, parity: Parity) -> DatasetError:
    """The sentence for an export that reads back but predicts differently; SegNet in ONNX has a known cause."""
    why, advice = "", "export as another format and report this"
    if fmt == "onnx" and run.config.model == "segnet":
        # Measured on camvid-mini: 1e-7 relative noise on the input moves the Keras SegNet's own probabilities by
        # up to 0.09, as much as ONNX Runtime's rounding does; the argmax still agreed on 99.97 % of pixels.
        why = ("; SegNet's unpooling puts each value where its pooling window's maximum was, and where two values "
               "of a window differ by rounding error only, ONNX Runtime and TensorFlow choose different places")
        advice = "export it as savedmodel or keras instead"
    return DatasetError(f"The {fmt} export of {display_path(run.model_file)} does not predict like the Keras model "
                        f"({parity}; allowed {MAX_ABS_DIFF:g} and {100 * MIN_AGREEMENT:g} %), so it was not "
                        f"written{why}; {advice}.", run.model_file)


def model_info(run: LoadedRun, fmt: str, parity: Parity) -> dict:
    """model.json: what a program needs to feed the model and read its output, and the check's figures."""
    h, w = run.config.size
    k = run.num_classes
    return {
        "format": fmt,
        "file": _MODEL_FILE[fmt],
        "model": run.config.model,
        "input": {"name": "image", "shape": [None, h, w, 3], "layout": "NHWC", "dtype": "float32",
                  "size": [h, w], "channels": "RGB"},
        "normalisation": {"scale": 1 / 255, "offset": 0.0, "formula": "pixel / 255 (uint8 RGB to [0, 1])"},
        "resize": "to the input size, area averaging when shrinking and bilinear when enlarging; the output "
                  "probabilities bilinearly back to the image's size, then the argmax",
        "output": {"shape": [None, h, w, k], "meaning": "softmax probabilities per class (last axis)"},
        "classes": [{"index": c.index, "name": c.name, "color": list(c.color)}
                    for c in run.classes.classes if c.index < k],
        "ignore_index": run.config.ignore_index,
        "verified": asdict(parity) | {"max_abs_diff_allowed": MAX_ABS_DIFF, "min_agreement": MIN_AGREEMENT},
    }


# ---------------------------------------------------------------- the check's images


def _check_images(run: LoadedRun, data: Path | str | None) -> np.ndarray:
    """Up to CHECK_IMAGES real images (the run's dataset, or `data`) as a float32 batch at the training size."""
    folder = Path(data).expanduser() if data is not None else Path(run.config.data)
    advice = "pass a folder of a few images to check the export with (--data)"
    try:
        dataset = open_dataset(folder)
    except DatasetError:
        raise DatasetError(f"The export is checked on real images, but {display_path(folder)} cannot be opened; "
                           f"{advice}.", folder) from None
    images = []
    for sample in dataset.samples:
        with contextlib.suppress(DatasetError):
            images.append(prepare_image(dataset.read_image(sample), run.config.size))
        if len(images) == CHECK_IMAGES:
            break
    if not images:
        raise DatasetError(f"{display_path(folder)} holds no readable image to check the export on; {advice}.",
                           folder)
    return np.stack(images)


# ---------------------------------------------------------------- writing each format


def _signature(run: LoadedRun) -> list:
    import keras

    h, w = run.config.size
    return [keras.InputSpec(shape=(None, h, w, 3), dtype="float32", name="image")]


def _export_keras(run: LoadedRun, staging: Path) -> None:
    (staging / _MODEL_FILE["keras"]).write_bytes(run.model_file.read_bytes())


def _export_savedmodel(run: LoadedRun, staging: Path) -> None:
    run.model.export(str(staging / _MODEL_FILE["savedmodel"]), format="tf_saved_model",
                     input_signature=_signature(run), verbose=False)


def _export_onnx(run: LoadedRun, staging: Path) -> None:
    from .quiet import native_stderr_silenced

    path = staging / _MODEL_FILE["onnx"]
    logging.getLogger("tf2onnx").setLevel(logging.CRITICAL)  # its "op is not supported" lines: said below
    try:
        with warnings.catch_warnings(), native_stderr_silenced():
            warnings.simplefilter("ignore")
            run.model.export(str(path), format="onnx", input_signature=_signature(run), verbose=False)
    except Exception as exc:  # tf2onnx raises many types for a graph it cannot convert
        raise _unsupported(run, " ".join(str(exc).split())[:200] or type(exc).__name__) from None
    import onnx

    # tf2onnx keeps an op it cannot convert as a node of that TensorFlow name, which no ONNX runtime can run
    unknown = sorted({node.op_type for node in onnx.load(str(path)).graph.node
                      if node.domain in ("", "ai.onnx") and not onnx.defs.has(node.op_type, node.domain)})
    if unknown:
        raise _unsupported(run, f"ONNX has no {', '.join(unknown)} operation")


def _unsupported(run: LoadedRun, reason: str) -> DatasetError:
    return DatasetError(f"The {run.config.model} model of {display_path(run.model_file)} cannot be exported to ONNX "
                        f"({reason}); export it as savedmodel or keras instead.", run.model_file)


_EXPORTERS: dict[str, Callable[[LoadedRun, Path], None]] = {
    "keras": _export_keras, "savedmodel": _export_savedmodel, "onnx": _export_onnx}


# ---------------------------------------------------------------- reading each format back


@contextlib.contextmanager
def _on_cpu():
    """Compare on the CPU in float32: a GPU may run the Keras model in TensorFloat-32 (10-bit mantissa), whose
    rounding, not the export, would then be measured."""
    import tensorflow as tf

    with tf.device("/CPU:0"):
        yield


def _parity(run: LoadedRun, images: np.ndarray, predict: Callable[[np.ndarray], np.ndarray]) -> Parity:
    worst, same, pixels = 0.0, 0, 0
    for image in images:  # one at a time: a full-size model's batch of eight may not fit
        batch = image[None]
        expected = np.asarray(run.model(batch, training=False), dtype=np.float32)
        got = np.asarray(predict(batch), dtype=np.float32)
        if got.shape != expected.shape:
            raise DatasetError(f"The export of {display_path(run.model_file)} gives output of shape {got.shape} "
                               f"instead of {expected.shape}, so it was not written; report this.", run.model_file)
        worst = max(worst, float(np.abs(got - expected).max()))
        same += int((got.argmax(-1) == expected.argmax(-1)).sum())
        pixels += expected.shape[1] * expected.shape[2]
    return Parity(len(images), pixels, worst, same / pixels)


def _parity_keras(run: LoadedRun, path: Path, images: np.ndarray) -> Parity:
    import keras

    model = keras.saving.load_model(path, compile=False, safe_mode=True)
    return _parity(run, images, lambda batch: model(batch, training=False))


def _parity_savedmodel(run: LoadedRun, path: Path, images: np.ndarray) -> Parity:
    import tensorflow as tf

    loaded = tf.saved_model.load(str(path))  # held: its functions need the object's variables alive
    return _parity(run, images, lambda batch: loaded.serve(tf.constant(batch)).numpy())


def _parity_onnx(run: LoadedRun, path: Path, images: np.ndarray) -> Parity:
    import onnxruntime

    try:
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime's own error types, e.g. an opset newer than it knows
        raise _unsupported(run, " ".join(str(exc).split())[:200]) from None
    name = session.get_inputs()[0].name
    return _parity(run, images, lambda batch: session.run(None, {name: batch})[0])


_PARITY: dict[str, Callable[[LoadedRun, Path, np.ndarray], Parity]] = {
    "keras": _parity_keras, "savedmodel": _parity_savedmodel, "onnx": _parity_onnx}


# ---------------------------------------------------------------- into the output folder


def _write_out(staging: Path, out: Path) -> list[Path]:
    """Copy every staged file into `out` through the write guard (all names checked before the first write)."""
    names = sorted(p.relative_to(staging).as_posix() for p in staging.rglob("*") if p.is_file())
    output = claim_output(out, names, "exported model", fresh=True)
    written = [output.write_bytes(name, (staging / name).read_bytes()) for name in names]
    output.finish()
    return written


def _remove_if_unused(out: Path, created: bool) -> None:
    """Remove the output folder this export created when it holds nothing but the write guard's manifest."""
    if not created:
        return
    with contextlib.suppress(OSError):
        if os.listdir(out) == [MANIFEST]:
            os.unlink(out / MANIFEST)
            os.rmdir(out)
