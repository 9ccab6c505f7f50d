"""GUI test fixtures: offscreen Qt, QSettings in a temporary folder, a generated dataset, and a main window whose
questions are answered by the test (dialogs.* are replaced, so no modal box can ever block the suite)."""

from __future__ import annotations

import gc
import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from PySide6.QtCore import QCoreApplication, QSettings, QStandardPaths  # noqa: E402

from seg_desktop.core.sample_data import make_sample_dataset  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def isolated_settings(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every QSettings() of the suite lives in a temporary folder, never in the developer's own config, and the
    built-in sample dataset is cached there too."""
    QStandardPaths.setTestModeEnabled(True)
    folder = tmp_path_factory.mktemp("qsettings")
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
        QSettings.setPath(QSettings.Format.IniFormat, scope, str(folder))
    QCoreApplication.setOrganizationName("seg-desktop-tests")
    QCoreApplication.setApplicationName("seg-desktop-tests")
    os.environ["SEG_DESKTOP_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    return folder


@pytest.fixture(autouse=True)
def collect_garbage_on_the_gui_thread():
    """After each test, free its unreachable Qt objects here, on the GUI thread. Left to chance, Python's cyclic
    garbage collector runs on whichever thread allocates next (a training or pool thread of a later test), and a
    QObject freed there cannot stop its timers: Qt then fires them into freed memory (a segfault seen in the
    suite, reproduced with a parentless session collected on a worker thread)."""
    yield
    gc.collect()


@pytest.fixture(autouse=True)
def fresh_settings(isolated_settings: Path) -> None:
    """Each test starts from the defaults: what one test's panel remembered (e.g. "start from" a run of that
    test) must not change what the next one trains."""
    QSettings().clear()


@pytest.fixture(scope="session")
def _sample_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_sample_dataset(tmp_path_factory.mktemp("template") / "data", n=8, size=64)


@pytest.fixture
def sample_folder(tmp_path: Path, _sample_template: Path) -> Path:
    """A fresh copy of an 8-image, 64 px sample dataset (images/ + masks/ + classes.csv) per test."""
    import shutil

    return Path(shutil.copytree(_sample_template, tmp_path / "data"))


@dataclass
class Answers:
    """What the user answers to the window's questions, and what was asked/shown."""

    unsaved: str = "discard"
    restore: bool | set[str] = True  # restore all, none, or the autosaves of these keys
    asked: list[tuple[list[str], str]] = field(default_factory=list)
    offered: list[list] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> Answers:
    from seg_desktop.gui import dialogs

    a = Answers()

    def ask_unsaved(parent, names, action):
        a.asked.append((list(names), action))
        return a.unsaved

    def offer_restore(parent, items, classes):
        a.offered.append(list(items))
        return [i.key for i in items if a.restore is True or (a.restore and i.key in a.restore)]

    monkeypatch.setattr(dialogs, "ask_unsaved", ask_unsaved)
    monkeypatch.setattr(dialogs, "offer_restore", offer_restore)
    monkeypatch.setattr(dialogs, "show_error", lambda parent, message, title="": a.errors.append(message))
    return a


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, answers: Answers, settings: QSettings):
    from seg_desktop.gui.main_window import MainWindow

    w = MainWindow(settings=settings)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    answers.unsaved = "discard"  # pytest-qt closes the window after the test; never block on a question


@pytest.fixture
def open_folder(qtbot, window):
    """`open_folder(path)`: open it as a user would and wait until the first image is in the editor."""

    def run(folder: Path) -> None:
        window.open_folder(folder)
        qtbot.waitUntil(lambda: window.dataset is not None and window.editor.current_key() is not None,
                        timeout=5000)

    return run
