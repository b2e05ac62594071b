"""A sweep's summary chart as SVG text: the final loss at x over the grid. Pure Python.

- One swept setting: a curve of the final loss at x over its values (one curve per seed when the
  seed is swept too). Runs that diverged are marked × at the top, labelled.
- Two swept settings: a heat map, one cell per combination, its number written in it (over the
  seeds, their median); three: one heat map per value of the third.
- The loss axis (or the colour scale) is logarithmic when the values span two decades or more and
  are all above zero; so is a setting's axis. Numbers are written whole: decimals from 0.0001 to
  99999, otherwise with their exponent (1e-05), never cut short.

The SVG keeps to what SVG Tiny 1.2 has (QSvgRenderer draws it into the command's summary.png):
presentation attributes, no CSS, no ``dominant-baseline``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from backprop_lab.engine.formatting import format_count, format_number
from backprop_lab.engine.sweep import AXES, RunResult, SweepResults, Value

__all__ = ["summary_svg"]

FONT = 'font-family="DejaVu Sans, Arial, sans-serif"'
INK, MUTED, GRID = "#222222", "#666666", "#dddddd"
#: Curve colours (one per seed), the Okabe–Ito palette: told apart with any colour vision.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#000000")
#: A perceptually even scale, low (dark blue) to high (yellow): viridis at five stops.
SCALE = (
    (0.267, 0.005, 0.329),
    (0.229, 0.322, 0.546),
    (0.128, 0.567, 0.551),
    (0.369, 0.789, 0.383),
    (0.993, 0.906, 0.144),
)
#: Values whose largest and smallest differ by this factor or more are drawn on a log scale.
DECADES = 100.0


def number_text(v: float) -> str:
    """A number written whole: its shortest round-trip digits in plain decimals from 1e-4 to 1e5,
    otherwise with an exponent (1e-05, 2.5e+07)."""
    if v == 0 or not math.isfinite(v):
        return format_number(v, "short")
    if 1e-4 <= abs(v) < 1e5:
        text = f"{v:.12f}".rstrip("0").rstrip(".")
        return text if float(text) == v else format_number(v, "short", digits=6)
    return format_number(v, "short", digits=4)


def _setting_text(name: str, v: Value) -> str:
    return number_text(float(v)) if name == "learning_rate" else f"{v}"


def _loss_text(v: float) -> str:
    return (
        format_number(v, "short", digits=3)
        if not 1e-4 <= abs(v) < 1e5
        else f"{float(f'{v:.3g}'):.10f}".rstrip("0").rstrip(".")
    )


def _is_log(values: Sequence[float], zeros: bool = False) -> bool:
    """Whether ``values`` span DECADES or more, all positive (or zero, when ``zeros`` may be drawn
    at the bottom of the scale: a heat map's cell prints its number anyway)."""
    positive = [v for v in values if v > 0]
    others = len(values) - len(positive)
    if others and (not zeros or any(v < 0 for v in values)):
        return False
    return len(positive) > 1 and max(positive) / min(positive) >= DECADES


class _Scale:
    """Maps a value to [0, 1] linearly or by its logarithm."""

    def __init__(self, values: Sequence[float], whole_decades: bool = False, zeros: bool = False) -> None:
        self.log = _is_log(values, zeros)
        f = math.log10 if self.log else float
        if self.log:
            values = [v for v in values if v > 0]  # a 0 (a loss that underflowed) sits at the bottom
        low, high = (min(map(f, values)), max(map(f, values))) if values else (0.0, 1.0)
        if self.log and whole_decades:  # a loss axis: every value between two labelled powers of ten
            low, high = math.floor(low + 1e-9), math.ceil(high - 1e-9)
        if high == low:  # one value: in the middle of a range that starts at zero when it is positive
            low, high = (0.0, 2 * high) if high > 0 else (low - 0.5, high + 0.5)
        self.low, self.high, self.f = low, high, f

    def __call__(self, v: float) -> float:
        if self.log and v <= 0:
            return 0.0
        return (self.f(v) - self.low) / (self.high - self.low)

    def ticks(self) -> list[float]:
        """Values to label: the powers of ten in range (log), or 1-2-5 steps (linear)."""
        if self.log:
            first, last = math.ceil(self.low - 1e-9), math.floor(self.high + 1e-9)
            every = max(1, math.ceil((last - first + 1) / 7))  # at most 7 labels: they must not touch
            return [10.0**e for e in range(first, last + 1, every)]
        step = _nice_step((self.high - self.low) / 5)
        first = math.ceil(self.low / step - 1e-9)
        return [k * step for k in range(first, math.floor(self.high / step + 1e-9) + 1)]


def _nice_step(raw: float) -> float:
    power = 10.0 ** math.floor(math.log10(raw))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= raw - 1e-12)


