"""The stepper's code box: an update as rows of (code, the same line with the numbers), one highlighted.

Side by side when the box is wide enough for the code and a long θ line; otherwise each row puts its numbers
under its code, with the box's whole width for them (at 1024 px the θ line alone needs ~450 px of the ~500
there are). A line longer than the width wraps at a space instead of being cut off.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPalette
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QSizePolicy, QWidget

# A θ line with numbers of ordinary length: the box stacks its rows when it cannot show this beside the code.
REFERENCE_MATHS = "θ = −10.0000 − 0.001 × −1.0000 / (√100.0000 + 1e−08) = −9.9990"
GAP = 16  # px between the code and the numbers


class CodeLines(QWidget):
    """Rows of (code, maths). ``set_rows`` fills them; ``stacked`` says how they are laid out now."""

    def __init__(self, mono: QFont, sans: QFont, parent: QWidget | None = None):
        super().__init__(parent)
        self.mono, self.sans = mono, sans
        self.grid = QGridLayout(self)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setHorizontalSpacing(GAP)
        self.grid.setVerticalSpacing(0)
        self._rows: list[tuple[QFrame, QLabel, QLabel]] = []
        self._highlight: int | None = None
        self.stacked = False
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)

    def set_fonts(self, mono: QFont, sans: QFont) -> None:
        """New code and maths fonts (presentation mode's bigger ones), laid out again."""
        self.mono, self.sans = mono, sans
        for _, code, maths in self._rows:
            font = QFont(mono)
            font.setItalic(code.font().italic())
            code.setFont(font)
            maths.setFont(sans)
        self._arrange(force=True)

    # --- content ---
    def set_rows(self, rows: list[tuple[str, str]], highlight: int | None, other_row: int | None,
                 colours: tuple[str, str]) -> None:
        """``rows``: (code, maths) per line; ``highlight``: the row just run; ``other_row`` (the other run's θ
        line) is drawn muted, in italics; ``colours``: (highlight background, the muted text), theme colours."""
        while len(self._rows) < len(rows):
            self._add_row()
        for i, (frame, code, maths) in enumerate(self._rows):
            shown = i < len(rows)
            for w in (frame, code, maths):
                w.setVisible(shown)
            if not shown:
                continue
            code.setText(rows[i][0])
            maths.setText(rows[i][1])
            for label in (code, maths):  # the other run's row muted (a palette: a style sheet drops the margins);
                palette = QPalette()  # the others inherit the theme's text colour, also after a theme switch
                if i == other_row:
                    palette.setColor(QPalette.ColorRole.WindowText, QColor(colours[1]))
                label.setPalette(palette)
            font = QFont(self.mono)
            font.setItalic(i == other_row)
            code.setFont(font)
            back = QColor(colours[0])
            back.setAlpha(90)
            frame.setStyleSheet(f"background: rgba({back.red()},{back.green()},{back.blue()},{back.alpha()});"
                                if i == highlight else "background: transparent;")
        self._highlight = highlight
        self._count = len(rows)
        self._arrange(force=True)

    def code(self, row: int) -> str:
        return self._rows[row][1].text()

    def maths(self, row: int) -> str:
        return self._rows[row][2].text()

    def row_widget(self, row: int) -> QWidget:
        """The widget behind row ``row`` (its highlight frame), e.g. to scroll it into view."""
        return self._rows[row][0]

    def row_count(self) -> int:
        return getattr(self, "_count", 0)

    def highlighted(self) -> list[int]:
        return [] if self._highlight is None else [self._highlight]

    def _add_row(self) -> None:
        frame = QFrame()
        code, maths = QLabel(), QLabel()
        code.setFont(self.mono)
        maths.setFont(self.sans)
        maths.setWordWrap(True)  # an extraordinarily long line wraps instead of being cut
        for label in (code, maths):
            label.setTextFormat(Qt.TextFormat.PlainText)
            label.setAttribute(Qt.WidgetAttribute.WA_TranslucentBackground)
            # never squeezed below its text: the panel's minimum height counts every line in full
            label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        self._rows.append((frame, code, maths))

    # --- layout ---
    def code_width(self) -> int:
        fm = QFontMetrics(self.mono)
        return max((fm.horizontalAdvance(c.text()) for _, c, _ in self._rows[: self.row_count()]), default=0) + 12

    def needed_width(self) -> int:
        """The width at which code and a long θ line fit side by side."""
        return self.code_width() + GAP + QFontMetrics(self.sans).horizontalAdvance(REFERENCE_MATHS) + 12

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._arrange()

    def _arrange(self, force: bool = False) -> None:
        stacked = self.width() < self.needed_width()
        if stacked == self.stacked and not force:
            return
        self.stacked = stacked
        for frame, code, maths in self._rows:
            for w in (frame, code, maths):
                self.grid.removeWidget(w)
        for i, (frame, code, maths) in enumerate(self._rows[: self.row_count()]):
            if stacked:  # the numbers under their code, indented, with the whole width
                self.grid.addWidget(frame, 2 * i, 0, 2, 2)
                self.grid.addWidget(code, 2 * i, 0, 1, 2)
                self.grid.addWidget(maths, 2 * i + 1, 0, 1, 2)
                code.setContentsMargins(6, 1, 6, 0)
                maths.setContentsMargins(24, 0, 6, 2)
            else:
                self.grid.addWidget(frame, i, 0, 1, 2)
                self.grid.addWidget(code, i, 0)
                self.grid.addWidget(maths, i, 1)
                code.setContentsMargins(6, 3, 6, 3)
                maths.setContentsMargins(6, 3, 6, 3)
            for label, font in ((code, self.mono), (maths, self.sans)):  # at least one whole line of text
                m = label.contentsMargins()
                label.setMinimumHeight(QFontMetrics(font).height() + m.top() + m.bottom())
            frame.lower()  # the highlight behind the text
        self.grid.setColumnStretch(0, 1 if stacked else 0)
        self.grid.setColumnStretch(1, 0 if stacked else 1)
        self.updateGeometry()
