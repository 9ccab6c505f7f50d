"""Import a source in any format into seg-desktop's own layout, and export masks to any format with a check.

Both go through the write guard: every output file is planned and checked before the first is written, a folder
of the user's is never written into, and the source of an import is only read. An export is read back with the
same format's reader before success is reported: raster formats must give back every pixel, polygon formats
every class of every image with an IoU of at least MIN_IOU; anything else is reported as a difference.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..classes import ClassSet
from ..dataset import Dataset, Sample
from ..errors import DatasetError
from ..maskio import MaskFormat, encode_mask
from ..paths import fit_name
from ..writeguard import WriteRefused, claim_output, unique_names
from . import get_format
from .base import Entry, Planned
from .layout import LayoutWriter, plan_layout

LINKS = ("copy", "hard", "sym")
MIN_IOU = 0.99
Progress = Callable[[int, int], None]


@dataclass
class ImportResult:
    out: Path
    images: int
    masks: int
    classes: ClassSet
    problems: list[str] = field(default_factory=list)  # each skipped file or shape, named once


@dataclass
class ExportResult:
    out: Path
    written: int
    problems: list[str] = field(default_factory=list)  # images that could not be exported
    differences: list[str] = field(default_factory=list)  # what the read-back found different
    worst_iou: float | None = None  # polygon formats: the lowest IoU of any class of any image
    pixels_differing: int = 0  # raster formats: pixels read back as another class


def _inside(path: Path, folder: Path) -> bool:
    path, folder = Path(os.path.abspath(path)), Path(os.path.abspath(folder))
    try:
        path, folder = path.resolve(), folder.resolve()
    except (OSError, RuntimeError):
        pass
    return path == folder or folder in path.parents


def import_masks(src: Path | str, fmt: str, out: Path | str, link: str = "copy", progress: Progress | None = None,
                 stop: threading.Event | None = None) -> ImportResult:
    """Read `src` in `fmt` and write `out/images/`, `out/masks/` (index PNGs) and `out/classes.csv`.

    `out` must be new, empty or an earlier output of seg-desktop, and outside `src` (which is only read). A file
    or shape that cannot be used is skipped and named in `problems`; the rest is imported."""
    if link not in LINKS:
        raise ValueError(f"link must be one of {', '.join(LINKS)}, not {link!r}")
    src, out = Path(src).expanduser(), Path(out).expanduser()
    source = get_format(fmt).read(src)  # first: a missing or unreadable source is what to say
    if _inside(out, src if src.is_dir() else src.parent):
        raise WriteRefused(f"{out} is inside the source {src}, which an import only reads; choose an output folder "
                           "outside it.", out)
    entries = source.entries
    names = unique_names([fit_name(e.name, 16) for e in entries], [""])
    items = [Planned(n, e.image, e.split or "train") for n, e in zip(names, entries)]
    output = claim_output(out, plan_layout(items, source.classes), "imported dataset", fresh=True)
    writer = LayoutWriter(output, source.classes, link)  # index masks; unlabelled images stay unlabelled
    problems = list(source.problems)
    counts = {"images": 0, "masks": 0}

    def add(pair: tuple[Planned, Entry]) -> None:
        item, entry = pair
        writer.add(item, None if entry.load is None else entry.load(problems))
        counts["images"] += 1
        counts["masks"] += entry.load is not None

    _each_file(list(zip(items, entries)), add, "it was skipped", problems, progress, stop)
    writer.close(items)
    output.finish()
    return ImportResult(output.folder, counts["images"], counts["masks"], source.classes, problems)


def _each_file(items: Sequence, work: Callable, skipped: str, problems: list[str], progress: Progress | None,
               stop: threading.Event | None) -> None:
    """`work(item)` for each item until `stop` is set, reporting progress; a DatasetError costs only that item,
    named in `problems` with `skipped` said after it (imports and exports go on with the other files)."""
    for done, item in enumerate(items, start=1):
        if stop is not None and stop.is_set():
            break
        try:
            work(item)
        except DatasetError as exc:
            problems.append(f"{str(exc).rstrip('.')}; {skipped}.")
        if progress is not None:
            progress(done, len(items))


# ---------------------------------------------------------------- export


def planned_samples(samples: Sequence[Sample]) -> list[Planned]:
    """One output name per sample (its stem, made unique and short enough to carry any suffix)."""
    names = unique_names([fit_name(s.stem, 32) for s in samples], [""])
    return [Planned(n, s.image_path, s.split) for n, s in zip(names, samples)]


def export_masks(items: Sequence[tuple[Planned, Callable[[], np.ndarray]]], classes: ClassSet, fmt: str,
                 out: Path | str, dataset: Dataset | None = None, progress: Progress | None = None,
                 stop: threading.Event | None = None) -> ExportResult:
    """Write each item's mask (`load()` gives it; a DatasetError skips that image, named in `problems`) with its
    image in `fmt`, then read the export back and compare (see the module docstring)."""
    module = get_format(fmt)
    out = Path(out).expanduser()
    output = claim_output(out, module.plan([p for p, _ in items], classes), f"{fmt} export", fresh=True,
                          dataset=dataset)
    writer = module.Writer(output, classes)
    kept: dict[str, bytes] = {}  # what was exported, PNG-compressed, to compare with what reads back
    written: list[Planned] = []
    problems: list[str] = []

    def add(pair: tuple[Planned, Callable[[], np.ndarray]]) -> None:
        item, load = pair
        mask = load()
        writer.add(item, mask)
        kept[item.name] = encode_mask(mask, MaskFormat("index"), None)
        written.append(item)

    _each_file(items, add, "it was not exported", problems, progress, stop)
    writer.close(written)
    output.finish()
    result = ExportResult(output.folder, len(written), problems)
    check_export(module, result, kept, classes)
    return result


def check_export(module, result: ExportResult, kept: dict[str, bytes], classes: ClassSet) -> None:
    """Read the export back with the format's own reader and record every difference in `result`."""
    try:
        source = module.read(result.out)
    except DatasetError as exc:
        result.differences.append(f"The export could not be read back: {exc}")
        return
    found = {e.name: e for e in source.entries}
    skipped: list[str] = list(source.problems)
    first = 1 if module.POLYGONS else 0  # polygon formats have no class 0 of their own
    for c in classes.classes:
        if c.index >= first and source.classes.name_of(c.index) != c.name:
            result.differences.append(f"Class {c.index} reads back as {source.classes.name_of(c.index)!r}, not "
                                      f"{c.name!r}.")
    for name, png in kept.items():
        entry = found.get(name)
        if entry is None or entry.load is None:
            result.differences.append(f"{name} was exported but is missing when the export is read back.")
            continue
        try:
            back = entry.load(skipped)
        except DatasetError as exc:
            result.differences.append(f"{name} cannot be read back: {exc}")
            continue
        mask = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_UNCHANGED)
        if back.shape != mask.shape:
            result.differences.append(f"{name} reads back at {back.shape[1]}x{back.shape[0]}, not "
                                      f"{mask.shape[1]}x{mask.shape[0]}.")
            continue
        if not module.POLYGONS:
            differing = int(np.count_nonzero(back != mask))
            result.pixels_differing += differing
            if differing:
                result.differences.append(f"{name}: {differing} pixels read back as another class.")
            continue
        for value in np.flatnonzero(np.bincount(mask.ravel(), minlength=256) +
                                    np.bincount(back.ravel(), minlength=256)).tolist():
            a, b = mask == value, back == value
            iou = float(np.count_nonzero(a & b) / np.count_nonzero(a | b))
            result.worst_iou = iou if result.worst_iou is None else min(result.worst_iou, iou)
            if iou < MIN_IOU:
                result.differences.append(f"{name}: class {classes.name_of(value)!r} reads back with IoU "
                                          f"{iou:.4f} (below {MIN_IOU}).")
    result.differences += [f"Reading the export back: {p}" for p in skipped]
