"""``backprop-lab export SESSION -o FILE``: a session's numbers for other tools, by FILE's extension.

::

    .csv    the history, one row per step: step,epoch,loss,loss_at_x,grad_norm_A,grad_norm_B,grad_norm_C
    .json   the model (x, A, B, C, variant), its loss and its gradients
    .npz    x, A, B, C, dA, dB, dC, L and the history's columns as NumPy arrays (numpy.load)

Numbers are written in shortest round-trip form, so the float64s read back bit for bit. FILE is
written atomically (a Ctrl+C or a full disk leaves the file that was there) and streamed (a
million-step history never sits in memory as text); SESSION is only read. Engine only: neither Qt
nor NumPy is imported.

Exit status: 0 written; 2 unusable input (SESSION unreadable, FILE's extension unknown, FILE is
SESSION itself) or FILE not writable, nothing written; 130/143 interrupted by SIGINT/SIGTERM,
nothing written.
"""

from __future__ import annotations

import argparse
import os
import sys

from backprop_lab.engine.export import EXPORT_FORMATS, ExportError, export_format, export_session
from backprop_lab.engine.formatting import format_count
from backprop_lab.engine.session import SessionError, load_session

PROG = "backprop-lab export"

#: The command's description in ``backprop-lab export --help``.
DESCRIPTION = (
    "Write SESSION's numbers to FILE, in the format its extension names: .csv the history (one row "
    "per step), .json the model and its gradients, .npz both as NumPy arrays. Exit status: 0 written, "
    "2 unusable input or not writable (nothing written)."
)
EXIT_BAD_INPUT = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add export's arguments to ``parser`` (backprop_lab.cli builds the sub-command with this)."""
    parser.add_argument("session", metavar="SESSION", help="the session file to export (it is only read)")
    kinds = "; ".join(f"{ext}: {what}" for ext, what in EXPORT_FORMATS.items())
    parser.add_argument(
        "-o", "--output", required=True, metavar="FILE", help=f"the file to write, by its extension ({kinds})"
    )


def _error(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def run(args: argparse.Namespace) -> int:
    """Export as ``args`` (from :func:`add_arguments`) says; returns the exit status."""
    out = os.path.expanduser(args.output)
    try:
        ext = export_format(out)
    except ExportError as exc:
        return _error(str(exc))
    if os.path.isdir(out):
        return _error(f"{args.output} is a folder; name the file to write")
    if _same_file(args.session, out):
        return _error(f"{args.output} is the session itself; exporting into it would replace the session")
    try:
        session = load_session(args.session)
    except SessionError as exc:
        return _error(str(exc))
    try:
        export_session(session, out)
    except (ExportError, OSError) as exc:
        return _error(str(exc))
    steps = format_count(len(session.history), "step")
    what = {
        ".csv": f"the history ({steps})",
        ".json": f"the model (K = {session.model.K}) and its gradients",
        ".npz": f"the model (K = {session.model.K}), its gradients and the history ({steps}) as arrays",
    }[ext]
    print(f"Wrote {out}: {what}")
    return 0
