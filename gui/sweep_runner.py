"""A sweep run from the window: the engine's :func:`engine.sweep.run_sweep` on a :mod:`gui.jobs`
worker, its runs in a process pool, its results handed to the GUI thread as they come.

The job's thread only waits: the runs train in the pool's processes (one per core by default;
the work is CPU-bound pure Python, so threads would share one interpreter lock) and the thread
writes each run's file as it ends, reads it back as a run for the runs list (the one loader,
:func:`engine.runs.load_run`) and passes both on. At the end, whether every run finished or the
sweep was cancelled, it writes ``summary.csv``, ``summary.svg`` and ``summary.png`` of the runs
that ended (all or nothing, as the command does). Cancel stops the pool's running runs between
two steps and drops them; the finished ones stay, written, listed and summarised.

:class:`SweepEta` estimates the time left from the runs that ended: each run's work is counted in
samples, ``epochs × n_samples + STEP_COST × steps`` (a step's own cost is about five samples',
measured with ``train_session`` at K = 3: 24 µs a step at batch size 1, 4.1 µs a sample at 100).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Signal, Slot

from backprop_lab.engine.runs import Run, load_run
from backprop_lab.engine.session import Session, SessionError
from backprop_lab.engine.sweep import Grid, Point, RunResult, SweepResults, run_sweep, write_summary
from backprop_lab.engine.sweep_chart import summary_svg
from backprop_lab.gui.jobs import Job, JobCancelled, JobContext, JobGroup
from backprop_lab.gui.svg_image import svg_png

#: A training step's cost over and above its samples', in samples (see the module docstring).
STEP_COST = 5
#: How long closing the window waits for a sweep's thread (the pool stops its runs within 256 steps).
SWEEP_JOIN_MS = 60_000


def work_of(point: Point) -> float:
    """The work of one run, in samples (see the module docstring)."""
    s = point.settings
    return s.epochs * s.n_samples + STEP_COST * s.total_steps


class SweepEta:
    """The time a sweep has left, from the work of the runs that ended and the time it took.

    ``clock`` gives seconds (``time.monotonic``; tests pass their own).
    """

    def __init__(self, grid: Grid, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._started = clock()
        self._left = {p.name: work_of(p) for p in grid.points}
        self._done = 0.0

    def ended(self, point: Point) -> None:
        self._done += self._left.pop(point.name, 0.0)

    def seconds_left(self) -> float | None:
        """None until a run has ended (nothing to go by); 0 when none is left."""
        if not self._left:
            return 0.0
        elapsed = self._clock() - self._started
        if self._done <= 0 or elapsed <= 0:
            return None
        return elapsed / self._done * sum(self._left.values())


def eta_text(seconds: float | None) -> str:
    """ "about 40 s left", "about 3 min left"; "" when there is nothing to go by yet."""
    if seconds is None:
        return ""
    if seconds < 1:
        return "less than a second left"
    if seconds < 90:
        return f"about {round(seconds)} s left"
    if seconds < 90 * 60:
        return f"about {round(seconds / 60)} min left"
    return f"about {seconds / 3600:.1f} h left"


@dataclass
class _Outbox:
    """What the job's thread hands over: each run's result (with its run, when it could be read
    back) as it ends, and the whole outcome once the sweep is over. Guarded by ``lock``."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    ended: list[tuple[RunResult, Run | None]] = field(default_factory=list)
    count: int = 0  # runs put in all (``ended`` holds those not yet taken)
    results: SweepResults | None = None
    summary_error: str = ""

    def put(self, result: RunResult, run: Run | None) -> int:
        with self.lock:
            self.ended.append((result, run))
            self.count += 1
            return self.count

    def take(self) -> list[tuple[RunResult, Run | None]]:
        with self.lock:
            out, self.ended = self.ended, []
            return out


def _read_back(result: RunResult) -> Run | None:
    if result.file is None:
        return None
    try:
        return load_run(result.file, result.point.name, kind="sweep")
    except SessionError:  # written a moment ago; gone again is the user's doing: the list skips it
        return None


