"""The arena's 3-D view: the surface as a relief you can turn, with the race's paths lying on it.

``View3D`` is what the panel holds: the "2-D / 3-D / both" switch (``button``, a tool button with a menu,
beside the readout under the map, where it widens nothing), the splitter that shows the map and the relief
(``centre``; side by side when it is wide, one above the other when it is tall), and the relief's pane
(``pane``). The panel feeds it with two calls that only store what they are given — ``set_surface(s)`` and
``set_race(res, t, tracks, start)`` — so a hidden 3-D view costs the 2-D map nothing. A shown one draws the
newest of them at most ``MAX_FPS`` times a second, and less often where a frame is expensive (software
OpenGL paints on the GUI thread: see ``interval_ms``); the relief itself is computed on a worker thread.

What is drawn (``relief`` holds the geometry, Qt-free): the surface over its domain, coloured like the
2-D map (same colour map, same log scale for valley-shaped surfaces) and lit, with its level lines; the
paths up to the animation's step t, each point at its height on the surface, in the racers' colours
(drawn faintly through hills that hide them); the current points; the start θ₀ on a pin; the global
minima. Mouse: drag to turn, wheel to zoom, Ctrl+drag or the middle button to pan; "Reset camera" goes back.

pyqtgraph's OpenGL items need PyOpenGL and an OpenGL ≥ 2.1 context. Neither is guaranteed (a remote
session, an offscreen render, a headless test run without Xvfb): ``unavailable_reason()`` probes once,
before anything GL is imported or shown; where it says why not, the 3-D choices are disabled with that
reason and the map works as before. ``ADAMLAB_3D=0`` turns the 3-D view off (for a driver that crashes).
PyOpenGL is imported when a 3-D mode is first chosen, not with the panel.
"""

from __future__ import annotations

import importlib.util
import math
import os
import time

import numpy as np
from PySide6.QtCore import QEvent, QObject, QRect, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QActionGroup, QColor, QFont, QGuiApplication, QOffscreenSurface, QOpenGLContext
from PySide6.QtWidgets import QHBoxLayout, QLabel, QMenu, QSizePolicy, QToolButton, QVBoxLayout, QWidget

from adamlab.core.surfaces import Surface
from adamlab.ui import theme
from adamlab.ui.panels.surface.map_view import surface_colormap
from adamlab.ui.panels.surface.race import SceneResult, f_star
from adamlab.ui.panels.surface.relief import HEIGHT, Mesh, Relief, fit_distance, make_relief, path_rows
from adamlab.ui.panels.surface.text import fmt
from adamlab.ui.widgets.layout import AspectSplitter

MAX_FPS = 30  # the relief follows a drag or the animation at most this often …
GL_SHARE = 0.25  # … and spends at most about this share of the GUI thread's time on it (painting included)
MOUSE_HINT = "Drag to turn the relief, wheel to zoom, Ctrl+drag (or the middle button) to pan"
MODES = {"2d": "2-D map", "3d": "3-D relief", "both": "2-D map and 3-D relief"}
FLOOR = -0.02  # the floor frame and the pins' feet, just under the relief's lowest point
LABEL_ROOM = 0.6  # box units kept in view right of the floor for its y label
# the GL items' line widths and point sizes (px) in the normal mode (theme.line_width / marker_size scale them)
GL_WIDTHS = {"contours": 1, "floor": 1, "minima": 9, "pins": 1.5, "ghosts": 2, "paths": 2.5, "heads": 11, "marks": 8}
GL_POINTS = {"minima", "heads", "marks"}
# the default camera: from the front (the −y side), a little to the right of the x axis, looking down ~30°;
# its distance is fitted to the view's shape (relief.fit_distance) until the user turns or zooms it
CAMERA = {"elevation": 32.0, "azimuth": -62.0, "distance": 4.6, "fov": 40.0}
CAMERA_CENTRE = (0.0, 0.0, 0.4 * HEIGHT)
CAMERA_RANGES = {"elevation": (-90.0, 90.0), "azimuth": (-720.0, 720.0), "distance": (0.3, 40.0), "fov": (5.0, 120.0)}

