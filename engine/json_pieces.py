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
import re
from collections.abc import Callable
from typing import AnyStr

__all__ = ["PIECE_CHARS", "NotPlain", "count", "decode_utf8", "loads", "loads_utf8_object"]

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


class NotPlain(Exception):
    """:func:`loads_utf8_object` leaves these bytes to ``loads(decode_utf8(data))``, which parses
    them or raises the error that names the problem (not UTF-8, not JSON, …)."""


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


def count(text: AnyStr, chars: AnyStr) -> int:
    """How many times each character of ``chars`` occurs in ``text`` (str or bytes), summed, a
    megabyte at a time."""
    needles = [chars[k : k + 1] for k in range(len(chars))]
    return sum(
        text.count(c, i, i + SCAN_PIECE) for c in needles for i in range(0, max(len(text), 1), SCAN_PIECE)
    )


# --------------------------------------------------------------------------- straight from bytes

_BOM = codecs.BOM_UTF8
_WHITESPACE_BYTES = b" \t\n\r"
_SCALAR_END = re.compile(rb"[,\]}\s]")


def loads_utf8_object(data: bytes) -> object:
    """``json.loads(data.decode("utf-8-sig"))`` for a file holding one JSON object, without
    the decoded copy of the whole: making a 130 MB str is one C call of ~75 ms that holds the GIL
    (decoding it or joining decoded pieces alike). The bytes are checked to be UTF-8 a megabyte
    at a time and walked as :func:`loads` walks text, each flat number array parsed in pieces.

    Raises :class:`NotPlain` for anything else (not UTF-8, not an object, anything the walk does
    not expect, valid or not): the caller then takes the text path, whose value and errors are
    ``json.loads``'s own.
    """
    start = len(_BOM) if data.startswith(_BOM) else 0
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    try:
        for i in range(start, len(data), SCAN_PIECE):
            decoder.decode(view[i : i + SCAN_PIECE])  # validity only: the text is dropped
        decoder.decode(b"", final=True)
        i = _skip_bytes(data, start)
        if data[i : i + 1] != b"{":
            raise NotPlain
        value, end = _bytes_object(data, i)
        if _skip_bytes(data, end) != len(data):
            raise NotPlain
        return value
    except (_Unexpected, ValueError, IndexError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise NotPlain from None


def _skip_bytes(data: bytes, i: int) -> int:
    n = len(data)
    while i < n and data[i] in _WHITESPACE_BYTES:
        i += 1
    return i


def _bytes_value(data: bytes, i: int) -> tuple[object, int]:
    c = data[i : i + 1]
    if c == b"{":
        return _bytes_object(data, i)
    if c == b"[":
        return _bytes_array(data, i)
    if c == b'"':
        end = _string_end(data, i)
    else:  # a number or literal runs to the next separator
        found = _SCALAR_END.search(data, i)
        end = found.start() if found else len(data)
    return json.loads(data[i:end]), end  # one short value: a short call


def _string_end(data: bytes, i: int) -> int:
    """The index just past the string that opens at ``data[i]`` (a quote not escaped)."""
    j = i
    while True:
        j = data.find(b'"', j + 1)
        if j < 0:
            raise _Unexpected
        backslashes = 0
        while data[j - 1 - backslashes] == 0x5C:  # "\\"
            backslashes += 1
        if backslashes % 2 == 0:
            return j + 1


def _bytes_object(data: bytes, i: int) -> tuple[dict[str, object], int]:
    out: dict[str, object] = {}
    i = _skip_bytes(data, i + 1)
    if data[i : i + 1] == b"}":
        return out, i + 1
    while True:
        if data[i : i + 1] != b'"':
            raise _Unexpected
        end = _string_end(data, i)
        key = json.loads(data[i:end])
        i = _skip_bytes(data, end)
        if data[i : i + 1] != b":":
            raise _Unexpected
        out[key], i = _bytes_value(data, _skip_bytes(data, i + 1))  # a repeated key: the last wins
        i = _skip_bytes(data, i)
        if data[i : i + 1] == b"}":
            return out, i + 1
        if data[i : i + 1] != b",":
            raise _Unexpected
        i = _skip_bytes(data, i + 1)


def _bytes_array(data: bytes, i: int) -> tuple[list[object], int]:
    close = data.find(b"]", i)
    if close < 0:
        raise _Unexpected
    inner = i + 1
    if not any(data.find(c, inner, close) >= 0 for c in (b"[", b"{", b'"')):
        return _bytes_flat_array(data, inner, close), close + 1
    out: list[object] = []
    i = _skip_bytes(data, inner)
    if data[i : i + 1] == b"]":
        return out, i + 1
    while True:
        value, i = _bytes_value(data, i)
        out.append(value)
        i = _skip_bytes(data, i)
        if data[i : i + 1] == b"]":
            return out, i + 1
        if data[i : i + 1] != b",":
            raise _Unexpected
        i = _skip_bytes(data, i + 1)


def _bytes_flat_array(data: bytes, lo: int, hi: int) -> list[object]:
    """The elements of ``data[lo:hi]`` (no string, array or object inside), a piece at a time."""
    if _skip_bytes(data, lo) >= hi:  # not data[lo:hi].strip(): a history column is megabytes
        return []
    out: list[object] = []
    while True:
        cut = data.find(b",", lo + PIECE_CHARS, hi) if hi - lo > PIECE_CHARS else -1
        piece = data[lo : hi if cut < 0 else cut]
        if piece.strip(_WHITESPACE_BYTES) == b"":
            raise _Unexpected
        out.extend(json.loads(b"[" + piece + b"]"))
        if cut < 0:
            return out
        lo = cut + 1
