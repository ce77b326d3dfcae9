"""``adamlab.watch``: Adam's inside view of your own PyTorch training, written to a run folder.

    w = adamlab.watch(model, optimizer, "runs/exp1", every=10)
    for step in range(steps):
        ...; loss.backward(); optimizer.step(); optimizer.zero_grad()
        w.log(step, loss=loss.item())
    w.close()                                  # or: with adamlab.watch(...) as w:

The watcher hangs on torch's optimizer step hooks (no wrapper, your loop is unchanged). It numbers the
optimizer steps it sees 0, 1, 2, … (from ``start_step``), so in the loop above the statistics of the step
taken at iteration ``step`` are stored under ``step``, the same number you give log(). A step i with
i % every == 0 is a logging step: just before it the pre-hook copies each watched tensor's weights (on its
own device); just after it the post-hook measures, per tensor, g = RMS(grad), w = RMS(θ), u = RMS(Δθ)/RMS(θ
before) with the real Δθ, and — every ``hist_every`` steps, for Adam, AdamW, AMSGrad, NAdam and RAdam —
histograms of m̂/(√v̂+ε) and log10 lr/(√v̂+ε) (see :mod:`adamlab.runs.torch_stats` for each optimizer's
exact definitions). All of it is computed on the tensors' device; the numbers come to the CPU in one copy
per device per logging step. Other steps cost one integer increment.

Under torch.distributed only rank 0 measures and writes; DDP replicates parameters, gradients (all-reduced)
and optimizer state, so rank 0's figures are the whole model's. Sharded parameters (FSDP, DTensor) are
refused at watch() time rather than shown per shard. Runs with GradScaler skip optimizer steps on overflow:
the hooks do not fire then, so set ``w.step = step`` at the top of the loop to keep the numbers aligned.
"""

from __future__ import annotations

import atexit
import json
import math
import numbers
import os
import sys
import time
import warnings
import weakref
from pathlib import Path

import numpy as np

from adamlab.runs import torch_stats
from adamlab.runs.format import FLAG_NONFINITE, FLAG_SKIPPED
from adamlab.runs.writer import MAX_NAME, RunWriter, make_meta

MAX_REPR = 20_000  # characters of repr(model) kept in run.json


def _torch():
    try:
        import torch
    except ImportError:
        raise ImportError("adamlab.watch needs PyTorch (pip install torch); the rest of AdamLab does not") from None
    return torch


def watch(model, optimizer, path, every: int = 10, *, hist_every: int | None = None, bins: int = 64,
          snr_range=(-2.0, 2.0), log_lr_range=(-10.0, 6.0), start_step: int = 0, resume: bool = False,
          config: dict | None = None) -> "Watcher":
    """Watch ``optimizer`` training ``model`` and write the run to the folder ``path``.

    every: measure every N-th optimizer step (steps 0, N, 2N, …). hist_every: histogram steps (a multiple of
    every; default the multiple of every nearest above 100; 0 = none). bins, snr_range, log_lr_range: the
    fixed histogram bins (plus one bin below and one above each range). start_step: the number of the next
    optimizer step (for a resumed training). resume: append to an existing run folder of the same model
    instead of refusing it. config: a JSON-able dict stored with the run (your hyperparameters).
    ``model`` may be a DDP / DataParallel / torch.compile wrapper or None (names then come from the
    optimizer's param_names, or are param_groups.<g>.<i>).
    """
    return Watcher(model, optimizer, path, every, hist_every=hist_every, bins=bins, snr_range=snr_range,
                   log_lr_range=log_lr_range, start_step=start_step, resume=resume, config=config)


