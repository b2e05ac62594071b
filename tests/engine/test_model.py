"""The report's worked example, to the last digit, and the engine's refusals."""

from __future__ import annotations

import math

import pytest

from backprop_lab.engine import loss_and_grads
from backprop_lab.engine.model import forward, sigmoid, sigmoid_prime


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b))


def test_report_loss_and_all_27_gradient_entries(report_example):
    m, expected = report_example["model"], report_example["expected"]
    loss, grads = loss_and_grads(m["x"], m["A"], m["B"], m["C"])
    assert _rel(loss, expected["loss"]) <= 1e-12
    checked = 0
    for name in "ABC":
        for i in range(3):
            for j in range(3):
                assert _rel(grads[name][i][j], expected[f"grad_{name}"][i][j]) <= 1e-12, (name, i, j)
                checked += 1
    assert checked == 27


def test_forward_returns_the_reports_intermediates(report_example):
    m = report_example["model"]
    values = forward(m["x"], m["A"], m["B"], m["C"])
    assert set(values) == {"a", "y", "u", "z", "w", "loss"}
    x, A = m["x"], m["A"]
    assert values["a"][1] == pytest.approx(sum(x[i] * A[i][1] for i in range(3)), rel=1e-15)
    assert values["z"] == [y + u for y, u in zip(values["y"], values["u"], strict=True)]
    assert values["loss"] == sum(w * w for w in values["w"])


@pytest.mark.parametrize("a", [-1e308, -800.0, -40.0, 0.0, 40.0, 800.0, 1e308])
def test_sigmoid_never_overflows_and_its_derivative_is_never_nan(a):
    s, d = sigmoid(a), sigmoid_prime(a)
    assert 0.0 <= s <= 1.0 and math.isfinite(d) and d >= 0.0
    assert sigmoid(0.0) == 0.5 and sigmoid_prime(0.0) == 0.25


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([1.0, 2.0], [[1.0, 2.0], [3.0]], [[0, 0], [0, 0]], [[0, 0], [0, 0]]), r"A\[1\] has 1 entry"),
        (([1.0], [[1.0]], [[True]], [[0.0]]), r"B\[0\]\[0\] is not a number"),
        (([1.0], [[1.0]], [[0.0]], [[float("nan")]]), r"C\[0\]\[0\] is not finite"),
        (([float("inf")], [[1.0]], [[0.0]], [[0.0]]), r"x\[0\] is not finite"),
        (([1.0], [[1.0]], [["0.5"]], [[0.0]]), r"B\[0\]\[0\] is not a number"),
        (([], [], [], []), r"x is empty"),
        (
            ([1.0, 2.0], [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], [[0, 0], [0, 0]], [[0, 0], [0, 0]]),
            r"A has 3 rows",
        ),
    ],
)
def test_bad_input_is_refused_naming_the_matrix_and_entry(args, message):
    with pytest.raises(ValueError, match=message):
        loss_and_grads(*args)


# --------------------------------------------------------------------------- the one Model type


def test_model_is_validated_once_frozen_and_copied(report_example):
    import dataclasses

    from backprop_lab.engine.model import Model

    m = report_example["model"]
    x = list(m["x"])
    model = Model(x, m["A"], m["B"], m["C"])
    assert model.K == 3 and model.x == x and model.x is not x  # the constructor copies
    x[0] = 99.0
    assert model.x[0] != 99.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        model.x = [1.0, 2.0, 3.0]  # type: ignore[misc]
    assert model.matrix("B") is model.B
    with pytest.raises(ValueError, match="no matrix named 'D'"):
        model.matrix("D")
    twin = model.copy()
    assert twin == model and twin.A is not model.A and twin.A[0] is not model.A[0]
    moved = model.with_weights(model.B, model.C, model.A)
    assert moved.x == model.x and moved.A == model.B and moved is not model
    with pytest.raises(ValueError, match=r"A\[0\]\[1\] is not finite"):
        model.with_weights([[0.0, math.nan, 0.0]] * 3, model.B, model.C)
    with pytest.raises(ValueError, match="C has 2 rows; expected 3"):
        Model(model.x, model.A, model.B, model.C[:2])
