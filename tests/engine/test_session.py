"""Session files: bit-exact round trips, one clear refusal per bad file, migrations, atomic saves."""

from __future__ import annotations

import copy
import json
import math
import os
import struct
import sys
from array import array
from pathlib import Path

import pytest

import backprop_lab.engine.session as session_module
import backprop_lab.engine.session_format as session_format
from backprop_lab.engine.model import Model
from backprop_lab.engine.resources import load_report_example_data, report_example_path
from backprop_lab.engine.session import (
    FORMAT,
    FORMAT_VERSION,
    HISTORY_COLUMNS,
    MIGRATIONS,
    History,
    Session,
    SessionError,
    dumps_session,
    load_session,
    loads_session,
    save_session,
    session_from_dict,
)
from backprop_lab.engine.training import Divergence, StepRecord, TrainingSettings
from backprop_lab.engine.variant import DEFAULT_VARIANT

SEED_EXAMPLE = Path("/work/shared/seed/seed-example.json")
SMALL = TrainingSettings(learning_rate=0.05, batch_size=5, n_samples=40, epochs=2, seed=3)


def _trained(settings: TrainingSettings = SMALL, K: int = 3, seed: int = 1) -> Session:
    s = Session.random(K, seed)
    trainer = s.make_trainer(settings)
    s.history.extend(trainer.steps())
    s.finish_run(trainer)
    return s


def _bits(values) -> list[bytes]:
    return [struct.pack("<d", v) for v in values]


def _same_model(a: Model, b: Model) -> bool:
    return _bits(a.x) == _bits(b.x) and all(
        _bits(r1) == _bits(r2) for n in "ABC" for r1, r2 in zip(getattr(a, n), getattr(b, n), strict=True)
    )


# --------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("encoding", ["json", "base64", "auto"])
def test_save_and_load_round_trip_bit_for_bit(tmp_path, encoding):
    s = _trained()
    s.name, s.notes = "Run σ′ ≠ 0", 'line one\nline "two"'
    s.divergence = Divergence(step=17, epoch=2, reason="Training diverged at step 17.")
    path = tmp_path / "s.json"
    save_session(s, path, history_encoding=encoding)
    back = load_session(path)
    assert back == s
    assert len(back.history) == SMALL.total_steps == 16
    assert _same_model(back.model, s.model) and _same_model(back.initial, s.initial)
    for name in (*HISTORY_COLUMNS, "epoch"):
        assert back.history.column(name).tobytes() == s.history.column(name).tobytes()


def test_awkward_floats_survive_bit_for_bit(tmp_path):
    awkward = [-0.0, 5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 0.1, 1 / 3, 1e16, 123456789.0]
    k = len(awkward)
    m = Model(awkward, [awkward[:] for _ in range(k)], [[-v for v in awkward]] * k, [awkward[::-1]] * k)
    h = History.from_columns(
        {name: [abs(v) for v in awkward] for name in HISTORY_COLUMNS}, [1, 1, 1, 2, 2, 3, 3, 3]
    )
    s = Session(model=m, initial=m.copy(), history=h)
    for encoding in ("json", "base64"):
        save_session(s, tmp_path / "a.json", history_encoding=encoding)
        back = load_session(tmp_path / "a.json")
        assert _same_model(back.model, m)
        assert back.history == h  # compares bytes: 0.0 and -0.0 would differ
        assert math.copysign(1.0, back.model.x[0]) == -1.0


