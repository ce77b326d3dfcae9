"""The optimizers beyond the classic five, without torch: hand-worked first steps from the papers' update
rules (Lion, AdEMAMix, schedule-free AdamW, ADOPT, RAdam's switch, NAdam's μ), Muon's orthogonalisation
against the SVD, maximize, refusals, state_dict round trips, batched learning rates, the flat path, the
registry. The numbers below are worked out from the formulas in the papers, not read off the code."""

import math

import numpy as np
import pytest

from adamlab.core import optim
from adamlab.core.optim import (
    ADOPT, OPTIMIZERS, AdEMAMix, Lion, Muon, MuonAdamW, NAdam, RAdam, ScheduleFreeAdamW, flatten, make_optimizer,
)

ROWS_KINDS = [k for k, spec in OPTIMIZERS.items() if spec.cls.ROWS_INDEPENDENT]
MATRIX_KINDS = [k for k, spec in OPTIMIZERS.items() if not spec.cls.ROWS_INDEPENDENT]


# ---------------------------------------------------------------------------------------------------------
# hand-worked steps

def test_lion_first_two_steps_by_hand():
    """θ ← θ(1 − lr·wd); θ ← θ − lr·sign(β1·m + (1 − β1)·g); m ← β2·m + (1 − β2)·g."""
    x = np.array([1.0, -2.0, 3.0])
    opt = Lion(lr=0.1, betas=(0.9, 0.99), weight_decay=0.1)
    opt.step(x, np.array([0.5, -3.0, 0.0]))        # c = 0.1·g = (0.05, −0.3, 0): signs (+, −, 0)
    np.testing.assert_allclose(x, [1.0 * 0.99 - 0.1, -2.0 * 0.99 + 0.1, 3.0 * 0.99], rtol=1e-15)
    np.testing.assert_allclose(opt.inspect()["m"], [0.005, -0.03, 0.0], rtol=1e-15)
    opt.step(x, np.array([-0.2, -1.0, 0.0]))
    # c = 0.9·(0.005, −0.03, 0) + 0.1·(−0.2, −1, 0) = (−0.0155, −0.127, 0): the first coordinate flips
    np.testing.assert_allclose(x, [0.89 * 0.99 + 0.1, -1.88 * 0.99 + 0.1, 2.97 * 0.99], rtol=1e-15)
    np.testing.assert_allclose(opt.inspect()["m"], [0.99 * 0.005 - 0.002, 0.99 * -0.03 - 0.01, 0.0], rtol=1e-14)


def test_lion_moves_every_coordinate_by_exactly_lr_whatever_the_gradient_scale():
    g = np.array([1e-8, -1e8, 3.0, -1e-300])
    x = np.zeros(4)
    Lion(lr=0.01).step(x, g)
    np.testing.assert_array_equal(x, -0.01 * np.sign(g))


def test_ademamix_first_step_by_hand():
    lr, (b1, b2, b3), alpha, eps = 0.01, (0.9, 0.999, 0.9999), 2.0, 1e-8
    x, g = np.array([1.0]), np.array([0.5])
    AdEMAMix(lr=lr).step(x, g)
    m1, m2, v = (1 - b1) * 0.5, (1 - b3) * 0.5, (1 - b2) * 0.25        # 0.05, 5e-5, 2.5e-4
    denom = math.sqrt(v) / math.sqrt(1 - b2) + eps                      # 0.5 + 1e-8
    assert x[0] == pytest.approx(1.0 - lr * (m1 / (1 - b1) + alpha * m2) / denom, rel=1e-14)
    assert x[0] == pytest.approx(1.0 - 0.01 * 0.5001 / 0.50000001, rel=1e-14)


def test_ademamix_warmups_by_hand():
    """Step 1 of 10 warm-up steps: α_1 = α/10; β3_1 has the half-life 9/10 of β1's plus 1/10 of β3's."""
    opt = AdEMAMix(lr=0.01, alpha=5.0, alpha_warmup=10, beta3_warmup=10)
    x = np.array([0.0])
    opt.step(x, np.array([1.0]))
    info = opt.inspect()
    assert info["alpha"] == pytest.approx(0.5, rel=1e-15)
    half_life = lambda b: math.log(0.5) / math.log(b + 1e-8) - 1             # noqa: E731
    t = 0.9 * half_life(0.9) + 0.1 * half_life(0.9999)                     # ≈ 0.9·5.58 + 0.1·6930.5
    assert info["beta3"] == pytest.approx(0.5 ** (1 / (t + 1)), rel=1e-15)
    assert 0.998 < info["beta3"] < 0.9991
    np.testing.assert_allclose(info["m_slow"], [1 - info["beta3"]], rtol=1e-15)
    assert opt.schedules(10) == (5.0, 0.9999) and opt.schedules(500) == (5.0, 0.9999)


