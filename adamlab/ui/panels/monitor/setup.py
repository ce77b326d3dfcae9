"""The monitor's left column: corpus, model, optimizer, schedule and training settings → a plain config dict.

Nothing here trains or holds model state: :class:`SetupBox` only edits a JSON-able dict (what ``config()``
returns and ``set_config()`` accepts), reports the parameter count as the model is edited, previews the
schedule with the core's ``make_schedule``, and announces live-knob edits (lr, betas, weight decay) so the
panel can forward them to the running trainer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Signal, Slot
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from adamlab.core import gpt, landscape
from adamlab.ui import theme
from adamlab.ui.schema import Fields, Text
from adamlab.core.optim import OPTIMIZERS as CORE_OPTIMIZERS
from adamlab.ui.widgets.hyper import KIND_KNOBS, OptimizerEditor, knob_schema
from adamlab.ui.widgets.symbols import rich_from_plain
from adamlab.ui.widgets.stateschema import of
from adamlab.ui.widgets.symbols import tooltip
from adamlab.ui.widgets.plots import CompactAxis, compact_tick, pen, style_plot

# name → (n_layer, n_embd, n_head, block_size). microgpt is Karpathy's: 4,192 parameters for 27 symbols.
PRESETS: dict[str, tuple[int, int, int, int]] = {
    "microgpt": (1, 16, 4, 16),
    "small": (2, 32, 4, 16),
    "medium": (4, 64, 4, 32),
}
# Every kind of the core's optimizer zoo trains the GPT (Muon + AdamW: Muon on the hidden matrices, AdamW on
# the embeddings and the head, the usual split), in the registry's order.
OPTIMIZERS = {kind: spec.label for kind, spec in CORE_OPTIMIZERS.items()}
# The monitor's starting lr per optimizer, tuned for microgpt (the editor's defaults are for 2-D surfaces): the
# five measured here first, then the registry's gpt_lr (measured on microgpt's names: README, The optimizer zoo).
MONITOR_LR = {"sgd": 0.5, "momentum": 0.05, "rmsprop": 3e-3, "adam": 1e-2, "adamw": 1e-2}
MONITOR_LR.update({k: spec.gpt_lr or 1e-2 for k, spec in CORE_OPTIMIZERS.items() if k not in MONITOR_LR})
SCHEDULES = {"constant": "constant", "linear": "linear decay", "cosine": "cosine", "warmup_cosine": "warmup + cosine"}
# Knobs a running run takes live: every numeric knob of its kind (the check boxes — nesterov, amsgrad … —
# change what the optimizer keeps, so they are set before a run starts).

DEFAULTS: dict[str, Any] = {
    "corpus": {"kind": "names", "path": "", "mode": "lines"},
    "model": {"preset": "microgpt", "n_layer": 1, "n_embd": 16, "n_head": 4, "block_size": 16},
    "optimizer": "adam",
    "hyper": {},  # editor values per kind, filled from the editors
    "schedule": "linear",
    "warmup": 100,
    "batch_size": 16,
    "steps": 1000,
    "seed": 42,
    "dtype": "float64",
    "val_every": 50,
}


def _spin(lo: int, hi: int, value: int, tip: str, step: int = 1) -> QSpinBox:
    s = QSpinBox()
    s.setRange(lo, hi)
    s.setValue(value)
    s.setSingleStep(step)
    s.setToolTip(tip)
    s.setKeyboardTracking(False)
    return s


def _combo(items: dict[str, str], tip: str) -> QComboBox:
    c = QComboBox()
    for key, label in items.items():
        c.addItem(label, key)
    c.setToolTip(tip)
    return c


def _set_combo(c: QComboBox, key: Any) -> bool:
    i = c.findData(key)
    if i >= 0:
        c.setCurrentIndex(i)
    return i >= 0


class SetupBox(QWidget):
    """The set-up column. Signals: ``corpusRequested(dict)`` when the corpus choice changes (the panel loads
    it and calls :meth:`show_corpus` / :meth:`show_corpus_error`), ``knobChanged(str, float)`` for a live
    knob edit, ``changed()`` for any edit."""

    corpusRequested = Signal(dict)
    knobChanged = Signal(str, float)
    changed = Signal()
    presetChosen = Signal(str)  # an edge-of-stability preset was applied: its explanation

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.vocab_size = 27
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 4, 0)
        lay.setSpacing(6)
        lay.addWidget(self._corpus_group())
        lay.addWidget(self._model_group())
        lay.addWidget(self._optimizer_group())
        lay.addWidget(self._training_group())
        lay.addWidget(self._landscape_group())
        lay.addStretch(1)
        self._update_params()
        self._update_preview()

    # --- groups ---
    def _corpus_group(self) -> QGroupBox:
        box = QGroupBox("Corpus")
        form = QFormLayout(box)
        form.setVerticalSpacing(3)
        self.corpus_kind = _combo({"names": "built-in names", "file": "text file…"},
                                  "The training text: the built-in list of names, or a text file of your own.")
        self.corpus_mode = _combo({"lines": "one document per line", "text": "continuous text"},
                                  "How a text file is cut into documents: each line is a name-like document, or "
                                  "the whole file is one stream cut into block-size windows.")
        self.browse = QPushButton("Browse…")
        self.browse.setToolTip("Choose a UTF-8 text file to train on.")
        self.corpus_path = QLabel("")
        self.corpus_path.setWordWrap(True)
        self.corpus_info = QLabel("")
        self.corpus_info.setWordWrap(True)
        self.corpus_info.setToolTip("Documents, characters, the vocabulary (symbols + the BOS/EOS token) and the "
                                    "train/validation split (90/10 of the documents).")
        self.corpus_error = QLabel("")
        self.corpus_error.setWordWrap(True)
        self.corpus_error.setStyleSheet("color: #D55E00;")
        self.corpus_error.hide()
        row = QHBoxLayout()
        row.addWidget(self.corpus_kind, 1)
        row.addWidget(self.browse)
        form.addRow(row)
        form.addRow(self.corpus_mode)
        form.addRow(self.corpus_path)
        form.addRow(self.corpus_info)
        form.addRow(self.corpus_error)
        self._file_path = ""
        self.corpus_kind.currentIndexChanged.connect(self._on_corpus_kind)
        self.corpus_mode.currentIndexChanged.connect(self._request_corpus)
        self.browse.clicked.connect(self._on_browse)
        self._on_corpus_kind()
        return box

    def _model_group(self) -> QGroupBox:
        box = QGroupBox("Model")
        form = QFormLayout(box)
        form.setVerticalSpacing(3)
        self.preset = _combo({**{k: k for k in PRESETS}, "custom": "custom"},
                             "microgpt: Karpathy's 4,192-parameter GPT (1 layer, 16 dims, 4 heads, context 16); "
                             "small/medium: bigger siblings; custom: edit the numbers.")
        self.n_layer = _spin(1, 12, 1, "n_layer: transformer blocks (attention + MLP), each 12·n_embd² weights.")
        self.n_embd = _spin(4, 256, 16, "n_embd: width of the residual stream (a multiple of n_head).", 4)
        self.n_head = _spin(1, 16, 4, "n_head: attention heads; each sees n_embd / n_head dimensions.")
        self.block = _spin(2, 256, 16, "block_size: context length in characters (positions in wpe).")
        self.params_label = QLabel("")
        self.params_label.setToolTip("Parameters: V·C (wte) + T·C (wpe) + V·C (lm_head) + n_layer·12·C²")
        grid = QHBoxLayout()
        for lab, w in (("layers", self.n_layer), ("embd", self.n_embd), ("heads", self.n_head),
                       ("block", self.block)):
            col = QVBoxLayout()
            col.setSpacing(0)
            col.addWidget(QLabel(lab))
            col.addWidget(w)
            grid.addLayout(col)
        form.addRow(self.preset)
        form.addRow(grid)
        form.addRow(self.params_label)
        self.preset.currentIndexChanged.connect(self._on_preset)
        for w in (self.n_layer, self.n_embd, self.n_head, self.block):
            w.valueChanged.connect(self._on_model_edit)
        return box

    def _optimizer_group(self) -> QGroupBox:
        box = QGroupBox("Optimizer and schedule")
        lay = QVBoxLayout(box)
        lay.setSpacing(3)
        self.opt_kind = _combo(OPTIMIZERS, "The optimizer that trains the GPT: every kind of the zoo (its "
                                           "description is under its knobs).")
        self.opt_kind.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.opt_kind.setMinimumContentsLength(12)
        lay.addWidget(self.opt_kind)
        self._last_values: dict[str, dict] = {}
        self.editors = _Editors(self._make_editor)  # made when a kind is first used (19 kinds)
        self.editor_stack = QStackedWidget()
        lay.addWidget(self.editor_stack)
        self.opt_note = QLabel("")
        self.opt_note.setWordWrap(True)
        self.opt_note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        lay.addWidget(self.opt_note)
        row = QHBoxLayout()
        self.schedule = _combo(SCHEDULES, "lr(t): constant; linear decay to 0; cosine to 0; linear warmup then "
                                          "cosine (warmup avoids Adam's large early steps).")
        self.warmup = _spin(0, 100000, 100, "Warmup steps: lr rises linearly from 0 over these steps.", 10)
        self.warmup.setMaximumWidth(80)
        self.schedule.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.schedule.setMinimumContentsLength(10)
        row.addWidget(self.schedule, 1)
        lay.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(QLabel("warmup"))
        row.addWidget(self.warmup)
        row.addWidget(QLabel("steps"))
        row.addStretch(1)
        lay.addLayout(row)
        self.preview = pg.PlotWidget(axisItems={"left": CompactAxis("left")})
        self.preview.setFixedHeight(80)
        self.preview.setMinimumWidth(120)
        self.preview.setMouseEnabled(False, False)
        self.preview.hideButtons()
        pi = self.preview.getPlotItem()
        style_plot(pi, legend=False)
        pi.getAxis("left").setWidth(40)
        pi.getAxis("bottom").setHeight(18)
        self.preview.setToolTip("The learning rate over the run, lr(t), from the core's make_schedule.")
        self.preview_curve = pi.plot([], [], pen=pen(theme.COLORS["ratio"], 1))
        self.preview_error = QLabel("")
        self.preview_error.setStyleSheet("color: #D55E00;")
        self.preview_error.setWordWrap(True)
        self.preview_error.hide()
        lay.addWidget(self.preview)
        lay.addWidget(self.preview_error)
        self.opt_kind.currentIndexChanged.connect(self._on_kind)
        self.schedule.currentIndexChanged.connect(self._on_schedule)
        self.warmup.valueChanged.connect(self._on_schedule)
        _set_combo(self.opt_kind, "adam")
        _set_combo(self.schedule, "linear")
        return box

    def _training_group(self) -> QGroupBox:
        box = QGroupBox("Training")
        form = QFormLayout(box)
        form.setVerticalSpacing(3)
        self.batch = _spin(1, 4096, 16, "Batch size: documents per step; the gradient is their mean.")
        self.steps = _spin(1, 1_000_000, 1000, "Total optimizer steps (the schedule spans these).", 100)
        self.seed = _spin(0, 2**31 - 1, 42, "Seed: same seed → same initial weights and data order.")
        self.dtype = _combo({"float64": "float64", "float32": "float32"},
                            "Parameter dtype: float32 is faster, float64 is exact to more digits.")
        self.val_every = _spin(1, 100000, 50, "Evaluate the validation loss every N steps.", 10)
        row1 = QHBoxLayout()
        row1.addWidget(QLabel("batch"))
        row1.addWidget(self.batch)
        row1.addWidget(QLabel("steps"))
        row1.addWidget(self.steps)
        row2 = QHBoxLayout()
        row2.addWidget(QLabel("seed"))
        row2.addWidget(self.seed)
        row2.addWidget(self.dtype)
        row3 = QHBoxLayout()
        row3.addWidget(QLabel("validate every"))
        row3.addWidget(self.val_every)
        row3.addWidget(QLabel("steps"))
        form.addRow(row1)
        form.addRow(row2)
        form.addRow(row3)
        self.steps.valueChanged.connect(self._on_schedule)
        for w in (self.batch, self.seed, self.val_every):
            w.valueChanged.connect(self.changed)
        self.dtype.currentIndexChanged.connect(self.changed)
        return box

    def _landscape_group(self) -> QGroupBox:
        box = QGroupBox("Landscape")
        form = QFormLayout(box)
        form.setVerticalSpacing(3)
        self.full_batch = _spin(0, 4096, 0, "Full-batch training: every step on the same first N training "
                                "documents (gradient descent proper); 0 = minibatches of 'batch'.")
        self.full_batch.setSpecialValueText("off")
        self.snapshot_every = _spin(0, 100000, 10, "Keep the weights every N steps (bounded memory), for the "
                                    "Landscape tab's PCA plane and the run's path on it; 0 = never.")
        self.snapshot_every.setSpecialValueText("never")
        self.sharpness_every = _spin(0, 100000, 0, "Measure the sharpness λ_max (top Hessian eigenvalue, by "
                                     "Lanczos) every N steps and draw it against the stability threshold "
                                     "(Landscape tab). Each measurement costs tens of steps' time; 0 = off.")
        self.sharpness_every.setSpecialValueText("off")
        for label, w in (("full batch of", self.full_batch), ("keep weights every", self.snapshot_every),
                         ("sharpness every", self.sharpness_every)):
            row = QHBoxLayout()
            row.addWidget(QLabel(label))
            row.addWidget(w)
            form.addRow(row)
            w.valueChanged.connect(self.changed)
        presets = QHBoxLayout()
        self.eos_gd = QPushButton("GD at the edge")
        self.eos_adam = QPushButton("Adam at the edge")
        for b, preset in ((self.eos_gd, landscape.EDGE_OF_STABILITY_PRESET),
                          (self.eos_adam, landscape.ADAPTIVE_EDGE_OF_STABILITY_PRESET)):
            b.setToolTip(tooltip(preset["name"] + ": " + preset["explanation"]))
            b.clicked.connect(lambda _=False, p=preset: self.apply_edge_preset(p))
            presets.addWidget(b)
        form.addRow(presets)
        return box

    def apply_edge_preset(self, preset: dict) -> None:
        """Set up one of the core's edge-of-stability presets: full-batch training at a constant lr with its
        sharpness tracked (landscape.EDGE_OF_STABILITY_PRESET, ADAPTIVE_…)."""
        c = preset["config"]
        kind = c["optimizer"]
        _set_combo(self.opt_kind, kind)
        values = {"lr": c["lr"]}
        if "betas" in c:
            values["beta1"], values["beta2"] = c["betas"]
        if "momentum" in c and "momentum" in self.editors[kind].controls:
            values["momentum"] = c["momentum"]
        self.editors[kind].set_values(values)
        _set_combo(self.schedule, c["schedule"])
        self.full_batch.setValue(c["full_batch"])
        self.steps.setValue(c["steps"])
        self.seed.setValue(c["seed"])
        self.val_every.setValue(max(c["val_every"], 1) if c["val_every"] else c["steps"])
        self.sharpness_every.setValue(preset["every"])
        self.presetChosen.emit(preset["explanation"])

    # --- corpus ---
    @Slot()
    def _on_corpus_kind(self, *_):
        is_file = self.corpus_kind.currentData() == "file"
        self.browse.setEnabled(is_file)
        self.corpus_mode.setVisible(is_file)
        self.corpus_path.setVisible(is_file)
        if is_file and not self._file_path:
            return  # wait for Browse
        self._request_corpus()

    @Slot()
    def _on_browse(self):
        path, _ = QFileDialog.getOpenFileName(self, "Choose a text corpus", "", "Text files (*.txt);;All files (*)")
        if path:
            self.set_corpus_file(path)

    def set_corpus_file(self, path: str, mode: str | None = None) -> None:
        """Choose a text file as the corpus (what Browse does) and request it."""
        self._file_path = str(path)
        self.corpus_path.setText(Path(path).name)
        self.corpus_path.setToolTip(str(path))
        if mode is not None:
            _set_combo(self.corpus_mode, mode)
        self.corpus_kind.blockSignals(True)
        _set_combo(self.corpus_kind, "file")
        self.corpus_kind.blockSignals(False)
        self.browse.setEnabled(True)
        self.corpus_mode.setVisible(True)
        self.corpus_path.setVisible(True)
        self._request_corpus()

    @Slot()
    def _request_corpus(self, *_):
        self.corpusRequested.emit(self.corpus_spec())

    def corpus_spec(self) -> dict:
        return {"kind": self.corpus_kind.currentData(), "path": self._file_path,
                "mode": self.corpus_mode.currentData()}

    def show_corpus(self, info: str, vocab_size: int) -> None:
        self.corpus_error.hide()
        self.corpus_info.setText(info)
        self.vocab_size = int(vocab_size)
        self._update_params()

    def show_corpus_error(self, message: str) -> None:
        self.corpus_error.setText(message)
        self.corpus_error.show()

    # --- model ---
    @Slot()
    def _on_preset(self, *_):
        key = self.preset.currentData()
        if key in PRESETS:
            values = PRESETS[key]
            for w, v in zip((self.n_layer, self.n_embd, self.n_head, self.block), values):
                w.blockSignals(True)
                w.setValue(v)
                w.blockSignals(False)
        self._update_params()
        self.changed.emit()

    @Slot()
    def _on_model_edit(self, *_):
        values = (self.n_layer.value(), self.n_embd.value(), self.n_head.value(), self.block.value())
        match = next((k for k, v in PRESETS.items() if v == values), "custom")
        self.preset.blockSignals(True)
        _set_combo(self.preset, match)
        self.preset.blockSignals(False)
        self._update_params()
        self.changed.emit()

    def model_spec(self) -> dict:
        return {"n_layer": self.n_layer.value(), "n_embd": self.n_embd.value(), "n_head": self.n_head.value(),
                "block_size": self.block.value()}

    def _update_params(self) -> None:
        try:
            cfg = gpt.GPTConfig(vocab_size=self.vocab_size, **self.model_spec())
        except ValueError as exc:
            self.params_label.setText(f"<span style='color:#D55E00'>{exc}</span>")
            return
        self.params_label.setText(f"<b>{gpt.num_params(cfg):,}</b> parameters ({self.vocab_size} symbols)")

    # --- optimizer and schedule ---
    def editor(self, kind: str) -> OptimizerEditor:
        """The editor of ``kind`` (made on first use, with the monitor's starting lr)."""
        return self.editors[kind]

    def _make_editor(self, kind: str) -> OptimizerEditor:
        if kind not in OPTIMIZERS:
            raise KeyError(kind)
        ed = OptimizerEditor(kind, {"lr": MONITOR_LR[kind]})
        ed.changed.connect(lambda k=kind: self._on_editor(k))
        self._last_values[kind] = ed.values()
        self.editor_stack.addWidget(ed)
        return ed

    @Slot()
    def _on_kind(self, *_):
        kind = self.opt_kind.currentData()
        self.editor_stack.setCurrentWidget(self.editor(kind))
        note = CORE_OPTIMIZERS[kind].description
        if kind == "muon_adamw":
            note += (" Here: Muon on the attention and MLP matrices, AdamW on wte, wpe and lm_head (the Tensors "
                     "table says which tensor uses which).")
        first = note.split(". ")[0].rstrip(".") + "."  # the first sentence under the knobs, the rest on hover
        self.opt_note.setText(rich_from_plain(first))
        self.opt_note.setToolTip(rich_from_plain(note))
        self._update_preview()
        self.changed.emit()

    def _on_editor(self, kind: str) -> None:
        new = self.editors[kind].values()
        old = self._last_values[kind]
        self._last_values[kind] = new
        if kind == self.opt_kind.currentData():
            for k, v in new.items():
                if not isinstance(v, bool) and v != old.get(k):
                    self.knobChanged.emit(k, float(v))
            if new.get("lr") != old.get("lr"):
                self._update_preview()
        self.changed.emit()

    @Slot()
    def _on_schedule(self, *_):
        self.warmup.setEnabled(self.schedule.currentData() == "warmup_cosine")
        self._update_preview()
        self.changed.emit()

    def optimizer_kind(self) -> str:
        return self.opt_kind.currentData()

    def hyper(self) -> dict[str, Any]:
        """Core keyword arguments of the chosen optimizer (β1, β2 → betas)."""
        return self.editor(self.optimizer_kind()).hyper()

    def schedule_spec(self) -> dict[str, Any]:
        return {"kind": self.schedule.currentData(), "warmup": self.warmup.value()}

    def _update_preview(self) -> None:
        from adamlab.ui.panels.monitor.job import schedule_curve  # the core's make_schedule, sampled

        try:
            x, y = schedule_curve(self.schedule_spec(), self.hyper()["lr"], self.steps.value())
        except Exception as exc:  # noqa: BLE001 — show the core's message, never crash
            self.preview_curve.setData([], [])
            self.preview_error.setText(f"{exc}")
            self.preview_error.show()
            return
        self.preview_error.hide()
        self.preview_curve.setData(x, y)
        # 80 px tall: two ticks, 0 and the peak lr ("1e-2"), instead of pyqtgraph's crowded ticks, of which only
        # "0" fitted (the scale went to an SI prefix no one saw)
        peak = float(max(y)) if len(y) else 0.0
        ticks = [(0.0, "0")] + ([(peak, compact_tick(peak))] if peak > 0 else [])
        self.preview.getPlotItem().getAxis("left").setTicks([ticks, []])
        self.preview.getPlotItem().setYRange(0.0, peak if peak > 0 else 1.0, padding=0.12)

    # --- the whole config ---
    def config(self) -> dict[str, Any]:
        """A JSON-able description of the run to start (see :func:`job.make_trainer`)."""
        return {
            "corpus": self.corpus_spec(),
            "model": self.model_spec(),
            "optimizer": self.optimizer_kind(),
            "hyper": self.hyper(),
            "schedule": self.schedule_spec(),
            "batch_size": self.batch.value(),
            "steps": self.steps.value(),
            "seed": self.seed.value(),
            "dtype": self.dtype.currentData(),
            "val_every": self.val_every.value(),
            "full_batch": self.full_batch.value(),
            "snapshot_every": self.snapshot_every.value(),
            "sharpness_every": self.sharpness_every.value(),
        }

    def get_state(self) -> dict[str, Any]:
        return {"corpus": self.corpus_spec(), "model": self.model_spec(), "optimizer": self.optimizer_kind(),
                "editors": {k: ed.values() for k, ed in self.editors.items()},
                "schedule": self.schedule_spec(), "batch_size": self.batch.value(), "steps": self.steps.value(),
                "seed": self.seed.value(), "dtype": self.dtype.currentData(), "val_every": self.val_every.value(),
                "full_batch": self.full_batch.value(), "snapshot_every": self.snapshot_every.value(),
                "sharpness_every": self.sharpness_every.value()}

    def schema(self) -> Fields:
        """What ``get_state`` may hold, read off the controls."""
        return Fields({
            "corpus": Fields({"kind": of(self.corpus_kind), "path": Text(4096), "mode": of(self.corpus_mode)}),
            "model": Fields({"n_layer": of(self.n_layer), "n_embd": of(self.n_embd), "n_head": of(self.n_head),
                             "block_size": of(self.block)}),
            "optimizer": of(self.opt_kind),
            "editors": Fields({k: knob_schema(k) for k in OPTIMIZERS}),
            "schedule": Fields({"kind": of(self.schedule), "warmup": of(self.warmup)}),
            **{k: of(w) for k, w in (("batch_size", self.batch), ("steps", self.steps), ("seed", self.seed),
                                     ("dtype", self.dtype), ("val_every", self.val_every),
                                     ("full_batch", self.full_batch), ("snapshot_every", self.snapshot_every),
                                     ("sharpness_every", self.sharpness_every))}})

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore ``get_state``; ignores unknown or invalid entries."""
        if not isinstance(state, dict):
            return
        model = state.get("model")
        if isinstance(model, dict):
            for key, w in (("n_layer", self.n_layer), ("n_embd", self.n_embd), ("n_head", self.n_head),
                           ("block_size", self.block)):
                if isinstance(model.get(key), int):
                    w.setValue(model[key])
        editors = state.get("editors")
        if isinstance(editors, dict):
            for kind, values in editors.items():
                if kind in OPTIMIZERS and isinstance(values, dict):
                    self.editors[kind].set_values(values)
        if isinstance(state.get("optimizer"), str):
            _set_combo(self.opt_kind, state["optimizer"])
        sched = state.get("schedule")
        if isinstance(sched, dict):
            _set_combo(self.schedule, sched.get("kind"))
            if isinstance(sched.get("warmup"), int):
                self.warmup.setValue(sched["warmup"])
        for key, w in (("batch_size", self.batch), ("steps", self.steps), ("seed", self.seed),
                       ("val_every", self.val_every), ("full_batch", self.full_batch),
                       ("snapshot_every", self.snapshot_every), ("sharpness_every", self.sharpness_every)):
            if isinstance(state.get(key), int):
                w.setValue(state[key])
        if isinstance(state.get("dtype"), str):
            _set_combo(self.dtype, state["dtype"])
        corpus = state.get("corpus")
        if isinstance(corpus, dict) and corpus.get("kind") == "file" and isinstance(corpus.get("path"), str) \
                and Path(corpus["path"]).is_file():
            self.set_corpus_file(corpus["path"], corpus.get("mode"))

    def reset_defaults(self) -> None:
        _set_combo(self.preset, "microgpt")
        self._on_preset()
        for kind, ed in self.editors.items():
            ed.set_values({**KIND_KNOBS[kind], "lr": MONITOR_LR[kind]})
        _set_combo(self.opt_kind, "adam")
        _set_combo(self.schedule, "linear")
        self.warmup.setValue(100)
        self.batch.setValue(16)
        self.steps.setValue(1000)
        self.seed.setValue(42)
        _set_combo(self.dtype, "float64")
        self.val_every.setValue(50)
        self.full_batch.setValue(0)
        self.snapshot_every.setValue(10)
        self.sharpness_every.setValue(0)
        self._file_path = ""
        _set_combo(self.corpus_kind, "names")
        self._request_corpus()

    def set_knob(self, name: str, value: float) -> None:
        """Show a knob value (e.g. of the selected run) without emitting ``knobChanged``."""
        kind = self.optimizer_kind()
        ed = self.editors[kind]
        if name in ed.controls:
            self._last_values[kind] = {**self._last_values[kind], name: value}
            ed.blockSignals(True)
            ed.set_values({name: value})
            ed.blockSignals(False)
            self._last_values[kind] = ed.values()


class _Editors(dict):
    """kind → OptimizerEditor, each made the first time it is asked for (nineteen editors' sliders at start-up
    would be wasted on kinds nobody picks)."""

    def __init__(self, make):
        super().__init__()
        self._make = make

    def __missing__(self, kind: str) -> OptimizerEditor:
        self[kind] = editor = self._make(kind)
        return editor
