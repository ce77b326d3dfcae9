"""The GPT monitor panel driven as a person would: start, pause, step, knobs, divergence, save/load, corpus.

Numbers drawn on screen are checked against an independent headless Trainer run with the same config, and the
smoothed curve against a debiased EMA written out here. A live run trains in a child process: the tests look
inside it with a command (``RunJob.facts``) whose reply comes back, and read the job itself once the run has
ended (it is sent back).
"""

from __future__ import annotations

import csv
import math
import os
from functools import partial

import numpy as np
import pytest
from PySide6.QtCore import Qt

from adamlab.core import train
from adamlab.ui import workers
from adamlab.ui.panels.monitor import job as mj
from adamlab.ui.panels.monitor.panel import MonitorPanel
from adamlab.ui.panels.monitor.job import train_config
from tests.ui.loop_jobs import pid_alive

LEFT = Qt.MouseButton.LeftButton


def quick_panel(qtbot) -> MonitorPanel:
    """A shown monitor panel set up for small, quick runs (the monitor tests' panel)."""
    p = MonitorPanel()
    qtbot.addWidget(p)
    p.resize(1100, 760)
    p.show()
    p.setup.batch.setValue(4)
    p.setup.val_every.setValue(10)
    p.samples.every.setValue(10)
    return p


@pytest.fixture
def panel(qtbot):
    return quick_panel(qtbot)


def click(qtbot, button):
    assert button.isEnabled(), button.text()
    qtbot.mouseClick(button, LEFT)


def stop(qtbot, panel, run):
    """Press Stop and wait until the run has ended: Stop returns at once, the run ends after its step."""
    click(qtbot, panel.stop_button)
    assert not panel.stop_button.isEnabled()  # stopping: not twice
    qtbot.waitUntil(lambda: not run.live and run.state != "stopping" and run.handle is None, timeout=10000)


def facts(qtbot, run) -> dict:
    """The trainer's own numbers (step count, config, loss history, pid), asked of the live run wherever its job
    is: a command to its process, and the reply the panel keeps for whoever asked."""
    run.replies.pop("facts", None)
    run.handle.worker.call(mj.RunJob.facts)
    qtbot.waitUntil(lambda: "facts" in run.replies, timeout=10000)
    return run.replies["facts"]


def headless_losses(config: dict, corpus, steps: int) -> np.ndarray:
    """The same run without any GUI: the reference the drawing must match."""
    tr = train.Trainer(train_config(config, corpus), corpus)
    return np.array([tr.step().loss for _ in range(steps)])


def debiased_ema(y, beta):
    """s_t = β s_{t-1} + (1-β) y_t from s_0 = 0, reported as s_t / (1 - β^t): written out independently."""
    s, out = 0.0, []
    for t, v in enumerate(y, start=1):
        s = beta * s + (1 - beta) * v
        out.append(s / (1 - beta**t))
    return np.array(out)


