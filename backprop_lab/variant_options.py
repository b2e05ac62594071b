"""The options that choose the member of the assignment's family, shared by check, train, report and compare.

``--activation``, ``--convention`` and ``--target`` are defined once here; backprop_lab.cli adds
them to each of those commands, and each command applies them to the model it loaded with
:func:`apply_variant_options`. A bad target is one ValueError line naming the entry, or the count
against K; an unknown name is argparse's one-line "invalid choice" listing the valid ones.
"""

from __future__ import annotations

import argparse
import re
from typing import TYPE_CHECKING

from backprop_lab.engine.matrix_text import parse_vector_text
from backprop_lab.engine.variant import ACTIVATIONS, CONVENTIONS, Variant

if TYPE_CHECKING:
    from backprop_lab.engine.model import Model

#: The options' destinations, in the order they are listed.
VARIANT_OPTIONS = ("activation", "convention", "target")


def add_variant_arguments(parser: argparse.ArgumentParser) -> None:
    """``--activation``, ``--convention`` and ``--target``: the same three for every command."""
    group = parser.add_argument_group(
        "the member of the assignment's family",
        "Each overrides the session's own (the report's is sigmoid, row vectors, no target).",
    )
    group.add_argument(
        "--activation",
        choices=list(ACTIVATIONS),
        help="σ of the first branch: "
        + "; ".join(f"{a.name}: {a.formula.removeprefix('σ(a) = ')}" for a in ACTIVATIONS.values()),
    )
    group.add_argument(
        "--convention",
        choices=list(CONVENTIONS),
        help="row: a = xA, w = zC, A[i][j] from input i to unit j (the report's numbers); "
        "column: a = Ax, w = Cz, A[i][j] from input j to unit i (the report's title)",
    )
    group.add_argument(
        "--target",
        metavar="T1,T2,…",
        help="the target t, K numbers separated by commas (e.g. --target -1,0.5,2): L = Σ (w_j − t_j)²; "
        "'none' for no target (L = Σ w_j²)",
    )


def parse_target(text: str, k: int) -> tuple[float, ...] | None:
    """``--target``'s value as K floats (None for "none"); ValueError naming the bad entry or the count.

    The numbers are read as the window's Variant dialog reads them (commas or spaces, brackets
    allowed): :func:`engine.matrix_text.parse_vector_text`.
    """
    if text.strip().lower() == "none":
        return None
    try:
        return parse_vector_text(text, k)
    except ValueError as exc:
        raise ValueError(f"--target: {exc}") from None


def apply_variant_options(args: argparse.Namespace, model: Model) -> Model:
    """``model`` under the member the options ask for: each option given replaces that part of the
    model's own variant (``model`` itself when none is given). ValueError (one line) for a bad target."""
    activation, convention, target = (getattr(args, name, None) for name in VARIANT_OPTIONS)
    if activation is None and convention is None and target is None:
        return model
    old = model.variant
    variant = Variant(
        old.activation if activation is None else activation,
        old.convention if convention is None else convention,
        old.target if target is None else parse_target(target, model.K),
    )
    return model if variant == old else model.with_variant(variant)


def glue_option_values(args: list[str]) -> list[str]:
    """``--target -1,2`` as ``--target=-1,2``: argparse takes a value that starts with "-" and is not
    a plain number for an option, and would refuse the list as a missing argument."""
    glued: list[str] = []
    pending = False
    for arg in args:
        if pending and re.match(r"-(\.?\d|inf|nan)", arg, re.IGNORECASE):
            glued[-1] += "=" + arg
        else:
            glued.append(arg)
        pending = arg == "--target"
    return glued
