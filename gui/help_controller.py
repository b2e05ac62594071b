"""Help ▸ Keyboard shortcuts, Help ▸ User guide and File ▸ Session properties.

The shortcut list is read from the menu table and the actions it names (``catalog`` hands over the
window's actions and submenus when the list is opened, so it shows the shortcuts as they are then).

The user guide is ``docs/user-guide.md``. The wheel ships docs/*.md as ``backprop_lab/docs`` (the
package-dir mapping in pyproject.toml), beside ``backprop_lab/gui``, so one path finds it in a
checkout, an editable install and an installed wheel alike; the wheel leaves out docs/images.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from PySide6.QtCore import QObject, QUrl
from PySide6.QtGui import QAction, QDesktopServices
from PySide6.QtWidgets import QMenu

from backprop_lab.gui.actions import make_action
from backprop_lab.gui.document import Document
from backprop_lab.gui.help_dialogs import shortcut_rows
from backprop_lab.gui.prompts import Prompts, one_line

#: The user guide: <checkout>/docs/user-guide.md, or <site-packages>/backprop_lab/docs/user-guide.md.
USER_GUIDE = Path(__file__).resolve().parent.parent / "docs" / "user-guide.md"

Catalog = Callable[[], tuple[Mapping[str, QAction], Mapping[str, QMenu]]]


class HelpController(QObject):
    """``actions`` by id: keyboard_shortcuts, user_guide, session_properties."""

    def __init__(
        self,
        document: Document,
        prompts: Prompts,
        catalog: Catalog,
        guide: Path = USER_GUIDE,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("help")
        self.document = document
        self.prompts = prompts
        self.catalog = catalog
        self.guide = guide
        self.actions: dict[str, QAction] = {
            "keyboard_shortcuts": make_action(
                self,
                "keyboard_shortcuts",
                "&Keyboard shortcuts",
                self.show_shortcuts,
                "Ctrl+/",
                "Every command that has a shortcut, with its key",
            ),
            "user_guide": make_action(
                self,
                "user_guide",
                "&User guide",
                self.open_user_guide,
                "F1",
                "Open the user guide (docs/user-guide.md) in the default application",
            ),
            "session_properties": make_action(
                self,
                "session_properties",
                "Session &properties…",
                self.edit_properties,
                None,
                "The session's name and notes (saved with it and shown in its reports)",
            ),
        }

    def show_shortcuts(self) -> None:
        actions, submenus = self.catalog()
        self.prompts.keyboard_shortcuts(shortcut_rows(actions, submenus))

    def open_user_guide(self) -> bool:
        """Open the guide with the system's application for it; one line says why when it cannot be."""
        if not self.guide.is_file():
            self.prompts.warning(
                "User guide", f"The user guide is not installed: {self.guide} does not exist."
            )
            return False
        if not QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.guide))):
            self.prompts.warning(
                "User guide", f"No application could open the user guide; it is the file {self.guide}."
            )
            return False
        self.document.notify(f"Opened the user guide, {self.guide}")
        return True

    def edit_properties(self) -> None:
        """File ▸ Session properties: the name and notes, changed as one undo step."""
        doc = self.document
        placeholder = doc.path.name.removesuffix(".json").removesuffix(".bpl") if doc.path else ""
        answer = self.prompts.session_properties(doc.session.name, doc.session.notes, placeholder)
        if answer is None:
            return
        try:
            doc.set_properties(*answer)
        except ValueError as exc:  # the dialog refuses these already; a test double may not
            self.prompts.warning("Session properties", one_line(exc))
