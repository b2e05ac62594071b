"""Help ▸ Keyboard shortcuts, Help ▸ User guide, the tooltips and File ▸ Session properties,
driven through objectNames with the dialogs answered in place of the user (issue 13, items 8 and 9)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QTableWidget,
    QWidget,
)

from backprop_lab.engine import session_format
from backprop_lab.engine.report_data import gather_report_data
from backprop_lab.engine.report_html import render_html
from backprop_lab.engine.session import load_session
from backprop_lab.gui import help_controller
from backprop_lab.gui.actions import MENUS, shortcut_text
from backprop_lab.gui.help_dialogs import SessionPropertiesDialog, ShortcutsDialog, plain
from backprop_lab.gui.model_panel import ModelPanel
from backprop_lab.gui.prompts import NewSessionDialog
from backprop_lab.gui.report_pdf import layout_report
from backprop_lab.gui.tips import BUTTON_ACTIONS, TIPS
from backprop_lab.gui.training_panel import TrainingPanel
from backprop_lab.gui.worker import TrainingController

ROOT = Path(__file__).resolve().parents[2]


def answer(monkeypatch, dialog_class: type[QDialog], act: Callable[[QDialog], None]) -> list[QDialog]:
    """Replace ``dialog_class.exec``: show the dialog, let ``act`` work it as a user would (through
    objectNames), and return what it was closed with. The dialogs shown are collected."""
    shown: list[QDialog] = []

    def exec_(self: QDialog) -> int:
        shown.append(self)
        self.show()
        act(self)
        result = self.result()
        self.hide()
        return result

    monkeypatch.setattr(dialog_class, "exec", exec_)
    return shown


def child(parent: QWidget, cls: type, name: str):
    found = parent.findChild(cls, name)
    assert found is not None, f"no {cls.__name__} named {name!r}"
    return found


def trigger(window, name: str) -> None:
    child(window, QAction, f"action_{name}").trigger()


# ---------------------------------------------------------------------------------------- shortcuts


def _listed(window, monkeypatch) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []

    def read(dialog: QDialog) -> None:
        table = child(dialog, QTableWidget, "shortcutsTable")
        for r in range(table.rowCount()):
            a, b, c = (table.item(r, col).text() for col in range(3))
            rows.append((a, b, c))
        dialog.reject()

    shown = answer(monkeypatch, ShortcutsDialog, read)
    trigger(window, "keyboard_shortcuts")
    assert len(shown) == 1 and shown[0].objectName() == "shortcutsDialog"
    return rows


def test_the_shortcut_list_holds_every_action_with_a_shortcut_once_as_the_table_places_it(
    window, monkeypatch
):
    rows = _listed(window, monkeypatch)
    with_keys = {a.objectName(): a for a in window.findChildren(QAction) if shortcut_text(a)}
    assert len(rows) == len(with_keys) >= 25
    assert {(shortcut_text(a), plain(a.text())) for a in with_keys.values()} == {(k, c) for k, c, _ in rows}
    # In menu order, each under the first menu that holds it.
    titles = [plain(title) for _, title, _ in MENUS]
    assert [titles.index(menu.split(" ▸ ")[0]) for _, _, menu in rows] == sorted(
        titles.index(menu.split(" ▸ ")[0]) for _, _, menu in rows
    )
    assert ("F5", "Start", "Training") in rows
    assert ("Ctrl+Shift+Z, Ctrl+Y", "Redo", "Edit") in rows
    assert ("Shift+F10", "Step through…", "Training") in rows  # also in Verify: listed once
    assert ("F1", "User guide", "Help") in rows and ("Ctrl+/", "Keyboard shortcuts", "Help") in rows


def test_the_shortcut_list_is_read_from_the_actions_when_it_opens(window, monkeypatch):
    """Not a second list: a shortcut changed on an action shows in the list, a removed one goes."""
    window.actions["k_up"].setShortcut(QKeySequence("Ctrl+Alt+K"))
    window.actions["log_y"].setShortcuts([])
    rows = _listed(window, monkeypatch)
    assert ("Ctrl+Alt+K", "Increase K", "Model") in rows
    assert not [r for r in rows if r[1] == "Log y axis"]


def test_no_two_actions_share_a_shortcut(window):
    """Qt fires neither of two actions that share a key sequence (an "ambiguous shortcut")."""
    owners: dict[str, list[str]] = {}
    for action in window.findChildren(QAction):
        for seq in action.shortcuts():
            if not seq.isEmpty():
                owners.setdefault(seq.toString(), []).append(action.objectName())
    assert {k: v for k, v in owners.items() if len(v) > 1} == {}


def test_the_filter_keeps_the_rows_that_mention_it(qtbot):
    dialog = ShortcutsDialog(
        [("F5", "Start", "Training"), ("Ctrl+S", "Save", "File"), ("Shift+F5", "Stop", "Training")]
    )
    qtbot.addWidget(dialog)
    qtbot.keyClicks(child(dialog, QLineEdit, "shortcutsFilter"), "f5")
    assert [r[1] for r in dialog.rows()] == ["Start", "Stop"]
    child(dialog, QLineEdit, "shortcutsFilter").clear()
    assert len(dialog.rows()) == 3


# ---------------------------------------------------------------------------------------- user guide


class FakeDesktop:
    """Stands in for QDesktopServices: records the URLs and answers as told."""

    def __init__(self, opens: bool) -> None:
        self.opens = opens
        self.urls: list[QUrl] = []

    def openUrl(self, url: QUrl) -> bool:
        self.urls.append(url)
        return self.opens


def test_the_user_guide_opens_docs_user_guide_md(window, monkeypatch, dialogs):
    desktop = FakeDesktop(opens=True)
    monkeypatch.setattr(help_controller, "QDesktopServices", desktop)
    trigger(window, "user_guide")
    guide = ROOT / "docs" / "user-guide.md"
    assert guide.is_file()
    assert desktop.urls == [QUrl.fromLocalFile(str(guide))]
    assert dialogs.messages == []
    assert str(guide) in window.statusBar().currentMessage()


def test_the_user_guide_says_in_one_line_when_nothing_opens_it(window, monkeypatch, dialogs):
    desktop = FakeDesktop(opens=False)
    monkeypatch.setattr(help_controller, "QDesktopServices", desktop)
    trigger(window, "user_guide")
    assert len(desktop.urls) == 1
    ((kind, title, text),) = dialogs.messages
    assert kind == "warning" and title == "User guide" and "\n" not in text
    assert text == f"No application could open the user guide; it is the file {window.help.guide}."


def test_a_missing_user_guide_is_named_and_nothing_is_opened(window, monkeypatch, dialogs, tmp_path):
    desktop = FakeDesktop(opens=True)
    monkeypatch.setattr(help_controller, "QDesktopServices", desktop)
    window.help.guide = tmp_path / "docs" / "user-guide.md"
    trigger(window, "user_guide")
    assert desktop.urls == []
    assert dialogs.messages == [
        ("warning", "User guide", f"The user guide is not installed: {window.help.guide} does not exist.")
    ]


# ---------------------------------------------------------------------------------------- tooltips


def _tip(widget: QWidget | QAction) -> str:
    """A tooltip as read: the line breaks and no-break spaces that keep its formulas whole, undone."""
    return " ".join(widget.toolTip().replace("\N{NO-BREAK SPACE}", " ").split())


def test_every_tip_reaches_its_control_and_states_the_formula(window, qtbot):
    new = NewSessionDialog(window)
    qtbot.addWidget(new)
    for name, text in TIPS.items():
        target = (
            window.findChild(QAction, name) or window.findChild(QWidget, name) or new.findChild(QWidget, name)
        )
        assert target is not None, f"{name!r} names no control: rename it in gui/tips.py too"
        assert _tip(target).startswith(" ".join(text.replace("\N{NO-BREAK SPACE}", " ").split()).rstrip("."))
    assert "θ ← θ − λ·∂L/∂θ" in _tip(child(window, QWidget, "learningRate"))
    for name in ("batchSize", "epochs", "seed", "nSamples", "kValue", "randomLow", "smoothing"):
        assert _tip(child(window, QWidget, name)), name
    assert "[low, high)" in _tip(child(window, QWidget, "randomizeButton"))
    assert "epochs × ⌈samples / batch size⌉" in _tip(child(window, QWidget, "epochs"))
    # A line of a tooltip never splits a formula.
    for line in child(window, QWidget, "learningRate").toolTip().splitlines():
        assert len(line) <= 80


def test_a_button_shows_its_actions_tip_and_shortcut(window):
    for button, action_id in BUTTON_ACTIONS.items():
        action = window.actions[action_id]
        tip = _tip(child(window, QWidget, button))
        assert tip.startswith(" ".join(action.statusTip().split()).rstrip(".")), button
        assert tip.endswith(f"({shortcut_text(action)})") or not shortcut_text(action), button
    assert _tip(child(window, QWidget, "startButton")).endswith("(F5)")
    assert _tip(window.actions["stop"]).endswith("(Shift+F5)")
    assert "\n" not in window.actions["start"].statusTip()


def test_the_panels_set_no_tips_of_their_own(document, qtbot):
    """One place: built without the window, the panels' named controls have no tooltip."""
    training = TrainingController(document)
    panels = [ModelPanel(document), TrainingPanel(document, training)]
    for panel in panels:
        qtbot.addWidget(panel)
        named = [w for w in panel.findChildren(QWidget) if w.objectName() in {*TIPS, *BUTTON_ACTIONS}]
        assert named and all(w.toolTip() == "" for w in named), [w.objectName() for w in named if w.toolTip()]
    training.shutdown()


