"""The training engine's speed against a bare `model.fit`, and float32 against mixed bfloat16, measured in one run.

For UNet (16 base filters) and SegNet (width 0.5) at 128 px, batch 8, on generated data:
- engine: `seg_desktop.ml.train.train` (tf.data pipeline, listener, MeanIoU, checkpoints, validation), with
  augmentation off (the same work as the bare fit) and on (the default);
- bare: `model.fit` on the same decoded images as in-memory float32 arrays, the same loss and optimiser, no
  metrics or callbacks beyond a timer;
- each at float32 and mixed bfloat16, and the bare UNet also with XLA (jit_compile).
Only training steps are timed: images/s between the first and last batch of each epoch after the first (tracing),
so validation and checkpoints, which the bare fit does not do, are left out. The configurations take turns
round by round, so a busy moment of the shared machine hits them alike; each figure is the median over rounds
of the best epoch, and each ratio is taken within a round.

With --threads, the bare float32 UNet is also measured under TensorFlow's thread settings (intra-op, inter-op:
0 means TensorFlow's choice, one per core), each in its own process since they are fixed at start-up.

Run with the project's Python (not collected by pytest):  .venv/bin/python tests/benchmarks/bench_trainer.py
Options: --rounds N (default 3), --epochs N per measurement (default 3), --size N, --quick, --threads.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from seg_desktop.core.dataset import open_dataset  # noqa: E402
from seg_desktop.core.sample_data import make_sample_dataset  # noqa: E402
from seg_desktop.ml import models  # noqa: E402
from seg_desktop.ml.config import TrainConfig  # noqa: E402
from seg_desktop.ml.inputs import load_arrays, split_samples  # noqa: E402
from seg_desktop.ml.listener import TrainListener  # noqa: E402
from seg_desktop.ml.losses import SegmentationLoss  # noqa: E402
from seg_desktop.ml.precision import policy  # noqa: E402
from seg_desktop.ml.train import train  # noqa: E402

BATCH = 8
OPTIONS = {"unet": {"base_filters": 16}, "segnet": {"width": 0.5}}


def _rate(stamps: list[float]) -> float:
    """Images/s between the first and last batch end of one epoch."""
    return (len(stamps) - 1) * BATCH / (stamps[-1] - stamps[0]) if len(stamps) > 1 else float("nan")


def _best_epoch(epochs: list[list[float]]) -> float:
    """The best epoch's images/s, the first epoch (tracing, warm-up) left out when there are others."""
    rates = [_rate(s) for s in (epochs[1:] if len(epochs) > 1 else epochs)]
    return max(r for r in rates if r == r)


class _Stamps(TrainListener):
    def __init__(self) -> None:
        self.epochs: list[list[float]] = [[]]

    def on_batch_end(self, step: int, logs: dict) -> None:
        if step == 0 and self.epochs[-1]:
            self.epochs.append([])
        self.epochs[-1].append(time.perf_counter())


