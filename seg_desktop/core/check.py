"""Decode every file of a dataset once and list the bad ones, each with one sentence naming it.

Opening a folder only lists files (fast); this is the slower pass the GUI runs in the background after opening
and the trainer runs before training, so a truncated PNG or a mask of the wrong size is reported by name instead
of failing an epoch halfway through.
"""

from __future__ import annotations

from collections.abc import Callable

from .dataset import Dataset, Problem, Sample
from .errors import DatasetError
from .imageio import read_image


def check_sample(dataset: Dataset, sample: Sample, decode_image: bool = True) -> Problem | None:
    """The first problem of one sample (image unreadable, mask unreadable, of another size, unknown values)."""
    try:
        if decode_image:
            read_image(sample.image_path)
        if sample.mask_path is not None:
            dataset.read_mask(sample)  # checks size against the image header, colours and values
    except DatasetError as exc:
        return Problem(exc.path if exc.path is not None else sample.image_path, str(exc))
    return None


def check_dataset(dataset: Dataset, decode_images: bool = True,
                  progress: Callable[[int, int], None] | None = None, stop=None) -> list[Problem]:
    """Problems of all samples (also added to `dataset.problems`); `stop.is_set()` ends the pass early."""
    found: list[Problem] = []
    known = {(str(p.path), p.reason) for p in dataset.problems}
    total = len(dataset.samples)
    for i, sample in enumerate(dataset.samples):
        if stop is not None and stop.is_set():
            break
        problem = check_sample(dataset, sample, decode_images)
        if problem is not None:
            found.append(problem)
            if (str(problem.path), problem.reason) not in known:
                dataset.problems.append(problem)
        if progress is not None:
            progress(i + 1, total)
    return found
