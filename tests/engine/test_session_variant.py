"""Session format version 2: the variant in the file, version 1 files migrated, the writer's exact
bytes, and saving streamed to the file piece by piece."""

from __future__ import annotations

import io
import json
import math
import os
from array import array
from itertools import product
from pathlib import Path

import pytest

from backprop_lab.engine import json_pieces, session_format, session_write
from backprop_lab.engine.model import Model
from backprop_lab.engine.session import (
    FORMAT_VERSION,
    MIGRATIONS,
    History,
    Session,
    SessionError,
    dumps_session,
    load_session,
    loads_session,
    save_session,
)
from backprop_lab.engine.variant import ACTIVATIONS, CONVENTIONS, DEFAULT_VARIANT, Variant

#: Two version 1 files written by the version 1 writer (the last commit before version 2), one
#: per history encoding: awkward numbers (-0.0, 5e-324, 1e300), text that needs escaping, a
#: divergence. Never regenerate them: they are what older Backprop Labs wrote.
V1_FILES = {enc: Path(__file__).parent / "sessions_v1" / f"v1-{enc}.json" for enc in ("json", "base64")}
DEFAULT_LINE = ' "variant": {"activation": "sigmoid", "convention": "row", "target": null},\n'


def _as_current(v1_text: str, variant_line: str = DEFAULT_LINE) -> str:
    """What the version 1 writer's text becomes in version 2: the version, and the variant's line
    just before the model's; written now, also version 3's segments (the history is one run under
    the file's settings) and compared runs (none), just before the history."""
    assert v1_text.count('\n "version": 1,\n') == 1 and v1_text.count('\n "model": {') == 1
    text = v1_text.replace('\n "version": 1,\n', f'\n "version": {FORMAT_VERSION},\n')
    training = json.dumps(json.loads(v1_text)["training"])
    added = f' "segments": [\n  {{"first_step": 1, "training": {training}}}\n ],\n "compared": [],\n'
    assert text.count('\n "history": {') == 1
    text = text.replace('\n "history": {', "\n" + added + ' "history": {')
    return text.replace('\n "model": {', "\n" + variant_line + ' "model": {')


# --------------------------------------------------------------------------- version 1 files


@pytest.mark.parametrize("enc", V1_FILES)
def test_a_version_1_file_loads_as_the_reports_own_variant(enc):
    s = load_session(V1_FILES[enc])
    assert s.model.variant == s.initial.variant == DEFAULT_VARIANT
    assert s.name == 'Golden "v1" — σ(a)' and len(s.history) == 13
    assert math.copysign(1.0, s.initial.A[0][1]) == -1.0 and s.initial.A[2][2] == 5e-324
    assert s.history.column("loss")[-3:].tolist() == [1e300, 5e-324, 0.0]
    assert s.divergence is not None and s.divergence.epoch == 2**40


@pytest.mark.parametrize("enc", V1_FILES)
def test_a_version_1_file_takes_the_bytes_fast_path(enc):
    # The parser's bytes path is version-agnostic: a version 1 file never needs the decoded copy.
    data = V1_FILES[enc].read_bytes()
    assert json_pieces.loads_utf8_object(data) == json.loads(data)


def test_the_migration_from_version_1_names_the_default_variant():
    v1 = json.loads(V1_FILES["json"].read_text(encoding="utf-8"))
    v2 = MIGRATIONS[1](dict(v1))
    assert v2["version"] == 2 and v2["variant"] == DEFAULT_VARIANT.as_dict()
    assert {k: v for k, v in v2.items() if k not in ("version", "variant")} == {
        k: v for k, v in v1.items() if k != "version"
    }
    assert "variant" not in v1  # the document handed in is not modified


def test_a_version_1_file_claiming_a_variant_is_refused_not_guessed_at():
    v1 = json.loads(V1_FILES["json"].read_text(encoding="utf-8"))
    v1["variant"] = {"activation": "tanh", "convention": "row", "target": None}
    with pytest.raises(SessionError, match=r'^old\.json: a version 1 session has no "variant"') as info:
        loads_session(json.dumps(v1), "old.json")
    assert "\n" not in str(info.value)


def test_a_newer_version_is_refused_with_one_line_saying_to_update():
    d = json.loads(dumps_session(Session.random(2, 0)))
    d["version"] = FORMAT_VERSION + 1
    with pytest.raises(SessionError) as info:
        loads_session(json.dumps(d), "new.json")
    assert str(info.value) == (
        f"new.json: the session was written by a newer Backprop Lab (format version {FORMAT_VERSION + 1}; "
        f"this version reads up to {FORMAT_VERSION}): update Backprop Lab to open it"
    )


# --------------------------------------------------------------------------- the exact bytes


@pytest.mark.parametrize("enc", V1_FILES)
def test_the_writer_keeps_the_version_1_bytes_apart_from_version_and_variant(enc):
    v1_text = V1_FILES[enc].read_text(encoding="utf-8")
    s = load_session(V1_FILES[enc])
    assert dumps_session(s, enc) == _as_current(v1_text)


