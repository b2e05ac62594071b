"""When the window shows a running run's weights: :class:`LivePace`.

The worker hands over a batch about every 50 ms and waits while the window takes it in, so every
millisecond the window spends showing new weights is a millisecond the run waits. Showing them
makes every panel follow (editors, gradient tables, forward pass, chain rule: at K = 32 their
repaints take tens of milliseconds), so showings are paced: at most every :data:`LIVE_INTERVAL_S`,
and less often when one costs more than 1/:data:`LIVE_BUDGET` of the time. Each showing is timed to
the end of the repaints it causes (a few event-loop turns later, as the worker's acknowledgement
is), so the pace follows whatever the views cost on this machine. The training controller
(:mod:`gui.worker`) asks and shows, after a batch's own repaints, before the worker goes on.
"""

from __future__ import annotations

import math
import time

from PySide6.QtCore import QObject, QTimer, Signal

#: Shortest time between two live showings (seconds): about ten a second.
LIVE_INTERVAL_S = 0.1
#: A showing may take at most 1/LIVE_BUDGET of the time (the run's slowdown for being watched).
LIVE_BUDGET = 8
#: Longest time between two showings, however slow the views (seconds).
LIVE_MAX_INTERVAL_S = 1.0
#: Event-loop turns after a showing by which its repaints are done (see gui.worker's ACK_TURNS).
PAINT_TURNS = 3


def live_text(step: int | None, training_state: str) -> str:
    """ "live (step n)" while a run computes, "paused (step n)" while it waits, "" idle: the words a
    panel that follows a run's weights (``Document.live_step``) puts beside what it shows."""
    if step is None or training_state == "idle":
        return ""
    return f"{'live' if training_state == 'running' else 'paused'} (step {step:,})"


class LivePace(QObject):
    """``due()`` says whether to show now; ``shown()`` right after showing times it; ``restart()``
    at the start of a run (its first batch is shown at once). ``paced(interval)`` says when a
    showing's timing is done and the next interval (seconds) it gave."""

    paced = Signal(float)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._shown_at = -math.inf  # time.monotonic() of the last showing
        self.interval = LIVE_INTERVAL_S

    def restart(self) -> None:
        self._shown_at = -math.inf
        self.interval = LIVE_INTERVAL_S

    def due(self) -> bool:
        return time.monotonic() - self._shown_at >= self.interval

    def shown(self) -> None:
        self._shown_at = time.monotonic()
        self._time(self._shown_at, PAINT_TURNS)

    def _time(self, since: float, turns: int) -> None:
        if turns:
            # With self as the context: a timer that outlives the document is dropped, never called.
            QTimer.singleShot(0, self, lambda: self._time(since, turns - 1))
            return
        cost = time.monotonic() - since
        self.interval = min(LIVE_MAX_INTERVAL_S, max(LIVE_INTERVAL_S, cost * LIVE_BUDGET))
        self.paced.emit(self.interval)
