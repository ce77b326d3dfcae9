"""Presentation mode (View ▸ Presentation mode, F5): bigger text, thicker lines and markers, high contrast, for a
projector — switched at runtime on every panel and back, kept across sessions, and every panel fitting a
1024 × 768 and a 1920 × 1080 window in it, light and dark, with nothing cut off.

What is checked is read back from the real items: the application font, each plot curve's pen, each axis's
tick font, titles, legends and markers; switching back must give the exact values from before.
"""

from __future__ import annotations

import pyqtgraph as pg
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QAbstractButton, QApplication, QCheckBox, QComboBox, QLabel, QPushButton, QTabBar,
                               QHeaderView, QStyle, QStyleOptionComboBox, QTableWidget,
                               QToolButton)

from adamlab.ui import settings as settings_mod
from adamlab.ui import theme
from adamlab.ui.panels import PANEL_KEYS
from adamlab.ui.window import MainWindow
from tests.ui.test_fit import clipped_labels, plot_problems

LEFT = Qt.MouseButton.LeftButton


@pytest.fixture(autouse=True)
def normal_light_afterwards():
    """The theme is the application's: back to the normal light theme for the tests that follow."""
    yield
    theme.apply_theme("light", presentation=False)


def settle(qtbot, w: MainWindow, key: str) -> None:
    w.show_panel(key)
    qtbot.waitUntil(w.current_panel().is_idle, timeout=20000)
    qtbot.wait(30)


def plot_items(panel):
    """Every pyqtgraph item in ``panel``'s views."""
    return [i for v in panel.findChildren(pg.GraphicsView) if v.scene() is not None for i in v.scene().items()]


def looks(panel) -> dict:
    """What presentation mode changes in ``panel``, read from its items: curve pens, marker sizes, axis tick
    fonts, plot titles' and legends' text sizes, and its widgets' fonts."""
    items = plot_items(panel)
    curves = [i for i in items if isinstance(i, pg.PlotDataItem) and i.opts.get("pen") is not None]
    return {
        "pens": [pg.mkPen(c.opts["pen"]).widthF() for c in curves],
        "symbols": [float(c.opts["symbolSize"]) for c in curves if c.opts.get("symbol") is not None],
        "ticks": [a.style["tickFont"].pointSizeF() for a in items if isinstance(a, pg.AxisItem)],
        "titles": [p.titleLabel.opts.get("size") for p in items if isinstance(p, pg.PlotItem)],
        "legends": [g.opts["labelTextSize"] for g in items if isinstance(g, pg.LegendItem)],
        "fonts": [(type(w).__name__, w.font().pointSizeF()) for w in panel.findChildren(QLabel)[:40]],
    }


def test_presentation_mode_rescales_every_panel_at_runtime_and_back_exactly(qtbot):
    w = MainWindow(restore=False)
    qtbot.addWidget(w)
    w.resize(1280, 800)
    w.show()
    for key in PANEL_KEYS:
        settle(qtbot, w, key)
    app = QApplication.instance()
    base_pt = app.font().pointSizeF()
    before = {p.key: looks(p) for p in w.panels}
    sidebar_sheet = w.sidebar.styleSheet()
    for key, seen in before.items():  # something to check in every panel
        assert seen["pens"] and seen["ticks"] and all(pt == base_pt for pt in seen["ticks"]), key

    w.presentation_action.trigger()  # as View ▸ Presentation mode does
    assert theme.presentation() and w.presentation_action.isChecked()
    assert app.font().pointSizeF() == pytest.approx(base_pt * theme.FONT_SCALE)
    for p in w.panels:
        now, was = looks(p), before[p.key]
        assert now["pens"] == [pytest.approx(v * theme.LINE_SCALE) for v in was["pens"]], p.key
        assert now["symbols"] == [pytest.approx(v * theme.MARKER_SCALE) for v in was["symbols"]], p.key
        assert now["ticks"] == [pytest.approx(base_pt * theme.FONT_SCALE)] * len(was["ticks"]), p.key
        for t_now, t_was in zip(now["titles"], was["titles"]):
            if t_was is not None:  # "10pt" → "12.5pt"
                assert float(t_now[:-2]) == pytest.approx(float(t_was[:-2]) * theme.FONT_SCALE), (p.key, t_was)
        for l_now, l_was in zip(now["legends"], was["legends"]):
            assert float(l_now[:-2]) == pytest.approx(float(l_was[:-2]) * theme.FONT_SCALE), p.key
        assert all(pt > pt_was for (_, pt), (_, pt_was) in zip(now["fonts"], was["fonts"])), p.key
    assert theme.foreground() == "#000000" and theme.background() == "#FFFFFF"  # high contrast
    assert "12.5pt" in w.sidebar.styleSheet() and w.sidebar.flow() == w.sidebar.Flow.LeftToRight
    stepper = w.panel("stepper")
    assert stepper.code_lines.mono.pointSizeF() == pytest.approx(11 * theme.FONT_SCALE)
    assert stepper.code_lines.code(0) == "" or stepper.code_lines._rows[0][1].font().pointSizeF() == \
        pytest.approx(11 * theme.FONT_SCALE)

    w.set_theme("dark")  # presentation dark: white on black
    assert theme.presentation() and theme.foreground() == "#FFFFFF" and theme.background() == "#000000"
    w.set_theme("light")

    w.presentation_action.trigger()
    assert not theme.presentation() and not w.presentation_action.isChecked()
    assert app.font().pointSizeF() == base_pt
    for p in w.panels:
        assert looks(p) == before[p.key], p.key
    assert w.sidebar.styleSheet() == sidebar_sheet and w.sidebar.width() == 170
    assert theme.foreground() == "#202020"


