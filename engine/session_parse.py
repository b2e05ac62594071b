"""Reading a session file's bytes: size guards before reading, UTF-8, and JSON parsing in pieces.

The first half of the one loader (:func:`engine.session.load_session`); :mod:`engine.session_read`
validates what this parses. Every refusal is one :class:`SessionError` naming the file.
"""

from __future__ import annotations

import json
import os
import stat
from typing import BinaryIO

from backprop_lab.engine import json_pieces
from backprop_lab.engine import session_format as _format
from backprop_lab.engine.session_format import MAX_JSON_CONTAINERS, SessionError


def parse(data: bytes | str, source: str) -> object:
    """The JSON document in ``data`` (SessionError if it is not one). Makes no copy of ``data``
    beyond the decoded text, so a large file's bytes and text can be freed before validation."""
    if len(data) > _format.MAX_FILE_BYTES:
        raise SessionError(
            f"the session is {len(data):,} bytes; at most {_format.MAX_FILE_BYTES:,} are allowed", source
        )
    if not data or data.isspace():
        raise SessionError("the file is empty", source)
    if isinstance(data, bytes):
        try:
            # A well-formed session is parsed from its bytes (no 130 MB decoded copy made in one
            # GIL-holding call); anything else takes the text path below, which names the problem.
            return _parse_plain(data, source)
        except json_pieces.NotPlain:
            pass
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


def _parse_plain(data: bytes, source: str) -> object:
    containers = json_pieces.count(data, b"[{")
    if containers > MAX_JSON_CONTAINERS:
        raise json_pieces.NotPlain  # refused on the text path, with the same count
    try:
        return json_pieces.loads_utf8_object(data)
    except MemoryError:
        raise SessionError("there is not enough memory to load the session", source) from None


def _read_path(source: str) -> bytes:
    """The bytes of the regular file ``source``, refused before reading if over _format.MAX_FILE_BYTES."""
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
        if st.st_size > _format.MAX_FILE_BYTES:
            raise SessionError(
                f"the file is {st.st_size:,} bytes; session files over {_format.MAX_FILE_BYTES:,} bytes "
                "are refused",
                source,
            )
        with os.fdopen(fd, "rb", closefd=False) as fh:
            # read(n) reserves n bytes up front, so ask for the size fstat gave (plus one byte, which
            # tells that the file grew meanwhile), not for _format.MAX_FILE_BYTES: that cost 512 MiB a load.
            data = fh.read(st.st_size + 1)
            if len(data) > st.st_size:
                data += fh.read(_format.MAX_FILE_BYTES + 1 - len(data))
    except OSError as exc:
        raise SessionError(f"cannot read the file: {exc.strerror or exc}", source) from None
    except MemoryError:
        raise SessionError("there is not enough memory to read the file", source) from None
    finally:
        os.close(fd)
    return data


def _read_stream(stream: BinaryIO, source: str) -> bytes:
    """At most _format.MAX_FILE_BYTES + 1 bytes of ``stream`` (one more tells it is too long)."""
    chunks: list[bytes] = []
    total = 0
    try:
        while total <= _format.MAX_FILE_BYTES:
            chunk = stream.read(min(1 << 20, _format.MAX_FILE_BYTES + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    except OSError as exc:
        raise SessionError(f"cannot read the input: {exc.strerror or exc}", source) from None
    if total > _format.MAX_FILE_BYTES:
        raise SessionError(
            f"the input is over {_format.MAX_FILE_BYTES:,} bytes; session files over "
            f"{_format.MAX_FILE_BYTES:,} bytes are refused",
            source,
        )
    return b"".join(chunks)


def read_source(path: str | os.PathLike[str] | BinaryIO, source: str | None = None) -> tuple[object, str]:
    """The parsed JSON document of a file (or a binary stream such as standard input, read up to the
    same size limit) and the name messages give it (``source``; a stream's default is "<stdin>").
    Refuses anything but a regular file, and files over _format.MAX_FILE_BYTES, before reading them."""
    if isinstance(path, (str, os.PathLike)):
        name = os.fspath(path) if source is None else source
        data = _read_path(os.fspath(path))
    else:
        name = "<stdin>" if source is None else source
        data = _read_stream(path, name)
    document = parse(data, name)  # the bytes are freed before validation
    del data
    return document, name
