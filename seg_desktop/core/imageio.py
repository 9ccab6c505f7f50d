"""Read whatever image a user is likely to have into one shape: uint8 RGB (H, W, 3).

Pillow does the decoding because it reads EXIF orientation, palettes, CMYK and 16-bit/float TIFF uniformly, and
can read a header without decoding pixels (`image_size`), which is what keeps indexing 10,000 images fast.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import DatasetError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")

# 16k x 16k: bigger than any slide tile or satellite scene a desktop tool should decode whole; a "PNG bomb"
# declaring more is refused from its header instead of exhausting memory.
MAX_PIXELS = 16384 * 16384
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def open_image(path: Path) -> Image.Image:
    path = Path(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(path)
            w, h = img.size
    except FileNotFoundError:
        raise DatasetError(f"{path} does not exist; check the path or reopen the folder.", path) from None
    except PermissionError:
        raise DatasetError(f"{path} cannot be read (permission denied); fix its permissions.", path) from None
    except IsADirectoryError:
        raise DatasetError(f"{path} is a folder, not an image; move it out of the image folder.", path) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise DatasetError(
            f"{path} declares more than {MAX_PIXELS // 1_000_000} megapixels; tile or downscale it first.", path
        ) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        if path.stat().st_size == 0:
            raise DatasetError(f"{path} is an empty file (0 bytes); replace or delete it.", path) from None
        raise DatasetError(f"{path} is not a readable image ({exc}); replace or delete it.", path) from None
    if w * h > MAX_PIXELS:
        raise DatasetError(
            f"{path} declares {w}x{h} pixels, more than this tool decodes; tile or downscale it first.", path
        )
    if w == 0 or h == 0:
        raise DatasetError(f"{path} has zero width or height; replace or delete it.", path)
    return img


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) as displayed (EXIF rotation applied), read from the header only."""
    img = open_image(path)
    w, h = img.size
    try:
        orientation = img.getexif().get(0x0112, 1)
    except Exception:  # a broken EXIF block must not make the whole image unreadable
        orientation = 1
    img.close()
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


def _stretch(arr: np.ndarray) -> np.ndarray:
    """16-bit and float images to uint8 by their own 0.1-99.9 percentile range.

    Microscopy and remote-sensing files rarely use the full 16-bit range (a 12-bit camera fills 0..4095), so
    dividing by 257 would give near-black images; a robust per-image stretch is what viewers like Fiji show.
    """
    arr = np.nan_to_num(arr.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    lo, hi = np.percentile(arr, (0.1, 99.9))
    if hi <= lo:
        hi = lo + 1.0
    return (np.clip((arr - lo) / (hi - lo), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def decode(img: Image.Image, path: Path) -> np.ndarray:
    """Pixels of an opened Pillow image as uint8 RGB, raising DatasetError for truncated or corrupt data."""
    try:
        img = ImageOps.exif_transpose(img)
        mode = img.mode
        if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
            arr = _stretch(np.asarray(img))
            return np.repeat(arr[..., None], 3, axis=2)
        if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
            img = img.convert("RGBA").convert("RGB")  # drop alpha: masks are painted over the visible colours
        elif mode != "RGB":
            img = img.convert("RGB")
        arr = np.asarray(img)
    except (OSError, ValueError, SyntaxError) as exc:
        raise DatasetError(f"{path} is damaged or truncated ({exc}); replace it.", path) from None
    if arr.dtype != np.uint8:
        arr = _stretch(arr)
    return np.array(arr, order="C")  # writable: Pillow's buffer view is read-only


def read_image(path: Path) -> np.ndarray:
    """Decode `path` to uint8 RGB (H, W, 3); any failure is a DatasetError that names the file."""
    path = Path(path)
    img = open_image(path)
    try:
        return decode(img, path)
    finally:
        img.close()
