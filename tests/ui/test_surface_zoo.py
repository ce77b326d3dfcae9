"""The arena's optimizer zoo and fair races, driven as a person would: every kind on a point races (its path is
the core's), each shows its description and its kind's colour; Tune finds known best learning rates, the
editors take them, the sensitivity plot shows the core's numbers, Cancel stops the child within a bound.
And the #11 items of the arena: axes after a surface change, keys instead of legends on the data, the swarm's
basin key, the scenario paragraph after a hand-made change, announced clamps.
"""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from adamlab.core import trajectory
from adamlab.core.optim import OPTIMIZERS, Muon, MuonAdamW
from adamlab.core.surfaces import SURFACES
from adamlab.core.tune import tune
from adamlab.ui import theme
from adamlab.ui.panels.surface import SurfacePanel
from adamlab.ui.panels.surface.charts import FLOOR
from adamlab.ui.panels.surface.race import PointWise, lr_grid, run_scene, warmup_for
from adamlab.ui.panels.surface.racers import ARENA_KINDS, DASHES, SYMBOLS, kind_symbol
from adamlab.ui.widgets.hyper import KIND_KNOBS
from adamlab.ui.widgets.symbols import rich_from_plain
from tests.ui.test_ranges import type_into
# the arena's fixtures: no race child left behind, and a shown panel at the default scene
from tests.ui.test_surface_panel import no_race_process_left, panel  # noqa: F401  (pytest fixtures)


def load(qtbot, p, state):
    p.set_state(state)
    qtbot.waitUntil(lambda: p.is_idle() and p._result.surface == state.get("surface", p._result.surface),
                    timeout=30000)


def racer(kind, lr, enabled=True, name=None, **values):
    return {"kind": kind, "name": name, "enabled": enabled, "values": {"lr": lr, **values}}


def press_tune(qtbot, p):
    p.controls.tabs.setCurrentWidget(p.controls.tune)
    qtbot.mouseClick(p.controls.tune.tune_button, Qt.MouseButton.LeftButton)
    assert p._tune_pending


def wait_tuned(qtbot, p, timeout=30000):
    qtbot.waitUntil(lambda: p._tune_pending == 0 and p.tune_report is not None and p.is_idle(), timeout=timeout)


# --- the zoo ------------------------------------------------------------------------------------------------


def test_every_optimizer_defined_on_a_point_is_offered_and_muon_says_why_not():
    assert set(ARENA_KINDS) == {k for k, spec in OPTIMIZERS.items() if spec.cls not in (Muon, MuonAdamW)}
    assert len(ARENA_KINDS) == 17


# lrs that keep each path on Rosenbrock's map for 150 steps
RACE_LR = {"sgd": 1e-3, "momentum": 1e-3, "nesterov": 1e-3, "adagrad": 0.5, "rmsprop": 1e-2, "adam": 0.2,
           "amsgrad": 0.2, "adamw": 0.2, "nadam": 0.05, "radam": 0.005, "adamax": 0.5, "adopt": 0.5,
           "adadelta": 1.0, "adafactor": 1.0, "lion": 0.01, "ademamix": 0.1, "schedulefree_adamw": 0.1}


