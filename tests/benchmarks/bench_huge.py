"""Huge images (issue 11 item 5): predicting one 8,000x8,000 image, and a 10,000x10,000 image in the editor.

Run with the project's Python (not collected by pytest):
    QT_QPA_PLATFORM=offscreen .venv/bin/python tests/benchmarks/bench_huge.py [--predict-side 8000] [--side 10000]
Each measurement runs in its own child process, so its peak RSS (ru_maxrss) is its own.

- predict: an untrained 4-filter UNet run (the model's size does not change what is held per pixel) predicts one
  side x side RGB image with `LoadedRun.predict` (blocks within SEG_DESKTOP_PREDICT_MEMORY_MB), as
  `seg-desktop predict` does (no probabilities kept). Baseline, same process: the RSS after TensorFlow, the model
  and the image are loaded; reported against the whole float32 probability volume it never holds.
- editor: the real MaskEditor (1280x900) opens a side x side image read from a PNG (decode + display), then:
  a full repaint fitted to the window, a full repaint at 1:1, and brush segments (real mouse moves) at both
  zooms. Baseline, same run: the same editor with the display pyramid switched off (PYRAMID_MIN_SIDE huge).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

VIEW = (1280, 900)


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _current_rss_mb() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024.0


def _synthetic(side: int):
    """A smooth RGB scene with texture and a few shapes (compresses like a real photo, unlike noise)."""
    import numpy as np

    image = np.empty((side, side, 3), np.uint8)
    ramp = (np.arange(side, dtype=np.uint32) * 255 // side).astype(np.uint8)
    image[..., 0] = ramp[None, :]
    image[..., 1] = ramp[:, None]
    image[..., 2] = (np.arange(side) % 97).astype(np.uint8)[:, None] + (np.arange(side) % 89).astype(np.uint8)
    for i in range(20):
        y, x = (i * 7919) % (side - side // 10), (i * 104729) % (side - side // 10)
        image[y: y + side // 20, x: x + side // 20] = (20 + 10 * i, 200 - 5 * i, 90)
    return image


# ------------------------------------------------------------------ children


def child_predict(side: int, workdir: Path) -> dict:
    import numpy as np

    from seg_desktop.core.dataset import open_dataset
    from seg_desktop.core.sample_data import make_sample_dataset
    from seg_desktop.ml.predict import load_run, memory_budget
    from seg_desktop.ml.quiet import start_tensorflow_quietly
    from tests.helpers import make_untrained_run

    start_tensorflow_quietly()
    workdir.mkdir(parents=True, exist_ok=True)
    data = make_sample_dataset(workdir / "data", n=4, size=32)
    run = load_run(make_untrained_run(workdir / "run", open_dataset(data)))
    image = _synthetic(side)
    run.predict(image[:256, :256], probabilities=False)  # warm-up: traced once
    baseline = _current_rss_mb()
    t = time.perf_counter()
    prediction = run.predict(image, probabilities=False)
    seconds = time.perf_counter() - t
    mask = np.asarray(prediction.mask)
    k = run.config.num_classes
    return {"side": side, "seconds": seconds, "peak_rss_mb": _rss_mb(), "baseline_rss_mb": baseline,
            "float32_volume_mb": side * side * k * 4 / 2**20, "image_mb": image.nbytes / 2**20,
            "budget_mb": memory_budget() / 2**20, "mask_shape": list(mask.shape), "classes": k}


def child_editor(side: int, png: Path, pyramid: bool) -> dict:
    import numpy as np
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication

    from seg_desktop.core.classes import inferred_classes
    from seg_desktop.core.imageio import read_image
    from seg_desktop.gui.editor import MaskEditor, overlay
    from seg_desktop.gui.session import AnnotationSession

    if not pyramid:
        overlay.PYRAMID_MIN_SIDE = 10**9
    app = QApplication.instance() or QApplication([])
    editor = MaskEditor(AnnotationSession())
    editor.resize(*VIEW)
    editor.show()
    for _ in range(5):
        app.processEvents()
    before = _current_rss_mb()
    t = time.perf_counter()
    image = read_image(png)
    decoded = time.perf_counter() - t
    mask = np.zeros(image.shape[:2], np.uint8)
    mask[: side // 2] = 2
    viewport = editor.view.viewport()
    shown = []
    for key in ("a", "b", "c"):  # the median of three: the machine's other load makes single timings noisy
        t = time.perf_counter()
        editor.session.set_current(key, image, mask, inferred_classes({0, 1, 2}))
        viewport.repaint()
        app.processEvents()
        shown.append(time.perf_counter() - t)
        if key == "a":
            rss_open = _current_rss_mb()
    result = {"pyramid": pyramid, "levels": editor._photo.level_count(), "decode_s": decoded,
              "open_s": decoded + float(np.median(shown)), "rss_before_mb": before, "rss_open_mb": rss_open}
    editor.set_brush_size(40)
    editor.set_current_class(1)
    for label, zoom in (("fit", None), ("1to1", 1.0)):
        if zoom is None:
            editor.fit_to_window()
        else:
            editor.view.set_zoom(zoom)
            editor.view.centerOn(side / 2, side / 2)
        app.processEvents()
        times = []
        for _ in range(7):
            t = time.perf_counter()
            viewport.repaint()
            times.append(1000 * (time.perf_counter() - t))
        result[f"repaint_{label}_ms"] = float(np.median(times))
        centre = viewport.rect().center()
        QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, centre)
        app.processEvents()
        strokes = []
        for i in range(1, 41):
            p = QPoint(centre.x() + 6 * i % 300, centre.y() + (i % 7) * 3)
            t = time.perf_counter()
            QTest.mouseMove(viewport, p)
            app.processEvents()
            strokes.append(1000 * (time.perf_counter() - t))
        QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, p)
        app.processEvents()
        result[f"stroke_{label}_ms"] = float(np.median(strokes))
        result[f"painted_{label}_px"] = int((editor.session.mask() == 1).sum())  # the strokes did paint
        editor.undo()
        result["zoom_" + label] = editor.view.zoom()
    result["peak_rss_mb"] = _rss_mb()
    return result


# ------------------------------------------------------------------ parent


def _in_child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=False,
                         env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2])))
    if out.returncode != 0:
        raise SystemExit(f"child {args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--predict-side", type=int, default=8000)
    parser.add_argument("--side", type=int, default=10000)
    parser.add_argument("--child", choices=("predict", "editor", "editor-flat"))
    parser.add_argument("--path", type=Path)
    args = parser.parse_args()
    if args.child == "predict":
        print(json.dumps(child_predict(args.predict_side, args.path)))
        return
    if args.child:
        print(json.dumps(child_editor(args.side, args.path, pyramid=args.child == "editor")))
        return

    with tempfile.TemporaryDirectory() as tmp:
        from PIL import Image

        png = Path(tmp) / "huge.png"
        Image.fromarray(_synthetic(args.side)).save(png, compress_level=1)
        print(f"editor: {args.side}x{args.side} PNG ({png.stat().st_size / 2**20:.0f} MB), view {VIEW[0]}x{VIEW[1]}")
        fast = _in_child("--child", "editor", "--side", str(args.side), "--path", str(png))
        flat = _in_child("--child", "editor-flat", "--side", str(args.side), "--path", str(png))
        for r in (fast, flat):
            name = f"pyramid ({r['levels']} levels)" if r["pyramid"] else "no pyramid (baseline)"
            print(f"  {name:22s} open {r['open_s']:.2f} s (decode {r['decode_s']:.2f} s)  "
                  f"RSS +{r['rss_open_mb'] - r['rss_before_mb']:.0f} MB open, peak {r['peak_rss_mb']:.0f} MB  "
                  f"repaint fit {r['repaint_fit_ms']:.1f} ms / 1:1 {r['repaint_1to1_ms']:.1f} ms  "
                  f"stroke segment fit {r['stroke_fit_ms']:.1f} ms / 1:1 {r['stroke_1to1_ms']:.1f} ms "
                  f"(painted {r['painted_fit_px']:,} / {r['painted_1to1_px']:,} px)")
        print(f"  fitted repaint: {flat['repaint_fit_ms'] / fast['repaint_fit_ms']:.1f}x faster with the pyramid; "
              f"stroke at fit {flat['stroke_fit_ms'] / fast['stroke_fit_ms']:.1f}x; open "
              f"{fast['open_s'] / flat['open_s']:.2f}x the baseline's time, RSS "
              f"{(fast['rss_open_mb'] - fast['rss_before_mb']) / (flat['rss_open_mb'] - flat['rss_before_mb']):.2f}x")

        for budget in ("", "256"):  # the default budget, then a smaller one: the peak follows the budget
            os.environ["SEG_DESKTOP_PREDICT_MEMORY_MB"] = budget
            where = Path(tmp) / f"predict-{budget or 'default'}"
            p = _in_child("--child", "predict", "--predict-side", str(args.predict_side), "--path", str(where))
            print(f"predict: {p['side']}x{p['side']} image, {p['classes']} classes, budget {p['budget_mb']:.0f} MB: "
                  f"{p['seconds']:.1f} s, peak RSS {p['peak_rss_mb']:.0f} MB (baseline after TF+model+image "
                  f"{p['baseline_rss_mb']:.0f} MB, so +{p['peak_rss_mb'] - p['baseline_rss_mb']:.0f} MB to predict; "
                  f"the float32 probability volume alone would be {p['float32_volume_mb']:.0f} MB)")


if __name__ == "__main__":
    main()
