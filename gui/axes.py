"""The axes of every plot, in the window and in the reports: one value axis, one step axis.

pyqtgraph's own axis gets two things wrong for this application's ranges. On a log axis it
scales every tick by an SI multiplier shown beside the label ("value (x1e+27)"), and it labels
every minor tick it draws, so that in a short decade "9·10¹8·10¹7·10¹" run into each other.
:class:`ValueAxis` never uses a multiplier, labels decades as 10ⁿ (every 2nd, 5th, 10th, …
decade when the range is wide: a diverged run spans 10⁻²⁷ to 10²²³) and labels 2·10ⁿ, 5·10ⁿ
and the other minor ticks only where the labels fit apart on the axis; the other minor
ticks are drawn unlabelled. On a linear axis it keeps pyqtgraph's ticks but writes a number
beyond ±10⁵ or below 10⁻³ as m·10ⁿ. :class:`StepAxis` writes step numbers short (20k, 1.5M).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QFont, QFontMetricsF

__all__ = ["AXIS_TEXT", "StepAxis", "ValueAxis", "log_ticks", "power_label", "step_label"]

_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")
#: Decades between two labelled decades, smallest first (beyond these: 10×, 100×, … of them).
_DECADE_STEPS = (1, 2, 5, 10, 20, 25, 50)
#: Mantissas labelled inside a decade, most sparse first; each set is used only if the two
#: closest labels in it (and the next decade's) are at least one label's room apart on screen.
_MINOR_LABELS = ((2, 5), (2, 3, 5), (2, 3, 4, 5, 6, 7, 8, 9))
_ALL_MINOR = (2, 3, 4, 5, 6, 7, 8, 9)
#: Unlabelled ticks closer than this (pixels) are not drawn: they would merge into a bar.
_MIN_TICK_GAP = 4.0
#: Tick labels and axis titles on the plots' white: 12.6:1 (pyqtgraph's grey #969696 is 3:1).
AXIS_TEXT = "#333333"
#: A linear axis writes its ticks as m·10ⁿ beyond these magnitudes.
_LINEAR_HIGH, _LINEAR_LOW = 1e5, 1e-3


def power_label(v: float) -> str:
    """A log axis's tick at log10(value) = ``v``: 10ⁿ at a decade, m·10ⁿ between (2·10⁻³)."""
    exponent = math.floor(v + 1e-9)
    mantissa = round(10 ** (v - exponent), 6)
    if mantissa >= 10:  # v a hair below a decade: 10·10ⁿ is 10ⁿ⁺¹
        exponent, mantissa = exponent + 1, 1.0
    power = "10" + str(exponent).translate(_SUPERSCRIPT)
    return power if mantissa == 1 else f"{mantissa:g}·{power}"


def _scientific(v: float) -> str:
    """A linear tick as m·10ⁿ (−2.5·10⁶); 0 as "0"."""
    if v == 0:
        return "0"
    sign = "−" if v < 0 else ""
    return sign + power_label(math.log10(abs(v)))


def step_label(v: float) -> str:
    """Step numbers: 500, 2500, 20k, 1.5M (short enough for six ticks across a panel)."""
    if abs(v) >= 1e6:
        return f"{v / 1e6:g}M"
    if abs(v) >= 1e4:
        return f"{v / 1e3:g}k"
    return f"{v:g}"


def log_ticks(lo: float, hi: float, pixels: float, label_room: float) -> tuple[list[float], list[float]]:
    """The ticks of a log axis showing log10 values ``lo`` to ``hi`` over ``pixels``:
    ``(labelled, unlabelled)`` positions (log10 of the values), sorted.

    ``label_room`` is the distance (pixels along the axis) two labels need so as not to touch.
    Decades are labelled every 1, 2, 5, 10, 20, … decades, the first step that leaves that
    room; within a decade, 2·10ⁿ and 5·10ⁿ (then more) only when a decade has room for them.
    An axis shorter than a decade gets labelled ticks at round values inside it instead.
    """
    lo, hi = min(lo, hi), max(lo, hi)
    # Below a millionth of a decade the labels could not tell the ticks apart (6 digits).
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi - lo < 1e-6 or pixels <= 0:
        return [], []
    per_decade = pixels / (hi - lo)
    eps = 1e-9 * (hi - lo)  # a tick at either end of the axis stays despite rounding
    lo, hi = lo - eps, hi + eps
    step = _decade_step(per_decade, label_room)
    first, last = math.ceil(lo), math.floor(hi)
    labelled = [float(d) for d in range(first - first % step, last + 1, step) if lo <= d <= hi]
    quiet: list[float] = []
    if step > 1:
        sub = _quiet_decade_step(step, per_decade)
        if sub:
            quiet = [
                float(d) for d in range(first - first % sub, last + 1, sub) if d % step and lo <= d <= hi
            ]
        return labelled, quiet
    mantissas = next(
        (m for m in reversed(_MINOR_LABELS) if per_decade * _closest(m) >= label_room),
        (),
    )
    show_quiet = per_decade * math.log10(10 / 9) >= _MIN_TICK_GAP
    for d in range(math.floor(lo), math.ceil(hi)):
        for m in _ALL_MINOR:
            v = d + math.log10(m)
            if lo <= v <= hi:
                if m in mantissas:
                    labelled.append(v)
                elif show_quiet:
                    quiet.append(v)
    if len(labelled) < 2:
        # Less than a decade on screen: round values inside it, if any fit (else what there is).
        return _within_a_decade(lo, hi, pixels, label_room) or labelled, []
    return sorted(labelled), quiet


