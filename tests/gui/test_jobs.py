"""gui/jobs.py, the one background-job helper: generators, throttled progress, cancel, and the
owner's JobGroup that cancels and joins its jobs when it closes. (The basic callable, failure and
cancel tests are in test_off_gui_thread.py.) Waits are on signals and conditions, never sleeps."""

from __future__ import annotations

import threading

import pytest
import shiboken6
from PySide6.QtCore import QObject, QTimer

from backprop_lab.gui.jobs import Job, JobCancelled, JobGroup, error_line, start_job

WAIT = 60_000


def _spin_until_cancelled(started: threading.Event, ended: threading.Event):
    def work(context):
        started.set()
        try:
            while True:  # only a cancel ends it
                context.check()
                threading.Event().wait(0.001)
        finally:
            ended.set()

    return work


def test_a_generator_job_hands_over_each_item_and_then_its_return_value(qtbot):
    threads: list[threading.Thread] = []
    items: list[object] = []

    def work(context):
        threads.append(threading.current_thread())
        for i in range(3):
            yield i * 10
        return "done"

    job = start_job(work)
    job.yielded.connect(items.append)
    with qtbot.waitSignal(job.succeeded, timeout=WAIT) as blocker:
        pass
    qtbot.waitUntil(lambda: job.is_done, timeout=WAIT)
    assert items == [0, 10, 20] and blocker.args == ["done"]
    assert threads and threads[0] is not threading.main_thread()


def test_a_cancelled_generator_stops_between_two_items_and_runs_its_finally(qtbot):
    first, closed = threading.Event(), threading.Event()
    outcome: list[object] = []

    def work(context):
        try:
            while True:
                first.set()
                yield "item"
        finally:
            closed.set()

    job = start_job(work)
    job.succeeded.connect(outcome.append)
    job.failed.connect(outcome.append)
    qtbot.waitUntil(first.is_set, timeout=WAIT)
    with qtbot.waitSignal(job.cancelled, timeout=WAIT):
        job.cancel()
    assert closed.is_set() and outcome == []


def test_a_failing_generator_fails_in_one_line(qtbot):
    def work(context):
        yield 1
        raise RuntimeError("missing\nmore")

    job = start_job(work)
    with qtbot.waitSignal(job.failed, timeout=WAIT) as blocker:
        pass
    assert blocker.args == ["RuntimeError: missing"]
    qtbot.waitUntil(lambda: job.is_done, timeout=WAIT)


def test_error_line_is_the_type_and_the_first_line():
    assert error_line(ValueError("K must be positive\ngot 0")) == "ValueError: K must be positive"
    assert error_line(RuntimeError()) == "RuntimeError"
    assert error_line(OSError("")) == "OSError"


def test_throttled_progress_keeps_the_first_and_the_last_report(qtbot):
    seen: list[tuple[int, int]] = []

    def work(context):
        for i in range(1, 101):
            context.progress(i, 100)
        return None

    job = Job(work, progress_interval=3600.0)  # longer than the test: only the two that must pass
    job.progressed.connect(lambda d, t: seen.append((d, t)))
    with qtbot.waitSignal(job.finished, timeout=WAIT):
        job.start()
    assert seen == [(1, 100), (100, 100)]


def test_a_result_that_arrives_after_cancel_is_dropped(qtbot):
    outcome: list[object] = []
    job = Job(lambda context: "too late")
    job.succeeded.connect(outcome.append)
    job.start()
    assert job.wait(WAIT)  # returned; its result is still queued for the GUI thread
    job.cancel()
    with qtbot.waitSignal(job.cancelled, timeout=WAIT):
        pass
    assert outcome == [] and job.is_done


def test_quit_cancels_joins_and_ends_the_job_without_an_event_loop(qtbot):
    started, ended = threading.Event(), threading.Event()
    events: list[str] = []
    job = start_job(_spin_until_cancelled(started, ended))
    job.cancelled.connect(lambda: events.append("cancelled"))
    job.finished.connect(lambda: events.append("finished"))
    qtbot.waitUntil(started.is_set, timeout=WAIT)
    assert job.quit(WAIT)
    assert ended.is_set() and not job.worker_thread.isRunning()
    assert events == ["cancelled", "finished"] and job.is_done
    assert job.quit(WAIT) and events == ["cancelled", "finished"]  # once only


