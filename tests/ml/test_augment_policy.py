"""Augmentation that respects the data (issue 16): the "scene" policy keeps images upright, "top-down" turns and
mirrors them every way, image and mask stay aligned, and "auto" is decided from the training masks before training
and recorded resolved in config.json (an old config without the field means what runs did then: top-down)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from seg_desktop import cli
from seg_desktop.commands.train import train_config
from seg_desktop.ml.config import TrainConfig, setting_of
from seg_desktop.ml.config_file import load_config
from seg_desktop.ml.data import Arrays, augmenter, choose_policy
from seg_desktop.ml.listener import TrainListener
from seg_desktop.ml.train import train
from tests.core.test_gravity import blob_masks, street_masks

N_DRAWS = 12  # batches of 8 per check: 96 draws, so a 1/2 (flip) or 1/4 (quarter turn) event surely shows


def band_arrays(size: tuple[int, int] = (32, 32), n: int = 8) -> Arrays:
    """Class 1 only in the top 6 rows, 0 below; the image bright where the class is."""
    masks = np.zeros((n, *size), np.uint8)
    masks[:, :6] = 1
    images = np.where(masks[..., None] == 1, 230, 25).astype(np.uint8).repeat(3, axis=-1)
    return Arrays(images, masks, [f"k{i}" for i in range(n)])


def band_shapes(policy: str, size: tuple[int, int] = (32, 32)) -> list[tuple[float, float, bool]]:
    """For every augmented draw of `band_arrays`: (mean row of class 1 as a fraction of the height, the same for
    the column, whether the band runs top to bottom (taller than wide))."""
    arrays = band_arrays(size)
    augment = augmenter(None, seed=7, policy=policy)
    shapes = []
    for _ in range(N_DRAWS):
        _, masks = augment(arrays.images.astype(np.float32) / 255, arrays.masks.astype(np.int32))
        for mask in masks.numpy():
            rows, cols = np.nonzero(mask == 1)
            assert len(rows), "the band never leaves the image"
            shapes.append((rows.mean() / size[0], cols.mean() / size[1], np.ptp(rows) > np.ptp(cols)))
    return shapes


def test_the_scene_policy_never_flips_or_turns_an_image():
    shapes = band_shapes("scene")
    assert all(row < 0.5 and not upright for row, _, upright in shapes)  # the sky stays on top


def test_the_top_down_policy_flips_vertically_and_turns_by_quarter_turns():
    shapes = band_shapes("top-down")
    flipped = sum(row > 0.5 and not upright for row, _, upright in shapes)
    turned = [col for _, col, upright in shapes if upright]
    assert flipped >= 10  # the band at the bottom: flipped upside down (or turned by 180 degrees)
    assert sum(col < 0.5 for col in turned) >= 10 and sum(col > 0.5 for col in turned) >= 10  # both quarter turns
    assert not any(0.3 < row < 0.7 and not upright for row, _, upright in shapes)  # only whole turns (+-15 deg)


def test_a_non_square_size_is_turned_by_half_turns_only():
    shapes = band_shapes("top-down", (32, 48))
    assert not any(upright for *_, upright in shapes)  # a quarter turn would change the shape
    assert sum(row > 0.5 for row, _, _ in shapes) >= 10  # the flips still turn it upside down


@pytest.mark.parametrize("policy", ["scene", "top-down"])
@pytest.mark.parametrize("ignore", [None, 255])
def test_image_and_mask_stay_aligned(policy, ignore):
    """The image's grey level encodes the label (0.2, 0.5, 0.8): after augmentation every labelled pixel must be
    nearest to its own class's level in that image (brightness and contrast move all levels alike), apart from
    the one-pixel seams where the image was interpolated and the mask not."""
    masks = np.stack(blob_masks(8, 32))
    masks[:, 2:10, 20:30] = 2  # an asymmetric patch, so a wrong flip or transpose shows
    images = (np.array([0.2, 0.5, 0.8], np.float32)[masks][..., None].repeat(3, axis=-1))
    augment = augmenter(ignore, seed=3, policy=policy)
    for _ in range(4):
        out_images, out_masks = augment(images, masks.astype(np.int32))
        out_images, out_masks = out_images.numpy().mean(-1), out_masks.numpy()
        assert set(np.unique(out_masks)) <= {0, 1, 2} | ({ignore} if ignore is not None else set())
        for image, mask in zip(out_images, out_masks):
            labelled = mask != (255 if ignore is not None else -1)
            levels = np.array([np.median(image[labelled & (mask == k)]) if (labelled & (mask == k)).any()
                               else np.inf for k in range(3)])
            nearest = np.abs(image[..., None] - levels).argmin(-1)
            assert (nearest == mask)[labelled].mean() > 0.9


def test_auto_resolves_from_the_training_masks():
    street = Arrays(np.zeros((12, 48, 48, 3), np.uint8), np.stack(street_masks()), [str(i) for i in range(12)])
    blobs = Arrays(np.zeros((12, 48, 48, 3), np.uint8), np.stack(blob_masks()), [str(i) for i in range(12)])
    config, line = choose_policy(TrainConfig(data="d"), street)
    assert config.augment_policy == "scene" and line.startswith("augmentation: scene (top and bottom")
    config, line = choose_policy(TrainConfig(data="d"), blobs)
    assert config.augment_policy == "top-down" and line.startswith("augmentation: top-down")
    config, line = choose_policy(TrainConfig(data="d", augment_policy="top-down"), street)  # asked: kept
    assert config.augment_policy == "top-down" and line == "augmentation: top-down (as asked)"
    config, line = choose_policy(TrainConfig(data="d", augment=False), street)  # still recorded resolved
    assert config.augment_policy == "scene" and line == "augmentation: off"


def write_street_dataset(root, n: int = 8, size: int = 32):
    for folder in ("images", "masks"):
        (root / folder).mkdir(parents=True)
    for i, mask in enumerate(street_masks(n, size)):
        image = np.array([[0, 0, 0], [200, 220, 255], [150, 80, 60], [90, 90, 90]], np.uint8)[mask]
        Image.fromarray(image, "RGB").save(root / "images" / f"{i}.png")
        Image.fromarray(mask, "L").save(root / "masks" / f"{i}.png")
    return root


class Begin(TrainListener):
    def on_train_begin(self, info: dict) -> None:
        self.info = info


def test_a_run_records_the_resolved_policy_and_says_it(tmp_path):
    data = write_street_dataset(tmp_path / "street")
    listener = Begin()
    run = train(TrainConfig(data=str(data), model="unet", epochs=1, size=(32, 32), batch=4, base_filters=4,
                            min_epoch_images=0, out=str(tmp_path / "run")), listener)
    recorded = json.loads((run.folder / "config.json").read_text())
    assert recorded["augment_policy"] == "scene" and load_config(run.folder / "config.json").augment_policy == "scene"
    assert "augmentation: scene (top and bottom of the masks differ: gravity" in listener.info["input"]


def test_an_old_config_without_the_field_loads_as_top_down(tmp_path):
    data = json.loads(TrainConfig(data="d", augment_policy="scene").to_json())
    del data["augment_policy"]
    (tmp_path / "config.json").write_text(json.dumps(data))
    assert load_config(tmp_path / "config.json").augment_policy == "top-down"


def test_the_setting_is_on_the_command_line_and_in_the_form():
    args = cli._parser().parse_args(["train", "D", "--model", "unet", "--augment-policy", "scene"])
    assert train_config(args).augment_policy == "scene"
    assert train_config(cli._parser().parse_args(["train", "D", "--model", "unet"])).augment_policy == "auto"
    with pytest.raises(SystemExit):
        cli._parser().parse_args(["train", "D", "--model", "unet", "--augment-policy", "upside-down"])
    setting = setting_of("augment_policy")
    assert setting.form and setting.short == "policy" and setting.values == ("auto", "scene", "top-down")
