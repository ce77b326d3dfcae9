"""The optimizer machinery (validation, per-tensor and flat-buffer state, state_dict) and the classic five:
SGD, Adagrad, RMSprop, Adam and AdamW in NumPy, with torch.optim's formulas, defaults and update order.
The newer optimizers build on the same ``Optimizer`` base in the sibling modules (see ``adamlab.core.optim``).

Every optimizer works in place on arrays of any shape::

    opt = Adam(lr=1e-2)
    opt.step(xy, grad)                         # one ndarray: (2,), or (K, 2) for K starts at once
    opt.step(params, grads)                    # dicts name -> ndarray (a model)

When the arrays of ``params`` are views tiling one contiguous 1-D buffer (build them with ``flatten``), a
step is a handful of vectorised NumPy calls over the whole buffer instead of one set per tensor, and the
optimizer's state is flat too (per-tensor views of it stay available by name through ``state_of``).

Faithfulness: each ``_step_*`` function below is a line-by-line transcription of torch.optim's
single-tensor CPU path (torch 2.x) -- same formulas, same order, same placement of eps -- so in float64 the
parameters track torch's to round-off (~1e-13 relative after hundreds of steps with a changing lr).
Where torch writes ``a.lerp_(b, w)``, ``a.addcmul_(x, y, value=c)`` or ``p.addcdiv_(x, y, value=c)`` we do
the same arithmetic with ``out=`` ufuncs into preallocated scratch buffers, so a step allocates nothing.

Tiny arrays: a 1-D float64 array of at most ``TINY`` (4) numbers -- a point of the loss-surface arena -- is
stepped by ``_tiny_update``, the same operations in the same order on Python floats. Both are IEEE binary64
with correctly rounded +, −, ×, ÷ and √, so the bits are identical (tests/core/test_trajectory.py steps (2,)
and (64,) arrays side by side), and it is ~3x faster: NumPy's ~0.5 µs per call dominated a (2,) step.

Introspection for the GUI: ``opt.t`` (step() calls so far); ``opt.inspect(name)`` on Adam/AdamW (m, v,
m̂, v̂, bias corrections, normalised step m̂/(√v̂ + ε), effective lr lr/(√v̂ + ε) -- computed by the same
``_bias_corrections`` / ``_adam_denom`` helpers that ``step`` uses), RMSprop and Adagrad (denominator,
effective lr); ``opt.state_of(name)`` gives views of a tensor's raw state. ``name`` is None for a bare array.

Hyperparameters are validated on construction and whenever they change (``opt.lr = 0.1``,
``opt.set_hyperparameters(betas=(0.9, 0.95))``); bad values raise ValueError naming the argument and its
allowed range. ``opt.state_dict()`` is a flat dict of ndarrays / ints / floats / bools / strings that
``np.savez`` stores without pickle; ``load_state_dict`` continues bit-for-bit.

Every optimizer takes ``maximize`` (ascend instead of descend: the gradient is negated first, as in torch).
``lr`` may also be an array broadcasting against the parameters, e.g. (K, 1) for a (K, 2) stack of points:
K runs with K learning rates in one call (the tuner, ``adamlab.core.tune``, races 25 learning rates this
way); such a batch always takes the NumPy path. Optimizers whose update mixes the rows of an array (one
matrix, not K points: Adafactor, Muon) say so with ``ROWS_INDEPENDENT = False``.
"""

from __future__ import annotations

import math
import operator
from typing import Any, Callable, NamedTuple

import numpy as np

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "flatten", "FlatParams", "FlatViews",
           "SINGLE", "STATE_LABELS"]

SINGLE = "param"      # the state key used when step() is given one bare ndarray
# what each state array is, for messages (e.g. "Adam's second moment v overflowed in layer0.mlp_fc1")
STATE_LABELS = {"exp_avg": "first moment m", "exp_avg_sq": "second moment v",
                "max_exp_avg_sq": "running max of v (AMSGrad)", "momentum_buffer": "momentum buffer",
                "square_avg": "average of g²", "grad_avg": "average of g", "sum": "sum of g²",
                "acc_delta": "average of Δθ²", "exp_inf": "infinity norm u", "exp_avg_fast": "fast EMA of g",
                "exp_avg_slow": "slow EMA of g", "row_var": "row variance", "col_var": "column variance",
                "variance": "variance", "x": "averaged weights x", "z": "base sequence z"}
TINY = 4              # 1-D float64 arrays up to this size are stepped with Python floats (same bits, ~3x faster)
_F64 = np.dtype(np.float64)
_FLAT = "__flat__"    # the state key of the one flat slot (all tensors of one contiguous buffer)
_RESERVED = f"a tensor may not be named {_FLAT!r}: the optimizer keeps the state of a flat buffer under that name"


# ----------------------------------------------------------------------------------------------------------
# validation

def _fmt(x: float) -> str:
    return "inf" if x == math.inf else f"{x:g}"


def _real(name: str, value: Any, lo: float, hi: float = math.inf, lo_open=False, hi_open=True) -> float:
    """value as a float in the interval lo..hi (open/closed as given), else ValueError naming the interval."""
    rng = f"{'(' if lo_open else '['}{_fmt(lo)}, {_fmt(hi)}{')' if hi_open else ']'}"
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a number in {rng}, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in {rng}, got {value!r}") from None
    ok = math.isfinite(x) and (x > lo if lo_open else x >= lo) and (x < hi if hi_open else x <= hi)
    if not ok:
        raise ValueError(f"{name} must be in {rng}, got {value}")
    return x


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be a bool (True or False), got {value!r}")
    return bool(value)


def _nonneg(name):
    return lambda v: _real(name, v, 0.0)


def _positive(name):
    return lambda v: _real(name, v, 0.0, lo_open=True)


def _unit(name):           # [0, 1]
    return lambda v: _real(name, v, 0.0, 1.0, hi_open=False)


def _betas(value: Any) -> tuple[float, float]:
    try:
        b1, b2 = value
    except (TypeError, ValueError):
        raise ValueError(f"betas must be a pair (beta1, beta2) with each in [0, 1), got {value!r}") from None
    return (_real("betas[0]", b1, 0.0, 1.0), _real("betas[1]", b2, 0.0, 1.0))


def _numbers(name: str, labels: tuple[str, ...], lo: float = -math.inf, hi: float = math.inf):
    """A tuple of len(labels) numbers, each in [lo, hi) (any finite number by default)."""
    each = "each finite" if lo == -math.inf else f"each in [{_fmt(lo)}, {_fmt(hi)})"
    count = {2: "two", 3: "three"}.get(len(labels), str(len(labels)))

    def check(value):
        try:
            items = tuple(value)
        except TypeError:
            items = ()
        if len(items) != len(labels):
            raise ValueError(f"{name} must be {count} numbers ({', '.join(labels)}) with {each}, got {value!r}")
        return tuple(_real(f"{name}[{i}]", x, lo, hi, lo_open=lo == -math.inf) for i, x in enumerate(items))
    return check


_betas3 = _numbers("betas", ("beta1", "beta2", "beta3"), 0.0, 1.0)   # AdEMAMix's


def _integer(name: str, lo: int, hi: int | None = None):
    """An integer in [lo, hi] (an int-valued float such as 5.0, e.g. read back from a file, is accepted)."""
    rng = f"[{lo}, {'inf' if hi is None else hi}]"

    def check(value):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)) \
                or not float(value).is_integer():
            raise ValueError(f"{name} must be an integer in {rng}, got {value!r}")
        v = int(value)
        if v < lo or (hi is not None and v > hi):
            raise ValueError(f"{name} must be an integer in {rng}, got {v}")
        return v
    return check


def _optional(check):
    """None (its meaning is in the hyperparameter's docstring) or what ``check`` accepts."""
    return lambda value: None if value is None else check(value)


def _one_of(name: str, options: tuple):
    def check(value):
        if value not in options or isinstance(value, bool):
            raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}, got {value!r}")
        return value
    return check


def _learning_rate(value: Any):
    """lr >= 0: a number, or an array of numbers >= 0 (a batch of runs, one lr per row: see tune.py)."""
    if isinstance(value, np.ndarray) and value.ndim > 0:
        a = np.array(value, dtype=np.float64)      # a private, read-only copy
        if a.size == 0 or not np.all(np.isfinite(a) & (a >= 0)):
            raise ValueError(f"lr must be in [0, inf) (every element of an lr array), got {value!r}")
        a.flags.writeable = False
        return a
    return _real("lr", value, 0.0)


def _hyper(name: str, doc: str) -> property:
    """A validated hyperparameter property: reading gives the value, assigning goes through the validator."""
    def get(self):
        return self._h[name]

    def set_(self, value):
        self.set_hyperparameters(**{name: value})

    return property(get, set_, doc=doc)


# ----------------------------------------------------------------------------------------------------------
# flat buffers

class FlatParams(NamedTuple):
    """One contiguous 1-D buffer and named views into it (each view C-contiguous, in insertion order)."""
    buffer: np.ndarray                  # (n,)
    views: dict[str, np.ndarray]        # name -> view of buffer with the tensor's shape


