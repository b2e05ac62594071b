"""Writing session files: the one writer (readable JSON, base64 columns for long histories), atomic."""

from __future__ import annotations

import base64
import json
import os
import sys
from array import array
from typing import Any, Protocol

from backprop_lab.engine import __version__
from backprop_lab.engine import session_format as _format
from backprop_lab.engine.atomic import atomic_write_bytes
from backprop_lab.engine.model import Matrix, Model
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
from backprop_lab.engine.session_history import History
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
    app_version: str
    created: str
    modified: str


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


def _b64(col: array[Any], encoding: str) -> dict[str, str]:
    if sys.byteorder == "big":  # pragma: no cover - the format is little-endian
        col = array(col.typecode, col)
        col.byteswap()
    return {"encoding": encoding, "data": base64.b64encode(col.tobytes()).decode("ascii")}


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


def dumps_session(s: WritableSession, history_encoding: str = "auto") -> str:
    """The text of the session file (see the module docstring), ending with a newline."""
    enc = _resolve_encoding(s.history, history_encoding)
    if len(s.history) > _format.MAX_HISTORY_STEPS:
        raise SessionError(
            f"the history has {len(s.history):,} steps; a session file holds at most "
            f"{_format.MAX_HISTORY_STEPS:,}: clear the history (or part of it) first"
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


def save_session(s: WritableSession, path: str | os.PathLike[str], *, history_encoding: str = "auto") -> None:
    """Write the session to ``path`` atomically, stamping ``modified`` and ``app_version``.

    The stamps are set on ``s`` only once the file is safely written. Raises SessionError for a
    session that cannot be stored (a history over _format.MAX_HISTORY_STEPS, a string holding a lone
    surrogate) before any file is touched, and OSError
    (:class:`engine.atomic.AtomicWriteError`, one line) if the file cannot be written; the
    previous file at ``path`` is then untouched.
    """
    now = utc_now()
    old = (s.modified, s.app_version)
    s.modified, s.app_version = now, __version__
    try:
        text = dumps_session(s, history_encoding)
    finally:
        s.modified, s.app_version = old
    data = text.encode("utf-8")
    if len(data) > _format.MAX_FILE_BYTES:
        raise SessionError(
            f"the session would be {len(data):,} bytes, over the {_format.MAX_FILE_BYTES:,} bytes "
            "Backprop Lab loads: clear the history (or part of it) first",
            os.fspath(path),
        )
    atomic_write_bytes(path, data)
    s.modified, s.app_version = now, __version__
