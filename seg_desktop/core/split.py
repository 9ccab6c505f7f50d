"""Draw a dataset's train/val/test split when its layout defines none.

Two rules (a run records which one it drew with, TrainConfig.split_rule):

- "name": every image on its own, by a seeded hash of its name (`hash_split`). Adding images never moves existing
  ones, but neighbouring video frames (`0001TP_006690`, `0001TP_006720`), slices of one volume (`0.png`..`29.png`)
  and tiles of one image (`scan_r0_c1`) land on both sides, so val scores near-duplicates of training images and
  flatters, the kind of gap issue 16 measured on held-out street scenes (val 0.577 mean IoU, test 0.440).
- "sequence" (the default since then): names that differ only in trailing numbers form a group ordered by those
  numbers, each group is cut into blocks of consecutive images, and whole blocks go to val. Frames then meet
  frames of the other side only at block edges, while every long sequence is still seen on both sides.

The trade-off: "sequence" gives up "adding images never moves existing ones". A block's length and the val
quota depend on how many images a group has (and the block length on all grouped images), so adding frames to
a sequence, or a new sequence, can move existing frames between train and val; adding unnumbered names moves
nothing. A run's split is still exactly
reproducible, because it is drawn from the folder's contents and the run's recorded seed, fraction and rule:
`evaluate` scores the images the run validated on as long as the folder has not changed. Names without
numbering (`cat.png`, `dog.png`), and any name alone in its group, keep the old per-image hash, so a folder of
unrelated photos splits exactly as before.
"""

from __future__ import annotations

import hashlib
import math
import re
import zlib
from collections.abc import Sequence

from .imageio import IMAGE_EXTENSIONS
from .paths import name_bytes

SPLIT_RULES = ("sequence", "name")
MAX_BLOCK = 10  # frames; see block_length
# One trailing numbering token: `_006690`, `_f00030`, `-r0`, `.12`, ` 3` (a separator, up to two letters, digits)
# or bare digits (`frame12`, `12`, the `5` of `0016E5`). Letters need a separator so that `0016E5` keeps its
# `E`, and `0016E5_07959` is group `0016E`, not the `0016` another sequence's name could reduce to.
_TOKEN = re.compile(r"(?:[_\-. ][A-Za-z]{0,2})?(\d+)$")


def split_hash(key: str, seed: int) -> float:
    """Where `key` falls in [0, 1) for `seed`: any name a file system allows hashes (see `paths.name_bytes`), and
    UTF-8 names hash exactly as they always did, so existing splits never move."""
    return zlib.crc32(name_bytes(f"{seed}/{key}")) / 2**32


def hash_split(key: str, seed: int, val_fraction: float, test_fraction: float = 0.0) -> str:
    """The "name" rule: a split drawn from a hash of the name; deterministic, and adding images never moves
    existing ones."""
    u = split_hash(key, seed)
    if u < val_fraction:
        return "val"
    if u < val_fraction + test_fraction:
        return "test"
    return "train"


