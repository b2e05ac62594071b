"""Segments (one per Start), compared runs kept as relative paths, format version 3 and its migration
from version 2, and the runs a plot lays side by side (engine.runs)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from backprop_lab.engine.runs import Run, RunMissing, load_ref, load_run, samples_seen, session_runs
from backprop_lab.engine.session import (
    FORMAT_VERSION,
    MAX_SEGMENTS,
    MIGRATIONS,
    History,
    RunRef,
    Segment,
    Session,
    SessionError,
    dumps_session,
    load_session,
    loads_session,
    save_session,
)
from backprop_lab.engine.session_refs import resolved_path, stored_path
from backprop_lab.engine.training import StepRecord, TrainingSettings

#: Files the version 2 writer wrote (the last commit before version 3): a history of two runs
#: (7 samples in batches of 3 for 2 epochs, then full batches for 3 epochs, which version 2 could
#: not tell apart) in each encoding, and a session with no history. Never regenerate them.
V2 = Path(__file__).parent / "sessions_v2"
FIRST = TrainingSettings(learning_rate=0.05, batch_size=3, n_samples=7, epochs=2, seed=1)
SECOND = TrainingSettings(learning_rate=0.2, batch_size=7, n_samples=7, epochs=3, seed=2)


def _train(s: Session, settings: TrainingSettings, steps: int | None = None) -> None:
    trainer = s.make_trainer(settings)
    records = trainer.steps()
    if steps is None:
        s.history.extend(records)
    else:
        s.history.extend(r for _, r in zip(range(steps), records, strict=False))
    s.finish_run(trainer)


def _two_runs() -> Session:
    s = Session.random(2, 7)
    _train(s, FIRST)  # 3 steps an epoch, 2 epochs
    _train(s, SECOND)  # 1 step an epoch, 3 epochs
    return s


# --------------------------------------------------------------------------- segments


def test_each_start_that_takes_steps_begins_a_segment_with_its_settings():
    s = _two_runs()
    assert len(s.history) == 9
    assert s.segments == [Segment(1, FIRST), Segment(7, SECOND)]


def test_a_start_that_takes_no_step_leaves_no_segment_and_the_next_start_replaces_it():
    s = _two_runs()
    s.make_trainer(FIRST)  # started, stopped before its first step
    assert s.segments == [Segment(1, FIRST), Segment(7, SECOND)]
    _train(s, FIRST, steps=2)
    assert s.segments == [Segment(1, FIRST), Segment(7, SECOND), Segment(10, FIRST)]


def test_an_undone_run_takes_its_segment_with_it_and_redo_brings_it_back():
    s = _two_runs()
    after = s.history.copy()  # what the window's undo command keeps for redo
    s.history.truncate(6)  # undo the second run
    assert s.segments == [Segment(1, FIRST)]
    s.history = after.copy()  # redo
    assert s.segments == [Segment(1, FIRST), Segment(7, SECOND)]


def test_a_reset_forgets_the_segments_and_copies_keep_them_apart():
    s = _two_runs()
    c = s.copy()
    s.reset_history()
    assert s.segments == [] and c.segments == [Segment(1, FIRST), Segment(7, SECOND)]
    assert c != s


def test_steps_no_start_marked_count_as_one_run_under_the_sessions_settings():
    s = Session.random(2, 0)
    s.training = FIRST
    s.history.extend(StepRecord(i, 1, 1.0, 1.0, 1.0, 1.0, 1.0) for i in range(1, 4))
    assert s.segments == [Segment(1, FIRST)]
    _train(s, SECOND)  # the unmarked steps keep the settings they had, not the new run's
    assert s.segments == [Segment(1, FIRST), Segment(4, SECOND)]


@pytest.mark.parametrize(
    ("segments", "message"),
    [
        ([Segment(2, FIRST)], r"^segments\[0\]\.first_step is 2; the first segment starts at step 1$"),
        ([Segment(1, FIRST), Segment(1, SECOND)], r"\[1\]\.first_step is 1, not after the one before"),
        (
            [Segment(1, FIRST), Segment(10, SECOND)],
            r"\[1\]\.first_step is 10, after the history's last step \(9\)",
        ),
    ],
)
def test_segments_that_do_not_fit_the_history_are_refused_naming_the_entry(segments, message):
    s = _two_runs()
    with pytest.raises(ValueError, match=message):
        s.segments = segments
    assert s.segments == [Segment(1, FIRST), Segment(7, SECOND)]  # unchanged


def test_a_segment_whose_settings_no_file_may_hold_is_refused_before_saving(tmp_path):
    s = _two_runs()
    s.segments = [Segment(1, FIRST), Segment(7, TrainingSettings(batch_size=8, n_samples=7))]
    with pytest.raises(SessionError, match=r"^segments\[1\]\.training\.batch_size must be ≤ n_samples"):
        save_session(s, tmp_path / "s.json")
    assert os.listdir(tmp_path) == []


def test_past_the_limit_a_start_joins_the_segment_before_it():
    h = History()
    for i in range(1, MAX_SEGMENTS + 3):
        h.begin_segment(FIRST if i % 2 else SECOND)
        h.append(StepRecord(i, i, 1.0, 1.0, 1.0, 1.0, 1.0))
    assert len(h.segments) == MAX_SEGMENTS and h.segments[-1].first_step == MAX_SEGMENTS


# --------------------------------------------------------------------------- the file


def test_segments_and_compared_runs_round_trip_with_paths_relative_on_disk(tmp_path):
    s = _two_runs()
    other = tmp_path / "others" / "lr 0.1.bpl.json"
    s.compared = [RunRef(str(other), "lr 0.1 — σ", "#1F77b4", visible=False)]
    path = tmp_path / "mine" / "s.bpl.json"
    path.parent.mkdir()
    save_session(s, path)
    d = json.loads(path.read_text(encoding="utf-8"))
    assert d["version"] == FORMAT_VERSION == 3
    assert d["compared"] == [
        {"path": "../others/lr 0.1.bpl.json", "name": "lr 0.1 — σ", "colour": "#1F77b4", "visible": False}
    ]
    assert [seg["first_step"] for seg in d["segments"]] == [1, 7]
    assert d["segments"][1]["training"] == {
        "learning_rate": 0.2,
        "batch_size": 7,
        "n_samples": 7,
        "epochs": 3,
        "seed": 2,
    }
    back = load_session(path)
    assert back == s and back.segments == s.segments
    assert back.compared[0].path == str(other) and os.path.isabs(back.compared[0].path)


def test_a_moved_folder_keeps_its_references_and_save_as_elsewhere_rewrites_them(tmp_path):
    (tmp_path / "a").mkdir()
    s = Session.random(2, 0)
    s.compared = [RunRef(str(tmp_path / "a" / "other.json"), "other", "#000000")]
    save_session(s, tmp_path / "a" / "s.json")
    shutil.move(tmp_path / "a", tmp_path / "b")
    moved = load_session(tmp_path / "b" / "s.json")
    assert moved.compared[0].path == str(tmp_path / "b" / "other.json")
    (tmp_path / "c" / "d").mkdir(parents=True)
    save_session(moved, tmp_path / "c" / "d" / "s.json")
    stored = json.loads((tmp_path / "c" / "d" / "s.json").read_text())["compared"][0]["path"]
    assert stored == "../../b/other.json"
    assert load_session(tmp_path / "c" / "d" / "s.json").compared == moved.compared


def test_stored_paths_are_slash_separated_and_resolve_back(tmp_path):
    base = str(tmp_path / "x")
    target = os.path.join(str(tmp_path), "y", "z.json")
    assert stored_path(target, base) == "../y/z.json"
    assert resolved_path("../y/z.json", base) == target
    assert resolved_path(target, "/elsewhere") == target  # an absolute path stays as it is


def test_without_a_file_paths_are_relative_to_the_current_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    s = Session.random(2, 0)
    s.compared = [RunRef(str(tmp_path / "o.json"), "o", "#abcdef")]
    text = dumps_session(s)
    assert json.loads(text)["compared"][0]["path"] == "o.json"
    assert loads_session(text).compared == s.compared


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("colour", "red", r"compared\[0\]\.colour must be a colour like '#1f77b4', not 'red'"),
        ("visible", 1, r"compared\[0\]\.visible must be true or false, not 1"),
        ("path", "", r"compared\[0\]\.path is empty"),
        ("name", None, r"compared\[0\]\.name must be a string, not None"),
    ],
)
def test_a_bad_compared_run_in_a_file_is_refused_in_one_line(field, value, message):
    d = json.loads(dumps_session(Session.random(2, 0)))
    d["compared"] = [{"path": "o.json", "name": "o", "colour": "#123456", "visible": True, field: value}]
    with pytest.raises(SessionError, match=rf"^f\.json: {message}$"):
        loads_session(json.dumps(d), "f.json")


def test_runrefs_refuse_what_a_file_could_not_hold():
    with pytest.raises(ValueError, match="colour must be a colour like"):
        RunRef("/a.json", "a", "#12345")
    with pytest.raises(ValueError, match="path holds a NUL character"):
        RunRef("/a\0.json", "a", "#123456")


@pytest.mark.parametrize(
    ("segments", "message"),
    [
        ("no", r"segments must be a list, not a string"),
        ([{"first_step": 2, "training": None}], r"segments\[0\]\.training must be a JSON object, not null"),
        ([{"training": {}}], r"segments\[0\]\.first_step is missing"),
        ([], None),  # a history with no segments loads as one run under the file's settings
    ],
)
def test_bad_segments_in_a_file_are_refused_naming_the_entry(segments, message):
    d = json.loads(dumps_session(_two_runs(), "json"))
    d["segments"] = segments
    if message is None:
        assert loads_session(json.dumps(d)).segments == [Segment(1, SECOND)]
        return
    with pytest.raises(SessionError, match=rf"^f\.json: {message}$"):
        loads_session(json.dumps(d), "f.json")


def test_a_segment_past_the_history_in_a_file_is_refused():
    d = json.loads(dumps_session(_two_runs(), "json"))
    d["segments"][1]["first_step"] = 12
    with pytest.raises(
        SessionError, match=r"^f\.json: segments\[1\]\.first_step is 12, after the history's last step \(9\)$"
    ):
        loads_session(json.dumps(d), "f.json")
    d["segments"][1]["training"]["batch_size"] = 8
    with pytest.raises(SessionError, match=r"segments\[1\]\.training\.batch_size must be ≤ n_samples"):
        loads_session(json.dumps(d), "f.json")


# --------------------------------------------------------------------------- version 2 files


@pytest.mark.parametrize("enc", ["json", "base64"])
def test_a_version_2_history_becomes_one_segment_under_the_files_settings(enc):
    s = load_session(V2 / f"v2-{enc}.json")
    assert len(s.history) == 9 and s.training == SECOND
    assert s.segments == [Segment(1, SECOND)] and s.compared == []
    # Saved, it is a version 3 file holding that segment explicitly; read back, nothing changed.
    d = json.loads(dumps_session(s, enc))
    assert d["version"] == 3 and d["segments"] == [{"first_step": 1, "training": d["training"]}]
    assert loads_session(json.dumps(d)) == s


@pytest.mark.parametrize("enc", ["json", "base64"])
def test_the_writer_keeps_the_version_2_bytes_apart_from_the_version_and_the_two_new_lines(enc):
    v2_text = (V2 / f"v2-{enc}.json").read_text(encoding="utf-8")
    training = json.dumps(json.loads(v2_text)["training"])
    added = f' "segments": [\n  {{"first_step": 1, "training": {training}}}\n ],\n "compared": [],\n'
    expected = v2_text.replace('\n "version": 2,\n', '\n "version": 3,\n', 1)
    expected = expected.replace('\n "history": {', "\n" + added + ' "history": {', 1)
    assert dumps_session(load_session(V2 / f"v2-{enc}.json"), enc) == expected


def test_a_version_2_session_without_history_has_no_segment():
    s = load_session(V2 / "v2-empty.json")
    assert s.segments == [] and json.loads(dumps_session(s))["segments"] == []


def test_the_migration_from_version_2_adds_exactly_the_two_keys():
    v2 = json.loads((V2 / "v2-base64.json").read_text(encoding="utf-8"))
    v3 = MIGRATIONS[2](v2)
    assert v3["version"] == 3 and v3["compared"] == []
    assert v3["segments"] == [{"first_step": 1, "training": v2["training"]}]
    assert {k: v for k, v in v3.items() if k not in ("version", "segments", "compared")} == {
        k: v for k, v in v2.items() if k != "version"
    }
    assert "segments" not in v2  # the document handed in is not modified
    empty = json.loads((V2 / "v2-empty.json").read_text(encoding="utf-8"))
    assert MIGRATIONS[2](empty)["segments"] == []


def test_a_version_2_file_claiming_version_3_keys_is_refused_not_guessed_at():
    v2 = json.loads((V2 / "v2-json.json").read_text(encoding="utf-8"))
    v2["compared"] = []
    with pytest.raises(
        SessionError, match=r'^old\.json: a version 2 session has no "compared" \(it came with version 3\)'
    ):
        loads_session(json.dumps(v2), "old.json")


# --------------------------------------------------------------------------- runs


def test_session_runs_are_the_segments_sliced_apart_oldest_first():
    s = _two_runs()
    first, second = session_runs(s, "/somewhere/s.json")
    assert (first.name, first.kind, first.first_step, first.settings) == (
        "Run 1 (lr 0.05, batch 3)",
        "segment",
        1,
        FIRST,
    )
    assert (second.name, second.first_step, second.settings) == ("Run 2 (lr 0.2, batch 7)", 7, SECOND)
    assert first.source == second.source == "/somewhere/s.json"
    loss = s.history.column("loss")
    assert first.history.column("loss").tolist() == loss[:6].tolist()
    assert second.history.column("loss").tolist() == loss[6:].tolist()
    assert second.history.column("epoch").tolist() == [3, 4, 5]  # the session's own epochs
    assert session_runs(Session.random(2, 0)) == []


def test_a_history_of_one_run_is_shared_not_copied():
    s = Session.random(2, 0)
    _train(s, FIRST)
    (run,) = session_runs(s)
    assert run.history is s.history and run.segments == (Segment(1, FIRST),)


def test_samples_seen_counts_each_epochs_last_partial_batch():
    s = _two_runs()
    first, second = session_runs(s)
    assert first.samples_seen().tolist() == [3, 6, 7, 10, 13, 14]
    assert second.samples_seen().tolist() == [7, 14, 21]
    assert samples_seen(9, s.segments).tolist() == [3, 6, 7, 10, 13, 14, 21, 28, 35]
    # A run stopped half-way through an epoch: the next one starts a new epoch.
    assert samples_seen(4, [Segment(1, FIRST), Segment(3, FIRST)]).tolist() == [3, 6, 9, 12]


def test_load_run_reads_a_session_file_as_one_run(tmp_path):
    s = _two_runs()
    s.name = ""
    save_session(s, tmp_path / "lr sweep.bpl.json")
    run = load_run(tmp_path / "lr sweep.bpl.json")
    assert isinstance(run, Run) and run.kind == "file" and run.name == "lr sweep"
    assert run.history == s.history and run.settings == SECOND and run.segments == tuple(s.segments)
    assert run.source == str(tmp_path / "lr sweep.bpl.json")
    assert run.samples_seen().tolist()[-1] == 35
    ref = RunRef(str(tmp_path / "lr sweep.bpl.json"), "mine", "#ff0000")
    assert load_ref(ref, "sweep").name == "mine" and load_ref(ref, "sweep").kind == "sweep"


def test_a_run_that_has_gone_is_one_line_naming_it_and_its_path(tmp_path):
    gone = tmp_path / "gone.bpl.json"
    with pytest.raises(RunMissing) as info:
        load_ref(RunRef(str(gone), "lr 0.1", "#ff0000"))
    assert str(info.value) == f"run 'lr 0.1': {gone} has gone (moved or deleted)"
    assert isinstance(info.value, SessionError) and info.value.path == str(gone)


def test_a_run_that_cannot_be_read_says_why(tmp_path):
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(SessionError, match=r"bad\.json: not valid JSON") as info:
        load_run(tmp_path / "bad.json")
    assert not isinstance(info.value, RunMissing)