def test_the_file_is_plain_json_with_the_documented_layout(tmp_path):
    s = _trained()
    save_session(s, tmp_path / "s.json")
    d = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert d["format"] == FORMAT == "backprop-lab-session" and d["version"] == FORMAT_VERSION == 3
    assert set(d) == {
        "format", "version", "app_version", "created", "modified", "name", "notes", "variant",
        "model", "initial", "training", "divergence", "segments", "compared", "history",
    }  # fmt: skip
    assert d["segments"] == [{"first_step": 1, "training": d["training"]}] and d["compared"] == []
    assert d["model"]["K"] == 3 and d["model"]["x"] == s.model.x and d["model"]["C"] == s.model.C
    assert d["initial"]["A"] == s.initial.A != s.model.A
    assert d["training"] == {"learning_rate": 0.05, "batch_size": 5, "n_samples": 40, "epochs": 2, "seed": 3}
    assert set(d["history"]) == {"loss", "loss_at_x", "grad_norm_A", "grad_norm_B", "grad_norm_C", "epoch"}
    assert d["history"]["loss"] == list(s.history.column("loss"))
    assert d["history"]["epoch"] == [1] * 8 + [2] * 8
    assert d["divergence"] is None
    assert d["variant"] == {"activation": "sigmoid", "convention": "row", "target": None}
    assert d["created"].endswith("Z") and d["modified"].endswith("Z")
    assert d == json.loads(dumps_session(s, history_encoding="json"))


def test_long_histories_switch_to_base64_columns(tmp_path, monkeypatch):
    monkeypatch.setattr(session_format, "INLINE_HISTORY_STEPS", 10)
    s = _trained()  # 16 steps
    save_session(s, tmp_path / "s.json")
    d = json.loads((tmp_path / "s.json").read_text())
    assert d["history"]["loss"]["encoding"] == "base64-float64-le"
    assert d["history"]["epoch"]["encoding"] == "base64-int64-le"
    raw = array("d")
    import base64

    raw.frombytes(base64.b64decode(d["history"]["grad_norm_C"]["data"]))
    assert raw.tobytes() == s.history.column("grad_norm_C").tobytes()
    assert load_session(tmp_path / "s.json") == s
    with pytest.raises(ValueError, match="history_encoding must be"):
        dumps_session(s, "xml")


def test_save_stamps_modified_and_app_version_only_when_written(tmp_path, monkeypatch):
    s = _trained()
    s.modified, s.app_version = "2000-01-01T00:00:00Z", "0.0.1"
    created = s.created
    save_session(s, tmp_path / "s.json")
    assert s.modified != "2000-01-01T00:00:00Z" and s.app_version == session_module.__version__
    assert s.created == created
    back = load_session(tmp_path / "s.json")
    assert (back.created, back.modified) == (s.created, s.modified)

    s.modified = "2000-01-01T00:00:00Z"
    monkeypatch.setattr(os, "replace", lambda a, b: (_ for _ in ()).throw(OSError(28, "No space left")))
    with pytest.raises(OSError, match="No space left"):
        save_session(s, tmp_path / "s.json")
    assert s.modified == "2000-01-01T00:00:00Z"


