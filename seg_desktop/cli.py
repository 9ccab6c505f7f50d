"""`seg-desktop` / `python -m seg_desktop`: the GUI by default, and the headless commands (docs/ARCHITECTURE.md).

Every command reports bad input as one sentence on stderr and exit code 1; TensorFlow and Qt are imported only by
the commands that need them, so `seg-desktop sample` and `--help` start instantly.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .commands import RUNNERS
from .core.errors import DatasetError

COMMANDS = ("gui", "sample", "train", "evaluate", "predict", "export", "import", "export-masks")


class _Parser(argparse.ArgumentParser):
    """argparse, but a wrong or missing option is bad input like any other: one sentence and exit 1 (argparse's
    own convention is the usage text and exit 2)."""

    def error(self, message: str):
        self.exit(1, f"{self.prog}: {message}; see `{self.prog} --help`.\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="seg-desktop", description="Label images, train UNet/SegNet, export masks.")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    g = sub.add_parser("gui", help="open the desktop app (the default)")
    g.add_argument("folder", nargs="?", type=Path, help="dataset folder to open (default: the sample dataset)")

    s = sub.add_parser("sample", help="write a synthetic dataset")
    s.add_argument("out", type=Path)
    s.add_argument("--n", type=int, default=40, help="number of image/mask pairs")
    s.add_argument("--size", type=int, default=128, help="image side in pixels")
    s.add_argument("--seed", type=int, default=0)

    _add_train_parser(sub)

    e = sub.add_parser("evaluate", help="score a run's best model against a dataset's masks")
    e.add_argument("run", type=Path, help="run folder made by `seg-desktop train`")
    e.add_argument("data", type=Path, help="dataset folder with masks")
    e.add_argument("--split", choices=("val", "test", "all"), default="val",
                   help="which labelled images to score (val = the run's own validation images)")
    e.add_argument("--json", action="store_true", help="print the scores as JSON")
    e.add_argument("--tile", action="store_true", default=None,
                   help="predict in overlapping full-resolution tiles (the default for runs trained on crops)")

    r = sub.add_parser("predict", help="write a run's predicted masks for every image of a folder")
    r.add_argument("run", type=Path, help="run folder made by `seg-desktop train`")
    r.add_argument("data", type=Path, help="folder of images (masks are not needed)")
    r.add_argument("--out", type=Path, required=True, help="folder for one PNG per image, named by its stem")
    r.add_argument("--format", choices=("index", "color", "overlay"), default="index")
    r.add_argument("--probabilities", action="store_true",
                   help="also write <stem>_probs.npy (float16) and <stem>_entropy.png (uncertainty)")
    r.add_argument("--tile", action="store_true", default=None,
                   help="predict in overlapping full-resolution tiles (the default for runs trained on crops)")

    x = sub.add_parser("export", help="export a run's model (Keras, SavedModel or ONNX) with model.json and "
                                      "predict.py, checked against the Keras model first")
    x.add_argument("run", type=Path, help="run folder made by `seg-desktop train`")
    x.add_argument("--format", choices=("keras", "savedmodel", "onnx"), default="savedmodel",
                   help="onnx needs `pip install 'seg-desktop[onnx]'`")
    x.add_argument("--out", type=Path, required=True, help="new or empty folder for the exported model")
    x.add_argument("--data", type=Path, help="images to check the export on (default: the run's dataset)")
    _add_format_parsers(sub)
    return p


def _add_format_parsers(sub: argparse._SubParsersAction) -> None:
    """`import` and `export-masks`: masks in the formats of other tools (core/formats)."""
    from .core.formats import FORMAT_NAMES

    i = sub.add_parser("import", help="bring images and masks from another tool into seg-desktop's layout",
                       epilog="Overlapping shapes: the later one in the file wins; pixels no shape covers are class "
                              "0 (background). Every skipped file or shape is named, and then the exit code is 1.")
    i.add_argument("src", type=Path, help="the folder (or COCO .json file) to import; it is only read")
    i.add_argument("--format", choices=FORMAT_NAMES, required=True)
    i.add_argument("--out", type=Path, required=True, help="new or empty folder for images/, masks/, classes.csv")
    i.add_argument("--link", choices=("hard", "sym"), help="link the images instead of copying them")

    m = sub.add_parser("export-masks", help="export a dataset's masks (or a run's predictions) in another tool's "
                                            "format, checked by reading the export back")
    m.add_argument("data", type=Path, help="dataset folder")
    m.add_argument("--format", choices=FORMAT_NAMES, required=True)
    m.add_argument("--out", type=Path, required=True, help="new or empty folder for the export")
    m.add_argument("--run", type=Path, help="export this run's predictions of every image instead of the masks")
    m.add_argument("--tile", action="store_true", default=None,
                   help="with --run: predict in overlapping full-resolution tiles")


def _add_train_parser(sub: argparse._SubParsersAction) -> None:
    """`train`: one option per TrainConfig setting that has a flag, generated from the setting's metadata
    (ml/config.py). An option not given is None here, so the config's own default applies."""
    from .ml.config import SETTING, TrainConfig, setting_fields

    t = sub.add_parser("train", help="train a UNet or SegNet on a dataset folder",
                       epilog="Training runs in a child process: an out-of-memory is one sentence and exit 1, and "
                              "Ctrl+C stops after the current batch keeping the checkpoints (exit 130). Set "
                              "SEG_DESKTOP_MEMORY_LIMIT_GB=N to cap the training process at N GB beyond "
                              "TensorFlow's start-up, so a run too big for the machine fails instead of swapping.")
    t.add_argument("data", type=Path, help="dataset folder (any layout seg-desktop opens)")
    defaults = TrainConfig(data="")
    for f in setting_fields():
        s, default = f.metadata[SETTING], getattr(defaults, f.name)
        if not s.flag:
            continue
        if s.kind == "bool":  # a switch that flips the default, e.g. --no-augment
            t.add_argument(s.flag, dest=f.name, action="store_const", const=not default,
                           help=f"turn {'off' if default else 'on'} {s.label.lower()}: {s.help}")
            continue
        limits = "; ".join(text for text in (s.range_text(), None if default is None else f"default {default}")
                           if text)
        options: dict = {"dest": f.name, "help": f"{s.help} ({limits})" if limits else s.help}
        if s.kind == "choice":
            options["choices"] = s.values
        elif s.kind in ("int", "float"):
            options["type"] = int if s.kind == "int" else float
        elif s.kind == "size":
            options.update(metavar="H[xW]", help=s.help if default is None else
                           f"{s.help} (default {default[0]}x{default[1]})")
        elif s.kind == "path":
            options["type"] = Path
        if s.required_flag:
            options.update(required=True, help=s.help)
        t.add_argument(s.flag, **options)


def _tolerant_output() -> None:
    """Print any file name: one that is not valid UTF-8 (or not in the terminal's encoding) is written with
    backslash escapes instead of raising UnicodeEncodeError halfway through a command. Messages name files
    through `paths.display_path`, which also escapes newlines and other control characters."""
    for stream in (sys.stdout, sys.stderr):
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")


def main(argv: list[str] | None = None) -> int:
    _tolerant_output()
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0] not in COMMANDS and not argv[0].startswith("-")):
        argv.insert(0, "gui")  # `seg-desktop` and `seg-desktop FOLDER` open the GUI
    args = _parser().parse_args(argv)
    try:
        if args.command == "gui":
            from .gui.app import main as gui_main

            return gui_main(args.folder)
        if args.command in RUNNERS:
            return RUNNERS[args.command](args)
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
