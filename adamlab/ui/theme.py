"""Light and dark themes, presentation mode, and the colours, line widths and text sizes every panel draws with.

Curve colours come from the Okabe–Ito colour-blind-safe palette, chosen so each reads on both the light and
the dark plot background (the pure yellow is darkened a little for white backgrounds).
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Callable
from typing import Any

import numpy as np
import pyqtgraph as pg
import shiboken6
from shiboken6 import Shiboken

from adamlab.core.image import ARENA_COLORS
from PySide6.QtCore import QEvent
from PySide6.QtGui import QColor, QFont, QIcon, QPalette, QPixmap
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

# One colour per optimizer kind, for the whole app (the arena's paths, the monitor's runs): Adam is the same
# orange everywhere. Nineteen kinds cannot all be told apart by colour, least of all by a colour-blind reader, so
# the hue says the *family* and the shade the member:
#   * the family hues are four Okabe–Ito colours that stay apart under every common colour-vision deficiency:
#     blue–grey for gradient descent (step ∝ g), green for per-coordinate scaling without Adam's momentum,
#     orange–red for Adam and its repairs, purple–magenta for the 2023–24 newcomers;
#   * within a family the members differ in shade (the family's Okabe–Ito colour is its best-known member), and
#     where colour is not enough a panel adds a second channel by the member's place in its list (the arena's
#     markers: ● ■ ▲ ◆ ⬟ ⬢ ★), so two family members never look alike to anyone.
# Every colour contrasts at least 2.2 : 1 with both plot backgrounds (white and #1E1E1E; tests/ui/test_theme.py),
# so a curve keeps its colour through a theme switch.
OPTIMIZER_FAMILIES: dict[str, dict[str, str]] = {
    "gradient descent": {"sgd": "#7F7F7F", "momentum": "#0072B2", "nesterov": "#56B4E9"},
    "per-coordinate scaling": {"adagrad": "#117733", "rmsprop": "#009E73", "adadelta": "#44AA99",
                               "adafactor": "#8AB000"},
    "Adam and its repairs": {"adam": "#E69F00", "adamw": "#D55E00", "amsgrad": "#B07800", "nadam": "#F07850",
                             "radam": "#A0522D", "adamax": "#C8A000", "adopt": "#C03A2B"},
    "newcomers": {"lion": "#CC79A7", "ademamix": "#AA4499", "schedulefree_adamw": "#E7298A", "muon": "#7A5CC0",
                  "muon_adamw": "#9A80D8"},
}
OPTIMIZER_COLORS: dict[str, str] = {k: c for members in OPTIMIZER_FAMILIES.values() for k, c in members.items()}


def optimizer_color(kind: str) -> str:
    """The colour of optimizer ``kind`` (a key of ``adamlab.core.optim.OPTIMIZERS``), the same in every panel
    and both themes."""
    try:
        return OPTIMIZER_COLORS[kind]
    except KeyError:
        raise ValueError(f"optimizer kind must be one of {sorted(OPTIMIZER_COLORS)}, got {kind!r}") from None

_BACKGROUND = {"light": "#FFFFFF", "dark": "#1E1E1E"}
_FOREGROUND = {"light": "#202020", "dark": "#D8D8D8"}
# Presentation mode: the contrast a washed-out projector needs — pure black on white, white on black.
_PRESENT_BACKGROUND = {"light": "#FFFFFF", "dark": "#000000"}
_PRESENT_FOREGROUND = {"light": "#000000", "dark": "#FFFFFF"}

_current = "light"


def current() -> str:
    return _current


# --- presentation mode -----------------------------------------------------------------------------------
# For a lecture hall: the same window read from the back row of a projected 1024 × 768 or 1920 × 1080 screen.
# It is a property of the theme, not of any panel: text is FONT_SCALE times bigger (9 pt → 11.25 pt), lines
# LINE_SCALE times thicker and markers MARKER_SCALE times bigger, in every widget and plot. Panels ask for
# sizes through font_pt / px / line_width / marker_size (and the pen helper of adamlab.ui.widgets.plots);
# what already exists when the mode is toggled is rescaled in place by restyle() (pens, markers, tick and
# label fonts, titles, legends, style-sheet font sizes), so a panel gets it for free.
FONT_SCALE = 1.25
LINE_SCALE = 2.0
MARKER_SCALE = 1.5

_presentation = False
_base_font: QFont | None = None  # the application's own font, before presentation mode enlarged it
_line_scale_applied = 1.0  # the line scale existing pens were drawn with (see _rescale_items)
_marker_scale_applied = 1.0


def presentation() -> bool:
    """Whether presentation mode (big text, thick lines, high contrast) is on."""
    return _presentation


def font_scale() -> float:
    return FONT_SCALE if _presentation else 1.0


def font_pt(pt: float) -> float:
    """A font size of ``pt`` points in the normal mode, in the current mode."""
    return pt * font_scale()


def px(n: int) -> int:
    """A length of ``n`` pixels that holds text (a fixed column width, a box's height), in the current mode."""
    return round(n * font_scale())


def line_width(width: float) -> float:
    """A pen width of ``width`` pixels in the normal mode, in the current mode."""
    return width * (LINE_SCALE if _presentation else 1.0)


def marker_size(size: float) -> float:
    """A marker (symbol) size of ``size`` pixels in the normal mode, in the current mode."""
    return size * (MARKER_SCALE if _presentation else 1.0)


def sized(widget, **lengths: int):
    """Give ``widget`` lengths that hold text, in normal-mode pixels, now and after every mode switch:
    ``sized(w, setFixedWidth=320)`` calls ``w.setFixedWidth(px(320))``; returns ``widget``."""
    return follow(widget, lambda w: [getattr(w, setter)(px(n)) for setter, n in lengths.items()])


def base_font() -> QFont:
    """The application's font in the normal mode (presentation mode shows it FONT_SCALE times bigger)."""
    app = QApplication.instance()
    return QFont(_base_font if _base_font is not None else app.font() if app is not None else QFont())


def scaled_font(font: QFont | None = None, pt: float | None = None) -> QFont:
    """``font`` (default: the application's) at ``pt`` points (default: its own size) in the current mode."""
    f = QFont(font if font is not None else base_font())
    f.setPointSizeF(font_pt(pt if pt is not None else f.pointSizeF()))
    return f


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
    return (_PRESENT_BACKGROUND if _presentation else _BACKGROUND)[_current]


def foreground() -> str:
    return (_PRESENT_FOREGROUND if _presentation else _FOREGROUND)[_current]


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


def apply_theme(name: str, root: QWidget | None = None, presentation: bool | None = None) -> None:
    """Switch the application palette, font and pyqtgraph's defaults, then re-colour and resize what already
    exists (every top-level window, or only ``root``). ``presentation``: turn presentation mode on or off
    (None keeps it as it is)."""
    global _current, _presentation, _base_font
    if name not in THEMES:
        raise ValueError(f"theme must be one of {THEMES}, got {name!r}")
    _current = name
    if presentation is not None:
        _presentation = bool(presentation)
    app = QApplication.instance()
    if app is not None:
        if _base_font is None:
            _base_font = QFont(app.font())
        app.setStyle("Fusion")
        app.setPalette(_palette(name))
        if app.font() != scaled_font():
            app.setFont(scaled_font())
            # Qt posts the change to every widget: deliver it now, so what is measured below (and by the
            # followers) is measured in the new font
            QApplication.sendPostedEvents(None, QEvent.Type.ApplicationFontChange)
    pg.setConfigOptions(background=background(), foreground=foreground(), antialias=False)
    if root is not None:
        restyle(root)
    elif app is not None:
        for w in app.topLevelWidgets():
            restyle(w, followers=False)
        _mark_rescaled()
        _run_followers()


def restyle(root: QWidget, followers: bool = True) -> None:
    """Re-colour ``root`` and everything below it for the current theme, and resize its text, lines and
    markers for the current mode (see the comments above)."""
    for w in [root, *root.findChildren(QWidget)]:
        sheet = w.styleSheet()
        if sheet:
            w.setStyleSheet(_scaled_sheet(w, sheet))
    fg = foreground()
    views = root.findChildren(pg.GraphicsView)
    if isinstance(root, pg.GraphicsView):
        views.append(root)
    for view in views:
        view.setBackground(background())
        scene = view.scene()
        if scene is None:
            continue
        items = scene.items()
        _rescale_items(items)
        for item in items:
            if isinstance(item, pg.AxisItem):
                restyle_axis(item)
            elif isinstance(item, pg.LegendItem):
                item.setLabelTextColor(fg)
                item.setBrush(legend_brush())
                item.setLabelTextSize(_scaled_css_size(item, item.opts.get("labelTextSize")))
                for _, label in item.items:
                    label.setText(label.text, color=fg)
                item.updateSize()
            elif isinstance(item, pg.LabelItem) and not isinstance(item.parentItem(), pg.ItemSample):
                if getattr(item.parentItem(), "full_title", None) is None:  # set_title's follower sizes those
                    item.opts["size"] = _scaled_css_size(item, item.opts.get("size"))
                item.setText(item.text, color=fg)
            elif isinstance(item, pg.TextItem):
                _scale_text_item(item)
    if followers:
        _mark_rescaled()
        _run_followers()


def restyle_axis(axis: pg.AxisItem) -> None:
    """An axis in the theme's foreground and the mode's text size: its line, tick text and label (pyqtgraph
    re-renders the label)."""
    fg = foreground()
    axis.setPen(fg)
    axis.setTextPen(fg)
    font = scaled_font()
    if axis.style.get("tickFont") != font:
        axis.setStyle(tickFont=font)
        axis.label.setFont(font)  # the axis title; pyqtgraph has no public call that re-lays it out without
        axis._updateLabel()  # also showing a hidden label (setLabel shows it)
        axis.resizeEvent()


# --- resizing what exists (presentation mode toggled) ------------------------------------------------------
# Pens and markers are scaled by the ratio of the new scale to the one they were drawn with: a pen made
# through line_width() before the toggle has the old scale in it. Font sizes given as text ("9pt" in a style
# sheet, a legend, a title) are remembered per object with the size this module set, so a size the panel sets
# afterwards is taken as its new normal-mode size.

_PT = re.compile(r"(\d+(?:\.\d+)?)pt")


def _mark_rescaled() -> None:
    global _line_scale_applied, _marker_scale_applied
    _line_scale_applied = line_width(1.0)
    _marker_scale_applied = marker_size(1.0)


def _scaled_sheet(w: QWidget, sheet: str) -> str:
    if w.property("adamlab_sized"):  # sized by the widget's own follower
        return sheet
    base, shown = w.property("adamlab_sheet") or (None, None)
    if sheet != shown:  # set by the panel since: its sizes are normal-mode sizes
        base = sheet
    scaled = _PT.sub(lambda m: f"{round(font_pt(float(m.group(1))), 3):g}pt", base)
    w.setProperty("adamlab_sheet", (base, scaled))
    return scaled


def css_size(obj, size: str | None) -> str | None:
    """``size`` ("9pt", a normal-mode size; None: the application font's) of ``obj`` (a legend, a LabelItem)
    in the current mode, remembered so that a later mode switch rescales it from ``size``."""
    pt = float(size[:-2]) if size and size.endswith("pt") else base_font().pointSizeF() if size is None else None
    scaled = size if pt is None or (size is None and not _presentation) else f"{round(font_pt(pt), 3):g}pt"
    obj._adamlab_size = (size, scaled)
    return scaled


def _scaled_css_size(obj, size: str | None) -> str | None:
    """``obj``'s size ``size`` for the current mode: from its remembered normal-mode size if ``size`` is the
    one this module set, else ``size`` is the panel's new normal-mode size."""
    base, shown = getattr(obj, "_adamlab_size", (None, None))
    return css_size(obj, base if size == shown else size)


def _scale_text_item(item: pg.TextItem) -> None:
    font = item.textItem.font()
    base, shown = getattr(item, "_adamlab_pt", (None, None))
    if font.pointSizeF() != shown:
        base = font.pointSizeF()
    item._adamlab_pt = (base, font_pt(base))
    font.setPointSizeF(font_pt(base))
    item.setFont(font)


class _Ratio:
    """new / old, applied as ``v * new / old`` so that a toggle there and back gives the exact value again."""

    def __init__(self, new: float, old: float):
        self.new, self.old = new, old

    def __call__(self, v):
        return v * self.new / self.old


def _scaled_pen(pen, ratio: _Ratio):
    if pen is None or not hasattr(pen, "widthF"):
        return pen
    out = pg.mkPen(pen)
    out.setWidthF(ratio(max(pen.widthF(), 1.0)))  # width 0 is a 1-px cosmetic pen
    return out


def _rescale_items(items) -> None:
    """Pens and marker sizes of the plot items in ``items`` for the current mode (see the comment above)."""
    lines, marks = _Ratio(line_width(1.0), _line_scale_applied), _Ratio(marker_size(1.0), _marker_scale_applied)
    if lines.new == lines.old and marks.new == marks.old:
        return
    for item in items:
        if isinstance(item.parentItem(), pg.PlotDataItem):  # drawn from its PlotDataItem's options
            continue
        if isinstance(item, pg.PlotDataItem):
            o = item.opts
            if o.get("pen") is not None:
                item.setPen(_scaled_pen(pg.mkPen(o["pen"]), lines))
            if o.get("shadowPen") is not None:
                item.setShadowPen(_scaled_pen(pg.mkPen(o["shadowPen"]), lines))
            if o.get("symbol") is not None:
                item.setSymbolSize(marks(np.asarray(o["symbolSize"])) if np.ndim(o["symbolSize"]) else
                                   marks(o["symbolSize"]))
        elif isinstance(item, pg.PlotCurveItem):
            item.setPen(_scaled_pen(pg.mkPen(item.opts["pen"]), lines))
        elif isinstance(item, pg.ScatterPlotItem):
            _rescale_scatter(item, lines, marks)
        elif isinstance(item, (pg.InfiniteLine, pg.IsocurveItem, pg.TargetItem)):
            item.setPen(_scaled_pen(item.pen, lines))


def _rescale_scatter(item: pg.ScatterPlotItem, lines: _Ratio, marks: _Ratio) -> None:
    data = item.data
    if item.opts.get("pxMode", True):  # sizes in pixels (not in data units, like the arena's swarm squares)
        item.opts["size"] = marks(item.opts["size"])
        own = data["size"] > 0
        data["size"][own] = marks(data["size"][own])
    item.opts["pen"] = _scaled_pen(item.opts["pen"], lines)
    for i, p in enumerate(data["pen"]):
        data["pen"][i] = _scaled_pen(p, lines)
    item._spotPixmap = None
    data["sourceRect"] = 0
    item.updateSpots(data)


def _run_followers() -> None:
    _prune()
    for ref, fn in list(_followers):
        obj = ref()
        if obj is not None:
            fn(obj)


def _palette(name: str) -> QPalette:
    if name == "light":
        p = QApplication.style().standardPalette() if QApplication.instance() else QPalette()
        if _presentation:  # black text, for the contrast a projector washes out
            for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
                p.setColor(QPalette.ColorGroup.Active, role, QColor("#000000"))
                p.setColor(QPalette.ColorGroup.Inactive, role, QColor("#000000"))
        return p
    p = QPalette()
    base, window, text = QColor("#232323"), QColor("#2D2D2D"), QColor("#E0E0E0")
    if _presentation:  # white on near-black
        base, window, text = QColor("#000000"), QColor("#161616"), QColor("#FFFFFF")
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
