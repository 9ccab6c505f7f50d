"""The one exception type the data layer raises for bad user input.

Every message is a single sentence that names the file and says what to do, so the GUI can show it in a
message box and the CLI can print it and exit 1 without a traceback.
"""

from __future__ import annotations

from .paths import printable


class DatasetError(Exception):
    """Bad input from the user's folder: unreadable image, mismatched mask, unknown colour, bad class file.

    The message is made printable here (see `paths.printable`), once for every raiser: a file name with a newline
    or bytes that are not UTF-8 still gives one line that any terminal or message box can show."""

    def __init__(self, message: str, path: object | None = None) -> None:
        super().__init__(printable(message))
        self.path = path
