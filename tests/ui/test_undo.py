"""Undo and redo (Ctrl+Z / Ctrl+Shift+Z, Edit menu) of control changes in every panel, driven through the real
widgets: one gesture is one step, undo restores the exact previous values and the plots follow, and applying
an undo pushes nothing."""

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication, QStyle, QStyleOptionSlider

from adamlab.core import trajectory
from adamlab.core.surfaces import SURFACES
from adamlab.ui import scenarios
from adamlab.ui.undo import describe
from adamlab.ui.window import MainWindow
from tests.ui.test_surface_panel import drag, widget_pos

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("ADAMLAB_SETTINGS", str(tmp_path / "settings.ini"))
    w = MainWindow(restore=False)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def keys(qtbot, w, modifiers):
    # A window's shortcuts answer while it is the active window, as a window a person types into is. (Under the
    # offscreen platform a window sometimes loses activation after a key click on a combo box.)
    if not w.isActiveWindow():
        w.activateWindow()
        qtbot.waitUntil(w.isActiveWindow, timeout=2000)
    qtbot.keyClick(w, Qt.Key.Key_Z, modifiers)


def undo(qtbot, w):
    keys(qtbot, w, CTRL)


def redo(qtbot, w):
    keys(qtbot, w, CTRL | SHIFT)


def settled(qtbot, w, count):
    """Wait until the shown panel's history holds ``count`` steps (a gesture settles after SETTLE_MS)."""
    qtbot.waitUntil(lambda: w.current_undo().stack.count() == count, timeout=5000)


def ema_curves(p):
    return {name: c.getData()[1].copy() for name, c in p.curves.items()}


def ema_drawn(qtbot, p):
    qtbot.waitUntil(p.is_idle, timeout=10000)
    return ema_curves(p)


def test_keys_on_a_slider_are_one_step_and_ctrl_z_restores_the_value_and_the_plots(window, qtbot):
    w = window
    w.show_panel("ema")
    p = w.panel("ema")
    old_value, old_curves = p.beta2.value(), ema_drawn(qtbot, p)
    p.beta2.slider.setFocus()
    for _ in range(4):  # four taps of → on the β2 slider: one change
        qtbot.keyClick(p.beta2.slider, Qt.Key.Key_Right)
    new_value = p.beta2.value()
    assert new_value > old_value
    settled(qtbot, w, 1)
    new_curves = ema_drawn(qtbot, p)
    assert not np.allclose(new_curves["v"], old_curves["v"])
    assert w.undo_action.text() == "&Undo β₂ change"

    undo(qtbot, w)
    assert p.beta2.value() == old_value  # exact, not "close"
    for name, y in ema_drawn(qtbot, p).items():  # the plots are redrawn from the restored β2
        np.testing.assert_array_equal(y, old_curves[name], err_msg=name)
    assert w.redo_action.text() == "&Redo β₂ change"
    assert w.current_undo().stack.count() == 1  # applying the undo pushed nothing

    redo(qtbot, w)
    assert p.beta2.value() == new_value
    for name, y in ema_drawn(qtbot, p).items():
        np.testing.assert_array_equal(y, new_curves[name], err_msg=name)
    assert w.current_undo().stack.count() == 1 and w.current_undo().stack.index() == 1


def handle_centre(slider) -> QPoint:
    opt = QStyleOptionSlider()
    slider.initStyleOption(opt)
    return slider.style().subControlRect(QStyle.ComplexControl.CC_Slider, opt,
                                         QStyle.SubControl.SC_SliderHandle, slider).center()


def mouse(widget, kind, pos: QPoint, buttons) -> None:
    ev = QMouseEvent(kind, QPointF(pos), QPointF(widget.mapToGlobal(pos)), Qt.MouseButton.LeftButton, buttons,
                     Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, ev)


