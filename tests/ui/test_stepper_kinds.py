"""The stepper with every optimizer that has a one-parameter form, chosen in its combos as a person would.

Each kind's lines must arrive at the core optimizer's θ bit for bit, step after step; the panel's trajectory
must equal the core optimizer's run on its own with the same gradients; the first step of each newer kind —
NAdam, RAdam (and the step where it switches on its rectification), Lion, AdEMAMix (and its warm-ups), ADOPT,
schedule-free AdamW, Adamax, Adadelta, Adafactor — is worked by hand here; A and B see the same gradients; the
β presets set β.
"""

import math

import numpy as np
import pytest
from PySide6.QtCore import Qt

from adamlab.core import optim
from adamlab.ui.panels.ema.panel import PRESETS
from adamlab.ui.panels.stepper.panel import NOISE_SIGMA
from adamlab.ui.panels.stepper.programs import STEPPABLE, num, take_step
from tests.ui.test_stepper_panel import choose, click, knob, panel  # noqa: F401  (panel: the fixture)


def maths(panel):
    return [panel.code_lines.maths(r) for r in range(panel.code_lines.row_count())]


def codes(panel):
    return [panel.code_lines.code(r) for r in range(panel.code_lines.row_count())]


def bits(x: float) -> int:
    return int(np.float64(x).view(np.int64))


def test_every_kind_but_muon_is_offered():
    assert set(STEPPABLE) == set(optim.OPTIMIZERS) - {"muon", "muon_adamw"}
    with pytest.raises(ValueError, match="one-parameter form"):
        take_step(optim.make_optimizer("muon"), np.zeros(1), 1.0)


# Options a person can set in each kind's editor, beyond lr; the expected core arguments are the class
# defaults updated with these (so the editor → core mapping is checked too).
OPTIONS = {
    "sgd": {"weight_decay": 0.03}, "momentum": {"momentum": 0.8}, "nesterov": {"weight_decay": 0.03},
    "adagrad": {"lr_decay": 0.05, "weight_decay": 0.03}, "rmsprop": {"momentum": 0.5, "centered": True},
    "adam": {"weight_decay": 0.03}, "amsgrad": {"beta2": 0.95}, "adamw": {"weight_decay": 0.2},
    "nadam": {"weight_decay": 0.03, "decoupled_weight_decay": True, "momentum_decay": 0.05},
    "radam": {"weight_decay": 0.03, "beta2": 0.95}, "adamax": {"weight_decay": 0.03},
    "adadelta": {"rho": 0.8}, "adafactor": {"weight_decay": 0.03, "d": 1.5},
    "lion": {"weight_decay": 0.03, "beta1": 0.8},
    "ademamix": {"mix_alpha": 5.0, "alpha_warmup": 10, "beta3_warmup": 15},
    "schedulefree_adamw": {"warmup_steps": 4, "weight_decay": 0.03}, "adopt": {"decouple": True, "weight_decay": 0.03},
}
CORE_NAMES = {"mix_alpha": "alpha"}


def expected_hyper(kind: str, lr: float) -> dict:
    h = dict(optim.kind_arguments(kind), lr=lr)
    for name, value in OPTIONS[kind].items():
        if name in ("beta1", "beta2"):
            betas = list(h["betas"])
            betas[0 if name == "beta1" else 1] = value
            h["betas"] = tuple(betas)
        else:
            h[CORE_NAMES.get(name, name)] = value
    return h