def test_ademamix_with_alpha_0_and_beta3_irrelevant_is_adam():
    """(m1/bc1 + 0·m2)/(√v/√bc2 + ε): Adam with torch's ε placement (up to the m update's arithmetic)."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(5), None
    b = a.copy()
    o1, o2 = AdEMAMix(lr=0.02, alpha=0.0), optim.Adam(lr=0.02)
    for _ in range(50):
        g = np.sin(3 * a) + 0.1
        o1.step(a, g)
        o2.step(b, np.sin(3 * b) + 0.1)
    np.testing.assert_allclose(a, b, rtol=1e-12)


def test_schedulefree_first_two_steps_by_hand():
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    opt = ScheduleFreeAdamW(lr=lr, betas=(b1, b2), eps=eps)
    y = np.array([1.0])
    opt.step(y, np.array([2.0]))
    # k = 0: lr_1 = lr·√(1 − β2) and c = w/W = 1, so x = z = y
    lr1 = lr * math.sqrt(1 - b2)
    v = (1 - b2) * 4.0
    z1 = 1.0 - lr1 * 2.0 / (math.sqrt(v) + eps)                  # ≈ 0.9: the first step is ≈ −lr·sign(g)
    assert y[0] == pytest.approx(z1, rel=1e-15) and abs(z1 - 0.9) < 1e-7
    opt.step(y, np.array([1.0]))
    lr2 = lr * math.sqrt(1 - b2 ** 2)
    c = lr2 ** 2 / (lr1 ** 2 + lr2 ** 2)                         # weights ∝ lr_max², lr_max = lr2
    v = b2 * v + (1 - b2) * 1.0
    z2 = z1 - lr2 * 1.0 / (math.sqrt(v) + eps)
    x2 = (1 - c) * z1 + c * z2
    assert y[0] == pytest.approx(b1 * x2 + (1 - b1) * z2, rel=1e-15)
    info = opt.inspect()
    assert info["x"][0] == pytest.approx(x2, rel=1e-15) and info["z"][0] == pytest.approx(z2, rel=1e-15)


def test_schedulefree_x_is_the_plain_mean_of_z_without_lr_weighting():
    """With weight_lr_power 0 and r 0 every weight is 1, so c_k = 1/(k+1) and x is the mean of z_1..z_k."""
    opt = ScheduleFreeAdamW(lr=0.05, weight_lr_power=0.0, warmup_steps=0)
    y, zs = np.array([2.0, -1.0]), []
    for t in range(30):
        opt.step(y, 2 * y + np.cos(t))
        zs.append(opt.inspect()["z"])
    np.testing.assert_allclose(opt.inspect()["x"], np.mean(zs, axis=0), rtol=1e-12)


def test_schedulefree_warmup_ramps_the_lr_and_eval_train_swap_x_and_y_bit_for_bit():
    opt = ScheduleFreeAdamW(lr=0.1, warmup_steps=4)
    params = flatten({"w": np.array([[1.0, -2.0]]), "b": np.array([0.5])}).views
    grads = flatten({"w": (1, 2), "b": (1,)}).views
    lrs = []
    for t in range(6):
        grads["w"][...], grads["b"][...] = params["w"] * 2, params["b"] - 1
        opt.step(params, grads)
        lrs.append(opt.inspect("w")["lr_t"])
    bc = [math.sqrt(1 - 0.999 ** k) for k in range(1, 7)]
    np.testing.assert_allclose(lrs, [0.1 * min(k / 4, 1) * bc[k - 1] for k in range(1, 7)], rtol=1e-15)
    y = {k: v.copy() for k, v in params.items()}
    info = opt.inspect("w")
    opt.eval(params)
    assert not opt.training
    np.testing.assert_array_equal(params["w"], info["x"])
    with pytest.raises(ValueError, match="eval mode"):
        opt.step(params, grads)
    d = opt.state_dict()                           # the mode is state: a resumed run knows it holds x
    other = ScheduleFreeAdamW()
    other.load_state_dict(d)
    assert not other.training
    opt.train(params)
    assert opt.training
    for k in y:
        np.testing.assert_array_equal(params[k], y[k])


def test_adopt_first_three_steps_by_hand():
    lr, b1, b2, eps = 0.1, 0.9, 0.9999, 1e-6
    x = np.array([1.0, 1.0])
    opt = ADOPT(lr=lr, betas=(b1, b2), eps=eps)
    opt.step(x, np.array([2.0, 1e-9]))             # step 1 only records v = g²
    np.testing.assert_array_equal(x, [1.0, 1.0])
    np.testing.assert_allclose(opt.inspect()["v"], [4.0, 1e-18], rtol=1e-15)
    opt.step(x, np.array([1.0, 1.0]))              # n = g/max(√v, ε) = (0.5, 1e6) clipped to ±1^¼ = ±1
    m = np.array([(1 - b1) * 0.5, (1 - b1) * 1.0])
    np.testing.assert_allclose(x, 1.0 - lr * m, rtol=1e-15)
    v = b2 * np.array([4.0, 1e-18]) + (1 - b2) * 1.0
    np.testing.assert_allclose(opt.inspect()["v"], v, rtol=1e-15)
    before = x.copy()
    opt.step(x, np.array([-4.0, 0.5]))             # the clip is now 2^¼
    clip = 2 ** 0.25
    n = np.clip(np.array([-4.0, 0.5]) / np.sqrt(v), -clip, clip)  # (−2.0001, 50) -> (−2.0001 → −1.19, 1.19)
    assert n[0] == -clip and n[1] == clip
    m = b1 * m + (1 - b1) * n
    np.testing.assert_allclose(x, before - lr * m, rtol=1e-14)


def test_adopt_without_clipping_takes_the_huge_step_the_clip_prevents():
    x = np.array([1.0])
    opt = ADOPT(lr=0.1, clip_exponent=None)
    opt.step(x, np.array([1e-9]))
    opt.step(x, np.array([1.0]))                   # n = 1/max(1e-9, 1e-6) = 1e6
    assert x[0] == pytest.approx(1.0 - 0.1 * 0.1 * 1e6, rel=1e-12)


def test_radam_switches_to_adaptive_steps_at_step_6_for_beta2_0999():
    """ρ∞ = 2/(1 − β2) − 1 = 1999; ρ_t = ρ∞ − 2t·β2ᵗ/(1 − β2ᵗ): 4.996 at t = 5, 5.99 at t = 6."""
    opt = RAdam(betas=(0.9, 0.999))
    for t, expect in [(5, None), (6, "rectified")]:
        rho = 1999 - 2 * t * 0.999 ** t / (1 - 0.999 ** t)
        got_rho, rect = opt.rectification(t)
        assert got_rho == pytest.approx(rho, rel=1e-12)
        assert (rect is None) == (expect is None)
    rho6 = 1999 - 12 * 0.999 ** 6 / (1 - 0.999 ** 6)
    assert opt.rectification(6)[1] == pytest.approx(math.sqrt((rho6 - 4) * (rho6 - 2) * 1999 / (1995 * 1997 * rho6)))
    x = np.array([0.0])
    opt = RAdam(lr=0.1)
    opt.step(x, np.array([3.0]))                   # t = 1: θ − lr·m̂ = −0.1·3: SGD with momentum, no division
    assert x[0] == pytest.approx(-0.3, rel=1e-15)


def test_nadam_momentum_schedule_by_hand():
    opt = NAdam(lr=0.1, betas=(0.9, 0.999), momentum_decay=4e-3)
    x, g = np.array([0.0]), np.array([2.0])
    opt.step(x, g)
    mu1, mu2 = 0.9 * (1 - 0.5 * 0.96 ** 0.004), 0.9 * (1 - 0.5 * 0.96 ** 0.008)
    denom = math.sqrt(0.001 * 4 / 0.001) + 1e-8                   # √v̂ + ε = |g| + ε
    expect = -0.1 * (1 - mu1) / (1 - mu1) * 2 / denom - 0.1 * mu2 / (1 - mu1 * mu2) * 0.2 / denom
    assert x[0] == pytest.approx(expect, rel=1e-14)
    assert opt.inspect()["mu_product"] == pytest.approx(mu1, rel=1e-15)


# ---------------------------------------------------------------------------------------------------------
# Muon's orthogonalisation

def _svd(G):
    return np.linalg.svd(G, full_matrices=False)


@pytest.mark.parametrize("shape", [(8, 8), (12, 5), (5, 12), (64, 16)])
def test_newton_schulz_keeps_the_singular_vectors_and_maps_each_singular_value_by_the_quintic(shape):
    """NS is an odd matrix polynomial X·q(XᵀX): O = U·diag(s')·Vᵀ with G's own U and V, and s'_i is the
    scalar quintic p(σ) = aσ + bσ³ + cσ⁵ applied 5 times to σ_i/‖G‖_F. Checked against the SVD."""
    G = np.random.default_rng(sum(shape)).standard_normal(shape)
    U, S, Vt = _svd(G)
    O = optim.newton_schulz(G)
    core = U.T @ O @ Vt.T                          # diagonal if U and V are O's singular vectors too
    off = core - np.diag(np.diag(core))
    assert np.abs(off).max() < 1e-12
    a, b, c = optim.NS_COEFFICIENTS
    s = S / np.linalg.norm(G)
    for _ in range(5):
        s = a * s + b * s ** 3 + c * s ** 5
    np.testing.assert_allclose(np.diag(core), s, rtol=1e-11)


def test_newton_schulz_brings_the_singular_values_near_1_not_to_1():
    """What it guarantees with the default coefficients: every singular value with σ/‖G‖_F >= 0.0015 ends in
    [0.68, 1.21] (it is not UVᵀ: S' is not the identity), while much smaller ones stay small."""
    rng = np.random.default_rng(5)
    U, _ = np.linalg.qr(rng.standard_normal((10, 10)))
    V, _ = np.linalg.qr(rng.standard_normal((10, 10)))
    sigma = np.array([100, 30, 10, 3, 1, 0.5, 0.3, 0.25, 0.2, 0.001])   # σ/‖G‖_F from 0.95 down to 1e-5
    G = U @ np.diag(sigma) @ V.T
    sv = np.sort(np.linalg.svd(optim.newton_schulz(G), compute_uv=False))[::-1]
    assert np.all((sv[:9] > 0.68) & (sv[:9] < 1.21))
    assert np.ptp(sv[:9]) > 0.05                   # approximately orthogonal, not exactly
    assert sv[9] < 0.01                            # σ/‖G‖ = 1e-5 barely moves (p'(0) = a = 3.4445 per step)
    assert np.linalg.norm(sigma[:9] / np.linalg.norm(sigma)) < 1.0   # (the input was far from orthogonal)


def test_newton_schulz_with_zero_steps_is_the_frobenius_normalisation():
    G = np.arange(6.0).reshape(2, 3)
    np.testing.assert_allclose(optim.newton_schulz(G, steps=0), G / np.linalg.norm(G), rtol=1e-15)
    tiny = np.full((2, 2), 1e-12)
    np.testing.assert_allclose(optim.newton_schulz(tiny, steps=0, eps=1e-7), tiny / 1e-7, rtol=1e-15)


def test_muon_inspect_reports_the_orthogonalised_update_and_its_singular_values():
    rng = np.random.default_rng(0)
    params = flatten({"a": rng.standard_normal((6, 4)), "b": rng.standard_normal((4, 4))}).views
    before = {k: v.copy() for k, v in params.items()}
    opt = Muon(lr=0.02, weight_decay=0.0)
    g = {"a": rng.standard_normal((6, 4)), "b": rng.standard_normal((4, 4))}
    opt.step(params, g)
    for name in params:
        info = opt.inspect(name)
        adj = 0.02 * math.sqrt(max(1, params[name].shape[0] / params[name].shape[1]))
        assert info["adjusted_lr"] == pytest.approx(adj)
        np.testing.assert_allclose(before[name] - params[name], adj * info["update"], rtol=1e-12)
        np.testing.assert_allclose(info["singular_values"], np.linalg.svd(info["update"], compute_uv=False))
        sv = info["singular_values"]               # a random matrix may have a tiny σ, which stays small
        assert sv[0] > 0.68 and np.all(sv < 1.21)


def test_muon_refuses_vectors_and_3d_tensors_naming_them():
    with pytest.raises(ValueError, match=r"params\['param'\] has shape \(2,\): Muon only supports 2-D"):
        Muon().step(np.zeros(2), np.ones(2))
    fp = flatten({"w": (3, 3), "bias": (3,)})
    with pytest.raises(ValueError, match=r"params\['bias'\] has shape \(3,\)"):
        Muon().step(fp.views, {"w": np.ones((3, 3)), "bias": np.ones(3)})


# ---------------------------------------------------------------------------------------------------------
# MuonAdamW

GPT_SHAPES = {"wte": (27, 16), "wpe": (16, 16), "lm_head": (27, 16), "layer0.attn_wq": (16, 16),
              "layer0.attn_wk": (16, 16), "layer0.attn_wv": (16, 16), "layer0.attn_wo": (16, 16),
              "layer0.mlp_fc1": (64, 16), "layer0.mlp_fc2": (16, 64)}
HIDDEN = [k for k in GPT_SHAPES if k.startswith("layer")]


@pytest.mark.parametrize("flat", [True, False])
def test_muon_adamw_routes_hidden_matrices_to_muon_and_the_rest_to_adamw(flat):
    rng = np.random.default_rng(1)
    start = {k: rng.standard_normal(s) * 0.1 for k, s in GPT_SHAPES.items()}
    params = flatten(start).views if flat else {k: v.copy() for k, v in start.items()}
    grads = flatten(GPT_SHAPES).views
    opt = MuonAdamW(lr=0.01, weight_decay=0.05)
    assert opt.routes(GPT_SHAPES) == {k: "muon" if k in HIDDEN else "adamw" for k in GPT_SHAPES}
    ref_m = {k: start[k].copy() for k in HIDDEN}
    ref_a = {k: start[k].copy() for k in GPT_SHAPES if k not in HIDDEN}
    muon = Muon(lr=0.01, weight_decay=0.05, adjust_lr_fn="match_rms_adamw")
    adamw = optim.AdamW(lr=0.01, betas=(0.9, 0.95), weight_decay=0.05)
    for t in range(5):
        for k in GPT_SHAPES:
            grads[k][...] = np.cos(params[k] * (t + 1))
        opt.lr = 0.01 * (1 - t / 10)
        muon.lr = adamw.lr = opt.lr
        opt.step(params, grads)
        muon.step(ref_m, {k: np.cos(ref_m[k] * (t + 1)) for k in ref_m})
        adamw.step(ref_a, {k: np.cos(ref_a[k] * (t + 1)) for k in ref_a})
    for k in GPT_SHAPES:
        np.testing.assert_allclose(params[k], ref_m[k] if k in HIDDEN else ref_a[k], rtol=1e-13, atol=1e-15)
    assert opt.routes() == {k: "muon" if k in HIDDEN else "adamw" for k in GPT_SHAPES}
    if flat:                                       # each half is one contiguous share, stepped as one buffer
        assert list(opt.muon._state) == ["__flat__"] and list(opt.adamw._state) == ["__flat__"]
    assert opt.inspect("wte")["optimizer"] == "adamw" and "normalized_step" in opt.inspect("wte")
    assert opt.inspect("layer0.mlp_fc1")["optimizer"] == "muon"
    assert opt.t == 5


def test_muon_adamw_state_dict_round_trip_and_atomic_refusal(tmp_path):
    rng = np.random.default_rng(2)
    a_p = flatten({k: rng.standard_normal(s) for k, s in GPT_SHAPES.items()}).views
    g = {k: rng.standard_normal(s) for k, s in GPT_SHAPES.items()}
    a = MuonAdamW(lr=0.02, adamw_lr_ratio=0.5)
    for _ in range(3):
        a.step(a_p, g)
    np.savez(tmp_path / "s.npz", **a.state_dict())
    b = MuonAdamW()
    with np.load(tmp_path / "s.npz", allow_pickle=False) as z:
        b.load_state_dict(dict(z))
    b_p = flatten({k: v.copy() for k, v in a_p.items()}).views
    assert b.hyperparameters() == a.hyperparameters() and b.adamw.lr == 0.01
    for _ in range(3):
        a.step(a_p, g)
        b.step(b_p, g)
    for k in GPT_SHAPES:
        np.testing.assert_array_equal(a_p[k], b_p[k])
    bad = a.state_dict()
    bad["adamw.slot0.state.exp_avg"] = np.zeros(3)
    before = b.state_dict()
    with pytest.raises(ValueError):
        b.load_state_dict(bad)
    after = b.state_dict()
    assert all(np.array_equal(before[k], after[k]) for k in before)


# ---------------------------------------------------------------------------------------------------------
# every kind: maximize, state_dict, batched lr, flat path

def _params_for(kind, rng, flat=False):
    shapes = {"w": (4, 3), "v": (5, 2)} if kind in ("muon",) else dict(GPT_SHAPES) if kind == "muon_adamw" \
        else {"w": (4, 3), "b": (5,), "s": ()}
    arrays = {k: rng.standard_normal(s) for k, s in shapes.items()}
    return flatten(arrays).views if flat else arrays


def _grads(params, t):
    return {k: np.sin(2 * p + t) + 0.3 * p for k, p in params.items()}


@pytest.mark.parametrize("kind", sorted(OPTIMIZERS))
def test_maximize_is_descent_on_the_negated_gradient(kind):
    rng = np.random.default_rng(3)
    a = _params_for(kind, rng)
    b = {k: v.copy() for k, v in a.items()}
    up, down = make_optimizer(kind, lr=0.01, maximize=True), make_optimizer(kind, lr=0.01)
    for t in range(20):
        g = _grads(a, t)
        up.step(a, g)
        down.step(b, {k: -v for k, v in _grads(b, t).items()})
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])


