"""The zoo's scenarios tell the truth: each paragraph's claims, checked on the race the panel draws (and on a
Tune pressed in the panel where the paragraph quotes one)."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from adamlab.core.surfaces import SURFACES
from adamlab.ui.panels.surface.presets import PRESETS
# the arena's fixtures: no race child left behind, and a shown panel at the default scene
from tests.ui.test_surface_panel import no_race_process_left, panel  # noqa: F401  (pytest fixtures)


def scenario(qtbot, p, key):
    """Load scenario ``key``, skip its replay, and return {name: drawn run}."""
    p.apply_preset(key)
    surface = PRESETS[key]["state"]["surface"]
    qtbot.waitUntil(lambda: p._result is not None and p._result.surface == surface and not p._restart_pending,
                    timeout=20000)
    p.show_step(p.controls.steps())
    qtbot.waitUntil(lambda: p.is_idle() and p._result.record, timeout=20000)
    return {r.name: r for r in p._result.runs}


def dist(run, surface):
    return np.linalg.norm(run.path - np.array(SURFACES[surface].minima[0]), axis=1)


def test_on_the_tiny_bowl_lion_hops_lr_from_the_minimum_for_ever_the_others_settle(panel, qtbot):
    runs = scenario(qtbot, panel, "small_scale")
    lion = runs["Lion"]
    steps = np.abs(np.diff(lion.path[-20:], axis=0))
    np.testing.assert_allclose(steps, 0.01, rtol=1e-9)  # every coordinate moves exactly ±lr
    assert dist(lion, "small_scale")[-20:].min() >= 0.0099  # never nearer than its step
    assert dist(runs["Adam"], "small_scale")[-1] < 1e-5 and dist(runs["Adam"], "small_scale")[:30].max() > 0.01
    assert dist(runs["Adafactor"], "small_scale")[-1] < 1e-9
    assert dist(runs["SGD"], "small_scale")[-1] < 1e-9


def test_on_the_huge_bowl_sign_steps_crawl_and_the_relative_step_arrives(panel, qtbot):
    runs = scenario(qtbot, panel, "large_scale")
    start = dist(runs["Adam"], "large_scale")[0]
    for name in ("Adam", "Lion"):  # ~lr per step: 2 of the 220 units in 200 steps
        covered = start - dist(runs[name], "large_scale")[-1]
        assert 1.5 < covered < 3.0, name
    assert dist(runs["Adafactor"], "large_scale")[-1] < 1.0
    # SGD traces the tiny bowl's path 10⁴ times bigger
    small = scenario(qtbot, panel, "small_scale")["SGD"].path
    np.testing.assert_allclose(runs["SGD"].path[:30] / 1e4, small[:30], rtol=1e-9, atol=1e-12)


def test_radam_leaves_the_map_at_step_3_where_adam_walks_and_a_small_lr_survives(panel, qtbot):
    runs = scenario(qtbot, panel, "radam")
    assert runs["RAdam"].left_view_at == 3
    first = np.linalg.norm(runs["RAdam"].path[1] - runs["RAdam"].path[0])
    assert first == pytest.approx(2.33, abs=0.005)  # the jump of 2.3 at lr 0.01: lr·|∇f|
    assert runs["Adam"].left_view_at is None and runs["Adam"].diverged_at is None
    np.testing.assert_allclose(np.abs(runs["Adam"].path[1] - runs["Adam"].path[0]), 0.01, rtol=1e-6)
    assert runs["RAdam, lr 0.0005"].left_view_at is None and runs["RAdam, lr 0.0005"].final_loss < 10


def test_ademamix_ends_closest_in_the_noisy_valley_and_tune_confirms_it_over_five_seeds(panel, qtbot):
    p = panel
    runs = scenario(qtbot, p, "ademamix")
    f = {name: r.final_loss for name, r in runs.items()}
    assert f["AdEMAMix"] == pytest.approx(0.009, abs=0.0005)
    assert f["Adam"] == pytest.approx(0.12, abs=0.005)
    assert f["AdEMAMix"] < f["Adam"] < f["Adam, β1 = 0.999"]
    assert p.controls.tune.seeds.value() == 5
    p.controls.tabs.setCurrentWidget(p.controls.tune)
    qtbot.mouseClick(p.controls.tune.tune_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: p.tune_report is not None and p._tune_pending == 0, timeout=60000)
    best = {n: c for n, c in zip(p.tune_report.names, p.tune_report.result.curves)}
    assert (best["Adam"].best_lr, best["AdEMAMix"].best_lr) == (0.0562, 0.01)  # the preset's lrs
    assert best["Adam"].best_loss == pytest.approx(0.050, abs=0.0005)
    assert best["AdEMAMix"].best_loss == pytest.approx(0.0096, abs=0.00005)
    qtbot.waitUntil(p.is_idle, timeout=20000)


def test_schedule_free_beats_adamw_at_a_constant_lr_and_a_cosine_adamw_beats_both(panel, qtbot):
    p = panel
    runs = scenario(qtbot, p, "schedulefree")
    d = {n: float(np.linalg.norm(r.path[-1])) for n, r in runs.items()}
    assert d["AdamW"] == pytest.approx(0.57, abs=0.005)
    assert d["Schedule-free AdamW"] == pytest.approx(0.24, abs=0.005)  # y, the path drawn
    sf = runs["Schedule-free AdamW"]  # judged at x, the average: the table's distance, the dotted line's end
    assert float(np.linalg.norm(sf.eval_path[-1])) == pytest.approx(0.17, abs=0.005) == sf.distance
    assert runs["AdamW"].distance == pytest.approx(0.57, abs=0.005) and runs["AdamW"].eval_path is None
    track = p._tracks[sf.uid]
    np.testing.assert_array_equal(track.average.getData()[0], sf.eval_path[:sf.shown, 0])  # drawn, dotted
    # its loss curve is f at x too, dotted like x on the map (AdamW's solid)
    assert track.loss.opts["pen"].style() == Qt.PenStyle.DotLine and "at x" in track.loss.toolTip()
    assert p._tracks[runs["AdamW"].uid].loss.opts["pen"].style() == Qt.PenStyle.SolidLine
    table = p.results.table
    row = next(r for r in range(table.rowCount()) if table.item(r, 0).text() == "Schedule-free AdamW")
    assert table.item(row, 2).text().startswith("0.17")
    assert "at x, the average it is evaluated at" in table.item(row, 2).toolTip()
    p.controls.schedule_combo.setCurrentIndex(p.controls.schedule_combo.findData("cosine"))
    qtbot.waitUntil(lambda: p.is_idle() and p._result.runs[0].lr is not None, timeout=20000)
    d = {r.name: r.distance for r in p._result.runs}  # where each is judged: schedule-free at its x
    assert d["AdamW"] == pytest.approx(0.007, abs=0.0005) and d["AdamW"] < d["Schedule-free AdamW"]


def test_the_fair_races_sensitivity_plot_shows_the_ranges_its_paragraph_names(panel, qtbot):
    p = panel
    p.apply_preset("fair_race")
    qtbot.waitUntil(lambda: p.tune_report is not None and p.is_idle(), timeout=60000)
    curves = {n: c for n, c in zip(p.tune_report.names, p.tune_report.result.curves)}

    def good(name):  # the lrs whose final f − f* < 0.1
        c = curves[name]
        return c.lrs[np.isfinite(c.sensitivity) & (c.sensitivity < 0.1)]

    for name in ("Adam", "AdEMAMix", "Schedule-free AdamW"):
        assert good(name).max() / good(name).min() > 10, name
    assert good("SGD + momentum").max() / good("SGD + momentum").min() < 6
    assert good("Lion").max() < good("Adam").min() / 5 and curves["Lion"].best_lr < curves["Adam"].best_lr / 100
