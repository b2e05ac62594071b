"""Every modal question, file dialog and message box the window's controllers show, in one object.

The controllers never call ``QMessageBox`` or ``QFileDialog`` themselves: each is handed a
:class:`Prompts` (the window builds one with itself as the dialogs' parent), so a test replaces
one object, or one method of it, to answer for the user.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QMessageBox,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from backprop_lab.engine.session import RANDOM_RANGE_TEXT, Session
from backprop_lab.engine.variant import Variant
from backprop_lab.gui import recovery
from backprop_lab.gui.document import EDITOR_MAX_K
from backprop_lab.gui.help_dialogs import SessionPropertiesDialog, ShortcutRow, ShortcutsDialog
from backprop_lab.gui.tips import apply_tips
from backprop_lab.gui.variant_dialog import VariantDialog

if TYPE_CHECKING:
    from backprop_lab.gui.recovery import RecoveryEntry

SESSION_FILTER = "Backprop Lab sessions (*.bpl.json *.json);;All files (*)"
PNG_FILTER = "PNG images (*.png)"

_Button = QMessageBox.StandardButton
#: Answers that mean "do not go on" (Escape, closing the box, a test double's No).
_REFUSALS = (_Button.Cancel, _Button.NoButton, _Button.Escape, _Button.No)


def one_line(exc: BaseException) -> str:
    """An error as one line for a message: its text (named by its type when that is all it says)."""
    text = " ".join(str(exc).split())
    if isinstance(exc, (OSError, ValueError)) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class NewSessionDialog(QDialog):
    """File ▸ New: the report example, or random weights with a chosen K and seed."""

    def __init__(self, parent: QWidget | None = None, k: int = 3, seed: int = 0) -> None:
        super().__init__(parent)
        self.setWindowTitle("New session")
        self.setObjectName("newSessionDialog")
        self.example = QRadioButton("The report example (K = 3)")
        self.example.setObjectName("newExample")
        self.random = QRadioButton(f"Random x, A, B, C, uniform in {RANDOM_RANGE_TEXT}")
        self.random.setObjectName("newRandom")
        group = QButtonGroup(self)
        group.addButton(self.example)
        group.addButton(self.random)
        self.example.setChecked(True)
        self.k_spin = QSpinBox()
        self.k_spin.setObjectName("newK")
        self.k_spin.setRange(1, EDITOR_MAX_K)
        self.k_spin.setValue(max(1, min(EDITOR_MAX_K, k)))
        self.seed_spin = QSpinBox()
        self.seed_spin.setObjectName("newSeed")
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setValue(seed)
        form = QFormLayout()
        form.addRow("K (units)", self.k_spin)
        form.addRow("Seed", self.seed_spin)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        box.accepted.connect(self.accept)
        box.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.example)
        layout.addWidget(self.random)
        layout.addLayout(form)
        layout.addWidget(box)
        self.random.toggled.connect(self._on_random_toggled)
        self._on_random_toggled(False)
        apply_tips(self)

    def _on_random_toggled(self, on: bool) -> None:
        self.k_spin.setEnabled(on)
        self.seed_spin.setEnabled(on)

    def session(self) -> Session:
        """The session the dialog describes (same K and seed: the same weights)."""
        if self.random.isChecked():
            return Session.random(self.k_spin.value(), self.seed_spin.value())
        return Session.report_example()


class Prompts:
    """The dialogs, parented to ``parent`` (the main window). Each method blocks until answered."""

    def __init__(self, parent: QWidget | None) -> None:
        self.parent = parent

    # ------------------------------------------------------------------ messages

    def information(self, title: str, text: str) -> None:
        QMessageBox.information(self.parent, title, text)

    def warning(self, title: str, text: str) -> None:
        QMessageBox.warning(self.parent, title, text)

    def critical(self, title: str, text: str) -> None:
        QMessageBox.critical(self.parent, title, text)

    def about(self, title: str, text: str) -> None:
        QMessageBox.about(self.parent, title, text)

    # ------------------------------------------------------------------ questions

    def save_changes(self, name: str, before: str) -> str:
        """Save / Discard / Cancel for unsaved changes to ``name``: "save", "discard" or "cancel".

        Escape and closing the box mean Cancel. (A test double answering Ok or Yes means go ahead
        without saving.)
        """
        answer = QMessageBox.question(
            self.parent,
            "Unsaved changes",
            f"Save the changes to {name} before {before}?",
            _Button.Save | _Button.Discard | _Button.Cancel,
            _Button.Save,
        )
        if answer == _Button.Save:
            return "save"
        return "cancel" if answer in _REFUSALS else "discard"

    def confirm_revert(self, name: str) -> bool:
        """Revert: True when the user agrees to drop every change to ``name``."""
        answer = QMessageBox.question(
            self.parent,
            "Revert",
            f"Discard all changes and reload {name} as it was last saved?",
            _Button.Discard | _Button.Cancel,
            _Button.Cancel,
        )
        return answer not in _REFUSALS

    def confirm_replace(self, title: str, text: str) -> bool:
        """True when the user agrees to write over the files ``text`` names (Cancel is the default)."""
        answer = QMessageBox.question(self.parent, title, text, _Button.Yes | _Button.Cancel, _Button.Cancel)
        return answer not in _REFUSALS

    def new_session(self, k: int) -> Session | None:
        """File ▸ New's dialog: the new session, or None when cancelled."""
        dialog = NewSessionDialog(self.parent, k)
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            return dialog.session()
        finally:
            dialog.deleteLater()

    def session_properties(self, name: str, notes: str, placeholder: str = "") -> tuple[str, str] | None:
        """File ▸ Session properties: the (name, notes) the user accepted, or None when cancelled."""
        dialog = SessionPropertiesDialog(name, notes, placeholder, self.parent)
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            return dialog.properties()
        finally:
            dialog.deleteLater()

    def variant(self, current: Variant, k: int, history_steps: int = 0) -> tuple[Variant, bool] | None:
        """Model ▸ Variant…: (the variant accepted, whether to keep the network by transposing A, B, C
        on a change of convention), or None when cancelled."""
        dialog = VariantDialog(current, k, history_steps, self.parent)
        try:
            if dialog.exec() != QDialog.DialogCode.Accepted:
                return None
            return dialog.variant(), dialog.keeps_network()
        finally:
            dialog.deleteLater()

    def keyboard_shortcuts(self, rows: list[ShortcutRow]) -> None:
        """Help ▸ Keyboard shortcuts: the list, until the user closes it."""
        dialog = ShortcutsDialog(rows, self.parent)
        try:
            dialog.exec()
        finally:
            dialog.deleteLater()

    def restore(self, entry: RecoveryEntry) -> str:
        """A crash left ``entry``: "restore", "discard" or "later" (see :func:`gui.recovery.ask_restore`)."""
        return recovery.ask_restore(self.parent, entry)

    # ------------------------------------------------------------------ files and folders

    def open_file(self, title: str, start: str, filters: str = SESSION_FILTER) -> str:
        """A file to open, or "" when cancelled."""
        path, _ = QFileDialog.getOpenFileName(self.parent, title, start, filters)
        return str(path or "")

    def open_files(self, title: str, start: str, filters: str = SESSION_FILTER) -> list[str]:
        """Several files to read ([] when cancelled)."""
        paths, _ = QFileDialog.getOpenFileNames(self.parent, title, start, filters)
        return list(paths)

    def save_file(self, title: str, suggested: str, filters: str = SESSION_FILTER) -> str:
        """A file to write, or "" when cancelled."""
        path, _ = QFileDialog.getSaveFileName(self.parent, title, suggested, filters)
        return str(path or "")

    def save_file_filtered(self, title: str, suggested: str, filters: str) -> tuple[str, str]:
        """A file to write and the filter chosen for it (its format), or ("", "") when cancelled."""
        path, chosen = QFileDialog.getSaveFileName(self.parent, title, suggested, filters)
        return (str(path), str(chosen)) if path else ("", "")

    def folder(self, title: str, start: str) -> str:
        """An existing folder, or "" when cancelled."""
        return str(QFileDialog.getExistingDirectory(self.parent, title, start) or "")
