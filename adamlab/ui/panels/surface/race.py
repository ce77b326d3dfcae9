"""What the loss-surface arena computes off the GUI thread: a scene (plain dict) in, plain arrays out.

Qt-free, so the trajectory worker runs it and the tests call it directly. All the maths is the core's:
surfaces from ``core.surfaces``, paths from ``core.trajectory.run_many`` / ``run``, optimizers from
``core.optim.make_optimizer``, fair races from ``core.tune``. This module only adds what the view needs on
top: where a path leaves the view (so a diverging run is drawn up to the edge and flagged), the
results-table numbers, the swarm's basins of attraction, and the tuning request's translation into the
core's terms.

A scene is a plain JSON-able dict (``SurfacePanel.scene`` builds one); ``run_scene(scene)`` returns a
``SceneResult``. A tune request is {"scene": scene, "lrs": [...], "second": knob or None, "seeds": n,
"objective": "final" | "average"}; ``run_tune(request)`` returns a ``TuneReport``.
"""

from __future__ import annotations

import math
import os
import pickle
import queue
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from adamlab.core import trajectory
from adamlab.core.optim import OPTIMIZERS, kind_arguments, make_optimizer
from adamlab.core.schedules import make_schedule
from adamlab.core.surfaces import SURFACES, Surface, ill_conditioned
from adamlab.core.tune import TuneCancelled, TuneResult, tune

VIEW_MARGIN = 1.0  # a path "left the view" when it is this many domain widths outside the domain


def make_surface(scene: dict) -> Surface:
    """The scene's surface; ``ill_conditioned`` is rebuilt for the scene's condition number and angle."""
    name = scene["surface"]
    if name == "ill_conditioned":
        return ill_conditioned(scene.get("condition", 10.0), scene.get("angle", 30.0))
    if name not in SURFACES:
        raise ValueError(f"surface must be one of {sorted(SURFACES)}, got {name!r}")
    return SURFACES[name]


def f_star(surface: Surface) -> float | None:
    """The lowest value at the surface's global minima (None for a surface without one, e.g. the saddle)."""
    if not surface.minima:
        return None
    return float(min(surface.value(x, y) for x, y in surface.minima))


def view_box(surface: Surface, domain=None) -> tuple[np.ndarray, np.ndarray]:
    """(lo (2,), hi (2,)): the domain grown by VIEW_MARGIN widths on every side."""
    (x0, x1), (y0, y1) = domain or surface.domain
    w, h = x1 - x0, y1 - y0
    lo = np.array([x0 - VIEW_MARGIN * w, y0 - VIEW_MARGIN * h])
    hi = np.array([x1 + VIEW_MARGIN * w, y1 + VIEW_MARGIN * h])
    return lo, hi