def test_a_group_counts_its_jobs_and_lets_finished_ones_go(qtbot):
    owner = QObject()
    group = JobGroup(owner)
    gate = threading.Event()
    first = group.start(lambda context: gate.wait(WAIT / 1000) and "first", name="first")
    second = group.start(lambda context: 2, name="second")
    with qtbot.waitSignal(second.finished, timeout=WAIT):
        pass
    assert len(group) == 1 and group.jobs == (first,)
    with qtbot.waitSignal(first.succeeded, timeout=WAIT) as blocker:
        gate.set()
    assert blocker.args == ["first"]
    qtbot.waitUntil(lambda: len(group) == 0, timeout=WAIT)
    qtbot.waitUntil(lambda: not shiboken6.isValid(first), timeout=WAIT)  # deleted once finished
    shiboken6.delete(owner)


def test_shutting_a_group_down_cancels_and_joins_every_job(qtbot):
    group = JobGroup()
    flags = [(threading.Event(), threading.Event()) for _ in range(3)]
    jobs = [group.start(_spin_until_cancelled(s, e), name=f"spin{i}") for i, (s, e) in enumerate(flags)]
    cancelled: list[str] = []
    for name, job in zip(("spin0", "spin1", "spin2"), jobs, strict=True):
        job.cancelled.connect(lambda name=name: cancelled.append(name))
    qtbot.waitUntil(lambda: all(s.is_set() for s, _ in flags), timeout=WAIT)
    threads = [job.worker_thread for job in jobs]
    assert len(group) == 3
    assert group.shutdown(WAIT)
    assert len(group) == 0 and all(e.is_set() for _, e in flags)
    assert not any(t.isRunning() for t in threads)
    assert sorted(cancelled) == ["spin0", "spin1", "spin2"]


def test_an_owner_destroyed_without_shutdown_still_cancels_and_joins_its_jobs(qtbot):
    owner = QObject()
    group = JobGroup(owner)
    started, ended = threading.Event(), threading.Event()
    group.start(_spin_until_cancelled(started, ended))
    qtbot.waitUntil(started.is_set, timeout=WAIT)
    shiboken6.delete(owner)  # the Job's destruction joins its thread before Qt deletes it
    assert ended.is_set()


def test_a_cancelled_context_raises_at_its_next_check(qtbot):
    job = Job(lambda context: None)
    assert not job.context.cancelled
    job.cancel()
    assert job.context.cancelled and job.is_cancelled
    with pytest.raises(JobCancelled):
        job.context.progress(1, 2)


@pytest.mark.parametrize("delay_ms", [0, 1, 5, 20, 50])
def test_a_cancel_racing_the_end_gives_one_outcome_and_never_a_late_result(qtbot, delay_ms):
    def work(context):
        for i in range(100):  # some tens of milliseconds: the cancel lands before, during or after
            context.progress(i, 100)
            threading.Event().wait(0.0003)
        return "result"

    events: list[str] = []
    done_when_cancelled: list[bool] = []
    group = JobGroup()
    job = group.start(work)
    job.succeeded.connect(lambda _value: events.append("succeeded"))
    job.cancelled.connect(lambda: events.append("cancelled"))
    job.failed.connect(lambda _error: events.append("failed"))
    job.finished.connect(lambda: events.append("finished"))

    def cancel() -> None:
        done_when_cancelled.append(job.is_done)
        job.cancel()

    QTimer.singleShot(delay_ms, cancel)
    qtbot.waitUntil(lambda: bool(done_when_cancelled) and "finished" in events, timeout=WAIT)
    assert events in (["succeeded", "finished"], ["cancelled", "finished"])
    if not done_when_cancelled[0]:
        assert events == ["cancelled", "finished"]  # cancelled before it ended: its result is dropped
    qtbot.waitUntil(lambda: len(group) == 0, timeout=WAIT)
    shiboken6.delete(group)
