"""Adam stepper: one parameter θ, Adam's update one line at a time, with the numbers substituted.

The maths is not here. :class:`StepperSession` (Qt-free) holds a core :class:`~adamlab.core.optim.Adam` (or
AdamW) and an SGD for comparison; each step it calls ``opt.step`` and reads m, v, m̂, v̂, the bias
corrections and m̂/(√v̂+ε) back with ``opt.inspect()`` — the same helpers the optimizer steps with. The panel
only reveals the recorded numbers line by line and formats them. A step is a handful of scalar NumPy
operations (microseconds), so it runs on the GUI thread; "run" is a QTimer that calls next line / next step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, QTimer, Slot
from PySide6.QtGui import QFont, QFontDatabase, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from adamlab.core import optim
from adamlab.ui import theme
from adamlab.ui.panels.base import Panel
from adamlab.ui.panels.stepper.lines import CodeLines
from adamlab.ui.widgets.controls import FloatSlider
from adamlab.ui.widgets.hyper import knob_slider
from adamlab.ui.widgets.numbers import format_number
from adamlab.ui.widgets.plots import CompactAxis, fast_curve, pen, style_plot

# --- the 1D problems θ lives on (inputs, not optimizer maths) ---------------------------------------------

NOISE_SIGMA = 2.0  # the noisy quadratic's gradient noise
TARGET = 3.0  # the quadratic's minimum
EARLY_STEPS = 10  # until this many steps, the θ plot shows steps 0..EARLY_STEPS and the target (then autoscales)


@dataclass(frozen=True)
class Problem:
    label: str
    loss: Callable[[float], float] | None  # None: gradients come from a sequence, there is no loss
    grad: Callable[[float], float] | None
    noisy: bool = False


def _square_loss(th: float) -> float:
    d = th - TARGET
    return d * d  # a float product overflows to inf; ** 2 would raise OverflowError at lr = 10


PROBLEMS: dict[str, Problem] = {
    "quadratic": Problem("L(θ) = (θ − 3)²", _square_loss, lambda th: 2.0 * (th - TARGET)),
    "abs": Problem("L(θ) = |θ|", abs, lambda th: float(np.sign(th))),
    "noisy": Problem(f"L(θ) = (θ − 3)², gradient + N(0, {NOISE_SIGMA:g}²) noise",
                     _square_loss, lambda th: 2.0 * (th - TARGET), noisy=True),
    "playground": Problem("gradients g₁, g₂, … from the EMA playground", None, None),
}
MAX_STEPS = 1000
# A run on a loss has diverged once |θ| passes this: θ₀ is within ±10 and the minima are at 0 and 3, so θ a
# million away is a run that overshoots further at every step (SGD at lr 10 on (θ − 3)² multiplies its error
# by −19 a step and passes it at step 5; it used to go on to 1e+150 and overflow at step ~240). Gradients
# from a sequence do not depend on θ, so there only a non-finite θ counts.
DIVERGED = 1e6


def playground_sequence() -> np.ndarray:
    """The EMA playground's current gradient sequence (its default seeds' sequence until it draws)."""
    from adamlab.ui.panels.ema.panel import PLAYGROUND

    return np.asarray(PLAYGROUND.sequence, dtype=np.float64).copy()


# --- a session: the optimizers and every step's numbers ----------------------------------------------------


@dataclass(frozen=True)
class StepperConfig:
    problem: str = "quadratic"
    theta0: float = 0.0
    lr: float = 0.1
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    weight_decay: float = 0.0
    adamw: bool = False
    seed: int = 0


@dataclass
class StepRecord:
    """Everything one Adam step computed (from the core), and SGD's step on the same problem."""

    t: int
    lr: float
    beta1: float
    beta2: float
    eps: float
    weight_decay: float
    theta: float  # θ before the step
    grad: float  # ∇L(θ) (or the sequence's g_t)
    g: float  # the gradient Adam uses: grad + wd·θ for Adam's L2 decay, else grad
    theta_decayed: float | None  # AdamW: θ after the decoupled decay, before the Adam update
    m_prev: float
    v_prev: float
    m: float
    v: float
    bias_correction1: float  # 1 − β1ᵗ
    bias_correction2: float  # 1 − β2ᵗ
    m_hat: float
    v_hat: float
    ratio: float  # m̂ / (√v̂ + ε)
    theta_new: float
    loss_new: float  # L(θ_new); NaN without a loss
    sgd_theta: float
    sgd_grad: float
    sgd_theta_new: float
    sgd_loss_new: float


def _scalar(x: Any) -> float:
    return float(np.asarray(x).reshape(-1)[0])


