"""Class names, colours and the ignore (void) index of a dataset.

Classes are looked up in the order a user expects their own files to win over guesses:
`classes.csv` (ours), `class_dict.csv` (CamVid/Kaggle style), `labelmap.txt` (CVAT/VOC export), the VOC palette for
VOC folders, the CamVid palette for CamVid-shaped index masks, and finally inference from the mask values.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import DatasetError
from .resource_files import palette
from .safeio import is_dir, present, read_text_capped

IGNORE_NAMES = frozenset({"void", "ignore", "unlabelled", "unlabeled", "ignore_index", "dontcare", "don't care"})
VOC_IGNORE = 255
COLOUR_INFERRED = "inferred from mask colours"



def voc_palette(n: int = 256) -> np.ndarray:
    """The PASCAL VOC bit-interleaved colour map; also our default palette because its colours stay distinct."""
    pal = np.zeros((n, 3), dtype=np.uint8)
    for i in range(n):
        c, r, g, b = i, 0, 0, 0
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        pal[i] = (r, g, b)
    return pal


_VOC_PALETTE = voc_palette()


def default_palette(n: int) -> np.ndarray:
    """Colours for inferred classes: VOC's map, but class 0 black so background stays unobtrusive."""
    return _VOC_PALETTE[:n].copy()


@dataclass(frozen=True)
class ClassInfo:
    index: int
    name: str
    color: tuple[int, int, int]


@dataclass
class ClassSet:
    """All classes of a dataset, including a void class if it has one (painted like any class, never trained)."""

    classes: list[ClassInfo]
    ignore_index: int | None = None
    source: str = "inferred"
    _by_index: dict[int, ClassInfo] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.classes = sorted(self.classes, key=lambda c: c.index)
        self._by_index = {c.index: c for c in self.classes}

    @property
    def num_classes(self) -> int:
        """Model output channels: the highest non-ignore index + 1 (so a void class at the end costs nothing)."""
        trained = [c.index for c in self.classes if c.index != self.ignore_index]
        return (max(trained) + 1) if trained else 0

    @property
    def names(self) -> list[str]:
        return [self.name_of(i) for i in range(self.num_classes)]

    @property
    def valid_values(self) -> set[int]:
        values = set(range(self.num_classes))
        if self.ignore_index is not None:
            values.add(self.ignore_index)
        return values

    def name_of(self, index: int) -> str:
        info = self._by_index.get(index)
        return info.name if info else f"class {index}"

    def color_of(self, index: int) -> tuple[int, int, int]:
        info = self._by_index.get(index)
        return info.color if info else tuple(int(v) for v in _VOC_PALETTE[index % 256])

    def lut(self) -> np.ndarray:
        """(256, 3) uint8 colour per mask value, for overlays and colour export in one fancy-index."""
        lut = _VOC_PALETTE.copy()
        for c in self.classes:
            lut[c.index] = c.color
        return lut

    def color_to_index(self) -> dict[tuple[int, int, int], int]:
        return {c.color: c.index for c in self.classes}

    @property
    def colours_name_classes(self) -> bool:
        """Whether a mask pixel's colour says its class: the colours come from the user's class file or from the
        colour masks themselves (not a palette we picked for classes guessed from index values)."""
        return self.source in CLASS_FILES or self.source == COLOUR_INFERRED

    def to_json(self) -> dict:
        return {
            "classes": [{"index": c.index, "name": c.name, "color": list(c.color)} for c in self.classes],
            "ignore_index": self.ignore_index,
            "source": self.source,
        }


def _ignore_from_names(classes: list[ClassInfo]) -> int | None:
    for c in classes:
        if c.name.strip().lower() in IGNORE_NAMES:
            return c.index
    return None


MAX_CLASSES = 256  # masks are uint8: one value per class


def _read_text(path: Path) -> str:
    try:
        return read_text_capped(path, "csv")
    except FileNotFoundError:
        raise DatasetError(f"The class file {path} disappeared while it was read; reopen the folder.", path) from None


