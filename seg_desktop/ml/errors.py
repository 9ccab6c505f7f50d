"""The exceptions a user of training sees, and the one sentence each becomes.

TensorFlow-free, so the training child can raise them and the parent (GUI or CLI, which never import TensorFlow)
can receive them: they cross the process boundary pickled, as themselves (see ml/remote.py). Bad input stays
`seg_desktop.core.errors.DatasetError`; an impossible setting stays ValueError.
"""

from __future__ import annotations

import pickle

from ..core.errors import DatasetError


class TrainingError(Exception):
    """Training could not go on (NaN loss, out of memory, the training process died); the message is one clear
    sentence."""


class ChildProcessFailed(TrainingError):
    """The training process died or raised something that is a bug rather than bad input; the message is one
    sentence and `kind` the child's exception class name, or "died"."""

    def __init__(self, message: str, kind: str = "died") -> None:
        super().__init__(message)
        self.kind = kind

    def __reduce__(self):  # Exception pickles only args; kind must survive the trip too
        return type(self), (str(self), self.kind)


# Errors whose message already is the one clear sentence for the user (the engine's contract).
USER_ERRORS: tuple[type[BaseException], ...] = (DatasetError, ValueError, TrainingError)


def user_message(exc: BaseException) -> str:
    """The sentence to show for `exc`: the engine's own errors already are one; anything else is a bug rather than
    bad input, so it says what kind of failure it was, in one line (TensorFlow's messages run to dozens of lines
    of graph nodes and Python frames)."""
    text = str(exc) or type(exc).__name__
    if isinstance(exc, USER_ERRORS):
        return text
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return f"Training failed with {type(exc).__name__}: {first or type(exc).__name__}"


def portable(exc: BaseException) -> BaseException:
    """`exc` as it may cross to the parent process: the user errors as themselves when they pickle, anything
    else as a ChildProcessFailed carrying its sentence (TensorFlow's errors do not unpickle)."""
    if isinstance(exc, USER_ERRORS):
        try:
            pickle.loads(pickle.dumps(exc))
            return exc
        except Exception:  # a subclass whose __init__ takes other arguments: its base class carries the sentence
            return next(base for base in USER_ERRORS if isinstance(exc, base))(str(exc))
    return ChildProcessFailed(user_message(exc), type(exc).__name__)
