"""2D test surfaces for the loss-surface arena: value, analytic gradient, a viewing window, known minima.

Every surface is a ``Surface`` with ``value(x, y)`` and ``grad(x, y) -> (gx, gy)``. Both broadcast over
arrays of any shape (``x`` and ``y`` broadcast against each other, NumPy style), so the same code evaluates
one point, a (K,) batch of start points or a whole (ny, nx) image grid.

    from adamlab.core.surfaces import SURFACES, grid
    s = SURFACES["rosenbrock"]
    s.value(1.0, 1.0)                 # 0.0
    gx, gy = s.grad(-1.2, 1.0)        # analytic gradient
    xs, ys, Z = grid(s, 200, 150)     # Z[iy, ix] = s.value(xs[ix], ys[iy]), for an image

``ill_conditioned(condition, angle_deg)`` builds the rotated elongated bowl for any condition number and
rotation (the GUI has sliders for both); ``SURFACES["ill_conditioned"]`` is one default instance of it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

__all__ = ["Surface", "SURFACES", "get_surface", "grid", "ill_conditioned"]

Point = tuple[float, float]
Domain = tuple[tuple[float, float], tuple[float, float]]


@dataclass(frozen=True, eq=False)
class Surface:
    """A 2D loss function f(x, y) with its gradient and what the arena needs to show it.

    f, df: the raw maths, f(x, y) -> value and df(x, y) -> (gx, gy). They may return arrays of the
        shape of x or y alone when a partial derivative depends on one variable only; ``value`` and
        ``grad`` broadcast that away. Hot loops that pass same-shaped x and y may call ``df`` directly.
    domain: ((xmin, xmax), (ymin, ymax)), a good viewing window.
    minima: the global minima; local_minima: a few local minima worth marking (may be empty).
    start: a default start point that shows the surface's lesson.
    log_scale: show the colour on a log scale (valley-shaped functions whose range spans decades).
    """

    name: str
    label: str
    description: str
    f: Callable
    df: Callable
    domain: Domain
    start: Point
    minima: list[Point] = field(default_factory=list)
    local_minima: list[Point] = field(default_factory=list)
    log_scale: bool = False

    def value(self, x, y):
        """f(x, y), broadcast over x and y; a float for scalar inputs, else a float array."""
        x, y = _as_float(x), _as_float(y)
        return _broadcast(self.f(x, y), x, y)

    def grad(self, x, y):
        """(df/dx, df/dy), each of the broadcast shape of x and y."""
        x, y = _as_float(x), _as_float(y)
        gx, gy = self.df(x, y)
        return _broadcast(gx, x, y), _broadcast(gy, x, y)

    def __repr__(self):
        return f"Surface({self.name!r})"


def _as_float(a):
    """Scalars become Python floats (cheap); arrays keep a float dtype (float32 stays float32)."""
    if isinstance(a, (float, int)):
        return float(a)
    a = np.asarray(a)
    return a if a.dtype.kind == "f" else a.astype(np.float64)


def _broadcast(g, x, y):
    """Give g the broadcast shape of (x, y): constant or one-variable partials come back too small."""
    shape = np.broadcast_shapes(np.shape(x), np.shape(y))
    if np.shape(g) == shape:
        return g
    return np.broadcast_to(g, shape).copy()


# ----------------------------------------------------------------------------------------------------------
# the maths, one function and its gradient per surface


def quadratic_f(x, y):
    return x * x + y * y


def quadratic_df(x, y):
    return 2 * x, 2 * y


def rosenbrock_f(x, y):
    # (1 - x)² + 100 (y - x²)²: a curved, nearly flat-bottomed banana valley with the minimum at (1, 1)
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2


def rosenbrock_df(x, y):
    r = y - x * x  # distance above the valley floor y = x²
    return 2 * (x - 1) - 400 * x * r, 200 * r


def beale_f(x, y):
    a1 = 1.5 - x + x * y
    a2 = 2.25 - x + x * y * y
    a3 = 2.625 - x + x * y * y * y
    return a1 * a1 + a2 * a2 + a3 * a3


def beale_df(x, y):
    y2 = y * y
    a1 = 1.5 - x + x * y
    a2 = 2.25 - x + x * y2
    a3 = 2.625 - x + x * y2 * y
    gx = 2 * (a1 * (y - 1) + a2 * (y2 - 1) + a3 * (y2 * y - 1))
    gy = 2 * x * (a1 + 2 * a2 * y + 3 * a3 * y2)
    return gx, gy


def himmelblau_f(x, y):
    a = x * x + y - 11
    b = x + y * y - 7
    return a * a + b * b


def himmelblau_df(x, y):
    a = x * x + y - 11
    b = x + y * y - 7
    return 4 * x * a + 2 * b, 2 * a + 4 * y * b


TWO_PI = 2 * math.pi


def rastrigin_f(x, y):
    # 20 + Σ (x² − 10 cos 2πx): a bowl covered in egg-crate bumps, a local minimum near every integer point
    return 20 + x * x - 10 * np.cos(TWO_PI * x) + y * y - 10 * np.cos(TWO_PI * y)


def rastrigin_df(x, y):
    return 2 * x + 10 * TWO_PI * np.sin(TWO_PI * x), 2 * y + 10 * TWO_PI * np.sin(TWO_PI * y)


def saddle_f(x, y):
    return x * x - y * y


def saddle_df(x, y):
    return 2 * x, -2 * y


PLATEAU_WIDTH = 0.5  # σ of the well; outside ~3σ the ground is flat to many decimals


def plateau_f(x, y):
    # 1 − exp(−r²/2σ²): a flat mesa at height 1 with a narrow well dropping to 0 at the origin
    return 1 - np.exp(-(x * x + y * y) / (2 * PLATEAU_WIDTH**2))


def plateau_df(x, y):
    e = np.exp(-(x * x + y * y) / (2 * PLATEAU_WIDTH**2)) / PLATEAU_WIDTH**2
    return x * e, y * e


def shifted_quadratic(cx: float, cy: float):
    """(x − cx)² + (y − cy)², as (f, df)."""

    def f(x, y):
        dx, dy = x - cx, y - cy
        return dx * dx + dy * dy

    def df(x, y):
        return 2 * (x - cx), 2 * (y - cy)

    return f, df


# ----------------------------------------------------------------------------------------------------------
# the ill-conditioned bowl, for any condition number and rotation


def ill_conditioned(condition: float = 10.0, angle_deg: float = 30.0) -> Surface:
    """An elongated bowl f = u²/κ + v², its long axis u turned by angle_deg from the x axis.

    u = x cos θ + y sin θ runs along the valley, v = −x sin θ + y cos θ across it. The Hessian has
    eigenvalues 2 (across) and 2/κ (along), so its condition number is κ = ``condition`` and the
    eigenvector of the small eigenvalue points at θ. At θ = 0 the bowl is axis-aligned: Adam's
    per-coordinate scaling then fixes the conditioning, which it cannot do once the bowl is rotated
    (SGD, in contrast, behaves the same at every angle).
    The default start sits at the same place relative to the bowl for every angle (it turns with it),
    so paths for different angles are directly comparable.
    """
    condition, angle_deg = float(condition), float(angle_deg)
    if not (math.isfinite(condition) and condition >= 1):
        raise ValueError(f"condition must be a finite number >= 1, got {condition}")
    if not math.isfinite(angle_deg):
        raise ValueError(f"angle_deg must be a finite number of degrees, got {angle_deg}")
    theta = math.radians(angle_deg)
    c, s = math.cos(theta), math.sin(theta)
    k = 1.0 / condition

    def f(x, y):
        u = c * x + s * y
        v = c * y - s * x
        return k * u * u + v * v

    def df(x, y):
        # ∂f/∂x = 2k u ∂u/∂x + 2 v ∂v/∂x, with ∂u/∂x = c, ∂v/∂x = −s (and ∂u/∂y = s, ∂v/∂y = c)
        u = c * x + s * y
        v = c * y - s * x
        ku = k * u
        return 2 * (c * ku - s * v), 2 * (s * ku + c * v)

    u0, v0 = -2.4, 1.2  # start far along the valley and up its side: SGD bounces across it
    return Surface(
        name="ill_conditioned",
        label=f"Ill-conditioned bowl (κ = {condition:g}, θ = {angle_deg:g}°)",
        description=(
            "A long narrow bowl: SGD zig-zags across it; Adam rescales each axis, which cures the "
            "narrowness only when the bowl is aligned with the axes (set the angle to 0)."
        ),
        f=f,
        df=df,
        domain=((-3.0, 3.0), (-3.0, 3.0)),
        start=(c * u0 - s * v0, s * u0 + c * v0),
        minima=[(0.0, 0.0)],
        log_scale=True,
    )


# ----------------------------------------------------------------------------------------------------------
# the catalogue


def _rastrigin_local_minima() -> list[Point]:
    """The 8 local minima around the origin. Each lies slightly inside the integer point, where
    2x + 20π sin 2πx = 0; Newton's method from x = 1 finds it."""
    x = 1.0
    for _ in range(8):
        x -= (2 * x + 20 * math.pi * math.sin(TWO_PI * x)) / (2 + 40 * math.pi**2 * math.cos(TWO_PI * x))
    return [(i * x, j * x) for i in (-1, 0, 1) for j in (-1, 0, 1) if (i, j) != (0, 0)]


