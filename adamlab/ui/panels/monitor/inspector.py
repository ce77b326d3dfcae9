"""The monitor's right-hand tabs: inside the model while it trains.

* :class:`TensorTable` — the seeds' per-tensor log: name, shape, g (gradient RMS), w (weight RMS) and
  u (update/weight ratio) with colour hints against Karpathy's ~1e-3 rule of thumb.
* :class:`HeatmapView` — log10(u) and log10(g) per tensor over time: which layers move, and when.
* :class:`AdamStateView` — histograms of m̂/(√v̂+ε) and of lr/(√v̂+ε) for one tensor.
* :class:`SamplesView` — generations every K steps at a temperature, kept by step.

These widgets only draw what they are given (NumPy arrays computed where the run trains: its child process).
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtGui import QBrush, QColor, QFontMetrics
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from adamlab.ui import theme
from adamlab.ui.widgets.controls import FloatSlider
from adamlab.ui.widgets.layout import AspectSplitter
from adamlab.ui.widgets.plots import pen, style_plot

U_TARGET = -3.0  # log10 of the update/weight ratio that Karpathy's makemore lecture calls healthy


def u_hint(u: float) -> tuple[str, str]:
    """(colour, words) for an update/weight ratio against the ~1e-3 rule of thumb."""
    if not (u > 0 and math.isfinite(u)):
        return "#7F7F7F", "no update yet"
    d = math.log10(u) - U_TARGET
    if abs(d) <= 0.5:
        return "#009E73", "about 1e-3: a healthy pace"
    if abs(d) <= 1.0:
        return "#E69F00", "a little " + ("fast" if d > 0 else "slow") + " (within 10× of 1e-3)"
    return "#D55E00", ("far too fast: weights change by more than 1% a step" if d > 0
                       else "barely moving: less than 1e-4 of the weight per step")


SORTS = {"model": "model order", "u_desc": "u, largest first", "u_asc": "u, smallest first",
         "g_desc": "g, largest first", "w_desc": "w, largest first", "name": "name"}
MAX_CURVES = 40  # u curves drawn at once (the first of the selection): hundreds of curves are one grey mass
MAX_TICKS = 16  # heatmap rows named on the axis; with more, every k-th (the filter finds the others)


def select_tensors(names: list[str], g, w, u, text: str = "", sort: str = "model") -> np.ndarray:
    """Indexes of the tensors a person asked for, in the order asked: every space-separated term of ``text``
    must occur in the name (case-insensitive), a term starting with "-" must not; then sorted by ``sort``
    (a key of SORTS; NaN last). A 24-layer model has hundreds of tensors: "attn -bias", "h.3." find them."""
    terms = text.lower().split()
    keep = [i for i, n in enumerate(names)
            if all((t[1:] not in n.lower()) if t.startswith("-") and len(t) > 1 else (t in n.lower()) for t in terms)]
    idx = np.array(keep, dtype=np.int64)
    if sort == "name":
        return idx[np.argsort([names[i] for i in idx], kind="stable")]
    if sort != "model" and idx.size:
        values = {"u": u, "g": g, "w": w}[sort[0]]
        v = np.asarray(values, dtype=np.float64)[idx]
        key = np.where(np.isfinite(v), -v if sort.endswith("desc") else v, np.inf)
        return idx[np.argsort(key, kind="stable")]
    return idx


class TensorTable(QTableWidget):
    """name | shape | g | w | u (| by: Muon or AdamW, for Muon + AdamW), refreshed from the latest per-tensor
    statistics."""

    HEADERS = ("tensor", "shape", "g", "w", "u", "by")
    ROUTE_NAMES = {"muon": "Muon", "adamw": "AdamW"}

    def __init__(self, parent: QWidget | None = None):
        super().__init__(0, len(self.HEADERS), parent)
        self.setHorizontalHeaderLabels(self.HEADERS)
        tips = ("The parameter tensor (microgpt's names).", "(out, in): weights are stored as in microgpt.",
                "g = √mean(grad²): the gradient's size in this tensor.",
                "w = √mean(θ²): the weights' size.",
                "u = RMS(Δθ)/RMS(θ): how much of the weight one step changes; ~1e-3 is the rule of thumb "
                "(green near it, orange within 10×, red beyond).",
                "Which optimizer steps this tensor: Muon + AdamW orthogonalises the hidden matrices' updates "
                "(Muon) and steps the embeddings, the head and any vector with AdamW.")
        for i, tip in enumerate(tips):
            self.horizontalHeaderItem(i).setToolTip(tip)
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        hh = self.horizontalHeader()
        hh.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        hh.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        theme.sized(self.verticalHeader(), setDefaultSectionSize=22)
        self.setToolTip("Per-tensor statistics of the latest step (the seeds' g / w / u log).")
        self.setColumnHidden(5, True)  # shown for composite optimizers only
        # a narrow column keeps both ends of a name: "h.2.m…c_fc.weight" tells weight from bias and layer from layer
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)

    def natural_width(self) -> int:
        """The width at which every column shows its text (names included)."""
        cols = sum(max(self.sizeHintForColumn(c), self.horizontalHeader().sectionSizeHint(c))
                   for c in range(self.columnCount()))
        return cols + 2 * self.frameWidth() + self.verticalScrollBar().sizeHint().width() + 4

    def show_stats(self, names, shapes, g, w, u, colours=None, routes=None) -> None:
        """One row per tensor, in the order given; ``colours`` are the swatches (each tensor's curve colour);
        ``routes`` (name → "muon"/"adamw") fills the "by" column, hidden without it."""
        routes = routes or {}
        if self.isColumnHidden(5) == bool(routes):
            self.setColumnHidden(5, not routes)
        if self.rowCount() != len(names):
            self.setRowCount(len(names))
            self._texts: dict[tuple[int, int], str] = {}
        texts = getattr(self, "_texts", {})
        for r, name in enumerate(names):
            cells = (name, "×".join(str(s) for s in shapes[r]), _sci(g[r]), _sci(w[r]), _sci(u[r]),
                     self.ROUTE_NAMES.get(routes.get(name), ""))
            for c, text in enumerate(cells):
                if texts.get((r, c)) == text:  # a Qt call only for a cell that changed
                    continue
                item = self.item(r, c)
                if item is None:
                    item = QTableWidgetItem()
                    if 2 <= c <= 4:
                        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                    self.setItem(r, c, item)
                item.setText(text)
                if c == 0:
                    item.setToolTip(text)  # the whole name, when the column is narrower than it
                texts[(r, c)] = text
            if colours is not None and texts.get((r, "icon")) != colours[r]:
                self.item(r, 0).setIcon(theme.swatch(colours[r]))  # its curve's colour; text stays readable
                texts[(r, "icon")] = colours[r]
            colour, words = u_hint(float(u[r]))
            if texts.get((r, "colour")) != (colour, cells[4]):  # u's tint and tip follow u
                # a translucent tint behind theme-coloured text: readable on light and dark alike
                # (orange text on white was 2.3:1)
                tint = QColor(colour)
                tint.setAlpha(70)
                self.item(r, 4).setBackground(QBrush(tint))
                self.item(r, 4).setToolTip(f"u = {u[r]:.3g}: {words}")
                texts[(r, "colour")] = (colour, cells[4])
        self._texts = texts

    def clear_stats(self) -> None:
        self.setRowCount(0)
        self._texts = {}


class TensorsView(QWidget):
    """The g / w / u table above Karpathy's update-to-weight plot: log10 u of every tensor over time against the
    1e-3 line. A tensor's name in the table has the colour of its curve."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.table = TensorTable()
        self.plot_widget = pg.PlotWidget()
        self.plot = self.plot_widget.getPlotItem()
        style_plot(self.plot, title="update/weight ratio per tensor over time", left="log10 u",
                   bottom="step", legend=False, grid=False)
        self.plot.addItem(pg.InfiniteLine(pos=U_TARGET, angle=0, movable=False,
                                          pen=pen("#7F7F7F", 1, Qt.PenStyle.DashLine),
                                          label="1e-3", labelOpts={"position": 0.9, "color": "#7F7F7F"}))
        self.plot_widget.setToolTip("log10 of RMS(Δθ)/RMS(θ) per tensor, one curve per table row (same colour). "
                                    "Near −3 (dashed): the weights change by ~0.1% a step. With SGD the curves "
                                    "spread over orders of magnitude; Adam pulls them together.")
        self.curves: list[pg.PlotDataItem] = []
        note = QLabel("g: gradient RMS · w: weight RMS · u = RMS(Δθ)/RMS(θ), the update-to-weight ratio "
                      "(green ≈ 1e-3, orange within 10×, red beyond)")
        note.setWordWrap(True)
        self.more_label = QLabel("")
        self.more_label.setWordWrap(True)
        self.more_label.setVisible(False)
        top = QWidget()
        top.natural_width = self.table.natural_width
        tl = QVBoxLayout(top)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(self.table, 1)
        tl.addWidget(note)
        tl.addWidget(self.more_label)
        # table above the plot in a tall tab; side by side when the tabs sit under the curves (1024 px)
        self.split = AspectSplitter(top, self.plot_widget, shares=(3, 4), max_first=0.66)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addWidget(self.split)

    def show_stats(self, snap, idx: np.ndarray | None = None) -> None:
        """The tensors ``idx`` of ``snap`` (all, in model order, when None): table rows, and u curves for the
        first MAX_CURVES of them. A tensor keeps its colour (its index in the model) whatever the order."""
        idx = np.arange(len(snap.names)) if idx is None else np.asarray(idx, dtype=np.int64)
        names = [snap.names[i] for i in idx]
        new_names = self.table.rowCount() != len(names)
        drawn = idx[:MAX_CURVES]
        while len(self.curves) < len(drawn):
            c = self.plot.plot([], [], pen=pen(theme.CYCLE[0], 1))
            c.setDownsampling(auto=True, method="peak")
            c.setClipToView(True)
            self.curves.append(c)
        colours = [theme.cycle_color(int(i)) for i in idx]
        self.table.show_stats(names, [snap.shapes[i] for i in idx], snap.g[idx], snap.w[idx], snap.u[idx], colours,
                              getattr(snap, "routes", None))
        if new_names:
            self.split.refit()  # the names' width is known now
        has_map = snap.log_u.shape[1] == snap.map_steps.size and snap.map_steps.size
        for k, c in enumerate(self.curves):
            if k < len(drawn) and has_map:
                i = int(drawn[k])
                if getattr(c, "tensor", None) != i:
                    c.setPen(pen(theme.cycle_color(i), 1))
                    c.tensor = i
                c.setData(snap.map_steps, snap.log_u[i], connect="finite")
                c.setVisible(True)
            else:
                c.setVisible(False)
        self.more_label.setVisible(len(idx) > MAX_CURVES)
        self.more_label.setText(f"u curves of the first {MAX_CURVES} of {len(idx)} tensors shown: filter or "
                                "sort to pick others")

    def clear_stats(self) -> None:
        self.table.clear_stats()
        for c in self.curves:
            c.setData([], [])


def _sci(x: float) -> str:
    """A table cell: 1.2e-03 (inf stays inf: a blow-up); "—" for NaN, a value not known (a watched step
    without a grad, a replay's w)."""
    return "—" if np.isnan(x) else f"{x:.1e}"


SIDE_BY_SIDE_RATIO = 2.0  # the heatmaps sit side by side when the view is at least this many times as wide as tall


class HeatmapView(pg.GraphicsLayoutWidget):
    """Two images, tensors × time: log10(u) (top) and log10(g) (bottom), with colour bars."""

    def __init__(self, parent: QWidget | None = None):
        self.side_by_side = False
        super().__init__(parent)
        self.plots, self.images, self.bars = [], [], []
        for row, (title, levels, cmap) in enumerate(
                (("log10 u per tensor", (-5.0, -1.0), "viridis"),  # the colour bar beside it gives the scale
                 ("log10 g per tensor", (-5.0, 0.0), "inferno"))):
            p = self.addPlot(row=row, col=0)
            style_plot(p, title=title, bottom="step", legend=False, grid=False)
            img = pg.ImageItem(axisOrder="row-major")
            p.addItem(img)
            p.invertY(True)
            p.setMouseEnabled(x=True, y=False)
            bar = pg.ColorBarItem(values=levels, colorMap=pg.colormap.get(cmap), width=12, interactive=False)
            bar.setImageItem(img, insert_in=p)
            self.plots.append(p)
            self.images.append(img)
            self.bars.append(bar)
        self.setToolTip("Each row is a tensor, each column a moment of training; colour is log10 of the value. "
                        "A row far below the others (dark) is a layer that barely moves.")
        self._names: list[str] = []
        self.plots[0].vb.sigResized.connect(self._name_rows)  # a shorter map names fewer rows

    def resizeEvent(self, event) -> None:
        """The two maps one above the other in a tall view, side by side in a wide, short one (the tabs under
        the curves at 1024 × 700), where stacked they would be strips with their names overprinted."""
        super().resizeEvent(event)
        if len(getattr(self, "plots", ())) < 2:  # pyqtgraph's own __init__ resizes before the maps exist
            return
        side = self.width() >= SIDE_BY_SIDE_RATIO * self.height()
        if side != self.side_by_side:
            self.side_by_side = side
            self.ci.removeItem(self.plots[1])
            self.ci.addItem(self.plots[1], row=0 if side else 1, col=1 if side else 0)

    def _name_rows(self, *_) -> None:
        """Name the rows on the left axis: every k-th when the map is too short for each name on a line of its
        own (at most MAX_TICKS in any case); the filter finds the others."""
        names = self._names
        line = QFontMetrics(self.plots[0].getAxis("left").style.get("tickFont") or self.font()).height() + 1
        room = max(1, int(self.plots[0].vb.height() // line)) if self.plots[0].vb.height() > 0 else MAX_TICKS
        every = max(1, -(-len(names) // min(MAX_TICKS, room)))
        if (every, names) == getattr(self, "_named", None):
            return
        self._named = (every, list(names))
        ticks = [[(i + 0.5, n) for i, n in enumerate(names) if i % every == 0]]
        for p in self.plots:
            p.getAxis("left").setTicks(ticks)
        shown = "" if every == 1 else f" (every {every}th named on the axis)"
        self.setToolTip("Each row is a tensor, each column a moment of training; colour is log10 of the "
                        "value. A row far below the others (dark) is a layer that barely moves." + shown)

    def show_maps(self, steps: np.ndarray, names: list[str], log_u: np.ndarray, log_g: np.ndarray) -> None:
        """steps (K,), log_u and log_g (n_tensors, K) with NaN where unknown; one row per name, in order."""
        if names != self._names:
            self._names = list(names)
            self._name_rows()
        if steps.size == 0:
            for img in self.images:
                img.clear()
            return
        x0, x1 = float(steps[0]), float(steps[-1]) + (float(steps[-1] - steps[0]) / max(steps.size - 1, 1) or 1.0)
        for img, data in zip(self.images, (log_u, log_g)):
            img.setImage(np.asarray(data, dtype=np.float32), autoLevels=False)
            img.setRect(x0, 0.0, x1 - x0, float(len(names)))

    def clear_maps(self) -> None:
        for img in self.images:
            img.clear()


class AdamStateView(QWidget):
    """Histograms of Adam's per-parameter signal-to-noise m̂/(√v̂+ε) and effective lr lr/(√v̂+ε)."""

    tensorChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.tensor = QComboBox()
        self.tensor.setToolTip("The tensor whose Adam state is shown.")
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.snr_widget, self.lr_widget = pg.PlotWidget(), pg.PlotWidget()
        self.snr_plot = self.snr_widget.getPlotItem()
        style_plot(self.snr_plot, title="<i>m̂</i> / (√<i>v̂</i> + ε): signal-to-noise per parameter", bottom="value",
                   left="count", legend=False)
        self.lr_plot = self.lr_widget.getPlotItem()
        style_plot(self.lr_plot, title="lr / (√<i>v̂</i> + ε): effective learning rate", bottom="log10(effective lr)",
                   left="count", legend=False)
        self.lr_plot.getAxis("bottom").enableAutoSIPrefix(False)  # log10 values: "−2.5", not "−2500 (×0.001)"
        brush_a, brush_b = pg.mkBrush(theme.COLORS["gradient"]), pg.mkBrush(theme.COLORS["second"])
        self.snr_hist = pg.PlotDataItem([0, 1], [0], stepMode="center", fillLevel=0, brush=brush_a,
                                        pen=pen(theme.COLORS["gradient"]))
        self.lr_hist = pg.PlotDataItem([0, 1], [0], stepMode="center", fillLevel=0, brush=brush_b,
                                       pen=pen(theme.COLORS["second"]))
        self.snr_plot.addItem(self.snr_hist)
        self.lr_plot.addItem(self.lr_hist)
        # one above the other in a tall tab, side by side when the tabs sit under the curves (1024 px)
        self.plots_split = AspectSplitter(self.snr_widget, self.lr_widget, ratio=1.2)
        self.plots_split.setToolTip(
            "<qt>|<i>m̂</i>|/(√<i>v̂</i>+ε) near 1: the gradient keeps its sign (signal); near 0: it flips (noise). "
            "Adam's step is lr times this, so every parameter moves at most about lr.<br>lr/(√<i>v̂</i>+ε): each "
            "parameter's own learning rate; rare or small gradients get large ones.</qt>")
        row = QHBoxLayout()
        row.addWidget(QLabel("tensor"))
        row.addWidget(self.tensor, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(row)
        lay.addWidget(self.note)
        lay.addWidget(self.plots_split, 1)
        self.tensor.currentTextChanged.connect(self._on_tensor)

    @Slot(str)
    def _on_tensor(self, name: str) -> None:
        if name:
            self.tensorChanged.emit(name)

    def set_names(self, names: list[str]) -> None:
        current = [self.tensor.itemText(i) for i in range(self.tensor.count())]
        if current == list(names):
            return
        keep = self.tensor.currentText()
        self.tensor.blockSignals(True)
        self.tensor.clear()
        self.tensor.addItems(list(names))
        if keep in names:
            self.tensor.setCurrentText(keep)
        self.tensor.blockSignals(False)

    def show_state(self, state: dict | None) -> None:
        """``state``: {"tensor", "step", "snr": (counts, edges), "log_lr": (counts, edges)} or {"note": str}."""
        if not state or "snr" not in state:
            self.note.setText((state or {}).get("note", "Start a run with Adam or AdamW to see its state."))
            self.snr_hist.setData([0, 1], [0])
            self.lr_hist.setData([0, 1], [0])
            return
        self.note.setText(f"{state['tensor']} at step {state['step']}: {state['size']:,} parameters")
        counts, edges = state["snr"]
        self.snr_hist.setData(edges, counts)
        counts, edges = state["log_lr"]
        self.lr_hist.setData(edges, counts)


class SamplesView(QWidget):
    """Sampling controls and the history of samples by step."""

    settingsChanged = Signal()
    sampleNow = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.count = QSpinBox()
        self.count.setRange(1, 50)
        self.count.setValue(5)
        self.count.setToolTip("How many names (documents) to generate each time.")
        self.every = QSpinBox()
        self.every.setRange(10, 1_000_000)
        self.every.setSingleStep(50)
        self.every.setValue(200)
        self.every.setToolTip("Generate samples every K steps (sampling costs time, so not every step).")
        self.temperature = FloatSlider("T", 0.0, 2.0, 0.5, decimals=2,
                                       tooltip="Temperature: sample from softmax(logits / T). T = 0 is greedy "
                                               "argmax — watch it fall into repetition loops.")
        self.prefix = QLineEdit()
        self.prefix.setPlaceholderText("prompt prefix (optional)")
        self.prefix.setToolTip("Every sample starts with these characters (they must be in the vocabulary).")
        self.now = QPushButton("Sample now")
        self.now.setToolTip("Generate samples from the current weights of the selected run.")
        self.error = QLabel("")
        self.error.setStyleSheet("color: #D55E00;")
        self.error.setWordWrap(True)
        self.error.hide()
        self.list = QListWidget()
        self.list.setWordWrap(True)
        self.list.setToolTip("Samples by step (newest at the top). Early samples are random letters; "
                             "later ones look like names.")
        r1 = QHBoxLayout()
        for lab, w in (("n", self.count), ("every", self.every)):
            r1.addWidget(QLabel(lab))
            r1.addWidget(w)
        r1.addWidget(self.now)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 2, 2, 2)
        lay.addLayout(r1)
        lay.addWidget(self.temperature)
        lay.addWidget(self.prefix)
        lay.addWidget(self.error)
        lay.addWidget(self.list, 1)
        for sig in (self.count.valueChanged, self.every.valueChanged, self.temperature.valueChanged,
                    self.prefix.editingFinished):
            sig.connect(self._changed)
        self.now.clicked.connect(self.sampleNow)
        self._shown = 0

    @Slot()
    def _changed(self, *_):
        self.settingsChanged.emit()

    def settings(self) -> dict:
        return {"n": self.count.value(), "every": self.every.value(), "temperature": self.temperature.value(),
                "prefix": self.prefix.text()}

    def show_error(self, message: str) -> None:
        self.error.setText(message)
        self.error.setVisible(bool(message))

    def show_samples(self, samples: list[tuple[int, int, float, list[str]]]) -> None:
        """samples: the (bounded) history as (serial, step, temperature, texts); only unseen serials are added."""
        for serial, step, temp, texts in samples:
            if serial < self._shown:
                continue
            self.list.insertItem(0, f"step {step} (T={temp:g}): " + ", ".join(t or "∅" for t in texts))
            self._shown = serial + 1
        while self.list.count() > 500:  # bounded, like everything else
            self.list.takeItem(self.list.count() - 1)

    def clear_samples(self) -> None:
        self.list.clear()
        self._shown = 0
