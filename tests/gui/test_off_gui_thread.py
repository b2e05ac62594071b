"""Issue #11, item 8: the heavy work of Export report, Open and a training run's start happens off
the GUI thread, and what stays there is bounded. (How long anything takes is measured by
tests/bench/bench_stalls.py, never asserted here.)"""

from __future__ import annotations

import math
import threading
from array import array

import pytest
from PySide6.QtCore import QCoreApplication, QTimer

from backprop_lab.engine import kernels
from backprop_lab.engine.session import HISTORY_COLUMNS, History, Session, save_session
from backprop_lab.engine.training import TrainingSettings
from backprop_lab.gui import file_controller, report, report_charts, report_controller
from backprop_lab.gui.jobs import JobCancelled, start_job

pytestmark = pytest.mark.reliability("off-gui-thread")

WAIT = 60_000


def _recording(monkeypatch, module, name: str, threads: list[threading.Thread]):
    original = getattr(module, name)

    def wrapper(*args, **kwargs):
        threads.append(threading.current_thread())
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)


def _long_history(n: int) -> History:
    base = array("d", (10.0 / math.sqrt(i + 1) * (1.5 if i % 7 == 0 else 1.0) for i in range(n)))
    columns = {name: array("d", base) for name in HISTORY_COLUMNS}  # one array each: they are taken over
    return History.from_columns(columns, array("q", (i // 1000 + 1 for i in range(n))))


# --------------------------------------------------------------------------- the job helper


def test_a_job_runs_on_another_thread_and_reports_progress_and_its_result(qtbot):
    seen: list[threading.Thread] = []
    progress: list[tuple[int, int]] = []

    def work(context):
        seen.append(threading.current_thread())
        for i in range(3):
            context.progress(i + 1, 3)
        return "value"

    job = start_job(work)
    job.progressed.connect(lambda d, t: progress.append((d, t)))
    with qtbot.waitSignal(job.succeeded, timeout=WAIT) as blocker:
        pass
    qtbot.waitUntil(lambda: job.is_done, timeout=WAIT)
    assert blocker.args == ["value"] and progress == [(1, 3), (2, 3), (3, 3)]
    assert seen and seen[0] is not threading.main_thread()


def test_a_failing_job_says_why_in_one_line(qtbot):
    def work(_context):
        raise ValueError("bad input\nsecond line")

    job = start_job(work)
    with qtbot.waitSignal(job.failed, timeout=WAIT) as blocker:
        pass
    assert blocker.args == ["ValueError: bad input"]
    qtbot.waitUntil(lambda: job.is_done, timeout=WAIT)


def test_a_cancelled_job_stops_at_its_next_check_and_its_result_is_dropped(qtbot):
    started, results = threading.Event(), []

    def work(context):
        started.set()
        while True:  # only the cancel ends it
            context.progress(0, 1)
            threading.Event().wait(0.001)

    job = start_job(work)
    job.succeeded.connect(results.append)
    job.failed.connect(results.append)
    qtbot.waitUntil(started.is_set, timeout=WAIT)
    with qtbot.waitSignal(job.cancelled, timeout=WAIT):
        job.cancel()
    assert job.wait(WAIT) and results == []
    with pytest.raises(JobCancelled):
        job.context.check()


# --------------------------------------------------------------------------- export


def test_export_of_a_long_history_renders_and_writes_off_the_gui_thread(window, qtbot, tmp_path, monkeypatch):
    session = Session.report_example()
    session.history = _long_history(200_000)
    window.document.replace_session(session, None)
    threads: list[threading.Thread] = []
    for name in ("reduce_curves", "render_report_pdf"):
        _recording(monkeypatch, report, name, threads)
    _recording(monkeypatch, report_controller, "gather_report_data", threads)
    drawn: list[tuple[threading.Thread, int]] = []
    real_panel = report_charts._panel

    def panel(title, ids, ylabel, reduced):
        drawn.append((threading.current_thread(), max(len(reduced[i][0]) for i in ids)))
        return real_panel(title, ids, ylabel, reduced)

    monkeypatch.setattr(report_charts, "_panel", panel)
    reports = window.reports
    reports.torch = False
    with qtbot.waitSignal(reports.reportExported, timeout=WAIT) as blocker:
        assert reports.export_to(tmp_path / "r")
    files = blocker.args[0]
    assert files is not None and all(p.stat().st_size > 0 for p in files.all())
    assert len(threads) == 2 + 1  # the curves reduced and the PDF rendered, one gathering
    assert all(t is not threading.main_thread() for t in threads)
    # pyqtgraph draws on the GUI thread only, and there only the reduced copy: bounded, not 200,000.
    assert [t for t, _ in drawn] == [threading.main_thread()] * 2  # the two panels
    assert max(n for _, n in drawn) <= 2 * report_charts.CHART_BUCKETS < 200_000 // 50


def test_the_report_plot_is_drawn_from_a_min_max_decimation_that_keeps_every_extreme():
    n, buckets = 100_000, 500
    values = array("d", (1.0 + (i % 97) / 97 for i in range(n)))
    values[12_345] = 50.0  # a spike
    values[54_321] = 0.001  # a dip
    points = list(zip(*report_charts.decimate(values, buckets), strict=True))
    assert len(points) <= 2 * buckets
    xs = [x for x, _ in points]
    assert xs == sorted(xs) and xs[0] >= 1 and xs[-1] <= n
    assert (12_346.0, 50.0) in points and (54_322.0, 0.001) in points  # 1-based steps
    assert max(y for _, y in points) == 50.0 and min(y for _, y in points) == 0.001
    # Short curves are drawn point by point; non-finite values are left out.
    short = list(zip(*report_charts.decimate([1.0, math.nan, 3.0], buckets), strict=True))
    assert short == [(1.0, 1.0), (3.0, 3.0)]


# --------------------------------------------------------------------------- open


def test_open_reads_and_evaluates_the_file_off_the_gui_thread(window, tmp_path, monkeypatch):
    path = tmp_path / "k6.bpl.json"
    expected = Session.random(6, 3)
    save_session(expected, path)
    threads: list[threading.Thread] = []
    _recording(monkeypatch, file_controller, "load_session", threads)
    _recording(monkeypatch, file_controller, "evaluate", threads)
    assert window.files.open_path(path)
    assert window.document.model == expected.model and window.document.path == path.absolute()
    assert len(threads) == 2 and all(t is not threading.main_thread() for t in threads)
    assert not window.files.is_opening and window.document.evaluation.scales["A"] > 0


def _slow_load(monkeypatch, release: threading.Event):
    original = file_controller.load_session

    def slow(path):
        release.wait(30)
        return original(path)

    monkeypatch.setattr(file_controller, "load_session", slow)


def test_a_second_open_while_one_is_reading_is_refused_and_the_first_completes(window, tmp_path, monkeypatch):
    first, second = tmp_path / "a.bpl.json", tmp_path / "b.bpl.json"
    save_session(Session.random(3, 1), first)
    save_session(Session.random(5, 2), second)
    release = threading.Event()
    _slow_load(monkeypatch, release)
    answers: list[bool] = []
    notes: list[str] = []
    window.document.statusMessage.connect(lambda text, _ms: notes.append(text))

    def meanwhile():
        assert window.files.is_opening
        answers.append(window.files.open_path(second))
        release.set()

    QTimer.singleShot(20, meanwhile)
    assert window.files.open_path(first)
    assert answers == [False] and "A session is being opened already" in notes
    assert window.document.K == 3 and window.document.path == first.absolute()


def test_closing_the_window_while_a_file_is_read_drops_it(qtbot, tmp_path, monkeypatch, dialogs):
    from backprop_lab.gui.main_window import MainWindow

    path = tmp_path / "a.bpl.json"
    save_session(Session.random(3, 1), path)
    release = threading.Event()
    _slow_load(monkeypatch, release)
    window = MainWindow()
    qtbot.addWidget(window)
    window.show()
    closed: list[bool] = []

    def close():
        release.set()  # the load finishes, but its answer arrives after the window closed
        closed.append(window.close())

    QTimer.singleShot(20, close)
    assert not window.files.open_path(path)
    assert closed == [True] and window.document.K == 3 and window.document.path is None
    assert dialogs.messages == []


# --------------------------------------------------------------------------- a training run


def test_a_run_compiles_its_kernels_on_the_worker_before_the_first_step(window, qtbot, monkeypatch):
    threads: list[threading.Thread] = []
    _recording(monkeypatch, kernels, "compile_in_subprocess", threads)
    window.document.replace_session(Session.random(12, 4), None)
    window.document.set_training_settings(
        TrainingSettings(learning_rate=0.001, batch_size=10, n_samples=100, epochs=2, seed=0)
    )
    with qtbot.waitSignal(window.controller.runEnded, timeout=WAIT) as blocker:
        assert window.controller.start()
    assert blocker.args[0] == "finished" and len(window.document.history) == 20
    assert threads and all(t is not threading.main_thread() for t in threads)
    window.document.mark_clean()


def test_the_line_search_waits_for_a_running_run_to_pause_or_end(window, qtbot, monkeypatch):
    panel = window.verify.line_search
    # K = 4 with batches of 10: too costly to follow a run live (a cheap one does: test_live_and_stale).
    window.document.set_model(Session.random(4, 1).model)
    window.verify.show_line_search()
    panel.source.setCurrentIndex(1)  # the next mini-batch: it follows the history
    qtbot.waitUntil(lambda: not panel._stale, timeout=WAIT)
    states: list[str] = []
    original = type(panel).refresh

    def refresh(self):
        states.append(window.document.training_state)
        original(self)

    monkeypatch.setattr(type(panel), "refresh", refresh)
    window.document.set_training_settings(
        TrainingSettings(learning_rate=0.01, batch_size=10, n_samples=1000, epochs=5, seed=0)
    )
    qtbot.waitUntil(lambda: not panel._timer.isActive(), timeout=WAIT)  # the settings' redraw is done
    states.clear()
    with qtbot.waitSignal(window.controller.runEnded, timeout=WAIT):
        assert window.controller.start()
    qtbot.waitUntil(lambda: "idle" in states, timeout=WAIT)
    assert not panel.follows_live()
    assert "running" not in states and len(window.document.history) == 500
    window.document.mark_clean()


# --------------------------------------------------------------------------- the report's GUI-thread part


def test_a_worker_has_the_curves_drawn_on_the_gui_thread_and_gets_the_result(qtbot):
    ran_on: list[threading.Thread] = []
    results: list[object] = []

    def fn() -> int:
        ran_on.append(threading.current_thread())
        return 42

    worker = threading.Thread(target=lambda: results.append(report._on_gui_thread(fn, None)))
    worker.start()
    qtbot.waitUntil(lambda: results == [42], timeout=WAIT)  # the GUI thread's loop runs the call
    worker.join(WAIT / 1000)
    assert ran_on == [threading.main_thread()]


def test_a_cancelled_worker_stops_waiting_for_the_gui_thread_and_the_call_is_dropped(qtbot):
    class Stop(Exception):
        pass

    ran: list[bool] = []
    outcome: list[BaseException] = []
    checks: list[int] = []

    def check() -> None:
        checks.append(1)
        raise Stop  # cancelled while the GUI thread is busy (it runs no event loop here)

    def work() -> None:
        try:
            report._on_gui_thread(lambda: ran.append(True), check)
        except Stop as exc:
            outcome.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(WAIT / 1000)  # the GUI thread blocks here, as a closing window joins its jobs
    assert not worker.is_alive() and len(outcome) == 1 and checks == [1]
    QCoreApplication.processEvents()  # the call, queued before the worker waited, arrives abandoned
    assert ran == []
