"""Exporting a session's numbers for other tools: the history as CSV, the model and its gradients
as JSON, and everything as arrays in a NumPy ``.npz``; the plot's curves as CSV.

The format follows the file's extension (:data:`EXPORT_FORMATS`). Every file is written atomically
(:mod:`engine.atomic`) and streamed: a million-step history never exists as one string, so the
memory an export needs stays a few megabytes over the session's own at any length.

Numbers are written in their shortest round-trip form (``repr``: ``0.1``, ``1e-05``, ``5e-324``), so
``pandas.read_csv``, ``json.load`` and spreadsheets read back the very float64 the session holds.
The ``.npz`` is written without NumPy (a zip of ``.npy`` files, format 1.0, little-endian, stored
uncompressed as ``numpy.savez`` does), so the engine stays standard library only.
Standard library only.
"""

from __future__ import annotations

import csv
import io
import json
import os
import struct
import sys
import zipfile
from array import array
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from backprop_lab.engine import __version__
from backprop_lab.engine.atomic import atomic_write_chunks
from backprop_lab.engine.model import MATRIX_NAMES, Matrix, NumericalOverflowError, loss_and_grads
from backprop_lab.engine.session import HISTORY_COLUMNS, History, Session

__all__ = [
    "CSV_HEADER",
    "EXPORT_FORMATS",
    "Curve",
    "ExportError",
    "curves_csv",
    "export_format",
    "export_session",
    "history_csv",
    "model_json",
    "session_npz",
    "write_curves_csv",
]

#: Extension → what a file of that kind holds (the command's --help and the window's file filter).
EXPORT_FORMATS = {
    ".csv": "the history, one row per step",
    ".json": "the model (x, A, B, C, variant), its loss and its gradients",
    ".npz": "x, A, B, C, the gradients and the history columns as NumPy arrays",
}
#: The CSV's columns, in order: the history's columns with the step number first.
CSV_HEADER = ("step", "epoch", *HISTORY_COLUMNS)
#: Identifies the JSON export (it is not a session file: it cannot be opened as one).
JSON_FORMAT = "backprop-lab-export"
JSON_VERSION = 1
#: Rows (and array values) per chunk: about 1.5 MB of CSV text at a time. Measured at 1,000,000 steps
#: (tests/bench/bench_export.py): larger chunks are no faster and only raise the peak memory.
ROWS_PER_CHUNK = 1 << 14


class ExportError(ValueError):
    """Something cannot be exported; ``str()`` is one line naming the file and the problem."""


def export_format(path: str | os.PathLike[str]) -> str:
    """The format (".csv", ".json" or ".npz") that ``path``'s extension names, in any case;
    ExportError (one line) for any other name."""
    name = os.fspath(path)
    ext = os.path.splitext(name)[1].lower()
    if ext not in EXPORT_FORMATS:
        found = f"'{ext}'" if ext else "no extension"
        raise ExportError(
            f"{name}: cannot tell what to export from {found}; name the file .csv (the history), "
            ".json (the model and its gradients) or .npz (both, as NumPy arrays)"
        )
    return ext


def export_session(session: Session, path: str | os.PathLike[str]) -> str:
    """Write ``session``'s numbers to ``path`` in the format its extension names (see
    :data:`EXPORT_FORMATS`), atomically; returns that extension. Raises ExportError (an unknown
    extension, a model whose gradients overflow) before touching any file, and OSError (one line,
    :class:`engine.atomic.AtomicWriteError`) when the file cannot be written; the file that was
    at ``path`` is then untouched."""
    ext = export_format(path)
    chunks: Iterable[bytes]
    if ext == ".csv":
        chunks = history_csv(session.history)
    elif ext == ".json":
        chunks = model_json(session, _gradients(session, path))
    else:
        chunks = session_npz(session, _gradients(session, path))
    atomic_write_chunks(path, chunks)
    return ext


# --------------------------------------------------------------------------- CSV


def history_csv(history: History) -> Iterator[bytes]:
    """The history as CSV (header :data:`CSV_HEADER`, one row per step, ``\\n`` line ends, ASCII),
    a chunk of :data:`ROWS_PER_CHUNK` rows at a time."""
    yield (",".join(CSV_HEADER) + "\n").encode("ascii")
    columns = [history.column(name) for name in HISTORY_COLUMNS]
    epoch = history.column("epoch")
    to_text = float.__repr__
    for lo in range(0, len(history), ROWS_PER_CHUNK):
        hi = min(lo + ROWS_PER_CHUNK, len(history))
        # Each column turned to text by one C-level map, then the rows joined: no Python per value.
        texts = [map(str, range(lo + 1, hi + 1)), map(str, epoch[lo:hi])]
        texts += [map(to_text, col[lo:hi]) for col in columns]
        yield ("\n".join(map(",".join, zip(*texts, strict=True))) + "\n").encode("ascii")


