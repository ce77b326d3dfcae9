"""The loss-surface arena: SGD, momentum, RMSprop, Adam, AMSGrad and AdamW racing on 2D surfaces, live.

Data flow (GUIDE §1): the controls build a plain *scene* dict → a latest-wins worker thread hands it to
``surface_run.RaceProcess``, which runs ``surface_run.run_scene`` (the core's ``trajectory.run_many``) in a
child process → the panel keeps the newest result and an animation timer draws it up to the current step.
A second latest-wins worker computes the surface image and its contours, once per surface or zoom change
(``surface_image``).

Why a child process: a race is thousands of tiny NumPy calls in pure Python; on a worker thread it holds
the GIL and the GUI thread queues behind it (event-loop gaps of 70+ ms during a drag). With the race on the
other core, the worker thread just waits on a pipe with the GIL released (see ``RaceProcess``).

Dragging: every move of the start handle submits a scene without per-step records (cheapest: paths, losses
and the table are all exact); 150 ms after the last change a second request with ``record=True`` brings the
arrows and effective-lr overlays back. Latest-wins means a fast drag computes only the newest position.

Keeping the GUI thread free during a drag (every stretch of GUI work well under a 60 Hz frame, 16 ms):
* a result is drawn in slices, one per turn of the event loop (``_queue``): the paths and markers, then the
  arrows, the effective lr, the loss curves, the loss range and the table, so Qt paints each part in its own
  turn and input and timers get through in between. Two results arriving together are drawn once (latest
  wins on the GUI side too);
* while a drag runs, a frame only updates existing items with ``setData``; the loss plot follows at most
  every ``LOSS_INTERVAL_MS``; the table, the loss plot's y range and the effective-lr axis follow once the
  race settles (the settled race is always drawn in full);
* the static items (axes, image, contours, colour bar, legend, minima, handle) are painted from pixmap
  caches; the paths are ``_PathCurve``s with a cheap bounding rect; the readout under the map keeps its
  height during a drag, so the map is never resized (a resize re-renders every cache);
* the map's scene does not search for hover targets while a drag runs (``skip_hover_while_dragging``).
``benchmarks/bench_surface.py`` measures all of it: event-loop lateness during a scripted drag (setPos or
real mouse events) and after the release.

Layout (fits 1280×800 and, at its minimum width of ~830 px, a 1024×700 window): a scrolling control column
(scenario, surface, then tabs for optimizers / run / overlays), the map in the centre, and the loss plot,
effective-lr view and results table on the right.
"""

from __future__ import annotations

import copy
import math
import os
import time
import weakref
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSignalBlocker, Qt, QTimer, Slot
from PySide6.QtGui import QColor, QIcon, QPaintEngine, QPen, QPixmap, QTransform
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QFrame,
    QGraphicsItem,
    QGroupBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTabWidget,
    QTableWidget,
    QTableWidgetItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from adamlab.core.optim import optimizer_label
from adamlab.core.schedules import LABELS as SCHEDULE_LABELS
from adamlab.core.surfaces import SURFACES
from adamlab.ui import theme, workers
from adamlab.ui.panels.base import Panel
from adamlab.ui.panels.surface_image import surface_image
from adamlab.ui.panels.surface_presets import DEFAULT_STATE, KIND_COLOR, KINDS, PRESETS
from adamlab.ui.panels.surface_run import RaceProcess, SceneResult, as_float, make_surface
from adamlab.ui.widgets.controls import FloatSlider
from adamlab.ui.widgets.hyper import KIND_KNOBS, OptimizerEditor, to_core
from adamlab.ui.widgets.plots import fast_curve, pen, style_plot

FPS = 30
# Compute races in a child process, so the GUI thread never waits for the GIL during a drag. The environment
# variable ADAMLAB_PROCESSES=0 (the app-wide switch, also for the GPT monitor; or setting this to False before
# building a panel) keeps them in-thread.
USE_PROCESS = os.environ.get("ADAMLAB_PROCESSES", "1") != "0"
SPEEDS = [1, 2, 5, 10, 25, 50]  # animation steps per frame
DETAIL_DELAY_MS = 150  # after the last change, recompute with per-step records (arrows, effective lr)
ZOOM_DELAY_MS = 250  # after the last pan/zoom, recompute the image for the new view
# During a drag the loss plot follows at most every LOSS_INTERVAL_MS (~15 Hz: a person does not see the
# difference next to the moving paths, and it halves the GUI work per frame); a settled race is always drawn.
LOSS_INTERVAL_MS = 66
ARROW_FRACTION = 0.12  # overlay arrows are this fraction of the view's width long (directions only)
# the overlay arrows: key → (label, theme colour role or "fg", line style)
ARROWS = {
    "grad": ("−∇f (descent direction)", "gradient", Qt.PenStyle.DashLine),
    "m_hat": ("−m̂ (momentum)", "ema", Qt.PenStyle.DotLine),
    "step": ("Δθ (the actual step)", "fg", Qt.PenStyle.SolidLine),
}
LEFT_WIDTH = (248, 280)  # the control column's minimum and maximum width (px)
CENTRE_MIN_WIDTH = 300  # the map's column
RIGHT_MIN_WIDTH = 256  # loss plot, effective lr, results table
SWARM_COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#A08A00", "#8C564B", "#000000"]



def surface_colormap(name: str) -> pg.ColorMap:
    """A pale map (low = light) so the coloured paths stand out on it, in either theme."""
    if name == "dark":
        colors = ["#202428", "#2E3A4E", "#4A5F82", "#7C93B8"]
    else:
        colors = ["#FFFFFF", "#E3E9F2", "#B7C5DB", "#8497B8"]
    return pg.ColorMap(np.linspace(0, 1, len(colors)), [pg.mkColor(c) for c in colors])


def arrow_segments(origin, direction, length: float) -> np.ndarray:
    """Shaft and two head strokes of an arrow from ``origin`` along ``direction``, ``length`` long:
    (6, 2) points for ``connect='pairs'``, or (0, 2) when the direction is zero or not finite."""
    d = np.asarray(direction, dtype=np.float64)
    n = float(np.hypot(*d))
    if not (np.all(np.isfinite(d)) and np.all(np.isfinite(origin)) and n > 0):
        return np.zeros((0, 2))
    u = d / n
    tip = np.asarray(origin, dtype=np.float64) + length * u
    out = [origin, tip]
    for ang in (0.45, -0.45):  # head strokes at ±26° from the shaft
        c, s = math.cos(ang), math.sin(ang)
        back = -np.array([c * u[0] - s * u[1], s * u[0] + c * u[1]])
        out += [tip, tip + 0.28 * length * back]
    return np.array(out, dtype=np.float64)


SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def decade_label(k: int) -> str:
    """10^k as a short tick label: 1, 10, else 10 with a superscript exponent (10⁻³)."""
    return {0: "1", 1: "10"}.get(k, "10" + str(k).translate(SUPERSCRIPT))


def eff_decades(res) -> tuple[int, int] | None:
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