@pytest.mark.parametrize("kind", STEPPABLE)
def test_each_kind_steps_as_its_core_optimizer_bit_for_bit(panel, qtbot, kind):
    panel.problem.setCurrentIndex(panel.problem.findData("noisy"))
    panel.theta0.spin.setValue(-2.0)
    choose(panel, 0, kind)
    knob(panel, 0, "lr").spin.setValue(0.05)
    for name, value in OPTIONS[kind].items():
        control = knob(panel, 0, name)
        if isinstance(value, bool):
            control.setChecked(value)
        else:
            control.spin.setValue(value)
    steps = 25
    for _ in range(steps):
        click(qtbot, panel.next_step_button)
    assert panel.steps_table.rowCount() == steps
    run = panel.session.runs[0]
    assert run.opt.hyperparameters() == expected_hyper(kind, 0.05)

    noise = NOISE_SIGMA * np.random.default_rng(0).standard_normal(steps)  # the panel's seed-0 noise
    core = optim.make_optimizer(kind, **expected_hyper(kind, 0.05))
    sgd = optim.make_optimizer("sgd", lr=0.1)
    p, q = np.array([-2.0]), np.array([-2.0])
    theta_col = [panel.steps_table.horizontalHeaderItem(c).text() for c in range(panel.steps_table.columnCount())]
    col = theta_col.index("θ\n" + ("Momentum" if kind == "momentum" else "SF-AdamW" if kind.startswith("schedule")
                                   else optim.optimizer_label(kind) + (" A" if kind == "sgd" else "")))
    for t in range(steps):
        core.step(p, np.array([2 * (p[0] - 3) + noise[t]]))
        sgd.step(q, np.array([2 * (q[0] - 3) + noise[t]]))  # B, on the same noise draw
        step = run.steps[t]
        assert step.theta_lines == step.theta_new, (t, "the lines' θ is not the core's")
        assert bits(step.theta_new) == bits(p[0]), (t, step.theta_new, p[0])
        assert panel.steps_table.item(t, col).data(Qt.ItemDataRole.UserRole) == p[0]
        assert panel.session.runs[1].steps[t].theta_new == q[0]
    # the θ line of the last step shows the core's θ
    last = next(line for line in run.steps[-1].lines if line.key == "theta")
    assert last.maths.endswith(f"= {num(p[0])}")
    assert panel.curves["theta_A"].yData[-1] == p[0]
    # every line was written with numbers (none left as "…"), and the maths of each is its code's
    assert "…" not in maths(panel)[:-1]
    assert codes(panel)[:-1] == [line.code for line in run.steps[-1].lines]


def step_by_line(panel, qtbot, n):
    """Press Next line n times; return the maths rows shown after each press (the row just run)."""
    out = []
    for row in range(n):
        click(qtbot, panel.next_line_button)
        out.append(panel.code_lines.maths(row))
    return out


def test_nadam_first_step_by_hand(panel, qtbot):
    # θ0 = 0 on (θ − 3)²: g = −6. lr 0.1, β = (0.9, 0.999), ε = 1e-8, ψ = 0.004.
    choose(panel, 0, "nadam")
    knob(panel, 0, "lr").spin.setValue(0.1)
    mu1 = 0.9 * (1 - 0.5 * math.exp(1 * 0.004 * math.log(0.96)))  # 0.96^0.004 = e^(0.004·ln 0.96) = 0.999837
    mu2 = 0.9 * (1 - 0.5 * math.exp(2 * 0.004 * math.log(0.96)))
    assert (round(mu1, 6), round(mu2, 6)) == (0.450073, 0.450147)
    m, v = 0.1 * -6, 0.001 * 36  # −0.6, 0.036
    denom = math.sqrt(v / 0.001) + 1e-8  # v̂ = 36, √v̂ = 6
    theta_g = 0 - 0.1 * (1 - mu1) / (1 - mu1) * -6 / denom  # Π_1 = μ_1: the weight of g is lr, θ = 0.1
    theta = theta_g - 0.1 * mu2 / (1 - mu1 * mu2) * m / denom  # 0.1 + 0.1·0.450147/0.797401·0.1 = 0.105645
    assert round(theta, 6) == 0.105645
    shown = step_by_line(panel, qtbot, 9)
    assert shown == [
        "g = ∇L(0.0000) = −6.0000",
        "μ = 0.9 × (1 − 0.5 × 0.96^(1 × 0.004)) = 0.4501",
        "μ_next = 0.9 × (1 − 0.5 × 0.96^(2 × 0.004)) = 0.4501",
        "Π = 1.0000 × 0.4501 = 0.4501",
        "m = 0.9 × 0.0000 + 0.1 × −6.0000 = −0.6000",
        "v = 0.999 × 0.0000 + 0.001 × (−6.0000)² = 0.0360",
        "denom = √(0.0360 / (1 − 0.999¹)) + 1e−08 = 6.0000",
        "θ = 0.0000 − 0.1 × (1 − 0.4501) / (1 − 0.4501) × −6.0000 / 6.0000 = 0.1000",
        "θ = 0.1000 − 0.1 × 0.4501 / (1 − 0.4501 × 0.4501) × −0.6000 / 6.0000 = 0.1056",
    ]
    step = panel.session.runs[0].steps[0]
    assert [line.value for line in step.lines][1:4] == pytest.approx([mu1, mu2, mu1], rel=1e-15)
    assert step.value("theta_g") == pytest.approx(theta_g, rel=1e-14)
    assert step.theta_new == pytest.approx(theta, rel=1e-14)
    assert panel.steps_table.rowCount() == 1  # the step is done with its last line
    assert panel.code_lines.maths(9) == "θ = 0.0000 − 0.1 × −6.0000 = 0.6000"  # B (SGD) below


