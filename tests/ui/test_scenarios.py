"""Scenario files (*.adamlab): a panel's or the whole lab's settings saved, opened again exactly (File menu,
drag-and-drop, command line), the built-in arena scenarios as such files, and damaged files refused whole."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QTextDocumentFragment
from PySide6.QtWidgets import QApplication

from adamlab.core.optim import make_optimizer
from adamlab.ui import scenarios
from adamlab.ui import window as window_mod
from adamlab.ui.panels import PANEL_KEYS
from adamlab.ui.panels.surface.presets import PRESETS
from adamlab.ui.window import MainWindow
from tests.ui.test_surface_panel import drag, widget_pos

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh_settings(tmp_path, monkeypatch):
    monkeypatch.setenv("ADAMLAB_SETTINGS", str(tmp_path / "settings.ini"))


def make_window(qtbot, panel=None):
    w = MainWindow(panel=panel, restore=False)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


@pytest.fixture
def window(qtbot, fresh_settings):
    return make_window(qtbot)


def idle(qtbot, w):
    qtbot.waitUntil(lambda: all(p.is_idle() for p in w.panels if p.key != "monitor"), timeout=20000)


def change_every_panel(w, qtbot):
    """Move controls of every panel away from their defaults, as a person would (keys, drags, clicks)."""
    ema = w.panel("ema")
    ema.beta2.spin.setValue(0.95)
    ema.kind.setCurrentIndex(ema.kind.findData("noisy") if ema.kind.findData("noisy") >= 0 else 1)
    ema.seed.setValue(7)
    st = w.panel("stepper")
    st.sides[0].combo.setCurrentIndex(st.sides[0].combo.findData("adamw"))
    st.sides[0].editor.controls["lr"].setValue(0.05)
    st.sides[1].combo.setCurrentIndex(st.sides[1].combo.findData("lion"))
    st.theta0.setValue(1.5)
    for _ in range(3):
        st.next_step()
    st.next_line()  # step 4, its first line only
    sf = w.panel("surface")
    w.show_panel("surface")
    qtbot.waitUntil(lambda: sf.is_idle(), timeout=20000)
    drag(sf.map.widget, widget_pos(sf, *sf.controls.start), widget_pos(sf, 0.37, 2.11))
    sf.controls.steps_spin.setValue(321)
    sf.racers.editors[sf.racers.entries[5]["uid"]].controls["lr"].setValue(0.0123)
    mon = w.panel("monitor")
    mon.smoothing.setValue(0.5)
    mon.setup.steps.setValue(777)
    mon.log_y.setChecked(True)
    idle(qtbot, w)


def states(w):
    return {p.key: p.get_state() for p in w.panels}


def test_every_panel_round_trips_exactly_through_its_own_file_and_through_a_lab_file(window, qtbot, tmp_path):
    w = window
    change_every_panel(w, qtbot)
    before = states(w)
    assert before["stepper"]["t"] == 4 and before["stepper"]["line"] == 0
    for key in PANEL_KEYS:
        w.show_panel(key)
        assert w.save_scenario(tmp_path / f"{key}.adamlab") == tmp_path / f"{key}.adamlab"
    w.show_panel("stepper")
    w.save_scenario(tmp_path / "lab.adamlab", whole_lab=True)
    assert not list(tmp_path.glob(".*adamlab-tmp"))  # written atomically: no temporary left behind
    doc = json.loads((tmp_path / "surface.adamlab").read_text("utf-8"))
    assert doc["adamlab"] == "scenario" and doc["version"] == 1 and doc["panel"] == "surface"
    assert doc["state"]["steps"] == 321  # human-readable: the settings are plain JSON fields

    fresh = make_window(qtbot, panel="ema")
    for key in PANEL_KEYS:
        assert fresh.open_path(tmp_path / f"{key}.adamlab"), fresh.last_open_error
        assert fresh.current_panel().key == key
        assert fresh.panel(key).get_state() == before[key], key
    st = fresh.panel("stepper")  # the stepper is where it was: step 4, first line, with the core's numbers
    assert st.session.t == 4 and st.current_line == 0 and st.steps_table.rowCount() == 3

    lab = make_window(qtbot, panel="surface")
    assert lab.open_path(tmp_path / "lab.adamlab"), lab.last_open_error
    assert states(lab) == before
    assert lab.current_panel().key == "stepper"  # the panel that was shown when the lab was saved


def test_the_arena_scenarios_are_shipped_files_read_by_the_same_loader(window, qtbot):
    files = sorted(p.stem for p in (REPO / "resources" / "scenarios").glob("*.adamlab")
                   if json.loads(p.read_text("utf-8"))["panel"] == "surface")
    assert sorted(PRESETS) == files == scenarios.builtin_names("surface")
    sf = window.panel("surface")
    combo = sf.controls.preset_combo
    assert [combo.itemData(i) for i in range(1, combo.count())] == list(PRESETS)  # the picker lists the files
    for name in files:  # each passes the same field-by-field check as a user's file
        sc = scenarios.read(scenarios.resolve(name))
        assert sc.title == PRESETS[name]["title"] and sc.text == PRESETS[name]["text"]
        assert window.check_scenario(sc)["surface"]["preset"] == name
    # picking in the combo and opening the file are the same thing
    window.show_panel("surface")
    combo.setCurrentIndex(combo.findData("saddle"))
    combo.activated.emit(combo.currentIndex())
    idle(qtbot, window)
    picked = sf.get_state()
    window.panel("surface").reset_defaults()
    assert window.open_path(scenarios.resolve("saddle"))
    idle(qtbot, window)
    assert sf.get_state() == picked and picked["surface"] == "saddle" and picked["preset"] == "saddle"


def test_a_users_arena_scenario_shows_its_own_title_and_story_until_the_surface_is_changed(window, qtbot,
                                                                                             tmp_path):
    doc = {"adamlab": "scenario", "version": 1, "panel": "surface", "title": "Bowl for the Tuesday lecture",
           "text": "Adam <b>keeps</b> its step near lr: m̂ over √v̂ is about 1.",
           "state": {"surface": "quadratic", "steps": 100}}
    (tmp_path / "mine.adamlab").write_text(json.dumps(doc), "utf-8")
    sf = window.panel("surface")
    ctl = sf.controls
    assert window.open_path(tmp_path / "mine.adamlab"), window.last_open_error
    idle(qtbot, window)
    assert ctl.preset_combo.currentText() == "Bowl for the Tuesday lecture"
    shown = QTextDocumentFragment.fromHtml(ctl.preset_text.text()).toPlainText()
    assert "Adam <b>keeps</b> its step near lr" in shown  # the file's words as written: plain text, not markup
    assert sf.get_state()["story"] == {"title": doc["title"], "text": doc["text"]}
    # saved again, it comes back with its story
    assert window.save_scenario(tmp_path / "again.adamlab")
    window.panel("surface").reset_defaults()
    assert ctl.preset_combo.currentText() == PRESETS["race"]["title"] and "story" not in sf.get_state()
    assert window.open_path(tmp_path / "again.adamlab"), window.last_open_error
    idle(qtbot, window)
    assert ctl.preset_combo.currentText() == "Bowl for the Tuesday lecture"
    # the usual way to write one: save from the app ("preset": "" in it), add a title and text by hand
    window.panel("surface").reset_defaults()
    ctl.surface_combo.setCurrentIndex(ctl.surface_combo.findData("saddle"))
    idle(qtbot, window)
    assert window.save_scenario(tmp_path / "saved.adamlab")
    saved = json.loads((tmp_path / "saved.adamlab").read_text("utf-8"))
    assert saved["state"]["preset"] == ""
    saved.update(title="Saddle, my way", text="Watch SGD stall.")
    (tmp_path / "saved.adamlab").write_text(json.dumps(saved), "utf-8")
    assert window.open_path(tmp_path / "saved.adamlab"), window.last_open_error
    idle(qtbot, window)
    assert ctl.preset_combo.currentText() == "Saddle, my way" and "Watch SGD stall." in ctl.preset_text.text()
    assert window.open_path(tmp_path / "again.adamlab"), window.last_open_error
    idle(qtbot, window)
    # the surface changed by hand: the story no longer describes the scene, and says whose it was
    ctl.surface_combo.setCurrentIndex(ctl.surface_combo.findData("saddle"))
    idle(qtbot, window)
    assert ctl.preset_combo.currentText() == ctl.CUSTOM
    assert "story of “Bowl for the Tuesday lecture” no longer describes it" in ctl.preset_text.text()
    assert "story" not in sf.get_state()


def test_the_stepper_scenario_opens_five_steps_in_with_what_its_paragraph_says(window, qtbot):
    w = window
    menu = next(a.menu() for a in w.menuBar().actions()[0].menu().actions() if a.text() == "&Built-in scenarios")
    entry = next(a for a in menu.actions() if a.text().startswith("Stepper: A huge lr"))
    p = w.panel("stepper")
    p.speed.setValue(10.0)
    p.sides[0].set_betas(0.5, 0.5)
    entry.trigger()  # File ▸ Built-in scenarios ▸ Stepper: …
    assert p.speed.value() == 2.0 and p.sides[0].values()["beta1"] == 0.9  # what the file leaves out: defaults
    assert w.current_panel() is p and p.session.t == 5 and p.shown == 5 and p.steps_table.rowCount() == 5
    adam, sgd = p.session.runs
    # SGD: θ − 3 is multiplied by −19 a step, 3·19⁵ = 7.4e6 at step 5: past 1e6, stopped there
    assert sgd.diverged_at == 5 and sgd.steps[-1].theta_new == pytest.approx(3 + 3 * 19**5)
    # Adam: the paragraph's path, which is the core's Adam on (θ − 3)² from 0 at lr 10, first step lr (up to ε)
    drawn = [s.theta_new for s in adam.steps]
    theta, opt, expect = np.array([0.0]), make_optimizer("adam", lr=10.0), []
    for _ in range(5):
        opt.step(theta, 2 * (theta - 3))
        expect.append(float(theta[0]))
    assert drawn == expect
    assert drawn[0] == pytest.approx(10.0, rel=1e-8)  # lr·g/(|g| + ε), g = −6
    assert [round(x, 2) for x in drawn] == [10.0, 5.8, 0.55, -1.89, -0.94]


def test_resolve_takes_a_path_or_a_built_in_name(tmp_path, monkeypatch):
    assert scenarios.resolve("zigzag") == scenarios.builtin_dir() / "zigzag.adamlab"
    assert scenarios.resolve("zigzag.adamlab") == scenarios.builtin_dir() / "zigzag.adamlab"
    mine = tmp_path / "zigzag.adamlab"
    mine.write_text("{}")
    monkeypatch.chdir(tmp_path)  # a file of that name in the working directory is the user's: it wins
    assert scenarios.resolve("zigzag.adamlab") == Path("zigzag.adamlab")
    with pytest.raises(scenarios.ScenarioError, match=r"nope: no such scenario file.*built-in: .*race"):
        scenarios.resolve("nope")


def valid_doc():
    return {"adamlab": "scenario", "version": 1, "panel": "surface",
            "state": {"surface": "saddle", "steps": 50, "optimizers": [
                {"kind": "sgd", "enabled": True, "values": {"lr": 0.01}},
                {"kind": "adam", "enabled": True, "values": {"lr": 0.02}},
                {"kind": "rmsprop", "enabled": True, "values": {"lr": 0.01}}]}}


def bad(doc_change):
    doc = valid_doc()
    doc_change(doc)
    return json.dumps(doc)


DAMAGED = {
    "truncated": (lambda: json.dumps(valid_doc())[:120], r"not valid JSON \(line 1, column \d+\)"),
    "newer version": (lambda: bad(lambda d: d.update(version=2)), r"newer AdamLab \(scenario version 2"),
    "wrong type": (lambda: bad(lambda d: d["state"].update(steps="many")),
                   r"surface\.steps: 'many' is not a whole number"),
    "out of range": (lambda: bad(lambda d: d["state"]["optimizers"][2]["values"].update(lr=50)),
                     r"surface\.optimizers\[2\]\.values\.lr: 50 is outside \[1e-06, 10\]"),
    "unknown panel": (lambda: bad(lambda d: d.update(panel="cockpit")), r"panel: 'cockpit' is not one of ema"),
    "unknown field": (lambda: bad(lambda d: d["state"].update(warp=9)), r"surface\.warp: unknown field"),
    "not a scenario": (lambda: json.dumps({"surface": "saddle"}), r"not an AdamLab scenario"),
    "NaN": (lambda: json.dumps(valid_doc()).replace('"steps": 50', '"steps": NaN'), r"NaN is not a JSON number"),
    "binary": (lambda: b"\x89PNG\r\n\x1a\n\x00\x00", r"a binary file"),
    "deep": (lambda: '{"adamlab": "scenario", "version": 1, "panel": "ema", "state": {"a": '
             + "[" * 100_000 + "]" * 100_000 + "}}", r"nested too deeply"),
}


@pytest.mark.parametrize("case", list(DAMAGED))
def test_a_damaged_file_is_refused_by_name_with_nothing_applied(window, qtbot, tmp_path, case):
    w = window
    make, message = DAMAGED[case]
    data = make()
    path = tmp_path / "race.adamlab"
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    idle(qtbot, w)
    before = states(w)
    shown = w.current_panel().key
    assert w.open_path(path) is False
    assert w.last_open_error.startswith("race.adamlab: ") and "\n" not in w.last_open_error
    assert re.search(message, w.last_open_error), w.last_open_error
    assert w.statusBar().currentMessage() == f"Not opened: {w.last_open_error}"
    assert states(w) == before and w.current_panel().key == shown
    assert all(u.stack.count() == 0 for u in w.undos.values())  # nothing applied, nothing to undo


def test_a_lab_file_with_one_bad_panel_changes_no_panel_at_all(window, qtbot, tmp_path):
    w = window
    path = tmp_path / "lab.adamlab"
    scenarios.write(path, states(w), "ema", whole_lab=True)
    doc = json.loads(path.read_text("utf-8"))
    doc["panels"]["ema"]["beta2"] = 0.5  # fine
    doc["panels"]["stepper"]["A"]["beta2"] = 1.5  # the third panel is broken
    path.write_text(json.dumps(doc))
    before = states(w)
    assert not w.open_path(path)
    assert w.last_open_error == "lab.adamlab: stepper.A.beta2: 1.5 is outside [0, 0.99999]"
    assert states(w) == before  # not even the fine ema change is applied: validate everything first


def test_a_huge_file_is_refused_after_reading_no_more_than_the_cap(window, tmp_path, monkeypatch):
    path = tmp_path / "huge.adamlab"
    with open(path, "wb") as f:  # 50 MB, sparse: what matters is that the reader stops at 1 MB
        f.truncate(50 << 20)
    read_sizes = []
    real_open = open

    def spying_open(file, mode="r", *args, **kwargs):
        handle = real_open(file, mode, *args, **kwargs)
        if str(file) == str(path):
            real_read = handle.read
            handle.read = lambda n=-1: read_sizes.append(n) or real_read(n)
        return handle

    monkeypatch.setattr("builtins.open", spying_open)
    assert not window.open_path(path)
    assert window.last_open_error == "huge.adamlab: larger than 1024 kB: not a scenario file"
    assert read_sizes == [scenarios.MAX_BYTES + 1]


def test_save_and_open_from_the_file_menu_and_drop_a_file_on_the_window(window, qtbot, tmp_path, monkeypatch):
    w = window
    w.show_panel("ema")
    w.panel("ema").beta1.spin.setValue(0.8)
    target = tmp_path / "mine"
    monkeypatch.setattr(window_mod, "ask_save_path", lambda *a: str(target) + ".adamlab")
    actions = {a.text().replace("&", ""): a for a in w.menuBar().actions()[0].menu().actions()}
    actions["Save scenario…"].trigger()
    saved = scenarios.read(str(target) + ".adamlab")
    assert saved.panel == "ema" and not saved.whole_lab and saved.states["ema"]["beta1"] == 0.8
    actions["Save lab…"].trigger()
    assert scenarios.read(str(target) + ".adamlab").whole_lab
    w.panel("ema").beta1.spin.setValue(0.5)
    monkeypatch.setattr(window_mod.QFileDialog, "getOpenFileName", lambda *a, **k: (str(target) + ".adamlab", ""))
    actions["Open…"].trigger()
    assert w.panel("ema").beta1.value() == 0.8

    w.panel("ema").beta1.spin.setValue(0.3)
    w.show_panel("monitor")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(target) + ".adamlab")])
    enter = QDragEnterEvent(QPoint(200, 200), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(w, enter)  # a drag first enters the window, which takes local files
    assert enter.isAccepted()
    drop = QDropEvent(QPointF(200, 200), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(w, drop)
    assert w.panel("ema").beta1.value() == 0.8 and w.current_panel().key == "ema"


def run_app(*args, cwd=None):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-m", "adamlab", *args], capture_output=True, text=True, env=env, check=False,
                          cwd=cwd, timeout=120)


def test_the_command_line_refuses_a_bad_scenario_with_one_line_and_status_2(tmp_path):
    bad_frame = tmp_path / "broken.adamlab"
    bad_frame.write_text('{"adamlab": "scenario", "version": 1, "panel": ')
    r = run_app(str(bad_frame))  # refused before any window is built
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert r.stderr.startswith("adamlab: broken.adamlab: not valid JSON")
    r = run_app("--scenario", "nope")
    assert r.returncode == 2 and r.stderr.startswith("adamlab: nope: no such scenario file")
    r = run_app(str(tmp_path / "gone.npz"))
    assert r.returncode == 2 and r.stderr == f"adamlab: {tmp_path / 'gone.npz'}: no such file or folder\n"
    bad_field = tmp_path / "fast.adamlab"
    bad_field.write_text(json.dumps({"adamlab": "scenario", "version": 1, "panel": "ema", "state": {"beta2": 5}}))
    r = run_app(str(bad_field), "--screenshot", str(tmp_path / "x.png"))  # checked against the real panel
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == "adamlab: fast.adamlab: ema.beta2: 5 is outside [0, 0.99999]"
    assert not (tmp_path / "x.png").exists()


def test_the_command_line_opens_a_built_in_scenario_by_name(tmp_path):
    shot = tmp_path / "saddle.png"
    r = run_app("--scenario", "saddle", "--screenshot", str(shot), "--size", "1024x700")
    assert r.returncode == 0, r.stderr
    assert shot.stat().st_size > 10_000


def test_the_stepper_reopens_at_the_same_step_and_line_with_the_same_table_and_lines(qtbot):
    from adamlab.ui.panels.stepper.panel import StepperPanel

    by_hand, reopened = StepperPanel(), StepperPanel()
    for p in (by_hand, reopened):
        qtbot.addWidget(p)
    noisy = by_hand.problem.findData("noisy")
    assert noisy >= 0
    by_hand.problem.setCurrentIndex(noisy)  # seeded noise: replayed exactly too
    for _ in range(7):
        by_hand.next_step()
    by_hand.next_line()
    by_hand.next_line()  # step 8, second line
    state = by_hand.get_state()
    assert (state["t"], state["line"]) == (8, 1)
    reopened.set_state(json.loads(json.dumps(state)))  # as read back from a file
    assert reopened.get_state() == state
    cells = lambda p: [[p.steps_table.item(r, c).text() for c in range(p.steps_table.columnCount())]  # noqa: E731
                       for r in range(p.steps_table.rowCount())]
    assert len(cells(reopened)) == 7 and cells(reopened) == cells(by_hand)
    assert reopened.step_label.text() == by_hand.step_label.text()
    assert [r.theta[0] for r in reopened.session.runs] == [r.theta[0] for r in by_hand.session.runs]
