"""Undo commands: every change to the model, and every training run, is one QUndoCommand.

Commands hold whole snapshots (``engine.model.Model`` copies); a model is at most 4·32² floats
in the editors, so a snapshot costs less than the bookkeeping of a diff would. They change the
document only through its ``_apply_*`` methods, which emit the signals.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from PySide6.QtGui import QUndoCommand

if TYPE_CHECKING:
    from backprop_lab.engine.model import Model
    from backprop_lab.engine.session import History
    from backprop_lab.engine.training import Divergence


@dataclass(frozen=True)
class Snapshot:
    """The parts of a session an edit can change.

    ``history`` is None when the edit leaves the history (and the divergence note) alone; a K
    change or a reset replaces it, since a history belongs to the model it started from.
    """

    model: Model
    initial: Model
    history: History | None = None
    divergence: Divergence | None = None


class UndoTarget(Protocol):
    """What the commands change: the document, through the methods that emit its signals.

    A protocol rather than ``gui.document.Document`` itself, so that the document can import the
    commands without the two modules importing each other.
    """

    def _apply_snapshot(self, snap: Snapshot) -> None: ...

    def _apply_history(self, history: History, divergence: Divergence | None) -> None: ...

    def _apply_history_truncate(self, n: int, divergence: Divergence | None) -> None: ...

    def _apply_properties(self, name: str, notes: str) -> None: ...


class SnapshotCommand(QUndoCommand):
    """Replace the model (x, A, B, C; K may change): a cell edit, a paste, Randomize, a K change, a reset."""

    def __init__(self, document: UndoTarget, before: Snapshot, after: Snapshot, text: str) -> None:
        super().__init__(text)
        self._document = document
        self._before = before
        self._after = after

    def redo(self) -> None:
        self._document._apply_snapshot(self._after)

    def undo(self) -> None:
        self._document._apply_snapshot(self._before)


class TrainingRunCommand(QUndoCommand):
    """A finished (or stopped, or diverged) training run: its weights and its history rows.

    The run has already happened when the command is pushed, so the first ``redo`` does nothing.
    Undo puts back the model from before the run and truncates the history to its old length
    (cheap for long histories); redo restores both, so the history always belongs to the weights.
    """

    def __init__(
        self,
        document: UndoTarget,
        before: Snapshot,
        after: Snapshot,
        history_before: int,
        history_after: History,
        text: str,
    ) -> None:
        super().__init__(text)
        self._document = document
        self._before = before
        self._after = after
        self._history_before = history_before
        self._history_after = history_after
        self._first = True

    def redo(self) -> None:
        if self._first:
            self._first = False
            return
        self._document._apply_snapshot(self._after)
        self._document._apply_history(self._history_after.copy(), self._after.divergence)

    def undo(self) -> None:
        self._document._apply_snapshot(self._before)
        self._document._apply_history_truncate(self._history_before, self._before.divergence)


class PropertiesCommand(QUndoCommand):
    """File ▸ Session properties: the session's name and notes, both in one step."""

    def __init__(self, document: UndoTarget, before: tuple[str, str], after: tuple[str, str]) -> None:
        renamed, noted = before[0] != after[0], before[1] != after[1]
        text = "Edit name and notes" if renamed and noted else "Rename" if renamed else "Edit notes"
        super().__init__(text)
        self._document = document
        self._before = before
        self._after = after

    def redo(self) -> None:
        self._document._apply_properties(*self._after)

    def undo(self) -> None:
        self._document._apply_properties(*self._before)
