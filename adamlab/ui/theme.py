"""Light and dark themes, and the colours every panel draws with.

Curve colours come from the Okabe–Ito colour-blind-safe palette, chosen so each reads on both the light and
the dark plot background (the pure yellow is darkened a little for white backgrounds).
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
import pyqtgraph as pg
import shiboken6
from shiboken6 import Shiboken

from adamlab.core.image import ARENA_COLORS
from PySide6.QtGui import QColor, QIcon, QPalette, QPixmap
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

# A cycle for "one curve per thing" (optimizers, runs, tensors). Every colour reads on both the light and the
# dark background, so a curve keeps its colour when the theme is switched (the 9th was black, swapped for white
# on dark: curves drawn before a switch stayed black on #1E1E1E).
CYCLE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#A08A00", "#7F7F7F",
         "#E7298A", "#8C564B"]

_BACKGROUND = {"light": "#FFFFFF", "dark": "#1E1E1E"}
_FOREGROUND = {"light": "#202020", "dark": "#D8D8D8"}

_current = "light"


def current() -> str:
    return _current


def cycle_color(i: int) -> str:
    """The i-th colour of CYCLE (the same in both themes)."""
    return CYCLE[i % len(CYCLE)]


def swatch(color: str, size: int = 12) -> QIcon:
    """A small square of ``color``: the key beside a name in a list or table (text keeps the theme's colour, so
    it stays readable; a coloured name in orange on white was not)."""
    pm = QPixmap(size, size)
    pm.fill(QColor(color))
    return QIcon(pm)


# The pale map under paths (arena surfaces, loss-landscape slices): low = light, so coloured paths stand out.
MAP_COLORS = {"light": ARENA_COLORS,  # the headless pictures (adamlab landscape) use the same
              "dark": ("#202428", "#2E3A4E", "#4A5F82", "#7C93B8")}


def map_colormap(name: str | None = None) -> pg.ColorMap:
    """The pale map colour map of theme ``name`` (default: the current one)."""
    colors = MAP_COLORS[name or _current]
    return pg.ColorMap(np.linspace(0, 1, len(colors)), [pg.mkColor(c) for c in colors])


def background() -> str:
    return _BACKGROUND[_current]


def foreground() -> str:
    return _FOREGROUND[_current]


def legend_brush():
    """Legends sit on a translucent patch of the plot's own background: readable text, curves still visible."""
    c = pg.mkColor(background())
    c.setAlpha(200)
    return pg.mkBrush(c)


# --- one mechanism for every widget and plot -------------------------------------------------------------
# A theme switch re-colours, everywhere under the application's top-level windows:
#   * Qt widgets: the application palette (Fusion style); widgets with a style sheet are re-polished so they
#     take the new palette too (a style sheet freezes the palette a widget had when it was set);
#   * pyqtgraph: every view's background, every axis (lines, tick text, label), every plot title, every
#     legend (text and background patch);
#   * anything else a panel colours by theme — a contour pen, a colour map, a table cell's text — through
#     :func:`follow`, which applies the colouring now and again after every switch.
# So a new panel gets the theme for free as long as it leaves default colours alone, and uses ``follow`` for
# the colours it chooses.

_followers: list[tuple[weakref.ref, Callable[[Any], None]]] = []


def follow(obj, apply: Callable[[Any], None]):
    """Call ``apply(obj)`` now and after every theme switch, as long as ``obj`` lives; returns ``obj``.

    ``apply`` reads the current theme (``foreground()``, ``background()``, ``current()``…) and colours ``obj``;
    it must reach the panel only through ``obj`` (a closure over the panel would keep it alive)."""
    apply(obj)
    if len(_followers) > 64 and len(_followers) % 64 == 0:
        _prune()
    _followers.append((weakref.ref(obj), apply))
    return obj


def _alive(obj) -> bool:
    return obj is not None and (not isinstance(obj, Shiboken.Object) or shiboken6.isValid(obj))


def _prune() -> None:
    _followers[:] = [(ref, fn) for ref, fn in _followers if _alive(ref())]


def apply_theme(name: str, root: QWidget | None = None) -> None:
    """Switch the application palette and pyqtgraph's defaults, then re-colour what already exists (every
    top-level window, or only ``root``)."""
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
    elif app is not None:
        for w in app.topLevelWidgets():
            restyle(w, followers=False)
        _run_followers()


def restyle(root: QWidget, followers: bool = True) -> None:
    """Re-colour ``root`` and everything below it for the current theme (see the comment above)."""
    for w in [root, *root.findChildren(QWidget)]:
        sheet = w.styleSheet()
        if sheet:
            w.setStyleSheet(sheet)
    fg = _FOREGROUND[_current]
    views = root.findChildren(pg.GraphicsView)
    if isinstance(root, pg.GraphicsView):
        views.append(root)
    for view in views:
        view.setBackground(_BACKGROUND[_current])
        scene = view.scene()
        if scene is None:
            continue
        for item in scene.items():
            if isinstance(item, pg.AxisItem):
                restyle_axis(item)
            elif isinstance(item, pg.LegendItem):
                item.setLabelTextColor(fg)
                item.setBrush(legend_brush())
                for _, label in item.items:
                    label.setText(label.text, color=fg)
            elif isinstance(item, pg.LabelItem) and not isinstance(item.parentItem(), pg.ItemSample):
                item.setText(item.text, color=fg)
    if followers:
        _run_followers()


def restyle_axis(axis: pg.AxisItem) -> None:
    """An axis in the theme's foreground: its line, tick text and label (pyqtgraph re-renders the label)."""
    fg = _FOREGROUND[_current]
    axis.setPen(fg)
    axis.setTextPen(fg)


def _run_followers() -> None:
    _prune()
    for ref, fn in list(_followers):
        obj = ref()
        if obj is not None:
            fn(obj)


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
