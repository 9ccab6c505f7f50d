"""`labelme`: one LabelMe JSON per image (`shapes`: label + points, `imagePath` beside it, `imageHeight`/`imageWidth`)
with `labels.txt` listing the classes in order as labelme2voc reads it (`__ignore__` is void 255, `_background_`
is class 0). Without labels.txt the labels found in the JSON files are numbered alphabetically from 1.

Polygons, rectangles and circles are painted in file order (a later shape wins where they overlap); lines,
points and masks are skipped, each named once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np

from ..classes import ClassSet
from ..errors import DatasetError
from ..imageio import image_size
from ..safeio import present, read_json, read_text_capped
from .base import (Entry, Planned, Source, Writer as BaseWriter, classes_from_names, copy_image, list_files,
                   mask_shapes, outside, paint, require_source, VOID)

TITLE = "LabelMe JSON polygons (+ labels.txt)"
POLYGONS = True
IGNORE = "__ignore__"
BACKGROUND = "_background_"


def _document(path: Path) -> dict:
    data = read_json(path, "LabelMe file")
    if not isinstance(data, dict) or not isinstance(data.get("shapes"), list):
        raise DatasetError(f"{path} is not a LabelMe file (no list of shapes); export it again from LabelMe or "
                           "remove it.", path)
    return data


def _label(shape: object) -> str | None:
    return shape.get("label") if isinstance(shape, dict) and isinstance(shape.get("label"), str) else None


def read_classes(root: Path, files: list[Path]) -> ClassSet:
    if present(root / "labels.txt"):
        names = [line.strip() for line in read_text_capped(root / "labels.txt", "csv").splitlines() if line.strip()]
        return classes_from_names(names, str(root / "labels.txt"), ignore_name=IGNORE)
    labels: set[str] = set()
    for path in files:
        try:
            labels.update(filter(None, map(_label, _document(path)["shapes"])))
        except DatasetError:
            continue  # reported when the file is imported
    return classes_from_names(sorted(labels), "labels in the LabelMe files", ignore_name=IGNORE)


def _points(shape: dict) -> np.ndarray | None:
    try:
        pts = np.asarray(shape.get("points"), dtype=np.float64)
    except (TypeError, ValueError):
        return None
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 1 or not np.isfinite(pts).all():
        return None
    kind = shape.get("shape_type") or "polygon"
    if kind == "rectangle" and len(pts) == 2:
        (x0, y0), (x1, y1) = pts
        return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
    if kind == "circle" and len(pts) == 2:
        (cx, cy), (px, py) = pts
        r = float(np.hypot(px - cx, py - cy))
        return cv2.ellipse2Poly((round(cx), round(cy)), (round(r), round(r)), 0, 0, 360, 5).astype(np.float64)
    return pts if kind == "polygon" else None


def load_document(path: Path, image: Path, classes: ClassSet, problems: list[str]) -> np.ndarray:
    data = _document(path)
    w, h = image_size(image)
    declared = (data.get("imageWidth"), data.get("imageHeight"))
    if None not in declared and declared != (w, h):
        raise DatasetError(f"{path} is for a {declared[0]}x{declared[1]} image but {image.name} is {w}x{h}; "
                           "point imagePath at the right image.", path)
    by_name = {c.name: c.index for c in classes.classes}
    by_name.update({BACKGROUND: 0, "background": 0})
    if classes.ignore_index is not None:
        by_name[IGNORE] = classes.ignore_index
    mask = np.zeros((h, w), np.uint8)
    for n, shape in enumerate(data["shapes"], start=1):
        label = _label(shape)
        pts = _points(shape) if label is not None else None
        what = f"{path}, shape {n}" + (f" ({label!r})" if label else "")
        if pts is None:
            kind = shape.get("shape_type", "polygon") if isinstance(shape, dict) else "?"
            problems.append(f"{what} is a {kind} without a label and area seg-desktop can paint; it was skipped.")
        elif label not in by_name:
            problems.append(f"{what} has the label {label!r}, which labels.txt does not list; it was skipped "
                            "(add the label to labels.txt to keep it).")
        elif outside(pts, w, h):
            problems.append(f"{what} has points outside the {w}x{h} image; it was skipped (move them inside).")
        else:
            paint(mask, pts, by_name[label])
    return mask


def read(src: Path) -> Source:
    root = require_source(src, "LabelMe JSON files and their images")
    files = list_files(root, ".json")
    if not files:
        raise DatasetError(f"{root} holds no LabelMe .json files; pass the folder LabelMe saved them in.", root)
    problems: list[str] = []
    classes = read_classes(root, files)
    entries = []
    for path in files:
        try:
            image_path = _document(path).get("imagePath")
        except DatasetError as exc:
            problems.append(f"{str(exc).rstrip('.')}; it was skipped.")
            continue
        if isinstance(image_path, str):
            image_path = image_path.replace("\\", "/")  # LabelMe on Windows writes ..\\images\\a.jpg
        image = path.parent / image_path if isinstance(image_path, str) and image_path else None
        if image is None or not image.is_file():
            problems.append(f"{path} names the image {image_path!r}, which is not beside it; it was skipped (put "
                            "the image there or fix imagePath).")
            continue
        entries.append(Entry(path.stem, image, lambda problems, path=path, image=image:
                             load_document(path, image, classes, problems)))
    return Source(classes, entries, problems)


def _names(classes: ClassSet) -> list[str]:
    top = max((c.index for c in classes.classes if c.index != VOID), default=0)  # 255 is written as __ignore__
    return [classes.name_of(i) for i in range(1, top + 1)]


def plan(items: Sequence[Planned], classes: ClassSet) -> list[str]:
    return [n for i in items for n in (f"{i.name}.json", i.image_file)] + ["labels.txt"]


class Writer(BaseWriter):
    def add(self, item: Planned, mask: np.ndarray) -> None:
        names = {0: BACKGROUND, VOID: IGNORE, **dict(enumerate(_names(self.classes), start=1))}
        shapes = [{"label": names[value], "points": points.tolist(), "group_id": None, "description": "",
                   "shape_type": "polygon", "flags": {}} for value, points in mask_shapes(mask)]
        doc = {"version": "5.4.1", "flags": {}, "shapes": shapes, "imagePath": item.image_file, "imageData": None,
               "imageHeight": int(mask.shape[0]), "imageWidth": int(mask.shape[1])}
        self.out.write_bytes(f"{item.name}.json", json.dumps(doc, indent=1).encode())
        copy_image(self.out, item.image_file, item.image)

    def close(self, written: Sequence[Planned]) -> None:
        void = [IGNORE] if self.classes.ignore_index is not None or VOID in self.classes.valid_values else []
        self.out.write_bytes("labels.txt", "\n".join([*void, BACKGROUND, *_names(self.classes)]).encode() + b"\n")
