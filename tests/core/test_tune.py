"""The tuner: known best learning rates of quadratics (derived by hand), divergence, a second
hyperparameter, noise seeds, schedules, progress and cancel, and equality with trajectory.run."""

import math

import numpy as np
import pytest

from adamlab.core.surfaces import SURFACES, Surface
from adamlab.core.trajectory import run, run_detailed
from adamlab.core.tune import TuneCancelled, lr_grid, tune

BOWL = SURFACES["quadratic"]                      # f = x² + y²: curvature h = 2 along both axes


def test_gradient_descent_on_a_bowl_is_best_at_lr_1_over_h():
    """GD on h/2·‖x‖² maps x to (1 − lr·h)·x: lr = 1/h lands on the minimum in one step (f = 0 exactly),
    lr = 2/h bounces for ever (f stays f(x0)), beyond 2/h it diverges."""
    h = 2.0
    lrs = [0.0625, 0.125, 0.25, 0.5, 1.0, 2.0]
    res = tune(BOWL, [("sgd", {})], (1.5, -1.0), steps=50, lrs=lrs)
    c = res.curves[0]
    assert c.best_lr == 1 / h and c.best_loss == 0.0 and c.best == {"lr": 0.5}
    f0 = 1.5 ** 2 + 1.0
    for lr, loss in zip(lrs, c.sensitivity):
        if lr < 2 / h:
            assert loss == pytest.approx(f0 * (1 - lr * h) ** 100, rel=1e-12)   # f ∝ (1 − lr·h)^(2·steps)
    assert c.sensitivity[4] == pytest.approx(f0) and c.sensitivity[5] == math.inf


def test_on_a_log_grid_gd_picks_the_point_nearest_the_optimum_in_contraction():
    """Without 1/h on the grid the best is the lr with the smallest |1 − lr·h|: on the default grid
    (10^(k/4)) that is 10^(−1/4) = 0.562 (|1 − 1.12| = 0.12) rather than 0.316 (|1 − 0.63| = 0.37)."""
    res = tune(BOWL, [("sgd", {})], (1.0, 1.0), steps=100)
    grid = lr_grid()
    rate = np.abs(1 - 2 * grid)
    assert res.curves[0].best_lr == grid[np.argmin(rate)] == pytest.approx(10 ** -0.25)


def test_an_ill_conditioned_quadratic_gd_optimum_is_2_over_h_min_plus_h_max():
    """f = (h1 x² + h2 y²)/2: the slowest axis decides, and max(|1 − lr·h1|, |1 − lr·h2|) is smallest at
    lr* = 2/(h1 + h2). From a start on both axes the final loss is smallest at the grid point nearest it."""
    h1, h2 = 1.0, 9.0
    s = Surface("q", "q", "", lambda x, y: (h1 * x * x + h2 * y * y) / 2, lambda x, y: (h1 * x, h2 * y),
                ((-2, 2), (-2, 2)), (1.0, 1.0), minima=[(0.0, 0.0)])
    lrs = np.linspace(0.05, 0.3, 26)
    res = tune(s, [("sgd", {})], (1.0, 1.0), steps=200, lrs=lrs)
    assert res.curves[0].best_lr == pytest.approx(2 / (h1 + h2))


def test_divergence_scores_inf_and_a_spec_that_always_diverges_has_no_best():
    res = tune(BOWL, [("sgd", {}), ("adam", {})], (1.0, 1.0), steps=40, lrs=[3.0, 10.0])
    sgd, adam = res.curves
    assert np.all(np.isinf(sgd.loss)) and sgd.best is None and sgd.best_lr is None
    assert np.all(np.isfinite(adam.loss)) and adam.best is not None
    assert res.race_specs()[0] == ("sgd", {}) and res.race_specs()[1] == ("adam", adam.best)


def test_a_tuned_row_is_exactly_the_trajectory_run_with_that_lr_noise_seed_and_schedule():
    s = SURFACES["rosenbrock"]
    res = tune(s, [("adam", {"betas": (0.8, 0.99)}), ("adafactor", {})], s.start, steps=120,
               lrs=[0.01, 0.1], noise=0.5, seeds=[3, 8], schedule="cosine")
    for c in res.curves:
        for i, lr in enumerate(c.lrs):
            for k, seed in enumerate([3, 8]):
                path = run(s, (c.kind, {**c.hyper, "lr": float(lr)}), s.start, 120, noise=0.5, seed=seed,
                           schedule="cosine")
                assert c.per_seed[0, i, k] == s.value(*path[-1])        # f* = 0 on Rosenbrock
            assert c.loss[0, i] == np.mean(c.per_seed[0, i])


def test_a_warmup_cosine_schedule_gets_its_warmup_as_the_race_does():
    """warmup=: the tuner builds each lr's schedule with the same warm-up as trajectory.run is given."""
    from adamlab.core.schedules import make_schedule

    s = SURFACES["rosenbrock"]
    res = tune(s, [("adam", {})], s.start, steps=80, lrs=[0.02, 0.2], schedule="warmup_cosine", warmup=8)
    for i, lr in enumerate(res.curves[0].lrs):
        path = run(s, ("adam", {"lr": float(lr)}), s.start, 80, schedule=make_schedule("warmup_cosine", lr, 80, 8))
        assert res.curves[0].loss[0, i] == s.value(*path[-1])
    plain = tune(s, [("adam", {})], s.start, steps=80, lrs=[0.02, 0.2], schedule="warmup_cosine")
    assert not np.array_equal(plain.curves[0].loss, res.curves[0].loss)   # warm-up 0 is another schedule


