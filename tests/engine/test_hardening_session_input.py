"""Hostile session files (issue #7): whatever a file holds, ``load_session`` returns a Session or
raises SessionError (one line), within bounded memory, and never changes the file.

tests/engine/test_session_fuzz.py fuzzes random bytes, random JSON, session-shaped documents and
mutated valid sessions in memory; this file adds what only shows on disk or at scale: a 1 GB
(sparse) file, a K of a million, millions of entries, deep nesting, huge numbers, and hypothesis
over hostile documents written to real files, each load's memory peak measured.

No test here times a load (the machine's speed is not a property of the code); a generous
pytest-timeout turns a load that hangs into a failure. The load times are in
tests/bench/bench_hostile_input.py.
"""

from __future__ import annotations

import json
import os
import tracemalloc

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backprop_lab.engine import session as session_module
from backprop_lab.engine.session import Session, SessionError, dumps_session, load_session

FUZZ = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
BASE = json.loads(dumps_session(Session.random(3, 0), history_encoding="json"))
COUNTS: dict[str, int] = {}
#: A load that hangs fails instead of stalling the suite; never a speed target.
pytestmark = [pytest.mark.reliability("session-files"), pytest.mark.timeout(300)]


def _load(path) -> Session | SessionError:
    """The outcome of loading ``path`` (a Session or the one-line SessionError); anything else propagates."""
    try:
        outcome: Session | SessionError = load_session(path)
    except SessionError as exc:
        outcome = exc
    if isinstance(outcome, SessionError):
        text = str(outcome)
        assert text.startswith(f"{path}: ") and "\n" not in text and len(text) < 500, text
    return outcome


def _load_measured(path) -> tuple[Session | SessionError, int]:
    """(outcome, tracemalloc peak bytes) of loading ``path``.

    tracemalloc slows every allocation down several times: use it only where memory is asserted.
    """
    tracemalloc.start()
    try:
        outcome = _load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return outcome, peak


def _with_x_entry(literal: str) -> str:
    """The base session's text with x[2] replaced by a raw JSON literal."""
    model = {**BASE["model"], "x": [0.5, 0.5, "@"]}
    return json.dumps({**BASE, "model": model}).replace('"@"', literal)


