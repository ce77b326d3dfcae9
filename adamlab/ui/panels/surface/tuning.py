"""The arena's Tune tab (``TuneControls``): fair races, where every optimizer runs at its own best lr.

Comparing optimizers at one learning rate only shows whose default suits the problem; the galleries people
cite tune each optimizer first. Here that happens live, on the scene on screen: **Tune** searches each
ticked optimizer's lr on a log grid (and, if asked, one more knob: β1 or μ, β2, weight decay, ε) for the
lowest final f − f* — averaged over several noise sequences when the gradient is noisy — with the scene's
own start, steps, noise and schedule; the editors then take the winners and the race is run with them. The
lr-sensitivity plot beside the map shows how wide each optimizer's good range was.

The tab knows nothing of processes: it builds the plain request (``request(scene)``, see
``race.run_tune``), emits ``tuneRequested`` / ``cancelRequested``, and shows what the panel tells it
(``show_progress``, ``show_report``, ``show_message``). The search itself runs in the race child
(``race.RaceProcess.tune``).
"""

from __future__ import annotations

import math

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from adamlab.ui.panels.surface.charts import knob_name
from adamlab.ui.panels.surface.race import TuneReport, lr_grid
from adamlab.ui.panels.surface.racers import key_html
from adamlab.ui.schema import Choice, Fields, Num, Seq
from adamlab.ui.widgets.controls import IntSpinBox, SciSpinBox
from adamlab.ui.widgets.stateschema import of
from adamlab.ui.widgets.hyper import KNOBS

LR_RANGE = (1e-5, 10.0)  # the default grid: core.tune's, six decades
N_LRS = 25
# what the second knob means for the user: editor name → combo label
SECOND_LABELS = {None: "lr only", "beta1": "+ β1 (μ)", "beta2": "+ β2 (α, ρ)", "weight_decay": "+ weight decay",
                 "eps": "+ ε"}


