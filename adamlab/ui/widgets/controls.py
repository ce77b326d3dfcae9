"""Reusable controls: a slider and a spin box bound to one float, on a linear, log or "β" scale, and spin
boxes that say so when a typed value is outside their range.

The β scale maps the slider to 1 − 10^(−x): equal slider travel from 0.9 to 0.99 as from 0.99 to 0.999, so
β2 = 0.999 is as easy to hit as β1 = 0.9 (a linear slider would cram everything interesting into its last
pixel). The spin box always shows and accepts the exact value.
"""

from __future__ import annotations

import math
import re

from PySide6.QtCore import QPoint, Qt, Signal, Slot
from PySide6.QtGui import QValidator
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QLabel, QSlider, QSpinBox, QToolTip, QWidget

from adamlab.ui import theme
from adamlab.ui.widgets import symbols

SCALES = ("linear", "log", "beta")
SCI_DECADES = 6  # a log slider spanning at least this many decades shows its value as 1e-08, not 0.00000001
NOTICE_MS = 6000  # how long a "value out of range" notice stays by its box

_PARTIAL_NUMBER = re.compile(r"[+-]?(\d*\.?\d*)([eE][+-]?\d*)?")  # what typing a number passes through


def _round_figures(x: float, figures: int) -> float:
    """``x`` rounded to ``figures`` significant figures (0 stays 0)."""
    return 0.0 if x == 0 else round(x, figures - 1 - math.floor(math.log10(abs(x))))


class _AnnouncedRange:
    """Mixin for spin boxes: any number may be typed; one outside the range is set to the nearest limit and
    the box says so (a tooltip by the box and the ``clamped`` signal) instead of silently changing it.

    Qt's own boxes refuse the keystrokes of an out-of-range number or clamp it on Enter without a word (lr 0
    became 1e-4, β2 0.999999 became 0.9999).
    """

    what = ""  # the control's name, for the notice ("lr: ...")
    last_notice = ""

    def _number(self, text: str) -> str:
        text = text.strip()
        if self.prefix() and text.startswith(self.prefix()):
            text = text[len(self.prefix()):]
        if self.suffix() and text.endswith(self.suffix()):
            text = text[: -len(self.suffix())]
        return text.strip().replace("−", "-").replace(",", "")

    def validate(self, text: str, pos: int):
        body = self._number(text)
        try:
            float(body)
        except ValueError:
            state = QValidator.State.Intermediate if _PARTIAL_NUMBER.fullmatch(body) else QValidator.State.Invalid
            return state, text, pos
        return QValidator.State.Acceptable, text, pos  # the range is applied, and announced, on Enter

    def _typed_value(self, text: str) -> float | None:
        try:
            v = float(self._number(text))
        except ValueError:
            return None
        if not math.isfinite(v):
            return None
        lo, hi = self.minimum(), self.maximum()
        if v < lo or v > hi:
            limit = lo if v < lo else hi
            side = "below the lowest" if v < lo else "above the highest"
            shown = self.textFromValue(limit).strip()
            self.announce(f"{self.what + ': ' if self.what else ''}{self._number(text)} is {side} value here, "
                          f"{shown}: set to {shown}")
            return limit
        return v

    def announce(self, message: str) -> None:
        self.last_notice = message
        QToolTip.showText(self.mapToGlobal(QPoint(0, self.height())), message, self, self.rect(), NOTICE_MS)
        self.clamped.emit(message)


class SpinBox(_AnnouncedRange, QDoubleSpinBox):
    """A float box whose value is written with Python's formatting (``.`` decimals in every locale).
    ``trim``: no trailing zeros (β = 0.9, 0.999, 0.99999 instead of 0.90000)."""

    clamped = Signal(str)

    def __init__(self, trim: bool = False, parent: QWidget | None = None):
        super().__init__(parent)
        self._trim = trim

    def textFromValue(self, value: float) -> str:
        text = f"{value:.{self.decimals()}f}"
        if self._trim and "." in text:
            text = text.rstrip("0")
            text += "0" if text.endswith(".") else ""
        return text

    def valueFromText(self, text: str) -> float:
        v = self._typed_value(text)
        return self.value() if v is None else v


class SciSpinBox(SpinBox):
    """A float box that shows and accepts scientific notation: 1e-08, 2.5e-05, 0.001.

    Plain decimals would need a dozen places for ε = 1e-8 (``0.000000010000``, wider than the box); the value
    itself still rounds to ``decimals()`` places, so set those to cover the smallest value.
    """

    def textFromValue(self, value: float) -> str:
        return f"{value:.3g}"


