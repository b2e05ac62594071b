"""Sessions in the window: New, Open, Open Recent, Save, Save As, Revert, drag and drop, the
unsaved-changes prompt, crash recovery, Export report, screenshots and Edit ▸ Copy as.

``install(window) -> SessionManager`` adds all of it to a :class:`gui.main_window.MainWindow` through
the window's public surface (``document``, ``controller``, ``menus``, ``actions``) and keeps the
manager as ``window.sessions``. The window's Open, Save and Save As actions are rewired to the
manager; the window's ``_confirm_close`` asks :meth:`SessionManager.confirm_close`.

Rules the manager keeps:

* Replacing the session (New, Open, Open Recent, a dropped file, Revert, a restored copy) or
  closing the window with unsaved changes asks Save / Discard / Cancel first; Cancel (or a Save
  that did not happen) leaves everything as it was.
* A file that cannot be opened is reported with the loader's one-line reason and the current
  session stays. A save that fails (no such folder, a folder in the way, a full disk) says why,
  the session stays marked unsaved, and the previous file is untouched (writes are atomic).
* While there are unsaved changes a recovery copy is written every :data:`RECOVERY_INTERVAL_MS`
  (only when something changed since the last copy, and not while a run is computing), and when a
  run starts (edits made just before a long run are not left out of every copy until it ends); a
  save, a discard or a normal close removes it (see :mod:`gui.recovery`). A copy that cannot be
  written, whatever the reason, is one line in the status bar; the timer goes on.
  :meth:`SessionManager.offer_recovery` (called once at start-up by ``gui.app.run_app``) offers a
  copy left behind by a crash.
* Save, Save As, recovery copies and report exports during a run write
  :meth:`Document.consistent_session`: the history and the weights its last step ended with.
* Export report and the screenshots live in :mod:`gui.report_actions` (``manager.reports``); closing
  the window cancels an export and joins its thread.
"""

from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

import shiboken6
from PySide6.QtCore import QEvent, QEventLoop, QMimeData, QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QMainWindow,
    QMenu,
    QMessageBox,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from backprop_lab.engine.evaluation import Evaluation, evaluate
from backprop_lab.engine.session import Session, SessionError, load_session
from backprop_lab.gui import recovery
from backprop_lab.gui.document import EDITOR_MAX_K, Document
from backprop_lab.gui.jobs import Job, JobContext
from backprop_lab.gui.matrix_editor import COPY_FORMATS, MatrixTable
from backprop_lab.gui.recovery import RecoveryFile
from backprop_lab.gui.report_actions import ReportActions

SESSION_FILTER = "Backprop Lab sessions (*.bpl.json *.json);;All files (*)"
SESSION_SUFFIX = ".bpl.json"
#: Entries kept in File ▸ Open Recent.
MAX_RECENT = 8
RECENT_KEY = "session/recentFiles"
LAST_DIR_KEY = "session/lastDirectory"
#: How long Save-on-close waits for a training run to end (it stops between two steps).
SHUTDOWN_WAIT_MS = 10_000
#: How often a recovery copy is written while there are unsaved changes (milliseconds).
RECOVERY_INTERVAL_MS = 30_000


# --------------------------------------------------------------------------- prompts (tests replace them)


def ask_save_changes(parent: QWidget | None, name: str, before: str) -> str:
    """Save / Discard / Cancel for unsaved changes to ``name``: "save", "discard" or "cancel".

    Escape and closing the box mean Cancel. (A test double answering Ok or Yes means go ahead
    without saving.)
    """
    buttons = QMessageBox.StandardButton
    answer = QMessageBox.question(
        parent,
        "Unsaved changes",
        f"Save the changes to {name} before {before}?",
        buttons.Save | buttons.Discard | buttons.Cancel,
        buttons.Save,
    )
    if answer == buttons.Save:
        return "save"
    if answer in (buttons.Cancel, buttons.NoButton, buttons.Escape, buttons.No):
        return "cancel"
    return "discard"


