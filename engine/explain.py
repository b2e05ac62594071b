"""Seeing why: the chain rule of any gradient entry, with numbers, and the loss along the gradient.

**One entry's chain rule.** The report's Figure 2 writes the gradient of a weight as

    ∂E/∂w_ij = ∂E/∂o_j · ∂o_j/∂net_j · ∂net_j/∂w_ij

(E the loss, net_j a unit's net input, o_j its output). Each of A, B, C is one such layer of the
model, with its own net input and output. In the report's row vectors (see :mod:`engine.model`)::

    A_ij   net_j = a_j = Σ_i x_i A_ij    o_j = y_j = σ(a_j)   ∂E/∂o_j = g_j = Σ_k C_jk · ∂L/∂w_k
    B_ij   net_j = u_j = Σ_i x_i B_ij    o_j = u_j  (σ′ → 1)  ∂E/∂o_j = g_j
    C_ij   net_j = w_j = Σ_i z_i C_ij    o_j = w_j  (σ′ → 1)  ∂E/∂o_j = ∂L/∂w_j = 2w_j

so that, in the report's own words, "∂net_j/∂w_ij is just the input value that is multiplied with
the weight" (x_i, or z_i for C), "∂o_j/∂net_j is the derivative of the activation function" (σ′(a_j),
or 1 without one), and the last factor is what the later layers make of the output (g_j, the
shared "sum of all the nodes' impact on the loss", or ∂L/∂w_j for the last layer).

The model's variant (:mod:`engine.variant`) changes three things, and :func:`derive` follows it:
σ′ is the activation's own (1 − tanh(a_j)² for tanh, …); with a target ∂L/∂w_k = 2(w_k − t_k);
with column vectors (a = Ax) the weight A_ij feeds unit i from input j, so the roles of i and j
swap: ∂L/∂A_ij = σ′(a_i) · g_i · x_j with g_i = Σ_k C_ki · ∂L/∂w_k.

:func:`derive` returns the three factors with their values, the expansion of g term by term, and
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

from backprop_lab.engine import formulas, kernels
from backprop_lab.engine.model import (
    MATRIX_NAMES,
    Matrix,
    Model,
    NumericalOverflowError,
    Vector,
    backward,
    forward,
)
from backprop_lab.engine.training import batch_loss_and_grads
from backprop_lab.engine.variant import DEFAULT_VARIANT, Variant

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
    """One term C_jk · ∂L/∂w_k of g_j = Σ_k C_jk · ∂L/∂w_k (C_kj in the column convention; for C
    entries: unused). ∂L/∂w_k is 2w_k, or 2(w_k − t_k) with a target."""

    k: int
    weight: float  # C_jk (row) or C_kj (column)
    upstream: float  # ∂L/∂w_k
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
    ``variant`` is the model's; its formulas name the activation's σ′ and the target's ∂L/∂w.
    """

    @property
    def sum_weight(self) -> str:
        """The C entry in each term of the upstream sum: "C_1,k" (row) or "C_k,1" (column)."""
        return formulas.upstream_weight(self.variant, str(self.unit), "k")

    @property
    def sum_upstream(self) -> str:
        """∂L/∂w_k in each term of the upstream sum: "2w_k", or "2(w_k − t_k)" with a target."""
        return formulas.output_gradient_symbol(self.variant, "k")

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
    variant: Variant = DEFAULT_VARIANT
    #: The unit the weight feeds and the input it multiplies: (j, i) in the row convention,
    #: (i, j) in the column convention.
    unit: int = 0
    input: int = 0

    @property
    def label(self) -> str:
        return f"∂L/∂{self.matrix}[{self.i}][{self.j}]"

    def largest_terms(self, n: int = 3) -> tuple[SumTerm, ...]:
        """The n terms of the upstream sum with the largest |value| (largest first)."""
        return tuple(sorted(self.terms, key=lambda t: -abs(t.value))[:n])


