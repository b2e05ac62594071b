"""Writing session files: the one writer (readable JSON, base64 columns for long histories), streamed
to the file piece by piece, atomic."""

from __future__ import annotations

import base64
import json
import os
import sys
from array import array
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

from backprop_lab.engine import __version__
from backprop_lab.engine import session_format as _format
from backprop_lab.engine.atomic import atomic_write_chunks
from backprop_lab.engine.model import MATRIX_NAMES, Model
from backprop_lab.engine.session_format import (
    _TRAINING_FIELDS,
    EPOCH_COLUMN,
    FLOAT_ENCODING,
    FORMAT,
    FORMAT_VERSION,
    HISTORY_COLUMNS,
    INT_ENCODING,
    SessionError,
    check_encodable,
    short_value,
    utc_now,
)
from backprop_lab.engine.session_history import History, Segment
from backprop_lab.engine.session_refs import RunRef, check_compared, compared_text, segments_text
from backprop_lab.engine.training import Divergence, TrainingSettings


class WritableSession(Protocol):
    """What the writer reads of an :class:`engine.session.Session` (and stamps on save)."""

    model: Model
    initial: Model
    training: TrainingSettings
    history: History
    name: str
    notes: str
    divergence: Divergence | None
    compared: list[RunRef]
    app_version: str
    created: str
    modified: str

    @property
    def segments(self) -> list[Segment]: ...


def _json_str(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)


def _check_writable_text(s: WritableSession) -> None:
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
            raise SessionError(f"{where} must be a string, not {short_value(text)}")
        check_encodable(text, where)


def _training_to_dict(t: TrainingSettings) -> dict[str, Any]:
    return {name: getattr(t, name) for name in _TRAINING_FIELDS}


def _divergence_to_dict(d: Divergence | None) -> dict[str, Any] | None:
    return None if d is None else {"step": d.step, "epoch": d.epoch, "reason": d.reason}


def _resolve_encoding(history: History, history_encoding: str) -> str:
    if history_encoding == "auto":
        return "base64" if len(history) > _format.INLINE_HISTORY_STEPS else "json"
    if history_encoding not in ("json", "base64"):
        raise ValueError(f"history_encoding must be 'auto', 'json' or 'base64', not {history_encoding!r}")
    return history_encoding


#: History values per piece of a JSON array, and column bytes per piece of base64 (a multiple of
#: 3, so the pieces' base64 joins up with no padding in between): about a megabyte of text each.
_VALUES_PER_PIECE = 1 << 16
_BYTES_PER_PIECE = 3 << 18


def _model_pieces(m: Model) -> Iterator[str]:
    # One matrix row per line: readable and diff-friendly; floats via repr (shortest round trip).
    # Row by row: a K = 1024 matrix is 20 MB of text.
    yield f'{{\n  "K": {m.K},\n  "x": {json.dumps(m.x)},\n'
    for name in MATRIX_NAMES:
        yield f"  {json.dumps(name)}: [\n"
        rows = m.matrix(name)
        for i, row in enumerate(rows):
            yield "   " + json.dumps(row) + (",\n" if i < len(rows) - 1 else "\n")
        yield "  ],\n" if name != MATRIX_NAMES[-1] else "  ]\n"
    yield " }"


def _column_pieces(col: array[Any], name: str, enc: str) -> Iterator[str]:
    if enc == "base64":
        encoding = INT_ENCODING if name == EPOCH_COLUMN else FLOAT_ENCODING
        if sys.byteorder == "big":  # pragma: no cover - the format is little-endian
            col = array(col.typecode, col)
            col.byteswap()
        yield f'{{"encoding": {json.dumps(encoding)}, "data": "'
        raw = memoryview(col).cast("B")
        for i in range(0, len(raw), _BYTES_PER_PIECE):
            yield base64.b64encode(raw[i : i + _BYTES_PER_PIECE]).decode("ascii")
        yield '"}'
        return
    # repr of a finite float is valid JSON and reads back bit for bit; join is the fast path.
    to_text = int.__repr__ if name == EPOCH_COLUMN else float.__repr__
    yield "["
    for i in range(0, len(col), _VALUES_PER_PIECE):
        yield (", " if i else "") + ", ".join(map(to_text, col[i : i + _VALUES_PER_PIECE]))
    yield "]"