class NewSessionDialog(QDialog):
    """File ▸ New: the report's worked example, or random weights with a chosen K and seed."""

    def __init__(self, parent: QWidget | None = None, k: int = 3, seed: int = 0) -> None:
        super().__init__(parent)
        self.setWindowTitle("New session")
        self.setObjectName("newSessionDialog")
        self.example = QRadioButton("The report's worked example (K = 3)", objectName="newExample")
        self.random = QRadioButton("Random x, A, B, C, uniform in [−1, 1)", objectName="newRandom")
        group = QButtonGroup(self)
        group.addButton(self.example)
        group.addButton(self.random)
        self.example.setChecked(True)
        self.k_spin = QSpinBox(objectName="newK")
        self.k_spin.setRange(1, EDITOR_MAX_K)
        self.k_spin.setValue(max(1, min(EDITOR_MAX_K, k)))
        self.seed_spin = QSpinBox(objectName="newSeed")
        self.seed_spin.setRange(0, 2**31 - 1)
        self.seed_spin.setValue(seed)
        form = QFormLayout()
        form.addRow("K (units)", self.k_spin)
        form.addRow("Seed", self.seed_spin)
        box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        box.accepted.connect(self.accept)
        box.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.example)
        layout.addWidget(self.random)
        layout.addLayout(form)
        layout.addWidget(box)
        self.random.toggled.connect(self._on_random_toggled)
        self._on_random_toggled(False)

    def _on_random_toggled(self, on: bool) -> None:
        self.k_spin.setEnabled(on)
        self.seed_spin.setEnabled(on)

    def session(self) -> Session:
        """The session the dialog describes (same K and seed: the same weights)."""
        if self.random.isChecked():
            return Session.random(self.k_spin.value(), self.seed_spin.value())
        return Session.report_example()


def choose_new_session(parent: QWidget | None, k: int) -> Session | None:
    """Run :class:`NewSessionDialog`; the new session, or None when cancelled. Tests replace this."""
    dialog = NewSessionDialog(parent, k)
    try:
        if dialog.exec() != QDialog.DialogCode.Accepted:
            return None
        return dialog.session()
    finally:
        dialog.deleteLater()


# --------------------------------------------------------------------------- recent files


def recent_files() -> list[str]:
    """File ▸ Open Recent, most recent first (absolute paths, from QSettings)."""
    value = QSettings().value(RECENT_KEY)
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)  # an INI file returns one item as str
    return [str(v) for v in items if v][:MAX_RECENT]


def _store_recent(paths: list[str]) -> None:
    QSettings().setValue(RECENT_KEY, paths[:MAX_RECENT])


def add_recent_file(path: str | Path) -> None:
    p = str(Path(path).absolute())
    _store_recent([p, *[r for r in recent_files() if r != p]])


def remove_recent_file(path: str | Path) -> None:
    p = str(path)
    _store_recent([r for r in recent_files() if r != p])


def _dropped_path(mime: QMimeData | None) -> str | None:
    """The one local file being dragged, or None (several files, or not files)."""
    if mime is None or not mime.hasUrls():
        return None
    urls = mime.urls()
    if len(urls) != 1 or not urls[0].isLocalFile():
        return None
    return urls[0].toLocalFile() or None


def _with_suffix(path: str, suffix: str) -> str:
    # A name typed without any extension gets ours (Qt's own dialog does not always add it).
    return path if Path(path).suffix else path + suffix


# --------------------------------------------------------------------------- the manager


