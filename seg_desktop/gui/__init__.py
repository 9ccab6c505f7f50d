"""The PySide6 desktop interface; the only package that imports Qt (see DESIGN.md, Layers)."""

import sys


def _make_none_immortal() -> None:
    """Work around PySide6 6.12 on Python 3.11: every call of a Qt method returning void hands back None without
    a reference (`QObject().setObjectName("a")` 200,000 times, or an event loop pumped with processEvents, aborts
    the process with "none_dealloc: deallocating None"). Python 3.12 made None immortal; on 3.11 the same is had
    by giving None a reference count no session can use up. Applied before any Qt module is imported."""
    import ctypes

    ctypes.c_ssize_t.from_address(id(None)).value += 1 << 48


if sys.version_info < (3, 12):
    _make_none_immortal()
