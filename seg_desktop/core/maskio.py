"""Masks in every format users bring, always to a uint8 index array, and back in the format they came in.

Formats: index PNG (mode L, values are classes), palette PNG (mode P, indices with a colour table), RGB colour
masks (colours mapped through the class colours) and binary 0/255 masks (read as classes 0/1). Writing keeps the
format, is atomic (see `atomic.py`) and keeps the untouched original under `.seg-desktop/originals/` the first time.
"""

from __future__ import annotations

import io
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .atomic import atomic_write_bytes
from .classes import ClassSet
from .errors import DatasetError
from .imageio import decoding, open_image
from .paths import fit_name

ORIGINALS_DIR = Path(".seg-desktop") / "originals"


@dataclass(frozen=True)
class MaskFormat:
    """How a mask file stores classes, so a corrected mask is written back the way the user's tools expect."""

    kind: str  # "index" | "palette" | "color" | "binary"
    palette: bytes | None = None  # the P-mode colour table, kept verbatim

    @staticmethod
    def default() -> "MaskFormat":
        return MaskFormat("index")


def read_raw_mask(path: Path) -> tuple[np.ndarray, str, bytes | None]:
    """The mask's pixels as stored (index, palette indices or RGB) with its mode and palette; any failure,
    whatever Pillow raised on damaged data, is a DatasetError naming the file (see `imageio.decoding`)."""
    img = open_image(path, "mask")
    try:
        with decoding(path):
            mode = img.mode
            palette = None
            if mode == "P":
                palette = bytes(img.getpalette() or [])
                arr = np.asarray(img)
            elif mode in ("RGB", "RGBA", "CMYK", "YCbCr", "LAB", "HSV"):
                arr = np.asarray(img.convert("RGB"))
            elif mode in ("L", "1", "LA"):
                arr = np.asarray(img.convert("L"))
            elif mode.startswith("I"):
                arr = np.asarray(img)
                if arr.size and (arr.min() < 0 or arr.max() > 255):
                    raise DatasetError(
                        f"{path} holds mask values up to {int(arr.max())}, beyond the 0-255 this tool supports; "
                        "renumber the classes below 256.", path)
                arr = arr.astype(np.uint8)
                mode = "L"
            else:
                raise DatasetError(f"{path} is a {mode} image, not a mask; save it as an index or RGB PNG.", path)
    finally:
        img.close()
    return np.array(arr, order="C"), mode, palette  # a writable copy: callers edit masks in place


def _is_gray(rgb: np.ndarray) -> bool:
    return bool(np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]))


def _colors_to_index(path: Path, rgb: np.ndarray, classes: ClassSet) -> np.ndarray:
    codes = (rgb[..., 0].astype(np.uint32) << 16) | (rgb[..., 1].astype(np.uint32) << 8) | rgb[..., 2]
    table = {((r << 16) | (g << 8) | b): idx for (r, g, b), idx in classes.color_to_index().items()}
    uniq, inverse = np.unique(codes.ravel(), return_inverse=True)
    mapped = np.array([table.get(int(u), -1) for u in uniq], dtype=np.int32)
    unknown = np.flatnonzero(mapped < 0)
    if unknown.size:
        counts = np.bincount(inverse, minlength=uniq.size)[unknown]
        worst = unknown[np.argmax(counts)]
        code = int(uniq[worst])
        colour = ((code >> 16) & 255, (code >> 8) & 255, code & 255)
        raise DatasetError(
            f"{path} has {int(counts.sum())} pixels in {unknown.size} colour(s) that match no class, e.g. RGB "
            f"{colour} ({int(counts.max())} pixels); add the colour to the class file or repaint those pixels.", path)
    return mapped[inverse].reshape(codes.shape).astype(np.uint8)


def _is_binary(values: np.ndarray, classes: ClassSet | None) -> bool:
    """0/255 masks are binary unless the classes say 255 is the void index (VOC) or a class of its own."""
    if not set(np.unique(values).tolist()) <= {0, 255} or 255 not in values:
        return False
    if classes is None:
        return True
    return classes.ignore_index != 255 and classes.num_classes <= 2


def read_mask(path: Path, classes: ClassSet | None = None,
              expected_size: tuple[int, int] | None = None) -> tuple[np.ndarray, MaskFormat]:
    """Decode `path` to a uint8 (H, W) class-index array and remember its format for writing back.

    `expected_size` is the image's (width, height): a mask of another size is refused, not resized, because a
    resized mask would silently shift every label. Where the class colours name the classes (a class file, or
    colours seen in the masks), an RGB mask is read by colour even when it is all gray, and a palette PNG by its
    palette's colours, so a palette in another order than the class file cannot silently swap classes.
    """
    path = Path(path)
    arr, mode, palette = read_raw_mask(path)
    if expected_size is not None and (arr.shape[1], arr.shape[0]) != tuple(expected_size):
        raise DatasetError(
            f"{path} is {arr.shape[1]}x{arr.shape[0]} but its image is {expected_size[0]}x{expected_size[1]}; "
            "the mask must have the image's size.", path)
    named = classes is not None and bool(classes.classes) and classes.colours_name_classes
    if arr.ndim == 3:
        gray = _is_gray(arr)
        if not gray and (classes is None or not classes.classes):
            raise DatasetError(f"{path} is a colour mask but the dataset has no class colours; "
                               "add a classes.csv or class_dict.csv.", path)
        if not gray or (named and _all_known(arr, classes)):
            return _colors_to_index(path, arr, classes), MaskFormat("color")
        arr = np.ascontiguousarray(arr[..., 0])  # an index mask saved as gray RGB
    if mode == "P" and named:
        mapped = _palette_to_index(path, arr, palette or b"", classes)
        if mapped is not None:  # indices renumbered to the class file's: written back with its colours
            return mapped, MaskFormat("palette", bytes(classes.lut().ravel()))
    if mode != "P" and _is_binary(arr, classes):
        return (arr > 127).astype(np.uint8), MaskFormat("binary")
    fmt = MaskFormat("palette", palette) if mode == "P" else MaskFormat("index")
    if classes is not None and classes.classes:
        check_values(path, arr, classes)
    return arr, fmt


