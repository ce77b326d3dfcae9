"""The arena's right-hand column: three views of one race beside the map.

* ``LossChart`` — f − f* along each path, per step, on a log axis (plain f on a surface without a known
  minimum), with a vertical line at the animation's step that can be dragged to scrub;
* ``EffLrChart`` — each optimizer's per-axis effective learning rate lr/(√v̂+ε) at the current step (■ x,
  ▲ y; the plain scheduled lr for SGD and momentum), on a log axis that stays put for the whole race;
* ``SensitivityChart`` — after a Tune: each optimizer's score (final f − f*) against its lr on the log grid,
  one curve each, the chosen lr marked, the settings that diverged as × along the top; how wide each
  optimizer's good range is (its key sits under the plot, outside the data);
* ``ResultsTable`` — final loss, distance to the nearest minimum, steps to the tolerance, and where a path
  diverged or left the view, with the refused optimizers' messages under it.

The charts draw from a ``race.SceneResult`` and the panel's tracks (uid → ``panel.Track``: its loss curve
and colour). During a drag they are cheap to update or not updated at all: the loss plot's y range, the
effective-lr axis and the table follow once the race settles (the panel decides when).
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from adamlab.ui import theme
from adamlab.ui.panels.surface.race import SceneResult, TuneReport
from adamlab.ui.panels.surface.racers import DASHES, SYMBOLS
from adamlab.ui.panels.surface.text import decade_label, fmt
from adamlab.ui.widgets import symbols
from adamlab.ui.widgets.fastpaint import cache_axes, grid_axes
from adamlab.ui.widgets.plots import pen, set_export_name, set_title, style_plot

V_HAT = symbols.hat("v")


class LossChart:
    """The loss plot (``widget``, ``plot``) and its step cursor."""

    def __init__(self) -> None:
        self.widget = pg.PlotWidget(axisItems=grid_axes())
        self.plot = self.widget.getPlotItem()
        # no legend: it would cover the curves; the colours are the map's legend and the table's swatches
        style_plot(self.plot, title="Loss along the path", left="f − f*", bottom="step t", legend=False)
        self.plot.setLogMode(y=True)
        # The y range follows the data only once a race settles (see fit_y_range): re-ranging the axes on
        # every frame of a drag costs more than drawing the curves.
        self.plot.vb.disableAutoRange()
        self.plot.setMenuEnabled(False)
        self.cursor = theme.follow(pg.InfiniteLine(angle=90, movable=True),
                                   lambda it: it.setPen(pen(theme.foreground(), 1, alpha=150)))
        self.cursor.setToolTip("The animation's current step: drag to scrub")
        self.plot.addItem(self.cursor, ignoreBounds=True)
        self.log = True  # a log y axis (f − f*); False: plain f
        self.y_range: tuple[float, float] | None = None  # the fitted y range (log10 units on a log axis)
        self._steps = -1  # the x range is 0 … steps
        cache_axes(self.plot)

    def show_step(self, t: int) -> None:
        with QSignalBlocker(self.cursor):
            self.cursor.setValue(t)

    def set_log(self, log: bool) -> None:
        """A log axis of f − f* (when the surface's minimum f* is known), else plain f."""
        if log != self.log:  # re-laying out the axes is expensive: only when it changes
            self.log = log
            self.y_range = None
            self.plot.setLogMode(y=log)
            self.plot.setLabel("left", "f − f*" if log else "f")

    def draw(self, res: SceneResult, tracks: dict, steps: int) -> None:
        """Each run's loss curve f − f* over the rows it shows (the x range fits ``steps``)."""
        fstar = res.f_star
        for r in res.runs:
            track = tracks.get(r.uid)
            if track is None:
                continue
            y = r.loss[: r.shown] - (fstar or 0.0)
            if fstar is not None:
                y = np.maximum(y, 1e-16)  # log axis: an exact hit of the minimum would be −∞
            track.loss.setData(np.arange(r.shown), y)
            track.loss_at_average(r.eval_path is not None)  # schedule-free: f at x, dotted as x is on the map
        if self._steps != steps:
            self._steps = steps
            self.plot.setXRange(0, max(steps, 1), padding=0.02)

    def fit_y_range(self, tracks: dict) -> None:
        """Fit the y range to the drawn curves (in log10 units on a log axis)."""
        lo, hi = math.inf, -math.inf
        for tr in tracks.values():
            y = tr.loss.yData
            if y is None or not len(y):
                continue
            y = y[np.isfinite(y)]
            if self.log:
                y = np.log10(y[y > 0])
            if y.size:
                lo, hi = min(lo, float(y.min())), max(hi, float(y.max()))
        if not lo <= hi:
            return
        if hi - lo < 1e-9:
            lo, hi = lo - 0.5, hi + 0.5
        rng = (lo, hi)
        if rng != self.y_range:
            self.y_range = rng
            self.plot.setYRange(lo, hi, padding=0.05)


def eff_decades(res: SceneResult) -> tuple[int, int] | None:
    """The decades (lo, hi) spanned by every effective lr the race shows, over all of its steps (so the axis
    stays put during the animation); at least two decades wide, None before the per-step records arrive."""
    vals = []
    for r in res.runs:
        if r.grads is None:
            return None
        e = r.eff_lr if r.eff_lr is not None else (r.lr if r.lr is not None else np.array([r.base_lr]))
        e = np.asarray(e, dtype=np.float64).ravel()
        e = e[np.isfinite(e) & (e > 0)]
        if e.size:
            vals.append((e.min(), e.max()))
    if not vals:
        return None
    lo = math.floor(math.log10(min(v[0] for v in vals)))
    hi = math.ceil(math.log10(max(v[1] for v in vals)))
    if hi - lo < 2:
        lo, hi = lo - (2 - (hi - lo)) // 2, lo - (2 - (hi - lo)) // 2 + 2
    return lo, hi


class EffLrChart:
    """One row per optimizer (first on top, as in the list): a square at its x coordinate's effective lr and
    a triangle at its y coordinate's, at the current step."""

    def __init__(self) -> None:
        self.widget = pg.PlotWidget(axisItems=grid_axes())
        self.plot = self.widget.getPlotItem()
        # the key goes in the title: a legend box inside the plot would sit on top of the squares
        style_plot(self.plot, title="Effective lr   ■ x  ▲ y", bottom=f"lr/(√{V_HAT}+ε)", legend=False)
        self.plot.setLogMode(x=True)
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.invertY(True)  # first optimizer on top, as in the list
        bottom = self.plot.getAxis("bottom")
        bottom.enableAutoSIPrefix(False)  # "(x0.001)" after the label reads badly; the ticks say it all
        self.plot.getAxis("left").setStyle(tickTextWidth=40, autoExpandTextSpace=True)
        self.x_marks = self.plot.plot([], [], pen=None, symbol="s", symbolSize=theme.marker_size(11), name="x axis")
        self.y_marks = self.plot.plot([], [], pen=None, symbol="t1", symbolSize=theme.marker_size(12), name="y axis")
        self._decades: tuple[int, int] | None = None  # the x axis's decades (see eff_decades)
        self._ticks = None  # the optimizers' names on the y axis
        self._shown = False  # whether any marks are drawn
        self.widget.setToolTip(f"<qt>Adam / RMSprop / Adagrad: lr/(√{V_HAT}+ε) for each coordinate (■ x, ▲ y) at "
                               "the current step (each optimizer's own effective lr: Lion's is lr, Adadelta's "
                               "RMS(Δθ)/RMS(g)); SGD and momentum: the plain lr on both axes</qt>")
        cache_axes(self.plot)

    def draw(self, res: SceneResult, t: int, tracks: dict) -> None:
        """The marks at step t (none for a race without per-step records); the axes follow the race."""
        xs, ex, ey, brushes, ticks = [], [], [], [], []
        for i, r in enumerate(res.runs):
            ticks.append((i, r.name if len(r.name) <= 14 else r.name[:13] + "…"))
            if r.grads is None or t >= len(r.grads):
                continue
            if r.eff_lr is not None:
                e = r.eff_lr[t]
            else:  # SGD and momentum: every axis gets the plain (scheduled) lr
                lr = r.lr[t] if r.lr is not None else r.base_lr
                e = np.array([lr, lr])
            if not np.all(np.isfinite(e) & (e > 0)):
                continue
            xs.append(i)
            ex.append(e[0])
            ey.append(e[1])
            brushes.append(pg.mkBrush(tracks[r.uid].color) if r.uid in tracks else None)
        ys = np.array(xs, dtype=float)
        if xs or self._shown:  # a drag's frames have no records: nothing to redraw while it stays empty
            self._shown = bool(xs)
            self.x_marks.setData(np.array(ex), ys - 0.15, symbolBrush=brushes)
            self.y_marks.setData(np.array(ey), ys + 0.15, symbolBrush=brushes)
        if ticks != self._ticks:  # axis relayout only when the list of optimizers changes
            self._ticks = ticks
            self.plot.getAxis("left").setTicks([ticks])
            self.plot.setYRange(-0.6, max(len(res.runs) - 0.4, 0.6), padding=0)
        decades = eff_decades(res)
        if decades is not None and decades != self._decades:  # once per result, not per frame
            self._decades = decades
            lo, hi = decades
            every = 1 if hi - lo <= 6 else 2
            self.plot.getAxis("bottom").setTicks([[(k, decade_label(k)) for k in range(lo, hi + 1, every)], []])
            self.plot.setXRange(lo - 0.15, hi + 0.15, padding=0)


def knob_name(core_name: str) -> str:
    """A tuned knob as a person reads it: betas[0] → β1, momentum → μ, …"""
    return {"betas[0]": "β1", "betas[1]": "β2", "momentum": "μ", "alpha": "α", "rho": "ρ",
            "weight_decay": "wd", "eps": "ε"}.get(core_name, core_name)


FLOOR = 1e-16  # a score of exactly 0 (SGD at lr = 1/h on a bowl) is drawn here on the log axis


class SensitivityChart(QWidget):
    """lr sensitivity after a Tune: score against lr, one curve per tuned optimizer (its colour and dash), its
    marker at the chosen lr, × along the top where that lr diverged.

    Items are made once and updated (GUIDE §4): a curve per optimizer, kept by uid, and one item each for
    all the chosen-lr markers and all the ×s (24 separate items took ~140 ms of the GUI thread to build).
    ``curves``: uid → curve item; ``chosen`` / ``diverged``: uid → the lr(s) marked (tests read them)."""
    # The racers' names are in the key under the map (the same colours, lines and markers) and the chosen
    # settings in the Tune tab's summary: no key here, so the plot keeps its height in a 700-px window.

    def __init__(self) -> None:
        super().__init__()
        self.widget = pg.PlotWidget(axisItems=grid_axes())
        self.plot = self.widget.getPlotItem()
        style_plot(self.plot, title="lr sensitivity (press Tune)", left="final f − f*", bottom="lr", legend=False)
        self.plot.setLogMode(x=True, y=True)
        self.plot.setMenuEnabled(False)
        self.widget.setToolTip("How wide each optimizer's good range of learning rates is on this scene: the score "
                               "after a Tune against lr (log–log). A wide, flat valley is a forgiving optimizer; "
                               "each optimizer's marker sits at the lr the race now uses, × marks an lr that "
                               "diverged")
        self.curves: dict[int, pg.PlotDataItem] = {}
        self.chosen: dict[int, float] = {}
        self.diverged: dict[int, np.ndarray] = {}
        self.report: TuneReport | None = None
        self.best_marks = set_export_name(self.plot.plot([], [], pen=None), "chosen lr")
        self.best_marks.setZValue(10)
        self.best_marks.marks = {"x": [], "y": [], "symbol": [], "brush": []}
        theme.follow(self.best_marks, _draw_best_marks)  # outlined in the theme's foreground
        self.cross_marks = set_export_name(self.plot.plot([], [], pen=None), "diverged lr")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(1)
        lay.addWidget(self.widget, 1)
        cache_axes(self.plot)

    def draw(self, report: TuneReport, styles: dict) -> None:
        """The report's curves; ``styles``: uid → (colour, dash, symbol) of the racers."""
        self.report = report
        res = report.result
        for uid in [u for u in self.curves if u not in report.uids]:
            self.plot.removeItem(self.curves.pop(uid))
        self.chosen.clear()
        self.diverged.clear()
        finite = np.concatenate([c.sensitivity[np.isfinite(c.sensitivity)] for c in res.curves] + [np.zeros(0)])
        top = float(np.max(np.maximum(finite, FLOOR))) * 10 if finite.size else 1.0
        best = {"x": [], "y": [], "symbol": [], "brush": []}
        cross = {"x": [], "pen": []}
        for uid, name, c in zip(report.uids, report.names, res.curves):
            color, dash, symbol = styles.get(uid, (theme.optimizer_color(c.kind), 0, 0))
            y = np.where(np.isfinite(c.sensitivity), np.maximum(c.sensitivity, FLOOR), np.nan)
            line = pen(color, 2, DASHES[dash % len(DASHES)][0])
            if uid not in self.curves:
                self.curves[uid] = self.plot.plot([], [], connect="finite")
            self.curves[uid].setData(c.lrs, y, pen=line, connect="finite")
            self.curves[uid].export_name = name
            self.diverged[uid] = c.lrs[~np.isfinite(c.sensitivity)]
            cross["x"] += list(self.diverged[uid])
            cross["pen"] += [pen(color, 1.5)] * len(self.diverged[uid])
            if c.best_lr is not None:
                self.chosen[uid] = c.best_lr
                best["x"].append(c.best_lr)
                best["y"].append(max(c.best_loss, FLOOR))
                best["symbol"].append(SYMBOLS[symbol % len(SYMBOLS)][0])
                best["brush"].append(pg.mkBrush(color))
        self.cross_marks.setData(cross["x"], [top] * len(cross["x"]), pen=None, symbol="x",
                                 symbolSize=theme.marker_size(8),
                                 symbolPen=cross["pen"], symbolBrush=None)
        self.best_marks.marks = best
        _draw_best_marks(self.best_marks)
        score = "final f − f*" if res.objective == "final" else "mean f − f* over the run"
        seeds = f", mean of {len(res.seeds)} noise seeds" if res.noise > 0 else ""
        self.plot.setLabel("left", score)
        set_title(self.plot, f"lr sensitivity: {score} after {res.steps} steps{seeds}", size="9.5pt")
        self.plot.enableAutoRange()


def _draw_best_marks(item) -> None:
    m = item.marks
    item.setData(m["x"], m["y"], pen=None, symbol=m["symbol"], symbolSize=theme.marker_size(12), symbolBrush=m["brush"],
                 symbolPen=pen(theme.foreground(), 1))


class ResultsTable(QWidget):
    """The results table (``table``) and, under it, the messages of optimizers the core refused
    (``error_label``). ``statusMessage`` tells a divergence or a refusal once, not on every frame."""

    statusMessage = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        # short headers (tooltips say what they mean) so the table fits the column without scrolling
        self.table = QTableWidget(0, 5)
        headers = [("optimizer", "The optimizer (colour as on the map)"),
                   ("final f", "f(θ_T): the loss at the last step"),
                   ("‖θ−θ*‖", "Distance from the last point to the nearest global minimum"),
                   ("t→tol", "First step t with ‖θ_t − θ*‖ ≤ tol × (view width); — if never"),
                   ("diverged", "Step where the path blew up (⚠) or left the view (→); 'no' if it stayed")]
        for j, (text, tip) in enumerate(headers):
            item = QTableWidgetItem(text)
            item.setToolTip(tip)
            self.table.setHorizontalHeaderItem(j, item)
        self.table.verticalHeader().setVisible(False)
        theme.sized(self.table.verticalHeader(), setDefaultSectionSize=22)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.table.horizontalHeader()
        header.setMinimumSectionSize(30)
        # Fixed widths measured for the widest cell each column shows, the name column takes the rest
        # (ResizeToContents would re-measure every row on every frame of a drag).
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.sectionResized.connect(self._fit_name_header)
        for j in range(1, len(headers)):
            header.setSectionResizeMode(j, QHeaderView.ResizeMode.Fixed)
        theme.follow(self, ResultsTable._fit_columns)  # measured again in presentation mode's font
        self.table.setToolTip("final f: loss at the last step · ‖θ−θ*‖: distance to the nearest global minimum · "
                              "t→tol: first step within tol of it · diverged: step where the path blew up "
                              "(or left the view)")
        self.error_label = QLabel("")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #D55E00;")
        self._status = ""  # the last status told

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(2)
        lay.addWidget(self.table, 1)
        lay.addWidget(self.error_label)
        self.table.setMinimumHeight(90)

    def _fit_columns(self) -> None:
        header, fm = self.table.horizontalHeader(), self.table.fontMetrics()
        for j, widest in ((1, "8.8e-10"), (2, "8.8e-10"), (3, "5000"), (4, "⚠ 5000")):
            title = self.table.horizontalHeaderItem(j).text()
            header.resizeSection(j, max(fm.horizontalAdvance(widest), fm.horizontalAdvance(title)) + 10)

    def _fit_name_header(self, section: int, _old: int, width: int) -> None:
        """The name column's header says "optimizer" where it fits and nothing where it would be cut (in a
        1024-px window the column holds the key's swatch and the start of the name; its tooltip says what it is)."""
        if section == 0:
            item = self.table.horizontalHeaderItem(0)
            text = "optimizer" if self.table.fontMetrics().horizontalAdvance("optimizer") + 10 <= width else ""
            if item.text() != text:
                item.setText(text)

    def fill(self, res: SceneResult, tracks: dict) -> None:
        """One row per run (cells updated in place) and one per refused optimizer, spanning the numbers."""
        rows = res.runs
        self.table.setRowCount(len(rows) + len(res.errors))
        for i, r in enumerate(rows):
            if r.diverged_at is not None:
                div, tip = f"⚠ {r.diverged_at}", f"{r.name} blew up at step {r.diverged_at}"
            elif r.left_view_at is not None:
                div, tip = f"→ {r.left_view_at}", f"{r.name} left the view at step {r.left_view_at}"
            else:
                div, tip = "no", ""
            cells = [r.name, fmt(r.final_loss), fmt(r.distance),
                     "—" if r.steps_to_tol is None else str(r.steps_to_tol), div]
            tips = [r.name, f"final f = {r.final_loss:.6g}", f"‖θ−θ*‖ = {r.distance:.6g}", "", tip]
            if r.train_final_loss is not None:  # schedule-free: judged at its average x, drawn at y
                at_x = " at x, the average it is evaluated at"
                tips[:4] = [f"{r.name}: the path drawn is y, where it takes its gradients; its numbers are at x, "
                            "the running average the method is evaluated at",
                            f"final f = {r.final_loss:.6g}{at_x} (f = {r.train_final_loss:.6g} at y)",
                            f"‖θ−θ*‖ = {r.distance:.6g}{at_x}", "steps until x is within the tolerance"]
            for j, text in enumerate(cells):
                item = self.table.item(i, j)
                if item is None or self.table.columnSpan(i, j) != 1:
                    if self.table.columnSpan(i, 1) != 1:
                        self.table.setSpan(i, 1, 1, 1)
                    item = QTableWidgetItem(text)
                    self.table.setItem(i, j, item)
                elif item.text() != text:
                    item.setText(text)
                if item.toolTip() != tips[j]:
                    item.setToolTip(tips[j])
                if j == 0 and r.uid in tracks and item.data(Qt.ItemDataRole.UserRole) != r.uid:
                    item.setIcon(tracks[r.uid].icon)
                    item.setData(Qt.ItemDataRole.UserRole, r.uid)
                if j == 4:
                    bad = r.diverged_at is not None or r.left_view_at is not None
                    # the default text colour is left unset, so it follows the theme
                    item.setData(Qt.ItemDataRole.ForegroundRole, QColor("#D55E00") if bad else None)
        for k, (name, msg) in enumerate(res.errors):
            row = len(rows) + k
            self.table.setItem(row, 0, QTableWidgetItem(name))
            item = QTableWidgetItem(f"invalid: {msg}")
            item.setForeground(QColor("#D55E00"))
            item.setToolTip(msg)
            self.table.setItem(row, 1, item)
            self.table.setSpan(row, 1, 1, 4)
        errors = "\n".join(f"{n}: {m}" for n, m in res.errors)
        if self.error_label.text() != errors:
            self.error_label.setText(errors)
        status = ""
        diverged = [r for r in rows if r.diverged_at is not None or r.left_view_at is not None]
        # the "diverged" column only when a run did: a column of "no"s took the width the names need (at
        # 1024 px the names were cut to their first letter)
        if self.table.isColumnHidden(4) != (not diverged):
            self.table.setColumnHidden(4, not diverged)
        if diverged:
            status = "; ".join(f"{r.name} diverged at step {r.diverged_at}" if r.diverged_at is not None
                               else f"{r.name} left the view at step {r.left_view_at}" for r in diverged)
        elif res.errors:
            status = f"{res.errors[0][0]}: {res.errors[0][1]}"
        if status and status != self._status:  # tell once, not on every frame of a drag
            self.statusMessage.emit(status)
        self._status = status