@pytest.mark.parametrize("enc", V1_FILES)
def test_a_variant_is_written_as_its_own_line(enc):
    v1_text = V1_FILES[enc].read_text(encoding="utf-8")
    s = load_session(V1_FILES[enc])
    variant = Variant("softplus", "column", (-0.0, 5e-324, 2.5))
    s.model, s.initial = s.model.with_variant(variant), s.initial.with_variant(variant)
    line = ' "variant": {"activation": "softplus", "convention": "column", "target": [-0.0, 5e-324, 2.5]},\n'
    assert dumps_session(s, enc) == _as_current(v1_text, line)


@pytest.mark.parametrize("enc", ["json", "base64"])
def test_the_saved_file_is_exactly_dumps_session_with_the_new_stamps(tmp_path, enc):
    s = load_session(V1_FILES[enc])
    save_session(s, tmp_path / "s.json", history_encoding=enc)
    assert s.modified != "2026-11-27T08:00:00Z"  # stamped
    assert (tmp_path / "s.json").read_bytes() == dumps_session(s, enc).encode("utf-8")


# --------------------------------------------------------------------------- every variant round trips

VARIANTS = [
    Variant(act, conv, target)
    for act, conv, target in product(ACTIVATIONS, CONVENTIONS, (None, (0.5, -0.0, 1e-300)))
]


@pytest.mark.parametrize("variant", VARIANTS, ids=lambda v: v.describe())
def test_every_variant_survives_save_and_load_bit_for_bit(tmp_path, variant):
    model = Session.random(3, 5).model.with_variant(variant)
    s = Session(model=model, initial=model.copy(), name=variant.describe())
    save_session(s, tmp_path / "v.json")
    back = load_session(tmp_path / "v.json")
    assert back.model.variant == back.initial.variant == variant
    if variant.target is not None:
        assert back.model.variant.target is not None
        assert [math.copysign(1.0, t) for t in back.model.variant.target] == [1.0, -1.0, 1.0]
    assert back.model == model
    data = (tmp_path / "v.json").read_bytes()
    # Parsed straight from the bytes (json_pieces' fast path), like every file the writer makes.
    assert json_pieces.loads_utf8_object(data)["variant"] == variant.as_dict()


def test_a_session_has_one_variant():
    h = _long_session(3)
    with pytest.raises(ValueError, match="different variants, and there is a history"):
        Session(model=h.model.with_variant(Variant("tanh")), initial=h.initial, history=h.history)
    m = h.model
    assert Session(model=m.with_variant(Variant("tanh")), initial=m).initial.variant == DEFAULT_VARIANT
    s = _long_session(3)
    s.model = s.model.with_variant(Variant("relu"))  # changed behind the constructor's back
    with pytest.raises(
        SessionError, match=r"^initial is sigmoid, row vectors, no target but the model is relu"
    ):
        dumps_session(s)
    # Without a history, initial is a placeholder the next run replaces: written under the model's.
    s.history = History()
    back = loads_session(dumps_session(s))
    assert back.initial.variant == back.model.variant == Variant("relu") and back.initial.A == s.initial.A


# --------------------------------------------------------------------------- bad variants


def _document(variant: object = DEFAULT_VARIANT.as_dict(), k: int = 3, **extra: object) -> str:
    d = json.loads(dumps_session(Session.random(k, 0)))
    d["variant"] = variant
    d.update(extra)
    return json.dumps(d)


def _delete(key: str) -> dict[str, object]:
    v = DEFAULT_VARIANT.as_dict()
    del v[key]
    return v


BAD_VARIANTS = [
    ({"activation": "swish", "convention": "row", "target": None},
     r"variant\.activation is 'swish'; expected one of sigmoid, tanh, relu, softplus, identity$"),
    ({"activation": 3, "convention": "row", "target": None},
     r"variant\.activation is 3; expected one of sigmoid, tanh, relu, softplus, identity$"),
    ({"activation": "Sigmoid", "convention": "row", "target": None}, r"variant\.activation is 'Sigmoid'"),
    ({"activation": "tanh", "convention": "columns", "target": None},
     r"variant\.convention is 'columns'; expected one of row, column$"),
    ({"activation": "tanh", "convention": None, "target": None}, r"variant\.convention is None; expected"),
    ({"activation": "tanh", "convention": "row", "target": [1.0, 2.0]},
     r"variant\.target has 2 entries; the model has K = 3$"),
    ({"activation": "tanh", "convention": "row", "target": []},
     r"variant\.target is empty: give K numbers, or null for no target$"),
    ({"activation": "tanh", "convention": "row", "target": [1.0, "2", 3.0]},
     r"variant\.target\[1\] must be a number, not '2'$"),
    ({"activation": "tanh", "convention": "row", "target": [1.0, 2.0, True]},
     r"variant\.target\[2\] must be a number, not True$"),
    ({"activation": "tanh", "convention": "row", "target": [1.0, 2.0, 10**400]},
     r"variant\.target\[2\] is too large for a float64$"),
    ({"activation": "tanh", "convention": "row", "target": "1,2,3"},
     r"variant\.target must be null or a list of K numbers, not a string$"),
    ({"activation": "tanh", "convention": "row", "target": [0.0] * 2000},
     r"variant\.target has 2,000 entries; K is at most 1024$"),
    (_delete("activation"), r"variant\.activation is missing$"),
    (_delete("convention"), r"variant\.convention is missing$"),
    (_delete("target"), r"variant\.target is missing$"),
    ([], r"variant must be a JSON object, not a list$"),
]  # fmt: skip