def test_every_kind_races_its_core_path_with_its_description_colour_and_marker(panel, qtbot):
    """All 17 kinds race together: each drawn path equals trajectory.run with the editor's settings, in the
    kind's colour (dashed for a second copy) with its family marker, and selecting it shows its description."""
    p = panel
    opts = [racer(k, RACE_LR[k]) for k in ARENA_KINDS] + [racer("adam", 0.05, name="Adam slow")]
    load(qtbot, p, {"surface": "rosenbrock", "start": None, "steps": 150, "optimizers": opts})
    s = SURFACES["rosenbrock"]
    assert [r.kind for r in p._result.runs] == [*ARENA_KINDS, "adam"]
    for e in p.racers.entries:
        hyper = p.racers.editors[e["uid"]].hyper()
        expect = trajectory.run(s, (e["kind"], hyper), s.start, 150)
        run = next(r for r in p._result.runs if r.uid == e["uid"])
        np.testing.assert_array_equal(run.path, expect)
        track = p._tracks[e["uid"]]
        x, y = track.path.getData()
        np.testing.assert_array_equal(np.c_[x, y], expect[:run.shown])
        assert track.path.opts["pen"].color().name().upper() == theme.optimizer_color(e["kind"]).upper()
        dash = 1 if e["name"] == "Adam slow" else 0
        assert track.path.opts["pen"].style() == DASHES[dash][0]
        assert track.symbol == kind_symbol(e["kind"])
        p.racers.opt_list.setCurrentRow(p.racers.optimizer_row(e["name"]))
        assert p.racers.description.text() == rich_from_plain(OPTIMIZERS[e["kind"]].description)
        assert p.racers.description.isVisible()
    # the current-point markers use each kind's symbol
    qtbot.waitUntil(p.is_idle, timeout=30000)
    # (and schedule-free's average x a small dot just before its own marker)
    symbols = [pt.symbol() for pt in p.map.markers.points()]
    want = []
    for r in p._result.runs:
        if r.left_view_at is None:
            want += ["o"] * (r.eval_path is not None) + [SYMBOLS[kind_symbol(r.kind)][0]]
    assert symbols == want and want.count("o") >= 2
    # the key under the map names every racer
    assert p.map.key_names == [r.name for r in p._result.runs]


def test_the_add_menu_lists_every_kind_by_family_and_muon_greyed_with_its_reason(panel):
    menu = panel.racers.add_button.menu()
    actions = [a for a in menu.actions() if not a.isSeparator()]
    labels = [a.text() for a in actions if a.isEnabled()]
    assert labels == [OPTIMIZERS[k].label for k in ARENA_KINDS]
    muon = next(a for a in actions if a.text().startswith("Muon"))
    assert not muon.isEnabled() and "normalised momentum" in muon.toolTip()
    n = len(panel.racers.entries)
    next(a for a in actions if a.text() == "Lion").trigger()
    assert panel.racers.entries[-1]["kind"] == "lion" and len(panel.racers.entries) == n + 1


