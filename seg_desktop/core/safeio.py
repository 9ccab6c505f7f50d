"""Reading a user's file safely: only regular files, never more than a size cap per kind, JSON of bounded depth.

Opening a named pipe blocks until a writer appears (forever, for a FIFO named `config.json`), and a device or a
multi-gigabyte "CSV" would be read until memory runs out; so every reader stats the path first (stat never
blocks), refuses anything but a regular file with one sentence naming it, and reads at most the cap. The file is
then opened non-blocking and checked again, so a file swapped for a pipe in between cannot hang us either.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from .errors import DatasetError

_MB = 1 << 20
# (cap in bytes, what the file is called in messages). Images may be huge uncompressed TIFFs (16k x 16k x 4 x 16
# bit is 2 GiB); class files, split lists and run/project JSON are small text, so a large one is damage or a
# mistake, and reading it whole would only cost memory.
KINDS: dict[str, tuple[int, str]] = {
    "image": (2048 * _MB, "image"),
    "mask": (1024 * _MB, "mask"),
    "csv": (16 * _MB, "CSV or text"),
    "json": (64 * _MB, "JSON"),
    "annotations": (2048 * _MB, "annotation JSON"),  # a COCO file of a large dataset (COCO's own: 450 MB)
}
# Our JSON files nest 3 levels (config: class_colors is a list of lists); 32 leaves room and stops a bracket bomb.
MAX_JSON_DEPTH = 32

_SPECIAL = ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"),
            (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"))


def _what(mode: int) -> str:
    return next((name for test, name in _SPECIAL if test(mode)), "not a regular file")


def check_stat(path: Path, st: os.stat_result, kind: str) -> os.stat_result:
    """Refuse `st` (the stat of `path`) unless it is a regular file within the cap of `kind`; returns `st`."""
    label = KINDS[kind][1]
    if not stat.S_ISREG(st.st_mode):
        raise DatasetError(f"{path} is {_what(st.st_mode)}, not a file; remove it or replace it with a real "
                           f"{label} file.", path)
    if st.st_size > KINDS[kind][0]:
        _too_big(path, st.st_size, kind)
    return st


def _too_big(path: Path, size: int, kind: str) -> None:
    cap, label = KINDS[kind]
    raise DatasetError(f"{path} is {_amount(size)}, over the {_amount(cap)} limit for {label} files; replace it "
                       "with the right file or split it.", path)


def _amount(size: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", _MB), ("KB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.3g} {unit}"
    return f"{size} bytes"


def check_regular(path: Path | str, kind: str) -> os.stat_result:
    """Stat `path` (without opening it) and refuse anything but a regular file within the cap of `kind`.

    A missing file raises FileNotFoundError unchanged, so callers can treat "absent" as "use defaults"; every
    other failure (permission, name too long, link loop, special file) is a DatasetError naming the file.
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        raise DatasetError(f"{path} cannot be read ({getattr(exc, 'strerror', None) or exc}); check the path and "
                           "its permissions.", path) from None
    return check_stat(path, st, kind)


def read_bytes_capped(path: Path | str, kind: str) -> bytes:
    """The bytes of a regular file of at most the cap of `kind` (see check_regular for what is refused)."""
    path = Path(path)
    check_regular(path, kind)
    cap = KINDS[kind][0]
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | getattr(os, "O_NOCTTY", 0))
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise DatasetError(f"{path} cannot be read ({exc.strerror or exc}); check its permissions.", path) from None
    try:
        check_stat(path, os.fstat(fd), kind)  # the same checks on what was really opened
        chunks, size = [], 0
        while size <= cap:
            chunk = os.read(fd, min(cap + 1 - size, 16 * _MB))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise DatasetError(f"{path} cannot be read ({exc.strerror or exc}); check the disk or copy it again.",
                           path) from None
    finally:
        os.close(fd)
    if size > cap:  # it grew after the stat
        _too_big(path, size, kind)
    return b"".join(chunks)


def read_text_capped(path: Path | str, kind: str) -> str:
    """The text of a capped regular file, UTF-8 (a leading BOM, as Excel writes it, is dropped)."""
    path = Path(path)
    data = read_bytes_capped(path, kind)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path} is not UTF-8 text (byte {exc.start}); save it as UTF-8.", path) from None


def read_json(path: Path | str, what: str = "JSON file", kind: str = "json") -> object:
    """A capped regular JSON file parsed, nesting at most MAX_JSON_DEPTH deep; `what` names it in messages
    ("run config"), `kind` is its size cap (see KINDS). Numbers too big for a float (1e400) parse as inf, as Python's json does: the loaders that own
    each field check it is finite."""
    path = Path(path)
    text = read_text_capped(path, kind)
    try:
        data = json.loads(text)
    except RecursionError:
        data = None
        _too_deep(path, what)
    except ValueError as exc:
        raise DatasetError(f"{path} is not a valid {what} ({exc}); fix it or delete it.", path) from None
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            _too_deep(path, what)
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return data


def _too_deep(path: Path, what: str) -> None:
    raise DatasetError(f"{path} is not a valid {what} (it nests more than {MAX_JSON_DEPTH} levels deep); replace "
                       "it.", path)


def present(path: Path | str) -> bool:
    """Whether anything (a file, folder, pipe, dangling or unreadable link) sits at `path`; never raises."""
    try:
        os.lstat(path)
        return True
    except (OSError, ValueError):
        return False


def is_dir(path: Path | str) -> bool:
    """Path.is_dir without its PermissionError for a link into an unreadable folder: anything unreadable is no
    folder to list (the listing of its parent reports it)."""
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except (OSError, ValueError):
        return False


def require_folder(path: Path | str, what: str) -> Path:
    """`path` as a folder, or one sentence naming it and saying to pass the `what`: missing, not a folder, or a
    path the file system refuses to look up (a component over 255 bytes, a loop of links, a folder we may not
    enter), so a command says so before it spends seconds loading anything."""
    path = Path(path).expanduser()
    try:
        st = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise DatasetError(f"{path} does not exist; pass the {what}.", path) from None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
        raise DatasetError(f"{path} cannot be looked up ({getattr(exc, 'strerror', None) or exc}); pass the "
                           f"{what}.", path) from None
    if not stat.S_ISDIR(st.st_mode):
        raise DatasetError(f"{path} is not a folder; pass the {what}.", path)
    return path