class SessionManager(QObject):
    """What :func:`install` added to the window (kept as ``window.sessions``; see the module docstring).

    Signal: ``recoveryWritten(str)`` the path of a fresh recovery copy. ``reports`` is the
    :class:`gui.report_actions.ReportActions` behind Export report and the screenshots.
    """

    recoveryWritten = Signal(str)

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.setObjectName("sessions")
        self.window = window
        self.document: Document = window.document  # type: ignore[attr-defined]
        self.controller = window.controller  # type: ignore[attr-defined]
        self.actions: dict[str, QAction] = {}
        self.recovery = RecoveryFile()
        self._recovery_pending = False
        self._recovery_warned = False
        self.recovery_timer = QTimer(self)
        self.recovery_timer.setObjectName("recoveryTimer")
        self.recovery_timer.setInterval(RECOVERY_INTERVAL_MS)
        self.recovery_timer.timeout.connect(self._on_recovery_timer_timeout)
        self._closed = False
        self._training_state = self.document.training_state
        self._opening: tuple[Job, QEventLoop] | None = None
        self._last_table: MatrixTable | None = None
        self._dropped: str | None = None
        self._drop_timer = QTimer(self)
        self._drop_timer.setSingleShot(True)
        self._drop_timer.setInterval(0)
        self._drop_timer.timeout.connect(self._on_drop_timer_timeout)

        self.reports = ReportActions(window, self._start_dir, lambda: _safe_name(self.document))
        self.reports.busyChanged.connect(self._on_reports_busy_changed)
        self._build_actions()
        self._build_menus()
        self._rewire_window_actions()

        doc = self.document
        for signal in (doc.modelChanged, doc.settingsChanged, doc.historyChanged, doc.sessionReplaced):
            signal.connect(self._on_document_changed)
        doc.dirtyChanged.connect(self._on_document_dirty_changed)
        doc.pathChanged.connect(self._on_document_path_changed)
        doc.sessionReplaced.connect(self._on_document_session_replaced)
        doc.trainingStateChanged.connect(self._on_document_training_state_changed)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.focusChanged.connect(self._on_app_focus_changed)
            app.aboutToQuit.connect(self._on_app_about_to_quit)
        window.setAcceptDrops(True)
        window.installEventFilter(self)
        self._update_actions()
        self._rebuild_recent_menu()

    # ------------------------------------------------------------------ composition

    def _action(self, name: str, text: str, slot, shortcut=None, tip: str = "") -> QAction:
        action = QAction(text, self.window)
        action.setObjectName(f"action_{name}")
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.triggered.connect(slot)
        self.window.addAction(action)
        self.actions[name] = action
        window_actions = getattr(self.window, "actions", None)
        if isinstance(window_actions, dict):
            window_actions.setdefault(name, action)
        return action

    def _build_actions(self) -> None:
        self._action(
            "new",
            "&New…",
            self.new_session,
            QKeySequence.StandardKey.New,
            "A new session: the report's example, or random weights with a chosen K and seed",
        )
        self._action("revert", "Re&vert", self.revert, None, "Discard the changes and reload the saved file")
        self._action(
            "export_report",
            "&Export report…",
            self.reports.export_dialog,
            "Ctrl+Shift+E",
            "Write report.html, report.pdf, the plot and a screenshot into a folder",
        )
        self._action(
            "screenshot_window",
            "Save screenshot of the &window…",
            lambda: self.reports.save_screenshot("window"),
            None,
            "Save the window as a PNG image",
        )
        self._action(
            "screenshot_plot",
            "Save screenshot of the &plot…",
            lambda: self.reports.save_screenshot("plot"),
            None,
            "Save the live plot as a PNG image",
        )
        self._action("clear_recent", "&Clear menu", self.clear_recent_files, None, "Forget the recent files")
        for i, fmt in enumerate(COPY_FORMATS):
            self._action(
                f"copy_as_{i}",
                fmt,
                lambda _=False, f=fmt: self.copy_as(f),
                None,
                f"Copy the matrix you clicked last (or its selection) as {fmt}",
            )

    def _build_menus(self) -> None:
        menus = getattr(self.window, "menus", {})
        win_actions = getattr(self.window, "actions", {})
        self.recent_menu = QMenu("Open &Recent", self.window)
        self.recent_menu.setObjectName("menu_recent")
        self.screenshot_menu = QMenu("Save &screenshot", self.window)
        self.screenshot_menu.setObjectName("menu_screenshot")
        self.screenshot_menu.addAction(self.actions["screenshot_window"])
        self.screenshot_menu.addAction(self.actions["screenshot_plot"])
        self.copy_as_menu = QMenu("Copy &as", self.window)
        self.copy_as_menu.setObjectName("menu_copy_as")
        for i in range(len(COPY_FORMATS)):
            self.copy_as_menu.addAction(self.actions[f"copy_as_{i}"])

        file_menu = menus.get("file")
        if not isinstance(file_menu, QMenu):
            file_menu = self.window.menuBar().addMenu("&File")
            file_menu.setObjectName("menu_file")
            if isinstance(menus, dict):
                menus["file"] = file_menu
        open_action, save_action = win_actions.get("open"), win_actions.get("save")
        save_as_action, quit_action = win_actions.get("save_as"), win_actions.get("quit")
        present = file_menu.actions()

        def before(anchor: QAction | None) -> QAction | None:
            return anchor if anchor in present else None

        file_menu.insertAction(before(open_action) or before(save_action), self.actions["new"])
        anchor = before(save_action)
        file_menu.insertMenu(anchor, self.recent_menu)
        file_menu.insertSeparator(anchor)
        after_save_as = _next_action(file_menu, save_as_action)
        file_menu.insertAction(after_save_as, self.actions["revert"])
        anchor = before(quit_action)
        file_menu.insertAction(anchor, self.actions["export_report"])
        file_menu.insertMenu(anchor, self.screenshot_menu)
        file_menu.insertSeparator(anchor)
        self.file_menu = file_menu

        edit_menu = menus.get("edit")
        if isinstance(edit_menu, QMenu):
            edit_menu.insertMenu(_next_action(edit_menu, win_actions.get("copy")), self.copy_as_menu)
        else:
            self.window.menuBar().addMenu(self.copy_as_menu)

    def _rewire_window_actions(self) -> None:
        """Open, Save and Save As (the window's actions, shortcuts and all) now go through the manager."""
        slots = {"open": self.open_dialog, "save": self.save, "save_as": self.save_as}
        win_actions = getattr(self.window, "actions", {})
        for name, slot in slots.items():
            action = win_actions.get(name)
            if action is None:
                self._action(name, {"open": "&Open…", "save": "&Save", "save_as": "Save &As…"}[name], slot)
                continue
            with warnings.catch_warnings(), contextlib.suppress(RuntimeError, TypeError):
                warnings.simplefilter("ignore")
                action.triggered.disconnect()
            action.triggered.connect(lambda _=False, s=slot: s())
            self.actions[name] = action

    # ------------------------------------------------------------------ the unsaved-changes rule

    def confirm_discard(self, before: str = "continuing") -> bool:
        """True when the current session may be replaced or closed (it is clean, saved now, or discarded)."""
        doc = self.document
        if not doc.is_dirty:
            return True
        answer = ask_save_changes(self.window, doc.display_name, before)
        if answer == "cancel":
            return False
        if answer == "save":
            if doc.is_training:
                # Saving mid-run would pair the history with stale weights: end the run first.
                self.controller.shutdown(timeout_ms=SHUTDOWN_WAIT_MS)
            return self.save()
        return True

    def confirm_close(self) -> bool:
        """The window's close hook: ask about unsaved changes; if it may close, wind everything down."""
        if self._closed:
            return True
        if not self.confirm_discard("closing"):
            return False
        self.shutdown(remove_recovery=True)
        return True

    def shutdown(self, *, remove_recovery: bool = True) -> None:
        """Stop the timers, cancel and join an export, and (normally) delete the recovery copy."""
        if self._closed:
            return
        self._closed = True
        self.recovery_timer.stop()
        self._drop_timer.stop()
        if self._opening is not None:  # drop the file being read; its thread is joined
            job, loop = self._opening
            job.cancel()
            job.wait()
            loop.quit()
        self.reports.shutdown()
        if remove_recovery:
            self.recovery.remove()
        else:
            self.recovery.abandon()
        app = QApplication.instance()
        if isinstance(app, QApplication):
            with warnings.catch_warnings(), contextlib.suppress(RuntimeError, TypeError):
                warnings.simplefilter("ignore")
                app.focusChanged.disconnect(self._on_app_focus_changed)

    # ------------------------------------------------------------------ New / Open / Save / Revert

    def _refuse_while_training(self, what: str) -> bool:
        if self.document.is_training:
            QMessageBox.information(self.window, what, "Stop the training run first.")
            return True
        return False

    def new_session(self) -> bool:
        """File ▸ New: pick the example or random weights, then replace the session (after asking)."""
        if self._refuse_while_training("New session"):
            return False
        session = choose_new_session(self.window, self.document.K)
        if session is None or not self.confirm_discard("starting a new session"):
            return False
        self.document.replace_session(session, None)
        self.document.notify(f"New session: {self.document.display_name}")
        return True

    def _start_dir(self) -> str:
        if self.document.path is not None:
            return str(self.document.path.parent)
        return str(QSettings().value(LAST_DIR_KEY, "") or "")

    def open_dialog(self) -> bool:
        if self._refuse_while_training("Open session"):
            return False
        path, _ = QFileDialog.getOpenFileName(self.window, "Open session", self._start_dir(), SESSION_FILTER)
        return bool(path) and self.open_path(path)

    @property
    def is_opening(self) -> bool:
        """A session file is being read and checked on a worker thread (see :meth:`open_path`)."""
        return self._opening is not None

    def _load_in_background(self, path: str | Path) -> tuple[Session, Evaluation] | str | None:
        """Read, validate and evaluate the file on a :mod:`gui.jobs` worker; the window stays live.

        A K = 1024 file takes seconds to parse and its gradients a second more, so this waits in a
        local event loop (the caller keeps its synchronous answer) under a busy cursor. Returns
        the session with its evaluation, a one-line error, or None when the window closed meanwhile.
        """

        def work(context: JobContext) -> tuple[Session, Evaluation]:
            session = load_session(path)
            context.check()
            return session, evaluate(session.model)

        outcome: list[object] = []
        loop = QEventLoop()
        job = Job(work, "open", self)
        job.succeeded.connect(outcome.append)
        job.failed.connect(outcome.append)
        job.finished.connect(loop.quit)
        self._opening = (job, loop)
        self.document.notify(f"Opening {Path(path).name}…", 0)
        QGuiApplication.setOverrideCursor(Qt.CursorShape.BusyCursor)
        try:
            job.start()
            loop.exec()
        finally:
            QGuiApplication.restoreOverrideCursor()
            self._opening = None
            job.deleteLater()
        if self._closed or not outcome:
            return None
        self.window.statusBar().clearMessage()
        result = outcome[0]
        if isinstance(result, str):
            # load_session raises SessionError only: its text is the one-line message.
            return result.removeprefix("SessionError: ")
        return result  # type: ignore[return-value]

    def open_path(self, path: str | Path) -> bool:
        """Open the session file at ``path`` in this window; False (and one message) if it cannot be.

        The file is read on a worker thread (:meth:`_load_in_background`); an Open while another
        is still reading is refused with a note in the status bar.
        """
        if self._opening is not None:
            self.document.notify("A session is being opened already")
            return False
        if self._refuse_while_training("Open session"):
            return False
        loaded = self._load_in_background(path)
        if loaded is None:
            return False
        if isinstance(loaded, str):
            QMessageBox.critical(self.window, "Cannot open session", loaded)
            return False
        session, evaluation = loaded
        if not self.confirm_discard(f"opening {Path(path).name}"):
            return False
        if self.document.is_training:  # a run started while the file was being read
            self._refuse_while_training("Open session")
            return False
        self.document.replace_session(session, Path(path).absolute(), evaluation)
        add_recent_file(path)
        QSettings().setValue(LAST_DIR_KEY, str(Path(path).absolute().parent))
        self._rebuild_recent_menu()
        self.document.notify(f"Opened {Path(path).name}")
        return True

    def save(self) -> bool:
        """File ▸ Save: to the current file, or ask for one. True when the session is saved."""
        if self.document.path is None:
            return self.save_as()
        return self.save_to(self.document.path)

    def save_as(self) -> bool:
        doc = self.document
        suggested = (
            str(doc.path) if doc.path else str(Path(self._start_dir()) / (_safe_name(doc) + SESSION_SUFFIX))
        )
        path, _ = QFileDialog.getSaveFileName(self.window, "Save session as", suggested, SESSION_FILTER)
        if not path:
            return False
        return self.save_to(_with_suffix(path, SESSION_SUFFIX))

    def save_to(self, path: str | Path) -> bool:
        """Write the session to ``path`` (atomic). On failure: one message, still unsaved, old file intact."""
        doc = self.document
        if doc.training_state == "running":
            QMessageBox.information(
                self.window, "Save session", "Pause or stop the training run before saving."
            )
            return False
        try:
            target = doc.save(Path(path).absolute())
        except Exception as exc:  # whatever it is, the user keeps working and hears why in one line
            QMessageBox.critical(
                self.window,
                "Cannot save session",
                f"{_one_line(exc)}. The session was not saved; the old file is unchanged.",
            )
            return False
        add_recent_file(target)
        QSettings().setValue(LAST_DIR_KEY, str(target.parent))
        self._rebuild_recent_menu()
        doc.notify(f"Saved {target.name}")
        return True

    def revert(self) -> bool:
        """File ▸ Revert: reload the saved file, dropping every change (after asking)."""
        doc = self.document
        if doc.path is None or self._refuse_while_training("Revert"):
            return False
        buttons = QMessageBox.StandardButton
        answer = QMessageBox.question(
            self.window,
            "Revert",
            f"Discard all changes and reload {doc.path.name} as it was last saved?",
            buttons.Discard | buttons.Cancel,
            buttons.Cancel,
        )
        if answer in (buttons.Cancel, buttons.NoButton, buttons.No, buttons.Escape):
            return False
        try:
            session = load_session(doc.path)
        except SessionError as exc:
            QMessageBox.critical(self.window, "Cannot revert", str(exc))
            return False
        doc.replace_session(session, doc.path)
        doc.notify(f"Reverted to the saved {doc.path.name}")
        return True

    # ------------------------------------------------------------------ Open Recent

    def _rebuild_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()  # deletes the entries (the menu owns them), keeps "Clear menu" (the window's)
        paths = recent_files()
        names = [Path(path).name for path in paths]
        for i, path in enumerate(paths, start=1):
            p = Path(path)
            # Two files of the same name in different folders: say which folder.
            label = p.name if names.count(p.name) == 1 else f"{p.name} ({p.parent})"
            action = QAction(f"&{i} {label}", menu)
            action.setObjectName(f"action_recent_{i}")
            action.setData(path)
            action.setStatusTip(path)
            action.setToolTip(path)
            action.triggered.connect(lambda _=False, f=path: self.open_recent(f))
            menu.addAction(action)
        menu.addSeparator()
        menu.addAction(self.actions["clear_recent"])
        self.actions["clear_recent"].setEnabled(bool(paths))
        menu.setEnabled(bool(paths) and not self.document.is_training)

    def recent_actions(self) -> list[QAction]:
        """The menu's file entries, most recent first."""
        return [a for a in self.recent_menu.actions() if a.data()]

    def open_recent(self, path: str) -> bool:
        if not Path(path).is_file():
            remove_recent_file(path)
            self._rebuild_recent_menu()
            QMessageBox.warning(
                self.window,
                "Open recent",
                f"{path} no longer exists (or is not a file); it was removed from Open Recent.",
            )
            return False
        return self.open_path(path)

    def clear_recent_files(self) -> None:
        _store_recent([])
        self._rebuild_recent_menu()

    # ------------------------------------------------------------------ crash recovery

    def write_recovery(self, *, force: bool = False, run_starting: bool = False) -> bool:
        """Write the recovery copy if the session has unsaved changes that changed since the last copy.

        Not while a run computes (each copy would hold a moment of a moving history), except as
        it starts (``run_starting``), when the session is still the one the user edited. Never
        raises: a failure is one line in the status bar.
        """
        doc = self.document
        if self._closed or not doc.is_dirty or (doc.training_state == "running" and not run_starting):
            return False
        if not (force or self._recovery_pending or not self.recovery.written):
            return False
        try:
            self.recovery.write(doc.consistent_session(), doc.path)
        except Exception as exc:  # a timer slot: nothing may escape it, and the user keeps working
            if not self._recovery_warned:  # once: the user can still save; do not nag every 30 s
                self._recovery_warned = True
                doc.notify(f"Could not write the crash-recovery copy: {_one_line(exc)}", 10000)
            return False
        self._recovery_pending = False
        self.recoveryWritten.emit(str(self.recovery.session_path))
        return True

    def offer_recovery(self) -> bool:
        """Offer a session left behind by a crash (Restore / Discard / Later). True if one was restored.

        Never raises: an unreadable copy is reported, moved aside, and the start goes on.
        """
        try:
            entries = recovery.find_recoverable(self.recovery.directory)
        except Exception as exc:  # a start-up must never fail on recovery
            self.document.notify(f"Could not look for crash-recovery copies: {exc}", 10000)
            return False
        if not entries:
            return False
        entry = entries[0]
        for other in entries[1:]:
            other.release()  # offered at the next start
        try:
            return self._offer(entry)
        except Exception as exc:
            entry.release()
            QMessageBox.warning(self.window, "Crash recovery", f"Crash recovery failed: {exc}")
            return False

    def _offer(self, entry: recovery.RecoveryEntry) -> bool:
        answer = recovery.ask_restore(self.window, entry)
        if answer == "discard":
            entry.discard()
            self.document.notify("Discarded the unsaved changes left by the last session")
            return False
        if answer != "restore":
            entry.release()
            return False
        try:
            session = entry.load()
        except SessionError as exc:
            moved = entry.move_aside()
            QMessageBox.warning(
                self.window,
                "Cannot restore",
                f"The crash-recovery copy cannot be read and was moved aside to {moved}: {exc}",
            )
            return False
        if self.document.is_training or not self.confirm_discard("restoring the recovered session"):
            entry.release()
            return False
        self.document.replace_session(session, entry.original)
        self.document.mark_dirty()  # restored changes are unsaved changes
        self.write_recovery(force=True)  # our own copy first, then the crashed one may go
        entry.discard()
        self.document.notify(f"Restored the unsaved changes to {entry.display_name}", 10000)
        return True

    # ------------------------------------------------------------------ Copy as

    def current_table(self) -> MatrixTable | None:
        """The matrix (editor or gradient table) focused now, else the one focused last."""
        focus = QApplication.focusWidget()
        if isinstance(focus, MatrixTable) and self.window.isAncestorOf(focus):
            return focus
        table = self._last_table
        if table is not None and shiboken6.isValid(table) and self.window.isAncestorOf(table):
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

    # ------------------------------------------------------------------ slots

    def _on_document_changed(self) -> None:
        self._recovery_pending = True

    def _on_document_dirty_changed(self, dirty: bool) -> None:
        if self._closed:
            return
        if dirty:
            if not self.recovery_timer.isActive():
                self.recovery_timer.start()
        else:
            self.recovery_timer.stop()
            self._recovery_pending = False
            self.recovery.remove()  # saved (or replaced): nothing to recover
        self._update_actions()

    def _on_document_path_changed(self, _path: str) -> None:
        self._update_actions()

    def _on_document_session_replaced(self) -> None:
        # The title names the session, which a New or Revert changes without changing the path.
        update_title = getattr(self.window, "_update_title", None)
        if callable(update_title):
            update_title()

    def _on_document_training_state_changed(self, state: str) -> None:
        starting = self._training_state == "idle" and state != "idle"
        self._training_state = state
        if starting:
            self.write_recovery(run_starting=True)
        self._update_actions()

    def _on_reports_busy_changed(self, _busy: bool) -> None:
        self._update_actions()

    def _on_recovery_timer_timeout(self) -> None:
        self.write_recovery()

    def _on_app_focus_changed(self, _old: QWidget | None, new: QWidget | None) -> None:
        if isinstance(new, MatrixTable) and self.window.isAncestorOf(new):
            self._last_table = new

    def _on_app_about_to_quit(self) -> None:
        # Quitting without closing the window: keep the recovery copy if there is something to recover.
        self.shutdown(remove_recovery=not self.document.is_dirty)

    def _on_drop_timer_timeout(self) -> None:
        path, self._dropped = self._dropped, None
        if path and not self._closed:
            self.open_path(path)

    def _update_actions(self) -> None:
        doc = self.document
        state = doc.training_state
        idle, running = state == "idle", state == "running"
        a = self.actions
        a["new"].setEnabled(idle)
        a["revert"].setEnabled(idle and doc.path is not None and doc.is_dirty)
        a["save"].setEnabled(not running)
        a["save_as"].setEnabled(not running)
        a["export_report"].setEnabled(not running and not self.reports.is_exporting)
        self.recent_menu.setEnabled(idle and bool(recent_files()))

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.window:
            kind = event.type()
            if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
                if _dropped_path(event.mimeData()) and not self.document.is_training:  # type: ignore[attr-defined]
                    event.acceptProposedAction()  # type: ignore[attr-defined]
                    return True
            elif kind == QEvent.Type.Drop:
                path = _dropped_path(event.mimeData())  # type: ignore[attr-defined]
                if path:
                    event.acceptProposedAction()  # type: ignore[attr-defined]
                    # Open after the drop returns: a modal prompt in a drop handler blocks the drag source.
                    self._dropped = path
                    self._drop_timer.start()
                    return True
        return False


def _one_line(exc: BaseException) -> str:
    """An error as one line: its message (named by its type when that is all it says)."""
    text = " ".join(str(exc).split())
    if isinstance(exc, (OSError, ValueError)) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _safe_name(doc: Document) -> str:
    if doc.path is not None:
        name = doc.path.name
        return name[: -len(SESSION_SUFFIX)] if name.endswith(SESSION_SUFFIX) else Path(name).stem
    raw = doc.session.name or "session"
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in raw).strip("-") or "session"


def _next_action(menu: QMenu, action: QAction | None) -> QAction | None:
    """The entry after ``action`` in ``menu`` (insert before it to insert after ``action``)."""
    items = menu.actions()
    if action is None or action not in items:
        return None
    i = items.index(action)
    return items[i + 1] if i + 1 < len(items) else None


def install(window: QMainWindow) -> SessionManager:
    """Add sessions, recovery, reports, screenshots and Copy as to ``window``; idempotent."""
    existing = getattr(window, "sessions", None)
    if isinstance(existing, SessionManager):
        return existing
    manager = SessionManager(window)
    window.sessions = manager  # type: ignore[attr-defined]
    return manager
