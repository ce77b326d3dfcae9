"""A tiny GPT in NumPy: Karpathy's microgpt.py, batched, with a hand-written backward pass.

microgpt.py trains a 4,192-parameter character-level GPT with a scalar autograd engine. This module is
the same maths on arrays:

    x = rmsnorm(wte[tok] + wpe[pos])                     # embeddings, normalised once
    for each layer:
        x = x + attn_wo · causal_attention(rmsnorm(x))    # multi-head, scores scaled by 1/√head_dim
        x = x + mlp_fc2 · relu(mlp_fc1 · rmsnorm(x))
    logits = lm_head · x                                  # no final norm, lm_head not tied to wte

with rmsnorm(x) = x · (mean(x²) + 1e-5)^-½ (no gain) and no biases anywhere. Weights are stored
(out, in) as in microgpt, so a linear layer is ``x @ W.T``.

Every parameter is a view into one flat buffer (and so is every gradient), in the order of
``param_shapes``: an optimizer can then update the whole model in a few vectorised calls. The dtype of the
parameters (float32 or float64) is the compute dtype.

Speed, measured on a shared 2-core machine (see benchmarks/bench_gpt.py): at microgpt's size a step is ~100
NumPy calls of a microsecond or two each, so the code counts calls and the Python around them (fused q|k|v
and wte|wpe matmuls, sums as BLAS matrix-vector products, no transposes copied, every buffer and view of a
batch shape built once: see _Plan) and picks the cheapest form of each call: 2-D products are
``a.dot(b, out)``, which goes straight to BLAS (``np.matmul``'s generalised-ufunc machinery costs about twice
as much per call on these sizes; the batched attention products keep it), and constants are 0-d arrays of
the compute dtype (see _Scalars). At larger sizes it counts bytes touched (a per-thread workspace of
activation buffers, in-place updates, one BLAS thread — see "BLAS threads").
"""

from __future__ import annotations

import math
import random
import sys
import threading
from dataclasses import dataclass

import numpy as np

from adamlab.core.optim import FlatViews

RMS_EPS = 1e-5  # microgpt's rmsnorm epsilon


@dataclass(frozen=True)
class GPTConfig:
    """Model shape. The defaults are microgpt's: 4,192 parameters with a 27-symbol vocabulary."""

    vocab_size: int
    n_embd: int = 16
    n_head: int = 4
    n_layer: int = 1
    block_size: int = 16

    def __post_init__(self):
        for name, low in (("vocab_size", 2), ("n_embd", 1), ("n_head", 1), ("n_layer", 1), ("block_size", 1)):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be a multiple of n_head ({self.n_head})")

    @property
    def head_dim(self) -> int:
        return self.n_embd // self.n_head

    @property
    def bos(self) -> int:
        """The begin/end-of-sequence token: the last id, as in microgpt."""
        return self.vocab_size - 1


# ----------------------------------------------------------------------------------------------------------
# parameters


def param_shapes(cfg: GPTConfig) -> dict[str, tuple[int, int]]:
    """Parameter names and (out, in) shapes in microgpt's order (which is also the flat-buffer order)."""
    C, V = cfg.n_embd, cfg.vocab_size
    shapes = {"wte": (V, C), "wpe": (cfg.block_size, C), "lm_head": (V, C)}
    for i in range(cfg.n_layer):
        shapes[f"layer{i}.attn_wq"] = (C, C)
        shapes[f"layer{i}.attn_wk"] = (C, C)
        shapes[f"layer{i}.attn_wv"] = (C, C)
        shapes[f"layer{i}.attn_wo"] = (C, C)
        shapes[f"layer{i}.mlp_fc1"] = (4 * C, C)
        shapes[f"layer{i}.mlp_fc2"] = (C, 4 * C)
    return shapes


def num_params(cfg: GPTConfig) -> int:
    return sum(r * c for r, c in param_shapes(cfg).values())


class Params(FlatViews):
    """A plain dict name → array, plus ``fused``: layer{i}.attn_wqkv → one (3C, C) view over wq, wk, wv,
    and "wte_wpe" → one (V + block_size, C) view over the two embedding tables. Made by ``views``, it is a
    FlatViews: an optimizer recognises its flat buffer at a glance (see optim.FlatViews).

    wq, wk and wv sit back to back in the flat buffer, so q, k and v come out of a single matmul (and their
    gradients go back in one): fewer NumPy calls, which is what dominates the time at microgpt's size.
    Likewise the embedding of a small batch is one matmul onehot · [wte; wpe], and both embedding gradients
    come out of one matmul onehotᵀ · dx (for vocabularies up to ONEHOT_MAX_ROWS − block_size symbols). Any other dict of arrays works too (the
    matrices are then used one by one).
    """

    fused: dict


def views(flat: np.ndarray, cfg: GPTConfig) -> Params:
    """Name → view into ``flat`` (1-D, length num_params) with the shapes of ``param_shapes``."""
    shapes = param_shapes(cfg)
    need = sum(r * c for r, c in shapes.values())
    if flat.ndim != 1 or flat.size != need:
        raise ValueError(f"flat buffer has {flat.size} elements in {flat.ndim}-D, the model needs {need} in 1-D")
    out = Params.over(flat, shapes)
    C, offset = cfg.n_embd, 0
    out.fused = {}
    for name, (r, c) in shapes.items():
        if name.endswith(".attn_wq"):
            out.fused[name[: -len("attn_wq")] + "attn_wqkv"] = flat[offset : offset + 3 * C * C].reshape(3 * C, C)
        offset += r * c
    rows = cfg.vocab_size + cfg.block_size  # wte then wpe, first in the buffer
    out.fused["wte_wpe"] = flat[: rows * C].reshape(rows, C)
    return out


def zeros_like_params(cfg: GPTConfig, dtype=np.float64) -> dict[str, np.ndarray]:
    """A fresh flat zero buffer, returned as named views (e.g. for gradients)."""
    return views(np.zeros(num_params(cfg), dtype=_check_dtype(dtype)), cfg)


def flat_buffer(params: dict[str, np.ndarray]) -> np.ndarray | None:
    """The 1-D buffer that the arrays of ``params`` tile in order, or None if they are not such views."""
    arrays = list(params.values())
    base = arrays[0].base
    if base is None or base.ndim != 1 or any(a.base is not base for a in arrays):
        return None
    if not all(a.flags.c_contiguous for a in arrays):
        return None
    ptr = base.__array_interface__["data"][0]
    for a in arrays:
        if a.__array_interface__["data"][0] != ptr:
            return None
        ptr += a.nbytes
    return base if ptr == base.__array_interface__["data"][0] + base.nbytes else None


def init_params(cfg: GPTConfig, seed: int = 0, std: float = 0.08, dtype=np.float64) -> dict[str, np.ndarray]:
    """Gaussian N(0, std²) weights for every matrix (microgpt's init), as views into one flat buffer."""
    if not std >= 0:
        raise ValueError(f"std must be >= 0, got {std!r}")
    flat = np.random.default_rng(seed).normal(0.0, std, num_params(cfg)).astype(_check_dtype(dtype))
    return views(flat, cfg)


