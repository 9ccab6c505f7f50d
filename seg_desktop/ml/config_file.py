"""Reading a run's `config.json`: the one validating loader, because a run folder may come from anyone.

A config is valid JSON long before it is a valid run: a list at the top level, a size of 0 or 1e400, a string
where a number belongs or a colour of 300 would otherwise surface as a traceback deep inside OpenCV or Keras.
Every field is checked here for its type, that numbers are finite, and its range (the ranges of the settings
come from their metadata in `config.py`, so they are the same ones the form and the CLI enforce); the first
problem is one DatasetError sentence naming the file and the field.
"""

from __future__ import annotations

import math
from dataclasses import Field, fields
from pathlib import Path
from typing import Any

from ..core.errors import DatasetError
from ..core.safeio import read_json
from .config import NO_LEGACY, SETTING, TrainConfig

_MAX_INT = 2**32 - 1  # no count or seed is negative; numpy seeds stop at 2^32
_MAX_SIDE = 16384  # the largest image side seg-desktop decodes (core.imageio.MAX_PIXELS)
_MAX_CLASSES = 256  # masks are uint8


class _Bad(Exception):
    """What is wrong with one field's value (the field and file are added by load_config)."""


def load_config(path: Path | str) -> TrainConfig:
    """The TrainConfig stored in `path`; a missing file raises FileNotFoundError, anything else wrong with it a
    one-sentence DatasetError naming the file and (for a bad value) the field."""
    path = Path(path)
    data = read_json(path, "run config")
    if not isinstance(data, dict):
        raise DatasetError(f"{path} holds a JSON {type(data).__name__}, not a run config (an object of settings); "
                           "restore the file or train again.", path)
    values: dict[str, Any] = {}
    for f in fields(TrainConfig):
        if f.name not in data:
            setting = f.metadata.get(SETTING)
            if setting is not None and setting.legacy != NO_LEGACY:
                values[f.name] = setting.legacy  # a run from before the setting existed did this
            continue
        try:
            values[f.name] = _value(f, data[f.name])
        except _Bad as exc:
            shown = repr(data[f.name])
            shown = shown if len(shown) <= 40 else shown[:37] + "..."
            raise DatasetError(f"{path}: field \"{f.name}\" is {shown}, but {exc}; restore the file or train "
                               "again.", path) from None
    if "data" not in values:
        raise DatasetError(f"{path} has no field \"data\" (the dataset folder), so it is no run config; restore "
                           "the file or train again.", path)
    return TrainConfig(**values)


def _value(f: Field, value: Any) -> Any:
    """`value` converted to the field's type, or _Bad saying what it must be."""
    setting = f.metadata.get(SETTING)
    kind = setting.kind if setting is not None else _PLAIN_KINDS[f.name]
    if kind == "choice":
        if not isinstance(value, str):
            raise _Bad(f"it must be one of {', '.join(setting.values)}")
    elif kind in ("path", "text"):
        if value is None and kind == "path":
            return None
        if not isinstance(value, str):
            raise _Bad("it must be text" + (" or null" if kind == "path" else ""))
    elif kind == "bool":
        if not isinstance(value, bool):
            raise _Bad("it must be true or false")
    elif kind in ("int", "float"):
        value = _number(value, kind, 0 if kind == "int" else None, _MAX_INT if kind == "int" else None)
    elif kind == "size":
        if value is None and f.default is None:  # an optional size (crop) not given
            return None
        if not isinstance(value, list) or len(value) != 2:
            raise _Bad("it must be [height, width]")
        value = tuple(_number(v, "int", 1, _MAX_SIDE) for v in value)
    elif kind == "classes":
        if value is None:
            return None
        value = _number(value, "int", 1, _MAX_CLASSES)
    elif kind == "ignore":
        if value is None:
            return None
        value = _number(value, "int", 0, _MAX_CLASSES - 1)
    elif kind == "names":
        if not isinstance(value, list) or len(value) > _MAX_CLASSES or not all(isinstance(v, str) for v in value):
            raise _Bad(f"it must be a list of at most {_MAX_CLASSES} names")
    elif kind == "colors":
        if not isinstance(value, list) or len(value) > _MAX_CLASSES:
            raise _Bad(f"it must be a list of at most {_MAX_CLASSES} [r, g, b] colours")
        for colour in value:
            if not isinstance(colour, list) or len(colour) != 3:
                raise _Bad("every colour must be [r, g, b]")
            colour[:] = [_number(v, "int", 0, 255) for v in colour]
    if setting is not None:
        problem = setting.check(value)
        if problem is not None:
            raise _Bad(problem[0].lower() + problem[1:].rstrip("."))
    return value


# The fields the trainer fills in (no form setting describes them) and how to check each.
_PLAIN_KINDS = {"data": "text", "num_classes": "classes", "class_names": "names", "class_colors": "colors",
                "ignore_index": "ignore"}


def _number(value: Any, kind: str, low: float | None, high: float | None) -> int | float:
    """A finite JSON number (an int, or a whole number for an int field) within [low, high]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Bad(f"it must be {'a whole number' if kind == 'int' else 'a number'}")
    if not math.isfinite(value):
        raise _Bad("it must be a finite number")
    if kind == "int":
        if value != int(value):
            raise _Bad("it must be a whole number")
        value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        raise _Bad(f"it must be between {low:g} and {high:g}" if low is not None and high is not None
                   else f"it must be at least {low:g}" if low is not None else f"it must be at most {high:g}")
    return value