def _pieces(
    s: WritableSession, enc: str, modified: str, app_version: str, base_dir: str | None
) -> Iterator[str]:
    """The session file's text in order, a piece at a time (none over about a megabyte);
    compared runs' paths relative to ``base_dir``."""
    divergence = _divergence_to_dict(s.divergence)
    head = [
        ("format", json.dumps(FORMAT)),
        ("version", str(FORMAT_VERSION)),
        ("app_version", _json_str(app_version)),
        ("created", _json_str(s.created)),
        ("modified", _json_str(modified)),
        ("name", _json_str(s.name)),
        ("notes", _json_str(s.notes)),
        ("variant", json.dumps(s.model.variant.as_dict())),
    ]
    yield "{\n" + ",\n".join(f" {json.dumps(k)}: {v}" for k, v in head) + ',\n "model": '
    yield from _model_pieces(s.model)
    yield ',\n "initial": '
    yield from _model_pieces(s.initial)
    yield f',\n "training": {json.dumps(_training_to_dict(s.training))}'
    yield ',\n "divergence": ' + (
        "null" if divergence is None else json.dumps(divergence, ensure_ascii=False)
    )
    yield ',\n "segments": ' + segments_text(s.segments)
    yield ',\n "compared": ' + compared_text(s.compared, base_dir)
    yield ',\n "history": {\n'
    names = (*HISTORY_COLUMNS, EPOCH_COLUMN)
    for name in names:
        yield f"  {json.dumps(name)}: "
        yield from _column_pieces(s.history.column(name), name, enc)
        yield ",\n" if name != names[-1] else "\n"
    yield " }\n}\n"


def _check_savable(s: WritableSession, history_encoding: str) -> str:
    """The history encoding to use; SessionError for a session no file may hold, found before
    anything is written."""
    enc = _resolve_encoding(s.history, history_encoding)
    if len(s.history) > _format.MAX_HISTORY_STEPS:
        raise SessionError(
            f"the history has {len(s.history):,} steps; a session file holds at most "
            f"{_format.MAX_HISTORY_STEPS:,}: clear the history (or part of it) first"
        )
    if s.initial.K != s.model.K:
        raise SessionError(f"initial has K = {s.initial.K} but the model has K = {s.model.K}")
    # The file holds one variant, the model's. With no history, initial is only a placeholder (the
    # next run starts from the model) and is read back under it; a history made under another
    # variant than the model's cannot be written truthfully.
    if s.history and s.initial.variant != s.model.variant:
        raise SessionError(
            f"initial is {s.initial.variant.describe()} but the model is {s.model.variant.describe()}: "
            "a session has one variant"
        )
    _check_writable_text(s)
    check_compared(s.compared)
    for i, seg in enumerate(s.segments):
        try:  # as the loader will check them: a session that saves is one that loads
            seg.settings.validate(s.model.K)
        except ValueError as exc:
            raise SessionError(f"segments[{i}].training.{exc}") from None
    return enc


def dumps_session(s: WritableSession, history_encoding: str = "auto", *, base_dir: str | None = None) -> str:
    """The text of the session file (see the module docstring), ending with a newline: exactly
    what :func:`save_session` writes into the folder ``base_dir`` (default: the current one; it
    streams the same pieces to the file instead)."""
    enc = _check_savable(s, history_encoding)
    return "".join(_pieces(s, enc, s.modified, s.app_version, base_dir))


def _encoded(pieces: Iterable[str], path: str) -> Iterator[bytes]:
    """The pieces as UTF-8, refusing the file once it passes _format.MAX_FILE_BYTES (the writer
    then removes its temporary file: nothing is half-written)."""
    total = 0
    for piece in pieces:
        data = piece.encode("utf-8")
        total += len(data)
        if total > _format.MAX_FILE_BYTES:
            raise SessionError(
                f"the session would be over the {_format.MAX_FILE_BYTES:,} bytes Backprop Lab loads: "
                "clear the history (or part of it) first",
                path,
            )
        yield data


def save_session(s: WritableSession, path: str | os.PathLike[str], *, history_encoding: str = "auto") -> None:
    """Write the session to ``path`` atomically, stamping ``modified`` and ``app_version``.

    The text goes to the temporary file piece by piece as it is made (:func:`_pieces`), so a
    million-step history is never held as one string: the extra memory is a few megabytes at
    any size. The stamps are set on ``s`` only once the file is safely written. Raises
    SessionError for a session that cannot be stored (a history over _format.MAX_HISTORY_STEPS, a
    string holding a lone surrogate) before any file is touched, or once the text passes
    _format.MAX_FILE_BYTES, and OSError (:class:`engine.atomic.AtomicWriteError`, one line) if the
    file cannot be written; the previous file at ``path`` is then untouched.
    """
    enc = _check_savable(s, history_encoding)
    now = utc_now()
    base_dir = os.path.dirname(os.path.abspath(path))
    atomic_write_chunks(path, _encoded(_pieces(s, enc, now, __version__, base_dir), os.fspath(path)))
    s.modified, s.app_version = now, __version__
