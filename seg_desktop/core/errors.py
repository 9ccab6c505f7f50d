"""The one exception type the data layer raises for bad user input.

Every message is a single sentence that names the file and says what to do, so the GUI can show it in a
message box and the CLI can print it and exit 1 without a traceback.
"""

from __future__ import annotations


class DatasetError(Exception):
    """Bad input from the user's folder: unreadable image, mismatched mask, unknown colour, bad class file."""

    def __init__(self, message: str, path: object | None = None) -> None:
        super().__init__(message)
        self.path = path
