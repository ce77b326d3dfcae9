"""The EMA playground and the stepper fit the window at 1280 × 800 and at 1024 × 700: the window keeps the size
asked for, and nothing in the panel is cut off, squeezed or covered.

Before (#11): the stepper's minimum height (662 px) was taller than a 1024 × 700 window has for a panel, its
θ line was cut to "… / (√35.8796 + 1e−0…", its small plots overlapped their labels, the EMA readout was cut
off and legends sat on the data. The other panels' minimum sizes are set aside here (the monitor's width is
being fixed with its layout), so the window's size says whether *this* panel fits.
"""

import pytest
import pyqtgraph as pg
from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QLabel, QScrollArea

from adamlab.ui.window import MainWindow

SIZES = [(1280, 800), (1024, 700)]


@pytest.fixture
def window(qtbot):
    w = MainWindow(restore=False)
    qtbot.addWidget(w)
    for p in w.panels:
        if p.key not in ("ema", "stepper"):
            p.setMinimumSize(1, 1)  # only the two panels under test may hold the window open
    return w


def show(qtbot, window, key, size):
    window.resize(*size)
    window.show()
    window.show_panel(key)
    panel = window.current_panel()
    qtbot.waitUntil(panel.is_idle, timeout=10_000)
    return panel


def clipped_labels(panel) -> list[str]:
    """Labels whose text does not fit the space they were given, or that lie partly outside the panel."""
    bad = []
    for label in panel.findChildren(QLabel):
        if not label.isVisibleTo(panel) or not label.text() or label.width() <= 1:
            continue
        name = label.text()[:50]
        if label.wordWrap():
            if label.heightForWidth(label.width()) > label.height() + 1:
                bad.append(f"{name!r}: needs {label.heightForWidth(label.width())} px of height, has {label.height()}")
        else:
            hint = label.sizeHint()
            if hint.width() > label.width() + 1 or hint.height() > label.height() + 1:
                bad.append(f"{name!r}: needs {hint.width()}×{hint.height()}, has {label.width()}×{label.height()}")
        scroll = next((a for a in iter_ancestors(label) if isinstance(a, QScrollArea)), None)
        if scroll is None:  # a label in a scroll area may be scrolled out of view; elsewhere it must be inside
            box = QRect(label.mapTo(panel, label.rect().topLeft()), label.size())
            if not panel.rect().contains(box):
                bad.append(f"{name!r}: at {box.getRect()}, outside the panel {panel.rect().getRect()}")
        elif label.mapTo(scroll.viewport(), label.rect().topRight()).x() > scroll.viewport().width() + 1:
            bad.append(f"{name!r}: wider than its scroll area")
    return bad


def iter_ancestors(w):
    w = w.parentWidget()
    while w is not None:
        yield w
        w = w.parentWidget()


