"""Background jobs: run a Qt-free callable (or generator) on its own QThread, hear about it through signals.

The shape is superqt's ``create_worker``. ``fn(context)`` runs on a worker thread; the :class:`Job`
that runs it lives on the thread that made it (the GUI thread) and emits, there,

``progressed(done, total)``  the callable reported progress through its :class:`JobContext`
``yielded(object)``          ``fn`` is a generator function and yielded this value
``succeeded(object)``        the callable returned this value (a generator: its ``return`` value)
``failed(str)``              it raised: the error as one line, ``"ExcType: message"`` (:func:`error_line`)
``cancelled()``              :meth:`Job.cancel` was called before it returned (its result is dropped)
``finished()``               always last, exactly once, whichever of the three above came first

Cancelling is cooperative: the callable stops at its next ``context.progress(...)`` or
``context.check()`` (they raise :class:`JobCancelled`); a generator also stops between two
yields. Whatever it still returns after a cancel is ignored: once :meth:`Job.cancel` was called,
only ``cancelled`` and ``finished`` follow, so a caller may drop a job it no longer wants
without waiting for it.

Ownership: the object that starts jobs keeps them in a :class:`JobGroup` (no module registry)
and calls :meth:`JobGroup.shutdown` when it closes: every job is cancelled and its thread
joined. A Job is never destroyed with its thread running: if its owner goes without shutting
down, the Job's destruction cancels and joins first.

The same words serve the training worker (gui/worker.py), which takes turns with the GUI
instead: ``request_cancel()`` there, ``progressed(done, total, …)`` on its controller.

Only the callable runs on the worker thread; it must not touch widgets (painting on a QImage,
QPdfWriter or QSvgGenerator is fine there, a QPixmap or a QWidget is not).
"""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable, Generator
from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, QThread, Signal, Slot

__all__ = ["Job", "JobCancelled", "JobContext", "JobGroup", "error_line", "start_job"]


class JobCancelled(Exception):
    """Raised inside a job's callable by :meth:`JobContext.check` once the job was cancelled."""


def error_line(exc: BaseException) -> str:
    """An exception as the one line a user is shown: ``"ExcType: first line of the message"``."""
    text = str(exc).splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text and text[0] else type(exc).__name__


class JobContext:
    """What a job's callable is handed: cancel checks and progress reports (thread-safe).

    ``progress_interval`` (seconds) throttles ``progressed``: a report closer than that to the
    previous one is dropped, except the last (``done >= total``). 0 sends every report.
    """

    def __init__(
        self, cancel: threading.Event, emit: Callable[[int, int], None], progress_interval: float
    ) -> None:
        self._cancel = cancel
        self._emit = emit
        self._interval = progress_interval
        self._last = -float("inf")

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def check(self) -> None:
        """Raise :class:`JobCancelled` if the job was cancelled."""
        if self._cancel.is_set():
            raise JobCancelled

    def progress(self, done: int, total: int) -> None:
        """Report ``done`` of ``total`` (emitted as ``progressed``), after a :meth:`check`.

        Its signature is the engine's ``progress(done, total)`` callback's: pass it as one.
        """
        self.check()
        if self._interval > 0:
            now = time.monotonic()
            if now - self._last < self._interval and done < total:
                return
            self._last = now
        self._emit(int(done), int(total))


class _Runner(QObject):
    """Runs the callable on the job's thread; its signals cross back to the Job by queued connections."""

    progressed = Signal(int, int)
    yielded = Signal(object)
    returned = Signal(object)
    raised = Signal(str)  # "" when it stopped because it was cancelled

    def __init__(self, fn: Callable[[JobContext], Any]) -> None:
        super().__init__()
        self.fn: Callable[[JobContext], Any] | None = fn
        self.context: JobContext | None = None

    @Slot()
    def run(self) -> None:
        try:
            self._run()
        finally:
            self.fn = None  # what the closure holds (a session copy…) is freed with the work done
            app = QCoreApplication.instance()
            if app is not None:  # freed later on the GUI thread, where the Job drops it
                self.moveToThread(app.thread())
            # The thread has nothing else to do: it ends here, so joining it needs no event loop.
            thread = QThread.currentThread()
            if thread is not None:
                thread.quit()

    def _run(self) -> None:
        assert self.fn is not None and self.context is not None
        try:
            value = self.fn(self.context)
            if inspect.isgenerator(value):
                value = self._drain(value, self.context)
        except JobCancelled:
            self.raised.emit("")
            return
        except Exception as exc:  # handed to the owner as one line; the window shows it
            self.raised.emit(error_line(exc))
            return
        self.returned.emit(value)

    def _drain(self, generator: Generator[object, Any, object], context: JobContext) -> object:
        """Iterate a generator to its end, checking for a cancel between two items."""
        try:
            while True:
                context.check()
                try:
                    item = next(generator)
                except StopIteration as stop:
                    return stop.value
                self.yielded.emit(item)
        finally:
            generator.close()  # a cancel runs the generator's own finally blocks, on this thread


def _join_on_destroy(cancel: threading.Event, thread: QThread) -> Callable[..., None]:
    """For ``Job.destroyed``: cancel and join the thread before Qt deletes it (it is the Job's child).

    It refers to the event and the thread, not to the Job, whose wrapper is going.
    """

    def join(*_args: object) -> None:
        cancel.set()
        try:
            thread.wait()
        except RuntimeError:  # already deleted: nothing left to join
            pass

    return join


