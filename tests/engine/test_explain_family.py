"""The chain rule of one entry, loss along the gradient and Copy as LaTeX for every member of the
family (five activations × row/column × with/without a target). No Qt here."""

from __future__ import annotations

import itertools
import math
import random

import pytest

from backprop_lab.engine.explain import derive, feeding_cells, loss_along_gradient
from backprop_lab.engine.explain_latex import derivation_latex
from backprop_lab.engine.formulas import formula_html, latex, latex_number, sigma_prime_at
from backprop_lab.engine.model import MATRIX_NAMES, Model, forward, loss_and_grads, transpose
from backprop_lab.engine.session import Session
from backprop_lab.engine.training import batch_loss_and_grads
from backprop_lab.engine.variant import ACTIVATIONS, CONVENTIONS, DEFAULT_VARIANT, Variant


def _target(k: int, seed: int) -> tuple[float, ...]:
    rng = random.Random(seed)
    return tuple(rng.uniform(-2.0, 2.0) for _ in range(k))


def variants(k: int) -> list[Variant]:
    """All 20 members at K: every activation, both conventions, no target and a target."""
    return [
        Variant(a, c, t) for a, c, t in itertools.product(ACTIVATIONS, CONVENTIONS, (None, _target(k, 99)))
    ]


def _model(k: int, seed: int, v: Variant, low: float = -1.5, high: float = 1.5) -> Model:
    return Session.random(k, seed, low=low, high=high).model.with_variant(v)


def _grads(m: Model) -> dict[str, list[list[float]]]:
    v = m.variant
    return loss_and_grads(
        m.x, m.A, m.B, m.C, activation=v.activation, convention=v.convention, target=v.target
    )[1]


# --------------------------------------------------------------------------- derive = backward


@pytest.mark.parametrize("k", [1, 3, 5])
def test_derive_equals_backward_entry_for_every_variant(k):
    for n, v in enumerate(variants(k)):
        m = _model(k, 10 + n, v)
        grads = _grads(m)
        for name in MATRIX_NAMES:
            for i in range(k):
                for j in range(k):
                    d = derive(m, name, i, j)
                    where = (v, name, i, j)
                    assert d.variant == v, where
                    # Same operations in the same order as engine.model.backward: bit-identical.
                    assert d.product == d.engine_value == grads[name][i][j], where
                    f = d.factors
                    expected = grads[name][i][j]
                    assert math.isclose(
                        f[0].value * f[1].value * f[2].value, expected, rel_tol=1e-14, abs_tol=0
                    ), where
                    if name != "C":
                        # g is the sum of its terms in the engine's order: bit-identical too.
                        assert d.upstream_sum == f[0].value, where
                        assert [t.value for t in d.terms] == [t.weight * t.upstream for t in d.terms], where


def test_relu_at_exactly_zero_has_slope_zero():
    """σ′(0) = 0 for relu, as PyTorch takes it: a_j = 0 exactly makes the A entry 0."""
    m = Model(
        [1.0, 2.0],
        [[0.0, 1.0], [0.0, 1.0]],
        [[1.0, 0.0], [0.0, 1.0]],
        [[1.0, 2.0], [3.0, 4.0]],
        Variant("relu"),
    )
    d = derive(m, "A", 1, 0)
    assert forward(m.x, m.A, m.B, m.C, m.variant)["a"][0] == 0.0
    assert d.factors[1].value == 0.0 and d.product == 0.0 == _grads(m)["A"][1][0]


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_the_activation_factor_is_the_activations_own_sigma_prime(name):
    v = Variant(name)
    m = _model(4, 3, v)
    a = forward(m.x, m.A, m.B, m.C, v)["a"]
    d = derive(m, "A", 2, 1)
    act = d.factors[1]
    assert act.symbol == "σ′(a_1)"
    assert act.value == ACTIVATIONS[name].derivative(a[1])
    assert act.formula == sigma_prime_at(v, "a_1")
    expected = {
        "sigmoid": "σ(a_1)(1 − σ(a_1))",
        "tanh": "1 − tanh(a_1)²",
        "relu": "1 if a_1 > 0, else 0",
        "softplus": "1 / (1 + e^(−a_1))",
        "identity": "1",
    }[name]
    assert act.formula == expected
    sigma = {s: f for s, f, _ in d.intermediates}["σ(a_1)"]
    assert (
        sigma
        == {
            "sigmoid": "1 / (1 + e^(−a_1))",
            "tanh": "tanh(a_1)",
            "relu": "max(0, a_1)",
            "softplus": "log(1 + e^a_1)",
            "identity": "a_1",
        }[name]
    )


