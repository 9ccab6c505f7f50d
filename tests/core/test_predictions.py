"""The on-disk prediction cache and the label-next ranking."""

import json
import os

import numpy as np
import pytest

from seg_desktop.core.predictions import PredictionCache, file_name, rank_for_labelling


@pytest.fixture
def cache(tmp_path):
    run = tmp_path / "data" / ".seg-desktop" / "runs" / "20240101-000000-unet"
    run.mkdir(parents=True)
    (run / "best.keras").write_bytes(b"model v1")
    cache = PredictionCache(tmp_path / "data", run)
    cache.bind(run / "best.keras")
    return cache


def test_file_names_are_distinct_for_distinct_keys():
    keys = ["a/b.png", "a%2Fb.png", "a__b.png", "a/b.jpg"]
    assert len({file_name(k) for k in keys}) == len(keys)
    assert "/" not in file_name("images/train/x.png")


def test_masks_and_entropy_round_trip(cache):
    mask = np.arange(12, dtype=np.uint8).reshape(3, 4) % 5
    entropy = np.linspace(0, np.log(5), 12, dtype=np.float32).reshape(3, 4)
    cache.save("images/x.png", mask, entropy, max_entropy=float(np.log(5)))
    assert cache.mask_path("images/x.png").parent == cache.folder
    assert cache.folder.parent.name == "predictions" and cache.folder.name == "20240101-000000-unet"
    assert np.array_equal(cache.load_mask("images/x.png"), mask)
    back = cache.load_entropy("images/x.png", max_entropy=float(np.log(5)))
    assert np.allclose(back, entropy, atol=np.log(5) / 255)
    assert cache.load_mask("images/never.png") is None and cache.load_entropy("images/never.png") is None


def test_scores_written_atomically_as_json_with_null_for_nan(cache):
    scores = {"a.png": {"iou": 0.5, "entropy": 0.2, "pixel_accuracy": 0.9},
              "b.png": {"iou": float("nan"), "entropy": 0.7, "pixel_accuracy": None}}
    cache.write_scores(scores)
    data = json.loads((cache.folder / "index.json").read_text())
    assert data["b.png"] == {"iou": None, "entropy": 0.7, "pixel_accuracy": None}
    assert cache.read_scores()["a.png"] == scores["a.png"]
    assert not [p for p in cache.folder.iterdir() if p.name.endswith(".tmp")]


def test_cache_of_a_changed_model_is_stale_and_emptied_on_bind(cache):
    cache.save("a.png", np.zeros((2, 2), np.uint8))
    cache.write_scores({"a.png": {"iou": 1.0, "entropy": 0.0, "pixel_accuracy": 1.0}})
    model = cache.run_folder / "best.keras"
    assert cache.is_current() and cache.bind(model)  # same model: kept
    model.write_bytes(b"model v2, retrained")
    os.utime(model, ns=(1, 1))
    assert not cache.is_current() and cache.read_scores() == {}
    assert not cache.bind(model)
    assert cache.load_mask("a.png") is None and cache.is_current()


def test_rank_for_labelling_most_uncertain_first_unscored_last():
    scores = {"a": {"entropy": 0.1}, "b": {"entropy": 0.9}, "c": {"entropy": None}, "d": {"entropy": 0.5},
              "z": {"entropy": 5.0}}
    assert rank_for_labelling(scores, ["a", "b", "c", "d", "e"]) == ["b", "d", "a", "c", "e"]
    assert rank_for_labelling({}, ["x", "y"]) == ["x", "y"]
