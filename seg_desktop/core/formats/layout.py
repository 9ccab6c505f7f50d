"""seg-desktop's own layout, `images/` + `masks/` + `classes.csv`: what every import writes, and what the `index`
and `color` formats are (they differ only in how the mask PNGs store classes).

Reading goes through `open_dataset`, so a source in any layout seg-desktop opens (VOC, CamVid, flat...) with
index, palette, binary or colour masks is read the same way the app reads it.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..classes import ClassSet, classes_csv
from ..dataset import Sample, open_dataset
from ..errors import DatasetError
from ..maskio import MaskFormat, encode_mask
from ..paths import display_path, fit_name
from ..writeguard import Output
from .base import Entry, Planned, Source, Writer, copy_image, require_source

CLASS_FILE = "classes.csv"


def read_layout(src: Path) -> Source:
    """Every image of the folder (unlabelled ones too) with its mask decoded as the app decodes it."""
    dataset = open_dataset(require_source(src, "images and masks"))
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
    """images/NAME.ext + masks/NAME.png of the mask kind `kind` (see maskio.MaskFormat) + classes.csv. The
    images are copied, or with `link` "hard"/"sym" linked (an import's choice); a None mask leaves the image
    unlabelled."""

    kind = "index"

    def __init__(self, out: Output, classes: ClassSet, link: str = "copy") -> None:
        super().__init__(out, classes)
        self.link = link

    def add(self, item: Planned, mask: np.ndarray | None) -> None:
        if mask is not None:
            self.out.write_bytes(f"masks/{item.name}.png", encode_mask(mask, MaskFormat(self.kind), self.classes))
        place_image(self.out, f"images/{item.image_file}", item.image, self.link)

    def close(self, written: Sequence[Planned]) -> None:
        self.out.write_bytes(CLASS_FILE, classes_csv(self.classes))


def place_image(out: Output, name: str, image: Path, link: str) -> None:
    """The image copied, hard-linked or symlinked (absolute) at `name`; a link is made beside and renamed in."""
    if link == "copy":
        copy_image(out, name, image)
        return
    dest = out.path(name)
    tmp = dest.with_name(f".{fit_name(dest.name, 6)}.link")
    try:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        if link == "hard":
            os.link(image, tmp)
        else:
            os.symlink(os.path.abspath(image), tmp)
        os.replace(tmp, dest)
    except OSError as exc:
        hint = " (they are on different disks: copy or symlink instead)" if exc.errno == errno.EXDEV else ""
        raise DatasetError(f"Cannot link {display_path(image)} as {display_path(dest)} ({exc.strerror or exc})"
                           f"{hint}; choose another way to bring the images.", dest) from None
