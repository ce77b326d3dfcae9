"""NAdam, RAdam, Adamax, Adadelta and Adafactor: torch.optim's formulas, argument names, defaults and order.

Each ``_update`` transcribes torch 2.13's single-tensor CPU path (``_single_tensor_<name>`` in
torch/optim/<name>.py) line by line, so in float64 the parameters track torch's to round-off over hundreds
of steps with a changing lr (tests/core/test_optim_zoo.py runs them side by side with torch). They share
``Optimizer``'s machinery: any array shape, flat buffers, validated hyperparameters, state_dict.

What each changes relative to Adam:
    NAdam      Nesterov momentum: the step mixes this gradient and the momentum, with a warming-up μ_t.
    RAdam      rectified: plain momentum SGD while v is too young to trust, then Adam scaled by r_t.
    Adamax     the second moment is an exponentially weighted infinity norm max(β2·u, |g| + ε).
    Adadelta   no learning-rate scale: the step is RMS(past steps) / RMS(gradients) · g.
    Adafactor  factored second moment (row and column averages for matrices), relative step size,
               update clipping; no first moment.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from adamlab.core.optim.base import (
    _FLAT, Optimizer, _betas, _bias_corrections, _ema_sq_, _flag, _grad, _hyper, _k, _learning_rate, _lerp_,
    _nonneg, _real, _Slot, _unit,
)

__all__ = ["NAdam", "RAdam", "Adamax", "Adadelta", "Adafactor"]


def _flag_of(name):
    return lambda v: _flag(name, v)


def _moments(slot: _Slot, g: np.ndarray, betas: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """torch: exp_avg.lerp_(g, 1 − β1); exp_avg_sq.mul_(β2).addcmul_(g, g, value=1 − β2). Returns (m, v)."""
    b1, b2 = betas
    m, v, tmp = slot.state["exp_avg"], slot.state["exp_avg_sq"], slot.tmp
    _lerp_(m, g, 1.0 - b1, tmp)
    return m, _ema_sq_(v, g, b2, tmp)


def _decay_or_l2(opt, slot: _Slot, p: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Weight decay as torch's NAdam/RAdam do it: θ ← θ(1 − lr·wd) when decoupled, else g + wd·θ."""
    if opt._wd != 0 and opt._decoupled:
        np.multiply(p, _k(slot, 7, 1.0 - opt._lr * opt._wd), out=p)
        return _grad(slot, p, g, opt._maximize)
    return _grad(slot, p, g, opt._maximize, opt._wd)


