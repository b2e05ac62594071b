"""A session holding text UTF-8 cannot write (issue 11, item 5, the window's half).

The loader is to refuse a lone surrogate; a session made in memory can still hold one. Saving it
says so in one line, and the crash-recovery timer survives it without leaving any file behind.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QStatusBar

from backprop_lab.engine.session import Session, SessionError, dumps_session
from backprop_lab.engine.training import Divergence
from backprop_lab.gui.main_window import MainWindow
from backprop_lab.gui.recovery import RecoveryFile

pytestmark = pytest.mark.reliability("unsaveable-text")

LONE = "\ud800"


def unsaveable(field: str) -> Session:
    s = Session.report_example()
    if field == "name":
        s.name = f"before{LONE}after"
    elif field == "notes":
        s.notes = f"notes {LONE}"
    else:
        s.divergence = Divergence(1, 1, f"reason {LONE}")
    return s


LABELS = {"name": "name", "notes": "notes", "divergence": "divergence.reason"}


@pytest.fixture
def win(qtbot):
    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    yield w
    w.document.mark_clean()


def engine_can_write(session: Session) -> bool:
    """Whether the engine's writer accepts the session (it refuses text UTF-8 cannot hold)."""
    try:
        dumps_session(session).encode("utf-8")
    except (UnicodeEncodeError, SessionError):
        return False
    return True


def recovery_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.mark.parametrize("field", ["name", "notes", "divergence"])
def test_the_recovery_timer_survives_and_leaves_no_file(win, _isolated_recovery, field):
    session = unsaveable(field)
    writable = engine_can_write(session)
    win.document.replace_session(session, None)
    win.document.mark_dirty()
    keeper = win.files.keeper
    assert keeper.recovery_timer.isActive()
    keeper.recovery_timer.timeout.emit()  # raised UnicodeEncodeError out of the slot before
    assert keeper.recovery_timer.isActive()
    if writable:  # escaped by the writer: an ordinary copy
        assert keeper.recovery.written and keeper.recovery.session_path.is_file()
        return
    assert not keeper.recovery.written
    assert recovery_files(_isolated_recovery) == []  # no lock, no meta file, no half copy
    message = win.findChild(QStatusBar).currentMessage()
    assert "crash-recovery copy" in message and LABELS[field] in message and "\n" not in message
    # Once the text is fixed the next tick writes the copy.
    win.document.session.name = win.document.session.notes = ""
    win.document.session.divergence = None
    win.document.set_entry("A", 0, 0, 0.5)
    keeper.recovery_timer.timeout.emit()
    assert keeper.recovery.written and keeper.recovery.session_path.is_file()


def test_any_error_in_the_recovery_writer_is_one_line_and_the_timer_goes_on(
    win, monkeypatch, _isolated_recovery
):
    def broken(*_args, **_kwargs):
        raise RuntimeError("something nobody expected\nwith a second line")

    win.document.set_entry("A", 0, 0, 0.5)
    monkeypatch.setattr(win.document.session, "copy", broken)  # the writer copies the session first
    win.files.keeper.recovery_timer.timeout.emit()
    assert win.files.keeper.recovery_timer.isActive() and not win.files.keeper.recovery.written
    assert recovery_files(_isolated_recovery) == []
    message = win.findChild(QStatusBar).currentMessage()
    assert message == (
        "Could not write the crash-recovery copy: RuntimeError: something nobody expected with a second line"
    )


def test_the_divergence_reason_that_cannot_be_saved_is_named_in_one_line(win, dialogs, tmp_path):
    session = unsaveable("divergence")
    assert not engine_can_write(session)
    win.document.replace_session(session, None)
    win.document.mark_dirty()
    target = tmp_path / "s.bpl.json"
    assert not win.files.save_to(target)
    [(kind, title, text)] = dialogs.messages
    assert kind == "critical" and title == "Cannot save session"
    assert "divergence.reason" in text and "\n" not in text and "codec" not in text
    assert not target.exists() and win.document.is_dirty
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file


def test_a_failed_write_keeps_the_previous_copy_as_it_was(tmp_path):
    rec = RecoveryFile(tmp_path)
    rec.write(Session.report_example(), None)
    before = rec.session_path.read_bytes()
    with pytest.raises(ValueError, match=r"divergence\.reason"):
        rec.write(unsaveable("divergence"), None)
    assert rec.written and rec.session_path.read_bytes() == before
    rec.remove()
    assert list(tmp_path.iterdir()) == []
