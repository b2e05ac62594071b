"""Seeing why: the chain rule of any gradient entry, with numbers, and the loss along the gradient.

**One entry's chain rule.** The report's Figure 2 writes the gradient of a weight as

    ∂E/∂w_ij = ∂E/∂o_j · ∂o_j/∂net_j · ∂net_j/∂w_ij

(E the loss, net_j a unit's net input, o_j its output). Each of A, B, C is one such layer of the
model (row vectors; see :mod:`engine.model`), with its own net input and output::

    A_ij   net_j = a_j = Σ_i x_i A_ij    o_j = y_j = σ(a_j)   ∂E/∂o_j = g_j = Σ_k C_jk · 2w_k
    B_ij   net_j = u_j = Σ_i x_i B_ij    o_j = u_j  (σ′ → 1)  ∂E/∂o_j = g_j
    C_ij   net_j = w_j = Σ_i z_i C_ij    o_j = w_j  (σ′ → 1)  ∂E/∂o_j = 2w_j

so that, in the report's own words, "∂net_j/∂w_ij is just the input value that is multiplied with
the weight" (x_i, or z_i for C), "∂o_j/∂net_j is the derivative of the activation function" (σ′(a_j),
or 1 without one), and the last factor is what the later layers make of the output (g_j, the
shared "sum of all the nodes' impact on the loss", or 2w_j for the last layer).

:func:`derive` returns the three factors with their values, the expansion of g_j term by term, and
their product computed in the same order as :func:`engine.model.backward`, so it equals the
engine's entry to the last bit. Indices are 0-based, as in the window's tables (``A[i][j]``).

**Loss along the gradient.** :func:`loss_along_gradient` evaluates L(θ − t·g) for t from 0 to a few
learning rates: plain gradient descent moves along this line by t = lr, so the curve shows whether
the next step lands near the bottom of the valley or past it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from backprop_lab.engine import kernels
from backprop_lab.engine.model import (
    MATRIX_NAMES,
    Matrix,
    Model,
    NumericalOverflowError,
    Vector,
    backward,
    forward,
    sigmoid_prime,
)
from backprop_lab.engine.training import batch_loss_and_grads

Cell = tuple[int, int]


# --------------------------------------------------------------------------- one entry's chain rule


@dataclass(frozen=True)
class Factor:
    """One factor of Figure 2, for one entry.

    ``role`` is the report's symbol ("∂E/∂o_j", "∂o_j/∂net_j", "∂net_j/∂w_ij"), ``derivative`` the
    same derivative in the model's names ("∂L/∂y_1"), ``symbol`` the quantity it equals ("g_1",
    "σ′(a_1)", "x_0"), ``formula`` how that is computed (plain text) and ``value`` its value.
    """

    role: str
    derivative: str
    symbol: str
    formula: str
    value: float


@dataclass(frozen=True)
class SumTerm:
    """One term C_jk · 2w_k of g_j = Σ_k C_jk · 2w_k (for C entries: unused)."""

    k: int
    weight: float  # C_jk
    upstream: float  # 2w_k = ∂L/∂w_k
    value: float  # weight · upstream


@dataclass(frozen=True)
class Derivation:
    """The chain rule of ∂L/∂``matrix``[i][j] with the current numbers (see :func:`derive`).

    ``factors`` are Figure 2's three factors in its order (∂E/∂o_j, ∂o_j/∂net_j, ∂net_j/∂w_ij);
    ``product`` is their product, computed as the engine computes it, and equals ``engine_value``
    (the entry of :func:`engine.model.backward`) exactly. ``terms`` expand the upstream factor
    ``g_j = Σ_k C_jk · 2w_k`` (A and B) or are empty (C, whose upstream factor is 2w_j itself).
    ``net``/``output`` name net_j and o_j for this layer ("a_1", "y_1"); ``intermediates`` are the
    forward values the factors read, as (symbol, formula, value). ``cells`` are the matrix cells
    the factors' formulas read directly, by block ("x" is the 1×K row 0, then "A", "B", "C").
    """

    matrix: str
    i: int
    j: int
    K: int
    net: str
    output: str
    factors: tuple[Factor, Factor, Factor]
    product: float
    engine_value: float
    terms: tuple[SumTerm, ...]
    upstream_sum: float
    intermediates: tuple[tuple[str, str, float], ...]
    cells: dict[str, frozenset[Cell]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"∂L/∂{self.matrix}[{self.i}][{self.j}]"

    def largest_terms(self, n: int = 3) -> tuple[SumTerm, ...]:
        """The n terms of the upstream sum with the largest |value| (largest first)."""
        return tuple(sorted(self.terms, key=lambda t: -abs(t.value))[:n])


def feeding_cells(matrix: str, i: int, j: int, k: int) -> dict[str, frozenset[Cell]]:
    """Cells the entry's three factors read directly (one level deep), by block.

    ∂L/∂A_ij = x_i · σ′(a_j) · g_j reads x_i, column j of A (a_j) and row j of C (g_j);
    ∂L/∂B_ij = x_i · g_j reads x_i, B_ij itself (its layer) and row j of C;
    ∂L/∂C_ij = z_i · 2w_j reads x, columns i of A and B (z_i) and column j of C (w_j).
    Every entry also depends on everything through w; those are left out, or all would light up.
    """
    _check_entry(matrix, i, j, k)
    r = range(k)
    if matrix == "A":
        cells = {"x": {(0, i)}, "A": {(s, j) for s in r}, "C": {(j, t) for t in r}}
    elif matrix == "B":
        cells = {"x": {(0, i)}, "B": {(i, j)}, "C": {(j, t) for t in r}}
    else:
        cells = {
            "x": {(0, s) for s in r},
            "A": {(s, i) for s in r},
            "B": {(s, i) for s in r},
            "C": {(s, j) for s in r},
        }
    return {name: frozenset(c) for name, c in cells.items()}


def _check_entry(matrix: str, i: int, j: int, k: int) -> None:
    if matrix not in MATRIX_NAMES:
        raise ValueError(f"no matrix {matrix!r}; expected one of A, B, C")
    for name, v in (("i", i), ("j", j)):
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v < k:
            raise ValueError(f"{name} = {v!r} is out of range for K = {k} (0 … {k - 1})")


def derive(
    model: Model,
    matrix: str,
    i: int,
    j: int,
) -> Derivation:
    # Long by design: one branch per matrix, each a formula in the report's order; splitting scatters it.
    """The chain rule of ∂L/∂``matrix``[i][j] at ``model``, factor by factor, with values.

    ``model`` is validated already (:class:`engine.model.Model`); ``matrix`` is "A", "B" or "C"
    and 0 ≤ i, j < K. Raises NumericalOverflowError when the loss does not fit in a float64.
    """
    xv, Av, Bv, Cv = model.x, model.A, model.B, model.C
    k = len(xv)
    _check_entry(matrix, i, j, k)
    values = forward(xv, Av, Bv, Cv)
    if not math.isfinite(values["loss"]):
        raise NumericalOverflowError("the loss overflows a float64; the chain rule has no finite numbers")
    grads = backward(xv, Cv, values)
    a, y, u, z, w = values["a"], values["y"], values["u"], values["z"], values["w"]
    dw, g = grads["dw"], grads["g"]
    engine_value = {"A": grads["dA"], "B": grads["dB"], "C": grads["dC"]}[matrix][i][j]

    terms: tuple[SumTerm, ...] = ()
    upstream_sum = 0.0
    if matrix in ("A", "B"):
        terms = tuple(SumTerm(t, Cv[j][t], dw[t], Cv[j][t] * dw[t]) for t in range(k))
        # The same left-to-right sum as engine.model.backward: bit-identical to g_j.
        upstream_sum = sum(term.value for term in terms)
        upstream = Factor(
            "∂E/∂o_j", f"∂L/∂{'y' if matrix == 'A' else 'u'}_{j}", f"g_{j}", f"Σ_k C_{j},k · 2w_k", g[j]
        )
        inp = Factor(
            "∂net_j/∂w_ij",
            f"∂{'a' if matrix == 'A' else 'u'}_{j}/∂{matrix}_{i},{j}",
            f"x_{i}",
            f"input {i}",
            xv[i],
        )
    if matrix == "A":
        net, out = f"a_{j}", f"y_{j}"
        act = Factor(
            "∂o_j/∂net_j", f"∂y_{j}/∂a_{j}", f"σ′(a_{j})", f"σ(a_{j})(1 − σ(a_{j}))", sigmoid_prime(a[j])
        )
        product = xv[i] * (act.value * upstream.value)  # backward(): x_i · (σ′(a_j) · g_j)
        intermediates: tuple[tuple[str, str, float], ...] = (
            (f"a_{j}", f"Σ_i x_i A_i,{j}", a[j]),
            (f"σ(a_{j})", f"1 / (1 + e^(−a_{j}))", y[j]),
            (f"g_{j}", f"Σ_k C_{j},k · 2w_k", g[j]),
        )
    elif matrix == "B":
        net, out = f"u_{j}", f"u_{j}"
        act = Factor("∂o_j/∂net_j", "(no activation)", "1", "linear branch", 1.0)
        product = xv[i] * upstream.value  # backward(): x_i · g_j
        intermediates = (
            (f"u_{j}", f"Σ_i x_i B_i,{j}", u[j]),
            (f"g_{j}", f"Σ_k C_{j},k · 2w_k", g[j]),
        )
    else:
        net, out = f"w_{j}", f"w_{j}"
        upstream = Factor("∂E/∂o_j", f"∂L/∂w_{j}", f"2w_{j}", f"2 · w_{j}", dw[j])
        act = Factor("∂o_j/∂net_j", "(no activation)", "1", "output layer", 1.0)
        inp = Factor("∂net_j/∂w_ij", f"∂w_{j}/∂C_{i},{j}", f"z_{i}", f"σ(a_{i}) + u_{i}", z[i])
        product = z[i] * dw[j]  # backward(): z_i · 2w_j
        intermediates = (
            (f"w_{j}", f"Σ_i z_i C_i,{j}", w[j]),
            (f"z_{i}", f"σ(a_{i}) + u_{i}", z[i]),
            (f"σ(a_{i})", f"a_{i} = {a[i]!r}", y[i]),
            (f"u_{i}", f"Σ_s x_s B_s,{i}", u[i]),
        )
    return Derivation(
        matrix=matrix,
        i=i,
        j=j,
        K=k,
        net=net,
        output=out,
        factors=(upstream, act, inp),
        product=product,
        engine_value=engine_value,
        terms=terms,
        upstream_sum=upstream_sum,
        intermediates=intermediates,
        cells=feeding_cells(matrix, i, j, k),
    )


# --------------------------------------------------------------------------- loss along the gradient

#: Default extent of the line: t from 0 to this many learning rates.
DEFAULT_SPAN = 3.0
DEFAULT_POINTS = 121
#: Cap on (points × samples × K²) work for one curve: it is redrawn on every edit.
MAX_WORK = 6_000_000


@dataclass(frozen=True)
class LineSearch:
    """L(θ − t·g) along the gradient g, for t in ``ts`` (0 first), at the learning rate ``lr``.

    ``source`` is "x" (the gradient and loss at the model's own x) or "batch" (the mean gradient
    and mean loss over the ``batch`` sample indices the next training step will use). ``losses``
    may hold ``inf`` where the loss overflows. ``slope = −‖g‖²`` is dL/dt at t = 0; ``loss_at_lr``
    is where a gradient-descent step with this lr lands; ``best_t``/``best_loss`` the lowest sampled
    point.
    """

    source: str
    lr: float
    ts: tuple[float, ...]
    losses: tuple[float, ...]
    loss0: float
    slope: float
    loss_at_lr: float
    best_t: float
    best_loss: float
    batch: tuple[int, ...] = ()

    @property
    def overshoots(self) -> bool:
        """Whether the step of size lr ends higher than it started."""
        return not self.loss_at_lr < self.loss0

    def verdict(self) -> str:
        """One sentence: does the step with this lr go downhill, and how far from the line's minimum."""
        if self.slope == 0.0:
            return "The gradient is zero: a step changes nothing."
        lr, l0, l1 = self.lr, self.loss0, self.loss_at_lr
        if self.overshoots:
            return (
                f"Overshoots: a step of lr = {lr:g} ends at L = {l1:.6g}, above L = {l0:.6g} where it "
                f"starts; the lowest point on this line is at t ≈ {self.best_t:.3g} "
                f"({self.best_t / lr:.2g}·lr)."
            )
        gained = l0 - l1
        best = l0 - self.best_loss
        share = gained / best if best > 0 else 1.0
        text = f"Downhill: a step of lr = {lr:g} lowers L from {l0:.6g} to {l1:.6g} ({share:.0%} of the best "
        text += f"decrease on this line, at t ≈ {self.best_t:.3g})."
        if self.best_t >= self.ts[-1]:
            text += " Still falling at the end of the plot: a larger step would go further."
        return text