def test_radam_first_step_and_its_switch_to_adaptive_steps_by_hand(panel, qtbot):
    choose(panel, 0, "radam")
    knob(panel, 0, "lr").spin.setValue(0.1)
    # ρ∞ = 2/(1 − 0.999) − 1 = 1999; ρ_1 = 1999 − 2·1·0.999/0.001 = 1: v is too young, a momentum-SGD step
    assert step_by_line(panel, qtbot, 6) == [
        "g = ∇L(0.0000) = −6.0000",
        "m = 0.9 × 0.0000 + 0.1 × −6.0000 = −0.6000",
        "v = 0.999 × 0.0000 + 0.001 × (−6.0000)² = 0.0360",
        "m_hat = −0.6000 / (1 − 0.9¹) = −6.0000",
        "ρ = 1999 − 2 × 1 × 0.999¹ / (1 − 0.999¹) = 1.0000 (≤ 5: no division by √v yet)",
        "θ = 0.0000 − 0.1 × −6.0000 = 0.6000",  # θ − lr·m̂
    ]
    assert codes(panel)[5] == "θ = θ - lr * m_hat"
    for _ in range(4):
        click(qtbot, panel.next_step_button)
    # step 5: ρ_5 = 1999 − 10·0.99501/0.0049900 = 4.9960, still ≤ 5. Step 6: 0.999⁶ = 0.994015, so
    # ρ_6 = 1999 − 12·0.994015/0.0059850 = 5.9942 > 5: the first rectified Adam step, scaled by
    # r_6 = √((1.9942·3.9942·1999)/(1995·1997·5.9942)) = √(15922/23881000) = 0.0258
    rho6 = 1999 - 12 * 0.999**6 / (1 - 0.999**6)
    r6 = math.sqrt((rho6 - 4) * (rho6 - 2) * 1999 / (1995 * 1997 * rho6))
    assert round(rho6, 4) == 5.9942 and round(r6, 4) == 0.0258
    assert panel.session.runs[0].steps[4].value("rho") == pytest.approx(4.996, abs=1e-4)
    shown = step_by_line(panel, qtbot, 8)
    assert shown[4] == "ρ = 1999 − 2 × 6 × 0.999⁶ / (1 − 0.999⁶) = 5.9942 (> 5: rectified)"
    assert shown[5] == "r = √((5.9942 − 4)(5.9942 − 2) × 1999 / ((1999 − 4)(1999 − 2) × 5.9942)) = 0.0258"
    # torch's algorithm box: l = √(1 − β2ᵗ)/(√v + ε), the adaptive lr; θ ← θ − lr·m̂·l·r
    assert codes(panel)[6:8] == ["l = sqrt(1 - β2**t) / (sqrt(v) + ε)", "θ = θ - lr * m_hat * l * r"]
    step = panel.session.runs[0].steps[5]
    assert step.value("rho") == pytest.approx(rho6, rel=1e-12) and step.value("r") == pytest.approx(r6, rel=1e-12)
    m, v = step.value("m"), step.value("v")
    by_hand = step.theta - 0.1 * (m / (1 - 0.9**6)) * r6 * math.sqrt(1 - 0.999**6) / (math.sqrt(v) + 1e-8)
    assert step.theta_new == pytest.approx(by_hand, rel=1e-12)


