"""Native-resolution crops and data larger than memory (ml/data.py), measured in one run:

1. images/s of training on full-resolution crops vs whole images resized to the same training size;
2. peak RSS of training as the dataset grows 10x, decoded into memory vs streamed from disk, and the streamed
   path's images/s against the in-memory one's (each configuration in its own process, so peaks do not mix);
3. on ../shared/data/membrane (512 px images): crop training at 256 px vs resize-to-256 training, the same
   number of steps, val mean IoU of the best checkpoint scored at full resolution (each run predicting at its
   own scale, as evaluate does) and the best per-epoch validation score.

Run with the project's Python (not collected by pytest):  .venv/bin/python tests/benchmarks/bench_scale.py
Options: --quick (smaller sizes, for trying it), --skip-membrane, --membrane-only.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPEATS = 3
MEMBRANE = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "membrane"


def _child(args: argparse.Namespace) -> None:
    """Train on args.data in each configuration of args.configs ("scale:data_memory,..."), `steps` steps at a
    time, the configurations taking turns (so a busy moment of the shared machine hits them alike), and print
    each one's best images/s and this process's peak RSS."""
    import keras

    from seg_desktop.core.dataset import open_dataset
    from seg_desktop.ml import models
    from seg_desktop.ml.config import TrainConfig
    from seg_desktop.ml.data import prepare_inputs, train_dataset
    from seg_desktop.ml.losses import SegmentationLoss

    dataset = open_dataset(args.data, val_fraction=0.0)
    model = models.build_model("unet", dataset.classes.num_classes, (None, None, 3), base_filters=args.filters)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=SegmentationLoss("ce+dice"))
    runs = []
    for item in args.configs.split(","):
        scale, memory = item.split(":")
        config = TrainConfig(data=args.data, size=(args.size, args.size), scale=scale, val_split=0.0,
                             data_memory=float(memory), batch=args.batch)
        config, inputs = prepare_inputs(dataset, config, [])
        data = train_dataset(inputs.train, config.batch, True, None, 0, inputs.scale, None, inputs.crops_per_read)
        model.fit(data, epochs=1, steps_per_epoch=args.warmup, verbose=0)  # tracing, thread pools, first decodes
        runs.append((inputs, data, [math.inf]))
    for _ in range(REPEATS):  # the best of a few windows: other processes on a shared box only ever slow one down
        for _, data, best in runs:
            start = time.perf_counter()
            model.fit(data, epochs=1, steps_per_epoch=args.steps, verbose=0)
            best[0] = min(best[0], time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps([{"images_per_s": args.steps * args.batch / best[0], "peak_rss_mb": peak,
                       "streamed": inputs.streamed, "input": inputs.describe(), "n": len(inputs.train)}
                      for inputs, _, best in runs]))


def _run_child(data: Path, configs: str, size: int, steps: int, filters: int, batch: int) -> list[dict]:
    cmd = [sys.executable, __file__, "--child", "--data", str(data), "--configs", configs, "--size", str(size),
           "--steps", str(steps), "--filters", str(filters), "--batch", str(batch)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def throughput_and_memory(quick: bool) -> None:
    from seg_desktop.core.sample_data import make_sample_dataset

    side, size, n = (256, 64, 20) if quick else (512, 128, 40)
    steps, filters, batch = (10, 4, 8) if quick else (25, 8, 8)
    with tempfile.TemporaryDirectory() as tmp:
        small = make_sample_dataset(Path(tmp) / "small", n=n, size=side)
        large = make_sample_dataset(Path(tmp) / "large", n=10 * n, size=side)
        print(f"\n1. training images/s (best of {REPEATS} x {steps} steps, taking turns in one process), "
              f"UNet-{filters}, batch {batch}, {n} images of {side}x{side}, training size {size}x{size}, "
              "augmentation on")
        resized, crops = _run_child(small, "resize:1.0,crop:1.0", size, steps, filters, batch)
        print(f"   whole images resized:  {resized['images_per_s']:7.1f} img/s")
        print(f"   full-resolution crops: {crops['images_per_s']:7.1f} img/s  "
              f"(ratio {crops['images_per_s'] / resized['images_per_s']:.2f})")
        print(f"\n2. peak RSS of training on full-resolution {size} px crops as the dataset grows 10x "
              f"({n} -> {10 * n} images of {side}x{side}; {4 * side * side / 2**20:.2f} MB decoded each), one "
              "process per row")
        rows = {}
        for label, memory in (("in memory", 1.0), ("streamed", 1e-9)):
            for data in (small, large):
                rows[label, data] = r = _run_child(data, f"crop:{memory}", size, steps, filters, batch)[0]
                assert r["streamed"] == (memory < 1), r
                print(f"   {label:9}  {r['n']:4} images: peak RSS {r['peak_rss_mb']:7.0f} MB, "
                      f"{r['images_per_s']:6.1f} img/s")
        for label in ("in memory", "streamed"):
            grow = rows[label, large]["peak_rss_mb"] - rows[label, small]["peak_rss_mb"]
            print(f"   {label:9}  RSS growth for 10x the data: {grow:+.0f} MB")
        memory, streamed = _run_child(large, "crop:1.0,crop:1e-9", size, steps, filters, batch)
        ratio = streamed["images_per_s"] / memory["images_per_s"]
        print(f"   throughput at {10 * n} images, taking turns in one process: in memory "
              f"{memory['images_per_s']:.1f} img/s, streamed {streamed['images_per_s']:.1f} img/s, ratio {ratio:.2f} "
              "(target >= 0.8)")


def membrane(quick: bool, seeds: list[int]) -> None:
    from seg_desktop.ml.config import TrainConfig
    from seg_desktop.ml.train import train

    if not (MEMBRANE / "images").is_dir():
        print(f"\n3. skipped: {MEMBRANE} is not here")
        return
    epochs, filters = (2, 4) if quick else (8, 8)
    views = 96  # crop: 24 images x 4 crops of 256 px cover each 512 px image once; resize pads to the same
    print(f"\n3. membrane (30 images 512x512, val split 0.2): UNet-{filters}, batch 4, {epochs} epochs of "
          f"{views // 4} steps each, training size 256")
    results: dict[str, list[float]] = {"resize": [], "crop": []}
    for seed in seeds:  # the seed draws the weights and the order; the val split stays the same (hash of names)
        for scale in ("resize", "crop"):
            with tempfile.TemporaryDirectory() as out:
                start = time.perf_counter()
                config = TrainConfig(data=str(MEMBRANE), out=str(Path(out) / "run"), model="unet",
                                     size=(256, 256), scale=scale, epochs=epochs, batch=4, base_filters=filters,
                                     min_epoch_images=views, patience=epochs, seed=seed)
                run = train(config)
                metrics = json.loads((run.folder / "metrics.json").read_text())
                results[scale].append(metrics["mean_iou"])
                print(f"   seed {seed} {scale:6}: val mean IoU at full resolution {metrics['mean_iou']:.3f} (pixel "
                      f"accuracy {metrics['pixel_accuracy']:.3f}), best per-epoch val mean IoU "
                      f"{run.best_val_mean_iou:.3f}, {len(run.history)} epochs, {time.perf_counter() - start:.0f} s",
                      flush=True)
    for scale, values in results.items():
        each = ", ".join(f"{v:.3f}" for v in values)
        print(f"   {scale:6}: mean over seeds {sum(values) / len(values):.3f} ({each})")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--child", action="store_true")
    p.add_argument("--data")
    p.add_argument("--configs")
    p.add_argument("--size", type=int)
    p.add_argument("--steps", type=int)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--filters", type=int)
    p.add_argument("--batch", type=int)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--skip-membrane", action="store_true")
    p.add_argument("--membrane-only", action="store_true")
    p.add_argument("--seeds", type=int, nargs="+", default=[0], help="membrane: one pair of runs per seed")
    args = p.parse_args()
    if args.child:
        _child(args)
        return
    if not args.membrane_only:
        throughput_and_memory(args.quick)
    if not args.skip_membrane:
        membrane(args.quick, args.seeds)


if __name__ == "__main__":
    main()
