"""The loss landscape of the tiny GPT: slices, directions, interpolation, trajectory PCA and sharpness.

What an optimizer walks through when it trains the GPT, in NumPy (no Qt), usable from a script:

    d1, d2 = random_plane(params, seed=0)                    # filter-normalised (Li et al. 2018)
    Z = loss_slice(params, cfg, x, y, d1, d2, alphas, betas, mask)   # Z[i, j] = L(θ + αᵢ·d1 + βⱼ·d2)
    ts, losses = interpolate(theta_a, theta_b, cfg, x, y, mask=mask)  # L((1 − t)·θa + t·θb)
    pca = trajectory_pca(snapshots)                          # top-2 directions of θ_t − θ_end
    lam = sharpness(params, cfg, x, y, mask)                 # λ_max of the Hessian (Lanczos on H·v)
    lam_p = sharpness(params, cfg, x, y, mask, precond=adam_preconditioner(opt, params))   # λ_max(P⁻¹H)

The loss is always ``gpt.loss_and_grads``'s: Σ mask·NLL / Σ mask over a fixed batch.

How it is fast. A slice is thousands of forward passes on the same batch with different weights, so they are
stacked: K weight sets go through the model together as (K, N, C) activations and batched matmuls
(``_StackedWeights``, ``_stacked_losses``), and the batch is cut into buckets of documents of equal length (a padded position
after a document's last real one changes nothing before it — attention is causal — so trimming it is exact).
The per-call Python cost is then spread over K·N rows, and each call is sized to stay in the CPU cache.

Sharpness. H·v by central differences of the gradient in float64, ``(g(θ + h·v) − g(θ − h·v)) / 2h`` with
‖v‖ = 1 and h = FD_STEP (see there for the accuracy measured against PyTorch's exact double backward), and
the top eigenvalues by Lanczos with full reorthogonalisation. With Adam's preconditioner P (diagonal,
Cohen et al. 2022) the operator is the symmetric P^-½·H·P^-½, whose eigenvalues are those of P⁻¹H.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np

from adamlab.core import gpt

# ----------------------------------------------------------------------------------------------------------
# flat vectors: a model's weights (or a direction) as one 1-D array, in param_shapes order


def as_vector(arrays, cfg: gpt.GPTConfig, dtype=None, what: str = "params") -> np.ndarray:
    """One new 1-D array: the tensors of ``arrays`` (a dict name → array, or already a flat vector)
    concatenated in ``param_shapes`` order. ValueError naming ``what`` if a name or a shape is wrong."""
    shapes = gpt.param_shapes(cfg)
    n = sum(r * c for r, c in shapes.values())
    if isinstance(arrays, np.ndarray):
        if arrays.shape != (n,):
            raise ValueError(f"{what} must be a dict of arrays or a flat vector of {n} numbers, got shape {arrays.shape}")
        return np.array(arrays, dtype=dtype or arrays.dtype)
    if not isinstance(arrays, dict):
        raise ValueError(f"{what} must be a dict name → array (as gpt.init_params returns), got {type(arrays).__name__}")
    parts = []
    for name, shape in shapes.items():
        a = arrays.get(name)
        if a is None or np.shape(a) != shape:
            got = "missing" if a is None else f"shape {np.shape(a)}"
            raise ValueError(f"{what}[{name!r}] must be an array of shape {shape}, got {got}")
        parts.append(np.ravel(a))
    out = np.concatenate(parts)
    return out.astype(dtype or _float_dtype(out), copy=False)


def as_params(vector: np.ndarray, cfg: gpt.GPTConfig) -> dict[str, np.ndarray]:
    """The tensors of a flat vector as a params dict (views into a copy of it, fused like gpt.init_params's)."""
    return gpt.views(np.array(vector, dtype=_float_dtype(vector)), cfg)


def _float_dtype(a) -> np.dtype:
    return a.dtype if a.dtype in (np.float32, np.float64) else np.dtype(np.float64)


def _model_dtype(params) -> np.dtype:
    a = params["wte"] if isinstance(params, dict) and "wte" in params else params
    return _float_dtype(np.asarray(a))


# ----------------------------------------------------------------------------------------------------------
# directions


def filter_normalized(params: dict, seed=0) -> dict[str, np.ndarray]:
    """A random Gaussian direction with every "filter" scaled to the norm of the same filter of θ.

    Li et al. 2018 ("Visualizing the loss landscape of neural nets", and their code's ``normalize_direction``)
    scale each filter d_f ← d_f·‖θ_f‖/‖d_f‖, so that a step of 1 along d moves every filter by its own size:
    without it a random direction would barely touch big-weight layers and swamp small ones, and slices of
    differently scaled networks (or of one network before and after training) could not be compared.

    A filter is a slice along the first axis. AdamLab stores weights as (out, in) — a linear layer is
    ``x @ W.T`` — so a filter is a ROW: the incoming weights of one output neuron (the counterpart of a
    convolution's output filter), one token's embedding in wte, one position's in wpe, one logit's weights in
    lm_head. 1-D (and 0-d) tensors such as biases or norm gains get a zero direction, as in Li et al.'s
    ``--xignore biasbn`` setting; the GPT here has none. A filter of θ that is all zeros stays zero.

    ``seed``: an int or a ``numpy.random.Generator`` (draws continue from it: see ``random_plane``). The
    normal draws are made for the tensors in the dict's order (float64, then cast to each tensor's dtype).
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(_check_seed(seed))
    out = {}
    for name, theta in params.items():
        theta = np.asarray(theta)
        dtype = _float_dtype(theta)
        d = rng.standard_normal(theta.shape).astype(dtype)
        if theta.ndim < 2:
            d[...] = 0
        else:
            rows_d = d.reshape(theta.shape[0], -1)  # (filters, rest)
            rows_t = theta.reshape(theta.shape[0], -1)
            norm_d = np.sqrt(np.einsum("ij,ij->i", rows_d, rows_d))
            norm_t = np.sqrt(np.einsum("ij,ij->i", rows_t, rows_t))
            rows_d *= (norm_t / np.where(norm_d > 0, norm_d, 1))[:, None]
        out[name] = d
    return out


def random_plane(params: dict, seed=0) -> tuple[dict, dict]:
    """Two filter-normalised directions (d1, d2), drawn one after the other from one generator seeded with
    ``seed``: the same seed gives the same plane."""
    rng = np.random.default_rng(_check_seed(seed))
    return filter_normalized(params, rng), filter_normalized(params, rng)


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0, got {seed!r}")
    return int(seed)


# ----------------------------------------------------------------------------------------------------------
# the fixed batch, cut into buckets of equal-length documents


@dataclass
class _Bucket:
    inputs: np.ndarray  # (B, T) int64
    targets: np.ndarray  # (B, T) int64
    weights: np.ndarray  # (B·T,) float64: mask / Σ mask of the WHOLE batch, so the buckets' losses add up
    mask: np.ndarray | None  # (B, T) the bucket's own mask, None when it is all ones
    share: float  # Σ mask of this bucket / Σ mask of the batch


def _split_batch(cfg, inputs, targets, mask, overhead_tokens: int) -> list[_Bucket]:
    """The batch as buckets of rows of similar length, each trimmed after its rows' last weighted position.

    A row's positions after its last non-zero mask weight cannot change the loss: they weigh zero and, as
    attention is causal, no earlier position sees them. So each row only needs its first ``length``
    positions. Rows are grouped by length, and neighbouring lengths are merged while the padding that adds
    costs less than ``overhead_tokens`` (the fixed cost of one more call, counted in tokens): chosen by a
    small dynamic programme over the (at most block_size) distinct lengths.
    """
    inputs, targets = gpt._check_batch(cfg, inputs, targets)
    B, T = inputs.shape
    if mask is None:
        m = np.ones((B, T))
    else:
        m = np.asarray(mask, dtype=np.float64)
        if m.shape != (B, T) or not (np.all(m >= 0) and m.sum() > 0):  # (False for NaN too)
            raise ValueError(f"mask must be non-negative weights of shape {(B, T)} with a positive sum")
    total = m.sum()
    nonzero = m > 0
    lengths = np.where(nonzero.any(axis=1), T - np.argmax(nonzero[:, ::-1], axis=1), 0)
    distinct = np.unique(lengths[lengths > 0])  # ascending
    counts = np.array([(lengths == L).sum() for L in distinct])
    # best[j]: the cheapest cost of covering the first j distinct lengths; a group i..j-1 costs one call
    # plus (its rows) × (its longest length) tokens
    n = len(distinct)
    best, cut = [0.0] + [math.inf] * n, [0] * (n + 1)
    for j in range(1, n + 1):
        for i in range(j):
            cost = best[i] + overhead_tokens + counts[i:j].sum() * distinct[j - 1]
            if cost < best[j]:
                best[j], cut[j] = cost, i
    groups, j = [], n
    while j > 0:
        groups.append((distinct[cut[j]], distinct[j - 1]))
        j = cut[j]
    buckets = []
    for lo, hi in reversed(groups):
        rows = np.flatnonzero((lengths >= lo) & (lengths <= hi))
        L = int(hi)
        mb = m[rows, :L]
        buckets.append(_Bucket(np.ascontiguousarray(inputs[rows, :L]), np.ascontiguousarray(targets[rows, :L]),
                               (mb / total).reshape(-1), None if np.all(mb == 1) else mb, float(mb.sum() / total)))
    return buckets


# ----------------------------------------------------------------------------------------------------------
# many forward passes at once


class _StackedWeights:
    """K weight sets (rows of a (K, P) array) as the stacked, transposed matrices the forward pass multiplies
    by: wte (K, V, C), wpe (K, block, C) and, per layer, wqkvᵀ (K, C, 3C) — with q's columns divided by √hd,
    so the attention scores need no division —, woᵀ (K, C, C), fc1ᵀ (K, C, 4C), fc2ᵀ (K, 4C, C), lm_headᵀ."""

    def __init__(self, thetas: np.ndarray, cfg: gpt.GPTConfig):
        K, C = thetas.shape[0], cfg.n_embd
        offsets, off = {}, 0
        for name, (r, c) in gpt.param_shapes(cfg).items():
            offsets[name] = (off, r, c)
            off += r * c

        def mat(name, rows=None):  # (K, r, c) view of the rows of thetas
            o, r, c = offsets[name]
            r = rows or r
            return thetas[:, o : o + r * c].reshape(K, r, c)

        def transposed(a):
            return np.ascontiguousarray(a.transpose(0, 2, 1))

        self.K = K
        self.wte, self.wpe = mat("wte"), mat("wpe")
        self.layers = []
        for i in range(cfg.n_layer):
            p = f"layer{i}."
            wqkv_t = transposed(mat(p + "attn_wq", 3 * C))  # wq, wk, wv sit back to back: (K, C, 3C)
            wqkv_t[:, :, :C] /= math.sqrt(cfg.head_dim)
            self.layers.append((wqkv_t, transposed(mat(p + "attn_wo")), transposed(mat(p + "mlp_fc1")),
                                transposed(mat(p + "mlp_fc2"))))
        self.lm_head_t = transposed(mat("lm_head"))

    def part(self, k0: int, k1: int) -> "_StackedWeights":
        """The weight sets k0..k1-1 (views)."""
        out = object.__new__(_StackedWeights)
        out.K = k1 - k0
        out.wte, out.wpe = self.wte[k0:k1], self.wpe[k0:k1]
        out.layers = [tuple(w[k0:k1] for w in layer) for layer in self.layers]
        out.lm_head_t = self.lm_head_t[k0:k1]
        return out


def _stacked_losses(W: _StackedWeights, cfg: gpt.GPTConfig, bucket: _Bucket, dtype) -> np.ndarray:
    """(K,) the bucket's share of the loss for each of the K weight sets: gpt._forward's maths with a leading
    K axis on every activation (x: (K, N, C)), and gpt.loss's cross-entropy."""
    K = W.K
    B, T = bucket.inputs.shape
    N, C, H, hd, V = B * T, cfg.n_embd, cfg.n_head, cfg.head_dim, cfg.vocab_size
    k = gpt.scalars(dtype)
    mean_c = gpt._column(C, 1.0 / C, dtype)
    x = W.wte.take(bucket.inputs.reshape(N), axis=1)  # (K, N, C)
    x.reshape(K, B, T, C)[...] += W.wpe[:, None, :T, :]
    x = _rmsnorm(x, mean_c, k)
    bias = gpt.causal_bias(T, dtype)
    ones_t = gpt._column(T, 1.0, dtype)
    for wqkv_t, wo_t, fc1_t, fc2_t in W.layers:
        h1 = _rmsnorm(x, mean_c, k)
        qkv = np.matmul(h1, wqkv_t)  # (K, N, 3C), q already divided by √hd
        q, kk, v = qkv.reshape(K, B, T, 3, H, hd).transpose(3, 0, 1, 4, 2, 5)  # each (K, B, H, T, hd)
        att = np.matmul(q, kk.swapaxes(-1, -2))  # (K, B, H, T, T)
        shift = gpt.common_shift(att, allow_zero=True)  # taken before the mask, as in gpt._forward
        att += bias
        gpt.softmax(att.reshape(-1, T), shift=shift, ones=ones_t)
        y = np.matmul(att, v).transpose(0, 1, 3, 2, 4).reshape(K, N, C)  # heads side by side
        x = x + np.matmul(y, wo_t)
        h2 = _rmsnorm(x, mean_c, k)
        r = np.matmul(h2, fc1_t)  # (K, N, 4C)
        np.maximum(r, k.zero, out=r)
        x += np.matmul(r, fc2_t)
    z = np.matmul(x, W.lm_head_t).reshape(K * N, V)
    gpt.subtract_max(z, gpt.common_shift(z))
    picks = (np.arange(K * N) * V) + np.tile(bucket.targets.reshape(N), K)
    nll = np.log(np.exp(z).dot(gpt._column(V, 1.0, dtype)))[:, 0] - z.take(picks)  # (K·N,)
    return nll.reshape(K, N).dot(bucket.weights)


def _rmsnorm(x, mean_c, k):
    """gpt.rmsnorm of (K, N, C) activations, through their (K·N, C) view: a 2-D matrix–vector product goes to
    BLAS, a 3-D ``dot`` does not."""
    return gpt.rmsnorm(x.reshape(-1, x.shape[-1]), col=mean_c, k=k)[0].reshape(x.shape)


class LossEvaluator:
    """L(θ) on one fixed batch for many weight vectors at once: ``ev(thetas)`` with thetas (K, P) gives (K,).

    The same loss as ``gpt.loss`` (agreement to ~1e-15 relative in float64). ``dtype``: the compute dtype
    (float32 is ~2× faster and agrees to ~1e-6 relative: invisible in a picture).
    """

    # K·N rows per stacked forward call: enough to spread the ~40 NumPy calls' fixed cost, few enough that the
    # widest activation (K·N, 4C) stays in the core's L2 cache (1.25 MB here). At microgpt size (C = 16) that is
    # 1024 rows in float64: a 41 × 41 slice took 3.1 s of CPU with a 512 kB budget, 3.3 s with 256 kB, 4.3 s with
    # 1 MB and 5.8 s with 2 MB (medians of 3, on the loaded 2-core machine); float32 is flat from 512 kB to 2 MB.
    ACTIVATION_BYTES = 2**19
    MAX_STACK_BYTES = 32 * 2**20  # at most this much of stacked weights at a time (big models: smaller K)

    def __init__(self, cfg: gpt.GPTConfig, inputs, targets, mask=None, dtype=np.float64):
        self.cfg = cfg
        self.dtype = gpt._check_dtype(dtype)
        self.size = gpt.num_params(cfg)
        self.buckets = _split_batch(cfg, inputs, targets, mask, overhead_tokens=4)
        self.tokens = sum(b.inputs.size for b in self.buckets)
        self.rows_per_call = max(16, self.ACTIVATION_BYTES // (4 * cfg.n_embd * self.dtype.itemsize))

    @property
    def max_stack(self) -> int:
        """How many weight sets one call stacks at most (memory bound)."""
        return max(1, self.MAX_STACK_BYTES // (self.size * self.dtype.itemsize))

    def __call__(self, thetas: np.ndarray) -> np.ndarray:
        thetas = np.asarray(thetas)
        if thetas.ndim != 2 or thetas.shape[1] != self.size:
            raise ValueError(f"thetas must have shape (K, {self.size}), got {thetas.shape}")
        out = np.zeros(thetas.shape[0])
        with gpt.blas_threads(1), np.errstate(all="ignore"):  # far-out weights: inf/nan losses, no warnings
            for s in range(0, thetas.shape[0], self.max_stack):
                out[s : s + self.max_stack] = self._losses(np.asarray(thetas[s : s + self.max_stack], self.dtype))
        return out

    def along(self, base: np.ndarray, directions: np.ndarray, coefs: np.ndarray) -> np.ndarray:
        """(K,) the losses at base + Σ_m coefs[k, m]·directions[m] (base (P,), directions (M, P), coefs (K, M)),
        the weight vectors made a few at a time (at most MAX_STACK_BYTES of them: big models stay in memory)."""
        coefs = np.asarray(coefs, dtype=self.dtype)
        out = np.empty(coefs.shape[0])
        for s in range(0, coefs.shape[0], self.max_stack):
            thetas = base + coefs[s : s + self.max_stack] @ directions  # (k, P)
            out[s : s + self.max_stack] = self(thetas)
        return out

    def _losses(self, thetas):
        K = thetas.shape[0]
        W = _StackedWeights(thetas, self.cfg)
        out = np.zeros(K)
        for b in self.buckets:
            step = max(1, self.rows_per_call // b.inputs.size)
            for k0 in range(0, K, step):
                k1 = min(K, k0 + step)
                out[k0:k1] += _stacked_losses(W.part(k0, k1) if (k0, k1) != (0, K) else W, self.cfg, b, self.dtype)
        return out


# ----------------------------------------------------------------------------------------------------------
# slices and lines


def iter_loss_slice(params, cfg, inputs, targets, d1, d2, alphas, betas, mask=None, dtype=None):
    """``loss_slice`` one row at a time: yields (i, Z[i, :]) for each αᵢ in order — for a job that reports
    progress and can stop between rows (a row of 41 points at microgpt size takes ~0.1 s)."""
    dtype = gpt._check_dtype(dtype or _model_dtype(params))
    theta = as_vector(params, cfg, dtype)
    u = as_vector(d1, cfg, dtype, "d1")
    w = as_vector(d2, cfg, dtype, "d2")
    alphas, betas = _grid_axis(alphas, "alphas"), _grid_axis(betas, "betas")
    ev = LossEvaluator(cfg, inputs, targets, mask, dtype)
    for i, a in enumerate(alphas.tolist()):
        yield i, ev.along(theta + dtype.type(a) * u, w[None, :], betas[:, None])  # θ + αᵢ·d1 + βⱼ·d2


def loss_slice(params, cfg, inputs, targets, d1, d2, alphas, betas, mask=None, dtype=None) -> np.ndarray:
    """Z (len(alphas), len(betas)) float64 with Z[i, j] = L(θ + alphas[i]·d1 + betas[j]·d2).

    L is ``gpt.loss_and_grads``'s loss (Σ mask·NLL / Σ mask) on the batch (inputs, targets, mask); d1, d2
    are dicts shaped like params (``random_plane``, ``TrajectoryPCA.direction``) or flat vectors.
    ``dtype``: the compute dtype, by default the parameters' (float32 halves the time). Non-finite losses
    (weights far out) come back as inf/nan, without warnings.
    """
    alphas = _grid_axis(alphas, "alphas")
    Z = np.empty((len(alphas), len(_grid_axis(betas, "betas"))))
    for i, row in iter_loss_slice(params, cfg, inputs, targets, d1, d2, alphas, betas, mask, dtype):
        Z[i] = row
    return Z


def interpolate(params_a, params_b, cfg, inputs, targets, ts=None, mask=None, dtype=None):
    """The loss along the straight line from θa (t = 0) to θb (t = 1): (ts, L((1 − t)·θa + t·θb)).

    ``ts`` defaults to 61 points from −0.25 to 1.25 (a little beyond both ends, as Goodfellow et al. 2015
    and Li et al. 2018 draw it). Use it from the initial to the final weights of a run (is the way down
    monotone?), or between the final weights of two runs (is there a barrier between them?).
    """
    dtype = gpt._check_dtype(dtype or _model_dtype(params_a))
    a = as_vector(params_a, cfg, dtype, "params_a")
    b = as_vector(params_b, cfg, dtype, "params_b")
    ts = np.linspace(-0.25, 1.25, 61) if ts is None else _grid_axis(ts, "ts")
    return ts, LossEvaluator(cfg, inputs, targets, mask, dtype).along(a, (b - a)[None, :], ts[:, None])


def losses_at(thetas, cfg, inputs, targets, mask=None, dtype=None) -> np.ndarray:
    """The loss of each weight vector (rows of a (K, P) array, e.g. a run's snapshots) on one batch: (K,)."""
    thetas = np.asarray(thetas)
    return LossEvaluator(cfg, inputs, targets, mask, dtype or _float_dtype(thetas))(thetas)


def _grid_axis(values, name) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64)
    if a.ndim != 1 or a.size == 0 or not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be a non-empty 1-D array of finite numbers, got {a.shape}")
    return a


# ----------------------------------------------------------------------------------------------------------
# trajectories: snapshots and PCA


SNAPSHOT_BYTES = 64 * 2**20  # a run keeps at most this much of weight snapshots
SNAPSHOT_CAPACITY = 256  # and at most this many


class WeightSnapshots:
    """The weights every ``every`` steps, for trajectory PCA, in bounded memory.

    Snapshots are taken at steps 0, every, 2·every, …; when the buffer is full (``capacity`` snapshots, at
    most SNAPSHOT_BYTES), every other one is dropped and the spacing doubles — the kept ones stay evenly
    spaced from step 0 however long the run. The current weights are not a snapshot unless the step count
    is a multiple of the spacing: ``trajectory(final)`` adds them.
    """

    def __init__(self, size: int, every: int = 10, capacity: int | None = None, dtype=np.float64):
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise ValueError(f"every must be an integer >= 1, got {every!r}")
        self.dtype = gpt._check_dtype(dtype)
        fit = max(2, SNAPSHOT_BYTES // (size * self.dtype.itemsize))
        self.capacity = int(min(capacity or SNAPSHOT_CAPACITY, fit))
        if self.capacity < 2:
            raise ValueError(f"capacity must be >= 2, got {capacity!r}")
        self.size, self.every, self.n = int(size), int(every), 0
        self._steps = np.zeros(self.capacity, dtype=np.int64)
        self._weights = None  # (capacity, size), made at the first snapshot

    def record(self, step: int, flat: np.ndarray) -> bool:
        """Keep a copy of ``flat`` if ``step`` is on the spacing; returns whether it was kept."""
        if step % self.every:
            return False
        if self.n and step <= self._steps[self.n - 1]:
            return False  # (a step already kept, e.g. a resumed run's first)
        if self._weights is None:
            self._weights = np.empty((self.capacity, self.size), self.dtype)
        while self.n == self.capacity:  # (more than once only if steps were skipped: every kept one fits 2·every)
            self._halve()
        if step % self.every:
            return False
        self._steps[self.n] = step
        self._weights[self.n] = flat
        self.n += 1
        return True

    def _halve(self):
        keep = np.flatnonzero(self._steps[: self.n] % (2 * self.every) == 0)
        self._steps[: len(keep)] = self._steps[keep]
        self._weights[: len(keep)] = self._weights[keep]
        self.n, self.every = len(keep), 2 * self.every

    @property
    def steps(self) -> np.ndarray:
        return self._steps[: self.n].copy()

    @property
    def weights(self) -> np.ndarray:
        """(n, size) copy of the kept weights, oldest first."""
        if self._weights is None:
            return np.empty((0, self.size), self.dtype)
        return self._weights[: self.n].copy()

    def trajectory(self, final: np.ndarray | None = None, final_step: int | None = None):
        """(steps, weights) with the current weights ``final`` appended when they are newer than the last
        snapshot."""
        steps, weights = self.steps, self.weights
        if final is not None and (self.n == 0 or final_step is None or final_step > steps[-1]):
            steps = np.append(steps, -1 if final_step is None else final_step)
            weights = np.concatenate([weights, np.asarray(final, self.dtype)[None]])
        return steps, weights

    @property
    def nbytes(self) -> int:
        return 0 if self._weights is None else self._weights.nbytes

    def state_dict(self, prefix: str = "snap.") -> dict:
        return {prefix + "every": self.every, prefix + "capacity": self.capacity,
                prefix + "steps": self.steps, prefix + "weights": self.weights}

    def load_state_dict(self, d: dict, prefix: str = "snap.") -> None:
        """Restore from ``state_dict``; ValueError (nothing changed) for arrays of the wrong shape."""
        steps = np.asarray(d[prefix + "steps"], dtype=np.int64)
        weights = np.asarray(d[prefix + "weights"])
        every, capacity = int(d[prefix + "every"]), int(d[prefix + "capacity"])
        n = len(steps)
        if steps.ndim != 1 or weights.shape != (n, self.size) or not 2 <= capacity <= self.capacity \
                or n > capacity or every < 1 or np.any(np.diff(steps) <= 0):
            raise ValueError(f"weight snapshots have shapes {steps.shape} / {weights.shape}, expected (n,) / "
                             f"(n, {self.size}) with n <= {self.capacity} increasing steps")
        self.capacity, self.every, self.n = capacity, every, n
        self._steps = np.zeros(capacity, dtype=np.int64)
        self._steps[:n] = steps
        self._weights = np.empty((capacity, self.size), self.dtype)
        self._weights[:n] = weights


@dataclass
class TrajectoryPCA:
    """The plane of a trajectory (or several): origin + a·d1 + b·d2 with d1, d2 orthonormal.

    ``explained[i]``: the fraction of the variance of the points (θ_t − origin, centred) that direction i
    explains. ``paths[r]``: (n_r, 2) coordinates of run r's points, (θ_t − origin)·dᵢ — exact in-plane
    positions in units of parameter distance, so they overlay ``loss_slice(origin, …, d1, d2, …)`` directly.
    ``residual[r]``: (n_r,) the distance of each point from the plane (how much the picture leaves out).
    """

    origin: np.ndarray  # (P,)
    directions: np.ndarray  # (2, P), orthonormal
    explained: np.ndarray  # (2,)
    paths: list = field(default_factory=list)
    residual: list = field(default_factory=list)

    def direction(self, i: int, cfg: gpt.GPTConfig) -> dict:
        """Direction i (0 or 1) as a params-shaped dict."""
        return as_params(self.directions[i], cfg)

    def origin_params(self, cfg: gpt.GPTConfig) -> dict:
        return as_params(self.origin, cfg)


def trajectory_pca(trajectories, origin=None) -> TrajectoryPCA:
    """The top two principal directions of a run's weights relative to a point, as Li et al. 2018 draw it.

    ``trajectories``: one (n, P) array (a run's snapshots, oldest first, the final weights last) or a list of
    them (several runs). ``origin``: the plane's centre, a (P,) vector; by default the last point of the
    run (θ_end, Li et al.'s choice) for one run, and for several runs their common first point (runs of a
    comparison start from the same weights: each path then starts at (0, 0) and the plane is the one that
    holds most of all of their motion; pass another origin, e.g. one run's final weights, if you prefer).

    Like Li et al.'s code (scikit-learn's PCA of the matrix of θ_t − θ_end), the points are centred before
    the SVD: the directions are those of greatest variance of the cloud of points, and ``explained`` is
    scikit-learn's ``explained_variance_ratio_``. The signs are fixed so that the first run's path heads up
    and to the right (its last point minus its first has coordinates >= 0; with one run, its start lies at
    (−, −) of θ_end), so a result never flips between calls or machines.
    """
    runs = [np.asarray(trajectories)] if isinstance(trajectories, np.ndarray) else [np.asarray(t) for t in trajectories]
    if not runs or any(r.ndim != 2 for r in runs) or len({r.shape[1] for r in runs}) != 1:
        raise ValueError("trajectories must be a (n, P) array or a list of (n_i, P) arrays with the same P")
    P = runs[0].shape[1]
    dtype = np.float64
    if origin is None:
        if len(runs) == 1:
            origin = runs[0][-1]
        else:
            starts = np.stack([r[0] for r in runs])
            if not np.all(starts == starts[0]):
                raise ValueError("the runs do not start from the same weights: pass origin= (e.g. one run's final "
                                 "weights) to choose the plane's centre")
            origin = starts[0]
    origin = np.asarray(origin, dtype=dtype)
    if origin.shape != (P,):
        raise ValueError(f"origin must have shape ({P},), got {origin.shape}")
    M = np.concatenate([r.astype(dtype) - origin for r in runs])  # (n, P)
    if M.shape[0] < 3:
        raise ValueError(f"PCA needs at least 3 points, got {M.shape[0]}")
    centred = M - M.mean(axis=0)
    with gpt.blas_threads(1):  # (LAPACK on two threads of a busy 2-core machine: 10× slower, see gpt.py)
        dirs, var = _top_directions(centred, 2)
    total = float(np.einsum("ij,ij->", centred, centred))  # Σ of all squared singular values
    if not total > 0:
        raise ValueError("the points are all the same: the trajectory has no direction")
    moved = runs[0][-1].astype(dtype) - runs[0][0]  # the first run's net displacement
    for i in range(2):
        side = dirs[i] @ moved
        if side < 0 or (side == 0 and dirs[i][np.argmax(np.abs(dirs[i]))] < 0):
            dirs[i] *= -1
    paths, residual = [], []
    for r in runs:
        diff = r.astype(dtype) - origin
        xy = diff @ dirs.T  # (n, 2)
        paths.append(xy)
        residual.append(np.sqrt(np.maximum(np.einsum("ij,ij->i", diff, diff) - np.einsum("ij,ij->i", xy, xy), 0)))
    return TrajectoryPCA(origin, dirs, var / total, paths, residual)


def _top_directions(X: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The top k right singular vectors of X (n, P) as rows (k, P), and their squared singular values (k,).

    With fewer points than parameters (a trajectory: n ~ 100, P = 4,192) through the small Gram matrix X·Xᵀ:
    X·Xᵀ = U·S²·Uᵀ and V = Xᵀ·U·S⁻¹ (23 ms instead of 110 ms for the SVD of X; for the top directions, whose
    singular values are the largest, as accurate). Missing directions (rank < k) are zero.
    """
    n, P = X.shape
    dirs, var = np.zeros((k, P)), np.zeros(k)
    if n < P:
        w, U = np.linalg.eigh(X @ X.T)  # ascending
        for i in range(min(k, n)):
            lam = w[n - 1 - i]
            if lam > 1e-14 * max(w[-1], 1e-300):
                v = U[:, n - 1 - i] @ X
                dirs[i], var[i] = v / np.linalg.norm(v), lam
    else:
        _, s, vt = np.linalg.svd(X, full_matrices=False)
        m = min(k, len(s))
        dirs[:m], var[:m] = vt[:m], s[:m] ** 2
    return dirs, var


def project(points: np.ndarray, pca: TrajectoryPCA) -> np.ndarray:
    """(n, 2) coordinates of weight vectors (n, P) on a plane: (θ − origin)·dᵢ (e.g. another run's path)."""
    return (np.asarray(points, dtype=np.float64) - pca.origin) @ pca.directions.T


# ----------------------------------------------------------------------------------------------------------
# gradients and Hessian-vector products (float64)

# The finite-difference step along a unit vector, and the test for a ReLU kink inside it. The loss is only
# piecewise smooth: wherever an MLP pre-activation changes sign, ReLU's slope jumps, and so does the gradient.
# A central difference whose step crosses such a kink measures that jump over 2h, not the curvature: along a
# random direction it happens rarely, but Lanczos builds its vectors from the products it has seen, and one
# bad product is enough for it to report a large eigenvalue that does not exist (measured at microgpt size at
# initialisation: 2.60 instead of 1.19 with h = 1e-5 and no test). The test compares the forward and backward
# differences g(θ + hv) − g(θ) and g(θ) − g(θ − hv): on a smooth piece they agree to O(h²) (~1e-5 relative
# here), across a kink they differ by the jump. Disagreeing by more than KINK_TOL, the product is taken again
# with h/8 (a kink crossed at h is at a distance below h: a small enough step stays on its side).
#
# Accuracy, measured at microgpt size (4,192 parameters, 256 names, at initialisation and after 1,000 Adam steps)
# against PyTorch's exact double-backward H·v: ‖Hv_fd − Hv‖/‖Hv‖ = 1–4e-10 at h = 1e-5 and 1e-4 when no kink is
# crossed (truncation ∝ h², rounding ∝ 1/h: 3e-9 at 1e-6, 3e-8 at 1e-7); the top three eigenvalues found by
# Lanczos agree with those of the same Lanczos on PyTorch's exact products to 1e-11–5e-11 relative. See
# benchmarks/bench_landscape.py --accuracy.
FD_STEP = 1e-5
KINK_TOL = 1e-2
KINK_RETRIES = 6


class _Gradient:
    """∇L at any flat float64 θ, on one fixed batch (bucketed, see _split_batch), into a reused buffer."""

    def __init__(self, cfg, inputs, targets, mask=None):
        self.cfg = cfg
        self.size = gpt.num_params(cfg)
        self.buckets = _split_batch(cfg, inputs, targets, mask, overhead_tokens=64)
        self._theta = np.empty(self.size)
        self._params = gpt.views(self._theta, cfg)
        self._grads = gpt.zeros_like_params(cfg, np.float64)
        self._gflat = gpt.flat_buffer(self._grads)
        self.calls = 0

    def __call__(self, theta: np.ndarray, out: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """(loss, gradient) at theta (P,); the gradient goes into ``out`` (a new array if None)."""
        np.copyto(self._theta, theta)
        out = np.zeros(self.size) if out is None else out
        out[...] = 0
        loss = 0.0
        with np.errstate(all="ignore"):
            for b in self.buckets:
                part, _ = gpt.loss_and_grads(self._params, self.cfg, b.inputs, b.targets, b.mask, grads=self._grads)
                loss += b.share * part
                out += b.share * self._gflat
        self.calls += 1
        return loss, out


class HessianOperator:
    """v ↦ S·(H + l2·I)·S·v, with H the Hessian of a loss at θ and S = P^-½ (or I).

    ``gradient(theta, out) -> (loss, out)`` computes the loss's gradient (float64) into ``out``; ``gpt_hessian``
    makes one for the GPT on a fixed batch. H·v by central differences of it (see FD_STEP), two gradients per
    product (and one at θ for the whole operator, to test for ReLU kinks). S·(H + l2·I)·S is symmetric with
    the eigenvalues of P⁻¹(H + l2·I) (similar matrices). ``precond``: the diagonal of P, a flat vector of
    positive numbers. ``l2``: an L2 penalty in the gradient (SGD's or Adam's weight_decay), whose Hessian l2·I
    adds to H.
    """

    def __init__(self, gradient, theta, precond=None, l2: float = 0.0, step: float = FD_STEP):
        self.theta = np.array(theta, dtype=np.float64)
        if self.theta.ndim != 1:
            raise ValueError(f"theta must be a flat vector, got shape {self.theta.shape}")
        self.grad = gradient
        if not (math.isfinite(step) and step > 0):
            raise ValueError(f"step must be a finite number > 0, got {step!r}")
        if not (math.isfinite(l2) and l2 >= 0):
            raise ValueError(f"l2 must be a finite number >= 0, got {l2!r}")
        self.step, self.l2 = float(step), float(l2)
        self.scale = None
        if precond is not None:
            p = np.asarray(precond, dtype=np.float64)
            if p.shape != self.theta.shape:
                raise ValueError(f"precond must have shape {self.theta.shape}, got {p.shape}")
            if not np.all(p > 0) or not np.all(np.isfinite(p)):  # (NaN fails the first test)
                raise ValueError("precond must hold finite positive numbers (the diagonal of P)")
            self.scale = 1.0 / np.sqrt(p)
        self.products = 0  # H·v products taken
        self.retries = 0  # products taken again with a smaller step (a ReLU kink was in the way)
        self._g0 = None  # (loss, ∇L) at θ, made at the first product
        self._g1, self._g2, self._x = np.empty(self.theta.size), np.empty(self.theta.size), np.empty(self.theta.size)

    @property
    def size(self) -> int:
        return self.theta.size

    def hessian_vector(self, v: np.ndarray) -> np.ndarray:
        """H·v (no preconditioner, no l2), by a central difference that steps back from ReLU kinks (see FD_STEP)."""
        norm = float(np.linalg.norm(v))
        if norm == 0:
            return np.zeros_like(v)
        g0 = self.gradient()[1]
        g1, g2, x = self._g1, self._g2, self._x
        h = self.step
        for attempt in range(KINK_RETRIES + 1):
            np.multiply(v, h / norm, out=x)  # a step of h along the unit vector v/‖v‖
            self.grad(self.theta + x, g1)
            self.grad(self.theta - x, g2)
            asymmetry = float(np.linalg.norm(g1 - 2 * g0 + g2))  # (g1 − g0) − (g0 − g2)
            size = float(np.linalg.norm(g1 - g2))
            floor = 64 * np.finfo(np.float64).eps * (np.linalg.norm(g0) + np.linalg.norm(g1))
            if asymmetry <= KINK_TOL * size or asymmetry <= floor or not math.isfinite(asymmetry):
                break  # (non-finite: diverged weights; smaller steps will not mend that)
            self.retries += 1
            h /= 8
        self.products += 1
        return (g1 - g2) * (norm / (2 * h))

    def __call__(self, v: np.ndarray) -> np.ndarray:
        u = v if self.scale is None else self.scale * v
        hu = self.hessian_vector(u)
        if self.l2:
            hu += self.l2 * u
        return hu if self.scale is None else self.scale * hu

    def gradient(self) -> tuple[float, np.ndarray]:
        """(loss, ∇L) at θ (computed once, then remembered: do not modify it)."""
        if self._g0 is None:
            self._g0 = self.grad(self.theta)
        return self._g0


def gpt_hessian(params, cfg, inputs, targets, mask=None, precond=None, l2: float = 0.0) -> HessianOperator:
    """The HessianOperator of ``gpt.loss_and_grads``'s loss on a fixed batch at ``params`` (float64 whatever
    their dtype); ``precond``: a params-shaped dict (or flat vector) of the diagonal of P."""
    theta = as_vector(params, cfg, np.float64)
    p = None if precond is None else as_vector(precond, cfg, np.float64, "precond")
    return HessianOperator(_Gradient(cfg, inputs, targets, mask), theta, p, l2)


def hessian_vector_product(params, cfg, inputs, targets, v, mask=None) -> dict:
    """H·v as a params-shaped dict (v: a params-shaped dict or a flat vector), by central differences."""
    op = gpt_hessian(params, cfg, inputs, targets, mask)
    return as_params(op.hessian_vector(as_vector(v, cfg, np.float64, "v")), cfg)


@dataclass
class Eigen:
    """Top eigenpairs of a symmetric operator found by Lanczos: values (k,) descending, vectors (k, P)
    orthonormal (of the symmetric operator: with a preconditioner, of P^-½·H·P^-½; P^-½·u is then the
    eigenvector of P⁻¹H), residuals (k,) ‖A·u − λ·u‖, products: operator applications used."""

    values: np.ndarray
    vectors: np.ndarray
    residuals: np.ndarray
    products: int


def lanczos(op, size: int, k: int = 1, iters: int = 20, tol: float = 1e-4, seed=0, v0=None) -> Eigen:
    """The k algebraically largest eigenpairs of a symmetric linear operator ``op`` (a function of a (size,)
    vector), by Lanczos with full reorthogonalisation.

    Stops after ``iters`` products, or once each of the top k Ritz values has a residual below tol·|λ₁|
    (the residual ‖A·u − λ·u‖ bounds the distance from λ to an eigenvalue). ``v0``: a start vector (e.g.
    the previous top eigenvector, when tracking sharpness along a run: it then converges in a few steps),
    else a seeded Gaussian one. Largest, not largest in magnitude: a Hessian can have big negative
    eigenvalues too, and power iteration would find those. Fewer than k pairs come back only when the start
    vector lies in an invariant subspace of fewer dimensions.
    """
    if isinstance(iters, bool) or not isinstance(iters, (int, np.integer)) or iters < 1:
        raise ValueError(f"iters must be an integer >= 1, got {iters!r}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= k <= min(iters, size):
        raise ValueError(f"k must be an integer in [1, min(iters, size)], got {k!r}")
    if v0 is None:
        v0 = np.random.default_rng(_check_seed(seed)).standard_normal(size)
    q = np.asarray(v0, dtype=np.float64).copy()
    if q.shape != (size,) or not np.linalg.norm(q) > 0:
        raise ValueError(f"v0 must be a non-zero vector of shape ({size},)")
    q /= np.linalg.norm(q)
    with gpt.blas_threads(1):  # small products: one thread (see gpt.py's "BLAS threads")
        return _lanczos(op, size, k, min(iters, size), tol, q)


def _lanczos(op, size, k, m, tol, q) -> Eigen:
    Q = np.zeros((m + 1, size))
    Q[0] = q
    alpha, beta = [], []
    products = 0
    values = vecs = res = None
    for j in range(m):
        w = op(Q[j])
        products += 1
        if not np.all(np.isfinite(w)):  # e.g. the weights of a diverged run: no eigenvalue to find
            nan = np.full(1, np.nan)
            return Eigen(nan, np.full((1, size), np.nan), nan, products)
        a = float(Q[j] @ w)
        alpha.append(a)
        w = w - a * Q[j] - (beta[-1] * Q[j - 1] if j else 0)
        for _ in range(2):  # full reorthogonalisation against every earlier vector ("twice is enough", Parlett)
            w -= Q[: j + 1].T @ (Q[: j + 1] @ w)
        b = float(np.linalg.norm(w))
        T = np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1)
        theta, S = np.linalg.eigh(T)
        order = np.argsort(theta)[::-1]
        theta, S = theta[order], S[:, order]
        kk = min(k, j + 1)
        values, vecs = theta[:kk], S[:, :kk]
        res = np.abs(b * S[-1, :kk])  # the standard residual bound of a Ritz pair
        scale = max(abs(values[0]), 1e-300)
        if b <= 1e-12 * scale or (kk == k and np.all(res <= tol * scale)):
            break  # converged, or the Krylov space is invariant (then every Ritz value is exact)
        beta.append(b)
        Q[j + 1] = w / b if b > 0 else 0
    n = len(alpha)
    vectors = vecs.T @ Q[:n]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return Eigen(np.asarray(values, dtype=np.float64), vectors, np.asarray(res), products)


def hessian_eigs(params, cfg, inputs, targets, mask=None, precond=None, k: int = 1, iters: int = 20, seed=0,
                 tol: float = 1e-4, v0=None, l2: float = 0.0) -> Eigen:
    """The top-k eigenpairs of the Hessian of the loss (of P^-½·H·P^-½ with ``precond``), see ``lanczos``."""
    op = gpt_hessian(params, cfg, inputs, targets, mask, precond, l2)
    return lanczos(op, op.size, k, iters, tol, seed, v0)


def sharpness(params, cfg, inputs, targets, mask=None, precond=None, iters: int = 20, seed=0, tol: float = 1e-4,
              l2: float = 0.0) -> float:
    """λ_max of the Hessian of ``gpt.loss_and_grads``'s loss on the batch, or of P⁻¹H when ``precond`` (a dict of
    positive arrays: the diagonal of P, e.g. ``adam_preconditioner``) is given.

    H·v by central differences of the float64 gradient, eigenvalue by Lanczos (``iters`` products at most,
    two gradients each; it stops earlier at a relative residual below ``tol``). Compare it with
    ``stability_threshold``: 2/η for gradient descent, 38/η for Adam's P⁻¹H at β1 = 0.9.
    """
    return float(hessian_eigs(params, cfg, inputs, targets, mask, precond, 1, iters, seed, tol, l2=l2).values[0])


def gradient_share(gradient: np.ndarray, vector: np.ndarray) -> float:
    """cos² of the angle between the gradient and a (top) eigenvector: the gradient's share along it."""
    g, v = np.ravel(gradient), np.ravel(vector)
    gg, vv = float(g @ g), float(v @ v)
    if not (math.isfinite(gg) and math.isfinite(vv)):
        return math.nan
    return float((g @ v) ** 2 / (gg * vv)) if gg > 0 and vv > 0 else 0.0


# ----------------------------------------------------------------------------------------------------------
# optimizers: preconditioners and stability thresholds


def preconditioner(optimizer, names) -> dict | None:
    """The diagonal P of an adaptive optimizer's update θ ← θ − η·P⁻¹·(momentum of g), from its state.

    Adam, AdamW, AMSGrad (Cohen et al. 2022, "Adaptive gradient methods at the edge of stability", §2):
    P = (1 − β1ᵗ)·(√v̂ + ε) — the bias correction of m moved into P, so that the update is η·P⁻¹·m with m the
    EMA of gradients; v̂ = v/(1 − β2ᵗ) (AMSGrad: its running max). RMSprop: P = √v + ε (centered: √(v − ḡ²) + ε).
    Adagrad: P = (√Σg² + ε)·(1 + (t − 1)·lr_decay) (its decayed lr folded in). None for optimizers without one
    (SGD) or before their first step. ``names``: the tensors (e.g. ``gpt.param_shapes(cfg)`` or a params dict).
    """
    from adamlab.core import optim

    kind = type(optimizer)  # exact classes: a subclass (another Adam variant) may update differently
    if kind not in (optim.Adam, optim.AdamW, optim.RMSprop, optim.Adagrad) or optimizer.t == 0:
        return None
    out = {}
    for name in names:
        info = optimizer.inspect(name)
        if kind in (optim.Adam, optim.AdamW):
            out[name] = info["bias_correction1"] * info["denom"]
        elif kind is optim.Adagrad:
            out[name] = info["denom"] * (optimizer.lr / info["clr"]) if optimizer.lr > 0 else info["denom"]
        else:  # RMSprop
            out[name] = info["denom"]
    return out


def adam_preconditioner(optimizer, names) -> dict:
    """Adam's P = (1 − β1ᵗ)·(√v̂ + ε) (Cohen et al. 2022) for each tensor of ``names``; ValueError for an
    optimizer that is not Adam-like or has not stepped yet. See ``preconditioner``."""
    from adamlab.core import optim

    if type(optimizer) not in (optim.Adam, optim.AdamW):
        raise ValueError(f"optimizer must be Adam, AdamW or AMSGrad, got {type(optimizer).__name__}")
    p = preconditioner(optimizer, names)
    if p is None:
        raise ValueError("Adam has no preconditioner before its first step (v is still zero)")
    return p


def stability_threshold(kind: str, lr: float, betas=(0.9, 0.999), momentum: float = 0.0) -> float | None:
    """The sharpness above which the optimizer's step is unstable on a quadratic: where training sits at the
    edge of stability (Cohen et al. 2021, 2022). η = lr. None when not known for ``kind``.

    gd/sgd: 2/η on λ_max(H). momentum (heavy ball, torch's b ← μ·b + g, θ ← θ − η·b): (2 + 2μ)/η. nesterov:
    (2 + 2μ)/((1 + 2μ)·η). adam/adamw/amsgrad: (2 + 2β1)/((1 − β1)·η) on λ_max(P⁻¹H) — 38/η at β1 = 0.9: with
    P frozen, Adam is heavy-ball momentum with step (1 − β1)·η on the preconditioned problem. rmsprop:
    (2 + 2μ)/η on λ_max(P⁻¹H) (2/η without momentum). adagrad: 2/η on λ_max(P⁻¹H).
    """
    if not (math.isfinite(lr) and lr > 0):
        return None
    mu = float(momentum)
    if kind in ("gd", "sgd"):
        return 2.0 / lr
    if kind == "momentum":
        return (2 + 2 * mu) / lr
    if kind == "nesterov":
        return (2 + 2 * mu) / ((1 + 2 * mu) * lr)
    if kind in ("adam", "adamw", "amsgrad"):
        b1 = float(betas[0])
        return (2 + 2 * b1) / ((1 - b1) * lr)
    if kind == "rmsprop":
        return (2 + 2 * mu) / lr
    if kind == "adagrad":
        return 2.0 / lr
    return None


def uses_preconditioner(kind: str) -> bool:
    """Whether ``stability_threshold(kind, …)`` applies to λ_max(P⁻¹H) rather than λ_max(H)."""
    return kind in ("adam", "adamw", "amsgrad", "rmsprop", "adagrad")


# ----------------------------------------------------------------------------------------------------------
# a trainer's landscape: its fixed batch, its plane, its sharpness along the run


def initial_params(trainer) -> dict:
    """The run's initial weights θ₀: its step-0 snapshot, else rebuilt from its config (initialisation is
    seeded, so it is the same)."""
    snaps = getattr(trainer, "snapshots", None)
    if snaps is not None and snaps.n and snaps.steps[0] == 0:
        return as_params(snaps.weights[0], trainer.model_config)
    from adamlab.core import train

    fresh = train.Trainer(trainer.config, trainer.corpus)
    return as_params(as_vector(fresh.params, fresh.model_config), trainer.model_config)


def run_trajectory(trainer) -> tuple[np.ndarray, np.ndarray]:
    """(steps, weights (n, P)): the run's kept snapshots and its current weights; ValueError if it kept none."""
    snaps = getattr(trainer, "snapshots", None)
    if snaps is None or snaps.n == 0:
        raise ValueError("the run kept no weight snapshots (train it with snapshot_every > 0, "
                         "e.g. adamlab train --snapshot-every 10)")
    return snaps.trajectory(as_vector(trainer.params, trainer.model_config), trainer.step_count)


@dataclass
class Plane:
    """A plane to slice a landscape on: origin + a·d1 + b·d2 for a in alphas, b in betas.

    kind "random": filter-normalised directions around a run's current weights (a, b in units of each row's
    own norm). kind "pca": the top two directions of one or several trajectories (a, b in parameter
    distance), with ``explained`` and each run's path ``paths[r]`` (n_r, 2) at ``path_steps[r]``.
    Slice it with ``loss_slice(plane.origin, cfg, x, y, plane.d1, plane.d2, plane.alphas, plane.betas, mask)``."""

    kind: str
    origin: dict
    d1: dict
    d2: dict
    alphas: np.ndarray
    betas: np.ndarray
    explained: np.ndarray | None = None
    paths: list = field(default_factory=list)
    path_steps: list = field(default_factory=list)

    @property
    def path(self) -> np.ndarray | None:
        """The first (or only) run's path, None for a random plane."""
        return self.paths[0] if self.paths else None


PCA_MARGIN = 1.25  # a PCA plane's half-width is this times the farthest point of the paths


def _check_grid(span, resolution):
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or not 2 <= resolution <= 401:
        raise ValueError(f"resolution must be an integer in [2, 401], got {resolution!r}")
    if span is not None and not (isinstance(span, (int, float, np.floating)) and math.isfinite(span) and span > 0):
        raise ValueError(f"span must be a finite number > 0, got {span!r}")


def pca_plane(trajectories, cfg: gpt.GPTConfig, span: float | None = None, resolution: int = 41, steps=None,
              origin=None) -> Plane:
    """The PCA plane of one run's trajectory (an (n, P) array, final weights last: centred on them) or of
    several runs from one start (a list: centred on the start), see ``trajectory_pca``; the square grid covers
    every path (PCA_MARGIN × its farthest point) unless ``span`` is given. ``steps``: the step of each point,
    an array or a list of arrays like ``trajectories``."""
    _check_grid(span, resolution)
    pca = trajectory_pca(trajectories, origin)
    half = float(span) if span is not None else PCA_MARGIN * max(max(float(np.abs(p).max()) for p in pca.paths), 1e-12)
    axis = np.linspace(-half, half, resolution)
    if steps is not None and isinstance(trajectories, np.ndarray):
        steps = [steps]
    return Plane("pca", pca.origin_params(cfg), pca.direction(0, cfg), pca.direction(1, cfg), axis, axis.copy(),
                 pca.explained, pca.paths, list(steps) if steps is not None else [])


def run_plane(trainer, directions: str = "random", seed=0, span: float | None = None, resolution: int = 41) -> Plane:
    """The plane ``adamlab landscape`` slices a run on (see Plane). ``span``: the grid's half-width, by default
    1 for random directions (Li et al.'s [−1, 1]) and PCA_MARGIN × the path's extent for PCA."""
    _check_grid(span, resolution)
    cfg = trainer.model_config
    if directions == "random":
        origin = as_params(as_vector(trainer.params, cfg), cfg)
        d1, d2 = random_plane(origin, seed)
        half = 1.0 if span is None else float(span)
        axis = np.linspace(-half, half, resolution)
        return Plane("random", origin, d1, d2, axis, axis.copy())
    if directions == "pca":
        steps, weights = run_trajectory(trainer)
        if len(weights) < 3:
            raise ValueError(f"PCA needs at least 3 weight vectors, the run kept {len(weights)}: train it longer "
                             "or with a smaller snapshot_every")
        return pca_plane(weights, cfg, span, resolution, steps)
    raise ValueError(f"directions must be 'random' or 'pca', got {directions!r}")


def fixed_batch(trainer, docs: int | None = None, split: str = "train"):
    """(inputs, targets, mask) of a fixed set of a trainer's documents: the first ``docs`` training (or
    validation) documents. Default: the full-batch subset when the trainer trains on one (its own batch),
    else 256 documents."""
    from adamlab.core import data

    if split not in ("train", "val"):
        raise ValueError(f"split must be 'train' or 'val', got {split!r}")
    seqs = trainer.train_seqs if split == "train" else trainer.val_seqs
    full = getattr(trainer.config, "full_batch", 0)
    if docs is None:
        docs = full if (full and split == "train") else 256
    if isinstance(docs, bool) or not isinstance(docs, (int, np.integer)) or docs < 1:
        raise ValueError(f"docs must be an integer >= 1, got {docs!r}")
    if not seqs:
        raise ValueError(f"the run has no {'validation' if split == 'val' else 'training'} documents")
    return data.make_batch(seqs[: int(docs)], trainer.config.block_size, trainer.tokenizer.bos)


@dataclass
class SharpnessPoint:
    """One measurement along a run. ``sharpness``: λ_max(H); ``preconditioned``: λ_max(P⁻¹H) for adaptive
    optimizers (nan otherwise); ``threshold``: the optimizer's stability threshold for the one that applies
    (see ``stability_threshold``; nan if unknown); ``grad_share``: cos² between the gradient and H's top
    eigenvector; ``loss``: on the measuring batch."""

    step: int
    lr: float
    sharpness: float
    preconditioned: float
    threshold: float
    grad_share: float
    loss: float
    products: int
    seconds: float


class SharpnessTracker:
    """λ_max along a training run, every ``every`` steps, on one fixed batch (see ``fixed_batch``).

        tracker = SharpnessTracker(trainer, every=10)
        while not trainer.done:
            trainer.step()
            tracker.after_step(trainer)      # measures on steps 0 (first call), every, 2·every, …
        tracker.arrays()                     # steps, sharpness, preconditioned, threshold, … as arrays

    Each measurement starts Lanczos from the previous top eigenvector, so it usually converges in a handful
    of products (2 gradients each). For adaptive optimizers the preconditioned sharpness λ_max(P⁻¹H) is
    measured as well, with P from the optimizer's state (``preconditioner``), and the threshold is the one
    for P⁻¹H. An L2 weight decay in the gradient (SGD, Adam) adds weight_decay·I to the Hessian; AdamW's
    decoupled decay is left out.
    """

    def __init__(self, trainer, every: int = 10, docs: int | None = None, iters: int = 20, tol: float = 1e-3,
                 seed=0, preconditioned: bool | None = None):
        if isinstance(every, bool) or not isinstance(every, (int, np.integer)) or every < 1:
            raise ValueError(f"every must be an integer >= 1, got {every!r}")
        self.every, self.iters, self.tol, self.seed = int(every), iters, tol, seed
        self.batch = fixed_batch(trainer, docs)
        kind = trainer.config.optimizer
        self.preconditioned = uses_preconditioner(kind) if preconditioned is None else bool(preconditioned)
        self.points: list[SharpnessPoint] = []
        self._v0 = self._v0_p = None

    def after_step(self, trainer) -> SharpnessPoint | None:
        """Measure if the trainer's step count is on the spacing (and not measured yet)."""
        step = trainer.step_count
        if step % self.every or (self.points and self.points[-1].step == step):
            return None
        return self.measure(trainer)

    def measure(self, trainer) -> SharpnessPoint:
        t0 = time.perf_counter()
        cfg = trainer.config
        x, y, mask = self.batch
        # an L2 penalty in the gradient is part of the objective the optimizer sees; AdamW's decay is not
        l2 = 0.0 if cfg.optimizer == "adamw" else float(trainer.optimizer.hyperparameters().get("weight_decay", 0.0))
        op = gpt_hessian(trainer.params, trainer.model_config, x, y, mask, l2=l2)
        top = lanczos(op, op.size, 1, self.iters, self.tol, self.seed, self._v0)
        self._v0 = _warm(top)
        loss, g = op.gradient()
        share = gradient_share(g, top.vectors[0])
        lr = trainer.lr_at(trainer.step_count)  # the rate of the next step: the one whose stability is at stake
        pre = math.nan
        products = top.products
        if self.preconditioned:
            p = preconditioner(trainer.optimizer, trainer.tensor_names)
            if p is not None:
                op_p = HessianOperator(op.grad, op.theta, as_vector(p, trainer.model_config, np.float64), l2)
                op_p._g0 = op.gradient()  # the same θ and batch: no need to compute ∇L(θ) again
                top_p = lanczos(op_p, op_p.size, 1, self.iters, self.tol, self.seed, self._v0_p)
                self._v0_p = _warm(top_p)
                pre = float(top_p.values[0])
                products += top_p.products
        h = trainer.optimizer.hyperparameters()  # what the optimizer really uses (RMSprop runs without momentum)
        th = stability_threshold(cfg.optimizer, lr, h.get("betas", cfg.betas), h.get("momentum", 0.0))
        point = SharpnessPoint(trainer.step_count, lr, float(top.values[0]), pre, math.nan if th is None else th,
                               share, loss, products, time.perf_counter() - t0)
        self.points.append(point)
        return point

    def arrays(self) -> dict[str, np.ndarray]:
        """Every measurement so far as arrays keyed by SharpnessPoint's fields (a copy: safe to send)."""
        names = [f for f in SharpnessPoint.__dataclass_fields__]
        return {n: np.array([getattr(p, n) for p in self.points], dtype=np.int64 if n in ("step", "products")
                            else np.float64) for n in names}


def _warm(eig: Eigen):
    """The next Lanczos start: this top eigenvector, or None (a seeded start) if it is not finite."""
    v = eig.vectors[0]
    return v if np.all(np.isfinite(v)) else None


# ----------------------------------------------------------------------------------------------------------
# the edge of stability, reproduced on the GPT in about a minute

#
# Full-batch gradient descent on a fixed subset, constant learning rate: the sharpness λ_max first rises
# (progressive sharpening) until it reaches 2/η, then stops rising and hovers there while the loss keeps going
# down, unsteadily (Cohen et al. 2021). With Adam the preconditioned sharpness λ_max(P⁻¹H) does the same at
# 38/η (β1 = 0.9) while λ_max(H) itself keeps rising (Cohen et al. 2022). The presets below show both on
# microgpt's model (4,192 parameters) with 128 training names as the batch; measured figures in
# benchmarks/bench_landscape.py --eos and the README.

EDGE_OF_STABILITY_PRESET = {
    "name": "Gradient descent at the edge of stability",
    "config": {"optimizer": "sgd", "lr": 0.1, "momentum": 0.0, "schedule": "constant", "full_batch": 128,
               "steps": 1500, "val_every": 0, "seed": 0},
    "every": 20,  # measure λ_max every 20 steps (warm-started Lanczos: ~8 products, ~0.1 s each time)
    "curve": "sharpness",  # the curve that meets the threshold: λ_max(H) against 2/η
    "explanation": (
        "Plain gradient descent (no momentum) with a constant learning rate η = 0.1 on one fixed batch of 128 "
        "names: the stability threshold is 2/η = 20. λ_max starts near 1 and rises (progressive sharpening) "
        "until it meets 2/η after ~350 steps; from then on it hovers at 2/η (within ~10 %) instead of going "
        "past it, and the loss keeps falling, no longer monotonically. On a quadratic, a step with ηλ > 2 "
        "would diverge along the top eigenvector; here the overshoot along that direction flattens it "
        "again: training sits at the edge of stability."),
}

ADAPTIVE_EDGE_OF_STABILITY_PRESET = {
    "name": "Adam at the (adaptive) edge of stability",
    "config": {"optimizer": "adam", "lr": 1e-3, "betas": (0.9, 0.999), "schedule": "constant", "full_batch": 128,
               "steps": 1500, "val_every": 0, "seed": 0},
    "every": 20,
    "curve": "preconditioned",  # λ_max(P⁻¹H) against (2 + 2β1)/((1 − β1)η) = 38/η
    "explanation": (
        "Full-batch Adam, η = 1e-3, β1 = 0.9: the threshold for the preconditioned sharpness λ_max(P⁻¹H), with "
        "P = (1 − β1ᵗ)(√v̂ + ε), is 38/η = 38,000. It rises to it within ~350 steps and then hovers there, "
        "while the raw sharpness λ_max(H) keeps climbing into the thousands: Adam goes on into ever sharper "
        "regions by growing its preconditioner (Cohen et al. 2022)."),
}


def run_preset(preset: dict, callback=None, **changes):
    """Train a preset (e.g. EDGE_OF_STABILITY_PRESET) with its sharpness tracked: returns (trainer, tracker).
    ``callback(record, point_or_None)`` after each step; ``changes`` override config fields (e.g. steps)."""
    from adamlab.core import train

    trainer = train.Trainer(train.TrainConfig(**{**preset["config"], **changes}))
    tracker = SharpnessTracker(trainer, every=preset["every"])
    tracker.after_step(trainer)  # step 0
    while not trainer.done:
        rec = trainer.step()
        point = tracker.after_step(trainer)
        if callback is not None and rec is not None:
            callback(rec, point)
    return trainer, tracker
