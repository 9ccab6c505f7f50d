"""The runners of the headless `seg-desktop` commands, one module per family; `seg_desktop.cli` parses the
command line and dispatches here. Each runner takes the parsed arguments and returns the exit code."""

from __future__ import annotations

from .masks import run_export_masks, run_import, run_sample
from .model import run_evaluate, run_export, run_predict
from .train import run_train

RUNNERS = {"sample": run_sample, "train": run_train, "evaluate": run_evaluate, "predict": run_predict,
           "export": run_export, "import": run_import, "export-masks": run_export_masks}
