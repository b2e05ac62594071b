"""The Variant type: names checked, the target kept as floats, carried by the one Model type."""

from __future__ import annotations

import math

import pytest

from backprop_lab.engine.model import Model, backward, forward, loss_and_grads
from backprop_lab.engine.variant import ACTIVATIONS, CONVENTIONS, DEFAULT_VARIANT, Variant

X = [0.5, -1.0, 2.0]
A = [[0.1, -0.2, 0.3], [0.4, 0.5, -0.6], [-0.7, 0.8, 0.9]]
B = [[1.0, 0.0, -1.0], [0.5, -0.5, 0.25], [0.0, 2.0, 1.0]]
C = [[-0.3, 0.6, 0.2], [0.9, -0.1, 0.4], [0.05, 0.7, -0.8]]


def test_the_default_is_the_reports_member():
    v = Variant()
    assert v == DEFAULT_VARIANT and v.is_default
    assert (v.activation, v.convention, v.target) == ("sigmoid", "row", None)
    assert not Variant("tanh").is_default
    assert not Variant(target=(0.0, 0.0, 0.0)).is_default


@pytest.mark.parametrize("name", ["Sigmoid", "gelu", "", None, 3])
def test_an_unknown_activation_is_refused_listing_the_valid_ones(name):
    with pytest.raises(ValueError) as err:
        Variant(activation=name)  # type: ignore[arg-type]
    message = str(err.value)
    assert "\n" not in message and "unknown activation" in message
    for valid in ACTIVATIONS:
        assert valid in message


def test_an_unknown_convention_is_refused_listing_the_valid_ones():
    with pytest.raises(ValueError, match="unknown convention 'rows'; expected one of row, column"):
        Variant(convention="rows")
    assert CONVENTIONS == ("row", "column")


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("1,2,3", "must be a list of numbers, not str"),
        ([], "empty"),
        ([1.0, math.nan], "t[1] is not finite"),
        ([1.0, True], "t[1] is not a number"),
        ([10**400], "t[0] is not finite"),
        (["1"], "t[0] is not a number"),
    ],
)
def test_a_bad_target_is_refused_naming_the_entry(target, words):
    with pytest.raises(ValueError) as err:
        Variant(target=target)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_the_target_becomes_a_tuple_of_floats_and_the_variant_is_hashable():
    v = Variant(target=[1, 2.5, -3])  # type: ignore[arg-type]
    assert v.target == (1.0, 2.5, -3.0) and all(type(t) is float for t in v.target)
    assert hash(v) == hash(Variant(target=(1.0, 2.5, -3.0)))


def test_the_model_carries_its_variant_through_copy_and_new_weights():
    v = Variant("relu", "column", (1.0, 2.0, 3.0))
    m = Model(X, A, B, C, v)
    assert m.variant is v
    assert m.copy().variant is v
    assert m.with_weights(C, A, B).variant is v
    assert Model(X, A, B, C).variant == DEFAULT_VARIANT


def test_the_target_must_have_k_entries():
    with pytest.raises(ValueError, match="the target t has 2 entries; expected K = 3"):
        Model(X, A, B, C, Variant(target=(1.0, 2.0)))
    with pytest.raises(ValueError, match="expected K = 3"):
        Model(X, A, B, C).with_variant(Variant(target=(1.0,)))
    with pytest.raises(ValueError, match="expected K = 3"):
        loss_and_grads(X, A, B, C, target=[1.0, 2.0, 3.0, 4.0])


def test_with_variant_keeps_the_numbers_and_the_original():
    m = Model(X, A, B, C)
    other = m.with_variant(Variant("tanh"))
    assert (other.x, other.A, other.B, other.C) == (m.x, m.A, m.B, m.C)
    assert m.variant == DEFAULT_VARIANT and other.variant.activation == "tanh"


def test_resized_cuts_or_pads_the_target():
    v = Variant("softplus", "column", (1.0, 2.0, 3.0))
    assert v.resized(2).target == (1.0, 2.0)
    assert v.resized(5).target == (1.0, 2.0, 3.0, 0.0, 0.0)
    assert v.resized(3) is v and Variant().resized(7) == Variant()


def test_the_keywords_of_loss_and_grads_are_the_variant():
    v = Variant("tanh", "column", (0.5, -0.5, 1.0))
    loss, grads = loss_and_grads(X, A, B, C, activation="tanh", convention="column", target=[0.5, -0.5, 1.0])
    values = forward(X, A, B, C, v)
    expected = backward(X, C, values, v)
    assert loss == values["loss"]
    assert grads == {"A": expected["dA"], "B": expected["dB"], "C": expected["dC"]}
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        loss_and_grads(X, A, B, C, activation="gelu")


def test_the_target_shifts_the_loss_and_the_output_gradient():
    t = [0.25, -1.5, 2.0]
    plain = forward(X, A, B, C)
    shifted = forward(X, A, B, C, Variant(target=tuple(t)))
    assert shifted["w"] == plain["w"]
    assert shifted["loss"] == pytest.approx(sum((w - tj) ** 2 for w, tj in zip(plain["w"], t, strict=True)))
    dw = backward(X, C, shifted, Variant(target=tuple(t)))["dw"]
    assert dw == pytest.approx([2 * (w - tj) for w, tj in zip(plain["w"], t, strict=True)])


def test_the_formulas_follow_the_convention_and_the_target():
    assert Variant().loss_formula() == "L = ‖(σ(xA) + xB)C‖²"
    assert Variant(convention="column").loss_formula() == "L = ‖C(σ(Ax) + Bx)‖²"
    assert Variant(convention="column", target=(1.0,)).loss_formula() == "L = ‖C(σ(Ax) + Bx) − t‖²"
    assert "- t" in Variant(target=(1.0,)).loss_latex()
    assert Variant("identity", "column", (1.0,)).describe() == "identity, column vectors, target t"
    assert Variant().as_dict() == {"activation": "sigmoid", "convention": "row", "target": None}
