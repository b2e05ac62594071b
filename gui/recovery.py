"""Crash recovery: a copy of the unsaved session, kept while the window has unsaved changes.

Each window owns one :class:`RecoveryFile` in ``<AppDataLocation>/recovery/`` (on Linux
``~/.local/share/BackpropLab/Backprop Lab/recovery/``), made of three files sharing a random stem:

``<stem>.bpl.json``   the session, written atomically by :func:`engine.session.save_session`;
``<stem>.meta.json``  which file it is a copy of (``{"original": path or null, "written": ISO time}``);
``<stem>.lock``       a ``QLockFile`` held for as long as the window lives.

A clean save, a discard and a normal close remove all three. After a crash they stay behind, and
the lock's owner (process id and host name inside it) is no longer running, so the next start
can take the lock: :func:`find_recoverable` lists exactly those copies, never one that another
running window still owns. A recovery copy that cannot be read is renamed to
``<stem>.bpl.json.corrupt`` (out of the way, kept for a human to look at) instead of failing the start.

Tests point :func:`set_recovery_directory` at a temporary folder.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import os
import uuid
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QLockFile, QStandardPaths
from PySide6.QtWidgets import QMessageBox, QWidget

from backprop_lab.engine.atomic import atomic_write_text
from backprop_lab.engine.session import Session, SessionError, load_session, save_session

SESSION_SUFFIX = ".bpl.json"
META_SUFFIX = ".meta.json"
LOCK_SUFFIX = ".lock"
CORRUPT_SUFFIX = ".corrupt"
#: A meta file is tiny; anything bigger is not ours.
_MAX_META_BYTES = 64 * 1024

_directory_override: Path | None = None


def set_recovery_directory(path: str | os.PathLike[str] | None) -> None:
    """Keep recovery copies in ``path`` instead of the app-data location (None: back to it)."""
    global _directory_override
    _directory_override = Path(path) if path is not None else None


def recovery_directory() -> Path:
    """Where recovery copies live (created when the first copy is written)."""
    if _directory_override is not None:
        return _directory_override
    base = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppDataLocation)
    return Path(base) / "recovery"


def _now() -> str:
    return _dt.datetime.now(_dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _lock(path: Path) -> QLockFile:
    lock = QLockFile(str(path))
    # 0: a lock is stale only when its owner process is gone, never merely because it is old
    # (Qt's default of 30 s would let a second instance steal a long-running window's copy).
    lock.setStaleLockTime(0)
    return lock


class RecoveryFile:
    """The recovery copy of one window's session (see the module docstring).

    :meth:`write` replaces the copy (atomically) and takes the lock on first use; :meth:`remove`
    deletes the copy and releases the lock. Errors are ``OSError``/``SessionError`` from the
    writer; the caller reports them (a failed recovery write must never stop the user working).
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None) -> None:
        self.directory = Path(directory) if directory is not None else recovery_directory()
        stem = f"session-{uuid.uuid4().hex[:12]}"
        self.session_path = self.directory / (stem + SESSION_SUFFIX)
        self.meta_path = self.directory / (stem + META_SUFFIX)
        self.lock_path = self.directory / (stem + LOCK_SUFFIX)
        self._lock: QLockFile | None = None
        self.written = False

    def write(self, session: Session, original: Path | None) -> None:
        """Store a copy of ``session`` (``session`` itself is not stamped) as the copy of ``original``.

        The copy first, then its meta file: a session that cannot be written (text UTF-8 cannot
        hold, a full disk) leaves the previous copy as it was, or, when there was none, nothing
        at all (no meta file, no lock), so no half-made copy is offered after a crash.
        """
        self.directory.mkdir(parents=True, exist_ok=True)
        if self._lock is None:
            lock = _lock(self.lock_path)
            if not lock.tryLock(0):
                raise OSError(f"cannot lock the recovery file {self.lock_path} (error {lock.error().name})")
            self._lock = lock
        try:
            save_session(session.copy(), self.session_path)
        except BaseException:
            if not self.written:
                self.remove()
            raise
        self.written = True
        meta = {"original": str(original) if original else None, "written": _now(), "pid": os.getpid()}
        # ensure_ascii: a path with any character at all (even a lone surrogate) can be written.
        atomic_write_text(self.meta_path, json.dumps(meta) + "\n")

    def remove(self) -> None:
        """Delete the copy and release the lock (a clean save, a discard or a normal close). Never raises."""
        for path in (self.session_path, self.meta_path):
            with contextlib.suppress(OSError):  # absent, or its folder never could be made
                path.unlink()
        self.written = False
        if self._lock is not None:
            self._lock.unlock()  # also deletes the lock file
            self._lock = None

    def abandon(self) -> None:
        """Release the lock but keep the copy: what a crash leaves behind (for tests)."""
        if self._lock is not None:
            self._lock.unlock()
            self._lock = None


