"""``backprop-lab check``: the loss and the gradients at full precision, verified.

``check [SESSION] [--torch] [--all] [--activation A] [--convention C] [--target T]`` prints the
member of the family it checks (the session's, or the one the options ask for), then, in the
order of the report, x, A, B, C (and t), the loss and the three gradients at full precision,
then the verification table: the analytic gradients next to central finite differences and,
with ``--torch``, next to PyTorch's float64 autograd. Without SESSION it checks the report
example, and compares it with the numbers the report printed too. SESSION is a session file,
read by the same loader as ``train``, ``report`` and the window (so a plain
``{"model": {"x": [...], "A": [[...]], ...}}`` is accepted as the format's version 0, and whatever
they refuse ``check`` refuses with the same message); an ``"expected"`` object in it (loss,
grad_A, grad_B, grad_C) is compared the same way, unless the options change the file's member
(the numbers are then another function's).

Exit status: 0 when every check passes, 1 when one fails, 2 on unusable input (one line on
standard error naming the problem) or when ``--torch`` is asked for without PyTorch.

Every line fits :data:`WIDTH` (100) columns (a long file name in the title aside): matrices
wrap, and the table shortens the reference values (never the analytic ones) or puts two
references one after the other.

Nothing here imports Qt; PyTorch is imported only for ``--torch``. The parser is
backprop_lab.cli's (this module adds its arguments).
"""

from __future__ import annotations

import argparse
import os
import sys
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from backprop_lab.engine import __version__
from backprop_lab.engine.formatting import format_count, format_number
from backprop_lab.engine.gradcheck import (
    CheckReport,
    EntryCheck,
    analytic,
    compare_entry,
    finite_difference_check,
    make_report,
)
from backprop_lab.engine.model import MATRIX_NAMES, Matrix, Model
from backprop_lab.engine.session import Expected, Session, load_session_with_expected
from backprop_lab.engine.variant import Variant
from backprop_lab.variant_options import apply_variant_options

PROG = "backprop-lab"

#: The command's description in ``backprop-lab check --help``.
DESCRIPTION = (
    "Print x, A, B, C, the loss and its gradients at full precision, and verify the gradients "
    "against central finite differences (and PyTorch with --torch). "
    "Exit status: 0 every check passes, 1 one fails, 2 unusable input."
)

#: With more entries than this the table lists the failures and the worst entries only (see --all).
TABLE_ROWS = 75
WORST_ROWS = 10

#: The method name of a comparison with numbers printed in the file (the report's, for its example).
EXPECTED_METHOD = "printed numbers"

# --------------------------------------------------------------------------- reading a model


@dataclass(frozen=True)
class CheckInput:
    """What ``check`` checks: a model and, when the file has them, the numbers it should give.

    ``expected`` holds ``(loss, {"A": dA, "B": dB, "C": dC}, rtol)`` from an ``"expected"``
    object (the report example has one: the numbers the report printed).
    """

    source: str
    model: Model
    expected: tuple[float, dict[str, Matrix], float] | None = None


def _check_input(name: str, loaded: tuple[Session, Expected | None]) -> CheckInput:
    session, expected = loaded
    numbers = None if expected is None else (expected.loss, expected.grads, expected.rtol)
    return CheckInput(name, session.model, numbers)


def load_input(path: str | os.PathLike[str]) -> CheckInput:
    """The model (and any expected numbers) of a session file, read by the engine's one loader
    (:func:`engine.session.load_session_with_expected`: the same size guards, validation and
    one-line messages as ``train``, ``report`` and the window). Files without "format" (a bare
    ``{"model": {"x", "A", "B", "C"}}`` or ``{"x", "A", "B", "C"}``) are the format's version 0.
    ``path`` "-" reads standard input. Raises :class:`SessionError` (a ValueError, one line).
    """
    name = os.fspath(path)
    if name == "-":
        return _check_input("-", load_session_with_expected(sys.stdin.buffer, "-"))
    return _check_input(name, load_session_with_expected(name))