# ---------------------------------------------------------------------------------------- session properties


def _fill(name: str | None = None, notes: str | None = None, ok: bool = True) -> Callable[[QDialog], None]:
    def act(dialog: QDialog) -> None:
        if name is not None:
            child(dialog, QLineEdit, "sessionName").setText(name)
        if notes is not None:
            child(dialog, QPlainTextEdit, "sessionNotes").setPlainText(notes)
        buttons = dialog.findChild(QDialogButtonBox)
        button = QDialogButtonBox.StandardButton.Ok if ok else QDialogButtonBox.StandardButton.Cancel
        buttons.button(button).click()

    return act


def test_properties_edit_undo_redo_save_and_reload(window, monkeypatch, tmp_path):
    doc = window.document
    old = (doc.session.name, doc.session.notes)
    assert not doc.is_dirty
    shown = answer(
        monkeypatch, SessionPropertiesDialog, _fill("Homework 3", "Tried λ = 0.05.\nIt diverged at step 40.")
    )
    trigger(window, "session_properties")
    assert shown[0].objectName() == "sessionPropertiesDialog"
    assert child(shown[0], QLineEdit, "sessionName").text() == "Homework 3"
    assert (doc.session.name, doc.session.notes) == ("Homework 3", "Tried λ = 0.05.\nIt diverged at step 40.")
    assert doc.is_dirty and window.isWindowModified()
    assert window.windowTitle().startswith("Homework 3")
    assert doc.undo_stack.undoText() == "Edit name and notes"
    count = doc.undo_stack.count()

    trigger(window, "undo")  # one step takes back both
    assert (doc.session.name, doc.session.notes) == old and not doc.is_dirty
    assert window.windowTitle().startswith(old[0])
    trigger(window, "redo")
    assert (doc.session.name, doc.session.notes) == ("Homework 3", "Tried λ = 0.05.\nIt diverged at step 40.")
    assert doc.undo_stack.count() == count

    path = tmp_path / "hw.bpl.json"
    assert window.save_to(path) and not doc.is_dirty
    loaded = load_session(path)
    assert (loaded.name, loaded.notes) == ("Homework 3", "Tried λ = 0.05.\nIt diverged at step 40.")

    monkeypatch.setattr(
        doc, "set_properties", lambda *a: pytest.fail("a cancelled dialog changed the session")
    )
    shown = answer(monkeypatch, SessionPropertiesDialog, _fill("Other", ok=False))
    assert window.open_path(path)
    trigger(window, "session_properties")  # the reloaded session fills the dialog
    assert child(shown[0], QPlainTextEdit, "sessionNotes").toPlainText().endswith("step 40.")


