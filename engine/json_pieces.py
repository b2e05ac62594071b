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
from typing import AnyStr, Generic

__all__ = ["PIECE_CHARS", "NotPlain", "count", "decode_utf8", "loads", "loads_utf8_object"]

#: Characters of a flat number array parsed by one C call (~1 ms).
PIECE_CHARS = 1 << 16

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


class _Text(Generic[AnyStr]):
    """The JSON walk's view of one document, str or bytes: the same walk serves both, with the
    punctuation spelled in the document's type and its own way to read a scalar and a key."""

    text: AnyStr
    whitespace: AnyStr
    lbrace: AnyStr
    rbrace: AnyStr
    lbracket: AnyStr
    rbracket: AnyStr
    quote: AnyStr
    colon: AnyStr
    comma: AnyStr
    scalar: Callable[[AnyStr, int], tuple[object, int]]
    key: Callable[[AnyStr, int], tuple[str, int]]

    def __init__(
        self,
        text: AnyStr,
        punctuation: AnyStr,
        scalar: Callable[[AnyStr, int], tuple[object, int]],
        key: Callable[[AnyStr, int], tuple[str, int]],
    ) -> None:
        self.text = text
        self.n = len(text)
        # " \t\n\r" and then {}[]":, one character each, as str or as bytes.
        self.whitespace = punctuation[:4]
        self.lbrace, self.rbrace = punctuation[4:5], punctuation[5:6]
        self.lbracket, self.rbracket = punctuation[6:7], punctuation[7:8]
        self.quote, self.colon, self.comma = punctuation[8:9], punctuation[9:10], punctuation[10:11]
        self.scalar = scalar  # a string, number or literal at i: (value, end)
        self.key = key  # the string whose quote is at i: (key, end)

    def at(self, i: int) -> AnyStr:
        return self.text[i : i + 1]  # empty past the end: it matches no punctuation

    def skip(self, i: int) -> int:
        while i < self.n and self.text[i : i + 1] in self.whitespace:
            i += 1
        return i

    def document(self) -> object:
        value, end = self.parse_value(self.skip(0))
        if self.skip(end) != self.n:
            raise _Unexpected
        return value

    def parse_value(self, i: int) -> tuple[object, int]:
        c = self.at(i)
        if c == self.lbrace:
            return self.parse_object(i)
        if c == self.lbracket:
            return self.parse_array(i)
        if not c:
            raise _Unexpected
        return self.scalar(self.text, i)

    def parse_object(self, i: int) -> tuple[dict[str, object], int]:
        out: dict[str, object] = {}
        i = self.skip(i + 1)
        if self.at(i) == self.rbrace:
            return out, i + 1
        while True:
            if self.at(i) != self.quote:
                raise _Unexpected
            key, i = self.key(self.text, i)
            i = self.skip(i)
            if self.at(i) != self.colon:
                raise _Unexpected
            out[key], i = self.parse_value(self.skip(i + 1))  # a repeated key: the last one wins
            i = self.skip(i)
            if self.at(i) == self.rbrace:
                return out, i + 1
            if self.at(i) != self.comma:
                raise _Unexpected
            i = self.skip(i + 1)

    def parse_array(self, i: int) -> tuple[list[object], int]:
        text = self.text
        close = text.find(self.rbracket, i)
        if close < 0:
            raise _Unexpected
        inner = i + 1
        if not any(text.find(c, inner, close) >= 0 for c in (self.lbracket, self.lbrace, self.quote)):
            return self.flat_array(inner, close), close + 1
        out: list[object] = []
        i = self.skip(inner)
        if self.at(i) == self.rbracket:
            return out, i + 1
        while True:
            value, i = self.parse_value(i)
            out.append(value)
            i = self.skip(i)
            if self.at(i) == self.rbracket:
                return out, i + 1
            if self.at(i) != self.comma:
                raise _Unexpected
            i = self.skip(i + 1)

    def flat_array(self, lo: int, hi: int) -> list[object]:
        """The elements of ``text[lo:hi]`` (no string, array or object inside: commas split it
        safely), parsed by the C parser a piece of about :data:`PIECE_CHARS` at a time."""
        text = self.text
        if self.skip(lo) >= hi:  # not text[lo:hi].strip(): a history column is megabytes
            return []
        out: list[object] = []
        while True:
            cut = text.find(self.comma, lo + PIECE_CHARS, hi) if hi - lo > PIECE_CHARS else -1
            end = hi if cut < 0 else cut
            if self.skip(lo) >= end:  # "[1,,2]" or "[1,]": json.loads names the error
                raise _Unexpected
            out.extend(json.loads(self.lbracket + text[lo:end] + self.rbracket))
            if cut < 0:
                return out
            lo = cut + 1


def loads(text: str) -> object:
    """Parse the JSON document ``text`` exactly as ``json.loads`` would (same value, same errors)."""
    try:
        return _Text(text, ' \t\n\r{}[]":,', _scan_once, _text_key).document()
    except (_Unexpected, ValueError, IndexError, StopIteration, RecursionError):
        return json.loads(text)


def _text_key(text: str, i: int) -> tuple[str, int]:
    return _scanstring(text, i + 1)


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
        walk = _Text(data, b' \t\n\r{}[]":,', _bytes_scalar, _bytes_key)
        i = walk.skip(start)
        if walk.at(i) != b"{":
            raise NotPlain
        value, end = walk.parse_object(i)
        if walk.skip(end) != len(data):
            raise NotPlain
        return value
    except (_Unexpected, ValueError, IndexError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise NotPlain from None


def _bytes_scalar(data: bytes, i: int) -> tuple[object, int]:
    if data[i : i + 1] == b'"':
        end = _string_end(data, i)
    else:  # a number or literal runs to the next separator
        found = _SCALAR_END.search(data, i)
        end = found.start() if found else len(data)
    return json.loads(data[i:end]), end  # one short value: a short call


def _bytes_key(data: bytes, i: int) -> tuple[str, int]:
    end = _string_end(data, i)
    key = json.loads(data[i:end])
    if not isinstance(key, str):
        raise _Unexpected
    return key, end


def _string_end(data: bytes, i: int) -> int:
    """The index just past the string that opens at ``data[i]`` (a quote not escaped)."""
    j = i
    while True:
        j = data.find(b'"', j + 1)
        if j < 0:
            raise _Unexpected
        backslashes = 0
        while data[j - 1 - backslashes] == 0x5C:  # a backslash
            backslashes += 1
        if backslashes % 2 == 0:
            return j + 1
