"""Crash recovery in the window: a copy of the unsaved session, kept up to date, and offered after a crash.

While there are unsaved changes a recovery copy is written every :data:`RECOVERY_INTERVAL_MS`
(only when something changed since the last copy, and not while a run is computing), and when a
run starts (edits made just before a long run are not left out of every copy until it ends); a
save, a discard or a normal close removes it (the files are :mod:`gui.recovery`'s). A copy that
cannot be written, whatever the reason, is one line in the status bar; the timer goes on. During a
run the copy is :meth:`Document.consistent_session`: the history and the weights its last step
ended with. :meth:`RecoveryKeeper.offer_recovery` (at start-up, through the file controller)
offers a copy left behind by a crash.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from backprop_lab.engine.session import SessionError
from backprop_lab.gui import recovery
from backprop_lab.gui.document import Document
from backprop_lab.gui.prompts import Prompts, one_line
from backprop_lab.gui.recovery import RecoveryFile

#: How often a recovery copy is written while there are unsaved changes (milliseconds).
RECOVERY_INTERVAL_MS = 30_000


class RecoveryKeeper(QObject):
    """The recovery copy of one window's session (see the module docstring).

    ``confirm_discard(before)`` is the file controller's unsaved-changes question, asked before a
    restored copy replaces the session. Signal ``recoveryWritten(str)``: the path of a fresh copy.
    """

    recoveryWritten = Signal(str)

    def __init__(
        self,
        document: Document,
        prompts: Prompts,
        confirm_discard: Callable[[str], bool],
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.document = document
        self.prompts = prompts
        self._confirm_discard = confirm_discard
        self.recovery = RecoveryFile()
        self._recovery_pending = False
        self._recovery_warned = False
        self._closed = False
        self._training_state = document.training_state
        self.recovery_timer = QTimer(self)
        self.recovery_timer.setObjectName("recoveryTimer")
        self.recovery_timer.setInterval(RECOVERY_INTERVAL_MS)
        self.recovery_timer.timeout.connect(self._on_recovery_timer_timeout)
        for signal in (
            document.modelChanged,
            document.settingsChanged,
            document.historyChanged,
            document.sessionReplaced,
        ):
            signal.connect(self._on_document_changed)
        document.dirtyChanged.connect(self._on_document_dirty_changed)
        document.trainingStateChanged.connect(self._on_document_training_state_changed)

    def shutdown(self, *, remove_recovery: bool = True) -> None:
        """Stop the timer and delete the copy (or, quitting with unsaved changes, leave it for next time)."""
        if self._closed:
            return
        self._closed = True
        self.recovery_timer.stop()
        if remove_recovery:
            self.recovery.remove()
        else:
            self.recovery.abandon()

    def write_recovery(self, *, force: bool = False, run_starting: bool = False) -> bool:
        """Write the recovery copy if the session has unsaved changes that changed since the last copy.

        Not while a run computes (each copy would hold a moment of a moving history), except as
        it starts (``run_starting``), when the session is still the one the user edited. Never
        raises: a failure is one line in the status bar.
        """
        doc = self.document
        if self._closed or not doc.is_dirty or (doc.training_state == "running" and not run_starting):
            return False
        if not (force or self._recovery_pending or not self.recovery.written):
            return False
        try:
            self.recovery.write(doc.consistent_session(), doc.path)
        except Exception as exc:  # a timer slot: nothing may escape it, and the user keeps working
            if not self._recovery_warned:  # once: the user can still save; do not nag every 30 s
                self._recovery_warned = True
                doc.notify(f"Could not write the crash-recovery copy: {one_line(exc)}", 10000)
            return False
        self._recovery_pending = False
        self.recoveryWritten.emit(str(self.recovery.session_path))
        return True

    def offer_recovery(self) -> bool:
        """Offer a session left behind by a crash (Restore / Discard / Later). True if one was restored.

        Never raises: an unreadable copy is reported, moved aside, and the start goes on.
        """
        try:
            entries = recovery.find_recoverable(self.recovery.directory)
        except Exception as exc:  # a start-up must never fail on recovery
            self.document.notify(f"Could not look for crash-recovery copies: {exc}", 10000)
            return False
        if not entries:
            return False
        entry = entries[0]
        for other in entries[1:]:
            other.release()  # offered at the next start
        try:
            return self._offer(entry)
        except Exception as exc:
            entry.release()
            self.prompts.warning("Crash recovery", f"Crash recovery failed: {exc}")
            return False

    def _offer(self, entry: recovery.RecoveryEntry) -> bool:
        answer = self.prompts.restore(entry)
        if answer == "discard":
            entry.discard()
            self.document.notify("Discarded the unsaved changes left by the last session")
            return False
        if answer != "restore":
            entry.release()
            return False
        try:
            session = entry.load()
        except SessionError as exc:
            moved = entry.move_aside()
            self.prompts.warning(
                "Cannot restore",
                f"The crash-recovery copy cannot be read and was moved aside to {moved}: {exc}",
            )
            return False
        if self.document.is_training or not self._confirm_discard("restoring the recovered session"):
            entry.release()
            return False
        self.document.replace_session(session, entry.original)
        self.document.mark_dirty()  # restored changes are unsaved changes
        self.write_recovery(force=True)  # our own copy first, then the crashed one may go
        entry.discard()
        self.document.notify(f"Restored the unsaved changes to {entry.display_name}", 10000)
        return True

    # ------------------------------------------------------------------ slots

    def _on_document_changed(self) -> None:
        self._recovery_pending = True

    def _on_document_dirty_changed(self, dirty: bool) -> None:
        if self._closed:
            return
        if dirty:
            if not self.recovery_timer.isActive():
                self.recovery_timer.start()
        else:
            self.recovery_timer.stop()
            self._recovery_pending = False
            self.recovery.remove()  # saved (or replaced): nothing to recover

    def _on_document_training_state_changed(self, state: str) -> None:
        starting = self._training_state == "idle" and state != "idle"
        self._training_state = state
        if starting:
            self.write_recovery(run_starting=True)

    def _on_recovery_timer_timeout(self) -> None:
        self.write_recovery()