def test_short_run_draws_the_trainers_losses_and_their_debiased_ema(qtbot, panel):
    assert panel.empty_hint.isVisible()  # an empty plot says what to do
    panel.setup.steps.setValue(40)
    click(qtbot, panel.start_button)
    run = panel.runs[0]
    assert not panel.empty_hint.isVisible()
    qtbot.waitUntil(lambda: run.state == "finished", timeout=30000)
    qtbot.waitUntil(lambda: run.drawn_version == run.snap.version, timeout=5000)
    x, y = run.items["raw"].getData()
    ref = headless_losses(panel.setup.config(), panel._corpus, 40)
    np.testing.assert_array_equal(x, np.arange(1, 41))
    np.testing.assert_allclose(y, ref, rtol=0, atol=1e-12)
    beta = panel.smoothing.value()
    np.testing.assert_allclose(run.items["smooth"].getData()[1], debiased_ema(ref, beta), rtol=1e-10)
    # validation every 10 steps, the baseline at ln V, the table with microgpt's 9 tensors
    vx, vy = run.items["val"].getData()
    np.testing.assert_array_equal(vx, [10, 20, 30, 40])
    assert np.all(np.isfinite(vy))
    assert panel.baseline.value() == pytest.approx(math.log(27))
    key = panel.curves.key_label
    # a key under the plot, as long as one line allows …
    assert key.isVisible() and "dashed: uniform guess ln 27 = 3.30" in key.variants()[0]
    assert "ln 27 = 3.30" in key.text() and key.fontMetrics().horizontalAdvance(key.text()) <= key.width()
    assert panel.curves.getPlotItem().legend is None  # … instead of a legend box over the data
    assert run.list_item.text().startswith(run.name) and run.list_item.toolTip() == run.name  # the runs' key
    assert panel.table.rowCount() == 9
    assert panel.table.item(0, 0).text() == "wte" and panel.table.item(0, 1).text() == "27×16"
    # moving the smoothing slider redraws with the new β
    panel.smoothing.setValue(0.5)
    np.testing.assert_allclose(run.items["smooth"].getData()[1], debiased_ema(ref, 0.5), rtol=1e-10)
    # samples every 10 steps at the chosen temperature
    assert [s[1] for s in run.snap.samples] == [10, 20, 30, 40]
    qtbot.waitUntil(lambda: panel.samples.list.count() == 4)
    assert panel.samples.list.item(0).text().startswith("step 40 (T=0.5)")


def test_pause_stops_the_step_count_and_step_takes_exactly_one(qtbot, panel):
    panel.setup.steps.setValue(100000)
    click(qtbot, panel.start_button)
    run = panel.runs[0]
    qtbot.waitUntil(lambda: run.snap is not None and run.snap.step >= 5, timeout=20000)
    click(qtbot, panel.pause_button)
    qtbot.waitUntil(lambda: run.state == "paused", timeout=5000)
    assert panel.pause_button.text() == "Resume"
    qtbot.wait(50)
    paused_at = run.snap.step
    qtbot.wait(400)
    assert run.snap.step == paused_at
    assert facts(qtbot, run)["step_count"] == paused_at
    click(qtbot, panel.step_button)
    qtbot.waitUntil(lambda: run.snap.step == paused_at + 1, timeout=5000)
    qtbot.wait(300)
    assert facts(qtbot, run)["step_count"] == paused_at + 1
    click(qtbot, panel.pause_button)  # resume
    qtbot.waitUntil(lambda: run.snap.step > paused_at + 5, timeout=10000)
    stop(qtbot, panel, run)
    assert not run.live and run.state == "stopped"
    assert run.list_item.text().endswith("stopped")


def test_a_live_lr_change_reaches_the_trainer_and_is_marked(qtbot, panel):
    panel.setup.schedule.setCurrentIndex(panel.setup.schedule.findData("constant"))
    panel.setup.steps.setValue(100000)
    click(qtbot, panel.start_button)
    run = panel.runs[0]
    qtbot.waitUntil(lambda: run.snap is not None and run.snap.step >= 3, timeout=20000)
    lr_slider = panel.setup.editors["adam"].controls["lr"]
    lr_slider.spin.setValue(0.003)  # as typed into the box
    qtbot.waitUntil(lambda: bool(run.snap.events) and run.snap.step > run.snap.events[-1][0] + 3, timeout=10000)
    changed_at = run.snap.events[-1][0]
    assert "lr" in run.snap.events[-1][2]
    assert facts(qtbot, run)["config"]["lr"] == 0.003
    steps, lr = run.snap.steps, run.snap.lr
    np.testing.assert_allclose(lr[steps <= changed_at], 0.01)  # constant schedule: lr before …
    np.testing.assert_allclose(lr[steps > changed_at], 0.003)  # … and after the change
    qtbot.waitUntil(lambda: len(run.markers) == 1, timeout=5000)
    assert run.markers[0].value() == changed_at
    # x in tokens, then log x: the line moves with the axis (it stayed at the step number before)
    tokens_at = run.snap.events[-1][1]
    assert tokens_at > changed_at  # batch 4 × several tokens a step: a different place on the axis
    panel.x_axis.setCurrentIndex(panel.x_axis.findData("tokens"))
    qtbot.waitUntil(lambda: len(run.markers) == 1 and run.markers[0].value() == tokens_at, timeout=5000)
    panel.log_x.setChecked(True)
    qtbot.waitUntil(lambda: len(run.markers) == 1 and run.markers[0].value() == pytest.approx(math.log10(tokens_at)),
                    timeout=5000)


