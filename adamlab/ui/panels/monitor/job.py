"""The monitor's worker-side job: one core ``Trainer`` driven by a ``ProcessLoopWorker`` (in a child process,
or on a worker thread when no child can start), and the plain snapshots it hands to the GUI. No Qt here: a
child process imports this module to build and step the job.

The job adds only bookkeeping around the core: samples every K steps, a steps-per-second rate, tokens seen,
histograms of the core's Adam statistics, and copies of the core's decimated history. Every number about
the model or the optimizer comes from :mod:`adamlab.core` (train, ema, schedules, data).

What crosses the process boundary must pickle: the job is built by :func:`make_run_job` /
:func:`make_loaded_job` from plain arguments; commands are ``RunJob`` methods bound with functools.partial
(wrapped in :func:`guarded`, so an error is reported instead of ending the run); what a command returns —
("knob", text), ("saved", path), ("adam", histograms), ("facts", numbers), ("error", message) — comes back
to the GUI as the worker's ``reply``. Snapshots are small: copies of the decimated history, the last
per-tensor statistics, the newest few sample batches; heatmaps only while shown, histograms only when asked.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from adamlab.core import data, train
from adamlab.core.files import write_bytes
from adamlab.core.optim import optimizer_label

MAX_SAMPLES = 200  # sample batches kept per run (bounded memory)
SNAPSHOT_SAMPLES = 10  # the newest sample batches in each snapshot (the GUI keeps the rest it has seen)
HIST_BINS = 60


# ----------------------------------------------------------------------------------------------------------
# helpers used by the set-up column


def load_corpus(spec: dict, block_size: int) -> data.Corpus:
    """The corpus a set-up spec names: {"kind": "names"} or {"kind": "file", "path", "mode"}."""
    if spec.get("kind") == "file":
        if not spec.get("path"):
            raise data.CorpusError("Choose a text file (Browse…).")
        return data.load_corpus(spec["path"], spec.get("mode", "lines"), block_size)
    return data.load_corpus("names", "lines", block_size)


def corpus_summary(corpus: data.Corpus, val_fraction: float = 0.1) -> str:
    """One line for people: documents, characters, vocabulary and the train/validation split."""
    n = len(corpus)
    n_val = len(data.split_docs(list(range(n)), val_fraction, seed=None)[1])
    chars = sum(len(d) for d in corpus.docs)
    text = (f"{n:,} documents · {chars:,} characters · vocabulary {corpus.tokenizer.vocab_size} "
            f"({len(corpus.tokenizer.chars)} symbols + BOS) · split {n - n_val:,} train / {n_val:,} val")
    if corpus.truncated:
        text += f" · {corpus.truncated:,} longer than the context (truncated)"
    return text


def schedule_curve(spec: dict, lr: float, steps: int, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """The core's schedule lr(t) sampled at ≤ n steps, for the preview plot."""
    from adamlab.core.schedules import make_schedule

    fn = make_schedule(spec["kind"], lr, steps, warmup=spec.get("warmup", 0) if spec["kind"] == "warmup_cosine"
                       else 0)
    x = np.unique(np.linspace(0, steps - 1, min(n, steps)).astype(np.int64))
    return x, np.asarray(fn(x), dtype=np.float64)  # the core's Schedule is vectorised


def smooth(y: np.ndarray, beta: float) -> np.ndarray:
    """TensorBoard-style smoothing with the core's debiased EMA: s_t = β s_{t−1} + (1−β) y_t, divided by
    1 − β^t (the same bias correction as Adam's m̂)."""
    y = np.asarray(y, dtype=np.float64)
    if y.size == 0 or beta <= 0:
        return y.copy()
    from adamlab.core import ema as core_ema

    return np.asarray(core_ema.smooth(y, beta), dtype=np.float64)


def optimizer_name(kind: str) -> str:
    try:
        return optimizer_label(kind)
    except ValueError:
        return kind


def check_prefix(prefix: str, chars: str | None, block_size: int = 16) -> str:
    """An error message for a sampling prefix the model cannot start from (``chars``: its symbols), or ""."""
    if not prefix or chars is None:
        return ""
    bad = sorted({c for c in prefix if c not in chars})
    if bad:
        return f"The prefix has characters the model has never seen: {''.join(bad)!r}"
    if len(prefix) >= block_size:
        return f"The prefix must be shorter than the context ({block_size} characters)"
    return ""