def read_model(path: str | os.PathLike[str]) -> Model:
    """x, A, B, C from a session file (see :func:`load_input`)."""
    return load_input(path).model


def report_example_input() -> CheckInput:
    """The report example, with the numbers the report printed."""
    from backprop_lab.engine.resources import report_example_path

    return _check_input("the report example", load_session_with_expected(report_example_path()))


def expected_check(
    loss: float, grads: dict[str, Matrix], expected: tuple[float, dict[str, Matrix], float]
) -> CheckReport:
    """The engine's loss and gradients against printed numbers, to a relative tolerance only."""
    ref_loss, ref_grads, rtol = expected
    k = len(grads["A"])
    entries = [
        compare_entry(m, i, j, grads[m][i][j], ref_grads[m][i][j], rtol, 0.0, 0.0)
        for m in MATRIX_NAMES
        for i in range(k)
        for j in range(k)
    ]
    loss_entry = compare_entry("L", 0, 0, loss, ref_loss, rtol, 0.0, 0.0)
    return make_report(
        EXPECTED_METHOD, entries, rtol, 0.0, loss=loss, reference_loss=ref_loss, loss_passed=loss_entry.passed
    )


# --------------------------------------------------------------------------- printing


#: The widest line ``check`` prints (a terminal's 80 columns would force the table onto two lines).
WIDTH = 100


def _wrap_items(items: Sequence[str], first: str, indent: str, width: int = WIDTH) -> list[str]:
    """``first`` + items joined by ", " and closed with "]", broken into lines of at most ``width``."""
    lines: list[str] = []
    line = first
    for n, item in enumerate(items):
        piece = item + ("]" if n == len(items) - 1 else ",")
        if line not in (first, indent) and len(line) + 1 + len(piece) > width:
            lines.append(line)
            line = indent + piece
        else:
            line += ("" if line in (first, indent) else " ") + piece
    if not items:
        line += "]"
    lines.append(line)
    return lines


def format_vector(v: Sequence[float], *, prefix: str = "[", indent: str = " ") -> str:
    """``[v0, v1, …]`` with every float at full precision (repr), as the report prints them.

    Lines longer than :data:`WIDTH` break after a comma; continuation lines start with ``indent``.
    """
    return "\n".join(_wrap_items([format_number(e, "full") for e in v], prefix, indent))


def format_matrix(m: Sequence[Sequence[float]]) -> str:
    """A K×K matrix as a nested list, one row per line (wrapped at :data:`WIDTH`), at full precision."""
    rows = [format_vector(row, prefix="[[" if i == 0 else " [", indent="  ") for i, row in enumerate(m)]
    if not rows:
        return "[]"
    return ",\n".join(rows) + "]"


def _entry_rows(reports: Sequence[CheckReport], show_all: bool) -> tuple[list[int], str]:
    """Which entry indices the table lists, and a note when it leaves some out."""
    n = len(reports[0].entries)
    if show_all or n <= TABLE_ROWS:
        return list(range(n)), ""
    failing = {i for r in reports for i, e in enumerate(r.entries) if not e.passed}
    worst = sorted(range(n), key=lambda i: max(r.entries[i].rel_error for r in reports), reverse=True)
    shown = sorted(failing | set(worst[:WORST_ROWS]))
    note = (
        f"(showing {len(shown)} of {format_count(n, 'entry', 'entries')}: the failures and the largest "
        "relative errors; "
        "--all: every one)"
    )
    return shown, note


def _reference_name(report: CheckReport) -> str:
    return "finite differences" if report.eps is not None else "PyTorch"


