"""pyqtgraph helpers shared by the panels: consistent plot styling, a hover crosshair, exports."""

from __future__ import annotations

from collections.abc import Callable
import html
import re
import types
from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pyqtgraph.exporters  # noqa: F401  (ImageExporter)
from PySide6.QtCore import QBuffer, QIODevice, QObject, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QImage, QPainter
from PySide6.QtSvg import QSvgGenerator

from adamlab.core.files import atomic_write, check_target, write_bytes
from adamlab.ui import theme
from adamlab.ui.widgets import symbols


def pen(color: str, width: float = 1.0, style=None, alpha: int | None = None, hairline: bool = False):
    """A cosmetic pen, ``width`` px wide in the normal mode (thicker in presentation mode: theme.line_width,
    unless ``hairline``: level lines, packed tight in a valley, would merge into a solid band).
    Width 1 is several times faster than thicker lines on long curves (GUIDE §4)."""
    c = pg.mkColor(color)
    if alpha is not None:
        c.setAlpha(alpha)
    kw = {"color": c, "width": width if hairline else theme.line_width(width)}
    if style is not None:
        kw["style"] = style
    return pg.mkPen(**kw)


def style_plot(plot: pg.PlotItem, title: str = "", left: str = "", bottom: str = "", legend: bool = True,
               grid: bool = True) -> pg.PlotItem:
    """Title, axis labels, light grid and a legend for ``plot``."""
    if title:
        set_title(plot, title)
    if left:
        plot.setLabel("left", left)
    if bottom:
        plot.setLabel("bottom", bottom)
    if grid:
        plot.showGrid(x=True, y=True, alpha=0.15)
    if legend:
        legend = plot.addLegend(offset=(-5, 5), verSpacing=-6)
        legend.setLabelTextSize(theme.css_size(legend, "9pt"))
        legend.setBrush(theme.legend_brush())
    return plot


class CompactAxis(pg.AxisItem):
    """An axis whose tick labels stay short and say their own size: 400000 is "4e5", not "400000" beside a
    "(×1e+27)" in the axis title (pyqtgraph's SI prefix, which means nothing on a unitless θ or loss)."""

    def __init__(self, orientation: str, **kw):
        super().__init__(orientation, **kw)
        self.enableAutoSIPrefix(False)

    def tickStrings(self, values, scale, spacing):
        return [compact_tick(v * scale) for v in values]


def compact_tick(v: float) -> str:
    """A tick label: round numbers as they are (0.5, 250), large or tiny ones as 4e5, 1.5e-6."""
    if v == 0 or 1e-3 <= abs(v) < 1e4:
        return f"{v:g}"
    mantissa, exponent = f"{v:.2e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def set_title(plot: pg.PlotItem, title: str, size: str = "10pt") -> None:
    """``plot``'s title, shortened with "…" whenever the plot is narrower than the title (the whole title is
    then its tooltip), instead of being cut at the plot's edge."""
    plot.full_title = (title, size)
    if not getattr(plot, "_fits_title", False):
        plot._fits_title = True
        # pyqtgraph makes a label's text width its minimum width, and so the plot's: a long title widened the
        # plot past its widget, which cut off the title, the right axis and the data. This label may be
        # squeezed instead (its text is elided to fit, below), whoever sets its text (a theme switch does).
        plot.titleLabel.updateMin = types.MethodType(_squeezable_update_min, plot.titleLabel)
        plot.vb.sigResized.connect(lambda _vb, p=plot: _fit_title(p))
        theme.follow(plot, _fit_title)  # presentation mode: a bigger font, elided again
    else:
        _fit_title(plot)


def _squeezable_update_min(label: pg.LabelItem) -> None:
    pg.LabelItem.updateMin(label)
    h = label.itemRect().height()
    label.setMinimumWidth(0)
    label._sizeHint[Qt.SizeHint.MinimumSize] = (0, h)
    label._sizeHint[Qt.SizeHint.PreferredSize] = (0, h)
    label.updateGeometry()


