"""Light and dark themes, and the colours every panel draws with.

Curve colours come from the Okabe–Ito colour-blind-safe palette, chosen so each reads on both the light and
the dark plot background (the pure yellow is darkened a little for white backgrounds).
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication, QWidget

THEMES = ("light", "dark")

# Named roles used across panels, so "the gradient" is the same blue everywhere.
COLORS = {
    "gradient": "#0072B2",  # blue
    "ema": "#E69F00",  # orange
    "ema_raw": "#CC79A7",  # reddish purple: EMA without bias correction
    "second": "#009E73",  # bluish green
    "ratio": "#D55E00",  # vermillion
    "sgd": "#7F7F7F",  # grey
    "accent": "#56B4E9",  # sky blue
}

# A cycle for "one curve per thing" (optimizers, runs, tensors).
CYCLE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#A08A00", "#7F7F7F",
         "#000000", "#8C564B"]

_BACKGROUND = {"light": "#FFFFFF", "dark": "#1E1E1E"}
_FOREGROUND = {"light": "#202020", "dark": "#D8D8D8"}

_current = "light"


def current() -> str:
    return _current


def cycle_color(i: int) -> str:
    """The i-th colour of CYCLE for the current theme (its black is white on the dark background)."""
    c = CYCLE[i % len(CYCLE)]
    return "#FFFFFF" if c == "#000000" and _current == "dark" else c


def background() -> str:
    return _BACKGROUND[_current]


def foreground() -> str:
    return _FOREGROUND[_current]


def apply_theme(name: str, root: QWidget | None = None) -> None:
    """Switch the application palette and pyqtgraph's colours; restyle the plots already under ``root``."""
    global _current
    if name not in THEMES:
        raise ValueError(f"theme must be one of {THEMES}, got {name!r}")
    _current = name
    app = QApplication.instance()
    if app is not None:
        app.setStyle("Fusion")
        app.setPalette(_palette(name))
    pg.setConfigOptions(background=_BACKGROUND[name], foreground=_FOREGROUND[name], antialias=False)
    if root is not None:
        restyle(root)


def restyle(root: QWidget) -> None:
    """Re-colour every pyqtgraph view below ``root`` for the current theme (backgrounds, axes, labels)."""
    fg = _FOREGROUND[_current]
    for view in root.findChildren(pg.GraphicsView):
        view.setBackground(_BACKGROUND[_current])
        scene = view.scene()
        if scene is None:
            continue
        for item in scene.items():
            if isinstance(item, pg.AxisItem):
                item.setPen(fg)
                item.setTextPen(fg)
            elif isinstance(item, pg.LegendItem):
                item.setLabelTextColor(fg)
            elif isinstance(item, pg.LabelItem):
                item.setText(item.text, color=fg)


def _palette(name: str) -> QPalette:
    if name == "light":
        return QApplication.style().standardPalette() if QApplication.instance() else QPalette()
    p = QPalette()
    base, window, text = QColor("#232323"), QColor("#2D2D2D"), QColor("#E0E0E0")
    p.setColor(QPalette.ColorRole.Window, window)
    p.setColor(QPalette.ColorRole.WindowText, text)
    p.setColor(QPalette.ColorRole.Base, base)
    p.setColor(QPalette.ColorRole.AlternateBase, QColor("#2A2A2A"))
    p.setColor(QPalette.ColorRole.ToolTipBase, QColor("#3A3A3A"))
    p.setColor(QPalette.ColorRole.ToolTipText, text)
    p.setColor(QPalette.ColorRole.Text, text)
    p.setColor(QPalette.ColorRole.Button, window)
    p.setColor(QPalette.ColorRole.ButtonText, text)
    p.setColor(QPalette.ColorRole.BrightText, QColor("#FF5555"))
    p.setColor(QPalette.ColorRole.Highlight, QColor("#3D7AB8"))
    p.setColor(QPalette.ColorRole.HighlightedText, QColor("#FFFFFF"))
    p.setColor(QPalette.ColorRole.Link, QColor("#6FB1F0"))
    p.setColor(QPalette.ColorRole.PlaceholderText, QColor("#8A8A8A"))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7A7A7A"))
    return p