def flatten(arrays_or_shapes: dict[str, Any], dtype=None) -> FlatParams:
    """Lay tensors end to end in one contiguous 1-D buffer; return the buffer and a dict of named views.

    ``arrays_or_shapes`` maps names to arrays (their values are copied in) or to shapes (zeros).
    ``dtype`` defaults to the arrays' common dtype, or float64 for shapes. Pass the views to
    ``Optimizer.step`` (for params, and a second ``flatten`` of the same shapes for grads) and the step
    runs over the whole buffer at once.
    """
    items = []
    for name, a in arrays_or_shapes.items():
        if isinstance(a, np.ndarray):
            items.append((name, a.shape, a))
        else:
            shape = (int(a),) if np.isscalar(a) else tuple(int(d) for d in a)
            if any(d < 0 for d in shape):
                raise ValueError(f"shape of {name!r} must have dimensions >= 0, got {shape}")
            items.append((name, shape, None))
    if dtype is None:
        arrays = [a for _, _, a in items if a is not None]
        dtype = np.result_type(*arrays) if arrays else np.float64
    dtype = np.dtype(dtype)
    if not np.issubdtype(dtype, np.floating):
        raise ValueError(f"dtype must be a floating dtype (float32 or float64), got {dtype}")
    n = sum(math.prod(shape) for _, shape, _ in items)
    buffer = np.zeros(n, dtype=dtype)
    views = FlatViews.over(buffer, {name: shape for name, shape, _ in items})
    for name, _, a in items:
        if a is not None:
            views[name][...] = a
    return FlatParams(buffer, views)


class FlatViews(dict):
    """A dict name → view that tiles one flat buffer (``flatten``'s ``.views``; ``gpt.Params`` is one) and
    remembers it, so ``Optimizer.step`` takes a *new* set of such views, e.g. gradients made fresh every step,
    as one buffer after a glance (the same views under the same names?) instead of checking every array's
    memory (a few µs a tensor). A plain dict of such views is recognised too, by checking every array.
    """

    tiling = None  # (buffer, _Layout, the views as made) when made by over(); else None

    @classmethod
    def over(cls, buffer: np.ndarray, shapes: dict[str, tuple[int, ...]]) -> FlatViews:
        """Views of the 1-D ``buffer`` with ``shapes``, end to end in order; together they must fill it."""
        views, offsets, offset = cls(), [], 0
        for name, shape in shapes.items():
            size = math.prod(shape)
            views[name] = buffer[offset:offset + size].reshape(shape)
            offsets.append(offset)
            offset += size
        if buffer.ndim != 1 or offset != buffer.size:
            raise ValueError(f"the shapes need {offset} numbers, the buffer holds {buffer.size} in {buffer.ndim}-D")
        if buffer.base is None and buffer.flags.c_contiguous:  # what _tiling accepts: the views' .base is it
            layout = _Layout(tuple(views), tuple(offsets), tuple(v.shape for v in views.values()))
            if len(_LAYOUTS) >= 64:
                _LAYOUTS.clear()
            views.tiling = (buffer, _LAYOUTS.setdefault(layout, layout), tuple(views.values()))
        return views


_LAYOUTS: dict = {}  # equal layouts made by FlatViews.over are one object: step() compares them at a glance


class _Layout(NamedTuple):
    """Where each named tensor lives in a flat buffer: element offset and shape."""
    names: tuple[str, ...]
    offsets: tuple[int, ...]
    shapes: tuple[tuple[int, ...], ...]

    def view(self, flat: np.ndarray, name: str) -> np.ndarray:
        i = self.names.index(name)
        size = math.prod(self.shapes[i])
        return flat[self.offsets[i]:self.offsets[i] + size].reshape(self.shapes[i])


def _address(a: np.ndarray) -> int:
    return a.__array_interface__["data"][0]


def _known_tiling(arrays) -> tuple | None:
    """A FlatViews' record (buffer, layout, views) while it still holds the views it made, under their names."""
    known = arrays.tiling if isinstance(arrays, FlatViews) else None
    if known is not None:
        buffer, layout, made = known
        if (buffer.flags.writeable and len(arrays) == len(made) and tuple(arrays) == layout.names
                and all(map(operator.is_, arrays.values(), made)) and (not made or made[0].base is buffer)):
            return known  # (a deep copy copies the views apart from the buffer: made[0].base says so)
    return None


def _tiling(arrays: dict[str, np.ndarray]) -> tuple[np.ndarray, _Layout] | None:
    """(buffer, layout) if the arrays are C-contiguous views exactly tiling one contiguous 1-D array, else None."""
    known = _known_tiling(arrays)
    if known is not None:
        return known[0], known[1]
    first = next(iter(arrays.values()))
    base = first.base if isinstance(first, np.ndarray) else None
    if (not isinstance(base, np.ndarray) or base.ndim != 1 or not base.flags.c_contiguous
            or not base.flags.writeable):
        return None
    start, item = _address(base), base.itemsize
    pieces = []
    for name, a in arrays.items():
        if not isinstance(a, np.ndarray) or a.base is not base or a.dtype != base.dtype \
                or not a.flags.c_contiguous:
            return None
        off, rem = divmod(_address(a) - start, item)
        if rem or off < 0 or off + a.size > base.size:
            return None
        pieces.append((off, a.size, name, a.shape))
    cursor = 0
    for off, size, _, _ in sorted(pieces):
        if size == 0:
            continue
        if off != cursor:           # a gap or an overlap: not a tiling
            return None
        cursor += size
    if cursor != base.size:
        return None
    names, offsets, shapes = zip(*[(name, off, shape) for off, _, name, shape in pieces])
    return base, _Layout(names, offsets, shapes)


def _check_grad(name: str, p: np.ndarray, g) -> np.ndarray:
    """g as an ndarray of p's shape (NumPy scalars, e.g. the grad of a 0-d param, are accepted)."""
    if not isinstance(g, np.ndarray):
        g = np.asarray(g)
    if g.shape != p.shape or not (np.issubdtype(g.dtype, np.floating) or np.issubdtype(g.dtype, np.integer)):
        raise ValueError(f"grads[{name!r}] must be a real array of shape {p.shape}, got "
                         f"shape {g.shape} dtype {g.dtype}")
    return g


def _check_grads(params: dict, grads: dict) -> None:
    for name, p in params.items():
        _check_grad(name, p, grads[name])


# ----------------------------------------------------------------------------------------------------------
# per-tensor state

class _Slot:
    """Optimizer state for one tensor (or one flat buffer): torch's per-parameter ``state`` plus scratch."""
    __slots__ = ("step", "state", "shape", "dtype", "tmp", "denom", "gbuf", "gather", "layout",
                 "coef", "k", "version", "tiny", "scalars")

    def __init__(self, shape, dtype, state: dict[str, np.ndarray], step=0, layout=None, scalars=None):
        self.step = step                       # torch's state["step"]: updates applied to this tensor
        self.state = state                     # name -> ndarray of `shape`, e.g. exp_avg, exp_avg_sq
        # per-tensor numbers that are state too, e.g. NAdam's mu_product: floats (or (K, 1) arrays when lr
        # is a batch of learning rates)
        self.scalars: dict[str, Any] = {} if scalars is None else scalars
        self.shape, self.dtype = shape, dtype
        self.layout = layout                   # _Layout when this slot is a flat buffer of many tensors
        self.tmp = np.empty(shape, dtype)      # scratch, so a step allocates nothing
        self.denom = np.empty(shape, dtype)
        self.gbuf = np.empty(shape, dtype)     # grad + weight decay
        self.gather = None                     # flat grads copied together when they are not one buffer
        # The update's scalar coefficients, kept as 0-d arrays of the slot's dtype: a ufunc takes a 0-d
        # array operand ~0.5 µs faster than a Python float, which is most of a (2,)-array step's cost.
        # k[i] is a 0-d view of coef[i]; writing coef[i] = x (~0.1 µs) updates it.
        self.coef = np.zeros(8, dtype)
        self.k = tuple(self.coef[i:i + 1].reshape(()) for i in range(8))
        self.version = -1                      # the optimizer's hyperparameter version coef was written for
        # A few float64 numbers (a 2D point): stepped with Python floats, see Optimizer._tiny_update.
        self.tiny = len(shape) == 1 and 0 < shape[0] <= TINY and dtype == np.float64 and layout is None


def _lerp_coef(w: float) -> float:
    """The multiplier _lerp_ uses for weight w: w itself below 0.5, else 1 − w (torch.lerp's two forms)."""
    return w if w < 0.5 else 1.0 - w


def _lerp_(a: np.ndarray, b: np.ndarray, w: float, tmp: np.ndarray, coef=None) -> None:
    """a <- a + w·(b − a), in torch.lerp's exact form (it switches formulas at w = 0.5 for accuracy).

    coef: _lerp_coef(w), precomputed (e.g. as a 0-d array) by hot loops.
    """
    c = _lerp_coef(w) if coef is None else coef
    np.subtract(b, a, out=tmp)
    np.multiply(tmp, c, out=tmp)
    if w < 0.5:
        np.add(a, tmp, out=a)
    else:
        np.subtract(b, tmp, out=a)


