"""The loss-surface arena, driven as a user would: drag the start, tick optimizers, load scenarios.

Every number drawn is checked against the core run independently here (``trajectory.run`` /
``run_detailed`` with the same settings) or against hand-computed geometry.
"""

from __future__ import annotations

import importlib
import math
import os

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QPainter
from PySide6.QtWidgets import QApplication, QGraphicsItem

from adamlab.core import trajectory
from adamlab.core.surfaces import SURFACES
from adamlab.ui.panels.surface import SurfacePanel
from adamlab.ui.panels.surface.image import contour_segments
from adamlab.ui.panels.surface.map_view import arrow_segments
from adamlab.ui.panels.surface.presets import DEFAULT_OPTIMIZERS, PRESETS
from adamlab.ui.panels.surface.race import RACE_ENTRY, RaceProcess, live_processes, rows_to_draw, run_scene
from adamlab.ui.widgets.fastpaint import GridAxis
from adamlab.ui.widgets.symbols import rich
from tests.core.test_no_qt import _import_in_fresh_python
from tests.ui.test_fastpaint import blank_image
from tests.ui.loop_jobs import pid_alive


@pytest.fixture(autouse=True)
def no_race_process_left():
    """Every test must leave no race child process behind (closing the panel ends it)."""
    yield
    alive = live_processes()
    for proc in alive:
        proc.kill()
        proc.wait(5)
    assert not alive, f"race child processes still running: {[p.pid for p in alive]}"


# the default scene's Adam lr (the preset's value, so the tests follow a retuned default race)
ADAM_LR = next(o["values"]["lr"] for o in DEFAULT_OPTIMIZERS if o["kind"] == "adam")


@pytest.fixture
def panel(qtbot):
    p = SurfacePanel()
    qtbot.addWidget(p)
    p.resize(1100, 740)
    p.show()
    qtbot.waitUntil(p.is_idle, timeout=30000)
    return p


def wait_detail(qtbot, p):
    """Wait until the newest result, with per-step records, is drawn."""
    qtbot.waitUntil(lambda: p.is_idle() and p._result is not None and p._result.record, timeout=30000)


def settle(qtbot, p, surface):
    """Wait for the race on ``surface`` to arrive, stop its replay, wait until nothing is in flight."""
    qtbot.waitUntil(lambda: p._result is not None and p._result.surface == surface and not p._restart_pending,
                    timeout=30000)
    p.show_step(0)
    qtbot.waitUntil(lambda: p.is_idle() and p._result.surface == surface, timeout=30000)


def enabled_specs(p):
    return [(e["name"], e["kind"], p.racers.editors[e["uid"]].hyper()) for e in p.racers.entries if e["enabled"]]


def legend_names(p):
    """The racers the key under the map names (each name is in its text, unbreakable)."""
    text = p.map.key.text()
    assert all(name.replace(" ", "&nbsp;") in text for name in p.map.key_names)
    return p.map.key_names