def test_a_diverging_run_is_marked_and_the_panel_stays_usable(qtbot, panel):
    panel.setup.editors["adam"].controls["lr"].setValue(1.0)
    panel.setup.steps.setValue(500)
    click(qtbot, panel.start_button)
    run = panel.runs[0]
    qtbot.waitUntil(lambda: run.state == "diverged", timeout=20000)
    qtbot.waitUntil(lambda: run.diverged_marked, timeout=5000)
    step = run.job.trainer.history.diverged_step
    assert step is not None and run.snap.diverged_step == step
    assert run.markers[-1].value() == step
    assert f"diverged at step {step}" in panel.status_label.text()
    assert "too high" in panel.status_label.text()
    assert not run.live and not panel.pause_button.isEnabled()
    # usable: a sane run starts and trains
    panel.setup.editors["adam"].controls["lr"].setValue(0.01)
    click(qtbot, panel.start_button)
    qtbot.waitUntil(lambda: panel.runs[1].snap is not None and panel.runs[1].snap.step >= 5, timeout=20000)
    assert panel.active_run() is panel.runs[1]
    stop(qtbot, panel, panel.runs[1])


def test_save_load_resume_gives_the_same_next_losses(qtbot, panel, tmp_path):
    panel.setup.steps.setValue(100000)
    click(qtbot, panel.start_button)
    a = panel.runs[0]
    qtbot.waitUntil(lambda: a.snap is not None and a.snap.step >= 8, timeout=20000)
    click(qtbot, panel.pause_button)
    qtbot.waitUntil(lambda: a.state == "paused", timeout=5000)
    k = facts(qtbot, a)["step_count"]
    path = tmp_path / "run.npz"
    panel.save_run(path)
    qtbot.waitUntil(lambda: "Saved" in panel.status_label.text(), timeout=10000)
    assert path.is_file()
    for _ in range(5):  # the original continues 5 steps: the reference
        n = a.snap.step
        click(qtbot, panel.step_button)
        qtbot.waitUntil(lambda: a.snap.step == n + 1, timeout=5000)
    a_loss = facts(qtbot, a)["loss"]
    ref = a_loss[k : k + 5].copy()
    b = panel.load_run(path)
    assert b is not None and panel.active_run() is b and b.state == "paused"
    # its curves come back: the first k steps are drawn as they were
    qtbot.waitUntil(lambda: b.drawn_version == b.snap.version, timeout=5000)
    np.testing.assert_array_equal(b.items["raw"].getData()[1], a_loss[:k])
    for _ in range(5):
        n = b.snap.step
        click(qtbot, panel.step_button)
        qtbot.waitUntil(lambda: b.snap.step == n + 1, timeout=5000)
    np.testing.assert_array_equal(facts(qtbot, b)["loss"][k : k + 5], ref)
    # a damaged file is reported, not a crash
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a checkpoint")
    assert panel.load_run(bad) is None
    assert "Could not load" in panel.status_label.text()


def test_a_bad_corpus_shows_an_error_and_keeps_the_last_good_one(qtbot, panel, tmp_path):
    bad = tmp_path / "binary.txt"
    bad.write_bytes(b"\x00\x01\x02abc" * 100)
    panel.setup.set_corpus_file(str(bad))
    assert panel.setup.corpus_error.isVisible()
    assert "binary" in panel.setup.corpus_error.text()
    assert panel._corpus.name == "names"  # nothing half-loaded
    good = tmp_path / "words.txt"
    good.write_text("abc\nabd\nbcd\ncab\n" * 5)
    panel.setup.set_corpus_file(str(good))
    assert not panel.setup.corpus_error.isVisible()
    assert "vocabulary 5" in panel.setup.corpus_info.text()  # a b c d + BOS
    assert panel.baseline.value() == pytest.approx(math.log(5))
    assert "uniform guess ln 5 = 1.61" in panel.curves.key_label.variants()[0]
    assert "ln 5 = 1.61" in panel.curves.key_label.text()
    assert "parameters (5 symbols)" in panel.setup.params_label.text()


