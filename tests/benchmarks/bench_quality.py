"""The training recipe's levers, each against the defaults, on real and synthetic data at the same time budget:
an ablation table from which every default is chosen.

Each configuration is `seg-desktop train DATA --minutes M --out RUN` plus the lever's options, run as a user runs
it (its own process, the real CLI), and scored on the best checkpoint: the validation
split, or the held-out test split where the dataset has one, at full resolution (`seg-desktop evaluate`: mean IoU,
and the per-class IoU of the classes that are rare). Datasets:
- scenes: synthetic street scenes with gravity and thin classes (tests/benchmarks/scenes.py), 200 independent
  scenes (so the drawn val split is as honest as a test split), trained at 96x128;
- camvid: ../shared/data/camvid-mini (5 training frames, its 3 test frames held out), trained at 176x240;
- membrane: ../shared/data/membrane (30 EM slices, the sequence split), trained at 256 (full-resolution crops).
A dataset that is not there is skipped with its reason. The time budget includes start-up and validation, as a
user's does, so a lever that makes training faster gets more epochs from it; each row also says how many epochs
the budget bought. One seed per cell unless --seeds says more: differences below ~0.02 are within seed noise.

Run with the project's Python (not collected by pytest):  .venv/bin/python tests/benchmarks/bench_quality.py
Options: --minutes M (default 2), --datasets scenes,camvid,membrane, --levers name,... (default: PLAN), --seeds
0,1, --list (print the levers and exit), --json FILE.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
sys.path.insert(0, str(Path(__file__).resolve().parent))

# name -> the options it adds to the defaults (None: the dataset decides whether the lever applies)
LEVERS: dict[str, list[str]] = {
    "defaults": [],
    "aug: none": ["--no-augment"],
    "aug: scene": ["--augment-policy", "scene"],
    "aug: top-down": ["--augment-policy", "top-down"],
    "schedule: plateau": ["--lr-schedule", "plateau"],
    "loss: ce": ["--loss", "ce"],
    "loss: focal+dice": ["--loss", "focal+dice"],
    "loss: ce+lovasz": ["--loss", "ce+lovasz"],
    "weights: median": ["--class-weights", "median"],
    "weights: sqrt-median": ["--class-weights", "sqrt-median"],
    "rare crops 0.5": ["--rare-crops", "0.5"],
    "precision: bfloat16": ["--precision", "bfloat16"],
    "precision: float32": ["--precision", "float32"],
    "weights: none": ["--class-weights", "none"],
    "unet 16 filters": ["--base-filters", "16"],
    "segnet": ["--model", "segnet"],
    "segnet width 0.25": ["--model", "segnet", "--width", "0.25"],
    "segnet width 0.5": ["--model", "segnet", "--width", "0.5"],
}
# What the full run measures per dataset (a lever that cannot matter there, or that a smaller set already
# answers, is left out to keep the run within an hour on 2 cores); --levers overrides it.
PLAN = {
    "scenes": ["defaults", "weights: none", "weights: median", "precision: float32", "aug: top-down", "aug: none",
               "schedule: plateau", "loss: ce", "loss: focal+dice", "rare crops 0.5", "unet 16 filters", "segnet",
               "segnet width 0.5"],
    "camvid": ["defaults", "weights: none", "precision: float32", "aug: top-down", "segnet"],
    "membrane": ["defaults", "aug: scene", "precision: float32", "weights: none", "segnet"],
}


def _datasets(work: Path) -> dict[str, tuple[Path | None, list[str], list[str], str, str]]:
    """name -> (folder or None, its options, its rare classes, why it is missing, the split that scores)."""
    from scenes import write_scenes

    scenes = work / "scenes"
    if not scenes.exists():
        write_scenes(scenes, 200)
    camvid, membrane = SHARED / "camvid-mini", SHARED / "membrane"
    return {
        "scenes": (scenes, ["--size", "96x128"], ["pole", "sign", "pedestrian"], "", "val"),
        "camvid": (camvid if camvid.is_dir() else None, ["--size", "176x240"],
                   ["Pole", "SignSymbol", "Fence", "Pedestrian", "Bicyclist"], f"{camvid} is not there", "test"),
        "membrane": (membrane if membrane.is_dir() else None, ["--size", "256"], [], f"{membrane} is not there",
                     "val"),
    }


def run(data: Path, out: Path, minutes: float, options: list[str], seed: int, split: str) -> dict:
    """Train one configuration through the CLI and score its best checkpoint on `split` with `seg-desktop
    evaluate` (the held-out test split where the dataset has one), plus epochs, seconds and the run's config."""
    command = [sys.executable, "-m", "seg_desktop", "train", str(data), "--model", "unet", "--minutes", str(minutes), "--seed", str(seed), "--out", str(out), *options]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    seconds = time.perf_counter() - started
    if done.returncode != 0 or not (out / "metrics.json").exists():
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        return {"error": tail[0][:160], "seconds": seconds}
    if split == "val":  # metrics.json is the best checkpoint on val at full resolution already
        metrics = json.loads((out / "metrics.json").read_text())
        metrics["val_mean_iou"] = metrics["mean_iou"]
    else:
        metrics = _evaluate(out, data, split)
        if "error" in metrics:
            return {**metrics, "seconds": seconds}
    history = (out / "history.csv").read_text().strip().splitlines()
    metrics["epochs"] = len(history) - 1
    metrics["seconds"] = seconds
    metrics["config"] = json.loads((out / "config.json").read_text())
    return metrics


