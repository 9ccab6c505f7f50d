"""A synthetic segmentation dataset: overlapping shapes of four classes on textured backgrounds.

It lets a new user try every part of the app (label, train, compare, export) without data of their own, and
gives the tests and benchmarks a realistic, deterministic dataset. It is made to be learnable but not by a
colour threshold: each class has a colour tendency (hue jittered, saturation and brightness varied, sometimes
washed out) and a texture tendency, backgrounds are tinted gradients with blotches and stray coloured lines,
and shapes overlap, rotate and vary in size, so a model has to use shape and context as well as colour.
"""

from __future__ import annotations

import io
import os
import shutil
import tempfile
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from .classes import ClassInfo, ClassSet, classes_csv
from .errors import DatasetError
from .writeguard import claim_output

SAMPLE_CLASSES = ClassSet(
    [
        ClassInfo(0, "background", (0, 0, 0)),
        ClassInfo(1, "disc", (230, 25, 75)),
        ClassInfo(2, "rectangle", (60, 180, 75)),
        ClassInfo(3, "triangle", (0, 130, 200)),
        ClassInfo(4, "ring", (255, 225, 25)),
    ],
    ignore_index=None,
    source="classes.csv",
)

# Hue tendency (degrees) of each shape class in the images; jittered per shape by HUE_JITTER.
_HUES = {1: 0.0, 2: 100.0, 3: 200.0, 4: 280.0}
_HUE_JITTER = 15.0
_SAMPLE_VERSION = "sample-v1"


def make_sample_dataset(out_dir: Path | str, n: int = 40, size: int = 128, seed: int = 0) -> Path:
    """Write `n` images (`images/sample_000.png`, RGB) and index masks (`masks/…`, mode L) plus `classes.csv`.

    The same (n, size, seed) gives the same bytes; image i depends only on (seed, i), so a larger n extends a
    smaller set rather than reshuffling it. The folder must be new, empty or an earlier sample's (the write guard
    refuses anything else before writing, so a dataset of the user's is never touched), and a file of an earlier
    sample that was edited since is not replaced.
    """
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    if size < 16:
        raise ValueError(f"size must be at least 16 pixels, got {size}")
    names = [f"{kind}/sample_{i:03d}.png" for i in range(n) for kind in ("images", "masks")] + ["classes.csv"]
    output = claim_output(out_dir, names, "sample dataset", fresh=True)
    for i in range(n):
        image, mask = _sample(np.random.default_rng([seed, i]), size, i)
        output.write_bytes(f"images/sample_{i:03d}.png", _png(Image.fromarray(image, "RGB")))
        output.write_bytes(f"masks/sample_{i:03d}.png", _png(Image.fromarray(mask, "L")))
    output.write_bytes("classes.csv", classes_csv(SAMPLE_CLASSES))
    output.finish()
    return output.folder


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def sample_dataset_dir() -> Path:
    """The built-in sample dataset (the app's default), built once under the user cache folder.

    The cache is `$SEG_DESKTOP_CACHE`, else `$XDG_CACHE_HOME/seg-desktop`, else `~/.cache/seg-desktop`. The set
    is generated in a temporary folder beside it and renamed into place, so a crash or a second instance never
    leaves a half-written dataset behind.
    """
    env = os.environ.get("SEG_DESKTOP_CACHE")
    root = Path(env) if env else Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "seg-desktop"
    target = root / _SAMPLE_VERSION
    if (target / "classes.csv").is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{_SAMPLE_VERSION}.", dir=root))
    try:
        make_sample_dataset(tmp)
        if target.exists() and not (target / "classes.csv").is_file():
            shutil.rmtree(target, ignore_errors=True)  # an incomplete leftover of ours
        tmp.rename(target)
    except OSError:
        if not (target / "classes.csv").is_file():
            raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # only still there if another instance published first
    return target


