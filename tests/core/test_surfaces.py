"""Surfaces: analytic gradients against finite differences, minima, broadcasting, the ill-conditioned factory."""

import math

import numpy as np
import pytest

from adamlab.core.surfaces import SURFACES, Surface, get_surface, grid, ill_conditioned

ALL = sorted(SURFACES)
REQUIRED = {
    "quadratic", "ill_conditioned", "rosenbrock", "beale", "himmelblau", "rastrigin",
    "saddle", "plateau", "small_scale", "large_scale",
}
# a few non-default bowls, so the factory's gradient is checked at other angles and condition numbers too
EXTRA = [ill_conditioned(1.0, 0.0), ill_conditioned(100.0, 45.0), ill_conditioned(7.5, -120.0)]


def all_surfaces():
    return [SURFACES[n] for n in ALL] + EXTRA


def random_points(s: Surface, n, seed=0):
    rng = np.random.default_rng(seed)
    (x0, x1), (y0, y1) = s.domain
    return rng.uniform(x0, x1, n), rng.uniform(y0, y1, n)


def test_catalogue_has_the_required_surfaces_with_metadata():
    assert REQUIRED <= set(SURFACES)
    for name, s in SURFACES.items():
        assert s.name == name
        assert isinstance(s.label, str) and s.label
        assert isinstance(s.description, str) and 20 < len(s.description) and "\n" not in s.description
        (x0, x1), (y0, y1) = s.domain
        assert x0 < x1 and y0 < y1
        assert x0 <= s.start[0] <= x1 and y0 <= s.start[1] <= y1, f"{name}: start outside the domain"
        assert isinstance(s.log_scale, bool)
        for m in s.minima + s.local_minima:
            assert x0 <= m[0] <= x1 and y0 <= m[1] <= y1, f"{name}: minimum {m} outside the domain"


@pytest.mark.parametrize("s", all_surfaces(), ids=lambda s: s.label)
def test_gradient_matches_central_differences(s):
    x, y = random_points(s, 400, seed=1)
    (x0, x1), (y0, y1) = s.domain
    hx, hy = 1e-6 * (x1 - x0), 1e-6 * (y1 - y0)
    fd_x = (s.value(x + hx, y) - s.value(x - hx, y)) / (2 * hx)
    fd_y = (s.value(x, y + hy) - s.value(x, y - hy)) / (2 * hy)
    gx, gy = s.grad(x, y)
    # central differences are accurate to ~h² f''' plus rounding ~eps |f| / h: scale tolerance to |f|
    scale = 1 + np.abs(s.value(x, y))
    np.testing.assert_allclose(gx, fd_x, rtol=1e-5, atol=1e-6 * np.max(scale) / (x1 - x0))
    np.testing.assert_allclose(gy, fd_y, rtol=1e-5, atol=1e-6 * np.max(scale) / (y1 - y0))


@pytest.mark.parametrize("s", all_surfaces(), ids=lambda s: s.label)
def test_minima_are_stationary_and_below_the_rest_of_the_domain(s):
    x, y = random_points(s, 2000, seed=2)
    values = s.value(x, y)
    (x0, x1), (y0, y1) = s.domain
    size = max(x1 - x0, y1 - y0)
    typical_grad = np.max(np.hypot(*s.grad(x, y)))  # "zero" relative to the gradients around it
    for mx, my in s.minima:
        gx, gy = s.grad(mx, my)
        assert math.hypot(gx, gy) < 1e-12 * typical_grad
        assert s.value(mx, my) <= values.min()
        # and a strict local minimum: a small ring around it is higher
        t = np.linspace(0, 2 * np.pi, 16, endpoint=False)
        r = 1e-3 * size
        assert np.all(s.value(mx + r * np.cos(t), my + r * np.sin(t)) > s.value(mx, my))
    global_value = min((s.value(*m) for m in s.minima), default=None)
    for mx, my in s.local_minima:
        gx, gy = s.grad(mx, my)
        assert math.hypot(gx, gy) < 1e-9
        t = np.linspace(0, 2 * np.pi, 16, endpoint=False)
        assert np.all(s.value(mx + 1e-3 * np.cos(t), my + 1e-3 * np.sin(t)) > s.value(mx, my))
        assert s.value(mx, my) > global_value  # local, not global


