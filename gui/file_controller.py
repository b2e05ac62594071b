"""Sessions as files: New, Open, Open Recent, Save, Save As, Revert, a dropped file, the unsaved-changes
prompt and crash recovery.

Rules the controller keeps:

* Replacing the session (New, Open, Open Recent, a dropped file, Revert, a restored copy) or
  closing the window with unsaved changes asks Save / Discard / Cancel first; Cancel (or a Save
  that did not happen) leaves everything as it was.
* A file that cannot be opened is reported with the loader's one-line reason and the current
  session stays. A save that fails (no such folder, a folder in the way, a full disk) says why,
  the session stays marked unsaved, and the previous file is untouched (writes are atomic).
* Open reads, validates and evaluates the file as a :mod:`gui.jobs` job: the window stays live.
* Crash recovery (a copy of the unsaved session, offered after a crash) is the
  :class:`gui.recovery_keeper.RecoveryKeeper` this controller keeps.
* Save, Save As and recovery copies during a run write :meth:`Document.consistent_session`: the
  history and the weights its last step ended with.
"""

from __future__ import annotations

from pathlib import Path
from typing import cast

from PySide6.QtCore import QEventLoop, QMimeData, QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QApplication, QMenu

from backprop_lab.engine.evaluation import Evaluation, evaluate
from backprop_lab.engine.session import (
    RANDOM_RANGE_TEXT,
    Session,
    SessionError,
    load_session,
    session_file_stem,
)
from backprop_lab.gui.actions import make_action
from backprop_lab.gui.document import Document
from backprop_lab.gui.jobs import Job, JobContext
from backprop_lab.gui.prompts import Prompts, one_line
from backprop_lab.gui.recent_files import add_recent_file, recent_files, remove_recent_file, store_recent
from backprop_lab.gui.recovery_keeper import RecoveryKeeper
from backprop_lab.gui.runs import RunsModel
from backprop_lab.gui.worker import TrainingController

SESSION_SUFFIX = ".bpl.json"
LAST_DIR_KEY = "session/lastDirectory"
#: How long Save-on-close waits for a training run to end (it stops between two steps).
SHUTDOWN_WAIT_MS = 10_000
#: Held while dropping files: compare them instead of opening one (Cmd on macOS, as Qt maps it).
COMPARE_KEY = Qt.KeyboardModifier.ControlModifier
NO_KEYS = Qt.KeyboardModifier.NoModifier


def dropped_path(mime: QMimeData | None) -> str | None:
    """The one local file being dragged, or None (several files, or not files)."""
    paths = dropped_paths(mime)
    return paths[0] if len(paths) == 1 else None


def dropped_paths(mime: QMimeData | None) -> list[str]:
    """The local files being dragged ([] when any of them is not a local file)."""
    if mime is None or not mime.hasUrls():
        return []
    urls = mime.urls()
    if not all(url.isLocalFile() and url.toLocalFile() for url in urls):
        return []
    return [url.toLocalFile() for url in urls]


def _with_suffix(path: str, suffix: str) -> str:
    # A name typed without any extension gets ours (Qt's own dialog does not always add it).
    return path if Path(path).suffix else path + suffix