def feeding_cells(matrix: str, i: int, j: int, k: int, convention: str = "row") -> dict[str, frozenset[Cell]]:
    """Cells the entry's three factors read directly (one level deep), by block.

    Row vectors (A[i][j] feeds unit j from input i):
    ∂L/∂A_ij = x_i · σ′(a_j) · g_j reads x_i, column j of A (a_j) and row j of C (g_j);
    ∂L/∂B_ij = x_i · g_j reads x_i, B_ij itself (its layer) and row j of C;
    ∂L/∂C_ij = z_i · ∂L/∂w_j reads x, columns i of A and B (z_i) and column j of C (w_j).
    Column vectors (A[i][j] feeds unit i from input j) read the transposed cells: x_j, row i of A
    and column i of C for A_ij; x, rows j of A and B and row i of C for C_ij.
    Every entry also depends on everything through w; those are left out, or all would light up.
    """
    _check_entry(matrix, i, j, k)
    r = range(k)
    if convention == "row":
        unit, inp = j, i

        def line(n: int) -> set[Cell]:  # the weights into unit n: a column
            return {(s, n) for s in r}

        def fan(n: int) -> set[Cell]:  # the weights out of unit n: a row
            return {(n, s) for s in r}
    else:
        unit, inp = i, j

        def line(n: int) -> set[Cell]:
            return {(n, s) for s in r}

        def fan(n: int) -> set[Cell]:
            return {(s, n) for s in r}

    if matrix == "A":
        cells = {"x": {(0, inp)}, "A": line(unit), "C": fan(unit)}
    elif matrix == "B":
        cells = {"x": {(0, inp)}, "B": {(i, j)}, "C": fan(unit)}
    else:
        cells = {"x": {(0, s) for s in r}, "A": line(inp), "B": line(inp), "C": line(unit)}
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

    ``model`` is validated already (:class:`engine.model.Model`) and carries the variant whose
    chain rule is written out: its σ′, its ∂L/∂w (with the target) and its index order (row
    vectors: the entry feeds unit j from input i; column vectors: unit i from input j).
    ``matrix`` is "A", "B" or "C" and 0 ≤ i, j < K. Raises NumericalOverflowError when the loss
    does not fit in a float64.
    """
    xv, Av, Bv, Cv, v = model.x, model.A, model.B, model.C, model.variant
    k = len(xv)
    _check_entry(matrix, i, j, k)
    values = forward(xv, Av, Bv, Cv, v)
    if not math.isfinite(values["loss"]):
        raise NumericalOverflowError("the loss overflows a float64; the chain rule has no finite numbers")
    grads = backward(xv, Cv, values, v)
    a, y, u, z, w = values["a"], values["y"], values["u"], values["z"], values["w"]
    dw, g = grads["dw"], grads["g"]
    engine_value = {"A": grads["dA"], "B": grads["dB"], "C": grads["dC"]}[matrix][i][j]
    # The unit the weight feeds (q) and the input it multiplies (p): the convention's index order.
    q, p = (j, i) if v.row else (i, j)
    g_formula = formulas.upstream_formula(v, str(q))

    terms: tuple[SumTerm, ...] = ()
    upstream_sum = 0.0
    if matrix in ("A", "B"):
        # g_q = Σ_k C_qk ∂L/∂w_k (row) or Σ_k C_kq ∂L/∂w_k (column); the same left-to-right sum
        # as engine.model.backward, so bit-identical to its g_q.
        weights = Cv[q] if v.row else [Cv[t][q] for t in range(k)]
        terms = tuple(SumTerm(t, weights[t], dw[t], weights[t] * dw[t]) for t in range(k))
        upstream_sum = sum(term.value for term in terms)
        branch = "y" if matrix == "A" else "u"
        upstream = Factor("∂E/∂o_j", f"∂L/∂{branch}_{q}", f"g_{q}", g_formula, g[q])
        net_name = "a" if matrix == "A" else "u"
        inp = Factor("∂net_j/∂w_ij", f"∂{net_name}_{q}/∂{matrix}_{i},{j}", f"x_{p}", f"input {p}", xv[p])
    if matrix == "A":
        net, out = f"a_{q}", f"y_{q}"
        act = Factor(
            "∂o_j/∂net_j",
            f"∂y_{q}/∂a_{q}",
            f"σ′(a_{q})",
            formulas.sigma_prime_at(v, f"a_{q}"),
            v.sigma.derivative(a[q]),
        )
        # backward(): x_p · (σ′(a_q) · g_q); the column convention multiplies the same two
        # numbers the other way round, (σ′(a_q) · g_q) · x_p, and a float product commutes.
        product = xv[p] * (act.value * upstream.value)
        intermediates: tuple[tuple[str, str, float], ...] = (
            (f"a_{q}", formulas.net_formula(v, "A", str(q)), a[q]),
            (f"σ(a_{q})", formulas.sigma_at(v, f"a_{q}"), y[q]),
            (f"g_{q}", g_formula, g[q]),
        )
    elif matrix == "B":
        net, out = f"u_{q}", f"u_{q}"
        act = Factor("∂o_j/∂net_j", "(no activation)", "1", "linear branch", 1.0)
        product = xv[p] * upstream.value  # backward(): x_p · g_q
        intermediates = (
            (f"u_{q}", formulas.net_formula(v, "B", str(q)), u[q]),
            (f"g_{q}", g_formula, g[q]),
        )
    else:
        net, out = f"w_{q}", f"w_{q}"
        dw_symbol = formulas.output_gradient_symbol(v, str(q))
        dw_formula = f"2 · w_{q}" if v.target is None else f"2 · (w_{q} − t_{q})"
        upstream = Factor("∂E/∂o_j", f"∂L/∂w_{q}", dw_symbol, dw_formula, dw[q])
        act = Factor("∂o_j/∂net_j", "(no activation)", "1", "output layer", 1.0)
        inp = Factor("∂net_j/∂w_ij", f"∂w_{q}/∂C_{i},{j}", f"z_{p}", f"σ(a_{p}) + u_{p}", z[p])
        product = z[p] * dw[q]  # backward(): z_p · ∂L/∂w_q
        intermediates = (
            (f"w_{q}", formulas.net_formula(v, "C", str(q), "z"), w[q]),
            *(((f"t_{q}", "the target", v.target[q]),) if v.target is not None else ()),
            (f"z_{p}", f"σ(a_{p}) + u_{p}", z[p]),
            (f"σ(a_{p})", formulas.sigma_at(v, f"a_{p}"), y[p]),
            (f"a_{p}", formulas.net_formula(v, "A", str(p)), a[p]),
            (f"u_{p}", formulas.net_formula(v, "B", str(p)), u[p]),
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
        cells=feeding_cells(matrix, i, j, k, v.convention),
        variant=v,
        unit=q,
        input=p,
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
    variant: Variant = DEFAULT_VARIANT  # the model's: whose loss and gradient the line follows

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
        _, grads = _grads_at_x(xv, Av, Bv, Cv, model.variant)
        source = "x"
    else:
        rows = [list(map(float, r)) for r in batch_rows]
        _, grads = batch_loss_and_grads(rows, Av, Bv, Cv, variant=model.variant)
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
        variant=model.variant,
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


def _grads_at_x(
    x: Vector, A: Matrix, B: Matrix, C: Matrix, variant: Variant
) -> tuple[float, dict[str, Matrix]]:
    values = forward(x, A, B, C, variant)
    loss = values["loss"]
    assert isinstance(loss, float)
    if not math.isfinite(loss):
        raise NumericalOverflowError("the loss overflows a float64; there is no gradient to follow")
    g = backward(x, C, values, variant)
    return loss, {"A": g["dA"], "B": g["dB"], "C": g["dC"]}