_UNPROBED = object()
_reason: object = _UNPROBED


def unavailable_reason() -> str | None:
    """None when the 3-D view can work in this process; otherwise one line saying why not (probed once)."""
    global _reason
    if _reason is _UNPROBED:
        _reason = _probe()
    return _reason  # type: ignore[return-value]


def _probe() -> str | None:
    if os.environ.get("ADAMLAB_3D", "1") == "0":
        return "3-D view unavailable: turned off (ADAMLAB_3D=0)"
    if importlib.util.find_spec("OpenGL") is None:
        return "3-D view unavailable: install PyOpenGL: pip install PyOpenGL"
    platform = QGuiApplication.platformName()
    ctx = QOpenGLContext()
    if not ctx.create():
        return f"3-D view unavailable: no OpenGL context (Qt platform '{platform}')"
    surface = QOffscreenSurface()
    surface.setFormat(ctx.format())
    surface.create()
    try:
        if not surface.isValid() or not ctx.makeCurrent(surface):
            return f"3-D view unavailable: no OpenGL context (could not use one on Qt platform '{platform}')"
        major, minor = ctx.format().version()
        if not ctx.isOpenGLES() and (major, minor) < (2, 1):
            return f"3-D view unavailable: OpenGL 2.1 needed, this context has {major}.{minor}"
    finally:
        ctx.doneCurrent()
        surface.destroy()
    return None


def reset_probe() -> None:
    """Probe again on the next ``unavailable_reason()`` (tests)."""
    global _reason
    _reason = _UNPROBED


def rgba(color, alpha: float = 1.0) -> tuple[float, float, float, float]:
    c = QColor(color)
    return (c.redF(), c.greenF(), c.blueF(), alpha)


def path_segments(relief: Relief, surface: Surface, res: SceneResult, t: int, tracks: dict):
    """The paths of ``res`` up to step t as line segments on the relief, and the current points.

    Returns (segments (2k, 3), segment colours (2k, 4), points (m, 3), point colours (m, 4)); colours from
    ``tracks`` (uid → the panel's Track, whose ``color`` is the racer's)."""
    segs, seg_cols, pts, pt_cols = [], [], [], []
    for r in res.runs:
        track = tracks.get(r.uid)
        if track is None:
            continue
        n = path_rows(relief, r.path, t, r.shown)
        if n == 0:
            continue
        p = relief.points(surface, r.path[:n])  # (n, 3)
        col = rgba(track.color)
        if n >= 2:
            seg = np.empty((2 * (n - 1), 3))
            seg[0::2], seg[1::2] = p[:-1], p[1:]  # (θ_0, θ_1), (θ_1, θ_2), …
            segs.append(seg)
            seg_cols.append(np.tile(col, (len(seg), 1)))
        if np.all(np.isfinite(p[-1])):
            pts.append(p[-1])
            pt_cols.append(col)
    return _rows(segs, 3), _rows(seg_cols, 4), _rows(pts, 3), _rows(pt_cols, 4)


def _rows(parts: list, width: int) -> np.ndarray:
    """Arrays of rows (or single rows) stacked into one (n, width) array; (0, width) for none."""
    return np.vstack(parts) if parts else np.zeros((0, width))


def pins(relief: Relief, surface: Surface, points) -> np.ndarray:
    """Vertical pins from the floor up to the relief at ``points`` (k, 2): (2k, 3) segment ends."""
    p = relief.points(surface, np.asarray(points, dtype=np.float64).reshape(-1, 2))
    p = p[np.all(np.isfinite(p), axis=1) & relief.inside(np.asarray(points, dtype=np.float64).reshape(-1, 2))]
    out = np.empty((2 * len(p), 3))
    out[0::2] = p * [1, 1, 0] + [0, 0, FLOOR]
    out[1::2] = p
    return out


