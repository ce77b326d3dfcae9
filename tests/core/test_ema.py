"""EMA, bias correction and Adam traces against the plain recursion, hand-worked values and optim.Adam."""

import numpy as np
import pytest

from adamlab.core import ema as E
from adamlab.core.optim import Adam


def recursion(x, beta, debias=False):
    """The definition, one float at a time."""
    m, out = 0.0, []
    for t, xt in enumerate(x, start=1):
        m = beta * m + (1 - beta) * xt
        out.append(m / (1 - beta ** t) if debias else m)
    return np.array(out)


SEQ = [5.0, -2.0, 4.0, -1.0, 6.0]


def test_hand_worked_sequence_beta_09():
    # m1 = .1·5 = .5; m2 = .9·.5 − .2 = .25; m3 = .225 + .4 = .625; m4 = .5625 − .1 = .4625; m5 = .41625 + .6
    np.testing.assert_allclose(E.ema(SEQ, 0.9), [0.5, 0.25, 0.625, 0.4625, 1.01625], rtol=1e-14)
    # divided by 1 − .9ᵗ = .1, .19, .271, .3439, .40951
    np.testing.assert_allclose(E.debiased_ema(SEQ, 0.9),
                               [5.0, 0.25 / 0.19, 0.625 / 0.271, 0.4625 / 0.3439, 1.01625 / 0.40951], rtol=1e-14)
    assert E.debiased_ema(SEQ, 0.9)[0] == pytest.approx(5.0, rel=1e-15)    # first value unbiased


def test_constant_sequence_debiased_is_exact_from_step_one():
    np.testing.assert_allclose(E.debiased_ema(np.full(50, 3.0), 0.99), 3.0, rtol=1e-13)
    biased = E.ema(np.full(50, 3.0), 0.99)
    np.testing.assert_allclose(biased, 3.0 * (1 - 0.99 ** np.arange(1, 51)), rtol=1e-13)


@pytest.mark.parametrize("beta", [0.0, 0.3, 0.5, 0.9, 0.99, 0.999, 0.9999])
@pytest.mark.parametrize("signal", ["noise", "offset", "walk", "spiky"])
def test_equals_plain_recursion(beta, signal):
    rng = np.random.default_rng(7)
    x = {"noise": rng.standard_normal(10_000), "offset": 3 + rng.standard_normal(10_000),
         "walk": np.cumsum(rng.standard_normal(10_000)),
         "spiky": rng.standard_normal(10_000) * 10.0 ** rng.integers(-6, 6, 10_000)}[signal]
    for debias in (False, True):
        ref = recursion(x, beta, debias)
        got = E.ema(x, beta, debias=debias)
        assert got.shape == x.shape and got.dtype == np.float64
        assert np.max(np.abs(got - ref)) <= 1e-12 * np.max(np.abs(ref))


def test_time_along_axis_0_for_stacked_sequences():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((300, 3, 2))
    got = E.ema(x, 0.95, debias=True)
    for i in range(3):
        for j in range(2):
            np.testing.assert_allclose(got[:, i, j], recursion(x[:, i, j], 0.95, True), rtol=1e-12, atol=1e-14)


def test_edge_lengths():
    assert E.ema([], 0.9).shape == (0,)
    np.testing.assert_allclose(E.ema([2.0], 0.9), [0.2])
    np.testing.assert_allclose(E.debiased_ema([2.0], 0.9), [2.0])


