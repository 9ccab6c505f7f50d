"""`color`: images/ + masks/ of RGB colour PNGs (each class in its colour) + classes.csv naming the colours."""

from __future__ import annotations

from collections.abc import Sequence

from ..classes import ClassSet
from ..errors import DatasetError
from .base import Planned
from .layout import LayoutWriter, plan_layout, read_layout

TITLE = "Colour PNG folder (images/ + masks/, class colours)"
POLYGONS = False
read = read_layout


def plan(items: Sequence[Planned], classes: ClassSet) -> list[str]:
    unique_colours(classes, "colour masks")
    return plan_layout(items, classes)


def unique_colours(classes: ClassSet, what: str) -> None:
    """Colour masks name a class by its colour: two classes of one colour could not be told apart when read."""
    seen: dict[tuple[int, int, int], str] = {}
    for c in classes.classes:
        if c.color in seen:
            raise DatasetError(f"Classes {seen[c.color]!r} and {c.name!r} share the colour RGB {c.color}, so "
                               f"{what} could not tell them apart; give one of them another colour (Edit ▸ "
                               "Classes…) or choose an index format.")
        seen[c.color] = c.name


class Writer(LayoutWriter):
    kind = "color"
