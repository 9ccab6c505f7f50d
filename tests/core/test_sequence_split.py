"""The "sequence" split rule (core/split.py): near-duplicate frames, slices and tiles stay on one side."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seg_desktop.core.dataset import hash_split, open_dataset
from seg_desktop.core.split import block_length, draw_split, parse_key, sequence_blocks, val_order

MEMBRANE = Path(__file__).resolve().parents[3] / "shared" / "data" / "membrane"
# CamVid-like: 4 sequences x 30 frames, numbered as the real ones are (every 30th video frame, an `f` prefix...)
SEQUENCES = {"0001TP_{:06d}": range(6690, 6690 + 30 * 30, 30), "0006R0_f{:05d}": range(930, 960),
             "0016E5_{:05d}": range(7959, 7959 + 60, 2), "Seq05VD_f{:05d}": range(0, 900, 30)}
CAMVID = [pattern.format(i) for pattern, numbers in SEQUENCES.items() for i in numbers]


def _runs(split: dict[str, str], keys: list[str]) -> list[tuple[str, str]]:
    """(key, next key) pairs that are neighbours in their sequence's order."""
    return [(a, b) for a, b in zip(keys, keys[1:]) if parse_key(a)[0] == parse_key(b)[0]]


@pytest.mark.parametrize("key, group, position", [
    ("0001TP_006690", "0001TP", (6690,)), ("images/0001TP_006720.png", "images/0001TP", (6720,)),
    ("Seq05VD_f00030", "Seq05VD", (30,)), ("scan_r0_c1", "scan", (0, 1)), ("12", "", (12,)),
    ("cat", "cat", ()), ("0016E5_07959", "0016E", (5, 7959)), ("a/frame-12.tif", "a/frame", (12,))])
def test_keys_parse_into_group_and_position(key, group, position):
    assert parse_key(key) == (group, position)


def test_camvid_sequences_split_in_blocks_that_meet_train_only_at_their_edges():
    split = draw_split(CAMVID, seed=0, val_fraction=0.2)
    blocks = sequence_blocks(CAMVID, 0.2)
    block_of = {key: i for i, block in enumerate(blocks) for key in block}
    assert all(len({split[k] for k in block}) == 1 for block in blocks)  # blocks are never torn apart
    assert {len(block) for block in blocks} == {block_length(30, 120, 0.2)} == {5}
    crossings = [(a, b) for a, b in _runs(split, CAMVID) if split[a] != split[b]]
    assert crossings and all(block_of[a] != block_of[b] for a, b in crossings)  # only at block edges
    val_blocks = {block_of[k] for k in CAMVID if split[k] == "val"}
    assert len(crossings) <= 2 * len(val_blocks)
    for pattern in SEQUENCES:  # every sequence is seen on both sides
        sides = {split[k] for k in CAMVID if parse_key(k)[0] == parse_key(pattern.format(0))[0]}
        assert sides == {"train", "val"}, pattern
    n_val = list(split.values()).count("val")
    assert abs(n_val - 0.2 * len(CAMVID)) <= 5  # within one block of the fraction
    # the per-image hash puts far more val frames next to a training frame
    by_name = draw_split(CAMVID, seed=0, val_fraction=0.2, rule="name")
    assert sum(by_name[a] != by_name[b] for a, b in _runs(by_name, CAMVID)) > len(crossings)


def test_long_sequences_get_longer_blocks_and_the_fraction_holds():
    keys = [f"seq{s}/f_{i:04d}" for s in range(3) for i in range(300)]
    split = draw_split(keys, seed=5, val_fraction=0.2, test_fraction=0.1)
    assert block_length(300, 900, 0.2) == 10 and block_length(300, 300, 0.2) == 8
    assert block_length(30, 3000, 0.2) == 6 and block_length(5, 5, 0.2) == 1  # capped by the group's share
    counts = {s: list(split.values()).count(s) for s in ("train", "val", "test")}
    assert abs(counts["val"] - 180) <= 5 and abs(counts["test"] - 90) <= 5  # half a block over all groups
    held_out_blocks = sum(split[b[0]] != "train" for b in sequence_blocks(keys, 0.2))
    crossings = sum(split[a] != split[b] for a, b in _runs(split, keys))
    assert held_out_blocks >= 25 and crossings <= 2 * held_out_blocks  # a per-image hash makes ~0.46 * 897


def test_numbered_slices_split_in_blocks():
    keys = [f"{i}" for i in range(30)]
    split = draw_split(keys, seed=0, val_fraction=0.2)
    val = sorted(int(k) for k, s in split.items() if s == "val")
    assert len(val) == 6 and {v for v in val if v % 2 == 0} == {v - 1 for v in val if v % 2 == 1}  # pairs 2k, 2k+1


def test_unnumbered_names_reduce_to_the_per_image_hash():
    keys = ["cat", "dog", "bird", "images/tree", "images/house", "a_b", "fish2"]
    for seed in range(20):
        assert draw_split(keys, seed, 0.3, 0.2) == {k: hash_split(k, seed, 0.3, 0.2) for k in keys}
    assert val_order(keys, 3, 0.3) == val_order(keys, 3, 0.3, rule="name")


def test_adding_unnumbered_images_moves_nothing_but_adding_frames_may():
    before = draw_split(CAMVID + ["cat", "dog"], seed=4, val_fraction=0.2)
    after = draw_split(CAMVID + ["cat", "dog", "bird", "fish"], seed=4, val_fraction=0.2)
    assert all(after[k] == v for k, v in before.items())
    longer = draw_split(CAMVID + [f"0001TP_{i:06d}" for i in range(9000, 9000 + 30 * 30, 30)], seed=4,
                        val_fraction=0.2)  # longer blocks and other quotas: the docstring's trade-off
    assert any(longer[k] != v for k, v in before.items() if k in longer)


def test_split_is_deterministic_and_the_seed_changes_it():
    first = draw_split(CAMVID, seed=1, val_fraction=0.2)
    assert draw_split(list(reversed(CAMVID)), seed=1, val_fraction=0.2) == first  # the keys' order does not matter
    assert draw_split(CAMVID, seed=2, val_fraction=0.2) != first
    with pytest.raises(ValueError, match="split rule must be one of sequence, name"):
        draw_split(CAMVID, 0, 0.2, rule="frames")


def test_open_dataset_draws_with_the_rule_and_keeps_the_name_rule_split(tmp_path):
    for i in range(30):
        Image.fromarray(np.zeros((4, 4), np.uint8)).save(tmp_path / f"{i}.png")
    by_rule = {rule: {s.key: s.split for s in open_dataset(tmp_path, 0.2, split_rule=rule).samples}
               for rule in ("sequence", "name")}
    assert by_rule["sequence"] == {f"{k}.png": s for k, s in draw_split([str(i) for i in range(30)], 0, 0.2).items()}
    assert by_rule["name"] == {f"{i}.png": hash_split(str(i), 0, 0.2) for i in range(30)}
    assert by_rule["sequence"] == {s.key: s.split for s in open_dataset(tmp_path).samples}  # the default


@pytest.mark.skipif(not MEMBRANE.is_dir(), reason="the membrane data set is not in ../shared/data")
def test_membrane_slices_split_in_blocks():
    ds = open_dataset(MEMBRANE)
    val = sorted(int(Path(s.key).stem) for s in ds.samples if s.split == "val")
    assert len(val) == 6 and len(ds.samples) == 30
    assert all(v + 1 in val or v - 1 in val for v in val)  # no val slice alone between training slices
