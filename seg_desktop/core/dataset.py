"""Open a folder as a Dataset: its samples (found by core/layouts.py in any of the five layouts docs/ARCHITECTURE.md
lists, without decoding them), classes, split, and reading and writing masks.

Opening a folder only lists and stats files (so 10,000 images index in well under a second); pixels are decoded
when a sample is shown or trained on, and a file that turns out bad is reported then with a sentence naming it.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .classes import ClassSet, camvid_classes, find_class_file, inferred_classes, read_class_file, voc_classes
from .errors import DatasetError
from .imageio import IMAGE_EXTENSIONS, image_size, read_image
from .layouts import Found, Problem, detect_layout
from .maskio import MaskFormat, read_raw_mask, read_mask, write_mask
from .split import draw_split, hash_split, split_hash  # noqa: F401  (hash_split, split_hash: re-exported)

STATE_DIR = ".seg-desktop"
# Masks decoded to guess classes when no class file exists: enough to see every class in practice, few enough
# to keep opening a folder instant.
_INFER_SAMPLE = 48


@dataclass
class Sample:
    image_path: Path
    mask_path: Path | None
    split: str
    key: str  # the image's path relative to the dataset root, with '/' separators: stable id for project state

    @property
    def stem(self) -> str:
        return self.image_path.stem

    @property
    def labelled(self) -> bool:
        return self.mask_path is not None


@dataclass
class Dataset:
    root: Path
    layout: str
    samples: list[Sample]
    classes: ClassSet
    problems: list[Problem] = field(default_factory=list)
    mask_dirs: dict[str, str] = field(default_factory=dict)  # image folder -> mask folder, for new masks
    mask_suffix: str = ""  # "_mask" for the flat layout, "_L" for CamVid colour labels
    new_mask_format: MaskFormat = field(default_factory=MaskFormat.default)
    _formats: dict[str, MaskFormat] = field(default_factory=dict, repr=False)

    def labelled(self, split: str | None = None) -> list[Sample]:
        return [s for s in self.samples if s.labelled and (split is None or s.split == split)]

    def split_of(self, split: str) -> list[Sample]:
        return [s for s in self.samples if s.split == split]

    def by_key(self, key: str) -> Sample | None:
        return next((s for s in self.samples if s.key == key), None)

    def read_image(self, sample: Sample) -> np.ndarray:
        return read_image(sample.image_path)

    def read_mask(self, sample: Sample) -> np.ndarray:
        """The sample's mask as uint8 indices; an error names the file when it is unreadable or of another size."""
        if sample.mask_path is None:
            raise DatasetError(f"{sample.image_path} has no mask yet; paint one or accept a prediction.",
                               sample.image_path)
        mask, fmt = read_mask(sample.mask_path, self.classes, image_size(sample.image_path))
        if fmt.kind == "index" and self.new_mask_format.kind == "binary" and not mask.any():
            fmt = self.new_mask_format  # an empty mask of a 0/255 dataset is still a 0/255 mask
        self._formats[sample.key] = fmt
        return mask

    def mask_path_for(self, sample: Sample) -> Path:
        """Where a new mask for an unlabelled image goes, following the layout's own convention
        (images/x -> masks/x, JPEGImages -> SegmentationClass, train -> trainannot, NAME -> NAME_mask)."""
        parts = Path(sample.key).parent.parts
        top = parts[0] if parts else "."
        rest = parts[1:] if parts else ()
        folder = self.root / self.mask_dirs.get(top, top)
        return folder.joinpath(*rest) / f"{sample.stem}{self.mask_suffix}.png"

    def write_mask(self, sample: Sample, mask: np.ndarray) -> Path:
        """Save atomically in the mask's own format, backing up the original once under .seg-desktop/originals."""
        if sample.mask_path is None:
            path = self.mask_path_for(sample)
            fmt = self.new_mask_format
        else:
            path = sample.mask_path
            fmt = self._formats.get(sample.key)
            if fmt is None:
                try:
                    _, fmt = read_mask(path, self.classes)
                except DatasetError:
                    fmt = self.new_mask_format
        w, h = image_size(sample.image_path)
        if mask.shape != (h, w):
            raise DatasetError(f"The edited mask for {sample.image_path} is {mask.shape[1]}x{mask.shape[0]} but the "
                               f"image is {w}x{h}; this is a bug, please report it.", sample.image_path)
        write_mask(path, mask, fmt, self.classes, backup_root=self.root)
        sample.mask_path = path
        self._formats[sample.key] = fmt
        return path

    @property
    def state_dir(self) -> Path:
        return self.root / STATE_DIR


# ---------------------------------------------------------------- classes


