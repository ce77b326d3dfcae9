"""RunReader: a run folder as NumPy arrays, followed incrementally while it is written. No torch, no Qt.

    run = open_run("runs/exp1")        # reads what is there; RunFormatError (one line) for a bad folder
    run.tensors, run.steps, run.u      # names; logged steps (S,); u per step and tensor (S, T) float32
    run.scalar("loss")                 # (steps, values)
    run.histogram("h.0.attn.c_attn.weight", "snr")   # the latest m̂/(√v̂+ε) histogram of that tensor
    update = run.poll()                # reads only what was appended since; update.stats is a slice of rows

Arrays returned are read-only views that stay valid after later polls (which append to new buffers).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from adamlab.runs.format import (FLAG_NONFINITE, FLAG_SKIPPED, SCALARS_DTYPE, STREAM_FILES, EventStream,
                                 FixedStream, RunFormatError, hist_edges, read_meta, run_folder)

HIST_KINDS = ("snr", "log_lr")


class _Grow:
    """An array that grows along axis 0 with amortised O(1) appends; ``view`` is the filled part, read-only."""

    def __init__(self, dtype, shape=()):
        self._a = np.empty((16, *shape), dtype)
        self.n = 0

    def append(self, block: np.ndarray) -> None:
        k = len(block)
        if self.n + k > len(self._a):
            self.reserve(max(len(self._a), k))
        self._a[self.n:self.n + k] = block
        self.n += k

    def reserve(self, more: int) -> None:
        """Room for ``more`` rows after the filled ones, plus half as much headroom for the polls to come."""
        if self.n + more > len(self._a):
            bigger = np.empty(((self.n + more) * 3 // 2, *self._a.shape[1:]), self._a.dtype)
            bigger[:self.n] = self._a[:self.n]
            self._a = bigger  # views handed out earlier keep the old buffer alive and unchanged

    @property
    def view(self) -> np.ndarray:
        v = self._a[:self.n]
        v.flags.writeable = False
        return v


@dataclass(frozen=True)
class Histogram:
    """One tensor's histogram at one step. ``counts[k]`` counts values in [edges[k], edges[k+1]); ``below``
    those under edges[0], ``above`` those at or over edges[-1]; ``nonfinite`` the NaNs (in no bin)."""

    tensor: str
    kind: str  # "snr": m̂/(√v̂+ε); "log_lr": log10 lr/(√v̂+ε)
    step: int
    edges: np.ndarray  # (B+1,)
    counts: np.ndarray  # (B,) int64
    below: int
    above: int
    nonfinite: int
    numel: int


@dataclass(frozen=True)
class Sample:
    step: int
    time: float
    texts: tuple[str, ...]


@dataclass
class RunUpdate:
    """What one poll() added: row ranges into the arrays, new scalar names and whether the run closed."""

    stats: slice = field(default_factory=lambda: slice(0, 0))  # rows of steps/g/w/u/lr/flags
    hist: slice = field(default_factory=lambda: slice(0, 0))  # entries of hist_steps
    samples: slice = field(default_factory=lambda: slice(0, 0))  # entries of samples
    scalars: dict = field(default_factory=dict)  # name -> slice of that scalar's (steps, values)
    new_names: list = field(default_factory=list)
    closed: bool = False  # the writer closed the run in this poll

    def __bool__(self):
        return bool(self.stats.stop > self.stats.start or self.hist.stop > self.hist.start or self.scalars
                    or self.samples.stop > self.samples.start or self.new_names or self.closed)


class RunReader:
    """A run folder, read once at construction and then incrementally by :meth:`poll`. Keeps its files open
    until close(); use one reader from one thread (poll and histogram reads share the file positions)."""

    def __init__(self, path):
        self.folder: Path = run_folder(path)
        self.meta, self.layout = read_meta(self.folder)
        m = self.meta
        self.tensors: list[str] = [t["name"] for t in m["tensors"]]
        self.shapes: list[tuple[int, ...]] = [tuple(t["shape"]) for t in m["tensors"]]
        self.numel = np.array([t["numel"] for t in m["tensors"]], dtype=np.int64)
        self.group_of = np.array([t["group"] for t in m["tensors"]], dtype=np.int64)
        self.groups: list[dict] = m["groups"]
        self.edges = hist_edges(m)
        self._index = {name: i for i, name in enumerate(self.tensors)}
        T, G = self.layout.tensors, self.layout.groups
        self._stats = {"step": _Grow(np.int64), "time": _Grow(np.float64), "lr": _Grow(np.float64, (G,)),
                       "g": _Grow(np.float32, (T,)), "w": _Grow(np.float32, (T,)), "u": _Grow(np.float32, (T,)),
                       "flags": _Grow(np.uint8, (T,))}
        self._hist_steps = _Grow(np.int64)
        self._scalars: dict[int, tuple[_Grow, _Grow, _Grow]] = {}  # id -> steps, values, times
        self._scalar_names: dict[int, str] = {}
        self._pending = np.empty(0, SCALARS_DTYPE)  # values whose name is not declared yet
        self._samples: list[Sample] = []
        self.sessions: list[dict] = []  # the open / resume / close events, in order
        self._series: dict[tuple[int, str], tuple[int, _Grow]] = {}
        self._streams = {}
        try:
            for stream, name in STREAM_FILES.items():
                payload = self.layout.payload(stream)
                path = self.folder / name
                self._streams[stream] = EventStream(path) if payload is None else FixedStream(path, payload)
            self.poll()
        except BaseException:
            self.close()
            raise

    # -- reading -----------------------------------------------------------------------------------------------
    def poll(self) -> RunUpdate:
        """Read what was appended since the last call (only that: one fstat per file when nothing is new)."""
        if not self._streams:
            raise RunFormatError(f"the reader of {self.folder} is closed")
        up = RunUpdate()
        s0, h0 = self._stats["step"].n, self._hist_steps.n
        stats, hist, scalars = (self._streams[k] for k in ("stats", "hist", "scalars"))
        stats.check_still_there()
        for grow in self._stats.values():
            grow.reserve(stats.pending())
        for rows in stats.chunks():
            for name, grow in self._stats.items():
                grow.append(stats.field(rows, name))
        up.stats = slice(s0, self._stats["step"].n)
        for rows in hist.chunks():  # (only the steps stay in memory: a histogram is read when asked for)
            self._hist_steps.append(hist.field(rows, "step"))
        up.hist = slice(h0, self._hist_steps.n)
        chunks = [rows.copy().view(SCALARS_DTYPE)[:, 0] for rows in scalars.chunks()]  # (copies: the buffer is reused)
        values = np.concatenate(chunks) if chunks else np.empty(0, SCALARS_DTYPE)
        was_closed, n_samples = self.closed, len(self._samples)
        for event in self._streams["events"].read_new():  # after scalars: their names are declared by now
            self._event(event, up)
        self._add_scalars(values, up)
        up.samples = slice(n_samples, len(self._samples))
        up.closed = self.closed and not was_closed
        return up

    def _event(self, e: dict, up: RunUpdate) -> None:
        kind = e["type"]
        if kind == "scalar":
            sid, name = e.get("id"), e.get("name")
            if isinstance(sid, int) and isinstance(name, str) and sid not in self._scalar_names:
                self._scalar_names[sid] = name
                up.new_names.append(name)
        elif kind == "samples":
            texts, step, when = e.get("texts"), e.get("step"), e.get("time", math.nan)
            if (isinstance(texts, list) and all(isinstance(t, str) for t in texts) and isinstance(step, int)
                    and isinstance(when, (int, float))):
                self._samples.append(Sample(step, float(when), tuple(texts)))
        elif kind in ("open", "resume", "close"):
            self.sessions.append(e)
        # other types (or malformed ones): from a newer AdamLab of the same format version; nothing to show

    def _add_scalars(self, values: np.ndarray, up: RunUpdate) -> None:
        if len(self._pending):
            values = np.concatenate([self._pending, values])
        known = np.isin(values["id"], np.fromiter(self._scalar_names, np.int64, len(self._scalar_names)))
        self._pending = values[~known]
        values = values[known]
        for sid in np.unique(values["id"]).tolist():
            part = values[values["id"] == sid]
            if sid not in self._scalars:
                self._scalars[sid] = (_Grow(np.int64), _Grow(np.float64), _Grow(np.float64))
            steps, vals, times = self._scalars[sid]
            start = steps.n
            steps.append(part["step"])
            vals.append(part["value"])
            times.append(part["time"])
            up.scalars[self._scalar_names[sid]] = slice(start, steps.n)

    def close(self) -> None:
        for s in self._streams.values():
            s.close()
        self._streams = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- what was watched --------------------------------------------------------------------------------------
    @property
    def adam(self) -> str | None:
        """The Adam-family optimizer whose state is histogrammed ("adam", "nadam", "radam"), or None."""
        return self.meta["adam"].get("kind")

    @property
    def note(self) -> str:
        """What the run records (e.g. that an optimizer without Adam state gets g, w and u only)."""
        return self.meta["adam"].get("note", "")

    @property
    def every(self) -> int:
        return self.meta["every"]

    @property
    def hist_every(self) -> int:
        return self.meta["hist_every"]

    @property
    def closed(self) -> bool:
        """Whether the writer closed the run (a live or killed run is not closed)."""
        return bool(self.sessions) and self.sessions[-1]["type"] == "close"

    @property
    def torn(self) -> dict[str, int]:
        """Bytes of incomplete records at the end of each file (being written, or left by a kill)."""
        return {name: s.torn for name, s in self._streams.items()}

    def tensor_index(self, tensor: str | int) -> int:
        if isinstance(tensor, (int, np.integer)):
            if not 0 <= tensor < len(self.tensors):
                raise IndexError(f"tensor index {tensor} out of range (the run has {len(self.tensors)} tensors)")
            return int(tensor)
        try:
            return self._index[tensor]
        except KeyError:
            raise KeyError(f"no tensor {tensor!r} in this run") from None

    # -- per-step statistics (S logged steps × T tensors) ------------------------------------------------------
    @property
    def steps(self) -> np.ndarray:
        """(S,) int64: the optimizer step of each logged row."""
        return self._stats["step"].view

    @property
    def times(self) -> np.ndarray:
        """(S,) float64: Unix time at which each row was written."""
        return self._stats["time"].view

    @property
    def lr(self) -> np.ndarray:
        """(S, G) float64: each param group's lr at each logged step (``group_of`` maps tensors to groups)."""
        return self._stats["lr"].view

    @property
    def g(self) -> np.ndarray:
        """(S, T) float32: RMS of each tensor's gradient."""
        return self._stats["g"].view

    @property
    def w(self) -> np.ndarray:
        """(S, T) float32: RMS of each tensor's weights after the step."""
        return self._stats["w"].view

    @property
    def u(self) -> np.ndarray:
        """(S, T) float32: RMS(θ_after − θ_before) / RMS(θ_before), the real relative update."""
        return self._stats["u"].view

    @property
    def flags(self) -> np.ndarray:
        """(S, T) uint8: FLAG_SKIPPED (no grad at that step) | FLAG_NONFINITE (inf/nan seen)."""
        return self._stats["flags"].view

    @property
    def nonfinite(self) -> np.ndarray:
        return (self.flags & FLAG_NONFINITE).astype(bool)

    @property
    def skipped(self) -> np.ndarray:
        return (self.flags & FLAG_SKIPPED).astype(bool)

    @property
    def grad_norm(self) -> np.ndarray:
        """(S,) float64: the global gradient norm over the watched tensors, √Σ g²·numel (skipped ones left out)."""
        g2 = np.square(self.g.astype(np.float64)) * self.numel
        return np.sqrt(np.where(self.skipped, 0.0, g2).sum(axis=1))

    # -- scalars and samples -----------------------------------------------------------------------------------
    @property
    def scalar_names(self) -> list[str]:
        return [self._scalar_names[i] for i in sorted(self._scalar_names) if i in self._scalars]

    def scalar(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps int64, values float64) of one logged scalar, in the order they were logged."""
        steps, values, _ = self._scalar_grows(name)
        return steps.view, values.view

    def scalar_times(self, name: str) -> np.ndarray:
        """Unix times at which the values of ``scalar(name)`` were logged."""
        return self._scalar_grows(name)[2].view

    def _scalar_grows(self, name):
        for sid, n in self._scalar_names.items():
            if n == name and sid in self._scalars:
                return self._scalars[sid]
        raise KeyError(f"no scalar {name!r} in this run (it has {', '.join(self.scalar_names) or 'none'})")

    @property
    def samples(self) -> list[Sample]:
        return list(self._samples)

    # -- Adam's histograms -------------------------------------------------------------------------------------
    @property
    def hist_steps(self) -> np.ndarray:
        """(H,) int64: the steps that have histograms."""
        return self._hist_steps.view

    def histogram(self, tensor: str | int, kind: str = "snr", step: int | None = None) -> Histogram | None:
        """The histogram of ``kind`` for one tensor at ``step`` (the latest histogram step ≤ it; None: the
        latest of all). None when there is none: no Adam state, no histogram step yet, or the tensor had
        no grad then."""
        i, _ = self.tensor_index(tensor), _check_kind(kind)
        steps = self.hist_steps
        if not len(steps):
            return None
        k = len(steps) - 1 if step is None else int(np.searchsorted(steps, step, side="right")) - 1
        if k < 0:
            return None
        present, counts = self._hist_cells(k, i, kind)
        return self._histogram(i, kind, int(steps[k]), counts) if present else None

    def histogram_series(self, tensor: str | int, kind: str = "snr") -> tuple[np.ndarray, np.ndarray]:
        """All of one tensor's histograms: (hist_steps (H,), counts (H, B+2) int64) with columns below, the B
        bins, above; rows of steps where the tensor had none are −1. Reads only this tensor's cells, and
        on later calls only the rows added since."""
        i, _ = self.tensor_index(tensor), _check_kind(kind)
        done, grow = self._series.get((i, kind), (0, None))
        if grow is None:
            grow = _Grow(np.int64, (self.layout.bins + 2,))
        rows = []
        for k in range(done, len(self.hist_steps)):
            present, counts = self._hist_cells(k, i, kind)
            rows.append(counts if present else np.full(self.layout.bins + 2, -1, np.int64))
        if rows:
            grow.append(np.stack(rows))
        self._series[(i, kind)] = (len(self.hist_steps), grow)
        return self.hist_steps, grow.view

    def _hist_cells(self, row: int, i: int, kind: str) -> tuple[bool, np.ndarray]:
        dt = self.layout.hist
        stream = self._streams["hist"]
        present = stream.read_slice(row, dt.fields["present"][1] + i, 1)[0]
        width = (self.layout.bins + 2) * np.dtype(self.layout.count).itemsize
        raw = stream.read_slice(row, dt.fields[kind][1] + i * width, width)
        return bool(present), np.frombuffer(raw, self.layout.count).astype(np.int64)

    def _histogram(self, i: int, kind: str, step: int, counts: np.ndarray) -> Histogram:
        numel = int(self.numel[i])
        return Histogram(self.tensors[i], kind, step, self.edges[kind], counts[1:-1], int(counts[0]),
                         int(counts[-1]), numel - int(counts.sum()), numel)


def _check_kind(kind: str) -> str:
    if kind not in HIST_KINDS:
        raise ValueError(f"kind must be one of {HIST_KINDS}, got {kind!r}")
    return kind


def open_run(path) -> RunReader:
    """Open a run folder (or a file inside one): everything written so far is read; ``poll()`` for more."""
    return RunReader(path)
