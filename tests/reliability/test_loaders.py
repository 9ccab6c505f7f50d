"""One validating loader per file kind (issue 10, item 3): a run's config.json, project.json, classes.csv /
class_dict.csv / labelmap.txt and metrics.json. Valid JSON or CSV with impossible values is one sentence naming
the file and the field or line, never a traceback; a damaged project or class file never stops a folder opening."""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from seg_desktop.cli import main
from seg_desktop.core.classes import read_class_file
from seg_desktop.core.dataset import open_dataset
from seg_desktop.core.errors import DatasetError
from seg_desktop.core.project import load_project
from seg_desktop.core.sample_data import make_sample_dataset
from seg_desktop.ml.config import TrainConfig
from seg_desktop.ml.config_file import load_config
from seg_desktop.ml.runs import list_runs, run_info
from tests.helpers import sample_data_and_run, snapshot


data, run = sample_data_and_run(n=2)


def _edit(good: dict, **changes) -> str:
    return json.dumps({**good, **changes})


# (config.json text from the good one, words the one sentence must hold besides "config.json")
CONFIG_CASES = {
    "a list at top level": (lambda g: "[1, 2]", "JSON list"),
    "size 0": (lambda g: _edit(g, size=[0, 0]), '"size"'),
    "size 1e400": (lambda g: _edit(g, size=[32, 32]).replace("[32, 32]", "[1e400, 32]"), '"size"'),
    "size a number": (lambda g: _edit(g, size=32), '"size"'),
    "a string where a number belongs": (lambda g: _edit(g, val_split="0.2"), '"val_split"'),
    "a NaN learning rate": (lambda g: _edit(g, lr=0.1).replace("0.1", "NaN"), '"lr"'),
    "epochs true": (lambda g: _edit(g, epochs=True), '"epochs"'),
    "epochs 2.5": (lambda g: _edit(g, epochs=2.5), '"epochs"'),
    "seed beyond 2^32": (lambda g: _edit(g, seed=2**40), '"seed"'),
    "colours > 255": (lambda g: _edit(g, class_colors=[[300, 0, 0]] * len(g["class_colors"])), '"class_colors"'),
    "a colour of two numbers": (lambda g: _edit(g, class_colors=[[1, 2]]), '"class_colors"'),
    "ignore index beyond 255": (lambda g: _edit(g, ignore_index=300), '"ignore_index"'),
    "num_classes a string": (lambda g: _edit(g, num_classes="5"), '"num_classes"'),
    "class names a number": (lambda g: _edit(g, class_names=5), '"class_names"'),
    "an unknown model": (lambda g: _edit(g, model=["unet"]), '"model"'),
    "no dataset field": (lambda g: json.dumps({k: v for k, v in g.items() if k != "data"}), '"data"'),
    "nested 10000 deep": (lambda g: "[" * 10000 + "]" * 10000, "not a valid run config"),
    "nested 40 deep": (lambda g: _edit(g, class_names=json.loads("[" * 40 + "]" * 40)), "not a valid run config"),
}


@pytest.mark.parametrize("case", CONFIG_CASES, ids=list(CONFIG_CASES))
def test_impossible_run_config_is_one_sentence(tmp_path, data, run, capsys, case):
    make, words = CONFIG_CASES[case]
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "config.json").write_text(make(json.loads((run / "config.json").read_text())))
    (folder / "best.keras").write_bytes((run / "best.keras").read_bytes())
    before = snapshot(data, folder)
    capsys.readouterr()
    for command in (["evaluate", str(folder), str(data), "--split", "all"],
                    ["predict", str(folder), str(data), "--out", str(tmp_path / "out"), "--format", "color"]):
        assert main(command) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "config.json" in err[0] and words in err[0], err
    assert not (tmp_path / "out").exists() and snapshot(data, folder) == before
    assert run_info(folder) is None  # the runs list leaves it out instead of failing on it


def test_a_saved_config_loads_back_equal(run):
    """Every TrainConfig field has a check (a field without one would fail here, not for a user)."""
    config = load_config(run / "config.json")
    raw = json.loads((run / "config.json").read_text())
    assert asdict(config) == asdict(TrainConfig(**{**raw, "size": tuple(raw["size"])}))
    assert json.loads(config.to_json()) == json.loads((run / "config.json").read_text())


def test_project_with_seed_1e400_still_opens_with_defaults(tmp_path):
    (tmp_path / ".seg-desktop").mkdir()
    path = tmp_path / ".seg-desktop" / "project.json"
    path.write_text('{"seed": 1e400, "val_fraction": 0.3, "status": {"images/a.png": "edited"}}')
    before = snapshot(tmp_path)
    project = load_project(tmp_path)
    assert project.seed == 0 and project.val_fraction == 0.3 and project.status == {"images/a.png": "edited"}
    assert "project.json" in project.problem and "seed" in project.problem
    assert snapshot(tmp_path) == before  # opening changes nothing; the file is set aside only on save