def test_global_minima_values_are_known():
    # the textbook minima: all these functions are 0 at their global minima
    for name in ["quadratic", "ill_conditioned", "rosenbrock", "beale", "himmelblau", "rastrigin",
                 "plateau", "small_scale", "large_scale"]:
        s = SURFACES[name]
        assert s.minima, name
        for m in s.minima:
            assert abs(s.value(*m)) < 1e-12, (name, m)
    assert len(SURFACES["himmelblau"].minima) == 4
    assert SURFACES["saddle"].minima == []  # x² − y² is unbounded below


def test_textbook_values():
    # hand-computed values, independent of the implementation's formulas
    assert SURFACES["rosenbrock"].value(0.0, 0.0) == pytest.approx(1.0)
    assert SURFACES["rosenbrock"].value(-1.0, 2.0) == pytest.approx(4 + 100)
    assert SURFACES["rosenbrock"].grad(0.0, 1.0) == pytest.approx((-2.0, 200.0))
    assert SURFACES["beale"].value(0.0, 0.0) == pytest.approx(1.5**2 + 2.25**2 + 2.625**2)
    assert SURFACES["himmelblau"].value(0.0, 0.0) == pytest.approx(121 + 49)
    assert SURFACES["rastrigin"].value(0.5, 0.0) == pytest.approx(0.25 + 10 + 10)
    assert SURFACES["saddle"].value(1.0, 2.0) == pytest.approx(-3.0)
    assert SURFACES["small_scale"].value(0.0, 0.0) == pytest.approx(0.01**2 + 0.02**2)
    assert SURFACES["large_scale"].grad(0.0, 0.0) == pytest.approx((-200.0, -400.0))
    assert SURFACES["plateau"].value(0.0, 0.0) == 0.0
    assert SURFACES["plateau"].value(3.0, 0.0) == pytest.approx(1.0, abs=1e-7)


@pytest.mark.parametrize("name", ALL)
def test_value_and_grad_broadcast_over_any_shape(name):
    s = SURFACES[name]
    rng = np.random.default_rng(3)
    (x0, x1), (y0, y1) = s.domain
    for shape_x, shape_y, out in [((), (), ()), ((5,), (5,), (5,)), ((3, 4), (3, 4), (3, 4)),
                                  ((3, 1), (1, 4), (3, 4)), ((), (2, 3), (2, 3)), ((2, 1, 3), (3,), (2, 1, 3))]:
        x = rng.uniform(x0, x1, shape_x)
        y = rng.uniform(y0, y1, shape_y)
        v = s.value(x, y)
        gx, gy = s.grad(x, y)
        assert np.shape(v) == out and np.shape(gx) == out and np.shape(gy) == out
        # each broadcast element equals the scalar evaluation
        xb, yb = np.broadcast_arrays(x, y)
        for idx in list(np.ndindex(out))[:5]:
            assert np.asarray(v)[idx] == pytest.approx(s.value(float(xb[idx]), float(yb[idx])))
            assert np.asarray(gy)[idx] == pytest.approx(s.grad(float(xb[idx]), float(yb[idx]))[1])


def test_float32_inputs_stay_float32():
    x = np.linspace(-1, 1, 5, dtype=np.float32)
    gx, gy = SURFACES["rosenbrock"].grad(x, x)
    assert SURFACES["rosenbrock"].value(x, x).dtype == np.float32 and gx.dtype == np.float32


@pytest.mark.parametrize("condition, angle", [(1.0, 0.0), (10.0, 30.0), (100.0, 0.0), (50.0, 45.0),
                                              (3.0, 100.0), (25.0, -60.0)])
