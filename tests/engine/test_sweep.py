"""engine.training.train_session, engine.sweep (grids, runs through executors, stopping, the CSV)
and engine.sweep_chart (the summary SVG). No Qt."""

from __future__ import annotations

import csv
import io
import itertools
import os
import threading
import xml.etree.ElementTree as ET
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import replace

import pytest

from backprop_lab.engine.model import forward
from backprop_lab.engine.session import Session, load_session, save_session
from backprop_lab.engine.sweep import (
    CSV_COLUMNS,
    MAX_RUNS,
    SUFFIX,
    Grid,
    RunResult,
    SweepResults,
    make_grid,
    run_sweep,
    summary_csv,
    train_point,
    write_summary,
)
from backprop_lab.engine.sweep_chart import SCALE, number_text, summary_svg
from backprop_lab.engine.training import StepRecord, TrainingSettings, train_session

SVG = "{http://www.w3.org/2000/svg}"
SMALL = TrainingSettings(learning_rate=0.01, batch_size=5, n_samples=40, epochs=1, seed=0)


def _session() -> Session:
    s = Session.report_example()
    s.training = SMALL
    return s


def _trained_by_hand(settings: TrainingSettings, steps: int | None = None) -> Session:
    """The run (its first ``steps`` steps) written out without train_session: a Trainer, each
    record appended, then the trainer's weights."""
    s = _session()
    trainer = s.make_trainer(settings)
    for record in itertools.islice(trainer.steps(), steps):
        s.history.append(record)
    s.finish_run(trainer)
    return s


# --------------------------------------------------------------------------- train_session


def test_train_session_is_the_trainer_loop_and_continues_the_history():
    s = _session()
    trainer = train_session(s, SMALL)
    by_hand = _trained_by_hand(SMALL)
    assert s.history == by_hand.history and s.model == by_hand.model and s.divergence is None
    assert (trainer.steps_done, trainer.total_steps, len(s.history)) == (8, 8, 8)
    train_session(s, replace(SMALL, epochs=2))  # continued: numbered after the first run
    assert s.history.last_step == 24 and list(s.history.column("epoch"))[8:] == [2] * 8 + [3] * 8
    whole = _trained_by_hand(replace(SMALL, epochs=3))
    assert s.history == whole.history and s.model == whole.model


def test_should_stop_ends_between_steps_and_keeps_what_was_taken():
    s = _session()
    seen: list[StepRecord] = []
    trainer = train_session(s, SMALL, on_step=seen.append, should_stop=lambda: len(seen) == 3)
    assert [r.step for r in seen] == [1, 2, 3] and len(s.history) == 3
    assert trainer.steps_done == 3 < trainer.total_steps
    # The weights are the third step's: three steps of a fresh run give the same model.
    three = _trained_by_hand(SMALL, 3)
    assert s.model == three.model and s.history == three.history


def test_an_exception_in_a_callback_still_takes_the_weights_of_the_steps_taken():
    s = _session()

    def boom(record: StepRecord) -> None:
        if record.step == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_session(s, SMALL, on_step=boom)
    assert len(s.history) == 2 and s.model == _trained_by_hand(SMALL, 2).model


def test_a_diverging_run_keeps_the_last_finite_weights():
    s = _session()
    trainer = train_session(s, replace(SMALL, learning_rate=1000.0))
    assert trainer.divergence is not None and s.divergence == trainer.divergence
    assert s.divergence.step == len(s.history) + 1


def test_invalid_settings_change_nothing():
    s = _session()
    before = s.copy()
    with pytest.raises(ValueError, match="batch_size must be ≤ n_samples"):
        train_session(s, replace(SMALL, batch_size=100))
    assert s == before


# --------------------------------------------------------------------------- grids


