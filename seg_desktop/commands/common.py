"""What every headless command shares: loading a run with its dataset after the cheap checks said before
TensorFlow loads, and the exit code when some files were skipped (docs/ARCHITECTURE.md)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from ..core.safeio import require_folder

if TYPE_CHECKING:
    from ..core.dataset import Dataset
    from ..ml.inference import LoadedRun


def load_run_and_data(args: argparse.Namespace) -> tuple[LoadedRun, Dataset]:
    """The run's model and the dataset, after the cheap checks that need no TensorFlow."""
    require_folder(args.run, "run folder made by `seg-desktop train`")
    require_folder(args.data, "dataset folder")
    from ..ml.quiet import start_tensorflow_quietly

    start_tensorflow_quietly()
    from ..core.dataset import open_dataset
    from ..ml.inference import load_run

    run = load_run(args.run)
    # the run's own fraction, seed and split rule, so `--split val` draws the very images it was validated on
    dataset = open_dataset(args.data, val_fraction=run.config.val_split, seed=run.config.seed,
                           split_rule=run.config.split_rule)
    return run, dataset


def report_skipped(problems: list[str], done: str) -> int:
    """Exit 1 when any file was skipped, after the work on all the others is done: the output is then
    incomplete, and a script must not mistake it for a whole one. Each file gets its own line."""
    for problem in problems:
        print(f"warning: {problem}", file=sys.stderr)
    if not problems:
        return 0
    print(f"seg-desktop: {len(problems)} file(s) could not be used (named above) and {done}; fix or remove them "
          "and run the command again.", file=sys.stderr)
    return 1