def test_nonfinite_inputs_propagate_like_the_recursion_without_warnings():
    import warnings
    x = [1.0, np.inf, 2.0, np.nan, 3.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = E.ema(x, 0.5)
        ref = recursion(x, 0.5)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    np.testing.assert_array_equal(got[:2], ref[:2])


def test_bias_correction_and_effective_memory():
    assert E.bias_correction(0.9, 1) == pytest.approx(10.0)
    assert E.bias_correction(0.9, 2) == pytest.approx(1 / 0.19)
    t = np.arange(1, 6)
    np.testing.assert_allclose(E.bias_correction(0.999, t), 1 / (1 - 0.999 ** t))
    assert E.bias_correction(0.0, 1) == 1.0
    assert E.effective_memory(0.9) == pytest.approx(10.0)
    assert E.effective_memory(0.999) == pytest.approx(1000.0)
    assert E.effective_memory(0.0) == 1.0
    # the correction tends to 1 once t is several memories long
    assert E.bias_correction(0.9, 200) == pytest.approx(1.0, abs=1e-9)


@pytest.mark.parametrize("call,message", [
    (lambda: E.ema(SEQ, 1.0), r"beta must be in \[0, 1\), got 1.0"),
    (lambda: E.ema(SEQ, -0.1), r"beta must be in \[0, 1\)"),
    (lambda: E.ema(3.0, 0.5), r"x must be a sequence"),
    (lambda: E.bias_correction(0.9, 0), r"t must be in \[1, inf\)"),
    (lambda: E.effective_memory(1.0), r"beta must be in \[0, 1\)"),
    (lambda: E.adam_moments(SEQ, beta2=1.0), r"beta2 must be in \[0, 1\)"),
    (lambda: E.adam_moments(SEQ, eps=0.0), r"eps must be in \(0, inf\)"),
    (lambda: E.smooth(SEQ, 1.5), r"weight must be in \[0, 1\)"),
])
def test_invalid_arguments(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_smooth_is_tensorboards_debiased_ema_skipping_nonfinite():
    values = np.array([3.0, 2.5, np.nan, 2.0, np.inf, 1.8, 1.7])
    got = E.smooth(values, 0.6)
    # TensorBoard: last = last·w + (1 − w)·v over finite points, divided by 1 − w^count; others passed through
    last, count, ref = 0.0, 0, []
    for v in values:
        if not np.isfinite(v):
            ref.append(v)
            continue
        last, count = last * 0.6 + 0.4 * v, count + 1
        ref.append(last / (1 - 0.6 ** count))
    np.testing.assert_allclose(got, ref, rtol=1e-14)
    np.testing.assert_array_equal(E.smooth(values, 0.0), values)


@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.85, 0.99), (0.0, 0.5), (0.9, 0.9999)])
def test_adam_traces_equal_what_optim_adam_computes(betas):
    rng = np.random.default_rng(5)
    g = np.concatenate([rng.standard_normal(100) + 1.0, 0.01 * rng.standard_normal(100), -rng.standard_normal(100)])
    lr, eps = 0.01, 1e-8
    tr = E.adam_moments(g, beta1=betas[0], beta2=betas[1], eps=eps, lr=lr)
    opt, x = Adam(lr=lr, betas=betas, eps=eps), np.array([0.0])
    for t in range(len(g)):
        before = x[0]
        opt.step(x, g[t:t + 1])
        info = opt.inspect()
        assert info["t"] == tr.t[t] == t + 1
        for key, trace in [("m", tr.m), ("v", tr.v), ("m_hat", tr.m_hat), ("v_hat", tr.v_hat),
                           ("normalized_step", tr.ratio), ("effective_lr", tr.effective_lr)]:
            assert trace[t] == pytest.approx(info[key][0], rel=1e-11, abs=1e-15), (key, t)
        # x[0] − before loses the digits below x's own ulp, hence the absolute tolerance
        assert tr.step[t] == pytest.approx(x[0] - before, rel=1e-10, abs=4e-16 * max(1.0, abs(x[0])))
        assert tr.bias_correction1[t] == pytest.approx(info["bias_correction1"], rel=1e-15)


def test_adam_traces_first_step_is_sign_and_stacked_shapes():
    tr = E.adam_moments([0.3, -4.0], lr=0.1)
    assert tr.ratio[0] == pytest.approx(1.0, rel=1e-6)
    assert tr.step[0] == pytest.approx(-0.1, rel=1e-6)
    g = np.random.default_rng(0).standard_normal((50, 4))
    trs = E.adam_moments(g, 0.8, 0.95)
    one = E.adam_moments(g[:, 2], 0.8, 0.95)
    np.testing.assert_allclose(trs.ratio[:, 2], one.ratio, rtol=1e-14)
    assert trs.m.shape == (50, 4) and trs.t.shape == (50,)
