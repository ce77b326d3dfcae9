"""The paint speed-ups in ``adamlab.ui.widgets.fastpaint`` paint what pyqtgraph's own items would: checked pixel
for pixel against QPainter, bounding rects against pyqtgraph's. (The arena's axes are checked as GridAxis in
test_surface_panel.)"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem

from adamlab.ui.widgets.fastpaint import PathCurve, cache_axes, cache_tree, pixel_line_rect, skip_hover_while_dragging


def blank_image(w=240, h=200) -> QImage:
    img = QImage(w, h, QImage.Format.Format_ARGB32_Premultiplied)
    img.fill(0)
    return img


def test_pixel_line_rect_covers_exactly_what_draw_line_covers(qapp):
    """Translucent 1-px lines, horizontal and vertical, at whole, quarter, half and random sub-pixel
    positions under a sub-pixel painter offset: the rectangles fill exactly drawLine's pixels."""
    pen = QPen(QColor(150, 150, 150, 38))
    pen.setWidthF(1)
    pen.setCosmetic(True)
    pen.setCapStyle(Qt.PenCapStyle.SquareCap)
    rng = np.random.default_rng(0)
    cases = [(q, a, b) for q in (20.0, 20.25, 20.5, 20.75, 20.999) for a in (30.0, 30.5, 30.4) for b in (150.0, 150.5)]
    cases += [tuple(rng.uniform(10, 180, 3)) for _ in range(60)]
    for dx, dy in ((0.0, 0.0), (0.9125, 0.4), (0.5, 0.25)):
        lines, rects = blank_image(), blank_image()
        for k, (q, a, b) in enumerate(cases):
            p1, p2 = (QPointF(a, q), QPointF(b, q)) if k % 2 else (QPointF(q, a), QPointF(q, b))
            for img, fast in ((lines, False), (rects, True)):
                painter = QPainter(img)
                painter.translate(3 + dx, 5 + dy)
                if fast:
                    painter.fillRect(pixel_line_rect(pen, p1, p2, dx, dy), pen.color())
                else:
                    painter.setPen(pen)
                    painter.drawLine(p1, p2)
                painter.end()
        assert lines == rects, (dx, dy)
    thick = QPen(pen)
    thick.setWidthF(2)
    assert pixel_line_rect(thick, QPointF(0, 1), QPointF(9, 1), 0, 0) is None  # only what was checked above
    assert pixel_line_rect(pen, QPointF(0, 1), QPointF(9, 5), 0, 0) is None  # slanted


def rect_tuple(r):
    return (r.x(), r.y(), r.width(), r.height())


def test_path_curve_bounding_rect_equals_pyqtgraphs(qtbot):
    """PathCurve's cheap bounding rect (one min/max, pen padding kept until the view changes) is the rect
    pyqtgraph's PlotCurveItem computes, before and after a zoom and new data; non-finite data falls back to
    pyqtgraph's own."""
    w = pg.PlotWidget()
    qtbot.addWidget(w)
    w.resize(400, 300)
    w.show()
    x = np.linspace(-1.0, 2.0, 50)
    y = np.sin(3 * x)
    fast = PathCurve(x, y, pen=pg.mkPen("#D55E00", width=2))
    ref = pg.PlotCurveItem(x, y, pen=pg.mkPen("#D55E00", width=2))
    w.addItem(fast)
    w.addItem(ref)
    qtbot.waitUntil(lambda: w.isVisible())
    checks = 0
    for step in ("shown", "zoomed", "new data", "a NaN"):
        if step == "zoomed":
            w.setXRange(0, 1, padding=0)
            w.setYRange(0, 0.5, padding=0)
        elif step == "new data":
            for item in (fast, ref):
                item.setData(2 * x, y)
        elif step == "a NaN":
            y_nan = y.copy()
            y_nan[3] = np.nan
            for item in (fast, ref):
                item.setData(x, y_nan)
        qtbot.wait(20)
        a, b = rect_tuple(fast.boundingRect()), rect_tuple(ref.boundingRect())
        assert a == pytest.approx(b, rel=1e-9, abs=1e-12), step
        checks += 1
    assert checks == 4
    assert rect_tuple(PathCurve([], []).boundingRect()) == (0, 0, 0, 0)


def test_cache_tree_and_cache_axes_reach_every_item():
    cache = QGraphicsItem.CacheMode.DeviceCoordinateCache
    legend = pg.LegendItem()
    legend.addItem(pg.PlotDataItem([0, 1], [0, 1]), "a")
    legend.addItem(pg.PlotDataItem([0, 1], [1, 0]), "b")
    items = [legend]
    while items:  # nothing is cached yet
        item = items.pop()
        assert item.cacheMode() == QGraphicsItem.CacheMode.NoCache
        items += item.childItems()
    cache_tree(legend)
    items, seen = [legend], 0
    while items:
        item = items.pop()
        assert item.cacheMode() == cache
        items += item.childItems()
        seen += 1
    assert seen > 4  # the legend, its layout's rows and their labels and samples
    plot = pg.PlotItem()
    cache_axes(plot)
    assert all(plot.getAxis(name).cacheMode() == cache for name in ("left", "bottom", "top", "right"))


def test_hover_search_is_skipped_only_while_a_button_drags(qtbot, monkeypatch):
    """During a drag the scene's per-move hover search is skipped; without a drag, and for the exit event a
    release sends, pyqtgraph's own search runs."""
    w = pg.GraphicsLayoutWidget()
    qtbot.addWidget(w)
    scene = w.scene()
    calls = []
    monkeypatch.setattr(pg.GraphicsScene, "sendHoverEvents", lambda sc, ev, exitOnly=False: calls.append(exitOnly))
    skip_hover_while_dragging(scene)
    scene.sendHoverEvents(None)
    assert calls == [False]
    scene.dragButtons = [Qt.MouseButton.LeftButton]
    scene.sendHoverEvents(None)
    assert calls == [False]  # skipped mid-drag
    scene.sendHoverEvents(None, exitOnly=True)
    assert calls == [False, True]
    scene.dragButtons = []
