"""`cvat`: CVAT's "Segmentation mask 1.1": `labelmap.txt` (`name:r,g,b:parts:actions`, the line order is the
class), `SegmentationClass/NAME.png` colour masks in those colours, `ImageSets/Segmentation/default.txt`, and the
images in `JPEGImages/` (CVAT's "save images" option). Colours name classes, so they must be distinct.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..classes import ClassSet, read_labelmap
from ..errors import DatasetError
from ..maskio import MaskFormat, encode_mask
from ..safeio import present
from .base import Planned, Source, Writer as BaseWriter, copy_image, require_source
from .color import unique_colours
from .voc import labelmap_text, read_masks

TITLE = "CVAT Segmentation mask 1.1 (labelmap.txt + colour PNGs)"
POLYGONS = False


def read(src: Path) -> Source:
    root = require_source(src, "labelmap.txt and SegmentationClass/ of a CVAT mask export")
    if not present(root / "labelmap.txt"):
        raise DatasetError(f"{root} has no labelmap.txt; pass the folder of a CVAT \"Segmentation mask 1.1\" "
                           "export, which lists its classes there.", root)
    classes = read_labelmap(root / "labelmap.txt")
    problems: list[str] = []
    images = root / "JPEGImages" if (root / "JPEGImages").is_dir() else root / "images"
    entries = read_masks(root, classes, images, root / "SegmentationClass", problems, by_colour=True)
    return Source(classes, entries, problems)


def plan(items: Sequence[Planned], classes: ClassSet) -> list[str]:
    unique_colours(classes, "CVAT colour masks")
    names = [n for i in items for n in (f"JPEGImages/{i.image_file}", f"SegmentationClass/{i.name}.png")]
    return names + ["ImageSets/Segmentation/default.txt", "labelmap.txt"]


class Writer(BaseWriter):
    def add(self, item: Planned, mask: np.ndarray) -> None:
        png = encode_mask(mask, MaskFormat("color"), self.classes)
        self.out.write_bytes(f"SegmentationClass/{item.name}.png", png)
        copy_image(self.out, f"JPEGImages/{item.image_file}", item.image)

    def close(self, written: Sequence[Planned]) -> None:
        listing = "".join(f"{p.name}\n" for p in written).encode()
        self.out.write_bytes("ImageSets/Segmentation/default.txt", listing)
        self.out.write_bytes("labelmap.txt", labelmap_text(self.classes).encode())
