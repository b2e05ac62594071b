"""File workflows in the window with the dialogs replaced: new, open, open recent, save, save as,
revert, drag and drop, the unsaved-changes prompt, failed saves, reports and screenshots."""

from __future__ import annotations

import errno
import os
import threading
import warnings
from pathlib import Path

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QThread, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage
from PySide6.QtWidgets import QApplication, QFileDialog, QMessageBox, QWidget

from backprop_lab.engine.session import Session, SessionError, load_session, save_session
from backprop_lab.engine.training import TrainingSettings
from backprop_lab.gui import report_controller
from backprop_lab.gui.file_controller import FileController
from backprop_lab.gui.main_window import MainWindow
from backprop_lab.gui.prompts import NewSessionDialog
from backprop_lab.gui.recent_files import MAX_RECENT, add_recent_file, recent_files

WAIT = 30_000  # generous: a loaded 2-core machine
Button = QMessageBox.StandardButton


@pytest.fixture
def answers(monkeypatch, dialogs):
    """QMessageBox.question answers from a queue (Discard when it runs dry), recorded in ``dialogs``."""
    queue: list[QMessageBox.StandardButton] = []

    def question(_parent, title, text, *args, **kwargs):
        dialogs.messages.append(("question", title, text))
        return queue.pop(0) if queue else Button.Discard

    monkeypatch.setattr(QMessageBox, "question", question)
    return queue


def make_window(qtbot, path=None) -> MainWindow:
    w = MainWindow(path)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


def edit(window: MainWindow, value: float = 0.25) -> None:
    window.document.set_entry("A", 0, 0, value)
    assert window.document.is_dirty and window.isWindowModified()


def saved_file(tmp_path: Path, name: str = "other.bpl.json", k: int = 4, seed: int = 1) -> Path:
    path = tmp_path / name
    save_session(Session.random(k, seed), path)
    return path


def questions(dialogs) -> list[str]:
    return [text for kind, _title, text in dialogs.messages if kind == "question"]


def test_file_and_edit_menus_hold_the_session_entries(window):
    texts = [a.text() for a in window.menus["file"].actions() if not a.isSeparator()]
    assert texts == [
        "&New…",
        "&Open…",
        "Open &Recent",
        "Add run to &compare…",
        "&Save",
        "Save &As…",
        "Re&vert",
        "Session &properties…",
        "&Export report…",
        "Export &data…",
        "Save &screenshot",
        "&Quit",
    ]
    edit_texts = [a.text() for a in window.menus["edit"].actions()]
    assert "Copy &as" in edit_texts
    assert isinstance(window.files, FileController)


def test_save_as_then_save_write_the_session_and_clear_the_mark(window, dialogs, tmp_path):
    doc = window.document
    edit(window)
    assert window.windowTitle().startswith("Untitled[*]") or "[*]" in window.windowTitle()
    dialogs.save_path = str(tmp_path / "mine")  # no extension typed: ours is added
    window.actions["save_as"].trigger()
    target = tmp_path / "mine.bpl.json"
    assert target.is_file() and doc.path == target
    assert not doc.is_dirty and not window.isWindowModified()
    assert window.windowTitle().startswith("mine.bpl.json")
    assert load_session(target).model == doc.model
    assert recent_files()[0] == str(target)

    edit(window, 0.5)
    dialogs.save_path = ""  # Save must not ask again
    window.actions["save"].trigger()
    assert not doc.is_dirty
    assert load_session(target).model.A[0][0] == 0.5
    assert [k for k in dialogs.kinds() if k != "question"] == []


def test_open_replaces_the_session_and_remembers_it(window, dialogs, tmp_path):
    path = saved_file(tmp_path)
    dialogs.open_path = str(path)
    window.actions["open"].trigger()
    doc = window.document
    assert doc.K == 4 and doc.path == path and not doc.is_dirty
    assert doc.model == load_session(path).model
    assert window.windowTitle().startswith("other.bpl.json")
    assert [a.data() for a in window.files.recent_actions()] == [str(path)]
    assert dialogs.messages == []  # the report example was unmodified: nothing to ask