def test_a_slider_dragged_through_many_values_is_one_step(window, qtbot):
    w = window
    w.show_panel("ema")
    p = w.panel("ema")
    slider = p.beta1.slider
    old = p.beta1.value()
    start = handle_centre(slider)
    mouse(slider, QEvent.Type.MouseButtonPress, start, Qt.MouseButton.LeftButton)
    seen = set()
    for dx in range(-5, -60, -5):  # the value passes through every position on the way
        mouse(slider, QEvent.Type.MouseMove, start + QPoint(dx, 0), Qt.MouseButton.LeftButton)
        seen.add(p.beta1.value())
    mouse(slider, QEvent.Type.MouseButtonRelease, start + QPoint(-55, 0), Qt.MouseButton.NoButton)
    new = p.beta1.value()
    assert new < old and len(seen) > 3
    settled(qtbot, w, 1)
    assert w.current_undo().stack.count() == 1  # not one per value it passed through
    assert w.current_undo().stack.command(0).before["beta1"] == old
    undo(qtbot, w)
    assert p.beta1.value() == old
    redo(qtbot, w)
    assert p.beta1.value() == new


def drawn_paths(p):
    return {t.name: np.c_[t.path.getData()] for t in p._tracks.values()}


def expected_paths(p, start):
    s = SURFACES[p.controls.surface_combo.currentData()]
    specs = [(e["name"], e["kind"], p.racers.editors[e["uid"]].hyper()) for e in p.racers.entries if e["enabled"]]
    return {name: trajectory.run(s, (kind, hyper), start, p.controls.steps()) for name, kind, hyper in specs}


def settle_race(qtbot, p, start):
    qtbot.waitUntil(lambda: p.is_idle() and p._result is not None and p._result.record
                    and tuple(p._result.runs[0].path[0]) == pytest.approx(start), timeout=20000)


def test_dragging_the_start_point_is_one_step_and_undo_redraws_the_race_from_the_old_start(window, qtbot):
    w = window
    w.show_panel("surface")
    p = w.panel("surface")
    old = p.controls.start
    settle_race(qtbot, p, old)
    p.show_step(p.controls.steps())
    drag(p.map.widget, widget_pos(p, *old), widget_pos(p, 0.4, 2.2), steps=12)
    new = p.controls.start
    assert abs(new[0] - 0.4) < 0.05 and abs(new[1] - 2.2) < 0.05
    settle_race(qtbot, p, new)
    settled(qtbot, w, 1)
    assert w.undo_action.text() == "&Undo start point change"

    undo(qtbot, w)
    assert p.controls.start == old  # exactly the start before the drag
    settle_race(qtbot, p, old)
    for name, path in expected_paths(p, old).items():  # the drawn race is the core's, from the old start
        np.testing.assert_array_equal(drawn_paths(p)[name], path)
    assert w.current_undo().stack.count() == 1

    redo(qtbot, w)
    assert p.controls.start == new
    settle_race(qtbot, p, new)
    for name, path in expected_paths(p, new).items():
        np.testing.assert_array_equal(drawn_paths(p)[name], path)


def test_the_stepper_undoes_a_new_optimizer_and_a_knob_but_not_its_steps(window, qtbot):
    w = window
    w.show_panel("stepper")
    p = w.panel("stepper")
    combo = p.sides[0].combo
    combo.setFocus()
    qtbot.keyClick(combo, Qt.Key.Key_Down)  # Adam → the next kind in the list
    kind = p.sides[0].kind()
    assert kind != "adam"
    settled(qtbot, w, 1)
    for _ in range(3):
        qtbot.mouseClick(p.next_step_button, Qt.MouseButton.LeftButton)  # steps are not edits
    lr = p.sides[0].editor.controls["lr"]
    lr.slider.setFocus()
    qtbot.keyClick(lr.slider, Qt.Key.Key_Left)
    settled(qtbot, w, 2)
    assert w.undo_action.text() == "&Undo A: lr change"
    assert p.session.t == 3
    undo(qtbot, w)
    assert p.sides[0].editor.controls["lr"].value() == 0.1 and p.sides[0].kind() == kind
    assert p.session.t == 3  # back where it was when the lr changed, with the old lr
    assert p.session.runs[0].opt.lr == 0.1
    undo(qtbot, w)
    assert p.sides[0].kind() == "adam" and p.session.runs[0].kind == "adam"
    redo(qtbot, w)
    assert p.sides[0].kind() == kind
    assert w.current_undo().stack.count() == 2


