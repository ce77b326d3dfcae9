"""Pictures of a 2-D array without any plotting library: a colour map, contour bands, paths and a PNG writer.

Used by ``adamlab landscape`` to write a loss slice headless. The PNG is 8-bit RGB, written with zlib and
struct only (the format is a signature and three chunks: IHDR, IDAT with the zlib-compressed scanlines,
IEND, each with its CRC-32) and atomically (adamlab.core.files).

    rgb = render_map(Z, log=True, paths=[(xy, "#D55E00")], extent=(-1, 1, -1, 1))
    write_png("slice.png", rgb)
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np

from adamlab.core import files

# the arena's pale light-theme map (adamlab/ui/panels/surface.py): low = white, so paths stand out on it
ARENA_COLORS = ("#FFFFFF", "#E3E9F2", "#B7C5DB", "#8497B8")
LINE_COLOR = "#4A5F82"  # contour lines
NAN_COLOR = "#F2D0D0"  # cells where the loss is not finite (diverged weights)
MAX_PIXELS = 4096 * 4096


def hex_rgb(color: str) -> np.ndarray:
    c = color.lstrip("#")
    if len(c) != 6:
        raise ValueError(f"colour must be '#RRGGBB', got {color!r}")
    return np.array([int(c[i : i + 2], 16) for i in (0, 2, 4)], dtype=np.float64)


def colormap(t: np.ndarray, colors=ARENA_COLORS) -> np.ndarray:
    """RGB floats (…, 3) in [0, 255] of t in [0, 1] (clipped), linear between equally spaced ``colors``."""
    anchors = np.stack([hex_rgb(c) for c in colors])  # (n, 3)
    x = np.clip(np.nan_to_num(t, nan=0.0), 0, 1) * (len(anchors) - 1)
    i = np.minimum(x.astype(np.int64), len(anchors) - 2)
    f = (x - i)[..., None]
    return anchors[i] * (1 - f) + anchors[i + 1] * f


def upsample(Z: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resampling of Z (ny, nx) onto (height, width) pixels whose centres span the grid's corners;
    a pixel next to a non-finite value is non-finite."""
    ny, nx = Z.shape
    y = np.linspace(0, ny - 1, height)
    x = np.linspace(0, nx - 1, width)
    y0 = np.minimum(y.astype(np.int64), max(ny - 2, 0))
    x0 = np.minimum(x.astype(np.int64), max(nx - 2, 0))
    y1, x1 = np.minimum(y0 + 1, ny - 1), np.minimum(x0 + 1, nx - 1)
    fy, fx = (y - y0)[:, None], (x - x0)[None, :]
    with np.errstate(invalid="ignore"):
        top = Z[y0][:, x0] * (1 - fx) + Z[y0][:, x1] * fx
        bottom = Z[y1][:, x0] * (1 - fx) + Z[y1][:, x1] * fx
        return top * (1 - fy) + bottom * fy


def render_map(Z: np.ndarray, log: bool = False, levels: int = 16, pixels: int = 400, extent=None, paths=(),
               colors=ARENA_COLORS, points=()) -> np.ndarray:
    """A filled contour map of Z (ny, nx), Z[iy, ix] with iy growing upwards, as an (H, W, 3) uint8 image.

    The colour is Z's value in ``levels`` equal bands (of log(Z − min + small) with ``log``, for valley-shaped
    maps), with a darker line where the band changes. ``extent`` (x0, x1, y0, y1): the data coordinates of the
    grid's corners, for ``paths``: [(xy (n, 2), "#RRGGBB"), …] drawn as 2-px polylines, and ``points``:
    [((x, y), "#RRGGBB"), …] drawn as small squares. The longer side is ``pixels`` pixels.
    """
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2 or min(Z.shape) < 2:
        raise ValueError(f"Z must be a 2-D array of at least 2 × 2, got {Z.shape}")
    ny, nx = Z.shape
    W = pixels if nx >= ny else max(2, round(pixels * nx / ny))
    H = pixels if ny >= nx else max(2, round(pixels * ny / nx))
    V = upsample(Z, H, W)[::-1]  # image rows go down: the top row is the grid's last
    finite = np.isfinite(V)
    img = np.empty((H, W, 3))
    img[...] = hex_rgb(NAN_COLOR)
    if finite.any():
        lo, hi = float(V[finite].min()), float(V[finite].max())
        if log:
            span = hi - lo
            eps = max(span * 1e-3, 1e-12)
            T = (np.log(np.where(finite, V, lo) - lo + eps) - np.log(eps)) / (np.log(span + eps) - np.log(eps))
        else:
            T = (np.where(finite, V, lo) - lo) / (hi - lo) if hi > lo else np.zeros_like(V)
        band = np.minimum((T * levels).astype(np.int64), levels - 1)
        img[finite] = colormap((band[finite] + 0.5) / levels, colors)
        edge = np.zeros((H, W), dtype=bool)  # where the band differs from the right or lower neighbour
        edge[:, :-1] |= band[:, :-1] != band[:, 1:]
        edge[:-1, :] |= band[:-1, :] != band[1:, :]
        edge &= finite
        img[edge] = img[edge] * 0.45 + hex_rgb(LINE_COLOR) * 0.55
    img = img.round().astype(np.uint8)
    if extent is not None:
        x0, x1, y0, y1 = (float(v) for v in extent)

        def to_pixels(xy):
            xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
            px = (xy[:, 0] - x0) / (x1 - x0) * (W - 1)
            py = (y1 - xy[:, 1]) / (y1 - y0) * (H - 1)
            return px, py

        for xy, color in paths:
            px, py = to_pixels(xy)
            draw_polyline(img, px, py, hex_rgb(color).astype(np.uint8))
        for xy, color in points:
            px, py = to_pixels(xy)
            draw_points(img, px, py, hex_rgb(color).astype(np.uint8))
    return img