def test_the_grid_is_every_combination_in_order_with_names_from_the_settings():
    grid = make_grid(SMALL, {"batch_size": [5, 10], "learning_rate": [0.001, 1e-05]}, k=3)
    assert [name for name, _ in grid.axes] == ["learning_rate", "batch_size"]  # AXES order, not the caller's
    assert [p.name for p in grid.points] == ["lr0.001_bs5", "lr0.001_bs10", "lr1e-05_bs5", "lr1e-05_bs10"]
    assert grid.points[3].settings == replace(SMALL, learning_rate=1e-05, batch_size=10)
    one = make_grid(SMALL, {"seed": [3]})
    assert [p.name for p in one.points] == ["seed3"] and one.swept == ()


@pytest.mark.parametrize(
    ("axes", "message"),
    [
        ({"momentum": [0.9]}, "cannot sweep 'momentum'"),
        ({"learning_rate": []}, "learning_rate has no values"),
        ({"learning_rate": [0.1, 0.1]}, "learning_rate lists 0.1 twice"),
        ({"batch_size": [5, 50]}, "run bs50: batch_size must be ≤ n_samples"),
        ({"learning_rate": [0.1, -1.0]}, "run lr-1.0: learning_rate must be > 0"),
        ({"seed": list(range(MAX_RUNS + 1))}, f"at most {MAX_RUNS:,} are allowed"),
    ],
)
def test_a_bad_grid_is_one_line_naming_the_problem(axes, message):
    with pytest.raises(ValueError, match=message) as info:
        make_grid(SMALL, axes, k=3)
    assert "\n" not in str(info.value)


def test_the_grid_refuses_a_history_longer_than_a_file_holds(monkeypatch):
    from backprop_lab.engine import sweep

    monkeypatch.setattr(sweep, "MAX_HISTORY_STEPS", 20)
    with pytest.raises(ValueError, match="run bs1: the session has 12 steps and this run would add 40"):
        make_grid(SMALL, {"batch_size": [5, 1]}, steps_before=12)


# --------------------------------------------------------------------------- running


