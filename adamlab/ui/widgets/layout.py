"""Layouts that adapt to the room they get (a 1024-px window, a projector, a tall side column)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter, QWidget


class AspectSplitter(QSplitter):
    """A splitter whose parts sit side by side when it is wide (width ≥ ``ratio`` × height) and one above
    the other when it is tall, re-deciding as it is resized. The parts keep the shares given by ``shares``;
    side by side, a first part that says how wide it wants to be (``natural_width()``, e.g. a table whose
    columns must show their text) gets that width, up to ``max_first`` of the whole."""

    def __init__(self, *parts: QWidget, ratio: float = 1.6, shares: tuple[int, ...] | None = None,
                 max_first: float = 0.6, parent: QWidget | None = None):
        super().__init__(Qt.Orientation.Vertical, parent)
        self.ratio = ratio
        self.max_first = max_first
        self.shares = shares or (1,) * len(parts)
        for p in parts:
            self.addWidget(p)
        self.setChildrenCollapsible(False)
        self._decided = False

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        w, h = self.width(), self.height()
        want = Qt.Orientation.Horizontal if w >= self.ratio * h else Qt.Orientation.Vertical
        if want != self.orientation() or not self._decided:
            self._decided = True
            self.setOrientation(want)
            self.refit()

    def refit(self) -> None:
        """Share the room out again (call when a part's natural width has changed, e.g. new table rows)."""
        horizontal = self.orientation() == Qt.Orientation.Horizontal
        total = self.width() if horizontal else self.height()
        s = sum(self.shares)
        sizes = [total * k // s for k in self.shares]
        natural = getattr(self.widget(0), "natural_width", None)
        if horizontal and natural is not None and len(sizes) == 2:
            sizes[0] = min(natural(), int(self.max_first * total))
            sizes[1] = total - sizes[0]
        self.setSizes(sizes)
