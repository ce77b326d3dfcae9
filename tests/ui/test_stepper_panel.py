"""The stepper, driven by its buttons: what it shows (highlighted line, maths, table, plots) is checked against
hand-worked numbers, a plain Adam written here, and the core optimizers run independently. Run A is Adam and
run B is SGD to start with (tests/ui/test_stepper_kinds.py chooses the others)."""

import math

import numpy as np
import pytest
from PySide6.QtCore import Qt

from adamlab.core import optim
from adamlab.ui.panels.ema.panel import EmaPanel
from adamlab.ui.panels.stepper.panel import NOISE_SIGMA, StepperPanel


@pytest.fixture
def panel(qtbot):
    p = StepperPanel()
    qtbot.addWidget(p)
    p.resize(1100, 760)
    p.show()
    return p


def maths(panel, row):
    return panel.code_lines.maths(row)


def highlighted_rows(panel):
    """Rows painted with the highlight (a translucent background behind the code and its maths)."""
    return [r for r in range(panel.code_lines.row_count())
            if "transparent" not in panel.code_lines._rows[r][0].styleSheet()]


def headers(panel):
    table = panel.steps_table
    return [table.horizontalHeaderItem(c).text().replace("\n", " ") for c in range(table.columnCount())]


def table_value(panel, row, header):
    item = panel.steps_table.item(row, headers(panel).index(header))
    return float(item.data(Qt.ItemDataRole.UserRole)), item.text()


def shown(text):
    """A displayed number back to a float (typographic minus)."""
    return float(text.replace("−", "-"))


def click(qtbot, button):
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def knob(panel, run, name):
    """Run A's (0) or B's (1) control for hyperparameter ``name``, in its optimizer editor."""
    return panel.sides[run].editor.controls[name]


def choose(panel, run, kind):
    combo = panel.sides[run].combo
    combo.setCurrentIndex(combo.findData(kind))


def test_first_step_line_by_line_matches_hand_worked_numbers(panel, qtbot):
    # L = (θ − 3)², θ0 = 0 → g = 2(0 − 3) = −6. β1 = 0.9, β2 = 0.999, lr = 0.1.
    assert highlighted_rows(panel) == []
    assert panel.code_title.text() == "Adam's update, one line at a time"
    expected = [
        "g = ∇L(0.0000) = −6.0000",
        "m = 0.9 × 0.0000 + 0.1 × −6.0000 = −0.6000",          # 0.1·(−6)
        "v = 0.999 × 0.0000 + 0.001 × (−6.0000)² = 0.0360",     # 0.001·36
        "m_hat = −0.6000 / (1 − 0.9¹) = −6.0000",                # −0.6/0.1
        "v_hat = 0.0360 / (1 − 0.999¹) = 36.0000",               # 0.036/0.001
        "θ = 0.0000 − 0.1 × −6.0000 / (√36.0000 + 1e−08) = 0.1000",  # the first Adam step is ±lr
    ]
    for row, text in enumerate(expected):
        click(qtbot, panel.next_line_button)
        assert highlighted_rows(panel) == [row]
        assert maths(panel, row) == text
        if row < len(expected) - 1:
            assert maths(panel, row + 1) == "…"  # not run yet
            assert maths(panel, 6) == "…"  # nor SGD's line
            assert panel.steps_table.rowCount() == 0
    # The step is complete: SGD's θ line is shown below Adam's, a table row and a plot point were added.
    assert panel.code_lines.code(6) == "B:  θ = θ - lr * g"
    assert maths(panel, 6) == "θ = 0.0000 − 0.1 × −6.0000 = 0.6000"
    assert panel.steps_table.rowCount() == 1
    assert headers(panel) == ["t", "g Adam", "m Adam", "v Adam", "m_hat Adam", "v_hat Adam", "ratio Adam",
                              "θ Adam", "loss Adam", "θ SGD", "loss SGD"]
    assert table_value(panel, 0, "θ Adam")[1] == "0.1"
    assert table_value(panel, 0, "loss Adam")[1] == "8.41"  # three figures; the cell's tooltip has them all
    col = headers(panel).index("loss Adam")
    assert panel.steps_table.item(0, col).toolTip() == "loss Adam = 8.410000001"  # θ = 0.6/(6 + 1e-8)
    assert panel.steps_table.item(0, headers(panel).index("v Adam")).toolTip() == "v Adam = 0.036"
    assert table_value(panel, 0, "loss Adam")[0] == pytest.approx((0.1 - 3) ** 2)
    assert table_value(panel, 0, "θ SGD")[0] == pytest.approx(0.6, rel=1e-15)
    np.testing.assert_allclose(panel.curves["theta_A"].yData, [0.0, 0.1 * 6 / (6 + 1e-8)], rtol=1e-12)
    np.testing.assert_allclose(panel.curves["theta_B"].yData, [0.0, 0.6], rtol=1e-12)
    assert "bias corrections 1 − β1ᵗ = 0.1000, 1 − β2ᵗ = 0.0010" in panel.step_label.text()
    # The next press starts step 2 on its first line.
    click(qtbot, panel.next_line_button)
    assert highlighted_rows(panel) == [0] and maths(panel, 1) == "…"
    assert maths(panel, 0) == "g = ∇L(0.1000) = −5.8000"