def test_lion_first_step_by_hand(panel, qtbot):
    choose(panel, 0, "lion")
    knob(panel, 0, "lr").spin.setValue(0.1)
    # c = 0.9·0 + 0.1·(−6) = −0.6; θ = 0 − 0.1·sign(−0.6) = 0.1; then m = 0.99·0 + 0.01·(−6) = −0.06
    assert step_by_line(panel, qtbot, 4) == [
        "g = ∇L(0.0000) = −6.0000",
        "c = 0.9 × 0.0000 + 0.1 × −6.0000 = −0.6000",
        "θ = 0.0000 − 0.1 × sign(−0.6000) = 0.1000",
        "m = 0.99 × 0.0000 + 0.01 × −6.0000 = −0.0600",
    ]
    assert codes(panel)[:4] == ["g = grad(θ)", "c = β1 * m + (1 - β1) * g", "θ = θ - lr * sign(c)",
                                "m = β2 * m + (1 - β2) * g"]
    # whatever g's size, every Lion step is exactly ±lr
    for _ in range(5):
        click(qtbot, panel.next_step_button)
    thetas = [0.0] + [s.theta_new for s in panel.session.runs[0].steps]
    assert np.diff(thetas) == pytest.approx([0.1] * 6, rel=1e-12)


def test_ademamix_first_step_by_hand_and_its_warm_ups(panel, qtbot):
    choose(panel, 0, "ademamix")
    knob(panel, 0, "lr").spin.setValue(0.1)
    # m1 = 0.1·(−6) = −0.6; m2 = 0.0001·(−6) = −0.0006; v = 0.036; m̂ = −6; denom = √0.036/√0.001 + 1e-8 = 6;
    # u = (−6 + 2·(−0.0006))/6 = −1.0002; θ = 0 − 0.1·(−1.0002) = 0.10002
    assert step_by_line(panel, qtbot, 8) == [
        "g = ∇L(0.0000) = −6.0000",
        "m1 = 0.9 × 0.0000 + 0.1 × −6.0000 = −0.6000",
        "m2 = 0.9999 × 0.0000 + 0.0001 × −6.0000 = −0.0006",
        "v = 0.999 × 0.0000 + 0.001 × (−6.0000)² = 0.0360",
        "m_hat = −0.6000 / (1 − 0.9¹) = −6.0000",
        "denom = √0.0360 / √(1 − 0.999¹) + 1e−08 = 6.0000",
        "u = (−6.0000 + 2 × −0.0006) / 6.0000 = −1.0002",
        "θ = 0.0000 − 0.1 × −1.0002 = 0.1000",
    ]
    assert panel.session.runs[0].steps[0].theta_new == pytest.approx(0.1 * 6.0012 / (6 + 1e-8), rel=1e-13)
    # with warm-ups, α_t = α·t/T_α and β3_t climbs from β1 (its half-life grows linearly): lines of their own
    knob(panel, 0, "alpha_warmup").spin.setValue(100)
    knob(panel, 0, "beta3_warmup").spin.setValue(100)
    click(qtbot, panel.reset_button)
    shown = step_by_line(panel, qtbot, 10)
    assert codes(panel)[2] == "β3_t = halflife_warmup(β1, β3, t / T_β3)"
    assert codes(panel)[5] == "α_t = α * t / T_α" and shown[5] == "α_t = 2 × 1 / 100 = 0.0200"
    # β3_1 = 0.5^(1/((1 − 0.01)·h(0.9) + 0.01·h(0.9999) + 1)), h(β) = ln 0.5/ln(β + 1e-8) − 1
    h = lambda b: math.log(0.5) / math.log(b + 1e-8) - 1  # noqa: E731
    beta3 = 0.5 ** (1 / (0.99 * h(0.9) + 0.01 * h(0.9999) + 1))
    assert panel.session.runs[0].steps[0].value("beta3") == pytest.approx(beta3, rel=1e-12)
    assert shown[3] == f"m2 = {num(beta3)} × 0.0000 + {num(1 - beta3)} × −6.0000 = {num(-6 * (1 - beta3))}"


