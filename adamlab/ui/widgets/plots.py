"""pyqtgraph helpers shared by the panels: consistent plot styling, a hover crosshair, exports."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters  # noqa: F401  (ImageExporter)
from PySide6.QtCore import QBuffer, QIODevice, QObject, QPointF, QRectF, QSize
from PySide6.QtGui import QPainter
from PySide6.QtSvg import QSvgGenerator

from adamlab.ui import theme


def pen(color: str, width: float = 1.0, style=None, alpha: int | None = None):
    """A cosmetic pen. Width 1 is several times faster than thicker lines on long curves (GUIDE §4)."""
    c = pg.mkColor(color)
    if alpha is not None:
        c.setAlpha(alpha)
    kw = {"color": c, "width": width}
    if style is not None:
        kw["style"] = style
    return pg.mkPen(**kw)


def style_plot(plot: pg.PlotItem, title: str = "", left: str = "", bottom: str = "", legend: bool = True,
               grid: bool = True) -> pg.PlotItem:
    """Title, axis labels, light grid and a legend for ``plot``."""
    if title:
        plot.setTitle(title, size="10pt")
    if left:
        plot.setLabel("left", left)
    if bottom:
        plot.setLabel("bottom", bottom)
    if grid:
        plot.showGrid(x=True, y=True, alpha=0.15)
    if legend:
        legend = plot.addLegend(offset=(-5, 5), labelTextSize="9pt", verSpacing=-6)
        legend.setBrush(theme.legend_brush())
    return plot


def fast_curve(plot: pg.PlotItem, color: str, name: str | None = None, width: float = 1.0, **kw) -> pg.PlotDataItem:
    """A curve item set up for long data: peak downsampling and clipping to the view."""
    item = plot.plot([], [], pen=pen(color, width), name=name, **kw)
    item.setDownsampling(auto=True, method="peak")
    item.setClipToView(True)
    return item


class Crosshair(QObject):
    """A vertical line that follows the mouse over ``plots`` (linked on x) and reports the x under it.

    ``callback(x)`` gets the data x under the mouse (or None when it leaves); rate-limited to 60 Hz.
    """

    def __init__(self, plots: list[pg.PlotItem], callback: Callable[[float | None], None]):
        super().__init__()
        self._plots = plots
        self._callback = callback
        self.lines = []
        for p in plots:
            line = pg.InfiniteLine(angle=90, movable=False, pen=pen(theme.COLORS["sgd"], 1, alpha=160))
            line.setVisible(False)
            p.addItem(line, ignoreBounds=True)
            self.lines.append(line)
        scene = plots[0].scene()
        self._proxy = pg.SignalProxy(scene.sigMouseMoved, rateLimit=60, slot=self._moved)

    def _moved(self, event) -> None:
        pos: QPointF = event[0]
        for p in self._plots:
            if p.sceneBoundingRect().contains(pos) and p.vb.sceneBoundingRect().contains(pos):
                x = p.vb.mapSceneToView(pos).x()
                for line in self.lines:
                    line.setPos(x)
                    line.setVisible(True)
                self._callback(x)
                return
        for line in self.lines:
            line.setVisible(False)
        self._callback(None)

    def disconnect_all(self) -> None:
        self._proxy.disconnect()


def export_plot(plot: pg.PlotItem, path: str | Path) -> Path:
    """Export ``plot`` by the file's extension: .png (image), .svg (vector) or .csv (the full curve data,
    not the downsampled view). Raises ValueError for any other extension."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext == ".png":
        exporter = pg.exporters.ImageExporter(plot)
        exporter.parameters()["width"] = max(int(plot.sceneBoundingRect().width()) * 2, 800)
    elif ext == ".svg":
        return export_svg(plot, path)
    elif ext == ".csv":
        return export_csv(plot, path)
    else:
        raise ValueError(f"export format must be .png, .svg or .csv, got {ext or 'no extension'!r}")
    image = exporter.export(toBytes=True)
    if image is None or not image.save(str(path)):
        raise OSError(f"cannot write {path}")
    return path


def export_svg(plot: pg.PlotItem, path: str | Path) -> Path:
    """Render ``plot`` as vector SVG with Qt's own QSvgGenerator.

    pyqtgraph's SVGExporter fails on the path syntax that Qt ≥ 6.9 writes (pyqtgraph issue #3485, open),
    so the scene region under the plot is rendered straight into an SVG paint device instead.
    """
    path = Path(path)
    rect = plot.sceneBoundingRect()
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    gen = QSvgGenerator()
    gen.setOutputDevice(buffer)  # render in memory, then write with Python: a bad path is a plain OSError
    gen.setSize(QSize(int(rect.width()), int(rect.height())))
    gen.setViewBox(QRectF(0, 0, rect.width(), rect.height()))
    gen.setTitle(plot.titleLabel.text or "AdamLab plot")
    painter = QPainter()
    if not painter.begin(gen):
        raise OSError(f"cannot render the plot for {path}")
    try:
        painter.fillRect(QRectF(0, 0, rect.width(), rect.height()), pg.mkColor(theme.background()))
        plot.scene().render(painter, QRectF(0, 0, rect.width(), rect.height()), rect)
    finally:
        painter.end()
    path.write_bytes(bytes(buffer.data()))
    return path


def export_csv(plot: pg.PlotItem, path: str | Path) -> Path:
    """Write every named curve of ``plot`` as columns ``<name>_x, <name>_y`` (full data, NaN-padded)."""
    path = Path(path)
    columns: list[tuple[str, np.ndarray]] = []
    for i, item in enumerate(plot.listDataItems()):
        x, y = item.xData, item.yData
        if x is None or y is None or len(x) == 0:
            continue
        name = item.name() or f"curve{i}"
        name = name.replace(",", ";")
        columns += [(f"{name}_x", np.asarray(x, float)), (f"{name}_y", np.asarray(y, float))]
    n = max((len(c) for _, c in columns), default=0)
    table = np.full((n, len(columns)), np.nan)
    for j, (_, col) in enumerate(columns):
        table[: len(col), j] = col
    header = ",".join(name for name, _ in columns)
    np.savetxt(path, table, delimiter=",", header=header, comments="", fmt="%.10g")
    return path
