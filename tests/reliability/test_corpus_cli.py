"""The corpus through the command line, plus the bad-model cases: `seg-desktop predict` on every corpus folder and
`evaluate`/`predict` with damaged or unsafe run folders. Exit 0 when every image could be predicted, else exit 1
naming the bad file; never a traceback, and nothing in the dataset folder changes."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
from PIL import Image

from seg_desktop.cli import main
from seg_desktop.core.dataset import open_dataset
from seg_desktop.core.sample_data import make_sample_dataset
from tests.helpers import make_untrained_run

from .corpus import CASES, snapshot


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    data = open_dataset(make_sample_dataset(tmp_path_factory.mktemp("ref"), n=1, size=32))
    return make_untrained_run(tmp_path_factory.mktemp("run") / "r", data)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_predict_on_corpus_folder(tmp_path, run, capsys, case):
    root = tmp_path / "data"
    root.mkdir()
    case.build(root)
    before = snapshot(root)
    ds = open_dataset(root)
    readable = []
    for sample in ds.samples:
        try:
            readable.append((sample, ds.read_image(sample).shape[:2]))
        except Exception:  # noqa: BLE001 - which images are readable is what the CLI must agree with
            pass
    out = tmp_path / "out"
    code = main(["predict", str(run), str(root), "--out", str(out)])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if len(readable) == len(ds.samples) and not ds.problems:
        assert code == 0 and err == "", err
    else:  # some file was skipped: named on its own line, and the last line says the output is incomplete
        assert code == 1 and err.strip().splitlines()[-1].startswith("seg-desktop: "), err
        for problem in ds.problems:
            assert str(problem) in err
    for sample, shape in readable:  # every readable image got its mask, at its own size
        written = [p for p in out.glob("*.png") if p.stem.endswith(sample.stem.replace("/", "__"))]
        assert written and np.asarray(Image.open(written[0])).shape == shape
    assert snapshot(root) == before, "predicting changed files in the dataset folder"


def _lambda_model(path):
    import keras

    inp = keras.Input((None, None, 3))
    keras.Model(inp, keras.layers.Lambda(lambda x: x * 2.0)(inp)).save(path)


def _truncated_zip(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])


def _wrong_member(path):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("config.json", "{not json")


MODEL_CASES = {
    "keras file with a Lambda layer": (lambda p: _lambda_model(p), "Python code (a Lambda layer)"),
    "truncated keras file": (_truncated_zip, "cannot be loaded as a Keras model"),
    "keras zip with garbage config": (_wrong_member, "cannot be loaded as a Keras model"),
    "text file named best.keras": (lambda p: p.write_text("hello"), "cannot be loaded as a Keras model"),
}


@pytest.mark.parametrize("name", MODEL_CASES)
def test_bad_model_file_is_refused_with_one_sentence(tmp_path, run, capsys, name):
    damage, words = MODEL_CASES[name]
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "config.json").write_text((run / "config.json").read_text())
    (folder / "best.keras").write_bytes((run / "best.keras").read_bytes())
    damage(folder / "best.keras")
    data = make_sample_dataset(tmp_path / "data", n=2, size=32)
    before = snapshot(data)
    capsys.readouterr()
    for command in (["evaluate", str(folder), str(data), "--split", "all"],
                    ["predict", str(folder), str(data), "--out", str(tmp_path / "out")]):
        assert main(command) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and words in err[0] and "best.keras" in err[0], err
    assert not (tmp_path / "out").exists() and snapshot(data) == before


def test_run_config_that_is_not_json(tmp_path, run, capsys):
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "config.json").write_text("{ this is not json")
    (folder / "best.keras").write_bytes((run / "best.keras").read_bytes())
    data = make_sample_dataset(tmp_path / "data", n=2, size=32)
    capsys.readouterr()
    assert main(["evaluate", str(folder), str(data)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "config.json is not a valid run config" in err[0]