def _sample(rng: np.random.Generator, size: int, index: int) -> tuple[np.ndarray, np.ndarray]:
    """One (image, mask) pair: background, 3-6 overlapping shapes painted in order, blur and noise."""
    image = _background(rng, size)
    mask = np.zeros((size, size), np.uint8)
    count = int(rng.integers(3, 7))
    for k in range(count):
        # the first shapes cycle through the classes so every class appears even in a handful of images
        cls = 1 + (index + k) % 4 if k < 3 else int(rng.integers(1, 5))
        region = _shape(rng, size, cls)
        image[region] = _texture(rng, size, cls)[region]
        mask[region] = cls
    image = cv2.GaussianBlur(image, (0, 0), 0.7)
    image += rng.normal(0.0, 0.03, image.shape).astype(np.float32)
    return (np.clip(image, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8), mask


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    pixel = np.array([[[h % 360.0, s, v]]], np.float32)
    return cv2.cvtColor(pixel, cv2.COLOR_HSV2RGB)[0, 0]


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A tinted, mostly grey gradient with soft blotches and a few thin lines of any colour (float RGB 0..1)."""
    c0 = _hsv_to_rgb(rng.uniform(0, 360), rng.uniform(0.0, 0.25), rng.uniform(0.2, 0.7))
    c1 = _hsv_to_rgb(rng.uniform(0, 360), rng.uniform(0.0, 0.25), rng.uniform(0.2, 0.7))
    angle = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / size
    t = np.clip(0.5 + (xx - 0.5) * np.cos(angle) + (yy - 0.5) * np.sin(angle), 0, 1)[..., None]
    image = (1 - t) * c0 + t * c1
    blotches = cv2.resize(rng.normal(0, 0.08, (6, 6, 3)).astype(np.float32), (size, size),
                          interpolation=cv2.INTER_CUBIC)
    image = image + blotches
    for _ in range(int(rng.integers(0, 3))):
        p0, p1 = rng.integers(0, size, 2), rng.integers(0, size, 2)
        colour = _hsv_to_rgb(rng.uniform(0, 360), rng.uniform(0.3, 0.9), rng.uniform(0.4, 0.9))
        cv2.line(image, (int(p0[0]), int(p0[1])), (int(p1[0]), int(p1[1])), colour.tolist(),
                 int(rng.integers(1, 3)), cv2.LINE_AA)
    return image.astype(np.float32)


def _shape(rng: np.random.Generator, size: int, cls: int) -> np.ndarray:
    """Boolean footprint of one shape of class `cls` at a random place, size and rotation."""
    canvas = np.zeros((size, size), np.uint8)
    r = rng.uniform(0.11, 0.24) * size
    cx, cy = rng.uniform(0.1, 0.9, 2) * size
    angle = rng.uniform(0, 360)
    centre = (int(round(cx)), int(round(cy)))
    if cls == 1:  # disc, slightly elliptical
        axes = (int(round(r)), int(round(r * rng.uniform(0.8, 1.0))))
        cv2.ellipse(canvas, centre, axes, angle, 0, 360, 1, -1)
    elif cls == 2:  # rotated rectangle
        box = ((cx, cy), (2 * r, 2 * r * rng.uniform(0.45, 1.0)), angle)
        cv2.fillPoly(canvas, [np.rint(cv2.boxPoints(box)).astype(np.int32)], 1)
    elif cls == 3:  # irregular triangle
        angles = np.deg2rad(angle + np.array([0, 120, 240]) + rng.uniform(-20, 20, 3))
        radii = r * rng.uniform(1.0, 1.3, 3)
        pts = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], axis=1)
        cv2.fillPoly(canvas, [np.rint(pts).astype(np.int32)], 1)
    else:  # ring
        cv2.circle(canvas, centre, int(round(r)), 1, -1)
        cv2.circle(canvas, centre, int(round(r * rng.uniform(0.45, 0.65))), 0, -1)
    return canvas.astype(bool)


def _texture(rng: np.random.Generator, size: int, cls: int) -> np.ndarray:
    """Full-size float RGB fill for a shape: the class's jittered colour with its texture tendency."""
    hue = _HUES[cls] + rng.uniform(-_HUE_JITTER, _HUE_JITTER)
    colour = _hsv_to_rgb(hue, rng.uniform(0.5, 0.95), rng.uniform(0.55, 0.95))
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    if cls == 1:  # shaded: brighter towards a light spot
        lx, ly = rng.uniform(0, size, 2)
        shade = 1.15 - 0.5 * np.hypot(xx - lx, yy - ly) / size
    elif cls == 2:  # stripes in a random direction
        theta, period = rng.uniform(0, np.pi), rng.uniform(4, 9)
        shade = 1.0 + 0.18 * np.sin(2 * np.pi * (xx * np.cos(theta) + yy * np.sin(theta)) / period)
    elif cls == 3:  # speckled
        shade = 1.0 + rng.normal(0, 0.12, (size, size)).astype(np.float32)
    else:  # flat
        shade = np.ones((size, size), np.float32)
    return (shade[..., None] * colour).astype(np.float32)