def fmt(x: float | None) -> str:
    """A number in at most ~6 characters for the table and readout: 0.316, 2.28, 7.6e-4, 1.2e5."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    if x != 0 and not 1e-2 <= abs(x) < 1e4:
        mantissa, exponent = f"{x:.1e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    return f"{x:.3g}"


class _PathCurve(pg.PlotCurveItem):
    """An optimizer's path on the map: a plain curve whose bounding box is cheap to recompute.

    During a drag every frame sets new data, and Qt asks each changed item for its bounding rect before it
    paints. pyqtgraph's generic version takes NaN-aware min/max per axis under ``warnings.catch_warnings``
    and maps device pixels to data units for the pen's half-width (~0.13 ms per curve, a fifth of a
    frame's paint). Here: one min/max over the points we draw (all finite: see ``rows_to_draw``), and the
    pixel padding kept until the view changes (``viewTransformChanged``).
    """

    _pad: tuple[float, float] | None = None

    def boundingRect(self):
        if self._boundingRect is None:
            x, y = self.xData, self.yData
            if x is None or len(x) == 0:
                return QRectF()
            if self._pad is None:
                px, py = self.pixelVectors()  # one device pixel along x and y, in data units
                half = self.pixelPadding()  # half the cosmetic pen's width, in pixels
                self._pad = (0.0 if px is None else px.length() * half, 0.0 if py is None else py.length() * half)
            dx, dy = self._pad
            x0, x1, y0, y1 = float(x.min()), float(x.max()), float(y.min()), float(y.max())
            if not all(map(math.isfinite, (x0, x1, y0, y1))):  # never for drawn rows (see rows_to_draw)
                return super().boundingRect()
            self._boundingRect = QRectF(x0 - dx, y0 - dy, x1 - x0 + 2 * dx, y1 - y0 + 2 * dy)
        return self._boundingRect

    def viewTransformChanged(self):
        self._pad = None
        super().viewTransformChanged()


def skip_hover_while_dragging(scene: pg.GraphicsScene) -> None:
    """Stop ``scene`` from searching for hover targets on every mouse move of a drag.

    pyqtgraph's scene collects every item under the mouse on each move and sorts them by z in Python, even
    mid-drag, when none of them may accept the hover (~2 ms a move on the map, at the mouse's 100 Hz). While
    a drag runs that search is skipped; the release sends a hover event as usual, so hover states are right
    afterwards.
    """
    ref = weakref.ref(scene)  # no reference cycle through the scene's own attribute

    def send_unless_dragging(ev, exitOnly=False):
        sc = ref()
        if sc is None or (sc.dragButtons and not exitOnly):
            return
        pg.GraphicsScene.sendHoverEvents(sc, ev, exitOnly)

    scene.sendHoverEvents = send_unless_dragging


def cache_tree(item, mode=QGraphicsItem.CacheMode.DeviceCoordinateCache) -> None:
    """Set ``mode`` on ``item`` and every item below it (a cached parent does not cache its children)."""
    item.setCacheMode(mode)
    for child in item.childItems():
        cache_tree(child, mode)


def pixel_line_rect(pen, a, b, dx: float, dy: float) -> QRectF | None:
    """The rectangle of device pixels that QPainter.drawLine(a, b) covers with ``pen``, or None if unsure.

    For a cosmetic, solid, 1-px, square-capped, non-antialiased pen and a horizontal or vertical line at
    least a pixel long, the raster engine covers, in the line's device row (column), the pixels from
    floor(start) to floor(end) (tests compare this pixel for pixel with drawLine). (dx, dy): the painter's
    translation at paint time, so the rectangle lands on whole device pixels; returned in item units.
    """
    if not (pen.isCosmetic() and pen.widthF() == 1.0 and pen.style() == Qt.PenStyle.SolidLine
            and pen.capStyle() == Qt.PenCapStyle.SquareCap and pen.brush().style() == Qt.BrushStyle.SolidPattern):
        return None
    ax, ay, bx, by = a.x() + dx, a.y() + dy, b.x() + dx, b.y() + dy
    if ay == by and abs(bx - ax) >= 1:
        x0, x1, row = math.floor(min(ax, bx)), math.floor(max(ax, bx)), math.floor(ay)
        return QRectF(x0 - dx, row - dy, x1 - x0 + 1, 1)
    if ax == bx and abs(by - ay) >= 1:
        y0, y1, col = math.floor(min(ay, by)), math.floor(max(ay, by)), math.floor(ax)
        return QRectF(col - dx, y0 - dy, 1, y1 - y0 + 1)
    return None


class GridAxis(pg.AxisItem):
    """An axis whose translucent grid and tick lines are painted as pixel rectangles: same pixels, much faster.

    Qt's raster engine draws a non-antialiased translucent line pixel by pixel (~0.2 ms for a 300-px grid
    line); the loss plot's log axis has ~50 of them, so repainting it after its range changes (when a
    dragged race settles) took ~10 ms. A pixel-aligned rectangle filled with the line's colour covers the
    same pixels (``pixel_line_rect``) and is blended span by span. The rectangles are placed for the
    painter's sub-pixel offset, so the picture is rebuilt if that changes; anything but an unscaled raster
    painter (a PNG export at another size, an SVG) gets pyqtgraph's own lines.
    """

    _offset: tuple[float, float] | None = None  # the sub-pixel offset the picture was built for (None: lines)

    def paint(self, p, opt, widget):
        tr = p.transform()
        engine = p.paintEngine()
        offset = None
        if (self._exportOpts is False and engine is not None and engine.type() == QPaintEngine.Type.Raster
                and tr.type().value <= QTransform.TransformationType.TxTranslate.value):
            offset = (tr.dx() % 1.0, tr.dy() % 1.0)
        if self.picture is not None and offset != self._offset:
            self.picture = None
        self._offset = offset
        super().paint(p, opt, widget)  # builds the picture with drawPicture below if needed, then plays it

    def drawPicture(self, p, axisSpec, tickSpecs, textSpecs):
        if self._offset is None:
            return super().drawPicture(p, axisSpec, tickSpecs, textSpecs)
        dx, dy = self._offset
        # pyqtgraph's order: the axis line, the ticks and grid lines, then the labels
        p.setRenderHint(p.RenderHint.Antialiasing, False)
        pen, p1, p2 = axisSpec
        p.setPen(pen)
        p.drawLine(p1, p2)
        for pen, a, b in tickSpecs:
            rect = pixel_line_rect(pen, a, b, dx, dy)
            if rect is None:
                p.setPen(pen)
                p.drawLine(a, b)
            else:
                p.fillRect(rect, pen.color())
        super().drawPicture(p, (QPen(Qt.PenStyle.NoPen), p1, p2), [], textSpecs)


def grid_axes() -> dict[str, GridAxis]:
    return {"left": GridAxis("left"), "bottom": GridAxis("bottom")}


class _Track:
    """The plot items of one optimizer: path and loss curve (created once; the current-point markers of all
    tracks share one scatter item, ``SurfacePanel.markers``: one scatter paints as slowly as five points)."""

    def __init__(self, panel: SurfacePanel, uid: int, name: str, color: str):
        self.uid, self.name, self.color = uid, name, color
        # a bare curve item: PlotDataItem's extra layer (downsampling, clipping) costs more than it saves
        # on 500 points, and its setData runs on every frame of a drag
        self.path = _PathCurve([], [], pen=pen(color, 2), name=name)
        self.path.setZValue(20)
        self.brush = pg.mkBrush(color)
        self.loss = fast_curve(panel.loss_plot, color, name=name, width=1)  # 1 px: thicker paints slower
        panel.plot.addItem(self.path)

    def remove(self, panel: SurfacePanel) -> None:
        panel.plot.removeItem(self.path)  # also removes its legend entry
        panel.loss_plot.removeItem(self.loss)


class SurfacePanel(Panel):
    key = "surface"
    title = "Loss surface"
    hint = "Race optimizers on 2D loss surfaces: drag the start, pick a scenario, step through the race."
    help_html = (
        "<b>Loss-surface arena</b><p>Each coloured path is one optimizer minimising the same 2D function "
        "f(x, y) from the same start θ₀ (drag the ⊕ handle, or click on the map). The background is f "
        "(log-scaled for valleys), with contour lines; ★ marks the global minima.</p>"
        "<p><b>SGD</b>: θ ← θ − lr·∇f. Its step scales with the gradient: huge on steep walls, tiny on flat "
        "floors. <b>Momentum</b>: b ← μb + ∇f, θ ← θ − lr·b: speed builds along consistent directions. "
        "<b>RMSprop / Adam</b>: divide by √v̂, the running RMS of each coordinate's gradient, so each "
        "coordinate moves about lr per step whatever the gradient's size. Adam also averages the gradient: "
        "m̂ = EMA(g)/(1−β1ᵗ), v̂ = EMA(g²)/(1−β2ᵗ), θ ← θ − lr·m̂/(√v̂+ε). <b>AdamW</b> decays θ ← θ(1 − lr·wd) "
        "outside the adaptive step, unlike Adam's L2 term, which gets divided by √v̂.</p>"
        "<p>The arrows at the current point show, for one optimizer, the descent direction −∇f, its −m̂ and "
        "the step Δθ it actually took (directions; the readout gives sizes). The squares on the right show "
        "each optimizer's per-axis effective learning rate lr/(√v̂+ε). The loss plot shows f − f* on a log "
        "axis; drag its vertical line to scrub the race.</p>"
    )

    def __init__(self) -> None:
        super().__init__()
        self._next_uid = 1
        self._entries: list[dict] = []  # {uid, name, kind, enabled, color}; editors in self._editors
        self._editors: dict[int, OptimizerEditor] = {}
        self._tracks: dict[int, _Track] = {}
        self._result: SceneResult | None = None
        self._t = 0  # the animation's current step
        self._playing = False
        self._restart_pending = False
        self._traj_pending = 0
        self._img_pending = 0
        self._image_rect: tuple[float, float, float, float] | None = None
        self._start: tuple[float, float] = SURFACES["rosenbrock"].start
        self._loading = False  # set while set_state fills the controls: no requests until it is done
        self._shut = False
        self.frames_drawn = 0  # results drawn (the bench counts these)
        self.draw_ms: list[float] = []
        self._loss_log = True
        self._loss_steps = -1
        self._loss_range: tuple[float, float] | None = None
        self._eff_ticks = None
        self._status = ""  # GUI-thread time spent drawing each of the last results

        self._build_controls()
        self._build_plots()
        self._cache_static_items()
        self._build_layout()

        # the races run in a child process (see surface_run.RaceProcess), fed by a latest-wins thread
        self._race = RaceProcess(enabled=USE_PROCESS)
        self._told_fallback = not USE_PROCESS
        self._traj = workers.start_latest_wins(self._race.compute, "surface-trajectories")
        self._traj.worker.resultReady.connect(self._on_result)
        self._traj.worker.failed.connect(self._on_failed)
        self._img = workers.start_latest_wins(_image_job, "surface-image")
        self._img.worker.resultReady.connect(self._on_image)
        self._img.worker.failed.connect(self._on_image_failed)

        self._anim = QTimer(self)
        self._anim.setObjectName("surface-animation")
        self._anim.setInterval(1000 // FPS)
        self._anim.timeout.connect(self._tick)
        self._detail_timer = QTimer(self)
        self._detail_timer.setObjectName("surface-detail")
        self._detail_timer.setSingleShot(True)
        self._detail_timer.setInterval(DETAIL_DELAY_MS)
        self._detail_timer.timeout.connect(lambda: self._submit(record=True))
        self._zoom_timer = QTimer(self)
        self._zoom_timer.setObjectName("surface-zoom")
        self._zoom_timer.setSingleShot(True)
        self._zoom_timer.setInterval(ZOOM_DELAY_MS)
        self._zoom_timer.timeout.connect(self._maybe_new_image)
        # Drawing a result is split into jobs run one per event-loop turn (see _queue), so the GUI thread is
        # never busy long in one go: the paths, then (after the map has painted them) the arrows, the
        # effective lr, the loss curves, the loss range and the table.
        self._incoming: SceneResult | None = None  # the newest result, not drawn yet
        self._table_result: SceneResult | None = None  # a settled result whose table is not filled yet
        self._jobs: list = []
        self._work_timer = QTimer(self)
        self._work_timer.setObjectName("surface-draw")
        self._work_timer.setSingleShot(True)
        self._work_timer.setInterval(0)
        self._work_timer.timeout.connect(self._run_job)
        self._loss_timer = QTimer(self)
        self._loss_timer.setObjectName("surface-loss")
        self._loss_timer.setSingleShot(True)
        self._loss_timer.timeout.connect(lambda: self._queue(self._draw_loss))
        self._loss_drawn_at = -math.inf  # time.perf_counter() of the last loss-plot update

        self.set_state(DEFAULT_STATE)
        self._t = self.steps_spin.value()  # the first view shows the whole race; Play replays it

    # ------------------------------------------------------------------------------------------------------
    # building the widgets

    def _build_controls(self) -> None:
        # scenario
        self.preset_combo = QComboBox()
        self.preset_combo.addItem("(choose a scenario…)", "")
        for key, p in PRESETS.items():
            self.preset_combo.addItem(p["title"], key)
        self.preset_combo.setToolTip("One-click scenes that each tell one story about Adam")
        self.preset_combo.activated.connect(self._on_preset)
        self.preset_text = QLabel("")
        self.preset_text.setWordWrap(True)
        self.preset_text.setObjectName("presetText")

        # surface
        self.surface_combo = QComboBox()
        for name, s in SURFACES.items():
            self.surface_combo.addItem(s.label if name != "ill_conditioned" else "Ill-conditioned bowl", name)
            self.surface_combo.setItemData(self.surface_combo.count() - 1, s.description, Qt.ItemDataRole.ToolTipRole)
        self.surface_combo.setToolTip("The loss function f(x, y) the optimizers minimise")
        self.surface_combo.currentIndexChanged.connect(self._on_surface)
        self.surface_desc = QLabel("")
        self.surface_desc.setWordWrap(True)
        self.cond_slider = FloatSlider("κ", 1.0, 1000.0, 10.0, scale="log", decimals=1,
                                       tooltip="Condition number: the bowl is κ times steeper across than along "
                                               "(Hessian eigenvalues 2 and 2/κ)")
        self.angle_slider = FloatSlider("θ°", -90.0, 90.0, 30.0, decimals=0,
                                        tooltip="Rotation of the bowl's long axis. Adam rescales x and y separately: "
                                                "it fixes an axis-aligned bowl (θ = 0) but not a rotated one")
        self.cond_slider.valueChanged.connect(self._on_bowl)
        self.angle_slider.valueChanged.connect(self._on_bowl)
        self.start_x, self.start_y = QLineEdit(), QLineEdit()
        for e, ax in ((self.start_x, "x"), (self.start_y, "y")):
            e.setToolTip(f"Start θ₀ ({ax}); or drag the ⊕ handle / click on the map")
            e.editingFinished.connect(self._on_start_typed)
        self.start_reset = QToolButton()
        self.start_reset.setText("↺")
        self.start_reset.setToolTip("Back to the surface's default start")
        self.start_reset.clicked.connect(self._reset_start)

        # optimizers
        self.opt_list = QListWidget()
        self.opt_list.setToolTip("Tick to race an optimizer; select one to edit its hyperparameters")
        self.opt_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.opt_list.itemChanged.connect(self._on_item_changed)
        self.opt_list.currentRowChanged.connect(self._on_opt_selected)
        self.opt_list.setMaximumHeight(150)
        self.add_button = QToolButton()
        self.add_button.setText("Add ▾")
        self.add_button.setToolTip("Add another optimizer to the race")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.add_button)
        for kind in KINDS:
            menu.addAction(optimizer_label(kind), lambda k=kind: self.add_optimizer(k))
        self.add_button.setMenu(menu)
        self.dup_button = QPushButton("Duplicate")
        self.dup_button.setToolTip("Copy the selected optimizer to compare two settings of it (e.g. β1 0.9 vs 0.85)")
        self.dup_button.clicked.connect(self._duplicate_selected)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the selected optimizer from the list")
        self.remove_button.clicked.connect(self._remove_selected)
        self.editor_title = QLabel("")
        self.editor_stack = QStackedWidget()

        # run
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(1, 5000)
        self.steps_spin.setSingleStep(50)
        self.steps_spin.setKeyboardTracking(False)
        self.steps_spin.setToolTip("Number of optimizer steps t = 1 … T")
        self.steps_spin.valueChanged.connect(self._changed)
        self.noise_slider = FloatSlider("σ", 0.0, 50.0, 0.0, decimals=2,
                                        tooltip="Gradient noise: each step sees g + σ·z, z ~ N(0, I) "
                                                "(a stand-in for mini-batch noise); all optimizers get the same z")
        self.noise_slider.valueChanged.connect(self._changed)
        self.seed_spin = QSpinBox()
        self.seed_spin.setRange(0, 1_000_000)
        self.seed_spin.setKeyboardTracking(False)
        self.seed_spin.setToolTip("Seed of the gradient noise: same seed, same noise")
        self.seed_spin.valueChanged.connect(self._changed)
        self.schedule_combo = QComboBox()
        for name, label in SCHEDULE_LABELS.items():
            self.schedule_combo.addItem(label, name)
        self.schedule_combo.setToolTip("Learning-rate schedule lr(t), applied to every optimizer from its own lr "
                                       "(warmup + cosine warms up over the first 10% of the steps)")
        self.schedule_combo.currentIndexChanged.connect(self._changed)
        self.tol_spin = FloatSlider("tol", 1e-4, 0.2, 0.01, scale="log", decimals=4,
                                    tooltip="'Reached the minimum' = within tol × (view width) of it "
                                            "(results table, steps→tol)")
        self.tol_spin.valueChanged.connect(self._changed)

        # swarm
        self.swarm_check = QCheckBox("Swarm: a grid of starts for")
        self.swarm_check.setToolTip("Run one optimizer from every point of a grid and colour each start by the "
                                    "minimum it ends in: its basins of attraction (grey: none, dark red: diverged)")
        self.swarm_check.toggled.connect(self._changed)
        self.swarm_combo = QComboBox()
        self.swarm_combo.setToolTip("The optimizer the swarm runs (with its hyperparameters from the list)")
        self.swarm_combo.currentIndexChanged.connect(self._changed)
        self.swarm_n = QSpinBox()
        self.swarm_n.setRange(4, 40)
        self.swarm_n.setValue(15)
        self.swarm_n.setKeyboardTracking(False)
        self.swarm_n.setToolTip("Grid size: n × n starts")
        self.swarm_n.valueChanged.connect(self._changed)

        # overlays
        self.overlay_combo = QComboBox()
        self.overlay_combo.setToolTip("Whose gradient, momentum and step to draw at the current point")
        self.overlay_combo.currentIndexChanged.connect(self._overlay_changed)
        self.arrow_checks = {}
        for key, (label, _, _) in ARROWS.items():
            box = QCheckBox(label.split(" (")[0])
            box.setChecked(True)
            box.setToolTip(label)
            box.toggled.connect(self._overlay_changed)
            self.arrow_checks[key] = box

        # animation bar
        # tool buttons: a push button's style minimum (~80 px each) would widen the map's column
        self.play_button = QToolButton()
        self.play_button.setText("▶ Play")
        self.play_button.setMinimumWidth(58)
        self.play_button.setToolTip("Play the race from the current step (from the start if it is over)")
        self.play_button.clicked.connect(self.toggle_play)
        self.step_button = QToolButton()
        self.step_button.setText("Step")
        self.step_button.setToolTip("One step forward")
        self.step_button.clicked.connect(self.step_once)
        self.reset_button = QToolButton()
        self.reset_button.setText("Reset")
        self.reset_button.setToolTip("Back to step 0")
        self.reset_button.clicked.connect(self.rewind)
        self.speed_combo = QComboBox()
        for s in SPEEDS:
            self.speed_combo.addItem(f"{s} step{'s' if s > 1 else ''} / frame", s)
        self.speed_combo.setToolTip("Animation speed: optimizer steps drawn per frame (30 frames a second)")
        self.instant_check = QCheckBox("Instant")
        self.instant_check.setToolTip("Draw the whole paths at once whenever something changes")
        self.instant_check.toggled.connect(self._on_instant)
        self.step_label = QLabel("")
        self.step_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.step_label.setToolTip("The animation's current step t and the number of steps T")

    def _build_plots(self) -> None:
        # the map: image + contours + minima + paths, with a colour bar
        self.map_widget = pg.GraphicsLayoutWidget()
        self.plot = self.map_widget.addPlot(row=0, col=0)
        style_plot(self.plot, left="y", bottom="x", grid=False)
        self.plot.legend.setOffset((-5, 5))
        self.plot.setAspectLocked(True)
        self.plot.vb.disableAutoRange()
        self.plot.setMenuEnabled(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setZValue(-20)
        self.plot.addItem(self.image, ignoreBounds=True)
        self.contours = pg.PlotCurveItem(connect="pairs", pen=pen(theme.foreground(), 1, alpha=60))
        self.contours.setZValue(-10)
        self.plot.addItem(self.contours, ignoreBounds=True)
        self.colorbar = pg.ColorBarItem(colorMap=surface_colormap(theme.current()), interactive=False, width=14)
        self.colorbar.setImageItem(self.image)
        self.map_widget.addItem(self.colorbar, row=0, col=1)
        self.minima = pg.ScatterPlotItem(symbol="star", size=16, pen=pg.mkPen("#000000"), brush=pg.mkBrush("#FFFFFF"))
        self.local_minima = pg.ScatterPlotItem(symbol="o", size=7, pen=pg.mkPen("#000000"), brush=pg.mkBrush("#FFFFFF"))
        for item in (self.minima, self.local_minima):
            item.setZValue(15)
            self.plot.addItem(item, ignoreBounds=True)
        self.markers = pg.ScatterPlotItem(pen=pg.mkPen(theme.foreground(), width=1))
        self.markers.setZValue(30)
        self.plot.addItem(self.markers, ignoreBounds=True)
        self.swarm_item = pg.ScatterPlotItem(symbol="s", pxMode=False, pen=None)
        self.swarm_item.setVisible(False)  # an empty scatter still costs ~0.5 ms a paint
        self.swarm_item.setZValue(-5)
        self.plot.addItem(self.swarm_item, ignoreBounds=True)
        self.arrow_items = {}
        for key, (label, role, style) in ARROWS.items():
            item = pg.PlotCurveItem(connect="pairs", pen=self._arrow_pen(role, style))
            item.setZValue(40)
            self.plot.addItem(item, ignoreBounds=True)
            self.arrow_items[key] = item
        self.handle = pg.TargetItem(pos=self._start, size=16, symbol="crosshair", movable=True,
                                    pen=pg.mkPen(theme.foreground(), width=2), label="θ₀",
                                    labelOpts={"offset": (8, -8), "color": theme.foreground()})
        self.handle.setZValue(50)
        self.handle.setToolTip("The start θ₀: drag it and every path follows")
        self.plot.addItem(self.handle, ignoreBounds=True)
        self.handle.sigPositionChanged.connect(self._on_handle_moved)
        self.handle.sigPositionChangeFinished.connect(self._on_handle_released)
        self.plot.scene().sigMouseClicked.connect(self._on_map_clicked)
        skip_hover_while_dragging(self.map_widget.scene())
        self.plot.vb.sigRangeChanged.connect(self._on_range_changed)
        self.map_widget.setToolTip("")

        # loss vs step
        self.loss_widget = pg.PlotWidget(axisItems=grid_axes())
        self.loss_plot = self.loss_widget.getPlotItem()
        # no legend: it would cover the curves; the colours are the map's legend and the table's swatches
        style_plot(self.loss_plot, title="Loss along the path", left="f − f*", bottom="step t", legend=False)
        self.loss_plot.setLogMode(y=True)
        # The y range follows the data only once a race settles (see _fit_loss_range): re-ranging the axes
        # on every frame of a drag costs more than drawing the curves.
        self.loss_plot.vb.disableAutoRange()
        self.loss_plot.setMenuEnabled(False)
        self.cursor = pg.InfiniteLine(angle=90, movable=True, pen=pen(theme.foreground(), 1, alpha=150))
        self.cursor.setToolTip("The animation's current step: drag to scrub")
        self.loss_plot.addItem(self.cursor, ignoreBounds=True)
        self.cursor.sigDragged.connect(self._on_cursor_dragged)

        # per-axis effective learning rate at the current step
        self.eff_widget = pg.PlotWidget(axisItems=grid_axes())
        self.eff_plot = self.eff_widget.getPlotItem()
        # the key goes in the title: a legend box inside the plot would sit on top of the squares
        style_plot(self.eff_plot, title="Effective lr   ■ x  ▲ y", bottom="lr/(√v̂+ε)",
                   legend=False)
        self.eff_plot.setLogMode(x=True)
        self.eff_plot.setMenuEnabled(False)
        self.eff_plot.setMouseEnabled(x=False, y=False)
        self.eff_plot.invertY(True)  # first optimizer on top, as in the list
        bottom = self.eff_plot.getAxis("bottom")
        bottom.enableAutoSIPrefix(False)  # "(x0.001)" after the label reads badly; the ticks say it all
        self.eff_plot.getAxis("left").setStyle(tickTextWidth=40, autoExpandTextSpace=True)
        self.eff_x = self.eff_plot.plot([], [], pen=None, symbol="s", symbolSize=11, name="x axis")
        self.eff_y = self.eff_plot.plot([], [], pen=None, symbol="t1", symbolSize=12, name="y axis")
        self._eff_decades: tuple[int, int] | None = None
        self._eff_shown = False
        self.eff_widget.setToolTip("Adam / RMSprop / Adagrad: lr/(√v̂+ε) for each coordinate (■ x, ▲ y) at the "
                                   "current step; SGD and momentum: the plain lr on both axes")

        # results: short headers (tooltips say what they mean) so the table fits the column without scrolling
        self.table = QTableWidget(0, 5)
        headers = [("optimizer", "The optimizer (colour as on the map)"),
                   ("final f", "f(θ_T): the loss at the last step"),
                   ("‖θ−θ*‖", "Distance from the last point to the nearest global minimum"),
                   ("t→tol", "First step t with ‖θ_t − θ*‖ ≤ tol × (view width); — if never"),
                   ("diverged", "Step where the path blew up (⚠) or left the view; 'no' if it stayed")]
        for j, (text, tip) in enumerate(headers):
            item = QTableWidgetItem(text)
            item.setToolTip(tip)
            self.table.setHorizontalHeaderItem(j, item)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        header = self.table.horizontalHeader()
        header.setMinimumSectionSize(30)
        # Fixed widths for the numbers, the name column takes the rest (ResizeToContents would re-measure
        # every row on every frame of a drag).
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for j, w in ((1, 48), (2, 50), (3, 38), (4, 78)):
            header.setSectionResizeMode(j, QHeaderView.ResizeMode.Fixed)
            header.resizeSection(j, w)
        self.table.setToolTip("final f: loss at the last step · ‖θ−θ*‖: distance to the nearest global minimum · "
                              "t→tol: first step within tol of it · diverged: step where the path blew up "
                              "(or left the view)")
        self.error_label = QLabel("")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #D55E00;")
        self.readout = QLabel("")
        self.readout.setWordWrap(True)
        self.readout_hint = QLabel("Dashed: −∇f, the descent direction. Dotted: −m̂, Adam's momentum. Solid: Δθ, "
                                   "the step actually taken. The arrows show directions only; the line under "
                                   "the map gives their sizes (Δθ/lr ≈ ±1 per axis is Adam's sign-like step).")
        self.readout_hint.setWordWrap(True)
        self.readout_hint.setMinimumWidth(60)
        self.readout.setToolTip("Sizes of the overlay arrows at the current step; Δθ/lr ≈ ±1 per axis is Adam's "
                                "sign-like step")

    def _cache_static_items(self) -> None:
        """Paint the items that do not change during a drag (axes and their grids, the surface image, its
        contours, the colour bar, the legend, the minima, the handle) once into pixmaps and blit them
        afterwards. Without this every repaint of a moving path replays thousands of contour segments, every
        tick label and every legend entry (~10 ms a frame). A cached item does not cache its children: the
        legend's rows are cached as a whole tree. (Not the axes' titles, the colour bar's insides or the
        handle's θ₀: pyqtgraph paints some of those outside their bounding rects, which a cache would clip,
        and cached text is rasterised a little differently.)"""
        cache = QGraphicsItem.CacheMode.DeviceCoordinateCache
        for plot in (self.plot, self.loss_plot, self.eff_plot):
            for name in ("left", "bottom", "top", "right"):
                plot.getAxis(name).setCacheMode(cache)
        # the handle too: moving it keeps its cached picture
        for item in (self.contours, self.image, self.colorbar, self.minima, self.local_minima, self.handle):
            item.setCacheMode(cache)
        cache_tree(self.plot.legend)

    def _arrow_pen(self, role: str, style) -> Any:
        color = theme.foreground() if role == "fg" else theme.COLORS[role]
        return pg.mkPen(color, width=2, style=style)

    def _build_layout(self) -> None:
        """Three columns that fit 1280×800 (and still work at 1024×700): a narrow scrolling control column
        (scenario and surface on top, the rest in tabs), the map as the hero in the middle, and the loss
        plot, effective-lr view and a compact results table on the right."""

        def stack(lay: QVBoxLayout, rows) -> None:
            for r in rows:  # widgets and layouts, top to bottom
                if isinstance(r, QWidget):
                    lay.addWidget(r)
                else:
                    lay.addLayout(r)

        def group(title: str, *rows) -> QGroupBox:
            box = QGroupBox(title)
            lay = QVBoxLayout(box)
            lay.setContentsMargins(6, 4, 6, 6)
            lay.setSpacing(3)
            stack(lay, rows)
            return box

        def hrow(*widgets) -> QHBoxLayout:
            lay = QHBoxLayout()
            lay.setContentsMargins(0, 0, 0, 0)
            lay.setSpacing(4)
            for w in widgets:
                lay.addWidget(w) if isinstance(w, QWidget) else lay.addWidget(QLabel(w))
            return lay

        def page(*rows) -> QWidget:
            w = QWidget()
            lay = QVBoxLayout(w)
            lay.setContentsMargins(2, 4, 2, 2)
            lay.setSpacing(4)
            stack(lay, rows)
            lay.addStretch(1)
            return w

        # Line edits and combos would otherwise ask for ~150 px each and widen the whole column.
        for e in (self.start_x, self.start_y):
            e.setMinimumWidth(40)
            e.setMaximumWidth(70)
        for c in (self.preset_combo, self.surface_combo, self.schedule_combo, self.swarm_combo,
                  self.overlay_combo, self.speed_combo):
            c.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            c.setMinimumContentsLength(8)
        self.preset_text.setMinimumWidth(60)
        self.surface_desc.setMinimumWidth(60)
        self.preset_text.setStyleSheet("color: palette(text);")

        start_row = hrow("start x", self.start_x, "y", self.start_y, self.start_reset)
        start_row.addStretch(1)
        opt_buttons = hrow(self.add_button, self.dup_button, self.remove_button)
        run_form = QFormLayout()
        run_form.setContentsMargins(0, 0, 0, 0)
        run_form.addRow("steps", self.steps_spin)
        run_form.addRow("schedule", self.schedule_combo)
        run_form.addRow("noise seed", self.seed_spin)
        run_form.addRow("speed", self.speed_combo)
        overlay_col = QVBoxLayout()
        overlay_col.setSpacing(2)
        for box in self.arrow_checks.values():
            overlay_col.addWidget(box)

        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(page(self.opt_list, opt_buttons, self.editor_title, self.editor_stack), "Optimizers")
        self.tabs.addTab(page(group("Run", run_form, self.noise_slider, self.tol_spin),
                              group("Swarm", self.swarm_check, hrow(self.swarm_combo, "n", self.swarm_n))), "Run")
        self.tabs.addTab(page(group("Arrows at the current point", hrow("for", self.overlay_combo), overlay_col),
                              self.readout_hint), "Overlays")
        self.tabs.setTabToolTip(0, "Which optimizers race, and their hyperparameters")
        self.tabs.setTabToolTip(1, "Steps, lr schedule, gradient noise, tolerance, animation speed; swarm of starts")
        self.tabs.setTabToolTip(2, "Arrows for −∇f, −m̂ and the step Δθ of one optimizer at the current step")

        controls = QWidget()
        col = QVBoxLayout(controls)
        col.setContentsMargins(2, 2, 2, 2)
        col.setSpacing(4)
        col.addWidget(group("Scenario", self.preset_combo, self.preset_text))
        col.addWidget(group("Surface", self.surface_combo, self.surface_desc, self.cond_slider, self.angle_slider,
                            start_row))
        col.addWidget(self.tabs)
        col.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(controls)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(LEFT_WIDTH[0])
        scroll.setMaximumWidth(LEFT_WIDTH[1])
        self.controls_scroll = scroll

        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.setSpacing(3)
        for w in (self.play_button, self.step_button, self.reset_button, self.instant_check):
            bar.addWidget(w)
        bar.addStretch(1)
        bar.addWidget(self.step_label)
        centre = QWidget()
        cl = QVBoxLayout(centre)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(2)
        cl.addLayout(bar)
        cl.addWidget(self.map_widget, 1)
        cl.addWidget(self.readout)
        self.map_widget.setMinimumSize(CENTRE_MIN_WIDTH, 300)

        table_box = QWidget()
        tl = QVBoxLayout(table_box)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.setSpacing(2)
        tl.addWidget(self.table, 1)
        tl.addWidget(self.error_label)
        self.table.setMinimumHeight(90)
        for w in (self.loss_widget, self.eff_widget):
            w.setMinimumSize(RIGHT_MIN_WIDTH, 120)
        right = QSplitter(Qt.Orientation.Vertical)
        right.setChildrenCollapsible(False)
        right.addWidget(self.loss_widget)
        right.addWidget(self.eff_widget)
        right.addWidget(table_box)
        right.setStretchFactor(0, 4)
        right.setStretchFactor(1, 3)
        right.setStretchFactor(2, 3)
        right.setSizes([320, 210, 160])
        right.setMinimumWidth(RIGHT_MIN_WIDTH)

        main = QSplitter(Qt.Orientation.Horizontal)
        main.setChildrenCollapsible(False)
        main.addWidget(centre)
        main.addWidget(right)
        main.setStretchFactor(0, 3)
        main.setStretchFactor(1, 2)
        main.setSizes([480, 340])
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        lay.addWidget(scroll)
        lay.addWidget(main, 1)

    # ------------------------------------------------------------------------------------------------------
    # optimizer list

    def _color_of(self, kind: str) -> str:
        used = {e["color"] for e in self._entries}
        preferred = theme.cycle_color(KIND_COLOR.get(kind, 0))
        if preferred not in used:
            return preferred
        cycle = [theme.cycle_color(i) for i in range(len(theme.CYCLE))]
        for c in ["#CC79A7", theme.cycle_color(theme.CYCLE.index("#000000")), "#56B4E9", "#A08A00", *cycle]:
            if c not in used:
                return c
        return preferred

    def _unique_name(self, base: str) -> str:
        names = {e["name"] for e in self._entries}
        if base not in names:
            return base
        i = 2
        while f"{base} ({i})" in names:
            i += 1
        return f"{base} ({i})"

    def add_optimizer(self, kind: str, values: dict | None = None, enabled: bool = True,
                      name: str | None = None) -> int:
        """Append an optimizer to the list (editor values as in OptimizerEditor); returns its uid."""
        if kind not in KIND_KNOBS:
            raise ValueError(f"optimizer kind must be one of {sorted(KIND_KNOBS)}, got {kind!r}")
        uid = self._next_uid
        self._next_uid += 1
        # The editor first: bad values (e.g. from stale settings) raise here, before anything is added.
        editor = OptimizerEditor(kind, values)
        entry = {"uid": uid, "kind": kind, "name": self._unique_name(name or optimizer_label(kind)),
                 "enabled": bool(enabled), "color": self._color_of(kind)}
        self._entries.append(entry)
        editor.changed.connect(self._changed)
        self._editors[uid] = editor
        self.editor_stack.addWidget(editor)
        item = QListWidgetItem(self._swatch(entry["color"]), entry["name"])
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setData(Qt.ItemDataRole.UserRole, uid)
        with QSignalBlocker(self.opt_list):
            item.setCheckState(Qt.CheckState.Checked if enabled else Qt.CheckState.Unchecked)
            self.opt_list.addItem(item)
        self._refresh_optimizer_combos()
        if self.opt_list.currentRow() < 0:
            self.opt_list.setCurrentRow(0)
        self._changed()
        return uid

    @staticmethod
    def _swatch(color: str) -> QIcon:
        pm = QPixmap(14, 14)
        pm.fill(QColor(color))
        return QIcon(pm)

    def _entry(self, uid: int) -> dict:
        return next(e for e in self._entries if e["uid"] == uid)

    def _selected_uid(self) -> int | None:
        item = self.opt_list.currentItem()
        return None if item is None else item.data(Qt.ItemDataRole.UserRole)

    def optimizer_row(self, name: str) -> int:
        """Row of the optimizer called ``name`` in the list (tests, presets)."""
        return next(i for i, e in enumerate(self._entries) if e["name"] == name)

    def set_enabled(self, name: str, enabled: bool) -> None:
        """Tick or untick an optimizer as a user would."""
        self.opt_list.item(self.optimizer_row(name)).setCheckState(
            Qt.CheckState.Checked if enabled else Qt.CheckState.Unchecked)

    def editor(self, name: str) -> OptimizerEditor:
        return self._editors[self._entries[self.optimizer_row(name)]["uid"]]

    @Slot(QListWidgetItem)
    def _on_item_changed(self, item: QListWidgetItem) -> None:
        uid = item.data(Qt.ItemDataRole.UserRole)
        self._entry(uid)["enabled"] = item.checkState() == Qt.CheckState.Checked
        self._refresh_optimizer_combos()
        self._changed()

    @Slot(int)
    def _on_opt_selected(self, row: int) -> None:
        if row < 0:
            self.editor_title.setText("")
            return
        e = self._entries[row]
        self.editor_stack.setCurrentWidget(self._editors[e["uid"]])
        self.editor_title.setText(f"<b>{e['name']}</b> hyperparameters")

    def _duplicate_selected(self) -> None:
        uid = self._selected_uid()
        if uid is None:
            return
        e = self._entry(uid)
        self.add_optimizer(e["kind"], self._editors[uid].values(), True, e["name"].split(" (")[0])
        self.opt_list.setCurrentRow(self.opt_list.count() - 1)

    def _remove_selected(self) -> None:
        row = self.opt_list.currentRow()
        if row < 0:
            return
        e = self._entries.pop(row)
        self.opt_list.takeItem(row)
        editor = self._editors.pop(e["uid"])
        self.editor_stack.removeWidget(editor)
        editor.deleteLater()
        self._refresh_optimizer_combos()
        self._changed()

    def _clear_optimizers(self) -> None:
        with QSignalBlocker(self.opt_list):
            self.opt_list.clear()
        for editor in self._editors.values():
            self.editor_stack.removeWidget(editor)
            editor.deleteLater()
        self._entries.clear()
        self._editors.clear()

    def _refresh_optimizer_combos(self) -> None:
        """Keep the overlay and swarm pickers in step with the list, preserving their choice by name."""
        names = [e["name"] for e in self._entries]
        for combo, enabled_only in ((self.overlay_combo, True), (self.swarm_combo, False)):
            current = combo.currentText()
            with QSignalBlocker(combo):
                combo.clear()
                if combo is self.overlay_combo:
                    combo.addItem("(none)")
                for e in self._entries:
                    if e["enabled"] or not enabled_only:
                        combo.addItem(e["name"])
                i = combo.findText(current)
                combo.setCurrentIndex(i if i >= 0 else (min(1, combo.count() - 1) if names else 0))

    # ------------------------------------------------------------------------------------------------------
    # the scene

    def _race_settings(self) -> dict[str, Any]:
        """The controls every race depends on (shared by the scene and the saved settings)."""
        return {
            "surface": self.surface_combo.currentData(),
            "condition": self.cond_slider.value(),
            "angle": self.angle_slider.value(),
            "start": list(self._start),
            "steps": self.steps_spin.value(),
            "noise": self.noise_slider.value(),
            "seed": self.seed_spin.value(),
            "schedule": self.schedule_combo.currentData(),
            "tol": self.tol_spin.value(),
        }

    def scene(self, record: bool = False) -> dict:
        """The plain scene the worker runs (see surface_run.run_scene)."""
        opts = [{"uid": e["uid"], "name": e["name"], "kind": e["kind"], "enabled": e["enabled"],
                 "hyper": self._editors[e["uid"]].hyper()} for e in self._entries]
        scene = {
            **self._race_settings(),
            "optimizers": opts,
            "record": record,
            "swarm": None,
        }
        if self.swarm_check.isChecked():
            name = self.swarm_combo.currentText()
            match = [o for o in opts if o["name"] == name]
            if match:
                scene["swarm"] = {"name": name, "kind": match[0]["kind"], "hyper": match[0]["hyper"],
                                  "n": self.swarm_n.value()}
        return scene

    def _overlays_wanted(self) -> bool:
        return True  # the effective-lr squares are always shown; arrows when a target is chosen

    @Slot()
    def _changed(self, *_) -> None:
        """Any control changed: recompute now without records (fast), with records once things settle."""
        if self._loading or self._shut:
            return
        self._submit(record=False)
        if self._overlays_wanted():
            self._detail_timer.start()

    def _submit(self, record: bool) -> None:
        if self._shut:
            return
        self._traj_pending = self._traj.worker.submit(self.scene(record))

    @Slot(int, object)
    def _on_result(self, rid: int, res: SceneResult | None) -> None:
        """Keep the newest result; it is drawn in the next event-loop turn (two results arriving together are
        drawn once: latest wins on the GUI side too)."""
        if self._shut or res is None:
            return
        if rid == self._traj_pending:
            self._traj_pending = 0
        self._incoming = res
        self._queue(self._present, first=True)

    # ------------------------------------------------------------------------------------------------------
    # drawing a result, one slice per event-loop turn
    #
    # Why: during a drag a result arrives every ~20 ms. Drawing it all at once (paths, loss curves, then Qt
    # painting the map and the loss plot in the same turn) kept the GUI thread busy ~15–25 ms in one stretch.
    # As jobs on a zero-interval timer, each slice and each paint get their own turn of the event loop, with
    # input events and timers handled in between. Jobs read the newest state when they run (latest wins).

    def _queue(self, job, first: bool = False) -> None:
        """Run ``job()`` in a later turn of the event loop (once, however often it is queued)."""
        if self._shut:
            return
        if job not in self._jobs:
            self._jobs.insert(0 if first else len(self._jobs), job)
        if not self._work_timer.isActive():
            self._work_timer.start()

    @Slot()
    def _run_job(self) -> None:
        if self._jobs and not self._shut:
            self._jobs.pop(0)()
        if self._jobs and not self._shut:
            self._work_timer.start()

    def _present(self) -> None:
        """Draw the newest result's paths and markers; the overlays, the loss plot (during a drag at most
        every LOSS_INTERVAL_MS) and, for a settled race, the table follow in later turns."""
        res, self._incoming = self._incoming, None
        if res is None or self._shut:
            return
        t0 = time.perf_counter()
        self._result = res
        self.frames_drawn += 1
        T = self.steps_spin.value()
        if self._restart_pending:
            self._restart_pending = False
            self._t = T if self.instant_check.isChecked() else 0
            if not self.instant_check.isChecked():
                self._set_playing(True)
        elif self.instant_check.isChecked() and not self._playing:
            self._t = T
        self._t = min(self._t, T)
        if self._race.fallback and not self._told_fallback:  # once: the races still run, just in-thread
            self._told_fallback = True
            self.statusMessage.emit(f"Loss surface: {self._race.fallback}")
        self._sync_tracks(res)
        self._draw_swarm(res)
        self._draw_paths()
        self._queue(self._draw_arrows_now)  # each in its own turn, after the map has painted the paths
        self._queue(self._draw_eff_lr_now)
        if res.record or not self._detail_timer.isActive():  # a settled race: everything, now
            self._loss_timer.stop()
            self._queue(self._draw_loss)
            self._table_result = res
            self._queue(self._draw_table)
        else:  # a frame of a drag: the loss plot at most every LOSS_INTERVAL_MS
            wait = LOSS_INTERVAL_MS - (time.perf_counter() - self._loss_drawn_at) * 1e3
            if wait <= 0:
                self._queue(self._draw_loss)
            elif not self._loss_timer.isActive():
                self._loss_timer.start(math.ceil(wait))
        self.draw_ms = [*self.draw_ms[-999:], (time.perf_counter() - t0) * 1e3]

    def _draw_table(self) -> None:
        res, self._table_result = self._table_result, None
        if res is not None:
            self._fill_table(res)

    @Slot(int, str)
    def _on_failed(self, rid: int, message: str) -> None:
        if self._shut:
            return
        if rid == self._traj_pending:
            self._traj_pending = 0
        self.error_label.setText(message)
        self.statusMessage.emit(f"Loss surface: {message}")

    def _sync_tracks(self, res: SceneResult) -> None:
        """Create / remove the per-optimizer plot items so they match the result's runs."""
        want = {r.uid: r for r in res.runs}
        for uid in list(self._tracks):
            if uid not in want or self._tracks[uid].name != want[uid].name:
                self._tracks.pop(uid).remove(self)
        added = False
        for r in res.runs:
            if r.uid not in self._tracks:
                color = next((e["color"] for e in self._entries if e["uid"] == r.uid), theme.CYCLE[0])
                self._tracks[r.uid] = _Track(self, r.uid, r.name, color)
                added = True
        if added:
            cache_tree(self.plot.legend)  # its new rows
        fstar = res.f_star
        log = fstar is not None
        if log != self._loss_log:  # re-laying out the axes is expensive: only when it changes
            self._loss_log = log
            self._loss_range = None
            self.loss_plot.setLogMode(y=log)
            self.loss_plot.setLabel("left", "f − f*" if log else "f")
        # the loss curves themselves are drawn by _draw_loss, in a later turn

    def _draw_loss(self) -> None:
        """The loss curves f − f* of the newest drawn result (and, for a settled race, the y range)."""
        res = self._result
        if res is None:
            return
        self._loss_drawn_at = time.perf_counter()
        fstar = res.f_star
        for r in res.runs:
            track = self._tracks.get(r.uid)
            if track is None:
                continue
            y = r.loss[: r.shown] - (fstar or 0.0)
            if fstar is not None:
                y = np.maximum(y, 1e-16)  # log axis: an exact hit of the minimum would be −∞
            track.loss.setData(np.arange(r.shown), y)
        if self._loss_steps != self.steps_spin.value():
            self._loss_steps = self.steps_spin.value()
            self.loss_plot.setXRange(0, max(self._loss_steps, 1), padding=0.02)
        if res.record or self._loss_range is None:  # a settled race (or the first one): fit y to it, next turn
            self._queue(self._fit_loss_range, first=True)

    def _fit_loss_range(self) -> None:
        """Fit the loss plot's y range to the drawn curves (in log10 units on a log axis)."""
        lo, hi = math.inf, -math.inf
        for tr in self._tracks.values():
            y = tr.loss.yData
            if y is None or not len(y):
                continue
            y = y[np.isfinite(y)]
            if self._loss_log:
                y = np.log10(y[y > 0])
            if y.size:
                lo, hi = min(lo, float(y.min())), max(hi, float(y.max()))
        if not lo <= hi:
            return
        if hi - lo < 1e-9:
            lo, hi = lo - 0.5, hi + 0.5
        rng = (lo, hi)
        if rng != self._loss_range:
            self._loss_range = rng
            self.loss_plot.setYRange(lo, hi, padding=0.05)

    # ------------------------------------------------------------------------------------------------------
    # drawing one animation frame

    def _draw_frame(self) -> None:
        """Draw the animation's step t: paths and markers, then the overlays (arrows, readout, effective lr)."""
        if self._draw_paths():
            self._draw_overlays()

    def _draw_overlays(self) -> None:
        self._draw_arrows_now()
        self._draw_eff_lr_now()

    def _overlay_step(self) -> int:
        """The step the overlays describe (θ_t → θ_{t+1}); at the very end, the last step taken."""
        return max(min(self._t, self.steps_spin.value() - 1), 0)

    def _draw_arrows_now(self) -> None:
        if self._result is not None:
            self._draw_arrows(self._result, self._overlay_step())

    def _draw_eff_lr_now(self) -> None:
        if self._result is not None:
            self._draw_eff_lr(self._result, self._overlay_step())

    def _draw_paths(self) -> bool:
        """Paths up to step t and the current-point markers; False when there is no result yet."""
        res = self._result
        if res is None:
            return False
        t = self._t
        T = self.steps_spin.value()
        self.step_label.setText(f"step {t} / {T}")
        with QSignalBlocker(self.cursor):
            self.cursor.setValue(t)
        mx, my, symbols, sizes, brushes = [], [], [], [], []
        for r in res.runs:
            track = self._tracks.get(r.uid)
            if track is None:
                continue
            n = min(t + 1, r.shown)
            track.path.setData(r.path[:n, 0], r.path[:n, 1])
            last = r.path[n - 1]
            gone = r.left_view_at is not None and t >= r.left_view_at
            if math.isfinite(last[0]) and math.isfinite(last[1]):
                mx.append(last[0])
                my.append(last[1])
                symbols.append("x" if gone else "o")
                sizes.append(14 if gone else 11)
                brushes.append(track.brush)
        self.markers.setData(mx, my, symbol=symbols, size=sizes, brush=brushes)
        return True

    def _overlay_run(self, res: SceneResult):
        name = self.overlay_combo.currentText()
        return next((r for r in res.runs if r.name == name), None)

    def _draw_arrows(self, res: SceneResult, t: int) -> None:
        r = self._overlay_run(res)
        for item in self.arrow_items.values():
            if item.xData is not None and len(item.xData):  # already empty during a drag: skip the update
                item.setData([], [])
        if r is None or r.grads is None or t >= len(r.grads):
            text = ("" if r is None else f"{r.name}: arrows appear when the race is recomputed"
                    if r.grads is None else f"{r.name}: step {t} is the end of the path")
            self._set_readout(text, hold=True)
            return
        origin = r.path[t]
        (x0, x1), _ = self.plot.vb.viewRange()
        length = ARROW_FRACTION * (x1 - x0)
        vectors = {"grad": -r.grads[t], "m_hat": None if r.m_hat is None else -r.m_hat[t], "step": r.updates[t]}
        for key, vec in vectors.items():
            if vec is None or not self.arrow_checks[key].isChecked():
                continue
            pts = arrow_segments(origin, vec, length)
            self.arrow_items[key].setData(pts[:, 0], pts[:, 1])
        lr = r.lr[t] if r.lr is not None else r.base_lr
        g, step = r.grads[t], r.updates[t]
        parts = [f"<b>{r.name}</b>, step {t}:", f"‖∇f‖ = {fmt(float(np.hypot(*g)))}"]
        if r.m_hat is not None:
            parts.append(f"‖m̂‖ = {fmt(float(np.hypot(*r.m_hat[t])))}")
        parts.append(f"‖Δθ‖ = {fmt(float(np.hypot(*step)))}")
        if lr > 0 and np.all(np.isfinite(step)):
            parts.append(f"Δθ/lr = ({step[0] / lr:+.3f}, {step[1] / lr:+.3f})")
        self._set_readout("  ·  ".join(parts) + "  <span style='color:gray'>(dashed −∇f, dotted −m̂, "
                          "solid Δθ)</span>", hold=False)

    def _set_readout(self, text: str, hold: bool) -> None:
        """Show ``text`` under the map. ``hold`` (a race without records, i.e. a drag): the label keeps at
        least its current height. Otherwise a drag's one-line text after a settled race's two lines would
        re-lay out the column and resize the map, which re-renders every cached layer and the axes (~40 ms
        in one go), and again when the race settles."""
        if self.readout.text() == text:
            return
        self.readout.setMinimumHeight(self.readout.height() if hold else 0)
        self.readout.setText(text)

    def _draw_eff_lr(self, res: SceneResult, t: int) -> None:
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
            brushes.append(pg.mkBrush(self._tracks[r.uid].color) if r.uid in self._tracks else None)
        ys = np.array(xs, dtype=float)
        if xs or self._eff_shown:  # a drag's frames have no records: nothing to redraw while it stays empty
            self._eff_shown = bool(xs)
            self.eff_x.setData(np.array(ex), ys - 0.15, symbolBrush=brushes)
            self.eff_y.setData(np.array(ey), ys + 0.15, symbolBrush=brushes)
        if ticks != self._eff_ticks:  # axis relayout only when the list of optimizers changes
            self._eff_ticks = ticks
            self.eff_plot.getAxis("left").setTicks([ticks])
            self.eff_plot.setYRange(-0.6, max(len(res.runs) - 0.4, 0.6), padding=0)
        decades = eff_decades(res)
        if decades is not None and decades != self._eff_decades:  # once per result, not per frame
            self._eff_decades = decades
            lo, hi = decades
            every = 1 if hi - lo <= 6 else 2
            self.eff_plot.getAxis("bottom").setTicks([[(k, decade_label(k)) for k in range(lo, hi + 1, every)], []])
            self.eff_plot.setXRange(lo - 0.15, hi + 0.15, padding=0)

    def _draw_swarm(self, res: SceneResult) -> None:
        sw = res.swarm
        self.swarm_item.setVisible(sw is not None)
        if sw is None:
            if len(self.swarm_item.data):  # already empty on every frame of a drag: no update
                self.swarm_item.setData([], [])
            return
        colors = []
        for b in sw.basin:
            if b == -2:
                colors.append(pg.mkBrush(120, 0, 0, 150))
            elif b == -1:
                colors.append(pg.mkBrush(128, 128, 128, 90))
            else:
                c = pg.mkColor(SWARM_COLORS[int(b) % len(SWARM_COLORS)])
                c.setAlpha(110)
                colors.append(pg.mkBrush(c))
        size = min(sw.spacing) * 0.92
        self.swarm_item.setData(sw.starts[:, 0], sw.starts[:, 1], brush=colors, size=size)

    def _fill_table(self, res: SceneResult) -> None:
        rows = res.runs
        self.table.setRowCount(len(rows) + len(res.errors))
        for i, r in enumerate(rows):
            if r.diverged_at is not None:
                div = f"⚠ at step {r.diverged_at}"
            elif r.left_view_at is not None:
                div = f"left view at {r.left_view_at}"
            else:
                div = "no"
            cells = [r.name, fmt(r.final_loss), fmt(r.distance),
                     "—" if r.steps_to_tol is None else str(r.steps_to_tol), div]
            for j, text in enumerate(cells):
                item = self.table.item(i, j)
                if item is None or self.table.columnSpan(i, j) != 1:
                    if self.table.columnSpan(i, 1) != 1:
                        self.table.setSpan(i, 1, 1, 1)
                    item = QTableWidgetItem(text)
                    self.table.setItem(i, j, item)
                elif item.text() != text:
                    item.setText(text)
                if j == 0 and r.uid in self._tracks and item.data(Qt.ItemDataRole.UserRole) != r.uid:
                    item.setIcon(self._swatch(self._tracks[r.uid].color))
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
        diverged = [r for r in rows if r.diverged_at is not None or r.left_view_at is not None]
        status = ""
        if diverged:
            status = "; ".join(
                f"{r.name} {'diverged at step ' + str(r.diverged_at) if r.diverged_at is not None else 'left the view at step ' + str(r.left_view_at)}"
                for r in diverged)
        elif res.errors:
            status = f"{res.errors[0][0]}: {res.errors[0][1]}"
        if status and status != self._status:  # tell once, not on every frame of a drag
            self.statusMessage.emit(status)
        self._status = status

    # ------------------------------------------------------------------------------------------------------
    # animation

    def _set_playing(self, playing: bool) -> None:
        self._playing = playing and not self._shut
        self.play_button.setText("⏸ Pause" if self._playing else "▶ Play")
        if self._playing:
            self._anim.start()
        else:
            self._anim.stop()

    def toggle_play(self) -> None:
        if not self._playing and self._t >= self.steps_spin.value():
            self._t = 0
        self._set_playing(not self._playing)

    def step_once(self) -> None:
        self._set_playing(False)
        self._t = min(self._t + 1, self.steps_spin.value())
        self._draw_frame()

    def rewind(self) -> None:
        self._set_playing(False)
        self._t = 0
        self._draw_frame()

    def show_step(self, t: int) -> None:
        """Pause and show step t (clamped to 0 … steps)."""
        self._set_playing(False)
        self._t = int(min(max(t, 0), self.steps_spin.value()))
        self._draw_frame()

    @Slot()
    def _tick(self) -> None:
        T = self.steps_spin.value()
        self._t = min(self._t + self.speed_combo.currentData(), T)
        self._draw_frame()
        if self._t >= T:
            self._set_playing(False)

    @Slot(bool)
    def _on_instant(self, on: bool) -> None:
        if on:
            self._set_playing(False)
            self._t = self.steps_spin.value()
            self._draw_frame()

    @Slot(object)
    def _on_cursor_dragged(self, line) -> None:
        self.show_step(round(line.value()))

    @Slot()
    def _overlay_changed(self, *_) -> None:
        self._draw_frame()

    # ------------------------------------------------------------------------------------------------------
    # start point

    def set_start(self, x: float, y: float) -> None:
        """Move θ₀ (as a drag or a typed value would) and recompute."""
        self._start = (float(x), float(y))
        with QSignalBlocker(self.handle):
            self.handle.setPos(self._start)
        self._show_start()
        self._changed()

    def _show_start(self) -> None:
        for e, v in ((self.start_x, self._start[0]), (self.start_y, self._start[1])):
            e.setText(f"{v:.4g}")
            e.setStyleSheet("")

    @Slot(object)
    def _on_handle_moved(self, *_) -> None:
        p = self.handle.pos()
        self._start = (p.x(), p.y())
        self._show_start()
        self._changed()

    @Slot(object)
    def _on_handle_released(self, *_) -> None:
        self._detail_timer.start()

    def _on_map_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or event.double() or event.isAccepted():
            return
        if not self.plot.vb.sceneBoundingRect().contains(event.scenePos()):
            return
        p = self.plot.vb.mapSceneToView(event.scenePos())
        self.set_start(p.x(), p.y())

    @Slot()
    def _on_start_typed(self) -> None:
        try:
            x = as_float(self.start_x.text(), "start x", -1e6, 1e6)
            y = as_float(self.start_y.text(), "start y", -1e6, 1e6)
        except ValueError as exc:
            for e in (self.start_x, self.start_y):
                e.setStyleSheet("background: #FFD6D6; color: #000000;")
            self.statusMessage.emit(str(exc))
            self.error_label.setText(str(exc))
            return
        self.error_label.setText("")
        if (x, y) != self._start:
            self.set_start(x, y)
        else:
            self._show_start()

    def _reset_start(self) -> None:
        self.set_start(*self._surface().start)

    # ------------------------------------------------------------------------------------------------------
    # surface and image

    def _surface(self):
        return make_surface({"surface": self.surface_combo.currentData(), "condition": self.cond_slider.value(),
                             "angle": self.angle_slider.value()})

    @Slot(int)
    def _on_surface(self, *_) -> None:
        if self._loading:
            return
        self._surface_changed(new_start=True)
        self._restart_pending = True
        self._changed()

    @Slot(float)
    def _on_bowl(self, *_) -> None:
        if self._loading or self.surface_combo.currentData() != "ill_conditioned":
            return
        self._surface_changed(new_start=False)
        self._changed()

    def _surface_changed(self, new_start: bool) -> None:
        s = self._surface()
        is_bowl = s.name == "ill_conditioned"
        self.cond_slider.setVisible(is_bowl)
        self.angle_slider.setVisible(is_bowl)
        self.surface_desc.setText(s.description)
        if new_start:
            self._start = s.start
            with QSignalBlocker(self.handle):
                self.handle.setPos(self._start)
            self._show_start()
        mins = np.asarray(s.minima, dtype=float).reshape(-1, 2)
        self.minima.setData(mins[:, 0], mins[:, 1])
        locs = np.asarray(s.local_minima, dtype=float).reshape(-1, 2)
        self.local_minima.setData(locs[:, 0], locs[:, 1])
        self.local_minima.setVisible(len(locs) > 0)
        self.minima.setVisible(len(mins) > 0)
        (x0, x1), (y0, y1) = s.domain
        with QSignalBlocker(self.plot.vb):
            self.plot.vb.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0.02)
        self._image_rect = None
        w, h = x1 - x0, y1 - y0  # the aspect-locked view shows more than the domain: cover a margin too
        self._request_image(((x0 - 0.5 * w, x1 + 0.5 * w), (y0 - 0.5 * h, y1 + 0.5 * h)))
        self._zoom_timer.start()  # then once more for the whole visible (aspect-locked) view

    def _request_image(self, domain) -> None:
        if self._shut:
            return
        req = {"surface": self.surface_combo.currentData(), "condition": self.cond_slider.value(),
               "angle": self.angle_slider.value(), "domain": domain}
        self._img_pending = self._img.worker.submit(req)

    @Slot(int, object)
    def _on_image(self, rid: int, im) -> None:
        if self._shut:
            return
        if rid == self._img_pending:
            self._img_pending = 0
        self.image.setImage(im.image, levels=im.levels, autoLevels=False)
        self.image.setRect(*im.rect)
        self._image_rect = im.rect
        self.colorbar.setLevels(im.levels)
        self.colorbar.axis.setLabel(im.label)
        self.contours.setData(im.contours[:, 0], im.contours[:, 1])

    @Slot(int, str)
    def _on_image_failed(self, rid: int, message: str) -> None:
        if rid == self._img_pending:
            self._img_pending = 0
        self.statusMessage.emit(f"Surface image: {message}")

    @Slot(object, object)
    def _on_range_changed(self, *_) -> None:
        if not self._shut:
            self._zoom_timer.start()

    @Slot()
    def _maybe_new_image(self) -> None:
        """After a pan or zoom: recompute the image if the view left it or zoomed in enough to want detail."""
        (x0, x1), (y0, y1) = self.plot.vb.viewRange()
        if self._image_rect is not None:
            ix, iy, iw, ih = self._image_rect
            inside = x0 >= ix and x1 <= ix + iw and y0 >= iy and y1 <= iy + ih
            if inside and (x1 - x0) > iw / 2.5:
                return
        mx, my = 0.25 * (x1 - x0), 0.25 * (y1 - y0)  # a margin so small pans need no new image
        self._request_image(((x0 - mx, x1 + mx), (y0 - my, y1 + my)))
        self._draw_frame()  # arrow lengths follow the view

    # ------------------------------------------------------------------------------------------------------
    # presets and state

    @Slot(int)
    def _on_preset(self, index: int) -> None:
        key = self.preset_combo.itemData(index)
        if key:
            self.apply_preset(key)

    def apply_preset(self, key: str) -> None:
        """Load a scenario: defaults, then the preset's settings; the race restarts and plays."""
        if key not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {key!r}")
        p = PRESETS[key]
        state = copy.deepcopy(DEFAULT_STATE)
        state.update(copy.deepcopy(p["state"]))
        state["preset"] = key
        self.set_state(state, restart=True)

    def get_state(self) -> dict[str, Any]:
        return {
            **self._race_settings(),
            "optimizers": [{"kind": e["kind"], "name": e["name"], "enabled": e["enabled"],
                            "values": self._editors[e["uid"]].values()} for e in self._entries],
            "speed": self.speed_combo.currentData(),
            "instant": self.instant_check.isChecked(),
            "swarm": {"enabled": self.swarm_check.isChecked(), "optimizer": self.swarm_combo.currentText(),
                      "n": self.swarm_n.value()},
            "overlay": {"target": self.overlay_combo.currentText(),
                        **{k: b.isChecked() for k, b in self.arrow_checks.items()}},
            "preset": self.preset_combo.currentData() or "",
        }

    def set_state(self, state: dict[str, Any], restart: bool = False) -> None:
        """Restore a state from get_state (or a preset); unknown or invalid entries are ignored."""
        if not isinstance(state, dict):
            return
        self._loading = True
        try:
            self._load(state)
        finally:
            self._loading = False
        self._surface_changed(new_start=False)
        self._restart_pending = restart
        self._changed()

    def _load(self, state: dict) -> None:
        def num(key, lo, hi, cast=float):
            v = state.get(key)
            try:
                v = cast(v)
            except (TypeError, ValueError, OverflowError):
                return None
            return v if lo <= v <= hi else None

        name = state.get("surface")
        if name in SURFACES:
            with QSignalBlocker(self.surface_combo):
                self.surface_combo.setCurrentIndex(self.surface_combo.findData(name))
        for key, slider in (("condition", self.cond_slider), ("angle", self.angle_slider),
                            ("noise", self.noise_slider), ("tol", self.tol_spin)):
            v = num(key, slider._min, slider._max)
            if v is not None:
                slider.setValue(v)
        for key, spin in (("steps", self.steps_spin), ("seed", self.seed_spin)):
            v = num(key, spin.minimum(), spin.maximum(), int)
            if v is not None:
                spin.setValue(v)
        i = self.schedule_combo.findData(state.get("schedule"))
        if i >= 0:
            self.schedule_combo.setCurrentIndex(i)
        start = state.get("start")
        try:
            sx, sy = (float(v) for v in start)
            if not (math.isfinite(sx) and math.isfinite(sy)):
                raise ValueError
            self._start = (sx, sy)
        except (TypeError, ValueError, OverflowError):
            self._start = self._surface().start
        with QSignalBlocker(self.handle):
            self.handle.setPos(self._start)
        self._show_start()
        opts = state.get("optimizers")
        if isinstance(opts, list) and any(isinstance(o, dict) and o.get("kind") in KIND_KNOBS for o in opts):
            self._clear_optimizers()
            for o in opts:
                if isinstance(o, dict) and o.get("kind") in KIND_KNOBS:
                    values = o.get("values") if isinstance(o.get("values"), dict) else {}
                    try:
                        self.add_optimizer(o["kind"], values, bool(o.get("enabled", True)),
                                           o.get("name") if isinstance(o.get("name"), str) else None)
                    except (TypeError, ValueError, OverflowError):
                        continue
            self.opt_list.setCurrentRow(0)
        speed = state.get("speed")
        if speed in SPEEDS:
            self.speed_combo.setCurrentIndex(SPEEDS.index(speed))
        if isinstance(state.get("instant"), bool):
            self.instant_check.setChecked(state["instant"])
        swarm = state.get("swarm")
        if isinstance(swarm, dict):
            self.swarm_check.setChecked(bool(swarm.get("enabled", False)))
            i = self.swarm_combo.findText(str(swarm.get("optimizer", "")))
            if i >= 0:
                self.swarm_combo.setCurrentIndex(i)
            try:
                self.swarm_n.setValue(int(swarm.get("n", 15)))
            except (TypeError, ValueError, OverflowError):
                pass
        overlay = state.get("overlay")
        if isinstance(overlay, dict):
            i = self.overlay_combo.findText(str(overlay.get("target", "")))
            if i >= 0:
                self.overlay_combo.setCurrentIndex(i)
            for k, box in self.arrow_checks.items():
                if isinstance(overlay.get(k), bool):
                    box.setChecked(overlay[k])
        key = state.get("preset", "")
        i = self.preset_combo.findData(key) if key else 0
        with QSignalBlocker(self.preset_combo):
            self.preset_combo.setCurrentIndex(max(i, 0))
        self.preset_text.setText(PRESETS[key]["text"] if key in PRESETS else
                                 "Pick a scenario above, or drag the start ⊕ on the map.")

    def reset_defaults(self) -> None:
        self.set_state(copy.deepcopy(DEFAULT_STATE), restart=False)
        self._t = self.steps_spin.value()

    # ------------------------------------------------------------------------------------------------------
    # panel protocol

    def plots(self) -> dict[str, pg.PlotItem]:
        return {"Loss surface": self.plot, "Loss vs step": self.loss_plot, "Effective lr": self.eff_plot}

    def is_idle(self) -> bool:
        return (self._traj_pending == 0 and self._img_pending == 0 and not self._playing
                and not self._detail_timer.isActive() and not self._zoom_timer.isActive()
                and self._incoming is None and not self._jobs and not self._loss_timer.isActive()
                and self._result is not None)

    def on_theme_changed(self) -> None:
        fg = theme.foreground()
        self.colorbar.setColorMap(surface_colormap(theme.current()))
        self.contours.setPen(pen(fg, 1, alpha=60))
        self.cursor.setPen(pen(fg, 1, alpha=150))
        self.handle.setPen(pg.mkPen(fg, width=2))
        for key, (_, role, style) in ARROWS.items():
            self.arrow_items[key].setPen(self._arrow_pen(role, style))
        self.markers.setPen(pg.mkPen(fg, width=1))

    def shutdown(self) -> None:
        if self._shut:
            return
        self._shut = True
        for timer in (self._anim, self._detail_timer, self._zoom_timer, self._work_timer, self._loss_timer):
            timer.stop()
        self._jobs.clear()
        self._playing = False
        self._traj.worker.request_stop()
        self._race.close()  # the child exits; a worker thread waiting for it gets EOF and returns at once
        self._traj.stop()
        self._img.stop()


def _image_job(req: dict):
    """Worker-thread job: the surface image and contours for one view."""
    return surface_image(make_surface(req), req["domain"])