def test_the_average_objective_is_the_mean_loss_over_the_run():
    s = SURFACES["himmelblau"]
    res = tune(s, [("momentum", {})], s.start, steps=60, lrs=[1e-3, 5e-3], objective="average")
    for lr, score in zip(res.curves[0].lrs, res.curves[0].loss[0]):
        traj = run_detailed(s, ("momentum", {"lr": float(lr)}), s.start, 60)
        assert score == pytest.approx(np.mean(traj.loss[1:]), rel=1e-12)


def test_a_second_hyperparameter_is_searched_on_its_grid():
    """Heavy-ball momentum μ > 0 never lands exactly on the bowl's minimum (its two eigenvalues cannot both
    be 0), while μ = 0 with lr = 1/h does in one step: the search must find (0.5, μ = 0)."""
    res = tune(BOWL, [("momentum", {})], (1.0, -2.0), steps=20, lrs=[0.25, 0.5, 1.0],
               second={"momentum": ("momentum", [0.0, 0.3, 0.6])})
    c = res.curves[0]
    assert c.loss.shape == (3, 3) and (c.best_lr, c.best_value, c.best_loss) == (0.5, 0.0, 0.0)
    assert c.best == {"momentum": 0.0, "lr": 0.5}
    res = tune(BOWL, [("adam", {"betas": (0.9, 0.999)})], (1.0, 1.0), steps=30, lrs=[0.1],
               second={"adam": ("beta1", [0.0, 0.5, 0.9])})
    assert res.curves[0].second == "betas[0]" and res.curves[0].best["betas"][1] == 0.999


def test_noise_scores_average_over_seeds_and_any_divergent_seed_makes_inf():
    res = tune(BOWL, [("sgd", {})], (1.0, 1.0), steps=30, lrs=[0.1, 0.9], noise=1.0, seeds=4)
    c = res.curves[0]
    assert res.seeds == (0, 1, 2, 3) and c.per_seed.shape == (1, 2, 4)
    np.testing.assert_allclose(c.loss[0], c.per_seed[0].mean(axis=1), rtol=1e-15)
    assert len(set(c.per_seed[0, 0].tolist())) == 4       # four different noise sequences
    per_seed = np.array([[[1.0, np.inf]]])
    from adamlab.core.tune import _curve
    assert _curve("sgd", {}, np.array([0.1]), None, (None,), per_seed).loss[0, 0] == np.inf


def test_progress_reaches_1_and_cancel_stops_the_search():
    seen = []
    tune(BOWL, [("sgd", {}), ("adam", {})], (1.0, 1.0), steps=120, lrs=[0.1, 0.2], progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0) and len(seen) >= 4
    calls = []
    with pytest.raises(TuneCancelled):
        tune(BOWL, [("sgd", {})], (1.0, 1.0), steps=1000, cancel=lambda: calls.append(1) or len(calls) > 2)
    assert len(calls) == 3


@pytest.mark.parametrize("kwargs, message", [
    ({"specs": [("muon", {})]}, "muon is not defined on a point"),
    ({"specs": [("lamb", {})]}, "kind must be one of"),
    ({"specs": [("adam", {"betas": (0.9, 1.0)})]}, r"betas\[1\] must be in \[0, 1\)"),
    ({"second": {"adam": ("momentum", [0.9])}}, "unknown hyperparameter"),
    ({"lr_range": (1.0, 0.1)}, "lr_range must be two numbers"),
    ({"objective": "best"}, "objective must be one of"),
    ({"start": (1.0,)}, "start must be a finite point"),
])
def test_bad_requests_are_refused_by_name(kwargs, message):
    args = {"surface": BOWL, "specs": [("adam", {})], "start": (1.0, 1.0), "steps": 10, **kwargs}
    with pytest.raises(ValueError, match=message):
        tune(**args)


def test_best_at_edge_flags_an_optimum_outside_the_grid():
    res = tune(BOWL, [("sgd", {})], (1.0, 1.0), steps=20, lrs=[1e-3, 1e-2, 1e-1])
    assert res.curves[0].best_lr == 0.1 and res.curves[0].best_at_edge


@pytest.mark.parametrize("objective", ["final", "average"])
def test_schedule_free_is_scored_at_its_average_x_as_the_race_judges_it(objective):
    """Schedule-free AdamW takes its gradients at y but is evaluated at x, the running average of its z steps:
    the tuner scores x — the race's judged_loss — never y (which the tuner used to score)."""
    s = SURFACES["quadratic"]
    res = tune(s, [("schedulefree_adamw", {})], s.start, steps=200, lrs=[0.05, 0.2], noise=2.0, seeds=[2, 5],
               objective=objective)
    c = res.curves[0]
    for i, lr in enumerate(c.lrs):
        for k, seed in enumerate([2, 5]):
            traj = run_detailed(s, ("schedulefree_adamw", {"lr": float(lr)}), s.start, 200, noise=2.0, seed=seed)
            at_x = traj.judged_loss[-1] if objective == "final" else np.mean(traj.judged_loss[1:])
            at_y = traj.loss[-1] if objective == "final" else np.mean(traj.loss[1:])
            assert c.per_seed[0, i, k] == pytest.approx(at_x, rel=1e-12, abs=1e-300)
            assert not np.isclose(at_x, at_y)  # the two points differ: the test tells them apart
