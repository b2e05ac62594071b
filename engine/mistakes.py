"""The mistakes this derivation invites, each computed from the model, and the diagnosis that
names the one reproducing a student's numbers.

The catalogue's ids are stable (printed with every diagnosis, kept in gradebooks):

``transposed``, ``other-convention``, ``missing-factor-2``, ``scaled``, ``sign-flipped``,
``activation-not-derivative``, ``derivative-at-input``, ``upstream-C-transposed``, ``dC-uses-y``,
``dB-has-derivative``, ``dA-dB-swapped``, and ``unknown`` when nothing fits.

Each mistake is computed for the model in its variant (its activation, its convention, its
target). In the report's row vectors, with ∂L/∂w_j = 2(w_j − t_j) (t = 0 without a target) and
g_i = Σ_j C_ij · ∂L/∂w_j::

    transposed                 (∂L/∂M)ᵀ                      one matrix
    other-convention           (∂L/∂M)ᵀ for every matrix     at least two given, all transposed
    missing-factor-2           ½ ∂L/∂M                       ∂L/∂w_j = w_j − t_j
    scaled                     c · ∂L/∂M                     c by least squares; not 1, ½, −1 or 0
    sign-flipped               −∂L/∂M
    activation-not-derivative  A: x_i · σ(a_j) · g_j
    derivative-at-input        A: x_i · σ′(x_j) · g_j        the report's own derived_sig(x_j)
    upstream-C-transposed      A: x_i · σ′(a_j) · g′_j,  B: x_i · g′_j,  g′_i = Σ_j C_ji · ∂L/∂w_j
    dC-uses-y                  C: σ(a_i) · ∂L/∂w_j           z replaced by y, the B branch forgotten
    dB-has-derivative          B: x_i · σ′(a_j) · g_j        (= the true ∂L/∂A, ∂L/∂A itself right)
    dA-dB-swapped              A: the true ∂L/∂B, B: the true ∂L/∂A

Column vectors compute the same mistakes in their own index order: the column member at A, B, C is
the row member at Aᵀ, Bᵀ, Cᵀ with every gradient transposed (:mod:`engine.model`), so each mistake
is computed in row form on the transposed weights and transposed back (σ′(x_i) · g_i · x_j for
derivative-at-input, g′ = C ∂L/∂w for upstream-C-transposed, …).

A mistake reproduces a student's matrix when every entry lies within that entry's tolerance (the
one :mod:`engine.compare` judged the truth with). A mistake whose numbers agree with the truth for
this model (derivative-at-input with the identity, transposed for a symmetric gradient, …) is
skipped: it cannot be told from a right answer. When several fit, the first of :data:`PRECEDENCE`
is named; ``scaled`` is tried last, since with one number (K = 1) every wrong answer is a multiple
of the right one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from backprop_lab.engine import formulas
from backprop_lab.engine.formatting import format_number
from backprop_lab.engine.model import Matrix, Model, backward, forward, transpose
from backprop_lab.engine.variant import Variant

__all__ = [
    "MISTAKE_IDS",
    "PRECEDENCE",
    "UNKNOWN",
    "Diagnosis",
    "chain_rule_line",
    "diagnose",
    "matching_mistakes",
    "mistaken_gradients",
]

UNKNOWN = "unknown"
MISTAKE_IDS = (
    "transposed",
    "other-convention",
    "missing-factor-2",
    "scaled",
    "sign-flipped",
    "activation-not-derivative",
    "derivative-at-input",
    "upstream-C-transposed",
    "dC-uses-y",
    "dB-has-derivative",
    "dA-dB-swapped",
    UNKNOWN,
)

#: The order in which mistakes are tried: the ones involving several matrices first (they explain
#: more of what the student gave), the per-matrix ones in the catalogue's order, ``scaled`` last.
PRECEDENCE = (
    "other-convention",
    "dA-dB-swapped",
    "transposed",
    "missing-factor-2",
    "sign-flipped",
    "activation-not-derivative",
    "derivative-at-input",
    "upstream-C-transposed",
    "dC-uses-y",
    "dB-has-derivative",
    "scaled",
)

#: Factors ``scaled`` never names: 1 is right, ½ and −1 have their own ids, 0 is no gradient at
#: all. A matrix any of them reproduces is not ``scaled``, whatever least squares makes of it.
_EXCLUDED_FACTORS = (1.0, 0.5, -1.0, 0.0)


@dataclass(frozen=True)
class Diagnosis:
    """What is wrong with one gradient: ``id`` (one of :data:`MISTAKE_IDS`), ``sentence`` (one
    sentence for the student, the factor stated for ``scaled``), ``correct`` (the correct line of
    the chain rule for that matrix, in the model's variant), ``factor`` (``scaled`` only)."""

    id: str
    sentence: str
    correct: str
    factor: float | None = None


# --------------------------------------------------------------------------- the mistaken numbers


def _scaled(m: Matrix, c: float) -> Matrix:
    return [[c * v for v in row] for row in m]


def _row_form(model: Model) -> dict[str, dict[str, Matrix]]:
    """The mistakes that change a formula, in row form: {id: {matrix: numbers}} (row layout)."""
    v = model.variant
    row = Variant(v.activation, "row", v.target)
    if v.row:
        A, B, C = model.A, model.B, model.C
    else:
        A, B, C = transpose(model.A), transpose(model.B), transpose(model.C)
    x = model.x
    values = forward(x, A, B, C, row)
    grads = backward(x, C, values, row)
    a, y, dw, g = values["a"], values["y"], grads["dw"], grads["g"]
    sigma_prime = v.sigma.derivative
    k = len(x)

    def outer(left: list[float], right: list[float]) -> Matrix:
        return [[li * rj for rj in right] for li in left]

    # g′_i = Σ_j C_ji · ∂L/∂w_j: the upstream sum taken down a column of C instead of along a row.
    g_wrong = [sum(C[j][i] * dw[j] for j in range(k)) for i in range(k)]
    return {
        "activation-not-derivative": {"A": outer(x, [yj * gj for yj, gj in zip(y, g, strict=True)])},
        "derivative-at-input": {"A": outer(x, [sigma_prime(xj) * gj for xj, gj in zip(x, g, strict=True)])},
        "upstream-C-transposed": {
            "A": outer(x, [sigma_prime(aj) * gj for aj, gj in zip(a, g_wrong, strict=True)]),
            "B": outer(x, g_wrong),
        },
        "dC-uses-y": {"C": outer(y, dw)},
    }


def mistaken_gradients(model: Model, truth: Mapping[str, Matrix]) -> dict[str, dict[str, Matrix]]:
    """What each mistake of the catalogue gives for the model: {id: {matrix name: numbers}}, every
    matrix in its weight's layout. ``truth`` is the model's true {"A", "B", "C"} gradients.
    ``scaled`` is absent (its factor comes from the student's numbers); ``other-convention`` and
    ``dA-dB-swapped`` give the numbers of each matrix they change."""
    transposed = {name: transpose(m) for name, m in truth.items()}
    out: dict[str, dict[str, Matrix]] = {
        "transposed": transposed,
        "other-convention": transposed,
        "missing-factor-2": {name: _scaled(m, 0.5) for name, m in truth.items()},
        "sign-flipped": {name: _scaled(m, -1.0) for name, m in truth.items()},
        "dB-has-derivative": {"B": truth["A"]},
        "dA-dB-swapped": {"A": truth["B"], "B": truth["A"]},
    }
    for mistake, matrices in _row_form(model).items():
        out[mistake] = matrices if model.variant.row else {n: transpose(m) for n, m in matrices.items()}
    return out


# --------------------------------------------------------------------------- matching


def _within(given: Matrix, expected: Matrix, tolerance: Matrix) -> bool:
    return all(
        abs(s - e) <= t
        for srow, erow, trow in zip(given, expected, tolerance, strict=True)
        for s, e, t in zip(srow, erow, trow, strict=True)
    )


def _fits(
    name: str,
    candidate: Matrix,
    given: Mapping[str, Matrix],
    tol: Mapping[str, Matrix],
    truth: Mapping[str, Matrix],
) -> bool:
    """Whether ``candidate`` reproduces the student's ∂L/∂name and differs from the truth."""
    return _within(given[name], candidate, tol[name]) and not _within(candidate, truth[name], tol[name])


def _least_squares_factor(given: Matrix, truth: Matrix) -> float | None:
    """The c minimising ‖given − c · truth‖ (None when the truth is all zeros)."""
    tt = sum(t * t for row in truth for t in row)
    if tt == 0.0:
        return None
    return (
        sum(s * t for srow, trow in zip(given, truth, strict=True) for s, t in zip(srow, trow, strict=True))
        / tt
    )


def _scaled_factor(
    name: str, given: Mapping[str, Matrix], tol: Mapping[str, Matrix], truth: Mapping[str, Matrix]
) -> float | None:
    """The factor c when c · truth reproduces the student's matrix and no excluded factor does."""
    c = _least_squares_factor(given[name], truth[name])
    if c is None or not _fits(name, _scaled(truth[name], c), given, tol, truth):
        return None
    if any(_within(given[name], _scaled(truth[name], r), tol[name]) for r in _EXCLUDED_FACTORS):
        return None
    return c


def _factor_text(c: float) -> str:
    """c with 4 significant digits, more if 4 would read as a factor ``scaled`` never names."""
    text = format_number(c, "short")
    return format_number(c, "short", digits=8) if float(text) in _EXCLUDED_FACTORS else text


def matching_mistakes(
    model: Model,
    name: str,
    given: Mapping[str, Matrix],
    tolerance: Mapping[str, Matrix],
    truth: Mapping[str, Matrix],
) -> list[str]:
    """Every id that reproduces the student's ∂L/∂``name``, in :data:`PRECEDENCE` order.

    ``given`` holds every gradient the student gave (cross-matrix mistakes look at the others),
    ``tolerance`` their per-entry tolerances, ``truth`` the model's true gradients. A cross-matrix
    id replaces its one-matrix counterpart: ``other-convention`` is listed instead of
    ``transposed``, ``dA-dB-swapped`` instead of ``dB-has-derivative``.
    """
    numbers = mistaken_gradients(model, truth)

    def fits(mistake: str, matrix: str) -> bool:
        candidate = numbers[mistake].get(matrix)
        return candidate is not None and _fits(matrix, candidate, given, tolerance, truth)

    found: list[str] = []
    transposed = [n for n in given if fits("transposed", n)]
    # "Every given gradient is the transpose": the ones that agree are symmetric, so they are too.
    all_transposed = all(
        n in transposed or _within(given[n], numbers["transposed"][n], tolerance[n]) for n in given
    )
    other_convention = name in transposed and len(transposed) >= 2 and all_transposed
    swapped = {"A", "B"} <= given.keys() and fits("dA-dB-swapped", "A") and fits("dA-dB-swapped", "B")
    for mistake in PRECEDENCE:
        if mistake == "other-convention":
            hit = other_convention
        elif mistake == "transposed":
            hit = name in transposed and not other_convention
        elif mistake == "dA-dB-swapped":
            hit = swapped and name in ("A", "B")
        elif mistake == "dB-has-derivative":
            hit = not swapped and fits(mistake, name)
        elif mistake == "scaled":
            hit = _scaled_factor(name, given, tolerance, truth) is not None
        else:
            hit = fits(mistake, name)
        if hit:
            found.append(mistake)
    return found


def diagnose(
    model: Model,
    name: str,
    given: Mapping[str, Matrix],
    tolerance: Mapping[str, Matrix],
    truth: Mapping[str, Matrix],
) -> Diagnosis:
    """The diagnosis of the student's disagreeing ∂L/∂``name`` (see :func:`matching_mistakes`):
    the first matching mistake, or ``unknown``."""
    found = matching_mistakes(model, name, given, tolerance, truth)
    mistake = found[0] if found else UNKNOWN
    factor = _scaled_factor(name, given, tolerance, truth) if mistake == "scaled" else None
    return Diagnosis(
        mistake, _sentence(mistake, name, model.variant, factor), chain_rule_line(model.variant, name), factor
    )


# --------------------------------------------------------------------------- the words


def chain_rule_line(variant: Variant, name: str) -> str:
    """The correct chain rule of ∂L/∂``name`` in the variant's notation, with what it uses:
    "∂L/∂A_ij = x_i · σ′(a_j) · g_j, with g_j = Σ_k C_j,k · 2w_k and σ′(a) = σ(a)(1 − σ(a))"."""
    unit, inp = ("j", "i") if variant.row else ("i", "j")
    g = f"g_{unit} = {formulas.upstream_formula(variant, unit)}"
    if name == "A":
        terms = (f"x_{inp}", f"σ′(a_{unit})", f"g_{unit}")
        line = " · ".join(terms if variant.row else terms[1:] + terms[:1])
        return f"∂L/∂A_ij = {line}, with {g} and {variant.sigma.derivative_formula}"
    if name == "B":
        line = f"x_{inp} · g_{unit}" if variant.row else f"g_{unit} · x_{inp}"
        return f"∂L/∂B_ij = {line}, with {g}"
    if name != "C":
        raise ValueError(f"no matrix named {name!r}; expected one of A, B, C")
    dw = formulas.output_gradient_symbol(variant, unit)
    line = f"z_{inp} · {dw}" if variant.row else f"{dw} · z_{inp}"
    return f"∂L/∂C_ij = {line}, with z_{inp} = σ(a_{inp}) + u_{inp}"


def _sentence(mistake: str, name: str, variant: Variant, factor: float | None) -> str:
    """One sentence for the student about ∂L/∂``name``."""
    d = f"∂L/∂{name}"
    unit = "j" if variant.row else "i"
    a, u, _ = variant.products
    dw = formulas.output_gradient_symbol(variant, unit)
    other = "column vectors (a = Ax)" if variant.row else "row vectors (a = xA)"
    sentences: dict[str, Callable[[], str]] = {
        "transposed": lambda: (
            f"{d} is the transpose of the right matrix: a gradient has its weight's layout, "
            f"and here {variant.weight_meaning()}."
        ),
        "other-convention": lambda: (
            f"Every gradient is transposed: these are the formulas for {other} applied to a model "
            f"written with {'row' if variant.row else 'column'} vectors (a = {a})."
        ),
        "missing-factor-2": lambda: (
            f"{d} is half the right one: ∂L/∂w_{unit} = {dw}, and the 2 from differentiating the "
            "square is missing."
        ),
        "scaled": lambda: (
            f"{d} is the right matrix times {_factor_text(factor or 0.0)}: a constant factor "
            "went wrong somewhere along the chain."
        ),
        "sign-flipped": lambda: (
            f"{d} has the wrong sign: it points downhill, and gradient descent, which subtracts "
            "it, would climb."
        ),
        "activation-not-derivative": lambda: (
            f"{d} uses σ(a_{unit}) where the chain rule needs σ′(a_{unit}), the derivative of the activation."
        ),
        "derivative-at-input": lambda: (
            f"{d} takes σ′ at the input, σ′(x_{unit}), instead of at the unit's pre-activation "
            f"a_{unit} (a = {a})."
        ),
        "upstream-C-transposed": lambda: (
            f"{d} sums the upstream gradient over the wrong index of C: it needs "
            f"g_{unit} = {formulas.upstream_formula(variant, unit)}."
        ),
        "dC-uses-y": lambda: (
            f"{d} uses y = σ(a) where it needs z = σ(a) + u: the linear branch u = {u} feeds w too."
        ),
        "dB-has-derivative": lambda: (
            f"{d} multiplies by σ′(a_{unit}), but the linear branch u = {u} has no activation: "
            "its derivative is 1."
        ),
        "dA-dB-swapped": lambda: (
            f"∂L/∂A and ∂L/∂B are swapped: σ′ belongs to A's branch (y = σ({a})), not to B's."
        ),
        UNKNOWN: lambda: (
            f"{d} matches none of the known mistakes; check it entry by entry against the chain rule below."
        ),
    }
    return sentences[mistake]()