def test_compare_optimizers_starts_three_runs_from_the_same_init_and_data(qtbot, panel):
    panel.setup.steps.setValue(20)
    click(qtbot, panel.compare_button)
    qtbot.waitUntil(lambda: all(r.state == "finished" for r in panel.runs), timeout=30000)
    assert [r.job.trainer.config.optimizer for r in panel.runs] == ["sgd", "adam", "adamw"]
    first = [r.job.trainer.history.loss[0] for r in panel.runs]
    assert first[0] == first[1] == first[2]  # step 1's loss is measured before any update
    assert len({r.job.trainer.history.loss[5] for r in panel.runs}) == 3  # then the optimizers differ
    # hiding a run hides its curves
    panel.runs[0].list_item.setCheckState(Qt.CheckState.Unchecked)
    assert not panel.runs[0].items["raw"].isVisible()


def test_parameter_count_follows_the_model_editor(qtbot, panel):
    assert "<b>4,192</b>" in panel.setup.params_label.text()  # microgpt
    panel.setup.n_layer.setValue(2)
    c = 16
    expected = 27 * c + 16 * c + 27 * c + 2 * 12 * c * c
    assert f"<b>{expected:,}</b>" in panel.setup.params_label.text()
    assert panel.setup.preset.currentData() == "custom"


def test_adam_state_histograms_and_csv_export(qtbot, panel, tmp_path):
    panel.setup.steps.setValue(30)
    click(qtbot, panel.start_button)
    run = panel.runs[0]
    qtbot.waitUntil(lambda: run.state == "finished", timeout=30000)
    panel.tabs.setCurrentWidget(panel.adam)
    panel.adam.tensor.setCurrentText("lm_head")
    qtbot.waitUntil(lambda: "lm_head at step 30" in panel.adam.note.text(), timeout=5000)
    x, counts = panel.adam.lr_hist.getData()
    assert counts.sum() == 27 * 16  # one entry per parameter of lm_head
    path = panel.export_metrics(tmp_path / "m.csv")
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 30
    np.testing.assert_allclose([float(r["loss"]) for r in rows], run.job.trainer.history.loss)
    assert rows[9]["val_loss"] != "" and rows[8]["val_loss"] == ""


def test_closing_while_training_stops_every_thread(qtbot, panel):
    panel.setup.steps.setValue(100000)
    click(qtbot, panel.compare_button)
    qtbot.waitUntil(lambda: all(r.snap is not None for r in panel.runs), timeout=20000)
    pids = [r.snap.pid for r in panel.runs]
    assert len(set(pids)) == 3 and os.getpid() not in pids  # three processes of their own
    panel.close()
    assert not any(r.live for r in panel.runs)
    assert not panel.timer.isActive()
    assert workers.live_processes() == [] and not any(pid_alive(p) for p in pids)  # no orphan


def test_a_run_trains_in_its_own_process_and_stop_ends_it(qtbot, panel):
    panel.setup.steps.setValue(100000)
    click(qtbot, panel.start_button)
    run = panel.runs[0]
    assert run.state == "starting" and "starting…" in panel.status_label.text()  # while Python + NumPy load
    qtbot.waitUntil(lambda: run.snap is not None and run.snap.step >= 5, timeout=20000)
    pid = run.handle.worker.pid
    assert pid is not None and pid != os.getpid() and pid_alive(pid)
    assert run.snap.pid == pid and facts(qtbot, run)["pid"] == pid  # snapshots and commands come from there
    assert facts(qtbot, run)["gui_modules"] == []  # the child's interpreter never loaded Qt or pyqtgraph
    assert run.job is None  # the job is over there, not here
    stop(qtbot, panel, run)
    assert not pid_alive(pid) and workers.live_processes() == []
    # the job came back: its step count is the last one drawn, and a finished run can still be sampled
    assert run.job is not None and run.job.trainer.step_count == run.snap.step
    panel.tabs.setCurrentWidget(panel.samples)
    n = len(run.snap.samples)
    click(qtbot, panel.samples.now)
    assert len(run.snap.samples) == n + 1 and run.snap.samples[-1][1] == run.snap.step
    panel.tabs.setCurrentWidget(panel.adam)  # and its Adam state is read from the job here
    panel.adam.tensor.setCurrentText("wte")
    qtbot.waitUntil(lambda: f"wte at step {run.snap.step}" in panel.adam.note.text(), timeout=5000)