def _rows(path: Path) -> list[tuple[int, list[str]]]:
    """(line number, cells) of each CSV row; a row the csv module refuses (a field over its 128 KiB limit, a
    stray NUL) is one sentence naming the line."""
    reader = csv.reader(io.StringIO(_read_text(path)))
    rows = []
    try:
        for row in reader:
            rows.append((reader.line_num, row))
    except csv.Error as exc:
        raise DatasetError(f"{path}, line {reader.line_num}: {exc}; fix that row.", path) from None
    return rows


def _color(values: list[str], path: Path, line: int) -> tuple[int, int, int]:
    """Three whole numbers 0-255 ("12.0" is fine, "12.7", "inf" and "nan" are not)."""
    rgb = []
    for text in values:
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not (math.isfinite(value) and value == int(value) and 0 <= value <= 255):
            break
        rgb.append(int(value))
    if len(rgb) != 3 or len(values) != 3:
        shown = ",".join(values)
        shown = shown if len(shown) <= 40 else shown[:37] + "..."
        raise DatasetError(f"{path}, line {line}: colour {shown!r} is not three whole numbers 0-255; fix that row.",
                           path)
    return rgb[0], rgb[1], rgb[2]


def _by_order(path: Path, classes: list[ClassInfo], line: int) -> None:
    """Formats that number classes by row order can hold at most MAX_CLASSES rows."""
    if len(classes) >= MAX_CLASSES:
        raise DatasetError(f"{path}, line {line}: more than {MAX_CLASSES} classes, but masks hold values 0-255 "
                           "only; merge classes or remove rows.", path)


def read_classes_csv(path: Path) -> ClassSet:
    """Our own format: `index,name,r,g,b` with a header row; a row named void/ignore/unlabelled is the ignore index.
    Two rows with one index are an error naming both lines (one would otherwise silently win)."""
    classes: list[ClassInfo] = []
    lines: dict[int, int] = {}  # index -> line that defined it
    for line, row in _rows(path):
        if not row or row[0].strip().lower() in ("index", "#") or row[0].startswith("#"):
            continue
        if len(row) < 5:
            raise DatasetError(f"{path}, line {line}: expected index,name,r,g,b but got {len(row)} field(s); fix "
                               "that row.", path)
        try:
            index = int(row[0])
        except ValueError:
            raise DatasetError(f"{path}, line {line}: index {row[0][:40]!r} is not a whole number; fix that row.",
                               path) from None
        if not 0 <= index < MAX_CLASSES:
            raise DatasetError(f"{path}, line {line}: index {index} is outside 0-255; fix that row.", path)
        if index in lines:
            raise DatasetError(f"{path}: lines {lines[index]} and {line} both define class index {index}; give one "
                               "of them another index or remove it.", path)
        lines[index] = line
        classes.append(ClassInfo(index, row[1].strip(), _color(row[2:5], path, line)))
    if not classes:
        raise DatasetError(f"{path} lists no classes; add rows index,name,r,g,b or delete the file.", path)
    return ClassSet(classes, _ignore_from_names(classes), "classes.csv")


def read_class_dict(path: Path) -> ClassSet:
    """CamVid/Kaggle `class_dict.csv`: `name,r,g,b`; the row order is the class index."""
    classes: list[ClassInfo] = []
    for line, row in _rows(path):
        if not row or (line == 1 and row[0].strip().lower() in ("name", "class", "label")):
            continue
        if len(row) < 4:
            raise DatasetError(f"{path}, line {line}: expected name,r,g,b but got {len(row)} field(s); fix that "
                               "row.", path)
        _by_order(path, classes, line)
        classes.append(ClassInfo(len(classes), row[0].strip(), _color(row[1:4], path, line)))
    if not classes:
        raise DatasetError(f"{path} lists no classes; add rows name,r,g,b or delete the file.", path)
    return ClassSet(classes, _ignore_from_names(classes), "class_dict.csv")


