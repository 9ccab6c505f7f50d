"""The window under faults: an uncaught exception (GUI thread or worker thread) is a message plus an emergency
autosave, a full disk on save keeps the old mask and the edit, and closing mid predict-all or mid training exits
cleanly."""

from __future__ import annotations

import errno
import os
import threading

import numpy as np
import pytest
from PySide6.QtCore import QTimer

from seg_desktop.core.autosave import list_autosaves, read_autosave
from seg_desktop.core.dataset import open_dataset
from seg_desktop.gui.crash import ExceptionHook, crash_log_path
from tests.helpers import fill_training_form, make_untrained_run


def _paint(window) -> np.ndarray:
    """A real edit through the editor (one undo step); returns the edited mask."""
    mask = np.array(window.session.mask())
    mask[2:10, 2:10] = (mask[2:10, 2:10] + 1) % window.dataset.classes.num_classes
    from seg_desktop.core.edits import replace_mask

    window.editor.commit("test edit", replace_mask(window.editor.live_mask(), mask))
    assert window.editor.current_key() in window.session.dirty_keys()
    return mask


@pytest.fixture
def hook(window):
    h = ExceptionHook(window, window.session.autosave_now)
    h.install()
    yield h
    h.uninstall()


@pytest.mark.qt_no_exception_capture
@pytest.mark.parametrize("where", ["gui thread", "worker thread"])
def test_uncaught_exception_is_a_message_and_an_emergency_autosave(qtbot, window, open_folder, sample_folder,
                                                                    answers, hook, where):
    open_folder(sample_folder)
    key = window.editor.current_key()
    edited = _paint(window)

    def boom():
        raise RuntimeError("something nobody expected")

    if where == "gui thread":
        QTimer.singleShot(0, boom)  # raised inside a Qt slot: PySide hands it to sys.excepthook
    else:
        threading.Thread(target=boom).start()  # threading.excepthook, relayed to the GUI thread
    qtbot.waitUntil(lambda: bool(answers.errors), timeout=5000)
    message = answers.errors[0]
    assert "internal error (RuntimeError: something nobody expected)" in message
    assert "1 unsaved mask(s) were autosaved" in message and str(crash_log_path()) in message
    assert "something nobody expected" in crash_log_path().read_text() and "Traceback" in crash_log_path().read_text()
    saved = {a.key: a for a in list_autosaves(sample_folder)}
    assert np.array_equal(read_autosave(saved[key]), edited)
    # the session goes on: the edit is still open and saves normally
    assert window.session.save_current() and np.array_equal(open_dataset(sample_folder).read_mask(
        window.dataset.by_key(key)), edited)


def test_disk_full_on_save_keeps_the_old_mask_and_the_edit(window, open_folder, sample_folder, answers,
                                                          monkeypatch):
    open_folder(sample_folder)
    key = window.editor.current_key()
    path = window.dataset.by_key(key).mask_path
    before = path.read_bytes()
    edited = _paint(window)

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    assert not window.session.save_current()
    monkeypatch.undo()
    assert path.read_bytes() == before  # the old mask, whole
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]  # no leftover temporary file
    assert len(answers.errors) == 1 and "No space left on device" in answers.errors[0] and key in answers.errors[0]
    assert key in window.session.dirty_keys() and np.array_equal(window.session.mask(), edited)
    assert window.session.save_current()
    assert open_dataset(sample_folder).read_mask(window.dataset.by_key(key)).tolist() == edited.tolist()


def test_closing_during_predict_all_exits_cleanly(qtbot, window, open_folder, sample_folder):
    open_folder(sample_folder)
    run = make_untrained_run(sample_folder / ".seg-desktop" / "runs" / "20240101-000000-unet", window.dataset)
    window._use_run(run)
    assert window.prediction.predict_all()
    assert window.prediction.is_running()
    assert window.close()
    assert not window.prediction.is_running() and not window.isVisible()


def test_closing_during_training_exits_cleanly(qtbot, window, open_folder, sample_folder):
    open_folder(sample_folder)
    panel = window.training
    fill_training_form(panel, size="32", epochs=50)
    window.train_action.trigger()  # shows the form
    window.training.train_button.click()
    qtbot.waitUntil(lambda: panel._worker is not None and panel._worker._runner.pid is not None, timeout=10000)
    pid = panel._worker._runner.pid
    assert window.close()
    assert not panel.is_training() and not window.isVisible()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # the training child is gone, not orphaned
    qtbot.wait(300)  # the stopped run's last signals arrive after the close: they must start nothing
    assert not window.prediction.is_running()


def test_training_too_big_for_memory_is_a_message_and_the_window_lives(qtbot, window, open_folder, sample_folder,
                                                                       monkeypatch):
    """A real out-of-memory (the training child capped at 1.5 GB beyond TensorFlow's start-up, so this machine is
    never short): one message in the panel, and the window with its unsaved edit carries on. About 30 s, mostly
    TensorFlow retrying the allocation."""
    from seg_desktop.ml.remote import MEMORY_LIMIT_ENV

    monkeypatch.setenv(MEMORY_LIMIT_ENV, "1.5")  # the 'spawn' child inherits the environment
    open_folder(sample_folder)
    key = window.editor.current_key()
    edited = _paint(window)
    panel = window.training
    fill_training_form(panel, size="1024", epochs=1, batch=16, filters=64)
    window.train_action.trigger()  # shows the form
    window.training.train_button.click()
    assert panel.is_training()
    qtbot.waitUntil(lambda: not panel.is_training(), timeout=180000)
    message = panel.message_label.text()
    assert "memory" in message and ("smaller" in message or "higher cap" in message), message
    assert "\n" not in message and "Traceback" not in message
    assert panel.train_button.isEnabled()
    assert key in window.session.dirty_keys() and np.array_equal(window.session.mask(), edited)
    assert window.session.save_current()
    assert np.array_equal(open_dataset(sample_folder).read_mask(window.dataset.by_key(key)), edited)