@pytest.mark.parametrize("content", [b"{not json", b'{"format": "backprop-lab-session", "version": 1}', b""])
def test_a_bad_file_says_why_once_and_keeps_the_current_session(window, dialogs, answers, tmp_path, content):
    bad = tmp_path / "bad.bpl.json"
    bad.write_bytes(content)
    edit(window)
    before = window.document.model.copy()
    with pytest.raises(SessionError) as expected:
        load_session(bad)
    dialogs.open_path = str(bad)
    window.actions["open"].trigger()
    assert dialogs.messages == [("critical", "Cannot open session", str(expected.value))]
    assert "\n" not in str(expected.value)
    doc = window.document
    assert doc.model == before and doc.is_dirty and doc.path is None
    assert recent_files() == []


@pytest.mark.parametrize("choice", ["save", "discard", "cancel"])
def test_opening_over_unsaved_changes_asks_save_discard_cancel(window, dialogs, answers, tmp_path, choice):
    mine = tmp_path / "mine.bpl.json"
    assert window.save_to(mine)
    original = mine.read_bytes()
    edit(window, 0.75)
    other = saved_file(tmp_path)
    answers.append({"save": Button.Save, "discard": Button.Discard, "cancel": Button.Cancel}[choice])
    opened = window.open_path(other)
    assert questions(dialogs) == ["Save the changes to mine.bpl.json before opening other.bpl.json?"]
    doc = window.document
    if choice == "cancel":
        assert not opened and doc.path == mine and doc.is_dirty and doc.model.A[0][0] == 0.75
        assert mine.read_bytes() == original
        return
    assert opened and doc.path == other and not doc.is_dirty
    if choice == "save":
        assert load_session(mine).model.A[0][0] == 0.75
    else:
        assert mine.read_bytes() == original


@pytest.mark.parametrize("choice", ["save", "discard", "cancel", "save-then-cancel-dialog"])
def test_closing_with_unsaved_changes_asks(qtbot, dialogs, answers, tmp_path, choice):
    window = make_window(qtbot)
    edit(window, 0.125)
    answers.append(
        Button.Save if choice.startswith("save") else {"discard": Button.Discard}.get(choice, Button.Cancel)
    )
    target = tmp_path / "closing.bpl.json"
    dialogs.save_path = "" if choice == "save-then-cancel-dialog" else str(target)
    closed = window.close()
    assert questions(dialogs) == ["Save the changes to Report example before closing?"]
    if choice in ("cancel", "save-then-cancel-dialog"):
        assert not closed and window.isVisible() and window.document.is_dirty
        assert not target.exists()
        answers.append(Button.Discard)  # let the fixture's teardown close it
        return
    assert closed and not window.isVisible()
    if choice == "save":
        assert load_session(target).model.A[0][0] == 0.125
    else:
        assert not target.exists()


def test_a_clean_window_closes_without_asking(qtbot, dialogs):
    window = make_window(qtbot)
    assert window.close()
    assert dialogs.messages == []