def loss_along_gradient(
    model: Model,
    lr: float,
    *,
    batch_rows: Sequence[Sequence[float]] | None = None,
    batch: Sequence[int] = (),
    span: float = DEFAULT_SPAN,
    points: int = DEFAULT_POINTS,
) -> LineSearch:
    """L(θ − t·g) for t = 0 … span·lr at ``points`` evenly spaced values (t = lr among them).

    Without ``batch_rows`` the gradient and the loss are the model's own at x (the numbers in the
    gradient tables). With ``batch_rows`` (n×K inputs) they are the mean loss and mean gradient over
    that batch: exactly the direction and objective of the next mini-batch step (``batch`` records
    which sample indices those rows are). ValueError for invalid input or settings.
    """
    xv, Av, Bv, Cv = model.x, model.A, model.B, model.C
    k = len(xv)
    _check_line_settings(lr, span, points)
    if batch_rows is None:
        rows: list[Vector] = [xv]
        _, grads = _grads_at_x(xv, Av, Bv, Cv)
        source = "x"
    else:
        rows = [list(map(float, r)) for r in batch_rows]
        _, grads = batch_loss_and_grads(rows, Av, Bv, Cv)
        source = "batch"
    n = len(rows)
    ts = _line_ts(lr, span, points, n * 3 * k * k)
    losses = [_mean_loss_at(t, rows, model, grads) for t in ts]
    slope = -sum(v * v for name in MATRIX_NAMES for row in grads[name] for v in row)
    best = min(range(len(ts)), key=lambda s: (losses[s], ts[s]))
    return LineSearch(
        source=source,
        lr=float(lr),
        ts=tuple(ts),
        losses=tuple(losses),
        loss0=losses[0],
        slope=slope,
        loss_at_lr=losses[ts.index(float(lr))],
        best_t=ts[best],
        best_loss=losses[best],
        batch=tuple(batch),
    )


