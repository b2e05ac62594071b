"""The Edit menu: Undo, Redo, Copy matrix, Copy as (four formats) and Paste into matrix.

Copy and Paste act on the matrix that has the focus; Copy as on the matrix (editor or gradient
table) focused now or, since opening the menu takes the focus away, the one focused last, as long
as it lies inside ``root`` (the window).
"""

from __future__ import annotations

from functools import partial

import shiboken6
from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QApplication, QMenu, QStyle, QWidget

from backprop_lab.gui.actions import make_action
from backprop_lab.gui.document import Document
from backprop_lab.gui.matrix_editor import COPY_FORMATS, MatrixEditor, MatrixTable


class EditController(QObject):
    """``actions`` by id: undo, redo, copy, paste, copy_as_0 … copy_as_3; ``menus``: "copy_as"."""

    def __init__(self, document: Document, root: QWidget, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("edit")
        self.document = document
        self.root = root
        self._last_table: MatrixTable | None = None
        icon = root.style().standardIcon
        sp = QStyle.StandardPixmap
        undo = document.undo_stack.createUndoAction(self, "&Undo")
        undo.setShortcut(QKeySequence.StandardKey.Undo)
        undo.setIcon(icon(sp.SP_ArrowBack))
        undo.setObjectName("action_undo")
        redo = document.undo_stack.createRedoAction(self, "&Redo")
        redo.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        redo.setIcon(icon(sp.SP_ArrowForward))
        redo.setObjectName("action_redo")
        self.actions: dict[str, QAction] = {"undo": undo, "redo": redo}
        self.actions["copy"] = make_action(
            self,
            "copy",
            "&Copy matrix",
            self.copy,
            QKeySequence.StandardKey.Copy,
            "Copy the focused matrix (or its selection) as tab-separated text",
        )
        self.actions["paste"] = make_action(
            self,
            "paste",
            "&Paste into matrix",
            self.paste,
            QKeySequence.StandardKey.Paste,
            "Paste a block (spreadsheet text or a nested list) at the current cell",
        )
        self.copy_as_menu = QMenu("Copy &as")
        self.copy_as_menu.setObjectName("menu_copy_as")
        for i, fmt in enumerate(COPY_FORMATS):
            action = make_action(
                self,
                f"copy_as_{i}",
                fmt,
                partial(self.copy_as, fmt),
                None,
                f"Copy the matrix you clicked last (or its selection) as {fmt}",
            )
            self.actions[f"copy_as_{i}"] = action
            self.copy_as_menu.addAction(action)
        self.menus: dict[str, QMenu] = {"copy_as": self.copy_as_menu}
        self._app = QApplication.instance()
        if isinstance(self._app, QApplication):
            self._app.focusChanged.connect(self._on_app_focus_changed)

    def copy(self) -> None:
        widget = QApplication.focusWidget()
        if isinstance(widget, MatrixTable):
            widget.copy_as("Tab-separated (spreadsheet)")
            self.document.notify(f"Copied {widget.title} as tab-separated text")

    def paste(self) -> None:
        widget = QApplication.focusWidget()
        if isinstance(widget, MatrixEditor):
            widget.paste()
        else:
            self.document.notify(
                "Click a cell of x, A, B or C first: the block is pasted at the current cell"
            )

    def current_table(self) -> MatrixTable | None:
        """The matrix (editor or gradient table) focused now, else the one focused last."""
        focus = QApplication.focusWidget()
        if isinstance(focus, MatrixTable) and self.root.isAncestorOf(focus):
            return focus
        table = self._last_table
        if table is not None and shiboken6.isValid(table) and self.root.isAncestorOf(table):
            return table
        return None

    def copy_as(self, fmt: str) -> str | None:
        """Edit ▸ Copy as: the matrix clicked last (its selection, or all of it) in ``fmt``."""
        table = self.current_table()
        if table is None:
            self.document.notify("Click a matrix (x, A, B, C or a gradient) first, then Copy as")
            return None
        text = table.copy_as(fmt)
        self.document.notify(f"Copied {table.title} as {fmt}")
        return text

    def shutdown(self) -> None:
        """The window is closing: stop following the application's focus."""
        app, self._app = self._app, None
        if isinstance(app, QApplication):
            app.focusChanged.disconnect(self._on_app_focus_changed)

    def _on_app_focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        if shiboken6.isValid(self.root) and isinstance(new, MatrixTable) and self.root.isAncestorOf(new):
            self._last_table = new
