"""Every torch-backed optimizer against torch 2.13 itself: 200+ steps, a changing lr, every option.

Both sides start from the same weights and each computes its gradients from its own weights (so errors
would feed back), in float64; the NumPy side runs twice, on separate arrays and on views of one flat
buffer. Agreement is to round-off (relative 1e-10 after the run; typically ~1e-14).
Muon: torch runs Newton–Schulz in bfloat16; the comparison patches that cast to a no-op so torch's own
code runs in float64, and a second test compares with torch as shipped at bfloat16's precision.
"""

import functools
import itertools
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the reference optimizers are torch.optim's (CI installs torch==2.13.0)")

from adamlab.core import optim  # noqa: E402
from adamlab.core.optim import flatten  # noqa: E402

STEPS = 200
SHAPES = {"a": (5, 3), "b": (7,), "c": (2, 3, 4), "s": ()}
MATRICES = {"a": (5, 3), "b": (3, 6), "c": (4, 4)}          # Muon: 2-D only (tall, wide, square)


@functools.lru_cache(maxsize=None)
def noise(seed, shape):
    return 0.3 * np.random.default_rng(seed).standard_normal(shape)


def grad_of(x, seed):
    """A gradient that depends on the params (errors feed back) plus seeded noise."""
    return np.sin(3 * x) + 0.5 * x ** 3 - x + noise(seed, x.shape)


def lr_at(t, lr):
    return lr * (0.5 + 0.5 * math.cos(math.pi * t / STEPS)) + lr * 1e-2


def start(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(s) for k, s in shapes.items()}


def grads_for(hyper, params, t):
    """grad_of for each tensor; negated when maximizing, so that the ascent is bounded too."""
    sign = -1.0 if hyper.get("maximize") else 1.0
    return {k: sign * grad_of(np.asarray(p), 1000 * t + i) for i, (k, p) in enumerate(params.items())}


def run_torch(name, hyper, shapes, lr, steps=STEPS):
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)        # torch keeps NAdam's mu_product and step in this dtype
    try:
        params = {k: torch.tensor(v) for k, v in start(shapes).items()}
        kwargs = dict(hyper)
        if name != "Muon":
            kwargs["foreach"] = False             # the single-tensor path, which ours transcribes
        opt = getattr(torch.optim, name)(list(params.values()), **kwargs)
        for t in range(steps):
            for group in opt.param_groups:
                group["lr"] = lr_at(t, lr)
            for k, g in grads_for(hyper, {k: p.numpy() for k, p in params.items()}, t).items():
                params[k].grad = torch.tensor(g)
            opt.step()
        return {k: p.numpy().copy() for k, p in params.items()}
    finally:
        torch.set_default_dtype(old)


def run_ours(name, hyper, shapes, lr, flat, steps=STEPS):
    opt = getattr(optim, name)(**hyper)
    if flat:
        params, grads = flatten(start(shapes)).views, flatten(shapes).views
    else:
        params, grads = start(shapes), None
    for t in range(steps):
        opt.lr = lr_at(t, lr)
        gs = grads_for(hyper, params, t)
        if grads is not None:
            for k in gs:
                grads[k][...] = gs[k]
            gs = grads
        opt.step(params, gs)
    return params, opt


def rel_err(a, b):
    return max(np.max(np.abs(a[k] - b[k])) / max(np.max(np.abs(b[k])), 1e-300) for k in b)


def combos(**options):
    """Every combination of the given option values (dicts of hyperparameters)."""
    names = list(options)
    return [dict(zip(names, values)) for values in itertools.product(*options.values())]


