"""Start TensorFlow without its native start-up lines.

Since TensorFlow 2.20 the C++ runtime prints "oneDNN custom operations are on", "Could not find cuda drivers" and
Abseil's "All log messages before absl::InitializeLog()" straight to file descriptor 2, below Python's
sys.stderr and before TF_CPP_MIN_LOG_LEVEL applies. A command's one clear sentence, or a terminal the GUI was
started from, would be buried under them. TensorFlow is imported inside the function, so importing this module
costs nothing.
"""

from __future__ import annotations

import contextlib
import os
import sys


@contextlib.contextmanager
def native_stderr_silenced():
    """Send file descriptor 2 to /dev/null for the duration. Python errors raised inside still reach the user,
    because the descriptor is restored before they propagate."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def start_tensorflow_quietly() -> None:
    """Import TensorFlow and start its runtime (where the lines are printed) with native stderr silenced."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with native_stderr_silenced():
        import tensorflow as tf

        tf.config.list_logical_devices()