def test_the_monitor_setup_is_undone_too(window, qtbot):
    w = window
    w.show_panel("monitor")
    spin = w.panel("monitor").setup.steps
    old = spin.value()
    spin.setFocus()
    qtbot.keyClick(spin, Qt.Key.Key_Up)
    assert spin.value() != old
    settled(qtbot, w, 1)
    undo(qtbot, w)
    assert spin.value() == old
    tabs = w.panel("monitor").tabs  # another tab is where one looks, not an edit: no step
    qtbot.mouseClick(tabs.tabBar(), Qt.MouseButton.LeftButton, pos=tabs.tabBar().tabRect(1).center())
    assert tabs.currentIndex() == 1
    w.current_undo().commit()
    assert w.current_undo().stack.count() == 1


def test_opening_a_scenario_is_one_step_back_to_exactly_what_was_on_screen(window, qtbot):
    w = window
    w.show_panel("surface")
    p = w.panel("surface")
    before = p.get_state()
    assert w.open_path(scenarios.resolve("zigzag"))
    assert p.get_state()["surface"] == "ill_conditioned"
    assert w.current_undo().stack.count() == 1
    assert w.undo_action.text() == "&Undo open zigzag.adamlab"
    undo(qtbot, w)
    assert p.get_state() == before
    redo(qtbot, w)
    assert p.get_state()["surface"] == "ill_conditioned" and p.get_state()["preset"] == "zigzag"


def test_each_panel_has_its_own_history_and_undo_right_after_a_gesture_undoes_it(window, qtbot):
    w = window
    w.show_panel("ema")
    ema = w.panel("ema")
    ema.beta1.slider.setFocus()
    qtbot.keyClick(ema.beta1.slider, Qt.Key.Key_Left)
    changed = ema.beta1.value()
    w.show_panel("stepper")  # switching panels shows the other's history: nothing to undo there
    undo(qtbot, w)
    assert ema.beta1.value() == changed
    assert w.statusBar().currentMessage() == "Adam stepper: nothing to undo"
    w.show_panel("ema")
    ema.beta1.slider.setFocus()
    qtbot.keyClick(ema.beta1.slider, Qt.Key.Key_Left)
    undo(qtbot, w)  # at once, before the gesture settled: it is committed and undone
    assert ema.beta1.value() == changed
    undo(qtbot, w)
    assert ema.beta1.value() == 0.9


def test_a_change_the_panel_makes_by_itself_is_a_step_of_its_own(window, qtbot):
    w = window
    w.show_panel("surface")
    p = w.panel("surface")
    p.controls.steps_spin.setValue(222)  # as a finished Tune or a worker would: no gesture
    p.controls.noise_slider.slider.setFocus()
    qtbot.keyClick(p.controls.noise_slider.slider, Qt.Key.Key_Right)  # then the user's own change
    settled(qtbot, w, 2)
    undo(qtbot, w)  # the user's change only
    assert p.controls.noise_slider.value() == 0.0 and p.controls.steps() == 222
    undo(qtbot, w)
    assert p.controls.steps() == 500


def test_describe_names_what_changed():
    a = {"beta2": 0.999, "optimizers": [{"kind": "adam", "name": None, "values": {"lr": 0.1}}], "start": [1, 2]}
    b = {"beta2": 0.99, "optimizers": [{"kind": "adam", "name": None, "values": {"lr": 0.2}}], "start": [1, 2]}
    assert describe(a, {**a, "beta2": 0.99}) == "β₂ change"
    assert describe(a, {**b, "beta2": 0.999}) == "Adam lr change"
    assert describe(a, {**a, "start": [1, 3]}) == "start point change"
    assert describe(a, {**b, "start": [0, 0], "steps": 3}) == "4 settings change"
    assert describe({"A": {"lr": 1}, "t": 1}, {"A": {"lr": 2}, "t": 5}, ignore=("t",)) == "A: lr change"
