"""`cityscapes`: `leftImg8bit/SPLIT/CITY/NAME_leftImg8bit.png` images with `gtFine/SPLIT/CITY/NAME_gtFine_labelIds.png`
index masks (the value is the class) and `NAME_gtFine_color.png` colour masks beside them, as the Cityscapes
scripts write them. The classes are Cityscapes' own label ids unless `label_colors.txt` (`r g b name` per line,
the line order is the class, as Datumaro writes it for other class lists) says otherwise. Colour masks are
written for viewing; reading uses the label ids only.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..classes import IGNORE_NAMES, ClassInfo, ClassSet
from ..resource_files import palette
from ..errors import DatasetError
from ..imageio import image_size
from ..maskio import MaskFormat, check_values, encode_mask, read_raw_mask
from ..safeio import present, read_text_capped
from .base import Entry, Planned, Source, Writer as BaseWriter, check_size, copy_image, list_files, require_source

TITLE = "Cityscapes (leftImg8bit/ + gtFine/ *_labelIds.png)"
POLYGONS = False
LABEL_IDS = "_gtFine_labelIds.png"
IMAGE_SUFFIX = "_leftImg8bit"
CLASS_FILE = "label_colors.txt"
CITY = "default"

# Cityscapes' label ids 0-33 (cityscapesScripts, helpers/labels.py; resources/palettes/cityscapes.csv); 0
# "unlabeled" is the void class.
CITYSCAPES = tuple((name, colour) for _, name, colour in palette("cityscapes"))


def _classes(infos: list[ClassInfo], source: str) -> ClassSet:
    ignore = next((c.index for c in infos if c.name.strip().lower() in IGNORE_NAMES), None)
    return ClassSet(infos, ignore, source)


def read_classes(root: Path) -> ClassSet:
    path = root / CLASS_FILE
    if not present(path):
        return _classes([ClassInfo(i, n, c) for i, (n, c) in enumerate(CITYSCAPES)], "Cityscapes label ids")
    infos = []
    for line, text in enumerate(read_text_capped(path, "csv").splitlines(), start=1):
        parts = text.split(maxsplit=3)
        if not parts or text.startswith("#"):
            continue
        try:
            rgb = tuple(int(v) for v in parts[:3])
            if len(parts) < 4 or not all(0 <= v <= 255 for v in rgb):
                raise ValueError
        except ValueError:
            raise DatasetError(f"{path}, line {line}: expected 'r g b name' with r, g, b in 0-255; fix that line.",
                               path) from None
        if len(infos) >= 256:
            raise DatasetError(f"{path} lists more than 256 classes; masks hold values 0-255 only.", path)
        infos.append(ClassInfo(len(infos), parts[3].strip(), rgb))
    if not infos:
        raise DatasetError(f"{path} lists no classes; add lines 'r g b name' or delete it.", path)
    return _classes(infos, CLASS_FILE)


def read(src: Path) -> Source:
    root = require_source(src, "leftImg8bit/ and gtFine/ of a Cityscapes dataset")
    if not (root / "gtFine").is_dir():
        raise DatasetError(f"{root} has no gtFine/ folder; pass the Cityscapes folder that holds leftImg8bit/ and "
                           "gtFine/.", root)
    classes = read_classes(root)
    problems: list[str] = []
    entries = []
    for path in list_files(root / "gtFine", LABEL_IDS):
        rel = path.relative_to(root / "gtFine")
        name = path.name[: -len(LABEL_IDS)]
        folder = root / "leftImg8bit" / rel.parent
        image = next((folder / f"{name}{IMAGE_SUFFIX}{ext}" for ext in (".png", ".jpg", ".jpeg")
                      if (folder / f"{name}{IMAGE_SUFFIX}{ext}").is_file()), None)
        if image is None:
            problems.append(f"{path} has no image {name}{IMAGE_SUFFIX}.png in {folder}; it was skipped.")
            continue

        def load(_problems: list[str], path: Path = path, image: Path = image) -> np.ndarray:
            arr, _mode, _palette = read_raw_mask(path)
            if arr.ndim == 3:
                raise DatasetError(f"{path} is a colour image, but label id masks hold class numbers; use the "
                                   f"{LABEL_IDS} files.", path)
            check_size(path, arr, *image_size(image), image)
            check_values(path, arr, classes)
            return arr

        split = rel.parts[0] if len(rel.parts) > 1 and rel.parts[0] in ("train", "val", "test") else None
        entries.append(Entry(name, image, load, split))
    return Source(classes, entries, problems)


def _stem(item: Planned) -> str:
    return f"{item.split}/{CITY}/{item.name}"


def plan(items: Sequence[Planned], classes: ClassSet) -> list[str]:
    names = []
    for i in items:
        names += [f"leftImg8bit/{_stem(i)}{IMAGE_SUFFIX}{i.image.suffix.lower()}", f"gtFine/{_stem(i)}{LABEL_IDS}",
                  f"gtFine/{_stem(i)}_gtFine_color.png"]
    return names + [CLASS_FILE]


class Writer(BaseWriter):
    def add(self, item: Planned, mask: np.ndarray) -> None:
        self.out.write_bytes(f"gtFine/{_stem(item)}{LABEL_IDS}", encode_mask(mask, MaskFormat("index"), None))
        colour = encode_mask(mask, MaskFormat("color"), self.classes)
        self.out.write_bytes(f"gtFine/{_stem(item)}_gtFine_color.png", colour)
        copy_image(self.out, f"leftImg8bit/{_stem(item)}{IMAGE_SUFFIX}{item.image.suffix.lower()}", item.image)

    def close(self, written: Sequence[Planned]) -> None:
        top = max((c.index for c in self.classes.classes), default=0)
        lines = [f"{r} {g} {b} {self.classes.name_of(i)}" for i in range(top + 1)
                 for r, g, b in [self.classes.color_of(i)]]
        self.out.write_bytes(CLASS_FILE, ("\n".join(lines) + "\n").encode())
