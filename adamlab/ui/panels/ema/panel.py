"""EMA playground: drag β and watch Adam's moving averages chase a gradient signal.

Data flow (GUIDE §1): the controls build a plain :class:`PlaygroundRequest` → a latest-wins worker turns it
into a gradient signal and runs :mod:`adamlab.core.ema` on it → the panel draws the returned
:class:`PlaygroundResult`. A slider drag submits dozens of requests; the worker computes only the newest and
the GUI thread only ever calls ``setData`` (at most once per event-loop turn, see ``_on_result``).

Every number on screen comes from the core: the moment traces m, v, m̂, v̂, m̂/(√v̂+ε), the bias-correction
factors and the effective memory. This module only *generates gradient signals* (test inputs, not Adam
maths) and draws.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Slot
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from adamlab.core import ema as core_ema
from adamlab.ui import theme, workers
from adamlab.ui.panels.base import Panel
from adamlab.ui.schema import Fields, Text
from adamlab.ui.widgets.controls import FloatSlider, IntSpinBox
from adamlab.ui.widgets.stateschema import of
from adamlab.ui.widgets.hyper import knob_slider
from adamlab.ui.widgets.numbers import format_number
from adamlab.ui.widgets.plots import Crosshair, fast_curve, pen, style_plot
from adamlab.ui.widgets.symbols import hat, rich, tooltip

# --- gradient signals (the playground's inputs; plain NumPy, no Adam maths here) ---------------------------

# The sequences quoted in the seeds, shown verbatim so a student can redo them by hand.
SEED_SEQUENCES: dict[str, list[float]] = {
    "seed": [5.0, -2.0, 4.0, -1.0, 6.0],
    "stable": [3.0, 3.1, 2.9, 3.2],
    "chaotic": [5.0, -2.0, 8.0, -3.0],
}

# key → combo label. Generated kinds use mean/σ/length/seed; fixed ones ignore them.
SIGNALS: dict[str, str] = {
    "noisy": "Noisy constant (mean + σ·noise)",
    "flip": "Sign flipping (+1, −1, …)",
    "step": "Step change half way",
    "sine": "Drifting sine",
    "seed": "Seeds: [5, −2, 4, −1, 6]",
    "stable": "Seeds: stable [3, 3.1, 2.9, 3.2]",
    "chaotic": "Seeds: chaotic [5, −2, 8, −3]",
    "custom": "Custom sequence (type below)",
}
GENERATED = ("noisy", "flip", "step", "sine")
MAX_LENGTH = 10_000


def parse_sequence(text: str) -> np.ndarray:
    """'5, -2, 4' (commas, spaces or semicolons; '−' accepted) → float array. ValueError says what is wrong."""
    tokens = [t for t in re.split(r"[,;\s]+", text.replace("−", "-").strip()) if t]
    if not tokens:
        raise ValueError("sequence is empty: type numbers separated by commas, e.g. 5, -2, 4, -1, 6")
    if len(tokens) > MAX_LENGTH:
        raise ValueError(f"sequence has {len(tokens)} numbers; at most {MAX_LENGTH} are allowed")
    values = []
    for i, tok in enumerate(tokens, 1):
        try:
            v = float(tok)
        except ValueError:
            raise ValueError(f"sequence item {i} ({tok!r}) is not a number") from None
        if not math.isfinite(v) or abs(v) > 1e12:
            raise ValueError(f"sequence item {i} ({tok!r}) must be a finite number with |x| ≤ 1e12")
        values.append(v)
    return np.asarray(values, dtype=np.float64)


def make_signal(kind: str, mean: float = 1.0, sigma: float = 1.0, length: int = 200, seed: int = 0,
                custom: str = "") -> np.ndarray:
    """The gradient sequence g_1..g_T, shape (T,), for one of :data:`SIGNALS`.

    noisy: mean + σ·N(0, 1).  flip: mean·(+1, −1, +1, …) + σ·N(0, 1) — gradients that disagree.
    step: mean for the first half, −mean after (plus noise) — how fast does m follow a change?
    sine: mean·sin of a slowly drifting phase (the slope a curved valley gives) + noise.
    """
    if kind in SEED_SEQUENCES:
        return np.asarray(SEED_SEQUENCES[kind], dtype=np.float64)
    if kind == "custom":
        return parse_sequence(custom)
    if kind not in GENERATED:
        raise ValueError(f"signal kind must be one of {list(SIGNALS)}, got {kind!r}")
    if not 1 <= length <= MAX_LENGTH:
        raise ValueError(f"length must be in [1, {MAX_LENGTH}], got {length}")
    t = np.arange(length)  # (T,)
    noise = sigma * np.random.default_rng(seed).standard_normal(length)
    if kind == "noisy":
        clean = np.full(length, mean, dtype=np.float64)
    elif kind == "flip":
        clean = mean * np.where(t % 2 == 0, 1.0, -1.0)
    elif kind == "step":
        clean = np.where(t < length // 2, mean, -mean).astype(np.float64)
    else:  # sine: two periods over the run, with a frequency that drifts up by half
        phase = 2 * np.pi * 2 * (t / max(length, 1)) * (1 + 0.5 * t / max(length, 1))
        clean = mean * np.sin(phase)
    return clean + noise


# --- the request the controls build and the result the worker returns -----------------------------------


@dataclass(frozen=True)
class PlaygroundRequest:
    kind: str = "noisy"
    mean: float = 1.0
    sigma: float = 2.0
    length: int = 200
    seed: int = 0
    custom: str = "5, -2, 4, -1, 6"
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8


@dataclass
class PlaygroundResult:
    request: PlaygroundRequest
    t: np.ndarray  # (T,) steps 1..T
    g: np.ndarray  # (T,) the gradient signal
    traces: dict[str, np.ndarray] = field(default_factory=dict)  # m, v, m_hat, v_hat, ratio: each (T,)
    correction1: np.ndarray | None = None  # (T,) 1/(1 − β1ᵗ)
    correction2: np.ndarray | None = None  # (T,) 1/(1 − β2ᵗ)


def compute_playground(req: PlaygroundRequest) -> PlaygroundResult:
    """Worker-thread function: the signal, then Adam's moment traces and correction factors from the core."""
    g = make_signal(req.kind, req.mean, req.sigma, req.length, req.seed, req.custom)
    t = np.arange(1, len(g) + 1, dtype=np.float64)
    traces = core_traces(g, req.beta1, req.beta2, req.eps)
    return PlaygroundResult(req, t, g, traces, core_correction(req.beta1, t), core_correction(req.beta2, t))


