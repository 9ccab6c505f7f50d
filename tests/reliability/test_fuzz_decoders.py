"""Decoders raise only our own error (issue 10, item 4): damaged PNG, JPEG, TIFF, BMP and palette files.

A seeded, derandomized Hypothesis fuzzer mutates small valid files (bit flips, truncation, chunks spliced in from
the same or another file, header fields set to edge values, PNG checksums repaired so a change reaches the
decoder) and checks that every reader either returns a valid uint8 array of the header's shape or raises a
one-sentence DatasetError naming the file, and that neither Pillow nor libtiff prints anything on the way.
Before the fix a TIFF whose StripOffsets tag had another type raised TypeError from inside decode, which also
stopped `seg-desktop predict` for every other image, and libtiff and Pillow printed to the terminal.
"""

from __future__ import annotations

import io
import struct
import subprocess
import sys
import warnings
import zlib
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from seg_desktop.core import imageio
from seg_desktop.core.dataset import open_dataset
from seg_desktop.core.errors import DatasetError
from seg_desktop.core.imageio import image_size, open_image, read_image
from seg_desktop.core.maskio import read_mask, read_raw_mask

# 5000 inputs: 11 s on an idle 2-core machine, 31 s while other suites shared its cores (budget: ~60 s).
FUZZ_INPUTS = 5000
# A mutated header may declare any size; under this cap the fuzz stays fast, above it the file is refused
# (decoding a declared 16k x 16k image is tested, with memory budgets, in test_resource_failures.py).
FUZZ_MAX_PIXELS = 1 << 20
EDGE_VALUES = (0, 1, 2, 3, 4, 5, 7, 8, 11, 12, 15, 16, 17, 31, 32, 255, 256, 1 << 15, 65535, 65536, 1 << 31,
               (1 << 32) - 1)


def _encode(img: Image.Image, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **options)
    return buf.getvalue()


@cache
def seed_files() -> dict[str, bytes]:
    """Small valid files of every kind a dataset may hold, including the rarer TIFF and PNG variants."""
    rng = np.random.default_rng(0)
    rgb = Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8))
    gray16 = Image.fromarray(rng.integers(0, 4095, (24, 32)).astype(np.uint16))
    labels = rng.integers(0, 4, (24, 32)).astype(np.uint8)
    palette = Image.fromarray(labels, "P")
    palette.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0])
    exif = Image.Exif()
    exif[0x0112] = 6  # rotated: read_image and image_size must agree on the transposed shape
    return {
        "rgb.png": _encode(rgb, "PNG"),
        "rgba.png": _encode(rgb.convert("RGBA"), "PNG"),
        "gray16.png": _encode(gray16, "PNG"),
        "palette.png": _encode(palette, "PNG"),
        "palette_trns.png": _encode(palette, "PNG", transparency=0),
        "index.png": _encode(Image.fromarray(labels, "L"), "PNG"),
        "binary.png": _encode(Image.fromarray(labels > 1), "PNG"),
        "rgb.jpg": _encode(rgb, "JPEG", quality=80),
        "exif6.jpg": _encode(rgb, "JPEG", quality=80, exif=exif),
        "rgb.tif": _encode(rgb, "TIFF"),
        "lzw.tif": _encode(rgb, "TIFF", compression="tiff_lzw"),
        "deflate.tif": _encode(rgb, "TIFF", compression="tiff_adobe_deflate"),
        "jpeg.tif": _encode(rgb, "TIFF", compression="jpeg"),
        "packbits.tif": _encode(rgb, "TIFF", compression="packbits"),
        "gray16.tif": _encode(gray16, "TIFF"),
        "gray16_lzw.tif": _encode(gray16, "TIFF", compression="tiff_lzw"),
        "float.tif": _encode(gray16.convert("F"), "TIFF"),
        "palette.tif": _encode(palette, "TIFF"),
        "rgb.bmp": _encode(rgb, "BMP"),
        "palette.bmp": _encode(palette, "BMP"),
    }


def _png_chunks(data: bytes):
    """(offset, length, type) of each chunk while the lengths are consistent."""
    pos = 8
    while pos + 12 <= len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        if pos + 12 + length > len(data):
            return
        yield pos, length, data[pos + 4:pos + 8]
        pos += 12 + length


