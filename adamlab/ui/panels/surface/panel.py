"""``SurfacePanel``: the arena's coordinator — it wires the controls to the race and the race to the views.

Data flow (GUIDE §1): the control column (``controls.ArenaControls``) builds a plain *scene* dict → a
latest-wins worker thread hands it to ``race.RaceProcess``, which runs ``race.run_scene`` (the core's
``trajectory.run_many``) in a child process → the panel keeps the newest result and draws it up to the
animation's current step on the map (``map_view.MapView``) and the charts beside it (``charts``). A second
latest-wins worker computes the surface image and its contours (``image``), once per surface or zoom change.

What the panel itself holds: the workers, the animation (step t, play / step / reset / instant, the timer),
the start θ₀ as dragged on the map or typed, the per-optimizer plot items (``Track``), the saved state, and
the scheduling that keeps the window answering during a drag.

Dragging: every move of the start handle submits a scene without per-step records (cheapest: paths, losses
and the table are all exact); ``DETAIL_DELAY_MS`` after the last change a second request with ``record=True``
brings the arrows and effective-lr overlays back. Latest-wins means a fast drag computes only the newest
position.

Keeping the GUI thread free during a drag (every stretch of GUI work well under a 60 Hz frame, 16 ms):
* a result is drawn in slices, one per turn of the event loop (``_queue``): the paths and markers, then the
  arrows, the effective lr, the loss curves, the loss range and the table, so Qt paints each part in its own
  turn and input and timers get through in between. Two results arriving together are drawn once (latest
  wins on the GUI side too);
* while a drag runs, a frame only updates existing items with ``setData``; the loss plot follows at most
  every ``LOSS_INTERVAL_MS``; the table, the loss plot's y range and the effective-lr axis follow once the
  race settles (the settled race is always drawn in full);
* the views paint what does not move from pixmap caches and never resize during a drag, and the map's
  scene skips its hover search mid-drag (``widgets.fastpaint``).
``benchmarks/bench_surface.py`` measures all of it: event-loop lateness during a scripted drag (setPos or
real mouse events) and after the release.

Fair races (the Tune tab, ``tuning.TuneControls``): a tune request goes to a third latest-wins worker, which
runs it in the same race child (``RaceProcess.tune``; a race waits while it runs); the panel polls its
progress every ``PROGRESS_MS``, Cancel asks the child to stop (and kills it if it has not after
``CANCEL_GRACE_MS``), and the report puts each optimizer's best settings into its editor and draws the
lr-sensitivity plot.

Layout (fits 1280×800 and, at its minimum width of ~830 px, a 1024×700 window): the scrolling control
column, the map in the centre under the animation bar with its key and readout under it, and on the right
the loss plot, the effective lr / lr sensitivity (tabs) and the results table. The 3-D relief
(``view3d.View3D``) shares the map's place, beside or instead of it; the panel hands it the surface and each
drawn frame (``set_surface``, ``set_race``), which it only stores while it is hidden.
"""

from __future__ import annotations

import copy
import math
import os
import time
from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from adamlab.ui import theme, workers
from adamlab.ui.panels.base import Panel
from adamlab.ui.panels.surface.charts import EffLrChart, LossChart, ResultsTable, SensitivityChart
from adamlab.ui.panels.surface.controls import ArenaControls
from adamlab.ui.panels.surface.image import surface_image
from adamlab.ui.panels.surface.map_view import MapView
from adamlab.ui.panels.surface.presets import DEFAULT_STATE, PRESETS
from adamlab.ui.panels.surface.race import RaceProcess, SceneResult, TuneReport, make_surface
from adamlab.ui.panels.surface.racers import DASHES, RacerList, racer_icon
from adamlab.ui.panels.surface.view3d import View3D
from adamlab.ui.schema import MISSING, Bool, Fields, Schema
from adamlab.ui.widgets import symbols
from adamlab.ui.widgets.fastpaint import PathCurve
from adamlab.ui.widgets.plots import fast_curve, pen