def test_seeds_example_line_with_beta1_085(panel, qtbot):
    """The seeds' line "m = 0.85 × 0.0000 + 0.15 × 0.5000 = 0.0750": g = 2(3.25 − 3) = 0.5."""
    knob(panel, 0, "beta1").spin.setValue(0.85)
    panel.theta0.spin.setValue(3.25)
    click(qtbot, panel.next_line_button)
    click(qtbot, panel.next_line_button)
    assert maths(panel, 0) == "g = ∇L(3.2500) = 0.5000"
    assert maths(panel, 1) == "m = 0.85 × 0.0000 + 0.15 × 0.5000 = 0.0750"


def plain_adamw(theta, grads_fn, steps, lr, b1, b2, eps, wd, decoupled):
    """A straightforward scalar Adam/AdamW written from the paper's formulas (torch's ε placement)."""
    m = v = 0.0
    rows = []
    for t in range(1, steps + 1):
        g = grads_fn(t, theta)
        if decoupled:
            theta = theta * (1 - lr * wd)
        else:
            g = g + wd * theta
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        mh, vh = m / (1 - b1**t), v / (1 - b2**t)
        theta = theta - lr * mh / (math.sqrt(vh) + eps)
        rows.append({"g": g, "m": m, "v": v, "m_hat": mh, "v_hat": vh, "θ": theta})
    return rows


@pytest.mark.parametrize("kind", ["adam", "adamw"])
def test_many_steps_match_the_core_and_a_plain_adam(panel, qtbot, kind):
    panel.problem.setCurrentIndex(panel.problem.findData("noisy"))
    choose(panel, 0, kind)
    for name, value in (("lr", 0.3), ("beta1", 0.85), ("beta2", 0.99), ("weight_decay", 0.05)):
        knob(panel, 0, name).spin.setValue(value)
    panel.theta0.spin.setValue(-2.0)
    steps = 12
    for _ in range(steps):
        click(qtbot, panel.next_step_button)
    label = optim.optimizer_label(kind)
    assert panel.steps_table.rowCount() == steps
    n_lines = 7 if kind == "adamw" else 6
    assert highlighted_rows(panel) == [n_lines - 1]  # the θ line

    noise = NOISE_SIGMA * np.random.default_rng(0).standard_normal(steps)  # the panel's seed-0 noise

    def grad(t, theta):
        return 2 * (theta - 3) + noise[t - 1]

    ref = plain_adamw(-2.0, grad, steps, 0.3, 0.85, 0.99, 1e-8, 0.05, kind == "adamw")
    # The core, run on its own with the same gradients.
    opt = optim.make_optimizer(kind, lr=0.3, betas=(0.85, 0.99), eps=1e-8, weight_decay=0.05)
    p = np.array([-2.0])
    for t in range(1, steps + 1):
        opt.step(p, np.array([grad(t, p[0])]))
        info = opt.inspect()
        core = {f"m {label}": info["m"][0], f"v {label}": info["v"][0], f"m_hat {label}": info["m_hat"][0],
                f"v_hat {label}": info["v_hat"][0], f"ratio {label}": info["normalized_step"][0], f"θ {label}": p[0]}
        for name, value in core.items():
            data, text = table_value(panel, t - 1, name)
            assert data == value, (t, name)  # the core's number, bit for bit
            assert shown(text) == pytest.approx(value, rel=5e-3, abs=1e-12), (t, name, text)  # 3 figures
        for name in ("g", "m", "v", "m_hat", "v_hat"):
            assert table_value(panel, t - 1, f"{name} {label}")[0] == pytest.approx(ref[t - 1][name], rel=1e-9)
        assert table_value(panel, t - 1, f"θ {label}")[0] == pytest.approx(ref[t - 1]["θ"], rel=1e-9)
    # The maths lines show the last step's numbers; the value after "=" is the core's.
    assert shown(maths(panel, n_lines - 5).rsplit("= ", 1)[1]) == pytest.approx(ref[-1]["m"], rel=2e-4)
    assert shown(maths(panel, n_lines - 1).rsplit("= ", 1)[1]) == pytest.approx(p[0], abs=1e-4)
    if kind == "adamw":
        assert maths(panel, 1).startswith("θ = ") and "× (1 − 0.3 × 0.05)" in maths(panel, 1)
        assert panel.code_lines.code(1) == "θ = θ * (1 - lr * wd)"
    else:
        assert panel.code_lines.code(0) == "g = grad(θ) + wd * θ"
    np.testing.assert_allclose(panel.curves["theta_A"].yData[1:], [r["θ"] for r in ref], rtol=1e-9)


