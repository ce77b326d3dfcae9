"""EMA playground, driven like a person would: pick signals, move β sliders, type sequences, hover.

What is drawn (curve data, readouts) is checked against hand-worked numbers, an independent plain-loop
EMA written here, and the core's ``adam_moments``.
"""

import math

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt

from adamlab.core import ema as core_ema
from adamlab.ui.panels.ema.panel import PLAYGROUND, EmaPanel, make_signal, parse_sequence



@pytest.fixture
def panel(qtbot):
    p = EmaPanel()
    qtbot.addWidget(p)
    p.resize(1100, 760)
    p.show()
    qtbot.waitUntil(p.is_idle)
    return p


def choose(panel, kind):
    panel.kind.setCurrentIndex(panel.kind.findData(kind))


def ydata(panel, name):
    """The data a curve holds (yData: getData() would give log10 of it on the log-scaled plot)."""
    return np.asarray(panel.curves[name].yData)


def loop_adam(g, b1, b2, eps):
    """A plain for-loop Adam moment recursion, independent of the core's prefix scan."""
    m = v = 0.0
    out = {"m": [], "v": [], "m_hat": [], "v_hat": [], "ratio": []}
    for t, x in enumerate(g, 1):
        m = b1 * m + (1 - b1) * x
        v = b2 * v + (1 - b2) * x * x
        mh, vh = m / (1 - b1**t), v / (1 - b2**t)
        for k, val in zip(out, (m, v, mh, vh, mh / (math.sqrt(vh) + eps))):
            out[k].append(val)
    return {k: np.array(val) for k, val in out.items()}


def test_seed_sequence_with_beta_09_matches_hand_worked_values(panel, qtbot):
    choose(panel, "seed")
    panel.beta1.slider.setValue(panel.beta1._tick_of(0.9))  # drag the β1 slider to 0.9
    qtbot.waitUntil(panel.is_idle)
    assert panel.beta1.value() == 0.9
    np.testing.assert_array_equal(ydata(panel, "g"), [5, -2, 4, -1, 6])
    # By hand: m1 = 0.1·5 = 0.5; m2 = 0.9·0.5 − 0.2 = 0.25; m3 = 0.225 + 0.4 = 0.625;
    # m4 = 0.5625 − 0.1 = 0.4625; m5 = 0.41625 + 0.6 = 1.01625.
    m = np.array([0.5, 0.25, 0.625, 0.4625, 1.01625])
    np.testing.assert_allclose(ydata(panel, "m"), m, rtol=1e-12)
    # m̂ = m / (1 − 0.9ᵗ): m̂1 = 0.5/0.1 = 5 exactly (the first corrected value is the first gradient).
    np.testing.assert_allclose(ydata(panel, "m_hat"), m / (1 - 0.9 ** np.arange(1, 6)), rtol=1e-12)
    assert ydata(panel, "m_hat")[0] == pytest.approx(5.0)
    np.testing.assert_allclose(ydata(panel, "corr1"), [10, 1 / 0.19, 1 / 0.271, 1 / 0.3439, 1 / 0.40951],
                               rtol=1e-12)
    # Short sequences are drawn with a marker per step.
    assert panel.curves["g"].opts["symbol"] == "o"
    np.testing.assert_array_equal(panel.curves["g"].xData, [1, 2, 3, 4, 5])