def test_a_target_makes_the_output_factor_two_w_minus_t():
    t = (0.5, -1.0, 2.0)
    v = Variant("sigmoid", "row", t)
    m = _model(3, 4, v)
    w = forward(m.x, m.A, m.B, m.C, v)["w"]
    d = derive(m, "C", 0, 2)
    up = d.factors[0]
    assert (up.derivative, up.symbol, up.formula) == ("∂L/∂w_2", "2(w_2 − t_2)", "2 · (w_2 − t_2)")
    assert up.value == 2.0 * (w[2] - t[2])
    assert ("t_2", "the target", 2.0) in d.intermediates
    a = derive(m, "A", 1, 2)
    assert a.sum_upstream == "2(w_k − t_k)"
    assert a.factors[0].formula == "Σ_k C_2,k · 2(w_k − t_k)"
    assert [term.upstream for term in a.terms] == [2.0 * (wk - tk) for wk, tk in zip(w, t, strict=True)]
    # Without a target the same entry reads 2w.
    plain = derive(m.with_variant(DEFAULT_VARIANT), "C", 0, 2)
    assert plain.factors[0].symbol == "2w_2" and plain.sum_upstream == "2w_k"


def test_column_convention_swaps_the_roles_of_i_and_j():
    """Column vectors: A[i][j] feeds unit i from input j; g_i = Σ_k C_ki ∂L/∂w_k."""
    v = Variant("tanh", "column")
    m = _model(4, 5, v)
    fw = forward(m.x, m.A, m.B, m.C, v)
    i, j = 1, 3
    d = derive(m, "A", i, j)
    up, act, inp = d.factors
    assert (d.unit, d.input, d.net, d.output) == (i, j, "a_1", "y_1")
    assert (up.symbol, act.symbol, inp.symbol) == ("g_1", "σ′(a_1)", "x_3")
    assert inp.value == m.x[j] and inp.derivative == "∂a_1/∂A_1,3"
    assert act.value == ACTIVATIONS["tanh"].derivative(fw["a"][i])
    assert [t.weight for t in d.terms] == [m.C[k][i] for k in range(4)]
    assert d.sum_weight == "C_k,1" and up.formula == "Σ_k C_k,1 · 2w_k"
    assert {s: f for s, f, _ in d.intermediates}["a_1"] == "Σ_s A_1,s x_s"
    c = derive(m, "C", i, j)
    assert (c.factors[0].symbol, c.factors[2].symbol) == ("2w_1", "z_3")
    assert c.factors[2].value == fw["z"][j]


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_column_with_transposed_weights_is_row_transposed(name):
    """The row/column identity, entry by entry: column(Aᵀ, Bᵀ, Cᵀ)[i][j] is row(A, B, C)[j][i]."""
    row = _model(3, 6, Variant(name, "row", (0.25, -0.5, 1.0)))
    col = Model(
        row.x,
        transpose(row.A),
        transpose(row.B),
        transpose(row.C),
        Variant(name, "column", (0.25, -0.5, 1.0)),
    )
    for m_name in MATRIX_NAMES:
        for i in range(3):
            for j in range(3):
                dr, dc = derive(row, m_name, j, i), derive(col, m_name, i, j)
                assert math.isclose(dc.product, dr.product, rel_tol=1e-12, abs_tol=1e-300)
                assert [f.symbol for f in dc.factors] == [f.symbol for f in dr.factors]


def test_feeding_cells_column_convention():
    k = 4
    a = feeding_cells("A", 1, 2, k, "column")
    assert a == {"x": {(0, 2)}, "A": {(1, s) for s in range(k)}, "C": {(t, 1) for t in range(k)}}
    b = feeding_cells("B", 1, 2, k, "column")
    assert b == {"x": {(0, 2)}, "B": {(1, 2)}, "C": {(t, 1) for t in range(k)}}
    c = feeding_cells("C", 1, 2, k, "column")
    assert c["x"] == {(0, s) for s in range(k)}
    assert c["A"] == c["B"] == {(2, s) for s in range(k)}
    assert c["C"] == {(1, s) for s in range(k)}
    # derive() hands the model's convention on.
    m = _model(k, 2, Variant("relu", "column"))
    assert derive(m, "C", 1, 2).cells == c


# --------------------------------------------------------------------------- loss along the gradient


