"""Undo and redo of control changes, for every panel, from one idea: snapshot the panel's state around a gesture.

A panel already says everything its controls hold in ``get_state()`` and puts it back with ``set_state()`` (the
saved settings and scenario files use the same pair). So undo needs nothing panel-specific:

* ``PanelUndo`` keeps, per panel, the last state it saw and a ``QUndoStack`` (the window's ``QUndoGroup`` makes
  the shown panel's stack the active one).
* The window tells it when a user gesture begins (mouse or key press) and ends (release, wheel). When a gesture
  ends — after ``SETTLE_MS``, so the steps of a slider's keys or a wheel's notches are one gesture — the panel's
  state is compared with the last one; if a setting changed, one ``StateCommand(before, after)`` is pushed. A
  slider dragged through 200 values, or the arena's start point dragged across the map, is therefore ONE
  command: only its end points are kept. A gesture that begins commits what is pending first, so Ctrl+Z right
  after a drag undoes that drag, and a change the panel made by itself (a Tune's results arriving) becomes its
  own step instead of being folded into the next one.
* Undo and redo call ``set_state`` with the stored snapshot (exact values; the panel redraws as for any change)
  with ``applying`` set, so applying a command never pushes a new one.
* Fields listed in the panel's ``UNDO_IGNORES`` (the 3-D camera, the stepper's position) are not compared:
  moving them is not an edit, though a snapshot still restores them.

``describe(before, after)`` names the command after what changed: "β₂ change", "Adam lr change", "start point
change", "3 settings change".
"""

from __future__ import annotations

import copy
from typing import Any

from PySide6.QtCore import QObject, QTimer
from PySide6.QtGui import QUndoCommand, QUndoStack

SETTLE_MS = 400  # a gesture's end: no input for this long (key repeats and wheel notches are one gesture)

# names of state fields as the controls label them
LABELS = {
    "beta1": "β₁", "beta2": "β₂", "beta3": "β₃", "eps": "ε", "eps2": "ε₂", "momentum": "μ",
    "weight_decay": "weight decay", "lr": "lr", "theta0": "θ₀", "start": "start point", "sigma": "σ",
    "noise": "noise σ", "condition": "κ",
    "angle": "angle", "steps": "steps", "seed": "seed", "schedule": "schedule", "tol": "tolerance",
    "surface": "surface", "preset": "scenario", "optimizers": "racers", "kind": "optimizer", "enabled": "racing",
    "mix_alpha": "α", "rho": "ρ", "alpha": "α", "problem": "problem", "speed": "speed", "length": "length",
    "custom": "custom sequence", "mean": "mean", "smoothing": "smoothing", "instant": "instant",
}


def _leaves(a: Any, b: Any, path: tuple = ()) -> list[tuple]:
    """The paths (tuples of keys and indices) where ``a`` and ``b`` differ, down to the first list or dict
    whose shape differs."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in list(a) + [k for k in b if k not in a]:
            if a.get(k, _MISSING) != b.get(k, _MISSING):
                out += _leaves(a.get(k), b.get(k), path + (k,))
        return out
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)) and len(a) == len(b) and path[-1:] != ("start",):
        out = []
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                out += _leaves(x, y, path + (i,))
        return out
    return [path]


_MISSING = object()


def _label(path: tuple, state: dict) -> str:
    """A changed field's name as a person reads it: the knob's label, prefixed by whose knob it is."""
    keys = [k for k in path if isinstance(k, str) and k != "values"]
    name = LABELS.get(keys[-1], keys[-1].replace("_", " ")) if keys else "setting"
    owner = ""
    if len(path) >= 2 and path[0] == "optimizers" and isinstance(path[1], int):  # the arena's racers
        try:
            entry = state["optimizers"][path[1]]
            owner = entry.get("name") or _kind_label(entry.get("kind", ""))
        except (KeyError, IndexError, TypeError, AttributeError):
            owner = ""
    elif path and path[0] in ("A", "B") and len(path) > 1:  # the stepper's runs
        owner = f"{path[0]}:"
    return f"{owner} {name}".strip()


def _kind_label(kind: str) -> str:
    from adamlab.core.optim import optimizer_label

    try:
        return optimizer_label(kind)
    except (KeyError, ValueError):
        return kind


def describe(before: dict, after: dict, ignore: tuple[str, ...] = ()) -> str:
    """The command's text: what changed between two states ("β₂ change", "Adam lr change")."""
    paths = [p for p in _leaves(before, after) if not (p and p[0] in ignore)]
    labels = list(dict.fromkeys(_label(p, after) for p in paths))
    if not labels:
        return "change"
    if len(labels) <= 2:
        return f"{', '.join(labels)} change"
    return f"{len(labels)} settings change"


