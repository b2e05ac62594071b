"""The assignment's family: which activation, which vector convention, and whether there is a target.

The report's model is one member: ``L = ||C(σ(Ax) + Bx)||²`` with the sigmoid, row vectors (its
numbers use a = xA) and no target. Courses set the same exercise with other members:

``activation``
    σ applied to the first branch, one of :data:`ACTIVATIONS`. Each is written below as a pair, the
    function and its derivative side by side, so a reader can check one against the other.
``convention``
    ``"row"``: a = xA, u = xB, w = zC, and ``A[i][j]`` is the weight from input i to unit j (the
    report's numbers and its PyTorch check). ``"column"``: a = Ax, u = Bx, w = Cz, and ``A[i][j]``
    is the weight from input j to unit i (the report's title). Gradients always have the shape of
    the matrix they belong to.
``target``
    None: L = Σ_j w_j² (the report). A K-vector t: L = Σ_j (w_j − t_j)², the same t for every
    training sample.

Everything here is plain Python; nothing imports Qt.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Real

__all__ = [
    "ACTIVATIONS",
    "CONVENTIONS",
    "DEFAULT_VARIANT",
    "Activation",
    "Variant",
    "activation",
    "check_activation",
    "check_convention",
]


# --------------------------------------------------------------------------- σ and σ′, side by side


def sigmoid(a: float) -> float:
    """σ(a) = 1 / (1 + e^(−a)); the exponent is kept ≤ 0 so ``math.exp`` never overflows."""
    if a >= 0.0:
        return 1.0 / (1.0 + math.exp(-a))
    e = math.exp(a)
    return e / (1.0 + e)


def sigmoid_prime(a: float) -> float:
    """σ′(a) = σ(a)(1 − σ(a)), as autograd writes it: 0, never NaN, where σ saturates."""
    s = sigmoid(a)
    return s * (1.0 - s)


def tanh(a: float) -> float:
    """tanh(a) = (e^a − e^(−a)) / (e^a + e^(−a))."""
    return math.tanh(a)


def tanh_prime(a: float) -> float:
    """tanh′(a) = 1 − tanh(a)², from the output as autograd computes it."""
    y = math.tanh(a)
    return 1.0 - y * y


def relu(a: float) -> float:
    """relu(a) = max(0, a)."""
    return a if a > 0.0 else 0.0


def relu_prime(a: float) -> float:
    """relu′(a) = 1 for a > 0, else 0 (0 at a = 0 itself, as PyTorch takes it)."""
    return 1.0 if a > 0.0 else 0.0


#: Above this input softplus is taken as the identity, as PyTorch's ``softplus`` does by default
#: (threshold 20): log(1 + e^a) and a then differ by less than 2.1e-9, and σ′ by as much from 1.
SOFTPLUS_THRESHOLD = 20.0


def softplus(a: float) -> float:
    """softplus(a) = log(1 + e^a), written so that e^a never overflows; a itself above 20."""
    if a > SOFTPLUS_THRESHOLD:
        return a
    if a > 0.0:
        return a + math.log1p(math.exp(-a))
    return math.log1p(math.exp(a))


def softplus_prime(a: float) -> float:
    """softplus′(a) = e^a / (1 + e^a), the sigmoid; 1 above 20, where softplus is a."""
    if a > SOFTPLUS_THRESHOLD:
        return 1.0
    return sigmoid(a)


def identity(a: float) -> float:
    """identity(a) = a: the model becomes linear, L = ||C(A + B)x||²."""
    return a


def identity_prime(a: float) -> float:
    """identity′(a) = 1."""
    return 1.0


@dataclass(frozen=True)
class Activation:
    """One activation: its function and derivative, and how the text and the LaTeX write them."""

    name: str
    function: Callable[[float], float]
    derivative: Callable[[float], float]
    #: σ(a) and σ′(a) written out in plain text (the chain-rule panel, the command line).
    formula: str
    derivative_formula: str
    #: The same two in LaTeX (Copy as LaTeX, the reports).
    latex: str
    derivative_latex: str


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in (
        Activation(
            "sigmoid",
            sigmoid,
            sigmoid_prime,
            "σ(a) = 1 / (1 + e^(−a))",
            "σ′(a) = σ(a)(1 − σ(a))",
            r"\sigma(a) = \frac{1}{1 + e^{-a}}",
            r"\sigma'(a) = \sigma(a)\,(1 - \sigma(a))",
        ),
        Activation(
            "tanh",
            tanh,
            tanh_prime,
            "σ(a) = tanh(a)",
            "σ′(a) = 1 − tanh(a)²",
            r"\sigma(a) = \tanh(a)",
            r"\sigma'(a) = 1 - \tanh^2(a)",
        ),
        Activation(
            "relu",
            relu,
            relu_prime,
            "σ(a) = max(0, a)",
            "σ′(a) = 1 if a > 0, else 0",
            r"\sigma(a) = \max(0, a)",
            r"\sigma'(a) = [a > 0]",
        ),
        Activation(
            "softplus",
            softplus,
            softplus_prime,
            "σ(a) = log(1 + e^a)",
            "σ′(a) = 1 / (1 + e^(−a))",
            r"\sigma(a) = \log(1 + e^{a})",
            r"\sigma'(a) = \frac{1}{1 + e^{-a}}",
        ),
        Activation(
            "identity",
            identity,
            identity_prime,
            "σ(a) = a",
            "σ′(a) = 1",
            r"\sigma(a) = a",
            r"\sigma'(a) = 1",
        ),
    )
}

CONVENTIONS = ("row", "column")


def check_activation(name: object) -> str:
    """``name`` if it names an activation; else ValueError listing the valid ones."""
    if not isinstance(name, str) or name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {_shown(name)}; expected one of {', '.join(ACTIVATIONS)}")
    return name


def check_convention(name: object) -> str:
    """``name`` if it names a convention; else ValueError listing the valid ones."""
    if not isinstance(name, str) or name not in CONVENTIONS:
        raise ValueError(f"unknown convention {_shown(name)}; expected one of {', '.join(CONVENTIONS)}")
    return name


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def activation(name: str) -> Activation:
    """The activation called ``name`` (ValueError listing the valid ones otherwise)."""
    return ACTIVATIONS[check_activation(name)]


def _check_target(target: object) -> tuple[float, ...] | None:
    if target is None:
        return None
    if isinstance(target, (str, bytes)) or not isinstance(target, Sequence):
        raise ValueError(f"the target t must be a list of numbers, not {type(target).__name__}")
    if len(target) == 0:
        raise ValueError("the target t is empty; it needs K numbers")
    values = []
    for j, e in enumerate(target):
        if isinstance(e, bool) or not isinstance(e, Real):
            raise ValueError(f"t[{j}] is not a number: {_shown(e)}")
        try:
            f = float(e)
        except OverflowError:
            f = math.inf
        if not math.isfinite(f):
            raise ValueError(f"t[{j}] is not finite: {_shown(e)}")
        values.append(f)
    return tuple(values)


@dataclass(frozen=True)
class Variant:
    """One member of the family. Frozen and hashable: the generated kernels are cached by it.

    The constructor checks the names (ValueError listing the valid ones) and turns the target
    into a tuple of floats; its length is checked against K where K is known (the model).
    """

    activation: str = "sigmoid"
    convention: str = "row"
    target: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        check_activation(self.activation)
        check_convention(self.convention)
        object.__setattr__(self, "target", _check_target(self.target))

    @property
    def is_default(self) -> bool:
        """Whether this is the report's own member (sigmoid, row vectors, no target)."""
        return self == DEFAULT_VARIANT

    @property
    def row(self) -> bool:
        return self.convention == "row"

    @property
    def sigma(self) -> Activation:
        return ACTIVATIONS[self.activation]

    def target_or_zero(self, k: int) -> list[float]:
        """t as a list of K floats, zeros when there is no target."""
        return list(self.target) if self.target is not None else [0.0] * k

    def check_k(self, k: int) -> None:
        """ValueError unless the target (if any) has K entries."""
        if self.target is not None and len(self.target) != k:
            raise ValueError(f"the target t has {len(self.target)} entries; expected K = {k}")

    def resized(self, k: int) -> Variant:
        """The same variant for K entries: the target cut to K, or padded with zeros."""
        if self.target is None or len(self.target) == k:
            return self
        return Variant(self.activation, self.convention, (self.target + (0.0,) * k)[:k])

    def describe(self) -> str:
        """A short phrase: "sigmoid, row vectors, no target"."""
        target = "target t" if self.target is not None else "no target"
        return f"{self.activation}, {self.convention} vectors, {target}"

    @property
    def products(self) -> tuple[str, str, str]:
        """The forward pass's three products, a, u and w, in this convention: ("xA", "xB", "zC") or
        ("Ax", "Bx", "Cz"). Every text that writes the forward pass takes them from here."""
        return ("xA", "xB", "zC") if self.row else ("Ax", "Bx", "Cz")

    def forward_formula(self) -> str:
        """ "a = xA, u = xB, w = zC" (row vectors) or "a = Ax, u = Bx, w = Cz" (column vectors)."""
        a, u, w = self.products
        return f"a = {a}, u = {u}, w = {w}"

    def weight_meaning(self) -> str:
        """What an entry of A (and of B and C alike) connects in this convention."""
        if self.row:
            return "A[i][j] is the weight from input i to unit j"
        return "A[i][j] is the weight from input j to unit i"

    def loss_formula(self) -> str:
        """The model in one line of plain text, in the variant's convention: "L = ‖C(σ(Ax) + Bx)‖²"."""
        inner = "(σ(xA) + xB)C" if self.row else "C(σ(Ax) + Bx)"
        target = " − t" if self.target is not None else ""
        return f"L = ‖{inner}{target}‖²"

    def loss_latex(self) -> str:
        """:meth:`loss_formula` in LaTeX."""
        inner = r"(\sigma(xA) + xB)\,C" if self.row else r"C\,(\sigma(Ax) + Bx)"
        target = " - t" if self.target is not None else ""
        return rf"L = \left\lVert {inner}{target} \right\rVert^2"

    def as_dict(self) -> dict[str, object]:
        """The session file's ``"variant"`` object."""
        return {
            "activation": self.activation,
            "convention": self.convention,
            "target": list(self.target) if self.target is not None else None,
        }


DEFAULT_VARIANT = Variant()
