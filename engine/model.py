"""The report's model, its forward pass and its hand-derived backward pass, for every variant.

The report's own member of the family (sigmoid, row vectors as in its numbers and its PyTorch
check, no target; :mod:`engine.variant` lists the others)::

    a = x A        pre-activation           (1×K)
    y = σ(a)       sigmoid, elementwise     (1×K)
    u = x B        linear branch            (1×K)
    z = y + u                               (1×K)
    w = z C        output                   (1×K)
    L = Σ_j w_j²   the squared norm of w

x is a list of K floats; A, B and C are K×K lists of rows, so ``A[i][j]`` is the
weight from input i to unit j and ``a_j = Σ_i x_i A_ij``.

The backward pass is the report's, term for term (its Figure 2 chain rule)::

    ∂L/∂w_j  = 2 w_j
    g_i      = Σ_j C_ij · 2 w_j             (∂L/∂z_i, shared by both branches)
    ∂L/∂C_ij = 2 w_j · z_i
    ∂L/∂B_ij = x_i · g_j
    ∂L/∂A_ij = x_i · σ'(a_j) · g_j

The other members change σ and σ′ (the activation), L = Σ_j (w_j − t_j)² and so
∂L/∂w_j = 2 (w_j − t_j) (a target), or every product's order (the column convention: a = Ax,
g = Cᵀ ∂L/∂w, ∂L/∂A_ij = σ′(a_i) · g_i · x_j); :func:`backward` writes each convention's chain
rule out on its own.

Everything here is plain Python on plain lists; no function mutates its inputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Real
from operator import mul
from typing import TypedDict

from backprop_lab.engine.formatting import format_count
from backprop_lab.engine.shapes import Matrix as Matrix
from backprop_lab.engine.shapes import Vector as Vector
from backprop_lab.engine.variant import DEFAULT_VARIANT, Variant

# Re-exported: σ and σ′ of the report's own variant, under their long-standing home.
from backprop_lab.engine.variant import sigmoid as sigmoid
from backprop_lab.engine.variant import sigmoid_prime as sigmoid_prime

MATRIX_NAMES = ("A", "B", "C")

#: Largest K the engine accepts; far past anything a person edits, small enough that a
#: hostile file cannot ask for gigabytes (3·K² floats).
MAX_K = 1024


class ForwardValues(TypedDict):
    """Every intermediate of the forward pass, under the report's names (K-vectors, and L)."""

    a: Vector
    y: Vector
    u: Vector
    z: Vector
    w: Vector
    loss: float


class Gradients(TypedDict):
    """The backward pass: the three weight gradients and the shared upstream terms."""

    dA: Matrix
    dB: Matrix
    dC: Matrix
    dw: Vector
    g: Vector


class NumericalOverflowError(ValueError):
    """The inputs are finite but the loss or a gradient does not fit in a float64."""


# --------------------------------------------------------------------------- validation


def quote(value: object, limit: int = 80) -> str:
    """``repr(value)`` for an error message, at most ``limit`` characters of it (then "…"): a
    hostile file may put megabytes into one entry, and only its start is ever copied."""
    if isinstance(value, str) and len(value) > limit:
        return repr(value[:limit])[:-1] + "…"
    if isinstance(value, (list, dict)):
        return f"a {type(value).__name__} of {len(value)}"
    text = repr(value)
    return text if len(text) <= limit + 2 else text[:limit] + "…"


def _check_number(value: object, where: str) -> float:
    # The common case first: a finite float needs no ABC check (this runs 3K² times per edit).
    if type(value) is float and value - value == 0.0:
        return value
    # bool is a subclass of int; True as a weight is a mistake, not the number 1.
    if isinstance(value, bool) or not isinstance(value, Real):
        raise ValueError(f"{where} is not a number: {quote(value)}")
    f = float(value)
    if not math.isfinite(f):
        raise ValueError(f"{where} is not finite: {quote(value)}")
    return f


