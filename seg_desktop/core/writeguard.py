"""The one write guard: every command that writes files for the user plans them here first, and nothing is
written unless every planned file is safe to write.

A file may be written when it does not exist yet, or when seg-desktop wrote it there itself and it is unchanged
since. What seg-desktop wrote is listed in a small manifest in each output folder it owns
(`.seg-desktop-output.json`: each file's size and modification time, or null while a write is under way); a run
folder's manifest marks the whole folder as a run's, and it is written before anything else. So:

- a file the user made, or one they edited after we wrote it, is never replaced;
- the folders a dataset reads images and masks from are never written into (a prediction `a.png` beside `a.jpg`
  would shadow the image on the next open, and one in the mask folder would become a mask);
- `sample` and `train --out` take only a new or empty folder, or one seg-desktop made for the same purpose;
- damaged files set aside (`project.json.bad`) keep every generation.

Refusals are `WriteRefused`, one sentence naming the file and what to do, raised before any byte is written.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .atomic import atomic_write_bytes, atomic_write_text
from .errors import DatasetError
from .resources import write_failure
from .safeio import read_json

if TYPE_CHECKING:
    from .dataset import Dataset

MANIFEST = ".seg-desktop-output.json"
_FORMAT = 1


class WriteRefused(DatasetError):
    """A write that would replace or shadow a file seg-desktop did not make; refused before anything was written."""


# ---------------------------------------------------------------- the dataset's own folders


def _read_folders(dataset: Dataset) -> list[tuple[Path, bool]]:
    """(folder, recursive) for every folder `open_dataset` lists images or masks from, existing or not: the flat
    layout reads the root itself; the others read their image and mask folders (images/ and masks/ with every
    subfolder), plus wherever the samples were actually found."""
    root = dataset.root
    if not dataset.mask_dirs:
        return [(root, False)]
    recursive = dataset.layout == "images/masks"
    folders = {root / name for pair in dataset.mask_dirs.items() for name in pair}
    found = {p.parent for s in dataset.samples for p in (s.image_path, s.mask_path) if p is not None}
    return [(f, recursive) for f in folders] + [(f, False) for f in found - folders]


def _resolved(path: Path) -> Path:
    try:
        return Path(path).expanduser().resolve()
    except (OSError, RuntimeError):  # a link loop: compare the path as given
        return Path(os.path.abspath(Path(path).expanduser()))


def dataset_reads(dataset: Dataset, folder: Path | str) -> bool:
    """Whether image files put directly in `folder` would be read by `dataset` as its images or masks."""
    target = _resolved(Path(folder))
    for read, recursive in _read_folders(dataset):
        read = _resolved(read)
        if target == read:
            return True
        if recursive and read in target.parents:
            if not any(part.startswith(".") for part in target.relative_to(read).parts):  # hidden ones are skipped
                return True
    return False


def refuse_dataset_folder(dataset: Dataset | None, folder: Path | str, what: str) -> None:
    """WriteRefused when `folder` is one the dataset reads images or masks from."""
    if dataset is not None and dataset_reads(dataset, folder):
        raise WriteRefused(f"Writing {what} to {folder} would overwrite or shadow the images and masks that "
                           f"{dataset.root} reads from there; choose an output folder outside the dataset's image "
                           "and mask folders.", Path(folder))


# ---------------------------------------------------------------- the manifest


@dataclass
class _Manifest:
    run: bool = False  # the whole folder is a training run's
    files: dict[str, list[int] | None] = field(default_factory=dict)  # name -> [size, mtime_ns]; None: writing


def _read_manifest(folder: Path) -> _Manifest | None:
    """The folder's manifest; None when it has none. A damaged one is a refusal: without it our files cannot be
    told from the user's."""
    path = folder / MANIFEST
    try:
        data = read_json(path)
    except FileNotFoundError:
        return None
    except DatasetError:
        data = None
    files = data.get("files") if isinstance(data, dict) else None
    if not isinstance(files, dict) or not all(
            isinstance(k, str) and (v is None or (isinstance(v, list) and len(v) == 2 and
                                                  all(type(n) is int for n in v))) for k, v in files.items()):
        raise WriteRefused(f"{path} is not a list of the files seg-desktop wrote, so its own files cannot be told "
                           "from yours; delete it and move away the files you want to keep, or choose another "
                           "output folder.", path)
    return _Manifest(bool(data.get("run", False)), dict(files))


def _write_manifest(folder: Path, manifest: _Manifest) -> None:
    data = {"seg-desktop-output": _FORMAT, "run": manifest.run, "files": manifest.files}
    atomic_write_text(folder / MANIFEST, json.dumps(data, sort_keys=True))  # ASCII: any file name round-trips