def _decade_step(per_decade: float, room: float) -> int:
    """The fewest decades between labelled decades that keeps labels ``room`` pixels apart."""
    scale = 1
    while True:
        for s in _DECADE_STEPS:
            if s * scale * per_decade >= room:
                return s * scale
        scale *= 100


def _quiet_decade_step(step: int, per_decade: float) -> int:
    """Decades between unlabelled ticks when labels are ``step`` decades apart (0: none)."""
    for sub in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000):
        if sub < step and step % sub == 0 and sub * per_decade >= _MIN_TICK_GAP:
            return sub
    return 0


def _closest(mantissas: tuple[int, ...]) -> float:
    """The smallest gap, in decades, between labels at 1, the ``mantissas`` and 10."""
    marks = [0.0, *(math.log10(m) for m in mantissas), 1.0]
    return min(b - a for a, b in itertools.pairwise(marks))


def _within_a_decade(lo: float, hi: float, pixels: float, room: float) -> list[float]:
    """Round values (1, 2, 2.5, … times a power of ten) between 10^lo and 10^hi, as log10 positions,
    as many as fit: a view zoomed into less than a decade."""
    try:
        a, b = 10.0**lo, 10.0**hi
    except OverflowError:  # a view padded past 1.8e308
        return []
    for count in (8, 5, 3, 2):
        raw = (b - a) / count
        unit = 10.0 ** math.floor(math.log10(raw))
        spacing = next(f * unit for f in (1, 2, 2.5, 5, 10) if f * unit >= raw)
        values = [k * spacing for k in range(math.ceil(a / spacing), math.floor(b / spacing) + 1)]
        ticks = [math.log10(v) for v in values if v > 0]
        gaps = [y - x for x, y in itertools.pairwise(ticks)]
        distinct = len({power_label(t) for t in ticks}) == len(ticks)  # labels keep 6 digits
        if len(ticks) >= 2 and distinct and min(gaps) * pixels / (hi - lo) >= room:
            return ticks
    return []


# pyqtgraph ships no type hints, so its classes are Any to mypy (strict refuses subclassing Any).
class ValueAxis(pg.AxisItem):  # type: ignore[misc]
    """A value axis: no SI multiplier ever; on a log scale 10ⁿ ticks, labelled only where they fit."""

    def __init__(self, orientation: str, **kwargs: object) -> None:
        super().__init__(orientation, **kwargs)
        self.enableAutoSIPrefix(False)
        self.setTextPen(AXIS_TEXT)

    def _label_room(self) -> float:
        """Pixels along the axis one tick label needs, with a gap to the next."""
        font = self.style.get("tickFont") or QFont()
        metrics = QFontMetricsF(font)
        if self.orientation in ("left", "right"):
            return metrics.height() * 1.6  # a line of text and most of another between labels
        return metrics.horizontalAdvance("5·10⁻²⁸⁸") + metrics.averageCharWidth() * 2

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list[tuple[float | None, list[float]]]:
        if not self.logMode:
            return super().tickValues(minVal, maxVal, size)  # type: ignore[no-any-return]
        labelled, quiet = log_ticks(minVal, maxVal, size, self._label_room())
        # The unlabelled ticks are a level of their own, with no spacing: logTickStrings leaves
        # them blank (pyqtgraph would otherwise label every level that is not "too crowded").
        levels: list[tuple[float | None, list[float]]] = [(1.0, labelled)]
        if quiet:
            levels.append((None, quiet))
        return levels

    def logTickStrings(self, values: list[float], scale: float, spacing: float | None) -> list[str]:
        if spacing is None:
            return [""] * len(values)
        return [power_label(v) for v in values]

    def tickStrings(self, values: list[float], scale: float, spacing: float | None) -> list[str]:
        if self.logMode:
            return self.logTickStrings(values, scale, spacing)
        scaled = np.asarray(values, dtype=np.float64) * scale
        big = np.abs(scaled)
        if len(scaled) and (big.max() >= _LINEAR_HIGH or (0 < big[big > 0].max(initial=0) < _LINEAR_LOW)):
            return [_scientific(float(v)) for v in scaled]
        return super().tickStrings(values, scale, spacing)  # type: ignore[no-any-return]


class StepAxis(pg.AxisItem):  # type: ignore[misc]  # pyqtgraph is untyped (see ValueAxis)
    """The training-step axis: 500, 20k, 1.5M; no SI multiplier."""

    def __init__(self, orientation: str, **kwargs: object) -> None:
        super().__init__(orientation, **kwargs)
        self.enableAutoSIPrefix(False)
        self.setTextPen(AXIS_TEXT)

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        return [step_label(v) for v in values]
