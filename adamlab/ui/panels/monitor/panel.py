"""Tiny-GPT training monitor: train microgpt live, watch the loss, the per-tensor statistics, Adam's state
and what the model writes.

Every run is one core ``Trainer`` wrapped in a :class:`~adamlab.ui.panels.monitor.job.RunJob`, built and
trained in its own child process by a ``workers.ProcessLoopWorker`` ("compare optimizers" starts three). A
training step is thousands of tiny NumPy calls that hold the GIL; on a thread they and the GUI's pyqtgraph
painting took turns on one interpreter (the window stuttered and training ran at half speed). In a child the
trainer has its own interpreter and core; the worker's thread in this process only relays its messages.

The child sends at most ~10 small snapshots a second; the panel keeps the latest per run and redraws on a
timer. Everything else goes through picklable commands (``RunJob`` methods bound with functools.partial) that
run in the child between steps — live knobs, samples, Adam's histograms, checkpoints — and whose results come
back as the worker's ``reply``. When a run ends, its job is sent back, so a finished run can still be saved,
sampled and inspected here. Without a child (``ADAMLAB_PROCESSES=0``, or it cannot start) the same job runs on
the worker thread, through the same interface.
"""

from __future__ import annotations

import math
import time
from functools import partial
from pathlib import Path
from typing import Any

import pyqtgraph as pg

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QLineEdit,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from adamlab.ui import theme, workers
from adamlab.ui.panels.monitor import external as ext
from adamlab.ui.panels.monitor import job as mj
from adamlab.ui.panels.monitor.curves import LossPlot
from adamlab.ui.panels.monitor.runs import RunView, _RunRelay
from adamlab.ui.panels.base import Panel
from adamlab.ui.panels.monitor import landscape_job as lj
from adamlab.ui.panels.monitor.inspector import SORTS, select_tensors
from adamlab.ui.panels.monitor.landscape_view import LandscapeView
from adamlab.ui.panels.monitor.inspector import AdamStateView, HeatmapView, SamplesView, TensorsView
from adamlab.ui.panels.monitor.setup import MONITOR_LR, OPTIMIZERS, SetupBox
from adamlab.ui.schema import Bool, Choice, Fields, Int, Seq
from adamlab.ui.widgets.controls import FloatSlider
from adamlab.ui.widgets.stateschema import of
from adamlab.ui.widgets.dialogs import ask_save_path
from adamlab.ui.widgets.hyper import KIND_KNOBS, to_core


REDRAW_MS = 100  # 10 redraws a second: smooth enough for curves, cheap for the training thread
INSPECT_S = 0.5  # the table, heatmaps, samples and labels refresh twice a second (numbers must be readable)
SNAPSHOT_RATE = 10  # snapshots a second from each worker (≤ 30): one per redraw is all the GUI can use
ADAM_REFRESH_MS = 700  # Adam's histograms are asked for this often while their tab is visible
MAX_LIVE_RUNS = 6  # one process each; the machine has few cores, more would only slow every run down
COMPARE = ("sgd", "adam", "adamw")
NOTICE_S = 8.0  # how long a notice (saved, an error) stays under the curves
FOLLOW_RATE = 4  # snapshots a second from a followed run folder (it is polled every external.POLL_S)
STOP_GRACE_S = 3.0  # Stop: how long a run's process may take to end its step and send its job back


