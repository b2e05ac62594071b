"""engine.json_pieces parses exactly as json.loads does: same values, same errors."""

from __future__ import annotations

import json
import random

import pytest

from backprop_lab.engine import json_pieces

TRICKY = [
    "[]",
    "[ ]",
    " [1, 2] ",
    "[1,2,]",
    "[1,,2]",
    "[,]",
    "[1 2]",
    "[1,2",
    "[-]",
    "[01]",
    "",
    '{"a":[1,2,3.5e3,-0.0,NaN,Infinity,-Infinity]}',
    '{"a":1,"a":2}',
    "[[1,2],[3,4]]",
    ' {"x" : [ [ ] , [1 ,2 ] ] } ',
    '["a]b",1]',
    '{"a":}',
    '{"a" 1}',
    "[true,false,null,1e400]",
    "123",
    ' "s" ',
    "[1,2]x",
    '{"\\u00e9":[1]}',
    '{"a":[{"b":[1,2,3,4,5,6,7,8,9]}]}',
    "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,]",
    "[1,2,3,4,5,6,7,8,9,10,11,12,13,14, ,15]",
    "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15 ]",
    "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]",
    "[" * 100_000,
]


def _outcome(parse, text):
    try:
        return "value", json.dumps(parse(text))
    except Exception as exc:  # the same exception type and message
        return "error", type(exc).__name__, str(exc)


@pytest.mark.parametrize("text", TRICKY)
def test_same_value_or_same_error_as_json_loads(text, monkeypatch):
    monkeypatch.setattr(json_pieces, "PIECE_CHARS", 8)  # long arrays are cut into many pieces
    assert _outcome(json_pieces.loads, text) == _outcome(json.loads, text)


def test_a_session_shaped_document_parses_identically_in_small_pieces(monkeypatch):
    rng = random.Random(0)
    doc = {
        "model": {"A": [[rng.uniform(-1, 1) for _ in range(40)] for _ in range(40)], "x": [0.5] * 40},
        "history": {"loss": [rng.lognormvariate(0, 1) for _ in range(5000)], "epoch": list(range(5000))},
        "name": "a, [b] {c}",
    }
    text = json.dumps(doc, indent=1)
    monkeypatch.setattr(json_pieces, "PIECE_CHARS", 100)
    parsed = json_pieces.loads(text)
    assert parsed == doc and json.dumps(parsed) == json.dumps(json.loads(text))


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xef\xbb\xbf{}",
        "é ü 漢字 🙂 ".encode() * 50,
        b"[1,2]" * 40 + b"\xff" + b"[3]" * 40,
        "🙂".encode() * 30 + b"\xf0\x9f",  # truncated at the end
    ],
)
def test_decoding_and_counting_in_pieces_match_the_one_call_versions(data, monkeypatch):
    monkeypatch.setattr(json_pieces, "SCAN_PIECE", 7)  # every multi-byte character gets cut somewhere
    assert _outcome(json_pieces.decode_utf8, data) == _outcome(lambda d: d.decode("utf-8-sig"), data)
    text = data.decode("utf-8", errors="replace") + "[{[" * 5
    assert json_pieces.count(text, "[{") == text.count("[") + text.count("{")


BYTES_CASES = [
    *(t.encode() for t in TRICKY if len(t) < 1000),
    b'{"a": "q\\"uote\\\\", "b\\"": [1, 2], "c": "\\\\"}',
    b'{"name": "\xc3\xa9 \xf0\x9f\x99\x82", "x": [1e400, -0.0, NaN]}',
    b"\xef\xbb\xbf" + b'{"a": [1, 2]}',
    b'{"a": [1, 2]} \n',
    b'{"a": [1, 2]}]',
    b'{"a": tru}',
    b'{"a": 1 2}',
    b'{"a": "\xff"}',
    b'{"a": "unterminated}',
    b'{"a": [1, 2], "a": {"b": []}}',
]


@pytest.mark.parametrize("data", BYTES_CASES)
def test_objects_parse_from_bytes_as_json_loads_would_or_are_left_to_it(data, monkeypatch):
    monkeypatch.setattr(json_pieces, "PIECE_CHARS", 4)
    monkeypatch.setattr(json_pieces, "SCAN_PIECE", 3)
    try:
        value = json_pieces.loads_utf8_object(data)
    except json_pieces.NotPlain:
        # Left to the text path: only what json.loads would not return as an object.
        outcome = _outcome(lambda d: json.loads(d.decode("utf-8-sig")), data)
        assert outcome[0] == "error" or not isinstance(json.loads(data.decode("utf-8-sig")), dict)
        return
    assert json.dumps(value) == json.dumps(json.loads(data.decode("utf-8-sig")))


def test_a_session_shaped_file_parses_from_its_bytes_in_small_pieces(monkeypatch):
    rng = random.Random(1)
    doc = {
        "model": {"A": [[rng.uniform(-1, 1) for _ in range(30)] for _ in range(30)], "x": [0.25] * 30},
        "history": {"loss": [rng.lognormvariate(0, 1) for _ in range(3000)], "step": list(range(3000))},
        "name": 'a, [b] {c} "d" é',
        "notes": "line\nbreak \\ backslash",
    }
    data = json.dumps(doc, indent=1, ensure_ascii=False).encode()
    monkeypatch.setattr(json_pieces, "PIECE_CHARS", 50)
    monkeypatch.setattr(json_pieces, "SCAN_PIECE", 5)
    parsed = json_pieces.loads_utf8_object(data)
    assert parsed == doc and json.dumps(parsed) == json.dumps(json.loads(data))
