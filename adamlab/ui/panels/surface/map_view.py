"""The arena's map (``MapView``): the surface, the start handle, and a race drawn on it at step t.

Layers, bottom to top: the surface image (z −20) and its contour lines (−10), the swarm's basin squares (−5),
the global ★ and local ○ minima (15), one path per optimizer (20, made by the panel's ``Track``), the
current-point markers of all paths in one scatter item (30: one scatter paints as slowly as five points),
the arrows for one optimizer's −∇f, −m̂ and Δθ (40), and the draggable start θ₀ (50). A colour bar sits
beside the map. Under it, outside the data: the key (``key``: each racer's line, marker and name, and the
swarm's basin colours) and a readout of the arrows' sizes. No legend box sits on the map, where it would hide
paths (#11).

Drawing is ``setData`` on items made once (GUIDE §4). Everything that does not change during a drag is
painted from a pixmap cache (``cache_static_items``), and the map never resizes while a drag runs
(``set_readout``), so a frame repaints only what moved.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSignalBlocker, Qt
from PySide6.QtWidgets import QGraphicsItem, QLabel

from adamlab.core.surfaces import Surface
from adamlab.ui import theme
from adamlab.ui.panels.surface.image import SurfaceImage
from adamlab.ui.panels.surface.race import SceneResult
from adamlab.ui.panels.surface.racers import SYMBOLS, key_html
from adamlab.ui.panels.surface.text import fmt
from adamlab.ui.widgets.fastpaint import cache_axes, skip_hover_while_dragging
from adamlab.ui.widgets.plots import pen, style_plot
from adamlab.ui.widgets.symbols import hat

ARROW_FRACTION = 0.12  # overlay arrows are this fraction of the view's width long (directions only)
# the overlay arrows: key → (label as plain text, theme colour role or "fg", line style)
ARROWS = {
    "grad": ("−∇f (descent direction)", "gradient", Qt.PenStyle.DashLine),
    "m_hat": ("−m_hat (momentum)", "ema", Qt.PenStyle.DotLine),
    "step": ("Δθ (the actual step)", "fg", Qt.PenStyle.SolidLine),
}
# basin colours of the swarm, by the minimum's index; every one reads on both themes (no black)
SWARM_COLORS = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#A08A00", "#8C564B", "#E7298A"]
SWARM_NONE = (128, 128, 128, 90)  # ended near no minimum
SWARM_DIVERGED = (178, 34, 34, 150)  # firebrick: reads on both themes


def swarm_brush_color(basin: int):
    """The swarm square's colour for a basin index (-1: none, -2: diverged), as (r, g, b, alpha)."""
    if basin == -2:
        return SWARM_DIVERGED
    if basin == -1:
        return SWARM_NONE
    c = pg.mkColor(SWARM_COLORS[int(basin) % len(SWARM_COLORS)])
    return c.red(), c.green(), c.blue(), 110


def point_text(p) -> str:
    """A point as a key writes it: (3, 2), (−2.81, 3.13)."""
    return "(" + ", ".join(f"{v:.3g}".replace("-", "−") for v in p) + ")"


def surface_colormap(name: str) -> pg.ColorMap:
    """A pale map (low = light) so the coloured paths stand out on it, in either theme."""
    return theme.map_colormap(name)


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


def arrow_pen(role: str, style):
    """The pen of an overlay arrow (see ARROWS) in the current theme."""
    color = theme.foreground() if role == "fg" else theme.COLORS[role]
    return pen(color, 2, style)


