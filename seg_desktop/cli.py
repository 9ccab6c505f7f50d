"""`seg-desktop` / `python -m seg_desktop`: the GUI by default, and the headless commands (docs/ARCHITECTURE.md).

Every command reports bad input as one sentence on stderr and exit code 1; TensorFlow and Qt are imported only by
the commands that need them, so `seg-desktop sample` and `--help` start instantly.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading
from pathlib import Path

from .core.errors import DatasetError
from .core.paths import display_path

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


def _require_folder(path: Path, what: str) -> None:
    """One sentence for a missing folder, said before seconds go into loading TensorFlow; also for a path the
    file system refuses to look up (a component over 255 bytes, a loop of links, a folder we may not enter)."""
    try:
        is_dir = path.is_dir()
    except OSError as exc:
        raise DatasetError(f"{path} cannot be looked up ({exc.strerror}); pass the {what}.", path) from None
    if not is_dir:
        state = "is not a folder" if path.exists() else "does not exist"
        raise DatasetError(f"{path} {state}; pass the {what}.", path)


def _train_config(args: argparse.Namespace):
    """The TrainConfig the `train` options describe (not validated yet)."""
    from .ml.config import SETTING, TrainConfig, setting_fields

    values = {f.name: getattr(args, f.name) for f in setting_fields() if f.metadata[SETTING].flag}
    return TrainConfig.from_settings(str(args.data), values)


@contextlib.contextmanager
def _ctrl_c_stops(stop, runner):
    """While training, the first Ctrl+C asks the engine to stop after the current batch (it keeps its
    checkpoints and history) and a second ends the child at once; without this, KeyboardInterrupt would unwind
    the parent and leave the child to be killed mid-epoch. Signal handlers exist only in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum, frame) -> None:
        if stop.is_set():
            runner.kill()
            return
        stop.set()
        print("seg-desktop: stopping after this batch (Ctrl+C again to stop at once).", file=sys.stderr,
              flush=True)

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _run_train(args: argparse.Namespace) -> int:
    """Train with a progress line per epoch. Bad input of any kind is one sentence on stderr and exit 1, and so
    is running out of memory: the engine runs in a child process (as in the GUI), so even a TensorFlow abort
    or the kernel's OOM killer ends only the child. Set SEG_DESKTOP_MEMORY_LIMIT_GB=N to cap the training
    process at N GB beyond TensorFlow's start-up, so a run too big for the machine fails cleanly instead of
    swapping it to a halt. Ctrl+C stops after the current batch keeping the checkpoints (exit 130)."""
    try:
        config = _train_config(args)
        config.validate()
    except ValueError as exc:
        print(f"seg-desktop: {exc}", file=sys.stderr)
        return 1
    _require_folder(args.data, "dataset folder that holds the images")  # before the child loads TensorFlow
    from .ml.errors import TrainingError
    from .ml.listener import EpochRecord, TrainListener
    from .ml.remote import training_runner

    class _Printer(TrainListener):
        def on_train_begin(self, info: dict) -> None:
            self.epochs, self.chief = info["epochs"], info.get("chief", True)
            for problem in info.get("problems", []):
                print(f"warning: {problem}", file=sys.stderr)
            folder = info["run_dir"] if self.chief else "written by the chief"
            print(f"training {config.model} on {info['num_train']} images, validating on {info['num_val']}; "
                  f"run folder {folder}", flush=True)
            print(f"{info.get('strategy', 'training')}; {info['steps_per_epoch']} steps per epoch", flush=True)
            if info.get("input"):
                print(f"input: {info['input']}", flush=True)

        def on_epoch_end(self, record: EpochRecord) -> None:
            val = "" if record.val_loss is None else \
                f"  val_loss {record.val_loss:.3f}  val_mIoU {record.val_mean_iou:.2f}"
            print(f"epoch {record.epoch}/{self.epochs}  loss {record.loss:.3f}  mIoU {record.mean_iou:.2f}"
                  f"{val}  {record.seconds:.1f}s", flush=True)

    stop = threading.Event()
    runner, printer = training_runner(config), _Printer()
    try:
        with _ctrl_c_stops(stop, runner):
            run = runner.run(printer, stop)
    except (TrainingError, ValueError) as exc:
        print(f"seg-desktop: {exc}", file=sys.stderr)
        return 130 if stop.is_set() else 1
    best = "" if run.best_val_mean_iou is None else f" (best val mIoU {run.best_val_mean_iou:.3f})"
    folder = run.folder if getattr(printer, "chief", True) else "the chief wrote the run folder"
    print(f"{'stopped' if run.stopped else 'finished'}{best}: {folder}")
    return 130 if run.stopped else 0


