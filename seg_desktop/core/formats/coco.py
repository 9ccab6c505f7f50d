"""`coco`: a COCO instances JSON (`images`, `annotations`, `categories`) with the images beside it, as CVAT and
Datumaro export it: `annotations/instances_default.json` + `images/`. Segmentations may be polygons or RLE
(compressed or not); pycocotools turns them into pixels. Category ids 1-255 are the class numbers themselves
(others are renumbered 1.. in id order); class 0 is the background no annotation covers. Annotations are painted
in file order, so where two overlap the later one wins. Export writes one exact RLE annotation per class present
in an image.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from pycocotools import mask as rle

from ..classes import IGNORE_NAMES, ClassInfo, ClassSet, default_palette
from ..errors import DatasetError
from ..imageio import image_size
from ..safeio import is_dir, read_json
from .base import BACKGROUND_NAMES, Entry, Planned, Source, Writer as BaseWriter, classes_from_names, copy_image
from .base import outside

TITLE = "COCO JSON (polygons or RLE, via pycocotools)"
POLYGONS = True
ANNOTATIONS = "annotations/instances_default.json"


def find_json(src: Path) -> Path:
    """SRC itself when it is a JSON file, else the one JSON in SRC/annotations/ or SRC."""
    src = Path(src).expanduser()
    if src.suffix.lower() == ".json" and not is_dir(src):
        return src
    if not is_dir(src):
        raise DatasetError(f"{src} does not exist; pass a COCO .json file or the folder that holds one.", src)
    for folder in (src / "annotations", src):
        found = sorted(p for p in folder.glob("*.json") if p.is_file()) if is_dir(folder) else []
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            raise DatasetError(f"{folder} holds {len(found)} JSON files ({found[0].name}, {found[1].name}, ...); "
                               "pass the one to import as SRC.", folder)
    raise DatasetError(f"{src} holds no COCO .json file (looked in annotations/ and the folder itself); pass the "
                       "annotation file as SRC.", src)


def _records(data: object, path: Path) -> tuple[list[dict], list[dict], list[dict]]:
    lists = tuple(data.get(k) if isinstance(data, dict) else None for k in ("images", "annotations", "categories"))
    if not all(isinstance(v, list) and all(isinstance(x, dict) for x in v) for v in lists):
        raise DatasetError(f"{path} is not a COCO file (it needs lists of images, annotations and categories); "
                           "export it again as COCO.", path)
    return lists


def read_categories(categories: list[dict], path: Path) -> tuple[ClassSet, dict[object, int]]:
    """Classes and category id -> class number."""
    ids = [c.get("id") for c in categories]
    names = [str(c.get("name", f"category {c.get('id')}")) for c in categories]
    if all(type(i) is int and 1 <= i <= 255 for i in ids) and len(set(ids)) == len(ids):
        pal = default_palette(256)
        infos = [ClassInfo(0, "background", (0, 0, 0))] + [ClassInfo(i, n, tuple(int(v) for v in pal[i]))
                                                            for i, n in zip(ids, names)
                                                            if n.strip().lower() not in BACKGROUND_NAMES]
        ignore = next((c.index for c in infos if c.name.strip().lower() in IGNORE_NAMES), None)
        classes = ClassSet(infos, ignore, str(path))
        return classes, {i: 0 if n.strip().lower() in BACKGROUND_NAMES else i for i, n in zip(ids, names)}
    order = sorted(range(len(ids)), key=lambda k: (str(type(ids[k])), ids[k]))
    classes = classes_from_names([names[k] for k in order], str(path))
    by_name = {c.name: c.index for c in classes.classes}
    return classes, {ids[k]: by_name.get(names[k], 0) for k in order}


def _pixels(seg: object, h: int, w: int) -> np.ndarray | str:
    """The annotation's pixels (H, W) of 0/1, or why it cannot be painted."""
    if isinstance(seg, list):
        polys = [p for p in seg if isinstance(p, list)]
        if not polys or len(polys) != len(seg):
            return "has no polygon"
        try:
            arrays = [np.asarray(p, dtype=np.float64) for p in polys]
        except (TypeError, ValueError):
            return "has a polygon that is not a list of numbers"
        if any(len(a) < 6 or len(a) % 2 or not np.isfinite(a).all() for a in arrays):
            return "has a polygon of fewer than 3 points or an odd count of coordinates"
        if any(outside(a.reshape(-1, 2), w, h) for a in arrays):
            return f"has points outside the {w}x{h} image"
        return rle.decode(rle.merge(rle.frPyObjects([a.tolist() for a in arrays], h, w)))
    if isinstance(seg, dict) and "counts" in seg:
        if seg.get("size") != [h, w]:
            return f"is an RLE of size {seg.get('size')}, not the image's {[h, w]}"
        counts = seg["counts"]
        try:
            if isinstance(counts, list):
                if not all(type(c) is int and c >= 0 for c in counts) or sum(counts) != h * w:
                    return "is an RLE whose counts do not add up to the image's pixels"
                return rle.decode(rle.frPyObjects(seg, h, w))
            if isinstance(counts, str):
                out = rle.decode({"size": [h, w], "counts": counts.encode("ascii")})
                return out
        except (ValueError, TypeError, UnicodeError, MemoryError):
            pass
        return "is a damaged RLE"
    return "has no segmentation (a box only)"