def test_a_failed_save_leaves_the_previous_file_byte_for_byte(tmp_path, monkeypatch):
    path = tmp_path / "s.json"
    save_session(_trained(), path)
    before = path.read_bytes()
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(5, "Input/output error")))
    with pytest.raises(OSError, match=r"cannot write .*s\.json: Input/output error"):
        save_session(_trained(seed=2), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json"]


def test_saving_into_a_path_whose_parent_is_a_file_fails_cleanly(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OSError, match="does not exist or is not a folder"):
        save_session(_trained(), tmp_path / "file" / "s.json")


def test_non_ascii_text_round_trips_readably(tmp_path):
    s = Session.random(2, 0)
    s.name, s.notes = "σ(a) — αβγ", "good \U0001f600 emoji, \u2028 separator"
    save_session(s, tmp_path / "s.json")
    raw = (tmp_path / "s.json").read_bytes()
    assert "σ(a) — αβγ".encode() in raw  # readable, not \u-escaped
    back = load_session(tmp_path / "s.json")
    assert (back.name, back.notes) == (s.name, s.notes)


def test_refuses_to_save_more_than_it_would_load(tmp_path, monkeypatch):
    s = _trained()
    monkeypatch.setattr(session_format, "MAX_HISTORY_STEPS", 10)
    with pytest.raises(SessionError, match="the history has 16 steps; a session file holds at most 10"):
        save_session(s, tmp_path / "s.json")
    monkeypatch.setattr(session_format, "MAX_HISTORY_STEPS", 100)
    monkeypatch.setattr(session_format, "MAX_FILE_BYTES", 1000)
    with pytest.raises(SessionError, match="over the 1,000 bytes Backprop Lab loads"):
        save_session(s, tmp_path / "s.json")
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- built-in sessions


def test_report_example_is_the_reports_model_and_settings():
    data = load_report_example_data()
    s = Session.report_example()
    assert s.model.x == data["model"]["x"] and s.model.A == data["model"]["A"]
    assert s.model.B == data["model"]["B"] and s.model.C == data["model"]["C"]
    assert s.initial == s.model and len(s.history) == 0 and s.divergence is None
    assert s.training == TrainingSettings(learning_rate=0.01, batch_size=10, n_samples=1000, epochs=1, seed=0)
    assert s.name == "Report example"
    # The resource is a canonical session file that also carries the report's numbers.
    assert data["format"] == FORMAT and data["expected"]["loss"] == 44.061213140343526
    assert load_session(report_example_path()).model == s.model


def test_report_example_resource_is_exactly_what_dumps_writes_plus_its_extras():
    data = load_report_example_data()
    extras = {k: data.pop(k) for k in ("expected", "report_gradient_descent")}
    s = session_from_dict(data)
    # The resource stays a version 1 file (so the migrations run on every start); written, it is
    # the same document in the current version, naming the report's own variant, with no history
    # (so no segments) and no compared runs.
    assert data["version"] == 1 and "variant" not in data
    upgraded = {**data, "version": 3, "variant": DEFAULT_VARIANT.as_dict(), "segments": [], "compared": []}
    assert json.loads(dumps_session(s, history_encoding="json")) == upgraded
    assert extras["report_gradient_descent"]["loss_after"] == 18.81529994150537


def test_random_sessions_are_reproducible_and_in_range():
    a, b = Session.random(4, seed=7), Session.random(4, seed=7)
    assert a.model == b.model and a.model != Session.random(4, seed=8).model
    values = a.model.x + [v for m in (a.model.A, a.model.B, a.model.C) for row in m for v in row]
    assert len(values) == 4 + 3 * 16 and all(-1.0 <= v < 1.0 for v in values)
    c = Session.random(2, seed=0, low=5.0, high=6.0)
    assert all(5.0 <= v < 6.0 for v in c.model.x)
    assert c.initial == c.model and c.initial is not c.model


@pytest.mark.parametrize(
    ("args", "message"),
    [((0, 1), "K must be an integer from 1 to 1024"), ((1025, 1), "K must be"), ((True, 1), "K must be"),
     ((2, 1, 1.0, 1.0), "low < high"), ((2, 1, 0.0, math.inf), "finite")],
)  # fmt: skip
def test_random_refuses_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        Session.random(*args)


# --------------------------------------------------------------------------- history


def _record(step: int, epoch: int = 1, value: float = 1.0) -> StepRecord:
    return StepRecord(step, epoch, value, value / 2, 0.1, 0.2, 0.3)


def test_history_is_compact_and_reads_back_as_records():
    h = History()
    h.extend(_record(i, 1 + (i - 1) // 3, float(i)) for i in range(1, 8))
    assert len(h) == h.last_step == 7 and h.last_epoch == 3
    assert h.nbytes == 7 * 48
    assert isinstance(h.column("loss"), array) and h.column("loss").typecode == "d"
    assert h.column("epoch").typecode == "q"
    assert list(h.records()) == [_record(i, 1 + (i - 1) // 3, float(i)) for i in range(1, 8)]
    assert h[0] == _record(1) and h[-1] == _record(7, 3, 7.0)
    with pytest.raises(IndexError):
        h[7]
    with pytest.raises(KeyError, match="no history column 'lost'"):
        h.column("lost")


def test_history_copy_truncate_clear():
    h = History()
    h.extend(_record(i) for i in range(1, 6))
    c = h.copy()
    h.truncate(2)
    assert len(h) == 2 and len(c) == 5 and c != h
    h.append(_record(3, value=9.0))  # numbering continues from the truncated end
    assert h[-1].batch_loss == 9.0
    h.clear()
    assert len(h) == 0 and h.last_epoch == 0 and not h
    with pytest.raises(ValueError):
        h.truncate(-1)


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (_record(2), "step 2 cannot follow step 0"),
        (StepRecord(1, 0, 1.0, 1.0, 0.0, 0.0, 0.0), "epoch 0 of step 1 cannot follow epoch 1"),
        (StepRecord(1, 1, math.nan, 1.0, 0.0, 0.0, 0.0), "loss of step 1 must be a finite number"),
        (StepRecord(1, 1, 1.0, math.inf, 0.0, 0.0, 0.0), "loss_at_x of step 1"),
        (StepRecord(1, 1, 1.0, 1.0, -1.0, 0.0, 0.0), "grad_norm_A of step 1 must be a finite number ≥ 0"),
    ],
)
def test_history_refuses_records_that_would_break_it(record, message):
    h = History()
    with pytest.raises(ValueError, match=message):
        h.append(record)
    assert len(h) == 0 and all(len(h.column(n)) == 0 for n in HISTORY_COLUMNS)


def test_history_refuses_an_epoch_that_goes_back():
    h = History()
    h.append(_record(1, epoch=2))
    with pytest.raises(ValueError, match="epoch 1 of step 2 cannot follow epoch 2"):
        h.append(_record(2, epoch=1))


# --------------------------------------------------------------------------- training helpers


def test_continuing_a_saved_session_equals_one_long_run(tmp_path):
    one_epoch = TrainingSettings(learning_rate=0.05, batch_size=5, n_samples=40, epochs=1, seed=3)
    s = _trained(one_epoch)
    initial = s.initial.copy()
    save_session(s, tmp_path / "s.json")
    s = load_session(tmp_path / "s.json")
    trainer = s.make_trainer()
    records = list(trainer.steps())
    assert [r.step for r in records] == list(range(9, 17)) and {r.epoch for r in records} == {2}
    s.history.extend(records)
    s.finish_run(trainer)
    whole = _trained(SMALL)  # the same two epochs in one run
    assert s.history == whole.history
    assert _same_model(s.model, whole.model)
    assert _same_model(s.initial, initial)


def test_make_trainer_marks_the_start_and_reset_history_forgets():
    s = Session.random(2, 0)
    s.model = s.model.with_weights([[1.0, 0.0], [0.0, 1.0]], s.model.B, s.model.C)
    s.divergence = Divergence(1, 1, "old")
    trainer = s.make_trainer(SMALL)
    assert s.initial == s.model and s.divergence is None and s.training == SMALL
    assert trainer.start_step == 0 and trainer.start_epoch == 0
    s.history.extend(trainer.steps())
    s.finish_run(trainer)
    assert s.model != s.initial
    s.reset_history()
    assert len(s.history) == 0 and s.initial == s.model


def test_make_trainer_with_bad_settings_leaves_the_session_unchanged():
    s = _trained()
    before = s.copy()
    with pytest.raises(ValueError, match="learning_rate must be > 0"):
        s.make_trainer(TrainingSettings(learning_rate=0.0))
    assert s == before


def test_model_validates_and_copies():
    with pytest.raises(ValueError, match=r"A\[0\]\[1\] is not finite"):
        Model([1.0, 2.0], [[1.0, math.nan], [0.0, 0.0]], [[0, 0], [0, 0]], [[0, 0], [0, 0]])
    x = [1, 2]
    m = Model(x, [[1, 0], [0, 1]], [[0, 0], [0, 0]], [[0, 0], [0, 0]])
    assert m.K == 2 and m.x == [1.0, 2.0] and isinstance(m.x[0], float) and m.x is not x
    c = m.copy()
    c.A[0][0] = 5.0
    assert m.A[0][0] == 1.0
    with pytest.raises(ValueError, match="initial has K = 2 but the model has K = 3"):
        Session(model=Session.random(3, 0).model, initial=m)


# --------------------------------------------------------------------------- refusals


def _valid_dict() -> dict:
    s = _trained()
    s.divergence = Divergence(17, 3, "diverged")
    return json.loads(dumps_session(s, history_encoding="json"))


def _set(path: str, value):
    """Mutation setting d[path] (dotted, with integer indices) to value."""

    def mutate(d):
        *parents, last = path.split(".")
        node = d
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


def _delete(path: str):
    def mutate(d):
        *parents, last = path.split(".")
        node = d
        for p in parents:
            node = node[p]
        del node[last]

    return mutate


def _append_to(path: str, value):
    def mutate(d):
        node = d
        for p in path.split("."):
            node = node[int(p)] if isinstance(node, list) else node[p]
        node.append(value)

    return mutate


def _b64(values, typecode="d") -> dict:
    import base64

    enc = "base64-float64-le" if typecode == "d" else "base64-int64-le"
    return {"encoding": enc, "data": base64.b64encode(array(typecode, values).tobytes()).decode()}


F64 = "base64-float64-le"

BAD_DOCUMENTS = [
    (_set("format", "something-else"), r"not a Backprop Lab session: format is 'something-else'"),
    (_set("version", 4), r"written by a newer Backprop Lab \(format version 4; this version reads up to 3\)"),
    (_set("version", "1"), r"version must be a whole number, not '1'"),
    (_set("version", -1), r"version must be ≥ 0"),
    (_delete("version"), r"version is missing"),
    (_delete("model"), r"model is missing"),
    (_set("model", [1, 2]), r"model must be a JSON object, not a list"),
    (_set("model.K", 4), r"model\.K is 4 but model\.x has 3 entries"),
    (_set("model.K", 5000), r"model\.K must be ≤ 1,024"),
    (_set("model.K", 0), r"model\.K must be ≥ 1"),
    (_delete("model.x"), r"model\.x is missing"),
    (_set("model.x", "1 2 3"), r"model\.x must be a list of numbers, not str"),
    (_set("model.A.1", [1.0, 2.0]), r"model\.A\[1\] has 2 entries; expected 3"),
    (_append_to("model.B", [1.0, 2.0, 3.0]), r"model\.B has 4 rows; expected 3"),
    (_set("model.B.0.1", "0.5"), r"model\.B\[0\]\[1\] is not a number: '0\.5'"),
    (_set("model.B.0.1", True), r"model\.B\[0\]\[1\] is not a number: True"),
    (_set("model.C.2.0", None), r"model\.C\[2\]\[0\] is not a number: None"),
    (_set("model.C.2.0", math.nan), r"model\.C\[2\]\[0\] is not finite: nan"),
    (_set("model.x.0", -math.inf), r"model\.x\[0\] is not finite: -inf"),
    (_set("model.A.0.0", 10**400), r"model\.A\[0\]\[0\] is too large for a float64"),
    (_set("initial.x", [1.0, 2.0]), r"initial\.K is 3 but initial\.x has 2 entries"),
    (_set("initial", {"x": [1, 2], "A": [[1, 0]] * 2, "B": [[0, 0]] * 2, "C": [[1, 1]] * 2}),
     r"initial\.x has 2 entries; the model has K = 3"),
    (_set("initial.A.2.2", math.inf), r"initial\.A\[2\]\[2\] is not finite"),
    (_delete("initial"), r"initial is missing \(the model the history started from\)"),
    (_delete("training"), r"training is missing"),
    (_delete("training.seed"), r"training\.seed is missing"),
    (_set("training.learning_rate", 0), r"training\.learning_rate must be > 0"),
    (_set("training.learning_rate", -0.5), r"training\.learning_rate must be > 0"),
    (_set("training.learning_rate", math.nan), r"training\.learning_rate is not finite: nan"),
    (_set("training.learning_rate", "fast"), r"training\.learning_rate must be a number, not 'fast'"),
    (_set("training.learning_rate", 10**400), r"training\.learning_rate is too large for a float64"),
    (_set("training.batch_size", 0), r"training\.batch_size must be ≥ 1 \(got 0\)"),
    (_set("training.batch_size", 2.5), r"training\.batch_size must be a whole number, not 2\.5"),
    (_set("training.batch_size", False), r"training\.batch_size must be a whole number, not False"),
    (_set("training.batch_size", 41), r"training\.batch_size must be ≤ n_samples"),
    (_set("training.epochs", 0), r"training\.epochs must be ≥ 1"),
    (_set("training.n_samples", 10**9), r"training\.n_samples must be ≤"),
    (_set("training.seed", -1), r"training\.seed must be ≥ 0"),
    (_delete("history"), r"history is missing"),
    (_delete("history.grad_norm_B"), r"history\.grad_norm_B is missing"),
    (_set("history", []), r"history must be a JSON object, not a list"),
    (_set("history.loss_at_x", [1.0, 2.0]), r"history\.loss_at_x has 2 entries; history\.epoch has 16"),
    (_set("history.epoch", [1, 1]), r"history\.loss has 16 entries; history\.epoch has 2"),
    (_set("history.loss.5", math.nan), r"history\.loss\[5\] is not finite: nan"),
    (_set("history.loss.5", math.inf), r"history\.loss\[5\] is not finite: inf"),
    (_set("history.grad_norm_B.0", "1.0"), r"history\.grad_norm_B\[0\] is not a number: '1\.0'"),
    (_set("history.grad_norm_B.3", [1.0]), r"history\.grad_norm_B\[3\] is not a number: a list of 1"),
    (_set("history.grad_norm_C.2", -1.0), r"history\.grad_norm_C\[2\] is negative: -1\.0"),
    (_set("history.loss.1", 10**400), r"history\.loss\[1\] is too large for a float64"),
    (_set("history.loss", "1,2,3"), r"history\.loss must be a list of numbers or a base64 object, not a str"),
    (_set("history.epoch.3", 0), r"history\.epoch\[3\] is 0; epochs start at 1"),
    (_set("history.epoch.0", 0), r"history\.epoch\[0\] is 0; epochs start at 1"),
    (_set("history.epoch.12", 1), r"history\.epoch\[12\] is 1, less than the epoch before it \(2\)"),
    (_set("history.epoch.4", 1.5), r"history\.epoch\[4\] is not a whole number: 1\.5"),
    (_set("history.epoch.4", 2**70), r"history\.epoch\[4\] is too large"),
    (_set("history.loss", {"encoding": F64, "data": "@@@"}), r"history\.loss\.data is not valid base64"),
    (_set("history.loss", {"encoding": F64, "data": "AAAA"}), r"holds 3 bytes, not a whole number"),
    (_set("history.loss", {"encoding": "f32", "data": ""}), r"loss\.encoding must be 'base64-float64-le'"),
    (_set("history.loss", {"encoding": F64}), r"history\.loss\.data is missing"),
    (_set("history.loss", _b64([1.0] * 15 + [math.nan])), r"history\.loss\[15\] is not finite: nan"),
    (_set("history.epoch", _b64([1] * 16)), r"history\.epoch\.encoding must be 'base64-int64-le'"),
    (_set("history.epoch", _b64([1] * 8 + [3] * 7 + [2], "q")), r"epoch\[15\] is 2, less than the epoch"),
    (_set("divergence", "yes"), r"divergence must be a JSON object, not a string"),
    (_set("divergence", {"step": 0, "epoch": 1, "reason": "x"}), r"divergence\.step must be ≥ 1"),
    (_set("divergence", {"step": 1, "epoch": 1}), r"divergence\.reason is missing"),
    (_set("name", 42), r"name must be a string, not 42"),
    (_set("notes", None), r"notes must be a string, not None"),
    (_set("created", "yesterday"), r"created is not an ISO 8601 date and time: 'yesterday'"),
    (_set("modified", "x" * 1000), r"modified is 1,000 characters long; at most 100"),
    (_set("app_version", ["0.1"]), r"app_version must be a string, not a list of 1"),
]  # fmt: skip


@pytest.mark.parametrize(("mutate", "message"), BAD_DOCUMENTS)
def test_a_bad_session_is_refused_with_one_line_naming_file_and_field(tmp_path, mutate, message):
    d = _valid_dict()
    mutate(d)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(d))  # json writes NaN/Infinity literals, as a careless tool would
    before, mtime = path.read_bytes(), os.stat(path).st_mtime_ns
    with pytest.raises(SessionError, match=message) as info:
        load_session(path)
    text = str(info.value)
    assert text.startswith(f"{path}: ") and "\n" not in text and len(text) < 400
    assert info.value.source == str(path)
    assert path.read_bytes() == before and os.stat(path).st_mtime_ns == mtime


def test_every_refusal_case_starts_from_a_valid_session(tmp_path):
    path = tmp_path / "good.json"
    path.write_text(json.dumps(_valid_dict()))
    s = load_session(path)
    assert len(s.history) == 16 and s.divergence == Divergence(17, 3, "diverged")


BAD_FILES = [
    (b"", r"the file is empty"),
    (b"  \n\t ", r"the file is empty"),
    (b"hello", r"not valid JSON: Expecting value at line 1 column 1"),
    (b"\xff\xfe{\x00}\x00", r"not UTF-8 text \(byte 0xff at offset 0\)"),
    (b'{"format": "backprop-lab-session", "version": 1, "model": {"x": [1.0, 2', r"the file looks truncated"),
    (b"[1, 2, 3]", r"the file does not hold a session \(a JSON object\) but a list"),
    (b'"session"', r"does not hold a session \(a JSON object\) but a string"),
    (b'{"name": "x"}', r'no "format" field and no model'),
    (b"[" * 100_000 + b"]" * 100_000, r"nested too deeply"),
    (b'{"model": {"x": [' + b"1" * 5000 + b"]}}", r"not valid JSON: Exceeds the limit"),
    (b'{"x": [NaN], "A": [[1]], "B": [[1]], "C": [[1]]}', r"model\.x\[0\] is not finite: nan"),
    (b'{"model": {"x": [1e999], "A": [[1]], "B": [[1]], "C": [[1]]}}', r"model\.x\[0\] is not finite: inf"),
]


@pytest.mark.parametrize(("data", "message"), BAD_FILES)
def test_a_file_that_is_not_a_session_is_refused_clearly(tmp_path, data, message):
    path = tmp_path / "f.json"
    path.write_bytes(data)
    with pytest.raises(SessionError, match=message) as info:
        load_session(path)
    assert "\n" not in str(info.value) and str(info.value).startswith(f"{path}: ")
    assert path.read_bytes() == data


def test_a_bom_is_tolerated(tmp_path):
    path = tmp_path / "bom.json"
    path.write_bytes(b"\xef\xbb\xbf" + dumps_session(_trained()).encode())
    assert len(load_session(path).history) == 16


def test_missing_and_folder_paths(tmp_path):
    with pytest.raises(SessionError, match=r"nope\.json: the file does not exist"):
        load_session(tmp_path / "nope.json")
    with pytest.raises(SessionError, match=r"this is a folder, not a session file"):
        load_session(tmp_path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
@pytest.mark.timeout(10)
def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "pipe.json"
    os.mkfifo(fifo)
    with pytest.raises(SessionError, match="not a regular file"):
        load_session(fifo)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX device")
def test_a_device_is_refused():
    with pytest.raises(SessionError, match="/dev/zero: not a regular file"):
        load_session("/dev/zero")


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root ignores permissions")
def test_an_unreadable_file_is_refused(tmp_path):
    path = tmp_path / "secret.json"
    path.write_text("{}")
    path.chmod(0)
    with pytest.raises(SessionError, match="cannot open the file: Permission denied"):
        load_session(path)


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path, monkeypatch):
    path = tmp_path / "huge.json"
    with open(path, "wb") as fh:
        fh.truncate(2_000_001)  # sparse: no disk used
    monkeypatch.setattr(session_format, "MAX_FILE_BYTES", 2_000_000)

    def no_reading(*args, **kwargs):
        raise AssertionError("the file was opened for reading")

    monkeypatch.setattr(os, "fdopen", no_reading)
    with pytest.raises(
        SessionError, match=r"the file is 2,000,001 bytes; session files over 2,000,000 bytes"
    ):
        load_session(path)


def test_a_history_longer_than_the_limit_is_refused(tmp_path, monkeypatch):
    d = _valid_dict()  # written first: the writer refuses a history over the limit too
    monkeypatch.setattr(session_format, "MAX_HISTORY_STEPS", 10)
    with pytest.raises(SessionError, match=r"history\.loss has 16 entries; at most 10 are allowed"):
        session_from_dict(d, "x.json")
    d["history"]["loss"] = _b64([1.0] * 16)
    with pytest.raises(SessionError, match=r"history\.loss has 16 entries; at most 10"):
        session_from_dict(d, "x.json")


def test_session_from_dict_names_memory_by_default_and_never_mutates():
    d = _valid_dict()
    snapshot = copy.deepcopy(d)
    session_from_dict(d)
    assert d == snapshot
    with pytest.raises(SessionError, match=r"^<memory>: model is missing$"):
        session_from_dict({"format": FORMAT, "version": 1})


def test_loads_accepts_text_and_bytes():
    text = dumps_session(_trained())
    assert loads_session(text) == loads_session(text.encode())


# --------------------------------------------------------------------------- migrations


def test_every_older_version_has_a_migration():
    assert set(MIGRATIONS) == set(range(FORMAT_VERSION))


PLAIN_V0 = {"model": {"x": [0.5, -1], "A": [[1, 2], [3, 4]], "B": [[0, 0], [0, 0]], "C": [[1, 0], [0, 1]]}}


def test_migration_0_to_1_of_a_plain_model_file():
    v1 = MIGRATIONS[0](copy.deepcopy(PLAIN_V0))
    assert v1["format"] == FORMAT and v1["version"] == 1
    s = session_from_dict(v1)
    assert s.model.x == [0.5, -1.0] and s.model.A == [[1.0, 2.0], [3.0, 4.0]]
    assert s.initial == s.model and len(s.history) == 0
    assert s.training == TrainingSettings() and s.name == "" and s.divergence is None


def test_a_version_0_file_loads_and_saves_as_the_current_version(tmp_path):
    path = tmp_path / "old.json"
    path.write_text(json.dumps({**PLAIN_V0, "name": "mine", "training": {"learning_rate": 0.5, "epochs": 3}}))
    s = load_session(path)
    assert s.name == "mine" and s.training.learning_rate == 0.5 and s.training.epochs == 3
    assert s.training.batch_size == 10  # the rest from the defaults
    assert json.loads(path.read_text())["model"] == PLAIN_V0["model"]  # the old file is untouched
    save_session(s, tmp_path / "new.json")
    d = json.loads((tmp_path / "new.json").read_text())
    assert d["version"] == FORMAT_VERSION and load_session(tmp_path / "new.json") == s


def test_the_report_style_dict_migrates_with_the_reports_settings():
    seed = {
        "about": "The worked example.",
        "K": 2,
        "x": [0.25, 0.75],
        "A": [[1, 0], [0, 1]],
        "B": [[0, 1], [1, 0]],
        "C": [[0.5, 0.5], [0.5, 0.5]],
        "expected": {"loss": 1.0},
        "report_gradient_descent": {"learning_rate": 0.02, "n_samples": 500, "loss_after": 0.5},
    }
    s = session_from_dict(seed)
    assert s.model.x == [0.25, 0.75] and s.notes == "The worked example."
    assert s.training == TrainingSettings(learning_rate=0.02, n_samples=500)


@pytest.mark.skipif(not SEED_EXAMPLE.exists(), reason="the shared seed is not in this checkout")
def test_the_seed_example_file_itself_loads():
    s = load_session(SEED_EXAMPLE)
    assert s.model == Session.report_example().model
    assert s.training.learning_rate == 0.01 and s.training.n_samples == 1000


def test_an_explicit_version_0_document_migrates_too():
    s = session_from_dict({"format": FORMAT, "version": 0, **PLAIN_V0})
    assert s.model.K == 2


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"model": "x"}, r"model must be a JSON object, not a string"),
        ({"model": {"x": [1.0], "A": [[1.0]], "B": [[1.0]]}}, r"model\.C is missing"),
        ({"x": [1.0, 2.0], "A": [[1.0]], "B": [[1.0]], "C": [[1.0]]}, r"model\.A has 1 row; expected 2"),
        ({**PLAIN_V0, "training": [1]}, r"training must be a JSON object, not a list"),
        ({**PLAIN_V0, "training": {"batch_size": 0}}, r"training\.batch_size must be ≥ 1"),
    ],
)
def test_bad_version_0_files_are_refused_naming_the_field(doc, message):
    with pytest.raises(SessionError, match=message):
        session_from_dict(doc, "old.json")
