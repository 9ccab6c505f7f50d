"""`yolo`: Ultralytics YOLO segmentation, `images/SPLIT/NAME.ext` with `labels/SPLIT/NAME.txt` (one polygon per
line: class id, then x y pairs normalised to 0-1) and the class names in `classes.txt` (one per line, the line
is the id) or `data.yaml` (`names:`). YOLO has no background class: the pixels no polygon covers are class 0
("background") and YOLO id k becomes class k+1, unless the list itself names a background, which then is class
0. An image without a label file has no objects (all background), as in YOLO training.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..classes import ClassSet
from ..errors import DatasetError
from ..imageio import IMAGE_EXTENSIONS, image_size
from ..safeio import present, read_text_capped
from .base import (BACKGROUND_NAMES, Entry, Planned, Source, Writer as BaseWriter, classes_from_names, copy_image,
                   list_files, mask_shapes, outside, paint, polygon_names, require_source)

TITLE = "YOLO segmentation (images/ + labels/*.txt polygons + classes.txt)"
POLYGONS = True


def yaml_names(path: Path) -> list[str]:
    """`names:` of a data.yaml, in the three ways Ultralytics writes it: `[a, b]`, a `- a` list, `0: a` pairs."""
    lines = read_text_capped(path, "csv").splitlines()
    for i, line in enumerate(lines):
        match = re.match(r"names:\s*(.*)$", line)
        if not match:
            continue
        inline = match.group(1).split("#")[0].strip()
        if inline.startswith("["):
            return [n.strip().strip("'\"") for n in inline.strip("[]").split(",") if n.strip()]
        names: dict[int, str] = {}
        for item in lines[i + 1:]:
            entry = re.match(r"\s+(?:-\s*(.+)|(\d+)\s*:\s*(.+))$", item)
            if not entry:
                break
            index = len(names) if entry.group(1) else int(entry.group(2))
            names[index] = (entry.group(1) or entry.group(3)).split(" #")[0].strip().strip("'\"")
        return [names.get(k, f"class {k}") for k in range(max(names) + 1)] if names else []
    return []


def read_names(root: Path) -> tuple[list[str], str]:
    for name in ("classes.txt", "data.yaml", "dataset.yaml"):
        path = root / name
        if present(path):
            names = ([n.strip() for n in read_text_capped(path, "csv").splitlines() if n.strip()]
                     if name == "classes.txt" else yaml_names(path))
            if names:
                return names, str(path)
    raise DatasetError(f"{root} has no classes.txt or data.yaml with names; add the class names (one per line "
                       "in classes.txt, in id order).", root)


def load_labels(path: Path, image: Path, ids: dict[int, int], problems: list[str]) -> np.ndarray:
    w, h = image_size(image)
    mask = np.zeros((h, w), np.uint8)
    if not present(path):
        return mask
    for n, line in enumerate(read_text_capped(path, "csv").splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        where = f"{path}, line {n}"
        try:
            cls, coords = int(fields[0]), np.array([float(v) for v in fields[1:]])
        except ValueError:
            problems.append(f"{where} is not a class id and numbers; it was skipped.")
            continue
        if cls not in ids:
            problems.append(f"{where} has class id {cls}, which the class list does not have; it was skipped.")
        elif len(coords) == 4:
            problems.append(f"{where} is a box, not a polygon (a detection label); it was skipped.")
        elif len(coords) < 2 or len(coords) % 2 or not np.isfinite(coords).all():
            problems.append(f"{where} is not a polygon (an odd count of coordinates); it was skipped.")
        else:
            pts = coords.reshape(-1, 2) * (w, h)
            if outside(pts, w, h):
                problems.append(f"{where} has points outside the image (beyond 0-1); it was skipped.")
            else:
                paint(mask, pts, ids[cls])
    return mask


def read(src: Path) -> Source:
    root = require_source(src, "images/ and labels/ of a YOLO dataset")
    names, source = read_names(root)
    classes = classes_from_names(names, source)
    by_name = {c.name: c.index for c in classes.classes}
    ids = {k: 0 if n.strip().lower() in BACKGROUND_NAMES else by_name[n] for k, n in enumerate(names)}
    images = [p for ext in IMAGE_EXTENSIONS for p in list_files(root / "images", ext)]
    if not images:
        raise DatasetError(f"{root} has no images under images/; pass the YOLO dataset folder.", root)
    entries = []
    for image in sorted(images):
        rel = image.relative_to(root / "images")
        label = (root / "labels" / rel).with_suffix(".txt")
        split = rel.parts[0] if len(rel.parts) > 1 else None
        entries.append(Entry(image.stem, image, lambda problems, label=label, image=image:
                             load_labels(label, image, ids, problems), split))
    labelled = {(root / "images" / p.relative_to(root / "labels")).with_suffix("") for p in
                list_files(root / "labels", ".txt")}
    orphans = sorted(labelled - {i.with_suffix("") for i in images})
    problems = [f"{root / 'labels' / o.relative_to(root / 'images')}.txt has no image; it was skipped."
                for o in orphans]
    return Source(classes, entries, problems)


def _split(item: Planned) -> str:
    return "val" if item.split == "val" else "test" if item.split == "test" else "train"


def plan(items: Sequence[Planned], classes: ClassSet) -> list[str]:
    names = [n for i in items for n in (f"images/{_split(i)}/{i.image_file}", f"labels/{_split(i)}/{i.name}.txt")]
    return names + ["classes.txt", "data.yaml"]


class Writer(BaseWriter):
    def add(self, item: Planned, mask: np.ndarray) -> None:
        background = len(polygon_names(self.classes)) - 1
        h, w = mask.shape
        lines = []
        for value, points in mask_shapes(mask):
            coords = " ".join(f"{x / w:.6f} {y / h:.6f}" for x, y in points.tolist())
            lines.append(f"{value - 1 if value else background} {coords}\n")
        self.out.write_bytes(f"labels/{_split(item)}/{item.name}.txt", "".join(lines).encode())
        copy_image(self.out, f"images/{_split(item)}/{item.image_file}", item.image)

    def close(self, written: Sequence[Planned]) -> None:
        names = polygon_names(self.classes)
        self.out.write_bytes("classes.txt", "\n".join(names).encode() + b"\n")
        splits = sorted({_split(p) for p in written}) or ["train"]
        yaml = ["path: .", *(f"{s}: images/{s}" for s in splits), "names:",
                *(f"  {k}: {n!r}" for k, n in enumerate(names))]
        self.out.write_bytes("data.yaml", ("\n".join(yaml) + "\n").encode())