# Plain floats, the common case, are checked in bulk: float.conjugate returns a float itself (a
# float subclass's value as a plain float) and raises TypeError for anything else (bool, int, str),
# all inside one C-level map; one sum then checks that every entry is finite (a NaN or an infinity
# makes the sum NaN or infinite; a finite sum that overflows only sends the input the long way).
# Anything the bulk check does not vouch for goes the long way, entry by entry, which names the
# first bad entry: the two ways accept and return the same things.
_as_float = float.conjugate


def _plain_vector(v: object, k: int | None) -> Vector | None:
    """A fresh list of the floats of ``v`` if it is a list or tuple of 1…MAX_K finite floats (of
    length k if given); else None."""
    if type(v) is not list and type(v) is not tuple:
        return None
    n = len(v)
    if not 0 < n <= MAX_K or (k is not None and n != k):
        return None
    try:
        copy = list(map(_as_float, v))
    except TypeError:
        return None
    total = sum(copy)
    return copy if total - total == 0.0 else None


def _plain_matrix(m: object, k: int) -> Matrix | None:
    """Fresh K×K rows of floats if ``m`` is a list or tuple of k lists or tuples of k finite floats;
    else None."""
    if (type(m) is not list and type(m) is not tuple) or len(m) != k:
        return None
    if not {list, tuple}.issuperset(map(type, m)):
        return None
    try:
        rows = [list(map(_as_float, row)) for row in m]
    except TypeError:
        return None
    if any(len(row) != k for row in rows):
        return None
    total = sum(map(sum, rows))
    return rows if total - total == 0.0 else None


def validate_vector(name: str, v: object, k: int | None = None) -> Vector:
    """Return v as a fresh list of floats, or raise ValueError naming the bad entry."""
    plain = _plain_vector(v, k)
    if plain is not None:
        return plain
    if isinstance(v, (str, bytes)) or not isinstance(v, Sequence):
        raise ValueError(f"{name} must be a list of numbers, not {type(v).__name__}")
    if k is not None and len(v) != k:
        raise ValueError(f"{name} has {format_count(len(v), 'entry', 'entries')}; expected {k}")
    if len(v) == 0:
        raise ValueError(f"{name} is empty; K must be at least 1")
    if len(v) > MAX_K:
        raise ValueError(
            f"{name} has {format_count(len(v), 'entry', 'entries')}; at most {MAX_K} are supported"
        )
    return [_check_number(e, f"{name}[{j}]") for j, e in enumerate(v)]


def validate_matrix(name: str, m: object, k: int) -> Matrix:
    """Return m as a fresh K×K list of float rows, or raise ValueError naming the entry."""
    plain = _plain_matrix(m, k)
    if plain is not None:
        return plain
    if isinstance(m, (str, bytes)) or not isinstance(m, Sequence):
        raise ValueError(f"{name} must be a {k}×{k} list of rows, not {type(m).__name__}")
    if len(m) != k:
        raise ValueError(f"{name} has {format_count(len(m), 'row')}; expected {k} (K = {k})")
    rows = []
    for i, row in enumerate(m):
        if isinstance(row, (str, bytes)) or not isinstance(row, Sequence):
            raise ValueError(f"{name}[{i}] must be a list of {k} numbers, not {type(row).__name__}")
        if len(row) != k:
            raise ValueError(
                f"{name}[{i}] has {format_count(len(row), 'entry', 'entries')}; expected {k} (K = {k})"
            )
        # A finite float passes inline; the entry's name is only spelled out for one that is not
        # (3K² f-strings took a third of a second at K = 1024).
        rows.append(
            [
                e if type(e) is float and e - e == 0.0 else _check_number(e, f"{name}[{i}][{j}]")
                for j, e in enumerate(row)
            ]
        )
    return rows


def validate_model(x: object, A: object, B: object, C: object) -> tuple[Vector, Matrix, Matrix, Matrix]:
    """Validate and copy a model; K is taken from x. Raises ValueError naming the problem."""
    xv = validate_vector("x", x)
    k = len(xv)
    return xv, validate_matrix("A", A, k), validate_matrix("B", B, k), validate_matrix("C", C, k)


