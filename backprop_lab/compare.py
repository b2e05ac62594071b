"""``backprop-lab compare``: a student's own numbers against the hand-derived ones.

``compare [SESSION] ANSWERS [--rtol R] [--activation A] [--convention C] [--target T]`` reads
ANSWERS (a file, or "-" for standard input: whatever the student's program printed, in any form
:func:`engine.answers.parse_answers` reads) and compares each number with the loss and gradients
of SESSION's model (default: the report example) in its member of the family, or the one the
options ask for. It prints, per quantity given (loss, ∂L/∂A, ∂L/∂B, ∂L/∂C), whether it agrees, over
how many entries, the worst entry with both values, and for a disagreeing gradient the mistake
that reproduces it (its catalogue id, one sentence, the correct line of the chain rule). The words
are :mod:`engine.check_numbers`'s, which the window's Check my numbers… shows too.

Each number is judged to the digits it was printed with; ``--rtol R`` judges every one to the
relative tolerance R instead.

Exit status: 0 when everything given agrees, 1 when something disagrees, 2 on unusable input (one
line on standard error: a session the loader refuses, an unreadable ANSWERS file, or the line of
ANSWERS that could not be read and what was expected there).

Nothing here imports Qt. The parser is backprop_lab.cli's (this module adds its arguments).
"""

from __future__ import annotations

import argparse
import math
import sys
import textwrap
from typing import TextIO

from backprop_lab.check import describe_variant, load_input, report_example_input
from backprop_lab.engine import __version__
from backprop_lab.engine.answers import parse_answers
from backprop_lab.engine.check_numbers import (
    QUANTITIES,
    disagreeing_text,
    outcome_text,
    quantity_title,
    read_answers_text,
    tolerance_text,
    verdict_text,
    worst_text,
)
from backprop_lab.engine.compare import Comparison, compare_answers
from backprop_lab.engine.model import Model
from backprop_lab.variant_options import apply_variant_options

PROG = "backprop-lab"

#: The command's description in ``backprop-lab compare --help``.
DESCRIPTION = (
    "Compare what a student's program printed (ANSWERS: the loss and any of ∂L/∂A, ∂L/∂B, ∂L/∂C) "
    "with the hand-derived numbers of SESSION's model, each judged to the digits printed; name "
    "the mistake behind a disagreeing gradient. "
    "Exit status: 0 everything given agrees, 1 something disagrees, 2 unusable input."
)
#: Every line fits this many columns (a long file name in the title aside), as check's do.
WIDTH = 100
STDIN_NAME = "standard input"


def _rtol(text: str) -> float:
    """``--rtol``'s value: a number between 0 and 1 (1 or more would call a sign error agreement)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and 0 < value < 1):
        raise argparse.ArgumentTypeError(f"{text!r} is not between 0 and 1 (e.g. 1e-3)")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add compare's arguments to ``parser`` (backprop_lab.cli builds the sub-command with this)."""
    parser.add_argument(
        "session",
        nargs="?",
        metavar="SESSION",
        help="the session file whose model the answers are for; '-' reads standard input "
        "(default: the report example)",
    )
    parser.add_argument(
        "answers",
        metavar="ANSWERS",
        help="a text file with what the student's program printed (the report's 'A =' and nested "
        "lists, PyTorch's tensor([[…]]), NumPy's array([[…]]), plain or CSV rows; any of the loss, "
        "∂L/∂A, ∂L/∂B, ∂L/∂C); '-' reads standard input",
    )
    parser.add_argument(
        "--rtol",
        type=_rtol,
        metavar="R",
        help="judge every number to the relative tolerance R, between 0 and 1 (default: each number "
        "to the digits it was printed with, one unit in its last digit)",
    )


# --------------------------------------------------------------------------- reading


def _model_and_source(args: argparse.Namespace) -> tuple[Model, str]:
    """The session's model under the variant options, and how the title names it."""
    source = report_example_input() if args.session is None else load_input(args.session)
    name = STDIN_NAME if source.source == "-" else source.source
    return apply_variant_options(args, source.model), name


# --------------------------------------------------------------------------- printing


def comparison_lines(comparison: Comparison, rtol: float | None = None, width: int = WIDTH) -> list[str]:
    """The comparison as lines of text: the tolerance, then per quantity (loss, ∂L/∂A, ∂L/∂B, ∂L/∂C)
    its verdict, the worst entry and, for a disagreeing gradient, its diagnosis; then the outcome."""

    def fill(text: str, indent: str) -> list[str]:
        return textwrap.wrap(
            text,
            width,
            initial_indent=indent,
            subsequent_indent=indent + "  ",
            break_long_words=False,
            break_on_hyphens=False,
        )

    lines = [*fill(tolerance_text(rtol), ""), ""]
    for name in QUANTITIES:
        v = comparison.verdict(name)
        title = quantity_title(name)
        if v is None:
            lines.append(f"{title}: not given")
            continue
        lines += fill(f"{title}: {verdict_text(v)}", "")
        lines += fill(worst_text(v), "  ")
        if (named := disagreeing_text(v)) and len(v.disagreeing) > 1:
            lines += fill(f"disagreeing: {named}", "  ")
        if v.diagnosis is not None:
            d = v.diagnosis
            lines += fill(f"diagnosis: {d.id}. {d.sentence}", "  ")
            lines += fill(f"correct: {d.correct}", "  ")
    outcome = outcome_text(comparison)
    lines += ["", f"compare: {outcome}"]
    return lines


def describe_title(model: Model, answers: str, source: str) -> list[str]:
    """The heading: what was compared with what, and the member of the family it was judged in."""
    return [
        f"Backprop Lab {__version__}: compare of {answers} with {source} (K = {model.K})",
        *describe_variant(model.variant),
    ]


def print_comparison(
    out: TextIO, model: Model, comparison: Comparison, *, answers: str, source: str, rtol: float | None
) -> None:
    """The command's output (see the module docstring)."""
    lines = [*describe_title(model, answers, source), ""]
    print(*lines, *comparison_lines(comparison, rtol), sep="\n", file=out)


# --------------------------------------------------------------------------- the command


def _error(message: str) -> int:
    print(f"{PROG} compare: error: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    """``backprop-lab compare``: 0 everything agrees, 1 something disagrees, 2 unusable input."""
    if args.session == "-" and args.answers == "-":
        return _error("SESSION and ANSWERS cannot both be standard input ('-')")
    answers_name = STDIN_NAME if args.answers == "-" else args.answers
    try:
        text = read_answers_text(sys.stdin.buffer if args.answers == "-" else args.answers, answers_name)
        model, source = _model_and_source(args)
        try:
            answers = parse_answers(text, model.K)
        except ValueError as exc:  # AnswersError: "line N: expected …"
            raise ValueError(f"{answers_name}: {exc}") from None
        comparison = compare_answers(model, answers, args.rtol)
    except ValueError as exc:  # AnswersFileError, AnswersError, SessionError, NumericalOverflowError
        return _error(str(exc))
    print_comparison(sys.stdout, model, comparison, answers=answers_name, source=source, rtol=args.rtol)
    return 0 if comparison.agree else 1
