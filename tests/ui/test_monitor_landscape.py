"""The monitor's Landscape tab: a loss slice around a run computed in a child process and drawn with its path,
the lines between weights, sharpness tracked during training against its threshold, cancel and close.

Numbers drawn are checked against the core (adamlab.core.landscape) run here on the same trainer.
"""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from adamlab.core import gpt, landscape, train
from adamlab.ui import workers
from adamlab.ui.panels.monitor.job import train_config
from tests.runs import synth
from tests.ui.test_monitor_panel import quick_panel
from tests.ui.loop_jobs import pid_alive

LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def panel(qtbot):
    """The monitor tests' shown panel with small, quick runs, keeping weights every 5 steps, on this tab."""
    p = quick_panel(qtbot)
    p.setup.val_every.setValue(1000)
    p.setup.snapshot_every.setValue(5)
    p.tabs.setCurrentWidget(p.landscape)
    return p


def finished_run(qtbot, panel, steps=40):
    panel.setup.steps.setValue(steps)
    qtbot.mouseClick(panel.start_button, LEFT)
    run = panel.runs[-1]
    qtbot.waitUntil(lambda: run.state == "finished", timeout=30000)
    return run


def slice_done(panel):
    v = panel.landscape
    return not v.cancel.isEnabled() and v.progress.maximum() > 0 and v.progress.value() == v.progress.maximum() \
        and "done" in v.status.text()