def _ema_sq_(v: np.ndarray, x: np.ndarray, beta: float, tmp: np.ndarray) -> np.ndarray:
    """v <- β·v + (1 − β)·x², torch's v.mul_(β).addcmul_(x, x, value=1 − β) (tmp: scratch of v's shape)."""
    np.multiply(v, beta, out=v)
    np.multiply(x, x, out=tmp)
    np.multiply(tmp, 1.0 - beta, out=tmp)
    np.add(v, tmp, out=v)
    return v


def _with_l2(p: np.ndarray, g: np.ndarray, weight_decay: float, out: np.ndarray) -> np.ndarray:
    """g + wd·p (torch: grad.add(param, alpha=weight_decay)): L2 decay folded into the gradient."""
    np.multiply(p, weight_decay, out=out)
    np.add(g, out, out=out)
    return out


try:  # NumPy >= 2 keeps the floating-point error state in a context variable: setting a prebuilt "ignore"
    # state costs ~0.3 µs, np.errstate(all="ignore") ~3 µs (it builds that state anew every time)
    from numpy._core._ufunc_config import _extobj_contextvar as _ERRSTATE, _make_extobj

    _IGNORE = _make_extobj(all="ignore")
except (ImportError, AttributeError, TypeError):  # NumPy 1.x (or one that moved them): the public way
    _ERRSTATE = None


class _Quiet:
    """``np.errstate(all="ignore")`` around the NumPy updates: an overflow there (a float32 gradient of 1e20
    squared, a weight decay of 1e308) is an outcome for the caller to see — in the weights, or in
    ``nonfinite_state`` — not a RuntimeWarning to print, as in torch.optim."""

    __slots__ = ("token",)

    def __enter__(self):
        if _ERRSTATE is None:
            self.token = np.errstate(all="ignore")
            self.token.__enter__()
        else:
            self.token = _ERRSTATE.set(_IGNORE)

    def __exit__(self, *exc):
        if _ERRSTATE is None:
            self.token.__exit__(*exc)
        else:
            _ERRSTATE.reset(self.token)


def _grad(slot: _Slot, p: np.ndarray, g: np.ndarray, maximize: bool, weight_decay=0.0) -> np.ndarray:
    """The gradient the update sees: −g when maximizing (torch negates first), then + wd·θ for L2 decay.

    Writes into slot.gbuf (and uses slot.tmp as scratch) only when it has to; g itself is never changed.
    """
    if maximize:
        g = np.negative(g, out=slot.gbuf)
        if weight_decay != 0:
            np.multiply(p, weight_decay, out=slot.tmp)
            np.add(g, slot.tmp, out=g)
        return g
    if weight_decay != 0:
        return _with_l2(p, g, weight_decay, slot.gbuf)
    return g


def _k(slot: _Slot, i: int, value):
    """A per-step coefficient as the slot's fast 0-d operand slot.k[i], or the value itself when it is an
    array (a batch of learning rates, one per row)."""
    if isinstance(value, np.ndarray):
        return value
    slot.coef[i] = value
    return slot.k[i]


def _same_scalars(a: dict, b: dict) -> bool:
    """Equal per-tensor scalar state (floats, or arrays when lr is a batch)."""
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


def _scalar_value(v):
    """A scalar state entry read back: a float, or an array when it was one (a batch of learning rates)."""
    a = np.asarray(v, dtype=np.float64)
    return float(a) if a.ndim == 0 else a.copy()


def _encode_hyper(value) -> Any:
    """A hyperparameter as an npz-friendly value: None -> "None", tuples -> arrays (None inside -> NaN)."""
    if value is None:
        return "None"
    if isinstance(value, tuple):
        if value and all(isinstance(x, str) for x in value):
            return np.array(value, dtype=str)
        return np.array([math.nan if x is None else x for x in value], dtype=np.float64)
    if isinstance(value, np.ndarray):
        return value.copy()
    return value


def _decode_hyper(value, current) -> Any:
    """Undo ``_encode_hyper``; ``current`` (the value now) says whether an array was a tuple. The result
    is checked by the hyperparameter's validator afterwards."""
    a = np.asarray(value)
    if a.dtype.kind == "U":
        if a.ndim == 0:
            text = str(a)
            return None if text == "None" else text
        return tuple(str(x) for x in a.tolist())
    if a.ndim > 0:
        if isinstance(current, tuple):
            return tuple(None if x != x else float(x) for x in a.tolist())  # NaN marks a None inside
        return a
    if a.dtype.kind == "b":
        return bool(a)
    if a.dtype.kind in "iu":
        return int(a)
    return float(a)


_sqrt = math.sqrt  # the tiny paths call it only on x >= 0 (NaN and x < 0 give NaN there, as np.sqrt does)
_NAN = math.nan


# ----------------------------------------------------------------------------------------------------------
# the optimizers

