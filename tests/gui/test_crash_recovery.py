"""A real crash: a child app edits masks, autosaves and keeps writing until it is SIGKILLed; reopening the folder
offers the autosave and restores the unsaved edit, and every mask on disk still decodes."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

import numpy as np
from PIL import Image

from seg_desktop.core.autosave import list_autosaves
from seg_desktop.core.dataset import open_dataset

CHILD = r'''
import sys, time
from pathlib import Path
import numpy as np
from seg_desktop.core.edits import stroke
from seg_desktop.gui.app import create_app
from seg_desktop.gui.main_window import MainWindow

folder = Path(sys.argv[1])
app = create_app()
w = MainWindow()
w.show()
w.open_folder(folder)

def wait(cond):
    start = time.time()
    while not cond():
        app.processEvents()
        time.sleep(0.005)
        if time.time() - start > 30:
            sys.exit("child timed out")

wait(lambda: w.editor.current_key() == "images/sample_000.png")
w.editor.commit("Brush", stroke(w.editor.live_mask(), [(2, 2), (20, 20)], 3, 1))
assert w.session.save_current()                                   # a saved edit
w.browser.select_key("images/sample_001.png")
wait(lambda: w.editor.current_key() == "images/sample_001.png")
w.editor.commit("Brush", stroke(w.editor.live_mask(), [(5, 40), (60, 10)], 6, 4))   # an unsaved edit
np.save(folder.parent / "expected.npy", np.array(w.session.mask()))
assert w.session.autosave_now() == 1
print("READY", flush=True)
sample = w.dataset.by_key("images/sample_002.png")      # keep writing, so the kill can land mid-write
rng = np.random.default_rng(0)
while True:
    w.dataset.write_mask(sample, rng.integers(0, 5, (64, 64), dtype=np.uint8))
    app.processEvents()
'''


def test_sigkill_then_reopen_restores_the_autosave(tmp_path, sample_folder, window, open_folder, answers):
    original_001 = np.asarray(Image.open(sample_folder / "masks" / "sample_001.png"))
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_CONFIG_HOME": str(tmp_path / "config")}
    child = subprocess.Popen([sys.executable, str(script), str(sample_folder)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
    try:
        ready, _, _ = select.select([child.stdout], [], [], 60)
        line = child.stdout.readline() if ready else ""
        assert line.strip() == "READY", child.stderr.read() if child.poll() is not None else "no READY in 60 s"
        time.sleep(0.3)  # a few hundred mask writes in flight
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    assert child.returncode == -signal.SIGKILL

    expected = np.load(tmp_path / "expected.npy")
    assert not np.array_equal(expected, original_001)
    assert np.array_equal(np.asarray(Image.open(sample_folder / "masks" / "sample_001.png")), original_001)
    assert [a.key for a in list_autosaves(sample_folder)] == ["images/sample_001.png"]

    answers.restore = True
    open_folder(sample_folder)
    assert [a.key for a in answers.offered[0]] == ["images/sample_001.png"]
    assert np.array_equal(np.asarray(Image.open(sample_folder / "masks" / "sample_001.png")), expected)
    assert list_autosaves(sample_folder) == []
    assert window.browser.model.rows[1].status == "edited"

    dataset = open_dataset(sample_folder)
    assert len(dataset.samples) == 8 and dataset.problems == []
    for sample in dataset.samples:  # nothing half-written: every mask decodes to a valid 64x64 index mask
        mask = dataset.read_mask(sample)
        assert mask.shape == (64, 64) and mask.max() <= 4
