"""Lion, AdEMAMix, schedule-free AdamW and ADOPT: optimizers that are not in torch.optim.

Each follows its paper's update rule and the order of operations of the authors' reference PyTorch code
(written here from those descriptions, not copied):
    Lion               Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms" (google/automl lion)
    AdEMAMix           Pagliardini et al. 2024, "The AdEMAMix Optimizer" (apple/ml-ademamix)
    ScheduleFreeAdamW  Defazio et al. 2024, "The Road Less Scheduled" (facebookresearch/schedule_free,
                       the reference AdamWScheduleFreeReference: explicit y, z, x sequences)
    ADOPT              Taniguchi et al. 2024, "ADOPT: Modified Adam Can Converge with Any β2 with the Optimal
                       Rate" (iShohei220/adopt, the clipped version of Nov 2024)
Each also takes ``maximize`` (the gradient is negated first), like every optimizer here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from adamlab.core.optim.adaptive import _flag_of
from adamlab.core.optim.base import (
    SINGLE, Optimizer, _betas, _betas3, _ema_sq_, _grad, _hyper, _integer, _learning_rate, _lerp_, _nonneg,
    _optional,
)

__all__ = ["Lion", "AdEMAMix", "ScheduleFreeAdamW", "ADOPT"]


# ----------------------------------------------------------------------------------------------------------
# Lion

class Lion(Optimizer):
    """Lion (EvoLved Sign Momentum): every coordinate moves by exactly ±lr, the sign of a momentum mix.

        g ← −g (maximize)
        θ ← θ(1 − lr·wd)                       (decoupled weight decay, first)
        c = β1·m + (1 − β1)·g                  (interpolate the momentum and this gradient)
        θ ← θ − lr·sign(c)                     (sign(0) = 0)
        m ← β2·m + (1 − β2)·g                  (the momentum itself uses the slower β2)

    One state array (Adam keeps two). Because |sign| = 1 the step ignores the gradient's size entirely:
    the paper's advice is an lr 3–10× smaller than AdamW's and a weight decay 3–10× larger.
    """
    _VALIDATORS = {"lr": _learning_rate, "betas": _betas, "weight_decay": _nonneg("weight_decay"),
                   "maximize": _flag_of("maximize")}
    betas = _hyper("betas", "(β1 for the interpolation, β2 for the momentum), each in [0, 1).")
    weight_decay = _hyper("weight_decay", "Decoupled weight decay >= 0: θ ← θ(1 − lr·wd).")
    maximize = _hyper("maximize", "Ascend: step along +g instead of −g.")

    def __init__(self, lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0, *, maximize=False):
        super().__init__(lr=lr, betas=betas, weight_decay=weight_decay, maximize=maximize)

    def _init_state(self, shape, dtype):
        return {"exp_avg": np.zeros(shape, dtype)}

    def _update(self, slot, p, g):
        g = _grad(slot, p, g, self._maximize)
        b1, b2 = self._betas
        m, c, tmp = slot.state["exp_avg"], slot.denom, slot.tmp
        if self._wd != 0:                           # reference: p.data.mul_(1 − lr·wd)
            np.multiply(p, 1 - self._lr * self._wd, out=p)
        np.multiply(m, b1, out=c)                   # reference: update = exp_avg·β1 + grad·(1 − β1)
        np.multiply(g, 1 - b1, out=tmp)
        np.add(c, tmp, out=c)
        np.sign(c, out=c)
        np.multiply(c, -self._lr, out=c)            # reference: p.add_(update.sign_(), alpha=−lr)
        np.add(p, c, out=p)
        np.multiply(m, b2, out=m)                   # reference: exp_avg.mul_(β2).add_(grad, alpha=1 − β2)
        np.multiply(g, 1 - b2, out=tmp)
        np.add(m, tmp, out=m)

    def _tiny_update(self, slot, p, g):             # _update in Python floats, for a 2-D point
        neg_lr, wd, (b1, b2) = -self._lr, self._wd, self._betas
        decay, b1c, b2c = 1 - self._lr * wd, 1 - b1, 1 - b2
        m = slot.state["exp_avg"]
        P, G, M = p.tolist(), g.tolist(), m.tolist()
        if self._maximize:
            G = [-x for x in G]
        for i in range(len(P)):
            pi, gi, mi = P[i], G[i], M[i]
            if wd != 0:
                pi = pi * decay
            c = mi * b1 + gi * b1c
            s = 1.0 if c > 0 else (-1.0 if c < 0 else (c if c != c else 0.0))  # np.sign: ±1, +0 for ±0, NaN
            p[i] = pi + s * neg_lr
            m[i] = mi * b2 + gi * b2c

    def inspect(self, name: str | None = None) -> dict[str, Any]:
        """The momentum m, the sign of m (the direction the next step leans to before seeing g) and
        effective_lr = lr on every coordinate: whatever the gradient, each one moves by exactly lr (or 0)."""
        slot, view = self._find(name)
        m = view(slot.state["exp_avg"]).copy()
        return {"t": slot.step, "m": m, "sign_m": np.sign(m), "effective_lr": np.full(m.shape, self._lr)}


# ----------------------------------------------------------------------------------------------------------
# AdEMAMix

def alpha_warmup(step: int, alpha: float, warmup: int | None) -> float:
    """The reference's linear_warmup_scheduler from 0: α·t/T for t < T, then α (T None or 0: no warm-up)."""
    if warmup is not None and step < warmup:
        a = step / float(warmup)
        return (1.0 - a) * 0.0 + a * alpha
    return alpha


