"""The exceptions users see (ml/errors.py) survive the trip from the training child to the GUI or CLI as themselves:
pickled, with their sentence and attributes, never as a class name in a string."""

from __future__ import annotations

import pickle
import subprocess
import sys

import pytest

from seg_desktop.core.errors import DatasetError
from seg_desktop.ml.errors import ChildProcessFailed, TrainingError, portable, user_message
from seg_desktop.ml.remote import ChildRunner


def raise_training_error(listener=None, stop=None):
    raise TrainingError("Training diverged: the loss became NaN at epoch 3; lower the learning rate.")


def raise_unpicklable(listener=None, stop=None):
    class Local(RuntimeError):  # a local class cannot be pickled, like TensorFlow's OpErrors cannot be unpickled
        pass

    raise Local("graph node foo failed\n  with forty lines of detail")


@pytest.mark.parametrize("error", [
    TrainingError("Out of memory while training unet; use a smaller batch."),
    ChildProcessFailed("Training failed with RuntimeError: boom", "RuntimeError"),
    DatasetError("masks/a.png is 10x10 but its image is 20x20; fix the mask.", "masks/a.png"),
    ValueError("learning rate must be positive, not -1.0."),
])
def test_user_errors_pickle_round_trip(error):
    back = pickle.loads(pickle.dumps(portable(error)))
    assert type(back) is type(error) and str(back) == str(error)
    assert getattr(back, "kind", None) == getattr(error, "kind", None)
    assert getattr(back, "path", None) == getattr(error, "path", None)
    assert user_message(back) == str(error)


def test_a_bug_becomes_one_sentence_that_pickles():
    try:
        raise_unpicklable()
    except RuntimeError as exc:
        sent = pickle.loads(pickle.dumps(portable(exc)))
    assert type(sent) is ChildProcessFailed and sent.kind == "Local"
    assert str(sent) == "Training failed with Local: graph node foo failed"


def test_a_training_error_in_the_child_arrives_as_itself():
    messages = []

    class Listener:
        def on_error(self, message):
            messages.append(message)

    with pytest.raises(TrainingError) as info:
        ChildRunner(raise_training_error).run(Listener())
    assert type(info.value) is TrainingError and "diverged" in str(info.value)
    assert messages == [str(info.value)]


def test_errors_module_imports_no_tensorflow():
    code = ("import sys, seg_desktop.ml.errors, seg_desktop.ml.listener, seg_desktop.ml.config; "
            "bad = [m for m in ('tensorflow', 'keras', 'PySide6') if m in sys.modules]; sys.exit(bool(bad))")
    assert subprocess.run([sys.executable, "-c", code], timeout=60).returncode == 0
