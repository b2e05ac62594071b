"""engine.model_edits: the window's edits keep the model's variant; a K change cuts or pads its target."""

from __future__ import annotations

import pytest

from backprop_lab.engine import model_edits
from backprop_lab.engine.evaluation import evaluate
from backprop_lab.engine.matrix_text import parse_vector_text
from backprop_lab.engine.model import transpose
from backprop_lab.engine.session import Session
from backprop_lab.engine.variant import Variant

VARIANT = Variant("softplus", "column", (0.5, -1.0, 2.0))


@pytest.fixture
def model():
    return Session.random(3, 1).model.with_variant(VARIANT)


def test_paste_and_randomize_keep_the_variant(model):
    pasted = model_edits.pasted(model, "A", 1, 1, [[7.0, 8.0]])
    assert pasted.A[1][1:] == [7.0, 8.0] and pasted.variant == VARIANT
    assert model_edits.randomized(model, 4, -1.0, 1.0).variant == VARIANT
    assert model_edits.randomized(model, 4, -1.0, 1.0).A == Session.random(3, 4).model.A


def test_a_k_change_cuts_or_pads_the_target_and_keeps_the_rest(model):
    grown = model_edits.resized(model, 5, 0, -1.0, 1.0)
    assert grown.variant == Variant("softplus", "column", (0.5, -1.0, 2.0, 0.0, 0.0))
    assert [row[:3] for row in grown.C[:3]] == model.C
    shrunk = model_edits.resized(model, 1, 0, -1.0, 1.0)
    assert shrunk.variant == Variant("softplus", "column", (0.5,)) and shrunk.x == model.x[:1]
    assert model_edits.resized(model.with_variant(Variant("tanh")), 4, 0, -1.0, 1.0).variant == Variant(
        "tanh"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("D", 0, 0, [[1.0]]), "unknown block 'D'"),
        (("x", 0, 2, [[1.0, 2.0]]), r"a 1×2 block does not fit in x \(1×3\) at x\[2\]"),
        (("B", 0, 0, [[1.0], [float("nan")]]), r"B\[1\]\[0\] would not be finite"),
        (("B", 0, 0, []), "nothing to paste"),
    ],
)
def test_a_bad_paste_is_refused_with_one_line(model, args, message):
    with pytest.raises(ValueError, match=message):
        model_edits.pasted(model, *args)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0.5, -1, 2", (0.5, -1.0, 2.0)),
        ("0.5 −1 2e0", (0.5, -1.0, 2.0)),
        ("[0.5; -1; 2]", (0.5, -1.0, 2.0)),
        ("  0.5,\t-1,  2 , ", (0.5, -1.0, 2.0)),
    ],
)
def test_a_target_reads_from_one_line_in_the_forms_people_type(text, expected):
    assert parse_vector_text(text, 3) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0.5, y, 2", r"^t\[1\]: not a number: 'y'$"),
        ("0.5, 2", "^t has 2 numbers; expected K = 3$"),
        ("  ", "^t is empty: type K = 3 numbers"),
        ("1, inf, 2", r"^t\[1\]: not a finite number: 'inf' is infinite$"),
        ("1, 2, 1e400", r"^t\[2\]: too large"),
        ("1" * 5000, "^t is too long"),
    ],
)
def test_a_bad_target_is_refused_with_one_line_naming_the_entry(text, message):
    with pytest.raises(ValueError, match=message):
        parse_vector_text(text, 3)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "softplus", "identity"])
@pytest.mark.parametrize("target", [None, (0.5, -1.0, 2.0)])
def test_transposed_under_the_other_convention_is_the_same_network(activation, target):
    row = Session.random(3, 8).model.with_variant(Variant(activation, "row", target))
    column = model_edits.transposed(row).with_variant(Variant(activation, "column", target))
    assert column.A == transpose(row.A) and column.x == row.x
    r, c = evaluate(row), evaluate(column)
    assert c.loss == pytest.approx(r.loss, rel=1e-14)
    for name in "ABC":
        for got, expected in zip(c.grads[name], transpose(r.grads[name]), strict=True):
            assert got == pytest.approx(expected, rel=1e-13, abs=1e-15)
    assert model_edits.transposed(model_edits.transposed(row)) == row