def microgpt_init(cfg: GPTConfig, rng: random.Random, std: float = 0.08) -> dict[str, np.ndarray]:
    """microgpt's own initial weights: ``rng.gauss(0, std)`` drawn row by row, matrix by matrix.

    microgpt.py seeds Python's ``random`` with 42, shuffles the documents, then draws the matrices in the
    order of ``param_shapes``. Pass the same (already-shuffled-with) generator to get bit-identical weights
    (see ``data.microgpt_setup``). Always float64, like Python floats.
    """
    flat = np.array([rng.gauss(0, std) for _ in range(num_params(cfg))], dtype=np.float64)
    return views(flat, cfg)


# ----------------------------------------------------------------------------------------------------------
# BLAS threads
#
# OpenBLAS splits a matmul over its threads once it has more than ~65k multiply-adds. Our matmuls are small
# (tens of millions of multiply-adds at most): on the 2-core reference machine two threads made the medium
# step ~10 % faster when the other core was free, but when the cores are shared (a GUI, other processes) the
# helper thread spins waiting for a time slice: the medium step was 5× slower and a validation pass 6× slower
# than on one thread. So the model runs its matmuls on one BLAS thread unless a single matmul is big enough
# to be worth splitting. PyTorch's default threads fare the same on shared cores: on the 2-core machine
# under a load of 4–8, its medium step took 290–730 ms and ours 36–70 ms; a 1024×64·64×256 matmul was 7×
# slower on two OpenBLAS threads, a 4096×256·256×1024 one 1.2× slower. The choice depends only on the
# shapes, never on the load, so a run gives the same numbers every time: a split matmul may sum in another
# order (one and two threads gave gradients that differ in the last bits for 32 of 240 model shapes tried).

PARALLEL_MATMUL_FLOPS = 2**28  # biggest matmul (multiply-adds) below which the model uses one BLAS thread


