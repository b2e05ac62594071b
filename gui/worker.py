"""Training off the GUI thread: a worker object on a QThread, driven by a controller on the GUI thread.

``TrainingWorker.run`` iterates the engine's ``Trainer.steps()`` generator; between any two steps it
checks for stop and pause (cooperative: a step takes well under a millisecond for the editors' K, so
both act at once). Records are handed over in batches about every ``FLUSH_INTERVAL`` seconds, never
one signal per step. ``run`` is a plain method: tests call it synchronously on the main thread.

Hand-over: with ``wait_for_gui`` the worker waits, after each batch, until the GUI has taken it in
(and repainted). Both threads run Python and share the GIL, so they never truly run in parallel;
while the worker computes, every GIL hand-off the GUI thread needs (PySide takes the GIL on each
virtual call into a Python-made widget while painting) costs it a whole switch interval, and one
repaint turns into hundreds of milliseconds. Taking turns instead makes the GUI's share of the
time small and predictable, and it is backpressure too: a slow GUI slows the run, records never
pile up in the event queue.

Weights travel with the records: each batch carries A, B, C after its last step, so whatever the
GUI has taken in is a consistent state (a history and the weights its last row ended with). A Save
pressed a millisecond after Pause, while the worker is still finishing its step, writes that state
with nothing to wait for; waiting instead for the worker to hand over its weights on pause would
block the GUI thread on a thread that itself waits for the GUI (``wait_for_gui``). The copy costs
3·K² floats every ~50 ms, nothing beside a step.

``TrainingController`` owns the thread's lifetime and adapts the run to the :class:`Document`:
history batches with their weights, the weights shown live (paced by :mod:`gui.live_pace`), on
pause and at the end, one undo step per run, divergence, errors.

Words shared with :mod:`gui.jobs` (where every other background computation runs): the loop is
stopped by ``request_cancel()`` (cooperative, thread-safe, acted on between two steps, like
``Job.cancel``), progress is ``progressed(done, total, …)``, a failure is one line
(:func:`gui.jobs.error_line`), and the owner's ``shutdown()`` cancels and joins the thread. The
run's outcome keeps the user's word for a cancelled run, "stopped" ("Training stopped after …").
"""

from __future__ import annotations

import gc
import math
import threading
import time
from array import array
from operator import attrgetter

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QThread, QTimer, Signal, Slot

from backprop_lab.engine import kernels
from backprop_lab.engine.formatting import format_count
from backprop_lab.engine.model import Matrix
from backprop_lab.engine.session import HISTORY_COLUMNS, History
from backprop_lab.engine.training import StepRecord, Trainer
from backprop_lab.engine.variant import DEFAULT_VARIANT
from backprop_lab.gui.document import Document
from backprop_lab.gui.jobs import error_line
from backprop_lab.gui.live_pace import LivePace

FLUSH_INTERVAL = 0.05  # seconds between record batches: ~20 updates/s, smooth to the eye
PROGRESS_INTERVAL = 0.25  # seconds between progress-bar updates while running
ACK_TURNS = 3  # event-loop turns the GUI takes after a batch before the worker goes on (see below)


_COLUMN_GETTERS = tuple(
    (name, attrgetter(field))
    for name, field in zip(
        HISTORY_COLUMNS, ("batch_loss", "loss_at_x", "grad_norm_A", "grad_norm_B", "grad_norm_C"), strict=True
    )
)
_EPOCH = attrgetter("epoch")


def history_chunk(records: list[StepRecord]) -> History:
    """The records as a History of their own, built with C-level loops (about 0.3 µs a step).

    Built on the worker thread so that the GUI thread takes a batch in with one array
    concatenation (``History.extend_from``) instead of validating step by step. One ``map`` per
    column: a third cheaper than transposing the records' tuples with ``zip``.
    """
    columns = {name: array("d", map(get, records)) for name, get in _COLUMN_GETTERS}
    return History.from_columns(columns, array("q", map(_EPOCH, records)))