def _fingerprint(st: os.stat_result) -> list[int]:
    return [st.st_size, st.st_mtime_ns]


# ---------------------------------------------------------------- folders


def _refuse_uncreatable(folder: Path) -> None:
    """WriteRefused when `folder` is not a folder and cannot become one (a file is in the way, e.g. /dev/null/x)."""
    for path in (folder, *folder.parents):
        try:
            st = os.stat(path)
        except (FileNotFoundError, NotADirectoryError):  # not there yet; look further up
            continue
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the name
            raise WriteRefused(f"{folder} cannot be used as an output folder ({getattr(exc, 'strerror', None) or exc}"
                               "); choose another folder.", folder) from None
        if stat.S_ISDIR(st.st_mode):
            return
        where = "is not a folder" if path == folder else f"cannot be created because {path} is not a folder"
        raise WriteRefused(f"{folder} {where}; choose a folder for the output.", folder)


def _entries(folder: Path) -> list[str]:
    try:
        return os.listdir(folder)
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise WriteRefused(f"{folder} cannot be listed ({exc.strerror or exc}); check its permissions or choose "
                           "another folder.", folder) from None


def _make_folders(folders: Iterable[Path]) -> None:
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatasetError(f"Cannot create the output folder {folder} ({exc.strerror or exc}); choose another "
                               "folder.", folder) from None


def _save_manifest(folder: Path, manifest: _Manifest) -> None:
    try:
        _write_manifest(folder, manifest)
    except OSError as exc:
        raise DatasetError(write_failure(exc, folder / MANIFEST), folder) from None


# ---------------------------------------------------------------- output folders


@dataclass
class Output:
    """Files claimed in an output folder by `claim_output`: write them (by `write_bytes` or any atomic writer on
    `path(name)`), then `finish()` records what was written so a later run may replace it and nothing else."""

    folder: Path
    names: tuple[str, ...]
    _manifest: _Manifest

    def path(self, name: str) -> Path:
        return self.folder / name

    def write_bytes(self, name: str, data: bytes) -> Path:
        """Write one claimed file atomically; a failure (disk full, no permission) is one sentence naming it."""
        if name not in self.names:
            raise ValueError(f"{name!r} was not claimed in {self.folder}; this is a bug, please report it.")
        path = self.path(name)
        try:
            atomic_write_bytes(path, data)
        except OSError as exc:
            raise DatasetError(write_failure(exc, path), path) from None
        return path

    def finish(self) -> None:
        """Record the size and time of every claimed file now present; claimed files never written are dropped.
        Best effort: when the manifest cannot be rewritten, the claimed names simply stay marked as ours."""
        for name in self.names:
            try:
                st = os.lstat(self.path(name))
            except OSError:
                self._manifest.files.pop(name, None)
                continue
            if stat.S_ISREG(st.st_mode):
                self._manifest.files[name] = _fingerprint(st)
        try:
            _write_manifest(self.folder, self._manifest)
        except OSError:
            pass


def _check_name(folder: Path, name: str, manifest: _Manifest | None) -> None:
    """Refuse unless `folder/name` is absent, or was written by seg-desktop and is unchanged since."""
    path = folder / name
    try:
        st = os.lstat(path)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENAMETOOLONG):  # nothing there (an over-long name fails when written)
            return
        if exc.errno == errno.ENOTDIR:
            raise WriteRefused(f"{path.parent} is a file, not a folder; move it away or choose another output "
                               "folder.", path.parent) from None
        raise WriteRefused(f"{path} cannot be checked ({exc.strerror or exc}); check the folder's permissions or "
                           "choose another output folder.", path) from None
    listed = manifest is not None and name in manifest.files
    if not listed:
        raise WriteRefused(f"{path} already exists and was not written by seg-desktop; move it away or choose "
                           "another output folder.", path)
    recorded = manifest.files[name]
    if recorded is not None and (not stat.S_ISREG(st.st_mode) or _fingerprint(st) != recorded):
        raise WriteRefused(f"{path} was changed after seg-desktop wrote it, so it may hold your edits; move it "
                           "away or choose another output folder.", path)


