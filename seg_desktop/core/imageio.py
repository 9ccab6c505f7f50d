"""Read whatever image a user is likely to have into one shape: uint8 RGB (H, W, 3).

Pillow does the decoding because it reads EXIF orientation, palettes, CMYK and 16-bit/float TIFF uniformly, and
can read a header without decoding pixels (`image_size`), which is what keeps indexing 10,000 images fast.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from .errors import DatasetError
from .resources import out_of_memory
from .safeio import check_regular

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")

# 16k x 16k: bigger than any slide tile or satellite scene a desktop tool should decode whole; a "PNG bomb"
# declaring more is refused from its header instead of exhausting memory.
MAX_PIXELS = 16384 * 16384
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


def _silence_libtiff() -> None:
    """Switch off libtiff's own warning and error printers.

    libtiff writes "ZIPDecode: Decoding error…", "Unknown field with tag…" and the like straight to file
    descriptor 2 from C, where neither Python's warnings nor sys.stderr can catch them, so they would reach the
    terminal of anyone opening a damaged TIFF. Pillow still turns every libtiff failure into an exception (a
    DatasetError naming the file, see `decoding`), so nothing is lost. Only the libtiff Pillow loaded is touched,
    found where Linux lists the loaded libraries (or in a macOS wheel's .dylibs); elsewhere this does nothing.
    """
    from PIL import _imaging  # noqa: F401  (loads libtiff, so the process maps list it)

    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
            paths = {line.split(None, 5)[-1].strip() for line in maps if "libtiff" in line}
    except OSError:
        paths = {str(p) for p in (Path(Image.__file__).parent / ".dylibs").glob("libtiff*")}
    for lib in sorted(paths):
        try:
            tiff = ctypes.CDLL(lib)
            for setter in (tiff.TIFFSetWarningHandler, tiff.TIFFSetErrorHandler):
                setter.restype = ctypes.c_void_p
                setter.argtypes = [ctypes.c_void_p]
                setter(None)
        except (OSError, AttributeError):  # not a libtiff we can talk to: its chatter stays, decoding still works
            continue


if sys.platform != "win32":  # Windows wheels link libtiff into Pillow itself: no handler to reach
    _silence_libtiff()
# Pillow logs some refusals (e.g. "More samples per pixel than can be decoded") as errors; with no logging set
# up, Python would print them to stderr. The refusal itself reaches the user as our DatasetError.
logging.getLogger("PIL").addHandler(logging.NullHandler())


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Pillow's warnings ("Corrupt EXIF data", "Truncated File Read") silenced, since the caller either succeeds
    or reports its own sentence; a decompression bomb stays an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


def _bomb(path: Path) -> DatasetError:
    return DatasetError(f"{path} declares more than {MAX_PIXELS // 1_000_000} megapixels; tile or downscale it "
                        "first.", path)


def _out_of_memory(path: Path) -> DatasetError:
    return DatasetError(out_of_memory(path, "decode"), path)


def _why(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


@contextlib.contextmanager
def decoding(path: Path) -> Iterator[None]:
    """Pillow's work on the pixels of `path` ends in its result or in one DatasetError naming the file.

    Pillow's decoders meet damaged data with whatever the parsing code happens to raise: OSError, ValueError and
    SyntaxError, but also TypeError, struct.error, IndexError, KeyError or ZeroDivisionError (the fuzz test in
    tests/reliability finds such files), so every exception but our own becomes the one sentence.
    """
    with _quiet():
        try:
            yield
        except DatasetError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _bomb(path) from None
        except MemoryError:
            raise _out_of_memory(path) from None
        except Exception as exc:  # noqa: BLE001 (see the docstring)
            raise DatasetError(f"{path} is damaged or truncated ({_why(exc)}); replace it.", path) from None


def open_image(path: Path, kind: str = "image") -> Image.Image:
    """Open (header only) a regular file within the size cap of `kind` ("image" or "mask", see safeio.py)."""
    path = Path(path)
    try:
        check_regular(path, kind)  # before Pillow opens it: a named pipe would block forever
        with _quiet():
            img = Image.open(path)
            w, h = img.size
    except DatasetError:
        raise
    except FileNotFoundError:
        raise DatasetError(f"{path} does not exist; check the path or reopen the folder.", path) from None
    except PermissionError:
        raise DatasetError(f"{path} cannot be read (permission denied); fix its permissions.", path) from None
    except IsADirectoryError:
        raise DatasetError(f"{path} is a folder, not an image; move it out of the image folder.", path) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise _bomb(path) from None
    except MemoryError:
        raise _out_of_memory(path) from None
    except Exception as exc:  # noqa: BLE001 (not an image, or a header damaged in a way its plugin trips on)
        if _is_empty(path):
            raise DatasetError(f"{path} is an empty file (0 bytes); replace or delete it.", path) from None
        raise DatasetError(f"{path} is not a readable image ({_why(exc)}); replace or delete it.", path) from None
    if w * h > MAX_PIXELS or w == 0 or h == 0:
        img.close()  # the caller gets no image to close, and a folder of bad files must not run out of handles
        if w == 0 or h == 0:
            raise DatasetError(f"{path} has zero width or height; replace or delete it.", path)
        raise DatasetError(
            f"{path} declares {w}x{h} pixels, more than this tool decodes; tile or downscale it first.", path
        )
    return img


def _is_empty(path: Path) -> bool:
    try:
        return path.stat().st_size == 0
    except (OSError, ValueError):
        return False


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) as displayed (EXIF rotation applied), read from the header only."""
    img = open_image(path)
    w, h = img.size
    try:
        with _quiet():
            orientation = img.getexif().get(0x0112, 1)
    except Exception:  # noqa: BLE001 (a broken EXIF block must not make the whole image unreadable)
        orientation = 1
    finally:
        img.close()
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)


