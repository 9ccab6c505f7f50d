"""A training request too big for memory, on the real engine: the caller survives and gets one sentence.

The memory is capped with the user-facing SEG_DESKTOP_MEMORY_LIMIT_GB (RLIMIT_AS in the training child, 1.5 GB
beyond TensorFlow's start-up), so the test machine itself is never short of memory. A full-width UNet at 1024 px
with batch 16 needs tens of gigabytes. Past the cap TensorFlow either crashes the child (SIGSEGV, no Python
exception at all: why the GUI and the CLI train in a child) or fails an allocation deep in its graph optimiser.
Runtime about 38 s on 2 busy cores: the CLI case waits out TensorFlow's allocation retries (about 30 s).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from seg_desktop.core.sample_data import make_sample_dataset
from seg_desktop.ml.config import TrainConfig
from seg_desktop.ml.config_file import load_config
from seg_desktop.ml.errors import ChildProcessFailed, TrainingError
from seg_desktop.ml.remote import MEMORY_LIMIT_ENV, training_runner

CAP_GB = "1.5"
TOO_BIG = {"model": "unet", "base_filters": 64, "size": (1024, 1024), "batch": 16, "epochs": 1, "augment": False}
# The sentence either way the engine can fail: TensorFlow raising ResourceExhaustedError (GPU allocators do),
# or the child crashing at the cap (CPU allocators do).
ONE_SENTENCE = re.compile(r"^(Out of memory while training unet at 1024x1024 with batch 16; use a smaller batch or "
                          r"training size, or a smaller model \(fewer base filters, a lower SegNet width\)\.|"
                          r"The training process crashed \(SIG[A-Z]+\), most "
                          r"likely on reaching its memory cap \(" + MEMORY_LIMIT_ENV + "=" + re.escape(CAP_GB) +
                          r"\); try a smaller batch, image size or model, or a higher cap\.)$")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_sample_dataset(tmp_path_factory.mktemp("oom") / "data", n=8, size=32)


class Errors:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def on_error(self, message: str) -> None:
        self.messages.append(message)


def assert_no_damaged_checkpoint(run: Path) -> None:
    """The run folder keeps its config and holds no checkpoint at all, whole or partial (it died in epoch 1)."""
    assert load_config(run / "config.json").base_filters == 64
    assert sorted(p.name for p in run.iterdir() if "keras" in p.name) == []


def test_engine_past_its_memory_cap_is_one_sentence(data, tmp_path, monkeypatch):
    monkeypatch.setenv(MEMORY_LIMIT_ENV, CAP_GB)  # the spawn child inherits it; this process is not capped
    run = tmp_path / "run"
    errors = Errors()
    with pytest.raises(TrainingError) as info:  # the engine's own, pickled across, or the child's death
        training_runner(TrainConfig(data=str(data), out=str(run), **TOO_BIG)).run(errors)
    assert ONE_SENTENCE.match(str(info.value)), str(info.value)
    assert type(info.value) is TrainingError or (type(info.value) is ChildProcessFailed and info.value.kind == "died")
    assert errors.messages == [str(info.value)]  # reported once, to the listener as to the caller
    assert_no_damaged_checkpoint(run)


def test_cli_past_its_memory_cap_exits_1_with_one_sentence(data, tmp_path):
    run = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "seg_desktop", "train", str(data), "--model", "unet", "--base-filters", "64",
         "--size", "1024", "--batch", "16", "--epochs", "1", "--no-augment", "--out", str(run)],
        capture_output=True, text=True, timeout=300, env={**os.environ, MEMORY_LIMIT_ENV: CAP_GB})
    err = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(err) == 1, proc.stderr  # no traceback, no TensorFlow noise
    assert err[0].startswith("seg-desktop: ") and ONE_SENTENCE.match(err[0][len("seg-desktop: "):]), err[0]
    assert proc.stdout.startswith("training unet on 6 images")  # it got as far as training, and no further
    assert not [line for line in proc.stdout.splitlines() if line.startswith("epoch ")]  # no epoch finished
    assert_no_damaged_checkpoint(run)
