"""Two dialogs: Help ▸ Keyboard shortcuts (read from the action table) and File ▸ Session properties.

Neither is shown directly: :class:`gui.prompts.Prompts` shows them, so a test answers for the user.
"""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from backprop_lab.engine.session_format import MAX_NAME_CHARS, MAX_NOTES_CHARS, check_properties
from backprop_lab.gui.actions import MENUS, Entry, shortcut_text

#: One row of the shortcut list: (shortcut, command, where in the menus).
ShortcutRow = tuple[str, str, str]


def plain(text: str) -> str:
    """A menu or action text without its mnemonic ampersands ("&&" is a literal "&")."""
    return text.replace("&&", "\0").replace("&", "").replace("\0", "&")


def shortcut_rows(
    actions: Mapping[str, QAction],
    submenus: Mapping[str, QMenu],
    menus: tuple[tuple[str, str, tuple[Entry, ...]], ...] = MENUS,
) -> list[ShortcutRow]:
    """Every action with a shortcut, in menu order, read from the menu table (``gui.actions.MENUS``)
    and the actions it names; an action placed in two menus is listed under the first."""
    rows: list[ShortcutRow] = []
    seen: set[str] = set()
    for _, title, entries in menus:
        for entry in entries:
            if entry is None:
                continue
            if entry.startswith("menu:"):
                submenu = submenus[entry.removeprefix("menu:")]
                where = f"{plain(title)} ▸ {plain(submenu.title())}"
                placed = [(a, where) for a in submenu.actions() if not a.isSeparator()]
            else:
                placed = [(actions[entry], plain(title))]
            for action, menu in placed:
                keys = shortcut_text(action)
                if keys and action.objectName() not in seen:
                    seen.add(action.objectName())
                    rows.append((keys, plain(action.text()), menu))
    return rows


class ShortcutsDialog(QDialog):
    """Help ▸ Keyboard shortcuts: a table of ``rows`` with a filter over all three columns."""

    def __init__(self, rows: list[ShortcutRow], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.setObjectName("shortcutsDialog")
        self.filter = QLineEdit()
        self.filter.setObjectName("shortcutsFilter")
        self.filter.setPlaceholderText("Filter: a command, a key or a menu")
        self.filter.setClearButtonEnabled(True)
        self.table = QTableWidget(len(rows), 3)
        self.table.setObjectName("shortcutsTable")
        self.table.setHorizontalHeaderLabels(["Shortcut", "Command", "Menu"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        for r, row in enumerate(rows):
            for c, text in enumerate(row):
                self.table.setItem(r, c, QTableWidgetItem(text))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        box.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.filter)
        layout.addWidget(self.table, 1)
        layout.addWidget(box)
        self.filter.textChanged.connect(self._on_filter_text_changed)
        self.resize(560, min(760, 120 + 26 * len(rows)))

    def rows(self, visible_only: bool = True) -> list[ShortcutRow]:
        """The table's rows as shown (those the filter hides left out unless ``visible_only`` is False)."""
        out = []
        for r in range(self.table.rowCount()):
            if visible_only and self.table.isRowHidden(r):
                continue
            a, b, c = (self._text(r, col) for col in range(3))
            out.append((a, b, c))
        return out

    def _text(self, row: int, column: int) -> str:
        item = self.table.item(row, column)
        return item.text() if item is not None else ""

    def _on_filter_text_changed(self, text: str) -> None:
        needle = text.strip().casefold()
        for r in range(self.table.rowCount()):
            haystack = " ".join(self._text(r, c) for c in range(3)).casefold()
            self.table.setRowHidden(r, needle not in haystack)


class SessionPropertiesDialog(QDialog):
    """File ▸ Session properties: the session's name and notes.

    OK is enabled only while both are valid; the one-line reason otherwise is in
    ``sessionPropertiesError``. Notes the user did not touch come back exactly as they were (the
    editor would turn a no-break space into a space and CR LF into LF).
    """

    def __init__(self, name: str, notes: str, placeholder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Session properties")
        self.setObjectName("sessionPropertiesDialog")
        self._notes = notes
        self.name_edit = QLineEdit(name)
        self.name_edit.setObjectName("sessionName")
        self.name_edit.setPlaceholderText(placeholder)
        self.notes_edit = QPlainTextEdit()
        self.notes_edit.setObjectName("sessionNotes")
        self.notes_edit.setPlainText(notes)
        self._shown = self.notes_edit.document().toRawText()  # the notes as the editor holds them
        self.notes_edit.setPlaceholderText("What this session is for, what you tried, what you found…")
        self.notes_edit.setMinimumSize(520, 260)
        self.error = QLabel()
        self.error.setObjectName("sessionPropertiesError")
        self.error.setWordWrap(True)
        self.error.setTextFormat(Qt.TextFormat.PlainText)
        font = self.error.font()
        font.setBold(True)
        self.error.setFont(font)
        # Always in the layout, a line high when empty, so that a message never squeezes the notes.
        self.error.setMinimumHeight(self.error.fontMetrics().height())
        hint = QLabel(
            f"Saved in the session file and shown at the top of its reports. The name: one line, "
            f"at most {MAX_NAME_CHARS:,} characters; the notes: at most {MAX_NOTES_CHARS:,}. "
            "One undo step."
        )
        hint.setWordWrap(True)
        form = QFormLayout()
        form.addRow("&Name", self.name_edit)
        form.addRow("N&otes", self.notes_edit)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form, 1)
        layout.addWidget(hint)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.name_edit.textChanged.connect(self._check)
        self.notes_edit.textChanged.connect(self._check)
        self._check()

    @property
    def ok_button(self) -> QPushButton:
        button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        assert button is not None
        return button

    def properties(self) -> tuple[str, str]:
        """(name, notes) as the dialog holds them."""
        raw = self.notes_edit.document().toRawText()
        if raw == self._shown:
            return self.name_edit.text(), self._notes
        # The raw text keeps no-break spaces; Qt ends each paragraph with U+2029.
        notes = raw.replace("\u2029", "\n")
        if "\r\n" in self._notes:
            notes = notes.replace("\n", "\r\n")
        return self.name_edit.text(), notes

    def problem(self) -> str:
        """What is wrong with the dialog's name or notes, in one line ("" when nothing is)."""
        try:
            check_properties(*self.properties())
        except ValueError as exc:
            text = str(exc)
            return text[:1].upper() + text[1:]
        return ""

    def accept(self) -> None:
        if self._check():
            super().accept()

    def _check(self) -> bool:
        problem = self.problem()
        self.error.setText(problem)
        self.ok_button.setEnabled(not problem)
        return not problem
