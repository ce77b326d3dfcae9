"""adamlab.core.optim against hand-worked steps and an independent, straightforward re-implementation.

The reference below is written from torch.optim's documented algorithms with plain (allocating) NumPy
expressions, one tensor at a time: nothing is shared with the module under test.
"""

import math

import numpy as np
import pytest

from adamlab.core import optim
from adamlab.core.optim import SGD, Adagrad, Adam, AdamW, RMSprop, flatten, make_optimizer


# ---------------------------------------------------------------------------------------------------------
# an independent reference: torch.optim's pseudo-code, literally

class Ref:
    def __init__(self, kind, **h):
        self.kind, self.h, self.state = kind, h, {}

    def step(self, params, grads):
        for name in params:
            params[name][...] = self._one(name, params[name], grads[name])

    def _one(self, name, p, g):
        h, st = self.h, self.state.setdefault(name, {"t": 0})
        st["t"] += 1
        t = st["t"]
        lr, wd = h["lr"], h.get("weight_decay", 1e-2 if self.kind == "AdamW" else 0.0)
        if self.kind == "AdamW":
            p = p * (1 - lr * wd)
        elif wd:
            g = g + wd * p
        if self.kind == "SGD":
            mu, damp = h.get("momentum", 0.0), h.get("dampening", 0.0)
            if mu:
                st["b"] = g.copy() if "b" not in st else mu * st["b"] + (1 - damp) * g
                g = g + mu * st["b"] if h.get("nesterov") else st["b"]
            return p - lr * g
        if self.kind == "Adagrad":
            st.setdefault("s", np.full(p.shape, h.get("initial_accumulator_value", 0.0)))
            st["s"] = st["s"] + g * g
            clr = lr / (1 + (t - 1) * h.get("lr_decay", 0.0))
            return p - clr * g / (np.sqrt(st["s"]) + h.get("eps", 1e-10))
        if self.kind == "RMSprop":
            a, eps, mu = h.get("alpha", 0.99), h.get("eps", 1e-8), h.get("momentum", 0.0)
            st["v"] = a * st.get("v", 0.0) + (1 - a) * g * g
            if h.get("centered"):
                st["ga"] = a * st.get("ga", 0.0) + (1 - a) * g
                avg = np.sqrt(st["v"] - st["ga"] ** 2) + eps
            else:
                avg = np.sqrt(st["v"]) + eps
            if mu > 0:
                st["b"] = mu * st.get("b", 0.0) + g / avg
                return p - lr * st["b"]
            return p - lr * g / avg
        # Adam / AdamW
        b1, b2 = h.get("betas", (0.9, 0.999))
        eps = h.get("eps", 1e-8)
        st["m"] = b1 * st.get("m", 0.0) + (1 - b1) * g
        st["v"] = b2 * st.get("v", 0.0) + (1 - b2) * g * g
        v = st["v"]
        if h.get("amsgrad"):
            st["vmax"] = np.maximum(st.get("vmax", 0.0), st["v"])
            v = st["vmax"]
        m_hat = st["m"] / (1 - b1 ** t)
        v_hat = v / (1 - b2 ** t)
        return p - lr * m_hat / (np.sqrt(v_hat) + eps)


CASES = [
    ("SGD", {"lr": 0.05}),
    ("SGD", {"lr": 0.05, "momentum": 0.9}),
    ("SGD", {"lr": 0.05, "momentum": 0.9, "dampening": 0.3, "weight_decay": 0.01}),
    ("SGD", {"lr": 0.03, "momentum": 0.8, "nesterov": True, "weight_decay": 0.02}),
    ("Adagrad", {"lr": 0.1}),
    ("Adagrad", {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.01, "initial_accumulator_value": 0.1, "eps": 1e-6}),
    ("RMSprop", {"lr": 0.01}),
    ("RMSprop", {"lr": 0.01, "alpha": 0.9, "momentum": 0.9, "weight_decay": 0.01}),
    ("RMSprop", {"lr": 0.01, "centered": True}),
    ("RMSprop", {"lr": 0.01, "centered": True, "momentum": 0.5, "eps": 1e-6}),
    ("Adam", {"lr": 0.01}),
    ("Adam", {"lr": 0.01, "betas": (0.85, 0.95), "weight_decay": 0.05}),
    ("Adam", {"lr": 0.01, "amsgrad": True, "eps": 1e-6}),
    ("Adam", {"lr": 0.01, "betas": (0.3, 0.6)}),
    ("Adam", {"lr": 0.01, "betas": (0.0, 0.0)}),
    ("AdamW", {"lr": 0.01}),
    ("AdamW", {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True, "betas": (0.9, 0.95)}),
]
SHAPES = {"a": (5, 3), "b": (7,), "c": (2, 1, 2), "s": ()}


def grad_of(x, seed):
    """A gradient that depends on the params (errors feed back) plus seeded noise."""
    return np.sin(3 * x) + 0.5 * x ** 3 - x + 0.3 * np.random.default_rng(seed).standard_normal(x.shape)