@pytest.mark.parametrize("v", [Variant("tanh", "column", (1.0, -1.0, 0.5)), Variant("softplus", "row", None)])
def test_loss_along_gradient_follows_the_variant(v):
    m = _model(3, 8, v)
    loss, grads = loss_and_grads(
        m.x, m.A, m.B, m.C, activation=v.activation, convention=v.convention, target=v.target
    )
    line = loss_along_gradient(m, 0.01)
    assert line.variant == v
    assert math.isclose(line.loss0, loss, rel_tol=1e-14)
    norm2 = sum(x * x for n in MATRIX_NAMES for row in grads[n] for x in row)
    assert math.isclose(line.slope, -norm2, rel_tol=1e-12)
    stepped = [
        [[w - 0.01 * g for w, g in zip(rw, rg, strict=True)] for rw, rg in zip(W, grads[n], strict=True)]
        for W, n in ((m.A, "A"), (m.B, "B"), (m.C, "C"))
    ]
    assert math.isclose(line.loss_at_lr, forward(m.x, *stepped, v)["loss"], rel_tol=1e-12)
    # The report's own variant gives another line on the same numbers.
    assert loss_along_gradient(m.with_variant(DEFAULT_VARIANT), 0.01).loss0 != line.loss0


def test_loss_along_gradient_over_a_batch_uses_the_variants_mean_gradient():
    v = Variant("identity", "column", (0.0, 1.0, 2.0, 3.0))
    m = _model(4, 9, v)
    rows = [[random.Random(s).random() for _ in range(4)] for s in range(5)]
    line = loss_along_gradient(m, 0.02, batch_rows=rows, batch=range(5))
    loss, grads = batch_loss_and_grads(rows, m.A, m.B, m.C, variant=v)
    assert math.isclose(line.loss0, loss, rel_tol=1e-12)
    assert math.isclose(
        line.slope, -sum(x * x for n in MATRIX_NAMES for r in grads[n] for x in r), rel_tol=1e-12
    )


# --------------------------------------------------------------------------- text, HTML and LaTeX


def test_formula_html_typesets_variables_words_and_powers():
    assert formula_html("g_1") == "<i>g</i><sub>1</sub>"
    assert formula_html("C_k,1") == "<i>C</i><sub><i>k</i>,1</sub>"
    assert formula_html("1 − tanh(a_1)²") == "1 − tanh(<i>a</i><sub>1</sub>)²"
    assert formula_html("1 / (1 + e^(−a_2))") == "1 / (1 + <i>e</i><sup>−<i>a</i><sub>2</sub></sup>)"
    assert formula_html("log(1 + e^a)") == "log(1 + <i>e</i><sup><i>a</i></sup>)"
    assert formula_html("1 if a > 0, else 0") == "1 if <i>a</i> &gt; 0, else 0"
    assert (
        formula_html("L = ‖C(σ(Ax) + Bx)‖²")
        == "<i>L</i> = ‖<i>C</i>(σ(<i>A</i><i>x</i>) + <i>B</i><i>x</i>)‖²"
    )


def test_latex_of_the_plain_formulas():
    assert latex("σ′(a_1)") == r"\sigma'(a_{1})"
    assert latex("2(w_k − t_k)") == "2(w_{k} - t_{k})"
    assert latex("Σ_k C_1,k · 2w_k") == r"\sum_{k} C_{1,k} \cdot 2w_{k}"
    assert latex("1 − tanh(a_0)²") == r"1 - \tanh(a_{0})^2"
    assert latex("1 / (1 + e^(−a_3))") == "1 / (1 + e^{-a_{3}})"
    assert latex_number(-1.5e-07) == r"-1.5 \times 10^{-7}"
    assert latex_number(0.1) == "0.1"


@pytest.mark.parametrize(("name", "convention"), list(itertools.product(ACTIVATIONS, CONVENTIONS)))
def test_derivation_latex_names_the_variants_sigma_prime(name, convention):
    v = Variant(name, convention, (1.0, 0.0, -1.0))
    m = _model(3, 12, v)
    d = derive(m, "A", 0, 2)
    text = derivation_latex(d)
    act = ACTIVATIONS[name]
    assert act.derivative_latex in text and act.latex in text  # σ and σ′ as the variant writes them
    assert latex(d.factors[1].formula) in text  # σ′(a_q) written out with its value
    assert v.loss_latex() in text
    assert f"({v.describe()})" in text.splitlines()[0]
    assert latex_number(d.product) in text and latex_number(d.factors[1].value) in text
    unit = 0 if convention == "column" else 2
    weight = f"C_{{k,{unit}}}" if convention == "column" else f"C_{{{unit},k}}"
    assert rf"\sum_{{k}} {weight} \cdot 2(w_{{k}} - t_{{k}})" in text
    assert text.count(r"\begin{align*}") == text.count(r"\end{align*}") == 2
    assert text.count("{") == text.count("}")


def test_derivation_latex_for_b_and_c_leaves_out_the_factor_one():
    m = _model(2, 1, DEFAULT_VARIANT)
    b = derivation_latex(derive(m, "B", 0, 1))
    assert r"\frac{\partial L}{\partial u_{1}} \cdot \frac{\partial u_{1}}{\partial B_{0,1}}" in b
    c = derivation_latex(derive(m, "C", 1, 0))
    assert r"&= 2w_{0} \cdot z_{1} \\" in c