class FileController(QObject):
    """The session's files for one window (see the module docstring).

    ``actions`` by id: new, open, save, save_as, revert, clear_recent; ``menus``: "recent" (the
    window parents and places both, see :mod:`gui.actions`). Signal ``recentChanged()``: Open
    Recent's entries changed. Crash recovery is ``keeper``, a
    :class:`gui.recovery_keeper.RecoveryKeeper`.
    """

    #: The recent files changed (the window recomputes what is enabled).
    recentChanged = Signal()

    def __init__(
        self,
        document: Document,
        training: TrainingController,
        prompts: Prompts,
        parent: QObject | None = None,
        runs: RunsModel | None = None,
    ) -> None:
        # Over 60 lines only because the action table below has one field a line.
        super().__init__(parent)
        self.setObjectName("files")
        self.document = document
        self.training = training
        self.prompts = prompts
        #: The runs compared with the session (File ▸ Add run to compare…, a Ctrl+drop).
        self.runs = runs
        if runs is not None:
            runs.failed.connect(prompts.warning)
        #: Crash recovery: the copy of the unsaved session and its timer.
        self.keeper = RecoveryKeeper(document, prompts, self.confirm_discard, self)
        self._closed = False
        self._opening: tuple[Job, QEventLoop] | None = None
        self._dropped: str | None = None
        self._drop_timer = QTimer(self)
        self._drop_timer.setSingleShot(True)
        self._drop_timer.setInterval(0)
        self._drop_timer.timeout.connect(self._on_drop_timer_timeout)

        act = make_action
        self.actions: dict[str, QAction] = {
            "new": act(
                self,
                "new",
                "&New…",
                self.new_session,
                QKeySequence.StandardKey.New,
                f"A new session: the report example, or random x, A, B, C (uniform in {RANDOM_RANGE_TEXT}) "
                "with a chosen K and seed",
            ),
            "open": act(
                self, "open", "&Open…", self.open_dialog, QKeySequence.StandardKey.Open, "Open a session file"
            ),
            "save": act(self, "save", "&Save", self.save, QKeySequence.StandardKey.Save, "Save the session"),
            "save_as": act(
                self,
                "save_as",
                "Save &As…",
                self.save_as,
                QKeySequence.StandardKey.SaveAs,
                "Save under a new name",
            ),
            "revert": act(
                self, "revert", "Re&vert", self.revert, None, "Discard the changes and reload the saved file"
            ),
            "add_run": act(
                self,
                "add_run",
                "Add run to &compare…",
                self.add_run_dialog,
                "Ctrl+Shift+O",
                "Lay other session files' runs beside this one on the plot (read-only; kept in the session)",
            ),
            "clear_recent": act(
                self, "clear_recent", "&Clear menu", self.clear_recent_files, None, "Forget the recent files"
            ),
        }
        self.recent_menu = QMenu("Open &Recent")
        self.recent_menu.setObjectName("menu_recent")
        self.menus: dict[str, QMenu] = {"recent": self.recent_menu}

        app = QApplication.instance()
        if isinstance(app, QApplication):
            app.aboutToQuit.connect(self._on_app_about_to_quit)
        self.rebuild_recent_menu()

    @property
    def has_recent(self) -> bool:
        return bool(recent_files())

    # ------------------------------------------------------------------ the unsaved-changes rule

    def confirm_discard(self, before: str = "continuing") -> bool:
        """True when the current session may be replaced or closed (it is clean, saved now, or discarded)."""
        doc = self.document
        if not doc.is_dirty:
            return True
        answer = self.prompts.save_changes(doc.display_name, before)
        if answer == "cancel":
            return False
        if answer == "save":
            if doc.is_training:
                # Saving mid-run would pair the history with stale weights: end the run first.
                self.training.shutdown(timeout_ms=SHUTDOWN_WAIT_MS)
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
        """Stop the timers, drop a file being read, and (normally) delete the recovery copy."""
        if self._closed:
            return
        self._closed = True
        self._drop_timer.stop()
        if self._opening is not None:  # drop the file being read; its thread is joined
            job, loop = self._opening
            job.cancel()
            job.wait()
            loop.quit()
        self.keeper.shutdown(remove_recovery=remove_recovery)

    def offer_recovery(self) -> bool:
        """At start-up: offer a session left behind by a crash (see :meth:`RecoveryKeeper.offer_recovery`)."""
        return self.keeper.offer_recovery()

    # ------------------------------------------------------------------ New / Open / Save / Revert

    def _refuse_while_training(self, what: str) -> bool:
        if self.document.is_training:
            self.prompts.information(what, "Stop the training run first.")
            return True
        return False

    def new_session(self) -> bool:
        """File ▸ New: pick the example or random weights, then replace the session (after asking)."""
        if self._refuse_while_training("New session"):
            return False
        session = self.prompts.new_session(self.document.K)
        if session is None or not self.confirm_discard("starting a new session"):
            return False
        self.document.replace_session(session, None)
        self.document.notify(f"New session: {self.document.display_name}")
        return True

    def start_dir(self) -> str:
        """Where file dialogs start: the session's folder, else the last folder used."""
        if self.document.path is not None:
            return str(self.document.path.parent)
        return str(QSettings().value(LAST_DIR_KEY, "") or "")

    def base_name(self) -> str:
        """The session's name as a file name without the suffix (for suggested file names)."""
        doc = self.document
        if doc.path is not None:
            name = doc.path.name
            return name[: -len(SESSION_SUFFIX)] if name.endswith(SESSION_SUFFIX) else Path(name).stem
        return session_file_stem(doc.session.name)

    def open_dialog(self) -> bool:
        if self._refuse_while_training("Open session"):
            return False
        path = self.prompts.open_file("Open session", self.start_dir())
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
        self.document.notify("", 0)  # an empty message clears "Opening …"
        result = outcome[0]
        if isinstance(result, str):
            # load_session raises SessionError only: its text is the one-line message.
            return result.removeprefix("SessionError: ")
        return cast("tuple[Session, Evaluation]", result)  # what work() returned

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
            self.prompts.critical("Cannot open session", loaded)
            return False
        session, evaluation = loaded
        if not self.confirm_discard(f"opening {Path(path).name}"):
            return False
        if self.document.is_training:  # a run started while the file was being read
            self._refuse_while_training("Open session")
            return False
        self.document.replace_session(session, Path(path).absolute(), evaluation)
        self._remember(Path(path).absolute())
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
            str(doc.path) if doc.path else str(Path(self.start_dir()) / (self.base_name() + SESSION_SUFFIX))
        )
        path = self.prompts.save_file("Save session as", suggested)
        if not path:
            return False
        return self.save_to(_with_suffix(path, SESSION_SUFFIX))

    def save_to(self, path: str | Path) -> bool:
        """Write the session to ``path`` (atomic). On failure: one message, still unsaved, old file intact."""
        doc = self.document
        if doc.training_state == "running":
            self.prompts.information("Save session", "Pause or stop the training run before saving.")
            return False
        try:
            target = doc.save(Path(path).absolute())
        except Exception as exc:  # whatever it is, the user keeps working and hears why in one line
            self.prompts.critical(
                "Cannot save session",
                f"{one_line(exc)}. The session was not saved; the old file is unchanged.",
            )
            return False
        self._remember(target)
        doc.notify(f"Saved {target.name}")
        return True

    def _remember(self, path: Path) -> None:
        add_recent_file(path)
        QSettings().setValue(LAST_DIR_KEY, str(path.parent))
        self.rebuild_recent_menu()

    def revert(self) -> bool:
        """File ▸ Revert: reload the saved file, dropping every change (after asking)."""
        doc = self.document
        if doc.path is None or self._refuse_while_training("Revert"):
            return False
        if not self.prompts.confirm_revert(doc.path.name):
            return False
        try:
            session = load_session(doc.path)
        except SessionError as exc:
            self.prompts.critical("Cannot revert", str(exc))
            return False
        doc.replace_session(session, doc.path)
        doc.notify(f"Reverted to the saved {doc.path.name}")
        return True

    # ------------------------------------------------------------------ Open Recent and drops

    def rebuild_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()  # deletes the entries (the menu owns them), keeps "Clear menu" (ours)
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
        self.recentChanged.emit()

    def recent_actions(self) -> list[QAction]:
        """The menu's file entries, most recent first."""
        return [a for a in self.recent_menu.actions() if a.data()]

    def open_recent(self, path: str) -> bool:
        if not Path(path).is_file():
            remove_recent_file(path)
            self.rebuild_recent_menu()
            self.prompts.warning(
                "Open recent", f"{path} no longer exists (or is not a file); it was removed from Open Recent."
            )
            return False
        return self.open_path(path)

    def clear_recent_files(self) -> None:
        store_recent([])
        self.rebuild_recent_menu()

    def accepts_drop(self, mime: QMimeData | None, modifiers: Qt.KeyboardModifier = NO_KEYS) -> bool:
        """A drag the window may accept: one local file to open (no run going on), or with Ctrl
        held any local files to compare."""
        if self.runs is not None and modifiers & COMPARE_KEY:
            return bool(dropped_paths(mime))
        return dropped_path(mime) is not None and not self.document.is_training

    def add_run_dialog(self) -> bool:
        """File ▸ Add run to compare…: session files read (on a worker) into the runs list."""
        if self.runs is None:
            return False
        paths = self.prompts.open_files("Add runs to compare", self.start_dir())
        return bool(paths) and self.runs.add_files(paths) is not None

    def drop(self, mime: QMimeData | None, modifiers: Qt.KeyboardModifier = NO_KEYS) -> bool:
        """Files were dropped on the window: with Ctrl held they are compared (read on a worker:
        nothing modal in a drop handler); one file alone is opened once the drop has returned."""
        paths = dropped_paths(mime)
        if self.runs is not None and modifiers & COMPARE_KEY and paths:
            self.runs.add_files(paths)
            return True
        path = dropped_path(mime)
        if not path or self.document.is_training:
            return False
        # Open after the drop returns: a modal prompt in a drop handler blocks the drag source.
        self._dropped = path
        self._drop_timer.start()
        return True

    # ------------------------------------------------------------------ slots

    def _on_app_about_to_quit(self) -> None:
        # Quitting without closing the window: keep the recovery copy if there is something to recover.
        self.shutdown(remove_recovery=not self.document.is_dirty)

    def _on_drop_timer_timeout(self) -> None:
        path, self._dropped = self._dropped, None
        if path and not self._closed:
            self.open_path(path)
