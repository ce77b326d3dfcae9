"""The arena's Optimizers tab (``RacerList``): which optimizers race, their names, colours and hyperparameters.

Each entry is a plain dict {uid, name, kind, enabled, color} with a hyperparameter editor
(``widgets.hyper.OptimizerEditor``) beside it. The uid stays with the entry for its life: results and plot
items are keyed by it, so renaming or reordering never mixes two optimizers up. Names are unique ("Adam (2)"
for a duplicate), and a kind has the same colour in every scene (``presets.KIND_COLOR``) unless it is
taken, so two Adams differ.

``changed`` fires on anything a race depends on (a tick, an edit, an optimizer added or removed);
``namesChanged`` fires just before it when the names or the ticks changed, so the pickers that list the
optimizers (the overlay's and the swarm's) are up to date when the race is recomputed.
"""

from __future__ import annotations

from PySide6.QtCore import QSignalBlocker, Qt, Signal, Slot
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

from adamlab.core.optim import optimizer_label
from adamlab.ui import theme
from adamlab.ui.panels.surface.presets import KIND_COLOR, KINDS
from adamlab.ui.widgets.hyper import KIND_KNOBS, OptimizerEditor


class RacerList(QWidget):
    """The list of optimizers (tick to race, select to edit), Add ▾ / Duplicate / Remove, and the selected
    one's editor. A tab page of the control column."""

    changed = Signal()  # something a race depends on changed: recompute
    namesChanged = Signal()  # the names or the ticks changed (emitted before ``changed``)

    def __init__(self) -> None:
        super().__init__()
        self._next_uid = 1
        self.entries: list[dict] = []  # {uid, name, kind, enabled, color}, in list order
        self.editors: dict[int, OptimizerEditor] = {}  # uid → its editor

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
        menu = QMenu(self.add_button)
        for kind in KINDS:
            menu.addAction(optimizer_label(kind), lambda k=kind: self.add_optimizer(k))
        self.add_button.setMenu(menu)
        self.dup_button = QPushButton("Duplicate")
        self.dup_button.setToolTip("Copy the selected optimizer to compare two settings of it (e.g. β1 0.9 vs 0.85)")
        self.dup_button.clicked.connect(self._duplicate_selected)
        self.remove_button = QPushButton("Remove")
        self.remove_button.setToolTip("Remove the selected optimizer from the list")
        self.remove_button.clicked.connect(self._remove_selected)
        self.editor_title = QLabel("")
        self.editor_stack = QStackedWidget()

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
        lay.addStretch(1)

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

    def color(self, uid: int) -> str:
        """The colour of the optimizer ``uid`` (the first cycle colour if it is gone)."""
        return next((e["color"] for e in self.entries if e["uid"] == uid), theme.CYCLE[0])

    def optimizer_row(self, name: str) -> int:
        """Row of the optimizer called ``name`` in the list (tests, presets)."""
        return next(i for i, e in enumerate(self.entries) if e["name"] == name)

    def editor(self, name: str) -> OptimizerEditor:
        return self.editors[self.entries[self.optimizer_row(name)]["uid"]]

    # ------------------------------------------------------------------------------------------------------
    # changing the list

    def add_optimizer(self, kind: str, values: dict | None = None, enabled: bool = True,
                      name: str | None = None) -> int:
        """Append an optimizer to the list (editor values as in OptimizerEditor); returns its uid."""
        if kind not in KIND_KNOBS:
            raise ValueError(f"optimizer kind must be one of {sorted(KIND_KNOBS)}, got {kind!r}")
        uid = self._next_uid
        self._next_uid += 1
        # The editor first: bad values (e.g. from stale settings) raise here, before anything is added.
        editor = OptimizerEditor(kind, values)
        entry = {"uid": uid, "kind": kind, "name": self._unique_name(name or optimizer_label(kind)),
                 "enabled": bool(enabled), "color": self._color_of(kind)}
        self.entries.append(entry)
        editor.changed.connect(self.changed)
        self.editors[uid] = editor
        self.editor_stack.addWidget(editor)
        item = QListWidgetItem(theme.swatch(entry["color"], 14), entry["name"])
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

    def load(self, opts) -> None:
        """Replace the list with saved entries ({kind, name, enabled, values}), if any of them is usable.

        Unknown kinds are skipped, and so is an entry whose values its editor refuses (whole: never a
        half-added optimizer without an editor). Emits ``changed`` per entry (the caller may ignore them).
        """
        if not (isinstance(opts, list) and any(isinstance(o, dict) and o.get("kind") in KIND_KNOBS for o in opts)):
            return
        self._clear()
        for o in opts:
            if isinstance(o, dict) and o.get("kind") in KIND_KNOBS:
                values = o.get("values") if isinstance(o.get("values"), dict) else {}
                try:
                    self.add_optimizer(o["kind"], values, bool(o.get("enabled", True)),
                                       o.get("name") if isinstance(o.get("name"), str) else None)
                except (TypeError, ValueError, OverflowError):
                    continue
        self.opt_list.setCurrentRow(0)

    def _color_of(self, kind: str) -> str:
        used = {e["color"] for e in self.entries}
        preferred = theme.cycle_color(KIND_COLOR.get(kind, 0))
        if preferred not in used:
            return preferred
        cycle = [theme.cycle_color(i) for i in range(len(theme.CYCLE))]
        for c in ["#CC79A7", "#E7298A", "#56B4E9", "#A08A00", *cycle]:
            if c not in used:
                return c
        return preferred

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
            return
        e = self.entries[row]
        self.editor_stack.setCurrentWidget(self.editors[e["uid"]])
        self.editor_title.setText(f"<b>{e['name']}</b> hyperparameters")

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
