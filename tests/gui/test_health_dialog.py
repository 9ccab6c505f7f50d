"""The dataset health dialog computes in a worker and shows the chart and the findings."""

import numpy as np
from PIL import Image

from seg_desktop.core.dataset import open_dataset
from seg_desktop.gui.health import HealthDialog


def test_dialog_shows_bars_per_split_and_findings(qtbot, tmp_path):
    (tmp_path / "classes.csv").write_text("index,name,r,g,b\n0,bg,0,0,0\n1,cell,255,0,0\n")
    for split, fg in (("train", 2), ("train", 3), ("val", 0)):
        for d in ("images", "masks"):
            (tmp_path / d / split).mkdir(parents=True, exist_ok=True)
        name = f"{split}_{fg}.png"
        Image.fromarray(np.zeros((10, 10, 3), np.uint8)).save(tmp_path / "images" / split / name)
        mask = np.zeros((10, 10), np.uint8)
        mask[:fg] = 1  # fg rows of the class "cell"
        Image.fromarray(mask, "L").save(tmp_path / "masks" / split / name)
    dialog = HealthDialog(open_dataset(tmp_path))
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.health is not None, timeout=10000)
    assert dialog.health.pixels["train"].tolist() == [150, 50]  # 200 train pixels, 2 + 3 rows of 10 are cells
    ax = dialog.figure.axes[0]
    heights = [round(p.get_height(), 3) for p in ax.patches]
    assert heights == [75.0, 25.0, 100.0, 0.0]  # train bars, then val bars, in % of the split's pixels
    assert "Class 'cell' never appears in the validation masks" in dialog.findings.text()
    assert not dialog.progress.isVisible()