FPS = 30
# Compute races in a child process, so the GUI thread never waits for the GIL during a drag. The environment
# variable ADAMLAB_PROCESSES=0 (the app-wide switch, also for the GPT monitor; or setting this to False before
# building a panel) keeps them in-thread.
USE_PROCESS = os.environ.get("ADAMLAB_PROCESSES", "1") != "0"
DETAIL_DELAY_MS = 150  # after the last change, recompute with per-step records (arrows, effective lr)
ZOOM_DELAY_MS = 250  # after the last pan/zoom, recompute the image for the new view
# During a drag the loss plot follows at most every LOSS_INTERVAL_MS (~15 Hz: a person does not see the
# difference next to the moving paths, and it halves the GUI work per frame); a settled race is always drawn.
LOSS_INTERVAL_MS = 66
CENTRE_MIN_WIDTH = 300  # the map's column
RIGHT_MIN_WIDTH = 256  # loss plot, effective lr, results table
PROGRESS_MS = 50  # how often the tune's progress bar follows the child
CANCEL_GRACE_MS = 1500  # a tune not stopped this long after Cancel is ended by force (its child is killed)


class Track:
    """The plot items of one optimizer: its path on the map and its loss curve (created once; the
    current-point markers of all tracks share one scatter item, ``MapView.markers``: one scatter paints as
    slowly as five points). ``style``: (colour, dash, symbol) as ``RacerList.style`` gives it."""

    def __init__(self, map_view: MapView, loss_chart: LossChart, uid: int, name: str, style: tuple[str, int, int]):
        self.uid, self.name, self.style = uid, name, style
        self.color, dash, self.symbol = style
        line = DASHES[dash % len(DASHES)][0]
        # a bare curve item: PlotDataItem's extra layer (downsampling, clipping) costs more than it saves
        # on 500 points, and its setData runs on every frame of a drag
        self.path = PathCurve([], [], pen=pen(self.color, 2, line), name=name)
        self.path.setZValue(20)
        self.brush = pg.mkBrush(self.color)
        self.icon = racer_icon(*style)
        self.loss = fast_curve(loss_chart.plot, self.color, name=name, width=1)  # 1 px: thicker paints slower
        if dash:
            self.loss.setPen(pen(self.color, 1, line))
        map_view.plot.addItem(self.path)
        # schedule-free's average x, where it is judged (its path is y): a thin dotted line, made when needed
        self.average: PathCurve | None = None
        self._map = map_view
        self._loss_at_x = False  # its loss curve is f at that average (dotted), not on the path

    def loss_at_average(self, at_x: bool) -> None:
        """The loss curve dotted (and saying so) when it is f at schedule-free's average x, not on the path."""
        if at_x != self._loss_at_x:
            self._loss_at_x = at_x
            line = Qt.PenStyle.DotLine if at_x else DASHES[self.style[1] % len(DASHES)][0]
            self.loss.setPen(pen(self.color, 1, line))
            self.loss.setToolTip(f"{self.name}: f − f* at x, the running average it is evaluated at (dotted on "
                                 "the map), not at y, the path it takes its gradients on" if at_x else "")

    def average_curve(self) -> PathCurve:
        if self.average is None:
            self.average = PathCurve([], [], pen=pen(self.color, 1, Qt.PenStyle.DotLine))
            self.average.setZValue(19)
            self.average.setToolTip(f"{self.name}: dotted, x — the running average of its steps that the "
                                    "method is evaluated at; solid, y — where it takes its gradients")
            self._map.plot.addItem(self.average)
        return self.average

    def remove(self, map_view: MapView, loss_chart: LossChart) -> None:
        map_view.plot.removeItem(self.path)
        if self.average is not None:
            map_view.plot.removeItem(self.average)
        loss_chart.plot.removeItem(self.loss)