def _load(args: argparse.Namespace):
    """The run's model and the dataset, after the cheap checks that need no TensorFlow."""
    _require_folder(args.run, "run folder made by `seg-desktop train`")
    _require_folder(args.data, "dataset folder")
    from .ml.quiet import start_tensorflow_quietly

    start_tensorflow_quietly()
    from .core.dataset import open_dataset
    from .ml.predict import load_run

    run = load_run(args.run)
    # the run's own fraction and seed, so `--split val` draws the very images it was validated on
    dataset = open_dataset(args.data, val_fraction=run.config.val_split, seed=run.config.seed)
    return run, dataset


def _skipped(problems: list[str], done: str) -> int:
    """Exit 1 when any file was skipped, after the work on all the others is done: the output is then
    incomplete, and a script must not mistake it for a whole one. Each file gets its own line."""
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    if not problems:
        return 0
    print(f"seg-desktop: {len(problems)} file(s) could not be used (named above) and {done}; fix or remove them "
          "and run the command again.", file=sys.stderr)
    return 1


def _run_evaluate(args: argparse.Namespace) -> int:
    """Scores of the run's best model on the chosen split, as a table or JSON (the shape of metrics.json)."""
    import json

    run, dataset = _load(args)
    from .ml.data import split_samples
    from .ml.predict import evaluate_dataset, json_safe

    if args.split == "val":
        samples = split_samples(dataset, run.config.val_split, run.config.seed)[1]
    else:
        samples = dataset.labelled(None if args.split == "all" else args.split)
    if not samples:
        raise DatasetError(f"{args.data} has no labelled images in the {args.split} split; choose --split all or "
                           "another split.", args.data)
    result = evaluate_dataset(run, dataset, samples, tile=args.tile)
    problems = [str(p) for p in dataset.problems] + result["problems"]
    if not result["num_images"]:
        _skipped(problems, "nothing was scored")
        raise DatasetError(f"None of the {len(samples)} {args.split} images of {args.data} could be scored; fix "
                           "the files named above.", args.data)
    result = {"run": str(args.run), "data": str(args.data), "split": args.split, **result}
    done = f"the scores are of the other {result['num_images']} images"
    if args.json:
        print(json.dumps(json_safe(result), indent=2))
        return _skipped(problems, done)
    print(f"{display_path(run.model_file)}: {result['num_images']} {args.split} images of "
          f"{display_path(args.data)}")
    print(f"{'class':<20} {'IoU':>7} {'Dice':>7}")
    for name, s in result["per_class"].items():
        iou, dice = ("-" if v != v else f"{v:.4f}" for v in (s["iou"], s["dice"]))  # NaN: class absent
        print(f"{name[:20]:<20} {iou:>7} {dice:>7}")
    print(f"{'mean':<20} {result['mean_iou']:>7.4f} {result['mean_dice']:>7.4f}")
    print(f"pixel accuracy {result['pixel_accuracy']:.4f}")
    return _skipped(problems, done)


def _run_predict(args: argparse.Namespace) -> int:
    """One mask per image at the image's own size; unreadable files are named, the rest still written (exit 1)."""
    run, dataset = _load(args)
    from .ml.predict import export_predictions

    if not dataset.samples:  # open_dataset's last problem then says why (e.g. no image in any known layout)
        for problem in dataset.problems[:-1]:
            print(f"warning: {problem}", file=sys.stderr)
        raise DatasetError(str(dataset.problems[-1]) if dataset.problems else
                           f"{args.data} holds no images seg-desktop can read; pass the folder with the images.",
                           args.data)
    problems = [str(p) for p in dataset.problems]

    def progress(done: int, total: int, key: str) -> None:
        if sys.stdout.isatty():  # a live counter on a terminal; logs get only the summary line
            print(f"\rpredicted {done}/{total}", end="", flush=True)

    written = export_predictions(run, dataset, dataset.samples, args.out, fmt=args.format,
                                 probabilities=args.probabilities, progress=progress, tile=args.tile,
                                 problems=problems)
    carriage_return = "\r" if sys.stdout.isatty() else ""
    print(f"{carriage_return}wrote {len(written)} {args.format} masks to {display_path(args.out)}")
    return _skipped(problems, f"the masks of the other {len(written)} images were written")