def _tiff_ifd(data: bytes) -> tuple[int, int]:
    offset = struct.unpack("<I", data[4:8])[0]
    return offset, struct.unpack("<H", data[offset:offset + 2])[0]


@cache
def header_fields(name: str) -> tuple[tuple[int, int, str], ...]:
    """(offset, size in bytes, byte order) of the header fields a decoder trusts: sizes, counts, types, offsets."""
    data = seed_files()[name]
    fields: list[tuple[int, int, str]] = []
    if name.endswith(".png"):
        for pos, _length, kind in _png_chunks(data):
            fields.append((pos, 4, ">"))
            if kind == b"IHDR":
                fields += [(pos + 8, 4, ">"), (pos + 12, 4, ">")] + [(pos + 16 + i, 1, ">") for i in range(5)]
    elif name.endswith(".tif"):
        offset, count = _tiff_ifd(data)
        fields += [(4, 4, "<"), (offset, 2, "<")]
        for entry in range(offset + 2, offset + 2 + 12 * count, 12):
            fields += [(entry, 2, "<"), (entry + 2, 2, "<"), (entry + 4, 4, "<"), (entry + 8, 4, "<")]
    elif name.endswith(".bmp"):
        fields += [(2, 4, "<"), (10, 4, "<"), (14, 4, "<"), (18, 4, "<"), (22, 4, "<"), (26, 2, "<"),
                   (28, 2, "<"), (30, 4, "<"), (34, 4, "<"), (46, 4, "<")]
    else:  # JPEG: each marker segment's length, and the frame header's precision, size and components
        pos = 2
        while pos + 4 <= len(data) and data[pos] == 0xFF and data[pos + 1] != 0xDA:
            fields.append((pos + 2, 2, ">"))
            if data[pos + 1] in (0xC0, 0xC1, 0xC2):
                fields += [(pos + 4, 1, ">"), (pos + 5, 2, ">"), (pos + 7, 2, ">"), (pos + 9, 1, ">"),
                           (pos + 11, 1, ">"), (pos + 12, 1, ">")]
            elif data[pos + 1] in (0xC4, 0xDB):
                fields.append((pos + 4, 1, ">"))
            pos += 2 + struct.unpack(">H", data[pos + 2:pos + 4])[0]
    return tuple(fields)


def _fix_png_crcs(data: bytearray) -> None:
    for pos, length, _kind in _png_chunks(bytes(data)):
        data[pos + 8 + length:pos + 12 + length] = struct.pack(">I", zlib.crc32(data[pos + 4:pos + 8 + length]))


def mutate(name: str, mutations: list[tuple], fix_crc: bool) -> bytes:
    data = bytearray(seed_files()[name])
    names = sorted(seed_files())
    for kind, *args in mutations:
        if not data:
            break
        if kind == "flip":
            pos, bit = args
            data[pos % len(data)] ^= 1 << bit
        elif kind == "truncate":
            data = data[:args[0] % len(data)]
        elif kind == "splice":  # a chunk of this or another file replaces a stretch of this one
            donor_index, start, length, at, cut = args
            donor = seed_files()[names[donor_index % len(names)]]
            start %= len(donor)
            at %= len(data)
            data[at:at + cut] = donor[start:start + length]
        else:  # "field"
            index, value = args
            fields = header_fields(name)
            offset, size, order = fields[index % len(fields)]
            if offset + size <= len(data):
                data[offset:offset + size] = (value % (1 << (8 * size))).to_bytes(size, "big" if order == ">"
                                                                                   else "little")
    if fix_crc and name.endswith(".png"):
        _fix_png_crcs(data)
    return bytes(data)


_positions = st.integers(0, 1 << 16)
MUTATION = st.one_of(
    st.tuples(st.just("flip"), _positions, st.integers(0, 7)),
    st.tuples(st.just("truncate"), _positions),
    st.tuples(st.just("splice"), st.integers(0, 64), _positions, st.integers(1, 96), _positions, st.integers(0, 96)),
    st.tuples(st.just("field"), st.integers(0, 255), st.sampled_from(EDGE_VALUES) | st.integers(0, (1 << 32) - 1)),
)


