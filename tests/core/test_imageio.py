import numpy as np
import pytest
from PIL import Image

from seg_desktop.core.errors import DatasetError
from seg_desktop.core.imageio import image_size, read_image


def _save(path, arr, mode=None, **kw):
    Image.fromarray(arr, mode).save(path, **kw) if mode else Image.fromarray(arr).save(path, **kw)
    return path


@pytest.mark.parametrize("ext", ["png", "jpg", "tif", "bmp"])
def test_rgb_formats(tmp_path, ext):
    arr = np.zeros((20, 30, 3), np.uint8)
    arr[:, :15] = (200, 40, 10)
    p = _save(tmp_path / f"a.{ext}", arr)
    out = read_image(p)
    assert out.shape == (20, 30, 3) and out.dtype == np.uint8
    assert np.abs(out.astype(int) - arr).mean() < 4  # jpeg is lossy
    assert image_size(p) == (30, 20)


def test_gray_rgba_palette(tmp_path):
    gray = (np.arange(200).reshape(10, 20) % 256).astype(np.uint8)
    out = read_image(_save(tmp_path / "g.png", gray))
    assert out.shape == (10, 20, 3) and np.array_equal(out[..., 0], gray) and np.array_equal(out[..., 2], gray)
    rgba = np.zeros((10, 20, 4), np.uint8)
    rgba[..., 1] = 99
    rgba[..., 3] = 255
    assert read_image(_save(tmp_path / "a.png", rgba)).shape == (10, 20, 3)
    p = Image.fromarray(gray, "L").convert("P")
    p.save(tmp_path / "p.png")
    assert read_image(tmp_path / "p.png").shape == (10, 20, 3)


def test_16bit_is_stretched_not_darkened(tmp_path):
    arr = np.linspace(0, 4095, 64 * 64).reshape(64, 64).astype(np.uint16)  # a 12-bit camera in a 16-bit file
    Image.fromarray(arr).save(tmp_path / "c.tif")
    out = read_image(tmp_path / "c.tif")
    assert out.dtype == np.uint8 and out.max() >= 250 and out.min() <= 5


def test_float_tiff(tmp_path):
    arr = np.linspace(-1, 1, 32 * 32, dtype=np.float32).reshape(32, 32)
    Image.fromarray(arr, "F").save(tmp_path / "f.tif")
    out = read_image(tmp_path / "f.tif")
    assert out.shape == (32, 32, 3) and out.max() >= 250


def test_exif_orientation_applied(tmp_path):
    arr = np.zeros((10, 30, 3), np.uint8)
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    img.save(tmp_path / "r.jpg", exif=exif)
    assert read_image(tmp_path / "r.jpg").shape == (30, 10, 3)
    assert image_size(tmp_path / "r.jpg") == (10, 30)


def test_cmyk_jpeg(tmp_path):
    Image.new("CMYK", (12, 8), (0, 255, 255, 0)).save(tmp_path / "k.jpg")
    out = read_image(tmp_path / "k.jpg")
    assert out.shape == (8, 12, 3) and out[..., 0].mean() > 200 and out[..., 1].mean() < 60


@pytest.mark.parametrize("content,what", [(b"", "empty"), (b"hello, not an image", "not a readable image")])
def test_bad_files_name_the_file(tmp_path, content, what):
    p = tmp_path / "bad.png"
    p.write_bytes(content)
    with pytest.raises(DatasetError, match=what) as err:
        read_image(p)
    assert "bad.png" in str(err.value)


def test_truncated_png(tmp_path):
    arr = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    p = _save(tmp_path / "t.png", arr)
    p.write_bytes(p.read_bytes()[:300])
    with pytest.raises(DatasetError, match="t.png"):
        read_image(p)


def test_missing_file(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        read_image(tmp_path / "nope.png")