def test_ill_conditioned_hessian_has_requested_condition_and_angle(condition, angle):
    s = ill_conditioned(condition=condition, angle_deg=angle)
    # the function is quadratic, so the central difference of the gradient is the exact Hessian
    h = 1e-3
    x0, y0 = 0.3, -0.7
    hxx, hyx = np.subtract(s.grad(x0 + h, y0), s.grad(x0 - h, y0)) / (2 * h)
    hxy, hyy = np.subtract(s.grad(x0, y0 + h), s.grad(x0, y0 - h)) / (2 * h)
    H = np.array([[hxx, hxy], [hyx, hyy]])
    np.testing.assert_allclose(H, H.T, atol=1e-9)
    lam, vec = np.linalg.eigh(H)  # ascending
    assert lam[1] / lam[0] == pytest.approx(condition, rel=1e-8)
    if condition > 1:
        # the small-curvature eigenvector (the long axis) points along angle_deg, up to sign
        long_axis = vec[:, 0]
        t = math.radians(angle)
        assert abs(long_axis @ [math.cos(t), math.sin(t)]) == pytest.approx(1.0, abs=1e-9)
    # f(p) = ½ pᵀ H p: the minimum is the origin
    assert s.value(x0, y0) == pytest.approx(0.5 * np.array([x0, y0]) @ H @ np.array([x0, y0]))


def test_ill_conditioned_at_angle_zero_is_axis_aligned():
    s = ill_conditioned(condition=10.0, angle_deg=0.0)
    # f = x²/10 + y²: each partial depends on its own coordinate only
    assert s.value(1.0, 0.0) == pytest.approx(0.1)
    assert s.value(0.0, 1.0) == pytest.approx(1.0)
    assert s.grad(2.0, 3.0) == pytest.approx((0.4, 6.0))


def test_ill_conditioned_start_turns_with_the_bowl():
    a, b = ill_conditioned(10.0, 0.0), ill_conditioned(10.0, 70.0)
    assert math.hypot(*a.start) == pytest.approx(math.hypot(*b.start))
    assert a.value(*a.start) == pytest.approx(b.value(*b.start))


@pytest.mark.parametrize("kwargs", [dict(condition=0.5), dict(condition=float("nan")), dict(condition=math.inf),
                                    dict(angle_deg=float("inf"))])
def test_ill_conditioned_rejects_bad_arguments(kwargs):
    name = next(iter(kwargs))
    with pytest.raises(ValueError, match=name):
        ill_conditioned(**kwargs)


def test_grid_is_row_major_over_the_domain():
    s = SURFACES["rosenbrock"]
    xs, ys, Z = grid(s, 7, 5)
    assert xs.shape == (7,) and ys.shape == (5,) and Z.shape == (5, 7) and Z.dtype == np.float64
    (x0, x1), (y0, y1) = s.domain
    assert (xs[0], xs[-1], ys[0], ys[-1]) == (x0, x1, y0, y1)
    for iy in range(5):
        for ix in range(7):
            assert Z[iy, ix] == pytest.approx(s.value(float(xs[ix]), float(ys[iy])))
    xs, ys, Z = grid(s, 3, 4, domain=((0, 1), (10, 20)))
    assert list(xs) == [0, 0.5, 1] and ys[-1] == 20
    # a saddle's grid (one-variable gradients, unbounded function) still has the full shape
    assert grid(SURFACES["saddle"], 4, 6)[2].shape == (6, 4)


def test_grid_rejects_bad_arguments():
    s = SURFACES["quadratic"]
    with pytest.raises(ValueError, match="nx"):
        grid(s, 1, 10)
    with pytest.raises(ValueError, match="domain"):
        grid(s, 10, 10, domain=((1, 0), (0, 1)))


def test_get_surface():
    assert get_surface("beale") is SURFACES["beale"]
    with pytest.raises(ValueError, match="surface"):
        get_surface("nope")