# --- the only place this panel talks to the core -------------------------------------------------------------


def core_traces(g: np.ndarray, beta1: float, beta2: float, eps: float) -> dict[str, np.ndarray]:
    """Adam's moment traces for the gradient sequence g, shape (T,) each: m, v, m_hat, v_hat, ratio."""
    tr = core_ema.adam_moments(g, beta1=beta1, beta2=beta2, eps=eps)
    return {k: np.asarray(getattr(tr, k), dtype=np.float64) for k in ("m", "v", "m_hat", "v_hat", "ratio")}


def core_correction(beta: float, t) -> np.ndarray:
    """The factor m̂/m = 1/(1 − βᵗ) at steps t (from 1), from the core."""
    return np.asarray(core_ema.bias_correction(beta, t), dtype=np.float64)


def core_memory(beta: float) -> float:
    """Effective memory 1/(1 − β) in steps, from the core."""
    return float(core_ema.effective_memory(beta))


# --- the panel ---------------------------------------------------------------------------------------------

PRESETS = {  # label → (β1, β2), as quoted in the seeds
    "Adam defaults (0.9, 0.999)": (0.9, 0.999),
    "microgpt (0.85, 0.99)": (0.85, 0.99),
    "guide (0.9, 0.95)": (0.9, 0.95),
}
MARKER_LIMIT = 60  # sequences this short get a marker per step, so each step can be seen and hovered
THICK_LIMIT = 500  # up to this length thick pens and a grid are cheap to paint; longer ones get 1-px pens
ERROR_STYLE = "QLineEdit { border: 2px solid #D55E00; }"
M_HAT, V_HAT = hat("m"), hat("v")  # rich text that draws the hat on its letter (see widgets.symbols)


