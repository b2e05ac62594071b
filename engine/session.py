"""Session files: the model, where its training started, the settings and the whole history.

A session file is UTF-8 JSON (the format is described for users in docs/session-format.md)::

    {
     "format": "backprop-lab-session",   # identifies the file
     "version": 1,                        # FORMAT_VERSION; older versions are migrated on load
     "app_version": "0.1.0",              # the Backprop Lab that wrote it
     "created": "2026-11-26T17:30:59Z",   # ISO 8601, UTC
     "modified": "2026-11-26T17:42:03Z",
     "name": "…", "notes": "…",
     "model":   {"K": 3, "x": [...], "A": [[...], ...], "B": ..., "C": ...},   # current values
     "initial": {same shape},                                               # where the history began
     "training": {"learning_rate": 0.01, "batch_size": 10, "n_samples": 1000, "epochs": 1, "seed": 0},
     "divergence": null | {"step": 12, "epoch": 1, "reason": "…"},          # if the last run diverged
     "history": {"loss": [...], "loss_at_x": [...], "grad_norm_A": [...], "grad_norm_B": [...],
                 "grad_norm_C": [...], "epoch": [...]}                      # one entry per step
    }

Row vectors throughout (see :mod:`engine.model`): x has K entries, A, B and C are lists of K rows.
A history column is either a plain JSON array (the default up to :data:`INLINE_HISTORY_STEPS`
steps; numbers written with ``repr`` so they read back bit for bit) or, for long histories,
``{"encoding": "base64-float64-le", "data": "…"}`` (``"base64-int64-le"`` for ``epoch``): the
column's IEEE 754 doubles (int64s) in little-endian byte order, base64-encoded. Both are accepted
on load whatever the length.

Loading refuses anything it cannot vouch for with one :class:`SessionError` whose message names
the file, the field and the entry; it never modifies the file. Saving is atomic
(:mod:`engine.atomic`). Standard library only.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import random
import stat
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from numbers import Real
from operator import le
from typing import Any, BinaryIO

from backprop_lab.engine import __version__, json_pieces
from backprop_lab.engine.atomic import atomic_write_bytes
from backprop_lab.engine.model import (
    MATRIX_NAMES,
    MAX_K,
    Matrix,
    Model,
    quote,
    validate_matrix,
)
from backprop_lab.engine.training import Divergence, StepRecord, Trainer, TrainingSettings

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "HISTORY_COLUMNS",
    "INLINE_HISTORY_STEPS",
    "MAX_FILE_BYTES",
    "MAX_HISTORY_STEPS",
    "MIGRATIONS",
    "Expected",
    "History",
    "Model",
    "Session",
    "SessionError",
    "dumps_session",
    "load_session",
    "load_session_with_expected",
    "loads_session",
    "save_session",
    "session_from_dict",
    "session_to_dict",
]

FORMAT = "backprop-lab-session"
#: The version this module writes; it reads this one and every older one (via MIGRATIONS).
FORMAT_VERSION = 1

#: Files larger than this are refused before they are read (512 MiB). A 1,000,000-step history
#: takes about 64 MB in base64 columns, so this leaves room for :data:`MAX_HISTORY_STEPS` steps.
MAX_FILE_BYTES = 512 * 1024 * 1024
MAX_JSON_CONTAINERS = 100_000
#: Longest history a session file may hold (about 320 MB of base64 columns).
MAX_HISTORY_STEPS = 5_000_000
#: Histories up to this many steps are written as readable JSON arrays, longer ones as base64.
#: Measured (tests/bench/bench_session.py, 1,000,000 steps): JSON arrays 105 MB, ~3-4 s to save and
#: ~1.5 s to load; base64 64 MB, ~0.5 s each way.
INLINE_HISTORY_STEPS = 100_000
#: Longest string accepted in the short metadata fields (app_version, created, modified).
_MAX_META_CHARS = 100
#: Longest ``notes`` accepted on load (characters); a report renders every one of them.
MAX_NOTES_CHARS = 1_000_000
#: Longest ``divergence.reason`` accepted on load (characters).
MAX_REASON_CHARS = 10_000

#: Float columns of the history, in StepRecord order; the int column "epoch" comes with them.
HISTORY_COLUMNS = ("loss", "loss_at_x", "grad_norm_A", "grad_norm_B", "grad_norm_C")
EPOCH_COLUMN = "epoch"
_RECORD_FIELDS = ("batch_loss", "loss_at_x", "grad_norm_A", "grad_norm_B", "grad_norm_C")
FLOAT_ENCODING = "base64-float64-le"
INT_ENCODING = "base64-int64-le"
_TRAINING_FIELDS = ("learning_rate", "batch_size", "n_samples", "epochs", "seed")


class SessionError(ValueError):
    """A session cannot be read (or written): ``str()`` is one line naming file, field and entry.

    ``source`` is the file (or ``"<memory>"``), ``problem`` the rest of the message.
    """

    def __init__(self, problem: str, source: str | None = None) -> None:
        self.problem = _one_line(problem)
        self.source = source
        super().__init__(str(self))

    def __str__(self) -> str:
        return f"{self.source}: {self.problem}" if self.source else self.problem

    def with_source(self, source: str) -> SessionError:
        return self if self.source else SessionError(self.problem, source)


def _one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


#: An error message quotes at most this many characters of the value it refuses.
QUOTE_CHARS = 80


def _short(value: object) -> str:
    """A value for an error message: its repr, cut to QUOTE_CHARS characters with an ellipsis (a
    hostile file may hold megabytes in one string; only its first characters are ever copied)."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return f"a list of {len(value)}"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return "an integer of more than 77 digits"
    return _one_line(quote(value, QUOTE_CHARS), QUOTE_CHARS + 3)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- history