def _fit_title(plot: pg.PlotItem) -> None:
    title, size = plot.full_title
    pt = theme.font_pt(float(size.rstrip("pt")))
    size = f"{round(pt, 3):g}pt"
    room = int(plot.vb.width()) - 8  # the title's column is the view box's
    font = QFont(plot.titleLabel.item.font())
    font.setPointSizeF(pt)
    metrics = QFontMetrics(font)
    # measure what is drawn, not the markup; an elided title is plain text (a cut could fall inside a tag),
    # with its hats spelt out (symbols.plain: Qt misplaces an upright hat)
    text = symbols.plain(html.unescape(re.sub(r"<[^>]+>", "", title)))
    shown = title if room <= 0 or metrics.horizontalAdvance(text) <= room else \
        metrics.elidedText(text, Qt.TextElideMode.ElideRight, room)
    if shown != plot.titleLabel.text or size != plot.titleLabel.opts.get("size"):
        plot.setTitle(shown, size=size)
        plot.titleLabel.setToolTip(title if shown != title else "")


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


def set_export_name(item: pg.PlotDataItem, name: str) -> pg.PlotDataItem:
    """The column name of ``item`` in a CSV export, for a curve kept out of the legend (no ``name``)."""
    item.export_name = name
    return item


def export_plot(plot: pg.PlotItem, path: str | Path) -> Path:
    """Export ``plot`` by the file's extension: .png (image), .svg (vector) or .csv (the full curve data,
    not the downsampled view), written atomically (:mod:`adamlab.core.files`: never half a file, never onto
    a FIFO, device or link). Raises ValueError for any other extension or target, OSError if it cannot."""
    path = Path(path)
    ext = path.suffix.lower()
    if ext == ".png":
        check_target(path, "export")
        exporter = pg.exporters.ImageExporter(plot)
        exporter.parameters()["width"] = max(int(plot.sceneBoundingRect().width()) * 2, 800)
        image = exporter.export(toBytes=True)
        if image is None:
            raise OSError(f"cannot render the plot for {path}")
        return write_bytes(path, image_bytes(image, "PNG"), "export")
    if ext == ".svg":
        return export_svg(plot, path)
    if ext == ".csv":
        return export_csv(plot, path)
    raise ValueError(f"export format must be .png, .svg or .csv, got {ext or 'no extension'!r}")


def image_bytes(image: QImage, fmt: str = "PNG") -> bytes:
    """``image`` encoded in memory (then written with :func:`adamlab.core.files.write_bytes`)."""
    buffer = QBuffer()
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, fmt):
        raise OSError(f"cannot encode the image as {fmt}")
    return bytes(buffer.data())


def export_svg(plot: pg.PlotItem, path: str | Path) -> Path:
    """Render ``plot`` as vector SVG with Qt's own QSvgGenerator.

    pyqtgraph's SVGExporter fails on the path syntax that Qt ≥ 6.9 writes (pyqtgraph issue #3485, open),
    so the scene region under the plot is rendered straight into an SVG paint device instead.
    """
    path = check_target(path, "export")
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
    return write_bytes(path, bytes(buffer.data()), "export")


def export_csv(plot: pg.PlotItem, path: str | Path) -> Path:
    """Write every curve of ``plot`` as columns ``<name>_x, <name>_y`` (full data, NaN-padded). A curve is
    named by its export name, else its legend name, else the plot's title and its place in it."""
    path = Path(path)
    check_target(path, "export")
    title = re.sub(r"<[^>]+>", "", plot.titleLabel.text or "").strip() or "plot"
    columns: list[tuple[str, np.ndarray]] = []
    for i, item in enumerate(plot.listDataItems()):
        x, y = item.xData, item.yData
        if x is None or y is None or len(x) == 0:
            continue
        name = getattr(item, "export_name", None) or item.name() or f"{title} curve {i + 1}"
        name = name.replace(",", ";")
        columns += [(f"{name}_x", np.asarray(x, float)), (f"{name}_y", np.asarray(y, float))]
    n = max((len(c) for _, c in columns), default=0)
    table = np.full((n, len(columns)), np.nan)
    for j, (_, col) in enumerate(columns):
        table[: len(col), j] = col
    header = ",".join(name for name, _ in columns)
    with atomic_write(path, "export", text=True) as f:
        np.savetxt(f, table, delimiter=",", header=header, comments="", fmt="%.10g")
    return path
