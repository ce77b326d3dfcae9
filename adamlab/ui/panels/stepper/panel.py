"""The stepper: one parameter θ, two chosen optimizers A and B on the same gradients, each update one line at a
time with the numbers substituted.

The maths is not here. :class:`~adamlab.ui.panels.stepper.session.StepperSession` (Qt-free) holds the two
core optimizers; each step it calls their ``step`` and :mod:`~adamlab.ui.panels.stepper.programs` writes
each update as lines from the core's own numbers. This panel reveals the lines of the optimizer in focus one
at a time (the other's θ line below them), and keeps a table and two plots of both runs. A step is a handful
of scalar NumPy operations, so it runs on the GUI thread; "run" is a QTimer that calls next line / next step.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QFont, QFontDatabase, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMenu,
    QPushButton,
    QScrollArea,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from adamlab.core import optim
from adamlab.ui import theme
from adamlab.ui.panels.base import Panel
from adamlab.ui.panels.ema.panel import PRESETS
from adamlab.ui.panels.stepper.lines import CodeLines
from adamlab.ui.panels.stepper.programs import STEPPABLE, code_lines, hp, num, program
from adamlab.ui.panels.stepper.session import (
    DIVERGED, MAX_STEPS, NOISE_SIGMA, PROBLEMS, TARGET, RunConfig, StepperConfig, StepperSession, run_labels,
)
from adamlab.ui.widgets.controls import FloatSlider
from adamlab.ui.schema import MISSING, Bool, Choice, Fields, Int, Num, Schema
from adamlab.ui.widgets.hyper import KIND_KNOBS, KNOBS, OptimizerEditor, knob_schema
from adamlab.ui.widgets.stateschema import of
from adamlab.ui.widgets.numbers import format_number
from adamlab.ui.widgets.plots import CompactAxis, fast_curve, pen, set_export_name, style_plot
from adamlab.ui.widgets.symbols import rich_from_plain, tooltip

__all__ = ["StepperPanel", "NOISE_SIGMA", "DIVERGED", "MAX_STEPS", "TARGET"]

PLOTS_FIRST = 140  # px the θ and loss plots get beyond their minimum before the knob box grows past its own
MAX_LINES = 40  # more lines than any optimizer's update has (NAdam's 9)
EARLY_STEPS = 10  # until this many steps, the θ plot shows steps 0..EARLY_STEPS and the target (then autoscales)
NAMES = ("A", "B")
DEFAULT_KINDS = ("adam", "sgd")
DEFAULT_LR = 0.1  # both runs start at lr 0.1: on (θ − 3)² each step of Adam is visible, SGD converges
# The runs' colours: A in the orange Adam has always had here, B in SGD's grey.
# They stay the runs' colours, not their optimizers' (theme.optimizer_color): A and B may be the same kind
# with two settings, and A's orange is Adam's and B's grey SGD's anyway for the default pair.
RUN_COLORS = ("ema", "sgd")
# Tabs, buttons and table headers are narrow: the long labels shortened.
SHORT = {"momentum": "Momentum", "schedulefree_adamw": "SF-AdamW"}


def short_label(kind: str) -> str:
    return SHORT.get(kind, optim.optimizer_label(kind))


def run_color(i: int) -> str:
    return theme.COLORS[RUN_COLORS[i]]


def stepper_values(kind: str, lr: float = DEFAULT_LR) -> dict[str, Any]:
    """A kind's knobs as the stepper starts them: torch's (or the authors') defaults, with the stepper's lr."""
    return {**KIND_KNOBS[kind], "lr": lr}


def cell(x: float) -> str:
    """A table cell: three figures in at most 7 characters ("-0.0123", "36.1", "-1.2e-5"), so a table of 11
    columns fits a 1024-px window without being cut to "3.946e…"; the cell's tooltip has the full value."""
    return format_number(x, fixed=(1e-2, 1e3), fixed_fmt=".3g", sci_fmt=".1e", short_exponent=True, missing="—")


class _KnobScroll(QScrollArea):
    """The knobs' scroll area: at least ``least`` px (five of Adam's knobs), growing to all of its knobs up to
    ``room`` px — what the stepper's plots can spare (``StepperPanel._share_column``) — then scrolling."""

    room = 10_000

    def sizeHint(self) -> QSize:
        return QSize(super().sizeHint().width(), self.maximumHeight())

    def need(self) -> int:
        inner = self.widget()
        return self.minimumHeight() if inner is None else inner.sizeHint().height() + 2 * self.frameWidth()

    def fit(self, least: int | None = None) -> None:
        if least is not None:
            self.setMinimumHeight(least)
        height = max(self.minimumHeight(), min(self.need(), self.room))
        if height != self.maximumHeight():
            self.setMaximumHeight(height)
            self.updateGeometry()


class _WholeScrollArea(QScrollArea):
    """A scroll area that asks for its whole content's height (Qt's caps it at 24 lines of text), so it
    scrolls only when the layout cannot give it that."""

    def sizeHint(self) -> QSize:
        w, hint = self.widget(), super().sizeHint()
        if w is None:
            return hint
        width = self.viewport().width()
        height = w.heightForWidth(width) if w.hasHeightForWidth() else w.sizeHint().height()
        return QSize(hint.width(), max(height, w.sizeHint().height()) + 2 * self.frameWidth())


# --- one optimizer's controls -------------------------------------------------------------------------------


class Side(QWidget):
    """Run A's or B's controls: the optimizer kind, its knobs (the shared ``OptimizerEditor``) and β presets."""

    changed = Signal()  # a knob moved: applies from the next step on
    kind_changed = Signal()  # another optimizer: the runs start again
    clamped = Signal(str)

    def __init__(self, name: str, kind: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.name = name
        self.combo = QComboBox()
        for k in STEPPABLE:
            self.combo.addItem(optim.optimizer_label(k), k)
            self.combo.setItemData(self.combo.count() - 1, rich_from_plain(optim.OPTIMIZERS[k].description),
                                   Qt.ItemDataRole.ToolTipRole)  # (rich text: a long tooltip wraps)
        self.combo.setToolTip(f"The optimizer of run {name}. Muon is not offered: it orthogonalises matrices, "
                              "and on a single number it would be just normalised momentum.")
        self.presets = QToolButton()
        self.presets.setText("β")
        self.presets.setToolTip("β presets, as in the EMA playground: "
                                + "; ".join(PRESETS) + f". They set run {name}'s β1 and β2.")
        self.presets.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.presets)
        self.preset_actions: dict[str, QAction] = {}
        for label, (b1, b2) in PRESETS.items():
            action = menu.addAction(label)
            action.triggered.connect(lambda _=False, v=(b1, b2): self.set_betas(*v))
            self.preset_actions[label] = action
        self.presets.setMenu(menu)
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.combo, 1)
        row.addWidget(self.presets)
        # The knobs scroll when the optimizer has more than fit (AdEMAMix has 9), so the panel keeps its size.
        self.scroll = _KnobScroll()
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # at least five knobs, Adam's lr, β1, β2, ε and wd (four and a half in presentation mode, where the
        # panel's whole column must fit a 1024 × 768 projector); all of them where the column has the room
        # (1920 × 1080), the rest scrolling where it has not
        theme.follow(self.scroll, lambda box: box.fit(self._least()))
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 2)
        lay.setSpacing(3)
        lay.addLayout(row)
        lay.addWidget(self.scroll)
        self.editor: OptimizerEditor | None = None
        self.set_kind(kind)
        self.combo.currentIndexChanged.connect(self._on_combo)

    @staticmethod
    def _least() -> int:
        return 140 if theme.presentation() else 126

    def kind(self) -> str:
        return self.combo.currentData()

    def set_kind(self, kind: str, values: dict[str, Any] | None = None) -> None:
        """Show ``kind``'s knobs, set to ``values`` (editor names) or the stepper's defaults for it."""
        self.combo.blockSignals(True)
        self.combo.setCurrentIndex(self.combo.findData(kind))
        self.combo.blockSignals(False)
        self.editor = OptimizerEditor(kind, stepper_values(kind))
        if values:
            self.editor.set_values(values)
        self.editor.changed.connect(self.changed)
        self.editor.clamped.connect(self.clamped)
        self.scroll.setWidget(self.editor)  # (the old editor is deleted with it)
        self.scroll.fit(self._least())
        self.presets.setEnabled("beta1" in self.editor.controls and "beta2" in self.editor.controls)

    @Slot()
    def _on_combo(self, *_) -> None:
        lr = self.editor.values().get("lr", DEFAULT_LR)  # the lr carries over: compare kinds at the same lr
        self.set_kind(self.kind(), {"lr": lr})
        self.kind_changed.emit()

    def set_betas(self, beta1: float, beta2: float) -> None:
        self.editor.set_values({"beta1": beta1, "beta2": beta2})

    def values(self) -> dict[str, Any]:
        return self.editor.values()

    def config(self) -> RunConfig:
        return RunConfig(self.kind(), self.editor.hyper())