class NAdam(Optimizer):
    """NAdam (torch.optim.NAdam): Adam with Nesterov momentum and a momentum schedule μ_t.

        g ← −g (maximize);  g ← g + wd·θ, or θ ← θ(1 − lr·wd) with decoupled_weight_decay (NAdamW)
        μ_t = β1·(1 − ½·0.96^(t·ψ)),  μ_{t+1} likewise       (ψ = momentum_decay)
        Π_t = Π_{t−1}·μ_t                                     (state "mu_product", Π_0 = 1)
        m ← lerp(m, g, 1 − β1);  v ← β2·v + (1 − β2)·g²
        denom = √(v / (1 − β2ᵗ)) + ε
        θ ← θ − lr·(1 − μ_t)/(1 − Π_t) · g/denom − lr·μ_{t+1}/(1 − Π_t·μ_{t+1}) · m/denom

    The first term is this step's gradient, the second the momentum looked one step ahead (Nesterov).
    eps = 0 is allowed as in torch (0/0 = NaN where a coordinate never had a gradient).
    """
    _VALIDATORS = {"lr": _learning_rate, "betas": _betas, "eps": _nonneg("eps"),
                   "weight_decay": _nonneg("weight_decay"), "momentum_decay": _nonneg("momentum_decay"),
                   "decoupled_weight_decay": _flag_of("decoupled_weight_decay"), "maximize": _flag_of("maximize")}
    betas = _hyper("betas", "(β1, β2), each in [0, 1).")
    eps = _hyper("eps", "Added to √v̂ in the denominator, >= 0.")
    weight_decay = _hyper("weight_decay", "Weight decay >= 0 (L2 in the gradient, or decoupled).")
    momentum_decay = _hyper("momentum_decay", "ψ >= 0 in μ_t = β1·(1 − ½·0.96^(t·ψ)) (torch default 4e-3).")
    decoupled_weight_decay = _hyper("decoupled_weight_decay", "Shrink θ by (1 − lr·wd) instead of L2 (NAdamW).")
    maximize = _hyper("maximize", "Ascend: step along +g instead of −g.")

    def __init__(self, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, maximize=False):
        super().__init__(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                         decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)

    def _apply(self):
        super()._apply()
        self._psi, self._decoupled = self._h["momentum_decay"], self._h["decoupled_weight_decay"]

    def _init_state(self, shape, dtype):
        return {"exp_avg": np.zeros(shape, dtype), "exp_avg_sq": np.zeros(shape, dtype)}

    def _mus(self, step: int) -> tuple[float, float]:
        """(μ_t, μ_{t+1}): the momentum coefficients of this step and the next (torch's momentum cache)."""
        b1, psi = self._betas[0], self._psi
        return b1 * (1.0 - 0.5 * (0.96 ** (step * psi))), b1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * psi)))

    def _denom(self, v: np.ndarray, step: int, out: np.ndarray) -> np.ndarray:
        """√(v / (1 − β2ᵗ)) + ε, torch's order (divide, root, then add ε)."""
        np.divide(v, 1.0 - self._betas[1] ** step, out=out)
        np.sqrt(out, out=out)
        np.add(out, self._eps, out=out)
        return out

    def _update(self, slot, p, g):
        t = slot.step
        g = _decay_or_l2(self, slot, p, g)
        mu, mu_next = self._mus(t)
        mu_product = slot.scalars["mu_product"] = slot.scalars.get("mu_product", 1.0) * mu
        m, v = _moments(slot, g, self._betas)
        denom = self._denom(v, t, slot.denom)
        tmp, lr = slot.tmp, self._lr
        np.divide(g, denom, out=tmp)                # torch: param.addcdiv_(g, denom, value=−lr(1 − μ)/(1 − Π))
        np.multiply(tmp, -lr * (1.0 - mu) / (1.0 - mu_product), out=tmp)
        np.add(p, tmp, out=p)
        np.divide(m, denom, out=tmp)                # torch: param.addcdiv_(m, denom, value=−lr·μ'/(1 − Π·μ'))
        np.multiply(tmp, (-lr * mu_next) / (1.0 - mu_product * mu_next), out=tmp)
        np.add(p, tmp, out=p)

    def inspect(self, name: str | None = None) -> dict[str, Any]:
        """m, v, mu_product Π_t, this step's μ_t and next μ_{t+1}, denom = √v̂ + ε and the per-coordinate
        effective lr = lr/denom that scales both terms of the step."""
        slot, view = self._find(name)
        t = max(slot.step, 1)
        mu, mu_next = self._mus(t)
        denom = view(self._denom(slot.state["exp_avg_sq"], t, np.empty(slot.shape, slot.dtype)))
        return {"t": slot.step, "m": view(slot.state["exp_avg"]).copy(), "v": view(slot.state["exp_avg_sq"]).copy(),
                "mu": mu, "mu_next": mu_next, "mu_product": slot.scalars.get("mu_product", 1.0),
                "denom": denom.copy(), "effective_lr": self._lr / denom}


