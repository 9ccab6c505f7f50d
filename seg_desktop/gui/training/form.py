"""The training settings form, generated from TrainConfig's field metadata (ml/config.py, `Setting`).

Every setting with form=True becomes one widget (choice: combo box, int/float: spin box, bool: check box, size:
line edit) named `<short>_<combo|spin|check|edit>`, with its label, help as tooltip, range and default; it is read
into a TrainConfig, remembered in QSettings under the field's name and enabled by its `when` rule (while it is
off the setting keeps its default), all by the same loop. Adding a setting to TrainConfig adds it here and to
`seg-desktop train` without an edit in this file. Two choices are the form's own: "Start from" (fills the `path`
settings of START_FROM) and "Separate process".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QSettings, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from ...ml.config import SETTING, START_FROM, Setting, TrainConfig, format_size, setting_fields

_SUFFIX = {"choice": "combo", "int": "spin", "float": "spin", "bool": "check", "size": "edit"}
_INT_MAX = 2**31 - 1


def _make(setting: Setting, default: Any) -> QWidget:
    """The widget of one setting, showing `default`."""
    if setting.kind == "choice":
        widget = QComboBox()
        for value, label in setting.choices:
            widget.addItem(label, value)
    elif setting.kind == "int":
        widget = QSpinBox(minimum=int(_first(setting.form_low, setting.low, 0)),
                          maximum=int(_first(setting.form_high, setting.high, _INT_MAX)))
    elif setting.kind == "float":
        widget = QDoubleSpinBox(decimals=setting.decimals, singleStep=setting.step,
                                minimum=_first(setting.form_low, setting.low, 0.0),
                                maximum=_first(setting.form_high, setting.high, 1e9))
    elif setting.kind == "bool":
        widget = QCheckBox(setting.label)
    elif setting.kind == "size":
        widget = QLineEdit()
    else:
        raise ValueError(f"a {setting.kind!r} setting has no form widget; give it form=False")
    if isinstance(widget, (QSpinBox, QDoubleSpinBox)):
        widget.setSuffix(setting.suffix)
        widget.setSpecialValueText(setting.zero_text)  # shown at the minimum, 0 for the settings that have one
    _write(widget, default)
    widget.setToolTip(setting.help[:1].upper() + setting.help[1:] + ".")
    return widget


def _first(*values):
    return next(v for v in values if v is not None)


def _read(widget: QWidget) -> Any:
    if isinstance(widget, QComboBox):
        return widget.currentData()
    if isinstance(widget, (QSpinBox, QDoubleSpinBox)):
        return widget.value()
    if isinstance(widget, QCheckBox):
        return widget.isChecked()
    return widget.text().strip()


def _write(widget: QWidget, value: Any) -> None:
    """Show `value` (a default, or a QSettings value, which may be a string of the right thing); a value of the
    wrong type (a hand-edited or old settings file) is ignored."""
    try:
        if isinstance(widget, QComboBox):
            i = widget.findData(str(value))
            if i >= 0:
                widget.setCurrentIndex(i)
        elif isinstance(widget, QSpinBox):
            widget.setValue(int(value))
        elif isinstance(widget, QDoubleSpinBox):
            widget.setValue(float(value))
        elif isinstance(widget, QCheckBox):
            widget.setChecked(value if isinstance(value, bool) else str(value).lower() in ("true", "1"))
        elif isinstance(value, (tuple, list)):
            widget.setText(format_size(tuple(value)))
        elif value:
            widget.setText(str(value))
    except (TypeError, ValueError):
        pass


class SettingsForm(QGroupBox):
    """The generated form. `widgets` maps attribute names (model_combo, size_edit, …, start_combo, start_edit,
    browse_button, child_check) to widgets, which the panel exposes as its own attributes."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Settings", parent)
        defaults = TrainConfig(data="")  # the form starts from the engine's defaults, so GUI and CLI runs agree
        self._fields: dict[str, QWidget] = {}  # field name -> widget
        self._labels: dict[str, QLabel] = {}
        self._settings: dict[str, Setting] = {}
        self.widgets: dict[str, QWidget] = {}
        for f in setting_fields():
            setting = f.metadata[SETTING]
            if not setting.form:
                continue
            widget = _make(setting, getattr(defaults, f.name))
            self._fields[f.name], self._settings[f.name] = widget, setting
            self.widgets[f"{setting.short or f.name}_{_SUFFIX[setting.kind]}"] = widget
        self.start_combo = QComboBox()
        for key, label, _ in START_FROM:
            self.start_combo.addItem(label, key)
        self.start_edit = QLineEdit()
        self.start_edit.setPlaceholderText("run folder or weights file")
        self.browse_button = QPushButton("…")
        self.browse_button.setFixedWidth(28)
        self.child_check = QCheckBox("Separate process")
        self.child_check.setChecked(True)
        self.child_check.setToolTip("Train in a child process: the window stays smooth, an out-of-memory ends only "
                                    "the training, and GPU memory is released after each run.")
        self.widgets.update(start_combo=self.start_combo, start_edit=self.start_edit,
                            browse_button=self.browse_button, child_check=self.child_check)
        self._lay_out()
        for name, setting in self._settings.items():
            if setting.when is not None:
                _changed_signal(self._fields[setting.when[0]]).connect(self._apply_when)
        self.start_combo.currentIndexChanged.connect(self._apply_when)
        self.browse_button.clicked.connect(self._browse_start)
        self._training = False
        self.runs_folder = ""  # where the "Start from: a previous run" browser opens (the panel sets it)
        self._apply_when()

    def _lay_out(self) -> None:
        """Value settings `columns` per row (label, widget), then the check boxes, then "Start from"."""
        grid = QGridLayout(self)
        grid.setHorizontalSpacing(8)
        grid.setVerticalSpacing(4)
        for name, setting in self._settings.items():
            if setting.kind != "bool":
                self._labels[name] = QLabel(setting.label)
        self._start_label = QLabel("Start from")
        self._start_row = QHBoxLayout()
        self._start_row.addWidget(self.start_edit, 1)
        self._start_row.addWidget(self.browse_button)
        self._columns = 0
        self.set_columns(2)

    def set_columns(self, columns: int) -> None:
        """Two settings per row where the dock is wide, one where it is narrow (1024 px screens): the panel calls
        this as its dock resizes, so no field is ever cut or needs a sideways scroll."""
        if columns == self._columns:
            return
        self._columns = columns
        grid: QGridLayout = self.layout()
        while grid.count():
            item = grid.takeAt(0)
            if item.layout() is self._start_row:
                self._start_row.setParent(None)
        valued = [n for n, s in self._settings.items() if s.kind != "bool"]
        for i, name in enumerate(valued):
            row, col = divmod(i, columns)
            grid.addWidget(self._labels[name], row, 2 * col)
            grid.addWidget(self._fields[name], row, 2 * col + 1)
        row = (len(valued) + columns - 1) // columns
        checks = [self._fields[n] for n, s in self._settings.items() if s.kind == "bool"] + [self.child_check]
        for i, check in enumerate(checks):
            grid.addWidget(check, row + i // columns, 2 * (i % columns), 1, 2)
        row += (len(checks) + columns - 1) // columns
        grid.addWidget(self._start_label, row, 0)
        grid.addWidget(self.start_combo, row, 1)
        if columns == 2:
            grid.addLayout(self._start_row, row, 2, 1, 2)
        else:  # the run folder on its own row under the choice
            grid.addLayout(self._start_row, row + 1, 1)
        for col in range(4):
            grid.setColumnStretch(col, 1 if col in (1, 3) and col < 2 * columns else 0)

    # ------------------------------------------------------------------ values

    def config(self, data: Path | str) -> TrainConfig:
        """The TrainConfig the form describes for dataset `data`; ValueError with one sentence when "Start from"
        or a field is impossible (validate() is the caller's, as for the CLI)."""
        key, path = self.start_combo.currentData(), self.start_edit.text().strip() or None
        if key != "scratch" and path is None:
            raise ValueError("Choose the run folder or weights file to start from, or start from scratch.")
        if key != "scratch" and not Path(path).exists():
            raise ValueError(f"{path} does not exist; choose another run folder or weights file.")
        # a setting its `when` rule switches off keeps its default (e.g. Epochs under a time budget: unbounded)
        values = {name: _read(widget) if self._applies(name) else None for name, widget in self._fields.items()}
        values.update({field: path if k == key else None for k, _, field in START_FROM if field is not None})
        return TrainConfig.from_settings(str(data), values)

    def save(self, s: QSettings) -> None:
        """Remember the form under the settings' field names (and start_from, start_path, separate_process)."""
        for name, widget in self._fields.items():
            s.setValue(name, _read(widget))
        s.setValue("start_from", self.start_combo.currentData())
        s.setValue("start_path", self.start_edit.text().strip())
        s.setValue("separate_process", self.child_check.isChecked())

    def load(self, s: QSettings) -> None:
        """Restore what save() remembered; missing values keep the defaults, wrong ones are ignored."""
        widgets = {**self._fields, "start_from": self.start_combo, "start_path": self.start_edit,
                   "separate_process": self.child_check}
        for key, widget in widgets.items():
            value = s.value(key)
            if value is not None:
                _write(widget, value)

    # ------------------------------------------------------------------ enabling

    def set_training(self, training: bool) -> None:
        """While a run trains nothing can be changed."""
        self._training = training
        self._apply_when()

    def _applies(self, name: str) -> bool:
        """Whether a setting applies: it has no `when` rule, or the other setting has the rule's value."""
        when = self._settings[name].when
        return when is None or _read(self._fields[when[0]]) == when[1]

    @Slot()
    def _apply_when(self) -> None:
        """Enable each widget unless training, or its `when` rule names another setting's other value."""
        for name in self._settings:
            on = not self._training and self._applies(name)
            self._fields[name].setEnabled(on)
            if name in self._labels:
                self._labels[name].setEnabled(on)
        from_file = self.start_combo.currentData() != "scratch"
        for widget in (self.start_combo, self.child_check):
            widget.setEnabled(not self._training)
        for widget in (self.start_edit, self.browse_button):
            widget.setEnabled(from_file and not self._training)

    @Slot()
    def _browse_start(self) -> None:
        if self.start_combo.currentData() == "run":
            path = QFileDialog.getExistingDirectory(self, "Run to start from", self.runs_folder)
        else:
            path, _ = QFileDialog.getOpenFileName(self, "VGG16 encoder weights", "",
                                                  "Keras weights (*.h5 *.weights.h5 *.keras);;All files (*)")
        if path:
            self.start_edit.setText(path)


def _changed_signal(widget: QWidget):
    """The signal a widget emits when the user changes its value."""
    if isinstance(widget, QComboBox):
        return widget.currentIndexChanged
    if isinstance(widget, (QSpinBox, QDoubleSpinBox)):
        return widget.valueChanged
    if isinstance(widget, QCheckBox):
        return widget.toggled
    return widget.textChanged