@pytest.mark.parametrize("text,field", [
    ('[1, 2, 3]', "JSON list"),
    ('{"val_fraction": "0.2"}', "val_fraction"),
    ('{"val_fraction": 0.6, "test_fraction": 0.5}', "test_fraction"),
    ('{"status": ["a"], "runs": {"x": 1}}', "status, runs"),
    ('{"seed": true, "classes": 3}', "seed, classes"),
    ("[" * 5000 + "]" * 5000, "not a valid project file"),
])
def test_damaged_project_fields_use_defaults_and_are_named(tmp_path, text, field):
    (tmp_path / ".seg-desktop").mkdir()
    (tmp_path / ".seg-desktop" / "project.json").write_text(text)
    project = load_project(tmp_path)
    assert project.problem and "project.json" in project.problem and field in project.problem
    assert project.val_fraction + project.test_fraction < 1.0 and isinstance(project.seed, int)


def test_project_run_names_that_no_path_can_hold_are_dropped(tmp_path):
    (tmp_path / ".seg-desktop").mkdir()
    (tmp_path / ".seg-desktop" / "project.json").write_text('{"runs": ["a\\u0000b", "ok"]}')
    assert load_project(tmp_path).runs == ["ok"]


CLASS_CASES = {
    "inf colour in classes.csv": ("classes.csv", "index,name,r,g,b\n0,bg,0,0,0\n1,cell,inf,0,0\n", "line 3"),
    "1e400 colour in labelmap.txt": ("labelmap.txt", "bg:0,0,0::\ncell:1e400,0,0::\n", "line 2"),
    "nan colour in class_dict.csv": ("class_dict.csv", "name,r,g,b\nbg,0,0,0\ncell,nan,0,0\n", "line 3"),
    "200 KiB field in classes.csv": ("classes.csv", "index,name,r,g,b\n0,bg,0,0,0\n1," + "x" * 200_000 + ",1,2,3\n",
                                     "line 3"),
    "200 KiB colour in labelmap.txt": ("labelmap.txt", "bg:0,0,0::\ncell:" + "9" * 200_000 + ",0,0::\n", "line 2"),
    "duplicate index": ("classes.csv", "index,name,r,g,b\n0,bg,0,0,0\n1,cell,255,0,0\n1,nucleus,0,255,0\n",
                        "lines 3 and 4"),
    "300 rows in class_dict.csv": ("class_dict.csv", "name,r,g,b\n" + "c,1,2,3\n" * 300, "line 258"),
    "not UTF-8": ("classes.csv", b"index,name,r,g,b\n0,\xff\xfe,0,0,0\n", "UTF-8"),
}


@pytest.mark.parametrize("case", CLASS_CASES, ids=list(CLASS_CASES))
def test_bad_class_file_is_one_sentence_and_the_folder_opens_without_it(tmp_path, capsys, run, case):
    name, text, where = CLASS_CASES[case]
    root = make_sample_dataset(tmp_path / "data", n=2, size=32)
    (root / "classes.csv").unlink()
    (root / name).write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(DatasetError) as info:
        read_class_file(root / name)
    message = str(info.value)
    assert name in message and where in message and "\n" not in message and len(message) < 400, message
    before = snapshot(root)
    ds = open_dataset(root)
    assert ds.classes.source.startswith("inferred") and ds.labelled()  # classes guessed from the masks
    assert [str(p) for p in ds.problems] == [message]
    capsys.readouterr()
    assert main(["predict", str(run), str(root), "--out", str(tmp_path / "out")]) == 1  # 1: a file was skipped
    err = capsys.readouterr().err
    assert "Traceback" not in err and message in err
    assert len(list((tmp_path / "out").glob("*.png"))) == 2 and snapshot(root) == before


@pytest.mark.parametrize("text", ["[1]", '{"mean_iou": "high"}', '{"mean_iou": 1e400}',
                                  '{"per_class": {"a": [1]}}', "[" * 3000 + "]" * 3000, "{oops"])
def test_damaged_metrics_json_blanks_only_its_own_scores(tmp_path, run, text):
    folder = tmp_path / "data" / ".seg-desktop" / "runs" / "20250101-000000-unet"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text((run / "config.json").read_text())
    (folder / "metrics.json").write_text(text)
    infos = list_runs(tmp_path / "data")
    assert [i.folder for i in infos] == [folder] and infos[0].metrics is None and infos[0].model == "unet"
    (folder / "metrics.json").write_text('{"mean_iou": 0.5, "per_class": {"a": {"iou": null, "dice": 0.1}}}')
    assert run_info(folder).metrics["mean_iou"] == 0.5
