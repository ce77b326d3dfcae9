"""Trajectories: shapes, first steps against the formulas, noise, divergence, races and K starts."""

import math
import warnings

import numpy as np
import pytest

from adamlab.core.optim import make_optimizer
from adamlab.core.surfaces import SURFACES, ill_conditioned
from adamlab.core.trajectory import BOX_FACTOR, Trajectory, run, run_detailed, run_many

ROSEN = SURFACES["rosenbrock"]
KINDS = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "amsgrad", "adamw"]
SCENE = [("sgd", {"lr": 1e-3}), ("momentum", {"lr": 1e-3}), ("rmsprop", {"lr": 1e-2}),
         ("adam", {"lr": 0.05}), ("adamw", {"lr": 0.05})]


@pytest.fixture(autouse=True)
def no_warnings():
    """Every test here fails on any warning (overflow in a diverging run must stay silent)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        yield


def starts_in(surface, k, seed=0):
    (x0, x1), (y0, y1) = surface.domain
    rng = np.random.default_rng(seed)
    return np.stack([rng.uniform(x0, x1, k), rng.uniform(y0, y1, k)], axis=-1)  # (k, 2)


def grad_at(surface, p):
    return np.array(surface.grad(p[0], p[1]))


# ---------------------------------------------------------------------------------------------------------
# shapes


def test_single_start_shapes_and_row_zero():
    path = run(ROSEN, ("adam", {"lr": 0.01}), ROSEN.start, 50)
    assert path.shape == (51, 2) and path.dtype == np.float64
    assert tuple(path[0]) == ROSEN.start
    assert np.all(np.isfinite(path))
    res = run_detailed(ROSEN, ("adam", {"lr": 0.01}), ROSEN.start, 50)
    assert isinstance(res, Trajectory)
    np.testing.assert_array_equal(res.path, path)
    np.testing.assert_allclose(res.loss, ROSEN.value(path[:, 0], path[:, 1]))
    assert res.diverged_at is None
    assert res.grads is None and res.updates is None and res.m_hat is None and res.eff_lr is None


def test_k_starts_shapes_and_row_zero():
    starts = starts_in(ROSEN, 7)
    path = run(ROSEN, ("sgd", {"lr": 1e-4}), starts, 30)
    assert path.shape == (31, 7, 2)
    np.testing.assert_array_equal(path[0], starts)
    res = run_detailed(ROSEN, ("sgd", {"lr": 1e-4}), starts, 30, record=True)
    assert res.loss.shape == (31, 7)
    assert res.diverged_at.shape == (7,) and np.all(res.diverged_at == -1)
    assert res.grads.shape == res.updates.shape == (30, 7, 2)


def test_zero_steps_is_just_the_start():
    path = run(ROSEN, ("sgd", {}), (0.5, 0.25), 0)
    np.testing.assert_array_equal(path, [[0.5, 0.25]])


def test_start_is_not_modified():
    starts = starts_in(ROSEN, 3)
    before = starts.copy()
    run(ROSEN, ("adam", {"lr": 0.1}), starts, 20)
    np.testing.assert_array_equal(starts, before)


# ---------------------------------------------------------------------------------------------------------
# first steps against the formulas


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_first_adam_step_is_lr_times_sign_of_gradient(name):
    # bias correction: m̂₁ = g, v̂₁ = g², so the first step is −lr·g/(|g| + ε) ≈ −lr·sign(g), whatever |g| is
    s = SURFACES[name]
    lr = 0.01
    path = run(s, ("adam", {"lr": lr}), s.start, 1)
    g = grad_at(s, s.start)
    assert np.all(g != 0)
    step = path[1] - path[0]
    np.testing.assert_allclose(step, -lr * np.sign(g), rtol=1e-3)  # ε = 1e-8 against |g| >= 2e-5
    np.testing.assert_allclose(step, -lr * g / (np.abs(g) + 1e-8), rtol=1e-9, atol=1e-12 * max(1, abs(s.start[0])))


def test_first_adam_step_for_k_starts():
    starts = starts_in(SURFACES["beale"], 20, seed=4)
    lr = 0.03
    path = run(SURFACES["beale"], ("adam", {"lr": lr}), starts, 1)
    gx, gy = SURFACES["beale"].grad(starts[:, 0], starts[:, 1])
    g = np.stack([gx, gy], axis=-1)
    np.testing.assert_allclose(path[1] - path[0], -lr * np.sign(g), rtol=1e-6)


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_first_sgd_step_is_start_minus_lr_grad(name):
    s = SURFACES[name]
    lr = 1e-3
    path = run(s, ("sgd", {"lr": lr}), s.start, 1)
    expected = np.array(s.start) - lr * grad_at(s, s.start)
    np.testing.assert_allclose(path[1], expected, rtol=1e-15, atol=1e-300)


def test_sgd_path_on_a_quadratic_is_geometric():
    # f = x² + y²: x_{t+1} = (1 − 2 lr) x_t, worked by hand
    lr = 0.1
    path = run(SURFACES["quadratic"], ("sgd", {"lr": lr}), (1.0, -2.0), 20)
    t = np.arange(21)[:, None]
    np.testing.assert_allclose(path, (1 - 2 * lr) ** t * np.array([1.0, -2.0]), rtol=1e-12)


def test_optimizer_instance_is_used_and_must_be_fresh():
    opt = make_optimizer("adam", lr=0.02)
    path = run(ROSEN, opt, ROSEN.start, 10)
    assert opt.t == 10
    np.testing.assert_array_equal(path, run(ROSEN, ("adam", {"lr": 0.02}), ROSEN.start, 10))
    with pytest.raises(ValueError, match="optimizer"):
        run(ROSEN, opt, ROSEN.start, 10)  # already stepped: its moments belong to another path


# ---------------------------------------------------------------------------------------------------------
# noise


def test_noise_is_reproducible_and_depends_on_the_seed():
    a = run(ROSEN, ("adam", {"lr": 0.01}), ROSEN.start, 100, noise=2.0, seed=7)
    b = run(ROSEN, ("adam", {"lr": 0.01}), ROSEN.start, 100, noise=2.0, seed=7)
    c = run(ROSEN, ("adam", {"lr": 0.01}), ROSEN.start, 100, noise=2.0, seed=8)
    clean = run(ROSEN, ("adam", {"lr": 0.01}), ROSEN.start, 100)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a[1:], c[1:])
    assert not np.allclose(a[1:], clean[1:])


def test_noise_is_gaussian_with_the_documented_draw():
    # documented: z = default_rng(seed).standard_normal((steps, *start.shape)); the gradient seen at step t
    # is ∇f(path[t]) + σ z[t]
    sigma, seed, steps = 0.5, 3, 40
    res = run_detailed(ROSEN, ("sgd", {"lr": 1e-4}), ROSEN.start, steps, noise=sigma, seed=seed, record=True)
    z = np.random.default_rng(seed).standard_normal((steps, 2))
    clean = np.array([grad_at(ROSEN, p) for p in res.path[:-1]])
    np.testing.assert_allclose(res.grads, clean + sigma * z, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(res.path[1], np.array(ROSEN.start) - 1e-4 * (clean[0] + sigma * z[0]), rtol=1e-15)


def test_noise_statistics():
    # the noise part of the recorded gradients, (grads − ∇f at the step's start), must look like N(0, σ²)
    s = SURFACES["quadratic"]
    res = run_detailed(s, ("sgd", {"lr": 1e-9}), starts_in(s, 50), 200, noise=3.0, seed=1, record=True)
    x, y = res.path[:-1, ..., 0], res.path[:-1, ..., 1]
    clean = np.stack(s.grad(x, y), axis=-1)
    z = (res.grads - clean) / 3.0
    assert abs(z.mean()) < 0.02 and abs(z.std() - 1) < 0.02
    # independent between the two axes and between starts
    assert abs(np.corrcoef(z[..., 0].ravel(), z[..., 1].ravel())[0, 1]) < 0.02


# ---------------------------------------------------------------------------------------------------------
# divergence


def reference_sgd_divergence(surface, lr, start, steps):
    """A plain Python SGD loop with the documented rule: the first row that is not finite or lies more than
    BOX_FACTOR domain widths from the domain centre (per axis)."""
    (x0, x1), (y0, y1) = surface.domain
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    x, y = start
    rows = [(x, y)]
    for t in range(1, steps + 1):
        with np.errstate(all="ignore"):
            gx, gy = surface.grad(x, y)
            x, y = x - lr * gx, y - lr * gy
        inside = abs(x - cx) <= BOX_FACTOR * (x1 - x0) and abs(y - cy) <= BOX_FACTOR * (y1 - y0)
        if not inside:  # NaN and inf compare False too
            return t, rows
        rows.append((x, y))
    return None, rows


def test_divergence_stops_with_the_right_step_and_nan_after():
    lr, steps = 0.05, 300
    expected, rows = reference_sgd_divergence(ROSEN, lr, ROSEN.start, steps)
    assert expected is not None and 2 < expected < 50  # the reference really blows up, early
    res = run_detailed(ROSEN, ("sgd", {"lr": lr}), ROSEN.start, steps)
    assert res.diverged_at == expected
    assert res.path.shape == (steps + 1, 2)
    np.testing.assert_allclose(res.path[:expected], rows, rtol=1e-12)
    assert np.all(np.isnan(res.path[expected:]))
    assert np.all(np.isfinite(res.path[:expected]))
    assert np.all(np.isnan(res.loss[expected:])) and np.all(np.isfinite(res.loss[:expected]))


def test_divergence_by_leaving_the_box_without_overflow():
    # SGD on the quadratic with lr = 1.5 multiplies x by (1 − 3) = −2 each step: finite for ~1000 steps but
    # out of the 1e6-domain box (domain width 4, centre 0) once 2^t·|x0| > 4e6
    s = SURFACES["quadratic"]
    res = run_detailed(s, ("sgd", {"lr": 1.5}), (1.0, 0.0), 100)
    expected = math.ceil(math.log2(BOX_FACTOR * 4) + 1e-12)  # first t with 2^t > 4e6
    assert 2 ** (expected - 1) <= BOX_FACTOR * 4 < 2**expected
    assert res.diverged_at == expected
    assert np.all(np.isnan(res.path[expected:])) and np.all(np.isfinite(res.path[:expected]))


def test_divergence_per_start_matches_single_runs():
    starts = np.array([[1.0, 1.0], [-1.5, 2.5], [0.9, 0.8], [1.8, -0.5], [1.1, 1.2]])
    res = run_detailed(ROSEN, ("sgd", {"lr": 4e-3}), starts, 200)
    singles = [run_detailed(ROSEN, ("sgd", {"lr": 4e-3}), p, 200) for p in starts]
    expected = np.array([-1 if r.diverged_at is None else r.diverged_at for r in singles])
    np.testing.assert_array_equal(res.diverged_at, expected)
    assert (expected >= 0).any() and (expected < 0).any()  # a real mix of diverging and converging starts
    for k, r in enumerate(singles):
        np.testing.assert_array_equal(res.path[:, k], r.path)


def test_every_optimizer_diverging_is_silent_and_nan():
    for kind in KINDS:
        # lr 1e9: even the adaptive methods' first step (~lr per axis) leaves the 4e6-wide box
        res = run_detailed(ROSEN, (kind, {"lr": 1e9}), ROSEN.start, 2000, record=True)
        assert res.diverged_at is not None and res.diverged_at >= 1, kind
        assert np.all(np.isnan(res.path[res.diverged_at:])), kind
        assert np.all(np.isnan(res.grads[res.diverged_at:])), kind


def test_noise_at_the_float_limit_diverges_silently():
    # σ = 1e308: σ·z overflows for |z| > 1.8 (it leaked "overflow encountered in multiply")
    race = run_many(ROSEN, SCENE, ROSEN.start, 50, noise=1e308, seed=0)
    assert race[0].diverged_at is not None  # SGD: gone at the first inf
    paths = run(ROSEN, ("adam", {"lr": 0.05}), starts_in(ROSEN, 16), 30, noise=1e308)
    assert not np.isinf(paths).any() and np.isnan(paths[-1]).any()  # diverged paths are NaN, never inf


# ---------------------------------------------------------------------------------------------------------
# races and K starts


def test_run_many_equals_separate_runs():
    specs = SCENE + [("nesterov", {"lr": 1e-3}), ("adagrad", {"lr": 0.1}), ("amsgrad", {"lr": 0.05})]
    for noise in (0.0, 1.5):
        race = run_many(ROSEN, specs, ROSEN.start, 300, noise=noise, seed=11)
        assert len(race) == len(specs)
        for spec, res in zip(specs, race):
            alone = run_detailed(ROSEN, spec, ROSEN.start, 300, noise=noise, seed=11)
            np.testing.assert_array_equal(res.path, alone.path)
            np.testing.assert_array_equal(res.loss, alone.loss)


def test_run_many_with_k_starts_equals_separate_runs():
    starts = starts_in(ROSEN, 6, seed=2)
    race = run_many(ROSEN, SCENE, starts, 100, noise=0.3, seed=5)
    for spec, res in zip(SCENE, race):
        assert res.path.shape == (101, 6, 2)
        np.testing.assert_array_equal(res.path, run(ROSEN, spec, starts, 100, noise=0.3, seed=5))


@pytest.mark.parametrize("kind", KINDS)
def test_k_start_run_equals_k_single_runs(kind):
    s = ill_conditioned(20.0, 30.0)
    starts = starts_in(s, 5, seed=9)
    lr = {"sgd": 0.05, "momentum": 0.02, "nesterov": 0.02, "adagrad": 0.3}.get(kind, 0.05)
    many = run(s, (kind, {"lr": lr}), starts, 150)
    for k in range(5):
        np.testing.assert_array_equal(many[:, k], run(s, (kind, {"lr": lr}), starts[k], 150))


# ---------------------------------------------------------------------------------------------------------
# records for the GUI's arrows


def reference_adam(surface, start, lr, steps, b1=0.9, b2=0.999, eps=1e-8):
    """Textbook Adam (Kingma & Ba, Algorithm 1) written out, returning per step (m̂, lr/(√v̂+ε))."""
    p = np.array(start, float)
    m = np.zeros(2)
    v = np.zeros(2)
    out = []
    for t in range(1, steps + 1):
        g = grad_at(surface, p)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        m_hat, v_hat = m / (1 - b1**t), v / (1 - b2**t)
        out.append((m_hat, lr / (np.sqrt(v_hat) + eps)))
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
    return out


def test_record_adam_internals_against_a_textbook_adam():
    lr = 0.02
    res = run_detailed(ROSEN, ("adam", {"lr": lr}), ROSEN.start, 25, record=True)
    ref = reference_adam(ROSEN, ROSEN.start, lr, 25)
    np.testing.assert_allclose(res.m_hat, [m for m, _ in ref], rtol=1e-10)
    np.testing.assert_allclose(res.eff_lr, [e for _, e in ref], rtol=1e-10)
    # the update is −eff_lr·m̂ per axis, and the recorded gradient is the one at the step's start
    np.testing.assert_allclose(res.updates, -res.eff_lr * res.m_hat, rtol=1e-9)
    np.testing.assert_allclose(res.grads, [grad_at(ROSEN, p) for p in res.path[:-1]], rtol=1e-14)
    np.testing.assert_allclose(res.updates, np.diff(res.path, axis=0))


def test_record_per_optimizer_kind():
    race = run_many(ROSEN, [("sgd", {"lr": 1e-3}), ("rmsprop", {"lr": 1e-2}), ("adamw", {"lr": 0.05})],
                    starts_in(ROSEN, 3), 10, record=True)
    sgd, rms, adamw = race
    assert sgd.m_hat is None and sgd.eff_lr is None  # nothing adaptive to show
    assert rms.m_hat is None and rms.eff_lr.shape == (10, 3, 2)
    assert adamw.m_hat.shape == adamw.eff_lr.shape == (10, 3, 2)
    # RMSprop's first step: v = (1 − α)g², effective lr = lr/(√v + ε) with α = 0.99
    g0 = rms.grads[0]
    np.testing.assert_allclose(rms.eff_lr[0], 1e-2 / (np.sqrt(0.01 * g0**2) + 1e-8), rtol=1e-12)
    np.testing.assert_allclose(rms.updates[0], -rms.eff_lr[0] * g0, rtol=1e-12)


# ---------------------------------------------------------------------------------------------------------
# schedules


def test_schedule_sets_the_lr_of_each_step():
    s = SURFACES["quadratic"]

    def schedule(t):
        return 0.1 / (1 + t)

    res = run_detailed(s, ("sgd", {"lr": 123.0}), (1.0, -0.5), 30, schedule=schedule)
    # by hand: x_{t+1} = (1 − 2·lr_t) x_t with lr_t = schedule(t), t = 0, 1, ...
    expected = [np.array([1.0, -0.5])]
    for t in range(30):
        expected.append((1 - 2 * schedule(t)) * expected[-1])
    np.testing.assert_allclose(res.path, expected, rtol=1e-12)
    np.testing.assert_allclose(res.lr, [schedule(t) for t in range(30)])


def test_per_spec_schedules_in_a_race():
    s = SURFACES["quadratic"]
    race = run_many(s, [("sgd", {"lr": 0.1}), ("sgd", {"lr": 0.1})], (1.0, 1.0), 5,
                    schedule=[None, lambda t: 0.2])
    np.testing.assert_allclose(race[0].path[:, 0], 0.8 ** np.arange(6))
    np.testing.assert_allclose(race[1].path[:, 0], 0.6 ** np.arange(6))


def test_schedule_by_name_uses_each_optimizers_own_lr():
    # "linear" is lr·(1 − t/T) (schedules.py, 0-based t); SGD on x² + y²: x_{t+1} = (1 − 2·lr_t) x_t
    s, T = SURFACES["quadratic"], 20
    race = run_many(s, [("sgd", {"lr": 0.1}), ("sgd", {"lr": 0.3})], (1.0, 2.0), T, schedule="linear")
    for res, lr in zip(race, (0.1, 0.3)):
        lr_t = lr * (1 - np.arange(T) / T)
        np.testing.assert_allclose(res.lr, lr_t, rtol=1e-15)
        expected = np.concatenate([[1.0], np.cumprod(1 - 2 * lr_t)])
        np.testing.assert_allclose(res.path[:, 0], expected, rtol=1e-12)


def test_schedule_object_equals_the_same_callable():
    from adamlab.core.schedules import make_schedule

    sched = make_schedule("warmup_cosine", 0.05, 200, warmup=20)
    a = run(ROSEN, ("adam", {}), ROSEN.start, 200, schedule=sched)  # vectorised path
    b = run(ROSEN, ("adam", {}), ROSEN.start, 200, schedule=lambda t: sched(t))  # one call per step
    np.testing.assert_allclose(a, b, rtol=1e-12)  # (vectorised cos may differ from scalar cos in the last bit)


# ---------------------------------------------------------------------------------------------------------
# invalid input


@pytest.mark.parametrize("kwargs, word", [
    (dict(start=(1.0, 2.0, 3.0)), "start"),
    (dict(start=np.zeros((2, 3))), "start"),
    (dict(start=(np.nan, 0.0)), "start"),
    (dict(steps=-1), "steps"),
    (dict(steps=2.5), "steps"),
    (dict(noise=-0.1), "noise"),
    (dict(noise=np.inf), "noise"),
    (dict(optimizer=("adam", 0.1)), "spec"),
    (dict(optimizer=("nope", {})), "kind"),
    (dict(optimizer="adam"), "optimizer"),
    (dict(schedule=lambda t: -1.0), "schedule"),
    (dict(schedule=42), "schedule"),
    (dict(schedule="nope"), "schedule"),
])
def test_invalid_arguments_raise_value_error(kwargs, word):
    args = dict(surface=ROSEN, optimizer=("adam", {}), start=(0.0, 0.0), steps=5)
    args.update(kwargs)
    with pytest.raises(ValueError, match=word):
        run_detailed(**args)


def test_run_many_rejects_shared_instances_and_bad_schedule_lists():
    opt = make_optimizer("sgd")
    with pytest.raises(ValueError, match="specs"):
        run_many(ROSEN, [opt, opt], ROSEN.start, 5)
    with pytest.raises(ValueError, match="schedule"):
        run_many(ROSEN, SCENE, ROSEN.start, 5, schedule=[None, None])


# ---------------------------------------------------------------------------------------------------------
# the optimizers' Python-float path for tiny arrays (what a race steps: one (2,) point per optimizer)

TINY_CONFIGS = [
    ("sgd", {"lr": 0.01}), ("sgd", {"lr": 0.01, "weight_decay": 0.1}),
    ("momentum", {"lr": 0.01, "dampening": 0.3}), ("nesterov", {"lr": 0.01, "weight_decay": 0.05}),
    ("adagrad", {"lr": 0.5, "lr_decay": 0.01, "weight_decay": 0.1, "initial_accumulator_value": 0.1}),
    ("rmsprop", {"lr": 0.01}), ("rmsprop", {"lr": 0.01, "centered": True, "momentum": 0.9, "weight_decay": 0.1}),
    ("rmsprop", {"lr": 0.01, "alpha": 0.3, "centered": True}),
    ("adam", {"lr": 0.1}), ("adam", {"lr": 0.1, "betas": (0.3, 0.2), "weight_decay": 0.1}),
    ("amsgrad", {"lr": 0.1, "weight_decay": 0.01}), ("adamw", {"lr": 0.1, "weight_decay": 0.5}),
    ("adamw", {"lr": 0.1, "betas": (0.6, 0.9), "amsgrad": True}),
]


@pytest.mark.parametrize("kind, hyper", TINY_CONFIGS)
def test_tiny_arrays_step_bit_for_bit_like_large_ones(kind, hyper):
    """A (2,) float64 point is stepped with Python floats, a (64,) array with NumPy ufuncs: the same
    coordinates must come out with identical bits (params and every state array), through a changing lr,
    gradients spanning 1e-300 … 1e300, signed zeros, and inf/NaN gradients (which poison, not raise)."""
    rng = np.random.default_rng(7)
    small, big = make_optimizer(kind, **hyper), make_optimizer(kind, **hyper)
    p_small = rng.normal(size=2)
    p_big = rng.normal(size=64)
    p_big[:2] = p_small
    for t in range(300):
        g = rng.normal(size=64) * 10.0 ** rng.integers(-5, 5)
        if t == 50:
            g[:2] = (0.0, -0.0)
        if t == 80:
            g[:2] = (1e-300, -1e300)
        if t == 250:
            g[:2] = (np.inf, np.nan)
        if t % 37 == 0:
            small.lr = big.lr = small.lr * 0.9
        with np.errstate(all="ignore"):
            small.step(p_small, g[:2].copy())
            big.step(p_big, g)
        np.testing.assert_array_equal(p_small, p_big[:2], strict=True)
        if t % 25 == 0 and hasattr(small, "inspect"):  # what a race records for the overlays
            with np.errstate(all="ignore"):
                a, b = small.inspect(), big.inspect()
            assert a.keys() == b.keys()
            for key, value in a.items():
                if isinstance(value, np.ndarray):
                    np.testing.assert_array_equal(value, b[key][:2], strict=True)
                else:
                    assert value == b[key]
    assert small.state_of(None)["step"] == big.state_of(None)["step"] == 300
    for key, arr in small.state_of(None).items():
        if key != "step":
            np.testing.assert_array_equal(arr, big.state_of(None)[key][:2], strict=True)
    assert np.isnan(p_small).any()  # the NaN gradient did reach the parameters


def test_tiny_path_keeps_the_race_exact():
    """The race (five optimizers on (2,) points) equals the same optimizers run on (1, 2) starts, which
    take the NumPy path: the fast path changes speed, not numbers."""
    start = np.array(ROSEN.start)
    for (kind, hyper), res in zip(SCENE, run_many(ROSEN, SCENE, start, 300)):
        ref = run(ROSEN, (kind, hyper), start[None, :], 300)[:, 0]  # (301, 2) via a (1, 2) array
        np.testing.assert_array_equal(res.path, ref)


def test_schedule_free_carries_its_average_x_row_for_row_and_the_others_are_judged_on_their_path():
    """Trajectory.eval_path is schedule-free's x after each step, as its own optimizer reports it in a loop
    written out here; its diverged rows are blank like the path's; for every other optimizer it is None."""
    from adamlab.core import optim

    s = SURFACES["quadratic"]
    sf, adam = run_many(s, [("schedulefree_adamw", {"lr": 0.1, "warmup_steps": 5}), ("adam", {"lr": 0.1})],
                        s.start, 40, noise=1.0, seed=4)
    assert adam.eval_path is None and adam.eval_loss is None and adam.judged_path is adam.path
    opt = optim.make_optimizer("schedulefree_adamw", lr=0.1, warmup_steps=5)
    p = np.array(s.start, dtype=np.float64)
    z = np.random.default_rng(4).standard_normal((40, 2)) * 1.0
    xs = [p.copy()]
    for t in range(40):
        gx, gy = s.df(p[0], p[1])
        opt.step(p, np.array([gx, gy]) + z[t])
        xs.append(opt.inspect()["x"])
        assert np.array_equal(p, sf.path[t + 1])  # the path is y, where the gradient is taken
    np.testing.assert_array_equal(sf.eval_path, np.array(xs))
    np.testing.assert_array_equal(sf.eval_loss, s.value(sf.eval_path[:, 0], sf.eval_path[:, 1]))
    assert not np.allclose(sf.eval_path[1:], sf.path[1:])
    blown, = run_many(s, [("schedulefree_adamw", {"lr": 1e12})], s.start, 30)
    assert blown.diverged_at is not None
    assert np.isnan(blown.eval_path[blown.diverged_at:]).all() and np.isfinite(blown.eval_path[0]).all()