def _check_line_settings(lr: float, span: float, points: int) -> None:
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
        raise ValueError(f"learning_rate must be a positive number (got {lr!r})")
    if not (isinstance(span, (int, float)) and math.isfinite(span) and span >= 1.0):
        raise ValueError(f"span must be a number ≥ 1 (got {span!r})")
    if isinstance(points, bool) or not isinstance(points, int) or points < 3:
        raise ValueError(f"points must be an integer ≥ 3 (got {points!r})")


def _line_ts(lr: float, span: float, points: int, work_per_point: int) -> list[float]:
    """The sample values of t in [0, span·lr], lr among them, ascending."""
    # Keep the curve cheap enough to redraw on every edit: fewer points for big K and batches.
    points = max(3, min(points, MAX_WORK // max(1, work_per_point)))
    # Make t = lr a sample point: an odd number of points over [0, span·lr] puts it on the grid only
    # for some spans, so lr is inserted explicitly.
    t_max = span * lr
    return sorted({t_max * s / (points - 1) for s in range(points)} | {float(lr)})


def _mean_loss_at(t: float, rows: list[Vector], model: Model, grads: dict[str, Matrix]) -> float:
    """The mean loss over ``rows`` at θ − t·g (``inf`` where it overflows)."""
    Ws = [
        [[wv - t * gv for wv, gv in zip(rw, rg, strict=True)] for rw, rg in zip(W, grads[name], strict=True)]
        for W, name in ((model.A, "A"), (model.B, "B"), (model.C, "C"))
    ]
    try:
        total = sum(kernels.loss_at(r, Ws[0], Ws[1], Ws[2], model.variant) for r in rows)
    except OverflowError:  # pragma: no cover - float ops saturate to inf instead
        return math.inf
    value = total / len(rows)
    return value if math.isfinite(value) else math.inf


def _grads_at_x(x: Vector, A: Matrix, B: Matrix, C: Matrix) -> tuple[float, dict[str, Matrix]]:
    values = forward(x, A, B, C)
    loss = values["loss"]
    assert isinstance(loss, float)
    if not math.isfinite(loss):
        raise NumericalOverflowError("the loss overflows a float64; there is no gradient to follow")
    g = backward(x, C, values)
    return loss, {"A": g["dA"], "B": g["dB"], "C": g["dC"]}
