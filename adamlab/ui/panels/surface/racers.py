"""The arena's Racers tab (``RacerList``): which optimizers race, their names, looks and hyperparameters.

Each entry is a plain dict {uid, name, kind, enabled, color, dash, symbol} with a hyperparameter editor
(``widgets.hyper.OptimizerEditor``) and, under it, the kind's one-paragraph description from the core registry.
The uid stays with the entry for its life: results and plot items are keyed by it, so renaming or reordering
never mixes two optimizers up. Names are unique ("Adam (2)" for a duplicate).

Looks: the colour is the kind's, the same in every panel (``theme.optimizer_color``: the hue says the family,
the shade the member); the marker is the member's place in its family (``SYMBOLS``), a second channel for
readers who cannot tell the shades apart; a duplicate of a kind already in the list is drawn dashed (then
dotted, …), so "Adam" and "Adam (2)" keep Adam's colour and still differ.

Every kind of ``core.optim.OPTIMIZERS`` defined on a 2-D point races here (``ARENA_KINDS``): all but Muon and
Muon + AdamW, which orthogonalise matrices — on a single vector Muon would be plain normalised momentum. The
Add menu lists them by family and says so for Muon.

``changed`` fires on anything a race depends on (a tick, an edit, an optimizer added or removed);
``namesChanged`` fires just before it when the names or the ticks changed, so the pickers that list the
optimizers (the overlay's and the swarm's) are up to date when the race is recomputed.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QSignalBlocker, Qt, Signal, Slot
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap, QPolygonF
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QPushButton,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from adamlab.core.optim import OPTIMIZERS, Muon, MuonAdamW, optimizer_label
from adamlab.ui import theme
from adamlab.ui.schema import MISSING, Bool, Fields, Schema, Text
from adamlab.ui.widgets import symbols
from adamlab.ui.widgets.hyper import OptimizerEditor, knob_schema

# the kinds that race on a point, in family order (theme.OPTIMIZER_FAMILIES)
FAMILIES = {family: [k for k in members if OPTIMIZERS[k].cls not in (Muon, MuonAdamW)]
            for family, members in theme.OPTIMIZER_FAMILIES.items()}
ARENA_KINDS = [k for members in FAMILIES.values() for k in members]
NOT_ON_A_POINT = ("Muon orthogonalises a weight matrix's momentum (Newton–Schulz): every direction of the matrix "
                  "steps alike. A 2-D point is a vector, where that is only normalised momentum, so Muon races on "
                  "the GPT (monitor panel), not here.")

# a member's marker: its place in its family (pyqtgraph symbol, the same shape in text)
SYMBOLS = [("o", "●"), ("s", "■"), ("t1", "▲"), ("d", "◆"), ("p", "⬟"), ("h", "⬢"), ("star", "★")]
# a duplicate's line: solid for the first of a kind, then dashed, dotted, dash-dotted (pen style, text)
DASHES = [(Qt.PenStyle.SolidLine, "━━"), (Qt.PenStyle.DashLine, "╍╍"), (Qt.PenStyle.DotLine, "┅┅"),
          (Qt.PenStyle.DashDotLine, "━╍")]


def kind_symbol(kind: str) -> int:
    """Index into SYMBOLS of ``kind``: its place in its family."""
    for members in theme.OPTIMIZER_FAMILIES.values():
        if kind in members:
            return list(members).index(kind) % len(SYMBOLS)
    return 0


def racer_icon(color: str, dash: int, symbol: int, size: int = 16) -> QIcon:
    """The key of one racer as a small picture: its line (with its dash) and its marker."""
    pm = QPixmap(2 * size, size)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    pen = p.pen()
    pen.setColor(QColor(color))
    pen.setWidth(2)
    pen.setStyle(DASHES[dash % len(DASHES)][0])
    p.setPen(pen)
    p.drawLine(1, size // 2, 2 * size - 1, size // 2)
    p.setPen(Qt.PenStyle.NoPen)
    p.setBrush(QColor(color))
    c, r = QPointF(size, size / 2), size * 0.3
    shape = SYMBOLS[symbol % len(SYMBOLS)][0]
    if shape == "s":
        p.drawRect(int(c.x() - r), int(c.y() - r), int(2 * r), int(2 * r))
    elif shape in ("t1", "d", "p", "h", "star"):
        n = {"t1": 3, "d": 4, "p": 5, "h": 6, "star": 10}[shape]
        pts = []
        for i in range(n):
            a = -math.pi / 2 + 2 * math.pi * i / n
            rr = r * (0.45 if shape == "star" and i % 2 else 1.15 if shape != "d" else 1.2)
            pts.append(QPointF(c.x() + rr * math.cos(a), c.y() + rr * math.sin(a)))
        p.drawPolygon(QPolygonF(pts))
    else:
        p.drawEllipse(c, r, r)
    p.end()
    return QIcon(pm)


def key_html(name: str, color: str, dash: int, symbol: int) -> str:
    """One racer's entry in a key: its line and marker in its colour, then its name (unbreakable)."""
    line, mark = DASHES[dash % len(DASHES)][1], SYMBOLS[symbol % len(SYMBOLS)][1]
    return f"<span style='color:{color}'>{line[0]}{mark}{line[1]}</span>&nbsp;{name.replace(' ', '&nbsp;')}"


