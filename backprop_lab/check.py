"""``backprop-lab check`` (and the ``train`` subcommand's parser): the engine on the command line.

``check [SESSION] [--torch] [--all]`` prints, in the order of the report, x, A, B, C, the
loss and the three gradients at full precision, then the verification table: the analytic
gradients next to central finite differences and, with ``--torch``, next to PyTorch's
float64 autograd. Without SESSION it checks the report's worked example, and compares it
with the numbers the report printed too. SESSION is a session file, read by the same loader
as ``train``, ``report`` and the window (so a plain ``{"model": {"x": [...], "A": [[...]], ...}}``
is accepted as the format's version 0, and whatever they refuse ``check`` refuses with the same
message); an ``"expected"`` object in it (loss, grad_A, grad_B, grad_C) is compared the same way.

Exit status: 0 when every check passes, 1 when one fails, 2 on unusable input (one line on
standard error naming the problem) or when ``--torch`` is asked for without PyTorch.

Nothing here imports Qt; PyTorch is imported only for ``--torch``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TextIO

from backprop_lab.engine import __version__
from backprop_lab.engine.gradcheck import (
    CheckReport,
    EntryCheck,
    compare_entry,
    finite_difference_check,
    make_report,
)
from backprop_lab.engine.model import (
    MATRIX_NAMES,
    Matrix,
    Vector,
    loss_and_grads,
)
from backprop_lab.engine.session import Expected, Session, load_session_with_expected

PROG = "backprop-lab"

#: With more entries than this the table lists the failures and the worst entries only (see --all).
TABLE_ROWS = 75
WORST_ROWS = 10

#: The method name of a comparison with numbers printed in the file (the report's, for its example).
EXPECTED_METHOD = "printed numbers"

Model = tuple[Vector, Matrix, Matrix, Matrix]


# --------------------------------------------------------------------------- reading a model


@dataclass(frozen=True)
class CheckInput:
    """What ``check`` checks: a model and, when the file has them, the numbers it should give.

    ``expected`` holds ``(loss, {"A": dA, "B": dB, "C": dC}, rtol)`` from an ``"expected"``
    object (the report's worked example has one: the numbers the report printed).
    """

    source: str
    model: Model
    expected: tuple[float, dict[str, Matrix], float] | None = None


def _check_input(name: str, loaded: tuple[Session, Expected | None]) -> CheckInput:
    session, expected = loaded
    m = session.model
    numbers = None if expected is None else (expected.loss, expected.grads, expected.rtol)
    return CheckInput(name, (m.x, m.A, m.B, m.C), numbers)


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
    """The report's worked example, with the numbers the report printed."""
    from backprop_lab.engine.resources import report_example_path

    return _check_input("the report's worked example", load_session_with_expected(report_example_path()))


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


def format_vector(v: Sequence[float]) -> str:
    """``[v0, v1, …]`` with every float at full precision (repr), as the report prints them."""
    return "[" + ", ".join(repr(float(e)) for e in v) + "]"


def format_matrix(m: Sequence[Sequence[float]]) -> str:
    """A K×K matrix as a nested list, one row per line, floats at full precision."""
    rows = [format_vector(row) for row in m]
    return "[" + ",\n ".join(rows) + "]"


def _entry_rows(reports: Sequence[CheckReport], show_all: bool) -> tuple[list[int], str]:
    """Which entry indices the table lists, and a note when it leaves some out."""
    n = len(reports[0].entries)
    if show_all or n <= TABLE_ROWS:
        return list(range(n)), ""
    failing = {i for r in reports for i, e in enumerate(r.entries) if not e.passed}
    worst = sorted(range(n), key=lambda i: max(r.entries[i].rel_error for r in reports), reverse=True)
    shown = sorted(failing | set(worst[:WORST_ROWS]))
    note = (
        f"(showing {len(shown)} of {n} entries: the failures and the largest relative errors; "
        "--all lists every one)"
    )
    return shown, note


def _table(reports: Sequence[CheckReport], show_all: bool) -> list[str]:
    """The verification table: analytic next to each reference, side by side."""
    short = {True: "finite differences", False: "PyTorch"}
    heads = ["entry".ljust(8), "analytic".rjust(24)]
    for r in reports:
        heads += [short[r.eps is not None].rjust(24), "abs error".rjust(9), "rel error".rjust(9)]
    heads.append("  ok")
    lines = ["  ".join(heads)]
    rows, note = _entry_rows(reports, show_all)
    for index in rows:
        first: EntryCheck = reports[0].entries[index]
        cells = [first.label.ljust(8), repr(first.analytic).rjust(24)]
        for r in reports:
            e = r.entries[index]
            cells += [repr(e.reference).rjust(24), f"{e.abs_error:9.1e}", f"{e.rel_error:9.1e}"]
        ok = all(r.entries[index].passed for r in reports)
        cells.append("  ok" if ok else "FAIL")
        lines.append("  ".join(cells))
    if note:
        lines.append(note)
    return lines


def _describe(report: CheckReport) -> str:
    if report.method == EXPECTED_METHOD:
        return f"The numbers the report printed: {report.summary()}; tolerance rtol {report.rtol:g}."
    if report.eps is not None:
        return (
            f"Finite differences (central, relative step eps = {report.eps:.3g}): {report.summary()}; "
            f"tolerance rtol {report.rtol:g} + atol {report.atol:g} + the differences' own error bound."
        )
    return (
        f"PyTorch float64 autograd: {report.summary()}; "
        f"tolerance rtol {report.rtol:g} + atol {report.atol:g} + a float64 rounding bound."
    )


def print_check(
    out: TextIO,
    title: str,
    model: Model,
    loss: float,
    grads: dict[str, Matrix],
    reports: Sequence[CheckReport],
    *,
    show_all: bool = False,
) -> None:
    """The check's output: the model, the loss, the gradients, then the verification.

    ``reports``: the finite-difference report first, then optionally PyTorch's (side by side
    in the table) and one against printed numbers (:data:`EXPECTED_METHOD`, summarised).
    """
    x, A, B, C = model
    tables = [r for r in reports if r.method != EXPECTED_METHOD]
    printed = [r for r in reports if r.method == EXPECTED_METHOD]

    def say(*lines: str) -> None:
        print(*lines, sep="\n", file=out)

    say(title, "", "Let,", "", "x =", format_vector(x), "")
    for name, m in zip(MATRIX_NAMES, (A, B, C), strict=True):
        say(f"{name} =", format_matrix(m), "")
    say(f"Loss = {loss!r}", "")
    for r in printed:
        ref = r.reference_loss
        assert ref is not None
        say(f"(the report printed Loss = {ref!r}; relative difference {abs(loss - ref) / abs(ref):.1e})", "")
    say("Resulting gradients are,", "")
    for name in MATRIX_NAMES:
        say(f"{name} =", format_matrix(grads[name]), "")
    for r in tables:
        if r.reference_loss is not None:
            say(f"PyTorch's loss = {r.reference_loss!r}", "")
    methods = " and ".join("finite differences" if r.eps is not None else "PyTorch" for r in tables)
    say(f"Verification against {methods}:", "")
    say(*_table(tables, show_all), "")
    for r in (*tables, *printed):
        say(_describe(r))
        for e in r.failures[:WORST_ROWS]:
            say(f"  {e.label}: {e.analytic!r} vs {e.reference!r} (relative error {e.rel_error:.1e})")
    say("", "check passed" if all(r.passed for r in reports) else "check FAILED")


# --------------------------------------------------------------------------- the commands


def _error(command: str, message: str) -> int:
    print(f"{PROG} {command}: error: {message}", file=sys.stderr)
    return 2


def run_check(args: argparse.Namespace) -> int:
    """``backprop-lab check``: 0 when every check passes, 1 when one fails, 2 on bad input."""
    try:
        source = report_example_input() if args.session is None else load_input(args.session)
        model = source.model
        k = len(model[0])
        title = f"Backprop Lab {__version__}: check of {source.source} (K = {k})"
        if args.torch:
            from backprop_lab.engine.torch_check import TorchUnavailable, torch_check, torch_version

            try:
                title += f", with PyTorch {torch_version()}"
            except TorchUnavailable as exc:
                return _error("check", str(exc))
        loss, grads = loss_and_grads(*model)
        if k > 40:
            # O(K⁴) forward passes: say so rather than sit silent for minutes.
            print(
                f"{PROG} check: {3 * k * k} entries by finite differences; this takes a while",
                file=sys.stderr,
            )
        reports = [finite_difference_check(*model)]
        if args.torch:
            reports.append(torch_check(*model))
        if source.expected is not None:
            reports.append(expected_check(loss, grads, source.expected))
    except ValueError as exc:  # SessionError, NumericalOverflowError
        return _error("check", str(exc))
    print_check(sys.stdout, title, model, loss, grads, reports, show_all=args.all)
    return 0 if all(r.passed for r in reports) else 1


def _add_check_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "session",
        nargs="?",
        metavar="SESSION",
        help='a JSON file with {"model": {"x", "A", "B", "C"}} (a session file); "-" reads standard input; '
        "default: the report's worked example",
    )
    parser.add_argument(
        "--torch",
        action="store_true",
        help="also compare with PyTorch float64 autograd (needs the torch extra)",
    )
    parser.add_argument(
        "--all", action="store_true", help="list every entry in the table, however large K is"
    )
    parser.set_defaults(handler=run_check)


