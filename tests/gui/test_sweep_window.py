"""Training ▸ Sweep… in the window: the form checked as it is typed, the runs trained in a process
pool through gui.jobs and written as the engine writes them, the progress and its ETA, the summary
drawn from the engine's one SVG, Cancel keeping the finished runs (0–50 ms after the start or
after a run), files replaced only with a yes, and a window closed mid-sweep."""

from __future__ import annotations

import csv
import io
from dataclasses import replace

import pytest
from PySide6.QtGui import QImage

from backprop_lab.engine.session import Session, load_session
from backprop_lab.engine.sweep import SUFFIX, make_grid
from backprop_lab.engine.sweep_chart import summary_svg
from backprop_lab.engine.training import train_session
from backprop_lab.gui.actions import UiState, enabled
from backprop_lab.gui.sweep_controller import files_replaced
from backprop_lab.gui.sweep_dialog import grid_from_texts, parse_values
from backprop_lab.gui.sweep_runner import STEP_COST, SweepEta, eta_text, work_of

WAIT = 120_000  # generous: process start-up on a loaded 2-core machine; a deadline, not a target
SUMMARY = {"summary.csv", "summary.svg", "summary.png"}


# --------------------------------------------------------------------------- the form, the ETA


def test_values_are_typed_as_on_the_command_line_and_named_when_wrong():
    assert parse_values("0.001, 0.01 0.1", False, "learning rates") == [0.001, 0.01, 0.1]
    assert parse_values("1,10,,100", True, "batch sizes") == [1, 10, 100]
    with pytest.raises(ValueError, match=r"^batch sizes: 'ten' is not a whole number$"):
        parse_values("1, ten", True, "batch sizes")
    with pytest.raises(ValueError, match=r"^seeds: give at least one value$"):
        parse_values("  ", True, "seeds")


def test_the_grid_sweeps_only_what_differs_from_the_session():
    session = Session.report_example()
    texts = {"learning_rate": "0.001, 0.1", "batch_size": "10", "seed": "0, 1", "epochs": "1"}
    grid = grid_from_texts(session, texts)
    assert [p.name for p in grid.points] == ["lr0.001_seed0", "lr0.001_seed1", "lr0.1_seed0", "lr0.1_seed1"]
    assert {p.settings.batch_size for p in grid.points} == {session.training.batch_size}
    one = grid_from_texts(session, {**texts, "learning_rate": "0.01", "seed": "0", "epochs": "3"})
    assert [p.name for p in one.points] == ["epochs3"]  # one changed value is a sweep of one run
    with pytest.raises(ValueError, match=r"^nothing to sweep"):
        grid_from_texts(session, {**texts, "learning_rate": "0.01", "seed": "0"})
    with pytest.raises(ValueError, match=r"^run lr0\.001_bs0_seed0: batch_size must be ≥ 1 \(got 0\)$"):
        grid_from_texts(session, {**texts, "batch_size": "0, 10"})


def test_the_eta_weighs_each_run_by_its_samples_and_steps():
    grid = make_grid(Session.report_example().training, {"batch_size": [1, 100], "epochs": [1, 2]})
    now = [100.0]
    eta = SweepEta(grid, clock=lambda: now[0])
    assert eta.seconds_left() is None  # nothing to go by yet
    work = {p.name: work_of(p) for p in grid.points}
    assert work["bs1_epochs1"] == 1000 + STEP_COST * 1000 and work["bs100_epochs2"] == 2000 + STEP_COST * 20
    now[0] = 103.0
    eta.ended(grid.points[0])  # bs1_epochs1 took 3 s
    left = work["bs1_epochs2"] + work["bs100_epochs1"] + work["bs100_epochs2"]
    assert eta.seconds_left() == pytest.approx(3.0 / work["bs1_epochs1"] * left)
    for p in grid.points[1:]:
        eta.ended(p)
    assert eta.seconds_left() == 0.0
    assert [eta_text(s) for s in (None, 0.2, 12.4, 600, 9000)] == [
        "",
        "less than a second left",
        "about 12 s left",
        "about 10 min left",
        "about 2.5 h left",
    ]


def test_sweep_is_off_while_training_runs():
    state = UiState("running", False, False, False, False, False, False)
    assert not enabled(state)["sweep"]
    assert (
        enabled(replace(state, training="paused"))["sweep"]
        and enabled(replace(state, training="idle"))["sweep"]
    )


def test_the_dialog_opens_beside_the_window_with_the_sessions_settings(qtbot, window):
    window.actions["sweep"].trigger()
    dialog = window.sweeps.dialog
    assert window.actions["sweep"] in window.menus["training"].actions()
    assert dialog.isVisible() and not dialog.isModal()
    assert dialog.fields["learning_rate"].text() == "0.001, 0.01, 0.1"
    assert dialog.fields["batch_size"].text() == "10"
    assert dialog.folder.text().endswith("Report example-sweep")
    assert dialog.plan.text().startswith("3 runs (3 learning rates)") and dialog.start_button.isEnabled()
    dialog.fields["batch_size"].setText("10, ten")
    assert dialog.plan.text() == "batch sizes: 'ten' is not a whole number"
    assert not dialog.start_button.isEnabled()
    dialog.fields["batch_size"].setText("10")
    dialog.folder.setText("  ")
    assert not dialog.start_button.isEnabled()
    dialog.close()