@dataclass(frozen=True)
class Curve:
    """One curve of a plot for :func:`curves_csv`: its ``name`` (the run's, say), what its x and y
    are (``x_name``: "step", "epoch" or "samples seen"; ``y_name``: "loss at x", …) and the values."""

    name: str
    x_name: str
    x: Sequence[float]
    y_name: str
    y: Sequence[float]

    def __post_init__(self) -> None:
        if len(self.x) != len(self.y):
            raise ValueError(f"curve {self.name!r} has {len(self.x):,} x values but {len(self.y):,} y values")


def curves_csv(curves: Sequence[Curve]) -> Iterator[bytes]:
    """Curves side by side as CSV: two columns per curve ("NAME: X_NAME", "NAME: Y_NAME"; names
    quoted as CSV requires), one row per point, a shorter curve's cells left empty below its
    end. Whole x values are written as integers (step 12, not 12.0), y values in shortest
    round-trip form. UTF-8 (run names may be any text), chunk by chunk. ValueError when there is
    no curve (a file of nothing would look like a failed export)."""
    if not curves:  # checked now, not when the first chunk is asked for
        raise ValueError("there are no curves to export: show at least one run")
    return _curve_chunks(curves)


def _curve_chunks(curves: Sequence[Curve]) -> Iterator[bytes]:
    header = io.StringIO()
    csv.writer(header, lineterminator="\n").writerow(
        [f"{c.name}: {axis}" for c in curves for axis in (c.x_name, c.y_name)]
    )
    yield header.getvalue().encode("utf-8")
    longest = max((len(c.x) for c in curves), default=0)
    for lo in range(0, longest, ROWS_PER_CHUNK):
        hi = min(lo + ROWS_PER_CHUNK, longest)
        texts = []
        for c in curves:
            texts.append(_padded(map(_x_text, c.x[lo:hi]), hi - lo))
            texts.append(_padded(map(_y_text, c.y[lo:hi]), hi - lo))
        yield ("\n".join(map(",".join, zip(*texts, strict=True))) + "\n").encode("utf-8")


def write_curves_csv(curves: Sequence[Curve], path: str | os.PathLike[str]) -> None:
    """:func:`curves_csv` into ``path``, atomically (OSError, one line, when it cannot be written)."""
    atomic_write_chunks(path, curves_csv(curves))


def _padded(texts: Iterator[str], n: int) -> list[str]:
    out = list(texts)
    return out + [""] * (n - len(out))


def _x_text(v: float) -> str:
    f = float(v)
    return str(int(f)) if f.is_integer() and abs(f) < 2**53 else float.__repr__(f)


def _y_text(v: float) -> str:
    return float.__repr__(float(v))  # numpy's float64 repr is "np.float64(…)"; float's is the number


# --------------------------------------------------------------------------- JSON


def _gradients(session: Session, path: str | os.PathLike[str]) -> tuple[float, dict[str, Matrix]]:
    m = session.model
    v = m.variant
    try:
        return loss_and_grads(
            m.x, m.A, m.B, m.C, activation=v.activation, convention=v.convention, target=v.target
        )
    except NumericalOverflowError as exc:
        raise ExportError(f"{os.fspath(path)}: the gradients cannot be exported: {exc}") from None


def _matrix_text(name: str, rows: Matrix, last: bool) -> Iterator[str]:
    # One row per line, as in a session file: readable, and a K = 1024 matrix is never one string.
    yield f"  {json.dumps(name)}: [\n"
    for i, row in enumerate(rows):
        yield "   " + json.dumps(row) + (",\n" if i < len(rows) - 1 else "\n")
    yield "  ]\n" if last else "  ],\n"


