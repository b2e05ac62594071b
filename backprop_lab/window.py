"""Start the desktop application: ``backprop-lab [SESSION_FILE]``.

Without a file the window opens on the report example. A file that cannot be opened is
reported (one line on stderr and an error dialog) and the window opens on the report example
instead, so the user is never left with nothing.

``BACKPROP_LAB_EXIT_AFTER_SHOW=1`` makes the application quit right after the window is first
shown, printing ``shown after <seconds> s`` (time since this module was imported); the test suite
and the start-up benchmark use it.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the window's modules are imported only when the window opens
    from PySide6.QtWidgets import QApplication

    from backprop_lab.gui.main_window import MainWindow

_IMPORTED = time.perf_counter()

ORGANIZATION = "BackpropLab"
APPLICATION = "Backprop Lab"
EXIT_AFTER_SHOW = "BACKPROP_LAB_EXIT_AFTER_SHOW"
USAGE = "usage: backprop-lab [SESSION] | backprop-lab COMMAND ..."
ICON = "backprop-lab.svg"


def run_app(argv: Sequence[str]) -> int:
    """Open the main window (on ``argv[0]`` if given) and run the event loop; the exit code."""
    args = list(argv)
    code = _check_arguments(args)
    if code is not None:
        return code

    from PySide6.QtWidgets import QApplication

    if QApplication.instance() is None:
        # Qt aborts the process when it finds no display or its xcb plugin cannot load: say why first.
        from backprop_lab.preflight import check_window

        problem = check_window()
        if problem is not None:
            print(problem, file=sys.stderr)
            return 2

    from PySide6.QtCore import QTimer

    app = _application()
    exit_after_show = bool(os.environ.get(EXIT_AFTER_SHOW))
    window = _main_window(args[0] if args else None, exit_after_show)
    window.show()
    if not exit_after_show:  # a session left behind by a crash: offer it (gui.recovery)
        QTimer.singleShot(0, window.files.offer_recovery)
    if exit_after_show:

        def _report_and_quit() -> None:
            print(f"shown after {time.perf_counter() - _IMPORTED:.3f} s", flush=True)
            window.close()
            app.quit()

        QTimer.singleShot(0, _report_and_quit)
    return int(app.exec())


def _check_arguments(args: list[str]) -> int | None:
    """Print the usage for --help (exit code 0) or an error for anything but one SESSION (2)."""
    if args and args[0] in ("-h", "--help"):
        print(USAGE)
        return 0
    if len(args) > 1 or (args and args[0].startswith("-")):
        print(
            f"backprop-lab: error: unexpected arguments {' '.join(args)!r} "
            f"({USAGE}; see backprop-lab --help)",
            file=sys.stderr,
        )
        return 2
    return None


def _application() -> QApplication:
    """The QApplication (the running one, if any), named and given its icon."""
    from PySide6.QtCore import QCoreApplication
    from PySide6.QtGui import QIcon
    from PySide6.QtWidgets import QApplication

    from backprop_lab.engine.resources import resource_path

    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    existing = QApplication.instance()
    app = (
        existing
        if isinstance(existing, QApplication)
        else QApplication([sys.argv[0] if sys.argv else "backprop-lab"])
    )
    QApplication.setApplicationDisplayName(APPLICATION)
    QApplication.setWindowIcon(QIcon(str(resource_path(ICON))))
    # Wayland and the task bar match the window to its .desktop entry by this name.
    QApplication.setDesktopFileName("backprop-lab")
    return app


def _main_window(path: str | None, exit_after_show: bool) -> MainWindow:
    """The window on ``path``; on the report example (and an error dialog) when it cannot be opened."""
    from PySide6.QtCore import QTimer

    from backprop_lab.engine.session import SessionError
    from backprop_lab.gui.main_window import MainWindow

    try:
        return MainWindow(path)
    except (SessionError, OSError, ValueError) as exc:
        problem = str(exc)
    print(
        f"backprop-lab: cannot open {path}: {problem}; showing the report example instead",
        file=sys.stderr,
    )
    window = MainWindow(None)
    if not exit_after_show:
        QTimer.singleShot(0, lambda: window.prompts.critical("Cannot open session", problem))
    return window