@pytest.mark.parametrize("kind", sorted(OPTIMIZERS))
@pytest.mark.parametrize("flat", [False, True])
def test_state_dict_round_trip_through_npz_continues_bit_for_bit(kind, flat, tmp_path):
    rng = np.random.default_rng(4)
    pa = _params_for(kind, rng, flat)
    a = make_optimizer(kind, lr=0.01)
    for t in range(7):
        a.step(pa, _grads(pa, t))
    d = a.state_dict()
    for key, value in d.items():
        assert isinstance(value, (np.ndarray, int, float, bool, str)), key
    np.savez(tmp_path / "opt.npz", **d)
    pb = {k: v.copy() for k, v in pa.items()}
    if flat:
        pb = flatten(pb).views
    b = make_optimizer(kind, lr=0.5)
    with np.load(tmp_path / "opt.npz", allow_pickle=False) as z:
        b.load_state_dict(dict(z))
    assert b.hyperparameters() == a.hyperparameters() and b.t == a.t and b.names() == a.names()
    for t in range(7, 14):
        a.step(pa, _grads(pa, t))
        b.step(pb, _grads(pb, t))
    for k in pa:
        np.testing.assert_array_equal(pa[k], pb[k])


@pytest.mark.parametrize("kind", sorted(set(OPTIMIZERS) - {"muon", "muon_adamw", "adafactor"}))
def test_flat_buffer_and_separate_tensors_give_the_same_bits(kind):
    rng = np.random.default_rng(5)
    start = _params_for(kind, rng)
    sep, fl = {k: v.copy() for k, v in start.items()}, flatten(start).views
    a, b = make_optimizer(kind, lr=0.01), make_optimizer(kind, lr=0.01)
    for t in range(10):
        a.step(sep, _grads(sep, t))
        b.step(fl, _grads(fl, t))
    assert list(b._state) == ["__flat__"]
    for k in start:
        np.testing.assert_array_equal(sep[k], fl[k])