def _make_surfaces() -> dict[str, Surface]:
    small_f, small_df = shifted_quadratic(0.01, 0.02)
    large_f, large_df = shifted_quadratic(100.0, 200.0)
    surfaces = [
        Surface(
            name="quadratic",
            label="Quadratic bowl",
            description="The round bowl x² + y²: every optimizer gets here; compare their speeds and overshoot.",
            f=quadratic_f,
            df=quadratic_df,
            domain=((-2.0, 2.0), (-2.0, 2.0)),
            start=(-1.5, 1.0),
            minima=[(0.0, 0.0)],
        ),
        ill_conditioned(),
        Surface(
            name="rosenbrock",
            label="Rosenbrock",
            description=(
                "A curved banana valley: easy to fall into, slow to follow to the minimum at (1, 1); "
                "momentum and Adam's adaptive steps help."
            ),
            f=rosenbrock_f,
            df=rosenbrock_df,
            domain=((-2.0, 2.0), (-1.0, 3.0)),
            start=(-1.2, 1.0),
            minima=[(1.0, 1.0)],
            log_scale=True,
        ),
        Surface(
            name="beale",
            label="Beale",
            description=(
                "Flat shelves next to steep walls (gradients from tiny to huge): fixed-lr SGD either "
                "crawls or blows up, Adam's per-coordinate scaling copes."
            ),
            f=beale_f,
            df=beale_df,
            domain=((-4.5, 4.5), (-4.5, 4.5)),
            start=(1.0, 1.5),
            minima=[(3.0, 0.5)],
            log_scale=True,
        ),
        Surface(
            name="himmelblau",
            label="Himmelblau",
            description="Four equal minima: which one an optimizer ends in depends on its start and its dynamics.",
            f=himmelblau_f,
            df=himmelblau_df,
            domain=((-5.0, 5.0), (-5.0, 5.0)),
            start=(-0.5, -0.5),
            minima=[
                (3.0, 2.0),
                (-2.805118086952745, 3.131312518250573),
                (-3.779310253377747, -3.283185991286169),
                (3.5844283403304917, -1.8481265269644034),
            ],
            log_scale=True,
        ),
        Surface(
            name="rastrigin",
            label="Rastrigin",
            description=(
                "A bowl covered in bumps, a local minimum near every integer point: plain descent gets "
                "stuck in the nearest one; noise and momentum can hop over a few."
            ),
            f=rastrigin_f,
            df=rastrigin_df,
            domain=((-5.12, 5.12), (-5.12, 5.12)),
            start=(3.3, 2.6),
            minima=[(0.0, 0.0)],
            local_minima=_rastrigin_local_minima(),
        ),
        Surface(
            name="saddle",
            label="Saddle x² − y²",
            description=(
                "A saddle point at the origin: starting just off the ridge, SGD's tiny y-gradient keeps it "
                "near the saddle for a long time, while adaptive methods rescale it and roll off at once."
            ),
            f=saddle_f,
            df=saddle_df,
            domain=((-2.0, 2.0), (-2.0, 2.0)),
            start=(1.5, 1e-3),
            minima=[],  # unbounded below: no minimum at all
        ),
        Surface(
            name="plateau",
            label="Plateau with a well",
            description=(
                "A flat plateau around a narrow well: the gradient out on the plateau is almost zero, so "
                "SGD barely moves, while Adam divides by √v̂ and crosses it at about lr per step."
            ),
            f=plateau_f,
            df=plateau_df,
            domain=((-3.0, 3.0), (-3.0, 3.0)),
            start=(2.0, 1.5),
            minima=[(0.0, 0.0)],
        ),
        Surface(
            name="small_scale",
            label="Small scale (minimum at 0.01, 0.02)",
            description=(
                "A bowl 10⁴ times smaller than large_scale: SGD's step shrinks with the gradient and "
                "traces the same path at both scales; Adam steps about lr in each coordinate whatever "
                "the scale, so here it overshoots wildly unless lr is tiny."
            ),
            f=small_f,
            df=small_df,
            domain=((-0.02, 0.04), (-0.01, 0.05)),
            start=(0.0, 0.0),
            minima=[(0.01, 0.02)],
        ),
        Surface(
            name="large_scale",
            label="Large scale (minimum at 100, 200)",
            description=(
                "The small_scale bowl blown up 10⁴ times: SGD's steps grow with the gradient and it "
                "arrives as fast as before; Adam still steps about lr per coordinate and crawls."
            ),
            f=large_f,
            df=large_df,
            domain=((-200.0, 400.0), (-100.0, 500.0)),
            start=(0.0, 0.0),
            minima=[(100.0, 200.0)],
        ),
    ]
    return {s.name: s for s in surfaces}