def fmt(x: float) -> str:
    """Compact number for readouts: 4 decimals for ordinary sizes, scientific otherwise."""
    return format_number(x, fixed=(1e-3, 1e5), fixed_fmt=".4f", sci_fmt=".3e")


class EmaPanel(Panel):
    key = "ema"
    title = "EMA playground"
    hint = "Drag β1 and β2 and watch the moving averages m (orange) and v chase the gradient (blue)."
    help_html = rich(
        "<b>EMA playground</b><p>Adam keeps two exponential moving averages of the gradient g:"
        "<br>&nbsp;&nbsp;m ← β1·m + (1−β1)·g &nbsp;&nbsp;(the average direction)"
        "<br>&nbsp;&nbsp;v ← β2·v + (1−β2)·g² &nbsp;(the average squared size)</p>"
        "<p>Both start at 0, so early on they are too small; dividing by 1 − βᵗ (the <i>bias correction</i>, "
        "bottom plot) undoes that: m̂ = m/(1−β1ᵗ), v̂ = v/(1−β2ᵗ). The purple curve is m without correction, "
        "the orange one m̂ with it.</p>"
        "<p>An EMA remembers roughly the last 1/(1−β) steps: 10 for β = 0.9, 1000 for β = 0.999.</p>"
        "<p>Adam's step is lr·m̂/(√v̂+ε). The ratio m̂/(√v̂+ε) (third plot) is a signal-to-noise scale: "
        "near ±1 when recent gradients agree, near 0 when they keep flipping sign.</p>"
        "<p>Try: the sign-flipping signal; a step change with β1 = 0.9 and then 0.99; "
        "the seeds' sequence [5, −2, 4, −1, 6] and check m by hand.</p>"
    )

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self._result: PlaygroundResult | None = None
        self._submitted = 0  # id of the newest request sent to the worker
        self._drawn = 0  # id of the request whose result the plots hold
        self._hover_t: int | None = None
        self._restoring = False
        self._build_controls()
        self._build_plots()
        lay = QHBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self._controls_scroll)
        right = QVBoxLayout()
        right.addWidget(self.view, 1)
        right.addWidget(self.cursor_label)
        lay.addLayout(right, 1)

        # Latest-wins worker: a drag submits many requests; only the newest is computed.
        self._handle = workers.start_latest_wins(compute_playground, "ema-playground")
        self._handle.worker.resultReady.connect(self._on_result)
        self._handle.worker.failed.connect(self._on_failed)
        self._update_readouts()
        self.submit()

    # --- controls ---
    def _build_controls(self) -> None:
        box = QWidget()
        col = QVBoxLayout(box)
        col.setContentsMargins(4, 4, 4, 4)

        sig = QGroupBox("Gradient signal g")
        form = QFormLayout(sig)
        form.setVerticalSpacing(3)
        self.kind = QComboBox()
        for k, label in SIGNALS.items():
            self.kind.addItem(label, k)
        self.kind.setToolTip("Where the gradients g₁, g₂, … come from: a generated signal or a fixed sequence.")
        form.addRow(self.kind)
        self.mean = FloatSlider("mean", -5.0, 5.0, 1.0, decimals=2,
                                tooltip="The signal's true value (its amplitude for flip, step and sine).")
        self.sigma = FloatSlider("σ", 0.0, 5.0, 2.0, decimals=2,
                                 tooltip="Noise: g = signal + σ·N(0, 1). Large σ makes m wander.")
        form.addRow(self.mean)
        form.addRow(self.sigma)
        self.length = IntSpinBox()
        self.length.setRange(1, MAX_LENGTH)
        self.length.setValue(200)
        self.length.setKeyboardTracking(False)
        self.length.setToolTip(f"Number of steps T (1 … {MAX_LENGTH}).")
        self.seed = IntSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setKeyboardTracking(False)
        self.seed.setToolTip("Random seed of the noise: the same seed gives the same gradients.")
        row = QHBoxLayout()
        row.addWidget(QLabel("steps"))
        row.addWidget(self.length, 1)
        row.addWidget(QLabel("seed"))
        row.addWidget(self.seed, 1)
        form.addRow(row)
        self.custom = QLineEdit(PlaygroundRequest.custom)
        self.custom.setPlaceholderText("e.g. 5, -2, 4, -1, 6")
        self.custom.setToolTip("Your own gradients g₁, g₂, …: numbers separated by commas or spaces.")
        form.addRow(QLabel("custom sequence:"))
        form.addRow(self.custom)
        self.custom_error = QLabel("")
        self.custom_error.setWordWrap(True)
        self.custom_error.setStyleSheet("color: #D55E00;")
        self.custom_error.setVisible(False)
        form.addRow(self.custom_error)
        col.addWidget(sig)

        betas = QGroupBox("Adam's betas")
        bl = QVBoxLayout(betas)
        bl.setSpacing(3)
        # the ranges every panel shares (widgets.hyper.KNOBS), with this panel's explanations
        self.beta1 = knob_slider("beta1", 0.9, "β1: m ← β1·m + (1−β1)·g. Closer to 1 = longer memory, smoother, "
                                               "slower.")
        self.beta2 = knob_slider("beta2", 0.999, "β2: v ← β2·v + (1−β2)·g². Slider spaced in 1 − 10⁻ˣ: fine steps "
                                                 "near 1.")
        self.eps = knob_slider("eps", 1e-8, "ε in m̂/(√v̂ + ε): keeps the step finite when v̂ ≈ 0.")
        for s in (self.beta1, self.beta2, self.eps):
            bl.addWidget(s)
        grid = QGridLayout()
        grid.setSpacing(3)
        self.preset_buttons: dict[str, QPushButton] = {}
        for i, (label, (b1, b2)) in enumerate(PRESETS.items()):
            b = QPushButton(label)
            b.setToolTip(f"Set β1 = {b1}, β2 = {b2}.")
            b.clicked.connect(lambda _=False, v=(b1, b2): self.set_betas(*v))
            grid.addWidget(b, i, 0)
            self.preset_buttons[label] = b
        bl.addLayout(grid)
        col.addWidget(betas)

        read = QGroupBox("Readouts")
        rl = QVBoxLayout(read)
        self.readout = QLabel()
        self.readout.setTextFormat(Qt.TextFormat.RichText)
        self.readout.setWordWrap(True)
        self.readout.setToolTip(tooltip(
            "Effective memory 1/(1−β): about how many recent steps the average remembers. "
            "Correction at step 1: 1/(1−β¹), what m̂ multiplies m by at the start."))
        rl.addWidget(self.readout)
        col.addWidget(read)
        tips = QGroupBox("Try this")
        tl = QVBoxLayout(tips)
        self.tips = QLabel(
            f"• <b>Sign flipping</b>: {M_HAT} hovers near 0 while √{V_HAT} stays large: the ratio says "
            "<i>don't move</i>.<br>"
            f"• <b>Step change</b> with β1 = 0.9, then 0.99: how many steps until {M_HAT} follows?<br>"
            f"• <b>[5, −2, 4, −1, 6]</b> with β1 = 0.9: <i>m</i>₁ = 0.5, {M_HAT}₁ = 5. Check the rest by hand.<br>"
            f"• <b>β2 = 0.999</b>: <i>v</i> starts tiny; only the correction 1/(1−β2<sup>t</sup>) makes "
            f"√{V_HAT} right.")
        self.tips.setWordWrap(True)
        self.tips.setTextFormat(Qt.TextFormat.RichText)
        tl.addWidget(self.tips)
        col.addWidget(tips)
        col.addStretch(1)

        self._controls_scroll = QScrollArea()
        self._controls_scroll.setWidget(box)
        self._controls_scroll.setWidgetResizable(True)
        self._controls_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        theme.sized(self._controls_scroll, setFixedWidth=320)
        self._controls_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        self.kind.currentIndexChanged.connect(self._on_kind)
        for s in (self.mean, self.sigma, self.beta1, self.beta2, self.eps):
            s.valueChanged.connect(self._on_control)
        self.length.what, self.seed.what = "steps", "seed"
        for w in (self.mean, self.sigma, self.beta1, self.beta2, self.eps, self.length, self.seed):
            w.clamped.connect(self.statusMessage)  # a typed value out of range: say which limit it became
        self.length.valueChanged.connect(self._on_control)
        self.seed.valueChanged.connect(self._on_control)
        self.custom.textChanged.connect(self._on_custom_text)
        self._update_enabled()

    def _build_plots(self) -> None:
        self.view = pg.GraphicsLayoutWidget()
        self.view.ci.setSpacing(4)
        c = theme.COLORS
        # Each plot's key is in its title row, outside the data: a legend box inside the view covered points
        # (the chaotic sequence's g = 8, √v̂ under the second legend, the only point at steps = 1).
        p1 = self.view.addPlot(row=0, col=0)
        style_plot(p1, "", left="g, m", legend=False)
        p2 = self.view.addPlot(row=1, col=0)
        style_plot(p2, "", left=f"<i>v</i>, √{V_HAT}", legend=False)
        p3 = self.view.addPlot(row=2, col=0)
        style_plot(p3, "", left="ratio", legend=False)
        p4 = self.view.addPlot(row=3, col=0)
        style_plot(p4, "", left="factor", bottom="step t", legend=False)
        p4.setLogMode(y=True)
        self.plot_g, self.plot_v, self.plot_ratio, self.plot_corr = p1, p2, p3, p4
        for p in (p2, p3, p4):
            p.setXLink(p1)
        for p in (p1, p2, p3, p4):
            theme.sized(p.getAxis("left"), setWidth=52)
            p.setMouseEnabled(x=True, y=False)
        layout = self.view.ci.layout
        for row, stretch in enumerate((3, 2, 2, 2)):
            layout.setRowStretchFactor(row, stretch)

        dash = Qt.PenStyle.DashLine
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._pens: dict[str, tuple] = {}  # name → (colour, width, style) used for short sequences
        self._style: str | None = None
        self._drawn_length = -1
        keys: dict[pg.PlotItem, list[str]] = {}  # each plot's key, drawn in its title row
        for name, plot, color, plain, html, width, style in (
            ("g", p1, c["gradient"], "g", "<i>g</i>", 1, None),
            ("m", p1, c["ema_raw"], "m", "<i>m</i> (raw)", 1.5, dash),
            ("m_hat", p1, c["ema"], "m_hat", f"{M_HAT} (corrected)", 2, None),
            ("v", p2, c["second"], "v", "<i>v</i> (raw)", 1.5, dash),
            ("sqrt_v_hat", p2, c["accent"], "sqrt_v_hat", f"√{V_HAT} (corrected, units of <i>g</i>)", 2, None),
            ("ratio", p3, c["ratio"], "ratio", "", 2, None),
            ("corr1", p4, c["ema"], "correction1", "1/(1 − <i>β</i>1<sup>t</sup>)", 2, None),
            ("corr2", p4, c["second"], "correction2", "1/(1 − <i>β</i>2<sup>t</sup>)", 2, None),
        ):
            curve = fast_curve(plot, color, None, width=width)
            self._pens[name] = (color, width, style)
            curve.opts["name"] = plain  # CSV column names stay plain text; the title row shows the HTML
            self.curves[name] = curve
            keys.setdefault(plot, []).append(f"<span style='color:{color}'>{'┅' if style else '━'}</span>&nbsp;{html}")
        for plot, title in ((p1, "Gradient and its EMA"), (p2, "Second moment"), (p4, "Bias correction (log)")):
            plot.setTitle(f"<b>{title}</b>: &nbsp;" + " &nbsp; ".join(keys[plot]), size="9.5pt")
        p3.setTitle(f"<span style='color:{c['ratio']}'>━</span>&nbsp;{M_HAT} / (√{V_HAT} + <i>ε</i>): ±1 when "
                    "gradients agree, ≈ 0 when they flip", size="9.5pt")
        zero = pg.InfiniteLine(0, angle=0, pen=pen(c["sgd"], 1, Qt.PenStyle.DotLine))
        p1.addItem(zero, ignoreBounds=True)
        for y in (-1.0, 1.0):
            p3.addItem(pg.InfiniteLine(y, angle=0, pen=pen(c["sgd"], 1, dash)), ignoreBounds=True)
        p3.addItem(pg.InfiniteLine(0, angle=0, pen=pen(c["sgd"], 1, Qt.PenStyle.DotLine)), ignoreBounds=True)
        p3.setYRange(-1.2, 1.2, padding=0)
        p3.enableAutoRange(y=False)
        p3.getAxis("left").setTicks([[(v, f"{v:g}") for v in (-1.0, -0.5, 0.0, 0.5, 1.0)]])
        self.crosshair = Crosshair([p1, p2, p3, p4], self._on_hover)

        self.cursor_label = QLabel()
        self.cursor_label.setTextFormat(Qt.TextFormat.RichText)
        self.cursor_label.setToolTip("Values at the step under the mouse (the last step when the mouse is away).")
        # The readout is laid out in as many rows as its width needs (see _layout_readout), never wrapped
        # inside an item and never cut off; it must not widen the window either.
        self.cursor_label.setMinimumWidth(1)
        self.cursor_label.installEventFilter(self)
        self._readout_parts: list[str] = []

    # --- reacting to the controls ---
    def request(self) -> PlaygroundRequest:
        """The plain config the controls describe."""
        return PlaygroundRequest(
            kind=self.kind.currentData(), mean=self.mean.value(), sigma=self.sigma.value(),
            length=self.length.value(), seed=self.seed.value(), custom=self.custom.text(),
            beta1=self.beta1.value(), beta2=self.beta2.value(), eps=self.eps.value())

    def submit(self) -> int | None:
        """Send the current config to the worker (unless the custom text is invalid). Returns its id."""
        if self._restoring:
            return None
        req = self.request()
        if req.kind == "custom" and not self._validate_custom():
            return None
        self._submitted = self._handle.worker.submit(req)
        return self._submitted

    def set_betas(self, beta1: float, beta2: float) -> None:
        self._restoring = True  # one request for both, not two
        try:
            self.beta1.setValue(beta1)
            self.beta2.setValue(beta2)
        finally:
            self._restoring = False
        self._on_control()

    @Slot()
    def _on_control(self, *_) -> None:
        self._update_readouts()
        self.submit()

    @Slot(int)
    def _on_kind(self, _index: int) -> None:
        self._update_enabled()
        if self.kind.currentData() != "custom":
            self._show_custom_error("")
        self.submit()

    @Slot(str)
    def _on_custom_text(self, _text: str) -> None:
        if self.kind.currentData() != "custom" and not self._restoring:
            # Typing a sequence means "use my sequence".
            self.kind.setCurrentIndex(self.kind.findData("custom"))  # submits via _on_kind
            return
        self.submit()

    def _validate_custom(self) -> bool:
        try:
            parse_sequence(self.custom.text())
        except ValueError as exc:
            self._show_custom_error(str(exc))
            return False
        self._show_custom_error("")
        return True

    def _show_custom_error(self, message: str) -> None:
        self.custom.setStyleSheet(ERROR_STYLE if message else "")
        self.custom_error.setText(message)
        self.custom_error.setVisible(bool(message))
        if message:
            self.statusMessage.emit(f"Custom sequence: {message}")

    def _update_enabled(self) -> None:
        generated = self.kind.currentData() in GENERATED
        for w in (self.mean, self.sigma, self.length, self.seed):
            w.setEnabled(generated)

    def _update_readouts(self) -> None:
        lines = []
        for name, beta in (("β1", self.beta1.value()), ("β2", self.beta2.value())):
            mem = core_memory(beta)
            corr = float(core_correction(beta, 1.0))
            lines.append(
                f"<b>{name} = {beta:g}</b><br>&nbsp;memory 1/(1−{name}) = <b>{mem:.4g}</b> steps"
                f"<br>&nbsp;correction at t = 1: 1/{1 - beta:.4g} = <b>{corr:.4g}</b>")
        self.readout.setText("<br>".join(lines))

    # --- results from the worker ---
    @Slot(int, object)
    def _on_result(self, request_id: int, result: PlaygroundResult) -> None:
        # The worker computes only the newest request, so a result is either for the newest config (draw
        # it now) or stale because a newer one was submitted meanwhile (skip it: that one is coming).
        if request_id < self._submitted:
            return
        self.draw(result)
        self._drawn = request_id

    @Slot(int, str)
    def _on_failed(self, request_id: int, message: str) -> None:
        self.statusMessage.emit(f"EMA playground: {message}")
        if request_id >= self._submitted:
            self._drawn = request_id  # nothing more is coming for this request

    def draw(self, r: PlaygroundResult) -> None:
        """Put a result on the plots (GUI thread; setData only)."""
        self._result = r
        PLAYGROUND.sequence = r.g
        t, tr = r.t, r.traces
        with np.errstate(invalid="ignore"):
            sqrt_v_hat = np.sqrt(tr["v_hat"])
        data = {"g": r.g, "m": tr["m"], "m_hat": tr["m_hat"], "v": tr["v"], "sqrt_v_hat": sqrt_v_hat,
                "ratio": tr["ratio"], "corr1": r.correction1, "corr2": r.correction2}
        markers = len(t) <= MARKER_LIMIT
        style = "markers" if markers else "thick" if len(t) <= THICK_LIMIT else "thin"
        if style != self._style:
            self._set_style(style)
        for name, y in data.items():
            self.curves[name].setData(t, y)
        if len(t) != self._drawn_length:  # a new length: show all of it (a β change keeps the user's zoom)
            self._drawn_length = len(t)
            self.plot_g.setXRange(0.5 if markers else 0, len(t) + (0.5 if markers else 0), padding=0.01)
            for p in self.plots().values():  # steps are whole numbers: no tick at step 1.5 for a short sequence
                axis = p.getAxis("bottom")
                if markers:
                    axis.setTickSpacing(1 if len(t) <= 12 else 5, 1)
                else:
                    axis.setTickSpacing()
        self._update_cursor()

    def _set_style(self, style: str) -> None:
        """"markers": a marker per step, thick and dashed pens and a grid, so each step can be read.
        "thick": the same without markers. "thin" (long sequences): 1-px solid pens and no grid, several
        times cheaper to paint (GUIDE §4), so a β drag over 10,000 steps stays smooth."""
        self._style = style
        for name, curve in self.curves.items():
            color, width, dash = self._pens[name]
            curve.setPen(pen(color, 1) if style == "thin" else pen(color, width, dash))
            if style == "markers":
                curve.setSymbol("o")
                curve.setSymbolSize(7)
                curve.setSymbolPen(None)
                curve.setSymbolBrush(pg.mkColor(color))
            else:
                curve.setSymbol(None)
        for p in self.plots().values():
            p.showGrid(x=style != "thin", y=style != "thin", alpha=0.15)

    def _on_hover(self, x: float | None) -> None:
        self._hover_t = None if x is None else int(round(x))
        self._update_cursor()

    def _update_cursor(self) -> None:
        r = self._result
        if r is None:
            self.cursor_label.setText("")
            return
        n = len(r.t)
        hovering = self._hover_t is not None
        t = min(max(self._hover_t if hovering else n, 1), n)
        i = t - 1
        tr = r.traces
        c = theme.COLORS
        where = f"t&nbsp;=&nbsp;{t}" if hovering else f"t&nbsp;=&nbsp;{t}&nbsp;(last)"

        def item(label, color, value):
            return f"<span style='color:{color}'>■</span>&nbsp;{label}&nbsp;=&nbsp;<b>{fmt(float(value))}</b>"

        parts = [item("<i>g</i>", c["gradient"], r.g[i]), item("<i>m</i>", c["ema_raw"], tr["m"][i]),
                 item(M_HAT, c["ema"], tr["m_hat"][i]), item("<i>v</i>", c["second"], tr["v"][i]),
                 item(f"√{V_HAT}", c["accent"], math.sqrt(max(tr["v_hat"][i], 0.0))),
                 item(f"{M_HAT}/(√{V_HAT}+<i>ε</i>)".replace(" ", "&nbsp;"), c["ratio"], tr["ratio"][i])]
        self._readout_parts = [f"<b>{where}</b>:", *parts]
        self._layout_readout()

    def eventFilter(self, obj, event) -> bool:
        if obj is self.cursor_label and event.type() == QEvent.Type.Resize:
            self._layout_readout()
        return super().eventFilter(obj, event)

    def _layout_readout(self) -> None:
        """The readout's items in the fewest rows that fit the label's width (1 at 1280 px, 2 at 1024)."""
        parts = self._readout_parts
        if not parts:
            return
        doc = QTextDocument()
        doc.setDefaultFont(self.cursor_label.font())
        width = self.cursor_label.contentsRect().width()
        for rows in (1, 2, 3, len(parts)):
            per_row = -(-len(parts) // rows)
            lines = [" &nbsp; ".join(parts[i:i + per_row]) for i in range(0, len(parts), per_row)]
            fits = True
            for line in lines:
                doc.setHtml(line)
                fits &= doc.idealWidth() <= width
            if fits:
                break
        text = "<br>".join(lines)
        if text != self.cursor_label.text():
            self.cursor_label.setText(text)

    # --- Panel interface ---
    def plots(self) -> dict[str, pg.PlotItem]:
        return {"Gradient and EMA": self.plot_g, "Second moment": self.plot_v,
                "Normalised step": self.plot_ratio, "Bias correction": self.plot_corr}

    def get_state(self) -> dict[str, Any]:
        return asdict(self.request())

    def state_schema(self) -> Fields:
        return Fields({"kind": of(self.kind), **{n: of(getattr(self, n)) for n in
                                                  ("mean", "sigma", "beta1", "beta2", "eps", "length", "seed")},
                       "custom": Text(200_000)})

    def set_state(self, state: dict[str, Any]) -> None:
        if not isinstance(state, dict):
            return
        self._restoring = True
        try:
            kind = state.get("kind")
            if isinstance(kind, str) and kind in SIGNALS:
                self.kind.setCurrentIndex(self.kind.findData(kind))
            for name in ("mean", "sigma", "beta1", "beta2", "eps"):
                v = state.get(name)
                if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                    getattr(self, name).setValue(float(v))
            for name in ("length", "seed"):
                v = state.get(name)
                if isinstance(v, int) and not isinstance(v, bool):
                    box = getattr(self, name)
                    if box.minimum() <= v <= box.maximum():
                        box.setValue(v)
            if isinstance(state.get("custom"), str):
                self.custom.setText(state["custom"][:200_000])
        finally:
            self._restoring = False
        self._update_enabled()
        self._update_readouts()
        if self.kind.currentData() == "custom":
            self._validate_custom()
        else:
            self._show_custom_error("")
        self.submit()

    def reset_defaults(self) -> None:
        self.set_state(asdict(PlaygroundRequest()))

    def animations(self) -> dict:
        from adamlab.ui.panels.ema import animate

        return animate.animations(self)

    def is_idle(self) -> bool:
        return not self._handle.worker.busy() and self._drawn >= self._submitted

    def shutdown(self) -> None:
        if self.crosshair is not None:
            self.crosshair.disconnect_all()
            self.crosshair = None
        self._handle.stop()


class _SharedSequence:
    """The playground's current gradient sequence, for the Adam stepper's "playground" source (GUI thread)."""

    def __init__(self) -> None:
        self.sequence = np.asarray(SEED_SEQUENCES["seed"], dtype=np.float64)


PLAYGROUND = _SharedSequence()