def build_parser() -> argparse.ArgumentParser:
    """The ``backprop-lab`` engine commands: check, and train when backprop_lab.train exists."""
    parser = argparse.ArgumentParser(prog=PROG, description="Backprop Lab on the command line (no window).")
    parser.add_argument("--version", action="version", version=f"{PROG} {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    check = commands.add_parser(
        "check",
        help="print the loss and gradients and verify them",
        description="Print x, A, B, C, the loss and its gradients at full precision, and verify the "
        "gradients against central finite differences (and PyTorch with --torch). "
        "Exit 0 when every check passes, 1 when one fails, 2 on unusable input.",
    )
    _add_check_arguments(check)
    try:
        from backprop_lab import train as cli_train
    except ModuleNotFoundError as exc:
        if exc.name != "backprop_lab.train":
            raise
    else:
        train = commands.add_parser(
            "train",
            help="train the model by mini-batch gradient descent and write the result",
            description="Train a session by mini-batch gradient descent and write the result to OUT. "
            "Exit 0 when trained, 1 when the run diverged (OUT is still written), 2 on unusable input.",
        )
        cli_train.add_arguments(train)
        train.set_defaults(handler=cli_train.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one engine command and return its exit status; ``argv[0]`` is the command (check or train)."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:  # --help, --version, or a usage error (argparse printed it)
        return exc.code if isinstance(exc.code, int) else 2
    try:
        status: int = args.handler(args)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader went away (``| head``): stop quietly, as command-line tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
