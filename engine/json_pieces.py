"""``json.loads`` in pieces: the same result, but no single call holds the GIL for seconds.

Python's JSON parser is one C call: parsing a 130 MB session (K = 1024) on a worker thread
holds the interpreter lock for seconds, and the window's thread, which needs it for every
event it handles, freezes just as if it parsed the file itself. Here objects and nested arrays
are walked in Python and every flat array of numbers (a matrix row, a history column) is parsed
by the C parser in slices of about :data:`PIECE_CHARS` characters, so the lock changes hands
between slices (milliseconds apart).

Anything this walk does not expect, valid or not, is handed to ``json.loads`` whole, so the
result, and every error message, is exactly ``json.loads(text)``'s.
"""

from __future__ import annotations

import codecs
import json
import json.decoder
import json.scanner
from collections.abc import Callable

__all__ = ["PIECE_CHARS", "count", "decode_utf8", "loads"]

#: Characters of a flat number array parsed by one C call (~1 ms).
PIECE_CHARS = 1 << 16

_WHITESPACE = " \t\n\r"
# The C scanner json.loads itself uses, entered at one value; typeshed describes make_scanner as
# a class and leaves scanstring out, hence the ignores.
_DECODER = json.JSONDecoder()
_scan_once: Callable[[str, int], tuple[object, int]] = json.scanner.make_scanner(_DECODER)  # type: ignore[arg-type]
_scanstring: Callable[[str, int], tuple[str, int]] = json.decoder.scanstring  # type: ignore[attr-defined]


class _Unexpected(Exception):
    """The walk met something it leaves to json.loads (which parses it, or names the error)."""


def loads(text: str) -> object:
    """Parse the JSON document ``text`` exactly as ``json.loads`` would (same value, same errors)."""
    try:
        i = _skip(text, 0)
        value, end = _value(text, i)
        if _skip(text, end) != len(text):
            raise _Unexpected
        return value
    except (_Unexpected, ValueError, IndexError, StopIteration, RecursionError):
        return json.loads(text)


def _skip(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i] in _WHITESPACE:
        i += 1
    return i


def _value(text: str, i: int) -> tuple[object, int]:
    c = text[i]
    if c == "{":
        return _object(text, i)
    if c == "[":
        return _array(text, i)
    return _scan_once(text, i)  # a string, number or literal: one short C call


def _object(text: str, i: int) -> tuple[dict[str, object], int]:
    out: dict[str, object] = {}
    i = _skip(text, i + 1)
    if text[i] == "}":
        return out, i + 1
    while True:
        if text[i] != '"':
            raise _Unexpected
        key, i = _scanstring(text, i + 1)
        i = _skip(text, i)
        if text[i] != ":":
            raise _Unexpected
        value, i = _value(text, _skip(text, i + 1))
        out[key] = value  # a repeated key: the last one wins, as in json.loads
        i = _skip(text, i)
        if text[i] == "}":
            return out, i + 1
        if text[i] != ",":
            raise _Unexpected
        i = _skip(text, i + 1)


def _array(text: str, i: int) -> tuple[list[object], int]:
    close = text.find("]", i)
    if close < 0:
        raise _Unexpected
    inner = i + 1
    if not any(text.find(c, inner, close) >= 0 for c in '[{"'):
        return _flat_array(text, inner, close), close + 1
    out: list[object] = []
    i = _skip(text, inner)
    if text[i] == "]":
        return out, i + 1
    while True:
        value, i = _value(text, i)
        out.append(value)
        i = _skip(text, i)
        if text[i] == "]":
            return out, i + 1
        if text[i] != ",":
            raise _Unexpected
        i = _skip(text, i + 1)


def _flat_array(text: str, lo: int, hi: int) -> list[object]:
    """The elements of ``text[lo:hi]`` (no string, array or object inside: commas split it safely)."""
    if text[lo:hi].strip(_WHITESPACE) == "":
        return []
    out: list[object] = []
    while True:
        cut = text.find(",", lo + PIECE_CHARS, hi) if hi - lo > PIECE_CHARS else -1
        piece = text[lo : hi if cut < 0 else cut]
        if piece.strip(_WHITESPACE) == "":  # "[1,,2]" or "[1,]": json.loads names the error
            raise _Unexpected
        out.extend(json.loads("[" + piece + "]"))
        if cut < 0:
            return out
        lo = cut + 1


#: Bytes decoded, or characters counted, by one C call in :func:`decode_utf8` and :func:`count`.
SCAN_PIECE = 1 << 20


def decode_utf8(data: bytes) -> str:
    """``data.decode("utf-8-sig")`` a megabyte at a time (130 MB is ~0.1 s in one C call).

    On any decoding error the whole of ``data`` is decoded once more in one call, so the
    UnicodeDecodeError raised (and the offset it names) is exactly the one-call version's.
    """
    if len(data) <= SCAN_PIECE:
        return data.decode("utf-8-sig")
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    view = memoryview(data)
    try:
        pieces = [decoder.decode(view[i : i + SCAN_PIECE]) for i in range(0, len(data), SCAN_PIECE)]
        pieces.append(decoder.decode(b"", final=True))
    except UnicodeDecodeError:
        return data.decode("utf-8-sig")
    return "".join(pieces)


def count(text: str, chars: str) -> int:
    """How many times each character of ``chars`` occurs in ``text``, summed, a megabyte at a time."""
    return sum(
        text.count(c, i, i + SCAN_PIECE) for c in chars for i in range(0, max(len(text), 1), SCAN_PIECE)
    )