class Optimizer:
    """Base class: hyperparameter validation, state bookkeeping, flat-buffer detection, (de)serialisation.

    Subclasses define ``_VALIDATORS`` (name -> function returning the validated value), ``_init_state``
    (fresh per-tensor state) and ``_update`` (one step of one tensor or flat buffer, in place).
    """
    _VALIDATORS: dict[str, Callable[[Any], Any]] = {}
    # Hyperparameters added after state dicts were first written, with the value an older dict meant (as
    # torch's __setstate__ does with group.setdefault("maximize", False)).
    _LEGACY: dict[str, Any] = {"maximize": False}
    # True when stepping a (K, n) array equals K separate (n,) steps (elementwise updates): a stack of K
    # points is K independent runs. False for updates that treat the array as one matrix (Muon, Adafactor).
    ROWS_INDEPENDENT = True
    # True when the method is meant to be judged somewhere other than where it takes its gradients (schedule-
    # free's average x, while the parameters hold y): ``eval_point`` gives that point.
    EVALUATED_ELSEWHERE = False

    def eval_point(self, name: str | None = None) -> np.ndarray | None:
        """The point this method is evaluated at for tensor ``name`` (None: the bare array), or None when that
        is the parameters themselves (every optimizer but schedule-free) or before its first step."""
        return None

    @property
    def lr(self) -> float:
        """Learning rate >= 0; may be changed between steps (schedules drive it, so setting it is cheap)."""
        return self._lr

    @lr.setter
    def lr(self, value) -> None:
        self._lr = self._h["lr"] = self._VALIDATORS["lr"](value)
        self._batched = isinstance(self._lr, np.ndarray)

    def __init__(self, **hyper):
        self._h: dict[str, Any] = {}
        self._batched = False                  # lr is an array (one per row): the NumPy path, never the tiny one
        self._version = 0                      # bumped when a hyperparameter other than lr changes
        self._state: dict[str, _Slot] = {}
        self._t = 0
        self._cache = None                     # the last flat call's arrays, to skip re-detecting the tiling
        self.set_hyperparameters(**hyper)

    # -- hyperparameters ------------------------------------------------------------------------------
    def set_hyperparameters(self, **changes) -> None:
        """Validate and apply changes atomically (nothing changes if any value is invalid)."""
        unknown = set(changes) - set(self._VALIDATORS)
        if unknown:
            raise ValueError(f"unknown hyperparameter(s) for {type(self).__name__}: {sorted(unknown)}; "
                             f"allowed: {sorted(self._VALIDATORS)}")
        new = dict(self._h)
        for name, value in changes.items():
            new[name] = self._VALIDATORS[name](value)
        self._check_combination(new)
        self._h = new
        if set(changes) - {"lr"}:
            self._version += 1                 # slots rewrite their constant coefficients on the next step
        self._apply()
        self._batched = isinstance(self._h.get("lr"), np.ndarray)

    def _refresh(self, slot: _Slot) -> None:
        """Write the optimizer's constant coefficients (``_constants``) into the slot's 0-d arrays."""
        c = self._constants()
        slot.coef[:len(c)] = c
        slot.version = self._version

    def _constants(self) -> tuple[float, ...]:
        """Coefficients that change only with the hyperparameters (indices into slot.k); per class."""
        return ()

    def _check_combination(self, h: dict) -> None:
        """Constraints between hyperparameters (e.g. nesterov needs momentum); override where needed."""

    _ATTRIBUTES = {"betas": "_betas", "eps": "_eps", "weight_decay": "_wd", "maximize": "_maximize"}

    def _apply(self) -> None:
        """Copy hyperparameters into plain attributes read by the hot path (lr, and the common ones the
        class has: betas, eps, weight_decay, maximize); subclasses add their own."""
        h = self._h
        self._lr = h["lr"]
        for name, attr in self._ATTRIBUTES.items():
            if name in h:
                setattr(self, attr, h[name])

    def hyperparameters(self) -> dict[str, Any]:
        """The current hyperparameters as a new dict (torch's argument names)."""
        return dict(self._h)

    @property
    def t(self) -> int:
        """Number of step() calls taken so far."""
        return self._t

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self._h.items())
        return f"{type(self).__name__}({args})"

    # -- stepping -------------------------------------------------------------------------------------
    def step(self, params, grads) -> None:
        """One update, in place. ``params``/``grads``: one ndarray, or dicts name -> ndarray of equal shapes.

        State is kept per name (``SINGLE`` for a bare array) and created on first sight of a name, as in
        torch. If the param arrays are views tiling one contiguous 1-D buffer, the whole buffer is stepped
        at once (grads are used in place when they tile a buffer the same way, else gathered).
        """
        if isinstance(params, np.ndarray):          # hot path: one array, e.g. (2,) or (K, 2)
            slot = self._state.get(SINGLE)
            if slot is None or slot.shape != params.shape or type(grads) is not np.ndarray \
                    or grads.shape != params.shape:
                grads = _check_grad(SINGLE, params, grads)
                slot = self._slot_for(SINGLE, params, grads)
            self._t += 1
            slot.step += 1
            if slot.tiny and not self._batched and grads.dtype == _F64:
                self._tiny_update(slot, params, grads)
            else:
                with _Quiet():
                    self._update(slot, params, grads)
            return
        if not isinstance(params, dict) or not isinstance(grads, dict):
            raise ValueError("params and grads must both be ndarrays or both be dicts name -> ndarray, "
                             f"got {type(params).__name__} and {type(grads).__name__}")
        if _FLAT in params:                         # before anything is created, split or stepped
            raise ValueError(_RESERVED)
        flat = self._flat_pair(params, grads)
        if flat is not None:
            slot, p, g = flat
            self._t += 1
            slot.step += 1
            with _Quiet():
                self._update(slot, p, g)
            return
        if params.keys() != grads.keys():
            raise ValueError(f"params and grads must have the same names; params only: "
                             f"{sorted(params.keys() - grads.keys())}, grads only: "
                             f"{sorted(grads.keys() - params.keys())}")
        if _FLAT in self._state:
            self._scatter()
        work = [(self._slot_for(name, p, grads[name]), p, _check_grad(name, p, grads[name]))
                for name, p in params.items()]
        self._t += 1
        with _Quiet():
            for slot, p, g in work:
                slot.step += 1
                self._update(slot, p, g)

    def _slot_for(self, name: str, p, g) -> _Slot:
        """The state slot of tensor `name`, created on first use; checks shapes and dtypes (not g's type)."""
        if not isinstance(p, np.ndarray) or not np.issubdtype(p.dtype, np.floating):
            raise ValueError(f"params[{name!r}] must be a floating-point ndarray, got "
                             f"{getattr(p, 'dtype', type(p).__name__)}")
        if not p.flags.writeable:
            raise ValueError(f"params[{name!r}] must be writeable (the update is in place)")
        _check_grad(name, p, g)
        slot = self._state.get(name)
        if slot is None:
            slot = self._state[name] = _Slot(p.shape, p.dtype, self._init_state(p.shape, p.dtype))
        elif slot.shape != p.shape:
            raise ValueError(f"params[{name!r}] has shape {p.shape} but its optimizer state has shape "
                             f"{slot.shape}; call reset() or make a new optimizer")
        return slot

    def _flat_pair(self, params: dict, grads: dict):
        """(flat slot, flat params, flat grads) when params tile one buffer and the state can be flat, else None.

        The tiling check costs a few µs per tensor, so the answers are cached against the identity of the
        arrays: the params' last ones and the grads' last two (gpt.loss_and_grads hands out two gradient
        buffers in turn). The cache holds what keeps those ids from being reused by other arrays meanwhile:
        the arrays, or a FlatViews' record of its views, which adds no reference to the dict, its arrays or
        its buffer (gpt takes a buffer back once their reference counts say nobody holds it).
        """
        keys, pids, gids = tuple(params), tuple(map(id, params.values())), tuple(map(id, grads.values()))
        c = self._cache
        if c is not None and c[0] == keys and c[1] == pids:
            slot, pflat, seen = c[2], c[3], c[5]
            for ids, record, direct, _ in seen:
                if ids == gids:                             # grad arrays seen lately
                    direct = record[0] if record is not None else direct
                    return slot, pflat, (direct if direct is not None else self._gather(slot, grads))
        else:
            self._cache = None
            if not params or keys != tuple(grads):
                return None
            tiled = _tiling(params)
            if tiled is None:
                return None
            pflat, layout = tiled
            slot = self._flat_slot(layout, pflat)
            if slot is None:
                return None
            seen = ()
        record = _known_tiling(grads)
        gt = record[:2] if record is not None else _tiling(grads) if grads else None
        direct = gt[0] if gt is not None and gt[1] == slot.layout and gt[0].dtype == slot.dtype else None
        if direct is None:  # (grads tiling the params' layout have the params' names, shapes and dtype)
            _check_grads(params, grads)
        entry = (gids, record, None, None) if record is not None and direct is not None else \
            (gids, None, direct, tuple(grads.values()))
        self._cache = (keys, pids, slot, pflat, tuple(params.values()), (entry, *seen[:1]))
        return slot, pflat, (direct if direct is not None else self._gather(slot, grads))

    @staticmethod
    def _gather(slot: _Slot, grads: dict) -> np.ndarray:
        """Copy per-tensor grads into one flat array laid out like the params' buffer."""
        if slot.gather is None:
            slot.gather = np.empty(slot.shape, slot.dtype)
        for name in slot.layout.names:
            np.copyto(slot.layout.view(slot.gather, name), grads[name])
        return slot.gather

    def _flat_slot(self, layout: _Layout, pflat: np.ndarray) -> _Slot | None:
        """The flat slot for `layout`: reused, or built from per-tensor slots. None if it cannot be flat.

        Per-tensor state can be merged only when torch would treat the tensors alike: all of them new, or
        all with the same step count and the same kinds of state (else we step per tensor, still exact).
        """
        slot = self._state.get(_FLAT)
        if slot is not None:
            if slot.layout == layout and slot.dtype == pflat.dtype:
                return slot
            self._scatter()
        parts = [self._state.get(name) for name in layout.names]
        known = [s for s in parts if s is not None]
        if known and (len(known) != len(parts) or len({s.step for s in known}) != 1
                      or len({frozenset(s.state) for s in known}) != 1 or any(s.dtype != pflat.dtype for s in known)
                      or any(not _same_scalars(s.scalars, known[0].scalars) for s in known)):
            return None
        state = self._init_state(pflat.shape, pflat.dtype)
        step, scalars = 0, None
        if known:
            step, scalars = known[0].step, dict(known[0].scalars)
            state = {key: np.zeros(pflat.shape, pflat.dtype) for key in known[0].state}
            for name, s in zip(layout.names, known):
                for key, arr in s.state.items():
                    layout.view(state[key], name)[...] = arr
                del self._state[name]
        slot = self._state[_FLAT] = _Slot(pflat.shape, pflat.dtype, state, step, layout, scalars)
        return slot

    def _step_layout(self, pflat: np.ndarray, gflat: np.ndarray, layout: _Layout) -> bool:
        """One step of a flat buffer whose tensors ``layout`` describes (names, offsets, shapes), without
        detecting the tiling: for a composite optimizer that owns a contiguous share of a model's buffer
        (MuonAdamW). False, having done nothing, when the tensors' per-tensor state cannot be merged."""
        slot = self._flat_slot(layout, pflat)
        if slot is None:
            return False
        self._cache = None
        self._t += 1
        slot.step += 1
        with _Quiet():
            self._update(slot, pflat, gflat)
        return True

    def _scatter(self) -> None:
        """Split the flat slot back into per-tensor slots (copies), e.g. when params stop being one buffer."""
        flat = self._state.pop(_FLAT)
        self._cache = None
        for name, shape in zip(flat.layout.names, flat.layout.shapes):
            state = {key: flat.layout.view(arr, name).copy() for key, arr in flat.state.items()}
            self._state[name] = _Slot(shape, flat.dtype, state, flat.step, scalars=dict(flat.scalars))

    def reset(self) -> None:
        """Forget all state (moments, step counts); hyperparameters stay."""
        self._state.clear()
        self._cache = None
        self._t = 0

    def nonfinite_state(self) -> tuple[str, str | None] | None:
        """(state name, tensor name) of the first state entry that is inf or NaN, e.g. ("exp_avg_sq",
        "layer0.mlp_fc1") once Adam's v overflowed (its updates are then 0: the tensor stops learning
        without any other sign), or None if all the state is finite. Tensor None: a bare array.

        Cheap enough for every step: one sum per state array (~2 µs of CPU for microgpt's 4,192 numbers, 56
        for 200,000): a sum of finite numbers is finite unless it overflows, which np.isfinite then rules
        out. (A BLAS dot product with zeros is faster on small arrays, but from ~10,000 numbers OpenBLAS
        wakes a second thread, whose spinning made a 200k-parameter training step 2× slower.) Only a failing
        array is searched for the tensor.
        """
        with _Quiet():
            for key, slot in self._state.items():
                for skey, arr in slot.state.items():
                    flat = arr.reshape(-1)
                    if math.isfinite(np.add.reduce(flat)) or np.isfinite(flat).all():
                        continue
                    i = int(np.flatnonzero(~np.isfinite(flat))[0])
                    if key == _FLAT:
                        lay = slot.layout
                        _, j = max((off, k) for k, off in enumerate(lay.offsets)
                                   if off <= i and math.prod(lay.shapes[k]))
                        return skey, lay.names[j]
                    return skey, None if key == SINGLE else key
        return None

    # -- state access ---------------------------------------------------------------------------------
    def names(self) -> list[str]:
        """Names of the tensors that have state (flat buffers listed tensor by tensor)."""
        out = []
        for key, slot in self._state.items():
            out.extend(slot.layout.names if key == _FLAT else [key])
        return out

    def _find(self, name: str | None) -> tuple[_Slot, Callable[[np.ndarray], np.ndarray]]:
        """(slot, view) for tensor `name`: view maps a slot-sized array to that tensor's part of it."""
        name = SINGLE if name is None else name
        slot = self._state.get(name)
        if slot is not None:
            return slot, lambda a: a
        flat = self._state.get(_FLAT)
        if flat is not None and name in flat.layout.names:
            return flat, lambda a: flat.layout.view(a, name)
        raise KeyError(f"no optimizer state for {name!r} (not stepped yet); known: {self.names()}")

    def state_of(self, name: str | None = None) -> dict[str, Any]:
        """Views (not copies) of tensor `name`'s state arrays, plus its step count under "step"."""
        slot, view = self._find(name)
        out: dict[str, Any] = {key: view(arr) for key, arr in slot.state.items()}
        out["step"] = slot.step
        return out

    def state_dict(self) -> dict[str, Any]:
        """A flat dict of ndarrays/ints/floats/bools/strings (``np.savez(path, **d)`` needs no pickle).

        Slots are keyed by position, ``slot{i}.step``, ``slot{i}.state.exp_avg``, ..., with their tensor
        names in ``slots``: a tensor name is never part of a key, so names with dots ("x" and "x.state.m")
        cannot collide.
        """
        d: dict[str, Any] = {"optimizer": type(self).__name__, "t": self._t,
                             "slots": np.array(list(self._state), dtype=str)}
        for name, value in self._h.items():
            d[f"hyper.{name}"] = _encode_hyper(value)
        d.update(self._extra_state())
        for i, slot in enumerate(self._state.values()):
            d[f"slot{i}.step"] = slot.step
            d[f"slot{i}.shape"] = np.array(slot.shape, dtype=np.int64)
            d[f"slot{i}.dtype"] = slot.dtype.str
            for skey, arr in slot.state.items():
                d[f"slot{i}.state.{skey}"] = arr.copy()
            for skey, value in slot.scalars.items():
                d[f"slot{i}.scalar.{skey}"] = np.array(value, dtype=np.float64)
            if slot.layout is not None:
                lay = slot.layout
                d["flat.names"] = np.array(lay.names, dtype=str)
                d["flat.offsets"] = np.array(lay.offsets, dtype=np.int64)
                d["flat.ndims"] = np.array([len(s) for s in lay.shapes], dtype=np.int64)
                d["flat.dims"] = np.array([n for s in lay.shapes for n in s], dtype=np.int64)
        return d

    def load_state_dict(self, d: dict[str, Any]) -> None:
        """Restore hyperparameters, step counts and state from ``state_dict()`` (or an ``np.load`` of it).

        Atomic: everything is read and checked first, so a rejected dict (ValueError, or KeyError for a
        missing entry) leaves the optimizer as it was. Also reads the older name-keyed layout
        (``slot.{name}.step``), whose keys were ambiguous for names containing dots.
        """
        kind = str(d["optimizer"])
        if kind != type(self).__name__:
            raise ValueError(f"state_dict is for {kind}, not {type(self).__name__}")
        hyper = {}
        for name, current in self._h.items():
            key = f"hyper.{name}"
            if key not in d and name in self._LEGACY:   # written before this hyperparameter existed
                hyper[name] = self._LEGACY[name]
            else:
                hyper[name] = _decode_hyper(d[key], current)
        checked = {name: self._VALIDATORS[name](value) for name, value in hyper.items()}  # raises, changes nothing
        self._check_combination(checked)
        state = {key: self._read_slot(d, i, key) for i, key in enumerate(np.asarray(d["slots"]).tolist())}
        extra = self._read_extra(d)
        t = int(d["t"])
        if t < 0:
            raise ValueError(f"state_dict t must be >= 0, got {t}")
        # commit: nothing below can fail
        self.set_hyperparameters(**hyper)
        self._state = state
        self._t = t
        self._cache = None
        self._apply_extra(extra)

    def _extra_state(self) -> dict[str, Any]:
        """Optimizer-wide state beyond the slots, as state_dict entries (e.g. schedule-free's train/eval mode)."""
        return {}

    def _read_extra(self, d: dict[str, Any]) -> Any:
        """Read and check ``_extra_state``'s entries from a state dict (raise, changing nothing, if bad)."""
        return None

    def _apply_extra(self, extra: Any) -> None:
        """Commit what ``_read_extra`` returned."""

    def _state_shape(self, key: str, shape: tuple[int, ...]) -> tuple[int, ...]:
        """The shape of state array ``key`` for a tensor of ``shape`` (the tensor's own, unless factored)."""
        return shape

    def _read_slot(self, d: dict[str, Any], i: int, key: str) -> _Slot:
        """Slot number ``i`` (tensor ``key``) of a state dict, checked: shapes, dtypes, step, flat layout."""
        prefix = f"slot{i}." if f"slot{i}.step" in d else f"slot.{key}."  # (the older name-keyed layout)
        arrays = {k[len(prefix + "state."):]: np.array(v) for k, v in d.items() if k.startswith(prefix + "state.")}
        scalars = {k[len(prefix + "scalar."):]: _scalar_value(v) for k, v in d.items()
                   if k.startswith(prefix + "scalar.")}
        shape = tuple(np.asarray(d[prefix + "shape"]).tolist())
        dtype = np.dtype(str(d[prefix + "dtype"]))
        for name, a in arrays.items():
            want = self._state_shape(name, shape)
            if a.shape != want or a.dtype != dtype:
                raise ValueError(f"state_dict array {name!r} of {key!r} must have shape {want} and dtype {dtype}, "
                                 f"got {a.shape} {a.dtype}")
        step = int(d[prefix + "step"])
        if step < 0:
            raise ValueError(f"state_dict step of {key!r} must be >= 0, got {step}")
        layout = None
        if key == _FLAT:
            names = tuple(np.asarray(d["flat.names"]).tolist())
            offsets = tuple(np.asarray(d["flat.offsets"]).tolist())
            ndims, dims = np.asarray(d["flat.ndims"]).tolist(), np.asarray(d["flat.dims"]).tolist()
            if not len(names) == len(offsets) == len(ndims) or sum(ndims) != len(dims) or len(shape) != 1:
                raise ValueError("state_dict flat layout is inconsistent (names, offsets and shapes differ in length)")
            shapes, j = [], 0
            for n in ndims:
                shapes.append(tuple(dims[j:j + n]))
                j += n
            cursor = 0  # as _tiling: the non-empty tensors, sorted by offset, cover the buffer exactly
            for off, size in sorted((o, math.prod(s)) for o, s in zip(offsets, shapes)):
                if size and off != cursor:
                    cursor = -1
                    break
                cursor += size
            if cursor != shape[0]:
                raise ValueError(f"state_dict flat layout must tile the buffer of {shape[0]} numbers "
                                 f"with its tensors {list(names)}")
            layout = _Layout(names, offsets, tuple(shapes))
        return _Slot(shape, dtype, arrays, step, layout, scalars)

    # -- subclass hooks -------------------------------------------------------------------------------
    def _init_state(self, shape, dtype) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _update(self, slot: _Slot, p: np.ndarray, g: np.ndarray) -> None:
        raise NotImplementedError

    def _tiny_update(self, slot: _Slot, p: np.ndarray, g: np.ndarray) -> None:
        """``_update`` for a handful of float64 numbers (e.g. one 2D point), with Python floats.

        Why: on a (2,) array each NumPy call costs ~0.5 µs of overhead for two multiplications, and an Adam
        step is 13 of them. Python floats are IEEE binary64 and +, −, ×, ÷ and √ round correctly in both,
        so doing the same operations in the same order per element gives bit-identical results (a test
        steps (2,) and (64,) arrays side by side and compares bits). Subclasses override; the default
        falls back to ``_update``.
        """
        self._quiet_update(slot, p, g)

    def _quiet_update(self, slot: _Slot, p: np.ndarray, g: np.ndarray) -> None:
        """``_update`` without floating-point warnings (see _Quiet): for the tiny path's fallbacks to NumPy."""
        with _Quiet():
            self._update(slot, p, g)


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, dampening, Nesterov and L2 weight decay (torch.optim.SGD).

        g ← −g        (maximize)
        g ← g + wd·θ
        b ← g                        on the first momentum step, then  b ← μ·b + (1 − dampening)·g
        g ← g + μ·b   (Nesterov)     or   g ← b
        θ ← θ − lr·g

    dampening may be any finite number, as in torch (which does not check it): below 0 it weights new
    gradients by more than 1, above 1 it enters them with a negative weight (the buffer turns uphill after
    the first step) -- odd, but well defined, so it is allowed.
    """
    _VALIDATORS = {"lr": _learning_rate, "momentum": _nonneg("momentum"),
                   "dampening": lambda v: _real("dampening", v, -math.inf, lo_open=True),
                   "nesterov": lambda v: _flag("nesterov", v), "weight_decay": _nonneg("weight_decay"),
                   "maximize": lambda v: _flag("maximize", v)}
    momentum = _hyper("momentum", "Momentum μ >= 0 (0 = plain SGD).")
    dampening = _hyper("dampening", "Dampening of the gradient added to the momentum buffer (any finite number; "
                                    "0 in [0, 1] is the usual range).")
    nesterov = _hyper("nesterov", "Nesterov momentum (needs momentum > 0 and dampening 0).")
    weight_decay = _hyper("weight_decay", "L2 penalty added to the gradient, >= 0.")
    maximize = _hyper("maximize", "Ascend: step along +g instead of −g.")

    def __init__(self, lr=1e-3, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0, maximize=False):
        super().__init__(lr=lr, momentum=momentum, dampening=dampening, nesterov=nesterov,
                         weight_decay=weight_decay, maximize=maximize)

    def _check_combination(self, h):
        if h["nesterov"] and (h["momentum"] <= 0 or h["dampening"] != 0):
            raise ValueError("nesterov=True requires momentum in (0, inf) and dampening = 0, got "
                             f"momentum={h['momentum']}, dampening={h['dampening']}")

    def _apply(self):
        h = self._h
        self._lr, self._mu, self._damp, self._nesterov, self._wd, self._maximize = (
            h["lr"], h["momentum"], h["dampening"], h["nesterov"], h["weight_decay"], h["maximize"])

    def _init_state(self, shape, dtype):
        return {}                                   # the momentum buffer is born from the first gradient

    def _constants(self):
        return (1.0 - self._damp, self._mu, self._wd)          # k[0], k[1], k[2]; k[3] = −lr per step

    def _update(self, slot, p, g):
        if slot.version != self._version:
            self._refresh(slot)
        k, tmp = slot.k, slot.tmp
        neg_lr = _k(slot, 3, -self._lr)
        g = _grad(slot, p, g, self._maximize, k[2] if self._wd != 0 else 0.0)
        if self._mu != 0:
            buf = slot.state.get("momentum_buffer")
            if buf is None:                         # torch: buf = clone(grad)
                buf = slot.state["momentum_buffer"] = np.array(g, dtype=slot.dtype)
            else:                                   # torch: buf.mul_(μ).add_(g, alpha=1 − dampening)
                np.multiply(buf, k[1], out=buf)
                np.multiply(g, k[0], out=tmp)
                np.add(buf, tmp, out=buf)
            if self._nesterov:                      # torch: g = g.add(buf, alpha=μ)
                np.multiply(buf, k[1], out=slot.denom)
                np.add(g, slot.denom, out=slot.denom)
                g = slot.denom
            else:
                g = buf
        np.multiply(g, neg_lr, out=tmp)             # torch: param.add_(g, alpha=−lr)
        np.add(p, tmp, out=p)

    def _tiny_update(self, slot, p, g):             # _update, element by element in Python floats
        neg_lr, wd, mu, damp1, nesterov = -self._lr, self._wd, self._mu, 1.0 - self._damp, self._nesterov
        P, G = p.tolist(), g.tolist()
        if self._maximize:
            G = [-x for x in G]
        buf = slot.state.get("momentum_buffer") if mu != 0 else None
        first = mu != 0 and buf is None
        if first:                                   # torch: buf = clone(grad) (after weight decay)
            buf = slot.state["momentum_buffer"] = np.empty(slot.shape, slot.dtype)
        B = buf.tolist() if buf is not None else None
        for i in range(len(P)):
            gi = G[i]
            if wd != 0:
                gi = gi + P[i] * wd
            if mu != 0:
                bi = gi if first else B[i] * mu + gi * damp1
                buf[i] = bi
                gi = gi + bi * mu if nesterov else bi
            p[i] = P[i] + gi * neg_lr

class Adagrad(Optimizer):
    """Adagrad (torch.optim.Adagrad): per-coordinate lr shrinking with the sum of squared gradients.

        g ← −g        (maximize)
        g ← g + wd·θ
        clr = lr / (1 + (t − 1)·lr_decay)
        s ← s + g²                   (s starts at initial_accumulator_value)
        θ ← θ − clr·g / (√s + ε)

    eps = 0 is allowed (torch allows it); a coordinate whose gradients were all 0 then divides 0 by 0: NaN.
    """
    _VALIDATORS = {"lr": _learning_rate, "lr_decay": _nonneg("lr_decay"), "weight_decay": _nonneg("weight_decay"),
                   "initial_accumulator_value": _nonneg("initial_accumulator_value"), "eps": _nonneg("eps"),
                   "maximize": lambda v: _flag("maximize", v)}
    lr_decay = _hyper("lr_decay", "Learning-rate decay >= 0: clr = lr / (1 + (t − 1)·lr_decay).")
    weight_decay = _hyper("weight_decay", "L2 penalty added to the gradient, >= 0.")
    initial_accumulator_value = _hyper("initial_accumulator_value", "Starting value of the sum, >= 0.")
    eps = _hyper("eps", "Added to √sum in the denominator, >= 0.")
    maximize = _hyper("maximize", "Ascend: step along +g instead of −g.")

    def __init__(self, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
                 maximize=False):
        super().__init__(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                         initial_accumulator_value=initial_accumulator_value, eps=eps, maximize=maximize)

    def _apply(self):
        h = self._h
        self._lr, self._lr_decay, self._wd, self._eps, self._maximize = (
            h["lr"], h["lr_decay"], h["weight_decay"], h["eps"], h["maximize"])

    def _init_state(self, shape, dtype):
        return {"sum": np.full(shape, self._h["initial_accumulator_value"], dtype=dtype)}

    def _clr(self, step: int) -> float:
        """The decayed learning rate at (1-based) step `step`."""
        return self._lr / (1 + (step - 1) * self._lr_decay)

    def _denom(self, slot, eps, out):
        """√sum + ε: the per-coordinate divisor."""
        np.sqrt(slot.state["sum"], out=out)
        np.add(out, eps, out=out)
        return out

    def _constants(self):
        return (self._eps, self._wd)                # k[0], k[1]; k[2] = −clr per step

    def _update(self, slot, p, g):
        if slot.version != self._version:
            self._refresh(slot)
        k, s, tmp = slot.k, slot.state["sum"], slot.tmp
        neg_clr = _k(slot, 2, -self._clr(slot.step))
        g = _grad(slot, p, g, self._maximize, k[1] if self._wd != 0 else 0.0)
        np.multiply(g, g, out=tmp)                  # torch: state_sum.addcmul_(g, g, value=1)
        np.add(s, tmp, out=s)
        denom = self._denom(slot, k[0], slot.denom)
        np.multiply(g, neg_clr, out=tmp)            # torch: param.addcdiv_(g, std, value=−clr)
        np.divide(tmp, denom, out=tmp)
        np.add(p, tmp, out=p)

    def _tiny_update(self, slot, p, g):
        if self._eps == 0:                          # x/0 raises for Python floats; NumPy gives inf/NaN as torch
            return self._quiet_update(slot, p, g)
        neg_clr, wd, eps = -self._clr(slot.step), self._wd, self._eps
        s = slot.state["sum"]
        P, G, S = p.tolist(), g.tolist(), s.tolist()
        if self._maximize:
            G = [-x for x in G]
        for i in range(len(P)):
            gi = G[i]
            if wd != 0:
                gi = gi + P[i] * wd
            si = S[i] + gi * gi
            s[i] = si
            p[i] = P[i] + (gi * neg_clr) / ((_sqrt(si) if si >= 0.0 else _NAN) + eps)
    def inspect(self, name: str | None = None) -> dict[str, Any]:
        """Snapshot (copies) for tensor `name`: sum, denom = √sum + ε, clr and effective lr = clr/denom."""
        slot, view = self._find(name)
        denom = self._denom(slot, self._eps, np.empty(slot.shape, slot.dtype))
        clr = self._clr(max(slot.step, 1))
        return {"t": slot.step, "sum": view(slot.state["sum"]).copy(), "denom": view(denom).copy(),
                "clr": clr, "effective_lr": view(clr / denom).copy()}


class RMSprop(Optimizer):
    """RMSprop (torch.optim.RMSprop), optionally centered and with momentum.

        g ← −g        (maximize)
        g ← g + wd·θ
        v ← α·v + (1 − α)·g²
        centered:  ḡ ← lerp(ḡ, g, 1 − α);  denom = √(v − ḡ²) + ε    else  denom = √v + ε
        momentum:  b ← μ·b + g/denom;  θ ← θ − lr·b                  else  θ ← θ − lr·g/denom

    eps = 0 is allowed, as in torch (a coordinate that never saw a gradient then gives 0/0 = NaN). alpha > 1,
    which torch also accepts, is refused: 1 − α < 0 makes the very first v = (1 − α)·g² negative and √v
    NaN -- the average is no longer an average.
    """
    _VALIDATORS = {"lr": _learning_rate, "alpha": _unit("alpha"), "eps": _nonneg("eps"),
                   "weight_decay": _nonneg("weight_decay"), "momentum": _nonneg("momentum"),
                   "centered": lambda v: _flag("centered", v), "maximize": lambda v: _flag("maximize", v)}
    alpha = _hyper("alpha", "Smoothing constant of the squared-gradient average, in [0, 1].")
    eps = _hyper("eps", "Added to the root in the denominator, >= 0.")
    weight_decay = _hyper("weight_decay", "L2 penalty added to the gradient, >= 0.")
    momentum = _hyper("momentum", "Momentum >= 0 applied to the normalised step.")
    centered = _hyper("centered", "Divide by an estimate of the gradient's variance instead of its 2nd moment.")
    maximize = _hyper("maximize", "Ascend: step along +g instead of −g.")

    def __init__(self, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False,
                 maximize=False):
        super().__init__(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                         centered=centered, maximize=maximize)

    def _apply(self):
        h = self._h
        self._lr, self._alpha, self._eps, self._wd, self._mu, self._centered, self._maximize = (
            h["lr"], h["alpha"], h["eps"], h["weight_decay"], h["momentum"], h["centered"], h["maximize"])

    def _init_state(self, shape, dtype):
        return {"square_avg": np.zeros(shape, dtype)}

    def _lazy(self, slot, key):                     # state switched on mid-run starts at zero, as torch's would
        arr = slot.state.get(key)
        if arr is None:
            arr = slot.state[key] = np.zeros(slot.shape, slot.dtype)
        return arr

    def _denom(self, slot, eps, out):
        """√v + ε, or √(v − ḡ²) + ε when centered (clamped at 0 where round-off would make it negative)."""
        v = slot.state["square_avg"]
        if self._centered:
            ga = self._lazy(slot, "grad_avg")
            np.multiply(ga, ga, out=out)            # torch: square_avg.addcmul(ḡ, ḡ, value=−1).sqrt_()
            np.subtract(v, out, out=out)
            np.maximum(out, 0.0, out=out)
            np.sqrt(out, out=out)
        else:
            np.sqrt(v, out=out)
        np.add(out, eps, out=out)
        return out

    def _constants(self):
        a = self._alpha                             # k[0..5]; k[6] = −lr per step
        return (a, 1.0 - a, _lerp_coef(1.0 - a), self._eps, self._mu, self._wd)

    def _update(self, slot, p, g):
        if slot.version != self._version:
            self._refresh(slot)
        k, v, tmp = slot.k, slot.state["square_avg"], slot.tmp
        neg_lr = _k(slot, 6, -self._lr)
        g = _grad(slot, p, g, self._maximize, k[5] if self._wd != 0 else 0.0)
        np.multiply(v, k[0], out=v)                 # torch: square_avg.mul_(α).addcmul_(g, g, value=1 − α)
        np.multiply(g, g, out=tmp)
        np.multiply(tmp, k[1], out=tmp)
        np.add(v, tmp, out=v)
        if self._centered:                          # torch: grad_avg.lerp_(g, 1 − α)
            _lerp_(self._lazy(slot, "grad_avg"), g, 1.0 - self._alpha, tmp, k[2])
        denom = self._denom(slot, k[3], slot.denom)
        if self._mu > 0:
            buf = self._lazy(slot, "momentum_buffer")
            np.multiply(buf, k[4], out=buf)         # torch: buf.mul_(μ).addcdiv_(g, avg)
            np.divide(g, denom, out=tmp)
            np.add(buf, tmp, out=buf)
            np.multiply(buf, neg_lr, out=tmp)       # torch: param.add_(buf, alpha=−lr)
        else:
            np.multiply(g, neg_lr, out=tmp)         # torch: param.addcdiv_(g, avg, value=−lr)
            np.divide(tmp, denom, out=tmp)
        np.add(p, tmp, out=p)

    def _tiny_update(self, slot, p, g):
        if self._eps == 0:                          # x/0 raises for Python floats; NumPy gives inf/NaN as torch
            return self._quiet_update(slot, p, g)
        neg_lr, a, a1, wd, eps, mu = -self._lr, self._alpha, 1.0 - self._alpha, self._wd, self._eps, self._mu
        centered = self._centered
        c, small_w = _lerp_coef(a1), a1 < 0.5
        v = slot.state["square_avg"]
        ga = self._lazy(slot, "grad_avg") if centered else None
        buf = self._lazy(slot, "momentum_buffer") if mu > 0 else None
        P, G, V = p.tolist(), g.tolist(), v.tolist()
        if self._maximize:
            G = [-x for x in G]
        A = ga.tolist() if centered else None
        B = buf.tolist() if mu > 0 else None
        for i in range(len(P)):
            gi = G[i]
            if wd != 0:
                gi = gi + P[i] * wd
            vi = V[i] * a + (gi * gi) * a1
            v[i] = vi
            if centered:                            # grad_avg.lerp_(g, 1 − α); denom = √max(v − ḡ², 0) + ε
                ai = A[i]
                d = (gi - ai) * c
                ai = ai + d if small_w else gi - d
                ga[i] = ai
                x = vi - ai * ai
                x = x if x >= 0.0 or x != x else 0.0
            else:
                x = vi
            denom = (_sqrt(x) if x >= 0.0 else _NAN) + eps
            if mu > 0:
                bi = B[i] * mu + gi / denom
                buf[i] = bi
                p[i] = P[i] + bi * neg_lr
            else:
                p[i] = P[i] + (gi * neg_lr) / denom
    def inspect(self, name: str | None = None) -> dict[str, Any]:
        """Snapshot (copies) for tensor `name`: v (square_avg), denom and effective lr = lr/denom."""
        slot, view = self._find(name)
        if slot.tiny and not self._centered and self._eps > 0 and not self._batched:   # floats, as _tiny_update
            v = slot.state["square_avg"]
            D = [(_sqrt(x) if x >= 0.0 else _NAN) + self._eps for x in v.tolist()]
            return {"t": slot.step, "v": v.copy(), "denom": np.array(D),
                    "effective_lr": np.array([self._lr / d for d in D])}
        denom = self._denom(slot, self._eps, np.empty(slot.shape, slot.dtype))
        out = {"t": slot.step, "v": view(slot.state["square_avg"]).copy(), "denom": view(denom).copy(),
               "effective_lr": view(self._lr / denom).copy()}
        if "grad_avg" in slot.state:
            out["grad_avg"] = view(slot.state["grad_avg"]).copy()
        return out


def _bias_corrections(betas: tuple[float, float], step: int) -> tuple[float, float]:
    """(1 − β1ᵗ, 1 − β2ᵗ): what Adam divides m and v by to undo their zero start (t counts from 1)."""
    return 1.0 - betas[0] ** step, 1.0 - betas[1] ** step


def _adam_denom(v: np.ndarray, bias_correction2_sqrt, eps, out: np.ndarray) -> np.ndarray:
    """denom = √v / √(1 − β2ᵗ) + ε = √v̂ + ε, torch's form (ε outside the root of the *corrected* v).

    bias_correction2_sqrt = √(1 − β2ᵗ) and eps may be floats, 0-d arrays or arrays broadcasting with v.
    """
    np.sqrt(v, out=out)
    np.divide(out, bias_correction2_sqrt, out=out)
    np.add(out, eps, out=out)
    return out


class Adam(Optimizer):
    """Adam (torch.optim.Adam) with L2 weight decay folded into the gradient, and optional AMSGrad.

        g ← −g                                             (maximize)
        g ← g + wd·θ                   or, with decoupled_weight_decay (= AdamW),  θ ← θ·(1 − lr·wd)
        m ← lerp(m, g, 1 − β1)        = β1·m + (1 − β1)·g
        v ← β2·v + (1 − β2)·g²
        AMSGrad: v_max ← max(v_max, v) and v_max replaces v below (the max of the *uncorrected* v)
        denom = √v / √(1 − β2ᵗ) + ε   = √v̂ + ε
        θ ← θ − lr/(1 − β1ᵗ) · m / denom = θ − lr · m̂ / (√v̂ + ε)

    ``inspect(name)`` exposes m, v, m̂, v̂, the normalised step m̂/(√v̂ + ε), the effective per-parameter
    learning rate lr/(√v̂ + ε) and the bias corrections, computed by the same helpers as ``step``.

    eps = 0 is allowed, as in torch: a coordinate whose gradients were all 0 then steps 0/0 = NaN.
    """
    _VALIDATORS = {"lr": _learning_rate, "betas": _betas, "eps": _nonneg("eps"),
                   "weight_decay": _nonneg("weight_decay"), "amsgrad": lambda v: _flag("amsgrad", v),
                   "maximize": lambda v: _flag("maximize", v),
                   "decoupled_weight_decay": lambda v: _flag("decoupled_weight_decay", v)}
    _LEGACY = {"maximize": False, "decoupled_weight_decay": False}
    betas = _hyper("betas", "(β1, β2), each in [0, 1): decay rates of the 1st and 2nd moment averages.")
    eps = _hyper("eps", "Added to √v̂ in the denominator, >= 0.")
    weight_decay = _hyper("weight_decay", "Weight decay >= 0 (L2 in the gradient for Adam, decoupled for AdamW).")
    amsgrad = _hyper("amsgrad", "Use the running max of v (AMSGrad).")
    maximize = _hyper("maximize", "Ascend: step along +g instead of −g.")

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, *,
                 maximize=False, decoupled_weight_decay=False):
        super().__init__(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                         maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)

    def _apply(self):
        h = self._h
        self._lr, self._betas, self._eps, self._wd, self._amsgrad, self._maximize = (
            h["lr"], h["betas"], h["eps"], h["weight_decay"], h["amsgrad"], h["maximize"])
        self._decoupled = h.get("decoupled_weight_decay", True)     # AdamW has no such argument: always

    def _init_state(self, shape, dtype):
        state = {"exp_avg": np.zeros(shape, dtype), "exp_avg_sq": np.zeros(shape, dtype)}
        if self._amsgrad:
            state["max_exp_avg_sq"] = np.zeros(shape, dtype)
        return state

    def _second_moment(self, slot) -> np.ndarray:
        """The v that goes under the root: v itself, or AMSGrad's running max of it."""
        return slot.state["max_exp_avg_sq"] if self._amsgrad else slot.state["exp_avg_sq"]

    def _constants(self):
        b1, b2 = self._betas                        # k[0..4]; k[5] = √(1 − β2ᵗ), k[6] = −lr/(1 − β1ᵗ),
        return (_lerp_coef(1.0 - b1), b2, 1.0 - b2, self._eps, self._wd)   # k[7] = 1 − lr·wd per step

    def _update(self, slot, p, g):
        if slot.version != self._version:           # hyperparameters changed: rewrite the constants
            self._refresh(slot)
        st, k, c, tmp = slot.state, slot.k, slot.coef, slot.tmp
        bc1, bc2 = _bias_corrections(self._betas, slot.step)
        c[5] = bc2 ** 0.5
        step_size = _k(slot, 6, -(self._lr / bc1))
        if self._wd != 0 and self._decoupled:       # AdamW: θ ← θ(1 − lr·wd) before the Adam update
            np.multiply(p, _k(slot, 7, 1.0 - self._lr * self._wd), out=p)
            g = _grad(slot, p, g, self._maximize)
        else:
            g = _grad(slot, p, g, self._maximize, k[4] if self._wd != 0 else 0.0)
        m, v = st["exp_avg"], st["exp_avg_sq"]
        _lerp_(m, g, 1.0 - self._betas[0], tmp, k[0])   # torch: exp_avg.lerp_(g, 1 − β1)
        np.multiply(v, k[1], out=v)                 # torch: exp_avg_sq.mul_(β2).addcmul_(g, g, value=1 − β2)
        np.multiply(g, g, out=tmp)
        np.multiply(tmp, k[2], out=tmp)
        np.add(v, tmp, out=v)
        if self._amsgrad:
            vmax = st.get("max_exp_avg_sq")
            if vmax is None:                        # switched on mid-run: starts at zero like torch's state
                vmax = st["max_exp_avg_sq"] = np.zeros(slot.shape, slot.dtype)
            np.maximum(vmax, v, out=vmax)
            v = vmax
        denom = _adam_denom(v, k[5], k[3], slot.denom)
        np.multiply(m, step_size, out=tmp)          # torch: param.addcdiv_(m, denom, value=−lr/bc1)
        np.divide(tmp, denom, out=tmp)
        np.add(p, tmp, out=p)

    def _tiny_update(self, slot, p, g):
        if self._eps == 0:                          # x/0 raises for Python floats; NumPy gives inf/NaN as torch
            return self._quiet_update(slot, p, g)
        st = slot.state
        b1, b2 = self._betas
        bc1, bc2 = _bias_corrections(self._betas, slot.step)
        bc2_sqrt, step_size = bc2 ** 0.5, -(self._lr / bc1)
        w1, b2c, eps, wd, amsgrad = 1.0 - b1, 1.0 - b2, self._eps, self._wd, self._amsgrad
        c, small_w = _lerp_coef(w1), w1 < 0.5
        decay = 1.0 - self._lr * wd if self._decoupled and wd != 0 else None
        l2 = wd != 0 and decay is None
        m, v = st["exp_avg"], st["exp_avg_sq"]
        if amsgrad:
            vmax = st.get("max_exp_avg_sq")
            if vmax is None:                        # switched on mid-run: starts at zero like torch's state
                vmax = st["max_exp_avg_sq"] = np.zeros(slot.shape, slot.dtype)
            X = vmax.tolist()
        P, G, M, V = p.tolist(), g.tolist(), m.tolist(), v.tolist()
        if self._maximize:
            G = [-x for x in G]
        for i in range(len(P)):
            pi, gi, mi = P[i], G[i], M[i]
            if decay is not None:                   # AdamW: θ ← θ(1 − lr·wd) first
                pi = pi * decay
            elif l2:
                gi = gi + pi * wd
            d = (gi - mi) * c                       # m ← lerp(m, g, 1 − β1)
            mi = mi + d if small_w else gi - d
            vi = V[i] * b2 + (gi * gi) * b2c        # v ← β2·v + (1 − β2)·g²
            m[i] = mi
            v[i] = vi
            if amsgrad:                             # np.maximum: NaN if either is NaN
                xi = X[i]
                vi = _NAN if xi != xi or vi != vi else (xi if xi >= vi else vi)
                vmax[i] = vi
            denom = (_sqrt(vi) if vi >= 0.0 else _NAN) / bc2_sqrt + eps
            p[i] = pi + (mi * step_size) / denom
    def inspect(self, name: str | None = None) -> dict[str, Any]:
        """Snapshot (copies) of Adam's internals for tensor `name` (None: the single array) after its last step.

        Keys: "t" (steps taken by this tensor), "m", "v" (raw EMAs; "v_max" too with AMSGrad), "bias_correction1"
        = 1 − β1ᵗ, "bias_correction2" = 1 − β2ᵗ, "m_hat" = m/(1 − β1ᵗ), "v_hat" = v/(1 − β2ᵗ) (v_max with
        AMSGrad), "denom" = √v̂ + ε (torch's form), "normalized_step" = m̂/(√v̂ + ε) (the update is
        −lr times it), "effective_lr" = lr/(√v̂ + ε) (per-parameter learning rate). Uses the current lr.
        Before any step (t = 0) the corrections are taken as 1, so m̂ = v̂ = 0 and effective_lr = lr/ε.
        AdamW's decoupled decay θ·lr·wd is not part of normalized_step.
        """
        slot, view = self._find(name)
        if slot.step > 0:
            bc1, bc2 = _bias_corrections(self._betas, slot.step)
        else:
            bc1 = bc2 = 1.0
        st = slot.state
        v_used = st.get("max_exp_avg_sq") if self._amsgrad else st["exp_avg_sq"]
        if v_used is None:
            v_used = np.zeros(slot.shape, slot.dtype)
        if slot.tiny and self._eps > 0 and not self._batched:
            # the same values with Python floats (see _tiny_update): a race records this every step
            bc2_sqrt, eps, lr = bc2 ** 0.5, self._eps, self._lr
            M, VU = st["exp_avg"].tolist(), v_used.tolist()
            D = [(_sqrt(x) if x >= 0.0 else _NAN) / bc2_sqrt + eps for x in VU]
            MH = [x / bc1 for x in M]
            out = {"t": slot.step, "bias_correction1": bc1, "bias_correction2": bc2,
                   "m": st["exp_avg"].copy(), "v": st["exp_avg_sq"].copy(), "m_hat": np.array(MH),
                   "v_hat": np.array([x / bc2 for x in VU]), "denom": np.array(D),
                   "normalized_step": np.array([a / b for a, b in zip(MH, D)]),
                   "effective_lr": np.array([lr / b for b in D])}
            if self._amsgrad:
                out["v_max"] = v_used.copy()
            return out
        denom = _adam_denom(v_used, bc2 ** 0.5, self._eps, np.empty(slot.shape, slot.dtype))
        m, v, vu, d = view(st["exp_avg"]), view(st["exp_avg_sq"]), view(v_used), view(denom)
        out = {"t": slot.step, "bias_correction1": bc1, "bias_correction2": bc2,
               "m": m.copy(), "v": v.copy(), "m_hat": m / bc1, "v_hat": vu / bc2, "denom": d.copy(),
               "normalized_step": (m / bc1) / d, "effective_lr": self._lr / d}
        if self._amsgrad:
            out["v_max"] = vu.copy()
        return out


class AdamW(Adam):
    """AdamW (torch.optim.AdamW): Adam with decoupled weight decay θ ← θ·(1 − lr·wd) before the Adam update.

    Like torch.optim.AdamW it has no ``decoupled_weight_decay`` argument: the decay is always decoupled
    (``Adam(decoupled_weight_decay=True)`` is the same update with Adam's weight_decay default of 0).
    """
    _VALIDATORS = {k: v for k, v in Adam._VALIDATORS.items() if k != "decoupled_weight_decay"}
    _LEGACY = {"maximize": False}

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False):
        Optimizer.__init__(self, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                           maximize=maximize)
