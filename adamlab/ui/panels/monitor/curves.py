"""The monitor's loss plot: every run's raw and smoothed loss, validation dots, the selected run's lr(t) on a
right-hand axis, the uniform-guess baseline, and markers for live knob changes and divergence.

Plot items are made once per run and updated with ``setData`` (GUIDE §4); the view settings (x in steps or
tokens, log axes, the smoothing β) are plain attributes the panel sets before asking for a redraw.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Slot
from PySide6.QtGui import QPalette

from adamlab.ui import theme
from adamlab.ui.panels.monitor import job as mj
from adamlab.ui.panels.monitor.runs import RunView
from adamlab.ui.widgets.layout import FittingLabel
from adamlab.ui.widgets.plots import pen, set_export_name, style_plot

DIVERGED = "#D55E00"


class LossPlot(pg.PlotWidget):
    """Loss curves of every run, one colour per run."""

    def __init__(self):
        super().__init__()
        self.x_mode = "steps"  # or "tokens"
        self.log_x = self.log_y = False
        self.beta = 0.9  # smoothing β of the debiased EMA
        self._smooth_cache: dict[int, tuple] = {}
        self._lr_top: float | None = None
        p = self.getPlotItem()
        # no grid: grid lines made the axes' repaint ~25 ms a frame, the largest GUI cost while training.
        # No legend box either (it covered curves, markers and their labels): the run list below the plot is
        # the key to the runs' colours, and ``key_label`` (a line under the plot) the key to the line styles.
        style_plot(p, title="Training loss", left="loss (nats)", bottom="step", legend=False, grid=False)
        p.setClipToView(True)
        p.showAxis("right")
        p.getAxis("right").setLabel("lr", color=theme.COLORS["sgd"])
        p.getAxis("right").enableAutoSIPrefix(False)  # "0.01", not "10 (×0.001)"
        self.lr_view = pg.ViewBox()
        p.scene().addItem(self.lr_view)
        p.getAxis("right").linkToView(self.lr_view)
        self.lr_view.setXLink(p)
        self.lr_view.setMouseEnabled(x=False, y=False)
        p.vb.sigResized.connect(self._sync_lr_view)
        dashed = pen(theme.COLORS["sgd"], 1, Qt.PenStyle.DashLine)
        self.baseline = pg.InfiniteLine(angle=0, movable=False, pen=dashed)
        self.baseline.setToolTip("The loss of a model that guesses every symbol with probability 1/V.")
        p.addItem(self.baseline, ignoreBounds=True)
        self.key_label = FittingLabel()
        self.key_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.key_label.setStyleSheet("font-size: 8pt;")
        self._show_key("ln V")
        # Until the first run exists the plot would be bare 0–1 axes: say what to do instead.
        self.empty_hint = pg.TextItem("Press Start to train microgpt, or Compare to race\nthe optimizers ticked under "
                                      "its arrow from one start.",
                                      color=theme.COLORS["sgd"], anchor=(0.5, 0.5))
        self.empty_hint.setPos(0.5, 0.5)
        p.addItem(self.empty_hint, ignoreBounds=True)
        self.setToolTip("Raw loss (faint), debiased-EMA smoothed loss (bold), validation loss (dots) and "
                        "lr (dotted, right axis) of every shown run. Vertical dotted lines: a live knob "
                        "change; red: divergence.")

    @Slot()
    def _sync_lr_view(self) -> None:
        self.lr_view.setGeometry(self.getPlotItem().vb.sceneBoundingRect())
        self.lr_view.linkedViewChanged(self.getPlotItem().vb, self.lr_view.XAxis)

    def set_vocabulary(self, vocab_size: int | None, why_not: str = "") -> None:
        """The uniform-guess baseline ln V, drawn and named in the key under the plot; None hides it (a watched
        run that did not say its vocabulary) and the key says ``why_not`` where it fits (else a short form)."""
        self.baseline.setVisible(vocab_size is not None)
        if vocab_size is None:
            self._show_key("", why_not)
        else:
            self.baseline.setValue(math.log(vocab_size))
            self._show_key(f"ln {vocab_size} = {math.log(vocab_size):.2f}")

    def _show_key(self, baseline: str, why_not: str = "") -> None:
        """The line styles' key, as long as one line under the plot allows (``FittingLabel``)."""
        if baseline:
            tails = (f" · dashed: uniform guess {baseline}", f" · dashed: {baseline}")
        elif why_not:
            tails = (f" · {why_not}", " · no ln V line (no vocab_size in its config)")
        else:
            tails = ("", "")
        self.key_label.set_variants(
            f"bold: smoothed loss · faint: raw · dots: validation · dotted: lr (right axis){tails[0]}",
            f"bold: smoothed · faint: raw · dots: validation · dotted: lr (right){tails[0]}",
            f"bold: smoothed · faint: raw · dots: validation · dotted: lr (right){tails[1]}",
            f"bold: smoothed · faint: raw · dots: val · dotted: lr{tails[1]}")

    def set_log(self, log_x: bool, log_y: bool, runs: list[RunView]) -> None:
        self.log_x, self.log_y = log_x, log_y
        self.getPlotItem().setLogMode(x=log_x, y=log_y)
        for r in runs:
            if "lr" in r.items:
                r.items["lr"].setLogMode(log_x, False)

    # --- per run ---
    def add_run(self, run: RunView) -> None:
        p = self.getPlotItem()
        c = run.color
        raw = p.plot([], [], pen=pen(c, 1, alpha=55), name=None)
        smooth = p.plot([], [], pen=pen(c, 1), name=run.name)  # width 1: thick pens cost ms per frame
        val = p.plot([], [], pen=None, symbol="o", symbolSize=theme.marker_size(6), symbolBrush=c, symbolPen=pen(c),
                     name=None)
        for item in (raw, smooth):
            item.setDownsampling(auto=True, method="peak")
            item.setClipToView(True)
        lr = pg.PlotDataItem([], [], pen=pen(c, 1, Qt.PenStyle.DotLine))
        lr.setDownsampling(auto=True, method="peak")
        lr.setLogMode(self.log_x, False)
        set_export_name(raw, f"{run.name} raw loss")
        set_export_name(val, f"{run.name} validation loss")
        self.lr_view.addItem(lr)
        run.items = {"raw": raw, "smooth": smooth, "val": val, "lr": lr}

    def remove_run(self, run: RunView) -> None:
        p = self.getPlotItem()
        for key, item in run.items.items():
            (self.lr_view if key == "lr" else p).removeItem(item)
        for m in run.markers:
            p.removeItem(m)
        run.items, run.markers = {}, []
        self._smooth_cache.pop(run.id, None)

    def clear_markers(self, run: RunView) -> None:
        """Remove the run's knob-change and divergence lines (drawn again, where the x axis now puts them, by
        the next ``draw_run``: they are placed once, at the x of the axis mode they were drawn in)."""
        p = self.getPlotItem()
        for m in run.markers:
            p.removeItem(m)
        run.markers, run.events_drawn, run.diverged_marked = [], 0, False

    def forget_smoothing(self) -> None:
        self._smooth_cache.clear()

    def x_of(self, snap: mj.Snapshot, which: str = "train") -> np.ndarray:
        tokens = self.x_mode == "tokens"
        if which == "val":
            return snap.val_tokens if tokens else snap.val_steps
        return snap.tokens if tokens else snap.steps

    def smoothed(self, run: RunView) -> np.ndarray:
        """The debiased EMA of the run's raw loss at β (the core's ema, cached per snapshot version)."""
        key = (run.snap.version, self.beta)
        cached = self._smooth_cache.get(run.id)
        if cached is not None and cached[0] == key:
            return cached[1]
        y = mj.smooth(run.snap.loss, self.beta)
        self._smooth_cache[run.id] = (key, y)
        return y

    def draw_run(self, run: RunView, snap: mj.Snapshot) -> bool:
        """Draw ``snap`` into the run's items. True when this drew the run's divergence marker."""
        x = self.x_of(snap)
        items = run.items
        lx, ly = self.log_x, self.log_y
        # log axes cannot show step 0 or a non-positive loss: draw only what the axis can place
        keep = np.ones(x.shape, bool)
        if lx:
            keep &= x > 0
        y, ys = snap.loss, self.smoothed(run)
        if ly:
            keep &= y > 0
        items["raw"].setData(x[keep], y[keep])
        items["smooth"].setData(x[keep], ys[keep])
        vx = self.x_of(snap, "val")
        vk = vx > 0 if lx else np.ones(vx.shape, bool)
        if vx.size != len(items["val"].xData if items["val"].xData is not None else ()) or not run.live:
            items["val"].setData(vx[vk], snap.val_loss[vk])  # new points only every val_every steps
        items["lr"].setData(x[keep], snap.lr[keep])
        return self._draw_markers(run, snap)

    def fit_lr_axis(self, active: RunView | None, runs: list[RunView], force: bool = False) -> None:
        """Only the selected run's lr(t) is drawn (runs with different optimizers have lrs orders of magnitude
        apart), on an axis from 0: a schedule's shape reads true only from 0."""
        if force:
            self._lr_top = None
        for r in runs:
            if "lr" in r.items:
                r.items["lr"].setVisible(r is active and r.list_item.checkState() == Qt.CheckState.Checked)
        if active is None or active.snap is None or not active.snap.lr.size:
            return
        top = float(np.nanmax(active.snap.lr))
        if top > 0 and math.isfinite(top) and top != self._lr_top:
            self._lr_top = top
            self.lr_view.setYRange(0.0, top * 1.05, padding=0)
            self.getPlotItem().getAxis("right").setLabel(f"lr of {active.name.split(' · ')[0]}",
                                                         color=theme.COLORS["sgd"])

    def _marker_x(self, x: float) -> float:
        return math.log10(max(x, 1)) if self.log_x else x

    def _draw_markers(self, run: RunView, snap: mj.Snapshot) -> bool:
        p = self.getPlotItem()
        tokens = self.x_mode == "tokens"
        for step, tokens_at, text in snap.events[run.events_drawn:]:
            line = pg.InfiniteLine(pos=self._marker_x(tokens_at if tokens else step), angle=90,
                                   movable=False, pen=pen(run.color, 1, Qt.PenStyle.DotLine), label=text,
                                   labelOpts={"position": 0.92, "color": run.color, "rotateAxis": (1, 0)})
            line.setToolTip(f"{run.name}: {text} at step {step}")
            line.setZValue(-5)
            p.addItem(line, ignoreBounds=True)
            run.markers.append(line)
        run.events_drawn = len(snap.events)
        if snap.diverged_step is None or run.diverged_marked:
            return False
        run.diverged_marked = True
        step = snap.diverged_step
        line = pg.InfiniteLine(pos=self._marker_x(snap.diverged_tokens if tokens else step), angle=90,
                               movable=False, pen=pen(DIVERGED, 2), label=f"diverged at step {step}",
                               labelOpts={"position": 0.75, "color": DIVERGED, "fill": (255, 255, 255, 180)})
        line.setToolTip(snap.message)
        p.addItem(line, ignoreBounds=True)
        run.markers.append(line)
        return True