def test_adafactor_steps_a_flat_buffer_tensor_by_tensor_with_factored_state():
    rng = np.random.default_rng(6)
    start = {"w": rng.standard_normal((4, 3)), "c": rng.standard_normal((2, 3, 5)), "b": rng.standard_normal(5)}
    sep, fl = {k: v.copy() for k, v in start.items()}, flatten(start).views
    a, b = optim.Adafactor(), optim.Adafactor()
    for t in range(10):
        a.step(sep, _grads(sep, t))
        b.step(fl, _grads(fl, t))
    assert sorted(b._state) == ["b", "c", "w"]
    st = b.state_of("c")
    assert st["row_var"].shape == (2, 3, 1) and st["col_var"].shape == (2, 1, 5) and "variance" in b.state_of("b")
    for k in start:
        np.testing.assert_array_equal(sep[k], fl[k])


@pytest.mark.parametrize("kind", ROWS_KINDS)
def test_an_array_of_learning_rates_runs_k_independent_runs_in_one_call(kind):
    """What the tuner relies on: a (K, 2) stack with lr of shape (K, 1) equals K separate runs, bit for bit."""
    rng = np.random.default_rng(7)
    lrs = np.geomspace(1e-3, 0.3, 6)
    xs = rng.standard_normal((6, 2))
    singles = [xs[i].copy() for i in range(6)]
    batch = make_optimizer(kind, lr=lrs[:, None])
    opts = [make_optimizer(kind, lr=float(lr)) for lr in lrs]
    for t in range(40):
        batch.step(xs, np.sin(3 * xs) + 0.2 * xs * t / 40)
        for o, x in zip(opts, singles):
            o.step(x, np.sin(3 * x) + 0.2 * x * t / 40)
    np.testing.assert_array_equal(xs, np.stack(singles))


