"""One number formatter for every readout, table and maths line, with the panel's rules as arguments.

A number in the ``fixed`` range of magnitudes (or zero) is written in ``fixed_fmt``; any other in ``sci_fmt``.
The panels differ only in those rules: the EMA readouts and the stepper's maths lines show 4 decimals for
ordinary sizes (0.0750, 35.8796) and scientific beyond; the arena's table fits ~6 characters (0.316, 7.6e-4).
"""

from __future__ import annotations

import math


def format_number(x: float | None, *, fixed: tuple[float, float] = (1e-3, 1e5), fixed_fmt: str = ".4f",
                  sci_fmt: str = ".3e", short_exponent: bool = False, unicode_minus: bool = False,
                  missing: str | None = None) -> str:
    """``x`` as text by these rules.

    fixed: magnitudes lo ≤ |x| < hi are written with ``fixed_fmt`` (so is 0), others with ``sci_fmt``;
    short_exponent: "7.6e-4" instead of Python's "7.6e-04"; unicode_minus: "−" (U+2212), as typeset maths
    writes it; missing: what None, NaN and ±inf become (None keeps Python's "nan"/"inf").
    """
    if x is None or not math.isfinite(x):
        if missing is not None:
            return missing
        if x is None:
            return "None"
    lo, hi = fixed
    if not math.isfinite(x):
        text = f"{x}"
    elif x == 0:
        text = format(0.0, fixed_fmt)  # -0.0 is shown as 0
    elif lo <= abs(x) < hi:
        text = format(x, fixed_fmt)
    else:
        text = format(x, sci_fmt)
        if short_exponent and "e" in text:
            mantissa, exponent = text.split("e")
            text = f"{mantissa}e{int(exponent)}"
    return text.replace("-", "−") if unicode_minus else text
