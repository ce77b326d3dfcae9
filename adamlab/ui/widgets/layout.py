"""Layouts that adapt to the room they get (a 1024-px window, a projector, a tall side column)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QLabel, QSplitter, QWidget


def _smallest(w: QWidget) -> QSize:
    """How small a layout lets ``w`` get: its minimum size where set, else its minimum size hint (as Qt does)."""
    hint, least = w.minimumSizeHint(), w.minimumSize()
    return QSize(least.width() or max(hint.width(), 0), least.height() or max(hint.height(), 0))


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

    def minimumSizeHint(self) -> QSize:
        """Small enough for either arrangement: it turns side by side when squeezed in height, one above the
        other when squeezed in width (a hidden tab's splitter, never resized, would otherwise claim the stacked
        height and take it from the monitor's curves). Squeezed in both at once it fits neither arrangement
        and its parts are cut: the layouts it sits in are sized so that one arrangement always fits."""
        hints = [_smallest(self.widget(i)) for i in range(self.count()) if not self.widget(i).isHidden()]
        if not hints:
            return super().minimumSizeHint()
        gaps = self.handleWidth() * (len(hints) - 1)
        side = QSize(sum(h.width() for h in hints) + gaps, max(h.height() for h in hints))
        stacked = QSize(max(h.width() for h in hints), sum(h.height() for h in hints) + gaps)
        return QSize(min(side.width(), stacked.width()), min(side.height(), stacked.height()))

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


class FittingLabel(QLabel):
    """A plain-text label that shows the first of its ``variants`` (longest first) that fits its width on one
    line, re-deciding as it is resized; when none fits, the last one wraps. For a key under a plot: at
    1280 px it can spell everything out, at 1024 px it stays one line instead of taking a line of curves."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWordWrap(True)
        self._variants: list[str] = [""]

    def set_variants(self, *variants: str) -> None:
        self._variants = list(variants) or [""]
        self.setToolTip(self._variants[0] if len(self._variants) > 1 else "")
        self._fit()

    def variants(self) -> list[str]:
        return list(self._variants)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._fit()

    def changeEvent(self, event) -> None:  # a font change (presentation mode, a style sheet) measures again
        super().changeEvent(event)
        self._fit()

    def _fit(self) -> None:
        room = self.contentsRect().width() - 2 * self.margin() - 2
        metrics = self.fontMetrics()
        text = next((v for v in self._variants if metrics.horizontalAdvance(v) <= room), self._variants[-1])
        if text != self.text():
            self.setText(text)
