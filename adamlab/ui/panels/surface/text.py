"""How the arena writes numbers: ``fmt`` for the results table and the readout under the map, and
``decade_label`` for the effective-lr axis's ticks. Qt-free.

``fmt`` is ``widgets.numbers.format_number`` with the table's rules.
"""

from __future__ import annotations

from adamlab.ui.widgets.numbers import format_number

SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def fmt(x: float | None) -> str:
    """A number in at most ~6 characters for the table and readout: 0.316, 2.28, 7.6e-4, 1.2e5."""
    return format_number(x, fixed=(1e-2, 1e4), fixed_fmt=".3g", sci_fmt=".1e", short_exponent=True, missing="—")


def decade_label(k: int) -> str:
    """10^k as a short tick label: 1, 10, else 10 with a superscript exponent (10⁻³)."""
    return {0: "1", 1: "10"}.get(k, "10" + str(k).translate(SUPERSCRIPT))
