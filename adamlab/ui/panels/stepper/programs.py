"""Each optimizer's update for one parameter θ as lines of code, and those lines with the numbers substituted.

A *program* is one step of one optimizer kind as a list of lines in the core's (torch's, or the paper's
reference code's) order: the line as Python with microgpt's names (``m = β1 * m + (1 - β1) * g``) and how to
write it with the step's numbers (``m = 0.9 × 0.0000 + 0.1 × −6.0000 = −0.6000``). ``take_step`` runs the
core optimizer's step and then writes the lines::

    opt = make_optimizer("nadam", lr=0.1)
    step = take_step(opt, theta, grad=-6.0)        # theta: (1,) float64, updated in place by the core
    step.lines[1].maths, step.theta_new             # 'μ = 0.9 × (1 − 0.5 × 0.96^(1 × 0.004)) = 0.4501'

Where the numbers come from (the stepper's principle: every number is the core's):
    * the state the optimizer keeps (m, v, buffers, z, x …) is read from the core before and after the step
      (``state_of``, ``inspect``), and the step's schedules from the core's own helpers (NAdam's μ_t, RAdam's
      ρ_t and r_t, AdEMAMix's α_t and β3_t, schedule-free's lr_t);
    * what the core computes but does not keep (a denominator, NAdam's two terms, AdamW's decayed θ, Lion's
      interpolation c) a line computes from those with the same floating-point operations in the same order
      as the core's step, so the θ the lines arrive at is the core's θ bit for bit (``Step.theta_lines`` ==
      ``Step.theta_new``; tests/ui/test_stepper_kinds.py checks every kind over many steps).

The lines are written as the algorithm boxes of torch's docs and the papers read; where that differs from the
core's arithmetic only by rounding (β1·m + (1 − β1)·g is computed as torch's lerp), the number after "=" is
the core's. Muon has no one-parameter form (it orthogonalises matrices; torch refuses vectors), so it has no
program.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from adamlab.core import optim
from adamlab.core.optim.adaptive import _machine_eps, _rms
from adamlab.core.optim.beyond import _ratio
from adamlab.ui.widgets.numbers import format_number

# --- how numbers are written in the lines ------------------------------------------------------------------

SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
SUBSCRIPT = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def num(x: float) -> str:
    """A number as the maths lines show it: 4 decimals for ordinary sizes, else 4 significant digits."""
    return format_number(x, fixed=(1e-3, 1e5), fixed_fmt=".4f", sci_fmt=".4g", unicode_minus=True)


def hp(x: float) -> str:
    """A hyperparameter as typed (0.9, 0.999, 1e-08)."""
    return f"{x:g}".replace("-", "−")


def one_minus(beta: float) -> str:
    """1 − β as typed (0.001 for β = 0.999, not 0.0010000000000000009)."""
    return hp(round(1 - beta, 12))


def sup(t: int) -> str:
    return str(t).translate(SUPERSCRIPT)


def paren(x: float) -> str:
    """A number that is squared or signed in a line, in brackets when negative: (−6.0000)²."""
    return f"({num(x)})" if x < 0 else num(x)


def _sqrt(x: float) -> float:
    """√x as np.sqrt gives it (NaN below 0, not an exception)."""
    return math.sqrt(x) if x >= 0.0 else math.nan


def _sign(x: float) -> float:
    """np.sign: ±1, 0 for ±0, NaN for NaN."""
    return 1.0 if x > 0 else (-1.0 if x < 0 else (x if x != x else 0.0))


# --- one step's lines ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    key: str  # what the line computes ("m", "v", "theta", …)
    code: str  # the line as Python
    maths: str  # the line with the numbers substituted
    value: float  # the number after "="


@dataclass(frozen=True)
class Spec:
    """A line before it has numbers: ``run`` writes it with them and returns (maths, value)."""

    key: str
    code: str
    run: Callable[["Numbers"], tuple[str, float]]


@dataclass(frozen=True)
class Column:
    """A column of the steps table for one kind: header (plain text), value from a step's numbers, tooltip,
    and whether the kind has it with hyperparameters h (SGD's buffer only with momentum)."""

    header: str
    value: Callable[["Numbers"], float]
    tip: str
    when: Callable[[dict[str, Any]], bool] = lambda h: True


@dataclass
class Step:
    """One step of one optimizer: its lines with numbers, θ before and after, and its table columns."""

    t: int
    theta: float  # θ before the step
    grad: float  # ∇L(θ) (or the sequence's g_t), before any weight decay is added
    lines: list[Line]
    theta_new: float  # θ after the step: the core's
    theta_lines: float  # θ after the step as the lines compute it (equal to theta_new, bit for bit)
    columns: dict[str, float]  # header → value, the kind's table columns
    note: str  # a remark for the step label (Adam's bias corrections, RAdam's ρ_t …); "" for none
    loss_new: float = math.nan  # L(θ_new), filled in by the session (NaN without a loss)

    def value(self, key: str) -> float:
        """The value of line ``key`` ("g" is the gradient the update uses: with L2 decay, ∇L + wd·θ)."""
        return next(line.value for line in self.lines if line.key == key)


class Numbers:
    """What one step's lines are written with: hyperparameters, t, θ and g, the core's state before and
    after the step and its ``inspect()`` figures, and the values of the lines run so far (``n[key]``)."""

    def __init__(self, opt: optim.Optimizer, t: int, theta: float, grad: float, before: dict[str, Any],
                 after: dict[str, Any], info: dict[str, Any], gname: str):
        self.opt, self.h, self.t, self.theta, self.grad = opt, opt.hyperparameters(), t, theta, grad
        self.before, self.after, self.info, self.gname = before, after, info, gname
        self.val: dict[str, float] = {}

    def __getitem__(self, key: str) -> float:
        return self.val[key]

    def prev(self, key: str, default: float = 0.0) -> float:
        """A state value before the step (``default`` where the core had none yet: zeros, or θ for z, x)."""
        return self.before.get(key, default)

    def new(self, key: str) -> float:
        """A state value or inspect figure after the step, from the core."""
        return self.after[key] if key in self.after else self.info[key]

    @property
    def th(self) -> float:
        """θ the update works on: after a decoupled decay line when there is one."""
        return self.val.get("decay", self.theta)


def _scalars(d: dict[str, Any]) -> dict[str, float]:
    """The one-number entries of a state or inspect dict as floats (arrays of one element included)."""
    out = {}
    for k, v in d.items():
        if v is None or isinstance(v, str):
            continue
        a = np.asarray(v)
        if a.size == 1 and a.dtype.kind in "fiub":
            out[k] = float(a.reshape(-1)[0])
    return out


def _state(opt: optim.Optimizer) -> dict[str, float]:
    """The core's state and inspect figures for the single parameter, {} before the first step."""
    try:
        out = _scalars(opt.state_of())
    except KeyError:
        return {}
    if hasattr(opt, "inspect"):
        out.update({f"info.{k}": v for k, v in _scalars(opt.inspect()).items()})
    return out


def take_step(opt: optim.Optimizer, theta: np.ndarray, grad: float, gname: str = "") -> Step:
    """One core step of ``opt`` on ``theta`` ((1,) float64, in place) with gradient ``grad``, and its lines.

    ``gname`` is how the g line names the gradient's source ("∇L(0.5000)", "g₅"); "" for ∇L at θ.
    """
    prog = program(opt)
    t = opt.t + 1
    specs = prog.lines(opt.hyperparameters(), t)
    th0 = float(theta[0])
    before = _state(opt)
    opt.step(theta, np.array([grad], dtype=np.float64))
    both = _state(opt)
    after = {k: v for k, v in both.items() if not k.startswith("info.")}
    info = {k[5:]: v for k, v in both.items() if k.startswith("info.")}
    if hasattr(opt, "inspect"):  # the non-scalar figures too (RAdam's r_t is None before the switch)
        info.update({k: v for k, v in opt.inspect().items() if v is None})
    n = Numbers(opt, t, th0, float(grad), before, after, info, gname or f"∇L({num(th0)})")
    lines = []
    for s in specs:
        maths, value = s.run(n)
        n.val[s.key] = value
        lines.append(Line(s.key, s.code, maths, value))
    return Step(t=t, theta=th0, grad=float(grad), lines=lines, theta_new=float(theta[0]), theta_lines=n["theta"],
                columns={c.header: float(c.value(n)) for c in prog.columns if c.when(n.h)},
                note=prog.note(n) if prog.note else "")


def code_lines(opt: optim.Optimizer) -> list[Spec]:
    """The lines ``opt``'s next step will run (their code; RAdam's and ADOPT's depend on t)."""
    return program(opt).lines(opt.hyperparameters(), opt.t + 1)


# --- lines shared by several kinds ----------------------------------------------------------------------


def grad_line(h: dict[str, Any], l2: bool = True) -> Spec:
    """g = ∇L(θ), plus wd·θ when the kind folds weight decay into the gradient (torch: grad.add(θ, alpha=wd))."""
    wd = h.get("weight_decay", 0.0)
    if l2 and wd != 0:
        def run(n):
            g = n.grad + n.theta * wd
            return f"g = {num(n.grad)} + {hp(wd)} × {num(n.theta)} = {num(g)}", g
        return Spec("g", "g = grad(θ) + wd * θ", run)
    return Spec("g", "g = grad(θ)", lambda n: (f"g = {n.gname} = {num(n.grad)}", n.grad))


def decay_line(h: dict[str, Any]) -> Spec:
    """Decoupled weight decay before the update: θ ← θ·(1 − lr·wd) (AdamW, NAdamW, Lion, Adafactor)."""
    lr, wd = h["lr"], h["weight_decay"]

    def run(n):
        th = n.theta * (1.0 - lr * wd)
        return f"θ = {num(n.theta)} × (1 − {hp(lr)} × {hp(wd)}) = {num(th)}", th
    return Spec("decay", "θ = θ * (1 - lr * wd)", run)


def ema_line(key: str, state: str, beta: float, x: str, squared: bool = False, code_beta: str = "β1") -> Spec:
    """key = β·key + (1 − β)·x (or x²): the value is the core's state ``state`` after the step."""
    power = "**2" if squared else ""
    code = f"{key} = {code_beta} * {key} + (1 - {code_beta}) * {x}{power}"

    def run(n):
        shown = f"{paren(n[x])}²" if squared else num(n[x])
        return (f"{key} = {hp(beta)} × {num(n.prev(state))} + {one_minus(beta)} × {shown} = "
                f"{num(n.new(state))}", n.new(state))
    return Spec(key, code, run)


# --- the programs -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Program:
    lines: Callable[[dict[str, Any], int], list[Spec]]  # (hyperparameters, t) → the step's lines
    columns: tuple[Column, ...]  # the table's columns for this kind (besides g, θ and the loss)
    note: Callable[[Numbers], str] | None = None


def sgd_lines(h, t):
    """torch.optim.SGD: buf ← μ·buf + (1 − dampening)·g (buf = g at the first step); Nesterov g + μ·buf."""
    lr, mu, damp, nesterov = h["lr"], h["momentum"], h["dampening"], h["nesterov"]
    out = [grad_line(h)]
    if mu != 0:
        if t == 1:  # torch: buf = clone(g)
            out.append(Spec("buf", "buf = g", lambda n: (f"buf = {num(n['g'])}", n.new("momentum_buffer"))))
        else:
            damp_code, damp_text = ("", "") if damp == 0 else (" * (1 - dampening)", f" × (1 − {hp(damp)})")
            out.append(Spec("buf", f"buf = μ * buf + g{damp_code}", lambda n: (
                f"buf = {hp(mu)} × {num(n.prev('momentum_buffer'))} + {num(n['g'])}{damp_text} = "
                f"{num(n.new('momentum_buffer'))}", n.new("momentum_buffer"))))
        if nesterov:
            def look_ahead(n):
                g = n["g"] + n["buf"] * mu
                return f"g = {num(n['g'])} + {hp(mu)} × {num(n['buf'])} = {num(g)}", g
            out.append(Spec("g_nesterov", "g = g + μ * buf", look_ahead))
    direction = "g_nesterov" if nesterov else ("buf" if mu != 0 else "g")
    name = "buf" if direction == "buf" else "g"

    def theta(n):
        th = n.theta + n[direction] * -lr
        return f"θ = {num(n.theta)} − {hp(lr)} × {num(n[direction])} = {num(th)}", th
    return out + [Spec("theta", f"θ = θ - lr * {name}", theta)]


def adagrad_lines(h, t):
    """torch.optim.Adagrad: sum ← sum + g²; θ ← θ − clr·g/(√sum + ε), clr = lr/(1 + (t − 1)·lr_decay)."""
    lr, decay, eps = h["lr"], h["lr_decay"], h["eps"]
    out = [grad_line(h), Spec("sum", "sum = sum + g**2", lambda n: (
        f"sum = {num(n.prev('sum', h['initial_accumulator_value']))} + {paren(n['g'])}² = {num(n.new('sum'))}",
        n.new("sum")))]
    clr_name = "lr"
    if decay != 0:
        clr_name = "clr"

        def clr(n):
            c = lr / (1 + (t - 1) * decay)
            return f"clr = {hp(lr)} / (1 + {t - 1} × {hp(decay)}) = {num(c)}", c
        out.append(Spec("clr", "clr = lr / (1 + (t - 1) * lr_decay)", clr))

    def theta(n):  # the core: θ + (g·(−clr)) / (√sum + ε)
        c = n["clr"] if decay != 0 else lr / (1 + (t - 1) * decay)
        th = n.theta + (n["g"] * -c) / (_sqrt(n["sum"]) + eps)
        shown = num(c) if decay != 0 else hp(lr)
        return f"θ = {num(n.theta)} − {shown} × {num(n['g'])} / (√{num(n['sum'])} + {hp(eps)}) = {num(th)}", th
    return out + [Spec("theta", f"θ = θ - {clr_name} * g / (sqrt(sum) + ε)", theta)]


def rmsprop_lines(h, t):
    """torch.optim.RMSprop: v ← α·v + (1 − α)·g²; centered: divide by √(v − ḡ²); momentum: buf ← μ·buf + g/denom."""
    lr, alpha, eps, mu, centered = h["lr"], h["alpha"], h["eps"], h["momentum"], h["centered"]
    out = [grad_line(h), ema_line("v", "square_avg", alpha, "g", squared=True, code_beta="α")]
    if centered:
        out.append(ema_line("g_avg", "grad_avg", alpha, "g", code_beta="α"))
    if centered or mu > 0:
        def denom(n):
            if centered:
                x = n["v"] - n["g_avg"] * n["g_avg"]
                x = x if x >= 0.0 or x != x else 0.0
                d = _sqrt(x) + eps
                return f"denom = √({num(n['v'])} − {paren(n['g_avg'])}²) + {hp(eps)} = {num(d)}", d
            d = _sqrt(n["v"]) + eps
            return f"denom = √{num(n['v'])} + {hp(eps)} = {num(d)}", d
        out.append(Spec("denom", "denom = sqrt(v - g_avg**2) + ε" if centered else "denom = sqrt(v) + ε", denom))
    if mu > 0:
        out.append(Spec("buf", "buf = μ * buf + g / denom", lambda n: (
            f"buf = {hp(mu)} × {num(n.prev('momentum_buffer'))} + {num(n['g'])} / {num(n['denom'])} = "
            f"{num(n.new('momentum_buffer'))}", n.new("momentum_buffer"))))

        def theta(n):
            th = n.theta + n["buf"] * -lr
            return f"θ = {num(n.theta)} − {hp(lr)} × {num(n['buf'])} = {num(th)}", th
        return out + [Spec("theta", "θ = θ - lr * buf", theta)]

    def plain(n):
        d = n["denom"] if centered else _sqrt(n["v"]) + eps
        th = n.theta + (n["g"] * -lr) / d
        below = num(n["denom"]) if centered else f"(√{num(n['v'])} + {hp(eps)})"
        return f"θ = {num(n.theta)} − {hp(lr)} × {num(n['g'])} / {below} = {num(th)}", th
    return out + [Spec("theta", "θ = θ - lr * g / denom" if centered else "θ = θ - lr * g / (sqrt(v) + ε)", plain)]


def adam_lines(h, t):
    """torch.optim.Adam / AdamW, microgpt's names: m_hat = m/(1 − β1ᵗ), v_hat = v/(1 − β2ᵗ)."""
    lr, (b1, b2), eps, wd, ams = h["lr"], h["betas"], h["eps"], h["weight_decay"], h["amsgrad"]
    decoupled = h.get("decoupled_weight_decay", True)  # AdamW has no such argument: always decoupled
    tt = sup(t)
    out = [grad_line(h, l2=not decoupled)]
    if decoupled and wd != 0:
        out.append(decay_line(h))
    out += [ema_line("m", "exp_avg", b1, "g"), ema_line("v", "exp_avg_sq", b2, "g", squared=True, code_beta="β2")]
    v_used = "v"
    if ams:
        v_used = "v_max"
        out.append(Spec("v_max", "v_max = max(v_max, v)", lambda n: (
            f"v_max = max({num(n.prev('max_exp_avg_sq'))}, {num(n['v'])}) = {num(n.new('max_exp_avg_sq'))}",
            n.new("max_exp_avg_sq"))))
    out += [
        Spec("m_hat", "m_hat = m / (1 - β1**t)",
             lambda n: (f"m_hat = {num(n['m'])} / (1 − {hp(b1)}{tt}) = {num(n.new('m_hat'))}", n.new("m_hat"))),
        Spec("v_hat", f"v_hat = {v_used} / (1 - β2**t)",
             lambda n: (f"v_hat = {num(n[v_used])} / (1 − {hp(b2)}{tt}) = {num(n.new('v_hat'))}", n.new("v_hat"))),
    ]

    def theta(n):  # the core (torch): θ + (m·(−lr/(1 − β1ᵗ))) / (√v/√(1 − β2ᵗ) + ε)
        bc1, bc2 = optim._bias_corrections((b1, b2), t)
        th = n.th + (n["m"] * -(lr / bc1)) / (_sqrt(n[v_used]) / bc2 ** 0.5 + eps)
        return (f"θ = {num(n.th)} − {hp(lr)} × {num(n['m_hat'])} / (√{num(n['v_hat'])} + {hp(eps)}) = "
                f"{num(th)}", th)
    return out + [Spec("theta", "θ = θ - lr * m_hat / (sqrt(v_hat) + ε)", theta)]


def _adam_note(n: Numbers) -> str:
    return (f"bias corrections 1 − β1ᵗ = {num(n.new('bias_correction1'))}, "
            f"1 − β2ᵗ = {num(n.new('bias_correction2'))}")


def _decay_or_l2(h) -> list[Spec]:
    """NAdam's and RAdam's weight decay: the g line with L2, or g and a decoupled decay line."""
    if h["decoupled_weight_decay"]:
        return [grad_line(h, l2=False)] + ([decay_line(h)] if h["weight_decay"] != 0 else [])
    return [grad_line(h)]


def nadam_lines(h, t):
    """torch.optim.NAdam: a momentum schedule μ_t, and the step mixes g (weight (1 − μ_t)/(1 − Π_t)) with the
    momentum looked one step ahead (weight μ_{t+1}/(1 − Π_t·μ_{t+1}))."""
    lr, (b1, b2), eps, psi = h["lr"], h["betas"], h["eps"], h["momentum_decay"]

    def mu(key, name, at):
        def run(n):
            value = n.new(key)  # the core's (torch's momentum cache)
            return f"{name} = {hp(b1)} × (1 − 0.5 × 0.96^({at} × {hp(psi)})) = {num(value)}", value
        return run

    def mu_product(n):
        return (f"Π = {num(n.prev('info.mu_product', 1.0))} × {num(n['mu'])} = {num(n.new('mu_product'))}",
                n.new("mu_product"))

    def denom(n):  # the core (torch): √(v/(1 − β2ᵗ)) + ε
        d = _sqrt(n["v"] / (1.0 - b2 ** t)) + eps
        return f"denom = √({num(n['v'])} / (1 − {hp(b2)}{sup(t)})) + {hp(eps)} = {num(d)}", d

    def g_term(n):
        th = n.th + (n["g"] / n["denom"]) * (-lr * (1.0 - n["mu"]) / (1.0 - n["mu_prod"]))
        return (f"θ = {num(n.th)} − {hp(lr)} × (1 − {num(n['mu'])}) / (1 − {num(n['mu_prod'])}) × "
                f"{num(n['g'])} / {num(n['denom'])} = {num(th)}", th)

    def m_term(n):
        th = n["theta_g"] + (n["m"] / n["denom"]) * ((-lr * n["mu_next"]) / (1.0 - n["mu_prod"] * n["mu_next"]))
        return (f"θ = {num(n['theta_g'])} − {hp(lr)} × {num(n['mu_next'])} / (1 − {num(n['mu_prod'])} × "
                f"{num(n['mu_next'])}) × {num(n['m'])} / {num(n['denom'])} = {num(th)}", th)

    return _decay_or_l2(h) + [
        Spec("mu", "μ = β1 * (1 - 0.5 * 0.96**(t * ψ))", mu("mu", "μ", t)),
        Spec("mu_next", "μ_next = β1 * (1 - 0.5 * 0.96**((t+1) * ψ))", mu("mu_next", "μ_next", t + 1)),
        Spec("mu_prod", "Π = Π * μ", mu_product),
        ema_line("m", "exp_avg", b1, "g"),
        ema_line("v", "exp_avg_sq", b2, "g", squared=True, code_beta="β2"),
        Spec("denom", "denom = sqrt(v / (1 - β2**t)) + ε", denom),
        Spec("theta_g", "θ = θ - lr * (1 - μ) / (1 - Π) * g / denom", g_term),
        Spec("theta", "θ = θ - lr * μ_next / (1 - Π * μ_next) * m / denom", m_term),
    ]


def radam_lines(h, t):
    """torch.optim.RAdam: momentum SGD while ρ_t ≤ 5 (v too young to divide by), then Adam scaled by r_t."""
    lr, (b1, b2), eps = h["lr"], h["betas"], h["eps"]
    rho_inf = 2 / (1 - b2) - 1
    rectified = optim.RAdam(betas=(b1, b2)).rectification(t)[1] is not None  # which branch step t takes
    tt = sup(t)

    def rho(n):
        rho_t = n.new("rho_t")  # the core's
        verdict = "> 5: rectified" if rectified else "≤ 5: no division by √v yet"
        return (f"ρ = {hp(rho_inf)} − 2 × {t} × {hp(b2)}{tt} / (1 − {hp(b2)}{tt}) = {num(rho_t)} ({verdict})",
                rho_t)

    out = _decay_or_l2(h) + [
        ema_line("m", "exp_avg", b1, "g"),
        ema_line("v", "exp_avg_sq", b2, "g", squared=True, code_beta="β2"),
        Spec("m_hat", "m_hat = m / (1 - β1**t)", lambda n: (
            f"m_hat = {num(n['m'])} / (1 − {hp(b1)}{tt}) = {num(n['m'] / (1 - b1 ** t))}", n["m"] / (1 - b1 ** t))),
        Spec("rho", "ρ = ρ_inf - 2 * t * β2**t / (1 - β2**t)", rho),
    ]
    if not rectified:
        def sgd(n):  # the core: θ − m̂·lr
            th = n.th - n["m_hat"] * lr
            return f"θ = {num(n.th)} − {hp(lr)} × {num(n['m_hat'])} = {num(th)}", th
        return out + [Spec("theta", "θ = θ - lr * m_hat", sgd)]

    def r(n):
        rho_t, value = n["rho"], n.new("rect")
        return (f"r = √(({num(rho_t)} − 4)({num(rho_t)} − 2) × {hp(rho_inf)} / (({hp(rho_inf)} − 4)"
                f"({hp(rho_inf)} − 2) × {num(rho_t)})) = {num(value)}", value)

    def adaptive_lr(n):  # torch's _compute_adaptive_lr: √(1 − β2ᵗ)/(√v + ε)
        value = (1 - b2 ** t) ** 0.5 / (_sqrt(n["v"]) + eps)
        return f"l = √(1 − {hp(b2)}{tt}) / (√{num(n['v'])} + {hp(eps)}) = {num(value)}", value

    def adaptive(n):  # the core (torch): θ − ((m̂·lr)·l)·r
        th = n.th - n["m_hat"] * lr * n["l"] * n["r"]
        return f"θ = {num(n.th)} − {hp(lr)} × {num(n['m_hat'])} × {num(n['l'])} × {num(n['r'])} = {num(th)}", th
    return out + [Spec("r", "r = sqrt((ρ-4)*(ρ-2)*ρ_inf / ((ρ_inf-4)*(ρ_inf-2)*ρ))", r),
                  Spec("l", "l = sqrt(1 - β2**t) / (sqrt(v) + ε)", adaptive_lr),
                  Spec("theta", "θ = θ - lr * m_hat * l * r", adaptive)]


def adamax_lines(h, t):
    """torch.optim.Adamax: u ← max(β2·u, |g| + ε), an infinity norm that needs no bias correction."""
    lr, (b1, b2), eps = h["lr"], h["betas"], h["eps"]

    def theta(n):  # the core (torch): θ + (m/u)·(−lr/(1 − β1ᵗ))
        th = n.theta + (n["m"] / n["u"]) * -(lr / (1 - b1 ** t))
        return (f"θ = {num(n.theta)} − {hp(lr)} / (1 − {hp(b1)}{sup(t)}) × {num(n['m'])} / {num(n['u'])} = "
                f"{num(th)}", th)
    return [
        grad_line(h), ema_line("m", "exp_avg", b1, "g"),
        Spec("u", "u = max(β2 * u, abs(g) + ε)", lambda n: (
            f"u = max({hp(b2)} × {num(n.prev('exp_inf'))}, |{num(n['g'])}| + {hp(eps)}) = {num(n.new('exp_inf'))}",
            n.new("exp_inf"))),
        Spec("theta", "θ = θ - lr / (1 - β1**t) * m / u", theta),
    ]


def adadelta_lines(h, t):
    """torch.optim.Adadelta: Δ = √(u + ε)/√(v + ε)·g, u the average of past Δ²: a step with θ's units."""
    lr, rho, eps = h["lr"], h["rho"], h["eps"]

    def delta(n):  # the core (torch): √(u + ε) / √(v + ε) · g
        d = _sqrt(n.prev("acc_delta") + eps) / _sqrt(n["v"] + eps) * n["g"]
        return (f"delta = √({num(n.prev('acc_delta'))} + {hp(eps)}) / √({num(n['v'])} + {hp(eps)}) × "
                f"{num(n['g'])} = {num(d)}", d)

    def theta(n):
        th = n.theta + n["delta"] * -lr
        return f"θ = {num(n.theta)} − {hp(lr)} × {num(n['delta'])} = {num(th)}", th
    return [
        grad_line(h), ema_line("v", "square_avg", rho, "g", squared=True, code_beta="ρ"),
        Spec("delta", "delta = sqrt(u + ε) / sqrt(v + ε) * g", delta),
        ema_line("u", "acc_delta", rho, "delta", squared=True, code_beta="ρ"),
        Spec("theta", "θ = θ - lr * delta", theta),
    ]


def adafactor_lines(h, t):
    """torch.optim.Adafactor on a vector (one θ is a vector: no factoring): relative step size α_t, second
    moment with a growing memory 1 − t^τ, update clipping; no momentum."""
    lr, tau, (eps1, eps2), d, wd = h["lr"], h["beta2_decay"], h["eps"], h["d"], h["weight_decay"]
    e1 = _machine_eps(np.dtype(np.float64)) if eps1 is None else eps1

    def rho(n):
        value = min(lr, 1 / (t ** 0.5))  # the core: ρ_t = min(lr, 1/√t)
        return f"ρ = min({hp(lr)}, 1 / √{t}) = {num(value)}", value

    def alpha(n):
        rms = _rms(np.array([n.theta]))  # the core's RMS: |θ| for one number
        value = max(eps2, rms) * n["rho"]
        return f"α = max({hp(eps2)}, {num(rms)}) × {num(n['rho'])} = {num(value)}", value

    def v(n):
        w = t ** tau
        return (f"v = (1 − {t}^{hp(tau)}) × {num(n.prev('variance'))} + {num(w)} × {paren(n['g'])}² = "
                f"{num(n.new('variance'))}", n.new("variance"))

    def u(n):  # the core (torch): g · 1/√max(v, ε1²)
        value = (1.0 / _sqrt(max(n["v"], e1 * e1))) * n["g"]
        return f"u = {num(n['g'])} / √max({num(n['v'])}, {num(e1)}²) = {num(value)}", value

    def clip(n):
        rms = _rms(np.array([n["u"]]))
        value = max(1.0, rms / d)
        return f"clip = max(1, {num(rms)} / {hp(d)}) = {num(value)}", value

    def theta(n):
        th = n.th + n["u"] * (-n["alpha"] / n["clip"])
        return f"θ = {num(n.th)} − {num(n['alpha'])} / {num(n['clip'])} × {num(n['u'])} = {num(th)}", th

    out = [grad_line(h, l2=False), Spec("rho", "ρ = min(lr, 1 / sqrt(t))", rho),
           Spec("alpha", "α = max(ε2, rms(θ)) * ρ", alpha)]
    if wd != 0:
        out.append(decay_line(h))
    return out + [Spec("v", "v = (1 - t**τ) * v + t**τ * g**2", v), Spec("u", "u = g / sqrt(max(v, ε1**2))", u),
                  Spec("clip", "clip = max(1, rms(u) / d)", clip), Spec("theta", "θ = θ - α / clip * u", theta)]


def lion_lines(h, t):
    """Lion (Chen et al. 2023): θ moves by ±lr, the sign of c = β1·m + (1 − β1)·g; then m ← β2·m + (1 − β2)·g."""
    lr, (b1, b2), wd = h["lr"], h["betas"], h["weight_decay"]

    def c(n):  # the core: m·β1 + g·(1 − β1)
        value = n.prev("exp_avg") * b1 + n["g"] * (1 - b1)
        return f"c = {hp(b1)} × {num(n.prev('exp_avg'))} + {one_minus(b1)} × {num(n['g'])} = {num(value)}", value

    def theta(n):
        th = n.th + _sign(n["c"]) * -lr
        return f"θ = {num(n.th)} − {hp(lr)} × sign({num(n['c'])}) = {num(th)}", th

    return ([grad_line(h, l2=False)] + ([decay_line(h)] if wd != 0 else []) + [
        Spec("c", "c = β1 * m + (1 - β1) * g", c), Spec("theta", "θ = θ - lr * sign(c)", theta),
        ema_line("m", "exp_avg", b2, "g", code_beta="β2")])


def ademamix_lines(h, t):
    """AdEMAMix (Pagliardini et al. 2024): Adam's m̂ plus α·m2, a second, very slow EMA (β3), over √v̂ + ε."""
    lr, (b1, b2, b3), eps, wd = h["lr"], h["betas"], h["eps"], h["weight_decay"]
    alpha, t_alpha, t_beta3 = h["alpha"], h["alpha_warmup"], h["beta3_warmup"]
    tt = sup(t)
    out = [grad_line(h, l2=False), ema_line("m1", "exp_avg_fast", b1, "g")]
    warm_beta3 = bool(t_beta3) and t < t_beta3
    if warm_beta3:
        out.append(Spec("beta3", "β3_t = halflife_warmup(β1, β3, t / T_β3)", lambda n: (
            f"β3_t = halflife_warmup({hp(b1)}, {hp(b3)}, {t} / {t_beta3}) = {num(n.new('beta3'))}",
            n.new("beta3"))))

    def m2(n):
        beta = n.new("beta3")  # the core's β3_t
        return (f"m2 = {hp(beta) if not warm_beta3 else num(beta)} × {num(n.prev('exp_avg_slow'))} + "
                f"{one_minus(beta) if not warm_beta3 else num(1 - beta)} × {num(n['g'])} = "
                f"{num(n.new('exp_avg_slow'))}", n.new("exp_avg_slow"))
    out += [Spec("m2", "m2 = β3_t * m2 + (1 - β3_t) * g" if warm_beta3 else "m2 = β3 * m2 + (1 - β3) * g", m2),
            ema_line("v", "exp_avg_sq", b2, "g", squared=True, code_beta="β2")]
    warm_alpha = bool(t_alpha) and t < t_alpha
    if warm_alpha:
        out.append(Spec("alpha", "α_t = α * t / T_α", lambda n: (
            f"α_t = {hp(alpha)} × {t} / {t_alpha} = {num(n.new('alpha'))}", n.new("alpha"))))

    def denom(n):  # the core (the reference): √v/√(1 − β2ᵗ) + ε
        value = _sqrt(n["v"]) / math.sqrt(1 - b2 ** t) + eps
        return f"denom = √{num(n['v'])} / √(1 − {hp(b2)}{tt}) + {hp(eps)} = {num(value)}", value

    def u(n):  # the core: (m1/(1 − β1ᵗ) + α·m2)/denom [+ wd·θ]
        a = n.new("alpha")
        value = (n["m_hat"] + a * n["m2"]) / n["denom"]
        text = f"u = ({num(n['m_hat'])} + {num(a) if warm_alpha else hp(a)} × {num(n['m2'])}) / " \
               f"{num(n['denom'])}"
        if wd != 0:
            value = value + wd * n.theta
            text += f" + {hp(wd)} × {num(n.theta)}"
        return f"{text} = {num(value)}", value

    def theta(n):
        th = n.theta + n["u"] * -lr
        return f"θ = {num(n.theta)} − {hp(lr)} × {num(n['u'])} = {num(th)}", th

    return out + [
        Spec("m_hat", "m_hat = m1 / (1 - β1**t)", lambda n: (
            f"m_hat = {num(n['m1'])} / (1 − {hp(b1)}{tt}) = {num(n['m1'] / (1 - b1 ** t))}", n["m1"] / (1 - b1 ** t))),
        Spec("denom", "denom = sqrt(v) / sqrt(1 - β2**t) + ε", denom),
        Spec("u", f"u = (m_hat + {'α_t' if warm_alpha else 'α'} * m2) / denom" + (" + wd * θ" if wd else ""), u),
        Spec("theta", "θ = θ - lr * u", theta),
    ]


def schedulefree_lines(h, t):
    """Schedule-free AdamW (Defazio et al. 2024): θ holds y; z takes AdamW-like steps, x averages z, y mixes
    them. Gradients are taken at y; the method's answer is x."""
    lr, (b1, b2), eps, wd = h["lr"], h["betas"], h["eps"], h["weight_decay"]
    warm, r, power = h["warmup_steps"], h["r"], h["weight_lr_power"]
    tt = sup(t)

    def lr_t(n):
        value = n.new("lr_t")  # the core's lr·warm-up·√(1 − β2ᵗ)
        ramp = f" × {t}/{warm}" if t - 1 < warm else ""
        return f"lr_t = {hp(lr)}{ramp} × √(1 − {hp(b2)}{tt}) = {num(value)}", value

    def z_decay(n):  # the core: z − θ·(lr_t·wd), at y
        z = n.prev("z", n.theta) - n.theta * (n["lr_t"] * wd)
        return f"z = {num(n.prev('z', n.theta))} − {num(n['lr_t'])} × {hp(wd)} × {num(n.theta)} = {num(z)}", z

    def z(n):
        z0 = n["z_decay"] if wd != 0 else n.prev("z", n.theta)
        return (f"z = {num(z0)} − {num(n['lr_t'])} × {num(n['g'])} / (√{num(n['v'])} + {hp(eps)}) = "
                f"{num(n.new('z'))}", n.new("z"))

    def c(n):  # the core: w = t^r·lr_max^p, c = w/Σw
        w = (t ** r) * float(np.power(n.new("lr_max"), power))
        value = _ratio(w, n.new("weight_sum"))
        return f"c = {num(w)} / {num(n.new('weight_sum'))} = {num(value)}", value

    def x(n):
        return (f"x = (1 − {num(n['c'])}) × {num(n.prev('x', n.theta))} + {num(n['c'])} × {num(n['z'])} = "
                f"{num(n.new('x'))}", n.new("x"))

    def y(n):  # the core: x·β1 + z·(1 − β1)
        value = n["x"] * b1 + n["z"] * (1 - b1)
        return f"θ = {hp(b1)} × {num(n['x'])} + {one_minus(b1)} × {num(n['z'])} = {num(value)}", value

    out = [Spec("g", "g = grad(θ)   # at y", grad_line(h, l2=False).run),
           Spec("lr_t", "lr_t = lr * min(1, t / T) * sqrt(1 - β2**t)" if warm else "lr_t = lr * sqrt(1 - β2**t)",
                lr_t)]
    if wd != 0:
        out.append(Spec("z_decay", "z = z - lr_t * wd * θ", z_decay))
    return out + [
        ema_line("v", "exp_avg_sq", b2, "g", squared=True, code_beta="β2"),
        Spec("z", "z = z - lr_t * g / (sqrt(v) + ε)", z),
        Spec("c", f"c = w / sum(w)   # w = t**r * lr_max**{hp(power)}", c),
        Spec("x", "x = (1 - c) * x + c * z", x),
        Spec("theta", "θ = y = β1 * x + (1 - β1) * z", y),
    ]


def adopt_lines(h, t):
    """ADOPT (Taniguchi et al. 2024): g is normalised by the previous √v (which does not contain g) before the
    momentum; the first step only records v."""
    lr, (b1, b2), eps, clip_p, wd, decouple = (h["lr"], h["betas"], h["eps"], h["clip_exponent"],
                                               h["weight_decay"], h["decouple"])
    g = grad_line(h, l2=not decouple)
    if t == 1:
        return [g, Spec("v", "v = v + g**2", lambda n: (
            f"v = {num(n.prev('exp_avg_sq'))} + {paren(n['g'])}² = {num(n.new('exp_avg_sq'))}", n.new("exp_avg_sq"))),
            Spec("theta", "θ = θ   # step 1 only records v", lambda n: (
                f"θ = {num(n.theta)} (unchanged: no v yet to divide g by)", n.theta))]
    out = [g]
    if decouple and wd != 0:
        def decay(n):  # the core: θ + θ·(−lr·wd)
            th = n.theta + n.theta * (-lr * wd)
            return f"θ = {num(n.theta)} − {hp(lr)} × {hp(wd)} × {num(n.theta)} = {num(th)}", th
        out.append(Spec("decay", "θ = θ - lr * wd * θ", decay))

    def normed(n):
        value = n["g"] / max(_sqrt(n.prev("exp_avg_sq")), eps)
        return f"n = {num(n['g'])} / max(√{num(n.prev('exp_avg_sq'))}, {hp(eps)}) = {num(value)}", value
    out.append(Spec("n", "n = g / max(sqrt(v), ε)", normed))
    key = "n"
    if clip_p is not None:
        key = "n_clip"

        def clip(n):
            c = (t - 1) ** clip_p
            value = min(max(n["n"], -c), c)
            return f"n = clip({num(n['n'])}, −{num(c)}, {num(c)}) = {num(value)}", value
        out.append(Spec("n_clip", f"n = clip(n, -(t-1)**{hp(clip_p)}, (t-1)**{hp(clip_p)})", clip))

    def theta(n):
        th = n.th + n["m"] * -lr
        return f"θ = {num(n.th)} − {hp(lr)} × {num(n['m'])} = {num(th)}", th
    m = ema_line("m", "exp_avg", b1, key)
    return out + [Spec("m", "m = β1 * m + (1 - β1) * n", m.run), Spec("theta", "θ = θ - lr * m", theta),
                  ema_line("v", "exp_avg_sq", b2, "g", squared=True, code_beta="β2")]


def _col(header: str, key: str, tip: str) -> Column:
    return Column(header, lambda n: n.new(key), tip)


_M = _col("m", "exp_avg", "m, the momentum (EMA of g), from the core")
_V = _col("v", "exp_avg_sq", "v, the EMA of g², from the core")
_ADAM = Program(adam_lines, (_M, _V, _col("m_hat", "m_hat", "m / (1 − β1ᵗ)"),
                              _col("v_hat", "v_hat", "v / (1 − β2ᵗ) (of v_max with AMSGrad)"),
                              _col("ratio", "normalized_step", "m_hat / (√v_hat + ε): the step is −lr × this")),
                _adam_note)
PROGRAMS: dict[type, Program] = {
    optim.SGD: Program(sgd_lines, (Column("buf", lambda n: n.new("momentum_buffer"), "the momentum buffer",
                                          lambda h: h["momentum"] != 0),)),
    optim.Adagrad: Program(adagrad_lines, (_col("sum", "sum", "the sum of all g² so far"),)),
    optim.RMSprop: Program(rmsprop_lines, (_col("v", "square_avg", "v, the EMA of g²"),)),
    optim.Adam: _ADAM,
    optim.AdamW: _ADAM,
    optim.NAdam: Program(nadam_lines, (_M, _V, _col("Π", "mu_product", "Π = μ_1·μ_2·…·μ_t, the schedule's product")),
                         lambda n: f"μ_t = {num(n['mu'])}, μ_t+1 = {num(n['mu_next'])}"),
    optim.RAdam: Program(radam_lines, (_M, _V, Column("r", lambda n: n.info.get("rect") or math.nan,
                                                      "the rectification r_t (— while ρ_t ≤ 5)")),
                         lambda n: f"ρ_t = {num(n['rho'])}" + (", rectified" if "r" in n.val else ", not rectified")),
    optim.Adamax: Program(adamax_lines, (_M, _col("u", "exp_inf", "u, the decaying max of |g|"))),
    optim.Adadelta: Program(adadelta_lines, (_col("v", "square_avg", "v, the EMA of g²"),
                                             _col("u", "acc_delta", "u, the EMA of Δ²"))),
    optim.Adafactor: Program(adafactor_lines, (_col("v", "variance", "v, the EMA of g² with memory 1 − t^τ"),
                                               _col("α", "alpha", "α_t = max(ε2, RMS(θ))·ρ_t, the step size"))),
    optim.Lion: Program(lion_lines, (_M,), lambda n: "every step moves θ by exactly ±lr"),
    optim.AdEMAMix: Program(ademamix_lines, (_col("m1", "exp_avg_fast", "the fast EMA of g (β1)"),
                                             _col("m2", "exp_avg_slow", "the slow EMA of g (β3)"), _V),
                            lambda n: f"α_t = {num(n.new('alpha'))}, β3_t = {num(n.new('beta3'))}"),
    optim.ScheduleFreeAdamW: Program(schedulefree_lines, (_col("z", "z", "z, the base sequence"),
                                                          _col("x", "x", "x, the average: where to evaluate")),
                                     lambda n: f"evaluate at x = {num(n.new('x'))}; L(x) is the method's loss"),
    optim.ADOPT: Program(adopt_lines, (_M, _V)),
}


def program(opt_or_kind: optim.Optimizer | str) -> Program:
    """The program of an optimizer (or kind); ValueError for a kind without a one-parameter form (Muon)."""
    cls = optim.OPTIMIZERS[opt_or_kind].cls if isinstance(opt_or_kind, str) else type(opt_or_kind)
    if cls not in PROGRAMS:
        raise ValueError(f"{cls.__name__} has no one-parameter form to step through (the stepper offers "
                         f"{', '.join(STEPPABLE)})")
    return PROGRAMS[cls]


# the kinds the stepper offers, in the registry's order: all but Muon (matrices only)
STEPPABLE = [k for k, spec in optim.OPTIMIZERS.items() if spec.cls in PROGRAMS]