# --------------------------------------------------------------------------- sweeps


def _open(window, folder, lr="0.001, 0.01, 0.1", epochs="1", jobs=2):
    window.actions["sweep"].trigger()
    d = window.sweeps.dialog
    d.fields["learning_rate"].setText(lr)
    d.fields["epochs"].setText(epochs)
    d.folder.setText(str(folder))
    d.jobs.setValue(min(jobs, d.jobs.maximum()))
    assert d.grid is not None, d.plan.text()
    return d


def _csv_rows(path):
    return list(csv.DictReader(io.StringIO(path.read_text("utf-8"))))


def test_a_sweep_writes_every_run_as_train_would_and_draws_the_engines_summary(qtbot, window, tmp_path):
    out = tmp_path / "sweep"
    dialog = _open(window, out)
    ended, counts = [], []
    window.sweeps.runner.runEnded.connect(lambda result, run: ended.append((result, run)))
    window.sweeps.runner.progressed.connect(lambda done, total: counts.append((done, total)))
    with qtbot.waitSignal(window.sweeps.runner.sweepEnded, timeout=WAIT) as blocker:
        dialog.start_button.click()
        assert not dialog.start_button.isEnabled() and dialog.cancel_button.isEnabled()
    results, problem = blocker.args
    assert problem == "" and not results.stopped and results.count("finished") == 3
    names = {f"lr{lr}{SUFFIX}" for lr in ("0.001", "0.01", "0.1")}
    assert {p.name for p in out.iterdir()} == names | SUMMARY
    assert [row["name"] for row in _csv_rows(out / "summary.csv")] == ["lr0.001", "lr0.01", "lr0.1"]
    # Each run is the session trained with its settings, from the window's weights.
    for result in results.runs:
        expected = window.document.session.copy()
        train_session(expected, result.point.settings)
        written = load_session(result.file)
        assert written.model == expected.model and len(written.history) == len(expected.history) == 100
    # One chart: the dialog draws the engine's SVG, the very text written as summary.svg.
    assert dialog.chart_svg == summary_svg(results) == (out / "summary.svg").read_text("utf-8")
    png = QImage(str(out / "summary.png"))  # the same chart as an image, as the command writes it
    assert not png.isNull() and png.width() > 400
    assert dialog.progress.value() == dialog.progress.maximum() == 3
    assert dialog.status.text().startswith("Done: 3 runs in ")
    assert dialog.runs_list.count() == 3 and "loss at x" in dialog.runs_list.item(0).text()
    assert sorted(run.name for _result, run in ended) == ["lr0.001", "lr0.01", "lr0.1"]
    assert {run.kind for _result, run in ended} == {"sweep"}
    assert counts == sorted(counts) and counts[-1] == (3, 3)  # runs ended so far, of all
    assert {done for done, _total in counts} == {1, 2, 3}
    # The runs open in the runs list, ticked (a sweep of ten runs or fewer), kept in the session.
    swept = [e for e in window.runs.entries if e.kind == "sweep"]
    assert sorted(e.name for e in swept) == ["lr0.001", "lr0.01", "lr0.1"]
    assert all(e.visible and e.path == str(out / f"{e.name}{SUFFIX}") for e in swept)
    assert sorted(r.name for r in window.document.session.compared) == ["lr0.001", "lr0.01", "lr0.1"]
    assert "Sweep done: 3 runs" in window.statusBar().currentMessage()
    assert dialog.start_button.isEnabled() and not dialog.cancel_button.isEnabled()
    dialog.close()


@pytest.mark.parametrize("after", ["start", "a run"])
@pytest.mark.parametrize("delay_ms", [0, 10, 25, 50])
def test_cancel_keeps_the_runs_that_finished_and_their_summary(qtbot, window, tmp_path, after, delay_ms):
    out = tmp_path / "sweep"
    # Two quick runs and two of 100 epochs (seconds each): a cancel finds some finished, some not.
    dialog = _open(window, out, lr="0.001, 0.01", epochs="1, 100")
    runner = window.sweeps.runner
    with qtbot.waitSignal(runner.sweepEnded, timeout=WAIT) as blocker:
        if after == "start":
            dialog.start_button.click()
        else:
            with qtbot.waitSignal(runner.runEnded, timeout=WAIT):
                dialog.start_button.click()
        qtbot.wait(delay_ms)
        dialog.cancel_button.click()
    results, problem = blocker.args
    assert problem == "" and results.stopped
    kept = {r.point.name + SUFFIX for r in results.runs}
    assert len(kept) < 4
    if after == "a run":
        assert kept  # the run that ended before the cancel is kept
    assert {p.name for p in out.iterdir()} == kept | SUMMARY  # nothing half-written, nothing else
    assert {row["name"] + SUFFIX for row in _csv_rows(out / "summary.csv")} == kept
    for name in kept:
        assert len(load_session(out / name).history) == 100  # whole runs only
    assert dialog.runs_list.count() == len(kept)
    assert dialog.status.text().startswith(f"Cancelled: {len(kept)} run")
    assert dialog.start_button.isEnabled() and not window.sweeps.runner.is_running
    dialog.close()