def claim_output(folder: Path | str, names: Sequence[str], what: str, *, fresh: bool = False,
                 dataset: Dataset | None = None) -> Output:
    """Check every planned file of one command, then create the folder and record the claim.

    `names` are paths relative to `folder` ('a.png', 'images/a.png'). Refused (WriteRefused, nothing written)
    when any of them would replace a file seg-desktop did not write or one edited since, when a folder the
    dataset reads would receive them, or, with `fresh`, when `folder` is neither new, empty nor ours.
    `what` names the output in messages ("predicted masks").
    """
    folder = Path(folder).expanduser()
    names = tuple(names)
    if len({_collision_key(n) for n in names} | {_collision_key(MANIFEST)}) != len(names) + 1:
        raise ValueError(f"the planned names for {folder} are not unique; this is a bug, please report it.")
    parents = sorted({(folder / n).parent for n in names} | {folder})
    for parent in parents:
        refuse_dataset_folder(dataset, parent, what)
    _refuse_uncreatable(folder)
    manifest = _read_manifest(folder) if os.path.isdir(folder) else None
    if fresh and (manifest is None or manifest.run) and _entries(folder):
        raise WriteRefused(f"{folder} is not empty and was not made by seg-desktop; choose a new or empty folder "
                           f"for the {what}.", folder)
    for name in names:
        _check_name(folder, name, manifest)
    manifest = manifest or _Manifest()
    manifest.files.update((name, None) for name in names)
    _make_folders(parents)
    _save_manifest(folder, manifest)
    return Output(folder, names, manifest)


# ---------------------------------------------------------------- run folders


def claim_run_folder(folder: Path | str, *, continuing: bool = False, dataset: Dataset | None = None) -> bool:
    """Make `folder` a run folder, marking it as one before anything else is written; True when this call
    created it (see release_run_folder).

    A new or empty folder is taken; `continuing` (a run resumed in its own folder) takes the run's folder as it
    is. Anything else is refused: a folder holding a run (finished, or in its first epoch with only config.json)
    or any file of the user's, and the dataset's image and mask folders.
    """
    folder = Path(folder).expanduser()
    refuse_dataset_folder(dataset, folder, "a training run")
    if continuing:
        return False  # the run's own folder (its config and checkpoints were checked by the resume): as it is
    _refuse_uncreatable(folder)
    existed = os.path.isdir(folder)
    if existed and _entries(folder):
        manifest = _read_manifest(folder)
        if manifest is not None and manifest.run:
            raise WriteRefused(f"{folder} already holds a run (perhaps one still training); choose another --out "
                               "folder, resume that run, or delete it first.", folder)
        raise WriteRefused(f"{folder} is not empty and is not a seg-desktop run folder; choose a new or empty "
                           "folder for the run.", folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        _write_manifest(folder, _Manifest(run=True))
    except OSError as exc:
        raise DatasetError(f"Cannot create the run folder {folder} ({exc.strerror or exc}); choose a writable "
                           "folder with --out (in the app: a dataset folder you can write to).", folder) from None
    return not existed


def release_run_folder(folder: Path | str, created: bool) -> None:
    """Undo claim_run_folder for a run that failed before it started, so the same folder can be used again:
    remove the folder when the claim created it, else empty it (it was empty before). A folder without our
    run marker is left alone."""
    folder = Path(folder)
    try:
        manifest = _read_manifest(folder)
    except (DatasetError, OSError):
        return
    if manifest is None or not manifest.run:
        return
    if created:
        shutil.rmtree(folder, ignore_errors=True)
        return
    for entry in os.scandir(folder):
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)


# ---------------------------------------------------------------- names and damaged files


def _collision_key(name: str) -> str:
    """Names that are one file on some file system (macOS and Windows ignore case; macOS stores NFD)."""
    return unicodedata.normalize("NFC", name).casefold()


def unique_names(bases: Sequence[str], suffixes: Sequence[str]) -> list[str]:
    """One name per base such that every `name + suffix` over all bases is distinct (case and Unicode form
    ignored): a base whose files would meet another's gets '-2', '-3', ... In linear time, so 40,000 images
    are named in milliseconds."""
    taken: set[str] = set()
    next_number: dict[str, int] = {}
    names = []
    for base in bases:
        key = _collision_key(base)
        name, n = base, next_number.get(key, 1)
        if n > 1:
            name = f"{base}-{n}"
        while any(_collision_key(name + s) in taken for s in suffixes):
            n += 1
            name = f"{base}-{n}"
        next_number[key] = n
        taken.update(_collision_key(name + s) for s in suffixes)
        names.append(name)
    return names


def set_aside(path: Path | str, tag: str = ".bad") -> Path:
    """Move a damaged file to the first free `NAME.bad`, `NAME.bad.1`, `NAME.bad.2`, ...: every generation is
    kept, none replaces an earlier one. A hard link claims the name atomically; where the file system has none,
    the name is checked and the file renamed."""
    path = Path(path)
    n = 0
    while True:
        dest = path.with_name(f"{path.name}{tag}" + (f".{n}" if n else ""))
        n += 1
        try:
            os.link(path, dest, follow_symlinks=False)
        except FileExistsError:
            continue
        except OSError:
            if os.path.lexists(dest):
                continue
            os.rename(path, dest)
            return dest
        os.unlink(path)
        return dest
