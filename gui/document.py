"""The open document: one engine ``Session`` plus everything the window needs around it.

Every panel takes the :class:`Document` in its constructor, reads from it, and subscribes to its
signals; panels never talk to each other. Public API (stable; additions only):

Signals
    ``modelChanged()``            x, A, B, C or K changed (a run's too: "Live"); :attr:`evaluation` is fresh.
    ``settingsChanged()``         the session's ``TrainingSettings`` changed.
    ``historyChanged()``          the training history changed (rows appended, truncated, replaced).
                                  Appends during a run arrive in batches (about every 50 ms), never
                                  one signal per step; :attr:`history_generation` changes only when
                                  rows were removed or replaced, so views can append incrementally.
    ``pathChanged(str)``          the file path ("" for an unsaved document).
    ``dirtyChanged(bool)``        the document became modified / saved.
    ``trainingStateChanged(str)`` "idle", "running" or "paused" (see :attr:`training_state`).
    ``sessionReplaced()``         a whole new session (open, new): the above signals follow it.
    ``propertiesChanged()``       the session's name or notes changed (Session properties, its undo).
    ``statusMessage(str, int)``   a one-line message for the status bar and its timeout in ms.

The reading, editing and training methods are listed in docs/development.md ("The Document").

A saved state is always consistent: during a run the worker hands over the weights after the last
step of each batch together with that batch, so the document always holds the weights that belong
to its history's last row, even when they are not shown yet. ``save`` and ``consistent_session``
show those weights first, so what is written is what the history ends with. Live: the model shown
follows a run's weights about ten times a second or less (:mod:`gui.live_pace`), through
:meth:`show_weights`; :attr:`live_step`
is the history step they belong to ("live (step n)"); the pause's and the end's are always shown.

History rules: edits keep the history (it continues across runs). Changing K or the variant (or
loading a model of another K or variant) and "Reset to initial" clear it and make the new model the
initial one, because a history belongs to the model it started from; undo brings it back. Edits keep
the variant (a K change cuts or pads a target with zeros).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from backprop_lab.engine import model_edits
from backprop_lab.engine.evaluation import Evaluation, evaluate
from backprop_lab.engine.model import Model
from backprop_lab.engine.model_edits import check_block_name, entry_label
from backprop_lab.engine.session import RANDOM_RANGE, History, RunRef, Session, save_session
from backprop_lab.engine.session_format import check_properties
from backprop_lab.engine.training import Divergence, StepRecord, Trainer, TrainingSettings
from backprop_lab.engine.variant import Variant
from backprop_lab.gui.undo import PropertiesCommand, Snapshot, SnapshotCommand, TrainingRunCommand

Matrix = list[list[float]]

#: Largest K the editors offer (the engine accepts more; a person does not edit more).
EDITOR_MAX_K = 32
#: Names of the intermediates, in forward order, with their display labels.
INTERMEDIATES = (("a", "a"), ("y", "σ(a)"), ("u", "u"), ("z", "z"), ("w", "w"))

TRAINING_STATES = ("idle", "running", "paused")


class Document(QObject):
    """One session being edited and trained in the window (see the module docstring)."""

    modelChanged = Signal()
    settingsChanged = Signal()
    historyChanged = Signal()
    pathChanged = Signal(str)
    dirtyChanged = Signal(bool)
    trainingStateChanged = Signal(str)
    sessionReplaced = Signal()
    propertiesChanged = Signal()
    statusMessage = Signal(str, int)

    def __init__(
        self, session: Session | None = None, path: str | Path | None = None, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._session = session if session is not None else Session.report_example()
        self._path: Path | None = Path(path) if path else None
        self._undo = QUndoStack(self)
        self._run_start: tuple[Snapshot, int] | None = None
        # The weights after the history's last step when the editors do not show them yet (a run's
        # batches carry them; see the module docstring). None when the shown model is current.
        self._run_weights: tuple[Matrix, Matrix, Matrix] | None = None
        self._extra_dirty = False  # changes outside the undo stack (settings, training state shown)
        self._was_dirty = False
        self._training_state = "idle"
        self._live_step: int | None = None
        self._history_generation = 0
        self._evaluation = evaluate(self._session.model)
        self._undo.cleanChanged.connect(self._on_undo_clean_changed)

    # ------------------------------------------------------------------ reading

    @property
    def session(self) -> Session:
        return self._session

    @property
    def model(self) -> Model:
        return self._session.model

    @property
    def K(self) -> int:
        return len(self._session.model.x)

    @property
    def evaluation(self) -> Evaluation:
        return self._evaluation

    @property
    def training_settings(self) -> TrainingSettings:
        return self._session.training

    @property
    def history(self) -> History:
        return self._session.history

    @property
    def history_generation(self) -> int:
        """Changes whenever history rows were removed or replaced (not on appends)."""
        return self._history_generation

    @property
    def path(self) -> Path | None:
        return self._path

    @property
    def display_name(self) -> str:
        if self._path is not None:
            return self._path.name
        return self._session.name or "Untitled"

    @property
    def undo_stack(self) -> QUndoStack:
        return self._undo

    @property
    def is_dirty(self) -> bool:
        return self._extra_dirty or not self._undo.isClean()

    @property
    def training_state(self) -> str:
        """ "idle" (no run), "running", or "paused" (a run exists; the editors are read-only)."""
        return self._training_state

    @property
    def is_training(self) -> bool:
        return self._training_state != "idle"

    @property
    def live_step(self) -> int | None:
        """During a run: how many history steps the shown model has taken (None idle)."""
        return self._live_step

    def matrix(self, name: str) -> Matrix:
        """A copy of block ``name`` as rows: "x" is 1×K, "A", "B", "C" are K×K."""
        return [list(row) for row in model_edits.blocks(self.model)[check_block_name(name)]]

    def value(self, name: str, i: int, j: int) -> float:
        return model_edits.blocks(self.model)[check_block_name(name)][i][j]

    # ------------------------------------------------------------------ editing (undoable)

    def set_entry(self, name: str, i: int, j: int, value: float) -> None:
        """Set one entry (x is row 0). ValueError if not a finite number or out of range."""
        self.paste_block(name, i, j, [[value]], text=f"Edit {entry_label(name, i, j)}")

    def paste_block(
        self, name: str, row: int, col: int, block: Sequence[Sequence[float]], text: str | None = None
    ) -> None:
        """Write ``block`` (rows of numbers) into ``name`` with its top-left at (row, col).

        The block must fit: a block that would run past the matrix's edge is refused whole,
        never silently clipped.
        """
        self._refuse_while_training()
        after = model_edits.pasted(self.model, name, row, col, block)
        self._push_model(after, text or f"Paste {len(block)}×{len(block[0])} into {name}")

    def set_model(self, model: Model, text: str = "Replace model") -> None:
        """Replace x, A, B, C (and possibly K and the variant: ``model``'s) as one undoable step."""
        self._refuse_while_training()
        self._push_model(model.copy(), text)

    def set_variant(self, variant: Variant, keep_network: bool = False) -> None:
        """Make ``variant`` the model's as one undoable step; like a K change it starts a new history
        (undo brings the old one back). ValueError for a target not K long.

        x, A, B, C keep their numbers; with ``keep_network`` a change of convention transposes A, B
        and C instead, so that the network (and its loss) stays the same.
        """
        self._refuse_while_training()
        model = self.model
        if keep_network and variant.convention != model.variant.convention:
            text = f"Variant: {variant.describe()} (A, B, C transposed)"
            self._push_model(model_edits.transposed(model).with_variant(variant), text)
        elif variant != model.variant:
            self._push_model(model.with_variant(variant), f"Variant: {variant.describe()}")

    def randomize(self, seed: int, low: float = RANDOM_RANGE[0], high: float = RANDOM_RANGE[1]) -> None:
        """New x, A, B, C from ``Session.random(K, seed, low, high)`` (the same seed gives the same model)."""
        self._refuse_while_training()
        model = model_edits.randomized(self.model, seed, low, high)
        self._push_model(model, f"Randomize (seed {seed}, [{low:g}, {high:g}))")

    def resize(
        self, k: int, seed: int = 0, low: float = RANDOM_RANGE[0], high: float = RANDOM_RANGE[1]
    ) -> None:
        """Change K, keeping the overlapping entries (the top-left block of each matrix).

        New entries are the ones ``randomize(seed, low, high)`` would put there at the new K,
        so growing K is reproducible and never leaves dead (all-zero) units.
        """
        self._refuse_while_training()
        if not 1 <= k <= EDITOR_MAX_K:
            raise ValueError(f"K must be between 1 and {EDITOR_MAX_K} (got {k})")
        if k != self.K:
            after = model_edits.resized(self.model, k, seed, low, high)
            self._push_model(after, f"Change K from {self.K} to {k}")

    def reset_to_initial(self) -> None:
        """Back to the session's initial model (where its history began) with an empty history."""
        self._refuse_while_training()
        initial = self._session.initial
        after = Snapshot(initial.copy(), initial.copy(), History(), None)
        self._undo.push(SnapshotCommand(self, self._snapshot(with_history=True), after, "Reset to initial"))

    def load_report_example(self) -> None:
        """The report example (K = 3) as the current model, in its own variant (sigmoid, row, no target)."""
        self._refuse_while_training()
        self._push_model(Session.report_example().model, "Load report example")

    def set_properties(self, name: str, notes: str) -> None:
        """The session's name and notes, one undo step (allowed during a run: neither is a weight)."""
        check_properties(name, notes)
        before = (self._session.name, self._session.notes)
        if (name, notes) != before:
            self._undo.push(PropertiesCommand(self, before, (name, notes)))

    # ------------------------------------------------------------------ other changes

    def set_training_settings(self, settings: TrainingSettings) -> None:
        """Validate (ValueError naming the field) and store; marks the document modified."""
        settings.validate()
        if settings == self._session.training:
            return
        self._session.training = settings
        self.settingsChanged.emit()
        self.mark_dirty()

    def set_compared(self, refs: Sequence[RunRef]) -> None:
        """The runs compared with this session (gui.runs keeps them): saved with it; marks it modified."""
        if list(refs) != self._session.compared:
            self._session.compared = list(refs)
            self.mark_dirty()

    def notify(self, text: str, timeout_ms: int = 5000) -> None:
        """Show a one-line message in the window's status bar."""
        self.statusMessage.emit(text, timeout_ms)

    def replace_session(
        self, session: Session, path: str | Path | None = None, evaluation: Evaluation | None = None
    ) -> None:
        """Make ``session`` the document (after Open or New): clears undo, marks clean.

        ``evaluation``: ``evaluate(session.model)`` made beforehand (File ▸ Open makes it on a
        worker thread: at K = 1024 it takes a second).
        """
        if self.is_training:
            raise ValueError("stop the training run before replacing the session")
        self._session = session
        self._run_weights = None
        self._history_generation += 1
        self._evaluation = evaluation if evaluation is not None else evaluate(session.model)
        self._undo.clear()
        self._set_path(Path(path) if path else None)
        self.sessionReplaced.emit()
        self.modelChanged.emit()
        self.settingsChanged.emit()
        self.historyChanged.emit()
        self.mark_clean()

    def consistent_session(self) -> Session:
        """The session with the model that belongs to its history's last step (the live object).

        During a run the weights that came with the last batch are shown first; idle, this is
        :attr:`session` itself. Save, recovery copies and report exports write this.
        """
        weights = self._run_weights
        if weights is not None:
            self.show_weights(*weights)
        return self._session

    def save(self, path: str | Path | None = None) -> Path:
        """Write the session atomically to ``path`` (default: the current path); marks clean.

        Raises ValueError, SessionError or OSError with one line (the engine's writer names any text
        UTF-8 cannot hold before it touches the file).
        """
        target = Path(path) if path else self._path
        if target is None:
            raise ValueError("no file name: choose where to save the session")
        save_session(self.consistent_session(), target)
        self._set_path(target)
        self.mark_clean()
        return target

    def mark_clean(self) -> None:
        self._extra_dirty = False
        self._undo.setClean()
        self._emit_dirty()

    def mark_dirty(self) -> None:
        self._extra_dirty = True
        self._emit_dirty()

    # ------------------------------------------------------------------ training (controller API)

    def set_training_state(self, state: str) -> None:
        if state not in TRAINING_STATES:
            raise ValueError(f"unknown training state {state!r}")
        if state != self._training_state:
            self._training_state = state
            self.trainingStateChanged.emit(state)

    def append_history(
        self,
        records: Iterable[StepRecord],
        chunk: History | None = None,
        weights: tuple[Matrix, Matrix, Matrix] | None = None,
    ) -> None:
        """Append a batch of step records (one signal per batch).

        ``chunk``, the same records as a ``History`` (``gui.worker.history_chunk``), is the fast path.
        ``weights`` are A, B, C after the batch's last step: kept (the controller shows them when a
        live showing is due) so that a save during the run writes weights that belong to the history.
        """
        if chunk is not None:
            self._session.history.extend_from(chunk)
        else:
            self._session.history.extend(records)
        if weights is not None:
            self._run_weights = weights
        self.historyChanged.emit()
        self.mark_dirty()

    def begin_training_run(self) -> Trainer:
        """A Trainer continuing the session (``Session.make_trainer``); ValueError for invalid settings."""
        before = self._snapshot()
        history_before = len(self._session.history)
        trainer = self._session.make_trainer()
        self._run_start = (before, history_before)
        self._run_weights = None
        self._live_step = history_before
        return trainer

    def show_weights(self, A: Matrix, B: Matrix, C: Matrix) -> None:
        """Show a run's weights after the history's last step (live, on pause); not an undo step.

        Weights already shown (a save showed them first) change nothing and mark nothing.
        """
        self._run_weights = None
        step = len(self._session.history) if self._run_start is not None else None
        if (A, B, C) == (self.model.A, self.model.B, self.model.C):
            if step != self._live_step:
                self._live_step = step
                self.modelChanged.emit()  # same numbers, a newer step: the "live (step n)" marks move
            return
        self._live_step = step
        self._set_model(self.model.with_weights(A, B, C))
        self.mark_dirty()

    def finish_training_run(self, trainer: Trainer, text: str) -> None:
        """Take the trainer's final weights and divergence; the run (if it did anything) is one undo step."""
        assert self._run_start is not None, "finish_training_run without begin_training_run"
        before, history_before = self._run_start
        self._run_start = None
        self._run_weights = None
        self._session.finish_run(trainer)
        self._live_step = None
        self._set_model(self._session.model)
        self.mark_dirty()
        if len(self._session.history) == history_before and trainer.divergence is None:
            return
        after = self._snapshot()
        history_after = self._session.history.copy()
        self._undo.push(TrainingRunCommand(self, before, after, history_before, history_after, text))

    # ------------------------------------------------------------------ used by gui.undo

    def _snapshot(self, with_history: bool = False) -> Snapshot:
        s = self._session
        history = s.history.copy() if with_history else None
        return Snapshot(s.model.copy(), s.initial.copy(), history, s.divergence)

    def _apply_snapshot(self, snap: Snapshot) -> None:
        self._session.initial = snap.initial.copy()
        if snap.history is not None:
            self._apply_history(snap.history.copy(), snap.divergence)
        self._set_model(snap.model)

    def _set_model(self, model: Model) -> None:
        self._session.model = model.copy()
        self._evaluation = evaluate(self._session.model)
        self.modelChanged.emit()

    def _apply_history(self, history: History, divergence: Divergence | None) -> None:
        self._session.history = history
        self._session.divergence = divergence
        self._history_generation += 1
        self.historyChanged.emit()

    def _apply_history_truncate(self, n: int, divergence: Divergence | None) -> None:
        self._session.history.truncate(n)
        self._session.divergence = divergence
        self._history_generation += 1
        self.historyChanged.emit()

    def _apply_properties(self, name: str, notes: str) -> None:
        self._session.name, self._session.notes = name, notes
        self.propertiesChanged.emit()

    # ------------------------------------------------------------------ helpers

    def _push_model(self, after: Model, text: str) -> None:
        # A history belongs to the model it trained: a new K or another variant starts a new one.
        if after.K == self.K and after.variant == self.model.variant:
            before, snap = self._snapshot(), Snapshot(after, self._session.initial.copy())
        else:
            before, snap = self._snapshot(with_history=True), Snapshot(after, after.copy(), History(), None)
            if len(self._session.history):
                what = "K" if after.K != self.K else "The variant"
                self.notify(
                    f"{what} changed: the training history ({len(self._session.history):,} steps) was "
                    "cleared; Undo brings it back"
                )
        self._undo.push(SnapshotCommand(self, before, snap, text))

    def _refuse_while_training(self) -> None:
        if self.is_training:
            raise ValueError("the model is read-only while training; stop the run to edit it")

    def _set_path(self, path: Path | None) -> None:
        if path != self._path:
            self._path = path
            self.pathChanged.emit(str(path) if path else "")

    def _on_undo_clean_changed(self, _clean: bool) -> None:
        self._emit_dirty()

    def _emit_dirty(self) -> None:
        dirty = self.is_dirty
        if dirty != self._was_dirty:
            self._was_dirty = dirty
            self.dirtyChanged.emit(dirty)
