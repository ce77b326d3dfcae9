"""Learning-rate schedules: lr as a function of the step, vectorised so a panel can plot a whole curve.

Convention: ``t`` is 0-BASED -- the number of optimizer steps already taken, i.e. the schedule is evaluated
BEFORE the update at step t, for t = 0, 1, ..., total_steps − 1. That is microgpt's loop::

    for step in range(num_steps):
        lr_t = learning_rate * (1 - step / num_steps)      # == make_schedule("linear", lr, num_steps)(step)
        ... Adam update with lr_t ...

so ``opt.lr = sched(step); opt.step(...)`` reproduces microgpt exactly. Past the end (t >= total_steps) the
decaying schedules stay at their final value (0), never negative.

Every schedule takes a scalar or an array of t and returns a float or an array of the same shape::

    sched = make_schedule("warmup_cosine", 1e-2, total_steps=1000, warmup=100)
    sched(0)                      # 1e-4: the first warmup step
    sched(np.arange(1000))        # (1000,) the whole curve, e.g. for a plot
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

__all__ = ["constant", "linear", "cosine", "warmup_cosine", "SCHEDULES", "Schedule", "make_schedule"]


def _steps(t):
    """t as a float array (0-d for a scalar), checked to be finite and >= 0."""
    a = np.asarray(t, dtype=np.float64)
    if not np.all(np.isfinite(a)) or np.any(a < 0):
        raise ValueError(f"t must be in [0, inf) (steps already taken, 0-based), got {t!r}")
    return a


def _out(t, values: np.ndarray):
    """A Python float for a scalar t, else the array."""
    return float(values) if np.ndim(t) == 0 else values


def constant(t, lr: float, total_steps: int, warmup: int = 0):
    """lr at every step."""
    a = _steps(t)
    return _out(t, np.full(a.shape, float(lr)))


def linear(t, lr: float, total_steps: int, warmup: int = 0):
    """lr·(1 − t/T): microgpt's linear decay, lr at t = 0 down to lr/T at the last step t = T − 1."""
    a = _steps(t)
    return _out(t, lr * (1.0 - np.minimum(a, total_steps) / total_steps))


def cosine(t, lr: float, total_steps: int, warmup: int = 0):
    """lr·½(1 + cos(πt/T)): lr at t = 0, lr/2 halfway, 0 at t = T."""
    a = _steps(t)
    return _out(t, lr * 0.5 * (1.0 + np.cos(np.pi * np.minimum(a, total_steps) / total_steps)))


def warmup_cosine(t, lr: float, total_steps: int, warmup: int = 0):
    """Linear warmup lr·(t + 1)/W for t < W (so step 0 already moves, and t = W − 1 reaches lr), then a
    cosine from lr at t = W to 0 at t = T: lr·½(1 + cos(π(t − W)/(T − W))). W = 0 is plain cosine."""
    a = _steps(t)
    if warmup <= 0:
        return cosine(t, lr, total_steps)
    progress = (np.clip(a, warmup, total_steps) - warmup) / (total_steps - warmup)
    decay = lr * 0.5 * (1.0 + np.cos(np.pi * progress))
    ramp = lr * (a + 1.0) / warmup
    return _out(t, np.where(a < warmup, ramp, decay))


SCHEDULES: dict[str, Callable] = {
    "constant": constant,
    "linear": linear,
    "cosine": cosine,
    "warmup_cosine": warmup_cosine,
}
LABELS = {"constant": "constant", "linear": "linear decay", "cosine": "cosine", "warmup_cosine": "warmup + cosine"}


class Schedule:
    """A schedule bound to its settings: call it with a 0-based step t (scalar or array) to get lr."""

    def __init__(self, name: str, lr: float, total_steps: int, warmup: int = 0):
        self.name, self.lr, self.total_steps, self.warmup = name, lr, total_steps, warmup
        self._fn = SCHEDULES[name]

    def __call__(self, t):
        return self._fn(t, self.lr, self.total_steps, self.warmup)

    def curve(self) -> np.ndarray:
        """(total_steps,) lr at t = 0 .. total_steps − 1, the values a run will use."""
        return self(np.arange(self.total_steps))

    def __repr__(self):
        return (f"Schedule({self.name!r}, lr={self.lr!r}, total_steps={self.total_steps!r}, "
                f"warmup={self.warmup!r})")


def _int(name: str, value, lo: int) -> int:
    """value as an int >= lo (integral floats like 100.0 accepted), else ValueError naming the range."""
    integral = (isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))) or (
        isinstance(value, (float, np.floating)) and float(value).is_integer())
    if not integral or int(value) < lo:
        raise ValueError(f"{name} must be an integer in [{lo}, inf), got {value!r}")
    return int(value)


def make_schedule(name: str, lr: float, total_steps: int, warmup: int = 0) -> Schedule:
    """Build schedule `name` (a key of SCHEDULES) for a run of `total_steps` steps starting from `lr`.

    ``warmup`` (steps) is used by "warmup_cosine" only, and must then be < total_steps; the others ignore
    it (it is still checked to be an integer >= 0) so a config can carry one warmup value for all.
    """
    if name not in SCHEDULES:
        raise ValueError(f"schedule name must be one of {sorted(SCHEDULES)}, got {name!r}")
    if isinstance(lr, (bool, np.bool_)) or not isinstance(lr, (int, float, np.integer, np.floating)) \
            or not math.isfinite(lr) or lr < 0:
        raise ValueError(f"lr must be a number in [0, inf), got {lr!r}")
    total_steps = _int("total_steps", total_steps, 1)
    warmup = _int("warmup", warmup, 0)
    if name == "warmup_cosine" and warmup >= total_steps:
        raise ValueError(f"warmup must be in [0, total_steps − 1] = [0, {total_steps - 1}] for warmup_cosine, "
                         f"got {warmup}")
    return Schedule(name, float(lr), total_steps, warmup)
