"""Predict segmentation masks with a model exported by `seg-desktop export` — no seg-desktop needed.

    python predict.py IMAGE_OR_FOLDER [...] --out DIR [--color]

Needs numpy and Pillow, plus onnxruntime (model.onnx), tensorflow (saved_model/) or tensorflow with keras 3
(model.keras, which also needs custom_layers.py from the same folder). model.json beside this script says
how the model was trained: every image is resized to its input size, scaled to [0, 1], and the class
probabilities are resized back to the image's own size before the argmax, so each mask has its image's size.
Writes DIR/STEM.png per image: class indices (mode L), or the class colours with --color. Existing files are
never replaced.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from PIL import Image

HERE = Path(__file__).resolve().parent
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp"}


def load_model(folder: Path = HERE):
    """(model.json as a dict, a function from a float32 NHWC batch to float32 NHWC softmax probabilities)."""
    info = json.loads((folder / "model.json").read_text(encoding="utf-8"))
    path = folder / info["file"]
    if info["format"] == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        return info, lambda batch: session.run(None, {name: batch})[0]
    if info["format"] == "savedmodel":
        import tensorflow as tf

        loaded = tf.saved_model.load(str(path))  # held: its functions need the object's variables alive
        return info, lambda batch: loaded.serve(tf.constant(batch)).numpy()
    sys.path.insert(0, str(folder))
    import keras
    import custom_layers  # noqa: F401  registers the model's custom layers with Keras

    model = keras.saving.load_model(path, compile=False, safe_mode=True)
    return info, lambda batch: np.asarray(model(batch, training=False))


def _linear_taps(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bilinear sampling along one axis, pixel centres aligned and edges clamped: (low, high, weight of high)."""
    pos = np.maximum((np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5, 0)
    low = np.floor(pos).astype(np.intp)
    return np.minimum(low, n_in - 1), np.minimum(low + 1, n_in - 1), (pos - low).astype(np.float32)


def _area_taps(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """OpenCV's INTER_AREA sampling for a resize that enlarges along some axis (nearest, blended at cell edges)."""
    scale = n_in / n_out
    out = np.arange(n_out)
    low = np.floor(out * scale).astype(np.intp)
    frac = (out + 1) - (low + 1) / scale
    frac = np.where(frac <= 0, 0, frac - np.floor(frac)).astype(np.float32)
    return np.minimum(low, n_in - 1), np.minimum(low + 1, n_in - 1), frac


def _sample(array: np.ndarray, h: int, w: int, taps=_linear_taps) -> np.ndarray:
    """float32 (H0, W0, C) -> (h, w, C), each output a blend of two neighbours per axis chosen by `taps`."""
    y0, y1, fy = taps(h, array.shape[0])
    x0, x1, fx = taps(w, array.shape[1])
    rows = array[y0] * (1 - fy)[:, None, None] + array[y1] * fy[:, None, None]
    return rows[:, x0] * (1 - fx)[None, :, None] + rows[:, x1] * fx[None, :, None]


def _coverage(n_out: int, n_in: int) -> np.ndarray:
    """(n_out, n_in) weights: how much of each output cell each input pixel covers, rows summing to 1."""
    edges = np.arange(n_out + 1) * (n_in / n_out)
    pixels = np.arange(n_in)
    overlap = np.minimum(edges[1:, None], pixels + 1) - np.maximum(edges[:-1, None], pixels)
    return np.maximum(overlap, 0).astype(np.float32) * (n_out / n_in)


def resize(array: np.ndarray, h: int, w: int) -> np.ndarray:
    """float32 (H0, W0, C) -> (h, w, C) by training's rule (OpenCV's): area averaging when the image gets
    smaller, bilinear interpolation otherwise."""
    if h * w >= array.shape[0] * array.shape[1]:
        return _sample(array, h, w)
    if h > array.shape[0] or w > array.shape[1]:  # smaller overall but larger along one axis
        return _sample(array, h, w, _area_taps)
    rows = np.einsum("ij,jkc->ikc", _coverage(h, array.shape[0]), array)
    return np.einsum("lk,ikc->ilc", _coverage(w, array.shape[1]), rows)


def prepare(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """RGB image -> float32 (H, W, 3) in [0, 1] at the model's input size (resized, rounded to whole levels)."""
    h, w = size
    pixels = np.asarray(image.convert("RGB"), dtype=np.float32)
    if pixels.shape[:2] != (h, w):
        pixels = np.round(resize(pixels, h, w))
    return pixels / 255.0


def predict(image: Image.Image, info: dict, run) -> np.ndarray:
    """uint8 (height, width) class indices for one image, at the image's own size."""
    size = tuple(info["input"]["size"])
    probs = np.asarray(run(prepare(image, size)[None]), dtype=np.float32)[0]
    if probs.shape[:2] != (image.height, image.width):
        probs = _sample(probs, image.height, image.width)  # bilinear, as seg-desktop does
    return probs.argmax(axis=-1).astype(np.uint8)


def colorize(mask: np.ndarray, info: dict) -> np.ndarray:
    palette = np.zeros((256, 3), np.uint8)
    for c in info["classes"]:
        palette[c["index"]] = c["color"]
    return palette[mask]


def image_files(paths: list[Path]) -> list[Path]:
    files = []
    for p in paths:
        files += sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES) if p.is_dir() else [p]
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("images", nargs="+", type=Path, help="image files or folders of images")
    parser.add_argument("--out", type=Path, required=True, help="folder for one mask PNG per image")
    parser.add_argument("--color", action="store_true", help="write class colours instead of class indices")
    args = parser.parse_args(argv)
    info, run = load_model()
    args.out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for path in image_files(args.images):
        dest = args.out / f"{path.stem}.png"
        try:
            with Image.open(path) as image:
                mask = predict(image, info, run)
            if dest.exists():
                raise FileExistsError(f"{dest} already exists")
            Image.fromarray(colorize(mask, info) if args.color else mask).save(dest)
        except (OSError, ValueError) as exc:
            print(f"skipped {path}: {exc}", file=sys.stderr)
            failed += 1
            continue
        print(dest)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