# The stretch's range comes from an even grid of at most this many pixels (the whole image below it): the same
# range the whole image gives for any real picture, without sorting 268 million values of a 16k x 16k scan.
_STRETCH_SAMPLES = 1 << 22
_STRETCH_BLOCK = 1 << 20  # pixels converted at a time, so a huge float image needs no full-size float copies


def _stretch(arr: np.ndarray) -> np.ndarray:
    """16-bit and float images to uint8 by their own 0.1-99.9 percentile range.

    Microscopy and remote-sensing files rarely use the full 16-bit range (a 12-bit camera fills 0..4095), so
    dividing by 257 would give near-black images; a robust per-image stretch is what viewers like Fiji show.
    Non-finite values count as 0. 8- and 16-bit integers go through a lookup table, other types in blocks.
    """
    step = 1 + int(np.sqrt(arr.size / _STRETCH_SAMPLES))
    lo, hi = np.percentile(_finite(arr[::step, ::step]), (0.1, 99.9))
    if hi <= lo:
        hi = lo + 1.0

    def scale(values: np.ndarray) -> np.ndarray:
        return (np.clip((values - lo) / (hi - lo), 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)

    if arr.dtype.kind in "iu" and arr.dtype.itemsize <= 2:
        info = np.iinfo(arr.dtype)
        lut = scale(np.arange(info.min, info.max + 1, dtype=np.float32))
        return lut[arr.astype(np.int32) - info.min] if info.min else lut[arr]
    flat = arr.reshape(-1, *arr.shape[2:])
    out = np.empty(flat.shape, np.uint8)
    for i in range(0, len(flat), _STRETCH_BLOCK):
        out[i:i + _STRETCH_BLOCK] = scale(_finite(flat[i:i + _STRETCH_BLOCK]))
    return out.reshape(arr.shape)


def _finite(values: np.ndarray) -> np.ndarray:
    return np.nan_to_num(values.astype(np.float32), nan=0.0, posinf=0.0, neginf=0.0)


def decode(img: Image.Image, path: Path) -> np.ndarray:
    """Pixels of an opened Pillow image as uint8 RGB, raising DatasetError for truncated or corrupt data."""
    with decoding(path):
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
