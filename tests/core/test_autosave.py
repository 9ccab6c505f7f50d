"""Autosaves: round trip, replacement, listing only complete entries, damage reported, offer only newer ones."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from seg_desktop.core.autosave import (autosave_dir, clear_autosave, list_autosaves, newer_than_masks,
                                       read_autosave, write_autosave)
from seg_desktop.core.errors import DatasetError


def mask(value: int, shape=(5, 7)) -> np.ndarray:
    m = np.zeros(shape, np.uint8)
    m[1:3, 2:6] = value
    return m


def test_round_trip_and_replace(tmp_path):
    write_autosave(tmp_path, "images/a b/ü.png", mask(1))
    entry = write_autosave(tmp_path, "images/a b/ü.png", mask(2))
    entries = list_autosaves(tmp_path)
    assert [e.key for e in entries] == ["images/a b/ü.png"]
    assert entries[0].saved_at == pytest.approx(entry.saved_at)
    assert np.array_equal(read_autosave(entries[0]), mask(2))
    assert sorted(p.suffix for p in autosave_dir(tmp_path).iterdir()) == [".json", ".npy"]  # no temp files left


def test_clear_and_missing_folder(tmp_path):
    assert list_autosaves(tmp_path) == []
    write_autosave(tmp_path, "x.png", mask(1))
    write_autosave(tmp_path, "y.png", mask(1))
    clear_autosave(tmp_path, "x.png")
    clear_autosave(tmp_path, "never-saved.png")
    assert [e.key for e in list_autosaves(tmp_path)] == ["y.png"]
    assert not any(p.name.startswith(".") for p in autosave_dir(tmp_path).iterdir())


def test_incomplete_or_foreign_entries_are_not_listed(tmp_path):
    entry = write_autosave(tmp_path, "x.png", mask(1))
    folder = autosave_dir(tmp_path)
    (folder / "junk.json").write_text("{not json")
    (folder / "other.json").write_text(json.dumps({"key": "z.png", "saved_at": 1.0, "file": "../../../etc/passwd"}))
    (folder / "orphan.npy").write_bytes(b"")  # a crash between the .npy and its side file
    assert [e.key for e in list_autosaves(tmp_path)] == ["x.png"]
    entry.path.unlink()
    assert list_autosaves(tmp_path) == []


def test_damaged_mask_is_a_sentence(tmp_path):
    entry = write_autosave(tmp_path, "x.png", mask(1))
    entry.path.write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(DatasetError, match="x.png is damaged"):
        read_autosave(entry)
    np.save(entry.path, np.zeros((2, 2), np.float32))
    with pytest.raises(DatasetError, match="not a mask"):
        read_autosave(entry)


def test_refuses_non_masks(tmp_path):
    with pytest.raises(ValueError):
        write_autosave(tmp_path, "x.png", np.zeros((4, 4, 3), np.uint8))


def test_only_autosaves_newer_than_the_mask_are_offered(tmp_path):
    a = write_autosave(tmp_path, "a.png", mask(1))
    b = write_autosave(tmp_path, "b.png", mask(1))
    c = write_autosave(tmp_path, "c.png", mask(1))
    now = time.time()
    offered = newer_than_masks([a, b, c], {"a.png": now + 10, "b.png": now - 10})  # c: no longer in folder
    assert offered == [b]
    assert newer_than_masks([a], {"a.png": None}) == [a]  # unlabelled image: any autosave is new work
