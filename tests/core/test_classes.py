import numpy as np
import pytest

from seg_desktop.core.classes import (ClassInfo, ClassSet, camvid_classes, inferred_classes, read_class_dict,
                                      read_class_file, read_classes_csv, read_labelmap, voc_classes, voc_palette,
                                      write_classes_csv)
from seg_desktop.core.errors import DatasetError


def test_classes_csv_roundtrip(tmp_path):
    cs = ClassSet([ClassInfo(0, "background", (0, 0, 0)), ClassInfo(1, "cell", (255, 0, 0)),
                   ClassInfo(2, "void", (9, 9, 9))], ignore_index=2)
    write_classes_csv(tmp_path / "classes.csv", cs)
    back = read_classes_csv(tmp_path / "classes.csv")
    assert back.names == ["background", "cell"] and back.ignore_index == 2 and back.num_classes == 2
    assert back.color_of(1) == (255, 0, 0)


def test_class_dict_camvid_style(tmp_path):
    (tmp_path / "class_dict.csv").write_text("name,r,g,b\nSky,128,128,128\nRoad,128,64,128\nUnlabelled,0,0,0\n")
    cs = read_class_file(tmp_path / "class_dict.csv")
    assert cs.names == ["Sky", "Road"] and cs.ignore_index == 2 and cs.color_to_index()[(128, 64, 128)] == 1


def test_class_dict_bad_row_names_line(tmp_path):
    (tmp_path / "class_dict.csv").write_text("name,r,g,b\nSky,128,128\n")
    with pytest.raises(DatasetError, match="line 2"):
        read_class_dict(tmp_path / "class_dict.csv")
    (tmp_path / "class_dict.csv").write_text("name,r,g,b\nSky,300,1,1\n")
    with pytest.raises(DatasetError, match="0-255"):
        read_class_dict(tmp_path / "class_dict.csv")


def test_labelmap(tmp_path):
    (tmp_path / "labelmap.txt").write_text("# label:color_rgb:parts:actions\nbackground:0,0,0::\ncar:64,0,128::\n")
    cs = read_labelmap(tmp_path / "labelmap.txt")
    assert cs.names == ["background", "car"] and cs.color_of(1) == (64, 0, 128)


def test_voc_and_camvid_palettes():
    pal = voc_palette()
    assert tuple(pal[1]) == (128, 0, 0) and tuple(pal[15]) == (192, 128, 128)
    voc = voc_classes()
    assert voc.num_classes == 21 and voc.ignore_index == 255
    cam = camvid_classes()
    assert cam.names[0] == "Sky" and cam.color_of(3) == (128, 64, 128) and cam.num_classes == 11


def test_inferred():
    assert inferred_classes({0, 255}).names == ["background", "foreground"]
    cs = inferred_classes({0, 1, 3, 255})
    assert cs.num_classes == 4 and cs.ignore_index == 255
    colours = inferred_classes(set(), {(255, 0, 0), (0, 0, 0)})
    assert colours.color_of(0) == (0, 0, 0) and colours.num_classes == 2


def test_lut_colours_every_value():
    lut = camvid_classes().lut()
    assert lut.shape == (256, 3) and lut.dtype == np.uint8 and tuple(lut[0]) == (128, 128, 128)