def test_a_slice_around_a_finished_run_is_the_cores_loss_with_the_runs_path(qtbot, panel):
    run = finished_run(qtbot, panel)
    v = panel.landscape
    v.resolution.setValue(9)
    v.docs.setValue(32)
    qtbot.mouseClick(v.compute, LEFT)
    assert v.cancel.isEnabled()
    qtbot.waitUntil(lambda: slice_done(panel), timeout=60000)
    tr = run.job.trainer
    # the reference: the same plane and batch, computed here by the core
    plane = landscape.run_plane(tr, "pca", resolution=9)
    x, y, mask = landscape.fixed_batch(tr, 32)
    Z = landscape.loss_slice(plane.origin, tr.model_config, x, y, plane.d1, plane.d2, plane.alphas, plane.betas,
                             mask)
    mi = v.map.picture
    assert mi is not None and mi.image.shape == (9, 9)
    C = np.log10(Z.T - Z.min() + (Z.max() - Z.min()) * 1e-6)  # the log colour of L, x along d1
    np.testing.assert_allclose(mi.image, C, rtol=1e-5, atol=1e-5)
    # the run's path lies on the plane: it ends at the centre (a single run's plane is centred on its end)
    (path,) = [item for item in v.map.paths if item.isVisible()]
    px, py = path.getData()
    np.testing.assert_allclose([px[-1], py[-1]], [0.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(np.c_[px, py], plane.path, rtol=1e-9, atol=1e-12)
    # the centre's loss is the run's final loss on that batch
    final = gpt.loss(tr.params, tr.model_config, x, y, mask)
    assert f"Centre loss {final:.4f}" in v.status.text()
    # the line from the initial to the final weights: its ends are the losses of both
    (line,) = v.lines_plot.listDataItems()
    ts, losses = line.getData()
    init = landscape.initial_params(tr)
    np.testing.assert_allclose(losses[np.argmin(np.abs(ts))], gpt.loss(init, tr.model_config, x, y, mask), rtol=1e-9)
    np.testing.assert_allclose(losses[np.argmin(np.abs(ts - 1))], final, rtol=1e-9)
    qtbot.waitUntil(lambda: workers.live_processes() == [], timeout=10000)  # the slice's process ends


def test_compare_runs_share_one_plane_and_a_live_run_keeps_training_while_it_is_sliced(qtbot, panel):
    panel.setup.steps.setValue(100000)
    runs = panel.compare_optimizers()
    qtbot.waitUntil(lambda: all(r.snap is not None and r.snap.step >= 12 for r in runs), timeout=30000)
    v = panel.landscape
    v.directions.setCurrentIndex(v.directions.findData("pca_all"))
    v.resolution.setValue(7)
    v.docs.setValue(16)
    step = panel.active_run().snap.step
    qtbot.mouseClick(v.compute, LEFT)
    qtbot.waitUntil(lambda: slice_done(panel), timeout=90000)
    assert panel.active_run().live and panel.active_run().snap.step > step  # training went on meanwhile
    paths = [item for item in v.map.paths if item.isVisible()]
    assert len(paths) == 3  # SGD, Adam and AdamW on one plane
    for item in paths:  # runs of a comparison start from the same weights: every path starts at (0, 0)
        x, y = item.getData()
        np.testing.assert_allclose([x[0], y[0]], [0.0, 0.0], atol=1e-9)
    assert len(v.lines_plot.listDataItems()) == 2  # initial → final, and final → final of two runs
    for r in runs:
        panel.stop_run(r)
    qtbot.waitUntil(lambda: not any(r.live for r in runs), timeout=10000)


def test_cancel_ends_the_slice_process_and_the_tab_stays_usable(qtbot, panel):
    finished_run(qtbot, panel)
    v = panel.landscape
    v.resolution.setValue(101)
    v.docs.setValue(512)
    qtbot.mouseClick(v.compute, LEFT)
    qtbot.waitUntil(lambda: v.progress.value() >= 1, timeout=60000)
    pid = panel._landscape.worker.pid
    qtbot.mouseClick(v.cancel, LEFT)
    assert "Cancelled" in v.status.text() and v.compute.isEnabled()
    qtbot.waitUntil(lambda: workers.live_processes() == [], timeout=10000)
    assert pid is None or not pid_alive(pid)
    v.resolution.setValue(5)
    v.docs.setValue(16)
    qtbot.mouseClick(v.compute, LEFT)
    qtbot.waitUntil(lambda: slice_done(panel), timeout=60000)


def test_closing_while_slicing_ends_its_process(qtbot, panel):
    finished_run(qtbot, panel)
    v = panel.landscape
    v.resolution.setValue(101)
    v.docs.setValue(512)
    qtbot.mouseClick(v.compute, LEFT)
    qtbot.waitUntil(lambda: v.progress.value() >= 1, timeout=60000)
    pid = panel._landscape.worker.pid
    panel.close()
    assert workers.live_processes() == [] and (pid is None or not pid_alive(pid))


def test_sharpness_tracked_during_training_is_the_cores_against_its_threshold(qtbot, panel):
    panel.setup.apply_edge_preset(landscape.EDGE_OF_STABILITY_PRESET)
    assert panel.tabs.currentWidget() is panel.landscape and panel.landscape.views.currentIndex() == 1
    assert panel.setup.optimizer_kind() == "sgd" and panel.setup.full_batch.value() == 128
    panel.setup.full_batch.setValue(16)  # smaller and shorter than the preset, for the test
    panel.setup.steps.setValue(20)
    panel.setup.sharpness_every.setValue(5)
    qtbot.mouseClick(panel.start_button, LEFT)
    run = panel.runs[0]
    qtbot.waitUntil(lambda: run.state == "finished", timeout=60000)
    curves = panel.landscape.sharp_curves
    def drawn():
        c = curves.get("λ_max(H)")
        return c is not None and c.getData()[0] is not None and len(c.getData()[0]) == 5

    qtbot.waitUntil(drawn, timeout=10000)
    # the same run headless, with the core's tracker
    tr = train.Trainer(train_config(panel.setup.config(), panel._corpus), panel._corpus)
    tracker = landscape.SharpnessTracker(tr, every=5)
    tracker.after_step(tr)
    while not tr.done:
        tr.step()
        tracker.after_step(tr)
    ref = tracker.arrays()
    x, y = curves["λ_max(H)"].xData, curves["λ_max(H)"].yData  # (the data; getData() gives the log axis's)
    np.testing.assert_array_equal(x, [0, 5, 10, 15, 20])
    np.testing.assert_allclose(y, ref["sharpness"], rtol=1e-6)
    thr = curves["threshold"].yData
    np.testing.assert_allclose(thr, 2 / 0.1)  # gradient descent at η = 0.1: 2/η
    assert "of its stability threshold 20" in panel.landscape.sharp_note.text()


def test_a_watched_pytorch_run_cannot_be_sliced_here_and_says_why(qtbot, panel, tmp_path):
    synth.make_run(tmp_path / "w", steps=3)
    run = panel.open_run_folder(tmp_path / "w")
    qtbot.waitUntil(lambda: run.state == "finished", timeout=10000)
    qtbot.mouseClick(panel.landscape.compute, LEFT)
    assert "watched PyTorch run" in panel.landscape.status.text()
    assert panel._landscape is None