def test_adopt_and_schedule_free_first_steps_by_hand(panel, qtbot):
    choose(panel, 0, "adopt")
    knob(panel, 0, "lr").spin.setValue(0.1)
    # ADOPT's first step only records v = g² = 36; θ stays
    assert step_by_line(panel, qtbot, 3) == ["g = ∇L(0.0000) = −6.0000", "v = 0.0000 + (−6.0000)² = 36.0000",
                                             "θ = 0.0000 (unchanged: no v yet to divide g by)"]
    # step 2 at θ = 0 again (g = −6): n = −6/√36 = −1, clipped to ±1^0.25 = ±1; m = 0.1·(−1); θ = 0.01
    shown = step_by_line(panel, qtbot, 6)
    assert shown[1:4] == ["n = −6.0000 / max(√36.0000, 1e−06) = −1.0000",
                          "n = clip(−1.0000, −1.0000, 1.0000) = −1.0000",
                          "m = 0.9 × 0.0000 + 0.1 × −1.0000 = −0.1000"]
    assert shown[4] == "θ = 0.0000 − 0.1 × −0.1000 = 0.0100"
    choose(panel, 0, "schedulefree_adamw")
    knob(panel, 0, "lr").spin.setValue(0.1)
    # lr_1 = 0.1·√(1 − 0.999) = 0.0031623; v = 0.036; z = 0 − lr_1·(−6)/(√0.036 + 1e-8) = 0.1 (√0.036 = 0.189737)
    # c = w/Σw = 1 at the first step, so x = z; y = 0.9·x + 0.1·z = 0.1
    lr1 = 0.1 * math.sqrt(0.001)
    z = lr1 * 6 / (math.sqrt(0.036) + 1e-8)
    shown = step_by_line(panel, qtbot, 7)
    assert shown[1] == "lr_t = 0.1 × √(1 − 0.999¹) = 0.0032"
    assert shown[3] == "z = 0.0000 − 0.0032 × −6.0000 / (√0.0360 + 1e−08) = 0.1000"
    assert shown[4] == "c = 1e−05 / 1e−05 = 1.0000"  # w = lr_max² = 0.0031623² = 1e-5
    step = panel.session.runs[0].steps[0]
    assert step.value("z") == pytest.approx(z, rel=1e-14) and step.theta_new == pytest.approx(z, rel=1e-14)