class StepperSession:
    """θ under Adam (or AdamW) and θ_SGD under SGD with the same lr, one step at a time. Qt-free.

    Raises ValueError (from the core) for invalid hyperparameters.
    """

    def __init__(self, config: StepperConfig, sequence: np.ndarray | None = None):
        if config.problem not in PROBLEMS:
            raise ValueError(f"problem must be one of {list(PROBLEMS)}, got {config.problem!r}")
        self.config = config
        self.problem = PROBLEMS[config.problem]
        self.sequence = None
        if self.problem.grad is None:
            self.sequence = np.asarray(playground_sequence() if sequence is None else sequence, dtype=np.float64)
        self.opt = optim.make_optimizer("adamw" if config.adamw else "adam", **self._adam_hyper(config))
        self.sgd = optim.make_optimizer("sgd", lr=config.lr, weight_decay=config.weight_decay)
        self.theta = np.array([config.theta0], dtype=np.float64)  # (1,): the core works on arrays
        self.sgd_theta = np.array([config.theta0], dtype=np.float64)
        self._rng = np.random.default_rng(config.seed)
        self.records: list[StepRecord] = []
        self.diverged: dict[str, int] = {}  # "Adam"/"SGD" → the step at which that run diverged and stopped

    @staticmethod
    def _adam_hyper(c: StepperConfig) -> dict[str, Any]:
        return {"lr": c.lr, "betas": (c.beta1, c.beta2), "eps": c.eps, "weight_decay": c.weight_decay}

    def set_hyperparameters(self, lr: float, beta1: float, beta2: float, eps: float, weight_decay: float) -> None:
        """Change the knobs between steps (state m, v and t are kept, as in torch). ValueError if invalid."""
        self.opt.set_hyperparameters(lr=lr, betas=(beta1, beta2), eps=eps, weight_decay=weight_decay)
        self.sgd.set_hyperparameters(lr=lr, weight_decay=weight_decay)
        self.config = StepperConfig(self.config.problem, self.config.theta0, lr, beta1, beta2, eps, weight_decay,
                                    self.config.adamw, self.config.seed)

    @property
    def t(self) -> int:
        return len(self.records)

    def finished(self) -> str:
        """Why no further step can be taken ('' when one can). A diverged SGD stops alone; Adam goes on."""
        if self.t >= MAX_STEPS:
            return f"stopped after {MAX_STEPS} steps: press Reset to start again"
        if self.sequence is not None and self.t >= len(self.sequence):
            return f"the playground's sequence has only {len(self.sequence)} values: press Reset"
        if "Adam" in self.diverged:
            return self.divergence("Adam") + ": lower lr and press Reset"
        return ""

    def is_diverged(self, theta: float) -> bool:
        return not math.isfinite(theta) or (self.problem.loss is not None and abs(theta) > DIVERGED)

    def divergence(self, name: str) -> str:
        """'SGD diverged at step 5 (|θ| = 7.4e+06 > 1e+06)', or '' while that run has not diverged."""
        t = self.diverged.get(name)
        if t is None:
            return ""
        r = self.records[t - 1]
        theta = r.theta_new if name == "Adam" else r.sgd_theta_new
        limit = f" > {DIVERGED:.0e}" if math.isfinite(theta) else ""
        return f"{name} diverged at step {t} (|θ| = {abs(theta):.2g}{limit})"

    def loss(self, theta: float) -> float:
        return float(self.problem.loss(theta)) if self.problem.loss is not None else math.nan

    def _gradients(self) -> tuple[float, float]:
        """(∇L at θ_Adam, ∇L at θ_SGD) for this step; both see the same noise draw or sequence value."""
        if self.sequence is not None:
            g = float(self.sequence[self.t])
            return g, g
        noise = NOISE_SIGMA * float(self._rng.standard_normal()) if self.problem.noisy else 0.0
        return self.problem.grad(float(self.theta[0])) + noise, self.problem.grad(float(self.sgd_theta[0])) + noise

    def step(self) -> StepRecord:
        """One Adam step and one SGD step, through the core; returns (and keeps) the record."""
        why = self.finished()
        if why:
            raise ValueError(why)
        h = self.opt.hyperparameters()
        b1, b2 = h["betas"]
        lr, eps, wd = h["lr"], h["eps"], h["weight_decay"]
        grad, sgd_grad = self._gradients()
        theta = float(self.theta[0])
        if self.opt.t > 0:
            before = self.opt.inspect()
            m_prev, v_prev = _scalar(before["m"]), _scalar(before["v"])
        else:
            m_prev = v_prev = 0.0  # Adam's moments start at zero
        decoupled = isinstance(self.opt, optim.AdamW)
        if wd != 0 and not decoupled:
            # The gradient Adam's L2 decay feeds into the moments, by the core's own helper.
            g = _scalar(optim._with_l2(self.theta, np.array([grad]), wd, np.empty(1)))
        else:
            g = grad
        self.opt.step(self.theta, np.array([grad]))
        after = self.opt.inspect()
        theta_new = float(self.theta[0])
        ratio = _scalar(after["normalized_step"])
        # AdamW shrinks θ before the Adam update, inside the core's step; the intermediate value is
        # θ_new + lr·m̂/(√v̂+ε) (the core reports m̂/(√v̂+ε) but not the decayed θ itself).
        theta_decayed = theta_new + lr * ratio if decoupled else None
        sgd_theta = float(self.sgd_theta[0])
        if "SGD" in self.diverged:  # a diverged run stops: its columns stay empty from here on
            sgd_theta = sgd_grad = sgd_new = math.nan
        else:
            self.sgd.step(self.sgd_theta, np.array([sgd_grad]))
            sgd_new = float(self.sgd_theta[0])
        rec = StepRecord(
            t=self.t + 1, lr=lr, beta1=b1, beta2=b2, eps=eps, weight_decay=wd, theta=theta, grad=grad, g=g,
            theta_decayed=theta_decayed, m_prev=m_prev, v_prev=v_prev, m=_scalar(after["m"]),
            v=_scalar(after["v"]), bias_correction1=float(after["bias_correction1"]),
            bias_correction2=float(after["bias_correction2"]), m_hat=_scalar(after["m_hat"]),
            v_hat=_scalar(after["v_hat"]), ratio=ratio, theta_new=theta_new, loss_new=self.loss(theta_new),
            sgd_theta=sgd_theta, sgd_grad=sgd_grad, sgd_theta_new=sgd_new, sgd_loss_new=self.loss(sgd_new))
        self.records.append(rec)
        for name, th in (("Adam", theta_new), ("SGD", sgd_new)):
            if name not in self.diverged and not math.isnan(th) and self.is_diverged(th):
                self.diverged[name] = rec.t
        return rec


