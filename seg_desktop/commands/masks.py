"""The commands that write datasets and masks: `sample` (a synthetic dataset), `import` and `export-masks`
(the formats of other tools, core/formats)."""

from __future__ import annotations

import argparse
import sys

from ..core.errors import DatasetError
from ..core.paths import display_path
from ..core.safeio import require_folder
from .common import load_run_and_data, report_skipped


def run_sample(args: argparse.Namespace) -> int:
    """Write the synthetic dataset (the write guard refuses a folder of the user's before writing anything)."""
    from ..core.sample_data import make_sample_dataset

    if args.n < 1 or args.size < 16:
        raise DatasetError("--n must be at least 1 and --size at least 16.")
    out = make_sample_dataset(args.out, n=args.n, size=args.size, seed=args.seed)
    print(f"wrote {args.n} image/mask pairs and classes.csv to {out}")
    return 0


def run_import(args: argparse.Namespace) -> int:
    """Import SRC into OUT; each skipped file or shape is one warning line, and any makes the exit code 1."""
    from ..core.formats.transfer import import_masks

    result = import_masks(args.src, args.format, args.out, link=args.link or "copy")
    print(f"imported {result.images} images and {result.masks} masks with {len(result.classes.classes)} classes "
          f"into {display_path(result.out)}")
    for problem in result.problems:
        print(f"warning: {problem}", file=sys.stderr)
    if result.problems:
        print(f"seg-desktop: {len(result.problems)} file(s) or shape(s) were skipped (named above); fix them and "
              "import again into a new folder to bring them too.", file=sys.stderr)
    return 1 if result.problems else 0


def run_export_masks(args: argparse.Namespace) -> int:
    """Export the ground truth (or `--run`'s predictions); success only when the export reads back the same."""
    if args.run is not None:
        run, dataset = load_run_and_data(args)
        from ..ml.inference import predict_sample

        samples, classes = dataset.samples, run.classes

        def load(sample):
            return predict_sample(run, dataset, sample, tile=args.tile, probabilities=False)[1].mask
    else:
        require_folder(args.data, "dataset folder")
        from ..core.dataset import open_dataset

        dataset = open_dataset(args.data)
        samples, classes, load = dataset.labelled(), dataset.classes, dataset.read_mask
    if not samples:
        raise DatasetError(f"{args.data} has no {'images' if args.run else 'masks'} to export; pass a dataset "
                           "folder with labelled images.", args.data)
    from ..core.formats.transfer import export_masks, planned_samples

    items = [(p, lambda s=s: load(s)) for p, s in zip(planned_samples(samples), samples)]
    result = export_masks(items, classes, args.format, args.out, dataset=dataset)
    print(f"wrote {result.written} {args.format} masks to {display_path(result.out)}")
    for difference in result.differences:
        print(f"difference: {difference}", file=sys.stderr)
    if result.differences:
        print(f"seg-desktop: the export reads back differently in {len(result.differences)} place(s) (above); it "
              "is not a faithful copy of the masks.", file=sys.stderr)
        report_skipped([str(p) for p in dataset.problems] + result.problems, "the others were exported")
        return 1
    check = ("pixel-exact" if result.worst_iou is None else
             f"every class of every image within IoU {result.worst_iou:.4f}")
    print(f"checked by reading it back: {check}")
    return report_skipped([str(p) for p in dataset.problems] + result.problems, "the others were exported")
