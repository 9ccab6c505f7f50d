"""The last line of defence: an exception nobody caught becomes a message, an emergency autosave and a log entry.

Without it, PySide prints a traceback to a terminal the user never sees and carries on (an exception in a slot),
or a worker thread dies silently; either way the user learns nothing and may keep editing into a broken state.
Here, from whichever thread it happened in, the exception is relayed to the GUI thread, every unsaved mask is
written to `.seg-desktop/autosave/` at once (offered back on the next open if the app does go down), the
traceback is appended to a log file, and one message says what happened, that the edits are safe, and where the
details are. The app keeps running: most such errors concern one action, not the session.
"""

from __future__ import annotations

import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QObject, QStandardPaths, Qt, Signal, Slot

from . import dialogs

_MAX_LOG_BYTES = 1_000_000  # the log keeps the latest crashes; older ones are dropped beyond this size


def crash_log_path() -> Path:
    """Where tracebacks go: the per-user app data folder (not the dataset, which may be read-only or shared)."""
    folder = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppLocalDataLocation)
    return Path(folder or Path.home() / ".seg-desktop") / "crash.log"


def _append_log(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    old = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
    entry = f"--- {time.strftime('%Y-%m-%d %H:%M:%S')}\n{text}\n"
    path.write_text((old + entry)[-_MAX_LOG_BYTES:], encoding="utf-8", errors="backslashreplace")


class ExceptionHook(QObject):
    """Installed as sys.excepthook and threading.excepthook; `autosave` returns how many masks it wrote."""

    _relay = Signal(str, str)  # summary, traceback text: queued to the GUI thread from any thread

    def __init__(self, parent_widget, autosave: Callable[[], int]) -> None:
        super().__init__(parent_widget)
        self._widget = parent_widget
        self._autosave = autosave
        self._showing = False
        self._previous = (sys.excepthook, threading.excepthook)
        self._relay.connect(self._report, Qt.ConnectionType.QueuedConnection)

    def install(self) -> None:
        sys.excepthook = self.handle
        threading.excepthook = lambda args: self.handle(args.exc_type, args.exc_value, args.exc_traceback)

    def uninstall(self) -> None:
        sys.excepthook, threading.excepthook = self._previous

    def handle(self, exc_type: type[BaseException], exc: BaseException | None,
               tb: TracebackType | None) -> None:
        if issubclass(exc_type, KeyboardInterrupt):  # Ctrl+C in the terminal still ends the app as usual
            self._previous[0](exc_type, exc, tb)
            return
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        sys.stderr.write(text)
        detail = str(exc).splitlines()[0][:200] if exc is not None and str(exc) else "no details"
        self._relay.emit(f"{exc_type.__name__}: {detail}", text)

    @Slot(str, str)
    def _report(self, summary: str, text: str) -> None:
        log = crash_log_path()
        try:
            _append_log(log, text)
            where = f"the details are in {log}"
        except OSError:
            where = "the details were printed to the terminal"
        try:
            saved = self._autosave()
            kept = f"{saved} unsaved mask(s) were autosaved and will be offered back if you reopen the folder" \
                if saved else "no edits were unsaved"
        except Exception as exc:  # noqa: BLE001 - the autosave failing must not hide the original error
            kept = f"the emergency autosave failed too ({exc}); save with Ctrl+S now"
        if self._showing:  # one box at a time; a cascade of errors is in the log
            return
        self._showing = True
        try:
            dialogs.show_error(self._widget, f"seg-desktop hit an internal error ({summary}); {kept}, and {where}. "
                                             "You can keep working; please report the log if it happens again.",
                               title="seg-desktop — internal error")
        finally:
            self._showing = False
