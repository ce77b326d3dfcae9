"""What every panel gives the main window."""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg

from adamlab.ui.schema import Schema, check
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QWidget


class Panel(QWidget):
    """Base class of the four panels.

    The main window uses only this interface: it shows ``title`` in the sidebar and ``hint`` in the status
    bar, shows ``help_html`` from Help ▸ What am I looking at, exports the plots from ``plots()``, persists
    ``get_state()`` / ``set_state()`` in QSettings, calls ``reset_defaults()`` from View ▸ Reset panel,
    ``apply_scenario()`` when a scenario file is opened (:mod:`adamlab.ui.scenarios`), snapshots ``get_state()``
    for Edit ▸ Undo (:mod:`adamlab.ui.undo`), records one of ``animations()`` from File ▸ Record…
    (:mod:`adamlab.ui.record`), and calls ``shutdown()`` when the window closes (stop workers and timers; must be
    idempotent).
    Panels report transient messages through ``statusMessage``.
    """

    key = "panel"
    title = "Panel"
    hint = ""
    help_html = ""

    statusMessage = Signal(str)

    def plots(self) -> dict[str, pg.PlotItem]:
        """The exportable plots, by a human-readable name (the first is the default)."""
        return {}

    def get_state(self) -> dict[str, Any]:
        """The panel's settings as a JSON-serialisable dict."""
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore settings saved by ``get_state``; unknown or invalid entries are ignored."""

    def state_schema(self) -> Schema | None:
        """What ``get_state``'s dict may hold (:mod:`adamlab.ui.schema`; ranges read off the controls with
        :func:`adamlab.ui.widgets.stateschema.of`), or None if this panel has nothing to check."""
        return None

    def restore(self, state: Any) -> list[str]:
        """Check ``state`` field by field against ``state_schema()``, apply what passed, and return one line
        per field that did not (a saved setting or a scenario file the user should hear about)."""
        schema = self.state_schema()
        clean, problems = (state, []) if schema is None else check(schema, state)
        self.set_state(clean)
        return [f"{self.key}.{p}" for p in problems]

    def reset_defaults(self) -> None:
        """Put every control back to its default."""

    def animations(self) -> dict:
        """What File ▸ Record… can film here, by key: ``adamlab.ui.record.animation.Animation`` objects (the
        first is the default). Each panel keeps them in its package's ``animate.py``."""
        return {}

    def apply_scenario(self, state: dict[str, Any]) -> None:
        """Apply a scenario file's state, already checked against ``state_schema()``: what it leaves out takes
        its default (so a hand-written file of three fields means the same thing whatever was on screen)."""
        self.reset_defaults()
        self.set_state(state)

    # Fields of ``get_state()`` that are where the user is looking, not a setting: undo ignores their changes
    # (a rotated 3-D camera or another tab is not an "Undo" step) but still restores them with a setting.
    UNDO_IGNORES: tuple[str, ...] = ()

    def is_idle(self) -> bool:
        """True when no computation the view is waiting for is in flight (screenshots wait for this)."""
        return True

    def shutdown(self) -> None:
        """Stop this panel's workers and timers. Called on window close; safe to call twice."""

    def closeEvent(self, event) -> None:  # a panel closed on its own (tests, a floating window) stops too
        self.shutdown()
        super().closeEvent(event)