def beta3_warmup(step: int, beta3: float, beta1: float, warmup: int | None) -> float:
    """The reference's linear_hl_warmup_scheduler: β3 grows from β1 so that its half-life (in steps)
    grows linearly, reaching β3 at step T (T None or 0: no warm-up)."""
    def half_life(beta, eps=1e-8):                  # steps for beta**t to reach 1/2, minus one
        return math.log(0.5) / math.log(beta + eps) - 1

    if warmup is not None and step < warmup:
        a = step / float(warmup)
        return math.pow(0.5, 1 / ((1.0 - a) * half_life(beta1) + a * half_life(beta3) + 1))
    return beta3


class AdEMAMix(Optimizer):
    """AdEMAMix: Adam plus a second, much slower momentum, mixed in with weight α.

        g ← −g (maximize);  t counts from 1
        α_t = α·min(1, t/T_α);  β3_t: half-life grows linearly from β1's to β3's over T_β3 steps
        m1 ← β1·m1 + (1 − β1)·g          (fast EMA, bias corrected)
        m2 ← β3_t·m2 + (1 − β3_t)·g      (slow EMA, β3 ≈ 0.9999: ~10,000 steps of memory, not corrected)
        v  ← β2·v + (1 − β2)·g²
        u = (m1/(1 − β1ᵗ) + α_t·m2) / (√v/√(1 − β2ᵗ) + ε) + wd·θ
        θ ← θ − lr·u

    The slow EMA keeps using gradients thousands of steps old, which a single β1 cannot do without
    becoming sluggish; the warm-ups (the paper uses T_α = T_β3 = the run's length) stop the huge early
    m2 from throwing the weights off. Defaults are the reference code's.
    """
    _VALIDATORS = {"lr": _learning_rate, "betas": _betas3, "alpha": _nonneg("alpha"),
                   "beta3_warmup": _optional(_integer("beta3_warmup", 0)),
                   "alpha_warmup": _optional(_integer("alpha_warmup", 0)),
                   "eps": _nonneg("eps"), "weight_decay": _nonneg("weight_decay"), "maximize": _flag_of("maximize")}
    betas = _hyper("betas", "(β1, β2, β3), each in [0, 1): fast EMA, second moment, slow EMA.")
    alpha = _hyper("alpha", "Weight α >= 0 of the slow EMA in the step.")
    beta3_warmup = _hyper("beta3_warmup", "Steps over which β3 warms up from β1 (None: none).")
    alpha_warmup = _hyper("alpha_warmup", "Steps over which α warms up from 0 (None: none).")
    eps = _hyper("eps", "Added to √v̂ in the denominator, >= 0.")
    weight_decay = _hyper("weight_decay", "Decoupled weight decay >= 0, added to the update as wd·θ.")
    maximize = _hyper("maximize", "Ascend: step along +g instead of −g.")

    def __init__(self, lr=1e-3, betas=(0.9, 0.999, 0.9999), alpha=2.0, beta3_warmup=None, alpha_warmup=None,
                 eps=1e-8, weight_decay=0.0, *, maximize=False):
        super().__init__(lr=lr, betas=betas, alpha=alpha, beta3_warmup=beta3_warmup, alpha_warmup=alpha_warmup,
                         eps=eps, weight_decay=weight_decay, maximize=maximize)

    def _init_state(self, shape, dtype):
        return {"exp_avg_fast": np.zeros(shape, dtype), "exp_avg_slow": np.zeros(shape, dtype),
                "exp_avg_sq": np.zeros(shape, dtype)}

    def schedules(self, step: int) -> tuple[float, float]:
        """(α_t, β3_t) at 1-based step t."""
        h, (b1, _, b3) = self._h, self._betas
        return alpha_warmup(step, h["alpha"], h["alpha_warmup"]), beta3_warmup(step, b3, b1, h["beta3_warmup"])

    def _denom(self, v, step, out):
        """√v/√(1 − β2ᵗ) + ε (the reference's order)."""
        np.sqrt(v, out=out)
        np.divide(out, math.sqrt(1 - self._betas[1] ** step), out=out)
        np.add(out, self._eps, out=out)
        return out

    def _direction(self, slot, step, out):
        """(m1/(1 − β1ᵗ) + α_t·m2) / denom into out (uses slot.denom)."""
        st = slot.state
        alpha, _ = self.schedules(step)
        np.divide(st["exp_avg_fast"], 1 - self._betas[0] ** step, out=out)
        np.add(out, alpha * st["exp_avg_slow"], out=out)
        np.divide(out, self._denom(st["exp_avg_sq"], step, slot.denom), out=out)
        return out

    def _update(self, slot, p, g):
        g = _grad(slot, p, g, self._maximize)
        t, (b1, b2, _) = slot.step, self._betas
        _, b3 = self.schedules(t)
        st, tmp = slot.state, slot.tmp
        for key, beta in (("exp_avg_fast", b1), ("exp_avg_slow", b3)):   # m.mul_(β).add_(g, alpha=1 − β)
            m = st[key]
            np.multiply(m, beta, out=m)
            np.multiply(g, 1 - beta, out=tmp)
            np.add(m, tmp, out=m)
        _ema_sq_(st["exp_avg_sq"], g, b2, tmp)      # v.mul_(β2).addcmul_(g, g, value=1 − β2)
        u = self._direction(slot, t, tmp)
        if self._wd != 0:                           # update.add_(p, alpha=λ)
            np.add(u, self._wd * p, out=u)
        np.multiply(u, -self._lr, out=u)            # p.add_(−lr·update)
        np.add(p, u, out=p)

    def inspect(self, name: str | None = None) -> dict[str, Any]:
        """m1 (fast), m2 (slow), v, α_t and β3_t of the last step, m̂ = m1/(1 − β1ᵗ), denom = √v̂ + ε,
        normalized_step = (m̂ + α_t·m2)/denom (the step is −lr times it, plus decay) and effective_lr lr/denom."""
        slot, view = self._find(name)
        t = max(slot.step, 1)
        st = slot.state
        alpha, b3 = self.schedules(t)
        direction = view(self._direction(slot, t, np.empty(slot.shape, slot.dtype)))
        denom = view(self._denom(st["exp_avg_sq"], t, np.empty(slot.shape, slot.dtype)))
        m1 = view(st["exp_avg_fast"])
        return {"t": slot.step, "m": m1.copy(), "m_slow": view(st["exp_avg_slow"]).copy(),
                "v": view(st["exp_avg_sq"]).copy(), "alpha": alpha, "beta3": b3,
                "m_hat": m1 / (1 - self._betas[0] ** t), "denom": denom, "normalized_step": direction,
                "effective_lr": self._lr / denom}


