"""One sentence for running out of a resource (disk space, permission, memory) while handling one file.

Resource failures are per file: the caller reports the sentence for that file and goes on with the others, so a
full disk or one huge image costs that file's output, not the whole run's. The sentence names the file, says
what ran out in words (not an errno) and what to do.
"""

from __future__ import annotations

import errno
from pathlib import Path

_ANOTHER_DISK = "free some space, or choose an output folder on another disk"
_PERMISSIONS = "fix the folder's permissions, or choose another output folder"
# errno -> (what happened, what to do)
_WRITE_FAILURES = {
    errno.ENOSPC: ("the disk is full", _ANOTHER_DISK),
    errno.EDQUOT: ("the disk quota is used up", _ANOTHER_DISK),
    errno.EFBIG: ("the file is too large for the file system", "choose an output folder on another disk"),
    errno.EACCES: ("permission denied", _PERMISSIONS),
    errno.EPERM: ("operation not permitted", _PERMISSIONS),
    errno.EROFS: ("the file system is read-only", "choose an output folder on a writable disk"),
    errno.ENAMETOOLONG: ("the name is too long for the file system",
                         "rename the image, or choose an output folder with a shorter path"),
}


def write_failure(exc: OSError, path: Path | str, consequence: str = "") -> str:
    """Why writing `path` failed and what to do; `consequence` (e.g. ", so nothing was kept for a.png") is put
    between the two."""
    reason, advice = _WRITE_FAILURES.get(exc.errno, (exc.strerror or type(exc).__name__,
                                                     "choose another output folder"))
    return f"Cannot write {path} ({reason}){consequence}; {advice}."


def out_of_memory(path: Path | str, doing: str, advice: str = "or downscale the image") -> str:
    """`doing` is a verb phrase such as "decode" or "predict"; `advice` follows "close other programs"."""
    return f"There is not enough memory to {doing} {path}; close other programs {advice}, then run again."
