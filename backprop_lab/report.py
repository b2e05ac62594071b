"""``backprop-lab report [SESSION] -o DIR``: write a session's report folder without a window.

Writes report.html, report.pdf, window.png, plot.png and plot.svg into DIR (atomically; see
:func:`gui.report.export_report`). Without SESSION it reports the backprop report's worked
example after training it with the report's settings (lr = 0.01, N = 1000, batch size 10), so
the default report retells the whole seed report.

Runs on a machine with no display: unless QT_QPA_PLATFORM is already set, Qt's ``offscreen``
platform is chosen before the QApplication exists (a report needs no screen, and a window
must not flash up on a desktop either).

Exit status: 0 when the report was written, 2 on unusable input or when it cannot be written
(one line on standard error naming the problem).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

PROG = "backprop-lab report"


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        # argparse would print the usage and the message on two lines and exit; keep it one line.
        raise _UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Write the report of a session (HTML, PDF, the window's screenshot and the curves) "
        "into a folder. Needs no display.",
    )
    parser.add_argument(
        "session",
        nargs="?",
        metavar="SESSION",
        help="a session file (.json); default: the report's worked example, trained with its settings",
    )
    parser.add_argument("-o", "--output", required=True, metavar="DIR", help="the report folder to write")
    parser.add_argument(
        "--no-torch",
        action="store_true",
        help="leave the PyTorch column out of the verification even when PyTorch is installed",
    )
    return parser


def _error(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return 2


def _load(path: str | None) -> Any:
    """The session to report (raises engine.session.SessionError or ValueError)."""
    from backprop_lab.engine.session import Session, load_session

    if path is not None:
        return load_session(path)
    session = Session.report_example()
    trainer = session.make_trainer()
    session.history.extend(trainer.steps())
    session.finish_run(trainer)
    return session


def _ensure_qt_platform() -> None:
    # Must happen before QApplication exists; an explicit choice (e.g. xcb for debugging) wins.
    if not os.environ.get("QT_QPA_PLATFORM"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``backprop-lab report``; ``argv`` excludes the word ``report``. Returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(args_list)
    except _UsageError as exc:
        return _error(f"{exc} (see {PROG} --help)")
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0

    out = os.path.abspath(os.path.expanduser(args.output))
    if os.path.exists(out) and not os.path.isdir(out):
        return _error(f"{args.output} exists and is not a folder")
    try:
        session = _load(args.session)
    except ValueError as exc:  # SessionError is a ValueError with a one-line message
        return _error(str(exc))

    _ensure_qt_platform()
    from PySide6.QtWidgets import QApplication

    from backprop_lab.gui.report import ReportError, export_report

    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "backprop-lab"])
    try:
        files = export_report(session, out, torch=not args.no_torch)
    except (ReportError, OSError) as exc:
        return _error(str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
    finally:
        app.processEvents()
    print(f"wrote {files.folder}: {', '.join(p.name for p in files.all())} ({files.pdf_pages} PDF pages)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
