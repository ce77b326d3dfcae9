"""One table of hyperparameter ranges: every panel allows the same values, and a clamp is never silent.

Before (#11): lr 0 became 1e-4 in the stepper and 1e-5 in the arena, β2 0.999999 became 0.9999, ε = 1 became
0.1 in the EMA playground and the stepper but was allowed in the arena and the monitor.
"""

import pytest
from PySide6.QtCore import Qt

from adamlab.ui.panels.ema.panel import EmaPanel
from adamlab.ui.panels.stepper.panel import StepperPanel
from adamlab.ui.widgets.hyper import KNOBS, OptimizerEditor


def type_into(qtbot, spin, text):
    spin.setFocus()
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), text)
    qtbot.keyClick(spin.lineEdit(), Qt.Key.Key_Return)


@pytest.fixture
def controls(qtbot):
    """name → {panel: its slider for that hyperparameter} over the EMA playground, the stepper and the
    optimizer editor of the arena and the monitor."""
    ema, stepper, editor = EmaPanel(), StepperPanel(), OptimizerEditor("adamw")
    for w in (ema, stepper, editor):
        qtbot.addWidget(w)
        w.show()
    qtbot.waitUntil(ema.is_idle)
    adam = stepper.sides[0].editor.controls  # the stepper's run A (Adam) has its own optimizer editor
    yield {
        "lr": {"stepper": adam["lr"], "editor": editor.controls["lr"]},
        "beta1": {"ema": ema.beta1, "stepper": adam["beta1"], "editor": editor.controls["beta1"]},
        "beta2": {"ema": ema.beta2, "stepper": adam["beta2"], "editor": editor.controls["beta2"]},
        "eps": {"ema": ema.eps, "stepper": adam["eps"], "editor": editor.controls["eps"]},
        "weight_decay": {"stepper": adam["weight_decay"], "editor": editor.controls["weight_decay"]},
    }, ema, stepper


@pytest.mark.parametrize("name, typed, expected", [
    ("lr", "1e-6", 1e-6), ("lr", "10", 10.0), ("beta1", "0.99999", 0.99999), ("beta2", "0.99999", 0.99999),
    ("beta2", "0", 0.0), ("eps", "1", 1.0), ("eps", "1e-12", 1e-12), ("weight_decay", "1", 1.0)])
def test_every_panel_takes_what_people_try(controls, qtbot, name, typed, expected):
    by_panel = controls[0][name]
    for where, slider in by_panel.items():
        with qtbot.assertNotEmitted(slider.clamped):
            type_into(qtbot, slider.spin, typed)
        assert slider.value() == pytest.approx(expected, rel=1e-12), where
        assert (slider._min, slider._max) == KNOBS[name][1:3], where  # the one table's range


@pytest.mark.parametrize("name, typed, limit", [("lr", "0", "1e-06"), ("beta2", "0.999999", "0.99999"),
                                                ("eps", "2", "1")])
def test_a_value_beyond_the_table_is_set_to_its_limit_and_the_panel_says_so(controls, qtbot, name, typed, limit):
    tables, ema, stepper = controls
    by_panel = tables[name]
    for where, slider in by_panel.items():
        panel = {"ema": ema, "stepper": stepper}.get(where)
        signal = panel.statusMessage if panel is not None else slider.clamped
        with qtbot.waitSignal(signal, check_params_cb=lambda msg: f"{typed} is" in msg and limit in msg):
            type_into(qtbot, slider.spin, typed)
        assert slider.spin.text() == limit, where


def test_the_ema_steps_box_says_when_it_caps_the_length(qtbot):
    ema = EmaPanel()
    qtbot.addWidget(ema)
    ema.show()
    with qtbot.waitSignal(ema.statusMessage, check_params_cb=lambda m: "100000" in m and "10000" in m):
        type_into(qtbot, ema.length, "100000")
    assert ema.length.value() == ema.length.maximum()
    qtbot.waitUntil(lambda: ema.is_idle() and len(ema.curves["g"].yData) == ema.length.maximum())
