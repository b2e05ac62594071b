"""SIGINT and SIGTERM in the command-line tools: a clean exit, never half a file.

While :func:`handling` is active both signals raise :class:`Interrupted`, a KeyboardInterrupt
(so code that already stops on Ctrl+C stops on SIGTERM too) that remembers which signal came.
Inside :func:`deferred` a signal is only noted, and raised when the block ends: a save that
has started is finished rather than cut off, so the file on disk is the old one or the new
one, never a leftover temporary file and never a lost run. Once one signal has been raised,
later ones are only noted: a second Ctrl+C does not cut short the saving of the first's run.

The command line turns :class:`Interrupted` into one line on standard error and the shell's
exit status for death by that signal, 128 + its number (130 for SIGINT, 143 for SIGTERM).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """The process was asked to stop by ``signum``; ``exit_status`` is 128 + signum."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def exit_status(self) -> int:
        return 128 + self.signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


class _State:
    depth = 0  # how many deferred() blocks are open
    pending: int | None = None  # a signal that came while deferred
    raised = False  # an Interrupted has been raised: what follows is cleaning up, let it finish


_state = _State()


def _on_signal(signum: int, frame: FrameType | None) -> None:
    if _state.depth or _state.raised:
        if _state.pending is None:
            _state.pending = signum
        return
    _state.raised = True
    raise Interrupted(signum)


@contextmanager
def handling() -> Iterator[None]:
    """Make SIGINT and SIGTERM raise :class:`Interrupted` for the duration (main thread only).

    If one was raised, later ones are ignored after the block (the process is exiting).
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _state.pending, _state.raised = None, False
    previous = {s: signal.signal(s, _on_signal) for s in SIGNALS}
    try:
        yield
    finally:
        # After a signal stopped the run the process is on its way out, saying how: a second
        # Ctrl+C a few milliseconds after the save must not kill it with another exit status (a
        # fast save made that window real). Ignored, not noted: Python resets its own handlers to
        # the default at exit, but leaves an ignored signal ignored. Otherwise the caller's
        # handlers return.
        for s, handler in previous.items():
            signal.signal(s, signal.SIG_IGN if _state.raised else handler)


def pending() -> int | None:
    """The signal noted inside :func:`deferred` and not yet acted on (a loop checks it between steps)."""
    return _state.pending


@contextmanager
def deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM until the block is done, then raise :class:`Interrupted` for one.

    A KeyboardInterrupt raised in the block by other means (an earlier handler) is not touched.
    """
    _state.depth += 1
    try:
        yield
    finally:
        _state.depth -= 1
    if not _state.depth and _state.pending is not None and not _state.raised:
        signum, _state.pending = _state.pending, None
        _state.raised = True
        raise Interrupted(signum)