# --- how each line reads, as code and with the numbers ----------------------------------------------------

SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def num(x: float) -> str:
    """A number as the maths lines show it: 4 decimals for ordinary sizes, else 4 significant digits."""
    return format_number(x, fixed=(1e-3, 1e5), fixed_fmt=".4f", sci_fmt=".4g", unicode_minus=True)


def hp(x: float) -> str:
    """A hyperparameter as typed (0.9, 0.999, 1e-08)."""
    return f"{x:g}".replace("-", "−")


def line_keys(adamw: bool) -> list[str]:
    """The lines of one step, in the core's (torch's) order: AdamW decays θ before the moments."""
    return ["g"] + (["decay"] if adamw else []) + ["m", "v", "m_hat", "v_hat", "theta"]


def code_line(key: str, adamw: bool, weight_decay: float) -> str:
    """The line as Python (microgpt's names)."""
    return {
        "g": "g = grad(θ)" + (" + wd * θ" if weight_decay and not adamw else ""),
        "decay": "θ = θ * (1 - lr * wd)",
        "m": "m = β1 * m + (1 - β1) * g",
        "v": "v = β2 * v + (1 - β2) * g**2",
        "m_hat": "m_hat = m / (1 - β1**t)",
        "v_hat": "v_hat = v / (1 - β2**t)",
        "theta": "θ = θ - lr * m_hat / (sqrt(v_hat) + ε)",
        "sgd": "SGD:  θ = θ - lr * g",
    }[key]


def maths_line(key: str, r: StepRecord, source: str) -> str:
    """The line with r's numbers substituted, e.g. 'm = 0.85 × 0.0000 + 0.15 × 0.5000 = 0.0750'."""
    t = str(r.t).translate(SUPERSCRIPT)
    if key == "g":
        head = f"g = g{str(r.t).translate(str.maketrans('0123456789', '₀₁₂₃₄₅₆₇₈₉'))}" if source == "playground" \
            else f"g = ∇L({num(r.theta)})"
        if r.g != r.grad:  # Adam's L2 decay: ∇L(θ) + wd·θ
            return f"g = {num(r.grad)} + {hp(r.weight_decay)} × {num(r.theta)} = {num(r.g)}"
        return f"{head} = {num(r.g)}"
    if key == "decay":
        return f"θ = {num(r.theta)} × (1 − {hp(r.lr)} × {hp(r.weight_decay)}) = {num(r.theta_decayed)}"
    if key == "m":
        return f"m = {hp(r.beta1)} × {num(r.m_prev)} + {hp(1 - r.beta1)} × {num(r.g)} = {num(r.m)}"
    if key == "v":
        return f"v = {hp(r.beta2)} × {num(r.v_prev)} + {hp(round(1 - r.beta2, 12))} × ({num(r.g)})² = {num(r.v)}"
    if key == "m_hat":
        return f"m_hat = {num(r.m)} / (1 − {hp(r.beta1)}{t}) = {num(r.m_hat)}"
    if key == "v_hat":
        return f"v_hat = {num(r.v)} / (1 − {hp(r.beta2)}{t}) = {num(r.v_hat)}"
    if key == "theta":
        start = r.theta if r.theta_decayed is None else r.theta_decayed
        return (f"θ = {num(start)} − {hp(r.lr)} × {num(r.m_hat)} / (√{num(r.v_hat)} + {hp(r.eps)})"
                f" = {num(r.theta_new)}")
    if key == "sgd":
        if math.isnan(r.sgd_theta_new):
            return "stopped: SGD diverged (see the θ plot)"
        return f"θ = {num(r.sgd_theta)} − {hp(r.lr)} × {num(r.sgd_grad)} = {num(r.sgd_theta_new)}"
    raise ValueError(f"line key must be one of {line_keys(True) + ['sgd']}, got {key!r}")


# The steps table: header → value of a record.
COLUMNS: list[tuple[str, Callable[[StepRecord], float]]] = [
    ("t", lambda r: r.t),
    ("g", lambda r: r.g),
    ("m", lambda r: r.m),
    ("v", lambda r: r.v),
    ("m_hat", lambda r: r.m_hat),
    ("v_hat", lambda r: r.v_hat),
    ("ratio", lambda r: r.ratio),  # m_hat / (sqrt(v_hat) + ε): Adam's step is −lr times this
    ("θ Adam", lambda r: r.theta_new),
    ("loss Adam", lambda r: r.loss_new),
    ("θ SGD", lambda r: r.sgd_theta_new),
    ("loss SGD", lambda r: r.sgd_loss_new),
]