class TrainingWorker(QObject):
    """Runs one training run's steps; lives on a worker thread (or is called directly in tests).

    Signals (emitted from the thread running :meth:`run`):
    ``recordsReady(list[StepRecord], History, (A, B, C))`` a batch of new steps, also as compact history
    columns, and the weights after its last step;
    ``pausedAt(tuple[A, B, C])`` the loop is waiting (pause, or after Step), with the current weights;
    ``done(outcome, (A, B, C), message)`` outcome is "finished", "stopped" (cancelled), "diverged" or
    "failed" (message is then the exception in one line).
    """

    recordsReady = Signal(object, object, object)
    pausedAt = Signal(object)
    done = Signal(str, object, str)

    def __init__(
        self,
        trainer: Trainer,
        *,
        start_paused: bool = False,
        flush_interval: float = FLUSH_INTERVAL,
        wait_for_gui: bool = False,
    ):
        super().__init__()
        self.trainer = trainer
        self.flush_interval = flush_interval
        self.wait_for_gui = wait_for_gui
        self._taken = threading.Event()
        self._cond = threading.Condition()
        self._cancelled = False
        self._paused = start_paused
        self._step_budget = 0
        #: threading.get_ident() of every thread the loop ran on (recorded at each batch).
        self.loop_thread_idents: set[int] = set()
        #: QThread.currentThread() as seen inside the loop.
        self.loop_qthread: QThread | None = None

    # ------------------------------------------------------------------ requests (any thread)

    def request_cancel(self) -> None:
        """Stop the run at its next step, paused or not; it ends with the outcome "stopped"."""
        with self._cond:
            self._cancelled = True
            self._cond.notify_all()
        self._taken.set()

    def acknowledge(self) -> None:
        """The GUI has taken in the last batch (thread-safe); the loop goes on."""
        self._taken.set()

    def request_pause(self) -> None:
        with self._cond:
            self._paused = True

    def request_resume(self) -> None:
        with self._cond:
            self._paused = False
            self._step_budget = 0
            self._cond.notify_all()

    def request_step(self, n: int = 1) -> None:
        """While paused: take exactly ``n`` more steps, then pause again."""
        with self._cond:
            self._paused = True
            self._step_budget += n
            self._cond.notify_all()

    # ------------------------------------------------------------------ the loop

    @Slot()
    def run(self) -> None:
        trainer = self.trainer
        # Before the first step: compiling the generated kernels here would hold the GIL (and so
        # freeze the window) for as long as compile() runs; a child process compiles them instead.
        k = getattr(trainer, "K", None)  # a test's stand-in trainer may have none
        if isinstance(k, int):
            kernels.compile_in_subprocess(k, variant=getattr(trainer, "variant", DEFAULT_VARIANT))
        advance = trainer.steps().__next__
        # Locals, not attribute look-ups: this loop runs once per step (~15 µs), headless or not.
        clock, interval = time.monotonic, self.flush_interval
        batch: list[StepRecord] = []
        last = clock()
        outcome, message = "finished", ""
        self.loop_thread_idents.add(threading.get_ident())
        self.loop_qthread = QThread.currentThread()
        try:
            while True:
                if self._cancelled:
                    outcome = "stopped"
                    break
                if self._paused:
                    with self._cond:
                        budget = self._step_budget
                        if budget:
                            self._step_budget -= 1
                    if not budget:
                        if batch:
                            self._flush(batch)
                            batch = []
                        self.pausedAt.emit(trainer.weights())
                        with self._cond:
                            while self._paused and not self._step_budget and not self._cancelled:
                                self._cond.wait()
                        last = clock()
                        continue
                try:
                    record = advance()
                except StopIteration:
                    outcome = "diverged" if trainer.divergence is not None else "finished"
                    break
                batch.append(record)
                now = clock()
                if now - last >= interval:
                    self._flush(batch)
                    batch = []
                    last = now
        except Exception as exc:  # the user sees it; the window stays usable
            outcome, message = "failed", error_line(exc)
        if batch:
            self._flush(batch)
        self.done.emit(outcome, trainer.weights(), message)

    def _flush(self, batch: list[StepRecord]) -> None:
        self.loop_thread_idents.add(threading.get_ident())
        self._taken.clear()
        # The trainer's weights are those after the last yielded step, the batch's last record.
        self.recordsReady.emit(batch, history_chunk(batch), self.trainer.weights())
        # Released by acknowledge() or request_cancel(); after a cancel the GUI may be waiting for
        # this thread to end (closing the window), so the last batch is not waited for.
        if self.wait_for_gui and not self._cancelled:
            self._taken.wait()


