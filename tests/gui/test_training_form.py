"""The training form is generated from TrainConfig's metadata: every form setting has its widget, its range and its
remembered value, and a setting added to the metadata appears in the form (and, tests/ml/test_settings.py, on the
command line) with no other edit."""

from __future__ import annotations

import pytest

pytest.importorskip("pytestqt")

from PySide6.QtCore import QSettings  # noqa: E402

from seg_desktop.gui.training import form as form_module  # noqa: E402
from seg_desktop.gui.training.form import SettingsForm  # noqa: E402
from seg_desktop.ml import config as config_module  # noqa: E402
from seg_desktop.ml.config import SETTING, TrainConfig, setting_fields  # noqa: E402
from tests.ml.test_settings import WithDropout  # noqa: E402

# The widget names the tests use (tests/helpers.py fill_training_form and the panel tests).
NAMES = {"model_combo", "size_edit", "epochs_spin", "batch_spin", "lr_spin", "filters_spin", "width_spin",
         "loss_combo", "weights_combo", "augment_check", "val_spin", "start_combo", "start_edit", "browse_button",
         "child_check"}
NAMES |= {"scale_combo", "crop_edit"}  # issue 11: native-resolution crops
NAMES |= {"policy_combo"}  # issue 16: the augmentation policy
NAMES |= {"minutes_spin"}  # issue 16 item 2: "Train for" N minutes instead of the epochs


@pytest.fixture
def settings(tmp_path):
    s = QSettings(str(tmp_path / "form.ini"), QSettings.Format.IniFormat)
    yield s
    s.sync()


def test_every_form_setting_has_its_widget_default_and_range(qtbot):
    form = SettingsForm()
    qtbot.addWidget(form)
    assert set(form.widgets) == NAMES
    config = form.config("/data")
    defaults = TrainConfig(data="/data")
    for f in setting_fields():
        assert getattr(config, f.name) == getattr(defaults, f.name), f.name  # the engine's defaults, all of them
    s = next(f.metadata[SETTING] for f in setting_fields() if f.name == "val_split")
    assert (form.widgets["val_spin"].minimum(), form.widgets["val_spin"].maximum()) == (s.low, s.form_high)
    assert form.widgets["augment_check"].toolTip().startswith("Random flips")


def test_when_rules_enable_the_model_specific_widgets(qtbot):
    form = SettingsForm()
    qtbot.addWidget(form)
    combo = form.widgets["model_combo"]
    combo.setCurrentIndex(combo.findData("segnet"))
    assert form.widgets["width_spin"].isEnabled() and not form.widgets["filters_spin"].isEnabled()
    combo.setCurrentIndex(combo.findData("unet"))
    assert form.widgets["filters_spin"].isEnabled() and not form.widgets["width_spin"].isEnabled()
    form.set_training(True)
    assert not any(w.isEnabled() for w in form.widgets.values())


def test_a_setting_added_to_the_metadata_appears_in_the_form_and_is_remembered(qtbot, monkeypatch, settings):
    monkeypatch.setattr(config_module, "TrainConfig", WithDropout)
    monkeypatch.setattr(form_module, "TrainConfig", WithDropout)
    form = SettingsForm()
    qtbot.addWidget(form)
    spin = form.widgets["dropout_spin"]
    assert (spin.minimum(), spin.maximum(), spin.value()) == (0.0, 0.9, 0.0)
    spin.setValue(0.25)
    config = form.config("/data")
    assert isinstance(config, WithDropout) and config.dropout == 0.25
    form.save(settings)
    again = SettingsForm()
    qtbot.addWidget(again)
    again.load(settings)
    assert again.widgets["dropout_spin"].value() == 0.25 and again.config("/data").dropout == 0.25


def test_wrong_remembered_values_are_ignored(qtbot, settings):
    settings.setValue("epochs", "many")
    settings.setValue("model", "fcn")
    settings.setValue("lr", "0.0005")
    form = SettingsForm()
    qtbot.addWidget(form)
    form.load(settings)
    config = form.config("/data")
    assert (config.epochs, config.model, config.lr) == (40, "unet", 0.0005)


def test_train_for_minutes_shows_which_rules_and_is_remembered(qtbot, settings):
    from seg_desktop.ml.config import BUDGET_EPOCHS

    form = SettingsForm()
    qtbot.addWidget(form)
    minutes, epochs = form.widgets["minutes_spin"], form.widgets["epochs_spin"]
    assert minutes.text() == "epochs" and epochs.isEnabled()  # 0: the epochs rule, as before
    assert form.config("/data").minutes == 0 and form.config("/data").epochs == 40
    minutes.setValue(30)
    assert minutes.text() == "30.0 min" and not epochs.isEnabled()  # a budget: the epoch count does not apply
    config = form.config("/data")
    assert (config.minutes, config.epochs) == (30, BUDGET_EPOCHS)
    form.save(settings)
    again = SettingsForm()
    qtbot.addWidget(again)
    again.load(settings)
    assert again.widgets["minutes_spin"].value() == 30 and not again.widgets["epochs_spin"].isEnabled()
