"""A student's numbers against the hand-derived ones, entry by entry, with a diagnosis.

``compare_answers(model, answers, rtol=None) -> Comparison``: each given entry (the loss, ∂L/∂A,
∂L/∂B, ∂L/∂C) is compared with the hand-derived value for the model in its variant
(:func:`engine.model.model_loss_and_grads`), and a disagreeing matrix is diagnosed against
:mod:`engine.mistakes`' catalogue, to the same tolerances.

**Tolerances.** Every entry has a *scale* m: its rounding scale
(:func:`engine.rounding.rounding_scales`), the forward and backward passes evaluated on absolute
values, so that m ≥ |truth| and m is the size of the terms the entry sums. Rounding in a program
that computes the entry is a few units of its precision times m, whatever cancellation makes of
the entry itself (a gradient that sums to almost 0, a saturated σ′ that float32 rounds to 0 where
float64 keeps 1e-13).

* A printed number (``2.1648``) agrees with anything that rounds or truncates to it: within one
  unit in its last printed digit (1e-4), but never closer than :data:`PRINTED_FLOOR` · m, so that
  a float32 program printed with all its digits is not failed for float32's last ones.
* A number with no printed digits (a program's, ``grade``) agrees within :func:`program_rtol` · m
  (1e-5 for K ≤ 16). float32, PyTorch's and many NumPy programs' precision, was measured within
  3.1e-7 · m of the truth on 3,000 random models of every variant, saturating ones among them;
  every mistake of the catalogue that changes the numbers at all moves some entry by several
  percent of m on the report's example (docs/math.md, "Checking a student's numbers").
* ``rtol`` overrides both: every entry within ``rtol`` · m.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from backprop_lab.engine.answers import GRADIENT_NAMES, Answers, PrintedNumber
from backprop_lab.engine.mistakes import Diagnosis, diagnose
from backprop_lab.engine.model import Matrix, Model, model_loss_and_grads
from backprop_lab.engine.rounding import rounding_scales

__all__ = [
    "PRINTED_FLOOR",
    "PROGRAM_RTOL",
    "Comparison",
    "Difference",
    "Verdict",
    "compare_answers",
    "program_rtol",
    "tolerances",
]

#: A printed number is never judged more finely than this, relative to its entry's scale.
PRINTED_FLOOR = 1e-6
#: A number with no printed digits (a program's) agrees within this, relative to its scale
#: (more for K > 16: see :func:`program_rtol`).
PROGRAM_RTOL = 1e-5
#: float32's machine epsilon, 2⁻²³: PyTorch's default precision.
FLOAT32_EPS = 2.0**-23


def program_rtol(k: int) -> float:
    """The relative tolerance of a program's numbers for a K×K model: :data:`PROGRAM_RTOL`, or
    float32's worst-case bound on a chain of sums of K terms, (4K + 16)·ε₃₂, when that is larger."""
    return max(PROGRAM_RTOL, (4 * k + 16) * FLOAT32_EPS)


@dataclass(frozen=True)
class Difference:
    """One entry: where (``i``, ``j``; 0, 0 for the loss), the student's value, the true one, and
    their difference relative to the largest true entry of that quantity (the matrix's, or the
    loss itself), so that an entry whose σ′ saturated to 10⁻⁴⁶ does not show a relative error of
    10⁴⁵ (``inf`` only when every true entry is 0 and they differ)."""

    i: int
    j: int
    student: float
    truth: float
    relative: float


@dataclass(frozen=True)
class Verdict:
    """One quantity ("loss", "A", "B" or "C"): whether it agrees, how many entries were compared,
    which disagree, the worst entry (largest difference in units of its tolerance), and for a
    disagreeing gradient the diagnosis."""

    name: str
    agree: bool
    entries: int
    disagreeing: tuple[tuple[int, int], ...]
    worst: Difference
    diagnosis: Diagnosis | None = None


@dataclass(frozen=True)
class Comparison:
    """Every verdict, in the order loss, A, B, C (those the student gave)."""

    verdicts: tuple[Verdict, ...]

    @property
    def agree(self) -> bool:
        return all(v.agree for v in self.verdicts)

    def verdict(self, name: str) -> Verdict | None:
        return next((v for v in self.verdicts if v.name == name), None)

    @property
    def worst_cell(self) -> tuple[str, int, int] | None:
        """The disagreeing gradient entry to open first (the chain-rule panel): the worst entry of
        the first disagreeing matrix, or None when every gradient agrees."""
        for v in self.verdicts:
            if v.name != "loss" and not v.agree:
                return (v.name, v.worst.i, v.worst.j)
        return None


# --------------------------------------------------------------------------- comparing


