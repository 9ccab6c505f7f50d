"""Multi-worker training (issue 11): two `seg-desktop train --strategy multiworker` processes on 127.0.0.1 train
one model together, and the chief's run folder is a normal run; plus the strategy choice in ml/distribute.py.

Before the fix both workers ended with "Collective ops must be configured at program startup" (the training
child ran TensorFlow before creating MultiWorkerMirroredStrategy), then Keras 3's fit() failed under that
strategy twice (keras-team/keras#20585).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from seg_desktop.cli import main
from seg_desktop.core.sample_data import make_sample_dataset
from seg_desktop.ml.distribute import cluster_task, is_chief

TIMEOUT_S = 150


def _free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _tf_config(ports: list[int], index: int) -> str:
    return json.dumps({"cluster": {"worker": [f"127.0.0.1:{p}" for p in ports]},
                       "task": {"type": "worker", "index": index}})


def _cli(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "seg_desktop", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)


def test_two_workers_train_one_run_that_evaluate_reads(tmp_path: Path, capsys) -> None:
    data = make_sample_dataset(tmp_path / "data", n=10, size=32)
    run = tmp_path / "run"
    ports = _free_ports(2)
    temps = [tmp_path / f"tmp{i}" for i in range(2)]
    workers = []
    for i in range(2):
        temps[i].mkdir()
        env = dict(os.environ, TF_CONFIG=_tf_config(ports, i), TMPDIR=str(temps[i]), TF_CPP_MIN_LOG_LEVEL="2",
                   CUDA_VISIBLE_DEVICES="")
        workers.append(_cli("train", str(data), "--model", "unet", "--size", "32", "--base-filters", "4",
                            "--epochs", "1", "--batch", "16", "--no-augment", "--strategy", "multiworker",
                            "--out", str(run), env=env))
    outputs = []
    try:
        for w in workers:
            outputs.append(w.communicate(timeout=TIMEOUT_S))
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()
    for i, (w, (out, err)) in enumerate(zip(workers, outputs)):
        assert w.returncode == 0, f"worker {i} failed: {err[-2000:]}"
        # Each worker took part: it says where it is in the cluster, how the global batch is split, and logs
        # the epoch it trained.
        assert f"worker {i} of 2 workers" in out, out
        assert "global batch 16, 8 per replica" in out, out
        assert "epoch 1/1" in out, out
    # The workers trained in step, so they report the same loss.
    losses = [next(line for line in out.splitlines() if line.startswith("epoch 1/1")).split()[3]
              for out, _ in outputs]
    assert losses[0] == losses[1]
    assert str(run) in outputs[0][0] and "written by the chief" in outputs[1][0]

    names = {p.name for p in run.iterdir()}
    assert {"config.json", "history.csv", "best.keras", "last.keras", "metrics.json"} <= names
    assert not any(name.endswith(".tmp.keras") for name in names)  # no temporary checkpoint left
    assert len((run / "history.csv").read_text().strip().splitlines()) == 2  # header + one epoch
    assert json.loads((run / "config.json").read_text())["strategy"] == "multiworker"
    # The non-chief worker kept its copy in a temporary folder and removed it.
    assert list(temps[1].iterdir()) == []

    capsys.readouterr()
    assert main(["evaluate", str(run), str(data), "--split", "val", "--json"]) == 0
    scores = json.loads(capsys.readouterr().out)
    recorded = json.loads((run / "metrics.json").read_text())
    assert scores["mean_iou"] == pytest.approx(recorded["mean_iou"])


def test_multiworker_without_tf_config_is_one_sentence(tmp_path: Path) -> None:
    data = make_sample_dataset(tmp_path / "data", n=4, size=32)
    env = {k: v for k, v in os.environ.items() if k != "TF_CONFIG"}
    p = _cli("train", str(data), "--model", "unet", "--size", "32", "--epochs", "1", "--strategy", "multiworker",
             env=env)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 1
    assert "TF_CONFIG" in err and "Traceback" not in err
    assert not (data / ".seg-desktop" / "runs").exists() or not any((data / ".seg-desktop" / "runs").iterdir())


def test_mirrored_says_when_there_is_one_device() -> None:
    from seg_desktop.ml.distribute import describe, select_strategy

    strategy = select_strategy("mirrored")
    where, warning = describe(strategy, "mirrored", 4)
    if strategy.num_replicas_in_sync == 1:
        assert warning is not None and "one device" in warning
    else:
        assert warning is None and f"{strategy.num_replicas_in_sync} devices" in where
    with pytest.raises(ValueError, match="cannot be split"):
        describe(strategy, "mirrored", 0)


@pytest.mark.parametrize("tf_config, strategy, chief", [
    (None, "multiworker", True),
    ({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 0}}, "multiworker", True),
    ({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}}, "multiworker", False),
    ({"cluster": {"chief": ["c:1"], "worker": ["a:1"]}, "task": {"type": "worker", "index": 0}}, "multiworker",
     False),
    ({"cluster": {"chief": ["c:1"], "worker": ["a:1"]}, "task": {"type": "chief", "index": 0}}, "multiworker",
     True),
    # A TF_CONFIG left in the environment does not make a single-machine run write elsewhere.
    ({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}}, "auto", True),
])
def test_who_writes_the_run_folder(monkeypatch, tf_config, strategy, chief) -> None:
    if tf_config is None:
        monkeypatch.delenv("TF_CONFIG", raising=False)
    else:
        monkeypatch.setenv("TF_CONFIG", json.dumps(tf_config))
    assert is_chief(strategy) is chief
    if tf_config is not None:
        task = cluster_task()
        assert task is not None and task.count == sum(len(v) for v in tf_config["cluster"].values())
