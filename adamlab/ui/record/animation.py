"""The one protocol every panel's animation follows, so that the recorder stays generic.

An :class:`Animation` is a title and ``frames(n)``: a generator of n callables, called in order on the GUI
thread, one per recorded frame. Calling the i-th puts the panel into frame i's state (the arena's race drawn
up to step t_i, the EMA playground at β1_i, …). It may return a ``ready()`` predicate when the state arrives
later (a run's next snapshot); the recorder grabs once ``ready()`` and ``panel.is_idle()`` both hold, so a
frame that starts a worker's computation is grabbed when its result is drawn, never before.

The generator puts back what it changed in a ``finally`` block (a β, a start point): the recorder closes it
when the film ends or is cancelled. Each panel keeps its animations beside it (``panels/<name>/animate.py``)
and lists them in ``Panel.animations()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np

Ready = Callable[[], bool]
Frame = Callable[[], Ready | None]


@dataclass(frozen=True)
class Animation:
    title: str  # shown in the Record dialog: "Race from step 0"
    frames: Callable[[int], Iterator[Frame]]  # frames(n) -> n callables, in order
    tip: str = ""
    prepare: Callable[[], None] | None = None  # called first, before the recorder waits for the panel to be
    # idle: stops what would keep it busy (the arena's replay, the stepper's Run)


def ramp(n: int, lo: float, hi: float) -> np.ndarray:
    """n values evenly from lo to hi, both ends included (one value: hi, the finished state)."""
    return np.linspace(lo, hi, n) if n > 1 else np.array([hi], dtype=float)


def beta_ramp(n: int, lo: float, hi: float) -> np.ndarray:
    """n values of β from lo to hi, evenly in log10(1 − β) (as the β sliders are spaced: 0.9, 0.99, 0.999
    are equal steps apart)."""
    return 1.0 - 10.0 ** ramp(n, np.log10(1.0 - lo), np.log10(1.0 - hi))