def _all_known(rgb: np.ndarray, classes: ClassSet) -> bool:
    """Whether every colour of a gray RGB mask is a class colour (else it is an index mask saved as RGB)."""
    values = np.flatnonzero(np.bincount(rgb[..., 0].ravel(), minlength=256))
    colours = classes.color_to_index()
    return all((v, v, v) in colours for v in values.tolist())


def _palette_to_index(path: Path, arr: np.ndarray, palette: bytes, classes: ClassSet) -> np.ndarray | None:
    """A palette mask's values mapped through their palette colours to the classes of those colours.

    None when reading by index means the same (each used value's colour is its class's colour), or when the
    palette is a gray ramp (value v drawn as (v, v, v): an index mask that happens to be stored with a palette).
    A used colour that no class has contradicts the class file: one sentence for the file, never a guess.
    """
    raw = palette[:768]
    pal = np.zeros((256, 3), np.uint8)  # a short palette leaves the rest black, as Pillow shows it
    pal.flat[: len(raw) // 3 * 3] = np.frombuffer(raw[: len(raw) // 3 * 3], np.uint8)
    used = np.flatnonzero(np.bincount(arr.ravel(), minlength=256)).tolist()
    colours = [tuple(int(c) for c in pal[v]) for v in used]
    by_colour = classes.color_to_index()
    if all(by_colour.get(c) == v for v, c in zip(used, colours)) or all(c == (v, v, v) for v, c in zip(used, colours)):
        return None
    lut = np.zeros(256, np.uint8)
    for v, c in zip(used, colours):
        if c not in by_colour:
            raise DatasetError(
                f"{path} is a palette mask whose value {v} is drawn in RGB {c}, a colour no class of "
                f"{classes.source} has (value {v} is {classes.name_of(v)!r} there); fix the class colours or the "
                "mask's palette so they agree.", path)
        lut[v] = by_colour[c]
    return lut[arr]


def check_values(path: Path, mask: np.ndarray, classes: ClassSet) -> None:
    """Refuse values that are no class: training would index past the softmax and metrics would be wrong."""
    counts = np.bincount(mask.ravel(), minlength=256)
    valid = np.zeros(256, dtype=bool)
    valid[list(classes.valid_values)] = True
    bad = np.flatnonzero((counts > 0) & ~valid)
    if bad.size:
        value = int(bad[np.argmax(counts[bad])])
        raise DatasetError(
            f"{path} has {int(counts[bad].sum())} pixels with value(s) {bad.tolist()[:8]} but the dataset has "
            f"{classes.num_classes} classes (e.g. value {value}: {int(counts[value])} pixels); add the class or "
            "repaint those pixels.", path)


def encode_mask(mask: np.ndarray, fmt: MaskFormat, classes: ClassSet | None, suffix: str = ".png") -> bytes:
    """The bytes of `mask` in `fmt`, encoded for the file type `suffix` names."""
    if mask.dtype != np.uint8 or mask.ndim != 2:
        raise ValueError("a mask must be a 2-D uint8 array")
    if fmt.kind == "binary":
        img = Image.fromarray(np.where(mask > 0, 255, 0).astype(np.uint8), "L")
    elif fmt.kind == "color":
        if classes is None:
            raise ValueError("writing a colour mask needs the class colours")
        img = Image.fromarray(classes.lut()[mask], "RGB")
    elif fmt.kind == "palette":
        img = Image.fromarray(mask, "P")
        pal = list(fmt.palette) if fmt.palette else (classes.lut().ravel().tolist() if classes else [])
        img.putpalette(pal)
    else:
        img = Image.fromarray(mask, "L")
    fmt_name = Image.registered_extensions().get(suffix.lower(), "PNG")
    buf = io.BytesIO()
    img.save(buf, format=fmt_name, **({"quality": 100, "subsampling": 0} if fmt_name == "JPEG" else {}))
    return buf.getvalue()


def backup_original(path: Path, root: Path) -> Path | None:
    """Copy the user's file to `root/.seg-desktop/originals/<relative path>` once, before our first overwrite."""
    path = Path(path)
    if not path.exists():
        return None
    try:
        rel = path.resolve().relative_to(Path(root).resolve())
    except ValueError:
        rel = Path(path.name)
    dest = Path(root) / ORIGINALS_DIR / rel
    if dest.exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{fit_name(dest.name, reserve=5)}.tmp")  # a 255-byte name still gets one
    shutil.copy2(path, tmp)
    tmp.replace(dest)
    return dest


def write_mask(path: Path, mask: np.ndarray, fmt: MaskFormat, classes: ClassSet | None,
               backup_root: Path | None = None) -> None:
    """Write atomically in `fmt`; with `backup_root`, keep the original under .seg-desktop/originals/ first.

    Encoding happens before anything touches the disk, so an encoding error cannot leave a partial file, and a
    failing write (disk full) leaves the old mask in place.
    """
    path = Path(path)
    data = encode_mask(mask, fmt, classes, path.suffix or ".png")
    if backup_root is not None:
        backup_original(path, backup_root)
    atomic_write_bytes(path, data)