# ----------------------------------------------------------------------------------------------------------
# schedule-free AdamW

def _ratio(a, b):
    """a/b, and 0 where b == 0 (the reference catches ZeroDivisionError: a weight of 0 at lr 0)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.broadcast_arrays(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
        return np.divide(a, b, out=np.zeros(a.shape), where=b != 0)
    return a / b if b != 0 else 0.0


class ScheduleFreeAdamW(Optimizer):
    """Schedule-free AdamW: no lr schedule to choose; the evaluation point is an average of the iterates.

    Three sequences: z (plain AdamW-like steps, no momentum), x (a weighted running average of z), and y,
    where the gradient is taken, between them:

        g ← −g (maximize), taken at y (the parameters hold y while training)
        k = steps so far;  warm-up s = (k+1)/T if k < T else 1;  lr_t = lr·s·√(1 − β2^(k+1))
        lr_max = max(lr_max, lr_t);  w = (k+1)^r·lr_max^p;  W ← W + w;  c = w/W     (p = weight_lr_power)
        z ← z − lr_t·wd·y                                   (weight decay, computed at y)
        v ← β2·v + (1 − β2)·g²
        z ← z − lr_t·g/(√v + ε)
        x ← (1 − c)·x + c·z                                  (c = 1/(k+1) without warm-up: the mean of z)
        y ← β1·x + (1 − β1)·z                                (β1 interpolates, it is not a momentum EMA)

    The train/eval switch the method needs: the model should be *evaluated* at x, but trained at y.
    ``eval(params)`` writes x into the parameters and ``train(params)`` puts y back (recomputed from x and z
    by the same arithmetic as the step, so bit for bit the same y unless betas changed in between);
    ``step`` refuses to run in eval mode, as the reference does. ``training`` says which mode it is in;
    the mode is part of the state_dict. adamlab's Trainer calls eval/train around validation and sampling.
    """
    _VALIDATORS = {"lr": _learning_rate, "betas": _betas, "eps": _nonneg("eps"),
                   "weight_decay": _nonneg("weight_decay"), "warmup_steps": _integer("warmup_steps", 0),
                   "r": _nonneg("r"), "weight_lr_power": _nonneg("weight_lr_power"), "maximize": _flag_of("maximize")}
    betas = _hyper("betas", "(β1 interpolation y = β1·x + (1 − β1)·z, β2 second moment), each in [0, 1).")
    eps = _hyper("eps", "Added to √v in the denominator, >= 0.")
    weight_decay = _hyper("weight_decay", "Weight decay >= 0, applied to z at the point y.")
    warmup_steps = _hyper("warmup_steps", "Linear lr warm-up over this many steps (the only schedule).")
    r = _hyper("r", "Polynomial weighting power >= 0 of the average x: w ∝ (k+1)^r.")
    weight_lr_power = _hyper("weight_lr_power", "Weights in the average ∝ lr_max^power (default 2).")
    maximize = _hyper("maximize", "Ascend: step along +g instead of −g.")

    def __init__(self, lr=0.0025, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, warmup_steps=0, r=0.0,
                 weight_lr_power=2.0, *, maximize=False):
        self._train_mode = True
        super().__init__(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, warmup_steps=warmup_steps, r=r,
                         weight_lr_power=weight_lr_power, maximize=maximize)

    def _init_state(self, shape, dtype):
        return {"exp_avg_sq": np.zeros(shape, dtype)}   # z and x start as copies of θ, made at the first step

    @property
    def training(self) -> bool:
        """True in train mode (the parameters hold y), False after eval() (they hold x)."""
        return self._train_mode

    def step(self, params, grads) -> None:
        if not self._train_mode:
            raise ValueError("ScheduleFreeAdamW is in eval mode (the parameters hold x, the average): "
                             "call train(params) before step()")
        super().step(params, grads)

    def _lr_t(self, k: int):
        """lr·warm-up·√(1 − β2^(k+1)) for step index k (0-based)."""
        T = self._h["warmup_steps"]
        sched = (k + 1) / T if k < T else 1.0
        return self._lr * sched * math.sqrt(1 - self._betas[1] ** (k + 1))

    def _y(self, slot, out):
        """y = β1·x + (1 − β1)·z into out (the step's arithmetic, so train() restores y bit for bit)."""
        b1 = self._betas[0]
        np.multiply(slot.state["x"], b1, out=out)
        np.add(out, slot.state["z"] * (1 - b1), out=out)
        return out

    def _update(self, slot, p, g):
        g = _grad(slot, p, g, self._maximize)
        st, sc, tmp, b2 = slot.state, slot.scalars, slot.tmp, self._betas[1]
        if "z" not in st:
            st["z"], st["x"] = p.copy(), p.copy()
        k = slot.step - 1
        lr = self._lr_t(k)
        lr_max = sc["lr_max"] = np.maximum(lr, sc.get("lr_max", -1.0)) if self._batched \
            else max(lr, sc.get("lr_max", -1.0))
        # np.power, not **: for an array NumPy's ** squares by x·x, which can differ from C pow (what the
        # scalar path and the reference use) in the last bit, and a batch must equal its separate runs
        power = np.power(lr_max, self._h["weight_lr_power"])
        weight = ((k + 1) ** self._h["r"]) * (power if self._batched else float(power))
        weight_sum = sc["weight_sum"] = sc.get("weight_sum", 0.0) + weight
        ckp1 = _ratio(weight, weight_sum)
        z, x, v = st["z"], st["x"], st["exp_avg_sq"]
        if self._wd != 0:                           # z.sub_(y, alpha=lr·wd)
            np.multiply(p, lr * self._wd, out=tmp)
            np.subtract(z, tmp, out=z)
        _ema_sq_(v, g, b2, tmp)                     # v.mul_(β2).addcmul_(g, g, value=1 − β2)
        denom = slot.denom                          # z.addcdiv_(g, √v + ε, value=−lr)
        np.sqrt(v, out=denom)
        np.add(denom, self._eps, out=denom)
        np.divide(g, denom, out=tmp)
        np.multiply(tmp, -lr, out=tmp)
        np.add(z, tmp, out=z)
        np.multiply(x, 1 - ckp1, out=x)             # x.mul_(1 − c).add_(z, alpha=c)
        np.add(x, z * ckp1, out=x)
        self._y(slot, p)                            # p ← y

    # -- the train/eval switch ----------------------------------------------------------------------------
    def _tensors(self, params):
        """(slot, view, param) for each tensor of ``params`` that has state (the others have x = y = θ)."""
        items = {SINGLE: params}.items() if isinstance(params, np.ndarray) else params.items()
        for name, p in items:
            try:
                slot, view = self._find(None if name == SINGLE else name)
            except KeyError:
                continue
            if "x" in slot.state:
                yield slot, view, p

    def eval(self, params) -> None:
        """Put x, the average the method is evaluated at, into ``params`` (an array or a dict of arrays)."""
        if self._train_mode:
            for slot, view, p in self._tensors(params):
                p[...] = view(slot.state["x"])
        self._train_mode = False

    def train(self, params) -> None:
        """Put y, where training takes its gradients, back into ``params``."""
        if not self._train_mode:
            for slot, view, p in self._tensors(params):
                p[...] = view(self._y(slot, np.empty(slot.shape, slot.dtype)))
        self._train_mode = True

    EVALUATED_ELSEWHERE = True

    def eval_point(self, name: str | None = None) -> np.ndarray | None:
        """x, the average this method is evaluated at (a copy, shaped like the parameter), without touching
        the parameters (eval() writes it into them); None before the first step."""
        slot, view = self._find(name)
        return view(slot.state["x"]).copy() if "x" in slot.state else None

    def _extra_state(self):
        return {"train_mode": self._train_mode}

    def _read_extra(self, d):
        return bool(d.get("train_mode", True))

    def _apply_extra(self, extra):
        self._train_mode = extra

    def inspect(self, name: str | None = None) -> dict[str, Any]:
        """z, x, y, v, the last step's lr_t and averaging weight c = w/W, denom = √v + ε and
        effective_lr = lr_t/denom (the per-coordinate size of z's step)."""
        slot, view = self._find(name)
        st, sc = slot.state, slot.scalars
        k = max(slot.step, 1) - 1
        lr = self._lr_t(k)
        denom = np.sqrt(view(st["exp_avg_sq"])) + self._eps
        out = {"t": slot.step, "v": view(st["exp_avg_sq"]).copy(), "lr_t": lr,
               "weight_sum": sc.get("weight_sum", 0.0), "lr_max": sc.get("lr_max", -1.0),
               "denom": denom, "effective_lr": lr / denom}
        if "x" in st:
            out.update(z=view(st["z"]).copy(), x=view(st["x"]).copy(),
                       y=view(self._y(slot, np.empty(slot.shape, slot.dtype))).copy())
        return out


# ----------------------------------------------------------------------------------------------------------
# ADOPT

class ADOPT(Optimizer):
    """ADOPT: Adam with the gradient normalised by the *previous* second moment, before the momentum.

        g ← −g (maximize);  g ← g + wd·θ (L2), or θ ← θ − lr·wd·θ with decouple
        step 1:  v ← g²  and nothing else (no parameter update)
        step t:  n = g / max(√v, ε)                    (v excludes this g: no self-correlation)
                 n ← clip(n, −c_t, c_t),  c_t = (t−1)^clip_exponent   (None: no clipping)
                 m ← lerp(m, n, 1 − β1)
                 θ ← θ − lr·m
                 v ← β2·v + (1 − β2)·g²                (only now)

    Adam divides the momentum of g by √v that already contains g; ADOPT divides each g by a v that does
    not, and before averaging, which is what makes it converge for any β2 (the paper's point; hence its
    default β2 = 0.9999). The clipping is the reference code's November 2024 stabilisation
    (``clip_lambda = lambda step: step**0.25``; ``clip_exponent`` is that power, None turns it off).
    """
    _VALIDATORS = {"lr": _learning_rate, "betas": _betas, "eps": _nonneg("eps"),
                   "clip_exponent": _optional(_nonneg("clip_exponent")),
                   "weight_decay": _nonneg("weight_decay"), "decouple": _flag_of("decouple"),
                   "maximize": _flag_of("maximize")}
    betas = _hyper("betas", "(β1, β2), each in [0, 1).")
    eps = _hyper("eps", "Floor of √v in the normalisation, >= 0.")
    clip_exponent = _hyper("clip_exponent", "Clip n to ±(t−1)^p (p >= 0; None: no clipping).")
    weight_decay = _hyper("weight_decay", "Weight decay >= 0 (L2 in the gradient, or decoupled).")
    decouple = _hyper("decouple", "Decoupled decay θ ← θ − lr·wd·θ instead of L2.")
    maximize = _hyper("maximize", "Ascend: step along +g instead of −g.")

    def __init__(self, lr=1e-3, betas=(0.9, 0.9999), eps=1e-6, clip_exponent=0.25, weight_decay=0.0,
                 decouple=False, *, maximize=False):
        super().__init__(lr=lr, betas=betas, eps=eps, clip_exponent=clip_exponent, weight_decay=weight_decay,
                         decouple=decouple, maximize=maximize)

    def _init_state(self, shape, dtype):
        return {"exp_avg": np.zeros(shape, dtype), "exp_avg_sq": np.zeros(shape, dtype)}

    def _denom(self, v, out):
        np.sqrt(v, out=out)                         # torch.clamp(exp_avg_sq.sqrt(), eps)
        return np.maximum(out, self._eps, out=out)

    def _update(self, slot, p, g):
        decouple = self._h["decouple"]
        g = _grad(slot, p, g, self._maximize, 0.0 if decouple else self._wd)
        st, tmp, (b1, b2) = slot.state, slot.tmp, self._betas
        m, v = st["exp_avg"], st["exp_avg_sq"]
        k = slot.step - 1                           # the reference's step: updates before this one
        if k == 0:
            np.multiply(g, g, out=tmp)              # exp_avg_sq.addcmul_(g, g)
            np.add(v, tmp, out=v)
            return
        if self._wd != 0 and decouple:              # param.add_(param, alpha=−lr·wd)
            np.multiply(p, -self._lr * self._wd, out=tmp)
            np.add(p, tmp, out=p)
        normed = np.divide(g, self._denom(v, slot.denom), out=slot.denom)
        p_clip = self._h["clip_exponent"]
        if p_clip is not None:
            c = k ** p_clip
            np.clip(normed, -c, c, out=normed)
        _lerp_(m, normed, 1 - b1, tmp)
        np.multiply(m, -self._lr, out=tmp)          # param.add_(exp_avg, alpha=−lr)
        np.add(p, tmp, out=p)
        _ema_sq_(v, g, b2, tmp)                     # exp_avg_sq.mul_(β2).addcmul_(g, g, value=1 − β2)

    def inspect(self, name: str | None = None) -> dict[str, Any]:
        """m (the update is −lr·m: it is already normalised, so also "normalized_step"), v, denom =
        max(√v, ε) that the next gradient will be divided by, and effective_lr = lr·(1 − β1)/denom, the
        factor that multiplies the next gradient (before clipping)."""
        slot, view = self._find(name)
        m, v = view(slot.state["exp_avg"]), view(slot.state["exp_avg_sq"])
        denom = np.maximum(np.sqrt(v), self._eps)
        return {"t": slot.step, "m": m.copy(), "v": v.copy(), "denom": denom, "normalized_step": m.copy(),
                "effective_lr": self._lr * (1 - self._betas[0]) / denom}
