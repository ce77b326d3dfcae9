"""A watched PyTorch run (a folder written by ``adamlab.watch``) as one of the monitor's runs. Qt-free.

:class:`FollowJob` has the interface of :class:`~adamlab.ui.panels.monitor.job.RunJob` that the panel drives —
``step()``, ``snapshot()``, ``adam_reply()``, ``set_want_maps()`` — so an external run is drawn by the same
code as a NumPy one: loss curves with smoothing and log axes, lr, the g/w/u table, the heatmaps, Adam's
histograms and the samples, and it can be compared with NumPy runs on the same axes. A "step" here is one
poll of the folder: it reads only what was appended since the last one (``RunReader.poll``), and sleeps a
moment when nothing was; the job ends when the writer closes the run (or the user stops following it).

It runs on a worker thread of the window's process, not in a child: reading a few new records is cheap, and a
child would have to pickle back snapshots as large as the run.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from adamlab.runs import RunFormatError, open_run
from adamlab.runs.format import read_meta, run_folder
from adamlab.ui.panels.monitor.job import SNAPSHOT_SAMPLES, Snapshot, _log10

POLL_S = 0.25  # a live run's new points appear within this (plus one redraw)
MAP_COLUMNS = 1500  # heatmaps show at most this many steps (evenly picked) of a long run
LOSS_NAMES = ("loss", "train_loss", "train/loss")
VAL_NAMES = ("val_loss", "val/loss", "valid_loss", "eval_loss")


def check_folder(path) -> tuple[Path, dict]:
    """The run folder at ``path`` (a file inside it works too) and its run.json if it looks readable, else
    RunFormatError with one line. Cheap (reads run.json only): the worker opens the records."""
    folder = run_folder(path)
    return folder, read_meta(folder)[0]


def vocab_size(meta: dict) -> int | None:
    """The vocabulary the run's script logged as ``config={"vocab_size": V}`` (for the uniform-guess line
    ln V), or None: a watched model's loss need not be a cross-entropy over symbols at all."""
    v = (meta.get("config") or {}).get("vocab_size")
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 2 <= v <= 1e12 or v != int(v):
        return None
    return int(v)


def describe(meta: dict) -> str:
    """One line: what was watched, e.g. "GPT (804,992 parameters in 52 tensors) · AdamW"."""
    model = (meta.get("model") or {}).get("class", "model")
    opt = (meta.get("optimizer") or {}).get("class", "optimizer")
    tensors = meta.get("tensors") or []
    n = sum(int(t.get("numel", 0)) for t in tensors)
    return f"{model} ({n:,} parameters in {len(tensors)} tensors) · {opt}"


