"""GUI test fixtures: isolated QSettings, no modal dialogs, no leftover threads or windows."""

from __future__ import annotations

import gc

import pytest
from PySide6.QtCore import QCoreApplication, QSettings, Qt, QThread
from PySide6.QtWidgets import QApplication, QDialog, QFileDialog, QMenu, QMessageBox, QWidget

from backprop_lab.window import APPLICATION, ORGANIZATION


@pytest.fixture(scope="session")
def qapp_args():
    return ["backprop-lab-tests"]


@pytest.fixture(autouse=True)
def _isolated_settings(qapp, tmp_path):
    """Preferences go to a fresh temporary INI file per test, never to the user's home."""
    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp_path / "settings"))
    yield tmp_path / "settings"


@pytest.fixture(autouse=True)
def _isolated_recovery(tmp_path):
    """Crash-recovery copies (gui.recovery) go to a temporary folder too, never to the user's."""
    from backprop_lab.gui import recovery

    recovery.set_recovery_directory(tmp_path / "recovery")
    yield tmp_path / "recovery"
    recovery.set_recovery_directory(None)


class DialogRecorder:
    """Replaces QMessageBox's static functions and QFileDialog's; records what would have been shown."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, str, str]] = []  # (kind, title, text)
        self.open_path = ""
        self.save_path = ""

    def kinds(self) -> list[str]:
        return [m[0] for m in self.messages]


@pytest.fixture(autouse=True)
def dialogs(monkeypatch) -> DialogRecorder:
    rec = DialogRecorder()

    def box(kind):
        def show(_parent, title, text, *args, **kwargs):
            rec.messages.append((kind, title, text))
            return QMessageBox.StandardButton.Ok

        return show

    for kind in ("warning", "critical", "information", "question"):
        monkeypatch.setattr(QMessageBox, kind, box(kind))
    monkeypatch.setattr(QMessageBox, "about", lambda *a, **k: rec.messages.append(("about", "", "")))
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (rec.open_path, ""))
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (rec.save_path, ""))
    return rec


@pytest.fixture(autouse=True)
def _no_modal_loops(monkeypatch):
    """A modal dialog or menu that a test did not replace fails the test instead of hanging it.

    Offscreen, nobody can click a real dialog; a test that wants one replaces ``exec`` itself
    (its own monkeypatch is applied after this one).
    """

    def refuse(self, *args, **kwargs):
        title = self.windowTitle() if hasattr(self, "windowTitle") else ""
        raise AssertionError(f"a modal {type(self).__name__} ({title!r}) was opened in a test")

    for cls in (QDialog, QMessageBox, QMenu):
        monkeypatch.setattr(cls, "exec", refuse)


@pytest.fixture(autouse=True)
def _no_dangling_threads(qtbot, monkeypatch):
    """Every QThread started during a test has finished by its end (napari's _dangling_qthreads)."""
    started: list[QThread] = []
    original = QThread.start

    def start(self, *args, **kwargs):
        started.append(self)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(QThread, "start", start)
    yield

    def running() -> list[QThread]:
        alive = []
        for t in started:
            try:
                if t.isRunning():
                    alive.append(t)
            except RuntimeError:  # deleted with deleteLater: finished
                pass
        return alive

    leftover = running()
    for t in leftover:
        t.wait(30_000)  # a deadline for a thread that is ending, not a target
    assert not running(), f"{len(leftover)} QThread(s) still running after the test"


def _top_level_widgets() -> list[QWidget]:
    """QApplication.topLevelWidgets(), safe from the garbage collector.

    A window made by Python without a parent (MainWindow(), the report command's) belongs to its
    Python wrapper; when that wrapper sits in a reference cycle, a collection deletes the window.
    PySide turns Qt's list into Python objects one by one, and each new wrapper may set off a
    collection: a window deleted half-way through is then read from freed memory (a segfault).
    So: no collection during the call.
    """
    gc.disable()
    try:
        return QApplication.topLevelWidgets()
    finally:
        gc.enable()


@pytest.fixture(autouse=True)
def _no_leftover_windows(qapp):
    """No visible top-level widget survives a test (windows go through qtbot.addWidget)."""
    before = set(_top_level_widgets())
    yield
    transient = (Qt.WindowType.ToolTip, Qt.WindowType.Popup)
    leftover = [
        w
        for w in _top_level_widgets()
        if w.isVisible() and w not in before and w.windowType() not in transient
    ]
    for w in leftover:
        w.close()
    assert not leftover, f"top-level widgets left open: {[type(w).__name__ for w in leftover]}"


@pytest.fixture
def window(qtbot):
    """The main window on the report example, shown (offscreen)."""
    from backprop_lab.gui.main_window import MainWindow

    w = MainWindow()
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    return w


@pytest.fixture
def document(qapp):
    from backprop_lab.gui.document import Document

    doc = Document()
    yield doc
    doc.deleteLater()