def test_a_bad_lr_array_is_refused():
    with pytest.raises(ValueError, match=r"lr must be in \[0, inf\) \(every element"):
        optim.Adam(lr=np.array([0.1, -0.1]))


def test_lion_tiny_path_is_bit_for_bit_the_numpy_path():
    rng = np.random.default_rng(8)
    small, big = Lion(lr=0.01, weight_decay=0.1), Lion(lr=0.01, weight_decay=0.1)
    p_small, p_big = rng.normal(size=2), rng.normal(size=64)
    p_big[:2] = p_small
    for t in range(200):
        g = rng.normal(size=64) * 10.0 ** rng.integers(-5, 5)
        if t == 50:
            g[:2] = (0.0, -0.0)
        if t == 150:
            g[:2] = (np.inf, np.nan)
        with np.errstate(all="ignore"):
            small.step(p_small, g[:2].copy())
            big.step(p_big, g)
        np.testing.assert_array_equal(p_small, p_big[:2], strict=True)
    np.testing.assert_array_equal(small.state_of()["exp_avg"], big.state_of()["exp_avg"][:2])


def test_older_state_dicts_without_maximize_or_decoupled_weight_decay_still_load():
    a = optim.Adam(lr=0.1)
    a.step(np.zeros(2), np.ones(2))
    d = a.state_dict()
    del d["hyper.maximize"], d["hyper.decoupled_weight_decay"]
    b = optim.Adam(maximize=True)
    b.load_state_dict(d)
    assert b.maximize is False and b.hyperparameters()["decoupled_weight_decay"] is False


