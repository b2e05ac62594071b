"""The training history of a session: one compact column per recorded quantity, and where each
run (each Start) in it began."""

from __future__ import annotations

import math
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from operator import le
from typing import Any

from backprop_lab.engine.session_format import _RECORD_FIELDS, EPOCH_COLUMN, HISTORY_COLUMNS
from backprop_lab.engine.training import StepRecord, TrainingSettings

_INF = math.inf

#: Most segments a history keeps (a session file holds each as two JSON containers, and the parser
#: refuses files with more than MAX_JSON_CONTAINERS); later Starts join the last segment.
MAX_SEGMENTS = 10_000


@dataclass(frozen=True)
class Segment:
    """One run of a history: the steps from ``first_step`` (1-based) up to the next segment's first
    step (or the history's end), trained with ``settings``. Each Start makes one."""

    first_step: int
    settings: TrainingSettings


def check_segments(segments: Sequence[Segment], n_steps: int) -> None:
    """ValueError naming the entry unless ``segments`` can mark a history of ``n_steps`` steps: the
    first (if any) starts at step 1, each later one after the one before, none after the last step,
    none at all for an empty history, at most MAX_SEGMENTS."""
    if len(segments) > MAX_SEGMENTS:
        raise ValueError(f"there are {len(segments):,} segments; at most {MAX_SEGMENTS:,} are allowed")
    if not n_steps and segments:
        raise ValueError("the history is empty, so it can have no segments")
    previous = 0
    for i, seg in enumerate(segments):
        step = seg.first_step
        if isinstance(step, bool) or not isinstance(step, int):
            raise ValueError(f"segments[{i}].first_step must be a whole number (got {step!r})")
        if i == 0 and step != 1:
            raise ValueError(f"segments[0].first_step is {step}; the first segment starts at step 1")
        if step <= previous:
            raise ValueError(f"segments[{i}].first_step is {step}, not after the one before ({previous})")
        if step > n_steps:
            raise ValueError(f"segments[{i}].first_step is {step}, after the history's last step ({n_steps})")
        previous = step