class History:
    """The per-step record of training, stored compactly: one ``array('d')`` per float column
    (:data:`HISTORY_COLUMNS`) and an ``array('q')`` of epochs, 48 bytes a step.

    Step numbers are not stored: entry i is step i + 1. Every value is finite, every loss and
    norm ≥ 0 and epochs are ≥ 1 and non-decreasing; :meth:`append` refuses anything else.
    """

    __slots__ = ("_columns", "_epoch")

    def __init__(self) -> None:
        self._columns: dict[str, array[float]] = {name: array("d") for name in HISTORY_COLUMNS}
        self._epoch: array[int] = array("q")

    # -- building
    def append(self, record: StepRecord) -> None:
        """Add one step; its ``step`` must be ``len(self) + 1`` (ValueError otherwise)."""
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
            h._columns[name] = col
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
    def nbytes(self) -> int:
        """Bytes the values occupy (arrays over-allocate a little beyond this while growing)."""
        return len(self._epoch) * (self._epoch.itemsize + 8 * len(HISTORY_COLUMNS))

    # -- editing
    def copy(self) -> History:
        h = History()
        h._columns = {name: array("d", col) for name, col in self._columns.items()}
        h._epoch = array("q", self._epoch)
        return h

    def truncate(self, n: int) -> None:
        """Keep the first ``n`` steps (``n`` ≥ 0; larger than the history is a no-op)."""
        if n < 0:
            raise ValueError(f"cannot truncate the history to {n} steps")
        for col in self._columns.values():
            del col[n:]
        del self._epoch[n:]

    def clear(self) -> None:
        self.truncate(0)

    def __eq__(self, other: object) -> bool:
        # Bytes, not floats: equal means bit-identical (-0.0 is not 0.0 here).
        if not isinstance(other, History):
            return NotImplemented
        return self._epoch == other._epoch and all(
            self._columns[n].tobytes() == other._columns[n].tobytes() for n in HISTORY_COLUMNS
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"History({len(self)} steps, last epoch {self.last_epoch})"


# --------------------------------------------------------------------------- model and session


@dataclass
class Session:
    """Everything a session file holds (see the module docstring for the file layout).

    ``initial`` is the model the history started from; while the history is empty it should
    follow ``model`` (:meth:`make_trainer` and :meth:`reset_history` take care of that).
    ``created`` and ``modified`` are ISO 8601 UTC strings; :func:`save_session` stamps
    ``modified`` and ``app_version``.
    """

    model: Model
    initial: Model
    training: TrainingSettings = field(default_factory=TrainingSettings)
    history: History = field(default_factory=History)
    name: str = ""
    notes: str = ""
    divergence: Divergence | None = None
    app_version: str = __version__
    created: str = field(default_factory=_now)
    modified: str = field(default_factory=_now)

    def __post_init__(self) -> None:
        if self.initial.K != self.model.K:
            raise ValueError(f"initial has K = {self.initial.K} but the model has K = {self.model.K}")

    # -- construction
    @classmethod
    def report_example(cls) -> Session:
        """The report's worked example (x, A, B, the reconstructed C, the report's lr and N)."""
        from backprop_lab.engine.resources import report_example_path

        path = report_example_path()
        session = load_session(path)
        session.created = session.modified = _now()
        session.app_version = __version__
        return session

    @classmethod
    def random(cls, K: int, seed: int, low: float = -1.0, high: float = 1.0) -> Session:
        """A new session with x, A, B and C drawn uniformly from [low, high) by ``random.Random(seed)``.

        Draw order: x, then A, B and C row by row, so a (K, seed, low, high) always gives the same model.
        """
        if isinstance(K, bool) or not isinstance(K, int) or not 1 <= K <= MAX_K:
            raise ValueError(f"K must be an integer from 1 to {MAX_K} (got {K!r})")
        if not (math.isfinite(low) and math.isfinite(high) and low < high):
            raise ValueError(f"the range must be finite with low < high (got [{low}, {high}))")
        r = random.Random(seed)

        def draw() -> float:
            return low + (high - low) * r.random()

        x = [draw() for _ in range(K)]
        A, B, C = ([[draw() for _ in range(K)] for _ in range(K)] for _ in range(3))
        model = Model(x, A, B, C)
        return cls(model=model, initial=model.copy(), name=f"Random K = {K}, seed {seed}")

    # -- training
    def make_trainer(self, settings: TrainingSettings | None = None) -> Trainer:
        """A Trainer that continues this session: from the current model, numbering its steps
        and epochs after the history's. Records the settings, marks an empty history's start
        (``initial`` = current model) and forgets an earlier divergence. Raises ValueError for
        invalid settings (the session is then unchanged).
        """
        settings = self.training if settings is None else settings
        m = self.model
        trainer = Trainer(
            m.x,
            m.A,
            m.B,
            m.C,
            settings,
            start_step=self.history.last_step,
            start_epoch=self.history.last_epoch,
        )
        self.training = settings
        if not self.history:
            self.initial = self.model.copy()
        self.divergence = None
        return trainer

    def finish_run(self, trainer: Trainer) -> None:
        """Take the trainer's current (last finite) weights and its divergence, if any.

        The records themselves go to :attr:`history` as they arrive (``history.extend``).
        """
        A, B, C = trainer.weights()
        self.model = self.model.with_weights(A, B, C)
        self.divergence = trainer.divergence

    def reset_history(self) -> None:
        """Forget the history; the current model becomes the initial one."""
        self.history.clear()
        self.initial = self.model.copy()
        self.divergence = None

    def copy(self) -> Session:
        return Session(
            model=self.model.copy(),
            initial=self.initial.copy(),
            training=self.training,
            history=self.history.copy(),
            name=self.name,
            notes=self.notes,
            divergence=self.divergence,
            app_version=self.app_version,
            created=self.created,
            modified=self.modified,
        )


# --------------------------------------------------------------------------- reading


def _require(d: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in d:
        raise SessionError(f"{where}{key} is missing")
    return d[key]


def _require_object(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SessionError(f"{where} must be a JSON object, not {_type_name(value)}")
    return value


def _type_name(value: object) -> str:
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", type(None): "null"}
    for t, name in names.items():
        if isinstance(value, t):
            return name
    return "a number" if isinstance(value, (int, float)) else type(value).__name__


def _read_int(value: object, where: str, low: int, high: int | None = None) -> int:
    # Integral floats (10.0) are accepted: some tools write every number as a float.
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise SessionError(f"{where} must be a whole number, not {_short(value)}")
    if value < low:
        raise SessionError(f"{where} must be ≥ {low} (got {_short(value)})")
    if high is not None and value > high:
        got = f"{value:,}" if value.bit_length() <= 256 else _short(value)
        raise SessionError(f"{where} must be ≤ {high:,} (got {got})")
    return value


def _read_str(value: object, where: str, max_chars: int | None = None) -> str:
    if not isinstance(value, str):
        raise SessionError(f"{where} must be a string, not {_short(value)}")
    if max_chars is not None and len(value) > max_chars:
        raise SessionError(f"{where} is {len(value):,} characters long; at most {max_chars:,} are allowed")
    _check_encodable(value, where)
    return value


def _check_encodable(value: str, where: str) -> None:
    """SessionError if ``value`` cannot be written as UTF-8 (JSON's ``"\ud800"`` parses to a lone
    surrogate, which no UTF-8 file can hold): a session that loads must be one that saves."""
    if value.isascii():
        return
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        code = ord(value[exc.start])
        raise SessionError(
            f"{where} holds a lone surrogate (U+{code:04X} at character {exc.start:,}), "
            "which cannot be stored as UTF-8 text"
        ) from None


def _read_float(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SessionError(f"{where} must be a number, not {_short(value)}")
    try:
        number = float(value)
    except OverflowError:
        raise SessionError(f"{where} is too large for a float64") from None
    if not math.isfinite(number):
        raise SessionError(f"{where} is not finite: {number!r}")
    return number


def _read_timestamp(value: object, where: str) -> str:
    text = _read_str(value, where, _MAX_META_CHARS)
    try:
        datetime.fromisoformat(text)
    except ValueError:
        raise SessionError(f"{where} is not an ISO 8601 date and time: {_short(text)}") from None
    return text


def _read_model(value: object, where: str, k: int | None = None) -> Model:
    m = _require_object(value, where)
    x = _require(m, "x", f"{where}.")
    if "K" in m:
        kk = _read_int(m["K"], f"{where}.K", 1, MAX_K)
        if isinstance(x, list) and len(x) != kk:
            raise SessionError(f"{where}.K is {kk} but {where}.x has {len(x)} entries")
    if k is not None and isinstance(x, list) and len(x) != k:
        raise SessionError(f"{where}.x has {len(x)} entries; the model has K = {k}")
    A, B, C = (_require(m, name, f"{where}.") for name in "ABC")
    try:
        return Model(x, A, B, C)
    except ValueError as exc:
        raise SessionError(f"{where}.{exc}") from None
    except OverflowError:  # an integer beyond float64 (JSON integers are unbounded)
        raise SessionError(f"{where}.{_find_huge_int(x, A, B, C)} is too large for a float64") from None


def _find_huge_int(x: object, A: object, B: object, C: object) -> str:
    # Only called after validation failed on such an int, so one is there to find.
    def huge(v: object) -> bool:
        return isinstance(v, int) and not isinstance(v, bool) and abs(v) > 2**1023

    for j, v in enumerate(x if isinstance(x, list) else []):
        if huge(v):
            return f"x[{j}]"
    for name, m in (("A", A), ("B", B), ("C", C)):
        for i, row in enumerate(m if isinstance(m, list) else []):
            for j, v in enumerate(row if isinstance(row, list) else []):
                if huge(v):
                    return f"{name}[{i}][{j}]"
    return "an entry"  # pragma: no cover


def _read_training(value: object, k: int) -> TrainingSettings:
    t = _require_object(value, "training")
    lr = _read_float(_require(t, "learning_rate", "training."), "training.learning_rate")
    ints = {
        name: _read_int(_require(t, name, "training."), f"training.{name}", 0 if name == "seed" else 1)
        for name in _TRAINING_FIELDS[1:]
    }
    settings = TrainingSettings(learning_rate=lr, **ints)
    try:
        settings.validate(k)  # with K: the N×K training inputs must fit in memory too
    except ValueError as exc:
        raise SessionError(f"training.{exc}") from None
    return settings


def _decode_base64(value: dict[str, Any], where: str, encoding: str, typecode: str) -> array[Any]:
    enc = _require(value, "encoding", f"{where}.")
    if enc != encoding:
        raise SessionError(f"{where}.encoding must be {encoding!r}, not {_short(enc)}")
    data = _read_str(_require(value, "data", f"{where}."), f"{where}.data")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise SessionError(f"{where}.data is not valid base64") from None
    if len(raw) % 8:
        raise SessionError(f"{where}.data holds {len(raw)} bytes, not a whole number of 8-byte values")
    if len(raw) // 8 > MAX_HISTORY_STEPS:
        raise SessionError(
            f"{where} has {len(raw) // 8:,} entries; at most {MAX_HISTORY_STEPS:,} are allowed"
        )
    col: array[Any] = array(typecode)
    col.frombytes(raw)
    if sys.byteorder == "big":  # pragma: no cover - the format is little-endian
        col.byteswap()
    return col


def _read_float_column(value: object, where: str) -> array[float]:
    if isinstance(value, dict):
        return _decode_base64(value, where, FLOAT_ENCODING, "d")
    if not isinstance(value, list):
        raise SessionError(f"{where} must be a list of numbers or a base64 object, not {_type_name(value)}")
    if len(value) > MAX_HISTORY_STEPS:
        raise SessionError(f"{where} has {len(value):,} entries; at most {MAX_HISTORY_STEPS:,} are allowed")
    # One C-speed pass over the types instead of a Python check per number.
    if not set(map(type, value)) <= {float, int}:
        i = next(i for i, v in enumerate(value) if type(v) not in (float, int))
        raise SessionError(f"{where}[{i}] is not a number: {_short(value[i])}")
    try:
        return array("d", value)
    except OverflowError:
        i = next(i for i, v in enumerate(value) if isinstance(v, int) and abs(v) > 2**1023)
        raise SessionError(f"{where}[{i}] is too large for a float64") from None


def _read_int_column(value: object, where: str) -> array[int]:
    if isinstance(value, dict):
        return _decode_base64(value, where, INT_ENCODING, "q")
    if not isinstance(value, list):
        raise SessionError(
            f"{where} must be a list of whole numbers or a base64 object, not {_type_name(value)}"
        )
    if len(value) > MAX_HISTORY_STEPS:
        raise SessionError(f"{where} has {len(value):,} entries; at most {MAX_HISTORY_STEPS:,} are allowed")
    if not set(map(type, value)) <= {int}:
        i = next(i for i, v in enumerate(value) if type(v) is not int)
        raise SessionError(f"{where}[{i}] is not a whole number: {_short(value[i])}")
    try:
        return array("q", value)
    except OverflowError:
        i = next(i for i, v in enumerate(value) if not -(2**63) <= v < 2**63)
        raise SessionError(f"{where}[{i}] is too large: {_short(value[i])}") from None


def _read_history(value: object) -> History:
    h = _require_object(value, "history")
    columns = {
        name: _read_float_column(_require(h, name, "history."), f"history.{name}") for name in HISTORY_COLUMNS
    }
    epoch = _read_int_column(_require(h, EPOCH_COLUMN, "history."), "history.epoch")
    try:
        return History.from_columns(columns, epoch)
    except ValueError as exc:
        raise SessionError(str(exc)) from None


def _read_divergence(value: object) -> Divergence | None:
    if value is None:
        return None
    d = _require_object(value, "divergence")
    step = _read_int(_require(d, "step", "divergence."), "divergence.step", 1, 2**62)
    epoch = _read_int(_require(d, "epoch", "divergence."), "divergence.epoch", 1, 2**62)
    reason = _read_str(_require(d, "reason", "divergence."), "divergence.reason", MAX_REASON_CHARS)
    return Divergence(step=step, epoch=epoch, reason=reason)


def _version_of(d: object) -> int:
    if not isinstance(d, dict):
        raise SessionError(f"the file does not hold a session (a JSON object) but {_type_name(d)}")
    if "format" not in d:
        if "model" in d or "x" in d:
            return 0  # the plain {"model": {...}} file or the report-style dict; see MIGRATIONS[0]
        raise SessionError('not a Backprop Lab session: there is no "format" field and no model')
    if d["format"] != FORMAT:
        raise SessionError(f"not a Backprop Lab session: format is {_short(d['format'])}, not {FORMAT!r}")
    version = _read_int(_require(d, "version", ""), "version", 0)
    if version > FORMAT_VERSION:
        raise SessionError(
            f"the session was written by a newer Backprop Lab (format version {_short(version)}; "
            f"this version reads up to {FORMAT_VERSION}): update Backprop Lab to open it"
        )
    return version


def _migrate_0_to_1(d: dict[str, Any]) -> dict[str, Any]:
    """Version 0: files without "format", as people wrote them before session files existed.

    Two layouts: ``{"model": {"x", "A", "B", "C"}, ...}`` and the report-style dict with x, A, B
    and C at the top level (like the seed's worked example). Optional "training" (any subset of
    the settings), "name", "notes" (or "about"), and the seed's "report_gradient_descent" block
    (its learning_rate and n_samples) are carried over; there is no history.
    """
    model = d["model"] if "model" in d else {k: d[k] for k in ("K", "x", "A", "B", "C") if k in d}
    if not isinstance(model, dict):
        raise SessionError(f"model must be a JSON object, not {_type_name(model)}")
    defaults = TrainingSettings()
    training: dict[str, Any] = {f.name: getattr(defaults, f.name) for f in fields(TrainingSettings)}
    report_gd = d.get("report_gradient_descent")
    if isinstance(report_gd, dict):
        training.update({k: report_gd[k] for k in ("learning_rate", "n_samples") if k in report_gd})
    if "training" in d:
        training.update(_require_object(d["training"], "training"))
    notes = d.get("notes", d.get("about", ""))
    return {
        "format": FORMAT,
        "version": 1,
        "name": d.get("name", ""),
        "notes": notes,
        "model": model,
        "initial": model,
        "training": training,
        "divergence": None,
        "history": {name: [] for name in (*HISTORY_COLUMNS, EPOCH_COLUMN)},
    }


#: ``MIGRATIONS[v]`` turns a version-v document (a dict) into a version v + 1 one. Each is tested.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {0: _migrate_0_to_1}


def _upgrade(d: object) -> dict[str, Any]:
    version = _version_of(d)
    assert isinstance(d, dict)
    while version < FORMAT_VERSION:
        if version not in MIGRATIONS:
            raise SessionError(f"session format version {version} is not supported")
        d = MIGRATIONS[version](d)
        version += 1
    return d


def _from_current(d: dict[str, Any]) -> Session:
    model = _read_model(_require(d, "model", ""), "model")
    history = _read_history(_require(d, "history", ""))
    if "initial" in d:
        initial = _read_model(d["initial"], "initial", model.K)
    elif history:
        raise SessionError("initial is missing (the model the history started from)")
    else:
        initial = model.copy()
    now = _now()
    return Session(
        model=model,
        initial=initial,
        training=_read_training(_require(d, "training", ""), model.K),
        history=history,
        name=_read_str(d.get("name", ""), "name"),
        notes=_read_str(d.get("notes", ""), "notes", MAX_NOTES_CHARS),
        divergence=_read_divergence(d.get("divergence")),
        app_version=_read_str(d.get("app_version", ""), "app_version", _MAX_META_CHARS),
        created=_read_timestamp(d.get("created", now), "created"),
        modified=_read_timestamp(d.get("modified", now), "modified"),
    )


@dataclass(frozen=True)
class Expected:
    """Numbers a session file says its model gives: the report example's ``"expected"`` object
    (``loss``, ``grad_A``, ``grad_B``, ``grad_C`` and an optional ``tolerance_relative``, default
    1e-12), which ``check`` compares with the engine's. Gradients are K×K lists of rows."""

    loss: float
    grads: dict[str, Matrix]
    rtol: float = 1e-12


def _read_expected(value: object, k: int) -> Expected | None:
    if value is None:
        return None
    e = _require_object(value, "expected")
    loss = _read_float(_require(e, "loss", "expected."), "expected.loss")
    grads: dict[str, Matrix] = {}
    for name in MATRIX_NAMES:
        where = f"expected.grad_{name}"
        try:
            grads[name] = validate_matrix(where, _require(e, f"grad_{name}", "expected."), k)
        except ValueError as exc:  # SessionError (missing) included
            raise exc if isinstance(exc, SessionError) else SessionError(str(exc)) from None
        except OverflowError:
            raise SessionError(f"a number in {where} is too large for a float64") from None
    rtol = _read_float(e.get("tolerance_relative", 1e-12), "expected.tolerance_relative")
    if rtol < 0:
        raise SessionError(f"expected.tolerance_relative must be ≥ 0 (got {rtol!r})")
    return Expected(loss, grads, rtol)


def _validated(source: str, read: Callable[[], Any]) -> Any:
    """``read()``, every surprise turned into a one-line SessionError naming ``source``."""
    try:
        return read()
    except SessionError as exc:
        raise exc.with_source(source) from None
    except RecursionError:
        raise SessionError("the data is nested too deeply", source) from None
    except MemoryError:
        raise SessionError("there is not enough memory to load the session", source) from None
    except (ValueError, TypeError, OverflowError, KeyError) as exc:
        # Every expected problem is caught with a precise message; this is the safety net
        # that keeps a surprise in a hostile file from becoming a traceback.
        raise SessionError(f"invalid session ({type(exc).__name__}: {exc})", source) from None


def session_from_dict(d: object, source: str = "<memory>") -> Session:
    """A validated Session from parsed JSON (any supported version). Raises SessionError only.

    Unknown keys are ignored (so the built-in example can carry its "expected" numbers).
    """
    result: Session = _validated(source, lambda: _from_current(_upgrade(d)))
    return result


def _session_and_expected(d: object, source: str) -> tuple[Session, Expected | None]:
    def read() -> tuple[Session, Expected | None]:
        session = _from_current(_upgrade(d))
        assert isinstance(d, dict)  # _upgrade refused anything else
        return session, _read_expected(d.get("expected"), session.model.K)

    result: tuple[Session, Expected | None] = _validated(source, read)
    return result


def loads_session(data: bytes | str, source: str = "<memory>") -> Session:
    """Parse and validate the text of a session file. Raises SessionError only."""
    return session_from_dict(_parse(data, source), source)


def _parse(data: bytes | str, source: str) -> object:
    """The JSON document in ``data`` (SessionError if it is not one). Makes no copy of ``data``
    beyond the decoded text, so a large file's bytes and text can be freed before validation."""
    if len(data) > MAX_FILE_BYTES:
        raise SessionError(
            f"the session is {len(data):,} bytes; at most {MAX_FILE_BYTES:,} are allowed", source
        )
    if not data or data.isspace():
        raise SessionError("the file is empty", source)
    if isinstance(data, bytes):
        try:
            text = json_pieces.decode_utf8(data)  # data.decode("utf-8-sig") in pieces
        except UnicodeDecodeError as exc:
            raise SessionError(
                f"not a session file: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
                source,
            ) from None
    else:
        text = data
    if not text or text.isspace():  # a BOM alone
        raise SessionError("the file is empty", source)
    # A real session has a few thousand arrays at most (3 K×K matrices twice, K ≤ 1024, and six
    # history columns); millions of tiny ones cost ~25× the file's size once parsed, so they are
    # refused before parsing (a bracket inside a string counts too: still far below the limit).
    containers = json_pieces.count(text, "[{")  # text.count("[") + text.count("{") in pieces
    if containers > MAX_JSON_CONTAINERS:
        raise SessionError(
            f"not a session file: {containers:,} JSON arrays/objects (at most {MAX_JSON_CONTAINERS:,})",
            source,
        )
    try:
        # NaN and ±Infinity are not JSON but Python's json reads them; they parse to non-finite
        # floats here and the field validators refuse them naming the entry.
        # In pieces (same result): a worker thread parsing a large file must not hold the GIL for
        # seconds, or the window waiting for it freezes all the same (see engine.json_pieces).
        return json_pieces.loads(text)
    except json.JSONDecodeError as exc:
        hint = " (the file looks truncated)" if exc.pos >= len(text.rstrip()) else ""
        raise SessionError(
            f"not valid JSON{hint}: {exc.msg} at line {exc.lineno} column {exc.colno}", source
        ) from None
    except RecursionError:
        raise SessionError("not a session file: the JSON is nested too deeply", source) from None
    except MemoryError:
        raise SessionError("there is not enough memory to load the session", source) from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise SessionError(f"not valid JSON: {exc}", source) from None


def _read_path(source: str) -> bytes:
    """The bytes of the regular file ``source``, refused before reading if over MAX_FILE_BYTES."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer (it is then refused below).
        fd = os.open(source, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise SessionError("the file does not exist", source) from None
    except IsADirectoryError:
        raise SessionError("this is a folder, not a session file", source) from None
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SessionError(f"cannot open the file: {reason}", source) from None
    try:
        st = os.fstat(fd)
        if stat.S_ISDIR(st.st_mode):
            raise SessionError("this is a folder, not a session file", source)
        if not stat.S_ISREG(st.st_mode):
            raise SessionError("not a regular file", source)
        if st.st_size > MAX_FILE_BYTES:
            raise SessionError(
                f"the file is {st.st_size:,} bytes; session files over {MAX_FILE_BYTES:,} bytes are refused",
                source,
            )
        with os.fdopen(fd, "rb", closefd=False) as fh:
            # read(n) reserves n bytes up front, so ask for the size fstat gave (plus one byte, which
            # tells that the file grew meanwhile), not for MAX_FILE_BYTES: that cost 512 MiB a load.
            data = fh.read(st.st_size + 1)
            if len(data) > st.st_size:
                data += fh.read(MAX_FILE_BYTES + 1 - len(data))
    except OSError as exc:
        raise SessionError(f"cannot read the file: {exc.strerror or exc}", source) from None
    except MemoryError:
        raise SessionError("there is not enough memory to read the file", source) from None
    finally:
        os.close(fd)
    return data


def _read_stream(stream: BinaryIO, source: str) -> bytes:
    """At most MAX_FILE_BYTES + 1 bytes of ``stream`` (one more tells it is too long)."""
    chunks: list[bytes] = []
    total = 0
    try:
        while total <= MAX_FILE_BYTES:
            chunk = stream.read(min(1 << 20, MAX_FILE_BYTES + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise SessionError(f"cannot read the input: {exc.strerror or exc}", source) from None
    if total > MAX_FILE_BYTES:
        raise SessionError(
            f"the input is over {MAX_FILE_BYTES:,} bytes; session files over {MAX_FILE_BYTES:,} bytes "
            "are refused",
            source,
        )
    return b"".join(chunks)


def load_session(path: str | os.PathLike[str]) -> Session:
    """Read, validate and return the session at ``path``. Raises SessionError only.

    Refuses anything but a regular file, and files over :data:`MAX_FILE_BYTES`, before reading
    them; opens read-only and never modifies the file.
    """
    source = os.fspath(path)
    document = _parse(_read_path(source), source)  # the bytes are freed before validation
    return session_from_dict(document, source)


def load_session_with_expected(
    path: str | os.PathLike[str] | BinaryIO, source: str | None = None
) -> tuple[Session, Expected | None]:
    """:func:`load_session`, also handing over the file's validated ``"expected"`` numbers (None
    when it has none): the one loader, for ``check``. ``path`` may be a binary stream (standard
    input), read up to the same size limit; ``source`` names it in messages (default "<stdin>").
    """
    if isinstance(path, (str, os.PathLike)):
        name = os.fspath(path) if source is None else source
        data = _read_path(os.fspath(path))
    else:
        name = "<stdin>" if source is None else source
        data = _read_stream(path, name)
    document = _parse(data, name)
    del data
    return _session_and_expected(document, name)


# --------------------------------------------------------------------------- writing


def _json_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def _check_writable_text(s: Session) -> None:
    """SessionError naming the field if a string of ``s`` cannot be written as UTF-8 (a lone
    surrogate, say from a paste): found before any file is touched, so a save never fails half-way
    and never writes a file that :func:`load_session` would refuse."""
    texts = [
        ("name", s.name),
        ("notes", s.notes),
        ("app_version", s.app_version),
        ("created", s.created),
        ("modified", s.modified),
    ]
    if s.divergence is not None:
        texts.append(("divergence.reason", s.divergence.reason))
    for where, text in texts:
        if not isinstance(text, str):
            raise SessionError(f"{where} must be a string, not {_short(text)}")
        _check_encodable(text, where)


def _model_to_dict(m: Model) -> dict[str, Any]:
    return {
        "K": m.K,
        "x": list(m.x),
        "A": [r[:] for r in m.A],
        "B": [r[:] for r in m.B],
        "C": [r[:] for r in m.C],
    }


def _training_to_dict(t: TrainingSettings) -> dict[str, Any]:
    return {name: getattr(t, name) for name in _TRAINING_FIELDS}


def _divergence_to_dict(d: Divergence | None) -> dict[str, Any] | None:
    return None if d is None else {"step": d.step, "epoch": d.epoch, "reason": d.reason}


def _resolve_encoding(history: History, history_encoding: str) -> str:
    if history_encoding == "auto":
        return "base64" if len(history) > INLINE_HISTORY_STEPS else "json"
    if history_encoding not in ("json", "base64"):
        raise ValueError(f"history_encoding must be 'auto', 'json' or 'base64', not {history_encoding!r}")
    return history_encoding


def _b64(col: array[Any], encoding: str) -> dict[str, str]:
    if sys.byteorder == "big":  # pragma: no cover - the format is little-endian
        col = array(col.typecode, col)
        col.byteswap()
    return {"encoding": encoding, "data": base64.b64encode(col.tobytes()).decode("ascii")}


def session_to_dict(s: Session, history_encoding: str = "json") -> dict[str, Any]:
    """The session as plain JSON-ready data, exactly as :func:`save_session` writes it.

    ``history_encoding``: "json" (lists), "base64" or "auto" (base64 past INLINE_HISTORY_STEPS).
    """
    enc = _resolve_encoding(s.history, history_encoding)
    h = s.history
    history: dict[str, Any] = {}
    for name in (*HISTORY_COLUMNS, EPOCH_COLUMN):
        col = h.column(name)
        if enc == "base64":
            history[name] = _b64(col, INT_ENCODING if name == EPOCH_COLUMN else FLOAT_ENCODING)
        else:
            history[name] = col.tolist()
    return {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "app_version": s.app_version,
        "created": s.created,
        "modified": s.modified,
        "name": s.name,
        "notes": s.notes,
        "model": _model_to_dict(s.model),
        "initial": _model_to_dict(s.initial),
        "training": _training_to_dict(s.training),
        "divergence": _divergence_to_dict(s.divergence),
        "history": history,
    }


def _model_text(m: Model) -> str:
    # One matrix row per line: readable and diff-friendly; floats via repr (shortest round trip).
    def matrix(rows: Matrix) -> str:
        return "[\n" + ",\n".join("   " + json.dumps(r) for r in rows) + "\n  ]"

    return (
        "{\n"
        f'  "K": {m.K},\n'
        f'  "x": {json.dumps(m.x)},\n'
        f'  "A": {matrix(m.A)},\n'
        f'  "B": {matrix(m.B)},\n'
        f'  "C": {matrix(m.C)}\n'
        " }"
    )


def _column_text(col: array[Any], name: str, enc: str) -> str:
    if enc == "base64":
        return json.dumps(_b64(col, INT_ENCODING if name == EPOCH_COLUMN else FLOAT_ENCODING))
    # repr of a finite float is valid JSON and reads back bit for bit; join is the fast path.
    to_text = int.__repr__ if name == EPOCH_COLUMN else float.__repr__
    return "[" + ", ".join(map(to_text, col)) + "]"


def dumps_session(s: Session, history_encoding: str = "auto") -> str:
    """The text of the session file (see the module docstring), ending with a newline."""
    enc = _resolve_encoding(s.history, history_encoding)
    if len(s.history) > MAX_HISTORY_STEPS:
        raise SessionError(
            f"the history has {len(s.history):,} steps; a session file holds at most "
            f"{MAX_HISTORY_STEPS:,}: clear the history (or part of it) first"
        )
    if s.initial.K != s.model.K:
        raise SessionError(f"initial has K = {s.initial.K} but the model has K = {s.model.K}")
    _check_writable_text(s)
    history = ",\n".join(
        f"  {json.dumps(name)}: {_column_text(s.history.column(name), name, enc)}"
        for name in (*HISTORY_COLUMNS, EPOCH_COLUMN)
    )
    divergence = _divergence_to_dict(s.divergence)
    parts = [
        ("format", json.dumps(FORMAT)),
        ("version", str(FORMAT_VERSION)),
        ("app_version", _json_str(s.app_version)),
        ("created", _json_str(s.created)),
        ("modified", _json_str(s.modified)),
        ("name", _json_str(s.name)),
        ("notes", _json_str(s.notes)),
        ("model", _model_text(s.model)),
        ("initial", _model_text(s.initial)),
        ("training", json.dumps(_training_to_dict(s.training))),
        ("divergence", "null" if divergence is None else json.dumps(divergence, ensure_ascii=False)),
        ("history", "{\n" + history + "\n }"),
    ]
    return "{\n" + ",\n".join(f" {json.dumps(k)}: {v}" for k, v in parts) + "\n}\n"


def save_session(s: Session, path: str | os.PathLike[str], *, history_encoding: str = "auto") -> None:
    """Write the session to ``path`` atomically, stamping ``modified`` and ``app_version``.

    The stamps are set on ``s`` only once the file is safely written. Raises SessionError for a
    session that cannot be stored (a history over MAX_HISTORY_STEPS, a string holding a lone
    surrogate) before any file is touched, and OSError
    (:class:`engine.atomic.AtomicWriteError`, one line) if the file cannot be written; the
    previous file at ``path`` is then untouched.
    """
    now = _now()
    old = (s.modified, s.app_version)
    s.modified, s.app_version = now, __version__
    try:
        text = dumps_session(s, history_encoding)
    finally:
        s.modified, s.app_version = old
    data = text.encode("utf-8")
    if len(data) > MAX_FILE_BYTES:
        raise SessionError(
            f"the session would be {len(data):,} bytes, over the {MAX_FILE_BYTES:,} bytes Backprop Lab "
            "loads: clear the history (or part of it) first",
            os.fspath(path),
        )
    atomic_write_bytes(path, data)
    s.modified, s.app_version = now, __version__
