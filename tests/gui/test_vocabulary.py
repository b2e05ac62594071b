"""One name per thing across the window, its menus and toolbar, the reports and the docs; counts
through the one formatter; file names from the session's name; the report's title said once."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QAbstractButton, QPushButton

from backprop_lab.engine.report_data import REPORT_TITLE, gather_report_data
from backprop_lab.engine.report_html import render_html
from backprop_lab.engine.session import RANDOM_RANGE, RANDOM_RANGE_TEXT, Session
from backprop_lab.engine.training import StepRecord
from backprop_lab.gui.prompts import NewSessionDialog

ROOT = Path(__file__).resolve().parents[2]


def _text(s: str) -> str:
    return s.replace("&", "")


def test_load_report_example_has_one_name_in_menu_toolbar_panel_and_undo(window):
    action = window.actions["report_example"]
    button = window.findChild(QPushButton, "reportExampleButton")
    assert _text(action.text()) == button.text() == "Load report example"
    assert action.toolTip() == button.toolTip()
    window.document.randomize(3)
    button.click()
    assert window.document.undo_stack.undoText() == "Load report example"


@pytest.mark.parametrize(
    ("action", "widget"),
    [("report_example", "reportExampleButton"), ("verify_now", "verifyButton"),
     ("verify_torch", "verifyTorch"), ("randomize", "randomizeButton"), ("start", "startButton"),
     ("stop", "stopButton"), ("reset", "resetButton"), ("auto_range", "autoRange")],
)  # fmt: skip
def test_a_command_has_one_name_in_the_menus_and_on_its_button(window, action, widget):
    button = window.findChild(QAbstractButton, widget)
    menu_text = _text(window.actions[action].text())
    assert menu_text.removesuffix(" plot") == button.text(), (menu_text, button.text())


def test_the_thing_is_called_the_report_example_everywhere_a_user_reads():
    files = [ROOT / "README.md", *(ROOT / "docs").glob("*.md"), *(ROOT / "gui").glob("*.py")]
    files += [ROOT / "backprop_lab" / f for f in ("cli.py", "check.py", "report.py", "train.py", "window.py")]
    offenders = [f.name for f in files if "worked example" in f.read_text(encoding="utf-8")]
    assert offenders == []


def test_randomize_new_and_a_growing_k_draw_from_one_range(window, qtbot):
    assert RANDOM_RANGE_TEXT == "[−1, 1)"
    panel = window.model_panel
    assert (panel.low_spin.value(), panel.high_spin.value()) == RANDOM_RANGE
    dialog = NewSessionDialog(window, 4, seed=5)
    qtbot.addWidget(dialog)
    assert RANDOM_RANGE_TEXT in dialog.random.text()
    assert RANDOM_RANGE_TEXT in window.actions["new"].toolTip()
    dialog.random.setChecked(True)
    from_new = dialog.session().model
    panel.k_spin.setValue(4)
    panel.seed_spin.setValue(5)
    panel.randomize()
    assert window.document.model == from_new  # the same K and seed: the same weights either way
    window.document.randomize(5)
    assert window.document.model == from_new


def test_the_default_file_name_is_the_sessions_name_without_unsafe_characters(window):
    window.document.replace_session(Session.random(16, 0), None)
    assert window.files.base_name() == "Random K = 16, seed 0"
    named = Session.report_example()
    named.name = 'Lab 3: a/b "test"?'
    window.document.replace_session(named, None)
    assert window.files.base_name() == "Lab 3 ab test"


def test_one_epoch_is_one_epoch(window):
    window.document.append_history([StepRecord(1, 1, 2.0, 1.0, 0.5, 0.5, 0.5)])
    label = window.training_panel.history_label.text()
    assert label == "History: 1 step, 1 epoch"


def test_the_reports_title_is_said_once():
    unnamed = Session.report_example()
    unnamed.name = ""
    data = gather_report_data(unnamed, verifications=())
    assert data.title == data.document_title == REPORT_TITLE
    assert f"<title>{REPORT_TITLE}</title>" in render_html(data)
    named = gather_report_data(Session.report_example(), verifications=())
    assert named.document_title == f"Report example — {REPORT_TITLE}"
    html = render_html(named)
    assert f"<title>Report example — {REPORT_TITLE}</title>" in html
    assert f"{REPORT_TITLE} — {REPORT_TITLE}" not in html


def test_the_reports_settings_group_thousands_like_the_window():
    session = Session.report_example()
    data = gather_report_data(session, verifications=())
    settings = dict(data.settings)
    assert settings["training samples N"] == "1,000"
    assert settings["total steps"] == f"{session.training.total_steps:,}"