class TuneControls(QWidget):
    """Grid, second knob, score and seeds; Tune / Cancel, a progress bar, and what the last Tune found."""

    tuneRequested = Signal()
    cancelRequested = Signal()
    clamped = Signal(str)  # a typed value was set to its range's limit: the message

    def __init__(self) -> None:
        super().__init__()
        lo, hi = KNOBS["lr"][1:3]  # the editors' lr range: a tuned lr always fits its editor
        self.lr_lo, self.lr_hi = SciSpinBox(), SciSpinBox()
        for box, value, what in ((self.lr_lo, LR_RANGE[0], "lowest lr"), (self.lr_hi, LR_RANGE[1], "highest lr")):
            box.what = what
            box.setDecimals(8)
            box.setRange(lo, hi)
            box.setStepType(SciSpinBox.StepType.AdaptiveDecimalStepType)
            box.setValue(value)
            box.setKeyboardTracking(False)
            box.setMinimumWidth(64)
            box.clamped.connect(self.clamped)
        self.lr_lo.setToolTip("The smallest learning rate tried")
        self.lr_hi.setToolTip("The largest learning rate tried")
        self.n_lrs = IntSpinBox()
        self.n_lrs.what = "learning rates"
        self.n_lrs.setRange(2, 61)
        self.n_lrs.setValue(N_LRS)
        self.n_lrs.setKeyboardTracking(False)
        self.n_lrs.setToolTip("How many learning rates, evenly spaced on a log scale (25 over six decades: four "
                              "a decade), each rounded to 3 figures so an editor holds it exactly")
        self.n_lrs.clamped.connect(self.clamped)
        self.second_combo = QComboBox()
        for key, label in SECOND_LABELS.items():
            self.second_combo.addItem(label, key)
        self.second_combo.setToolTip("Also search one more knob, every value with every lr: β1 (μ for the SGD momenta "
                                     "and RMSprop) 0.5…0.99, β2 (RMSprop's α, Adadelta's ρ) 0.9…0.9999, weight "
                                     "decay 0…0.1, ε 1e-8…1e-2. Optimizers without that knob tune lr only")
        self.objective_combo = QComboBox()
        self.objective_combo.addItem("final f − f*", "final")
        self.objective_combo.addItem("mean f − f*", "average")
        self.objective_combo.setToolTip("What 'best' means: the loss after the last step, or the mean loss over the "
                                        "run (which also rewards getting there fast)")
        self.seeds = IntSpinBox()
        self.seeds.what = "noise seeds"
        self.seeds.setRange(1, 20)
        self.seeds.setValue(3)
        self.seeds.setKeyboardTracking(False)
        self.seeds.setToolTip("With gradient noise (σ > 0): each setting's score is its mean over this many noise "
                              "sequences (the scene's seed and the next ones), and a setting that diverges on any "
                              "of them is out. Without noise one run decides")
        self.seeds.clamped.connect(self.clamped)
        for c in (self.second_combo, self.objective_combo):
            c.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            c.setMinimumContentsLength(6)

        self.tune_button = QPushButton("Tune")
        self.tune_button.setToolTip("Search each ticked optimizer's lr on this scene, then race them at their best")
        self.tune_button.clicked.connect(self.tuneRequested)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop the search (the editors keep their values)")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancelRequested)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        self.progress.setMaximumHeight(16)
        self.summary = QLabel("")
        self.summary.setObjectName("tuneSummary")
        self.summary.setWordWrap(True)
        self.summary.setMinimumWidth(60)
        self.about = QLabel("A fair race gives each optimizer its own best learning rate, as optimizer benchmarks "
                            "do: at one shared lr you only see whose default suits the problem. Tune searches "
                            "each ticked optimizer's lr on this scene (same start, steps, noise and schedule), "
                            "the editors take the winners, and the race is run with them. The lr-sensitivity "
                            "plot beside the map shows how wide each one's good range is.")
        self.about.setWordWrap(True)
        self.about.setMinimumWidth(60)

        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.setVerticalSpacing(3)
        form.addRow("lr from", _row(self.lr_lo, "to", self.lr_hi))
        form.addRow("values", self.n_lrs)
        form.addRow("search", self.second_combo)
        form.addRow("score", self.objective_combo)
        form.addRow("noise seeds", self.seeds)
        buttons = _row(self.tune_button, self.cancel_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 4, 2, 2)
        lay.setSpacing(4)
        lay.addLayout(form)
        lay.addLayout(buttons)
        lay.addWidget(self.progress)
        lay.addWidget(self.summary)
        lay.addWidget(self.about)
        lay.addStretch(1)

    # ------------------------------------------------------------------------------------------------------

    def request(self, scene: dict) -> dict:
        """The plain tune request for ``scene`` (see ``race.run_tune``)."""
        lo, hi = sorted((self.lr_lo.value(), self.lr_hi.value()))
        if not hi > lo:
            raise ValueError(f"the lr range must span something: from {lo:g} to {hi:g}")
        return {"scene": scene, "lrs": lr_grid(lo, hi, self.n_lrs.value()), "second": self.second_combo.currentData(),
                "seeds": self.seeds.value(), "objective": self.objective_combo.currentData()}

    def state(self) -> dict:
        return {"lr_range": [self.lr_lo.value(), self.lr_hi.value()], "n_lrs": self.n_lrs.value(),
                "second": self.second_combo.currentData() or "", "objective": self.objective_combo.currentData(),
                "seeds": self.seeds.value()}

    def schema(self) -> Fields:
        """What ``state()`` may hold (see adamlab.ui.schema), read off the controls."""
        lr = Num(self.lr_lo.minimum(), self.lr_lo.maximum())
        return Fields({"lr_range": Seq(lr, 2, 2, strict=True), "n_lrs": of(self.n_lrs), "seeds": of(self.seeds),
                       "second": Choice([k or "" for k in SECOND_LABELS]), "objective": of(self.objective_combo)})

    def load(self, state) -> None:
        """Set from ``state`` (see ``state``); missing or invalid entries are ignored."""
        if not isinstance(state, dict):
            return
        rng = state.get("lr_range")
        try:
            lo, hi = (float(v) for v in rng)
            if all(self.lr_lo.minimum() <= v <= self.lr_lo.maximum() for v in (lo, hi)) and lo < hi:
                self.lr_lo.setValue(lo)
                self.lr_hi.setValue(hi)
        except (TypeError, ValueError, OverflowError):
            pass
        for key, box in (("n_lrs", self.n_lrs), ("seeds", self.seeds)):
            v = state.get(key)
            if isinstance(v, int) and not isinstance(v, bool) and box.minimum() <= v <= box.maximum():
                box.setValue(v)
        for key, combo in (("second", self.second_combo), ("objective", self.objective_combo)):
            i = combo.findData(state.get(key) or None)
            if i >= 0:
                combo.setCurrentIndex(i)

    def set_running(self, running: bool) -> None:
        self.tune_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        if running:
            self.progress.setValue(0)
            self.progress.setFormat("searching… %p%")

    def show_progress(self, fraction: float) -> None:
        self.progress.setValue(int(round(1000 * min(max(fraction, 0.0), 1.0))))

    def show_message(self, text: str) -> None:
        self.progress.setFormat(text)
        self.summary.setText("")

    def show_report(self, report: TuneReport, styles: dict) -> None:
        """What the Tune found, per optimizer: the chosen setting and its score, flagged at the grid's edge."""
        res = report.result
        self.progress.setValue(1000)
        self.progress.setFormat(f"done in {res.seconds:.2f} s")
        lines = []
        for uid, name, c in zip(report.uids, report.names, res.curves):
            color, dash, symbol = styles.get(uid, ("#7F7F7F", 0, 0))
            if c.best is None:
                what = "diverged at every lr: kept its own"
            else:
                what = f"lr {c.best_lr:g}"
                if c.second:
                    what += f", {knob_name(c.second)} {c.best_value:g}"
                what += f" → {_score(c.best_loss)}"
                if c.best_at_edge:
                    what += " <b>at the grid's edge</b>: widen the range"
            lines.append(f"{key_html(name, color, dash, symbol)}: {what}")
        for name, msg in report.errors:
            lines.append(f"{name}: not tuned ({msg})")
        grid = f"{len(res.curves[0].lrs)} lrs from {res.curves[0].lrs[0]:g} to {res.curves[0].lrs[-1]:g}" \
            if res.curves else ""
        seeds = f", {len(res.seeds)} noise seeds" if res.noise > 0 else ""
        self.summary.setText(f"<b>Racing at the tuned settings</b> ({grid}, {res.steps} steps{seeds}); the editors "
                             "hold them:<br>" + "<br>".join(lines))


def _score(x: float) -> str:
    if not math.isfinite(x):
        return "diverged"
    return "f − f* = 0" if x == 0 else f"f − f* = {x:.2g}"


def _row(*widgets) -> QHBoxLayout:
    lay = QHBoxLayout()
    lay.setContentsMargins(0, 0, 0, 0)
    lay.setSpacing(4)
    for w in widgets:
        if isinstance(w, str):
            label = QLabel(w)
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
            lay.addWidget(label)
        else:
            lay.addWidget(w, 1)
    return lay
