"""Crash recovery: the copy kept while there are unsaved changes, removed when they are saved or
discarded, offered after a crash (restore, discard, later), and a corrupt copy set aside."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from backprop_lab.engine.session import Session, load_session, save_session
from backprop_lab.gui import recovery
from backprop_lab.gui.main_window import MainWindow
from backprop_lab.gui.recovery import CORRUPT_SUFFIX, RecoveryFile, find_recoverable

WAIT = 30_000
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def win(window):
    return window


@pytest.fixture
def restore_answer(monkeypatch):
    """What the Restore / Discard / Later prompt answers; the entries it was asked about."""
    state = {"answer": "restore", "asked": []}

    def ask(_parent, entry):
        state["asked"].append(entry.display_name)
        return state["answer"]

    monkeypatch.setattr(recovery, "ask_restore", ask)
    return state


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def crashed_copy(session: Session, original: Path | None, folder: Path) -> RecoveryFile:
    """What a window that crashed leaves behind: the copy and its meta, with nobody holding the lock."""
    rf = RecoveryFile(folder)
    rf.write(session, original)
    rf.abandon()
    return rf


def test_a_copy_is_kept_while_unsaved_and_removed_by_a_save(win, qtbot, tmp_path, _isolated_recovery):
    mgr = win.files.keeper
    assert not mgr.recovery_timer.isActive()  # clean: nothing to protect
    win.document.set_entry("B", 1, 2, 0.5)
    assert mgr.recovery_timer.isActive() and mgr.recovery_timer.interval() == 30_000
    mgr.recovery_timer.setInterval(10)
    with qtbot.waitSignal(mgr.recoveryWritten, timeout=WAIT) as blocker:
        pass
    copy = Path(blocker.args[0])
    assert copy.parent == _isolated_recovery and copy.name.endswith(".bpl.json")
    assert load_session(copy).model == win.document.model
    meta = json.loads(mgr.recovery.meta_path.read_text(encoding="utf-8"))
    assert meta["original"] is None
    assert not mgr.write_recovery()  # nothing changed since: no rewrite
    win.document.set_entry("B", 1, 2, 0.75)
    assert mgr.write_recovery() and load_session(copy).model.B[1][2] == 0.75

    assert win.save_to(tmp_path / "s.bpl.json")
    assert files_in(_isolated_recovery) == [] and not mgr.recovery_timer.isActive()


@pytest.mark.parametrize("how", ["close-discard", "open-other", "undo-to-clean"])
def test_the_copy_goes_when_the_changes_are_discarded(qtbot, dialogs, tmp_path, _isolated_recovery, how):
    win = MainWindow()
    qtbot.addWidget(win)
    win.show()
    win.document.set_entry("A", 0, 0, 2.0)
    assert win.files.keeper.write_recovery()
    assert len(files_in(_isolated_recovery)) == 3  # session, meta, lock
    if how == "close-discard":
        assert win.close()  # the recorder answers the prompt with Ok: go on without saving
        assert dialogs.kinds() == ["question"]
    elif how == "open-other":
        other = tmp_path / "o.bpl.json"
        save_session(Session.random(2, 0), other)
        assert win.open_path(other)
    else:
        win.document.undo_stack.undo()
        assert not win.document.is_dirty
    assert files_in(_isolated_recovery) == []


def test_no_copy_while_a_run_computes(win, qtbot):
    doc = win.document
    from backprop_lab.engine.training import TrainingSettings

    doc.set_training_settings(TrainingSettings(learning_rate=0.001, batch_size=1, n_samples=10**5, epochs=50))
    win.controller.start()
    qtbot.waitUntil(lambda: len(doc.history) > 0, timeout=WAIT)
    assert doc.is_dirty and not win.files.keeper.write_recovery()
    win.controller.pause()
    qtbot.waitUntil(lambda: doc.training_state == "paused", timeout=WAIT)
    assert win.files.keeper.write_recovery()  # paused: weights and history agree
    restored = load_session(win.files.keeper.recovery.session_path)
    assert restored.history == doc.history
    win.controller.stop()
    qtbot.waitUntil(lambda: doc.training_state == "idle", timeout=WAIT)
    doc.mark_clean()


def test_after_a_crash_the_copy_is_offered_and_restored(win, restore_answer, tmp_path, _isolated_recovery):
    original = tmp_path / "work.bpl.json"
    saved = Session.random(3, 5)
    save_session(saved, original)
    edited = load_session(original)
    edited.model = edited.model.with_weights([[9.0] * 3] * 3, edited.model.B, edited.model.C)
    crashed = crashed_copy(edited, original, _isolated_recovery)

    assert win.files.offer_recovery()
    assert restore_answer["asked"] == ["work.bpl.json"]
    doc = win.document
    assert doc.model == edited.model and doc.path == original
    assert doc.is_dirty and win.isWindowModified()  # restored changes are still unsaved
    assert win.windowTitle().startswith("work.bpl.json[*]")
    assert not crashed.session_path.exists()  # the crashed copy is gone...
    own = win.files.keeper.recovery.session_path
    assert load_session(own).model == edited.model  # ...and this window protects the changes now
    assert load_session(original).model == saved.model  # the file itself is untouched until saved
    assert not win.files.offer_recovery()  # nothing more to offer


def test_discard_deletes_the_copy_and_later_keeps_it(win, restore_answer, _isolated_recovery):
    before = win.document.model.copy()
    crashed = crashed_copy(Session.random(2, 9), None, _isolated_recovery)
    restore_answer["answer"] = "later"
    assert not win.files.offer_recovery()
    assert crashed.session_path.exists() and win.document.model == before
    assert len(find_recoverable(_isolated_recovery)) == 1  # the lock was released: offered again
    restore_answer["answer"] = "discard"
    assert not win.files.offer_recovery()
    assert files_in(_isolated_recovery) == [] and win.document.model == before
    assert restore_answer["asked"] == ["an untitled session"] * 2


@pytest.mark.parametrize("damage", [b"{truncated", b"", b'{"format": "something else"}'])
def test_a_corrupt_copy_is_reported_and_moved_aside(win, dialogs, restore_answer, _isolated_recovery, damage):
    crashed = crashed_copy(Session.random(2, 1), None, _isolated_recovery)
    crashed.session_path.write_bytes(damage)
    before = win.document.model.copy()
    assert not win.files.offer_recovery()
    assert dialogs.kinds() == ["warning"]
    text = dialogs.messages[0][2]
    assert "moved aside" in text and CORRUPT_SUFFIX in text and "\n" not in text
    aside = crashed.session_path.with_name(crashed.session_path.name + CORRUPT_SUFFIX)
    assert aside.read_bytes() == damage  # kept for a human to look at
    assert win.document.model == before and not win.document.is_dirty
    assert find_recoverable(_isolated_recovery) == []  # never offered again


def test_a_damaged_meta_file_still_restores_the_session(win, restore_answer, _isolated_recovery):
    crashed = crashed_copy(Session.random(2, 4), Path("/somewhere/x.bpl.json"), _isolated_recovery)
    crashed.meta_path.write_text("[not, json", encoding="utf-8")
    assert win.files.offer_recovery()
    assert win.document.path is None and win.document.model == Session.random(2, 4).model


def test_a_copy_owned_by_a_running_window_is_not_offered(qtbot, win, restore_answer, _isolated_recovery):
    other = MainWindow()
    qtbot.addWidget(other)
    other.document.set_entry("A", 0, 0, 4.0)
    assert other.files.keeper.write_recovery()
    assert find_recoverable(_isolated_recovery) == []
    assert not win.files.offer_recovery() and restore_answer["asked"] == []
    other.document.mark_clean()


def test_a_copy_left_by_a_process_that_really_died_is_found(_isolated_recovery):
    code = (
        "import os, sys\n"
        "from PySide6.QtCore import QCoreApplication\n"
        "from backprop_lab.engine.session import Session\n"
        "from backprop_lab.gui.recovery import RecoveryFile\n"
        "app = QCoreApplication([])\n"
        "rf = RecoveryFile(sys.argv[1])\n"
        "rf.write(Session.random(2, 3), None)\n"
        "os._exit(3)  # a crash: no cleanup, the lock file stays behind\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(_isolated_recovery)], cwd=ROOT, capture_output=True, timeout=120
    )
    assert result.returncode == 3, result.stderr
    assert any(p.suffix == ".lock" for p in _isolated_recovery.iterdir())
    entries = find_recoverable(_isolated_recovery)
    assert len(entries) == 1 and entries[0].load().model == Session.random(2, 3).model
    entries[0].discard()
    assert files_in(_isolated_recovery) == []


def test_a_recovery_folder_that_cannot_be_written_only_says_so(qtbot, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x", encoding="utf-8")
    recovery.set_recovery_directory(blocker / "recovery")
    win = MainWindow()
    qtbot.addWidget(win)
    messages = []
    win.document.statusMessage.connect(lambda text, _ms: messages.append(text))
    win.document.set_entry("A", 0, 0, 1.5)
    assert not win.files.keeper.write_recovery()
    assert not win.files.keeper.write_recovery()
    assert len([m for m in messages if "crash-recovery" in m]) == 1  # said once, not every 30 s
    win.document.mark_clean()


def test_the_prompt_offers_restore_discard_and_later(qtbot, monkeypatch, _isolated_recovery):
    crashed_copy(Session.random(2, 2), None, _isolated_recovery)
    (entry,) = find_recoverable(_isolated_recovery)
    seen = {}

    def exec_(box):
        seen["buttons"] = [b.text() for b in box.buttons()]
        seen["text"] = box.text()
        box.buttons()[[b.text() for b in box.buttons()].index("Discard")].click()
        return 0

    monkeypatch.setattr(QMessageBox, "exec", exec_)
    assert recovery.ask_restore(None, entry) == "discard"
    assert sorted(seen["buttons"]) == ["Discard", "Later", "Restore"]
    assert "did not close properly" in seen["text"]
    entry.release()


START_SCRIPT = """
import sys
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QMessageBox
from backprop_lab.gui import recovery
from backprop_lab.window import run_app

