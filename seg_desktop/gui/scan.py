"""The session's worker-thread jobs: scan a folder (with the autosaves worth offering), decode one image, and
check every image of a folder once. Plain functions over core/, no Qt, run through `workers.run_in_thread`."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..core.autosave import Autosave, list_autosaves, newer_than_masks, read_autosave
from ..core.dataset import Dataset, Problem, Sample, open_dataset
from ..core.errors import DatasetError
from ..core.project import Project, load_project


@dataclass(frozen=True)
class RestoreItem:
    """An autosave worth offering after a crash: the mask on disk now (None: none, or unreadable) and the
    autosaved one, so the prompt can show both side by side."""

    entry: Autosave
    saved: np.ndarray | None
    autosaved: np.ndarray

    @property
    def key(self) -> str:
        return self.entry.key


@dataclass
class OpenResult:
    """What the worker found in a folder: the dataset, its project state and the autosaves to offer or drop."""

    dataset: Dataset
    project: Project
    restores: list[RestoreItem] = field(default_factory=list)
    stale: list[Autosave] = field(default_factory=list)  # superseded by the mask on disk, or unreadable


def scan_folder(folder: Path) -> OpenResult:
    """Index a folder (worker thread): layout, samples, classes, problems, project.json, autosaves."""
    project = load_project(Path(folder).expanduser().resolve())
    dataset = open_dataset(folder, project.val_fraction, project.test_fraction, project.seed)
    project.folder = dataset.root
    skipped: list[DatasetError] = []
    entries = list_autosaves(dataset.root, skipped)
    dataset.problems.extend(Problem(exc.path, str(exc)) for exc in skipped)
    samples = {s.key: s for s in dataset.samples}
    mtimes: dict[str, float | None] = {}
    for entry in entries:
        sample = samples.get(entry.key)
        if sample is not None:
            try:
                mtimes[entry.key] = sample.mask_path.stat().st_mtime if sample.mask_path else None
            except OSError:
                mtimes[entry.key] = None
    offered = newer_than_masks(entries, mtimes)
    result = OpenResult(dataset, project, stale=[e for e in entries if e not in offered])
    for entry in offered:
        sample = samples[entry.key]
        try:
            autosaved = read_autosave(entry)
        except DatasetError as exc:
            dataset.problems.append(Problem(entry.path, str(exc)))
            result.stale.append(entry)
            continue
        try:
            saved = dataset.read_mask(sample) if sample.labelled else None
        except DatasetError:  # a damaged mask on disk is all the more reason to offer its autosave
            saved = None
        result.restores.append(RestoreItem(entry, saved, autosaved))
    return result


def read_sample(dataset: Dataset, sample: Sample) -> tuple[str, np.ndarray, np.ndarray | None]:
    """Decode one image and its mask (worker thread)."""
    image = dataset.read_image(sample)
    return sample.key, image, dataset.read_mask(sample) if sample.labelled else None


def verify_images(dataset: Dataset, stop: threading.Event, progress: Callable[[tuple[str, str]], None]) -> None:
    """Decode every image once (worker thread), reporting `(key, sentence)` through `progress` for each that
    cannot be read, so a truncated file is a problem as soon as the folder opens, not when it is clicked."""
    for sample in list(dataset.samples):
        if stop.is_set():
            return
        try:
            dataset.read_image(sample)
        except (DatasetError, OSError, ValueError, MemoryError) as exc:
            progress((sample.key, str(exc) if isinstance(exc, DatasetError) else
                      f"{sample.image_path} cannot be read ({exc}); fix or remove it."))