def _colour(t: float) -> str:
    t = min(1.0, max(0.0, t)) * (len(SCALE) - 1)
    i = min(int(t), len(SCALE) - 2)
    a, b = SCALE[i], SCALE[i + 1]
    rgb = [round(255 * (x + (y - x) * (t - i))) for x, y in zip(a, b, strict=True)]
    return "#" + "".join(f"{c:02x}" for c in rgb)


def _ink_on(fill: str) -> str:
    r, g, b = (int(fill[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return "#000000" if 0.2126 * r + 0.7152 * g + 0.0722 * b > 0.45 else "#ffffff"


def _text(
    x: float, y: float, s: str, size: float = 12, anchor: str = "middle", fill: str = INK, extra: str = ""
) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" {FONT} font-size="{size:g}" text-anchor="{anchor}" '
        f'fill="{fill}"{extra}>{escape(s, quote=False)}</text>'
    )


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str = INK, width: float = 1) -> str:
    return (
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}" '
        f'stroke-width="{width:g}"/>'
    )


def _width(s: str, size: float) -> float:
    return 0.62 * size * len(s)  # DejaVu Sans's digits and lower case average under this


def _label(name: str) -> str:
    return AXES[name][0]


def _cell_value(runs: Sequence[RunResult]) -> tuple[float | None, str]:
    """A cell's number (median final loss at x over its finished runs) and its note."""
    done = [r.final_loss_at_x for r in runs if r.status == "finished" and r.final_loss_at_x is not None]
    if not runs:
        return None, "not run"
    if not done:
        return None, "diverged" if any(r.status == "diverged" for r in runs) else "failed"
    note = "" if len(done) == len(runs) else f"{len(done)} of {len(runs)}"
    return statistics.median(done), note


def summary_svg(results: SweepResults) -> str:
    """The summary chart of ``results`` as an SVG document (see the module docstring)."""
    grid = results.grid
    swept = [name for name, _ in grid.swept]
    # The seeds are repeats of one experiment, not a setting to chart against, unless alone.
    over = [n for n in swept if n != "seed"] or swept[:1] or [name for name, _ in grid.axes[:1]]
    by_values: dict[tuple[Value, ...], list[RunResult]] = {}
    for r in results.runs:
        key = tuple(getattr(r.point.settings, n) for n in over)
        by_values.setdefault(key, []).append(r)
    values = dict(grid.axes)
    title = f"Final loss at x: {len(results.runs):,} of {format_count(len(grid.points), 'run')}"
    if results.stopped:
        title += " (the sweep was stopped)"
    if len(over) >= 2:
        return _heat_maps(results, over, values, by_values, title)
    return _curves(results, over, values, title)


def _document(width: float, height: float, body: list[str]) -> str:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" version="1.2" baseProfile="tiny" '
        f'width="{width:.0f}" height="{height:.0f}" viewBox="0 0 {width:.0f} {height:.0f}">'
    )
    return (
        "\n".join(
            [head, f'<rect width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>', *body, "</svg>"]
        )
        + "\n"
    )


# --------------------------------------------------------------------------- heat maps


