"""The report's "1. The model" equations, written for the model's variant.

The report's own member (sigmoid, row vectors, no target) reads as it always has: a = xA, …,
L = Σ_j w_j², σ′(a) = σ(a)(1 − σ(a)), ∂L/∂A_ij = x_i σ′(a_j) g_j. The other members change what
the words and formulas say, from the same strings the chain-rule panel uses
(:mod:`engine.formulas`): the activation's σ and σ′, the target's L = Σ_j (w_j − t_j)² and
∂L/∂w_j = 2(w_j − t_j), and for column vectors the report's own title, L = ‖C(σ(Ax) + Bx)‖², with
its products a = Ax, w = Cz and its swapped indices ∂L/∂A_ij = σ′(a_i) g_i x_j.

HTML for both report flavours (web and Qt rich text); Qt-free and standard library only.
"""

from __future__ import annotations

from backprop_lab.engine.formulas import formula_html, output_gradient_symbol, rhs
from backprop_lab.engine.variant import Variant


def var(name: str, sub: str = "") -> str:
    """An italic variable, optionally subscripted: var("C", "ij") is C_ij (both report flavours)."""
    return f'<span class="var">{name}' + (f"<sub>{sub}</sub>" if sub else "") + "</span>"


def _dw(variant: Variant, j: str) -> str:
    """∂L/∂w_j typeset: 2w_j, or 2(w_j − t_j)."""
    return formula_html(output_gradient_symbol(variant, j))


def describe_html(variant: Variant) -> str:
    """The variant in words with its model, for the subtitle: "tanh, column vectors, target t"."""
    return f"{variant.describe()}: {formula_html(variant.loss_formula())}"


def model_equations_html(variant: Variant) -> list[str]:
    """The paragraphs of the model section before its initial values."""
    sigma, sigma_prime = variant.sigma.formula, variant.sigma.derivative_formula
    a = var("a")
    if variant.target is None:
        loss = f"{var('L')} = Σ<sub>{var('j')}</sub> {var('w', 'j')}²"
        target = ""
    else:
        loss = f"{var('L')} = Σ<sub>{var('j')}</sub> ({var('w', 'j')} − {var('t', 'j')})²"
        target = f", with the target {var('t')} the same for every sample"
    if variant.row:
        intro = (
            "Row vectors throughout, as in the report's numbers and its PyTorch check: "
            f"{var('A')}[{var('i')}][{var('j')}] is the weight from input {var('i')} to unit {var('j')}"
        )
        products = tuple(var(p) for p in variant.products)
        g = f"{var('g', 'i')} = Σ<sub>{var('j')}</sub> {var('C', 'ij')} · {_dw(variant, 'j')}"
        grads = (
            f"∂{var('L')}/∂{var('C', 'ij')} = {_dw(variant, 'j')} {var('z', 'i')}",
            f"∂{var('L')}/∂{var('B', 'ij')} = {var('x', 'i')} {var('g', 'j')}",
            f"∂{var('L')}/∂{var('A', 'ij')} = {var('x', 'i')} σ′({var('a', 'j')}) {var('g', 'j')}",
        )
    else:
        intro = (
            "Column vectors throughout, as in the report's title: "
            f"{var('A')}[{var('i')}][{var('j')}] is the weight from input {var('j')} to unit {var('i')}"
        )
        products = tuple(var(p) for p in variant.products)
        g = (
            f"{var('g', 'j')} = Σ<sub>{var('i')}</sub> {var('C', 'ij')} · {_dw(variant, 'i')} "
            f"(that is, {var('g')} = {var('C')}<sup>T</sup> ∂{var('L')}/∂{var('w')})"
        )
        grads = (
            f"∂{var('L')}/∂{var('C', 'ij')} = {_dw(variant, 'i')} {var('z', 'j')}",
            f"∂{var('L')}/∂{var('B', 'ij')} = {var('g', 'i')} {var('x', 'j')}",
            f"∂{var('L')}/∂{var('A', 'ij')} = σ′({var('a', 'i')}) {var('g', 'i')} {var('x', 'j')}",
        )
    return [
        f'<p class="eq">{formula_html(variant.loss_formula())}</p>',
        f"<p>{intro}{target}; σ is {variant.activation}:</p>",
        f'<p class="eq">{var("a")} = {products[0]}, &nbsp; {var("y")} = σ({a}), &nbsp; '
        f"{var('u')} = {products[1]}, &nbsp; {var('z')} = {var('y')} + {var('u')}, &nbsp; "
        f"{var('w')} = {products[2]}, &nbsp; {loss}</p>",
        f"<p>The gradients follow from the chain rule, with σ({a}) = {formula_html(rhs(sigma))}, "
        f"σ′({a}) = {formula_html(rhs(sigma_prime))} and {g}:</p>",
        '<p class="eq">' + ", &nbsp; ".join(grads) + "</p>",
    ]