class Watcher:
    """Returned by :func:`watch`: ``log(step, **scalars, samples=None)``, ``close()``; a context manager.
    ``step`` is the number the next optimizer step will get."""

    def __init__(self, model, optimizer, path, every, *, hist_every, bins, snr_range, log_lr_range,
                 start_step, resume, config):
        torch = _torch()
        self.every = _int_arg("every", every, 1)
        hist_every = _default_hist_every(self.every) if hist_every is None else _int_arg("hist_every", hist_every, 0)
        if hist_every % self.every:
            raise ValueError(f"hist_every must be a multiple of every ({self.every}), got {hist_every}")
        self.hist_every = hist_every
        bins = _int_arg("bins", bins, 1, 4096)
        snr_range, log_lr_range = _range_arg("snr_range", snr_range), _range_arg("log_lr_range", log_lr_range)
        self.step = _int_arg("start_step", start_step, 0)
        if config is not None and not isinstance(config, dict):
            raise TypeError(f"config must be a dict or None, got {type(config).__name__}")
        self.path = Path(path).expanduser()
        self.optimizer = optimizer
        inner = _unwrap(torch, model)
        entries = _watched(torch, inner, optimizer)
        _refuse_sharded(model, entries)
        self.names = [name for name, _, _ in entries]
        self._params = [p for _, p, _ in entries]
        self._group_of = [gi for _, _, gi in entries]
        self._groups = len(optimizer.param_groups)
        self._numel = np.array([p.numel() for p in self._params], dtype=np.float64)
        self.kind, self.note = torch_stats.adam_kind(torch, optimizer)
        self.rank, self.world_size = _rank(torch)
        self._bins, self._snr_range, self._log_lr_range = bins, snr_range, log_lr_range
        self._before = None
        self._writer = None
        self._closed = False
        if self.rank == 0:
            meta = self._describe(torch, model, inner, optimizer, config)
            self._writer = RunWriter(self.path, meta, resume=resume)
            self.layout = self._writer.layout
        self._handles = [optimizer.register_step_pre_hook(self._pre_step),
                         optimizer.register_step_post_hook(self._post_step)]
        self._atexit = _close_at_exit(self)
        atexit.register(self._atexit)

    # -- the public calls ------------------------------------------------------------------------------------
    def log(self, step: int | None = None, *, samples=None, **scalars) -> None:
        """Record named numbers (loss=…, val_loss=…, tokens=…) and optional text samples at ``step`` (default:
        the number of the last optimizer step taken). Only rank 0 writes; elsewhere this does nothing."""
        if self._closed:
            raise ValueError(f"log() on a closed watcher ({self.path})")
        step = max(self.step - 1, 0) if step is None else _int_arg("step", step, -(2**62), 2**62)
        values = {_name(k): _number(k, v) for k, v in scalars.items()}
        texts = None if samples is None else _texts(samples)
        if self._writer is None:
            return
        when = time.time()
        self._safely(lambda: values and self._writer.scalars(step, values, when))
        if texts is not None and self._writer is not None:
            self._safely(lambda: self._writer.samples(step, texts, when))

    def close(self) -> None:
        """Remove the hooks and mark the run finished. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for h in self._handles:
            h.remove()
        self._handles = []
        self._before = None
        atexit.unregister(self._atexit)
        if self._writer is not None:
            writer, self._writer = self._writer, None
            try:
                writer.close(steps=self.step)
            except OSError as e:
                warnings.warn(f"adamlab.watch: could not finish {self.path}: {e}", RuntimeWarning, stacklevel=2)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self):
        state = "closed" if self._closed else ("writing" if self._writer else f"rank {self.rank}: not writing")
        return (f"<Watcher {self.path} every={self.every} hist_every={self.hist_every} step={self.step} "
                f"{len(self.names)} tensors, {state}>")

    # -- the hooks -------------------------------------------------------------------------------------------
    def _pre_step(self, optimizer, args, kwargs):
        if self._writer is None or self.step % self.every:
            return
        torch = sys.modules["torch"]
        with torch.no_grad():  # the weights before the step, only on logging steps, on their own device
            self._before = [p.detach().clone() if p.grad is not None else None for p in self._params]

    def _post_step(self, optimizer, args, kwargs):
        step = self.step
        self.step += 1
        before, self._before = self._before, None
        if before is None or self._writer is None:
            return
        torch = sys.modules["torch"]
        with torch.no_grad():
            stats, hist = self._measure(torch, optimizer, step, before)
        self._safely(lambda: self._writer.stats(stats))
        if hist is not None and self._writer is not None:
            self._safely(lambda: self._writer.hist(hist))

    # -- measuring -------------------------------------------------------------------------------------------
    def _measure(self, torch, optimizer, step, before):
        """One logging step's records: the stats row and, on histogram steps, the histogram row."""
        live = [i for i, (p, b) in enumerate(zip(self._params, before)) if b is not None and p.grad is not None]
        if not live:
            return self._stats_row(step, live, *(np.empty(0),) * 4), None
        params = [self._params[i].detach() for i in live]
        olds = [before[i] for i in live]
        ship = torch_stats.norms(torch, [self._params[i].grad for i in live])  # ‖g‖, then ‖θ_before‖, ‖θ_after‖, ‖Δθ‖
        ship += torch_stats.norms(torch, olds) + torch_stats.norms(torch, params)
        hist_live = []
        if self.kind and self.hist_every and step % self.hist_every == 0:
            hist_live, counts = self._adam_histograms(torch, optimizer, live, olds)
            ship += counts
        ship += torch_stats.norms(torch, torch_stats.differences(torch, olds, params))  # ‖Δθ‖
        host = torch_stats.fetch(torch, ship)
        n = len(live)
        g_n, wb_n, w_n = (np.array(host[k * n:(k + 1) * n], dtype=np.float64) for k in range(3))
        d_n = np.array(host[len(host) - n:], dtype=np.float64)
        stats = self._stats_row(step, live, g_n, wb_n, w_n, d_n)
        hist = None
        if self.kind and self.hist_every and step % self.hist_every == 0:
            hist = self._hist_row(step, hist_live, host[3 * n:len(host) - n])
        return stats, hist

    def _stats_row(self, step, live, g_n, wb_n, w_n, d_n):
        T = len(self.names)
        g, w, u = (np.full(T, np.nan) for _ in range(3))
        flags = np.full(T, FLAG_SKIPPED, dtype=np.uint8)
        root_n = np.sqrt(self._numel[live])
        with np.errstate(all="ignore"):
            g[live], w[live] = g_n / root_n, w_n / root_n
            u[live] = np.where(wb_n > 0, d_n / wb_n, np.nan)  # nan when the weights were all zero
            finite = np.isfinite(g_n) & np.isfinite(wb_n) & np.isfinite(w_n) & np.isfinite(d_n)
            finite &= np.isfinite(g[live].astype(np.float32)) & np.isfinite(w[live].astype(np.float32))
        flags[live] = np.where(finite, 0, FLAG_NONFINITE)
        row = np.zeros(1, self.layout.stats)
        r = row[0]
        r["step"], r["time"] = step, time.time()
        r["lr"] = [_float(g["lr"]) for g in self.optimizer.param_groups[:self._groups]]
        r["g"], r["w"], r["u"], r["flags"] = g, w, u, flags
        return row

    def _adam_histograms(self, torch, optimizer, live, olds):
        """Per live tensor with Adam state: the counts of m̂/(√v̂+ε) and of log10 lr/(√v̂+ε) (device tensors)."""
        groups = optimizer.param_groups
        chosen, states = [], []
        for k, i in enumerate(live):
            p = self._params[i]
            state = optimizer.state.get(p, {})
            if p.is_complex() or not {"exp_avg", "exp_avg_sq", "step"} <= state.keys():
                continue
            if groups[self._group_of[i]].get("amsgrad", False) and "max_exp_avg_sq" not in state:
                continue
            chosen.append((k, i))
            states.append(state)
        # the step counts (and NAdam's μ-products) as Python numbers: one transfer if they live on a GPU
        scalars = [_as_tensor(torch, s["step"]) for s in states]
        if self.kind == "nadam":
            scalars += [_as_tensor(torch, s["mu_product"]) for s in states]
        values = [float(x) for x in torch_stats.fetch(torch, scalars)] if scalars else []
        t_of, mu_of = values[:len(states)], values[len(states):] or [1.0] * len(states)
        (lo, hi), (llo, lhi) = self._snr_range, self._log_lr_range
        counts = []
        for (k, i), state, t, mu_product in zip(chosen, states, t_of, mu_of):
            snr, lr_eff = torch_stats.adam_step_and_lr(torch, self.kind, groups[self._group_of[i]], state, t,
                                                       mu_product, self._params[i].grad, olds[k])
            counts.append(torch_stats.binned(torch, snr, lo, hi, self._bins))
            counts.append(torch_stats.binned(torch, lr_eff.log10_(), llo, lhi, self._bins))
        return [i for _, i in chosen], counts

    def _hist_row(self, step, hist_live, counts):
        row = np.zeros(1, self.layout.hist)
        r = row[0]
        r["step"] = step
        for j, i in enumerate(hist_live):
            r["present"][i] = 1
            r["snr"][i] = counts[2 * j]
            r["log_lr"][i] = counts[2 * j + 1]
        return row

    # -- the run's description ---------------------------------------------------------------------------------
    def _describe(self, torch, model, inner, optimizer, config) -> dict:
        every_param = {id(p): p for p in (inner.parameters() if inner is not None else self._params)}
        now = time.time()
        tensors = [{"name": n, "shape": list(p.shape), "group": gi, "dtype": str(p.dtype).replace("torch.", ""),
                    "device": str(p.device)} for n, p, gi in zip(self.names, self._params, self._group_of)]
        groups = [_jsonable({k: v for k, v in g.items() if k not in ("params", "param_names")})
                  for g in optimizer.param_groups]
        return make_meta(
            tensors, groups, every=self.every, hist_every=self.hist_every, bins=self._bins,
            snr_range=self._snr_range, log_lr_range=self._log_lr_range, adam=self.kind, note=self.note,
            created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)), created_unix=now,
            adamlab=_adamlab_version(), torch=torch.__version__, start_step=self.step,
            model={"class": type(inner).__name__ if inner is not None else None,
                   "wrapper": type(model).__name__ if model is not inner else None,
                   "numel": int(sum(p.numel() for p in every_param.values())),
                   "watched_numel": int(sum(p.numel() for p in self._params)),
                   "repr": repr(inner)[:MAX_REPR] if inner is not None else ""},
            optimizer={"class": type(optimizer).__name__, "module": type(optimizer).__module__,
                       "defaults": _jsonable({k: v for k, v in optimizer.defaults.items() if k != "params"})},
            distributed={"world_size": self.world_size, "backend": _backend(torch) if self.world_size > 1 else None},
            config=_jsonable(config or {}), host={"pid": os.getpid(), "argv": sys.argv[:20]})

    def _safely(self, write) -> None:
        """Run one write; an I/O error (disk full, folder removed) stops the watcher with a warning instead of
        ending the training it watches."""
        try:
            write()
        except OSError as e:
            warnings.warn(f"adamlab.watch: stopped writing {self.path} after an I/O error ({e}); training goes on",
                          RuntimeWarning, stacklevel=3)
            writer, self._writer = self._writer, None
            try:
                writer.close(steps=self.step)
            except OSError:
                pass