def lr_at(t, lr, steps):
    return lr * (0.5 + 0.5 * math.cos(math.pi * t / steps)) + 1e-4


def start_params(seed=0):
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal(s) for k, s in SHAPES.items()}


def run(opt, params, steps, t0=0, lr=None, grads_store=None):
    """Step `opt` with a changing lr; grads written into `grads_store` views if given (flat grads)."""
    for t in range(t0, t0 + steps):
        opt.lr = lr_at(t, lr, 300)
        gs = {k: grad_of(params[k], 1000 * t + i) for i, k in enumerate(params)}
        if grads_store is not None:
            for k in gs:
                grads_store[k][...] = gs[k]
            gs = grads_store
        opt.step(params, gs)
    return params


def rel_err(a, b):
    return max(np.max(np.abs(a[k] - b[k])) / np.max(np.abs(b[k])) for k in b)


# ---------------------------------------------------------------------------------------------------------
# hand-worked steps

@pytest.mark.parametrize("shape", [(2,), (4, 2), (3, 1, 5)])
def test_first_adam_step_moves_each_coordinate_by_lr_times_sign(shape):
    rng = np.random.default_rng(1)
    x0 = rng.standard_normal(shape)
    # magnitudes from 0.005 to 1500 don't matter (as long as |g| >> eps)
    g = rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 1.5, shape) * 10.0 ** rng.integers(-2, 3, shape)
    x = x0.copy()
    Adam(lr=0.1).step(x, g)
    # m̂ = g, v̂ = g², so the step is lr·g/(|g| + eps)
    np.testing.assert_allclose(x0 - x, 0.1 * np.sign(g), rtol=1e-5)
    np.testing.assert_allclose(x0 - x, 0.1 * g / (np.abs(g) + 1e-8), rtol=1e-14)


def test_beta1_085_first_bias_correction_divides_by_015():
    opt = Adam(lr=0.01, betas=(0.85, 0.999))
    x, g = np.array([1.0, -2.0]), np.array([0.4, -3.0])
    opt.step(x, g)
    info = opt.inspect()
    np.testing.assert_allclose(info["m"], 0.15 * g, rtol=1e-15)
    assert info["bias_correction1"] == pytest.approx(0.15, rel=1e-14)
    np.testing.assert_allclose(info["m_hat"], g, rtol=1e-14)           # 0.15·g / 0.15
    np.testing.assert_allclose(info["v_hat"], g * g, rtol=1e-12)
    np.testing.assert_allclose(info["normalized_step"], g / (np.abs(g) + 1e-8), rtol=1e-14)
    np.testing.assert_allclose(info["effective_lr"], 0.01 / (np.abs(g) + 1e-8), rtol=1e-14)


def test_adam_second_step_by_hand():
    b1, b2, lr, eps = 0.9, 0.999, 0.1, 1e-8
    x, g1, g2 = np.array([0.0]), np.array([1.0]), np.array([-3.0])
    opt = Adam(lr=lr)
    opt.step(x, g1)
    opt.step(x, g2)
    m = 0.9 * 0.1 * 1.0 + 0.1 * -3.0                       # -0.21
    v = 0.999 * 0.001 * 1.0 + 0.001 * 9.0                  # 0.009999
    expected = -lr / (1 + eps) - lr * (m / (1 - b1 ** 2)) / (math.sqrt(v) / math.sqrt(1 - b2 ** 2) + eps)
    assert x[0] == pytest.approx(expected, rel=1e-14)


def test_sgd_momentum_buffer_starts_at_g_then_dampens():
    x = np.array([1.0])
    opt = SGD(lr=0.1, momentum=0.5, dampening=0.2)
    opt.step(x, np.array([2.0]))
    assert x[0] == pytest.approx(1.0 - 0.1 * 2.0)          # buf = g, undampened
    opt.step(x, np.array([4.0]))                           # buf = 0.5·2 + 0.8·4 = 4.2
    assert x[0] == pytest.approx(0.8 - 0.1 * 4.2)
    assert opt.state_of()["momentum_buffer"][0] == pytest.approx(4.2)


def test_sgd_nesterov_by_hand():
    x = np.array([0.0])
    opt = SGD(lr=1.0, momentum=0.5, nesterov=True)
    opt.step(x, np.array([1.0]))                           # buf = 1, g' = 1 + 0.5·1
    assert x[0] == pytest.approx(-1.5)
    opt.step(x, np.array([2.0]))                           # buf = 0.5 + 2 = 2.5, g' = 2 + 1.25
    assert x[0] == pytest.approx(-1.5 - 3.25)


