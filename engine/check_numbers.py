"""What the two ways of checking a student's numbers share: ``backprop-lab compare`` and the
window's Verify ▸ Check my numbers… read a file of answers the same way (:func:`read_answers_text`)
and say what :mod:`engine.compare` found in the same words, phrased once here.

Entries are named as ``check`` names them, ``B[2][0]`` (row 2, column 0, counted from 0); numbers
are shown at full precision (:func:`engine.formatting.format_number`), the student's as the float
they printed, so ``2.1648`` reads ``2.1648``.
"""

from __future__ import annotations

import os
from typing import BinaryIO

from backprop_lab.engine.compare import Comparison, Verdict
from backprop_lab.engine.formatting import format_count, format_number

__all__ = [
    "MAX_ANSWERS_BYTES",
    "QUANTITIES",
    "AnswersFileError",
    "disagreeing_text",
    "entry_label",
    "outcome_text",
    "quantity_title",
    "read_answers_text",
    "tolerance_text",
    "verdict_text",
    "worst_text",
]

#: Every quantity a student may give, in the order they are reported.
QUANTITIES = ("loss", "A", "B", "C")

#: At most this many disagreeing entries are named one by one.
NAMED_ENTRIES = 8
#: The most text a file of answers may hold: a K = 100 model printed at full precision is under 1 MiB.
MAX_ANSWERS_BYTES = 8 * 1024 * 1024


class AnswersFileError(ValueError):
    """A file of answers that cannot be read as text; ``str()`` is one line naming it and why."""


def read_answers_text(source: str | os.PathLike[str] | BinaryIO, name: str | None = None) -> str:
    """The text of a file of answers: a path, or an open binary stream (standard input) called
    ``name``. UTF-8 (a byte-order mark is dropped); at most :data:`MAX_ANSWERS_BYTES`, so that a file
    given by mistake is refused before it fills the memory. AnswersFileError (one line) otherwise."""
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        name = name or path
        if os.path.isdir(path):
            raise AnswersFileError(f"{name} is a folder, not a file of answers")
        try:
            with open(path, "rb") as fh:
                data = fh.read(MAX_ANSWERS_BYTES + 1)
        except OSError as exc:
            raise AnswersFileError(f"cannot read {name}: {exc.strerror or exc}") from None
    else:
        name = name or "standard input"
        try:
            data = source.read(MAX_ANSWERS_BYTES + 1)
        except OSError as exc:
            raise AnswersFileError(f"cannot read {name}: {exc.strerror or exc}") from None
    if len(data) > MAX_ANSWERS_BYTES:
        raise AnswersFileError(
            f"{name} holds more than {MAX_ANSWERS_BYTES // 2**20} MiB: not a program's answers"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AnswersFileError(f"{name} is not UTF-8 text (byte {exc.start + 1} cannot be read)") from None


def quantity_title(name: str) -> str:
    """ "Loss" for the loss, "∂L/∂A" for a gradient."""
    return "Loss" if name == "loss" else f"∂L/∂{name}"


def entry_label(name: str, i: int, j: int) -> str:
    """ "B[2][0]": the entry in row 2, column 0 of ∂L/∂B (counted from 0, as check counts)."""
    return f"{name}[{i}][{j}]"


def tolerance_text(rtol: float | None) -> str:
    """How the numbers were judged: by their printed digits, or to ``rtol``."""
    if rtol is None:
        return (
            "Each number is judged to the digits it was printed with: it agrees when it is within one "
            "unit in its last printed digit of the hand-derived value."
        )
    return f"Each number is judged to a relative tolerance of {format_number(rtol, 'short')} (--rtol)."


def verdict_text(v: Verdict) -> str:
    """ "agrees (all 9 entries)", "DISAGREES in 3 of 9 entries", "agrees" for the loss."""
    if v.name == "loss":
        return "agrees" if v.agree else "DISAGREES"
    if v.agree:
        return "agrees (the one entry)" if v.entries == 1 else f"agrees (all {v.entries} entries)"
    return f"DISAGREES in {len(v.disagreeing)} of {format_count(v.entries, 'entry', 'entries')}"


def worst_text(v: Verdict) -> str:
    """The worst entry with both values: "worst entry B[2][0]: given 1.0331, true 0.48731… (relative
    difference 1.1e+00)"; for the loss "given 44.0612, true 44.061213…". The relative difference is
    stated only when the entry disagrees (inside the tolerance it says nothing a student needs)."""
    w = v.worst
    values = f"given {format_number(w.student, 'full')}, true {format_number(w.truth, 'full')}"
    if not v.agree:
        values += f" (relative difference {format_number(w.relative, 'error')})"
    if v.name == "loss":
        return values
    return f"worst entry {entry_label(v.name, w.i, w.j)}: {values}"


def disagreeing_text(v: Verdict, limit: int = NAMED_ENTRIES) -> str:
    """The disagreeing entries by name, the first ``limit`` of them ("" when it agrees or is the loss)."""
    if v.agree or v.name == "loss":
        return ""
    names = [entry_label(v.name, i, j) for i, j in v.disagreeing[:limit]]
    rest = len(v.disagreeing) - len(names)
    return ", ".join(names) + (f" and {rest} more" if rest > 0 else "")


def outcome_text(c: Comparison) -> str:
    """The last line: "everything given agrees" or "∂L/∂B and the loss disagree"."""
    wrong = [quantity_title(v.name) if v.name != "loss" else "the loss" for v in c.verdicts if not v.agree]
    if not wrong:
        return "everything given agrees"
    if len(wrong) == 1:
        return f"{wrong[0]} disagrees"
    return f"{', '.join(wrong[:-1])} and {wrong[-1]} disagree"
