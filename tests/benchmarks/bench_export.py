"""Deployable models: parity of each export with the Keras model, and inference time per image.

Run with the project's Python (not collected by pytest; about 2 minutes on 2 cores):
    .venv/bin/python tests/benchmarks/bench_export.py [--epochs 4] [--size 90x120]

A small UNet (base filters 8) and SegNet (width 0.125) are trained briefly on ../shared/data/camvid-mini (real
road scenes, 12 classes with a void class) at a size that is not a multiple of 16, then exported as keras,
savedmodel and onnx. For each: the export's own read-back check (max probability difference and argmax
agreement against the Keras model, on the run's images), the export time, and the mean time to predict one image
with the exported runtime; the baseline, measured in the same run, is the Keras model called on the same image.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from seg_desktop.core.dataset import open_dataset
from seg_desktop.core.errors import DatasetError
from seg_desktop.ml.config import TrainConfig, parse_size
from seg_desktop.ml.export import FORMATS, export_model, missing_onnx_packages
from seg_desktop.ml.predict import load_run
from seg_desktop.ml.preprocess import prepare_image
from seg_desktop.ml.train import train

DATA = Path(__file__).resolve().parents[3] / "shared" / "data" / "camvid-mini"
REPEATS = 5


def _runtime(folder: Path, fmt: str):
    """A function from a float32 batch to probabilities, loaded the way predict.py loads the export."""
    if fmt == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return lambda batch: session.run(None, {name: batch})[0]
    import tensorflow as tf

    if fmt == "savedmodel":
        loaded = tf.saved_model.load(str(folder / "saved_model"))
        return lambda batch: loaded.serve(tf.constant(batch)).numpy()
    import keras

    model = keras.saving.load_model(folder / "model.keras", compile=False)
    return lambda batch: np.asarray(model(batch, training=False))


def _seconds_per_image(predict, images: np.ndarray) -> float:
    predict(images[:1])  # warm-up: graph tracing, session start
    start = time.perf_counter()
    for _ in range(REPEATS):
        for image in images:
            predict(image[None])
    return (time.perf_counter() - start) / (REPEATS * len(images))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--size", default="90x120", help="training size, HxW")
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"skipped: {DATA} is not there")
        return 0
    formats = [f for f in FORMATS if f != "onnx" or not missing_onnx_packages()]
    size = parse_size(args.size)
    dataset = open_dataset(DATA)
    images = np.stack([prepare_image(dataset.read_image(s), size) for s in dataset.samples[:8]])
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for model, options in (("unet", {"base_filters": 8}), ("segnet", {"width": 0.125})):
            config = TrainConfig(data=str(DATA), model=model, size=size, epochs=args.epochs, batch=4,
                                 augment=False, min_epoch_images=32, out=str(Path(tmp) / model), **options)
            started = time.perf_counter()
            run_folder = train(config).folder
            print(f"trained {model} {args.size} for {args.epochs} epochs in {time.perf_counter() - started:.0f} s",
                  flush=True)
            keras_model = load_run(run_folder).model
            baseline = _seconds_per_image(lambda b: np.asarray(keras_model(b, training=False)), images)
            for fmt in formats:
                started = time.perf_counter()
                try:
                    result = export_model(run_folder, fmt, Path(tmp) / f"{model}-{fmt}")
                except DatasetError as exc:  # the read-back check refused it: that is a result too
                    print(f"{model} {fmt} refused: {exc}", flush=True)
                    continue
                seconds = time.perf_counter() - started
                per_image = _seconds_per_image(_runtime(result.folder, fmt), images)
                size_mb = sum(p.stat().st_size for p in result.files) / 2**20
                rows.append((model, fmt, result.parity, seconds, per_image, baseline, size_mb))
                print(json.dumps({"model": model, "format": fmt, "max_abs_diff": result.parity.max_abs_diff,
                                  "argmax_agreement": result.parity.argmax_agreement}), flush=True)
    print(f"\n{'model':7} {'format':10} {'max |dp|':>9} {'argmax same':>12} {'pixels':>7} {'export s':>8} "
          f"{'ms/image':>8} {'vs keras':>8} {'MB':>6}")
    for model, fmt, parity, seconds, per_image, baseline, size_mb in rows:
        print(f"{model:7} {fmt:10} {parity.max_abs_diff:9.2e} {100 * parity.argmax_agreement:11.4f}% "
              f"{parity.pixels:7d} {seconds:8.1f} {1000 * per_image:8.2f} {per_image / baseline:7.2f}x "
              f"{size_mb:6.2f}")
    print(f"(baseline: the Keras model called on one image; {REPEATS} passes over {len(images)} camvid-mini images)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
