"""The loss landscape of monitor runs, computed in a child process: a 2-D slice row by row, then 1-D lines. Qt-free.

:class:`LandscapeJob` is a steppable job (``workers.start_process_loop``): its factory gets the runs' trainers
(pickled from the GUI, or fetched from a live run's own process) and the settings; each ``step()`` computes one
row of the slice (~0.1 s at microgpt size), so the snapshot shows progress and a Stop/Cancel or closing the
window ends it between rows. After the rows come the 1-D views: the loss along the straight line from the
first run's initial weights to its final ones, and between the final weights of the first two runs.

The maths is :mod:`adamlab.core.landscape` (directions, PCA planes, slices, interpolation) and the picture
:func:`adamlab.core.contours.map_image`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from adamlab.core import landscape
from adamlab.core.contours import MapImage, map_image

DEFAULTS = {"directions": "pca", "span": None, "resolution": 41, "docs": 256, "split": "train", "seed": 0,
            "log": True}


@dataclass
class LandscapeSnapshot:
    """What the Landscape tab draws: the slice so far (NaN rows not computed yet) and its picture, the runs'
    paths on the plane, and the 1-D lines once computed."""

    version: int
    rows_done: int
    rows: int
    status: str  # "slicing", "lines", "done", "error"
    message: str
    kind: str  # "random" or "pca"
    alphas: np.ndarray
    betas: np.ndarray
    Z: np.ndarray  # (len(alphas), len(betas)): Z[i, j] = L(θ + αᵢ·d1 + βⱼ·d2)
    picture: MapImage | None
    explained: np.ndarray | None
    paths: list = field(default_factory=list)  # [(run name, (n, 2))]
    path_losses: list = field(default_factory=list)  # [(run name, (n,))]: the loss at each kept point
    lines: list = field(default_factory=list)  # [(label, ts, losses)]
    centre_loss: float = float("nan")
    seconds: float = 0.0


class LandscapeJob:
    """One landscape request: ``names`` label the trainers (the first is the selected run)."""

    def __init__(self, trainers: list, names: list[str], settings: dict):
        s = {**DEFAULTS, **(settings or {})}
        self.names, self.settings, self.log = list(names), s, bool(s["log"])
        self.t0 = time.perf_counter()
        first = trainers[0]
        self.cfg = first.model_config
        self.batch = landscape.fixed_batch(first, int(s["docs"]), s["split"])
        span, res = s["span"], int(s["resolution"])
        if s["directions"] == "pca":
            trajs, steps = [], []
            for tr in trainers:
                st, w = landscape.run_trajectory(tr)
                steps.append(st)
                trajs.append(w)
            self.plane = landscape.pca_plane(trajs[0] if len(trajs) == 1 else trajs, self.cfg, span, res,
                                             steps[0] if len(trajs) == 1 else steps)
        else:
            self.plane = landscape.run_plane(first, "random", int(s["seed"]), span, res)
        x, y, mask = self.batch
        p = self.plane
        self.Z = np.full((len(p.alphas), len(p.betas)), np.nan)
        self.rows = landscape.iter_loss_slice(p.origin, self.cfg, x, y, p.d1, p.d2, p.alphas, p.betas, mask)
        self.done_rows = 0
        self.picture: MapImage | None = None
        self.path_losses = []
        if p.kind == "pca":  # the loss at each kept point of each path, on the same batch (the map's heights)
            for name, tr in zip(self.names, trainers):
                _, w = landscape.run_trajectory(tr)
                self.path_losses.append((name, landscape.losses_at(w, self.cfg, x, y, mask)))
        # the 1-D views, computed after the slice: initial → final of the first run; final → final of two runs
        self.pending_lines = [(f"{self.names[0]}: initial → final weights", landscape.initial_params(first),
                               first.params)]
        if len(trainers) > 1:
            self.pending_lines.append((f"final weights: {self.names[0]} → {self.names[1]}", first.params,
                                       trainers[1].params))
        self.lines: list = []
        self.status, self.message, self.version = "slicing", "", 1

    # --- the loop's interface ---
    def step(self) -> bool:
        if self.status == "slicing":
            try:
                i, row = next(self.rows)
            except StopIteration:
                self.status, self.rows = "lines", None  # (a generator cannot travel back to the window)
                return True
            self.Z[i] = row
            self.done_rows = i + 1
            if self.done_rows % 4 == 0 or self.done_rows == len(self.Z):  # a new picture every few rows
                self.picture = self._picture()
        elif self.status == "lines":
            if not self.pending_lines:
                self.status = "done"
                self.picture = self._picture()
                return False
            label, a, b = self.pending_lines.pop(0)
            x, y, mask = self.batch
            ts, losses = landscape.interpolate(a, b, self.cfg, x, y, mask=mask)
            self.lines.append((label, ts, losses))
        self.version += 1
        return True

    def _picture(self) -> MapImage:
        """x along d1 (α), y along d2 (β), as the paths' coordinates are."""
        return map_image(self.plane.alphas, self.plane.betas, self.Z.T, self.log)

    def snapshot(self) -> LandscapeSnapshot:
        p = self.plane
        centre = self.Z[np.argmin(np.abs(p.alphas)), np.argmin(np.abs(p.betas))]
        paths = [(n, xy) for n, xy in zip(self.names, p.paths)] if p.kind == "pca" else []
        return LandscapeSnapshot(
            version=self.version, rows_done=self.done_rows, rows=len(self.Z), status=self.status,
            message=self.describe(), kind=p.kind, alphas=p.alphas, betas=p.betas, Z=self.Z.copy(),
            picture=self.picture, explained=p.explained, paths=paths, path_losses=list(self.path_losses),
            lines=list(self.lines), centre_loss=float(centre), seconds=time.perf_counter() - self.t0)

    def describe(self) -> str:
        p, n = self.plane, len(self.batch[0])
        what = ("the plane of the runs' two main directions (PCA of their kept weights; "
                f"{p.explained[0]:.0%} and {p.explained[1]:.0%} of their motion)" if p.kind == "pca" else
                "two random filter-normalised directions around the run's weights")
        return f"loss on {n} {self.settings['split']} documents over {what}"


def make_landscape_job(trainers: list, names: list[str], settings: dict) -> LandscapeJob:
    """The worker's factory: the job is built in the child process (the plane and the batch are computed there)."""
    return LandscapeJob(trainers, names, settings)