class Job(QObject):
    """One run of a callable on a worker thread (see the module docstring for the signals)."""

    progressed = Signal(int, int)
    yielded = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    finished = Signal()

    def __init__(
        self,
        fn: Callable[[JobContext], Any],
        name: str = "job",
        parent: QObject | None = None,
        *,
        progress_interval: float = 0.0,
    ) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self._cancel = threading.Event()
        self._done = False
        self._runner = _Runner(fn)
        self.context = JobContext(self._cancel, self._runner.progressed.emit, progress_interval)
        self._runner.context = self.context
        self._thread = QThread(self)  # a child: findChild sees it; it is joined before it is deleted
        self._thread.setObjectName(f"{name}Thread")
        self._runner.moveToThread(self._thread)
        self._thread.started.connect(self._runner.run)
        self._runner.progressed.connect(self._on_runner_progressed)
        self._runner.yielded.connect(self._on_runner_yielded)
        self._runner.returned.connect(self._on_runner_returned)
        self._runner.raised.connect(self._on_runner_raised)
        self.destroyed.connect(_join_on_destroy(self._cancel, self._thread))

    @property
    def is_done(self) -> bool:
        """The job has emitted ``finished``."""
        return self._done

    @property
    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    @property
    def worker_thread(self) -> QThread:
        """The thread the callable runs on (``thread()`` is, as for any QObject, the Job's own)."""
        return self._thread

    def start(self) -> Job:
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Ask the callable to stop; ``cancelled`` and ``finished`` follow when it has returned."""
        self._cancel.set()

    def wait(self, timeout_ms: int = -1) -> bool:
        """Join the worker thread (True if it ended); signals still queued are then delivered or dropped."""
        if not self._thread.isRunning():
            return True
        return bool(self._thread.wait() if timeout_ms < 0 else self._thread.wait(timeout_ms))

    def quit(self, timeout_ms: int = -1) -> bool:
        """Cancel, join the thread and end now: ``cancelled`` and ``finished`` are emitted before this
        returns (unless the job had ended already). False if the thread outlived ``timeout_ms``.

        What the owner calls when it closes; it needs no event loop (the GUI thread may be
        inside a close event).
        """
        self.cancel()
        if not self.wait(timeout_ms):
            return False
        if not self._done:
            self.cancelled.emit()
            self._finish()
        return True

    def _finish(self) -> None:
        self._thread.quit()
        self._thread.wait()
        self._done = True
        self.finished.emit()

    @Slot(int, int)
    def _on_runner_progressed(self, done: int, total: int) -> None:
        if not self._done and not self._cancel.is_set():
            self.progressed.emit(done, total)

    @Slot(object)
    def _on_runner_yielded(self, value: object) -> None:
        if not self._done and not self._cancel.is_set():
            self.yielded.emit(value)

    @Slot(object)
    def _on_runner_returned(self, value: object) -> None:
        if self._done:
            return
        if self._cancel.is_set():
            self.cancelled.emit()
        else:
            self.succeeded.emit(value)
        self._finish()

    @Slot(str)
    def _on_runner_raised(self, error: str) -> None:
        if self._done:
            return
        if self._cancel.is_set() or not error:
            self.cancelled.emit()
        else:
            self.failed.emit(error)
        self._finish()


class JobGroup(QObject):
    """The jobs one owner runs: it starts them, counts them, and cancels and joins them when it closes.

    A finished job leaves the group and is deleted (after its ``finished``); the group is the
    owner's child, so nothing is registered anywhere else.
    """

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs: list[Job] = []

    def __len__(self) -> int:
        """Jobs whose thread may still run (a cancelled one counts until it has ended)."""
        return len(self._jobs)

    @property
    def jobs(self) -> tuple[Job, ...]:
        return tuple(self._jobs)

    def start(
        self, fn: Callable[[JobContext], Any], *, name: str = "job", progress_interval: float = 0.0
    ) -> Job:
        """Run ``fn(context)`` on a new thread now; connect to the returned Job's signals before
        returning to the event loop (what the thread emits reaches the Job through it)."""
        job = Job(fn, name, self, progress_interval=progress_interval)
        self._jobs.append(job)
        job.finished.connect(self._on_job_finished)
        return job.start()

    def cancel_all(self) -> None:
        for job in self._jobs:
            job.cancel()

    def shutdown(self, timeout_ms: int = -1) -> bool:
        """Cancel every job and join its thread; True when none is left running.

        ``timeout_ms`` bounds the wait for each thread (-1: as long as it takes, which is until
        the callable's next check).
        """
        self.cancel_all()
        for job in list(self._jobs):
            job.quit(timeout_ms)  # its finished removes it from the group
        return not self._jobs

    @Slot()
    def _on_job_finished(self) -> None:
        job = self.sender()
        if isinstance(job, Job) and job in self._jobs:
            self._jobs.remove(job)
            job.deleteLater()  # its thread is joined: nothing of it runs any more


def start_job(fn: Callable[[JobContext], Any], *, name: str = "job", parent: QObject | None = None) -> Job:
    """Run ``fn(context)`` on a new worker thread now, as a lone job (an owner uses a JobGroup).

    Signals emitted from the worker reach the Job through the event loop, so connecting right
    after this call (before returning to the loop) misses nothing.
    """
    return Job(fn, name, parent).start()