def test_adagrad_lr_decay_by_hand():
    x = np.array([0.0])
    opt = Adagrad(lr=1.0, lr_decay=0.5, eps=1e-10, initial_accumulator_value=1.0)
    opt.step(x, np.array([3.0]))                           # clr 1, sum 10
    assert x[0] == pytest.approx(-3.0 / (math.sqrt(10) + 1e-10))
    opt.step(x, np.array([1.0]))                           # clr 1/1.5, sum 11
    assert x[0] == pytest.approx(-3.0 / (math.sqrt(10) + 1e-10) - (1 / 1.5) / (math.sqrt(11) + 1e-10))


def test_rmsprop_centered_by_hand():
    x = np.array([0.0])
    opt = RMSprop(lr=0.1, alpha=0.5, eps=1e-8, centered=True)
    opt.step(x, np.array([2.0]))                           # v = 2, ḡ = 1, √(2 − 1) = 1
    assert x[0] == pytest.approx(-0.1 * 2.0 / (1.0 + 1e-8))


def test_adamw_decays_before_the_adam_update():
    x, g = np.array([2.0]), np.array([0.5])
    AdamW(lr=0.1, weight_decay=0.5).step(x, g)
    assert x[0] == pytest.approx(2.0 * (1 - 0.05) - 0.1 * 0.5 / (0.5 + 1e-8), rel=1e-14)
    y = np.array([2.0])
    Adam(lr=0.1, weight_decay=0.5).step(y, g)               # L2: g' = 0.5 + 1.0 → first step still lr·sign
    assert y[0] == pytest.approx(2.0 - 0.1, rel=1e-7)


# ---------------------------------------------------------------------------------------------------------
# long runs against the reference, every option of every optimizer

@pytest.mark.parametrize("kind,hyper", CASES, ids=[f"{k}-{i}" for i, (k, _) in enumerate(CASES)])
@pytest.mark.parametrize("layout", ["tensors", "flat", "flat-gathered"])
def test_long_run_matches_reference(kind, hyper, layout):
    steps = 300
    ref_params = start_params()
    ref = Ref(kind, **hyper)
    for t in range(steps):
        ref.h["lr"] = lr_at(t, hyper["lr"], 300)
        ref.step(ref_params, {k: grad_of(ref_params[k], 1000 * t + i) for i, k in enumerate(ref_params)})

    opt = getattr(optim, kind)(**hyper)
    if layout == "tensors":
        params, store = start_params(), None
    else:
        params = flatten(start_params()).views
        store = flatten(SHAPES).views if layout == "flat" else None
    run(opt, params, steps, lr=hyper["lr"], grads_store=store)
    assert opt.t == steps
    assert rel_err(params, ref_params) < 1e-10
    if layout != "tensors":
        assert opt.names() == list(SHAPES)
        assert len(opt._state) == 1                    # one flat slot, not one per tensor


def test_flat_buffer_is_stepped_with_one_update_per_step(monkeypatch):
    fp, fg = flatten(start_params()), flatten(SHAPES)
    opt = Adam(lr=0.01)
    calls = []
    original = Adam._update
    monkeypatch.setattr(Adam, "_update", lambda self, slot, p, g: (calls.append(p.shape), original(self, slot, p, g)))
    for t in range(3):
        for k, v in fg.views.items():
            v[...] = grad_of(fp.views[k], t)
        opt.step(fp.views, fg.views)
    assert calls == [fp.buffer.shape] * 3
    # the state is flat, and its per-tensor views alias it
    st = opt.state_of("b")
    assert st["exp_avg"].shape == SHAPES["b"] and st["step"] == 3
    assert np.shares_memory(st["exp_avg"], opt._state["__flat__"].state["exp_avg"])


def test_untiled_dicts_step_per_tensor_and_views_of_bigger_buffers_fall_back():
    big = np.zeros(100)
    params = {"a": big[:10].reshape(2, 5), "b": big[10:20]}   # does not cover the whole buffer
    grads = {"a": np.ones((2, 5)), "b": np.ones(10)}
    opt = SGD(lr=0.5)
    opt.step(params, grads)
    assert set(opt._state) == {"a", "b"}
    np.testing.assert_array_equal(big[:20], -0.5)
    np.testing.assert_array_equal(big[20:], 0.0)


@pytest.mark.parametrize("kind,hyper", CASES[::3], ids=[k for k, _ in CASES[::3]])
def test_switching_between_flat_and_per_tensor_keeps_the_state(kind, hyper):
    a = getattr(optim, kind)(**hyper)
    b = getattr(optim, kind)(**hyper)
    pa = start_params()
    pb = flatten(start_params()).views
    run(a, pa, 20, lr=hyper["lr"])
    run(b, pb, 20, lr=hyper["lr"])                 # flat
    pb2 = {k: v.copy() for k, v in pb.items()}     # no longer one buffer: the state is split per tensor
    run(a, pa, 20, t0=20, lr=hyper["lr"])
    run(b, pb2, 20, t0=20, lr=hyper["lr"])
    pb3 = flatten(pb2).views                       # one buffer again: merged back
    run(a, pa, 20, t0=40, lr=hyper["lr"])
    run(b, pb3, 20, t0=40, lr=hyper["lr"])
    assert list(b._state) == ["__flat__"]
    for k in pa:
        np.testing.assert_array_equal(pa[k], pb3[k])