def test_a_sweep_in_threads_writes_each_run_as_train_session_makes_it(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    session = _session()
    before = session.copy()
    grid = make_grid(SMALL, {"learning_rate": [0.01, 0.1], "batch_size": [5, 8]}, k=3)
    seen: list[RunResult] = []
    with ThreadPoolExecutor(2) as pool:
        results = run_sweep(session, grid, tmp_path / "out", executor=pool, on_result=seen.append)
    assert session == before  # every run trains its own copy
    assert seen == results.runs and len(results.runs) == 4 and not results.stopped
    assert [r.point.name for r in results.in_grid_order()] == [p.name for p in grid.points]
    for r in results.runs:
        expected = _trained_by_hand(r.point.settings)
        assert r.status == "finished" and r.steps == r.point.settings.total_steps
        path = tmp_path / "out" / (r.point.name + SUFFIX)
        assert r.file == str(path)
        save_session(expected, tmp_path / "expected.json")
        assert path.read_bytes() == (tmp_path / "expected.json").read_bytes()
        m = expected.model
        assert r.final_loss_at_x == forward(m.x, m.A, m.B, m.C)["loss"]
        assert r.final_loss_at_x == pytest.approx(expected.history[-1].loss_at_x, rel=1e-12, abs=0)
        assert r.final_batch_loss == expected.history[-1].batch_loss


def test_the_default_process_pool_gives_the_same_files(tmp_path, monkeypatch):
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    session = _session()
    grid = make_grid(SMALL, {"learning_rate": [0.01, 0.02, 1000.0]}, k=3)
    results = run_sweep(session, grid, tmp_path / "pool", jobs=2)
    with ThreadPoolExecutor(1) as pool:
        again = run_sweep(session, grid, tmp_path / "threads", executor=pool)
    for p in grid.points:
        name = p.name + SUFFIX
        assert (tmp_path / "pool" / name).read_bytes() == (tmp_path / "threads" / name).read_bytes()
    statuses = {r.point.name: r.status for r in results.runs}
    assert statuses == {"lr0.01": "finished", "lr0.02": "finished", "lr1000.0": "diverged"}
    diverged = next(r for r in results.runs if r.status == "diverged")
    written = load_session(diverged.file)
    assert written.divergence is not None and diverged.diverged_at == written.divergence.step
    assert diverged.steps == len(written.history) and {r.point.name for r in again.runs} == set(statuses)


class _FailingOne(Executor):
    """Runs train_point in this thread, except that the run with ``bad`` settings raises."""

    def __init__(self, bad: TrainingSettings) -> None:
        self.bad = bad

    def submit(self, fn, /, *args, **kwargs):
        future: Future = Future()
        if args[1] == self.bad:
            future.set_exception(MemoryError("no room for the samples,\nsorry"))
        else:
            future.set_result(fn(*args, **kwargs))
        return future


def test_a_failing_run_is_recorded_and_the_others_go_on(tmp_path):
    grid = make_grid(SMALL, {"seed": [0, 1, 2]}, k=3)
    results = run_sweep(_session(), grid, tmp_path, executor=_FailingOne(grid.points[1].settings))
    failed = [r for r in results.runs if r.status == "failed"]
    assert [r.point.name for r in failed] == ["seed1"] and failed[0].file is None
    assert failed[0].error == "MemoryError: no room for the samples, sorry"
    assert sorted(os.listdir(tmp_path)) == ["seed0" + SUFFIX, "seed2" + SUFFIX]
    rows = list(csv.DictReader(io.StringIO(summary_csv(results))))
    assert [row["status"] for row in rows] == ["finished", "failed", "finished"]
    assert rows[1]["error"] == failed[0].error and rows[1]["file"] == ""


# Two long runs that did not stop would take a minute or more (4M steps each, ~8 µs a step here):
# the timeout turns that into a failure. Stopped, they take the drawing of their samples and a few
# hundred steps.
@pytest.mark.timeout(45)
def test_a_stop_keeps_the_finished_runs_and_stops_the_running_one(tmp_path):
    short = replace(SMALL, n_samples=20)
    long = replace(SMALL, batch_size=1, n_samples=250_000, epochs=16)
    grid = Grid(
        (),
        (
            make_grid(short, {"seed": [0]}).points[0],
            replace(make_grid(long, {"seed": [0]}).points[0], name="long"),
            replace(make_grid(long, {"seed": [1]}).points[0], name="longer"),
        ),
    )
    stop = threading.Event()
    results = run_sweep(
        _session(), grid, tmp_path, jobs=1, on_result=lambda r: stop.set(), should_stop=stop.is_set
    )
    assert results.stopped and [r.point.name for r in results.runs] == ["seed0"]
    assert os.listdir(tmp_path) == ["seed0" + SUFFIX]  # no file, and no temporary, of the others


def test_the_folder_is_made_and_other_files_in_it_are_left_alone(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    grid = make_grid(SMALL, {"seed": [0]}, k=3)
    with ThreadPoolExecutor(1) as pool:
        results = run_sweep(_session(), grid, tmp_path, executor=pool)
        write_summary(results, {"summary.svg": summary_svg(results).encode()})
    assert sorted(os.listdir(tmp_path)) == ["mine.txt", "seed0" + SUFFIX, "summary.csv", "summary.svg"]
    assert (tmp_path / "mine.txt").read_text() == "keep me"


def test_train_point_copies_the_session_it_is_given():
    s = _session()
    trained = train_point(s, SMALL)
    assert not s.history and trained.session is not None and len(trained.session.history) == 8
    assert trained.steps == 8


# --------------------------------------------------------------------------- summary.csv


def _result(name: str, settings: TrainingSettings, status: str = "finished", loss: float | None = 0.5, **kw):
    from backprop_lab.engine.sweep import Point

    return RunResult(Point(name, settings), status, final_loss_at_x=loss, **kw)


def test_summary_csv_has_one_row_per_run_in_grid_order_and_round_trips_numbers():
    grid = make_grid(SMALL, {"learning_rate": [0.1, 0.2]}, k=3)
    loss = 0.1 + 0.2  # 0.30000000000000004: every digit must survive
    results = SweepResults(grid, "/x")
    results.runs = [
        _result("lr0.2", grid.points[1].settings, "diverged", loss=1e300, steps=3, diverged_at=4),
        _result(
            "lr0.1",
            grid.points[0].settings,
            loss=loss,
            steps=8,
            final_batch_loss=2.5,
            file="/x/lr0.1.bpl.json",
        ),
    ]
    text = summary_csv(results)
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 3
    first = dict(zip(CSV_COLUMNS, rows[1], strict=True))
    assert first["name"] == "lr0.1" and float(first["final_loss_at_x"]) == loss
    assert first["file"] == "lr0.1.bpl.json" and first["diverged_at"] == "" and first["steps"] == "8"
    second = dict(zip(CSV_COLUMNS, rows[2], strict=True))
    assert (second["status"], second["diverged_at"], float(second["final_loss_at_x"])) == (
        "diverged",
        "4",
        1e300,
    )


# --------------------------------------------------------------------------- summary.svg


def _texts(svg: str) -> list[str]:
    return [t.text or "" for t in ET.fromstring(svg).iter(f"{SVG}text")]


def test_one_swept_setting_is_a_curve_on_log_scales_when_values_span_decades():
    grid = make_grid(SMALL, {"learning_rate": [0.001, 0.01, 0.1, 1.0]}, k=3)
    results = SweepResults(grid, "/x")
    losses = [30.0, 0.0005, 0.009]
    results.runs = [_result(p.name, p.settings, loss=v) for p, v in zip(grid.points, losses, strict=False)]
    results.runs.append(_result("lr1.0", grid.points[3].settings, "diverged", loss=1e200, diverged_at=4))
    root = ET.fromstring(summary_svg(results))
    (line,) = root.iter(f"{SVG}polyline")
    assert len(line.get("points", "").split()) == 3  # the diverged run is no point of the curve
    texts = _texts(summary_svg(results))
    assert "log loss axis" in texts and "learning rate (log scale)" in texts and "diverged" in texts
    assert {"0.001", "0.01", "0.1", "1"} <= set(texts)  # the settings, written whole
    assert {"0.0001", "100"} <= set(texts)  # the loss axis spans whole decades around the values


def test_seeds_swept_with_one_setting_give_one_curve_each():
    grid = make_grid(SMALL, {"batch_size": [1, 2, 4], "seed": [0, 1]}, k=3)
    results = SweepResults(grid, "/x")
    results.runs = [_result(p.name, p.settings, loss=1.0 + i) for i, p in enumerate(grid.points)]
    svg = summary_svg(results)
    assert len(list(ET.fromstring(svg).iter(f"{SVG}polyline"))) == 2
    assert {"seed 0", "seed 1", "linear loss axis", "batch size"} <= set(_texts(svg))


def test_two_swept_settings_are_a_heat_map_with_every_number_in_its_cell():
    grid = make_grid(SMALL, {"learning_rate": [0.01, 0.1, 10.0], "batch_size": [1, 5]}, k=3)
    results = SweepResults(grid, "/x", stopped=True)
    values = {"lr0.01_bs1": 0.000123, "lr0.01_bs5": 4.5, "lr0.1_bs1": 0.02}
    results.runs = [_result(p.name, p.settings, loss=values[p.name]) for p in grid.points if p.name in values]
    results.runs.append(_result("lr10.0_bs1", grid.points[4].settings, "diverged", loss=1e100, diverged_at=2))
    svg = summary_svg(results)
    texts = _texts(svg)
    assert {"0.000123", "4.5", "0.02"} <= set(texts)
    assert texts.count("diverged") == 1 and texts.count("not run") == 2  # lr0.1_bs5 and lr10.0_bs5
    assert "log colour scale" in texts and "learning rate" in texts and "batch size" in texts
    assert any("stopped" in t for t in texts)
    fills = {r.get("fill") for r in ET.fromstring(svg).iter(f"{SVG}rect")}
    assert len(fills) > 10  # the cells' and the legend's colours


def test_a_loss_that_underflowed_to_zero_keeps_the_heat_maps_log_scale():
    # One run reaching exactly 0 used to turn the whole map linear: 3e-4 to 7e-46 in one colour.
    grid = make_grid(SMALL, {"learning_rate": [0.01, 0.1], "batch_size": [1, 10]}, k=3)
    losses = dict(zip((p.name for p in grid.points), (3.2e-5, 3e-4, 0.0, 6.95e-46), strict=True))
    results = SweepResults(grid, "/x")
    results.runs = [_result(p.name, p.settings, loss=losses[p.name]) for p in grid.points]
    svg = summary_svg(results)
    texts = _texts(svg)
    assert "log colour scale; 0 in the lowest colour" in texts and "0" in texts
    cells = {}  # each cell's number → its fill (the rect drawn just before the number)
    fill = None
    for element in ET.fromstring(svg).iter():
        if element.tag == f"{SVG}rect":
            fill = element.get("fill")
        elif element.tag == f"{SVG}text" and element.text in ("0", "6.95e-46", "3.2e-05", "0.0003"):
            cells[element.text] = fill
    lowest = "#" + "".join(f"{round(255 * c):02x}" for c in SCALE[0])
    assert cells["0"] == lowest  # 0 sits at the bottom of the scale, below the smallest value
    assert len({cells["0"], cells["6.95e-46"], cells["3.2e-05"], cells["0.0003"]}) == 4


def test_seeds_in_a_heat_map_are_their_median():
    grid = make_grid(SMALL, {"learning_rate": [0.1, 0.2], "batch_size": [1, 2], "seed": [0, 1, 2]}, k=3)
    results = SweepResults(grid, "/x")
    results.runs = [_result(p.name, p.settings, loss=1.0 + p.settings.seed) for p in grid.points]
    texts = _texts(summary_svg(results))
    assert texts.count("2") >= 4 and "median over 3 seeds; linear colour scale" in texts


def test_a_third_setting_makes_one_heat_map_per_value():
    axes = {"learning_rate": [0.1, 0.2], "batch_size": [1, 2], "epochs": [1, 3]}
    grid = make_grid(SMALL, axes, k=3)
    results = SweepResults(grid, "/x")
    results.runs = [_result(p.name, p.settings, loss=0.5) for p in grid.points]
    texts = _texts(summary_svg(results))
    assert "epochs 1" in texts and "epochs 3" in texts and texts.count("0.5") == 8


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.0001, "0.0001"), (0.000123, "0.000123"), (1e-05, "1e-05"), (20.0, "20"), (12345.6, "12345.6"),
     (1e6, "1e+06"), (0.1 + 0.2, "0.3"), (0.0, "0")],
)  # fmt: skip
def test_numbers_are_written_whole(value, text):
    assert number_text(value) == text


def test_a_sweep_stopped_before_any_run_finished_still_draws():
    grid = make_grid(SMALL, {"learning_rate": [0.1, 0.2], "seed": [0, 1]}, k=3)
    svg = summary_svg(SweepResults(grid, "/x", stopped=True))
    texts = _texts(svg)
    assert "Final loss at x: 0 of 4 runs (the sweep was stopped)" in texts
    assert not list(ET.fromstring(svg).iter(f"{SVG}circle"))


def test_a_sweep_of_one_run_charts_its_one_point_against_the_setting_given():
    grid = make_grid(SMALL, {"seed": [4], "batch_size": [5]}, k=3)
    results = SweepResults(grid, "/x", runs=[_result("bs5_seed4", grid.points[0].settings, loss=0.00045)])
    svg = summary_svg(results)
    texts = _texts(svg)
    assert "Final loss at x: 1 of 1 run" in texts and "batch size" in texts and "5" in texts
    assert not any(t.startswith("seed ") for t in texts)  # no legend for a seed that was not swept
    assert {"0", "0.0008"} <= set(texts)  # one value: a linear axis from zero, the point in the middle
    assert len(list(ET.fromstring(svg).iter(f"{SVG}circle"))) == 1
