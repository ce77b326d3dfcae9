"""Fair races: tune each optimizer's learning rate (and optionally one more hyperparameter) before racing.

Optimizer galleries compare each method at its own best learning rate; comparing them all at one lr only
shows whose default happens to suit the problem. ``tune`` searches a log grid of learning rates for every
optimizer spec on a 2-D surface and returns the best settings and the sensitivity curves (final loss
against lr), which show how wide each optimizer's good range is::

    from adamlab.core.surfaces import SURFACES
    from adamlab.core.tune import tune

    res = tune(SURFACES["rosenbrock"], [("sgd", {}), ("adam", {}), ("lion", {})], (-1.2, 1.0), steps=500)
    res.curves[1].best                       # {"lr": ..., ...}: Adam's best hyperparameters
    res.curves[1].lrs, res.curves[1].loss    # the sensitivity curve: final f − f* per lr (inf: diverged)
    res.race_specs()                         # [(kind, best hyper), ...] for trajectory.run_many

How it is fast: all learning rates of one optimizer run as one (K, 2) stack of points with a (K, 1)
array lr (the optimizers take per-row learning rates, and a row of the stack is stepped exactly like a
lone point: tests/core/test_optim_zoo.py checks bit-for-bit equality), so 25 learning rates cost about
one run. With noise, every seed is another block of rows, and the rows of one seed see the same noise
sequence as ``trajectory.run(..., noise=σ, seed=s)`` would, so a tuned row equals that run exactly.
Optimizers that treat an array as one matrix (Adafactor) run one optimizer per point instead; Muon is
not defined on a point and is refused.

Scoring: "final" (default) is f − f* at the last step, "average" the mean of f − f* over the steps
(rewards getting there fast). A run that diverges (non-finite, or beyond trajectory.BOX_FACTOR domain
widths, as in the arena) scores inf; with several noise seeds the score is the mean over seeds, and inf if
any seed diverged (a setting that blows up on some seed is not a good setting). Ties go to the smaller lr.

``progress(fraction)`` is called now and then (at most every ``CHECK`` steps); ``cancel()`` is polled as
often and, when it returns True, the search stops by raising ``TuneCancelled``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from adamlab.core import optim as _optim
from adamlab.core.schedules import make_schedule
from adamlab.core.surfaces import Surface
from adamlab.core.trajectory import BOX_FACTOR

__all__ = ["tune", "TuneCurve", "TuneResult", "TuneCancelled", "lr_grid", "LR_RANGE", "N_LRS"]

LR_RANGE = (1e-5, 10.0)   # six decades: SGD on a steep valley needs ~1e-3, Adadelta's lr multiplier ~1
N_LRS = 25                # four points per decade
CHECK = 50                # steps between progress reports / cancel polls
OBJECTIVES = ("final", "average")
BETA_ALIASES = {"beta1": "betas[0]", "beta2": "betas[1]", "beta3": "betas[2]"}


class TuneCancelled(Exception):
    """Raised by ``tune`` when its ``cancel()`` hook returned True."""


@dataclass
class TuneCurve:
    """One optimizer spec's search: losses over the grid and the best setting found.

    loss (n_values, n_lrs): the score per (second value, lr), inf where it diverged; per_seed adds a last
    axis of noise seeds. values is (None,) when no second hyperparameter was searched.
    """

    kind: str
    hyper: dict[str, Any]
    lrs: np.ndarray
    second: str | None
    values: tuple
    loss: np.ndarray
    per_seed: np.ndarray
    best: dict[str, Any] | None = None           # hyper for make_optimizer, None if every setting diverged
    best_lr: float | None = None
    best_value: Any = None
    best_loss: float = math.inf

    @property
    def sensitivity(self) -> np.ndarray:
        """Score against lr at the best second value (or the only one): the curve to plot."""
        i = self.values.index(self.best_value) if self.best is not None else 0
        return self.loss[i]

    @property
    def label(self) -> str:
        return _optim.optimizer_label(self.kind)

    @property
    def best_at_edge(self) -> bool:
        """True when the best lr is the grid's first or last: the true optimum may lie outside it."""
        return self.best_lr is not None and len(self.lrs) > 1 and self.best_lr in (self.lrs[0], self.lrs[-1])