def _mask_values(paths: list[Path], problems: list[Problem]) -> tuple[set[int], set[tuple[int, int, int]], bool]:
    """Distinct index values and colours over an evenly spaced sample of masks (unreadable files are skipped here
    and reported when they are opened). A mask whose colours would make more than 256 classes (a JPEG's noise)
    is reported and left out of the guess: that one file is unusable, never the whole folder."""
    values: set[int] = set()
    colours: set[tuple[int, int, int]] = set()
    palette_mode = False
    step = max(1, len(paths) // _INFER_SAMPLE)
    for path in paths[::step][:_INFER_SAMPLE]:
        try:
            arr, mode, _ = read_raw_mask(path)
        except DatasetError:
            continue
        palette_mode |= mode == "P"
        if arr.ndim == 3 and not (np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 1], arr[..., 2])):
            flat = arr.reshape(-1, 3)
            codes = np.unique((flat[:, 0].astype(np.uint32) << 16) | (flat[:, 1].astype(np.uint32) << 8) | flat[:, 2])
            found = {((int(c) >> 16) & 255, (int(c) >> 8) & 255, int(c) & 255) for c in codes}
            if len(colours | found) > 256:
                problems.append(Problem(path, f"{path} has too many colours to be a colour mask ({len(found)}, "
                                              "e.g. JPEG noise), so it was left out when guessing the classes; save "
                                              "it as PNG or add a class_dict.csv listing the class colours."))
                continue
            colours |= found
        else:
            plane = arr if arr.ndim == 2 else arr[..., 0]
            values.update(np.flatnonzero(np.bincount(plane.ravel(), minlength=256)).tolist())
    return values, colours, palette_mode


def _classes_for(root: Path, found: Found, problems: list[Problem]) -> ClassSet:
    class_file = find_class_file(root)
    if class_file is not None:
        try:
            return read_class_file(class_file)
        except DatasetError as exc:
            problems.append(Problem(class_file, str(exc)))
    if found.layout == "Pascal VOC":
        return voc_classes()
    masks = [m for _, _, m, _ in found.pairs if m is not None]
    values, colours, _ = _mask_values(masks, problems)
    if colours:
        return inferred_classes(set(), colours)
    if found.layout.startswith(("CamVid", "keras_segmentation")) and values and 9 <= max(values) <= 11:
        return camvid_classes()  # the SegNet/keras_segmentation CamVid encoding: 11 classes + Unlabelled (11)
    return inferred_classes(values)


# ---------------------------------------------------------------- entry point


def open_dataset(folder: Path | str, val_fraction: float = 0.2, test_fraction: float = 0.0,
                 seed: int = 0, split_rule: str = "sequence") -> Dataset:
    """Index `folder`: layout, samples (labelled and not), classes, split and the problems found on the way.

    Images the layout puts in no split (and a layout's train images when it has no val) are drawn by
    `core.split.draw_split` with `split_rule`: "sequence" keeps runs of numbered frames together, "name" is the
    per-image hash of runs recorded before that rule existed.

    Raises DatasetError only when the folder itself is unusable (missing, not a folder, unreadable); bad files
    inside it are listed in `Dataset.problems` and the rest opens.
    """
    root = Path(folder).expanduser()
    try:  # os.stat, not Path.exists: a link into an unreadable folder is a sentence, not a PermissionError
        folder_ok = stat.S_ISDIR(os.stat(root).st_mode)
        if folder_ok:
            next(os.scandir(root), None)
    except FileNotFoundError:
        raise DatasetError(f"{root} does not exist; choose an existing folder.", root) from None
    except OSError as exc:
        raise DatasetError(f"{root} cannot be opened ({exc.strerror}); check its permissions.", root) from None
    if not folder_ok:
        raise DatasetError(f"{root} is a file, not a folder; open the folder that holds the images.", root)
    root = root.resolve()
    problems: list[Problem] = []
    found = detect_layout(root, problems)
    classes = _classes_for(root, found, problems)
    has_val = any(s == "val" for *_, s in found.pairs)
    drawn = draw_split([k for k, *_, s in found.pairs if s is None], seed, val_fraction, test_fraction, split_rule)
    if not has_val:  # the layout's train images give up their val share; its test images stay test
        drawn |= {k: "val" for k, d in draw_split([k for k, *_, s in found.pairs if s == "train"], seed,
                                                  val_fraction, 0.0, split_rule).items() if d == "val"}
    samples = [Sample(img, mask, drawn.get(key, layout_split), img.relative_to(root).as_posix())
               for key, img, mask, layout_split in found.pairs]
    samples.sort(key=lambda s: s.key)
    if not samples:
        problems.append(Problem(root, f"{root} holds no images ({', '.join(IMAGE_EXTENSIONS)}) in any layout "
                                      "seg-desktop knows; see the README for the layouts."))
    return Dataset(root, found.layout, samples, classes, problems, found.mask_dirs, found.mask_suffix,
                   _new_mask_format(samples, classes))


def _new_mask_format(samples: list[Sample], classes: ClassSet) -> MaskFormat:
    """New masks are written like the dataset's existing ones, so the user's other tools read them too.

    A few masks are looked at because an all-background mask of a 0/255 dataset reads like an index mask."""
    for path in [s.mask_path for s in samples if s.mask_path is not None][:8]:
        try:
            fmt = read_mask(path, classes)[1]
        except DatasetError:
            continue
        if fmt.kind != "index":
            return fmt
    return MaskFormat.default()