class MonitorPanel(Panel):
    key = "monitor"
    title = "GPT monitor"
    hint = "Train the tiny GPT live: loss curves, per-tensor g/w/u, Adam's state and samples."
    help_html = (
        "<h3>Tiny-GPT training monitor</h3>"
        "<p>A character-level GPT (Karpathy's <i>microgpt</i>: 1 layer, 16 dimensions, 4 heads, 4,192 "
        "parameters) learns to write names. Each step takes a batch of names, computes the mean "
        "cross-entropy <i>L</i> of predicting each next character and its gradient, and lets the optimizer "
        "move the weights.</p>"
        "<p><b>Curves.</b> A model that knows nothing guesses uniformly: <i>L</i> = ln <i>V</i> "
        "(3.30 for 27 symbols, the dashed line). The faint curve is the raw per-batch loss; the bold one is "
        "its exponential moving average <i>s</i><sub>t</sub> = β<i>s</i><sub>t−1</sub> + (1−β)<i>L</i><sub>t</sub>"
        " divided by 1 − β<sup>t</sup> — the same bias correction as Adam's <i>m̂</i>, so the curve does not start "
        "at 0. Dots are the validation loss on held-out names; the dotted line is lr(t).</p>"
        "<p><b>Why Adam.</b> The table shows each tensor's gradient RMS <i>g</i>, weight RMS <i>w</i> and "
        "update/weight ratio <i>u</i> = RMS(Δθ)/RMS(θ). Gradients of different tensors differ by orders of "
        "magnitude, so one SGD learning rate is too big for some and too small for others. Adam divides by "
        "√<i>v̂</i> per parameter: every step is about lr·<i>m̂</i>/(√<i>v̂</i>+ε), with |<i>m̂</i>/(√<i>v̂</i>+ε)| ≲ 1, so every tensor moves at "
        "a similar relative pace. Karpathy's rule of thumb: u ≈ 10<sup>−3</sup>.</p>"
        "<p><b>Adam's state</b>: histograms of <i>m̂</i>/(√<i>v̂</i>+ε) (near ±1: consistent gradient sign; near 0: noise) "
        "and of the effective per-parameter learning rate lr/(√<i>v̂</i>+ε).</p>"
        "<p><b>Divergence</b>: a learning rate too high (Adam at 0.05 here) makes the loss overflow; the run "
        "stops with a red marker at that step.</p>")

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.runs: list[RunView] = []
        self._next_id = 1
        self._active: RunView | None = None
        self._corpus = None  # the last good corpus (data.Corpus), for sizes and the baseline
        self._told_fallback = False
        self._notice: tuple[str, float] = ("", 0.0)

        self.setup = SetupBox()
        scroll = QScrollArea()
        scroll.setWidget(self.setup)
        scroll.setWidgetResizable(True)
        theme.sized(scroll, setFixedWidth=272)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        centre = QWidget()
        cl = QVBoxLayout(centre)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(4)
        cl.addLayout(self._controls_row())
        cl.addLayout(self._progress_row())
        cl.addLayout(self._view_row())
        self.curves = LossPlot()
        self._markers_placed = (self.curves.x_mode, self.curves.log_x)  # the x axis the marker lines were put on
        self.baseline, self.empty_hint = self.curves.baseline, self.curves.empty_hint
        # the loss curves are what the room watches: never squeezed to a strip (the Landscape tab scrolls instead)
        theme.sized(self.curves, setMinimumHeight=120)
        cl.addWidget(self.curves, 1)
        cl.addWidget(self.curves.key_label)
        self.status_label = QLabel("Press Start to train.")
        self.status_label.setWordWrap(True)
        self.status_label.setTextFormat(Qt.TextFormat.RichText)
        cl.addWidget(self.status_label)
        cl.addLayout(self._runs_row())

        self.tabs = QTabWidget()
        self.tensors = TensorsView()
        self.table = self.tensors.table
        self.heatmap = HeatmapView()
        self.adam = AdamStateView()
        self.samples = SamplesView()
        self.landscape = LandscapeView()
        self.tabs.addTab(self.tensors, "Tensors")
        self.tabs.addTab(self.heatmap, "Maps")  # (short: five tabs fit beside the curves at 1280 px)
        self.tabs.addTab(self.adam, "Adam")
        self.tabs.addTab(self.landscape, "Landscape")
        self.tabs.addTab(self.samples, "Samples")
        self.tabs.setTabToolTip(0, "g / w / u per tensor at the latest step.")
        self.tabs.setTabToolTip(1, "Heatmaps of log10 u and log10 g per tensor over time.")
        self.tabs.setTabToolTip(2, "<qt>Histograms of <i>m̂</i>/(√<i>v̂</i>+ε) and lr/(√<i>v̂</i>+ε) for one tensor.</qt>")
        self.tabs.setTabToolTip(3, "The loss around the run's weights (a slice through the real landscape, with "
                                   "its path), the loss between weights, and sharpness against its threshold.")
        self.tabs.setTabToolTip(4, "What the model writes, every K steps.")
        # Which tensors the table, the u curves, the heatmaps and the Adam tab show, and in what order: a
        # watched 24-layer model has hundreds.
        self.tensor_filter = QLineEdit()
        self.tensor_filter.setPlaceholderText("filter tensors: attn  h.3.  -bias")
        self.tensor_filter.setClearButtonEnabled(True)
        self.tensor_filter.setToolTip("Show only tensors whose name contains every word typed here (a word "
                                      "starting with - excludes); the table, u curves, heatmaps and Adam tab "
                                      "follow.")
        self.tensor_sort = QComboBox()
        self.tensor_sort.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.tensor_sort.setMinimumContentsLength(9)
        for key, text in SORTS.items():
            self.tensor_sort.addItem(f"by {text}", key)
        self.tensor_sort.setToolTip("Order of the tensors in the table, the heatmaps and the Adam tab's list.")
        self.tensor_count = QLabel("")
        frow = QHBoxLayout()
        frow.setContentsMargins(0, 0, 0, 0)
        frow.addWidget(self.tensor_filter, 1)
        frow.addWidget(self.tensor_sort)
        frow.addWidget(self.tensor_count)
        inspector = QWidget()
        il = QVBoxLayout(inspector)
        il.setContentsMargins(0, 0, 0, 0)
        il.setSpacing(2)
        il.addLayout(frow)
        il.addWidget(self.tabs, 1)
        self.inspector = inspector
        self.tensor_filter.textChanged.connect(self._on_selection)
        self.tensor_sort.currentIndexChanged.connect(self._on_selection)

        # The curves and the inspector tabs side by side, or the tabs below the curves when the panel is too
        # narrow for both (a 1024-px window): see resizeEvent. The splitter's own minimum width is that of
        # the stacked arrangement, so the window can shrink to where the switch happens.
        self.split = split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(centre)
        split.addWidget(inspector)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([480, 360])
        split.setChildrenCollapsible(False)
        split.setMinimumWidth(max(centre.minimumSizeHint().width(), inspector.minimumSizeHint().width()))
        self._centre = centre
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(scroll)
        lay.addWidget(split, 1)

        self.setup.corpusRequested.connect(self._load_corpus)
        self.setup.knobChanged.connect(self._on_knob)
        self.setup.presetChosen.connect(self._on_edge_preset)
        self.samples.settingsChanged.connect(self._on_sample_settings)
        self.samples.sampleNow.connect(self._sample_now)
        self.adam.tensorChanged.connect(lambda _: self._request_adam(force=True))
        self.landscape.computeRequested.connect(self.compute_landscape)
        self.landscape.cancelRequested.connect(self.cancel_landscape)
        self._landscape: workers.WorkerHandle | None = None
        self._landscape_wait: dict | None = None  # a request waiting for live runs' trainers
        self.tabs.currentChanged.connect(self._on_tab)

        self.timer = QTimer(self)
        self.timer.setObjectName("monitor-redraw")
        self.timer.setInterval(REDRAW_MS)
        self.timer.timeout.connect(self._redraw)
        self.adam_timer = QTimer(self)
        self.adam_timer.setObjectName("monitor-adam")
        self.adam_timer.setInterval(ADAM_REFRESH_MS)
        self.adam_timer.timeout.connect(self._request_adam)
        self._load_corpus(self.setup.corpus_spec())
        self._update_buttons()

    # ------------------------------------------------------------------------------------------------
    # layout
    def _button(self, text: str, tip: str, slot) -> QPushButton:
        b = QPushButton(text)
        b.setToolTip(tip)
        b.clicked.connect(slot)
        return b

    def _controls_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.start_button = self._button("Start", "Start a new run with the settings on the left (runs already "
                                         "going keep going: their curves are overlaid).", self.start_run)
        self.pause_button = self._button("Pause", "Pause / resume the selected run.", self.toggle_pause)
        self.step_button = self._button("Step", "Pause and take exactly one optimizer step.", self.step_once)
        self.stop_button = self._button("Stop", "Stop the selected run for good (its curves stay).",
                                        self.stop_run)
        self.compare_button = self._compare_button()
        self.save_button = self._button("Save…", "Save the selected run (weights, optimizer state, curves) to "
                                        "a checkpoint.", self._save_dialog)
        self.load_button = self._button("Load…", "Load a checkpoint as a new paused run; Resume continues it "
                                        "where it stopped.", self._load_dialog)
        self.csv_button = self._button("CSV…", "Export the selected run's metrics (step, tokens, loss, lr, "
                                       "validation) as CSV.", self._csv_dialog)
        for b in (self.start_button, self.pause_button, self.step_button, self.stop_button, self.compare_button):
            row.addWidget(b)
        row.addStretch(1)
        return row

    def _compare_button(self) -> QToolButton:
        """"Compare" starts the chosen optimizers side by side; its menu (the arrow) chooses which, from the
        whole zoo (SGD, Adam and AdamW to begin with)."""
        self.compare_button = b = QToolButton()
        b.setText("Compare")
        b.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        b.clicked.connect(self.compare_optimizers)
        menu = QMenu(b)
        self.compare_actions: dict[str, QAction] = {}
        for kind, label in OPTIMIZERS.items():
            act = menu.addAction(theme.swatch(theme.optimizer_color(kind)), label)
            act.setCheckable(True)
            act.setChecked(kind in COMPARE)
            act.toggled.connect(self._update_compare_tip)
            self.compare_actions[kind] = act
        b.setMenu(menu)
        self._update_compare_tip()
        return b

    def compare_kinds(self) -> list[str]:
        """The optimizers "Compare" starts, in the zoo's order."""
        return [k for k, a in self.compare_actions.items() if a.isChecked()]

    def set_compare_kinds(self, kinds) -> None:
        for k, a in self.compare_actions.items():
            a.setChecked(k in kinds)

    @Slot()
    def _update_compare_tip(self, *_):
        names = ", ".join(OPTIMIZERS[k] for k in self.compare_kinds()) or "nothing yet"
        self.compare_button.setToolTip(
            f"Start {names} from the same initial weights and the same data order (same seed): only the "
            f"optimizer differs, each at its monitor lr. The arrow chooses which optimizers.")

    def _progress_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setValue(0)
        self.progress.setFormat("step %v / %m")
        self.progress.setToolTip("Steps done of the selected run.")
        self.rate_label = QLabel("")
        theme.sized(self.rate_label, setMinimumWidth=170)
        self.rate_label.setToolTip("Training speed of the selected run and the time left at that speed.")
        row.addWidget(self.progress, 1)
        row.addWidget(self.rate_label)
        return row

    def _view_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.smoothing = FloatSlider("smoothing", 0.0, 0.999, 0.9, decimals=3, tooltip=(
            "β of the debiased EMA drawn over the raw loss: s ← β·s + (1−β)·L, shown as s/(1−βᵗ) — the same "
            "bias correction as Adam's m̂ (TensorBoard's smoothing slider)."))
        theme.sized(self.smoothing.label, setMinimumWidth=64)
        self.x_axis = QComboBox()
        self.x_axis.addItem("x: steps", "steps")
        self.x_axis.addItem("x: tokens", "tokens")
        self.x_axis.setToolTip("Horizontal axis: optimizer steps, or training tokens seen (predictions made).")
        self.log_x = QCheckBox("log x")
        self.log_x.setToolTip("Logarithmic step axis: early and late training side by side.")
        self.log_y = QCheckBox("log y")
        self.log_y.setToolTip("Logarithmic loss axis.")
        row.addWidget(self.smoothing, 1)
        row.addWidget(self.x_axis)
        row.addWidget(self.log_x)
        row.addWidget(self.log_y)
        self.smoothing.valueChanged.connect(self._mark_all_dirty)
        self.x_axis.currentIndexChanged.connect(self._mark_all_dirty)
        self.log_x.toggled.connect(self._on_log)
        self.log_y.toggled.connect(self._on_log)
        return row

    def _runs_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.run_list = QListWidget()
        theme.sized(self.run_list, setFixedHeight=80)  # the three rows of buttons beside it
        self.run_list.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # "run 2 · Adam … — paused", no scrollbar
        self.run_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.run_list.setToolTip("Runs: tick to show, click to select (the controls, table and tabs follow the "
                                 "selected run).")
        self.run_list.itemChanged.connect(self._on_run_item)
        self.run_list.currentRowChanged.connect(self._on_run_row)
        self.remove_button = self._button("Remove", "Stop and remove the selected run and its curves.",
                                          self.remove_run)
        self.follow_button = self._button(
            "PyTorch run…", "Open a run folder written by adamlab.watch in your own PyTorch training: its loss, "
            "lr, per-tensor g/w/u, Adam's histograms and samples, followed live while it trains (also File ▸ "
            "Open run folder…, or drop the folder on the window).", self._open_folder_dialog)
        col = QVBoxLayout()
        col.setSpacing(2)
        for pair in ((self.save_button, self.load_button), (self.csv_button, self.remove_button)):
            grid = QHBoxLayout()
            grid.setSpacing(2)
            for b in pair:
                grid.addWidget(b)
            col.addLayout(grid)
        col.addWidget(self.follow_button)
        col.addStretch(1)
        row.addWidget(self.run_list, 1)
        row.addLayout(col)
        return row

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._arrange()

    def _arrange(self) -> None:
        """Tabs beside the curves when both fit at their minimum widths, else below them."""
        handle = self.split.handleWidth()
        side_by_side = (self._centre.minimumSizeHint().width() + self.inspector.minimumSizeHint().width() + handle
                        + 40)  # room for the curves beyond their bare minimum
        want = Qt.Orientation.Horizontal if self.split.width() >= side_by_side else Qt.Orientation.Vertical
        if self.split.orientation() != want or not getattr(self, "_sized", False):
            self._sized = self.split.width() > 0  # once, and at each switch: a splitter the user moved stays
            self.split.setOrientation(want)
            if want == Qt.Orientation.Horizontal:
                # the tabs get room for their whole tab bar when the curves can spare it (no scroll arrows)
                total = self.split.width() - handle
                tabs = self.tabs.tabBar().sizeHint().width() + 8
                right = min(max(tabs, total * 2 // 5), total - self._centre.minimumSizeHint().width())
                self.split.setSizes([total - right, right])
            else:
                # the curves are what the room watches: two thirds (the tabs keep ~6 table rows at 700 px)
                total = self.split.height()
                self.split.setSizes([total * 2 // 3, total - total * 2 // 3])

    # ------------------------------------------------------------------------------------------------
    # corpus
    @Slot(dict)
    def _load_corpus(self, spec: dict) -> None:
        try:
            corpus = mj.load_corpus(spec, self.setup.model_spec()["block_size"])
        except Exception as exc:  # noqa: BLE001 — CorpusError or OSError: show it, keep the last good corpus
            self.setup.show_corpus_error(str(exc))
            self.statusMessage.emit(f"Corpus not loaded: {exc}")
            return
        self._corpus = corpus
        self.setup.show_corpus(mj.corpus_summary(corpus), corpus.tokenizer.vocab_size)
        self._show_baseline()

    # ------------------------------------------------------------------------------------------------
    # runs
    def _live_count(self) -> int:
        return sum(1 for r in self.runs if r.live)

    def start_run(self, config: dict | None = None, name: str | None = None, select: bool = True,
                  paused: bool = False) -> RunView | None:
        """Start a new run (the set-up's config unless given; ``paused``: built, at step 0, waiting for Resume or
        Step). Returns its view, or None with a message."""
        if self._corpus is None:
            self._error("No usable corpus: choose the built-in names or a valid text file.")
            return None
        if self._live_count() >= MAX_LIVE_RUNS:
            self._error(f"{MAX_LIVE_RUNS} runs are already going: stop one first.")
            return None
        config = dict(config or self.setup.config())
        sampling = config.pop("sampling", None) or self.samples.settings()
        try:  # checked here, before a process is started for it
            tc = mj.check_config(config, self._corpus)
        except Exception as exc:  # noqa: BLE001 — the core's ValueError names the argument and range
            self._error(f"Cannot start: {exc}")
            return None
        name = name or f"run {self._next_id} · {mj.optimizer_name(config['optimizer'])} lr {config['hyper']['lr']:g}"
        recipe = (mj.make_run_job, (mj.config_dict(tc), sampling, self._want_maps(),
                                    int(config.get("sharpness_every", 0))))
        return self._add_run(recipe, name, paused=paused, select=select, chars=self._corpus.tokenizer.chars,
                             kind=config["optimizer"], vocab=self._corpus.tokenizer.vocab_size)

    def _new_run_color(self, kind: str | None, run_id: int) -> str:
        """The optimizer's own colour (the arena's and the stepper's) for the first run of a kind; a run whose
        colour is taken gets the first colour of the cycle nobody uses."""
        taken = {r.color for r in self.runs}
        if kind is not None:
            own = theme.optimizer_color(kind)
            if own not in taken:
                return own
        free = [c for c in theme.CYCLE if c not in taken]
        return free[0] if free else theme.cycle_color(run_id - 1)

    def _add_run(self, recipe: tuple, name: str, paused: bool, select: bool = True, chars: str = "",
                 snap: mj.Snapshot | None = None, external: Path | None = None, kind: str | None = None,
                 vocab: int | None = None) -> RunView:
        """Start ``recipe`` = (factory, args) — the job is built where it will run — and add its view. An
        ``external`` run (a watched PyTorch run folder) is followed on a thread of this process; ``vocab``: its
        vocabulary size (the uniform-guess line), None when not known."""
        run_id = self._next_id
        self._next_id += 1
        color = self._new_run_color(kind, run_id)
        factory, args = recipe
        relay = _RunRelay(run_id, self)
        relay.snapshot.connect(self._on_snapshot)
        relay.state.connect(self._on_state)
        relay.failed.connect(self._on_failed)
        relay.reply.connect(self._on_reply)
        handle = workers.start_process_loop(factory, args, f"monitor-run-{run_id}",
                                            max_rate=FOLLOW_RATE if external else SNAPSHOT_RATE,
                                            start_paused=paused, use_process=external is None,
                                            connect=relay.listen_to)
        run = RunView(run_id, name, color, handle, chars)
        run.vocab = vocab
        if external is not None:
            run.external, run.job_class = external, ext.FollowJob
        run.state = "paused" if paused else "starting"  # until the child has imported and built the model
        if snap is not None:
            self._take_snapshot(run, snap)
        self.curves.add_run(run)
        self.runs.append(run)
        item = QListWidgetItem(name if run.state == "running" else f"{name} — {run.state}")
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setCheckState(Qt.CheckState.Checked)
        item.setIcon(theme.swatch(color))
        item.setToolTip(name)  # the full name, when the list is too narrow for it
        item.setData(Qt.ItemDataRole.UserRole, run_id)
        run.list_item = item
        self.run_list.addItem(item)
        if select or self._active is None:
            self.run_list.setCurrentItem(item)
        self._ensure_timer()
        self._update_buttons()
        return run

    def run_by_id(self, run_id: int) -> RunView | None:
        return next((r for r in self.runs if r.id == run_id), None)

    def active_run(self) -> RunView | None:
        return self._active

    def compare_optimizers(self) -> list[RunView]:
        """The chosen optimizers (SGD, Adam and AdamW unless the menu says otherwise) from the same seed: the
        same initial weights and data order, each with its defaults at its monitor lr."""
        kinds = self.compare_kinds()
        if not kinds:
            self._error("Choose the optimizers to compare first (the arrow beside Compare).")
            return []
        if self._live_count() + len(kinds) > MAX_LIVE_RUNS:
            self._error(f"At most {MAX_LIVE_RUNS} runs at once: {len(kinds)} more do not fit beside "
                        f"{self._live_count()} live; stop some or choose fewer.")
            return []
        base = self.setup.config()
        try:  # all of them must fit in memory, not just the first few
            mj.check_config({**base, "optimizer": kinds[0], "hyper": {"lr": MONITOR_LR[kinds[0]]}}, self._corpus,
                            runs=len(kinds))
        except Exception as exc:  # noqa: BLE001 — the core's ValueError: one line
            self._error(f"Cannot start: {exc}")
            return []
        shown = "adam" if "adam" in kinds else kinds[0]  # the run selected: the inspector follows it
        started = []
        for kind in kinds:
            hyper = to_core(dict(KIND_KNOBS[kind]))
            hyper["lr"] = MONITOR_LR[kind]
            cfg = {**base, "optimizer": kind, "hyper": hyper}
            run = self.start_run(cfg, name=f"run {self._next_id} · {mj.optimizer_name(kind)} lr {hyper['lr']:g} "
                                           f"(compare)", select=kind == shown)
            if run is not None:
                started.append(run)
        return started

    @Slot()
    def toggle_pause(self) -> None:
        run = self._active
        if run is None or not run.live:
            return
        if run.handle.worker.paused:
            run.handle.worker.resume()
        else:
            run.handle.worker.pause()
        self._update_buttons()

    @Slot()
    def step_once(self) -> None:
        run = self._active
        if run is None or not run.live or run.external:
            return
        run.handle.worker.pause()
        run.handle.worker.step_once()
        self._update_buttons()

    @Slot()
    def stop_run(self, run: RunView | None = None) -> None:
        """Ask the run to stop and return at once: the run ends after its current step and sends its job back
        (its "finished" state then calls ``_stop_worker``). A run that does not end within its grace period
        — a hung process, or a step far longer than usual — is ended by force."""
        run = run or self._active
        if run is None or run.handle is None or run.stopping:
            return
        run.stopping = True
        run.handle.worker.request_stop()
        rate = run.snap.rate if run.snap is not None else 0.0
        grace = max(STOP_GRACE_S, 3.0 / rate if rate > 0 else 0.0)  # at least three of its own steps
        run.stop_timer = QTimer(self)
        run.stop_timer.setObjectName(f"monitor-stop-{run.id}")
        run.stop_timer.setSingleShot(True)
        run.stop_timer.timeout.connect(lambda rid=run.id: self._force_stop(rid))
        run.stop_timer.start(int(grace * 1000))
        run.list_item.setText(f"{run.name} — stopping…")
        self._update_buttons()

    def _force_stop(self, run_id: int) -> None:
        run = self.run_by_id(run_id)
        if run is not None and run.handle is not None and run.handle.worker.force_stop():
            run.forced = True  # its process is killed: the relay ends and reports "finished"

    def _stop_worker(self, run: RunView) -> None:
        handle = run.handle
        if handle is None:
            return
        handle.stop()  # its thread has ended or is ending: this only joins it
        run.handle = None
        if run.stop_timer is not None:
            run.stop_timer.stop()
        # The run has ended and its job has come back (None if its process died): reading it here is safe,
        # and its final state is drawn.
        run.job = handle.worker.job
        run.fallback = handle.worker.fallback
        if run.job is not None:
            self._take_snapshot(run, run.job.snapshot())
        status = run.snap.status if run.snap is not None else "stopped"
        if run.state != "diverged":
            run.state = "stopped" if status not in ("finished", "diverged") else status
        run.list_item.setText(f"{run.name} — {run.state}")
        if run.forced:
            self._error(f"{run.name} did not stop within its grace period (a step still running?): its "
                        "process was ended, and its weights and optimizer state were not kept.")
        # An ended run is drawn now, not at the next redraw tick: "finished" means the final numbers are on
        # screen (a run shorter than one tick would otherwise be reported finished over an empty plot).
        self._redraw()

    @Slot()
    def remove_run(self) -> None:
        run = self._active
        if run is None:
            return
        if run.handle is not None:  # its curves go too: nothing to send back, nothing to wait for
            workers.retire(run.handle, STOP_GRACE_S, keep_job=False)
            run.handle = None
        if run.stop_timer is not None:
            run.stop_timer.stop()
        self.curves.remove_run(run)
        self.runs.remove(run)
        row = self.run_list.row(run.list_item)
        self._active = None
        self.run_list.takeItem(row)
        if not self.runs:
            self._show_inspector(None)
        self._update_buttons()

    # ------------------------------------------------------------------------------------------------
    # worker → GUI
    @Slot(int, object)
    def _on_snapshot(self, run_id: int, snap) -> None:
        run = self.run_by_id(run_id)
        if run is not None and run.handle is not None:
            self._take_snapshot(run, snap)  # keep the latest; the timer draws it
            self._ensure_timer()
            if run.fallback is None and run.handle.worker.fallback and not run.external:
                run.fallback = run.handle.worker.fallback
                if not self._told_fallback:  # once: the runs still train, just slower and the window stutters
                    self._told_fallback = True
                    self.statusMessage.emit(f"GPT monitor: {run.fallback}")

    def _take_snapshot(self, run: RunView, snap: mj.Snapshot) -> None:
        """Make ``snap`` the run's latest, with every sample batch seen so far (a snapshot carries the newest
        few only, to stay small)."""
        last = run.samples[-1][0] if run.samples else -1
        run.samples.extend(s for s in snap.samples if s[0] > last)
        snap.samples = list(run.samples)
        if snap.chars:
            run.chars = snap.chars
        run.snap = snap

    def _ensure_timer(self) -> None:
        if not self.timer.isActive():
            self.timer.start()

    @Slot(int, str)
    def _on_state(self, run_id: int, state: str) -> None:
        run = self.run_by_id(run_id)
        if run is None:
            return
        if state == "finished":
            # the loop has returned and its thread is ending: join it now, and take the final state
            if run.handle is not None:
                self._stop_worker(run)
            if run is self._active:
                self._update_buttons()
            return
        else:
            run.state = state
        if run.list_item is not None and not run.stopping:
            run.list_item.setText(run.name if state == "running" else f"{run.name} — {run.state}")
        if run is self._active:
            self._update_buttons()

    @Slot(int, str)
    def _on_failed(self, run_id: int, message: str) -> None:
        run = self.run_by_id(run_id)
        self._error(f"{run.name if run else 'run'} stopped: {message}")

    @Slot(int, object)
    def _on_reply(self, run_id: int, reply) -> None:
        """A command's result from the run's process: ("adam" | "saved" | "error" | "knob" | …, payload)."""
        if isinstance(reply, tuple) and len(reply) == 2 and isinstance(reply[0], str):
            self._on_result(run_id, *reply)

    def _on_result(self, run_id: int, what: str, payload) -> None:
        run = self.run_by_id(run_id)
        if run is None:
            return
        if what == "adam":
            run.adam_pending = False
            if run is self._active:
                self.adam.show_state(payload)
        elif what == "saved":
            self._notify(f"Saved {run.name} to {payload}")
        elif what == "error":
            self._error(str(payload))
        elif what == "knob":
            self.statusMessage.emit(str(payload))
        else:  # anything else ("facts", "trainer") is kept for whoever asked
            run.replies[what] = payload
            if what == "trainer":
                self._maybe_start_landscape()

    # ------------------------------------------------------------------------------------------------
    # knobs and requests (GUI → worker, through worker.call)
    @Slot(str, float)
    def _on_knob(self, name: str, value: float) -> None:
        run = self._active
        if run is None or not run.live or run.external:  # a watched run's knobs are its script's
            return
        self._call(run, partial(mj.RunJob.set_knob, name=name, value=value))

    def _call(self, run: RunView, fn) -> None:
        """Run ``fn(job)`` where the run's job is (its process), between steps; what it returns comes back to
        ``_on_reply``. ``fn`` must pickle (a RunJob method bound with functools.partial). An exception there
        is reported in the panel instead of ending the run."""
        run.handle.worker.call(partial(mj.guarded, fn))

    @Slot()
    def _on_sample_settings(self) -> None:
        settings = self.samples.settings()
        err = mj.check_prefix(settings["prefix"], self._active.chars or None if self._active else None)
        self.samples.show_error(err)
        if err:
            return
        for run in self.runs:
            if run.live and not run.external:
                self._call(run, partial(mj.RunJob.set_sampling, settings=settings))

    @Slot()
    def _sample_now(self) -> None:
        run = self._active
        if run is None:
            return
        if run.external:
            self._notify(f"{run.name}: its samples come from its own script (w.log(step, samples=[…])).")
            return
        settings = self.samples.settings()
        err = mj.check_prefix(settings["prefix"], run.chars or None)
        self.samples.show_error(err)
        if err:
            return
        if run.live:  # the next snapshot (sent at once when paused) carries the new samples
            self._call(run, partial(mj.RunJob.sample_now, settings=settings))
        elif run.job is not None:
            run.job.sample_now(settings)  # the run has ended: its job is back here
            self._take_snapshot(run, run.job.snapshot())
            self._ensure_timer()

    def _want_maps(self) -> bool:
        return self.tabs.currentWidget() in (self.tensors, self.heatmap)

    @Slot(int)
    def _on_tab(self, _index: int) -> None:
        """The heatmaps cost the worker a little per snapshot: build them only while their tab is shown."""
        want = self._want_maps()
        for run in self.runs:
            if run.live:
                self._call(run, partial(run.job_class.set_want_maps, want=want))
            elif run.job is not None:
                run.job.set_want_maps(want)
                self._take_snapshot(run, run.job.snapshot())
        self._inspected = None
        self._ensure_timer()
        self._request_adam(force=True)

    def _request_adam(self, force: bool = False) -> None:
        run = self._active
        if run is None or self.tabs.currentWidget() is not self.adam:
            return
        name = self.adam.tensor.currentText()
        if not name or (run.adam_pending and not force):
            return
        if run.live:
            if run.state == "paused" and not force:
                return
            run.adam_pending = True
            self._call(run, partial(run.job_class.adam_reply, tensor=name))
        elif run.job is not None:
            self.adam.show_state(run.job.adam_state(name))
        else:
            self.adam.show_state({"note": f"{run.name} ended without its optimizer state (its process died)."})

    @Slot(str)
    def _on_edge_preset(self, explanation: str) -> None:
        """An edge-of-stability preset was set up: show where its curve will be drawn, and say what to expect."""
        self.tabs.setCurrentWidget(self.landscape)
        self.landscape.views.setCurrentIndex(1)  # its sharpness curve
        self._notify(f"Edge of stability: {explanation} Press Start.")

    # ------------------------------------------------------------------------------------------------
    # the loss landscape (its own job in a child process)
    @Slot(dict)
    def compute_landscape(self, settings: dict) -> None:
        """Slice the loss around the selected run (and, for a shared PCA plane, every other run trained here):
        the runs' trainers go to a child process that computes the slice row by row. A live run sends a copy
        of its trainer between two steps and goes on training."""
        run = self._active
        if run is None or run.external or (run.job is None and not run.live):
            self.landscape.status.setText("Select a run trained here (a watched PyTorch run's weights are not in "
                                          "this window; a run whose process died has lost them).")
            return
        self.cancel_landscape()
        runs = [run] + ([r for r in self.runs if r is not run and not r.external and (r.live or r.job is not None)]
                        if settings.get("all_runs") else [])
        for r in runs:
            r.replies.pop("trainer", None)
            if r.live:
                self._call(r, mj.RunJob.trainer_reply)
        self._landscape_wait = {"settings": settings, "runs": runs}
        self.landscape.set_busy(True)
        self.landscape.clear_slice()
        self.landscape.status.setText("Fetching the runs' weights…")
        self._maybe_start_landscape()

    def _maybe_start_landscape(self) -> None:
        wait = self._landscape_wait
        if wait is None:
            return
        trainers = []
        for r in wait["runs"]:
            tr = r.replies.get("trainer") if r.live or r.job is None else r.job.trainer
            if tr is None:
                return  # still waiting for this run's copy
            trainers.append(tr)
        self._landscape_wait = None
        settings = {k: v for k, v in wait["settings"].items() if k != "all_runs"}
        names = [r.name for r in wait["runs"]]
        self._landscape_colours = {r.name: r.color for r in wait["runs"]}
        relay = _RunRelay(0, self)
        mine: list = []  # this slice's handle, once started (the relay's queued signals arrive after that)
        # what a cancelled slice still sends (it stops between rows) must not touch the one that replaced it
        relay.snapshot.connect(lambda _id, snap: mine[0] is self._landscape and
                               self.landscape.show_slice(snap, self._landscape_colours))
        relay.failed.connect(lambda _id, message: mine[0] is self._landscape and self._landscape_failed(message))
        relay.state.connect(lambda _id, state: mine[0] is self._landscape and self._landscape_state(state))

        def wire(w) -> None:  # before the thread starts (see workers.WorkerHandle)
            w.keep_job = False  # everything it made is in its snapshots
            relay.listen_to(w)

        handle = workers.start_process_loop(lj.make_landscape_job, (trainers, names, settings), "monitor-landscape",
                                            max_rate=10, connect=wire)
        mine.append(handle)
        self._landscape, self._landscape_relay = handle, relay

    def _landscape_failed(self, message: str) -> None:
        self.landscape.status.setText(f"Could not compute the landscape: {message}")
        self.landscape.set_busy(False)

    def _landscape_state(self, state: str) -> None:
        if state == "finished" and self._landscape is not None:
            handle, self._landscape = self._landscape, None
            handle.stop(2000)  # ended: this joins it
            self.landscape.set_busy(False)

    @Slot()
    def cancel_landscape(self) -> None:
        """Stop a slice in progress (between two rows) without waiting for it."""
        self._landscape_wait = None
        if self._landscape is not None:
            workers.retire(self._landscape, STOP_GRACE_S)
            self._landscape = None
            self.landscape.status.setText("Cancelled.")
        self.landscape.set_busy(False)

    # ------------------------------------------------------------------------------------------------
    # drawing
    @Slot()
    def _mark_all_dirty(self, *_):
        self.curves.x_mode = self.x_axis.currentData()
        placed = (self.curves.x_mode, self.curves.log_x)
        moved = placed != self._markers_placed  # steps ↔ tokens, or log x: the lines go where the axis puts them
        self._markers_placed = placed
        for r in self.runs:
            r.drawn_version = -1
            if moved:
                self.curves.clear_markers(r)
        self.curves.beta = self.smoothing.value()
        self.curves.forget_smoothing()
        self._redraw()

    @Slot()
    def _on_log(self, *_):
        self.curves.set_log(self.log_x.isChecked(), self.log_y.isChecked(), self.runs)
        self._mark_all_dirty()

    @Slot()
    def _redraw(self) -> None:
        any_live = False
        for run in self.runs:
            any_live |= run.live
            snap = run.snap
            if snap is None or snap.version == run.drawn_version:
                continue
            run.drawn_version = snap.version
            if self.curves.draw_run(run, snap) and run is self._active:
                self._show_status(run)
        if self._active is not None and self._active.snap is not None:
            self._draw_inspector(self._active)
        if not any_live and all(r.snap is None or r.drawn_version == r.snap.version for r in self.runs):
            self.timer.stop()
            self.adam_timer.stop()
        elif not self.adam_timer.isActive():
            self.adam_timer.start()

    def draw_now(self) -> None:
        """Draw every new snapshot and the selected run's table, labels and progress at once, without the
        inspector's twice-a-second throttle (a film's frame must show its step everywhere, not only in the
        curves)."""
        self._inspected_at = 0.0
        self._redraw()

    def _draw_inspector(self, run: RunView) -> None:
        snap = run.snap
        total = max(snap.total, 1)
        # every Qt call below gives the GIL up and waits to get it back from the training thread: make few
        if self.progress.maximum() != total:
            self.progress.setRange(0, total)
        if self.progress.value() != min(snap.step, total):
            self.progress.setValue(min(snap.step, total))
        now = time.monotonic()
        if snap.version == getattr(self, "_inspected", None) or (
                run.live and now - getattr(self, "_inspected_at", 0.0) < INSPECT_S):
            return
        self._inspected, self._inspected_at = snap.version, now
        if run.live and run.external and snap.rate > 0:  # its script knows how long it will run, not we
            self.rate_label.setText(f"{snap.rate:,.1f} steps/s")
        elif run.live and run.state == "running" and snap.rate > 0:
            eta = (total - snap.step) / snap.rate
            self.rate_label.setText(f"{snap.rate:,.0f} steps/s · ETA {_duration(eta)}")
        else:
            self.rate_label.setText(run.state)
        self._show_status(run)
        if snap.names:
            idx = select_tensors(snap.names, snap.g, snap.w, snap.u, self.tensor_filter.text(),
                                 self.tensor_sort.currentData())
            self.tensor_count.setText(f"{len(idx)} of {len(snap.names)}")
            if self.tabs.currentWidget() is self.tensors:
                self.tensors.show_stats(snap, idx)
            elif self.tabs.currentWidget() is self.heatmap and snap.log_u.shape[1]:
                self.heatmap.show_maps(snap.map_steps, [snap.names[i] for i in idx], snap.log_u[idx],
                                       snap.log_g[idx])
            self.adam.set_names([snap.names[i] for i in idx])
        self.samples.show_samples(snap.samples)
        if self.tabs.currentWidget() is self.landscape:
            self.landscape.show_sharpness(run.name, snap)

    @Slot()
    def _on_selection(self, *_) -> None:
        """The tensor filter or sort changed: redraw the inspector now (not at the next snapshot)."""
        self._inspected, self._inspected_at = None, 0.0
        if self._active is not None and self._active.snap is not None:
            self._draw_inspector(self._active)

    def _show_status(self, run: RunView | None) -> None:
        parts = []
        snap = run.snap if run is not None else None
        if run is not None and snap is None and run.state == "starting":
            parts.append(f"<b>{run.name}</b>: opening the run folder…" if run.external else
                         f"<b>{run.name}</b>: starting… (a new Python process loads NumPy and builds the model)")
        if snap is not None:
            if snap.status == "diverged":
                parts.append(f"<span style='color:#D55E00'><b>{run.name}: {snap.message}</b></span>")
            else:
                parts.append(f"<b>{run.name}</b>: {snap.message}")
        html, until = self._notice
        if html and time.monotonic() < until:
            parts.append(html)
        text = "<br>".join(parts) or "Press Start to train."
        if self.status_label.text() != text:
            self.status_label.setText(text)

    def _show_inspector(self, run: RunView | None) -> None:
        self._inspected = None
        self.tensors.clear_stats()
        self.heatmap.clear_maps()
        self.samples.clear_samples()
        self.adam.show_state(None)
        if run is None:
            self.progress.setValue(0)
            self.rate_label.setText("")
            self._show_status(None)
            return
        if run.snap is not None:
            self._draw_inspector(run)
        else:
            self.rate_label.setText(run.state)
            self._show_status(run)
        self._request_adam(force=True)

    @Slot(QListWidgetItem)
    def _on_run_item(self, item: QListWidgetItem) -> None:
        run = self.run_by_id(item.data(Qt.ItemDataRole.UserRole))
        if run is None or not run.items:
            return
        visible = item.checkState() == Qt.CheckState.Checked
        for it in list(run.items.values()) + run.markers:
            it.setVisible(visible)
        self.curves.fit_lr_axis(self._active, self.runs)  # lr is drawn for the selected run only

    @Slot(int)
    def _on_run_row(self, row: int) -> None:
        item = self.run_list.item(row) if row >= 0 else None
        run = self.run_by_id(item.data(Qt.ItemDataRole.UserRole)) if item is not None else None
        self._active = run
        self._show_baseline()
        self.curves.fit_lr_axis(run, self.runs, force=True)
        self._show_inspector(run)
        self._update_buttons()

    def _show_baseline(self) -> None:
        """The uniform-guess line ln V of the selected run (of the corpus when no run is selected); a watched
        run's only if its script logged its vocabulary."""
        run = self._active
        if run is not None and run.external and run.vocab is None:
            self.curves.set_vocabulary(None, f"no uniform-guess line for {run.name}: its script did not pass "
                                             "config={'vocab_size': V} to adamlab.watch")
        elif run is not None and run.vocab is not None:
            self.curves.set_vocabulary(run.vocab)
        elif self._corpus is not None:
            self.curves.set_vocabulary(self._corpus.tokenizer.vocab_size)
        else:  # no run, no corpus: nothing to draw, and nothing left over from a removed run
            self.curves.set_vocabulary(None)

    def _update_buttons(self) -> None:
        self.empty_hint.setVisible(not self.runs)
        run = self._active
        live = run is not None and run.live and not run.stopping
        self.pause_button.setEnabled(live)
        self.step_button.setEnabled(live and not run.external)
        self.stop_button.setEnabled(live)
        self.remove_button.setEnabled(run is not None)
        self.save_button.setEnabled(run is not None and not run.external)
        if run is not None and run.external:  # following a folder: pause/stop the following, not a training
            self.pause_button.setToolTip("Pause / resume following the selected run's folder.")
            self.stop_button.setToolTip("Stop following the selected run's folder (what was read stays).")
        else:
            self.pause_button.setToolTip("Pause / resume the selected run.")
            self.stop_button.setToolTip("Stop the selected run for good (its curves stay).")
        self.csv_button.setEnabled(run is not None and run.snap is not None)
        self.pause_button.setText("Resume" if live and run.handle.worker.paused else "Pause")

    def _error(self, message: str) -> None:
        self.last_error = message  # (the window's open_path and `adamlab record --run` say it too)
        self._notify(f"<span style='color:#D55E00'>{message}</span>", message)

    def _notify(self, html: str, plain: str | None = None) -> None:
        """A notice under the curves for a few seconds (saved, errors), and in the window's status bar."""
        self._notice = (html, time.monotonic() + NOTICE_S)
        self.statusMessage.emit(plain or html)
        self._show_status(self._active)

    # ------------------------------------------------------------------------------------------------
    # files
    def save_run(self, path: str | Path, run: RunView | None = None) -> None:
        """Save the run's checkpoint to ``path`` where its job is (its process, between steps); "saved" comes back."""
        run = run or self._active
        if run is None:
            raise ValueError("there is no run to save")
        if run.external:
            raise ValueError(f"{run.name} is a watched PyTorch run: its own script saves its checkpoints")
        if run.live:
            self._call(run, partial(mj.RunJob.save_reply, path=str(path)))
        elif run.job is not None:
            run.job.save(path)
            self._on_result(run.id, "saved", str(path))
        else:
            raise ValueError(f"{run.name} ended without its weights (its process died)")

    def open_run_folder(self, path: str | Path) -> RunView | None:
        """Follow a run folder written by ``adamlab.watch`` (a file inside it works too) as a new run: its
        curves, tensors, Adam histograms and samples, growing while it is written. None, with a message, for a
        folder that is not a readable run."""
        self.last_error = None
        try:
            folder, meta = ext.check_folder(path)
        except (ValueError, OSError) as exc:  # RunFormatError is a ValueError: one line, nothing added
            self._error(f"Could not open {path}: {exc}")
            return None
        for run in self.runs:
            if run.external == folder and run.live:  # already followed: show it
                self.run_list.setCurrentItem(run.list_item)
                return run
        if self._live_count() >= MAX_LIVE_RUNS:
            self._error(f"{MAX_LIVE_RUNS} runs are already going: stop one first.")
            return None
        recipe = (ext.make_follow_job, (str(folder), self._want_maps()))
        return self._add_run(recipe, f"run {self._next_id} · {folder.name} (PyTorch)", paused=False,
                             external=folder, vocab=ext.vocab_size(meta))

    def _open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open a run folder (written by adamlab.watch)")
        if path:
            self.open_run_folder(path)

    def load_run(self, path: str | Path) -> RunView | None:
        """Load a checkpoint as a new paused run (its curves come back); Resume continues it."""
        self.last_error = None
        try:
            job = mj.RunJob.from_checkpoint(path, sampling=self.samples.settings())
        except Exception as exc:  # noqa: BLE001 — a bad file is reported, never a crash
            self._error(f"Could not load {path}: {exc}")
            return None
        if self._live_count() >= MAX_LIVE_RUNS:
            self._error(f"{MAX_LIVE_RUNS} runs are already going: stop one first.")
            return None
        # the checkpoint is read here to check it and to draw its curves at once; the run's process reads it
        # again to continue it
        recipe = (mj.make_loaded_job, (str(path), self.samples.settings(), self._want_maps()))
        job.want_maps = self._want_maps()
        run = self._add_run(recipe, f"run {self._next_id} · loaded {Path(path).name}", paused=True,
                            chars=job.tokenizer.chars, snap=job.snapshot(), vocab=job.tokenizer.vocab_size)
        self._redraw()
        return run

    def export_metrics(self, path: str | Path, run: RunView | None = None) -> Path:
        """Write the run's full metrics (not the drawn, downsampled view) as CSV."""
        run = run or self._active
        if run is None or run.snap is None:
            raise ValueError("there is no run to export")
        return mj.write_metrics_csv(run.snap, path, self.curves.smoothed(run))

    def _save_dialog(self) -> None:
        path = ask_save_path(self, "Save run", "adamlab-run.npz", "AdamLab checkpoint (*.npz)", ".npz")
        if path:
            try:
                self.save_run(path)
            except (OSError, ValueError) as exc:
                self._error(f"Could not save: {exc}")

    def _load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Load run", "", "AdamLab checkpoint (*.npz);;All files (*)")
        if path:
            self.load_run(path)

    def _csv_dialog(self) -> None:
        path = ask_save_path(self, "Export metrics", "adamlab-metrics.csv", "CSV (*.csv)", ".csv")
        if path:
            try:
                self.export_metrics(path)
            except (OSError, ValueError) as exc:
                self._error(f"Could not export: {exc}")

    # ------------------------------------------------------------------------------------------------
    # Panel interface
    def plots(self) -> dict[str, pg.PlotItem]:
        return {"Loss curves": self.curves.getPlotItem(), "Update/weight ratio": self.tensors.plot,
                "Update/weight heatmap": self.heatmap.plots[0],
                "Gradient heatmap": self.heatmap.plots[1], "Adam m_hat/(√v_hat+ε)": self.adam.snr_plot,
                "Adam effective lr": self.adam.lr_plot}

    def get_state(self) -> dict[str, Any]:
        return {"setup": self.setup.get_state(), "smoothing": self.smoothing.value(),
                "x_axis": self.x_axis.currentData(), "log_x": self.log_x.isChecked(),
                "log_y": self.log_y.isChecked(), "samples": self.samples.settings(),
                "tab": self.tabs.currentIndex(), "compare": self.compare_kinds()}

    UNDO_IGNORES = ("tab",)  # the tab shown is where one looks, not a setting to undo

    def state_schema(self) -> Fields:
        s = self.samples
        return Fields({"setup": self.setup.schema(), "smoothing": of(self.smoothing), "x_axis": of(self.x_axis),
                       "log_x": Bool(), "log_y": Bool(), "tab": Int(0, self.tabs.count() - 1),
                       "compare": Seq(Choice(OPTIMIZERS), len(OPTIMIZERS)),
                       "samples": Fields({"n": of(s.count), "every": of(s.every), "temperature": of(s.temperature),
                                          "prefix": of(s.prefix)})})

    def set_state(self, state: dict[str, Any]) -> None:
        if not isinstance(state, dict):
            return
        self.setup.set_state(state.get("setup", {}))
        if isinstance(state.get("smoothing"), (int, float)):
            self.smoothing.setValue(state["smoothing"])
        i = self.x_axis.findData(state.get("x_axis"))
        if i >= 0:
            self.x_axis.setCurrentIndex(i)
        for key, box in (("log_x", self.log_x), ("log_y", self.log_y)):
            if isinstance(state.get(key), bool):
                box.setChecked(state[key])
        s = state.get("samples")
        if isinstance(s, dict):
            for key, w in (("n", self.samples.count), ("every", self.samples.every)):
                if isinstance(s.get(key), int):
                    w.setValue(s[key])
            if isinstance(s.get("temperature"), (int, float)):
                self.samples.temperature.setValue(s["temperature"])
            if isinstance(s.get("prefix"), str):
                self.samples.prefix.setText(s["prefix"])
        if isinstance(state.get("tab"), int) and 0 <= state["tab"] < self.tabs.count():
            self.tabs.setCurrentIndex(state["tab"])
        if isinstance(state.get("compare"), list):
            self.set_compare_kinds(state["compare"])

    def reset_defaults(self) -> None:
        self.setup.reset_defaults()
        self.smoothing.setValue(0.9)
        self.x_axis.setCurrentIndex(0)
        self.log_x.setChecked(False)
        self.log_y.setChecked(False)
        self.samples.count.setValue(5)
        self.samples.every.setValue(200)
        self.samples.temperature.setValue(0.5)
        self.set_compare_kinds(COMPARE)
        self.samples.prefix.setText("")

    def animations(self) -> dict:
        from adamlab.ui.panels.monitor import animate

        return animate.animations(self)

    def is_idle(self) -> bool:
        """Every run's latest snapshot is on screen (a live run keeps training; what it sent so far is drawn)."""
        return all(r.snap is None or r.drawn_version == r.snap.version for r in self.runs)

    def shutdown(self) -> None:
        self.timer.stop()
        self.adam_timer.stop()
        # every run at once, within one bound (a hung process is killed); nothing needs sending back
        handles = [run.handle for run in self.runs if run.handle is not None]
        if self._landscape is not None:
            handles.append(self._landscape)
            self._landscape = None
        workers.stop_together(handles)
        for run in self.runs:
            run.handle = None
            if run.stop_timer is not None:
                run.stop_timer.stop()


def _duration(seconds: float) -> str:
    if not math.isfinite(seconds) or seconds < 0:
        return "—"
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
