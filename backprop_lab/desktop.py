"""``backprop-lab --install-desktop-entry``: the application menu entry and icon, for this user.

Installs into the XDG data folder (``$XDG_DATA_HOME``, by default ``~/.local/share``):

- ``applications/backprop-lab.desktop``: resources/backprop-lab.desktop with ``Exec`` and
  ``TryExec`` naming the command that is running now, by absolute path, so the menu entry
  starts this installation even when it is not on the desktop session's PATH;
- ``icons/hicolor/scalable/apps/backprop-lab.svg``: the icon, found by the entry's ``Icon=``.

Each file is written atomically; ``--uninstall-desktop-entry`` removes exactly these two.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

from backprop_lab.engine.atomic import atomic_write_bytes, atomic_write_text
from backprop_lab.engine.resources import resource_path

APP_ID = "backprop-lab"
DESKTOP_FILE = f"{APP_ID}.desktop"
ICON_FILE = f"{APP_ID}.svg"

# Characters that make the Desktop Entry spec require a quoted Exec argument.
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def data_home(env: Mapping[str, str]) -> Path:
    """$XDG_DATA_HOME when it is an absolute path (the spec ignores a relative one), else ~/.local/share."""
    value = env.get("XDG_DATA_HOME", "")
    if value and os.path.isabs(value):
        return Path(value)
    return Path(env.get("HOME") or Path.home()) / ".local" / "share"


def targets(env: Mapping[str, str]) -> tuple[Path, Path]:
    """Where the desktop entry and the icon go."""
    base = data_home(env)
    return base / "applications" / DESKTOP_FILE, base / "icons" / "hicolor" / "scalable" / "apps" / ICON_FILE


def running_command(argv0: str | None = None) -> list[str]:
    """The command line that starts this installation: the ``backprop-lab`` script, by absolute path.

    Run as ``python -m backprop_lab`` there is no script: the interpreter and ``-m`` then.
    """
    argv0 = sys.argv[0] if argv0 is None else argv0
    if argv0 and os.path.basename(argv0) == APP_ID and os.path.isfile(argv0):
        return [os.path.abspath(argv0)]
    script = shutil.which(APP_ID, path=os.path.dirname(sys.executable))
    if script:
        return [os.path.abspath(script)]
    return [os.path.abspath(sys.executable), "-m", "backprop_lab"]


def exec_quote(arg: str) -> str:
    """One argument of an Exec line (Desktop Entry spec, "The Exec key")."""
    if arg and not (set(arg) & _RESERVED):
        quoted = arg
    else:
        quoted = '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'
    # The value is also a desktop-file string, where a backslash is written twice; % is a field code.
    return quoted.replace("\\", "\\\\").replace("%", "%%")


def desktop_entry(template: str, command: list[str]) -> str:
    """The template with Exec (the command, then ``%f``) and TryExec pointing at ``command``."""
    lines = []
    for line in template.splitlines():
        if line.startswith("Exec="):
            line = "Exec=" + " ".join(exec_quote(a) for a in command) + " %f"
        elif line.startswith("TryExec="):
            line = "TryExec=" + command[0].replace("\\", "\\\\")
        lines.append(line)
    return "\n".join(lines) + "\n"


def install(env: Mapping[str, str] | None = None, argv0: str | None = None) -> list[Path]:
    """Write the desktop entry and the icon; returns the paths written. Raises OSError (one line)."""
    env = os.environ if env is None else env
    entry_path, icon_path = targets(env)
    template = resource_path(DESKTOP_FILE).read_text(encoding="utf-8")
    icon = resource_path(ICON_FILE).read_bytes()
    for folder in (entry_path.parent, icon_path.parent):
        folder.mkdir(parents=True, exist_ok=True)
    # The icon first: a menu entry whose icon is missing would show a blank square.
    atomic_write_bytes(icon_path, icon)
    atomic_write_text(entry_path, desktop_entry(template, running_command(argv0)))
    return [icon_path, entry_path]


def uninstall(env: Mapping[str, str] | None = None) -> tuple[list[Path], list[Path]]:
    """Remove the two files :func:`install` writes: (removed, absent). Nothing else is touched."""
    removed, absent = [], []
    for path in targets(os.environ if env is None else env):
        try:
            path.unlink()
        except FileNotFoundError:
            absent.append(path)
        else:
            removed.append(path)
    return removed, absent
