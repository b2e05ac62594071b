"""The one number formatter: every number the window, the reports and ``check`` show goes through here.

A precision is named after where the number is shown, so that "full precision" means one thing::

    cell     a table cell: 4 decimals in the everyday range [1e-2, 1e6), else a 4-decimal mantissa
             with its exponent (0.2513, -44.0612, 1.5000e-07). The exponent is never dropped: asked
             to fit ``max_chars``, the mantissa loses digits first (6.6378e-03, 6.64e-3, 7e-3).
    full     the shortest text that reads back as the same float64 (``repr``): hover, copy, ``check``.
    report   what the report's tables print: full precision, as the report does.
    precise  15 significant digits (float64's DBL_DIG: every digit shown is exact): the
             verification table's analytic and reference columns.
    error    an error, ``digits`` significant digits in scientific notation (1.2e-16), exactly
             0 as "0".
    short    ``digits`` significant digits (%g, default 4): readouts and numbers inside prose.
    count    a whole number with thousands separators (30,000): steps, epochs, samples, entries.
             :func:`format_count` puts the noun after it, singular for exactly one ("1 epoch").

``None`` (no value) is shown as ``none`` (an em dash by default). Non-finite floats are shown as
Python writes them (inf, -inf, nan). Standard library only.
"""

from __future__ import annotations

import math
from typing import Literal

Precision = Literal["cell", "full", "report", "precise", "error", "short", "count"]

PRECISIONS: tuple[Precision, ...] = ("cell", "full", "report", "precise", "error", "short", "count")

#: Numbers in [CELL_FIXED_LOW, CELL_FIXED_HIGH) are shown in fixed notation in a cell.
CELL_FIXED_LOW = 1e-2
CELL_FIXED_HIGH = 1e6
CELL_DECIMALS = 4


def format_number(
    value: float | None,
    precision: Precision,
    *,
    digits: int | None = None,
    max_chars: int | None = None,
    none: str = "—",
) -> str:
    """``value`` as text at the named ``precision`` (see the module docstring).

    ``digits``: significant digits for "error" (default 2) and "short" (default 4); the other
    precisions refuse it. ``max_chars``: for "cell" only, the widest text wanted; the mantissa
    gives up digits to fit, the exponent never does (so the result may still be longer when even
    ``1e-300`` does not fit). Raises ValueError for an unknown precision or a misplaced option.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; expected one of {', '.join(PRECISIONS)}")
    if digits is not None and precision not in ("error", "short"):
        raise ValueError(f"digits applies to the 'error' and 'short' precisions, not {precision!r}")
    if max_chars is not None and precision != "cell":
        raise ValueError(f"max_chars applies to the 'cell' precision, not {precision!r}")
    if digits is not None and not 1 <= digits <= 17:
        raise ValueError(f"digits must be from 1 to 17 (got {digits})")
    if value is None:
        return none
    v = float(value)
    if precision in ("full", "report"):
        return repr(v)
    if precision == "precise":
        return f"{v:.15g}"
    if precision == "error":
        return "0" if v == 0 else f"{v:.{(digits or 2) - 1}e}"
    if precision == "short":
        return f"{v:.{digits or 4}g}"
    if precision == "count":
        if not math.isfinite(v):
            return str(v)
        if not v.is_integer():
            raise ValueError(f"a count is a whole number (got {value!r})")
        return f"{int(v):,}"
    return _cell(v, max_chars)


def format_count(n: int, noun: str, plural: str | None = None) -> str:
    """``n`` and its noun: "1 epoch", "0 steps", "30,000 steps" (``plural`` defaults to noun + "s")."""
    return f"{format_number(n, 'count')} {noun if n == 1 else plural or noun + 's'}"


def _cell(v: float, max_chars: int | None) -> str:
    if v == 0:
        text = f"{0.0:.{CELL_DECIMALS}f}"
    elif not math.isfinite(v) or CELL_FIXED_LOW <= abs(v) < CELL_FIXED_HIGH:
        text = f"{v:.{CELL_DECIMALS}f}"
    else:
        text = f"{v:.{CELL_DECIMALS}e}"
    if max_chars is None or len(text) <= max_chars:
        return text
    return _narrower(v, max_chars, text)


def _narrower(v: float, max_chars: int, text: str) -> str:
    """The widest-precision form of ``v`` that fits ``max_chars``, always with its exponent when
    it has one: fewer decimals, then scientific notation, then the exponent's leading zero dropped."""
    candidates: list[str] = []
    if "e" not in text and math.isfinite(v):
        candidates += [f"{v:.{d}f}" for d in range(CELL_DECIMALS - 1, -1, -1) if abs(v) >= 1 or d > 0]
    if math.isfinite(v):
        for d in range(CELL_DECIMALS, -1, -1):
            sci = f"{v:.{d}e}"
            mantissa, exponent = sci.split("e")
            candidates += [sci, f"{mantissa}e{int(exponent)}"]
    for candidate in candidates:
        if len(candidate) <= max_chars and (v == 0 or float(candidate) != 0.0):
            return candidate
    return candidates[-1] if candidates else text