@dataclass(frozen=True)
class Model:
    """x (K floats), the weights A, B, C (K×K lists of rows) and the variant of the family.

    The one model type of the engine, the session files, the reports, the command line and the
    window's undo snapshots. The constructor validates and copies once (floats, finite, square,
    1 ≤ K ≤ MAX_K, a target of K entries), raising ValueError naming the entry; after that nobody
    re-checks it. Frozen: a changed model is a new one (:meth:`with_weights`, :meth:`with_variant`).
    The lists themselves are plain lists so the math core (:func:`forward`, :func:`loss_and_grads`)
    takes them as they are; treat them as read-only. ``A[i][j]`` is the weight from input i to unit
    j in the row convention, from input j to unit i in the column convention (see
    :mod:`engine.variant`).
    """

    x: Vector
    A: Matrix
    B: Matrix
    C: Matrix
    variant: Variant = DEFAULT_VARIANT

    def __post_init__(self) -> None:
        for name, value in zip("xABC", validate_model(self.x, self.A, self.B, self.C), strict=True):
            object.__setattr__(self, name, value)
        if not isinstance(self.variant, Variant):
            raise ValueError(f"variant must be a Variant, not {type(self.variant).__name__}")
        self.variant.check_k(len(self.x))

    @property
    def K(self) -> int:
        return len(self.x)

    def matrix(self, name: str) -> Matrix:
        """The weight named ``"A"``, ``"B"`` or ``"C"``."""
        if name not in MATRIX_NAMES:
            raise ValueError(f"no matrix named {name!r}; expected one of A, B, C")
        return {"A": self.A, "B": self.B, "C": self.C}[name]

    def copy(self) -> Model:
        """A deep copy, without re-validating (it is valid already)."""
        m = object.__new__(Model)
        object.__setattr__(m, "x", list(self.x))
        for name in MATRIX_NAMES:
            object.__setattr__(m, name, [row[:] for row in self.matrix(name)])
        object.__setattr__(m, "variant", self.variant)
        return m

    def with_weights(self, A: Matrix, B: Matrix, C: Matrix) -> Model:
        """The same x and variant with new weights (validated)."""
        return Model(self.x, A, B, C, self.variant)

    def with_variant(self, variant: Variant) -> Model:
        """The same numbers under another variant (whose target must have K entries)."""
        variant.check_k(self.K)
        m = self.copy()
        object.__setattr__(m, "variant", variant)
        return m


# --------------------------------------------------------------------------- linear algebra


def transpose(m: Matrix) -> Matrix:
    """Columns of m as rows (a fresh list of lists)."""
    return [list(col) for col in zip(*m, strict=True)]


def vec_mat(v: Sequence[float], m: Matrix) -> Vector:
    """Row vector times matrix: (v m)_j = Σ_i v_i m_ij."""
    return [sum(map(mul, v, col)) for col in zip(*m, strict=True)]


def frobenius(m: Matrix) -> float:
    """‖m‖_F, robust to overflow of the squares (math.hypot scales internally)."""
    return math.hypot(*(e for row in m for e in row))


# --------------------------------------------------------------------------- the model


def mat_vec(m: Matrix, v: Sequence[float]) -> Vector:
    """Matrix times column vector: (m v)_i = Σ_j m_ij v_j."""
    return [sum(map(mul, row, v)) for row in m]


