"""Start the desktop app: one QApplication, QSettings names, the main window, then the folder.

The window is shown before the folder is scanned (and long before anything imports TensorFlow), so the app is
on screen at once even for a large folder.
"""

from __future__ import annotations

import gc
import sys
from pathlib import Path

from PySide6.QtCore import QMessageLogContext, QtMsgType, QTimer, qInstallMessageHandler
from PySide6.QtWidgets import QApplication

from .crash import ExceptionHook
from .icons import app_icon
from .main_window import MainWindow

ORG_NAME = "seg-desktop"
APP_NAME = "seg-desktop"


# Qt's image plugins report a damaged file through qWarning ("libpng error: Read Error") while a thumbnail is
# decoded; the file is already named in the Problems panel in one sentence, so the terminal need not repeat it.
_DECODER_CHATTER = ("libpng ", "libtiff", "libjpeg", "Corrupt JPEG", "Premature end of JPEG")


def quiet_image_decoders(kind: QtMsgType, context: QMessageLogContext, message: str) -> None:
    """Qt message handler: image decoders' own chatter is dropped, every other message printed as Qt would."""
    if kind in (QtMsgType.QtWarningMsg, QtMsgType.QtInfoMsg, QtMsgType.QtDebugMsg) and \
            message.startswith(_DECODER_CHATTER):
        return
    sys.stderr.write(message + "\n")


def create_app() -> QApplication:
    """The QApplication with the names QSettings files are stored under (reused when one exists, e.g. in tests)."""
    qInstallMessageHandler(quiet_image_decoders)
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName(ORG_NAME)
    app.setApplicationName(APP_NAME)
    app.setApplicationDisplayName("seg-desktop")
    app.setDesktopFileName("seg-desktop")  # the taskbar matches the window to resources/seg-desktop.desktop
    app.setWindowIcon(app_icon())
    return app


def main(folder: Path | None = None) -> int:
    """Run the GUI on `folder` (None: the built-in sample dataset) until the window closes; the exit code."""
    app = create_app()
    window = MainWindow()
    hook = ExceptionHook(window, window.session.autosave_now)
    hook.install()  # an uncaught error from here on: a message, an emergency autosave, a log entry
    window.show()
    # Python's full garbage collection stops every thread, the GUI's too, for as long as it takes to walk every
    # object: with Qt, TensorFlow-free imports and the window built, about 150,000 objects and 190-310 ms (issue 13).
    # Objects made at start-up live as long as the app, so they are moved out of the collector's sight: a full
    # collection then takes about 5 ms.
    gc.collect()
    gc.freeze()
    if folder is None:
        QTimer.singleShot(0, window.open_sample)
    else:
        QTimer.singleShot(0, lambda: window.open_folder(Path(folder)))
    try:
        return app.exec()
    finally:
        hook.uninstall()
