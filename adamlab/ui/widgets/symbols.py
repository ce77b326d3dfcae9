"""Maths symbols in Qt text: a letter with a hat (m̂, v̂) drawn on its own letter, in every kind of text.

Why this exists. The hat is U+0302 COMBINING CIRCUMFLEX after its letter (Unicode has no precomposed m̂ or
v̂). Qt 6 positions it with the font's mark-attachment table, and with DejaVu Sans Book — the usual sans-serif
on Linux and the offscreen default — that puts the hat 1.12 em *above* the baseline (measured: −13.7 px at
12 px, −112 px at 100 px). On a one-line label the hat is clipped away ("√v"); in wrapped text it lands on
the line above, on whatever letter is there ("builds spêed"). The italic face (DejaVu Sans Oblique) and the
bold one position it right, and so do the fonts of macOS and Windows. Rich-text CSS cannot switch the mark
feature off (Qt ignores ``font-feature-settings``), so the one safe form is the hatted letter in italic —
which is how maths sets a variable anyway.

So every text a person sees follows two rules:

* rich text (labels, readouts, help, plot titles, legends, axis labels): write x̂ as ``hat("x")``, or pass
  the finished string through :func:`rich` (HTML) or :func:`rich_from_plain` (plain text made rich, escaped);
  a tooltip goes through :func:`tooltip` (which picks one of the two);
* plain text (menu items, tab titles, table headers, combo items, the status bar): :func:`plain` spells the
  hat out as microgpt's code does: ``m_hat``.

:func:`unsafe_hats` finds what breaks these rules; the tests run it over every panel's visible texts.
"""

from __future__ import annotations

import html
import re

from PySide6.QtGui import Qt as _QtGui  # Qt::mightBeRichText lives in QtGui's Qt namespace
from PySide6.QtGui import QTextDocument

HAT = "\u0302"  # COMBINING CIRCUMFLEX ACCENT
_ITALIC_HAT = re.compile(r"<i>(\w)" + HAT + r"</i>")
_HAT = re.compile(r"(\w)" + HAT)
_TAG = re.compile(r"(<[^>]*>)")  # tags are left alone when wrapping hats in rich text


def hat(letter: str) -> str:
    """``letter`` with a hat, as rich text that draws the hat on that letter: ``<i>v̂</i>``."""
    if len(letter) != 1 or not letter.isalpha():
        raise ValueError(f"hat() takes one letter, got {letter!r}")
    return f"<i>{letter}{HAT}</i>"


def rich(text: str) -> str:
    """HTML with every x̂ in it made safe (an x̂ already in ``<i>…</i>`` is kept as it is)."""
    text = _ITALIC_HAT.sub(lambda m: m.group(1) + HAT, text)
    parts = _TAG.split(text)  # even indexes: text between tags
    return "".join(p if i % 2 else _HAT.sub(lambda m: hat(m.group(1)), p) for i, p in enumerate(parts))


def rich_from_plain(text: str) -> str:
    """Plain text (``<`` means less-than) as rich text with safe hats. ``<qt>`` makes Qt read it as rich text
    even where it guesses (tooltips), and line breaks are kept."""
    return "<qt>" + rich(html.escape(text, quote=False)).replace("\n", "<br>") + "</qt>"


def tooltip(text: str) -> str:
    """A tooltip as written (plain or rich) with safe hats: rich text is made safe, plain text with a hat
    becomes rich text, plain text without one stays as it is (short plain tooltips do not wrap)."""
    if is_rich(text):
        return rich(text)
    return rich_from_plain(text) if HAT in text else text


def plain(text: str) -> str:
    """For places that show plain text only: m̂ → m_hat, √v̂ → √v_hat."""
    return _HAT.sub(lambda m: m.group(1) + "_hat", text)


def is_rich(text: str) -> bool:
    """Whether Qt shows ``text`` as rich text where it guesses (labels with AutoText, tooltips)."""
    return _QtGui.mightBeRichText(text)


def unsafe_hats(text: str, rich_text: bool) -> list[str]:
    """The places in ``text`` where a hat would be drawn on the wrong letter (empty when there is none).

    Plain text may hold no combining hat at all. Rich text is laid out as Qt lays it out, and each hat must
    follow its letter inside the same italic run.
    """
    if HAT not in text:
        return []
    if not rich_text:
        return [_context(text, i) for i, ch in enumerate(text) if ch == HAT]
    doc = QTextDocument()
    doc.setHtml(text)
    bad = []
    block = doc.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fragment = it.fragment()
            run = fragment.text()
            for i, ch in enumerate(run):
                if ch == HAT and (i == 0 or not run[i - 1].isalpha() or not fragment.charFormat().fontItalic()):
                    bad.append(_context(run, i))
            it += 1
        block = block.next()
    return bad


def _context(text: str, i: int) -> str:
    return text[max(0, i - 20): i + 10]
