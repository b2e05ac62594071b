"""The other runs on the live plot: the chosen curve of every visible run besides the session's own.

The session's history streams into the plot panel's own buffers (gui.plot_panel); the runs drawn
here hold still (a compared file, a sweep's result) or are slices of that history (its segments,
each drawn from its own start), so their curves are computed when something about them changes —
the runs shown, the curve, the x axis, the smoothing — not at every live redraw. The one exception
is a visible segment still being trained (the last one during a run): it follows the history at
the panel's paced redraws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg

from backprop_lab.engine.formatting import format_number
from backprop_lab.engine.session_history import History
from backprop_lab.gui.plot_data import LiveHistory, XScale, ema_extend_rows, nearest_row, x_before
from backprop_lab.gui.runs import RunEntry, spans

RAW_ALPHA = 70  # as the session's own raw curves (gui.plot_panel)


@dataclass
class Series:
    """One run's chosen curve as drawn: x, raw and smoothed values, and its steps' epochs."""

    entry: RunEntry
    x: np.ndarray
    raw: np.ndarray
    smooth: np.ndarray
    epochs: np.ndarray

    def nearest(self, x: float) -> int:
        """The row whose x is nearest ``x``."""
        return nearest_row(self.x, x)


def compared_series(entry: RunEntry, curve: str, mode: str, weight: float) -> Series | None:
    """The curve of a compared run (its own history and settings); None when it has no steps."""
    history: History | None = entry.history
    if history is None or not len(history):
        return None
    raw = np.frombuffer(history.column(curve), dtype=np.float64).copy()
    epochs = np.frombuffer(history.column("epoch"), dtype=np.int64).copy()
    x = XScale(mode).extend(epochs, spans(entry.segments, entry.settings))
    return Series(entry, x, raw, _smooth(raw, weight), epochs)


def segment_series(entry: RunEntry, live: LiveHistory, curve: str, weight: float) -> Series | None:
    """A segment of the session's history as drawn (``live``), from its own start: step 1, epoch 0,
    no samples seen."""
    start, stop = entry.rows
    stop = live.n if stop is None else min(stop, live.n)
    if stop <= start:
        return None
    x, all_epochs = live.x.view, live.epochs.view
    base = x_before(live.scale.mode, x, start, int(all_epochs[start]))
    raw = live.raw[curve].view[start:stop].copy()
    epochs = all_epochs[start:stop] - all_epochs[start] + 1
    return Series(entry, x[start:stop] - base, raw, _smooth(raw, weight), epochs)


def _smooth(raw: np.ndarray, weight: float) -> np.ndarray:
    smoothed, _, _ = ema_extend_rows(raw[None, :], weight, [0.0], 0)
    return np.asarray(smoothed[0])


class OtherRuns:
    """The curves of the runs besides the session's own on ``plot_item``: two items a run (the
    smoothed curve, and the raw one faint behind it when smoothing), made once per run and kept."""

    def __init__(self, plot_item: pg.PlotItem) -> None:
        self._plot = plot_item
        self._items: dict[str, tuple[pg.PlotDataItem, pg.PlotDataItem]] = {}
        self.series: list[Series] = []
        #: Compared runs' curves by (run, curve, x axis, smoothing): they never change, so a change
        #: of what is shown that comes back to one (a tick, a curve) costs nothing.
        self._cache: dict[tuple[str, str, str, float], Series] = {}
        self._drawn: dict[str, tuple[Series, bool]] = {}  # what each run's items show (and raw too)

    def update(
        self, entries: list[RunEntry], curve: str, mode: str, weight: float, live: LiveHistory
    ) -> None:
        """Draw ``curve`` of ``entries`` (segments from ``live``, the session's history as drawn)."""
        series: list[Series] = []
        for e in entries:
            if e.kind == "segment":
                got = segment_series(e, live, curve, weight)
            else:
                key = (e.key, curve, mode, weight)
                got = self._cache.get(key) or compared_series(e, curve, mode, weight)
                if got is not None:
                    self._cache[key] = got
            if got is not None:
                series.append(got)
        keys = {e.key for e in entries}
        self._cache = {k: v for k, v in self._cache.items() if k[0] in keys}  # a removed run's go
        self.show(series, weight > 0)

    def items(self, key: str) -> tuple[pg.PlotDataItem, pg.PlotDataItem]:
        """(raw, smoothed) items of the run ``key``."""
        return self._items[key]

    def show(self, series: list[Series], smoothing: bool) -> None:
        """Draw exactly ``series`` (hide the other runs' items; forget the removed ones')."""
        self.series = series
        wanted = {s.entry.key for s in series}
        for key in [k for k in self._items if k not in wanted]:
            for item in self._items.pop(key):
                self._plot.removeItem(item)
            self._drawn.pop(key, None)
        for s in series:
            before = self._drawn.get(s.entry.key)
            if before is not None and before[0] is s and before[1] == smoothing:
                continue  # the same curve (a compared run's, kept): a live redraw leaves it be
            self._drawn[s.entry.key] = (s, smoothing)
            raw, smooth = self._item_pair(s.entry)
            smooth.setData(s.x, s.smooth, skipFiniteCheck=True)
            raw.setData(s.x, s.raw, skipFiniteCheck=True) if smoothing else raw.setData([], [])
            raw.setVisible(smoothing)
            smooth.setVisible(True)

    def _item_pair(self, entry: RunEntry) -> tuple[pg.PlotDataItem, pg.PlotDataItem]:
        pair = self._items.get(entry.key)
        colour = pg.mkColor(entry.colour)
        if pair is None:
            faint = pg.mkColor(entry.colour)
            faint.setAlpha(RAW_ALPHA)
            pair = (
                self._plot.plot(pen=pg.mkPen(faint, width=1)),
                self._plot.plot(pen=pg.mkPen(colour, width=1)),
            )
            for c in pair:
                c.setDownsampling(auto=True, method="peak")
                c.setClipToView(True)
                c.opts["autoDownsampleFactor"] = 1.5
            self._items[entry.key] = pair
        return pair

    def clear(self) -> None:
        self.show([], False)


def runs_readout(series: list[Series], x: float, y: float | None, log: bool, label: str) -> str:
    """The hover text over several runs: the run whose smoothed curve passes nearest (x, y) first,
    named, with its step (and epoch) nearest x and its raw value of the curve ``label``; then every
    other run's raw value there. ``y`` in view units (log10 when ``log``); None keeps their order."""
    found = []
    for s in series:
        i = s.nearest(x)
        y_view = float(s.smooth[i])
        if log:
            y_view = math.log10(y_view) if y_view > 0 else -math.inf
        found.append((abs(y_view - y) if y is not None else 0.0, s, i))
    if not found:
        return ""
    found.sort(key=lambda f: f[0])
    _, first, i = found[0]
    parts = [
        f"{first.entry.name}: step {i + 1:,} (epoch {int(first.epochs[i])})",
        f"{label} {format_number(float(first.raw[i]), 'short')}",
    ]
    parts += [f"{s.entry.name} {format_number(float(s.raw[j]), 'short')}" for _, s, j in found[1:]]
    return " · ".join(parts)


def extent(
    own: tuple[float, float, float, float] | None, series: list[Series], log: bool
) -> tuple[float, float, float, float] | None:
    """(x first, x last, y low, y high) in view units of the session's curves ``own`` (x first and
    last, y low and high as values, positive ones only when ``log``) and the other runs' ``series``;
    None when nothing is drawn. A linear axis starts at 0 (or lower)."""
    x0, x1, lo, hi = own if own is not None else (math.inf, -math.inf, math.inf, -math.inf)
    for s in series:
        values = s.raw[s.raw > 0] if log else s.raw
        x0, x1 = min(x0, float(s.x[0])), max(x1, float(s.x[-1]))
        if len(values):
            lo, hi = min(lo, float(values.min())), max(hi, float(values.max()))
    if not all(math.isfinite(v) for v in (x0, x1, lo, hi)):
        return None
    if log:
        lo, hi = math.log10(lo), math.log10(max(hi, lo))
    else:
        lo = min(0.0, lo)
    return x0, x1, lo, (hi if hi > lo else lo + 1.0)
