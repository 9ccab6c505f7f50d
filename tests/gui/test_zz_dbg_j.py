import time
from pathlib import Path
from tests.helpers import fill_training_form
from seg_desktop.gui.training import worker as wm
from seg_desktop.ml import remote
def test_dbg(qtbot, window, open_folder, sample_folder, monkeypatch):
    T = {}
    orig_kill = wm.TrainingWorker.kill
    def kill(self):
        T["kill"] = time.monotonic(); orig_kill(self)
    monkeypatch.setattr(wm.TrainingWorker, "kill", kill)
    orig_run = remote.ChildRunner.run
    def run(self, *a, **k):
        try: return orig_run(self, *a, **k)
        finally: T["runner_returned"] = time.monotonic()
    monkeypatch.setattr(remote.ChildRunner, "run", run)
    open_folder(sample_folder)
    panel = window.training
    fill_training_form(panel, size="48", epochs=50)
    batches = []
    panel.train_button.click()
    panel._worker.batchDone.connect(lambda e, s, n, _l: batches.append((e, s, n)))
    panel._worker.finished.connect(lambda *a: T.setdefault("finished_emit", time.monotonic()))
    qtbot.waitUntil(lambda: any(e == 1 and s == n - 1 for e, s, n in batches), timeout=60000)
    t0 = time.monotonic()
    panel.stop_button.click()
    qtbot.waitUntil(lambda: not panel.is_training(), timeout=15000)
    T["done"] = time.monotonic()
    print({k: round(v - t0, 3) for k, v in T.items()})
