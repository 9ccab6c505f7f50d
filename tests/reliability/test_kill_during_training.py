"""Kill `seg-desktop train` at its worst moments, then resume: nothing on disk is damaged and the epochs agree.

The CLI trains in a child process (seg_desktop.ml.remote), which is the one writing the run folder. The kills:
the child alone in the middle of saving last.keras (the kernel's OOM killer does exactly this), then parent and
child together in the middle of an epoch (a power cut, `kill -9` of the process group), then a kill's torn
history line; each time the run must resume with epochs numbered on from the last intact row. Ctrl+C stops
after the current batch and keeps the checkpoints. Runtime about 57 s on 2 busy cores (four TensorFlow
start-ups, the first epoch of each tracing the model).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import keras
import pytest

import seg_desktop.ml.train  # noqa: F401  (registers the custom layers and loss that the checkpoints name)
from seg_desktop.core.sample_data import make_sample_dataset
from seg_desktop.ml.remote import MEMORY_LIMIT_ENV
from seg_desktop.ml.runs import read_history

STEPS = 64  # TrainConfig.min_epoch_images 256 / batch 4: batches per epoch, whatever the number of images
TIMEOUT = 120.0


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_sample_dataset(tmp_path_factory.mktemp("kill") / "data", n=8, size=32)


def start(data: Path, run: Path, epochs: int, resume: bool, log: Path, env: dict | None = None) -> subprocess.Popen:
    args = [sys.executable, "-m", "seg_desktop", "train", str(data), "--model", "unet", "--epochs", str(epochs),
            "--size", "32", "--base-filters", "4", "--batch", "4", "--no-augment", "--out", str(run)]
    if resume:
        args += ["--resume", str(run)]
    with open(log.with_suffix(".out"), "wb") as out, open(log.with_suffix(".err"), "wb") as err:
        return subprocess.Popen(args, stdout=out, stderr=err, start_new_session=True,
                                env=None if env is None else {**os.environ, **env})


def wait_for(condition, proc: subprocess.Popen, what: str, poll: float = 0.02):
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        assert proc.poll() is None, f"training ended (exit {proc.returncode}) before {what}"
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what}")


def training_child(proc: subprocess.Popen) -> int | None:
    """The pid of the 'spawn' child that runs the engine (not multiprocessing's resource tracker)."""
    try:
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    except OSError:
        return None
    for pid in children:
        try:
            if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes():
                return int(pid)
        except OSError:
            continue
    return None


def checkpoint_epochs(path: Path) -> float:
    """Epochs of training inside a checkpoint, from its saved optimizer step count (reset by each resume)."""
    model = keras.saving.load_model(path, safe_mode=True)  # a torn zip or weights file raises here
    return int(model.optimizer.iterations) / STEPS


def assert_consistent(run: Path, epochs_before: int) -> list[int]:
    """history.csv parses to epochs 1..n, and last.keras holds every epoch this process listed (at most one more:
    a kill after the checkpoint and before its row)."""
    epochs = [r["epoch"] for r in read_history(run)]
    assert epochs == list(range(1, len(epochs) + 1)), epochs
    text = (run / "history.csv").read_text()
    assert text.count("\n") == len(epochs) + 1  # no row was dropped as unparsable
    trained = checkpoint_epochs(run / "last.keras")
    assert len(epochs) - epochs_before <= trained <= len(epochs) - epochs_before + 1, (epochs, trained)
    if (run / "best.keras").exists():
        checkpoint_epochs(run / "best.keras")
    return epochs


def test_sigkill_mid_save_and_mid_epoch_then_resume(data, tmp_path):
    run = tmp_path / "run"
    temporary = run / ".last.tmp.keras"

    # 1. The OOM killer's way: SIGKILL the training child while it writes last.keras (epoch 3 or later).
    proc = start(data, run, 8, False, tmp_path / "a")
    wait_for(lambda: len(read_history(run)) >= 2, proc, "two epochs")
    child = wait_for(lambda: training_child(proc), proc, "the training child")
    wait_for(temporary.exists, proc, "a checkpoint being written", poll=0.001)
    os.kill(child, signal.SIGKILL)
    assert proc.wait(TIMEOUT) == 1
    err = (tmp_path / "a.err").read_text().strip().splitlines()
    assert err == ["seg-desktop: The training process was killed (SIGKILL), most often because the computer ran "
                   "out of memory; try a smaller batch, image size or model."]
    first = assert_consistent(run, 0)
    assert len(first) >= 2

    # 2. A power cut's way: SIGKILL parent and child together in the middle of an epoch of the resumed run.
    proc = start(data, run, 8, True, tmp_path / "b")
    wait_for(lambda: len(read_history(run)) > len(first), proc, "an epoch of the resumed run")
    time.sleep(read_history(run)[-1]["seconds"] / 2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(TIMEOUT)
    second = assert_consistent(run, len(first))
    assert second[-1] > first[-1]

    # 3. A kill in the middle of appending a row leaves a line without its newline: the resume cuts it off.
    with open(run / "history.csv", "a") as f:
        f.write(f"{second[-1] + 1},0.5")
    # (under a memory cap, as on a shared server: a run that fits trains and evaluates normally beneath it)
    proc = start(data, run, 2, True, tmp_path / "c", {MEMORY_LIMIT_ENV: "1.5"})
    assert proc.wait(TIMEOUT) == 0, (tmp_path / "c.err").read_text()
    out = (tmp_path / "c.out").read_text().splitlines()
    assert out[-1].startswith("finished") and out[-1].endswith(str(run))
    assert [line.split()[1] for line in out if line.startswith("epoch")] == \
        [f"{second[-1] + 1}/{second[-1] + 2}", f"{second[-1] + 2}/{second[-1] + 2}"]
    assert (tmp_path / "c.err").read_text() == ""  # no TensorFlow start-up noise, no warnings
    assert assert_consistent(run, len(second)) == list(range(1, second[-1] + 3))
    assert not temporary.exists() and not (run / ".best.tmp.keras").exists()
    assert (run / "metrics.json").is_file()


def _ctrl_c(proc: subprocess.Popen, log: Path) -> tuple[list[str], list[str]]:
    os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl+C does: the whole foreground group
    t0 = time.monotonic()
    assert proc.wait(TIMEOUT) == 130
    assert time.monotonic() - t0 < 30  # one batch (its first includes tracing the model), one checkpoint
    out = log.with_suffix(".out").read_text().splitlines()
    err = log.with_suffix(".err").read_text().splitlines()
    assert err == ["seg-desktop: stopping after this batch (Ctrl+C again to stop at once)."]
    return out, err


def test_ctrl_c_stops_after_the_batch_and_keeps_the_checkpoint(data, tmp_path):
    run = tmp_path / "run"
    proc = start(data, run, 8, False, tmp_path / "i")
    wait_for(lambda: "epoch 1/8" in (tmp_path / "i.out").read_text(), proc, "the first epoch to end")
    out, _ = _ctrl_c(proc, tmp_path / "i")
    assert out[-1].startswith("stopped") and out[-1].endswith(str(run))
    assert [r["epoch"] for r in read_history(run)] == [1, 2]  # the interrupted epoch is kept, as far as it went
    assert 1 < checkpoint_epochs(run / "last.keras") < 2  # stopped within the second epoch, after a batch
    assert not (run / "metrics.json").exists()  # a stopped run is not evaluated


def test_ctrl_c_during_start_up_records_no_epoch(data, tmp_path):
    """Issue 10: a Ctrl+C in the first second used to record a one-batch "epoch 1"; a stop before the first batch
    ends records nothing (no history row, no checkpoint), and still ends as a stop (exit 130)."""
    run = tmp_path / "run"
    proc = start(data, run, 8, False, tmp_path / "i")
    wait_for(lambda: "run folder" in (tmp_path / "i.out").read_text(), proc, "training to begin")
    out, _ = _ctrl_c(proc, tmp_path / "i")
    assert out[-1].startswith("stopped") and out[-1].endswith(str(run))
    assert read_history(run) == []
    assert not (run / "last.keras").exists() and not (run / "best.keras").exists()
    assert not (run / "metrics.json").exists()
