"""Every optimizer of the zoo trains the GPT in the monitor: the set-up's editor values reach the core optimizer
unchanged, the kind's own knobs change live, Compare starts any chosen set, each run wears its optimizer's
colour, and Muon + AdamW says which tensor each half steps.

The reference is the core itself: ``make_optimizer(kind, **to_core(editor values))`` — the object the arena and
the stepper build from the same table — against the optimizer the run trains with.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from PySide6.QtCore import Qt

from adamlab.core import train
from adamlab.core.optim import OPTIMIZERS, make_optimizer
from adamlab.ui import theme
from adamlab.ui.knobs import to_core
from adamlab.ui.panels.monitor import job as mj
from adamlab.ui.panels.monitor.panel import MonitorPanel
from adamlab.ui.panels.monitor.setup import MONITOR_LR
# the monitor tests' shown panel with small, quick runs
from tests.ui.test_monitor_panel import panel  # noqa: F401  (a pytest fixture)

LEFT = Qt.MouseButton.LeftButton


def choose(panel, kind):
    combo = panel.setup.opt_kind
    combo.setCurrentIndex(combo.findData(kind))


@pytest.mark.parametrize("kind", sorted(OPTIMIZERS))
def test_the_setup_of_every_kind_builds_the_optimizer_its_editor_shows(qtbot, panel, kind):
    choose(panel, kind)
    editor = panel.setup.editor(kind)
    assert panel.setup.editor_stack.currentWidget() is editor
    assert panel.setup.opt_note.text()  # what the optimizer does, under its knobs
    values = editor.values()
    assert values["lr"] == pytest.approx(MONITOR_LR[kind])
    tr = train.Trainer(mj.train_config(panel.setup.config(), panel._corpus), panel._corpus)
    want = make_optimizer(kind, **to_core(values)).hyperparameters()
    got = tr.optimizer.hyperparameters()
    assert type(tr.optimizer) is type(make_optimizer(kind, **to_core(values)))
    for k, v in want.items():
        assert got[k] == (pytest.approx(v) if isinstance(v, float) else v), (kind, k)
    losses = [tr.step().loss for _ in range(3)]
    assert all(np.isfinite(losses)) and tr.status != "diverged"


def test_a_kinds_own_knob_changes_live_and_is_marked_by_name():
    corpus_cfg = {"corpus": "names", "steps": 1000, "batch_size": 4, "optimizer": "nadam", "lr": 2e-3}
    job = mj.RunJob(train.Trainer(train.TrainConfig(**corpus_cfg)))
    job.trainer.step()
    assert job.set_knob("momentum_decay", 0.01)[0] == "knob"
    job.trainer.step()
    assert job.trainer.optimizer.hyperparameters()["momentum_decay"] == 0.01
    assert job.trainer.history.knob_labels[-1] == "momentum_decay default→0.01"
    # a flag changes what the optimizer keeps: refused while training, by name
    kind, message = job.set_knob("decoupled_weight_decay", 1.0)
    assert kind == "error" and "decoupled_weight_decay" in message
    # out of range: the core's message names the argument, nothing changes
    kind, message = job.set_knob("momentum_decay", -1.0)
    assert kind == "error" and "momentum_decay" in message
    job.trainer.step()
    assert job.trainer.optimizer.hyperparameters()["momentum_decay"] == 0.01


def test_rmsprop_alpha_and_ademamix_beta3_reach_their_optimizers_live():
    job = mj.RunJob(train.Trainer(train.TrainConfig(corpus="names", steps=100, batch_size=4, optimizer="rmsprop",
                                                    lr=3e-3)))
    job.set_knob("alpha", 0.9)
    job.trainer.step()
    assert job.trainer.optimizer.hyperparameters()["alpha"] == 0.9
    job = mj.RunJob(train.Trainer(train.TrainConfig(corpus="names", steps=100, batch_size=4, optimizer="ademamix",
                                                    lr=1e-3)))
    job.set_knob("beta3", 0.999)
    job.set_knob("mix_alpha", 7.0)
    job.trainer.step()
    hp = job.trainer.optimizer.hyperparameters()
    assert hp["betas"][2] == 0.999 and hp["alpha"] == 7.0


def test_mapping_a_live_knob_in_the_child_loads_no_gui_module():
    code = ("import sys; from adamlab.core import train; from adamlab.ui.panels.monitor import job as mj; "
            "j = mj.RunJob(train.Trainer(train.TrainConfig(corpus='names', steps=10, batch_size=2, "
            "optimizer='adadelta', lr=1.0))); print(j.set_knob('rho', 0.8)[0], "
            "[m for m in ('PySide6', 'pyqtgraph') if m in sys.modules])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["knob", "[]"]


def test_a_live_knob_of_a_new_kind_typed_in_the_panel_reaches_the_run(qtbot, panel):
    choose(panel, "lion")
    panel.setup.schedule.setCurrentIndex(panel.setup.schedule.findData("constant"))
    panel.setup.steps.setValue(100000)
    qtbot.mouseClick(panel.start_button, LEFT)
    run = panel.runs[0]
    qtbot.waitUntil(lambda: run.snap is not None and run.snap.step >= 3, timeout=20000)
    panel.setup.editor("lion").controls["beta2"].spin.setValue(0.95)  # as typed into the box
    qtbot.waitUntil(lambda: bool(run.snap.events) and "betas" in run.snap.events[-1][2], timeout=10000)
    assert "(0.9, 0.99)→(0.9, 0.95)" in run.snap.events[-1][2]
    qtbot.waitUntil(lambda: len(run.markers) == 1, timeout=5000)  # drawn on the loss plot
    run.handle.worker.call(mj.RunJob.facts)
    qtbot.waitUntil(lambda: "facts" in run.replies, timeout=10000)
    facts = run.replies["facts"]
    assert facts["config"]["betas"] == [0.9, 0.95] or tuple(facts["config"]["betas"]) == (0.9, 0.95)
    assert facts["gui_modules"] == []


def test_compare_starts_the_chosen_kinds_in_their_colours_and_muon_shows_its_routes(qtbot, panel):
    assert panel.compare_kinds() == ["sgd", "adam", "adamw"]  # the default set
    for kind, act in panel.compare_actions.items():  # as a person would tick them in the arrow's menu
        if act.isChecked() != (kind in ("lion", "muon_adamw")):
            act.trigger()
    assert panel.compare_kinds() == ["muon_adamw", "lion"] or panel.compare_kinds() == ["lion", "muon_adamw"]
    assert "Lion" in panel.compare_button.toolTip()
    panel.setup.steps.setValue(12)
    qtbot.mouseClick(panel.compare_button, LEFT)
    assert len(panel.runs) == 2
    qtbot.waitUntil(lambda: all(r.state == "finished" for r in panel.runs), timeout=40000)
    kinds = [r.job.trainer.config.optimizer for r in panel.runs]
    assert sorted(kinds) == ["lion", "muon_adamw"]
    for run, kind in zip(panel.runs, kinds):
        assert run.color == theme.optimizer_color(kind)
        assert run.job.trainer.config.lr == MONITOR_LR[kind]
    first = [r.job.trainer.history.loss[0] for r in panel.runs]
    assert first[0] == first[1]  # same weights and data: only the optimizer differs
    # the tensors table of the Muon + AdamW run says which half stepped each tensor
    muon_run = panel.runs[kinds.index("muon_adamw")]
    panel.run_list.setCurrentItem(muon_run.list_item)
    table = panel.table
    qtbot.waitUntil(lambda: not table.isColumnHidden(5) and table.rowCount() == 9
                    and table.item(0, 5) is not None and table.item(0, 5).text() != "", timeout=5000)
    by = {table.item(r, 0).text(): table.item(r, 5).text() for r in range(table.rowCount())}
    want = muon_run.job.trainer.optimizer.routes()
    assert by == {n: {"muon": "Muon", "adamw": "AdamW"}[w] for n, w in want.items()}
    assert by["wte"] == "AdamW" and by["lm_head"] == "AdamW" and by["layer0.mlp_fc1"] == "Muon"
    # the Lion run has no such column
    panel.run_list.setCurrentItem(panel.runs[kinds.index("lion")].list_item)
    qtbot.waitUntil(lambda: table.isColumnHidden(5), timeout=5000)


def test_a_second_run_of_a_kind_gets_a_colour_of_its_own(qtbot, panel):
    panel.setup.steps.setValue(5)
    for _ in range(2):
        qtbot.mouseClick(panel.start_button, LEFT)
    a, b = panel.runs
    assert a.color == theme.optimizer_color("adam")
    assert b.color != a.color and b.color in theme.CYCLE
    qtbot.waitUntil(lambda: all(r.state == "finished" for r in panel.runs), timeout=30000)


def test_the_compare_set_is_saved_with_the_panel_and_refused_when_junk(qtbot, panel):
    for kind in ("sgd", "nadam"):
        panel.compare_actions[kind].trigger()
    state = panel.get_state()
    assert state["compare"] == ["adam", "adamw", "nadam"]
    fresh = MonitorPanel()
    qtbot.addWidget(fresh)
    assert fresh.restore(state) == []
    assert fresh.compare_kinds() == ["adam", "adamw", "nadam"]
    problems = fresh.restore({**state, "compare": ["adam", "sgdx"]})
    assert any("compare[1]" in p and "sgdx" in p for p in problems)


def test_a_run_that_would_not_fit_in_memory_is_refused_before_any_process_starts(qtbot, panel, monkeypatch):
    monkeypatch.setenv("ADAMLAB_MEMORY_LIMIT", "4M")  # microgpt takes ~13 MB by the estimate
    qtbot.mouseClick(panel.start_button, LEFT)
    assert panel.runs == []
    qtbot.waitUntil(lambda: "not enough memory" in panel.status_label.text(), timeout=2000)
    assert "4 MB is available" in panel.status_label.text() or "4 MB" in panel.status_label.text()
    qtbot.mouseClick(panel.compare_button, LEFT)  # three runs: refused as a whole
    assert panel.runs == []
    assert "3 runs need" in panel.status_label.text()
