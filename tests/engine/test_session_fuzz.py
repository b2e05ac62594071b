"""Fuzzing the session loader: whatever the bytes, it returns a Session or raises SessionError (one line).

Budgeted for CI (a few seconds in all): derandomized, no example database.
"""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from backprop_lab.engine.session import (
    RunRef,
    Session,
    SessionError,
    dumps_session,
    loads_session,
    session_from_dict,
)
from backprop_lab.engine.training import Divergence, TrainingSettings

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SOURCE = "fuzz.json"

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda kids: st.lists(kids, max_size=5) | st.dictionaries(st.text(max_size=6), kids, max_size=5),
    max_leaves=20,
)


def _valid_dict(encoding: str = "json") -> dict:
    s = Session.random(2, 5)
    trainer = s.make_trainer(TrainingSettings(learning_rate=0.1, batch_size=2, n_samples=6, epochs=2, seed=1))
    s.history.extend(trainer.steps())
    s.finish_run(trainer)
    trainer = s.make_trainer(TrainingSettings(learning_rate=0.2, batch_size=3, n_samples=6, epochs=1, seed=2))
    s.history.extend(trainer.steps())  # a second segment, and a compared run: version 3's fields
    s.finish_run(trainer)
    s.compared = [RunRef("/elsewhere/other.bpl.json", "other", "#1f77b4", visible=False)]
    s.divergence = Divergence(9, 4, "diverged")
    return json.loads(dumps_session(s, history_encoding=encoding))


VALID = {enc: _valid_dict(enc) for enc in ("json", "base64")}
VALID_TEXT = dumps_session(session_from_dict(VALID["json"]), history_encoding="json").encode()


def _outcome(load) -> Session | SessionError:
    try:
        result = load()
    except SessionError as exc:
        text = str(exc)
        assert text.startswith(f"{SOURCE}: "), text
        assert "\n" not in text and len(text) < 500, text
        assert "Traceback" not in text
        return exc
    assert isinstance(result, Session)
    return result


def _paths(node, prefix=()):
    """Every path (tuple of keys and indices) to a node of a JSON document, the root excluded."""
    if isinstance(node, dict):
        for k, v in node.items():
            yield (*prefix, k)
            yield from _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield (*prefix, i)
            yield from _paths(v, (*prefix, i))


PATHS = {enc: list(_paths(d)) for enc, d in VALID.items()}


def _parent(doc, path):
    node = doc
    for p in path[:-1]:
        node = node[p]
    return node


@FUZZ
@given(st.binary(max_size=600))
def test_random_bytes(data):
    _outcome(lambda: loads_session(data, SOURCE))


@FUZZ
@given(json_values)
def test_random_json(value):
    _outcome(lambda: session_from_dict(value, SOURCE))
    _outcome(lambda: loads_session(json.dumps(value), SOURCE))


session_like = st.fixed_dictionaries(
    {},
    optional={
        "format": st.sampled_from(["backprop-lab-session", "other"]) | json_values,
        "version": st.sampled_from([0, 1, 2, 3]) | json_values,
        "model": json_values,
        "x": json_values,
        "training": json_values,
        "history": json_values,
        "initial": json_values,
        "divergence": json_values,
        "segments": json_values,
        "compared": json_values,
    },
)


@FUZZ
@given(session_like)
def test_random_documents_with_session_keys(doc):
    _outcome(lambda: session_from_dict(doc, SOURCE))


MUTATIONS = ["delete", "replace", "nan", "inf", "grow", "shrink", "stringify"]


@FUZZ
@given(st.sampled_from(["json", "base64"]), st.data())
def test_mutated_valid_sessions(encoding, data):
    doc = json.loads(json.dumps(VALID[encoding]))
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        paths = list(_paths(doc))
        if not paths:
            break
        path = data.draw(st.sampled_from(paths), label="path")
        parent, key = _parent(doc, path), path[-1]
        op = data.draw(st.sampled_from(MUTATIONS), label="op")
        if op == "delete":
            del parent[key]
        elif op == "replace":
            parent[key] = data.draw(json_values, label="value")
        elif op == "nan":
            parent[key] = math.nan
        elif op == "inf":
            parent[key] = data.draw(st.sampled_from([math.inf, -math.inf, 1e308 * 10]), label="inf")
        elif op == "grow" and isinstance(parent[key], list):
            parent[key].append(data.draw(json_scalars, label="extra"))
        elif op == "shrink" and isinstance(parent[key], list) and parent[key]:
            parent[key].pop()
        elif op == "stringify":
            parent[key] = str(parent[key])
    _outcome(lambda: session_from_dict(doc, SOURCE))
    text = json.dumps(doc)  # NaN/Infinity literals included, as a careless writer would
    result = _outcome(lambda: loads_session(text, SOURCE))
    if isinstance(result, Session):
        # Whatever was accepted must save and load back to the same session.
        assert loads_session(dumps_session(result), SOURCE) == result


@FUZZ
@given(st.integers(0, len(VALID_TEXT.rstrip()) - 1), st.integers(0, 255))
def test_truncated_and_corrupted_files(position, byte):
    truncated = VALID_TEXT.rstrip()[:position]  # cut anywhere before the closing brace
    result = _outcome(lambda: loads_session(truncated, SOURCE))
    assert isinstance(result, SessionError)
    corrupted = VALID_TEXT[:position] + bytes([byte]) + VALID_TEXT[position + 1 :]
    _outcome(lambda: loads_session(corrupted, SOURCE))


@pytest.mark.parametrize("encoding", ["json", "base64"])
def test_the_fuzzed_documents_start_out_valid(encoding):
    s = session_from_dict(VALID[encoding], SOURCE)
    assert len(s.history) == 8 and len(PATHS[encoding]) > 40
    assert len(s.segments) == 2 and s.compared[0].name == "other"
