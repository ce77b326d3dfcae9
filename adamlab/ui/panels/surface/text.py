"""How the arena writes numbers: ``fmt`` for the results table and the readout under the map, and
``decade_label`` for the effective-lr axis's ticks. Qt-free.

(The other panels have formatters of their own with other rules; they are to become one helper in
``ui/widgets``.)
"""

from __future__ import annotations

import math

SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def fmt(x: float | None) -> str:
    """A number in at most ~6 characters for the table and readout: 0.316, 2.28, 7.6e-4, 1.2e5."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    if x != 0 and not 1e-2 <= abs(x) < 1e4:
        mantissa, exponent = f"{x:.1e}".split("e")
        return f"{mantissa}e{int(exponent)}"
    return f"{x:.3g}"


def decade_label(k: int) -> str:
    """10^k as a short tick label: 1, 10, else 10 with a superscript exponent (10⁻³)."""
    return {0: "1", 1: "10"}.get(k, "10" + str(k).translate(SUPERSCRIPT))