def _write(tmp_path, text: str | bytes, name: str = "hostile.json"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    return path


def test_a_1_gb_sparse_file_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "huge.json"
    with open(path, "wb") as fh:
        fh.truncate(1 << 30)  # sparse: no disk used
    stat_before = os.stat(path)
    outcome, peak = _load_measured(path)
    assert isinstance(outcome, SessionError)
    assert "1,073,741,824 bytes" in str(outcome) and "refused" in str(outcome)
    # Under a megabyte allocated for a gigabyte file: refused from its size, before any read.
    assert peak < 1_000_000, f"{peak:,} bytes allocated: the file was read"
    assert os.stat(path).st_mtime_ns == stat_before.st_mtime_ns


def test_every_load_allocates_about_the_file_not_the_size_limit(tmp_path):
    # A 1 KB file used to reserve MAX_FILE_BYTES (512 MiB) for the read.
    path = _write(tmp_path, json.dumps(BASE))
    outcome, peak = _load_measured(path)
    assert isinstance(outcome, Session)
    assert peak < 2_000_000, f"loading a {path.stat().st_size:,}-byte file peaked at {peak:,} bytes"


@pytest.mark.parametrize(
    ("label", "model", "fragment"),
    [
        ("K of a million", {"K": 1_000_000, "x": [0] * 1000, "A": [], "B": [], "C": []}, "K must be ≤ 1,024"),
        ("x of a million", {"x": [0.5] * 1_000_000, "A": [], "B": [], "C": []}, "at most 1024 are supported"),
        ("A of 50,000 rows", {"x": [0.5] * 3, "A": [[0]] * 50_000, "B": [], "C": []}, "expected 3"),
        ("K = 10**400", {"K": 10**400, "x": [0.5], "A": [[0]], "B": [[0]], "C": [[0]]}, "must be ≤ 1,024"),
        ("K = 1e308", {"K": 1e308, "x": [0.5], "A": [[0]], "B": [[0]], "C": [[0]]}, "must be ≤ 1,024"),
    ],
)
def test_a_huge_model_is_refused_early_in_bounded_time_and_memory(tmp_path, label, model, fragment):
    path = _write(tmp_path, json.dumps({**BASE, "model": model}))
    size = path.stat().st_size
    outcome, peak = _load_measured(path)
    assert isinstance(outcome, SessionError) and fragment in str(outcome), (label, outcome)
    assert "model." in str(outcome)
    # Parsing is the only cost (json.loads: ~10× the file for lists of numbers, ~25× for lists of
    # empty lists); nothing K-sized is built.
    assert peak < 40 * size + 5_000_000, f"{label}: {size:,}-byte file peaked at {peak:,} bytes"


@pytest.mark.parametrize(
    ("label", "history", "fragment"),
    [
        ("6 million entries", {"loss": [0.5] * 6_000_000}, "at most 5,000,000"),
        (
            "6 million base64",
            {"loss": {"encoding": "base64-float64-le", "data": "A" * 64_000_000}},
            "at most",
        ),
        (
            "ragged columns",
            {**{c: [0.5] * 10 for c in session_module.HISTORY_COLUMNS}, "epoch": [1] * 9},
            "9",
        ),
    ],
)
def test_huge_or_ragged_histories_are_refused(tmp_path, label, history, fragment):
    path = _write(tmp_path, json.dumps({**BASE, "history": history}))
    outcome = _load(path)
    assert isinstance(outcome, SessionError) and fragment in str(outcome), (label, outcome)


@pytest.mark.parametrize(
    ("label", "text", "fragment"),
    [
        ("100,000 nested lists", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
        ("100,000 nested objects", '{"a":' * 100_000 + "1" + "}" * 100_000, "nested too deeply"),
        (
            "nested notes",
            json.dumps({**BASE, "notes": 0})[:-1] + ', "x": ' + "[" * 50_000 + "]" * 50_000 + "}",
            "",
        ),
        (
            "a 100,000-digit integer",
            json.dumps({**BASE, "version": 0})[:-1] + ', "n": ' + "9" * 100_000 + "}",
            "",
        ),
        ("1e400 in x", _with_x_entry("1e400"), "not finite"),
        ("NaN in A", json.dumps(BASE).replace('"A": [[', '"A": [[NaN, ', 1), ""),
        (
            "lr 10**400",
            json.dumps(BASE).replace('"learning_rate": 0.01', '"learning_rate": 1' + "0" * 400),
            "large",
        ),
        ("a NUL byte", json.dumps(BASE)[:40] + "\0" + json.dumps(BASE)[40:], "JSON"),
        ("UTF-16", json.dumps(BASE).encode("utf-16"), "UTF-8"),
        ("a lone surrogate", json.dumps(BASE).replace('"notes": ""', '"notes": "\\ud800"'), ""),
    ],
)
def test_pathological_documents_give_one_line_errors(tmp_path, label, text, fragment):
    path = _write(tmp_path, text)
    before = path.read_bytes()
    outcome = _load(path)
    if isinstance(outcome, SessionError):
        assert fragment in str(outcome), (label, outcome)
    else:
        assert label in ("nested notes", "a lone surrogate"), f"{label} was accepted"
    assert path.read_bytes() == before


# --------------------------------------------------------------------------- fuzzing on disk

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.sampled_from([10**400, -(10**400), 1e308, -1e308, 5e-324, 0.0, -0.0, 2**63, 2**64, 1024, 1025, 0])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
)


def _huge(kind: str, n: int) -> object:
    return {"list": [0.5] * n, "nested": json.loads("[" * 500 + "]" * 500), "str": "x" * n}[kind]


hostile_values = st.one_of(
    scalars,
    st.recursive(
        scalars, lambda k: st.lists(k, max_size=4) | st.dictionaries(st.text(max_size=4), k, max_size=4)
    ),
    st.builds(_huge, st.sampled_from(["list", "nested", "str"]), st.sampled_from([1025, 100_000, 400_000])),
)
FIELDS = [
    "format",
    "version",
    "model",
    "initial",
    "training",
    "history",
    "divergence",
    "name",
    "notes",
    "created",
    "modified",
    "app_version",
]
SUBFIELDS = {
    "model": ["K", "x", "A", "B", "C"],
    "training": ["learning_rate", "batch_size", "n_samples", "epochs", "seed"],
    "history": [*session_module.HISTORY_COLUMNS, "epoch"],
}


@FUZZ
@given(
    st.lists(st.tuples(st.sampled_from(FIELDS), st.none() | st.text(max_size=8), hostile_values), max_size=4)
)
def _fuzz_hostile_fields_on_disk(tmp_path, edits):
    doc = json.loads(json.dumps(BASE))
    for field, sub, value in edits:
        names = SUBFIELDS.get(field)
        if names and sub is not None and isinstance(doc.get(field), dict):
            doc[field][names[len(sub) % len(names)]] = value
        else:
            doc[field] = value
    path = _write(tmp_path, json.dumps(doc))
    size = path.stat().st_size
    outcome, peak = _load_measured(path)
    COUNTS["hostile fields"] = COUNTS.get("hostile fields", 0) + 1
    assert peak < 40 * size + 5_000_000, f"{size:,}-byte file peaked at {peak:,} bytes"
    if isinstance(outcome, Session):
        assert outcome.model.K <= 1024


def test_hostile_fields_in_real_files(tmp_path):
    _fuzz_hostile_fields_on_disk(tmp_path)
    assert COUNTS["hostile fields"] >= 100


@FUZZ
@given(st.binary(min_size=1, max_size=2000), st.integers(0, 4000))
def _fuzz_bytes_spliced_into_a_valid_file(tmp_path, noise, where):
    text = json.dumps(BASE).encode()
    where = min(where, len(text))
    path = _write(tmp_path, text[:where] + noise + text[where + len(noise) // 2 :])
    _load(path)
    COUNTS["spliced bytes"] = COUNTS.get("spliced bytes", 0) + 1


def test_random_bytes_spliced_into_real_files(tmp_path):
    _fuzz_bytes_spliced_into_a_valid_file(tmp_path)
    assert COUNTS["spliced bytes"] >= 100


def test_millions_of_tiny_arrays_are_refused_before_parsing(tmp_path):
    # Parsed, a million empty lists would cost ~25× the file; counting brackets costs nothing.
    path = _write(tmp_path, json.dumps({**BASE, "model": {"x": [0.5], "A": [[]] * 1_000_000}}))
    outcome, peak = _load_measured(path)
    assert isinstance(outcome, SessionError), outcome
    assert "1,000,0" in str(outcome) and "JSON arrays/objects (at most 100,000)" in str(outcome)
    assert peak < 2 * path.stat().st_size + 5_000_000