class History:
    """The per-step record of training, stored compactly: one ``array('d')`` per float column
    (:data:`HISTORY_COLUMNS`) and an ``array('q')`` of epochs, 48 bytes a step.

    Step numbers are not stored: entry i is step i + 1. Every value is finite, every loss and
    norm ≥ 0 and epochs are ≥ 1 and non-decreasing; :meth:`append` refuses anything else.

    The history also keeps where each run began (:class:`Segment`, :meth:`begin_segment`), so that
    copying, truncating (an undone run) and clearing keep the segments true with no extra
    bookkeeping by the caller. Equality compares the steps only.
    """

    __slots__ = ("_columns", "_epoch", "_loss", "_loss_at_x", "_marks", "_norm_a", "_norm_b", "_norm_c")

    def __init__(self) -> None:
        self._epoch: array[int] = array("q")
        # Segment starts in step order; the last may be one step past the end (a run begun, no
        # step taken yet): it shows in :attr:`segments` once its first step arrives.
        self._marks: list[Segment] = []
        self._set_columns({name: array("d") for name in HISTORY_COLUMNS})

    def _set_columns(self, columns: dict[str, array[float]]) -> None:
        # The columns by name, and each as an attribute of its own for append's fast path.
        self._columns = columns
        self._loss, self._loss_at_x, self._norm_a, self._norm_b, self._norm_c = (
            columns[name] for name in HISTORY_COLUMNS
        )

    # -- building
    def append(self, record: StepRecord) -> None:
        """Add one step; its ``step`` must be ``len(self) + 1`` (ValueError otherwise)."""
        epoch = self._epoch
        n = len(epoch)
        e = record.epoch
        loss, at_x = record.batch_loss, record.loss_at_x
        na, nb, nc = record.grad_norm_A, record.grad_norm_B, record.grad_norm_C
        # The trainer's records are plain floats: one chained comparison per value checks finite
        # and ≥ 0 at once (NaN fails every comparison), with no per-value call (this runs once a
        # step, and at batch size 1 a step is a few microseconds).
        if (
            record.step == n + 1
            and type(e) is int
            and e >= (epoch[-1] if n else 1)
            and type(loss) is float
            and type(at_x) is float
            and type(na) is float
            and type(nb) is float
            and type(nc) is float
            and 0.0 <= loss < _INF
            and 0.0 <= at_x < _INF
            and 0.0 <= na < _INF
            and 0.0 <= nb < _INF
            and 0.0 <= nc < _INF
        ):
            self._loss.append(loss)
            self._loss_at_x.append(at_x)
            self._norm_a.append(na)
            self._norm_b.append(nb)
            self._norm_c.append(nc)
            epoch.append(e)
            return
        self._append_checked(record)

    def _append_checked(self, record: StepRecord) -> None:
        """:meth:`append` for anything but plain finite floats: each value checked, naming the bad one."""
        n = len(self._epoch)
        if record.step != n + 1:
            raise ValueError(f"step {record.step} cannot follow step {n} of the history")
        last_epoch = self._epoch[-1] if n else 1
        if isinstance(record.epoch, bool) or not isinstance(record.epoch, int) or record.epoch < last_epoch:
            raise ValueError(f"epoch {record.epoch!r} of step {record.step} cannot follow epoch {last_epoch}")
        values = [getattr(record, name) for name in _RECORD_FIELDS]
        for name, v in zip(HISTORY_COLUMNS, values, strict=True):
            if not isinstance(v, Real) or not math.isfinite(v) or v < 0:
                raise ValueError(f"{name} of step {record.step} must be a finite number ≥ 0 (got {v!r})")
        for column, v in zip(self._columns.values(), values, strict=True):
            column.append(v)
        self._epoch.append(record.epoch)

    def extend(self, records: Iterable[StepRecord]) -> None:
        for record in records:
            self.append(record)

    def extend_from(self, other: History) -> None:
        """Append ``other``'s steps after this history's (array concatenation, no per-step Python).

        ``other`` was validated when it was built (:meth:`from_columns`); only the seam is checked:
        its first epoch may not come before this history's last (ValueError). The window's worker
        builds each batch of records this way off the GUI thread, so taking it in costs microseconds.
        """
        if other._epoch and self._epoch and other._epoch[0] < self._epoch[-1]:
            raise ValueError(f"epoch {other._epoch[0]} cannot follow epoch {self._epoch[-1]}")
        for name, column in self._columns.items():
            column.extend(other._columns[name])
        self._epoch.extend(other._epoch)

    @classmethod
    def from_columns(cls, columns: Mapping[str, Iterable[float]], epoch: Iterable[int]) -> History:
        """A history from whole columns (the loader's and the benchmark's fast path).

        ``array('d')`` columns and an ``array('q')`` of epochs are taken over as they are (not
        copied: do not modify them afterwards); anything else iterable is copied into arrays.

        Raises ValueError naming the column and entry if the columns differ in length or hold a
        non-finite or negative value, or the epochs are not ≥ 1 and non-decreasing.
        """
        h = cls()
        h._epoch = epoch if isinstance(epoch, array) and epoch.typecode == "q" else array("q", epoch)
        n = len(h._epoch)
        taken: dict[str, array[float]] = {}
        for name in HISTORY_COLUMNS:
            col = columns[name]
            col = col if isinstance(col, array) and col.typecode == "d" else array("d", col)
            if len(col) != n:
                raise ValueError(f"history.{name} has {len(col)} entries; history.epoch has {n}")
            if not all(map(math.isfinite, col)):
                i = next(i for i, v in enumerate(col) if not math.isfinite(v))
                raise ValueError(f"history.{name}[{i}] is not finite: {col[i]!r}")
            if n and min(col) < 0:
                i = next(i for i, v in enumerate(col) if v < 0)
                raise ValueError(f"history.{name}[{i}] is negative: {col[i]!r}")
            taken[name] = col
        h._set_columns(taken)
        if n:
            if min(h._epoch) < 1:
                i = next(i for i, v in enumerate(h._epoch) if v < 1)
                raise ValueError(f"history.epoch[{i}] is {h._epoch[i]}; epochs start at 1")
            if not all(map(le, h._epoch, h._epoch[1:])):
                i = next(i for i in range(1, n) if h._epoch[i] < h._epoch[i - 1])
                raise ValueError(
                    f"history.epoch[{i}] is {h._epoch[i]}, less than the epoch before it ({h._epoch[i - 1]})"
                )
        return h

    # -- reading
    def __len__(self) -> int:
        return len(self._epoch)

    def __bool__(self) -> bool:
        return len(self._epoch) > 0

    def column(self, name: str) -> array[Any]:
        """The live column ``name`` (one of HISTORY_COLUMNS or "epoch"): read it, do not modify it.

        An ``array`` supports the buffer protocol, so a plot can view it without copying.
        """
        if name == EPOCH_COLUMN:
            return self._epoch
        try:
            return self._columns[name]
        except KeyError:
            raise KeyError(
                f"no history column {name!r}; the columns are {(*HISTORY_COLUMNS, 'epoch')}"
            ) from None

    @property
    def last_step(self) -> int:
        """Number of the last step (0 for an empty history)."""
        return len(self._epoch)

    @property
    def last_epoch(self) -> int:
        """Epoch of the last step (0 for an empty history)."""
        return self._epoch[-1] if self._epoch else 0

    def __getitem__(self, index: int) -> StepRecord:
        n = len(self._epoch)
        i = index + n if index < 0 else index
        if not 0 <= i < n:
            raise IndexError(f"history index {index} out of range for {n} steps")
        c = self._columns
        return StepRecord(i + 1, self._epoch[i], *(c[name][i] for name in HISTORY_COLUMNS))

    def records(self) -> Iterator[StepRecord]:
        c = [self._columns[name] for name in HISTORY_COLUMNS]
        for i, values in enumerate(zip(self._epoch, *c, strict=True)):
            yield StepRecord(i + 1, *values)

    @property
    def segments(self) -> list[Segment]:
        """The runs the history's steps came from, oldest first: the marks :meth:`begin_segment`
        and :meth:`set_segments` made that a step has reached (none for a history filled without
        them; :attr:`engine.session.Session.segments` then counts its steps as one run)."""
        n = len(self._epoch)
        return [seg for seg in self._marks if seg.first_step <= n]

    def begin_segment(self, settings: TrainingSettings) -> None:
        """Mark the next step (``len(self) + 1``) as the first of a run trained with ``settings``.

        A mark left there by a run that took no step is replaced. Past MAX_SEGMENTS the run joins
        the segment before it (it keeps that segment's settings)."""
        first = len(self._epoch) + 1
        self._marks = [seg for seg in self._marks if seg.first_step < first]
        if len(self._marks) < MAX_SEGMENTS:
            self._marks.append(Segment(first, settings))

    def set_segments(self, segments: Sequence[Segment]) -> None:
        """Replace the segment marks (the loader's way in); ValueError as :func:`check_segments`."""
        check_segments(segments, len(self._epoch))
        self._marks = list(segments)

    def slice(self, start: int, stop: int | None = None) -> History:
        """A new history of entries ``start`` to ``stop`` (0-based, ``stop`` excluded, as a list
        slice): its entry 0 is this history's step ``start + 1``. Copies the values; no segments."""
        h = History()
        h._set_columns({name: col[start:stop] for name, col in self._columns.items()})
        h._epoch = self._epoch[start:stop]
        return h

    @property
    def nbytes(self) -> int:
        """Bytes the values occupy (arrays over-allocate a little beyond this while growing)."""
        return len(self._epoch) * (self._epoch.itemsize + 8 * len(HISTORY_COLUMNS))

    # -- editing
    def copy(self) -> History:
        h = History()
        h._set_columns({name: array("d", col) for name, col in self._columns.items()})
        h._epoch = array("q", self._epoch)
        h._marks = list(self._marks)
        return h

    def truncate(self, n: int) -> None:
        """Keep the first ``n`` steps (``n`` ≥ 0; larger than the history is a no-op) and the
        segments that begin within them."""
        if n < 0:
            raise ValueError(f"cannot truncate the history to {n} steps")
        if n < len(self._epoch):
            self._marks = [seg for seg in self._marks if seg.first_step <= n]
        for col in self._columns.values():
            del col[n:]
        del self._epoch[n:]

    def clear(self) -> None:
        self.truncate(0)

    def __eq__(self, other: object) -> bool:
        # Bytes, not floats: equal means bit-identical (-0.0 is not 0.0 here). The segments are
        # the session's business (Session compares them), so that histories built from columns
        # compare by their steps alone.
        if not isinstance(other, History):
            return NotImplemented
        return self._epoch == other._epoch and all(
            self._columns[n].tobytes() == other._columns[n].tobytes() for n in HISTORY_COLUMNS
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"History({len(self)} steps, last epoch {self.last_epoch})"