def load_image(path: Path, image: Path, record: dict, annotations: list[dict], ids: dict[object, int],
               problems: list[str]) -> np.ndarray:
    w, h = image_size(image)
    if (record.get("width"), record.get("height")) != (w, h):
        raise DatasetError(f"{path} says {record.get('file_name')} is {record.get('width')}x{record.get('height')}, "
                           f"but {image} is {w}x{h}; fix the file's image sizes.", path)
    mask = np.zeros((h, w), np.uint8)
    for ann in annotations:
        what = f"{path}, annotation {ann.get('id')} of {record.get('file_name')}"
        if ann.get("category_id") not in ids:
            problems.append(f"{what} has category {ann.get('category_id')}, which the file does not list; it was "
                            "skipped.")
            continue
        pixels = _pixels(ann.get("segmentation"), h, w)
        if isinstance(pixels, str):
            problems.append(f"{what} {pixels}; it was skipped.")
            continue
        mask[pixels.astype(bool)] = ids[ann["category_id"]]
    return mask


def _image_file(path: Path, src: Path, name: str) -> Path | None:
    for folder in (src / "images", path.parent.parent / "images", path.parent / "images", path.parent, src):
        if (folder / name).is_file():
            return folder / name
    return None


def read(src: Path) -> Source:
    path = find_json(src)
    root = Path(src).expanduser() if is_dir(Path(src).expanduser()) else path.parent
    images, annotations, categories = _records(read_json(path, "COCO file", "annotations"), path)
    classes, ids = read_categories(categories, path)
    by_image: dict[object, list[dict]] = {}
    for ann in annotations:
        by_image.setdefault(ann.get("image_id"), []).append(ann)
    problems: list[str] = []
    entries = []
    for record in images:
        name = record.get("file_name")
        anns = by_image.pop(record.get("id"), [])
        image = _image_file(path, root, name) if isinstance(name, str) and name else None
        if image is None:
            problems.append(f"{path} lists the image {name!r}, which is not in {root / 'images'}; it was skipped.")
            continue
        entries.append(Entry(image.stem, image, lambda problems, record=record, anns=anns, image=image:
                             load_image(path, image, record, anns, ids, problems)))
    for image_id, anns in by_image.items():
        problems.append(f"{path} has {len(anns)} annotation(s) of image id {image_id!r}, which it does not list; "
                        "they were skipped.")
    return Source(classes, entries, problems)


def plan(items: Sequence[Planned], classes: ClassSet) -> list[str]:
    return [f"images/{i.image_file}" for i in items] + [ANNOTATIONS]


class Writer(BaseWriter):
    def __init__(self, out, classes: ClassSet) -> None:
        super().__init__(out, classes)
        self.images: list[dict] = []
        self.annotations: list[dict] = []

    def add(self, item: Planned, mask: np.ndarray) -> None:
        image_id = len(self.images) + 1
        h, w = mask.shape
        self.images.append({"id": image_id, "file_name": item.image_file, "width": w, "height": h})
        for value in np.flatnonzero(np.bincount(mask.ravel(), minlength=256)).tolist():
            if value == 0:
                continue
            encoded = rle.encode(np.asfortranarray(mask == value, dtype=np.uint8))
            self.annotations.append({
                "id": len(self.annotations) + 1, "image_id": image_id, "category_id": value,
                "segmentation": {"size": [h, w], "counts": encoded["counts"].decode("ascii")},
                "area": int(rle.area(encoded)), "bbox": [float(v) for v in rle.toBbox(encoded)], "iscrowd": 0})
        copy_image(self.out, f"images/{item.image_file}", item.image)

    def close(self, written: Sequence[Planned]) -> None:
        categories = [{"id": c.index, "name": c.name, "supercategory": ""} for c in self.classes.classes
                      if c.index != 0]
        doc = {"info": {"description": "exported by seg-desktop"}, "licenses": [], "images": self.images,
               "annotations": self.annotations, "categories": categories}
        self.out.write_bytes(ANNOTATIONS, json.dumps(doc).encode())
