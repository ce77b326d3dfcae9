"""Optimizer paths on a 2D surface: one start or K starts at once, one optimizer or a whole race.

    from adamlab.core.surfaces import SURFACES
    from adamlab.core.trajectory import run, run_detailed, run_many

    s = SURFACES["rosenbrock"]
    path = run(s, ("adam", {"lr": 0.05}), s.start, 500)              # (501, 2), path[0] == start
    paths = run(s, ("sgd", {"lr": 1e-3}), starts, 500)              # starts (K, 2) -> (501, K, 2)
    res = run_detailed(s, ("adam", {"lr": 0.05}), s.start, 500, record=True)
    res.path, res.loss, res.diverged_at, res.grads, res.updates, res.m_hat, res.eff_lr
    race = run_many(s, [("sgd", {"lr": 1e-3}), ("adam", {"lr": 0.05})], s.start, 500, noise=1.0)

How it runs. The optimizers come from ``adamlab.core.optim`` (the project's only implementation of each
update rule) and update their parameter array in place. All positions live in one buffer P of shape
(N, *start.shape) for N optimizers; optimizer i owns the view P[i], so K starts are one (K, 2) array and
one ``opt.step`` call per step. The surface gradient is evaluated once per step for the whole buffer.

Noise. ``noise=σ`` adds σ·z to every gradient, z ~ N(0, 1) drawn from ``np.random.default_rng(seed)`` in a
single draw of shape (steps, *start.shape) before the run. Every optimizer in a ``run_many`` race sees the
same z sequence (a fair race: the same "mini-batches"), so ``run_many`` equals separate ``run`` calls with
the same seed. K starts get independent noise per start (a K-start run with noise is therefore not K
single runs; without noise it is).

Divergence. A path has diverged at the first row whose position is not finite or lies more than
``BOX_FACTOR`` (1e6) domain widths from the domain centre (per axis). That row and every later one are
NaN; ``diverged_at`` is that row index (= the number of steps taken when it left), or None / -1 when the
path stayed inside. When every path has diverged the run stops early. NumPy's overflow warnings are
silenced (np.errstate) because overflow is an expected outcome here.

Schedules. ``schedule`` is called with t = 0, 1, ..., steps − 1 (the steps already taken, schedules.py's
convention) and sets ``opt.lr`` before step t. A ``schedules.Schedule`` is evaluated for the whole run in
one vectorised call.

Speed. The loop does per step: one gradient call for all paths, two copies into the gradient buffer, one
``opt.step`` per optimizer, one copy into the path; checks run every CHECK_EVERY steps. A single start gives
each optimizer a (2,) float64 point, which ``optim`` steps with Python floats (bit-identical to its NumPy
path, ~3x cheaper), so the arena's five-optimizer race costs ~25 µs a step (~12 ms for 500 steps on an idle
core of the 2-core dev machine): the gradient call and the loop are now about a third of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from adamlab.core import optim as _optim
from adamlab.core.schedules import Schedule, make_schedule
from adamlab.core.surfaces import Surface

__all__ = ["Trajectory", "run", "run_detailed", "run_many", "BOX_FACTOR"]

BOX_FACTOR = 1e6  # a path has diverged when it is this many domain sizes away from the domain centre
CHECK_EVERY = 64  # steps between checks for "has everything diverged, can we stop early?"


@dataclass
class Trajectory:
    """One optimizer's path and what the GUI draws along it.

    Shapes, for a single start ``S = ()``, for K starts ``S = (K,)``:
    path (steps+1, *S, 2): positions, row 0 the start, NaN from diverged_at on.
    loss (steps+1, *S): the surface value along the path.
    diverged_at: for one start the row where the path left (int) or None; for K starts an int array (K,)
        with -1 for paths that never diverged.
    With record=True, per step t = 0..steps-1 (None otherwise):
    grads (steps, *S, 2): the gradient the optimizer was given at path[t] (noise included),
    updates (steps, *S, 2): the actual move path[t+1] − path[t],
    m_hat (steps, *S, 2): the bias-corrected first moment after step t (adaptive optimizers, else None),
    eff_lr (steps, *S, 2): the per-axis effective learning rate lr/(√v̂+ε) at step t (Adam family, RMSprop,
        Adagrad: whatever the optimizer's inspect() calls "effective_lr"; None for SGD).
    """

    path: np.ndarray
    loss: np.ndarray
    diverged_at: int | None | np.ndarray
    lr: np.ndarray | None = None  # (steps,) the lr used at each step when a schedule ran, else None
    grads: np.ndarray | None = None
    updates: np.ndarray | None = None
    m_hat: np.ndarray | None = None
    eff_lr: np.ndarray | None = None
    # For a method judged away from where it takes its gradients (schedule-free AdamW: the average x, while
    # ``path`` is y): that point row for row, (steps+1, *S, 2) with row 0 the start and NaN where ``path`` is,
    # and the surface value there. None for every other optimizer (it is judged on its path).
    eval_path: np.ndarray | None = None
    eval_loss: np.ndarray | None = None

    @property
    def final(self) -> np.ndarray:
        """The last position (NaN if the path diverged)."""
        return self.path[-1]

    @property
    def judged_path(self) -> np.ndarray:
        """Where the method is evaluated: ``eval_path`` if it has one, else ``path``."""
        return self.path if self.eval_path is None else self.eval_path

    @property
    def judged_loss(self) -> np.ndarray:
        """The surface value where the method is evaluated (``eval_loss`` if it has one, else ``loss``)."""
        return self.loss if self.eval_loss is None else self.eval_loss


# ----------------------------------------------------------------------------------------------------------
# public API


def run(surface: Surface, optimizer, start, steps: int, noise: float = 0.0, seed: int = 0,
        schedule: Callable[[int], float] | None = None) -> np.ndarray:
    """The path of one optimizer from ``start`` (2,) -> (steps+1, 2), or from K starts (K, 2) -> (steps+1, K, 2).

    optimizer: an optimizer instance with fresh state, or a spec (kind, hyper) for ``make_optimizer``.
    noise: σ of the Gaussian noise added to each gradient component; seed makes it reproducible.
    schedule: optional callable step -> lr, see ``run_detailed``.
    """
    return run_detailed(surface, optimizer, start, steps, noise, seed, schedule).path


def run_detailed(surface: Surface, optimizer, start, steps: int, noise: float = 0.0, seed: int = 0,
                 schedule: Callable[[int], float] | str | None = None, record: bool = False) -> Trajectory:
    """Like ``run`` but returns a Trajectory (path, loss, diverged_at; with record=True the per-step
    gradient, update, m̂ and effective lr, for drawing arrows at any step of an animation).

    schedule: a callable t -> lr called with t = 0, 1, ..., steps−1 before step t (t is the number of steps
    already taken), or a schedule name for ``schedules.make_schedule`` built from the optimizer's lr.
    """
    return run_many(surface, [optimizer], start, steps, noise, seed, schedule, record)[0]


def run_many(surface: Surface, specs: Sequence, start, steps: int, noise: float = 0.0, seed: int = 0,
             schedule=None, record: bool = False) -> list[Trajectory]:
    """A race: several optimizers from the same start(s), one Trajectory each, in the order of ``specs``.

    specs: optimizer instances (fresh, distinct) or (kind, hyper) specs.
    schedule: None, one schedule for all (callable or name), or a sequence with one per spec. A name is
        built per optimizer from its own lr, so SGD at 1e-3 and Adam at 0.05 both get e.g. a cosine decay.
    Every optimizer sees the same noise sequence (see the module docstring).
    """
    opts = [_make(spec, i) for i, spec in enumerate(specs)]
    if len({id(o) for o in opts}) != len(opts):
        raise ValueError("specs must not contain the same optimizer instance twice (they would share state)")
    start = _check_start(start)
    steps = _check_steps(steps)
    noise = _check_noise(noise)
    lrs = _schedules(schedule, opts, steps)
    return _simulate(surface, opts, start, steps, noise, int(seed), lrs, bool(record))


# ----------------------------------------------------------------------------------------------------------
# argument checks


def _make(spec, i):
    if isinstance(spec, (tuple, list)):
        if len(spec) != 2 or not isinstance(spec[0], str) or not isinstance(spec[1], dict):
            raise ValueError(f"optimizer spec {i} must be (kind, hyper dict), got {spec!r}")
        return _optim.make_optimizer(spec[0], **spec[1])
    if not hasattr(spec, "step"):
        raise ValueError(f"optimizer {i} must be an optimizer instance or a (kind, hyper) spec, got {spec!r}")
    if getattr(spec, "t", 0) != 0:
        raise ValueError(f"optimizer {i} must have fresh state (t == 0), got t = {spec.t}")
    return spec


def _check_start(start) -> np.ndarray:
    p = np.array(start, dtype=np.float64)  # a copy: the caller's array is never touched
    if p.ndim not in (1, 2) or p.shape[-1] != 2 or p.size == 0:
        raise ValueError(f"start must be a point (2,) or K points (K, 2), got shape {p.shape}")
    if not np.all(np.isfinite(p)):
        raise ValueError("start must be finite")
    return p


def _check_steps(steps) -> int:
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise ValueError(f"steps must be an integer >= 0, got {steps!r}")
    return int(steps)


def _check_noise(noise) -> float:
    noise = float(noise)
    if not (math.isfinite(noise) and noise >= 0):
        raise ValueError(f"noise must be a finite number >= 0, got {noise}")
    return noise


def _schedules(schedule, opts, steps):
    """One (steps,) lr array per optimizer, or None where the lr stays fixed. Evaluated up front so the
    hot loop only assigns a float."""
    if schedule is None or callable(schedule) or isinstance(schedule, str):
        schedule = [schedule] * len(opts)
    elif not isinstance(schedule, (list, tuple)) or len(schedule) != len(opts):
        raise ValueError(f"schedule must be None, a callable t -> lr, a schedule name, or a list of "
                         f"{len(opts)} of those (one per optimizer), got {schedule!r}")
    out = []
    for sch, opt in zip(schedule, opts):
        if sch is None:
            out.append(None)
            continue
        if isinstance(sch, str):
            sch = make_schedule(sch, opt.lr, max(steps, 1))
        if isinstance(sch, Schedule):  # vectorised: one call for the whole curve instead of `steps` calls
            lrs = np.asarray(sch(np.arange(steps)), dtype=np.float64).reshape(steps)
        elif callable(sch):
            lrs = np.array([float(sch(t)) for t in range(steps)], dtype=np.float64)
        else:
            raise ValueError(f"schedule must be None, a callable t -> lr or a schedule name, got {sch!r}")
        if not np.all(np.isfinite(lrs) & (lrs >= 0)):
            raise ValueError("schedule must return finite learning rates >= 0")
        out.append(lrs)
    return out


# ----------------------------------------------------------------------------------------------------------
# the simulation


def _simulate(surface, opts, start, steps, noise, seed, lrs, record):
    N = len(opts)
    S = start.shape[:-1]  # () for one start, (K,) for K starts
    P = np.empty((N, *start.shape))  # (N, *S, 2) current positions; optimizer i owns the view P[i]
    P[...] = start
    G = np.empty_like(P)  # (N, *S, 2) gradients, G[i] for optimizer i
    X, Y = P[..., 0], P[..., 1]  # views, so the gradient call reads the live positions
    Gx, Gy = G[..., 0], G[..., 1]
    params = [P[i] for i in range(N)]
    grads = [G[i] for i in range(N)]
    path = np.empty((steps + 1, N, *start.shape))  # (steps+1, N, *S, 2)
    path[0] = P
    Z = None
    if noise > 0:
        # one draw for the whole run, scaled once: the same seed gives the same sequence for every optimizer
        Z = np.random.default_rng(seed).standard_normal((steps, *start.shape))
        with np.errstate(over="ignore"):  # σ near the float limit: inf noise, a path that diverges (no warning)
            Z *= noise
    rec_g = np.empty((steps, N, *start.shape)) if record else None
    rec_m = np.full((steps, N, *start.shape), np.nan) if record else None
    rec_e = np.full((steps, N, *start.shape), np.nan) if record else None
    adaptive = [record and hasattr(o, "inspect") for o in opts]  # what has an effective lr to show
    judged = [i for i, o in enumerate(opts) if getattr(o, "EVALUATED_ELSEWHERE", False)]
    epath = {i: np.empty((steps + 1, *start.shape)) for i in judged}  # schedule-free's x, row for row
    for e in epath.values():
        e[0] = start
    has_m = [False] * N  # what has an m̂ too: known after the first step

    (x0, x1), (y0, y1) = surface.domain
    centre = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    limit = BOX_FACTOR * np.array([x1 - x0, y1 - y0])

    df = surface.df  # the raw gradient: X and Y have the same shape, so no broadcasting needed
    scheduled = [(o, l) for o, l in zip(opts, lrs) if l is not None]
    pairs = list(zip(opts, params, grads))
    done = steps
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        for t in range(steps):
            gx, gy = df(X, Y)
            Gx[...] = gx
            Gy[...] = gy
            if Z is not None:
                G += Z[t]  # (*S, 2) broadcast over the N optimizers
            if record:
                rec_g[t] = G
            for opt, l in scheduled:
                opt.lr = l[t]
            for opt, p, g in pairs:
                opt.step(p, g)
            path[t + 1] = P
            for i in judged:
                epath[i][t + 1] = opts[i].eval_point()
            if record:
                for i, opt in enumerate(opts):
                    if adaptive[i]:
                        m_hat, rec_e[t, i] = _introspect(opt)
                        if m_hat is not None:
                            rec_m[t, i] = m_hat
                            has_m[i] = True
            if (t + 1) % CHECK_EVERY == 0 and not _any_alive(path[t + 1], centre, limit):
                done = t + 1
                break
        path[done + 1:] = np.nan
        diverged_at = _first_bad_row(path, centre, limit)  # (N, *S), -1 where never
        _blank_after(path, diverged_at)
        loss = surface.value(path[..., 0], path[..., 1])  # (steps+1, N, *S)
        eloss = {}
        for i, e in epath.items():  # blank where the path is blank: a diverged run has no average either
            e[np.isnan(path[:, i])] = np.nan
            eloss[i] = surface.value(e[..., 0], e[..., 1])

    results = []
    for i in range(N):
        d = diverged_at[i]
        res = Trajectory(
            path=np.ascontiguousarray(path[:, i]),
            loss=np.ascontiguousarray(loss[:, i]),
            diverged_at=(None if d < 0 else int(d)) if not S else d.copy(),
            lr=lrs[i],
            eval_path=epath.get(i), eval_loss=eloss.get(i),
        )
        if record:
            res.grads = _blank_steps(rec_g[:, i], d)
            res.updates = np.diff(res.path, axis=0)
            if adaptive[i]:
                res.eff_lr = _blank_steps(rec_e[:, i], d)
            if has_m[i]:
                res.m_hat = _blank_steps(rec_m[:, i], d)
        results.append(res)
    return results


def _introspect(opt):
    """(m̂ or None, lr/(√v̂+ε)) from the optimizer's own ``inspect()`` (Adam, AdamW, AMSGrad give both,
    RMSprop and Adagrad only the effective lr), or None for optimizers without one (SGD)."""
    inspect = getattr(opt, "inspect", None)
    if inspect is None:
        return None
    info = inspect()
    return info.get("m_hat"), info.get("effective_lr", np.nan)   # (NaN: no per-axis lr, e.g. Muon)


def _outside(rows, centre, limit):
    """(..., 2) -> (...): position not finite, or farther than limit from centre on some axis."""
    # a NaN compares False, so "not inside" catches NaN and ±inf as well as far-away points
    return ~np.all(np.abs(rows - centre) <= limit, axis=-1)


def _any_alive(row, centre, limit) -> bool:
    return not np.all(_outside(row, centre, limit))


def _first_bad_row(path, centre, limit):
    """(steps+1, N, *S, 2) -> (N, *S) index of the first row outside the box, -1 where none."""
    bad = _outside(path, centre, limit)  # (steps+1, N, *S)
    first = np.argmax(bad, axis=0)
    return np.where(bad.any(axis=0), first, -1)


def _blank_after(path, diverged_at):
    """Set path[r:, i, k] = NaN from each path's diverged row r on."""
    rows = np.arange(path.shape[0]).reshape(-1, *([1] * diverged_at.ndim))
    dead = (diverged_at >= 0) & (rows >= diverged_at)  # (steps+1, N, *S)
    path[dead] = np.nan


def _blank_steps(rec, d):
    """Per-step records (steps, *S, 2) of one optimizer; steps taken from a diverged row on become NaN
    (step t starts at row t, so steps t >= diverged_at)."""
    rec = np.array(rec)
    d = np.asarray(d)
    rows = np.arange(rec.shape[0]).reshape(-1, *([1] * d.ndim))
    rec[(d >= 0) & (rows >= d)] = np.nan
    return rec
