"""Every corpus case: the folder opens, the bad file is named with a reason, good files read, nothing changes."""

import os

import numpy as np
import pytest

from seg_desktop.core.dataset import Problem, open_dataset
from seg_desktop.core.errors import DatasetError
from seg_desktop.core.project import load_project

from .corpus import CASES, snapshot


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_case(tmp_path, case):
    root = tmp_path / "data"
    root.mkdir()
    case.build(root)
    before = snapshot(root)
    try:
        ds = open_dataset(root)
        decode_every_file(ds)
        load_project(root)
        problems = ds.problems
        if case.bad is None:
            assert problems == [], [p.reason for p in problems]
        else:
            target = (root.resolve() / case.bad) if case.bad != "." else root.resolve()
            hits = [p for p in problems if Path_eq(p.path, target) or str(target.name) in p.reason]
            assert hits, f"{case.bad} not reported; problems: {[p.reason for p in problems]}"
            assert any(case.reason in p.reason for p in hits), [p.reason for p in hits]
            for p in hits:
                assert "\n" not in p.reason and "Traceback" not in p.reason
        bad_keys = {p.path for p in problems}
        for sample in ds.samples:  # every sample not reported reads fine, at its own size
            if sample.image_path in bad_keys or sample.mask_path in bad_keys:
                continue
            image = ds.read_image(sample)
            assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
            if sample.labelled:
                assert ds.read_mask(sample).shape == image.shape[:2]
    finally:
        for dirpath, _, filenames in os.walk(root):
            for name in filenames:
                p = os.path.join(dirpath, name)
                if not os.path.islink(p):
                    os.chmod(p, 0o644)
    assert snapshot(root) == before, "opening and checking the folder changed files on disk"


def decode_every_file(ds) -> None:
    """What the app and the trainer do with each file sooner or later: decode it. A bad one must raise one
    DatasetError sentence, recorded here as a problem of the folder like the ones open_dataset found."""
    for sample in ds.samples:
        try:
            ds.read_image(sample)
            if sample.mask_path is not None:
                ds.read_mask(sample)  # checks size against the image, colours and values
        except DatasetError as exc:
            ds.problems.append(Problem(exc.path if exc.path is not None else sample.image_path, str(exc)))


def Path_eq(a, b) -> bool:
    try:
        return os.path.abspath(a) == os.path.abspath(b)
    except TypeError:
        return False


def test_corpus_is_large_enough():
    assert len(CASES) >= 30
