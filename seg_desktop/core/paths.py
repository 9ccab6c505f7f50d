"""File names as file systems allow them, not as Python prefers them: any bytes but '/' and NUL, up to 255.

A name that is not valid UTF-8 reaches Python as a str holding surrogate escapes (`os.fsdecode`), which cannot be
encoded to UTF-8, printed on a UTF-8 terminal or shown by Qt; a name may hold a newline or an escape sequence
that splits a one-line message or rewrites the terminal; and a name derived from a user's long name (a
prediction `<stem>_entropy.png`, a temporary `.<name>.XXXXXXXX.tmp`) can exceed the 255 bytes one path component
may hold (ENAMETOOLONG). Each of these is handled here, once, for every module that hashes, shows or derives
names.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata

# Bytes in one path component on Linux and macOS file systems (Windows counts 255 UTF-16 units, never fewer
# than the UTF-8 bytes of the same name, so a name that fits here fits there too).
NAME_MAX = 255
# Characters escaped for display: control characters (newline, tab, ESC), surrogates (undecodable bytes),
# format characters (bidirectional overrides that make a name read backwards) and line/paragraph separators.
_HIDDEN = frozenset(("Cc", "Cf", "Cs", "Zl", "Zp"))


def name_bytes(name: str) -> bytes:
    """The bytes of a name for hashing: UTF-8 for a UTF-8 name (so hashes of ordinary names never change), the
    original bytes for a name that is not valid UTF-8, and any other lone surrogate (possible in Windows names)
    passed through instead of raising."""
    try:
        return name.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return name.encode("utf-8", "surrogatepass")


def printable(text: str) -> str:
    """`text` as one printable line: each undecodable byte as \\xNN and each control, format or separator
    character as its backslash escape (\\n, \\x1b, \\u202e), so a message naming any file stays one line that
    every terminal and widget can show."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        if "\udc80" <= ch <= "\udcff":  # os.fsdecode's escape of an undecodable byte: show that byte
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")
        elif unicodedata.category(ch) in _HIDDEN:
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out)


def display_path(path: str | bytes | os.PathLike) -> str:
    """A path as messages show it: see `printable`."""
    return printable(os.fsdecode(path))


def fit_name(name: str, reserve: int = 0) -> str:
    """`name` itself when it and `reserve` more bytes (a suffix the caller appends) fit in one path component;
    otherwise its first characters and a hash of the whole name, so derived names stay unique and writable."""
    raw = name_bytes(name)
    if len(raw) + reserve <= NAME_MAX:
        return name
    digest = hashlib.sha1(raw).hexdigest()[:16]
    budget = NAME_MAX - reserve - len(digest) - 1
    if budget < 0:
        raise ValueError(f"a suffix of {reserve} bytes leaves no room for a file name")
    kept, used = [], 0
    for ch in name:
        used += len(name_bytes(ch))
        if used > budget:
            break
        kept.append(ch)
    return f"{''.join(kept)}~{digest}"
