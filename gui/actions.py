"""The window's menus and toolbar, declared once, and which actions are enabled in which state.

The controllers make their ``QAction``s (named ``action_<id>``) and submenus (``menu_<id>``); the
window places them from :data:`MENUS` and :data:`TOOLBAR`, and after every change of state sets
each one enabled as :func:`enabled` says. Nothing else decides either.

In the tables an entry is an action id, ``"menu:<id>"`` for a submenu, or None for a separator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence

Entry = str | None

#: Menu bar, left to right: (id, title, entries). The objectName of each menu is ``menu_<id>``.
MENUS: tuple[tuple[str, str, tuple[Entry, ...]], ...] = (
    ("file", "&File", (
        "new", "open", "menu:recent", "add_run", None, "save", "save_as", "revert", None,
        "session_properties", "export_report", "export_data", "menu:screenshot", None, "quit",
    )),
    ("edit", "&Edit", ("undo", "redo", None, "copy", "menu:copy_as", "paste")),
    ("model", "&Model", ("randomize", "report_example", "reset", None, "k_up", "k_down", None, "variant")),
    ("training", "&Training", ("start", "pause", "step", "stop", None, "step_through", "sweep")),
    ("view", "&View", (
        "log_y", "auto_range", None, "show_verification", "show_line_search", None,
        "dock_model", "dock_gradients", "dock_training", "dock_views", "dock_network",
        "toggle_chain_rule", None,
        "reset_layout",
    )),
    ("verify", "&Verify", (
        "verify_now", "check_numbers", "verify_torch", "verify_sweep", None,
        "show_verification", "explain_entry", "show_line_search", None, "step_through",
    )),
    ("help", "&Help", ("keyboard_shortcuts", "user_guide", None, "about")),
)  # fmt: skip

#: The main toolbar, left to right.
TOOLBAR: tuple[Entry, ...] = (
    "undo", "redo", None, "randomize", "report_example", "reset", None,
    "start", "pause", "step", "step_through", "stop",
)  # fmt: skip


@dataclass(frozen=True)
class UiState:
    """What enablement depends on: the document's state and the controllers' busy flags."""

    training: str  # "idle", "running" or "paused"
    has_path: bool
    dirty: bool
    can_undo: bool
    can_redo: bool
    exporting: bool
    has_recent: bool
    exporting_data: bool = False

    @property
    def idle(self) -> bool:
        return self.training == "idle"

    @property
    def running(self) -> bool:
        return self.training == "running"


def _idle(s: UiState) -> bool:
    return s.idle


def _not_running(s: UiState) -> bool:
    return not s.running


#: Enablement rules; an action or submenu not named here is always enabled.
RULES: dict[str, Callable[[UiState], bool]] = {
    # File: replacing the session only between runs; saving whenever the history holds still.
    "new": _idle,
    "open": _idle,
    "menu:recent": lambda s: s.idle and s.has_recent,
    "clear_recent": lambda s: s.has_recent,
    "save": _not_running,
    "save_as": _not_running,
    "revert": lambda s: s.idle and s.has_path and s.dirty,
    "export_report": lambda s: not s.running and not s.exporting,
    "export_data": lambda s: not s.running and not s.exporting_data,
    # Edit and Model: undo or an edit while training would change the weights under the run.
    "undo": lambda s: s.idle and s.can_undo,
    "redo": lambda s: s.idle and s.can_redo,
    "paste": _idle,
    "randomize": _idle,
    "report_example": _idle,
    "reset": _idle,
    "k_up": _idle,
    "k_down": _idle,
    "variant": _idle,
    # Training.
    "start": _idle,
    "pause": lambda s: not s.idle,
    "stop": lambda s: not s.idle,
    "step": _not_running,
    "step_through": _idle,
    "sweep": _not_running,  # from the history as it stands (a sweep under way goes on regardless)
}


def enabled(state: UiState) -> dict[str, bool]:
    """Every action (and ``menu:<id>`` submenu) that has a rule, enabled or not in ``state``."""
    return {name: rule(state) for name, rule in RULES.items()}


def make_action(
    parent: QObject,
    name: str,
    text: str,
    slot: Callable[[], object],
    shortcut: QKeySequence | QKeySequence.StandardKey | str | list[str] | None = None,
    tip: str = "",
) -> QAction:
    """A QAction named ``action_<name>`` calling ``slot()`` (tests and the tables use the name)."""
    action = QAction(text, parent)
    action.setObjectName(f"action_{name}")
    if shortcut is not None:
        shortcuts = shortcut if isinstance(shortcut, list) else [shortcut]
        action.setShortcuts([QKeySequence(s) for s in shortcuts])
    if tip:
        action.setStatusTip(tip)
        action.setToolTip(tip)
    action.triggered.connect(lambda _=False: slot())
    return action


def shortcut_text(action: QAction) -> str:
    """The action's shortcuts as the platform writes them, comma separated ("" when it has none)."""
    keys = [s.toString(QKeySequence.SequenceFormat.NativeText) for s in action.shortcuts() if not s.isEmpty()]
    return ", ".join(keys)