CASES = (
    [("NAdam", 0.01, h) for h in combos(weight_decay=[0.0, 0.05], decoupled_weight_decay=[False, True],
                                        maximize=[False, True])]
    + [("NAdam", 0.01, {"betas": (0.8, 0.95), "momentum_decay": 0.02, "eps": 0.0}),
       ("NAdam", 0.01, {"momentum_decay": 0.0, "weight_decay": 0.05, "decoupled_weight_decay": True})]
    + [("RAdam", 0.01, h) for h in combos(weight_decay=[0.0, 0.05], decoupled_weight_decay=[False, True],
                                        maximize=[False, True])]
    + [("RAdam", 0.01, {"betas": (0.9, 0.9)}), ("RAdam", 0.01, {"betas": (0.5, 0.6)}),   # ρ∞ = 4: never rectified
       ("RAdam", 0.01, {"eps": 0.0})]
    + [("Adamax", 0.01, h) for h in combos(weight_decay=[0.0, 0.05], maximize=[False, True])]
    + [("Adamax", 0.01, {"betas": (0.5, 0.8), "eps": 0.0})]
    + [("Adadelta", 1.0, h) for h in combos(weight_decay=[0.0, 0.05], maximize=[False, True])]
    + [("Adadelta", 0.3, {"eps": 1e-3, "rho": 0.5}), ("Adadelta", 0.3, {"rho": 0.0}),
       ("Adadelta", 0.01, {"rho": 1.0})]
    + [("Adafactor", 0.01, h) for h in combos(eps=[(None, 1e-3), (1e-20, 0.5)], weight_decay=[0.0, 0.1],
                                            maximize=[False, True])]
    + [("Adafactor", 0.01, {"beta2_decay": -0.3, "d": 3.0}),
       ("Adafactor", 0.5, {"beta2_decay": -0.2, "eps": (0.0, 0.0)})]
    + [("SGD", 0.02, h) for h in combos(momentum=[0.0, 0.9], weight_decay=[0.0, 0.05], maximize=[False, True])]
    + [("SGD", 0.02, {"momentum": 0.9, "dampening": -0.5}), ("SGD", 0.02, {"momentum": 0.9, "dampening": 0.3}),
       ("SGD", 0.02, {"momentum": 0.9, "nesterov": True, "maximize": True, "weight_decay": 0.05})]
    + [("Adagrad", 0.1, h) for h in combos(weight_decay=[0.0, 0.05], maximize=[False, True])]
    + [("Adagrad", 0.1, {"eps": 0.0})]
    + [("RMSprop", 0.01, h) for h in combos(centered=[False, True], momentum=[0.0, 0.5], maximize=[False, True])]
    + [("RMSprop", 0.01, {"eps": 0.0, "weight_decay": 0.05}), ("RMSprop", 0.01, {"eps": 0.0, "centered": True})]
    + [("Adam", 0.01, h) for h in combos(weight_decay=[0.0, 0.05], decoupled_weight_decay=[False, True],
                                       maximize=[False, True], amsgrad=[False, True])]
    + [("Adam", 0.01, {"eps": 0.0}), ("AdamW", 0.01, {"maximize": True, "amsgrad": True, "weight_decay": 0.1})]
)


@pytest.mark.parametrize("name, lr, hyper", CASES, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(CASES)])
def test_matches_torch_over_200_steps(name, lr, hyper):
    with np.errstate(all="ignore"):                # eps = 0 may divide 0 by 0 somewhere: NaN on both sides
        ref = run_torch(name, hyper, SHAPES, lr)
        ours, opt = run_ours(name, hyper, SHAPES, lr, flat=False)
        flat, fopt = run_ours(name, hyper, SHAPES, lr, flat=True)
    assert all(np.isfinite(v).all() for v in ref.values())
    assert rel_err(ours, ref) < 1e-10
    assert rel_err(flat, ref) < 1e-10
    assert opt.t == fopt.t == STEPS


@pytest.mark.parametrize("maximize", [False, True])
def test_sgd_dampening_above_one_matches_torch(maximize):
    """dampening > 1 enters new gradients with a negative weight, so the buffer turns uphill: on the bowl
    ½‖x‖² the run grows geometrically, and 40 steps are compared (torch does not check dampening either)."""
    x0 = np.random.default_rng(4).standard_normal(6)
    tx = torch.tensor(x0)
    topt = torch.optim.SGD([tx], lr=0.05, momentum=0.9, dampening=1.5, maximize=maximize, foreach=False)
    x = x0.copy()
    opt = optim.SGD(lr=0.05, momentum=0.9, dampening=1.5, maximize=maximize)
    for _ in range(40):
        tx.grad = tx.detach().clone()
        topt.step()
        opt.step(x, x.copy())
    uphill = np.linalg.norm(x) > np.linalg.norm(x0)     # maximize on top of the negative weight: downhill
    assert np.all(np.isfinite(x)) and uphill != maximize
    np.testing.assert_allclose(x, tx.numpy(), rtol=1e-12)


MUON_CASES = (
    [("Muon", 0.02, h) for h in combos(nesterov=[True, False], adjust_lr_fn=[None, "original", "match_rms_adamw"])]
    + [("Muon", 0.02, {"momentum": 0.5, "weight_decay": 0.0}), ("Muon", 0.02, {"momentum": 0.0, "nesterov": False}),
       ("Muon", 0.02, {"weight_decay": 0.3, "nesterov": False, "adjust_lr_fn": "match_rms_adamw"})]
    + [("Muon", 0.02, {"ns_steps": 2, "ns_coefficients": (2.0, -1.5, 0.5)}),
       ("Muon", 0.02, {"ns_steps": 0}), ("Muon", 0.02, {"eps": 1e-3, "ns_steps": 3})]
)