def _relief_job(surface: Surface):
    """Worker-thread job: the relief and mesh of one surface (NumPy only; ~25 ms, mostly the level lines)."""
    relief, mesh = make_relief(surface, f_star(surface))
    return surface, relief, mesh


def valid_camera(cam) -> dict:
    """The entries of a saved camera dict that are numbers in their ranges (CAMERA_RANGES); the rest dropped."""
    good = {}
    if isinstance(cam, dict):
        for k, (lo, hi) in CAMERA_RANGES.items():
            v = cam.get(k)
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and lo <= v <= hi:
                good[k] = float(v)
    return good


class ReliefPane(QWidget):
    """A header line (what the height shows, Reset camera) over the GL view (``gl``: made when a 3-D mode is first
    chosen), with the relief's items (``items``) and labels."""

    shown = Signal()  # shown again (e.g. the arena's page came back): draw what changed meanwhile

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.shown.emit()

    def __init__(self) -> None:
        super().__init__()
        self.gl = None  # the GL view (_relief_window_class), once made
        self.items: dict = {}
        self.box = ((-1.0, 1.0), (-1.0, 1.0))  # the relief's extent (box units), for fitting the camera
        self.touched = False  # the user turned or zoomed the camera: keep it, do not refit on resize
        self.caption = QLabel("")
        self.caption.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.caption.setToolTip(MOUSE_HINT)
        self.reset_button = QToolButton()
        self.reset_button.setText("Reset camera")
        self.reset_button.setToolTip("Back to the default view of the relief")
        self.reset_button.clicked.connect(self.reset_camera)
        head = QHBoxLayout()
        head.setContentsMargins(2, 0, 0, 0)
        head.setSpacing(4)
        head.addWidget(self.caption, 1)
        head.addWidget(self.reset_button)
        self._lay = QVBoxLayout(self)
        self._lay.setContentsMargins(0, 0, 0, 0)
        self._lay.setSpacing(2)
        self._lay.addLayout(head)
        self.setMinimumSize(200, 160)

    def build_gl(self) -> None:
        """Import pyqtgraph.opengl (and PyOpenGL) and make the view and its items. May raise ImportError."""
        import pyqtgraph.opengl as gl
        from OpenGL import GL

        view = _relief_window_class()()  # GLViewWidget's machinery on a QOpenGLWindow (see there why)
        holder = QWidget.createWindowContainer(view, self)
        holder.setMinimumSize(120, 100)
        holder.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        mesh = gl.GLSurfacePlotItem(shader=_lit_shader(), computeNormals=True, smooth=True, glOptions={
            GL.GL_DEPTH_TEST: True, GL.GL_BLEND: False, GL.GL_CULL_FACE: False,
            # push the triangles back a little in depth: a path lying on the surface is drawn on top of it
            GL.GL_POLYGON_OFFSET_FILL: True, "glPolygonOffset": (1.5, 2.0)})
        lines = {GL.GL_DEPTH_TEST: True, GL.GL_BLEND: True, GL.GL_CULL_FACE: False, GL.GL_POLYGON_OFFSET_FILL: False,
                 "glBlendFuncSeparate": (GL.GL_SRC_ALPHA, GL.GL_ONE_MINUS_SRC_ALPHA, GL.GL_ONE,
                                         GL.GL_ONE_MINUS_SRC_ALPHA)}
        on_top = {**lines, GL.GL_DEPTH_TEST: False}
        self.items = {
            "mesh": mesh,
            "contours": gl.GLLinePlotItem(mode="lines", glOptions=lines),
            "floor": gl.GLLinePlotItem(mode="lines", glOptions=lines),
            "minima": gl.GLScatterPlotItem(pxMode=True, glOptions=lines),  # hidden behind hills
            "pins": gl.GLLinePlotItem(mode="lines", glOptions=on_top),
            # the paths twice: faintly over everything (so a hill never hides one), then solid where visible
            "ghosts": gl.GLLinePlotItem(mode="lines", glOptions=on_top),
            "paths": gl.GLLinePlotItem(mode="lines", glOptions=lines),
            "heads": gl.GLScatterPlotItem(pxMode=True, glOptions=on_top),
            "marks": gl.GLScatterPlotItem(pxMode=True, glOptions=on_top),
        }
        for key, width in GL_WIDTHS.items():  # (the mode's sizes: View3D._recolour)
            self.items[key].setData(**{"size" if key in GL_POINTS else "width": width})
        self.labels = [gl.GLTextItem(font=QFont("Sans", 9), glOptions=on_top) for _ in range(3)]
        for depth, key in enumerate(self.items):
            self.items[key].setDepthValue(depth)
            self.items[key].setVisible(False)  # until it has data (an empty mesh cannot be painted)
            view.addItem(self.items[key])
        for label in self.labels:
            label.setDepthValue(len(self.items))
            view.addItem(label)
        self.gl = view
        self._lay.addWidget(holder, 1)
        view.installEventFilter(self)
        self.reset_camera()

    def eventFilter(self, obj, event) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.MouseButtonPress, QEvent.Type.Wheel, QEvent.Type.KeyPress):
            self.touched = True
        elif kind == QEvent.Type.Resize and not self.touched:
            self.fit_camera()
        return False

    @Slot()
    def reset_camera(self) -> None:
        """The default view, the whole relief in sight."""
        if self.gl is None:
            return
        from pyqtgraph import Vector

        self.touched = False
        self.gl.setCameraParams(center=Vector(*CAMERA_CENTRE), **CAMERA)
        self.fit_camera()

    def fit_camera(self) -> None:
        """Move the camera in or out (same direction) until the relief just fits the view."""
        gl, o = self.gl, self.gl.opts if self.gl is not None else None
        if gl is None or gl.width() < 2 or gl.height() < 2:
            return
        c = o["center"]
        (x0, x1), ys = self.box
        box = ((x0, x1 + LABEL_ROOM), ys)  # room for the y range written beside the floor's right edge
        d = fit_distance(box, (FLOOR, HEIGHT), (c.x(), c.y(), c.z()), o["elevation"], o["azimuth"], o["fov"],
                         gl.width() / gl.height())
        gl.setCameraParams(distance=d)

    def camera(self) -> dict:
        """The camera's elevation, azimuth, distance and field of view (the saved settings keep them)."""
        if self.gl is None:
            return {}
        return {k: float(self.gl.opts[k]) for k in CAMERA}

    def set_camera(self, cam) -> None:
        """Restore ``camera()``'s dict; entries missing or out of range are left as they are."""
        good = valid_camera(cam)
        if self.gl is not None and good:
            self.gl.setCameraParams(**good)
            self.touched = True


