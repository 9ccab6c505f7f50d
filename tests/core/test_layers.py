"""The core layer must stay importable without Qt or TensorFlow (fast start, usable from any script)."""

import subprocess
import sys


def test_core_imports_neither_qt_nor_tensorflow():
    code = (
        "import sys, seg_desktop.core, seg_desktop.core.dataset, seg_desktop.core.maskio, seg_desktop.core.edits, "
        "seg_desktop.core.metrics, seg_desktop.core.project, seg_desktop.core.sample_data, seg_desktop.cli, "
        "seg_desktop.ml, seg_desktop.ml.config\n"
        "bad = [m for m in ('PySide6', 'tensorflow', 'keras') if m in sys.modules]\n"
        "assert not bad, bad"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
