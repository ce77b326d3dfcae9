"""The monitor in a 1024 × 700 window, where its tabs sit under the curves: the loss plot — what the room
watches — gets two thirds of the height (it had ~130 px: a two-line key, a hidden tab's stacked histograms
claiming their height); the key under it stays one line; the heatmaps sit side by side with no two row names
overprinted; at 1280 × 800 they are stacked again.
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from adamlab.ui.window import MainWindow

LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def monitor(qtbot):
    w = MainWindow(restore=False)
    qtbot.addWidget(w)
    w.resize(1024, 700)
    w.show()
    w.show_panel("monitor")
    panel = w.current_panel()
    panel.setup.batch.setValue(4)
    panel.setup.steps.setValue(30)
    return w, panel


def drawn(run) -> int:
    x = run.items["raw"].getData()[0]
    return 0 if x is None else len(x)


def heat_rows_named(heat) -> list[tuple[float, str]]:
    return heat.plots[0].getAxis("left")._tickLevels[0]


def test_at_1024_by_700_the_curves_get_two_thirds_and_the_maps_sit_side_by_side_named_legibly(qtbot, monitor):
    window, panel = monitor
    qtbot.waitUntil(lambda: window.width() == 1024 and panel.split.orientation() == Qt.Orientation.Vertical,
                    timeout=5000)
    qtbot.mouseClick(panel.start_button, LEFT)
    run = panel.runs[0]
    qtbot.waitUntil(lambda: run.state == "finished" and drawn(run) == 30, timeout=30000)
    top, bottom = panel.split.sizes()
    assert top >= 0.65 * (top + bottom), (top, bottom)
    assert panel.curves.height() >= 200, panel.curves.height()
    key = panel.curves.key_label
    assert key.height() <= key.fontMetrics().lineSpacing() + 4  # one line
    assert key.fontMetrics().horizontalAdvance(key.text()) <= key.width() and key.text() in key.variants()
    # the maps: side by side in the short, wide tab; every named row has a line of its own
    panel.tabs.setCurrentWidget(panel.heatmap)
    heat = panel.heatmap
    qtbot.waitUntil(lambda: heat.side_by_side and len(heat_rows_named(heat)) > 0, timeout=5000)
    u_plot, g_plot = heat.plots
    assert u_plot.sceneBoundingRect().right() <= g_plot.sceneBoundingRect().left() + 1  # beside, not above
    line = heat.fontMetrics().height()
    named = heat_rows_named(heat)
    assert len(named) < 9  # 9 tensors would not fit on lines of their own here
    assert len(named) * line <= u_plot.vb.height() + 1, (len(named), line, u_plot.vb.height())
    # a taller window: stacked, every tensor named
    window.resize(1280, 800)
    qtbot.waitUntil(lambda: panel.split.orientation() == Qt.Orientation.Horizontal, timeout=5000)
    qtbot.waitUntil(lambda: not heat.side_by_side and len(heat_rows_named(heat)) == 9, timeout=5000)
    assert u_plot.sceneBoundingRect().bottom() <= g_plot.sceneBoundingRect().top() + 1
