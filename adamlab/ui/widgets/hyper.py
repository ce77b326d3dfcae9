"""An editor for one optimizer's hyperparameters, shared by the loss-surface arena and the GPT monitor.

It shows only the knobs the chosen optimizer has, with torch.optim's argument names, and returns a plain
``(kind, hyper)`` spec for :func:`adamlab.core.optim.make_optimizer`. The ranges keep the controls inside
what the core accepts; the core still validates (one source of truth for what is allowed).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QCheckBox, QFormLayout, QVBoxLayout, QWidget

from adamlab.ui.knobs import (  # noqa: F401  (re-exported: the panels import the table from here too)
    FLAGS, INT_KNOBS, KIND_KNOBS, KNOBS, NONE_AT_ZERO, from_core, knob_schema, to_core,
)
from adamlab.ui.schema import Fields
from adamlab.ui.widgets.controls import FloatSlider


def knob_slider(name: str, value: float, tooltip: str | None = None) -> FloatSlider:
    """The control for hyperparameter ``name`` (a key of :data:`KNOBS`) with the table's range and scale;
    ``tooltip`` replaces the table's where a panel explains the knob in its own terms."""
    label, lo, hi, scale, decimals, tip = KNOBS[name]
    return FloatSlider(label, lo, hi, value, scale=scale, decimals=decimals, tooltip=tip if tooltip is None else tooltip)


class OptimizerEditor(QWidget):
    """Sliders and check boxes for one optimizer kind. ``changed`` fires on every edit (live)."""

    changed = Signal()
    clamped = Signal(str)  # a typed value was out of range and set to the limit: the message says so

    def __init__(self, kind: str, values: dict[str, Any] | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        if kind not in KIND_KNOBS:
            raise ValueError(f"optimizer kind must be one of {sorted(KIND_KNOBS)}, got {kind!r}")
        self.kind = kind
        self.controls: dict[str, FloatSlider | QCheckBox] = {}
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.setVerticalSpacing(2)
        for name, default in KIND_KNOBS[kind].items():
            if name in FLAGS:
                box = QCheckBox(name)
                box.setChecked(bool(default))
                box.setToolTip(FLAGS[name])
                box.toggled.connect(self._emit)
                form.addRow(box)
                self.controls[name] = box
            else:
                s = knob_slider(name, default)
                s.valueChanged.connect(self._emit)
                s.clamped.connect(self.clamped)
                form.addRow(s)
                self.controls[name] = s
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addLayout(form)
        if values:
            self.set_values(values)

    @Slot()
    def _emit(self, *_):
        self.changed.emit()

    def values(self) -> dict[str, Any]:
        """Editor values (β1 and β2 separate), JSON-serialisable."""
        return {k: (c.isChecked() if isinstance(c, QCheckBox) else int(c.value()) if k in INT_KNOBS else c.value())
                for k, c in self.controls.items()}

    def set_values(self, values: dict[str, Any]) -> None:
        """Set known entries (editor names; ``betas`` is accepted too); ignores the rest."""
        values = from_core(values, self.kind)
        for k, v in values.items():
            c = self.controls.get(k)
            if isinstance(c, QCheckBox):
                c.setChecked(bool(v))
            elif c is not None:
                c.setValue(float(v))

    def schema(self) -> Fields:
        """What ``values()`` may hold: each control's own range (see :mod:`adamlab.ui.schema`)."""
        from adamlab.ui.widgets import stateschema  # (it imports this module's neighbours)

        return Fields({k: stateschema.of(c) for k, c in self.controls.items()})

    def hyper(self) -> dict[str, Any]:
        """Keyword arguments for ``make_optimizer(self.kind, **hyper)``."""
        return to_core(self.values())

    def reset(self) -> None:
        self.set_values(KIND_KNOBS[self.kind])