def _heat_maps(
    results: SweepResults,
    over: list[str],
    values: dict[str, tuple[Value, ...]],
    by_values: dict[tuple[Value, ...], list[RunResult]],
    title: str,
) -> str:
    """One heat map (x: the first setting, y: the second) per value of the third, side by side."""
    xs, ys = values[over[0]], values[over[1]]
    panels = list(values[over[2]]) if len(over) > 2 else [None]
    cells = {k: _cell_value(v) for k, v in by_values.items()}
    numbers = [v for v, _ in cells.values() if v is not None]
    scale = _Scale(numbers, whole_decades=True, zeros=True)
    texts = [_loss_text(v) for v in numbers] + ["diverged", "not run"]
    cell_w = max(70.0, max(_width(t, 12) for t in texts) + 14)
    cell_h = 40.0
    y_label_w = max(_width(_setting_text(over[1], v), 12) for v in ys) + 40
    panel_w = y_label_w + cell_w * len(xs) + 20
    top, left = 70.0, 20.0
    legend_w = 110.0
    width = left + panel_w * len(panels) + legend_w
    height = top + cell_h * len(ys) + 60
    seeds = dict(results.grid.axes).get("seed", ())
    subtitle = f"median over {len(seeds)} seeds; " if len(seeds) > 1 and "seed" not in over else ""
    subtitle += "log colour scale" if scale.log else "linear colour scale"
    if scale.log and 0.0 in numbers:
        subtitle += "; 0 in the lowest colour"
    body = [_text(width / 2, 24, title, 16), _text(width / 2, 44, subtitle, 12, fill=MUTED)]
    for p_index, panel in enumerate(panels):
        x0 = left + p_index * panel_w + y_label_w
        if panel is not None:
            body.append(_text(x0 + cell_w * len(xs) / 2, top - 8, f"{_label(over[2])} {panel}", 12))
        for j, yv in enumerate(ys):
            y = top + cell_h * j
            body.append(_text(x0 - 8, y + cell_h / 2 + 4, _setting_text(over[1], yv), 12, "end"))
            for i, xv in enumerate(xs):
                key = (xv, yv) if panel is None else (xv, yv, panel)
                value, note = cells.get(key, (None, "not run"))
                body += _cell(x0 + cell_w * i, y, cell_w, cell_h, value, note, scale)
        for i, xv in enumerate(xs):
            body.append(
                _text(x0 + cell_w * (i + 0.5), top + cell_h * len(ys) + 18, _setting_text(over[0], xv), 12)
            )
        body.append(_text(x0 + cell_w * len(xs) / 2, top + cell_h * len(ys) + 42, _label(over[0]), 13))
        mid = top + cell_h * len(ys) / 2
        body.append(
            _text(
                x0 - y_label_w + 14,
                mid,
                _label(over[1]),
                13,
                extra=f' transform="rotate(-90 {x0 - y_label_w + 14:.1f} {mid:.1f})"',
            )
        )
    body += _colour_legend(width - legend_w + 20, top, cell_h * len(ys), scale, bool(numbers))
    return _document(width, height, body)


def _cell(x: float, y: float, w: float, h: float, value: float | None, note: str, scale: _Scale) -> list[str]:
    if value is None:
        fill, lines = "#eeeeee", [note]
    else:
        fill = _colour(scale(value))
        lines = [_loss_text(value)] + ([note] if note else [])
    ink = _ink_on(fill) if value is not None else MUTED
    out = [f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{fill}" stroke="#ffffff"/>']
    first = y + h / 2 + 4 - 7 * (len(lines) - 1)
    for k, line in enumerate(lines):
        out.append(_text(x + w / 2, first + 14 * k, line, 12 if k == 0 else 10, fill=ink))
    return out


def _colour_legend(x: float, top: float, height: float, scale: _Scale, any_value: bool) -> list[str]:
    if not any_value:
        return []
    out = []
    bands = 40
    for k in range(bands):
        y = top + height * k / bands
        fill = _colour(1 - (k + 0.5) / bands)
        out.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="14" height="{height / bands + 0.5:.1f}" fill="{fill}"/>'
        )
    for v in scale.ticks():
        t = scale(v)
        if -1e-9 <= t <= 1 + 1e-9:
            y = top + height * (1 - t)
            out.append(_line(x + 14, y, x + 18, y))
            out.append(_text(x + 21, y + 4, number_text(v), 11, "start"))
    return out


# --------------------------------------------------------------------------- curves


@dataclass(frozen=True)
class _Frame:
    """The curves' plot area and its two scales: a value's place in the picture."""

    left: float
    top: float
    width: float
    height: float
    x_scale: _Scale
    y_scale: _Scale
    one_x: bool

    def px(self, v: float) -> float:
        return self.left + self.width * (0.5 if self.one_x else 0.07 + 0.86 * self.x_scale(v))

    def py(self, v: float) -> float:
        # The top tenth stays free for the marks of the runs that diverged.
        return self.top + self.height * (1 - (0.03 + 0.87 * self.y_scale(v)))


