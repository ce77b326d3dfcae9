"""Shared widgets: the float slider's scales, the optimizer editor, plot export."""

import csv

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QToolTip

from adamlab.core import optim
from adamlab.ui.widgets.controls import FloatSlider, IntSpinBox, SciSpinBox
from adamlab.ui.widgets.hyper import KIND_KNOBS, KNOBS, OptimizerEditor, from_core, to_core
from adamlab.ui.widgets.plots import export_plot


@pytest.fixture
def slider(qtbot):
    def make(*args, **kw):
        s = FloatSlider(*args, **kw)
        qtbot.addWidget(s)
        return s

    return make


def test_beta_scale_gives_equal_travel_per_decade_of_1_minus_beta(slider):
    s = slider("β", 0.0, 0.9999, 0.9, scale="beta", decimals=4, ticks=1000)
    seen = []
    s.valueChanged.connect(seen.append)
    # x = -log10(1-β) runs over [0, 4]: 0.9, 0.99, 0.999 sit at 1/4, 2/4, 3/4 of the travel.
    for tick, beta in ((250, 0.9), (500, 0.99), (750, 0.999), (1000, 0.9999), (0, 0.0)):
        s.slider.setValue(tick)
        assert s.value() == pytest.approx(beta, abs=1e-12)
        assert s.spin.value() == pytest.approx(beta, abs=1e-12)
    assert seen[-1] == 0.0 and 0.999 in seen


def test_typing_in_the_spin_box_moves_the_slider(slider, qtbot):
    s = slider("lr", 1e-4, 1.0, 1e-3, scale="log", decimals=4, ticks=400)
    s.spin.setValue(0.01)
    assert s.value() == 0.01
    # log10(0.01) is half way between log10(1e-4) and log10(1).
    assert s.slider.value() == 200


def _type_into(qtbot, spin, text):
    """Select the box's text, type over it and press Enter, as a person would."""
    spin.setFocus()
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), text)
    qtbot.keyClick(spin.lineEdit(), Qt.Key.Key_Return)


def test_a_slider_over_many_decades_shows_and_takes_scientific_notation(slider, qtbot):
    s = slider("ε", 1e-12, 1.0, 1e-8, scale="log", decimals=12)
    assert isinstance(s.spin, SciSpinBox)
    assert s.spin.text() == "1e-08"  # not 0.000000010000, which overflows the box
    seen = []
    s.valueChanged.connect(seen.append)
    _type_into(qtbot, s.spin, "2.5e-6")
    assert s.value() == 2.5e-6 and seen == [2.5e-6]
    assert s.spin.text() == "2.5e-06"
    assert s.slider.value() == round((np.log10(2.5e-6) + 12) / 12 * 1000)  # the slider followed
    _type_into(qtbot, s.spin, "0.001")  # plain decimals are numbers too
    assert s.value() == 0.001
    _type_into(qtbot, s.spin, "x1e-3")  # not a number: the keystroke "x" is refused, the rest is typed
    assert s.value() == 1e-3
    with qtbot.waitSignal(s.clamped) as notice:  # out of range: set to the limit, and the box says so
        _type_into(qtbot, s.spin, "5")
    assert s.value() == 1.0 and s.spin.text() == "1"
    assert notice.args == ["ε: 5 is above the highest value here, 1: set to 1"]


def test_a_typed_value_out_of_range_is_set_to_the_limit_and_the_box_says_so(slider, qtbot):
    """lr 0 silently became 1e-4, β2 0.999999 became 0.9999, 100000 steps became 10000 (#11)."""
    lr = slider(*KNOBS["lr"][:3], 0.1, scale="log", decimals=KNOBS["lr"][4])
    lr.show()
    with qtbot.waitSignal(lr.clamped) as notice:
        _type_into(qtbot, lr.spin, "0")
    assert lr.value() == 1e-6 and lr.spin.text() == "1e-06"
    assert notice.args == ["lr: 0 is below the lowest value here, 1e-06: set to 1e-06"]
    qtbot.waitUntil(lambda: QToolTip.isVisible() and "1e-06" in QToolTip.text())  # shown by the box
    beta2 = slider("β2", 0.0, 0.99999, 0.999, scale="beta", decimals=5)
    assert beta2.spin.text() == "0.999"  # β boxes show what was typed, not 0.99900
    with qtbot.waitSignal(beta2.clamped) as notice:
        _type_into(qtbot, beta2.spin, "0.999999")
    assert beta2.value() == 0.99999 and "0.999999 is above the highest value here, 0.99999" in notice.args[0]
    with qtbot.assertNotEmitted(beta2.clamped):  # in range: no notice
        _type_into(qtbot, beta2.spin, "0.95")
    assert beta2.value() == 0.95
    steps = IntSpinBox()
    qtbot.addWidget(steps)
    steps.setRange(1, 10_000)
    steps.what = "steps"
    steps.show()
    with qtbot.waitSignal(steps.clamped) as notice:
        _type_into(qtbot, steps, "100000")
    assert steps.value() == 10_000 and notice.args == ["steps: 100000 is above the highest value here, 10000: "
                                                       "set to 10000"]


