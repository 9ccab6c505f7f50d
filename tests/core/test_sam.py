"""Bring-your-own SAM with a tiny ONNX pair the test builds: loading, embedding cache, click and box prompts."""

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="the SAM tool needs the optional onnxruntime (seg-desktop[onnx])")
pytest.importorskip("onnx", reason="the test builds its tiny ONNX pair with the onnx package")

from seg_desktop.core.assist.sam import Prompt, SamModel, cached_embedding  # noqa: E402
from seg_desktop.core.errors import DatasetError  # noqa: E402
from tests.helpers import snapshot  # noqa: E402
from tests.sam_helpers import make_tiny_sam  # noqa: E402


def square_image() -> tuple[np.ndarray, np.ndarray]:
    image = np.full((64, 64, 3), 90, np.uint8)
    image[16:40, 20:48] = 230
    truth = np.zeros((64, 64), bool)
    truth[16:40, 20:48] = True
    return image, truth


def test_click_and_box_give_a_mask_and_the_embedding_is_cached(tmp_path):
    encoder, decoder = make_tiny_sam(tmp_path / "model")
    model = SamModel(encoder, decoder)
    assert model.size == 32
    image, truth = square_image()
    root = tmp_path / "data"
    root.mkdir()
    embedding = cached_embedding(model, image, root, "images/a.png")
    files = list((root / ".seg-desktop" / "cache" / "sam").rglob("*.npy"))
    assert len(files) == 1 and files[0].name == "images%2Fa.png.npy"
    before = snapshot(root)
    again = cached_embedding(model, image, root, "images/a.png")
    assert np.array_equal(again, embedding) and snapshot(root) == before  # read back, not rewritten
    click = model.predict(embedding, (64, 64), Prompt(points=[(30, 25, True)]))
    box = model.predict(embedding, (64, 64), Prompt(box=(18, 14, 50, 42)))
    for mask in (click, box):
        assert mask.shape == (64, 64) and mask.dtype == bool
        assert (mask == truth).mean() > 0.97
    assert model.predict(embedding, (64, 64), Prompt()) is None


def test_missing_or_wrong_files_say_what_to_get(tmp_path):
    encoder, decoder = make_tiny_sam(tmp_path / "model")
    with pytest.raises(DatasetError, match="is not there.*ONNX"):
        SamModel(tmp_path / "nope.onnx", decoder)
    with pytest.raises(DatasetError, match="does not look like a SAM mask decoder"):
        SamModel(encoder, encoder)
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(DatasetError, match="not an ONNX model"):
        SamModel(encoder, bad)