@dataclass
class TuneResult:
    curves: list[TuneCurve]
    steps: int
    noise: float
    seeds: tuple[int, ...]
    objective: str
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)

    def race_specs(self) -> list[tuple[str, dict]]:
        """(kind, best hyper) per curve, for trajectory.run_many; a spec that always diverged keeps its
        own hyperparameters."""
        return [(c.kind, dict(c.best) if c.best is not None else dict(c.hyper)) for c in self.curves]


def lr_grid(lo: float = LR_RANGE[0], hi: float = LR_RANGE[1], n: int = N_LRS) -> np.ndarray:
    """n learning rates evenly spaced in log scale from lo to hi."""
    if not (0 < lo < hi and math.isfinite(hi)):
        raise ValueError(f"lr_range must be two numbers 0 < lo < hi, got ({lo}, {hi})")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= 1000:
        raise ValueError(f"n_lrs must be an integer in [1, 1000], got {n!r}")
    return np.geomspace(lo, hi, int(n))


# ----------------------------------------------------------------------------------------------------------
# the search


def tune(surface: Surface, specs: Sequence, start, steps: int = 500, *, lrs=None, lr_range=LR_RANGE,
         n_lrs: int = N_LRS, second: dict | None = None, noise: float = 0.0, seeds: int | Sequence[int] = 3,
         seed: int = 0, schedule: str | None = None, warmup: int = 0, objective: str = "final",
         progress: Callable[[float], None] | None = None, cancel: Callable[[], bool] | None = None) -> TuneResult:
    """Search each spec's lr on a log grid (and ``second``'s values) for the best score on ``surface``.

    specs: (kind, hyper) pairs; hyper's lr, if any, is ignored (it is what is searched).
    start: the start point (2,). steps: steps per run.
    lrs: an explicit grid (overrides lr_range and n_lrs).
    second: {kind: (name, values)}: also search that hyperparameter of that kind ("momentum",
        "weight_decay", "beta1" / "betas[0]", ...), every value with every lr.
    noise, seeds, seed: gradient noise σ; with σ > 0 every score is the mean over ``seeds`` noise sequences
        (an int n means seed, seed+1, …, seed+n−1; or a list of seeds). Without noise one run suffices.
    schedule: None, or a schedule name (schedules.make_schedule) applied to every lr of the grid;
        warmup: its warm-up steps (warmup_cosine only), as the arena gives it.
    objective: "final" (f − f* after the last step) or "average" (mean f − f* over the run), taken where
        the method is evaluated: schedule-free AdamW at its average x (``Trajectory.judged_loss``), not at the
        point y where it takes its gradients.
    """
    t0 = time.perf_counter()
    start = np.array(start, dtype=np.float64)
    if start.shape != (2,) or not np.all(np.isfinite(start)):
        raise ValueError(f"start must be a finite point (x, y), got {start!r}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= steps <= 1_000_000:
        raise ValueError(f"steps must be an integer in [1, 1000000], got {steps!r}")
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
    noise = float(noise)
    if not (math.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite number >= 0, got {noise}")
    grid = lr_grid(*lr_range, n_lrs) if lrs is None else _explicit_grid(lrs)
    seed_list = _seeds(seeds, seed) if noise > 0 else (int(seed),)
    plans = [_plan(i, spec, (second or {})) for i, spec in enumerate(specs)]
    table = None  # (L, steps): each lr's schedule, built exactly as trajectory.run_many builds it from that lr
    if schedule is not None:
        table = np.stack([np.asarray(make_schedule(schedule, lr, steps, warmup)(np.arange(steps)), dtype=np.float64)
                          for lr in grid])
    sim = _Simulation(surface, start, steps, noise, seed_list, grid, table, objective)
    total = sum(len(values) for _, _, _, values in plans) * steps
    done = 0

    def tick(k):
        nonlocal done
        done += k
        if cancel is not None and cancel():
            raise TuneCancelled("tuning cancelled")
        if progress is not None:
            progress(done / total)

    curves = []
    for kind, hyper, name, values in plans:
        per_seed = np.empty((len(values), len(grid), len(seed_list)))
        for j, value in enumerate(values):
            h = _with(hyper, name, value)
            per_seed[j] = sim.run(kind, h, tick)
        curves.append(_curve(kind, hyper, grid, name, values, per_seed))
    return TuneResult(curves, steps, noise, seed_list, objective, time.perf_counter() - t0)


def _explicit_grid(lrs) -> np.ndarray:
    grid = np.array(lrs, dtype=np.float64).ravel()
    if grid.size == 0 or not np.all(np.isfinite(grid) & (grid > 0)):
        raise ValueError("lrs must be a non-empty list of finite learning rates > 0")
    return grid


def _seeds(seeds, seed) -> tuple[int, ...]:
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        if not 1 <= seeds <= 100:
            raise ValueError(f"seeds must be an integer in [1, 100] or a list of seeds, got {seeds}")
        return tuple(int(seed) + i for i in range(int(seeds)))
    out = tuple(int(s) for s in seeds)
    if not out or any(s < 0 for s in out):
        raise ValueError(f"seeds must be a non-empty list of seeds >= 0, got {seeds!r}")
    return out


def _plan(i: int, spec, second: dict) -> tuple[str, dict, str | None, tuple]:
    """(kind, hyper without lr, second name or None, its values) for spec i, checked by building it."""
    if not (isinstance(spec, (tuple, list)) and len(spec) == 2 and isinstance(spec[0], str)
            and isinstance(spec[1], dict)):
        raise ValueError(f"spec {i} must be (kind, hyper dict), got {spec!r}")
    kind, hyper = spec[0], {k: v for k, v in spec[1].items() if k != "lr"}
    cls = _optim.OPTIMIZERS[kind].cls if kind in _optim.OPTIMIZERS else None
    if cls is not None and cls in (_optim.Muon, _optim.MuonAdamW):
        raise ValueError(f"spec {i}: {kind} is not defined on a point (Muon orthogonalises matrices); "
                         "tune it on a model, not on a 2-D surface")
    _optim.make_optimizer(kind, **hyper)          # unknown kinds and bad values are refused here, by name
    name, values = None, (None,)
    if kind in second:
        name, values = second[kind]
        name = BETA_ALIASES.get(name, name)
        if name.startswith("betas[") and "betas" not in hyper:   # tune one β around the kind's defaults
            hyper["betas"] = _optim.kind_arguments(kind).get("betas", ())
        values = tuple(values)
        if not values:
            raise ValueError(f"second[{kind!r}] must list at least one value")
        for v in values:                          # every value must be valid for the kind
            _optim.make_optimizer(kind, **_with(hyper, name, v))
    return kind, hyper, name, values


def _with(hyper: dict, name: str | None, value) -> dict:
    """hyper with ``name`` set to value ("betas[i]" sets one element of betas)."""
    if name is None:
        return dict(hyper)
    if name.startswith("betas[") and name.endswith("]"):
        i = int(name[6:-1])
        betas = list(hyper.get("betas", ()))
        if not 0 <= i < len(betas):
            raise ValueError(f"{name}: this optimizer has no such beta (betas = {tuple(betas)})")
        betas[i] = value
        return {**hyper, "betas": tuple(betas)}
    return {**hyper, name: value}


def _curve(kind, hyper, grid, name, values, per_seed) -> TuneCurve:
    with np.errstate(invalid="ignore"):
        loss = np.where(np.isinf(per_seed).any(axis=2), np.inf, per_seed.mean(axis=2))
    curve = TuneCurve(kind, dict(hyper), grid.copy(), name, values, loss, per_seed)
    if np.isfinite(loss).any():
        j, i = np.unravel_index(np.argmin(np.where(np.isfinite(loss), loss, np.inf)), loss.shape)
        curve.best_lr, curve.best_value, curve.best_loss = float(grid[i]), values[j], float(loss[j, i])
        curve.best = {**_with(hyper, name, values[j]), "lr": curve.best_lr}
    return curve


class _Simulation:
    """Runs one spec for every lr of the grid and every seed: rows (seed, lr) of one (S·L, 2) stack."""

    def __init__(self, surface, start, steps, noise, seeds, grid, table, objective):
        self.surface, self.start, self.steps, self.grid = surface, start, steps, grid
        self.table = None if table is None else np.tile(table, (len(seeds), 1))   # (K, steps)
        self.objective = objective
        S, L = len(seeds), len(grid)
        self.shape = (S, L)
        self.Z = None
        if noise > 0:  # the sequence trajectory.run draws for one start with this seed: (steps, 2) each
            self.Z = np.stack([np.random.default_rng(s).standard_normal((steps, 2)) * noise for s in seeds], axis=1)
        (x0, x1), (y0, y1) = surface.domain
        self.centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
        self.limit = BOX_FACTOR * np.array([x1 - x0, y1 - y0])
        minima = [surface.value(*m) for m in surface.minima]
        self.f_star = float(min(minima)) if minima else 0.0

    def run(self, kind: str, hyper: dict, tick) -> np.ndarray:
        """(L, S) scores for this spec: f − f* (final or averaged), inf where the run diverged."""
        S, L = self.shape
        K = S * L
        P = np.empty((S, L, 2))
        P[...] = self.start
        P = P.reshape(K, 2)                         # row s·L + l: seed s, lr l
        G = np.empty_like(P)
        X, Y, Gx, Gy = P[:, 0], P[:, 1], G[:, 0], G[:, 1]
        lr_rows = np.tile(self.grid, S)[:, None]    # (K, 1)
        cls = _optim.OPTIMIZERS[kind].cls
        if cls.ROWS_INDEPENDENT:                    # one optimizer, one lr per row
            opts = [_optim.make_optimizer(kind, **hyper, lr=lr_rows)]
            pairs = [(opts[0], P, G)]
        else:                                       # one optimizer per point, each a vector of its own
            opts = [_optim.make_optimizer(kind, **hyper, lr=float(lr)) for lr in lr_rows[:, 0]]
            pairs = [(o, P[k], G[k]) for k, o in enumerate(opts)]
        dead = np.zeros(K, dtype=bool)
        avg = np.zeros(K) if self.objective == "average" else None

        def judged():  # where the method is scored: schedule-free at its average x, the others where they are
            if not cls.EVALUATED_ELSEWHERE:
                return X, Y
            E = opts[0].eval_point() if len(opts) == 1 else np.array([o.eval_point() for o in opts])
            return E[:, 0], E[:, 1]
        df, Z = self.surface.df, self.Z
        with np.errstate(all="ignore"):
            for t in range(self.steps):
                gx, gy = df(X, Y)
                Gx[...] = gx
                Gy[...] = gy
                if Z is not None:
                    G.reshape(S, L, 2)[...] += Z[t][:, None, :]
                if self.table is not None:
                    self._set_lr(opts, self.table[:, t:t + 1])
                for o, p, g in pairs:
                    o.step(p, g)
                out = ~np.all(np.abs(P - self.centre) <= self.limit, axis=1)   # NaN counts as out
                dead |= out
                if avg is not None:
                    avg += self.surface.value(*judged()) - self.f_star
                if (t + 1) % CHECK == 0 or t + 1 == self.steps:
                    tick(CHECK if (t + 1) % CHECK == 0 else (t + 1) % CHECK)
                    if dead.all():
                        tick(self.steps - t - 1)
                        break
            score = avg / self.steps if avg is not None else self.surface.value(*judged()) - self.f_star
        score = np.where(dead | ~np.isfinite(score), np.inf, score)
        return score.reshape(S, L).T

    @staticmethod
    def _set_lr(opts, lrs):
        if len(opts) == 1:
            opts[0].lr = lrs
        else:
            for o, lr in zip(opts, lrs[:, 0]):
                o.lr = float(lr)