def test_command_errors_are_reported_and_the_run_goes_on(qtbot, panel, tmp_path):
    panel.setup.steps.setValue(100000)
    click(qtbot, panel.start_button)
    run = panel.runs[0]
    qtbot.waitUntil(lambda: run.snap is not None and run.snap.step >= 3, timeout=20000)
    (tmp_path / "file").write_text("not a directory")
    panel.save_run(tmp_path / "file" / "run.npz")  # the child cannot write there: its reply says so
    qtbot.waitUntil(lambda: "Could not save" in panel.status_label.text(), timeout=10000)
    panel._call(run, partial(mj.RunJob.set_sampling, settings=None))  # a command that raises in the child
    qtbot.waitUntil(lambda: "TypeError" in panel.status_label.text(), timeout=10000)
    step = run.snap.step
    qtbot.waitUntil(lambda: run.snap.step > step + 3, timeout=10000)
    assert run.live and run.handle.worker.pid is not None
    stop(qtbot, panel, run)


def test_without_child_processes_the_run_trains_in_thread_the_same(qtbot, panel, monkeypatch):
    monkeypatch.setenv("ADAMLAB_PROCESSES", "0")
    panel.setup.steps.setValue(20)
    click(qtbot, panel.start_button)
    run = panel.runs[0]
    qtbot.waitUntil(lambda: run.state == "finished", timeout=30000)
    assert run.snap.pid == os.getpid() and "ADAMLAB_PROCESSES=0" in run.fallback
    ref = headless_losses(panel.setup.config(), panel._corpus, 20)
    np.testing.assert_array_equal(run.items["raw"].getData()[1], ref)
    np.testing.assert_array_equal(run.job.trainer.history.loss, ref)



def test_tokens_axis_and_heatmaps_match_the_trainer(qtbot, panel):
    panel.setup.steps.setValue(25)
    click(qtbot, panel.start_button)
    run = panel.runs[0]
    qtbot.waitUntil(lambda: run.state == "finished", timeout=30000)
    # x in tokens: the running sum of each step's prediction count, from an independent headless run
    tr = train.Trainer(train_config(panel.setup.config(), panel._corpus), panel._corpus)
    tokens = np.cumsum([tr.step().tokens for _ in range(25)])
    panel.x_axis.setCurrentIndex(panel.x_axis.findData("tokens"))
    np.testing.assert_array_equal(run.items["raw"].getData()[0], tokens)
    np.testing.assert_array_equal(run.items["val"].getData()[0], tokens[[9, 19]])
    # heatmaps: log10 u and log10 g of every tensor at every step
    panel.tabs.setCurrentWidget(panel.heatmap)
    qtbot.waitUntil(lambda: run.snap.log_u.shape == (9, 25), timeout=5000)
    qtbot.waitUntil(lambda: panel.heatmap.images[0].image is not None
                    and panel.heatmap.images[0].image.shape == (9, 25), timeout=5000)  # the final maps, drawn
    h = tr.history
    expected_u = np.log10(np.vstack([h.update_ratio(n) for n in tr.tensor_names]))
    expected_g = np.log10(np.vstack([h.grad_rms(n) for n in tr.tensor_names]))
    np.testing.assert_allclose(panel.heatmap.images[0].image, expected_u, rtol=1e-6)
    np.testing.assert_allclose(panel.heatmap.images[1].image, expected_g, rtol=1e-6)
    # log axes keep the data, mapped by log10
    panel.x_axis.setCurrentIndex(panel.x_axis.findData("steps"))
    panel.log_x.setChecked(True)
    np.testing.assert_array_equal(run.items["raw"].xData, np.arange(1, 26))  # the data; the axis maps it
    assert run.items["raw"].opts["logMode"][0]