def rows_to_draw(path: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[int, int | None]:
    """How many rows of ``path`` (T+1, 2) to draw, and the row where it left the view box (or None).

    The first row outside is included so the line visibly runs off the edge; NaN rows (the core's
    divergence marker) count as outside.
    """
    inside = np.all((path >= lo) & (path <= hi), axis=1)  # NaN compares False
    if inside.all():
        return len(path), None
    left = int(np.argmin(inside))
    return left + 1 if np.all(np.isfinite(path[left])) else max(left, 1), left


def nearest_minimum(points: np.ndarray, minima: list) -> tuple[np.ndarray, np.ndarray]:
    """Distance from each point (..., 2) to the nearest of ``minima`` and that minimum's index."""
    m = np.asarray(minima, dtype=np.float64).reshape(-1, 2)  # (M, 2)
    d = np.linalg.norm(points[..., None, :] - m, axis=-1)  # (..., M)
    with np.errstate(invalid="ignore"):
        return np.min(d, axis=-1), np.argmin(np.where(np.isfinite(d), d, np.inf), axis=-1)


@dataclass
class RunResult:
    """One optimizer's race, ready to draw. Arrays are the core's, unchanged (path[t] = θ_t)."""

    uid: int
    name: str
    kind: str
    path: np.ndarray  # (T+1, 2), NaN from diverged_at on
    loss: np.ndarray  # (T+1,)
    diverged_at: int | None  # the core's verdict: the row where the path blew up
    shown: int  # rows to draw (up to and including the first row outside the view)
    left_view_at: int | None  # first row outside the view box, None if it stayed
    final_loss: float
    distance: float  # from the final point to the nearest global minimum (NaN without minima)
    steps_to_tol: int | None  # first t with distance(θ_t) ≤ tol
    lr: np.ndarray | None = None  # (T,) scheduled lr, None for a constant lr
    base_lr: float = 0.0
    grads: np.ndarray | None = None  # (T, 2) with record=True
    updates: np.ndarray | None = None
    m_hat: np.ndarray | None = None
    eff_lr: np.ndarray | None = None
    # schedule-free AdamW: path is y (where it takes its gradients, drawn on the map); the loss curve, the
    # final loss, the distance and the steps to tol are at x, the average it is evaluated at (eval_path)
    eval_path: np.ndarray | None = None
    train_final_loss: float | None = None  # f at y's last point, when that is not where it is judged


@dataclass
class SwarmResult:
    """A grid of starts for one optimizer: where each ended up.

    starts (K, 2); ends (K, 2); basin (K,): index into ``targets`` of the minimum the path ended near,
    -1 when it ended near none, -2 when it diverged; spacing: the grid step (for square markers).
    """

    name: str
    starts: np.ndarray
    ends: np.ndarray
    basin: np.ndarray
    targets: np.ndarray
    spacing: tuple[float, float]
    note: str = ""  # why the grid is smaller than asked, if it is


@dataclass
class SceneResult:
    surface: str
    runs: list[RunResult] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (optimizer name, message)
    swarm: SwarmResult | None = None
    record: bool = False
    f_star: float | None = None
    tol: float = 0.0


def tolerance(surface: Surface, tol_frac: float) -> float:
    """The distance counted as "at the minimum": tol_frac of the domain's width."""
    (x0, x1), (y0, y1) = surface.domain
    return float(tol_frac) * max(x1 - x0, y1 - y0)


def summarize(path: np.ndarray, loss: np.ndarray, surface: Surface, tol: float):
    """(final loss, distance to nearest global minimum, steps to within tol) for one path (T+1, 2)."""
    final_loss = float(loss[-1])
    if not surface.minima:
        return final_loss, math.nan, None
    d, _ = nearest_minimum(path, surface.minima)  # (T+1,)
    with np.errstate(invalid="ignore"):
        hit = np.nonzero(d <= tol)[0]
    return final_loss, float(d[-1]), (int(hit[0]) if hit.size else None)


def _check_specs(opts: list[dict]) -> tuple[list[dict], list[tuple[str, str]]]:
    """Split the enabled optimizers into buildable ones and (name, ValueError message) for the rest."""
    good, errors = [], []
    for o in opts:
        try:
            make_optimizer(o["kind"], **o["hyper"])
        except (ValueError, TypeError) as exc:
            errors.append((o["name"], str(exc)))
        else:
            good.append(o)
    return good, errors


def run_scene(scene: dict) -> SceneResult:
    """Race the scene's enabled optimizers (and its swarm, if any) on its surface."""
    surface = make_surface(scene)
    steps, noise, seed = int(scene["steps"]), float(scene.get("noise", 0.0)), int(scene.get("seed", 0))
    schedule = scene.get("schedule") or "constant"
    record = bool(scene.get("record", False))
    tol = tolerance(surface, scene.get("tol", 0.01))
    out = SceneResult(surface=surface.name, record=record, f_star=f_star(surface), tol=tol)
    opts, out.errors = _check_specs([o for o in scene["optimizers"] if o.get("enabled", True)])
    lo, hi = view_box(surface)
    if opts:
        specs = [(o["kind"], o["hyper"]) for o in opts]
        start = np.asarray(scene["start"], dtype=np.float64)
        schedules = [schedule_for(schedule, o["hyper"], steps) for o in opts]
        runs = trajectory.run_many(surface, specs, start, steps, noise, seed, schedules, record)
        for o, r in zip(opts, runs):
            shown, left = rows_to_draw(r.path, lo, hi)
            final_loss, dist, hit = summarize(r.judged_path, r.judged_loss, surface, tol)
            out.runs.append(RunResult(
                uid=o["uid"], name=o["name"], kind=o["kind"], path=r.path, loss=r.judged_loss,
                diverged_at=r.diverged_at, shown=shown, left_view_at=left, final_loss=final_loss,
                distance=dist, steps_to_tol=hit, lr=r.lr, base_lr=float(o["hyper"].get("lr", 0.0)),
                grads=r.grads, updates=r.updates, m_hat=r.m_hat, eff_lr=r.eff_lr, eval_path=r.eval_path,
                train_final_loss=None if r.eval_path is None else float(r.loss[-1])))
    swarm = scene.get("swarm")
    if swarm:
        sch = schedule_for(schedule, swarm["hyper"], steps)
        out.swarm = run_swarm(surface, swarm, steps, noise, seed, sch, scene.get("swarm_domain"))
    return out


WARMUP_FRACTION = 0.1  # warmup + cosine warms up over the first 10% of the steps


def warmup_for(name: str, steps: int) -> int:
    """The warm-up steps the arena gives schedule ``name`` in a run of ``steps`` steps."""
    warmup = max(1, int(WARMUP_FRACTION * steps)) if name == "warmup_cosine" else 0
    return warmup if warmup < steps else 0


def schedule_for(name: str, hyper: dict, steps: int):
    """The core's schedule ``name`` for one optimizer, scaled from its own lr (None for a constant lr).

    Built here rather than by name in ``run_many`` so warmup + cosine gets a real warmup (the core's
    by-name path uses warmup = 0).
    """
    if name == "constant" or steps == 0:
        return None
    return make_schedule(name, float(hyper.get("lr", 1e-3)), steps, warmup_for(name, steps))


def swarm_starts(domain, n: int) -> tuple[np.ndarray, tuple[float, float]]:
    """An n × n grid of cell centres over the domain: (n², 2) starts and the cell size (dx, dy)."""
    (x0, x1), (y0, y1) = domain
    dx, dy = (x1 - x0) / n, (y1 - y0) / n
    xs = x0 + dx * (np.arange(n) + 0.5)
    ys = y0 + dy * (np.arange(n) + 0.5)
    X, Y = np.meshgrid(xs, ys)
    return np.stack([X.ravel(), Y.ravel()], axis=1), (dx, dy)


def run_swarm(surface: Surface, swarm: dict, steps: int, noise: float, seed: int, schedule, domain=None):
    """Run one optimizer from every start of a grid at once (the core takes K starts as a (K, 2) array)."""
    domain = domain or surface.domain
    n = int(swarm.get("n", 15))
    if not 2 <= n <= 60:
        raise ValueError(f"swarm grid size must be in [2, 60], got {n}")
    note = ""
    pointwise = not OPTIMIZERS[swarm["kind"]].cls.ROWS_INDEPENDENT  # Adafactor would factor the stack as a matrix
    if pointwise and n > POINTWISE_MAX_N:
        n, note = POINTWISE_MAX_N, f"{POINTWISE_MAX_N} × {POINTWISE_MAX_N}: each start is stepped alone"
    starts, spacing = swarm_starts(domain, n)
    spec = PointWise(swarm["kind"], swarm["hyper"], len(starts)) if pointwise else (swarm["kind"], swarm["hyper"])
    traj = trajectory.run_detailed(surface, spec, starts, steps, noise, seed, schedule)
    ends = traj.judged_path[-1]  # (K, 2), NaN where diverged; schedule-free's at x, where it is judged
    targets = np.asarray(list(surface.minima) + list(surface.local_minima), dtype=np.float64).reshape(-1, 2)
    basin = np.full(len(starts), -1)
    if len(targets):
        d, idx = nearest_minimum(ends, targets)
        near = d <= tolerance(surface, 0.05)  # "ended up in" = within 5% of the view of that minimum
        basin = np.where(near, idx, -1)
    basin = np.where(np.asarray(traj.diverged_at) >= 0, -2, basin)
    return SwarmResult(swarm.get("name", swarm["kind"]), starts, ends, basin, targets, spacing, note)


# A swarm of a kind stepped start by start (PointWise) costs one optimizer call per start and step, ~60× a
# batched one: a 15 × 15 grid of Adafactor took 5.9 s for 500 steps. Its grid is capped at 8 × 8 (~1.7 s).
POINTWISE_MAX_N = 8


class PointWise:
    """One optimizer per point of a (K, 2) stack, for the kinds that treat an array as one matrix.

    Adafactor factors a (K, 2) array's second moment into row and column averages: K starts stepped as one
    array would be one K×2 weight matrix, not K points. The swarm steps each start as its own tensor instead,
    as ``core.tune`` does, so every start moves exactly as a lone run from it would.
    """

    def __init__(self, kind: str, hyper: dict, k: int):
        self.opts = [make_optimizer(kind, **hyper) for _ in range(k)]
        self.t = 0  # trajectory.run_many wants fresh optimizers

    @property
    def lr(self) -> float:
        return self.opts[0].lr

    @lr.setter
    def lr(self, value: float) -> None:  # a schedule sets every point's lr
        for o in self.opts:
            o.lr = value

    def step(self, params: np.ndarray, grads: np.ndarray) -> None:
        for o, p, g in zip(self.opts, params, grads):  # rows: views of the stack, stepped in place
            o.step(p, g)
        self.t += 1


# ----------------------------------------------------------------------------------------------------------
# fair races: tune each ticked optimizer's lr (and, if asked, one more knob) on the scene, in the child

# The second hyperparameter a Tune may search, by the editor's name of it: what it is called in each kind's
# arguments and the values tried. "beta1" is the momentum's decay wherever there is one (β1, or μ for the SGD
# momenta and RMSprop), "beta2" the second moment's (β2, RMSprop's α, Adadelta's ρ).
SECOND_VALUES = {
    "beta1": (0.5, 0.8, 0.9, 0.95, 0.99),
    "beta2": (0.9, 0.99, 0.999, 0.9999),
    "weight_decay": (0.0, 1e-3, 1e-2, 1e-1),
    "eps": (1e-8, 1e-6, 1e-4, 1e-2),
}
MOMENTUM_KINDS = ("momentum", "nesterov", "rmsprop")  # their β1 is the momentum μ


def second_for(kind: str, knob: str | None) -> tuple[str, tuple] | None:
    """(the core's name of ``knob`` for ``kind``, its values), or None when the kind has no such knob."""
    if knob not in SECOND_VALUES:
        return None
    args = kind_arguments(kind)
    values = SECOND_VALUES[knob]
    if knob == "beta1":
        name = "momentum" if kind in MOMENTUM_KINDS else "betas[0]" if "betas" in args else None
    elif knob == "beta2":
        name = "betas[1]" if "betas" in args else "alpha" if kind == "rmsprop" else "rho" if kind == "adadelta" \
            else None
    elif knob == "eps":
        name = "eps" if isinstance(args.get("eps"), float) else None  # not Adafactor's (eps1, eps2) pair
    else:
        name = knob if knob in args else None
    return None if name is None else (name, values)


@dataclass
class TuneReport:
    """A Tune of the scene's ticked optimizers: the core's ``TuneResult`` (one curve per optimizer, in the
    order of ``uids``) and the optimizers it could not build (name, message)."""

    uids: list[int]
    names: list[str]
    result: TuneResult
    errors: list[tuple[str, str]] = field(default_factory=list)
    start: tuple[float, float] = (0.0, 0.0)


def run_tune(request: dict, progress=None, cancel=None) -> TuneReport:
    """Search each ticked optimizer's lr on the request's grid (and its second knob, if any) on the scene,
    with the scene's start, steps, noise (averaged over ``seeds`` sequences from the scene's seed) and
    schedule, exactly as its race would run. Raises ``core.tune.TuneCancelled`` when ``cancel()`` says so."""
    scene = request["scene"]
    surface = make_surface(scene)
    steps = int(scene["steps"])
    opts, errors = _check_specs([o for o in scene["optimizers"] if o.get("enabled", True)])
    if not opts:
        raise ValueError("tick at least one optimizer to tune" if not errors else
                         f"no optimizer to tune: {errors[0][0]}: {errors[0][1]}")
    name = scene.get("schedule") or "constant"
    schedule = None if name == "constant" else name
    second = {}
    for o in opts:
        s = second_for(o["kind"], request.get("second"))
        if s is not None:
            second[o["kind"]] = s
    start = tuple(float(v) for v in scene["start"])
    res = tune(surface, [(o["kind"], o["hyper"]) for o in opts], start, steps, lrs=request["lrs"],
               second=second, noise=float(scene.get("noise", 0.0)), seeds=int(request.get("seeds", 3)),
               seed=int(scene.get("seed", 0)), schedule=schedule, warmup=warmup_for(name, steps),
               objective=request.get("objective", "final"), progress=progress, cancel=cancel)
    return TuneReport([o["uid"] for o in opts], [o["name"] for o in opts], res, errors, start)


def lr_grid(lo: float, hi: float, n: int) -> list[float]:
    """n learning rates evenly spaced in log scale from lo to hi, each rounded to 3 significant figures, so
    an editor's lr box holds a tuned value exactly (and its race equals the tuned run)."""
    grid = []
    for v in np.geomspace(lo, hi, n):
        r = float(f"{v:.3g}")
        if r not in grid:
            grid.append(r)
    return grid


# ----------------------------------------------------------------------------------------------------------
# the race in a child process
#
# Why: a race is ~5 000 tiny NumPy calls in pure Python. Run on a worker thread it holds the GIL for tens of
# milliseconds at a time, and the GUI thread, which needs the GIL for every Python slot and paint, waits in
# line behind it (event-loop gaps of ~200 ms during a drag). In a child process the race runs on the other
# core; the worker thread only writes the scene to a pipe and blocks reading the answer, with the GIL
# released, so the GUI thread keeps the interpreter to itself.
#
# How: ``workers.ChildProcess`` (a fresh interpreter importing only this Qt-free module, framed pickle messages;
# see adamlab.ui.workers for why not multiprocessing). The child exits when its stdin closes, so it cannot
# outlive the app. ``workers`` is imported lazily: this module is what the child imports, and it must not
# pull Qt in (nor may the package's ``__init__``, which the child imports first: it exports SurfacePanel lazily).

RACE_ENTRY = "adamlab.ui.panels.surface.race:serve_races"


PROGRESS_EVERY_S = 0.03  # a tune reports its progress at most this often
_EOF = object()


def serve_races(channel) -> None:
    """The child's loop; ends at EOF. Parent → child: a scene dict, ("tune", request) or ("cancel",).
    Child → parent: ("ok", SceneResult) or ("error", exception) for a scene; for a tune ("progress", f) now
    and then, then ("ok", TuneReport), ("cancelled", None) or ("error", exception).

    A reader thread moves messages into an inbox, so a tune can look for ("cancel",) between its chunks
    without blocking (on every platform: select() does not work on Windows pipes). A cancel that arrives
    after its tune has ended is dropped."""
    inbox: queue.SimpleQueue = queue.SimpleQueue()

    def read() -> None:
        try:
            while True:
                inbox.put(channel.recv())
        except (EOFError, OSError):
            inbox.put(_EOF)

    threading.Thread(target=read, name="race-inbox", daemon=True).start()
    pending: list = []  # messages that came in during a tune (the parent waits for a tune, so: none)
    while True:
        msg = pending.pop(0) if pending else inbox.get()
        if msg is _EOF:
            return
        if isinstance(msg, tuple) and msg[:1] == ("cancel",):
            continue
        if isinstance(msg, tuple) and msg[:1] == ("tune",):
            channel.send(_serve_tune(channel, inbox, msg[1], pending))
            continue
        try:
            reply = ("ok", run_scene(msg))
        except Exception as exc:  # the parent re-raises it, as if the race had run in its own thread
            reply = ("error", exc)
        channel.send(reply)


def _serve_tune(channel, inbox: queue.SimpleQueue, request: dict, pending: list) -> tuple:
    """Run one tune in the child and return its reply; what else arrives meanwhile goes to ``pending``."""
    last = [0.0]

    def progress(fraction: float) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY_S:
            last[0] = now
            channel.send(("progress", fraction))

    def cancelled() -> bool:
        while True:
            try:
                msg = inbox.get_nowait()
            except queue.Empty:
                return False
            if isinstance(msg, tuple) and msg[:1] == ("cancel",):
                return True
            pending.append(msg)
            if msg is _EOF:  # the parent has gone: nobody wants the result
                return True

    try:
        reply = ("ok", run_tune(request, progress, cancelled))
    except TuneCancelled:
        reply = ("cancelled", None)
    except Exception as exc:
        reply = ("error", exc)
    return reply


class RaceProcess:
    """``compute(scene)`` = ``run_scene(scene)`` and ``tune(request)`` = ``run_tune(request)``, run in a
    persistent child process when one is available.

    Call ``compute`` from one worker thread and ``tune`` from another (or the same); they take turns with the
    child (a race waits while a tune runs: at most ~2 s). The child starts on the first call; until it has
    imported and said "ready" (checked without blocking), scenes are computed in the calling thread, so the
    first frames never wait for it — a tune waits for it instead (in-thread it would hold the GIL for
    seconds). If the child cannot start or dies, this and every later scene and tune are computed in the
    calling thread (``fallback`` says why). ``close()`` (any thread, idempotent) ends it.

    A tune reports ``tune_progress`` (0…1, read it from any thread) and stops at ``cancel_tune()`` (any
    thread): the child polls for the cancel between chunks of ~50 steps, so it stops within milliseconds.
    ``kill_tuning()`` is the bound: a child that has not stopped by then is killed (the next race starts a
    fresh one; cancelling is not a failure).
    """

    def __init__(self, enabled: bool = True):
        from adamlab.ui import workers

        self._lock = threading.Lock()
        self._busy = threading.Lock()  # one conversation with the child at a time: a scene or a tune
        self._child = None  # workers.ChildProcess
        self._closed = False
        self._cancel = threading.Event()
        self.tuning = False  # a tune is running (in the child or in-thread)
        self.tune_progress = 0.0
        self.fallback: str | None = None if enabled else "disabled"
        if self.fallback is None and workers.processes_unavailable():
            self.fallback = f"{workers.processes_unavailable()}: computing in-thread"
        self.remote_count = 0  # scenes the child computed (tests, benchmarks)
        self.remote_tunes = 0  # tunes the child computed

    @property
    def pid(self) -> int | None:
        child = self._child
        return None if child is None else child.pid

    @property
    def _proc(self):
        """The child's ``subprocess.Popen`` (tests kill it to check the fallback)."""
        child = self._child
        return None if child is None else child.proc

    def compute(self, scene: dict) -> SceneResult | None:
        """The scene's result (None once closed: nobody will look at it)."""
        if self._closed:
            return None
        with self._busy:
            if self.fallback is None:
                try:
                    reply = self._remote(scene) if self._remote_ready() else None
                except (OSError, EOFError, ValueError, pickle.UnpicklingError) as exc:
                    if self._closed:
                        return None
                    self._fail(exc)
                    reply = None
                if reply is not None:
                    status, payload = reply
                    if status == "error":
                        raise payload if isinstance(payload, Exception) else RuntimeError(str(payload))
                    self.remote_count += 1
                    return payload
        return run_scene(scene)

    def tune(self, request: dict) -> TuneReport | None:
        """The request's ``TuneReport``, or None when it was cancelled (or the process closed)."""
        self._cancel.clear()
        self.tune_progress = 0.0
        self.tuning = True
        try:
            with self._busy:
                if self._closed or self._cancel.is_set():
                    return None
                if self.fallback is None:
                    try:
                        return self._remote_tune(request)
                    except (OSError, EOFError, ValueError, pickle.UnpicklingError) as exc:
                        if self._closed or self._cancel.is_set():  # killed by kill_tuning, or closing
                            self._forget_child()
                            return None
                        self._fail(exc)
                try:
                    return run_tune(request, self._set_progress, self._cancel.is_set)
                except TuneCancelled:
                    return None
        finally:
            self.tuning = False

    def cancel_tune(self) -> None:
        """Ask the running tune to stop (any thread; nothing happens if none runs)."""
        self._cancel.set()
        child = self._child
        if self.tuning and child is not None:
            try:
                child.send(("cancel",))
            except OSError:
                pass

    def kill_tuning(self) -> None:
        """End a child that is still tuning after ``cancel_tune`` (it hangs, or is still importing)."""
        if self.tuning and self._cancel.is_set():
            self._forget_child(timeout=0.3)  # stdin closed: its inbox sees EOF and the tune stops; else killed

    def _set_progress(self, fraction: float) -> None:
        self.tune_progress = fraction

    def _remote_tune(self, request: dict) -> TuneReport | None:
        self._remote_ready(block=True)
        child = self._child
        if child is None:
            raise OSError("race process closed")
        if self._cancel.is_set():  # cancelled while the child was still importing
            return None
        child.send(("tune", request))
        while True:
            status, payload = child.recv()  # blocks in read() with the GIL released
            if status == "progress":
                self.tune_progress = payload
                continue
            if status == "error":
                raise payload if isinstance(payload, Exception) else RuntimeError(str(payload))
            self.remote_tunes += status == "ok"
            return payload if status == "ok" else None

    def _remote_ready(self, block: bool = False) -> bool:
        """Start the child if needed; True once it has said "ready" (without ``block``, never waits for its
        imports)."""
        from adamlab.ui import workers

        with self._lock:
            if self._closed:
                return False
            if self._child is None:
                self._child = workers.ChildProcess(RACE_ENTRY, "race")
                self._child.start()
            child = self._child
        return child.wait_ready(block=block or os.name != "posix")

    def _remote(self, scene: dict) -> tuple[str, object]:
        child = self._child
        if child is None:
            raise OSError("race process closed")
        child.send(scene)
        return child.recv()  # blocks in read() with the GIL released

    def _fail(self, exc: Exception) -> None:
        self.fallback = f"race process failed ({type(exc).__name__}: {exc}); computing in-thread"
        self.close(final=False)

    def _forget_child(self, timeout: float = 2.0) -> None:
        """End the child without giving up on child processes: the next call starts a new one."""
        with self._lock:
            child, self._child = self._child, None
        if child is not None:
            child.close(timeout)

    def close(self, final: bool = True, timeout: float = 2.0) -> None:
        """End the child: close its stdin (it exits at EOF), wait briefly, kill it if it does not go."""
        with self._lock:
            if final:
                self._closed = True
            child, self._child = self._child, None
        if final:
            self._cancel.set()
        if child is not None:
            child.close(timeout)


def live_processes() -> list:
    """Child processes still running (the tests check that a closed panel leaves none)."""
    from adamlab.ui import workers

    return workers.live_processes()