def test_k_starts_at_once_equal_k_separate_runs():
    rng = np.random.default_rng(3)
    xs = rng.standard_normal((6, 2))
    singles = [xs[i].copy() for i in range(6)]
    opt, opts = Adam(lr=0.05), [Adam(lr=0.05) for _ in range(6)]
    for t in range(50):
        opt.step(xs, np.sin(3 * xs) * (1 + t % 3))
        for o, x in zip(opts, singles):
            o.step(x, np.sin(3 * x) * (1 + t % 3))
    np.testing.assert_array_equal(xs, np.stack(singles))


def test_live_hyperparameter_changes_match_reference():
    ref, opt = Ref("Adam", lr=0.01, betas=(0.9, 0.999)), Adam(lr=0.01)
    x_ref, x = {"x": np.array([1.0, -1.5])}, np.array([1.0, -1.5])
    for t in range(200):
        if t == 60:
            opt.set_hyperparameters(betas=(0.8, 0.95), weight_decay=0.1)
            ref.h.update(betas=(0.8, 0.95), weight_decay=0.1)
        if t == 120:
            opt.betas, opt.eps, opt.amsgrad = (0.5, 0.9), 1e-4, True
            ref.h.update(betas=(0.5, 0.9), eps=1e-4, amsgrad=True)
        g = grad_of(x, t)
        ref.step(x_ref, {"x": grad_of(x_ref["x"], t)})
        opt.step(x, g)
    np.testing.assert_allclose(x, x_ref["x"], rtol=1e-10)


def test_float32_params_stay_float32():
    x = np.array([1.0, 2.0], dtype=np.float32)
    opt = Adam(lr=0.1)
    opt.step(x, np.array([1.0, -1.0]))
    assert x.dtype == np.float32 and opt.state_of()["exp_avg"].dtype == np.float32
    np.testing.assert_allclose(x, [0.9, 2.1], rtol=1e-6)


def test_bad_step_inputs():
    opt = Adam()
    with pytest.raises(ValueError, match="shape"):
        opt.step(np.zeros(2), np.zeros(3))
    with pytest.raises(ValueError, match="floating"):
        opt.step(np.zeros(2, dtype=int), np.zeros(2))
    opt.step(np.zeros(2), np.zeros(2))
    with pytest.raises(ValueError, match="reset"):
        opt.step(np.zeros(3), np.zeros(3))
    opt.reset()
    opt.step(np.zeros(3), np.zeros(3))
    assert opt.t == 1
    with pytest.raises(ValueError, match="same names"):
        opt.step({"a": np.zeros(2)}, {"b": np.zeros(2)})


# ---------------------------------------------------------------------------------------------------------
# introspection

def test_adam_inspect_matches_the_step_it_describes():
    fp = flatten(start_params())
    opt = Adam(lr=0.02, betas=(0.8, 0.99))
    fg = flatten(SHAPES)
    for t in range(5):
        for k, v in fg.views.items():
            v[...] = grad_of(fp.views[k], t)
        before = {k: v.copy() for k, v in fp.views.items()}
        opt.step(fp.views, fg.views)
    info = opt.inspect("a")
    assert info["t"] == 5
    assert info["bias_correction1"] == pytest.approx(1 - 0.8 ** 5)
    assert info["bias_correction2"] == pytest.approx(1 - 0.99 ** 5)
    np.testing.assert_allclose(before["a"] - fp.views["a"], 0.02 * info["normalized_step"], rtol=1e-12)
    np.testing.assert_allclose(info["m_hat"], info["m"] / (1 - 0.8 ** 5), rtol=1e-15)
    np.testing.assert_allclose(info["denom"], np.sqrt(info["v_hat"]) + 1e-8, rtol=1e-14)
    np.testing.assert_allclose(info["effective_lr"] * info["m_hat"], 0.02 * info["normalized_step"], rtol=1e-14)
    info["m"][...] = 0                                        # a snapshot, not a view
    assert np.any(opt.state_of("a")["exp_avg"] != 0)


def test_amsgrad_inspect_uses_the_max_of_uncorrected_v():
    opt = Adam(lr=0.1, amsgrad=True)
    x = np.zeros(1)
    opt.step(x, np.array([10.0]))
    opt.step(x, np.array([0.0]))
    info = opt.inspect()
    v1 = 0.001 * 100
    assert info["v_max"][0] == pytest.approx(v1)             # max(v1, 0.999·v1)
    assert info["v_hat"][0] == pytest.approx(v1 / (1 - 0.999 ** 2))


