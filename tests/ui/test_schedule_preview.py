"""The monitor's schedule preview: its y axis says what lr the curve reaches (it used to say only "0")."""

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPainter

from adamlab.ui.panels.monitor.setup import SetupBox


def drawn_tick_labels(axis) -> list[str]:
    """The tick texts the axis paints (pyqtgraph leaves out those that do not fit)."""
    image = QImage(10, 10, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        _, _, texts = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [text for _, _, text in texts]


def test_the_schedule_preview_labels_zero_and_the_peak_lr(qtbot):
    box = SetupBox()
    qtbot.addWidget(box)
    box.resize(330, 900)
    box.show()
    qtbot.waitExposed(box)
    axis = box.preview.getPlotItem().getAxis("left")
    lr = box.hyper()["lr"]
    qtbot.waitUntil(lambda: drawn_tick_labels(axis) == ["0", f"{lr:g}"])
    spin = box.editors[box.optimizer_kind()].controls["lr"].spin
    spin.setFocus()
    spin.lineEdit().selectAll()
    qtbot.keyClicks(spin.lineEdit(), "0.0003")
    qtbot.keyClick(spin.lineEdit(), Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: drawn_tick_labels(axis) == ["0", "3e-4"])
    (_, _), (y0, y1) = box.preview.getPlotItem().viewRange()
    assert y0 < 0 < 3e-4 < y1 < 4e-4  # the curve fills the plot: from 0 to the peak
