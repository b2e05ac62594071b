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