# ----------------------------------------------------------------------------------------------------------
# which tensors, under which names


def _unwrap(torch, model):
    """The module inside DDP / DataParallel / torch.compile wrappers (their names carry no prefix then)."""
    wrappers = (torch.nn.parallel.DistributedDataParallel, torch.nn.DataParallel)
    while model is not None:
        if isinstance(model, wrappers):
            model = model.module
        elif hasattr(model, "_orig_mod") and isinstance(model, torch.nn.Module):  # torch.compile's wrapper
            model = model._orig_mod
        else:
            break
    if model is not None and not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module or None, got {type(model).__name__}")
    return model


def _watched(torch, model, optimizer) -> list[tuple[str, object, int]]:
    """(name, parameter, group index) of every trainable parameter the optimizer updates, in the model's order;
    tied weights appear once (named_parameters() already removes duplicates)."""
    if not isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(optimizer).__name__}")
    order = {}
    if model is not None:
        for k, (name, p) in enumerate(model.named_parameters()):
            order.setdefault(id(p), (k, name))
    entries = []
    for gi, group in enumerate(optimizer.param_groups):
        names = group.get("param_names")
        for j, p in enumerate(group["params"]):
            if not p.requires_grad:
                continue  # frozen
            k, name = order.get(id(p), (len(order) + len(entries), None))
            name = name or (names[j] if names and j < len(names) else f"param_groups.{gi}.{j}")
            entries.append((k, name, p, gi))
    if not entries:
        raise ValueError("adamlab.watch: the optimizer has no trainable parameters to watch")
    entries.sort(key=lambda e: e[0])
    seen, out = set(), []
    for _, name, p, gi in entries:
        base, n = name, 1
        while name in seen:
            n += 1
            name = f"{base}#{n}"
        seen.add(name)
        out.append((name, p, gi))
    return out