def _layout(reports: Sequence[CheckReport], rows: Sequence[int], digits: int | None, gap: str) -> list[str]:
    """The table's lines: entry, analytic (repr), then per reference its value, abs and rel error, ok.

    ``digits``: significant digits of the reference values (None: full precision); ``gap``: the
    space between one reference's columns and the next.
    """

    def ref(v: float) -> str:
        return format_number(v, "full") if digits is None else format_number(v, "short", digits=digits)

    heads = ["entry", "analytic"]
    body: list[list[str]] = []
    for index in rows:
        first: EntryCheck = reports[0].entries[index]
        cells = [first.label, format_number(first.analytic, "full")]
        for r in reports:
            e = r.entries[index]
            # Errors keep check's own 1-digit scientific form (0.0e+00 for exact agreement, as before).
            cells += [ref(e.reference), f"{e.abs_error:.1e}", f"{e.rel_error:.1e}"]
        cells.append("ok" if all(r.entries[index].passed for r in reports) else "FAIL")
        body.append(cells)
    for r in reports:
        heads += [_reference_name(r), "abs err", "rel err"]
    heads.append("ok")
    table = [heads, *body]
    widths = [max(len(row[c]) for row in table) for c in range(len(heads))]
    lines = []
    for row in table:
        cells = [row[0].ljust(widths[0])] + [
            cell.rjust(w) for cell, w in zip(row[1:], widths[1:], strict=True)
        ]
        # entry  analytic | reference  abs  rel | … | ok: the gap separates the blocks.
        parts = [cells[0] + gap + cells[1]]
        for n in range(len(reports)):
            parts.append(" ".join(cells[2 + 3 * n : 5 + 3 * n]))
        parts.append(cells[-1])
        lines.append(gap.join(parts).rstrip())
    return lines


def _table(reports: Sequence[CheckReport], show_all: bool, width: int = WIDTH) -> list[str]:
    """The verification table: analytic next to each reference, side by side, within ``width`` columns.

    The reference values are shortened (full precision, then 12, 10 and 8 significant digits) until the
    table fits; the analytic value keeps its full precision. When two references still do not fit side
    by side (large K or extreme exponents), each gets its own table.
    """
    rows, note = _entry_rows(reports, show_all)
    for digits in (None, 12, 10, 8):
        for gap in ("   ", "  "):
            lines = _layout(reports, rows, digits, gap)
            if max(len(line) for line in lines) <= width:
                return [*lines, note] if note else lines
    if len(reports) > 1:
        out: list[str] = []
        for r in reports:
            out += [f"{_reference_name(r)}:", *_table([r], show_all, width), ""]
        return out[:-1]
    lines = _layout(reports, rows, 8, " ")
    return [*lines, note] if note else lines


def _describe(report: CheckReport) -> str:
    if report.method == EXPECTED_METHOD:
        text = f"The numbers the report printed: {report.summary()}; tolerance rtol {report.rtol:g}."
    elif report.eps is not None:
        text = (
            f"Finite differences (central, relative step eps = {report.eps:.3g}): {report.summary()}; "
            f"tolerance rtol {report.rtol:g} + atol {report.atol:g} + the differences' own error bound."
        )
    else:
        text = (
            f"PyTorch float64 autograd: {report.summary()}; "
            f"tolerance rtol {report.rtol:g} + atol {report.atol:g} + a float64 rounding bound."
        )
    return textwrap.fill(text, WIDTH, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False)


def describe_variant(variant: Variant) -> list[str]:
    """The lines that say which member of the family is checked: its name, the loss, σ and σ′."""
    sigma = variant.sigma
    layout = f"{variant.convention} vectors: {variant.forward_formula()}; {variant.weight_meaning()}"
    return [
        f"Variant: {variant.describe()}",
        f"  {variant.loss_formula()}, {sigma.formula}, {sigma.derivative_formula}",
        f"  {layout}",
    ]