def test_run_and_pause(panel, qtbot):
    panel.speed.spin.setValue(50.0)
    click(qtbot, panel.run_button)
    assert panel.run_button.text() == "Pause" and not panel.is_idle()
    qtbot.waitUntil(lambda: panel.steps_table.rowCount() >= 5, timeout=5000)
    click(qtbot, panel.run_button)
    assert panel.is_idle() and panel.run_button.text() == "Run"
    n = panel.steps_table.rowCount()
    qtbot.wait(100)
    assert panel.steps_table.rowCount() == n
    click(qtbot, panel.reset_button)
    assert panel.steps_table.rowCount() == 0 and highlighted_rows(panel) == []
    assert list(panel.curves["theta_A"].yData) == [0.0]


def test_playground_sequence_drives_both_runs(qtbot):
    ema = EmaPanel()
    qtbot.addWidget(ema)
    ema.kind.setCurrentIndex(ema.kind.findData("seed"))
    qtbot.waitUntil(ema.is_idle)
    panel = StepperPanel()
    qtbot.addWidget(panel)
    panel.problem.setCurrentIndex(panel.problem.findData("playground"))
    for _ in range(5):
        click(qtbot, panel.next_step_button)
    assert [table_value(panel, r, "g Adam")[0] for r in range(5)] == [5, -2, 4, -1, 6]
    # m after the seeds' sequence with β1 = 0.9, by hand: 0.5, 0.25, 0.625, 0.4625, 1.01625.
    np.testing.assert_allclose([table_value(panel, r, "m Adam")[0] for r in range(5)],
                               [0.5, 0.25, 0.625, 0.4625, 1.01625], rtol=1e-12)
    assert maths(panel, 0) == "g = g₅ = 6.0000"
    # SGD took the same gradients: θ_SGD = −0.1·(5 − 2 + 4 − 1 + 6) = −1.2
    assert table_value(panel, 4, "θ SGD")[0] == pytest.approx(-1.2, rel=1e-12)
    click(qtbot, panel.focus_buttons[1])
    assert [table_value(panel, r, "g SGD")[0] for r in range(5)] == [5, -2, 4, -1, 6]
    assert maths(panel, 0) == "g = g₅ = 6.0000"
    assert not panel.plot_loss.isVisible()
    click(qtbot, panel.next_step_button)  # the sequence is used up: a message, no crash
    assert panel.steps_table.rowCount() == 5
    assert "only 5 values" in panel.status.text()