class FollowJob:
    """A run folder followed as it grows. ``step()`` polls; ``snapshot()`` gives the monitor's Snapshot."""

    def __init__(self, path, want_maps: bool = True):
        self.reader = open_run(path)
        self.folder = self.reader.folder
        self.want_maps = want_maps
        self.names = list(self.reader.tensors)
        self.shapes = [tuple(s) for s in self.reader.shapes]
        self._version = 1
        self._cached: Snapshot | None = None
        self._rate_marks: list[tuple[float, int]] = []
        self.error: str | None = None
        self.title = describe(self.reader.meta)

    # --- the loop's interface ---
    def step(self) -> bool:
        """Read what was appended; False once the run is closed and read to its end (nothing more to follow)."""
        try:
            update = self.reader.poll()
        except (RunFormatError, OSError) as exc:  # removed, replaced, damaged mid-way: stop, keep what we have
            self.error = f"stopped following: {exc}"
            self._version += 1
            return False
        if update:
            self._version += 1
            return True  # (a closed run ends at the next poll, which finds nothing more)
        if self.reader.closed:
            return False
        time.sleep(POLL_S)
        return True

    def set_want_maps(self, want: bool) -> None:
        if want != self.want_maps:
            self.want_maps = want
            self._version += 1

    # --- what the panel draws ---
    def _series(self, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        present = self.reader.scalar_names
        for name in names:
            if name in present:
                steps, values = self.reader.scalar(name)
                return steps.astype(np.float64), values.astype(np.float64)
        return np.zeros(0), np.zeros(0)

    def _at(self, name: str, steps: np.ndarray, fallback: np.ndarray) -> np.ndarray:
        """A logged scalar (tokens, lr) read at ``steps`` (linear between logged points), or ``fallback``."""
        if name not in self.reader.scalar_names or not len(steps):
            return fallback
        s, v = self.reader.scalar(name)
        return np.interp(steps, s, v) if len(s) else fallback

    def loss_name(self) -> str | None:
        present = self.reader.scalar_names
        return next((n for n in LOSS_NAMES if n in present), None)

    def snapshot(self) -> Snapshot:
        if self._cached is not None and self._cached.version == self._version:
            return self._cached
        r = self.reader
        steps, loss = self._series(LOSS_NAMES)
        stat_steps = r.steps.astype(np.float64)
        lr_stats = r.lr[:, 0].astype(np.float64) if r.lr.size else np.zeros(0)
        if len(steps) and len(stat_steps):
            lr = np.interp(steps, stat_steps, lr_stats)
        else:
            lr = self._at("lr", steps, np.full(steps.shape, np.nan))
        tokens = self._at("tokens", steps, steps)
        vs, vl = self._series(VAL_NAMES)
        T = len(self.names)
        if len(r.steps):
            g, w, u = (np.asarray(a[-1], dtype=np.float64) for a in (r.g, r.w, r.u))
        else:
            g = w = u = np.full(T, np.nan)
        if self.want_maps and len(r.steps):
            pick = np.unique(np.linspace(0, len(r.steps) - 1, min(len(r.steps), MAP_COLUMNS)).round().astype(int))
            map_steps = stat_steps[pick]
            log_u = _log10(np.asarray(r.u[pick], dtype=np.float64)).T.copy()
            log_g = _log10(np.asarray(r.g[pick], dtype=np.float64)).T.copy()
        else:
            map_steps, log_u, log_g = np.zeros(0), np.zeros((T, 0)), np.zeros((T, 0))
        last = int(max(stat_steps[-1] if len(stat_steps) else 0, steps[-1] if len(steps) else 0))
        samples = [(i, s.step, float("nan"), list(s.texts)) for i, s in enumerate(r.samples)][-SNAPSHOT_SAMPLES:]
        now = time.perf_counter()
        self._rate_marks = [m for m in self._rate_marks if now - m[0] < 10] + [(now, last)]
        t0, s0 = self._rate_marks[0]
        rate = (last - s0) / (now - t0) if now - t0 > 0.5 else 0.0
        status = "finished" if r.closed or self.error else "training"
        self._cached = Snapshot(
            version=self._version, step=last, total=max(last, 1), status=status, message=self.describe(last),
            rate=rate, steps=steps, tokens=tokens, loss=loss, lr=lr, val_steps=vs, val_tokens=self._at("tokens", vs, vs),
            val_loss=vl, names=list(self.names), shapes=list(self.shapes), g=g, w=w, u=u, map_steps=map_steps,
            log_u=log_u, log_g=log_g, events=[], diverged_step=None, diverged_tokens=None, samples=samples,
            chars="", pid=os.getpid())
        return self._cached

    def describe(self, last: int) -> str:
        r = self.reader
        parts = [f"{self.title}", f"step {last:,}", f"logged every {r.every}"]
        if not self.loss_name():
            parts.append("no 'loss' logged (w.log(step, loss=…) draws the curve)")
        bad = int(r.nonfinite[-1].sum()) if len(r.steps) else 0
        if bad:
            parts.append(f"{bad} tensor(s) non-finite at the last logged step")
        if self.error:
            parts.append(self.error)
        elif r.closed:
            parts.append("run closed")
        else:
            parts.append(f"following {self.folder.name} live")
        return " · ".join(parts)

    # --- Adam's state, from the run's histograms ---
    def adam_state(self, tensor: str) -> dict[str, Any]:
        r = self.reader
        if r.adam is None:
            return {"note": f"{r.note or 'This optimizer keeps no Adam state'}: only g, w and u were recorded."}
        try:
            snr, log_lr = r.histogram(tensor, "snr"), r.histogram(tensor, "log_lr")
        except (KeyError, ValueError) as exc:
            return {"note": str(exc)}
        if snr is None or log_lr is None:
            return {"note": f"No histogram of {tensor} yet (one every {r.hist_every} steps)."}
        counts, edges = _trim(log_lr.counts, log_lr.edges)
        return {"tensor": tensor, "step": snr.step, "size": snr.numel, "snr": (snr.counts, snr.edges),
                "log_lr": (counts, edges),
                "extra": f"{snr.below + snr.above:,} outside ±{snr.edges[-1]:g}" if snr.below + snr.above else ""}

    def adam_reply(self, tensor: str) -> tuple[str, dict]:
        return ("adam", self.adam_state(tensor))


def _trim(counts: np.ndarray, edges: np.ndarray, margin: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """The bins from the first to the last non-empty one (plus a margin): 64 fixed bins over 16 decades of
    effective lr would otherwise draw a thin spike in a wide empty axis."""
    nz = np.flatnonzero(counts)
    if not nz.size:
        return counts, edges
    lo, hi = max(nz[0] - margin, 0), min(nz[-1] + margin + 1, len(counts))
    return counts[lo:hi], edges[lo:hi + 1]


def make_follow_job(path: str, want_maps: bool) -> FollowJob:
    """The worker's factory (runs on its thread: opening a long run reads all of it)."""
    return FollowJob(path, want_maps)