def train_config(cfg: dict, corpus: data.Corpus | None = None) -> train.TrainConfig:
    """The set-up's plain dict → the core's TrainConfig (which validates every field)."""
    hyper = dict(cfg["hyper"])  # the kind's own (torch.optim) argument names, from its editor
    kind = cfg["optimizer"]
    kw: dict[str, Any] = {"lr": float(hyper.pop("lr"))}
    options: dict[str, Any] = {}
    betas = hyper.pop("betas", None)
    if betas is not None:
        kw["betas"] = tuple(float(b) for b in betas[:2])
        if len(betas) > 2:  # AdEMAMix's slow β3 rides along as an option
            options["beta3"] = float(betas[2])
    elif kind == "rmsprop" and "alpha" in hyper:  # RMSprop's α is the core config's β2
        kw["betas"] = (0.9, float(hyper.pop("alpha")))
    for key in ("eps", "weight_decay", "momentum"):  # the config's generic knobs, where they are plain numbers
        if isinstance(hyper.get(key), (int, float)) and not isinstance(hyper[key], bool):
            kw[key] = float(hyper.pop(key))
    options.update(hyper)  # everything else by its own name: momentum_decay, rho, ns_steps, Adafactor's eps …
    kw["optimizer_options"] = options
    corpus_spec, model = cfg["corpus"], cfg["model"]
    sched = cfg["schedule"]
    return train.TrainConfig(
        corpus=corpus.name if corpus is not None else
        ("names" if corpus_spec.get("kind") != "file" else corpus_spec["path"]),
        corpus_mode=corpus.mode if corpus is not None else corpus_spec.get("mode", "lines"),
        n_embd=int(model["n_embd"]), n_head=int(model["n_head"]), n_layer=int(model["n_layer"]),
        block_size=int(model["block_size"]), dtype=cfg["dtype"], optimizer=cfg["optimizer"],
        schedule=sched["kind"], warmup=int(sched.get("warmup", 0)) if sched["kind"] == "warmup_cosine" else 0,
        steps=int(cfg["steps"]), batch_size=int(cfg["batch_size"]), seed=int(cfg["seed"]),
        val_every=int(cfg["val_every"]), full_batch=int(cfg.get("full_batch", 0)),
        snapshot_every=int(cfg.get("snapshot_every", 0)), **kw)


def check_config(cfg: dict, corpus: data.Corpus, runs: int = 1) -> train.TrainConfig:
    """The run's TrainConfig, checked here (before a process is started for it): the core's ValueError names
    the bad field and its range, or says the memory available does not hold ``runs`` such runs (each is a
    process with its own copy of the model, its optimizer state and the corpus)."""
    from adamlab.core import memory
    from adamlab.core.optim import make_optimizer
    from adamlab.core.schedules import make_schedule

    tc = train_config(cfg, corpus)
    make_optimizer(tc.optimizer, **tc.optimizer_hyperparameters())
    make_schedule(tc.schedule, tc.lr, tc.steps, warmup=tc.warmup)
    memory.check_fits(tc, corpus, runs=runs)
    return tc


# ----------------------------------------------------------------------------------------------------------
# building the job where it runs (picklable factories: plain arguments in, a RunJob out)


def make_run_job(config: dict, sampling: dict | None = None, want_maps: bool = False,
                 sharpness_every: int = 0) -> "RunJob":
    """A new run from ``dataclasses.asdict(TrainConfig)``; the Trainer loads the config's corpus itself.
    ``sharpness_every`` > 0 tracks λ_max every so many steps (each measurement costs ~0.1–0.5 s at microgpt
    size: tens of training steps' worth)."""
    job = RunJob(train.Trainer(train.TrainConfig(**config)), sampling, sharpness_every)
    job.want_maps = bool(want_maps)
    return job


def make_loaded_job(path: str, sampling: dict | None = None, want_maps: bool = False) -> "RunJob":
    """A run continued from a checkpoint."""
    job = RunJob.from_checkpoint(path, sampling)
    job.want_maps = bool(want_maps)
    return job