def test_dragging_beta_redraws_curves_that_match_the_core_and_a_plain_loop(panel, qtbot):
    choose(panel, "flip")
    panel.length.setValue(300)
    for tick in range(200, 330, 10):  # a drag: many requests, the newest wins
        panel.beta1.slider.setValue(tick)
    panel.beta2.spin.setValue(0.99)
    qtbot.waitUntil(panel.is_idle)
    b1, b2, eps = panel.beta1.value(), panel.beta2.value(), panel.eps.value()
    assert b2 == 0.99
    g = make_signal("flip", panel.mean.value(), panel.sigma.value(), 300, panel.seed.value())
    np.testing.assert_array_equal(ydata(panel, "g"), g)
    ref = loop_adam(g, b1, b2, eps)
    core = core_ema.adam_moments(g, beta1=b1, beta2=b2, eps=eps)
    for name in ("m", "v", "m_hat", "ratio"):
        np.testing.assert_allclose(ydata(panel, name), ref[name], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(ydata(panel, name), getattr(core, name), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(ydata(panel, "sqrt_v_hat"), np.sqrt(ref["v_hat"]), rtol=1e-9)
    assert np.all(np.abs(ydata(panel, "ratio")) <= 1.0 + 1e-9)
    assert panel.curves["g"].opts["symbol"] is None  # long sequences: plain lines
    assert PLAYGROUND.sequence is not None and len(PLAYGROUND.sequence) == 300


def test_sign_flips_give_a_small_ratio_and_agreement_gives_one(panel, qtbot):
    """The signal-to-noise reading: ≈ 0 for +1, −1, … and ≈ 1 for a constant gradient."""
    choose(panel, "flip")
    panel.sigma.spin.setValue(0.0)
    panel.mean.spin.setValue(1.0)
    panel.length.setValue(500)
    qtbot.waitUntil(panel.is_idle)
    assert np.all(np.abs(ydata(panel, "ratio")[100:]) < 0.11)
    choose(panel, "noisy")
    qtbot.waitUntil(panel.is_idle)
    np.testing.assert_allclose(ydata(panel, "ratio"), 1.0, rtol=1e-6)  # constant g: m̂ = g, √v̂ = |g|


def test_typed_sequence_is_drawn_and_invalid_input_is_highlighted(panel, qtbot):
    panel.custom.clear()
    qtbot.keyClicks(panel.custom, "3, 3.1, 2.9, 3.2")
    qtbot.waitUntil(panel.is_idle)
    assert panel.kind.currentData() == "custom"  # typing a sequence selects it
    np.testing.assert_array_equal(ydata(panel, "g"), [3, 3.1, 2.9, 3.2])
    assert not panel.custom_error.isVisible()

    qtbot.keyClicks(panel.custom, ", x7")
    qtbot.waitUntil(panel.is_idle)
    assert panel.custom_error.isVisible()
    assert "item 5" in panel.custom_error.text() and "'x7'" in panel.custom_error.text()
    assert "border" in panel.custom.styleSheet()
    np.testing.assert_array_equal(ydata(panel, "g"), [3, 3.1, 2.9, 3.2])  # the last good plot stays

    qtbot.keyClick(panel.custom, Qt.Key.Key_Backspace)
    qtbot.keyClick(panel.custom, Qt.Key.Key_Backspace)
    panel.custom.insert("−7")  # pasted with a typographic minus (QtTest can only type ASCII)
    qtbot.waitUntil(panel.is_idle)
    assert not panel.custom_error.isVisible()
    assert panel.custom.styleSheet() == ""
    np.testing.assert_array_equal(ydata(panel, "g"), [3, 3.1, 2.9, 3.2, -7])

    panel.custom.clear()
    qtbot.waitUntil(panel.is_idle)
    assert "empty" in panel.custom_error.text()


@pytest.mark.parametrize("text, fragment", [("", "empty"), ("1, 2, abc", "item 3"), ("1, inf", "finite"),
                                            ("1;;2 nan", "item 3")])
def test_parse_sequence_rejects_bad_text_with_a_message(text, fragment):
    with pytest.raises(ValueError, match=fragment):
        parse_sequence(text)


def test_presets_and_readouts(panel, qtbot):
    panel.preset_buttons["microgpt (0.85, 0.99)"].click()
    qtbot.waitUntil(panel.is_idle)
    assert (panel.beta1.value(), panel.beta2.value()) == (0.85, 0.99)
    text = panel.readout.text()
    # memory 1/(1 − 0.85) = 6.667 steps; correction at t = 1: 1/0.15 = 6.667; β2: 100 and 1/0.01.
    assert "6.667</b> steps" in text and "1/0.15 = <b>6.667" in text
    assert "100</b> steps" in text and "1/0.01 = <b>100" in text
    assert ydata(panel, "corr1")[0] == pytest.approx(1 / 0.15)
    panel.preset_buttons["guide (0.9, 0.95)"].click()
    qtbot.waitUntil(panel.is_idle)
    assert (panel.beta1.value(), panel.beta2.value()) == (0.9, 0.95)
    assert ydata(panel, "corr2")[0] == pytest.approx(20.0)


def test_hover_shows_the_values_at_the_step_under_the_mouse(panel, qtbot):
    choose(panel, "chaotic")
    qtbot.waitUntil(panel.is_idle)
    assert "t&nbsp;=&nbsp;4&nbsp;(last)" in panel.cursor_label.text()
    plot = panel.plot_g
    scene_pos = plot.vb.mapViewToScene(QPointF(2.1, 0.0))
    widget_pos = panel.view.mapFromScene(scene_pos)
    qtbot.mouseMove(panel.view.viewport(), widget_pos)
    qtbot.waitUntil(lambda: "t&nbsp;=&nbsp;2:" in panel.cursor_label.text().replace("</b>", ""))
    text = panel.cursor_label.text()
    assert "<b>-2.0000</b>" in text  # g₂ = −2
    m2 = 0.9 * 0.5 + 0.1 * -2  # m₂ = β1·m₁ + (1 − β1)·g₂ with m₁ = 0.1·5
    assert f"<b>{m2:.4f}</b>" in text


def test_ten_thousand_steps(panel, qtbot):
    choose(panel, "sine")
    panel.length.setValue(10_000)
    qtbot.waitUntil(panel.is_idle, timeout=10_000)
    assert len(ydata(panel, "m_hat")) == 10_000
    assert np.all(np.isfinite(ydata(panel, "ratio")))


def test_state_roundtrip_bad_entries_and_reset(panel, qtbot):
    choose(panel, "step")
    panel.beta1.spin.setValue(0.97)
    panel.seed.setValue(7)
    qtbot.waitUntil(panel.is_idle)
    state = panel.get_state()
    assert state["kind"] == "step" and state["beta1"] == 0.97 and state["seed"] == 7

    other = EmaPanel()
    qtbot.addWidget(other)
    other.set_state({**state, "length": "many", "beta2": float("nan"), "kind": "nope?", "junk": 1})
    other.set_state(state)
    qtbot.waitUntil(other.is_idle)
    assert other.get_state() == state
    np.testing.assert_array_equal(ydata(other, "g"), ydata(panel, "g"))
    other.set_state("not a dict")  # ignored

    panel.reset_defaults()
    qtbot.waitUntil(panel.is_idle)
    s = panel.get_state()
    assert (s["kind"], s["beta1"], s["beta2"], s["length"]) == ("noisy", 0.9, 0.999, 200)
