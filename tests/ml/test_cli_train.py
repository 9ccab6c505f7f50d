"""`seg-desktop train`: exit 0 with one progress line per epoch and the run folder; exit 1 with one sentence."""

import shutil

import pytest

from seg_desktop.cli import main
from seg_desktop.core.sample_data import make_sample_dataset


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return make_sample_dataset(tmp_path_factory.mktemp("s"), n=8, size=32)


def test_train_prints_progress_and_the_run_folder(data, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["train", str(data), "--model", "unet", "--epochs", "2", "--size", "32", "--batch", "8",
                 "--base-filters", "4", "--loss", "ce", "--no-augment", "--out", str(out)])
    stdout = capsys.readouterr().out.strip().splitlines()
    assert code == 0
    assert [line.split()[:2] for line in stdout if line.startswith("epoch")] == [["epoch", "1/2"], ["epoch", "2/2"]]
    assert "val_mIoU" in stdout[-2] and stdout[-1].endswith(str(out))
    assert (out / "best.keras").is_file()


@pytest.mark.parametrize("args, words", [
    (["/nonexistent/folder"], "does not exist"),
    (["DATA", "--size", "12x"], "is not N or HxW"),
    (["DATA", "--lr", "-1"], "learning rate must be positive"),
    (["NOMASKS"], "no labelled training images"),
])
def test_bad_input_exits_1_with_one_sentence(data, tmp_path, capsys, args, words):
    nomasks = tmp_path / "nomasks"
    shutil.copytree(data, nomasks)
    shutil.rmtree(nomasks / "masks")
    args = [str(data) if a == "DATA" else str(nomasks) if a == "NOMASKS" else a for a in args]
    code = main(["train", *args, "--model", "unet", "--epochs", "1", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1 and len(err) == 1 and words in err[0] and err[0].startswith("seg-desktop: ")


@pytest.mark.parametrize("args, words", [
    (["train", "DATA"], "required: --model"),
    (["train", "DATA", "--model", "fcn"], "invalid choice: 'fcn'"),
    (["train", "DATA", "--model", "unet", "--epochs", "ten"], "invalid int value: 'ten'"),
    (["predict", "RUN", "DATA"], "required: --out"),
    (["evaluate", "RUN", "DATA", "--split", "training"], "invalid choice: 'training'"),
])
def test_a_wrong_option_is_one_sentence_and_exit_1(data, capsys, args, words):
    with pytest.raises(SystemExit) as exit_:
        main([str(data) if a == "DATA" else a for a in args])
    err = capsys.readouterr().err.strip().splitlines()
    assert exit_.value.code == 1 and len(err) == 1 and words in err[0] and err[0].startswith("seg-desktop ")