def _block_hash(key: str, seed: int) -> tuple[float, str]:
    """The order in which blocks and groups are taken: a seeded BLAKE2 hash, not `split_hash`'s CRC-32, whose
    orders for two seeds differ only by a fixed XOR (30 membrane slices drew the same val slices for seeds 1
    and 2); the key breaks ties."""
    digest = hashlib.blake2b(name_bytes(f"{seed}/{key}"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64, key


def parse_key(key: str) -> tuple[str, tuple[int, ...]]:
    """(group, position) of a dataset key such as `images/0001TP_006690.png` or `0001TP_006690`: the group is the
    folder plus the name without its trailing numbering tokens, the position those numbers in order
    (`0001TP_006690` -> (`0001TP`, (6690,)), `Seq05VD_f00030` -> (`Seq05VD`, (30,)), `scan_r0_c1` -> (`scan`,
    (0, 1)), `12` -> (``, (12,)), `cat` -> (`cat`, ())). An image extension, when present, is not part of it."""
    folder, _, name = key.rpartition("/")
    stem, dot, ext = name.rpartition(".")
    if dot and stem and f".{ext.lower()}" in IMAGE_EXTENSIONS:
        name = stem
    numbers: list[int] = []
    while (match := _TOKEN.search(name)) is not None:
        numbers.append(int(match.group(1)))
        name = name[:match.start()]
    return (f"{folder}/{name}" if folder else name), tuple(reversed(numbers))


def block_length(group: int, grouped: int, fraction: float) -> int:
    """Frames per block for a group of `group` frames when `grouped` frames (all groups of two or more) are held
    out at `fraction`: round(sqrt(grouped * fraction)), at most the group's own held-out share (so whole blocks can
    meet its quota and every sequence is seen on both sides) and at most MAX_BLOCK, at least 1.

    Longer blocks leak less (a block has two edge frames, so about 2/L of the val frames have a training
    neighbour) but give val fewer independent stretches (grouped * fraction / L of them), i.e. a noisier score.
    The square root makes the two equal, val gets as many blocks as a block has frames: CamVid-like 4 x 30
    frames at 0.2 give 5 val blocks of 5 (8 train/val neighbours, where a per-image hash makes 40: means over
    200 seeds), a single 30-slice volume 3 val blocks of 2, 700 frames blocks of 10. MAX_BLOCK caps it where
    consecutive frames stop being near-duplicates (10 frames is 10 s of CamVid's 1 fps labels).
    """
    length = round(math.sqrt(max(0.0, grouped * fraction)))
    return int(max(1, min(MAX_BLOCK, length, math.floor(group * fraction))))


def _groups(keys: Sequence[str]) -> dict[str, list[str]]:
    """Keys by group, each group in position order (the key breaks ties: `f_1` and `f_01`)."""
    parsed: dict[str, list[tuple[tuple[int, ...], str]]] = {}
    for key in keys:
        group, position = parse_key(key)
        parsed.setdefault(group, []).append((position, key))
    return {group: [key for _, key in sorted(members)] for group, members in parsed.items()}


def _cut(members: list[str], length: int) -> list[list[str]]:
    """`members` in consecutive blocks of `length` or one less (the sizes spread evenly, not a short last one)."""
    count = math.ceil(len(members) / length)
    size, extra = divmod(len(members), count)
    blocks, start = [], 0
    for i in range(count):
        end = start + size + (i < extra)
        blocks.append(members[start:end])
        start = end
    return blocks


def _blocks(groups: dict[str, list[str]], fraction: float) -> dict[str, list[list[str]]]:
    grouped = sum(len(members) for members in groups.values() if len(members) > 1)
    return {group: _cut(members, block_length(len(members), grouped, fraction)) for group, members in groups.items()}


def sequence_blocks(keys: Sequence[str], fraction: float) -> list[list[str]]:
    """The blocks of the "sequence" rule: each group cut into consecutive blocks of `block_length` (tiles in row
    order, so a block is a run of neighbouring tiles along a row, whole rows when rows are short)."""
    return [block for blocks in _blocks(_groups(keys), fraction).values() for block in blocks]


def draw_split(keys: Sequence[str], seed: int, val_fraction: float, test_fraction: float = 0.0,
               rule: str = "sequence") -> dict[str, str]:
    """"train", "val" or "test" for every key, deterministic for (keys, seed, fractions, rule).

    "sequence": a key alone in its group is drawn by `hash_split`, exactly as "name" draws it. Each larger group
    takes whole blocks, in the order of a seeded hash of their first key, to val until its quota
    (val_fraction x its size) is met as closely as whole blocks allow, then likewise to test; at least one block
    stays in train. What a group misses or overshoots is carried to the next group (groups in seeded hash order),
    so over all grouped images the val and test counts are within half a block of the fractions.
    """
    if rule not in SPLIT_RULES:
        raise ValueError(f"split rule must be one of {', '.join(SPLIT_RULES)}, not {rule!r}.")
    if rule == "name":
        return {key: hash_split(key, seed, val_fraction, test_fraction) for key in keys}
    drawn: dict[str, str] = {}
    carry = {"val": 0.0, "test": 0.0}
    groups = _groups(keys)
    blocks = _blocks(groups, max(val_fraction, test_fraction))
    for group in sorted(groups, key=lambda g: _block_hash(g, seed)):
        members = groups[group]
        if len(members) == 1:
            drawn[members[0]] = hash_split(members[0], seed, val_fraction, test_fraction)
            continue
        left = sorted(blocks[group], key=lambda b: _block_hash(b[0], seed))
        for split, fraction in (("val", val_fraction), ("test", test_fraction)):
            target = fraction * len(members) + carry[split]
            taken, kept = 0, []
            for i, block in enumerate(left):
                keeps_train = len(kept) + len(left) - i > 1  # some block stays after this one
                if taken + len(block) / 2 <= target and keeps_train:
                    drawn.update(dict.fromkeys(block, split))
                    taken += len(block)
                else:
                    kept.append(block)
            carry[split] = target - taken
            left = kept
        for block in left:
            drawn.update(dict.fromkeys(block, "train"))
    return drawn


def val_order(keys: Sequence[str], seed: int, fraction: float, rule: str = "sequence") -> list[list[str]]:
    """The rule's blocks of `keys` in the order they go to val, ranked as `draw_split` ranks them: single images
    by `split_hash` ("name", and a name alone in its group), blocks by their seeded hash. For moving a few images
    to val when a tiny dataset drew none."""
    if rule == "name":
        return sorted([[key] for key in keys], key=lambda b: (split_hash(b[0], seed), b[0]))
    ranked = []
    for blocks in _blocks(_groups(keys), fraction).values():
        if len(blocks) == 1 and len(blocks[0]) == 1:  # a name alone in its group
            ranked.append(((split_hash(blocks[0][0], seed), blocks[0][0]), blocks[0]))
        else:
            ranked += [(_block_hash(block[0], seed), block) for block in blocks]
    return [block for _, block in sorted(ranked)]
