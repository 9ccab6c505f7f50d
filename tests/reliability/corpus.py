"""A generated corpus of bad and unusual dataset folders, each with what the tool must say about it.

Each case builds a small `images/ + masks/` folder (or a named layout) and declares either the file that must be
reported as a problem (with a word its reason must contain) or that the folder is fine and every sample reads.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image


@dataclass
class Case:
    name: str
    build: Callable[[Path], None]
    bad: str | None = None  # file name (relative to root) that must be reported; None = everything reads
    reason: str = ""  # a word the reason must contain


def img(path: Path, h: int = 24, w: int = 32, mode: str = "RGB", value: int = 120, **save) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(path.name))
    arr = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    arr[: h // 2] = value
    Image.fromarray(arr).convert(mode).save(path, **save)
    return path


def mask(path: Path, h: int = 24, w: int = 32, values=(0, 1)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    m = np.full((h, w), values[0], np.uint8)
    m[h // 2:] = values[-1]
    Image.fromarray(m, "L").save(path)
    return path


def pair(root: Path, name: str, h: int = 24, w: int = 32, ext: str = "png") -> None:
    img(root / "images" / f"{name}.{ext}", h, w)
    mask(root / "masks" / f"{name}.png", h, w)


def base(root: Path) -> None:
    """Two good pairs, so every case also checks that the good files still open beside the bad one."""
    pair(root, "good1")
    pair(root, "good2")


def png_bomb(path: Path) -> None:
    """A tiny PNG whose header declares 100000 x 100000 pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", 100000, 100000, 8, 0, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + chunk(b"IEND", b"")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _truncate(path: Path, keep: int) -> None:
    path.write_bytes(path.read_bytes()[:keep])


def _with(fn):
    def build(root: Path) -> None:
        base(root)
        fn(root)
    return build


def _exif_rotated(root: Path) -> None:
    p = root / "images" / "rot.jpg"
    p.parent.mkdir(parents=True, exist_ok=True)
    im = Image.fromarray(np.zeros((20, 40, 3), np.uint8))
    exif = im.getexif()
    exif[0x0112] = 6
    im.save(p, exif=exif)
    mask(root / "masks" / "rot.png", 40, 20)  # masks are drawn on the image as displayed (rotated)


def _palette_image(root: Path) -> None:
    img(root / "images" / "pal.png", mode="P")
    mask(root / "masks" / "pal.png")


def _sixteen_bit(root: Path) -> None:
    (root / "images").mkdir(parents=True, exist_ok=True)
    Image.fromarray((np.arange(24 * 32).reshape(24, 32) * 5).astype(np.uint16)).save(root / "images" / "deep.tif")
    mask(root / "masks" / "deep.png")


def _float_tiff(root: Path) -> None:
    (root / "images").mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(0).random((24, 32)).astype(np.float32), "F").save(root / "images" / "f.tif")
    mask(root / "masks" / "f.png")


def _unreadable(root: Path) -> None:
    pair(root, "locked")
    os.chmod(root / "images" / "locked.png", 0)


def _symlink_loop(root: Path) -> None:
    os.symlink(root / "images", root / "images" / "again")


def _colour_mask_unknown(root: Path) -> None:
    (root / "class_dict.csv").write_text("name,r,g,b\nbackground,0,0,0\nthing,255,0,0\n")
    for name, colour in (("good1", (255, 0, 0)), ("good2", (255, 0, 0)), ("odd", (0, 0, 255))):
        img(root / "images" / f"{name}.png")
        rgb = np.zeros((24, 32, 3), np.uint8)
        rgb[12:] = colour
        (root / "masks").mkdir(exist_ok=True)
        Image.fromarray(rgb).save(root / "masks" / f"{name}.png")


def _bad_class_dict(root: Path) -> None:
    base(root)
    (root / "class_dict.csv").write_text("name,r,g,b\nbackground,0,0,0\nthing,red,0\n")


def _big_values(root: Path) -> None:
    (root / "classes.csv").write_text("index,name,r,g,b\n0,background,0,0,0\n1,cell,255,0,0\n")
    img(root / "images" / "big.png")
    mask(root / "masks" / "big.png", values=(0, 200))


def _mask_16bit_values(root: Path) -> None:
    img(root / "images" / "m16.png")
    (root / "masks").mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((24, 32), 3000, np.uint16)).save(root / "masks" / "m16.png")


def _mask_is_folder(root: Path) -> None:
    img(root / "images" / "dirmask.png")
    (root / "masks" / "dirmask.png").mkdir(parents=True)


def _different_sizes(root: Path) -> None:
    pair(root, "tiny", 17, 9)
    pair(root, "wide", 40, 300)
    pair(root, "tall", 260, 33)


