"""The one table of optimizer hyperparameters the panels build their controls from, without Qt.

Names, ranges and defaults per optimizer kind, and the mapping between an editor's knob names (β1, β2, β3 as
separate numbers; AdEMAMix's ``mix_alpha``; Adafactor's ``eps2``) and the core constructors' keyword arguments.
Qt-free so a training child process can map a live knob without importing a widget toolkit.
"""

from __future__ import annotations

from typing import Any

from adamlab.ui.schema import Fields

# The one table of hyperparameter ranges: the EMA playground, the stepper, the arena and the monitor all build
# their controls from it, so a value allowed in one panel is allowed in every other. Wide enough for what people
# try — lr down to 1e-6, β up to 0.99999 (memory 100,000 steps), ε up to 1 — and inside what the core accepts.
# A typed value outside a range is set to the limit and the control says so (controls._AnnouncedRange).
# name → (label, min, max, scale, decimals, tooltip)
KNOBS: dict[str, tuple[str, float, float, str, int, str]] = {
    "lr": ("lr", 1e-6, 10.0, "log", 8, "Learning rate: the size of each step (log slider, 1e-06 … 10)."),
    "momentum": ("μ", 0.0, 0.999, "beta", 3,
                 "Momentum: buf ← μ·buf + g; the step follows the running sum of gradients."),
    "beta1": ("β1", 0.0, 0.99999, "beta", 5,
              "β1: decay of the first moment m ← β1·m + (1−β1)·g (memory ≈ 1/(1−β1) steps)."),
    "beta2": ("β2", 0.0, 0.99999, "beta", 5,
              "β2: decay of the second moment v ← β2·v + (1−β2)·g² (memory ≈ 1/(1−β2) steps)."),
    "beta3": ("β3", 0.0, 0.99999, "beta", 5,
              "β3: decay of AdEMAMix's slow EMA m2 ← β3·m2 + (1−β3)·g (memory ≈ 1/(1−β3) steps: 10,000 at "
              "0.9999)."),
    "alpha": ("α", 0.0, 0.99999, "beta", 5, "RMSprop's smoothing: v ← α·v + (1−α)·g²."),
    "rho": ("ρ", 0.0, 0.99999, "beta", 5,
            "Adadelta's decay of both running averages, of g² and of the squared steps (its β2)."),
    "eps": ("ε", 1e-12, 1.0, "log", 12, "ε in the denominator √v̂ + ε: caps the step where v̂ is tiny."),
    "weight_decay": ("wd", 0.0, 1.0, "linear", 4,
                     "Weight decay. Adam/SGD: L2 added to the gradient; AdamW: θ ← θ(1 − lr·wd), decoupled."),
    "lr_decay": ("decay", 0.0, 1.0, "linear", 4, "Adagrad's lr decay: lr / (1 + (t−1)·decay)."),
    "momentum_decay": ("ψ", 0.0, 0.1, "linear", 4,
                       "NAdam's momentum warm-up ψ: μ_t = β1·(1 − ½·0.96^(t·ψ)) grows from β1/2 towards β1; "
                       "at torch's ψ = 0.004 it is halfway there after ~4,250 steps."),
    "mix_alpha": ("α", 0.0, 50.0, "linear", 2,
                  "AdEMAMix's α: the weight of the slow EMA in the step (m1/(1−β1ᵗ) + α·m2)/(√v̂ + ε); the paper "
                  "uses 5 to 10."),
    "alpha_warmup": ("T_α", 0.0, 100_000.0, "linear", 0,
                     "Steps over which AdEMAMix's α grows linearly from 0 (0: none). The paper warms up over the "
                     "whole run, so the huge early slow EMA cannot throw the weights off."),
    "beta3_warmup": ("T_β3", 0.0, 100_000.0, "linear", 0,
                     "Steps over which β3's half-life grows linearly from β1's to β3's (0: none)."),
    "eps2": ("ε2", 1e-8, 1.0, "log", 8,
             "Adafactor's floor on RMS(θ) in its relative step lr·max(ε2, RMS(θ)): near θ = 0 it steps lr·ε2."),
    "beta2_decay": ("τ", -2.0, 0.0, "linear", 2,
                    "Adafactor's second-moment schedule β2_t = 1 − t^τ (torch's τ = −0.8): v's memory grows "
                    "with t."),
    "d": ("d", 1.0, 100.0, "log", 2, "Adafactor's update clipping: the update is divided by max(1, RMS(U)/d)."),
    "warmup_steps": ("warm-up", 0.0, 100_000.0, "linear", 0,
                     "Schedule-free AdamW's linear lr warm-up in steps: the only schedule it wants."),
    "r": ("r", 0.0, 10.0, "linear", 2,
          "Schedule-free's averaging power: x weights step k by (k+1)^r (r = 0: a plain average of z)."),
    "weight_lr_power": ("p", 0.0, 10.0, "linear", 2,
                        "Schedule-free's weights ∝ lr_max^p (default 2): steps taken during the warm-up count less."),
    "clip_exponent": ("clip", 0.0, 1.0, "linear", 3,
                      "ADOPT clips the normalised gradient at t^p (the reference's p = 0.25)."),
    "ns_steps": ("NS", 0.0, 20.0, "linear", 0, "Muon's Newton–Schulz iterations (5: singular values in ~[0.7, 1.2])."),
}
# Knobs whose value is a whole number of steps (the sliders hold floats; the core wants ints).
INT_KNOBS = {"alpha_warmup", "beta3_warmup", "warmup_steps", "ns_steps"}
# Step counts where the core takes None for "none": the editor shows 0.
NONE_AT_ZERO = {"alpha_warmup", "beta3_warmup"}


