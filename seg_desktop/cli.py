"""`seg-desktop` / `python -m seg_desktop`: the GUI by default, and the headless commands of DESIGN.md.

Every command reports bad input as one sentence on stderr and exit code 1; TensorFlow and Qt are imported only by
the commands that need them, so `seg-desktop sample` and `--help` start instantly.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from pathlib import Path

from .core.errors import DatasetError

COMMANDS = ("gui", "sample", "train", "evaluate", "predict")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seg-desktop", description="Label images, train UNet/SegNet, export masks.")
    sub = p.add_subparsers(dest="command")

    g = sub.add_parser("gui", help="open the desktop app (the default)")
    g.add_argument("folder", nargs="?", type=Path, help="dataset folder to open (default: the sample dataset)")

    s = sub.add_parser("sample", help="write a synthetic dataset")
    s.add_argument("out", type=Path)
    s.add_argument("--n", type=int, default=40, help="number of image/mask pairs")
    s.add_argument("--size", type=int, default=128, help="image side in pixels")
    s.add_argument("--seed", type=int, default=0)

    _add_train_parser(sub)
    return p


def _add_train_parser(sub: argparse._SubParsersAction) -> None:
    """`train`: options default to TrainConfig's defaults (None here means "not given")."""
    t = sub.add_parser("train", help="train a UNet or SegNet on a dataset folder")
    t.add_argument("data", type=Path, help="dataset folder (any layout seg-desktop opens)")
    t.add_argument("--model", choices=("unet", "segnet"), required=True)
    t.add_argument("--epochs", type=int)
    t.add_argument("--size", help="training size: N or HxW, e.g. 256 or 360x480")
    t.add_argument("--batch", type=int)
    t.add_argument("--lr", type=float, help="learning rate")
    t.add_argument("--base-filters", type=int, help="UNet channels of the first level (64 = the paper's model)")
    t.add_argument("--width", type=float, help="SegNet channel multiplier (1.0 = the paper's model)")
    t.add_argument("--val-split", type=float, help="validation fraction when the layout defines no split")
    t.add_argument("--no-augment", action="store_true", help="train without flips/rotation/zoom/brightness")
    t.add_argument("--loss", choices=("ce", "dice", "ce+dice"))
    t.add_argument("--class-weights", choices=("none", "median"))
    t.add_argument("--resume", type=Path, help="run folder to continue or fine-tune from")
    t.add_argument("--encoder-weights", type=Path, help="Keras VGG16 notop weights file for the encoder")
    t.add_argument("--out", type=Path, help="run folder (default DATA/.seg-desktop/runs/<time>-<model>)")
    t.add_argument("--strategy", choices=("auto", "mirrored", "multiworker"))
    t.add_argument("--seed", type=int)
    t.add_argument("--patience", type=int, help="epochs without val mean IoU progress before stopping")


def _run_gui(folder: Path | None) -> int:
    from .gui.app import main as gui_main

    return gui_main(folder)


def _run_sample(args: argparse.Namespace) -> int:
    from .core.sample_data import make_sample_dataset

    if args.n < 1 or args.size < 16:
        raise DatasetError("--n must be at least 1 and --size at least 16.")
    out = make_sample_dataset(args.out, n=args.n, size=args.size, seed=args.seed)
    print(f"wrote {args.n} image/mask pairs and classes.csv to {out}")
    return 0


@contextlib.contextmanager
def _native_stderr_silenced():
    """Send file descriptor 2 to /dev/null for the duration: native libraries write there directly, below Python's
    sys.stderr, and Abseil prints its INFO lines before TensorFlow can apply TF_CPP_MIN_LOG_LEVEL. Python errors
    raised inside still reach the user, because the descriptor is restored before they propagate."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def _train_config(args: argparse.Namespace):
    from .ml.config import TrainConfig, parse_size

    given = {
        "epochs": args.epochs, "batch": args.batch, "lr": args.lr, "base_filters": args.base_filters,
        "width": args.width, "val_split": args.val_split, "loss": args.loss, "class_weights": args.class_weights,
        "strategy": args.strategy, "seed": args.seed, "patience": args.patience,
        "size": parse_size(args.size) if args.size else None,
        "resume": str(args.resume) if args.resume else None,
        "encoder_weights": str(args.encoder_weights) if args.encoder_weights else None,
        "out": str(args.out) if args.out else None,
    }
    return TrainConfig(data=str(args.data), model=args.model, augment=not args.no_augment,
                       **{k: v for k, v in given.items() if v is not None})


def _run_train(args: argparse.Namespace) -> int:
    """Train with a progress line per epoch; bad input of any kind is one sentence on stderr and exit 1."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        config = _train_config(args)
        config.validate()
    except ValueError as exc:
        print(f"seg-desktop: {exc}", file=sys.stderr)
        return 1
    if not args.data.is_dir():  # said before TensorFlow spends seconds loading
        state = "is not a folder" if args.data.exists() else "does not exist"
        raise DatasetError(f"{args.data} {state}; pass the dataset folder that holds the images.", args.data)
    with _native_stderr_silenced():  # TensorFlow's C++ start-up lines ignore TF_CPP_MIN_LOG_LEVEL since 2.20
        from .ml.listener import TrainListener
        from .ml.train import TrainingError, train
        import tensorflow as tf

        tf.config.list_logical_devices()  # initialises the runtime (and its "no CUDA" lines) here

    class _Printer(TrainListener):
        def on_train_begin(self, info: dict) -> None:
            self.epochs = info["epochs"]
            for problem in info.get("problems", []):
                print(f"warning: {problem}", file=sys.stderr)
            print(f"training {config.model} on {info['num_train']} images, validating on {info['num_val']}; "
                  f"run folder {info['run_dir']}", flush=True)

        def on_epoch_end(self, epoch: int, logs: dict) -> None:
            val = "" if logs["val_loss"] is None else \
                f"  val_loss {logs['val_loss']:.3f}  val_mIoU {logs['val_mean_iou']:.2f}"
            print(f"epoch {logs['epoch']}/{self.epochs}  loss {logs['loss']:.3f}  mIoU {logs['mean_iou']:.2f}"
                  f"{val}  {logs['seconds']:.1f}s", flush=True)

    try:
        run = train(config, _Printer())
    except (TrainingError, ValueError) as exc:
        print(f"seg-desktop: {exc}", file=sys.stderr)
        return 1
    best = "" if run.best_val_mean_iou is None else f" (best val mIoU {run.best_val_mean_iou:.3f})"
    print(f"{'stopped' if run.stopped else 'finished'}{best}: {run.folder}")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in COMMANDS and not argv[0].startswith("-")):
        argv.insert(0, "gui")  # `seg-desktop` and `seg-desktop FOLDER` open the GUI
    args = _parser().parse_args(argv)
    try:
        if args.command == "gui":
            return _run_gui(args.folder)
        if args.command == "sample":
            return _run_sample(args)
        if args.command == "train":
            return _run_train(args)
        _parser().print_help()
        return 1
    except DatasetError as exc:
        print(f"seg-desktop: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("seg-desktop: interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