def sweep_in_background(
    context: JobContext,
    session: Session,
    grid: Grid,
    folder: str,
    jobs: int | None,
    executor: Executor | None,
    outbox: _Outbox,
) -> SweepResults:
    """The sweep job (runs on a worker thread): the runs, then the summary of those that ended."""
    total = len(grid.points)

    def on_result(result: RunResult) -> None:
        done = outbox.put(result, _read_back(result))
        try:
            context.progress(done, total)
        except JobCancelled:  # the stop is asked for by should_stop: this run is kept
            pass

    results = run_sweep(
        session,
        grid,
        folder,
        executor=executor,
        jobs=jobs,
        on_result=on_result,
        should_stop=lambda: context.cancelled,
    )
    outbox.results = results
    try:
        svg = summary_svg(results)
        write_summary(results, {"summary.svg": svg.encode("utf-8"), "summary.png": svg_png(svg)})
    except OSError as exc:
        outbox.summary_error = f"the summary could not be written: {exc}"
    return results


class SweepRunner(QObject):
    """Runs one sweep at a time for a window.

    Signals (on the GUI thread): ``runEnded(object, object)`` a :class:`RunResult` and its
    :class:`Run` (None for a failed run), in the order the runs end; ``progressed(int, int)``
    runs ended and runs in all; ``sweepEnded(object, str)`` the :class:`SweepResults` (None when
    the sweep could not run) and a one-line problem ("" when there was none). After a cancel the
    runs that ended before it still come, then ``sweepEnded`` with ``results.stopped`` true.
    """

    runEnded = Signal(object, object)
    progressed = Signal(int, int)
    sweepEnded = Signal(object, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sweepRunner")
        self._jobs = JobGroup(self)
        self._job: Job | None = None
        self._outbox = _Outbox()
        self._closed = False
        self._failure = ""
        #: The executor runs go to (None: a process pool of ``jobs`` made per sweep); tests set it.
        self.executor: Executor | None = None

    @property
    def is_running(self) -> bool:
        return self._job is not None

    def start(self, session: Session, grid: Grid, folder: str | os.PathLike[str], jobs: int | None) -> bool:
        """Sweep ``grid`` from a copy of ``session`` into ``folder``; False when one is going on."""
        if self._job is not None:
            return False
        own, outbox, executor, where = session.copy(), _Outbox(), self.executor, os.fspath(folder)
        self._outbox = outbox

        def work(context: JobContext) -> SweepResults:
            return sweep_in_background(context, own, grid, where, jobs, executor, outbox)

        job = self._jobs.start(work, name="sweep")
        job.progressed.connect(self._on_job_progressed)
        job.failed.connect(self._on_job_failed)
        job.finished.connect(self._on_job_finished)
        self._job = job
        self._failure = ""
        return True

    def cancel(self) -> None:
        """Stop the sweep: runs not started are dropped, running ones stopped; finished ones kept."""
        if self._job is not None:
            self._job.cancel()

    def wait(self, timeout_ms: int = SWEEP_JOIN_MS) -> bool:
        return self._job is None or self._job.wait(timeout_ms)

    def shutdown(self) -> None:
        """The window is closing: cancel, join the thread (the pool is shut down by then)."""
        self._closed = True
        self._jobs.shutdown(SWEEP_JOIN_MS)

    def _hand_over(self) -> None:
        for result, run in self._outbox.take():
            self.runEnded.emit(result, run)

    @Slot(int, int)
    def _on_job_progressed(self, done: int, total: int) -> None:
        self._hand_over()
        self.progressed.emit(done, total)

    @Slot(str)
    def _on_job_failed(self, error: str) -> None:
        self._failure = error

    @Slot()
    def _on_job_finished(self) -> None:
        self._job = None
        if self._closed:
            return
        self._hand_over()  # the runs that ended after a cancel: the job's progress is silent then
        results = self._outbox.results
        if results is not None:
            self.progressed.emit(len(results.runs), len(results.grid.points))
        self.sweepEnded.emit(results, self._failure or self._outbox.summary_error)
