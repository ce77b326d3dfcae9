"""RunWriter: creates a run folder (see :mod:`adamlab.runs.format`) and appends records to it. No torch here.

Every append is one write() of whole framed records on an unbuffered file, so what a crash or a kill can
leave is at most one torn record at the end of a stream — which readers skip, and which ``resume=True``
cuts off before appending again. ``os.fsync`` is not called per record: the data survives the process, not
the machine losing power.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path

import numpy as np

from adamlab.runs.format import (FORMAT, HEADER, META_FILE, SCALARS_DTYPE, STREAM_FILES, VERSION, EventStream,
                                 FixedStream, count_dtype, frame, layout_of, read_meta, stream_header,
                                 write_json_atomic)

MAX_NAME = 200  # characters in a scalar's name
MAX_SAMPLES_BYTES = 4 << 20  # text samples of one log() call, UTF-8


class RunWriter:
    """Appends to a new run folder (``meta`` as built by the watcher; format and version are added) or, with
    ``resume=True``, to an existing one describing the same tensors."""

    def __init__(self, path, meta: dict, resume: bool = False):
        folder = Path(path).expanduser()
        self.folder = folder
        self._files = {}
        self._scalar_ids: dict[str, int] = {}
        if (folder / META_FILE).exists():
            if not resume:
                raise FileExistsError(f"{folder} already holds an AdamLab run: pass resume=True to append to it, "
                                      f"or choose another folder")
            self.meta, self.layout = read_meta(folder)
            _check_same_run(self.meta, meta, folder)
            self._open_for_append(cut_torn_tails=True)
            self.event({"type": "resume", "time": time.time(), "start_step": meta.get("start_step", 0),
                        "pid": os.getpid()})
            return
        if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
            raise FileExistsError(f"{folder} exists and is not an empty folder: choose a new folder for the run")
        meta = dict(meta, format=FORMAT, version=VERSION)
        self.layout = layout_of(meta, "the run description")  # what we write must read back
        self.meta = meta
        folder.mkdir(parents=True, exist_ok=True)
        for stream, name in STREAM_FILES.items():
            payload = self.layout.payload(stream)
            with open(folder / name, "xb") as f:
                f.write(stream_header(VERSION, 0 if payload is None else payload.itemsize))
        write_json_atomic(folder / META_FILE, meta)  # last: a folder with run.json is complete
        self._open_for_append(cut_torn_tails=False)
        self.event({"type": "open", "time": time.time(), "start_step": meta.get("start_step", 0),
                    "pid": os.getpid()})

    # -- appending -------------------------------------------------------------------------------------------
    def stats(self, row: np.ndarray) -> None:
        """One logging step: a 1-element array of ``layout.stats``."""
        self._write("stats", frame(_payload(row, self.layout.stats)))

    def hist(self, row: np.ndarray) -> None:
        """One histogram step: a 1-element array of ``layout.hist``."""
        self._write("hist", frame(_payload(row, self.layout.hist)))

    def scalars(self, step: int, values: dict[str, float], when: float | None = None) -> None:
        """Named numbers at ``step``; a name seen for the first time is declared in events.rec first."""
        when = time.time() if when is None else when
        rows = np.zeros(len(values), SCALARS_DTYPE)
        for k, (name, value) in enumerate(values.items()):
            rows[k] = (step, when, self._scalar_id(name), value)
        self._write("scalars", b"".join(frame(r.tobytes()) for r in rows))

    def samples(self, step: int, texts: list[str], when: float | None = None) -> None:
        size = sum(len(t.encode("utf-8", "surrogatepass")) for t in texts)
        if size > MAX_SAMPLES_BYTES:
            raise ValueError(f"samples: {size:,} bytes of text in one call (at most {MAX_SAMPLES_BYTES:,})")
        self.event({"type": "samples", "step": step, "time": time.time() if when is None else when,
                    "texts": texts})

    def event(self, event: dict) -> None:
        payload = json.dumps(event, allow_nan=False, ensure_ascii=False).encode("utf-8", "surrogatepass")
        self._write("events", frame(payload))

    def close(self, steps: int | None = None) -> None:
        if not self._files:
            return
        try:
            self.event({"type": "close", "time": time.time(), "steps": steps})
        finally:
            for f in self._files.values():
                f.close()
            self._files = {}

    # -- internals -------------------------------------------------------------------------------------------
    def _scalar_id(self, name: str) -> int:
        sid = self._scalar_ids.get(name)
        if sid is None:
            sid = len(self._scalar_ids)
            self.event({"type": "scalar", "id": sid, "name": name})
            self._scalar_ids[name] = sid
        return sid

    def _write(self, stream: str, data: bytes) -> None:
        f = self._files.get(stream)
        if f is None:
            raise ValueError(f"the run {self.folder} is closed")
        view = memoryview(data)
        while view:  # a raw file may write less than asked (signals, pipes, quotas): write the rest
            n = f.write(view)
            view = view[n:]

    def _open_for_append(self, cut_torn_tails: bool) -> None:
        if cut_torn_tails:
            self._cut_torn_tails()
        for stream, name in STREAM_FILES.items():
            self._files[stream] = open(self.folder / name, "ab", buffering=0)

    def _cut_torn_tails(self) -> None:
        """Before appending to a resumed run, drop what a killed writer left half-written (else the new
        records would follow garbage), and learn the scalar names already declared."""
        for stream, name in STREAM_FILES.items():
            payload = self.layout.payload(stream)
            s = EventStream(self.folder / name) if payload is None else FixedStream(self.folder / name, payload)
            try:
                if payload is None:
                    for e in s.read_new():
                        if e["type"] == "scalar" and isinstance(e.get("name"), str):
                            self._scalar_ids.setdefault(e["name"], len(self._scalar_ids))
                else:
                    for _ in s.chunks():
                        pass
                end, torn = s.offset, s.torn
            finally:
                s.close()
            if torn:
                with open(self.folder / name, "r+b") as f:
                    f.truncate(max(end, HEADER.size))


def make_meta(tensors: list[dict], groups: list[dict], *, every: int = 1, hist_every: int = 0, bins: int = 64,
              snr_range=(-2.0, 2.0), log_lr_range=(-10.0, 6.0), adam: str | None = None, note: str = "",
              **extra) -> dict:
    """run.json's content: ``tensors`` as dicts with at least name, shape and group (numel is added),
    ``groups`` the param groups' hyperparameters (JSON-able), ``adam`` the Adam kind whose histograms the run
    holds (None: none). ``extra`` keys (model, optimizer, config, …) are stored as they are."""
    tensors = [dict(t, shape=[int(d) for d in t["shape"]], numel=math.prod(int(d) for d in t["shape"]))
               for t in tensors]
    return dict(extra, every=every, hist_every=hist_every, tensors=tensors, groups=groups,
                adam={"kind": adam, "note": note},
                hist={"bins": bins, "snr_range": [float(x) for x in snr_range],
                      "log_lr_range": [float(x) for x in log_lr_range],
                      "count": count_dtype([t["numel"] for t in tensors])})


def _payload(row: np.ndarray, dtype: np.dtype) -> bytes:
    if row.dtype != dtype or row.size != 1:
        raise ValueError(f"expected one record of {dtype}, got {row.dtype} × {row.size}")
    return row.tobytes()


def _check_same_run(old: dict, new: dict, folder: Path) -> None:
    """Resuming appends to the same layout: the same tensors (names, shapes), groups and histogram bins."""
    def describe(meta):
        return ([(t["name"], list(t["shape"])) for t in meta["tensors"]], len(meta["groups"]),
                {k: meta["hist"][k] for k in ("bins", "snr_range", "log_lr_range")})

    a, b = describe(old), describe(new)
    if a[0] != b[0]:
        names_a, names_b = [n for n, _ in a[0]], [n for n, _ in b[0]]
        diff = sorted(set(names_a) ^ set(names_b))[:3] or [n for (n, s), (_, t) in zip(a[0], b[0]) if s != t][:3]
        raise ValueError(f"cannot resume {folder}: it watched other tensors ({len(a[0])} there, {len(b[0])} now; "
                         f"e.g. {', '.join(diff) or 'a different order'})")
    if a[1] != b[1]:
        raise ValueError(f"cannot resume {folder}: it had {a[1]} param groups, the optimizer now has {b[1]}")
    if json.dumps(a[2]) != json.dumps(_jsonable(b[2])):
        raise ValueError(f"cannot resume {folder}: its histogram bins were {a[2]}, now {b[2]}")


def _jsonable(x):
    return json.loads(json.dumps(x))