class MapView:
    """The map's widget and plot items (``widget``, ``plot``, ``handle``, …) and the readout under it."""

    def __init__(self, start: tuple[float, float]) -> None:
        self.widget = pg.GraphicsLayoutWidget()
        self.plot = self.widget.addPlot(row=0, col=0)
        # no legend: a box on the map hid paths; the key is a label under the map (``key``)
        style_plot(self.plot, left="y", bottom="x", grid=False, legend=False)
        self.plot.setAspectLocked(True)
        self.plot.vb.disableAutoRange()
        self.plot.setMenuEnabled(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setZValue(-20)
        self.plot.addItem(self.image, ignoreBounds=True)
        self.image_rect: tuple[float, float, float, float] | None = None  # what the image covers (data units)
        self.contours = theme.follow(pg.PlotCurveItem(connect="pairs"),
                                     lambda it: it.setPen(pen(theme.foreground(), 1, alpha=60, hairline=True)))
        self.contours.setZValue(-10)
        self.plot.addItem(self.contours, ignoreBounds=True)
        self.colorbar = theme.follow(pg.ColorBarItem(colorMap=surface_colormap(theme.current()), interactive=False,
                                                     width=14),
                                     lambda it: it.setColorMap(surface_colormap(theme.current())))
        self.colorbar.setImageItem(self.image)
        self.widget.addItem(self.colorbar, row=0, col=1)
        self.minima = pg.ScatterPlotItem(symbol="star", size=theme.marker_size(16), pen=pen("#000000"),
                                         brush=pg.mkBrush("#FFFFFF"))
        self.local_minima = pg.ScatterPlotItem(symbol="o", size=theme.marker_size(7), pen=pen("#000000"),
                                               brush=pg.mkBrush("#FFFFFF"))
        for item in (self.minima, self.local_minima):
            item.setZValue(15)
            self.plot.addItem(item, ignoreBounds=True)
        self.markers = theme.follow(pg.ScatterPlotItem(), lambda it: it.setPen(pen(theme.foreground(), 1)))
        self.markers.setZValue(30)
        self.plot.addItem(self.markers, ignoreBounds=True)
        self.swarm_item = pg.ScatterPlotItem(symbol="s", pxMode=False, pen=None)
        self.swarm_item.setVisible(False)  # an empty scatter still costs ~0.5 ms a paint
        self.swarm_item.setZValue(-5)
        self.plot.addItem(self.swarm_item, ignoreBounds=True)
        self.arrow_items = {}
        for key, (_, role, style) in ARROWS.items():
            item = theme.follow(pg.PlotCurveItem(connect="pairs"),
                                lambda it, role=role, style=style: it.setPen(arrow_pen(role, style)))
            item.setZValue(40)
            self.plot.addItem(item, ignoreBounds=True)
            self.arrow_items[key] = item
        self.handle = pg.TargetItem(pos=start, size=16, symbol="crosshair", movable=True,
                                    pen=pen(theme.foreground(), 2), label="θ₀",
                                    labelOpts={"offset": (8, -8), "color": theme.foreground()})

        def handle_colours(it):
            it.setPen(pen(theme.foreground(), 2))
            it.label().setColor(theme.foreground())

        theme.follow(self.handle, handle_colours)
        self.handle.setZValue(50)
        self.handle.setToolTip("The start θ₀: drag it and every path follows")
        self.plot.addItem(self.handle, ignoreBounds=True)
        skip_hover_while_dragging(self.widget.scene())
        self.widget.setToolTip("")

        self.key = QLabel("")
        self.key.setObjectName("mapKey")
        self.key.setWordWrap(True)
        self.key.setToolTip("The racers' lines and markers (colour: the optimizer's family and kind; a dashed line: "
                            "a second copy of a kind); with the swarm on, the colour of each minimum's basin")
        self._racers_key = ""
        self._basin_key = ""
        self.key_names: list[str] = []  # the racers the key names, in its order
        self.readout = QLabel("")
        self.readout.setWordWrap(True)
        self.readout.setToolTip(f"<qt>Sizes of the overlay arrows at the current step; Δθ/lr ≈ ±1 per axis is "
                                f"Adam's sign-like step (−∇f dashed, −{hat('m')} dotted, Δθ solid)</qt>")
        self.cache_static_items()

    def cache_static_items(self) -> None:
        """Paint the items that do not change during a drag (axes, the surface image, its contours, the colour
        bar, the minima, the handle) once into pixmaps and blit them afterwards. Without this every repaint of
        a moving path replays thousands of contour segments and every tick label (~10 ms a frame). (Not the
        axes' titles, the colour bar's insides or the handle's θ₀:
        pyqtgraph paints some of those outside their bounding rects, which a cache would clip, and cached
        text is rasterised a little differently.)"""
        cache_axes(self.plot)
        cache = QGraphicsItem.CacheMode.DeviceCoordinateCache
        # the handle too: moving it keeps its cached picture
        for item in (self.contours, self.image, self.colorbar, self.minima, self.local_minima, self.handle):
            item.setCacheMode(cache)

    # ------------------------------------------------------------------------------------------------------
    # the key under the map

    def set_racers_key(self, racers: list[tuple[str, str, int, int]]) -> None:
        """The key of the racers drawn: (name, colour, dash, symbol) each."""
        self.key_names = [r[0] for r in racers]
        self._racers_key = " &nbsp; ".join(key_html(*r) for r in racers)
        self._show_key()

    def _show_key(self) -> None:
        text = "<br>".join(t for t in (self._racers_key, self._basin_key) if t)
        if self.key.text() != text:
            self.key.setText(text)
            self.key.setVisible(bool(text))

    # ------------------------------------------------------------------------------------------------------
    # the surface

    def show_surface(self, s: Surface) -> None:
        """Surface ``s``'s minima, and the view on its domain (the image follows with ``set_image``)."""
        mins = np.asarray(s.minima, dtype=float).reshape(-1, 2)
        self.minima.setData(mins[:, 0], mins[:, 1])
        locs = np.asarray(s.local_minima, dtype=float).reshape(-1, 2)
        self.local_minima.setData(locs[:, 0], locs[:, 1])
        self.local_minima.setVisible(len(locs) > 0)
        self.minima.setVisible(len(mins) > 0)
        (x0, x1), (y0, y1) = s.domain
        # with the view's signals open: the axes and the items' view transforms follow them (blocked, the
        # axes kept the previous surface's numbers)
        self.plot.vb.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0.02)
        self.image_rect = None
        self._drop_caches()

    def set_image(self, im: SurfaceImage) -> None:
        self.image.setImage(im.image, levels=im.levels, autoLevels=False)
        self.image.setRect(*im.rect)
        self.image_rect = im.rect
        self.colorbar.setLevels(im.levels)
        self.colorbar.axis.setLabel(im.label)
        self.contours.setData(im.contours[:, 0], im.contours[:, 1])
        self._drop_caches()

    def _drop_caches(self) -> None:
        """Repaint the surface's cached layers from scratch: after the surface or the view changed, Qt kept
        parts of their old pixmaps (the previous surface's contours stayed on screen in part of the map)."""
        for item in (self.image, self.contours, self.minima, self.local_minima):
            mode = item.cacheMode()
            item.setCacheMode(QGraphicsItem.CacheMode.NoCache)
            item.setCacheMode(mode)

    def image_wanted(self):
        """After a pan or zoom: the domain ((x0, x1), (y0, y1)) to compute a new image for — the view with a
        margin, so small pans need none — or None while the image still covers the view in enough detail."""
        (x0, x1), (y0, y1) = self.plot.vb.viewRange()
        if self.image_rect is not None:
            ix, iy, iw, ih = self.image_rect
            inside = x0 >= ix and x1 <= ix + iw and y0 >= iy and y1 <= iy + ih
            if inside and (x1 - x0) > iw / 2.5:
                return None
        mx, my = 0.25 * (x1 - x0), 0.25 * (y1 - y0)
        return (x0 - mx, x1 + mx), (y0 - my, y1 + my)

    def move_handle(self, pos: tuple[float, float]) -> None:
        """Put the start handle at ``pos`` without it reporting a move."""
        with QSignalBlocker(self.handle):
            self.handle.setPos(pos)

    # ------------------------------------------------------------------------------------------------------
    # a race at step t
    #
    # tracks: uid → the panel's Track of that optimizer (its path item and marker brush)

    def draw_paths(self, res: SceneResult, t: int, tracks: dict) -> None:
        """Each path up to step t (or to where it left the view) and the current-point markers (× once gone)."""
        mx, my, symbols, sizes, brushes = [], [], [], [], []
        for r in res.runs:
            track = tracks.get(r.uid)
            if track is None:
                continue
            n = min(t + 1, r.shown)
            track.path.setData(r.path[:n, 0], r.path[:n, 1])
            last = r.path[n - 1]
            gone = r.left_view_at is not None and t >= r.left_view_at
            if r.eval_path is not None:  # schedule-free: its average x too (dotted), with a small dot at its end
                track.average_curve().setData(r.eval_path[:n, 0], r.eval_path[:n, 1])
                x_last = r.eval_path[n - 1]
                if not gone and math.isfinite(x_last[0]) and math.isfinite(x_last[1]):
                    mx.append(x_last[0])
                    my.append(x_last[1])
                    symbols.append("o")
                    sizes.append(theme.marker_size(6))
                    brushes.append(track.brush)
            elif track.average is not None:
                track.average.setData([], [])
            if math.isfinite(last[0]) and math.isfinite(last[1]):
                mx.append(last[0])
                my.append(last[1])
                symbols.append("x" if gone else SYMBOLS[track.symbol][0])
                sizes.append(theme.marker_size(14 if gone else 11))
                brushes.append(track.brush)
        self.markers.setData(mx, my, symbol=symbols, size=sizes, brush=brushes)

    def draw_arrows(self, res: SceneResult, t: int, target: str, shown: set[str]) -> None:
        """The arrows ``shown`` (ARROWS keys) of optimizer ``target`` at step t (θ_t → θ_{t+1}), and their sizes
        in the readout. Needs the race's per-step records; without them the readout says they will come."""
        r = next((r for r in res.runs if r.name == target), None)
        for item in self.arrow_items.values():
            if item.xData is not None and len(item.xData):  # already empty during a drag: skip the update
                item.setData([], [])
        if r is None or r.grads is None or t >= len(r.grads):
            text = ("" if r is None else f"{r.name}: arrows appear when the race is recomputed"
                    if r.grads is None else f"{r.name}: step {t} is the end of the path")
            self.set_readout(text, hold=True)
            return
        origin = r.path[t]
        (x0, x1), _ = self.plot.vb.viewRange()
        length = ARROW_FRACTION * (x1 - x0)
        vectors = {"grad": -r.grads[t], "m_hat": None if r.m_hat is None else -r.m_hat[t], "step": r.updates[t]}
        for key, vec in vectors.items():
            if vec is None or key not in shown:
                continue
            pts = arrow_segments(origin, vec, length)
            self.arrow_items[key].setData(pts[:, 0], pts[:, 1])
        lr = r.lr[t] if r.lr is not None else r.base_lr
        g, step = r.grads[t], r.updates[t]
        parts = [f"<b>{r.name}</b>, step {t}:", f"‖∇f‖ = {fmt(float(np.hypot(*g)))}"]
        if r.m_hat is not None:
            parts.append(f"‖{hat('m')}‖ = {fmt(float(np.hypot(*r.m_hat[t])))}")
        parts.append(f"‖Δθ‖ = {fmt(float(np.hypot(*step)))}")
        if lr > 0 and np.all(np.isfinite(step)):
            parts.append(f"Δθ/lr = ({step[0] / lr:+.3f}, {step[1] / lr:+.3f})")
        self.set_readout("  ·  ".join(parts) + f"  <span style='color:gray'>(dashed −∇f, dotted −{hat('m')}, "
                         "solid Δθ)</span>", hold=False)

    def set_readout(self, text: str, hold: bool) -> None:
        """Show ``text`` under the map. ``hold`` (a race without records, i.e. a drag): the label keeps at
        least its current height. Otherwise a drag's one-line text after a settled race's two lines would
        re-lay out the column and resize the map, which re-renders every cached layer and the axes (~40 ms
        in one go), and again when the race settles."""
        if self.readout.text() == text:
            return
        # (only a label on screen has a height worth keeping: a hidden panel's was never laid out, and held it
        # could stand taller than a 1024 × 768 window)
        self.readout.setMinimumHeight(self.readout.height() if hold and self.readout.isVisible() else 0)
        self.readout.setText(text)

    def draw_swarm(self, res: SceneResult) -> None:
        """The swarm's starts as squares coloured by the minimum each reached (grey: none, dark red: diverged),
        and their key under the map."""
        sw = res.swarm
        self.swarm_item.setVisible(sw is not None)
        if sw is None:
            if len(self.swarm_item.data):  # already empty on every frame of a drag: no update
                self.swarm_item.setData([], [])
            if self._basin_key:
                self._basin_key = ""
                self._show_key()
            return
        brushes = {int(b): pg.mkBrush(*swarm_brush_color(int(b))) for b in np.unique(sw.basin)}
        size = min(sw.spacing) * 0.92
        self.swarm_item.setData(sw.starts[:, 0], sw.starts[:, 1], brush=[brushes[int(b)] for b in sw.basin], size=size)
        self._basin_key = basin_key(sw)
        self._show_key()


def basin_key(sw) -> str:
    """The swarm's key: which colour is which minimum's basin (only the basins that occur), none, diverged."""
    def square(rgba):  # the square's colour, opaque: the text is on the panel, not on the map
        r, g, b, _ = rgba
        return f"<span style='color:#{r:02x}{g:02x}{b:02x}'>■</span>"

    found = {int(b) for b in sw.basin}
    parts = [f"{square(swarm_brush_color(i))}&nbsp;{point_text(sw.targets[i])}" for i in range(len(sw.targets))
             if i in found]
    parts += [f"{square(swarm_brush_color(b))}&nbsp;{label}" for b, label in ((-1, "no&nbsp;minimum"),
                                                                              (-2, "diverged")) if b in found]
    note = f", {sw.note}" if sw.note else ""
    return f"<b>Swarm</b> ({sw.name}{note}), ends near: " + " &nbsp; ".join(parts)