def _refuse_sharded(model, entries) -> None:
    """Sharded parameters hold a slice of each tensor per rank: per-tensor RMS would need sums of squares
    reduced across ranks. Refused here, by name, rather than shown silently per shard."""
    dtensor = getattr(sys.modules.get("torch.distributed.tensor"), "DTensor", None)
    for name, p, _ in entries:
        if dtensor is not None and isinstance(p, dtensor):
            raise ValueError(f"adamlab.watch: parameter {name!r} is a DTensor (placements {tuple(p.placements)}): "
                             f"sharded parameters (FSDP2, tensor parallel) are not supported — watch a DDP or "
                             f"single-device run")
        if type(p).__name__ == "FlatParameter":
            raise ValueError(f"adamlab.watch: parameter {name!r} is an FSDP FlatParameter: sharded parameters are "
                             f"not supported — watch a DDP or single-device run")
    fsdp = getattr(sys.modules.get("torch.distributed.fsdp"), "FullyShardedDataParallel", None)
    if fsdp is not None and model is not None and any(isinstance(m, fsdp) for m in model.modules()):
        raise ValueError("adamlab.watch: the model is wrapped in FullyShardedDataParallel, whose parameters are "
                         "sharded across ranks: not supported — watch a DDP or single-device run")


def _rank(torch) -> tuple[int, int]:
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _backend(torch):
    try:
        return str(torch.distributed.get_backend())
    except Exception:  # a backend the installed torch cannot name: not worth failing the run for
        return None


