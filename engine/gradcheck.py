"""The hand-derived gradients against central finite differences of the loss.

The check perturbs one weight θ (an entry of A, B or C) at a time and compares the
analytic ∂L/∂θ from :func:`engine.model.model_loss_and_grads` (forward and backward) with the
central difference

    D(h) = (L(θ + h) − L(θ − h)) / 2h

computed through the model's own forward pass, both in the model's variant (its activation,
vector convention and target; :mod:`engine.variant`). The result is a :class:`CheckReport`
holding one :class:`EntryCheck` per entry (3·K² of them); :mod:`engine.torch_check`
produces the same kind of report against PyTorch's autograd.

**The step.** D(h) has two errors: truncation, about h²·|L'''|/6, which shrinks with h,
and rounding, about u·|L|/h (u = 2⁻⁵² ≈ 2.2e-16, the float64 machine epsilon), which
grows as h shrinks. Their sum is smallest for h ∝ ∛u, so the step is

    h = eps · max(1, |θ|)      with  eps = DEFAULT_EPS = ∛u ≈ 6.06e-6,

scaled by |θ| so that θ ± h differ from θ in the same leading digits whatever θ's size
(a fixed 1e-6 would be below θ's last bit for θ ≈ 1e11). Both errors are then about
u^(2/3) ≈ 4e-11 relative. The quotient divides by the difference of the two points as
actually rounded, (θ + h) − (θ − h), not by the intended 2h.

**The tolerance.** An entry passes when

    |analytic − reference| ≤ atol + rtol · max(|analytic|, |reference|) + allowance

with ``rtol = DEFAULT_RTOL = 1e-6`` (well above the ~1e-10 a correct gradient reaches, far
below the O(1) error of a wrong formula) and ``atol = DEFAULT_ATOL = 0`` (the problem has
no natural absolute scale). ``allowance`` is the reference's own error bound, computed
per entry from the data, so that no correct gradient can fail for want of digits:

* rounding: each loss is computed to within γ·L̃, where L̃ is the loss evaluated on
  absolute values at θ ± h (see :func:`rounding_scales`) and γ = (4K + 16)·u a
  forward-error bound for sums of K terms; the quotient inherits γ·L̃/h;
* truncation: |D(h) − D(2h)|, about three times D(h)'s truncation error;
* the analytic value's own rounding, γ times its scale;
* a kink of σ within reach of the steps (relu′ jumps at 0, softplus at 20): there the
  difference mixes the slopes on both sides, and the entry is allowed that jump
  (:meth:`RoundingScales.kink_allowance`) and reported among the unresolved ones.

Where the allowance dominates (saturated units of a model with entries in the
thousands, say), finite differences cannot resolve the entry and the PyTorch check is
the sharp one; :attr:`EntryCheck.tolerance` shows how wide the test was.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from backprop_lab.engine.formatting import format_count
from backprop_lab.engine.model import (
    MATRIX_NAMES,
    Matrix,
    Model,
    NumericalOverflowError,
    Vector,
    forward,
    model_loss_and_grads,
)

# The error scales live in their own module; they are part of this one's interface too.
from backprop_lab.engine.rounding import MACHINE_EPS as MACHINE_EPS
from backprop_lab.engine.rounding import RoundingScales as RoundingScales
from backprop_lab.engine.rounding import rounding_scales as rounding_scales
from backprop_lab.engine.variant import Variant

#: Relative step of the central difference: ∛u ≈ 6.06e-6 balances truncation (∝ h²)
#: against rounding (∝ u/h); the step is ``eps · max(1, |θ|)``.
DEFAULT_EPS = MACHINE_EPS ** (1.0 / 3.0)

#: Relative tolerance of the finite-difference check. A correct gradient agrees to about
#: u^(2/3) ≈ 4e-11 (plus the per-entry allowance); a wrong formula is off by O(1).
DEFAULT_RTOL = 1e-6

#: Absolute tolerance: none by default. The loss has no natural absolute scale (entries may
#: be 1e-3 or 1e3); the per-entry allowance covers what floating point cannot resolve.
DEFAULT_ATOL = 0.0

#: The eps values of :func:`eps_sweep`: half decades from 1e-1 down to 1e-12.
SWEEP_EPS = tuple(10.0 ** (-k / 2) for k in range(2, 25))

Progress = Callable[[int, int], object]


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class EntryCheck:
    """One weight's analytic derivative next to its reference value.

    ``matrix`` is "A", "B" or "C"; ``i, j`` index the entry (row i, column j, as in
    ``A[i][j]``). ``rel_error = abs_error / max(|analytic|, |reference|)`` (0 when both are
    0). ``tolerance`` is the bound abs_error was compared with (see the module docstring).
    """

    matrix: str
    i: int
    j: int
    analytic: float
    reference: float
    abs_error: float
    rel_error: float
    passed: bool
    tolerance: float = 0.0

    @property
    def label(self) -> str:
        return f"{self.matrix}[{self.i}][{self.j}]"


@dataclass(frozen=True)
class CheckReport:
    """The outcome of one verification method over every entry of A, B and C.

    ``entries`` are in the order A, B, C, each row by row (3·K² of them). ``passed`` is
    true when every entry passed (and, for a method that computes one, when the reference
    loss agrees with ``loss``). ``loss`` is the engine's loss; ``reference_loss`` is the
    reference's (PyTorch), or None for finite differences. ``eps`` is the relative step of
    a finite-difference check (None otherwise).
    """

    method: str
    entries: tuple[EntryCheck, ...]
    rtol: float
    atol: float
    passed: bool
    max_abs_error: float
    max_rel_error: float
    loss: float | None = None
    reference_loss: float | None = None
    eps: float | None = None

    @property
    def K(self) -> int:
        return math.isqrt(len(self.entries) // 3)

    def by_matrix(self, name: str) -> list[list[EntryCheck]]:
        """The entries of one matrix ("A", "B" or "C") as a K×K list of rows."""
        if name not in MATRIX_NAMES:
            raise ValueError(f"no matrix {name!r}; expected one of A, B, C")
        k = self.K
        start = MATRIX_NAMES.index(name) * k * k
        return [list(self.entries[start + i * k : start + (i + 1) * k]) for i in range(k)]

    @property
    def failures(self) -> tuple[EntryCheck, ...]:
        return tuple(e for e in self.entries if not e.passed)

    @property
    def unresolved(self) -> tuple[EntryCheck, ...]:
        """Entries the reference cannot resolve: its error bound exceeds the values compared.

        Finite differences of a saturated unit, or of an entry many orders of magnitude below
        the loss, agree only in the sense that both are lost in the difference's rounding.
        """
        return tuple(e for e in self.entries if e.tolerance > max(abs(e.analytic), abs(e.reference)) > 0.0)

    def summary(self) -> str:
        """One line: how many entries agree and the largest relative error."""
        n = len(self.entries)
        failed = len(self.failures)
        worst = f"max relative error {self.max_rel_error:.1e}"
        if self.unresolved:
            worst += f"; {len(self.unresolved)} below the reference's resolution"
        if failed == 0 and self.passed:
            return f"all {format_count(n, 'entry', 'entries')} agree ({worst})"
        if failed == 0:
            return f"all {format_count(n, 'entry', 'entries')} agree but the loss does not ({worst})"
        return f"{failed:,} of {format_count(n, 'entry', 'entries')} disagree ({worst})"


# --------------------------------------------------------------------------- central differences


def _step(theta: float, eps: float) -> tuple[float, float]:
    """The two points θ ± eps·max(1, |θ|), as rounded."""
    h = eps * max(1.0, abs(theta))
    return theta + h, theta - h


def _central(f: Callable[[float], float], theta: float, eps: float) -> float:
    """(f(θ + h) − f(θ − h)) / ((θ + h) − (θ − h)) with h = eps·max(1, |θ|)."""
    plus, minus = _step(theta, eps)
    # Divide by the distance between the points actually evaluated, not the intended 2h.
    return (f(plus) - f(minus)) / (plus - minus)


def central_difference(
    f: Callable[[list[float]], float], point: Sequence[float], index: int, eps: float
) -> float:
    """∂f/∂p_index at ``point`` by a central difference with relative step ``eps``.

    ``f`` takes a list of floats (a copy of ``point`` with one coordinate moved) and
    returns a float; the step is ``eps · max(1, |point[index]|)``. Error: O(h²)
    truncation plus O(u·|f|/h) rounding (see the module docstring for the choice of eps).
    """
    if not 0 <= index < len(point):
        raise ValueError(f"index {index} is out of range for a point of {len(point)} coordinates")
    _check_eps(eps)
    base = [float(p) for p in point]

    def along(t: float) -> float:
        moved = base.copy()
        moved[index] = t
        return f(moved)

    return _central(along, base[index], eps)


# --------------------------------------------------------------------------- comparing


def _check_eps(eps: float) -> None:
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not math.isfinite(eps) or eps <= 0:
        raise ValueError(f"eps must be a positive number (got {eps!r})")


def _check_tolerances(rtol: float, atol: float) -> None:
    for name, value in (("rtol", rtol), ("atol", atol)):
        bad = isinstance(value, bool) or not isinstance(value, (int, float))
        if bad or math.isnan(value) or value < 0:
            raise ValueError(f"{name} must be a number ≥ 0 (got {value!r})")


def compare_entry(
    matrix: str, i: int, j: int, analytic: float, reference: float, rtol: float, atol: float, allowance: float
) -> EntryCheck:
    """One :class:`EntryCheck`: passes when |analytic − reference| ≤ atol + rtol·max(|·|) + allowance."""
    abs_error = abs(analytic - reference)
    magnitude = max(abs(analytic), abs(reference))
    rel_error = abs_error / magnitude if magnitude > 0.0 else 0.0
    if math.isnan(rel_error):  # a non-finite reference: report it as a total disagreement
        rel_error = math.inf
    tolerance = atol + rtol * magnitude + allowance
    passed = abs_error <= tolerance  # False for NaN or ∞ errors
    return EntryCheck(matrix, i, j, analytic, reference, abs_error, rel_error, passed, tolerance)


def make_report(
    method: str,
    entries: Sequence[EntryCheck],
    rtol: float,
    atol: float,
    *,
    loss: float | None = None,
    reference_loss: float | None = None,
    loss_passed: bool = True,
    eps: float | None = None,
) -> CheckReport:
    """Bundle entries into a :class:`CheckReport` (passed, largest errors)."""
    entries = tuple(entries)
    return CheckReport(
        method=method,
        entries=entries,
        rtol=rtol,
        atol=atol,
        passed=loss_passed and all(e.passed for e in entries),
        max_abs_error=max((e.abs_error for e in entries), default=0.0),
        max_rel_error=max((e.rel_error for e in entries), default=0.0),
        loss=loss,
        reference_loss=reference_loss,
        eps=eps,
    )


# --------------------------------------------------------------------------- the model's check


def _loss_along(
    x: Vector, weights: list[Matrix], row: list[float], j: int, variant: Variant
) -> Callable[[float], float]:
    """L as a function of ``row[j]`` alone (the row is one of ``weights``' rows, edited in place)."""

    def loss(t: float) -> float:
        row[j] = t
        value = forward(x, weights[0], weights[1], weights[2], variant)["loss"]
        assert isinstance(value, float)
        return value

    return loss


def analytic(model: Model) -> tuple[float, dict[str, Matrix]]:
    """The engine's hand-derived loss and gradients of ``model``, in its variant: what is checked
    is :func:`engine.model.backward` itself (the generated kernels are tested equal to it)."""
    return model_loss_and_grads(model)


def _entries(k: int) -> list[tuple[str, int, int, int]]:
    """(name, matrix index, i, j) for every weight, in report order."""
    return [(name, m, i, j) for m, name in enumerate(MATRIX_NAMES) for i in range(k) for j in range(k)]


def finite_difference_check(
    model: Model,
    eps: float = DEFAULT_EPS,
    rtol: float = DEFAULT_RTOL,
    atol: float = DEFAULT_ATOL,
    progress: Progress | None = None,
) -> CheckReport:
    """Compare every analytic ∂L/∂A_ij, ∂L/∂B_ij, ∂L/∂C_ij with a central difference.

    Both sides are taken in ``model.variant`` (activation, convention, target). ``model`` is
    validated already (:class:`engine.model.Model`); NumericalOverflowError when the loss
    overflows. ``eps`` is the relative step, ``rtol``/``atol`` the tolerances (see the module
    docstring for both).
    ``progress(done, total)`` is called after each of the 3·K² entries; it may raise to
    abandon the check (the inputs are never modified). Costs 4 forward passes per entry,
    O(K⁴) in all: about 0.2 s at K = 20 and 1 s at K = 30 on one core.
    """
    _check_eps(eps)
    _check_tolerances(rtol, atol)
    xv, Av, Bv, Cv = model.x, model.A, model.B, model.C
    loss, grads = analytic(model)
    scales = rounding_scales(model)
    weights = [[row.copy() for row in M] for M in (Av, Bv, Cv)]
    todo = _entries(len(xv))
    results = []
    for done, (name, m, i, j) in enumerate(todo, start=1):
        row = weights[m][i]
        theta = row[j]
        f = _loss_along(xv, weights, row, j, model.variant)
        try:
            numerical = _central(f, theta, eps)
            coarse = _central(f, theta, 2.0 * eps)
        finally:
            row[j] = theta
        if not (math.isfinite(numerical) and math.isfinite(coarse)):
            raise NumericalOverflowError(f"the finite differences for {name}[{i}][{j}] overflow a float64")
        plus, minus = _step(theta, eps)
        h = (plus - minus) / 2.0
        # The quotient's rounding (two losses, each within γ·L̃ at θ ± h), its truncation
        # (|D(h) − D(2h)|), the analytic value's own rounding, a kink of σ within the steps
        # (relu, softplus), and a floor for underflow.
        rounding = scales.gamma * scales.loss_moved(name, i, j, h) / h
        analytic_rounding = scales.gamma * scales.grads[name][i][j]
        kink = scales.kink_allowance(name, i, j, h)
        allowance = rounding + abs(numerical - coarse) + analytic_rounding + kink + sys.float_info.min
        results.append(compare_entry(name, i, j, grads[name][i][j], numerical, rtol, atol, allowance))
        if progress is not None:
            progress(done, len(todo))
    return make_report(
        f"finite differences (central, eps={eps:.3g})", results, rtol, atol, loss=loss, eps=eps
    )


def eps_sweep(
    model: Model,
    eps_values: Sequence[float] | None = None,
    progress: Progress | None = None,
) -> list[tuple[float, float]]:
    """(eps, max |analytic − central difference| over all entries) for each eps.

    Default eps values: :data:`SWEEP_EPS`, half decades from 1e-1 to 1e-12. On a log-log
    plot the error falls as eps² (truncation) down to a minimum near ∛u ≈ 6e-6, then rises
    as 1/eps (rounding). An eps whose differences overflow is left out.
    ``progress(done, total)`` is called after each eps value (and may raise to abandon the
    sweep). Costs 2 forward passes per entry and eps: about 11 times a check with the default
    23 eps values.
    """
    values = SWEEP_EPS if eps_values is None else tuple(eps_values)
    for e in values:
        _check_eps(e)
    xv, Av, Bv, Cv = model.x, model.A, model.B, model.C
    _, grads = analytic(model)
    weights = [[row.copy() for row in M] for M in (Av, Bv, Cv)]
    todo = _entries(len(xv))
    sweep = []
    for done, eps in enumerate(values, start=1):
        worst = 0.0
        for name, m, i, j in todo:
            row = weights[m][i]
            theta = row[j]
            try:
                numerical = _central(_loss_along(xv, weights, row, j, model.variant), theta, eps)
            finally:
                row[j] = theta
            error = abs(numerical - grads[name][i][j])
            if not error <= worst:  # also keeps a NaN, so that the eps is left out below
                worst = error
        if math.isfinite(worst):
            sweep.append((float(eps), worst))
        if progress is not None:
            progress(done, len(values))
    return sweep
