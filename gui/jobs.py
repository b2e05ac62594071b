"""Background jobs: run a Qt-free callable on its own QThread and hear about it through signals.

The shape is superqt's ``create_worker``: the callable runs on a worker thread; the :class:`Job`
it returns lives on the thread that started it (the GUI thread) and emits, there,

``progressed(done, total)``  the callable reported progress through its :class:`JobContext`
``succeeded(object)``        the callable returned this value
``failed(str)``              it raised: the error as one line, ``"ExcType: message"``
``cancelled()``              :meth:`Job.cancel` was called before it returned (its result is dropped)
``finished()``               always last, exactly once, whichever of the three above came first

Cancelling is cooperative: the callable is handed a :class:`JobContext` and stops at its next
``context.progress(...)`` or ``context.check()`` (they raise :class:`JobCancelled`). Whatever it
still returns after a cancel is ignored, so a caller may drop a job it no longer wants without
waiting for it. :meth:`Job.wait` joins the thread (the window does that when it closes).

Only the callable runs on the worker thread; it must not touch widgets (painting on a QImage,
QPdfWriter or QSvgGenerator is fine there, a QPixmap or a QWidget is not).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

__all__ = ["Job", "JobCancelled", "JobContext", "start_job"]


class JobCancelled(Exception):
    """Raised inside a job's callable by :meth:`JobContext.check` once the job was cancelled."""


class JobContext:
    """What a job's callable is handed: cancel checks and progress reports (thread-safe)."""

    def __init__(self, job: Job) -> None:
        self._job = job

    @property
    def cancelled(self) -> bool:
        return self._job._cancel.is_set()

    def check(self) -> None:
        """Raise :class:`JobCancelled` if the job was cancelled."""
        if self._job._cancel.is_set():
            raise JobCancelled

    def progress(self, done: int, total: int) -> None:
        """Report ``done`` of ``total`` (emitted as ``progressed``), then :meth:`check`."""
        self.check()
        self._job._runner.progressed.emit(int(done), int(total))


class _Runner(QObject):
    """Lives on the job's thread; its signals cross back to the Job by queued connections."""

    progressed = Signal(int, int)
    returned = Signal(object)
    raised = Signal(str)

    def __init__(self, fn: Callable[[JobContext], Any], context: JobContext) -> None:
        super().__init__()
        self._fn = fn
        self._context = context

    @Slot()
    def run(self) -> None:
        try:
            self._run()
        finally:
            # The thread has nothing else to do: it ends here, so Job.wait() can join it.
            thread = QThread.currentThread()
            if thread is not None:
                thread.quit()

    def _run(self) -> None:
        try:
            value = self._fn(self._context)
        except JobCancelled:
            self.raised.emit("")
            return
        except Exception as exc:  # handed to the caller as one line; the window shows it
            self.raised.emit(
                f"{type(exc).__name__}: {exc}".splitlines()[0] if str(exc) else type(exc).__name__
            )
            return
        self.returned.emit(value)


class Job(QObject):
    """One run of a callable on a worker thread (see the module docstring for the signals)."""

    progressed = Signal(int, int)
    succeeded = Signal(object)
    failed = Signal(str)
    cancelled = Signal()
    finished = Signal()

    def __init__(
        self, fn: Callable[[JobContext], Any], name: str = "job", parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName(name)
        self._cancel = threading.Event()
        self._done = False
        self.context = JobContext(self)
        self._runner = _Runner(fn, self.context)
        self._thread = QThread(self)  # a child: findChild sees it; the owner joins it before deleting
        self._thread.setObjectName(f"{name}Thread")
        self._runner.moveToThread(self._thread)
        self._thread.started.connect(self._runner.run)
        self._runner.progressed.connect(self._on_runner_progressed)
        self._runner.returned.connect(self._on_runner_returned)
        self._runner.raised.connect(self._on_runner_raised)

    @property
    def is_done(self) -> bool:
        """The job has emitted ``finished`` (or was cancelled and then joined)."""
        return self._done

    @property
    def thread(self) -> QThread:
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

    def _end(self) -> None:
        self._thread.quit()
        self._thread.wait()
        self._done = True
        self.finished.emit()

    @Slot(int, int)
    def _on_runner_progressed(self, done: int, total: int) -> None:
        if not self._done and not self._cancel.is_set():
            self.progressed.emit(done, total)

    @Slot(object)
    def _on_runner_returned(self, value: object) -> None:
        if self._done:
            return
        if self._cancel.is_set():
            self.cancelled.emit()
        else:
            self.succeeded.emit(value)
        self._end()

    @Slot(str)
    def _on_runner_raised(self, error: str) -> None:
        if self._done:
            return
        if self._cancel.is_set() or not error:
            self.cancelled.emit()
        else:
            self.failed.emit(error)
        self._end()


def start_job(fn: Callable[[JobContext], Any], *, name: str = "job", parent: QObject | None = None) -> Job:
    """Run ``fn(context)`` on a new worker thread now; connect to the returned Job's signals.

    Signals emitted from the worker reach the Job through the event loop, so connecting right
    after this call (before returning to the loop) misses nothing.
    """
    return Job(fn, name, parent).start()