def config_dict(tc: train.TrainConfig) -> dict:
    return dataclasses.asdict(tc)


def guarded(command, job) -> Any:
    """Run ``command(job)``; an exception becomes ("error", message) instead of ending the run (the loop
    stops on any exception a command raises)."""
    try:
        return command(job)
    except Exception as exc:  # noqa: BLE001 — report, keep training
        return ("error", f"{type(exc).__name__}: {exc}")


# ----------------------------------------------------------------------------------------------------------
# the snapshot


@dataclass
class Snapshot:
    """Copies of what the GUI draws for one run (safe to read on any thread)."""

    version: int
    step: int
    total: int
    status: str  # "ready", "training", "finished", "diverged"
    message: str
    rate: float  # steps per second recently
    steps: np.ndarray  # (K,) decimated step axis (bucket means)
    tokens: np.ndarray  # (K,) training tokens (predictions) seen at those steps
    loss: np.ndarray  # (K,) raw training loss (bucket means)
    lr: np.ndarray  # (K,)
    val_steps: np.ndarray
    val_tokens: np.ndarray
    val_loss: np.ndarray
    names: list[str]
    shapes: list[tuple[int, int]]
    g: np.ndarray  # (n_tensors,) latest gradient RMS
    w: np.ndarray  # (n_tensors,) latest weight RMS
    u: np.ndarray  # (n_tensors,) latest update/weight ratio
    map_steps: np.ndarray  # (K,) = steps
    log_u: np.ndarray  # (n_tensors, K) log10 u over time
    log_g: np.ndarray  # (n_tensors, K) log10 g over time
    events: list[tuple[int, float, str]]  # (step, tokens, label) of live knob changes
    diverged_step: int | None
    diverged_tokens: float | None
    samples: list[tuple[int, int, float, list[str]]] = field(default_factory=list)  # (serial, step, T, texts)
    # λ_max along the run when tracked (landscape.SharpnessTracker.arrays(): step, sharpness, preconditioned,
    # threshold, …) and which curve the threshold applies to ("sharpness" or "preconditioned"); None if not
    sharpness: dict | None = None
    sharpness_curve: str = "sharpness"
    chars: str = ""  # the tokenizer's symbols (the GUI checks a sampling prefix against them)
    pid: int = 0  # the process the job runs in
    routes: dict = field(default_factory=dict)  # tensor → "muon" / "adamw" for Muon + AdamW (empty otherwise)


