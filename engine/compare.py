"""A student's numbers against the hand-derived ones, entry by entry, with a diagnosis.

``compare_answers(model, answers, rtol=None) -> Comparison``: each given entry (the loss, ∂L/∂A,
∂L/∂B, ∂L/∂C) is compared with the hand-derived value for the model in its variant
(:func:`engine.model.model_loss_and_grads`), and a disagreeing matrix is diagnosed against
:mod:`engine.mistakes`' catalogue, to the same tolerances.

**Tolerances.** Every entry has a *magnitude* m: the same chain rule computed on absolute values
(|x|, |A|, |σ′| bounded by 1, …; :func:`magnitudes`), so that m ≥ |truth| and m is the size of the
terms the entry sums. Rounding in a program that computes the entry is a few units of its
precision times m, whatever cancellation makes of the entry itself (a gradient that sums to
almost 0, a saturated σ′ that float32 rounds to 0 where float64 keeps 1e-13).

* A printed number (``2.1648``) agrees with anything that rounds or truncates to it: within one
  unit in its last printed digit (1e-4), but never closer than :data:`PRINTED_FLOOR` · m, so that
  a float32 program printed with all its digits is not failed for float32's last ones.
* A number with no printed digits (a program's, ``grade``) agrees within :data:`PROGRAM_RTOL` · m.
  float32 (PyTorch's and many NumPy programs' precision) computes every entry to within about
  1e-7 · m; 1e-5 leaves a margin of a hundred, and every mistake of the catalogue moves the entries
  it changes by a sizeable fraction of m (docs/math.md, "Checking a student's numbers").
* ``rtol`` overrides both: every entry within ``rtol`` · m.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from backprop_lab.engine.answers import GRADIENT_NAMES, Answers, PrintedNumber
from backprop_lab.engine.mistakes import Diagnosis, diagnose
from backprop_lab.engine.model import Matrix, Model, Vector, forward, model_loss_and_grads, transpose
from backprop_lab.engine.variant import Variant

__all__ = [
    "PRINTED_FLOOR",
    "PROGRAM_RTOL",
    "Comparison",
    "Difference",
    "Verdict",
    "compare_answers",
    "magnitudes",
]

#: A printed number is never judged more finely than this, relative to its entry's magnitude.
PRINTED_FLOOR = 1e-6
#: A number with no printed digits (a program's) agrees within this, relative to its magnitude.
PROGRAM_RTOL = 1e-5


@dataclass(frozen=True)
class Difference:
    """One entry: where (``i``, ``j``; 0, 0 for the loss), the student's value, the true one, and
    their difference relative to the truth (``inf`` when the truth is 0 and they differ)."""

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


# --------------------------------------------------------------------------- magnitudes


def magnitudes(model: Model) -> tuple[float, dict[str, Matrix]]:
    """The magnitude of the loss and of every gradient entry: the forward and backward passes on
    absolute values, in the row form (the column member is the row member on the transposed
    weights, its gradients transposed)::

        Y_j = |y_j| + |σ′(a_j)| · Σ_i |x_i||A_ij|     (y's own size and what an error in a makes of it)
        Z_i = Y_i + Σ_s |x_s||B_si|
        W_j = Σ_i Z_i |C_ij|,   D_j = 2 (W_j + |t_j|),   G_i = Σ_j |C_ij| D_j
        m(L) = Σ_j (W_j + |t_j|)²,  m(A_ij) = m(B_ij) = |x_i| G_j,  m(C_ij) = Z_i D_j

    σ′ is bounded by 1 for every activation of the family, so m(A_ij) uses 1 in its place: a
    program's σ′ is off by a rounding error even where the true σ′ is 0 to every digit.
    """
    v = model.variant
    row = Variant(v.activation, "row", v.target)
    if v.row:
        A, B, C = model.A, model.B, model.C
    else:
        A, B, C = transpose(model.A), transpose(model.B), transpose(model.C)
    values = forward(model.x, A, B, C, row)
    X = [abs(xi) for xi in model.x]
    t = [abs(tj) for tj in v.target_or_zero(len(X))]
    sigma_prime = v.sigma.derivative
    Y = [
        abs(yj) + abs(sigma_prime(aj)) * s
        for yj, aj, s in zip(values["y"], values["a"], _abs_product(X, A), strict=True)
    ]
    Z = [yj + uj for yj, uj in zip(Y, _abs_product(X, B), strict=True)]
    W = [wj + tj for wj, tj in zip(_abs_product(Z, C), t, strict=True)]
    D = [2.0 * wj for wj in W]
    G = [sum(abs(c) * dj for c, dj in zip(row_c, D, strict=True)) for row_c in C]
    mA = [[xi * gj for gj in G] for xi in X]
    mC = [[zi * dj for dj in D] for zi in Z]
    grads = {"A": mA, "B": mA, "C": mC}
    if not v.row:
        grads = {name: transpose(m) for name, m in grads.items()}
    return sum(wj * wj for wj in W), grads


def _abs_product(v: Vector, m: Matrix) -> Vector:
    """(|v| |m|)_j = Σ_i |v_i| |m_ij| for a non-negative v."""
    return [sum(vi * abs(mij) for vi, mij in zip(v, col, strict=True)) for col in zip(*m, strict=True)]


# --------------------------------------------------------------------------- comparing


def _tolerance(number: PrintedNumber, magnitude: float, rtol: float | None) -> float:
    if rtol is not None:
        return rtol * magnitude
    if number.unit is None:
        return PROGRAM_RTOL * magnitude
    return max(number.unit, PRINTED_FLOOR * magnitude)


def _excess(student: float, truth: float, tol: float) -> float:
    """|student − truth| in units of tol (inf for a non-finite student value or a zero tol)."""
    diff = abs(student - truth)
    if not math.isfinite(diff):
        return math.inf
    if diff == 0.0:
        return 0.0
    return diff / tol if tol > 0.0 else math.inf


def _relative(student: float, truth: float) -> float:
    diff = abs(student - truth)
    if truth == 0.0:
        return 0.0 if diff == 0.0 else math.inf
    return diff / abs(truth)


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
        Difference(wi, wj, s, t, _relative(s, t)),
    )


def _check_shape(name: str, rows: Sequence[Sequence[PrintedNumber]], k: int) -> None:
    shape = (len(rows), len(rows[0]) if rows else 0)
    if shape != (k, k) or any(len(row) != k for row in rows):
        raise ValueError(f"∂L/∂{name} is {shape[0]}×{shape[1]}; the model is {k}×{k}")


def compare_answers(model: Model, answers: Answers, rtol: float | None = None) -> Comparison:
    """The comparison of ``answers`` with the model's hand-derived loss and gradients.

    Verdicts come in the order loss, A, B, C, for the quantities given; a disagreeing gradient
    carries its :class:`Diagnosis`. ``rtol`` (≥ 0) replaces the printed digits' tolerances (see the
    module docstring). ValueError for a bad ``rtol`` or a gradient that is not K×K;
    :class:`engine.model.NumericalOverflowError` when the model's own loss overflows.
    """
    if rtol is not None and (
        isinstance(rtol, bool) or not isinstance(rtol, (int, float)) or not rtol >= 0 or math.isinf(rtol)
    ):
        raise ValueError(f"rtol must be a finite number ≥ 0 (got {rtol!r})")
    loss, truth = model_loss_and_grads(model)
    loss_magnitude, grad_magnitudes = magnitudes(model)
    verdicts: list[Verdict] = []
    if answers.loss is not None:
        tol = _tolerance(answers.loss, loss_magnitude, rtol)
        verdicts.append(_judge("loss", [[answers.loss]], [[loss]], [[tol]]))
    given: dict[str, Matrix] = {}
    tolerances: dict[str, Matrix] = {}
    for name in GRADIENT_NAMES:
        printed = answers.grads.get(name)
        if printed is None:
            continue
        _check_shape(name, printed.rows, model.K)
        given[name] = printed.values
        tolerances[name] = [
            [_tolerance(n, m, rtol) for n, m in zip(row, mrow, strict=True)]
            for row, mrow in zip(printed.rows, grad_magnitudes[name], strict=True)
        ]
        verdicts.append(_judge(name, printed.rows, truth[name], tolerances[name]))
    diagnosed = [
        v
        if v.agree or v.name == "loss"
        else replace(v, diagnosis=diagnose(model, v.name, given, tolerances, truth))
        for v in verdicts
    ]
    return Comparison(tuple(diagnosed))