def drag(widget, start: QPointF, end: QPointF, steps: int = 8) -> None:
    """A left-button drag on a graphics view, as the mouse would send it (press, moves with the button
    held, release)."""
    vp = widget.viewport()

    def send(kind, pos, buttons):
        ev = QMouseEvent(kind, QPointF(pos), QPointF(vp.mapToGlobal(pos.toPoint())), Qt.MouseButton.LeftButton,
                         buttons, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(vp, ev)

    send(QEvent.Type.MouseButtonPress, start, Qt.MouseButton.LeftButton)
    for i in range(1, steps + 1):
        p = start + (end - start) * (i / steps)
        send(QEvent.Type.MouseMove, p, Qt.MouseButton.LeftButton)
    send(QEvent.Type.MouseButtonRelease, end, Qt.MouseButton.NoButton)


def widget_pos(p, x, y) -> QPointF:
    """Data point (x, y) of the map → position in the map widget's viewport."""
    scene = p.map.plot.vb.mapViewToScene(QPointF(x, y))
    return QPointF(p.map.widget.mapFromScene(scene))


# ----------------------------------------------------------------------------------------------------------


def test_drawn_paths_equal_trajectory_run(panel, qtbot):
    """Each drawn path is exactly the core's run from the same start with the same hyperparameters."""
    p = panel
    s = SURFACES["rosenbrock"]
    assert p.controls.surface_combo.currentData() == "rosenbrock" and p.controls.start == s.start
    specs = enabled_specs(p)
    assert [n for n, _, _ in specs] == ["SGD", "SGD + momentum", "RMSprop", "Adam", "AdamW"]
    for name, kind, hyper in specs:
        expect = trajectory.run(s, (kind, hyper), s.start, 500)  # (501, 2)
        track = next(t for t in p._tracks.values() if t.name == name)
        x, y = track.path.getData()
        assert len(x) == 501
        np.testing.assert_allclose(np.c_[x, y], expect, rtol=0, atol=0)
        # the loss curve is f − f* along that path (f* = 0 at (1, 1))
        ly = track.loss.yData  # the data as given (getData() is log10 of it on a log axis)
        np.testing.assert_allclose(ly, np.maximum(s.value(expect[:, 0], expect[:, 1]), 1e-16), rtol=1e-12)


def test_dragging_the_start_handle_moves_every_path(panel, qtbot):
    p = panel
    before = {t.name: np.c_[t.path.getData()][0].copy() for t in p._tracks.values()}
    sx, sy = p.controls.start
    drag(p.map.widget, widget_pos(p, sx, sy), widget_pos(p, 0.5, 2.0))
    qtbot.waitUntil(lambda: p.is_idle() and abs(p._result.runs[0].path[0, 0] - sx) > 0.5, timeout=30000)
    nx, ny = p.controls.start
    assert abs(nx - 0.5) < 0.05 and abs(ny - 2.0) < 0.05  # the handle ended where the mouse let go
    assert p.controls.start_x.text() == f"{nx:.4g}"
    s = SURFACES["rosenbrock"]
    for t in p._tracks.values():
        x, y = t.path.getData()
        assert (x[0], y[0]) == pytest.approx((nx, ny))
        assert not np.allclose((x[0], y[0]), before[t.name])
        kind, hyper = next((k, h) for n, k, h in enabled_specs(p) if n == t.name)
        np.testing.assert_allclose(np.c_[x, y], trajectory.run(s, (kind, hyper), (nx, ny), 500), atol=0)


def expected_path_and_loss(p, name, start):
    """The core's path for optimizer ``name`` from ``start`` (its settings from the panel), and f − f* along it."""
    s = SURFACES["rosenbrock"]
    kind, hyper = next((k, h) for n, k, h in enabled_specs(p) if n == name)
    path = trajectory.run(s, (kind, hyper), start, p.controls.steps_spin.value())
    return path, np.maximum(s.value(path[:, 0], path[:, 1]), 1e-16)  # f − f*, f* = 0 at (1, 1)


def assert_drawn_race_is(p, start):
    """Every drawn path and loss curve is the core's run from ``start`` (never a stale frame)."""
    assert p.controls.start == pytest.approx(start)
    for t in p._tracks.values():
        path, loss = expected_path_and_loss(p, t.name, p.controls.start)
        np.testing.assert_allclose(np.c_[t.path.getData()], path, rtol=0, atol=0)
        np.testing.assert_allclose(t.loss.yData, loss, rtol=1e-12)
        np.testing.assert_array_equal(t.loss.xData, np.arange(len(path)))


def test_a_long_mouse_drag_ends_on_the_final_start_everywhere(panel, qtbot):
    """A fast drag (many moves, latest-wins races, a throttled loss plot) leaves on screen exactly the race
    from where the mouse let go: paths, loss curves, loss range, table and readout all settled."""
    p = panel
    sx, sy = p.controls.start
    vp = p.map.widget.viewport()

    def send(kind, pos, buttons):
        ev = QMouseEvent(kind, QPointF(pos), QPointF(vp.mapToGlobal(pos.toPoint())), Qt.MouseButton.LeftButton,
                         buttons, Qt.KeyboardModifier.NoModifier)
        QApplication.sendEvent(vp, ev)

    send(QEvent.Type.MouseButtonPress, widget_pos(p, sx, sy), Qt.MouseButton.LeftButton)
    frames0 = p.frames_drawn
    for i in range(1, 41):  # a loop around (-0.6, 1.2), with the event loop running between moves
        a = 2 * math.pi * i / 40
        send(QEvent.Type.MouseMove, widget_pos(p, -0.6 + 0.9 * math.cos(a), 1.2 + 0.9 * math.sin(a)),
             Qt.MouseButton.LeftButton)
        qtbot.wait(8)
    end = widget_pos(p, 0.3, 1.9)
    send(QEvent.Type.MouseMove, end, Qt.MouseButton.LeftButton)
    send(QEvent.Type.MouseButtonRelease, end, Qt.MouseButton.NoButton)
    wait_detail(qtbot, p)
    assert p.frames_drawn > frames0 + 1  # the drag drew intermediate races too
    assert p.controls.start == pytest.approx((0.3, 1.9), abs=0.03)
    assert p._result.runs[0].path[0] == pytest.approx(p.controls.start)
    assert_drawn_race_is(p, p.controls.start)
    # the loss plot's y range fits the final curves (log10 units)
    logs = np.log10(np.concatenate([t.loss.yData for t in p._tracks.values()]))
    assert p.loss_chart.y_range == pytest.approx((logs.min(), logs.max()))
    # the table shows the final race's numbers
    s = SURFACES["rosenbrock"]
    for row, r in enumerate(p._result.runs):
        path, _ = expected_path_and_loss(p, r.name, p.controls.start)
        assert p.results.table.item(row, 0).text() == r.name
        assert float(p.results.table.item(row, 1).text()) == pytest.approx(s.value(*path[-1]), rel=0.03)  # 2–3 digits
    assert "step" in p.map.readout.text() and "Δθ" in p.map.readout.text()  # the settled readout, with sizes


def test_results_are_drawn_latest_wins_and_the_loss_plot_catches_up(panel, qtbot):
    """Two results arriving in one turn of the event loop are drawn once (the newer); during a drag the loss
    plot may lag the paths by at most its throttle interval, and then shows the newest race."""
    p = panel
    p._traj.stop()  # no races from the worker: only the results fed below arrive
    scenes = []
    for x in (-1.0, 0.2, 0.6):
        sc = p.scene(record=False)
        sc["start"] = [x, 1.5]
        scenes.append(run_scene(sc))
    p._detail_timer.start(60_000)  # a drag is on while the detail timer runs (held open for the test)
    frames0 = p.frames_drawn
    p._on_result(0, scenes[0])
    p._on_result(0, scenes[1])  # both arrive before the GUI gets a turn
    qtbot.waitUntil(lambda: p.frames_drawn > frames0 and not p._jobs, timeout=5000)
    assert p.frames_drawn == frames0 + 1  # the older one was never drawn
    adam = next(t for t in p._tracks.values() if t.name == "Adam")
    assert adam.path.getData()[0][0] == 0.2  # the newer race, from x = 0.2
    loss_shown = adam.loss.yData.copy()
    p._on_result(0, scenes[2])  # right after: the paths follow at once, the loss plot within 66 ms
    qtbot.waitUntil(lambda: p._incoming is None and adam.path.getData()[0][0] == 0.6, timeout=5000)
    if p._loss_timer.isActive():  # throttled: still the previous race's curve until the timer fires
        np.testing.assert_array_equal(adam.loss.yData, loss_shown)
    qtbot.waitUntil(lambda: not p._loss_timer.isActive() and not p._jobs, timeout=5000)
    _, loss = expected_path_and_loss(p, "Adam", (0.6, 1.5))
    np.testing.assert_allclose(adam.loss.yData, loss, rtol=1e-12)
    p._detail_timer.stop()


def test_toggling_an_optimizer_adds_and_removes_its_curve_and_legend_entry(panel, qtbot):
    p = panel
    assert "RMSprop" in legend_names(p) and "Nesterov" not in legend_names(p)
    p.racers.set_enabled("RMSprop", False)
    qtbot.waitUntil(lambda: p.is_idle() and all(r.name != "RMSprop" for r in p._result.runs), timeout=30000)
    assert "RMSprop" not in legend_names(p)
    assert "RMSprop" not in [t.name for t in p._tracks.values()]
    assert "RMSprop" not in [i.name() for i in p.loss_chart.plot.listDataItems()]
    p.racers.set_enabled("Nesterov", True)
    qtbot.waitUntil(lambda: p.is_idle() and any(r.name == "Nesterov" for r in p._result.runs), timeout=30000)
    assert "Nesterov" in legend_names(p)
    assert p.results.table.rowCount() == 5
    assert "Nesterov" in [p.results.table.item(i, 0).text() for i in range(p.results.table.rowCount())]


def test_duplicate_compares_two_settings_of_one_optimizer(panel, qtbot):
    p = panel
    p.racers.opt_list.setCurrentRow(p.racers.optimizer_row("Adam"))
    qtbot.mouseClick(p.racers.dup_button, Qt.MouseButton.LeftButton)
    p.racers.editor("Adam (2)").controls["beta1"].setValue(0.85)
    qtbot.waitUntil(lambda: p.is_idle() and any(r.name == "Adam (2)" for r in p._result.runs), timeout=30000)
    assert "Adam (2)" in legend_names(p)
    s = SURFACES["rosenbrock"]
    run = next(r for r in p._result.runs if r.name == "Adam (2)")
    expect = trajectory.run(s, ("adam", {"lr": ADAM_LR, "betas": (0.85, 0.999), "eps": 1e-8, "weight_decay": 0.0}),
                            s.start, 500)
    np.testing.assert_allclose(run.path, expect, atol=0)


@pytest.mark.parametrize("key", ["saddle", "adamw", "large_scale"])
def test_a_preset_sets_its_surface_and_optimizers(panel, qtbot, key):
    p = panel
    index = p.controls.preset_combo.findData(key)
    p.controls.preset_combo.setCurrentIndex(index)
    p.controls.preset_combo.activated.emit(index)  # what a click on the item sends
    preset = PRESETS[key]["state"]
    assert p.controls.surface_combo.currentData() == preset["surface"]
    assert p.controls.steps_spin.value() == preset["steps"]
    assert len(enabled_specs(p)) == len(preset["optimizers"])
    assert [k for _, k, _ in enabled_specs(p)] == [o["kind"] for o in preset["optimizers"]]
    assert p.controls.preset_text.text() == rich(PRESETS[key]["text"])
    settle(qtbot, p, preset["surface"])
    assert sorted(legend_names(p)) == sorted(n for n, _, _ in enabled_specs(p))
    s = SURFACES[preset["surface"]]
    assert p.controls.start == s.start


def test_after_a_surface_change_the_map_shows_the_new_surface_and_its_range(panel, qtbot):
    """A scenario on another surface re-ranges the map: its axes show the new range, and nothing of the
    previous surface stays on screen (a grab of the map equals one made after dropping every pixmap cache)."""
    p = panel
    for key, surface in (("adamw", "himmelblau"), ("zigzag", "ill_conditioned")):
        p.apply_preset(key)
        settle(qtbot, p, surface)
        plot = p.map.plot
        (x0, x1), (y0, y1) = plot.vb.viewRange()
        assert plot.getAxis("bottom").range == pytest.approx([x0, x1]), key
        assert plot.getAxis("left").range == pytest.approx([y0, y1]), key
        shown = p.map.widget.grab().toImage()
        for item in [*plot.vb.allChildItems(), *(plot.getAxis(n) for n in ("left", "bottom"))]:
            mode = item.cacheMode()
            item.setCacheMode(QGraphicsItem.CacheMode.NoCache)
            item.setCacheMode(mode)
        assert p.map.widget.grab().toImage() == shown, key


def test_saddle_story_adaptive_methods_escape_sgd_stalls(panel, qtbot):
    """The saddle preset's claim, checked on what the table shows."""
    p = panel
    p.apply_preset("saddle")
    settle(qtbot, p, "saddle")
    runs = {r.name: r for r in p._result.runs}
    assert abs(runs["SGD"].path[-1, 1]) < 0.1  # still near the ridge y = 0 after 150 steps
    assert abs(runs["Adam"].path[-1, 1]) > 2  # rolled off the saddle, past the edge of the domain
    assert abs(runs["RMSprop"].path[-1, 1]) > 2


def test_a_diverging_setting_shows_the_flag(panel, qtbot):
    p = panel
    qtbot.waitUntil(p.is_idle, timeout=30000)
    table = p.results.table
    # the default race stays on the map: no "diverged" column of "no"s taking the names' width
    assert table.isColumnHidden(4) and all(r.diverged_at is None and r.left_view_at is None for r in p._result.runs)
    name = table.horizontalHeader().sectionSize(0)
    assert name >= table.fontMetrics().horizontalAdvance("RMSprop") + 30  # icon and name whole
    p.racers.editor("SGD").controls["lr"].setValue(0.05)  # far beyond 2/λmax on Rosenbrock's walls
    qtbot.waitUntil(lambda: p.is_idle() and p._result.runs[0].base_lr == 0.05, timeout=30000)
    s = SURFACES["rosenbrock"]
    ref = trajectory.run_detailed(s, ("sgd", {"lr": 0.05, "weight_decay": 0.0}), s.start, 500)
    assert ref.diverged_at is not None
    row = [p.results.table.item(i, 0).text() for i in range(p.results.table.rowCount())].index("SGD")
    assert p.results.table.item(row, 4).text() == f"⚠ {ref.diverged_at}"
    assert not table.isColumnHidden(4)  # a run that blew up: the column is back
    # drawn up to where it left the view, not to the NaNs: finite, and the last point is outside the domain
    x, y = next(t for t in p._tracks.values() if t.name == "SGD").path.getData()
    assert np.all(np.isfinite(x)) and np.all(np.isfinite(y))
    assert len(x) <= ref.diverged_at + 1
    assert abs(x[-1]) > 2 or not (-1 <= y[-1] <= 3)
    # the other optimizers are unaffected
    assert all(r.diverged_at is None for r in p._result.runs if r.name != "SGD")


def test_bad_hyperparameter_message_is_shown_not_raised(panel, qtbot):
    p = panel
    p.racers.editor("Adam").controls["beta1"].setValue(0.0)
    p.racers.editor("Adam").controls["beta2"].setValue(0.0)  # β2 = 0 is allowed by torch; use an impossible lr instead
    p.racers.editor("Adam").controls["lr"].setValue(0.0)  # the slider clamps to its minimum: still valid
    qtbot.waitUntil(p.is_idle, timeout=30000)
    assert p.results.error_label.text() == ""  # nothing invalid reached the core
    p.controls.start_x.setText("abc")
    p.controls.start_x.editingFinished.emit()
    assert "start x must be a number" in p.results.error_label.text()
    assert "FFD6D6" in p.controls.start_x.styleSheet()
    p.controls.start_x.setText("0.5")
    p.controls.start_x.editingFinished.emit()
    assert p.controls.start[0] == 0.5 and p.controls.start_x.styleSheet() == ""


def test_overlay_arrows_point_along_the_recorded_vectors(panel, qtbot):
    p = panel
    wait_detail(qtbot, p)
    p.show_step(0)
    s = SURFACES["rosenbrock"]
    ref = trajectory.run_detailed(s, ("adam", {"lr": ADAM_LR, "betas": (0.9, 0.999), "eps": 1e-8,
                                               "weight_decay": 0.0}),
                                  s.start, 500, record=True)
    gx, gy = s.grad(*s.start)
    for key, vec in (("grad", (-gx, -gy)), ("step", ref.updates[0])):
        x, y = p.map.arrow_items[key].getData()
        shaft = np.array([x[1] - x[0], y[1] - y[0]])
        cos = shaft @ np.asarray(vec) / (np.linalg.norm(shaft) * np.linalg.norm(vec))
        assert cos == pytest.approx(1.0, abs=1e-9)
        assert (x[0], y[0]) == pytest.approx(s.start)
    # bias correction: Adam's first step is −lr·sign(g) in each coordinate (m̂ = g, v̂ = g²)
    assert ref.updates[0] == pytest.approx(-ADAM_LR * np.sign([gx, gy]), rel=1e-6)
    assert "Δθ/lr = (+1.000, +1.000)" in p.map.readout.text()
    # effective lr squares: Adam's are lr/(√v̂+ε) = lr/|g| at step 0
    row = [r.name for r in p._result.runs].index("Adam")
    ex, ey = p.eff_chart.x_marks.xData, p.eff_chart.y_marks.xData
    # x data of a log-x plot item is stored as given
    assert ex[row] == pytest.approx(ADAM_LR / (abs(gx) + 1e-8), rel=1e-6)
    assert ey[row] == pytest.approx(ADAM_LR / (abs(gy) + 1e-8), rel=1e-6)


def test_animation_steps_and_scrubs(panel, qtbot):
    p = panel
    p.rewind()
    x, _ = p._tracks[p._result.runs[0].uid].path.getData()
    assert len(x) == 1 and p.step_label.text() == "t 0/500"
    qtbot.mouseClick(p.step_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(p.step_button, Qt.MouseButton.LeftButton)
    x, _ = p._tracks[p._result.runs[0].uid].path.getData()
    assert len(x) == 3 and p.loss_chart.cursor.value() == 2
    qtbot.mouseClick(p.play_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: p._t >= 20, timeout=5000)
    qtbot.mouseClick(p.play_button, Qt.MouseButton.LeftButton)  # pause
    assert not p._playing
    p.instant_check.setChecked(True)
    assert p._t == 500


def test_swarm_colours_starts_by_basin(panel, qtbot):
    p = panel
    p.set_state({"surface": "himmelblau", "start": None, "steps": 200,
                 "swarm": {"enabled": True, "optimizer": "SGD", "n": 6}})
    qtbot.waitUntil(lambda: p.is_idle() and p._result.swarm is not None, timeout=30000)
    sw = p._result.swarm
    assert sw.starts.shape == (36, 2)
    s = SURFACES["himmelblau"]
    hyper = p.racers.editor("SGD").hyper()
    ends = trajectory.run(s, ("sgd", hyper), sw.starts, 200)[-1]
    mins = np.array(s.minima)
    for k in range(36):
        if sw.basin[k] >= 0:
            assert np.linalg.norm(ends[k] - mins[sw.basin[k]]) < 0.5
    assert len(set(sw.basin[sw.basin >= 0])) >= 2  # several basins on a four-minimum surface
    assert len(p.map.swarm_item.data) == 36
    p.controls.swarm_check.setChecked(False)  # off again: the squares go
    qtbot.waitUntil(lambda: p.is_idle() and p._result.swarm is None, timeout=30000)
    assert not p.map.swarm_item.isVisible() and len(p.map.swarm_item.data) == 0


def test_state_round_trip_and_bad_entries_ignored(panel, qtbot):
    p = panel
    p.racers.editor("Adam").controls["lr"].setValue(0.05)
    p.racers.set_enabled("AMSGrad", True)
    state = p.get_state()
    p.reset_defaults()
    assert p.racers.editor("Adam").values()["lr"] == pytest.approx(ADAM_LR)
    p.set_state(state)
    assert p.racers.editor("Adam").values()["lr"] == pytest.approx(0.05)
    assert [n for n, _, _ in enabled_specs(p)] == [o["name"] for o in state["optimizers"] if o["enabled"]]
    p.set_state({"surface": "nope", "steps": "many", "start": ["x", 1], "optimizers": [{"kind": "lbfgs"}],
                 "speed": 7, "swarm": 3, "overlay": None})
    assert p.controls.surface_combo.currentData() == "rosenbrock"
    assert p.controls.steps_spin.value() == 500
    assert len(p.racers.entries) == len(state["optimizers"])
    qtbot.waitUntil(p.is_idle, timeout=30000)
    # A known kind with unusable values is skipped whole: no half-added optimizer without an editor.
    p.set_state({"steps": float("inf"), "swarm": {"n": float("inf")},
                 "optimizers": [{"kind": "adam", "values": {"lr": None}},
                                {"kind": "sgd", "values": {"lr": float("nan")}},
                                {"kind": "adamw", "values": {"lr": 0.01}}]})
    assert [e["kind"] for e in p.racers.entries] == ["adamw"]
    assert p.scene(False)["optimizers"][0]["hyper"]["lr"] == 0.01
    assert p.get_state()["optimizers"][0]["kind"] == "adamw"
    qtbot.waitUntil(p.is_idle, timeout=30000)


def test_ill_conditioned_controls_rebuild_the_bowl(panel, qtbot):
    p = panel
    p.controls.surface_combo.setCurrentIndex(p.controls.surface_combo.findData("ill_conditioned"))
    assert p.controls.cond_slider.isVisible() and p.controls.angle_slider.isVisible()
    p.controls.angle_slider.setValue(0.0)
    p.controls.cond_slider.setValue(100.0)
    settle(qtbot, p, "ill_conditioned")
    from adamlab.core.surfaces import ill_conditioned
    s = ill_conditioned(100.0, 0.0)
    name, kind, hyper = enabled_specs(p)[0]
    np.testing.assert_allclose(p._result.runs[0].path, trajectory.run(s, (kind, hyper), p.controls.start, 500), atol=0)


@pytest.mark.parametrize("size", [(1096, 740), (840, 640)])  # the panel's room in a 1280×800 / 1024×700 window
def test_layout_fits_the_window(qtbot, size):
    """Nothing is clipped: the panel's minimum width fits the window next to the sidebar (≤ 1080 px, and
    ≤ 840 px so it still fits a 1024-px window), the control column is not cut off on the right, the
    scenario text wraps completely, and the results table needs no horizontal scroll bar."""
    p = SurfacePanel()
    qtbot.addWidget(p)
    assert p.minimumSizeHint().width() <= 1080
    assert p.minimumSizeHint().width() <= 840
    p.resize(*size)
    p.show()
    qtbot.waitUntil(p.is_idle, timeout=30000)
    assert p.width() == size[0]  # the panel did not have to grow beyond its room
    scroll = p.controls
    assert scroll.widget().width() <= scroll.viewport().width()
    for label in (p.controls.preset_text, p.controls.surface_desc):
        assert label.text() and label.wordWrap()
        assert label.height() >= label.heightForWidth(label.width())  # every wrapped line is shown
        assert label.geometry().right() <= scroll.widget().width()
    assert p.controls.preset_text.text() == rich(PRESETS["race"]["text"])  # the default scene tells its story
    header = p.results.table.horizontalHeader()
    assert header.length() <= p.results.table.viewport().width()
    assert not p.results.table.horizontalScrollBar().isVisible()
    assert p.map.widget.width() >= 300 and p.map.widget.height() >= 300
    for w in (p.play_button, p.step_button, p.reset_button, p.instant_check, p.step_label):
        assert w.width() >= w.sizeHint().width()  # the animation bar is not squeezed
    for widget, item in ((p.map.widget, p.map.plot), (p.loss_chart.widget, p.loss_chart.plot),
                         (p.eff_chart.widget, p.eff_chart.plot)):
        assert item.sceneBoundingRect().width() <= widget.viewport().width() + 0.5  # the plot is not cut off


def test_races_run_in_a_child_process_that_shutdown_ends(qtbot):
    """A drag's races are computed by the child process (so the GUI thread keeps the GIL), they equal the
    in-thread computation exactly, and closing the panel leaves no process behind."""
    p = SurfacePanel()
    qtbot.addWidget(p)
    p.show()
    qtbot.waitUntil(p.is_idle, timeout=30000)
    # scenes are computed in-thread until the child has imported NumPy and said "ready" (seconds on a busy
    # machine): wait for that, not for a number of scenes
    qtbot.waitUntil(p._race._remote_ready, timeout=30000)
    before = p._race.remote_count
    for x in (-0.5, 0.0, 0.5):
        p.set_start(x, 2.0)
        qtbot.waitUntil(lambda: p.is_idle() and p._result.runs[0].path[0, 0] == x, timeout=30000)
    assert p._race.fallback is None
    assert p._race.remote_count > before
    pid = p._race.pid
    assert pid is not None and pid != os.getpid() and pid_alive(pid)
    local = run_scene(p.scene(record=True))  # the same scene, computed here
    for drawn, ref in zip(p._result.runs, local.runs, strict=True):
        assert drawn.name == ref.name
        for key in ("path", "loss", "grads", "updates"):
            np.testing.assert_array_equal(getattr(drawn, key), getattr(ref, key))
        for key in ("m_hat", "eff_lr"):
            a, b = getattr(drawn, key), getattr(ref, key)
            assert (a is None) == (b is None)
            if a is not None:
                np.testing.assert_array_equal(a, b)
        assert (drawn.final_loss, drawn.steps_to_tol, drawn.diverged_at) == (ref.final_loss, ref.steps_to_tol,
                                                                          ref.diverged_at)
    p.close()  # what qtbot does at the end; calls shutdown()
    assert not pid_alive(pid)
    assert live_processes() == []
    p.shutdown()  # idempotent


def test_race_process_errors_and_fallback():
    """The child re-raises a bad scene's ValueError in the caller; a child that cannot start or dies makes
    compute() fall back to computing in the calling thread, with the same result."""
    scene = {"surface": "rosenbrock", "start": [-1.2, 1.0], "steps": 50, "optimizers": [
        {"uid": 1, "name": "Adam", "kind": "adam", "hyper": {"lr": 0.1}}]}
    race = RaceProcess()
    try:
        while not race._remote_ready():  # wait for the child's imports (compute() would not wait)
            pass
        with pytest.raises(ValueError, match="surface must be one of"):
            race.compute({**scene, "surface": "nope"})
        res = race.compute(scene)
        assert race.remote_count == 1
        np.testing.assert_array_equal(res.runs[0].path, run_scene(scene).runs[0].path)
        race._proc.kill()  # the child dies: this and later scenes are computed here
        race._proc.wait()
        res = race.compute(scene)
        assert race.fallback and "race process failed" in race.fallback
        np.testing.assert_array_equal(res.runs[0].path, run_scene(scene).runs[0].path)
    finally:
        race.close()
    assert race.compute(scene) is None  # closed: nothing more to compute
    assert live_processes() == []


def test_the_race_child_imports_no_qt():
    """The child imports RACE_ENTRY's module by name, and with it the panel's package: neither may load Qt
    (the point of the child is an interpreter whose GIL the GUI thread does not share)."""
    module, _, name = RACE_ENTRY.partition(":")
    assert callable(getattr(importlib.import_module(module), name))
    result = _import_in_fresh_python(module)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


# --- Qt-free helpers ------------------------------------------------------------------------------------------


def test_contour_segments_lie_on_the_level_set():
    """Marching squares on x² + y² at level 1: every end point is on the unit circle (to grid accuracy),
    and the segments go all the way round."""
    xs = np.linspace(-2, 2, 81)
    Z = xs[None, :] ** 2 + xs[:, None] ** 2
    P = contour_segments(xs, xs, Z, 1.0)
    r = np.hypot(P[:, 0], P[:, 1])
    assert np.all(np.abs(r - 1) < 2e-3)  # linear interpolation error ~ h²/8 with h = 0.05
    length = np.sum(np.linalg.norm(P[1::2] - P[0::2], axis=1))
    assert length == pytest.approx(2 * math.pi, rel=1e-3)
    angles = np.sort(np.arctan2(P[:, 1], P[:, 0]))
    assert np.max(np.diff(angles)) < 0.1  # no gap in the circle


def test_rows_to_draw_stops_at_the_view_edge():
    lo, hi = np.array([-1.0, -1.0]), np.array([1.0, 1.0])
    path = np.array([[0, 0], [0.5, 0], [2.0, 0], [np.nan, np.nan]])
    assert rows_to_draw(path, lo, hi) == (3, 2)
    assert rows_to_draw(path[:2], lo, hi) == (2, None)
    assert rows_to_draw(np.array([[0, 0], [np.nan, np.nan]]), lo, hi) == (1, 1)


def test_arrow_segments_geometry():
    pts = arrow_segments((1.0, 2.0), (3.0, 4.0), 10.0)
    assert pts.shape == (6, 2)
    np.testing.assert_allclose(pts[1], (1 + 6.0, 2 + 8.0))  # tip = origin + length · unit direction
    for head in (pts[3], pts[5]):  # head strokes end behind the tip
        assert np.dot(head - pts[1], (0.6, 0.8)) < 0
    assert arrow_segments((0, 0), (0, 0), 1.0).shape == (0, 2)
    assert arrow_segments((0, 0), (np.nan, 1), 1.0).shape == (0, 2)


def test_grid_axis_paints_the_same_pixels_as_pyqtgraphs_axis(panel, qtbot):
    """The loss and effective-lr axes (log scale, grid) look exactly like pyqtgraph's AxisItem."""
    p = panel
    wait_detail(qtbot, p)
    axes = [p.loss_chart.plot.getAxis("left"), p.loss_chart.plot.getAxis("bottom"), p.eff_chart.plot.getAxis("bottom")]
    assert all(isinstance(ax, GridAxis) for ax in axes)
    for ax in axes:
        rect = ax.boundingRect()
        for dx, dy in ((0.0, 0.0), (0.9125, 0.4)):
            images = []
            for fast in (True, False):
                ax.picture = None
                img = blank_image(int(rect.width()) + 4, int(rect.height()) + 4)
                painter = QPainter(img)
                painter.translate(1 + dx, 1 + dy)
                if fast:
                    ax.paint(painter, None, None)
                else:
                    ax._offset = None  # pyqtgraph's own drawing: lines
                    pg.AxisItem.paint(ax, painter, None, None)
                painter.end()
                images.append(img)
            assert images[0] == images[1], (ax.orientation, dx, dy)
    ax.picture = None