def test_files_of_an_earlier_sweep_are_replaced_only_with_a_yes(qtbot, window, tmp_path, monkeypatch):
    out = tmp_path / "sweep"
    out.mkdir()
    (out / "summary.csv").write_text("the earlier sweep's\n")
    (out / f"lr0.1{SUFFIX}").write_text("an earlier run\n")
    (out / "notes.txt").write_text("the user's\n")
    asked = []
    answer = [False]
    monkeypatch.setattr(
        window.prompts, "confirm_replace", lambda title, text: asked.append(text) or answer[0]
    )
    dialog = _open(window, out)
    assert files_replaced(dialog.grid, out) == [f"lr0.1{SUFFIX}", "summary.csv"]
    dialog.start_button.click()
    assert asked and f"lr0.1{SUFFIX}" in asked[0] and "summary.csv" in asked[0] and "\n" not in asked[0]
    assert not window.sweeps.runner.is_running
    assert (out / "summary.csv").read_text() == "the earlier sweep's\n"
    answer[0] = True
    with qtbot.waitSignal(window.sweeps.runner.sweepEnded, timeout=WAIT):
        dialog.start_button.click()
    assert len(_csv_rows(out / "summary.csv")) == 3
    assert (out / "notes.txt").read_text() == "the user's\n"  # what the sweep does not write is left alone
    dialog.close()


def test_a_folder_that_cannot_be_made_is_one_line(qtbot, window, tmp_path, dialogs):
    blocker_file = tmp_path / "a file"
    blocker_file.write_text("not a folder\n")
    dialog = _open(window, blocker_file / "sweep")
    with qtbot.waitSignal(window.sweeps.runner.sweepEnded, timeout=WAIT) as blocker:
        dialog.start_button.click()
    results, problem = blocker.args
    assert results is None and problem and "\n" not in problem
    ((kind, title, text),) = dialogs.messages
    assert (kind, title, text) == ("critical", "Cannot sweep", problem)
    assert dialog.status.text().startswith("The sweep did not run: ")
    assert blocker_file.read_text() == "not a folder\n"
    dialog.close()


def test_closing_the_window_mid_sweep_stops_it_and_keeps_what_finished(qtbot, window, tmp_path):
    out = tmp_path / "sweep"
    dialog = _open(window, out, lr="0.001, 0.01", epochs="1, 100")
    with qtbot.waitSignal(window.sweeps.runner.runEnded, timeout=WAIT):
        dialog.start_button.click()
    window.close()  # joins the sweep's thread; the pool's running runs stop between two steps
    assert not window.sweeps.runner.is_running and not dialog.isVisible()
    written = {p.name for p in out.iterdir()}
    assert SUMMARY <= written and len(written - SUMMARY) in (1, 2, 3)
    assert {row["name"] + SUFFIX for row in _csv_rows(out / "summary.csv")} == written - SUMMARY


def test_the_grid_is_made_again_from_the_session_as_it_is_at_start(qtbot, window, tmp_path):
    dialog = _open(window, tmp_path / "sweep", lr="0.01, 0.1")
    doc = window.document
    doc.set_training_settings(replace(doc.training_settings, n_samples=200))  # changed with the dialog open
    with qtbot.waitSignal(window.sweeps.runner.sweepEnded, timeout=WAIT) as blocker:
        dialog.start_button.click()
    results, _problem = blocker.args
    assert {r.point.settings.n_samples for r in results.runs} == {200}
    assert {r.steps for r in results.runs} == {20}
    dialog.close()


def test_a_bigger_sweeps_runs_are_listed_unticked(qtbot, window, tmp_path):
    dialog = _open(window, tmp_path / "sweep", lr="0.001, 0.002, 0.005, 0.01, 0.02, 0.05", epochs="1")
    dialog.fields["seed"].setText("0, 1")  # twelve runs: more than VISIBLE_RUNS curves at once
    with qtbot.waitSignal(window.sweeps.runner.sweepEnded, timeout=WAIT):
        dialog.start_button.click()
    swept = [e for e in window.runs.entries if e.kind == "sweep"]
    assert len(swept) == 12 and not any(e.visible for e in swept)
    dialog.close()


def test_runs_of_a_sweep_are_not_handed_to_a_session_opened_meanwhile(qtbot, window, tmp_path):
    dialog = _open(window, tmp_path / "sweep", lr="0.001, 0.01", epochs="1, 30")
    with qtbot.waitSignal(window.sweeps.runner.sweepEnded, timeout=WAIT) as blocker:
        dialog.start_button.click()
        window.document.replace_session(Session.random(3, 7))  # File ▸ New while it runs
    results, _problem = blocker.args
    assert len(results.runs) == 4  # the sweep went on, from the session it started from
    assert not [e for e in window.runs.entries if e.kind == "sweep"]
    assert window.document.session.compared == []
    assert dialog.runs_list.count() == 4
    dialog.close()
