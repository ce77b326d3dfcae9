"""The optimizer kinds the GUI, the CLI and the Trainer offer: class, defaults, label and a description.

    make_optimizer("nadam", lr=1e-3)         # any kind of OPTIMIZERS, hyperparameters by torch's names
    optimizer_label("schedulefree_adamw")    # "Schedule-free AdamW"
    OPTIMIZERS["lion"].description           # one plain-language paragraph for a panel
    hyper_from_knobs("rmsprop", lr=..., betas=..., ...)   # the Trainer's generic knobs in a kind's names

A kind is a class plus defaults ("nesterov" is SGD with momentum 0.9 and nesterov=True). ``gpt_lr`` is a
learning rate that trains the tiny GPT well with that kind (measured on microgpt's names, 1000 steps,
batch 1, linear decay: see README "The optimizer zoo"); the CLI uses it when --lr is not given.
"""

from __future__ import annotations

import inspect
from typing import Any, NamedTuple

from adamlab.core.optim.adaptive import Adadelta, Adafactor, Adamax, NAdam, RAdam
from adamlab.core.optim.base import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop
from adamlab.core.optim.beyond import ADOPT, AdEMAMix, Lion, ScheduleFreeAdamW
from adamlab.core.optim.muon import Muon, MuonAdamW

__all__ = ["OptimizerKind", "OPTIMIZERS", "make_optimizer", "optimizer_label", "kind_arguments",
           "hyper_from_knobs", "OPTION_ALIASES"]


class OptimizerKind(NamedTuple):
    label: str                    # what a menu shows
    cls: type                     # the class built
    defaults: dict[str, Any]      # overrides of the class defaults that define this kind
    description: str = ""         # one paragraph: what it changes relative to Adam, when it shines or fails
    gpt_lr: float | None = None   # a learning rate that trains the tiny GPT well (None: TrainConfig's 0.01)