class RAdam(Optimizer):
    """RAdam (torch.optim.RAdam): Adam whose adaptive step is switched on only once v can be trusted.

        g ← −g (maximize);  g ← g + wd·θ, or θ ← θ(1 − lr·wd) with decoupled_weight_decay
        m ← lerp(m, g, 1 − β1);  v ← β2·v + (1 − β2)·g²;  m̂ = m/(1 − β1ᵗ)
        ρ∞ = 2/(1 − β2) − 1,  ρ_t = ρ∞ − 2t·β2ᵗ/(1 − β2ᵗ)      (length of the approximated SMA)
        ρ_t > 5:  r_t = √((ρ_t − 4)(ρ_t − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρ_t));  θ ← θ − lr·m̂·√(1 − β2ᵗ)/(√v + ε)·r_t
        else:     θ ← θ − lr·m̂                                  (momentum SGD: no division by a young v)

    With β2 = 0.999 the switch comes at step 6. eps = 0 is allowed as in torch.
    """
    _VALIDATORS = {"lr": _learning_rate, "betas": _betas, "eps": _nonneg("eps"),
                   "weight_decay": _nonneg("weight_decay"),
                   "decoupled_weight_decay": _flag_of("decoupled_weight_decay"), "maximize": _flag_of("maximize")}
    betas = _hyper("betas", "(β1, β2), each in [0, 1).")
    eps = _hyper("eps", "Added to √v in the denominator, >= 0.")
    weight_decay = _hyper("weight_decay", "Weight decay >= 0 (L2 in the gradient, or decoupled).")
    decoupled_weight_decay = _hyper("decoupled_weight_decay", "Shrink θ by (1 − lr·wd) instead of L2.")
    maximize = _hyper("maximize", "Ascend: step along +g instead of −g.")

    def __init__(self, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled_weight_decay=False, *,
                 maximize=False):
        super().__init__(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)

    def _apply(self):
        super()._apply()
        self._decoupled = self._h["decoupled_weight_decay"]

    def _init_state(self, shape, dtype):
        return {"exp_avg": np.zeros(shape, dtype), "exp_avg_sq": np.zeros(shape, dtype)}

    def rectification(self, step: int) -> tuple[float, float | None]:
        """(ρ_t, r_t) at 1-based step t; r_t is None while ρ_t <= 5 (the un-adapted, momentum-SGD steps)."""
        b2 = self._betas[1]
        bc2 = 1 - b2 ** step
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * step * (b2 ** step) / bc2
        if rho_t <= 5.0:
            return rho_t, None
        return rho_t, ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5

    def _adaptive_lr(self, v: np.ndarray, bc2: float, out: np.ndarray) -> np.ndarray:
        """√(1 − β2ᵗ)/(√v + ε), torch's _compute_adaptive_lr."""
        np.sqrt(v, out=out)
        np.add(out, self._eps, out=out)
        np.divide(bc2 ** 0.5, out, out=out)
        return out

    def _update(self, slot, p, g):
        t = slot.step
        g = _decay_or_l2(self, slot, p, g)
        m, v = _moments(slot, g, self._betas)
        bc1, bc2 = _bias_corrections(self._betas, t)
        tmp = slot.tmp
        np.divide(m, bc1, out=tmp)                  # m̂ = exp_avg / bias_correction1
        np.multiply(tmp, self._lr, out=tmp)         # m̂·lr
        _, rect = self.rectification(t)
        if rect is not None:                        # torch: m̂·lr·adaptive_lr·rect, then param.add_(…, alpha=−1)
            np.multiply(tmp, self._adaptive_lr(v, bc2, slot.denom), out=tmp)
            np.multiply(tmp, rect, out=tmp)
        np.subtract(p, tmp, out=p)

    def inspect(self, name: str | None = None) -> dict[str, Any]:
        """m, v, m̂, ρ_t and r_t (None before the switch), normalized_step (the step is −lr times it) and
        effective_lr (per coordinate: lr·r_t·√(1 − β2ᵗ)/(√v + ε) once rectified, lr before)."""
        slot, view = self._find(name)
        t = max(slot.step, 1)
        bc1, bc2 = _bias_corrections(self._betas, t)
        m, v = view(slot.state["exp_avg"]), view(slot.state["exp_avg_sq"])
        rho_t, rect = self.rectification(t)
        m_hat = m / bc1
        if rect is None:
            scale = np.ones_like(m)
        else:
            scale = view(self._adaptive_lr(slot.state["exp_avg_sq"], bc2, np.empty(slot.shape, slot.dtype))) * rect
        return {"t": slot.step, "m": m.copy(), "v": v.copy(), "m_hat": m_hat, "rho_t": rho_t, "rect": rect,
                "normalized_step": m_hat * scale, "effective_lr": self._lr * scale}


