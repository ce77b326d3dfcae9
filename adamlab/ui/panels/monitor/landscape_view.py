"""The monitor's Landscape tab: the real loss surface around a run, the line between weights, and sharpness.

* **Slice** — the loss on a fixed batch over a plane through the weights (random filter-normalised directions,
  or the plane of the run's own trajectory by PCA, shared by every run of a comparison), drawn like the
  arena's surfaces with the runs' paths on it. Computed in a child process (``landscape_job``), row by row,
  with a progress bar and Cancel.
* **Lines** — the loss along the straight line from the initial to the final weights, and between the final
  weights of two runs (is there a barrier between Adam's and SGD's solutions?).
* **Sharpness** — λ_max of the Hessian (and, for Adam, of the preconditioned P⁻¹H) tracked during training,
  against the stability threshold (2/η for gradient descent, 38/η for Adam at β1 = 0.9): the edge of
  stability. Tracked by the run itself when "sharpness every" is set in the set-up.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFrame, QHBoxLayout, QLabel, QProgressBar,
                               QPushButton, QScrollArea, QSpinBox, QTabWidget, QVBoxLayout, QWidget)

from adamlab.ui import theme
from adamlab.ui.widgets.contourmap import ContourMap
from adamlab.ui.widgets.layout import AspectSplitter
from adamlab.ui.widgets.plots import pen, set_export_name, style_plot
from adamlab.ui.widgets.symbols import rich

DIRECTIONS = {"pca": "PCA plane of the selected run", "pca_all": "PCA plane shared by all runs",
              "random": "random directions (filter-normalised)"}


def _scrolling(page: QWidget) -> QScrollArea:
    area = QScrollArea()
    area.setWidget(page)
    area.setWidgetResizable(True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    return area


class LandscapeView(QWidget):
    """Controls, the slice map, the 1-D lines and the sharpness curve. Emits ``computeRequested(settings)``
    and ``cancelRequested``; the panel runs the job and calls ``show_slice`` / ``show_sharpness``."""

    computeRequested = Signal(dict)
    cancelRequested = Signal()

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.directions = QComboBox()
        self.directions.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.directions.setMinimumContentsLength(12)  # long item texts must not widen the whole tab
        for key, text in DIRECTIONS.items():
            self.directions.addItem(text, key)
        self.directions.setToolTip(
            "PCA: the plane in which the run's weights moved most (the top two principal directions of the "
            "weights it kept: set 'keep weights every' before training), with its path on it. Shared: one "
            "plane for every run that started from the same weights (compare mode), so their paths compare. "
            "Random: two random directions, each row scaled to the norm of the same row of θ (Li et al. 2018).")
        self.resolution = QSpinBox()
        self.resolution.setRange(5, 101)
        self.resolution.setValue(41)
        self.resolution.setToolTip("Points along each side of the grid (41 × 41 = 1,681 losses).")
        self.span = QDoubleSpinBox()
        self.span.setRange(0.0, 100.0)
        self.span.setDecimals(2)
        self.span.setSingleStep(0.25)
        self.span.setSpecialValueText("auto")
        self.span.setToolTip("Half-width of the grid: auto = 1 (random: one row-norm each way) or a margin around "
                             "the paths (PCA, in parameter distance).")
        self.docs = QSpinBox()
        self.docs.setRange(16, 4096)
        self.docs.setValue(256)
        self.docs.setToolTip("Documents in the fixed batch the loss is measured on (a full-batch run: its batch).")
        self.split = QComboBox()
        self.split.addItem("train", "train")
        self.split.addItem("val", "val")
        self.split.setToolTip("Measure the loss on training or held-out validation documents.")
        self.log = QCheckBox("log colour")
        self.log.setChecked(True)
        self.log.setToolTip("Colour by log10(L − min L + δ): the floor of a valley stays visible.")
        self.compute = QPushButton("Compute")
        self.compute.setToolTip("Compute the slice for the selected run (in a child process; the window stays "
                                "usable, training goes on).")
        self.cancel = QPushButton("Cancel")
        self.cancel.setToolTip("Stop computing the slice (between two rows); what was computed stays drawn.")
        self.cancel.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setFormat("%v / %m rows")
        self.progress.setValue(0)
        self.status = QLabel("Train a run with 'keep weights every' set, then Compute: the loss around its "
                             "weights, with its path.")
        self.status.setWordWrap(True)

        row1 = QHBoxLayout()
        row1.addWidget(self.directions, 1)
        row1.addWidget(self.log)
        row2 = QHBoxLayout()  # in two short rows, so the tab stays narrow enough to sit beside the curves
        for label, w in (("grid", self.resolution), ("span", self.span)):
            row2.addWidget(QLabel(label))
            row2.addWidget(w)
        row2.addStretch(1)
        row2b = QHBoxLayout()
        row2b.addWidget(QLabel("on"))
        row2b.addWidget(self.docs)
        row2b.addWidget(self.split)
        row2b.addWidget(QLabel("documents"))
        row2b.addStretch(1)
        row3 = QHBoxLayout()
        row3.addWidget(self.compute)
        row3.addWidget(self.cancel)
        row3.addWidget(self.progress, 1)

        self.map = ContourMap("loss around the weights", "along d1", "along d2")
        self.lines_widget = pg.PlotWidget()
        self.lines_plot = self.lines_widget.getPlotItem()
        style_plot(self.lines_plot, title="loss along straight lines between weights", left="loss",
                   bottom="t (0 = from, 1 = to)", legend=False, grid=True)
        self.lines_key = QLabel("")  # the key under the plot: a legend box would cover the lines
        self.lines_key.setWordWrap(True)
        self.sharp_widget = pg.PlotWidget()
        self.sharp_plot = self.sharp_widget.getPlotItem()
        style_plot(self.sharp_plot, title="sharpness λ_max during training", left="λ_max", bottom="step",
                   legend=True, grid=True)
        self.sharp_plot.setLogMode(y=True)
        self.sharp_curves: dict[str, pg.PlotDataItem] = {}
        self.sharp_note = QLabel("")
        self.sharp_note.setWordWrap(True)
        sharp = QWidget()
        sl = QVBoxLayout(sharp)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.addWidget(self.sharp_widget, 1)
        sl.addWidget(self.sharp_note)
        slicer = QWidget()
        cl = QVBoxLayout(slicer)
        cl.setContentsMargins(2, 2, 2, 2)
        cl.setSpacing(3)
        for r in (row1, row2, row2b, row3):
            cl.addLayout(r)
        cl.addWidget(self.status)
        # the slice with its lines below it (tall) or beside it (wide)
        lines = QWidget()
        ll = QVBoxLayout(lines)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.addWidget(self.lines_widget, 1)
        ll.addWidget(self.lines_key)
        self.split_view = AspectSplitter(self.map, lines, ratio=1.6, shares=(3, 2))
        cl.addWidget(self.split_view, 1)
        self.views = QTabWidget()
        self.views.setDocumentMode(True)
        # each page scrolls when the tab is shorter than its controls (the tabs under the curves at 1024 × 700)
        self.views.addTab(_scrolling(slicer), "Slice and lines")
        self.views.addTab(_scrolling(sharp), "Sharpness")
        self.views.setTabToolTip(0, "The loss around the weights, and along straight lines between weights.")
        self.views.setTabToolTip(1, "λ_max tracked during training against the stability threshold.")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.views)
        self.compute.clicked.connect(lambda: self.computeRequested.emit(self.settings()))
        self.cancel.clicked.connect(self.cancelRequested.emit)

    def settings(self) -> dict:
        d = self.directions.currentData()
        return {"directions": "pca" if d.startswith("pca") else "random", "all_runs": d == "pca_all",
                "span": self.span.value() or None, "resolution": self.resolution.value(), "docs": self.docs.value(),
                "split": self.split.currentData(), "log": self.log.isChecked(), "seed": 0}

    def set_busy(self, busy: bool) -> None:
        self.compute.setEnabled(not busy)
        self.cancel.setEnabled(busy)

    # --- drawing ---
    def show_slice(self, snap, colours: dict[str, str]) -> None:
        """A LandscapeSnapshot: progress, the map (as far as computed), the runs' paths and the lines."""
        self.progress.setRange(0, snap.rows)
        self.progress.setValue(snap.rows_done)
        done = snap.status == "done"
        state = {"slicing": f"slicing… {snap.rows_done}/{snap.rows} rows", "lines": "the lines between weights…",
                 "done": f"done in {snap.seconds:.1f} s"}.get(snap.status, snap.status)
        self.status.setText(rich(f"{snap.message} — {state}. Centre loss {snap.centre_loss:.4f}."
                                 if math.isfinite(snap.centre_loss) else f"{snap.message} — {state}."))
        if snap.picture is not None:
            self.map.show_image(snap.picture)
        axis = "PCA direction" if snap.kind == "pca" else "filter-normalised direction"
        self.map.plot.setLabel("bottom", f"{axis} 1" + (f" ({snap.explained[0]:.0%})" if snap.explained is not None
                                                          else ""))
        self.map.plot.setLabel("left", f"{axis} 2" + (f" ({snap.explained[1]:.0%})" if snap.explained is not None
                                                        else ""))
        paths = [(xy, colours.get(name, theme.CYCLE[0]), name) for name, xy in snap.paths]
        self.map.set_paths(paths)
        points = [(0.0, 0.0, "+", theme.foreground())]
        for xy, colour, _ in paths:
            points += [(float(xy[0, 0]), float(xy[0, 1]), "s", colour), (float(xy[-1, 0]), float(xy[-1, 1]), "o", colour)]
        self.map.set_points(points)
        self.lines_plot.clear()
        keys = []
        for k, (label, ts, losses) in enumerate(snap.lines):
            colour = paths[0][1] if k == 0 and paths else theme.COLORS["ema_raw"] if k else theme.COLORS["gradient"]
            item = self.lines_plot.plot(ts, losses, pen=pen(colour, 2))
            set_export_name(item, label)
            keys.append(f"<span style='color:{colour}'>■</span> {label}")
        self.lines_key.setText(rich(" · ".join(keys)) if keys else "")
        if done:
            self.set_busy(False)

    def clear_slice(self) -> None:
        self.map.reset()
        self.lines_plot.clear()
        self.lines_key.setText("")
        self.progress.setValue(0)

    def show_sharpness(self, run_name: str, snap) -> None:
        """The selected run's tracked λ_max (and λ_max(P⁻¹H)) against its stability threshold."""
        s = snap.sharpness if snap is not None else None
        if not s or not len(s["step"]):
            for c in self.sharp_curves.values():
                c.setData([], [])
            self.sharp_note.setText("Set 'sharpness every' in the set-up (Training) to track λ_max while a run "
                                    "trains; the Edge-of-stability preset does it.")
            return
        x = s["step"].astype(np.float64)
        series = {"λ_max(H)": (s["sharpness"], theme.COLORS["gradient"]),
                  "λ_max(P⁻¹H)": (s["preconditioned"], theme.COLORS["ema"]),
                  "threshold": (s["threshold"], theme.COLORS["ratio"])}
        for name, (y, colour) in series.items():
            c = self.sharp_curves.get(name)
            if c is None:
                style = Qt.PenStyle.DashLine if name == "threshold" else Qt.PenStyle.SolidLine
                c = self.sharp_plot.plot([], [], pen=pen(colour, 2, style), name=name)
                self.sharp_curves[name] = c
            keep = np.isfinite(y) & (y > 0)
            c.setData(x[keep], y[keep])
        curve = "λ_max(P⁻¹H)" if snap.sharpness_curve == "preconditioned" else "λ_max(H)"
        last = {k: float(v[-1]) for k, v in s.items() if len(v)}
        ratio = last[snap.sharpness_curve] / last["threshold"] if last.get("threshold") else float("nan")
        self.sharp_note.setText(rich(
            f"{run_name}: {curve} = {last[snap.sharpness_curve]:.4g} at step {int(last['step'])}, "
            f"{ratio:.0%} of its stability threshold {last['threshold']:.4g} (dashed). Gradient descent "
            "sharpens until λ_max reaches 2/η, then hovers there: the edge of stability."
            if math.isfinite(ratio) else f"{run_name}: {curve} = {last[snap.sharpness_curve]:.4g}"))