def print_check(
    out: TextIO,
    title: str,
    model: Model,
    loss: float,
    grads: dict[str, Matrix],
    reports: Sequence[CheckReport],
    *,
    show_all: bool = False,
    notes: Sequence[str] = (),
) -> None:
    """The check's output: the variant, the model, the loss, the gradients, then the verification.

    ``reports``: the finite-difference report first, then optionally PyTorch's (side by side
    in the table) and one against printed numbers (:data:`EXPECTED_METHOD`, summarised).
    """
    tables = [r for r in reports if r.method != EXPECTED_METHOD]
    printed = [r for r in reports if r.method == EXPECTED_METHOD]

    def say(*lines: str) -> None:
        print(*lines, sep="\n", file=out)

    say(title, *describe_variant(model.variant), "", "Let,", "", "x =", format_vector(model.x), "")
    for name in MATRIX_NAMES:
        say(f"{name} =", format_matrix(model.matrix(name)), "")
    if model.variant.target is not None:
        say("t =", format_vector(model.variant.target), "")
    say(f"Loss = {format_number(loss, 'full')}", "")
    for r in printed:
        ref = r.reference_loss
        assert ref is not None
        shown = format_number(ref, "full")
        say(f"(the report printed Loss = {shown}; relative difference {abs(loss - ref) / abs(ref):.1e})", "")
    say("Resulting gradients are,", "")
    for name in MATRIX_NAMES:
        say(f"{name} =", format_matrix(grads[name]), "")
    for r in tables:
        if r.reference_loss is not None:
            say(f"PyTorch's loss = {format_number(r.reference_loss, 'full')}", "")
    methods = " and ".join("finite differences" if r.eps is not None else "PyTorch" for r in tables)
    say(f"Verification against {methods}:", "")
    say(*_table(tables, show_all), "")
    for r in (*tables, *printed):
        say(_describe(r))
        for e in r.failures[:WORST_ROWS]:
            say(
                textwrap.fill(
                    f"  {e.label}: {e.analytic!r} vs {e.reference!r} (relative error {e.rel_error:.1e})",
                    WIDTH,
                    subsequent_indent="    ",
                )
            )
    for note in notes:
        say(textwrap.fill(note, WIDTH, break_long_words=False, break_on_hyphens=False))
    say("", "check passed" if all(r.passed for r in reports) else "check FAILED")


# --------------------------------------------------------------------------- the commands


def _error(command: str, message: str) -> int:
    print(f"{PROG} {command}: error: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    """``backprop-lab check``: 0 when every check passes, 1 when one fails, 2 on bad input."""
    try:
        source = report_example_input() if args.session is None else load_input(args.session)
        model = apply_variant_options(args, source.model)
        k = model.K
        title = f"Backprop Lab {__version__}: check of {source.source} (K = {k})"
        # Numbers printed for one member say nothing about another.
        expected = source.expected if model.variant == source.model.variant else None
        if args.torch:
            from backprop_lab.engine.torch_check import TorchUnavailable, torch_check, torch_version

            try:
                title += f", with PyTorch {torch_version()}"
            except TorchUnavailable as exc:
                return _error("check", str(exc))
        loss, grads = analytic(model)
        if k > 40:
            # O(K⁴) forward passes: say so rather than sit silent for minutes.
            print(
                f"{PROG} check: {3 * k * k} entries by finite differences; this takes a while",
                file=sys.stderr,
            )
        reports = [finite_difference_check(model)]
        if args.torch:
            reports.append(torch_check(model))
        if expected is not None:
            reports.append(expected_check(loss, grads, expected))
    except ValueError as exc:  # SessionError, NumericalOverflowError
        return _error("check", str(exc))
    notes = []
    if expected is None and source.expected is not None:
        notes.append(
            f"The numbers {source.source} gives are for {source.model.variant.describe()}: not compared."
        )
    print_check(sys.stdout, title, model, loss, grads, reports, show_all=args.all, notes=notes)
    return 0 if all(r.passed for r in reports) else 1


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add check's arguments to ``parser`` (backprop_lab.cli builds the sub-command with this)."""
    parser.add_argument(
        "session",
        nargs="?",
        metavar="SESSION",
        help='a JSON file with {"model": {"x", "A", "B", "C"}} (a session file); "-" reads standard input '
        "(default: the report example, also compared with the numbers the report printed)",
    )
    parser.add_argument(
        "--torch",
        action="store_true",
        help="also compare with PyTorch float64 autograd; needs the torch extra (default: off)",
    )
    parser.add_argument(
        "--all",
        action="store_true",
        help=f"list every entry in the table, however large K is (default: off; above {TABLE_ROWS} "
        f"entries the table lists the failures and the {WORST_ROWS} largest relative errors)",
    )
