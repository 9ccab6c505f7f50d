"""Only regular files are read, within a size cap per kind (issue 10, item 2).

Opening a named pipe blocks until someone writes to it, so before this a FIFO named RUN/config.json hung
`evaluate`/`predict` and one named DATA/.seg-desktop/project.json hung `train`, forever. Every read here runs
under a deadline (an alarm in-process, a timeout on a subprocess) so a regression fails instead of hanging.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seg_desktop.cli import main
from seg_desktop.core import safeio
from seg_desktop.core.classes import read_class_file
from seg_desktop.core.dataset import open_dataset
from seg_desktop.core.errors import DatasetError
from seg_desktop.core.imageio import read_image
from seg_desktop.core.predictions import PredictionCache
from seg_desktop.core.project import load_project
from seg_desktop.core.sample_data import make_sample_dataset
from seg_desktop.ml.config_file import load_config
from seg_desktop.ml.runs import list_runs, read_history
from tests.helpers import sample_data_and_run, snapshot

REPO = Path(__file__).resolve().parents[2]


class Blocked(BaseException):
    """Not an OSError (as TimeoutError is), so no reader's `except OSError` can swallow it and block again."""


@contextlib.contextmanager
def deadline(seconds: int = 20):
    """Raise Blocked in the main thread after `seconds`: a blocked open() of a FIFO is interrupted."""
    def expired(signum, frame):
        raise Blocked(f"still blocked after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def run_python(code: str, timeout: int, cwd: Path) -> subprocess.CompletedProcess:
    """`code` in a fresh interpreter in its own session, killed with all its children after `timeout` s."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail(f"still running after {timeout} s: it blocked on a special file")
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


data, run = sample_data_and_run(n=4)


def test_fifo_named_run_config_fails_evaluate_and_predict_at_once(tmp_path, data, run):
    folder = tmp_path / "run"
    folder.mkdir()
    os.mkfifo(folder / "config.json")
    (folder / "best.keras").write_bytes((run / "best.keras").read_bytes())
    before = snapshot(data, folder)
    code = f"""
        import sys
        from seg_desktop.cli import main
        codes = [main(["evaluate", {str(folder)!r}, {str(data)!r}]),
                 main(["predict", {str(folder)!r}, {str(data)!r}, "--out", {str(tmp_path / 'out')!r}])]
        print(codes)
    """
    done = run_python(textwrap.dedent(code), 240, tmp_path)
    assert done.stdout.strip() == "[1, 1]" and "Traceback" not in done.stderr, done.stderr
    said = [line for line in done.stderr.splitlines() if line.startswith("seg-desktop:")]
    assert len(said) == 2 and all("config.json is a named pipe, not a file" in line for line in said), said
    assert not (tmp_path / "out").exists() and snapshot(data, folder) == before


def test_fifo_named_project_json_does_not_hang_train(tmp_path):
    root = make_sample_dataset(tmp_path / "data", n=4, size=32)
    (root / ".seg-desktop").mkdir(exist_ok=True)
    os.mkfifo(root / ".seg-desktop" / "project.json")
    out = tmp_path / "runout"
    code = f"""
        import sys
        from seg_desktop.cli import main
        sys.exit(main(["train", {str(root)!r}, "--model", "unet", "--epochs", "1", "--size", "32", "--batch", "4",
                       "--base-filters", "4", "--no-augment", "--out", {str(out)!r}]))
    """
    done = run_python(textwrap.dedent(code), 400, tmp_path)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
    assert (out / "history.csv").is_file() and len(read_history(out)) == 1


def _fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def _run_folder(root: Path, run: Path) -> Path:
    folder = root / ".seg-desktop" / "runs" / "20250101-000000-unet"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text((run / "config.json").read_text())
    return folder


def _project(root, run):
    _fifo(root / ".seg-desktop" / "project.json")
    return load_project(root).problem


def _config(root, run):
    with pytest.raises(DatasetError) as info:
        load_config(_fifo(root / "config.json"))
    return str(info.value)


def _class_file(root, run):
    _fifo(root / "labelmap.txt")
    with pytest.raises(DatasetError) as info:
        read_class_file(root / "labelmap.txt")
    ds = open_dataset(root)  # the folder opens without it, classes guessed from the masks
    assert ds.classes.source.startswith("inferred") and [str(p) for p in ds.problems] == [str(info.value)]
    return str(info.value)


def _image(root, run):
    with pytest.raises(DatasetError) as info:
        read_image(_fifo(root / "x.png"))
    return str(info.value)


def _runs_list(root, run):
    folder = _run_folder(root, run)
    _fifo(folder / "history.csv")
    _fifo(folder / "metrics.json")
    (info,) = list_runs(root)
    assert info.epochs == 0 and info.metrics is None
    os.unlink(folder / "config.json")
    _fifo(folder / "config.json")
    assert list_runs(root) == []
    return "named pipe"


def _split_list(root, run):
    (root / "JPEGImages").mkdir()
    (root / "SegmentationClass").mkdir()
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(root / "JPEGImages" / "a.jpg")
    _fifo(root / "ImageSets" / "Segmentation" / "train.txt")
    ds = open_dataset(root)
    return " ".join(str(p) for p in ds.problems if p.path.name == "train.txt")


def _prediction_cache(root, run):
    cache = PredictionCache(root, run)
    _fifo(cache.folder / "source.json")
    _fifo(cache.folder / "index.json")
    assert not cache.is_current() and cache.read_scores() == {}
    assert cache.bind(run / "best.keras") is False and cache.is_current()  # a pipe is no stamp: rebuilt
    return "named pipe"


FIFO_READERS = {"project.json": _project, "run config.json": _config, "labelmap.txt": _class_file,
                "image": _image, "runs list": _runs_list, "VOC split list": _split_list,
                "prediction cache": _prediction_cache}


@pytest.mark.parametrize("name", FIFO_READERS)
def test_core_readers_name_a_fifo_instead_of_blocking(tmp_path, run, name):
    root = make_sample_dataset(tmp_path / "data", n=2, size=32) if name == "labelmap.txt" else tmp_path
    if name == "labelmap.txt":
        (root / "classes.csv").unlink()
    with deadline():
        message = FIFO_READERS[name](root, run)
    assert "named pipe" in message, message


def test_listing_names_pipes_sockets_and_devices_and_skips_them(tmp_path, run, capsys):
    root = make_sample_dataset(tmp_path / "data", n=2, size=32)
    _fifo(root / "images" / "pipe.png")
    os.unlink(root / "masks" / "sample_001.png")
    _fifo(root / "masks" / "sample_001.png")  # its image stays, unlabelled
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(root / "images" / "sock.png"))
    os.symlink("/dev/null", root / "images" / "dev.jpg")
    before = snapshot(root)
    try:
        with deadline():
            ds = open_dataset(root)
            reasons = {p.path.name: str(p) for p in ds.problems}
            assert "pipe.png is a named pipe, not a file" in reasons["pipe.png"]
            assert "sock.png is a socket, not a file" in reasons["sock.png"]
            assert "dev.jpg is a device, not a file" in reasons["dev.jpg"]
            assert "sample_001.png is a named pipe" in reasons["sample_001.png"]
            assert [(s.key, s.labelled) for s in ds.samples] == [("images/sample_000.png", True),
                                                                  ("images/sample_001.png", False)]
            capsys.readouterr()
            assert main(["predict", str(run), str(root), "--out", str(tmp_path / "out")]) == 1
    finally:
        sock.close()
    err = capsys.readouterr().err
    assert "Traceback" not in err and all(reason in err for reason in reasons.values())
    assert len(list((tmp_path / "out").glob("*.png"))) == 2 and snapshot(root) == before


def test_size_cap_per_kind(tmp_path, monkeypatch):
    root = make_sample_dataset(tmp_path / "data", n=2, size=32)
    (root / ".seg-desktop").mkdir(exist_ok=True)
    (root / ".seg-desktop" / "project.json").write_text(json.dumps({"seed": 1, "status": {"x" * 200: "edited"}}))
    monkeypatch.setitem(safeio.KINDS, "csv", (50, "CSV or text"))
    monkeypatch.setitem(safeio.KINDS, "json", (100, "JSON"))
    monkeypatch.setitem(safeio.KINDS, "mask", (50, "mask"))
    ds = open_dataset(root)
    reasons = [str(p) for p in ds.problems]
    assert any("classes.csv is" in r and "over the 50 bytes limit for CSV or text files" in r for r in reasons)
    assert sum("masks/sample_00" in r and "over the 50 bytes limit for mask files" in r for r in reasons) == 2, reasons
    assert not ds.labelled() and len(ds.samples) == 2  # images stay, too-large masks are skipped
    assert "over the 100 bytes limit for JSON files" in load_project(root).problem
    monkeypatch.setitem(safeio.KINDS, "image", (100, "image"))
    with pytest.raises(DatasetError, match="over the 100 bytes limit for image files"):
        read_image(root / "images" / "sample_000.png")


_UNREADABLE_CHECK = """
import json, os, sys
from seg_desktop.core.dataset import open_dataset
from seg_desktop.core.errors import DatasetError
open_dataset(sys.argv[1])  # warm up every lazy import while they can still be read
if os.geteuid() == 0:
    os.setgid(65534)
    os.setuid(65534)
result = {"problems": sorted(str(p) for p in open_dataset(sys.argv[1]).problems)}
try:
    open_dataset(sys.argv[2])
except DatasetError as exc:
    result["linked_root"] = str(exc)
print(json.dumps(result))
"""


def test_symlink_into_an_unreadable_folder_is_a_problem_not_a_permission_error():
    """As root nothing is unreadable, so the check runs in a child that drops to `nobody` after importing."""
    base = Path(tempfile.mkdtemp(prefix="seg-unreadable-"))
    try:
        os.chmod(base, 0o755)
        root = make_sample_dataset(base / "data", n=2, size=32)
        secret = base / "secret"
        (secret / "inner").mkdir(parents=True)
        shutil.copy(root / "images" / "sample_000.png", secret / "inner" / "x.png")
        shutil.move(root / "classes.csv", secret / "inner" / "classes.csv")
        os.symlink(secret / "inner" / "x.png", root / "images" / "link.png")
        os.symlink(secret / "inner" / "classes.csv", root / "classes.csv")
        os.symlink(secret / "inner", base / "linked")
        os.chmod(secret, 0o700 if os.geteuid() == 0 else 0o000)
        before = snapshot(root)
        done = subprocess.run([sys.executable, "-c", _UNREADABLE_CHECK, str(root), str(base / "linked")],
                              capture_output=True, text=True, timeout=120, cwd="/",
                              env={**os.environ, "PYTHONPATH": str(REPO)})
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]
        result = json.loads(done.stdout)
        assert any("link.png cannot be read (Permission denied)" in p for p in result["problems"]), result
        assert any("classes.csv cannot be read (Permission denied)" in p for p in result["problems"]), result
        assert "linked cannot be opened (Permission denied)" in result["linked_root"]
        assert snapshot(root) == before
    finally:
        os.chmod(base / "secret", 0o755)
        shutil.rmtree(base)