# ----------------------------------------------------------------------------------------------------------
# arguments


def _default_hist_every(every: int) -> int:
    return every * max(1, math.ceil(100 / every))


def _int_arg(name, value, low, high=None):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < low or (high is not None and value > high):
        wanted = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise ValueError(f"{name} must be an integer {wanted}, got {value}")
    return value


def _range_arg(name, value):
    try:
        lo, hi = (float(x) for x in value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a pair of numbers (low, high), got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise ValueError(f"{name} must be finite with low < high, got {value!r}")
    return lo, hi


def _name(name: str) -> str:
    if not name or len(name) > MAX_NAME:
        raise ValueError(f"log(): scalar names must have 1 to {MAX_NAME} characters, got {name[:40]!r}…")
    return name


def _number(name, value) -> float:
    if isinstance(value, numbers.Real):
        return float(value)
    if hasattr(value, "numel") and hasattr(value, "item"):  # a torch tensor: one element only
        if value.numel() != 1:
            raise ValueError(f"log(): scalar {name!r} is a tensor of {value.numel()} elements, not one number")
        return float(value.item())
    if isinstance(value, np.ndarray) and value.size == 1:
        return float(value.reshape(()))
    raise TypeError(f"log(): scalar {name!r} must be a number, got {type(value).__name__}")


def _texts(samples) -> list[str]:
    texts = [samples] if isinstance(samples, str) else list(samples)
    if not all(isinstance(t, str) for t in texts):
        raise TypeError("log(): samples must be a string or a list of strings")
    return texts


def _float(x) -> float:
    return float(x.item() if hasattr(x, "item") else x)


def _as_tensor(torch, x):
    return x if isinstance(x, torch.Tensor) else torch.tensor(float(x), dtype=torch.float64)


def _jsonable(x):
    """Hyperparameters as JSON: tensors and numbers as numbers (non-finite ones as strings), tuples as lists,
    anything else as its repr."""
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if x is None or isinstance(x, (bool, str)):
        return x
    if isinstance(x, numbers.Integral):
        return int(x)
    if hasattr(x, "numel") and hasattr(x, "item") and x.numel() == 1:
        x = x.item()
    if isinstance(x, numbers.Real):
        x = float(x)
        return x if math.isfinite(x) else str(x)
    try:
        json.dumps(x)
        return x
    except (TypeError, ValueError):
        return repr(x)[:200]


def _adamlab_version() -> str:
    from adamlab import __version__
    return __version__


def _close_at_exit(watcher):
    """An atexit callback that closes the watcher if it still exists (a weak reference: it keeps nothing alive)."""
    ref = weakref.ref(watcher)

    def close():
        w = ref()
        if w is not None:
            w.close()
    return close