def _run_export(args: argparse.Namespace) -> int:
    """Export the run's model; success is printed only after the export was read back and matched the model."""
    from .ml.export import check_format, export_model

    check_format(args.format)  # a missing extra is said before seconds go into loading TensorFlow
    _require_folder(args.run, "run folder made by `seg-desktop train`")
    from .ml.quiet import start_tensorflow_quietly

    start_tensorflow_quietly()
    result = export_model(args.run, args.format, args.out, data=args.data)
    print(f"exported the {args.format} model to {display_path(result.folder)} (with model.json and predict.py); "
          f"checked against the Keras model: {result.parity}")
    return 0


def _run_import(args: argparse.Namespace) -> int:
    """Import SRC into OUT; each skipped file or shape is one warning line, and any makes the exit code 1."""
    from .core.formats.transfer import import_masks

    result = import_masks(args.src, args.format, args.out, link=args.link or "copy")
    print(f"imported {result.images} images and {result.masks} masks with {len(result.classes.classes)} classes "
          f"into {display_path(result.out)}")
    for problem in result.problems:
        print(f"warning: {problem}", file=sys.stderr)
    if result.problems:
        print(f"seg-desktop: {len(result.problems)} file(s) or shape(s) were skipped (named above); fix them and "
              "import again into a new folder to bring them too.", file=sys.stderr)
    return 1 if result.problems else 0


def _run_export_masks(args: argparse.Namespace) -> int:
    """Export the ground truth (or `--run`'s predictions); success only when the export reads back the same."""
    if args.run is not None:
        run, dataset = _load(args)
        from .ml.predict import predict_sample

        samples, classes = dataset.samples, run.classes

        def load(sample):
            return predict_sample(run, dataset, sample, tile=args.tile, probabilities=False)[1].mask
    else:
        _require_folder(args.data, "dataset folder")
        from .core.dataset import open_dataset

        dataset = open_dataset(args.data)
        samples, classes, load = dataset.labelled(), dataset.classes, dataset.read_mask
    if not samples:
        raise DatasetError(f"{args.data} has no {'images' if args.run else 'masks'} to export; pass a dataset "
                           "folder with labelled images.", args.data)
    from .core.formats.transfer import export_masks, planned_samples

    items = [(p, lambda s=s: load(s)) for p, s in zip(planned_samples(samples), samples)]
    result = export_masks(items, classes, args.format, args.out, dataset=dataset)
    print(f"wrote {result.written} {args.format} masks to {display_path(result.out)}")
    for difference in result.differences:
        print(f"difference: {difference}", file=sys.stderr)
    if result.differences:
        print(f"seg-desktop: the export reads back differently in {len(result.differences)} place(s) (above); it "
              "is not a faithful copy of the masks.", file=sys.stderr)
        _skipped([str(p) for p in dataset.problems] + result.problems, "the others were exported")
        return 1
    check = ("pixel-exact" if result.worst_iou is None else
             f"every class of every image within IoU {result.worst_iou:.4f}")
    print(f"checked by reading it back: {check}")
    return _skipped([str(p) for p in dataset.problems] + result.problems, "the others were exported")


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
            return _run_gui(args.folder)
        if args.command == "sample":
            return _run_sample(args)
        if args.command == "train":
            return _run_train(args)
        if args.command == "evaluate":
            return _run_evaluate(args)
        if args.command == "predict":
            return _run_predict(args)
        if args.command == "export":
            return _run_export(args)
        if args.command == "import":
            return _run_import(args)
        if args.command == "export-masks":
            return _run_export_masks(args)
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
