"""`seg-desktop` / `python -m seg_desktop`: the GUI by default, and the headless commands of DESIGN.md.

Every command reports bad input as one sentence on stderr and exit code 1; TensorFlow and Qt are imported only by
the commands that need them, so `seg-desktop sample` and `--help` start instantly.
"""

from __future__ import annotations

import argparse
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
    return p


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
