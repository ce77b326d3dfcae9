"""Schemas of saved states read off the widgets that hold them, so the ranges a saved value must fall in are
the ranges of the control it goes back into (one source of truth; see :mod:`adamlab.ui.schema`)."""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QLineEdit, QSpinBox

from adamlab.ui.schema import Bool, Choice, Int, Num, Schema, Text
from adamlab.ui.widgets.controls import FloatSlider


def of(widget, max_text: int = 200) -> Schema:
    """The schema of the value ``widget`` holds: a FloatSlider's or spin box's range, a combo box's item data
    (or texts), a check box's bool, a line edit's text."""
    if isinstance(widget, FloatSlider):
        return Num(widget._min, widget._max)
    if isinstance(widget, QSpinBox):
        return Int(widget.minimum(), widget.maximum())
    if isinstance(widget, QDoubleSpinBox):
        return Num(widget.minimum(), widget.maximum())
    if isinstance(widget, QComboBox):
        data = [widget.itemData(i) for i in range(widget.count())]
        return Choice(data if all(d is not None for d in data) else [widget.itemText(i) for i in range(widget.count())])
    if isinstance(widget, QCheckBox):
        return Bool()
    if isinstance(widget, QLineEdit):
        return Text(min(max_text, widget.maxLength()))
    raise TypeError(f"no schema for a {type(widget).__name__}")
