import os

import numpy as np
import pytest
from PIL import Image

from seg_desktop.core.classes import ClassInfo, ClassSet, camvid_classes, inferred_classes
from seg_desktop.core.errors import DatasetError
from seg_desktop.core.maskio import MaskFormat, read_mask, write_mask

THREE = ClassSet([ClassInfo(0, "bg", (0, 0, 0)), ClassInfo(1, "a", (255, 0, 0)), ClassInfo(2, "b", (0, 255, 0))])


def _mask():
    m = np.zeros((16, 24), np.uint8)
    m[2:8, 3:10] = 1
    m[9:14, 12:20] = 2
    return m


def test_index_roundtrip_keeps_format(tmp_path):
    p = tmp_path / "m.png"
    Image.fromarray(_mask(), "L").save(p)
    mask, fmt = read_mask(p, THREE)
    assert fmt.kind == "index" and np.array_equal(mask, _mask())
    mask[0, 0] = 2
    write_mask(p, mask, fmt, THREE)
    assert Image.open(p).mode == "L" and np.array_equal(read_mask(p, THREE)[0], mask)


def test_palette_roundtrip_keeps_palette(tmp_path):
    p = tmp_path / "m.png"
    img = Image.fromarray(_mask(), "P")
    pal = [0, 0, 0, 10, 20, 30, 40, 50, 60] + [0] * (256 * 3 - 9)
    img.putpalette(pal)
    img.save(p)
    mask, fmt = read_mask(p, THREE)
    assert fmt.kind == "palette" and np.array_equal(mask, _mask())
    write_mask(p, mask, fmt, THREE)
    back = Image.open(p)
    assert back.mode == "P" and back.getpalette()[:9] == pal[:9]


def test_colour_mask_via_class_colours(tmp_path):
    p = tmp_path / "c.png"
    Image.fromarray(THREE.lut()[_mask()], "RGB").save(p)
    mask, fmt = read_mask(p, THREE)
    assert fmt.kind == "color" and np.array_equal(mask, _mask())
    write_mask(p, mask, fmt, THREE)
    assert Image.open(p).mode == "RGB" and np.array_equal(read_mask(p, THREE)[0], _mask())


def test_unknown_colour_names_file_count_and_colour(tmp_path):
    rgb = THREE.lut()[_mask()]
    rgb[0, :5] = (1, 2, 3)
    p = tmp_path / "c.png"
    Image.fromarray(rgb, "RGB").save(p)
    with pytest.raises(DatasetError) as err:
        read_mask(p, THREE)
    msg = str(err.value)
    assert "c.png" in msg and "5 pixels" in msg and "(1, 2, 3)" in msg


def test_binary_0_255(tmp_path):
    p = tmp_path / "b.png"
    Image.fromarray((_mask() > 0).astype(np.uint8) * 255, "L").save(p)
    classes = inferred_classes({0, 255})
    mask, fmt = read_mask(p, classes)
    assert fmt.kind == "binary" and set(np.unique(mask)) == {0, 1}
    write_mask(p, mask, fmt, classes)
    assert set(np.unique(np.asarray(Image.open(p)))) == {0, 255}


def test_value_past_class_count(tmp_path):
    m = _mask()
    m[0, :3] = 7
    p = tmp_path / "v.png"
    Image.fromarray(m, "L").save(p)
    with pytest.raises(DatasetError) as err:
        read_mask(p, THREE)
    assert "v.png" in str(err.value) and "3 pixels" in str(err.value) and "7" in str(err.value)


def test_ignore_value_is_allowed():
    cam = camvid_classes()
    assert cam.num_classes == 11 and cam.ignore_index == 11 and 11 in cam.valid_values


def test_wrong_size_is_refused(tmp_path):
    p = tmp_path / "m.png"
    Image.fromarray(_mask(), "L").save(p)
    with pytest.raises(DatasetError, match="24x16 but its image is 30x20"):
        read_mask(p, THREE, expected_size=(30, 20))


def test_first_write_backs_up_original_once(tmp_path):
    root = tmp_path
    p = root / "masks" / "m.png"
    p.parent.mkdir()
    Image.fromarray(_mask(), "L").save(p)
    original = p.read_bytes()
    m = _mask()
    m[:] = 1
    write_mask(p, m, MaskFormat("index"), THREE, backup_root=root)
    backup = root / ".seg-desktop" / "originals" / "masks" / "m.png"
    assert backup.read_bytes() == original
    m[:] = 2
    write_mask(p, m, MaskFormat("index"), THREE, backup_root=root)
    assert backup.read_bytes() == original  # the first original is kept, not the intermediate version


def test_failed_write_leaves_old_mask(tmp_path, monkeypatch):
    p = tmp_path / "m.png"
    Image.fromarray(_mask(), "L").save(p)
    before = p.read_bytes()

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError):
        write_mask(p, np.ones((16, 24), np.uint8), MaskFormat("index"), THREE)
    assert p.read_bytes() == before
    assert [f.name for f in tmp_path.iterdir()] == ["m.png"]  # no temporary file left behind
