"""Synthetic street scenes with gravity and thin classes, for the quality benchmarks (not product code).

Sky above a horizon, buildings standing on it, a road in perspective below with pavements, cars on the road, and
the rare thin classes a street model loses first: poles (1-3 px wide) with signs on them and pedestrians. Colours
are jittered per image, textures and noise added, so a colour threshold does not solve it. Image i depends only on
(seed, i). Classes and their share of pixels at 180x240 (measured over 200 images): sky 19 %, building 26 %,
road 28 %, pavement 22 %, car 3.2 %, pole 1.0 %, sign 0.24 %, pedestrian 0.75 %.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

CLASSES = ["sky", "building", "road", "pavement", "car", "pole", "sign", "pedestrian"]
_BASE = {0: (200, 170, 120), 1: (120, 110, 130), 2: (90, 90, 95), 3: (150, 140, 125), 4: (40, 60, 170),
         5: (70, 70, 60), 6: (40, 160, 220), 7: (60, 90, 40)}  # BGR tendencies


def _colour(rng: np.random.Generator, label: int) -> tuple[int, int, int]:
    base = np.array(_BASE[label], float) + rng.normal(0, 25, 3)
    return tuple(int(v) for v in np.clip(base, 0, 255))


def scene(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """One (image BGR uint8, mask uint8) street scene."""
    image = np.zeros((h, w, 3), np.uint8)
    mask = np.zeros((h, w), np.uint8)
    horizon = int(h * rng.uniform(0.38, 0.55))
    top = np.array(_colour(rng, 0), float)
    for y in range(horizon):  # sky gradient
        image[y] = np.clip(top * (0.8 + 0.3 * y / max(1, horizon)), 0, 255)
    x = int(rng.integers(-20, 10))
    while x < w:  # buildings on the horizon
        bw, bh = int(rng.integers(w // 10, w // 3)), int(rng.integers(horizon // 3, horizon))
        colour = _colour(rng, 1)
        cv2.rectangle(image, (x, horizon - bh), (x + bw, horizon), colour, -1)
        cv2.rectangle(mask, (x, horizon - bh), (x + bw, horizon), 1, -1)
        for wy in range(horizon - bh + 4, horizon - 4, 9):  # windows
            for wx in range(x + 3, x + bw - 3, 8):
                if rng.random() < 0.6:
                    cv2.rectangle(image, (wx, wy), (wx + 3, wy + 4), tuple(int(c * 0.5) for c in colour), -1)
        x += bw + int(rng.integers(0, w // 12))
    road_colour, pave_colour = _colour(rng, 2), _colour(rng, 3)
    image[horizon:], mask[horizon:] = pave_colour, 3
    vanish = int(w * rng.uniform(0.35, 0.65))
    road = np.array([[vanish - 4, horizon], [vanish + 4, horizon], [int(w * 1.05), h], [int(-w * 0.05), h]], np.int32)
    cv2.fillPoly(image, [road], road_colour)
    cv2.fillPoly(mask, [road], 2)
    for _ in range(int(rng.integers(0, 4))):  # cars, larger nearer the bottom
        y = int(rng.uniform(horizon + 8, h - 4))
        scale = (y - horizon) / max(1, h - horizon)
        cw, ch = int(10 + 60 * scale), int(6 + 30 * scale)
        cx = int(vanish + (rng.uniform(-0.5, 0.5)) * w * scale)
        colour = _colour(rng, 4)
        cv2.rectangle(image, (cx - cw // 2, y - ch), (cx + cw // 2, y), colour, -1)
        cv2.rectangle(image, (cx - cw // 3, y - ch), (cx + cw // 3, y - ch * 2 // 3), (40, 40, 40), -1)
        cv2.rectangle(mask, (cx - cw // 2, y - ch), (cx + cw // 2, y), 4, -1)
    for _ in range(int(rng.integers(1, 4))):  # poles with signs, standing on the pavement
        side = rng.choice([-1, 1])
        y0 = int(rng.uniform(horizon + 5, h))
        scale = (y0 - horizon) / max(1, h - horizon)
        px = int(np.clip(vanish + side * (0.2 + 0.5 * scale) * w, 2, w - 3))
        length, thick = int(20 + 90 * scale), max(1, int(round(1 + 2 * scale)))
        colour = _colour(rng, 5)
        cv2.line(image, (px, y0), (px, y0 - length), colour, thick)
        cv2.line(mask, (px, y0), (px, y0 - length), 5, thick)
        if rng.random() < 0.7:
            s = max(3, int(4 + 10 * scale))
            centre = (px, y0 - length)
            sign_colour = _colour(rng, 6)
            if rng.random() < 0.5:
                cv2.circle(image, centre, s // 2 + 1, sign_colour, -1)
                cv2.circle(mask, centre, s // 2 + 1, 6, -1)
            else:
                cv2.rectangle(image, (px - s // 2, y0 - length - s), (px + s // 2, y0 - length), sign_colour, -1)
                cv2.rectangle(mask, (px - s // 2, y0 - length - s), (px + s // 2, y0 - length), 6, -1)
    for _ in range(int(rng.integers(0, 4))):  # pedestrians on the pavement
        y0 = int(rng.uniform(horizon + 5, h))
        scale = (y0 - horizon) / max(1, h - horizon)
        side = rng.choice([-1, 1])
        px = int(np.clip(vanish + side * (0.15 + 0.45 * scale) * w + rng.normal(0, 6), 3, w - 4))
        ph = int(8 + 40 * scale)
        pw = max(2, ph // 4)
        colour = _colour(rng, 7)
        cv2.ellipse(image, (px, y0 - ph // 2), (pw // 2 + 1, ph // 2), 0, 0, 360, colour, -1)
        cv2.ellipse(mask, (px, y0 - ph // 2), (pw // 2 + 1, ph // 2), 0, 0, 360, 7, -1)
    noise = rng.normal(0, 10, image.shape)
    image = np.clip(image.astype(float) + noise, 0, 255).astype(np.uint8)
    image = cv2.GaussianBlur(image, (3, 3), 0.6)
    gain = rng.uniform(0.7, 1.2)
    return np.clip(image.astype(float) * gain, 0, 255).astype(np.uint8), mask


def write_scenes(out: Path, n: int, h: int = 180, w: int = 240, seed: int = 0, test: int = 0) -> Path:
    """`n` training scenes in images/ + masks/ (and `test` more in a camvid-like test split when asked: the
    `images_prepped_*` layout, so the dataset's own split holds them out) with a classes.csv; returns `out`."""
    if test:
        folders = {"train": ("images_prepped_train", "annotations_prepped_train"),
                   "test": ("images_prepped_test", "annotations_prepped_test")}
    else:
        folders = {"train": ("images", "masks")}
    for split, (images, masks) in folders.items():
        (out / images).mkdir(parents=True, exist_ok=True)
        (out / masks).mkdir(parents=True, exist_ok=True)
        count, offset = (n, 0) if split == "train" else (test, 10_000)
        for i in range(count):
            rng = np.random.default_rng([seed, offset + i])
            image, mask = scene(rng, h, w)
            cv2.imwrite(str(out / images / f"scene_{offset + i:05d}.png"), image)
            cv2.imwrite(str(out / masks / f"scene_{offset + i:05d}.png"), mask)
    (out / "classes.csv").write_text("index,name,r,g,b\n" + "".join(
        f"{i},{c},{b},{g},{r}\n" for i, (c, (b, g, r)) in enumerate(zip(CLASSES, _BASE.values()))))
    return out


if __name__ == "__main__":
    import sys

    folder = write_scenes(Path(sys.argv[1]), 200)
    masks = np.stack([cv2.imread(str(p), 0) for p in sorted((folder / "masks").glob("*.png"))])
    share = np.bincount(masks.ravel(), minlength=len(CLASSES)) / masks.size
    print({c: round(float(s) * 100, 2) for c, s in zip(CLASSES, share)})