def test_a_and_b_share_the_gradients(panel, qtbot):
    panel.problem.setCurrentIndex(panel.problem.findData("noisy"))
    choose(panel, 0, "nadam")
    choose(panel, 1, "lion")
    knob(panel, 1, "lr").spin.setValue(0.02)
    for _ in range(15):
        click(qtbot, panel.next_step_button)
    a, b = panel.session.runs
    noise = NOISE_SIGMA * np.random.default_rng(0).standard_normal(15)
    for t in range(15):  # each run's gradient is ∇L at its own θ plus the same noise draw
        assert a.steps[t].grad == 2 * (a.steps[t].theta - 3) + noise[t]
        assert b.steps[t].grad == 2 * (b.steps[t].theta - 3) + noise[t]
    assert a.steps[-1].theta != b.steps[-1].theta  # (two different runs)
    # the table's g and state follow the run whose lines are shown
    header = lambda: [panel.steps_table.horizontalHeaderItem(c).text() for c in range(panel.steps_table.columnCount())]  # noqa: E731
    assert header()[:5] == ["t", "g\nNAdam", "m\nNAdam", "v\nNAdam", "Π\nNAdam"]
    click(qtbot, panel.focus_buttons[1])
    assert header() == ["t", "g\nLion", "m\nLion", "θ\nNAdam", "loss\nNAdam", "θ\nLion", "loss\nLion"]
    g_col = [panel.steps_table.item(t, 1).data(Qt.ItemDataRole.UserRole) for t in range(15)]
    assert g_col == [s.grad for s in b.steps]
    assert panel.code_title.text() == "Lion's update, one line at a time"
    assert panel.code_lines.code(4) == "A:  θ = θ - lr * μ_next / (1 - Π * μ_next) * m / denom"


def test_switching_runs_in_the_middle_of_a_step_keeps_the_step(panel, qtbot):
    choose(panel, 1, "lion")
    click(qtbot, panel.next_line_button)
    click(qtbot, panel.next_line_button)  # Adam's m line
    click(qtbot, panel.focus_buttons[1])  # Lion's lines of the same step, as far as Adam's were shown
    assert panel.session.t == 1 and panel.current_line == 1
    assert maths(panel)[:3] == ["g = ∇L(0.0000) = −6.0000", "c = 0.9 × 0.0000 + 0.1 × −6.0000 = −0.6000", "…"]
    assert panel.steps_table.rowCount() == 0
    click(qtbot, panel.next_line_button)
    click(qtbot, panel.next_line_button)  # Lion's last line: the step is done
    assert panel.steps_table.rowCount() == 1 and panel.session.t == 1
    assert maths(panel)[4] == "θ = 0.0000 − 0.1 × −6.0000 / (√36.0000 + 1e−08) = 0.1000"  # Adam's, below
    click(qtbot, panel.focus_buttons[0])  # back to Adam: the finished step stays finished
    assert "…" not in maths(panel) and panel.steps_table.rowCount() == 1
    click(qtbot, panel.next_line_button)
    assert panel.session.t == 2


@pytest.mark.parametrize("label", list(PRESETS))
def test_the_beta_presets_set_beta(panel, qtbot, label):
    b1, b2 = PRESETS[label]
    for _ in range(2):
        click(qtbot, panel.next_step_button)
    panel.sides[0].preset_actions[label].trigger()
    assert (knob(panel, 0, "beta1").value(), knob(panel, 0, "beta2").value()) == (b1, b2)
    assert panel.session.runs[0].opt.hyperparameters()["betas"] == (b1, b2)  # live: from the next step on
    assert panel.session.t == 2
    click(qtbot, panel.next_step_button)
    assert f"m = {b1:g} × " in panel.code_lines.maths(1)
    assert not panel.sides[1].presets.isEnabled()  # SGD has no β
    choose(panel, 1, "lion")
    assert panel.sides[1].presets.isEnabled()
    panel.sides[1].preset_actions[label].trigger()
    assert panel.session.runs[1].opt.hyperparameters()["betas"] == (b1, b2)


