"""Files of the top-level `resources/` folder (icons, palettes, the Linux .desktop file), found the same way in a
source checkout (`resources/` beside the package) and in an installed wheel (shipped as `seg_desktop/resources`
package data, see setup.py), so no code carries palettes or icons as Python literals."""

from __future__ import annotations

import csv
import io
from functools import lru_cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parents[1]


def resources_dir() -> Path:
    """The resources folder: seg_desktop/resources when installed, else the checkout's top-level resources/."""
    installed = _PACKAGE / "resources"
    return installed if installed.is_dir() else _PACKAGE.parent / "resources"


def resource_path(*parts: str) -> Path:
    """A file under the resources folder (whether or not it exists: callers decide what a missing file means)."""
    return resources_dir().joinpath(*parts)


@lru_cache(maxsize=8)
def palette(name: str) -> tuple[tuple[int, str, tuple[int, int, int]], ...]:
    """A built-in palette, `resources/palettes/<name>.csv` (index,name,r,g,b), as (index, name, colour) rows."""
    text = resource_path("palettes", f"{name}.csv").read_text(encoding="utf-8")
    rows = list(csv.reader(io.StringIO(text)))[1:]
    return tuple((int(r[0]), r[1], (int(r[2]), int(r[3]), int(r[4]))) for r in rows if r)