def test_only_the_name_changed_is_one_rename_and_untouched_notes_stay_exact(window, monkeypatch):
    doc = window.document
    notes = "a\N{NO-BREAK SPACE}b\r\nsecond line\u2028same paragraph\n"
    doc.set_properties("Before", notes)
    answer(monkeypatch, SessionPropertiesDialog, _fill(name="After"))
    trigger(window, "session_properties")
    assert (doc.session.name, doc.session.notes) == ("After", notes)
    assert doc.undo_stack.undoText() == "Rename"


def test_unchanged_properties_add_no_undo_step(window, monkeypatch):
    doc = window.document
    count = doc.undo_stack.count()
    answer(monkeypatch, SessionPropertiesDialog, _fill())
    trigger(window, "session_properties")
    assert doc.undo_stack.count() == count and not doc.is_dirty


@pytest.mark.parametrize(
    ("name", "notes", "problem"),
    [
        ("", "", "The name is empty: give the session a name"),
        ("   ", "", "The name is empty: give the session a name"),
        ("n" * 201, "", "The name is 201 characters long; at most 200 are allowed"),
        ("two\tparts", "", "The name must be one line, without tabs or other control characters"),
        ("fine", "x" * 11, "The notes are 11 characters long; at most 10 are allowed"),
    ],
)
def test_bad_input_gets_one_line_naming_the_problem_and_changes_nothing(
    window, monkeypatch, qtbot, name, notes, problem
):
    monkeypatch.setattr(session_format, "MAX_NOTES_CHARS", 10)
    doc = window.document
    before = (doc.session.name, doc.session.notes)
    seen: list[tuple[str, bool, bool]] = []

    def act(dialog: QDialog) -> None:
        child(dialog, QLineEdit, "sessionName").setText(name)
        child(dialog, QPlainTextEdit, "sessionNotes").setPlainText(notes)
        error = child(dialog, QLabel, "sessionPropertiesError")
        ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
        qtbot.keyClick(child(dialog, QLineEdit, "sessionName"), Qt.Key.Key_Return)  # Enter does not accept
        seen.append((error.text(), dialog.isVisible(), ok.isEnabled()))
        child(dialog, QLineEdit, "sessionName").setText("fine")
        child(dialog, QPlainTextEdit, "sessionNotes").setPlainText("ok")
        seen.append((error.text(), dialog.isVisible(), ok.isEnabled()))
        dialog.reject()

    answer(monkeypatch, SessionPropertiesDialog, act)
    trigger(window, "session_properties")
    assert seen == [(problem, True, False), ("", True, True)]
    assert (doc.session.name, doc.session.notes) == before and not doc.is_dirty