def _fail_fsync(monkeypatch):
    def fsync(_fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", fsync)


@pytest.mark.parametrize("failure", ["missing-folder", "directory", "disk-full"])
def test_a_failed_save_says_so_keeps_it_unsaved_and_the_old_file_intact(
    window, dialogs, answers, tmp_path, monkeypatch, failure
):
    mine = tmp_path / "mine.bpl.json"
    assert window.save_to(mine)
    original = mine.read_bytes()
    edit(window, 0.875)
    if failure == "missing-folder":
        target = tmp_path / "no such folder" / "x.bpl.json"
    elif failure == "directory":
        target = tmp_path / "a folder.bpl.json"
        target.mkdir()
    else:
        target = mine
    dialogs.save_path = str(target)
    with monkeypatch.context() as patch:
        if failure == "disk-full":
            _fail_fsync(patch)
        window.actions["save_as"].trigger()
    kinds = dialogs.kinds()
    assert kinds == ["critical"], dialogs.messages
    text = dialogs.messages[0][2]
    assert "not saved" in text and "\n" not in text
    expected = {"missing-folder": "does not exist", "directory": "directory", "disk-full": "No space left"}
    assert expected[failure] in text
    doc = window.document
    assert doc.is_dirty and window.isWindowModified() and doc.path == mine
    assert mine.read_bytes() == original  # byte-identical
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp files left


def test_new_session_from_the_dialog(window, dialogs, answers, monkeypatch):
    chosen = Session.random(5, 7)
    monkeypatch.setattr(window.prompts, "new_session", lambda k: chosen)
    edit(window)
    answers.append(Button.Discard)
    window.actions["new"].trigger()
    doc = window.document
    assert questions(dialogs) == ["Save the changes to Report example before starting a new session?"]
    assert doc.K == 5 and doc.model == chosen.model and doc.path is None and not doc.is_dirty
    assert window.windowTitle().startswith("Random K = 5, seed 7")

    monkeypatch.setattr(window.prompts, "new_session", lambda k: None)
    window.actions["new"].trigger()  # cancelled dialog: nothing changes
    assert doc.model == chosen.model


def test_new_session_dialog_builds_the_example_or_random_weights(qtbot):
    dialog = NewSessionDialog(None, k=4)
    qtbot.addWidget(dialog)
    assert dialog.session().model == Session.report_example().model
    assert not dialog.k_spin.isEnabled()
    dialog.random.setChecked(True)
    assert dialog.k_spin.isEnabled() and dialog.k_spin.value() == 4
    dialog.k_spin.setValue(6)
    dialog.seed_spin.setValue(42)
    assert dialog.session().model == Session.random(6, 42).model


def test_open_recent_keeps_eight_newest_and_prunes_a_missing_file_with_a_message(window, dialogs, tmp_path):
    paths = [saved_file(tmp_path, f"s{i}.bpl.json", k=2, seed=i) for i in range(MAX_RECENT + 2)]
    for p in paths:
        assert window.open_path(p)
    entries = window.files.recent_actions()
    assert [a.data() for a in entries] == [str(p) for p in reversed(paths)][:MAX_RECENT]
    assert entries[0].text() == f"&1 {paths[-1].name}"

    paths[5].unlink()
    victim = next(a for a in window.files.recent_actions() if a.data() == str(paths[5]))
    victim.trigger()
    assert dialogs.kinds() == ["warning"] and "removed from Open Recent" in dialogs.messages[0][2]
    assert str(paths[5]) not in recent_files()
    assert len(window.files.recent_actions()) == MAX_RECENT - 1
    assert window.document.path == paths[-1]  # the current session stayed

    window.files.recent_actions()[-1].trigger()  # an existing one opens
    assert window.document.path == paths[2]
    window.actions["clear_recent"].trigger()
    assert recent_files() == [] and window.files.recent_actions() == []


def test_a_single_recent_file_survives_the_ini_round_trip(window, tmp_path):
    add_recent_file(tmp_path / "one.bpl.json")  # an INI file returns a one-item list as a string
    assert recent_files() == [str(tmp_path / "one.bpl.json")]


@pytest.mark.parametrize("choice", ["discard", "cancel"])
def test_revert_reloads_the_saved_file(window, dialogs, answers, tmp_path, choice):
    mine = tmp_path / "mine.bpl.json"
    assert window.save_to(mine)
    saved = window.document.model.copy()
    assert not window.actions["revert"].isEnabled()  # nothing to revert yet
    edit(window, 3.0)
    assert window.actions["revert"].isEnabled()
    answers.append(Button.Discard if choice == "discard" else Button.Cancel)
    window.actions["revert"].trigger()
    doc = window.document
    if choice == "discard":
        assert doc.model == saved and not doc.is_dirty
    else:
        assert doc.model.A[0][0] == 3.0 and doc.is_dirty


def _mime(*paths: Path) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def _drag_enter(*args) -> QDragEnterEvent:
    # PySide6 6.12 marks the QPoint constructor deprecated; 6.11 (Python 3.11) has no other.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return QDragEnterEvent(*args)


def test_dropping_a_session_file_opens_it(window, qtbot, tmp_path):
    path = saved_file(tmp_path)
    assert window.acceptDrops()
    pos = QPoint(50, 50)
    one, two = _mime(path), _mime(path, path)  # the events do not own their mime data: keep it alive
    args = (Qt.DropAction.CopyAction,)
    buttons = (Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    enter = _drag_enter(pos, *args, one, *buttons)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    several = _drag_enter(pos, *args, two, *buttons)
    several.ignore()
    QApplication.sendEvent(window, several)
    assert not several.isAccepted()  # one file at a time
    drop = QDropEvent(QPointF(pos), *args, one, *buttons)
    QApplication.sendEvent(window, drop)
    assert drop.isAccepted()
    qtbot.waitUntil(lambda: window.document.path == path, timeout=WAIT)
    assert window.document.K == 4


def wait_idle(qtbot, window) -> None:
    qtbot.waitUntil(lambda: window.document.training_state == "idle", timeout=WAIT)


def test_saved_and_reopened_session_is_the_same_and_training_continues(qtbot, dialogs, tmp_path):
    window = make_window(qtbot)
    doc = window.document
    doc.set_training_settings(
        TrainingSettings(learning_rate=0.05, batch_size=10, n_samples=60, epochs=2, seed=3)
    )
    window.controller.start()
    wait_idle(qtbot, window)
    assert len(doc.history) == 12
    target = tmp_path / "trained.bpl.json"
    dialogs.save_path = str(target)
    window.actions["save_as"].trigger()
    assert not doc.is_dirty

    again = make_window(qtbot, target)
    s, t = doc.session, again.document.session
    assert (t.model, t.initial, t.training, t.divergence) == (s.model, s.initial, s.training, s.divergence)
    assert t.history == s.history  # every column, bit for bit
    assert again.document.evaluation.loss == doc.evaluation.loss
    again.plot_panel.refresh()
    assert again.plot_panel.point_count == 12  # the reopened plot shows the whole history
    x, _y = again.plot_panel.curves["loss_at_x"].getData()
    assert list(x) == list(range(1, 13))

    again.controller.start()
    wait_idle(qtbot, again)
    h = again.document.history
    assert len(h) == 24
    assert [r.step for r in h.records()] == list(range(1, 25))
    assert h.last_epoch == 4  # epochs continue counting too
    again.document.mark_clean()


def test_saving_while_a_run_computes_is_refused_and_closing_with_save_ends_the_run_first(
    qtbot, dialogs, answers, tmp_path
):
    window = make_window(qtbot)
    doc = window.document
    doc.set_training_settings(TrainingSettings(learning_rate=0.001, batch_size=1, n_samples=10**5, epochs=50))
    window.controller.start()
    qtbot.waitUntil(lambda: len(doc.history) > 0, timeout=WAIT)
    assert not window.actions["save"].isEnabled()
    target = tmp_path / "mid-run.bpl.json"
    assert not window.save_to(target)
    assert dialogs.kinds() == ["information"] and not target.exists()

    answers.append(Button.Save)
    dialogs.save_path = str(target)
    assert window.close()
    saved = load_session(target)
    # The run ended before saving: the weights belong to the saved history's last step.
    assert len(saved.history) >= 1 and saved.model == doc.model
    assert saved.history == doc.history


def test_export_report_from_the_window(window, qtbot, dialogs, monkeypatch, tmp_path):
    out = tmp_path / "report"
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, **k: str(out))
    window.reports.torch = False
    with qtbot.waitSignal(window.reports.reportExported, timeout=WAIT) as blocker:
        window.actions["export_report"].trigger()
        assert window.reports.is_exporting and not window.actions["export_report"].isEnabled()
    files = blocker.args[0]
    assert files is not None and files.folder == out
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["report.html", "report.pdf", "window.png", "plot.png", "plot.svg", "network.svg", "network.png"]
    )
    assert "finite differences" in files.html.read_text(encoding="utf-8")
    assert window.actions["export_report"].isEnabled() and QApplication.overrideCursor() is None
    assert dialogs.kinds() == []