def test_inspect_rmsprop_and_adagrad():
    r = RMSprop(lr=0.1, alpha=0.5)
    x = np.zeros(2)
    r.step(x, np.array([2.0, -4.0]))
    ri = r.inspect()
    np.testing.assert_allclose(ri["v"], [2.0, 8.0])
    np.testing.assert_allclose(ri["effective_lr"], 0.1 / (np.sqrt([2.0, 8.0]) + 1e-8))
    a = Adagrad(lr=1.0, lr_decay=1.0)
    a.step(x, np.array([3.0, 4.0]))
    a.step(x, np.array([0.0, 0.0]))
    ai = a.inspect()
    assert ai["clr"] == pytest.approx(0.5)
    np.testing.assert_allclose(ai["effective_lr"], 0.5 / (np.array([3.0, 4.0]) + 1e-10))


def test_inspect_unknown_name():
    with pytest.raises(KeyError):
        Adam().inspect("nope")


# ---------------------------------------------------------------------------------------------------------
# state_dict

@pytest.mark.parametrize("kind,hyper", CASES, ids=[f"{k}-{i}" for i, (k, _) in enumerate(CASES)])
@pytest.mark.parametrize("flat", [False, True])
def test_state_dict_roundtrip_through_npz_continues_bit_for_bit(kind, hyper, flat, tmp_path):
    make = (lambda: flatten(start_params()).views) if flat else start_params
    a, pa = getattr(optim, kind)(**hyper), make()
    run(a, pa, 40, lr=hyper["lr"])
    d = a.state_dict()
    for key, value in d.items():
        assert isinstance(value, (np.ndarray, int, float, bool, str)), key
    np.savez(tmp_path / "opt.npz", **d)
    pb = {k: v.copy() for k, v in pa.items()}
    if flat:
        pb = flatten(pb).views
    with np.load(tmp_path / "opt.npz", allow_pickle=False) as z:
        b = getattr(optim, kind)(lr=0.5)
        b.load_state_dict(dict(z))
    assert b.hyperparameters() == a.hyperparameters() and b.t == a.t
    run(a, pa, 40, t0=40, lr=hyper["lr"])
    run(b, pb, 40, t0=40, lr=hyper["lr"])
    for k in pa:
        np.testing.assert_array_equal(pa[k], pb[k])


def test_load_state_dict_of_another_optimizer_fails():
    with pytest.raises(ValueError, match="Adam"):
        SGD().load_state_dict(Adam().state_dict())


def _stepped_adam():
    opt = Adam(lr=0.02, betas=(0.8, 0.9))
    params = {"w": np.ones((2, 3)), "b": np.zeros(3)}
    opt.step(params, {"w": np.full((2, 3), 0.5), "b": np.ones(3)})
    return opt


@pytest.mark.parametrize("damage", ["bad shape", "bad dtype", "missing step", "bad hyper", "bad layout"])
def test_a_rejected_state_dict_changes_nothing(damage):
    good = Adam(lr=0.3, betas=(0.7, 0.8), eps=1e-6)
    good.step({"w": np.ones(4)}, {"w": np.ones(4)})
    d = good.state_dict()
    if damage == "bad layout":  # a flat slot whose tensors do not cover its buffer
        fp = flatten({"w": (2, 3), "b": (3,)})
        good.reset()
        good.step(fp.views, {"w": np.ones((2, 3)), "b": np.ones(3)})
        d = good.state_dict()
        d["flat.offsets"] = np.array([0, 5])
    else:
        state_keys = [k for k in d if ".state." in k]
        if damage == "bad shape":
            d[state_keys[0]] = np.zeros(5)
        elif damage == "bad dtype":
            d[state_keys[0]] = np.zeros(4, dtype=np.float32)
        elif damage == "missing step":
            del d[next(k for k in d if k.endswith(".step"))]
        elif damage == "bad hyper":
            d["hyper.eps"] = -1.0
    opt = _stepped_adam()
    before = opt.state_dict()
    with pytest.raises((ValueError, KeyError)):
        opt.load_state_dict(d)
    after = opt.state_dict()
    assert after.keys() == before.keys()
    for k in before:
        np.testing.assert_array_equal(after[k], before[k], err_msg=k)
    assert opt.lr == 0.02 and opt.betas == (0.8, 0.9) and opt.t == 1


@pytest.mark.parametrize("names", [("x", "x.state.m"), ("a.b", "a"), ("slot", "slot.1"), ("x", "x.step", "x.shape")])
def test_state_dict_keys_are_unambiguous_for_tensor_names_with_dots(names):
    # separate arrays (not one buffer): one slot per tensor, each name a prefix of another
    rng = np.random.default_rng(0)
    shapes = [(3,), (2, 2), (5,)][: len(names)]
    start = {n: rng.standard_normal(s) for n, s in zip(names, shapes)}
    grads = [{n: rng.standard_normal(s) for n, s in zip(names, shapes)} for _ in range(6)]
    a, pa = Adam(lr=0.05), {k: v.copy() for k, v in start.items()}
    for g in grads[:3]:
        a.step(pa, g)
    b, pb = Adam(lr=0.5), {k: v.copy() for k, v in pa.items()}
    b.load_state_dict(a.state_dict())
    assert sorted(b.names()) == sorted(names) and b.t == 3
    for n in names:
        for key, value in a.state_of(n).items():
            np.testing.assert_array_equal(b.state_of(n)[key], value)
    for g in grads[3:]:
        a.step(pa, g)
        b.step(pb, g)
    for n in names:
        np.testing.assert_array_equal(pa[n], pb[n])