def _reported(read, path: Path):
    """`read(path)`, or None when it raised the one-sentence DatasetError naming the file (anything else fails)."""
    try:
        return read(path)
    except DatasetError as exc:
        message = str(exc)
        assert path.name in message, message
        assert "\n" not in message and message.endswith("."), message
        return None


def _header_size(path: Path) -> tuple[int, int]:
    with open_image(path) as img:
        return img.size


def check_readers(path: Path) -> bool:
    """Every reader on one file: a valid array of the header's shape, or the one sentence. True if it decoded."""
    size = _reported(image_size, path)
    header = _reported(_header_size, path)
    image = _reported(read_image, path)
    if image is not None:
        assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3 and image.flags.writeable
        assert size == (image.shape[1], image.shape[0])
    raw = _reported(read_raw_mask, path)
    if raw is not None:
        arr, _mode, _palette = raw
        assert arr.dtype == np.uint8 and (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3))
        assert header == (arr.shape[1], arr.shape[0])
    decoded = _reported(read_mask, path)
    if decoded is not None:
        mask, _fmt = decoded
        assert mask.dtype == np.uint8 and mask.ndim == 2 and header == (mask.shape[1], mask.shape[0])
    return image is not None or decoded is not None


@pytest.mark.parametrize("name", sorted(seed_files()))
def test_every_seed_file_decodes(name, tmp_path):
    """The fuzzer starts from files that read, so what it finds is the mutation's doing."""
    path = tmp_path / name
    path.write_bytes(seed_files()[name])
    assert read_image(path).shape[:2] in ((24, 32), (32, 24))
    assert header_fields(name)


def test_fuzzed_files_give_an_array_or_one_sentence_and_print_nothing(tmp_path, capfd, monkeypatch):
    monkeypatch.setattr(imageio, "MAX_PIXELS", FUZZ_MAX_PIXELS)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", FUZZ_MAX_PIXELS)
    tried: list[str] = []
    decoded: list[bool] = []

    @settings(max_examples=FUZZ_INPUTS, derandomize=True, database=None, deadline=None, print_blob=False,
              suppress_health_check=list(HealthCheck))
    @given(name=st.sampled_from(sorted(seed_files())), mutations=st.lists(MUTATION, min_size=1, max_size=4),
           fix_crc=st.booleans())
    def fuzz(name: str, mutations: list[tuple], fix_crc: bool) -> None:
        path = tmp_path / f"fuzzed_{name}"
        path.write_bytes(mutate(name, mutations, fix_crc))
        tried.append(name)
        decoded.append(check_readers(path))

    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        fuzz()
    assert [str(w.message) for w in warned] == []  # Pillow's warnings are the readers' to silence
    assert capfd.readouterr() == ("", "")  # and libtiff's messages, written to fd 2 from C
    assert len(tried) >= FUZZ_INPUTS and set(tried) == set(seed_files())
    assert 0.05 < sum(decoded) / len(decoded) < 0.95  # mutations reach the decoders both ways
    print(f"fuzz inputs tried: {len(tried)} ({sum(decoded)} still decoded)")


def _tiff_entry(data: bytes, tag: int) -> int:
    offset, count = _tiff_ifd(data)
    for entry in range(offset + 2, offset + 2 + 12 * count, 12):
        if struct.unpack("<H", data[entry:entry + 2])[0] == tag:
            return entry
    raise AssertionError(f"no tag {tag}")


def _tiff_with(name: str, tag: int, field: int, fmt: str, value: int) -> bytes:
    """Seed file `name` with one IFD entry's field set: 2 = type, 4 = count, 8 = value (or offset)."""
    data = bytearray(seed_files()[name])
    at = _tiff_entry(bytes(data), tag) + field
    data[at:at + struct.calcsize(fmt)] = struct.pack(fmt, value)
    return bytes(data)


@pytest.mark.parametrize("tiff_type", [2, 5, 7, 11, 12])  # ASCII, RATIONAL, UNDEFINED, FLOAT, DOUBLE
def test_tiff_strip_offsets_of_another_type_is_one_sentence(tmp_path, tiff_type):
    """Found: TypeError ("'IFDRational' object cannot be interpreted as an integer") from inside decode."""
    path = tmp_path / "scan.tif"
    path.write_bytes(_tiff_with("rgb.tif", 273, 2, "<H", tiff_type))
    for read in (read_image, read_raw_mask, read_mask):
        with pytest.raises(DatasetError, match="scan.tif is damaged or truncated"):
            read(path)