def test_state_roundtrip_bad_entries_legacy_state_and_reset(panel, qtbot):
    panel.problem.setCurrentIndex(panel.problem.findData("abs"))
    choose(panel, 0, "adamw")
    knob(panel, 0, "lr").spin.setValue(0.05)
    choose(panel, 1, "lion")
    knob(panel, 1, "beta2").spin.setValue(0.95)
    click(qtbot, panel.focus_buttons[1])
    state = panel.get_state()
    assert state["problem"] == "abs" and state["A"]["kind"] == "adamw" and state["A"]["lr"] == 0.05
    assert state["B"] == {"kind": "lion", "lr": 0.1, "beta1": 0.9, "beta2": 0.95, "weight_decay": 0.0}
    assert state["focus"] == "B"
    other = StepperPanel()
    qtbot.addWidget(other)
    other.set_state({"problem": "nope", "A": {"kind": "muon", "lr": 1.0}, "B": "x", "theta0": "far", "x": 1})
    assert other.get_state()["problem"] == "quadratic" and other.get_state()["A"]["kind"] == "adam"
    other.set_state(state)
    assert other.get_state() == state
    assert other.session.runs[1].opt.hyperparameters()["betas"] == (0.9, 0.95)
    other.set_state(None)
    # a state saved by the Adam-and-SGD stepper: its Adam becomes run A, SGD with its lr run B
    other.set_state({"problem": "noisy", "theta0": 1.0, "lr": 0.2, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6,
                     "weight_decay": 0.01, "adamw": True, "speed": 3.0})
    s = other.get_state()
    assert s["A"] == {"kind": "adamw", "lr": 0.2, "beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "weight_decay": 0.01}
    assert s["B"] == {"kind": "sgd", "lr": 0.2, "weight_decay": 0.01} and s["speed"] == 3.0
    click(qtbot, panel.next_step_button)
    panel.reset_defaults()
    s = panel.get_state()
    assert s["problem"] == "quadratic" and s["A"]["kind"] == "adam" and s["B"]["kind"] == "sgd"
    assert s["A"]["lr"] == 0.1 and s["focus"] == "A"
    assert panel.steps_table.rowCount() == 0


def test_a_huge_lr_stops_sgd_where_it_diverges_says_so_and_keeps_the_plots_readable(panel, qtbot):
    # lr = 10 on (θ − 3)²: SGD's θ ← θ − 20(θ − 3) multiplies its error by −19 a step: |θ − 3| = 3·19^t passes
    # 1e6 at step 5 (7.4e6). It used to run on to 1e+150 with no word, the θ axis labelled "×1e+27" and table
    # cells cut to "3.946e…"; now SGD stops there, the panel says so, and Adam (moving ~lr a step) goes on.
    panel.resize(846, 651)  # what a 1024 × 700 window gives a panel
    knob(panel, 0, "lr").setValue(10.0)
    knob(panel, 1, "lr").setValue(10.0)
    click(qtbot, panel.reset_button)
    messages = []
    panel.statusMessage.connect(messages.append)
    for _ in range(4):
        click(qtbot, panel.next_step_button)
    assert [r.diverged_at for r in panel.session.runs] == [None, None] and messages == []
    click(qtbot, panel.next_step_button)
    assert [r.diverged_at for r in panel.session.runs] == [None, 5]
    sgd_theta = 3 - 3 * (-19) ** 5  # by hand: 7,428,600
    assert panel.session.runs[1].steps[-1].theta_new == pytest.approx(sgd_theta, rel=1e-12)
    assert any("SGD diverged at step 5" in m and "Adam goes on" in m for m in messages)
    assert "SGD diverged at step 5" in panel.status.text() and "diverged at t = 5" in panel.plot_key.text()
    for _ in range(25):
        click(qtbot, panel.next_step_button)
    assert panel.session.t == 30 and panel.session.finished() == ""  # Adam goes on
    assert maths(panel, 6).startswith("stopped: SGD diverged")
    theta = table_value(panel, 29, "θ Adam")[0]
    assert math.isfinite(theta) and abs(theta) < 20
    assert table_value(panel, 29, "θ SGD")[1] == "—"  # no further SGD numbers
    # SGD's own lines say it stopped
    click(qtbot, panel.focus_buttons[1])
    assert maths(panel, 0) == "stopped: SGD diverged at step 5 (see the θ plot)"
    assert panel.step_label.text().endswith("it stopped there")
    click(qtbot, panel.focus_buttons[0])
    # the plots keep Adam's scale: SGD's path is drawn where autoscale ignores it, and ends at step 5
    assert list(panel.wild_curves["theta_B"].xData) == [0, 1, 2, 3, 4, 5]
    qtbot.waitUntil(lambda: panel.plot_theta.viewRange()[1][1] < 50)
    (_, _), (y0, y1) = panel.plot_theta.viewRange()
    adam = panel.curves["theta_A"].yData
    assert y0 <= adam.min() and y1 >= adam.max()
    ticks = panel.plot_theta.getAxis("left").tickStrings([0.0, 4e5, -1.5e6], 1.0, 1.0)
    assert ticks == ["0", "4e5", "-1.5e6"]  # never "×1e+27" in the axis label
    assert "1e+" not in panel.plot_theta.getAxis("left").labelString()
    assert_no_cell_is_cut(panel.steps_table)
    click(qtbot, panel.reset_button)
    click(qtbot, panel.next_step_button)
    assert panel.session.t == 1 and [r.diverged_at for r in panel.session.runs] == [None, None]


def test_when_both_runs_diverge_the_session_stops_and_says_so(panel, qtbot):
    choose(panel, 0, "sgd")  # A: SGD at lr 10 as well (both "SGD A" and "SGD B")
    knob(panel, 0, "lr").setValue(10.0)
    knob(panel, 1, "lr").setValue(9.0)
    click(qtbot, panel.reset_button)
    for _ in range(8):
        click(qtbot, panel.next_step_button)
    runs = panel.session.runs
    assert [r.label for r in runs] == ["SGD A", "SGD B"]
    # |θ − 3| grows by 19 (lr 10) and 17 (lr 9) a step: past 1e6 at steps 5 and 5 (3·17⁵ = 4.3e6)
    assert [r.diverged_at for r in runs] == [5, 5]
    assert panel.session.t == 5  # nothing further was taken
    assert "SGD A diverged at step 5" in panel.status.text() and "press Reset" in panel.status.text()


def assert_no_cell_is_cut(table):
    fm = table.fontMetrics()
    for r in range(table.rowCount()):
        for c in range(table.columnCount()):
            text = table.item(r, c).text()
            assert fm.horizontalAdvance(text) + 6 <= table.columnWidth(c), (r, c, text, table.columnWidth(c))


def test_the_first_steps_are_shown_against_steps_0_to_10_and_the_target_then_the_plot_autoscales(panel, qtbot):
    """A lone starting point would otherwise be stretched to ±0.4 on both axes (labelled ×0.001)."""
    (x0, x1), (y0, y1) = panel.plot_theta.viewRange()
    assert x0 <= 0 and x1 >= 10 and x1 < 12  # steps 0..10
    assert y0 <= 0.0 and y1 >= 3.0  # θ0 = 0 and the target θ* = 3 both in view
    for _ in range(3):
        click(qtbot, panel.next_step_button)
    (x0, x1), (y0, y1) = panel.plot_theta.viewRange()
    assert x1 < 12 and y0 <= 0.0 and y1 >= 3.0
    for _ in range(25):
        click(qtbot, panel.next_step_button)
    theta = panel.curves["theta_A"].yData
    assert len(theta) == 29
    qtbot.waitUntil(lambda: panel.plot_theta.viewRange()[0][1] >= 28, timeout=2000)  # autoscaled to all steps
    (x0, x1), (y0, y1) = panel.plot_theta.viewRange()
    assert y0 <= min(theta) and y1 >= max(theta)


def test_the_empty_table_says_what_will_fill_it_until_the_first_step(panel, qtbot):
    assert panel.table_hint.isVisible() and "Each finished step adds a row" in panel.table_hint.text()
    click(qtbot, panel.next_step_button)
    assert panel.steps_table.rowCount() == 1 and not panel.table_hint.isVisible()
    click(qtbot, panel.reset_button)
    assert panel.steps_table.rowCount() == 0 and panel.table_hint.isVisible()


def test_a_zoom_made_after_the_first_steps_is_kept_while_stepping(panel, qtbot):
    for _ in range(12):
        click(qtbot, panel.next_step_button)
    panel.plot_theta.setXRange(2, 5, padding=0)  # the user zooms in (autoscale off)
    click(qtbot, panel.next_step_button)
    qtbot.wait(20)
    (x0, x1), _ = panel.plot_theta.viewRange()
    assert (x0, x1) == pytest.approx((2, 5))


def test_a_knob_applies_from_the_next_step_and_a_new_optimizer_starts_again_with_the_same_lr(panel, qtbot):
    for _ in range(3):
        click(qtbot, panel.next_step_button)
    knob(panel, 1, "lr").spin.setValue(0.05)  # SGD's lr, live: the run goes on
    assert panel.session.t == 3 and panel.session.runs[1].opt.lr == 0.05
    theta_b = panel.session.runs[1].theta[0]
    click(qtbot, panel.next_step_button)
    assert maths(panel, 6) == f"θ = {theta_b:.4f} − 0.05 × {2 * (theta_b - 3):.4f} = " \
        f"{theta_b - 0.05 * 2 * (theta_b - 3):.4f}".replace("-", "−")
    choose(panel, 1, "nadam")  # another optimizer: both runs start again, NAdam at SGD's lr
    assert panel.session.t == 0 and panel.steps_table.rowCount() == 0
    assert knob(panel, 1, "lr").value() == 0.05 and panel.session.runs[1].opt.lr == 0.05
    assert panel.tabs.tabText(1) == "B: NAdam" and panel.focus_buttons[1].text() == "B: NAdam"
    # an impossible combination is refused by the core and said, not a crash
    choose(panel, 1, "nesterov")
    knob(panel, 1, "momentum").spin.setValue(0.0)
    assert panel.error.isVisible() and "nesterov" in panel.error.text()