def _curves(results: SweepResults, over: list[str], values: dict[str, tuple[Value, ...]], title: str) -> str:
    """The final loss at x over one setting's values; one curve per seed when seeds are swept too."""
    name = over[0] if over else None
    xs: tuple[Value, ...] = values[name] if name else (0,)
    seeds: list[Value | None] = [s for s in dict(results.grid.swept).get("seed", ()) if name != "seed"]
    seeds = seeds or [None]
    ys = [r.final_loss_at_x for r in results.runs if r.status == "finished" and r.final_loss_at_x is not None]
    width, height = 720.0, 460.0
    right = 150.0 if len(seeds) > 1 else 40.0
    frame = _Frame(
        90.0, 80.0, width - 90.0 - right, height - 150.0,
        _Scale([float(v) for v in xs]), _Scale(ys or [1.0], whole_decades=True), len(xs) == 1,
    )  # fmt: skip
    subtitle = ("log" if frame.y_scale.log else "linear") + " loss axis"
    body = [_text(width / 2, 24, title, 16), _text(width / 2, 44, subtitle, 12, fill=MUTED)]
    body += _curve_axes(frame, name, xs, height)
    diverged_at: set[float] = set()
    for k, seed in enumerate(seeds):
        colour = PALETTE[k % len(PALETTE)]
        runs = [r for r in results.runs if seed is None or r.point.settings.seed == seed]
        points = sorted(
            ((float(getattr(r.point.settings, name)) if name else 0.0, r) for r in runs), key=_first
        )
        line = [
            (frame.px(x), frame.py(r.final_loss_at_x))
            for x, r in points
            if r.status == "finished" and r.final_loss_at_x is not None
        ]
        if len(line) > 1:
            coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in line)
            body.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" stroke-width="2"/>')
        body += [f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}"/>' for x, y in line]
        for x, r in points:
            if r.status == "diverged":  # side by side when several seeds diverged at one value
                body += _cross(frame.px(x) + 7 * (k - (len(seeds) - 1) / 2), frame.top + 12, colour)
                diverged_at.add(x)
        if seed is not None:
            y, lx = frame.top + 10 + 20 * k, frame.left + frame.width
            body.append(_line(lx + 16, y, lx + 40, y, colour, 2))
            body.append(_text(lx + 46, y + 4, f"seed {seed}", 11, "start"))
    body += [_text(frame.px(x), frame.top + 32, "diverged", 10, fill=MUTED) for x in sorted(diverged_at)]
    return _document(width, height, body)


def _first(pair: tuple[float, RunResult]) -> float:
    return pair[0]


def _curve_axes(frame: _Frame, name: str | None, xs: tuple[Value, ...], height: float) -> list[str]:
    """The frame, the loss ticks with their grid lines, the setting's ticks and both axis titles."""
    left, top, pw, ph = frame.left, frame.top, frame.width, frame.height
    body = [f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="{INK}"/>']
    for v in frame.y_scale.ticks():
        y = frame.py(v)
        if top <= y <= top + ph:
            body.append(_line(left, y, left + pw, y, GRID))
            body.append(_text(left - 8, y + 4, number_text(v), 11, "end"))
    for v in xs:
        x = frame.px(float(v))
        body.append(_line(x, top + ph, x, top + ph + 5))
        body.append(_text(x, top + ph + 20, _setting_text(name, v) if name else "", 11))
    if name:
        axis = _label(name) + (" (log scale)" if frame.x_scale.log else "")
        body.append(_text(left + pw / 2, height - 20, axis, 13))
    turn = f' transform="rotate(-90 22 {top + ph / 2:.1f})"'
    body.append(_text(22, top + ph / 2, "final loss at x", 13, extra=turn))
    return body


def _cross(x: float, y: float, colour: str) -> list[str]:
    d = 5
    return [
        _line(x - d, y - d, x + d, y + d, colour, 2),
        _line(x - d, y + d, x + d, y - d, colour, 2),
    ]