SURFACES: dict[str, Surface] = _make_surfaces()


def get_surface(name: str) -> Surface:
    """SURFACES[name], with a ValueError listing the names when it is unknown."""
    try:
        return SURFACES[name]
    except KeyError:
        raise ValueError(f"surface must be one of {sorted(SURFACES)}, got {name!r}") from None


def grid(surface: Surface, nx: int, ny: int, domain: Domain | None = None):
    """Evaluate the surface on an nx × ny grid covering the domain (default: the surface's own).

    Returns xs (nx,), ys (ny,), Z (ny, nx) float64, row-major: Z[iy, ix] = f(xs[ix], ys[iy]), which is
    the layout of an image with axisOrder='row-major' (rows go up the y axis).
    """
    nx, ny = int(nx), int(ny)
    if nx < 2 or ny < 2:
        raise ValueError(f"nx and ny must be >= 2, got nx={nx}, ny={ny}")
    (x0, x1), (y0, y1) = surface.domain if domain is None else domain
    if not (x0 < x1 and y0 < y1):
        raise ValueError(f"domain must be ((xmin, xmax), (ymin, ymax)) with min < max, got {domain}")
    xs = np.linspace(x0, x1, nx)
    ys = np.linspace(y0, y1, ny)
    with np.errstate(over="ignore", invalid="ignore"):  # a user-chosen window may reach overflow
        Z = np.asarray(surface.value(xs[None, :], ys[:, None]), dtype=np.float64)  # (ny, nx)
    return xs, ys, Z