class TrainingController(QObject):
    """Start / pause / resume / step / stop a run of the document's model and settings.

    Signals: ``progressed(done, total, steps_per_s, eta_s)`` (eta is NaN when unknown) and
    ``runEnded(outcome, message)`` with a one-line, user-facing message. The run's state is the
    document's ``training_state`` ("idle", "running", "paused").
    """

    progressed = Signal(int, int, float, float)
    runEnded = Signal(str, str)

    def __init__(self, document: Document, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._document = document
        self._thread: QThread | None = None
        self._worker: TrainingWorker | None = None
        self._stopping = False
        self._done = 0
        self._total = 0
        self._active = 0.0  # seconds spent running (pauses excluded)
        self._since: float | None = None
        self._last_progress = 0.0
        self._gc_frozen = False
        self._ack_turns = 0
        #: When to show the run's weights live (gui.live_pace); the last batch's, until then.
        self.live_pace = LivePace(self)
        self._live_weights: tuple[Matrix, Matrix, Matrix] | None = None
        #: Thread idents the last run's loop ran on (tests check it is not the GUI thread).
        self.last_loop_thread_idents: set[int] = set()
        self.last_loop_ran_on_gui_thread: bool | None = None

    # ------------------------------------------------------------------ state

    @property
    def state(self) -> str:
        return self._document.training_state

    @property
    def is_active(self) -> bool:
        return self._thread is not None

    @property
    def steps_done(self) -> int:
        return self._done

    # ------------------------------------------------------------------ commands

    def start(self, *, paused: bool = False, steps: int = 0) -> bool:
        """Begin a run from the current model; False (and a message) if the settings are invalid."""
        if self._thread is not None:
            return False
        doc = self._document
        try:
            trainer = doc.begin_training_run()
        except ValueError as exc:
            message = f"Cannot start training: {exc}"
            doc.notify(message)
            self.runEnded.emit("invalid", message)
            return False
        self._stopping = False
        self.live_pace.restart()  # the first batch is shown at once
        self._live_weights = None
        self._done, self._total, self._active = 0, trainer.total_steps, 0.0
        self._since = None if paused else time.monotonic()

        worker = TrainingWorker(trainer, start_paused=paused, wait_for_gui=True)
        if steps:
            worker.request_step(steps)
        thread = QThread(self)
        thread.setObjectName("trainingThread")
        worker.moveToThread(thread)
        thread.started.connect(worker.run)
        worker.recordsReady.connect(self._on_worker_records_ready)
        worker.pausedAt.connect(self._on_worker_paused_at)
        worker.done.connect(self._on_worker_done)
        self._worker, self._thread = worker, thread
        doc.set_training_state("paused" if paused else "running")
        self._emit_progress()
        # The window's tens of thousands of long-lived objects (widgets, plot items) would make every
        # full collection the run's allocations trigger take ~25 ms, stalling both threads; frozen,
        # they are left out of collections until the run ends (nothing is freed or leaked by this).
        if not self._gc_frozen:
            gc.freeze()
            self._gc_frozen = True
        thread.start()
        return True

    def pause(self) -> None:
        if self._worker is not None and self.state == "running":
            self._worker.request_pause()
            self._clock_stop()
            self._document.set_training_state("paused")
            self._emit_progress()

    def resume(self) -> None:
        if self._worker is not None and self.state == "paused":
            self._clock_start()
            self._document.set_training_state("running")
            self._worker.request_resume()

    def toggle_pause(self) -> None:
        if self.state == "running":
            self.pause()
        elif self.state == "paused":
            self.resume()

    def step(self) -> None:
        """Exactly one mini-batch: from idle this begins a paused run; while paused, one more step."""
        if self._worker is None:
            self.start(paused=True, steps=1)
        elif self.state == "paused":
            self._clock_start()
            self._worker.request_step(1)

    def stop(self) -> None:
        if self._worker is not None:
            self._stopping = True
            self._worker.request_cancel()

    def shutdown(self, timeout_ms: int = 1000) -> bool:
        """Stop the run and wait for its thread (closing the window). True if the thread finished."""
        thread, worker = self._thread, self._worker
        if thread is None or worker is None:
            return True
        self._stopping = True
        worker.request_cancel()
        thread.quit()  # takes effect as soon as run() returns to the thread's event loop
        finished = thread.wait(timeout_ms)
        # Deliver what the worker emitted before it stopped (its last records and ``done``).
        QCoreApplication.sendPostedEvents(self, QEvent.Type.MetaCall.value)
        return bool(finished)

    # ------------------------------------------------------------------ worker signals (GUI thread)

    @Slot(object, object, object)
    def _on_worker_records_ready(
        self, records: list[StepRecord], chunk: History, weights: tuple[Matrix, Matrix, Matrix]
    ) -> None:
        self._done += len(records)
        self._live_weights = weights
        self._document.append_history(records, chunk, weights)
        self._emit_progress(throttle=True)
        # Zero timers, a few event-loop turns apart, run after the repaints these changes cause. They
        # run here, on the GUI thread: the worker's own thread is blocked until the acknowledgement.
        self._ack_turns = ACK_TURNS
        QTimer.singleShot(0, self._acknowledge_worker_soon)

    def _acknowledge_worker_soon(self) -> None:
        # A few more event-loop turns: the plot's scene posts its changes to the view, which only then
        # posts the repaint, and a re-laid-out axis posts another; acknowledging earlier would leave
        # those paints to compete with the worker for the GIL (a 5 ms paint then takes 30 to 40 ms).
        self._ack_turns -= 1
        last_turn = self._ack_turns <= 0
        QTimer.singleShot(0, self._acknowledge_worker if last_turn else self._acknowledge_worker_soon)

    def _acknowledge_worker(self) -> None:
        if self._worker is None:
            return
        weights, self._live_weights = self._live_weights, None
        if weights is not None and self.state != "idle" and self.live_pace.due():
            # Live: the run's weights are shown after the batch's own repaints are done, so that theirs
            # (tens of milliseconds at K = 32) get turns of their own instead of adding to the plot's;
            # the worker still waits, so no repaint competes with it for the GIL.
            self._ack_turns = ACK_TURNS
            QTimer.singleShot(0, self._acknowledge_worker_soon)  # first: even a failing slot lets it go on
            self._document.show_weights(*weights)
            self.live_pace.shown()
            return
        self._worker.acknowledge()

    @Slot(object)
    def _on_worker_paused_at(self, weights: tuple[Matrix, Matrix, Matrix]) -> None:
        if self._stopping or self._worker is None:
            return
        if not (self._worker._paused and self._worker._step_budget == 0):
            return  # resumed (or stepping again) since this was sent; newer weights are coming
        self._clock_stop()
        self._document.set_training_state("paused")
        self._document.show_weights(*weights)
        self._emit_progress()

    @Slot(str, object, str)
    def _on_worker_done(self, outcome: str, weights: tuple[Matrix, Matrix, Matrix], message: str) -> None:
        worker, thread = self._worker, self._thread
        if worker is None or thread is None:
            return
        self._clock_stop()
        thread.quit()
        thread.wait()
        if self._gc_frozen:
            gc.unfreeze()
            self._gc_frozen = False
        self.last_loop_thread_idents = set(worker.loop_thread_idents)
        self.last_loop_ran_on_gui_thread = worker.loop_qthread is self.thread()
        self._worker = self._thread = None
        worker.deleteLater()
        thread.deleteLater()

        doc = self._document
        trainer = worker.trainer
        n = self._done
        if outcome == "diverged" and trainer.divergence is not None:
            text = trainer.divergence.reason
        elif outcome == "failed":
            text = (
                f"Training failed after {format_count(n, 'step')}: {message}. The weights after the "
                "last good step are shown; the steps taken so far are kept in the history."
            )
        elif outcome == "stopped":
            text = f"Training stopped after {n:,} of {format_count(self._total, 'step')}."
        else:
            text = f"Training finished: {format_count(n, 'step')}."
        label = {"finished": "Train", "stopped": "Train (stopped)", "diverged": "Train (diverged)"}
        doc.finish_training_run(trainer, f"{label.get(outcome, 'Train (failed)')} {format_count(n, 'step')}")
        doc.set_training_state("idle")
        self._emit_progress()
        doc.notify(text, 10000)
        self.runEnded.emit(outcome, text)

    # ------------------------------------------------------------------ helpers

    def _clock_start(self) -> None:
        if self._since is None:
            self._since = time.monotonic()

    def _clock_stop(self) -> None:
        if self._since is not None:
            self._active += time.monotonic() - self._since
            self._since = None

    def _emit_progress(self, *, throttle: bool = False) -> None:
        now = time.monotonic()
        if throttle and now - self._last_progress < PROGRESS_INTERVAL:
            return  # repainting the bar and labels for every batch would cost the run ~5%
        self._last_progress = now
        active = self._active + (time.monotonic() - self._since if self._since is not None else 0.0)
        rate = self._done / active if active > 0 and self._done else 0.0
        eta = (self._total - self._done) / rate if rate > 0 else math.nan
        self.progressed.emit(self._done, self._total, rate, eta)
