"""Mask formats other tools speak, each read into and written from seg-desktop's index masks: one module per
format (`read(src) -> Source`, `plan(items, classes) -> names`, `Writer`), named here by its command-line name
and imported when first used (so `seg-desktop --help` need not load OpenCV or pycocotools). `transfer.py` imports
into seg-desktop's layout and exports with a read-back check. See docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import importlib
from types import ModuleType

FORMAT_NAMES = ("coco", "yolo", "cvat", "voc", "labelme", "cityscapes", "index", "color")


def get_format(name: str) -> ModuleType:
    """The module of format `name` (see FORMAT_NAMES)."""
    if name not in FORMAT_NAMES:
        raise ValueError(f"unknown mask format {name!r}; choose one of {', '.join(FORMAT_NAMES)}")
    return importlib.import_module(f"{__name__}.{name}")