def test_a_curve_drawn_in_presentation_mode_is_thick_and_goes_back_to_its_own_width(qtbot):
    """Pens made while the mode is on (a new run's curve) carry its scale; switching off divides it out."""
    w = MainWindow(restore=False)
    qtbot.addWidget(w)
    w.show()
    settle(qtbot, w, "ema")
    w.set_presentation(True)
    ema = w.panel("ema")
    ema.kind.setCurrentIndex(ema.kind.findData("chaotic"))  # the panel redraws, re-setting its pens
    qtbot.waitUntil(lambda: ema.is_idle() and len(ema.curves["g"].yData) == 4)
    drawn = {k: pg.mkPen(c.opts["pen"]).widthF() for k, c in ema.curves.items()}
    assert drawn["g"] == pytest.approx(1.0 * theme.LINE_SCALE) or drawn["g"] == pytest.approx(2.0 * theme.LINE_SCALE)
    w.set_presentation(False)
    assert {k: pg.mkPen(c.opts["pen"]).widthF() for k, c in ema.curves.items()} == \
        {k: pytest.approx(v / theme.LINE_SCALE) for k, v in drawn.items()}


def test_presentation_mode_is_kept_across_sessions(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("ADAMLAB_SETTINGS", str(tmp_path / "settings.ini"))
    w = MainWindow()
    qtbot.addWidget(w)
    w.set_theme("dark")
    w.set_presentation(True)
    w.close()
    assert str(settings_mod.settings().value("presentation")).lower() == "true"
    theme.apply_theme("light", presentation=False)
    w2 = MainWindow()
    qtbot.addWidget(w2)
    assert theme.presentation() and theme.current() == "dark" and w2.presentation_action.isChecked()
    assert QApplication.instance().font().pointSizeF() == pytest.approx(theme.base_font().pointSizeF()
                                                                        * theme.FONT_SCALE)
    w2.set_presentation(False)
    w2.close()
    w3 = MainWindow()
    qtbot.addWidget(w3)
    assert not theme.presentation() and not w3.presentation_action.isChecked()


def test_its_shortcuts_are_f5_and_ctrl_shift_p_and_clash_with_nothing(qtbot):
    w = MainWindow(restore=False)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    keys = {s.toString() for s in w.presentation_action.shortcuts()}
    assert keys == {"F5", "Ctrl+Shift+P"}
    others = [s.toString() for a in w.findChildren(QAction) if a is not w.presentation_action for s in a.shortcuts()]
    others += [b.shortcut().toString() for b in w.findChildren(QAbstractButton)]
    assert not keys & set(others)
    w.activateWindow()  # (window shortcuts reach the active window only)
    qtbot.waitUntil(lambda: QApplication.activeWindow() is w)
    qtbot.keyClick(w, Qt.Key.Key_F5)
    assert theme.presentation()
    qtbot.keyClick(w, Qt.Key.Key_P, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert not theme.presentation()


# --- fitting a projector's screen ------------------------------------------------------------------------------

SIZES = [(1024, 768), (1920, 1080)]


def squeezed_widgets(panel) -> list[str]:
    """Buttons and check boxes narrower than their text needs, combo boxes whose current text does not fit
    their text field, and tabs cut or pushed out of their bar."""
    bad = []
    for b in panel.findChildren(QAbstractButton):
        if isinstance(b, (QPushButton, QCheckBox, QToolButton)) and b.isVisibleTo(panel) and \
                b.width() < b.minimumSizeHint().width():
            bad.append(f"{type(b).__name__} {b.text()!r}: {b.width()} px wide, needs {b.minimumSizeHint().width()}")
    for c in panel.findChildren(QComboBox):  # (a long item elides in its list, on purpose; the shown one must not)
        if not c.isVisibleTo(panel) or c.width() <= 1:
            continue
        opt = QStyleOptionComboBox()
        c.initStyleOption(opt)
        field = c.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, opt,
                                         QStyle.SubControl.SC_ComboBoxEditField, c)
        icon = c.iconSize().width() + 4 if not c.itemIcon(c.currentIndex()).isNull() else 0
        need = c.fontMetrics().horizontalAdvance(c.currentText()) + icon
        if need > field.width():
            bad.append(f"combo box {c.currentText()!r}: {field.width()} px for its text, needs {need}")
    for table in panel.findChildren(QTableWidget):  # column headers whole (a header may be left empty on purpose)
        header = table.horizontalHeader()
        if not table.isVisibleTo(panel) or not header.isVisible():
            continue
        for c in range(table.columnCount()):
            item = table.horizontalHeaderItem(c)
            if item is None or header.isSectionHidden(c) or \
                    header.sectionResizeMode(c) == QHeaderView.ResizeMode.Stretch:
                continue
            need = max(header.fontMetrics().horizontalAdvance(line) for line in item.text().split("\n"))
            if need > header.sectionSize(c):
                bad.append(f"header {item.text()!r}: {header.sectionSize(c)} px, needs {need}")
    for bar in panel.findChildren(QTabBar):
        if not bar.isVisibleTo(panel):
            continue
        for i in range(bar.count()):
            rect, text = bar.tabRect(i), bar.tabText(i)
            need = bar.fontMetrics().horizontalAdvance(text) + (bar.iconSize().width() + 4 if not
                                                               bar.tabIcon(i).isNull() else 0)
            if rect.width() < need or not bar.rect().contains(rect):
                bad.append(f"tab {text!r}: {rect.width()} px at x={rect.x()}, needs {need} (bar {bar.width()})")
    return bad


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("theme_name", ["light", "dark"])
@pytest.mark.parametrize("when", ["at start", "toggled"])
def test_every_panel_fits_a_projector_in_presentation_mode(qtbot, size, theme_name, when):
    w = MainWindow(theme_name=theme_name, restore=False, presentation=when == "at start")
    qtbot.addWidget(w)
    w.resize(*size)
    w.show()
    qtbot.waitExposed(w)
    if when == "toggled":
        for key in PANEL_KEYS:
            settle(qtbot, w, key)
        w.set_presentation(True)
    assert w.sidebar.height() < 60, "the sidebar is a strip across the top"
    for key in PANEL_KEYS:
        settle(qtbot, w, key)
        panel = w.current_panel()
        assert (w.width(), w.height()) == size, (f"{key}: a panel's minimum size holds the window open",
                                                 [(p.key, p.minimumSizeHint().toTuple()) for p in w.panels])
        assert clipped_labels(panel) == [], key
        assert plot_problems(panel) == [], key
        assert squeezed_widgets(panel) == [], key
        for i in range(w.sidebar.count()):  # every panel's name whole in the strip
            assert w.sidebar.viewport().rect().contains(w.sidebar.visualItemRect(w.sidebar.item(i)))


def test_the_screenshot_command_renders_presentation_mode_at_1024x768(tmp_path):
    import os
    import subprocess
    import sys

    from PySide6.QtGui import QImage

    out = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", ADAMLAB_SETTINGS=str(tmp_path / "s.ini"))
    r = subprocess.run([sys.executable, "-m", "adamlab", "--screenshot", str(out), "--panel", "surface",
                        "--size", "1024x768", "--presentation", "--theme", "dark"],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    img = QImage(str(out))
    assert (img.width(), img.height()) == (1024, 768)  # nothing forces the window bigger than asked
    # dark presentation: the plots' background is black (not the normal dark theme's #1E1E1E)
    black = sum(img.pixelColor(x, y).name() == "#000000" for x in range(0, 1024, 8) for y in range(0, 768, 8))
    assert black > 500


def test_panels_with_content_fit_1024x768_after_switching_to_presentation_mode(qtbot):
    """Filled the way a lecture fills them (stepper rows, a trained run's curves and tensor table), then switched:
    the stepper's table columns and the monitor's rows are measured again in the bigger font, nothing is cut."""
    from tests.ui.test_theme import fill_every_panel

    w = MainWindow(theme_name="dark", restore=False)
    qtbot.addWidget(w)
    w.resize(1024, 768)
    w.show()
    qtbot.waitExposed(w)
    fill_every_panel(qtbot, w)
    stepper = w.panel("stepper")
    for _ in range(5):  # on to a line with its numbers
        qtbot.mouseClick(stepper.next_line_button, LEFT)
    w.set_presentation(True)
    for key in PANEL_KEYS:
        settle(qtbot, w, key)
        panel = w.current_panel()
        assert (w.width(), w.height()) == (1024, 768), key
        assert clipped_labels(panel) == [], key
        assert plot_problems(panel) == [], key
        assert squeezed_widgets(panel) == [], key
    table = stepper.steps_table
    fm = table.fontMetrics()
    for c in range(table.columnCount()):  # every number whole in the bigger font
        for r in range(table.rowCount()):
            item = table.item(r, c)
            if item is not None and item.text():
                assert fm.horizontalAdvance(item.text()) <= table.columnWidth(c), (r, c, item.text())


@pytest.mark.parametrize("kind", ["adam", "ademamix"])
def test_the_steppers_knobs_all_show_on_a_big_projector_and_scroll_only_where_the_column_is_short(qtbot, kind):
    """The knob box was 140 px at any size (AdEMAMix's nine knobs scrolled even at 1920 × 1080): it is as tall
    as its knobs where the column has the room, and keeps its minimum (the rest scrolling) where it has not."""
    w = MainWindow(restore=False, presentation=True)
    qtbot.addWidget(w)
    w.resize(1920, 1080)
    w.show()
    qtbot.waitExposed(w)
    settle(qtbot, w, "stepper")
    side = w.current_panel().sides[0]
    side.combo.setCurrentIndex(side.combo.findData(kind))
    box = side.scroll
    qtbot.waitUntil(lambda: box.height() >= box.widget().sizeHint().height()
                    and not box.verticalScrollBar().isVisible(), timeout=5000)
    for name, control in side.editor.controls.items():  # every knob inside the box's view
        top = control.mapTo(box.viewport(), control.rect().topLeft()).y()
        assert 0 <= top and top + control.height() <= box.viewport().height(), name
    full = box.height()
    w.resize(1024, 768)  # a small projector: the box gives way (down to its minimum), the plots keep their room
    qtbot.waitUntil(lambda: w.height() == 768 and box.height() <= full, timeout=5000)
    # the plots come first: the box is back at its minimum, the rest of its knobs scroll
    qtbot.waitUntil(lambda: box.height() == box.minimumHeight(), timeout=5000)
    view = w.current_panel().view
    assert view.height() >= view.minimumHeight() and (w.width(), w.height()) == (1024, 768)
    qtbot.waitUntil(lambda: box.verticalScrollBar().isVisible() == (box.widget().sizeHint().height() > box.height()),
                    timeout=5000)


def test_the_knob_boxes_settle_after_switching_between_a_short_and_a_tall_set_of_knobs(qtbot):
    """A = Adam (5 knobs), B = AdEMAMix (9): switching tabs must leave a layout that stays put (the hidden tab's
    box once kept the room too, and the column resized itself ~50 times a second for ever)."""
    w = MainWindow(restore=False)
    qtbot.addWidget(w)
    w.resize(1280, 900)
    w.show()
    qtbot.waitExposed(w)
    settle(qtbot, w, "stepper")
    p = w.current_panel()
    b = p.sides[1]
    b.combo.setCurrentIndex(b.combo.findData("ademamix"))
    calls = []
    real = p._share_column
    p._share_column = lambda: (calls.append(1), real())[1]
    for index in (1, 0, 1, 0):
        p.tabs.setCurrentIndex(index)
        qtbot.wait(300)
        before = len(calls)
        qtbot.wait(500)  # settled: no more re-sharing without a change
        assert len(calls) == before, (index, len(calls) - before)
        shown = p.sides[index].scroll
        assert shown.height() >= min(shown.need(), shown.maximumHeight())
    # A shows all of Adam's knobs here, and the plots keep the rest (no empty band under the knobs)
    a = p.sides[0].scroll
    assert a.height() == max(a.need(), a.minimumHeight()) and not a.verticalScrollBar().isVisible()