def test_adam_state_of_a_live_run_comes_from_its_worker_and_training_goes_on(qtbot, panel):
    panel.setup.steps.setValue(100000)
    click(qtbot, panel.start_button)
    run = panel.runs[0]
    qtbot.waitUntil(lambda: run.snap is not None and run.snap.step >= 5, timeout=20000)
    panel.tabs.setCurrentWidget(panel.adam)
    qtbot.waitUntil(lambda: panel.adam.tensor.count() == 9, timeout=5000)
    panel.adam.tensor.setCurrentText("layer0.mlp_fc1")
    qtbot.waitUntil(lambda: panel.adam.note.text().startswith("layer0.mlp_fc1 at step"), timeout=10000)
    _, counts = panel.adam.snr_hist.getData()
    assert counts.sum() <= 64 * 16 and counts.sum() > 0.95 * 64 * 16  # the ±percentile range drops ≤0.5%
    _, counts = panel.adam.lr_hist.getData()
    assert counts.sum() == 64 * 16
    step = run.snap.step
    qtbot.waitUntil(lambda: run.snap.step > step + 5, timeout=10000)  # still training
    assert run.live
    stop(qtbot, panel, run)


def test_an_invalid_model_is_reported_and_nothing_starts(qtbot, panel):
    panel.setup.n_embd.setValue(18)  # not a multiple of 4 heads
    assert "multiple of n_head" in panel.setup.params_label.text()
    click(qtbot, panel.start_button)
    assert panel.runs == []
    assert "Cannot start" in panel.status_label.text() and "multiple of n_head" in panel.status_label.text()


def test_state_round_trips_and_ignores_junk(qtbot, panel):
    panel.setup.editors["adamw"].controls["weight_decay"].setValue(0.05)
    panel.setup.opt_kind.setCurrentIndex(panel.setup.opt_kind.findData("adamw"))
    panel.setup.steps.setValue(1234)
    panel.smoothing.setValue(0.8)
    panel.log_y.setChecked(True)
    state = panel.get_state()
    other = MonitorPanel()
    qtbot.addWidget(other)
    other.set_state({"junk": 1, "setup": {"steps": "many", "model": 3}, "smoothing": "x"})  # ignored
    other.set_state(state)
    assert other.setup.config() == panel.setup.config()
    assert other.setup.hyper()["weight_decay"] == 0.05
    assert other.smoothing.value() == 0.8 and other.log_y.isChecked()


def test_stop_and_close_never_wait_on_a_hung_run(qtbot, panel, monkeypatch):
    import time

    from adamlab.ui.panels.monitor import panel as monitor_panel
    from tests.ui import loop_jobs

    monkeypatch.setattr(monitor_panel, "STOP_GRACE_S", 0.5)
    panel.setup.steps.setValue(100000)
    click(qtbot, panel.compare_button)
    qtbot.waitUntil(lambda: all(r.snap is not None and r.snap.step >= 3 for r in panel.runs), timeout=20000)
    for r in panel.runs:
        panel._call(r, loop_jobs.hang)  # each process is now stuck in a command
    qtbot.wait(200)
    run = panel.active_run()
    pid = run.handle.worker.pid
    t0 = time.perf_counter()
    click(qtbot, panel.stop_button)
    assert time.perf_counter() - t0 < 0.3  # Stop returns at once …
    assert run.list_item.text().endswith("stopping…")
    qtbot.waitUntil(lambda: run.state == "stopped", timeout=5000)  # … and the grace period ends it
    assert not pid_alive(pid) and run.job is None
    assert "did not stop" in panel.status_label.text()
    pids = [r.handle.worker.pid for r in panel.runs if r.handle is not None]
    assert len(pids) == 2
    t0 = time.perf_counter()
    panel.close()  # the two others: together, within one bound
    assert time.perf_counter() - t0 < 2.5
    assert workers.live_processes() == [] and not any(pid_alive(p) for p in pids)
