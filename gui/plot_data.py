"""The live plot's data: numpy buffers that grow by doubling, and TensorBoard's debiased moving average.

Both are plain numpy (no Qt): the plot panel appends a batch of history rows to them at a time and
smooths all its curves in one set of numpy calls.
"""

from __future__ import annotations

import math

import numpy as np


class GrowingBuffer:
    """A float64 array that doubles its capacity when full (amortised O(1) appends)."""

    def __init__(self, capacity: int = 1024) -> None:
        self._data = np.empty(capacity, dtype=np.float64)
        self._n = 0

    def __len__(self) -> int:
        return self._n

    @property
    def capacity(self) -> int:
        return len(self._data)

    def extend(self, values: np.ndarray) -> None:
        m = len(values)
        need = self._n + m
        if need > len(self._data):
            cap = len(self._data)
            while cap < need:
                cap *= 2
            grown = np.empty(cap, dtype=np.float64)
            grown[: self._n] = self._data[: self._n]
            self._data = grown
        self._data[self._n : need] = values
        self._n = need

    def clear(self) -> None:
        self._n = 0

    @property
    def view(self) -> np.ndarray:
        """The filled part (a view: valid until the next extend)."""
        return self._data[: self._n]


def ema_extend(values: np.ndarray, weight: float, last: float, count: int) -> tuple[np.ndarray, float, int]:
    """Continue TensorBoard's debiased EMA over ``values``.

    ``last`` is the biased accumulator and ``count`` how many values it has seen; the smoothed
    value after n values is ``last_n / (1 − weight**n)`` with ``last_n = weight·last_{n−1} +
    (1 − weight)·v_n`` and ``last_0 = 0``. Returns (smoothed values, new last, new count).
    """
    out, lasts, count = ema_extend_rows(np.asarray(values, dtype=np.float64)[None, :], weight, [last], count)
    return out[0], float(lasts[0]), count


