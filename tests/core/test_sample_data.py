"""The synthetic sample dataset: files, formats, determinism, classes, and the cached built-in copy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seg_desktop.core.classes import read_classes_csv
from seg_desktop.core.dataset import open_dataset
from seg_desktop.core.sample_data import SAMPLE_CLASSES, make_sample_dataset, sample_dataset_dir
from seg_desktop.core.writeguard import MANIFEST


def _files(folder: Path) -> dict[str, bytes]:
    """The dataset's files and bytes; the write guard's manifest records write times, so it is not content."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != MANIFEST}


def test_layout_shapes_and_formats(tmp_path: Path) -> None:
    out = make_sample_dataset(tmp_path / "s", n=6, size=64, seed=3)
    images = sorted((out / "images").iterdir())
    masks = sorted((out / "masks").iterdir())
    assert [p.name for p in images] == [f"sample_{i:03d}.png" for i in range(6)]
    assert [p.name for p in masks] == [p.name for p in images]
    for ip, mp in zip(images, masks):
        with Image.open(ip) as im, Image.open(mp) as m:
            assert im.mode == "RGB" and m.mode == "L" and im.size == m.size == (64, 64)
            arr = np.asarray(m)
        assert arr.dtype == np.uint8 and arr.max() <= 4
        assert 0.05 < (arr > 0).mean() < 0.95  # shapes and background both present


def test_classes_csv_and_every_class_present(tmp_path: Path) -> None:
    out = make_sample_dataset(tmp_path, n=4, size=64)
    assert (out / "classes.csv").read_text().splitlines()[:2] == ["index,name,r,g,b", "0,background,0,0,0"]
    classes = read_classes_csv(out / "classes.csv")
    assert classes.names == ["background", "disc", "rectangle", "triangle", "ring"]
    assert classes.ignore_index is None
    seen = set()
    for p in (out / "masks").iterdir():
        with Image.open(p) as m:
            seen |= set(np.unique(np.asarray(m)).tolist())
    assert seen == {0, 1, 2, 3, 4}


def test_images_are_not_flat_and_classes_differ_in_colour(tmp_path: Path) -> None:
    out = make_sample_dataset(tmp_path, n=8, size=96)
    means = {c: [] for c in range(5)}
    for name in sorted(p.name for p in (out / "images").iterdir()):
        image = np.asarray(Image.open(out / "images" / name), dtype=np.float64)
        mask = np.asarray(Image.open(out / "masks" / name))
        assert image[mask == 0].std() > 5  # textured background, not a flat fill
        for c in range(5):
            if (mask == c).any():
                means[c].append(image[mask == c].mean(axis=0))
    centres = np.array([np.mean(means[c], axis=0) for c in range(1, 5)])
    gaps = np.linalg.norm(centres[:, None] - centres[None], axis=-1)[np.triu_indices(4, 1)]
    assert gaps.min() > 60  # each shape class has its own colour tendency


def test_deterministic_and_seed_dependent(tmp_path: Path) -> None:
    a = _files(make_sample_dataset(tmp_path / "a", n=3, size=48, seed=7))
    b = _files(make_sample_dataset(tmp_path / "b", n=3, size=48, seed=7))
    c = _files(make_sample_dataset(tmp_path / "c", n=3, size=48, seed=8))
    assert a == b
    assert a["images/sample_000.png"] != c["images/sample_000.png"]
    # image i depends only on (seed, i): a longer set extends a shorter one
    d = _files(make_sample_dataset(tmp_path / "d", n=5, size=48, seed=7))
    assert all(d[k] == v for k, v in a.items())


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="n must"):
        make_sample_dataset(tmp_path, n=0)
    with pytest.raises(ValueError, match="size"):
        make_sample_dataset(tmp_path, size=8)


def test_opens_as_an_images_masks_dataset(tmp_path: Path) -> None:
    ds = open_dataset(make_sample_dataset(tmp_path, n=5, size=48))
    assert ds.layout and not ds.problems
    assert len(ds.labelled()) == 5
    assert ds.classes.num_classes == SAMPLE_CLASSES.num_classes == 5
    assert ds.read_mask(ds.samples[0]).shape == (48, 48)


def test_builtin_sample_is_built_once_in_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEG_DESKTOP_CACHE", str(tmp_path))
    first = sample_dataset_dir()
    assert first.parent == tmp_path and (first / "classes.csv").is_file()
    assert len(list((first / "images").iterdir())) == 40
    stamp = (first / "images" / "sample_000.png").stat().st_mtime_ns
    assert sample_dataset_dir() == first
    assert (first / "images" / "sample_000.png").stat().st_mtime_ns == stamp  # not rebuilt
    assert [p.name for p in tmp_path.iterdir()] == [first.name]  # no temporary folder left behind


def test_incomplete_cached_sample_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEG_DESKTOP_CACHE", str(tmp_path))
    leftover = tmp_path / "sample-v1" / "images"
    leftover.mkdir(parents=True)
    (leftover / "half.png").write_bytes(b"")
    folder = sample_dataset_dir()
    assert (folder / "classes.csv").is_file() and not (folder / "images" / "half.png").exists()