def _tolerance(number: PrintedNumber, scale: float, rtol: float | None, k: int) -> float:
    if rtol is not None:
        return rtol * scale
    if number.unit is None:
        return program_rtol(k) * scale
    return max(number.unit, PRINTED_FLOOR * scale)


def _excess(student: float, truth: float, tol: float) -> float:
    """|student − truth| in units of tol (inf for a non-finite student value or a zero tol)."""
    diff = abs(student - truth)
    if not math.isfinite(diff):
        return math.inf
    if diff == 0.0:
        return 0.0
    return diff / tol if tol > 0.0 else math.inf


def _relative(student: float, truth: float, scale: float) -> float:
    diff = abs(student - truth)
    if not math.isfinite(diff):
        return math.inf
    if scale == 0.0:
        return 0.0 if diff == 0.0 else math.inf
    return diff / scale


def _judge(
    name: str,
    numbers: Sequence[Sequence[PrintedNumber]],
    truth: Matrix,
    tolerance: Matrix,
) -> Verdict:
    """The verdict on one quantity, every entry judged within its tolerance."""
    disagreeing: list[tuple[int, int]] = []
    worst: tuple[float, int, int] = (-1.0, 0, 0)
    for i, row in enumerate(numbers):
        for j, n in enumerate(row):
            excess = _excess(n.value, truth[i][j], tolerance[i][j])
            if excess > 1.0:
                disagreeing.append((i, j))
            if excess > worst[0]:
                worst = (excess, i, j)
    _, wi, wj = worst
    s, t = numbers[wi][wj].value, truth[wi][wj]
    return Verdict(
        name,
        not disagreeing,
        sum(len(row) for row in numbers),
        tuple(disagreeing),
        Difference(wi, wj, s, t, _relative(s, t, max(abs(v) for row in truth for v in row))),
    )


def _check_shape(name: str, rows: Sequence[Sequence[PrintedNumber]], k: int) -> None:
    shape = (len(rows), len(rows[0]) if rows else 0)
    if shape != (k, k) or any(len(row) != k for row in rows):
        raise ValueError(f"∂L/∂{name} is {shape[0]}×{shape[1]}; the model is {k}×{k}")


def tolerances(
    model: Model, answers: Answers, rtol: float | None = None
) -> tuple[float | None, dict[str, Matrix]]:
    """Each given number's tolerance: the loss's (None when not given) and, by name, every given
    gradient's K×K (see the module docstring). ValueError for a bad ``rtol`` or a gradient that is
    not K×K."""
    if rtol is not None and (
        isinstance(rtol, bool) or not isinstance(rtol, (int, float)) or not 0.0 <= rtol < math.inf
    ):
        raise ValueError(f"rtol must be a finite number ≥ 0 (got {rtol!r})")
    scales = rounding_scales(model)
    loss = None if answers.loss is None else _tolerance(answers.loss, scales.loss, rtol, model.K)
    grads: dict[str, Matrix] = {}
    for name in GRADIENT_NAMES:
        printed = answers.grads.get(name)
        if printed is None:
            continue
        _check_shape(name, printed.rows, model.K)
        grads[name] = [
            [_tolerance(n, m, rtol, model.K) for n, m in zip(row, mrow, strict=True)]
            for row, mrow in zip(printed.rows, scales.grads[name], strict=True)
        ]
    return loss, grads


def compare_answers(model: Model, answers: Answers, rtol: float | None = None) -> Comparison:
    """The comparison of ``answers`` with the model's hand-derived loss and gradients.

    Verdicts come in the order loss, A, B, C, for the quantities given; a disagreeing gradient
    carries its :class:`Diagnosis`. ``rtol`` (≥ 0) replaces the printed digits' tolerances (see the
    module docstring). ValueError for a bad ``rtol`` or a gradient that is not K×K;
    :class:`engine.model.NumericalOverflowError` when the model's own loss overflows.
    """
    loss_tol, grad_tols = tolerances(model, answers, rtol)
    loss, truth = model_loss_and_grads(model)
    verdicts: list[Verdict] = []
    if answers.loss is not None and loss_tol is not None:
        verdicts.append(_judge("loss", [[answers.loss]], [[loss]], [[loss_tol]]))
    given = {name: answers.grads[name].values for name in grad_tols}
    for name, tol in grad_tols.items():
        verdicts.append(_judge(name, answers.grads[name].rows, truth[name], tol))
    diagnosed = [
        v
        if v.agree or v.name == "loss"
        else replace(v, diagnosis=diagnose(model, v.name, given, grad_tols, truth))
        for v in verdicts
    ]
    return Comparison(tuple(diagnosed))
