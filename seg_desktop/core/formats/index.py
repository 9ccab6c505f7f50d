"""`index`: images/ + masks/ of index PNGs (mode L, each value a class) + classes.csv, seg-desktop's own layout."""

from __future__ import annotations

from .layout import LayoutWriter, plan_layout, read_layout

TITLE = "Index PNG folder (images/ + masks/, class numbers)"
POLYGONS = False
read = read_layout
plan = plan_layout


class Writer(LayoutWriter):
    kind = "index"
