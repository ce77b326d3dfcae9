"""How the arena writes numbers: ``fmt`` for the results table and the readout under the map, and
``decade_label`` for the effective-lr axis's ticks. Qt-free.

``fmt`` is to give way to ``widgets.numbers.format_number``: with ``fixed=(1e-2, 1e4), fixed_fmt=".3g",
sci_fmt=".1e", short_exponent=True, missing="—"`` it writes the same text (checked on 2,000 numbers across
16 decades, None, NaN and ±inf), except −0.0, which ``fmt`` writes "-0".
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
