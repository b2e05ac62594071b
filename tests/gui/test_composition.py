"""The window as a composition root: one action table, one enablement rule, controllers built from
their dependencies (a controller works without any window, with a fake Prompts)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QWidget

from backprop_lab.engine.session import Session
from backprop_lab.gui.actions import MENUS, RULES, TOOLBAR, UiState, enabled
from backprop_lab.gui.document import Document
from backprop_lab.gui.file_controller import FileController
from backprop_lab.gui.worker import TrainingController

IDLE = UiState(
    training="idle",
    has_path=False,
    dirty=False,
    can_undo=False,
    can_redo=False,
    exporting=False,
    has_recent=False,
)


def _state(**changes: object) -> UiState:
    return replace(IDLE, **changes)


@pytest.mark.parametrize("training", ["idle", "running", "paused"])
def test_enablement_follows_the_training_state(training):
    on = enabled(_state(training=training, has_path=True, dirty=True, can_undo=True, has_recent=True))
    idle, running = training == "idle", training == "running"
    # Replacing or editing the session only between runs; saving whenever the history holds still.
    for name in ("new", "open", "menu:recent", "revert", "undo", "paste", "randomize", "k_up", "start"):
        assert on[name] is idle, name
    for name in ("save", "save_as", "export_report", "step"):
        assert on[name] is (not running), name
    assert on["pause"] is on["stop"] is (not idle)
    assert on["step_through"] is idle


def test_enablement_of_revert_recent_undo_and_export_needs_their_conditions():
    assert not enabled(_state(dirty=True))["revert"]  # no file to go back to
    assert not enabled(_state(has_path=True))["revert"]  # nothing to drop
    assert enabled(_state(has_path=True, dirty=True))["revert"]
    assert not enabled(_state())["menu:recent"] and not enabled(_state())["clear_recent"]
    assert enabled(_state(has_recent=True))["menu:recent"]
    assert not enabled(_state(training="paused", has_recent=True))["menu:recent"]
    assert (enabled(_state(can_undo=True))["undo"], enabled(_state(can_undo=True))["redo"]) == (True, False)
    assert not enabled(_state(exporting=True))["export_report"]


def _placed(menu: QMenu) -> list[QAction]:
    found: list[QAction] = []
    for action in menu.actions():
        found.append(action)
        if action.menu() is not None:
            found.extend(_placed(action.menu()))
    return found


def test_the_table_names_only_real_actions_and_every_action_is_placed(window):
    ids = {e for _key, _title, entries in MENUS for e in entries} | set(TOOLBAR) | set(RULES)
    ids.discard(None)
    for name in ids:
        if name.startswith("menu:"):
            assert name.removeprefix("menu:") in window.submenus, name
        else:
            assert name in window.actions, name
    placed = {a for key, _title, _entries in MENUS for a in _placed(window.menus[key])}
    assert not [name for name, action in window.actions.items() if action not in placed]
    assert [m.objectName() for m in (window.menus[key] for key, _t, _e in MENUS)] == [
        "menu_file", "menu_edit", "menu_model", "menu_training", "menu_view", "menu_verify", "menu_help",
    ]  # fmt: skip
    for name, action in window.actions.items():
        assert action.objectName() == f"action_{name}"
        assert action in QWidget.actions(window), name  # shortcuts work with the menu bar hidden


def test_the_window_applies_the_rule_in_every_state(window):
    doc = window.document
    doc.set_entry("A", 0, 0, 0.5)  # something to undo, unsaved
    for state in ("running", "paused", "idle"):
        doc.set_training_state(state)
        expected = enabled(window.ui_state())
        for name, on in expected.items():
            widget = window.submenus[name[5:]] if name.startswith("menu:") else window.actions[name]
            assert widget.isEnabled() is on, (state, name)
    doc.mark_clean()


class FakePrompts:
    """Answers every dialog the controllers may show; records what was asked."""

    def __init__(self, save_changes: str = "discard", new: Session | None = None) -> None:
        self.asked: list[tuple[str, ...]] = []
        self._save_changes = save_changes
        self._new = new

    def save_changes(self, name: str, before: str) -> str:
        self.asked.append(("save_changes", name, before))
        return self._save_changes

    def new_session(self, k: int) -> Session | None:
        self.asked.append(("new_session", str(k)))
        return self._new

    def __getattr__(self, kind: str):  # information, warning, critical, open_file …
        def record(*args: object) -> str:
            self.asked.append((kind, *map(str, args)))
            return ""

        return record


@pytest.mark.parametrize("answer", ["discard", "cancel"])
def test_a_file_controller_needs_no_window(qapp, tmp_path, answer):
    document = Document(Session.report_example())
    training = TrainingController(document)
    chosen = Session.random(4, 2)
    prompts = FakePrompts(answer, chosen)
    files = FileController(document, training, prompts)  # type: ignore[arg-type]
    try:
        document.set_entry("A", 0, 0, 0.5)
        replaced = files.new_session()
        assert replaced is (answer == "discard")
        assert prompts.asked[:2] == [
            ("new_session", "3"),
            ("save_changes", "Report example", "starting a new session"),
        ]
        assert (document.model == chosen.model) is replaced
        assert not files.open_path(tmp_path / "missing.bpl.json")
        kind, title, text = prompts.asked[-1]
        assert (kind, title) == ("critical", "Cannot open session") and "\n" not in text
        assert files.save_to(tmp_path / "saved.bpl.json") and not document.is_dirty
        assert [a.data() for a in files.recent_actions()] == [str(tmp_path / "saved.bpl.json")]
    finally:
        files.shutdown()
        training.shutdown()
        files.recent_menu.deleteLater()
        document.deleteLater()
