"""Paint speed-ups any pyqtgraph plot may use: the same pixels as pyqtgraph's own items, less work per frame.

The loss-surface arena redraws its map and loss plot ~45 times a second while the start is dragged, with a
budget of one 60 Hz frame (16 ms) for all of its GUI work; each of these took a measurable slice off that
(``benchmarks/bench_surface.py`` measures the whole; the figures below are from the commits that added them):

* ``GridAxis`` / ``grid_axes``: an axis whose translucent grid lines are filled pixel rectangles
  (``pixel_line_rect``) instead of lines Qt blends pixel by pixel — the loss plot's log axis repaints in
  ~5 ms instead of ~16 ms;
* ``PathCurve``: a curve whose bounding rect is one min/max (pyqtgraph's costs ~0.13 ms a curve a frame);
* ``cache_tree`` / ``cache_axes``: paint an item and everything under it (a cached parent does not cache
  its children) / a plot's axes from pixmap caches — uncached, every repaint of the arena's moving paths
  replayed thousands of contour segments and every label (~10 ms a frame); caching the legend, minima and
  handle too took the map's repaint from ~7.7 to ~4 ms;
* ``skip_hover_while_dragging``: no hover-target search on every mouse move of a drag (~2 ms a move).
"""

from __future__ import annotations

import math
import weakref

import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QPaintEngine, QPen, QTransform
from PySide6.QtWidgets import QGraphicsItem


class PathCurve(pg.PlotCurveItem):
    """A plain curve whose bounding box is cheap to recompute (for data that changes on every frame).

    During a drag every frame sets new data, and Qt asks each changed item for its bounding rect before it
    paints. pyqtgraph's generic version takes NaN-aware min/max per axis under ``warnings.catch_warnings``
    and maps device pixels to data units for the pen's half-width (~0.13 ms per curve, a fifth of a
    frame's paint). Here: one min/max over the points (which should be finite: the arena draws only a
    path's finite rows, see ``surface.race.rows_to_draw``; a non-finite box falls back to pyqtgraph's), and
    the pixel padding kept until the view changes (``viewTransformChanged``).
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
            if not all(map(math.isfinite, (x0, x1, y0, y1))):  # not for finite data (see the class docstring)
                return super().boundingRect()
            self._boundingRect = QRectF(x0 - dx, y0 - dy, x1 - x0 + 2 * dx, y1 - y0 + 2 * dy)
        return self._boundingRect

    def viewTransformChanged(self):
        self._pad = None
        super().viewTransformChanged()


def skip_hover_while_dragging(scene: pg.GraphicsScene) -> None:
    """Stop ``scene`` from searching for hover targets on every mouse move of a drag.

    pyqtgraph's scene collects every item under the mouse on each move and sorts them by z in Python, even
    mid-drag, when none of them may accept the hover (~2 ms a move on the arena's map, at the mouse's
    100 Hz). While a drag runs that search is skipped; the release sends a hover event as usual, so hover
    states are right afterwards.
    """
    ref = weakref.ref(scene)  # no reference cycle through the scene's own attribute

    def send_unless_dragging(ev, exitOnly=False):
        sc = ref()
        if sc is None or (sc.dragButtons and not exitOnly):
            return
        pg.GraphicsScene.sendHoverEvents(sc, ev, exitOnly)

    scene.sendHoverEvents = send_unless_dragging


def cache_tree(item, mode=QGraphicsItem.CacheMode.DeviceCoordinateCache) -> None:
    """Set ``mode`` on ``item`` and every item below it (a cached parent does not cache its children).

    For items that rarely change next to items that change every frame (a legend beside moving curves):
    Qt then blits a pixmap instead of replaying every text and line of the item on each repaint. Call it
    again when children are added (a legend's new rows).
    """
    item.setCacheMode(mode)
    for child in item.childItems():
        cache_tree(child, mode)


def cache_axes(plot: pg.PlotItem) -> None:
    """Paint ``plot``'s four axes from pixmap caches: they change when the range does, not on every frame of
    the curves inside (uncached, each repaint of a moving curve replays every tick label)."""
    for name in ("left", "bottom", "top", "right"):
        plot.getAxis(name).setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)


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
    line); the arena's loss plot's log axis has ~50 of them, so repainting it after its range changes (when
    a dragged race settles) took ~10–16 ms, ~5 ms with this axis. A pixel-aligned rectangle filled with the
    line's colour covers the same pixels (``pixel_line_rect``) and is blended span by span. The rectangles
    are placed for the painter's sub-pixel offset, so the picture is rebuilt if that changes; anything but
    an unscaled raster painter (a PNG export at another size, an SVG) gets pyqtgraph's own lines.
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
    """Left and bottom ``GridAxis`` for ``pg.PlotWidget(axisItems=grid_axes())``: a plot with a fast grid."""
    return {"left": GridAxis("left"), "bottom": GridAxis("bottom")}