@pytest.mark.parametrize("name, lr, hyper", MUON_CASES, ids=[f"{n}-{i}" for i, (n, _, _) in enumerate(MUON_CASES)])
def test_muon_matches_torch_in_float64(name, lr, hyper, monkeypatch):
    """torch's own Muon code with its bfloat16 cast turned into a float64 copy."""
    monkeypatch.setattr(torch.Tensor, "bfloat16", lambda self, *a, **k: self.clone(), raising=False)
    ref = run_torch(name, hyper, MATRICES, lr)
    ours, _ = run_ours(name, hyper, MATRICES, lr, flat=False)
    flat, _ = run_ours(name, hyper, MATRICES, lr, flat=True)
    assert rel_err(ours, ref) < 1e-10
    assert rel_err(flat, ref) < 1e-10


@pytest.mark.parametrize("shape", [(6, 4), (4, 9), (8, 8), (1, 5), (5, 1)])
@pytest.mark.parametrize("steps, eps, scale", [(5, 1e-7, 1.0), (0, 1e-7, 1.0), (12, 1e-7, 1.0), (5, 1e-3, 1e-6)])
def test_newton_schulz_is_torchs_in_float64(shape, steps, eps, scale, monkeypatch):
    """The orthogonalisation alone, against torch's _zeropower_via_newtonschulz (bfloat16 cast patched out),
    including a gradient so small that eps floors its norm."""
    from torch.optim._muon import _zeropower_via_newtonschulz
    monkeypatch.setattr(torch.Tensor, "bfloat16", lambda self, *a, **k: self.clone(), raising=False)
    G = np.random.default_rng(2).standard_normal(shape) * scale
    ref = _zeropower_via_newtonschulz(torch.tensor(G), optim.NS_COEFFICIENTS, steps, eps).numpy()
    np.testing.assert_allclose(optim.newton_schulz(G, optim.NS_COEFFICIENTS, steps, eps), ref, rtol=1e-12,
                               atol=1e-14)


def test_muon_matches_torch_as_shipped_to_bfloat16_precision():
    """One step from the same weights and gradient: torch (bfloat16 Newton–Schulz) and ours (float64)
    move the weights by the same update to bfloat16's ~3 significant digits."""
    rng = np.random.default_rng(1)
    for shape in [(6, 4), (4, 9), (8, 8)]:
        w0, g = rng.standard_normal(shape), rng.standard_normal(shape)
        tw = torch.tensor(w0)
        tw.grad = torch.tensor(g)
        torch.optim.Muon([tw], lr=0.02, weight_decay=0.0).step()
        w = w0.copy()
        optim.Muon(lr=0.02, weight_decay=0.0).step(w, g)
        d_torch, d_ours = tw.numpy() - w0, w - w0
        assert np.linalg.norm(d_ours - d_torch) / np.linalg.norm(d_torch) < 2e-2


def test_torch_defaults_are_ours():
    """Every torch-backed class has torch's argument names and defaults (ours add ``maximize`` where torch has
    none, and Adafactor/Muon use keyword-only flags the same way)."""
    import inspect
    for name in ["SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "NAdam", "RAdam", "Adamax", "Adadelta", "Adafactor",
                 "Muon"]:
        theirs = {k: p.default for k, p in inspect.signature(getattr(torch.optim, name)).parameters.items()
                  if k not in ("params", "foreach", "capturable", "differentiable", "fused")}
        ours = getattr(optim, name)().hyperparameters()
        if name == "Muon":
            ours.pop("maximize")                   # torch's Muon has no maximize
        assert set(ours) == set(theirs), name
        for k, v in theirs.items():
            assert ours[k] == v or (isinstance(v, tuple) and tuple(ours[k]) == v), (name, k, ours[k], v)


def test_muon_refuses_non_matrices_like_torch():
    with pytest.raises(ValueError, match="2D parameters"):
        torch.optim.Muon([torch.zeros(3)])
    with pytest.raises(ValueError, match=r"params\['b'\] has shape \(3,\): Muon only supports 2-D"):
        optim.Muon().step({"a": np.zeros((2, 2)), "b": np.zeros(3)}, {"a": np.ones((2, 2)), "b": np.ones(3)})
