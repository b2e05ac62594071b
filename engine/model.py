"""The report's model, its forward pass and its hand-derived backward pass.

Convention (row vectors, as in the report and its PyTorch check)::

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

Everything here is plain Python on plain lists; no function mutates its inputs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Real
from operator import mul
from typing import TypeAlias, TypedDict

from backprop_lab.engine.formatting import format_count

Vector: TypeAlias = list[float]
Matrix: TypeAlias = list[list[float]]

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


# --------------------------------------------------------------------------- sigmoid


def sigmoid(a: float) -> float:
    """σ(a) = 1 / (1 + e^(−a)), for any finite a without overflow.

    ``math.exp`` raises OverflowError past ~709, so the exponent is always ≤ 0:
    for a < 0 the algebraically equal e^a / (1 + e^a) is used.
    """
    if a >= 0.0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)
    return e / (1.0 + e)


def sigmoid_prime(a: float) -> float:
    """σ'(a) = σ(a)(1 − σ(a)) (the report's Figure 1).

    Written as autograd writes it, so it agrees with PyTorch to the last bits; it is 0,
    never NaN, where σ saturates to exactly 0 or 1.
    """
    s = sigmoid(a)
    return s * (1.0 - s)


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


def validate_vector(name: str, v: object, k: int | None = None) -> Vector:
    """Return v as a fresh list of floats, or raise ValueError naming the bad entry."""
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
    """x (K floats) and the weights A, B, C (K×K lists of rows, ``A[i][j]`` from input i to unit j).

    The one model type of the engine, the session files, the reports, the command line and the
    window's undo snapshots. The constructor validates and copies once (floats, finite, square,
    1 ≤ K ≤ MAX_K), raising ValueError naming the entry; after that nobody re-checks it. Frozen:
    a changed model is a new one (:meth:`with_weights`). The lists themselves are plain lists so
    the math core (:func:`forward`, :func:`loss_and_grads`) takes them as they are; treat them
    as read-only.
    """

    x: Vector
    A: Matrix
    B: Matrix
    C: Matrix

    def __post_init__(self) -> None:
        for name, value in zip("xABC", validate_model(self.x, self.A, self.B, self.C), strict=True):
            object.__setattr__(self, name, value)

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
        return m

    def with_weights(self, A: Matrix, B: Matrix, C: Matrix) -> Model:
        """The same x with new weights (validated)."""
        return Model(self.x, A, B, C)


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


def forward(x: Vector, A: Matrix, B: Matrix, C: Matrix) -> ForwardValues:
    """The forward pass; returns every intermediate under the report's names.

    Keys: ``a, y, u, z, w`` (lists of K floats) and ``loss`` (a float).
    Inputs are assumed valid (see :func:`validate_model`).
    """
    a = vec_mat(x, A)
    y = [sigmoid(aj) for aj in a]
    u = vec_mat(x, B)
    z = [yj + uj for yj, uj in zip(y, u, strict=True)]
    w = vec_mat(z, C)
    loss = sum(wj * wj for wj in w)
    return {"a": a, "y": y, "u": u, "z": z, "w": w, "loss": loss}


def backward(x: Vector, C: Matrix, values: ForwardValues) -> Gradients:
    """The report's hand-derived gradients from the forward pass's ``values``.

    Returns ``dA, dB, dC`` (K×K, same layout as the weights) and the shared
    upstream terms ``dw`` (∂L/∂w = 2w) and ``g`` (∂L/∂z = C·2w).
    """
    a, z, w = values["a"], values["z"], values["w"]
    dw = [2.0 * wj for wj in w]  # ∂L/∂w_j
    g = [sum(map(mul, row, dw)) for row in C]  # g_i = Σ_j C_ij · 2w_j
    dC = [[zi * dwj for dwj in dw] for zi in z]  # ∂L/∂C_ij = 2w_j · z_i
    dB = [[xi * gj for gj in g] for xi in x]  # ∂L/∂B_ij = x_i · g_j
    sg = [sigmoid_prime(aj) * gj for aj, gj in zip(a, g, strict=True)]  # σ'(a_j) · g_j
    dA = [[xi * sj for sj in sg] for xi in x]  # ∂L/∂A_ij = x_i · σ'(a_j) · g_j
    return {"dA": dA, "dB": dB, "dC": dC, "dw": dw, "g": g}


def loss_and_grads(
    x: Sequence[float],
    A: Sequence[Sequence[float]],
    B: Sequence[Sequence[float]],
    C: Sequence[Sequence[float]],
) -> tuple[float, dict[str, Matrix]]:
    """L and its gradients with respect to A, B and C, for one input x.

    Takes plain lists (x of length K ≥ 1; A, B, C as K×K lists of rows) and returns
    ``(loss, {"A": dA, "B": dB, "C": dC})`` with each gradient in its weight's shape.
    Raises ValueError naming the entry for ragged shapes, non-numbers, booleans, NaN or
    infinities, and :class:`NumericalOverflowError` when finite inputs give a loss or
    gradient too large for a float64.
    """
    xv, Av, Bv, Cv = validate_model(x, A, B, C)
    try:
        values = forward(xv, Av, Bv, Cv)
        grads = backward(xv, Cv, values)
    except OverflowError as exc:  # pragma: no cover - float ops saturate to inf instead
        raise NumericalOverflowError(f"the loss overflows a float64 ({exc})") from None
    loss = values["loss"]
    result: dict[str, Matrix] = {"A": grads["dA"], "B": grads["dB"], "C": grads["dC"]}
    if not math.isfinite(loss):
        raise NumericalOverflowError(
            f"the loss overflows a float64 (|w| reaches {max(abs(v) for v in values['w']):.3g})"
        )
    for name, grad in result.items():
        for i, row in enumerate(grad):
            for j, v in enumerate(row):
                if not math.isfinite(v):
                    raise NumericalOverflowError(f"∂L/∂{name}[{i}][{j}] overflows a float64")
    return loss, result