def _log10(x: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.log10(x)
    out[~np.isfinite(out)] = np.nan
    return out


class RunJob:
    """One training run as a :class:`~adamlab.ui.workers.SteppableJob`. Only the loop that steps it (in its
    process) calls its methods while the run is live (the GUI goes through ``worker.call``)."""

    def __init__(self, trainer: train.Trainer, sampling: dict | None = None, sharpness_every: int = 0):
        self.trainer = trainer
        self.tracker = None  # a landscape.SharpnessTracker when λ_max is tracked every few steps
        if sharpness_every:
            from adamlab.core import landscape

            self.tracker = landscape.SharpnessTracker(trainer, every=int(sharpness_every))
            self.tracker.after_step(trainer)  # where it starts
        self.tokenizer = trainer.tokenizer
        self.sampling = {"n": 5, "every": 200, "temperature": 0.5, "prefix": ""}
        if sampling:
            self.sampling.update(sampling)
        self.samples: deque = deque(maxlen=MAX_SAMPLES)
        self._serial = 0
        self._version = 0
        self._rate_marks: deque = deque(maxlen=64)  # (time, step) for steps/s
        self._betas = tuple(trainer.config.betas)  # the latest (β1, β2) asked for, pending or applied
        self._options = dict(trainer.config.optimizer_options)  # likewise the kind's own options
        self.want_maps = False  # the heatmaps are built only while the GUI shows them
        # tokens seen after s steps: the trainer walks the training documents in order, batch_size at a
        # time, so it is a prefix sum over their prediction counts (exact, also for a loaded run)
        cfg = trainer.config
        n_pred = np.array([min(cfg.block_size, len(s) - 1) for s in trainer.train_seqs], dtype=np.float64)
        self._cum_pred = np.concatenate([[0.0], np.cumsum(n_pred)])
        shapes = {n: tuple(a.shape) for n, a in trainer.params.items()}
        self.names = list(trainer.tensor_names)
        self.shapes = [shapes[n] for n in self.names]

    # --- construction ---
    @classmethod
    def from_config(cls, cfg: dict, corpus: data.Corpus) -> "RunJob":
        tc = train_config(cfg, corpus)
        if corpus.block_size != tc.block_size:  # "text" mode windows depend on the context length
            corpus = data.load_corpus(corpus.name, corpus.mode, tc.block_size)
        return cls(train.Trainer(tc, corpus), cfg.get("sampling"))

    @classmethod
    def from_checkpoint(cls, path, sampling: dict | None = None) -> "RunJob":
        return cls(train.load_checkpoint(path), sampling)

    # --- SteppableJob ---
    def step(self) -> bool:
        tr = self.trainer
        rec = tr.step()
        self._version += 1
        if rec is None:
            return False
        every = int(self.sampling["every"])
        if rec.status != "diverged" and every and rec.step % every == 0:
            self._sample(rec.step)
        if self.tracker is not None and rec.status != "diverged":
            self.tracker.after_step(tr)
        return not tr.done

    def snapshot(self) -> Snapshot:
        tr = self.trainer
        h = tr.history
        now = time.perf_counter()
        self._rate_marks.append((now, tr.step_count))
        steps, loss, _, _ = h.train.arrays("loss")
        lr = h.train.arrays("lr")[1]
        last = tr.last
        n = len(self.names)
        if last is not None and last.g:
            g = np.array([last.g[k] for k in self.names])
            w = np.array([last.w[k] for k in self.names])
            u = np.array([last.u[k] for k in self.names])
        else:
            g = w = u = np.full(n, np.nan)
        if self.want_maps and steps.size:
            log_u = np.vstack([_log10(h.update_ratio(k)) for k in self.names])
            log_g = np.vstack([_log10(h.grad_rms(k)) for k in self.names])
        else:
            log_u = log_g = np.zeros((n, 0))
        vs, vl = h.val_steps, h.val_loss
        events = [(s, self.tokens_at(s), lab) for s, lab in zip(h.knob_steps, h.knob_labels)]
        ds = h.diverged_step
        return Snapshot(
            version=self._version, step=tr.step_count, total=tr.config.steps, status=tr.status,
            message=self.describe(), rate=self.rate(now), steps=steps, tokens=self.tokens_at(steps), loss=loss,
            lr=lr, val_steps=vs, val_tokens=self.tokens_at(vs), val_loss=vl, names=list(self.names),
            shapes=list(self.shapes), g=g, w=w, u=u, map_steps=steps if log_u.size else steps[:0], log_u=log_u,
            log_g=log_g, events=events,
            diverged_step=ds, diverged_tokens=None if ds is None else float(self.tokens_at(ds)),
            samples=list(self.samples)[-SNAPSHOT_SAMPLES:], chars=self.tokenizer.chars, pid=os.getpid(),
            sharpness=self.tracker.arrays() if self.tracker is not None else None,
            sharpness_curve="preconditioned" if self.tracker is not None and self.tracker.preconditioned
            else "sharpness", routes=self.routes())

    def set_want_maps(self, want: bool) -> None:
        self.want_maps = bool(want)
        self._version += 1

    # --- bookkeeping ---
    def tokens_at(self, steps):
        """Training tokens (predictions) seen after ``steps`` steps; fractional steps interpolate."""
        s = np.asarray(steps, dtype=np.float64)
        B, N = self.trainer.config.batch_size, len(self._cum_pred) - 1

        def at(k):  # k whole steps: k·B documents in cyclic order
            docs = k * B
            return (docs // N) * self._cum_pred[-1] + self._cum_pred[(docs % N).astype(np.int64)]

        lo = np.floor(s)
        out = at(lo) + (s - lo) * (at(lo + 1) - at(lo))
        return float(out) if out.ndim == 0 else out

    def rate(self, now: float) -> float:
        marks = [m for m in self._rate_marks if now - m[0] <= 2.0]
        if len(marks) < 2 or marks[-1][0] <= marks[0][0]:
            return 0.0
        return (marks[-1][1] - marks[0][1]) / (marks[-1][0] - marks[0][0])

    def describe(self) -> str:
        """The run's status for people, with the reason and a hint when it diverged."""
        tr = self.trainer
        if tr.status == "diverged":
            cfg = tr.config
            hint = (f"the learning rate {cfg.lr:g} is too high for {optimizer_name(cfg.optimizer)} — a step "
                    "overshoots, the loss jumps up and can overflow to inf/NaN. Lower lr, or use warmup + cosine.")
            return f"{tr.message}. Likely cause: {hint}"
        if tr.status == "finished":
            return f"{tr.message}; final loss {tr.last.loss:.4f}" if tr.last is not None else tr.message
        if tr.last is None:
            return f"ready: step 0 of {tr.config.steps}"
        last = tr.last
        return f"step {last.step:,}: loss {last.loss:.4f} · lr {last.lr:.3g} · ‖g‖ {last.grad_norm:.3g}"

    # --- samples ---
    def _sample(self, step: int) -> None:
        s = self.sampling
        seed = (self.trainer.config.seed * 1_000_003 + step) % 2**63  # reproducible per step
        try:
            texts = self.trainer.sample(int(s["n"]), float(s["temperature"]), seed=seed, prefix=s["prefix"])
        except ValueError:
            return  # a prefix the model cannot encode; the GUI already says so
        self.samples.append((self._serial, step, float(s["temperature"]), texts))
        self._serial += 1

    def set_sampling(self, settings: dict) -> None:
        self.sampling.update(settings)

    def sample_now(self, settings: dict | None = None) -> None:
        if settings:
            self.sampling.update(settings)
        self._sample(self.trainer.step_count)
        self._version += 1

    def routes(self) -> dict[str, str]:
        """Which half of a composite optimizer (Muon + AdamW) steps each tensor; {} for the others."""
        opt = self.trainer.optimizer
        if not hasattr(opt, "routes"):
            return {}
        return opt.routes({n: s for n, s in zip(self.names, self.shapes)})

    # --- live knobs ---
    def set_knob(self, name: str, value: float) -> tuple[str, str]:
        """Apply one live knob (an editor's knob name: lr, beta1, beta2, weight_decay, or any of the kind's own
        — momentum_decay, beta3, rho, ns_steps …) through the core's ``set_knobs``; returns ("knob", what
        changed) or ("error", why not)."""
        from adamlab.ui.knobs import FLAGS, to_core  # (Qt-free, like everything the training child imports)

        tr = self.trainer
        try:
            if name in ("beta1", "beta2") or (name == "alpha" and tr.config.optimizer == "rmsprop"):
                b1, b2 = self._betas  # (RMSprop's α rides as the config's β2, as in train_config)
                betas = (value, b2) if name == "beta1" else (b1, value)
                tr.set_knobs(betas=betas)
                self._betas = betas
            elif name in ("lr", "weight_decay", "eps", "momentum"):  # the config's generic knobs
                tr.set_knobs(**{name: value})
            elif name in FLAGS:
                raise ValueError(f"{name} changes what the optimizer keeps: set it before the run starts")
            else:  # the kind's own argument, by its core name (overrides the config's generic knobs)
                option = {"beta3": value} if name == "beta3" else to_core({name: value})
                self._options = {**self._options, **option}
                tr.set_knobs(optimizer_options=self._options)
        except ValueError as exc:
            return ("error", f"Knob not applied: {exc}")
        self._version += 1
        return ("knob", f"{name} → {value:g} from step {tr.step_count + 1}")

    # --- on demand ---
    def adam_state(self, tensor: str) -> dict:
        """Histograms of the core's m̂/(√v̂+ε) and log10 lr/(√v̂+ε) for one tensor, or {"note": why not}."""
        tr = self.trainer
        try:
            stats = tr.optimizer_stats(tensor)
        except ValueError as exc:
            kind = tr.config.optimizer
            if kind in ("sgd", "momentum", "nesterov"):
                return {"note": f"{optimizer_name(kind)} has no per-parameter state: every parameter's "
                                f"effective lr is lr = {tr.lr_at(max(tr.step_count - 1, 0)):.3g}."}
            return {"note": str(exc)}
        out: dict[str, Any] = {"tensor": tensor, "step": tr.step_count}
        snr = stats.get("normalized_step")
        if snr is not None:
            snr = snr[np.isfinite(snr)]
            lim = max(1.0, float(np.percentile(np.abs(snr), 99.5))) if snr.size else 1.0
            out["snr"] = np.histogram(snr, bins=HIST_BINS, range=(-lim, lim))
        else:
            out["snr"] = (np.zeros(1), np.array([-1.0, 1.0]))
        eff = stats.get("effective_lr")
        out["size"] = int(eff.size) if eff is not None else 0
        if eff is not None:
            lg = _log10(np.asarray(eff, dtype=np.float64))
            lg = lg[np.isfinite(lg)]
            lo, hi = (float(lg.min()), float(lg.max())) if lg.size else (-4.0, -2.0)
            if hi - lo < 1e-6:
                lo, hi = lo - 0.5, hi + 0.5
            out["log_lr"] = np.histogram(lg, bins=HIST_BINS, range=(lo, hi))
        else:
            out["log_lr"] = (np.zeros(1), np.array([-4.0, -2.0]))
        if snr is None:
            out["note_extra"] = f"{optimizer_name(tr.config.optimizer)} has no first moment m (no m_hat)."
        return out

    def adam_reply(self, tensor: str) -> tuple[str, dict]:
        return ("adam", self.adam_state(tensor))

    def save(self, path) -> Path:
        return train.save_checkpoint(self.trainer, path)

    def save_reply(self, path: str) -> tuple[str, str]:
        """("saved", path) or ("error", why not)."""
        try:
            out = self.save(path)
        except (OSError, ValueError) as exc:
            return ("error", f"Could not save to {path}: {exc}")
        return ("saved", str(out))

    def trainer_reply(self) -> tuple[str, Any]:
        """("trainer", a copy of the trainer as it is between two steps): its weights and kept snapshots for the
        landscape, computed elsewhere while this run goes on."""
        import pickle

        from adamlab.ui.child import dumps  # (a lock travels as a fresh lock; deepcopy cannot copy one)

        return ("trainer", pickle.loads(dumps(self.trainer)))

    def facts(self) -> tuple[str, dict]:
        """("facts", the trainer's own numbers) — for tests and benchmarks to look inside a run wherever it
        lives: step count, current config, the full per-step loss history, divergence, process id, and which
        GUI modules its interpreter has loaded (a child must have none)."""
        import sys

        tr = self.trainer
        return ("facts", {"step_count": tr.step_count, "config": dataclasses.asdict(tr.config),
                          "loss": np.array(tr.history.loss, dtype=np.float64),
                          "diverged_step": tr.history.diverged_step, "pid": os.getpid(),
                          "gui_modules": sorted(m for m in ("PySide6", "pyqtgraph", "shiboken6") if m in sys.modules)})


def write_metrics_csv(snap: Snapshot, path, smoothed: np.ndarray | None = None) -> Path:
    """step, tokens, loss, smoothed loss, lr, val_loss (at its steps, else empty) — the full history."""
    path = Path(path)
    val = dict(zip(snap.val_steps.round().astype(np.int64).tolist(), snap.val_loss.tolist()))
    sm = smoothed if smoothed is not None else np.full(snap.loss.shape, np.nan)
    lines = ["step,tokens,loss,loss_smoothed,lr,val_loss"]
    for s, t, l, m, r in zip(snap.steps, snap.tokens, snap.loss, sm, snap.lr):
        v = val.get(int(round(s)), "")
        lines.append(f"{s:.10g},{t:.10g},{l:.10g},{m:.10g},{r:.10g},{v if v == '' else format(v, '.10g')}")
    # validation points that fall between decimated buckets still get their own rows
    drawn = {int(round(s)) for s in snap.steps}
    for s, v in zip(snap.val_steps, snap.val_loss):
        if int(round(s)) not in drawn:
            lines.append(f"{s:.10g},,,,,{v:.10g}")
    write_bytes(path, ("\n".join(lines) + "\n").encode(), "metrics CSV")
    return path
