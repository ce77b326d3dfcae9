"""Training the tiny GPT one step at a time: stats per step, live knobs, divergence, checkpoints, history.

A ``Trainer`` is built from a plain ``TrainConfig``; a worker thread calls ``step()`` in a loop and the GUI
changes knobs between steps with ``set_knobs(lr=..., betas=..., ...)`` (thread-safe: changes are validated
at once and applied at the top of the next step). ``step()`` never raises for numerical trouble: a
non-finite loss or gradient, or a loss far above the first one, ends the run with status "diverged" and
keeps everything recorded so far.

    trainer = Trainer(TrainConfig(steps=1000))
    while not trainer.done:
        rec = trainer.step()          # StepRecord: step, loss, lr, grad_norm, per-tensor g / w / u, ...
    trainer.history.loss              # decimated NumPy arrays, bounded memory
    save_checkpoint(trainer, "run.npz"); trainer = load_checkpoint("run.npz")

The defaults are microgpt's: Adam(lr 0.01, betas (0.85, 0.99), eps 1e-8), linear decay over 1000 steps,
batch 1, float64, n_embd 16, 4 heads, 1 layer, block 16.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from adamlab.core import data, files, gpt, landscape, memory, safe_npz
from adamlab.core.optim import OPTIMIZERS, STATE_LABELS, hyper_from_knobs, kind_arguments, make_optimizer
from adamlab.core.schedules import make_schedule

CHECKPOINT_FORMAT = "adamlab-gpt-checkpoint"
CHECKPOINT_VERSION = 1
SCHEDULES = ("constant", "linear", "cosine", "warmup_cosine")
DTYPES = ("float32", "float64")
INITS = ("normal", "microgpt")


class CheckpointError(ValueError):
    """A checkpoint file that cannot be read: truncated, foreign, crafted, or from an incompatible version."""


# Upper bounds of the integer settings, where a bigger value means nothing (memory bounds the model's size:
# see memory.check_fits). A GUI's spin boxes can take their maxima from here.
LIMITS = {"steps": 10**12, "warmup": 10**12, "val_every": 10**12, "val_docs": 10**9, "seed": 2**63 - 1,
          "n_layer": 1024, "n_embd": 2**16, "n_head": 2**16, "block_size": 2**16, "batch_size": 2**31 - 1,
          "history_capacity": 2**20, "full_batch": 2**31 - 1, "snapshot_every": 10**12}


# ----------------------------------------------------------------------------------------------------------
# configuration


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a run. Knobs (lr, betas, eps, weight_decay, momentum, schedule, warmup,
    steps) may change during the run; the rest is fixed when the Trainer is built."""

    # data
    corpus: str = "names"  # "names" (built in) or a path to a UTF-8 text file
    corpus_mode: str = "lines"  # "lines": one document per line; "text": block_size windows
    val_fraction: float = 0.1
    # model
    n_embd: int = 16
    n_head: int = 4
    n_layer: int = 1
    block_size: int = 16
    init: str = "normal"  # "normal": N(0, init_std²) from seed; "microgpt": microgpt.py's own random draws
    init_std: float = 0.08
    dtype: str = "float64"
    # optimisation
    optimizer: str = "adam"  # a kind of optim.OPTIMIZERS: adam, adamw, sgd, momentum, rmsprop, ...
    lr: float = 0.01
    betas: tuple[float, float] = (0.85, 0.99)  # Adam's (β1, β2); RMSprop uses β2 as its alpha
    eps: float = 1e-8
    weight_decay: float = 0.0
    momentum: float = 0.9  # SGD momentum (for "momentum"/"nesterov") and Muon's; RMSprop momentum is 0
    # the kind's other arguments by name, e.g. {"ns_steps": 3} for muon, {"beta3": 0.999} for ademamix
    optimizer_options: dict = field(default_factory=dict)
    schedule: str = "linear"
    warmup: int = 0
    steps: int = 1000
    batch_size: int = 1
    seed: int = 0
    # full-batch gradient descent: the first N training documents as one fixed batch, every step the same (0: off,
    # minibatches of batch_size documents cycling through the data). For the edge of stability (see landscape).
    full_batch: int = 0
    # keep the weights every N steps for trajectory PCA (0: off); bounded memory, see landscape.WeightSnapshots
    snapshot_every: int = 0
    # bookkeeping
    val_every: int = 100  # validation loss every N steps (0: never)
    val_docs: int = 512  # at most this many held-out documents per validation
    diverge_factor: float = 3.0  # smoothed loss > factor × first loss counts as divergence
    history_capacity: int = 2048  # buckets per decimated series

    def __post_init__(self):
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        object.__setattr__(self, "optimizer_options", _options(self.optimizer_options))
        object.__setattr__(self, "corpus", str(self.corpus))
        self.validate()

    def validate(self):
        def integer(name, low):
            v, high = getattr(self, name), LIMITS[name]
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or not low <= v <= high:
                raise ValueError(f"{name} must be an integer in [{low}, {high:,}], got {v!r}")

        def real(name):  # (a string or a bool in a crafted config must not reach the arithmetic below)
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
                raise ValueError(f"{name} must be a number, got {v!r}")

        def choice(name, options):
            if getattr(self, name) not in options:
                raise ValueError(f"{name} must be one of {', '.join(options)}; got {getattr(self, name)!r}")

        for name, low in (("n_embd", 1), ("n_head", 1), ("n_layer", 1), ("block_size", 1), ("steps", 1),
                          ("batch_size", 1), ("warmup", 0), ("val_every", 0), ("val_docs", 1),
                          ("history_capacity", 16), ("seed", 0), ("full_batch", 0), ("snapshot_every", 0)):
            integer(name, low)
        for name in ("val_fraction", "init_std", "lr", "eps", "weight_decay", "momentum", "diverge_factor"):
            real(name)
        if not self.corpus:
            raise ValueError("corpus must be 'names' or a file name, got an empty string")
        choice("corpus_mode", data.MODES)
        choice("init", INITS)
        choice("dtype", DTYPES)
        choice("optimizer", tuple(OPTIMIZERS))
        choice("schedule", SCHEDULES)
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be a multiple of n_head ({self.n_head})")
        if not 0 <= self.val_fraction < 1:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction!r}")
        if not (math.isfinite(self.init_std) and self.init_std >= 0):
            raise ValueError(f"init_std must be a finite number >= 0, got {self.init_std!r}")
        if not (math.isfinite(self.lr) and self.lr >= 0):
            raise ValueError(f"lr must be a finite number >= 0, got {self.lr!r}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise ValueError(f"betas must be two numbers in [0, 1), got {self.betas!r}")
        if not (math.isfinite(self.eps) and self.eps > 0):
            raise ValueError(f"eps must be a finite number > 0, got {self.eps!r}")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay must be a finite number >= 0, got {self.weight_decay!r}")
        if not 0 <= self.momentum < 1:
            raise ValueError(f"momentum must be in [0, 1), got {self.momentum!r}")
        if not self.diverge_factor > 1:
            raise ValueError(f"diverge_factor must be > 1, got {self.diverge_factor!r}")
        if self.warmup >= self.steps and self.schedule == "warmup_cosine":
            raise ValueError(f"warmup must be < steps ({self.steps}), got {self.warmup!r}")
        make_optimizer(self.optimizer, **self.optimizer_hyperparameters())  # options: the optimizer's own checks

    def model_config(self, vocab_size: int) -> gpt.GPTConfig:
        return gpt.GPTConfig(vocab_size, self.n_embd, self.n_head, self.n_layer, self.block_size)

    def optimizer_hyperparameters(self) -> dict:
        """The config's knobs in the chosen optimizer's own (torch.optim) argument names, plus its options
        (see optim.hyper_from_knobs: e.g. β2 is RMSprop's alpha)."""
        return hyper_from_knobs(self.optimizer, lr=self.lr, betas=self.betas, eps=self.eps,
                                weight_decay=self.weight_decay, momentum=self.momentum,
                                options=self.optimizer_options)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "TrainConfig":
        d = json.loads(text)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown TrainConfig fields: {sorted(unknown)}")
        return cls(**d)


LOSS_EMA_BETA = 0.9  # smoothing of the loss for the divergence test (~10 steps)
KNOBS = ("lr", "betas", "eps", "weight_decay", "momentum", "optimizer_options", "schedule", "warmup", "steps")


def _change_label(knob: str, old, new) -> str:
    """"lr 0.01→0.003"; for the optimizer's own options, each option that changed ("rho 0.9→0.95")."""
    if knob != "optimizer_options":
        return f"{knob} {old}→{new}"
    keys = [k for k in {**old, **new} if old.get(k) != new.get(k)]
    return ", ".join(f"{k} {old.get(k, 'default')}→{new.get(k, 'default')}" for k in keys)


def _options(options) -> dict:
    """optimizer_options as a dict name -> value, with JSON's lists turned back into tuples."""
    if not isinstance(options, dict) or not all(isinstance(k, str) for k in options):
        raise ValueError(f"optimizer_options must be a dict of argument name -> value, got {options!r}")
    return {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}


# ----------------------------------------------------------------------------------------------------------
# decimated history


class Decimated:
    """Fixed-capacity series of several channels sharing one step axis, at ever coarser resolution.

    Values go into buckets of ``width`` consecutive samples, keeping their mean, min and max (so a
    downsampled curve still shows spikes). When ``capacity`` buckets are full, neighbours are merged in
    pairs and the width doubles: memory stays O(capacity) however long the run.
    """

    STATS = ("mean", "min", "max")

    def __init__(self, channels, capacity: int = 2048):
        self.channels = tuple(channels)
        if isinstance(capacity, bool) or not isinstance(capacity, (int, np.integer)) or capacity < 1:
            raise ValueError(f"capacity must be an integer >= 1, got {capacity!r}")
        self.capacity = int(capacity)
        self.width = 1  # samples per full bucket
        self.n = 0  # full buckets
        C = len(self.channels)
        self.step = np.zeros(self.capacity)  # mean step of each bucket
        self.mean = np.zeros((C, self.capacity))
        self.min = np.zeros((C, self.capacity))
        self.max = np.zeros((C, self.capacity))
        self.count = np.zeros(self.capacity, dtype=np.int64)
        self._reset_partial()

    def _reset_partial(self):
        C = len(self.channels)
        self._pc, self._ps = 0, 0.0
        if getattr(self, "_psum", None) is None or self._psum.shape != (C,):
            self._psum, self._pmin, self._pmax = np.zeros(C), np.full(C, np.inf), np.full(C, -np.inf)
        else:  # in place: this runs after every bucket, i.e. every training step at first
            self._psum.fill(0.0)
            self._pmin.fill(np.inf)
            self._pmax.fill(-np.inf)

    def append(self, step: float, values) -> None:
        """Add one sample: ``values`` in channel order (a sequence of floats)."""
        v = np.asarray(values, dtype=np.float64)
        if self.width == 1 and self._pc == 0:  # a bucket of one sample: its mean, min and max are the sample
            i = self.n
            self.step[i], self.count[i] = step, 1
            self.mean[:, i] = v
            self.min[:, i] = v
            self.max[:, i] = v
            self.n += 1
            if self.n == self.capacity:
                self._halve()
            return
        self._pc += 1
        self._ps += step
        self._psum += v
        np.minimum(self._pmin, v, out=self._pmin)
        np.maximum(self._pmax, v, out=self._pmax)
        if self._pc == self.width:
            i = self.n
            self.step[i], self.count[i] = self._ps / self._pc, self._pc
            self.mean[:, i], self.min[:, i], self.max[:, i] = self._psum / self._pc, self._pmin, self._pmax
            self.n += 1
            self._reset_partial()
            if self.n == self.capacity:  # full: halve now, so buckets stay aligned on multiples of the width
                self._halve()

    def _halve(self):
        """Merge buckets pairwise: capacity → capacity/2 buckets of twice the width.

        With an odd number of buckets the last one has no partner: it becomes the partial bucket (half of
        a new-width bucket), so no sample is dropped and the buckets stay aligned on multiples of the width.
        Runs only right after a bucket was completed, when the partial bucket is empty.
        """
        h = self.n // 2
        if self.n % 2:  # carry the odd bucket: its sums, extremes and count are exactly a partial bucket's
            i, c = self.n - 1, int(self.count[self.n - 1])
            self._pc, self._ps = c, self.step[i] * c
            self._psum[:], self._pmin[:], self._pmax[:] = self.mean[:, i] * c, self.min[:, i], self.max[:, i]
        C = len(self.channels)
        c = self.count[: 2 * h].reshape(h, 2)  # (h, 2): the pairs' sample counts
        tot = c.sum(axis=1)
        self.step[:h] = (self.step[: 2 * h].reshape(h, 2) * c).sum(axis=1) / tot
        self.mean[:, :h] = (self.mean[:, : 2 * h].reshape(C, h, 2) * c).sum(axis=2) / tot
        self.min[:, :h] = self.min[:, : 2 * h].reshape(C, h, 2).min(axis=2)
        self.max[:, :h] = self.max[:, : 2 * h].reshape(C, h, 2).max(axis=2)
        self.count[:h] = tot
        self.n = h
        self.width *= 2

    def __len__(self):
        return self.n + (self._pc > 0)

    def arrays(self, channel: str):
        """(steps, mean, min, max) copies, the partly filled last bucket included."""
        k = self.channels.index(channel)
        steps, mean = self.step[: self.n], self.mean[k, : self.n]
        lo, hi = self.min[k, : self.n], self.max[k, : self.n]
        if self._pc:
            steps = np.append(steps, self._ps / self._pc)
            mean = np.append(mean, self._psum[k] / self._pc)
            lo, hi = np.append(lo, self._pmin[k]), np.append(hi, self._pmax[k])
        return steps.copy(), mean.copy(), lo.copy(), hi.copy()

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in (self.step, self.mean, self.min, self.max, self.count))

    def state_dict(self, prefix: str) -> dict:
        return {prefix + "channels": np.array(self.channels, dtype=str), prefix + "width": self.width,
                prefix + "n": self.n, prefix + "step": self.step, prefix + "mean": self.mean,
                prefix + "min": self.min, prefix + "max": self.max, prefix + "count": self.count,
                prefix + "partial": np.concatenate([[self._pc, self._ps], self._psum, self._pmin, self._pmax])}

    @staticmethod
    def state_shapes(n_channels: int, capacity: int, prefix: str) -> dict[str, tuple[tuple, str]]:
        """What ``state_dict`` holds, as name → (shape, dtype kinds), without building a series: a checkpoint
        is checked against it before its arrays are read."""
        C = n_channels
        return {prefix + "channels": ((C,), "U"), prefix + "width": ((), "iu"), prefix + "n": ((), "iu"),
                prefix + "step": ((capacity,), "f"), prefix + "mean": ((C, capacity), "f"),
                prefix + "min": ((C, capacity), "f"), prefix + "max": ((C, capacity), "f"),
                prefix + "count": ((capacity,), "iu"), prefix + "partial": ((2 + 3 * C,), "f")}

    def load_state_dict(self, d: dict, prefix: str) -> None:
        if tuple(np.asarray(d[prefix + "channels"]).tolist()) != self.channels:
            raise ValueError("history channels differ")
        width, n = int(d[prefix + "width"]), int(d[prefix + "n"])
        p = np.asarray(d[prefix + "partial"], dtype=np.float64)
        if not (1 <= width <= 2**62 and width & (width - 1) == 0 and 0 <= n < self.capacity):
            raise ValueError(f"history {prefix}width {width} / n {n} are not a bucket width and count")
        if p.shape != (2 + 3 * len(self.channels),) or not (0 <= p[0] < width and p[0] == int(p[0])):
            raise ValueError(f"history {prefix}partial does not fit {len(self.channels)} channels of width {width}")
        self.width, self.n = width, n
        for name in ("step", "mean", "min", "max", "count"):
            arr = np.asarray(d[prefix + name])
            if arr.shape != getattr(self, name).shape:
                raise ValueError(f"history {name} has shape {arr.shape}, expected {getattr(self, name).shape}")
            getattr(self, name)[...] = arr
        p = np.asarray(d[prefix + "partial"])
        C = len(self.channels)
        self._pc, self._ps = int(p[0]), float(p[1])
        self._psum, self._pmin, self._pmax = p[2 : 2 + C].copy(), p[2 + C : 2 + 2 * C].copy(), p[2 + 2 * C :].copy()