# --- the panel ---------------------------------------------------------------------------------------------


class StepperPanel(Panel):
    key = "stepper"
    title = "Adam stepper"
    hint = ("Step through an optimizer's update for one parameter θ, one line at a time, beside another on the "
            "same gradients.")
    help_html = tooltip(
        "<b>Adam stepper</b><p>One parameter θ, one gradient g per step, and two optimizers, A and B (Adam and "
        "SGD to start with; any of AdamLab's, but Muon), stepping on the same gradients. <b>Next line</b> runs "
        "one line of the update of the one in focus and shows it with the numbers substituted; the other's "
        "θ line is shown below it when the step is done. Adam's lines:</p>"
        "<p>m ← β1·m + (1−β1)·g; &nbsp; v ← β2·v + (1−β2)·g²; &nbsp; m̂ = m/(1−β1ᵗ); "
        "&nbsp; v̂ = v/(1−β2ᵗ); &nbsp; θ ← θ − lr·m̂/(√v̂ + ε).</p>"
        "<p>Watch the first step: m̂ = g and v̂ = g² exactly, so θ moves by lr·g/|g| = ±lr whatever the size "
        "of g. SGD (θ ← θ − lr·g) moves by lr·g instead: huge or tiny depending on g. Lion moves by exactly ±lr "
        "at every step; RAdam takes plain momentum steps until ρ_t passes 5 (step 6 with β2 = 0.999); NAdam "
        "mixes g with the momentum looked one step ahead; AdEMAMix adds a very slow second momentum.</p>"
        "<p>With AdamW (and NAdam, RAdam with decoupled weight decay, Lion, Adafactor), the decay "
        "θ ← θ(1 − lr·wd) happens first and is not divided by √v̂; with Adam, weight decay is added to g and "
        "so gets normalised like the gradient.</p>"
        "<p>Too large an lr makes a run diverge: once |θ| passes 10⁶ it stops there and the panel says so "
        "(SGD at lr 10 on (θ − 3)² multiplies its error by −19 a step and stops at step 5; Adam goes on, "
        "moving about lr a step).</p>"
        "<p>Every number is computed by AdamLab's core optimizers (the same code the other panels use); the "
        "lines recompute what the core does not keep in the core's own order, to the last bit.</p>")

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.session: StepperSession | None = None
        self.focus = 0  # the run whose lines are shown: 0 = A, 1 = B
        self.current_line = -1  # index of the focused run's line last shown; -1 before the first step
        self.shown = 0  # steps whose rows and plot points are shown (the last one is shown once its lines are)
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
        self._column = holder
        holder.installEventFilter(self)  # its height is shared between the knob box and the plots
        theme.sized(holder, setFixedWidth=262)  # leaves the table ~560 px in a 1024-px window: 11 columns fit
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

        # A and B, one tab each: the optimizer, its knobs and β presets. The tabs carry the runs' colours.
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.sides = [Side(name, kind) for name, kind in zip(NAMES, DEFAULT_KINDS)]
        for side in self.sides:
            self.tabs.addTab(side, "")
        self.tabs.setToolTip("Run A and run B: the two optimizers stepping on the same gradients. "
                             "A new optimizer starts both runs again; a knob applies from the next step on.")
        col.addWidget(self.tabs)
        self.tabs.currentChanged.connect(lambda _: self._share_column() if hasattr(self, "view") else None)
        self.error = QLabel("")
        self.error.setWordWrap(True)
        self.error.setStyleSheet("color: #D55E00;")
        self.error.setVisible(False)
        col.addWidget(self.error)

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
        self.reset_button.setToolTip("θ back to θ₀ for both runs, their state to zero, t = 0 (R).")
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
        for i, side in enumerate(self.sides):
            side.kind_changed.connect(self._on_reset_knob)
            side.changed.connect(lambda i=i: self._on_live_knob(i))
            side.clamped.connect(self.statusMessage)  # a typed value out of range: say which limit it became
        for s in (self.theta0, self.speed):
            s.clamped.connect(self.statusMessage)
        self.next_line_button.clicked.connect(self.next_line)
        self.next_step_button.clicked.connect(self.next_step)
        self.run_button.toggled.connect(self._on_run)
        self.reset_button.clicked.connect(self.reset)
        self.speed.valueChanged.connect(self._on_speed)

    def _build_code(self) -> None:
        self.code_box = QGroupBox()
        lay = QVBoxLayout(self.code_box)
        head = QHBoxLayout()
        self.code_title = QLabel()
        self.code_title.setTextFormat(Qt.TextFormat.PlainText)
        self.code_title.setWordWrap(True)  # a long name ("Schedule-free AdamW's update, …") wraps, never widens
        head.addWidget(self.code_title, 1)
        # Which run's lines are shown: the other's θ line stays below them.
        self.focus_group = QButtonGroup(self)
        self.focus_buttons = []
        for i, name in enumerate(NAMES):
            b = QPushButton()
            b.setCheckable(True)
            b.setToolTip(f"Show run {name}'s update line by line (the other run's θ line stays below it).")
            self.focus_group.addButton(b, i)
            self.focus_buttons.append(b)
            head.addWidget(b)
        self.focus_buttons[0].setChecked(True)
        self.focus_group.idClicked.connect(self.set_focus)
        lay.addLayout(head)
        # Code in a monospaced font, maths in the proportional one, both larger than the UI font so they read
        # when projected; side by side when there is room, the maths under its code when there is not.
        # (11 and 11.5 pt in the normal mode; presentation mode scales them with the rest of the text)
        mono, sans = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont), QFont(self.font())
        self.mono, self.sans = theme.scaled_font(mono, 11), theme.scaled_font(sans, 11.5)
        self.code_lines = CodeLines(self.mono, self.sans)
        theme.follow(self.code_lines, lambda lines, mono=mono, sans=sans: lines.set_fonts(
            theme.scaled_font(mono, 11), theme.scaled_font(sans, 11.5)))
        # The lines scroll only when a long update (NAdam's 9 lines) would squeeze the table below a few rows;
        # the line just run is scrolled into view.
        self.code_scroll = _WholeScrollArea()
        self.code_scroll.setWidget(self.code_lines)
        self.code_scroll.setWidgetResizable(True)
        self.code_scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.code_scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        theme.sized(self.code_scroll, setMinimumHeight=120)
        lay.addWidget(self.code_scroll)
        self.step_label = QLabel()
        self.step_label.setWordWrap(True)
        lay.addWidget(self.step_label)

    def _build_results(self) -> None:
        self.steps_table = QTableWidget(0, 0)
        self.steps_table.setMinimumHeight(150)  # the header and a few rows, however long the update
        self.steps_table.verticalHeader().setVisible(False)
        self.steps_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.steps_table.setAlternatingRowColors(True)
        self.steps_table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)  # see _fit_columns
        self.steps_table.setWordWrap(False)
        self.steps_table.viewport().installEventFilter(self)  # refit the columns when the table is resized
        theme.follow(self, lambda panel: panel._fit_columns())  # and in presentation mode's font
        self.steps_table.setToolTip("Every step's numbers, from the core optimizers: the gradient and the state "
                                    "of the run whose lines are shown, and θ and the loss after the step for "
                                    "both runs. Hover a cell for its full value.")
        # until the first step is finished the table is an empty block: say what will fill it
        self.table_hint = QLabel("Each finished step adds a row here: the gradient g and the state of the run "
                                 "whose lines are shown (Adam's m, v, m_hat, v_hat and the ratio "
                                 "m_hat / (√v_hat + ε)), and θ and the loss after the step for both runs.")
        self.table_hint.setWordWrap(True)
        # (a word-wrapped label in a layout otherwise shrinks to a column)
        theme.sized(self.table_hint, setMinimumWidth=320, setMaximumWidth=460)
        self.table_hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.table_hint.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        QVBoxLayout(self.steps_table.viewport()).addWidget(self.table_hint, 0, Qt.AlignmentFlag.AlignCenter)
        # A table scrolled to its last row stays there when it is resized (the code box above grows and shrinks
        # as lines are revealed); one scrolled up by the user stays where it is.
        bar = self.steps_table.verticalScrollBar()
        self._table_at_end = True
        bar.valueChanged.connect(lambda v: setattr(self, "_table_at_end", v >= bar.maximum()))
        bar.rangeChanged.connect(lambda _lo, hi: bar.setValue(hi) if self._table_at_end else None)
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
            theme.sized(plot.getAxis("left"), setWidth=44)
        self.target_line = pg.InfiniteLine(TARGET, angle=0, pen=pen(c["sgd"], 1, Qt.PenStyle.DotLine))
        self.plot_theta.addItem(self.target_line, ignoreBounds=True)
        # B first, so A (the run in focus to start with) is drawn on top where they overlap.
        self.curves: dict[str, pg.PlotDataItem] = {}
        for i in (1, 0):
            for what, plot in (("theta", self.plot_theta), ("loss", self.plot_loss)):
                self.curves[f"{what}_{NAMES[i]}"] = set_export_name(
                    fast_curve(plot, run_color(i), width=2), f"{what} {NAMES[i]}")
        # A diverged run's path is drawn by these instead, which the autoscale ignores: the plots keep the scale
        # of the run that converges (SGD at lr 10 reaches 7e6 while Adam moves between 0 and 4), and the
        # diverged line leaves the view towards where it went.
        self.wild_curves: dict[str, pg.PlotDataItem] = {}
        for name in self.curves:
            plot = self.plot_theta if name.startswith("theta") else self.plot_loss
            item = pg.PlotDataItem([], [], pen=pen(run_color(NAMES.index(name[-1])), 2, Qt.PenStyle.DashLine))
            plot.addItem(item, ignoreBounds=True)
            self.wild_curves[name] = item
        # (a little lower in presentation mode, where the controls above it have grown with their text)
        theme.follow(self.view, lambda view: view.setMinimumHeight(150 if theme.presentation() else 170))
        self._early_view = False  # the θ plot shows the fixed early range (see _update_plots)

    # --- config ---
    def config(self) -> StepperConfig:
        return StepperConfig(problem=self.problem.currentData(), theta0=self.theta0.value(),
                             runs=(self.sides[0].config(), self.sides[1].config()))

    def _show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))
        if message:
            self.statusMessage.emit(f"Stepper: {message}")

    def _labels(self) -> tuple[str, str]:
        if self.session is not None:
            return self.session.runs[0].label, self.session.runs[1].label
        return run_labels((self.sides[0].kind(), self.sides[1].kind()))

    def _short(self, i: int) -> str:
        """Run i's name in a table header: the label (shortened), told apart by A/B when both are one kind."""
        kinds = [s.kind() for s in self.sides]
        return short_label(kinds[i]) if kinds[0] != kinds[1] else f"{short_label(kinds[i])} {NAMES[i]}"

    def _update_names(self) -> None:
        """Tabs, focus buttons and the code box's title name the runs' optimizers, with their colours."""
        for i, side in enumerate(self.sides):
            icon, name = theme.swatch(run_color(i)), f"{NAMES[i]}: {short_label(side.kind())}"
            self.tabs.setTabText(i, name)
            self.tabs.setTabIcon(i, icon)
            self.tabs.setTabToolTip(i, f"Run {NAMES[i]}: {optim.optimizer_label(side.kind())}")
            self.focus_buttons[i].setText(name)
            self.focus_buttons[i].setIcon(icon)
            font = self.focus_buttons[i].font()
            font.setBold(i == self.focus)  # (a checked button is hard to tell from the other in the dark theme)
            self.focus_buttons[i].setFont(font)
        self.code_title.setText(f"{self._labels()[self.focus]}'s update, one line at a time")

    # --- actions ---
    @Slot()
    def reset(self) -> None:
        """A fresh session from the controls: θ = θ₀, zero state, t = 0, for both runs."""
        self._pause()
        try:
            self.session = StepperSession(self.config())
        except ValueError as exc:
            self.session = None
            self._show_error(str(exc))
        else:
            self._show_error("")
        self.current_line = -1
        self.shown = 0
        self._update_names()
        self._rebuild_table()
        self._fill_code()
        self._update_plots()
        self._update_status()

    @Slot(int)
    def set_focus(self, i: int) -> None:
        """Show run i's lines (0 = A, 1 = B): the same step, revealed as far as it was for the other run."""
        if i == self.focus:
            return
        self.focus = i
        self.focus_buttons[i].setChecked(True)
        if self.session is not None and self.session.t > 0:
            last = len(self._rows_of(self.session.runs[i])) - 1
            if self.shown == self.session.t:
                self.current_line = last  # a finished step stays finished
            else:
                self.current_line = min(self.current_line, last)
                if self.current_line == last:
                    self._step_done()
        self._update_names()
        self._rebuild_table()
        self._fill_code()

    @Slot()
    def next_line(self) -> None:
        """Run one line: at the start of a step, the core takes the whole step and the lines reveal it."""
        if self.session is None:
            return
        if self.session.t == 0 or self.shown == self.session.t:
            if not self._take_step():
                return
            self.current_line = 0
        else:
            self.current_line += 1
        run = self.session.runs[self.focus]
        last = len(self._rows_of(run)) - 1
        if self.current_line >= last or run.last() is None:  # (a stopped run has no lines to step through)
            self.current_line = last
            self._step_done()
        self._fill_code()

    @Slot()
    def next_step(self) -> None:
        """Finish the current step, or take a whole new one."""
        if self.session is None:
            return
        if self.session.t == 0 or self.shown == self.session.t:
            if not self._take_step():
                return
        self.current_line = len(self._rows_of(self.session.runs[self.focus])) - 1
        self._step_done()
        self._fill_code()

    def _take_step(self) -> bool:
        why = self.session.finished()
        if why:
            self._pause()
            self.status.setText(why)
            self.statusMessage.emit(f"Stepper: {why}")
            return False
        try:
            self.session.step()
        except (ValueError, ArithmeticError) as exc:
            self._pause()
            self._show_error(str(exc))
            return False
        return True

    def _step_done(self) -> None:
        """The step's lines are all shown: its table row and plot points too, and what diverged is said."""
        s = self.session
        for t in range(self.shown + 1, s.t + 1):
            self._append_row(t)
        self.shown = s.t
        self._update_plots()
        self._update_status()
        for i, run in enumerate(s.runs):
            if run.diverged_at == s.t:  # it diverged at this step: say so once, where a person looks
                other = s.runs[1 - i]
                what = (f"it stops here; {other.label} goes on" if other.diverged_at is None
                        else "both have stopped: press Reset")
                self.statusMessage.emit(f"Stepper: {s.divergence(i)} with lr = {hp(run.opt.lr)}: each step "
                                        f"overshot further; {what}.")

    def _rows_of(self, run) -> list[tuple[str, str]]:
        """(code, maths) of ``run``'s lines for the step shown: the last step taken, or the next one's code
        before the first; a stopped run's code with a note."""
        step = run.last()
        if step is not None:
            return [(line.code, line.maths) for line in step.lines]
        rows = [(spec.code, "…") for spec in code_lines(run.opt)]
        if run.diverged_at is not None:
            rows[0] = (rows[0][0], f"stopped: {run.label} diverged at step {run.diverged_at} (see the θ plot)")
        return rows

    def theta_line(self, run) -> tuple[str, str]:
        """``run``'s θ line (code, maths) for the other run's summary row."""
        step = run.last()
        if step is None:
            spec = next(s for s in code_lines(run.opt) if s.key == "theta")
            maths = "…" if run.diverged_at is None else f"stopped: {run.label} diverged (see the θ plot)"
            return spec.code, maths
        line = next(line for line in step.lines if line.key == "theta")
        return line.code, line.maths

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
        lines = len(self._rows_of(self.session.runs[self.focus])) if self.session else 6
        per_second = self.speed.value() * (lines if self._line_mode() else 1)
        self.timer.setInterval(max(10, int(1000 / per_second)))

    @Slot()
    def _tick(self) -> None:
        if self.session is None:  # (invalid hyperparameters: the error is shown)
            self._pause()
            return
        if self.session.finished():
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

    def _on_live_knob(self, i: int) -> None:
        """New hyperparameters apply from run i's next step on (its state and t are kept, like changing
        torch's lr)."""
        if self._restoring:
            return
        if self.session is None:
            self.reset()
            return
        try:
            self.session.set_hyperparameters(i, self.sides[i].config().hyper)
        except ValueError as exc:
            self._show_error(f"{NAMES[i]}: {exc}")
            return
        self._show_error("")
        if [c[0] for c in self.columns()] != [c[0] for c in self._cols]:  # (μ to or from 0: SGD's buffer)
            self._rebuild_table()
        self._fill_code()  # the code of the next step can change (wd on or off)
        self._update_status()

    # --- drawing ---
    def _fill_code(self) -> None:
        """The focused run's lines with their numbers (the line just run highlighted), and below them the
        other run's θ line once the step is done."""
        s = self.session
        if s is None:
            self.code_lines.set_rows([], None, None, (theme.COLORS["accent"], theme.COLORS["sgd"]))
            self._update_step_label()
            return
        run, other = s.runs[self.focus], s.runs[1 - self.focus]
        done = s.t > 0 and self.shown == s.t
        rows = [(code, maths if s.t > 0 and (run.last() is None or row <= self.current_line) else "…")
                for row, (code, maths) in enumerate(self._rows_of(run))]
        code, maths = self.theta_line(other)
        rows.append((f"{NAMES[1 - self.focus]}:  {code}", maths if done or other.last() is None else "…"))
        highlight = self.current_line if s.t > 0 and run.last() is not None else None
        self.code_lines.set_rows(rows, highlight, len(rows) - 1, (theme.COLORS["accent"], theme.COLORS["sgd"]))
        self.code_scroll.updateGeometry()  # its size hint is the lines' whole height
        if highlight is not None:  # the line just run in view, and the other run's θ line once the step is done
            self.code_lines.layout().activate()
            self.code_scroll.ensureWidgetVisible(self.code_lines.row_widget(len(rows) - 1 if done else highlight),
                                                 0, 4)
        self._update_step_label()

    def _update_step_label(self) -> None:
        s = self.session
        if s is None:
            self.step_label.setText("")
            return
        run = s.runs[self.focus]
        step = run.last()
        if s.t == 0:
            text = "t = 0: press <b>Next line</b> to compute g, then each line of the update."
        elif step is None:
            text = f"<b>t = {s.t}</b> &nbsp; {s.divergence(self.focus)}: it stopped there"
        else:
            n = len(step.lines)
            done = self.current_line == n - 1
            where = "step done" if done else f"line {self.current_line + 1} of {n}"
            text = (f"<b>t = {step.t}</b> ({where}) &nbsp; θ: {num(step.theta)} → "
                    f"{num(step.theta_new) if done else '…'}" + (f" &nbsp; {step.note}" if step.note else ""))
        self.step_label.setText(text)

    @Slot()
    def _sync_table_hint(self) -> None:
        self.table_hint.setVisible(self.steps_table.rowCount() == 0)

    def eventFilter(self, obj, event) -> bool:
        if obj is self.steps_table.viewport() and event.type() == QEvent.Type.Resize:
            self._fit_columns()
        elif obj is getattr(self, "_column", None) and event.type() == QEvent.Type.Resize:
            self._share_column()
        return super().eventFilter(obj, event)

    def _share_column(self) -> None:
        """The left column's height between the knob box and the plots under it: the plots get PLOTS_FIRST px
        beyond their minimum, then the shown tab's box grows to show all of its knobs (AdEMAMix's nine at
        1920 × 1080) with what is left; the hidden tab's box stays at its minimum (the tabs take the taller
        page's height). Computed from the column's height and the other controls' size hints, never from the
        current split, so applying it changes nothing the next pass reads (no resize loop)."""
        shown = self.sides[self.tabs.currentIndex()].scroll
        left = self._column.layout()
        others = (self._controls.sizeHint().height() - shown.maximumHeight() + self.plot_key.height()
                  + 2 * left.spacing())
        room = self._column.height() - others - self.view.minimumHeight() - PLOTS_FIRST
        for side in self.sides:
            side.scroll.room = room if side.scroll is shown else 0
            side.scroll.fit()

    def _fit_columns(self) -> None:
        """Every column at least as wide as its widest cell (nothing cut to "3.9…"), the spare width shared
        out; when the cells need more than there is, the table scrolls sideways instead."""
        table = self.steps_table
        if table.columnCount() == 0:
            return
        need = [max(table.sizeHintForColumn(c), table.horizontalHeader().sectionSizeHint(c))
                for c in range(table.columnCount())]
        spare = max(0, table.viewport().width() - sum(need))
        n = max(1, len(need) - 1)  # the spare goes to the number columns, not to t
        for c, w in enumerate(need):
            table.setColumnWidth(c, w + (spare * c // n - spare * (c - 1) // n if c else 0))

    def columns(self) -> list[tuple[str, Any, str]]:
        """The table's columns as (header, value at step t, tooltip): t; the focused run's g and state; θ and
        the loss after the step for A and for B. Each header names its run on its second line."""
        s, f = self.session, self.focus
        labels = self._labels()

        def of(i, fn):
            def value(t):
                step = s.runs[i].steps[t - 1] if s is not None else None
                return math.nan if step is None else fn(step)
            return value

        mine = self._short(f)
        cols = [("t", lambda t: t, "the step"),
                (f"g\n{mine}", of(f, lambda st: st.value("g")),
                 f"{labels[f]}'s gradient: ∇L at its θ (+ wd·θ with L2 weight decay)")]
        hyper = s.runs[f].opt.hyperparameters() if s is not None else self.sides[f].editor.hyper()
        cols += [(f"{c.header}\n{mine}", of(f, lambda st, h=c.header: st.columns.get(h, math.nan)),
                  f"{labels[f]}: {c.tip}") for c in program(self.sides[f].kind()).columns if c.when(hyper)]
        for i in (0, 1):
            cols += [(f"θ\n{self._short(i)}", of(i, lambda st: st.theta_new), f"θ after the step ({labels[i]})"),
                     (f"loss\n{self._short(i)}", of(i, lambda st: st.loss_new), f"L(θ) after the step ({labels[i]})")]
        return cols

    def _rebuild_table(self) -> None:
        """Headers for the focused run's columns, and a row for every step shown."""
        table = self.steps_table
        self._cols = self.columns()
        table.setRowCount(0)
        table.setColumnCount(len(self._cols))
        for c, (header, _, tip) in enumerate(self._cols):
            item = QTableWidgetItem(header)
            item.setToolTip(tooltip(tip))
            table.setHorizontalHeaderItem(c, item)
        for t in range(1, self.shown + 1):
            self._append_row(t, fit=False)
        self._fit_columns()
        table.scrollToBottom()

    def _append_row(self, t: int, fit: bool = True) -> None:
        table = self.steps_table
        row = table.rowCount()
        table.insertRow(row)
        for col, (header, value, _) in enumerate(self._cols):
            v = float(value(t))
            text = str(t) if col == 0 else cell(v)
            item = QTableWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, v)
            if col and math.isfinite(v):
                item.setToolTip(f"{header.replace(chr(10), ' ')} = {v:.10g}")  # the full value behind a short cell
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(row, col, item)
        if fit:
            self._fit_columns()
            table.scrollToBottom()

    def _update_plots(self) -> None:
        s = self.session
        has_loss = s is not None and s.problem.loss is not None
        theta0 = s.config.theta0 if s else self.theta0.value()
        n = self.shown
        t = np.arange(n + 1, dtype=np.float64)  # (T+1,): t = 0 is the start
        series = {}
        for i, name in enumerate(NAMES):
            steps = s.runs[i].steps[:n] if s else []
            theta = np.array([theta0] + [st.theta_new if st else math.nan for st in steps])
            series[f"theta_{name}"] = theta
            series[f"loss_{name}"] = (np.array([s.loss(theta0)] + [st.loss_new if st else math.nan for st in steps])
                                      if has_loss else None)
        for key, ys in series.items():
            run = s.runs[NAMES.index(key[-1])] if s else None
            if ys is None:
                xs = ys = np.zeros(0)
            else:  # a diverged run's line ends where it diverged, drawn outside the autoscale
                end = min(run.diverged_at, n) if run and run.diverged_at else n
                xs, ys = t[:end + 1], ys[:end + 1]
            wild = run is not None and run.diverged_at is not None and run.diverged_at <= n
            self.curves[key].setData(*((np.zeros(0), np.zeros(0)) if wild else (xs, ys)))
            self.wild_curves[key].setData(*((xs, ys) if wild else (np.zeros(0), np.zeros(0))))
        self._update_key()
        self.plot_loss.setVisible(has_loss)
        self.plot_theta.showAxis("bottom", not has_loss)  # the loss plot below carries the shared step axis
        self.target_line.setVisible(has_loss and s.config.problem != "abs")
        self.target_line.setPos(0.0 if s and s.config.problem == "abs" else TARGET)
        if n < EARLY_STEPS:
            # the first steps: show steps 0..EARLY_STEPS and θ's target rather than zoom into one or two points
            # (pyqtgraph stretched a lone point to ±0.4 and labelled both axes "×0.001")
            runs = [series[f"theta_{name}"] for i, name in enumerate(NAMES)
                    if not (s and s.runs[i].diverged_at is not None and s.runs[i].diverged_at <= n)]
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
        labels = self._labels()
        parts = [f"<span style='color:{run_color(i)}'>━</span> {NAMES[i]}: {labels[i]}" for i in (0, 1)]
        for i, run in enumerate(s.runs if s else ()):
            if run.diverged_at is not None and run.diverged_at <= self.shown:
                parts.append(f"<span style='color:{c['ratio']}'>✕ {NAMES[i]} diverged at t = {run.diverged_at}"
                             "</span>")
        if s and s.problem.loss is not None and s.config.problem != "abs":
            parts.append(f"<span style='color:{c['sgd']}'>┈ θ* = {TARGET:g}</span>")
        self.plot_key.setText("&nbsp;&nbsp; ".join(parts))

    def _update_status(self) -> None:
        s = self.session
        if s is None:
            self.status.setText("")
            return
        extra = f"; sequence of {len(s.sequence)} values" if s.sequence is not None else ""
        diverged = "<br>".join(f"<span style='color:{theme.COLORS['ratio']}'>✕ {s.divergence(i)}: stopped</span>"
                               for i, run in enumerate(s.runs)
                               if run.diverged_at is not None and run.diverged_at <= self.shown)
        self.status.setText(f"{s.runs[0].label} vs {s.runs[1].label}, t = {self.shown}{extra}"
                            + (f"<br>{diverged}" if diverged else ""))

    # --- Panel interface ---
    def plots(self) -> dict[str, pg.PlotItem]:
        return {"theta": self.plot_theta, "loss": self.plot_loss}

    # where the runs are (t, the focused run's line) and which run's lines are shown: restored with the rest,
    # but not an undo step of their own (Next step is not an edit)
    UNDO_IGNORES = ("t", "line", "focus")

    def get_state(self) -> dict[str, Any]:
        t = self.session.t if self.session is not None else 0
        return {"problem": self.problem.currentData(), "theta0": self.theta0.value(), "speed": self.speed.value(),
                "focus": NAMES[self.focus],
                **{name: {"kind": side.kind(), **side.values()} for name, side in zip(NAMES, self.sides)},
                "t": t, "line": self.current_line if t > 0 else -1}

    def state_schema(self) -> Fields:
        legacy = {k: Num(*KNOBS[k][1:3]) for k in ("lr", "beta1", "beta2", "eps", "weight_decay")}
        return Fields({"problem": of(self.problem), "theta0": of(self.theta0), "speed": of(self.speed),
                       "focus": Choice(NAMES), "A": _RunSchema(), "B": _RunSchema(),
                       "t": Int(0, MAX_STEPS), "line": Int(-1, MAX_LINES),
                       **legacy, "adamw": Bool()})  # (a state saved before A and B: see _legacy_runs)

    def set_state(self, state: dict[str, Any]) -> None:
        if not isinstance(state, dict):
            return
        self._restoring = True
        try:
            if isinstance(state.get("problem"), str) and state["problem"] in PROBLEMS:
                self.problem.setCurrentIndex(self.problem.findData(state["problem"]))
            for name, slider in (("theta0", self.theta0), ("speed", self.speed)):
                v = state.get(name)
                if _number(v):
                    slider.setValue(float(v))
            if "A" not in state and any(k in state for k in ("lr", "beta1", "adamw")):
                state = {**state, **_legacy_runs(state)}  # a state saved before A and B
            for name, side in zip(NAMES, self.sides):
                run = state.get(name)
                if not isinstance(run, dict) or run.get("kind") not in STEPPABLE:
                    continue
                values = {k: v for k, v in run.items() if k != "kind" and (_number(v) or isinstance(v, bool))}
                side.set_kind(run["kind"], values)
        finally:
            self._restoring = False
        self.set_focus(NAMES.index(state["focus"]) if state.get("focus") in NAMES else 0)
        self.reset()
        t, line = state.get("t"), state.get("line")
        if isinstance(t, int) and not isinstance(t, bool) and t > 0:
            self.go_to(t, line if isinstance(line, int) and not isinstance(line, bool) else -1)

    def go_to(self, t: int, line: int = -1) -> None:
        """From a fresh session, take ``t`` steps and show step t's lines up to ``line`` (-1 or past the last:
        the whole step): where a saved state or a scenario left the runs. The steps are the core's, so the same
        settings give the same numbers."""
        s = self.session
        if s is None:
            return
        while s.t < min(t, MAX_STEPS) and self._take_step():
            pass
        if s.t == 0:
            return
        last = len(self._rows_of(s.runs[self.focus])) - 1
        partial = 0 <= line < last and s.runs[self.focus].last() is not None  # step t shown up to ``line``
        self.shown = s.t - 1 if partial else s.t
        self.current_line = line if partial else last
        self._rebuild_table()  # all rows, columns fitted once (a row at a time refits each: 44 s for 1000 steps)
        self._update_plots()
        self._update_status()
        self._fill_code()

    def reset_defaults(self) -> None:
        self.set_state({"problem": "quadratic", "theta0": 0.0, "speed": 2.0, "focus": "A",
                        **{name: {"kind": kind, **stepper_values(kind)} for name, kind in zip(NAMES, DEFAULT_KINDS)}})

    def animations(self) -> dict:
        from adamlab.ui.panels.stepper import animate

        return animate.animations(self)

    def is_idle(self) -> bool:
        return not self.timer.isActive()

    def shutdown(self) -> None:
        self.timer.stop()


class _RunSchema(Schema):
    """Run A's or B's saved settings {kind, knobs…}: a kind the stepper offers and that kind's knobs."""

    def check(self, value, path):
        if not isinstance(value, dict):
            return MISSING, [f"{path}: not a set of fields"]
        kind = value.get("kind")
        if kind not in STEPPABLE:
            return MISSING, [f"{path}.kind: {kind!r} is not one of the stepper's optimizers"]
        clean, problems = knob_schema(kind).check({k: v for k, v in value.items() if k != "kind"}, path)
        return (MISSING if clean is MISSING else {"kind": kind, **clean}), problems


def _number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _legacy_runs(state: dict[str, Any]) -> dict[str, Any]:
    """A state from the Adam-and-SGD stepper (lr, beta1, beta2, eps, weight_decay, adamw) as runs A and B."""
    kind = "adamw" if state.get("adamw") is True else "adam"
    a = {k: state[k] for k in ("lr", "beta1", "beta2", "eps", "weight_decay") if _number(state.get(k))}
    b = {k: state[k] for k in ("lr", "weight_decay") if _number(state.get(k))}
    return {"A": {"kind": kind, **a}, "B": {"kind": "sgd", **b}}