# ---------------------------------------------------------------------------------------------------------
# refusals name the argument and its range

@pytest.mark.parametrize("cls, kwargs, message", [
    (NAdam, {"momentum_decay": -1}, r"momentum_decay must be in \[0, inf\), got -1"),
    (NAdam, {"betas": (0.9, 1.0)}, r"betas\[1\] must be in \[0, 1\), got 1.0"),
    (RAdam, {"eps": -1e-8}, r"eps must be in \[0, inf\)"),
    (optim.Adamax, {"betas": (-0.1, 0.9)}, r"betas\[0\] must be in \[0, 1\)"),
    (optim.Adadelta, {"rho": 1.5}, r"rho must be in \[0, 1\], got 1.5"),
    (optim.Adadelta, {"eps": 0.0}, r"eps must be in \(0, inf\), got 0.0"),
    (optim.Adafactor, {"beta2_decay": 0.5}, r"beta2_decay must be in \[-inf, 0\], got 0.5"),
    (optim.Adafactor, {"d": 0.5}, r"d must be in \[1, inf\), got 0.5"),
    (optim.Adafactor, {"eps": (-1.0, 1e-3)}, r"eps\[0\] must be in \[0, inf\)"),
    (optim.Adafactor, {"eps": 1e-3}, r"eps must be a pair \(eps1, eps2\)"),
    (Muon, {"momentum": 1.0}, r"momentum must be in \[0, 1\), got 1.0"),
    (Muon, {"ns_steps": 100}, r"ns_steps must be an integer in \[0, 99\], got 100"),
    (Muon, {"ns_steps": 2.5}, r"ns_steps must be an integer in \[0, 99\], got 2.5"),
    (Muon, {"adjust_lr_fn": "fast"}, r"adjust_lr_fn must be one of 'original', 'match_rms_adamw', got 'fast'"),
    (Muon, {"ns_coefficients": (1.0, 2.0)}, r"ns_coefficients must be three numbers"),
    (MuonAdamW, {"adamw_names": "wte"}, r"adamw_names must be a tuple of tensor names"),
    (Lion, {"betas": (1.0, 0.9)}, r"betas\[0\] must be in \[0, 1\), got 1.0"),
    (AdEMAMix, {"betas": (0.9, 0.999)}, r"betas must be three numbers \(beta1, beta2, beta3\)"),
    (AdEMAMix, {"alpha": -1}, r"alpha must be in \[0, inf\)"),
    (AdEMAMix, {"beta3_warmup": -5}, r"beta3_warmup must be an integer in \[0, inf\], got -5"),
    (ScheduleFreeAdamW, {"warmup_steps": 1.5}, r"warmup_steps must be an integer in \[0, inf\]"),
    (ScheduleFreeAdamW, {"weight_lr_power": -1}, r"weight_lr_power must be in \[0, inf\)"),
    (ADOPT, {"clip_exponent": -0.25}, r"clip_exponent must be in \[0, inf\)"),
    (ADOPT, {"decouple": "yes"}, r"decouple must be a bool"),
    (optim.RMSprop, {"alpha": 1.5}, r"alpha must be in \[0, 1\], got 1.5"),
    (optim.SGD, {"maximize": 1}, r"maximize must be a bool"),
])
def test_bad_hyperparameters_are_refused_naming_the_argument_and_range(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


# ---------------------------------------------------------------------------------------------------------
# the registry

def test_every_kind_has_a_label_a_description_and_builds():
    for kind, spec in OPTIMIZERS.items():
        assert optim.optimizer_label(kind) == spec.label
        assert len(spec.description) > 150
        assert type(make_optimizer(kind)) is spec.cls
        args = optim.kind_arguments(kind)
        assert set(args) == set(spec.cls._VALIDATORS) and args["lr"] == make_optimizer(kind).lr


def test_hyper_from_knobs_maps_the_generic_knobs_to_each_kinds_names():
    knobs = dict(lr=0.01, betas=(0.85, 0.99), eps=1e-7, weight_decay=0.1, momentum=0.8)
    assert optim.hyper_from_knobs("rmsprop", **knobs) == dict(lr=0.01, alpha=0.99, eps=1e-7, weight_decay=0.1)
    assert optim.hyper_from_knobs("adadelta", **knobs) == dict(lr=0.01, rho=0.99, eps=1e-7, weight_decay=0.1)
    assert optim.hyper_from_knobs("ademamix", **knobs, options={"beta3": 0.999, "alpha": 5.0})["betas"] == \
        (0.85, 0.99, 0.999)
    assert optim.hyper_from_knobs("ademamix", **knobs)["betas"] == (0.85, 0.99, 0.9999)
    assert "eps" not in optim.hyper_from_knobs("adafactor", **knobs)       # its eps is a pair of other things
    assert optim.hyper_from_knobs("muon", **knobs) == dict(lr=0.01, weight_decay=0.1, momentum=0.8)
    assert optim.hyper_from_knobs("muon", **knobs, options={"ns_steps": 3})["ns_steps"] == 3
    assert optim.hyper_from_knobs("sgd", **knobs) == dict(lr=0.01, weight_decay=0.1)
    with pytest.raises(ValueError, match=r"unknown option\(s\) for 'lion': \['momentum_decay'\]"):
        optim.hyper_from_knobs("lion", **knobs, options={"momentum_decay": 0.1})
    with pytest.raises(ValueError, match="lr is not an optimizer option"):
        optim.hyper_from_knobs("adam", **knobs, options={"lr": 0.1})


@pytest.mark.parametrize("kind", ROWS_KINDS + ["adafactor"])
def test_every_point_optimizer_records_a_race_with_its_overlays(kind):
    """trajectory.run_detailed(record=True), what the arena draws its arrows and effective-lr squares from,
    works for every kind defined on a point; the recorded effective lr is the optimizer's own inspect()."""
    from adamlab.core.surfaces import SURFACES
    from adamlab.core.trajectory import run_detailed
    s = SURFACES["rosenbrock"]
    res = run_detailed(s, (kind, {"lr": 1e-3}), s.start, 20, record=True)
    assert res.path.shape == (21, 2) and np.all(np.isfinite(res.path))
    if OPTIMIZERS[kind].cls is not optim.SGD:
        opt = make_optimizer(kind, lr=1e-3)
        x = np.array(s.start, dtype=float)
        for _ in range(20):
            opt.step(x, np.array(s.grad(*x)))
        np.testing.assert_array_equal(res.eff_lr[-1], opt.inspect()["effective_lr"])