_shader = None
_window_class = None


def _relief_window_class():
    """pyqtgraph's GLViewWidget machinery (GLViewMixin: camera, mouse, items, grabFramebuffer) on a QOpenGLWindow,
    shown in the panel through a window container.

    Why not GLViewWidget (a QOpenGLWidget): once a QOpenGLWidget has been shown, Qt composes the whole
    top-level window through OpenGL on every repaint, for the rest of its life — with software GL that made
    the 2-D map's drag several times slower, even after the 3-D view was hidden again (benchmarks/
    bench_surface.py --view 2d-after-3d). A QOpenGLWindow is a native child window that paints itself; the
    rest of the window is painted as before."""
    global _window_class
    if _window_class is None:
        from pyqtgraph.opengl.GLViewWidget import GLViewMixin
        from PySide6.QtOpenGL import QOpenGLWindow

        class ReliefWindow(GLViewMixin, QOpenGLWindow):
            paint_ms = 0.0  # a running mean of paintGL's time (software GL: several ms a frame)
            paints = 0

            def devicePixelRatioF(self) -> float:  # QWidget's name, used by GLViewMixin; a QWindow has the other
                return self.devicePixelRatio()

            def rect(self) -> QRect:  # QWidget's, used by GLTextItem
                return QRect(0, 0, self.width(), self.height())

            def paintGL(self) -> None:
                t0 = time.perf_counter()
                super().paintGL()
                ms = (time.perf_counter() - t0) * 1e3
                self.paints += 1
                self.paint_ms = ms if self.paints == 1 else 0.8 * self.paint_ms + 0.2 * ms

        _window_class = ReliefWindow
    return _window_class


