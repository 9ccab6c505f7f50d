"""Time one brush segment on a 4096x4096 mask: the windowed `stroke` against a full-mask baseline.

Run with the project's Python (not collected by pytest):  .venv/bin/python tests/benchmarks/bench_edits.py
The baseline is what a naive undo-friendly brush does per segment: copy the whole mask for undo, draw the
segment on a full-size canvas and write it back. Both run on the same points in the same process.
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from seg_desktop.core.edits import stroke

SIZE = 4096
SEGMENTS = 300


def mouse_path(rng: np.random.Generator, n: int) -> list[tuple[int, int]]:
    """A drag of n+1 points with steps of 5-40 px, as a fast mouse produces them."""
    steps = rng.normal(0, 15, size=(n, 2))
    path = np.cumsum(np.vstack([[SIZE / 2, SIZE / 2], steps]), axis=0).clip(0, SIZE - 1)
    return [(int(x), int(y)) for x, y in path]


def windowed(mask: np.ndarray, path: list[tuple[int, int]], radius: int) -> None:
    for i, (a, b) in enumerate(zip(path, path[1:])):
        stroke(mask, [a, b], radius, 1 + i % 3)


def full_mask(mask: np.ndarray, path: list[tuple[int, int]], radius: int) -> None:
    for i, (a, b) in enumerate(zip(path, path[1:])):
        before = mask.copy()  # undo snapshot
        canvas = np.zeros_like(mask)
        cv2.line(canvas, a, b, 1, 2 * radius)
        cv2.circle(canvas, a, radius, 1, -1)
        cv2.circle(canvas, b, radius, 1, -1)
        mask[canvas > 0] = 1 + i % 3
        del before


def best_ms_per_segment(fn, path: list[tuple[int, int]], radius: int, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        mask = np.zeros((SIZE, SIZE), np.uint8)
        start = time.perf_counter()
        fn(mask, path, radius)
        best = min(best, time.perf_counter() - start)
    return 1000 * best / (len(path) - 1)


def main() -> None:
    rng = np.random.default_rng(0)
    print(f"mask {SIZE}x{SIZE} uint8, {SEGMENTS} segments per drag, best of 3")
    for radius in (5, 40):
        path = mouse_path(rng, SEGMENTS)
        fast = best_ms_per_segment(windowed, path, radius)
        base = best_ms_per_segment(full_mask, path[:31], radius)
        print(
            f"radius {radius:>2}: stroke {fast:.3f} ms/segment, full-mask baseline {base:.2f} ms/segment, "
            f"{base / fast:.0f}x faster"
        )


if __name__ == "__main__":
    main()