def test_export_into_a_file_path_says_why(window, qtbot, dialogs, tmp_path):
    a_file = tmp_path / "report"
    a_file.write_text("not a folder", encoding="utf-8")
    window.reports.torch = False
    with qtbot.waitSignal(window.reports.reportExported, timeout=WAIT) as blocker:
        window.reports.export_to(a_file)
    assert blocker.args == [None]
    assert dialogs.kinds() == ["critical"] and "not a folder" in dialogs.messages[0][2]
    assert a_file.read_text(encoding="utf-8") == "not a folder"


def test_closing_the_window_during_an_export_cancels_it_cleanly(qtbot, dialogs, monkeypatch, tmp_path):
    started = threading.Event()

    def slow_gather(session, *, verifications=None, torch=True, progress=None):
        started.set()
        while True:  # a check that would take long: only the cancel (raised by progress) ends it
            progress(0, 1)
            threading.Event().wait(0.001)

    monkeypatch.setattr(report_controller, "gather_report_data", slow_gather)
    window = make_window(qtbot)
    exported = []
    window.reports.reportExported.connect(exported.append)
    out = tmp_path / "report"
    assert window.reports.export_to(out)
    qtbot.waitUntil(started.is_set, timeout=WAIT)
    thread = window.findChild(QThread, "reportThread")
    assert thread is not None and thread.isRunning()
    assert window.close()
    assert not window.reports.is_exporting and QApplication.overrideCursor() is None
    QApplication.processEvents()  # deliver anything still queued: it must be ignored
    assert exported == [] and not out.exists() and dialogs.messages == []


