"""Any file name a file system allows opens, trains, predicts and prints safely (issue 10, item 5).

Names tried: bytes that are not UTF-8 (Python sees surrogate escapes), the NFC and NFD forms of one name, a
255-byte name (the most one path component holds, so every name derived from it is too long), a leading dash
and a newline, in a dataset folder whose own name is not UTF-8. Found before the fix: UnicodeEncodeError in the
split hash (opening and training), in the autosave file name and in printing; ENAMETOOLONG tracebacks for
predictions and temporary files derived from a long name and for a path component over 255 bytes; a newline
in a name splitting a one-line message.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from seg_desktop.cli import main
from seg_desktop.core.autosave import list_autosaves, read_autosave, write_autosave
from seg_desktop.core.dataset import hash_split, open_dataset, split_hash
from seg_desktop.core.errors import DatasetError
from seg_desktop.core.maskio import MaskFormat, read_mask, write_mask
from seg_desktop.core.paths import NAME_MAX, display_path, fit_name
from tests.helpers import make_untrained_run, snapshot

NFC = unicodedata.normalize("NFC", "café").encode()
NFD = unicodedata.normalize("NFD", "café").encode()
NAMES = {  # file stem (bytes) of each image and its mask
    "latin1": b"caf\xe9",
    "nfc": NFC,
    "nfd": NFD,
    "long": b"L" * (NAME_MAX - len(b".png")),
    "dash": b"-rf",
    "newline": b"new\nline",
    "plain": b"plain",
}


def _name(raw: bytes) -> str:
    return os.fsdecode(raw)


def make_dataset(parent: Path) -> Path:
    """images/ + masks/ under a folder named b'd\\xe9ta'; mask i has 4*(i+1) columns of class 1, so a mask
    paired with the wrong image is seen."""
    root = Path(_name(os.fsencode(parent) + b"/d\xe9ta"))
    for sub in ("images", "masks"):
        (root / sub).mkdir(parents=True)
    for i, raw in enumerate(NAMES.values()):
        Image.fromarray(np.full((32, 32, 3), 30 * i, np.uint8)).save(root / "images" / f"{_name(raw)}.png")
        mask = np.zeros((32, 32), np.uint8)
        mask[:, :4 * (i + 1)] = 1
        Image.fromarray(mask).save(root / "masks" / f"{_name(raw)}.png")
    return root


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return make_dataset(tmp_path_factory.mktemp("names"))


@pytest.fixture(scope="module")
def run(data, tmp_path_factory) -> Path:
    return make_untrained_run(tmp_path_factory.mktemp("run") / "r", open_dataset(data))


def test_split_hash_is_unchanged_for_utf8_names_and_defined_for_any_name():
    for key in ("images/a.png", "images/café.png", "sub/日本.tif", "images/-rf.png"):
        assert split_hash(key, 7) == zlib.crc32(f"7/{key}".encode("utf-8")) / 2**32  # existing splits stay
    for key in ("images/caf\udce9.png", "images/new\nline.png", "images/\ud800.png"):  # was UnicodeEncodeError
        assert 0.0 <= split_hash(key, 7) < 1.0 and hash_split(key, 7, 0.5) in ("train", "val")
    assert split_hash("images/caf\udce9.png", 7) != split_hash("images/caf\udce8.png", 7)


def test_open_dataset_pairs_and_reads_every_kind_of_name(data):
    before = snapshot(data)
    ds = open_dataset(data)
    assert ds.problems == []
    by_name = {os.fsencode(s.image_path.stem): s for s in ds.samples}
    assert set(by_name) == set(NAMES.values())
    for i, raw in enumerate(NAMES.values()):
        sample = by_name[raw]
        assert sample.key == f"images/{_name(raw)}.png" and sample.labelled
        assert ds.read_image(sample)[0, 0, 0] == 30 * i
        assert int(ds.read_mask(sample).sum()) == 32 * 4 * (i + 1)  # its own mask, not another's
    assert snapshot(data) == before


def test_nfc_and_nfd_forms_of_one_name_stay_two_images(data):
    """On Linux the two forms are two files: both open, each with its own mask; neither shadows the other."""
    keys = {s.key for s in open_dataset(data).samples}
    assert {f"images/{_name(NFC)}.png", f"images/{_name(NFD)}.png"} <= keys
    assert unicodedata.normalize("NFC", _name(NFD)) == _name(NFC)


def test_autosave_of_any_name_round_trips(tmp_path):
    mask = np.arange(64, dtype=np.uint8).reshape(8, 8)
    keys = [f"images/{_name(raw)}.png" for raw in NAMES.values()]
    for key in keys:  # the stem hashes the name's bytes: was UnicodeEncodeError
        write_autosave(tmp_path, key, mask)
    found = {entry.key: entry for entry in list_autosaves(tmp_path)}
    assert sorted(found) == sorted(keys)
    assert all(np.array_equal(read_autosave(found[key]), mask) for key in keys)
    utf8 = "images/café.png"  # an existing autosave of a UTF-8 name keeps its file name
    assert write_autosave(tmp_path, utf8, mask).path.stem == hashlib.sha1(utf8.encode("utf-8")).hexdigest()[:20]


def test_messages_naming_such_files_are_one_printable_line(tmp_path):
    root = Path(_name(os.fsencode(tmp_path) + b"/d\xe9ta"))
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    bad = root / "images" / _name(b"bad\xff\nname.png")
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(DatasetError) as caught:
        read_mask(bad)
    message = str(caught.value)
    assert message.isprintable() and "images/bad\\xff\\nname.png is not a readable image" in message
    assert "d\\xe9ta" in message and caught.value.path == bad  # the path itself stays exact for the program
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / "masks" / _name(b"lone\x1b[2J\n.png"))
    (reason,) = [p.reason for p in open_dataset(root).problems if "lone" in p.reason]
    assert reason.isprintable() and "masks/lone\\x1b[2J\\n.png is a mask without an image" in reason


def test_display_path_escapes_only_what_a_terminal_cannot_show():
    assert display_path(b"/d/caf\xe9.png") == "/d/caf\\xe9.png"
    assert display_path(_name(b"/d/caf\xe9.png")) == "/d/caf\\xe9.png"
    assert display_path(Path("new\nline\ttab\r.png")) == "new\\nline\\ttab\\r.png"
    assert display_path("evil\u202egnp.exe") == "evil\\u202egnp.exe"  # a bidi override cannot hide the suffix
    for kept in ("café.png", unicodedata.normalize("NFD", "café.png"), "日本 語.png", "-rf", "a\\b.png"):
        assert display_path(kept) == kept


def test_fit_name_shortens_long_names_uniquely_at_a_character_boundary():
    assert fit_name("plain", reserve=12) == "plain"
    assert fit_name("L" * 243, reserve=12) == "L" * 243  # 255 bytes with the suffix: unchanged
    long_a, long_b = "é" * 200 + "a", "é" * 200 + "b"  # 401 bytes each, the same first 254
    fitted = [fit_name(n, reserve=12) for n in (long_a, long_b, _name(b"\xff" * 300))]
    assert len(set(fitted)) == 3 and fitted[0] == fit_name(long_a, reserve=12)
    for name in fitted:
        raw = os.fsencode(name)
        assert len(raw) + 12 <= NAME_MAX
    assert fitted[0].encode("utf-8").decode("utf-8") == fitted[0]  # no character cut in half


def test_saving_a_mask_with_a_255_byte_name_keeps_its_original(tmp_path):
    """Found: the temporary files `.NAME.XXXXXXXX.tmp` and `.NAME.tmp` exceed 255 bytes (ENAMETOOLONG)."""
    root = make_dataset(tmp_path)
    path = root / "masks" / f"{_name(NAMES['long'])}.png"
    original = path.read_bytes()
    images = snapshot(root / "images")
    edited = np.ones((32, 32), np.uint8)
    write_mask(path, edited, MaskFormat("index"), None, backup_root=root)
    assert np.array_equal(read_mask(path)[0], edited)
    assert (root / ".seg-desktop" / "originals" / "masks" / path.name).read_bytes() == original
    assert sorted(os.listdir(root / "masks")) == sorted(f"{_name(raw)}.png" for raw in NAMES.values())
    assert snapshot(root / "images") == images


def test_cli_predict_writes_and_prints_every_kind_of_name(data, run, tmp_path, capsys):
    """Found: ENAMETOOLONG traceback for `<255-byte stem>_entropy.png`; UnicodeEncodeError printing the output
    folder's name on a UTF-8 stdout."""
    before = snapshot(data)
    out = Path(_name(os.fsencode(tmp_path) + b"/pr\xe9d"))
    capsys.readouterr()
    assert main(["predict", str(run), str(data), "--out", str(out), "--probabilities"]) == 0
    printed = capsys.readouterr()
    assert printed.err == "" and printed.out == f"wrote {len(NAMES)} index masks to {display_path(out)}\n"
    written = os.listdir(os.fsencode(out))
    assert all(len(name) <= NAME_MAX for name in written)
    masks = [name for name in written if name.endswith(b".png") and not name.endswith(b"_entropy.png")]
    assert len(masks) == len(NAMES) and len([n for n in written if n.endswith(b"_probs.npy")]) == len(NAMES)
    short = {name[:-4] for name in masks}
    assert {NAMES[k] for k in ("latin1", "dash", "newline", "plain")} <= short  # their own names
    # NFC and NFD are one name on macOS, so the second gets a number rather than replacing the first there
    (kept,) = short & {NFC, NFD}
    long_stem, numbered = sorted(short - set(NAMES.values()))
    assert numbered == ({NFC, NFD} - {kept}).pop() + b"-2"
    assert long_stem.startswith(b"L" * 200) and b"~" in long_stem  # shortened with a hash
    assert snapshot(data) == before