class IntSpinBox(_AnnouncedRange, QSpinBox):
    """An integer box that says when a typed number is outside its range (100000 steps where 10000 is the
    most) instead of clamping it silently."""

    clamped = Signal(str)

    def valueFromText(self, text: str) -> int:
        v = self._typed_value(text)
        return self.value() if v is None else int(round(v))


class FloatSlider(QWidget):
    """``label  [slider]  [spin box]`` for one float. Emits ``valueChanged(float)`` on every change,
    including while the slider is being dragged."""

    valueChanged = Signal(float)
    clamped = Signal(str)  # a typed value was outside the range: the message says which limit it was set to

    def __init__(self, label: str, minimum: float, maximum: float, value: float, *, scale: str = "linear",
                 decimals: int = 3, tooltip: str = "", ticks: int = 1000, suffix: str = "",
                 parent: QWidget | None = None):
        super().__init__(parent)
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
        if not minimum < maximum:
            raise ValueError(f"minimum must be < maximum, got {minimum} and {maximum}")
        if scale == "log" and minimum <= 0:
            raise ValueError(f"a log slider needs minimum > 0, got {minimum}")
        if scale == "beta" and not (0 <= minimum and maximum < 1):
            raise ValueError(f"a β slider needs 0 <= minimum < maximum < 1, got {minimum}, {maximum}")
        self._scale, self._min, self._max, self._ticks = scale, float(minimum), float(maximum), ticks
        self.label = QLabel(label)
        theme.sized(self.label, setMinimumWidth=28)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(0, ticks)
        theme.sized(self.slider, setMinimumWidth=80)
        wide = scale == "log" and maximum / minimum >= 10.0 ** SCI_DECADES
        self.spin = SciSpinBox() if wide else SpinBox(trim=scale == "beta")
        self.spin.what = label
        self.spin.setDecimals(decimals)
        self.spin.setRange(minimum, maximum)
        self.spin.setKeyboardTracking(False)
        self.spin.setSuffix(suffix)
        step = 10.0 ** (-decimals)
        self.spin.setSingleStep(step if scale != "linear" else max(step, (maximum - minimum) / 100))
        if scale == "log":
            self.spin.setStepType(QDoubleSpinBox.StepType.AdaptiveDecimalStepType)
        theme.sized(self.spin, setMinimumWidth=84)
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.label)
        lay.addWidget(self.slider, 1)
        lay.addWidget(self.spin)
        if tooltip:
            tooltip = symbols.tooltip(tooltip)
            for w in (self, self.label, self.slider, self.spin):
                w.setToolTip(tooltip)
        self._value = float(value)
        self.setValue(value)
        self.slider.valueChanged.connect(self._on_slider)
        self.spin.valueChanged.connect(self._on_spin)
        self.spin.clamped.connect(self.clamped)

    # --- mapping between slider ticks and values ---
    def _to_x(self, v: float) -> float:
        if self._scale == "log":
            return math.log10(v)
        if self._scale == "beta":
            return -math.log10(1.0 - v)
        return v

    def _from_x(self, x: float) -> float:
        if self._scale == "log":
            return 10.0 ** x
        if self._scale == "beta":
            return 1.0 - 10.0 ** (-x)
        return x

    def _tick_of(self, v: float) -> int:
        lo, hi = self._to_x(self._min), self._to_x(self._max)
        return round((self._to_x(v) - lo) / (hi - lo) * self._ticks)

    def _value_of(self, tick: int) -> float:
        lo, hi = self._to_x(self._min), self._to_x(self._max)
        v = self._from_x(lo + (hi - lo) * tick / self._ticks)
        # A dragged value is a round number at the slider's resolution: lr 0.0123, β 0.85 or 0.99985 (1 − β to
        # two figures), not 0.01234568 or 0.85038.
        if self._scale == "log":
            v = _round_figures(v, 3)
        elif self._scale == "beta":
            v = 1.0 - _round_figures(1.0 - v, 2)
        # Round to what the spin box can show, so slider and box agree exactly.
        return round(min(max(v, self._min), self._max), self.spin.decimals())

    # --- public API ---
    def value(self) -> float:
        return self._value

    def setValue(self, v: float) -> None:
        v = round(min(max(float(v), self._min), self._max), self.spin.decimals())
        changed = v != self._value
        self._value = v
        for w, val in ((self.slider, self._tick_of(v)), (self.spin, v)):
            w.blockSignals(True)
            w.setValue(val)
            w.blockSignals(False)
        if changed:
            self.valueChanged.emit(v)

    @Slot(int)
    def _on_slider(self, tick: int) -> None:
        self.setValue(self._value_of(tick))

    @Slot(float)
    def _on_spin(self, v: float) -> None:
        self.setValue(v)
