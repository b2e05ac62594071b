"""Copy as LaTeX: one entry's chain rule (:func:`engine.explain.derive`) as an amsmath ``align*``.

The same plain-text formulas the chain-rule panel typesets as HTML, turned into LaTeX by
:func:`engine.formulas.latex`, so the two never disagree about the variant's σ′, its ∂L/∂w or its
index order. Qt-free and standard library only.
"""

from __future__ import annotations

from backprop_lab.engine.explain import Derivation
from backprop_lab.engine.formulas import latex, latex_number


def _frac(derivative: str) -> str:
    """ "∂L/∂y_1" → \\frac{\\partial L}{\\partial y_{1}}."""
    top, bottom = derivative.split("/", 1)
    return rf"\frac{{{latex(top).strip()}}}{{{latex(bottom).strip()}}}"


def _factor_number(v: float) -> str:
    text = latex_number(v)
    return f"({text})" if v < 0 else text


def derivation_latex(d: Derivation) -> str:
    """One entry's chain rule as a LaTeX ``align*`` (amsmath), with the variant's formulas.

    The first lines name the variant and its model (σ and σ′ as :data:`engine.variant.ACTIVATIONS`
    writes them in LaTeX); then the rule in the model's names, the symbols, their values (every
    digit) and the product; then what each symbol is, with its value. Factors that are 1 (no
    activation on the B and C layers) are left out.
    """
    v = d.variant
    entry = f"{d.matrix}_{{{d.i},{d.j}}}"
    factors = [f for f in d.factors if f.derivative != "(no activation)"]
    rule = r" \cdot ".join(_frac(f.derivative) for f in factors)
    symbols = r" \cdot ".join(latex(f.symbol) for f in factors)
    numbers = r" \cdot ".join(_factor_number(f.value) for f in factors)
    lines = [
        f"% Backprop Lab: dL/d{d.matrix}[{d.i}][{d.j}] ({v.describe()})",
        rf"\[ {v.loss_latex()}, \qquad {v.sigma.latex}, \quad {v.sigma.derivative_latex} \]",
        r"\begin{align*}",
        rf"  \frac{{\partial L}}{{\partial {entry}}} &= {rule} \\",
        rf"    &= {symbols} \\",
        rf"    &= {numbers} \\",
        rf"    &= {latex_number(d.product)}",
        r"\end{align*}",
        "where",
        r"\begin{align*}",
    ]
    where = []
    for f in factors:
        symbol = latex(f.symbol)
        if f.formula.startswith("input "):
            where.append(rf"  {symbol} &= {latex_number(f.value)}")
        else:
            where.append(rf"  {symbol} &= {latex(f.formula)} = {latex_number(f.value)}")
    for symbol, formula, value in d.intermediates:
        if any(symbol == f.symbol for f in factors):
            continue
        rest = "" if formula == "the target" else f"{latex(formula)} = "  # t_j is a number, not a formula
        where.append(rf"  {latex(symbol)} &= {rest}{latex_number(value)}")
    lines.append(" \\\\\n".join(where))
    lines.append(r"\end{align*}")
    return "\n".join(lines) + "\n"
