"""AnnotationSession without a window: open -> edit -> undo -> switch -> autosave -> restore -> save, driven only
through the session's methods and signals (no widget is created; one run uses a bare QCoreApplication)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from PySide6.QtCore import QCoreApplication

from seg_desktop.core.autosave import list_autosaves, read_autosave
from seg_desktop.core.edits import stroke
from seg_desktop.gui.session import AnnotationSession

A, B = "images/sample_000.png", "images/sample_001.png"


def wait(cond: Callable[[], bool], seconds: float = 10.0) -> None:
    """Process Qt events until `cond()` holds (works under QCoreApplication, where qtbot cannot)."""
    end = time.monotonic() + seconds
    while not cond():
        assert time.monotonic() < end, "timed out"
        QCoreApplication.processEvents()
        time.sleep(0.002)


def disk(folder: Path, key: str) -> np.ndarray:
    return np.asarray(Image.open(folder / "masks" / Path(key).name))


def opened(folder: Path) -> AnnotationSession:
    session = AnnotationSession(autosave_ms=3_600_000)  # the test autosaves by hand
    done = []
    session.opened.connect(done.append)
    session.open(folder)
    wait(lambda: bool(done))
    return session


def show(session: AnnotationSession, key: str) -> None:
    session.select(key)
    assert session.current_key() is None  # nothing is editable while the image loads
    wait(lambda: session.current_key() == key)


def paint(session: AnnotationSession, cls: int, points=((4, 4), (40, 30))) -> np.ndarray:
    session.commit("Brush", stroke(session.live_mask(), list(points), 5, cls))
    return np.array(session.mask())


def run_flow(folder: Path) -> None:
    """The whole life of an edit, asserted step by step; shared by the in-process and the QCoreApplication run."""
    original_a, original_b = disk(folder, A), disk(folder, B)
    session = opened(folder)
    assert session.restores() == [] and session.problems() == []
    unsaved: list[frozenset] = []
    session.unsavedChanged.connect(unsaved.append)

    show(session, A)
    edited_a = paint(session, 3)
    assert session.dirty_keys() == [A] and unsaved[-1] == {A}
    assert session.autosave_now() == 1 and [e.key for e in list_autosaves(folder)] == [A]
    session.undo()  # back to the saved state: not unsaved, and no autosave left to offer after a crash
    assert session.dirty_keys() == [] and unsaved[-1] == frozenset()
    assert list_autosaves(folder) == [] and np.array_equal(session.mask(), original_a)
    session.redo()
    assert np.array_equal(session.mask(), edited_a) and session.dirty_keys() == [A]

    show(session, B)  # switching keeps A's edit and history in memory
    assert session.dirty_keys() == [A]
    edited_b = paint(session, 4, ((5, 40), (60, 10)))
    assert sorted(session.dirty_keys()) == [A, B]
    assert session.autosave_now() == 2
    assert np.array_equal(read_autosave({e.key: e for e in list_autosaves(folder)}[B]), edited_b)
    assert np.array_equal(disk(folder, A), original_a) and np.array_equal(disk(folder, B), original_b)
    session.close()

    # "the app died": a new session offers both autosaves with what is on disk, and restores only A
    again = opened(folder)
    offered = {item.key: item for item in again.restores()}
    assert set(offered) == {A, B}
    assert np.array_equal(offered[A].saved, original_a) and np.array_equal(offered[A].autosaved, edited_a)
    assert again.resolve_restores({A}) == 1
    assert np.array_equal(disk(folder, A), edited_a) and np.array_equal(disk(folder, B), original_b)
    assert list_autosaves(folder) == [] and again.restores() == []
    assert again.project.status == {A: "edited"}

    show(again, B)
    edited_b = paint(again, 2)
    saved = []
    again.saved.connect(saved.append)
    assert again.save_current() and saved == [B]
    assert np.array_equal(disk(folder, B), edited_b) and again.dirty_keys() == []
    assert (folder / ".seg-desktop" / "originals" / "masks" / "sample_001.png").is_file()
    assert again.project.status == {A: "edited", B: "edited"}
    again.close()


def test_open_edit_undo_switch_autosave_restore_save(qapp, sample_folder):
    run_flow(sample_folder)


def test_the_session_needs_no_qapplication(tmp_path, sample_folder):
    """The same flow under a bare QCoreApplication: creating any widget there aborts the process."""
    code = ("import sys; from pathlib import Path; from PySide6.QtCore import QCoreApplication; "
            "app = QCoreApplication([]); from tests.gui.test_session import run_flow; run_flow(Path(sys.argv[1])); "
            "print('ok', type(QCoreApplication.instance()).__name__)")
    out = subprocess.run([sys.executable, "-c", code, str(sample_folder)], capture_output=True, text=True,
                         timeout=120, cwd=Path(__file__).resolve().parents[2],
                         env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
    assert out.stdout.split() == ["ok", "QCoreApplication"], out.stderr[-2000:]


def test_an_unreadable_image_is_not_current_and_saving_writes_nothing(qapp, sample_folder):
    path = sample_folder / "images" / "sample_001.png"
    path.write_bytes(path.read_bytes()[:200])
    session = opened(sample_folder)
    show(session, A)
    paint(session, 3)
    assert session.save_current()
    before = disk(sample_folder, A)
    session.select(B)
    wait(lambda: B in session.unreadable)
    assert session.current_key() is None and session.image() is None
    session.commit("Brush", None)
    assert session.save_current() and session.dirty_keys() == []
    assert np.array_equal(disk(sample_folder, A), before)
    assert any("sample_001.png" in p for p in session.problems())
    session.close()