def ema_extend_rows(
    values: np.ndarray, weight: float, lasts: list[float] | np.ndarray, count: int
) -> tuple[np.ndarray, np.ndarray, int]:
    """:func:`ema_extend` for several series at once: ``values`` is c×n (one series a row, all with
    the same ``count`` seen so far), ``lasts`` their c accumulators. Returns (c×n smoothed, c new
    accumulators, new count).

    Vectorised in blocks short enough that weight**(−block) stays far from overflow (one set of numpy
    calls for all the rows: the live plot smooths five curves per batch); a row whose block still
    overflows (values near 1e300) falls back to a loop.
    """
    values = np.asarray(values, dtype=np.float64)
    last = np.array(lasts, dtype=np.float64)
    c, n = values.shape
    if weight <= 0.0 or n == 0:
        return values.copy(), (values[:, -1].copy() if n else last), count + n
    out = np.empty((c, n), dtype=np.float64)
    block = int(max(1, min(8192, 280 * math.log(10) / -math.log(weight))))
    one_minus = 1.0 - weight
    start = 0
    while start < n:
        v = values[:, start : start + block]
        m = v.shape[1]
        k = np.arange(m, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            powers = weight ** (k + 1.0)  # weight^(k+1)
            acc = np.cumsum(v * weight ** (-k), axis=1)
            block_lasts = powers * last[:, None] + one_minus * acc * (powers / weight)
        bad = ~np.isfinite(block_lasts[:, -1]) | ~np.isfinite(block_lasts).all(axis=1)
        for r in np.nonzero(bad)[0]:
            acc_last = float(last[r])
            for i, x in enumerate(v[r].tolist()):
                acc_last = weight * acc_last + one_minus * x
                block_lasts[r, i] = acc_last
        debias = 1.0 - weight ** (count + 1.0 + k)
        out[:, start : start + m] = block_lasts / debias
        last = block_lasts[:, -1].copy()
        count += m
        start += m
    return out, last, count


#: The plot's x axes: (id, axis label). A step is one update; an epoch is one pass over the training
#: data (fractional within it); samples seen counts the inputs whose gradients the updates averaged.
X_MODES: tuple[tuple[str, str], ...] = (("step", "step"), ("epoch", "epoch"), ("samples", "samples seen"))


class XScale:
    """The x of each history row in one of :data:`X_MODES`, extended a batch of rows at a time.

    ``spans`` are the settings in force from a row on: ``(first_row, n_samples, batch_size)``
    sorted by ``first_row`` (0-based; the first starts at 0). Position j (1-based) in an epoch of
    ``spe = ⌈n/b⌉`` steps has x ``epoch − 1 + j/spe`` and averaged ``min(b, n − (j − 1)·b)`` samples
    (the last, partial batch is smaller). A row starts a new epoch when its epoch number changes or a
    span starts at it (a continued run always starts a fresh epoch: see engine.training).
    """

    def __init__(self, mode: str) -> None:
        if mode not in dict(X_MODES):
            raise ValueError(f"unknown x axis {mode!r}; the axes are {[m for m, _ in X_MODES]}")
        self.mode = mode
        self._rows = 0  # rows seen
        self._epoch = 0  # the last row's epoch, its position in it, and the samples seen up to it
        self._pos = 0
        self._samples = 0.0

    def extend(self, epochs: np.ndarray, spans: list[tuple[int, int, int]]) -> np.ndarray:
        """The x of the next ``len(epochs)`` rows (their epoch numbers, in order)."""
        m = len(epochs)
        first = self._rows
        self._rows += m
        if self.mode == "step" or m == 0:
            return np.arange(first + 1, first + m + 1, dtype=np.float64)
        epochs = np.asarray(epochs, dtype=np.int64)
        starts = np.array([s[0] for s in spans] or [0], dtype=np.int64)
        rows = np.arange(first, first + m, dtype=np.int64)
        which = np.maximum(np.searchsorted(starts, rows, side="right") - 1, 0)
        n = np.array([s[1] for s in spans] or [1], dtype=np.float64)[which]
        b = np.array([s[2] for s in spans] or [1], dtype=np.float64)[which]
        prev = np.concatenate(([self._epoch], epochs[:-1]))
        new_epoch = (epochs != prev) | np.isin(rows, starts)
        idx = np.arange(m)
        group = np.maximum.accumulate(np.where(new_epoch, idx, -1))
        pos = np.where(group >= 0, idx - group + 1, idx + 1 + self._pos).astype(np.float64)
        if self.mode == "epoch":
            x = (epochs - 1) + pos / np.ceil(n / b)
        else:
            x = self._samples + np.cumsum(np.minimum(b, n - (pos - 1) * b))
            self._samples = float(x[-1])
        self._epoch, self._pos = int(epochs[-1]), int(pos[-1])
        return x


def nearest_row(x: np.ndarray, value: float) -> int:
    """The index of the element of ``x`` (sorted ascending, not empty) nearest ``value``."""
    i = int(np.searchsorted(x, value))
    if i <= 0:
        return 0
    if i >= len(x):
        return len(x) - 1
    return i if x[i] - value < value - x[i - 1] else i - 1


def x_before(mode: str, x: np.ndarray, row: int, epoch: int) -> float:
    """The x just before ``row`` (``x`` the rows' x in ``mode``, ``epoch`` that row's epoch): the
    origin of a run that starts at ``row`` (a segment drawn from its own start)."""
    if mode == "epoch":
        return float(epoch - 1)
    return float(x[row - 1]) if row > 0 else 0.0


class LiveHistory:
    """The session's history as the live plot draws it, taken in a batch of rows at a time: each
    row's x (in the chosen :data:`X_MODES` mode) and epoch, every curve's raw and smoothed values,
    each curve's running bounds, and the steps that begin an epoch.

    ``names`` are the History columns drawn. All plain numpy; the plot panel (gui.plot_panel)
    decides when to take rows in and draws from :attr:`x`, :attr:`raw` and :attr:`smooth`.
    """

    def __init__(self, names: tuple[str, ...], mode: str = "step") -> None:
        self.names = names
        self.x = GrowingBuffer()
        self.epochs = GrowingBuffer()
        self.raw = {name: GrowingBuffer() for name in names}
        self.smooth = {name: GrowingBuffer() for name in names}
        self.clear(mode)

    def clear(self, mode: str) -> None:
        """Forget every row; x in ``mode`` from now on."""
        self.n = 0
        self.scale = XScale(mode)
        for buffer in (self.x, self.epochs, *self.raw.values(), *self.smooth.values()):
            buffer.clear()
        c = len(self.names)
        self._ema_last, self._ema_count = np.zeros(c), 0  # the EMA's accumulators, steps seen
        self.ymin, self.ymax, self.ymin_positive = (
            np.full(c, math.inf),
            np.full(c, -math.inf),
            np.full(c, math.inf),
        )
        self.epoch_starts: list[int] = []  # step numbers that begin a new epoch (after the first)
        self._last_epoch = 0

    def extend(
        self,
        columns: dict[str, np.ndarray],
        epochs: np.ndarray,
        spans: list[tuple[int, int, int]],
        weight: float,
    ) -> None:
        """Take in the next rows: each curve's values (``columns`` by name), their epochs, the
        settings' ``spans`` (see :class:`XScale`) and the smoothing weight."""
        start = self.n
        self.x.extend(self.scale.extend(epochs, spans))
        self.epochs.extend(epochs)
        # All the curves as one c×m block: one set of numpy calls per batch instead of one per curve.
        new = np.vstack([columns[name] for name in self.names])
        for name, row in zip(self.names, new, strict=True):
            self.raw[name].extend(row)
        # Running bounds per curve for the followed view (a smoothed value lies between raw ones);
        # fmax/fmin skip NaN the way the builtin max/min of the running bound does.
        self.ymax = np.fmax(self.ymax, np.fmax.reduce(new, axis=1))
        self.ymin = np.fmin(self.ymin, np.fmin.reduce(new, axis=1))
        self.ymin_positive = np.fmin(self.ymin_positive, np.where(new > 0, new, np.inf).min(axis=1))
        smoothed, self._ema_last, self._ema_count = ema_extend_rows(
            new, weight, self._ema_last, self._ema_count
        )
        for name, row in zip(self.names, smoothed, strict=True):
            self.smooth[name].extend(row)
        prev = np.concatenate(([self._last_epoch if start else epochs[0]], epochs[:-1]))
        for i in np.nonzero(epochs != prev)[0]:
            self.epoch_starts.append(start + int(i) + 1)
        self._last_epoch = int(epochs[-1])
        self.n = start + len(epochs)

    def extent(self, rows: list[int], log: bool) -> tuple[float, float, float, float] | None:
        """(x first, x last, least, largest value) of the curves ``rows`` (indices into ``names``):
        the least positive value when ``log``. None with no rows or no curves."""
        if not self.n or not rows:
            return None
        low = (self.ymin_positive if log else self.ymin)[rows].min()
        return float(self.x.view[0]), float(self.x.view[-1]), float(low), float(self.ymax[rows].max())

    def rescale(self, mode: str, spans: list[tuple[int, int, int]]) -> None:
        """Every row's x again, in ``mode``."""
        self.scale = XScale(mode)
        x = self.scale.extend(self.epochs.view.astype(np.int64), spans)
        self.x.clear()
        self.x.extend(x)

    def resmooth(self, weight: float) -> None:
        """Every curve smoothed again with ``weight``."""
        raw = np.vstack([self.raw[name].view for name in self.names])
        smoothed, self._ema_last, self._ema_count = ema_extend_rows(raw, weight, np.zeros(len(self.names)), 0)
        for name, row in zip(self.names, smoothed, strict=True):
            self.smooth[name].clear()
            self.smooth[name].extend(row)
