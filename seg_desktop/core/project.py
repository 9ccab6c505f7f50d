"""Per-folder project state in `FOLDER/.seg-desktop/project.json`: split settings, per-image status, runs.

The file is rewritten atomically. A file that is not valid JSON is reported and left untouched when the folder
opens; only when new state is saved is it moved aside to `project.json.bad` (then `.bad.1`, `.bad.2`, ...: every
damaged generation is kept), so nothing the user had is lost.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .atomic import atomic_write_text
from .dataset import STATE_DIR
from .errors import DatasetError
from .safeio import present, read_json
from .writeguard import set_aside

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
        if self.problem is not None and present(self.path):
            set_aside(self.path)  # project.json.bad, .bad.1, ...: an earlier damaged file is never replaced
            self.problem = None
        data = asdict(self)
        data.pop("folder")
        data.pop("problem")
        data["version"] = 1
        atomic_write_text(self.path, json.dumps(data, indent=2, sort_keys=True))


def load_project(folder: Path) -> Project:
    """The folder's project state: defaults when there is none, and a reported problem when it is unreadable or
    holds bad values (each bad field keeps its default and the rest is used, so a damaged file never stops the
    folder from opening)."""
    folder = Path(folder)
    project = Project(folder)
    path = project.path
    if not present(path):
        return project
    keep = f"the file will be kept as {PROJECT_FILE}.bad when settings are next saved"
    try:
        data = read_json(path, "project file")
    except (FileNotFoundError, DatasetError) as exc:
        project.problem = f"{str(exc).rstrip('.')}; the project starts with default settings and {keep}."
        return project
    if not isinstance(data, dict):
        project.problem = (f"{path} holds a JSON {type(data).__name__}, not the project's settings; the project "
                           f"starts with default settings and {keep}.")
        return project
    bad = []
    for name, check in _FIELDS.items():
        if name not in data:
            continue
        value = check(folder, data[name])
        if value is _BAD:
            bad.append(name)
        else:
            setattr(project, name, value)
    if project.val_fraction + project.test_fraction >= 1.0:
        bad.append("test_fraction")
        project.test_fraction = 0.0
    if bad:
        project.problem = (f"{path} has invalid values for {', '.join(bad)}; those use their defaults and {keep}.")
    return project


_BAD = object()  # a field check's answer for a value of the wrong type or range


def _seed(folder: Path, value: object) -> object:
    """A whole number the trainer can seed numpy with (0 to 2^32-1)."""
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**32
    return value if ok else _BAD


def _fraction(folder: Path, value: object) -> object:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and 0.0 <= value < 1.0
    return float(value) if ok else _BAD


def _status(folder: Path, value: object) -> object:
    """Entries of an unknown status are dropped one by one (a newer version may add statuses)."""
    if not isinstance(value, dict):
        return _BAD
    return {k: v for k, v in value.items() if isinstance(k, str) and v in STATUSES}


def _runs(folder: Path, value: object) -> object:
    if not isinstance(value, list):
        return _BAD
    return [r for r in value if isinstance(r, str) and _inside(folder, r)]


def _classes(folder: Path, value: object) -> object:
    return value if value is None or isinstance(value, dict) else _BAD


_FIELDS = {"seed": _seed, "val_fraction": _fraction, "test_fraction": _fraction, "status": _status,
           "runs": _runs, "classes": _classes}


def _inside(folder: Path, run: str) -> bool:
    """Run paths from the file may not point outside the project folder (a shared project.json is untrusted)."""
    try:
        (folder / run).resolve().relative_to(folder.resolve())
        return True
    except (ValueError, OSError):  # outside, or a name no path can hold (a NUL byte, a link loop)
        return False