def test_colours_follow_the_kind_one_table_for_the_app():
    """Every kind has a colour that reads on both plot backgrounds; within a family, colour and marker
    together tell every member apart."""
    def luminance(hex_color):
        c = [int(hex_color[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        c = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in c]
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]

    def contrast(a, b):
        la, lb = sorted((luminance(a), luminance(b)))
        return (lb + 0.05) / (la + 0.05)

    assert set(theme.OPTIMIZER_COLORS) == set(OPTIMIZERS)
    for kind, color in theme.OPTIMIZER_COLORS.items():
        assert theme.optimizer_color(kind) == color
        for bg in ("#FFFFFF", "#1E1E1E"):  # theme._BACKGROUND: light and dark plots
            assert contrast(color, bg) >= 2.2, (kind, bg)
    assert len(set(theme.OPTIMIZER_COLORS.values())) == len(OPTIMIZERS)
    looks = {(theme.optimizer_color(k), kind_symbol(k)) for k in OPTIMIZERS}
    assert len(looks) == len(OPTIMIZERS)
    for members in theme.OPTIMIZER_FAMILIES.values():  # the marker alone tells family members apart
        assert len({kind_symbol(k) for k in members}) == len(members)
    with pytest.raises(ValueError, match="optimizer kind"):
        theme.optimizer_color("lbfgs")


def test_a_swarm_of_adafactor_steps_each_start_as_its_own_point(panel, qtbot):
    """Adafactor factors an array's second moment as a matrix: the swarm steps each start alone, so every
    start ends where a lone run from it ends (a (K, 2) stack in one optimizer would not)."""
    p = panel
    load(qtbot, p, {"surface": "himmelblau", "start": None, "steps": 60, "optimizers": [racer("adafactor", 0.3)],
                    "swarm": {"enabled": True, "optimizer": "Adafactor", "n": 4}})
    qtbot.waitUntil(lambda: p.is_idle() and p._result.swarm is not None, timeout=30000)
    sw = p._result.swarm
    s = SURFACES["himmelblau"]
    hyper = p.racers.editor("Adafactor").hyper()
    for k in range(len(sw.starts)):
        np.testing.assert_array_equal(sw.ends[k], trajectory.run(s, ("adafactor", hyper), sw.starts[k], 60)[-1])
    stacked = trajectory.run(s, ("adafactor", hyper), sw.starts, 60)[-1]
    assert not np.allclose(stacked, sw.ends)  # what the swarm would have drawn as one matrix
    # a bigger grid is capped (each start costs an optimizer call per step), and the key says so
    p.controls.swarm_n.setValue(20)
    qtbot.waitUntil(lambda: p.is_idle() and p._result.swarm is not None and len(p._result.swarm.starts) == 64,
                    timeout=20000)
    assert "8 × 8: each start is stepped alone" in p.map.key.text()
    assert PointWise("adafactor", hyper, 3).lr == hyper["lr"]


# --- fair races -----------------------------------------------------------------------------------------------


def test_tune_finds_the_known_best_lr_of_a_bowl_and_the_editors_take_it(panel, qtbot):
    """Gradient descent on x² + y² (curvature 2) maps x to (1 − 2·lr)·x: lr = 0.5 lands on the minimum in one
    step. On the grid 0.05 … 5 (five values: 0.05, 0.158, 0.5, 1.58, 5) Tune must pick 0.5, put it into SGD's
    editor, say so, and race it: the drawn path is at (0, 0) after one step."""
    p = panel
    load(qtbot, p, {"surface": "quadratic", "start": [1.5, -1.0], "steps": 50,
                    "optimizers": [racer("sgd", 1e-3), racer("adam", 0.01, enabled=False)]})
    t = p.controls.tune
    p.controls.tabs.setCurrentWidget(t)
    type_into(qtbot, t.lr_lo, "0.05")
    type_into(qtbot, t.lr_hi, "5")
    type_into(qtbot, t.n_lrs, "5")
    press_tune(qtbot, p)
    wait_tuned(qtbot, p)
    c = p.tune_report.result.curves[0]
    assert list(c.lrs) == [0.05, 0.158, 0.5, 1.58, 5.0]
    assert c.best_lr == 0.5 and c.best_loss == 0.0
    assert p.racers.editor("SGD").values()["lr"] == 0.5
    assert p.racers.editor("Adam").values()["lr"] == 0.01  # not ticked: not tuned
    p.racers.opt_list.setCurrentRow(0)
    assert "tuned: lr = 0.5" in p.racers.editor_title.text()
    assert "lr 0.5" in t.summary.text() and "Racing at the tuned settings" in t.summary.text()
    qtbot.waitUntil(lambda: p.is_idle() and p._result.runs[0].base_lr == 0.5, timeout=30000)
    path = p._result.runs[0].path
    np.testing.assert_array_equal(path, trajectory.run(SURFACES["quadratic"], ("sgd", {"lr": 0.5, "weight_decay": 0.0}),
                                                       (1.5, -1.0), 50))
    assert tuple(path[1]) == (0.0, 0.0)
    # an edit afterwards: the editor no longer claims to hold the tuned value
    p.racers.editor("SGD").controls["lr"].setValue(0.3)
    assert "tuned" not in p.racers.editor_title.text()
    assert p.middle.currentWidget() is p.sensitivity


@pytest.mark.parametrize("noise, second", [(0.0, None), (2.0, "beta1")])
def test_the_sensitivity_plot_draws_the_cores_numbers(panel, qtbot, noise, second):
    """What the plot shows is core.tune's result for the same scene, computed here independently: the score
    per lr (inf as a gap and a × along the top, 0 at the floor), the chosen lr marked; with noise the mean
    over the seeds, with a second knob its best value."""
    p = panel
    opts = [racer("momentum", 1e-3), racer("adam", 0.2), racer("lion", 0.01), racer("rmsprop", 0.01, enabled=False)]
    load(qtbot, p, {"surface": "rosenbrock", "start": None, "steps": 200, "noise": noise, "seed": 4,
                    "schedule": "warmup_cosine", "optimizers": opts})
    specs = [(o["kind"], o["hyper"]) for o in p.scene()["optimizers"] if o["enabled"]]
    t = p.controls.tune
    t.n_lrs.setValue(13)
    t.seeds.setValue(2)
    t.second_combo.setCurrentIndex(t.second_combo.findData(second))
    press_tune(qtbot, p)
    wait_tuned(qtbot, p)
    s = SURFACES["rosenbrock"]
    sec = {"momentum": ("momentum", (0.5, 0.8, 0.9, 0.95, 0.99)), "adam": ("betas[0]", (0.5, 0.8, 0.9, 0.95, 0.99)),
           "lion": ("betas[0]", (0.5, 0.8, 0.9, 0.95, 0.99))} if second else None
    ref = tune(s, specs, s.start, 200, lrs=lr_grid(1e-5, 10.0, 13), noise=noise, seeds=2, seed=4,
               schedule="warmup_cosine", warmup=warmup_for("warmup_cosine", 200), second=sec)
    drawn = p.sensitivity
    assert len(drawn.curves) == 3
    for uid, c in zip(p.tune_report.uids, ref.curves):
        x, y = drawn.curves[uid].xData, drawn.curves[uid].yData
        np.testing.assert_array_equal(x, c.lrs)
        expect = np.where(np.isfinite(c.sensitivity), np.maximum(c.sensitivity, FLOOR), np.nan)
        np.testing.assert_array_equal(y, expect)
        bad = c.lrs[~np.isfinite(c.sensitivity)]
        np.testing.assert_array_equal(drawn.diverged[uid], bad)
        assert drawn.chosen[uid] == c.best_lr and c.best_lr in list(drawn.best_marks.xData)
        assert p.racers.editors[uid].hyper() == {**p.racers.editors[uid].hyper(), **c.best}
        if second:
            assert c.second in ("momentum", "betas[0]") and c.best_value in (0.5, 0.8, 0.9, 0.95, 0.99)


def test_cancel_stops_the_childs_tuning_within_a_bound_and_the_panel_stays_usable(panel, qtbot):
    p = panel
    opts = [racer(k, RACE_LR[k]) for k in ARENA_KINDS]
    load(qtbot, p, {"surface": "rosenbrock", "start": None, "steps": 5000, "optimizers": opts})
    before = {e["uid"]: p.racers.editors[e["uid"]].values() for e in p.racers.entries}
    press_tune(qtbot, p)
    qtbot.waitUntil(lambda: p._race.tune_progress > 0.01, timeout=30000)  # the child is searching
    pid = p._race.pid
    t0 = time.monotonic()
    qtbot.mouseClick(p.controls.tune.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: p._tune_pending == 0, timeout=5000)
    assert time.monotonic() - t0 < 1.0  # the child polls for the cancel every ~50 steps of one optimizer
    assert p._race.pid == pid  # it stopped by itself: not killed
    assert "cancelled" in p.controls.tune.progress.format()
    assert p.controls.tune.tune_button.isEnabled() and not p.controls.tune.cancel_button.isEnabled()
    assert {e["uid"]: p.racers.editors[e["uid"]].values() for e in p.racers.entries} == before
    # usable: a race and another tune still run, in the same child
    p.controls.steps_spin.setValue(100)
    p.set_start(0.5, 2.0)
    qtbot.waitUntil(lambda: p.is_idle() and p._result.runs[0].path[0, 0] == 0.5, timeout=30000)
    press_tune(qtbot, p)
    wait_tuned(qtbot, p)
    assert len(p.tune_report.result.curves) == 17 and p._race.remote_tunes >= 1


def test_a_child_that_does_not_stop_is_killed_after_the_grace(panel, qtbot, monkeypatch):
    """If the child does not answer the cancel (hung), the panel ends it after CANCEL_GRACE_MS; the next
    race starts a fresh child."""
    p = panel
    load(qtbot, p, {"surface": "rosenbrock", "start": None, "steps": 5000,
                    "optimizers": [racer(k, RACE_LR[k]) for k in ARENA_KINDS]})
    monkeypatch.setattr(p._race, "cancel_tune", lambda: p._race._cancel.set())  # the cancel never reaches it
    press_tune(qtbot, p)
    qtbot.waitUntil(lambda: p._race.tune_progress > 0.01, timeout=30000)
    pid = p._race.pid
    t0 = time.monotonic()
    qtbot.mouseClick(p.controls.tune.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: p._tune_pending == 0, timeout=30000)
    assert time.monotonic() - t0 < 3.0
    assert p._race.pid != pid and p._race.fallback is None
    p.controls.steps_spin.setValue(80)
    qtbot.waitUntil(lambda: p.is_idle() and len(p._result.runs[0].path) == 81, timeout=20000)


def test_tuning_in_thread_when_there_are_no_child_processes(qtbot, monkeypatch):
    monkeypatch.setattr("adamlab.ui.panels.surface.panel.USE_PROCESS", False)
    p = SurfacePanel()
    qtbot.addWidget(p)
    p.show()
    qtbot.waitUntil(p.is_idle, timeout=30000)
    p.controls.tune.n_lrs.setValue(5)
    press_tune(qtbot, p)
    wait_tuned(qtbot, p)
    assert p._race.remote_tunes == 0 and len(p.tune_report.result.curves) == 5


def test_a_preset_can_tune_as_it_loads(panel, qtbot):
    p = panel
    p.apply_preset("fair_race")
    wait_tuned(qtbot, p)
    rep = p.tune_report
    assert rep.names == ["SGD + momentum", "Adam", "AdamW", "NAdam", "ADOPT", "Lion", "AdEMAMix",
                         "Schedule-free AdamW"]
    for uid, c in zip(rep.uids, rep.result.curves):
        assert p.racers.editors[uid].values()["lr"] == c.best_lr
    qtbot.waitUntil(lambda: p.is_idle() and all(
        r.base_lr == c.best_lr for r, c in zip(p._result.runs, rep.result.curves)), timeout=30000)


# --- #11 ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("surface, start", [("large_scale", None), ("saddle", None)])
def test_after_picking_another_surface_the_axes_and_the_start_are_drawn_in_its_range(panel, qtbot, surface, start):
    """#11 item 1: the huge bowl was labelled −2…2 and a saddle start at (1.5, 0.001) drawn at y = 1 until the
    window was resized. Picked from the combo as a person does: the axes' ticks lie in the new view, and the
    start handle is painted where the start is."""
    p = panel
    combo = p.controls.surface_combo
    combo.setCurrentIndex(combo.findData(surface))
    qtbot.waitUntil(lambda: p.is_idle() and p._result.surface == surface, timeout=30000)
    qtbot.wait(50)
    s = SURFACES[surface]
    plot = p.map.plot
    (x0, x1), (y0, y1) = plot.vb.viewRange()
    (dx0, dx1), (dy0, dy1) = s.domain
    assert x0 <= dx0 and x1 >= dx1 and y0 <= dy0 and y1 >= dy1
    assert x1 - x0 < 3 * (dx1 - dx0) and y1 - y0 < 3 * (dy1 - dy0)
    for name, (lo, hi) in (("bottom", (x0, x1)), ("left", (y0, y1))):
        axis = plot.getAxis(name)
        assert axis.range == pytest.approx([lo, hi])
        ticks = [v for _, values in axis.tickValues(lo, hi, axis.width() if name == "left" else axis.width())
                 for v in values]
        assert ticks and all(lo <= v <= hi for v in ticks) and max(ticks) - min(ticks) > 0.3 * (hi - lo)
    # the handle is painted at the start: its scene position maps back to the start in view coordinates
    scene_pos = p.map.handle.mapToScene(QPointF(0, 0))
    view = plot.vb.mapSceneToView(scene_pos)
    assert (view.x(), view.y()) == pytest.approx(s.start, abs=1e-6 * (dx1 - dx0))
    px = plot.vb.mapViewToScene(QPointF(*s.start))
    assert (scene_pos.x(), scene_pos.y()) == pytest.approx((px.x(), px.y()), abs=0.5)


def test_no_legend_box_on_the_arenas_plots_the_key_is_beside_them(panel, qtbot):
    """#11 item 6: the map's legend covered paths. No plot of the arena has a legend; the key under the map
    names the racers in their colours and lines."""
    p = panel
    for plot in p.plots().values():
        assert plot.legend is None
    text = p.map.key.text()
    for r in p._result.runs:
        assert r.name.replace(" ", "&nbsp;") in text and theme.optimizer_color(r.kind) in text
    assert p.map.key.isVisible() and p.map.key.geometry().top() >= p.map.widget.geometry().bottom()


def test_the_swarm_has_a_key_of_its_basin_colours(panel, qtbot):
    """#11 item 8: the swarm's basin colours had no key. The key names each minimum reached by its colour,
    and none / diverged; it goes with the swarm."""
    from adamlab.ui.panels.surface.map_view import point_text, swarm_brush_color

    p = panel
    load(qtbot, p, {"surface": "himmelblau", "start": None, "steps": 200, "optimizers": [racer("sgd", 0.01)],
                    "swarm": {"enabled": True, "optimizer": "SGD", "n": 8}})
    qtbot.waitUntil(lambda: p.is_idle() and p._result.swarm is not None, timeout=30000)
    sw = p._result.swarm
    text = p.map.key.text()
    assert "Swarm" in text
    found = sorted({int(b) for b in sw.basin})
    assert len([b for b in found if b >= 0]) >= 2
    for b in found:
        r, g, bl, _ = swarm_brush_color(b)
        assert f"#{r:02x}{g:02x}{bl:02x}" in text
        if b >= 0:
            assert point_text(sw.targets[b]) in text
    brushes = [pt.brush().color().getRgb() for pt in p.map.swarm_item.points()]
    assert brushes == [swarm_brush_color(int(b)) for b in sw.basin]
    p.controls.swarm_check.setChecked(False)
    qtbot.waitUntil(lambda: p.is_idle() and p._result.swarm is None, timeout=30000)
    assert "Swarm" not in p.map.key.text()


def test_a_scenarios_story_gives_way_once_the_surface_is_changed_by_hand(panel, qtbot):
    """#11 item 8: a scenario's paragraph stayed after the surface was changed by hand."""
    p = panel
    p.apply_preset("saddle")
    qtbot.waitUntil(lambda: p.is_idle() and p._result.surface == "saddle", timeout=30000)
    assert "ridge" in p.controls.preset_text.text()
    combo = p.controls.surface_combo
    combo.setCurrentIndex(combo.findData("beale"))
    assert "Custom scene" in p.controls.preset_text.text() and "ridge" not in p.controls.preset_text.text()
    assert p.controls.preset_combo.currentText() == "(custom scene)" and p.get_state()["preset"] == ""
    p.apply_preset("zigzag")  # a scenario again: its own story; the bowl's κ and angle belong to its story
    p.controls.angle_slider.setValue(0.0)
    assert "angle to 0°" in p.controls.preset_text.text()


@pytest.mark.parametrize("box, typed, limit", [("steps_spin", "100000", "5000"), ("seed_spin", "-3", "0"),
                                               ("swarm_n", "400", "40")])
def test_the_arenas_own_boxes_say_when_they_clamp(panel, qtbot, box, typed, limit):
    """#11 item 7: values outside a control's range were clamped silently; the arena's own boxes (steps, seed,
    swarm grid, the Tune tab's) say so in the status bar, like the shared knob sliders."""
    p = panel
    spin = getattr(p.controls, box)
    with qtbot.waitSignal(p.statusMessage, check_params_cb=lambda m: f"{typed} is" in m and limit in m):
        type_into(qtbot, spin, typed)
    assert spin.text() == limit


def test_the_noise_and_tune_boxes_say_so_too(panel, qtbot):
    p = panel
    with qtbot.waitSignal(p.statusMessage, check_params_cb=lambda m: "σ: 100 is above" in m):
        type_into(qtbot, p.controls.noise_slider.spin, "100")
    assert p.controls.noise_slider.value() == 50.0
    with qtbot.waitSignal(p.statusMessage, check_params_cb=lambda m: "lowest lr: 0 is below" in m):
        type_into(qtbot, p.controls.tune.lr_lo, "0")
    with qtbot.waitSignal(p.statusMessage, check_params_cb=lambda m: "lr: 0 is below" in m):
        type_into(qtbot, p.racers.editor("Adam").controls["lr"].spin, "0")


def test_settings_keep_the_tune_tab_and_a_long_saved_list_is_cut(panel, qtbot):
    p = panel
    t = p.controls.tune
    t.n_lrs.setValue(9)
    t.second_combo.setCurrentIndex(t.second_combo.findData("weight_decay"))
    state = p.get_state()
    p.reset_defaults()
    p.set_state(state)
    assert t.n_lrs.value() == 9 and t.second_combo.currentData() == "weight_decay"
    p.set_state({"optimizers": [racer("adam", 0.01)] * 1000})
    assert len(p.racers.entries) == p.racers.MAX_ENTRIES
    qtbot.waitUntil(p.is_idle, timeout=20000)


def test_every_kind_has_its_editor_knobs_in_the_arena(panel, qtbot):
    for kind in ARENA_KINDS:
        uid = panel.racers.add_optimizer(kind)
        assert set(panel.racers.editors[uid].controls) == set(KIND_KNOBS[kind])
    qtbot.waitUntil(panel.is_idle, timeout=20000)
    assert not math.isnan(run_scene(panel.scene()).runs[0].final_loss)


def test_every_arena_text_draws_its_hats_on_their_letters_after_a_tune_and_with_a_swarm(panel, qtbot):
    """#11 item 3, beyond the first view the window-wide scan sees: every racer's description, the Tune
    summary, the sensitivity plot, the swarm's key and every scenario's paragraph."""
    from adamlab.ui.panels.surface.presets import PRESETS
    from adamlab.ui.widgets.symbols import unsafe_hats
    from tests.ui.test_symbols import widget_texts

    p = panel
    load(qtbot, p, {"surface": "himmelblau", "start": None, "steps": 100,
                    "optimizers": [racer(k, RACE_LR[k]) for k in ARENA_KINDS],
                    "swarm": {"enabled": True, "optimizer": "Adam", "n": 5}})
    p.controls.tune.n_lrs.setValue(4)
    press_tune(qtbot, p)
    wait_tuned(qtbot, p)
    problems = []
    for row in range(len(p.racers.entries)):
        p.racers.opt_list.setCurrentRow(row)
        problems += [f"{where}: {bad!r}" for where, text, is_rich in widget_texts(p)
                     for bad in unsafe_hats(text or "", is_rich)]
    for key in PRESETS:
        p.controls.load({"preset": key})
        problems += [f"{key}: {bad!r}" for bad in unsafe_hats(p.controls.preset_text.text(), True)]
    problems += [f"help: {bad!r}" for bad in unsafe_hats(p.help_html, True)]
    assert not problems, "\n".join(sorted(set(problems)))


def test_saved_settings_are_checked_field_by_field_before_the_arena_sees_them(panel, qtbot):
    """#11 (corrupt settings): a start of 1e40, 10,000 optimizers, an unknown kind or a knob of another kind
    are named and left out; the rest applies."""
    p = panel
    state = p.get_state()
    state.update(start=[1e40, 0.0], steps=300,
                 optimizers=[{"kind": "adam", "name": "Adam", "enabled": True, "values": {"lr": 0.05}},
                             {"kind": "lbfgs"},
                             {"kind": "lion", "enabled": True, "values": {"lr": 0.01, "mix_alpha": 3.0}}])
    problems = p.restore(state)
    assert any("start[0]: 1e+40 is outside" in m for m in problems)
    assert any("optimizers[1].kind: 'lbfgs'" in m for m in problems)
    assert any("optimizers[2].values.mix_alpha: unknown field" in m for m in problems)
    assert p.controls.steps_spin.value() == 300 and p.controls.start == SURFACES["rosenbrock"].start
    assert [e["kind"] for e in p.racers.entries] == ["adam", "lion"]
    assert p.racers.editor("Adam").values()["lr"] == 0.05
    problems = p.restore({"optimizers": [racer("adam", 0.01)] * 10_000})
    assert problems == ["surface.optimizers: 10,000 entries, at most 24 are allowed"]
    assert [e["kind"] for e in p.racers.entries] == ["adam", "lion"]
    assert p.restore(p.get_state()) == []  # its own state passes whole
    qtbot.waitUntil(p.is_idle, timeout=30000)