class Adamax(Optimizer):
    """Adamax (torch.optim.Adamax): Adam with the infinity norm in place of the root mean square.

        g ← −g (maximize);  g ← g + wd·θ
        m ← lerp(m, g, 1 − β1)
        u ← max(β2·u, |g| + ε)                           (state "exp_inf")
        θ ← θ − lr/(1 − β1ᵗ) · m/u

    u never needs a bias correction: it is a max, not an average started at 0. eps = 0 is allowed as in
    torch (a coordinate with no gradient yet gives 0/0 = NaN).
    """
    _VALIDATORS = {"lr": _learning_rate, "betas": _betas, "eps": _nonneg("eps"),
                   "weight_decay": _nonneg("weight_decay"), "maximize": _flag_of("maximize")}
    betas = _hyper("betas", "(β1, β2), each in [0, 1).")
    eps = _hyper("eps", "Added to |g| inside the max, >= 0.")
    weight_decay = _hyper("weight_decay", "L2 penalty added to the gradient, >= 0.")
    maximize = _hyper("maximize", "Ascend: step along +g instead of −g.")

    def __init__(self, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, *, maximize=False):
        super().__init__(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize)

    def _init_state(self, shape, dtype):
        return {"exp_avg": np.zeros(shape, dtype), "exp_inf": np.zeros(shape, dtype)}

    def _update(self, slot, p, g):
        g = _grad(slot, p, g, self._maximize, self._wd)
        b1, b2 = self._betas
        m, u, tmp = slot.state["exp_avg"], slot.state["exp_inf"], slot.tmp
        _lerp_(m, g, 1.0 - b1, tmp)
        np.multiply(u, b2, out=u)                   # torch: maximum(exp_inf.mul_(β2), |g|.add_(ε))
        np.abs(g, out=tmp)
        np.add(tmp, self._eps, out=tmp)
        np.maximum(u, tmp, out=u)
        clr = self._lr / (1 - b1 ** slot.step)
        np.divide(m, u, out=tmp)                    # torch: param.addcdiv_(m, exp_inf, value=−clr)
        np.multiply(tmp, -clr, out=tmp)
        np.add(p, tmp, out=p)

    def inspect(self, name: str | None = None) -> dict[str, Any]:
        """m, u (exp_inf), m̂ = m/(1 − β1ᵗ), normalized_step m̂/u (the step is −lr times it), effective_lr lr/u."""
        slot, view = self._find(name)
        m, u = view(slot.state["exp_avg"]), view(slot.state["exp_inf"])
        m_hat = m / (1 - self._betas[0] ** max(slot.step, 1))
        return {"t": slot.step, "m": m.copy(), "u": u.copy(), "m_hat": m_hat, "normalized_step": m_hat / u,
                "effective_lr": self._lr / u}


class Adadelta(Optimizer):
    """Adadelta (torch.optim.Adadelta): the step's size comes from past steps, not from a learning rate.

        g ← −g (maximize);  g ← g + wd·θ
        v ← ρ·v + (1 − ρ)·g²                                        (state "square_avg")
        Δ = √(u + ε)/√(v + ε) · g                                   (u: state "acc_delta")
        u ← ρ·u + (1 − ρ)·Δ²
        θ ← θ − lr·Δ                                                (torch's lr, default 1.0, scales Δ)

    eps must be > 0 here although torch accepts 0: with ε = 0 the first Δ is √0/√v · g = 0, u stays 0 and
    the optimizer never moves.
    """
    _VALIDATORS = {"lr": _learning_rate, "rho": _unit("rho"), "eps": lambda v: _real("eps", v, 0.0, lo_open=True),
                   "weight_decay": _nonneg("weight_decay"), "maximize": _flag_of("maximize")}
    rho = _hyper("rho", "Decay of both running averages, in [0, 1].")
    eps = _hyper("eps", "Added under both roots, > 0 (it also sets the size of the first steps).")
    weight_decay = _hyper("weight_decay", "L2 penalty added to the gradient, >= 0.")
    maximize = _hyper("maximize", "Ascend: step along +g instead of −g.")

    def __init__(self, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, *, maximize=False):
        super().__init__(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)

    def _apply(self):
        super()._apply()
        self._rho = self._h["rho"]

    def _init_state(self, shape, dtype):
        return {"square_avg": np.zeros(shape, dtype), "acc_delta": np.zeros(shape, dtype)}

    def _rms(self, a: np.ndarray, out: np.ndarray) -> np.ndarray:
        """√(a + ε)."""
        np.add(a, self._eps, out=out)
        return np.sqrt(out, out=out)

    def _update(self, slot, p, g):
        g = _grad(slot, p, g, self._maximize, self._wd)
        rho = self._rho
        v, u, tmp, delta = slot.state["square_avg"], slot.state["acc_delta"], slot.tmp, slot.denom
        _ema_sq_(v, g, rho, tmp)                    # torch: square_avg.mul_(ρ).addcmul_(g, g, value=1 − ρ)
        std = self._rms(v, tmp)
        self._rms(u, delta)                         # torch: delta = acc_delta.add(ε).sqrt_().div_(std).mul_(g)
        np.divide(delta, std, out=delta)
        np.multiply(delta, g, out=delta)
        _ema_sq_(u, delta, rho, tmp)                # torch: acc_delta.mul_(ρ).addcmul_(Δ, Δ, value=1 − ρ)
        np.multiply(delta, -self._lr, out=tmp)      # torch: param.add_(Δ, alpha=−lr)
        np.add(p, tmp, out=p)

    def inspect(self, name: str | None = None) -> dict[str, Any]:
        """v (square_avg), u (acc_delta) and effective_lr = lr·√(u + ε)/√(v + ε), the factor the next
        gradient would be multiplied by if it left v unchanged."""
        slot, view = self._find(name)
        v, u = view(slot.state["square_avg"]), view(slot.state["acc_delta"])
        ratio = np.sqrt(u + self._eps) / np.sqrt(v + self._eps)
        return {"t": slot.step, "v": v.copy(), "u": u.copy(), "effective_lr": self._lr * ratio}