def test_a_slider_over_few_decades_keeps_plain_decimals(slider):
    s = slider("lr", 1e-4, 1.0, 1e-3, scale="log", decimals=4)
    assert not isinstance(s.spin, SciSpinBox) and s.spin.text() == "0.0010"


def test_linear_scale_clamps_and_rounds(slider):
    s = slider("σ", 0.0, 2.0, 0.5, decimals=2)
    s.setValue(5.0)
    assert s.value() == 2.0
    s.setValue(0.123)
    assert s.value() == 0.12


@pytest.mark.parametrize("args", [(1.0, 0.0), (0.0, 1.0)])
def test_invalid_slider_ranges_are_refused(args, qtbot):
    lo, hi = args
    with pytest.raises(ValueError, match="minimum"):
        FloatSlider("x", lo, hi, 0.5, scale="log" if lo == 0.0 else "linear")


def test_every_optimizer_kind_has_an_editor_and_every_knob_a_range():
    assert set(KIND_KNOBS) == set(optim.OPTIMIZERS)
    for kind, knobs in KIND_KNOBS.items():
        for name, default in knobs.items():
            if isinstance(default, bool):
                continue
            assert name in KNOBS, (kind, name)
            assert KNOBS[name][1] <= default <= KNOBS[name][2], (kind, name)


@pytest.mark.parametrize("kind", sorted(KIND_KNOBS))
def test_editor_builds_a_valid_optimizer_for_every_kind(kind, qtbot):
    """Each kind's editor gives the kind's own defaults (where the editor does not choose another) in the
    core's argument names, and reads them back."""
    ed = OptimizerEditor(kind)
    qtbot.addWidget(ed)
    opt = optim.make_optimizer(kind, **ed.hyper())
    knobs = KIND_KNOBS[kind]
    assert opt.lr == knobs["lr"]
    if "beta1" in knobs:
        betas = (knobs["beta1"], knobs["beta2"]) + ((knobs["beta3"],) if "beta3" in knobs else ())
        assert tuple(opt.betas) == betas
    args = optim.kind_arguments(kind)
    for name, value in ed.hyper().items():
        if name not in ("lr", "betas"):
            assert name in args, (kind, name)
    assert from_core(ed.hyper(), kind) == ed.values()


def test_the_new_knobs_reach_the_core_in_its_own_terms(qtbot):
    """AdEMAMix's α (not RMSprop's), β3 and warm-ups (0 = none), Adafactor's ε2 (the pair's second),
    schedule-free's warm-up steps as an int."""
    ed = OptimizerEditor("ademamix", {"mix_alpha": 5.0, "beta3": 0.999, "alpha_warmup": 500})
    qtbot.addWidget(ed)
    h = ed.hyper()
    assert h["alpha"] == 5.0 and h["betas"] == (0.9, 0.999, 0.999)
    assert h["alpha_warmup"] == 500 and isinstance(h["alpha_warmup"], int) and h["beta3_warmup"] is None
    opt = optim.make_optimizer("ademamix", **h)
    assert opt.alpha == 5.0 and opt.alpha_warmup == 500 and opt.beta3_warmup is None
    ed2 = OptimizerEditor("adafactor", {"eps2": 1e-2})
    qtbot.addWidget(ed2)
    assert ed2.hyper()["eps"] == (None, 1e-2)
    ed3 = OptimizerEditor("schedulefree_adamw", {"warmup_steps": 50})
    qtbot.addWidget(ed3)
    assert optim.make_optimizer("schedulefree_adamw", **ed3.hyper()).warmup_steps == 50
    ed4 = OptimizerEditor("rmsprop", {"alpha": 0.9})
    qtbot.addWidget(ed4)
    assert ed4.hyper()["alpha"] == 0.9 and from_core({"alpha": 0.9}) == {"alpha": 0.9}


def test_editor_edits_reach_the_spec(qtbot):
    ed = OptimizerEditor("adam")
    qtbot.addWidget(ed)
    with qtbot.waitSignal(ed.changed):
        ed.controls["beta1"].slider.setValue(ed.controls["beta1"]._tick_of(0.85))
    assert ed.hyper()["betas"] == (0.85, 0.999)
    ed.set_values({"betas": (0.9, 0.95), "lr": 0.01, "unknown": 3})
    assert ed.hyper()["betas"] == (0.9, 0.95) and ed.hyper()["lr"] == 0.01
    ed.reset()
    assert ed.hyper()["betas"] == (0.9, 0.999)
    assert from_core(to_core(ed.values())) == ed.values()


