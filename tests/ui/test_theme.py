"""Switching the theme while the app runs recolours every widget and plot: sidebar, plot backgrounds, axes,
legends, table and list cells — on every panel, with content in it (runs drawn, tables filled).

Colours are read from what Qt paints with (palettes, brushes, pens; the sidebar from a grab of its pixels) and
text is checked for contrast against what it is drawn on (WCAG's ratio, ≥ 3 for ≥ 9 pt text).
"""

from __future__ import annotations

import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QListWidget, QTableWidget

from adamlab.ui import theme
from adamlab.ui.panels import PANEL_KEYS
from adamlab.ui.window import MainWindow

LEFT = Qt.MouseButton.LeftButton


def luminance(c: QColor) -> float:
    def lin(v):
        v /= 255
        return v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4
    return 0.2126 * lin(c.red()) + 0.7152 * lin(c.green()) + 0.0722 * lin(c.blue())


def contrast(a: QColor, b: QColor) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def over(top: QColor, base: QColor) -> QColor:
    """``top`` (maybe translucent) painted over an opaque ``base``."""
    a = top.alphaF()
    return QColor(*(round(a * t + (1 - a) * b) for t, b in
                    ((top.red(), base.red()), (top.green(), base.green()), (top.blue(), base.blue()))))


def cell_colours(view, item) -> tuple[QColor, QColor]:
    """(text, background) a table or list cell is painted with."""
    pal = view.palette()
    base = pal.color(QPalette.ColorRole.Base)
    bg = item.background()
    back = over(bg.color(), base) if bg.style() != Qt.BrushStyle.NoBrush else base
    fg = item.foreground()
    text = fg.color() if fg.style() != Qt.BrushStyle.NoBrush else pal.color(QPalette.ColorRole.Text)
    return text, back


def fill_every_panel(qtbot, w: MainWindow) -> None:
    """Put content in every panel the way a person would: a race, stepper steps, a short training run."""
    w.show_panel("stepper")
    stepper = w.panel("stepper")
    for _ in range(3):
        qtbot.mouseClick(stepper.next_step_button, LEFT)
    assert stepper.steps_table.rowCount() >= 3
    monitor = w.panel("monitor")
    w.show_panel("monitor")
    monitor.setup.batch.setValue(4)
    monitor.setup.steps.setValue(12)
    qtbot.mouseClick(monitor.start_button, LEFT)
    run = monitor.runs[0]
    qtbot.waitUntil(lambda: run.state == "finished", timeout=30000)
    qtbot.waitUntil(lambda: monitor.table.rowCount() == 9 and monitor.table.item(0, 4) is not None, timeout=5000)
    for key in PANEL_KEYS:
        w.show_panel(key)
        qtbot.waitUntil(w.current_panel().is_idle, timeout=20000)


def check_theme(w: MainWindow, name: str) -> None:
    bg, fg = QColor(theme.background()), QColor(theme.foreground())
    assert theme.current() == name
    # the sidebar: its empty area below the entries is painted in the theme's base colour
    img = w.sidebar.grab().toImage()
    pixel = img.pixelColor(img.width() // 2, img.height() - 6)
    base = w.sidebar.palette().color(QPalette.ColorRole.Base)
    assert contrast(pixel, base) < 1.1, (name, pixel.name(), base.name())
    expected_base = QColor("#232323") if name == "dark" else QColor("#FFFFFF")
    assert contrast(pixel, expected_base) < 1.3, (name, pixel.name())
    for i in range(w.sidebar.count()):
        text, back = cell_colours(w.sidebar, w.sidebar.item(i))
        assert contrast(text, back) >= 3, (name, "sidebar", i)
    for panel in w.panels:
        views = panel.findChildren(pg.GraphicsView)
        assert views, panel.key
        for view in views:
            assert view.backgroundBrush().color().name() == bg.name(), (name, panel.key)
            for item in view.scene().items():
                if isinstance(item, pg.AxisItem) and item.isVisible():
                    assert item.textPen().color().name() == fg.name(), (name, panel.key, item.orientation)
                elif isinstance(item, pg.LegendItem):
                    patch = over(item.opts["brush"].color(), bg)
                    assert contrast(patch, bg) < 1.2, (name, panel.key, "legend patch")
                    for _, label in item.items:
                        assert contrast(QColor(label.opts["color"]), patch) >= 3, (name, panel.key, label.text)
                elif isinstance(item, pg.LabelItem) and item.text and isinstance(item.parentItem(), pg.PlotItem):
                    assert QColor(item.opts["color"]).name() == fg.name(), (name, panel.key, item.text)
        cells = 0
        for view in panel.findChildren(QTableWidget):
            for r in range(view.rowCount()):
                for c in range(view.columnCount()):
                    item = view.item(r, c)
                    if item is not None and item.text():
                        text, back = cell_colours(view, item)
                        assert contrast(text, back) >= 3, (name, panel.key, r, c, item.text(), text.name(), back.name())
                        cells += 1
        for view in panel.findChildren(QListWidget):
            for r in range(view.count()):
                text, back = cell_colours(view, view.item(r))
                assert contrast(text, back) >= 3, (name, panel.key, view.item(r).text())
        if panel.key in ("stepper", "surface", "monitor"):
            assert cells > 0, (panel.key, "no table content was checked")


@pytest.mark.parametrize("start", ["light", "dark"])
def test_switching_theme_at_runtime_recolours_every_panel(qtbot, tmp_path, monkeypatch, start):
    monkeypatch.setenv("ADAMLAB_SETTINGS", str(tmp_path / "s.ini"))
    w = MainWindow(theme_name=start, restore=False)
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    try:
        fill_every_panel(qtbot, w)
        check_theme(w, start)
        other = "dark" if start == "light" else "light"
        w.set_theme(other)
        for key in PANEL_KEYS:  # every panel, shown after the switch
            w.show_panel(key)
            qtbot.wait(20)
        check_theme(w, other)
        w.set_theme(start)
        check_theme(w, start)
    finally:
        theme.apply_theme("light")
