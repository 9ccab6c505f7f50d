"""The commands that use a trained run: `evaluate` (scores), `predict` (masks) and `export` (the model)."""

from __future__ import annotations

import argparse
import sys

from ..core.errors import DatasetError
from ..core.paths import display_path
from ..core.safeio import require_folder
from .common import load_run_and_data, report_skipped


def run_evaluate(args: argparse.Namespace) -> int:
    """Scores of the run's best model on the chosen split, as a table or JSON (the shape of metrics.json)."""
    import json

    run, dataset = load_run_and_data(args)
    from ..ml.inputs import split_samples
    from ..ml.predict import evaluate_dataset, json_safe

    if args.split == "val":
        samples = split_samples(dataset, run.config.val_split, run.config.seed, run.config.split_rule)[1]
    else:
        samples = dataset.labelled(None if args.split == "all" else args.split)
    if not samples:
        raise DatasetError(f"{args.data} has no labelled images in the {args.split} split; choose --split all or "
                           "another split.", args.data)
    result = evaluate_dataset(run, dataset, samples, tile=args.tile)
    problems = [str(p) for p in dataset.problems] + result["problems"]
    if not result["num_images"]:
        report_skipped(problems, "nothing was scored")
        raise DatasetError(f"None of the {len(samples)} {args.split} images of {args.data} could be scored; fix "
                           "the files named above.", args.data)
    result = {"run": str(args.run), "data": str(args.data), "split": args.split, **result}
    done = f"the scores are of the other {result['num_images']} images"
    if args.json:
        print(json.dumps(json_safe(result), indent=2))
        return report_skipped(problems, done)
    print(f"{display_path(run.model_file)}: {result['num_images']} {args.split} images of "
          f"{display_path(args.data)}")
    print(f"{'class':<20} {'IoU':>7} {'Dice':>7}")
    for name, s in result["per_class"].items():
        iou, dice = ("-" if v != v else f"{v:.4f}" for v in (s["iou"], s["dice"]))  # NaN: class absent
        print(f"{name[:20]:<20} {iou:>7} {dice:>7}")
    print(f"{'mean':<20} {result['mean_iou']:>7.4f} {result['mean_dice']:>7.4f}")
    print(f"pixel accuracy {result['pixel_accuracy']:.4f}")
    return report_skipped(problems, done)


def run_predict(args: argparse.Namespace) -> int:
    """One mask per image at the image's own size; unreadable files are named, the rest still written (exit 1)."""
    run, dataset = load_run_and_data(args)
    from ..ml.predict import export_predictions

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
    return report_skipped(problems, f"the masks of the other {len(written)} images were written")


def run_export(args: argparse.Namespace) -> int:
    """Export the run's model; success is printed only after the export was read back and matched the model."""
    from ..ml.export import check_format, export_model

    check_format(args.format)  # a missing extra is said before seconds go into loading TensorFlow
    require_folder(args.run, "run folder made by `seg-desktop train`")
    from ..ml.quiet import start_tensorflow_quietly

    start_tensorflow_quietly()
    result = export_model(args.run, args.format, args.out, data=args.data)
    print(f"exported the {args.format} model to {display_path(result.folder)} (with model.json and predict.py); "
          f"checked against the Keras model: {result.parity}")
    return 0
