"""seg-desktop's own layout, `images/` + `masks/` + `classes.csv`: what every import writes, and what the `index`
and `color` formats are (they differ only in how the mask PNGs store classes).

Reading goes through `open_dataset`, so a source in any layout seg-desktop opens (VOC, CamVid, flat...) with
index, palette, binary or colour masks is read the same way the app reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..classes import ClassSet, write_classes_csv
from ..dataset import Sample, open_dataset
from ..errors import DatasetError
from ..maskio import MaskFormat, encode_mask
from ..writeguard import Output
from .base import Entry, Planned, Source, Writer, copy_image, require_folder

CLASS_FILE = "classes.csv"


def read_layout(src: Path) -> Source:
    """Every image of the folder (unlabelled ones too) with its mask decoded as the app decodes it."""
    dataset = open_dataset(require_folder(src, "images and masks"))
    if not dataset.samples:
        raise DatasetError(str(dataset.problems[-1]) if dataset.problems else
                           f"{src} holds no images; pass the folder that holds images/ and masks/.", src)

    def loader(sample: Sample) -> Callable[[list[str]], np.ndarray] | None:
        return None if sample.mask_path is None else (lambda _problems: dataset.read_mask(sample))

    entries = [Entry(s.stem, s.image_path, loader(s), s.split) for s in dataset.samples]
    return Source(dataset.classes, entries, [str(p) for p in dataset.problems])


def plan_layout(items: Sequence[Planned], classes: ClassSet) -> list[str]:
    return [n for i in items for n in (f"images/{i.image_file}", f"masks/{i.name}.png")] + [CLASS_FILE]


class LayoutWriter(Writer):
    """images/NAME.ext (copied) + masks/NAME.png of the mask kind `kind` (see maskio.MaskFormat) + classes.csv."""

    kind = "index"

    def add(self, item: Planned, mask: np.ndarray | None) -> None:
        if mask is not None:
            self.out.write_bytes(f"masks/{item.name}.png", encode_mask(mask, MaskFormat(self.kind), self.classes))
        copy_image(self.out, f"images/{item.image_file}", item.image)

    def close(self, written: Sequence[Planned]) -> None:
        write_class_file(self.out, self.classes)


def write_class_file(out: Output, classes: ClassSet) -> None:
    path = out.path(CLASS_FILE)
    try:
        write_classes_csv(path, classes)
    except OSError as exc:
        raise DatasetError(f"Cannot write {path} ({exc.strerror or exc}); free some space or choose another "
                           "folder.", path) from None