def test_the_document_refuses_bad_properties_with_one_line(document):
    with pytest.raises(ValueError, match=r"^the name is empty: give the session a name$"):
        document.set_properties("", "notes")
    with pytest.raises(ValueError, match="lone surrogate"):
        document.set_properties("ok", "bad \ud800 text")
    assert document.undo_stack.count() == 0


def test_properties_can_be_edited_during_a_run(window, monkeypatch):
    """Name and notes are no weights: writing notes while a run trains is allowed."""
    doc = window.document
    doc.set_training_state("paused")
    try:
        assert window.actions["session_properties"].isEnabled()
        answer(monkeypatch, SessionPropertiesDialog, _fill(notes="written while paused"))
        trigger(window, "session_properties")
        assert doc.session.notes == "written while paused"
    finally:
        doc.set_training_state("idle")


def test_the_report_shows_the_edited_name_and_notes_escaped(window, monkeypatch):
    name = "Run <b>3</b> & co"
    notes = '<script>alert(1)</script>\nλ < 1 & "quoted"'
    answer(monkeypatch, SessionPropertiesDialog, _fill(name, notes))
    trigger(window, "session_properties")
    data = gather_report_data(window.document.consistent_session(), verifications=[], torch=False)
    assert (data.name, data.notes, data.title) == (name, notes, name)
    for flavour in ("web", "qt"):
        html = render_html(data, flavour=flavour)
        assert "<script>" not in html and "<b>3</b>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "Run &lt;b&gt;3&lt;/b&gt; &amp; co" in html
        assert "λ &lt; 1 &amp;" in html
    pdf = layout_report(data, None).toPlainText()
    assert name in pdf
    assert "<script>alert(1)</script>" in pdf and 'λ < 1 & "quoted"' in pdf


def test_edited_notes_keep_their_no_break_spaces_and_crlf_line_ends(qtbot):
    dialog = SessionPropertiesDialog("n", "one\N{NO-BREAK SPACE}two\r\nthree\r\n")
    qtbot.addWidget(dialog)
    notes = child(dialog, QPlainTextEdit, "sessionNotes")
    notes.moveCursor(notes.textCursor().MoveOperation.End)
    qtbot.keyClicks(notes, "four")
    assert dialog.properties() == ("n", "one\N{NO-BREAK SPACE}two\r\nthree\r\nfour")