class SurfacePanel(Panel):
    key = "surface"
    title = "Loss surface"
    hint = "Race optimizers on 2D loss surfaces: drag the start, pick a scenario, step through the race."
    help_html = symbols.rich(
        "<b>Loss-surface arena</b><p>Each coloured path is one optimizer minimising the same 2D function "
        "f(x, y) from the same start θ₀ (drag the ⊕ handle, or click on the map). The background is f "
        "(log-scaled for valleys), with contour lines; ★ marks the global minima. The key under the map names "
        "the paths: the colour is the optimizer's family (blue–grey: gradient descent, green: per-coordinate "
        "scaling, orange–red: Adam and its repairs, purple: the newcomers), the marker its place in the family, "
        "a dashed line a second copy of a kind. Select an optimizer in the list to read what it changes "
        "relative to Adam.</p>"
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
        "<p><b>Fair races</b> (Tune tab): at one shared lr a race mostly shows whose default suits the surface. "
        "Tune searches each ticked optimizer's lr on a log grid (optionally with β1, β2, weight decay or ε) for "
        "the lowest final f − f* on this very scene — averaged over several noise sequences when σ > 0 — puts "
        "the winners into the editors and races them. The lr-sensitivity plot shows each optimizer's score "
        "against lr: a wide valley is a forgiving optimizer, a narrow one needs tuning.</p>"
    )

    def __init__(self) -> None:
        super().__init__()
        self._tracks: dict[int, Track] = {}  # uid → plot items, matching the drawn result's runs
        self._result: SceneResult | None = None  # the result on screen
        self._t = 0  # the animation's current step
        self._playing = False
        self._restart_pending = False  # the next result starts the animation from step 0
        self._traj_pending = 0  # request ids in flight (0: none)
        self._img_pending = 0
        self._loading = False  # set while set_state fills the controls: no requests until it is done
        self._shut = False
        self.frames_drawn = 0  # results drawn (the bench counts these)
        self.draw_ms: list[float] = []  # GUI-thread time spent drawing each of the last results' paths

        self.racers = RacerList()
        self.controls = ArenaControls(self.racers)
        self._build_animation_bar()
        self.map = MapView(self.controls.start)
        self.view3d = View3D(self.map.widget)  # the 3-D relief beside or instead of the map (view3d.py)
        self.loss_chart = LossChart()
        self.eff_chart = EffLrChart()
        self.sensitivity = SensitivityChart()
        self.results = ResultsTable()
        self._build_layout()
        self._connect()

        # the races run in a child process (see race.RaceProcess), fed by a latest-wins thread
        self._race = RaceProcess(enabled=USE_PROCESS)
        self._told_fallback = not USE_PROCESS
        self._traj = workers.start_latest_wins(self._race.compute, "surface-trajectories")
        self._traj.worker.resultReady.connect(self._on_result)
        self._traj.worker.failed.connect(self._on_failed)
        self._img = workers.start_latest_wins(_image_job, "surface-image")
        self._img.worker.resultReady.connect(self._on_image)
        self._img.worker.failed.connect(self._on_image_failed)
        self._tune = workers.start_latest_wins(self._race.tune, "surface-tune")
        self._tune.worker.resultReady.connect(self._on_tuned)
        self._tune.worker.failed.connect(self._on_tune_failed)
        self._tune_pending = 0
        self._tune_request: dict | None = None
        self.tune_report: TuneReport | None = None  # the last Tune's findings
        self._progress_timer = QTimer(self)
        self._progress_timer.setObjectName("surface-tune-progress")
        self._progress_timer.setInterval(PROGRESS_MS)
        self._progress_timer.timeout.connect(self._show_tune_progress)
        self._cancel_timer = QTimer(self)
        self._cancel_timer.setObjectName("surface-tune-cancel")
        self._cancel_timer.setSingleShot(True)
        self._cancel_timer.setInterval(CANCEL_GRACE_MS)
        self._cancel_timer.timeout.connect(self._race.kill_tuning)

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
        self._t = self.controls.steps()  # the first view shows the whole race; Play replays it

    # ------------------------------------------------------------------------------------------------------
    # building

    def _build_animation_bar(self) -> None:
        # tool buttons: a push button's style minimum (~80 px each) would widen the map's column
        self.play_button = QToolButton()
        self.play_button.setText("▶ Play")
        theme.sized(self.play_button, setMinimumWidth=58)
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
        self.instant_check = QCheckBox("Instant")
        self.instant_check.setToolTip("Draw the whole paths at once whenever something changes")
        self.instant_check.toggled.connect(self._on_instant)
        self.step_label = QLabel("")
        self.step_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.step_label.setToolTip("The animation's current step t and the number of steps T")

    def _build_layout(self) -> None:
        """Three columns: the control column, the map under the animation bar, and on the right the loss
        plot, the effective lr and the results table (in a splitter)."""
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
        cl.addWidget(self.view3d.centre, 1)  # the map, and the 3-D relief when it is shown
        cl.addWidget(self.map.key)
        under = QHBoxLayout()  # the readout, and the 2-D / 3-D switch (there it widens nothing)
        under.setContentsMargins(0, 0, 0, 0)
        under.addWidget(self.map.readout, 1)
        under.addWidget(self.view3d.button, 0, Qt.AlignmentFlag.AlignTop)
        cl.addLayout(under)
        self.map.widget.setMinimumSize(CENTRE_MIN_WIDTH, 300)

        for w in (self.loss_chart.widget, self.eff_chart.widget, self.sensitivity.widget):
            w.setMinimumSize(RIGHT_MIN_WIDTH, 120)
        self.middle = QTabWidget()
        self.middle.setDocumentMode(True)
        self.middle.addTab(self.eff_chart.widget, "Effective lr")
        self.middle.addTab(self.sensitivity, "lr sensitivity")
        self.middle.setTabToolTip(0, "Each optimizer's per-axis effective learning rate at the current step")
        self.middle.setTabToolTip(1, "After a Tune: each optimizer's score against its lr (Tune tab)")
        right = QSplitter(Qt.Orientation.Vertical)
        right.setChildrenCollapsible(False)
        right.addWidget(self.loss_chart.widget)
        right.addWidget(self.middle)
        right.addWidget(self.results)
        right.setStretchFactor(0, 4)
        right.setStretchFactor(1, 3)
        right.setStretchFactor(2, 3)
        right.setSizes([320, 210, 160])
        theme.sized(right, setMinimumWidth=RIGHT_MIN_WIDTH)

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
        lay.addWidget(self.controls)
        lay.addWidget(main, 1)

    def _connect(self) -> None:
        c = self.controls
        c.changed.connect(self._changed)
        c.overlayChanged.connect(self._overlay_changed)
        c.surfaceChosen.connect(self._on_surface)
        c.bowlChanged.connect(self._on_bowl)
        c.presetChosen.connect(self.apply_preset)
        c.startTyped.connect(self._on_start_typed)
        c.startReset.connect(self._reset_start)
        c.inputError.connect(self._on_input_error)
        c.clamped.connect(self.statusMessage)
        c.tune.tuneRequested.connect(self.start_tune)
        c.tune.cancelRequested.connect(self.cancel_tune)
        self.map.handle.sigPositionChanged.connect(self._on_handle_moved)
        self.map.handle.sigPositionChangeFinished.connect(self._on_handle_released)
        self.map.plot.scene().sigMouseClicked.connect(self._on_map_clicked)
        self.map.plot.vb.sigRangeChanged.connect(self._on_range_changed)
        self.loss_chart.cursor.sigDragged.connect(self._on_cursor_dragged)
        self.results.statusMessage.connect(self.statusMessage)
        self.view3d.statusMessage.connect(self.statusMessage)

    # ------------------------------------------------------------------------------------------------------
    # the race

    def scene(self, record: bool = False) -> dict:
        """The plain scene the worker runs (see race.run_scene)."""
        return self.controls.scene(record)

    @Slot()
    def _changed(self, *_) -> None:
        """Any control changed: recompute now without records (fast), with records once things settle (the
        effective-lr squares are always shown; the arrows when a target is chosen)."""
        if self._loading or self._shut:
            return
        self._submit(record=False)
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

    @Slot(int, str)
    def _on_failed(self, rid: int, message: str) -> None:
        if self._shut:
            return
        if rid == self._traj_pending:
            self._traj_pending = 0
        self.results.error_label.setText(message)
        self.statusMessage.emit(f"Loss surface: {message}")

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
        T = self.controls.steps()
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
        self.map.draw_swarm(res)
        self._draw_paths()
        self._queue(self._draw_arrows)  # each in its own turn, after the map has painted the paths
        self._queue(self._draw_eff_lr)
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

    def _sync_tracks(self, res: SceneResult) -> None:
        """Create / remove the per-optimizer plot items so they match the result's runs."""
        want = {r.uid: r for r in res.runs}
        for uid in list(self._tracks):
            if uid not in want or (self._tracks[uid].name, self._tracks[uid].style) != (want[uid].name,
                                                                                    self.racers.style(uid)):
                self._tracks.pop(uid).remove(self.map, self.loss_chart)
        for r in res.runs:
            if r.uid not in self._tracks:
                self._tracks[r.uid] = Track(self.map, self.loss_chart, r.uid, r.name, self.racers.style(r.uid))
        self.map.set_racers_key([(r.name, *self._tracks[r.uid].style) for r in res.runs])
        self.loss_chart.set_log(res.f_star is not None)
        # the loss curves themselves are drawn by _draw_loss, in a later turn

    def _draw_loss(self) -> None:
        """The loss curves f − f* of the newest drawn result (and, for a settled race, the y range)."""
        res = self._result
        if res is None:
            return
        self._loss_drawn_at = time.perf_counter()
        self.loss_chart.draw(res, self._tracks, self.controls.steps())
        if res.record or self.loss_chart.y_range is None:  # a settled race (or the first one): fit y, next turn
            self._queue(self._fit_loss_range, first=True)

    def _fit_loss_range(self) -> None:
        self.loss_chart.fit_y_range(self._tracks)

    def _draw_table(self) -> None:
        res, self._table_result = self._table_result, None
        if res is not None:
            self.results.fill(res, self._tracks)

    # ------------------------------------------------------------------------------------------------------
    # drawing one animation frame

    def _draw_frame(self) -> None:
        """Draw the animation's step t: paths and markers, then the overlays (arrows, readout, effective lr)."""
        if self._draw_paths():
            self._draw_arrows()
            self._draw_eff_lr()

    def _draw_paths(self) -> bool:
        """Paths up to step t and the current-point markers; False when there is no result yet."""
        res = self._result
        if res is None:
            return False
        t = self._t
        # compact, so the animation bar fits the map's 300-px column even at 5000 steps ("step 1000 / 1000"
        # widened the panel past a 1024-px window)
        self.step_label.setText(f"t {t}/{self.controls.steps()}")
        self.loss_chart.show_step(t)
        self.map.draw_paths(res, t, self._tracks)
        self.view3d.set_race(res, t, self._tracks, self.controls.start)  # kept; drawn only when shown
        return True

    def _overlay_step(self) -> int:
        """The step the overlays describe (θ_t → θ_{t+1}); at the very end, the last step taken."""
        return max(min(self._t, self.controls.steps() - 1), 0)

    def _draw_arrows(self) -> None:
        if self._result is not None:
            self.map.draw_arrows(self._result, self._overlay_step(), self.controls.overlay_target(),
                                 self.controls.arrows_shown())

    def _draw_eff_lr(self) -> None:
        if self._result is not None:
            self.eff_chart.draw(self._result, self._overlay_step(), self._tracks)

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
        if not self._playing and self._t >= self.controls.steps():
            self._t = 0
        self._set_playing(not self._playing)

    def step_once(self) -> None:
        self._set_playing(False)
        self._t = min(self._t + 1, self.controls.steps())
        self._draw_frame()

    def rewind(self) -> None:
        self._set_playing(False)
        self._t = 0
        self._draw_frame()

    def show_step(self, t: int) -> None:
        """Pause and show step t (clamped to 0 … steps)."""
        self._set_playing(False)
        self._t = int(min(max(t, 0), self.controls.steps()))
        self._draw_frame()

    @Slot()
    def _tick(self) -> None:
        T = self.controls.steps()
        self._t = min(self._t + self.controls.speed_combo.currentData(), T)
        self._draw_frame()
        if self._t >= T:
            self._set_playing(False)

    @Slot(bool)
    def _on_instant(self, on: bool) -> None:
        if on:
            self._set_playing(False)
            self._t = self.controls.steps()
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
        self.controls.set_start(x, y)
        self.map.move_handle(self.controls.start)
        self._changed()

    @Slot(object)
    def _on_handle_moved(self, *_) -> None:
        p = self.map.handle.pos()
        self.controls.set_start(p.x(), p.y())
        self._changed()

    @Slot(object)
    def _on_handle_released(self, *_) -> None:
        self._detail_timer.start()

    def _on_map_clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton or event.double() or event.isAccepted():
            return
        vb = self.map.plot.vb
        if not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        p = vb.mapSceneToView(event.scenePos())
        self.set_start(p.x(), p.y())

    @Slot(float, float)
    def _on_start_typed(self, x: float, y: float) -> None:
        self.results.error_label.setText("")
        if (x, y) != self.controls.start:
            self.set_start(x, y)
        else:
            self.controls.show_start()

    @Slot(str)
    def _on_input_error(self, message: str) -> None:
        self.statusMessage.emit(message)
        self.results.error_label.setText(message)

    @Slot()
    def _reset_start(self) -> None:
        self.set_start(*self.controls.surface().start)

    # ------------------------------------------------------------------------------------------------------
    # surface and image

    @Slot()
    def _on_surface(self) -> None:
        if self._loading:
            return
        self._surface_changed(new_start=True)
        self._restart_pending = True
        self._changed()

    @Slot()
    def _on_bowl(self) -> None:
        if self._loading:
            return
        self._surface_changed(new_start=False)
        self._changed()

    def _surface_changed(self, new_start: bool) -> None:
        s = self.controls.surface()
        self.controls.show_surface(s, new_start)
        if new_start:
            self.map.move_handle(self.controls.start)
        self.map.show_surface(s)
        self.view3d.set_surface(s)
        (x0, x1), (y0, y1) = s.domain
        w, h = x1 - x0, y1 - y0  # the aspect-locked view shows more than the domain: cover a margin too
        self._request_image(((x0 - 0.5 * w, x1 + 0.5 * w), (y0 - 0.5 * h, y1 + 0.5 * h)))
        self._zoom_timer.start()  # then once more for the whole visible (aspect-locked) view

    def _request_image(self, domain) -> None:
        if self._shut:
            return
        c = self.controls
        req = {"surface": c.surface_combo.currentData(), "condition": c.cond_slider.value(),
               "angle": c.angle_slider.value(), "domain": domain}
        self._img_pending = self._img.worker.submit(req)

    @Slot(int, object)
    def _on_image(self, rid: int, im) -> None:
        if self._shut:
            return
        if rid == self._img_pending:
            self._img_pending = 0
        self.map.set_image(im)

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
        domain = self.map.image_wanted()
        if domain is None:
            return
        self._request_image(domain)
        self._draw_frame()  # arrow lengths follow the view

    # ------------------------------------------------------------------------------------------------------
    # presets and state

    def apply_preset(self, key: str) -> None:
        """Load a built-in scenario (``resources/scenarios/<key>.adamlab``, as the picker lists them)."""
        if key not in PRESETS:
            raise ValueError(f"preset must be one of {sorted(PRESETS)}, got {key!r}")
        self.apply_scenario({**PRESETS[key]["state"], "preset": key})

    def apply_scenario(self, state: dict[str, Any]) -> None:
        """Load a scenario: defaults, then its settings; the race restarts and plays (and with
        ``"autotune": true``, a Tune runs first)."""
        full = copy.deepcopy(DEFAULT_STATE)
        full["preset"] = ""
        full.update(copy.deepcopy(state))
        self.set_state(full, restart=True)
        if state.get("autotune"):
            self.controls.tabs.setCurrentWidget(self.controls.tune)
            self.start_tune()

    UNDO_IGNORES = ("view3d",)  # the 3-D camera is where one looks from

    def state_schema(self) -> Fields:
        # "autotune" is a scenario's instruction (run a Tune once loaded), not a setting get_state returns
        return Fields({**self.controls.schema().fields, "instant": Bool(), "view3d": _View3DState(),
                       "autotune": Bool()})

    def get_state(self) -> dict[str, Any]:
        return {**self.controls.state(), "instant": self.instant_check.isChecked(), "view3d": self.view3d.state()}

    def set_state(self, state: dict[str, Any], restart: bool = False) -> None:
        """Restore a state from get_state (or a preset); unknown or invalid entries are ignored."""
        if not isinstance(state, dict):
            return
        self._loading = True
        try:
            self.controls.load(state)
            self.map.move_handle(self.controls.start)
            if isinstance(state.get("instant"), bool):
                self.instant_check.setChecked(state["instant"])
            self.view3d.load(state.get("view3d"))
        finally:
            self._loading = False
        self._surface_changed(new_start=False)
        self._restart_pending = restart
        self._changed()

    def reset_defaults(self) -> None:
        self.set_state(copy.deepcopy(DEFAULT_STATE), restart=False)
        self._t = self.controls.steps()

    # ------------------------------------------------------------------------------------------------------
    # fair races

    def start_tune(self) -> None:
        """Tune the ticked optimizers on the scene (in the race child); the report arrives in ``_on_tuned``."""
        if self._shut or self._tune_pending:
            return
        try:
            request = self.controls.tune.request(self.scene(record=False))
        except ValueError as exc:
            self._on_input_error(str(exc))
            return
        if not any(o["enabled"] for o in request["scene"]["optimizers"]):
            self._on_input_error("Tune: tick at least one optimizer to tune")
            return
        self._set_playing(False)
        self._tune_request = request
        self.controls.tune.set_running(True)
        self._tune_pending = self._tune.worker.submit(request)
        self._progress_timer.start()

    def cancel_tune(self) -> None:
        """Stop the running Tune: the child stops within a chunk of steps, or is ended after CANCEL_GRACE_MS."""
        if not self._tune_pending:
            return
        self._race.cancel_tune()
        self.controls.tune.show_message("cancelling…")
        self._cancel_timer.start()

    @Slot()
    def _show_tune_progress(self) -> None:
        self.controls.tune.show_progress(self._race.tune_progress)

    def _tune_over(self, rid: int) -> bool:
        """Bookkeeping when a tune ends; False when it is not the one we wait for."""
        if self._shut or rid != self._tune_pending:
            return False
        self._tune_pending = 0
        self._progress_timer.stop()
        self._cancel_timer.stop()
        self.controls.tune.set_running(False)
        return True

    @Slot(int, object)
    def _on_tuned(self, rid: int, report: TuneReport | None) -> None:
        if not self._tune_over(rid):
            return
        if report is None:
            self.controls.tune.show_message("cancelled: the editors keep their values")
            self.statusMessage.emit("Tune cancelled")
            return
        self.apply_tune(report)

    @Slot(int, str)
    def _on_tune_failed(self, rid: int, message: str) -> None:
        if self._tune_over(rid):
            self.controls.tune.show_message("failed")
            self._on_input_error(f"Tune: {message}")

    def apply_tune(self, report: TuneReport) -> None:
        """Put each optimizer's best settings into its editor, draw the sensitivity plot, race the result."""
        self.tune_report = report
        for uid, c in zip(report.uids, report.result.curves):
            if c.best is not None:  # (the editor's signals are blocked: one race for all, below)
                self.racers.apply_tuned(uid, c.best)
        styles = {e["uid"]: (e["color"], e["dash"], e["symbol"]) for e in self.racers.entries}
        self.sensitivity.draw(report, styles)
        self.controls.tune.show_report(report, styles)
        self.middle.setCurrentWidget(self.sensitivity)
        res = report.result
        asked = self._tune_request["scene"] if self._tune_request else {}
        moved = {k for k, v in self.controls.race_settings().items() if asked.get(k, v) != v}
        note = (f"; the scene changed while it searched ({', '.join(sorted(moved))}): press Tune again"
                if moved else "")
        self.statusMessage.emit(f"Tuned {len(res.curves)} optimizers in {res.seconds:.2f} s: racing each at its "
                                f"best lr (the editors hold it; marked on the lr-sensitivity plot){note}")
        self._restart_pending = True
        self._changed()

    # ------------------------------------------------------------------------------------------------------
    # panel protocol

    def plots(self) -> dict[str, pg.PlotItem]:
        return {"Loss surface": self.map.plot, "Loss vs step": self.loss_chart.plot,
                "Effective lr": self.eff_chart.plot, "lr sensitivity": self.sensitivity.plot}

    def animations(self) -> dict:
        from adamlab.ui.panels.surface import animate

        return animate.animations(self)

    def is_idle(self) -> bool:
        return (self._traj_pending == 0 and self._img_pending == 0 and self._tune_pending == 0
                and not self._playing
                and not self._detail_timer.isActive() and not self._zoom_timer.isActive()
                and self._incoming is None and not self._jobs and not self._loss_timer.isActive()
                and self._result is not None and self.view3d.is_idle())

    def shutdown(self) -> None:
        if self._shut:
            return
        self._shut = True
        for timer in (self._anim, self._detail_timer, self._zoom_timer, self._work_timer, self._loss_timer,
                      self._progress_timer, self._cancel_timer):
            timer.stop()
        self._jobs.clear()
        self._playing = False
        self._traj.worker.request_stop()
        self._tune.worker.request_stop()
        self._race.close()  # the child exits; a worker thread waiting for it gets EOF and returns at once
        workers.stop_together([self._traj, self._tune, self._img])
        self.view3d.shutdown()


class _View3DState(Schema):
    """The 3-D view's own state ({mode, camera}): a small dict, which ``View3D.load`` checks itself."""

    def check(self, value, path):
        if not isinstance(value, dict) or len(value) > 8:
            return MISSING, [f"{path}: not the 3-D view's settings"]
        return value, []


def _image_job(req: dict):
    """Worker-thread job: the surface image and contours for one view."""
    return surface_image(make_surface(req), req["domain"])