def draw_polyline(img: np.ndarray, px, py, color, width: int = 2) -> None:
    """Draw the polyline through pixel coordinates (px, py) into img (H, W, 3) in place; parts outside the
    image are clipped, non-finite points break the line."""
    H, W = img.shape[:2]
    for xa, ya, xb, yb in zip(px[:-1], py[:-1], px[1:], py[1:]):
        if not all(np.isfinite((xa, ya, xb, yb))):
            continue
        n = int(min(max(abs(xb - xa), abs(yb - ya)), 4 * (H + W))) + 1
        xs = np.rint(np.linspace(xa, xb, n + 1)).astype(np.int64)
        ys = np.rint(np.linspace(ya, yb, n + 1)).astype(np.int64)
        for dx in range(width):
            for dy in range(width):
                x, y = xs + dx, ys + dy
                ok = (x >= 0) & (x < W) & (y >= 0) & (y < H)
                img[y[ok], x[ok]] = color


def draw_points(img: np.ndarray, px, py, color, size: int = 5) -> None:
    H, W = img.shape[:2]
    r = size // 2
    for x, y in zip(px, py):
        if not (np.isfinite(x) and np.isfinite(y)):
            continue
        x, y = int(round(x)), int(round(y))
        img[max(0, y - r) : max(0, min(H, y + r + 1)), max(0, x - r) : max(0, min(W, x + r + 1))] = color


def png_bytes(rgb: np.ndarray) -> bytes:
    """An (H, W, 3) uint8 array as the bytes of a PNG file (8-bit RGB, no interlace)."""
    rgb = np.asarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or min(rgb.shape[:2]) < 1:
        raise ValueError(f"rgb must be a uint8 array of shape (H, W, 3), got {rgb.dtype} {rgb.shape}")
    H, W = rgb.shape[:2]
    if H * W > MAX_PIXELS:
        raise ValueError(f"image too large: {W} × {H} pixels (at most {MAX_PIXELS})")

    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    scanlines = np.concatenate([np.zeros((H, 1), np.uint8), rgb.reshape(H, W * 3)], axis=1)  # filter 0 per row
    header = struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0)  # 8 bits, colour type 2 (RGB)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(scanlines.tobytes(), 9))
            + chunk(b"IEND", b""))


def write_png(path, rgb: np.ndarray, what: str = "image") -> Path:
    """Write the PNG atomically (adamlab.core.files: whole or not at all, never onto a non-file)."""
    return files.write_bytes(path, png_bytes(rgb), what)


def read_png(path) -> np.ndarray:
    """The (H, W, 3) uint8 pixels of an 8-bit RGB, non-interlaced PNG with filter-0 rows (as ``write_png``
    makes): for tests and round trips, not a general decoder."""
    raw = Path(path).read_bytes()
    if raw[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG file")
    pos, idat, W, H = 8, b"", 0, 0
    while pos < len(raw):
        (n,) = struct.unpack(">I", raw[pos : pos + 4])
        kind, payload = raw[pos + 4 : pos + 8], raw[pos + 8 : pos + 8 + n]
        if zlib.crc32(kind + payload) != struct.unpack(">I", raw[pos + 8 + n : pos + 12 + n])[0]:
            raise ValueError(f"bad CRC in chunk {kind!r}")
        if kind == b"IHDR":
            W, H, depth, ctype = struct.unpack(">IIBB", payload[:10])
            if (depth, ctype) != (8, 2):
                raise ValueError("only 8-bit RGB PNGs are read here")
        elif kind == b"IDAT":
            idat += payload
        pos += 12 + n
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(H, 1 + 3 * W)
    if np.any(rows[:, 0]):
        raise ValueError("only filter-0 rows are read here")
    return rows[:, 1:].reshape(H, W, 3).copy()