class History:
    """What a run recorded, as NumPy arrays for drawing: the training curves (decimated), validation
    points (decimated), the steps at which knobs changed and the step at which the run diverged."""

    MAX_KNOB_CHANGES = 4096
    MAX_LABEL_CHARS = 1000  # a mark's text, however many changes one step collected

    def __init__(self, tensor_names, capacity: int = 2048):
        self.tensor_names = tuple(tensor_names)
        self.train = Decimated(("loss", "lr", "grad_norm")
                               + tuple(f"g/{n}" for n in self.tensor_names)
                               + tuple(f"u/{n}" for n in self.tensor_names), capacity)
        self.val = Decimated(("val_loss",), max(16, capacity // 4))
        self.knob_steps: list[int] = []
        self.knob_labels: list[str] = []
        self.diverged_step: int | None = None

    def record_knobs(self, step: int, label: str):
        if self.knob_steps and self.knob_steps[-1] == step:  # several changes before one step: one mark
            self.knob_labels[-1] = f"{self.knob_labels[-1]}; {label}"[: self.MAX_LABEL_CHARS]
            return
        self.knob_steps.append(step)
        self.knob_labels.append(label[: self.MAX_LABEL_CHARS])
        if len(self.knob_steps) > self.MAX_KNOB_CHANGES:  # a slider dragged for hours: keep the latest
            del self.knob_steps[0], self.knob_labels[0]

    # the arrays a monitor draws
    @property
    def steps(self) -> np.ndarray:
        return self.train.arrays("loss")[0]

    @property
    def loss(self) -> np.ndarray:
        return self.train.arrays("loss")[1]

    @property
    def loss_min(self) -> np.ndarray:
        return self.train.arrays("loss")[2]

    @property
    def loss_max(self) -> np.ndarray:
        return self.train.arrays("loss")[3]

    @property
    def lr(self) -> np.ndarray:
        return self.train.arrays("lr")[1]

    @property
    def grad_norm(self) -> np.ndarray:
        return self.train.arrays("grad_norm")[1]

    @property
    def grad_norm_max(self) -> np.ndarray:
        return self.train.arrays("grad_norm")[3]

    @property
    def val_steps(self) -> np.ndarray:
        return self.val.arrays("val_loss")[0]

    @property
    def val_loss(self) -> np.ndarray:
        return self.val.arrays("val_loss")[1]

    @property
    def knob_change_steps(self) -> np.ndarray:
        return np.array(self.knob_steps, dtype=np.int64)

    def update_ratio(self, tensor: str) -> np.ndarray:
        """Mean update-to-weight RMS ratio of one tensor per bucket (aligned with ``steps``)."""
        return self.train.arrays(f"u/{tensor}")[1]

    def grad_rms(self, tensor: str) -> np.ndarray:
        return self.train.arrays(f"g/{tensor}")[1]

    @property
    def nbytes(self) -> int:
        return self.train.nbytes + self.val.nbytes

    def state_dict(self) -> dict:
        d = {**self.train.state_dict("hist.train."), **self.val.state_dict("hist.val.")}
        d["hist.knob_steps"] = np.array(self.knob_steps, dtype=np.int64)
        d["hist.knob_labels"] = np.array(self.knob_labels, dtype=str)
        d["hist.diverged_step"] = -1 if self.diverged_step is None else self.diverged_step
        return d

    @staticmethod
    def state_shapes(n_tensors: int, capacity: int) -> dict[str, tuple[tuple, str]]:
        """The fixed-size part of ``state_dict`` as name → (shape, dtype kinds) (see Decimated.state_shapes);
        hist.knob_steps and hist.knob_labels have one entry per knob change, at most MAX_KNOB_CHANGES."""
        return {**Decimated.state_shapes(3 + 2 * n_tensors, capacity, "hist.train."),
                **Decimated.state_shapes(1, max(16, capacity // 4), "hist.val."),
                "hist.diverged_step": ((), "iu")}

    def load_state_dict(self, d: dict) -> None:
        steps = np.asarray(d["hist.knob_steps"])
        labels = np.asarray(d["hist.knob_labels"])
        if steps.ndim != 1 or labels.shape != steps.shape or len(steps) > self.MAX_KNOB_CHANGES:
            raise ValueError(f"hist.knob_steps and hist.knob_labels must be two lists of the same length "
                             f"(at most {self.MAX_KNOB_CHANGES}), got shapes {steps.shape} and {labels.shape}")
        self.train.load_state_dict(d, "hist.train.")
        self.val.load_state_dict(d, "hist.val.")
        self.knob_steps = [int(s) for s in steps.tolist()]
        self.knob_labels = [str(s) for s in labels.tolist()]
        ds = int(d["hist.diverged_step"])
        self.diverged_step = None if ds < 0 else ds


# ----------------------------------------------------------------------------------------------------------
# the trainer


@dataclass
class StepRecord:
    """What one step did. g: RMS of each tensor's gradient; w: RMS of its weights (after the step);
    u: RMS(update) / RMS(weights before the step), the update-to-weight ratio (~1e-3 is the rule of thumb)."""

    step: int  # steps completed, 1-based (microgpt's "step 1 / 1000")
    loss: float
    lr: float
    grad_norm: float  # global L2 norm of the gradient
    time: float  # seconds spent in this step
    tokens: int  # predictions in this batch
    g: dict[str, float] = field(default_factory=dict)
    w: dict[str, float] = field(default_factory=dict)
    u: dict[str, float] = field(default_factory=dict)
    val_loss: float | None = None
    status: str = "training"  # "training", "finished" or "diverged"
    message: str = ""


# Validation batches hold about this many bytes in their widest activation (tokens × 4·n_embd): big enough
# that the per-call overhead is spread over many documents, small enough to stay in the CPU cache. Measured on
# microgpt's 512 validation names (float64): 8 ms a pass with ~512-token batches, 27 ms with one 8192-token
# batch, 26 ms with the former 64-document batches in file order.
EVAL_BATCH_BYTES = 2**18
# Trainer.sample draws its generations in batches of about this many bytes of activations (a fresh forward
# pass at the full context holds every layer's attention at once): 10 names are one batch at any size, and
# 100,000 samples of a big model do not need gigabytes.
SAMPLE_BATCH_BYTES = 2**23


def _eval_batches(seqs, batch_size, block_size, pad, tokens=512):
    """(inputs, targets, mask, tokens) batches covering ``seqs`` once, shortest documents first.

    ``batch_size`` documents per batch, or (None) as many as fit in ``tokens`` positions at the length of
    the longest one in the batch.
    """
    seqs = sorted(seqs, key=len)  # neighbours of similar length: little padding
    batches, i = [], 0
    while i < len(seqs):
        if batch_size is None:
            j = i + 1
            while j < len(seqs) and (j + 1 - i) * min(block_size, len(seqs[j]) - 1) <= tokens:
                j += 1
        else:
            j = i + batch_size
        x, y, mask = data.make_batch(seqs[i:j], block_size, pad)
        batches.append((x, y, mask, float(mask.sum())))
        i = j
    return batches


class Trainer:
    """A steppable training run of the tiny GPT (see the module docstring)."""

    def __init__(self, config: TrainConfig | None = None, corpus: data.Corpus | None = None):
        cfg = config or TrainConfig()
        self.config = cfg
        # refuse, before anything big is allocated, a run this machine cannot hold (see memory.check_fits)
        if corpus is None:
            corpus = data.load_corpus(cfg.corpus, cfg.corpus_mode, cfg.block_size,
                                      check=lambda info: memory.check_fits(cfg, info))
        else:
            memory.check_fits(cfg, corpus, corpus_in_memory=True)
        self.corpus = corpus
        dtype = np.dtype(cfg.dtype)
        if cfg.init == "microgpt":
            # microgpt's Python-random draws: shuffle the documents, then the weights; the split takes the tail
            setup = data.microgpt_setup(corpus.docs, cfg.n_embd, cfg.n_head, cfg.n_layer, cfg.block_size,
                                        std=cfg.init_std)
            self.tokenizer = setup.tokenizer
            self.model_config = setup.config
            flat = gpt.flat_buffer(setup.params).astype(dtype)
            seqs = [data.encode_doc(d, self.tokenizer, corpus.mode, cfg.block_size) for d in setup.docs]
            self.train_seqs, self.val_seqs = data.split_docs(seqs, cfg.val_fraction, seed=None)
        else:
            self.tokenizer = corpus.tokenizer
            self.model_config = cfg.model_config(self.tokenizer.vocab_size)
            flat = gpt.flat_buffer(gpt.init_params(self.model_config, cfg.seed, cfg.init_std, dtype))
            self.train_seqs, self.val_seqs = data.split_docs(corpus.seqs, cfg.val_fraction, seed=cfg.seed)
        self.params = gpt.views(flat, self.model_config)
        # full-batch mode: one fixed padded batch of the first full_batch training documents, made once
        self._full_batch = None
        if cfg.full_batch:
            self._full_batch = data.make_batch(self.train_seqs[: cfg.full_batch], cfg.block_size, self.tokenizer.bos)
        self.snapshots = None  # weights every snapshot_every steps (see landscape.WeightSnapshots)
        if cfg.snapshot_every:
            self.snapshots = landscape.WeightSnapshots(flat.size, cfg.snapshot_every, dtype=dtype)
            self.snapshots.record(0, flat)
        self.grads = gpt.zeros_like_params(self.model_config, dtype)
        self._pflat, self._gflat = flat, gpt.flat_buffer(self.grads)
        self._sq3 = np.empty((3, flat.size), flat.dtype)  # squares of Δw, w before and w after a step
        self._scratch = np.empty_like(flat)
        shapes = gpt.param_shapes(self.model_config)
        sizes = [r * c for r, c in shapes.values()]
        self._offsets = np.cumsum([0] + sizes[:-1])
        self._sizes = np.array(sizes, dtype=np.float64)
        self.tensor_names = tuple(shapes)
        self.optimizer = make_optimizer(cfg.optimizer, **cfg.optimizer_hyperparameters())
        self._schedule = self._make_schedule(cfg)
        self._lr_block, self._lr_block_start = None, 0  # cached schedule values, see lr_at
        self.step_count = 0  # steps completed
        self.position = 0  # index of the next training document (cycles)
        self.status = "ready"
        self.message = ""
        self.first_loss: float | None = None
        self.loss_ema = 0.0  # EMA of the loss (β = LOSS_EMA_BETA, not yet debiased), for the divergence test
        self.elapsed = 0.0
        self.rng = np.random.default_rng(cfg.seed)  # for samples drawn without an explicit seed
        self.history = History(self.tensor_names, cfg.history_capacity)
        self.last: StepRecord | None = None
        self._pending: dict = {}
        self._lock = threading.Lock()
        self._val_batches: dict = {}  # (docs, batch_size) → padded validation batches, see evaluate

    # -- knobs ------------------------------------------------------------------------------------------
    @staticmethod
    def _make_schedule(cfg: TrainConfig):
        return make_schedule(cfg.schedule, cfg.lr, cfg.steps, warmup=cfg.warmup)

    def set_knobs(self, **changes) -> None:
        """Change lr, betas, eps, weight_decay, momentum, schedule, warmup or steps; applied before the next
        step and marked in the history. Invalid values raise ValueError now and change nothing."""
        unknown = set(changes) - set(KNOBS)
        if unknown:
            raise ValueError(f"unknown knob(s) {sorted(unknown)}; allowed: {', '.join(KNOBS)}")
        with self._lock:
            merged = {**self._pending, **changes}
            new = dataclasses.replace(self.config, **merged)  # validates every field
            if new.steps <= self.step_count:
                raise ValueError(f"steps must be > the {self.step_count} steps already taken, got {new.steps}")
            make_optimizer(new.optimizer, **new.optimizer_hyperparameters())  # the optimizer's own checks
            self._make_schedule(new)
            self._pending = merged

    def _apply_pending(self):
        with self._lock:
            changes, self._pending = self._pending, {}
        if not changes:
            return
        old = self.config
        self.config = dataclasses.replace(old, **changes)
        # every argument, so that an option dropped from optimizer_options goes back to its default
        self.optimizer.set_hyperparameters(**{**kind_arguments(self.config.optimizer),
                                              **self.config.optimizer_hyperparameters()})
        self._schedule = self._make_schedule(self.config)
        self._lr_block = None
        label = ", ".join(_change_label(k, getattr(old, k), getattr(self.config, k)) for k in changes
                          if getattr(old, k) != getattr(self.config, k))
        if label:
            self.history.record_knobs(self.step_count, label)
        if self.status == "finished" and self.step_count < self.config.steps:
            self.status = "training"

    @property
    def done(self) -> bool:
        """True once the run finished its steps or diverged (step() then does nothing)."""
        with self._lock:
            pending_steps = self._pending.get("steps")
        if self.status == "diverged":
            return True
        return self.step_count >= (pending_steps or self.config.steps)

    def lr_at(self, step: int) -> float:
        """The scheduled learning rate for the 0-based step index ``step``.

        The schedule is evaluated for blocks of steps at once (one vectorised call per 1024 steps instead
        of one per step: a scalar call costs more than a whole microgpt-sized forward pass of NumPy calls).
        """
        start = self._lr_block_start
        if self._lr_block is None or not start <= step < start + len(self._lr_block):
            self._lr_block_start = start = step
            self._lr_block = np.asarray(self._schedule(np.arange(step, step + 1024)), dtype=np.float64)
        return float(self._lr_block[step - start])

    # -- one step -----------------------------------------------------------------------------------------
    def step(self) -> StepRecord | None:
        """Take one training step and return its record; None if the run is finished or diverged."""
        self._apply_pending()
        cfg = self.config
        if self.status == "diverged" or self.step_count >= cfg.steps:
            return None
        t0 = time.perf_counter()
        bos = self.tokenizer.bos
        if self._full_batch is not None:  # full-batch mode: the same batch every step
            x, y, mask = self._full_batch
        else:
            x, y, mask = data.batch_at(self.train_seqs, self.position, cfg.batch_size, cfg.block_size, bos)
        single = cfg.batch_size == 1 and self._full_batch is None  # one unpadded document: no mask needed
        with np.errstate(all="ignore"):  # overflow is how divergence shows; it is reported, not warned
            loss, _ = gpt.loss_and_grads(self.params, self.model_config, x, y,
                                         None if single else mask, grads=self.grads)
            g2 = np.add.reduceat(np.square(self._gflat, out=self._scratch), self._offsets)  # Σg² per tensor
            grad_norm = math.sqrt(sum(g2.tolist()))  # a few tensors: a Python sum beats NumPy's
        lr = self.lr_at(self.step_count)
        step_no = self.step_count + 1
        if self.first_loss is None and math.isfinite(loss):
            self.first_loss = loss
        reason = ""
        if not math.isfinite(loss):
            reason = f"loss is {loss}"
        elif not math.isfinite(grad_norm):
            reason = self._gradient_trouble()
        else:
            # a smoothed loss, so that one hard document (batch 1 is noisy) is not taken for divergence
            self.loss_ema = LOSS_EMA_BETA * self.loss_ema + (1 - LOSS_EMA_BETA) * loss
            smooth = self.loss_ema / (1 - LOSS_EMA_BETA**step_no)
            if smooth > cfg.diverge_factor * self.first_loss:
                reason = (f"smoothed loss {smooth:.4g} > {cfg.diverge_factor:g} × first loss "
                          f"{self.first_loss:.4g}")
        if reason:  # leave the weights as they were before this step
            self.status = "diverged"
            self.message = f"diverged at step {step_no}: {reason}"
            self.history.diverged_step = step_no
            dt = time.perf_counter() - t0
            self.elapsed += dt
            self.last = StepRecord(step_no, loss, lr, grad_norm, dt, int(mask.sum()), status="diverged",
                                   message=self.message)
            return self.last

        prev, sq = self._sq3[1], self._sq3  # rows: (Δw)², w_before², w_after²
        np.copyto(prev, self._pflat)
        if lr != self.optimizer.lr:  # (the setter validates and makes the optimizer refresh its constants)
            self.optimizer.lr = lr
        with np.errstate(all="ignore"):
            self.optimizer.step(self.params, self.grads)
            np.subtract(self._pflat, prev, out=sq[0])
            np.square(sq[0], out=sq[0])
            np.square(prev, out=prev)
            np.square(self._pflat, out=sq[2])
            u2, w2_prev, w2 = np.add.reduceat(sq, self._offsets, axis=1)  # per tensor, one call for all three
            g_rms = np.sqrt(g2 / self._sizes)
            w_rms = np.sqrt(w2 / self._sizes)
            # RMS(Δw)/RMS(w): the sizes cancel; nan for a tensor whose weights were all zero
            u_ratio = np.sqrt(u2 / w2_prev)
            if not min(w2_prev.tolist()) > 0:  # (a Python min over a handful of tensors is the cheapest test)
                u_ratio[~(w2_prev > 0)] = np.nan
        # inf or NaN in the optimizer's state (e.g. v overflowed: every update of that tensor is then 0, and the
        # run would report "finished" with frozen weights): one sum per state array, ~2 µs each at microgpt's size
        bad_state = self.optimizer.nonfinite_state()
        self.step_count = step_no
        if self._full_batch is None:
            self.position = (self.position + cfg.batch_size) % len(self.train_seqs)
        status = "training"
        if not math.isfinite(sum(w2.tolist())):
            status = "diverged"
            self.message = f"diverged at step {step_no}: the update made the weights non-finite"
            self.history.diverged_step = step_no
        elif bad_state is not None:
            status = "diverged"
            self.message = f"diverged at step {step_no}: {self._state_trouble(*bad_state)}"
            self.history.diverged_step = step_no
        elif self.step_count >= cfg.steps:
            status = "finished"
            self.message = f"finished {self.step_count} steps"
        self.status = status
        if self.snapshots is not None and status != "diverged":
            self.snapshots.record(step_no, self._pflat)
        self.history.train.append(step_no, np.concatenate([[loss, lr, grad_norm], g_rms, u_ratio]))
        val_loss = None
        if status != "diverged" and cfg.val_every and self.val_seqs and step_no % cfg.val_every == 0:
            val_loss = self.evaluate()
            self.history.val.append(step_no, [val_loss])
        dt = time.perf_counter() - t0
        self.elapsed += dt
        names = self.tensor_names
        tokens = x.size if single else int(mask.sum())
        self.last = StepRecord(step_no, loss, lr, grad_norm, dt, tokens,
                               dict(zip(names, g_rms.tolist())), dict(zip(names, w_rms.tolist())),
                               dict(zip(names, u_ratio.tolist())), val_loss, status, self.message)
        return self.last

    def _gradient_trouble(self) -> str:
        """Why the gradient's norm is not finite: an inf or NaN in it, or (float32) finite entries whose
        squares overflow; with the tensor."""
        g = self._gflat
        with np.errstate(all="ignore"):
            bad = np.flatnonzero(~np.isfinite(g))
            i = int(bad[0]) if bad.size else int(np.argmax(np.abs(g)))
        tensor = self.tensor_names[int(np.searchsorted(self._offsets, i, side="right")) - 1]
        if bad.size:
            return f"gradient is not finite (in tensor {tensor})"
        return f"the gradient's norm overflows {g.dtype} (|g| up to {abs(float(g[i])):.3g} in tensor {tensor})"

    def _state_trouble(self, key: str, tensor: str | None) -> str:
        """What went wrong in the optimizer's state, for the divergence message."""
        values = self.optimizer.state_of(tensor)[key]
        what = "overflowed to inf" if np.isinf(values).any() else "became NaN"
        label = STATE_LABELS.get(key, "state")
        return (f"{OPTIMIZERS[self.config.optimizer].label}'s {label} ({key}) {what} in tensor {tensor} "
                f"(its updates would be 0 or NaN from here on)")

    def run(self, steps: int | None = None, callback=None) -> StepRecord | None:
        """Step until done (or ``steps`` more steps); ``callback(record)`` after each. Returns the last record."""
        rec, n = None, 0
        while not self.done and (steps is None or n < steps):
            rec = self.step()
            n += 1
            if callback is not None and rec is not None:
                callback(rec)
        return rec

    # -- on demand ------------------------------------------------------------------------------------------
    def evaluate(self, max_docs: int | None = None, batch_size: int | None = None) -> float:
        """Mean per-token loss over (the first ``max_docs`` of) the held-out documents; nan if there are none.

        The documents are sorted by length and cut into padded batches of ``batch_size`` documents, or by
        default of about EVAL_BATCH_BYTES of activations each: a few dozen NumPy calls per batch spread over
        many documents, little padding since neighbours have similar lengths, and cache-sized temporaries.
        The batches are built once per (max_docs, batch_size) and reused by every later validation.
        """
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer))
                                       or batch_size < 1):
            raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        n_docs = min(len(self.val_seqs), max_docs or self.config.val_docs)
        if n_docs == 0:
            return math.nan
        key = (n_docs, batch_size)
        batches = self._val_batches.get(key)
        if batches is None:
            width = 4 * self.config.n_embd * self._pflat.itemsize  # bytes per token of the widest activation
            batches = self._val_batches[key] = _eval_batches(self.val_seqs[:n_docs], batch_size,
                                                             self.config.block_size, self.tokenizer.bos,
                                                             max(self.config.block_size, EVAL_BATCH_BYTES // width))
        total, count = 0.0, 0.0
        with np.errstate(all="ignore"), self._eval_point():
            for x, y, mask, n in batches:
                total += gpt.loss(self.params, self.model_config, x, y, mask) * n
                count += n
        return total / count

    @contextlib.contextmanager
    def _eval_point(self):
        """The weights to evaluate: schedule-free optimizers train at y but are evaluated at the average x
        (optimizer.eval/train swap them; y comes back bit for bit), the others at the weights themselves."""
        opt = self.optimizer
        if not getattr(opt, "training", False):
            yield
            return
        opt.eval(self.params)
        try:
            yield
        finally:
            opt.train(self.params)

    def sample(self, n: int = 10, temperature: float = 0.5, seed: int | None = None, prefix: str = "") -> list[str]:
        """``n`` generated documents as text (temperature 0: greedy). Without a seed, the trainer's RNG.

        Drawn in batches of about SAMPLE_BATCH_BYTES of activations: the first batch from ``seed`` itself (so
        a few samples are what ``gpt.sample`` gives), batch k from the seed sequence (seed, k).
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be an integer >= 1, got {n!r}")
        if seed is None:
            seed = int(self.rng.integers(2**63))
        m = self.model_config
        batch = memory.sample_batch(m.n_embd, m.n_head, m.n_layer, m.vocab_size, m.block_size,
                                    self._pflat.itemsize, SAMPLE_BATCH_BYTES)
        prefix_ids, out = self.tokenizer.encode(prefix), []
        with self._eval_point():
            for k, start in enumerate(range(0, n, batch)):
                s = seed if k == 0 else int(np.random.SeedSequence([seed, k]).generate_state(1, np.uint64)[0])
                ids = gpt.sample(self.params, m, min(batch, n - start), temperature, s, prefix_ids)
                out += [self.tokenizer.decode(i) for i in ids]
        return out

    def optimizer_stats(self, tensor: str | None = None) -> dict[str, np.ndarray]:
        """Adam's normalised step m̂/(√v̂+ε) and effective learning rate lr/(√v̂+ε), flattened, for one tensor
        or (None) all of them concatenated. For RMSprop/Adagrad only "effective_lr". ValueError for SGD or
        before the first step."""
        if not hasattr(self.optimizer, "inspect"):
            raise ValueError(f"optimizer {self.config.optimizer!r} has no per-parameter statistics")
        names = self.tensor_names if tensor is None else (tensor,)
        if tensor is not None and tensor not in self.tensor_names:
            raise ValueError(f"tensor must be one of {', '.join(self.tensor_names)}; got {tensor!r}")
        if self.step_count == 0:
            raise ValueError("no optimizer statistics before the first step")
        parts = [self.optimizer.inspect(n) for n in names]
        out = {}
        for key in ("normalized_step", "effective_lr"):
            if all(key in p for p in parts):  # (Muon + AdamW: only the AdamW tensors have them)
                out[key] = np.concatenate([np.ravel(p[key]) for p in parts])
        return out

    def snapshot(self) -> dict:
        """Copies of what a monitor draws, safe to hand to another thread."""
        h = self.history
        steps, loss, lo, hi = h.train.arrays("loss")
        return {"step": self.step_count, "status": self.status, "message": self.message,
                "steps": steps, "loss": loss, "loss_min": lo, "loss_max": hi, "lr": h.lr,
                "grad_norm": h.grad_norm, "val_steps": h.val_steps, "val_loss": h.val_loss,
                "knob_steps": h.knob_change_steps, "diverged_step": h.diverged_step, "last": self.last}


# ----------------------------------------------------------------------------------------------------------
# checkpoints


def _absolute_corpus(corpus: str) -> str:
    """The corpus as a checkpoint records it: "names", or the file's absolute path (a relative one would make
    the checkpoint resumable only from the directory it was written in)."""
    return corpus if corpus == "names" else os.path.abspath(os.path.expanduser(corpus))


def save_checkpoint(trainer: Trainer, path) -> Path:
    """Write one .npz file with config, weights, optimizer state, RNG, data position and history, atomically
    (``files.atomic_write``: a temp file in the same directory, then a rename): a crash never leaves a
    half-written checkpoint. ValueError if ``path`` is not a regular file or a new name (a FIFO, a device,
    a symlink, a directory: see ``files.check_target``), OSError if writing fails."""
    if str(path) == "":  # (Path("") would be the current directory)
        raise ValueError("checkpoint needs a file name, got an empty path")
    path = Path(path)
    trainer._apply_pending()  # knobs changed since the last step belong to the saved config
    state = {"step_count": trainer.step_count, "position": trainer.position, "status": trainer.status,
             "message": trainer.message, "first_loss": trainer.first_loss, "loss_ema": trainer.loss_ema,
             "elapsed": trainer.elapsed, "corpus_sha256": trainer.corpus.fingerprint(),
             "rng": trainer.rng.bit_generator.state}
    config = dataclasses.replace(trainer.config, corpus=_absolute_corpus(trainer.config.corpus))
    arrays = {"format": np.array(CHECKPOINT_FORMAT), "version": np.array(CHECKPOINT_VERSION),
              "config": np.array(config.to_json()), "state": np.array(json.dumps(state)),
              "tokenizer_chars": np.array(trainer.tokenizer.chars), "params": trainer._pflat}
    for k, v in trainer.optimizer.state_dict().items():
        arrays["opt." + k] = np.asarray(v)
    arrays.update({k: np.asarray(v) for k, v in trainer.history.state_dict().items()})
    if trainer.snapshots is not None:
        arrays.update({k: np.asarray(v) for k, v in trainer.snapshots.state_dict("snap.").items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    with files.atomic_write(path, "checkpoint") as f:
        np.savez(f, **arrays)
    return path


MAX_CHECKPOINT_BYTES = 2**36  # data a checkpoint may hold at most, whatever the machine (64 GB)
MAX_JSON_CHARS = 2**16  # the config and state texts are ~1 kB
STATUSES = ("ready", "training", "finished", "diverged")


def load_checkpoint(path, corpus: data.Corpus | None = None) -> Trainer:
    """A Trainer that continues exactly where the saved one stopped. Raises CheckpointError for a missing,
    truncated, foreign or crafted file (and CorpusError if the run's corpus can no longer be read).

    Nothing big is read before it is known to be what it should be: the file must be an .npz archive
    (safe_npz checks the zip directory and every member's .npy header first), its format marker is read
    first, then the small config and state texts; every member's declared shape and dtype must then be
    exactly what that config makes (see ``_expected``), the run must fit in memory (memory.check_fits),
    and only then are the arrays read, and every state field is checked for type and range.
    """
    path = Path(path)
    try:
        st = path.stat()
    except OSError:
        raise CheckpointError(f"Checkpoint not found: {path}") from None
    if not stat.S_ISREG(st.st_mode):
        raise CheckpointError(f"Not an AdamLab checkpoint (not a regular file): {path}")
    available = memory.available_memory()
    cap = MAX_CHECKPOINT_BYTES if available is None else min(MAX_CHECKPOINT_BYTES, available)
    try:
        with safe_npz.SafeNpz(path, max_bytes=cap) as z:
            return _load(z, path, corpus)
    except safe_npz.NpzError as e:
        what = "Not an AdamLab checkpoint" if e.foreign else "Not a readable AdamLab checkpoint"
        raise CheckpointError(f"{what} ({e}): {path}") from None
    except OSError as e:
        raise CheckpointError(f"Checkpoint cannot be read ({e.strerror or e}): {path}") from None


def _load(z: safe_npz.SafeNpz, path: Path, corpus: data.Corpus | None) -> Trainer:
    def damaged(why):
        return CheckpointError(f"Checkpoint is damaged: {why}: {path}")

    def scalar(key, kinds, max_chars=0):
        """A 0-d member of one of the dtype kinds (text of at most max_chars), read once it is known small."""
        m = z.members.get(key)
        if m is None:
            raise damaged(f"it has no {key}")
        if m.shape != () or m.dtype.kind not in kinds or m.dtype.itemsize > max(8, 4 * max_chars):
            raise damaged(f"{key} is {m.dtype} {m.shape}, not a {'text' if kinds == 'U' else 'number'}")
        return z.read(key)[()]

    m = z.members.get("format")
    if m is None or m.shape != () or m.dtype.kind != "U" or m.dtype.itemsize > 4 * 64 \
            or str(z.read("format")) != CHECKPOINT_FORMAT:
        raise CheckpointError(f"Not an AdamLab GPT checkpoint (no '{CHECKPOINT_FORMAT}' marker): {path}")
    version = int(scalar("version", "iu"))
    if version != CHECKPOINT_VERSION:
        raise CheckpointError(f"Checkpoint version {version} is not supported "
                              f"(this AdamLab reads version {CHECKPOINT_VERSION}): {path}")
    try:
        config = TrainConfig.from_json(str(scalar("config", "U", MAX_JSON_CHARS)))
        state = json.loads(str(scalar("state", "U", MAX_JSON_CHARS)))
    except (ValueError, TypeError, RecursionError) as e:
        if isinstance(e, CheckpointError):
            raise
        raise CheckpointError(f"Checkpoint has a damaged config ({e}): {path}") from None
    if not isinstance(state, dict):
        raise damaged("its state is not a JSON object")
    config = _resolve_corpus(config, path)
    chars = str(scalar("tokenizer_chars", "U", data.MAX_VOCAB))
    expected, tensors = _expected(config, len(chars) + 1)
    checkpoint_bytes = _check_members(z, expected, tensors, config, damaged)

    # the run itself, and reading its arrays (opt.*: all at once, and copied), must fit in memory
    reading = 2 * sum(m.nbytes for k, m in z.members.items() if k.startswith("opt.")) + checkpoint_bytes // 4
    if corpus is None:
        corpus = data.load_corpus(config.corpus, config.corpus_mode, config.block_size,
                                  check=lambda info: memory.check_fits(config, info, extra=reading))
    trainer = Trainer(config, corpus)
    if trainer.tokenizer.chars != chars:
        raise CheckpointError(f"The corpus {config.corpus!r} has changed since the checkpoint was written "
                              f"(its characters differ): {path}")
    saved = state.get("corpus_sha256")  # (absent from checkpoints written before it was recorded)
    if saved is not None and not (isinstance(saved, str) and len(saved) == 64):
        raise damaged("state field corpus_sha256 must be a SHA-256 hex digest")
    if saved is not None and saved != trainer.corpus.fingerprint():
        raise CheckpointError(f"The corpus {config.corpus!r} has changed since the checkpoint was written "
                              f"(same characters, different text), so the run cannot continue as it was: {path}")
    try:
        trainer._pflat[...] = z.read("params")
        opt_state = {k[4:]: z.read(k) for k in z.members if k.startswith("opt.")}
        _check_optimizer_state(opt_state, trainer, state.get("step_count"))
        if opt_state.get("slots") is not None and len(opt_state["slots"]):
            trainer.optimizer.load_state_dict(opt_state)
        del opt_state
        trainer.history.load_state_dict({k: z.read(k) for k in z.members if k.startswith("hist.")})
        if trainer.snapshots is not None and "snap.steps" in z.members:
            trainer.snapshots.load_state_dict({k: z.read(k) for k in z.members if k.startswith("snap.")}, "snap.")
        _restore_state(trainer, state)
    except safe_npz.NpzError:
        raise
    except (KeyError, ValueError, TypeError, OverflowError) as e:
        if isinstance(e, CheckpointError):
            raise CheckpointError(f"{e}: {path}") from None
        raise CheckpointError(f"Checkpoint is incomplete or damaged ({type(e).__name__}: {e}): {path}") from None
    return trainer


def _resolve_corpus(config: TrainConfig, path: Path) -> TrainConfig:
    """Checkpoints record the corpus file's absolute path; older ones a path relative to the directory they
    were written from. Such a path is looked for from the current directory, then beside the checkpoint."""
    name = config.corpus
    if name == "names" or os.path.isabs(os.path.expanduser(name)):
        return config
    for base in (Path.cwd(), path.parent):
        if (base / name).is_file():
            return dataclasses.replace(config, corpus=os.path.abspath(base / name))
    raise CheckpointError(f"The run's corpus {name!r} (a relative path) is neither in {Path.cwd()} nor beside "
                          f"the checkpoint: {path}")


def _expected(config: TrainConfig, vocab_size: int) -> tuple[dict, tuple]:
    """The members a checkpoint of ``config`` must hold with fixed shapes, name → (shape, dtype kinds), and
    the model's tensor names. Computed from numbers only: nothing of the model's size is allocated."""
    model = config.model_config(vocab_size)
    shapes = gpt.param_shapes(model)
    n = sum(r * c for r, c in shapes.values())
    expected = {"params": ((n,), "f"), **History.state_shapes(len(shapes), config.history_capacity)}
    return expected, tuple(shapes)


MAX_OPT_STATE_ARRAYS = 8  # parameter-sized arrays of optimizer state at most (Adam: 2, AMSGrad: 3)


def _check_members(z, expected, tensors, config, damaged) -> int:
    """Every member of the archive against what the config makes, before any array is read; returns the
    data bytes of them all. The parameters, the history and the snapshots have exact or bounded shapes; the
    optimizer's members (each kind lays out its own: flat, per tensor, factored, Muon's two halves) are
    bounded by count and size — none bigger than the parameters in float64, all together at most
    MAX_OPT_STATE_ARRAYS of those — and checked in full by its load_state_dict once read."""
    n = expected["params"][0][0]
    dtype = np.dtype(config.dtype)
    big, small = 8 * n, 2**16 + 128 * len(tensors)  # a parameter-sized array; metadata (names, offsets, ...)
    opt_count, opt_bytes, total = 0, 0, 0
    snap_cap = landscape.WeightSnapshots(n, 1, dtype=dtype).capacity if config.snapshot_every else 0
    for key, m in z.members.items():
        total += m.nbytes
        if key in ("format", "version", "config", "state", "tokenizer_chars"):
            continue  # (read and checked already)
        if key in expected:
            shape, kinds = expected[key]
            ok = m.shape == shape and m.dtype.kind in kinds and (key != "params" or m.dtype == dtype)
            if key.endswith(".channels"):
                ok = ok and m.dtype.itemsize <= 4 * 64
            if not ok:
                raise damaged(f"{key} is {m.dtype} {m.shape}, the run's config needs {shape} ({kinds})")
        elif key.startswith("opt."):
            opt_count, opt_bytes = opt_count + 1, opt_bytes + m.nbytes
            if m.nbytes > max(big, small) or opt_count > 16 * (len(tensors) + 2) \
                    or opt_bytes > MAX_OPT_STATE_ARRAYS * big + 4 * small:
                raise damaged(f"{key} ({m.dtype} {m.shape}) is more optimizer state than a model of {n:,} "
                              f"parameters has")
        elif key in ("hist.knob_steps", "hist.knob_labels"):
            text = key.endswith("labels")
            if (len(m.shape) != 1 or m.shape[0] > History.MAX_KNOB_CHANGES or m.dtype.kind not in ("U" if text else "iu")
                    or text and m.dtype.itemsize > 4 * History.MAX_LABEL_CHARS):
                raise damaged(f"{key} is {m.dtype} {m.shape}, not at most {History.MAX_KNOB_CHANGES} knob marks")
        elif snap_cap and key in ("snap.every", "snap.capacity", "snap.steps", "snap.weights"):
            ok = {"snap.every": m.shape == () and m.dtype.kind in "iu",
                  "snap.capacity": m.shape == () and m.dtype.kind in "iu",
                  "snap.steps": len(m.shape) == 1 and m.shape[0] <= snap_cap and m.dtype.kind in "iu",
                  "snap.weights": len(m.shape) == 2 and m.shape[0] <= snap_cap and m.shape[1] == n
                  and m.dtype == dtype}[key]
            if not ok:
                raise damaged(f"{key} is {m.dtype} {m.shape}, not at most {snap_cap} snapshots of {n:,} weights")
        else:
            raise damaged(f"it holds {key!r}, which is not part of an AdamLab checkpoint")
    missing = set(expected) - set(z.members)
    if missing:
        raise damaged(f"it has no {', '.join(sorted(missing))}")
    return total


def _check_optimizer_state(opt: dict, trainer: Trainer, step_count) -> None:
    """What the optimizer's own load_state_dict cannot know: its slots must be this model's tensors (or its
    one flat buffer, laid out over them), with step counts no larger than the run's."""
    def count(key, v):
        if np.shape(v) != () or np.asarray(v).dtype.kind not in "iu" \
                or not (isinstance(step_count, int) and 0 <= int(v) <= step_count):
            raise CheckpointError(f"Checkpoint is damaged: optimizer {key} must be an integer in "
                                  f"[0, step_count], got {v!r}")

    if "t" in opt:
        count("t", opt["t"])
    if "slots" not in opt:
        return
    shapes = gpt.param_shapes(trainer.model_config)
    slots = [str(s) for s in np.asarray(opt["slots"]).reshape(-1).tolist()]
    for i, name in enumerate(slots):
        if name not in shapes and name != "__flat__":
            raise CheckpointError(f"Checkpoint is damaged: optimizer state for {name[:40]!r}, not a tensor of "
                                  f"the model")
        if f"slot{i}.step" in opt:
            count(f"slot{i}.step", opt[f"slot{i}.step"])
        declared = tuple(np.asarray(opt.get(f"slot{i}.shape", [])).reshape(-1).tolist())
        if f"slot{i}.shape" in opt and declared != (shapes[name] if name in shapes else (trainer._pflat.size,)):
            raise CheckpointError(f"Checkpoint is damaged: optimizer slot {name!r} has shape {declared}")
    if slots == ["__flat__"]:
        layout = (tuple(np.asarray(opt["flat.names"]).reshape(-1).tolist()),
                  tuple(np.asarray(opt["flat.offsets"]).reshape(-1).tolist()),
                  tuple(np.asarray(opt["flat.dims"]).reshape(-1).tolist()))
        own = (trainer.tensor_names, tuple(int(o) for o in trainer._offsets),
               tuple(d for s in shapes.values() for d in s))
        if layout != own:
            raise CheckpointError("Checkpoint is damaged: the optimizer's state is laid out for other tensors")


def _restore_state(trainer: Trainer, state: dict) -> None:
    """Set the trainer's counters, status, losses and RNG from the checkpoint's state, each checked for type
    and range first (CheckpointError naming the field)."""
    def number(v):
        return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)

    def integer(v, low, high):
        return isinstance(v, int) and not isinstance(v, bool) and low <= v <= high

    def u128(v):
        return integer(v, 0, 2**128 - 1)

    def pcg64(v):
        return (isinstance(v, dict) and v.get("bit_generator") == "PCG64" and isinstance(v.get("state"), dict)
                and set(v["state"]) == {"state", "inc"} and u128(v["state"]["state"]) and u128(v["state"]["inc"])
                and v.get("has_uint32") in (0, 1) and integer(v.get("uinteger"), 0, 2**32 - 1))

    checks = {
        "step_count": (lambda v: integer(v, 0, trainer.config.steps), f"an integer in [0, {trainer.config.steps}]"),
        "position": (lambda v: integer(v, 0, len(trainer.train_seqs) - 1),
                     f"an integer in [0, {len(trainer.train_seqs) - 1}] (a training document)"),
        "status": (lambda v: v in STATUSES, f"one of {', '.join(STATUSES)}"),
        "message": (lambda v: isinstance(v, str) and len(v) <= 10_000, "a text"),
        "first_loss": (lambda v: v is None or number(v), "a finite number or null"),
        "loss_ema": (number, "a finite number"),
        "elapsed": (lambda v: number(v) and v >= 0, "a finite number of seconds >= 0"),
        "rng": (pcg64, "a PCG64 generator state"),
    }
    for name, (ok, what) in checks.items():
        if name not in state:
            raise CheckpointError(f"Checkpoint is damaged: its state has no {name}")
        if not ok(state[name]):
            raise CheckpointError(f"Checkpoint is damaged: state field {name} must be {what}, "
                                  f"got {str(state[name])[:80]!r}")
    trainer.step_count, trainer.position = state["step_count"], state["position"]
    trainer.status, trainer.message = state["status"], state["message"]
    trainer.first_loss = None if state["first_loss"] is None else float(state["first_loss"])
    trainer.loss_ema, trainer.elapsed = float(state["loss_ema"]), float(state["elapsed"])
    trainer.rng.bit_generator.state = state["rng"]
