"""Learning-rate schedules against their formulas, written out per step, and microgpt's loop."""

import math

import numpy as np
import pytest

from adamlab.core.optim import Adam
from adamlab.core.schedules import SCHEDULES, make_schedule


def test_linear_is_microgpts_decay_evaluated_before_each_step():
    lr, num_steps = 0.01, 1000
    sched = make_schedule("linear", lr, num_steps)
    for step in range(num_steps):                       # microgpt: lr_t = lr * (1 - step / num_steps)
        assert sched(step) == lr * (1 - step / num_steps)
    assert sched(0) == lr and sched(num_steps - 1) == pytest.approx(lr / num_steps)
    assert sched(num_steps) == 0.0 and sched(5 * num_steps) == 0.0   # never negative past the end


def test_linear_schedule_reproduces_microgpts_adam_loop():
    """microgpt's update: m, v lists, lr_t = lr(1 − step/N), p −= lr_t·m̂/(√v̂ + eps), written plainly."""
    lr, b1, b2, eps, n = 0.01, 0.85, 0.99, 1e-8, 50
    rng = np.random.default_rng(0)
    grads = rng.standard_normal((n, 4))
    p_ref, m, v = [0.5, -0.2, 0.1, 0.0], [0.0] * 4, [0.0] * 4
    for step in range(n):
        lr_t = lr * (1 - step / n)
        for i in range(4):
            g = grads[step, i]
            m[i] = b1 * m[i] + (1 - b1) * g
            v[i] = b2 * v[i] + (1 - b2) * g ** 2
            m_hat = m[i] / (1 - b1 ** (step + 1))
            v_hat = v[i] / (1 - b2 ** (step + 1))
            p_ref[i] -= lr_t * m_hat / (v_hat ** 0.5 + eps)
    p = np.array([0.5, -0.2, 0.1, 0.0])
    opt, sched = Adam(lr=lr, betas=(b1, b2), eps=eps), make_schedule("linear", lr, n)
    for step in range(n):
        opt.lr = sched(step)
        opt.step(p, grads[step])
    np.testing.assert_allclose(p, p_ref, rtol=1e-12)


def test_cosine_formula_and_landmarks():
    s = make_schedule("cosine", 0.2, 100)
    for t in (0, 1, 37, 50, 99, 100):
        assert s(t) == pytest.approx(0.2 * 0.5 * (1 + math.cos(math.pi * t / 100)), rel=1e-15, abs=1e-18)
    assert s(0) == 0.2 and s(50) == pytest.approx(0.1) and s(100) == pytest.approx(0.0, abs=1e-18)
    assert s(250) == pytest.approx(0.0, abs=1e-18)


def test_warmup_cosine_ramps_then_follows_cosine():
    lr, T, W = 1.0, 110, 10
    s = make_schedule("warmup_cosine", lr, T, warmup=W)
    for t in range(W):
        assert s(t) == pytest.approx(lr * (t + 1) / W)
    assert s(W - 1) == pytest.approx(lr) and s(W) == pytest.approx(lr)
    for t in (10, 35, 60, 109, 110):
        assert s(t) == pytest.approx(0.5 * lr * (1 + math.cos(math.pi * (t - W) / (T - W))), abs=1e-15)
    assert s(60) == pytest.approx(0.5)                 # half-way through the cosine part
    no_warmup = make_schedule("warmup_cosine", lr, T, warmup=0)
    cos = make_schedule("cosine", lr, T)
    np.testing.assert_array_equal(no_warmup(np.arange(T)), cos(np.arange(T)))


def test_constant():
    s = make_schedule("constant", 3e-4, 10, warmup=3)   # warmup ignored by non-warmup schedules
    assert s(0) == s(9) == s(1000) == 3e-4


@pytest.mark.parametrize("name", sorted(SCHEDULES))
def test_vectorised_over_t_equals_scalar_calls(name):
    s = make_schedule(name, 0.05, 200, warmup=20)
    ts = np.arange(260)
    curve = s(ts)
    assert curve.shape == ts.shape and curve.dtype == np.float64
    np.testing.assert_array_equal(curve, [s(int(t)) for t in ts])
    np.testing.assert_array_equal(s.curve(), curve[:200])
    assert s(ts.reshape(13, 20)).shape == (13, 20)
    assert isinstance(s(5), float)
    assert np.all(curve >= 0)


@pytest.mark.parametrize("args,kwargs,message", [
    (("exponential", 0.1, 10), {}, r"schedule name must be one of"),
    (("linear", -0.1, 10), {}, r"lr must be a number in \[0, inf\)"),
    (("linear", float("inf"), 10), {}, r"lr must be a number in \[0, inf\)"),
    (("linear", 0.1, 0), {}, r"total_steps must be an integer in \[1, inf\), got 0"),
    (("linear", 0.1, 10.5), {}, r"total_steps must be an integer"),
    (("cosine", 0.1, 10), {"warmup": -1}, r"warmup must be an integer in \[0, inf\), got -1"),
    (("warmup_cosine", 0.1, 10), {"warmup": 10}, r"warmup must be in \[0, total_steps − 1\] = \[0, 9\]"),
])
def test_invalid_arguments(args, kwargs, message):
    with pytest.raises(ValueError, match=message):
        make_schedule(*args, **kwargs)


def test_negative_or_nan_t_rejected():
    s = make_schedule("linear", 0.1, 10)
    with pytest.raises(ValueError, match=r"t must be in \[0, inf\)"):
        s(-1)
    with pytest.raises(ValueError, match=r"t must be in \[0, inf\)"):
        s(np.array([0.0, np.nan]))
