"""The step-through on the network graph: what each of the five phases lights and colours.

:class:`StepAnimation` drives a network view (``set_mode``, ``set_lit``, ``set_edge_deltas``) as the
step-through dialog moves between phases:

==========  ========  ==============================================================================
phase       mode      the graph
==========  ========  ==============================================================================
Batch       forward   only the inputs x lit: the batch is what goes in
Forward     forward   the columns light up left to right, one every :data:`FRAME_MS`, as the forward
                      pass computes them (x, a, then σ(a) and u, z, w, L)
Gradients   backward  the columns light up right to left (L, w, z, σ(a) and u, a, x), each unit
                      showing ∂L/∂unit, as back-propagation reaches them
Update      backward  everything lit, each edge coloured and sized by its weight's change −λ·g
New loss    forward   everything lit, the edges still showing the change just made
==========  ========  ==============================================================================

The graph shows the model at its own x; the batch's samples are in the dialog's tables.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal

from backprop_lab.engine.model import MATRIX_NAMES
from backprop_lab.engine.step_phases import StepPlan
from backprop_lab.gui.network_view import NetworkView

#: Milliseconds between two columns lighting up.
FRAME_MS = 280

#: The unit columns in the order the forward pass computes them, left to right on the graph
#: (u = xB is drawn in σ(a)'s column, the skip).
FORWARD_ORDER: tuple[frozenset[str], ...] = (
    frozenset({"x"}),
    frozenset({"a"}),
    frozenset({"y", "u"}),
    frozenset({"z"}),
    frozenset({"w"}),
    frozenset({"L"}),
)
ALL_UNITS: frozenset[str] = frozenset().union(*FORWARD_ORDER)

Cell = tuple[str, int, int]


def sweep(order: tuple[frozenset[str], ...]) -> list[frozenset[str]]:
    """The lit sets of a pass through ``order``: each frame adds the next column to the last."""
    frames: list[frozenset[str]] = []
    lit: frozenset[str] = frozenset()
    for column in order:
        lit |= column
        frames.append(lit)
    return frames


FORWARD_FRAMES = sweep(FORWARD_ORDER)
BACKWARD_FRAMES = sweep(tuple(reversed(FORWARD_ORDER)))


def plan_deltas(plan: StepPlan) -> dict[Cell, float]:
    """The update's change of every weight, keyed as the graph's edges are: (matrix, i, j)."""
    return {
        (name, i, j): d
        for name in MATRIX_NAMES
        for i, row in enumerate(plan.deltas[name])
        for j, d in enumerate(row)
    }


class StepAnimation(QObject):
    """Shows ``plan``'s phases on ``graph``; ``frameShown(lit)`` after each frame of a pass.

    ``frame_ms`` is the time between frames (default :data:`FRAME_MS`, read when made, so that
    tests can shorten it). ``running`` while a pass lights up.
    """

    frameShown = Signal(object)

    def __init__(
        self, graph: NetworkView, plan: StepPlan, frame_ms: int | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._graph = graph
        self._deltas = plan_deltas(plan)
        self._frames: list[frozenset[str]] = []
        self._timer = QTimer(self)
        self._timer.setInterval(FRAME_MS if frame_ms is None else frame_ms)
        self._timer.timeout.connect(self._on_timer_timeout)

    @property
    def running(self) -> bool:
        return self._timer.isActive()

    def show_phase(self, phase: int) -> None:
        """Phase ``phase`` (0 Batch … 4 New loss) on the graph; a pass starts from its first frame."""
        self._timer.stop()
        self._frames = []
        g = self._graph
        if phase in (1, 2):  # Forward, Gradients: a pass, one column a frame
            g.set_mode("forward" if phase == 1 else "backward")
            g.set_edge_deltas(None)
            self._frames = list(FORWARD_FRAMES if phase == 1 else BACKWARD_FRAMES)
            self._next_frame()
            if self._frames:
                self._timer.start()
            return
        g.set_mode("backward" if phase == 3 else "forward")
        g.set_edge_deltas(self._deltas if phase >= 3 else None)
        g.set_lit(frozenset({"x"}) if phase == 0 else None)

    def stop(self) -> None:
        """Stop a pass where it is (the dialog is closing)."""
        self._timer.stop()
        self._frames = []

    def _next_frame(self) -> None:
        lit = self._frames.pop(0)
        # The last frame lights every unit: the pass is over, nothing is dimmed any more.
        self._graph.set_lit(None if lit == ALL_UNITS else lit)
        self.frameShown.emit(lit)

    def _on_timer_timeout(self) -> None:
        if self._frames:
            self._next_frame()
        if not self._frames:
            self._timer.stop()