def forward(x: Vector, A: Matrix, B: Matrix, C: Matrix, variant: Variant = DEFAULT_VARIANT) -> ForwardValues:
    """The forward pass; returns every intermediate under the report's names.

    Keys: ``a, y, u, z, w`` (lists of K floats) and ``loss`` (a float). Row convention:
    a = xA, u = xB, w = zC; column convention: a = Ax, u = Bx, w = Cz. y = σ(a), z = y + u, and
    L = Σ w_j² or, with a target, Σ (w_j − t_j)². Inputs are assumed valid (see :class:`Model`).
    """
    product = vec_mat if variant.row else _mat_vec_reversed
    sigma = variant.sigma.function
    a = product(x, A)
    y = [sigma(aj) for aj in a]
    u = product(x, B)
    z = [yj + uj for yj, uj in zip(y, u, strict=True)]
    w = product(z, C)
    if variant.target is None:
        loss = sum(wj * wj for wj in w)
    else:
        loss = sum((wj - tj) * (wj - tj) for wj, tj in zip(w, variant.target, strict=True))
    return {"a": a, "y": y, "u": u, "z": z, "w": w, "loss": loss}


def _mat_vec_reversed(v: Sequence[float], m: Matrix) -> Vector:
    return mat_vec(m, v)


def output_gradient(w: Sequence[float], variant: Variant = DEFAULT_VARIANT) -> Vector:
    """∂L/∂w_j: 2 w_j, or 2 (w_j − t_j) with a target."""
    if variant.target is None:
        return [2.0 * wj for wj in w]
    return [2.0 * (wj - tj) for wj, tj in zip(w, variant.target, strict=True)]


def backward(x: Vector, C: Matrix, values: ForwardValues, variant: Variant = DEFAULT_VARIANT) -> Gradients:
    """The hand-derived gradients from the forward pass's ``values``, for the variant.

    Returns ``dA, dB, dC`` (K×K, the weights' layout) and the shared upstream terms ``dw``
    (∂L/∂w) and ``g`` (∂L/∂z). Each convention has its own chain rule, written out below.
    """
    if variant.row:
        return _backward_row(x, C, values, variant)
    return _backward_column(x, C, values, variant)


def _backward_row(x: Vector, C: Matrix, values: ForwardValues, variant: Variant) -> Gradients:
    # Row vectors, the report's Figure 2: w_j = Σ_i z_i C_ij, a_j = Σ_i x_i A_ij.
    a, z, w = values["a"], values["z"], values["w"]
    sigma_prime = variant.sigma.derivative
    dw = output_gradient(w, variant)  # ∂L/∂w_j = 2 (w_j − t_j)
    g = [sum(map(mul, row, dw)) for row in C]  # g_i = Σ_j C_ij · ∂L/∂w_j
    dC = [[zi * dwj for dwj in dw] for zi in z]  # ∂L/∂C_ij = z_i · ∂L/∂w_j
    dB = [[xi * gj for gj in g] for xi in x]  # ∂L/∂B_ij = x_i · g_j
    sg = [sigma_prime(aj) * gj for aj, gj in zip(a, g, strict=True)]  # σ′(a_j) · g_j
    dA = [[xi * sj for sj in sg] for xi in x]  # ∂L/∂A_ij = x_i · σ′(a_j) · g_j
    return {"dA": dA, "dB": dB, "dC": dC, "dw": dw, "g": g}


def _backward_column(x: Vector, C: Matrix, values: ForwardValues, variant: Variant) -> Gradients:
    # Column vectors, the report's title: w_i = Σ_j C_ij z_j, a_i = Σ_j A_ij x_j.
    a, z, w = values["a"], values["z"], values["w"]
    sigma_prime = variant.sigma.derivative
    dw = output_gradient(w, variant)  # ∂L/∂w_i = 2 (w_i − t_i)
    g = vec_mat(dw, C)  # g_j = Σ_i ∂L/∂w_i · C_ij   (Cᵀ ∂L/∂w)
    dC = [[dwi * zj for zj in z] for dwi in dw]  # ∂L/∂C_ij = ∂L/∂w_i · z_j
    dB = [[gi * xj for xj in x] for gi in g]  # ∂L/∂B_ij = g_i · x_j
    sg = [sigma_prime(ai) * gi for ai, gi in zip(a, g, strict=True)]  # σ′(a_i) · g_i
    dA = [[si * xj for xj in x] for si in sg]  # ∂L/∂A_ij = σ′(a_i) · g_i · x_j
    return {"dA": dA, "dB": dB, "dC": dC, "dw": dw, "g": g}


