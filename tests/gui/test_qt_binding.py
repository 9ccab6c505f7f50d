"""Guard against the PySide6 6.12.0 bug that pyproject.toml pins away from: each void Qt call dropped a reference
to None, and a long session aborted with "none_dealloc". A regression would crash the app after hours of use."""

import sys

from PySide6.QtCore import QObject


def test_void_qt_calls_do_not_leak_none_references():
    obj = QObject()
    before = sys.getrefcount(None)
    for _ in range(2000):
        obj.setObjectName("x")
    assert abs(sys.getrefcount(None) - before) < 100