def cell(x: float) -> str:
    """A table cell: three figures in at most 7 characters ("-0.0123", "36.1", "-1.2e-5"), so the 11 columns
    fit a 1024-px window without being cut to "3.946e…"; the cell's tooltip has the full value."""
    return format_number(x, fixed=(1e-2, 1e3), fixed_fmt=".3g", sci_fmt=".1e", short_exponent=True, missing="—")


# --- the panel ---------------------------------------------------------------------------------------------


class StepperPanel(Panel):
    key = "stepper"
    title = "Adam stepper"
    hint = "Step through Adam's update for one parameter θ, one line at a time, and watch the numbers flow."
    help_html = (
        "<b>Adam stepper</b><p>One parameter θ, one gradient g per step, and Adam's update as code. "
        "<b>Next line</b> runs one line and shows it with the numbers substituted:</p>"
        "<p>m ← β1·m + (1−β1)·g; &nbsp; v ← β2·v + (1−β2)·g²; &nbsp; m_hat = m/(1−β1ᵗ); "
        "&nbsp; v_hat = v/(1−β2ᵗ); &nbsp; θ ← θ − lr·m_hat/(√v_hat + ε).</p>"
        "<p>Watch the first step: m_hat = g and v_hat = g² exactly, so θ moves by lr·g/|g| = ±lr whatever the "
        "size of g. SGD (θ ← θ − lr·g, grey) moves by lr·g instead: huge or tiny depending on g.</p>"
        "<p>With AdamW, the decay θ ← θ(1 − lr·wd) happens first and is not divided by √v_hat; with Adam, "
        "weight decay is added to g and so gets normalised like the gradient.</p>"
        "<p>Too large an lr makes a run diverge: once |θ| passes 10⁶ it stops there and the panel says so "
        "(SGD at lr 10 on (θ − 3)² multiplies its error by −19 a step and stops at step 5; Adam goes on, "
        "moving about lr a step).</p>"
        "<p>Every number is computed by AdamLab's core optimizer (the same code the other panels use).</p>"
    )

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.session: StepperSession | None = None
        self.current_line = -1  # index into line_keys of the line last run; -1 before a step starts
        self._restoring = False
        self._build_controls()
        self._build_code()
        self._build_results()
        lay = QHBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        left = QVBoxLayout()
        left.setContentsMargins(0, 0, 0, 0)
        left.setSpacing(2)
        left.addWidget(self._controls)
        left.addWidget(self.plot_key)
        left.addWidget(self.view, 1)
        holder = QWidget()
        holder.setLayout(left)
        holder.setFixedWidth(262)  # leaves the table ~560 px in a 1024-px window: its 11 columns fit
        lay.addWidget(holder)
        right = QVBoxLayout()
        right.addWidget(self.code_box)
        right.addWidget(self.steps_table, 1)
        lay.addLayout(right, 1)
        self.timer = QTimer(self)
        self.timer.setObjectName("stepper-run")
        self.timer.timeout.connect(self._tick)
        self.reset()

    # --- building ---
    def _build_controls(self) -> None:
        box = QWidget()
        col = QVBoxLayout(box)
        col.setContentsMargins(0, 0, 0, 0)

        prob = QGroupBox("Problem")
        form = QFormLayout(prob)
        self.problem = QComboBox()
        for k, p in PROBLEMS.items():
            self.problem.addItem(p.label, k)
        self.problem.setToolTip("The loss θ descends, or a fixed gradient sequence (the EMA playground's).")
        form.addRow(self.problem)
        self.theta0 = FloatSlider("θ₀", -10.0, 10.0, 0.0, decimals=2, tooltip="Where θ starts (Reset applies it).")
        form.addRow(self.theta0)
        col.addWidget(prob)

        hyp = QGroupBox("Hyperparameters")
        hl = QVBoxLayout(hyp)
        hl.setSpacing(3)
        d = StepperConfig()
        # the ranges every panel shares (widgets.hyper.KNOBS)
        self.lr = knob_slider("lr", d.lr)
        self.beta1 = knob_slider("beta1", d.beta1)
        self.beta2 = knob_slider("beta2", d.beta2)
        self.eps = knob_slider("eps", d.eps)
        self.wd = knob_slider("weight_decay", d.weight_decay)
        self.adamw = QCheckBox("AdamW (decoupled weight decay)")
        self.adamw.setToolTip("AdamW: θ ← θ(1 − lr·wd) before the update; Adam: wd·θ is added to g instead.")
        for w in (self.lr, self.beta1, self.beta2, self.eps, self.wd, self.adamw):
            hl.addWidget(w)
        self.error = QLabel("")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #D55E00;")
        self.error.setVisible(False)
        hl.addWidget(self.error)
        col.addWidget(hyp)

        run = QGroupBox("Step")
        rl = QVBoxLayout(run)
        row1 = QHBoxLayout()
        self.next_line_button = QPushButton("Next line")
        self.next_line_button.setToolTip("Run the highlighted line of the update and show its numbers (N).")
        self.next_line_button.setShortcut("N")
        self.next_step_button = QPushButton("Next step")
        self.next_step_button.setToolTip("Finish this step (or run a whole new one) (S).")
        self.next_step_button.setShortcut("S")
        row1.addWidget(self.next_line_button)
        row1.addWidget(self.next_step_button)
        row2 = QHBoxLayout()
        self.run_button = QPushButton("Run")
        self.run_button.setCheckable(True)
        self.run_button.setToolTip("Run or pause: keep stepping at the chosen speed (Space).")
        self.run_button.setShortcut("Space")
        self.reset_button = QPushButton("Reset")
        self.reset_button.setToolTip("θ back to θ₀, m = v = 0, t = 0 (R).")
        self.reset_button.setShortcut("R")
        row2.addWidget(self.run_button)
        row2.addWidget(self.reset_button)
        rl.addLayout(row1)
        rl.addLayout(row2)
        self.speed = FloatSlider("speed", 0.2, 50.0, 2.0, scale="log", decimals=1, suffix=" steps/s",
                                 tooltip="Steps per second while running; at 2 steps/s or less each line is shown.")
        rl.addWidget(self.speed)
        self.status = QLabel("")
        self.status.setTextFormat(Qt.TextFormat.RichText)
        self.status.setWordWrap(True)
        self.status.setMinimumWidth(10)
        rl.addWidget(self.status)
        col.addWidget(run)
        self._controls = box

        self.problem.currentIndexChanged.connect(self._on_reset_knob)
        self.theta0.valueChanged.connect(self._on_reset_knob)
        self.adamw.toggled.connect(self._on_reset_knob)
        for s in (self.lr, self.beta1, self.beta2, self.eps, self.wd):
            s.valueChanged.connect(self._on_live_knob)
        for s in (self.theta0, self.lr, self.beta1, self.beta2, self.eps, self.wd, self.speed):
            s.clamped.connect(self.statusMessage)  # a typed value out of range: say which limit it became
        self.next_line_button.clicked.connect(self.next_line)
        self.next_step_button.clicked.connect(self.next_step)
        self.run_button.toggled.connect(self._on_run)
        self.reset_button.clicked.connect(self.reset)
        self.speed.valueChanged.connect(self._on_speed)

    def _build_code(self) -> None:
        self.code_box = QGroupBox("Adam's update, one line at a time")
        lay = QVBoxLayout(self.code_box)
        # Code in a monospaced font, maths in the proportional one, both larger than the UI font so they read
        # when projected; side by side when there is room, the maths under its code when there is not.
        self.mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.mono.setPointSizeF(11)
        self.sans = QFont(self.font())
        self.sans.setPointSizeF(11.5)
        self.code_lines = CodeLines(self.mono, self.sans)
        lay.addWidget(self.code_lines)
        self.step_label = QLabel()
        self.step_label.setWordWrap(True)
        lay.addWidget(self.step_label)

    def _build_results(self) -> None:
        self.steps_table = QTableWidget(0, len(COLUMNS))
        self.steps_table.setHorizontalHeaderLabels([name.replace(" ", "\n") for name, _ in COLUMNS])
        self.steps_table.verticalHeader().setVisible(False)
        self.steps_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.steps_table.setAlternatingRowColors(True)
        self.steps_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # see _fit_columns
        self.steps_table.setWordWrap(False)
        self.steps_table.viewport().installEventFilter(self)  # refit the columns when the table is resized
        self.steps_table.setToolTip("Every step's numbers, from the core optimizer (θ and loss after the step); "
                                    "ratio = m_hat / (√v_hat + ε), the step is −lr × ratio. Hover a cell for "
                                    "its full value.")
        # until the first step is finished the table is an empty block: say what will fill it
        self.table_hint = QLabel("Each finished step adds a row here: the gradient g, Adam's m and v, their "
                                 "bias-corrected m_hat and v_hat, the ratio m_hat / (√v_hat + ε), and θ and the "
                                 "loss after the step, for Adam and for plain SGD side by side.")
        self.table_hint.setWordWrap(True)
        self.table_hint.setMinimumWidth(320)  # (a word-wrapped label in a layout otherwise shrinks to a column)
        self.table_hint.setMaximumWidth(460)
        self.table_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.table_hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        QVBoxLayout(self.steps_table.viewport()).addWidget(self.table_hint, 0, Qt.AlignmentFlag.AlignCenter)
        model = self.steps_table.model()
        model.rowsInserted.connect(self._sync_table_hint)
        model.rowsRemoved.connect(self._sync_table_hint)

        self.view = pg.GraphicsLayoutWidget()
        self.view.ci.setSpacing(10)  # the θ plot's bottom apart from the loss plot's top tick
        c = theme.COLORS
        # The key for both plots sits above them and their names on their y axes: in plots this small a legend
        # box always sat on some curve, and titles took a third of their height.
        self.plot_key = QLabel()
        self.plot_key.setTextFormat(Qt.TextFormat.RichText)
        self.plot_key.setWordWrap(True)
        self.plot_key.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.plot_theta = self.view.addPlot(row=0, col=0, axisItems={"left": CompactAxis("left")})
        style_plot(self.plot_theta, left="θ", legend=False)
        self.plot_loss = self.view.addPlot(row=1, col=0, axisItems={"left": CompactAxis("left")})
        style_plot(self.plot_loss, left="L(θ)", bottom="step t", legend=False)
        self.plot_loss.setXLink(self.plot_theta)
        for plot in (self.plot_theta, self.plot_loss):
            plot.getAxis("left").setWidth(44)
        self.target_line = pg.InfiniteLine(TARGET, angle=0, pen=pen(c["sgd"], 1, Qt.PenStyle.DotLine))
        self.plot_theta.addItem(self.target_line, ignoreBounds=True)
        self.curves = {
            "theta": fast_curve(self.plot_theta, c["ema"], width=2),
            "sgd_theta": fast_curve(self.plot_theta, c["sgd"], width=2),
            "loss": fast_curve(self.plot_loss, c["ema"], width=2),
            "sgd_loss": fast_curve(self.plot_loss, c["sgd"], width=2),
        }
        # A diverged run's path is drawn by these instead, which the autoscale ignores: the plots keep the scale
        # of the run that converges (SGD at lr 10 reaches 7e6 while Adam moves between 0 and 4), and the
        # diverged line leaves the view towards where it went.
        self.wild_curves = {}
        for name, plot in (("sgd_theta", self.plot_theta), ("sgd_loss", self.plot_loss),
                           ("theta", self.plot_theta), ("loss", self.plot_loss)):
            color = c["sgd"] if name.startswith("sgd") else c["ema"]
            item = pg.PlotDataItem([], [], pen=pen(color, 2, Qt.PenStyle.DashLine))
            plot.addItem(item, ignoreBounds=True)
            self.wild_curves[name] = item
        self.view.setMinimumHeight(170)
        self._early_view = False  # the θ plot shows the fixed early range (see _update_plots)

    # --- config ---
    def config(self) -> StepperConfig:
        return StepperConfig(problem=self.problem.currentData(), theta0=self.theta0.value(), lr=self.lr.value(),
                             beta1=self.beta1.value(), beta2=self.beta2.value(), eps=self.eps.value(),
                             weight_decay=self.wd.value(), adamw=self.adamw.isChecked())

    def _show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))
        if message:
            self.statusMessage.emit(f"Adam stepper: {message}")

    # --- actions ---
    @Slot()
    def reset(self) -> None:
        """A fresh session from the controls: θ = θ₀, m = v = 0, t = 0."""
        self._pause()
        try:
            self.session = StepperSession(self.config())
        except ValueError as exc:
            self.session = None
            self._show_error(str(exc))
        else:
            self._show_error("")
        self.current_line = -1
        self.steps_table.setRowCount(0)
        self._fit_columns()
        self._fill_code()
        self._update_plots()
        self._update_status()

    @Slot()
    def next_line(self) -> None:
        """Run one line: at the start of a step, the core takes the whole step and the lines reveal it."""
        if self.session is None:
            return
        keys = self.keys()
        if self.current_line == -1 or self.current_line == len(keys) - 1:
            if not self._take_step():
                return
            self.current_line = 0
        else:
            self.current_line += 1
        self._fill_code()
        if self.current_line == len(keys) - 1:
            self._step_done()

    @Slot()
    def next_step(self) -> None:
        """Finish the current step, or take a whole new one."""
        if self.session is None:
            return
        last = len(self.keys()) - 1
        if self.current_line == -1 or self.current_line == last:
            if not self._take_step():
                return
        self.current_line = last
        self._fill_code()
        self._step_done()

    def _take_step(self) -> bool:
        why = self.session.finished()
        if why:
            self._pause()
            self.status.setText(why)
            self.statusMessage.emit(f"Adam stepper: {why}")
            return False
        try:
            self.session.step()
        except (ValueError, ArithmeticError) as exc:
            self._pause()
            self._show_error(str(exc))
            return False
        return True

    def _step_done(self) -> None:
        rec = self.session.records[-1]
        self._append_row(rec)
        self._update_plots()
        self._update_status()
        for name, t in self.session.diverged.items():
            if t == rec.t:  # it diverged at this step: say so once, where a person looks
                what = "it stops here; Adam goes on" if name == "SGD" else "press Reset"
                self.statusMessage.emit(f"Adam stepper: {self.session.divergence(name)} with lr = {hp(rec.lr)}: "
                                        f"each step overshot further; {what}.")

    def keys(self) -> list[str]:
        return line_keys(self.session.config.adamw if self.session else self.adamw.isChecked())

    # --- run / pause ---
    @Slot(bool)
    def _on_run(self, on: bool) -> None:
        if on:
            self.run_button.setText("Pause")
            self._on_speed()
            self.timer.start()
        else:
            self.run_button.setText("Run")
            self.timer.stop()

    def _pause(self) -> None:
        if self.run_button.isChecked():
            self.run_button.setChecked(False)  # stops the timer via _on_run

    def _line_mode(self) -> bool:
        return self.speed.value() <= 2.0

    @Slot()
    def _on_speed(self, *_) -> None:
        per_second = self.speed.value() * (len(self.keys()) if self._line_mode() else 1)
        self.timer.setInterval(max(10, int(1000 / per_second)))

    @Slot()
    def _tick(self) -> None:
        if self.session is None or self.session.finished():
            self._take_step()  # shows why, pauses
            return
        if self._line_mode():
            self.next_line()
        else:
            self.next_step()

    # --- knobs ---
    @Slot()
    def _on_reset_knob(self, *_) -> None:
        if not self._restoring:
            self.reset()

    @Slot()
    def _on_live_knob(self, *_) -> None:
        """New hyperparameters apply from the next step on (m, v and t are kept, like changing torch's lr)."""
        if self._restoring or self.session is None:
            if not self._restoring:
                self.reset()
            return
        c = self.config()
        try:
            self.session.set_hyperparameters(c.lr, c.beta1, c.beta2, c.eps, c.weight_decay)
        except ValueError as exc:
            self._show_error(str(exc))
            return
        self._show_error("")
        self._fill_code()  # the code lines show wd only when it is on
        self._update_status()

    # --- drawing ---
    def _fill_code(self) -> None:
        """Code lines with their substituted maths, the line just run highlighted."""
        keys = self.keys() + ["sgd"]
        wd = self.session.config.weight_decay if self.session else self.wd.value()
        adamw = self.session.config.adamw if self.session else self.adamw.isChecked()
        rec = self.session.records[-1] if self.session and self.session.records else None
        source = self.session.config.problem if self.session else ""
        last = len(keys) - 2
        rows = []
        for row, key in enumerate(keys):
            revealed = rec is not None and (row <= self.current_line or (key == "sgd" and self.current_line == last))
            rows.append((code_line(key, adamw, wd), maths_line(key, rec, source) if revealed else "…"))
        highlight = self.current_line if self.current_line >= 0 else None
        self.code_lines.set_rows(rows, highlight, len(keys) - 1, (theme.COLORS["accent"], theme.COLORS["sgd"]))
        self._update_step_label()

    def _update_step_label(self) -> None:
        s = self.session
        if s is None:
            self.step_label.setText("")
            return
        keys = self.keys()
        if not s.records:
            text = "t = 0: press <b>Next line</b> to compute g, then each line of the update."
        else:
            r = s.records[-1]
            where = "step done" if self.current_line == len(keys) - 1 else f"line {self.current_line + 1} of {len(keys)}"
            text = (f"<b>t = {r.t}</b> ({where}) &nbsp; θ: {num(r.theta)} → "
                    f"{num(r.theta_new) if self.current_line == len(keys) - 1 else '…'} &nbsp; "
                    f"bias corrections 1 − β1ᵗ = {num(r.bias_correction1)}, 1 − β2ᵗ = {num(r.bias_correction2)}")
        self.step_label.setText(text)

    @Slot()
    def _sync_table_hint(self) -> None:
        self.table_hint.setVisible(self.steps_table.rowCount() == 0)

    def eventFilter(self, obj, event) -> bool:
        if obj is self.steps_table.viewport() and event.type() == QEvent.Type.Resize:
            self._fit_columns()
        return super().eventFilter(obj, event)

    def _fit_columns(self) -> None:
        """Every column at least as wide as its widest cell (nothing cut to "3.9…"), the spare width shared
        out; when the cells need more than there is, the table scrolls sideways instead."""
        table = self.steps_table
        need = [max(table.sizeHintForColumn(c), table.horizontalHeader().sectionSizeHint(c))
                for c in range(table.columnCount())]
        spare = max(0, table.viewport().width() - sum(need))
        n = len(need) - 1  # the spare goes to the number columns, not to t
        for c, w in enumerate(need):
            table.setColumnWidth(c, w + (spare * c // n - spare * (c - 1) // n if c else 0))

    def _append_row(self, r: StepRecord) -> None:
        table = self.steps_table
        row = table.rowCount()
        table.insertRow(row)
        for col, (_, value) in enumerate(COLUMNS):
            v = value(r)
            text = str(v) if col == 0 else cell(v)
            item = QTableWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, float(v))
            if col and math.isfinite(v):
                item.setToolTip(f"{COLUMNS[col][0]} = {v:.10g}")  # the full value behind a short cell
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(row, col, item)
        self._fit_columns()
        table.scrollToBottom()

    def _update_plots(self) -> None:
        s = self.session
        recs = s.records if s else []
        has_loss = s is not None and s.problem.loss is not None
        theta0 = s.config.theta0 if s else self.theta0.value()
        t = np.arange(len(recs) + 1, dtype=np.float64)  # (T+1,): t = 0 is the start
        theta = np.array([theta0] + [r.theta_new for r in recs])
        sgd = np.array([theta0] + [r.sgd_theta_new for r in recs])
        loss = sgd_loss = None
        if has_loss:
            start = s.loss(theta0)
            loss = np.array([start] + [r.loss_new for r in recs])
            sgd_loss = np.array([start] + [r.sgd_loss_new for r in recs])
        diverged = s.diverged if s else {}
        for name, ys, run in (("theta", theta, "Adam"), ("sgd_theta", sgd, "SGD"), ("loss", loss, "Adam"),
                              ("sgd_loss", sgd_loss, "SGD")):
            if ys is None:
                xs = ys = np.zeros(0)
            else:  # a diverged run's line ends where it diverged, drawn outside the autoscale
                n = diverged.get(run, len(recs)) + 1
                xs, ys = t[:n], ys[:n]
            wild = run in diverged
            self.curves[name].setData(*((np.zeros(0), np.zeros(0)) if wild else (xs, ys)))
            self.wild_curves[name].setData(*((xs, ys) if wild else (np.zeros(0), np.zeros(0))))
        self._update_key()
        self.plot_loss.setVisible(has_loss)
        self.plot_theta.showAxis("bottom", not has_loss)  # the loss plot below carries the shared step axis
        self.target_line.setVisible(has_loss and s.config.problem != "abs")
        self.target_line.setPos(0.0 if s and s.config.problem == "abs" else TARGET)
        if len(recs) < EARLY_STEPS:
            # the first steps: show steps 0..EARLY_STEPS and θ's target rather than zoom into one or two points
            # (pyqtgraph stretched a lone point to ±0.4 and labelled both axes "×0.001")
            runs = [theta if "Adam" not in diverged else [], sgd if "SGD" not in diverged else []]
            ys = np.concatenate([*runs, [self.target_line.value()] if self.target_line.isVisible() else []])
            ys = ys[np.isfinite(ys)]
            lo, hi = (ys.min(), ys.max()) if ys.size else (-1.0, 1.0)
            if hi - lo < 1e-6:
                lo, hi = lo - 1.0, hi + 1.0
            self.plot_theta.setRange(xRange=(0, EARLY_STEPS), yRange=(lo, hi), padding=0.08)
            self._early_view = True
        elif self._early_view:  # once past the first steps: autoscale, and leave a zoom of the user's alone
            self.plot_theta.enableAutoRange()
            self._early_view = False
        markers = len(t) <= 60
        for curve in self.curves.values():
            if markers:
                curve.setSymbol("o")
                curve.setSymbolSize(6)
                curve.setSymbolBrush(curve.opts["pen"].color())
                curve.setSymbolPen(None)
            else:
                curve.setSymbol(None)

    def _update_key(self) -> None:
        c, s = theme.COLORS, self.session
        parts = [f"<span style='color:{c['ema']}'>━ {'AdamW' if s and s.config.adamw else 'Adam'}</span>",
                 f"<span style='color:{c['sgd']}'>━ SGD</span>"]
        for name in s.diverged if s else ():
            parts.append(f"<span style='color:{c['ratio']}'>✕ {name} diverged at t = {s.diverged[name]}</span>")
        if s and s.problem.loss is not None and s.config.problem != "abs":
            parts.append(f"<span style='color:{c['sgd']}'>┈ θ* = {TARGET:g}</span>")
        self.plot_key.setText("&nbsp;&nbsp; ".join(parts))

    def _update_status(self) -> None:
        s = self.session
        if s is None:
            self.status.setText("")
            return
        kind = "AdamW" if s.config.adamw else "Adam"
        extra = f"; sequence of {len(s.sequence)} values" if s.sequence is not None else ""
        diverged = "<br>".join(f"<span style='color:{theme.COLORS['ratio']}'>✕ {s.divergence(n)}"
                               f"{': stopped' if n == 'SGD' else ''}</span>" for n in s.diverged)
        self.status.setText(f"{kind}, t = {s.t}{extra}" + (f"<br>{diverged}" if diverged else ""))

    # --- Panel interface ---
    def plots(self) -> dict[str, pg.PlotItem]:
        return {"theta": self.plot_theta, "loss": self.plot_loss}

    def get_state(self) -> dict[str, Any]:
        c = self.config()
        return {"problem": c.problem, "theta0": c.theta0, "lr": c.lr, "beta1": c.beta1, "beta2": c.beta2,
                "eps": c.eps, "weight_decay": c.weight_decay, "adamw": c.adamw, "speed": self.speed.value()}

    def set_state(self, state: dict[str, Any]) -> None:
        if not isinstance(state, dict):
            return
        self._restoring = True
        try:
            if isinstance(state.get("problem"), str) and state["problem"] in PROBLEMS:
                self.problem.setCurrentIndex(self.problem.findData(state["problem"]))
            sliders = {"theta0": self.theta0, "lr": self.lr, "beta1": self.beta1, "beta2": self.beta2,
                       "eps": self.eps, "weight_decay": self.wd, "speed": self.speed}
            for name, slider in sliders.items():
                v = state.get(name)
                if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                    slider.setValue(float(v))
            if isinstance(state.get("adamw"), bool):
                self.adamw.setChecked(state["adamw"])
        finally:
            self._restoring = False
        self.reset()

    def reset_defaults(self) -> None:
        d = StepperConfig()
        self.set_state({"problem": d.problem, "theta0": d.theta0, "lr": d.lr, "beta1": d.beta1, "beta2": d.beta2,
                        "eps": d.eps, "weight_decay": d.weight_decay, "adamw": d.adamw, "speed": 2.0})

    def is_idle(self) -> bool:
        return not self.timer.isActive()

    def shutdown(self) -> None:
        self.timer.stop()
