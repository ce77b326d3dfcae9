"""A function on a grid drawn the arena's way — a pale colour image, contour lines, a colour bar — with paths and
markers on top. The monitor's loss-landscape slices use it; the picture comes from
:func:`adamlab.core.contours.map_image`, computed off the GUI thread."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from adamlab.core.contours import MapImage
from adamlab.ui import theme
from adamlab.ui.widgets.plots import pen, style_plot


class ContourMap(pg.GraphicsLayoutWidget):
    """``show_image(MapImage)``, then ``set_paths([(xy (n, 2), colour, name), …])`` and ``set_points``."""

    def __init__(self, title: str = "", xlabel: str = "", ylabel: str = ""):
        super().__init__()
        self.plot = self.addPlot(row=0, col=0)
        style_plot(self.plot, title=title, bottom=xlabel, left=ylabel, legend=False, grid=False)
        self.plot.setAspectLocked(False)
        self.image = pg.ImageItem(axisOrder="row-major")
        self.image.setZValue(-20)
        self.plot.addItem(self.image)
        self.contours = theme.follow(pg.PlotCurveItem(connect="pairs"),
                                     lambda it: it.setPen(pen(theme.foreground(), 1, alpha=60, hairline=True)))
        self.contours.setZValue(-10)
        self.plot.addItem(self.contours)
        self.colorbar = theme.follow(pg.ColorBarItem(colorMap=theme.map_colormap(), interactive=False, width=12),
                                     lambda it: it.setColorMap(theme.map_colormap()))
        self.colorbar.setImageItem(self.image)
        self.addItem(self.colorbar, row=0, col=1)
        self.paths: list[pg.PlotDataItem] = []
        self.points = pg.ScatterPlotItem()
        self.points.setZValue(30)
        self.plot.addItem(self.points)
        self.picture: MapImage | None = None

    def show_image(self, mi: MapImage) -> None:
        self.picture = mi
        self.image.setImage(mi.image, autoLevels=False, levels=mi.levels)
        self.image.setRect(*mi.rect)
        self.colorbar.setLevels(mi.levels)
        self.contours.setData(mi.contours[:, 0], mi.contours[:, 1]) if len(mi.contours) else self.contours.setData([], [])
        x0, y0, w, h = mi.rect
        self.plot.setRange(xRange=(x0, x0 + w), yRange=(y0, y0 + h), padding=0)

    def set_paths(self, paths: list[tuple[np.ndarray, str, str]]) -> None:
        """Paths drawn as lines with a dot per point, each ``(xy (n, 2), colour, name)``."""
        while len(self.paths) < len(paths):
            item = pg.PlotDataItem([], [])
            item.setZValue(20)
            self.plot.addItem(item)
            self.paths.append(item)
        for k, item in enumerate(self.paths):
            if k < len(paths):
                xy, colour, name = paths[k]
                item.setData(xy[:, 0], xy[:, 1], pen=pen(colour, 2), symbol="o", symbolBrush=colour,
                             symbolPen=None, symbolSize=theme.marker_size(4))
                item.setToolTip(name)
                item.setVisible(True)
            else:
                item.setVisible(False)

    def set_points(self, points: list[tuple[float, float, str, str]]) -> None:
        """Marked points ``(x, y, symbol, colour)``: a run's start, its end, the slice's centre."""
        self.points.setData([{"pos": (x, y), "symbol": s, "brush": pg.mkBrush(c), "size": theme.marker_size(11),
                              "pen": pen(theme.foreground(), 1)} for x, y, s, c in points])

    def reset(self) -> None:
        """Nothing drawn. (Not ``clear``: GraphicsLayoutWidget puts its layout's ``clear`` on each instance,
        which removes every item, plot included.)"""
        self.picture = None
        self.image.clear()
        self.contours.setData([], [])
        self.set_paths([])
        self.points.setData([])
