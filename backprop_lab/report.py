"""``backprop-lab report [SESSION] -o DIR``: write a session's report folder without a window.

Writes report.html, report.pdf, window.png, plot.png and plot.svg into DIR (atomically; see
:func:`gui.report.export_report`); window.png is a screenshot of a window this command builds
offscreen on the session. Without SESSION it reports the backprop report's worked
example after training it with the report's settings (lr = 0.01, N = 1000, batch size 10), so
the default report retells the whole seed report.

``--activation``, ``--convention`` and ``--target`` report the session as another member of the
family: its weights under that variant, with a new (empty) history, as the window does on such a
change; without SESSION the report example is trained as that member. The session file is never
written.

Runs on a machine with no display: unless QT_QPA_PLATFORM is already set, Qt's ``offscreen``
platform is chosen before the QApplication exists (a report needs no screen, and a window
must not flash up on a desktop either).

Exit status: 0 when the report was written, 2 on unusable input or when it cannot be written
(one line on standard error naming the problem), 130/143 on SIGINT/SIGTERM (one line; a signal
during the export lets it finish, one before it writes nothing).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import Any

from backprop_lab.interrupt import Interrupted, deferred

PROG = "backprop-lab report"

#: The command's description in ``backprop-lab report --help``.
DESCRIPTION = (
    "Write the report of a session (report.html, report.pdf, window.png, plot.png, plot.svg) into "
    "a folder. Needs no display. Exit status: 0 written, 2 unusable input or not writable."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add report's arguments to ``parser`` (backprop_lab.cli builds the sub-command with this)."""
    parser.add_argument(
        "session",
        nargs="?",
        metavar="SESSION",
        help="a session file (.json) (default: the report example, trained with its settings: "
        "lr 0.01, 1000 samples, batch size 10, one epoch)",
    )
    parser.add_argument(
        "-o", "--output", required=True, metavar="DIR", help="the report folder to write (required)"
    )
    parser.add_argument(
        "--no-torch",
        action="store_true",
        help="leave the PyTorch column out of the verification even when PyTorch is installed "
        "(default: off; the column is there when PyTorch is installed)",
    )


def _error(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


def _load(args: argparse.Namespace) -> Any:
    """The session to report, under the options' variant (raises SessionError or ValueError)."""
    from backprop_lab.engine.session import Session, load_session
    from backprop_lab.variant_options import apply_variant_options

    session = Session.report_example() if args.session is None else load_session(args.session)
    model = apply_variant_options(args, session.model)
    if model.variant != session.model.variant:
        # A history belongs to the member it was trained as.
        session.model = model
        session.reset_history()
    if args.session is not None:
        return session
    from backprop_lab.engine.training import train_session

    train_session(session, session.training)  # the report example, trained as `train` trains it
    return session


def _ensure_qt_platform() -> None:
    # Must happen before QApplication exists; an explicit choice (e.g. xcb for debugging) wins.
    if not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"


def window_screenshot(session: Any) -> Any:
    """window.png: a MainWindow showing (a copy of) ``session``, built offscreen and grabbed (a
    QImage). Raises gui.report.ReportError when the window cannot be built."""
    from backprop_lab.gui.report import ReportError, grab_window

    try:
        from backprop_lab.gui.main_window import MainWindow
    except ImportError as exc:
        raise ReportError(
            f"window.png needs the main window (gui.main_window), which cannot be imported: {exc}"
        ) from exc
    window = MainWindow()
    try:
        window.document.replace_session(session.copy(), None)
        window.statusBar().clearMessage()  # the start-up greeting is about the report example
        return grab_window(window).toImage()
    finally:
        # Not close(): closing saves the window geometry into the user's preferences.
        window.hide()
        window.deleteLater()


def export_session_report(session: Any, out: str, *, torch: bool = True) -> Any:
    """The report folder of ``session`` with a screenshot of its own offscreen window: what the
    command writes (returns gui.report.ReportFiles; raises ReportError or OSError)."""
    from backprop_lab.gui.report import export_report

    return export_report(session, out, shot=window_screenshot(session), torch=torch)


def run(args: argparse.Namespace) -> int:
    """Write the report as ``args`` (from :func:`add_arguments`) says; returns the exit status."""
    out = os.path.abspath(os.path.expanduser(args.output))
    if os.path.exists(out) and not os.path.isdir(out):
        return _error(f"{args.output} exists and is not a folder")
    try:
        session = _load(args)
    except ValueError as exc:  # SessionError is a ValueError with a one-line message
        return _error(str(exc))

    _ensure_qt_platform()
    from PySide6.QtWidgets import QApplication

    from backprop_lab.gui.report import ReportError

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "backprop-lab"])
    late: int | None = None
    try:
        # Qt calls back into Python while it renders, and an exception raised there is printed and
        # swallowed, not propagated: a signal during the export is acted on once it is finished.
        with deferred():
            try:
                files = export_session_report(session, out, torch=not args.no_torch)
            finally:
                app.processEvents()
    except Interrupted as exc:
        late = exc.signum
    except (ReportError, OSError) as exc:
        return _error(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    print(f"Wrote {files.folder}: {', '.join(p.name for p in files.all())} ({files.pdf_pages} PDF pages)")
    if late is not None:
        print(
            f"{PROG}: interrupted by {signal.Signals(late).name} while writing the report; it was "
            f"finished first: {files.folder}",
            file=sys.stderr,
        )
        return 128 + late
    return 0
