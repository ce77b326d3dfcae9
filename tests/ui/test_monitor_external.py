"""The GPT monitor showing a watched PyTorch run: a run folder (adamlab.watch's format) opened, followed live
while another process writes it, drawn with the same views as a NumPy run, and checked against the reader.

The folders are written with the real RunWriter (tests/runs/synth.py) — no torch needed here; the watcher that
writes them from a real PyTorch optimizer is tested in tests/runs/.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from adamlab.runs import open_run
from adamlab.ui.panels.monitor.panel import MonitorPanel
from tests.runs import synth

REPO = Path(__file__).resolve().parent.parent.parent
LEFT = Qt.MouseButton.LeftButton
MANY = {f"h.{layer}.{part}.{kind}": (8, 8) if kind == "weight" else (8,)
        for layer in range(6) for part in ("attn", "mlp") for kind in ("weight", "bias")}


@pytest.fixture
def panel(qtbot):
    p = MonitorPanel()
    qtbot.addWidget(p)
    p.resize(1100, 760)
    p.show()
    return p


def drawn_loss(run) -> np.ndarray:
    y = run.items["raw"].getData()[1]
    return np.zeros(0) if y is None else y


def wait_finished_and_drawn(qtbot, panel, run, points: int, timeout: int = 30000) -> None:
    """Wait until ``run`` has finished and its loss curve holds ``points`` points; on timeout say where it was."""
    try:
        qtbot.waitUntil(lambda: run.state == "finished" and len(drawn_loss(run)) == points, timeout=timeout)
    except Exception as exc:
        raise AssertionError(where(panel, run)) from exc


def where(panel, run) -> str:
    """Where a run that did not finish in time was (for a failure message)."""
    snap, handle = run.snap, run.handle
    worker = None if handle is None else handle.worker
    thread = None if handle is None else handle.thread
    return (f"run state {run.state!r}, {len(drawn_loss(run))} points drawn, snapshot step "
            f"{None if snap is None else snap.step} ({None if snap is None else snap.status}); worker "
            f"{type(worker).__name__} paused={getattr(worker, 'paused', None)}, thread running="
            f"{None if thread is None else thread.isRunning()}; status: {panel.status_label.text()!r}")


def table_rows(panel) -> list[str]:
    t = panel.table
    return [t.item(r, 0).text() for r in range(t.rowCount()) if t.item(r, 0) is not None]


def test_a_finished_run_folder_opens_with_every_view_drawn_from_its_records(qtbot, panel, tmp_path):
    written = synth.make_run(tmp_path / "exp1", steps=12, bins=8, hist_every=2)
    run = panel.open_run_folder(tmp_path / "exp1")
    assert run is not None and run.external == tmp_path / "exp1"
    qtbot.waitUntil(lambda: run.state == "finished", timeout=15000)  # closed by its writer: read to the end
    # the loss curve is the logged loss, at its steps; lr is the stats' group-0 lr at those steps
    x, y = run.items["raw"].getData()
    np.testing.assert_array_equal(x, np.arange(12))
    np.testing.assert_allclose(y, written["loss"])
    np.testing.assert_allclose(run.items["lr"].getData()[1], written["lr"][:, 0])
    vx, vy = run.items["val"].getData()
    np.testing.assert_array_equal(vx, [s for s, _ in written["val_loss"]])
    # the table: every tensor, its last logged g, w, u
    qtbot.waitUntil(lambda: len(table_rows(panel)) == 4, timeout=5000)
    last = {n: i for i, n in enumerate(written["names"])}
    for r, name in enumerate(table_rows(panel)):
        i = last[name]
        assert panel.table.item(r, 2).text() == f"{written['g'][-1, i]:.1e}"
        assert panel.table.item(r, 4).text() == f"{written['u'][-1, i]:.1e}"
    # Adam's histograms: the counts the run recorded for that tensor at its last histogram step
    panel.tabs.setCurrentWidget(panel.adam)
    panel.adam.tensor.setCurrentText("h.0.attn")
    qtbot.waitUntil(lambda: "h.0.attn at step 10" in panel.adam.note.text(), timeout=5000)
    _, counts = panel.adam.snr_hist.getData()
    np.testing.assert_array_equal(counts, written["snr"][-1][1, 1:-1])
    # samples: what the script logged
    panel.tabs.setCurrentWidget(panel.samples)
    qtbot.waitUntil(lambda: panel.samples.list.count() == len(written["samples"]), timeout=5000)
    assert "name10" in panel.samples.list.item(0).text()
    assert not panel.step_button.isEnabled() and not panel.save_button.isEnabled()  # nothing to step or save


def test_a_live_run_is_followed_as_another_process_writes_it(qtbot, panel, tmp_path):
    folder = tmp_path / "live"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    writer = subprocess.Popen([sys.executable, "-m", "tests.runs.synth", str(folder), "60", "0.05", "0.5"],
                              cwd=REPO, env=env)
    try:
        qtbot.waitUntil(lambda: (folder / "run.json").is_file(), timeout=20000)
        run = panel.open_run_folder(folder)
        assert run is not None
        qtbot.waitUntil(lambda: len(drawn_loss(run)) >= 3, timeout=30000)
        seen = len(drawn_loss(run))
        # new points appear within a second, without re-reading the folder
        qtbot.waitUntil(lambda: len(drawn_loss(run)) >= seen + 5, timeout=3000)
        assert run.live and run.state != "finished"
        assert "following live" in panel.status_label.text()
        qtbot.waitUntil(lambda: run.state == "finished", timeout=30000)  # the writer closed it
        np.testing.assert_allclose(drawn_loss(run), 3.0 - 0.01 * np.arange(60), rtol=1e-12)
        assert "run closed" in panel.status_label.text()
    finally:
        writer.kill()
        writer.wait()


def test_stop_following_keeps_what_was_read(qtbot, panel, tmp_path):
    folder = tmp_path / "open"
    synth.make_run(folder, steps=8, close=False)  # its writer never closes it: followed until stopped
    run = panel.open_run_folder(folder)
    qtbot.waitUntil(lambda: len(drawn_loss(run)) == 8, timeout=30000)
    assert panel.stop_button.isEnabled()
    qtbot.mouseClick(panel.stop_button, LEFT)
    qtbot.waitUntil(lambda: not run.live and run.handle is None, timeout=5000)
    assert run.state == "stopped" and len(drawn_loss(run)) == 8


def test_a_foreign_or_damaged_folder_is_refused_in_one_line_and_nothing_is_added(qtbot, panel, tmp_path):
    (tmp_path / "empty").mkdir()
    bad = tmp_path / "bad"
    synth.make_run(bad, steps=3)
    meta = json.loads((bad / "run.json").read_text())
    meta["version"] = 99  # a newer format
    (bad / "run.json").write_text(json.dumps(meta))
    for folder in (tmp_path / "empty", bad, tmp_path / "missing"):
        assert panel.open_run_folder(folder) is None
        assert "Could not open" in panel.status_label.text()
    assert panel.runs == []


def test_hundreds_of_tensors_are_filtered_and_sorted_by_name_and_u(qtbot, panel, tmp_path):
    written = synth.make_run(tmp_path / "big", steps=4, tensors=MANY)
    run = panel.open_run_folder(tmp_path / "big")
    qtbot.waitUntil(lambda: run.state == "finished" and len(table_rows(panel)) == len(MANY), timeout=30000)
    qtbot.keyClicks(panel.tensor_filter, "attn -bias")
    expected = [n for n in MANY if "attn" in n and "bias" not in n]
    qtbot.waitUntil(lambda: table_rows(panel) == expected, timeout=3000)
    assert panel.tensor_count.text() == f"{len(expected)} of {len(MANY)}"
    panel.tensor_sort.setCurrentIndex(panel.tensor_sort.findData("u_desc"))
    u = dict(zip(written["names"], written["u"][-1]))
    qtbot.waitUntil(lambda: table_rows(panel) == sorted(expected, key=lambda n: -u[n]), timeout=3000)
    # the heatmaps and the Adam tab's list follow the same selection
    panel.tabs.setCurrentWidget(panel.heatmap)
    qtbot.waitUntil(lambda: panel.heatmap.images[0].image is not None
                    and panel.heatmap.images[0].image.shape[0] == len(expected), timeout=5000)
    order = sorted(expected, key=lambda n: -u[n])
    idx = [written["names"].index(n) for n in order]
    np.testing.assert_allclose(panel.heatmap.images[0].image[:, -1], np.log10(written["u"][-1, idx]), rtol=1e-6)
    assert [panel.adam.tensor.itemText(i) for i in range(panel.adam.tensor.count())] == order


def test_a_watched_run_is_compared_with_a_numpy_run_on_the_same_axes(qtbot, panel, tmp_path):
    synth.make_run(tmp_path / "torch", steps=10)
    panel.setup.batch.setValue(4)
    panel.setup.steps.setValue(10)
    qtbot.mouseClick(panel.start_button, LEFT)
    numpy_run = panel.runs[0]
    qtbot.waitUntil(lambda: numpy_run.state == "finished", timeout=30000)
    torch_run = panel.open_run_folder(tmp_path / "torch")
    wait_finished_and_drawn(qtbot, panel, torch_run, 10)
    plot = panel.curves.getPlotItem()
    assert numpy_run.items["raw"] in plot.listDataItems() and torch_run.items["raw"] in plot.listDataItems()
    assert len(drawn_loss(numpy_run)) == 10 and numpy_run.color != torch_run.color


def test_the_uniform_guess_line_is_the_selected_runs_own_and_hidden_for_a_run_that_did_not_say(qtbot, panel,
                                                                                                 tmp_path):
    # the panel's corpus (names: 27 symbols) before any run
    assert panel.baseline.isVisible() and panel.baseline.value() == pytest.approx(math.log(27))
    synth.make_run(tmp_path / "chars", steps=6, config={"vocab_size": 65, "lr": 0.01})
    synth.make_run(tmp_path / "other", steps=6, config={"vocab_size": "65"})  # not a number: not trusted
    with_vocab = panel.open_run_folder(tmp_path / "chars")
    wait_finished_and_drawn(qtbot, panel, with_vocab, 6)
    assert panel.baseline.isVisible() and panel.baseline.value() == pytest.approx(math.log(65))
    key = panel.curves.key_label
    assert "uniform guess ln 65 = 4.17" in key.variants()[0] and "4.17" in key.text()
    without = panel.open_run_folder(tmp_path / "other")
    wait_finished_and_drawn(qtbot, panel, without, 6)
    assert not panel.baseline.isVisible()
    assert "no uniform-guess line for run 2" in key.variants()[0] and "4.17" not in key.text()
    assert "no uniform-guess line" in key.text() or "no ln V line" in key.text()  # the long or the short way
    panel.run_list.setCurrentItem(with_vocab.list_item)  # back to the run that said
    assert panel.baseline.isVisible() and panel.baseline.value() == pytest.approx(math.log(65))
    panel.remove_run()
    panel.run_list.setCurrentRow(-1)
    assert panel.baseline.isVisible() and panel.baseline.value() == pytest.approx(math.log(27))
    panel.run_list.setCurrentItem(without.list_item)
    panel.remove_run()  # the run that did not say is gone: its "no line" note goes with it
    assert "no uniform-guess" not in key.text() and "no ln V" not in key.text()


def test_the_window_opens_a_dropped_run_folder_or_checkpoint_and_names_what_it_cannot(qtbot, tmp_path,
                                                                                        monkeypatch):
    from adamlab.ui.window import MainWindow

    monkeypatch.setenv("ADAMLAB_SETTINGS", str(tmp_path / "s.ini"))
    w = MainWindow(restore=False)
    qtbot.addWidget(w)
    synth.make_run(tmp_path / "exp", steps=5)
    assert w.open_path(tmp_path / "exp" / "stats.rec")  # a file inside the folder works too
    assert w.current_panel().key == "monitor"
    monitor = w.panel("monitor")
    qtbot.waitUntil(lambda: len(monitor.runs) == 1, timeout=5000)
    wait_finished_and_drawn(qtbot, monitor, monitor.runs[0], 5)
    (tmp_path / "notes.txt").write_text("hello")
    assert not w.open_path(tmp_path / "notes.txt")
    assert "cannot open notes.txt" in w.statusBar().currentMessage()
    assert open_run(tmp_path / "exp").steps.size == 5  # the folder is untouched by reading it