def _corrupt_strip(name: str) -> bytes:
    """A compressed TIFF whose strip data is garbage past its first bytes: libtiff's codec fails mid-decode."""
    data = bytearray(seed_files()[name])
    strip = struct.unpack("<I", data[_tiff_entry(bytes(data), 273) + 8:][:4])[0]
    data[strip + 4:strip + 64] = bytes(range(7, 67))
    return bytes(data)


def _exif_orientation_count(count: int) -> bytes:
    """exif6.jpg with its orientation entry claiming `count` values: Pillow warns while reading the EXIF."""
    data = bytearray(seed_files()["exif6.jpg"])
    data[data.index(b"Exif\0\0") + 22] = count
    return bytes(data)


CHATTY = {  # files that made libtiff print to fd 2, Pillow warn, or Pillow's logger print, before the fix
    "deflate.tif": lambda: _corrupt_strip("deflate.tif"),  # "ZIPDecode: Decoding error at scanline 0…"
    "lzw.tif": lambda: _corrupt_strip("lzw.tif"),  # "LZWDecode: Corrupted LZW table…"
    "jpeg.tif": lambda: _corrupt_strip("jpeg.tif"),  # "JPEGLib: …"
    "counts.tif": lambda: _tiff_with("rgb.tif", 258, 4, "<I", 1 << 31),  # "Tag data larger than file"
    "samples.tif": lambda: _tiff_with("rgb.tif", 277, 8, "<H", 4096),  # "More samples per pixel…"
    "exif.jpg": lambda: _exif_orientation_count(255),  # "Tag data larger than file" (the image still reads)
}


@pytest.mark.parametrize("name", sorted(CHATTY))
def test_damaged_files_print_nothing_to_the_terminal(tmp_path, capfd, name):
    """libtiff writes straight to file descriptor 2 from C, so this captures at the fd level."""
    path = tmp_path / name
    path.write_bytes(CHATTY[name]())
    capfd.readouterr()
    check_readers(path)
    assert capfd.readouterr() == ("", "")


def test_damaged_files_print_nothing_in_a_fresh_process(tmp_path):
    """As the CLI runs: no logging set up (Python would print Pillow's log records) and no pytest capture."""
    for name, make in CHATTY.items():
        (tmp_path / name).write_bytes(make())
    script = ("import sys\nfrom pathlib import Path\nfrom seg_desktop.core.errors import DatasetError\n"
              "from seg_desktop.core.imageio import image_size, read_image\n"
              "from seg_desktop.core.maskio import read_mask\n"
              "for path in sorted(Path(sys.argv[1]).iterdir()):\n"
              "    for read in (image_size, read_image, read_mask):\n"
              "        try:\n            read(path)\n        except DatasetError:\n            pass\n"
              "print('read', len(list(Path(sys.argv[1]).iterdir())))\n")
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], capture_output=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert (done.returncode, done.stdout, done.stderr) == (0, f"read {len(CHATTY)}\n".encode(), b"")


def test_a_corrupt_tiff_does_not_stop_predict_for_the_other_images(tmp_path, capsys):
    """Found: the TypeError of one TIFF ended `seg-desktop predict` with a traceback and no mask for anyone."""
    from seg_desktop.cli import main
    from tests.helpers import make_untrained_run, snapshot

    data = tmp_path / "data"
    (data / "images").mkdir(parents=True)
    for name in ("a", "b"):
        Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(data / "images" / f"{name}.png")
    (data / "images" / "scan.tif").write_bytes(_tiff_with("rgb.tif", 273, 2, "<H", 5))
    run = make_untrained_run(tmp_path / "run", open_dataset(data))
    before = snapshot(data)
    capsys.readouterr()
    assert main(["predict", str(run), str(data), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "scan.tif is damaged or truncated" in err and "Traceback" not in err
    assert sorted(p.name for p in (tmp_path / "out").glob("*.png")) == ["a.png", "b.png"]
    assert snapshot(data) == before