OPTIMIZERS: dict[str, OptimizerKind] = {
    "sgd": OptimizerKind("SGD", SGD, {}, (
        "Plain gradient descent, θ ← θ − lr·g. Compared with Adam there is no memory and no per-coordinate "
        "scaling: the step is proportional to the gradient, so it crawls along flat valley floors and bounces "
        "between steep walls, and its usable lr is set by the steepest direction (below 2/λ_max on a "
        "quadratic). The baseline everything else is measured against; tuned, with a schedule, it still "
        "generalises very well."), 0.3),
    "momentum": OptimizerKind("SGD + momentum", SGD, {"momentum": 0.9}, (
        "SGD whose step follows a running sum of gradients, buf ← μ·buf + g: Adam's m without the division "
        "by √v. Directions where gradients agree build up speed (up to 1/(1 − μ) = 10× at μ = 0.9), "
        "zig-zags across a narrow valley cancel out. It overshoots and oscillates when lr × curvature is "
        "too large, and it does not adapt to gradients of very different sizes in different coordinates."), 0.03),
    "nesterov": OptimizerKind("Nesterov", SGD, {"momentum": 0.9, "nesterov": True}, (
        "Momentum that looks ahead: the step uses g + μ·buf, the gradient corrected by where the momentum "
        "is about to carry the weights. It damps plain momentum's overshoot and tolerates a slightly larger "
        "lr; otherwise the same strengths and weaknesses (no per-coordinate scaling)."), 0.03),
    "adagrad": OptimizerKind("Adagrad", Adagrad, {}, (
        "Divides each coordinate's step by the root of the sum of all its past squared gradients: Adam's "
        "√v without forgetting. Rare features keep large steps and frequent ones get small steps, which "
        "shines on sparse problems; but the sum only grows, so the effective lr decays for ever and long "
        "runs stall — what RMSprop and Adam fixed with an exponential average."), 0.1),
    "rmsprop": OptimizerKind("RMSprop", RMSprop, {}, (
        "Adagrad with an exponential moving average of g² instead of a sum: each coordinate steps g/√v, "
        "about lr whatever the gradient's scale. It is Adam without the momentum m and without bias "
        "correction (so with α near 1 its first steps are much larger than lr). Good on non-stationary "
        "problems, noisy without momentum."), 0.01),
    "adam": OptimizerKind("Adam", Adam, {}, (
        "The reference: a momentum m (EMA of g, β1) divided by √v (EMA of g², β2), both bias-corrected, so "
        "each coordinate moves about lr per step in the direction recent gradients agree on. Robust to the "
        "gradient's scale and to ill-conditioning along the axes (not along rotated directions). Its L2 "
        "weight decay is divided by √v too, which weakens it where gradients are large (AdamW fixes that); "
        "it can fail to converge on contrived problems (AMSGrad, ADOPT) and wants a decaying lr at the end."), 0.01),
    "amsgrad": OptimizerKind("AMSGrad", Adam, {"amsgrad": True}, (
        "Adam dividing by the running maximum of v instead of v, so a coordinate's effective lr can never "
        "grow back after a large gradient. This repairs Adam's convergence counter-examples; in practice it "
        "is rarely better and often a little slower, since one early spike keeps that step small for ever."), 0.01),
    "adamw": OptimizerKind("AdamW", AdamW, {}, (
        "Adam with decoupled weight decay: the weights shrink by lr·wd each step outside the √v division, "
        "instead of wd·θ being added to the gradient. Decay then acts equally on every weight, as "
        "regularisation is meant to, and the best lr and wd become nearly independent. The default for "
        "training transformers."), 0.01),
    "nadam": OptimizerKind("NAdam", NAdam, {}, (
        "Adam with Nesterov momentum: each step mixes this gradient with the momentum looked one step ahead, "
        "and the momentum coefficient warms up over the first few hundred steps (momentum_decay). It "
        "reacts a step sooner than Adam when the gradient turns; usually a small gain early in training. "
        "decoupled_weight_decay=True makes it NAdamW."), 0.01),
    "radam": OptimizerKind("RAdam", RAdam, {}, (
        "Rectified Adam: while v rests on too few gradients to be trusted (with β2 = 0.999, the first 5 "
        "steps) it takes plain momentum-SGD steps, then Adam steps scaled by a factor r_t that rises towards "
        "1. A warm-up derived from the variance of v: less sensitive to a large lr at the start, the same as "
        "Adam later."), 0.01),
    "adamax": OptimizerKind("Adamax", Adamax, {}, (
        "Adam with the infinity norm: it divides by a decaying maximum of |g|, u = max(β2·u, |g|), instead "
        "of the root mean square. u needs no bias correction and is steadier under rare outliers in "
        "magnitude; with β2 near 1 a single huge gradient dominates the denominator for a long time."), 0.03),
    "adadelta": OptimizerKind("Adadelta", Adadelta, {}, (
        "No learning rate in the original: each step is g × RMS(past steps)/RMS(past gradients), so the "
        "step has the units of θ. It adapts per coordinate like RMSprop but starts with tiny steps (√ε) and "
        "grows them, slow to get going; rarely better than Adam today. torch's lr (default 1) scales it."), 10.0),
    "adafactor": OptimizerKind("Adafactor", Adafactor, {}, (
        "Adam's memory-saving sibling: for a matrix it keeps only the row and column averages of g² (R + C "
        "numbers instead of R·C) and rebuilds v as their product; no momentum, a step size relative to the "
        "weights' own RMS, and clipping of oversized updates. Shines when optimizer memory is the limit "
        "(large language models); the rank-1 v is coarse, so it is noisier than Adam on small models. On a "
        "stack of points it factors across the points: each point must be its own tensor."), 0.1),
    "muon": OptimizerKind("Muon", Muon, {}, (
        "For weight matrices: momentum like SGD, then the step is replaced by the nearest orthogonal matrix "
        "(a few Newton–Schulz iterations push all its singular values towards 1). Where Adam equalises "
        "coordinates, Muon equalises directions: rare directions of the gradient get as large a step as the "
        "dominant one. Behind the 2024–25 speed records for training small GPTs. Only for 2-D hidden layers: "
        "embeddings, the head and vectors belong to AdamW (Muon + AdamW); on a single vector it would be "
        "just normalised momentum, so it is not offered for points."), 0.01),
    "muon_adamw": OptimizerKind("Muon + AdamW", MuonAdamW, {}, (
        "How Muon is used on a transformer: Muon on the hidden 2-D weight matrices, AdamW on the token and "
        "position embeddings, the output head and any vector. With the default 'match_rms_adamw' lr "
        "adjustment Muon's step has AdamW's size, so both halves share one lr and one weight decay. "
        "routes() lists which tensor uses which."), 0.01),
    "lion": OptimizerKind("Lion", Lion, {}, (
        "Found by a program search at Google: the step is lr·sign(β1·m + (1 − β1)·g), so every coordinate "
        "moves by exactly ±lr, and the momentum m is then updated with a slower β2. One state array instead "
        "of two, and the step ignores the gradient's size entirely: good with large batches, but it needs an "
        "lr 3–10× smaller than AdamW's and a larger weight decay, and its fixed step is far too big on a tiny "
        "bowl and far too small on a huge one."), 0.001),
    "ademamix": OptimizerKind("AdEMAMix", AdEMAMix, {}, (
        "Adam plus a second, very slow momentum (β3 = 0.9999: ~10,000 steps of memory) added to the fast one "
        "with weight α. Old gradients keep contributing long after Adam has forgotten them, which helps long, "
        "noisy runs (fewer tokens to the same loss in the paper). The slow average needs α and β3 warm-ups "
        "(alpha_warmup, beta3_warmup) and can overshoot on short runs or when the landscape changes fast."), 0.01),
    "schedulefree_adamw": OptimizerKind("Schedule-free AdamW", ScheduleFreeAdamW, {}, (
        "AdamW without a learning-rate schedule: gradients are taken at y, between a base sequence z of "
        "AdamW-like steps and its running average x, and the model is evaluated at x (eval()) and trained at "
        "y (train()). The averaging does what a decaying schedule would, without knowing the run's length. "
        "It wants a warm-up (warmup_steps), and its β1 interpolates between x and z rather than being a "
        "momentum. Use it with a constant schedule."), 0.01),
    "adopt": OptimizerKind("ADOPT", ADOPT, {}, (
        "Adam with two changes that make it converge for any β2: each gradient is divided by the previous "
        "√v, which does not contain it yet, and that normalisation happens before the momentum average (with "
        "a clip growing as t^¼). It fixes Adam's divergence cases without AMSGrad's slowdown; its first "
        "step only records v, and on easy problems it behaves much like Adam."), 0.01),
}