def loss_and_grads(
    x: Sequence[float],
    A: Sequence[Sequence[float]],
    B: Sequence[Sequence[float]],
    C: Sequence[Sequence[float]],
    *,
    activation: str = "sigmoid",
    convention: str = "row",
    target: Sequence[float] | None = None,
) -> tuple[float, dict[str, Matrix]]:
    """L and its gradients with respect to A, B and C, for one input x.

    Takes plain lists (x of length K ≥ 1; A, B, C as K×K lists of rows) and returns
    ``(loss, {"A": dA, "B": dB, "C": dC})`` with each gradient in its weight's shape. The
    keywords choose the member of the family (see :mod:`engine.variant`); the defaults are the
    report's. Raises ValueError naming the problem for an unknown name, ragged shapes,
    non-numbers, booleans, NaN or infinities, and :class:`NumericalOverflowError` when finite
    inputs give a loss or gradient too large for a float64.
    """
    variant = DEFAULT_VARIANT
    if activation != "sigmoid" or convention != "row" or target is not None:
        variant = Variant(activation, convention, None if target is None else tuple(target))
    xv, Av, Bv, Cv = validate_model(x, A, B, C)
    variant.check_k(len(xv))
    # Imported here: engine.kernels builds on this module. Its generated code for one sample does
    # forward() and backward()'s operations in their order (the same bits) in a third of the time.
    from backprop_lab.engine import kernels

    sample = kernels.sample_function(len(xv), variant)
    if sample is None:
        return _hand_derived(xv, Av, Bv, Cv, variant)
    loss, dA, dB, dC = sample(xv, Av, Bv, Cv)
    return _checked(loss, {"A": dA, "B": dB, "C": dC}, xv, Av, Bv, Cv, variant)


def model_loss_and_grads(model: Model) -> tuple[float, dict[str, Matrix]]:
    """L and its gradients for a :class:`Model` in its variant, through :func:`forward` and
    :func:`backward` themselves: the hand-derived passes the checks verify and the window shows
    (:func:`loss_and_grads` gives the same bits, faster, through generated code). Raises
    :class:`NumericalOverflowError` like it."""
    return _hand_derived(model.x, model.A, model.B, model.C, model.variant)


def _hand_derived(
    x: Vector, A: Matrix, B: Matrix, C: Matrix, variant: Variant
) -> tuple[float, dict[str, Matrix]]:
    try:
        values = forward(x, A, B, C, variant)
        grads = backward(x, C, values, variant)
    except OverflowError as exc:  # pragma: no cover - float ops saturate to inf instead
        raise NumericalOverflowError(f"the loss overflows a float64 ({exc})") from None
    return _checked(
        values["loss"], {"A": grads["dA"], "B": grads["dB"], "C": grads["dC"]}, x, A, B, C, variant
    )


def _checked(
    loss: float, grads: dict[str, Matrix], x: Vector, A: Matrix, B: Matrix, C: Matrix, variant: Variant
) -> tuple[float, dict[str, Matrix]]:
    """(loss, grads) if all are finite, else NumericalOverflowError naming what overflowed."""
    if not math.isfinite(loss):
        w = forward(x, A, B, C, variant)["w"]
        raise NumericalOverflowError(
            f"the loss overflows a float64 (|w| reaches {max(abs(v) for v in w):.3g})"
        )
    for name, grad in grads.items():
        # One C-level sum per matrix: finite only if every entry is (a sum that overflows although
        # every entry is finite sends it to the entry-by-entry scan, which then finds nothing).
        total = sum(map(sum, grad))
        if total - total != 0.0:
            _check_finite(f"∂L/∂{name}", grad)
    return loss, grads


def _check_finite(name: str, m: Matrix) -> None:
    for i, row in enumerate(m):
        for j, v in enumerate(row):
            if not math.isfinite(v):
                raise NumericalOverflowError(f"{name}[{i}][{j}] overflows a float64")
