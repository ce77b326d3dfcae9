"""The picture under the arena's paths: a colour image of f and its contour lines, computed off the GUI thread.

Qt-free (NumPy only) so the image worker can run it and the tests can check it directly. The drawing maths
(colour values, marching squares) is :mod:`adamlab.core.contours`, shared with the monitor's landscape view.
"""

from __future__ import annotations

from adamlab.core.contours import MapImage, colour_values, contour_segments, map_image  # noqa: F401 (re-exported)
from adamlab.core.surfaces import Surface, grid

SurfaceImage = MapImage  # one view of a surface


def surface_image(surface: Surface, domain=None, n: int = 300, n_levels: int = 14) -> SurfaceImage:
    """Evaluate ``surface`` on an n × n grid over ``domain`` (default: its own) and contour it (colour levels
    span the 1st–99th percentile; log-scaled for valley-shaped surfaces)."""
    xs, ys, Z = grid(surface, n, n, domain)
    return map_image(xs, ys, Z, surface.log_scale, n_levels)