class _BatchTimer(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.epochs: list[list[float]] = []

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epochs.append([])

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.epochs[-1].append(time.perf_counter())


def engine(data: Path, out: Path, model: str, precision: str, augment: bool, epochs: int, size: int,
           steps: int, num: int) -> float:
    stamps = _Stamps()
    train(TrainConfig(data=str(data), out=str(out / f"{model}-{precision}-{augment}-{num}"), model=model,
                      size=(size, size), batch=BATCH, epochs=epochs, precision=precision, augment=augment,
                      min_epoch_images=steps * BATCH, val_split=0.1, patience=100,
                      **OPTIONS[model]), stamps)
    return _best_epoch(stamps.epochs)


def bare(x: np.ndarray, y: np.ndarray, model: str, precision: str, jit: bool, epochs: int, k: int) -> float:
    keras.utils.set_random_seed(0)
    with policy(precision):
        net = models.build_model(model, k, (None, None, 3), **OPTIONS[model])
    net.compile(optimizer=keras.optimizers.Adam(1e-3), loss=SegmentationLoss("ce+dice"), jit_compile=jit)
    timer = _BatchTimer()
    net.fit(x, y, batch_size=BATCH, epochs=epochs, shuffle=True, verbose=0, callbacks=[timer])
    return _best_epoch(timer.epochs)


THREADS = ((0, 0), (1, 1), (2, 1), (1, 2), (4, 2))


def _threads_child(intra: int, inter: int, size: int, steps: int, epochs: int) -> None:
    """In a fresh process: the bare float32 UNet's images/s under these thread settings (printed)."""
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(intra)
    tf.config.threading.set_inter_op_parallelism_threads(inter)
    rng = np.random.default_rng(0)
    x = rng.random((steps * BATCH, size, size, 3), dtype=np.float32)
    y = rng.integers(0, 5, (steps * BATCH, size, size)).astype(np.int32)
    print(f"RATE {bare(x, y, 'unet', 'float32', False, epochs, 5):.2f}")


def _threads(args: argparse.Namespace) -> None:
    import subprocess

    rates: dict[tuple[int, int], list[float]] = {t: [] for t in THREADS}
    for _ in range(args.rounds):
        for intra, inter in THREADS:
            done = subprocess.run([sys.executable, __file__, "--child-threads", f"{intra},{inter}", "--size",
                                   str(args.size), "--steps", str(args.steps), "--epochs", str(args.epochs)],
                                  capture_output=True, text=True)
            line = next((ln for ln in done.stdout.splitlines() if ln.startswith("RATE ")), "RATE nan")
            rates[(intra, inter)].append(float(line.split()[1]))
    print("\nthreads (intra-op, inter-op) -> bare float32 UNet img/s, median of rounds, and ratio to TensorFlow's "
          "default (0, 0) within each round")
    for t, values in rates.items():
        ratio = statistics.median(v / d for v, d in zip(values, rates[(0, 0)]))
        print(f"  {t}: {statistics.median(values):6.1f}  x{ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", action="store_true", help="measure thread settings only")
    parser.add_argument("--child-threads", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=16, help="training steps per epoch")
    parser.add_argument("--quick", action="store_true", help="64 px, 2 rounds, 6 steps: for trying it")
    args = parser.parse_args()
    if args.quick:
        args.size, args.rounds, args.steps = 64, 2, 6
    if args.child_threads:
        _threads_child(*(int(v) for v in args.child_threads.split(",")), args.size, args.steps, args.epochs)
        return
    if args.threads:
        _threads(args)
        return
    work = Path(tempfile.mkdtemp(prefix="bench-trainer-"))
    data = make_sample_dataset(work / "data", n=args.steps * BATCH // 2, size=args.size)
    dataset = open_dataset(data, val_fraction=0.1)
    train_samples, _ = split_samples(dataset, 0.1, 0)
    arrays = load_arrays(dataset, train_samples, (args.size, args.size), [])
    reps = -(-args.steps * BATCH // len(arrays))  # as many images per epoch as the engine's epochs
    x = np.concatenate([arrays.images] * reps)[: args.steps * BATCH].astype(np.float32) / 255.0
    y = np.concatenate([arrays.masks] * reps)[: args.steps * BATCH].astype(np.int32)
    k = dataset.classes.num_classes

    configs: list[tuple[str, str, str, bool]] = []  # (model, path, precision, augment or jit)
    for model in ("unet", "segnet"):
        for precision in ("float32", "bfloat16"):
            configs += [(model, "engine", precision, False), (model, "bare", precision, False)]
        configs.append((model, "engine", "float32", True))
    configs.append(("unet", "bare", "float32", True))  # XLA
    rates: dict[tuple, list[float]] = {c: [] for c in configs}
    started = time.perf_counter()
    for r in range(args.rounds):
        for c in configs:
            model, path, precision, flag = c
            if path == "engine":
                rate = engine(data, work / "runs", model, precision, flag, args.epochs, args.size, args.steps, r)
            else:
                rate = bare(x, y, model, precision, flag, args.epochs, k)
            rates[c].append(rate)
            print(f"  round {r + 1}: {model:6s} {path:6s} {precision:8s} "
                  f"{('augment' if path == 'engine' else 'xla') if flag else '':7s} {rate:6.1f} img/s", flush=True)

    def ratio(a: tuple, b: tuple) -> str:
        values = [x / y for x, y in zip(rates[a], rates[b])]
        return f"{statistics.median(values):.2f} (rounds {', '.join(f'{v:.2f}' for v in values)})"

    print(f"\n{args.size} px, batch {BATCH}, {args.steps} steps x {args.epochs} epochs x {args.rounds} rounds, "
          f"{time.perf_counter() - started:.0f} s")
    print(f"{'configuration':44s} img/s (median of rounds)")
    for c in configs:
        model, path, precision, flag = c
        extra = (" + augmentation" if path == "engine" else " + XLA") if flag else ""
        print(f"  {model} {path} {precision}{extra:40s}"[:46] + f" {statistics.median(rates[c]):6.1f}")
    print("\nratios (median over rounds of the within-round ratio)")
    for model in ("unet", "segnet"):
        for precision in ("float32", "bfloat16"):
            print(f"  {model} engine/bare {precision}: "
                  f"{ratio((model, 'engine', precision, False), (model, 'bare', precision, False))}")
        print(f"  {model} bf16/fp32 engine: "
              f"{ratio((model, 'engine', 'bfloat16', False), (model, 'engine', 'float32', False))}")
        print(f"  {model} bf16/fp32 bare:   "
              f"{ratio((model, 'bare', 'bfloat16', False), (model, 'bare', 'float32', False))}")
        print(f"  {model} engine augmented/plain fp32: "
              f"{ratio((model, 'engine', 'float32', True), (model, 'engine', 'float32', False))}")
    print(f"  unet XLA/plain bare fp32: {ratio(('unet', 'bare', 'float32', True), ('unet', 'bare', 'float32', False))}")


if __name__ == "__main__":
    main()
