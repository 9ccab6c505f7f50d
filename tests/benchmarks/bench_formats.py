"""Every mask format on the real CamVid frames (8 x 480x360, 12 classes incl. void): export with its read-back
check, then import into a new dataset; time per image and the fidelity found, against the `index` format
(plain PNG writing, the baseline) measured in the same run.

Run with the project's Python (not collected by pytest):  .venv/bin/python tests/benchmarks/bench_formats.py
Without ../shared/data/camvid-mini it uses a generated 40-image sample instead and says so.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from seg_desktop.core.dataset import open_dataset
from seg_desktop.core.formats import FORMAT_NAMES
from seg_desktop.core.formats.transfer import export_masks, import_masks, planned_samples
from seg_desktop.core.sample_data import make_sample_dataset

CAMVID = Path(__file__).resolve().parents[3] / "shared" / "data" / "camvid-mini"


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = CAMVID if CAMVID.is_dir() else make_sample_dataset(Path(tmp) / "sample", n=40, size=256)
        data = open_dataset(root)
        samples = data.labelled()
        items = [(p, lambda s=s: data.read_mask(s)) for p, s in zip(planned_samples(samples), samples)]
        print(f"{root.name}: {len(samples)} images, {data.classes.num_classes} classes "
              f"(+ void {data.classes.ignore_index})")
        print(f"{'format':<11} {'export+check ms/img':>20} {'import ms/img':>14} {'x index':>8}  read back")
        base = None
        rows = []
        for fmt in FORMAT_NAMES:
            t0 = time.perf_counter()
            result = export_masks(items, data.classes, fmt, Path(tmp) / fmt, dataset=data)
            t1 = time.perf_counter()
            imported = import_masks(Path(tmp) / fmt, fmt, Path(tmp) / f"{fmt}-in")
            t2 = time.perf_counter()
            per = (t1 - t0) * 1000 / len(samples), (t2 - t1) * 1000 / len(samples)
            if fmt == "index":
                base = per[0] + per[1]
            fidelity = (f"{result.pixels_differing} pixels differ" if result.worst_iou is None else
                        f"worst class IoU {result.worst_iou:.4f}")
            ok = "ok" if not result.differences and not imported.problems else f"{len(result.differences)} diffs"
            rows.append((fmt, per, fidelity, ok))
        for fmt, (export, imp), fidelity, ok in rows:
            print(f"{fmt:<11} {export:>20.1f} {imp:>14.1f} {(export + imp) / base:>8.2f}  {fidelity} ({ok})")


if __name__ == "__main__":
    main()