def _find_openblas():
    """(get, set) thread-count functions of the OpenBLAS that NumPy loaded, or None (another BLAS)."""
    import ctypes
    import glob
    import os

    paths = []
    try:  # Linux: the libraries this process has mapped
        with open("/proc/self/maps") as f:
            paths = sorted({line.split()[-1] for line in f if "openblas" in line.lower() and "/" in line})
    except OSError:
        pass
    if not paths:  # elsewhere: the copy shipped inside the NumPy wheel
        root = os.path.dirname(os.path.dirname(np.__file__))
        paths = glob.glob(os.path.join(root, "numpy*libs", "*openblas*")) + glob.glob(
            os.path.join(os.path.dirname(np.__file__), ".dylibs", "*openblas*"))
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for get, set_ in (("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
                          ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
                          ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
                          ("openblas_get_num_threads", "openblas_set_num_threads")):
            if hasattr(lib, get) and hasattr(lib, set_):
                return getattr(lib, get), getattr(lib, set_)
    return None


_OPENBLAS: list = []  # [(get, set) or None], filled on first use
_BLAS_LOCK = threading.Lock()
_BLAS_ACTIVE: list[int] = []  # the limits of the blas_threads blocks now open, in any thread
_BLAS_SAVED = [0]  # the count before the first of them opened


class blas_threads:
    """Context manager: run the matmuls inside on at most ``n`` OpenBLAS threads (a no-op with another BLAS).

        with gpt.blas_threads(1):
            loss, grads = gpt.loss_and_grads(...)

    OpenBLAS's count is process-wide, so open blocks are counted across threads: the smallest limit holds
    until the last block closes, then the count from before the first one is restored. (Without that, one
    thread leaving its block would hand another thread's matmuls back to two threads midway, and a
    multi-threaded matmul may sum in another order: results would depend on timing.)
    """

    def __init__(self, n: int):
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n must be an integer >= 1, got {n!r}")
        self.n = int(n)

    def __enter__(self):
        if not _OPENBLAS:
            _OPENBLAS.append(_find_openblas())
        fns = _OPENBLAS[0]
        if fns is not None:
            with _BLAS_LOCK:
                if not _BLAS_ACTIVE:
                    _BLAS_SAVED[0] = fns[0]()
                _BLAS_ACTIVE.append(self.n)
                fns[1](min([_BLAS_SAVED[0], *_BLAS_ACTIVE]))
        return self

    def __exit__(self, *exc):
        fns = _OPENBLAS[0]
        if fns is not None:
            with _BLAS_LOCK:
                _BLAS_ACTIVE.remove(self.n)
                fns[1](min([_BLAS_SAVED[0], *_BLAS_ACTIVE]))


class _NoThreadChange:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


_SAME_THREADS = _NoThreadChange()


def _matmul_threads(cfg: GPTConfig, N: int):
    """One BLAS thread for a model whose biggest matmul (N × C × 4C) is small, see above; else no change.

    Tiny matmuls (below OpenBLAS's own threading threshold) need no change, and skip the two C calls.
    """
    work = N * cfg.n_embd * 4 * cfg.n_embd
    if work <= 65536 or work >= PARALLEL_MATMUL_FLOPS:
        return _SAME_THREADS
    return blas_threads(1)


def _check_dtype(dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


# ----------------------------------------------------------------------------------------------------------
# building blocks: forward returns what the backward needs


_COLUMNS = {}


def _column(n: int, value: float, dtype) -> np.ndarray:
    """A cached (n, 1) column of ``value``: ``a @ column`` sums (×value) the last axis of ``a``, keepdims.

    NumPy's own reductions over a short last axis pay a per-row overhead; a matrix–vector product goes to
    BLAS and is 3–6× faster here, from microgpt's 7×16 to the medium model's 1024×256.
    """
    key = (n, value, dtype)  # dtype: an array's .dtype on the hot path (no np.dtype() call)
    col = _COLUMNS.get(key)
    if col is None:
        col = _COLUMNS[key] = np.full((n, 1), value, dtype=dtype)
        col.flags.writeable = False
    return col


class _Scalars:
    """The constants the hot path adds or multiplies by, as 0-d arrays of one dtype (``scalars(dtype)``).

    NumPy converts a Python float operand anew on every ufunc call (~0.6 µs, as much as adding up a few
    hundred numbers); a 0-d array of the operands' own dtype is taken as it is, with the same result.
    """

    def __init__(self, dtype):
        def const(value):
            a = np.array(value, dtype)
            a.flags.writeable = False
            return a

        self.rms_eps, self.neg_half, self.zero, self.one = const(RMS_EPS), const(-0.5), const(0), const(1)
        self.const = const


_SCALARS = {}


def scalars(dtype) -> _Scalars:
    k = _SCALARS.get(dtype)
    if k is None:
        k = _SCALARS[dtype] = _Scalars(np.dtype(dtype))
    return k


def rmsnorm(x, out=None, col=None, k=None):
    """y = x / √(mean(x²) + eps) over the last axis; returns y and the scale s (…, 1). y goes into ``out``.

    Without ``out`` (small activations) the operators allocate: for a few hundred numbers ``x * s`` is
    ~1 µs cheaper than ``np.multiply(x, s, out=...)``, whose keyword parsing costs more than the memory.
    ``col``: ``_column(n, 1/n, dtype)`` and ``k``: ``scalars(dtype)``, if the caller has them at hand (a step
    plan does), else looked up.
    """
    if col is None:
        col = _column(x.shape[-1], 1.0 / x.shape[-1], x.dtype)
    if k is None:
        k = scalars(x.dtype)
    if out is None:
        s = (x * x).dot(col)  # mean(x²) (…, 1)
        s += k.rms_eps
        s **= k.neg_half
        return x * s, s
    s = np.multiply(x, x, out=out).dot(col)  # out is free until the last line
    s += k.rms_eps
    s **= k.neg_half
    return np.multiply(x, s, out=out), s


def rmsnorm_backward(dy, y, s, out=None, tmp=None, col=None):
    """dx = s·(dy − y·mean(dy·y)): the chain rule through y = x·s(x) with ∂s/∂x = −s³x/n.

    With ``out``, the result is added into it (a residual stream's gradient) instead of returned anew;
    ``tmp``, an array like dy, saves an allocation (without it, operators allocate, see rmsnorm).
    ``col``: ``_column(n, -1/n, dtype)`` if the caller has it at hand, else looked up.
    """
    if col is None:
        col = _column(y.shape[-1], -1.0 / y.shape[-1], y.dtype)
    if tmp is None:
        dx = y * (dy * y).dot(col)  # −y·mean(dy·y)
    else:
        dx = np.multiply(y, np.multiply(dy, y, out=tmp).dot(col), out=tmp)
    dx += dy
    dx *= s
    if out is None:
        return dx
    out += dx
    return out


_CAUSAL = {}


def causal_bias(T: int, dtype) -> np.ndarray:
    """(T, T) additive mask: 0 on and below the diagonal, −inf above (a position sees only its past).

    A read-only view of the top-left corner of one cached mask per dtype, grown to the largest T asked for:
    a mask per length would add up to block_size³/3 numbers once sampling has met every length (358 MB at
    block_size 512).
    """
    key = np.dtype(dtype)
    mask = _CAUSAL.get(key)
    if mask is None or mask.shape[0] < T:
        mask = _CAUSAL[key] = np.triu(np.full((T, T), -np.inf, dtype=dtype), k=1)
        mask.flags.writeable = False
    return mask[:T, :T]


EXP_SPREAD = 60.0  # e^±60 neither overflows nor underflows float32 (e^-60 ≈ 9e-27 is still a normal number)


def common_shift(z, allow_zero=False):
    """A shift valid for every row of z, to subtract before exp: max(z) when all of z lies within EXP_SPREAD
    of it, else None (each row then takes its own max). ``allow_zero``: 0 (nothing to subtract) when no entry
    is farther than EXP_SPREAD from zero.

    softmax and log-sum-exp subtract a max before exp so that it cannot overflow; in exact arithmetic any
    constant per row gives the same result. When the whole array spans less than EXP_SPREAD, the one global
    max serves every row (no exp overflows, none underflows to an all-zero row), and finding it takes two
    whole-array reductions instead of NumPy's per-row loop over short rows, which was a third of the
    attention softmax at the medium size. NaN or ±inf in z give None (the per-row path then propagates them
    as before).

    Within ±EXP_SPREAD exp is safe as it is (row sums, even of 10¹² terms, stay far inside float32's range),
    and the test for it is one BLAS call, as every |z_i| <= ‖z‖₂: at microgpt's size it holds for the
    attention scores, whose softmax probabilities come out as accurate either way. It is not allowed for
    the logits, whose log-sum-exp is the loss: a row's absolute error is then ~(its distance from the
    shift)·ε, and the loss of a confident prediction, e.g. float32 logits (15, 0), is 3e-7 with the row's
    max subtracted but rounds to 0 without. For the same reason a row far below the shared max pays a
    little (float32 logits spanning 59: NLL off by 4e-6 instead of 6e-7; ~1e-14 in float64) — well below
    float32 training's own noise.
    """
    flat = z.reshape(-1)
    if allow_zero and flat.dot(flat) <= EXP_SPREAD * EXP_SPREAD:  # False for NaN and inf (an overflowed sum too)
        return 0.0
    hi = np.maximum.reduce(flat)
    return hi if hi - np.minimum.reduce(flat) <= EXP_SPREAD else None


def subtract_max(z, shift=None):
    """z −= shift (see common_shift), or each row's own max if shift is None; in place, returns z."""
    if shift is None:
        z -= np.maximum.reduce(z, axis=-1, keepdims=True)
    elif shift:  # 0: nothing to subtract
        z -= shift
    return z


def softmax(z, axis=-1, shift=None, ones=None):
    """exp(z − max z) / Σ exp(z − max z): the max shift keeps exp from overflowing. Works in place on z.

    shift: a shift valid for every row along the last axis (``common_shift`` of z, or of z before a −inf
    mask was added); None takes each row's own max. ones: ``_column(n, 1, dtype)`` if the caller has it.
    """
    if axis in (-1, z.ndim - 1):
        np.exp(subtract_max(z, shift), out=z)
        z /= z.dot(_column(z.shape[-1], 1.0, z.dtype) if ones is None else ones)  # the sum by BLAS, see _column
    else:
        z -= np.maximum.reduce(z, axis=axis, keepdims=True)
        np.exp(z, out=z)
        z /= np.add.reduce(z, axis=axis, keepdims=True)
    return z


_INT64 = np.dtype(np.int64)


def _check_tokens(cfg, inputs, name="inputs"):
    """An int64 (B, T) array of token ids, or ValueError naming the argument."""
    if type(inputs) is not np.ndarray or inputs.dtype is not _INT64 or inputs.ndim != 2:
        inputs = np.asarray(inputs)
        if inputs.ndim == 1:
            inputs = inputs[None, :]
        if inputs.ndim != 2 or not (np.issubdtype(inputs.dtype, np.integer) or inputs.size == 0):
            raise ValueError(f"{name} must be an integer array of shape (B, T), got {inputs.dtype} {inputs.shape}")
        inputs = inputs.astype(np.int64)
    B, T = inputs.shape
    if not 1 <= T <= cfg.block_size or B < 1:
        raise ValueError(f"{name} must have shape (B, T) with B >= 1 and 1 <= T <= block_size={cfg.block_size}, "
                         f"got {inputs.shape}")
    if inputs.size <= 64:  # a handful of ids: Python's min/max take ~1 µs, a NumPy reduction ~2.5 µs
        ids = inputs.ravel().tolist()
        bad = min(ids) < 0 or max(ids) >= cfg.vocab_size
    else:  # one comparison catches both ends: as unsigned, a negative id is huge
        bad = np.maximum.reduce(inputs.view(np.uint64), axis=None) >= cfg.vocab_size
    if bad:
        raise ValueError(f"{name} token ids must be in [0, {cfg.vocab_size - 1}]")
    return inputs


def _check_batch(cfg, inputs, targets):
    """(inputs, targets) as checked int64 (B, T) arrays of the same shape, or ValueError naming the culprit."""
    inputs = _check_tokens(cfg, inputs)
    targets = _check_tokens(cfg, targets, "targets")
    if targets.shape != inputs.shape:
        raise ValueError(f"targets shape {targets.shape} must equal inputs shape {inputs.shape}")
    return inputs, targets


def _check_arrays(cfg, arrays, dtype, what):
    """ValueError unless ``arrays`` has every parameter's name with an array of its shape and the model's
    dtype; gradients (what="grads") must also be C-contiguous and writeable: they are written in place."""
    for name, shape in param_shapes(cfg).items():
        a = arrays.get(name) if isinstance(arrays, dict) else None
        if not isinstance(a, np.ndarray):
            got = "missing" if a is None else type(a).__name__
        elif a.shape != shape or a.dtype != dtype:
            got = f"{a.dtype} of shape {a.shape}"
        elif what == "grads" and not a.flags.c_contiguous:
            got = "a non-contiguous array"
        elif what == "grads" and not a.flags.writeable:
            got = "a read-only array"
        else:
            continue
        kind = "a writeable C-contiguous" if what == "grads" else "an"
        raise ValueError(f"{what}[{name!r}] must be {kind} array of shape {shape} and dtype {np.dtype(dtype)} "
                         f"(params['wte']'s), got {got}")


def _fused_members(cfg):
    """Each fused view's name (see Params) → the arrays it stacks, in order."""
    members = {"wte_wpe": ("wte", "wpe")}
    for i in range(cfg.n_layer):
        p = f"layer{i}."
        members[p + "attn_wqkv"] = (p + "attn_wq", p + "attn_wk", p + "attn_wv")
    return members


def _address(a) -> int:
    return a.__array_interface__["data"][0]


def _stacks(view, arrays) -> bool:
    """Whether ``view`` is exactly ``arrays`` stacked: the same memory, back to back, all C-contiguous."""
    if not view.flags.c_contiguous:
        return False
    end = _address(view)
    for a in arrays:
        if not (a.flags.c_contiguous and a.dtype == view.dtype and _address(a) == end):
            return False
        end += a.nbytes
    return end == _address(view) + view.nbytes


def _verified(arrays, cfg, dtype, what="params"):
    """Check ``arrays`` (see _check_arrays) and return the fused views to use (see Params), or None to use
    the arrays one by one: a plain dict, or a Params whose fused views no longer share memory with its
    arrays (copied with copy.deepcopy, or an entry replaced), which would otherwise be read or written
    instead of them.

    The answer is remembered (per thread) for the same dict holding the same array objects, so a training
    step pays one tuple of ids and a lookup, not the checks.
    """
    ids = tuple(map(id, arrays.values())) if isinstance(arrays, dict) else ()
    seen = _WORKSPACE.verified.get((id(arrays), what))
    if seen is not None and seen[0] is arrays and seen[1] == ids and seen[2] is cfg and seen[3] == dtype:
        return seen[4]
    _check_arrays(cfg, arrays, dtype, what)
    fused = getattr(arrays, "fused", None)
    if fused is not None and not all(name in fused and _stacks(fused[name], [arrays[n] for n in names])
                                     for name, names in _fused_members(cfg).items()):
        fused = None
    if len(_WORKSPACE.verified) >= _Workspace.MAX_VERIFIED:
        _WORKSPACE.verified.clear()
    _WORKSPACE.verified[(id(arrays), what)] = (arrays, ids, cfg, dtype, fused)  # (holding it keeps its id unique)
    return fused


def _model_dtype(params):
    """The compute dtype: params['wte']'s (float32 or float64)."""
    wte = params.get("wte") if isinstance(params, dict) else None
    dtype = getattr(wte, "dtype", None)
    if not isinstance(wte, np.ndarray) or dtype not in (np.float32, np.float64):
        raise ValueError(f"params must be a dict of float32 or float64 arrays with microgpt's names (see "
                         f"param_shapes); params['wte'] is {'missing' if wte is None else dtype or type(wte).__name__}")
    return dtype


def _qkv_stack(params, fused, L):
    """Layer L's (3C, C) stack of wq, wk, wv: the fused view, or (a plain dict) a new concatenation."""
    if fused is not None:
        return fused[L.wqkv]
    return np.concatenate([params[L.name + n] for n in ("attn_wq", "attn_wk", "attn_wv")])


# ----------------------------------------------------------------------------------------------------------
# forward


class _Workspace(threading.local):
    """Arrays reused from one call to the next, per thread: ``ws(name, shape, dtype)`` is an uninitialised
    array, the same memory every time for the same name (grown when a bigger shape asks for it), and
    ``plans``, the step plans (see _Plan) built on those arrays.

    A fresh array of a few hundred kB costs page faults on every step (the allocator hands such blocks back
    to the system and maps them again): at the medium size that was a third of the step. The training step
    and the validation loss use this for their activations, which never leave them; ``forward`` called
    directly returns fresh arrays. One workspace per thread, so two trainers in two threads never share one.
    """

    MAX_PLANS = 64  # one per (model, batch shape, dtype) seen; a names corpus gives ~15 lengths
    MAX_VERIFIED = 16  # dicts of parameters or gradients checked (see _verified)
    MAX_MODELS = 8  # (model, dtype) pairs whose gradient buffers are kept (see _Gradients)

    def __init__(self):
        self.arrays = {}
        self.plans = {}
        self.verified = {}
        self.gradients = {}  # (id(cfg), dtype) → (cfg, [_Gradients, oldest first])

    def __call__(self, name, shape, dtype):
        n = math.prod(shape)
        a = self.arrays.get((name, dtype))
        if a is None or a.size < n:
            a = self.arrays[(name, dtype)] = np.empty(n, dtype)
            self.plans.clear()  # they view the old, smaller array: rebuild them on the new one
        return a[:n].reshape(shape)

    def plan(self, cfg, B, T, dtype, backward=True):
        # keyed by the config's identity (hashing the dataclass runs Python code); the plan holds the config,
        # so the id cannot be reused by another one while the plan exists
        key = (id(cfg), B, T, dtype, backward)
        p = self.plans.get(key)
        if p is None:
            if len(self.plans) >= self.MAX_PLANS:
                self.plans.clear()
            p = _Plan(cfg, B, T, dtype, self, backward)
            self.plans[key] = p  # after building: building may have grown (and so cleared) the arrays
        return p

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self.arrays.values())


_WORKSPACE = _Workspace()


def clear_workspace() -> int:
    """Free the calling thread's activation buffers and the gradient buffers it keeps for reuse (e.g. after a
    big model); returns the bytes of activation buffers released."""
    freed = _WORKSPACE.nbytes
    _WORKSPACE.arrays.clear()
    _WORKSPACE.plans.clear()
    _WORKSPACE.verified.clear()
    _WORKSPACE.gradients.clear()
    return freed


# ----------------------------------------------------------------------------------------------------------
# the gradients loss_and_grads returns when it is given no buffer

GRADIENT_BUFFERS = 2  # kept per model and thread: the usual training loop needs two (see _Gradients)


class _Gradients:
    """A flat gradient buffer that ``loss_and_grads`` hands out when the caller passes none, and takes back
    once nobody else refers to it.

    A new buffer every step costs its allocation, a dict of fresh views, their checks and the optimizer's
    check that they tile one buffer: at microgpt's size that made the step 66 % dearer (in instructions) than
    with a buffer passed in, and still 14 % with those checks made cheap. The same buffer every step would
    overwrite gradients the caller kept. So a buffer is reused only while nothing outside this object refers
    to the dict, its fused dict, any of their views or the buffer: while their (CPython) reference counts are
    what they were when it was made — the test NumPy makes before it reuses a temporary array in place. A
    raw pointer or a weak reference does not count. In the usual loop, ``loss, grads = loss_and_grads(...);
    opt.step(params, grads)``, last step's dict is still held during the call (by ``grads``), so two buffers
    take turns and none is allocated, and the optimizer knows both (see Optimizer._flat_pair): the step costs
    what it costs with a buffer passed in; gradients kept any longer are never written again.
    """

    __slots__ = ("public", "private", "watched", "sizes", "idle")

    def __init__(self, cfg: GPTConfig, dtype):
        flat = np.empty(num_params(cfg), dtype)  # the backward writes every gradient in full
        pub = self.public = views(flat, cfg)  # what the caller gets
        self.private = views(flat, cfg)  # what the backward writes through: flags the caller cannot have set
        self.watched = (pub, pub.fused, *pub.values(), *pub.fused.values(), flat)
        self.sizes = (len(pub), len(pub.fused))
        del flat, pub  # (the counts are taken as they will be when free() is called)
        self.idle = self.counts()

    def counts(self) -> tuple[int, ...]:
        return tuple(map(sys.getrefcount, self.watched))

    def free(self) -> bool:
        """Nothing outside refers to it, and the dicts have kept their entries (a replaced one changes counts)."""
        return self.counts() == self.idle and (len(self.public), len(self.public.fused)) == self.sizes


def _free_gradients(cfg: GPTConfig, dtype) -> _Gradients:
    """A buffer no one else holds from this thread's ones for (cfg, dtype), or a new one (then the oldest is
    forgotten, left to whoever holds it)."""
    key = (id(cfg), dtype)
    entry = _WORKSPACE.gradients.get(key)
    if entry is None or entry[0] is not cfg:
        if len(_WORKSPACE.gradients) >= _Workspace.MAX_MODELS:
            _WORKSPACE.gradients.clear()
        entry = _WORKSPACE.gradients[key] = (cfg, [])  # holding cfg keeps its id from being reused
    pool = entry[1]
    for i, g in enumerate(pool):
        if g.free():
            pool.append(pool.pop(i))  # the most recently handed out last
            return g
    g = _Gradients(cfg, dtype)
    pool.append(g)
    if len(pool) > GRADIENT_BUFFERS:
        del pool[0]
    return g


WORKSPACE_MIN_ELEMENTS = 4096  # below this many activations (N·C) a step is "small", see _Plan
# The embedding as a one-hot matmul (see Params) only while the one-hot is narrow: V + block_size columns. A
# names corpus has 27 + 16; a text with hundreds of distinct characters would make the one-hot mostly zeros,
# its cached identity matrix megabytes, and the matmul slower than a gather and a scatter-add.
ONEHOT_MAX_ROWS = 256


class _Layer:
    """One layer's parameter names, activation buffers and the strided views attention reads and writes
    through."""

    __slots__ = ("name", "wqkv", "wo", "fc1", "fc2",  # names
                 "h1", "qkv", "q", "k", "v", "kT", "vT", "att", "att2", "attT", "yT", "y", "x", "h2", "r")


class _Plan:
    """Every buffer a training step of one shape (model, B, T, dtype) writes, and every view into them, made
    once and reused (from the thread's workspace) by each step of that shape. ``backward=False``: only what
    the forward pass needs (validation, sampling).

    At microgpt's size a step is ~100 NumPy calls on a few hundred numbers each, so its time goes to the
    Python around the calls — building transposed and reshaped views, finding buffers, parsing keyword
    arguments — rather than to the maths: building them once made the step ~14 % faster. Attention's views
    are the ones that matter: q, k and v are (B, H, T, hd) views into the (N, 3C) qkv matmul's output, and
    the heads' outputs are written through a (B, H, T, hd) view of the (N, C) array the output projection
    reads, so no transpose is ever copied.

    "small" (N·C below WORKSPACE_MIN_ELEMENTS): the activations that need no fixed layout are then left to
    NumPy to allocate (None here), which is cheaper than ``out=`` at that size; the embedding is a one-hot
    matmul (see Params) and ReLU's mask a float one. Bigger steps write everything into the workspace.
    """

    def __init__(self, cfg: GPTConfig, B: int, T: int, dtype, ws: _Workspace | None, backward: bool = True):
        N, C, H, hd, V = B * T, cfg.n_embd, cfg.n_head, cfg.head_dim, cfg.vocab_size
        self.cfg, self.B, self.T, self.N = cfg, B, T, N
        self.small = small = N * C < WORKSPACE_MIN_ELEMENTS

        def buf(name, *shape, optional=True):
            """A buffer that must exist (a view is built on it), or one only worth having when big."""
            if optional and small:
                return None
            return np.empty(shape, dtype) if ws is None else ws(name, shape, dtype)

        # [token | position] one-hots: the small forward's embedding, or the big backward's embedding gradient
        rows = V + cfg.block_size
        self.use_onehot = rows <= ONEHOT_MAX_ROWS  # see ONEHOT_MAX_ROWS
        needed = self.use_onehot and (small or backward)
        self.onehot = buf("onehot", N, rows, optional=False) if needed else None
        self.emb = buf("emb", N, C)
        self.x0 = buf("x0", N, C)
        self.tmp = buf("tmp", N, C)
        self.layers = []
        for i in range(cfg.n_layer):
            L, p = _Layer(), f"layer{i}."
            L.name, L.wqkv, L.wo, L.fc1, L.fc2 = p, p + "attn_wqkv", p + "attn_wo", p + "mlp_fc1", p + "mlp_fc2"
            L.h1, L.x, L.h2, L.r = buf(p + "h1", N, C), buf(p + "x", N, C), buf(p + "h2", N, C), buf(p + "r", N, 4 * C)
            L.qkv = buf(p + "qkv", N, 3 * C, optional=False)
            L.q, L.k, L.v = L.qkv.reshape(B, T, 3, H, hd).transpose(2, 0, 3, 1, 4)  # each (B, H, T, hd)
            L.kT, L.vT = L.k.transpose(0, 1, 3, 2), L.v.transpose(0, 1, 3, 2)  # (B, H, hd, T)
            L.att = buf(p + "att", B, H, T, T, optional=False)
            L.att2, L.attT = L.att.reshape(B * H * T, T), L.att.transpose(0, 1, 3, 2)  # rows; keys ↔ queries
            y = buf(p + "y", B, T, H, hd, optional=False)  # heads side by side: (N, C) once reshaped
            L.yT, L.y = y.transpose(0, 2, 1, 3), y.reshape(N, C)  # (B, H, T, hd) and (N, C) views
            self.layers.append(L)
        self.logits = buf("logits", N, V)
        # constants
        self.bias = causal_bias(T, dtype)
        self.k = k = scalars(dtype)
        self.root_hd, self.inv_n = k.const(math.sqrt(hd)), k.const(1.0 / N)
        self.col_T, self.col_V = _column(T, 1.0, dtype), _column(V, 1.0, dtype)
        self.mean_C, self.neg_mean_C = _column(C, 1.0 / C, dtype), _column(C, -1.0 / C, dtype)  # for the norms
        if small and self.use_onehot:  # the one-hot embedding's tables (see _embedding_onehot)
            self.eye, self.pos = _identity(rows, dtype), _position_onehot(B, T, V, rows, dtype)
        if not backward:
            return
        self.probs = buf("probs", N, V)
        self.picks = _arange(N, V)  # + targets: the flat indices of the targets' logits
        # backward: the residual stream's gradient, and scratch shared by the layers
        self.dx, self.da, self.tmp2 = buf("dx", N, C), buf("da", N, 4 * C), buf("tmp2", N, C)
        dy = buf("dy", N, C, optional=False)
        self.dy, self.dy4 = dy, dy.reshape(B, T, H, hd).transpose(0, 2, 1, 3)  # (N, C), (B, H, T, hd)
        dqkv = buf("dqkv", B, T, 3, H, hd, optional=False)  # dq, dk, dv written in qkv's (N, 3C) layout
        self.dq, self.dk, self.dv = dqkv.transpose(2, 0, 3, 1, 4)
        self.dqkv = dqkv.reshape(N, 3 * C)
        self.datt = buf("datt", B, H, T, T, optional=False)
        self.datt2, self.dattT = self.datt.reshape(B * H * T, T), self.datt.transpose(0, 1, 3, 2)
        self.att_sums = buf("att_sums", B * H * T, T)


def forward(params, cfg: GPTConfig, inputs, cache: list | None = None, ws=None) -> np.ndarray:
    """Logits (B, T, V) for token ids ``inputs`` (B, T). If ``cache`` is a list, activations are appended.

    Activations are kept as (N, C) with N = B·T rows, so every linear layer is one 2-D matmul (BLAS is
    several times faster on those than on stacks of small ones); attention works on (B, H, T, hd) views of
    them and writes its output straight into the (N, C) layout, so no transpose is ever copied. ``ws``: a
    workspace (internal) to take the activations from instead of allocating them.
    """
    inputs = _check_tokens(cfg, inputs)
    B, T = inputs.shape
    dtype = _model_dtype(params)
    fused = _verified(params, cfg, dtype)
    plan = ws.plan(cfg, B, T, dtype, backward=False) if ws is not None else _Plan(cfg, B, T, dtype, None, False)
    return _forward(params, fused, cfg, inputs, plan, cache)


def _forward(params, fused, cfg, inputs, P: _Plan, cache):
    """``forward`` with the parameters' fused views (or None, see _verified) and the step's plan (its buffers
    and views, see _Plan)."""
    B, T, N = P.B, P.T, P.N
    wemb = fused["wte_wpe"] if fused is not None else None  # (V + block_size, C): wte then wpe
    if wemb is not None and P.small and P.use_onehot:
        # small batches: wte[tok] + wpe[t] as onehot · [wte; wpe], one matmul (exact: the other terms are
        # ×0), and the backward reuses the one-hot for both tables' gradients
        onehot = P.eye.take(inputs.reshape(N), axis=0, out=P.onehot)  # (N, V + block_size), see _embedding_onehot
        onehot += P.pos
        x = onehot.dot(wemb)  # (N, C)
    else:  # big batches or vocabularies: a gather is cheaper than the (N, V + block_size) matmul
        onehot = None
        x = params["wte"].take(inputs.reshape(N), axis=0, out=P.emb)  # (N, C)
        xbt = x.reshape(B, T, -1)  # a view
        xbt += params["wpe"][:T]
    mean = P.mean_C
    k = P.k
    x, s = rmsnorm(x, out=P.x0, col=mean, k=k)  # microgpt normalises the embedding once
    if cache is not None:
        cache.append((x, s, onehot))
    for L in P.layers:
        # --- attention: x + wo · softmax(q kᵀ / √hd + causal) v, all heads at once
        h1, s1 = rmsnorm(x, out=L.h1, col=mean, k=k)  # (N, C)
        wqkv = _qkv_stack(params, fused, L)  # (3C, C)
        h1.dot(wqkv.T, L.qkv)  # (N, 3C): q | k | v, seen as L.q, L.k, L.v
        att = np.matmul(L.q, L.kT, out=L.att)  # (B, H, T, T)
        att /= P.root_hd  # microgpt's q·k / √hd
        # the shift is taken before the mask: every row keeps its unmasked entries, all >= min(att)
        shift = common_shift(att, allow_zero=True)
        att += P.bias
        softmax(L.att2, shift=shift, ones=P.col_T)  # the same numbers as (B·H·T, T) rows: sums as 2-D products
        np.matmul(att, L.v, out=L.yT)  # (B, H, T, hd), written into L.y (N, C)
        # a new array for the residual stream: the x before it may be cached (layer 0's input)
        x = np.add(x, L.y.dot(params[L.wo].T, P.tmp), out=L.x)
        # --- MLP: x + fc2 · relu(fc1 · rmsnorm(x))
        h2, s2 = rmsnorm(x, out=L.h2, col=mean, k=k)  # (N, C)
        r = h2.dot(params[L.fc1].T, L.r)  # (N, 4C)
        np.maximum(r, k.zero, out=r)
        x += r.dot(params[L.fc2].T, P.tmp)
        if cache is not None:
            cache.append((h1, s1, wqkv, L.q, L.k, L.v, att, L.y, h2, s2, r))
    if cache is not None:
        cache.append(x)
    logits = x.dot(params["lm_head"].T, P.logits)
    return logits.reshape(B, T, -1)  # (B, T, V)


# ----------------------------------------------------------------------------------------------------------
# loss and backward


def loss_and_grads(params, cfg: GPTConfig, inputs, targets, mask=None, grads=None):
    """Mean next-token cross-entropy and its gradient with respect to every parameter.

    inputs, targets: int (B, T) with T <= block_size. mask: (B, T) weights (None = all ones) so that padded
    batches count only real positions: loss = Σ mask·NLL / Σ mask. Returns (loss as a Python float, grads).

    ``grads``: a dict of arrays with the parameters' names and shapes to write into (e.g. views into a flat
    buffer, see ``zeros_like_params``), returned as it is. Without it, the gradients come back as views of one
    flat buffer laid out like ``init_params``'s (so an optimizer steps them in one go), and they are yours:
    a buffer is written again only once nothing refers to it any more — not the dict, nor any array from
    it, nor a view of one (see _Gradients). In the usual loop two buffers take turns, as fast as passing one.
    """
    inputs, targets = _check_batch(cfg, inputs, targets)
    B, T = inputs.shape
    dtype = _model_dtype(params)
    fused = _verified(params, cfg, dtype)
    N = B * T
    if mask is None:
        w = 1.0 / N  # every position weighs the same
    else:
        mask = np.asarray(mask, dtype=dtype)
        total = mask.sum()
        if mask.shape != inputs.shape or not (total > 0 and mask.min() >= 0):
            raise ValueError(f"mask must be non-negative weights of shape {inputs.shape} with a positive sum")
        w = (mask / total).reshape(N, 1)
    if grads is None:  # a buffer of ours: written through views the caller has never seen
        free = _free_gradients(cfg, dtype)
        grads, gfused, out = free.private, free.private.fused, free.public
    else:
        gfused, out = _verified(grads, cfg, dtype, "grads"), grads
    args = (params, fused, cfg, inputs, targets, w, grads, gfused, mask is None)
    threads = _matmul_threads(cfg, N)
    if threads is _SAME_THREADS:  # (skips two Python calls to a no-op context manager)
        return _loss_and_grads(*args), out
    with threads:
        return _loss_and_grads(*args), out


def _loss_and_grads(params, fused, cfg, inputs, targets, w, grads, gfused, unmasked):
    """The body of ``loss_and_grads`` once the arguments are checked (fused, gfused: see _verified); w is 1/N
    or the (N, 1) weights. Writes the gradients into ``grads`` and returns the loss."""
    B, T = inputs.shape
    C, V = cfg.n_embd, cfg.vocab_size
    dtype = params["wte"].dtype
    N = B * T
    P = _WORKSPACE.plan(cfg, B, T, dtype)
    cache = []
    logits = _forward(params, fused, cfg, inputs, P, cache).reshape(N, V)
    # cross-entropy through log-softmax (stable): NLL_n = log Σ exp(z_n) − z_n[target], z = logits − max
    picks = targets.reshape(N) + P.picks  # flat indices of the targets' logits
    # each row's own max when small (one reduction, and the most accurate), one shared max when big (NumPy's
    # per-row reduction over many short rows is slow there: see common_shift)
    subtract_max(logits, None if P.small else common_shift(logits))
    probs = np.exp(logits, out=P.probs)
    sum_e = probs.dot(P.col_V)  # (N, 1)
    nll = np.log(sum_e)
    nll -= logits.take(picks)[:, None]  # (N, 1)
    if unmasked and N <= 64:  # microgpt's own order: a left-to-right Python sum (and cheaper than NumPy here)
        loss = sum(nll.ravel().tolist()) * w
    elif unmasked:
        loss = float(np.add.reduce(nll, axis=None) * w)
    else:
        loss = float(np.add.reduce(w * nll, axis=None))

    # ---- backward, all activations (N, ·). dlogits = w · (softmax − onehot(target))
    probs /= sum_e
    probs.reshape(N * V)[picks] -= P.k.one
    probs *= P.inv_n if unmasked else w
    dlogits = probs  # (N, V)
    dlogits.T.dot(cache[-1], grads["lm_head"])  # (V, C)
    # the gradient of the residual stream, updated in place from here on
    dx = dlogits.dot(params["lm_head"], P.dx)  # (N, C)
    tmp = P.tmp  # scratch (N, C) for the norms' backward (None when small: allocate)
    dq, dk, dv, datt, neg_mean = P.dq, P.dk, P.dv, P.datt, P.neg_mean_C

    for i in reversed(range(cfg.n_layer)):
        L = P.layers[i]
        h1, s1, wqkv, q, k, v, att, y, h2, s2, r = cache[1 + i]
        # --- MLP: x_out = x_mid + r · fc2ᵀ, r = relu(h2 · fc1ᵀ), h2 = rmsnorm(x_mid)
        dx.T.dot(r, grads[L.fc2])  # (C, 4C)
        da = dx.dot(params[L.fc2], P.da)  # (N, 4C)
        # ReLU passes gradient where its output was positive. r >= 0, so sign(r) is that 0/1 mask too: a
        # float mask multiplies ~2× faster than a bool one on small arrays, ~2× slower on big ones
        da *= np.sign(r) if P.small else (r > 0)
        da.T.dot(h2, grads[L.fc1])  # (4C, C)
        dh2 = da.dot(params[L.fc1], P.tmp2)
        rmsnorm_backward(dh2, h2, s2, out=dx, tmp=tmp, col=neg_mean)  # residual + norm branch
        # --- attention: x_mid = x_in + y · woᵀ
        dx.T.dot(y, grads[L.wo])  # (C, C)
        dx.dot(params[L.wo], P.dy)  # dy (N, C), seen as dy4 (B, H, T, hd)
        # dq, dk, dv are written straight into the (N, 3C) layout of qkv: views (B, H, T, hd) of P.dqkv
        np.matmul(P.dy4, L.vT, out=datt)  # (B, H, T, T)
        np.matmul(L.attT, P.dy4, out=dv)
        # softmax backward row by row: ds = att ⊙ datt − att · Σ_j att·datt; masked entries have att = 0.
        # On the (B·H·T, T) views of att and datt, where the row sums are 2-D matrix–vector products
        att2, datt2 = L.att2, P.datt2
        datt2 *= att2
        sums = datt2.dot(P.col_T)  # (B·H·T, 1)
        datt2 -= np.multiply(att2, sums, out=P.att_sums)
        datt2 /= P.root_hd  # through scores = q·kᵀ / √hd: now the gradient of q·kᵀ
        np.matmul(datt, k, out=dq)
        np.matmul(P.dattT, q, out=dk)
        dqkv = P.dqkv  # (N, 3C): q | k | v, heads in order
        gqkv = gfused[L.wqkv] if gfused is not None else None
        if gqkv is not None:
            dqkv.T.dot(h1, gqkv)  # (3C, C), straight into the flat gradient buffer
        else:  # a plain dict: one tensor at a time
            for j, n in enumerate(("attn_wq", "attn_wk", "attn_wv")):
                dqkv[:, j * C : (j + 1) * C].T.dot(h1, grads[L.name + n])
        dh1 = dqkv.dot(wqkv, P.tmp2)
        rmsnorm_backward(dh1, h1, s1, out=dx, tmp=tmp, col=neg_mean)

    x0, s0, onehot = cache[0]
    dx = rmsnorm_backward(dx, x0, s0, tmp=tmp, col=neg_mean)  # through the embedding's norm (N, C)
    # embeddings: each token's rows add up into its row of wte and each position's into its row of wpe,
    # as onehotᵀ · dx: one small matmul (much faster than np.add.at's scatter), with both tables at once when
    # they are one view of the flat gradient buffer (wte's V rows, then wpe's block_size rows)
    gemb = gfused["wte_wpe"] if gfused is not None else None
    if gemb is not None and P.use_onehot:
        if onehot is None:  # not made by the forward pass (a big batch)
            onehot = _embedding_onehot(inputs, V, gemb.shape[0], dtype, P.onehot)
        onehot.T.dot(dx, gemb)
    else:  # a big vocabulary (the one-hot would be mostly zeros), or a plain dict: scatter-add the rows
        gwte, gwpe = (gemb[:V], gemb[V:]) if gemb is not None else (grads["wte"], grads["wpe"])
        gwte[...] = 0
        np.add.at(gwte, inputs.reshape(N), dx)
        if T < cfg.block_size:
            gwpe[T:] = 0
        np.add.reduce(dx.reshape(B, T, C), axis=0, out=gwpe[:T])
    return loss


_ARANGES = {}
_IDENTITIES = {}
_POSITION_ONEHOTS = {}


def _identity(n: int, dtype) -> np.ndarray:
    """A cached (n, n) identity matrix (read-only): its rows are one-hot vectors."""
    a = _IDENTITIES.get((n, dtype))
    if a is None:
        a = _IDENTITIES[(n, dtype)] = np.eye(n, dtype=dtype)
        a.flags.writeable = False
    return a


def _embedding_onehot(inputs, V: int, rows: int, dtype, out=None) -> np.ndarray:
    """(B·T, rows) one-hots of [token, position] over the stacked tables [wte (V rows); wpe]: row n = b·T + t
    has a 1 in column inputs[b, t] and one in column V + t."""
    B, T = inputs.shape
    onehot = _identity(rows, dtype).take(inputs.reshape(B * T), axis=0, out=out)
    t = _arange(T, 1)
    onehot.reshape(B, T, rows)[:, t, V + t] = 1  # the positions' ones (a token's row is 0 there): no (N, rows) cache
    return onehot


def _position_onehot(B: int, T: int, V: int, rows: int, dtype) -> np.ndarray:
    """A cached (B·T, rows) array with a 1 in column V + t of row n = b·T + t: the positions' one-hots."""
    key = (B, T, V, rows, dtype)
    a = _POSITION_ONEHOTS.get(key)
    if a is None:
        if len(_POSITION_ONEHOTS) >= 64:  # (small batches only; plans keep the ones they use)
            _POSITION_ONEHOTS.clear()
        n = np.arange(B * T)
        a = np.zeros((B * T, rows), dtype)
        a[n, V + n % T] = 1
        a.flags.writeable = False
        _POSITION_ONEHOTS[key] = a
    return a


def _arange(n: int, step: int) -> np.ndarray:
    """A cached ``np.arange(0, n·step, step)`` (int64, read-only): a prefix of one array per step, grown to
    the largest n asked for (one per n would add up to B·block_size² numbers over a run's batch lengths)."""
    a = _ARANGES.get(step)
    if a is None or a.size < n:
        a = _ARANGES[step] = np.arange(0, n * step, step)
        a.flags.writeable = False
    return a[:n]


def loss(params, cfg: GPTConfig, inputs, targets, mask=None) -> float:
    """The same loss as ``loss_and_grads`` without the backward pass (e.g. for validation)."""
    inputs, targets = _check_batch(cfg, inputs, targets)
    B, T = inputs.shape
    with _matmul_threads(cfg, B * T):
        z = forward(params, cfg, inputs, ws=_WORKSPACE).reshape(B * T, -1)  # z: a workspace array (or fresh)
        subtract_max(z, common_shift(z))
        nll = np.log(np.exp(z) @ _column(z.shape[1], 1.0, z.dtype))[:, 0] - z[np.arange(B * T), targets.reshape(-1)]
    w = np.ones(B * T) if mask is None else np.asarray(mask, dtype=np.float64).reshape(-1)
    if w.shape != (B * T,) or not np.all(w >= 0) or not w.sum() > 0:
        raise ValueError(f"mask must be non-negative weights of shape {inputs.shape} with a positive sum")
    return float(w @ nll / w.sum())


# ----------------------------------------------------------------------------------------------------------
# sampling


def sample(params, cfg: GPTConfig, n: int = 10, temperature: float = 0.5, seed: int = 0, prefix=()) -> list[list[int]]:
    """Generate ``n`` token sequences, all at once as a batch.

    Each starts from [BOS] + prefix and draws from softmax(logits / temperature) until it emits BOS or the
    context reaches block_size. temperature 0 means greedy (argmax). Returns the token ids of each sample,
    prefix included, BOS excluded.
    """
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    if not temperature >= 0:
        raise ValueError(f"temperature must be >= 0, got {temperature!r}")
    prefix = [int(t) for t in prefix]
    if len(prefix) >= cfg.block_size:
        raise ValueError(f"prefix must be shorter than block_size={cfg.block_size}, got {len(prefix)} tokens")
    if any(not 0 <= t < cfg.vocab_size for t in prefix):
        raise ValueError(f"prefix token ids must be in [0, {cfg.vocab_size - 1}]")
    rng = np.random.default_rng(seed)
    seq = np.array([[cfg.bos] + prefix] * n, dtype=np.int64)  # (n, t)
    done = np.zeros(n, dtype=bool)
    while seq.shape[1] <= cfg.block_size and not done.all():
        logits = forward(params, cfg, seq[:, -cfg.block_size :])[:, -1, :].astype(np.float64)  # (n, V)
        if temperature == 0:
            nxt = logits.argmax(axis=1)
        else:
            probs = softmax(logits / temperature)  # (n, V)
            # inverse-CDF draw: the first index whose cumulative probability exceeds u
            u = rng.random((n, 1)) * probs.sum(axis=1, keepdims=True)
            nxt = np.minimum((np.cumsum(probs, axis=1) < u).sum(axis=1), cfg.vocab_size - 1)
        nxt = np.where(done, cfg.bos, nxt)
        done |= nxt == cfg.bos
        seq = np.concatenate([seq, nxt[:, None]], axis=1)
        if seq.shape[1] > cfg.block_size:
            break
    out = []
    for row in seq[:, 1:]:
        ids = row.tolist()
        out.append(ids[: ids.index(cfg.bos)] if cfg.bos in ids else ids)
    return out