def test_cli_warning_about_a_damaged_undecodable_file_is_one_line(data, run, tmp_path, capsys):
    """Found: printing the warning that names b'bad\\xff\\n.png' raised UnicodeEncodeError (a traceback, and no
    summary), and its newline split the one-line message."""
    folder = make_dataset(tmp_path)
    (folder / "images" / _name(b"bad\xff\n.png")).write_bytes(b"\x89PNG\r\n\x1a\n damaged")
    capsys.readouterr()
    assert main(["predict", str(run), str(folder), "--out", str(tmp_path / "out")]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 2 and "images/bad\\xff\\n.png is not a readable image" in lines[0]
    assert lines[1].startswith(f"seg-desktop: 1 file(s) could not be used (named above) and the masks of the "
                               f"other {len(NAMES)} images were written")


def test_cli_path_component_over_255_bytes_is_one_sentence(run, tmp_path, capsys):
    """Found: OSError [Errno 36] File name too long, as a traceback, from the folder check."""
    too_long = tmp_path / ("d" * (NAME_MAX + 1))
    capsys.readouterr()
    assert main(["predict", str(run), str(too_long), "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "cannot be looked up (File name too long); pass the dataset folder" in err
    assert not (tmp_path / "out").exists()


def test_cli_dataset_folder_with_a_leading_dash_after_double_dash(data, run, tmp_path, capsys, monkeypatch):
    """A folder named '-data' is an option to argparse unless given after '--' (or as ./-data)."""
    monkeypatch.chdir(tmp_path)
    os.symlink(data, "-data")
    assert main(["predict", str(run), "--out", "pred", "--", "-data"]) == 0
    assert len([p for p in os.listdir(b"pred") if p.endswith(b".png")]) == len(NAMES)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exited:  # argparse's exit, with one sentence, not a traceback
        main(["predict", str(run), "-data", "--out", "pred2"])
    assert exited.value.code == 1 and not os.path.exists("pred2")
    assert capsys.readouterr().err.count("\n") == 1


def test_training_one_epoch_on_every_kind_of_name(data, tmp_path):
    """Found: UnicodeEncodeError from the split hash when the folder is opened and when val is drawn."""
    from seg_desktop.ml.config import TrainConfig
    from seg_desktop.ml.runs import read_history
    from seg_desktop.ml.train import train

    before = snapshot(data / "images", data / "masks")
    config = TrainConfig(data=str(data), out=str(tmp_path / "run"), model="unet", epochs=1, size=(32, 32),
                         batch=4, base_filters=4, min_epoch_images=0, seed=0, augment=False)
    done = train(config)
    assert [row["epoch"] for row in read_history(done.folder)] == [1]
    assert snapshot(data / "images", data / "masks") == before