def _check_kind(kind: str) -> OptimizerKind:
    spec = OPTIMIZERS.get(kind) if isinstance(kind, str) else None
    if spec is None:
        raise ValueError(f"kind must be one of {sorted(OPTIMIZERS)}, got {kind!r}")
    return spec


def make_optimizer(kind: str, **hyper) -> Optimizer:
    """Build an optimizer by kind name (a key of OPTIMIZERS); ``hyper`` overrides its defaults."""
    spec = _check_kind(kind)
    allowed = set(spec.cls._VALIDATORS)
    unknown = set(hyper) - allowed
    if unknown:
        raise ValueError(f"unknown hyperparameter(s) for {kind!r}: {sorted(unknown)}; allowed: {sorted(allowed)}")
    return spec.cls(**{**spec.defaults, **hyper})


def optimizer_label(kind: str) -> str:
    """The display label of an optimizer kind, e.g. "amsgrad" -> "AMSGrad"."""
    return _check_kind(kind).label


def kind_arguments(kind: str) -> dict[str, Any]:
    """The kind's hyperparameters and their defaults (the class's, overridden by the kind's)."""
    spec = _check_kind(kind)
    params = inspect.signature(spec.cls.__init__).parameters
    out = {name: p.default for name, p in params.items() if name in spec.cls._VALIDATORS}
    out.update(spec.defaults)
    return out


# Options the generic knobs cannot express, accepted on top of the class's own argument names.
OPTION_ALIASES = {"ademamix": {"beta3": "betas[2]"}}


def hyper_from_knobs(kind: str, *, lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum=0.9,
                     options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The Trainer's generic knobs in the kind's own argument names, plus kind-specific ``options``.

    betas -> betas (AdEMAMix: (β1, β2, options "beta3" or its default)); β2 -> RMSprop's alpha and
    Adadelta's rho; eps -> eps, except for Adafactor (an (eps1, eps2) pair) and Muon (its normalisation
    floor), which keep their own unless given in options; weight_decay -> weight_decay; momentum ->
    momentum for the momentum kinds and Muon. ``options`` (argument name -> value) override the rest;
    "lr" is not an option (the lr knob and its schedule set it). Values are checked by the optimizer.
    """
    spec = _check_kind(kind)
    cls, allowed = spec.cls, spec.cls._VALIDATORS
    opts = dict(options or {})
    if "lr" in opts:
        raise ValueError("lr is not an optimizer option: it is the lr knob (--lr), which the schedule drives")
    unknown = set(opts) - set(allowed) - set(OPTION_ALIASES.get(kind, {}))
    if unknown:
        raise ValueError(f"unknown option(s) for {kind!r}: {sorted(unknown)}; allowed: "
                         f"{sorted((set(allowed) | set(OPTION_ALIASES.get(kind, {}))) - {'lr'})}")
    b1, b2 = betas
    h: dict[str, Any] = {"lr": lr}
    if cls is AdEMAMix:
        beta3 = opts.pop("beta3", kind_arguments(kind)["betas"][2])
        h["betas"] = (b1, b2, beta3)
    elif "betas" in allowed:
        h["betas"] = (b1, b2)
    if cls is RMSprop:
        h["alpha"] = b2                             # the decay of the squared-gradient average plays β2's role
    if cls is Adadelta:
        h["rho"] = b2
    if "eps" in allowed and cls not in (Adafactor, Muon):
        h["eps"] = eps
    if "weight_decay" in allowed:
        h["weight_decay"] = weight_decay
    if "momentum" in allowed and (spec.defaults.get("momentum") or cls in (Muon, MuonAdamW)):
        h["momentum"] = momentum
    h.update(opts)
    return h