def read_labelmap(path: Path) -> ClassSet:
    """CVAT / VOC export `labelmap.txt`: `name:r,g,b:parts:actions`, one class per line, index by order."""
    classes: list[ClassInfo] = []
    for line, text in enumerate(_read_text(path).splitlines(), start=1):
        text = text.strip()
        if not text or text.startswith("#"):
            continue
        parts = text.split(":")
        if len(parts) < 2:
            shown = text if len(text) <= 40 else text[:37] + "..."
            raise DatasetError(f"{path}, line {line}: expected name:r,g,b but got {shown!r}; fix that line.", path)
        _by_order(path, classes, line)
        classes.append(ClassInfo(len(classes), parts[0].strip(), _color(parts[1].split(","), path, line)))
    if not classes:
        raise DatasetError(f"{path} lists no classes; add lines name:r,g,b or delete the file.", path)
    return ClassSet(classes, _ignore_from_names(classes), "labelmap.txt")


def classes_csv(classes: ClassSet) -> bytes:
    """`classes` as the bytes of a classes.csv (index,name,r,g,b), for writers that claim their files through
    `writeguard.Output.write_bytes`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["index", "name", "r", "g", "b"])
    for c in classes.classes:
        writer.writerow([c.index, c.name, *c.color])
    return out.getvalue().encode("utf-8")


def write_classes_csv(path: Path, classes: ClassSet) -> None:
    from .atomic import atomic_write_bytes

    atomic_write_bytes(Path(path), classes_csv(classes))


def voc_classes() -> ClassSet:
    """PASCAL VOC's 21 classes and void 255 (resources/palettes/voc.csv: the bit-interleaved colours)."""
    return ClassSet([ClassInfo(i, n, c) for i, n, c in palette("voc")], VOC_IGNORE, "VOC palette")


def camvid_classes() -> ClassSet:
    """CamVid's 11 classes and Unlabelled, the last (resources/palettes/camvid.csv)."""
    classes = [ClassInfo(i, n, c) for i, n, c in palette("camvid")]
    return ClassSet(classes, classes[-1].index, "CamVid palette")


def inferred_classes(values: set[int], colors: set[tuple[int, int, int]] | None = None) -> ClassSet:
    """Classes guessed from what the masks hold: index values, or distinct colours of RGB masks.

    A 0/255-only mask set is binary (background / foreground); 255 next to other small values is VOC-style void.
    """
    if colors:
        ordered = sorted(colors)
        if (0, 0, 0) in colors:
            ordered.remove((0, 0, 0))
            ordered.insert(0, (0, 0, 0))
        classes = [ClassInfo(i, "background" if c == (0, 0, 0) else f"class {i}", c) for i, c in enumerate(ordered)]
        return ClassSet(classes, None, COLOUR_INFERRED)
    values = set(values) or {0}
    if values <= {0, 255}:
        pal = default_palette(2)
        classes = [ClassInfo(0, "background", tuple(int(v) for v in pal[0])),
                   ClassInfo(1, "foreground", tuple(int(v) for v in pal[1]))]
        return ClassSet(classes, None, "inferred: binary 0/255 masks")
    ignore = 255 if 255 in values else None
    top = max(v for v in values if v != ignore)
    pal = default_palette(top + 1)
    classes = [ClassInfo(i, "background" if i == 0 else f"class {i}", tuple(int(v) for v in pal[i])) for i in range(top + 1)]
    if ignore is not None:
        classes.append(ClassInfo(ignore, "void", (224, 224, 192)))
    return ClassSet(classes, ignore, "inferred from mask values")


CLASS_FILES = ("classes.csv", "class_dict.csv", "labelmap.txt")


def find_class_file(root: Path) -> Path | None:
    """The user's own class file in the dataset root (or one folder down, where CamVid zips put it)."""
    for name in CLASS_FILES:
        if _candidate(root / name):
            return root / name
    for name in CLASS_FILES:
        for p in sorted(root.glob(f"*/{name}")):
            if _candidate(p):
                return p
    return None


def _candidate(path: Path) -> bool:
    """Anything but a folder counts, so a pipe or an unreadable link named classes.csv is reported when read
    rather than silently passed over for guessed classes."""
    return present(path) and not is_dir(path)


def read_class_file(path: Path) -> ClassSet:
    reader = {"classes.csv": read_classes_csv, "class_dict.csv": read_class_dict, "labelmap.txt": read_labelmap}
    return reader[path.name](path)