@pytest.mark.parametrize(("variant", "message"), BAD_VARIANTS)
def test_a_bad_variant_is_refused_with_one_line_naming_file_and_field(variant, message):
    with pytest.raises(SessionError, match=r"^run\.json: " + message) as info:
        loads_session(_document(variant), "run.json")
    assert "\n" not in str(info.value) and "Traceback" not in str(info.value)


def test_a_non_finite_target_is_refused():
    text = _document({"activation": "relu", "convention": "row", "target": [1.0, 2.0, 3.0]})
    text = text.replace("[1.0, 2.0, 3.0]", "[1.0, NaN, 3.0]")
    with pytest.raises(SessionError, match=r"^run\.json: variant\.target\[1\] is not finite: nan$"):
        loads_session(text, "run.json")


def test_a_version_2_file_without_a_variant_is_refused():
    d = json.loads(_document())
    del d["variant"]
    with pytest.raises(SessionError, match=r"^run\.json: variant is missing$"):
        loads_session(json.dumps(d), "run.json")


def test_a_bad_variant_leaves_the_file_untouched(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(_document({"activation": "gelu", "convention": "row", "target": None}), encoding="utf-8")
    before = path.read_bytes()
    with pytest.raises(SessionError, match="gelu"):
        load_session(path)
    assert path.read_bytes() == before


# --------------------------------------------------------------------------- streamed saving


class _Recorder(io.FileIO):
    """The temporary file, remembering the size of every write that reaches it."""

    sizes: list[int]

    def write(self, data) -> int:  # type: ignore[override]
        self.sizes.append(len(data))
        return super().write(data)


def _long_session(steps: int) -> Session:
    s = Session.random(2, 0)
    values = array("d", (0.1 * (i % 97) + 1e-7 * i for i in range(steps)))
    s.history = History.from_columns(
        {name: array("d", values) for name in session_format.HISTORY_COLUMNS}, array("q", [1] * steps)
    )
    return s


@pytest.mark.parametrize("enc", ["json", "base64"])
def test_saving_writes_the_file_in_small_pieces_that_join_into_dumps_session(tmp_path, monkeypatch, enc):
    # Tiny pieces, so that a short history needs many: the pieces' joins are where bytes could go wrong.
    monkeypatch.setattr(session_write, "_VALUES_PER_PIECE", 7)
    monkeypatch.setattr(session_write, "_BYTES_PER_PIECE", 3 * 11)
    s = _long_session(1000)
    sizes: list[int] = []
    real = os.fdopen

    def recording(fd, mode, *args, **kwargs):
        if "w" not in mode:
            return real(fd, mode, *args, **kwargs)
        raw = _Recorder(fd, "wb", closefd=True)
        raw.sizes = sizes
        return raw  # unbuffered: every piece reaches the file as it is made

    monkeypatch.setattr(os, "fdopen", recording)
    save_session(s, tmp_path / "s.json", history_encoding=enc)
    monkeypatch.undo()
    data = (tmp_path / "s.json").read_bytes()
    assert data == dumps_session(s, enc).encode("utf-8")
    # Nothing near the whole file is ever one write: the history went out a piece at a time.
    assert len(sizes) > 6 * 1000 // (7 if enc == "json" else 8 * 11 // 3 + 1) and max(sizes) < 400
    assert load_session(tmp_path / "s.json").history == s.history


def test_a_save_that_grows_past_the_size_limit_leaves_no_file_and_the_old_one_intact(tmp_path, monkeypatch):
    path = tmp_path / "s.json"
    save_session(Session.random(2, 0), path)
    before = path.read_bytes()
    monkeypatch.setattr(session_format, "MAX_FILE_BYTES", 20_000)
    s = _long_session(2000)
    modified = s.modified
    with pytest.raises(
        SessionError, match=r"s\.json: the session would be over the 20,000 bytes Backprop Lab loads"
    ):
        save_session(s, path)
    assert path.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["s.json"]
    assert s.modified == modified


def test_the_model_itself_is_streamed_row_by_row():
    m = Model([0.5] * 4, *([[float(i * 4 + j) for j in range(4)] for i in range(4)] for _ in range(3)))
    pieces = list(session_write._model_pieces(m))
    assert len(pieces) > 3 * 4  # a piece per row at least
    assert json.loads("".join(pieces)) == {"K": 4, "x": m.x, "A": m.A, "B": m.B, "C": m.C}