def test_the_table_has_the_momentum_buffer_only_when_there_is_one(panel, qtbot):
    def headers():
        return [panel.steps_table.horizontalHeaderItem(c).text() for c in range(panel.steps_table.columnCount())]

    click(qtbot, panel.focus_buttons[1])
    assert "buf\nSGD" not in headers()  # plain SGD keeps no buffer
    choose(panel, 1, "momentum")
    for _ in range(2):
        click(qtbot, panel.next_step_button)
    assert headers()[1:3] == ["g\nMomentum", "buf\nMomentum"]
    # buf = g at the first step, then 0.9·buf + g: −6, then 0.9·(−6) + g₂ with g₂ = 2(θ₁ − 3), θ₁ = 0.6
    bufs = [panel.steps_table.item(r, 2).data(Qt.ItemDataRole.UserRole) for r in range(2)]
    assert bufs == pytest.approx([-6.0, 0.9 * -6.0 + 2 * (0.6 - 3)], rel=1e-14)
    knob(panel, 1, "momentum").spin.setValue(0.0)  # live: no buffer from the next step on
    assert "buf\nMomentum" not in headers() and panel.steps_table.rowCount() == 2


def test_adamax_adadelta_and_adafactor_first_steps_by_hand(panel, qtbot):
    # θ0 = 0 on (θ − 3)²: g = −6; every run at the stepper's lr 0.1
    choose(panel, 0, "adamax")
    # m = −0.6; u = max(0.999·0, |−6| + 1e-8) = 6; θ = 0 − 0.1/(1 − 0.9)·(−0.6)/6 = 0.1
    assert step_by_line(panel, qtbot, 4)[2:] == ["u = max(0.999 × 0.0000, |−6.0000| + 1e−08) = 6.0000",
                                                 "θ = 0.0000 − 0.1 / (1 − 0.9¹) × −0.6000 / 6.0000 = 0.1000"]
    choose(panel, 0, "adadelta")
    # v = 0.1·36 = 3.6; Δ = √(0 + 1e-6)/√(3.6 + 1e-6)·(−6) = −0.006/1.8974 = −0.0031623; u = 0.1·Δ² = 1e-6;
    # θ = 0 − 0.1·Δ = 0.00031623: Adadelta's first steps are √ε-sized, whatever the gradient
    delta = math.sqrt(1e-6) / math.sqrt(3.6 + 1e-6) * -6
    assert round(delta, 7) == -0.0031623
    assert step_by_line(panel, qtbot, 5)[1:] == [
        "v = 0.9 × 0.0000 + 0.1 × (−6.0000)² = 3.6000",
        "delta = √(0.0000 + 1e−06) / √(3.6000 + 1e−06) × −6.0000 = −0.0032",
        "u = 0.9 × 0.0000 + 0.1 × (−0.0032)² = 1e−06",
        "θ = 0.0000 − 0.1 × −0.0032 = 0.0003162",
    ]
    assert panel.session.runs[0].steps[0].theta_new == pytest.approx(-0.1 * delta, rel=1e-14)
    choose(panel, 0, "adafactor")
    # ρ = min(0.1, 1/√1) = 0.1; α = max(ε2 = 0.001, RMS(θ) = 0)·ρ = 1e-4; β̂2 = 1 − 1^−0.8 = 0, so v = g² = 36;
    # u = −6/√36 = −1, RMS(u)/d = 1: no clipping; θ = 0 − 1e-4·(−1) = 1e-4: a step relative to θ's size (ε2 at 0)
    assert step_by_line(panel, qtbot, 7)[1:] == [
        "ρ = min(0.1, 1 / √1) = 0.1000",
        "α = max(0.001, 0.0000) × 0.1000 = 0.0001",
        "v = (1 − 1^−0.8) × 0.0000 + 1.0000 × (−6.0000)² = 36.0000",
        "u = −6.0000 / √max(36.0000, 2.22e−16²) = −1.0000",
        "clip = max(1, 1.0000 / 1) = 1.0000",
        "θ = 0.0000 − 0.0001 / 1.0000 × −1.0000 = 0.0001",
    ]
    assert panel.session.runs[0].steps[0].theta_new == pytest.approx(1e-4, rel=1e-14)
