"""File ▸ Open Recent's list: absolute paths, most recent first, kept in QSettings (not in sessions)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings

#: Entries kept in File ▸ Open Recent.
MAX_RECENT = 8
RECENT_KEY = "session/recentFiles"


def recent_files() -> list[str]:
    """File ▸ Open Recent, most recent first (absolute paths, from QSettings)."""
    value = QSettings().value(RECENT_KEY)
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)  # an INI file returns one item as str
    return [str(v) for v in items if v][:MAX_RECENT]


def store_recent(paths: list[str]) -> None:
    QSettings().setValue(RECENT_KEY, paths[:MAX_RECENT])


def add_recent_file(path: str | Path) -> None:
    p = str(Path(path).absolute())
    store_recent([p, *[r for r in recent_files() if r != p]])


def remove_recent_file(path: str | Path) -> None:
    p = str(path)
    store_recent([r for r in recent_files() if r != p])