def _evaluate(out: Path, data: Path, split: str) -> dict:
    """`seg-desktop evaluate RUN DATA --split SPLIT --json`, with the run's own val score beside it."""
    scored = subprocess.run([sys.executable, "-m", "seg_desktop", "evaluate", str(out), str(data), "--split", split,
                             "--json"], cwd=ROOT, capture_output=True, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    if scored.returncode != 0:
        return {"error": (scored.stderr.strip().splitlines() or ["evaluate failed"])[-1][:160]}
    metrics = json.loads(scored.stdout)
    metrics["val_mean_iou"] = json.loads((out / "metrics.json").read_text())["mean_iou"]
    return metrics


def _per_class(metrics: dict) -> dict[str, float]:
    """class name -> IoU from a metrics.json / `evaluate --json` result ("per_class": {name: {"iou", "dice"}})."""
    return {name: scores["iou"] for name, scores in metrics.get("per_class", {}).items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--datasets", default="scenes,camvid,membrane")
    parser.add_argument("--levers", help="comma-separated lever names (default: each dataset's PLAN)")
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--list", action="store_true")
    parser.add_argument("--json", type=Path, help="also write every result to this file")
    args = parser.parse_args()
    if args.list:
        print("\n".join(f"{name}: {' '.join(opts) or '(the defaults)'}" for name, opts in LEVERS.items()))
        return
    chosen = [name.strip() for name in args.levers.split(",")] if args.levers else None
    unknown = [name for name in chosen or [] if name not in LEVERS]
    if unknown:
        sys.exit(f"unknown lever(s) {unknown}; see --list")
    seeds = [int(s) for s in args.seeds.split(",")]
    work = Path(tempfile.mkdtemp(prefix="bench-quality-"))
    datasets = _datasets(work)
    results: dict[tuple[str, str], list[dict]] = {}
    started = time.perf_counter()
    for name in args.datasets.split(","):
        folder, options, rare, missing, split = datasets[name]
        if folder is None:
            print(f"skipped {name}: {missing}")
            continue
        for lever in chosen or PLAN[name]:
            for seed in seeds:
                out = work / "runs" / f"{name}-{lever.replace(' ', '').replace(':', '-')}-{seed}"
                m = run(folder, out, args.minutes, options + LEVERS[lever], seed, split)
                results.setdefault((name, lever), []).append(m)
                if "error" in m:
                    print(f"  {name:8s} {lever:22s} seed {seed}: FAILED {m['error']}", flush=True)
                    continue
                per = _per_class(m)
                rare_text = " ".join(f"{c}={per[c]:.2f}" for c in rare if per.get(c) is not None)
                print(f"  {name:8s} {lever:22s} seed {seed}: {split} mIoU {m['mean_iou']:.3f} (val "
                      f"{m['val_mean_iou']:.3f}, {m['epochs']} epochs, {m['seconds']:.0f} s) {rare_text}", flush=True)
    print(f"\nablation: mean IoU on the held-out test split (camvid; the others: val) at {args.minutes:g} min per run, seeds {args.seeds}, "
          f"{(time.perf_counter() - started) / 60:.0f} min in all")
    names = [n for n in args.datasets.split(",") if any(k[0] == n for k in results)]
    print("| lever | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for lever in [name for name in LEVERS if any(k[1] == name for k in results)]:
        cells = []
        for name in names:
            ok = [m["mean_iou"] for m in results.get((name, lever), []) if "error" not in m]
            tried = (name, lever) in results
            cells.append(f"{statistics.mean(ok):.3f}" if ok else "failed" if tried else "")
        print(f"| {lever} | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps({f"{k[0]}|{k[1]}": v for k, v in results.items()}, indent=1, default=str))


if __name__ == "__main__":
    main()
