"""Exponential moving averages, their bias correction, and Adam's moment traces over a gradient sequence.

The one implementation behind the EMA playground, the Adam stepper and the monitor's curve smoothing::

    m_t = β·m_{t−1} + (1 − β)·x_t,   m_0 = 0,   t = 1, 2, ...      ema(x, β)
    m̂_t = m_t / (1 − βᵗ)                                           ema(x, β, debias=True)

The zero start pulls early values towards 0; dividing by 1 − βᵗ (the total weight the average has put on
the data so far) undoes that exactly: a constant sequence c gives m̂_t = c from the first step.

Speed: a Python loop over 10,000 floats takes milliseconds, so the recursion is evaluated as a parallel
prefix scan (Hillis-Steele): after the pass with shift d, y_t holds Σ_{j<2d} βʲ·u_{t−j}, so ⌈log2 T⌉
vectorised passes give the whole sequence. Every pass only adds terms with positive weights βᵈ <= 1, so
nothing overflows and round-off stays at the level of the plain recursion (tests compare the two to
~1e-12 for β up to 0.9999) -- unlike the closed form β^t·cumsum(β^−j·x_j), which overflows or loses
digits once β^−T gets large.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from adamlab.core.optim import _adam_denom, _bias_corrections, _real

__all__ = ["ema", "debiased_ema", "smooth", "bias_correction", "effective_memory", "adam_moments", "AdamTraces"]


def _beta(name: str, beta) -> float:
    """beta as a float in [0, 1), else ValueError naming it (optim's validator: one set of rules)."""
    return _real(name, beta, 0.0, 1.0)


def _sequence(x) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 0:
        raise ValueError(f"x must be a sequence (1-D, or (T, ...) with time along axis 0), got a scalar {x!r}")
    return a


def _steps(t) -> np.ndarray:
    a = np.asarray(t)
    if not (np.issubdtype(a.dtype, np.integer) or np.issubdtype(a.dtype, np.floating)) \
            or np.any(~np.isfinite(a)) or np.any(a < 1):
        raise ValueError(f"t must be in [1, inf) (steps count from 1), got {t!r}")
    return a.astype(np.float64)


def bias_correction(beta: float, t):
    """1/(1 − βᵗ): the factor m̂_t/m_t that undoes the zero start (t counts from 1; scalar or array)."""
    b, a = _beta("beta", beta), _steps(t)
    out = 1.0 / (1.0 - b ** a)
    return float(out) if np.ndim(t) == 0 else out


def effective_memory(beta: float) -> float:
    """1/(1 − β): roughly how many recent steps the average remembers (the sum of its weights)."""
    return 1.0 / (1.0 - _beta("beta", beta))


def _scan(u: np.ndarray, beta: float) -> np.ndarray:
    """y_t = β·y_{t−1} + u_t with y_{−1} = 0, along axis 0, in place on u (which is returned)."""
    n, d, bd = len(u), 1, beta
    while d < n and bd > 0.0:          # βᵈ underflowing to 0 means nothing older can contribute
        u[d:] += bd * u[:-d]           # the right side is evaluated (into a temporary) before the add
        d, bd = 2 * d, bd * bd
    return u


def ema(x, beta: float, debias: bool = False) -> np.ndarray:
    """EMA of the sequence x (time along axis 0): m_t = β·m_{t−1} + (1 − β)·x_t from m_0 = 0.

    With ``debias=True`` returns m_t/(1 − βᵗ) (t from 1). Returns a new float64 array shaped like x.
    """
    b = _beta("beta", beta)
    with np.errstate(over="ignore", invalid="ignore"):      # inf/nan in x propagate as in the recursion
        m = _scan(_sequence(x) * (1.0 - b), b)
        if debias and len(m):
            t = np.arange(1, len(m) + 1, dtype=np.float64).reshape((-1,) + (1,) * (m.ndim - 1))
            m /= 1.0 - b ** t
    return m


def debiased_ema(x, beta: float) -> np.ndarray:
    """m_t/(1 − βᵗ): the bias-corrected EMA (what Adam calls m̂)."""
    return ema(x, beta, debias=True)


def smooth(values, weight: float) -> np.ndarray:
    """TensorBoard's curve smoothing: a debiased EMA with β = weight over the finite values.

    Non-finite points (a diverged loss) are passed through unchanged and do not enter the average, as in
    TensorBoard. weight = 0 returns the values unchanged.
    """
    y = np.array(values, dtype=np.float64)
    if y.ndim != 1:
        raise ValueError(f"values must be 1-D, got shape {y.shape}")
    finite = np.isfinite(y)
    y[finite] = ema(y[finite], _beta("weight", weight), debias=True)
    return y


@dataclass(frozen=True)
class AdamTraces:
    """Adam's internals at every step t = 1..T for a gradient sequence g (arrays shaped like g)."""
    t: np.ndarray                  # (T,) 1, 2, ..., T
    g: np.ndarray                  # the gradients
    m: np.ndarray                  # β1-EMA of g
    v: np.ndarray                  # β2-EMA of g²
    m_hat: np.ndarray              # m/(1 − β1ᵗ)
    v_hat: np.ndarray              # v/(1 − β2ᵗ)
    ratio: np.ndarray              # m̂/(√v̂ + ε), torch's form: the normalised step
    step: np.ndarray               # −lr·ratio: the change Adam makes to the parameter
    bias_correction1: np.ndarray   # (T,) 1 − β1ᵗ
    bias_correction2: np.ndarray   # (T,) 1 − β2ᵗ
    effective_lr: np.ndarray       # lr/(√v̂ + ε)


def adam_moments(g, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8, lr: float = 1e-3) -> AdamTraces:
    """Adam's moment traces for a gradient sequence g ((T,) or (T, ...), time along axis 0).

    These are exactly what ``optim.Adam`` computes step by step for a parameter receiving those gradients
    (no weight decay, no AMSGrad): the denominator √v/√(1 − β2ᵗ) + ε comes from the same helper.
    """
    b1, b2 = _beta("beta1", beta1), _beta("beta2", beta2)
    if not (isinstance(eps, (int, float, np.integer, np.floating)) and math.isfinite(eps) and eps > 0):
        raise ValueError(f"eps must be in (0, inf), got {eps!r}")
    if not (isinstance(lr, (int, float, np.integer, np.floating)) and math.isfinite(lr) and lr >= 0):
        raise ValueError(f"lr must be in [0, inf), got {lr!r}")
    g = _sequence(g)
    t = np.arange(1, len(g) + 1, dtype=np.float64)
    bc1, bc2 = _bias_corrections((b1, b2), t)                       # (T,) each
    col = (-1,) + (1,) * (g.ndim - 1)                                # broadcast over trailing dims
    with np.errstate(over="ignore", invalid="ignore"):
        m, v = ema(g, b1), ema(g * g, b2)
        denom = _adam_denom(v, np.sqrt(bc2).reshape(col), eps, np.empty_like(v))
        m_hat = m / bc1.reshape(col)
        ratio = m_hat / denom
    return AdamTraces(t=t, g=g, m=m, v=v, m_hat=m_hat, v_hat=v / bc2.reshape(col), ratio=ratio,
                      step=-lr * ratio, bias_correction1=bc1, bias_correction2=bc2, effective_lr=lr / denom)