FLAGS = {
    "nesterov": "Nesterov: step along g + μ·buf (look ahead) instead of buf.",
    "centered": "Centered RMSprop: divide by √(v − mean(g)²), an estimate of the gradient's variance.",
    "amsgrad": "AMSGrad: use the running maximum of v, so the effective lr never grows.",
    "decoupled_weight_decay": "Decoupled weight decay θ ← θ(1 − lr·wd), as AdamW (NAdamW, RAdamW), instead of L2 "
                              "in the gradient.",
    "decouple": "ADOPT with decoupled (AdamW-style) weight decay instead of L2 in the gradient.",
}
_B = {"beta1": 0.9, "beta2": 0.999, "eps": 1e-8}  # Adam's β1, β2, ε (torch's defaults)
# Which knobs each optimizer kind shows, with the defaults the arena and the monitor start from
# (torch's defaults, or the authors' where torch has no such optimizer; μ = 0.9 as is customary).
KIND_KNOBS: dict[str, dict[str, Any]] = {
    "sgd": {"lr": 1e-3, "weight_decay": 0.0},
    "momentum": {"lr": 1e-3, "momentum": 0.9, "weight_decay": 0.0},
    "nesterov": {"lr": 1e-3, "momentum": 0.9, "weight_decay": 0.0},
    "adagrad": {"lr": 1e-2, "lr_decay": 0.0, "eps": 1e-10, "weight_decay": 0.0},
    "rmsprop": {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8, "momentum": 0.0, "weight_decay": 0.0, "centered": False},
    "adam": {"lr": 1e-3, **_B, "weight_decay": 0.0},
    "amsgrad": {"lr": 1e-3, **_B, "weight_decay": 0.0},
    "adamw": {"lr": 1e-3, **_B, "weight_decay": 1e-2},
    "nadam": {"lr": 2e-3, **_B, "momentum_decay": 0.004, "weight_decay": 0.0, "decoupled_weight_decay": False},
    "radam": {"lr": 1e-3, **_B, "weight_decay": 0.0, "decoupled_weight_decay": False},
    "adamax": {"lr": 2e-3, **_B, "weight_decay": 0.0},
    "adadelta": {"lr": 1.0, "rho": 0.9, "eps": 1e-6, "weight_decay": 0.0},
    "adafactor": {"lr": 1e-2, "beta2_decay": -0.8, "eps2": 1e-3, "d": 1.0, "weight_decay": 0.0},
    "muon": {"lr": 1e-3, "momentum": 0.95, "weight_decay": 0.1, "ns_steps": 5, "nesterov": True},
    "muon_adamw": {"lr": 1e-2, "momentum": 0.95, "beta1": 0.9, "beta2": 0.95, "eps": 1e-8, "weight_decay": 0.1,
                   "ns_steps": 5, "nesterov": True},
    "lion": {"lr": 1e-4, "beta1": 0.9, "beta2": 0.99, "weight_decay": 0.0},
    "ademamix": {"lr": 1e-3, **_B, "beta3": 0.9999, "mix_alpha": 2.0, "alpha_warmup": 0, "beta3_warmup": 0,
                 "weight_decay": 0.0},
    "schedulefree_adamw": {"lr": 2.5e-3, **_B, "weight_decay": 0.0, "warmup_steps": 0, "r": 0.0,
                           "weight_lr_power": 2.0},
    "adopt": {"lr": 1e-3, "beta1": 0.9, "beta2": 0.9999, "eps": 1e-6, "clip_exponent": 0.25, "weight_decay": 0.0,
              "decouple": False},
}


def knob_schema(kind: str) -> Fields:
    """What an editor of ``kind`` may hold (each knob in its KNOBS range, flags true or false), for saved
    settings and scenario files — without building the editor."""
    from adamlab.ui.schema import Bool, Num

    return Fields({k: Bool() if k in FLAGS else Num(*KNOBS[k][1:3]) for k in KIND_KNOBS[kind]})


def to_core(values: dict[str, Any]) -> dict[str, Any]:
    """Editor values → keyword arguments of the core constructors: β1, β2 (and AdEMAMix's β3) → ``betas``,
    AdEMAMix's ``mix_alpha`` → ``alpha``, Adafactor's ``eps2`` → ``eps = (None, eps2)``, step counts → ints
    (a warm-up of 0 → None)."""
    hyper = {k: v for k, v in values.items() if k not in ("beta1", "beta2", "beta3", "mix_alpha", "eps2")}
    if "beta1" in values:
        hyper["betas"] = (values["beta1"], values["beta2"]) + ((values["beta3"],) if "beta3" in values else ())
    if "mix_alpha" in values:
        hyper["alpha"] = values["mix_alpha"]
    if "eps2" in values:
        hyper["eps"] = (None, values["eps2"])
    for k in INT_KNOBS & set(hyper):
        hyper[k] = int(round(hyper[k]))
        if k in NONE_AT_ZERO and hyper[k] == 0:
            hyper[k] = None
    return hyper


def from_core(hyper: dict[str, Any], kind: str | None = None) -> dict[str, Any]:
    """Core keyword arguments → editor values (the inverse of :func:`to_core`). AdEMAMix's ``alpha`` is
    told from RMSprop's by ``kind``, or by its three betas."""
    values = {k: v for k, v in hyper.items() if k != "betas"}
    betas = tuple(hyper.get("betas", ()))
    if betas:
        values["beta1"], values["beta2"] = betas[:2]
        if len(betas) == 3:
            values["beta3"] = betas[2]
    if "alpha" in values and (kind == "ademamix" or len(betas) == 3):
        values["mix_alpha"] = values.pop("alpha")
    if isinstance(values.get("eps"), tuple):
        values["eps2"] = values.pop("eps")[1]
    for k in NONE_AT_ZERO & set(values):
        values[k] = 0 if values[k] is None else values[k]
    return values