CASES: list[Case] = [
    Case("zero-byte png", _with(lambda r: (r / "images" / "zero.png").write_bytes(b"")), "images/zero.png", "0 bytes"),
    Case("zero-byte jpeg", _with(lambda r: (r / "images" / "zero.jpg").write_bytes(b"")), "images/zero.jpg", "0 bytes"),
    Case("truncated png", _with(lambda r: (pair(r, "cut"), _truncate(r / "images" / "cut.png", 120))),
         "images/cut.png", "cut.png"),
    Case("truncated jpeg", _with(lambda r: (pair(r, "cutj", 64, 64, "jpg"), _truncate(r / "images" / "cutj.jpg", 400))),
         "images/cutj.jpg", "cutj.jpg"),
    Case("text named png", _with(lambda r: ((r / "images" / "text.png").write_text("hello, I am not a picture"),
                                            mask(r / "masks" / "text.png"))), "images/text.png", "not a readable"),
    Case("png bomb", _with(lambda r: png_bomb(r / "images" / "bomb.png")), "images/bomb.png", "pixels"),
    Case("16-bit tiff", _with(_sixteen_bit)),
    Case("float tiff", _with(_float_tiff)),
    Case("rgba png", _with(lambda r: (img(r / "images" / "alpha.png", mode="RGBA"), mask(r / "masks" / "alpha.png")))),
    Case("palette image", _with(_palette_image)),
    Case("cmyk jpeg", _with(lambda r: (img(r / "images" / "cmyk.jpg", mode="CMYK"), mask(r / "masks" / "cmyk.png")))),
    Case("exif-rotated jpeg", _with(_exif_rotated)),
    Case("mask of another size", _with(lambda r: (img(r / "images" / "size.png"), mask(r / "masks" / "size.png", 10, 10))),
         "masks/size.png", "size"),
    Case("mask values past class count", _with(_big_values), "masks/big.png", "value"),
    Case("16-bit mask beyond 255", _with(_mask_16bit_values), "masks/m16.png", "3000"),
    Case("truncated mask", _with(lambda r: (pair(r, "tm"), _truncate(r / "masks" / "tm.png", 60))), "masks/tm.png", "tm.png"),
    Case("mask is a folder", _with(_mask_is_folder), None),
    Case("colour mask, colour not in class_dict", _colour_mask_unknown, "masks/odd.png", "match no class"),
    Case("class_dict.csv with bad rows", _bad_class_dict, "class_dict.csv", "line 3"),
    Case("duplicate stems", _with(lambda r: (img(r / "images" / "good1.jpg"),)), "images/good1.jpg", "same name"),
    Case("orphan mask", _with(lambda r: mask(r / "masks" / "lonely.png")), "masks/lonely.png", "without an image"),
    Case("unreadable permissions", _with(_unreadable), "images/locked.png" if os.geteuid() != 0 else None,
         "permission"),
    Case("non-ascii names", _with(lambda r: pair(r, "Zellkern_äöü_细胞"))),
    Case("space-filled names", _with(lambda r: pair(r, "my  scan  01 "))),
    Case("symlink loop", _with(_symlink_loop), "images/again", "symlink loop"),
    Case("broken symlink", _with(lambda r: os.symlink(r / "nowhere.png", r / "images" / "dangling.png")),
         "images/dangling.png", "dangling.png"),
    Case("empty folder", lambda r: r.mkdir(exist_ok=True), ".", "no images"),
    Case("one image", lambda r: pair(r, "only")),
    Case("very different sizes", _with(_different_sizes)),
    Case("unlabelled only", lambda r: img(r / "images" / "u.png")),
    Case("project.json not json", _with(lambda r: ((r / ".seg-desktop").mkdir(),
                                                   (r / ".seg-desktop" / "project.json").write_text("{oops")))),
    Case("voc list escaping folder", lambda r: (img(r / "JPEGImages" / "a.jpg"), mask(r / "SegmentationClass" / "a.png"),
                                                (r / "ImageSets" / "Segmentation").mkdir(parents=True),
                                                (r / "ImageSets" / "Segmentation" / "train.txt").write_text("a\n../../x\n")),
         "ImageSets/Segmentation/train.txt", "outside"),
]


def snapshot(root: Path) -> dict[str, str]:
    """Hash of every file under root (symlinks by target), to prove that opening and checking change nothing."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        for name in filenames + [d for d in dirnames if os.path.islink(os.path.join(dirpath, d))]:
            p = Path(dirpath) / name
            rel = p.relative_to(root).as_posix()
            if p.is_symlink():
                out[rel] = "link:" + os.readlink(p)
            else:
                try:
                    out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
                except PermissionError:
                    out[rel] = "unreadable"
    return out