def test_state_dicts_in_the_older_name_keyed_layout_still_load():
    fp = flatten({"w": (2, 3), "b": (3,)})
    views = {"b": fp.views["b"], "w": fp.views["w"]}  # dict order differs from buffer order
    a = Adam(lr=0.05)
    for k in range(3):
        a.step(views, {"b": np.full(3, -1.0), "w": np.full((2, 3), k + 1.0)})
    d = a.state_dict()
    names = list(d["slots"])
    old = {}  # what the previous version wrote: slot.{name}.step, slot.{name}.state.{key}, ...
    for k, v in d.items():
        head, _, rest = k.partition(".")
        old[f"slot.{names[int(head[4:])]}.{rest}" if head.startswith("slot") and head != "slots" else k] = v
    assert "slot.__flat__.state.exp_avg" in old
    b = Adam()
    b.load_state_dict(old)
    assert b.t == 3 and b.names() == a.names()
    np.testing.assert_array_equal(b.state_of("w")["exp_avg_sq"], a.state_of("w")["exp_avg_sq"])


# ---------------------------------------------------------------------------------------------------------
# hyperparameters: defaults, validation, factory

def test_torch_defaults():
    assert SGD().hyperparameters() == dict(lr=1e-3, momentum=0, dampening=0, nesterov=False, weight_decay=0,
                                           maximize=False)
    assert Adagrad().hyperparameters() == dict(lr=1e-2, lr_decay=0, weight_decay=0,
                                               initial_accumulator_value=0, eps=1e-10, maximize=False)
    assert RMSprop().hyperparameters() == dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0,
                                               centered=False, maximize=False)
    assert Adam().hyperparameters() == dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False,
                                            maximize=False, decoupled_weight_decay=False)
    assert AdamW().hyperparameters() == dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2,
                                             amsgrad=False, maximize=False)