def test_the_newer_knobs_reach_the_core_under_its_names(qtbot):
    """AdEMAMix's β3 joins betas and its mix_alpha is the core's alpha; Adafactor's eps2 is eps = (None, eps2);
    warm-ups are whole steps, 0 meaning none (None in the core)."""
    ed = OptimizerEditor("ademamix", {"beta3": 0.999, "mix_alpha": 5.0, "alpha_warmup": 100, "beta3_warmup": 0})
    qtbot.addWidget(ed)
    h = ed.hyper()
    assert h["betas"] == (0.9, 0.999, 0.999) and h["alpha"] == 5.0
    assert h["alpha_warmup"] == 100 and type(h["alpha_warmup"]) is int and h["beta3_warmup"] is None
    assert "mix_alpha" not in h and "beta3" not in h
    assert from_core(h) == {**ed.values(), "alpha_warmup": 100}
    fac = OptimizerEditor("adafactor", {"eps2": 1e-4})
    qtbot.addWidget(fac)
    assert fac.hyper()["eps"] == (None, 1e-4) and from_core(fac.hyper()) == fac.values()
    assert optim.make_optimizer("adafactor", **fac.hyper()).eps == (None, 1e-4)


def test_export_png_svg_and_full_csv(qtbot, tmp_path):
    w = pg.PlotWidget()
    qtbot.addWidget(w)
    x = np.arange(20000.0)
    curve = w.plot(x, np.sin(x / 100), name="sine")
    curve.setDownsampling(auto=True, method="peak")
    w.plot([0, 1], [5, 6], name="line")
    w.resize(400, 300)
    w.show()
    qtbot.waitExposed(w)
    plot = w.getPlotItem()
    assert export_plot(plot, tmp_path / "p.png").stat().st_size > 1000
    assert "<svg" in (export_plot(plot, tmp_path / "p.svg")).read_text()
    rows = list(csv.reader(open(export_plot(plot, tmp_path / "p.csv"))))
    assert rows[0] == ["sine_x", "sine_y", "line_x", "line_y"]
    assert len(rows) == 1 + 20000  # the full data, not the downsampled view
    assert float(rows[12345][1]) == pytest.approx(np.sin(12344 / 100), abs=1e-9)
    with pytest.raises(ValueError, match="png, .svg or .csv"):
        export_plot(plot, tmp_path / "p.jpg")


@pytest.mark.parametrize("ext", [".png", ".svg", ".csv"])
def test_export_to_an_unwritable_place_raises(qtbot, tmp_path, ext):
    w = pg.PlotWidget()
    qtbot.addWidget(w)
    w.plot([0, 1, 2], [1, 0, 1], name="v")
    with pytest.raises(OSError):
        export_plot(w.getPlotItem(), tmp_path / "no-such-dir" / f"p{ext}")
    assert not (tmp_path / "no-such-dir").exists()


def test_one_number_formatter_serves_every_panels_rules():
    from adamlab.ui.widgets.numbers import format_number

    ema = dict(fixed=(1e-3, 1e5), fixed_fmt=".4f", sci_fmt=".3e")
    assert format_number(0.075, **ema) == "0.0750"
    assert format_number(123456.0, **ema) == "1.235e+05"
    assert format_number(-0.0, **ema) == "0.0000"
    maths = dict(fixed=(1e-3, 1e5), fixed_fmt=".4f", sci_fmt=".4g", unicode_minus=True)
    assert format_number(-35.87961, **maths) == "−35.8796"
    assert format_number(1e-8, **maths) == "1e−08"
    table = dict(fixed=(1e-2, 1e4), fixed_fmt=".3g", sci_fmt=".1e", short_exponent=True, missing="—")
    assert [format_number(v, **table) for v in (0.31623, 2.2817, 7.6e-4, 1.2e5, None, float("nan"))] == [
        "0.316", "2.28", "7.6e-4", "1.2e5", "—", "—"]
    assert format_number(float("inf")) == "inf" and format_number(None) == "None"


def test_a_fitting_label_shows_the_longest_variant_that_fits_on_one_line(qtbot):
    from adamlab.ui.widgets.layout import FittingLabel

    label = FittingLabel()
    qtbot.addWidget(label)
    long, mid, short = "bold: smoothed loss · faint: raw loss", "bold: smoothed · faint: raw", "bold · faint"
    label.set_variants(long, mid, short)
    m = label.fontMetrics()
    for width, want in ((m.horizontalAdvance(long) + 20, long), (m.horizontalAdvance(mid) + 20, mid),
                        (m.horizontalAdvance(short) + 20, short), (m.horizontalAdvance(short) // 2, short)):
        label.resize(width, 40)
        label.show()
        assert label.text() == want, width
    assert label.toolTip() == long  # the whole key, whatever is shown


def test_an_aspect_splitter_may_shrink_to_either_arrangement(qtbot):
    from PySide6.QtWidgets import QWidget

    from adamlab.ui.widgets.layout import AspectSplitter

    a, b = QWidget(), QWidget()
    a.setMinimumSize(100, 80)
    b.setMinimumSize(60, 50)
    split = AspectSplitter(a, b)
    qtbot.addWidget(split)
    hint, gap = split.minimumSizeHint(), split.handleWidth()
    # side by side it needs 80 px of height, stacked 100 px of width: each dimension's smaller need
    assert (hint.width(), hint.height()) == (min(160 + gap, 100), min(80, 130 + gap))
    split.resize(400, 90)  # wide and short: side by side, both at least their minimum height
    split.show()
    qtbot.waitUntil(lambda: split.orientation() == Qt.Orientation.Horizontal)
    assert a.height() >= 80 and b.height() >= 50
