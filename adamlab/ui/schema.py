"""What a panel's saved state may hold, checked field by field before anything is applied. Qt-free.

A panel's state travels as plain JSON: in the saved settings between sessions, and in scenario files that people
write by hand and hand to each other. Both are read through a schema:

    SCHEMA = Fields({"beta1": Num(0, 1, hi_open=True), "steps": Int(1, 100_000), "problem": Choice(PROBLEMS),
                     "optimizers": Seq(Fields({...}), max_len=12), "start": Point(-1e6, 1e6)})
    clean, problems = check(SCHEMA, state)

``clean`` holds only the fields that passed (a bad field is left out, never half-applied; an over-long list is
refused, not cut, since a list is one setting), and ``problems`` one line per field that did not, naming it by
its path and saying why: ``optimizers[3].values.lr: 'fast' is not a number``. Saved settings apply ``clean`` and
tell the user once what was ignored; a scenario file with any problem is refused whole.

The bounds are about what a state may make the app do (allocate, loop over, draw), not about taste: a list of
10,000 optimizers or a start point at 1e40 is refused here before a widget sees it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

MISSING = object()


class Schema:
    def check(self, value: Any, path: str) -> tuple[Any, list[str]]:
        """(the clean value, or MISSING if refused; the problems found)."""
        raise NotImplementedError


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "…"


def _real(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        v = float(value)
    except OverflowError:  # an int too big for a float
        return math.inf if value > 0 else -math.inf
    return v


class Num(Schema):
    """A finite number in [lo, hi] (ends open if asked)."""

    def __init__(self, lo: float = -math.inf, hi: float = math.inf, lo_open: bool = False, hi_open: bool = False):
        self.lo, self.hi, self.lo_open, self.hi_open = lo, hi, lo_open, hi_open

    def _range(self) -> str:
        return f"{'(' if self.lo_open else '['}{self.lo:g}, {self.hi:g}{')' if self.hi_open else ']'}"

    def check(self, value, path):
        v = _real(value)
        if v is None:
            return MISSING, [f"{path}: {_show(value)} is not a number"]
        if not math.isfinite(v):
            return MISSING, [f"{path}: {_show(value)} is not a finite number"]
        too_low = v < self.lo or (self.lo_open and v == self.lo)
        too_high = v > self.hi or (self.hi_open and v == self.hi)
        if too_low or too_high:
            return MISSING, [f"{path}: {v:g} is outside {self._range()}"]
        return v, []


class Int(Num):
    """An integer in [lo, hi]."""

    def check(self, value, path):
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                return MISSING, [f"{path}: {_show(value)} is not a whole number"]
        if not self.lo <= value <= self.hi:
            return MISSING, [f"{path}: {value} is outside [{self.lo:g}, {self.hi:g}]"]
        return value, []


class Bool(Schema):
    def check(self, value, path):
        if not isinstance(value, bool):
            return MISSING, [f"{path}: {_show(value)} is not true or false"]
        return value, []


class Choice(Schema):
    """One of ``options`` (strings or numbers, compared by equality)."""

    def __init__(self, options: Iterable):
        self.options = list(options)

    def check(self, value, path):
        if isinstance(value, bool) or value not in self.options:
            shown = ", ".join(str(o) for o in self.options[:12]) + (", …" if len(self.options) > 12 else "")
            return MISSING, [f"{path}: {_show(value)} is not one of {shown}"]
        return value, []


class Text(Schema):
    def __init__(self, max_len: int = 200):
        self.max_len = max_len

    def check(self, value, path):
        if not isinstance(value, str):
            return MISSING, [f"{path}: {_show(value)} is not text"]
        if len(value) > self.max_len:
            return MISSING, [f"{path}: text of {len(value):,} characters is longer than {self.max_len}"]
        return value, []


class Point(Schema):
    """Two finite numbers (x, y), each in [lo, hi]."""

    def __init__(self, lo: float, hi: float):
        self.num = Num(lo, hi)

    def check(self, value, path):
        if not isinstance(value, (list, tuple)) or len(value) != 2:
            return MISSING, [f"{path}: {_show(value)} is not a point [x, y]"]
        out, problems = [], []
        for i, v in enumerate(value):
            c, p = self.num.check(v, f"{path}[{i}]")
            out.append(c)
            problems += p
        return (MISSING if problems else tuple(out)), problems


class Seq(Schema):
    """A list of at most ``max_len`` items of ``item``; a bad item is left out (``strict``: the list is refused)."""

    def __init__(self, item: Schema, max_len: int, min_len: int = 0, strict: bool = False):
        self.item, self.max_len, self.min_len, self.strict = item, max_len, min_len, strict

    def check(self, value, path):
        if not isinstance(value, (list, tuple)):
            return MISSING, [f"{path}: {_show(value)} is not a list"]
        if len(value) > self.max_len:
            return MISSING, [f"{path}: {len(value):,} entries, at most {self.max_len} are allowed"]
        out, problems = [], []
        for i, v in enumerate(value):
            c, p = self.item.check(v, f"{path}[{i}]")
            problems += p
            if c is not MISSING:
                out.append(c)
        if (self.strict and problems) or len(out) < self.min_len:
            if len(out) < self.min_len:
                problems.append(f"{path}: needs at least {self.min_len} usable entries")
            return MISSING, problems
        return out, problems


class Fields(Schema):
    """A dict of named fields, each optional; unknown fields are reported (``unknown="report"``) or ignored."""

    def __init__(self, fields: dict[str, Schema], unknown: str = "report"):
        self.fields, self.unknown = fields, unknown

    def check(self, value, path):
        if not isinstance(value, dict):
            return MISSING, [f"{path or 'state'}: {_show(value)} is not a set of fields"]
        out, problems = {}, []
        for key, v in value.items():
            where = f"{path}.{key}" if path else str(key)
            schema = self.fields.get(key)
            if schema is None:
                if self.unknown == "report":
                    problems.append(f"{where}: unknown field")
                continue
            c, p = schema.check(v, where)
            problems += p
            if c is not MISSING:
                out[key] = c
        return out, problems


def check(schema: Schema, state: Any, path: str = "") -> tuple[dict, list[str]]:
    """Validate ``state`` against ``schema``: (what passed, one line per problem). Never raises."""
    clean, problems = schema.check(state, path)
    return ({} if clean is MISSING else clean), problems


def summary(problems: list[str], limit: int = 3) -> str:
    """The first few problems on one line, and how many more."""
    shown = "; ".join(problems[:limit])
    return shown + (f" (and {len(problems) - limit} more)" if len(problems) > limit else "")