def ask(parent, entry):
    print("offered", entry.display_name, recovery.recovery_directory(), flush=True)
    def report_and_close():
        doc = parent.document
        print("restored", doc.display_name, doc.is_dirty, doc.model.A[0][0], flush=True)
        QApplication.closeAllWindows()
    QTimer.singleShot(0, report_and_close)
    return "restore"

recovery.ask_restore = ask
QMessageBox.question = staticmethod(lambda *a, **k: QMessageBox.StandardButton.Discard)
sys.exit(run_app([]))
"""


def test_the_next_start_offers_the_copy_from_the_app_data_folder(tmp_path):
    data = tmp_path / "data"
    folder = data / "BackpropLab" / "Backprop Lab" / "recovery"
    session = Session.random(3, 8)
    session.model = session.model.with_weights([[7.5] * 3] * 3, session.model.B, session.model.C)
    crashed_copy(session, tmp_path / "lost.bpl.json", folder)
    env = {
        **{k: v for k, v in os.environ.items() if k != "BACKPROP_LAB_EXIT_AFTER_SHOW"},
        "QT_QPA_PLATFORM": "offscreen",
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(data),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
    }
    result = subprocess.run(
        [sys.executable, "-W", "error", "-c", START_SCRIPT],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"offered lost.bpl.json {folder}"
    assert lines[1] == "restored lost.bpl.json True 7.5"
    assert files_in(folder) == []  # restored, then discarded on close: nothing left behind


def test_two_crashed_copies_are_offered_newest_first_one_per_start(win, restore_answer, _isolated_recovery):
    older = crashed_copy(Session.random(2, 10), None, _isolated_recovery)
    newer = crashed_copy(Session.random(2, 11), None, _isolated_recovery)
    os.utime(older.session_path, ns=(10**18, 10**18))
    os.utime(newer.session_path, ns=(2 * 10**18, 2 * 10**18))
    assert [e.session_path for e in find_recoverable(_isolated_recovery)] == [
        newer.session_path,
        older.session_path,
    ]
    for e in find_recoverable(_isolated_recovery):
        e.release()
    assert win.files.offer_recovery()
    assert win.document.model == Session.random(2, 11).model
    assert older.session_path.exists()  # left for the next start, not lost
    remaining = find_recoverable(_isolated_recovery)
    assert [e.session_path for e in remaining] == [older.session_path]
    remaining[0].release()
    win.document.mark_clean()