def plot_problems(panel) -> list[str]:
    """Plots too small to read, plots overlapping each other, and text drawn over a plot's data area."""
    bad = []
    for view in panel.findChildren(pg.GraphicsView):
        if not view.isVisibleTo(panel):
            continue
        plots = [i for i in view.scene().items() if isinstance(i, pg.PlotItem) and i.isVisible()]
        boxes = [p.vb.sceneBoundingRect() for p in plots]
        for p, box in zip(plots, boxes):
            if box.height() < 40 or box.width() < 100:
                bad.append(f"{p.titleLabel.text[:30]!r}: data area {box.width():.0f}×{box.height():.0f} px")
            title = p.titleLabel
            if title.isVisible() and title.item.boundingRect().width() > p.sceneBoundingRect().width() + 1:
                bad.append(f"title {title.text[:40]!r} wider than its plot")
        for i, a in enumerate(plots):
            for b in plots[i + 1:]:
                overlap = a.sceneBoundingRect().intersected(b.sceneBoundingRect())
                if overlap.height() > 1 and overlap.width() > 1:
                    bad.append("two plots overlap")
        for item in view.scene().items():  # legends and labels must stay off the data
            if isinstance(item, (pg.LegendItem, pg.LabelItem)) and item.isVisible() and item.parentItem() is not None:
                if isinstance(item.parentItem(), pg.ItemSample) or isinstance(item, pg.LabelItem) and any(
                        item is p.titleLabel for p in plots):
                    continue
                rect = item.sceneBoundingRect()
                for box in boxes:
                    if rect.intersects(box) and rect.width() > 2:
                        bad.append(f"{type(item).__name__} over a plot's data area")
    return bad


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_stepper_fits_with_every_line_and_plot_readable(qtbot, window, size):
    panel = show(qtbot, window, "stepper", size)
    for _ in range(9):
        qtbot.mouseClick(panel.next_step_button, Qt.MouseButton.LeftButton)
    for _ in range(6):  # on to the θ line, the longest
        qtbot.mouseClick(panel.next_line_button, Qt.MouseButton.LeftButton)
    qtbot.wait(50)
    assert (window.width(), window.height()) == size, "the panel's minimum size holds the window open"
    assert panel.code_lines.maths(5).startswith("θ = ") and panel.code_lines.maths(5).endswith("0.9858")
    assert clipped_labels(panel) == []
    assert plot_problems(panel) == []


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_stepper_fits_with_the_longest_updates_and_the_most_knobs(qtbot, window, size):
    """NAdam's 9 lines (its θ lines wrap at 1024 px) in focus beside AdEMAMix with warm-ups and 9 knobs: the
    lines scroll inside the code box, the knobs inside their tab, the table keeps its header and a few rows."""
    panel = show(qtbot, window, "stepper", size)
    for side, kind in zip(panel.sides, ("ademamix", "nadam")):
        side.combo.setCurrentIndex(side.combo.findData(kind))
    for name in ("alpha_warmup", "beta3_warmup"):
        panel.sides[0].editor.controls[name].setValue(50)
    panel.tabs.setCurrentIndex(0)
    qtbot.mouseClick(panel.focus_buttons[1], Qt.MouseButton.LeftButton)
    for _ in range(4):
        qtbot.mouseClick(panel.next_step_button, Qt.MouseButton.LeftButton)
    for _ in range(8):  # on to NAdam's first θ line
        qtbot.mouseClick(panel.next_line_button, Qt.MouseButton.LeftButton)
    qtbot.wait(50)
    assert (window.width(), window.height()) == size, "the panel's minimum size holds the window open"
    assert panel.code_lines.maths(7).startswith("θ = ")
    highlighted = panel.code_lines.row_widget(7)  # the line just run is in view
    top = highlighted.mapTo(panel.code_scroll.viewport(), highlighted.rect().topLeft()).y()
    assert 0 <= top and top + highlighted.height() <= panel.code_scroll.viewport().height() + 1
    assert panel.steps_table.height() >= 150
    assert clipped_labels(panel) == []
    assert plot_problems(panel) == []


def test_every_optimizers_lines_fit_a_1024_window_in_focus_and_below_the_other(qtbot, window):
    """Code lines do not wrap: each kind's, and its θ line as the other run's row ("B:  θ = …"), must fit the
    code box of a 1024 × 700 window, after the steps where RAdam and ADOPT change their lines (6)."""
    from adamlab.ui.panels.stepper.programs import STEPPABLE

    panel = show(qtbot, window, "stepper", (1024, 700))
    combo = panel.sides[1].combo
    for kind in STEPPABLE:
        combo.setCurrentIndex(combo.findData(kind))
        for _ in range(6):
            qtbot.mouseClick(panel.next_step_button, Qt.MouseButton.LeftButton)
        for focus in (0, 1):
            qtbot.mouseClick(panel.focus_buttons[focus], Qt.MouseButton.LeftButton)
            # (a scroll bar that just appeared may take an event or two to narrow the lines)
            qtbot.waitUntil(lambda: clipped_labels(panel) == [], timeout=1000)
            assert (window.width(), window.height()) == (1024, 700), kind


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("kind", ["noisy", "chaotic"])
def test_the_ema_playground_fits_with_its_readout_whole_and_no_key_on_the_data(qtbot, window, size, kind):
    panel = show(qtbot, window, "ema", size)
    panel.kind.setCurrentIndex(panel.kind.findData(kind))
    qtbot.waitUntil(lambda: panel.is_idle() and len(panel.curves["g"].yData) == (200 if kind == "noisy" else 4))
    qtbot.wait(50)
    assert (window.width(), window.height()) == size, "the panel's minimum size holds the window open"
    assert "g</i>&nbsp;=" in panel.cursor_label.text()
    assert clipped_labels(panel) == []
    assert plot_problems(panel) == []


def test_one_step_is_drawn_with_nothing_over_it(qtbot, window):
    panel = show(qtbot, window, "ema", (1024, 700))
    panel.length.setValue(1)
    qtbot.waitUntil(lambda: panel.is_idle() and len(panel.curves["g"].yData) == 1)
    assert plot_problems(panel) == []
    ticks = panel.plot_g.getAxis("bottom").tickValues(*panel.plot_g.viewRange()[0], 400)
    assert all(v == int(v) for _, values in ticks for v in values)  # whole steps only: no "step 1.5"