def _rms(a: np.ndarray) -> float:
    """‖a‖₂/√n (torch: a.norm(2).item() / a.numel() ** 0.5)."""
    flat = a.ravel()
    return math.sqrt(float(np.dot(flat, flat))) / (a.size ** 0.5)


_MACHINE_EPS = {np.dtype(np.float64): float(np.finfo(np.float64).eps),
                np.dtype(np.float32): float(np.finfo(np.float32).eps)}


def _machine_eps(dtype) -> float:
    """torch.finfo(param.dtype).eps: Adafactor's eps1 when it is None."""
    eps = _MACHINE_EPS.get(dtype)
    return eps if eps is not None else float(np.finfo(dtype).eps)


def _eps_pair(value: Any) -> tuple[float | None, float]:
    """Adafactor's (eps1, eps2): eps1 None (the dtype's machine epsilon) or >= 0, eps2 >= 0."""
    try:
        e1, e2 = value
    except (TypeError, ValueError):
        raise ValueError(f"eps must be a pair (eps1, eps2) with eps1 None or >= 0 and eps2 >= 0, got {value!r}") \
            from None
    return (None if e1 is None else _real("eps[0]", e1, 0.0), _real("eps[1]", e2, 0.0))


class Adafactor(Optimizer):
    """Adafactor (torch.optim.Adafactor, torch 2.13): a factored second moment and a relative step size.

        G ← −g (maximize);   β̂2_t = 1 − t^τ  (τ = beta2_decay ≤ 0: the average's memory grows with t)
        ρ_t = min(lr, 1/√t);   α_t = max(ε2, RMS(θ))·ρ_t          (a step relative to the weights' size)
        θ ← θ(1 − lr·wd)
        matrices (and the last two dims of >2-D tensors):
            R ← lerp(R, mean of G² over each row, t^τ);  C ← lerp(C, mean of G² over each column, t^τ)
            V̂ = R·C / max(mean(R), ε1)                   (rank-1: R + C numbers instead of R·C)
        vectors:  V̂ ← lerp(V̂, G², t^τ)
        U = G/√max(V̂, ε1²);   Û = U / max(1, RMS(U)/d);   θ ← θ − α_t·Û

    No first moment. eps1 None means the machine epsilon of the parameters' dtype, as in torch. Each tensor
    is its own matrix, so Adafactor steps tensor by tensor (a flat buffer is not merged into one slot) and
    a (K, 2) stack of points is one K×2 matrix, not K points (``ROWS_INDEPENDENT = False``); a single (2,)
    point is a vector (unfactored).
    """
    ROWS_INDEPENDENT = False
    _VALIDATORS = {"lr": _learning_rate, "beta2_decay": lambda v: _real("beta2_decay", v, -math.inf, 0.0,
                                                                        hi_open=False),
                   "eps": _eps_pair, "d": lambda v: _real("d", v, 1.0), "weight_decay": _nonneg("weight_decay"),
                   "maximize": _flag_of("maximize")}
    beta2_decay = _hyper("beta2_decay", "τ <= 0: β̂2_t = 1 − t^τ (torch default −0.8).")
    eps = _hyper("eps", "(eps1, eps2): eps1 floors V̂ (None: machine epsilon), eps2 floors RMS(θ).")
    d = _hyper("d", "Update clipping threshold >= 1 on RMS(U).")
    weight_decay = _hyper("weight_decay", "Decoupled weight decay >= 0: θ ← θ(1 − lr·wd).")
    maximize = _hyper("maximize", "Ascend: step along +g instead of −g.")

    def __init__(self, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *, maximize=False):
        self._last: dict[int, tuple] = {}           # id(slot) -> (α_t, clip) of its last step, for inspect
        super().__init__(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay,
                         maximize=maximize)

    def reset(self):
        super().reset()
        self._last.clear()

    def load_state_dict(self, d):
        super().load_state_dict(d)
        self._last.clear()

    def _apply(self):
        h = self._h
        self._lr, self._tau, (self._eps1, self._eps2), self._d, self._wd, self._maximize = (
            h["lr"], h["beta2_decay"], h["eps"], h["d"], h["weight_decay"], h["maximize"])

    # -- per-matrix state: never one flat slot -------------------------------------------------------------
    def _flat_slot(self, layout, pflat):
        return None                                 # each tensor is factored on its own shape

    def _state_shape(self, key, shape):
        if key == "row_var":
            return (*shape[:-1], 1)
        if key == "col_var":
            return (*shape[:-2], 1, shape[-1])
        return shape

    def _read_slot(self, d, i, key):
        if key == _FLAT:
            raise ValueError("state_dict has a flat-buffer slot, which Adafactor never keeps (it factors each "
                             "tensor on its own shape)")
        return super()._read_slot(d, i, key)

    def _init_state(self, shape, dtype):
        if len(shape) > 1:
            return {"row_var": np.zeros(self._state_shape("row_var", shape), dtype),
                    "col_var": np.zeros(self._state_shape("col_var", shape), dtype)}
        return {"variance": np.zeros(shape, dtype)}

    def _relative_step(self, step: int):
        """ρ_t = min(lr, 1/√t) (an array when lr is one)."""
        cap = 1 / (step ** 0.5)
        return np.minimum(self._lr, cap) if self._batched else min(self._lr, cap)

    def _variance(self, slot: _Slot, eps1: float) -> np.ndarray:
        """V̂: R·C / max(mean(R), ε1) for a matrix (a new array), the running average itself for a vector."""
        st = slot.state
        if "variance" in st:
            return st["variance"]
        row, col = st["row_var"], st["col_var"]
        est = np.multiply(row, col)                 # (…, R, 1)·(…, 1, C) -> (…, R, C), the outer product
        row_mean = row.sum(axis=-2, keepdims=True) / row.shape[-2]
        np.divide(est, np.maximum(row_mean, eps1), out=est)
        return est

    def _update(self, slot, p, g):
        if self._maximize:
            g = np.negative(g, out=slot.gbuf)
        t = slot.step
        eps1 = _machine_eps(slot.dtype) if self._eps1 is None else self._eps1
        w = t ** self._tau                          # 1 − β̂2_t
        alpha = max(self._eps2, _rms(p)) * self._relative_step(t)
        if self._wd != 0:
            np.multiply(p, 1 - self._lr * self._wd, out=p)
        st, tmp = slot.state, slot.tmp
        if p.ndim > 1:                              # torch: norm(g, dim).square_().div_(n): the mean of g²
            g2 = np.multiply(g, g, out=tmp)
            row_mean = g2.sum(axis=-1, keepdims=True) / g.shape[-1]
            _lerp_(st["row_var"], row_mean, w, np.empty_like(row_mean))
            col_mean = g2.sum(axis=-2, keepdims=True) / g.shape[-2]
            _lerp_(st["col_var"], col_mean, w, np.empty_like(col_mean))
            est = self._variance(slot, eps1)
        else:
            np.multiply(g, g, out=tmp)
            _lerp_(st["variance"], tmp, w, slot.denom)
            est = slot.denom
            np.copyto(est, st["variance"])          # torch: var_estimate = variance.clone()
        np.maximum(est, eps1 * eps1, out=est)       # torch: var_estimate.clamp_(min=ε1²).rsqrt_().mul_(g)
        np.sqrt(est, out=est)
        np.divide(1.0, est, out=est)
        np.multiply(est, g, out=est)
        clip = max(1.0, _rms(est) / self._d)
        self._last[id(slot)] = (alpha, clip)
        np.multiply(est, -alpha / clip, out=est)    # torch: param.add_(update, alpha=−α/clip)
        np.add(p, est, out=p)

    def inspect(self, name: str | None = None) -> dict[str, Any]:
        """The factors (row_var, col_var) or variance, V̂, and from the last step α_t, the clipping
        divisor max(1, RMS(U)/d) and effective_lr = α_t/clip/√max(V̂, ε1²), the factor that multiplied g
        (NaN when the state was loaded, not stepped, since: they need the parameters and gradient)."""
        slot, _ = self._find(name)
        eps1 = _machine_eps(slot.dtype) if self._eps1 is None else self._eps1
        est = np.array(self._variance(slot, eps1))
        alpha, clip = self._last.get(id(slot), (math.nan, math.nan))
        out: dict[str, Any] = {"t": slot.step, "v_hat": est, "alpha": alpha, "clip": clip,
                               "effective_lr": alpha / clip / np.sqrt(np.maximum(est, eps1 * eps1))}
        out.update({key: arr.copy() for key, arr in slot.state.items()})
        return out
