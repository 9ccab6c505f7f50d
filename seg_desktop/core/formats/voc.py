"""`voc`: Pascal VOC 2012 segmentation, `JPEGImages/` + `SegmentationClass/` palette PNGs (the value is the class,
the palette only shows it) + `ImageSets/Segmentation/{train,val,test}.txt`, with `labelmap.txt` naming the classes
as CVAT and Datumaro write it. Without a labelmap the 21 VOC classes apply; 255 is the VOC void (object borders).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..classes import ClassInfo, ClassSet, read_labelmap, voc_classes
from ..errors import DatasetError
from ..imageio import image_size
from ..layouts import SPLITS
from ..maskio import MaskFormat, check_values, encode_mask, read_mask, read_raw_mask
from ..safeio import present, read_text_capped
from .base import Entry, Planned, Source, Writer as BaseWriter, check_size, copy_image, find_image, list_files
from .base import VOID, require_source

TITLE = "Pascal VOC (JPEGImages/ + SegmentationClass/ palette PNGs)"
POLYGONS = False


def read_classes(root: Path) -> ClassSet:
    """labelmap.txt when present (VOC's void 255 added, as VOC masks use it for borders), else VOC's own."""
    if not present(root / "labelmap.txt"):
        return voc_classes()
    classes = read_labelmap(root / "labelmap.txt")
    if classes.ignore_index is None and all(c.index != VOID for c in classes.classes):
        classes = ClassSet([*classes.classes, ClassInfo(VOID, "void", (224, 224, 192))], VOID, classes.source)
    return classes


def read_splits(lists: Path, problems: list[str]) -> dict[str, str]:
    """Image name -> split from ImageSets/Segmentation/{train,val,test}.txt (the first list naming it wins)."""
    split_of: dict[str, str] = {}
    for split in SPLITS:
        path = lists / f"{split}.txt"
        if present(path):
            try:
                names = read_text_capped(path, "csv").split()
            except DatasetError as exc:
                problems.append(str(exc))
                continue
            for name in names:
                split_of.setdefault(name, split)
    return split_of


def read_masks(root: Path, classes: ClassSet, images: Path, masks: Path, problems: list[str],
               by_colour: bool = False, split_of: dict[str, str] | None = None) -> list[Entry]:
    """Entries for every mask PNG of `masks` paired with `images/NAME.*`. VOC masks are read by value (a
    palette only shows the class), colour masks (`by_colour`, CVAT's) by the classes' colours."""
    entries = []
    for path in list_files(masks, ".png"):
        stem = path.relative_to(masks).with_suffix("").as_posix()
        image = find_image(images, stem)
        if image is None:
            problems.append(f"{path} has no image {stem}.* in {images}; it was skipped.")
            continue

        def load(_problems: list[str], path: Path = path, image: Path = image) -> np.ndarray:
            w, h = image_size(image)
            if by_colour:
                return read_mask(path, classes, (w, h))[0]
            arr, _mode, _palette = read_raw_mask(path)
            if arr.ndim == 3:
                arr = read_mask(path, classes)[0]  # an RGB mask: by the class colours
            check_size(path, arr, w, h, image)
            check_values(path, arr, classes)
            return arr

        entries.append(Entry(Path(stem).name, image, load, (split_of or {}).get(stem)))
    return entries


def read(src: Path) -> Source:
    root = require_source(src, "JPEGImages/ and SegmentationClass/ of a Pascal VOC dataset")
    if not (root / "SegmentationClass").is_dir():
        raise DatasetError(f"{root} has no SegmentationClass/ folder; pass the VOC folder that holds "
                           "JPEGImages/ and SegmentationClass/.", root)
    problems: list[str] = []
    classes = read_classes(root)
    split_of = read_splits(root / "ImageSets" / "Segmentation", problems)
    entries = read_masks(root, classes, root / "JPEGImages", root / "SegmentationClass", problems,
                         split_of=split_of)
    return Source(classes, entries, problems)


def labelmap_text(classes: ClassSet) -> str:
    """`name:r,g,b::` per class in index order (gaps named "class k"); VOC's void 255 is implied, not listed."""
    top = max((c.index for c in classes.classes if c.index != VOID), default=0)
    lines = ["# label:color_rgb:parts:actions"]
    for i in range(top + 1):
        r, g, b = classes.color_of(i)
        lines.append(f"{classes.name_of(i).replace(':', ' ')}:{r},{g},{b}::")
    return "\n".join(lines) + "\n"


def split_lists(written: Sequence[Planned]) -> dict[str, bytes]:
    return {split: "".join(f"{p.name}\n" for p in written if p.split == split).encode()
            for split in sorted({p.split for p in written})}


def plan(items: Sequence[Planned], classes: ClassSet) -> list[str]:
    names = [n for i in items for n in (f"JPEGImages/{i.image_file}", f"SegmentationClass/{i.name}.png")]
    splits = sorted({i.split for i in items})
    return names + [f"ImageSets/Segmentation/{s}.txt" for s in splits] + ["labelmap.txt"]


class Writer(BaseWriter):
    def add(self, item: Planned, mask: np.ndarray) -> None:
        png = encode_mask(mask, MaskFormat("palette"), self.classes)
        self.out.write_bytes(f"SegmentationClass/{item.name}.png", png)
        copy_image(self.out, f"JPEGImages/{item.image_file}", item.image)

    def close(self, written: Sequence[Planned]) -> None:
        for split, data in split_lists(written).items():
            self.out.write_bytes(f"ImageSets/Segmentation/{split}.txt", data)
        self.out.write_bytes("labelmap.txt", labelmap_text(self.classes).encode())
