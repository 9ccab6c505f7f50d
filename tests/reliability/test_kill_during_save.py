"""SIGKILL a process while it saves masks in a loop: the mask on disk is always the old or the new one."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
from PIL import Image

from seg_desktop.core.classes import inferred_classes
from seg_desktop.core.maskio import read_mask

WRITER = textwrap.dedent("""
    import sys, numpy as np
    from pathlib import Path
    from seg_desktop.core.classes import ClassInfo, ClassSet
    from seg_desktop.core.maskio import MaskFormat, write_mask
    path = Path(sys.argv[1])
    classes = ClassSet([ClassInfo(i, str(i), (i, i, i)) for i in range(4)])
    i = 0
    print("ready", flush=True)
    while True:
        i += 1
        write_mask(path, np.full((512, 512), i % 4, np.uint8), MaskFormat("index"), classes, backup_root=path.parent)
""")


def test_mask_is_never_partial_after_sigkill(tmp_path):
    path = tmp_path / "m.png"
    Image.fromarray(np.zeros((512, 512), np.uint8), "L").save(path)
    classes = inferred_classes({0, 1, 2, 3})
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    rng = np.random.default_rng(0)
    kills = 12
    for _ in range(kills):
        proc = subprocess.Popen([sys.executable, str(script), str(path)], stdout=subprocess.PIPE)
        assert proc.stdout.readline().strip() == b"ready"
        time.sleep(float(rng.uniform(0.01, 0.15)))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        mask, _ = read_mask(path, classes)  # decodes fully: a partial PNG would raise here
        assert mask.shape == (512, 512) and len(np.unique(mask)) == 1
    leftovers = [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
    # a kill between mkstemp and rename can leave a hidden temporary file, never a damaged mask
    assert all(name.startswith(".m.png.") for name in leftovers)
    assert (tmp_path / ".seg-desktop" / "originals" / "m.png").exists()
    assert not np.asarray(Image.open(tmp_path / ".seg-desktop" / "originals" / "m.png")).any()
