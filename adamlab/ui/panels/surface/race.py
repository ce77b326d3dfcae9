"""What the loss-surface arena computes off the GUI thread: a scene (plain dict) in, plain arrays out.

Qt-free, so the trajectory worker runs it and the tests call it directly. All the maths is the core's:
surfaces from ``core.surfaces``, paths from ``core.trajectory.run_many`` / ``run``, optimizers from
``core.optim.make_optimizer``. This module only adds what the view needs on top: where a path leaves the
view (so a diverging run is drawn up to the edge and flagged), the results-table numbers, and the swarm's
basins of attraction.

A scene is a plain JSON-able dict (``SurfacePanel.scene`` builds one); ``run_scene(scene)`` returns a
``SceneResult``.
"""

from __future__ import annotations

import math
import os
import pickle
import threading
from dataclasses import dataclass, field

import numpy as np

from adamlab.core import trajectory
from adamlab.core.optim import make_optimizer
from adamlab.core.schedules import make_schedule
from adamlab.core.surfaces import SURFACES, Surface, ill_conditioned

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
            final_loss, dist, hit = summarize(r.path, r.loss, surface, tol)
            out.runs.append(RunResult(
                uid=o["uid"], name=o["name"], kind=o["kind"], path=r.path, loss=r.loss,
                diverged_at=r.diverged_at, shown=shown, left_view_at=left, final_loss=final_loss,
                distance=dist, steps_to_tol=hit, lr=r.lr, base_lr=float(o["hyper"].get("lr", 0.0)),
                grads=r.grads, updates=r.updates, m_hat=r.m_hat, eff_lr=r.eff_lr))
    swarm = scene.get("swarm")
    if swarm:
        sch = schedule_for(schedule, swarm["hyper"], steps)
        out.swarm = run_swarm(surface, swarm, steps, noise, seed, sch, scene.get("swarm_domain"))
    return out


WARMUP_FRACTION = 0.1  # warmup + cosine warms up over the first 10% of the steps


def schedule_for(name: str, hyper: dict, steps: int):
    """The core's schedule ``name`` for one optimizer, scaled from its own lr (None for a constant lr).

    Built here rather than by name in ``run_many`` so warmup + cosine gets a real warmup (the core's
    by-name path uses warmup = 0).
    """
    if name == "constant" or steps == 0:
        return None
    warmup = max(1, int(WARMUP_FRACTION * steps)) if name == "warmup_cosine" else 0
    return make_schedule(name, float(hyper.get("lr", 1e-3)), steps, warmup if warmup < steps else 0)


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
    starts, spacing = swarm_starts(domain, n)
    traj = trajectory.run_detailed(surface, (swarm["kind"], swarm["hyper"]), starts, steps, noise, seed, schedule)
    ends = traj.path[-1]  # (K, 2), NaN where diverged
    targets = np.asarray(list(surface.minima) + list(surface.local_minima), dtype=np.float64).reshape(-1, 2)
    basin = np.full(len(starts), -1)
    if len(targets):
        d, idx = nearest_minimum(ends, targets)
        near = d <= tolerance(surface, 0.05)  # "ended up in" = within 5% of the view of that minimum
        basin = np.where(near, idx, -1)
    basin = np.where(np.asarray(traj.diverged_at) >= 0, -2, basin)
    return SwarmResult(swarm.get("name", swarm["kind"]), starts, ends, basin, targets, spacing)


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


def serve_races(channel) -> None:
    """The child's loop: read a scene, answer ("ok", SceneResult) or ("error", exception); ends at EOF."""
    while True:
        scene = channel.recv()
        try:
            reply = ("ok", run_scene(scene))
        except Exception as exc:  # the parent re-raises it, as if the race had run in its own thread
            reply = ("error", exc)
        channel.send(reply)


class RaceProcess:
    """``compute(scene)`` = ``run_scene(scene)``, run in a persistent child process when one is available.

    Call ``compute`` from one worker thread only. The child starts on the first call; until it has
    imported and said "ready" (checked without blocking), scenes are computed in the calling thread, so the
    first frames never wait for it. If the child cannot start or dies, this and every later scene are
    computed in the calling thread (``fallback`` says why). ``close()`` (any thread, idempotent) ends it.
    """

    def __init__(self, enabled: bool = True):
        from adamlab.ui import workers

        self._lock = threading.Lock()
        self._child = None  # workers.ChildProcess
        self._closed = False
        self.fallback: str | None = None if enabled else "disabled"
        if self.fallback is None and workers.processes_unavailable():
            self.fallback = f"{workers.processes_unavailable()}: computing in-thread"
        self.remote_count = 0  # scenes the child computed (tests, benchmarks)

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
        if self.fallback is None:
            try:
                reply = self._remote(scene) if self._remote_ready() else None
            except (OSError, EOFError, ValueError, pickle.UnpicklingError) as exc:
                if self._closed:
                    return None
                self.fallback = f"race process failed ({type(exc).__name__}: {exc}); computing in-thread"
                self.close(final=False)
                reply = None
            if reply is not None:
                status, payload = reply
                if status == "error":
                    raise payload if isinstance(payload, Exception) else RuntimeError(str(payload))
                self.remote_count += 1
                return payload
        return run_scene(scene)

    def _remote_ready(self) -> bool:
        """Start the child if needed; True once it has said "ready" (never blocks on its imports)."""
        from adamlab.ui import workers

        with self._lock:
            if self._closed:
                return False
            if self._child is None:
                self._child = workers.ChildProcess(RACE_ENTRY, "race")
                self._child.start()
            child = self._child
        return child.wait_ready(block=os.name != "posix")

    def _remote(self, scene: dict) -> tuple[str, object]:
        child = self._child
        if child is None:
            raise OSError("race process closed")
        child.send(scene)
        return child.recv()  # blocks in read() with the GIL released

    def close(self, final: bool = True, timeout: float = 2.0) -> None:
        """End the child: close its stdin (it exits at EOF), wait briefly, kill it if it does not go."""
        with self._lock:
            if final:
                self._closed = True
            child, self._child = self._child, None
        if child is not None:
            child.close(timeout)


def live_processes() -> list:
    """Child processes still running (the tests check that a closed panel leaves none)."""
    from adamlab.ui import workers

    return workers.live_processes()