def _lit_shader():
    """The relief's shader: the vertex colour (the colour map) lit from above the viewer, both faces alike, with
    a strong ambient part so the dark theme's colours stay readable (pyqtgraph's 'shaded' keeps 20 %)."""
    global _shader
    if _shader is None:
        from pyqtgraph.opengl import shaders

        _shader = shaders.ShaderProgram("adamlab-relief", [
            shaders.VertexShader("""
                uniform mat4 u_mvp;
                uniform mat3 u_normal;
                attribute vec4 a_position;
                attribute vec3 a_normal;
                attribute vec4 a_color;
                varying vec4 v_color;
                varying vec3 v_normal;
                void main() {
                    v_normal = normalize(u_normal * a_normal);
                    v_color = a_color;
                    gl_Position = u_mvp * a_position;
                }
            """),
            shaders.FragmentShader("""
                #ifdef GL_ES
                precision mediump float;
                #endif
                varying vec4 v_color;
                varying vec3 v_normal;
                void main() {
                    float d = abs(dot(normalize(v_normal), normalize(vec3(0.25, 0.6, 1.0))));
                    gl_FragColor = vec4(v_color.rgb * (0.55 + 0.45 * d), v_color.a);
                }
            """),
        ])
    return _shader


class View3D(QObject):
    """The 3-D view and its switch; see the module docstring. ``mode()`` is "2d", "3d" or "both"."""

    modeChanged = Signal(str)
    statusMessage = Signal(str)

    def __init__(self, map_widget: QWidget) -> None:
        super().__init__()
        self._map = map_widget
        self.pane = ReliefPane()
        self.pane.setVisible(False)
        self.pane.shown.connect(self._mark)
        self.centre = AspectSplitter(map_widget, self.pane, ratio=1.5)
        self._mode = "2d"
        self.reason = unavailable_reason()
        self._build_button()

        # what to draw (stored by the panel's calls; drawn when shown, at most MAX_FPS times a second)
        self._want: Surface | None = None  # the surface to show
        self._surface: Surface | None = None  # the surface the relief below was made from
        self._relief: Relief | None = None
        self._mesh: Mesh | None = None
        self._race: tuple | None = None  # (SceneResult, t, tracks)
        self._start: tuple[float, float] | None = None
        self._dirty: set[str] = set()
        self._relief_worker = None  # started when the GL view is made
        self._relief_pending = 0
        self._shut = False
        self._drawn_at = -math.inf
        self._data_ms = 0.0  # a running mean of a frame's data update (the GL items' setData)
        self.frames = 0  # relief frames drawn (tests, benchmarks)
        self.draw_ms: list[float] = []  # GUI-thread time of each frame's data update (not GL's painting)
        self._timer = QTimer(self)
        self._timer.setObjectName("surface-3d")
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._draw)
        self._saved_camera = None  # a camera from the saved settings, for when the GL view is made
        theme.follow(self, View3D._recolour)

    # ------------------------------------------------------------------------------------------------------
    # the switch

    def _build_button(self) -> None:
        self.button = QToolButton()
        self.button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.menu = QMenu(self.button)
        self.menu.setToolTipsVisible(True)
        group = QActionGroup(self)
        self.mode_actions: dict[str, QAction] = {}
        for key, label in MODES.items():
            act = QAction(label, self.menu, checkable=True)
            act.setData(key)
            group.addAction(act)
            self.menu.addAction(act)
            self.mode_actions[key] = act
        self.mode_actions["2d"].setChecked(True)
        group.triggered.connect(lambda act: self.set_mode(act.data()))
        self.menu.addSeparator()
        self.reset_action = self.menu.addAction("Reset 3-D camera", self.pane.reset_camera)
        self.reason_action = self.menu.addAction(self.reason or "")
        self.reason_action.setEnabled(False)
        self.button.setMenu(self.menu)
        self._sync_button()

    def _sync_button(self) -> None:
        ok = self.reason is None
        for key in ("3d", "both"):
            act = self.mode_actions[key]
            act.setEnabled(ok)
            act.setToolTip("" if ok else self.reason)
            act.setStatusTip("" if ok else self.reason)
        self.reset_action.setEnabled(ok and self._mode != "2d")
        self.reason_action.setText(self.reason or "")
        self.reason_action.setVisible(not ok)
        self.button.setText({"2d": "View: 2-D", "3d": "View: 3-D", "both": "View: 2-D + 3-D"}[self._mode])
        tip = "Show the 2-D map, a 3-D relief of the surface with the paths on it, or both"
        self.button.setToolTip(tip if ok else f"{tip}\n{self.reason}")

    def mode(self) -> str:
        return self._mode

    def set_mode(self, mode: str) -> None:
        """Show the map, the relief or both; a 3-D mode where the view is unavailable stays on the map."""
        if mode not in MODES:
            raise ValueError(f"view mode must be one of {sorted(MODES)}, got {mode!r}")
        if mode != "2d" and self.reason is not None:
            mode = "2d"
        if mode != "2d" and self.pane.gl is None and not self._build():
            mode = "2d"
        self._mode = mode
        self.mode_actions[mode].setChecked(True)
        self._map.setVisible(mode != "3d")
        self.pane.setVisible(mode != "2d")
        if mode != "2d" and self.reason is None:
            self._schedule()
        self.centre.refit()
        self._sync_button()
        self.modeChanged.emit(mode)

    def _build(self) -> bool:
        """Make the GL view and start the relief worker (the first time a 3-D mode is chosen). False, with
        the reason kept and told, when PyOpenGL cannot be imported after all."""
        pane = self.pane
        try:
            pane.build_gl()
        except Exception as exc:  # PyOpenGL missing or broken (e.g. no libGL for it to load)
            self.reason = f"3-D view unavailable: {type(exc).__name__}: {exc}".splitlines()[0]
            self.statusMessage.emit(self.reason)
            return False
        from adamlab.ui import workers

        self._relief_worker = workers.start_latest_wins(_relief_job, "surface-relief")
        self._relief_worker.worker.resultReady.connect(self._on_relief)
        self._relief_worker.worker.failed.connect(self._on_relief_failed)
        pane.set_camera(self._saved_camera)
        self._dirty |= {"surface", "race", "start"}
        self._recolour()
        return True

    # ------------------------------------------------------------------------------------------------------
    # what the panel tells it (stored; drawn when shown)

    def set_surface(self, surface: Surface) -> None:
        """The surface changed (its relief is computed off the GUI thread, once it is shown)."""
        self._want = surface
        self._mark("surface")

    def set_race(self, res: SceneResult | None, t: int, tracks: dict, start: tuple[float, float]) -> None:
        """The race ``res`` at step t, drawn with the panel's tracks (uid → Track: colours), and the start θ₀."""
        self._race = (res, t, tracks)
        self._dirty.add("race")
        if start != self._start:
            self._start = (float(start[0]), float(start[1]))
            self._dirty.add("start")
        self._mark()

    def _mark(self, what: str | None = None) -> None:
        if what:
            self._dirty.add(what)
        if self.pane.gl is not None and self.pane.isVisible():
            self._schedule()

    def is_idle(self) -> bool:
        """Nothing left to draw (or nothing to draw it on: hidden or unavailable)."""
        if self.pane.gl is None or not self.pane.isVisible():
            return True
        return not self._timer.isActive() and not self._relief_pending and (
            self._relief is not None and not self._dirty)

    def _schedule(self) -> None:
        """Draw soon, but no sooner than ``interval_ms()`` after the last frame."""
        if self._shut or self._timer.isActive():
            return
        wait = self.interval_ms() - (time.perf_counter() - self._drawn_at) * 1e3
        self._timer.start(math.ceil(max(wait, 0.0)))

    def interval_ms(self) -> float:
        """The shortest time between two relief frames: 1/MAX_FPS, or longer where a frame is expensive (software
        OpenGL paints on the GUI thread: ~8 ms a frame with Mesa's llvmpipe) so that the relief takes at most
        GL_SHARE of the GUI thread and the 2-D map beside it keeps most of its frame rate."""
        gl = self.pane.gl
        cost = self._data_ms + (gl.paint_ms if gl is not None else 0.0)
        return max(1000.0 / MAX_FPS, cost / GL_SHARE)

    # ------------------------------------------------------------------------------------------------------
    # drawing

    @Slot()
    def _draw(self) -> None:
        pane = self.pane
        if self._shut or pane.gl is None or not pane.isVisible():
            return
        t0 = time.perf_counter()
        self._drawn_at = t0
        if "surface" in self._dirty:
            self._dirty.discard("surface")
            self._request_relief()
        if self._relief is None:
            return  # the relief's worker answers soon; everything is drawn then
        if "mesh" in self._dirty:
            self._dirty.discard("mesh")
            self._draw_mesh()
        if "race" in self._dirty:
            self._dirty.discard("race")
            self._draw_race()
        if "start" in self._dirty:
            self._dirty.discard("start")
            self._draw_marks()
        self.frames += 1
        ms = (time.perf_counter() - t0) * 1e3
        self.draw_ms = [*self.draw_ms[-999:], ms]
        self._data_ms = 0.8 * self._data_ms + 0.2 * ms

    def _request_relief(self) -> None:
        if self._want is None or self._relief_worker is None:
            return
        self._relief_pending = self._relief_worker.worker.submit(self._want)

    @Slot(int, object)
    def _on_relief(self, rid: int, result) -> None:
        if self._shut:
            return
        if rid == self._relief_pending:
            self._relief_pending = 0
        surface, relief, mesh = result
        if surface is not self._want:  # an older surface: a newer request is on its way
            return
        self._surface, self._relief, self._mesh = surface, relief, mesh
        if relief.box != self.pane.box:
            self.pane.box = relief.box
            if not self.pane.touched:
                self.pane.fit_camera()
        self._dirty |= {"mesh", "race", "start"}
        self._schedule()

    @Slot(int, str)
    def _on_relief_failed(self, rid: int, message: str) -> None:
        if rid == self._relief_pending:
            self._relief_pending = 0
        self.statusMessage.emit(f"3-D relief: {message}")

    def _draw_mesh(self) -> None:
        m, it = self._mesh, self.pane.items
        it["mesh"].setData(x=m.X, y=m.Y, z=m.Z, colors=self._mesh_colours(m))
        for item in it.values():
            item.setVisible(True)
        it["contours"].setData(pos=m.contours if len(m.contours) else np.zeros((0, 3)))
        (x0, x1), (y0, y1) = self._relief.box
        c = [(x0, y0), (x1, y0), (x1, y1), (x0, y1)]
        it["floor"].setData(pos=np.array([(*c[i], FLOOR) for k in range(4) for i in (k, (k + 1) % 4)]))
        self._place_labels()

    def _mesh_colours(self, m: Mesh) -> np.ndarray:
        """(nx, ny, 4) vertex colours: the 2-D map's colour map at each vertex's value."""
        cmap = surface_colormap(theme.current())
        return cmap.map(m.shade.ravel(), mode="float").reshape(*m.shade.shape, -1)

    def _place_labels(self) -> None:
        """The domain's x and y ranges at the floor's edges, and what the height shows."""
        s, r = self._surface, self._relief
        (X0, X1), (Y0, Y1) = r.box
        (x0, x1), (y0, y1) = s.domain
        fg = theme.foreground()
        texts = [(((X0 + X1) / 2, Y0 - 0.1, FLOOR), f"x {fmt(x0)} … {fmt(x1)}"),
                 ((X1 + 0.06, (Y0 + Y1) / 2, FLOOR), f"y {fmt(y0)} … {fmt(y1)}"),
                 ((X0, Y1, HEIGHT), "log₁₀ f" if r.log else "f")]
        for label, (pos, text) in zip(self.pane.labels, texts):
            label.setData(pos=np.array(pos, dtype=float), text=text, color=fg)
        text = "3-D relief · height " + ("log₁₀(f − min + δ)" if r.log else "f") + ", clipped at the 99th percentile"
        self.pane.caption.setText(text)
        self.pane.caption.setToolTip(f"{text}\n{MOUSE_HINT}")

    def _draw_race(self) -> None:
        it = self.pane.items
        res, t, tracks = self._race if self._race is not None else (None, 0, {})
        if res is None or res.surface != self._surface.name:  # a race on another surface: wait for its relief
            segs, cols, heads, head_cols = (np.zeros((0, 3)), np.zeros((0, 4)), np.zeros((0, 3)), np.zeros((0, 4)))
        else:
            segs, cols, heads, head_cols = path_segments(self._relief, self._surface, res, t, tracks)
        ghost = cols.copy()
        ghost[:, 3] = 0.3
        it["paths"].setData(pos=segs, color=cols)
        it["ghosts"].setData(pos=segs, color=ghost)
        it["heads"].setData(pos=heads, color=head_cols)

    def _draw_marks(self) -> None:
        """θ₀ on a pin, in the theme's foreground and always in sight; the global minima as white dots on the
        relief (hidden where a hill is in front of them, as on a real relief)."""
        it, s, r = self.pane.items, self._surface, self._relief
        start = np.array([] if self._start is None else [self._start], dtype=float).reshape(-1, 2)
        it["pins"].setData(pos=pins(r, s, start), color=rgba(theme.foreground(), 0.8))
        p = r.points(s, start)
        it["marks"].setData(pos=p[np.all(np.isfinite(p), axis=1)], color=rgba(theme.foreground()))
        mins = np.asarray(s.minima, dtype=float).reshape(-1, 2)
        it["minima"].setData(pos=r.points(s, mins[r.inside(mins)]), color=rgba("#FFFFFF"))

    def _recolour(self) -> None:
        """Theme colours: the background, the mesh's colour map, the level lines, the floor, the labels."""
        pane = self.pane
        if pane.gl is None:
            return
        pane.gl.setBackgroundColor(theme.background())
        pane.items["contours"].setData(color=rgba(theme.foreground(), 0.28))
        pane.items["floor"].setData(color=rgba(theme.foreground(), 0.5))
        for key, width in GL_WIDTHS.items():  # presentation mode: thicker lines, bigger points and labels
            pane.items[key].setData(**{"size" if key in GL_POINTS else "width":
                                       (theme.marker_size if key in GL_POINTS else theme.line_width)(width)})
        for label in pane.labels:
            label.setData(font=theme.scaled_font(QFont("Sans"), 9))
        if self._mesh is not None:
            self._dirty |= {"mesh", "start"}
            self._schedule()

    # ------------------------------------------------------------------------------------------------------
    # state and shutdown

    def state(self) -> dict:
        out = {"mode": self._mode}
        cam = self.pane.camera() if self.pane.touched else self._saved_camera
        if cam:
            out["camera"] = cam
        return out

    def load(self, state) -> None:
        """Restore ``state()``; a 3-D mode where the view is unavailable stays on the map."""
        if not isinstance(state, dict):
            return
        if state.get("mode") in MODES:
            self.set_mode(state["mode"])
        self._saved_camera = state.get("camera") if isinstance(state.get("camera"), dict) else None
        self.pane.set_camera(self._saved_camera)

    def shutdown(self) -> None:
        self._shut = True
        self._timer.stop()
        if self._relief_worker is not None:
            self._relief_worker.stop()