@pytest.mark.parametrize("which", ["window", "plot"])
def test_screenshots_are_png_files_of_the_window_or_the_plot(window, dialogs, tmp_path, which):
    dialogs.save_path = str(tmp_path / f"shot-{which}")
    window.actions[f"screenshot_{which}"].trigger()
    path = tmp_path / f"shot-{which}.png"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = QImage(str(path))
    widget = window if which == "window" else window.findChild(QWidget, "trainingPlot")
    ratio = widget.devicePixelRatioF()
    assert (image.width(), image.height()) == (round(widget.width() * ratio), round(widget.height() * ratio))
    assert dialogs.kinds() == []


def test_a_screenshot_that_cannot_be_written_says_why(window, dialogs, tmp_path):
    assert not window.reports.save_screenshot_to("plot", tmp_path / "missing" / "plot.png")
    assert dialogs.kinds() == ["critical"] and "does not exist" in dialogs.messages[0][2]


def test_the_export_reuses_the_verification_panels_check_of_the_same_model(
    window, qtbot, monkeypatch, tmp_path
):
    panel = window.verify.verification
    qtbot.waitUntil(panel.is_current, timeout=WAIT)
    reports = window.reports
    session = window.document.session
    assert reports.verifications_for(session) is None  # the panel has no PyTorch column; the report wants one
    reports.torch = False
    assert reports.verifications_for(session) == [panel.results.fd]

    seen = []
    real = report_controller.gather_report_data

    def gather(session, **kwargs):
        seen.append(kwargs["verifications"])
        return real(session, **kwargs)

    monkeypatch.setattr(report_controller, "gather_report_data", gather)
    with qtbot.waitSignal(reports.reportExported, timeout=WAIT) as blocker:
        reports.export_to(tmp_path / "r")
    assert blocker.args[0] is not None and seen == [[panel.results.fd]]

    window.document.set_entry(
        "C", 0, 0, 0.25
    )  # the panel checks the edited model; the report the initial one
    qtbot.waitUntil(panel.is_current, timeout=WAIT)
    assert reports.verifications_for(window.document.session) is None
    window.document.mark_clean()


def test_recent_files_of_the_same_name_show_their_folders(window, tmp_path):
    for folder in ("one", "two"):
        (tmp_path / folder).mkdir()
        assert window.open_path(saved_file(tmp_path / folder, "same.bpl.json"))
    texts = [a.text() for a in window.files.recent_actions()]
    assert texts == [f"&1 same.bpl.json ({tmp_path / 'two'})", f"&2 same.bpl.json ({tmp_path / 'one'})"]


def test_no_file_is_taken_in_while_training(window, qtbot, dialogs, tmp_path):
    doc = window.document
    doc.set_training_settings(TrainingSettings(learning_rate=0.001, batch_size=1, n_samples=10**5, epochs=50))
    window.controller.start()
    qtbot.waitUntil(lambda: doc.is_training, timeout=WAIT)
    path = saved_file(tmp_path)
    mime = _mime(path)
    enter = _drag_enter(
        QPoint(5, 5),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    enter.ignore()
    QApplication.sendEvent(window, enter)
    assert not enter.isAccepted()
    assert not window.actions["new"].isEnabled() and not window.files.recent_menu.isEnabled()
    assert not window.open_path(path) and not window.files.new_session()
    assert dialogs.kinds() == ["information", "information"]
    assert doc.path is None
    window.controller.stop()
    qtbot.waitUntil(lambda: not doc.is_training, timeout=WAIT)
    assert window.actions["new"].isEnabled()
    doc.mark_clean()
