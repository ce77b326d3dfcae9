"""A function on a grid as a picture: colour values (optionally log-scaled), colour levels and contour lines.

NumPy only: the arena's surface images and the GPT monitor's loss-landscape slices are both computed with it,
off the GUI thread, and drawn the same way.

Why our own marching squares: pyqtgraph's ``isocurve`` walks the grid cell by cell in Python (~0.8 s for a dozen
levels on 300²); the vectorised version below does the same in a few milliseconds, so a zoom redraws at once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The two edges each marching-squares case crosses. Corners: a=(i,j) bottom-left, b=(i,j+1) bottom-right,
# c=(i+1,j+1) top-right, d=(i+1,j) top-left; case = [a>l] + 2[b>l] + 4[c>l] + 8[d>l].
# Edges: 0 bottom (a–b), 1 right (b–c), 2 top (d–c), 3 left (a–d). The saddle cases 5 and 10 get two segments.
_SEG1 = np.array([(-1, -1), (3, 0), (0, 1), (3, 1), (1, 2), (3, 0), (0, 2), (3, 2),
                  (2, 3), (0, 2), (0, 1), (1, 2), (1, 3), (0, 1), (3, 0), (-1, -1)])
_SEG2 = {5: (1, 2), 10: (2, 3)}


def contour_segments(xs: np.ndarray, ys: np.ndarray, Z: np.ndarray, level: float) -> np.ndarray:
    """Line segments of the level set Z = level, by vectorised marching squares.

    xs (nx,), ys (ny,), Z (ny, nx) with Z[iy, ix] = f(xs[ix], ys[iy]). Returns (2·nseg, 2) points: rows 2k and
    2k+1 are the ends of segment k (pyqtgraph's ``connect='pairs'``). Cells touching a non-finite value are
    skipped.
    """
    a, b, c, d = Z[:-1, :-1], Z[:-1, 1:], Z[1:, 1:], Z[1:, :-1]  # each (ny-1, nx-1)
    with np.errstate(invalid="ignore"):
        case = (a > level) * 1 + (b > level) * 2 + (c > level) * 4 + (d > level) * 8
    case[~(np.isfinite(a) & np.isfinite(b) & np.isfinite(c) & np.isfinite(d))] = 0
    iy, ix = np.nonzero((case > 0) & (case < 15))  # only the cells the level crosses
    k = case[iy, ix]
    out = [_segments(xs, ys, Z, level, _SEG1[k, 0], _SEG1[k, 1], iy, ix)]
    saddle = (k == 5) | (k == 10)
    if saddle.any():
        ks = k[saddle]
        s1 = np.where(ks == 5, _SEG2[5][0], _SEG2[10][0])
        s2 = np.where(ks == 5, _SEG2[5][1], _SEG2[10][1])
        out.append(_segments(xs, ys, Z, level, s1, s2, iy[saddle], ix[saddle]))
    return np.concatenate(out)


def _edge_points(xs, ys, Z, level, e, iy, ix):
    """Where the level crosses edge e (0 bottom, 1 right, 2 top, 3 left) of cells (iy, ix): (n, 2)."""
    # the edge's two corners as (row, column) offsets from the cell's bottom-left corner
    r0 = np.array([0, 0, 1, 0])[e]
    c0 = np.array([0, 1, 0, 0])[e]
    r1 = np.array([0, 1, 1, 1])[e]
    c1 = np.array([1, 1, 1, 0])[e]
    p, q = Z[iy + r0, ix + c0], Z[iy + r1, ix + c1]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.clip(np.nan_to_num((level - p) / (q - p), nan=0.5), 0.0, 1.0)
    x = xs[ix + c0] + t * (xs[ix + c1] - xs[ix + c0])
    y = ys[iy + r0] + t * (ys[iy + r1] - ys[iy + r0])
    return np.stack([x, y], axis=1)


def _segments(xs, ys, Z, level, e1, e2, iy, ix) -> np.ndarray:
    """Interleave the two end points of each segment: (2n, 2)."""
    p = _edge_points(xs, ys, Z, level, e1, iy, ix)
    q = _edge_points(xs, ys, Z, level, e2, iy, ix)
    return np.stack([p, q], axis=1).reshape(-1, 2)


@dataclass
class MapImage:
    """Everything a GUI needs to draw one view of a function on a grid (plain arrays, safe between threads).

    image (ny, nx) float32 row-major: the colour values (log10(f − f_lo + δ) when ``log``);
    rect (x0, y0, width, height) in data units; levels (lo, hi) for the colour map;
    contours (2·nseg, 2) segment end points in data units; contour_levels the levels in image units.
    """

    image: np.ndarray
    rect: tuple[float, float, float, float]
    levels: tuple[float, float]
    contours: np.ndarray
    contour_levels: np.ndarray
    log: bool
    label: str


def colour_values(Z: np.ndarray, log: bool) -> tuple[np.ndarray, str]:
    """What the colour shows: f itself, or log10(f − min f + δ) for valley-shaped surfaces.

    δ is a millionth of the visible range, so the floor of a valley is ~6 decades below its walls
    instead of −∞; overflowing points become NaN (drawn transparent).
    """
    Zf = np.where(np.isfinite(Z), Z, np.nan)
    if not np.isfinite(Zf).any():
        return np.zeros_like(Z, dtype=np.float32), "f"
    if not log:
        return Zf.astype(np.float32), "f"
    lo, hi = np.nanmin(Zf), np.nanmax(Zf)
    delta = max(hi - lo, 1e-300) * 1e-6
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.log10(Zf - lo + delta).astype(np.float32), "log₁₀(f − min + δ)"


def map_image(xs: np.ndarray, ys: np.ndarray, Z: np.ndarray, log: bool, n_levels: int = 14) -> MapImage:
    """The picture of Z[iy, ix] = f(xs[ix], ys[iy]): colour values, levels spanning the 1st–99th percentile (one
    enormous corner does not wash the picture out) and ``n_levels`` contour lines between them."""
    C, label = colour_values(Z, log)
    finite = C[np.isfinite(C)]
    if finite.size:
        lo, hi = (float(v) for v in np.percentile(finite, [1, 99]))
    else:
        lo, hi = 0.0, 1.0
    if not hi > lo:
        hi = lo + 1.0
    levels = np.linspace(lo, hi, n_levels + 2)[1:-1]
    segs = [contour_segments(xs, ys, C.astype(np.float64), lev) for lev in levels]
    contours = np.concatenate(segs) if segs else np.zeros((0, 2))
    dx = xs[1] - xs[0] if len(xs) > 1 else 1.0
    dy = ys[1] - ys[0] if len(ys) > 1 else 1.0
    # Pixel centres sit on the grid points: the image reaches half a pixel beyond the first and last.
    rect = (xs[0] - dx / 2, ys[0] - dy / 2, xs[-1] - xs[0] + dx, ys[-1] - ys[0] + dy)
    return MapImage(C, rect, (lo, hi), contours, levels, log, label)
