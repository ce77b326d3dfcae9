"""The 3-D view's geometry, Qt-free: where a point (x, y) of a surface sits in the view's box, and the mesh.

The box (what the GL items are given):
* X, Y: the surface's domain, centred and scaled so its longer side spans [−1, 1]. The tiny bowl (0.06 wide)
  and the huge one (600 wide) then look alike, as on the 2-D map, and float32 vertices keep their precision;
* Z: the height, the 2-D map's colour value c(f) — f itself, or log₁₀(f − f_lo + δ) for the valley-shaped
  surfaces the map colours on a log scale (``image.colour_values``) — scaled so the floor is at 0 and the
  99th percentile of the domain's values at ``HEIGHT``. Higher values are clipped to a flat top, as the map's
  colour saturates there (one enormous corner would otherwise flatten everything else). The floor is the
  lowest value, but at most ``FLOOR_DEPTH`` of the relief's height below the 1st percentile (where the map's
  colour bottoms out): on the log scale the exact minimum lies ~6 decades down, and each minimum would
  be a needle reaching far below a relief squeezed into the top of the view.

``Relief.height`` is the one function both the mesh's vertices and the paths' points go through, so a path
point sits on the surface: at its (x, y) its height is exactly the surface's height there (the mesh's
triangles interpolate between the vertices; the view pushes them back a little in depth so a path on the
surface is drawn on top of it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from adamlab.core.surfaces import Surface, grid
from adamlab.ui.panels.surface.image import contour_segments

HEIGHT = 0.9  # the relief's height in box units (the domain's longer side is 2 long)
FLOOR_DEPTH = 0.3  # the floor lies at most this fraction of (99th − 1st percentile) below the 1st percentile
MESH_N = 121  # vertices per side of the mesh (121² ≈ 15k vertices, 29k triangles)
N_CONTOURS = 14  # level lines drawn on the relief, at the 2-D map's levels


@dataclass(frozen=True)
class Relief:
    """The map from a surface's (x, y, f) to the box (X, Y, Z); see the module docstring.

    centre (cx, cy) and half (half the domain's longer side): X = (x − cx)/half, Y = (y − cy)/half; box: the
    domain in box coordinates ((X0, X1), (Y0, Y1)), the mesh's extent (its longer side is [−1, 1]).
    log: heights on a log scale; f_lo: the lowest f (the domain's, or f* when that is lower); delta: δ of
    log₁₀(f − f_lo + δ), a millionth of the domain's range of f; c_lo, c_hi: the colour values at height 0
    and at ``HEIGHT`` (the floor and the 99th percentile); c_p1: the 1st percentile (the colour map's low
    end, as on the 2-D map).
    """

    centre: tuple[float, float]
    half: float
    box: tuple[tuple[float, float], tuple[float, float]]
    log: bool
    f_lo: float
    delta: float
    c_lo: float
    c_hi: float
    c_p1: float

    def to_box(self, x, y):
        """(X, Y) in the box of data coordinates (x, y) (arrays broadcast)."""
        return (np.asarray(x, dtype=np.float64) - self.centre[0]) / self.half, \
               (np.asarray(y, dtype=np.float64) - self.centre[1]) / self.half

    def from_box(self, X, Y):
        """(x, y) in data coordinates of box coordinates (X, Y)."""
        return self.centre[0] + self.half * np.asarray(X, dtype=np.float64), \
               self.centre[1] + self.half * np.asarray(Y, dtype=np.float64)

    def colour(self, f):
        """c(f): f, or log₁₀(max(f − f_lo, 0) + δ) (never below the floor); +inf for non-finite f."""
        f = np.asarray(f, dtype=np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            c = np.log10(np.maximum(f - self.f_lo, 0.0) + self.delta) if self.log else f
        return np.where(np.isfinite(f), c, np.inf)

    def level_height(self, c):
        """Z of colour value c: 0 at c_lo, HEIGHT at c_hi, clipped to [0, HEIGHT]."""
        return np.clip((np.asarray(c, dtype=np.float64) - self.c_lo) / (self.c_hi - self.c_lo), 0.0, 1.0) * HEIGHT

    def height(self, f):
        """Z of the value f (arrays broadcast)."""
        return self.level_height(self.colour(f))

    def points(self, surface: Surface, xy: np.ndarray) -> np.ndarray:
        """Path points xy (n, 2) in data coordinates → (n, 3) box points lying on the relief."""
        xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
        X, Y = self.to_box(xy[:, 0], xy[:, 1])
        with np.errstate(all="ignore"):
            f = surface.value(xy[:, 0], xy[:, 1])
        return np.stack([X, Y, self.height(f)], axis=1)

    def inside(self, xy: np.ndarray) -> np.ndarray:
        """Which points (n, 2) lie over the mesh (within the domain; NaN rows do not)."""
        X, Y = self.to_box(xy[..., 0], xy[..., 1])
        (x0, x1), (y0, y1) = self.box
        with np.errstate(invalid="ignore"):
            return (X >= x0) & (X <= x1) & (Y >= y0) & (Y <= y1)


@dataclass
class Mesh:
    """The relief sampled on a grid, in pyqtgraph's GLSurfacePlotItem layout.

    X (nx,), Y (ny,) box coordinates; Z (nx, ny) heights (Z[i, j] at X[i], Y[j]); shade (nx, ny) in [0, 1]:
    where each vertex falls on the colour map (the 2-D map's levels, 1st to 99th percentile);
    contours (2k, 3): level-line segments lying on the relief (pairs of end points).
    """

    X: np.ndarray
    Y: np.ndarray
    Z: np.ndarray
    shade: np.ndarray
    contours: np.ndarray


def make_relief(surface: Surface, f_star: float | None = None, n: int = MESH_N) -> tuple[Relief, Mesh]:
    """The relief of ``surface`` over its domain: its height map and its mesh (n × n vertices)."""
    (x0, x1), (y0, y1) = surface.domain
    xs, ys, F = grid(surface, n, n)  # F (ny, nx)
    finite = F[np.isfinite(F)]
    if finite.size == 0:
        finite = np.zeros(1)
    f_lo = float(finite.min())
    if f_star is not None and math.isfinite(f_star):
        f_lo = min(f_lo, float(f_star))
    delta = max(float(finite.max()) - f_lo, 1e-300) * 1e-6  # as image.colour_values
    centre = ((x0 + x1) / 2, (y0 + y1) / 2)
    half = max(x1 - x0, y1 - y0) / 2
    box = (((x0 - centre[0]) / half, (x1 - centre[0]) / half), ((y0 - centre[1]) / half, (y1 - centre[1]) / half))
    probe = Relief(centre, half, box, surface.log_scale, f_lo, delta, 0.0, 1.0, 0.0)
    C = probe.colour(F)  # (ny, nx)
    c_fin = C[np.isfinite(C)]
    c_min = float(probe.colour(f_lo))
    c_p1, c_hi = (float(v) for v in np.percentile(c_fin, [1, 99])) if c_fin.size else (c_min, c_min + 1)
    if not c_hi > c_p1:
        c_p1, c_hi = c_min, max(c_hi, c_min + 1.0)
    c_lo = max(c_min, c_p1 - FLOOR_DEPTH * (c_hi - c_p1))
    relief = Relief(centre, half, box, surface.log_scale, f_lo, delta, c_lo, c_hi, c_p1)
    X, Y = relief.to_box(xs, ys)
    Z = relief.level_height(C)  # (ny, nx)
    shade = np.clip((np.where(np.isfinite(C), C, c_hi) - c_p1) / (c_hi - c_p1), 0.0, 1.0)
    levels = np.linspace(c_p1, c_hi, N_CONTOURS + 2)[1:-1]
    Cc = np.where(np.isfinite(C), C, np.nan)
    segs = []
    for lev in levels:
        s = contour_segments(X, Y, Cc, lev)  # (2k, 2) in box coordinates
        segs.append(np.column_stack([s, np.full(len(s), float(relief.level_height(lev)))]))
    contours = np.concatenate(segs) if segs else np.zeros((0, 3))
    return relief, Mesh(X, Y, Z.T.copy(), shade.T.copy(), contours)


def path_rows(relief: Relief, path: np.ndarray, t: int, shown: int) -> int:
    """How many rows of ``path`` (T+1, 2) to draw on the relief at step t: up to step t, at most ``shown``
    (the 2-D map's rule: up to where it left the view), and up to the first row off the mesh (included, so
    the line visibly runs off its edge)."""
    n = max(min(t + 1, shown, len(path)), 0)
    if n == 0:
        return 0
    off = ~relief.inside(path[:n])
    if off.any():
        first = int(np.argmax(off))
        n = first + 1 if np.all(np.isfinite(path[first])) else max(first, 1)
    return n


def fit_distance(box, z_range, centre, elevation: float, azimuth: float, fov: float, aspect: float,
                 margin: float = 1.04) -> float:
    """The camera distance at which the whole box fits the view (pyqtgraph's orbit camera: it looks at
    ``centre`` from ``distance`` away at ``elevation`` / ``azimuth`` degrees; ``fov`` is the horizontal field of
    view in degrees; ``aspect`` = width / height of the view).

    For each corner q of the box (relative to the centre): its depth along the view direction is d − q·u (u:
    the unit vector from the centre to the camera), and it is inside the view when |q·right| ≤ depth·tan(fov/2)
    and |q·up| ≤ depth·tan(fov/2)/aspect. Solved for d, over the eight corners.
    """
    (x0, x1), (y0, y1) = box
    e, a = math.radians(elevation), math.radians(azimuth)
    u = np.array([math.cos(e) * math.cos(a), math.cos(e) * math.sin(a), math.sin(e)])
    right = np.cross(-u, [0.0, 0.0, 1.0])
    n = np.linalg.norm(right)
    right = right / n if n > 1e-9 else np.array([-math.sin(a), math.cos(a), 0.0])  # looking straight down
    up = np.cross(right, -u)
    corners = np.array([(x, y, z) for x in (x0, x1) for y in (y0, y1) for z in z_range]) - np.asarray(centre)
    tan_h = math.tan(math.radians(fov) / 2)
    tan_v = tan_h / max(aspect, 1e-3)
    need = np.maximum(np.abs(corners @ right) / tan_h, np.abs(corners @ up) / tan_v) + corners @ u
    return float(margin * need.max())
