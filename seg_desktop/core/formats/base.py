"""What every mask format module shares: the entries a reader lists, the writer protocol, and the few pixel
operations formats have in common (masks to polygons and back, image copying).

A reader lists its entries (names, image files) up front and decodes each mask only when it is asked for, so an
import plans every output file with the write guard before anything is written, and a bad file costs only itself.
Polygon formats share one rule for overlapping shapes, stated here once: shapes are painted in the order the file
lists them, so where two overlap the later one wins (`paint`); the pixels no shape covers are class 0, the
background. Exports list shapes so that this rule gives back the mask they came from (`mask_shapes`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..classes import IGNORE_NAMES, ClassInfo, ClassSet, default_palette
from ..errors import DatasetError
from ..imageio import IMAGE_EXTENSIONS
from ..safeio import is_dir, read_bytes_capped, require_folder
from ..writeguard import Output

BACKGROUND_NAMES = frozenset({"background", "_background_", "__background__", "bg"})
VOID = 255  # the void class added when a format names one but no class of the list is void (VOC, labelme)


@dataclass
class Entry:
    """One image of a source: `load(problems)` decodes its mask (uint8 indices at the image's size), appending a
    sentence for each shape it had to skip; it raises DatasetError when the whole file is unusable."""

    name: str
    image: Path
    load: Callable[[list[str]], np.ndarray]
    split: str | None = None


@dataclass
class Source:
    """What a reader found in a folder: the classes, the entries, and the files it skipped while listing."""

    classes: ClassSet
    entries: list[Entry]
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Planned:
    """One image an export will write: its unique output name, its image file and its split."""

    name: str
    image: Path
    split: str = "train"

    @property
    def image_file(self) -> str:
        return self.name + self.image.suffix.lower()


class Writer:
    """Writes one format into a claimed `Output`: `add` once per planned image, in plan order, then `close`."""

    def __init__(self, out: Output, classes: ClassSet) -> None:
        self.out, self.classes = out, classes

    def add(self, item: Planned, mask: np.ndarray) -> None:
        raise NotImplementedError

    def close(self, written: Sequence[Planned]) -> None:
        """Files describing the whole export (class lists, split lists, one JSON): `written` are the images added."""


# ---------------------------------------------------------------- files


def require_source(src: Path, what: str) -> Path:
    """`src` as a folder, or one sentence saying what was expected there."""
    return require_folder(src, f"folder that holds the {what}")


def find_image(folder: Path, stem: str) -> Path | None:
    """The image file `folder/stem.<ext>` with any extension seg-desktop reads (png first), or None."""
    for ext in IMAGE_EXTENSIONS:
        for candidate in (folder / f"{stem}{ext}", folder / f"{stem}{ext.upper()}"):
            if candidate.is_file():
                return candidate
    return None


def list_files(folder: Path, suffix: str) -> list[Path]:
    """Regular files under `folder` (any depth, hidden ones skipped) whose name ends with `suffix`, sorted."""
    if not is_dir(folder):
        return []
    return sorted(p for p in folder.rglob(f"*{suffix}")
                  if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def copy_image(out: Output, name: str, image: Path) -> None:
    out.write_bytes(name, read_bytes_capped(image, "image"))


def classes_from_names(names: Sequence[str], source: str, ignore_name: str | None = None) -> ClassSet:
    """Classes numbered 1.. in the order given, with class 0 the background: polygon formats have no background
    class of their own, so the pixels no shape covers need one. A name that is a background name becomes class 0
    instead. A void name (e.g. CamVid's "Unlabelled") marks its class as the ignore index; `ignore_name`
    (labelme's `__ignore__`) means that class, or a void class 255 added when the list has none."""
    pal = default_palette(256)
    infos = [ClassInfo(0, "background", (0, 0, 0))]
    ignore = None
    for name in names:
        if name.strip().lower() in BACKGROUND_NAMES or name == ignore_name:
            continue
        index = len(infos)
        if index >= 255:
            raise DatasetError(f"{source} lists more than 254 classes, but masks hold values 0-255 only; merge "
                               "classes.", source)
        infos.append(ClassInfo(index, name, tuple(int(v) for v in pal[index])))
        if ignore is None and name.strip().lower() in IGNORE_NAMES:
            ignore = index
    if ignore is None and ignore_name in names:
        infos.append(ClassInfo(VOID, "void", (224, 224, 192)))
        ignore = VOID
    return ClassSet(infos, ignore, source)


def polygon_names(classes: ClassSet) -> list[str]:
    """The class list a polygon format writes: classes 1..top (gaps named "class k"), then the background last,
    which is what `classes_from_names` reads back to the same indices."""
    top = max((c.index for c in classes.classes), default=0)
    return [classes.name_of(i) for i in range(1, top + 1)] + ["background"]


# ---------------------------------------------------------------- shapes


def mask_shapes(mask: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """The mask as (class, polygon) shapes that `paint` turns back into the same mask.

    Each connected region's outer boundary (pixel centres, as labelme and YOLO draw) becomes one polygon, listed
    largest first, so a region lying in another's hole is listed after it and painted over it; background
    regions enclosed by another class are listed too (as class 0), the rest of the background is what no shape
    covers."""
    shapes: list[tuple[float, int, np.ndarray]] = []
    covered = np.zeros(mask.shape, np.uint8)
    for value in np.flatnonzero(np.bincount(mask.ravel(), minlength=256)).tolist():
        if value == 0:
            continue
        contours, hierarchy = cv2.findContours((mask == value).astype(np.uint8), cv2.RETR_CCOMP,
                                               cv2.CHAIN_APPROX_SIMPLE)
        for contour, links in zip(contours, hierarchy[0] if hierarchy is not None else []):
            if links[3] == -1:  # an outer boundary (its holes have a parent)
                shapes.append((cv2.contourArea(contour), value, contour.reshape(-1, 2)))
                cv2.fillPoly(covered, [contour], 1)
    holes = ((mask == 0) & (covered > 0)).astype(np.uint8)
    if holes.any():
        contours, hierarchy = cv2.findContours(holes, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
        for contour, links in zip(contours, hierarchy[0]):
            if links[3] == -1:
                shapes.append((cv2.contourArea(contour), 0, contour.reshape(-1, 2)))
    shapes.sort(key=lambda s: -s[0])  # a region inside another's hole has the smaller area: painted later
    # a one- or two-pixel-wide region gives one or two vertices; repeating the last keeps every shape a polygon
    # (YOLO reads four numbers as a box, LabelMe wants three points)
    return [(value, np.concatenate([points, points[-1:].repeat(max(0, 3 - len(points)), 0)]))
            for _, value, points in shapes]


def paint(mask: np.ndarray, points: np.ndarray, value: int) -> None:
    """Fill one polygon (pixel-centre coordinates, rounded) into `mask` in place; later shapes win."""
    pts = np.round(np.asarray(points, np.float64)).astype(np.int32).reshape(-1, 1, 2)
    cv2.fillPoly(mask, [pts], int(value))
    cv2.polylines(mask, [pts], True, int(value))  # a polygon of one or two points still marks its pixels


def outside(points: np.ndarray, width: int, height: int) -> bool:
    """Whether any vertex lies outside the image (a pixel-centre polygon may touch its far edge)."""
    pts = np.asarray(points, np.float64)
    return bool(pts.size and ((pts[:, 0] < -0.5).any() or (pts[:, 1] < -0.5).any() or (pts[:, 0] > width).any()
                              or (pts[:, 1] > height).any()))


def check_size(path: Path, mask: np.ndarray, width: int, height: int, image: Path) -> None:
    """A mask must have its image's size: a resized one would shift every label."""
    if mask.shape[:2] != (height, width):
        raise DatasetError(f"{path} is {mask.shape[1]}x{mask.shape[0]} but its image {image.name} is "
                           f"{width}x{height}; the mask must have the image's size.", path)