@pytest.mark.parametrize("cls,kwargs,message", [
    (Adam, {"lr": -0.1}, r"lr must be in \[0, inf\), got -0.1"),
    (Adam, {"lr": float("nan")}, r"lr must be in \[0, inf\)"),
    (Adam, {"betas": (0.9, 1.0)}, r"betas\[1\] must be in \[0, 1\), got 1.0"),
    (Adam, {"betas": (-0.1, 0.9)}, r"betas\[0\] must be in \[0, 1\), got -0.1"),
    (Adam, {"betas": 0.9}, r"betas must be a pair"),
    (Adam, {"eps": -1e-8}, r"eps must be in \[0, inf\), got -1e-08"),
    (AdamW, {"weight_decay": -1}, r"weight_decay must be in \[0, inf\), got -1"),
    (Adam, {"amsgrad": "yes"}, r"amsgrad must be a bool"),
    (SGD, {"momentum": -0.5}, r"momentum must be in \[0, inf\)"),
    (SGD, {"momentum": 0.9, "dampening": float("inf")}, r"dampening must be in \(-inf, inf\)"),
    (SGD, {"nesterov": True}, r"nesterov=True requires momentum in \(0, inf\) and dampening = 0"),
    (SGD, {"nesterov": True, "momentum": 0.9, "dampening": 0.1}, r"nesterov=True requires"),
    (RMSprop, {"alpha": 1.5}, r"alpha must be in \[0, 1\], got 1.5"),
    (RMSprop, {"momentum": -1}, r"momentum must be in \[0, inf\)"),
    (Adagrad, {"lr_decay": -1}, r"lr_decay must be in \[0, inf\)"),
    (Adagrad, {"initial_accumulator_value": -1}, r"initial_accumulator_value must be in \[0, inf\)"),
    (Adagrad, {"eps": -1e-10}, r"eps must be in \[0, inf\)"),
    (Adam, {"lr": "fast"}, r"lr must be a number in \[0, inf\)"),
])
def test_invalid_hyperparameters_raise_naming_argument_and_range(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


def test_setters_validate_and_are_atomic():
    opt = Adam(lr=0.01)
    opt.lr = 0.5
    assert opt.lr == 0.5 and opt.hyperparameters()["lr"] == 0.5
    with pytest.raises(ValueError, match="lr must be"):
        opt.lr = -1
    with pytest.raises(ValueError, match=r"betas\[1\]"):
        opt.set_hyperparameters(lr=0.1, betas=(0.9, 1.2))
    assert opt.lr == 0.5 and opt.betas == (0.9, 0.999)       # nothing applied
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        opt.set_hyperparameters(momentum=0.9)
    s = SGD(lr=0.1, momentum=0.9, nesterov=True)
    with pytest.raises(ValueError, match="nesterov"):
        s.momentum = 0.0
    s.set_hyperparameters(nesterov=False, momentum=0.0)
    assert s.hyperparameters()["momentum"] == 0.0


@pytest.mark.parametrize("kind,cls,expect", [
    ("sgd", SGD, {"momentum": 0.0}), ("momentum", SGD, {"momentum": 0.9, "nesterov": False}),
    ("nesterov", SGD, {"momentum": 0.9, "nesterov": True}), ("adagrad", Adagrad, {}),
    ("rmsprop", RMSprop, {}), ("adam", Adam, {"amsgrad": False}), ("amsgrad", Adam, {"amsgrad": True}),
    ("adamw", AdamW, {"weight_decay": 1e-2}),
])
def test_factory_kinds(kind, cls, expect):
    opt = make_optimizer(kind, lr=0.05)
    assert type(opt) is cls and opt.lr == 0.05
    for k, v in expect.items():
        assert opt.hyperparameters()[k] == v
    assert isinstance(optim.optimizer_label(kind), str) and optim.OPTIMIZERS[kind].label


def test_factory_rejects_unknown_kind_and_arguments():
    with pytest.raises(ValueError, match="kind must be one of"):
        make_optimizer("lamb")
    with pytest.raises(ValueError, match="unknown hyperparameter"):
        make_optimizer("sgd", betas=(0.9, 0.99))
    assert make_optimizer("momentum", momentum=0.5).momentum == 0.5


def test_flatten_from_shapes_and_arrays():
    fp = flatten({"w": (2, 3), "b": (3,), "s": ()})
    assert fp.buffer.shape == (10,) and fp.buffer.dtype == np.float64
    fp.views["b"][...] = 7
    np.testing.assert_array_equal(fp.buffer[6:9], 7)
    arrays = {"w": np.arange(6.0).reshape(2, 3), "b": np.ones(2, dtype=np.float32)}
    f2 = flatten(arrays, dtype=np.float32)
    assert f2.buffer.dtype == np.float32
    np.testing.assert_array_equal(f2.views["w"], arrays["w"])
    with pytest.raises(ValueError, match="dtype must be a floating"):
        flatten({"w": (2,)}, dtype=int)


@pytest.mark.parametrize("flat", [False, True])
def test_the_reserved_flat_slot_name_is_refused_for_a_tensor_and_nothing_is_stepped(flat):
    """The flat buffer's state lives under "__flat__": a tensor of that name would have been mistaken for it."""
    if flat:
        params = flatten({"w": (2,), "__flat__": (3,)}).views
    else:
        params = {"w": np.ones(2), "__flat__": np.ones(3)}
    grads = {n: np.full(p.shape, 0.5) for n, p in params.items()}
    before = {n: p.copy() for n, p in params.items()}
    opt = Adam(lr=0.1)
    with pytest.raises(ValueError, match="may not be named '__flat__'"):
        opt.step(params, grads)
    with pytest.raises(ValueError, match="may not be named '__flat__'"):  # grads listed in another order
        opt.step(params, dict(reversed(grads.items())))
    assert all(np.array_equal(params[n], before[n]) for n in params) and opt.t == 0 and opt.names() == []
    # an optimizer already keeping a flat buffer's state keeps it whole
    ok = flatten({"a": (2,), "b": (3,)}).views
    opt.step(ok, {n: np.ones(p.shape) for n, p in ok.items()})
    with pytest.raises(ValueError, match="may not be named '__flat__'"):
        opt.step(params, dict(reversed(grads.items())))
    assert opt.state_dict()["slots"].tolist() == ["__flat__"] and opt.names() == ["a", "b"]


def test_views_of_one_buffer_take_the_flat_branch_and_match_stepping_tensors_one_by_one():
    """The flat path keeps one state slot for the whole buffer (one set of ufunc calls per step: its speed
    is measured by benchmarks/bench_optim.py) and gives the same bits as stepping the tensors separately."""
    shapes = {"wte": (27, 16), "wpe": (16, 16), "lm_head": (27, 16), "q": (16, 16), "k": (16, 16),
              "v": (16, 16), "o": (16, 16), "fc1": (64, 16), "fc2": (16, 64)}
    rng = np.random.default_rng(3)
    start = {k: rng.standard_normal(s) for k, s in shapes.items()}
    fp, fg = flatten(start), flatten(shapes)
    sp = {k: v.copy() for k, v in start.items()}
    flat_opt, sep_opt = Adam(lr=0.01), Adam(lr=0.01)
    for _ in range(5):
        fg.buffer[:] = rng.standard_normal(fg.buffer.size)
        flat_opt.step(fp.views, fg.views)
        sep_opt.step(sp, {k: v.copy() for k, v in fg.views.items()})
    assert flat_opt.state_dict()["slots"].tolist() == [optim._FLAT]  # one slot: the flat branch
    assert sorted(sep_opt.state_dict()["slots"].tolist()) == sorted(shapes)
    assert flat_opt.names() == list(shapes)
    # the flat slot's state is laid out like the buffer: its exp_avg is the concatenation of the tensors'
    flat_m = flat_opt.state_dict()["slot0.state.exp_avg"]
    np.testing.assert_array_equal(flat_m, np.concatenate([sep_opt.state_of(k)["exp_avg"].ravel() for k in shapes]))
    for k in shapes:
        np.testing.assert_array_equal(fp.views[k], sp[k])


# ---------------------------------------------------------------------------------------------------------
# overflow: silent in the update, visible in nonfinite_state


@pytest.mark.parametrize("kind", ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "amsgrad", "adamw"])
def test_an_overflowing_update_warns_nothing_and_the_state_tells(kind):
    import warnings

    names = {"w": (3, 4), "b": (5,)}
    params = flatten({k: np.ones(s, np.float32) for k, s in names.items()})
    grads = flatten({k: np.ones(s, np.float32) for k, s in names.items()})
    opt = make_optimizer(kind, lr=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a float32 gradient of 1e20 squared leaked a RuntimeWarning
        opt.step(params.views, grads.views)
        assert opt.nonfinite_state() is None
        # adaptive methods: 1e20 is finite in float32, its square is not; momentum: 0.9·3e38 + 3e38 is not
        big = np.float32(3e38 if kind in ("sgd", "momentum", "nesterov") else 1e20)
        for _ in range(2):
            grads.views["b"][2] = big
            opt.step(params.views, grads.views)
        bare = make_optimizer(kind, lr=0.01)  # a bare array, not a flat buffer of tensors
        x = np.ones(6, np.float32)
        for _ in range(2):
            bare.step(x, np.full(6, big, np.float32))
    found = opt.nonfinite_state()
    if kind == "sgd":  # no state to overflow
        assert found is None and bare.nonfinite_state() is None
        return
    key, tensor = found
    assert tensor == "b" and key in opt.state_of("b")
    assert not np.isfinite(opt.state_of("b")[key]).all() and np.isfinite(opt.state_of("w")[key]).all()
    assert bare.nonfinite_state()[1] is None


def test_adam_weight_decay_overflowing_v_freezes_the_weights_and_is_reported():
    p = np.full(4, 0.08)
    opt = Adam(lr=0.01, weight_decay=1e308)
    before = p.copy()
    opt.step(p, np.zeros(4))  # g + wd·θ = 8e306, squared: inf
    assert np.isinf(opt.state_of()["exp_avg_sq"]).all()
    assert np.array_equal(p, before)  # m̂ / (√inf + ε) = 0: no update, nothing else says so
    assert opt.nonfinite_state() == ("exp_avg_sq", None)
    assert set(optim.STATE_LABELS) >= {"exp_avg", "exp_avg_sq", "max_exp_avg_sq", "momentum_buffer",
                                       "square_avg", "grad_avg", "sum"}


@pytest.mark.parametrize("kind", sorted(optim.OPTIMIZERS))
def test_no_optimizer_kind_warns_on_overflow_and_nonfinite_state_sees_all_its_state(kind):
    import warnings

    from adamlab.core import gpt

    shapes = gpt.param_shapes(gpt.GPTConfig(vocab_size=7, n_embd=4, n_head=1, n_layer=1, block_size=3))
    params, grads = flatten(shapes, np.float32), flatten(shapes, np.float32)
    params.buffer[:] = 0.5
    opt = make_optimizer(kind, lr=0.01, weight_decay=1e30) if "weight_decay" in optim.kind_arguments(kind) \
        else make_optimizer(kind, lr=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for big in (1.0, 3e38, 3e38):
            grads.buffer[:] = big
            opt.step(params.views, grads.views)
        found = opt.nonfinite_state()
    arrays = [np.asarray(v) for k, v in opt.state_dict().items() if ".state." in k]
    bad = any(a.dtype.kind == "f" and not np.isfinite(a).all() for a in arrays)
    assert (found is not None) == bad, (kind, found)
    if found is not None:
        assert found[1] in shapes and not np.isfinite(opt.state_of(found[1])[found[0]]).all()


@pytest.mark.parametrize("kind", sorted(k for k in optim.OPTIMIZERS if k != "muon"))  # (Muon: matrices only)
def test_a_2d_point_at_the_float_limit_warns_nothing_in_any_kind(kind):
    # (2,) float64 arrays take the Python-float path, whose fallbacks to NumPy (Adagrad with eps 0, kinds
    # without a Python-float path) must be as quiet as the NumPy path
    import warnings

    extra = {"eps": 0.0} if kind == "adagrad" else {}
    opt = make_optimizer(kind, lr=1.0, **extra)
    x = np.array([1e300, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(3):
            opt.step(x, np.array([1e300, 0.0]))
