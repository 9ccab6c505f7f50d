from seg_desktop.core.project import load_project


def test_roundtrip(tmp_path):
    p = load_project(tmp_path)
    p.set_status("images/a.png", "edited")
    p.add_run(tmp_path / ".seg-desktop" / "runs" / "r1")
    p.save()
    back = load_project(tmp_path)
    assert back.status == {"images/a.png": "edited"} and back.runs == [".seg-desktop/runs/r1"]


def test_corrupt_file_is_reported_and_kept(tmp_path):
    path = tmp_path / ".seg-desktop" / "project.json"
    path.parent.mkdir()
    path.write_text("{not json")
    p = load_project(tmp_path)
    assert p.problem and "project.json" in p.problem
    assert path.read_text() == "{not json"  # opening changes nothing on disk
    p.save()
    assert (path.parent / "project.json.bad").read_text() == "{not json"
    assert load_project(tmp_path).problem is None


def test_runs_outside_folder_are_dropped(tmp_path):
    path = tmp_path / ".seg-desktop" / "project.json"
    path.parent.mkdir()
    path.write_text('{"runs": ["../../etc", ".seg-desktop/runs/ok"]}')
    assert load_project(tmp_path).runs == [".seg-desktop/runs/ok"]
