"""The training worker: its loop run synchronously, and the controller running it on a thread."""

from __future__ import annotations

import gc
import threading
import time

from PySide6.QtCore import Qt

from backprop_lab.engine.session import Session
from backprop_lab.engine.training import Trainer, TrainingSettings
from backprop_lab.gui.worker import TrainingController, TrainingWorker, history_chunk

WAIT = 60_000  # a deadline, not a target


def trainer(**settings) -> Trainer:
    m = Session.report_example().model
    return Trainer(m, TrainingSettings(**settings))


class Collector:
    def __init__(self, worker: TrainingWorker) -> None:
        self.batches: list[list] = []
        self.done: list[tuple] = []
        self.paused: list = []
        worker.recordsReady.connect(lambda records, _chunk, _weights: self.batches.append(records))
        worker.done.connect(lambda *args: self.done.append(args))
        worker.pausedAt.connect(self.paused.append)

    @property
    def records(self) -> list:
        return [r for b in self.batches for r in b]


def test_loop_runs_synchronously_and_hands_over_every_record_once():
    t = trainer(n_samples=200, batch_size=10, epochs=3)
    worker = TrainingWorker(t, flush_interval=0.0)
    out = Collector(worker)
    worker.run()  # on this thread: direct signal delivery
    assert [r.step for r in out.records] == list(range(1, 61))
    assert out.done == [("finished", t.weights(), "")]
    assert worker.loop_thread_idents == {threading.get_ident()}


def test_records_are_batched_not_one_signal_per_step():
    worker = TrainingWorker(trainer(n_samples=2000, batch_size=1, epochs=1), flush_interval=3600.0)
    out = Collector(worker)
    worker.run()
    assert len(out.records) == 2000
    assert len(out.batches) == 1  # everything in the final flush: the interval never elapsed


def test_stop_requested_before_the_first_step_takes_none():
    worker = TrainingWorker(trainer())
    out = Collector(worker)
    worker.request_cancel()
    worker.run()
    assert out.records == [] and out.done[0][0] == "stopped"


def test_divergence_ends_the_loop_with_the_last_finite_weights():
    t = trainer(learning_rate=100.0, n_samples=100, batch_size=10, epochs=5)
    worker = TrainingWorker(t)
    out = Collector(worker)
    worker.run()
    outcome, weights, _ = out.done[0]
    assert outcome == "diverged" and t.divergence is not None
    assert len(out.records) == t.divergence.step - 1
    assert all(v == v and abs(v) != float("inf") for m in weights for row in m for v in row)


def test_an_exception_in_the_loop_becomes_a_failed_outcome():
    class Broken:
        divergence = None

        def steps(self):
            yield from ()
            raise ZeroDivisionError("boom")

        def weights(self):
            return ([[0.0]], [[0.0]], [[0.0]])

    worker = TrainingWorker(Broken())  # type: ignore[arg-type]
    out = Collector(worker)
    worker.run()
    assert out.done == [("failed", ([[0.0]], [[0.0]], [[0.0]]), "ZeroDivisionError: boom")]


def test_a_failure_is_reported_in_one_line_as_jobs_report_it():
    class Broken:
        divergence = None

        def steps(self):
            yield from ()
            raise RuntimeError("first line\nsecond line")

        def weights(self):
            return ([[0.0]], [[0.0]], [[0.0]])

    worker = TrainingWorker(Broken())  # type: ignore[arg-type]
    out = Collector(worker)
    worker.run()
    assert out.done[0][0] == "failed" and out.done[0][2] == "RuntimeError: first line"