def model_json(
    session: Session, loss_and_gradients: tuple[float, dict[str, Matrix]] | None = None
) -> Iterator[bytes]:
    """The model and its gradients as JSON (UTF-8), laid out as a session file lays out a model::

        {"format": "backprop-lab-export", "version": 1, "app_version": "…", "name": "…",
         "variant": {"activation": …, "convention": …, "target": …},
         "model": {"K": K, "x": [...], "A": [[...], ...], "B": …, "C": …},
         "loss": L, "gradients": {"A": [[...], ...], "B": …, "C": …}}

    Each gradient has its weight's shape and layout (``gradients.A[i][j]`` is ∂L/∂A[i][j]).
    ``loss_and_gradients`` may be given when already computed (the export computes them first so
    that a failure touches no file)."""
    m = session.model
    loss, grads = loss_and_gradients if loss_and_gradients is not None else _gradients(session, "<memory>")
    head = {
        "format": JSON_FORMAT,
        "version": JSON_VERSION,
        "app_version": __version__,
        "name": session.name,
        "variant": m.variant.as_dict(),
    }
    fields = "".join(f" {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)},\n" for k, v in head.items())
    yield f'{{\n{fields} "model": {{\n  "K": {m.K},\n  "x": {json.dumps(m.x)},\n'.encode()
    for name in MATRIX_NAMES:
        yield "".join(_matrix_text(name, m.matrix(name), name == MATRIX_NAMES[-1])).encode()
    yield f' }},\n "loss": {float.__repr__(loss)},\n "gradients": {{\n'.encode()
    for name in MATRIX_NAMES:
        yield "".join(_matrix_text(name, grads[name], name == MATRIX_NAMES[-1])).encode()
    yield b" }\n}\n"


# --------------------------------------------------------------------------- NPZ


class _Sink(io.RawIOBase):
    """A write-only, unseekable file that keeps what is written until :meth:`take` hands it over
    (zipfile then writes each member's sizes after its data, which every zip reader follows)."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._written = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._parts.append(chunk)
        self._written += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._written

    def take(self) -> Iterator[bytes]:
        parts, self._parts = self._parts, []
        yield from parts


def _npy_header(descr: str, shape: tuple[int, ...]) -> bytes:
    """The .npy format 1.0 header: magic, version, and the array's dtype and shape as a Python
    literal, padded with spaces so that the data starts at a multiple of 64 bytes."""
    dims = f"({shape[0]},)" if len(shape) == 1 else "(" + ", ".join(map(str, shape)) + ")"
    text = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {dims}, }}"
    total = 10 + len(text) + 1
    text += " " * (-total % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin-1")


def _little_endian(values: array[Any]) -> array[Any]:
    if sys.byteorder == "big":  # pragma: no cover - the .npy's dtype says little-endian
        values = array(values.typecode, values)
        values.byteswap()
    return values


def _arrays(
    session: Session, grads: dict[str, Matrix]
) -> Iterator[tuple[str, str, tuple[int, ...], Iterator[array[Any]]]]:
    """(name, dtype, shape, the values in pieces) of every array of the .npz, in order."""
    m = session.model
    k = m.K
    yield "x", "<f8", (k,), iter([array("d", m.x)])

    def rows(matrix: Matrix) -> Iterator[array[Any]]:
        return (array("d", row) for row in matrix)

    for name in MATRIX_NAMES:
        yield name, "<f8", (k, k), rows(m.matrix(name))
    for name in MATRIX_NAMES:
        yield f"d{name}", "<f8", (k, k), rows(grads[name])
    h = session.history
    n = len(h)
    yield "step", "<i8", (n,), _step_pieces(n)
    for name in ("epoch", *HISTORY_COLUMNS):
        yield name, "<i8" if name == "epoch" else "<f8", (n,), _column_pieces(h.column(name))


def _step_pieces(n: int) -> Iterator[array[Any]]:
    for lo in range(0, n, ROWS_PER_CHUNK):
        yield array("q", range(lo + 1, min(lo + ROWS_PER_CHUNK, n) + 1))


def _column_pieces(column: array[Any]) -> Iterator[array[Any]]:
    for lo in range(0, len(column), ROWS_PER_CHUNK):
        yield column[lo : lo + ROWS_PER_CHUNK]


def session_npz(
    session: Session, loss_and_gradients: tuple[float, dict[str, Matrix]] | None = None
) -> Iterator[bytes]:
    """The ``.npz`` bytes, piece by piece: ``x`` (K,), ``A``, ``B``, ``C`` (K, K), their gradients
    ``dA``, ``dB``, ``dC`` (K, K, each in its weight's layout), ``L`` (the loss, shape ()), and the
    history's columns ``step``, ``epoch`` (int64) and ``loss``, ``loss_at_x``, ``grad_norm_A``,
    ``grad_norm_B``, ``grad_norm_C`` (float64), one entry per step."""
    loss, grads = loss_and_gradients if loss_and_gradients is not None else _gradients(session, "<memory>")
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED) as zf:
        loss_member = ("L", "<f8", (), iter([array("d", [loss])]))
        for name, descr, shape, pieces in (loss_member, *_arrays(session, grads)):
            with zf.open(f"{name}.npy", "w") as member:
                member.write(_npy_header(descr, shape))
                for piece in pieces:
                    member.write(memoryview(_little_endian(piece)).cast("B"))
                    yield from sink.take()
            yield from sink.take()
    yield from sink.take()
