"""Per-folder project state in `FOLDER/.seg-desktop/project.json`: split settings, per-image status, runs.

The file is rewritten atomically. A file that is not valid JSON is reported and left untouched when the folder
opens; only when new state is saved is it moved aside to `project.json.bad`, so nothing the user had is lost.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .atomic import atomic_write_text
from .dataset import STATE_DIR

PROJECT_FILE = "project.json"
STATUSES = ("unlabelled", "labelled", "edited", "predicted")


@dataclass
class Project:
    folder: Path
    seed: int = 0
    val_fraction: float = 0.2
    test_fraction: float = 0.0
    status: dict[str, str] = field(default_factory=dict)  # sample key -> one of STATUSES
    runs: list[str] = field(default_factory=list)  # run folders, relative to the project folder when inside it
    classes: dict | None = None  # ClassSet.to_json() of the last class edit
    problem: str | None = None  # why the stored file could not be read, if it could not

    @property
    def path(self) -> Path:
        return self.folder / STATE_DIR / PROJECT_FILE

    def set_status(self, key: str, status: str) -> None:
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}")
        self.status[key] = status

    def add_run(self, run_folder: Path) -> None:
        run_folder = Path(run_folder)
        try:
            name = run_folder.resolve().relative_to(self.folder.resolve()).as_posix()
        except ValueError:
            name = str(run_folder)
        if name not in self.runs:
            self.runs.append(name)

    def save(self) -> None:
        if self.problem is not None and self.path.exists():
            self.path.replace(self.path.with_name(PROJECT_FILE + ".bad"))
            self.problem = None
        data = asdict(self)
        data.pop("folder")
        data.pop("problem")
        data["version"] = 1
        atomic_write_text(self.path, json.dumps(data, indent=2, sort_keys=True))


def load_project(folder: Path) -> Project:
    """The folder's project state; defaults when there is none, and a reported problem when it is unreadable."""
    folder = Path(folder)
    project = Project(folder)
    path = project.path
    if not path.exists():
        return project
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("the top level is not an object")
        project.seed = int(data.get("seed", 0))
        project.val_fraction = float(data.get("val_fraction", 0.2))
        project.test_fraction = float(data.get("test_fraction", 0.0))
        project.status = {str(k): str(v) for k, v in dict(data.get("status", {})).items() if v in STATUSES}
        project.runs = [str(r) for r in data.get("runs", []) if _inside(folder, str(r))]
        project.classes = data.get("classes")
    except (OSError, ValueError, TypeError) as exc:
        project = Project(folder)
        project.problem = (f"{path} could not be read ({exc}); the project starts with default settings and the "
                           f"file will be kept as {PROJECT_FILE}.bad when settings are next saved.")
    return project


def _inside(folder: Path, run: str) -> bool:
    """Run paths from the file may not point outside the project folder (a shared project.json is untrusted)."""
    try:
        (folder / run).resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False