def test_cancel_wakes_a_paused_loop_and_ends_it_as_stopped(qtbot):
    worker = TrainingWorker(trainer(n_samples=100, batch_size=10, epochs=5), start_paused=True)
    out = Collector(worker)
    paused = threading.Event()
    # Direct: this plain Python thread has no Qt event loop to queue to.
    worker.pausedAt.connect(lambda _weights: paused.set(), Qt.ConnectionType.DirectConnection)
    thread = threading.Thread(target=worker.run)
    thread.start()
    assert paused.wait(120)  # a deadline for a loop that is starting, not a target
    worker.request_cancel()
    thread.join(60)
    assert not thread.is_alive()
    qtbot.waitUntil(lambda: bool(out.done), timeout=WAIT)  # queued from the loop's thread
    assert out.records == [] and out.done[0][0] == "stopped"


def test_controller_runs_the_loop_off_the_gui_thread(document, qtbot):
    document.set_training_settings(TrainingSettings(n_samples=500, batch_size=5, epochs=2))
    controller = TrainingController(document)
    gui_thread = threading.get_ident()
    with qtbot.waitSignal(controller.runEnded, timeout=WAIT) as ended:
        assert controller.start()
    assert ended.args[0] == "finished"
    assert len(document.history) == 200
    assert controller.last_loop_thread_idents and gui_thread not in controller.last_loop_thread_idents
    assert controller.last_loop_ran_on_gui_thread is False
    assert not controller.is_active


def test_controller_freezes_the_collector_only_while_a_run_exists(document, qtbot):
    document.set_training_settings(TrainingSettings(n_samples=500, batch_size=1, epochs=100))
    controller = TrainingController(document)
    controller.start()
    assert gc.get_freeze_count() > 0  # the window's objects are left out of collections during the run
    qtbot.waitUntil(lambda: len(document.history) > 0, timeout=WAIT)
    with qtbot.waitSignal(controller.runEnded, timeout=WAIT) as ended:
        controller.stop()
    assert ended.args[0] == "stopped"
    assert gc.get_freeze_count() == 0


def test_controller_batches_history_updates(document, qtbot):
    document.set_training_settings(TrainingSettings(n_samples=20_000, batch_size=1, epochs=1))
    controller = TrainingController(document)
    updates = []
    document.historyChanged.connect(lambda: updates.append(len(document.history)))
    with qtbot.waitSignal(controller.runEnded, timeout=60_000):
        controller.start()
    assert len(document.history) == 20_000
    assert len(updates) < 2_000  # about one per 50 ms, never one per step


def test_shutdown_stops_promptly_and_delivers_the_last_records(document, qtbot):
    document.set_training_settings(TrainingSettings(n_samples=1000, batch_size=1, epochs=1000))
    controller = TrainingController(document)
    controller.start()
    qtbot.waitUntil(lambda: len(document.history) > 0, timeout=WAIT)
    assert controller.shutdown(timeout_ms=1000)
    assert not controller.is_active and document.training_state == "idle"
    assert len(document.history) == controller.steps_done
    assert document.undo_stack.count() == 1


def test_waiting_for_the_gui_is_released_by_acknowledge_and_by_cancel():
    worker = TrainingWorker(
        trainer(n_samples=500, batch_size=1, epochs=1), flush_interval=0.0, wait_for_gui=True
    )
    batches: list = []

    def take(records, chunk, _weights):
        batches.append(len(records))
        assert len(chunk) == len(records)
        if len(batches) < 3:
            worker.acknowledge()  # the GUI took it in; from the third batch on nobody answers

    # Direct: this plain Python thread has no Qt event loop to queue to.
    worker.recordsReady.connect(take, Qt.ConnectionType.DirectConnection)
    thread = threading.Thread(target=worker.run)
    thread.start()
    deadline = time.monotonic() + 120  # only stops the wait; a hang fails below
    while len(batches) < 3 and time.monotonic() < deadline:
        thread.join(0.01)
    assert len(batches) == 3 and thread.is_alive()  # waiting for the third batch to be taken
    worker.request_cancel()
    thread.join(60)
    assert not thread.is_alive()


def test_history_chunk_matches_the_records():
    records = list(trainer(n_samples=30, batch_size=10, epochs=2).steps())
    assert list(history_chunk(records).records()) == records
    assert len(history_chunk([])) == 0