@dataclass
class RecoveryEntry:
    """A recovery copy left behind by a window that is gone; holds that copy's lock until done."""

    session_path: Path
    meta_path: Path
    lock_path: Path
    original: Path | None
    written: str  # ISO 8601 UTC, from the meta file or the copy's modification time
    lock: QLockFile

    @property
    def display_name(self) -> str:
        return self.original.name if self.original else "an untitled session"

    def load(self) -> Session:
        """The recovered session; SessionError (one line) when the copy is unreadable."""
        return load_session(self.session_path)

    def discard(self) -> None:
        """Delete the copy (the user does not want it)."""
        for path in (self.session_path, self.meta_path):
            with contextlib.suppress(OSError):
                path.unlink()
        self.release()

    def move_aside(self) -> Path:
        """Rename an unreadable copy to ``….corrupt`` (never offered again) and return the new name."""
        target = self.session_path.with_name(self.session_path.name + CORRUPT_SUFFIX)
        try:
            os.replace(self.session_path, target)
        except OSError:
            # Cannot rename it either: delete it, so it does not come back at every start.
            with contextlib.suppress(OSError):
                self.session_path.unlink()
        with contextlib.suppress(OSError):
            self.meta_path.unlink()
        self.release()
        return target

    def release(self) -> None:
        self.lock.unlock()


def _read_meta(path: Path) -> dict[str, object]:
    try:
        if path.stat().st_size > _MAX_META_BYTES:
            return {}
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}  # no or damaged meta: the copy itself may still be fine
    return meta if isinstance(meta, dict) else {}


def find_recoverable(directory: str | os.PathLike[str] | None = None) -> list[RecoveryEntry]:
    """Recovery copies whose window is gone (crashed), newest first, each with its lock taken.

    Copies still owned by a running window (in this process or another) are skipped. Release
    every entry (``discard``, ``move_aside`` or ``release``) when done with it.
    """
    folder = Path(directory) if directory is not None else recovery_directory()
    try:
        candidates = sorted(folder.glob("*" + SESSION_SUFFIX))
    except OSError:
        return []
    entries: list[RecoveryEntry] = []
    newest_first: list[tuple[int, str]] = []
    for session_path in candidates:
        stem = session_path.name[: -len(SESSION_SUFFIX)]
        lock = _lock(folder / (stem + LOCK_SUFFIX))
        if not lock.tryLock(0):
            continue  # a running window owns it
        try:
            mtime_ns = session_path.stat().st_mtime_ns
        except OSError:
            lock.unlock()
            continue  # vanished meanwhile
        meta_path = folder / (stem + META_SUFFIX)
        meta = _read_meta(meta_path)
        original = meta.get("original")
        written = meta.get("written")
        if not isinstance(written, str):
            stamp = _dt.datetime.fromtimestamp(mtime_ns / 1e9, _dt.UTC).replace(microsecond=0)
            written = stamp.isoformat().replace("+00:00", "Z")
        newest_first.append((-mtime_ns, session_path.name))
        entries.append(
            RecoveryEntry(
                session_path=session_path,
                meta_path=meta_path,
                lock_path=folder / (stem + LOCK_SUFFIX),
                original=Path(original) if isinstance(original, str) and original else None,
                written=written,
                lock=lock,
            )
        )
    order = sorted(range(len(entries)), key=newest_first.__getitem__)
    return [entries[i] for i in order]


def ask_restore(parent: QWidget | None, entry: RecoveryEntry) -> str:
    """Ask whether to restore ``entry``: "restore", "discard" or "later" (Escape: ask next time).

    Tests replace this function.
    """
    box = QMessageBox(parent)
    box.setIcon(QMessageBox.Icon.Question)
    box.setWindowTitle("Restore unsaved changes?")
    box.setText(
        f"Backprop Lab did not close properly. Unsaved changes to {entry.display_name} were kept "
        f"(last copied {entry.written.replace('T', ' ')})."
    )
    box.setInformativeText("Restore them now, or discard them for good?")
    restore = box.addButton("Restore", QMessageBox.ButtonRole.AcceptRole)
    discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
    later = box.addButton("Later", QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(restore)
    box.setEscapeButton(later)
    box.exec()
    clicked = box.clickedButton()
    box.deleteLater()
    if clicked is restore:
        return "restore"
    if clicked is discard:
        return "discard"
    return "later"


__all__ = [
    "RecoveryEntry",
    "RecoveryFile",
    "SessionError",
    "ask_restore",
    "find_recoverable",
    "recovery_directory",
    "set_recovery_directory",
]