class RacerSchema(Schema):
    """One saved racer {kind, name, enabled, values}: a kind that races here, and the values its editor takes
    (each knob in its KNOBS range, flags true or false; knobs of other kinds are reported)."""

    def check(self, value, path):
        if not isinstance(value, dict):
            return MISSING, [f"{path}: not a set of fields"]
        kind = value.get("kind")
        if kind not in ARENA_KINDS:
            return MISSING, [f"{path}.kind: {kind!r} is not one of the arena's optimizers"]
        fields = Fields({"kind": Text(40), "name": Text(80), "enabled": Bool(), "values": knob_schema(kind)})
        name = value.get("name")
        clean, problems = fields.check({k: v for k, v in value.items() if not (k == "name" and name is None)}, path)
        return (MISSING if clean is MISSING else clean), problems


class RacerList(QWidget):
    """The list of optimizers (tick to race, select to edit), Add ▾ / Duplicate / Remove, and the selected
    one's editor and description. A tab page of the control column."""

    changed = Signal()  # something a race depends on changed: recompute
    namesChanged = Signal()  # the names or the ticks changed (emitted before ``changed``)
    clamped = Signal(str)  # an editor set a typed value to its range's limit: the message

    def __init__(self) -> None:
        super().__init__()
        self._next_uid = 1
        self.entries: list[dict] = []  # {uid, name, kind, enabled, color, dash, symbol}, in list order
        self.editors: dict[int, OptimizerEditor] = {}  # uid → its editor
        self.tuned: dict[int, dict] = {}  # uid → the editor values a Tune gave it (while they are unchanged)

        self.opt_list = QListWidget()
        self.opt_list.setToolTip("Tick to race an optimizer; select one to edit its hyperparameters")
        self.opt_list.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.opt_list.itemChanged.connect(self._on_item_changed)
        self.opt_list.currentRowChanged.connect(self._on_opt_selected)
        self.opt_list.setMaximumHeight(150)
        self.add_button = QToolButton()
        self.add_button.setText("Add ▾")
        self.add_button.setToolTip("Add another optimizer to the race")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.add_button.setMenu(self._add_menu())
        self.dup_button = QPushButton("Duplicate")
        self.dup_button.setToolTip("Copy the selected optimizer to compare two settings of it (e.g. β1 0.9 vs 0.85); "
                                   "the copy is drawn dashed in the same colour")
        self.dup_button.clicked.connect(self._duplicate_selected)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the selected optimizer from the list")
        self.remove_button.clicked.connect(self._remove_selected)
        self.editor_title = QLabel("")
        self.editor_title.setWordWrap(True)
        self.editor_stack = QStackedWidget()
        self.description = QLabel("")
        self.description.setObjectName("optimizerDescription")
        self.description.setWordWrap(True)
        self.description.setMinimumWidth(60)
        self.description.setToolTip("What this optimizer changes relative to Adam (adamlab.core.optim.OPTIMIZERS)")

        # laid out like the control column's other tab pages (controls.page)
        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.setSpacing(4)
        for w in (self.add_button, self.dup_button, self.remove_button):
            buttons.addWidget(w)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(2, 4, 2, 2)
        lay.setSpacing(4)
        lay.addWidget(self.opt_list)
        lay.addLayout(buttons)
        lay.addWidget(self.editor_title)
        lay.addWidget(self.editor_stack)
        lay.addWidget(self.description)
        lay.addStretch(1)

    def _add_menu(self) -> QMenu:
        """Add ▾: the kinds by family, each with its description as the tooltip; Muon greyed, with why."""
        menu = QMenu(self.add_button)
        menu.setToolTipsVisible(True)
        for family, kinds in FAMILIES.items():
            menu.addSection(family[0].upper() + family[1:])
            for kind in kinds:
                action = menu.addAction(racer_icon(theme.optimizer_color(kind), 0, kind_symbol(kind)),
                                        optimizer_label(kind), lambda k=kind: self.add_optimizer(k))
                action.setToolTip(symbols.plain(OPTIMIZERS[kind].description))
        muon = menu.addAction("Muon (matrices only)")
        muon.setEnabled(False)
        muon.setToolTip(NOT_ON_A_POINT)
        return menu

    # ------------------------------------------------------------------------------------------------------
    # what the rest of the arena reads

    def specs(self) -> list[dict]:
        """Every optimizer as the race wants it: {uid, name, kind, enabled, hyper} (hyper: the core's kwargs)."""
        return [{"uid": e["uid"], "name": e["name"], "kind": e["kind"], "enabled": e["enabled"],
                 "hyper": self.editors[e["uid"]].hyper()} for e in self.entries]

    def state(self) -> list[dict]:
        """Every optimizer as the saved settings keep it: {kind, name, enabled, values} (editor values)."""
        return [{"kind": e["kind"], "name": e["name"], "enabled": e["enabled"],
                 "values": self.editors[e["uid"]].values()} for e in self.entries]

    def style(self, uid: int) -> tuple[str, int, int]:
        """(colour, dash index, symbol index) of the optimizer ``uid`` (SGD's if it is gone)."""
        e = next((e for e in self.entries if e["uid"] == uid), None)
        return (e["color"], e["dash"], e["symbol"]) if e else (theme.optimizer_color("sgd"), 0, 0)

    def optimizer_row(self, name: str) -> int:
        """Row of the optimizer called ``name`` in the list (tests, presets)."""
        return next(i for i, e in enumerate(self.entries) if e["name"] == name)

    def editor(self, name: str) -> OptimizerEditor:
        return self.editors[self.entries[self.optimizer_row(name)]["uid"]]

    # ------------------------------------------------------------------------------------------------------
    # tuning

    def apply_tuned(self, uid: int, hyper: dict) -> None:
        """Put a Tune's best hyperparameters into ``uid``'s editor (one ``changed`` for the lot) and remember
        them, so the editor can say they are tuned until someone changes them."""
        editor = self.editors.get(uid)
        if editor is None:
            return
        with QSignalBlocker(editor):
            editor.set_values(hyper)
        self.tuned[uid] = editor.values()
        self._show_title()

    def tuned_values(self, uid: int) -> dict | None:
        """The tuned values of ``uid`` while its editor still holds them, else None."""
        t = self.tuned.get(uid)
        if t is not None and uid in self.editors and self.editors[uid].values() != t:
            del self.tuned[uid]
            t = None
        return t

    def forget_tuning(self) -> None:
        self.tuned.clear()
        self._show_title()

    # ------------------------------------------------------------------------------------------------------
    # changing the list

    def add_optimizer(self, kind: str, values: dict | None = None, enabled: bool = True,
                      name: str | None = None) -> int:
        """Append an optimizer to the list (editor values as in OptimizerEditor); returns its uid."""
        if kind not in ARENA_KINDS:
            raise ValueError(f"optimizer kind must be one of {ARENA_KINDS}, got {kind!r}")
        uid = self._next_uid
        self._next_uid += 1
        # The editor first: bad values (e.g. from stale settings) raise here, before anything is added.
        editor = OptimizerEditor(kind, values)
        dash = sum(e["kind"] == kind for e in self.entries)
        entry = {"uid": uid, "kind": kind, "name": self._unique_name(name or optimizer_label(kind)),
                 "enabled": bool(enabled), "color": theme.optimizer_color(kind), "dash": dash,
                 "symbol": kind_symbol(kind)}
        self.entries.append(entry)
        editor.changed.connect(self._on_edited)
        editor.clamped.connect(self.clamped)
        self.editors[uid] = editor
        self.editor_stack.addWidget(editor)
        item = QListWidgetItem(racer_icon(entry["color"], dash, entry["symbol"]), entry["name"])
        item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
        item.setData(Qt.ItemDataRole.UserRole, uid)
        with QSignalBlocker(self.opt_list):
            item.setCheckState(Qt.CheckState.Checked if enabled else Qt.CheckState.Unchecked)
            self.opt_list.addItem(item)
        self.namesChanged.emit()
        if self.opt_list.currentRow() < 0:
            self.opt_list.setCurrentRow(0)
        self.changed.emit()
        return uid

    def set_enabled(self, name: str, enabled: bool) -> None:
        """Tick or untick an optimizer as a user would."""
        self.opt_list.item(self.optimizer_row(name)).setCheckState(
            Qt.CheckState.Checked if enabled else Qt.CheckState.Unchecked)

    MAX_ENTRIES = 24  # a saved list longer than this is cut (the race would be unreadable anyway)

    def load(self, opts) -> None:
        """Replace the list with saved entries ({kind, name, enabled, values}), if any of them is usable.

        Unknown kinds are skipped, and so is an entry whose values its editor refuses (whole: never a
        half-added optimizer without an editor). Emits ``changed`` per entry (the caller may ignore them).
        """
        if not (isinstance(opts, list) and any(isinstance(o, dict) and o.get("kind") in ARENA_KINDS for o in opts)):
            return
        self._clear()
        for o in opts:
            if len(self.entries) >= self.MAX_ENTRIES:
                break
            if isinstance(o, dict) and o.get("kind") in ARENA_KINDS:
                values = o.get("values") if isinstance(o.get("values"), dict) else {}
                try:
                    self.add_optimizer(o["kind"], values, bool(o.get("enabled", True)),
                                       o.get("name") if isinstance(o.get("name"), str) else None)
                except (TypeError, ValueError, OverflowError):
                    continue
        self.opt_list.setCurrentRow(0)

    def _unique_name(self, base: str) -> str:
        names = {e["name"] for e in self.entries}
        if base not in names:
            return base
        i = 2
        while f"{base} ({i})" in names:
            i += 1
        return f"{base} ({i})"

    def _entry(self, uid: int) -> dict:
        return next(e for e in self.entries if e["uid"] == uid)

    def _selected_uid(self) -> int | None:
        item = self.opt_list.currentItem()
        return None if item is None else item.data(Qt.ItemDataRole.UserRole)

    @Slot()
    def _on_edited(self, *_) -> None:
        self._show_title()
        self.changed.emit()

    @Slot(QListWidgetItem)
    def _on_item_changed(self, item: QListWidgetItem) -> None:
        uid = item.data(Qt.ItemDataRole.UserRole)
        self._entry(uid)["enabled"] = item.checkState() == Qt.CheckState.Checked
        self.namesChanged.emit()
        self.changed.emit()

    @Slot(int)
    def _on_opt_selected(self, row: int) -> None:
        if row < 0:
            self.editor_title.setText("")
            self.description.setText("")
            return
        e = self.entries[row]
        self.editor_stack.setCurrentWidget(self.editors[e["uid"]])
        self.description.setText(symbols.rich_from_plain(OPTIMIZERS[e["kind"]].description))
        self._show_title()

    def _show_title(self) -> None:
        """The selected optimizer's name over its editor, and whether a Tune set its values."""
        uid = self._selected_uid()
        if uid is None or uid not in self.editors:
            return
        e = self._entry(uid)
        tuned = self.tuned_values(uid)
        note = ""
        if tuned is not None:
            note = f" <span style='color:{theme.COLORS['second']}'>✓ tuned: lr = {tuned['lr']:g}</span>"
        self.editor_title.setText(f"<b>{e['name']}</b> hyperparameters{note}")

    def _duplicate_selected(self) -> None:
        uid = self._selected_uid()
        if uid is None:
            return
        e = self._entry(uid)
        self.add_optimizer(e["kind"], self.editors[uid].values(), True, e["name"].split(" (")[0])
        self.opt_list.setCurrentRow(self.opt_list.count() - 1)

    def _remove_selected(self) -> None:
        row = self.opt_list.currentRow()
        if row < 0:
            return
        e = self.entries.pop(row)
        self.tuned.pop(e["uid"], None)
        self.opt_list.takeItem(row)
        editor = self.editors.pop(e["uid"])
        self.editor_stack.removeWidget(editor)
        editor.deleteLater()
        self.namesChanged.emit()
        self.changed.emit()

    def _clear(self) -> None:
        with QSignalBlocker(self.opt_list):
            self.opt_list.clear()
        for editor in self.editors.values():
            self.editor_stack.removeWidget(editor)
            editor.deleteLater()
        self.entries.clear()
        self.editors.clear()
        self.tuned.clear()