def settings_of(state: dict, ignore: tuple[str, ...]) -> dict:
    return {k: v for k, v in state.items() if k not in ignore}


class StateCommand(QUndoCommand):
    """One undoable step: the panel's state before and after it."""

    def __init__(self, undo: PanelUndo, before: dict, after: dict, text: str):
        super().__init__(text)
        self.undo_of, self.before, self.after = undo, before, after
        self._done = True  # pushed after the change happened: the first redo (from push) does nothing

    def redo(self) -> None:
        if self._done:
            self._done = False
            return
        self.undo_of.apply(self.after)

    def undo(self) -> None:
        self.undo_of.apply(self.before)


class PanelUndo(QObject):
    """The undo history of one panel (see the module docstring)."""

    def __init__(self, panel, parent: QObject | None = None):
        super().__init__(parent)
        self.panel = panel
        self.stack = QUndoStack(self)
        self.stack.setUndoLimit(200)
        self.applying = False
        self.ignore = tuple(getattr(panel, "UNDO_IGNORES", ()))
        self.last = self._snapshot()
        self._source: object = None  # the widget of the gesture in progress
        self.timer = QTimer(self)
        self.timer.setObjectName(f"undo-{getattr(panel, 'key', 'panel')}")
        self.timer.setSingleShot(True)
        self.timer.setInterval(SETTLE_MS)
        self.timer.timeout.connect(self.commit)

    def _snapshot(self) -> dict:
        try:
            return copy.deepcopy(self.panel.get_state())
        except Exception:  # a panel whose state cannot be read has nothing to undo
            return {}

    def gesture_started(self, source: object = None) -> None:
        """A press on ``source``. Pressing the same widget again before the last gesture settled continues it
        (a key held down or tapped on a slider is one change); anything else first commits what is pending —
        or what the panel changed by itself — as a command of its own."""
        if self.timer.isActive() and source is self._source:
            self.timer.stop()
            return
        self._source = source
        self.commit()

    def gesture_ended(self) -> None:
        """A release or a wheel notch: commit once input has settled."""
        if not self.applying:
            self.timer.start()

    def commit(self, text: str | None = None) -> bool:
        """Push a command if a setting changed since the last snapshot; True if one was pushed."""
        self.timer.stop()
        if self.applying:
            return False
        now = self._snapshot()
        before, self.last = self.last, now
        if settings_of(before, self.ignore) == settings_of(now, self.ignore):
            return False
        self.stack.push(StateCommand(self, before, now, text or describe(before, now, self.ignore)))
        return True

    def record(self, text: str, change) -> bool:
        """Run ``change()`` (opening a scenario, resetting the panel) as one command called ``text``."""
        self.commit()
        change()
        return self.commit(text)

    def apply(self, state: dict) -> None:
        """Put the panel back to ``state`` (an undo or redo); pushes nothing."""
        self.timer.stop()
        self.applying = True
        try:
            self.panel.set_state(copy.deepcopy(state))
        finally:
            self.applying = False
        self.last = self._snapshot()

    def stop(self) -> None:
        self.timer.stop()
