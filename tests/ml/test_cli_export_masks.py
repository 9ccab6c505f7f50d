"""`seg-desktop export-masks --run`: a run's predictions, not the ground truth, in another tool's format, checked
by reading them back."""

from __future__ import annotations

import json

import numpy as np

from seg_desktop.cli import main
from seg_desktop.core.dataset import open_dataset
from seg_desktop.core.sample_data import make_sample_dataset
from seg_desktop.ml.predict import load_run, predict_sample
from tests.helpers import make_untrained_run, snapshot


def test_export_masks_of_a_run(tmp_path, capsys):
    data = open_dataset(make_sample_dataset(tmp_path / "data", n=2, size=32))
    run_dir = make_untrained_run(tmp_path / "run", data)
    before = snapshot(data.root)
    code = main(["export-masks", str(data.root), "--format", "coco", "--out", str(tmp_path / "coco"),
                 "--run", str(run_dir)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "wrote 2 coco masks" in out and "checked by reading it back" in out
    assert snapshot(data.root) == before
    doc = json.loads((tmp_path / "coco/annotations/instances_default.json").read_text())
    run = load_run(run_dir)
    expected = predict_sample(run, data, data.samples[0], probabilities=False)[1].mask
    from pycocotools import mask as rle

    painted = np.zeros_like(expected)
    for ann in doc["annotations"]:
        if ann["image_id"] == 1:
            painted[rle.decode({"size": ann["segmentation"]["size"],
                                "counts": ann["segmentation"]["counts"].encode()}).astype(bool)] = ann["category_id"]
    assert np.array_equal(painted, expected)  # the predictions, whatever the ground truth says
